"""Plain-NumPy implementations of every fastent function and gradient.

Written from the formulas, for reading and as the oracle of the test suite and the baseline
of the benchmarks: the vectorised NumPy a careful user would write (max-subtracted softmax,
`np.log1p(-p)` for log(1 - p), `np.logaddexp` for the softplus).  They follow the same
conventions as fastent (truth first, gradient with respect to the prediction, 0 log 0 = 0,
float64 reductions) but do no input validation.  Computation happens in the prediction's
dtype, as in fastent.
"""
import math

import numpy as np

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "sigmoid_focal_loss", "sigmoid_focal_loss_grad",
    "softmax_cross_entropy", "softmax_cross_entropy_grad",
    "cross_entropy", "cross_entropy_grad",
    "kl_divergence", "kl_divergence_grad",
    "entropy", "entropy_grad",
    "information", "information_grad", "binary_entropy", "binary_entropy_grad",
    "js_divergence", "js_divergence_grad",
    "kl_divergence_with_logits", "kl_divergence_with_logits_grad",
    "js_divergence_with_logits", "js_divergence_with_logits_grad", "softmax_stats",
]


# ----------------------------------------------------------------------------- helpers
def _dtype(x):
    x = np.asarray(x)
    if x.dtype == np.float16 or x.dtype.name == "bfloat16":     # (ml_dtypes' bfloat16)
        return np.dtype(np.float32)
    if x.dtype.kind in "biu":
        return np.dtype(np.float64)
    return x.dtype


def _inv_ln(base):
    return 1.0 if base == "e" else 1.0 / np.log(float(base))


def _eps(eps, dtype):
    return float(np.finfo(dtype).eps) if eps == "auto" else float(eps)


def _mul0(a, b, nan_from=None):
    """a * b, but 0 wherever a == 0 (so 0 * inf = 0: the 0 log 0 = 0 convention), except
    where `nan_from` (the prediction) is NaN: a NaN prediction propagates."""
    with np.errstate(invalid="ignore"):
        zero = a == 0
        if nan_from is not None:
            zero = zero & ~np.isnan(nan_from)
        return np.where(zero, 0, a * b).astype(np.result_type(a, b), copy=False)


def _fsum(a):
    """The correctly rounded float64 sum of an array's values with IEEE specials (an inf
    gives inf, inf - inf and NaN give NaN), in vectorised NumPy: error-free extraction
    (Rump, Ogita & Oishi 2008) over rows of 4096 values: with sigma a power of 2 at least
    2^13 times a row's max|v|, q = (sigma + v) - sigma is exact, a row's q sum exactly in any
    order and v - q is the exact remainder; repeat on the remainders, then round all the
    exact row sums at once with math.fsum.  (fastent's kernels do the same in C.)"""
    a = np.asarray(a, np.float64).ravel()
    if np.isnan(a).any() or (np.isposinf(a).any() and np.isneginf(a).any()):
        return np.float64(np.nan)
    if np.isinf(a).any():
        return np.float64(a[np.isinf(a)][0])
    if a.size == 0:
        return np.float64(0.0)
    if np.max(np.abs(a)) >= 2.0 ** 1000:
        return np.float64(math.fsum(a))        # sigma would overflow: the slow exact sum
    parts = []
    rows = np.zeros((16, 4096))              # 2^16 values at a time, in reused buffers
    q = np.empty_like(rows)
    for start in range(0, a.size, rows.size):
        chunk = a[start:start + rows.size]
        r = rows
        r.ravel()[:chunk.size] = chunk
        r.ravel()[chunk.size:] = 0.0
        amax = np.max(np.abs(r, out=q), axis=1)
        while True:
            live = amax > 0
            if not live.any():
                break
            if not live.all():
                r, amax = r[live], amax[live]
            qq = q[:len(r)]
            sigma = np.ldexp(1.0, np.frexp(amax)[1] + 13)[:, None]
            np.add(sigma, r, out=qq)
            np.subtract(qq, sigma, out=qq)
            parts.append(np.sum(qq, axis=1))
            np.subtract(r, qq, out=r)
            amax = np.max(np.abs(r, out=qq), axis=1)
    return np.float64(math.fsum(np.concatenate(parts)) if parts else 0.0)


def _reduce(loss, w, reduction, inv_ln, zero_division, count=None):
    """Apply weights (w may be None), the base and the reduction to a loss array: "none"
    is w * l / ln(base) in the dtype, "sum" the exactly rounded sum of those values, "mean"
    that sum over the exactly rounded sum of the weights (or `count`)."""
    if w is not None:
        loss = _mul0(w, loss)
    values = (loss * loss.dtype.type(inv_ln)).astype(loss.dtype, copy=False)
    if reduction == "none":
        return values
    total = _fsum(values)
    if reduction == "sum":
        return total
    if count is None:
        count = loss.size if w is None else _fsum(w)
    return np.float64(total / count) if count > 0 else np.float64(zero_division)


def _grad_scale(w, shape, reduction, inv_ln):
    """Factor of d(reduced loss)/d(element loss): 1/ln(base), divided by sum(w) for mean."""
    if reduction != "mean":
        return inv_ln
    count = np.prod(shape) if w is None else np.sum(np.broadcast_to(w, shape), dtype=np.float64)
    return inv_ln / count if count > 0 else 0.0


def _apply_grad(g, w, scale):
    if w is not None:
        g = _mul0(w, g)
    return (g * g.dtype.type(scale)).astype(g.dtype, copy=False)


def _weights(weight, shape, dtype):
    return None if weight is None else np.broadcast_to(np.asarray(weight, dtype), shape)


# ----------------------------------------------------------------------------- binary
def _bce_terms(target, prob, eps, log_min, label_smoothing):
    p = np.asarray(prob)
    dt = _dtype(p)
    p = p.astype(dt)
    t = np.broadcast_to(np.asarray(target, dt), p.shape)
    t = t * dt.type(1 - label_smoothing) + dt.type(label_smoothing / 2)
    return t, p, dt


def binary_cross_entropy(target, prob, *, reduction="mean", weight=None, base="e",
                         eps="auto", log_min=None, label_smoothing=0.0, zero_division=np.nan):
    """-[t log p + (1 - t) log(1 - p)], p clipped to [eps, 1 - eps] (or each log clamped
    at log_min, as PyTorch)."""
    t, p, dt = _bce_terms(target, prob, eps, log_min, label_smoothing)
    with np.errstate(divide="ignore"):
        if log_min is not None:
            log_p = np.maximum(np.log(p), dt.type(log_min))
            log_1mp = np.maximum(np.log1p(-p), dt.type(log_min))
            loss = (t - 1) * log_1mp - t * log_p
        else:
            e = _eps(eps, dt)
            pc = np.clip(p, dt.type(e), dt.type(1) - dt.type(e))
            loss = -(_mul0(t, np.log(pc)) + _mul0(1 - t, np.log1p(-pc)))
    return _reduce(loss, _weights(weight, p.shape, dt), reduction, _inv_ln(base), zero_division)


def binary_cross_entropy_grad(target, prob, *, reduction="mean", weight=None, base="e",
                              eps="auto", log_min=None, label_smoothing=0.0,
                              zero_division=np.nan):
    """d/dp: (p - t) / (p (1 - p)) at the clipped p (split form where p(1-p) = 0), or
    PyTorch's (p - t) / max((1 - p) p, 1e-12) with log_min."""
    t, p, dt = _bce_terms(target, prob, eps, log_min, label_smoothing)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_min is not None:
            g = (p - t) / np.maximum((1 - p) * p, dt.type(np.float32(1e-12)))
        else:
            e = _eps(eps, dt)
            pc = np.clip(p, dt.type(e), dt.type(1) - dt.type(e))
            d = pc * (1 - pc)
            split = _mul0(t, -1 / pc) + _mul0(1 - t, 1 / (1 - pc))
            g = np.where(d > 0, (pc - t) / d, split)
    w = _weights(weight, p.shape, dt)
    return _apply_grad(g, w, _grad_scale(w, p.shape, reduction, _inv_ln(base)))


def _bce_logit_terms(target, logits, pos_weight, label_smoothing):
    x = np.asarray(logits)
    dt = _dtype(x)
    x = x.astype(dt)
    t = np.broadcast_to(np.asarray(target, dt), x.shape)
    t = t * dt.type(1 - label_smoothing) + dt.type(label_smoothing / 2)
    c = 1 if pos_weight is None else np.asarray(pos_weight, dt)
    return t, x, c, dt


def binary_cross_entropy_with_logits(target, logits, *, reduction="mean", weight=None,
                                     base="e", pos_weight=None, label_smoothing=0.0,
                                     zero_division=np.nan):
    """c t softplus(-x) + (1 - t) softplus(x), softplus(x) = log(1 + e^x) = logaddexp(0, x)."""
    t, x, c, dt = _bce_logit_terms(target, logits, pos_weight, label_smoothing)
    zero = dt.type(0)
    loss = _mul0(c * t, np.logaddexp(zero, -x)) + _mul0(1 - t, np.logaddexp(zero, x))
    return _reduce(loss, _weights(weight, x.shape, dt), reduction, _inv_ln(base), zero_division)


def binary_cross_entropy_with_logits_grad(target, logits, *, reduction="mean", weight=None,
                                          base="e", pos_weight=None, label_smoothing=0.0,
                                          zero_division=np.nan):
    """d/dx: (1 - t) sigmoid(x) - c t sigmoid(-x)  (= sigmoid(x) - t when c = 1)."""
    t, x, c, dt = _bce_logit_terms(target, logits, pos_weight, label_smoothing)
    sig = _sigmoid(x)
    g = sig - t if pos_weight is None else (1 - t) * sig - c * t * _sigmoid(-x)
    w = _weights(weight, x.shape, dt)
    return _apply_grad(g, w, _grad_scale(w, x.shape, reduction, _inv_ln(base)))


def _focal_parts(target, logits, alpha):
    """t, x, sigmoid(x), sigmoid(-x), the cross-entropy, 1 - p_t, a_t (in the dtype)."""
    t, x, _c, dt = _bce_logit_terms(target, logits, None, 0.0)
    s, sn = _sigmoid(x), _sigmoid(-x)
    ce = binary_cross_entropy_with_logits(target, logits, reduction="none")
    m = (1 - t) * s + t * sn
    at = np.ones_like(x) if alpha < 0 else alpha * t + (1 - alpha) * (1 - t)
    return t, x, s, sn, ce, m, at, dt


def sigmoid_focal_loss(target, logits, *, alpha=0.25, gamma=2.0, reduction="mean",
                       weight=None, base="e", zero_division=np.nan):
    """a_t (1 - p_t)^gamma BCE(t, x), p_t = p t + (1 - p)(1 - t) (torchvision's)."""
    t, x, s, sn, ce, m, at, dt = _focal_parts(target, logits, alpha)
    loss = at * ce * m ** dt.type(gamma)
    return _reduce(loss, _weights(weight, x.shape, dt), reduction, _inv_ln(base), zero_division)


def sigmoid_focal_loss_grad(target, logits, *, alpha=0.25, gamma=2.0, reduction="mean",
                            weight=None, base="e", zero_division=np.nan):
    """d/dx: a_t [(s - t) m^gamma + gamma ce m^(gamma-1) s (1 - s) (1 - 2t)], m = 1 - p_t
    (the second term 0 where s (1 - s) is)."""
    t, x, s, sn, ce, m, at, dt = _focal_parts(target, logits, alpha)
    g = dt.type(gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        second = np.where((s * sn > 0) & (g != 0),
                          g * ce * m ** (g - 1) * s * sn * (1 - 2 * t), 0)
    grad = at * ((s - t) * m ** g + second)
    w = _weights(weight, x.shape, dt)
    return _apply_grad(grad, w, _grad_scale(w, x.shape, reduction, _inv_ln(base)))


def _sigmoid(x):
    """1 / (1 + e^-x) without overflow: e^-|x| is at most 1."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# ----------------------------------------------------------------------------- softmax
def _log_softmax(x, axis):
    """x - logsumexp(x) with the row maximum subtracted first; rows of -inf give NaN.
    The maximum contributes exactly 1 to the sum S, so log1p(S - 1) keeps a log-probability
    near 0 accurate where log(S) would round it."""
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore"):
        z = x - m
        return z - np.log1p(np.sum(np.exp(z), axis=axis, keepdims=True) - 1)


def _softmax_setup(target, logits, axis, class_weight):
    x = np.asarray(logits)
    dt = _dtype(x)
    x = np.moveaxis(x.astype(dt), axis, -1)
    t = np.asarray(target)
    cw = None if class_weight is None else np.asarray(class_weight, dt)
    if t.dtype.kind not in "biu":
        t = np.moveaxis(t.astype(dt), axis, -1)
    return t, x, cw, dt


def _index_parts(t, C, cw, ignore_index, dt):
    """Gather indices, counted-row mask and the per-row weight of the target class."""
    valid = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    idx = np.where(valid, t, 0).astype(np.intp)[..., None]
    w_t = np.ones(t.shape, dt) if cw is None else cw[idx[..., 0]]
    return idx, valid, np.where(valid, w_t, 0)


def _softmax_reduce(loss, weight, row_count, reduction, base, zero_division, dt):
    """"mean" divides by sum(weight * row_count): class_weight[label] of counted rows
    (PyTorch) for labels, 1 per row for probabilities."""
    rw = _weights(weight, loss.shape, dt)
    count = None
    if reduction == "mean":
        count = _fsum(row_count if rw is None else np.asarray(rw, np.float64) * row_count)
    return _reduce(loss, rw, reduction, _inv_ln(base), zero_division, count)


def softmax_cross_entropy(target, logits, *, axis=-1, reduction="mean", weight=None,
                          class_weight=None, ignore_index=None, label_smoothing=0.0,
                          base="e", zero_division=np.nan):
    """Index target t: (1 - s) w_t (logsumexp(x) - x_t) + (s / C) sum_c w_c (logsumexp(x) - x_c);
    probability target: -sum_c w_c ((1 - s) t_c + s / C) log_softmax(x)_c  (w: class weights,
    s: label smoothing)."""
    t, x, cw, dt = _softmax_setup(target, logits, axis, class_weight)
    C = x.shape[-1]
    logp = _log_softmax(x, -1)
    s = dt.type(label_smoothing)
    if t.dtype.kind in "biu":
        idx, valid, w_t = _index_parts(t, C, cw, ignore_index, dt)
        loss = _mul0(w_t, -np.take_along_axis(logp, idx, axis=-1)[..., 0])
        if label_smoothing:
            smooth = -np.sum(logp if cw is None else _mul0(cw, logp), axis=-1)
            loss = (1 - s) * loss + s / max(C, 1) * np.where(valid, smooth, 0)
        return _softmax_reduce(loss, weight, w_t, reduction, base, zero_division, dt)
    a = (1 - s) * t + s / max(C, 1)
    if cw is not None:
        a = a * cw
    loss = -np.sum(_mul0(a, logp), axis=-1)
    return _softmax_reduce(loss, weight, np.ones(loss.shape, dt), reduction, base,
                           zero_division, dt)


def softmax_cross_entropy_grad(target, logits, *, axis=-1, reduction="mean", weight=None,
                               class_weight=None, ignore_index=None, label_smoothing=0.0,
                               base="e", zero_division=np.nan):
    """d/dx of the row loss: softmax(x) sum(a) - a, a the class coefficients of the loss
    (softmax - onehot for a plain index target)."""
    t, x, cw, dt = _softmax_setup(target, logits, axis, class_weight)
    C = x.shape[-1]
    sm = np.exp(_log_softmax(x, -1))
    s = dt.type(label_smoothing)
    if t.dtype.kind in "biu":
        idx, valid, w_t = _index_parts(t, C, cw, ignore_index, dt)
        share = s / max(C, 1) * (np.ones(C, dt) if cw is None else cw)
        A = (1 - s) * w_t + np.where(valid, np.sum(share), 0)
        g = sm * A[..., None] - np.where(valid[..., None], share, 0)
        np.put_along_axis(g, idx, np.take_along_axis(g, idx, -1) - ((1 - s) * w_t)[..., None], -1)
        row_count = w_t
    else:
        a = (1 - s) * t + s / max(C, 1)
        if cw is not None:
            a = a * cw
        g = _mul0(np.sum(a, axis=-1, keepdims=True), sm) - a
        row_count = np.ones(x.shape[:-1], dt)
    rw = _weights(weight, row_count.shape, dt)
    scale = _inv_ln(base)
    if reduction == "mean":
        count = np.sum(row_count if rw is None else rw * row_count, dtype=np.float64)
        scale = scale / count if count > 0 else 0.0
    if rw is not None:
        g = _mul0(rw[..., None], g)
    return np.moveaxis((g * dt.type(scale)).astype(dt, copy=False), -1, axis)


# ----------------------------------------------------------------------------- distributions
def _dist_parts(p, q, axis, eps):
    q = np.asarray(q)
    dt = _dtype(q)
    q = q.astype(dt)
    p = np.broadcast_to(np.asarray(p, dt), q.shape)
    e = dt.type(_eps(eps, dt))
    return p, q, np.maximum(q, e) if e > 0 else q, e, dt


def _row_reduce(loss_elems, axis, weight, reduction, base, zero_division, dt):
    loss = np.sum(loss_elems, axis=axis)
    loss = np.asarray(loss, dt)
    return _reduce(loss, _weights(weight, loss.shape, dt), reduction, _inv_ln(base),
                   zero_division)


def _row_grad(g, axis, weight, reduction, base, dt):
    row_shape = np.delete(np.array(g.shape, dtype=np.intp), axis % g.ndim) if g.ndim else ()
    w = _weights(weight, tuple(row_shape), dt)
    scale = _grad_scale(w, tuple(row_shape), reduction, _inv_ln(base))
    if w is not None:
        g = _mul0(np.expand_dims(w, axis), g)
    return (g * dt.type(scale)).astype(dt, copy=False)


def cross_entropy(p, q, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                  zero_division=np.nan):
    """H(p, q) = -sum p log q per row, q raised to at least eps; 0 log 0 = 0."""
    p, q, qc, e, dt = _dist_parts(p, q, axis, eps)
    with np.errstate(divide="ignore"):
        return _row_reduce(-_mul0(p, np.log(qc), q), axis, weight, reduction, base,
                           zero_division, dt)


def cross_entropy_grad(p, q, *, axis=-1, reduction="mean", weight=None, base="e",
                       eps="auto", zero_division=np.nan):
    """d/dq H(p, q) = -p / q at the clipped q (0 where p = 0)."""
    p, q, qc, e, dt = _dist_parts(p, q, axis, eps)
    with np.errstate(divide="ignore"):
        return _row_grad(-_mul0(p, 1 / qc, q), axis, weight, reduction, base, dt)


def _log_ratio(p, q):
    """log(p / q) for p, q > 0 without overflow, underflow or cancellation, computed in
    float64 (float32 inputs are exact there): log1p((p - q) / q) when p is within a factor 2
    of q (p - q exact), log(p / q) when the quotient is a normal number, else
    log p - log q.  What scipy.special.rel_entr computes at its best, everywhere."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    with np.errstate(all="ignore"):
        r = p / q
        near = (p >= 0.5 * q) & (p <= 2 * q)
        normal = np.isfinite(r) & (r >= np.finfo(np.float64).tiny)
        return np.where(near, np.log1p((p - q) / q),
                        np.where(normal, np.log(r), np.log(p) - np.log(q)))


def kl_divergence(p, q, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                  zero_division=np.nan):
    """D(p || q) = sum p log(p / q) per row, p and q raised to at least eps inside the log;
    with eps=0 scipy.special.rel_entr's conventions summed (+inf where p > 0 = q, 0 where
    p = 0 unless q is NaN), the log ratio computed without overflow or cancellation."""
    p, q, qc, e, dt = _dist_parts(p, q, axis, eps)
    pc = np.maximum(p, e) if e > 0 else p
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p == 0, np.where(np.isnan(q), np.nan, 0.0),
                         p.astype(np.float64) * _log_ratio(pc, qc)).astype(dt)
        return _row_reduce(terms, axis, weight, reduction, base, zero_division, dt)


def kl_divergence_grad(p, q, *, axis=-1, reduction="mean", weight=None, base="e",
                       eps="auto", zero_division=np.nan):
    """d/dq D(p || q) = -p / q at the clipped q (0 where p = 0)."""
    return cross_entropy_grad(p, q, axis=axis, reduction=reduction, weight=weight, base=base,
                              eps=eps, zero_division=zero_division)


def entropy(p, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
            zero_division=np.nan):
    """H(p) = -sum p log p per row, p raised to at least eps inside the log; 0 log 0 = 0;
    with eps=0 exactly scipy.special.entr summed.  No renormalisation."""
    _, p, pc, e, dt = _dist_parts(0, p, axis, eps)
    with np.errstate(divide="ignore"):
        return _row_reduce(-_mul0(p, np.log(pc)), axis, weight, reduction, base,
                           zero_division, dt)


def entropy_grad(p, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                 zero_division=np.nan):
    """d/dp H(p) = -(log p + 1) at the clipped p (+inf at p = 0 only when eps = 0)."""
    _, p, pc, e, dt = _dist_parts(0, p, axis, eps)
    with np.errstate(divide="ignore"):
        return _row_grad(-(np.log(pc) + 1), axis, weight, reduction, base, dt)


# ----------------------------------------------------------------------------- beyond the six
def _ew_parts(p, weight):
    p = np.asarray(p)
    dt = _dtype(p)
    p = p.astype(dt)
    return p, _weights(weight, p.shape, dt), dt


def information(p, *, reduction="mean", weight=None, base="e", eps="auto",
                zero_division=np.nan):
    """-log p elementwise, p raised to at least eps."""
    p, w, dt = _ew_parts(p, weight)
    e = dt.type(_eps(eps, dt))
    with np.errstate(divide="ignore"):
        return _reduce((0 - np.log(np.maximum(p, e))).astype(dt), w, reduction, _inv_ln(base),
                       zero_division)


def information_grad(p, *, reduction="mean", weight=None, base="e", eps="auto",
                     zero_division=np.nan):
    """-1 / p at the raised p."""
    p, w, dt = _ew_parts(p, weight)
    e = dt.type(_eps(eps, dt))
    with np.errstate(divide="ignore"):
        g = (-1 / np.maximum(p, e)).astype(dt)
    return _apply_grad(g, w, _grad_scale(w, p.shape, reduction, _inv_ln(base)))


def binary_entropy(p, *, reduction="mean", weight=None, base="e", eps="auto",
                   zero_division=np.nan):
    """-p log p - (1 - p) log(1 - p) elementwise, 0 log 0 = 0 (never clipped)."""
    p, w, dt = _ew_parts(p, weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(_mul0(p, np.log(p), p) + _mul0(1 - p, np.log1p(-p), p))
    return _reduce(h.astype(dt), w, reduction, _inv_ln(base), zero_division)


def binary_entropy_grad(p, *, reduction="mean", weight=None, base="e", eps="auto",
                        zero_division=np.nan):
    """log((1 - p) / p) at p clipped to [eps, 1 - eps], in float64."""
    p, w, dt = _ew_parts(p, weight)
    e = _eps(eps, dt)
    pc = np.clip(p.astype(np.float64), e, 1 - e) if e > 0 else p.astype(np.float64)
    with np.errstate(divide="ignore"):
        g = (np.log1p(-pc) - np.log(pc)).astype(dt)
    return _apply_grad(g, w, _grad_scale(w, p.shape, reduction, _inv_ln(base)))


def _js_terms(p, q, beta):
    """beta p log(p / m) + (1 - beta) q log(q / m) and the derivative (1 - beta) log(q / m),
    m = beta p + (1 - beta) q, in float64 with 0 log 0 = 0."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    m = beta * p + (1 - beta) * q
    with np.errstate(divide="ignore", invalid="ignore"):
        val = _mul0(beta * p, _log_ratio(p, m)) + _mul0((1 - beta) * q, _log_ratio(q, m))
        g = np.where(p == 0, -_mul0(1 - beta, np.log(1 - beta)), (1 - beta) * _log_ratio(q, m))
    # beta 0 or 1: m is q or p, the divergence 0 for every q (q = 0 < p too); NaN propagates
    g = np.where((1 - beta) == 0 or beta == 0, 0.0, g)
    return val, np.where(np.isnan(p) | np.isnan(q), np.nan, g)


def js_divergence(p, q, *, beta=0.5, axis=-1, reduction="mean", weight=None, base="e",
                  zero_division=np.nan):
    """beta KL(p || m) + (1 - beta) KL(q || m), m = beta p + (1 - beta) q, per row."""
    p, q, _, _, dt = _dist_parts(p, q, axis, 0)
    val, _ = _js_terms(p, q, beta)
    return _row_reduce(val, axis, weight, reduction, base, zero_division, dt)


def js_divergence_grad(p, q, *, beta=0.5, axis=-1, reduction="mean", weight=None, base="e",
                       zero_division=np.nan):
    """d/dq: (1 - beta) log(q / m)."""
    p, q, _, _, dt = _dist_parts(p, q, axis, 0)
    _, g = _js_terms(p, q, beta)
    return _row_grad(g.astype(dt), axis, weight, reduction, base, dt)


def _logit_pair(target_logits, logits, temperature, axis):
    """log p, log q (float64, class axis last) of softmax(t / T), softmax(x / T)."""
    x = np.asarray(logits)
    dt = _dtype(x)
    t = np.broadcast_to(np.asarray(target_logits, dt), x.shape)
    lp = _log_softmax(np.moveaxis(t.astype(np.float64), axis, -1) / temperature, -1)
    lq = _log_softmax(np.moveaxis(x.astype(np.float64), axis, -1) / temperature, -1)
    return lp, lq, dt


def _kl_logit_parts(target_logits, logits, temperature, axis):
    lp, lq, dt = _logit_pair(target_logits, logits, temperature, axis)
    p, q = np.exp(lp), np.exp(lq)
    with np.errstate(invalid="ignore"):
        val = np.sum(np.where(p == 0, 0.0, p * (lp - lq)), axis=-1)
    return val, (q - p) / temperature, dt


def kl_divergence_with_logits(target_logits, logits, *, temperature=1.0, axis=-1,
                              reduction="mean", weight=None, base="e", zero_division=np.nan):
    """KL(softmax(t / T) || softmax(x / T)) per row from the two log_softmax, in float64."""
    val, _, dt = _kl_logit_parts(target_logits, logits, temperature, axis)
    return _row_reduce(val[..., None], -1, weight, reduction, base, zero_division, dt)


def kl_divergence_with_logits_grad(target_logits, logits, *, temperature=1.0, axis=-1,
                                   reduction="mean", weight=None, base="e",
                                   zero_division=np.nan):
    """d/dx: (softmax(x / T) - softmax(t / T)) / T."""
    _, g, dt = _kl_logit_parts(target_logits, logits, temperature, axis)
    return _row_grad(np.moveaxis(g, -1, axis).astype(dt), axis, weight, reduction, base, dt)


def _js_logit_parts(target_logits, logits, beta, temperature, axis):
    lp, lq, dt = _logit_pair(target_logits, logits, temperature, axis)
    p, q = np.exp(lp), np.exp(lq)
    with np.errstate(divide="ignore", invalid="ignore"):
        lm = np.logaddexp(np.log(beta) + lp, np.log1p(-beta) + lq)
        h = np.where(q == 0, 0.0, lq - lm)
        kq = np.sum(q * h, axis=-1, keepdims=True)
        # at beta 0 (1) the other side's sum may be +inf where a class is masked: 0 inf
        kp = np.sum(np.where(p == 0, 0.0, p * (lp - lm)), axis=-1)
        val = (beta * kp if beta != 0 else 0.0) + ((1 - beta) * kq[..., 0] if beta != 1 else 0.0)
        g = (1 - beta) / temperature * q * (h - kq) if beta != 1 else np.zeros_like(q)
    return val, g, dt


def js_divergence_with_logits(target_logits, logits, *, beta=0.5, temperature=1.0, axis=-1,
                              reduction="mean", weight=None, base="e", zero_division=np.nan):
    """The Jensen-Shannon divergence of softmax(t / T) and softmax(x / T), log space."""
    val, _, dt = _js_logit_parts(target_logits, logits, beta, temperature, axis)
    return _row_reduce(val[..., None], -1, weight, reduction, base, zero_division, dt)


def js_divergence_with_logits_grad(target_logits, logits, *, beta=0.5, temperature=1.0,
                                   axis=-1, reduction="mean", weight=None, base="e",
                                   zero_division=np.nan):
    """d/dx: (1 - beta) / T q (log(q / m) - KL(q || m))."""
    _, g, dt = _js_logit_parts(target_logits, logits, beta, temperature, axis)
    return _row_grad(np.moveaxis(g, -1, axis).astype(dt), axis, weight, reduction, base, dt)


def softmax_stats(logits, target=None, *, axis=-1, k=1, ignore_index=None, base="e"):
    """The four-pass NumPy recipe: logsumexp, log_softmax at the target, entropy, max
    probability, argmax and top-k membership, as a dict of arrays."""
    x = np.moveaxis(np.asarray(logits), axis, -1)
    dt = _dtype(x)
    x = x.astype(dt)
    logp = _log_softmax(x, -1)
    m = np.max(x, axis=-1, keepdims=True)
    lse = (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))[..., 0]
    p = np.exp(logp)
    with np.errstate(invalid="ignore"):
        ent = -np.sum(np.where(p == 0, 0, p * logp), axis=-1) * dt.type(_inv_ln(base))
    out = dict(logsumexp=lse, entropy=ent, max_prob=np.max(p, axis=-1),
               argmax=np.argmax(x, axis=-1))
    if target is not None:
        t = np.asarray(target)
        ignored = np.zeros(t.shape, bool) if ignore_index is None else t == ignore_index
        idx = np.where(ignored, 0, t)[..., None]
        xt = np.take_along_axis(x, idx, -1)
        out["log_prob"] = np.where(ignored, np.nan,
                                   np.take_along_axis(logp, idx, -1)[..., 0] * dt.type(_inv_ln(base)))
        # False for a row with a NaN anywhere, whatever k (the documented rule)
        out["correct"] = (np.sum(x > xt, axis=-1) < k) & ~ignored & ~np.isnan(x).any(axis=-1)
        out["ignored"] = ignored
    return out
