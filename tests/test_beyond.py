"""The functions beyond the six losses: kl_divergence_with_logits, js_divergence,
js_divergence_with_logits, information, binary_entropy and softmax_stats -- against
fastent.reference (float64), SciPy and PyTorch, central differences, the -inf / +-1e4 /
zero-probability edge cases, identical bytes across batching, layouts and threads, and
every documented error."""
import math

import numpy as np
import pytest

import fastent as fe
from fastent import reference as R

from support import DTYPE_IDS, DTYPES, central_difference, tol

LOGIT_FUNCS = {
    "kl_divergence_with_logits": (fe.kl_divergence_with_logits,
                                  fe.kl_divergence_with_logits_grad,
                                  R.kl_divergence_with_logits,
                                  R.kl_divergence_with_logits_grad),
    "js_divergence_with_logits": (fe.js_divergence_with_logits,
                                  fe.js_divergence_with_logits_grad,
                                  R.js_divergence_with_logits,
                                  R.js_divergence_with_logits_grad),
}
ELEM_FUNCS = {
    "information": (fe.information, fe.information_grad, R.information,
                    R.information_grad),
    "binary_entropy": (fe.binary_entropy, fe.binary_entropy_grad, R.binary_entropy,
                       R.binary_entropy_grad),
}
CLASSES = [1, 2, 3, 10, 17, 40, 1000]


def logit_atol(dtype):
    """Absolute slack of a row value from logits against the float64 oracle: float32's exp
    of the max-shifted logits (|z| up to ~25 here) is exact to ~|z| 2^-24 relatively, so a
    row's value is good to ~1e-5 absolutely whatever its size; float64's to ~1e-13."""
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-12


def kw_for(name, beta):
    return {} if name.startswith("kl") else {"beta": beta}


# ---- divergences from logits ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", CLASSES)
@pytest.mark.parametrize("T", [0.5, 1.0, 4.0])
@pytest.mark.parametrize("name", list(LOGIT_FUNCS))
def test_logit_divergences_match_reference(rng, name, T, C, dtype):
    f, fg, r, rg = LOGIT_FUNCS[name]
    for beta in ([0.5] if name.startswith("kl") else [0.1, 0.5, 0.9]):
        kw = dict(kw_for(name, beta), temperature=T)
        t = (rng.normal(size=(33, C)) * 3).astype(dtype)
        s = (rng.normal(size=(33, C)) * 3).astype(dtype)
        t64, s64 = t.astype(np.float64), s.astype(np.float64)
        loss, grad = f(t, s, reduction="none", return_grad=True, **kw)
        assert loss.dtype == dtype and grad.dtype == dtype and grad.shape == s.shape
        np.testing.assert_allclose(loss, r(t64, s64, reduction="none", **kw),
                                   rtol=tol(dtype), atol=logit_atol(dtype))
        expected = rg(t64, s64, reduction="none", **kw)
        np.testing.assert_allclose(grad, expected, rtol=tol(dtype) * 4,
                                   atol=tol(dtype) * max(np.abs(expected).max(), 1e-30))
        assert np.array_equal(grad, fg(t, s, reduction="none", **kw))
        for red in ("mean", "sum"):
            got = f(t, s, reduction=red, **kw)
            assert got == R._fsum(loss) / (33 if red == "mean" else 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(LOGIT_FUNCS))
def test_long_logit_rows_fetched_in_segments(rng, name, dtype):
    """Rows over 8 KiB have the next block's rows fetched segment by segment
    (fe_divlogits_impl.h: spread): on both sides of that length, with a segment cut short
    at the row's end, -inf logits and a NaN row, the values match the oracle, a row alone
    gives the batch's bytes and every instruction set the baseline's."""
    from fastent import _config
    f, fg, r, rg = LOGIT_FUNCS[name]
    kw = dict(kw_for(name, 0.3), temperature=2.0)
    per_kib = 8192 // np.dtype(dtype).itemsize
    for C in (per_kib, per_kib + 1, per_kib + 552):
        t = (rng.normal(size=(5, C)) * 3).astype(dtype)
        s = (rng.normal(size=(5, C)) * 3).astype(dtype)
        t[1, ::7] = -np.inf                                   # classes the teacher masks
        s[3, 5] = np.nan
        loss, grad = f(t, s, reduction="none", return_grad=True, **kw)
        t64, s64 = t.astype(np.float64), s.astype(np.float64)
        ok = ~np.isnan(s).any(axis=1)
        assert np.isnan(loss[3]) and np.isnan(grad[3]).all()
        np.testing.assert_allclose(loss[ok], r(t64, s64, reduction="none", **kw)[ok],
                                   rtol=tol(dtype), atol=logit_atol(dtype))
        expected = rg(t64[ok], s64[ok], reduction="none", **kw)
        np.testing.assert_allclose(grad[ok], expected, rtol=tol(dtype) * 4,
                                   atol=tol(dtype) * np.abs(expected).max())
        for i in (0, 4):
            l1, g1 = f(t[i:i + 1], s[i:i + 1], reduction="none", return_grad=True, **kw)
            assert l1.tobytes() == loss[i:i + 1].tobytes()
            assert g1.tobytes() == grad[i:i + 1].tobytes()
        here = loss.tobytes() + grad.tobytes()
        try:
            for isa in ("baseline", "avx2", "avx512"):
                if _config._set_isa(isa) == isa:
                    lo, gr = f(t, s, reduction="none", return_grad=True, **kw)
                    assert lo.tobytes() + gr.tobytes() == here, (isa, C)
        finally:
            _config._set_isa(None)


@pytest.mark.parametrize("name", list(LOGIT_FUNCS))
@pytest.mark.parametrize("T", [0.5, 1.0, 4.0])
def test_logit_divergence_gradients_by_central_differences(rng, name, T):
    f, fg, _, _ = LOGIT_FUNCS[name]
    for beta in (0.1, 0.5, 0.9) if name.startswith("js") else (0.5,):
        kw = dict(kw_for(name, beta), temperature=T)
        t, s = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
        w = rng.random(3)
        numeric = central_difference(lambda x: f(t, x, weight=w, **kw), s)
        np.testing.assert_allclose(fg(t, s, weight=w, **kw), numeric, rtol=1e-6, atol=1e-9)


def test_kl_with_logits_matches_pytorch_recipe(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for T in (0.5, 1.0, 4.0):
        for dtype in DTYPES:
            t = (rng.normal(size=(16, 12)) * 4).astype(dtype)
            s = (rng.normal(size=(16, 12)) * 4).astype(dtype)
            ts = torch.tensor(s.astype(np.float64), requires_grad=True)
            ref = F.kl_div(F.log_softmax(ts / T, -1),
                           F.log_softmax(torch.tensor(t.astype(np.float64)) / T, -1),
                           log_target=True, reduction="batchmean")
            ref.backward()
            loss, grad = fe.kl_divergence_with_logits(t, s, temperature=T, return_grad=True)
            assert math.isclose(loss, ref.item(), rel_tol=tol(dtype) * 10, abs_tol=1e-6)
            np.testing.assert_allclose(grad, ts.grad.numpy(), rtol=tol(dtype) * 10,
                                       atol=tol(dtype) * np.abs(ts.grad.numpy()).max())


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_minus_inf_logits_mask_classes_never_nan(dtype):
    inf = np.inf
    t = np.array([[2.0, 0.0, -inf], [1.0, -inf, 0.0], [-inf, 3.0, 1.0], [0, 1, 2]], dtype)
    s = np.array([[1.0, 1.0, 0.0], [0.5, 2.0, -inf], [-inf, 1.0, -inf], [0, 1, 2]], dtype)
    for name, (f, fg, r, rg) in LOGIT_FUNCS.items():
        loss, grad = f(t, s, reduction="none", return_grad=True)
        assert not np.isnan(loss).any() and not np.isnan(grad).any(), name
        assert np.isfinite(grad).all()
        masked = s == -inf                               # q = 0 there: KL's gradient is
        expected = rg(t.astype(np.float64), s.astype(np.float64), reduction="none")
        np.testing.assert_allclose(grad[masked], expected[masked], atol=1e-7)   # -p / T
        if name.startswith("js"):
            assert (grad[masked] == 0).all() and np.isfinite(loss).all() and loss[3] == 0
        else:                                            # p > 0 = q in rows 1 and 2
            assert np.isfinite(loss[0]) and loss[1] == loss[2] == np.inf and loss[3] == 0
    # masked in both: the class contributes nothing
    a = np.array([[0.0, 1.0, -inf]], dtype)
    assert fe.kl_divergence_with_logits(a, a, reduction="none")[0] == 0
    assert fe.js_divergence_with_logits(a, a, reduction="none")[0] == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_large_logits_and_nan_rows(dtype):
    t = np.array([[1e4, -1e4, 0.0], [1.0, np.nan, 0.0], [-1e4, 1e4, 5.0]], dtype)
    s = np.array([[-1e4, 1e4, 0.0], [1.0, 2.0, 0.0], [-1e4, 1e4, 5.0]], dtype)
    kl, g = fe.kl_divergence_with_logits(t, s, reduction="none", return_grad=True)
    assert kl[0] == pytest.approx(2e4, rel=1e-6) and kl[2] == 0
    assert np.isnan(kl[1]) and np.isnan(g[1]).all()
    np.testing.assert_allclose(g[0], [-1, 1, 0], atol=1e-6)
    js = fe.js_divergence_with_logits(t, s, reduction="none", base=2)
    assert js[0] == pytest.approx(1.0, rel=1e-6) and js[2] == 0 and np.isnan(js[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(LOGIT_FUNCS))
def test_both_exp_paths_give_the_same_bytes(rng, name, dtype):
    """A row whose shifted logits all lie in exp's normal range takes the exp without clamp
    or NaN test (fe_math.h); the same row with one more class at -1e4 in both arguments
    (p = q = 0 there: +0 to every sum, a gradient of 0) takes the general exp.  The values
    and the gradient's first C classes must be the same bytes."""
    f = LOGIT_FUNCS[name][0]
    for C in (1, 5, 16, 100, 333):
        for T in (0.5, 1.0, 2.0, 3.0):
            for spread in (2.0, 30.0):     # 30/T: rows near or past the range's edge
                t = rng.normal(0, spread, (8, C)).astype(dtype)
                s = (t + rng.normal(0, 0.5, t.shape)).astype(dtype)
                pad = np.full((8, 1), -1e4, dtype)
                loss, grad = f(t, s, temperature=T, reduction="none", return_grad=True)
                lp, gp = f(np.hstack([t, pad]), np.hstack([s, pad]), temperature=T,
                           reduction="none", return_grad=True)
                assert lp.tobytes() == loss.tobytes()
                assert np.ascontiguousarray(gp[:, :C]).tobytes() == grad.tobytes()
                assert not gp[:, C].any()


def test_hinton_scaling_and_reverse_direction(rng):
    t, s = rng.normal(size=(8, 6)), rng.normal(size=(8, 6))
    T = 3.0
    loss, g = fe.kl_divergence_with_logits(t, s, temperature=T, return_grad=True)
    # no hidden T^2: the value is KL of the softened distributions exactly
    softmax = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(
        z - z.max(1, keepdims=True)).sum(1, keepdims=True)
    assert math.isclose(loss, fe.kl_divergence(softmax(t / T), softmax(s / T), eps=0),
                        rel_tol=1e-12)
    # reverse KL: arguments swapped, the gradient is with respect to the first set
    rev, gt = fe.kl_divergence_with_logits(s, t, temperature=T, return_grad=True)
    numeric = central_difference(lambda x: fe.kl_divergence_with_logits(s, x, temperature=T), t)
    np.testing.assert_allclose(gt, numeric, rtol=1e-6, atol=1e-9)
    assert rev != loss
    # JS: symmetric at beta = 1/2, beta <-> 1 - beta when swapped
    a = fe.js_divergence_with_logits(t, s, beta=0.3)
    b = fe.js_divergence_with_logits(s, t, beta=0.7)
    assert math.isclose(a, b, rel_tol=1e-12)


# ---- Jensen-Shannon of distributions -------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", [1, 2, 5, 17, 300])
def test_js_divergence_matches_reference_and_scipy(rng, C, dtype):
    spatial = pytest.importorskip("scipy.spatial.distance")
    p = rng.random((20, C))
    q = rng.random((20, C))
    p[rng.random(p.shape) < 0.2] = 0
    q[rng.random(q.shape) < 0.2] = 0
    p[:, 0] += 1e-3
    q[:, -1] += 1e-3
    p /= p.sum(1, keepdims=True)
    q /= q.sum(1, keepdims=True)
    p, q = p.astype(dtype), q.astype(dtype)
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    for beta in (0.1, 0.5, 0.9):
        loss, grad = fe.js_divergence(p, q, beta=beta, reduction="none", return_grad=True)
        assert np.isfinite(loss).all()
        np.testing.assert_allclose(loss, R.js_divergence(p64, q64, beta=beta,
                                                         reduction="none"),
                                   rtol=tol(dtype) * 4, atol=tol(dtype) * 1e-3)
        expected = R.js_divergence_grad(p64, q64, beta=beta, reduction="none")
        finite = np.isfinite(expected)
        np.testing.assert_allclose(grad[finite], expected[finite], rtol=tol(dtype) * 4,
                                   atol=tol(dtype))
        assert np.array_equal(np.isneginf(grad), np.isneginf(expected))
    sp = spatial.jensenshannon(p64, q64, base=2, axis=1) ** 2
    np.testing.assert_allclose(fe.js_divergence(p, q, reduction="none", base=2), sp,
                               rtol=tol(dtype) * 10, atol=tol(dtype))


def test_js_divergence_gradient_and_edges(rng):
    p, q = rng.random((4, 6)) + 0.05, rng.random((4, 6)) + 0.05
    w = rng.random(4)
    for beta in (0.1, 0.5, 0.9):
        numeric = central_difference(lambda x: fe.js_divergence(p, x, beta=beta, weight=w), q)
        np.testing.assert_allclose(fe.js_divergence_grad(p, q, beta=beta, weight=w), numeric,
                                   rtol=1e-6, atol=1e-9)
    one = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    two = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    v, g = fe.js_divergence(one, two, reduction="none", base=2, return_grad=True)
    assert v.tolist() == [1.0, 0.0, 0.0]
    # q = 0 < p: -inf; p = 0: -(1 - beta) log(1 - beta) for any q; p = q: log 1 = 0
    assert g.tolist() == [[-np.inf, 0.5], [0.5, 0.0], [0.5, 0.5]]
    assert fe.js_divergence(one, two, beta=1.0, return_grad=True)[1].tolist() == [[0, 0]] * 3
    assert fe.js_divergence(one, two, beta=0.0) == 0
    assert np.isnan(fe.js_divergence(one, np.array([[np.nan, 1.0]] * 3), reduction="none")).all()
    with pytest.raises(ValueError, match="q: .*non-negative"):
        fe.js_divergence(one, -two)
    with pytest.raises(ValueError, match="p: .*non-negative"):
        fe.js_divergence(-one, two)


# ---- information and binary entropy -------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(ELEM_FUNCS))
def test_elementwise_match_reference(rng, name, dtype):
    f, fg, r, rg = ELEM_FUNCS[name]
    tiny = np.finfo(dtype).tiny
    p = np.concatenate([rng.random(500), [0.0, 1.0, 0.5, 0.25, 0.75, tiny, tiny / 8,
                                           1 - np.finfo(dtype).eps, 0.4999, 0.5001]]
                       ).astype(dtype)
    for eps in ("auto", 0.0, 1e-3):
        loss, grad = f(p, reduction="none", eps=eps, return_grad=True)
        assert loss.dtype == dtype and grad.dtype == dtype
        p64 = p.astype(np.float64)
        e = np.finfo(dtype).eps if eps == "auto" else eps
        np.testing.assert_allclose(loss, r(p64, reduction="none", eps=e), rtol=tol(dtype),
                                   atol=tol(dtype) * 1e-6)
        with np.errstate(over="ignore"):        # beyond the dtype's range: +-inf there too
            expected = rg(p64, reduction="none", eps=e).astype(dtype)
        finite = np.isfinite(expected)
        np.testing.assert_allclose(grad[finite], expected[finite], rtol=tol(dtype) * 2,
                                   atol=0)
        assert np.array_equal(grad[~finite], expected[~finite])


def test_elementwise_closed_forms_and_edges():
    p = np.array([0.5, 0.25, 1.0, 0.0])
    assert fe.information(p, reduction="none", base=2).tolist()[:3] == [1.0, 2.0, 0.0]
    assert fe.information(p, reduction="none", eps=0)[3] == np.inf
    assert fe.information_grad(p, reduction="none", eps=0)[3] == -np.inf
    h = fe.binary_entropy(np.array([0.0, 0.5, 1.0]), reduction="none", base=2)
    assert h.tolist() == [0.0, 1.0, 0.0] and not np.signbit(h).any()
    g = fe.binary_entropy_grad(np.array([0.0, 0.5, 1.0]), reduction="none", eps=0)
    assert g.tolist() == [np.inf, 0.0, -np.inf]
    g = fe.binary_entropy_grad(np.array([0.0, 1.0]), reduction="none")
    assert np.isfinite(g).all() and g[0] == -g[1]
    # near 1/2 the gradient keeps its relative accuracy (no cancellation)
    for dtype in DTYPES:
        q = np.nextafter(dtype(0.5), dtype(0)) * np.ones(1, dtype)
        exact = math.log((1 - float(q[0])) / float(q[0]))
        assert fe.binary_entropy_grad(q, reduction="none")[0] == pytest.approx(exact, rel=1e-6)
    assert np.isnan(fe.information(np.array([np.nan]), reduction="none")[0])
    assert np.isnan(fe.binary_entropy_grad(np.array([np.nan]), reduction="none")[0])
    for f in (fe.information, fe.binary_entropy):
        with pytest.raises(ValueError, match=r"p: .*\[0, 1\]"):
            f(np.array([0.5, 1.5]))
        with pytest.raises(ValueError, match="weight"):
            f(np.array([0.5]), weight=-1.0)
        assert f(np.zeros(0), reduction="sum") == 0 and np.isnan(f(np.zeros(0)))


@pytest.mark.parametrize("name", list(ELEM_FUNCS))
def test_elementwise_gradients_by_central_differences(rng, name):
    f, fg, _, _ = ELEM_FUNCS[name]
    p = rng.uniform(0.05, 0.95, size=(3, 4))
    w = rng.random((3, 4))
    numeric = central_difference(lambda x: f(x, weight=w), p)
    np.testing.assert_allclose(fg(p, weight=w), numeric, rtol=1e-6, atol=1e-9)


# ---- softmax_stats -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", [1, 2, 3, 8, 10, 16, 17, 31, 33, 100, 1000])
def test_softmax_stats_against_four_pass_recipe(rng, C, dtype):
    x = (rng.normal(size=(70, C)) * 3).astype(dtype)
    if C > 1:
        x[3, 0] = -np.inf                                   # a masked class
    t = rng.integers(0, C, 70)
    for k in (1, 2, 5):
        s = fe.softmax_stats(x, t, k=k)
        r = R.softmax_stats(x.astype(np.float64), t, k=k)
        for f in ("logsumexp", "entropy", "max_prob", "log_prob"):
            got = getattr(s, f)
            assert got.dtype == dtype and got.shape == (70,)
            np.testing.assert_allclose(got, r[f], rtol=tol(dtype) * 4, atol=tol(dtype) * 1e-3,
                                       err_msg=f)
        assert np.array_equal(s.argmax, np.argmax(x, axis=1)) and s.argmax.dtype == np.intp
        assert np.array_equal(s.correct, r["correct"])
        assert not s.ignored.any()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_softmax_stats_log_prob_is_minus_the_loss_bit_for_bit(rng, dtype):
    for C in (1, 2, 5, 10, 17, 32, 40, 300):
        x = (rng.normal(size=(4, C, 9)) * 5).astype(dtype)
        t = rng.integers(0, C, (4, 9))
        t[0, 0] = -100
        for base in ("e", 2):
            s = fe.softmax_stats(x, t, axis=1, ignore_index=-100, base=base)
            loss = fe.softmax_cross_entropy(t, x, axis=1, ignore_index=-100, base=base,
                                            reduction="none")
            keep = t != -100
            assert np.array_equal(s.log_prob[keep], -loss[keep])
            assert np.isnan(s.log_prob[0, 0]) and s.ignored[0, 0] and not s.correct[0, 0]
            assert s.ignored.sum() == 1


def test_softmax_stats_same_bytes_everywhere(rng):
    x = rng.normal(size=(300, 13)).astype(np.float32)
    t = rng.integers(0, 13, 300)
    whole = fe.softmax_stats(x, t, k=3)
    parts = [fe.softmax_stats(x[i:i + 7], t[i:i + 7], k=3) for i in range(0, 300, 7)]
    strided = np.empty((300, 26), np.float32)
    strided[:, ::2] = x
    for f in whole._fields:
        a = getattr(whole, f)
        assert np.concatenate([getattr(p, f) for p in parts]).tobytes() == a.tobytes(), f
        assert getattr(fe.softmax_stats(strided[:, ::2], t, k=3), f).tobytes() == a.tobytes()
        assert getattr(fe.softmax_stats(np.asfortranarray(x), t, k=3), f).tobytes() == a.tobytes()
        assert getattr(fe.softmax_stats(x, t, k=3, n_threads=1), f).tobytes() == a.tobytes()
        assert getattr(fe.softmax_stats(x.T, t, k=3, axis=0), f).tobytes() == a.tobytes()


def test_softmax_stats_edges_and_errors(rng):
    x = np.array([[1.0, np.nan, 3.0], [2.0, 2.0, 0.0], [-np.inf, 0.0, -np.inf]])
    s = fe.softmax_stats(x, np.array([2, 1, 1]))
    assert s.argmax.tolist() == [1, 0, 1]                   # first NaN; first maximum
    assert s.correct.tolist() == [False, True, True]        # ties count for the target
    assert np.isnan(s.entropy[0]) and s.entropy[2] == 0 and s.max_prob[2] == 1
    none = fe.softmax_stats(x)
    assert none.log_prob is None and none.correct is None and none.ignored is None
    assert np.array_equal(none.argmax, s.argmax)
    empty = fe.softmax_stats(np.zeros((0, 4)), np.zeros(0, int))
    assert empty.logsumexp.shape == (0,) and empty.correct.shape == (0,)
    one = fe.softmax_stats(np.array([[3.0], [-1.0]]), np.array([0, 0]))
    assert one.log_prob.tolist() == [0.0, 0.0] and one.entropy.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"target: class label 5 .* outside \[0, 3\)"):
        fe.softmax_stats(x, np.array([0, 5, 1]))
    with pytest.raises(ValueError, match="k: must be an int >= 1"):
        fe.softmax_stats(x, np.array([0, 1, 1]), k=0)
    with pytest.raises(TypeError, match="k: must be an int"):
        fe.softmax_stats(x, np.array([0, 1, 1]), k=1.5)
    with pytest.raises(ValueError, match="ignore_index: only applies with a target"):
        fe.softmax_stats(x, ignore_index=-100)
    with pytest.raises(TypeError, match="target: must be integer class labels"):
        fe.softmax_stats(x, np.zeros(3))
    with pytest.raises(ValueError, match="target: integer class labels must have"):
        fe.softmax_stats(x, np.zeros(4, int))


# ---- shared behaviour: bytes, layouts, threads, outputs, errors, streaming, Dask -----------
ROW_CASES = {
    "kl_divergence_with_logits": lambda rng, C: (rng.normal(size=(257, C)) * 3,
                                                 rng.normal(size=(257, C)) * 3),
    "js_divergence_with_logits": lambda rng, C: (rng.normal(size=(257, C)) * 3,
                                                 rng.normal(size=(257, C)) * 3),
    "js_divergence": lambda rng, C: (rng.dirichlet(np.ones(C), 257),
                                     rng.dirichlet(np.ones(C), 257)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(ROW_CASES))
def test_rows_same_bytes_in_any_batch_layout_and_thread_count(rng, name, dtype):
    f = getattr(fe, name)
    for C in (3, 17, 600):
        a, b = (z.astype(dtype) for z in ROW_CASES[name](rng, C))
        loss, grad = f(a, b, reduction="none", return_grad=True, temperature=2.0) if "logits" in name \
            else f(a, b, reduction="none", return_grad=True)
        kw = dict(temperature=2.0) if "logits" in name else {}
        for i in (0, 100, 256):
            l1, g1 = f(a[i:i + 1], b[i:i + 1], reduction="none", return_grad=True, **kw)
            assert l1.tobytes() == loss[i:i + 1].tobytes()
            assert g1.tobytes() == grad[i:i + 1].tobytes()
        lt, gt = f(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T), axis=0,
                   reduction="none", return_grad=True, **kw)
        assert lt.tobytes() == loss.tobytes() and gt.T.tobytes() == np.ascontiguousarray(grad).tobytes()
        for nt in (1, 2):
            assert f(a, b, n_threads=nt, **kw) == f(a, b, **kw)
        # grad_out = the prediction itself: as if it had been copied first
        b2 = b.copy()
        l3, g3 = f(a, b2, reduction="none", return_grad=True, grad_out=b2, **kw)
        assert g3 is b2 and g3.tobytes() == grad.tobytes() and l3.tobytes() == loss.tobytes()


def test_keyword_errors():
    t = np.zeros((2, 3))
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="temperature: must be a finite number > 0"):
            fe.kl_divergence_with_logits(t, t, temperature=bad)
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match=r"beta: must lie in \[0, 1\]"):
            fe.js_divergence(t, t, beta=bad)
        with pytest.raises(ValueError, match=r"beta: must lie in \[0, 1\]"):
            fe.js_divergence_with_logits(t, t, beta=bad)
    with pytest.raises(ValueError, match="target_logits"):
        fe.kl_divergence_with_logits(np.zeros((2, 4)), t)
    with pytest.raises(ValueError, match="out: only allowed with reduction='none'"):
        fe.js_divergence_with_logits(t, t, out=np.zeros(2))


def test_empty_batches_and_one_class():
    for f in (fe.kl_divergence_with_logits, fe.js_divergence_with_logits, fe.js_divergence):
        e = np.zeros((0, 5))
        assert f(e, e, reduction="sum") == 0 and np.isnan(f(e, e))
        assert f(e, e, reduction="none").shape == (0,)
        one = np.ones((4, 1))
        v, g = f(one, one * 0.5 if f is not fe.js_divergence else one, reduction="none",
                 return_grad=True)
        assert v.tolist() == [0.0] * 4 and g.tolist() == [[0.0]] * 4


@pytest.mark.parametrize("name,args,opts", [
    ("kl_divergence_with_logits", 2, dict(temperature=2.0)),
    ("js_divergence_with_logits", 2, dict(beta=0.3, temperature=0.5)),
    ("js_divergence", 2, dict(beta=0.7)),
    ("information", 1, dict(base=2)),
    ("binary_entropy", 1, dict(eps=1e-3)),
])
def test_running_loss_equals_one_call_to_the_bit(rng, name, args, opts):
    if args == 2:
        a, b = rng.random((90, 7)), rng.random((90, 7))
        split = lambda s: (a[s], b[s])
        whole = getattr(fe, name)(a, b, **opts)
    else:
        a = rng.random((90, 7))
        split = lambda s: (a[s],)
        whole = getattr(fe, name)(a, **opts)
    acc = fe.RunningLoss(name, **opts)
    for i in range(0, 90, 13):
        acc.update(*split(slice(i, i + 13)))
    assert acc.result() == whole
    other = fe.RunningLoss(name, **opts)
    other.update(*split(slice(40, 90)))
    first = fe.RunningLoss(name, **opts).update(*split(slice(0, 40)))
    assert other.merge(first).result() == whole


def test_dask_gives_the_numpy_bytes(rng):
    da = pytest.importorskip("dask.array")
    t, s = rng.normal(size=(60, 9)), rng.normal(size=(60, 9))
    T, S = da.from_array(t, chunks=(17, 4)), da.from_array(s, chunks=(17, 4))
    for f, kw in ((fe.kl_divergence_with_logits, dict(temperature=2.0)),
                  (fe.js_divergence_with_logits, dict(beta=0.2)),
                  (fe.js_divergence, {})):
        a, b = (np.abs(t), np.abs(s)) if f is fe.js_divergence else (t, s)
        A, B = (abs(T), abs(S)) if f is fe.js_divergence else (T, S)
        assert f(A, B, **kw).compute() == f(a, b, **kw)
        assert f(A, B, reduction="none", **kw).compute().tobytes() == \
            f(a, b, reduction="none", **kw).tobytes()
        assert f(A, B, return_grad=True, **kw)[1].compute().tobytes() == \
            f(a, b, return_grad=True, **kw)[1].tobytes()
    p = rng.random(1000)
    P = da.from_array(p, chunks=300)
    for f in (fe.information, fe.binary_entropy):
        assert f(P).compute() == f(p)
        assert f(P, return_grad=True)[1].compute().tobytes() == f(p, return_grad=True)[1].tobytes()
    y = rng.integers(0, 9, 60)
    st, sd = fe.softmax_stats(s, y, k=2), fe.softmax_stats(S, da.from_array(y, chunks=17), k=2)
    for field in st._fields:
        assert np.asarray(getattr(sd, field).compute()).tobytes() == getattr(st, field).tobytes()


def test_exported():
    for name in ("kl_divergence_with_logits", "js_divergence", "js_divergence_with_logits",
                 "information", "binary_entropy", "softmax_stats"):
        assert name in fe.__all__ and name in R.__all__
        if name != "softmax_stats":
            assert name + "_grad" in fe.__all__


def test_same_bytes_on_every_instruction_set(rng, isa):
    """Each function under each instruction set this CPU runs gives the baseline's bytes."""
    from fastent import _config
    t = (rng.normal(size=(50, 19)) * 4).astype(np.float32)
    s = (rng.normal(size=(50, 19)) * 4).astype(np.float32)
    t[0, 3] = s[1, 4] = -np.inf
    p, q = rng.dirichlet(np.ones(19), 50), rng.dirichlet(np.ones(19), 50)
    y = rng.integers(0, 19, 50)
    u = rng.random(300)

    def results():
        out = [fe.kl_divergence_with_logits(t, s, temperature=2.0, reduction="none",
                                            return_grad=True),
               fe.js_divergence_with_logits(t, s, beta=0.3, reduction="none",
                                            return_grad=True),
               fe.js_divergence(p, q, reduction="none", return_grad=True),
               fe.information(u, reduction="none", return_grad=True),
               fe.binary_entropy(u, reduction="none", return_grad=True),
               tuple(a for a in fe.softmax_stats(s, y, k=3))]
        return b"".join(a.tobytes() for r in out for a in r)

    here = results()
    _config._set_isa("baseline")
    assert results() == here


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_binary_entropy_of_nan_is_nan(dtype, isa):
    """A NaN prediction propagates (the contract; fastent.reference): binary_entropy(nan)
    was 0, its selects `p > 0 ? p log p : 0` dropping the NaN, so the mean of [0.3, nan]
    came out 0.305."""
    p = np.array([0.3, np.nan, 0.0, 1.0, 0.5], dtype)
    for eps in ("auto", 0):
        rows = fe.binary_entropy(p, reduction="none", eps=eps)
        want = R.binary_entropy(p, reduction="none", eps=eps)
        assert np.isnan(rows[1]) and np.isnan(want[1])
        np.testing.assert_allclose(rows[[0, 4]], want[[0, 4]], rtol=tol(dtype))
        assert rows[2] == 0 and rows[3] == 0
        assert np.isnan(fe.binary_entropy(p, eps=eps)) and np.isnan(R.binary_entropy(p, eps=eps))
        assert np.isnan(fe.binary_entropy(p, reduction="sum", eps=eps))
        loss, grad = fe.binary_entropy(p, reduction="none", eps=eps, return_grad=True)
        assert np.isnan(grad[1]) and np.isfinite(grad[0]) and grad[4] == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", [3, 40])                 # rows in lanes, and long rows
@pytest.mark.parametrize("name", ["softmax_cross_entropy", "kl_divergence_with_logits",
                                  "js_divergence_with_logits"])
def test_rows_of_weight_zero_give_zero_gradients_from_logits(name, C, dtype, isa, rng):
    """A masked row (weight 0) with a NaN logit gave a NaN gradient row (NaN * 0): it is +0
    now, and every other row has the bytes of the call on the kept rows alone."""
    R_ = 12
    x = rng.normal(size=(R_, C)).astype(dtype)
    x[::4, 1] = np.nan
    w = np.ones(R_)
    w[::4] = 0.0
    keep = w > 0
    first = (rng.integers(0, C, R_) if name == "softmax_cross_entropy"
             else rng.normal(size=(R_, C)).astype(dtype))
    f = getattr(fe, name)
    for red in ("mean", "sum", "none"):
        loss, grad = f(first, x, weight=w, reduction=red, return_grad=True)
        assert grad[~keep].tobytes() == np.zeros_like(grad[~keep]).tobytes()
        l2, g2 = f(first[keep], x[keep], weight=w[keep], reduction=red, return_grad=True)
        assert grad[keep].tobytes() == g2.tobytes()
        assert (loss[keep] if red == "none" else loss).tobytes() == l2.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_js_at_beta_zero_and_one_is_zero_where_a_side_masks_a_class(beta, dtype, isa):
    """At beta 0 (1) the mixture is the student's (teacher's) distribution and the
    divergence is 0 for every input; with -inf masking a class on one side the value came
    out NaN (0 * inf), at beta 1 the gradient too."""
    t = np.array([[0.0, -np.inf, 1.0], [1.0, 2.0, -np.inf], [0.5, 0.5, 0.5]], dtype)
    x = np.array([[0.0, 1.0, -np.inf], [-np.inf, 2.0, 3.0], [1.0, -np.inf, 0.0]], dtype)
    for red in ("none", "mean", "sum"):
        loss, grad = fe.js_divergence_with_logits(t, x, beta=beta, reduction=red,
                                                  return_grad=True)
        assert np.all(loss == 0) and np.all(grad == 0), (red, loss, grad)
        assert np.all(R.js_divergence_with_logits(t, x, beta=beta, reduction=red) == 0)
        assert np.all(R.js_divergence_with_logits_grad(t, x, beta=beta, reduction=red) == 0)
    nan = t.copy()
    nan[2, 0] = np.nan                              # a NaN still propagates to its row
    rows = fe.js_divergence_with_logits(nan, x, beta=beta, reduction="none")
    assert np.isnan(rows[2]) and np.all(rows[:2] == 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_js_gradient_at_beta_zero_is_zero_where_q_is_zero(dtype, isa):
    """js_divergence at beta = 0 is identically 0 (m = q); its gradient was -inf where
    q = 0 < p.  At other beta the one-sided derivative there stays -inf."""
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], dtype)
    q = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], dtype)
    loss, grad = fe.js_divergence(p, q, beta=0.0, reduction="none", return_grad=True)
    assert np.all(loss == 0) and np.all(grad == 0)
    assert np.all(R.js_divergence_grad(p, q, beta=0.0, reduction="none") == 0)
    g = fe.js_divergence_grad(p, q, beta=0.5, reduction="none")
    assert g[0, 1] == -np.inf and g[1, 0] == -np.inf
