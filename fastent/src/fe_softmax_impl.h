/*
 * fe_softmax_impl.h -- softmax cross-entropy of one row of C logits (contiguous), for one
 * (dtype, instruction set); see fe_template.h.  No include guard on purpose.
 *
 * With m = max_c x_c, e_c = exp(x_c - m), S = sum_c e_c and class coefficients a_c (the
 * class-weighted, smoothed target), the row loss is
 *     l = -sum_c a_c log_softmax(x)_c = A log S + sum_c a_c (m - x_c),     A = sum_c a_c,
 * a form without cancellation at large logits (x = 1e4 gives the exact loss), and the
 * gradient is  dl/dx_c = e_c A / S - a_c.  log S is taken as log1p(S - 1): the row maximum
 * contributes exactly 1 to S, so S - 1 is exact and a loss near 0 keeps its relative
 * accuracy.  A zero a_c contributes 0 (also at x_c = -inf);
 * a row of -inf, or with a NaN, gives NaN.  S, A and the loss accumulate in double.
 *   index target t:  a_c = (1 - s) w_t [c = t] + (s / C) w_c
 *   probabilities:   a_c = w_c ((1 - s) t_c + s / C)
 * (w: class weights, 1 when not given; s: label smoothing).
 */

/* max of a row; NaN is skipped here and caught by exp(NaN - m) in the sum */
FE_INLINE REAL FE_FN(row_max)(Py_ssize_t C, const REAL *restrict x)
{
    REAL m = -(REAL)INFINITY;
    Py_ssize_t c;
    FE_PRAGMA(omp simd reduction(max:m))
    for (c = 0; c < C; c++)
        m = x[c] > m ? x[c] : m;
    return m;
}

/* Index target.  Returns the row loss; writes the gradient times gscale when grad != NULL. */
static double FE_FN(softmax_row_index)(Py_ssize_t C, const REAL *restrict x, Py_ssize_t label,
                                       const REAL *restrict cw, double cw_sum, double smooth,
                                       REAL *restrict grad, double gscale)
{
    const REAL m = FE_FN(row_max)(C, x);
    double S = 0.0, B = 0.0;
    Py_ssize_t c;
    if (grad) {
        FE_PRAGMA(omp simd reduction(+:S))
        for (c = 0; c < C; c++) {
            const REAL e = EXP(x[c] - m);
            grad[c] = e;
            S += (double)e;
        }
    } else {
        FE_PRAGMA(omp simd reduction(+:S))
        for (c = 0; c < C; c++)
            S += (double)EXP(x[c] - m);
    }
    const double wt = cw ? (double)cw[label] : 1.0;
    const double hot = (1.0 - smooth) * wt;      /* a_t beyond the smoothing share */
    const double share = smooth / (double)C;     /* a_c = share * w_c + hot [c = t]   */
    const double A = hot + share * cw_sum;
    if (hot != 0.0)
        B = hot * ((double)m - (double)x[label]);
    if (share != 0.0) {
        double Bs = 0.0;
        if (cw) {
            FE_PRAGMA(omp simd reduction(+:Bs))
            for (c = 0; c < C; c++)
                Bs += cw[c] != 0 ? (double)cw[c] * ((double)m - (double)x[c]) : 0.0;
        } else {
            FE_PRAGMA(omp simd reduction(+:Bs))
            for (c = 0; c < C; c++)
                Bs += (double)m - (double)x[c];
        }
        B += share * Bs;
    }
    if (grad) {
        /* (e f - a) first, then the scale: a gradient that is 0 (one class) stays 0 */
        const REAL f = (REAL)(A / S), gs = (REAL)gscale;
        const REAL sh = (REAL)share, ht = (REAL)hot;
        if (cw && share != 0.0) {
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++)
                grad[c] = (grad[c] * f - (sh * cw[c] + (c == label ? ht : (REAL)0))) * gs;
        } else {
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++)
                grad[c] = (grad[c] * f - (sh + (c == label ? ht : (REAL)0))) * gs;
        }
    }
    return A * log1p(S - 1.0) + B;
}

/* Probability target t (contiguous row).  Sets *bad when a t_c is outside [0, 1] or NaN.
 * One specialised loop per (gradient?, class weights?) combination. */
FE_INLINE double FE_FN(softmax_prob_body)(Py_ssize_t C, const REAL *restrict x,
                                          const REAL *restrict t, const REAL *restrict cw,
                                          double smooth, REAL *restrict grad, double gscale,
                                          int *bad, const int has_grad, const int has_cw)
{
    const REAL m = FE_FN(row_max)(C, x);
    const REAL keep = (REAL)(1.0 - smooth), share = (REAL)(smooth / (double)C);
    const REAL zero = 0, one = 1;
    double S = 0.0, A = 0.0, B = 0.0;
    int badt = 0;
    Py_ssize_t c;
    FE_PRAGMA(omp simd reduction(+:S, A, B) reduction(|:badt))
    for (c = 0; c < C; c++) {
        const REAL tc = t[c], xc = x[c];
        badt |= !((tc >= zero) & (tc <= one));
        const REAL e = EXP(xc - m);
        const REAL a = has_cw ? (tc * keep + share) * cw[c] : tc * keep + share;
        if (has_grad) grad[c] = e;
        S += (double)e;
        A += (double)a;
        B += a != zero ? (double)a * ((double)m - (double)xc) : 0.0;
    }
    *bad |= badt;
    if (has_grad) {
        const REAL f = (REAL)(A / S), gs = (REAL)gscale;
        FE_PRAGMA(omp simd)
        for (c = 0; c < C; c++) {
            const REAL a = has_cw ? (t[c] * keep + share) * cw[c] : t[c] * keep + share;
            grad[c] = (grad[c] * f - a) * gs;
        }
    }
    return A * log1p(S - 1.0) + B;
}

static double FE_FN(softmax_row_prob)(Py_ssize_t C, const REAL *x, const REAL *t,
                                      const REAL *cw, double smooth, REAL *grad,
                                      double gscale, int *bad)
{
#define FE_CALL(HG, HC) return FE_FN(softmax_prob_body)(C, x, t, cw, smooth, grad, gscale, bad, HG, HC)
    if (grad) { if (cw) FE_CALL(1, 1); else FE_CALL(1, 0); }
    else      { if (cw) FE_CALL(0, 1); else FE_CALL(0, 0); }
#undef FE_CALL
}

/* A block of R short rows (C small), contiguous (x, t, grad: R*C).  The transcendental
 * functions run over the whole block at once (exp over R*C values, log over R sums), so that
 * short rows vectorise like long ones.  lab[r] < 0 marks a row that contributes nothing
 * (ignored); with lab == NULL the targets are the probabilities t.  Writes the row losses
 * (as the row kernels define them) to loss[r] and, when grad != NULL, the gradient scaled by
 * gsc[r].  z is R*C scratch, work 4R doubles.                                              */
static void FE_FN(softmax_block)(Py_ssize_t R, Py_ssize_t C, const REAL *restrict x,
                                 const Py_ssize_t *restrict lab, const REAL *restrict t,
                                 const REAL *restrict cw, double cw_sum, double smooth,
                                 REAL *restrict grad, const double *restrict gsc,
                                 double *restrict loss, REAL *restrict z,
                                 double *restrict work, int *bad)
{
    const Py_ssize_t n = R * C;
    double *restrict S = work, *restrict A = work + R, *restrict B = work + 2 * R;
    double *restrict L = work + 3 * R;
    const REAL keep = (REAL)(1.0 - smooth), share = (REAL)(smooth / (double)C);
    const REAL zero = 0, one = 1;
    Py_ssize_t r, c, i;
    int badt = 0;

    for (r = 0; r < R; r++) {                       /* z = x - row max  (<= 0) */
        const REAL *xr = x + r * C;
        REAL m = -(REAL)INFINITY;
        for (c = 0; c < C; c++)
            m = xr[c] > m ? xr[c] : m;
        for (c = 0; c < C; c++)
            z[r * C + c] = xr[c] - m;
    }
    for (r = 0; r < R; r++) {                       /* A = sum a, B = sum a (m - x) */
        const REAL *zr = z + r * C;
        double a_sum = 0.0, b = 0.0;
        if (lab) {
            if (lab[r] < 0) { A[r] = B[r] = 0.0; continue; }
            const double hot = (1.0 - smooth) * (cw ? (double)cw[lab[r]] : 1.0);
            if (hot != 0.0) b = -hot * (double)zr[lab[r]];
            if (smooth != 0.0) {
                double bs = 0.0;
                for (c = 0; c < C; c++) {
                    const double w = cw ? (double)cw[c] : 1.0;
                    bs += w != 0.0 ? -w * (double)zr[c] : 0.0;
                }
                b += (smooth / (double)C) * bs;
            }
            a_sum = hot + (smooth / (double)C) * cw_sum;
        } else {
            const REAL *tr = t + r * C;
            for (c = 0; c < C; c++) {
                const REAL tc = tr[c];
                badt |= !((tc >= zero) & (tc <= one));
                const REAL a = (tc * keep + share) * (cw ? cw[c] : one);
                a_sum += (double)a;
                b += a != zero ? -(double)a * (double)zr[c] : 0.0;
            }
        }
        A[r] = a_sum;
        B[r] = b;
    }
    FE_PRAGMA(omp simd)
    for (i = 0; i < n; i++)                         /* e = exp(z), the whole block */
        z[i] = EXP(z[i]);
    for (r = 0; r < R; r++) {
        double s = 0.0;
        FE_PRAGMA(omp simd reduction(+:s))
        for (c = 0; c < C; c++)
            s += (double)z[r * C + c];
        S[r] = s;
    }
    FE_PRAGMA(omp simd)
    for (r = 0; r < R; r++)                         /* log S, all rows at once */
        L[r] = log1p(S[r] - 1.0);
    for (r = 0; r < R; r++)
        loss[r] = A[r] == 0.0 ? 0.0 : A[r] * L[r] + B[r];
    *bad |= badt;
    if (!grad)
        return;
    for (r = 0; r < R; r++) {                       /* (e A/S - a) * scale */
        const REAL f = (REAL)(A[r] / S[r]), gs = (REAL)gsc[r];
        const REAL *er = z + r * C;
        REAL *gr = grad + r * C;
        if (lab && lab[r] < 0) {
            for (c = 0; c < C; c++) gr[c] = zero;
            continue;
        }
        if (lab) {
            const REAL ht = (REAL)((1.0 - smooth) * (cw ? (double)cw[lab[r]] : 1.0));
            for (c = 0; c < C; c++)
                gr[c] = (er[c] * f - (share * (cw ? cw[c] : one) + (c == lab[r] ? ht : zero)))
                        * gs;
        } else {
            const REAL *tr = t + r * C;
            for (c = 0; c < C; c++)
                gr[c] = (er[c] * f - (tr[c] * keep + share) * (cw ? cw[c] : one)) * gs;
        }
    }
}
