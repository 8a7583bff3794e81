/*
 * fe_divergence_impl.h -- cross-entropy, KL divergence and entropy of one row of C
 * probabilities (contiguous), for one (dtype, instruction set); see fe_template.h.
 * No include guard on purpose.
 *
 * x is the prediction (q; p for entropy), t the reference distribution p.  With eps > 0 the
 * values inside a log are raised to at least eps (values above 1 are used as given); with
 * eps = 0 the results are SciPy's xlogy / rel_entr / entr summed: +inf where p > 0 = q,
 * NaN propagates.  A zero p contributes 0 to the loss and to the gradient in every mode.
 *   cross_entropy  l = -sum p log q~             dl/dq = -p / q~
 *   kl_divergence  l =  sum p log(p~ / q~)       dl/dq = -p / q~
 *   entropy        l = -sum p log p~             dl/dp = -(log p~ + 1)
 * (p~, q~: the raised values).  Sums accumulate in double.  *bad gets bit 0 for a negative
 * t (p), bit 1 for a negative x.  No renormalisation, ever.
 */

FE_INLINE double FE_FN(xent_body)(Py_ssize_t C, const REAL *restrict q, const REAL *restrict p,
                                  double eps_, REAL *restrict grad, double gscale, int *bad,
                                  const int kl, const int has_grad)
{
    const REAL eps = (REAL)eps_, zero = 0, gs = (REAL)gscale;
    double s = 0.0;
    int badp = 0, badq = 0;
    Py_ssize_t c;
    FE_PRAGMA(omp simd reduction(+:s) reduction(|:badp, badq))
    for (c = 0; c < C; c++) {
        const REAL pc = p[c], qc = q[c];
        badp |= pc < zero;
        badq |= qc < zero;
        const REAL qe = qc < eps ? eps : qc;
        REAL term;
        if (kl) {
            const REAL pe = pc < eps ? eps : pc;
            term = pc != zero ? pc * LOG(pe / qe) : zero;
        } else {
            term = pc != zero ? -pc * LOG(qe) : zero;
        }
        s += (double)term;
        if (has_grad) grad[c] = pc != zero ? -pc / qe * gs : zero;
    }
    *bad |= badp | (badq << 1);
    return s;
}

FE_INLINE double FE_FN(entropy_body)(Py_ssize_t C, const REAL *restrict p, double eps_,
                                     REAL *restrict grad, double gscale, int *bad,
                                     const int has_grad)
{
    const REAL eps = (REAL)eps_, zero = 0, one = 1, gs = (REAL)gscale;
    double s = 0.0;
    int badp = 0;
    Py_ssize_t c;
    FE_PRAGMA(omp simd reduction(+:s) reduction(|:badp))
    for (c = 0; c < C; c++) {
        const REAL pc = p[c];
        badp |= pc < zero;
        const REAL pe = pc < eps ? eps : pc;
        const REAL lp = LOG(pe);
        s += pc != zero ? -(double)(pc * lp) : 0.0;
        if (has_grad) grad[c] = -(lp + one) * gs;
    }
    *bad |= badp << 1;
    return s;
}

static double FE_FN(xent_row)(Py_ssize_t C, const REAL *q, const REAL *p, double eps,
                              REAL *grad, double gscale, int *bad)
{
    if (grad) return FE_FN(xent_body)(C, q, p, eps, grad, gscale, bad, 0, 1);
    return FE_FN(xent_body)(C, q, p, eps, grad, gscale, bad, 0, 0);
}

static double FE_FN(kl_row)(Py_ssize_t C, const REAL *q, const REAL *p, double eps,
                            REAL *grad, double gscale, int *bad)
{
    if (grad) return FE_FN(xent_body)(C, q, p, eps, grad, gscale, bad, 1, 1);
    return FE_FN(xent_body)(C, q, p, eps, grad, gscale, bad, 1, 0);
}

static double FE_FN(entropy_row)(Py_ssize_t C, const REAL *p, const REAL *unused, double eps,
                                 REAL *grad, double gscale, int *bad)
{
    (void)unused;
    if (grad) return FE_FN(entropy_body)(C, p, eps, grad, gscale, bad, 1);
    return FE_FN(entropy_body)(C, p, eps, grad, gscale, bad, 0);
}

/* A block of R short rows (C small), contiguous: the terms of the row sums over the whole
 * block in one vector loop (so short rows vectorise like long ones), then the row sums.
 * kind: 0 cross-entropy, 1 KL, 2 entropy (t unused).  grad (R*C) gets the gradient scaled
 * by gsc[r]; terms is R*C scratch.                                                         */
FE_INLINE void FE_FN(div_block_body)(Py_ssize_t R, Py_ssize_t C, const REAL *restrict x,
                                     const REAL *restrict t, double eps_,
                                     REAL *restrict grad, const double *restrict gsc,
                                     double *restrict loss, REAL *restrict terms, int *bad,
                                     const int kind, const int has_grad)
{
    const REAL eps = (REAL)eps_, zero = 0, one = 1;
    const Py_ssize_t n = R * C;
    int badp = 0, badq = 0;
    Py_ssize_t r, c, i;
    FE_PRAGMA(omp simd reduction(|:badp, badq))
    for (i = 0; i < n; i++) {
        const REAL xi = x[i];
        badq |= xi < zero;
        const REAL xe = xi < eps ? eps : xi;
        if (kind == 2) {
            const REAL lp = LOG(xe);
            terms[i] = xi != zero ? -(xi * lp) : zero;
            if (has_grad) grad[i] = -(lp + one);
        } else {
            const REAL pi = t[i];
            badp |= pi < zero;
            if (kind == 1) {
                const REAL pe = pi < eps ? eps : pi;
                terms[i] = pi != zero ? pi * LOG(pe / xe) : zero;
            } else {
                terms[i] = pi != zero ? -pi * LOG(xe) : zero;
            }
            if (has_grad) grad[i] = pi != zero ? -pi / xe : zero;
        }
    }
    for (r = 0; r < R; r++) {
        double s = 0.0;
        FE_PRAGMA(omp simd reduction(+:s))
        for (c = 0; c < C; c++)
            s += (double)terms[r * C + c];
        loss[r] = s;
        if (has_grad) {
            const REAL gs = (REAL)gsc[r];
            for (c = 0; c < C; c++)
                grad[r * C + c] *= gs;
        }
    }
    *bad |= badp | (badq << 1);
}

static void FE_FN(div_block)(int kind, Py_ssize_t R, Py_ssize_t C, const REAL *x,
                             const REAL *t, double eps, REAL *grad, const double *gsc,
                             double *loss, REAL *terms, int *bad)
{
#define FE_CALL(K, G) FE_FN(div_block_body)(R, C, x, t, eps, grad, gsc, loss, terms, bad, K, G)
    if (grad) {
        if (kind == 0) FE_CALL(0, 1); else if (kind == 1) FE_CALL(1, 1); else FE_CALL(2, 1);
    } else {
        if (kind == 0) FE_CALL(0, 0); else if (kind == 1) FE_CALL(1, 0); else FE_CALL(2, 0);
    }
#undef FE_CALL
}
