"""cross_entropy / kl_divergence / entropy: fastent (1 and 2 threads) against
fastent.reference (NumPy)."""
import numpy as np
import pytest

import fastent as fe
from fastent import reference as R

from conftest import max_rel_error

SHAPES = [(65536, 100), (4096, 32000)]
DTYPES = {"f32": np.float32, "f64": np.float64}
IMPLS = ["reference", "fastent-1t", "fastent-2t"]
FUNCS = {
    "cross_entropy": (fe.cross_entropy, R.cross_entropy, R.cross_entropy_grad),
    "kl_divergence": (fe.kl_divergence, R.kl_divergence, R.kl_divergence_grad),
    "entropy": (fe.entropy, R.entropy, R.entropy_grad),
}


def data(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    p, q = rng.random(shape), rng.random(shape)
    return ((p / p.sum(1, keepdims=True)).astype(dtype),
            (q / q.sum(1, keepdims=True)).astype(dtype))


def args(name, p, q):
    return (q,) if name == "entropy" else (p, q)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["loss", "loss+grad"])
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(FUNCS))
def test_divergence(benchmark, name, shape, dtype, mode, impl):
    f, ref, ref_grad = FUNCS[name]
    p, q = data(shape, DTYPES[dtype])
    a = args(name, p, q)
    benchmark.group = f"{name} {mode} {dtype} {shape[0]}x{shape[1]}"
    benchmark.extra_info.update(impl=impl, shape=list(shape), dtype=dtype, mode=mode)
    if impl == "reference":
        if mode == "loss":
            benchmark(ref, *a)
        else:
            benchmark(lambda: (ref(*a), ref_grad(*a)))
        benchmark.extra_info["max_rel_error"] = 0.0
        return
    threads = int(impl[-2])
    benchmark.extra_info["threads"] = threads
    if mode == "loss":
        loss = benchmark(f, *a, n_threads=threads)
        err = max_rel_error(loss, ref(*a))
    else:
        g = np.empty_like(q)
        loss, grad = benchmark(f, *a, n_threads=threads, return_grad=True, grad_out=g)
        err = max(max_rel_error(loss, ref(*a)), max_rel_error(grad, ref_grad(*a)))
    benchmark.extra_info["max_rel_error"] = err
