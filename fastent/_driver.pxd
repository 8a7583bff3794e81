# cython: language_level=3
"""The one driver skeleton of every family (cimported by _binary.pyx and _rowwise.pyx).

A call is a `Driver`: the operands by name (`Operand` slots PRED, TARGET, ...), each with its
data, element type and byte strides over one iteration shape (fastent/_layout.py: axes in the
prediction's memory order, merged where possible; a row family's class axis apart, with its
own stride), and the family's parameters.  The iteration range -- elements for the binary
family, rows for the row families -- is cut into blocks of `block` items, a function of the
shape only; `run` hands the blocks to the family's block function, on one thread (no OpenMP
region at all: small calls, forked children) or on an OpenMP team, each thread with its own
scratch and its own exact sums (src/fe_exact.h), merged at the end.  Exact sums merge in any
order, so no result depends on threads, blocks or instruction sets.  `odo_start` / `odo_next`
are the one odometer over the iteration axes.
"""
cimport numpy as cnp
from libc.stdlib cimport free, malloc
from cython.parallel cimport prange, threadid
from fastent._common cimport (FE_BLOCK, FE_MAXDIM, FE_PARALLEL_MIN, FE_T_F32, FE_T_F64,
                              FE_XBLOCK, fe_xsum, fe_xsum_init, fe_xsum_merge, xsum_state,
                              xsum_value)

# The operands, by name: every family uses the slots it needs, the others are absent
cdef enum:
    PRED = 0        # prediction: probabilities, logits, q (p for entropy)
    TARGET = 1      # target: labels in [0, 1], a target distribution p
    LABELS = 2      # integer class labels, intp (row families)
    WEIGHT = 3      # per-element or per-row weights
    POS_WEIGHT = 4  # BCE with logits: the positive class's weight
    OUT = 5         # the unreduced loss ("none")
    GRAD = 6        # the gradient
    STATS = 7       # per-row statistics (softmax_stats): float64, 5 per row
    NOPS = 8

cdef struct Operand:
    char *data                      # NULL: absent
    int type                        # element type code (src/fe_simd.h)
    Py_ssize_t cstride              # byte stride along the class axis (0: none)
    Py_ssize_t strides[FE_MAXDIM]   # byte strides over the iteration axes

cdef struct Driver:
    Py_ssize_t ndim                 # iteration axes
    Py_ssize_t shape[FE_MAXDIM]
    Py_ssize_t items                # elements (binary) or rows (row families) iterated
    Py_ssize_t elements             # elements read: decides whether threads are worth it
    Py_ssize_t block                # items per block
    Py_ssize_t scratch              # bytes of scratch each thread needs
    Py_ssize_t itemsize             # of the computation type (4: float32, 8: float64)
    int ctype                       # the computation type's code (float32 or float64)
    Operand op[NOPS]
    const void *params              # the family's parameters

# A family's block: items [b * block, min(items, (b + 1) * block)); sums: this thread's two
# exact sums (the written values and the weights), NULL when no sum is wanted; xs:
# FE_XBLOCK doubles of scratch for them; *bad gets the block's range-check bits.
ctypedef void (*BlockFn)(const Driver *D, Py_ssize_t b, char *scratch, fe_xsum *sums,
                         double *xs, int *bad) noexcept nogil

cdef inline int slot(str name) except -1:
    """The slot of an operand name."""
    if name == "pred": return PRED
    if name == "target": return TARGET
    if name == "labels": return LABELS
    if name == "weight": return WEIGHT
    if name == "pos_weight": return POS_WEIGHT
    if name == "out": return OUT
    if name == "grad": return GRAD
    if name == "stats": return STATS
    raise ValueError(f"unknown operand {name!r}")


cdef inline void odo_start(const Driver *D, Py_ssize_t naxes, Py_ssize_t i, Py_ssize_t *idx,
                           Py_ssize_t *off) noexcept nogil:
    """Multi-index over the first `naxes` iteration axes of their i-th position (C order),
    and every operand's byte offset there."""
    cdef Py_ssize_t d, k
    for k in range(NOPS):
        off[k] = 0
    for d in range(naxes - 1, -1, -1):
        idx[d] = i % D.shape[d]
        i = i // D.shape[d]
        for k in range(NOPS):
            off[k] += idx[d] * D.op[k].strides[d]


cdef inline void odo_next(const Driver *D, Py_ssize_t naxes, Py_ssize_t *idx,
                          Py_ssize_t *off) noexcept nogil:
    """Advance the multi-index over the first `naxes` axes by one, like an odometer."""
    cdef Py_ssize_t d, k
    for d in range(naxes - 1, -1, -1):
        idx[d] += 1
        for k in range(NOPS):
            off[k] += D.op[k].strides[d]
        if idx[d] < D.shape[d]:
            return
        for k in range(NOPS):
            off[k] -= D.shape[d] * D.op[k].strides[d]
        idx[d] = 0


cdef inline int init(Driver *D, Py_ssize_t ndim, int ctype) except -1:
    """An empty driver of `ndim` iteration axes computing in `ctype` (float32 or float64):
    every operand absent."""
    cdef Py_ssize_t k
    if ndim < 1 or ndim > FE_MAXDIM:
        raise ValueError(f"iteration layout must have 1 to {FE_MAXDIM} axes")
    if ctype != FE_T_F32 and ctype != FE_T_F64:
        raise ValueError("the computation type must be float32 or float64")
    D.ndim = ndim
    D.ctype = ctype
    D.itemsize = 4 if ctype == FE_T_F32 else 8
    D.items = D.elements = D.block = D.scratch = 0
    D.params = NULL
    for k in range(NOPS):
        D.op[k].data = NULL
        D.op[k].type = ctype
        D.op[k].cstride = 0
    return 0


cdef inline int set_operands(Driver *D, tuple shape, dict operands) except -1:
    """The iteration shape and the operands by name: {"pred": (array, strides, cstride,
    type code), ...} (None values: absent); outputs must have the computation type."""
    cdef Py_ssize_t d, k
    for d in range(D.ndim):
        D.shape[d] = shape[d]
    for name, value in operands.items():
        k = slot(name)
        if value is None:
            continue
        a, strides, cstride, code = value
        if (k == OUT or k == GRAD) and code != D.ctype or k == STATS and code != FE_T_F64:
            raise TypeError(f"{name}: outputs must have the computation dtype")
        D.op[k].data = <char *>cnp.PyArray_DATA(<cnp.ndarray>a)
        D.op[k].type = code
        D.op[k].cstride = cstride
        for d in range(D.ndim):
            D.op[k].strides[d] = strides[d]
    return 0


cdef inline int run(Driver *D, BlockFn block, int n_threads, bint want_sum,
                    fe_xsum *total, fe_xsum *wtotal) except -1:
    """Every block of D through `block`, on up to `n_threads` threads; the exact sums of the
    written values and of the weights go to *total and *wtotal (when `want_sum`).  Returns
    the range-check bits of all blocks."""
    cdef Py_ssize_t nblocks, b
    cdef int nt, tid, bad = 0
    fe_xsum_init(total)
    fe_xsum_init(wtotal)
    if D.items == 0 or D.elements == 0:
        return 0
    nblocks = (D.items + D.block - 1) // D.block
    # below FE_PARALLEL_MIN blocks' worth of elements waking the thread pool costs more
    # than it saves
    nt = 1 if D.elements < FE_PARALLEL_MIN * FE_BLOCK else max(1, min(n_threads, nblocks))
    cdef Py_ssize_t per_thread = (D.scratch + 63) // 64 * 64
    cdef char *mem = <char *>malloc(nt * per_thread + 64)
    cdef fe_xsum *sums = <fe_xsum *>malloc(2 * nt * sizeof(fe_xsum))
    cdef double *xs = <double *>malloc(nt * FE_XBLOCK * sizeof(double))
    cdef int *bads = <int *>malloc(nblocks * sizeof(int))
    if mem == NULL or sums == NULL or xs == NULL or bads == NULL:
        free(mem)
        free(sums)
        free(xs)
        free(bads)
        raise MemoryError()
    cdef char *scr = mem + (64 - (<size_t>mem) % 64) % 64     # 64-byte aligned
    for tid in range(2 * nt):
        fe_xsum_init(&sums[tid])
    with nogil:
        if nt == 1:
            for b in range(nblocks):
                block(D, b, scr, sums if want_sum else NULL, xs, &bads[b])
        else:           # guided: big chunks first, small ones last, so a late thread costs little
            for b in prange(nblocks, schedule='guided', num_threads=nt):
                tid = threadid()
                block(D, b, scr + tid * per_thread, sums + 2 * tid if want_sum else NULL,
                      xs + tid * FE_XBLOCK, &bads[b])
    for b in range(nblocks):
        bad |= bads[b]
    if want_sum:
        for tid in range(nt):      # exact: the order of the merge does not matter
            fe_xsum_merge(total, &sums[2 * tid])
            fe_xsum_merge(wtotal, &sums[2 * tid + 1])
    free(mem)
    free(sums)
    free(xs)
    free(bads)
    return bad


cdef inline object run_call(Driver *D, BlockFn block, object n_threads, bint want_value,
                            bint totals, object out, object grad, Py_ssize_t count,
                            object threads, object rounded):
    """run() for a public call on the thin path: as many threads as fastent._threads
    (`threads`: that module) gives `n_threads` (None or an int), drawn from its process-wide
    budget; a call too small for threads runs on the caller's, drawing nothing.  Returns
    what fastent._api.fast_result takes -- (out, grad, the correctly rounded sum of the
    written values if `want_value`, their exact sum's state if `totals`, count) -- or None
    when a block found bad data (the general path then raises its error)."""
    cdef int nt, bad
    cdef fe_xsum total, wtotal
    cdef bint want_sum = want_value or totals
    if D.elements < threads.PARALLEL_MIN:
        bad = run(D, block, 1, want_sum, &total, &wtotal)
    else:
        nt = threads.acquire(threads.resolve(n_threads), D.elements)
        try:
            bad = run(D, block, nt, want_sum, &total, &wtotal)
        finally:
            threads.release(nt, D.elements)
    if bad:
        return None
    return (out, grad, xsum_value(&total, rounded) if want_value else None,
            xsum_state(&total) if totals else None, count)
