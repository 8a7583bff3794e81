"""Softmax cross-entropy: fastent (1 and 2 threads) against fastent.reference (NumPy)."""
import numpy as np
import pytest

import fastent as fe
from fastent import reference as R

from conftest import max_rel_error

SHAPES = [(65536, 10), (16384, 1000), (2048, 32000), (1_000_000, 2)]
DTYPES = {"f32": np.float32, "f64": np.float64}
IMPLS = ["reference", "fastent-1t", "fastent-2t"]


def data(shape, dtype, kind):
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(0, 2, shape).astype(dtype)
    if kind == "index":
        return rng.integers(0, shape[1], shape[0]), x
    t = rng.random(shape).astype(dtype)
    return t / t.sum(axis=1, keepdims=True), x


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["loss", "loss+grad"])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_softmax(benchmark, shape, dtype, kind, mode, impl):
    t, x = data(shape, DTYPES[dtype], kind)
    benchmark.group = f"softmax_ce[{kind}] {mode} {dtype} {shape[0]}x{shape[1]}"
    benchmark.extra_info.update(impl=impl, shape=list(shape), dtype=dtype, kind=kind, mode=mode)
    ref, ref_grad = R.softmax_cross_entropy, R.softmax_cross_entropy_grad
    if impl == "reference":
        if mode == "loss":
            benchmark(ref, t, x)
        else:
            benchmark(lambda: (ref(t, x), ref_grad(t, x)))
        benchmark.extra_info["max_rel_error"] = 0.0
        return
    threads = int(impl[-2])
    benchmark.extra_info["threads"] = threads
    if mode == "loss":
        loss = benchmark(fe.softmax_cross_entropy, t, x, n_threads=threads)
        err = max_rel_error(loss, ref(t, x))
    else:
        g = np.empty_like(x)
        loss, grad = benchmark(fe.softmax_cross_entropy, t, x, n_threads=threads,
                               return_grad=True, grad_out=g)
        err = max(max_rel_error(loss, ref(t, x)), max_rel_error(grad, ref_grad(t, x)))
    benchmark.extra_info["max_rel_error"] = err
