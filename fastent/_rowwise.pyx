# cython: language_level=3
"""Row-wise kernels: the one row driver of every function with a class axis -- softmax
cross-entropy (src/fe_softmax_impl.h) and cross-entropy / KL divergence / entropy of
distributions (src/fe_divergence_impl.h).

The Python layers (fastent/softmax.py, fastent/divergence.py) hand over the prediction, the
target distribution or the integer labels, the row weights, the per-row loss output and the
gradient, with the rows laid out by fastent/_layout.row_layout (row axes in the
prediction's memory order, merged where possible) and the class axis kept apart with its
own stride.  Rows are cut into blocks of a fixed number of rows (a function of C only);
OpenMP threads take blocks as they come free (one thread: no OpenMP region).  A block's rows are read in place when they lie back
to back in memory, else gathered into a per-thread buffer (and the gradient scattered back),
so no temporary of the logits' size is ever made; one block kernel per family serves every
row length.  The written row losses (and the mean's weights) go to per-thread exact sums
(src/fe_exact.h): the result does not depend on threads, blocks or instruction sets.
"""

cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, threadid
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc
from fastent._common cimport (FE_BLOCK, FE_MAXDIM, FE_PARALLEL_MIN, FE_T_F32, FE_T_F64,
                              FE_XBLOCK, disjoint, fe_gather_as, fe_scatter, fe_xsum,
                              fe_xsum_add_f64, fe_xsum_init, fe_xsum_merge, plain_array,
                              real_number, thread_count_plain, xsum_state, xsum_value)

cnp.import_array()

cdef extern from "fe_divergence.h" nogil:
    void fe_div_block_f32(int, Py_ssize_t, Py_ssize_t, const float *, const float *, double,
                          float *, const double *, double *, float *, double *, int *)
    void fe_div_block_f64(int, Py_ssize_t, Py_ssize_t, const double *, const double *, double,
                          double *, const double *, double *, double *, double *, int *)
    int fe_divergence_select(int requested)

cdef extern from "fe_rows.h" nogil:
    ctypedef void (*fe_rows_finish_fn)(Py_ssize_t, const double *, double *, double, char *,
                                       Py_ssize_t, fe_xsum *, double *)
    fe_rows_finish_fn fe_rows_finish_f32, fe_rows_finish_f64
    int fe_rows_select(int requested)

cdef extern from "fe_softmax.h" nogil:
    void fe_smx_block_f32(Py_ssize_t, Py_ssize_t, const float *, const Py_ssize_t *,
                          const float *, const float *, double, double, float *,
                          const double *, double *, float *, double *, int *)
    void fe_smx_block_f64(Py_ssize_t, Py_ssize_t, const double *, const Py_ssize_t *,
                          const double *, const double *, double, double, double *,
                          const double *, double *, double *, double *, int *)
    int fe_softmax_select(int requested)

# What a row computes
cpdef enum Kind:
    SOFTMAX = 0        # softmax cross-entropy (labels or probability targets)
    CROSS_ENTROPY = 1  # H(p, q)
    KL = 2             # D(p || q)
    ENTROPY = 3        # H(p)

# Operand slots
cdef enum:
    X = 0      # prediction: logits, q, or p of entropy  (class axis)
    TP = 1     # target distribution                     (class axis; optional)
    LAB = 2    # integer labels, intp        (optional)
    RW = 3     # row weights, float64        (optional)
    OUT = 4    # per-row loss                (optional)
    GRAD = 5   # gradient                    (class axis; optional)
    NOPS = 6

cdef struct Rows:
    Py_ssize_t ndim, nrows, C, itemsize, rows_per_block
    Py_ssize_t shape[FE_MAXDIM]
    Py_ssize_t strides[NOPS][FE_MAXDIM]
    Py_ssize_t cstride[NOPS]
    char *data[NOPS]
    Kind kind
    int xtype, ttype, ctype   # element type codes of the prediction, the target and the
                              # computation (float32/float64; the others are converted)
    const void *cw            # class weights in the computation dtype, or NULL
    double cw_sum, smooth, lo, loss_scale, grad_scale
    Py_ssize_t ignore_index
    bint has_ignore


def select_isa(int requested=-1):
    """Point the dispatch tables at the best kernels for this CPU (capped by `requested`)."""
    fe_divergence_select(requested)
    fe_rows_select(requested)
    return fe_softmax_select(requested)


def row_pass(Py_ssize_t C, const Py_ssize_t[::1] labels=None, const double[::1] row_weight=None,
             const double[::1] class_weight=None, ignore_index=None):
    """The O(rows) pass before the main one: checks labels and row weights and returns
    (first bad label position or -1, first bad weight position or -1, denominator of
    "mean" as an exact-sum state, number of counted rows), the denominator being the sum over
    counted rows of w_row * class_weight[label].  Labels and weights are flat, in C order of
    the row shape."""
    cdef Py_ssize_t n = labels.shape[0] if labels is not None else (
        row_weight.shape[0] if row_weight is not None else 0)
    cdef Py_ssize_t i, lab, ign = 0, nb = 0
    cdef bint has_ign = ignore_index is not None
    cdef double w
    cdef Py_ssize_t bad_label = -1, bad_weight = -1, count = 0
    cdef fe_xsum denom
    cdef double *buf = <double *>malloc(2 * FE_XBLOCK * sizeof(double))
    if buf == NULL:
        raise MemoryError()
    fe_xsum_init(&denom)
    if has_ign:
        ign = ignore_index
    with nogil:
        for i in range(n):
            w = 1.0
            if row_weight is not None:
                w = row_weight[i]
                if not (w >= 0 and isfinite(w)):
                    if bad_weight < 0:
                        bad_weight = i
                    continue
            if labels is not None:
                lab = labels[i]
                if has_ign and lab == ign:
                    continue
                if lab < 0 or lab >= C:
                    if bad_label < 0:
                        bad_label = i
                    continue
                if class_weight is not None:
                    w = w * class_weight[lab]
            buf[nb] = w
            nb += 1
            if nb == FE_XBLOCK:
                fe_xsum_add_f64(&denom, buf, nb, buf + FE_XBLOCK)
                nb = 0
            count += 1
        fe_xsum_add_f64(&denom, buf, nb, buf + FE_XBLOCK)
    free(buf)
    return bad_label, bad_weight, xsum_state(&denom), count


cdef inline void _start(const Rows *R, Py_ssize_t r, Py_ssize_t *idx, Py_ssize_t *off) noexcept nogil:
    """Multi-index and byte offsets of row r."""
    cdef Py_ssize_t d, k
    for k in range(NOPS):
        off[k] = 0
    for d in range(R.ndim - 1, -1, -1):
        idx[d] = r % R.shape[d]
        r = r // R.shape[d]
        for k in range(NOPS):
            off[k] += idx[d] * R.strides[k][d]


cdef inline void _next(const Rows *R, Py_ssize_t *idx, Py_ssize_t *off) noexcept nogil:
    """Advance to the next row: an odometer over the row axes."""
    cdef Py_ssize_t d, k
    for d in range(R.ndim - 1, -1, -1):
        idx[d] += 1
        for k in range(NOPS):
            off[k] += R.strides[k][d]
        if idx[d] < R.shape[d]:
            return
        for k in range(NOPS):
            off[k] -= R.shape[d] * R.strides[k][d]
        idx[d] = 0


cdef inline bint _ignored(const Rows *R, const char *lab, Py_ssize_t *label) noexcept nogil:
    """Read a row's label; whether the row counts nowhere (ignore_index)."""
    if lab == NULL:
        return False
    label[0] = (<const Py_ssize_t *>lab)[0]
    return (R.has_ignore and label[0] == R.ignore_index) or label[0] < 0 or label[0] >= R.C


cdef inline int _row_data_flat(const Rows *R, Py_ssize_t r0, Py_ssize_t n, Py_ssize_t *lab,
                               double *rws, double *gsc) noexcept nogil:
    """The per-row data of rows r0 .. r0 + n of a one-axis row layout: labels (-1 for a
    row that counts nowhere), row weights (0 there) and gradient scales; returns bad bit 4
    for a label outside [0, C) (see _block)."""
    cdef const char *lp = NULL if R.data[LAB] == NULL else R.data[LAB] + r0 * R.strides[LAB][0]
    cdef const char *wp = NULL if R.data[RW] == NULL else R.data[RW] + r0 * R.strides[RW][0]
    cdef Py_ssize_t ls = R.strides[LAB][0], ws = R.strides[RW][0], j, label = 0
    cdef double rw, gs = R.grad_scale
    cdef int bad = 0
    if lp == NULL and wp == NULL:
        for j in range(n):
            rws[j] = 1.0
            gsc[j] = gs
        return 0
    cdef Py_ssize_t C = R.C, ign_value = R.ignore_index
    cdef bint has_ign = R.has_ignore
    cdef int skip, out_of_range
    if lp == NULL:
        for j in range(n):
            rw = (<const double *>(wp + j * ws))[0]
            rws[j] = rw
            gsc[j] = gs * rw
        return 0
    for j in range(n):          # branch-free: _ignored, with the reason kept
        rw = 1.0 if wp == NULL else (<const double *>(wp + j * ws))[0]
        label = (<const Py_ssize_t *>(lp + j * ls))[0]
        skip = has_ign & (label == ign_value)
        out_of_range = (label < 0) | (label >= C)
        bad |= (out_of_range & (skip ^ 1)) << 2
        skip |= out_of_range
        lab[j] = -1 if skip else label
        rws[j] = 0.0 if skip else rw
        gsc[j] = 0.0 if skip else gs * rw
    return bad


cdef void _block(const Rows *R, Py_ssize_t b, char *scratch, bint want_sum, fe_xsum *total,
                 double *xs, int *bad_out) noexcept nogil:
    """One block of rows: read in place or gathered into contiguous buffers, run through
    the family's block kernel, results written back row by row and summed exactly."""
    cdef Py_ssize_t isz = R.itemsize, C = R.C, rpb = R.rows_per_block
    cdef Py_ssize_t bsz = rpb * C                  # elements of a block's buffers
    cdef Py_ssize_t r0 = b * rpb
    cdef Py_ssize_t n = min(R.nrows, r0 + rpb) - r0
    cdef Py_ssize_t j, label = 0
    cdef Py_ssize_t idx[FE_MAXDIM]
    cdef Py_ssize_t off[NOPS]
    cdef char *xb = scratch                        # the block's logits / q, contiguous
    cdef char *tb = xb + bsz * isz                 # its target distributions
    cdef char *gb = tb + bsz * isz                 # its gradient
    cdef char *zb = gb + bsz * isz                 # the kernel's scratch
    cdef Py_ssize_t *lab = <Py_ssize_t *>(zb + bsz * isz)
    cdef Py_ssize_t *out_off = lab + rpb
    cdef Py_ssize_t *grad_off = out_off + rpb
    cdef double *gsc = <double *>(grad_off + rpb)
    cdef double *rws = gsc + rpb
    cdef double *loss = rws + rpb
    cdef double *work = loss + rpb                 # 5 rpb + 2 bsz doubles
    cdef double rw
    cdef int bad = 0
    cdef bint ign

    _start(R, r0, idx, off)
    # rows back to back in memory (the common C-contiguous case): the kernel reads the
    # logits / distributions and writes the gradient in place, no gather or scatter
    cdef bint flat = R.ndim == 1
    cdef bint x_in_place = (flat and R.xtype == R.ctype and R.cstride[X] == isz
                            and R.strides[X][0] == C * isz)
    cdef bint t_in_place = (flat and R.data[TP] != NULL and R.ttype == R.ctype
                            and R.cstride[TP] == isz and R.strides[TP][0] == C * isz)
    cdef bint g_in_place = (flat and R.data[GRAD] != NULL and R.cstride[GRAD] == isz
                            and R.strides[GRAD][0] == C * isz)
    if x_in_place:
        xb = R.data[X] + off[X]
    if t_in_place:
        tb = R.data[TP] + off[TP]
    if g_in_place:
        gb = R.data[GRAD] + off[GRAD]
    if (x_in_place and (R.data[TP] == NULL or t_in_place)
            and (R.data[GRAD] == NULL or g_in_place)):
        bad = _row_data_flat(R, r0, n, lab, rws, gsc)      # nothing to gather or scatter
    else:
        for j in range(n):
            rw = 1.0 if R.data[RW] == NULL else (<double *>(R.data[RW] + off[RW]))[0]
            ign = _ignored(R, NULL if R.data[LAB] == NULL else R.data[LAB] + off[LAB], &label)
            if ign and not (R.has_ignore and label == R.ignore_index):
                bad = 4     # a label outside [0, C): only the thin call path checks it here
            lab[j] = -1 if ign else label
            rws[j] = 0.0 if ign else rw
            gsc[j] = 0.0 if ign else R.grad_scale * rw
            out_off[j] = off[OUT]
            grad_off[j] = off[GRAD]
            if not x_in_place:
                fe_gather_as(xb + j * C * isz, isz, R.data[X] + off[X], C, R.cstride[X],
                             R.xtype)
            if R.data[TP] != NULL and not t_in_place:
                fe_gather_as(tb + j * C * isz, isz, R.data[TP] + off[TP], C, R.cstride[TP],
                             R.ttype)
            _next(R, idx, off)
    cdef char *g = gb if R.data[GRAD] != NULL else NULL
    cdef const Py_ssize_t *labp = lab if R.data[LAB] != NULL else NULL
    cdef const char *tp = tb if R.data[TP] != NULL else NULL
    cdef int kind = 0 if R.kind == CROSS_ENTROPY else (1 if R.kind == KL else 2)
    if isz == 4:
        if R.kind == SOFTMAX:
            fe_smx_block_f32(n, C, <float *>xb, labp, <const float *>tp, <const float *>R.cw,
                             R.cw_sum, R.smooth, <float *>g, gsc, loss, <float *>zb, work, &bad)
        else:
            fe_div_block_f32(kind, n, C, <float *>xb, <const float *>tp, R.lo, <float *>g,
                             gsc, loss, <float *>zb, work, &bad)
    else:
        if R.kind == SOFTMAX:
            fe_smx_block_f64(n, C, <double *>xb, labp, <const double *>tp,
                             <const double *>R.cw, R.cw_sum, R.smooth, <double *>g, gsc, loss,
                             <double *>zb, work, &bad)
        else:
            fe_div_block_f64(kind, n, C, <double *>xb, <const double *>tp, R.lo,
                             <double *>g, gsc, loss, <double *>zb, work, &bad)
    # the rows' values as "none" returns them (w * loss in the dtype), written and summed
    cdef char *outp = NULL
    if flat and R.data[OUT] != NULL:
        outp = R.data[OUT] + r0 * R.strides[OUT][0]
    if isz == 4:
        fe_rows_finish_f32(n, rws, loss, R.loss_scale, outp, R.strides[OUT][0],
                           total if want_sum else NULL, xs)
    else:
        fe_rows_finish_f64(n, rws, loss, R.loss_scale, outp, R.strides[OUT][0],
                           total if want_sum else NULL, xs)
    if not flat and R.data[OUT] != NULL:
        for j in range(n):
            if isz == 4:
                (<float *>(R.data[OUT] + out_off[j]))[0] = <float>loss[j]
            else:
                (<double *>(R.data[OUT] + out_off[j]))[0] = loss[j]
    if g != NULL and not g_in_place:
        for j in range(n):
            fe_scatter(R.data[GRAD] + grad_off[j], g + j * C * isz, C, R.cstride[GRAD], isz)
    bad_out[0] = bad


def rowwise(Kind kind, tuple shape, Py_ssize_t C, list operands, list strides,
            list cstrides, *, int pred_type=0, int target_type=0, int compute_type=0,
            cnp.ndarray class_weight=None, double cw_sum=0.0, double smooth=0.0,
            ignore_index=None, double lo=0.0, double loss_scale, double grad_scale,
            bint want_sum=True, int n_threads):
    """Run the rows of one class-axis function.

    operands: [prediction, target distribution, labels (intp), row weight (float64), out,
    grad], each an array or None; strides: their row strides (bytes) for the row `shape`;
    cstrides: their class-axis strides; pred_type, target_type, compute_type: the element
    type codes (src/fe_simd.h) of the prediction and the target distribution (converted
    while gathered) and of the computation (float32 or float64: the outputs' type); lo: the clip floor of the distributions.  Returns (exact sum of the written
    row losses as an ExactSum state, or None unless `want_sum`; bad bits: softmax: 1 = a
    probability target outside [0, 1]; distributions: 1 = a negative target, 2 = a negative
    prediction)."""
    cdef Rows R
    cdef Py_ssize_t k, d
    cdef cnp.ndarray a
    R.ndim = len(shape)
    if R.ndim < 1 or R.ndim > FE_MAXDIM:
        raise ValueError(f"row layout must have 1 to {FE_MAXDIM} axes")
    R.nrows = 1
    for d in range(R.ndim):
        R.shape[d] = shape[d]
        R.nrows *= R.shape[d]
    if operands[X] is None or (kind != SOFTMAX and kind != ENTROPY and operands[TP] is None) \
            or (kind == SOFTMAX and (operands[TP] is None) == (operands[LAB] is None)):
        raise ValueError("rowwise: missing operands for this kind of row")  # never reached
    R.C = C
    R.kind = kind
    if compute_type != FE_T_F32 and compute_type != FE_T_F64:
        raise ValueError("compute_type: the computation type must be float32 or float64")
    R.xtype = pred_type
    R.ttype = target_type
    R.ctype = compute_type
    R.lo = lo
    R.itemsize = 4 if compute_type == FE_T_F32 else 8
    for k in range(NOPS):
        R.cstride[k] = cstrides[k]
        if operands[k] is None:
            R.data[k] = NULL
            continue
        a = operands[k]
        R.data[k] = <char *>cnp.PyArray_DATA(a)
        for d in range(R.ndim):
            R.strides[k][d] = strides[k][d]
    R.cw = NULL if class_weight is None else cnp.PyArray_DATA(class_weight)
    R.cw_sum = cw_sum
    R.smooth = smooth
    R.has_ignore = ignore_index is not None
    R.ignore_index = ignore_index if ignore_index is not None else 0
    R.loss_scale = loss_scale
    R.grad_scale = grad_scale
    cdef fe_xsum total
    cdef int bad = _run_rows(&R, n_threads, want_sum, &total)
    return (xsum_state(&total) if want_sum and R.nrows and C else None), bad


cdef int _run_rows(Rows *R, int n_threads, bint want_sum, fe_xsum *total) except -1:
    """Every block of rows of R, on up to `n_threads` threads; the exact sum of the written
    row losses goes to *total (when `want_sum`).  Returns the bad bits of the blocks."""
    cdef Py_ssize_t nblocks, b, C = R.C
    cdef int nt, tid, bad = 0
    fe_xsum_init(total)
    if R.nrows == 0 or C == 0:
        return 0
    R.rows_per_block = max(1, FE_BLOCK // C)
    nblocks = (R.nrows + R.rows_per_block - 1) // R.rows_per_block
    nt = 1 if R.nrows * C < FE_PARALLEL_MIN * FE_BLOCK else max(1, min(n_threads, nblocks))
    # four buffers of a block's elements, two of doubles (the kernel's element terms) and
    # 11 numbers per row (labels, offsets, scales, losses, the kernel's work), 64-byte
    # aligned for the vector loops
    cdef Py_ssize_t per_thread = (4 * R.rows_per_block * C * R.itemsize
                                  + 2 * R.rows_per_block * C * 8 + 11 * 8 * R.rows_per_block)
    per_thread = (per_thread + 63) // 64 * 64
    cdef char *mem = <char *>malloc(nt * per_thread + 64)
    cdef fe_xsum *sums = <fe_xsum *>malloc(nt * sizeof(fe_xsum))
    cdef double *xs = <double *>malloc(nt * FE_XBLOCK * sizeof(double))
    cdef int *bads = <int *>malloc(nblocks * sizeof(int))
    if mem == NULL or sums == NULL or xs == NULL or bads == NULL:
        free(mem)
        free(sums)
        free(xs)
        free(bads)
        raise MemoryError()
    cdef char *scr = mem + (64 - (<size_t>mem) % 64) % 64
    for tid in range(nt):
        fe_xsum_init(&sums[tid])
    with nogil:
        if nt == 1:     # no OpenMP region at all: small calls, forked children
            for b in range(nblocks):
                _block(R, b, scr, want_sum, &sums[0], xs, &bads[b])
        else:           # guided: big chunks first, small ones last, so a late thread costs little
            for b in prange(nblocks, schedule='guided', num_threads=nt):
                tid = threadid()
                _block(R, b, scr + tid * per_thread, want_sum, &sums[tid],
                       xs + tid * FE_XBLOCK, &bads[b])
    for b in range(nblocks):
        bad |= bads[b]
    if want_sum:
        for tid in range(nt):      # exact: the order of the merge does not matter
            fe_xsum_merge(total, &sums[tid])
    free(mem)
    free(sums)
    free(xs)
    free(bads)
    return bad


# ---- the thin call path -------------------------------------------------------------------
# The common case of a class-axis function -- one C-contiguous, aligned float32/float64
# (rows, C) prediction with axis=-1, a target of the right shape and type, default
# keywords -- goes from the public function to the block loop above with O(1) Python work.
# Anything else returns None, and the caller takes its general path, which makes every check
# and raises every error; so does a call whose data a kernel found invalid (bad bits), so the
# general path raises the same error it always did.  Same kernels, same bits.
from math import fsum as _fsum
from fastent import _threads
from fastent import _validation as _v

cdef dict _AUTO_LO = {t: _v.clip_bounds(_v.clip_eps("auto", t), t)[0]
                      for t in (np.float32, np.float64)}
cdef double _LO32 = _AUTO_LO[np.float32], _LO64 = _AUTO_LO[np.float64]


def fast(Kind kind, target, pred, axis, reduction, base, eps, zero_division, out, grad_out,
         n_threads, bint want_loss, bint want_grad, weight=None, class_weight=None,
         ignore_index=None, label_smoothing=0.0, bint totals=False):
    """(loss or None, grad or None, exact sum of the row values as an ExactSum state or
    None, rows counted) of the common case, or None (see above).  `totals`: the sum is
    wanted whatever the reduction (RunningLoss)."""
    if not (plain_array(pred) and cnp.PyArray_NDIM(<cnp.ndarray>pred) == 2
            and type(axis) is int and (axis == -1 or axis == 1)
            and weight is None and class_weight is None and ignore_index is None
            and real_number(label_smoothing) and label_smoothing == 0
            and real_number(zero_division) and thread_count_plain(n_threads)
            and type(base) is str and base == "e"
            and (eps is None or (type(eps) is str and eps == "auto"))
            and type(reduction) is str and reduction in ("mean", "sum", "none")):
        return None
    cdef cnp.ndarray x = pred, t = None, o = None, g = None
    cdef int typ = cnp.PyArray_TYPE(x)
    if typ != cnp.NPY_FLOAT and typ != cnp.NPY_DOUBLE:
        return None
    cdef cnp.npy_intp N = cnp.PyArray_DIM(x, 0), C = cnp.PyArray_DIM(x, 1)
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(x)
    cdef bint labels = False
    if N == 0 or C == 0:
        return None
    if kind != ENTROPY:
        if not plain_array(target):
            return None
        t = target
        labels = kind == SOFTMAX and cnp.PyArray_TYPE(t) == cnp.NPY_INTP
        if labels:
            if cnp.PyArray_NDIM(t) != 1 or cnp.PyArray_DIM(t, 0) != N:
                return None
        elif (cnp.PyArray_TYPE(t) != typ or cnp.PyArray_NDIM(t) != 2
              or cnp.PyArray_DIM(t, 0) != N or cnp.PyArray_DIM(t, 1) != C):
            return None
    cdef bint none = reduction == "none"
    if out is not None:
        if not (want_loss and none and plain_array(out) and cnp.PyArray_TYPE(out) == typ
                and cnp.PyArray_NDIM(out) == 1 and cnp.PyArray_DIM(out, 0) == N
                and cnp.PyArray_ISWRITEABLE(out) and disjoint(out, x) and disjoint(out, t)):
            return None
        o = out
    if grad_out is not None:
        if not (want_grad and plain_array(grad_out) and cnp.PyArray_TYPE(grad_out) == typ
                and cnp.PyArray_NDIM(grad_out) == 2 and cnp.PyArray_DIM(grad_out, 0) == N
                and cnp.PyArray_DIM(grad_out, 1) == C and cnp.PyArray_ISWRITEABLE(grad_out)
                and disjoint(grad_out, x) and disjoint(grad_out, t) and disjoint(grad_out, o)):
            return None
        g = grad_out
    if want_loss and none and o is None:
        o = cnp.PyArray_EMPTY(1, &N, typ, 0)
    if want_grad and g is None:
        g = cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(x), typ, 0)

    cdef Rows R
    R.ndim = 1
    R.nrows = N
    R.shape[0] = N
    R.C = C
    R.kind = kind
    R.itemsize = isz
    R.xtype = R.ttype = R.ctype = FE_T_F32 if isz == 4 else FE_T_F64
    R.lo = (_LO32 if isz == 4 else _LO64) if kind != SOFTMAX else 0.0
    R.cw = NULL
    R.cw_sum = C
    R.smooth = 0.0
    R.has_ignore = False
    R.ignore_index = 0
    R.loss_scale = 1.0
    R.grad_scale = 1.0 / N if reduction == "mean" else 1.0
    cdef int k
    for k in range(NOPS):
        R.data[k] = NULL
        R.strides[k][0] = 0
        R.cstride[k] = 0
    R.data[X], R.strides[X][0], R.cstride[X] = <char *>cnp.PyArray_DATA(x), C * isz, isz
    if labels:
        R.data[LAB], R.strides[LAB][0] = <char *>cnp.PyArray_DATA(t), sizeof(Py_ssize_t)
    elif t is not None:
        R.data[TP], R.strides[TP][0], R.cstride[TP] = <char *>cnp.PyArray_DATA(t), C * isz, isz
    if o is not None:
        R.data[OUT], R.strides[OUT][0] = <char *>cnp.PyArray_DATA(o), isz
    if g is not None:
        R.data[GRAD], R.strides[GRAD][0], R.cstride[GRAD] = (<char *>cnp.PyArray_DATA(g),
                                                             C * isz, isz)
    cdef fe_xsum total
    cdef bint want_sum = want_loss and not none or totals
    cdef int nt = 1, bad
    if N * C < _threads.PARALLEL_MIN:
        bad = _run_rows(&R, 1, want_sum, &total)
    else:
        nt = _threads.acquire(_threads.resolve(n_threads), N * C)
        try:
            bad = _run_rows(&R, nt, want_sum, &total)
        finally:
            _threads.release(nt, N * C)
    if bad:
        return None
    loss = None
    if want_loss:
        if none:
            loss = o
        elif reduction == "sum":
            loss = np.float64(xsum_value(&total, _fsum))
        else:
            loss = np.float64(xsum_value(&total, _fsum) / N)
    return loss, g, xsum_state(&total) if totals else None, N
