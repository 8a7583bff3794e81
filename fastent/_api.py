"""What every public function does around its kernel call: output arrays in, reduced
results out.  One place, so the three families allocate and reduce alike."""
from typing import NamedTuple

import numpy as np

from fastent import _rowwise, _threads
from fastent import _validation as v
from fastent._exact import ExactSum


class Totals(NamedTuple):
    """What a call adds to a running mean, as exact sums (fastent._exact.ExactSum): total =
    the sum of the values "none" returns (w * loss in the unit of `base`), weight = the
    mean's denominator; count = elements or rows counted."""
    total: ExactSum
    weight: ExactSum
    count: int


def driver_operands(arrays, strides, cstrides=None):
    """The operands by name as the driver takes them (fastent/_driver.pxd): {name: (array,
    byte strides over the iteration, byte stride along the class axis, element type code)}
    from {name: array or None} and their layouts ({name: strides}, {name: class stride});
    absent operands are left out."""
    return {name: (a, strides[name], 0 if cstrides is None else cstrides[name],
                   v.type_code(a))
            for name, a in arrays.items() if a is not None}


def fast_result(r, reduction, totals):
    """_run's result (loss, grad, Totals or None) from a thin call path's (out, grad,
    rounded sum, exact sum state, count): every counted value has weight 1 there, so the
    mean's denominator is the count (as `reduced` computes it on the general path)."""
    out, grad, value, state, count = r
    loss = out
    if value is not None and reduction != "none":
        loss = np.float64(value if reduction == "sum" else value / count)
    if not totals:
        return loss, grad, None
    return loss, grad, Totals(ExactSum.of(state), ExactSum.of_value(count), count)


class Outputs(NamedTuple):
    """The arrays a kernel writes (loss: the unreduced loss or None; grad: the gradient or
    None) and the caller's `out` / `grad_out` they go to when those are written apart
    (overlapping an input, or not aligned)."""
    loss: object
    grad: object
    out: object = None
    grad_out: object = None

    def finish(self):
        """Copy results computed apart into the caller's arrays; returns
        (unreduced loss, gradient) as the caller sees them."""
        if self.out is not None:
            np.copyto(self.out, self.loss)
        if self.grad_out is not None:
            np.copyto(self.grad_out, self.grad)
        return (self.loss if self.out is None else self.out,
                self.grad if self.grad_out is None else self.grad_out)


def outputs(out, grad_out, *, want_loss, want_grad, reduction, loss_shape, pred, dtype,
            inputs=()):
    """Check caller-provided outputs and allocate the missing ones, of the computation
    `dtype` (in the prediction's memory order when they have its shape).

    An `out` or `grad_out` that shares memory with an input (`pred` or any of `inputs`, e.g.
    ``grad_out=logits``) is written as NumPy's ufuncs write it: as if the inputs had been
    copied first -- the kernel writes a fresh array, copied into the caller's at the end
    (Outputs.finish); so is one that is not aligned (the kernels store typed values).
    `out` and `grad_out` overlapping each other is a ValueError (each receives its own
    result).

    Returns Outputs: the arrays the kernel writes (the unreduced loss only for
    reduction="none", the gradient only when it is wanted)."""
    if out is not None:
        if not want_loss or reduction != "none":
            raise ValueError("out: only allowed with reduction='none' "
                             "(it receives the unreduced loss)")
        out = v.output(out, "out", loss_shape, dtype)
    if grad_out is not None:
        if not want_grad:
            raise ValueError("grad_out: only allowed when the gradient is computed")
        grad_out = v.output(grad_out, "grad_out", pred.shape, dtype)
        if out is not None and np.may_share_memory(out, grad_out):
            raise ValueError("out and grad_out: must not share memory (each receives its "
                             "own result)")
    ins = [a for a in (pred, *inputs) if isinstance(a, np.ndarray)]

    def apart(arr):       # overlapping an input, or not aligned (the kernels write typed)
        return arr is not None and (not arr.flags.aligned
                                    or any(np.may_share_memory(arr, a) for a in ins))

    out_apart, grad_apart = apart(out), apart(grad_out)
    loss_arr = None
    if want_loss and reduction == "none":
        if out is not None and not out_apart:
            loss_arr = out
        elif loss_shape == pred.shape:
            loss_arr = np.empty_like(pred, dtype=dtype)   # the prediction's memory order
        else:
            loss_arr = np.empty(loss_shape, dtype)
    grad = None
    if want_grad:
        grad = grad_out if grad_out is not None and not grad_apart else np.empty_like(
            pred, dtype=dtype)
    return Outputs(loss_arr, grad, out if out_apart else None,
                   grad_out if grad_apart else None)


def grad_scale(reduction, loss_scale, denominator):
    """Factor of d(reduced loss) / d(element loss): 1 / ln(base), over the mean's
    denominator for "mean" (0 when nothing is counted: the gradient is then 0)."""
    if reduction != "mean":
        return loss_scale
    return loss_scale / denominator if denominator > 0 else 0.0


def reduced(total, denominator, *, reduction, loss_arr, zero_division):
    """The loss to return: the unreduced array, or a float64 scalar: "sum" the correctly
    rounded exact total, "mean" the quotient of the two correctly rounded exact sums
    (ExactSum), `zero_division` when the denominator is not positive."""
    if reduction == "none":
        return loss_arr
    if reduction == "sum":
        return np.float64(total.value())
    w = denominator.value()
    if w > 0:
        return np.float64(total.value() / w)
    return np.float64(zero_division)


def row_pass(row_shape, n_classes, weight, *, labels=None, class_weight=None,
             ignore_index=None, target=None, n_threads=1):
    """The O(rows) pass of the class-axis functions, on `n_threads` threads: row weights
    finite and >= 0, labels in range, and the denominator of "mean" (counted rows, weighted
    by the row weight and by the class weight of their label).  Returns (row weights as
    float64 or None, denominator as an ExactSum, number of counted rows)."""
    rw = None
    if weight is not None:
        rw = np.ascontiguousarray(v.operand(weight, "weight", np.float64, row_shape))
    if labels is None and rw is None:
        n = int(np.prod(row_shape))
        return None, ExactSum.of_value(n), n
    flat_labels = None if labels is None else labels.reshape(-1)
    n = int(np.prod(row_shape))
    bad, denom, count = _threads.run(
        _rowwise.row_pass, n_threads, n, n_classes, flat_labels,
        None if rw is None else rw.reshape(-1),
        None if class_weight is None or labels is None else np.ascontiguousarray(
            class_weight, dtype=np.float64), ignore_index)
    if bad & 2:
        raise v.first_bad("weight", rw, v.bad_weight, v.WEIGHT_RANGE)
    if bad & 1:
        outside = (flat_labels < 0) | (flat_labels >= n_classes)
        if ignore_index is not None:
            outside &= flat_labels != ignore_index
        pos = v.position(outside.reshape(row_shape))
        raise v.BadValue("target", pos, f"target: class label {int(target[pos])}",
                         f" is outside [0, {n_classes})" + (
                             "" if ignore_index is None
                             else f" and is not ignore_index={ignore_index}"))
    return rw, ExactSum.of(denom), count
