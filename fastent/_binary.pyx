# cython: language_level=3
"""Binary cross-entropy kernels: the block loop around the inner loops of src/fe_binary.h.

The Python layer (fastent/binary.py) hands over the prediction, target, weights, pos_weight,
loss output and gradient output, all of one iteration shape (axes in the prediction's memory
order, mergeable axes merged; see fastent/_layout.py) with their byte strides.  The flat
iteration range is cut into blocks of FE_BLOCK elements; OpenMP threads take blocks as they
come free (one thread: no OpenMP region at all); within a block each row segment runs through one vectorised inner loop,
operands with a non-unit stride being gathered into (and outputs scattered from) a per-thread
scratch buffer.  Each thread adds the written losses (and the weights) of its segments to
its own exact sum (src/fe_exact.h); exact sums merge in any order, so the result does not
depend on threads, blocks or instruction sets.
"""

cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, threadid
from libc.stdlib cimport free, malloc
from fastent._common cimport (FE_BLOCK, FE_MAXDIM, FE_PARALLEL_MIN, FE_T_F32, FE_T_F64,
                              FE_XBLOCK, disjoint, fe_gather_as, fe_scatter, fe_xsum,
                              fe_xsum_init, fe_xsum_merge, plain_array, real_number,
                              thread_count_plain, xsum_state, xsum_value)

cnp.import_array()

cdef extern from "fe_binary.h" nogil:
    enum: FE_BCE_CLIP, FE_BCE_LOGMIN, FE_BCE_LOGITS
    ctypedef struct fe_bparams:
        int mode
        double lo, hi
        double log_min
        double smooth
        double loss_scale
        double grad_scale
    ctypedef void (*fe_bce_f32_fn)(Py_ssize_t, const float *, const float *, const float *,
                                   const float *, float *, float *, const fe_bparams *, int *,
                                   fe_xsum *, fe_xsum *, double *)
    ctypedef void (*fe_bce_f64_fn)(Py_ssize_t, const double *, const double *,
                                   const double *, const double *, double *, double *,
                                   const fe_bparams *, int *, fe_xsum *, fe_xsum *, double *)
    fe_bce_f32_fn fe_bce_f32
    fe_bce_f64_fn fe_bce_f64
    int fe_binary_select(int requested)

# Operand slots, in the order of the inner loops' arguments.
cdef enum:
    T = 0      # target
    X = 1      # prediction: probability or logit
    W = 2      # per-element weight          (optional)
    PW = 3     # pos_weight (logits only)    (optional)
    OUT = 4    # per-element loss            (optional: scratch when not wanted)
    GRAD = 5   # gradient                    (optional)
    NOPS = 6

cdef struct Layout:
    Py_ssize_t ndim
    Py_ssize_t total
    Py_ssize_t itemsize
    Py_ssize_t shape[FE_MAXDIM]
    Py_ssize_t strides[NOPS][FE_MAXDIM]
    char *data[NOPS]
    int types[NOPS]           # element type codes (src/fe_simd.h); inputs may differ
    int ctype                 # the computation type's code

def select_isa(int requested=-1):
    """Point the dispatch table at the best kernels for this CPU (capped by `requested`);
    returns the instruction set chosen (0 baseline, 1 AVX2, 2 AVX-512)."""
    return fe_binary_select(requested)


cdef void _block(const Layout *L, Py_ssize_t b, char *scratch, const fe_bparams *prm,
                 bint want_sum, fe_xsum *total, fe_xsum *wtotal, double *xs,
                 int *bad_out) noexcept nogil:
    """One block of the flat iteration range, row segment by row segment; the written
    losses (and weights) are added to this thread's exact sums when `want_sum`."""
    cdef Py_ssize_t nd = L.ndim, last = L.ndim - 1, isz = L.itemsize
    cdef Py_ssize_t inner = L.shape[last]
    cdef Py_ssize_t start = b * FE_BLOCK
    cdef Py_ssize_t end = min(L.total, start + FE_BLOCK)
    cdef Py_ssize_t row = start // inner, col = start - row * inner
    cdef Py_ssize_t pos = start, seg, r, d, k
    cdef Py_ssize_t idx[FE_MAXDIM]
    cdef Py_ssize_t off[NOPS]
    cdef void *p[NOPS]
    cdef char *addr
    cdef int bad = 0, rb = 0

    # multi-index and byte offsets of the first row
    r = row
    for k in range(NOPS):
        off[k] = 0
    for d in range(nd - 2, -1, -1):
        idx[d] = r % L.shape[d]
        r = r // L.shape[d]
        for k in range(NOPS):
            off[k] += idx[d] * L.strides[k][d]

    while pos < end:
        seg = min(inner - col, end - pos)
        for k in range(NOPS):
            p[k] = NULL
            if L.data[k] == NULL:
                continue
            addr = L.data[k] + off[k] + col * L.strides[k][last]
            if L.strides[k][last] == isz and L.types[k] == L.ctype:
                p[k] = addr
            else:
                p[k] = scratch + k * FE_BLOCK * isz
                if k < OUT:   # inputs: gathered, converted to the computation type
                    fe_gather_as(p[k], isz, addr, seg, L.strides[k][last], L.types[k])
        if p[OUT] == NULL:
            p[OUT] = scratch + OUT * FE_BLOCK * isz
        if isz == 4:
            fe_bce_f32(seg, <const float *>p[T], <const float *>p[X], <const float *>p[W],
                       <const float *>p[PW], <float *>p[OUT], <float *>p[GRAD], prm, &rb,
                       total if want_sum else NULL, wtotal, xs)
        else:
            fe_bce_f64(seg, <const double *>p[T], <const double *>p[X], <const double *>p[W],
                       <const double *>p[PW], <double *>p[OUT], <double *>p[GRAD], prm, &rb,
                       total if want_sum else NULL, wtotal, xs)
        for k in range(OUT, NOPS):
            if L.data[k] != NULL and L.strides[k][last] != isz:
                fe_scatter(L.data[k] + off[k] + col * L.strides[k][last], p[k], seg,
                           L.strides[k][last], isz)
        bad |= rb
        pos += seg
        col = 0
        # next row: advance the multi-index like an odometer
        for d in range(nd - 2, -1, -1):
            idx[d] += 1
            for k in range(NOPS):
                off[k] += L.strides[k][d]
            if idx[d] < L.shape[d]:
                break
            for k in range(NOPS):
                off[k] -= L.shape[d] * L.strides[k][d]
            idx[d] = 0
    bad_out[0] = bad


def bce(int mode, tuple shape, list operands, list types, list strides, *, int ctype,
        double lo, double hi, double log_min, double smooth, double loss_scale,
        double grad_scale, bint want_sum, int n_threads):
    """Run the binary cross-entropy kernel over an iteration layout.

    operands: [target, prediction, weight, pos_weight, out, grad], arrays or None; the
    outputs have the computation type `ctype` (float32 or float64), the inputs may have any
    type of `types` (their codes, src/fe_simd.h), converted while a block is gathered;
    strides: their byte strides for `shape`.
    mode: 0 clipped probabilities (lo, hi), 1 PyTorch's log_min, 2 logits.
    Returns (exact sum of the written losses, exact sum of the weights or None, range-check
    bits), the sums as fastent._exact.ExactSum states (None unless `want_sum`).
    """
    cdef Layout L
    cdef fe_bparams prm
    cdef Py_ssize_t k, d
    cdef cnp.ndarray a

    L.ndim = len(shape)
    if L.ndim < 1 or L.ndim > FE_MAXDIM:
        raise ValueError(f"iteration layout must have 1 to {FE_MAXDIM} axes")
    L.total = 1
    for d in range(L.ndim):
        L.shape[d] = shape[d]
        L.total *= L.shape[d]
    if ctype != FE_T_F32 and ctype != FE_T_F64:
        raise ValueError("ctype: the computation type must be float32 or float64")
    L.itemsize = 4 if ctype == FE_T_F32 else 8
    L.ctype = ctype
    for k in range(NOPS):
        L.types[k] = types[k]
        if operands[k] is None:
            L.data[k] = NULL
            continue
        a = operands[k]
        if k >= OUT and types[k] != L.ctype:
            raise TypeError("outputs must have the computation dtype")
        L.data[k] = <char *>cnp.PyArray_DATA(a)
        for d in range(L.ndim):
            L.strides[k][d] = strides[k][d]

    prm.mode = mode
    prm.lo = lo
    prm.hi = hi
    prm.log_min = log_min
    prm.smooth = smooth
    prm.loss_scale = loss_scale
    prm.grad_scale = grad_scale

    cdef fe_xsum total, wtotal
    cdef int bad = _run_bce(&L, &prm, n_threads, want_sum, &total, &wtotal)
    if L.total == 0 or not want_sum:
        return None, None, bad
    return (xsum_state(&total), xsum_state(&wtotal) if L.data[W] != NULL else None, bad)


cdef int _run_bce(const Layout *L, const fe_bparams *prm, int n_threads, bint want_sum,
                  fe_xsum *total, fe_xsum *wtotal) except -1:
    """Every block of L's iteration range, on up to `n_threads` threads; the exact sums of
    the written losses and of the weights go to *total and *wtotal (when `want_sum`).
    Returns the range-check bits of the blocks."""
    cdef Py_ssize_t nblocks, b
    cdef int nt, tid, bad = 0
    fe_xsum_init(total)
    fe_xsum_init(wtotal)
    if L.total == 0:
        return 0
    nblocks = (L.total + FE_BLOCK - 1) // FE_BLOCK
    # below FE_PARALLEL_MIN blocks waking the thread pool costs more than it saves
    nt = 1 if L.total < FE_PARALLEL_MIN * FE_BLOCK else max(1, min(n_threads, nblocks))
    cdef char *scr = <char *>malloc(nt * NOPS * FE_BLOCK * L.itemsize)
    cdef fe_xsum *sums = <fe_xsum *>malloc(2 * nt * sizeof(fe_xsum))
    cdef double *xs = <double *>malloc(nt * FE_XBLOCK * sizeof(double))
    cdef int *bads = <int *>malloc(nblocks * sizeof(int))
    if scr == NULL or sums == NULL or xs == NULL or bads == NULL:
        free(scr)
        free(sums)
        free(xs)
        free(bads)
        raise MemoryError()
    for tid in range(2 * nt):
        fe_xsum_init(&sums[tid])
    with nogil:
        if nt == 1:     # no OpenMP region at all: small calls, forked children
            for b in range(nblocks):
                _block(L, b, scr, prm, want_sum, &sums[0], &sums[1], xs, &bads[b])
        else:           # guided: big chunks first, small ones last, so a late thread costs little
            for b in prange(nblocks, schedule='guided', num_threads=nt):
                tid = threadid()
                _block(L, b, scr + tid * NOPS * FE_BLOCK * L.itemsize, prm, want_sum,
                       &sums[tid], &sums[nt + tid], xs + tid * FE_XBLOCK, &bads[b])
    for b in range(nblocks):
        bad |= bads[b]
    if want_sum:
        for tid in range(nt):      # exact: the order of the merge does not matter
            fe_xsum_merge(total, &sums[tid])
            if L.data[W] != NULL:
                fe_xsum_merge(wtotal, &sums[nt + tid])
    free(scr)
    free(sums)
    free(xs)
    free(bads)
    return bad


# ---- the thin call path -------------------------------------------------------------------
# The common case -- a C-contiguous, aligned float32/float64 prediction, a target of its
# shape in any type the kernel reads, default keywords -- goes from the public function to
# the block loop above with O(1) Python work.  Anything else returns None and the caller
# takes its general path, which makes every check and raises every error; so does a call
# whose data the kernel found invalid (range-check bits), so that the general path raises
# the same error it always did.  Same kernel, same bits.
from math import fsum as _fsum
from fastent import _threads
from fastent import _validation as _v

cdef dict _AUTO_BOUNDS = {t: _v.clip_bounds(_v.clip_eps("auto", t), t)
                          for t in (np.float32, np.float64)}
cdef double _LO32 = _AUTO_BOUNDS[np.float32][0], _HI32 = _AUTO_BOUNDS[np.float32][1]
cdef double _LO64 = _AUTO_BOUNDS[np.float64][0], _HI64 = _AUTO_BOUNDS[np.float64][1]
# numpy type number -> the kernels' element type code (src/fe_simd.h; _validation.KERNEL_TYPES)
cdef dict _CODES = {np.dtype(t).num: c for t, c in _v.KERNEL_TYPES.items()}


def fast(bint logits, target, pred, reduction, weight, base, eps, log_min, pos_weight,
         label_smoothing, zero_division, out, grad_out, n_threads, bint want_loss,
         bint want_grad, bint totals=False):
    """(loss or None, grad or None, exact sum of the element values as an ExactSum state
    or None, elements counted) of the common case, or None (see above).  `totals`: the
    sum is wanted whatever the reduction (RunningLoss)."""
    if not (plain_array(pred) and plain_array(target)
            and weight is None and pos_weight is None and log_min is None
            and type(eps) is str and eps == "auto"
            and real_number(label_smoothing) and label_smoothing == 0
            and real_number(zero_division) and thread_count_plain(n_threads)
            and type(base) is str and base == "e"
            and type(reduction) is str and reduction in ("mean", "sum", "none")):
        return None
    cdef cnp.ndarray x = pred, t = target, o = None, g = None
    cdef int typ = cnp.PyArray_TYPE(x)
    if typ != cnp.NPY_FLOAT and typ != cnp.NPY_DOUBLE:
        return None
    cdef int nd = cnp.PyArray_NDIM(x), d
    if cnp.PyArray_NDIM(t) != nd:
        return None
    for d in range(nd):
        if cnp.PyArray_DIM(t, d) != cnp.PyArray_DIM(x, d):
            return None
    tcode = _CODES.get(cnp.PyArray_TYPE(t))
    cdef cnp.npy_intp n = cnp.PyArray_SIZE(x)
    if tcode is None or n == 0:
        return None
    cdef bint none = reduction == "none"
    for arr, wanted in ((out, want_loss and none), (grad_out, want_grad)):
        if arr is not None and not (
                wanted and plain_array(arr) and cnp.PyArray_TYPE(arr) == typ
                and cnp.PyArray_SIZE(arr) == n and cnp.PyArray_NDIM(arr) == nd
                and cnp.PyArray_ISWRITEABLE(arr) and disjoint(arr, x) and disjoint(arr, t)):
            return None
    if out is not None:
        o = out
        for d in range(nd):
            if cnp.PyArray_DIM(o, d) != cnp.PyArray_DIM(x, d):
                return None
    if grad_out is not None:
        g = grad_out
        for d in range(nd):
            if cnp.PyArray_DIM(g, d) != cnp.PyArray_DIM(x, d):
                return None
        if not disjoint(g, o):
            return None
    if want_loss and none and o is None:
        o = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(x), typ, 0)
    if want_grad and g is None:
        g = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(x), typ, 0)

    cdef Layout L
    cdef fe_bparams prm
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(x)
    L.ndim = 1
    L.total = n
    L.shape[0] = n
    L.itemsize = isz
    L.ctype = FE_T_F32 if isz == 4 else FE_T_F64
    cdef int k
    for k in range(NOPS):
        L.data[k] = NULL
        L.types[k] = L.ctype
        L.strides[k][0] = isz
    L.data[T], L.types[T] = <char *>cnp.PyArray_DATA(t), tcode
    L.strides[T][0] = cnp.PyArray_ITEMSIZE(t)
    L.data[X] = <char *>cnp.PyArray_DATA(x)
    if o is not None:
        L.data[OUT] = <char *>cnp.PyArray_DATA(o)
    if g is not None:
        L.data[GRAD] = <char *>cnp.PyArray_DATA(g)
    prm.mode = FE_BCE_LOGITS if logits else FE_BCE_CLIP
    prm.lo, prm.hi = (_LO32, _HI32) if isz == 4 else (_LO64, _HI64)
    prm.log_min = 0.0
    prm.smooth = 0.0
    prm.loss_scale = 1.0
    prm.grad_scale = 1.0 / n if reduction == "mean" else 1.0
    cdef fe_xsum total, wtotal
    cdef bint want_sum = want_loss and not none or totals
    cdef int nt, bad
    if n < _threads.PARALLEL_MIN:
        bad = _run_bce(&L, &prm, 1, want_sum, &total, &wtotal)
    else:
        nt = _threads.acquire(_threads.resolve(n_threads), n)
        try:
            bad = _run_bce(&L, &prm, nt, want_sum, &total, &wtotal)
        finally:
            _threads.release(nt, n)
    if bad:
        return None
    loss = None
    if want_loss:
        if none:
            loss = o
        elif reduction == "sum":
            loss = np.float64(xsum_value(&total, _fsum))
        else:
            loss = np.float64(xsum_value(&total, _fsum) / n)
    return loss, g, xsum_state(&total) if totals else None, n
