"""Binary cross-entropy on probabilities and on logits: the public functions.

Validation and output allocation happen here; all arithmetic happens in one pass of the
kernel (fastent/_binary.pyx on the driver of fastent/_driver.pxd, inner loops in
src/fe_binary_impl.h).
"""
import functools
import warnings

import numpy as np

from fastent import _api, _binary, _dask, _docs, _layout, _registry, _runtime, _threads
from fastent import _validation as v
from fastent._exact import ExactSum

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "sigmoid_focal_loss", "sigmoid_focal_loss_grad",
]

_PROB_RANGE = "probabilities must lie in [0, 1]"
_TARGET_RANGE = "targets must lie in [0, 1] (NaN refused)"


def _run(term, fn, pred_name, target, pred, *, reduction, weight, base, zero_division, out,
         grad_out, n_threads, want_loss, want_grad, eps="auto", log_min=None,
         pos_weight=None, label_smoothing=0.0, denominator=None, totals=False, **params):
    """Validate, allocate, run the kernel once on the term named `term` (its stem in
    src/fe_terms_impl.h) for the public function `fn`; returns (loss or None, grad or None,
    Totals).  params: the term's own parameters by their public names (_TERM_PARAMS), the
    kernel's a and b.  `denominator` replaces the mean's denominator of the gradient (Dask:
    the global one); `totals`: the exact sums are wanted whatever the reduction
    (RunningLoss, Dask)."""
    a = b = 0.0
    if params or term in _TERM_PARAMS:
        checks = _TERM_PARAMS.get(term, ())
        if set(params) != {name for name, _ in checks}:
            raise TypeError(f"{fn}: takes the parameters {[n for n, _ in checks]}, "
                            f"got {sorted(params)}")
        a, b = ([check(params[name]) for name, check in checks] + [0.0, 0.0])[:2]
    if term == "bce_prob" and log_min is not None:
        term = "bce_prob_logmin"
    mode = _binary.MODES[term]
    if denominator is None:                         # the common case, in O(1) (_binary.fast)
        r = _binary.fast(mode, a, b, target, pred, reduction, weight, base, eps, log_min,
                         pos_weight, label_smoothing, zero_division, out, grad_out,
                         n_threads, want_loss, want_grad, totals)
        if r is not None:
            return _api.fast_result(r, reduction, totals)
    if _dask.is_dask(target, pred, weight, pos_weight):
        if pos_weight is not None and not _dask.is_dask(pos_weight):
            _check_pos_weight(pos_weight)       # whole, before the chunks see it broadcast
        return _dask.run(fn, target, pred, reduction=reduction, weight=weight,
                         want_loss=want_loss, want_grad=want_grad, pred_name=pred_name, out=out,
                         grad_out=grad_out, denominator=denominator, totals=totals,
                         base=base, eps=eps, log_min=log_min, pos_weight=pos_weight,
                         label_smoothing=label_smoothing, zero_division=zero_division,
                         n_threads=n_threads, **params)
    x, dtype = v.prediction(pred, pred_name)
    shape = x.shape
    # targets and weights stay in their own type: the kernel converts block by block
    # the order hint where the swapped call would be valid (the prediction broadcasts to the
    # target's shape), else the reshape one
    t = v.operand(target, "target", dtype, shape, keep_type=True,
                  hint=lambda ts: (v.order_hint(fn, "target", pred_name)
                                   if v.broadcasts(shape, ts)
                                   else v.reshape_hint("target", ts, shape)))
    if x.dtype.kind in "biu" and t.dtype.kind == "f":
        warnings.warn(f"{pred_name} has dtype {x.dtype} and target {t.dtype}: fastent takes "
                      f"the target first, {fn}(target, {pred_name}); are the arguments "
                      f"swapped?", UserWarning, stacklevel=3)
    w = None if weight is None else v.operand(weight, "weight", dtype, shape, keep_type=True)
    pw = None
    if pos_weight is not None:
        pw = v.operand(pos_weight, "pos_weight", dtype, shape, keep_type=True)
    reduction = v.reduction(reduction)
    zero_division = v.real(zero_division, "zero_division")
    loss_scale = v.log_base(base)
    smooth = v.fraction(label_smoothing, "label_smoothing")
    nt = v.n_threads(n_threads)
    if log_min is None:
        lo, hi = v.clip_bounds(v.clip_eps(eps, dtype), dtype)
        lmin = 0.0
    else:
        if eps != "auto":
            raise ValueError("eps: cannot be combined with log_min (log_min replaces clipping)")
        lo, hi, lmin = 0.0, 1.0, v.real(log_min, "log_min")
        if not lmin <= 0:
            raise ValueError(f"log_min: must be None or a number <= 0, got {log_min!r}")
    if pos_weight is not None:
        _check_pos_weight(pos_weight)

    outs = _api.outputs(out, grad_out, want_loss=want_loss, want_grad=want_grad,
                        reduction=reduction, loss_shape=shape, pred=x,
                        dtype=dtype, inputs=(t, w, pw))
    loss_arr, grad = outs.loss, outs.grad

    s, sw, bad = elementwise_pass(
        term, x, dtype, dict(pred=x, target=t, weight=w, pos_weight=pw, out=loss_arr,
                             grad=grad), nt, lo=lo, hi=hi, log_min=lmin, smooth=smooth,
        loss_scale=loss_scale, reduction=reduction, denominator=denominator,
        want_grad=want_grad, want_sum=want_loss and reduction != "none" or totals,
        a=a, b=b)
    if bad:
        hint = v.order_hint(fn, "target", pred_name)
        if bad & 1:
            raise v.first_bad(pred_name, x, lambda a: (a < 0) | (a > 1), _PROB_RANGE, hint)
        if bad & 2:
            raise v.first_bad("target", t, lambda a: ~((a >= 0) & (a <= 1)), _TARGET_RANGE,
                              hint)
        raise v.first_bad("weight", w, v.bad_weight, v.WEIGHT_RANGE)

    return elementwise_result(outs, s, sw, x.size, w is not None, want_loss=want_loss,
                              reduction=reduction, zero_division=zero_division)


def _check_pos_weight(pos_weight):
    """pos_weight is small (one value per class): checked whole, its own positions named."""
    raw = np.asarray(pos_weight)
    if v.bad_weight(raw).any():
        raise v.first_bad("pos_weight", raw, v.bad_weight, v.WEIGHT_RANGE)


def elementwise_pass(term, x, dtype, ops, nt, *, lo, hi, log_min, smooth, loss_scale,
                     reduction, denominator, want_grad, want_sum, a=0.0, b=0.0):
    """The elementwise kernel's one pass (term: the stem of a term of
    src/fe_terms_impl.h's FE_ELEMENTWISE; a, b: its own parameters) over operands `ops`
    ({name: array or None}, "pred" being x): the gradient's factor first (for "mean" the
    sum of the weights, or `denominator`), then the layout and the call.  Returns the
    kernel's (exact sum of the values, of the weights, range-check bits)."""
    w = ops.get("weight")
    grad_scale = loss_scale
    if want_grad and reduction == "mean":
        if denominator is None:
            denominator = float(x.size) if w is None else ExactSum.of(
                _runtime.exact_sum(np.broadcast_to(w, x.shape), dtype)).value()
        grad_scale = _api.grad_scale(reduction, loss_scale, denominator)
    if x.size == 0:
        return None, None, 0
    it_shape, strides = _layout.flat_layout(ops) or _layout.iteration_layout(
        x.shape, {name: None if a is None else a.strides for name, a in ops.items()},
        lead="pred")
    return _threads.run(
        _binary.bce, nt, x.size, _binary.MODES[term], it_shape,
        _api.driver_operands(ops, strides),
        ctype=v.KERNEL_TYPES[dtype], lo=lo, hi=hi, log_min=log_min, smooth=smooth,
        loss_scale=loss_scale, grad_scale=grad_scale, want_sum=want_sum, a=a, b=b)


def elementwise_result(outs, s, sw, size, weighted, *, want_loss, reduction, zero_division):
    """(loss or None, grad or None, Totals) of an elementwise pass: the outputs finished,
    the exact sums reduced."""
    loss_arr, grad = outs.finish()
    total = ExactSum.of(s)
    wtotal = ExactSum.of(sw) if weighted else ExactSum.of_value(size)
    loss = None
    if want_loss:
        loss = _api.reduced(total, wtotal, reduction=reduction, loss_arr=loss_arr,
                            zero_division=zero_division)
    return loss, grad, _api.Totals(total, wtotal, int(size))


_bce = functools.partial(_run, "bce_prob", "binary_cross_entropy", "prob")
_bce_logits = functools.partial(_run, "bce_logit", "binary_cross_entropy_with_logits",
                                "logits")

_TARGET = ("array_like", "Labels in [0, 1] (soft labels allowed), broadcastable to the "
           "prediction's shape; any real or bool dtype, read as it is.")
_PROB = ("array_like", "Predicted probabilities in [0, 1] (values outside raise ValueError).")
_LOGITS = ("array_like", "Real-valued scores; +-inf allowed (exact limits), NaN propagates.")
_LOG_MIN = ("float, optional", "Clamp each log from below at `log_min` instead of clipping p "
            "(PyTorch uses -100): reproduces torch.nn.functional.binary_cross_entropy, "
            "gradient included.  Not combined with eps.")
_POS_WEIGHT = ("array_like, optional", "PyTorch's weight of the positive class, broadcast "
               "along the last axis; finite, >= 0.")
_BCE_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> y = np.array([1, 1, 0, 1])
    >>> p = np.array([0.9, 0.95, 0.7, 0.75])
    >>> round(float(fe.binary_cross_entropy(y, p)), 8)
    0.41207717
    >>> fe.binary_cross_entropy(y, p, reduction="none").round(4)
    array([0.1054, 0.0513, 1.204 , 0.2877])
    >>> loss, grad = fe.binary_cross_entropy(y, p, return_grad=True)
    >>> grad.round(4)
    array([-0.2778, -0.2632,  0.8333, -0.3333])
    >>> round(float(fe.binary_cross_entropy(y, p, base=2)), 6)    # in bits
    0.594502
    """
_BCE_LOGITS_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> y = np.array([1, 1, 0, 1])
    >>> x = np.array([2.0, 3.0, -1.0, 1.0])
    >>> round(float(fe.binary_cross_entropy_with_logits(y, x)), 8)
    0.20050968
    >>> fe.binary_cross_entropy_with_logits_grad(y, x).round(4)
    array([-0.0298, -0.0119,  0.0672, -0.0672])
    >>> float(fe.binary_cross_entropy_with_logits([1.0], [1e4]))     # no overflow, exact
    0.0
    """


@_docs.document(_docs.ELEM, """
    Binary cross-entropy of probabilities: -[t log p + (1 - t) log(1 - p)] per element.""",
                params=dict(target=_TARGET, prob=_PROB, log_min=_LOG_MIN), pred="prob",
                per="per-element", examples=_BCE_EXAMPLES, notes="""
    fastent takes the target first (PyTorch takes the prediction first); an integer or bool
    `prob` with a float `target` warns that the arguments may be swapped.""")
@_registry.loss(_bce)
def binary_cross_entropy(target, prob, *, reduction="mean", weight=None, base="e",
                         eps="auto", log_min=None, label_smoothing=0.0,
                         zero_division=np.nan, out=None, grad_out=None, n_threads=None,
                         return_grad=False):
    loss, grad = _bce(target, prob, reduction=reduction, weight=weight, base=base, eps=eps,
                      log_min=log_min, label_smoothing=label_smoothing,
                      zero_division=zero_division, out=out, grad_out=grad_out,
                      n_threads=n_threads, want_loss=True, want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ELEM, """
    Gradient of `binary_cross_entropy` (same arguments) with respect to `prob`.

    With eps clipping it is the derivative at the clipped probability, (p - t) / (p (1 - p));
    with log_min it is PyTorch's (p - t) / max(p (1 - p), 1e-12).""",
                params=dict(target=_TARGET, prob=_PROB, log_min=_LOG_MIN), pred="prob",
                per="per-element", examples=_BCE_EXAMPLES, grad_fn=True)
def binary_cross_entropy_grad(target, prob, *, reduction="mean", weight=None, base="e",
                              eps="auto", log_min=None, label_smoothing=0.0,
                              zero_division=np.nan, grad_out=None, n_threads=None):
    return _bce(target, prob, reduction=reduction, weight=weight, base=base, eps=eps,
                log_min=log_min, label_smoothing=label_smoothing,
                zero_division=zero_division, out=None, grad_out=grad_out,
                n_threads=n_threads, want_loss=False, want_grad=True)[1]


@_docs.document(_docs.ELEM, """
    Binary cross-entropy of logits x, p = sigmoid(x), computed stably for every x:
    l = c t softplus(-x) + (1 - t) softplus(x), c = pos_weight (1 when not given).""",
                params=dict(target=_TARGET, logits=_LOGITS, pos_weight=_POS_WEIGHT),
                pred="logits", per="per-element", examples=_BCE_LOGITS_EXAMPLES, notes="""
    x = +-1e4 gives the exact loss and a gradient of -+1 or 0; the target comes first
    (PyTorch takes the logits first); an integer or bool `logits` array with a float target
    warns that the arguments may be swapped.""")
@_registry.loss(_bce_logits)
def binary_cross_entropy_with_logits(target, logits, *, reduction="mean", weight=None,
                                     base="e", pos_weight=None, label_smoothing=0.0,
                                     zero_division=np.nan, out=None, grad_out=None,
                                     n_threads=None, return_grad=False):
    loss, grad = _bce_logits(target, logits, reduction=reduction, weight=weight, base=base,
                             pos_weight=pos_weight, label_smoothing=label_smoothing,
                             zero_division=zero_division, out=out, grad_out=grad_out,
                             n_threads=n_threads, want_loss=True, want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ELEM, """
    Gradient of `binary_cross_entropy_with_logits` (same arguments) with respect to
    `logits`: sigmoid(x) - t, or (1 - t) sigmoid(x) - c t sigmoid(-x) with pos_weight c.""",
                params=dict(target=_TARGET, logits=_LOGITS, pos_weight=_POS_WEIGHT),
                pred="logits", per="per-element", examples=_BCE_LOGITS_EXAMPLES, grad_fn=True)
def binary_cross_entropy_with_logits_grad(target, logits, *, reduction="mean", weight=None,
                                          base="e", pos_weight=None, label_smoothing=0.0,
                                          zero_division=np.nan, grad_out=None,
                                          n_threads=None):
    return _bce_logits(target, logits, reduction=reduction, weight=weight, base=base,
                       pos_weight=pos_weight, label_smoothing=label_smoothing,
                       zero_division=zero_division, out=None, grad_out=grad_out,
                       n_threads=n_threads, want_loss=False, want_grad=True)[1]


def _alpha(alpha):
    a = v.real(alpha, "alpha")
    if not a <= 1:
        raise ValueError(f"alpha: must be in [0, 1], or < 0 to weigh both classes alike; "
                         f"got {alpha!r}")
    return a


def _gamma(gamma):
    g = v.real(gamma, "gamma")
    if not 0 <= g < np.inf:
        raise ValueError(f"gamma: must be a finite number >= 0, got {gamma!r}")
    return g


# a term's own parameters, in the order of the kernel's a and b: (public name, check)
_TERM_PARAMS = {"sigmoid_focal": (("alpha", _alpha), ("gamma", _gamma))}
_focal = functools.partial(_run, "sigmoid_focal", "sigmoid_focal_loss", "logits")


_FOCAL_PARAMS = dict(
    target=_TARGET, logits=_LOGITS,
    alpha=("float, default 0.25", "Weight of the positive class, 1 - alpha that of the "
           "negative one; a negative alpha weighs both by 1 (torchvision's convention)."),
    gamma=("float >= 0, default 2.0", "Focusing exponent: (1 - p_t)^gamma scales each "
           "element's cross-entropy; 0 gives binary_cross_entropy_with_logits."))
_FOCAL_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> y = np.array([1, 0, 1, 0])
    >>> x = np.array([2.0, -1.0, -0.5, 3.0])
    >>> fe.sigmoid_focal_loss(y, x, reduction="none").round(5)
    array([4.50000e-04, 1.69900e-02, 9.43500e-02, 2.07471e+00])
    >>> fe.sigmoid_focal_loss_grad(y, x, reduction="none").round(5)
    array([-0.00122,  0.03944, -0.13154,  0.84506])
    """


@_docs.document(_docs.ELEM, """
    Sigmoid focal loss of logits (Lin et al., 2017), torchvision's sigmoid_focal_loss:
    l = a_t (1 - p_t)^gamma BCE(t, x), p = sigmoid(x), p_t = p t + (1 - p)(1 - t),
    a_t = alpha t + (1 - alpha)(1 - t).""",
                params=_FOCAL_PARAMS, pred="logits", per="per-element",
                examples=_FOCAL_EXAMPLES, notes="""
    Computed in double from the stable softplus and sigmoid of
    `binary_cross_entropy_with_logits`: +-inf and +-1e4 logits give the exact limits.""")
@_registry.loss(_focal, alpha=_alpha, gamma=_gamma)
def sigmoid_focal_loss(target, logits, *, alpha=0.25, gamma=2.0, reduction="mean",
                       weight=None, base="e", zero_division=np.nan, out=None,
                       grad_out=None, n_threads=None, return_grad=False):
    loss, grad = _focal(target, logits, alpha=alpha, gamma=gamma, reduction=reduction,
                        weight=weight, base=base, zero_division=zero_division, out=out,
                        grad_out=grad_out, n_threads=n_threads, want_loss=True,
                        want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ELEM, """
    Gradient of `sigmoid_focal_loss` (same arguments) with respect to `logits`.""",
                params=_FOCAL_PARAMS, pred="logits", per="per-element",
                examples=_FOCAL_EXAMPLES, grad_fn=True)
def sigmoid_focal_loss_grad(target, logits, *, alpha=0.25, gamma=2.0, reduction="mean",
                            weight=None, base="e", zero_division=np.nan, grad_out=None,
                            n_threads=None):
    return _focal(target, logits, alpha=alpha, gamma=gamma, reduction=reduction,
                  weight=weight, base=base, zero_division=zero_division, out=None,
                  grad_out=grad_out, n_threads=n_threads, want_loss=False,
                  want_grad=True)[1]
