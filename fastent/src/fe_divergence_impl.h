/*
 * fe_divergence_impl.h -- cross-entropy, KL divergence, entropy and Jensen-Shannon
 * divergence of a block of R rows of C probabilities (contiguous, R*C), for one (dtype,
 * instruction set); see fe_template.h.  No include guard on purpose.  The terms are those
 * of fe_terms_impl.h (xent, kl, entropy, js): x is the prediction (q; p for entropy), t the
 * reference distribution p.
 * The terms of the whole block are one vector loop; each row's sum is then taken in the
 * fixed order (rowsums).  The gradient's row scale is applied as it is written when every row
 * has the same one; otherwise short rows (C <= FE_LANES) put a row in each vector lane
 * (value c of every row at once, each scaled as written, lanes_tree) and longer rows are
 * scaled row by row.  The same bits every way.  kind: FE_CROSS_ENTROPY, FE_KL,
 * FE_ENTROPY (t unused) or FE_JS (beta: the weight of p).  grad (R*C, may be NULL) gets
 * the gradient times gsc[r]; terms is R*C scratch, work R*C doubles.  *bad gets bit 0 for a negative p, bit 1 for a negative x.
 */
/* Jensen-Shannon's rows into their range (js_range, fe_terms_impl.h); work: scratch */
FE_INLINE void FE_FN(js_rows_range)(Py_ssize_t R, Py_ssize_t C, const REAL *x, const REAL *t,
                                    double beta, double *loss, double *work)
{
    double cp, cq;
    Py_ssize_t r;
    fe_js_weights(beta, &cp, &cq);
    for (r = 0; r < R; r++)
        loss[r] = FE_T(js_range)(loss[r], cp, cq, C, t + r * C, x + r * C, work);
}

FE_INLINE void FE_FN(div_block_body)(Py_ssize_t R, Py_ssize_t C, const REAL *FE_RESTRICT x,
                                     const REAL *FE_RESTRICT t, double lo_, double beta_,
                                     REAL *FE_RESTRICT grad, const double *FE_RESTRICT gsc,
                                     double *FE_RESTRICT loss, REAL *FE_RESTRICT terms,
                                     double *FE_RESTRICT work, int *bad, const int kind,
                                     const int has_grad, const int normal)
{
    const REAL lo = (REAL)lo_, beta = (REAL)beta_, zero = 0;
    const Py_ssize_t n = R * C;
    int badp = 0, badq = 0;
    Py_ssize_t r, c, i;
#define FE_TERM(XI, PI, G)                                                                 \
    (kind == FE_JS ? FE_T(js)(PI, XI, beta, G)                                             \
     : kind == FE_ENTROPY ? FE_T(entropy)(XI, lo, G, normal)                               \
     : kind == FE_KL ? FE_T(kl)(PI, XI, lo, G, normal) : FE_T(xent)(PI, XI, lo, G, normal))
    /* one gradient scale for every row (no row weights, nothing ignored: the common case):
     * applied as the gradient is written */
    int uniform = 1;
    if (has_grad)
        for (r = 1; r < R; r++) uniform &= gsc[r] == gsc[0];
    const REAL gs0 = has_grad ? (REAL)gsc[0] : zero;
    if (has_grad && !uniform && C <= FE_LANES) {
        /* short rows, each its own scale: rows in lanes, value c of every row at once
         * (strided), each gradient scaled as it is written */
        REAL *FE_RESTRICT gs = terms;
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++) gs[r] = (REAL)gsc[r];
        for (c = 0; c < C; c++) {
            double *FE_RESTRICT lc = work + c * R;
            FE_PRAGMA(omp simd reduction(|:badp, badq))
            for (r = 0; r < R; r++) {
                const REAL xi = x[r * C + c], pi = kind == FE_ENTROPY ? zero : t[r * C + c];
                REAL g;
                badq |= xi < zero;
                badp |= pi < zero;
                lc[r] = 0.0 + (double)FE_TERM(xi, pi, &g);
                if (has_grad) grad[r * C + c] = FE_T(one_nan)(g * gs[r]);
            }
        }
        FE_T(lanes_tree)(R, C, work, loss);
        if (kind == FE_JS)
            FE_FN(js_rows_range)(R, C, x, t, beta_, loss, work);
        *bad |= badp | (badq << 1);
        return;
    }
    FE_PRAGMA(omp simd reduction(|:badp, badq))
    for (i = 0; i < n; i++) {
        const REAL xi = x[i], pi = kind == FE_ENTROPY ? zero : t[i];
        REAL g;
        badq |= xi < zero;
        badp |= pi < zero;
        terms[i] = FE_TERM(xi, pi, &g);
        if (has_grad) grad[i] = FE_T(one_nan)(uniform ? g * gs0 : g);
    }
#undef FE_TERM
    FE_T(rowsums)(R, C, terms, loss, FE_WIDE);
    if (kind == FE_JS)
        FE_FN(js_rows_range)(R, C, x, t, beta_, loss, work);
    for (r = 0; r < R; r++) {
        if (has_grad && !uniform) {
            const REAL gs = (REAL)gsc[r];
            REAL *gr = grad + r * C;
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++)
                gr[c] = FE_T(one_nan)(gr[c] * gs);
        }
    }
    *bad |= badp | (badq << 1);
}

/* The loop of one (has_grad, normal) pair for each kind: every argument after `bad` a
 * compile-time constant in each call (FE_INLINE is always_inline). */
FE_INLINE void FE_FN(div_block_kind)(int kind, Py_ssize_t R, Py_ssize_t C, const REAL *x,
                                     const REAL *t, double lo, double beta, REAL *grad,
                                     const double *gsc, double *loss, REAL *terms,
                                     double *work, int *bad, const int has_grad,
                                     const int normal)
{
    if (kind == FE_CROSS_ENTROPY)
        FE_FN(div_block_body)(R, C, x, t, lo, beta, grad, gsc, loss, terms, work, bad,
                              FE_CROSS_ENTROPY, has_grad, normal);
    else if (kind == FE_KL)
        FE_FN(div_block_body)(R, C, x, t, lo, beta, grad, gsc, loss, terms, work, bad, FE_KL,
                              has_grad, normal);
    else if (kind == FE_ENTROPY)
        FE_FN(div_block_body)(R, C, x, t, lo, beta, grad, gsc, loss, terms, work, bad,
                              FE_ENTROPY, has_grad, normal);
    else        /* Jensen-Shannon does not clip: no normal variant */
        FE_FN(div_block_body)(R, C, x, t, lo, beta, grad, gsc, loss, terms, work, bad, FE_JS,
                              has_grad, 0);
}

FE_KERNEL void FE_FN(div_block)(int kind, Py_ssize_t R, Py_ssize_t C, const REAL *x,
                             const REAL *t, double lo, double beta, REAL *grad, const double *gsc,
                             double *loss, REAL *terms, double *work, int *bad)
{
#define FE_KIND(G, N) \
    FE_FN(div_block_kind)(kind, R, C, x, t, lo, beta, grad, gsc, loss, terms, work, bad, G, N)
    /* a normal clip bound (the default eps): no value reaching a log is subnormal */
    const int normal = FE_T(normal_bound)(lo);
    if (grad) {
        if (normal) FE_KIND(1, 1); else FE_KIND(1, 0);
    } else {
        if (normal) FE_KIND(0, 1); else FE_KIND(0, 0);
    }
#undef FE_KIND
}
