"""Iteration layouts: how a kernel walks several arrays of one shape without copying them.

The axes are put in the prediction's memory order (largest stride first), axes of length 1
are dropped, and neighbouring axes are merged wherever every operand allows it, so that a
C- or Fortran-contiguous array, a transposed one, or a broadcast scalar all become one long
axis, and a strided view becomes (rows, row length).  The kernel then needs only the shape
and each operand's byte strides.
"""


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
