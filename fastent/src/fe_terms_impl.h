/*
 * fe_terms_impl.h -- every loss and gradient term of fastent, once, as a scalar inline
 * function of one element (or of one row's sums).  Included by fe_terms.h for float and
 * double; the loops of every family (elementwise, rows, short rows in blocks) call these and
 * nothing else, so an element or a row gives the same bits wherever it sits, on any thread
 * and any instruction set.  No include guard on purpose.
 *
 * Expects REAL, FE_T(x) (the name of term x for this dtype) and fastent's own maths
 * (src/fe_math.h) under the names fe_terms.h gives them (LOG, LOG_, LOGRATIO_, ...).
 */

/* ---- binary cross-entropy on probabilities ------------------------------------------ *
 * Clipped: pc = min(max(p, lo), hi) with lo, hi the clip bounds (eps and 1 - eps, moved to
 * the nearest values of the dtype that keep both logs finite when eps > 0).
 *   l = -[t log pc + (1-t) log1p(-pc)]        (a zero coefficient contributes 0: 0 log 0 = 0)
 *   dl/dp = (pc - t) / (pc (1 - pc)); where pc (1 - pc) is 0 (eps = 0 only), the split form
 *           -t/pc + (1-t)/(1-pc) with zero coefficients dropped.
 * normal: lo and 1 - hi are normal numbers, so no log argument is subnormal (the same bits,
 * less work).                                                                              */
FE_INLINE REAL FE_T(bce_prob)(REAL t, REAL p, REAL lo, REAL hi, REAL *g, const int hard,
                              const int normal)
{
    const REAL zero = 0, one = 1, u = one - t;
    REAL pc = p < lo ? lo : p;
    pc = pc > hi ? hi : pc;
    pc = p != p ? p : pc;                               /* NaN propagates */
    const REAL d = pc * (one - pc);
    const REAL split = (t > zero ? -t / pc : zero) + (u > zero ? u / (one - pc) : zero);
    *g = d > zero ? (pc - t) / d : split;
    *g = pc != pc ? pc : *g;
    if (hard)       /* t is 0 or 1: only one log is needed, and it gives the same bits */
        return -(LOG_SEL_(pc, t, !normal) + zero);
    const REAL a = t > zero ? t * LOG_(pc, !normal) : zero;
    const REAL b = u > zero ? u * LOG1P_(-pc, !normal) : zero;
    return -(a + b);
}

/* PyTorch's ATen kernel, operation for operation (log_min = m, eps = float32(1e-12)):
 *   l = (t - 1) max(log1p(-p), m) - t max(log p, m);  dl/dp = (p - t) / max((1 - p) p, eps) */
FE_INLINE REAL FE_T(bce_prob_logmin)(REAL t, REAL p, REAL lmin, REAL *g)
{
    const REAL one = 1, tiny = (REAL)1e-12f;
    REAL a = LOG(p), b = LOG1P(-p);
    a = a < lmin ? lmin : a;
    b = b < lmin ? lmin : b;
    REAL d = (one - p) * p;
    d = d < tiny ? tiny : d;
    *g = (p - t) / d;
    return (t - one) * b - t * a;
}

/* ---- binary cross-entropy on logits ------------------------------------------------- *
 * With e = exp(-|x|) <= 1 and L = log1p(e): softplus(x) = max(x, 0) + L,
 * sigma(x) = 1/(1+e) for x >= 0, e/(1+e) below; c = pos_weight:
 *   l = c t softplus(-x) + (1-t) softplus(x)             (a zero coefficient contributes 0)
 *   dl/dx = (1-t) sigma(x) - c t sigma(-x)
 * not sigma(x) - t, which cancels for hard labels: the two-term form is accurate at every x.
 * x = +-inf gives the exact limits, NaN propagates.                                        */
FE_INLINE REAL FE_T(sigmoid_parts)(REAL x, REAL *sig_pos, REAL *sig_neg)
{   /* L = log1p(e), sigma(x) and sigma(-x) from one exp and one division; returns L */
    const REAL zero = 0, one = 1;
    const REAL ax = x < zero ? -x : x;
    const REAL e = EXP_NONPOS(-ax);
    const REAL r = one / (one + e);
    *sig_pos = x >= zero ? r : e * r;
    *sig_neg = x >= zero ? e * r : r;
    return LOG1P_UNIT_UR(e, one + e, r);                /* log1p(e), sharing 1/(1+e) */
}

/* the loss and gradient from sigmoid_parts' L, sigma(x), sigma(-x) */
FE_INLINE REAL FE_T(bce_logit_of)(REAL t, REAL x, REAL c, REAL L, REAL sig_pos, REAL sig_neg,
                                  REAL *g, const int hard)
{
    const REAL zero = 0, one = 1, u = one - t;
    const REAL tc = t * c;
    REAL l;
    if (hard) {     /* t c and 1 - t are 0 or 1: one softplus, one rounding, the same bits
                     * as the double form below (max(+-x, 0) + L rounded once either way),
                     * and the gradient's zero product dropped (0 - s, s - 0: the same bits) */
        const REAL sx = t > zero ? -x : x;
        l = (sx > zero ? sx : zero) + L;
        *g = t > zero ? zero - sig_neg : sig_pos;
    } else {
        /* the softplus values and their weighted sum in double: for float32 this keeps a
         * soft label's loss within 2 ulp (three float roundings would not) */
        const double sp_pos = (double)(x > zero ? x : zero) + (double)L;    /* softplus(x) */
        const double sp_neg = (double)(x < zero ? -x : zero) + (double)L;   /* softplus(-x) */
        l = (REAL)((tc > zero ? (double)tc * sp_neg : 0.0)
                   + (u > zero ? (double)u * sp_pos : 0.0));
        *g = u * sig_pos - tc * sig_neg;
    }
    l = x != x ? x : l;
    *g = x != x ? x : *g;
    return l;
}

FE_INLINE REAL FE_T(bce_logit)(REAL t, REAL x, REAL c, REAL *g, const int hard)
{
    REAL sig_pos, sig_neg;
    const REAL L = FE_T(sigmoid_parts)(x, &sig_pos, &sig_neg);
    return FE_T(bce_logit_of)(t, x, c, L, sig_pos, sig_neg, g, hard);
}

/* ---- information and binary entropy (elementwise, p in [0, 1]) ---------------------- *
 * information  l = -log pe, pe = max(p, lo) (eps raises p; eps = 0: +inf at p = 0),
 *              dl/dp = -1 / pe.
 * binary entropy  H = -[p log p + (1 - p) log1p(-p)] with 0 log 0 = 0, NaN at NaN: finite
 *              on [0, 1] and exactly 0 at p = 0 and 1, so the value is never clipped; its gradient
 *              dH/dp = log((1 - p) / p) is taken at pc = min(max(p, lo), hi) (eps = 0: +-inf
 *              at p = 0, 1), in a form without cancellation near p = 1/2:
 *                p < 1/4         log1p(-p) - log p          (|log p| > 1.38 dominates)
 *                1/4 <= p <= 1/2 log1p((1 - 2p) / p)        (1 - 2p exact: Sterbenz)
 *                p > 1/2         -log1p((2p - 1) / (1 - p)) (2p - 1 and 1 - p exact)       */
FE_INLINE REAL FE_T(information)(REAL p, REAL lo, REAL *g, const int normal)
{
    const REAL zero = 0, one = 1;
    const REAL pe = p < lo ? lo : p;
    *g = -one / pe;
    return zero - LOG_(pe, !normal);                    /* +0 at p = 1 */
}

FE_INLINE REAL FE_T(binary_entropy)(REAL p, REAL lo, REAL hi, REAL *g, const int has_grad)
{
    const REAL zero = 0, one = 1, two = 2, quarter = (REAL)0.25, half = (REAL)0.5;
    const REAL q = one - p;
    const REAL a = p > zero ? p * LOG_(p, 1) : zero;
    const REAL b = q > zero ? q * LOG1P_(-p, 1) : zero;
    if (has_grad) {
        REAL pc = p < lo ? lo : p;
        pc = pc > hi ? hi : pc;
        pc = p != p ? p : pc;
        const REAL small = LOG1P_(-pc, 1) - LOG_(pc, 1);
        const int upper = pc > half;
        const REAL u = upper ? (two * pc - one) / (one - pc) : (one - two * pc) / pc;
        const REAL mid = LOG1P_(u, 1);
        *g = pc < quarter ? small : (upper ? -mid : mid);
    }
    return p != p ? p : zero - (a + b);         /* a NaN p propagates (the selects drop it) */
}

/* ---- sigmoid focal loss on logits (Lin et al. 2017; torchvision's sigmoid_focal_loss) - *
 * With s = sigma(x), u = 1 - t, ce = bce_logit's t softplus(-x) + u softplus(x):
 *   m = 1 - p_t = u s + t (1 - s)         (two terms >= 0: no cancellation)
 *   l = a_t ce m^gamma,  a_t = alpha t + (1 - alpha) u  (alpha < 0: a_t = 1)
 *   dl/dx = a_t [(u s - t (1 - s)) m^gamma + gamma ce m^gamma (s (1 - s) / m) (u - t)]
 * in double; m^gamma = exp(gamma log m) (exactly 1 at gamma = 0), and at m = 0 it is 1 at
 * gamma = 0 (torch's 0^0), else 0.  The second term is 0 where m or s (1 - s) is 0 (its
 * limit: ce -> 0 or s (1 - s) -> 0 faster), and +-0 at gamma = 0 (the factors are finite:
 * s (1 - s) <= min(s, 1 - s) <= m).  gamma = 0 and alpha < 0 give bce_logit's bits.
 * square: gamma is 2 (the default), m^2 = m m (more accurate than exp(2 log m), a
 * fifth of the work).  The choices on alpha and gamma are made on scalars (at_t, at_u, at_1, m0) so that every
 * select in the loop has a per-element condition: GCC vectorises none of the loop when an
 * invariant condition joins them.                                                         */
FE_INLINE REAL FE_T(sigmoid_focal)(REAL t, REAL x, double alpha, double gamma, REAL *g,
                                   const int square)
{
    const REAL one = 1, u = one - t;
    const double at_t = alpha < 0.0 ? 0.0 : alpha, at_u = alpha < 0.0 ? 0.0 : 1.0 - alpha;
    const double at_1 = alpha < 0.0 ? 1.0 : 0.0, m0 = gamma == 0.0 ? 1.0 : 0.0;
    REAL gce, sp, sn_;
    const REAL L = FE_T(sigmoid_parts)(x, &sp, &sn_);
    const double ce = (double)FE_T(bce_logit_of)(t, x, one, L, sp, sn_, &gce, 0);
    const double s = sp, sn = sn_;
    const double m = (double)u * s + (double)t * sn, ssn = s * sn;
    const int pos = m > 0.0;
    const double mg = pos ? (square ? m * m : fe_exp(gamma * fe_log(pos ? m : 1.0))) : m0;
    const double at = (at_t * (double)t + at_u * (double)u) + at_1;
    const double d2 = pos && ssn > 0.0 ? gamma * ce * mg * (ssn / m) * ((double)u - (double)t)
                                       : 0.0;
    *g = (REAL)(at * ((double)gce * mg + d2));          /* NaN at a NaN x, through gce */
    return (REAL)(at * (ce * mg));
}

/* ---- the elementwise terms by mode (the loop of fe_binary_impl.h) -------------------- *
 * FE_ELEMENTWISE(X): X(MODE, stem, target, unit, variants) for each term, in mode order:
 * the mode numbers, the names fastent._binary.MODES looks them up by, and the loop's
 * specialisations all come from this list.  target: the term reads a target (checked in
 * [0, 1], smoothed); unit: the prediction is a probability (checked in [0, 1]); variants:
 * the loops worth compiling apart (FE_VAR_PW with pos_weight, FE_VAR_HARD every target 0
 * or 1, FE_VAR_NORMAL normal clip bounds, FE_VAR_SQUARE the term's parameter b is 2).  A
 * new term: one line here, one in FE_T(elementwise) below.  (Defined alike for each dtype, which C allows.)              */
#define FE_VAR_PW 1
#define FE_VAR_HARD 2
#define FE_VAR_NORMAL 4
#define FE_VAR_SQUARE 8
#define FE_ELEMENTWISE(X)                                                                  \
    X(FE_BCE_CLIP, bce_prob, 1, 1, FE_VAR_HARD | FE_VAR_NORMAL)                            \
    X(FE_BCE_LOGMIN, bce_prob_logmin, 1, 1, 0)                                             \
    X(FE_BCE_LOGITS, bce_logit, 1, 0, FE_VAR_PW | FE_VAR_HARD)                             \
    X(FE_INFO, information, 0, 1, FE_VAR_NORMAL)                                           \
    X(FE_BENT, binary_entropy, 0, 1, 0)                                                    \
    X(FE_FOCAL, sigmoid_focal, 1, 0, FE_VAR_SQUARE)
#ifndef FE_ELEMENTWISE_MODES
#define FE_ELEMENTWISE_MODES
#define FE_EL_ENUM(M, stem, target, unit, var) M,
#define FE_EL_TARGET(M, stem, target, unit, var) mode == M ? target :
#define FE_EL_UNIT(M, stem, target, unit, var) mode == M ? unit :
#define FE_EL_VARIANTS(M, stem, target, unit, var) mode == M ? (var) :
enum { FE_ELEMENTWISE(FE_EL_ENUM) FE_NMODES };
FE_INLINE int fe_el_target(const int mode) { return FE_ELEMENTWISE(FE_EL_TARGET) 0; }
FE_INLINE int fe_el_unit(const int mode) { return FE_ELEMENTWISE(FE_EL_UNIT) 0; }
FE_INLINE int fe_el_variants(const int mode) { return FE_ELEMENTWISE(FE_EL_VARIANTS) 0; }
#undef FE_EL_ENUM
#undef FE_EL_TARGET
#undef FE_EL_UNIT
#undef FE_EL_VARIANTS
#endif

/* The term of `mode` (a constant in each specialised loop) at target t (0 where the term
 * has none, already smoothed), prediction x, pos_weight c; lo, hi, lmin, a, b: the
 * parameters of fe_bparams */
FE_INLINE REAL FE_T(elementwise)(const int mode, REAL t, REAL x, REAL c, REAL lo, REAL hi,
                                 REAL lmin, double a, double b, REAL *g, const int hard,
                                 const int normal, const int square, const int has_grad)
{
    if (mode == FE_INFO) return FE_T(information)(x, lo, g, normal);
    if (mode == FE_BENT) return FE_T(binary_entropy)(x, lo, hi, g, has_grad);
    if (mode == FE_BCE_LOGITS) return FE_T(bce_logit)(t, x, c, g, hard);
    if (mode == FE_BCE_LOGMIN) return FE_T(bce_prob_logmin)(t, x, lmin, g);
    if (mode == FE_FOCAL) return FE_T(sigmoid_focal)(t, x, a, b, g, square);
    return FE_T(bce_prob)(t, x, lo, hi, g, hard, normal);
}

/* ---- softmax cross-entropy ----------------------------------------------------------- *
 * Per row with m = max x (NaN skipped; a NaN reaches S through exp), z_c = x_c - m <= 0,
 * e_c = exp(z_c), S = sum e_c, class coefficients a_c (class-weighted, smoothed target) and
 * A = sum a_c, B = sum a_c (m - x_c) (in double):
 *   l = -sum a_c log_softmax(x)_c = A log S + B
 * a form without cancellation at large logits.  log S as log1p(S - 1) (fe_log_rowsum, the
 * same bits without the division): the row maximum contributes exactly 1 to S, so S - 1 is
 * exact and a small loss keeps its relative accuracy.  A row with a NaN gives NaN (also
 * when A = 0: 0 * NaN), a row of -inf too.
 *   dl/dx_c = e_c A / S - a_c  (then times the row's gradient scale: (e f - a) first, so a
 *   gradient that is 0 stays 0).                                                           */
FE_INLINE double FE_T(softmax_loss)(double A, double S, double B)
{
    return A * fe_log_rowsum(S) + B;
}

FE_INLINE REAL FE_T(softmax_grad)(REAL e, REAL f, REAL a, REAL gs)
{
    return FE_T(one_nan)(FE_SOFTMAX_GRAD(e, f, a, gs));
}

/* a probability target outside [0, 1] (NaN included): the kernels' *bad bit 1 */
FE_INLINE int FE_T(outside_unit)(REAL t)
{
    return !((t >= (REAL)0) & (t <= (REAL)1));
}

/* a_c of a probability target t_c: w_c ((1 - s) t_c + s/C)  (keep = 1 - s, share = s/C) */
FE_INLINE REAL FE_T(softmax_coef)(REAL t, REAL keep, REAL share, REAL w)
{
    return (t * keep + share) * w;
}

/* a_c (m - x_c) in double (exact difference of two floats), 0 where a_c = 0 (also at
 * x_c = -inf: a masked class) */
FE_INLINE double FE_T(softmax_bterm)(REAL a, REAL x, REAL m)
{
    return a != (REAL)0 ? (double)a * ((double)m - (double)x) : 0.0;
}

/* A and B of a row with a label: a_c = (1 - s) w_t [c = t] + (s / C) w_c, wt = w_t, xt = the
 * label's logit, ws = sum w_c (C without class weights), bw = sum_c w_c (m - x_c) (read only
 * when s != 0), share = s / C; an ignored row (ign): A = B = 0 */
FE_INLINE void FE_T(softmax_label_ab)(int ign, double wt, double smooth, double share,
                                      double ws, double bw, REAL m, REAL xt, double *A,
                                      double *B)
{
    const double hot = ign ? 0.0 : (1.0 - smooth) * wt;
    const double bs = smooth != 0.0 ? share * bw : 0.0;
    *A = ign ? 0.0 : hot + share * ws;
    *B = ign ? 0.0 : (hot != 0.0 ? hot * ((double)m - (double)xt) : 0.0) + bs;
}

/* a_c of a row with a label for the gradient (in the dtype): share w_c + ht [c = t], ht =
 * (1 - s) w_t */
FE_INLINE REAL FE_T(softmax_label_coef)(int hit, REAL ht, REAL share, REAL wc)
{
    return share * wc + (hit ? ht : (REAL)0);
}

/* ---- distributions -------------------------------------------------------------------- *
 * p the reference, q the prediction; pe, qe raised to at least lo (eps, or the smallest
 * positive value when eps is below it; 0 when eps = 0).  A zero p contributes 0 to the
 * value and the gradient unless q is NaN (NaN propagates, as SciPy's xlogy(0, nan)).
 *   cross-entropy  -p log qe            d/dq = -p / qe
 *   KL             p log(pe / qe)       d/dq = -p / qe     (log ratio: fe_logratio_)
 *   entropy        -p log pe            d/dp = -(log pe + 1)
 * With eps = 0 these are SciPy's xlogy, rel_entr and entr: +inf where p > 0 = q.
 * normal: lo is a normal number, so pe and qe never are subnormal (the same bits, less work).*/
FE_INLINE int FE_T(normal_bound)(double lo)    /* lo: a clip bound of this dtype */
{
    return (REAL)lo >= (sizeof(REAL) == 4 ? (REAL)FLT_MIN : (REAL)DBL_MIN);
}

FE_INLINE REAL FE_T(xent)(REAL p, REAL q, REAL lo, REAL *g, const int normal)
{
    const REAL zero = 0;
    const REAL qe = q < lo ? lo : q;
    const REAL val = -p * LOG_(qe, !normal), gv = -p / qe;
    *g = p == zero ? (q == q ? zero : q) : gv;
    return p == zero ? (q == q ? zero : q) : val;
}

FE_INLINE REAL FE_T(kl)(REAL p, REAL q, REAL lo, REAL *g, const int normal)
{
    const REAL zero = 0, inf = (REAL)INFINITY;
    const REAL qe = q < lo ? lo : q, pe = p < lo ? lo : p;
    /* the log ratio, meaningful for finite positive values; the selects below set the
     * others (the ratio of special values is computed and discarded: no branch, no trap) */
    REAL L = LOGRATIO_(pe, qe, !normal);
    L = qe == zero ? inf : L;                          /* p > 0 = q          */
    L = qe == inf ? -inf : L;
    L = pe == inf ? (qe == inf ? (REAL)NAN : inf) : L;
    L = pe != pe ? pe : L;
    L = qe != qe ? qe : L;
    const REAL val = p * L, gv = -p / qe;
    *g = p == zero ? (q == q ? zero : q) : gv;
    return p == zero ? (q == q ? zero : q) : val;
}

FE_INLINE REAL FE_T(entropy)(REAL p, REAL lo, REAL *g, const int normal)
{
    const REAL zero = 0, one = 1;
    const REAL pe = p < lo ? lo : p;
    const REAL lp = LOG_(pe, !normal);
    *g = -(lp + one);
    return p == zero ? zero : -(p * lp);
}

/* Generalised Jensen-Shannon divergence of distributions, p the reference, q the
 * prediction, weight beta on p (bq = 1 - beta), mixture m = beta p + bq q:
 *   l = beta p log(p / m) + bq q log(q / m)       (0 log 0 = 0: finite for all p, q >= 0)
 *   dl/dq = bq log(q / m)    (the other terms of the derivative cancel: beta p/m + bq q/m = 1)
 * -inf at q = 0 < p (the true one-sided derivative); at p = 0, m = bq q, so the derivative
 * is -bq log bq for every q (0 at q = 0 too); 0 when bq = 0, and when beta = 0 (then m = q
 * and l = 0 for every q, q = 0 < p included).  The log ratios from d = p - q, exact where p
 * and q are close (Sterbenz): p - m = bq d and q - m = -beta d exactly, so
 *   log(p / m) = log1p(bq d / m),  log(q / m) = log1p(-beta d / m),
 * and the rounding of m only scales the small arguments (from log(p / m) of the rounded m,
 * an error of an ulp of 1 decided the value of close rows, and its sign).  In double for both
 * dtypes: the two terms have opposite signs.  NaN in p or q propagates.                   */
FE_INLINE REAL FE_T(js)(REAL p_, REAL q_, REAL beta_, REAL *g)
{
    const double p = p_, q = q_, beta = beta_, zero = 0, one = 1, inf = INFINITY;
    const double bq = one - beta, a = beta * p, b = bq * q;
    const double m = a + b, dm = (p - q) / m;
    const double lp = fe_log1p(bq * dm), lq = fe_log1p(-(beta * dm));
    const double va = a != zero ? a * lp : zero;
    const double vb = b != zero ? b * lq : zero;
    double gv = p == zero ? -(bq * fe_log(bq)) : (q == zero ? -inf : bq * lq);
    /* beta 0: m = q, l = 0 for every q.  One comparison: with `bq == 0 || beta == 0` GCC 12
     * left the loop over the terms scalar (7x the time of the loss alone) */
    gv = beta * bq == zero ? zero : gv;
    gv = p != p ? p : gv;
    *g = (REAL)(q != q ? q : gv);
    /* a NaN input is the result, as it is (two NaNs meeting in va + vb would give either's
     * bytes, whichever operand order the compiler picked) */
    return q_ != q_ ? q_ : (p_ != p_ ? p_ : (REAL)(va + vb));
}

/* A Jensen-Shannon row value v brought into its range [0, U], U = cp Sp + cq Sq with Sp and
 * Sq the row's exact sums of p and q (both 1 from logits: pr = NULL).  The true value lies
 * there (every term is >= 0, and m >= beta p, m >= bq q bound each by cp p + cq q); the
 * computed one can round out of it by an ulp: below 0 for close rows, above log 2 (1 bit)
 * for disjoint ones.  Sp, Sq are summed only for a row above cp + cq (U at Sp = Sq = 1),
 * which is rare.  NaN stays NaN.  scratch: min(C, FE_XBLOCK) doubles. */
FE_INLINE double FE_T(js_range)(double v, double cp, double cq, Py_ssize_t C,
                                const REAL *pr, const REAL *qr, double *scratch)
{
    v = v < 0.0 ? 0.0 : v;
    if (v > cp + cq) {
        double u = cp + cq;
        if (pr) {
            fe_xsum sp, sq;
            fe_xsum_init(&sp);
            fe_xsum_init(&sq);
            FE_XADD(&sp, pr, C, scratch);
            FE_XADD(&sq, qr, C, scratch);
            u = cp * fe_xsum_round(&sp) + cq * fe_xsum_round(&sq);
        }
        v = v > u ? u : v;
    }
    return v;
}

/* softmax_stats of one row (fe_softmax_impl.h), from its max m, S = sum e (e = exp(x - m))
 * and H = sum e (x - m) (+0 where e = 0): st[0] the log-sum-exp m + log S; st[1] the
 * entropy log S - H / S (both terms >= 0: no cancellation); st[2] the largest probability
 * 1 / S (the maximum's e is exactly 1).  A NaN row's statistics are the one NaN. */
FE_INLINE void FE_T(softmax_row_stats)(REAL m, double S, double H, double *st)
{
    const double L = fe_log_rowsum(S);
    st[0] = fe_one_nan_f64((double)m + L);
    st[1] = fe_one_nan_f64(L - H / S);
    st[2] = fe_one_nan_f64(1.0 / S);
}

/* ---- divergences between the softmaxes of two rows of logits (fe_divlogits_impl.h) --- *
 * p = softmax(t / T), the teacher's; q = softmax(x / T), the student's; per row Sa, Sb the
 * fixed-order sums of ea = exp(za), eb = exp(zb) and La = log Sa, Lb = log Sb.
 * KL, one row from K = sum ea ((t - x) + (max x - max t)) (FE_KL_TERM, fe_terms.h):
 *   l = K / (T Sa) + (Lb - La), a row that rounds below 0 being 0 (identical rows: -1e-17);
 *   dl/dx = (q - p) / T = (eb / Sb - ea / Sa) / T, fa = 1 / Sa, fb = 1 / Sb, gs the row's
 *   gradient scale times 1 / T.                                                         */
FE_INLINE double FE_T(kl_logits_loss)(double K, double inv_t, double Sa, double La, double Lb)
{
    const double v = K * inv_t / Sa + (Lb - La);
    return v < 0.0 ? 0.0 : v;
}

FE_INLINE REAL FE_T(kl_logits_grad)(REAL ea, REAL eb, REAL fa, REAL fb, REAL gs)
{
    return (eb * fb - ea * fa) * gs;
}

/* JS, one class, in double: lp = log p, lq = log q (the shifted logits minus the row's
 * log-sum-exp), lb = log beta, lb1 = log(1 - beta), p = ea / Sa, q = eb / Sb;
 *   log m = logaddexp(lb + lp, lb1 + lq)  (in log space: the mixture never underflows),
 *   *tp = p (log p - log m), *tq = q (log q - log m), each 0 where its probability is 0
 *   (a masked class: never 0 inf);
 * returns h = log q - log m (0 where q = 0), the gradient's per-class factor.
 * The row: l = beta sum tp + (1 - beta) sum tq (into [0, H(beta)]: js_range), and
 *   dl/dx_j = (1 - beta) / T q_j (h_j - K), K = sum tq (js_logits_grad). */
FE_INLINE double FE_T(js_logits_term)(double lp, double lq, double lb, double lb1, double p,
                                      double q, double *tp, double *tq)
{
    const double u = lb + lp, v = lb1 + lq;
    const double big = u > v ? u : v, small = u > v ? v : u;
    const double lm = big + fe_log1p(fe_exp_nonpos(big == small ? 0.0 : small - big));
    const double h = q != 0.0 ? lq - lm : 0.0;
    *tp = p != 0.0 ? p * (lp - lm) : 0.0;
    *tq = q != 0.0 ? q * h : 0.0;
    return h;
}

FE_INLINE REAL FE_T(js_logits_grad)(double q, double h, double K, REAL gs)
{
    return (REAL)(q != 0.0 ? q * (h - K) : 0.0) * gs;
}

/* The largest and the smallest keys (rowmax's, below) of row a and, with two, of row b, C
 * values each (*ka, *na; *kb, *nb).  wide (FE_WIDE) and C >= a vector: a vector of each
 * row at a time (FE_KEYS_WALK), the vector after the last whole one being the row's last
 * W values, overlapping it, where the loop the compiler makes ends in up to W - 1 scalar
 * steps (4 of 100 floats: a third of the keys' time in the KL from logits); 64 bytes of
 * values at a time where C allows (wide 2 with clang, any wide with GCC: half the steps of
 * 32 bytes on AVX-512).  A maximum or a minimum does not change when a value is seen
 * twice or in another order: the same keys, so the same bits at any width. */
#if FE_VECTOR_EXT
/* the steps over a row, W values at a time (STEP() takes values c..c+W-1 of a, and of b
 * with two), the last step overlapping the one before */
#define FE_KEYS_WALK(W, STEP)                                                              \
    for (c = 0;;) {                                                                        \
        STEP();                                                                            \
        if (c + (W) == C)                                                                  \
            break;                                                                         \
        c = c + 2 * (W) <= C ? c + (W) : C - (W);                                          \
    }
/* a vector of keys of each row (ha, la: row a's maxima and minima; hb, lb: row b's) */
#define FE_KEYS_VSTEP()                                                                    \
    do {                                                                                   \
        FE_KEYS_STEP(a, ha, la);                                                           \
        if (two)                                                                           \
            FE_KEYS_STEP(b, hb, lb);                                                       \
    } while (0)
#define FE_ROW_KEYS_WIDE(KV, TO32)                                                         \
    {                                                                                      \
        const KV none = {0};                                                               \
        KV ha = none + xa, hb = ha, la = none + ya, lb = la;                               \
        FE_KEYS_WALK((Py_ssize_t)(sizeof(KV) / sizeof(REAL)), FE_KEYS_VSTEP)               \
        FE_KEYS_FOLD(ha, la, hb, lb, TO32, xa, ya, xb, yb);                                \
    }
/* the four sets of lanes folded together (folding each vector alone cost more: N8 of
 * docs/design-notes.md): to 32 bytes, then FE_KEYS_FOLD4 (fe_terms.h) on the maxima and the
 * complemented minima (~k reverses the order of the keys); into xa_, ya_, xb_, yb_ */
#define FE_KEYS_FOLD(ha, la, hb, lb, TO32, xa_, ya_, xb_, yb_)                             \
    do {                                                                                   \
        const FE_KVEC ha8 = TO32(ha, FE_VMAX), hb8 = TO32(hb, FE_VMAX);                    \
        const FE_KVEC na8 = ~TO32(la, FE_VMIN), nb8 = ~TO32(lb, FE_VMIN);                  \
        const FE_KVEC f_ = FE_KEYS_FOLD4(ha8, hb8, na8, nb8);                              \
        xa_ = f_[0], xb_ = f_[FE_KEYS_FOLD_AT(1)];                                         \
        ya_ = ~f_[FE_KEYS_FOLD_AT(2)], yb_ = ~f_[FE_KEYS_FOLD_AT(3)];                      \
    } while (0)
/* OP (FE_VMAX, FE_VMIN) of the two halves of key vector v, a vector of type HT */
#define FE_KEYS_HALVE(HT, v, OP)                                                           \
    __extension__({                                                                        \
        HT lo_, hi_;                                                                       \
        memcpy(&lo_, &(v), sizeof lo_);                                                    \
        memcpy(&hi_, (const char *)&(v) + sizeof lo_, sizeof hi_);                         \
        OP(lo_, hi_);                                                                      \
    })
/* GCC (12) compares and blends for FE_VMAX and FE_VMIN, two dependent instructions where
 * a vector max is one (the chain of maxima of a long row waits on them: 2x the time);
 * it makes that max of a loop over an array of lanes.  So with GCC the keys are taken
 * FE_KEYS_LANES (64 bytes of values) at a time into arrays of lanes, each step a loop
 * over them (clang makes memory of those arrays, and the max of the vectors: it keeps the
 * vectors), walked and folded as the vectors are (docs/design-notes.md, N9). */
#define FE_KEYS_LANES ((Py_ssize_t)(64 / sizeof(REAL)))
#define FE_KEYS_LANE_STEP(x, h, l)                                                         \
    do {                                                                                   \
        const FE_KEY k_ = FE_KEY_OF((x)[c + j]);                                           \
        h[j] = k_ > h[j] ? k_ : h[j];                                                      \
        l[j] = k_ < l[j] ? k_ : l[j];                                                      \
    } while (0)
#define FE_KEYS_LSTEP()                                                                    \
    do {                                                                                   \
        FE_PRAGMA(omp simd)                                                                \
        for (j = 0; j < FE_KEYS_LANES; j++) {                                              \
            FE_KEYS_LANE_STEP(a, ha, la);                                                  \
            if (two)                                                                       \
                FE_KEYS_LANE_STEP(b, hb, lb);                                              \
        }                                                                                  \
    } while (0)
#define FE_ROW_KEYS_LANES                                                                  \
    {                                                                                      \
        FE_KEY ha[FE_KEYS_LANES], la[FE_KEYS_LANES], hb[FE_KEYS_LANES], lb[FE_KEYS_LANES]; \
        Py_ssize_t j;                                                                      \
        for (j = 0; j < FE_KEYS_LANES; j++)                                                \
            ha[j] = hb[j] = xa, la[j] = lb[j] = ya;                                        \
        FE_KEYS_WALK(FE_KEYS_LANES, FE_KEYS_LSTEP)                                         \
        FE_KVEC64 vha, vla, vhb, vlb;                                                      \
        memcpy(&vha, ha, sizeof vha), memcpy(&vla, la, sizeof vla);                        \
        memcpy(&vhb, hb, sizeof vhb), memcpy(&vlb, lb, sizeof vlb);                        \
        FE_KEYS_FOLD(vha, vla, vhb, vlb, FE_KEYS_TO32_64, xa, ya, xb, yb);                 \
    }
#define FE_KEYS_TO32_64(v, OP) FE_KEYS_HALVE(FE_KVEC, v, OP)
#define FE_KEYS_TO32_32(v, OP) (v)
#define FE_KEYS_STEP(x, h, l)                                                              \
    do {                                                                                   \
        __typeof__(h) v;                                                                   \
        memcpy(&v, (x) + c, sizeof v);                                                     \
        v = FE_VKEY(v);                                                                    \
        h = FE_VMAX(v, h);                                                                 \
        l = FE_VMIN(v, l);                                                                 \
    } while (0)
#endif
FE_INLINE void FE_T(row_keys)(Py_ssize_t C, const int two, const REAL *FE_RESTRICT a,
                              const REAL *FE_RESTRICT b, FE_KEY *ka, FE_KEY *na,
                              FE_KEY *kb, FE_KEY *nb, const int wide)
{
    FE_KEY xa = FE_KEY_OF(-(REAL)INFINITY), xb = xa, ya = FE_KEY_OF((REAL)INFINITY), yb = ya;
    Py_ssize_t c;
#if FE_VECTOR_EXT
    /* (the scalar loop is an else: after the vectors, its reductions' epilogue folded the
     * lanes of an empty loop all over again: N8) */
#if defined(__clang__)
    if (wide == 2 && C >= (Py_ssize_t)(sizeof(FE_KVEC64) / sizeof(REAL)))
        FE_ROW_KEYS_WIDE(FE_KVEC64, FE_KEYS_TO32_64)
#else
    if (wide && C >= FE_KEYS_LANES)
        FE_ROW_KEYS_LANES
#endif
    else if (wide && C >= (Py_ssize_t)(sizeof(FE_KVEC) / sizeof(REAL)))
        FE_ROW_KEYS_WIDE(FE_KVEC, FE_KEYS_TO32_32)
    else
#else
    (void)wide;
#endif
    {
        FE_PRAGMA(omp simd reduction(max:xa, xb) reduction(min:ya, yb))
        for (c = 0; c < C; c++) {
            const FE_KEY kt = FE_KEY_OF(a[c]);
            xa = kt > xa ? kt : xa;
            ya = kt < ya ? kt : ya;
            if (two) {
                const FE_KEY kx = FE_KEY_OF(b[c]);
                xb = kx > xb ? kx : xb;
                yb = kx < yb ? kx : yb;
            }
        }
    }
    *ka = xa, *na = ya;
    if (two)
        *kb = xb, *nb = yb;
}
#if FE_VECTOR_EXT
#undef FE_ROW_KEYS_WIDE
#undef FE_KEYS_STEP
#undef FE_KEYS_HALVE
#undef FE_KEYS_TO32_64
#undef FE_KEYS_FOLD
#undef FE_KEYS_LANES
#undef FE_KEYS_LANE_STEP
#undef FE_ROW_KEYS_LANES
#undef FE_KEYS_WALK
#undef FE_KEYS_VSTEP
#undef FE_KEYS_LSTEP
#undef FE_KEYS_TO32_32
#endif

/* Row maximum, as the maximum of order-preserving integer keys of the values (a floating
 * max reduction does not vectorise with clang without -ffast-math): key(x) = bits of x for
 * x >= +0, bits with the magnitude bits flipped for negative x, compared as signed.  -0
 * ranks below +0 (the result is +0 when both occur); a NaN with the sign bit clear ranks
 * above +inf and becomes the maximum, then every z is NaN and so is the row, as it must be
 * (with the sign bit set it ranks lowest, and exp(NaN - m) makes the row NaN anyway).
 * An empty or all -inf row gives -inf.
 * *normal: whether every x - max of the row is >= lowest (the start of exp's normal range,
 * EXP_NORMAL_MIN: fe_math.h), from the minimum key found in the same loop -- then the row
 * has no NaN (a NaN's key is the maximum or the minimum) and no infinity, and its exp may
 * take the normal range's form. */
FE_INLINE REAL FE_T(rowmax)(Py_ssize_t C, const REAL *FE_RESTRICT x, REAL lowest,
                            int *normal, const int wide)
{
    FE_KEY k, kl;
    FE_T(row_keys)(C, 0, x, x, &k, &kl, NULL, NULL, wide);
    const REAL m = FE_VAL_OF(k);
    *normal = FE_VAL_OF(kl) - m >= lowest;
    return m;
}

/* rowmax of a row of two values (the same keys, the same result) */
FE_INLINE REAL FE_T(max2)(REAL a, REAL b)
{
    const FE_KEY ka = FE_KEY_OF(a), kb = FE_KEY_OF(b);
    FE_KEY k = FE_KEY_OF(-(REAL)INFINITY);
    k = ka > k ? ka : k;
    k = kb > k ? kb : k;
    return FE_VAL_OF(k);
}

/* exp(d) for one d = x - max2 of a row of two, given eo = exp of the row's d that is < 0:
 * max2 returns one of the two values (whose d is 0, or NaN from inf - inf) or -inf (both
 * below it: NaNs, whose d are NaN), so at most one d of the row is < 0; exp(0) is 1
 * exactly and exp(NaN) is NaN + NaN (fe_math.h).  One exp serves the row, the same bits. */
FE_INLINE REAL FE_T(pair_exp)(REAL d, REAL eo)
{
    return d < 0 ? eo : (d == 0 ? (REAL)1 : d + d);
}

/* ---- row sums in a fixed order ---------------------------------------------------------- *
 * Every row sum of every family: element c goes to lane c mod FE_LANES (in the order of c),
 * the lanes are added in one fixed tree (lanes j and j + w for w = 8, 4, 2, 1).  The same
 * bits for any vector width, for a row alone or inside a block, for any C.
 * GCC and clang: the 16 lanes are vectors held in registers (the array form below kept
 * them in memory and folded them in a loop: N10),
 * four of 4 doubles (FE_L4) or, wide 2 (AVX-512: FE_WIDE), two of 8 (FE_L8: half the
 * conversions and additions there; GCC keeps 8-double vectors on the stack without
 * AVX-512).  A lane past the row's end adds +0, which changes no lane (a lane starts at
 * +0 and is never -0).  The operands keep the array form's order, so even a NaN's bytes
 * are the same.
 * The values added are VAL(L, o): those at offset o of the row as L's vector of doubles
 * (FE_L1, fe_terms.h: one double) -- of a row of the dtype or of doubles (FE_VAL_ROW), or
 * terms computed from several rows as they are added (rowsum_kl). */
#define FE_VAL_ROW(L, o) L##_LOAD(v + (o))
#if FE_VECTOR_EXT
/* the steps of a row sum on the lanes P0..P3 (4 doubles each): START, ADD (FE_LANES
 * values from offset o), TAIL (the last n < FE_LANES from offset o, the row's last, +0
 * past them), FOLD (the tree) */
#define FE_L4_START(P) fe_v4d P##0 = {0, 0, 0, 0}, P##1 = P##0, P##2 = P##0, P##3 = P##0
/* four values as doubles, element by element: GCC lowers a vector conversion where the
 * terms are compiled (no AVX, before the target pragmas: two halves through the stack, 73
 * instructions a step of the three row sums of KL at C = 100), these it vectorises in
 * each kernel (29) */
#define FE_L4_LOAD(v)                                                                      \
    ((fe_v4d){(double)(v)[0], (double)(v)[1], (double)(v)[2], (double)(v)[3]})
/* vector w (the row's last 4 values) shifted down by 4 - m: its last m values in lanes
 * 0..m-1, then +0 (one shuffle with a zero vector; value by value, the compiler made a
 * branch and a scalar conversion of each, ~35 instructions a tail) */
#define FE_L4_SHIFT(w, m)                                                                  \
    __extension__({                                                                        \
        const fe_v4d w_ = (w), z_ = {0, 0, 0, 0};                                          \
        fe_v4d e_;                                                                         \
        switch (m) {                                                                       \
        case 1: e_ = FE_SHUF(fe_v4l, w_, z_, 3, 4, 4, 4); break;                           \
        case 2: e_ = FE_SHUF(fe_v4l, w_, z_, 2, 3, 4, 4); break;                           \
        default: e_ = FE_SHUF(fe_v4l, w_, z_, 1, 2, 3, 4); break;                          \
        }                                                                                  \
        e_;                                                                                \
    })
/* a row's last m < 4 values (the row at least 4 long) */
#define FE_L4_END(VAL, m) FE_L4_SHIFT(VAL(FE_L4, C - 4), (m))
#define FE_L4_ADD(P, VAL, o)                                                               \
    do {                                                                                   \
        P##0 += VAL(FE_L4, (o));                                                           \
        P##1 += VAL(FE_L4, (o) + 4);                                                       \
        P##2 += VAL(FE_L4, (o) + 8);                                                       \
        P##3 += VAL(FE_L4, (o) + 12);                                                      \
    } while (0)
#define FE_L4_TAIL(P, VAL, o, n)                                                           \
    do {                                                                                   \
        const Py_ssize_t q_ = (n) / 4, m_ = (n) % 4;                                       \
        if (q_ > 0)                                                                        \
            P##0 += VAL(FE_L4, (o));                                                       \
        if (q_ > 1)                                                                        \
            P##1 += VAL(FE_L4, (o) + 4);                                                   \
        if (q_ > 2)                                                                        \
            P##2 += VAL(FE_L4, (o) + 8);                                                   \
        if (m_ > 0) {                                                                      \
            const fe_v4d e_ = FE_L4_END(VAL, m_);                                          \
            if (q_ == 0)                                                                   \
                P##0 += e_;                                                                \
            else if (q_ == 1)                                                              \
                P##1 += e_;                                                                \
            else if (q_ == 2)                                                              \
                P##2 += e_;                                                                \
            else                                                                           \
                P##3 += e_;                                                                \
        }                                                                                  \
    } while (0)
#define FE_L4_FOLD(P, out)                     /* w = 8, 4 as vectors; 2, 1 */             \
    do {                                                                                   \
        const fe_v4d f_ = (P##0 + P##2) + (P##1 + P##3);                                   \
        (out) = (f_[0] + f_[2]) + (f_[1] + f_[3]);                                         \
    } while (0)
/* the same on the lanes P0 (0-7) and P1 (8-15) */
#define FE_L8_START(P) fe_v8d P##0 = {0, 0, 0, 0, 0, 0, 0, 0}, P##1 = P##0
#define FE_L8_LOAD(v)                                                                      \
    ((fe_v8d){(double)(v)[0], (double)(v)[1], (double)(v)[2], (double)(v)[3],              \
              (double)(v)[4], (double)(v)[5], (double)(v)[6], (double)(v)[7]})
#define FE_L8_SHIFT(w, m)                      /* as FE_L4_SHIFT, m < 8 */                 \
    __extension__({                                                                        \
        const fe_v8d w_ = (w), z_ = {0, 0, 0, 0, 0, 0, 0, 0};                              \
        fe_v8d e_;                                                                         \
        switch (m) {                                                                       \
        case 1: e_ = FE_SHUF(fe_v8l, w_, z_, 7, 8, 8, 8, 8, 8, 8, 8); break;               \
        case 2: e_ = FE_SHUF(fe_v8l, w_, z_, 6, 7, 8, 8, 8, 8, 8, 8); break;               \
        case 3: e_ = FE_SHUF(fe_v8l, w_, z_, 5, 6, 7, 8, 8, 8, 8, 8); break;               \
        case 4: e_ = FE_SHUF(fe_v8l, w_, z_, 4, 5, 6, 7, 8, 8, 8, 8); break;               \
        case 5: e_ = FE_SHUF(fe_v8l, w_, z_, 3, 4, 5, 6, 7, 8, 8, 8); break;               \
        case 6: e_ = FE_SHUF(fe_v8l, w_, z_, 2, 3, 4, 5, 6, 7, 8, 8); break;               \
        default: e_ = FE_SHUF(fe_v8l, w_, z_, 1, 2, 3, 4, 5, 6, 7, 8); break;              \
        }                                                                                  \
        e_;                                                                                \
    })
#define FE_L8_END(VAL, m) FE_L8_SHIFT(VAL(FE_L8, C - 8), (m))
#define FE_L8_ADD(P, VAL, o)                                                               \
    do {                                                                                   \
        P##0 += VAL(FE_L8, (o));                                                           \
        P##1 += VAL(FE_L8, (o) + 8);                                                       \
    } while (0)
#define FE_L8_TAIL(P, VAL, o, n)                                                           \
    do {                                                                                   \
        if ((n) < 8) {                                                                     \
            P##0 += FE_L8_END(VAL, (n));                                                   \
        } else {                                                                           \
            P##0 += VAL(FE_L8, (o));                                                       \
            if ((n) > 8)                                                                   \
                P##1 += FE_L8_END(VAL, (n) - 8);                                           \
        }                                                                                  \
    } while (0)
#define FE_L8_FOLD(P, out)                     /* w = 8, 4 as vectors; 2, 1 */             \
    do {                                                                                   \
        const fe_v8d f8_ = P##0 + P##1;                                                    \
        const fe_v4d f_ = (fe_v4d){f8_[0], f8_[1], f8_[2], f8_[3]}                         \
                          + (fe_v4d){f8_[4], f8_[5], f8_[6], f8_[7]};                      \
        (out) = (f_[0] + f_[2]) + (f_[1] + f_[3]);                                         \
    } while (0)
/* d where e != 0, else +0 (vectors: the comparison's all-ones lanes as a mask) */
#define FE_L4_NZ(d, e) ((fe_v4d)((fe_v4l)(d) & ((e) != 0.0)))
#define FE_L8_NZ(d, e) ((fe_v8d)((fe_v8l)(d) & ((e) != 0.0)))
/* a body in either shape (wide is a constant where the terms are inlined) */
#define FE_LANES_PICK(BODY) do { if (wide == 2) { BODY(FE_L8) } else { BODY(FE_L4) } } while (0)
#else
/* the same steps on an array of FE_LANES doubles (other compilers) */
FE_INLINE double FE_T(lanes_fold)(const double *acc)
{
    double l[FE_LANES];
    int j, w;
    for (j = 0; j < FE_LANES; j++)
        l[j] = acc[j];
    for (w = FE_LANES / 2; w >= 1; w /= 2)
        for (j = 0; j < w; j++)
            l[j] = l[j] + l[j + w];
    return l[0];
}
#define FE_LA_START(P) double P[FE_LANES] = {0}
#define FE_LA_TAIL(P, VAL, o, n)                                                           \
    do {                                                                                   \
        const Py_ssize_t n_ = (n);                                                         \
        FE_PRAGMA(omp simd)                                                                \
        for (Py_ssize_t j_ = 0; j_ < n_; j_++)                                             \
            P[j_] += VAL(FE_L1, (o) + j_);                                                 \
    } while (0)
#define FE_LA_ADD(P, VAL, o) FE_LA_TAIL(P, VAL, o, FE_LANES)
#define FE_LA_FOLD(P, out) ((out) = FE_T(lanes_fold)(P))
#define FE_LANES_PICK(BODY) do { (void)wide; BODY(FE_LA) } while (0)
#endif
#define FE_ROWSUM_BODY(L)                                                                  \
    L##_START(a);                                                                          \
    for (c0 = 0; c0 + FE_LANES <= C; c0 += FE_LANES)                                       \
        L##_ADD(a, FE_VAL_ROW, c0);                                                        \
    if (c0 < C)                                                                            \
        L##_TAIL(a, FE_VAL_ROW, c0, C - c0);                                               \
    L##_FOLD(a, s);
/* C > FE_LANES (rowsums' short rows go in lanes) */
#define FE_ROWSUM(NAME, T_)                                                                \
FE_INLINE double NAME(Py_ssize_t C, const T_ *FE_RESTRICT v, const int wide)               \
{                                                                                          \
    Py_ssize_t c0;                                                                         \
    double s;                                                                              \
    FE_LANES_PICK(FE_ROWSUM_BODY);                                                         \
    return s;                                                                              \
}
FE_ROWSUM(FE_T(rowsum), REAL)
FE_ROWSUM(FE_T(rowsum_d), double)
#undef FE_ROWSUM
#undef FE_ROWSUM_BODY

/* softmax_stats' row sums of a row of C > FE_LANES (fe_softmax_impl.h): *se that of e, *sez
 * that of e z, the term e (x - m) in double (x - m in the dtype, +0 where e = 0) made as it
 * is added, in one loop over the row (stored first, a long row's terms were twice its size
 * in doubles, out of the cache); the same bits as rowsum of e and rowsum_d of the terms */
#define FE_L1_DIFF(v, m) ((double)((v)[0] - (m)))
#define FE_L4_DIFF(v, m)                                                                   \
    ((fe_v4d){(double)((v)[0] - (m)), (double)((v)[1] - (m)), (double)((v)[2] - (m)),      \
              (double)((v)[3] - (m))})
#define FE_L8_DIFF(v, m)                                                                   \
    ((fe_v8d){(double)((v)[0] - (m)), (double)((v)[1] - (m)), (double)((v)[2] - (m)),      \
              (double)((v)[3] - (m)), (double)((v)[4] - (m)), (double)((v)[5] - (m)),      \
              (double)((v)[6] - (m)), (double)((v)[7] - (m))})
#define FE_EZ_VAL(L, o) L##_NZ(FE_VAL_ROW(L, o) * L##_DIFF(x + (o), m), FE_VAL_ROW(L, o))
#define FE_ROWSUM_SEZ_BODY(L)                                                              \
    L##_START(a);                                                                          \
    L##_START(d);                                                                          \
    for (c0 = 0; c0 + FE_LANES <= C; c0 += FE_LANES) {                                     \
        L##_ADD(a, FE_VAL_ROW, c0);                                                        \
        L##_ADD(d, FE_EZ_VAL, c0);                                                         \
    }                                                                                      \
    if (c0 < C) {                                                                          \
        L##_TAIL(a, FE_VAL_ROW, c0, C - c0);                                               \
        L##_TAIL(d, FE_EZ_VAL, c0, C - c0);                                                \
    }                                                                                      \
    L##_FOLD(a, *se);                                                                      \
    L##_FOLD(d, *sez);
/* (v: the row's e, as rowsum's values) */
FE_INLINE void FE_T(rowsum_sez)(Py_ssize_t C, const REAL *FE_RESTRICT v,
                                const REAL *FE_RESTRICT x, const REAL m, double *se,
                                double *sez, const int wide)
{
    Py_ssize_t c0;
    FE_LANES_PICK(FE_ROWSUM_SEZ_BODY);
}
#undef FE_ROWSUM_SEZ_BODY
#undef FE_EZ_VAL
#undef FE_L1_DIFF
#undef FE_L4_DIFF
#undef FE_L8_DIFF

#define FE_VAL_EA(L, o) L##_LOAD(ea + (o))
#define FE_VAL_EB(L, o) L##_LOAD(eb + (o))
#define FE_ROWSUM_KL_STEP(L, c0)                                                           \
    do {                                                                                   \
        L##_ADD(a, FE_VAL_EA, c0);                                                         \
        L##_ADD(b, FE_VAL_EB, c0);                                                         \
        L##_ADD(d, FE_KL_VAL, c0);                                                         \
    } while (0)
/* the FE_LANES values at p fetched (one or two cache lines) */
#define FE_PREFETCH_LANES(p)                                                               \
    do {                                                                                   \
        FE_PREFETCH(p);                                                                    \
        if (sizeof(REAL) * FE_LANES > 64)                                                  \
            FE_PREFETCH((p) + FE_LANES / 2);                                               \
    } while (0)
#define FE_ROWSUM_KL_BODY(L)                                                               \
    L##_START(a);                                                                          \
    L##_START(b);                                                                          \
    L##_START(d);                                                                          \
    if (pf) {                                                                              \
        for (c0 = 0; c0 + FE_LANES <= C; c0 += FE_LANES) {                                 \
            FE_PREFETCH_LANES(pf + c0);                                                    \
            FE_ROWSUM_KL_STEP(L, c0);                                                      \
        }                                                                                  \
    } else {                                                                               \
        for (c0 = 0; c0 + FE_LANES <= C; c0 += FE_LANES)                                   \
            FE_ROWSUM_KL_STEP(L, c0);                                                      \
    }                                                                                      \
    if (c0 < C) {                                                                          \
        L##_TAIL(a, FE_VAL_EA, c0, C - c0);                                                \
        L##_TAIL(b, FE_VAL_EB, c0, C - c0);                                                \
        L##_TAIL(d, FE_KL_VAL, c0, C - c0);                                                \
    }                                                                                      \
    L##_FOLD(a, *sa);                                                                      \
    L##_FOLD(b, *sb);                                                                      \
    L##_FOLD(d, *k);
/* The row sums of KL from logits, one row of C > FE_LANES: *sa, *sb those of ea and eb,
 * *k that of the terms e ((t - x) + dm) made as they are added (stored and summed
 * after, they took two more conversions of e and two stores and loads a vector: the
 * terms were a third of the exps' pass); the same bits as rowsum of each.  pf (or NULL):
 * C values fetched as the sums go, FE_LANES a step (a long row's successor, for the
 * next block: fe_divlogits_impl.h) */
FE_INLINE void FE_T(rowsum_kl)(Py_ssize_t C, const REAL *FE_RESTRICT ea,
                               const REAL *FE_RESTRICT eb, const REAL *FE_RESTRICT t,
                               const REAL *FE_RESTRICT x, double dm, const int masked,
                               double *sa, double *sb, double *k, const REAL *pf,
                               const int wide)
{
    Py_ssize_t c0;
    FE_LANES_PICK(FE_ROWSUM_KL_BODY);
}
#undef FE_ROWSUM_KL_BODY
#undef FE_ROWSUM_KL_STEP
#undef FE_PREFETCH_LANES
#undef FE_VAL_EA
#undef FE_VAL_EB
#undef FE_LANES_PICK
#undef FE_L4_START
#undef FE_L4_LOAD
#undef FE_L4_SHIFT
#undef FE_L4_END
#undef FE_L4_ADD
#undef FE_L4_TAIL
#undef FE_L4_FOLD
#undef FE_L4_NZ
#undef FE_L8_START
#undef FE_L8_LOAD
#undef FE_L8_SHIFT
#undef FE_L8_END
#undef FE_L8_ADD
#undef FE_L8_TAIL
#undef FE_L8_FOLD
#undef FE_L8_NZ
#undef FE_LA_START
#undef FE_LA_ADD
#undef FE_LA_TAIL
#undef FE_LA_FOLD
#undef FE_VAL_ROW

/* ---- rows in lanes (short rows, C <= FE_LANES) ------------------------------------------ *
 * The loops of a block of R short rows put one row in each vector lane: value c of every row
 * at once (v[r*C + c], strided), per-row results unit-stride over r.  lanes_tree is rowsum's
 * order for such rows: lane j of row r (l[j*R + r]) holds 0 + v_j + v_{j+16} + ... (added in
 * the order of c), and lanes j and j + w are added in lanes_fold's tree; a lane past the row
 * holds +0 there, and adding +0 to a lane (never -0: 0 + v is not) changes no bit, so those
 * additions are skipped.  out[r] = the sum of row r, the bits of rowsum.                                                        */
FE_INLINE void FE_T(lanes_tree)(Py_ssize_t R, Py_ssize_t C, double *FE_RESTRICT l,
                                double *FE_RESTRICT out)
{
    Py_ssize_t w, j, r, live = C < FE_LANES ? C : FE_LANES;
    /* 8 or 16 live lanes (every lane of a level): the whole tree in one loop over the rows,
     * the same additions in the same order (lanes_fold's, FE_LANES_FOLD's), no level
     * written back */
#define FE_L(j) l[(j) * R + r]
#define FE_TREE8(a0, a1, a2, a3, a4, a5, a6, a7)                                          \
    (((a0) + (a4)) + ((a2) + (a6))) + (((a1) + (a5)) + ((a3) + (a7)))
    if (live == 8) {
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++)
            out[r] = FE_TREE8(FE_L(0), FE_L(1), FE_L(2), FE_L(3), FE_L(4), FE_L(5), FE_L(6),
                              FE_L(7));
        return;
    }
    if (live == 16) {
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++)
            out[r] = FE_TREE8(FE_L(0) + FE_L(8), FE_L(1) + FE_L(9), FE_L(2) + FE_L(10),
                              FE_L(3) + FE_L(11), FE_L(4) + FE_L(12), FE_L(5) + FE_L(13),
                              FE_L(6) + FE_L(14), FE_L(7) + FE_L(15));
        return;
    }
#undef FE_TREE8
#undef FE_L
    for (w = FE_LANES / 2; w >= 2; w /= 2) {
        for (j = 0; j < w && j + w < live; j++) {
            double *FE_RESTRICT a = l + j * R;
            const double *FE_RESTRICT b = l + (j + w) * R;
            FE_PRAGMA(omp simd)
            for (r = 0; r < R; r++) a[r] = a[r] + b[r];
        }
        live = live < w ? live : w;
    }
    if (live >= 2) {                                   /* the last level (w = 1) to out */
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++) out[r] = l[r] + l[R + r];
    } else {
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++) out[r] = l[r];
    }
}

/* The fixed-order sums of R rows of C values (R*C, contiguous): out[r] = rowsum(row r).
 * Short rows (C <= FE_LANES) are summed across rows, FE_SHORT_CHUNK rows at a time: lane j
 * of every row in one vector (the values transposed, 0 + v as rowsum's accumulators start),
 * then lanes_tree, each level one vector loop over the rows.  The same bits as rowsum, row
 * by row, without per-row scalar work. */
#define FE_SHORT_CHUNK 256
#define FE_ROWSUMS(NAME, ONE_ROW, T)                                                       \
FE_INLINE void NAME(Py_ssize_t R, Py_ssize_t C, const T *FE_RESTRICT v,                    \
                    double *FE_RESTRICT out, const int wide)                               \
{                                                                                          \
    Py_ssize_t r0, r, j, n;                                                                \
    if (C > FE_LANES) {                                                                    \
        for (r = 0; r < R; r++)                                                            \
            out[r] = ONE_ROW(C, v + r * C, wide);                                          \
        return;                                                                            \
    }                                                                                      \
    if (C == 2) {          /* lanes_tree's one level, the pair together (N11) */      \
        FE_PRAGMA(omp simd)                                                                \
        for (r = 0; r < R; r++)                                                            \
            out[r] = (0.0 + (double)v[2 * r]) + (0.0 + (double)v[2 * r + 1]);              \
        return;                                                                            \
    }                                                                                      \
    double lane[FE_LANES * FE_SHORT_CHUNK];                                                \
    for (r0 = 0; r0 < R; r0 += FE_SHORT_CHUNK) {                                           \
        n = R - r0 < FE_SHORT_CHUNK ? R - r0 : FE_SHORT_CHUNK;                             \
        const T *vr = v + r0 * C;                                                          \
        for (j = 0; j < C; j++) {                                                          \
            double *l = lane + j * n;                                                      \
            FE_PRAGMA(omp simd)                                                            \
            for (r = 0; r < n; r++) l[r] = 0.0 + (double)vr[r * C + j];                   \
        }                                                                                  \
        FE_T(lanes_tree)(n, C, lane, out + r0);                                            \
    }                                                                                      \
}
FE_ROWSUMS(FE_T(rowsums), FE_T(rowsum), REAL)
FE_ROWSUMS(FE_T(rowsums_d), FE_T(rowsum_d), double)
#undef FE_ROWSUMS

/* rowsum_kl of the R rows of a block (R*C, contiguous; normal[r]: row r has no e = 0,
 * fe_divlogits_impl.h): sa, sb, k; pf (or NULL): R*C values fetched as the rows are summed.
 * Short rows (C <= FE_LANES) have their terms written to d (R*C doubles) and summed in
 * lanes as rowsums does; the same bits. */
FE_INLINE void FE_T(rowsums_kl)(Py_ssize_t R, Py_ssize_t C, const REAL *FE_RESTRICT ea0,
                                const REAL *FE_RESTRICT eb, const REAL *FE_RESTRICT t0,
                                const REAL *FE_RESTRICT x0, const double *FE_RESTRICT dms,
                                const char *FE_RESTRICT normal, double *FE_RESTRICT d,
                                double *FE_RESTRICT sa, double *FE_RESTRICT sb,
                                double *FE_RESTRICT k, const REAL *pf, const int wide)
{
    Py_ssize_t r, c;
    if (C > FE_LANES) {
        for (r = 0; r < R; r++) {
            const Py_ssize_t o = r * C;
            const REAL *pfr = pf ? pf + o : NULL;
            if (normal[r])
                FE_T(rowsum_kl)(C, ea0 + o, eb + o, t0 + o, x0 + o, dms[r], 0, sa + r, sb + r,
                                k + r, pfr, wide);
            else
                FE_T(rowsum_kl)(C, ea0 + o, eb + o, t0 + o, x0 + o, dms[r], 1, sa + r, sb + r,
                                k + r, pfr, wide);
        }
        return;
    }
    for (r = 0; r < R; r++) {
        const REAL *FE_RESTRICT ea = ea0 + r * C, *FE_RESTRICT t = t0 + r * C;
        const REAL *FE_RESTRICT x = x0 + r * C;
        const double dm = dms[r];
        const int masked = !normal[r];
        double *FE_RESTRICT dr = d + r * C;
        FE_PRAGMA(omp simd)
        for (c = 0; c < C; c++)
            dr[c] = FE_KL_VAL(FE_L1, c);
    }
    FE_T(rowsums)(R, C, ea0, sa, wide);
    FE_T(rowsums)(R, C, eb, sb, wide);
    FE_T(rowsums_d)(R, C, d, k, wide);
}

/* ---- rows in lanes (short rows, C <= FE_LANES): see lanes_tree ---------------------- */
/* rowmax of every row of a block, rows in lanes (keys as rowmax compares them); the values
 * are also copied to xt transposed (value c of row r at xt[c*R + r]), so that the passes
 * after it read them unit-stride.  Returns whether every row is normal in rowmax's sense
 * (kbuf, kmin: R keys of scratch each).  With labels (lab not NULL: -1 or a class, so
 * < 32 here), xl[r] = row r's logit at lab[r] (0 for a label < 0).
 * wide (FE_WIDE: AVX2 and up; GCC, clang): a vector of rows at a time (FE_RVEC), its keys,
 * maximum, minimum and label's logit in registers while c runs along the rows (the loop
 * over r below loads and stores them for every element); the same comparisons of the same
 * keys, so the same bits.  Without AVX2 the compilers lower these vectors through the
 * stack, so the loop over r stays there.  As it goes, the wide loop fetches
 * the same rows of the next block (the driver's blocks are back to back in the common,
 * contiguous case; elsewhere a hint that costs little), x's and, tn not NULL, those of
 * the target that starts there: the strided loads wait on the cache, not on the memory's
 * bandwidth (docs/design-notes.md, N12). */
FE_INLINE int FE_T(lanes_max)(Py_ssize_t R, Py_ssize_t C, const REAL *FE_RESTRICT x,
                              void *kbuf, void *kmin, REAL lowest, REAL *FE_RESTRICT m,
                              REAL *FE_RESTRICT xt, const Py_ssize_t *FE_RESTRICT lab,
                              REAL *FE_RESTRICT xl, const REAL *tn, const int wide)
{
    FE_KEY *FE_RESTRICT k = (FE_KEY *)kbuf, *FE_RESTRICT kl = (FE_KEY *)kmin;
    Py_ssize_t r, c, r0 = 0;
    int normal = 1;
#if FE_VECTOR_EXT
    if (wide) {
        enum { W = sizeof(FE_RVEC) / sizeof(REAL) };
        const FE_KVEC none = {0};
        const FE_KVEC kneg = none + FE_KEY_OF(-(REAL)INFINITY);   /* the starting keys */
        const FE_KVEC kpos = none + FE_KEY_OF((REAL)INFINITY);
        FE_KVEC ok = none - 1;
        for (; r0 + W <= R; r0 += W) {
            const REAL *FE_RESTRICT xr = x + r0 * C;
            FE_KVEC hi = kneg, lo = kpos, pick = none;
            for (c = 0; c < W * C; c += 64 / (Py_ssize_t)sizeof(REAL)) {
                FE_PREFETCH(xr + R * C + c);
                if (tn)
                    FE_PREFETCH(tn + r0 * C + c);
            }
#define FE_VLANES_MAX(PICK)                                                                \
            for (c = 0; c < C; c++) {                                                      \
                const FE_RVEC xc = FE_ROWS_OF(xr + c, C);                                  \
                const FE_KVEC b = (FE_KVEC)xc, kc = FE_VKEY(b);                            \
                hi = FE_VMAX(kc, hi);                                                      \
                lo = FE_VMIN(kc, lo);                                                      \
                memcpy(xt + c * R + r0, &xc, sizeof xc);                                   \
                PICK;                                                                      \
            }
            if (lab) {
                const FE_KVEC lv = FE_ROWS_OF(lab + r0, 1);
                FE_VLANES_MAX(const FE_KVEC eq = lv == (FE_KEY)c;
                              pick = fe_vsel(eq, b, pick))
                memcpy(xl + r0, &pick, sizeof pick);
            } else {
                FE_VLANES_MAX((void)0)
            }
#undef FE_VLANES_MAX
            const FE_RVEC mv = (FE_RVEC)FE_VKEY(hi), low = (FE_RVEC)FE_VKEY(lo);
            memcpy(m + r0, &mv, sizeof mv);
            ok &= low - mv >= lowest;
        }
        for (r = 0; r < W; r++)
            normal &= ok[r] != 0;
    }
#endif
    FE_PRAGMA(omp simd)
    for (r = r0; r < R; r++) {
        k[r] = FE_KEY_OF(-(REAL)INFINITY);
        kl[r] = FE_KEY_OF((REAL)INFINITY);
    }
#define FE_LANES_MAX(PICK)                                                                 \
    for (c = 0; c < C; c++) {                                                              \
        FE_PRAGMA(omp simd)                                                                \
        for (r = r0; r < R; r++) {                                                         \
            const REAL xc = x[r * C + c];                                                  \
            const FE_KEY kc = FE_KEY_OF(xc);                                               \
            k[r] = kc > k[r] ? kc : k[r];                                                  \
            kl[r] = kc < kl[r] ? kc : kl[r];                                               \
            xt[c * R + r] = xc;                                                            \
            PICK;                                                                          \
        }                                                                                  \
    }
    if (lab) {
        FE_PRAGMA(omp simd)
        for (r = r0; r < R; r++) xl[r] = 0;
        FE_LANES_MAX(xl[r] = c == lab[r] ? xc : xl[r])
    } else {
        FE_LANES_MAX((void)0)
    }
#undef FE_LANES_MAX
    FE_PRAGMA(omp simd reduction(&:normal))
    for (r = r0; r < R; r++) {
        m[r] = FE_VAL_OF(k[r]);
        normal &= FE_VAL_OF(kl[r]) - m[r] >= lowest;
    }
    return normal;
}

