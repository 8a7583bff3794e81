"""Cross-entropy, KL divergence, entropy and Jensen-Shannon divergence of distributions along
a class axis, and the KL and Jensen-Shannon divergences between the softmax distributions of
two sets of logits: the public functions.  Validation and output allocation happen here;
the arithmetic happens in one pass per row in the kernel (fastent/_rowwise.pyx on the driver
of fastent/_driver.pxd, row kernels in src/fe_divergence_impl.h and, from logits,
src/fe_divlogits_impl.h).
"""
import functools

import numpy as np

from fastent import _api, _dask, _docs, _layout, _registry, _rowwise, _threads
from fastent import _validation as v
from fastent._exact import ExactSum

__all__ = ["cross_entropy", "cross_entropy_grad", "kl_divergence", "kl_divergence_grad",
           "entropy", "entropy_grad", "js_divergence", "js_divergence_grad",
           "kl_divergence_with_logits", "kl_divergence_with_logits_grad",
           "js_divergence_with_logits", "js_divergence_with_logits_grad"]
_Kind = _rowwise.Kind
_FROM_LOGITS = (_Kind.KL_LOGITS, _Kind.JS_LOGITS)
_CLIPPED = (_Kind.CROSS_ENTROPY, _Kind.KL, _Kind.ENTROPY)     # the kinds with an eps
# the public function of each kind, the name the registry (and Dask) knows it by
_NAME = {_Kind.CROSS_ENTROPY: "cross_entropy", _Kind.KL: "kl_divergence",
         _Kind.ENTROPY: "entropy", _Kind.JS: "js_divergence",
         _Kind.KL_LOGITS: "kl_divergence_with_logits",
         _Kind.JS_LOGITS: "js_divergence_with_logits"}

_NEGATIVE = "probabilities must be non-negative"
# the end of the message for a truth with one value along the class axis (v.operand)
_COLUMN = {False: " (class labels? the divergences take distributions: for labels against "
                  "predicted probabilities use softmax_cross_entropy on the logits, or "
                  "one-hot rows)",
           True: " (the teacher's logits need one value per class, as the student's)"}


def _labels_hint(p, row_shape):
    """The end of the truth's shape error where it looks like class labels of the rows
    (sklearn's log_loss(y, proba) order)."""
    def hint(shape):
        if np.asarray(p).dtype.kind in "biu" and shape == row_shape:
            return _COLUMN[False]
        return ""
    return hint


def _run(kind, p, q, *, axis, reduction, weight, base, eps=None, zero_division, out,
         grad_out, n_threads, want_loss, want_grad, temperature=1.0, beta=0.5,
         denominator=None, totals=False):
    """p: the reference distribution or logits (None for entropy); q: the prediction.
    Returns (loss or None, grad or None, Totals); `denominator` replaces the mean's
    denominator of the gradient (Dask).  eps: the clip floor of cross-entropy, KL and
    entropy (None for the others, which do not clip)."""
    if denominator is None:                         # the common case, in O(1) (_rowwise.fast)
        r = _rowwise.fast(kind, p, q, axis, reduction, base, eps, zero_division, out,
                          grad_out, n_threads, want_loss, want_grad, weight, totals=totals,
                          temperature=temperature, beta=beta)
        if r is not None:
            return _api.fast_result(r, reduction, totals)
    logits = kind in _FROM_LOGITS
    pred_name = "p" if kind == _Kind.ENTROPY else "logits" if logits else "q"
    truth_name = "target_logits" if logits else "p"
    if _dask.is_dask(p, q, weight):
        return _dask.run(_NAME[kind], p, q,
                         reduction=reduction, weight=weight, want_loss=want_loss,
                         want_grad=want_grad, class_axis=axis, pred_name=pred_name, out=out,
                         grad_out=grad_out, denominator=denominator, totals=totals, axis=axis,
                         base=base, eps=eps, zero_division=zero_division, n_threads=n_threads,
                         temperature=temperature, beta=beta)
    x, dtype = v.prediction(q, pred_name)
    ax, C, row_shape = v.class_axis(x, axis, pred_name)
    t = None if kind == _Kind.ENTROPY else v.operand(p, truth_name, dtype, x.shape,
                                                       keep_type=True, whole_axis=ax,
                                                       column_hint=_COLUMN[logits],
                                                       hint=_labels_hint(p, row_shape))
    reduction = v.reduction(reduction)
    zero_division = v.real(zero_division, "zero_division")
    loss_scale = v.log_base(base)
    temperature = v.temperature(temperature)
    beta = v.beta(beta)
    lo = 0.0
    if kind in _CLIPPED:
        clip = v.clip_eps(eps, dtype)
        lo = v.clip_bounds(clip, dtype)[0] if clip > 0 else 0.0
    nt = v.n_threads(n_threads)
    rw, denom, count = _api.row_pass(row_shape, C, weight, n_threads=nt)
    outs = _api.outputs(out, grad_out, want_loss=want_loss, want_grad=want_grad,
                        reduction=reduction, loss_shape=row_shape, pred=x,
                        dtype=dtype, inputs=(t, rw))
    loss_arr, grad = outs.loss, outs.grad
    s, bad = None, 0
    if x.size:
        ops = dict(pred=x, target=t, weight=rw, out=loss_arr, grad=grad)
        it_shape, strides, cstrides = _layout.row_layout(row_shape, ax, ops)
        s, bad = _threads.run(
            _rowwise.rowwise, nt, x.size, kind, it_shape, C,
            _api.driver_operands(ops, strides, cstrides), compute_type=v.KERNEL_TYPES[dtype],
            lo=lo, loss_scale=loss_scale, temperature=temperature, beta=beta,
            grad_scale=_api.grad_scale(reduction, loss_scale,
                                       denom.value() if denominator is None else denominator),
            want_sum=want_loss and reduction != "none" or totals)
    elif loss_arr is not None:
        loss_arr[...] = 0          # rows over an empty class axis: an empty sum
    if bad & 1:
        raise v.first_bad(truth_name, t, lambda a: a < 0, _NEGATIVE)
    if bad & 2:
        raise v.first_bad(pred_name, x, lambda a: a < 0, _NEGATIVE)
    loss_arr, grad = outs.finish()
    total = ExactSum.of(s)
    loss = None
    if want_loss:
        loss = _api.reduced(total, denom, reduction=reduction, loss_arr=loss_arr,
                            zero_division=zero_division)
    return loss, grad, _api.Totals(total, denom, int(count))


_P = ("array_like", "The reference distribution of each row (probabilities, not "
      "renormalised); broadcastable to q's shape; a zero contributes 0 (0 log 0 = 0), also "
      "to the gradient.")
_Q = ("array_like", "The predicted distribution of each row (probabilities, not "
      "renormalised).")
_P_ONLY = ("array_like", "The distribution of each row (probabilities, not renormalised).")
_NOTES = """
    Negative values raise ValueError (also with eps=0); NaN propagates.  "mean" is the mean
    over rows (PyTorch's "batchmean").  D(q || p) is kl_divergence(q, p): the gradient is
    then with respect to p."""
_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> p = np.array([[0.5, 0.5], [0.9, 0.1]])
    >>> q = np.array([[0.25, 0.75], [0.5, 0.5]])
    >>> fe.cross_entropy(p, q, reduction="none").round(4)
    array([0.837 , 0.6931])
    >>> fe.kl_divergence(p, q, reduction="none").round(4)
    array([0.1438, 0.3681])
    >>> fe.entropy(p, reduction="none", base=2).round(4)               # bits
    array([1.   , 0.469])
    >>> d, dq = fe.kl_divergence(p, q, return_grad=True)              # mean over rows, d/dq
    >>> dq.round(4)
    array([[-1.    , -0.3333],
           [-0.9   , -0.1   ]])
    """

@_docs.document(_docs.ROWS, """
    Cross-entropy H(p, q) = -sum p log q of each row along `axis`.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES)
@_registry.loss(functools.partial(_run, _Kind.CROSS_ENTROPY))
def cross_entropy(p, q, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                  zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                  return_grad=False):
    loss, grad = _run(_rowwise.Kind.CROSS_ENTROPY, p, q, axis=axis, reduction=reduction,
                      weight=weight, base=base, eps=eps, zero_division=zero_division, out=out,
                      grad_out=grad_out, n_threads=n_threads, want_loss=True,
                      want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ROWS, """
    Gradient of `cross_entropy` (same arguments) with respect to q: -p / q at the
    raised q, scaled by the reduction, the row weights and the base.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES, grad_fn=True)
def cross_entropy_grad(p, q, *, axis=-1, reduction="mean", weight=None, base="e",
                       eps="auto", zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_rowwise.Kind.CROSS_ENTROPY, p, q, axis=axis, reduction=reduction, weight=weight,
                base=base, eps=eps, zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


@_docs.document(_docs.ROWS, """
    KL divergence D(p || q) = sum p log(p / q) of each row along `axis`.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES)
@_registry.loss(functools.partial(_run, _Kind.KL))
def kl_divergence(p, q, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                  zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                  return_grad=False):
    loss, grad = _run(_rowwise.Kind.KL, p, q, axis=axis, reduction=reduction, weight=weight,
                      base=base, eps=eps, zero_division=zero_division, out=out,
                      grad_out=grad_out, n_threads=n_threads, want_loss=True,
                      want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ROWS, """
    Gradient of `kl_divergence` (same arguments) with respect to q: -p / q at the
    raised q, scaled by the reduction, the row weights and the base.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES, grad_fn=True)
def kl_divergence_grad(p, q, *, axis=-1, reduction="mean", weight=None, base="e",
                       eps="auto", zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_rowwise.Kind.KL, p, q, axis=axis, reduction=reduction, weight=weight, base=base,
                eps=eps, zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


@_docs.document(_docs.ROWS, """
    Shannon entropy H(p) = -sum p log p of each row along `axis`.""",
                params=dict(p=_P_ONLY), pred="p", per="per-row", examples=_EXAMPLES,
                notes=_NOTES)
@_registry.loss(functools.partial(_run, _Kind.ENTROPY, None))
def entropy(p, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
            zero_division=np.nan, out=None, grad_out=None, n_threads=None,
            return_grad=False):
    loss, grad = _run(_rowwise.Kind.ENTROPY, None, p, axis=axis, reduction=reduction,
                      weight=weight, base=base, eps=eps, zero_division=zero_division, out=out,
                      grad_out=grad_out, n_threads=n_threads, want_loss=True,
                      want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ROWS, """
    Gradient of `entropy` (same arguments) with respect to p: -(log p + 1) at the
    raised p (+inf at p = 0 only with eps=0), scaled by the reduction, weights and base.""",
                params=dict(p=_P_ONLY), pred="p", per="per-row", examples=_EXAMPLES,
                notes=_NOTES, grad_fn=True)
def entropy_grad(p, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                 zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_rowwise.Kind.ENTROPY, None, p, axis=axis, reduction=reduction, weight=weight,
                base=base, eps=eps, zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


# ---- Jensen-Shannon divergence of distributions --------------------------------------------
_BETA = ("float in [0, 1], default 0.5",
         "The weight of p in the mixture m = beta p + (1 - beta) q.")
_JS_NOTES = """
    The generalised Jensen-Shannon divergence of each row along `axis`:
    beta KL(p || m) + (1 - beta) KL(q || m), m = beta p + (1 - beta) q, with 0 log 0 = 0, so
    it is finite for every p, q >= 0 (no clipping, no eps).  beta = 1/2 is the classic
    divergence, bounded by ln 2 (1 with base=2): SciPy's ``jensenshannon(p, q, base)**2``.
    The gradient with respect to q is (1 - beta) log(q / m): -inf where q = 0 < p (the true
    one-sided derivative), -(1 - beta) log(1 - beta) where p = 0.  Symmetric only for
    beta = 1/2; js_divergence(q, p, beta=1 - beta) is the same value with the gradient
    with respect to p.  Negative values raise ValueError; NaN propagates; rows are used as
    given (not renormalised).  "mean" is the mean over rows."""
_JS_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> p = np.array([[1.0, 0.0], [0.5, 0.5]])
    >>> q = np.array([[0.0, 1.0], [0.5, 0.5]])
    >>> fe.js_divergence(p, q, reduction="none", base=2)        # bits: 1 for disjoint rows
    array([1., 0.])
    """


@_docs.document(_docs.ROWS, """
    Jensen-Shannon divergence beta KL(p || m) + (1 - beta) KL(q || m) of each row.""",
                params=dict(p=_P, q=_Q, beta=_BETA), pred="q", per="per-row",
                examples=_JS_EXAMPLES, notes=_JS_NOTES)
@_registry.loss(functools.partial(_run, _Kind.JS))
def js_divergence(p, q, *, beta=0.5, axis=-1, reduction="mean", weight=None, base="e",
                  zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                  return_grad=False):
    loss, grad = _run(_Kind.JS, p, q, beta=beta, axis=axis, reduction=reduction,
                      weight=weight, base=base, zero_division=zero_division, out=out,
                      grad_out=grad_out, n_threads=n_threads, want_loss=True,
                      want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ROWS, """
    Gradient of `js_divergence` (same arguments) with respect to q: (1 - beta) log(q / m),
    scaled by the reduction, the row weights and the base.""",
                params=dict(p=_P, q=_Q, beta=_BETA), pred="q", per="per-row",
                examples=_JS_EXAMPLES, notes=_JS_NOTES, grad_fn=True)
def js_divergence_grad(p, q, *, beta=0.5, axis=-1, reduction="mean", weight=None, base="e",
                       zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_Kind.JS, p, q, beta=beta, axis=axis, reduction=reduction, weight=weight,
                base=base, zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


# ---- divergences from logits -----------------------------------------------------------------
_T_LOGITS = ("array_like", "The teacher's (reference) logits, or log-probabilities, of each "
             "row; broadcastable to the logits' shape; -inf masks a class.")
_S_LOGITS = ("array_like", "The student's (predicted) logits of each row; -inf masks a class.")
_TEMPERATURE = ("float > 0, default 1.0",
                "Both sets of logits are divided by it before the softmax.  No T**2 factor "
                "is applied (see Notes).")
_LOGIT_NOTES = """
    p = softmax(target_logits / T) and q = softmax(logits / T) are never formed: each row is
    computed in log space in one pass (log p - log q from the max-shifted logits and the two
    log-sum-exps), so -inf logits mask a class without a NaN in the value or the gradient
    (q = 0 < p gives +inf for KL).  The gradient is the derivative with respect to `logits`,
    the 1/T of the chain rule included: (q - p) / T for KL.  There is no hidden T**2 factor;
    Hinton et al.'s distillation loss is ``T**2 * kl_divergence_with_logits(t, s,
    temperature=T)`` (and T**2 times its gradient).  The reverse direction KL(q || p) is
    ``kl_divergence_with_logits(s, t)``: the gradient is then with respect to the first
    set.  PyTorch's ``F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1),
    log_target=True, reduction="batchmean")`` is the "mean" of this function on (N, C).
    A NaN logit makes its row NaN; "mean" is the mean over rows."""
_LOGIT_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> t = np.array([[2.0, 0.0, -np.inf], [1.0, 1.0, 1.0]])
    >>> s = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    >>> fe.kl_divergence_with_logits(t, s, reduction="none").round(4)
    array([0.4967, 0.309 ])
    >>> T = 4.0
    >>> loss, g = fe.kl_divergence_with_logits(t, s, temperature=T, return_grad=True)
    >>> round(float(T**2 * loss), 4)                    # Hinton's scaling, if wanted
    3.0392
    """


@_docs.document(_docs.ROWS, """
    KL divergence KL(softmax(target_logits / T) || softmax(logits / T)) of each row, from
    logits (distillation: teacher first, student second).""",
                params=dict(target_logits=_T_LOGITS, logits=_S_LOGITS,
                            temperature=_TEMPERATURE), pred="logits", per="per-row",
                examples=_LOGIT_EXAMPLES, notes=_LOGIT_NOTES)
@_registry.loss(functools.partial(_run, _Kind.KL_LOGITS))
def kl_divergence_with_logits(target_logits, logits, *, temperature=1.0, axis=-1,
                              reduction="mean", weight=None, base="e", zero_division=np.nan,
                              out=None, grad_out=None, n_threads=None, return_grad=False):
    loss, grad = _run(_Kind.KL_LOGITS, target_logits, logits, temperature=temperature,
                      axis=axis, reduction=reduction, weight=weight, base=base,
                      zero_division=zero_division, out=out, grad_out=grad_out,
                      n_threads=n_threads, want_loss=True, want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ROWS, """
    Gradient of `kl_divergence_with_logits` (same arguments) with respect to logits:
    (softmax(logits / T) - softmax(target_logits / T)) / T, scaled by the reduction, the row
    weights and the base.""",
                params=dict(target_logits=_T_LOGITS, logits=_S_LOGITS,
                            temperature=_TEMPERATURE), pred="logits", per="per-row",
                examples=_LOGIT_EXAMPLES, notes=_LOGIT_NOTES, grad_fn=True)
def kl_divergence_with_logits_grad(target_logits, logits, *, temperature=1.0, axis=-1,
                                   reduction="mean", weight=None, base="e",
                                   zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_Kind.KL_LOGITS, target_logits, logits, temperature=temperature, axis=axis,
                reduction=reduction, weight=weight, base=base, zero_division=zero_division,
                out=None, grad_out=grad_out, n_threads=n_threads, want_loss=False,
                want_grad=True)[1]


_JS_LOGIT_NOTES = """
    The Jensen-Shannon divergence of p = softmax(target_logits / T) and
    q = softmax(logits / T) (see `js_divergence`), computed in log space: log m is the
    log-sum-exp of log beta + log p and log(1 - beta) + log q, so the mixture never
    underflows and -inf logits never give NaN.  The gradient with respect to `logits` is
    (1 - beta) / T q (log(q / m) - KL(q || m)).  No T**2 factor is applied.  Symmetric for
    beta = 1/2 (then bounded by ln 2, 1 with base=2); js_divergence_with_logits(s, t,
    beta=1 - beta) is the same value with the gradient with respect to the first set.
    A NaN logit makes its row NaN; "mean" is the mean over rows."""
_JS_LOGIT_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> t = np.array([[0.0, -np.inf], [1.0, 1.0]])
    >>> s = np.array([[-np.inf, 0.0], [1.0, 1.0]])
    >>> fe.js_divergence_with_logits(t, s, reduction="none", base=2)
    array([1., 0.])
    """


@_docs.document(_docs.ROWS, """
    Jensen-Shannon divergence of softmax(target_logits / T) and softmax(logits / T) of each
    row, from logits.""",
                params=dict(target_logits=_T_LOGITS, logits=_S_LOGITS, beta=_BETA,
                            temperature=_TEMPERATURE), pred="logits", per="per-row",
                examples=_JS_LOGIT_EXAMPLES, notes=_JS_LOGIT_NOTES)
@_registry.loss(functools.partial(_run, _Kind.JS_LOGITS))
def js_divergence_with_logits(target_logits, logits, *, beta=0.5, temperature=1.0, axis=-1,
                              reduction="mean", weight=None, base="e", zero_division=np.nan,
                              out=None, grad_out=None, n_threads=None, return_grad=False):
    loss, grad = _run(_Kind.JS_LOGITS, target_logits, logits, beta=beta,
                      temperature=temperature, axis=axis, reduction=reduction, weight=weight,
                      base=base, zero_division=zero_division, out=out, grad_out=grad_out,
                      n_threads=n_threads, want_loss=True, want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ROWS, """
    Gradient of `js_divergence_with_logits` (same arguments) with respect to logits,
    scaled by the reduction, the row weights and the base.""",
                params=dict(target_logits=_T_LOGITS, logits=_S_LOGITS, beta=_BETA,
                            temperature=_TEMPERATURE), pred="logits", per="per-row",
                examples=_JS_LOGIT_EXAMPLES, notes=_JS_LOGIT_NOTES, grad_fn=True)
def js_divergence_with_logits_grad(target_logits, logits, *, beta=0.5, temperature=1.0,
                                   axis=-1, reduction="mean", weight=None, base="e",
                                   zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_Kind.JS_LOGITS, target_logits, logits, beta=beta, temperature=temperature,
                axis=axis, reduction=reduction, weight=weight, base=base,
                zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]
