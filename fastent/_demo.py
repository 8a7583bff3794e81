"""`python -m fastent demo`: a short tour of every family, streaming and Dask, each result
checked against the plain-NumPy reference (fastent.reference) with an explicit "ok"."""
import numpy as np

import fastent as fe
from fastent import reference as R


def _check(what, got, want, rtol):
    """One line: the value, the reference's, ok or MISMATCH; returns whether it agreed (an
    array by its normwise error, ||got - want|| / ||want||)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.ndim == 0:
        ok = bool(np.isclose(got, want, rtol=rtol, atol=0))
    else:
        ok = bool(np.linalg.norm(got - want) <= rtol * np.linalg.norm(want))
    shown = f"{float(got):.8f}" if got.ndim == 0 else f"array{got.shape}"
    print(f"  {what:<58} {shown:>14}  {'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    fe.show_config()
    rng = np.random.default_rng(0)
    rtol32, rtol64 = 2e-6, 1e-12
    oks = []

    print("\nbinary family (probabilities, logits; information, binary entropy)")
    y, p = np.array([1, 1, 0, 1]), np.array([0.9, 0.95, 0.7, 0.75])
    oks.append(_check("binary_cross_entropy(y, p), nats", fe.binary_cross_entropy(y, p),
                      R.binary_cross_entropy(y, p), rtol64))
    oks.append(_check("binary_cross_entropy(y, p, base=2), bits",
                      fe.binary_cross_entropy(y, p, base=2),
                      R.binary_cross_entropy(y, p, base=2), rtol64))
    x = rng.normal(0, 3, 10**6).astype(np.float32)
    t = (rng.random(10**6) < 0.5).astype(np.float32)
    loss, grad = fe.binary_cross_entropy_with_logits(t, x, return_grad=True)
    oks.append(_check("binary_cross_entropy_with_logits, 1e6 float32 logits", loss,
                      R.binary_cross_entropy_with_logits(t, x), rtol32))
    oks.append(_check("  its gradient (one pass with the loss)", grad,
                      R.binary_cross_entropy_with_logits_grad(t, x), rtol32))
    oks.append(_check("binary_entropy(p)", fe.binary_entropy(p), R.binary_entropy(p), rtol64))

    print("\nsoftmax cross-entropy (labels, probabilities) and per-row statistics")
    logits = rng.normal(0, 2, (4096, 10))
    labels = rng.integers(0, 10, 4096)
    oks.append(_check("softmax_cross_entropy(labels, logits)",
                      fe.softmax_cross_entropy(labels, logits),
                      R.softmax_cross_entropy(labels, logits), rtol64))
    soft = rng.dirichlet(np.ones(10), 4096)
    oks.append(_check("softmax_cross_entropy(probabilities, logits, smoothing 0.1)",
                      fe.softmax_cross_entropy(soft, logits, label_smoothing=0.1),
                      R.softmax_cross_entropy(soft, logits, label_smoothing=0.1), rtol64))
    stats = fe.softmax_stats(logits, labels)
    oks.append(_check("softmax_stats(...).log_prob = -(row losses)", stats.log_prob,
                      -R.softmax_cross_entropy(labels, logits, reduction="none"), rtol64))

    print("\ndistributions and distillation")
    q = rng.dirichlet(np.ones(100), 2048)
    p2 = rng.dirichlet(np.ones(100), 2048)
    for name in ("cross_entropy", "kl_divergence", "js_divergence"):
        oks.append(_check(f"{name}(p, q)", getattr(fe, name)(p2, q),
                          getattr(R, name)(p2, q), rtol64))
    oks.append(_check("entropy(p)", fe.entropy(p2), R.entropy(p2), rtol64))
    teacher, student = rng.normal(0, 2, (2048, 100)), rng.normal(0, 2, (2048, 100))
    oks.append(_check("kl_divergence_with_logits(teacher, student, temperature=2)",
                      fe.kl_divergence_with_logits(teacher, student, temperature=2.0),
                      R.kl_divergence_with_logits(teacher, student, temperature=2.0),
                      rtol64))

    print("\nstreaming: RunningLoss over 8 batches, merged from two workers")
    a = fe.RunningLoss("softmax_cross_entropy")
    b = fe.RunningLoss("softmax_cross_entropy")
    for i in range(8):
        (a if i < 4 else b).update(labels[i * 512:(i + 1) * 512], logits[i * 512:(i + 1) * 512])
    a.merge(b)
    whole = fe.softmax_cross_entropy(labels, logits)
    same = a.result() == whole
    print(f"  {'the running mean equals the one call, to the bit':<58} "
          f"{float(a.result()):>14.8f}  {'ok' if same else 'MISMATCH'}")
    oks.append(bool(same))

    try:
        import dask.array as da
    except ImportError:
        print("\nDask: not installed (pip install \"fastent-losses[dask]\") -- skipped")
    else:
        print("\nDask: the same call on a chunked array")
        lazy = fe.softmax_cross_entropy(da.from_array(labels, chunks=1000),
                                        da.from_array(logits, chunks=(1000, 10)))
        same = lazy.compute() == whole
        print(f"  {'8 chunks, computed: the same bytes as in memory':<58} "
              f"{float(lazy.compute()):>14.8f}  {'ok' if same else 'MISMATCH'}")
        oks.append(bool(same))

    print(f"\n{sum(oks)} of {len(oks)} checks ok")
    return 0 if all(oks) else 1
