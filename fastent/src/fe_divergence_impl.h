/*
 * fe_divergence_impl.h -- cross-entropy, KL divergence and entropy of a block of R rows of C
 * probabilities (contiguous, R*C), for one (dtype, instruction set); see fe_template.h.
 * No include guard on purpose.  The terms are those of fe_terms_impl.h (xent, kl,
 * entropy): x is the prediction (q; p for entropy), t the reference distribution p.
 * The terms of the whole block are one vector loop (short rows vectorise like long ones);
 * each row's sum is then taken in the fixed order.  kind: 0 cross-entropy, 1 KL, 2 entropy
 * (t unused).  grad (R*C, may be NULL) gets the gradient times gsc[r]; terms is R*C
 * scratch.  *bad gets bit 0 for a negative p, bit 1 for a negative x.
 */
FE_INLINE void FE_FN(div_block_body)(Py_ssize_t R, Py_ssize_t C, const REAL *FE_RESTRICT x,
                                     const REAL *FE_RESTRICT t, double lo_,
                                     REAL *FE_RESTRICT grad, const double *FE_RESTRICT gsc,
                                     double *FE_RESTRICT loss, REAL *FE_RESTRICT terms,
                                     int *bad, const int kind, const int has_grad,
                                     const int normal)
{
    const REAL lo = (REAL)lo_, zero = 0;
    const Py_ssize_t n = R * C;
    int badp = 0, badq = 0;
    Py_ssize_t r, c, i;
    FE_PRAGMA(omp simd reduction(|:badp, badq))
    for (i = 0; i < n; i++) {
        const REAL xi = x[i];
        REAL g;
        badq |= xi < zero;
        if (kind == 2) {
            terms[i] = FE_T(entropy)(xi, lo, &g, normal);
        } else {
            const REAL pi = t[i];
            badp |= pi < zero;
            terms[i] = kind == 1 ? FE_T(kl)(pi, xi, lo, &g, normal)
                                  : FE_T(xent)(pi, xi, lo, &g, normal);
        }
        if (has_grad) grad[i] = g;
    }
    FE_T(rowsums)(R, C, terms, loss);
    for (r = 0; r < R; r++) {
        if (has_grad) {
            const REAL gs = (REAL)gsc[r];
            REAL *gr = grad + r * C;
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++)
                gr[c] = gr[c] * gs;
        }
    }
    *bad |= badp | (badq << 1);
}

static void FE_FN(div_block)(int kind, Py_ssize_t R, Py_ssize_t C, const REAL *x,
                             const REAL *t, double lo, REAL *grad, const double *gsc,
                             double *loss, REAL *terms, int *bad)
{
#define FE_CALL(K, G, N) FE_FN(div_block_body)(R, C, x, t, lo, grad, gsc, loss, terms, bad, K, G, N)
#define FE_KIND(G, N) \
    if (kind == 0) FE_CALL(0, G, N); else if (kind == 1) FE_CALL(1, G, N); else FE_CALL(2, G, N);
    /* a normal clip bound (the default eps): no value reaching a log is subnormal */
    const int normal = FE_T(normal_bound)(lo);
    if (grad) {
        if (normal) { FE_KIND(1, 1) } else { FE_KIND(1, 0) }
    } else {
        if (normal) { FE_KIND(0, 1) } else { FE_KIND(0, 0) }
    }
#undef FE_KIND
#undef FE_CALL
}
