"""Self-information and binary entropy of probabilities, elementwise: the public functions.

Validation and output allocation happen here; the arithmetic happens in one pass of the
binary family's elementwise kernel (fastent.binary.elementwise_pass: fastent/_binary.pyx on
the driver of fastent/_driver.pxd, terms `information` and `binary_entropy` in
src/fe_terms_impl.h).
"""
import numpy as np

import functools

from fastent import _api, _dask, _docs, _registry, binary
from fastent import _validation as v

__all__ = ["information", "information_grad", "binary_entropy", "binary_entropy_grad"]

_PROB_RANGE = "probabilities must lie in [0, 1]"


def _run(term, p, *, reduction, weight, base, eps, zero_division, out, grad_out, n_threads,
         want_loss, want_grad, denominator=None, totals=False):
    """Validate, allocate, run the kernel once; returns (loss or None, grad or None, Totals).
    `denominator` replaces the mean's denominator of the gradient (Dask)."""
    if _dask.is_dask(p, weight):
        return _dask.run(term, None, p,
                         reduction=reduction, weight=weight, want_loss=want_loss,
                         want_grad=want_grad, pred_name="p", out=out, grad_out=grad_out,
                         denominator=denominator, totals=totals, base=base, eps=eps,
                         zero_division=zero_division, n_threads=n_threads)
    x, dtype = v.prediction(p, "p")
    shape = x.shape
    w = None if weight is None else v.operand(weight, "weight", dtype, shape, keep_type=True)
    reduction = v.reduction(reduction)
    zero_division = v.real(zero_division, "zero_division")
    loss_scale = v.log_base(base)
    nt = v.n_threads(n_threads)
    clip = v.clip_eps(eps, dtype)
    lo, hi = v.clip_bounds(clip, dtype) if clip > 0 else (0.0, 1.0)
    outs = _api.outputs(out, grad_out, want_loss=want_loss, want_grad=want_grad,
                        reduction=reduction, loss_shape=shape, pred=x, dtype=dtype,
                        inputs=(w,))
    s, sw, bad = binary.elementwise_pass(
        term, x, dtype, dict(pred=x, weight=w, out=outs.loss, grad=outs.grad), nt, lo=lo,
        hi=hi, log_min=0.0, smooth=0.0, loss_scale=loss_scale, reduction=reduction,
        denominator=denominator, want_grad=want_grad,
        want_sum=want_loss and reduction != "none" or totals)
    if bad & 1:
        raise v.first_bad("p", x, lambda a: (a < 0) | (a > 1), _PROB_RANGE)
    if bad:
        raise v.first_bad("weight", w, v.bad_weight, v.WEIGHT_RANGE)
    return binary.elementwise_result(outs, s, sw, x.size, w is not None, want_loss=want_loss,
                                     reduction=reduction, zero_division=zero_division)


_P = ("array_like", "Probabilities in [0, 1], any shape.")
_EPS_INFO = ('"auto" or float in [0, 0.5), default "auto"',
             'p is raised to at least eps before the log ("auto": the machine epsilon of the '
             "computation dtype), so the value is finite; eps=0 gives +inf at p = 0.")
_EPS_BENT = ('"auto" or float in [0, 0.5), default "auto"',
             'The gradient is taken at p clipped to [eps, 1 - eps] ("auto": the machine '
             "epsilon of the computation dtype), so it is finite; eps=0 gives +-inf at p = 0 "
             "and 1.  The value is never clipped: it is finite on [0, 1] (0 log 0 = 0).")
_NOTES = """
    Values outside [0, 1] raise ValueError; NaN propagates."""
_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> p = np.array([0.5, 0.25, 1.0])
    >>> fe.information(p, reduction="none", base=2)              # bits
    array([1., 2., 0.])
    >>> fe.binary_entropy(np.array([0.0, 0.5, 1.0]), reduction="none", base=2)
    array([0., 1., 0.])
    >>> fe.binary_entropy_grad(np.array([0.25, 0.5]), reduction="none").round(4)
    array([1.0986, 0.    ])
    """


@_docs.document(_docs.ELEM, """
    Self-information -log p of each element (the surprisal; 1 bit at p = 1/2 in base 2).""",
                params=dict(p=_P, eps=_EPS_INFO), pred="p", per="per-element",
                examples=_EXAMPLES, notes=_NOTES)
@_registry.loss(functools.partial(_run, "information"))
def information(p, *, reduction="mean", weight=None, base="e", eps="auto",
                zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                return_grad=False):
    loss, grad = _run("information", p, reduction=reduction, weight=weight, base=base,
                      eps=eps, zero_division=zero_division, out=out, grad_out=grad_out,
                      n_threads=n_threads, want_loss=True, want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ELEM, """
    Gradient of `information` (same arguments) with respect to p: -1 / p at the raised p,
    scaled by the reduction, the weights and the base.""",
                params=dict(p=_P, eps=_EPS_INFO), pred="p", per="per-element",
                examples=_EXAMPLES, notes=_NOTES, grad_fn=True)
def information_grad(p, *, reduction="mean", weight=None, base="e", eps="auto",
                     zero_division=np.nan, grad_out=None, n_threads=None):
    return _run("information", p, reduction=reduction, weight=weight, base=base, eps=eps,
                zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


@_docs.document(_docs.ELEM, """
    Binary entropy H(p) = -p log p - (1 - p) log(1 - p) of each element (1 bit at p = 1/2
    in base 2, 0 at p = 0 and 1).""",
                params=dict(p=_P, eps=_EPS_BENT), pred="p", per="per-element",
                examples=_EXAMPLES, notes=_NOTES)
@_registry.loss(functools.partial(_run, "binary_entropy"))
def binary_entropy(p, *, reduction="mean", weight=None, base="e", eps="auto",
                   zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                   return_grad=False):
    loss, grad = _run("binary_entropy", p, reduction=reduction, weight=weight, base=base,
                      eps=eps, zero_division=zero_division, out=out, grad_out=grad_out,
                      n_threads=n_threads, want_loss=True, want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ELEM, """
    Gradient of `binary_entropy` (same arguments) with respect to p: log((1 - p) / p) at p
    clipped to [eps, 1 - eps], scaled by the reduction, the weights and the base.""",
                params=dict(p=_P, eps=_EPS_BENT), pred="p", per="per-element",
                examples=_EXAMPLES, notes=_NOTES, grad_fn=True)
def binary_entropy_grad(p, *, reduction="mean", weight=None, base="e", eps="auto",
                        zero_division=np.nan, grad_out=None, n_threads=None):
    return _run("binary_entropy", p, reduction=reduction, weight=weight, base=base, eps=eps,
                zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]
