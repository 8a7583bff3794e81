"""Iteration layouts: how a kernel walks several arrays of one shape without copying them.

The axes are put in the prediction's memory order (largest stride first), axes of length 1
are dropped, and neighbouring axes are merged wherever every operand allows it, so that a
C- or Fortran-contiguous array, a transposed one, or a broadcast scalar all become one long
axis, and a strided view becomes (rows, row length).  The kernel then needs only the shape
and each operand's byte strides.
"""


def flat_layout(operands):
    """The layout of operands that are all C-contiguous (the common case, found without the
    general search): one axis over every element.  None when one of them is not."""
    size = None
    for op in operands:
        if op is None:
            continue
        if not op.flags.c_contiguous:
            return None
        size = op.size
    return (size,), [None if op is None else (op.itemsize,) for op in operands]


def iteration_layout(shape, strides, lead=0):
    """Shape and per-operand byte strides of the merged iteration over several operands.

    `strides` holds, for each operand of exactly `shape` (broadcast views included), its
    byte strides, or None for an absent operand; strides[lead] (the prediction's) sets the
    order of the axes.  Returns (shape, strides) with at least one axis; an absent operand
    gets strides of 0.
    """
    first = strides[lead]
    order = sorted(range(len(shape)), key=lambda a: -abs(first[a]))
    dims = []
    for a in order:
        if shape[a] == 1:
            continue
        n = shape[a]
        st = [0 if op is None else op[a] for op in strides]
        if dims and all(outer == s * n for outer, s in zip(dims[-1][1], st)):
            dims[-1] = (dims[-1][0] * n, st)
        else:
            dims.append((n, st))
    if not dims:
        dims = [(1, [0] * len(strides))]
    new_shape = tuple(n for n, _ in dims)
    return new_shape, [tuple(st[k] for _, st in dims) for k in range(len(strides))]


# which of the row-wise kernels' operands [prediction, target, labels, row weight, out,
# grad] (fastent/_rowwise.pyx) carry the class axis
CLASS_AXIS_OPERANDS = (True, True, False, False, False, True)


def row_layout(row_shape, axis, operands, has_class_axis):
    """Row iteration for functions with a class axis.

    `operands` are arrays or None; those flagged in `has_class_axis` have the full shape
    with the class axis at `axis`, the others have `row_shape`.  Returns (shape, strides,
    class_strides): the merged row iteration (axes in the first operand's memory order), each
    operand's byte strides over it, and each operand's byte stride along the class axis
    (0 for row-only or absent operands).  Nothing is copied or transposed.
    """
    row_strides, class_strides = [], []
    for op, has_class in zip(operands, has_class_axis):
        if op is None:
            row_strides.append(None)
            class_strides.append(0)
        elif has_class:
            st = op.strides
            row_strides.append(st[:axis] + st[axis + 1:])
            class_strides.append(st[axis])
        else:
            row_strides.append(op.strides)
            class_strides.append(0)
    shape, strides = iteration_layout(row_shape, row_strides, lead=0)
    return shape, strides, class_strides
