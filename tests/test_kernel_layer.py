"""The kernel layer's promises: fastent's own maths within 1 ulp, the same bytes on every
instruction set, for any slice, position and batching; exact sums; IEEE specials in sums;
clipping that always clips; SciPy's rel_entr accuracy for KL with eps=0."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import fastent as fe
from fastent import _config, _runtime, reference

HERE = os.path.dirname(os.path.abspath(__file__))
import mpmath  # noqa: E402  (the test extra installs it: the maths tests never skip)


def _isas():
    best = _runtime.best_isa(-1)
    return [name for level, name in enumerate(_config.ISA_NAMES) if level <= best]


@pytest.fixture(params=_isas())
def isa(request):
    """Run a test on each instruction set this CPU has; restore the default after."""
    _config._set_isa(request.param)
    yield request.param
    _config._set_isa(None)


# ---------------------------------------------------------------------------- the maths
def _ulp32(ref):
    a = np.abs(ref).astype(np.float32)
    return np.maximum(np.spacing(a).astype(np.float64), 2.0 ** -149)


def _float32_sweep():
    """Every binade of float32 densely: 2^20 random bit patterns and a regular grid of
    2^20 more, both signs."""
    rng = np.random.default_rng(7)
    bits = np.concatenate([rng.integers(0, 0x7F800000, 2 ** 20, dtype=np.uint32),
                           np.arange(0, 0x7F800000, 0x7F800000 // 2 ** 20, dtype=np.uint32)])
    x = bits.view(np.float32)
    return np.concatenate([x, -x])


@pytest.mark.parametrize("name,ref", [("exp", np.exp), ("log", np.log), ("log1p", np.log1p)])
def test_float32_maths_within_one_ulp(isa, name, ref):
    x = _float32_sweep()
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))          # float64 libm: exact to far below a float32 ulp
        got = _runtime.vecmath(name, x).astype(np.float64)
    finite = np.isfinite(want) & (np.abs(want) <= np.finfo(np.float32).max)
    err = np.abs(got[finite] - want[finite]) / _ulp32(want[finite])
    assert err.max() <= 1.0, (name, x[finite][err.argmax()], err.max())
    # the specials are those of C99 Annex F: inf, -inf, NaN exactly where libm has them
    spec = ~finite
    with np.errstate(over="ignore"):
        w32 = want[spec].astype(np.float32)       # correctly rounded: inf beyond the range
    assert np.array_equal(got[spec].astype(np.float32), w32, equal_nan=True)


@pytest.mark.parametrize("name,f", [("exp", mpmath.exp), ("log", mpmath.log),
                                    ("log1p", mpmath.log1p)])
def test_float64_maths_within_one_ulp(isa, name, f):
    rng = np.random.default_rng(11)
    if name == "exp":
        x = np.concatenate([rng.uniform(-745, 709.7, 3000), rng.uniform(-1, 1, 1000),
                            rng.uniform(-1e-8, 1e-8, 300)])
    else:
        b = rng.integers(0, 0x7FF0000000000000, 3000, dtype=np.uint64).view(np.float64)
        x = np.concatenate([b, rng.uniform(0, 2, 1000), 1 + rng.uniform(-1e-6, 1e-6, 300)])
        if name == "log1p":
            x = np.concatenate([x, rng.uniform(-1, 0, 500), rng.uniform(-1e-9, 1e-9, 200)])
    got = _runtime.vecmath(name, x)
    mpmath.mp.prec = 113
    worst = 0.0
    for xi, yi in zip(x.tolist(), got.tolist()):
        r = f(mpmath.mpf(xi))
        rf = float(r)
        if rf == 0 or not math.isfinite(rf):
            assert yi == rf
            continue
        u = math.ulp(rf) if abs(rf) >= 2.2250738585072014e-308 else 2.0 ** -1074
        worst = max(worst, float(abs(mpmath.mpf(yi) - r) / u))
    assert worst <= 1.0, (name, worst)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maths_specials(dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1.0, -2.0], dtype)
    want = {"exp": [1, 1, np.inf, 0, np.nan, None, None, None],
            "log": [-np.inf, -np.inf, np.inf, np.nan, np.nan, np.nan, 0, np.nan],
            "log1p": [0, -0.0, np.inf, np.nan, np.nan, -np.inf, None, np.nan]}
    for name, w in want.items():
        got = _runtime.vecmath(name, x)
        for xi, gi, wi in zip(x, got, w):
            if wi is not None:
                assert (np.isnan(gi) and np.isnan(wi)) or (gi == wi and np.signbit(gi)
                                                           == np.signbit(wi)), (name, xi, gi)


# ------------------------------------------------------------------ the same bytes
def _on_each_isa(args):
    """{instruction set: the standard output of `python args...` run with FASTENT_SIMD set
    to it}, each in its own process."""
    outs = {}
    for name in _isas():
        env = dict(os.environ, FASTENT_SIMD=name)
        outs[name] = subprocess.run([sys.executable, *args], env=env, capture_output=True,
                                    text=True, timeout=300, check=True).stdout
    return outs


def test_every_instruction_set_gives_the_same_bytes():
    """Each FASTENT_SIMD path the CPU runs, in its own process: the fingerprint of every
    function (loss "none"/"sum"/"mean" and gradient, float32/float64, edge inputs)."""
    prints = {name: json.loads(out)
              for name, out in _on_each_isa([os.path.join(HERE, "fingerprint.py")]).items()}
    first = prints[_isas()[0]]
    assert len(first) > 200
    for name, fp in prints.items():
        assert fp == first, (name, [k for k in first if fp[k] != first[k]][:5])


def test_kernels_leave_the_x87_unit_usable():
    """No kernel leaves the x87 unit in MMX state (setup.py: -mno-mmx; GCC once spilled to
    %mm registers in a baseline kernel, after which every long double operation of the
    process gave NaN and NumPy printed 1.0 as 1e+00): after every function of the
    fingerprint, on each instruction set, in its own process, long double arithmetic works."""
    code = ("import runpy, sys, numpy as np\n"
            "n = np.finfo(np.longdouble).nmant\n"
            "cases = runpy.run_path(sys.argv[1])['_cases']\n"
            "with np.errstate(all='ignore'):\n"
            "    for _, run in cases(): run()\n"
            "big = np.longdouble(2) ** (n - 1)\n"
            "print(big + 1 > big, float(np.longdouble(1) / 3 * 3), repr(np.float64(1.0)))\n")
    for name, out in _on_each_isa(["-c", code, os.path.join(HERE, "fingerprint.py")]).items():
        assert out.split() == ["True", "1.0", "np.float64(1.0)"], (name, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [8, 9, 13, 17, 100, 103])
def test_row_maxima_in_the_last_values_give_the_same_bytes_on_every_path(dtype, C):
    """The row maximum and minimum (rowmax's keys) are taken a vector at a time on AVX2,
    the last vector overlapping the one before (fe_terms_impl.h: keys_wide): a maximum,
    a minimum, an infinity or a NaN in each of the last 9 places, or in the overlap, gives
    the bytes of the scalar loop of the baseline path."""
    rng = np.random.default_rng(C)
    specials = [30.0, -30.0, np.inf, -np.inf, np.nan, -0.0, 1e4, -1e4]
    rows = []
    for pos in range(max(0, C - 9), C):
        for v in specials:
            row = rng.normal(scale=2, size=C)
            row[pos] = v
            rows.append(row)
    x = np.array(rows, dtype=dtype)
    t = np.roll(x, 1, axis=0)[:, ::-1].copy()           # the teacher: other rows, reversed
    y = rng.integers(0, C, len(x))

    def results():
        with np.errstate(all="ignore"):
            out = [*fe.softmax_cross_entropy(y, x, reduction="none", return_grad=True),
                   *fe.kl_divergence_with_logits(t, x, temperature=2.0, reduction="none",
                                                 return_grad=True),
                   *fe.kl_divergence_with_logits(x, t, reduction="none", return_grad=True)]
        return [a.tobytes() for a in out]

    prints = {}
    try:
        for name in _isas():
            _config._set_isa(name)
            prints[name] = results()
    finally:
        _config._set_isa(None)
    for name, got in prints.items():
        assert got == prints["baseline"], name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_softmax_rows_fetched_in_segments_keep_the_bytes(dtype):
    """Rows over 8 KiB have the next row fetched segment by segment as this row's exps and
    gradient are made (fe_softmax_impl.h: FE_SOFTMAX_SPREAD): on both sides of that
    length, a segment cut short at the row's end, labels (one ignored) and probabilities,
    the values match the oracle, a row alone gives the batch's bytes and every
    instruction set the baseline's."""
    rng = np.random.default_rng(7)
    per_kib = 8192 // np.dtype(dtype).itemsize
    for C in (per_kib, per_kib + 1, per_kib + 552):
        x = (rng.normal(size=(5, C)) * 3).astype(dtype)
        y = rng.integers(0, C, 5)
        y[2] = -100
        p = rng.dirichlet(np.ones(C), 5).astype(dtype)

        def results():
            return [fe.softmax_cross_entropy(y, x, reduction="none", return_grad=True,
                                             ignore_index=-100, label_smoothing=0.1),
                    fe.softmax_cross_entropy(p, x, reduction="none", return_grad=True)]
        here = results()
        for (loss, grad), target, kw in zip(here, (y, p), (
                dict(ignore_index=-100, label_smoothing=0.1), {})):
            x64 = x.astype(np.float64)
            t64 = target if target.dtype.kind == "i" else target.astype(np.float64)
            np.testing.assert_allclose(
                loss, reference.softmax_cross_entropy(t64, x64, reduction="none", **kw),
                rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
            expected = reference.softmax_cross_entropy_grad(t64, x64, reduction="none", **kw)
            np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6 * np.abs(
                expected).max() if dtype == np.float32 else 1e-15)
            for i in (0, 4):
                l1, g1 = fe.softmax_cross_entropy(target[i:i + 1], x[i:i + 1],
                                                  reduction="none", return_grad=True, **kw)
                assert l1.tobytes() == loss[i:i + 1].tobytes()
                assert g1.tobytes() == grad[i:i + 1].tobytes()
        try:
            for name in _isas():
                _config._set_isa(name)
                got = results()
                assert all(a.tobytes() == b.tobytes() for r, h in zip(got, here)
                           for a, b in zip(r, h)), (name, C)
        finally:
            _config._set_isa(None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [2, 10, 16, 17, 128, 129, 1000])
def test_softmax_row_alone_gives_the_batch_bytes(isa, dtype, C):
    rng = np.random.default_rng(C)
    x = rng.normal(scale=4, size=(37, C)).astype(dtype)
    y = rng.integers(0, C, 37)
    t = rng.random((37, C)).astype(dtype)
    for target in (y, t):
        loss, grad = fe.softmax_cross_entropy(target, x, reduction="none", return_grad=True,
                                              label_smoothing=0.05)     # "none": unscaled
        for r in (0, 5, 36):
            lr, gr = fe.softmax_cross_entropy(target[r:r + 1], x[r:r + 1], reduction="none",
                                              return_grad=True, label_smoothing=0.05)
            assert lr.tobytes() == loss[r:r + 1].tobytes()
            assert gr.tobytes() == grad[r:r + 1].tobytes()
        # ("mean" divides the gradient by the batch's denominator: compare "sum" gradients)
        g_sum = fe.softmax_cross_entropy_grad(target, x, reduction="sum")
        for r in (0, 36):
            g1 = fe.softmax_cross_entropy_grad(target[r:r + 1], x[r:r + 1], reduction="sum")
            assert g1.tobytes() == g_sum[r:r + 1].tobytes()
        # strided and transposed layouts of the same rows
        xt = np.asfortranarray(x)
        assert fe.softmax_cross_entropy(target if target.ndim == 1 else np.asfortranarray(target),
                                        xt, reduction="none", label_smoothing=0.05
                                        ).tobytes() == loss.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", ["logits", "prob", "kl", "xent", "entropy"])
def test_element_and_slice_bytes_do_not_depend_on_position(isa, dtype, fn):
    rng = np.random.default_rng(3)
    n = 4099
    if fn in ("logits", "prob"):
        x = (rng.normal(scale=8, size=n) if fn == "logits" else rng.random(n)).astype(dtype)
        t = rng.random(n).astype(dtype)
        f = (fe.binary_cross_entropy_with_logits if fn == "logits"
             else fe.binary_cross_entropy)
        full = f(t, x, reduction="none")
        grad = f(t, x, reduction="sum", return_grad=True)[1]
        for lo, hi in ((0, 1), (1, 2), (13, 14), (5, 4099), (2047, 2050)):
            assert f(t[lo:hi], x[lo:hi], reduction="none").tobytes() == full[lo:hi].tobytes()
            assert (f(t[lo:hi], x[lo:hi], reduction="sum", return_grad=True)[1].tobytes()
                    == grad[lo:hi].tobytes())
        # a weight broadcast from (C,) gives the bytes of the same weight materialised
        x2, t2 = x[:4096].reshape(1024, 4), t[:4096].reshape(1024, 4)
        w = np.array([0.5, 1.0, 2.0, 3.0], dtype)
        assert (f(t2, x2, weight=w, reduction="none").tobytes()
                == f(t2, x2, weight=np.ascontiguousarray(np.broadcast_to(w, x2.shape)),
                     reduction="none").tobytes())
    else:
        q = rng.random((301, 33)).astype(dtype)
        p = rng.random((301, 33)).astype(dtype)
        f = {"kl": fe.kl_divergence, "xent": fe.cross_entropy,
             "entropy": lambda p_, q_, **kw: fe.entropy(q_, **kw)}[fn]
        full = f(p, q, reduction="none")
        for lo, hi in ((0, 1), (100, 101), (7, 301)):
            assert f(p[lo:hi], q[lo:hi], reduction="none").tobytes() == full[lo:hi].tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("logits", [False, True])
def test_hard_labels_give_the_bytes_of_the_general_form(isa, dtype, logits):
    """Segments whose targets are all 0 or 1 take a shorter form of the same terms (one log,
    a float softplus): an element gives the same bytes whether its segment has a soft label
    or not, at ordinary values and at the edges."""
    rng = np.random.default_rng(11)
    f = fe.binary_cross_entropy_with_logits if logits else fe.binary_cross_entropy
    f32 = np.finfo(dtype)
    edges = ([0.0, -0.0, 1e-30, -1e-30, 1e4, -1e4, 88.0, -104.0, 709.0, -745.0, np.inf,
              -np.inf, np.nan] if logits else
             [0.0, 1.0, f32.smallest_subnormal, f32.tiny, f32.eps, 1 - f32.epsneg, 0.5, 1e-30,
              np.nan])
    x = np.concatenate([rng.normal(scale=6, size=3000) if logits else rng.random(3000),
                        np.repeat(edges, 2)]).astype(dtype)
    t = (rng.random(x.size) < 0.5).astype(dtype)
    t[-len(edges) * 2::2] = 0
    t[-len(edges) * 2 + 1::2] = 1
    for eps in (["auto", 0.0] if not logits else [None]):
        kw = {} if logits else {"eps": eps}
        hard = f(t, x, reduction="none", **kw)
        soft_t = t.copy()
        soft_t[::500] = 0.25                     # a soft label in every segment: the general form
        keep = np.ones(x.size, bool)
        keep[::500] = False
        mixed = f(soft_t, x, reduction="none", **kw)
        assert hard[keep].tobytes() == mixed[keep].tobytes()
        g_hard = f(t, x, reduction="sum", return_grad=True, **kw)[1]
        g_mixed = f(soft_t, x, reduction="sum", return_grad=True, **kw)[1]
        assert g_hard[keep].tobytes() == g_mixed[keep].tobytes()
        ref = (reference.binary_cross_entropy_with_logits if logits
               else reference.binary_cross_entropy)
        with np.errstate(invalid="ignore"):
            want = ref(t, x, reduction="none", **kw)
        ok = np.isfinite(want)
        assert np.array_equal(np.isnan(hard), np.isnan(want))
        assert np.allclose(hard[ok], want[ok], rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", ["auto", 0.0])
def test_kl_of_ordinary_rows_gives_the_bytes_of_the_general_form(isa, dtype, eps):
    """Blocks whose p and q are all ordinary (no zero q, nothing below eps or far from 1) skip
    the selects of the special values: a row gives the same bytes in such a block as in a
    block with a special value elsewhere, and the log ratio stays accurate near p = q."""
    rng = np.random.default_rng(12)
    C = 50
    p = rng.random((200, C)).astype(dtype)
    p[rng.random(p.shape) < 0.1] = 0                      # zeros in p are ordinary
    q = (p * (1 + rng.normal(scale=1e-4, size=p.shape))).astype(dtype)   # p close to q
    q[p == 0] = rng.random(int((p == 0).sum())).astype(dtype)
    plain = fe.kl_divergence(p, q, eps=eps, reduction="none")
    g_plain = fe.kl_divergence(p, q, eps=eps, reduction="sum", return_grad=True)[1]
    p2, q2 = p.copy(), q.copy()
    odd = np.arange(0, 200, 7)                           # a special value in every block
    q2[odd, 0] = 0 if eps == 0.0 else np.finfo(dtype).tiny / 4
    p2[odd, 1] = 1e-30
    general = fe.kl_divergence(p2, q2, eps=eps, reduction="none")
    g_general = fe.kl_divergence(p2, q2, eps=eps, reduction="sum", return_grad=True)[1]
    rows = np.setdiff1d(np.arange(200), odd)
    assert plain[rows].tobytes() == general[rows].tobytes()
    assert g_plain[rows].tobytes() == g_general[rows].tobytes()
    # accuracy against mpmath, term by term: each within a few ulp of itself (no cancellation
    # in the log ratio near p = q), so a row within a few ulp of the sum of |terms|
    for r in range(0, 200, 9):
        terms = [_kl_exact(float(a), float(b)) if a > 0 else 0.0
                 for a, b in zip(p[r].astype(np.float64), q[r].astype(np.float64))]
        scale = math.fsum(abs(x) for x in terms)
        assert abs(float(plain[r]) - math.fsum(terms)) <= 4 * np.finfo(dtype).eps * scale


# ------------------------------------------------------------------------ exact sums
def _all_calls(dtype, rng, n_rows=2003):
    x = rng.normal(scale=5, size=(n_rows, 7)).astype(dtype)
    t = (rng.random((n_rows, 7)) > 0.5).astype(dtype)
    p = rng.random((n_rows, 7)).astype(dtype)
    lab = rng.integers(0, 7, n_rows)
    w = rng.random(n_rows)
    return {
        "bce": (fe.binary_cross_entropy, t, p, {}),
        "bce_logits": (fe.binary_cross_entropy_with_logits, t, x, {}),
        "softmax": (fe.softmax_cross_entropy, lab, x, {"weight": w}),
        "softmax_prob": (fe.softmax_cross_entropy, p, x, {}),
        "cross_entropy": (fe.cross_entropy, p, p[::-1].copy(), {}),
        "kl_divergence": (fe.kl_divergence, p, p[::-1].copy(), {"base": 2}),
        "entropy": (lambda a, b, **kw: fe.entropy(b, **kw), None, p, {}),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_is_the_exactly_rounded_sum_of_none(dtype):
    rng = np.random.default_rng(5)
    for name, (f, a, b, kw) in _all_calls(dtype, rng).items():
        none = f(a, b, reduction="none", **kw)
        s = f(a, b, reduction="sum", **kw)
        assert s == math.fsum(none.astype(np.float64).ravel()), name
        assert type(s) is np.float64


def test_sum_of_200003_float32_elements_is_exact():
    rng = np.random.default_rng(9)
    x = rng.normal(scale=3, size=200003).astype(np.float32)
    t = rng.random(200003).astype(np.float32)
    for nt in (1, 2):
        none = fe.binary_cross_entropy_with_logits(t, x, reduction="none", n_threads=nt)
        s = fe.binary_cross_entropy_with_logits(t, x, reduction="sum", n_threads=nt)
        m = fe.binary_cross_entropy_with_logits(t, x, reduction="mean", n_threads=nt)
        assert s == math.fsum(none.astype(np.float64))
        assert m == s / 200003


@pytest.mark.parametrize("values", [
    [1e300, 1e-300, -1e300],                      # exact total far below the terms
    [1e-300, 1e300, -1e300, 3.0],                 # huge cancellation
    [0.1] * 10 + [-1.0],
    [2.0 ** -1074] * 5 + [1.0, -1.0],             # subnormals survive
])
def test_exact_sum_state(values):
    from fastent._exact import ExactSum
    s = ExactSum.of(_runtime.exact_sum(np.array(values), np.float64))
    assert s.value() == math.fsum(values)
    # split anywhere, merged in any order: the same exact state rounds to the same bits
    a = ExactSum.of(_runtime.exact_sum(np.array(values[:2]), np.float64))
    b = ExactSum.of(_runtime.exact_sum(np.array(values[2:]), np.float64))
    assert b.add(a).value() == math.fsum(values)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [4, 20, 60, 120, 250])
@pytest.mark.parametrize("n", [1, 7, 4095, 4096, 4097, 10000])
def test_exact_sum_of_blocks_of_every_spread(dtype, spread, n):
    """Blocks whose values span up to 2^spread (two extraction levels in one pass cover a
    float within 2^57 of the block's largest value, a double within 2^28; beyond that the
    further levels), of mixed signs, equal the exactly rounded sum."""
    from fastent._exact import ExactSum
    rng = np.random.default_rng(spread * 7919 + n)
    top = 60 if dtype == np.float32 else 500
    e = rng.integers(top - min(spread, 2 * top), top, size=n)
    v = (rng.choice([-1.0, 1.0], size=n) * rng.random(n) * np.ldexp(1.0, e)).astype(dtype)
    want = math.fsum(v.astype(np.float64))
    assert ExactSum.of(_runtime.exact_sum(v, dtype)).value() == want
    # one inf, then one NaN, in the middle of a block: IEEE semantics, the rest exact
    w = v.copy()
    w[n // 2] = np.inf
    assert ExactSum.of(_runtime.exact_sum(w, dtype)).value() == np.inf
    w[n // 3] = np.nan
    assert np.isnan(ExactSum.of(_runtime.exact_sum(w, dtype)).value())


def test_exact_sum_of_blocks_with_huge_values():
    """Values at or above 2^1000 (added one by one) next to ordinary and tiny ones."""
    from fastent._exact import ExactSum
    rng = np.random.default_rng(3)
    v = rng.normal(size=5000)
    v[[5, 4100]] = [2.0 ** 1020, -(2.0 ** 1020)]
    v[7] = 2.0 ** -1070
    assert ExactSum.of(_runtime.exact_sum(v, np.float64)).value() == math.fsum(v)


def _exactly_rounded(values):
    """The correctly rounded sum, from exact rationals (+-inf beyond the range)."""
    from fractions import Fraction
    total = sum(map(Fraction, map(float, values)), Fraction(0))
    try:
        return float(total)
    except OverflowError:
        return math.inf if total > 0 else -math.inf


def test_exact_sum_beyond_the_float64_range_is_inf():
    """A sum whose exact total is beyond the float64 range rounds to +-inf (where
    math.fsum raises OverflowError)."""
    from fastent._exact import ExactSum
    for v, want in (([1e308, 1e308], np.inf), ([-1e308, -1e308, 1e300], -np.inf),
                    ([1.7976931348623157e308, 2.0 ** 970], np.inf)):   # the tie rounds up
        assert _exactly_rounded(v) == want
        assert ExactSum.of(_runtime.exact_sum(np.array(v), np.float64)).value() == want


@pytest.mark.parametrize("values", [
    [1e308, 1e308, -0.5e308],                       # 2e308 on the way, 1.5e308 at the end
    [-1e308, -1e308, 0.5e308, 1e-300],
    [1.7e308] * 7 + [-1.7e308] * 6 + [1e292],       # far out (7 x 1.7e308) and back
    [1.7976931348623157e308, 1.7976931348623157e308, -1.7976931348623157e308, 2.0 ** 969],
])
def test_exact_sums_that_leave_the_float64_range_and_come_back(values):
    """Partial totals beyond the float64 range are carried, not lost: the kernel's sum, the
    Python one, in every order and any split merged, are the exactly rounded total."""
    from itertools import islice, permutations
    from fastent._exact import ExactSum
    want = _exactly_rounded(values)
    assert np.isfinite(want)
    rng = np.random.default_rng(len(values))
    orders = list(islice(permutations(range(len(values))), 24)) + [
        rng.permutation(len(values)) for _ in range(50)]
    for order in orders:
        v = np.array(values)[list(order)]
        assert ExactSum.of(_runtime.exact_sum(v, np.float64)).value() == want
        py = ExactSum()
        for x in v:
            py.add(ExactSum.of_value(x))
        assert py.value() == want
        a = ExactSum.of(_runtime.exact_sum(v[:2], np.float64))
        b = ExactSum.of(_runtime.exact_sum(v[2:], np.float64))
        assert b.add(a).value() == want
        # the carry survives a checkpoint as plain numbers
        assert ExactSum(*py.state()).value() == want


def test_running_loss_and_sum_through_an_overflowing_total():
    """#45: kl_divergence's terms 1e308, 1e308, -5e307 (q > p: a negative term): "sum" and a
    RunningLoss total, in every order of its updates, are 1.5e308, not inf."""
    from itertools import permutations
    p = np.full((3, 1), 1e308)
    q = np.array([[1e308 / math.e], [1e308 / math.e], [1e308 * math.exp(0.5)]])
    terms = fe.kl_divergence(p, q, reduction="none")
    want = _exactly_rounded(terms)
    assert want == pytest.approx(1.5e308, rel=1e-15)
    assert fe.kl_divergence(p, q, reduction="sum") == want
    assert fe.kl_divergence(p, q, reduction="mean") == want / 3    # the rounded sum / 3
    for order in permutations(range(3)):
        acc = fe.RunningLoss("kl_divergence")
        for i in order:
            acc.update(p[i:i + 1], q[i:i + 1])
        assert acc.total == want
        back = fe.RunningLoss.from_state_dict(acc.state_dict())
        assert back.total == want


def test_running_loss_reads_a_version_1_state_with_an_overflowed_sum():
    """Version 1 marked an overflowed exact sum by +-1 in its last number: read as +-inf."""
    acc = fe.RunningLoss("entropy")
    acc.update(np.array([[0.5, 0.5]]))
    state = acc.state_dict()
    state["version"] = 1
    state["stats"]["total"][4] = 1
    assert fe.RunningLoss.from_state_dict(state).total == np.inf


def test_running_loss_over_random_splits_equals_the_one_shot_call():
    rng = np.random.default_rng(13)
    for dtype in (np.float32, np.float64):
        for name, (f, a, b, kw) in _all_calls(dtype, rng, n_rows=3001).items():
            whole = f(a, b, reduction="mean", **kw)
            cuts = np.sort(rng.choice(np.arange(1, 3001), size=9, replace=False))
            parts = []
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, 3001]):
                acc = fe.RunningLoss(name.replace("_prob", "").replace("bce_logits",
                                     "binary_cross_entropy_with_logits").replace(
                    "bce", "binary_cross_entropy").replace("softmax", "softmax_cross_entropy"),
                    **{k: v for k, v in kw.items() if k != "weight"})
                wa = {"weight": kw["weight"][lo:hi]} if "weight" in kw else {}
                acc.update(None if a is None else a[lo:hi], b[lo:hi], **wa)
                parts.append(acc)
            order = rng.permutation(len(parts))
            total = parts[order[0]]
            for i in order[1:]:
                total.merge(parts[i])
            assert total.result() == whole, (name, dtype, total.result(), whole)


def test_running_loss_batches_of_1000_rows():
    rng = np.random.default_rng(17)
    x = rng.normal(size=(20000, 50)).astype(np.float32)
    y = rng.integers(0, 50, 20000)
    acc = fe.RunningLoss("softmax_cross_entropy")
    for lo in range(0, 20000, 1000):
        acc.update(y[lo:lo + 1000], x[lo:lo + 1000])
    assert acc.result() == fe.softmax_cross_entropy(y, x)
    assert acc.total == fe.softmax_cross_entropy(y, x, reduction="sum")


@pytest.mark.parametrize("chunks", [333, 1000, (500, 3)])
def test_dask_any_chunking_gives_the_numpy_bytes(chunks):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(19)
    x = rng.normal(size=(2000, 6))
    y = rng.integers(0, 6, 2000)
    t = rng.random((2000, 6))
    w = rng.random(2000)
    dx = da.from_array(x, chunks=chunks)
    dy = da.from_array(y, chunks=chunks if isinstance(chunks, int) else chunks[0])
    dt = da.from_array(t, chunks=chunks)
    for red in ("sum", "mean"):
        assert (fe.softmax_cross_entropy(dy, dx, reduction=red, weight=w).compute()
                == fe.softmax_cross_entropy(y, x, reduction=red, weight=w))
        assert (fe.binary_cross_entropy_with_logits(dt, dx, reduction=red).compute()
                == fe.binary_cross_entropy_with_logits(t, x, reduction=red))
        assert (fe.kl_divergence(dt, dt[::-1], reduction=red).compute()
                == fe.kl_divergence(t, t[::-1], reduction=red))
    g = fe.binary_cross_entropy_with_logits_grad(dt, dx, weight=dt).compute()
    assert g.tobytes() == fe.binary_cross_entropy_with_logits_grad(t, x, weight=t).tobytes()


# -------------------------------------------------------------- IEEE specials in sums
def test_an_infinite_term_gives_an_infinite_sum():
    p = np.array([0.0, 0.5, 0.5])
    t = np.array([1.0, 1.0, 0.0])
    for red in ("sum", "mean"):
        assert fe.binary_cross_entropy(t, p, eps=0, reduction=red) == np.inf
        assert fe.softmax_cross_entropy([0, 1], [[-np.inf, 0.0], [0.0, 1.0]],
                                        reduction=red) == np.inf
        assert fe.kl_divergence([[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]], eps=0,
                                reduction=red) == np.inf
    acc = fe.RunningLoss("binary_cross_entropy", eps=0)
    acc.update(t[:1], p[:1]).update(t[1:], p[1:])
    assert acc.result() == np.inf
    da = pytest.importorskip("dask.array")
    assert fe.binary_cross_entropy(da.from_array(t, chunks=1), da.from_array(p, chunks=1),
                                   eps=0).compute() == np.inf


def test_nan_rows_give_nan_on_every_row_length():
    for C in (10, 200):
        x = np.zeros((3, C))
        x[1, 3] = np.nan
        t = np.zeros((3, C))
        t[0, 0] = t[2, 0] = 1.0                # row 1: an all-zero probability target
        loss = fe.softmax_cross_entropy(t, x, reduction="none")
        assert np.isnan(loss[1]) and np.isfinite(loss[[0, 2]]).all(), C
        assert np.isnan(fe.softmax_cross_entropy(t, x, reduction="sum"))


def _nan_edges(dtype):
    """Rows whose results are NaN made by the arithmetic (inf - inf, 0 * inf: x86's default
    NaN is negative, aarch64's positive) or carried from an input NaN of either sign, with
    and without a payload."""
    bits = np.uint32 if dtype == np.float32 else np.uint64
    shift = 0 if dtype == np.float32 else 29
    pay = (np.array([0x7FC00123, 0xFFC00456], np.uint64) << shift).astype(bits).view(dtype)
    v = np.array([np.inf, -np.inf, np.nan, -np.nan, pay[0], pay[1], 1.0, -1.0, 0.0, 1e4],
                 dtype)
    rows = np.array([[v[i % 10], v[(3 * i + 1) % 10], v[(7 * i + 2) % 10]]
                     for i in range(40)], dtype)
    prob = np.where(np.isnan(rows), rows, np.clip(np.abs(rows), 0, 1)).astype(dtype)
    return rows, prob


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_nan_result_is_the_one_nan(isa, dtype):
    """A NaN that a function returns -- loss of any reduction, gradient, statistic, running
    mean -- has the bytes of np.nan, whatever NaN the arithmetic made or the input carried:
    the same bytes on every machine (tests/crossarch/kernels.c runs the kernels on aarch64)."""
    rows, prob = _nan_edges(dtype)
    calls = {}
    for C in (2, 3):
        x, p = np.ascontiguousarray(rows[:, :C]), np.ascontiguousarray(prob[:, :C])
        q = np.ascontiguousarray(p[::-1])
        lab = np.arange(len(x)) % C
        for red in ("none", "sum", "mean"):
            kw = dict(reduction=red, return_grad=True)
            calls[f"softmax labels C={C} {red}"] = fe.softmax_cross_entropy(lab, x, **kw)
            calls[f"softmax probs C={C} {red}"] = fe.softmax_cross_entropy(
                np.full_like(x, 1 / C), x, **kw)
            calls[f"kl logits C={C} {red}"] = fe.kl_divergence_with_logits(x, x[::-1], **kw)
            calls[f"js logits C={C} {red}"] = fe.js_divergence_with_logits(x, x[::-1], **kw)
            for f in (fe.cross_entropy, fe.kl_divergence, fe.js_divergence):
                calls[f"{f.__name__} C={C} {red}"] = f(p, q, **kw)
            calls[f"entropy C={C} {red}"] = fe.entropy(q, **kw)
        calls[f"stats C={C}"] = tuple(fe.softmax_stats(x, lab))[:4]
        acc = fe.RunningLoss("softmax_cross_entropy").update(lab[:7], x[:7])
        calls[f"running C={C}"] = (np.asarray(acc.result()),)
    flat_x, flat_p = rows.ravel(), prob.ravel()
    t = np.linspace(0, 1, flat_x.size).astype(dtype)
    for red in ("none", "sum", "mean"):
        kw = dict(reduction=red, return_grad=True)
        calls[f"bce logits {red}"] = fe.binary_cross_entropy_with_logits(t, flat_x, **kw)
        calls[f"bce {red}"] = fe.binary_cross_entropy(t, flat_p, **kw)
        calls[f"information {red}"] = fe.information(flat_p, **kw)
        calls[f"binary entropy {red}"] = fe.binary_entropy(flat_p, **kw)
    for name, results in calls.items():
        nans = 0
        for a in results:
            a = np.asarray(a)
            if a.dtype.kind != "f":
                continue
            one = np.array(np.nan, a.dtype).tobytes()
            bad = [v.tobytes().hex() for v in a.ravel() if np.isnan(v) and v.tobytes() != one]
            assert not bad, (name, bad[:3])
            nans += int(np.isnan(a).sum())
        assert nans > 0, name                   # every case does return NaNs


# ------------------------------------------------------------------ clipping, rel_entr
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [1e-12, 1e-20, 1e-50, 1e-320])
def test_clipping_always_clips(dtype, eps):
    p = np.array([0.0, 1.0, 0.0, 1.0], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0], dtype)
    loss, grad = fe.binary_cross_entropy(t, p, eps=eps, reduction="none", return_grad=True)
    assert np.isfinite(loss).all(), loss
    # the gradient (about 1/eps) is finite wherever 1/eps is a number of the dtype
    lo = max(eps, float(np.finfo(dtype).smallest_subnormal))
    representable = 1 / lo < float(np.finfo(dtype).max)
    assert np.isfinite(grad).all() == representable, grad
    q = np.array([[0.0, 1.0]], dtype)
    for f in (fe.cross_entropy, fe.kl_divergence):
        v, g = f([[1.0, 0.0]], q, eps=eps, return_grad=True)
        assert np.isfinite(v), f
        assert np.isfinite(g).all() == representable
    h, g = fe.entropy(q, eps=eps, return_grad=True)
    assert np.isfinite(h) and np.isfinite(g).all()


def _kl_exact(p, q):
    mpmath.mp.prec = 200
    return float(mpmath.mpf(p) * mpmath.log(mpmath.mpf(p) / mpmath.mpf(q)))


@pytest.mark.parametrize("p,q", [
    (1.0, 1e-310),                 # the quotient overflows in p / q
    (1e-300, 1e-310),
    (1e300, 1e-300),               # SciPy gh-20710 kind: huge ratio
    (1e-200, 1e100),               # and a tiny one: p log(p / q) ~ -9.21e-198
    (0.3, 0.3 + 1e-15),            # nearly equal: no cancellation
    (0.7, 0.7 * (1 - 2 ** -40)),
    (5e-324, 1.0),
])
def test_kl_eps0_has_rel_entr_accuracy(p, q):
    want = _kl_exact(p, q)
    for f in (fe.kl_divergence, reference.kl_divergence):
        got = float(f([[p]], [[q]], eps=0, reduction="sum"))
        assert got == pytest.approx(want, rel=4e-16, abs=0), (f, got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_terms_within_2_ulp_near_equal_straddling_and_far(dtype):
    """p log(p / q) term by term against mpmath: p and q nearly equal (relative differences
    1e-15 .. 1), on both sides of a power of two, far apart, and subnormal (the log ratio is
    at most 1.55 ulp off over 180 000 such pairs; the product adds its rounding)."""
    rng = np.random.default_rng(31)
    n = 3000
    p = rng.random(n)
    q = np.abs(p * (1 + rng.normal(scale=10.0 ** rng.uniform(-15, 0, n))))
    e = rng.integers(-30, 30, n).astype(float)
    a = 2.0 ** e * (1 + np.abs(rng.normal(scale=1e-6, size=n)))
    b = 2.0 ** e * (1 - np.abs(rng.normal(scale=1e-6, size=n)))
    fp, fq = 10.0 ** rng.uniform(-30, 0, n), 10.0 ** rng.uniform(-30, 0, n)
    tiny = float(np.finfo(dtype).smallest_subnormal)
    sp, sq = tiny * rng.integers(1, 1000, 200), 10.0 ** rng.uniform(-3, 0, 200)
    P = np.concatenate([p, a, b, fp, sp, sq]).astype(dtype)
    Q = np.concatenate([q, b, a, fq, sq, sp]).astype(dtype)
    keep = (P > 0) & (Q > 0)
    P, Q = P[keep], Q[keep]
    got = fe.kl_divergence(P[:, None], Q[:, None], eps=0, reduction="none")
    worst = 0.0
    for pi, qi, gi in zip(P.astype(float), Q.astype(float), got.astype(float)):
        want = _kl_exact(pi, qi)
        if want != 0.0:
            worst = max(worst, abs(gi - want) / float(np.spacing(dtype(abs(want)))))
    assert worst <= 2.0, worst


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_clip_bound_shortcut_keeps_the_bits(dtype):
    """With a clip bound that is a normal number the logs skip their subnormal case; an
    element that no bound clips gives the same bytes with a subnormal bound (the general
    logs), in every family that clips."""
    rng = np.random.default_rng(37)
    tiny_eps = float(np.finfo(dtype).smallest_subnormal) * 4        # a subnormal bound
    p = rng.uniform(1e-3, 0.999, (300, 9)).astype(dtype)
    q = rng.uniform(1e-3, 0.999, (300, 9)).astype(dtype)
    t = (rng.random((300, 9)) < 0.5).astype(dtype)
    calls = [
        lambda e: fe.binary_cross_entropy(t, p, eps=e, reduction="none"),
        lambda e: fe.binary_cross_entropy(t * dtype(0.7), p, eps=e, reduction="none"),
        lambda e: fe.binary_cross_entropy(t, p, eps=e, return_grad=True)[1],
        lambda e: fe.cross_entropy(p, q, eps=e, reduction="none"),
        lambda e: fe.kl_divergence(p, q, eps=e, reduction="none"),
        lambda e: fe.kl_divergence(p, q, eps=e, return_grad=True)[1],
        lambda e: fe.entropy(p, eps=e, reduction="none"),
        lambda e: fe.entropy(p, eps=e, return_grad=True)[1],
    ]
    for k, f in enumerate(calls):
        assert f(1e-6).tobytes() == f(tiny_eps).tobytes() == f(0.0).tobytes(), k


def test_kl_float32_huge_ratio():
    got = fe.kl_divergence(np.array([[1.0]], np.float32), np.array([[1e-40]], np.float32),
                           eps=0, reduction="none")
    assert got[0] == np.float32(_kl_exact(1.0, float(np.float32(1e-40))))


def test_nan_prediction_propagates_where_the_target_is_zero():
    for f in (fe.kl_divergence, fe.cross_entropy, reference.kl_divergence,
              reference.cross_entropy):
        v = f([[0.0, 1.0]], [[np.nan, 1.0]], reduction="none")
        assert np.isnan(v[0]), f


# --------------------------------------------------------- float32 per-element losses
def test_float32_bce_with_logits_within_2_ulp():
    rng = np.random.default_rng(23)
    x = np.concatenate([rng.normal(scale=10, size=200000), rng.uniform(-1e-3, 1e-3, 20000),
                        rng.uniform(-90, 90, 20000)]).astype(np.float32)
    for tval in (0.0, 1.0, 0.3):
        t = np.full_like(x, tval)
        got = fe.binary_cross_entropy_with_logits(t, x, reduction="none").astype(np.float64)
        xd, td = x.astype(np.float64), np.float64(np.float32(tval))
        want = td * np.logaddexp(0, -xd) + (1 - td) * np.logaddexp(0, xd)
        nz = want > 0
        err = np.abs(got[nz] - want[nz]) / _ulp32(want[nz])
        assert err.max() <= 2.0, (tval, x[nz][err.argmax()], err.max())


def test_float32_bce_and_divergences_within_2_ulp():
    rng = np.random.default_rng(29)
    p = rng.random(100000).astype(np.float32)
    for tval in (0.0, 1.0):
        t = np.full_like(p, tval)
        got = fe.binary_cross_entropy(t, p, reduction="none").astype(np.float64)
        pc = np.clip(p, np.finfo(np.float32).eps, 1 - np.finfo(np.float32).eps).astype(
            np.float64)
        want = -np.log(pc) if tval else -np.log1p(-pc)
        nz = want > 0
        assert (np.abs(got[nz] - want[nz]) / _ulp32(want[nz])).max() <= 2.0
    q = rng.random((5000, 1)).astype(np.float32)
    pp = rng.random((5000, 1)).astype(np.float32)
    got = fe.kl_divergence(pp, q, eps=0, reduction="none").astype(np.float64)
    want = pp[:, 0].astype(np.float64) * np.log(pp[:, 0].astype(np.float64)
                                                / q[:, 0].astype(np.float64))
    nz = want != 0
    assert (np.abs(got[nz] - want[nz]) / _ulp32(want[nz])).max() <= 2.0
