"""`python -m fastent bench`: fastent against its peers, as a table of median time ratios.

Every workload is timed for fastent (1 and 2 threads) and for each peer installed here:
fastent.reference (plain NumPy, always), PyTorch on the CPU (forward + autograd backward for
loss+grad, `torch.set_num_threads` set to the same count) and scikit-learn's Cython losses.
A cell is peer time / fastent time (> 1: fastent is faster), medians of repeated calls
measured in the same run.  Writes report.md, results.json (every measurement with its max
relative error against the reference) and, with matplotlib, throughput.png.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import fastent as fe
from fastent import reference as R


# ----------------------------------------------------------------------------- timing
def median_time(fn, budget):
    """Median seconds per call, over repeats filling about `budget` seconds."""
    fn()  # warm up (and page in outputs)
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(0.02 / once))          # calls per sample: samples of >= 20 ms
    samples = max(5, min(50, int(budget / (once * inner))))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def max_rel_error(actual, expected):
    errs = []
    for a, e in zip(actual, expected):
        a = np.asarray(a, np.float64)
        e = np.asarray(e, np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.abs(a - e) / np.maximum(np.abs(e), np.finfo(np.float64).tiny)
        r = r[np.isfinite(r)]
        errs.append(float(r.max()) if r.size else 0.0)
    return max(errs)


# ----------------------------------------------------------------------------- peers
def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def _sklearn_loss(name):
    try:
        from sklearn._loss import loss as sk
    except ImportError:
        return None
    return getattr(sk, name, None)


# ----------------------------------------------------------------------------- workloads
class Workload:
    """One row of the table: a function, a mode (loss or loss+grad), a dtype and a shape.

    `build()` makes the data (only when the workload runs) and returns (fastent, reference,
    peers): `fastent(threads)` and each `peers[name](threads)` return a zero-argument
    callable giving a tuple comparable with what the zero-argument `reference` gives."""

    def __init__(self, family, mode, dtype, shape, build):
        self.family, self.mode, self.dtype, self.shape = family, mode, dtype, shape
        self.build = build

    @property
    def label(self):
        shape = "x".join(f"{s:g}" if s < 10**5 else f"{s:.0e}" for s in self.shape)
        return f"{self.family} {self.mode} {self.dtype} ({shape})"

    @property
    def elements(self):
        return int(np.prod(self.shape))


def binary_workloads(sizes, dtypes):
    torch = _torch()
    sk_binomial = _sklearn_loss("HalfBinomialLoss")
    out = []
    for logits in (False, True):
        family = "bce_logits" if logits else "bce"
        f = fe.binary_cross_entropy_with_logits if logits else fe.binary_cross_entropy
        ref = R.binary_cross_entropy_with_logits if logits else R.binary_cross_entropy
        ref_g = (R.binary_cross_entropy_with_logits_grad if logits
                 else R.binary_cross_entropy_grad)
        for dtype in dtypes:
            for n in sizes:
                for mode in ("loss", "loss+grad"):
                    def build(n=n, dtype=dtype, grad=mode == "loss+grad", logits=logits,
                              f=f, ref=ref, ref_g=ref_g):
                        rng = np.random.default_rng(n)
                        t = (rng.random(n) < 0.5).astype(dtype)
                        x = (rng.normal(0, 3, n) if logits
                             else rng.uniform(0.001, 0.999, n)).astype(dtype)
                        return (_fe_call(f, t, x, grad), _ref_call(ref, ref_g, (t, x), grad),
                                _binary_peers(torch, sk_binomial, logits, t, x, grad))
                    out.append(Workload(family, mode, np.dtype(dtype).name, (n,), build))
    return out


def _ref_call(ref, ref_grad, args, grad):
    """The NumPy peer as a NumPy user writes it: the reference's per-element (per-row)
    losses and np.mean (the reference's own "mean" is an exact sum: the test oracle, not a
    fair speed baseline)."""
    def loss():
        return np.mean(ref(*args, reduction="none"), dtype=np.float64)
    if grad:
        return lambda: (loss(), ref_grad(*args))
    return lambda: (loss(),)


def _fe_call(f, *args_and_grad):
    """fastent's callable factory: f(*args), the prediction last, grad_out preallocated."""
    *args, grad = args_and_grad

    def make(threads):
        if grad:
            g = np.empty_like(args[-1])
            return lambda: f(*args, n_threads=threads, return_grad=True, grad_out=g)
        return lambda: (f(*args, n_threads=threads),)
    return make


def _binary_peers(torch, sk_binomial, logits, t, x, grad):
    peers = {}
    if torch is not None:
        F = torch.nn.functional
        fn = F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy

        def make_torch(threads):
            torch.set_num_threads(threads)
            tt, xt = torch.from_numpy(t), torch.from_numpy(x)
            if not grad:
                def call():
                    with torch.no_grad():
                        return (fn(xt, tt).item(),)
                return call

            def call():
                xg = xt.detach().requires_grad_(True)
                loss = fn(xg, tt)
                loss.backward()
                return loss.item(), xg.grad.numpy()
            return call
        peers["torch"] = make_torch
    if sk_binomial is not None and logits:
        def make_sk(threads):
            loss_obj = sk_binomial()
            lo, go = np.empty_like(x), np.empty_like(x)
            tf = t.astype(x.dtype)
            # scikit-learn's loss is the per-sample loss; the mean is taken as a user would
            if grad:
                def call():
                    loss_obj.loss_gradient(tf, x, loss_out=lo, gradient_out=go,
                                           n_threads=threads)
                    return float(lo.mean()), go / x.size
                return call
            return lambda: (float(loss_obj.loss(tf, x, loss_out=lo, n_threads=threads).mean()),)
        peers["sklearn"] = make_sk
    return peers


def softmax_workloads(shapes, dtypes):
    torch = _torch()
    sk_multi = _sklearn_loss("HalfMultinomialLoss")
    out = []
    for kind in ("index", "prob"):
        for dtype in dtypes:
            for N, C in shapes:
                for mode in ("loss", "loss+grad"):
                    def build(N=N, C=C, dtype=dtype, kind=kind, grad=mode == "loss+grad"):
                        rng = np.random.default_rng(N + C)
                        x = rng.normal(0, 2, (N, C)).astype(dtype)
                        if kind == "index":
                            t = rng.integers(0, C, N)
                        else:
                            t = rng.random((N, C)).astype(dtype)
                            t /= t.sum(axis=1, keepdims=True)
                        return (_fe_call(fe.softmax_cross_entropy, t, x, grad),
                                _ref_call(R.softmax_cross_entropy,
                                          R.softmax_cross_entropy_grad, (t, x), grad),
                                _softmax_peers(torch, sk_multi, kind, t, x, grad))
                    out.append(Workload(f"softmax_ce[{kind}]", mode, np.dtype(dtype).name,
                                        (N, C), build))
    return out


def _softmax_peers(torch, sk_multi, kind, t, x, grad):
    peers = {}
    if torch is not None:
        F = torch.nn.functional

        def make_torch(threads):
            torch.set_num_threads(threads)
            xt, tt = torch.from_numpy(x), torch.from_numpy(t)
            if not grad:
                def call():
                    with torch.no_grad():
                        return (F.cross_entropy(xt, tt).item(),)
                return call

            def call():
                xg = xt.detach().requires_grad_(True)
                loss = F.cross_entropy(xg, tt)
                loss.backward()
                return loss.item(), xg.grad.numpy()
            return call
        peers["torch"] = make_torch
    if sk_multi is not None and kind == "index":
        def make_sk(threads):
            loss_obj = sk_multi(n_classes=x.shape[1])
            y = t.astype(x.dtype)
            lo = np.empty(x.shape[0], x.dtype)
            go = np.empty_like(x)
            if grad:
                def call():
                    loss_obj.loss_gradient(y, x, loss_out=lo, gradient_out=go,
                                           n_threads=threads)
                    return float(lo.mean()), go / x.shape[0]
                return call
            return lambda: (float(loss_obj.loss(y, x, loss_out=lo, n_threads=threads).mean()),)
        peers["sklearn"] = make_sk
    return peers


def divergence_workloads(shapes, dtypes):
    torch = _torch()
    try:
        from scipy import special
    except ImportError:
        special = None
    funcs = {"cross_entropy": (fe.cross_entropy, R.cross_entropy, R.cross_entropy_grad),
             "kl_divergence": (fe.kl_divergence, R.kl_divergence, R.kl_divergence_grad),
             "entropy": (fe.entropy, R.entropy, R.entropy_grad)}
    out = []
    for name, (f, ref, ref_g) in funcs.items():
        for dtype in dtypes:
            for N, C in shapes:
                for mode in ("loss", "loss+grad"):
                    def build(N=N, C=C, dtype=dtype, name=name, grad=mode == "loss+grad",
                              f=f, ref=ref, ref_g=ref_g):
                        rng = np.random.default_rng(N + C)
                        p, q = rng.random((N, C)), rng.random((N, C))
                        p = (p / p.sum(1, keepdims=True)).astype(dtype)
                        q = (q / q.sum(1, keepdims=True)).astype(dtype)
                        a = (q,) if name == "entropy" else (p, q)
                        return (_fe_call(f, *a, grad), _ref_call(ref, ref_g, a, grad),
                                _divergence_peers(torch, special, name, p, q, grad))
                    out.append(Workload(name, mode, np.dtype(dtype).name, (N, C), build))
    return out


def _divergence_peers(torch, special, name, p, q, grad):
    peers = {}
    if special is not None and not grad:
        fn = {"cross_entropy": lambda: -special.xlogy(p, q).sum(-1).mean(),
              "kl_divergence": lambda: special.rel_entr(p, q).sum(-1).mean(),
              "entropy": lambda: special.entr(q).sum(-1).mean()}[name]
        peers["scipy"] = lambda threads: (lambda: (fn(),))
    if torch is not None:
        def make_torch(threads):
            torch.set_num_threads(threads)
            pt, qt = torch.from_numpy(p), torch.from_numpy(q)

            def value(qq):
                if name == "kl_divergence":
                    return torch.nn.functional.kl_div(qq.log(), pt, reduction="batchmean")
                if name == "cross_entropy":
                    return -(pt * qq.log()).sum(-1).mean()
                return -(qq * qq.log()).sum(-1).mean()

            if not grad:
                def call():
                    with torch.no_grad():
                        return (value(qt).item(),)
                return call

            def call():
                qg = qt.detach().requires_grad_(True)
                loss = value(qg)
                loss.backward()
                return loss.item(), qg.grad.numpy()
            return call
        peers["torch"] = make_torch
    return peers


# ----------------------------------------------------------------------------- report
def run(workloads, threads, budget, progress=print):
    rows = []
    for i, w in enumerate(workloads, 1):
        progress(f"[{i}/{len(workloads)}] {w.label}")
        fastent, reference, peers = w.build()
        expected = reference()
        ref_time = median_time(reference, budget)
        row = {"workload": w.label, "family": w.family, "mode": w.mode, "dtype": w.dtype,
               "shape": list(w.shape), "elements": w.elements, "numpy": ref_time,
               "fastent": {}, "peers": {}, "max_rel_error": {}}
        for nt in threads:
            call = fastent(nt)
            row["fastent"][nt] = median_time(call, budget)
            row["max_rel_error"][f"fastent-{nt}t"] = max_rel_error(call(), expected)
            for name, make in peers.items():
                pc = make(nt)
                row["peers"][f"{name}-{nt}t"] = median_time(pc, budget)
                row["max_rel_error"][f"{name}-{nt}t"] = max_rel_error(pc(), expected)
        rows.append(row)
    return rows


def table(rows, threads):
    peer_names = sorted({k.rsplit("-", 1)[0] for r in rows for k in r["peers"]})
    cols = [f"NumPy/{nt}t" for nt in threads]
    cols += [f"{p}/{nt}t" for p in peer_names for nt in threads]
    lines = ["| workload | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        cells = [f"{r['numpy'] / r['fastent'][nt]:.1f}" for nt in threads]
        for p in peer_names:
            for nt in threads:
                t = r["peers"].get(f"{p}-{nt}t")
                cells.append(f"{t / r['fastent'][nt]:.1f}" if t else "—")
        lines.append(f"| {r['workload']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _at(times, threads):
    """A per-thread-count time, whether the keys are ints or (from JSON) strings."""
    return times[threads] if threads in times else times[str(threads)]


def plot(rows, threads, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    keys = sorted({(r["family"], r["mode"], r["dtype"]) for r in rows})
    for fam, mode, dt in keys:
        sel = sorted((r for r in rows if (r["family"], r["mode"], r["dtype"]) == (fam, mode, dt)),
                     key=lambda r: r["elements"])
        if len(sel) < 3 or len({len(r["shape"]) for r in sel}) > 1 or len(sel[0]["shape"]) > 1:
            continue           # only the size sweeps (the binary family); shapes are tabled
        n = [r["elements"] for r in sel]
        line, = ax.loglog(n, [r["elements"] / _at(r["fastent"], threads[-1]) / 1e9 for r in sel],
                          "-o", label=f"fastent {threads[-1]}t {fam} {mode} {dt}")
        ax.loglog(n, [r["elements"] / r["numpy"] / 1e9 for r in sel], "--",
                  color=line.get_color(), alpha=0.6)
    ax.set_xlabel("elements")
    ax.set_ylabel("G elements / s (dashed: NumPy reference)")
    ax.set_title(f"binary cross-entropy, fastent with {threads[-1]} threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastent bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--out", default="fastent-bench", help="folder for the report files")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--only", default="", help="run only workloads whose label contains this")
    args = parser.parse_args(argv)
    threads = [int(s) for s in args.threads.split(",")]
    workloads = [w for w in all_workloads(args.quick) if args.only in w.label]
    budget = 0.15 if args.quick else 0.5
    print(f"fastent {fe.__version__} benchmark: {len(workloads)} workloads, threads {threads}",
          flush=True)
    rows = run(workloads, threads, budget, progress=lambda s: print(s, flush=True))
    os.makedirs(args.out, exist_ok=True)
    md = table(rows, threads)
    header = (f"Median time of the peer / median time of fastent, same run "
              f"({platform.machine()}, {os.cpu_count()} cores, fastent kernels: "
              f"{fe._config.isa()}); > 1 means fastent is faster.\n\n")
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(header + md + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"fastent": fe.__version__, "python": sys.version, "numpy": np.__version__,
                   "isa": fe._config.isa(), "threads": threads, "rows": rows}, f, indent=1)
    plotted = plot(rows, threads, os.path.join(args.out, "throughput.png"))
    print("\n" + header + md)
    print(f"\nwrote {args.out}/report.md, results.json"
          + (", throughput.png" if plotted else " (install matplotlib for the plot)"))
    return 0


def all_workloads(quick=False):
    dtypes = [np.float32, np.float64]
    if quick:
        sizes = [10**3, 10**5, 10**6]
        shapes = [(8192, 10), (2048, 1000), (256, 32000), (131072, 2)]
        dist_shapes = [(8192, 100), (512, 32000)]
    else:
        sizes = [10**3, 10**4, 10**5, 10**6, 10**7]
        shapes = [(65536, 10), (16384, 1000), (2048, 32000), (1_000_000, 2)]
        dist_shapes = [(65536, 100), (4096, 32000)]
    return (binary_workloads(sizes, dtypes) + softmax_workloads(shapes, dtypes)
            + divergence_workloads(dist_shapes, dtypes))
