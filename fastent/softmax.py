"""Softmax cross-entropy from logits: the public functions.

Validation, the O(rows) pass over labels and row weights, and output allocation happen
here; the arithmetic happens in one pass per row in the kernel (fastent/_softmax.pyx, row
kernels in src/fe_softmax_impl.h).
"""
import numpy as np

from fastent import _layout, _softmax
from fastent import _validation as v

__all__ = ["softmax_cross_entropy", "softmax_cross_entropy_grad"]

_TARGET_RANGE = "probabilities must lie in [0, 1] (NaN refused)"


def _run(target, logits, *, axis, reduction, weight, class_weight, ignore_index,
         label_smoothing, base, zero_division, out, grad_out, n_threads, want_loss,
         want_grad):
    x = v.prediction(logits, "logits")
    if x.ndim == 0:
        raise ValueError("logits: must have a class axis (got a 0-d array)")
    ax = v.axis(axis, x.ndim)
    C = x.shape[ax]
    row_shape = x.shape[:ax] + x.shape[ax + 1:]
    dtype = x.dtype
    reduction = v.reduction(reduction)
    loss_scale = v.log_base(base)
    smooth = v.fraction(label_smoothing, "label_smoothing")
    nt = v.n_threads(n_threads)
    cw = None if class_weight is None else v.class_weight(class_weight, C, dtype)

    t = v._asarray(target, "target")
    labels = tp = None
    if t.dtype.kind in "biu":
        if t.shape != row_shape:
            raise ValueError(f"target: integer class labels must have the logits' shape "
                             f"without axis {ax}, {row_shape}; got {t.shape}")
        labels = np.ascontiguousarray(t, dtype=np.intp)
        if ignore_index is not None and (isinstance(ignore_index, bool)
                                         or not isinstance(ignore_index, (int, np.integer))):
            raise TypeError(f"ignore_index: must be None or an int, got "
                            f"{type(ignore_index).__name__}")
    elif t.dtype.kind == "f":
        if t.shape == row_shape and row_shape != x.shape:
            raise ValueError(f"target: float targets are class probabilities and must have "
                             f"the logits' shape {x.shape}; got {t.shape} (pass class labels "
                             f"as an integer array)")
        if ignore_index is not None:
            raise ValueError("ignore_index: only applies to integer class labels, not to "
                             "probability targets")
        tp = v.operand(t, "target", dtype, x.shape)
    else:
        raise TypeError(f"target: dtype {t.dtype} is not supported; pass integer class "
                        f"labels or float probabilities")

    rw = None
    if weight is not None:
        rw = np.ascontiguousarray(v.operand(weight, "weight", np.float64, row_shape))
    nrows = int(np.prod(row_shape))
    if nrows and not C:
        raise ValueError(f"logits: the class axis (axis={axis}) is empty")

    # the O(rows) pass: labels in range, weights valid, the denominator of "mean"
    if labels is not None or rw is not None:
        bad_label, bad_weight, denom = _softmax.row_pass(
            C, None if labels is None else labels.reshape(-1),
            None if rw is None else rw.reshape(-1),
            None if cw is None or labels is None else cw.astype(np.float64), ignore_index)
        if bad_weight >= 0:
            raise v.first_bad("weight", rw, v.bad_weight, v.WEIGHT_RANGE)
        if bad_label >= 0:
            pos = np.unravel_index(bad_label, row_shape)
            raise ValueError(f"target: class label {int(t[pos])} at position "
                             f"{tuple(int(i) for i in pos)} is outside [0, {C})"
                             + ("" if ignore_index is None
                                else f" and is not ignore_index={ignore_index}"))
    else:
        denom = float(nrows)

    if out is not None:
        if not want_loss or reduction != "none":
            raise ValueError("out: only allowed with reduction='none' "
                             "(it receives the per-row loss)")
        v.output(out, "out", row_shape, dtype)
    if grad_out is not None:
        if not want_grad:
            raise ValueError("grad_out: only allowed when the gradient is computed")
        v.output(grad_out, "grad_out", x.shape, dtype)
    loss_arr = None
    if want_loss and reduction == "none":
        loss_arr = out if out is not None else np.empty(row_shape, dtype)
    grad = None
    if want_grad:
        grad = grad_out if grad_out is not None else np.empty_like(x)

    grad_scale = loss_scale
    if reduction == "mean":
        grad_scale = loss_scale / denom if denom > 0 else 0.0

    s, bad = 0.0, 0
    if nrows:
        ops = [x, tp, None, None, None, grad]
        moved = [None if a is None else np.moveaxis(a, ax, -1) for a in ops]
        row_strides = [None if a is None else a.strides[:-1] for a in moved]
        cstrides = [0 if a is None else a.strides[-1] for a in moved]
        row_strides[2] = None if labels is None else labels.strides
        row_strides[3] = None if rw is None else rw.strides
        row_strides[4] = None if loss_arr is None else loss_arr.strides
        it_shape, strides = _layout.iteration_layout(row_shape, row_strides, lead=0)
        s, bad = _softmax.softmax_ce(
            it_shape, C, [x, tp, labels, rw, loss_arr, grad], strides, cstrides,
            class_weight=cw, cw_sum=float(C if cw is None else np.sum(cw, dtype=np.float64)),
            smooth=smooth, ignore_index=ignore_index, loss_scale=loss_scale,
            grad_scale=grad_scale, n_threads=nt)
    if bad:
        raise v.first_bad("target", tp, lambda a: ~((a >= 0) & (a <= 1)), _TARGET_RANGE)

    loss = None
    if want_loss:
        if reduction == "none":
            loss = loss_arr
        elif reduction == "sum":
            loss = np.float64(s * loss_scale)
        else:
            loss = np.float64(s / denom * loss_scale) if denom > 0 else np.float64(zero_division)
    return loss, grad


def softmax_cross_entropy(target, logits, *, axis=-1, reduction="mean", weight=None,
                          class_weight=None, ignore_index=None, label_smoothing=0.0,
                          base="e", zero_division=np.nan, out=None, grad_out=None,
                          n_threads=None, return_grad=False):
    """Softmax cross-entropy of logits along `axis`, per row -sum_c a_c log_softmax(x)_c.

    Parameters
    ----------
    target : array_like
        Integer class labels (the logits' shape without `axis`): the row loss is
        logsumexp(x) - x[t]; or float probabilities of the logits' shape (rows need not sum
        to 1; the gradient is then softmax(x) sum(t) - t, the exact derivative).
    logits : array_like
        Real-valued scores; -inf masks a class (softmax 0, gradient 0; a zero target there
        contributes 0); a row of -inf or with a NaN gives NaN for that row only.
    axis : int, default -1
        The class axis; axis=1 is PyTorch's (N, C, d1, ...) layout.
    reduction : {"mean", "sum", "none"}, default "mean"
        "none" returns the per-row loss times the row weight; "mean" divides the weighted
        sum by the sum over counted rows of weight * class_weight[label] (PyTorch), or by
        the summed row weights for probability targets.
    weight : array_like, optional
        Per-row weights, broadcastable to the logits' shape without `axis`; finite, >= 0.
    class_weight : array_like, optional
        One finite, non-negative weight per class (PyTorch's `weight`).
    ignore_index : int, optional
        Rows whose label equals it contribute nothing to the loss, the mean's denominator
        or the gradient (their gradient is exactly 0).  Integer labels only.
    label_smoothing : float in [0, 1], default 0
        Targets become (1 - eps) target + eps / C.
    base : "e" or positive number, default "e"
        Logarithm base of the result (2: bits); scales losses and gradients.
    zero_division : float, default nan
        What "mean" returns when nothing is counted.
    out, grad_out : ndarray, optional
        Arrays receiving the per-row loss (reduction="none" only) and the gradient.
    n_threads : int, optional
        Upper bound on OpenMP threads; the result is the same for every thread count.
    return_grad : bool, default False
        Also return the gradient with respect to `logits`, computed in the same pass.
    """
    loss, grad = _run(target, logits, axis=axis, reduction=reduction, weight=weight,
                      class_weight=class_weight, ignore_index=ignore_index,
                      label_smoothing=label_smoothing, base=base,
                      zero_division=zero_division, out=out, grad_out=grad_out,
                      n_threads=n_threads, want_loss=True, want_grad=return_grad)
    return (loss, grad) if return_grad else loss


def softmax_cross_entropy_grad(target, logits, *, axis=-1, reduction="mean", weight=None,
                               class_weight=None, ignore_index=None, label_smoothing=0.0,
                               base="e", zero_division=np.nan, grad_out=None,
                               n_threads=None):
    """Gradient of `softmax_cross_entropy` (same arguments) with respect to `logits`:
    per row softmax(x) sum(a) - a, scaled by the reduction, the weights and the base."""
    return _run(target, logits, axis=axis, reduction=reduction, weight=weight,
                class_weight=class_weight, ignore_index=ignore_index,
                label_smoothing=label_smoothing, base=base, zero_division=zero_division,
                out=None, grad_out=grad_out, n_threads=n_threads, want_loss=False,
                want_grad=True)[1]
