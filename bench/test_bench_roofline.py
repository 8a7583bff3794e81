"""Against the machine: softmax-CE loss+grad on (16384, 1000) float32 with all cores, next to
np.copyto of the logits into an array of the same size (the data a fused kernel must move at
the least: read the logits, write the gradient)."""
import numpy as np
import pytest

import fastent as fe


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16384, 1000)).astype(np.float32)
    return rng.integers(0, 1000, 16384), x, np.empty_like(x)


@pytest.mark.parametrize("impl", ["np.copyto", "fastent loss+grad"])
def test_copy_bound(benchmark, data, impl):
    t, x, out = data
    benchmark.group = "roofline (16384, 1000) float32, all cores"
    benchmark.extra_info["impl"] = impl
    if impl == "np.copyto":
        benchmark(np.copyto, out, x)
    else:
        benchmark(fe.softmax_cross_entropy, t, x, return_grad=True, grad_out=out)
