/*
 * fe_divlogits_impl.h -- KL and Jensen-Shannon divergences between the softmax distributions
 * of two rows of logits, for a block of R rows of C (contiguous, R*C), one (dtype,
 * instruction set); see fe_template.h.  No include guard on purpose.
 *
 * Per row, with a = t / T (the teacher's logits: the reference p) and b = x / T (the
 * student's: the prediction q) -- computed as t (1/T), x (1/T) --, za = a - max a and
 * zb = b - max b, ea = exp(za) and eb = exp(zb) in the dtype, Sa and Sb their fixed-order
 * row sums (rowsums), La = log Sa and Lb = log Sb (log1p(S - 1): the max contributes
 * exactly 1), p = ea / Sa, q = eb / Sb, and the log ratio in double:
 * log p - log q = za - zb + (Lb - La), za - zb = ((t - x) + (max x - max t)) / T, where for
 * float logits t - x and max x - max t are exact, and so is their sum when the class is
 * the maximum of both rows (0: the log ratio of close rows is not limited by the rounding
 * of za, zb to float, nor of t/T).
 * The terms are fe_terms_impl.h's: KL's row from sum ea ((t - x) + (max x - max t))
 * (FE_KL_TERM, made as rowsums_kl adds them), kl_logits_loss and kl_logits_grad; JS's
 * per-class terms in log space, js_logits_term and js_logits_grad.  This file orders the
 * passes: the keys (max and min of both rows), the exps, the row sums, the terms, the
 * gradient.
 * A row that rounds below 0 is 0 (both are >= 0), a JS row above H(beta) = -beta log beta -
 * (1 - beta) log(1 - beta) (log 2 at beta 1/2) is H(beta).  A class with p = 0 (a teacher logit of
 * -inf) contributes 0; q = 0 < p (a student logit of
 * -inf) gives KL = +inf: -inf logits mask a class, never NaN, in the value or the gradient.
 * A NaN logit makes its row NaN, as does a row with no class left (all -inf).
 * kind: FE_KL_LOGITS or FE_JS_LOGITS (beta: the weight of p).  grad (R*C, may be NULL) gets the gradient
 * times gsc[r]; z is R*C scratch of the dtype, work 11R + 4RC doubles.
 */
FE_INLINE void FE_FN(divlogits_body)(const int kind, Py_ssize_t R, Py_ssize_t C,
                                     const REAL *FE_RESTRICT x, const REAL *FE_RESTRICT t,
                                     double temperature, double beta, REAL *FE_RESTRICT grad,
                                     const double *FE_RESTRICT gsc, double *FE_RESTRICT loss,
                                     REAL *FE_RESTRICT z, double *FE_RESTRICT work)
{
    const Py_ssize_t n = R * C;
    /* logits times 1/T (x * 1 is x: T = 1 gives the logits' own bits; a signalling NaN
     * is quieted, and a NaN row's outputs are the one quiet NaN anyway) */
    const double inv_t = 1.0 / temperature;
    const REAL inv_T = (REAL)inv_t;
    double *FE_RESTRICT Sa = work, *FE_RESTRICT Sb = work + R, *FE_RESTRICT K = work + 2 * R;
    double *FE_RESTRICT La = work + 3 * R, *FE_RESTRICT Lb = work + 4 * R;
    REAL *FE_RESTRICT Ma = (REAL *)(work + 5 * R), *FE_RESTRICT Mb = (REAL *)(work + 6 * R);
    double *FE_RESTRICT Mad = work + 7 * R, *FE_RESTRICT Mbd = work + 8 * R;   /* in double */
    double *FE_RESTRICT Dm = work + 9 * R;                 /* max b - max a, in double */
    char *FE_RESTRICT Normal = (char *)(work + 10 * R);
    REAL *FE_RESTRICT ea = z, *FE_RESTRICT eb = (REAL *)(work + 11 * R);
    double *FE_RESTRICT d1 = work + 11 * R + n, *FE_RESTRICT d2 = d1 + n, *FE_RESTRICT d3 = d2 + n;
    /* elementwise passes in pieces of half a vector (FE_PIECES): GCC's loops end in one
     * half vector, then scalar steps; whole vectors were slower (docs/design-notes.md, N1) */
    enum { W = FE_VBYTES / 2 / sizeof(REAL) };
    Py_ssize_t r, c, lo, hi, s0, len;
    /* The next block's rows (the driver's blocks are back to back in the common,
     * contiguous case) are fetched while this block's are worked on.  Short rows: all of
     * a row as its exps start.  Long rows (over FE_SPREAD bytes): spread over the passes,
     * a segment of FE_SEG values before each segment of this row's -- t in the exps' pass,
     * x in the row sums', the gradient in its own (JS: all three in the exps' pass); asked
     * all at once, most requests came late and the next row's keys waited on memory.
     * Short rows keep one form with no segments (docs/design-notes.md, N2). */
    const int spread = C * (Py_ssize_t)sizeof(REAL) > FE_SPREAD;
/* z in the dtype (exp's argument) and in double (the log ratios), the row's max hoisted:
 * the per-row arrays share `work` with the element buffers, so the compiler cannot assume
 * they do not alias */
#define FE_ZA(c) (tr[c] * inv_T - ma)
#define FE_ZB(c) (xr[c] * inv_T - mb)
#define FE_ZAD(c) ((double)tr[c] * inv_t - mad)
#define FE_ZBD(c) ((double)xr[c] * inv_t - mbd)
#define FE_ROW(r)                                                                          \
    const REAL *FE_RESTRICT tr = t + (r) * C, *FE_RESTRICT xr = x + (r) * C;               \
    const REAL ma = Ma[r], mb = Mb[r];                                                     \
    const double mad = Mad[r], mbd = Mbd[r];                                               \
    (void)ma; (void)mb; (void)mad; (void)mbd;

    /* max a, max b (t / T is monotone in t): rowmax's keys, both rows in one loop (faster
     * than two rowmax calls: docs/design-notes.md, N3); the minima too:
     * a row whose smallest za and zb are >= EXP_NORMAL_MIN (so no NaN, no infinity) takes
     * the exp of that range (the same bits, half the work: fe_math.h) */
    {   /* the keys of every row first, their values then in one vector loop over the
         * rows (row by row it was scalar: N3); the keys live in Sa, Sb, K, La until the
         * row sums */
        FE_KEY *FE_RESTRICT ka = (FE_KEY *)Sa, *FE_RESTRICT na = (FE_KEY *)Sb;
        FE_KEY *FE_RESTRICT kb = (FE_KEY *)K, *FE_RESTRICT nb = (FE_KEY *)La;
        for (r = 0; r < R; r++)
            FE_T(row_keys)(C, 1, t + r * C, x + r * C, ka + r, na + r, kb + r, nb + r,
                           FE_WIDE);
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++) {
            const REAL ma = FE_VAL_OF(ka[r]), mb = FE_VAL_OF(kb[r]);
            const REAL lowa = FE_VAL_OF(na[r]), lowb = FE_VAL_OF(nb[r]);
            const REAL sa = ma * inv_T, sb = mb * inv_T;
            Ma[r] = sa;
            Mb[r] = sb;
            Mad[r] = (double)ma * inv_t;
            Mbd[r] = (double)mb * inv_t;
            Dm[r] = (double)mb - (double)ma;   /* the raw maxima: exact for float logits */
            Normal[r] = lowa * inv_T - sa >= (REAL)EXP_NORMAL_MIN &&
                        lowb * inv_T - sb >= (REAL)EXP_NORMAL_MIN;
        }
    }
    /* ea = exp(za), eb = exp(zb) of values [s0, s0 + len) of row r (KL's terms are made as
     * the row sums add them) */
#define FE_EXP_PASS(EXPF)                                                                  \
    FE_PIECES(lo, hi, len, W) {                                                            \
        FE_PRAGMA(omp simd)                                                                \
        for (c = lo; c < hi; c++) {                                                        \
            ear[c] = EXPF(FE_ZA(c));                                                       \
            ebr[c] = EXPF(FE_ZB(c));                                                       \
        }                                                                                  \
    }
#define FE_EXPS(s0_)                                                                       \
    do {                                                                                   \
        const REAL *FE_RESTRICT tr = t + r * C + (s0_);                                    \
        const REAL *FE_RESTRICT xr = x + r * C + (s0_);                                    \
        REAL *FE_RESTRICT ear = ea + r * C + (s0_), *FE_RESTRICT ebr = eb + r * C + (s0_);   \
        if (Normal[r]) {                                                                   \
            FE_EXP_PASS(EXP_NORMAL)                                                        \
        } else {                                                                           \
            FE_EXP_PASS(EXP_NONPOS)                                                        \
        }                                                                                  \
    } while (0)
    for (r = 0; r < R; r++) {
        const REAL ma = Ma[r], mb = Mb[r];
        const REAL *FE_RESTRICT tn = t + (R + r) * C, *FE_RESTRICT xn = x + (R + r) * C;
        REAL *FE_RESTRICT gn = grad ? grad + (R + r) * C : NULL;
        if (!spread) {
            for (c = 0; c < C; c += FE_LINE) {
                FE_PREFETCH(tn + c);
                FE_PREFETCH(xn + c);
                if (gn)
                    FE_PREFETCH_W(gn + c);
            }
            len = C;
            FE_EXPS(0);
            continue;
        }
        FE_SEGMENTS(s0, len, C) {
            for (c = s0; c < s0 + len; c += FE_LINE) {
                FE_PREFETCH(tn + c);
                if (kind == FE_JS_LOGITS) {
                    FE_PREFETCH(xn + c);
                    if (gn)
                        FE_PREFETCH_W(gn + c);
                }
            }
            FE_EXPS(s0);
        }
    }
#undef FE_EXPS
#undef FE_EXP_PASS
    if (kind == FE_KL_LOGITS) {
        FE_T(rowsums_kl)(R, C, ea, eb, t, x, Dm, Normal, d1, Sa, Sb, K,
                         spread ? x + R * C : NULL, FE_WIDE);
    } else {
        FE_T(rowsums)(R, C, ea, Sa, FE_WIDE);
        FE_T(rowsums)(R, C, eb, Sb, FE_WIDE);
    }
    FE_PRAGMA(omp simd)
    for (r = 0; r < R; r++) {
        La[r] = fe_log_rowsum(Sa[r]);
        Lb[r] = fe_log_rowsum(Sb[r]);
    }
    if (kind == FE_KL_LOGITS) {                /* KL: the row from sum ea (za - zb) */
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++)
            loss[r] = FE_T(kl_logits_loss)(K[r], inv_t, Sa[r], La[r], Lb[r]);
        if (grad) {
            /* values [s0, s0 + len) of row r's gradient */
#define FE_KL_GRAD(s0_)                                                                    \
    do {                                                                                   \
        const REAL *FE_RESTRICT ear = ea + r * C + (s0_);                                  \
        const REAL *FE_RESTRICT ebr = eb + r * C + (s0_);                                  \
        REAL *FE_RESTRICT gr = grad + r * C + (s0_);                                       \
        FE_PIECES(lo, hi, len, W) {                                                        \
            FE_PRAGMA(omp simd)                                                            \
            for (c = lo; c < hi; c++) {                                                    \
                gr[c] = FE_T(one_nan)(FE_T(kl_logits_grad)(ear[c], ebr[c], fa, fb, gs));   \
            }                                                                              \
        }                                                                                  \
    } while (0)
            for (r = 0; r < R; r++) {
                const REAL fa = (REAL)(1.0 / Sa[r]), fb = (REAL)(1.0 / Sb[r]);
                const REAL gs = (REAL)(gsc[r] * inv_t);
                if (!spread) {
                    len = C;
                    FE_KL_GRAD(0);
                    continue;
                }
                FE_SEGMENTS(s0, len, C) {
                    for (c = s0; c < s0 + len; c += FE_LINE)
                        FE_PREFETCH_W(grad + (R + r) * C + c);
                    FE_KL_GRAD(s0);
                }
            }
#undef FE_KL_GRAD
        }
    } else {                                   /* JS, in log space */
        const double lb = fe_log(beta), lb1 = fe_log1p(-beta);
        for (r = 0; r < R; r++) {
            FE_ROW(r)
            const double sa = Sa[r], sb = Sb[r], la = La[r], lq0 = Lb[r];
            const REAL *FE_RESTRICT ear = ea + r * C, *FE_RESTRICT ebr = eb + r * C;
            double *FE_RESTRICT d1r = d1 + r * C, *FE_RESTRICT d2r = d2 + r * C;
            double *FE_RESTRICT d3r = d3 + r * C;
            FE_PIECES(lo, hi, C, W) {
            FE_PRAGMA(omp simd)
            for (c = lo; c < hi; c++) {
                const double lp = FE_ZAD(c) - la, lq = FE_ZBD(c) - lq0;
                const double p = (double)ear[c] / sa, q = (double)ebr[c] / sb;
                double tp, tq;
                d2r[c] = FE_T(js_logits_term)(lp, lq, lb, lb1, p, q, &tp, &tq);
                d1r[c] = tp;
                d3r[c] = tq;
            }
            }
        }
        FE_T(rowsums_d)(R, C, d1, La, FE_WIDE);    /* sum p (log p - log m) */
        FE_T(rowsums_d)(R, C, d3, K, FE_WIDE);     /* sum q (log q - log m) */
        double cp, cq;
        fe_js_weights(beta, &cp, &cq);
        for (r = 0; r < R; r++)
            /* beta 0 (1): the divergence is K's (La's) alone; the other sum may be +inf
             * where one side masks a class, and 0 inf would be NaN.  Then into [0, H(beta)]
             * (js_range: the rows of a softmax sum to 1) */
            loss[r] = FE_T(js_range)((beta != 0.0 ? beta * La[r] : 0.0)
                                     + (beta != 1.0 ? (1.0 - beta) * K[r] : 0.0),
                                     cp, cq, C, NULL, NULL, NULL);
        if (grad) {
            for (r = 0; r < R; r++) {
                const double sb = Sb[r], k = K[r];
                const REAL gs = (REAL)(gsc[r] * (1.0 - beta) * inv_t);
                const REAL *FE_RESTRICT ebr = eb + r * C;
                const double *FE_RESTRICT hr = d2 + r * C;
                REAL *FE_RESTRICT gr = grad + r * C;
                if (gs == 0) {             /* beta 1 (or weight 0): +0, not 0 inf = NaN */
                    for (c = 0; c < C; c++) gr[c] = 0;
                    continue;
                }
                FE_PIECES(lo, hi, C, W) {
                FE_PRAGMA(omp simd)
                for (c = lo; c < hi; c++) {
                    const double q = (double)ebr[c] / sb;
                    gr[c] = FE_T(one_nan)(FE_T(js_logits_grad)(q, hr[c], k, gs));
                }
                }
            }
        }
    }
#undef FE_ZA
#undef FE_ZB
#undef FE_ZAD
#undef FE_ZBD
#undef FE_ROW
}

FE_KERNEL void FE_FN(divlogits_block)(int kind, Py_ssize_t R, Py_ssize_t C, const REAL *x,
                                   const REAL *t, double temperature, double beta, REAL *grad,
                                   const double *gsc, double *loss, REAL *z, double *work)
{
    if (kind == FE_KL_LOGITS)
        FE_FN(divlogits_body)(FE_KL_LOGITS, R, C, x, t, temperature, beta, grad, gsc, loss, z, work);
    else
        FE_FN(divlogits_body)(FE_JS_LOGITS, R, C, x, t, temperature, beta, grad, gsc, loss, z, work);
}
