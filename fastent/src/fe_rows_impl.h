/*
 * fe_rows_impl.h -- the row driver's last step for a block of n rows, for one (dtype,
 * instruction set); see fe_template.h.  No include guard on purpose.
 *   value_r = (w_r > 0 ? w_r loss_r : 0) * loss_scale, rounded to the dtype
 * (w NULL: every w_r = 1) is what reduction="none" returns for row r; it replaces loss[r]
 * (as a double), is written to out + r * stride when out is not NULL, and added to the
 * exact sum *total when total is not NULL (xs: FE_XBLOCK doubles of scratch).
 * rows_labels comes first: the per-row data of the block from its labels and row weights.
 */

/* Rows of a one-axis layout with labels (lp: n labels, ls bytes apart) and row weights (wp,
 * ws bytes apart; NULL: weight 1): lab[j] = the label, or -1 for a row that counts nowhere
 * (fe_label_flags), rws[j] = its weight (0 there), gsc[j] = gs times it (rws and gsc NULL,
 * wp NULL: neither is wanted); returns bad bit 4 when a label is outside [0, C) and not
 * ignore_index.  Contiguous labels without weights (the common case) in one vector loop. */
/* (no dtype in it: built once per instruction set, with the double instance) */
#define FE_ROWS_LABELS_f32 0
#define FE_ROWS_LABELS_f64 1
#define FE_ROWS_LABELS_(dt) FE_ROWS_LABELS_##dt
#define FE_ROWS_LABELS(dt) FE_ROWS_LABELS_(dt)
#if FE_ROWS_LABELS(FE_DT)
FE_KERNEL int FE_FN(rows_labels)(Py_ssize_t n, const char *lp, Py_ssize_t ls, const char *wp,
                              Py_ssize_t ws, Py_ssize_t C, int has_ignore,
                              Py_ssize_t ignore_index, double gs, Py_ssize_t *FE_RESTRICT lab,
                              double *FE_RESTRICT rws, double *FE_RESTRICT gsc)
{
    Py_ssize_t j, bad = 0;
#define FE_LABEL_ROWS(LABEL, WEIGHT, SCALES)                                               \
    FE_PRAGMA(omp simd reduction(|:bad))                                                   \
    for (j = 0; j < n; j++) {                                                              \
        const Py_ssize_t label = (LABEL);                                                  \
        const Py_ssize_t flags = fe_label_flags(label, C, has_ignore, ignore_index);       \
        bad |= flags & 4;                                                                  \
        lab[j] = flags & 1 ? -1 : label;                                                   \
        if (SCALES) {                                                                      \
            const double rw = (WEIGHT);                                                    \
            rws[j] = flags & 1 ? 0.0 : rw;                                                 \
            gsc[j] = flags & 1 ? 0.0 : gs * rw;                                            \
        }                                                                                  \
    }
    if (rws == NULL && ls == (Py_ssize_t)sizeof(Py_ssize_t)) {  /* labels only */
        const Py_ssize_t *FE_RESTRICT l = (const Py_ssize_t *)lp;
        FE_LABEL_ROWS(l[j], 1.0, 0)
    } else if (rws == NULL) {
        FE_LABEL_ROWS(*(const Py_ssize_t *)(lp + j * ls), 1.0, 0)
    } else if (wp == NULL && ls == (Py_ssize_t)sizeof(Py_ssize_t)) {
        const Py_ssize_t *FE_RESTRICT l = (const Py_ssize_t *)lp;
        FE_LABEL_ROWS(l[j], 1.0, 1)
    } else if (wp == NULL) {
        FE_LABEL_ROWS(*(const Py_ssize_t *)(lp + j * ls), 1.0, 1)
    } else {
        FE_LABEL_ROWS(*(const Py_ssize_t *)(lp + j * ls), *(const double *)(wp + j * ws), 1)
    }
#undef FE_LABEL_ROWS
    return (int)bad;
}

/* fe_gather_as (fe_simd.h) built for this instruction set: its conversion loops (bfloat16,
 * float16, integers) in this set's vectors, not in the driver's (SSE2). */
FE_KERNEL void FE_FN(rows_gather)(void *dst, Py_ssize_t dst_itemsize, const char *src,
                               Py_ssize_t n, Py_ssize_t stride, int src_type)
{
    fe_gather_as(dst, dst_itemsize, src, n, stride, src_type);
}
#endif

FE_KERNEL void FE_FN(rows_finish)(Py_ssize_t n, const double *FE_RESTRICT w,
                               double *FE_RESTRICT loss, double loss_scale, char *out,
                               Py_ssize_t stride, fe_xsum *total, double *FE_RESTRICT xs)
{
    Py_ssize_t r;
    int64_t mb = 0;             /* max |value| as bits, for the exact sum (fe_dabs_bits) */
#define FE_FINISH(VALUE)                                                                   \
    FE_PRAGMA(omp simd reduction(max:mb))                                                  \
    for (r = 0; r < n; r++) {                                                              \
        const double v = fe_one_nan_f64((double)(REAL)(VALUE));                            \
        const int64_t a = fe_dabs_bits(v);                                                 \
        loss[r] = v;                                                                       \
        mb = a > mb ? a : mb;                                                              \
    }
    if (w) {
        FE_FINISH((w[r] > 0 ? w[r] * loss[r] : 0.0) * loss_scale)
    } else {                                    /* w = 1: 1 * loss is loss, NaN included */
        FE_FINISH(loss[r] * loss_scale)
    }
#undef FE_FINISH
    if (out) {
        if (stride == (Py_ssize_t)sizeof(REAL)) {
            REAL *FE_RESTRICT o = (REAL *)out;
            FE_PRAGMA(omp simd)
            for (r = 0; r < n; r++) o[r] = (REAL)loss[r];
        } else {
            for (r = 0; r < n; r++) *(REAL *)(out + r * stride) = (REAL)loss[r];
        }
    }
    if (total && n <= FE_XBLOCK)                /* (a block's rows: always) */
        fe_xsum_add_f64_block(total, loss, n, mb, xs);
    else if (total)
        fe_xsum_add_f64(total, loss, n, xs);
}
