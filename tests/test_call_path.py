"""The thin call path (`_binary.fast`, `_rowwise.fast`): the common case reaches the kernels
with O(1) Python work; it returns the bytes of the general path, and every call it does not
take (other layouts, keywords, bad data) goes to the general path, which raises the same
errors as before."""
import functools

import numpy as np
import pytest

import fastent as fe
from fastent import _binary, _rowwise

K = _rowwise.Kind
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]


def _data(dtype, N=300, C=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=3, size=(N, C)).astype(dtype)
    p = rng.random((N, C)).astype(dtype)
    p /= p.sum(axis=1, keepdims=True)
    q = rng.random((N, C)).astype(dtype)
    q /= q.sum(axis=1, keepdims=True)
    q[0, 0] = 0                     # clipped
    t = (rng.random((N, C)) < 0.5).astype(dtype)
    lab = rng.integers(0, C, N)
    return x, p, q, t, lab


def _general(a):
    """The same values in a layout the thin path does not take (Fortran order)."""
    return np.asfortranarray(a) if a.ndim == 2 else a[::-1].copy()[::-1]


def _calls(dtype, **kw):
    x, p, q, t, lab = _data(dtype)
    return {
        "bce": (fe.binary_cross_entropy, (t, p)),
        "bce_int_target": (fe.binary_cross_entropy, (t.astype(np.int8), p)),
        "bce_logits": (fe.binary_cross_entropy_with_logits, (t, x)),
        "softmax_labels": (fe.softmax_cross_entropy, (lab, x)),
        "softmax_probs": (fe.softmax_cross_entropy, (p, x)),
        "cross_entropy": (fe.cross_entropy, (p, q)),
        "kl_divergence": (fe.kl_divergence, (p, q)),
        "entropy": (fe.entropy, (q,)),
        "js_divergence": (fe.js_divergence, (p, q)),
        "js_divergence_beta": (functools.partial(fe.js_divergence, beta=0.3), (p, q)),
        "kl_logits": (fe.kl_divergence_with_logits, (x[::-1].copy(), x)),
        "kl_logits_T": (functools.partial(fe.kl_divergence_with_logits, temperature=2.5),
                        (x[::-1].copy(), x)),
        "js_logits": (fe.js_divergence_with_logits, (x[::-1].copy(), x)),
        "js_logits_T_beta": (functools.partial(fe.js_divergence_with_logits, temperature=0.5,
                                               beta=0.8), (x[::-1].copy(), x)),
    }


def _bytes(r):
    return [np.asarray(a).tobytes() for a in (r if isinstance(r, tuple) else (r,))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_thin_path_gives_the_general_paths_bytes(dtype, reduction):
    for name, (f, args) in _calls(dtype).items():
        fast = f(*args, reduction=reduction, return_grad=True)
        slow = f(*[_general(a) for a in args], reduction=reduction, return_grad=True)
        assert _bytes(fast) == _bytes(slow), name
        # the same with caller-provided outputs
        g = np.empty_like(args[-1])
        o = np.empty(fast[0].shape, dtype) if reduction == "none" else None
        r = f(*args, reduction=reduction, return_grad=True, grad_out=g, out=o)
        assert r[1] is g and (o is None or r[0] is o)
        assert _bytes(r) == _bytes(slow), name


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_thin_path_is_taken_for_the_common_case(dtype):
    x, p, q, t, lab = _data(dtype)
    common = dict(reduction="mean", base="e", zero_division=np.nan, out=None,
                  grad_out=None, n_threads=None, want_loss=True, want_grad=True)
    # every row kind; eps: "auto" where the kind clips, None where it has no eps
    for kind, a, b, eps in [(K.SOFTMAX, lab, x, None), (K.SOFTMAX, p, x, None),
                            (K.KL, p, q, "auto"), (K.CROSS_ENTROPY, p, q, "auto"),
                            (K.ENTROPY, None, q, "auto"), (K.JS, p, q, None),
                            (K.KL_LOGITS, x, x, None), (K.JS_LOGITS, x, x, None)]:
        assert _rowwise.fast(kind, a, b, -1, eps=eps, **common) is not None, kind
        assert _rowwise.fast(kind, a, b, -1, eps="auto" if eps is None else None,
                             **common) is None, kind
    assert _rowwise.fast(K.JS_LOGITS, x, x, -1, eps=None, temperature=3, beta=1,
                         **common) is not None
    for bad in [dict(temperature=0.0), dict(temperature=np.inf), dict(temperature=np.nan),
                dict(temperature="1"), dict(beta=-0.1), dict(beta=1.5), dict(beta=True)]:
        assert _rowwise.fast(K.JS_LOGITS, x, x, -1, eps=None, **bad, **common) is None, bad
    for logits, pred in [(False, p), (True, x)]:
        mode = _binary.MODES["bce_logit" if logits else "bce_prob"]
        assert _binary.fast(mode, 0.0, 0.0, t, pred, "mean", None, "e", "auto", None, None,
                            0.0, np.nan, None, None, None, True, True) is not None


@pytest.mark.parametrize("change", [
    dict(reduction="max"), dict(base=2), dict(eps=1e-3), dict(zero_division=True),
    dict(n_threads=0), dict(n_threads=1.5), dict(axis=0), dict(axis=True),
    dict(weight=np.ones(300)), dict(label_smoothing=0.1), dict(label_smoothing=False),
    dict(class_weight=np.ones(7)), dict(ignore_index=-100),
    dict(out=np.empty(300, np.float32)), dict(grad_out=np.empty((300, 7), np.float64))],
    ids=lambda d: "-".join(f"{k}={type(v).__name__ if isinstance(v, np.ndarray) else v}"
                           for k, v in d.items()))
def test_anything_else_goes_to_the_general_path(change):
    x, p, q, t, lab = _data(np.float32)
    args = dict(axis=-1, reduction="mean", base="e", eps=None, zero_division=np.nan,
                out=None, grad_out=None, n_threads=None, want_loss=True, want_grad=True,
                weight=None, class_weight=None, ignore_index=None, label_smoothing=0.0)
    args.update(change)
    assert _rowwise.fast(K.SOFTMAX, lab, x, *args.values()) is None


@pytest.mark.parametrize("make", [
    lambda x: x.astype(">f4"), lambda x: x[:, :6], lambda x: x.T.copy().T,
    lambda x: np.ascontiguousarray(x.astype(np.float16)), lambda x: np.ma.array(x),
    lambda x: x.tolist(), lambda x: x[None]],
    ids=["byteswapped", "strided", "fortran", "float16", "subclass", "list", "3d"])
def test_other_layouts_go_to_the_general_path(make):
    x, p, q, t, lab = _data(np.float32)
    assert _rowwise.fast(K.ENTROPY, None, make(q), -1, "mean", "e", "auto", np.nan, None,
                         None, None, True, False) is None
    assert _binary.fast(_binary.MODES["bce_logit"], 0.0, 0.0, t, make(x), "mean", None, "e",
                        "auto", None, None, 0.0, np.nan, None, None, None, True, False) is None


def test_overlapping_outputs_go_to_the_general_path():
    x, p, q, t, lab = _data(np.float64)
    assert _rowwise.fast(K.SOFTMAX, lab, x, -1, "mean", "e", None, np.nan, None, x, None,
                         True, True) is None
    assert _rowwise.fast(K.KL, p, q, -1, "none", "e", "auto", np.nan, p[:, 0].copy(), p,
                         None, True, True) is None
    assert _binary.fast(_binary.MODES["bce_logit"], 0.0, 0.0, t, x, "mean", None, "e", "auto",
                        None, None, 0.0, np.nan, None, t, None, True, True) is None
    # and the general path computes them as if the inputs had been copied
    want = fe.softmax_cross_entropy(lab, x.copy(), return_grad=True)
    xg = x.copy()
    got = fe.softmax_cross_entropy(lab, xg, return_grad=True, grad_out=xg)
    assert _bytes(got) == _bytes(want)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_bad_data_in_the_common_case_raises_the_general_paths_error(dtype):
    x, p, q, t, lab = _data(dtype)
    lab[5] = 7
    with pytest.raises(ValueError, match=r"target: class label 7 at position \(5,\) is "
                                         r"outside \[0, 7\)"):
        fe.softmax_cross_entropy(lab, x)
    lab[5] = -1
    with pytest.raises(ValueError, match=r"class label -1 at position \(5,\)"):
        fe.softmax_cross_entropy_grad(lab, x)
    p2 = p.copy()
    p2[3, 2] = 1.5
    with pytest.raises(ValueError, match=r"target: probabilities must lie in \[0, 1\].*"
                                         r"1\.5 at position \(3, 2\)"):
        fe.softmax_cross_entropy(p2, x)
    p2[3, 2] = -0.5
    with pytest.raises(ValueError, match=r"p: probabilities must be non-negative.*\(3, 2\)"):
        fe.kl_divergence(p2, q)
    with pytest.raises(ValueError, match=r"q: probabilities must be non-negative.*\(3, 2\)"):
        fe.cross_entropy(q, p2)
    with pytest.raises(ValueError, match=r"q: probabilities must be non-negative.*\(3, 2\)"):
        fe.js_divergence(q, p2)
    for bad, msg in [(dict(temperature=0), "temperature: must be a finite number > 0"),
                     (dict(beta=2), r"beta: must lie in \[0, 1\]")]:
        with pytest.raises(ValueError, match=msg):
            fe.js_divergence_with_logits(x, x, **bad)
    # eps is "auto" or a number (the documented values) on both paths, never None
    for f in (fe.kl_divergence, fe.cross_entropy):
        for args in [(p, q), (np.asfortranarray(p), np.asfortranarray(q))]:
            with pytest.raises(TypeError, match="eps: must be 'auto' or a number"):
                f(*args, eps=None)
    with pytest.raises(ValueError, match=r"prob: probabilities must lie in \[0, 1\].*"
                                         r"\(3, 2\)"):
        fe.binary_cross_entropy(t, np.where(p2 < 0, 1.5, p2).astype(dtype))
    t2 = t.copy()
    t2[1, 1] = 2
    with pytest.raises(ValueError, match=r"target: targets must lie in \[0, 1\].*\(1, 1\)"):
        fe.binary_cross_entropy_with_logits(t2, x)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("C", [2, 3, 10])
@pytest.mark.parametrize("bad", [-1, -2, "C", 2**40, -(2**62)])
def test_a_label_outside_the_classes_raises_wherever_it_sits(dtype, C, bad):
    """Labels are checked in the kernels' passes (the two-class loop reads the caller's
    labels itself, without a label pass): a label outside [0, C) without ignore_index raises
    with its position -- first row, a later block, last row; loss, gradient, every
    reduction, one or two threads -- and is never a silently ignored row."""
    rng = np.random.default_rng(C)
    x = rng.normal(size=(5000, C)).astype(dtype)
    value = C if bad == "C" else bad
    for pos in (0, 3000, 4999):
        lab = rng.integers(0, C, 5000)
        lab[pos] = value
        msg = rf"target: class label {value} at position \({pos},\) is outside \[0, {C}\)"
        for nt in (1, 2):
            for call in (lambda: fe.softmax_cross_entropy(lab, x, n_threads=nt),
                         lambda: fe.softmax_cross_entropy(lab, x, reduction="none",
                                                          n_threads=nt),
                         lambda: fe.softmax_cross_entropy_grad(lab, x, n_threads=nt)):
                with pytest.raises(ValueError, match=msg):
                    call()


def _rowsum_order(v):
    """Row sums of float64 values in fastent's fixed order (fe_terms_impl.h): value c goes
    to lane c mod 16 in the order of c, then the lanes are added in the tree
    l[j] += l[j + w], w = 8, 4, 2, 1."""
    R, C = v.shape
    lanes = np.zeros((R, 16))
    for c in range(C):
        lanes[:, c % 16] = lanes[:, c % 16] + v[:, c]
    w = 8
    while w >= 1:
        lanes[:, :w] = lanes[:, :w] + lanes[:, w:2 * w]
        w //= 2
    return lanes[:, 0]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_short_and_long_rows_compute_the_same_terms_in_the_same_order(dtype):
    """Rows in lanes (C <= 16) and row loops (C > 16): the loss of every row is
    log1p(S - 1) + (max - x_label) with S the fixed-order sum of fastent's own exp(x - max),
    rebuilt here from fastent's vector maths and the order written out in NumPy."""
    from fastent import _runtime
    rng = np.random.default_rng(11)
    for C in list(range(1, 18)) + [20, 24, 31, 32, 33, 100]:
        x = rng.normal(scale=3, size=(257, C)).astype(dtype)
        lab = rng.integers(0, C, 257)
        m = x.max(axis=1)
        e = _runtime.vecmath("exp", x - m[:, None]).astype(np.float64)
        S = _rowsum_order(0.0 + e)
        log1p = _runtime.vecmath("log1p", S - 1.0)
        want = (log1p + (m.astype(np.float64) - x[np.arange(257), lab])).astype(dtype)
        got = fe.softmax_cross_entropy(lab, x, reduction="none")
        assert got.tobytes() == want.tobytes(), C
