/*
 * fe_rows_impl.h -- the row driver's last step for a block of n rows, for one (dtype,
 * instruction set); see fe_template.h.  No include guard on purpose.
 *   value_r = (w_r > 0 ? w_r loss_r : 0) * loss_scale, rounded to the dtype
 * is what reduction="none" returns for row r; it replaces loss[r] (as a double), is written
 * to out + r * stride when out is not NULL, and added to the exact sum *total when total is
 * not NULL (xs: FE_XBLOCK doubles of scratch).
 */
static void FE_FN(rows_finish)(Py_ssize_t n, const double *FE_RESTRICT w,
                               double *FE_RESTRICT loss, double loss_scale, char *out,
                               Py_ssize_t stride, fe_xsum *total, double *FE_RESTRICT xs)
{
    Py_ssize_t r;
    FE_PRAGMA(omp simd)
    for (r = 0; r < n; r++)
        loss[r] = (double)(REAL)((w[r] > 0 ? w[r] * loss[r] : 0.0) * loss_scale);
    if (out) {
        if (stride == (Py_ssize_t)sizeof(REAL)) {
            REAL *FE_RESTRICT o = (REAL *)out;
            FE_PRAGMA(omp simd)
            for (r = 0; r < n; r++) o[r] = (REAL)loss[r];
        } else {
            for (r = 0; r < n; r++) *(REAL *)(out + r * stride) = (REAL)loss[r];
        }
    }
    if (total)
        fe_xsum_add_f64(total, loss, n, xs);
}
