"""fastent's speed under several builds, interleaved: one process per build and round.

    python bench/compare_builds.py NAME=DIR [NAME=DIR ...] [--rounds 7] [--threads 1]

Each DIR holds a fastent built in place (`python setup.py build_ext --inplace`, with the
compiler or switches under test).  In every round each build's process times every workload
(the minimum of a few repetitions); the table gives each build's median over the rounds and
its ratio to the first build's (below 1: faster).  The workloads span the kernel families.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import json, sys, time
import numpy as np
import fastent as fe
threads = int(sys.argv[1])
rng = np.random.default_rng(7)
def lg(*s, dt=np.float32): return rng.normal(scale=3.0, size=s).astype(dt)
def pr(*s, dt=np.float64):
    p = rng.random(s).astype(dt); return p / p.sum(axis=-1, keepdims=True)
t1e6 = (rng.random(10**6) < 0.5).astype(np.float32)
x1e6, p1e6 = lg(10**6), rng.random(10**6)
lab = lambda r, c: rng.integers(0, c, r)
W = {
 "bce_logits f32 loss+grad (1000000,)":
     (lambda: fe.binary_cross_entropy_with_logits(t1e6, x1e6, return_grad=True, n_threads=threads)),
 "bce f64 loss (1000000,)":
     (lambda t=t1e6.astype(np.float64): fe.binary_cross_entropy(t, p1e6, n_threads=threads)),
 "softmax_ce labels f32 loss+grad (65536, 10)":
     (lambda y=lab(65536, 10), x=lg(65536, 10): fe.softmax_cross_entropy(y, x, return_grad=True, n_threads=threads)),
 "softmax_ce labels f32 loss (512, 32000)":
     (lambda y=lab(512, 32000), x=lg(512, 32000): fe.softmax_cross_entropy(y, x, n_threads=threads)),
 "softmax_ce probs f64 loss+grad (16384, 100)":
     (lambda t=pr(16384, 100), x=lg(16384, 100, dt=np.float64): fe.softmax_cross_entropy(t, x, return_grad=True, n_threads=threads)),
 "kl_divergence f64 loss+grad (16384, 100)":
     (lambda p=pr(16384, 100), q=pr(16384, 100): fe.kl_divergence(p, q, return_grad=True, n_threads=threads)),
 "kl_divergence_with_logits f32 loss+grad (65536, 100)":
     (lambda a=lg(65536, 100), b=lg(65536, 100): fe.kl_divergence_with_logits(a, b, return_grad=True, n_threads=threads)),
 "js_divergence f64 loss+grad (16384, 100)":
     (lambda p=pr(16384, 100), q=pr(16384, 100): fe.js_divergence(p, q, return_grad=True, n_threads=threads)),
 "js_divergence f32 loss (16384, 100)":
     (lambda p=pr(16384, 100, dt=np.float32), q=pr(16384, 100, dt=np.float32): fe.js_divergence(p, q, n_threads=threads)),
 "js_divergence_with_logits f32 loss (16384, 100)":
     (lambda a=lg(16384, 100), b=lg(16384, 100): fe.js_divergence_with_logits(a, b, n_threads=threads)),
 "softmax_stats f32 (16384, 1000)":
     (lambda y=lab(16384, 1000), x=lg(16384, 1000): fe.softmax_stats(x, y, n_threads=threads)),
 "softmax_stats f32 (128, 128256)":
     (lambda y=lab(128, 128256), x=lg(128, 128256): fe.softmax_stats(x, y, n_threads=threads)),
 "softmax_ce labels f32 loss (128, 128256)":
     (lambda y=lab(128, 128256), x=lg(128, 128256): fe.softmax_cross_entropy(y, x, n_threads=threads)),
}
out = {}
for name, f in W.items():
    f(); f()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter(); f(); best = min(best, time.perf_counter() - t0)
    out[name] = best
print(json.dumps(out))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("builds", nargs="+", metavar="NAME=DIR")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    builds = [b.split("=", 1) for b in args.builds]
    times = {name: [] for name, _ in builds}
    for r in range(args.rounds):
        for name, folder in builds:
            env = {**os.environ, "PYTHONPATH": os.path.abspath(folder)}
            res = subprocess.run([sys.executable, "-c", WORKER, str(args.threads)], env=env,
                                 capture_output=True, text=True, cwd=os.path.abspath(folder))
            if res.returncode:
                sys.exit(f"{name}: the timing process failed:\n{res.stderr}")
            times[name].append(json.loads(res.stdout))
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
    ref = builds[0][0]
    workloads = list(times[ref][0])
    med = {name: {w: statistics.median(t[w] for t in times[name]) for w in workloads}
           for name in times}
    print(f"| workload ({args.threads} thread{'s' * (args.threads > 1)}) | "
          + " | ".join(f"{n} ms" if n == ref else f"{n} ms (÷ {ref})" for n in times) + " |")
    print("|---" * (len(times) + 1) + "|")
    for w in workloads:
        cells = [f"{med[ref][w] * 1e3:.3f}"] + [
            f"{med[n][w] * 1e3:.3f} ({med[n][w] / med[ref][w]:.2f})" for n in times if n != ref]
        print(f"| {w} | " + " | ".join(cells) + " |")
    geo = {n: statistics.geometric_mean([med[n][w] / med[ref][w] for w in workloads])
           for n in times}
    print("| geometric mean of the ratios | " + " | ".join(f"{geo[n]:.3f}" for n in times) + " |")


if __name__ == "__main__":
    main()
