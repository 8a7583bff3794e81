/*
 * fe_binary_impl.h -- inner loops of the binary cross-entropy family over one contiguous
 * block.  Included by fe_binary.h once per (dtype, instruction set); expects
 *   REAL       float or double
 *   FE_FN(x)   the name of function x for this (dtype, isa)
 *   LOG, LOG1P, EXP, FABS   the maths functions of REAL
 * No include guard on purpose.
 *
 * Every loop is one `omp simd` pass: loss (and gradient) per element, the float64 sums
 * sum(w*l) and sum(w), and an OR of the range checks (bit 0: prediction outside [0, 1],
 * bit 1: target outside [0, 1] or NaN, bit 2: weight negative or not finite).  The caller
 * finds the first bad position; the loops never branch on data.
 */

/* Probabilities.  t is smoothed to t(1-s) + s/2.
 *   eps mode:     pc = clip(p, eps, 1-eps);  l = -[t log pc + (1-t) log1p(-pc)]  (0 log 0 = 0)
 *                 dl/dp = (pc - t) / (pc (1 - pc)); at pc in {0, 1} (eps = 0 only) the split
 *                 form -t/pc + (1-t)/(1-pc) with zero coefficients dropped.
 *   log_min mode: PyTorch's ATen kernel, operation for operation:
 *                 l = (t - 1) max(log1p(-p), m) - t max(log p, m)
 *                 dl/dp = (p - t) / max((1 - p) p, 1e-12f)                                   */
FE_INLINE double FE_FN(bce_prob_body)(
    Py_ssize_t n, const REAL *restrict t, const REAL *restrict p, const REAL *restrict w,
    REAL *restrict out, REAL *restrict grad, const fe_bparams *prm, double *wsum, int *bad,
    const int has_w, const int has_grad, const int logmin)
{
    const REAL zero = 0, one = 1;
    const REAL eps = (REAL)prm->eps, hi = one - (REAL)prm->eps;
    const REAL keep = (REAL)(1.0 - prm->smooth), shift = (REAL)(0.5 * prm->smooth);
    const REAL lmin = (REAL)prm->log_min, tiny = (REAL)1e-12f;
    const REAL ls = (REAL)prm->loss_scale, gs = (REAL)prm->grad_scale;
    double s = 0.0, sw = 0.0;
    int badp = 0, badt = 0, badw = 0;
    Py_ssize_t i;
    FE_PRAGMA(omp simd reduction(+:s, sw) reduction(|:badp, badt, badw))
    for (i = 0; i < n; i++) {
        const REAL pi = p[i], t0 = t[i];
        REAL l, g;
        badp |= (pi < zero) | (pi > one);
        badt |= !((t0 >= zero) & (t0 <= one));
        const REAL ti = t0 * keep + shift, ui = one - ti;
        if (logmin) {
            REAL a = LOG(pi), b = LOG1P(-pi);
            a = a < lmin ? lmin : a;
            b = b < lmin ? lmin : b;
            l = (ti - one) * b - ti * a;
            REAL d = (one - pi) * pi;
            d = d < tiny ? tiny : d;
            g = (pi - ti) / d;
        } else {
            REAL pc = pi < eps ? eps : pi;
            pc = pc > hi ? hi : pc;
            const REAL a = ti > zero ? ti * LOG(pc) : zero;
            const REAL b = ui > zero ? ui * LOG1P(-pc) : zero;
            l = -(a + b);
            const REAL d = pc * (one - pc);
            const REAL split = (ti > zero ? -ti / pc : zero) + (ui > zero ? ui / (one - pc) : zero);
            g = d > zero ? (pc - ti) / d : split;
        }
        if (has_w) {
            const REAL wi = w[i];
            badw |= !((wi >= zero) & (wi < (REAL)INFINITY));
            l = wi > zero ? wi * l : zero;
            g = wi > zero ? wi * g : zero;
            sw += (double)wi;
        }
        out[i] = l * ls;
        if (has_grad) grad[i] = g * gs;
        s += (double)l;
    }
    *wsum = has_w ? sw : (double)n;
    *bad = badp | (badt << 1) | (badw << 2);
    return s;
}

/* Logits, stable for every x.  With L = log1p(exp(-|x|)), softplus(x) = max(x, 0) + L and
 * sigma(x) = 1/(1+e) or e/(1+e) (e = exp(-|x|)), and c = pos_weight:
 *   l = c t softplus(-x) + (1-t) softplus(x)          (a zero coefficient contributes 0)
 *   dl/dx = (1-t) sigma(x) - c t sigma(-x)
 * The gradient is not computed as sigma(x) - t (c = 1): for hard labels that cancels, and
 * the two-term form is exact to a few ulp at every x.                                      */
FE_INLINE double FE_FN(bce_logit_body)(
    Py_ssize_t n, const REAL *restrict t, const REAL *restrict x, const REAL *restrict w,
    const REAL *restrict pw, REAL *restrict out, REAL *restrict grad, const fe_bparams *prm,
    double *wsum, int *bad, const int has_w, const int has_grad, const int has_pw)
{
    const REAL zero = 0, one = 1;
    const REAL keep = (REAL)(1.0 - prm->smooth), shift = (REAL)(0.5 * prm->smooth);
    const REAL ls = (REAL)prm->loss_scale, gs = (REAL)prm->grad_scale;
    double s = 0.0, sw = 0.0;
    int badt = 0, badw = 0;
    Py_ssize_t i;
    FE_PRAGMA(omp simd reduction(+:s, sw) reduction(|:badt, badw))
    for (i = 0; i < n; i++) {
        const REAL xi = x[i], t0 = t[i];
        badt |= !((t0 >= zero) & (t0 <= one));
        const REAL ti = t0 * keep + shift, ui = one - ti;
        /* fabs, not a select: GCC would duplicate EXP and LOG1P into both arms */
        const REAL e = EXP(-FABS(xi));
        const REAL L = LOG1P(e);
        const REAL sp_pos = (xi > zero ? xi : zero) + L;   /* softplus(x)  */
        const REAL sp_neg = (xi < zero ? -xi : zero) + L;  /* softplus(-x) */
        const REAL r = one / (one + e);
        const REAL sig = xi >= zero ? r : e * r;           /* sigma(x)     */
        const REAL tc = has_pw ? ti * pw[i] : ti;
        REAL l = (tc > zero ? tc * sp_neg : zero) + (ui > zero ? ui * sp_pos : zero);
        REAL g = ui * sig - tc * (xi >= zero ? e * r : r);
        if (has_w) {
            const REAL wi = w[i];
            badw |= !((wi >= zero) & (wi < (REAL)INFINITY));
            l = wi > zero ? wi * l : zero;
            g = wi > zero ? wi * g : zero;
            sw += (double)wi;
        }
        out[i] = l * ls;
        if (has_grad) grad[i] = g * gs;
        s += (double)l;
    }
    *wsum = has_w ? sw : (double)n;
    *bad = (badt << 1) | (badw << 2);
    return s;
}

/* Entry points: one specialised loop per (weights?, gradient?, mode) combination. */
static double FE_FN(bce_prob)(Py_ssize_t n, const REAL *t, const REAL *p, const REAL *w,
                              const REAL *pw, REAL *out, REAL *grad, const fe_bparams *prm,
                              double *wsum, int *bad)
{
    (void)pw;
#define FE_CALL(HW, HG, LM) return FE_FN(bce_prob_body)(n, t, p, w, out, grad, prm, wsum, bad, HW, HG, LM)
    if (prm->use_log_min) {
        if (w) { if (grad) FE_CALL(1, 1, 1); else FE_CALL(1, 0, 1); }
        else   { if (grad) FE_CALL(0, 1, 1); else FE_CALL(0, 0, 1); }
    } else {
        if (w) { if (grad) FE_CALL(1, 1, 0); else FE_CALL(1, 0, 0); }
        else   { if (grad) FE_CALL(0, 1, 0); else FE_CALL(0, 0, 0); }
    }
#undef FE_CALL
}

static double FE_FN(bce_logit)(Py_ssize_t n, const REAL *t, const REAL *x, const REAL *w,
                               const REAL *pw, REAL *out, REAL *grad, const fe_bparams *prm,
                               double *wsum, int *bad)
{
#define FE_CALL(HW, HG, PW) return FE_FN(bce_logit_body)(n, t, x, w, pw, out, grad, prm, wsum, bad, HW, HG, PW)
    if (pw) {
        if (w) { if (grad) FE_CALL(1, 1, 1); else FE_CALL(1, 0, 1); }
        else   { if (grad) FE_CALL(0, 1, 1); else FE_CALL(0, 0, 1); }
    } else {
        if (w) { if (grad) FE_CALL(1, 1, 0); else FE_CALL(1, 0, 0); }
        else   { if (grad) FE_CALL(0, 1, 0); else FE_CALL(0, 0, 0); }
    }
#undef FE_CALL
}
