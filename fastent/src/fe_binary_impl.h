/*
 * fe_binary_impl.h -- the elementwise loops of the binary cross-entropy family over one
 * contiguous segment, for one (dtype, instruction set); see fe_template.h.  The terms are
 * those of fe_terms_impl.h (bce_prob, bce_prob_logmin, bce_logit; information and
 * binary_entropy, which have no target: t is then NULL).  No include guard on purpose.
 *
 * Every loop is one `omp simd` pass writing the loss w l ls (ls = 1 / ln base) and the
 * gradient w dl gs of each element, and an OR of the range checks (bit 0: prediction outside
 * [0, 1], bit 1: target outside [0, 1] or NaN, bit 2: weight negative or not finite).  The
 * caller sums the written losses and the weights exactly (fe_exact.h) and finds the first
 * bad position; the loops never branch on data.  A zero weight gives exactly 0 (also where
 * the loss is infinite).
 */

FE_INLINE void FE_FN(bce_body)(
    Py_ssize_t n, const REAL *FE_RESTRICT t, const REAL *FE_RESTRICT x,
    const REAL *FE_RESTRICT w, const REAL *FE_RESTRICT pw, REAL *FE_RESTRICT out,
    REAL *FE_RESTRICT grad, const fe_bparams *prm, int *bad,
    const int mode, const int has_w, const int has_grad, const int has_pw, const int hard,
    const int normal, const int square)
{
    const REAL zero = 0, one = 1;
    const REAL lo = (REAL)prm->lo, hi = (REAL)prm->hi, lmin = (REAL)prm->log_min;
    const REAL keep = (REAL)(1.0 - prm->smooth), shift = (REAL)(0.5 * prm->smooth);
    const REAL ls = (REAL)prm->loss_scale, gs = (REAL)prm->grad_scale;
    const double a = prm->a, b = prm->b;
    int badp = 0, badt = 0, badw = 0;
    Py_ssize_t i;
    FE_PRAGMA(omp simd reduction(|:badp, badt, badw))
    for (i = 0; i < n; i++) {
        const int has_t = fe_el_target(mode);
        const REAL xi = x[i], t0 = has_t ? t[i] : zero;
        REAL l, g;
        if (!hard && has_t)     /* hard: every t is 0 or 1 (the caller's scan), unsmoothed */
            badt |= FE_T(outside_unit)(t0);
        const REAL ti = hard ? t0 : t0 * keep + shift;
        if (fe_el_unit(mode))
            badp |= (xi < zero) | (xi > one);
        l = FE_T(elementwise)(mode, ti, xi, has_pw ? pw[i] : one, lo, hi, lmin, a, b, &g, hard,
                              normal, square, has_grad);
        if (has_w) {
            const REAL wi = w[i];
            badw |= !((wi >= zero) & (wi < (REAL)INFINITY));
            l = wi > zero ? wi * l : zero;
            g = wi > zero ? wi * g : zero;
        }
        out[i] = FE_T(one_nan)(l * ls);                   /* (fe_terms.h: the one NaN) */
        if (has_grad) grad[i] = FE_T(one_nan)(g * gs);
    }
    *bad = badp | (badt << 1) | (badw << 2);
}

/* One specialised loop per (weights?, gradient?) for a mode and its variant flags, all
 * compile-time constants here (FE_INLINE is always_inline, so every call below is its own
 * loop). */
FE_INLINE void FE_FN(bce_mode)(Py_ssize_t n, const REAL *t, const REAL *x, const REAL *w,
                               const REAL *pw, REAL *out, REAL *grad, const fe_bparams *prm,
                               int *bad, const int mode, const int has_pw, const int hard,
                               const int normal, const int square)
{
    if (w) {
        if (grad) FE_FN(bce_body)(n, t, x, w, pw, out, grad, prm, bad, mode, 1, 1, has_pw,
                                  hard, normal, square);
        else      FE_FN(bce_body)(n, t, x, w, pw, out, grad, prm, bad, mode, 1, 0, has_pw,
                                  hard, normal, square);
    } else {
        if (grad) FE_FN(bce_body)(n, t, x, w, pw, out, grad, prm, bad, mode, 0, 1, has_pw,
                                  hard, normal, square);
        else      FE_FN(bce_body)(n, t, x, w, pw, out, grad, prm, bad, mode, 0, 0, has_pw,
                                  hard, normal, square);
    }
}

/* The variant of mode `mode` (its flags `var`, fe_terms_impl.h: FE_ELEMENTWISE) that this
 * call takes: pos_weight, else hard labels and normal clip bounds or b = 2 as listed. */
FE_INLINE void FE_FN(bce_variant)(Py_ssize_t n, const REAL *t, const REAL *x, const REAL *w,
                                  const REAL *pw, REAL *out, REAL *grad,
                                  const fe_bparams *prm, int *bad, const int mode,
                                  const int var, const int hard, const int normal)
{
#define FE_LOOP(PW, H, N, S)                                                               \
    FE_FN(bce_mode)(n, t, x, w, pw, out, grad, prm, bad, mode, PW, H, N, S)
    if ((var & FE_VAR_PW) && pw) { FE_LOOP(1, 0, 0, 0); return; }
    const int h = (var & FE_VAR_HARD) && hard;
    if ((var & FE_VAR_NORMAL) && normal) {
        if (h) FE_LOOP(0, 1, 1, 0); else FE_LOOP(0, 0, 1, 0);
    } else if ((var & FE_VAR_SQUARE) && prm->b == 2.0) {
        if (h) FE_LOOP(0, 1, 0, 1); else FE_LOOP(0, 0, 0, 1);
    } else {
        if (h) FE_LOOP(0, 1, 0, 0); else FE_LOOP(0, 0, 0, 0);
    }
#undef FE_LOOP
}

/* Entry point: the loop of the call's mode and variant (above); then, when `total` is
 * given, the written losses (and the weights, to `wtotal`) are added to the exact sums, in
 * this instruction set (xs: FE_XBLOCK doubles of scratch). */
FE_KERNEL void FE_FN(bce)(Py_ssize_t n, const REAL *t, const REAL *x, const REAL *w,
                       const REAL *pw, REAL *out, REAL *grad, const fe_bparams *prm, int *bad,
                       fe_xsum *total, fe_xsum *wtotal, double *xs)
{
#define FE_VARIANTS(M, stem, target, unit, V)                                              \
    if (prm->mode == M)                                                                    \
        FE_FN(bce_variant)(n, t, x, w, pw, out, grad, prm, bad, M, V, hard, normal);       \
    else
    /* clip bounds that are normal numbers (any eps > 0 that is not below the dtype's
     * smallest normal): no log argument is subnormal, the logs skip that case */
    const int normal = FE_T(normal_bound)(prm->lo) && prm->hi < 1.0;
    /* hard labels (every target of the segment 0 or 1, no smoothing, no pos_weight): terms
     * that give the same bits with less work (one log, one float softplus) */
    int hard = (fe_el_variants(prm->mode) & FE_VAR_HARD) && prm->smooth == 0.0 && !pw;
    if (hard) {
        Py_ssize_t i;
        int soft = 0;
        FE_PRAGMA(omp simd reduction(|:soft))
        for (i = 0; i < n; i++)
            soft |= (t[i] != (REAL)0) & (t[i] != (REAL)1);
        hard = !soft;
    }
    FE_ELEMENTWISE(FE_VARIANTS) {}
#undef FE_VARIANTS
    if (total) {
        FE_XADD(total, out, n, xs);
        if (w && wtotal)
            FE_XADD(wtotal, w, n, xs);
    }
}
