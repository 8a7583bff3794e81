"""Softmax cross-entropy from logits, and per-row softmax statistics: the public functions.

Validation, the O(rows) pass over labels and row weights, and output allocation happen
here; the arithmetic happens in one pass per row in the kernel (fastent/_rowwise.pyx on the
driver of fastent/_driver.pxd, row kernels in src/fe_softmax_impl.h).
"""
import numbers
from typing import NamedTuple, Optional

import numpy as np

from fastent import _api, _dask, _docs, _layout, _registry, _rowwise, _threads
from fastent import _validation as v
from fastent._exact import ExactSum

__all__ = ["softmax_cross_entropy", "softmax_cross_entropy_grad", "softmax_stats"]

_TARGET_RANGE = "probabilities must lie in [0, 1] (NaN refused)"
_ORDER = v.order_hint("softmax_cross_entropy", "target", "logits")


def _labels(t, x, ax, row_shape):
    """Integer class labels `t` (an array) checked for the rows of logits `x`, as intp."""
    if t.shape != row_shape:
        axes = [a for a in range(x.ndim) if x.shape[:a] + x.shape[a + 1:] == t.shape]
        hint = ""
        if t.shape == x.shape:
            hint = (f"; integer targets of the logits' shape look one-hot: cast them to "
                    f"float to use them as probabilities (target.astype(np.float32)), or "
                    f"pass the labels, target.argmax(axis={ax})")
        elif t.ndim == x.ndim and t.shape[ax] == 1 and t.shape[:ax] + t.shape[ax + 1:] \
                == row_shape:
            hint = (f"; class labels have no class axis: pass target.ravel()" if t.ndim == 2
                    else f"; class labels have no class axis: pass "
                         f"np.squeeze(target, axis={ax})")
        elif axes:
            hint = f"; did you mean axis={axes[0]}? (PyTorch's (N, C, ...) layout is axis=1)"
        raise ValueError(f"target: integer class labels must have the logits' shape "
                         f"without axis {ax}, {row_shape}; got {t.shape}{hint}")
    return v.labels(t, "target")


def _swapped_hint(x):
    """The end of a probability target's shape error: the order hint only where the
    swapped call would be valid (the logits are integer labels of the target's rows)."""
    def hint(ts):
        rows = [ts[:a] + ts[a + 1:] for a in range(len(ts))]
        return _ORDER if x.dtype.kind in "biu" and x.shape in rows else ""
    return hint


def _run(target, logits, *, axis, reduction, weight, class_weight, ignore_index,
         label_smoothing, base, zero_division, out, grad_out, n_threads, want_loss,
         want_grad, denominator=None, totals=False):
    """Validate, run the O(rows) pass and the kernel; returns (loss or None, grad or None,
    Totals).  `denominator` replaces the mean's denominator of the gradient (Dask)."""
    if denominator is None:                         # the common case, in O(1) (_rowwise.fast)
        r = _rowwise.fast(_rowwise.Kind.SOFTMAX, target, logits, axis, reduction, base, None,
                          zero_division, out, grad_out, n_threads, want_loss, want_grad,
                          weight, class_weight, ignore_index, label_smoothing, totals)
        if r is not None:
            return _api.fast_result(r, reduction, totals)
    if _dask.is_dask(target, logits, weight):
        return _dask.run("softmax_cross_entropy", target, logits, reduction=reduction,
                         weight=weight, want_loss=want_loss, want_grad=want_grad,
                         class_axis=axis,
                         pred_name="logits", out=out, grad_out=grad_out,
                         denominator=denominator, totals=totals, axis=axis,
                         class_weight=class_weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, base=base,
                         zero_division=zero_division, n_threads=n_threads)
    x, dtype = v.prediction(logits, "logits")
    ax, C, row_shape = v.class_axis(x, axis, "logits")
    reduction = v.reduction(reduction)
    zero_division = v.real(zero_division, "zero_division")
    loss_scale = v.log_base(base)
    smooth = v.fraction(label_smoothing, "label_smoothing")
    nt = v.n_threads(n_threads)
    cw = None if class_weight is None else v.class_weight(class_weight, C, dtype)

    t = v.as_array(target, "target")
    labels = tp = None
    if t.dtype.kind in "biu":
        labels = _labels(t, x, ax, row_shape)
        ignore_index = v.ignore_index(ignore_index)
    elif t.dtype.kind == "f" or v.is_bfloat16(t.dtype):
        if t.shape == row_shape and row_shape != x.shape:
            raise ValueError(f"target: float targets are class probabilities and must have "
                             f"the logits' shape {x.shape}; got {t.shape} (pass class labels "
                             f"as an integer array)")
        if ignore_index is not None:
            raise ValueError("ignore_index: only applies to integer class labels, not to "
                             "probability targets")
        tp = v.operand(t, "target", dtype, x.shape, keep_type=True, hint=_swapped_hint(x),
                       whole_axis=ax, column_hint=v.LABELS_COLUMN)
    else:
        raise TypeError(f"target: dtype {t.dtype} is not supported; pass integer class "
                        f"labels or float probabilities")

    nrows = int(np.prod(row_shape))
    if nrows and not C:
        raise ValueError(f"logits: the class axis (axis={axis}) is empty")
    rw, denom, count = _api.row_pass(row_shape, C, weight, labels=labels, class_weight=cw,
                                     ignore_index=ignore_index, target=t, n_threads=nt)

    outs = _api.outputs(out, grad_out, want_loss=want_loss, want_grad=want_grad,
                        reduction=reduction, loss_shape=row_shape, pred=x,
                        dtype=dtype, inputs=(t, tp, labels, rw, cw))
    loss_arr, grad = outs.loss, outs.grad
    grad_scale = _api.grad_scale(reduction, loss_scale,
                                 denom.value() if denominator is None else denominator)

    s, bad = None, 0
    if nrows:
        ops = dict(pred=x, target=tp, labels=labels, weight=rw, out=loss_arr, grad=grad)
        it_shape, strides, cstrides = _layout.row_layout(row_shape, ax, ops)
        s, bad = _threads.run(
            _rowwise.rowwise, nt, x.size, _rowwise.Kind.SOFTMAX, it_shape, C,
            _api.driver_operands(ops, strides, cstrides),
            compute_type=v.KERNEL_TYPES[dtype], class_weight=cw,
            cw_sum=float(C if cw is None else np.sum(cw, dtype=np.float64)),
            smooth=smooth, ignore_index=ignore_index, loss_scale=loss_scale,
            grad_scale=grad_scale, want_sum=want_loss and reduction != "none" or totals)
    if bad:
        raise v.first_bad("target", tp, lambda a: ~((a >= 0) & (a <= 1)), _TARGET_RANGE)

    loss_arr, grad = outs.finish()
    total = ExactSum.of(s)
    loss = None
    if want_loss:
        loss = _api.reduced(total, denom, reduction=reduction, loss_arr=loss_arr,
                            zero_division=zero_division)
    return loss, grad, _api.Totals(total, denom, int(count))


_PARAMS = dict(
    target=("array_like", "Integer class labels (the logits' shape without `axis`): the row "
            "loss is logsumexp(x) - x[t]; or float probabilities of the logits' shape (rows "
            "need not sum to 1; the gradient is then softmax(x) sum(t) - t, the exact "
            "derivative)."),
    logits=("array_like", "Real-valued scores; -inf masks a class (softmax 0, gradient 0; a "
            "zero target there contributes 0); a row of -inf or with a NaN gives NaN for that "
            "row only."),
    class_weight=("array_like, optional", "One finite, non-negative weight per class "
                  "(PyTorch's `weight`)."),
    ignore_index=("int, optional", "Rows whose label equals it count nowhere: not in the "
                  "loss, the mean's denominator or the gradient (exactly 0 there).  Integer "
                  "labels only."),
)
_EXAMPLES = """
    >>> import numpy as np, fastent as fe
    >>> labels = np.array([2, 0])
    >>> logits = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    >>> round(float(fe.softmax_cross_entropy(labels, logits)), 8)
    0.47952534
    >>> fe.softmax_cross_entropy(labels, logits, reduction="none").round(4)
    array([0.4076, 0.5514])
    >>> fe.softmax_cross_entropy_grad(labels, logits).round(4)
    array([[ 0.045 ,  0.1224, -0.1674],
           [-0.2119,  0.106 ,  0.106 ]])
    >>> x = np.zeros((2, 5, 3))                          # PyTorch's (N, C, d) layout
    >>> y = np.array([[0, 1, 4], [2, -100, 3]])
    >>> round(float(fe.softmax_cross_entropy(y, x, axis=1, ignore_index=-100)), 6)  # log 5
    1.609438
    """


@_docs.document(_docs.ROWS, """
    Softmax cross-entropy of logits along `axis`: per row -sum_c a_c log_softmax(x)_c.""",
                params=_PARAMS, pred="logits", per="per-row", examples=_EXAMPLES)
@_registry.loss(_run)
def softmax_cross_entropy(target, logits, *, axis=-1, reduction="mean", weight=None,
                          class_weight=None, ignore_index=None, label_smoothing=0.0,
                          base="e", zero_division=np.nan, out=None, grad_out=None,
                          n_threads=None, return_grad=False):
    loss, grad = _run(target, logits, axis=axis, reduction=reduction, weight=weight,
                      class_weight=class_weight, ignore_index=ignore_index,
                      label_smoothing=label_smoothing, base=base,
                      zero_division=zero_division, out=out, grad_out=grad_out,
                      n_threads=n_threads, want_loss=True, want_grad=return_grad)[:2]
    return (loss, grad) if return_grad else loss


@_docs.document(_docs.ROWS, """
    Gradient of `softmax_cross_entropy` (same arguments) with respect to `logits`: per row
    softmax(x) sum(a) - a, scaled by the reduction, the weights and the base.""",
                params=_PARAMS, pred="logits", per="per-row", examples=_EXAMPLES,
                grad_fn=True)
def softmax_cross_entropy_grad(target, logits, *, axis=-1, reduction="mean", weight=None,
                               class_weight=None, ignore_index=None, label_smoothing=0.0,
                               base="e", zero_division=np.nan, grad_out=None,
                               n_threads=None):
    return _run(target, logits, axis=axis, reduction=reduction, weight=weight,
                class_weight=class_weight, ignore_index=ignore_index,
                label_smoothing=label_smoothing, base=base, zero_division=zero_division,
                out=None, grad_out=grad_out, n_threads=n_threads, want_loss=False,
                want_grad=True)[1]


# ---- per-row statistics in one pass --------------------------------------------------------
class SoftmaxStats(NamedTuple):
    """softmax_stats' result: arrays shaped like the rows (the logits' shape without
    `axis`); the float ones in the computation dtype."""
    logsumexp: np.ndarray           # log sum exp x (natural log: the logits' own unit)
    log_prob: Optional[np.ndarray]  # log softmax(x)[target] in `base`; NaN for ignored rows
    entropy: np.ndarray             # -sum softmax(x) log softmax(x), in `base`
    max_prob: np.ndarray            # max softmax(x) (the confidence)
    argmax: np.ndarray              # intp: the first maximum (the first NaN if any)
    correct: Optional[np.ndarray]   # bool: target among the top k (False for ignored rows)
    ignored: Optional[np.ndarray]   # bool: the rows whose target is ignore_index


def _stats_rows(x, labels, ax, C, row_shape, dtype, ignore_index, loss_scale, nt):
    """The kernel's pass: (loss as softmax_cross_entropy's "none" returns it, the float64
    statistics of each row: logsumexp, entropy (nats), max_prob, argmax, rank of the label,
    the kernel's bad bits: 4 = a label outside [0, C) that is not ignore_index)."""
    loss = np.empty(row_shape, dtype)
    stats = np.empty(row_shape + (5,), np.float64)
    bad = 0
    if x.size:
        ops = dict(pred=x, labels=labels, out=loss, stats=np.moveaxis(stats, -1, ax))
        it_shape, strides, cstrides = _layout.row_layout(row_shape, ax, ops)
        bad = _threads.run(_rowwise.rowwise, nt, x.size, _rowwise.Kind.SOFTMAX, it_shape, C,
                           _api.driver_operands(ops, strides, cstrides),
                           compute_type=v.KERNEL_TYPES[dtype], ignore_index=ignore_index,
                           loss_scale=loss_scale, grad_scale=0.0, want_sum=False)[1]
    return loss, stats, bad


def softmax_stats(logits, target=None, *, axis=-1, k=1, ignore_index=None, base="e",
                  n_threads=None):
    """Per-row statistics of softmax(logits) along `axis`, in one pass over the logits.

    Parameters
    ----------
    logits : array_like
        Real-valued scores; -inf masks a class.  Comes first: these are statistics of one
        array (the target, when given, only selects a class).
    target : array_like of int, optional
        Class labels (the logits' shape without `axis`): enables `log_prob`, `correct` and
        `ignored`.
    axis : int, default -1
        The class axis.
    k : int >= 1, default 1
        `correct` is True when fewer than k classes have a logit above the target's (ties
        count in the target's favour; top-1 is accuracy).
    ignore_index : int, optional
        Rows whose target equals it are marked in `ignored`: their log_prob is NaN and
        correct is False.  Other labels outside [0, C) raise ValueError.
    base : "e" or positive number, default "e"
        Base of the logarithms of `log_prob` and `entropy` (2: bits).  `logsumexp` stays in
        the logits' own unit (natural log).
    n_threads : int, optional
        Threads for this call: None uses the usable cores, a positive int caps them, -1 all
        usable cores, -2 all but one.  The result does not depend on it, to the bit.

    Returns
    -------
    SoftmaxStats
        (fastent.SoftmaxStats) A named tuple of arrays shaped like the rows: ``logsumexp`` (for a z-loss),
        ``log_prob`` (of the target; exactly minus softmax_cross_entropy(target, logits,
        reduction="none", base=base), bit for bit; a NaN is np.nan), ``entropy`` of
        softmax(x), ``max_prob`` (the confidence: 1 / sum exp(x - max x)), ``argmax`` (intp;
        the first NaN if the row has one, as numpy.argmax), ``correct`` (bool) and
        ``ignored`` (bool); the last three of these that need a target are None without
        one.  A row with a NaN gives NaN statistics, argmax at the NaN and correct False.

    Notes
    -----
    The mean accuracy, confidence or entropy over a stream is the mean of these arrays; to
    accumulate exactly over batches, add ``correct.sum()`` and the number of counted rows
    (``(~ignored).sum()``), or use ``RunningLoss("softmax_cross_entropy")`` for the mean
    log-loss.  Dask arrays give lazy fields.

    Examples
    --------
    >>> import numpy as np, fastent as fe
    >>> x = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    >>> s = fe.softmax_stats(x, np.array([1, 2]))
    >>> s.argmax, s.correct
    (array([0, 2]), array([False,  True]))
    >>> s.max_prob.round(4), s.log_prob.round(4)
    (array([0.6652, 0.9094]), array([-1.4076, -0.0949]))
    >>> fe.softmax_stats(x, np.array([1, 2]), k=2).correct
    array([ True,  True])
    """
    if _dask.is_dask(logits, target):
        return _dask.softmax_stats(logits, target, axis=axis, k=k, ignore_index=ignore_index,
                                   base=base, n_threads=n_threads)
    x, dtype = v.prediction(logits, "logits")
    ax, C, row_shape = v.class_axis(x, axis, "logits")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k: must be an int >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"k: must be an int >= 1, got {k!r}")
    loss_scale = v.log_base(base)
    nt = v.n_threads(n_threads)
    nrows = int(np.prod(row_shape))
    if nrows and not C:
        raise ValueError(f"logits: the class axis (axis={axis}) is empty")
    if target is None:
        if ignore_index is not None:
            raise ValueError("ignore_index: only applies with a target")
        labels, ignore_index = np.full(row_shape, -1, np.intp), -1
    else:
        t = v.as_array(target, "target")
        if t.dtype.kind not in "biu":
            raise TypeError(f"target: must be integer class labels, got dtype {t.dtype}")
        labels = _labels(t, x, ax, row_shape)
        ignore_index = v.ignore_index(ignore_index)
    loss, st, bad = _stats_rows(x, labels, ax, C, row_shape, dtype, ignore_index, loss_scale,
                                nt)
    if bad & 4:       # labels are checked in the kernel's pass; the row pass names the first
        _api.row_pass(row_shape, C, None, labels=labels, ignore_index=ignore_index,
                      target=t, n_threads=nt)
    log_prob = correct = ignored = None
    if target is not None:
        ignored = (np.zeros(row_shape, bool) if ignore_index is None
                   else labels == ignore_index)
        log_prob = np.negative(loss)
        log_prob[ignored | np.isnan(loss)] = np.nan     # the one NaN, as every result has
        # the rank of a NaN row is C (never among the top k), so k is capped at C
        correct = (st[..., 4] < min(k, C)) & ~ignored
    return SoftmaxStats(st[..., 0].astype(dtype), log_prob,
                        (st[..., 1] * loss_scale).astype(dtype), st[..., 2].astype(dtype),
                        st[..., 3].astype(np.intp), correct, ignored)
