/*
 * fe_softmax_impl.h -- softmax cross-entropy of a block of R rows of C logits (contiguous,
 * R*C), for one (dtype, instruction set); see fe_template.h.  No include guard on purpose.
 * The maths is in fe_terms_impl.h (softmax_loss, softmax_grad, softmax_coef, softmax_bterm,
 * rowmax, rowsums); this file only orders the passes, each a vector loop:
 *   1. per row: m = max x, z = x - m
 *   2. e = exp(z): with z for long float rows; otherwise over the whole block (short rows
 *      then vectorise like long ones)
 *   3. probability targets: the terms a_c and a_c (m - x_c) of every element
 *   4. row sums S = sum e, A = sum a, B = sum a (m - x) in the fixed order (rowsums: across
 *      rows for short rows); loss = A log S + B, all rows at once
 *   5. the gradient (e A/S - a) * scale
 * A row's bits are the same in any block, at any position, for any R.  Short rows
 * (FE_IN_LANES) run the same steps with one row per vector lane (lanes_max, lanes_tree:
 * value c of every row at once, strided), the same terms in the same order; their step 3
 * comes before step 2, while z still holds the logits (transposed by lanes_max).
 *   index target:  lab[r] is the label, < 0 for a row that counts nowhere (ignore_index:
 *                  loss 0, gradient 0); a_c = (1 - s) w_t [c = t] + (s / C) w_c
 *   probabilities: t (R*C); a_c = w_c ((1 - s) t_c + s / C)
 * (w: class weights, 1 when not given; s: label smoothing).  loss[r] gets the row loss,
 * grad (R*C, may be NULL) the gradient times gsc[r]; z is R*C scratch, work 5R + 3RC
 * doubles.  *bad gets bit 1 for a probability target outside [0, 1], bit 4 for a label
 * that is neither -1 nor a class (the driver's label pass never gives one; the two-class
 * loop checks, and softmax_pairs_raw, on the caller's labels, refuses -1 too).
 * stats (5R doubles, may be NULL: softmax_stats; index targets only) gets per row, from the
 * same m, e and S:  logsumexp m + log S;  entropy of softmax(x)  log S - (sum e z) / S
 * (z = x - m, e z = 0 where e = 0: both terms >= 0, no cancellation);  the largest
 * probability 1 / S (the maximum's e is exactly 1);  argmax (the first NaN, else the first
 * maximum, as numpy.argmax);  and the number of classes whose logit is above the label's
 * (C for a row without a label or with a NaN: never among the top k).
 */
/* a lane l of a row sum takes value v: the first one starts it at +0 (rowsum's
 * accumulators), the next ones add to it; FE_START_E: a first value that is never -0
 * (an exp), for which 0 + v is v */
#define FE_START(l, v) (0.0 + (v))
#define FE_START_E(l, v) (v)
#define FE_ADD(l, v) ((l) + (v))
/* Class weights: a loop over the classes takes w_c as its argument WC, cw[c] or 1, in two
 * copies of the loop (if (cw) ... else ...), never `cw ? cw[c] : 1` inside it: clang then
 * vectorises the NULL case with a masked load from address 0 + 4c (mask all off), which
 * AMD's Zen cores run as a fault assist, ~100 cycles a vector (docs/design-notes.md, N4). */
/* rows in lanes: up to 32 float or 16 double classes, except multiples of an AVX2 vector
 * (8 floats, 4 doubles), whose row loops are whole vectors (docs/design-notes.md, N5) */
#define FE_IN_LANES(C) ((C) <= 128 / (Py_ssize_t)sizeof(REAL) \
                        && (C) % (32 / (Py_ssize_t)sizeof(REAL)) != 0)
#ifndef FE_SHORT_ROW
#define FE_SHORT_ROW 32     /* rows shorter than this: exp over the whole block */
#endif
/* exp in the row loop for float rows of FE_SHORT_ROW classes or more; double keeps the
 * separate pass, whose 11 coefficients stay in registers (clang reloads them every
 * iteration of the fused loop): docs/design-notes.md, N6 */
#define FE_EXP_IN_ROW (sizeof(REAL) == 4 && C >= FE_SHORT_ROW)
/* Long rows (fe_simd.h: FE_SPREAD): the next row (the next block's, back to back in the
 * common, contiguous case) is fetched segment by segment, FE_SEG values before each segment
 * of this row's exps (float) and of its gradient */
#define FE_SOFTMAX_SPREAD (C * (Py_ssize_t)sizeof(REAL) > FE_SPREAD)
/* Two classes, no class weights, no smoothing (the common binary case), labels or
 * probabilities: every step of a row in one vector loop over the rows, the pair of logits
 * read together.  The same terms in the same order as the rows in lanes: lanes_max's key
 * maximum; e = exp(x - max) by the general form (whose bits are the normal range's too);
 * lanes_tree's one level, S = e0 + e1 (and A, B the same way from their lanes, each started
 * as 0 + term); labels: A = 1, B = 1 (max - x_label) + 0 (the label terms with w = 1, s = 0);
 * softmax_loss; softmax_grad, a = the label's indicator or the coefficient of t.  So the same
 * bits, with the data in registers instead of the lanes' scratch. */
#define FE_PAIR_FLAG_f32 short       /* the two-class loop's flags: see there */
#define FE_PAIR_FLAG_f64 int
#define FE_PAIR_FLAG__(dt) FE_PAIR_FLAG_##dt
#define FE_PAIR_FLAG_(dt) FE_PAIR_FLAG__(dt)
#define FE_PAIR_FLAG FE_PAIR_FLAG_(FE_DT)
#define FE_PAIR_SIMDLEN (FE_VBYTES == 64 && sizeof(REAL) == 4 ? 32 : 16)  /* see the flags */
FE_INLINE void FE_FN(softmax_pairs)(Py_ssize_t R, const REAL *FE_RESTRICT x,
                                    const Py_ssize_t *FE_RESTRICT lab,
                                    const REAL *FE_RESTRICT t, REAL *FE_RESTRICT grad,
                                    const double *FE_RESTRICT gsc, double *FE_RESTRICT loss,
                                    int *bad, const int raw)
{
    const REAL zero = 0, one = 1;
    Py_ssize_t r;
    /* badl: a label other than -1 (the driver's "counts nowhere") or a class, which the
     * driver's label pass never gives; with raw labels (the caller's own, read here while
     * the exp runs, not in a pass of their own), one that is not a class; reported as the
     * driver's bit 4 (a label outside [0, C)).  badt:
     * a probability outside [0, 1].  Both flags are half as wide as a row's pair of values
     * (16 bits for float rows, 32 for double): that makes GCC vectorise two vectors of rows
     * at once, two chains interleaved, which hides the latency of the exp -> sum -> log
     * chain (GCC).  clang takes its width from simdlen(16) instead (sixteen rows, the same
     * bits); GCC's object code is the same with it and without.  Float rows with AVX-512:
     * simdlen(32) (FE_PAIR_SIMDLEN), which GCC runs in 512-bit vectors (with 16 it kept
     * 256-bit ones); double rows keep 16.  Measurements: docs/design-notes.md, N7. */
    FE_PAIR_FLAG badt = 0, badl = 0;
#define FE_PAIR_HEAD                                                                       \
        const REAL x0 = x[2 * r], x1 = x[2 * r + 1];                                       \
        const REAL m = FE_T(max2)(x0, x1);                                                 \
        const REAL d0 = x0 - m, d1 = x1 - m;                                               \
        const REAL eo = EXP_NONPOS(d0 < zero ? d0 : d1);                                   \
        const REAL e0 = FE_T(pair_exp)(d0, eo), e1 = FE_T(pair_exp)(d1, eo);               \
        const double S = (double)e0 + (double)e1;
#define FE_PAIR_LABELS(...)                                                                \
    FE_PRAGMA(omp simd simdlen(FE_PAIR_SIMDLEN) reduction(|:badl))                         \
    for (r = 0; r < R; r++) {                                                              \
        FE_PAIR_HEAD                                                                       \
        const Py_ssize_t l = lab[r];                                                       \
        badl |= (size_t)(l + 1 - raw) > (size_t)(2 - raw);                                 \
        const int ign = l < 0;                                                             \
        const REAL xl = l == 0 ? x0 : (l == 1 ? x1 : zero);                                \
        double A, B;                                                                       \
        FE_T(softmax_label_ab)(ign, 1.0, 0.0, 0.0, 2.0, 0.0, m, xl, &A, &B);               \
        const double v = FE_T(softmax_loss)(A, S, B);                                      \
        loss[r] = ign ? 0.0 : v;                                                           \
        __VA_ARGS__                                                                        \
    }
#define FE_PAIR_PROBS(...)                                                                 \
    FE_PRAGMA(omp simd simdlen(FE_PAIR_SIMDLEN) reduction(|:badt))                         \
    for (r = 0; r < R; r++) {                                                              \
        FE_PAIR_HEAD                                                                       \
        const REAL t0 = t[2 * r], t1 = t[2 * r + 1];                                       \
        const REAL a0 = FE_T(softmax_coef)(t0, one, zero, one);                            \
        const REAL a1 = FE_T(softmax_coef)(t1, one, zero, one);                            \
        badt |= FE_T(outside_unit)(t0) | FE_T(outside_unit)(t1);                          \
        const double A = (0.0 + (double)a0) + (0.0 + (double)a1);                          \
        const double B = (0.0 + FE_T(softmax_bterm)(a0, x0, m))                            \
                         + (0.0 + FE_T(softmax_bterm)(a1, x1, m));                         \
        loss[r] = FE_T(softmax_loss)(A, S, B);                                             \
        __VA_ARGS__                                                                        \
    }
#define FE_PAIR_GRAD(A0, A1, IGN)                                                          \
        const REAL f = (REAL)(A / S), gs = (REAL)gsc[r];                                   \
        const REAL g0 = FE_T(softmax_grad)(e0, f, A0, gs);                                 \
        const REAL g1 = FE_T(softmax_grad)(e1, f, A1, gs);                                 \
        grad[2 * r] = IGN ? zero : g0;                                                     \
        grad[2 * r + 1] = IGN ? zero : g1;
    if (lab && grad) {
        FE_PAIR_LABELS(FE_PAIR_GRAD(FE_T(softmax_label_coef)(l == 0, one, zero, one),
                                    FE_T(softmax_label_coef)(l == 1, one, zero, one), ign))
    } else if (lab) {
        FE_PAIR_LABELS()
    } else if (grad) {
        FE_PAIR_PROBS(FE_PAIR_GRAD(a0, a1, 0))
    } else {
        FE_PAIR_PROBS()
    }
    *bad |= badt | (badl ? 4 : 0);
#undef FE_PAIR_GRAD
#undef FE_PAIR_PROBS
#undef FE_PAIR_LABELS
#undef FE_PAIR_HEAD
}

/* softmax_block for a block that fe_softmax_in_pairs takes to the two-class loop, with the
 * caller's own labels (contiguous, no ignore_index, no row weights): the label pass is not
 * needed, and its reads of the labels overlap the loop's arithmetic.  A label that is not a
 * class sets bad bit 4. */
FE_KERNEL void FE_FN(softmax_pairs_raw)(Py_ssize_t R, const REAL *FE_RESTRICT x,
                                     const Py_ssize_t *FE_RESTRICT labels,
                                     REAL *FE_RESTRICT grad, const double *FE_RESTRICT gsc,
                                     double *FE_RESTRICT loss, int *bad)
{
    FE_FN(softmax_pairs)(R, x, labels, NULL, grad, gsc, loss, bad, 1);
}

FE_KERNEL void FE_FN(softmax_block)(Py_ssize_t R, Py_ssize_t C, const REAL *FE_RESTRICT x,
                                 const Py_ssize_t *FE_RESTRICT lab, const REAL *FE_RESTRICT t,
                                 const REAL *FE_RESTRICT cw, double cw_sum, double smooth,
                                 REAL *FE_RESTRICT grad, const double *FE_RESTRICT gsc,
                                 double *FE_RESTRICT loss, REAL *FE_RESTRICT z,
                                 double *FE_RESTRICT work, double *FE_RESTRICT stats, int *bad,
                                 const char *next, Py_ssize_t next_size)
{
    const Py_ssize_t n = R * C;
    double *FE_RESTRICT S = work, *FE_RESTRICT A = work + R, *FE_RESTRICT B = work + 2 * R;
    REAL *FE_RESTRICT M = (REAL *)(work + 3 * R);
    double *FE_RESTRICT ta = work + 5 * R, *FE_RESTRICT tb = ta + n;   /* element terms */
    const REAL keep = (REAL)(1.0 - smooth), share = (REAL)(smooth / (double)C);
    const double dshare = smooth / (double)C;
    const REAL zero = 0, one = 1;
    /* rows in lanes: short rows, value c of every row of the block at once (z, ta and tb
     * then hold value c of row r at [c*R + r]); the same terms in the same order */
    const int lanes = FE_IN_LANES(C);
    /* the lanes lanes_tree starts from: up to FE_LANES classes the loops that fill them take
     * its first level (FE_LANES / 2 lanes left); C otherwise (lanes_tree takes the rest) */
    const Py_ssize_t tree_lanes = C <= FE_LANES && C > FE_LANES / 2 ? FE_LANES / 2 : C;
    /* softmax_stats on rows out of lanes: sum e z is made with S (EZ: the terms' place) */
    const int stats_rows = stats && lab && C > FE_LANES && !lanes;
    double *FE_RESTRICT EZ = work + 5 * R + 2 * n;
    Py_ssize_t r, c, i;
    int badt = 0;

    if (fe_softmax_in_pairs(C, cw, smooth, stats)) {
        FE_FN(softmax_pairs)(R, x, lab, t, grad, gsc, loss, bad, 0);
        return;
    }

    /* 2. a row (in lanes: a block) whose x - max all lie in exp's normal range takes the
     * exp of that range: the same bits, less work (fe_math.h) */
    int normal = 1;
    REAL *FE_RESTRICT XL = (REAL *)(work + 4 * R);     /* labels: the label's logit */
    if (lanes) {                                       /* 1.-2. max, e = exp(x - max) */
        /* (B's place and tb: the keys' scratch, free until steps 3-4; with labels, each
         * row's logit at its label to XL, picked up on the way instead of gathered) */
        normal = FE_T(lanes_max)(R, C, x, B, tb, (REAL)EXP_NORMAL_MIN, M, z, lab, XL,
                                   lab ? NULL : t + n, FE_WIDE);
        /* 3. the target's terms (before the exp overwrites z: the logits read from there,
         * unit-stride), value c to lane c % FE_LANES, the first FE_LANES start their lane */
        if (!lab) {
#define FE_PROB_LANES(C0, C1, ACC)                                                         \
            for (c = (C0); c < (C1); c++) {                                                \
                const REAL *xc = z + c * R;                                                \
                double *ac = ta + c % FE_LANES * R, *bc = tb + c % FE_LANES * R;           \
                const REAL wc = cw ? cw[c] : one;                                          \
                FE_PRAGMA(omp simd reduction(|:badt))                                      \
                for (r = 0; r < R; r++) {                                                  \
                    const REAL tc = t[r * C + c];                                          \
                    const REAL a = FE_T(softmax_coef)(tc, keep, share, wc);                \
                    badt |= FE_T(outside_unit)(tc);                                        \
                    ac[r] = ACC(ac[r], (double)a);                                         \
                    bc[r] = ACC(bc[r], FE_T(softmax_bterm)(a, xc[r], M[r]));               \
                }                                                                          \
            }
            if (C <= FE_LANES) {
                /* one value a lane: lanes_tree's first level taken here, as the exp loop
                 * below does (lane c + FE_LANES / 2 added to lane c, the same additions) */
                for (c = 0; c < FE_LANES / 2 && c + FE_LANES / 2 < C; c++) {
                    const Py_ssize_t c2 = c + FE_LANES / 2;
                    const REAL *x1 = z + c * R, *x2 = z + c2 * R;
                    double *ac = ta + c * R, *bc = tb + c * R;
                    const REAL w1 = cw ? cw[c] : one, w2 = cw ? cw[c2] : one;
                    FE_PRAGMA(omp simd reduction(|:badt))
                    for (r = 0; r < R; r++) {
                        const REAL t1 = t[r * C + c], t2 = t[r * C + c2];
                        const REAL a1 = FE_T(softmax_coef)(t1, keep, share, w1);
                        const REAL a2 = FE_T(softmax_coef)(t2, keep, share, w2);
                        badt |= FE_T(outside_unit)(t1) | FE_T(outside_unit)(t2);
                        ac[r] = (0.0 + (double)a1) + (0.0 + (double)a2);
                        bc[r] = (0.0 + FE_T(softmax_bterm)(a1, x1[r], M[r])) +
                                (0.0 + FE_T(softmax_bterm)(a2, x2[r], M[r]));
                    }
                }                              /* then the lanes without a partner, alone */
                FE_PROB_LANES(c, C < FE_LANES / 2 ? C : FE_LANES / 2, FE_START)
            } else {
                FE_PROB_LANES(0, FE_LANES, FE_START)
                FE_PROB_LANES(FE_LANES, C, FE_ADD)
            }
#undef FE_PROB_LANES
            FE_T(lanes_tree)(R, tree_lanes, ta, A);
            FE_T(lanes_tree)(R, tree_lanes, tb, B);
        } else if (smooth != 0.0) {                    /* sum_c w_c (m - x_c) */
#define FE_SMOOTH_LANES(C0, C1, ACC)                                                       \
            for (c = (C0); c < (C1); c++) {                                                \
                const REAL *xc = z + c * R;                                                \
                double *bc = tb + c % FE_LANES * R;                                        \
                const REAL wc = cw ? cw[c] : one;                                          \
                FE_PRAGMA(omp simd)                                                        \
                for (r = 0; r < R; r++)                                                    \
                    bc[r] = ACC(bc[r], FE_T(softmax_bterm)(wc, xc[r], M[r]));              \
            }
            FE_SMOOTH_LANES(0, C < FE_LANES ? C : FE_LANES, FE_START)
            FE_SMOOTH_LANES(FE_LANES, C, FE_ADD)
#undef FE_SMOOTH_LANES
            FE_T(lanes_tree)(R, C, tb, B);
        }
        /* value c to lane c % FE_LANES; the first FE_LANES start theirs with e itself (as
         * 0 + e: e is never -0).  Up to FE_LANES classes (one value a lane), lanes_tree's
         * first level is taken in the same loop: lane j + FE_LANES / 2 added to lane j as
         * the two exps are made (the same additions, half the lanes written) */
#define FE_LANES_EXP(C0, C1, ACC, EXPF, KEEP)                                              \
        for (c = (C0); c < (C1); c++) {                                                    \
            REAL *zc = z + c * R;                                                          \
            double *lc = ta + c % FE_LANES * R;                                            \
            FE_PRAGMA(omp simd)                                                            \
            for (r = 0; r < R; r++) {                                                      \
                const REAL e = EXPF(zc[r] - M[r]);                                         \
                KEEP(zc[r] = e);                                                           \
                lc[r] = ACC(lc[r], (double)e);                                             \
            }                                                                              \
        }
#define FE_LANES_EXP2(EXPF, KEEP)                                                          \
        for (c = 0; c < FE_LANES / 2 && c + FE_LANES / 2 < C; c++) {                       \
            REAL *za = z + c * R, *zb = z + (c + FE_LANES / 2) * R;                        \
            double *lc = ta + c * R;                                                       \
            FE_PRAGMA(omp simd)                                                            \
            for (r = 0; r < R; r++) {                                                      \
                const REAL ea = EXPF(za[r] - M[r]), eb = EXPF(zb[r] - M[r]);               \
                KEEP(za[r] = ea);                                                          \
                KEEP(zb[r] = eb);                                                          \
                lc[r] = (double)ea + (double)eb;                                           \
            }                                                                              \
        }                                  /* then the lanes without a partner, alone */  \
        FE_LANES_EXP(c, C < FE_LANES / 2 ? C : FE_LANES / 2, FE_START_E, EXPF, KEEP)
        /* the exps themselves are kept (in z) for the gradient and the statistics only */
#define FE_KEEP_E(store) store;
#define FE_DROP_E(store)
#define FE_LANES_EXPS(KEEP)                                                                \
        if (C <= FE_LANES && normal) {                                                     \
            FE_LANES_EXP2(EXP_NORMAL, KEEP)                                                \
        } else if (C <= FE_LANES) {                                                        \
            FE_LANES_EXP2(EXP_NONPOS, KEEP)                                                \
        } else if (normal) {                                                               \
            FE_LANES_EXP(0, FE_LANES, FE_START_E, EXP_NORMAL, KEEP)                        \
            FE_LANES_EXP(FE_LANES, C, FE_ADD, EXP_NORMAL, KEEP)                            \
        } else {                                                                           \
            FE_LANES_EXP(0, FE_LANES, FE_START_E, EXP_NONPOS, KEEP)                        \
            FE_LANES_EXP(FE_LANES, C, FE_ADD, EXP_NONPOS, KEEP)                            \
        }
        if (grad || stats) {
            FE_LANES_EXPS(FE_KEEP_E)
        } else {
            FE_LANES_EXPS(FE_DROP_E)
        }
#undef FE_LANES_EXPS
#undef FE_KEEP_E
#undef FE_DROP_E
#undef FE_LANES_EXP
#undef FE_LANES_EXP2
        FE_T(lanes_tree)(R, tree_lanes, ta, S);
    } else {
        for (r = 0; r < R; r++) {                      /* 1. z = x - max */
            const REAL *xr = x + r * C;
            REAL *zr = z + r * C;
            int nr;
            const REAL m = FE_T(rowmax)(C, xr, (REAL)EXP_NORMAL_MIN, &nr, FE_WIDE);
            M[r] = m;
            normal &= nr;
            if (FE_EXP_IN_ROW && FE_SOFTMAX_SPREAD) {
                /* a long row: the next row fetched segment by segment as this row's exps
                 * run (asked all at once, most requests came late: see the gradient) */
                Py_ssize_t s0, len;
                /* the next row: this block's next, else the next block's where the driver
                 * gathers it (`next`, values of next_size bytes: float16, bfloat16, ...) */
                const int far = r + 1 == R && next != NULL;
                const char *nx = far ? next : (const char *)(xr + C);
                const Py_ssize_t nsz = far ? next_size : (Py_ssize_t)sizeof(REAL);
                FE_SEGMENTS(s0, len, C) {
                    for (c = s0 * nsz; c < (s0 + len) * nsz; c += 64)
                        FE_PREFETCH(nx + c);
                    if (nr) {
                        FE_PRAGMA(omp simd)
                        for (c = s0; c < s0 + len; c++)
                            zr[c] = EXP_NORMAL(xr[c] - m);
                    } else {
                        FE_PRAGMA(omp simd)
                        for (c = s0; c < s0 + len; c++)
                            zr[c] = EXP_NONPOS(xr[c] - m);
                    }
                }
                continue;
            }
            if (C >= FE_SHORT_ROW)  /* the next row's first FE_SPREAD bytes are fetched while
                                     * this row's exp runs, so its max pass reads from the
                                     * cache */
                for (c = 0; c < C && c < FE_SPREAD / (Py_ssize_t)sizeof(REAL); c += FE_LINE)
                    FE_PREFETCH(xr + C + c);
            if (FE_EXP_IN_ROW && nr) {
                FE_PRAGMA(omp simd)
                for (c = 0; c < C; c++)                /* 2. e = exp(z), z normal */
                    zr[c] = EXP_NORMAL(xr[c] - m);
            } else if (FE_EXP_IN_ROW) {
                FE_PRAGMA(omp simd)
                for (c = 0; c < C; c++)                /* 2. e = exp(z), z <= 0 or NaN */
                    zr[c] = EXP_NONPOS(xr[c] - m);
            } else {
                FE_PRAGMA(omp simd)
                for (c = 0; c < C; c++)
                    zr[c] = xr[c] - m;
            }
        }
        if (!FE_EXP_IN_ROW && normal) {                /* 2. e = exp(z), the whole block */
            FE_PRAGMA(omp simd)
            for (i = 0; i < n; i++)
                z[i] = EXP_NORMAL(z[i]);
        } else if (!FE_EXP_IN_ROW) {
            FE_PRAGMA(omp simd)
            for (i = 0; i < n; i++)
                z[i] = EXP_NONPOS(z[i]);
        }
        if (stats_rows) {                                     /* 4. S (and sum e z) */
            for (r = 0; r < R; r++)
                FE_T(rowsum_sez)(C, z + r * C, x + r * C, M[r], S + r, EZ + r, FE_WIDE);
        } else {
            FE_T(rowsums)(R, C, z, S, FE_WIDE);               /* 4. S */
        }
    }
    if (!lab) {                                        /* 3. probability terms */
        if (!lanes) {                                  /* (rows in lanes: above) */
#define FE_PROB_TERMS(WC)                                                                  \
            for (r = 0; r < R; r++) {                                                      \
                const REAL *xr = x + r * C, *tr = t + r * C, m = M[r];                     \
                double *ar = ta + r * C, *br = tb + r * C;                                 \
                FE_PRAGMA(omp simd reduction(|:badt))                                      \
                for (c = 0; c < C; c++) {                                                  \
                    const REAL tc = tr[c];                                                 \
                    const REAL a = FE_T(softmax_coef)(tc, keep, share, (WC));              \
                    badt |= FE_T(outside_unit)(tc);                                        \
                    ar[c] = (double)a;                                                     \
                    br[c] = FE_T(softmax_bterm)(a, xr[c], m);                              \
                }                                                                          \
            }
            if (cw) { FE_PROB_TERMS(cw[c]) } else { FE_PROB_TERMS(one) }
#undef FE_PROB_TERMS
            FE_T(rowsums_d)(R, C, ta, A, FE_WIDE);
            FE_T(rowsums_d)(R, C, tb, B, FE_WIDE);
        }
        *bad |= badt;
    } else {                                           /* 3. label terms */
        if (smooth != 0.0 && !lanes) {                 /* sum_c w_c (m - x_c) */
#define FE_SMOOTH_ROWS(WC)                                                                 \
            for (r = 0; r < R; r++) {                                                      \
                const REAL *xr = x + r * C, m = M[r];                                      \
                double *br = tb + r * C;                                                   \
                FE_PRAGMA(omp simd)                                                        \
                for (c = 0; c < C; c++)                                                    \
                    br[c] = FE_T(softmax_bterm)((WC), xr[c], m);                           \
            }
            if (cw) { FE_SMOOTH_ROWS(cw[c]) } else { FE_SMOOTH_ROWS(one) }
#undef FE_SMOOTH_ROWS
            FE_T(rowsums_d)(R, C, tb, B, FE_WIDE);
        }
        /* the label's logit (rows in lanes: from lanes_max) in a loop of its own, so that
         * the next one, per row and branch-free, is a vector loop over the rows */
        if (!lanes) {
            FE_PRAGMA(omp simd)
            for (r = 0; r < R; r++)
                XL[r] = x[r * C + (lab[r] < 0 ? 0 : lab[r])];
        }
#define FE_LABEL_TERMS(WL)                                                                 \
        FE_PRAGMA(omp simd)                                                                \
        for (r = 0; r < R; r++) {                                                          \
            const int ign = lab[r] < 0;                                                    \
            const Py_ssize_t lr = ign ? 0 : lab[r];                                        \
            double a, b;                                                                   \
            (void)lr;                                   /* unused without class weights */ \
            FE_T(softmax_label_ab)(ign, (WL), smooth, dshare, cw_sum, B[r], M[r], XL[r],   \
                                   &a, &b);                                                \
            A[r] = a;                                                                      \
            B[r] = b;                                                                      \
        }
        if (cw) { FE_LABEL_TERMS((double)cw[lr]) }
        else { FE_LABEL_TERMS(1.0) }
#undef FE_LABEL_TERMS
    }
    FE_PRAGMA(omp simd)                                /* 4. the losses */
    for (r = 0; r < R; r++)
        loss[r] = FE_T(softmax_loss)(A[r], S[r], B[r]);
    if (lab) {
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++)
            loss[r] = lab[r] < 0 ? 0.0 : loss[r];
    }
    if (stats && lab) {                                /* softmax_stats */
        /* sum e z per row: made with S (stats_rows), else from the terms e z written to EZ
         * row by row, into XL's place once XL is read (after the rows) */
        double *FE_RESTRICT H = stats_rows ? EZ : work + 4 * R;
        for (r = 0; r < R; r++) {
            const REAL *FE_RESTRICT xr = x + r * C, *FE_RESTRICT zr = lanes ? z + r : z + r * C;
            const REAL m = M[r], xl = XL[r];    /* (a row without a label: not used) */
            double *FE_RESTRICT er = EZ + r * C;
            if (!stats_rows && lanes) {
                FE_PRAGMA(omp simd)
                for (c = 0; c < C; c++) {
                    const REAL e = zr[c * R];
                    er[c] = e != zero ? (double)e * (double)(xr[c] - m) : 0.0;
                }
            } else if (!stats_rows) {
                FE_PRAGMA(omp simd)
                for (c = 0; c < C; c++) {
                    const REAL e = zr[c];
                    er[c] = e != zero ? (double)e * (double)(xr[c] - m) : 0.0;
                }
            }
            /* the first NaN (key c), else the first maximum (C + c); the logits above the
             * label's.  32-bit counters where 3C fits (they vectorise on AVX2) */
#define FE_SCAN(T)                                                                         \
            {                                                                              \
                T key = (T)(3 * C), above = 0;                                             \
                FE_PRAGMA(omp simd reduction(min:key) reduction(+:above))                  \
                for (c = 0; c < C; c++) {                                                  \
                    const REAL xc = xr[c];                                                 \
                    const T kc = xc != xc ? (T)c : (xc == m ? (T)(C + c) : (T)(3 * C));    \
                    key = kc < key ? kc : key;                                             \
                    above += xc > xl;                                                      \
                }                                                                          \
                stats[5 * r + 3] = (double)(key < C ? key : key - C);                      \
                stats[5 * r + 4] = (double)(lab[r] < 0 || key < C ? C : above);            \
            }
            if (C <= 0x2aaaaaaa) FE_SCAN(int32_t) else FE_SCAN(Py_ssize_t)
#undef FE_SCAN
        }
        if (!stats_rows)
            FE_T(rowsums_d)(R, C, EZ, H, FE_WIDE);
        for (r = 0; r < R; r++) {
            FE_T(softmax_row_stats)(M[r], S[r], H[r], stats + 5 * r);
        }
    }
    if (!grad)
        return;
    if (lanes) {                                       /* 5. gradient, rows in lanes */
        REAL *FE_RESTRICT f = (REAL *)ta, *FE_RESTRICT gs = (REAL *)tb;
        REAL *FE_RESTRICT ht = (REAL *)(work + 4 * R);     /* XL's place: done */
        FE_PRAGMA(omp simd)
        for (r = 0; r < R; r++) {
            f[r] = (REAL)(A[r] / S[r]);
            gs[r] = (REAL)gsc[r];
        }
        if (lab && cw) {
            FE_PRAGMA(omp simd)
            for (r = 0; r < R; r++)
                ht[r] = (REAL)((1.0 - smooth) * (double)cw[lab[r] < 0 ? 0 : lab[r]]);
        } else if (lab) {                              /* ((1 - s) * 1: the same bits) */
            FE_PRAGMA(omp simd)
            for (r = 0; r < R; r++)
                ht[r] = (REAL)(1.0 - smooth);
        }
        Py_ssize_t r0 = 0;
#if FE_VECTOR_EXT
        if (FE_WIDE && lab) {
            /* wide (AVX2 and up): a vector of rows at a time, its f, gs, ht and labels in
             * registers while c runs along the rows (the loop over r below reloads them
             * for every class); the same operations on the same values, so the same bits:
             * share w_c + (ht or +0), (e f - a) gs, the one NaN, +0 for an ignored row */
            enum { W = sizeof(FE_RVEC) / sizeof(REAL) };
            const FE_KVEC none = {0};
            const REAL qnan = (REAL)NAN;
            FE_KEY nanbits;
            memcpy(&nanbits, &qnan, sizeof nanbits);
            const FE_KVEC knan = none + nanbits;          /* one_nan's NaN, every lane */
            for (; r0 + W <= R; r0 += W) {
                FE_RVEC fv, gv, hv;
                memcpy(&fv, f + r0, sizeof fv);
                memcpy(&gv, gs + r0, sizeof gv);
                memcpy(&hv, ht + r0, sizeof hv);
                const FE_KVEC lv = FE_ROWS_OF(lab + r0, 1), keep_row = lv >= 0;
                REAL *FE_RESTRICT gr = grad + r0 * C;
                for (c = 0; c < C; c++) {
                    const REAL sw = share * (cw ? cw[c] : one);
                    FE_RVEC ev;
                    memcpy(&ev, z + c * R + r0, sizeof ev);
                    const FE_RVEC a = sw + (FE_RVEC)((FE_KVEC)hv & (lv == (FE_KEY)c));
                    const FE_RVEC g = FE_SOFTMAX_GRAD(ev, fv, a, gv);
                    const FE_KVEC isnan = (FE_KVEC)(g != g);
                    const FE_KVEC gb = fe_vsel(isnan, knan, (FE_KVEC)g) & keep_row;
                    for (i = 0; i < W; i++)
                        gr[i * C + c] = ((FE_RVEC)gb)[i];
                }
            }
        }
#endif
        for (c = 0; c < C; c++) {
            const REAL *ec = z + c * R;
            const REAL wc = cw ? cw[c] : one;
            if (lab) {
                FE_PRAGMA(omp simd)
                for (r = r0; r < R; r++) {
                    const REAL a = FE_T(softmax_label_coef)(c == lab[r], ht[r], share, wc);
                    const REAL g = FE_T(softmax_grad)(ec[r], f[r], a, gs[r]);
                    grad[r * C + c] = lab[r] < 0 ? zero : g;
                }
            } else {
                FE_PRAGMA(omp simd)
                for (r = 0; r < R; r++)
                    grad[r * C + c] = FE_T(softmax_grad)(
                        ec[r], f[r], FE_T(softmax_coef)(t[r * C + c], keep, share, wc), gs[r]);
            }
        }
        return;
    }
    for (r = 0; r < R; r++) {                          /* 5. gradient */
        const REAL f = (REAL)(A[r] / S[r]), gs = (REAL)gsc[r];
        const REAL *er = z + r * C;
        REAL *gr = grad + r * C;
        if (lab && lab[r] < 0) {
            for (c = 0; c < C; c++) gr[c] = zero;
            continue;
        }
#define FE_LABEL_GRAD(WT, WC)                                                              \
        {                                                                                  \
            const Py_ssize_t lr = lab[r];                                                  \
            const REAL ht = (REAL)((1.0 - smooth) * (WT));                                 \
            FE_PRAGMA(omp simd)                                                            \
            for (c = c0; c < c1; c++) {                                                    \
                const REAL a = FE_T(softmax_label_coef)(c == lr, ht, share, (WC));         \
                gr[c] = FE_T(softmax_grad)(er[c], f, a, gs);                               \
            }                                                                              \
        }
#define FE_PROB_GRAD(WC)                                                                   \
        {                                                                                  \
            const REAL *tr = t + r * C;                                                    \
            FE_PRAGMA(omp simd)                                                            \
            for (c = c0; c < c1; c++)                                                      \
                gr[c] = FE_T(softmax_grad)(er[c], f,                                       \
                                           FE_T(softmax_coef)(tr[c], keep, share, (WC)), gs); \
        }
#define FE_GRAD_PART                                                                       \
        if (lab && cw) FE_LABEL_GRAD((double)cw[lr], cw[c])                                \
        else if (lab) FE_LABEL_GRAD(1.0, one)                                              \
        else if (cw) FE_PROB_GRAD(cw[c])                                                   \
        else FE_PROB_GRAD(one)
        if (!FE_SOFTMAX_SPREAD) {
            const Py_ssize_t c0 = 0, c1 = C;
            FE_GRAD_PART
            continue;
        }
        /* a long row: the next row's gradient (and target) fetched segment by segment */
        Py_ssize_t s0, len;
        FE_SEGMENTS(s0, len, C) {
            const Py_ssize_t c0 = s0, c1 = s0 + len;
            for (c = s0; c < c1; c += FE_LINE) {
                FE_PREFETCH_W(gr + C + c);
                if (!lab)
                    FE_PREFETCH(t + (r + 1) * C + c);
            }
            FE_GRAD_PART
        }
#undef FE_GRAD_PART
#undef FE_LABEL_GRAD
#undef FE_PROB_GRAD
    }
}

#undef FE_START
#undef FE_START_E
#undef FE_ADD
