"""Cross-entropy, KL divergence and entropy of distributions along a class axis: the public
functions.  Validation and output allocation happen here; the arithmetic happens in one
pass per row in the kernel (fastent/_rowwise.pyx on the driver of fastent/_driver.pxd, row
kernels in src/fe_divergence_impl.h).
"""
import numpy as np

from fastent import _api, _dask, _docs, _layout, _rowwise, _threads
from fastent import _validation as v
from fastent._exact import ExactSum

__all__ = ["cross_entropy", "cross_entropy_grad", "kl_divergence", "kl_divergence_grad",
           "entropy", "entropy_grad"]

_NEGATIVE = "probabilities must be non-negative"


def _run(kind, p, q, *, axis, reduction, weight, base, eps, zero_division, out, grad_out,
         n_threads, want_loss, want_grad, denominator=None, totals=False):
    """p: the reference distribution (None for entropy); q: the prediction.  Returns (loss
    or None, grad or None, Totals); `denominator` replaces the mean's denominator of the
    gradient (Dask)."""
    if denominator is None:                         # the common case, in O(1) (_rowwise.fast)
        r = _rowwise.fast(kind, p, q, axis, reduction, base, eps, zero_division, out,
                          grad_out, n_threads, want_loss, want_grad, weight, totals=totals)
        if r is not None:
            return _api.fast_result(r, reduction, totals)
    pred_name = "p" if kind == _rowwise.Kind.ENTROPY else "q"
    if _dask.is_dask(p, q, weight):
        return _dask.run(lambda t, x, **kw: _run(kind, t, x, **kw), p, q,
                         reduction=reduction, weight=weight, want_loss=want_loss,
                         want_grad=want_grad, class_axis=axis, pred_name=pred_name, out=out,
                         grad_out=grad_out, denominator=denominator, totals=totals, axis=axis, base=base,
                         eps=eps, zero_division=zero_division, n_threads=n_threads)
    x, dtype = v.prediction(q, pred_name)
    ax, C, row_shape = v.class_axis(x, axis, pred_name)
    t = None if kind == _rowwise.Kind.ENTROPY else v.operand(p, "p", dtype, x.shape,
                                                               keep_type=True)
    reduction = v.reduction(reduction)
    zero_division = v.real(zero_division, "zero_division")
    loss_scale = v.log_base(base)
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
            lo=lo, loss_scale=loss_scale,
            grad_scale=_api.grad_scale(reduction, loss_scale,
                                       denom.value() if denominator is None else denominator),
            want_sum=want_loss and reduction != "none" or totals)
    elif loss_arr is not None:
        loss_arr[...] = 0          # rows over an empty class axis: an empty sum
    if bad & 1:
        raise v.first_bad("p", t, lambda a: a < 0, _NEGATIVE)
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

@_docs.document(_docs._ROWS, """
    Cross-entropy H(p, q) = -sum p log q of each row along `axis`.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES)
def cross_entropy(p, q, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                  zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                  return_grad=False):
    loss, grad = _run(_rowwise.Kind.CROSS_ENTROPY, p, q, axis=axis, reduction=reduction,
                      weight=weight, base=base, eps=eps, zero_division=zero_division, out=out,
                      grad_out=grad_out, n_threads=n_threads, want_loss=True,
                      want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs._ROWS, """
    Gradient of `cross_entropy` (same arguments) with respect to q: -p / q at the
    raised q, scaled by the reduction, the row weights and the base.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES, grad_fn=True)
def cross_entropy_grad(p, q, *, axis=-1, reduction="mean", weight=None, base="e",
                       eps="auto", zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_rowwise.Kind.CROSS_ENTROPY, p, q, axis=axis, reduction=reduction, weight=weight,
                base=base, eps=eps, zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


@_docs.document(_docs._ROWS, """
    KL divergence D(p || q) = sum p log(p / q) of each row along `axis`.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES)
def kl_divergence(p, q, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                  zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                  return_grad=False):
    loss, grad = _run(_rowwise.Kind.KL, p, q, axis=axis, reduction=reduction, weight=weight,
                      base=base, eps=eps, zero_division=zero_division, out=out,
                      grad_out=grad_out, n_threads=n_threads, want_loss=True,
                      want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs._ROWS, """
    Gradient of `kl_divergence` (same arguments) with respect to q: -p / q at the
    raised q, scaled by the reduction, the row weights and the base.""",
                params=dict(p=_P, q=_Q), pred="q", per="per-row", examples=_EXAMPLES,
                notes=_NOTES, grad_fn=True)
def kl_divergence_grad(p, q, *, axis=-1, reduction="mean", weight=None, base="e",
                       eps="auto", zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_rowwise.Kind.KL, p, q, axis=axis, reduction=reduction, weight=weight, base=base,
                eps=eps, zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


@_docs.document(_docs._ROWS, """
    Shannon entropy H(p) = -sum p log p of each row along `axis`.""",
                params=dict(p=_P_ONLY), pred="p", per="per-row", examples=_EXAMPLES,
                notes=_NOTES)
def entropy(p, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
            zero_division=np.nan, out=None, grad_out=None, n_threads=None,
            return_grad=False):
    loss, grad = _run(_rowwise.Kind.ENTROPY, None, p, axis=axis, reduction=reduction,
                      weight=weight, base=base, eps=eps, zero_division=zero_division, out=out,
                      grad_out=grad_out, n_threads=n_threads, want_loss=True,
                      want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs._ROWS, """
    Gradient of `entropy` (same arguments) with respect to p: -(log p + 1) at the
    raised p (+inf at p = 0 only with eps=0), scaled by the reduction, weights and base.""",
                params=dict(p=_P_ONLY), pred="p", per="per-row", examples=_EXAMPLES,
                notes=_NOTES, grad_fn=True)
def entropy_grad(p, *, axis=-1, reduction="mean", weight=None, base="e", eps="auto",
                 zero_division=np.nan, grad_out=None, n_threads=None):
    return _run(_rowwise.Kind.ENTROPY, None, p, axis=axis, reduction=reduction, weight=weight,
                base=base, eps=eps, zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]
