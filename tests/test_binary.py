"""The binary cross-entropy family against fastent.reference, closed forms, finite
differences, and every documented error."""
import numpy as np
import pytest

import fastent as fe
from fastent import reference as R

from support import DTYPE_IDS, DTYPES, assert_close, central_difference, layouts, oracle, tol

FUNCS = {
    "prob": (fe.binary_cross_entropy, fe.binary_cross_entropy_grad,
             R.binary_cross_entropy, R.binary_cross_entropy_grad),
    "logits": (fe.binary_cross_entropy_with_logits, fe.binary_cross_entropy_with_logits_grad,
               R.binary_cross_entropy_with_logits, R.binary_cross_entropy_with_logits_grad),
}


def make(rng, kind, shape, dtype, soft=False):
    t = rng.random(shape) if soft else (rng.random(shape) < 0.5).astype(np.float64)
    x = rng.uniform(0.001, 0.999, shape) if kind == "prob" else rng.normal(0, 3, shape)
    return t.astype(dtype), x.astype(dtype)


# ------------------------------------------------------------------ closed forms
def test_worked_example():
    y = [1, 1, 0, 1]
    p = np.array([0.9, 0.95, 0.7, 0.75])
    expected = -(np.log(0.9) + np.log(0.95) + np.log(0.3) + np.log(0.75)) / 4
    assert fe.binary_cross_entropy(y, p) == pytest.approx(expected, rel=1e-15)
    assert fe.binary_cross_entropy(y, p) == pytest.approx(0.4120771717, rel=1e-9)
    assert fe.binary_cross_entropy(y, p, base=2) == pytest.approx(expected / np.log(2), rel=1e-15)
    g = fe.binary_cross_entropy_grad(y, p, reduction="sum")
    np.testing.assert_allclose(g, [-1 / 0.9, -1 / 0.95, 1 / 0.3, -1 / 0.75], rtol=1e-14)


def test_logits_closed_form():
    x = np.array([0.0, np.log(3.0)])
    t = np.array([1.0, 0.0])
    # sigmoid(0) = 1/2, sigmoid(log 3) = 3/4
    loss = fe.binary_cross_entropy_with_logits(t, x, reduction="none")
    np.testing.assert_allclose(loss, [np.log(2), np.log(4)], rtol=1e-15)
    np.testing.assert_allclose(fe.binary_cross_entropy_with_logits_grad(t, x, reduction="sum"),
                               [-0.5, 0.75], rtol=1e-15)


# ------------------------------------------------------------------ contract matrix
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["prob", "logits"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("given_out", [False, True], ids=["alloc", "out"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_matrix(rng, dtype, kind, reduction, weighted, given_out, n_threads):
    shape = (67, 531)   # > 16 blocks, so two threads really run
    f, fg, ref, refg = FUNCS[kind]
    t, x = make(rng, kind, shape, dtype, soft=True)
    w = rng.uniform(0, 2, (67, 1)).astype(dtype) if weighted else None
    kw = dict(reduction=reduction, weight=w, n_threads=n_threads)
    out = np.empty(shape, dtype) if given_out and reduction == "none" else None
    grad_out = np.empty(shape, dtype) if given_out else None
    for name, xl in layouts(x).items():
        before = xl.copy()
        loss, grad = f(t, xl, return_grad=True, out=out, grad_out=grad_out, **kw)
        np.testing.assert_array_equal(xl, before, err_msg=f"{name}: input modified")
        rw = None if w is None else w.astype(np.float64)
        exp_loss = oracle(ref, t, xl, dtype=dtype, reduction=reduction, weight=rw)
        exp_grad = oracle(refg, t, xl, dtype=dtype, reduction=reduction, weight=rw)
        if reduction == "none":
            assert loss.dtype == dtype and loss.shape == shape
            if out is not None:
                assert loss is out
        else:
            assert type(loss) is np.float64
        assert_close(loss, exp_loss, dtype)
        assert grad.dtype == dtype and grad.shape == shape
        if grad_out is not None:
            assert grad is grad_out
        assert_close(grad, exp_grad, dtype, atol_frac=tol(dtype))
        # the separate gradient function and the fused call agree exactly
        np.testing.assert_array_equal(fg(t, xl, **kw), grad)
        # and the loss-only call gives the same bits
        loss_only = f(t, xl, **kw)
        np.testing.assert_array_equal(loss_only, loss)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["prob", "logits"])
def test_every_simd_path(rng, isa, dtype, kind):
    f, fg, ref, refg = FUNCS[kind]
    t, x = make(rng, kind, (10007,), dtype, soft=True)
    w = rng.random(10007).astype(dtype)
    loss, grad = f(t, x, weight=w, reduction="none", return_grad=True)
    assert_close(loss, oracle(ref, t, x, dtype=dtype, weight=w, reduction="none"), dtype)
    assert_close(grad, oracle(refg, t, x, dtype=dtype, weight=w, reduction="none"), dtype,
                 atol_frac=tol(dtype))


@pytest.mark.parametrize("kind", ["prob", "logits"])
def test_reductions_identical_for_every_thread_count(rng, kind):
    f = FUNCS[kind][0]
    t, x = make(rng, kind, (1_000_003,), np.float32, soft=True)
    w = rng.random(1_000_003)
    results = {n: (f(t, x, reduction="sum", weight=w, n_threads=n),
                   f(t, x, reduction="mean", n_threads=n)) for n in (1, 2, 3, None)}
    first = results[1]
    for n, r in results.items():
        assert r == first, f"n_threads={n}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["prob", "logits"])
def test_keywords(rng, dtype, kind):
    f, fg, ref, refg = FUNCS[kind]
    t, x = make(rng, kind, (40, 7), dtype, soft=True)
    extra = [dict(base=2), dict(base=10.0), dict(label_smoothing=0.1),
             dict(weight=rng.random(7))]
    if kind == "prob":
        extra += [dict(eps=1e-3), dict(eps=0), dict(log_min=-100.0), dict(log_min=-2.0)]
    else:
        extra += [dict(pos_weight=rng.uniform(0.5, 3, 7)),
                  dict(pos_weight=2.0, weight=rng.random((40, 1)), label_smoothing=0.2)]
    for kw in extra:
        for reduction in ("mean", "sum", "none"):
            loss, grad = f(t, x, reduction=reduction, return_grad=True, **kw)
            assert_close(loss, oracle(ref, t, x, dtype=dtype, reduction=reduction, **kw), dtype)
            assert_close(grad, oracle(refg, t, x, dtype=dtype, reduction=reduction, **kw), dtype,
                         atol_frac=tol(dtype))


# ------------------------------------------------------------------ gradients
GRAD_CASES = [(kind, kw) for kind in ("prob", "logits") for kw in (
    dict(reduction="mean"), dict(reduction="sum", base=2),
    dict(reduction="mean", weight=[[0.5], [2.0], [0.0]]),
    dict(reduction="sum", label_smoothing=0.2))] + [
    ("prob", dict(reduction="mean", eps=1e-4)),   # data inside [eps, 1 - eps]
    ("prob", dict(reduction="sum", log_min=-100.0)),
    ("logits", dict(reduction="mean", pos_weight=[1.5, 0.3, 2.0, 1.0])),
    ("logits", dict(reduction="sum", pos_weight=2.0, weight=[0.1, 1, 2, 3], base=10))]


@pytest.mark.parametrize("kind, kw", GRAD_CASES, ids=[f"{k}-{sorted(kw)}" for k, kw in GRAD_CASES])
def test_gradient_matches_finite_differences(rng, kind, kw):
    f, fg = FUNCS[kind][:2]
    t, x = make(rng, kind, (3, 4), np.float64, soft=True)
    g = fg(t, x, **kw)
    num = central_difference(lambda z: f(t, z, **kw), x, 1e-6)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ edge values
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_probabilities_exactly_zero_and_one(dtype):
    t = np.array([0, 1, 0, 1, 0.5, 0.5], dtype)
    p = np.array([0, 1, 1, 0, 0, 1], dtype)
    e = np.finfo(dtype).eps
    # auto: clipped to [eps, 1 - eps]: finite everywhere
    loss, grad = fe.binary_cross_entropy(t, p, reduction="none", return_grad=True)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    big = -np.log(np.float64(e))
    assert_close(loss[2:4], [-np.log1p(-np.float64(dtype(1) - dtype(e)))] * 2, dtype)
    assert loss[2] == pytest.approx(big, rel=1e-3)
    assert loss[0] < 1e-6 and loss[1] < 1e-6
    assert np.all(grad[[0, 2, 5]] > 0) and np.all(grad[[1, 3, 4]] < 0)   # never 0 where t != p
    # eps=0: exact IEEE results, 0 log 0 = 0
    loss, grad = fe.binary_cross_entropy(t, p, reduction="none", eps=0, return_grad=True)
    np.testing.assert_array_equal(loss, [0, 0, np.inf, np.inf, np.inf, np.inf])
    np.testing.assert_array_equal(grad, [1, -1, np.inf, -np.inf, -np.inf, np.inf])
    assert fe.binary_cross_entropy(t[:2], p[:2], eps=0) == 0
    # log_min: PyTorch's clamp at -100
    loss, grad = fe.binary_cross_entropy(t, p, reduction="none", log_min=-100.0,
                                         return_grad=True)
    np.testing.assert_array_equal(loss, [0, 0, 100, 100, 50, 50])
    np.testing.assert_allclose(grad, [0, 0, 1e12, -1e12, -0.5e12, 0.5e12], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_extreme_logits(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4, np.inf, -np.inf, np.inf, -np.inf, 0], dtype)
    t = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1], dtype)
    loss, grad = fe.binary_cross_entropy_with_logits(t, x, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss[:6], [1e4, 1e4, 0, 0, 0, 0])
    np.testing.assert_array_equal(loss[6:8], [np.inf, np.inf])
    assert loss[8] == pytest.approx(np.log(2), rel=tol(dtype))
    np.testing.assert_array_equal(grad[:8], [1, -1, 0, 0, 0, 0, 1, -1])
    loss, grad = fe.binary_cross_entropy_with_logits(t[:6], x[:6], pos_weight=3.0,
                                                     reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, [1e4, 3e4, 0, 0, 0, 0])
    np.testing.assert_array_equal(grad, [1, -3, 0, 0, 0, 0])


@pytest.mark.parametrize("kind", ["prob", "logits"])
def test_nan_prediction_propagates(kind):
    f = FUNCS[kind][0]
    x = np.array([0.3, np.nan, 0.6])
    loss, grad = f([1, 0, 1], x, reduction="none", return_grad=True)
    assert np.isnan(loss[1]) and np.isnan(grad[1])
    assert np.all(np.isfinite(loss[[0, 2]]))
    assert np.isnan(f([1, 0, 1], x))


@pytest.mark.parametrize("kind", ["prob", "logits"])
def test_empty(kind):
    f = FUNCS[kind][0]
    x = np.empty((0, 3))
    assert f(x, x, reduction="sum") == 0.0
    assert np.isnan(f(x, x))
    assert f(x, x, zero_division=0.0) == 0.0
    loss, grad = f(x, x, reduction="none", return_grad=True)
    assert loss.shape == (0, 3) and grad.shape == (0, 3)


def test_all_weights_zero_mean_is_zero_division():
    p = np.full(5, 0.3)
    loss, grad = fe.binary_cross_entropy(np.ones(5), p, weight=np.zeros(5), return_grad=True,
                                         zero_division=-1.0)
    assert loss == -1.0
    np.testing.assert_array_equal(grad, 0)


def test_zero_weight_masks_infinite_loss():
    loss = fe.binary_cross_entropy([1, 1], [0.0, 0.5], eps=0, weight=[0, 1], reduction="sum")
    assert loss == pytest.approx(np.log(2))


# ------------------------------------------------------------------ dtypes and shapes
def test_dtype_rules():
    t = [1, 0, 1]
    for x, expected in [(np.array([0.2, 0.4, 0.9], np.float16), np.float32),
                        (np.array([1, 0, 1]), np.float64), (np.array([True, False, True]), np.float64),
                        ([0.2, 0.4, 0.9], np.float64)]:
        loss, grad = fe.binary_cross_entropy(t, x, reduction="none", return_grad=True)
        assert loss.dtype == expected and grad.dtype == expected
    assert fe.binary_cross_entropy_with_logits(True, np.float32(2.0), reduction="none").dtype \
        == np.float32


def test_target_and_weight_broadcast(rng):
    x = rng.normal(size=(4, 5, 6))
    t = (rng.random((5, 1)) < 0.5).astype(float)
    w = rng.random(6)
    got = fe.binary_cross_entropy_with_logits(t, x, weight=w, reduction="none")
    tb, wb = np.broadcast_to(t, x.shape), np.broadcast_to(w, x.shape)
    np.testing.assert_allclose(got, R.binary_cross_entropy_with_logits(tb, x, weight=wb,
                                                                       reduction="none"),
                               rtol=1e-14)
    scalar = fe.binary_cross_entropy_with_logits(1, x, reduction="sum")
    assert scalar == pytest.approx(R.binary_cross_entropy_with_logits(np.ones_like(x), x,
                                                                      reduction="sum"),
                                   rel=1e-13)


def test_zero_d_input():
    loss = fe.binary_cross_entropy(1.0, 0.25, reduction="none")
    assert loss.shape == () and loss == pytest.approx(np.log(4))
    assert fe.binary_cross_entropy(1.0, 0.25) == pytest.approx(np.log(4))


def test_memory_mapped_input(tmp_path, rng):
    t, x = make(rng, "prob", (300, 20), np.float32)
    path = tmp_path / "p.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=x.shape)
    mm[:] = x
    mm.flush()
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=x.shape)
    assert fe.binary_cross_entropy(t, ro) == fe.binary_cross_entropy(t, x)


def test_broadcast_view_is_not_copied():
    x = np.broadcast_to(np.float64(0.3), (1000, 1000))   # 8 MB if materialised
    assert fe.binary_cross_entropy(1, x, reduction="sum") == pytest.approx(-1e6 * np.log(0.3),
                                                                           rel=1e-12)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, exc, match", [
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 1.5]), ValueError,
     r"prob: probabilities must lie in \[0, 1\]; found 1.5 at position \(1,\)"),
    (lambda: fe.binary_cross_entropy([1, 0], [-0.1, 0.5]), ValueError, r"prob: .*position \(0,\)"),
    (lambda: fe.binary_cross_entropy([[1, 2]], [[0.5, 0.5]]), ValueError,
     r"target: targets must lie in \[0, 1\].*found 2 at position \(0, 1\)"),
    (lambda: fe.binary_cross_entropy([1, np.nan], [0.5, 0.5]), ValueError, "target: .*nan"),
    (lambda: fe.binary_cross_entropy_with_logits([1, -1], [0.5, 0.5]), ValueError, "target"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], weight=[1, -1]), ValueError,
     r"weight: weights must be finite and non-negative; found -1 at position \(1,\)"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], weight=[np.inf, 1]), ValueError, "weight"),
    (lambda: fe.binary_cross_entropy_with_logits([1, 0], [0.5, 0.5], weight=[np.nan, 1]),
     ValueError, "weight"),
    (lambda: fe.binary_cross_entropy_with_logits([1, 0], [0.5, 0.5], pos_weight=-1.0),
     ValueError, "pos_weight"),
    (lambda: fe.binary_cross_entropy([1, 0, 1], [0.5, 0.5]), ValueError,
     r"target: shape \(3,\) does not broadcast to the prediction's shape \(2,\)"),
    (lambda: fe.binary_cross_entropy(np.ones((2, 2)), [0.5, 0.5]), ValueError, "target: shape"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], weight=[1, 1, 1]), ValueError,
     "weight: shape"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], reduction="avg"), ValueError,
     "reduction: must be one of"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], base=1), ValueError, "base"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], base=-2), ValueError, "base"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], base="two"), ValueError, "base"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], eps=0.7), ValueError, "eps"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], eps="tiny"), ValueError, "eps"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], eps=1e-3, log_min=-100.0),
     ValueError, "eps: cannot be combined with log_min"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], log_min=5.0), ValueError, "log_min"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], label_smoothing=1.5), ValueError,
     "label_smoothing"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], n_threads=0), ValueError, "n_threads"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], n_threads=1.5), TypeError, "n_threads"),
    (lambda: fe.binary_cross_entropy([1, 0], ["a", "b"]), TypeError, "prob: expected an array"),
    (lambda: fe.binary_cross_entropy([1, 0], np.array([0.5, 0.5], object)), TypeError, "prob"),
    (lambda: fe.binary_cross_entropy([1, 0], np.array([0.5, 0.5], complex)), TypeError,
     "prob: dtype complex128 is not supported"),
    (lambda: fe.binary_cross_entropy("ab", [0.5, 0.5]), TypeError, "target"),
    (lambda: fe.binary_cross_entropy([1, 0], [[0.5], [0.5, 0.2]]), TypeError, "prob"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], out=np.empty(2)), ValueError,
     "out: only allowed with reduction='none'"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], reduction="none", out=np.empty(3)),
     ValueError, r"out: has shape \(3,\), expected \(2,\)"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], reduction="none",
                                     out=np.empty(2, np.float32)), TypeError, "out: has dtype"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], reduction="none", out=[0.0, 0.0]),
     TypeError, "out: must be a numpy.ndarray"),
    (lambda: fe.binary_cross_entropy_grad([1, 0], [0.5, 0.5],
                                          grad_out=np.empty(2, np.float32)), TypeError,
     "grad_out: has dtype"),
    (lambda: fe.binary_cross_entropy_grad([1, 0], [0.5, 0.5],
                                          grad_out=np.broadcast_to(0.0, (2,))), ValueError,
     "grad_out: is read-only"),
    (lambda: fe.binary_cross_entropy([1, 0], [0.5, 0.5], grad_out=np.empty(2)), ValueError,
     "grad_out: only allowed when the gradient is computed"),
], ids=lambda v: None if callable(v) or isinstance(v, type) else v[:30])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_first_bad_position_in_large_input():
    p = np.full((300, 400), 0.5)
    p[123, 45] = 2.0
    p[200, 7] = -1.0
    with pytest.raises(ValueError, match=r"position \(123, 45\)"):
        fe.binary_cross_entropy(1, p, n_threads=2)


def test_out_receives_result():
    out = np.empty(3)
    g = np.empty(3)
    loss, grad = fe.binary_cross_entropy([1, 0, 1], [0.2, 0.3, 0.4], reduction="none",
                                         out=out, grad_out=g, return_grad=True)
    assert np.shares_memory(loss, out) and np.shares_memory(grad, g)
    np.testing.assert_allclose(out, -np.log([0.2, 0.7, 0.4]), rtol=1e-15)


def test_strided_out(rng):
    t, x = make(rng, "logits", (50, 60), np.float64, soft=True)
    big = np.zeros((50, 120))
    out = big[:, ::2]
    grad = np.zeros((60, 50)).T   # Fortran order while the input is C order
    fe.binary_cross_entropy_with_logits(t, x, reduction="none", out=out, grad_out=grad,
                                        return_grad=True)
    np.testing.assert_allclose(out, R.binary_cross_entropy_with_logits(t, x, reduction="none"),
                               rtol=1e-13)
    assert np.all(big[:, 1::2] == 0)   # nothing written between the strided elements
    np.testing.assert_allclose(grad, R.binary_cross_entropy_with_logits_grad(
        t, x, reduction="none"), rtol=1e-13, atol=1e-15)


def test_matches_pytorch_with_log_min(rng):
    # Same formula as ATen's CPU kernel, operation for operation; the logs themselves come
    # from different vector libraries (glibc's libmvec here, documented to 4 ulp; SLEEF
    # there), so elements agree to a few ulp and clamped elements exactly.
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = (rng.random(1000) < 0.5).astype(np.float32)
    p = rng.random(1000).astype(np.float32)
    p[:10] = [0, 1, 0, 1, 1e-30, 1 - 1e-7, 0.5, 1e-45, 0.999, 1e-3]
    pt = torch.tensor(p, requires_grad=True)
    ref = F.binary_cross_entropy(pt, torch.tensor(t), reduction="none")
    ref.sum().backward()
    loss, grad = fe.binary_cross_entropy(t, p, log_min=-100.0, reduction="none",
                                         return_grad=True)
    np.testing.assert_array_max_ulp(loss, ref.detach().numpy(), maxulp=6)
    np.testing.assert_array_equal(loss[:4], ref.detach().numpy()[:4])
    np.testing.assert_array_max_ulp(grad, pt.grad.numpy(), maxulp=6)
