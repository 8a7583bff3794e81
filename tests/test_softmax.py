"""Softmax cross-entropy against fastent.reference, closed forms, finite differences,
PyTorch's semantics, and every documented error."""
import numpy as np
import pytest

import fastent as fe
from fastent import reference as R

from support import DTYPE_IDS, DTYPES, assert_close, central_difference, layouts, oracle, tol

f, fg = fe.softmax_cross_entropy, fe.softmax_cross_entropy_grad
ref, refg = R.softmax_cross_entropy, R.softmax_cross_entropy_grad


def make(rng, shape, dtype, axis=-1, kind="index"):
    x = rng.normal(0, 3, shape).astype(dtype)
    C = shape[axis]
    row_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    if kind == "index":
        t = rng.integers(0, C, row_shape)
    else:
        t = rng.random(shape)
        t = (t / t.sum(axis=axis, keepdims=True)).astype(dtype)
    return t, x


def check(t, x, dtype, **kw):
    loss, grad = f(t, x, return_grad=True, **kw)
    assert_close(loss, oracle(ref, t, x, dtype=dtype, **kw), dtype)
    assert_close(grad, oracle(refg, t, x, dtype=dtype, **kw), dtype, atol_frac=tol(dtype))
    return loss, grad


# ------------------------------------------------------------------ closed forms
def test_worked_example():
    x = np.array([[1.2566, -1.9265, -0.0638]])
    assert f([2], x) == pytest.approx(1.58927, abs=5e-6)
    expected = np.log(np.exp(x).sum()) + 0.0638
    assert f([2], x) == pytest.approx(expected, rel=1e-15)
    g = fg([2], x)
    sm = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(g, sm - [[0, 0, 1]], rtol=1e-14)
    assert f([2], x, base=2) == pytest.approx(expected / np.log(2), rel=1e-15)


def test_uniform_logits_give_log_c():
    x = np.zeros((5, 8))
    np.testing.assert_allclose(f(np.arange(5), x, reduction="none"), np.log(8), rtol=1e-15)


# ------------------------------------------------------------------ contract matrix
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("given_out", [False, True], ids=["alloc", "out"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("shape", [(300, 211), (3000, 13)], ids=["rows", "short-rows"])
def test_matrix(rng, dtype, kind, reduction, weighted, given_out, n_threads, shape):
    # > 16 blocks, two threads really run; long rows and short (block-kernel) rows
    t, x = make(rng, shape, dtype, kind=kind)
    w = rng.uniform(0, 2, shape[0]) if weighted else None
    kw = dict(reduction=reduction, weight=w, n_threads=n_threads)
    out = np.empty(shape[0], dtype) if given_out and reduction == "none" else None
    grad_out = np.empty(shape, dtype) if given_out else None
    for name, xl in layouts(x).items():
        before = xl.copy()
        loss, grad = f(t, xl, return_grad=True, out=out, grad_out=grad_out, **kw)
        np.testing.assert_array_equal(xl, before, err_msg=f"{name}: input modified")
        # a row loss log S - (x_t - m) cancels when it is small: its rounding error is
        # relative to the size of the terms (the scale of the losses), not to itself
        assert_close(loss, oracle(ref, t, xl, dtype=dtype, **kw), dtype, atol_frac=tol(dtype))
        assert_close(grad, oracle(refg, t, xl, dtype=dtype, **kw), dtype, atol_frac=tol(dtype))
        if reduction == "none":
            assert loss.dtype == dtype and loss.shape == (shape[0],)
            assert out is None or loss is out
        else:
            assert type(loss) is np.float64
        assert grad.dtype == dtype and (grad_out is None or grad is grad_out)
        np.testing.assert_array_equal(fg(t, xl, **kw), grad)
        np.testing.assert_array_equal(f(t, xl, **kw), loss)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_every_simd_path(rng, isa, dtype, kind):
    t, x = make(rng, (97, 1003), dtype, kind=kind)
    check(t, x, dtype, reduction="none", label_smoothing=0.1,
          class_weight=rng.uniform(0.5, 2, 1003))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("shape, axis", [((40, 7), -1), ((40, 7), 1), ((7, 40), 0),
                                         ((3, 5, 4, 6), 1), ((3, 5, 4, 6), -1),
                                         ((3, 5, 4, 6), 0), ((6, 1), -1), ((5, 1, 3), 1)],
                         ids=lambda v: str(v))
def test_axes(rng, dtype, kind, shape, axis):
    t, x = make(rng, shape, dtype, axis=axis, kind=kind)
    for reduction in ("mean", "none"):
        check(t, x, dtype, axis=axis, reduction=reduction)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_keyword_combinations(rng, dtype):
    t, x = make(rng, (64, 9), dtype)
    t[::5] = 4
    cw = rng.uniform(0.2, 3, 9)
    w = rng.uniform(0, 2, 64)
    for kw in [dict(class_weight=cw), dict(ignore_index=4), dict(label_smoothing=0.2),
               dict(class_weight=cw, ignore_index=4, label_smoothing=0.15),
               dict(class_weight=cw, ignore_index=4, label_smoothing=0.15, weight=w, base=2),
               dict(ignore_index=-100), dict(base=10)]:
        for reduction in ("mean", "sum", "none"):
            check(t, x, dtype, reduction=reduction, **kw)
    tp = make(rng, (64, 9), dtype, kind="prob")[0]
    for kw in [dict(class_weight=cw), dict(label_smoothing=0.3), dict(weight=w, base=2)]:
        for reduction in ("mean", "sum", "none"):
            check(tp, x, dtype, reduction=reduction, **kw)


def test_ignored_rows_count_nowhere(rng):
    t, x = make(rng, (10, 5), np.float64)
    t[[1, 4]] = -100
    loss, grad = f(t, x, ignore_index=-100, return_grad=True)
    keep = t != -100
    assert loss == pytest.approx(f(t[keep], x[keep]), rel=1e-14)
    assert np.all(grad[~keep] == 0)
    assert np.isnan(f(np.full(10, -100), x, ignore_index=-100))
    assert f(np.full(10, -100), x, ignore_index=-100, zero_division=0.0) == 0.0
    np.testing.assert_array_equal(fg(np.full(10, -100), x, ignore_index=-100), 0)


def test_probability_rows_need_not_sum_to_one(rng):
    t, x = make(rng, (20, 6), np.float64, kind="prob")
    t = t * rng.uniform(0.1, 0.9, (20, 1))
    _, g = f(t, x, reduction="sum", return_grad=True)
    sm = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    np.testing.assert_allclose(g, sm * t.sum(-1, keepdims=True) - t, rtol=1e-12, atol=1e-15)


def test_matches_pytorch_semantics(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.normal(0, 2, (50, 7, 3))
    t = rng.integers(0, 7, (50, 3))
    t[::4, 1] = -100
    cw = rng.uniform(0.5, 2, 7)
    for kw in [dict(), dict(label_smoothing=0.1), dict(weight=cw, label_smoothing=0.2)]:
        xt = torch.tensor(x, requires_grad=True)
        tkw = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
        lt = F.cross_entropy(xt, torch.tensor(t), ignore_index=-100, **tkw)
        lt.backward()
        ours = f(t, x, axis=1, ignore_index=-100, class_weight=kw.get("weight"),
                 label_smoothing=kw.get("label_smoothing", 0.0), return_grad=True)
        assert ours[0] == pytest.approx(lt.item(), rel=1e-12)
        np.testing.assert_allclose(ours[1], xt.grad.numpy(), rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum", base=2),
                                dict(class_weight=[0.5, 2, 1, 3], label_smoothing=0.2),
                                dict(weight=[1, 0, 2], axis=0)],
                         ids=["mean", "sum-base2", "cw-smoothing", "weighted-axis0"])
def test_gradient_matches_finite_differences(rng, kind, kw):
    axis = kw.get("axis", -1)
    shape = (4, 3) if axis == 0 else (3, 4)
    t, x = make(rng, shape, np.float64, axis=axis, kind=kind)
    g = fg(t, x, **kw)
    # central differences carry a rounding noise of about eps * |loss| / h ~ 1e-9 here
    np.testing.assert_allclose(g, central_difference(lambda z: f(t, z, **kw), x),
                               rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ edge values
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_extreme_logits(dtype):
    x = np.array([[1e4, 0, -1e4], [-1e4, 1e4, 0], [1e4, 1e4, -1e4]], dtype)
    loss, grad = f([0, 0, 2], x, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss[:2], [0, 2e4])
    assert loss[2] == pytest.approx(2e4 + np.log(2), rel=tol(dtype))
    np.testing.assert_array_equal(grad[0], [0, 0, 0])
    np.testing.assert_array_equal(grad[1], [-1, 1, 0])
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_masked_logits(dtype):
    inf = np.inf
    x = np.array([[0, -inf, 0], [-inf, -inf, -inf], [0, np.nan, 1], [1, 2, -inf]], dtype)
    loss, grad = f([0, 0, 0, 2], x, reduction="none", return_grad=True)
    assert loss[0] == pytest.approx(np.log(2), rel=tol(dtype))
    np.testing.assert_allclose(grad[0], [-0.5, 0, 0.5], rtol=tol(dtype))
    assert grad[0, 1] == 0
    assert np.isnan(loss[1]) and np.isnan(loss[2])     # all -inf, NaN: that row only
    assert loss[3] == np.inf                           # the target class is masked
    # a zero target probability at a -inf logit contributes 0, not NaN
    tp = np.array([[0.5, 0, 0.5]], dtype)
    loss, grad = f(tp, x[:1], reduction="none", return_grad=True)
    assert loss[0] == pytest.approx(np.log(2), rel=tol(dtype))
    np.testing.assert_array_equal(grad, [[0, 0, 0]])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_both_exp_paths_give_the_same_bytes(rng, dtype, kind):
    """Rows (in lanes: blocks) whose x - max all lie in exp's normal range take the exp
    without clamp or NaN test (fe_math.h); the same rows with one more class at -1e4 (p = 0
    there: +0 to every sum, a gradient of 0, target 0) take the general exp.  Loss and the
    first C gradient columns must be the same bytes, in lanes and in rows, for labels and
    probability targets, and softmax_stats' fields too."""
    for C in (1, 2, 3, 10, 31, 32, 33, 100, 1000):
        for spread in (3.0, 40.0):          # 40: rows near or past the range's edge
            t, x = make(rng, (300, C), dtype, kind=kind)
            x = (x * (spread / 3)).astype(dtype)
            xp = np.hstack([x, np.full((300, 1), -1e4, dtype)])
            tp = t if kind == "index" else np.hstack([t, np.zeros((300, 1), dtype)])
            loss, grad = f(t, x, reduction="none", return_grad=True)
            lp, gp = f(tp, xp, reduction="none", return_grad=True)
            assert lp.tobytes() == loss.tobytes()
            assert np.ascontiguousarray(gp[:, :C]).tobytes() == grad.tobytes()
            assert not gp[:, C].any()
            if kind == "index":
                st, sp = fe.softmax_stats(x, t), fe.softmax_stats(xp, t)
                for field in ("logsumexp", "log_prob", "entropy", "max_prob", "argmax"):
                    assert getattr(st, field).tobytes() == getattr(sp, field).tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_two_classes_in_one_loop_give_the_bytes_of_the_lanes(rng, dtype, kind):
    """Two classes without class weights or smoothing run every step of a row in one loop
    (softmax_pairs); class weights of 1 change no value but take the rows-in-lanes path:
    loss and gradient must be the same bytes, edges included (NaN, +-inf, +-1e4, a masked
    class, subnormals, ignored rows), for any number of rows and any reduction."""
    f32 = np.finfo(dtype)
    edges = np.array([0.0, 1e4, -1e4, np.inf, -np.inf, np.nan, f32.smallest_subnormal,
                      -f32.smallest_subnormal, 88.0, -104.0, 709.0, -745.0, -0.0], dtype)
    for n in (1, 7, 300, 5000):
        t, x = make(rng, (n, 2), dtype, kind=kind)
        k = min(n, 60)
        x[:k] = rng.choice(edges, (k, 2))
        kw = {}
        if kind == "index":
            t[: n // 3] = -100
            kw = dict(ignore_index=-100)
        for red in ("none", "sum", "mean"):
            loss, grad = f(t, x, reduction=red, return_grad=True, **kw)
            lw, gw = f(t, x, reduction=red, return_grad=True, class_weight=np.ones(2), **kw)
            assert np.asarray(loss).tobytes() == np.asarray(lw).tobytes()
            assert grad.tobytes() == gw.tobytes()


def test_one_class_and_empty():
    x = np.array([[3.0], [-1.0]])
    loss, grad = f([0, 0], x, return_grad=True)
    assert loss == 0 and np.all(grad == 0)
    assert f(np.array([0.0, 1.0])[:, None], x, reduction="sum") == 0
    e = np.empty((0, 5))
    assert np.isnan(f(np.empty(0, int), e))
    assert f(np.empty(0, int), e, reduction="sum") == 0
    loss, grad = f(np.empty(0, int), e, reduction="none", return_grad=True)
    assert loss.shape == (0,) and grad.shape == (0, 5)


def test_thread_count_does_not_change_bits(rng):
    t, x = make(rng, (20000, 50), np.float32)
    w = rng.random(20000)
    first = f(t, x, weight=w, n_threads=1), f(t, x, reduction="sum", n_threads=1)
    for n in (2, 3, None):
        assert (f(t, x, weight=w, n_threads=n), f(t, x, reduction="sum", n_threads=n)) == first


def test_dtypes_of_labels_and_logits(rng):
    x = rng.normal(size=(6, 4))
    t = rng.integers(0, 4, 6)
    expected = f(t, x)
    for dt in (np.int8, np.uint8, np.int32, np.uint64, np.int64):
        assert f(t.astype(dt), x) == expected
    assert f(t, x.astype(np.float16), reduction="none").dtype == np.float32
    assert f(t, np.round(x).astype(int), reduction="none").dtype == np.float64


# ------------------------------------------------------------------ bad input
X = np.zeros((3, 4))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: f([0, 4, 1], X), ValueError,
     r"target: class label 4 at position \(1,\) is outside \[0, 4\)"),
    (lambda: f([0, -1, 1], X, ignore_index=-100), ValueError,
     r"label -1 at position \(1,\) .*not ignore_index=-100"),
    (lambda: f([0, 1], X), ValueError, r"target: integer class labels must have .*\(3,\)"),
    (lambda: f([0.0, 1.0, 2.0], X), ValueError, "target: float targets are class probabilities"),
    (lambda: f(np.full((3, 5), 0.2), X), ValueError, "target: shape"),
    (lambda: f(np.full((3, 4), 1.5), X), ValueError, r"target: probabilities must lie in \[0, 1\]"),
    (lambda: f(np.full((3, 4), np.nan), X), ValueError, "target: probabilities"),
    (lambda: f(np.full((3, 4), 0.25), X, ignore_index=0), ValueError, "ignore_index: only"),
    (lambda: f([0, 1, 2], X, ignore_index=1.5), TypeError, "ignore_index"),
    (lambda: f([0, 1, 2], X, class_weight=[1, 2, 3]), ValueError,
     r"class_weight: has shape \(3,\), expected \(4,\)"),
    (lambda: f([0, 1, 2], X, class_weight=[1, 2, -3, 1]), ValueError, "class_weight: weights"),
    (lambda: f([0, 1, 2], X, weight=[1, -2, 1]), ValueError,
     r"weight: .*found -2.0 at position \(1,\)"),
    (lambda: f([0, 1, 2], X, weight=[1, 2]), ValueError, "weight: shape"),
    (lambda: f([0, 1, 2], X, axis=2), ValueError, "axis: 2 is out of range"),
    (lambda: f([0, 1, 2], X, axis=1.0), TypeError, "axis: must be an int"),
    (lambda: f(0, np.float64(1.0)), ValueError, "logits: must have a class axis"),
    (lambda: f([0, 1, 2], np.zeros((3, 0))), ValueError, "logits: the class axis"),
    (lambda: f(["a", "b", "c"], X), TypeError, "target"),
    (lambda: f([0, 1, 2], X, reduction="batchmean"), ValueError, "reduction"),
    (lambda: f([0, 1, 2], X, label_smoothing=-0.1), ValueError, "label_smoothing"),
    (lambda: f([0, 1, 2], X, out=np.empty(3)), ValueError, "out: only allowed"),
    (lambda: f([0, 1, 2], X, reduction="none", out=np.empty((3, 4))), ValueError,
     r"out: has shape \(3, 4\), expected \(3,\)"),
    (lambda: fg([0, 1, 2], X, grad_out=np.empty((4, 3))), ValueError, "grad_out: has shape"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_first_bad_label_in_large_input():
    t = np.zeros((50, 40), int)
    t[17, 3] = 7
    t[30, 0] = -2
    with pytest.raises(ValueError, match=r"label 7 at position \(17, 3\)"):
        f(t, np.zeros((50, 7, 40)), axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_softmax_stats_nan_rows_are_never_correct_even_when_k_exceeds_the_classes(dtype):
    """A row with a NaN is never among the top k (the docs); with k > C it was counted
    correct, as if every class were."""
    x = np.array([[1.0, np.nan, 0.0], [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype)
    y = np.array([0, 2, 2])
    for k in (1, 2, 3, 4, 50):
        got = fe.softmax_stats(x, y, k=k).correct
        want = [False, True, k >= 3]               # rank < k, and NaN rows never
        assert got.tolist() == want, (k, got)
        assert R.softmax_stats(x, y, k=k)["correct"].tolist() == want
