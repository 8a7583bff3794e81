/*
 * fe_softmax_impl.h -- softmax cross-entropy of a block of R rows of C logits (contiguous,
 * R*C), for one (dtype, instruction set); see fe_template.h.  No include guard on purpose.
 * The maths is in fe_terms_impl.h (softmax_loss, softmax_grad, softmax_coef, the row sums);
 * this file only orders the passes:
 *   1. per row: m = max x (fe_terms_impl.h: rowmax), z = x - m
 *   2. the whole block at once: e = exp(z)      (short rows vectorise like long ones)
 *   3. per row: S = sum e, A, B in the fixed order; loss = A log1p(S - 1) + B
 *   4. the whole block: gradient (e A/S - a) * scale
 * A row's bits are the same in any block, at any position, for any R.
 *   index target:  lab[r] is the label, < 0 for a row that counts nowhere (ignore_index:
 *                  loss 0, gradient 0); a_c = (1 - s) w_t [c = t] + (s / C) w_c
 *   probabilities: t (R*C); a_c = w_c ((1 - s) t_c + s / C)
 * (w: class weights, 1 when not given; s: label smoothing).  loss[r] gets the row loss,
 * grad (R*C, may be NULL) the gradient times gsc[r]; z is R*C scratch, work 4R doubles.
 */
static void FE_FN(softmax_block)(Py_ssize_t R, Py_ssize_t C, const REAL *FE_RESTRICT x,
                                 const Py_ssize_t *FE_RESTRICT lab, const REAL *FE_RESTRICT t,
                                 const REAL *FE_RESTRICT cw, double cw_sum, double smooth,
                                 REAL *FE_RESTRICT grad, const double *FE_RESTRICT gsc,
                                 double *FE_RESTRICT loss, REAL *FE_RESTRICT z,
                                 double *FE_RESTRICT work, int *bad)
{
    const Py_ssize_t n = R * C;
    double *FE_RESTRICT S = work, *FE_RESTRICT A = work + R;
    REAL *FE_RESTRICT M = (REAL *)(work + 2 * R);
    const REAL keep = (REAL)(1.0 - smooth), share = (REAL)(smooth / (double)C);
    const REAL zero = 0, one = 1;
    Py_ssize_t r, c, i;

    for (r = 0; r < R; r++) {                          /* 1. z = x - max */
        const REAL *xr = x + r * C;
        REAL *zr = z + r * C;
        const REAL m = FE_T(rowmax)(C, xr);
        M[r] = m;
        FE_PRAGMA(omp simd)
        for (c = 0; c < C; c++)
            zr[c] = xr[c] - m;
    }
    FE_PRAGMA(omp simd)
    for (i = 0; i < n; i++)                            /* 2. e = exp(z) */
        z[i] = EXP(z[i]);
    for (r = 0; r < R; r++) {                          /* 3. row sums and loss */
        const REAL *xr = x + r * C;
        double Ar, B;
        if (lab) {
            if (lab[r] < 0) { S[r] = 1.0; A[r] = 0.0; loss[r] = 0.0; continue; }
            const double hot = (1.0 - smooth) * (cw ? (double)cw[lab[r]] : 1.0);
            Ar = hot + (smooth / (double)C) * cw_sum;
            B = hot != 0.0 ? hot * ((double)M[r] - (double)xr[lab[r]]) : 0.0;
            if (smooth != 0.0)
                B += (smooth / (double)C) * FE_T(softmax_smooth_sum)(C, xr, M[r], cw);
        } else {
            FE_T(softmax_prob_sums)(C, xr, M[r], t + r * C, cw, keep, share, &Ar, &B, bad);
        }
        S[r] = FE_T(rowsum)(C, z + r * C);
        A[r] = Ar;
        loss[r] = FE_T(softmax_loss)(Ar, S[r], B);
    }
    if (!grad)
        return;
    for (r = 0; r < R; r++) {                          /* 4. gradient */
        const REAL f = (REAL)(A[r] / S[r]), gs = (REAL)gsc[r];
        const REAL *er = z + r * C;
        REAL *gr = grad + r * C;
        if (lab && lab[r] < 0) {
            for (c = 0; c < C; c++) gr[c] = zero;
            continue;
        }
        if (lab) {
            const Py_ssize_t lr = lab[r];
            const REAL ht = (REAL)((1.0 - smooth) * (cw ? (double)cw[lr] : 1.0));
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++) {
                const REAL a = share * (cw ? cw[c] : one) + (c == lr ? ht : zero);
                gr[c] = FE_T(softmax_grad)(er[c], f, a, gs);
            }
        } else {
            const REAL *tr = t + r * C;
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++)
                gr[c] = FE_T(softmax_grad)(er[c], f, FE_T(softmax_coef)(tr[c], keep, share,
                                                                        cw ? cw[c] : one), gs);
        }
    }
}
