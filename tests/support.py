"""What the tests share besides fixtures (those are in conftest.py, which pytest loads and no
test imports): the dtypes and instruction sets the suite runs, the tolerance of a float64
oracle, the one oracle helper, the memory layouts, central differences."""
import inspect

import numpy as np

from fastent import _config, _runtime

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]
# instruction sets this CPU runs; the suite checks each of them
ISAS = [name for i, name in enumerate(_config.ISA_NAMES) if i <= _runtime.best_isa(-1)]


def oracle(ref, *arrays, dtype, **kw):
    """`ref` (a function of fastent.reference) on the same inputs in float64: float operands
    converted (integer labels and None passed as they are), n_threads dropped, and where
    `ref` clips (it takes eps) and the call left eps at "auto" without log_min, the clip
    floor of the computation `dtype` (a float32 call clips at float32's epsilon)."""
    kw.pop("n_threads", None)
    if ("eps" in inspect.signature(ref).parameters and kw.get("eps", "auto") == "auto"
            and kw.get("log_min") is None):
        kw["eps"] = float(np.finfo(dtype).eps)
    args = [a if a is None or np.asarray(a).dtype.kind in "biu" else np.asarray(a, np.float64)
            for a in arrays]
    return ref(*args, **kw)


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
