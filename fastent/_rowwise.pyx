# cython: language_level=3
"""The row families -- softmax cross-entropy and softmax_stats (src/fe_softmax_impl.h),
cross-entropy / KL divergence / entropy / Jensen-Shannon divergence of distributions
(src/fe_divergence_impl.h), and KL / Jensen-Shannon divergences from logits
(src/fe_divlogits_impl.h): their block of the driver (fastent/_driver.pxd), the O(rows)
label and weight pass, and their thin call path.

The Python layers (fastent/softmax.py, fastent/divergence.py) hand over the operands by
name -- pred, target (a distribution, or the teacher's logits) or labels, weight (per row),
out (per row), grad, stats (per row: softmax_stats) --
with the rows laid out by fastent/_layout.row_layout (row axes in the prediction's memory
order, merged where possible) and the class axis kept apart with its own stride.  A block
is a fixed number of rows (a function of C only).  Its rows are read in place when they lie
back to back in memory, else gathered into the thread's scratch (and the gradient scattered
back), so no temporary of the logits' size is ever made; one block kernel per family serves
every row length.  The row values go to the thread's exact sums (src/fe_rows_impl.h).
"""

cimport numpy as cnp
import numpy as np
from libc.math cimport isfinite
from libc.string cimport memset
from fastent cimport _driver
from fastent._common cimport (FE_BLOCK, FE_MAXDIM, FE_T_F32, FE_T_F64, FE_XBLOCK,
                              common_keywords, disjoint, fe_scatter,
                              fe_type_size, fe_xsum,
                              fe_xsum_add_f64, float_type, plain_array, real_number,
                              xsum_state, xsum_value)
from fastent._driver cimport (GRAD, LABELS, NOPS, OUT, PRED, STATS, TARGET, WEIGHT, Driver)

cnp.import_array()

from fastent._exact import rounded as _rounded

cdef extern from "fe_divergence.h" nogil:
    void fe_div_block_f32(int, Py_ssize_t, Py_ssize_t, const float *, const float *, double,
                          double, float *, const double *, double *, float *, double *, int *)
    void fe_div_block_f64(int, Py_ssize_t, Py_ssize_t, const double *, const double *, double,
                          double, double *, const double *, double *, double *, double *,
                          int *)
    int fe_divergence_select(int requested)

cdef extern from "fe_divlogits.h" nogil:
    void fe_divlogits_block_f32(int, Py_ssize_t, Py_ssize_t, const float *, const float *,
                                double, double, float *, const double *, double *, float *,
                                double *)
    void fe_divlogits_block_f64(int, Py_ssize_t, Py_ssize_t, const double *, const double *,
                                double, double, double *, const double *, double *, double *,
                                double *)
    int fe_divlogits_select(int requested)

cdef extern from "fe_rows.h" nogil:
    ctypedef void (*fe_rows_finish_fn)(Py_ssize_t, const double *, double *, double, char *,
                                       Py_ssize_t, fe_xsum *, double *)
    fe_rows_finish_fn fe_rows_finish_f32, fe_rows_finish_f64
    int (*fe_rows_labels)(Py_ssize_t, const char *, Py_ssize_t, const char *, Py_ssize_t,
                          Py_ssize_t, int, Py_ssize_t, double, Py_ssize_t *, double *, double *)
    void (*fe_rows_gather)(void *, Py_ssize_t, const char *, Py_ssize_t, Py_ssize_t, int)
    Py_ssize_t fe_label_flags(Py_ssize_t label, Py_ssize_t C, int has_ignore,
                              Py_ssize_t ignore_index)
    int fe_rows_select(int requested)

cdef extern from "fe_softmax.h" nogil:
    void fe_softmax_block_f32(Py_ssize_t, Py_ssize_t, const float *, const Py_ssize_t *,
                          const float *, const float *, double, double, float *,
                          const double *, double *, float *, double *, double *, int *,
                          const char *, Py_ssize_t)
    void fe_softmax_block_f64(Py_ssize_t, Py_ssize_t, const double *, const Py_ssize_t *,
                          const double *, const double *, double, double, double *,
                          const double *, double *, double *, double *, double *, int *,
                          const char *, Py_ssize_t)
    void fe_softmax_pairs_raw_f32(Py_ssize_t, const float *, const Py_ssize_t *, float *,
                              const double *, double *, int *)
    void fe_softmax_pairs_raw_f64(Py_ssize_t, const double *, const Py_ssize_t *, double *,
                              const double *, double *, int *)
    bint fe_softmax_in_pairs(Py_ssize_t C, const void *cw, double smooth, const void *stats)
    int fe_softmax_select(int requested)

# What a row computes: src/fe_terms.h's one list of kinds (Kind.KL is FE_KL there)
cdef extern from "fe_terms.h":
    cpdef enum Kind "fe_row_kind":
        SOFTMAX "FE_SOFTMAX"
        CROSS_ENTROPY "FE_CROSS_ENTROPY"
        KL "FE_KL"
        ENTROPY "FE_ENTROPY"
        JS "FE_JS"
        KL_LOGITS "FE_KL_LOGITS"
        JS_LOGITS "FE_JS_LOGITS"

cdef struct Params:    # the row families' parameters (Driver.params)
    Kind kind
    Py_ssize_t C               # classes: the length of a row
    const void *cw             # class weights in the computation dtype, or NULL
    double cw_sum, smooth      # their sum; label smoothing
    double lo                  # the distributions' clip floor
    double loss_scale, grad_scale
    double temperature, beta   # the divergences from logits; Jensen-Shannon's weight of p
    Py_ssize_t ignore_index
    bint has_ignore


def select_isa(int requested=-1):
    """Point the dispatch tables at the best kernels for this CPU (capped by `requested`)."""
    fe_divergence_select(requested)
    fe_divlogits_select(requested)
    fe_rows_select(requested)
    return fe_softmax_select(requested)


cdef inline int _label_flags(const Params *P, Py_ssize_t label) noexcept nogil:
    """The one rule for a row's label (src/fe_rows.h): bit 0 set when the row counts
    nowhere, bit 2 (bad bit 4) for a label outside [0, C) that is not ignore_index."""
    return <int>fe_label_flags(label, P.C, P.has_ignore, P.ignore_index)


cdef void _pass_block(const Driver *D, Py_ssize_t b, char *scratch, fe_xsum *sums,
                      double *xs, int *bad_out) noexcept nogil:
    """The row pass over one block of rows: their weights w_row * class_weight[label] to
    sums[0], one per counted row to sums[1]; bad bits: 1 a label outside [0, C) that is not
    ignore_index, 2 a row weight negative or not finite."""
    cdef const Params *P = <const Params *>D.params     # C, the labels' rule, cw (float64)
    cdef const double *cw = <const double *>P.cw
    cdef const Py_ssize_t *labels = <const Py_ssize_t *>D.op[LABELS].data
    cdef const double *weights = <const double *>D.op[WEIGHT].data
    cdef Py_ssize_t r0 = b * D.block, n = min(D.items, r0 + D.block) - r0
    cdef double *buf = <double *>scratch
    cdef Py_ssize_t i, j, lab, nb = 0
    cdef double w
    cdef int bad = 0, flags
    for j in range(n):
        i = r0 + j
        w = 1.0
        if weights != NULL:
            w = weights[i]
            if not (w >= 0 and isfinite(w)):
                bad |= 2
                continue
        if labels != NULL:
            lab = labels[i]
            flags = _label_flags(P, lab)
            if flags & 1:
                bad |= (flags >> 2) & 1
                continue
            if cw != NULL:
                w = w * cw[lab]
        buf[nb] = w
        nb += 1
    fe_xsum_add_f64(&sums[0], buf, nb, xs)
    for j in range(nb):
        buf[j] = 1.0
    fe_xsum_add_f64(&sums[1], buf, nb, xs)
    bad_out[0] = bad


def row_pass(Py_ssize_t C, cnp.ndarray labels=None, cnp.ndarray row_weight=None,
             cnp.ndarray class_weight=None, ignore_index=None, *, int n_threads=1):
    """The O(rows) pass before the main one, on the driver's threads: checks labels and row
    weights (flat, contiguous, intp and float64, in C order of the row shape) and returns
    (bad bits: 1 a label outside [0, C) that is not ignore_index, 2 a row weight negative or
    not finite; denominator of "mean" as an exact-sum state; number of counted rows), the
    denominator being the sum over counted rows of w_row * class_weight[label]."""
    cdef Driver D
    cdef Params P
    cdef fe_xsum denom, count
    _driver.init(&D, 1, FE_T_F64)
    D.items = D.elements = D.shape[0] = (labels if labels is not None else row_weight).shape[0]
    D.block = FE_XBLOCK
    D.scratch = FE_XBLOCK * sizeof(double)
    if labels is not None:
        D.op[LABELS].data = <char *>cnp.PyArray_DATA(labels)
    if row_weight is not None:
        D.op[WEIGHT].data = <char *>cnp.PyArray_DATA(row_weight)
    P.C = C
    P.cw = NULL
    if class_weight is not None:
        P.cw = <const double *>cnp.PyArray_DATA(class_weight)
    P.has_ignore = ignore_index is not None
    P.ignore_index = ignore_index if ignore_index is not None else 0
    D.params = &P
    cdef int bad = _driver.run(&D, _pass_block, n_threads, True, &denom, &count)
    return bad, xsum_state(&denom), int(xsum_value(&count, _rounded) if D.items else 0)


cdef inline int _row_data_flat(const Driver *D, Py_ssize_t r0, Py_ssize_t n, bint raw,
                               Py_ssize_t *lab, double *rws, double *gsc) noexcept nogil:
    """The per-row data of rows r0 .. r0 + n of a one-axis row layout: labels (-1 for a
    row that counts nowhere), row weights (0 there) and gradient scales; without row
    weights, only the labels and (with a gradient) the gradient scales: every weight is 1
    and a row that counts nowhere has loss 0 (the kernels write it).  `raw`: the kernel
    reads the labels itself (see _rows_block), so no labels either.  Returns bad bit 4 for
    a label outside [0, C) (see _rows_block)."""
    cdef const Params *P = <const Params *>D.params
    cdef const _driver.Operand *L = &D.op[LABELS]
    cdef const _driver.Operand *W = &D.op[WEIGHT]
    cdef const char *lp = NULL if L.data == NULL else L.data + r0 * L.strides[0]
    cdef const char *wp = NULL if W.data == NULL else W.data + r0 * W.strides[0]
    cdef Py_ssize_t ls = L.strides[0], ws = W.strides[0], j
    cdef double rw, gs = P.grad_scale
    if (lp == NULL or raw) and wp == NULL:    # every weight 1: _rows_block passes none
        if D.op[GRAD].data != NULL:
            for j in range(n):
                gsc[j] = gs
        return 0
    if lp == NULL:
        for j in range(n):
            rw = (<const double *>(wp + j * ws))[0]
            rws[j] = rw
            gsc[j] = gs * rw
        return 0
    # without row weights or a gradient, the labels only (_rows_block passes no weights)
    cdef bint scales = wp != NULL or D.op[GRAD].data != NULL
    return fe_rows_labels(n, lp, ls, wp, ws, P.C, P.has_ignore, P.ignore_index, gs, lab,
                          rws if scales else NULL, gsc if scales else NULL)


cdef inline bint _in_place(const Driver *D, int k, Py_ssize_t C) noexcept nogil:
    """Whether operand k's rows of a one-axis layout lie back to back in the computation
    type (the kernel reads or writes them where they are)."""
    return (D.ndim == 1 and D.op[k].data != NULL and D.op[k].type == D.ctype
            and D.op[k].cstride == D.itemsize and D.op[k].strides[0] == C * D.itemsize)


cdef void _rows_block(const Driver *D, Py_ssize_t b, char *scratch, fe_xsum *sums,
                      double *xs, int *bad_out) noexcept nogil:
    """One block of rows: read in place or gathered into contiguous buffers, run through
    the family's block kernel, the row values written back and summed exactly (to sums[0]
    when `sums` is given)."""
    cdef const Params *P = <const Params *>D.params
    cdef const _driver.Operand *X = &D.op[PRED]
    cdef const _driver.Operand *T = &D.op[TARGET]
    cdef const _driver.Operand *G = &D.op[GRAD]
    cdef const _driver.Operand *O = &D.op[OUT]
    cdef Py_ssize_t isz = D.itemsize, C = P.C, rpb = D.block
    cdef Py_ssize_t bsz = rpb * C                  # elements of a block's buffers
    cdef Py_ssize_t r0 = b * rpb
    cdef Py_ssize_t n = min(D.items, r0 + rpb) - r0
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
    cdef double *work = loss + rpb                 # 11 rpb + 4 bsz doubles
    cdef double *stats = work + 11 * rpb + 4 * bsz     # 5 rpb doubles (softmax_stats)
    cdef Py_ssize_t *stats_off = <Py_ssize_t *>(stats + 5 * rpb)
    cdef double rw
    cdef int bad = 0, flags
    cdef const char *next_row = NULL         # the next block's first row, when gathered
    cdef Py_ssize_t next_size = 0
    cdef bint ign

    _driver.odo_start(D, D.ndim, r0, idx, off)
    # rows back to back in memory (the common C-contiguous case): the kernel reads the
    # logits / distributions and writes the gradient in place, no gather or scatter
    cdef bint x_in_place = _in_place(D, PRED, C)
    cdef bint t_in_place = _in_place(D, TARGET, C)
    cdef bint g_in_place = _in_place(D, GRAD, C)
    if x_in_place:
        xb = X.data + off[PRED]
    if t_in_place:
        tb = T.data + off[TARGET]
    if g_in_place:
        gb = G.data + off[GRAD]
    cdef bint flat_data = (x_in_place and (T.data == NULL or t_in_place)
                           and (G.data == NULL or g_in_place))
    cdef double *st = stats if D.op[STATS].data != NULL else NULL
    # the two-class loop reads the caller's labels itself (contiguous, none ignored, no row
    # weights): no label pass, and the label reads overlap the loop's arithmetic
    cdef const _driver.Operand *L = &D.op[LABELS]
    cdef bint raw = (flat_data and P.kind == SOFTMAX and L.data != NULL
                     and D.op[WEIGHT].data == NULL and not P.has_ignore
                     and L.strides[0] == sizeof(Py_ssize_t)
                     and fe_softmax_in_pairs(C, P.cw, P.smooth, st))
    if flat_data:
        bad = _row_data_flat(D, r0, n, raw, lab, rws, gsc)     # nothing to gather or scatter
    else:
        for j in range(n):
            rw = 1.0 if D.op[WEIGHT].data == NULL else (
                <double *>(D.op[WEIGHT].data + off[WEIGHT]))[0]
            ign = False
            if D.op[LABELS].data != NULL:
                label = (<const Py_ssize_t *>(D.op[LABELS].data + off[LABELS]))[0]
                flags = _label_flags(P, label)
                bad |= flags & 4    # outside [0, C): only the thin call path checks it here
                ign = flags & 1
            lab[j] = -1 if ign else label
            rws[j] = 0.0 if ign else rw
            gsc[j] = 0.0 if ign else P.grad_scale * rw
            out_off[j] = off[OUT]
            grad_off[j] = off[GRAD]
            stats_off[j] = off[STATS]
            if not x_in_place:
                fe_rows_gather(xb + j * C * isz, isz, X.data + off[PRED], C, X.cstride,
                               X.type)
            if T.data != NULL and not t_in_place:
                fe_rows_gather(tb + j * C * isz, isz, T.data + off[TARGET], C, T.cstride,
                               T.type)
            _driver.odo_next(D, D.ndim, idx, off)
        # a gathered prediction: the next block's first row (where `off` now points) is
        # for the kernel to fetch as it works on this block's (softmax: long rows), so the
        # next gather reads it from the cache
        if (not x_in_place and r0 + n < D.items
                and X.cstride == fe_type_size(X.type)):
            next_row = X.data + off[PRED]
            next_size = fe_type_size(X.type)
    cdef char *g = gb if G.data != NULL else NULL
    cdef const Py_ssize_t *labp = lab if D.op[LABELS].data != NULL else NULL
    cdef const char *tp = tb if T.data != NULL else NULL
    if raw:
        labp = <const Py_ssize_t *>(L.data + r0 * L.strides[0])
        if isz == 4:
            fe_softmax_pairs_raw_f32(n, <float *>xb, labp, <float *>g, gsc, loss, &bad)
        else:
            fe_softmax_pairs_raw_f64(n, <double *>xb, labp, <double *>g, gsc, loss, &bad)
    elif isz == 4:
        if P.kind == SOFTMAX:
            fe_softmax_block_f32(n, C, <float *>xb, labp, <const float *>tp, <const float *>P.cw,
                             P.cw_sum, P.smooth, <float *>g, gsc, loss, <float *>zb, work, st,
                             &bad, next_row, next_size)
        elif P.kind == KL_LOGITS or P.kind == JS_LOGITS:
            fe_divlogits_block_f32(P.kind, n, C, <float *>xb, <const float *>tp, P.temperature,
                                   P.beta, <float *>g, gsc, loss, <float *>zb, work)
        else:
            fe_div_block_f32(P.kind, n, C, <float *>xb, <const float *>tp, P.lo, P.beta,
                             <float *>g, gsc, loss, <float *>zb, work, &bad)
    else:
        if P.kind == SOFTMAX:
            fe_softmax_block_f64(n, C, <double *>xb, labp, <const double *>tp,
                             <const double *>P.cw, P.cw_sum, P.smooth, <double *>g, gsc, loss,
                             <double *>zb, work, st, &bad, next_row, next_size)
        elif P.kind == KL_LOGITS or P.kind == JS_LOGITS:
            fe_divlogits_block_f64(P.kind, n, C, <double *>xb, <const double *>tp,
                                   P.temperature, P.beta, <double *>g, gsc, loss,
                                   <double *>zb, work)
        else:
            fe_div_block_f64(P.kind, n, C, <double *>xb, <const double *>tp, P.lo, P.beta,
                             <double *>g, gsc, loss, <double *>zb, work, &bad)
    # a row of gradient scale 0 (weight 0, an ignored label, every row when all weights
    # are 0 under "mean") contributes exactly +0, also where its gradient is infinite or
    # NaN (0 * inf): one pass here for every row kernel (a select in their loops cost up to
    # 5x in the divergences')
    if g != NULL:
        for j in range(n):
            if gsc[j] == 0.0:
                memset(g + j * C * isz, 0, C * isz)
    # the rows' values as "none" returns them (w * loss in the dtype), written and summed
    cdef bint flat = D.ndim == 1
    cdef char *outp = NULL
    if flat and O.data != NULL:
        outp = O.data + r0 * O.strides[0]
    if flat_data and D.op[WEIGHT].data == NULL:
        rws = NULL      # every weight 1 (_row_data_flat; a row a label leaves out has loss 0)
    if isz == 4:
        fe_rows_finish_f32(n, rws, loss, P.loss_scale, outp, O.strides[0], sums, xs)
    else:
        fe_rows_finish_f64(n, rws, loss, P.loss_scale, outp, O.strides[0], sums, xs)
    if not flat and O.data != NULL:
        for j in range(n):
            if isz == 4:
                (<float *>(O.data + out_off[j]))[0] = <float>loss[j]
            else:
                (<double *>(O.data + out_off[j]))[0] = loss[j]
    if g != NULL and not g_in_place:
        for j in range(n):
            fe_scatter(G.data + grad_off[j], g + j * C * isz, C, G.cstride, isz)
    cdef const _driver.Operand *ST = &D.op[STATS]
    if st != NULL:                             # softmax_stats: 5 numbers per row
        for j in range(n):
            fe_scatter(ST.data + ((r0 + j) * ST.strides[0] if flat else stats_off[j]),
                       <char *>(st + 5 * j), 5, ST.cstride, 8)
    bad_out[0] = bad


cdef void _prepare(Driver *D, Params *P) noexcept:
    """The blocks of D's rows (its shape and operands set), for _rows_block."""
    cdef Py_ssize_t d, C = P.C
    D.items = 1
    for d in range(D.ndim):
        D.items *= D.shape[d]
    D.elements = D.items * C
    # a block of short rows (C <= 128) of the softmax and of the divergences from logits
    # holds up to 4 FE_BLOCK elements (FE_XBLOCK rows at most: one exact block sum): a
    # quarter of the per-block steps (the rows' exact sum, the driver's bookkeeping, the
    # kernels' per-block setup).  Longer rows, and the divergences of distributions, keep
    # FE_BLOCK; no block has more rows than the call (the scratch is sized by the block).
    # Measurements: docs/design-notes.md, N13.  The rows' values and their exact sum do
    # not depend on the blocks.
    cdef Py_ssize_t elements = FE_BLOCK
    if C <= 128 and (P.kind == SOFTMAX or P.kind == KL_LOGITS or P.kind == JS_LOGITS):
        elements = 4 * FE_BLOCK
    D.block = max(1, min(D.items, FE_XBLOCK, elements // max(C, 1)))
    # four buffers of a block's elements, four of doubles (the kernel's element terms) and
    # 24 numbers per row (labels, offsets, scales, losses, the kernel's work, statistics),
    # 64-byte aligned for the vector loops
    D.scratch = 4 * D.block * C * D.itemsize + 4 * D.block * C * 8 + 24 * 8 * D.block
    D.params = P


def rowwise(Kind kind, tuple shape, Py_ssize_t C, dict operands, *, int compute_type,
            cnp.ndarray class_weight=None, double cw_sum=0.0, double smooth=0.0,
            ignore_index=None, double lo=0.0, double loss_scale, double grad_scale,
            double temperature=1.0, double beta=0.5, bint want_sum=True, int n_threads):
    """Run the rows of one class-axis function.

    operands: {"pred", "target" (a distribution), "labels" (intp), "weight" (per row,
    float64), "out", "grad": (array, byte strides over the row `shape`, byte stride along
    the class axis, element type code) or None}; the prediction and the target are
    converted while gathered, the computation is float32 or float64 (`compute_type`, the
    outputs' type); lo: the clip floor of the distributions; temperature and beta: the
    divergences from logits and Jensen-Shannon's; "stats" (float64, 5 per row along its own
    class-axis stride) may be given with SOFTMAX and labels (softmax_stats).  Returns (exact sum of the
    written row values as an ExactSum state, or None unless `want_sum`; bad bits: softmax:
    1 = a probability target outside [0, 1], 4 = a label outside [0, C) that is not
    ignore_index (set by each block's label pass, which gives the kernel -1 for it, or --
    two classes, no ignore_index, no row weights -- by the two-class loop, which reads the
    caller's labels itself; it also sets it if it is ever handed anything but -1 or a class);
    distributions: 1 = a negative target, 2 = a negative prediction)."""
    cdef Driver D
    cdef Params P
    _driver.init(&D, len(shape), compute_type)
    _driver.set_operands(&D, shape, operands)
    if (D.op[PRED].data == NULL
            or (kind != SOFTMAX and kind != ENTROPY and D.op[TARGET].data == NULL)
            or (kind == SOFTMAX and (D.op[TARGET].data == NULL) == (D.op[LABELS].data == NULL))):
        raise ValueError("rowwise: missing operands for this kind of row")  # never reached
    P.kind = kind
    P.C = C
    P.cw = NULL if class_weight is None else cnp.PyArray_DATA(class_weight)
    P.cw_sum = cw_sum
    P.smooth = smooth
    P.lo = lo
    P.has_ignore = ignore_index is not None
    P.ignore_index = ignore_index if ignore_index is not None else 0
    P.loss_scale = loss_scale
    P.grad_scale = grad_scale
    P.temperature = temperature
    P.beta = beta
    cdef fe_xsum total, unused
    _prepare(&D, &P)
    cdef int bad = _driver.run(&D, _rows_block, n_threads, want_sum, &total, &unused)
    return (xsum_state(&total) if want_sum and D.items and C else None), bad


# ---- the thin call path -------------------------------------------------------------------
# The common case of a class-axis function -- one C-contiguous, aligned float32/float64
# (rows, C) prediction with axis=-1, a target of the right shape and type, default
# keywords -- goes from the public function to the block loop above with O(1) Python work.
# Anything else returns None, and the caller takes its general path, which makes every check
# and raises every error; so does a call whose data a kernel found invalid (bad bits), so the
# general path raises the same error it always did.  Same kernels, same bits.
from fastent import _threads
from fastent import _validation as _v

cdef dict _AUTO_LO = {t: _v.clip_bounds(_v.clip_eps("auto", t), t)[0]
                      for t in (np.float32, np.float64)}
cdef double _LO32 = _AUTO_LO[np.float32], _LO64 = _AUTO_LO[np.float64]


cdef inline void _operand(_driver.Operand *op, cnp.ndarray a, Py_ssize_t row_stride,
                          Py_ssize_t cstride):
    """A one-axis operand: rows `row_stride` bytes apart, classes `cstride` apart."""
    op.data = <char *>cnp.PyArray_DATA(a)
    op.strides[0] = row_stride
    op.cstride = cstride


def fast(Kind kind, target, pred, axis, reduction, base, eps, zero_division, out, grad_out,
         n_threads, bint want_loss, bint want_grad, weight=None, class_weight=None,
         ignore_index=None, label_smoothing=0.0, bint totals=False, temperature=1.0,
         beta=0.5):
    """(out or None, grad or None, the correctly rounded sum of the row values or None, the
    exact sum as an ExactSum state or None, rows counted) of the common case
    (fastent._api.fast_result makes the result), or None (see above).  `totals`: the sum
    is wanted whatever the reduction (RunningLoss).  eps: "auto" for the kinds that clip
    (cross-entropy, KL, entropy), None for the others."""
    cdef int typ = float_type(pred)
    cdef bint clips = kind == CROSS_ENTROPY or kind == KL or kind == ENTROPY
    if not (typ >= 0 and cnp.PyArray_NDIM(<cnp.ndarray>pred) == 2
            and type(axis) is int and (axis == -1 or axis == 1)
            and weight is None and class_weight is None and ignore_index is None
            and ((type(eps) is str and eps == "auto") if clips else eps is None)
            and real_number(temperature) and 0 < temperature < float("inf")
            and real_number(beta) and 0 <= beta <= 1
            and common_keywords(reduction, base, label_smoothing, zero_division, n_threads)):
        return None
    cdef cnp.ndarray x = pred, t = None, o = None, g = None
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

    cdef Driver D
    cdef Params P
    _driver.init(&D, 1, FE_T_F32 if isz == 4 else FE_T_F64)
    D.shape[0] = N
    P.kind = kind
    P.C = C
    P.lo = (_LO32 if isz == 4 else _LO64) if clips else 0.0
    P.cw = NULL
    P.cw_sum = C
    P.smooth = 0.0
    P.has_ignore = False
    P.ignore_index = 0
    P.loss_scale = 1.0
    P.grad_scale = 1.0 / N if reduction == "mean" else 1.0
    P.temperature = temperature
    P.beta = beta
    _operand(&D.op[PRED], x, C * isz, isz)
    if labels:
        _operand(&D.op[LABELS], t, sizeof(Py_ssize_t), 0)
    elif t is not None:
        _operand(&D.op[TARGET], t, C * isz, isz)
    if o is not None:
        _operand(&D.op[OUT], o, isz, 0)
    if g is not None:
        _operand(&D.op[GRAD], g, C * isz, isz)
    _prepare(&D, &P)
    return _driver.run_call(&D, _rows_block, n_threads, want_loss and not none, totals, o, g,
                            N, _threads, _rounded)
