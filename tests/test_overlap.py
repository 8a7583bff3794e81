"""`out` / `grad_out` that share memory with an input are written as NumPy's ufuncs write
them: as if the inputs had been copied first, so the result is the bytes of the call with
separate arrays.  `out` and `grad_out` sharing memory with each other is a ValueError."""
import numpy as np
import pytest

import fastent as fe


def _cases(dtype, C):
    rng = np.random.default_rng(C)
    x = rng.normal(scale=3, size=(40, C)).astype(dtype)
    p = rng.random((40, C)).astype(dtype)
    p /= p.sum(axis=1, keepdims=True)
    q = rng.random((40, C)).astype(dtype)
    q /= q.sum(axis=1, keepdims=True)
    t = (rng.random((40, C)) < 0.5).astype(dtype)
    lab = rng.integers(0, C, 40)
    w = rng.random((40, C)).astype(dtype)
    # name: (function, positional inputs, {input name: its position})
    return {
        "bce": (fe.binary_cross_entropy, (t, p), {"target": 0, "pred": 1}),
        "bce_logits": (fe.binary_cross_entropy_with_logits, (t, x), {"target": 0, "pred": 1}),
        "bce_logits_weighted": (lambda a, b, c, **k: fe.binary_cross_entropy_with_logits(
            a, b, weight=c, **k), (t, x, w), {"target": 0, "pred": 1, "weight": 2}),
        "softmax_labels": (fe.softmax_cross_entropy, (lab, x), {"logits": 1}),
        "softmax_probs": (fe.softmax_cross_entropy, (p, x), {"target": 0, "logits": 1}),
        "cross_entropy": (fe.cross_entropy, (p, q), {"p": 0, "q": 1}),
        "kl_divergence": (fe.kl_divergence, (p, q), {"p": 0, "q": 1}),
        "entropy": (fe.entropy, (q,), {"p": 0}),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [10, 300])
def test_grad_out_aliasing_an_input_gives_the_separate_call_bytes(dtype, C):
    for name, (f, args, roles) in _cases(dtype, C).items():
        want_l, want_g = f(*[a.copy() for a in args], return_grad=True)
        for role, k in roles.items():
            fresh = [a.copy() for a in args]
            l, g = f(*fresh, return_grad=True, grad_out=fresh[k])
            assert g is fresh[k], (name, role)
            assert l == want_l, (name, role)
            assert g.tobytes() == want_g.tobytes(), (name, role)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_aliasing_or_partially_overlapping_an_input(dtype):
    rng = np.random.default_rng(4)
    buf = rng.random(2001).astype(dtype)
    t = (rng.random(2000) < 0.5).astype(dtype)
    for f in (fe.binary_cross_entropy, fe.binary_cross_entropy_with_logits):
        want = f(t, buf[:2000].copy(), reduction="none")
        want_l, want_g = f(t, buf[:2000].copy(), return_grad=True)
        for shift in (0, 1):                       # the same array, and shifted by one
            b = buf.copy()
            pred, out = b[:2000], b[shift:shift + 2000]
            got = f(t, pred, reduction="none", out=out)
            assert got is out and got.tobytes() == want.tobytes(), (f, shift)
            b = buf.copy()
            pred, gout = b[:2000], b[shift:shift + 2000]
            l, g = f(t, pred, return_grad=True, grad_out=gout)
            assert g is gout and l == want_l and g.tobytes() == want_g.tobytes(), (f, shift)
        # out overlapping the target
        tt = t.copy()
        got = f(tt, buf[:2000].copy(), reduction="none", out=tt)
        assert got.tobytes() == want.tobytes()


def test_out_and_grad_out_sharing_memory_is_refused():
    x = np.random.default_rng(0).normal(size=(8, 5))
    t = (x > 0).astype(float)
    buf = np.empty_like(x)
    with pytest.raises(ValueError, match="out and grad_out"):
        fe.binary_cross_entropy_with_logits(t, x, reduction="none", return_grad=True,
                                            out=buf, grad_out=buf)
    buf = np.empty(41)
    with pytest.raises(ValueError, match="out and grad_out"):
        fe.binary_cross_entropy_with_logits(t, x, reduction="none", return_grad=True,
                                            out=buf[:40].reshape(8, 5),
                                            grad_out=buf[1:].reshape(8, 5))


def test_an_error_leaves_an_overlapping_grad_out_untouched():
    x = np.array([[0.2, 0.8], [0.5, 0.5]])
    p = np.array([[0.5, 0.5], [-1.0, 2.0]])          # a negative p: ValueError
    before = x.copy()
    with pytest.raises(ValueError):
        fe.kl_divergence(p, x, return_grad=True, grad_out=x)
    assert x.tobytes() == before.tobytes()


def _unaligned(a):
    """A copy of `a` whose elements sit at odd addresses (as a chunk unpickled from a
    buffer can): NumPy's aligned flag False."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    u = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unaligned_inputs_and_outputs_give_the_aligned_bytes(dtype):
    for name, (f, args, roles) in _cases(dtype, 12).items():
        want_l, want_g = f(*args, return_grad=True)
        want_none = f(*args, reduction="none")
        un = [_unaligned(a) for a in args]
        l, g = f(*un, return_grad=True)
        assert l == want_l and g.tobytes() == want_g.tobytes(), name
        gout = _unaligned(np.zeros_like(want_g))
        l, g = f(*args, return_grad=True, grad_out=gout)
        assert g is gout and g.tobytes() == want_g.tobytes(), name
        out = _unaligned(np.zeros_like(want_none))
        assert f(*un, reduction="none", out=out).tobytes() == want_none.tobytes(), name
