/*
 * fe_divlogits_impl.h -- KL and Jensen-Shannon divergences between the softmax distributions
 * of two rows of logits, for a block of R rows of C (contiguous, R*C), one (dtype,
 * instruction set); see fe_template.h.  No include guard on purpose.
 *
 * Per row, with a = t / T (the teacher's logits: the reference p) and b = x / T (the
 * student's: the prediction q), za = a - max a and zb = b - max b, ea = exp(za) and
 * eb = exp(zb) in the dtype, Sa and Sb their fixed-order row sums (rowsums), La = log Sa and
 * Lb = log Sb (log1p(S - 1): the max contributes exactly 1), and in double log p = za - La,
 * log q = zb - Lb (za and zb computed again in double: for float32 the log ratios are then
 * not limited by the rounding of za, zb to float), p = ea / Sa, q = eb / Sb:
 *   KL   l = sum p (log p - log q) = (sum ea (za - zb)) / Sa + (Lb - La)
 *        dl/dx = (q - p) / T
 *   JS   log m = logaddexp(log beta + log p, log(1 - beta) + log q)   (in log space: the
 *        mixture never underflows)
 *        l = beta sum p (log p - log m) + (1 - beta) sum q (log q - log m)
 *        dl/dx_j = (1 - beta) / T q_j ((log q_j - log m_j) - K),  K = sum q (log q - log m)
 *        (the derivative (1 - beta)(log q - log m) with respect to q, through the softmax)
 * A row that rounds below 0 is 0 (both are >= 0).  A class with p = 0 (a teacher logit of
 * -inf) contributes 0; q = 0 < p (a student logit of
 * -inf) gives KL = +inf: -inf logits mask a class, never NaN, in the value or the gradient.
 * A NaN logit makes its row NaN, as does a row with no class left (all -inf).
 * kind: 0 KL, 1 JS (beta: the weight of p).  grad (R*C, may be NULL) gets the gradient
 * times gsc[r]; z is R*C scratch of the dtype, work 10R + 4RC doubles.
 */
static void FE_FN(divlogits_block)(int kind, Py_ssize_t R, Py_ssize_t C,
                                   const REAL *FE_RESTRICT x, const REAL *FE_RESTRICT t,
                                   double temperature, double beta, REAL *FE_RESTRICT grad,
                                   const double *FE_RESTRICT gsc, double *FE_RESTRICT loss,
                                   REAL *FE_RESTRICT z, double *FE_RESTRICT work)
{
    const Py_ssize_t n = R * C;
    const REAL T = (REAL)temperature, zero = 0;
    const int scaled = temperature != 1.0;     /* x / 1 is x: the same bits, no division */
    double *FE_RESTRICT Sa = work, *FE_RESTRICT Sb = work + R, *FE_RESTRICT K = work + 2 * R;
    double *FE_RESTRICT La = work + 3 * R, *FE_RESTRICT Lb = work + 4 * R;
    REAL *FE_RESTRICT Ma = (REAL *)(work + 5 * R), *FE_RESTRICT Mb = (REAL *)(work + 6 * R);
    double *FE_RESTRICT Mad = work + 7 * R, *FE_RESTRICT Mbd = work + 8 * R;   /* in double */
    REAL *FE_RESTRICT ea = z, *FE_RESTRICT eb = (REAL *)(work + 10 * R);
    double *FE_RESTRICT d1 = work + 10 * R + n, *FE_RESTRICT d2 = d1 + n, *FE_RESTRICT d3 = d2 + n;
    Py_ssize_t r, c;
/* both divergences are >= 0: a row that rounds below 0 (identical rows: -1e-17) is 0 */
#define FE_NONNEG(v) ((v) < 0.0 ? 0.0 : (v))
#define FE_ZA(i, r) ((scaled ? t[i] / T : t[i]) - Ma[r])
#define FE_ZB(i, r) ((scaled ? x[i] / T : x[i]) - Mb[r])
#define FE_ZAD(i, r) ((scaled ? (double)t[i] / temperature : (double)t[i]) - Mad[r])
#define FE_ZBD(i, r) ((scaled ? (double)x[i] / temperature : (double)x[i]) - Mbd[r])

    for (r = 0; r < R; r++) {                  /* max a, max b (t / T is monotone in t) */
        const REAL ma = FE_T(rowmax)(C, t + r * C), mb = FE_T(rowmax)(C, x + r * C);
        Ma[r] = scaled ? ma / T : ma;
        Mb[r] = scaled ? mb / T : mb;
        Mad[r] = scaled ? (double)ma / temperature : (double)ma;
        Mbd[r] = scaled ? (double)mb / temperature : (double)mb;
    }
    for (r = 0; r < R; r++) {                  /* ea = exp(za), eb = exp(zb) */
        FE_PRAGMA(omp simd)
        for (c = 0; c < C; c++) {
            const Py_ssize_t i = r * C + c;
            ea[i] = EXP_NONPOS(FE_ZA(i, r));
            eb[i] = EXP_NONPOS(FE_ZB(i, r));
        }
    }
    FE_T(rowsums)(R, C, ea, Sa);
    FE_T(rowsums)(R, C, eb, Sb);
    FE_PRAGMA(omp simd)
    for (r = 0; r < R; r++) {
        La[r] = fe_log1p(Sa[r] - 1.0);
        Lb[r] = fe_log1p(Sb[r] - 1.0);
    }
    if (kind == 0) {                           /* KL: sum ea (za - zb), then the row */
        for (r = 0; r < R; r++) {
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++) {
                const Py_ssize_t i = r * C + c;
                const REAL e = ea[i];
                d1[i] = e != zero ? (double)e * (FE_ZAD(i, r) - FE_ZBD(i, r)) : 0.0;
            }
        }
        FE_T(rowsums_d)(R, C, d1, K);
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++)
            loss[r] = FE_NONNEG(K[r] / Sa[r] + (Lb[r] - La[r]));
        if (grad) {
            for (r = 0; r < R; r++) {
                const REAL fa = (REAL)(1.0 / Sa[r]), fb = (REAL)(1.0 / Sb[r]);
                const REAL gs = (REAL)(gsc[r] / temperature);
                const REAL *FE_RESTRICT ear = ea + r * C, *FE_RESTRICT ebr = eb + r * C;
                REAL *FE_RESTRICT gr = grad + r * C;
                FE_PRAGMA(omp simd)
                for (c = 0; c < C; c++)
                    gr[c] = (ebr[c] * fb - ear[c] * fa) * gs;
            }
        }
    } else {                                   /* JS, in log space */
        const double lb = fe_log(beta), lb1 = fe_log1p(-beta);
        for (r = 0; r < R; r++) {
            const double sa = Sa[r], sb = Sb[r], la = La[r], lq0 = Lb[r];
            FE_PRAGMA(omp simd)
            for (c = 0; c < C; c++) {
                const Py_ssize_t i = r * C + c;
                const double lp = FE_ZAD(i, r) - la, lq = FE_ZBD(i, r) - lq0;
                const double u = lb + lp, v = lb1 + lq;
                const double hi = u > v ? u : v, lo = u > v ? v : u;
                const double lm = hi + fe_log1p(fe_exp_nonpos(hi == lo ? 0.0 : lo - hi));
                const double p = (double)ea[i] / sa, q = (double)eb[i] / sb;
                const double h = q != 0.0 ? lq - lm : 0.0;
                d1[i] = p != 0.0 ? p * (lp - lm) : 0.0;
                d2[i] = h;
                d3[i] = q != 0.0 ? q * h : 0.0;
            }
        }
        FE_T(rowsums_d)(R, C, d1, La);         /* sum p (log p - log m) */
        FE_T(rowsums_d)(R, C, d3, K);          /* sum q (log q - log m) */
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++)
            loss[r] = FE_NONNEG(beta * La[r] + (1.0 - beta) * K[r]);
        if (grad) {
            for (r = 0; r < R; r++) {
                const double sb = Sb[r], k = K[r];
                const REAL gs = (REAL)(gsc[r] * (1.0 - beta) / temperature);
                const REAL *FE_RESTRICT ebr = eb + r * C;
                const double *FE_RESTRICT hr = d2 + r * C;
                REAL *FE_RESTRICT gr = grad + r * C;
                FE_PRAGMA(omp simd)
                for (c = 0; c < C; c++) {
                    const double q = (double)ebr[c] / sb;
                    gr[c] = (REAL)(q != 0.0 ? q * (hr[c] - k) : 0.0) * gs;
                }
            }
        }
    }
#undef FE_ZA
#undef FE_ZB
#undef FE_ZAD
#undef FE_ZBD
#undef FE_NONNEG
}
