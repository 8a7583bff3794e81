"""Iteration layouts: how a kernel walks several arrays of one shape without copying them.

The axes are put in the prediction's memory order (largest stride first), axes of length 1
are dropped, and neighbouring axes are merged wherever every operand allows it, so that a
C- or Fortran-contiguous array, a transposed one, or a broadcast scalar all become one long
axis, and a strided view becomes (rows, row length).  The kernel then needs only the shape
and each operand's byte strides.
"""


def iteration_layout(shape, operands, lead=0):
    """Shape and per-operand byte strides of the merged iteration over `operands`.

    `operands` is a list of arrays of exactly `shape` (broadcast views included) or None;
    operands[lead] (the prediction) sets the order of the axes.  Returns (shape, strides)
    with at least one axis; a None operand gets strides of 0.
    """
    first = operands[lead]
    order = sorted(range(len(shape)), key=lambda a: -abs(first.strides[a]))
    dims = []
    for a in order:
        if shape[a] == 1:
            continue
        n = shape[a]
        st = [0 if op is None else op.strides[a] for op in operands]
        if dims and all(outer == s * n for outer, s in zip(dims[-1][1], st)):
            dims[-1] = (dims[-1][0] * n, st)
        else:
            dims.append((n, st))
    if not dims:
        dims = [(1, [0] * len(operands))]
    new_shape = tuple(n for n, _ in dims)
    strides = [tuple(st[k] for _, st in dims) for k in range(len(operands))]
    return new_shape, strides
