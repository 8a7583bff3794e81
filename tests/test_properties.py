"""Property tests: random shapes (0- and 1-sized axes included), dtypes, strides (negative,
zero-stride broadcast, Fortran order), axes and keywords.  Each result equals
fastent.reference or is the documented error; the invariants of the mathematics hold."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import fastent as fe  # noqa: E402
from fastent import reference as R  # noqa: E402

from support import tol  # noqa: E402

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
DTYPES = st.sampled_from([np.float32, np.float64])
SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)
NONEMPTY = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6)


@st.composite
def layout(draw, a):
    """The values of `a` in a random memory layout: C, Fortran, reversed, strided or a
    zero-stride broadcast of one row."""
    kind = draw(st.sampled_from(["c", "f", "reversed", "strided", "broadcast"]))
    if kind == "f":
        return np.asfortranarray(a)
    if kind == "reversed" and a.ndim:
        ax = draw(st.integers(0, a.ndim - 1))
        return np.flip(np.flip(a, ax).copy(), ax)
    if kind == "strided":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        sl = tuple(slice(None, None, 2) for _ in a.shape)
        big[sl] = a
        return big[sl]
    if kind == "broadcast" and a.ndim and a.shape[0]:
        return np.broadcast_to(a[:1], a.shape)
    return a


def compare(got, want, dtype, slack=0.0, floor=0.0):
    """Relative comparison with an absolute slack of the dtype's tolerance times the larger
    of the result's magnitude and `floor`, the magnitude of terms that cancel in it."""
    want = np.asarray(want, np.float64)
    finite = np.isfinite(want)
    scale = max(np.max(np.abs(want[finite])) if finite.any() else 0.0, floor)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol(dtype) * 4,
                               atol=scale * (tol(dtype) * 4 + slack) + 1e-300)


@SETTINGS
@given(data=st.data(), shape=SHAPES, dtype=DTYPES, logits=st.booleans(),
       reduction=st.sampled_from(["mean", "sum", "none"]), base=st.sampled_from(["e", 2]),
       smoothing=st.sampled_from([0.0, 0.1]), weighted=st.booleans())
def test_binary_equals_reference(data, shape, dtype, logits, reduction, base, smoothing,
                                 weighted):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = (rng.normal(0, 4, shape) if logits else rng.random(shape)).astype(dtype)
    x = data.draw(layout(x))
    t = data.draw(layout(rng.random(shape).astype(dtype)))
    w = rng.random(shape[-1:]) if weighted else None
    f = fe.binary_cross_entropy_with_logits if logits else fe.binary_cross_entropy
    ref = R.binary_cross_entropy_with_logits if logits else R.binary_cross_entropy
    refg = R.binary_cross_entropy_with_logits_grad if logits else R.binary_cross_entropy_grad
    kw = dict(reduction=reduction, weight=w, base=base, label_smoothing=smoothing)
    extra = {} if logits else dict(eps=float(np.finfo(dtype).eps))
    loss, grad = f(t, x, return_grad=True, **kw)
    t64, x64 = t.astype(np.float64), x.astype(np.float64)
    compare(loss, ref(t64, x64, **kw, **extra), dtype)
    compare(grad, refg(t64, x64, **kw, **extra), dtype)


@SETTINGS
@given(data=st.data(), shape=SHAPES, dtype=DTYPES, labels=st.booleans(),
       reduction=st.sampled_from(["mean", "sum", "none"]), smoothing=st.sampled_from([0, .2]),
       use_cw=st.booleans(), use_ignore=st.booleans())
def test_softmax_equals_reference(data, shape, dtype, labels, reduction, smoothing, use_cw,
                                  use_ignore):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    C = shape[axis]
    row_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    x = data.draw(layout(rng.normal(0, 3, shape).astype(dtype)))
    kw = dict(axis=axis, reduction=reduction, label_smoothing=smoothing,
              class_weight=rng.uniform(0.5, 2, C) if use_cw else None)
    if labels:
        t = rng.integers(0, max(C, 1), row_shape)
        if use_ignore:
            kw["ignore_index"] = 0
    else:
        t = data.draw(layout(rng.random(shape).astype(dtype)))
    if C == 0 and int(np.prod(row_shape)):
        with pytest.raises(ValueError, match="logits: the class axis"):
            fe.softmax_cross_entropy(t, x, **kw)
        return
    loss, grad = fe.softmax_cross_entropy(t, x, return_grad=True, **kw)
    tt = t if labels else t.astype(np.float64)
    compare(loss, R.softmax_cross_entropy(tt, x.astype(np.float64), **kw), dtype)
    # the gradient softmax * sum(a) - a cancels; its terms are of the size of a (target
    # times class weight) times the reduction's factor
    cw = kw["class_weight"] if use_cw and C else np.ones(1)
    terms = (np.max(np.abs(t)) if not labels and t.size else 1.0) * np.max(cw)
    rows = max(int(np.prod(row_shape)), 1) if reduction == "mean" else 1
    compare(grad, R.softmax_cross_entropy_grad(tt, x.astype(np.float64), **kw), dtype,
            floor=terms / rows / (np.min(cw) if labels else 1.0))


@SETTINGS
@given(data=st.data(), shape=SHAPES, dtype=DTYPES,
       name=st.sampled_from(["cross_entropy", "kl_divergence", "entropy"]),
       reduction=st.sampled_from(["mean", "sum", "none"]), eps=st.sampled_from(["auto", 0, 1e-3]))
def test_distributions_equal_reference(data, shape, dtype, name, reduction, eps):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    p = rng.random(shape)
    p[rng.random(shape) < 0.2] = 0
    q = rng.random(shape) + 0.01
    p, q = data.draw(layout(p.astype(dtype))), data.draw(layout(q.astype(dtype)))
    f, ref, refg = getattr(fe, name), getattr(R, name), getattr(R, name + "_grad")
    args = (q,) if name == "entropy" else (p, q)
    e = float(np.finfo(dtype).eps) if eps == "auto" else eps
    loss, grad = f(*args, axis=axis, reduction=reduction, eps=eps, return_grad=True)
    a64 = tuple(a.astype(np.float64) for a in args)
    slack = tol(dtype) if name == "kl_divergence" else 0.0     # terms of both signs
    compare(loss, ref(*a64, axis=axis, reduction=reduction, eps=e), dtype, slack)
    compare(grad, refg(*a64, axis=axis, reduction=reduction, eps=e), dtype)


# ------------------------------------------------------------------ invariants
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=NONEMPTY, dtype=DTYPES)
def test_divergence_identities(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(shape[-1]), shape[:-1]).astype(dtype)
    q = rng.dirichlet(np.ones(shape[-1]), shape[:-1]).astype(dtype)
    d = fe.kl_divergence(p, q, reduction="none")
    assert np.all(d >= -4 * tol(dtype))
    np.testing.assert_array_equal(fe.kl_divergence(p, p, reduction="none"), 0)
    np.testing.assert_allclose(fe.cross_entropy(p, q, reduction="none"),
                               fe.entropy(p, reduction="none") + d,
                               rtol=8 * tol(dtype), atol=8 * tol(dtype))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=NONEMPTY, shift=st.floats(-50, 50))
def test_softmax_unchanged_by_a_constant_per_row(seed, shape, shift):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, shape)
    t = rng.integers(0, shape[-1], shape[:-1])
    a = fe.softmax_cross_entropy(t, x, reduction="none")
    b = fe.softmax_cross_entropy(t, x + shift, reduction="none")
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * (1 + abs(shift)))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=SHAPES, dtype=DTYPES)
def test_bce_symmetric_under_flip(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    t = rng.random(shape).astype(dtype)
    p = rng.uniform(0.01, 0.99, shape).astype(dtype)
    a, ga = fe.binary_cross_entropy(t, p, reduction="none", return_grad=True)
    b, gb = fe.binary_cross_entropy(1 - t, 1 - p, reduction="none", return_grad=True)
    np.testing.assert_allclose(a, b, rtol=50 * tol(dtype))      # 1 - p rounds in float32
    np.testing.assert_allclose(ga, -gb, rtol=50 * tol(dtype), atol=50 * tol(dtype))
    x = rng.normal(0, 3, shape).astype(dtype)
    la = fe.binary_cross_entropy_with_logits(t, x, reduction="none")
    lb = fe.binary_cross_entropy_with_logits(1 - t, -x, reduction="none")
    np.testing.assert_allclose(la, lb, rtol=4 * tol(dtype), atol=4 * tol(dtype))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), base=st.sampled_from([2, 10, 0.5, 7.3]),
       name=st.sampled_from(["binary_cross_entropy", "softmax_cross_entropy", "entropy"]))
def test_base_scales_value_and_gradient(seed, base, name):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(5), 7)
    args = {"binary_cross_entropy": (rng.random((7, 5)), p),
            "softmax_cross_entropy": (rng.integers(0, 5, 7), rng.normal(size=(7, 5))),
            "entropy": (p,)}[name]
    f = getattr(fe, name)
    (ln, gn), (lb, gb) = (f(*args, return_grad=True),
                          f(*args, return_grad=True, base=base))
    assert lb == pytest.approx(ln / np.log(base), rel=1e-14)
    np.testing.assert_allclose(gb, gn / np.log(base), rtol=1e-14, atol=1e-300)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 3000),
       threads=st.integers(1, 4))
def test_thread_count_invariance(seed, rows, threads):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 37)).astype(np.float32)
    t = rng.integers(0, 37, rows)
    assert fe.softmax_cross_entropy(t, x, n_threads=threads) == \
        fe.softmax_cross_entropy(t, x, n_threads=1)
    assert fe.binary_cross_entropy_with_logits(x > 0, x, n_threads=threads) == \
        fe.binary_cross_entropy_with_logits(x > 0, x, n_threads=1)
