# cython: language_level=3
"""Row-wise kernels: the row loop shared by every function with a class axis -- softmax
cross-entropy (src/fe_softmax_impl.h) and cross-entropy / KL divergence / entropy of
distributions (src/fe_divergence_impl.h).

The Python layers (fastent/softmax.py, fastent/divergence.py) hand over the prediction, the
target distribution or the integer labels, the row weights, the per-row loss output and the
gradient, with the rows laid out by fastent/_layout.row_layout (row axes in the
prediction's memory order, merged where possible) and the class axis kept apart with its
own stride.  Rows are cut into blocks of a
fixed number of rows (a function of the shape only); OpenMP threads take blocks statically;
a row whose class stride is not unit is gathered into a per-thread buffer (and its gradient
scattered back), so that no temporary of the logits' size is ever made.  Block sums are
combined in block order: the result does not depend on the thread count.
"""

cimport numpy as cnp
import numpy as np
from cython.parallel cimport prange, threadid
from libc.math cimport isfinite
from fastent._common cimport (FE_BLOCK, FE_MAXDIM, FE_PARALLEL_MIN, fe_gather_as,
                              fe_scatter, neumaier_add)

cnp.import_array()

cdef extern from "fe_divergence.h" nogil:
    ctypedef double (*fe_div_f32_fn)(Py_ssize_t, const float *, const float *, double,
                                     float *, double, int *)
    ctypedef double (*fe_div_f64_fn)(Py_ssize_t, const double *, const double *, double,
                                     double *, double, int *)
    fe_div_f32_fn fe_xent_f32, fe_kl_f32, fe_entropy_f32
    fe_div_f64_fn fe_xent_f64, fe_kl_f64, fe_entropy_f64
    void fe_div_block_f32(int, Py_ssize_t, Py_ssize_t, const float *, const float *, double,
                          float *, const double *, double *, float *, int *)
    void fe_div_block_f64(int, Py_ssize_t, Py_ssize_t, const double *, const double *, double,
                          double *, const double *, double *, double *, int *)
    int fe_divergence_select(int requested)

cdef extern from "fe_softmax.h" nogil:
    ctypedef double (*fe_smx_index_f32_fn)(Py_ssize_t, const float *, Py_ssize_t,
                                           const float *, double, double, float *, double)
    ctypedef double (*fe_smx_index_f64_fn)(Py_ssize_t, const double *, Py_ssize_t,
                                           const double *, double, double, double *, double)
    ctypedef double (*fe_smx_prob_f32_fn)(Py_ssize_t, const float *, const float *,
                                          const float *, double, float *, double, int *)
    ctypedef double (*fe_smx_prob_f64_fn)(Py_ssize_t, const double *, const double *,
                                          const double *, double, double *, double, int *)
    fe_smx_index_f32_fn fe_smx_index_f32
    fe_smx_index_f64_fn fe_smx_index_f64
    fe_smx_prob_f32_fn fe_smx_prob_f32
    fe_smx_prob_f64_fn fe_smx_prob_f64
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

# Rows of at most SMALL_C classes go through the block kernels: the transcendental functions
# run over a whole block of rows at once instead of row by row with scalar tails.
cdef enum:
    SMALL_C = 128

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
    int ttype, ctype          # element type codes of the target and of the computation
    const void *cw            # class weights in the computation dtype, or NULL
    double cw_sum, smooth, eps, loss_scale, grad_scale
    Py_ssize_t ignore_index
    bint has_ignore


def select_isa(int requested=-1):
    """Point the dispatch tables at the best kernels for this CPU (capped by `requested`)."""
    fe_divergence_select(requested)
    return fe_softmax_select(requested)


def row_pass(Py_ssize_t C, const Py_ssize_t[::1] labels=None, const double[::1] row_weight=None,
             const double[::1] class_weight=None, ignore_index=None):
    """The O(rows) pass before the main one: checks labels and row weights and returns
    (first bad label position or -1, first bad weight position or -1, denominator of
    "mean", number of counted rows), the denominator being the sum over counted rows of
    w_row * class_weight[label].  Labels and weights are flat, in C order of the row shape."""
    cdef Py_ssize_t n = labels.shape[0] if labels is not None else (
        row_weight.shape[0] if row_weight is not None else 0)
    cdef Py_ssize_t i, lab, ign = 0
    cdef bint has_ign = ignore_index is not None
    cdef double w, denom = 0.0, comp = 0.0
    cdef Py_ssize_t bad_label = -1, bad_weight = -1, count = 0
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
            neumaier_add(&denom, &comp, w)
            count += 1
    return bad_label, bad_weight, denom + comp, count


cdef inline double _divergence_row(const Rows *R, char *x, char *t, char *g, double gscale,
                                   int *bad) noexcept nogil:
    if R.itemsize == 4:
        return (fe_xent_f32 if R.kind == CROSS_ENTROPY else
                fe_kl_f32 if R.kind == KL else fe_entropy_f32)(
            R.C, <const float *>x, <const float *>t, R.eps, <float *>g, gscale, bad)
    return (fe_xent_f64 if R.kind == CROSS_ENTROPY else
            fe_kl_f64 if R.kind == KL else fe_entropy_f64)(
        R.C, <const double *>x, <const double *>t, R.eps, <double *>g, gscale, bad)


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


cdef inline void _write_loss(const Rows *R, char *out, double loss) noexcept nogil:
    if out != NULL:
        if R.itemsize == 4:
            (<float *>out)[0] = <float>(loss * R.loss_scale)
        else:
            (<double *>out)[0] = loss * R.loss_scale


cdef void _small_rows(const Rows *R, Py_ssize_t b, char *scratch, double *s_out,
                      int *bad_out) noexcept nogil:
    """One block of short rows: gathered into contiguous buffers, run through one block
    kernel, results written back row by row."""
    cdef Py_ssize_t isz = R.itemsize, C = R.C
    cdef Py_ssize_t r0 = b * R.rows_per_block
    cdef Py_ssize_t n = min(R.nrows, r0 + R.rows_per_block) - r0
    cdef Py_ssize_t j, label = 0
    cdef Py_ssize_t idx[FE_MAXDIM]
    cdef Py_ssize_t off[NOPS]
    cdef char *xb = scratch                        # the block's logits / q, contiguous
    cdef char *tb = xb + FE_BLOCK * isz           # its target distributions
    cdef char *gb = tb + FE_BLOCK * isz           # its gradient
    cdef char *zb = gb + FE_BLOCK * isz           # the kernel's scratch
    cdef Py_ssize_t *lab = <Py_ssize_t *>(zb + FE_BLOCK * isz)
    cdef Py_ssize_t *out_off = lab + R.rows_per_block
    cdef Py_ssize_t *grad_off = out_off + R.rows_per_block
    cdef double *gsc = <double *>(grad_off + R.rows_per_block)
    cdef double *rws = gsc + R.rows_per_block
    cdef double *loss = rws + R.rows_per_block
    cdef double *work = loss + R.rows_per_block
    cdef double s = 0.0, rw
    cdef int bad = 0
    cdef bint ign

    _start(R, r0, idx, off)
    # rows back to back in memory (the common C-contiguous case): the kernel reads the
    # logits / distributions and writes the gradient in place, no gather or scatter
    cdef bint flat = R.ndim == 1
    cdef bint x_in_place = flat and R.cstride[X] == isz and R.strides[X][0] == C * isz
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
    for j in range(n):
        rw = 1.0 if R.data[RW] == NULL else (<double *>(R.data[RW] + off[RW]))[0]
        ign = _ignored(R, NULL if R.data[LAB] == NULL else R.data[LAB] + off[LAB], &label)
        lab[j] = -1 if ign else label
        rws[j] = 0.0 if ign else rw
        gsc[j] = 0.0 if ign else R.grad_scale * rw
        out_off[j] = off[OUT]
        grad_off[j] = off[GRAD]
        if not x_in_place:
            fe_gather_as(xb + j * C * isz, isz, R.data[X] + off[X], C, R.cstride[X], R.ctype)
        if R.data[TP] != NULL and not t_in_place:
            fe_gather_as(tb + j * C * isz, isz, R.data[TP] + off[TP], C, R.cstride[TP], R.ttype)
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
            fe_div_block_f32(kind, n, C, <float *>xb, <const float *>tp, R.eps, <float *>g,
                             gsc, loss, <float *>zb, &bad)
    else:
        if R.kind == SOFTMAX:
            fe_smx_block_f64(n, C, <double *>xb, labp, <const double *>tp,
                             <const double *>R.cw, R.cw_sum, R.smooth, <double *>g, gsc, loss,
                             <double *>zb, work, &bad)
        else:
            fe_div_block_f64(kind, n, C, <double *>xb, <const double *>tp, R.eps,
                             <double *>g, gsc, loss, <double *>zb, &bad)
    for j in range(n):
        loss[j] = rws[j] * loss[j] if rws[j] > 0 else 0.0
        s += loss[j]
        _write_loss(R, NULL if R.data[OUT] == NULL else R.data[OUT] + out_off[j], loss[j])
        if g != NULL and not g_in_place:
            fe_scatter(R.data[GRAD] + grad_off[j], g + j * C * isz, C, R.cstride[GRAD], isz)
    s_out[0] = s
    bad_out[0] = bad


cdef void _rows(const Rows *R, Py_ssize_t b, char *scratch, double *s_out,
                int *bad_out) noexcept nogil:
    """One block of rows."""
    cdef Py_ssize_t isz = R.itemsize, C = R.C
    cdef Py_ssize_t r0 = b * R.rows_per_block
    cdef Py_ssize_t r1 = min(R.nrows, r0 + R.rows_per_block)
    cdef Py_ssize_t r, k, c, label = 0
    cdef Py_ssize_t idx[FE_MAXDIM]
    cdef Py_ssize_t off[NOPS]
    cdef char *p[NOPS]
    cdef char *xs = scratch
    cdef char *ts = scratch + C * isz
    cdef char *gs = scratch + 2 * C * isz
    cdef double s = 0.0, rw, loss, gscale
    cdef int bad = 0
    cdef bint grad_direct = R.data[GRAD] != NULL and R.cstride[GRAD] == isz

    _start(R, r0, idx, off)
    for r in range(r0, r1):
        for k in range(NOPS):
            p[k] = NULL if R.data[k] == NULL else R.data[k] + off[k]
        rw = 1.0 if p[RW] == NULL else (<double *>p[RW])[0]
        if _ignored(R, p[LAB], &label):
            # ignored row (labels were range-checked before): no loss, zero gradient
            loss = 0.0
            if p[GRAD] != NULL:
                for c in range(C):
                    if isz == 4:
                        (<float *>(p[GRAD] + c * R.cstride[GRAD]))[0] = 0
                    else:
                        (<double *>(p[GRAD] + c * R.cstride[GRAD]))[0] = 0
        else:
            if R.cstride[X] != isz:
                fe_gather_as(xs, isz, p[X], C, R.cstride[X], R.ctype)
                p[X] = xs
            if p[TP] != NULL and (R.cstride[TP] != isz or R.ttype != R.ctype):
                fe_gather_as(ts, isz, p[TP], C, R.cstride[TP], R.ttype)
                p[TP] = ts
            gscale = R.grad_scale * rw
            if p[GRAD] != NULL and not grad_direct:
                p[GRAD] = gs
            if R.kind != SOFTMAX:
                loss = _divergence_row(R, p[X], p[TP], p[GRAD], gscale, &bad)
            elif isz == 4:
                if p[TP] == NULL:
                    loss = fe_smx_index_f32(C, <const float *>p[X], label,
                                            <const float *>R.cw, R.cw_sum, R.smooth,
                                            <float *>p[GRAD], gscale)
                else:
                    loss = fe_smx_prob_f32(C, <const float *>p[X], <const float *>p[TP],
                                           <const float *>R.cw, R.smooth, <float *>p[GRAD],
                                           gscale, &bad)
            else:
                if p[TP] == NULL:
                    loss = fe_smx_index_f64(C, <const double *>p[X], label,
                                            <const double *>R.cw, R.cw_sum, R.smooth,
                                            <double *>p[GRAD], gscale)
                else:
                    loss = fe_smx_prob_f64(C, <const double *>p[X], <const double *>p[TP],
                                           <const double *>R.cw, R.smooth, <double *>p[GRAD],
                                           gscale, &bad)
            if p[GRAD] != NULL and not grad_direct:
                fe_scatter(R.data[GRAD] + off[GRAD], gs, C, R.cstride[GRAD], isz)
            loss = rw * loss if rw > 0 else 0.0
        s += loss
        _write_loss(R, p[OUT], loss)
        _next(R, idx, off)
    s_out[0] = s
    bad_out[0] = bad


def rowwise(Kind kind, tuple shape, Py_ssize_t C, list operands, list strides,
            list cstrides, *, int target_type=0, int compute_type=0,
            cnp.ndarray class_weight=None, double cw_sum=0.0, double smooth=0.0,
            ignore_index=None, double eps=0.0, double loss_scale, double grad_scale,
            int n_threads):
    """Run the rows of one class-axis function.

    operands: [prediction, target distribution, labels (intp), row weight (float64), out,
    grad], each an array or None; strides: their row strides (bytes) for the row `shape`;
    cstrides: their class-axis strides; target_type, compute_type: the element type codes
    (src/fe_simd.h) of the target distribution (converted while gathered) and of the
    prediction.  Returns (sum of w * row loss in float64, bad bits:
    softmax: 1 = a probability target outside [0, 1]; distributions: 1 = a negative target,
    2 = a negative prediction)."""
    cdef Rows R
    cdef Py_ssize_t k, d, nblocks, b
    cdef int nt
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
    R.ttype = target_type
    R.ctype = compute_type
    R.eps = eps
    R.itemsize = operands[X].dtype.itemsize
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
    if R.nrows == 0 or C == 0:
        return 0.0, 0
    R.rows_per_block = max(1, FE_BLOCK // C)
    nblocks = (R.nrows + R.rows_per_block - 1) // R.rows_per_block
    nt = 1 if R.nrows * C < FE_PARALLEL_MIN * FE_BLOCK else max(1, min(n_threads, nblocks))
    cdef double[::1] sums = np.empty(nblocks, dtype=np.float64)
    cdef int[::1] bads = np.zeros(nblocks, dtype=np.intc)
    cdef bint small = C <= SMALL_C
    # row mode: one row of logits, target, gradient; block mode: four blocks and 11 numbers
    # per row (labels, offsets, scales, losses, the kernel's work)
    cdef Py_ssize_t per_thread = (4 * FE_BLOCK * R.itemsize + 11 * 8 * R.rows_per_block
                                  if small else 3 * C * R.itemsize)
    cdef char[::1] scratch = np.empty(nt * per_thread + 64, dtype=np.int8)
    cdef char *scr = &scratch[0]
    scr += (64 - (<size_t>scr) % 64) % 64          # aligned for the vector loops
    with nogil:
        if small:
            for b in prange(nblocks, schedule='static', num_threads=nt):
                _small_rows(&R, b, scr + threadid() * per_thread, &sums[b], &bads[b])
        else:
            for b in prange(nblocks, schedule='static', num_threads=nt):
                _rows(&R, b, scr + threadid() * per_thread, &sums[b], &bads[b])
    cdef double s = 0.0, cs = 0.0
    cdef int bad = 0
    for b in range(nblocks):      # in block order, compensated
        neumaier_add(&s, &cs, sums[b])
        bad |= bads[b]
    return s + cs, bad
