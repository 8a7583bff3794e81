# cython: language_level=3
"""Binary cross-entropy kernels: the block loop around the inner loops of src/fe_binary.h.

The Python layer (fastent/binary.py) hands over the prediction, target, weights, pos_weight,
loss output and gradient output, all of one iteration shape (axes in the prediction's memory
order, mergeable axes merged; see fastent/_layout.py) with their byte strides.  The flat
iteration range is cut into blocks of FE_BLOCK elements; OpenMP threads take blocks
statically; within a block each row segment runs through one vectorised inner loop,
operands with a non-unit stride being gathered into (and outputs scattered from) a per-thread
scratch buffer.  Every block stores sum(w*l), sum(w) and its range-check bits; these are
combined in block order after the parallel loop, so the result does not depend on threads.
"""

cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, threadid
from fastent._common cimport (FE_BLOCK, FE_MAXDIM, FE_PARALLEL_MIN, fe_gather_as,
                              fe_scatter, neumaier_add)

cnp.import_array()

cdef extern from "fe_binary.h" nogil:
    ctypedef struct fe_bparams:
        double eps
        double log_min
        int use_log_min
        double smooth
        double loss_scale
        double grad_scale
    ctypedef double (*fe_bce_f32_fn)(Py_ssize_t, const float *, const float *, const float *,
                                     const float *, float *, float *, const fe_bparams *,
                                     double *, int *)
    ctypedef double (*fe_bce_f64_fn)(Py_ssize_t, const double *, const double *,
                                     const double *, const double *, double *, double *,
                                     const fe_bparams *, double *, int *)
    fe_bce_f32_fn fe_bce_prob_f32, fe_bce_logit_f32
    fe_bce_f64_fn fe_bce_prob_f64, fe_bce_logit_f64
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


cdef void _block(const Layout *L, Py_ssize_t b, char *scratch, bint logits,
                 const fe_bparams *prm, double *s_out, double *sw_out,
                 int *bad_out) noexcept nogil:
    """One block of the flat iteration range, row segment by row segment."""
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
    cdef double s = 0.0, sw = 0.0, rs, rw = 0.0
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
            rs = (fe_bce_logit_f32 if logits else fe_bce_prob_f32)(
                seg, <const float *>p[T], <const float *>p[X], <const float *>p[W],
                <const float *>p[PW], <float *>p[OUT], <float *>p[GRAD], prm, &rw, &rb)
        else:
            rs = (fe_bce_logit_f64 if logits else fe_bce_prob_f64)(
                seg, <const double *>p[T], <const double *>p[X], <const double *>p[W],
                <const double *>p[PW], <double *>p[OUT], <double *>p[GRAD], prm, &rw, &rb)
        for k in range(OUT, NOPS):
            if L.data[k] != NULL and L.strides[k][last] != isz:
                fe_scatter(L.data[k] + off[k] + col * L.strides[k][last], p[k], seg,
                           L.strides[k][last], isz)
        s += rs
        sw += rw
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
    s_out[0] = s
    sw_out[0] = sw
    bad_out[0] = bad


def bce(bint logits, tuple shape, list operands, list types, list strides, *, double eps,
        double log_min, bint use_log_min, double smooth, double loss_scale,
        double grad_scale, int n_threads):
    """Run the binary cross-entropy kernel over an iteration layout.

    operands: [target, prediction, weight, pos_weight, out, grad], arrays or None; the
    prediction and the outputs have the computation dtype (float32 or float64), the inputs
    may have any type of `types` (their codes, src/fe_simd.h); strides: their byte strides
    for `shape`.
    Returns (sum of w*l, sum of w, range-check bits) with both sums in float64.
    """
    cdef Layout L
    cdef fe_bparams prm
    cdef Py_ssize_t nblocks, b, k, d
    cdef int nt
    cdef cnp.ndarray a

    L.ndim = len(shape)
    if L.ndim < 1 or L.ndim > FE_MAXDIM:
        raise ValueError(f"iteration layout must have 1 to {FE_MAXDIM} axes")
    L.total = 1
    for d in range(L.ndim):
        L.shape[d] = shape[d]
        L.total *= L.shape[d]
    L.itemsize = operands[X].dtype.itemsize
    L.ctype = types[X]
    for k in range(NOPS):
        L.types[k] = types[k]
        if operands[k] is None:
            L.data[k] = NULL
            continue
        a = operands[k]
        if (k == X or k >= OUT) and types[k] != L.ctype:
            raise TypeError("prediction and outputs must share the computation dtype")
        L.data[k] = <char *>cnp.PyArray_DATA(a)
        for d in range(L.ndim):
            L.strides[k][d] = strides[k][d]

    prm.eps = eps
    prm.log_min = log_min
    prm.use_log_min = use_log_min
    prm.smooth = smooth
    prm.loss_scale = loss_scale
    prm.grad_scale = grad_scale

    if L.total == 0:
        return 0.0, 0.0, 0
    nblocks = (L.total + FE_BLOCK - 1) // FE_BLOCK
    # below FE_PARALLEL_MIN blocks waking the thread pool costs more than it saves
    nt = 1 if nblocks < FE_PARALLEL_MIN else max(1, min(n_threads, nblocks))
    cdef double[::1] sums = np.empty(nblocks, dtype=np.float64)
    cdef double[::1] wsums = np.empty(nblocks, dtype=np.float64)
    cdef int[::1] bads = np.empty(nblocks, dtype=np.intc)
    cdef char[::1] scratch = np.empty(nt * NOPS * FE_BLOCK * L.itemsize, dtype=np.int8)
    cdef char *scr = &scratch[0]

    with nogil:
        for b in prange(nblocks, schedule='static', num_threads=nt):
            _block(&L, b, scr + threadid() * NOPS * FE_BLOCK * L.itemsize, logits, &prm,
                   &sums[b], &wsums[b], &bads[b])

    cdef double s = 0.0, cs = 0.0, sw = 0.0, cw = 0.0
    cdef int bad = 0
    for b in range(nblocks):      # in block order, compensated
        neumaier_add(&s, &cs, sums[b])
        neumaier_add(&sw, &cw, wsums[b])
        bad |= bads[b]
    return s + cs, sw + cw, bad
