"""bfloat16 (ml_dtypes' NumPy type, torch.bfloat16 tensors) is read in place, block by block,
and computed in float32: every family gives the bytes of its float32 call on the converted
input, on every instruction set."""
import sys
import tracemalloc

import numpy as np
import pytest

import fastent as fe

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)


def _bytes(r):
    parts = r if isinstance(r, tuple) else (r,)
    return [(np.asarray(a).dtype.str, np.asarray(a).shape, np.asarray(a).tobytes())
            for a in parts if a is not None]


def _data(rng, R=97, C=37):
    """bfloat16 logits with the edges: -inf (masked classes), a NaN row, +-1e4, subnormals."""
    x = rng.normal(scale=4, size=(R, C)).astype(np.float32)
    x[3, :5] = -np.inf
    x[5, 7] = np.nan
    x[8, :3] = [1e4, -1e4, 1e-40]
    x = x.astype(BF16)
    lab = rng.integers(0, C, R)
    lab[3] = 6                                         # not a masked class
    lab[11] = -100
    p = rng.dirichlet(np.ones(C), R).astype(np.float32)
    p[2, 4] = 0.0
    return x, lab, p


def _cases(x, lab, p):
    """{name: a call of the prediction X (bfloat16, or its float32 cast)}."""
    t = np.asarray(x, np.float32)[::-1].copy()          # teacher logits in float32
    q = np.abs(np.nan_to_num(x.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0))
    q /= q.sum(1, keepdims=True)
    q[5, 7] = np.nan                                    # a NaN propagates
    q = q.astype(BF16)
    with np.errstate(over="ignore"):
        sig = (1 / (1 + np.exp(-np.nan_to_num(x.astype(np.float32))))).astype(BF16)
    return {
        "softmax_ce labels": lambda X: fe.softmax_cross_entropy(lab, X, ignore_index=-100,
                                                               return_grad=True),
        "softmax_ce smoothing none": lambda X: fe.softmax_cross_entropy(
            lab, X, ignore_index=-100, label_smoothing=0.1, reduction="none",
            return_grad=True),
        "softmax_ce probs": lambda X: fe.softmax_cross_entropy(p, X, return_grad=True),
        "softmax_stats": lambda X: tuple(fe.softmax_stats(X, np.where(lab < 0, 0, lab), k=3)),
        "kl_with_logits": lambda X: fe.kl_divergence_with_logits(t, X, return_grad=True),
        "js_with_logits": lambda X: fe.js_divergence_with_logits(t, X, return_grad=True,
                                                                reduction="none"),
        "kl": lambda X: fe.kl_divergence(p, _as(q, X), return_grad=True),
        "js": lambda X: fe.js_divergence(p, _as(q, X), return_grad=True),
        "cross_entropy": lambda X: fe.cross_entropy(p, _as(q, X), return_grad=True),
        "entropy": lambda X: fe.entropy(_as(q, X), return_grad=True, reduction="none"),
        "bce_logits": lambda X: fe.binary_cross_entropy_with_logits(p > 0.03, X,
                                                                   return_grad=True),
        "bce": lambda X: fe.binary_cross_entropy(p > 0.03, _as(sig, X), return_grad=True),
        "binary_entropy": lambda X: fe.binary_entropy(_as(sig, X), reduction="none"),
        "information": lambda X: fe.information(_as(sig, X), return_grad=True),
    }


def _as(a, X):
    """a in the type of the prediction under test (bfloat16 or its float32 cast)."""
    return a if X.dtype == BF16 else a.astype(np.float32)


@pytest.mark.parametrize("layout", ["contiguous", "strided", "transposed"])
def test_every_family_gives_the_bytes_of_the_float32_call(rng, isa, layout):
    x, lab, p = _data(rng)
    for name, f in _cases(x, lab, p).items():
        if layout == "strided":
            X = np.empty((x.shape[0], 2 * x.shape[1]), BF16)[:, ::2]
            X[...] = x
        elif layout == "transposed":
            X = np.asfortranarray(x)
        else:
            X = x
        got, want = f(X), f(X.astype(np.float32))
        assert _bytes(got) == _bytes(want), name
        arrays = [np.asarray(a) for a in (got if isinstance(got, tuple) else (got,))
                  if a is not None and np.ndim(a)]        # (reduced values are float64)
        assert all(a.dtype in (np.float32, np.intp, bool) for a in arrays), name


def test_every_bfloat16_value_reads_as_its_float32(rng):
    h = np.arange(65536, dtype=np.uint16).view(BF16)     # NaNs, infinities, subnormals, -0
    t = rng.random(h.size) < 0.5
    got = fe.binary_cross_entropy_with_logits(t, h, reduction="none", return_grad=True)
    want = fe.binary_cross_entropy_with_logits(t, h.astype(np.float32), reduction="none",
                                               return_grad=True)
    assert _bytes(got) == _bytes(want)
    # and as a target, converted block by block in the other operand
    tb = t.astype(BF16)
    assert _bytes(fe.binary_cross_entropy_with_logits(tb, h.astype(np.float32))) == \
        _bytes(fe.binary_cross_entropy_with_logits(t.astype(np.float32),
                                                   h.astype(np.float32)))


def test_bfloat16_logits_make_no_temporary_of_their_size(rng):
    x = rng.normal(size=(512, 8192)).astype(BF16)
    lab = rng.integers(0, 8192, 512)
    fe.softmax_cross_entropy(lab, x)          # warm up (imports, first allocations)
    grad_bytes = x.size * 4                   # the float32 gradient: an output, not a copy
    for call, outputs in ((lambda: fe.softmax_cross_entropy(lab, x), 0),
                          (lambda: fe.softmax_stats(x, lab), 0),
                          (lambda: fe.softmax_cross_entropy(lab, x, return_grad=True),
                           grad_bytes)):
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < outputs + x.nbytes / 8, (peak, outputs)


def test_torch_bfloat16_tensors_are_read_in_place(rng):
    torch = pytest.importorskip("torch")
    x, lab, p = _data(rng)
    xf = x.astype(np.float32)
    tx = torch.from_numpy(xf).to(torch.bfloat16)
    assert np.array_equal(tx.float().numpy(), xf, equal_nan=True)
    for X, Xf, kw in ((tx, xf, {}), (tx[::3], xf[::3], {}), (tx.T, xf.T, dict(axis=0))):
        n = X.shape[0] if not kw else X.shape[1]
        kw["ignore_index"] = -100
        got = fe.softmax_cross_entropy(lab[:n], X, return_grad=True, **kw)
        assert _bytes(got) == _bytes(fe.softmax_cross_entropy(lab[:n], Xf, return_grad=True,
                                                              **kw))
    # the values are PyTorch's float32 cross-entropy (NaN row and masked classes aside)
    ok = ~np.isnan(xf).any(1) & (lab >= 0)
    F = torch.nn.functional
    want = F.cross_entropy(tx[ok].float(), torch.from_numpy(lab[ok]), reduction="none")
    got = fe.softmax_cross_entropy(lab[ok], tx[ok], reduction="none")
    np.testing.assert_allclose(got, want.numpy(), rtol=2e-6, atol=1e-6)
    # read in place: the array fastent reads shares the tensor's memory
    from fastent import _validation as v
    a = v.as_array(tx, "logits")
    assert a.dtype == BF16 and a.ctypes.data == tx.data_ptr()


def test_torch_bfloat16_without_ml_dtypes_says_what_to_do(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)
    with pytest.raises(TypeError, match=r'logits: dtype bfloat16 is read with the ml_dtypes '
                                        r'package: pip install "fastent-losses\[bf16\]"'):
        fe.softmax_cross_entropy(np.array([0]), torch.zeros((1, 3), dtype=torch.bfloat16))
