"""Binary cross-entropy: fastent (1 and 2 threads) against fastent.reference (NumPy)."""
import numpy as np
import pytest

import fastent as fe
from fastent import reference as R

from conftest import max_rel_error

SIZES = [10**3, 10**4, 10**5, 10**6, 10**7]
DTYPES = {"f32": np.float32, "f64": np.float64}
FAMILY = {
    "bce": (fe.binary_cross_entropy, R.binary_cross_entropy, R.binary_cross_entropy_grad),
    "bce_logits": (fe.binary_cross_entropy_with_logits, R.binary_cross_entropy_with_logits,
                   R.binary_cross_entropy_with_logits_grad),
}
IMPLS = ["reference", "fastent-1t", "fastent-2t"]


def data(name, n, dtype):
    rng = np.random.default_rng(n)
    t = (rng.random(n) < 0.5).astype(dtype)
    x = rng.uniform(0.001, 0.999, n) if name == "bce" else rng.normal(0, 3, n)
    return t, x.astype(dtype)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["loss", "loss+grad"])
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("n", SIZES, ids=lambda n: f"{n:.0e}")
@pytest.mark.parametrize("name", list(FAMILY))
def test_binary(benchmark, name, n, dtype, mode, impl):
    f, ref, ref_grad = FAMILY[name]
    t, x = data(name, n, DTYPES[dtype])
    benchmark.group = f"{name} {mode} {dtype} n={n:.0e}"
    benchmark.extra_info.update(impl=impl, function=name, n=n, dtype=dtype, mode=mode)
    if impl == "reference":
        if mode == "loss":
            result = benchmark(ref, t, x)
        else:
            result = benchmark(lambda: (ref(t, x), ref_grad(t, x)))
        benchmark.extra_info["max_rel_error"] = 0.0
        return
    threads = int(impl[-2])
    benchmark.extra_info["threads"] = threads
    grad_out = np.empty_like(x) if mode == "loss+grad" else None
    if mode == "loss":
        result = benchmark(f, t, x, n_threads=threads)
        err = max_rel_error(result, ref(t, x))
    else:
        loss, grad = benchmark(f, t, x, n_threads=threads, return_grad=True, grad_out=grad_out)
        err = max(max_rel_error(loss, ref(t, x)), max_rel_error(grad, ref_grad(t, x)))
    benchmark.extra_info["max_rel_error"] = err
