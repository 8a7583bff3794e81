import numpy as np
import pytest

import fastent
from fastent import _config, _runtime

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
# instruction sets this CPU runs; the suite checks each of them
ISAS = [name for i, name in enumerate(_config.ISA_NAMES) if i <= _runtime.best_isa(-1)]


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


@pytest.fixture(params=ISAS)
def isa(request):
    """Run a test under each instruction set's kernels, then restore the default."""
    before = _config.isa()
    _config._set_isa(request.param)
    yield request.param
    _config._set_isa(before)


def tol(dtype):
    """Relative tolerance of a kernel result against a float64 oracle."""
    return 2e-6 if np.dtype(dtype) == np.float32 else 1e-13


def assert_close(actual, expected, dtype, *, atol_frac=0.0):
    """Elementwise relative comparison; atol_frac adds an absolute slack as a fraction of
    the largest |expected| (for quantities that cross zero, such as gradients)."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual)
    finite = np.isfinite(expected)
    atol = atol_frac * (np.max(np.abs(expected[finite])) if finite.any() else 0.0)
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=tol(dtype), atol=atol)


def layouts(a):
    """The same values in different memory layouts: name -> array."""
    out = {"contiguous": a}
    if a.ndim >= 2:
        out["transposed"] = np.ascontiguousarray(a.T).T
        out["fortran"] = np.asfortranarray(a)
    big = np.empty(tuple(2 * s for s in a.shape), a.dtype)
    sl = tuple(slice(None, None, 2) for _ in a.shape)
    big[sl] = a
    out["strided"] = big[sl]
    if a.ndim:
        out["negative"] = np.flip(np.flip(a, 0).copy(), 0)   # same values, stride < 0
    ro = a.copy()
    ro.flags.writeable = False
    out["readonly"] = ro
    return out


def central_difference(fun, x, h=1e-6):
    """Gradient of the scalar function `fun` at `x` by central differences."""
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (fun(xp) - fun(xm)) / (2 * h)
    return g
