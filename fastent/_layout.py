"""Iteration layouts: how a kernel walks several arrays of one shape without copying them.

The axes are put in the prediction's memory order (largest stride first), axes of length 1
are dropped, and neighbouring axes are merged wherever every operand allows it, so that a
C- or Fortran-contiguous array, a transposed one, or a broadcast scalar all become one long
axis, and a strided view becomes (rows, row length).  The kernel then needs only the shape
and each operand's byte strides.
"""


def flat_layout(operands):
    """The layout of operands ({name: array or None}) that are all C-contiguous (the common
    case, found without the general search): one axis over every element; None when one of
    them is not."""
    size = None
    for op in operands.values():
        if op is None:
            continue
        if not op.flags.c_contiguous:
            return None
        size = op.size
    return (size,), {name: None if op is None else (op.itemsize,)
                     for name, op in operands.items()}


def iteration_layout(shape, strides, lead):
    """Shape and per-operand byte strides of the merged iteration over several operands.

    `strides` holds, for each operand name, the byte strides of an operand of exactly
    `shape` (broadcast views included), or None for an absent operand; the strides of
    operand `lead` (the prediction's) set the order of the axes.  Returns (shape,
    {name: strides}) with at least one axis; an absent operand gets strides of 0.
    """
    names = list(strides)
    first = strides[lead]
    order = sorted(range(len(shape)), key=lambda a: -abs(first[a]))
    dims = []
    for a in order:
        if shape[a] == 1:
            continue
        n = shape[a]
        st = [0 if strides[name] is None else strides[name][a] for name in names]
        if dims and all(outer == s * n for outer, s in zip(dims[-1][1], st)):
            dims[-1] = (dims[-1][0] * n, st)
        else:
            dims.append((n, st))
    if not dims:
        dims = [(1, [0] * len(names))]
    new_shape = tuple(n for n, _ in dims)
    return new_shape, {name: tuple(st[k] for _, st in dims) for k, name in enumerate(names)}


# the operands of the row families that carry the class axis (the others have one value per
# row)
# (and "stats": softmax_stats' per-row numbers, laid out along the class axis's place)
CLASS_AXIS_OPERANDS = frozenset({"pred", "target", "grad", "stats"})


def row_layout(row_shape, axis, operands):
    """Row iteration for functions with a class axis.

    `operands` ({name: array or None}): those of CLASS_AXIS_OPERANDS have the full shape with
    the class axis at `axis`, the others have `row_shape`.  Returns (shape, strides,
    class_strides): the merged row iteration (axes in the prediction's memory order), each
    operand's byte strides over it, and each operand's byte stride along the class axis (0
    for row-only or absent operands), the last two by name.  Nothing is copied or
    transposed.
    """
    row_strides, class_strides = {}, {}
    for name, op in operands.items():
        if op is None:
            row_strides[name], class_strides[name] = None, 0
        elif name in CLASS_AXIS_OPERANDS:
            st = op.strides
            row_strides[name], class_strides[name] = st[:axis] + st[axis + 1:], st[axis]
        else:
            row_strides[name], class_strides[name] = op.strides, 0
    shape, strides = iteration_layout(row_shape, row_strides, lead="pred")
    return shape, strides, class_strides
