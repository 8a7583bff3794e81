/*
 * fe_exact.h -- exact sums: the one reduction path of every kernel family.
 *
 * A `fe_xsum` holds the exact sum of every finite value added to it as a Shewchuk
 * expansion (non-overlapping doubles of increasing magnitude whose exact sum is the
 * total), and counts the +inf, -inf and NaN values apart.  Its value is the correctly
 * rounded double of the exact total (IEEE specials: an inf gives inf, inf - inf and NaN give
 * NaN), so any split of the values into blocks, threads, batches or chunks, added and merged
 * in any order, rounds to the same bits.
 *
 * Blocks of values are added by error-free extraction (Rump, Ogita & Oishi, "Accurate
 * floating-point summation part I", SIAM J. Sci. Comput. 31(1), 2008, ExtractVector):
 * with sigma = 2^k >= 2^13 max|v| (13 bits of headroom for the <= 4096 values of a block),
 * q = (sigma + v) - sigma and v - q are exact, the q are multiples of ulp(sigma)/2 and their
 * sum is exact in any order; the remainders v - q are at most ulp(sigma) and go through the
 * same step with a smaller sigma until none is left.  Each level is a plain vector loop, so
 * an exact block sum costs a few vector operations per value (one level for values within
 * 2^40 of the block's largest, which is the common case for losses).  Values at or above
 * 2^1000 (where sigma would overflow) are added one by one (Shewchuk's grow-expansion).
 * Partial sums beyond the double range are carried in multiples of 2^1023 (an integer
 * count), so a total that leaves the range and comes back is still exact; one that ends
 * beyond it rounds to +-inf.
 * The expansion goes to Python as its partials (fastent/_exact.py), which rounds it once
 * with math.fsum (Shewchuk, "Adaptive precision floating-point arithmetic and fast robust
 * geometric predicates", 1997).
 */
#ifndef FE_EXACT_H
#define FE_EXACT_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "fe_simd.h"
#include "fe_math.h"

#define FE_XSUM_MAX 48          /* finite doubles never need more than 40 partials */
#define FE_XBLOCK 4096          /* most values added by one extraction */

typedef struct {
    double p[FE_XSUM_MAX];
    int n;
    long long pinf, ninf, nan;  /* counts of +inf, -inf, NaN added */
    long long carry;            /* the exact total is sum p + carry 2^1023 (see fe_xsum_add) */
} fe_xsum;

static inline void fe_xsum_init(fe_xsum *s) { memset(s, 0, sizeof(*s)); }

/* |x| as its bits, a signed integer >= 0 (NaN above inf): for doubles >= 0 the order of the
 * bits is the order of the values, and an integer max vectorises with every compiler (a
 * double max needs -ffast-math with clang); signed, because AVX2 compares 64-bit integers
 * signed only (an unsigned max biases both operands first: two more instructions a vector) */
FE_INLINE int64_t fe_dabs_bits(double x)
{
    return (int64_t)(fe_d2u(x) & 0x7fffffffffffffffull);
}

/* Shewchuk's Compress: the same exact total in non-adjacent partials, at most one per 54
 * bits of the double range (so never more than 40).  Only reached by pathological
 * sequences: grow-expansion alone keeps a handful of partials. */
static void fe_xsum_compress(fe_xsum *s)
{
    double g[FE_XSUM_MAX];
    int m = s->n, bottom = m - 1, top = 0, i;
    double Q = s->p[m - 1];
    for (i = m - 2; i >= 0; i--) {
        const double sum = Q + s->p[i], q = s->p[i] - (sum - Q);
        if (q != 0.0) { g[bottom--] = sum; Q = q; }
        else Q = sum;
    }
    g[bottom] = Q;
    for (i = bottom + 1; i < m; i++) {
        const double sum = g[i] + Q, q = Q - (sum - g[i]);
        if (q != 0.0) s->p[top++] = q;
        Q = sum;
    }
    s->p[top++] = Q;
    s->n = top;
}

/* Add one double exactly (grow-expansion with zero elimination).  Where x + y would
 * overflow (one sign, |y| <= |x|), 2^1023 is taken off x and, if |y| >= 2^1022, off y too,
 * into the carry: exact (each lies within a factor of 2 of 2^1023), and the sum then fits. */
static void fe_xsum_add(fe_xsum *s, double x)
{
    int i, j;
    if (!isfinite(x)) {
        if (x != x) s->nan++;
        else if (x > 0) s->pinf++;
        else s->ninf++;
        return;
    }
    if (x == 0.0)
        return;
    for (i = j = 0; j < s->n; j++) {
        double y = s->p[j], hi, lo;
        if (fabs(x) < fabs(y)) { double t = x; x = y; y = t; }
        hi = x + y;
        if (!isfinite(hi)) {
            const double unit = copysign(0x1p1023, x);
            const int both = fabs(y) >= 0x1p1022;
            x -= unit;
            if (both)
                y -= unit;
            s->carry += (unit < 0 ? -1 : 1) * (both ? 2 : 1);
            if (fabs(x) < fabs(y)) { double t = x; x = y; y = t; }
            hi = x + y;
        }
        lo = y - (hi - x);
        if (lo != 0.0)
            s->p[i++] = lo;
        x = hi;
    }
    if (x != 0.0 || i == 0)
        s->p[i++] = x;
    s->n = i;
    if (s->n >= FE_XSUM_MAX - 1)
        fe_xsum_compress(s);
}

/* The correctly rounded double of an exact sum (IEEE specials as in fastent._exact; NaN for
 * a total with a carry, beyond 2^1023, which is not worked out here).  The partials are
 * non-overlapping and of increasing magnitude: rounded as CPython's math.fsum rounds its
 * own (from the top, halfway cases corrected by the sign of the next partial). */
static inline double fe_xsum_round(const fe_xsum *s)
{
    int n = s->n;
    double hi, lo = 0.0, x, y, yr;
    if (s->nan || (s->pinf && s->ninf) || s->carry)
        return NAN;
    if (s->pinf || s->ninf)
        return s->pinf ? INFINITY : -INFINITY;
    if (n == 0)
        return 0.0;
    hi = s->p[--n];
    while (n > 0) {
        x = hi;
        y = s->p[--n];
        hi = x + y;
        yr = hi - x;
        lo = y - yr;
        if (lo != 0.0)
            break;
    }
    if (n > 0 && ((lo < 0.0 && s->p[n - 1] < 0.0) || (lo > 0.0 && s->p[n - 1] > 0.0))) {
        y = lo * 2.0;
        x = hi + y;
        yr = x - hi;
        if (y == yr)
            hi = x;
    }
    return hi;
}

/* a += b */
static inline void fe_xsum_merge(fe_xsum *a, const fe_xsum *b)
{
    int j;
    for (j = 0; j < b->n; j++)
        fe_xsum_add(a, b->p[j]);
    a->pinf += b->pinf;
    a->ninf += b->ninf;
    a->nan += b->nan;
    a->carry += b->carry;
}

/* Extraction levels over n <= FE_XBLOCK values held as doubles in r (overwritten with the
 * remainders), max|r| = amax (finite, < 2^1000).  Adds the exact level sums to s. */
FE_INLINE void fe_xsum_extract(fe_xsum *s, double *FE_RESTRICT r, Py_ssize_t n,
                               double amax)
{
    Py_ssize_t i;
    while (amax > 0.0) {
        /* sigma = 2^(e + 14) where 2^e <= amax < 2^(e+1): 2^13 >= n + 2 headroom */
        double sigma, t = 0.0;
        int64_t m = 0;          /* max |remainder| as bits (fe_dabs_bits) */
        {
            int e;
            frexp(amax, &e);                    /* amax = f 2^e, f in [0.5, 1) */
            sigma = ldexp(1.0, e + 13);
        }
        FE_PRAGMA(omp simd reduction(+:t) reduction(max:m))
        for (i = 0; i < n; i++) {
            const double q = (sigma + r[i]) - sigma;
            const double rem = r[i] - q;
            t += q;                             /* exact in any order */
            r[i] = rem;
            const int64_t a = fe_dabs_bits(rem);
            m = a > m ? a : m;
        }
        fe_xsum_add(s, t);
        amax = fe_u2d((uint64_t)m);
    }
}

/* Two extraction levels of x at once (sigma1, sigma2 as in FE_XSUM_ADD_ARRAY): the
 * level sums' terms *q1, *q2, and the remainder left. */
FE_INLINE double fe_xsum_levels2(double x, double sigma1, double sigma2, double *q1,
                                 double *q2)
{
    *q1 = (sigma1 + x) - sigma1;
    const double r1 = x - *q1;
    *q2 = (sigma2 + r1) - sigma2;
    return r1 - *q2;
}

/* Add n values (float or double, contiguous) exactly; r: FE_XBLOCK doubles of scratch.
 * FE_XBLOCK values at a time: a first pass takes max|v| (as bits in U, a signed integer of
 * T's width, as fe_dabs_bits does), then NAME_block adds them.  NAME_block(s, v, m, mb, r):
 * m <= FE_XBLOCK values whose max|v| as bits is mb (a caller that writes the values can take
 * it on the way).  A block with an inf, a NaN or a value >= 2^1000 is added apart (non-finite
 * values counted, huge ones one by one, the rest by extraction).  Otherwise one pass extracts
 * two levels at once, sigma1 = 2^13 2^e from max|v| and sigma2 = 2^-40 sigma1 (the
 * remainders of level 1 are at most 2^-53 sigma1 = 2^-13 sigma2, so level 2 has the same
 * headroom): a float within 2^57 of the block's largest value, a double within 2^28, leaves
 * no remainder.  Only when some remainder is left does a second pass store the remainders
 * for the further levels of fe_xsum_extract.  Inline: a kernel calls it, so that it runs in
 * the kernel's instruction set. */
#define FE_XSUM_ADD_ARRAY(NAME, T, U, TOBITS, FROMBITS, ABSMASK)                            \
FE_INLINE void NAME##_block(fe_xsum *s, const T *FE_RESTRICT vb, Py_ssize_t m, U mb,         \
                            double *FE_RESTRICT r)                                          \
{                                                                                           \
    Py_ssize_t i;                                                                           \
    if (mb == 0)                                                                            \
        return;                                                                             \
    if (!((double)FROMBITS(mb) < 0x1p1000)) {     /* inf, NaN or huge: apart */             \
        double amax = 0.0;                                                                  \
        for (i = 0; i < m; i++) {                                                           \
            const double x = (double)vb[i], a = fabs(x);                                    \
            r[i] = x;                                                                       \
            if (!(a < 0x1p1000)) { fe_xsum_add(s, x); r[i] = 0.0; }                         \
            else if (a > amax) amax = a;                                                    \
        }                                                                                   \
        fe_xsum_extract(s, r, m, amax);                                                     \
        return;                                                                             \
    }                                                                                       \
    double sigma1, sigma2;                                                                  \
    uint64_t left = 0;                                                                      \
    {                                                                                       \
        int e;                                                                              \
        frexp((double)FROMBITS(mb), &e);          /* max|v| = f 2^e, f in [0.5, 1) */       \
        sigma1 = ldexp(1.0, e + 13);                                                        \
        sigma2 = ldexp(1.0, e + 13 - 40);                                                   \
    }                                                                                       \
    {                                                                                       \
        double u1 = 0.0, u2 = 0.0;                                                          \
        FE_PRAGMA(omp simd reduction(+:u1, u2) reduction(|:left))                           \
        for (i = 0; i < m; i++) {                                                           \
            double q1, q2;                                                                  \
            left |= fe_d2u(fe_xsum_levels2((double)vb[i], sigma1, sigma2, &q1, &q2));       \
            u1 += q1;                             /* exact in any order */                  \
            u2 += q2;                                                                       \
        }                                                                                   \
        fe_xsum_add(s, u1);                                                                 \
        fe_xsum_add(s, u2);                                                                 \
    }                                                                                       \
    if (left & 0x7fffffffffffffffull) {           /* remainders left: further levels */     \
        int64_t mr = 0;                                                                     \
        FE_PRAGMA(omp simd reduction(max:mr))                                               \
        for (i = 0; i < m; i++) {                                                           \
            double q1, q2;                                                                  \
            const double r2 = fe_xsum_levels2((double)vb[i], sigma1, sigma2, &q1, &q2);     \
            const int64_t a = fe_dabs_bits(r2);                                             \
            r[i] = r2;                                                                      \
            mr = a > mr ? a : mr;                                                           \
        }                                                                                   \
        fe_xsum_extract(s, r, m, fe_u2d((uint64_t)mr));                                     \
    }                                                                                       \
}                                                                                           \
FE_INLINE void NAME(fe_xsum *s, const T *FE_RESTRICT v, Py_ssize_t n, double *FE_RESTRICT r) \
{                                                                                           \
    Py_ssize_t i0, i, m;                                                                    \
    for (i0 = 0; i0 < n; i0 += FE_XBLOCK) {                                                 \
        const T *FE_RESTRICT vb = v + i0;                                                   \
        U mb = 0;                                 /* max |v| as bits (NaN: above inf) */    \
        m = n - i0 < FE_XBLOCK ? n - i0 : FE_XBLOCK;                                        \
        FE_PRAGMA(omp simd reduction(max:mb))                                               \
        for (i = 0; i < m; i++) {                                                           \
            const U a = (U)(TOBITS(vb[i]) & ABSMASK);                                       \
            mb = a > mb ? a : mb;                                                           \
        }                                                                                   \
        NAME##_block(s, vb, m, mb, r);                                                      \
    }                                                                                       \
}
FE_XSUM_ADD_ARRAY(fe_xsum_add_f32, float, int32_t, fe_f2u, fe_u2f, 0x7fffffffu)
FE_XSUM_ADD_ARRAY(fe_xsum_add_f64, double, int64_t, fe_d2u, fe_u2d, 0x7fffffffffffffffull)
#undef FE_XSUM_ADD_ARRAY

#endif /* FE_EXACT_H */
