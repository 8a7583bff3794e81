/*
 * fe_math.h -- fastent's own exp, log and log1p in float and double.
 *
 * Why our own: the results must be the same bits on every compiler (GCC, clang), every
 * instruction set (x86-64 baseline, AVX2, AVX-512, aarch64) and in scalar and vector code,
 * and every exp/log loop must vectorise without -ffast-math and without glibc's libmvec.
 * So each function is straight-line C: integer and floating-point operations in one fixed
 * order, selects instead of branches for the special cases, fma() only where written
 * explicitly (the build uses -ffp-contract=off, so no compiler fuses anything else).  Under
 * `omp simd` GCC and clang vectorise them; the bits do not depend on the vector width.
 * On an x86-64 CPU without FMA the explicit fma() is a libm call: correct, the same bits,
 * slower (that path exists for old CPUs and for the cross-path tests).
 *
 * Accuracy (tests/test_vecmath.py sweeps every float32 binade densely and double against
 * mpmath): every function is within 1 ulp, finite inputs and outputs, subnormals included;
 * inf, NaN and +-0 follow C99 Annex F.
 *
 * Methods.
 *  exp:  Cody & Waite's additive range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 split
 *        in two and the reduction done with fma (exact products); exp(r) = 1 + p, p = r + r^2 Q(r)
 *        with Q a minimax polynomial (Sollya fpminimax, relative error 2^-28.8 for float,
 *        2^-58 for double: degree 6 and 11 overall); the scale 2^n applied as two factors
 *        2^n1 2^n2 (n1 + n2 = n, from the bits of the shifted x log2(e)), the first as
 *        fma(p, 2^n1, 2^n1) so that 1 + p is never rounded on its own, and subnormal
 *        results round once more at most and overflow and underflow happen by plain IEEE
 *        arithmetic, x clamped beforehand so n stays small.  Where the result is normal
 *        (the _normal forms) that is 2^n round(1 + p): n added to the exponent bits of
 *        1 + p rounded.
 *        The integer n is read from the bits of x log2(e) + 1.5 2^52 (the "shifter" trick).
 *  log:  the reduction of fdlibm's e_log.c (Sun, 1993): x = 2^k m, m in [sqrt(2)/2,
 *        sqrt(2)), f = m - 1 exactly, s = f / (2 + f), log(1 + f) = 2 atanh(s)
 *        = f - (f^2/2 - s (f^2/2 + R(s^2))), R a minimax polynomial of our own (Sollya,
 *        absolute error 2^-29.8 for float: degree 3 in s^2; 2^-59 for double: degree 7);
 *        k ln2 added in two parts, the high part having trailing zeros so k ln2_hi is exact.
 *        Subnormal x is scaled by 2^23 (2^52) first.
 *  log1p: u = 1 + x with its rounding error c obtained exactly (Knuth's TwoSum), then
 *        log1p(x) = log(u) + c/u (to first order, which is exact to far below an ulp since
 *        |c/u| <= 2^-53), the correction entering with the small terms of log(u).
 * The coefficients were derived for fastent (see the comments next to them).
 */
#ifndef FE_MATH_H
#define FE_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef FE_INLINE               /* also defined, the same way, by fe_simd.h */
#  if defined(__GNUC__) || defined(__clang__)
#    define FE_INLINE static inline __attribute__((always_inline))
#  elif defined(_MSC_VER)
#    define FE_INLINE static __forceinline
#  else
#    define FE_INLINE static inline
#  endif
#endif

FE_INLINE uint32_t fe_f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
FE_INLINE float fe_u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
FE_INLINE uint64_t fe_d2u(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
FE_INLINE double fe_u2d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* ------------------------------------------------------------------------------------ */
/* float                                                                                */
/* ------------------------------------------------------------------------------------ */

/* exp(x), float.  Sollya: fpminimax(exp(x), [|2,...,6|], [|single...|], [-ln2/2; ln2/2],
 * floating, relative, 1 + x): relative error 2^-28.8. */
FE_INLINE float fe_expf_(float x, const int upper, const int normal)
{
    const float shifter = 0x1.8p23f, log2e = 0x1.715476p+0f;
    const float ln2_hi = 0x1.62e43p-1f, ln2_lo = -0x1.05c610p-29f;
    const float c2 = 0x1.fffffap-2f, c3 = 0x1.555492p-3f, c4 = 0x1.555a26p-5f,
                c5 = 0x1.12397cp-7f, c6 = 0x1.694c86p-10f;
    float xc = upper && x > 89.0f ? 89.0f : x;     /* exp(89) overflows, exp(-104) is 0 */
    xc = !normal && xc < -104.0f ? -104.0f : xc;   /* (a NaN stays NaN: selected below)  */
    const float z = fmaf(xc, log2e, shifter);
    const float n = z - shifter;                   /* round(x / ln2), exactly           */
    float r = fmaf(-n, ln2_hi, xc);
    r = fmaf(-n, ln2_lo, r);
    float q = fmaf(c6, r, c5);
    q = fmaf(q, r, c4);
    q = fmaf(q, r, c3);
    q = fmaf(q, r, c2);
    const float p = fmaf(r * r, q, r);             /* exp(r) - 1                        */
    if (normal) {      /* 2^n round(1 + p): n added to the exponent of round(1 + p), an
                        * integer addition (the shifter's bits shifted by 23 are 0, so
                        * z's bits shifted are n's); the bits of fmaf(p, 2^n, 2^n), with
                        * one multiplication fewer, where the result is normal */
        return fe_u2f(fe_f2u(1.0f + p) + (fe_f2u(z) << 23));
    }
    /* 2^n as 2^n1 2^n2 with n1 = floor(n/2), n in [-151, 129]: integer operations only
     * (n is in the low bits of z) */
    const int32_t k = (int32_t)(fe_f2u(z) - fe_f2u(shifter));
    const int32_t k1 = k >> 1;
    const float s1 = fe_u2f(((uint32_t)k1 + 127u) << 23);
    const float s2 = fe_u2f(((uint32_t)k - (uint32_t)k1 + 127u) << 23);
    const float res = fmaf(p, s1, s1) * s2;        /* (1 + p) 2^n1, one rounding       */
    return x != x ? x + x : res;
}

/* exp(x) for every x; exp(x) for x <= 0 (or NaN), without the upper clamp: the same bits
 * (softmax's x - max and the softplus's -|x| know their sign); exp(x) for x in
 * [FE_EXPF_NORMAL_MIN, 0] (no NaN), where the result is normal: the same bits again, with
 * neither clamp nor NaN test and one scaling -- for n = round(x/ln2) >= -125,
 * (1 + p) 2^n1 rounded is 2^n1 round(1 + p), and times 2^n2 stays normal and exact, so
 * both forms give 2^n round(1 + p) (checked for every float of the range: tests) */
#define FE_EXPF_NORMAL_MIN (-86.5f)
FE_INLINE float fe_expf(float x) { return fe_expf_(x, 1, 0); }
FE_INLINE float fe_expf_nonpos(float x) { return fe_expf_(x, 0, 0); }
FE_INLINE float fe_expf_normal(float x) { return fe_expf_(x, 0, 1); }

/* dk ln2 + log1p(f) + cu for f in [sqrt2/2 - 1, sqrt2 - 1] (dk: an integer; cu: a
 * correction, |cu| tiny against the result, or 0): the polynomial of fdlibm's reduction.
 * R: Sollya fpminimax(2 atanh(sqrt z)/sqrt z - 2, [|1,2,3|], [|single...|],
 * [2^-60; (3 - 2 sqrt 2)^2], absolute): error 2^-29.8. */
FE_INLINE float fe_logf_poly(float f, float dk, float cu)
{
    const float ln2_hi = 0x1.62e4p-1f, ln2_lo = 0x1.7f7d1cp-20f;
    const float L1 = 0x1.55557ap-1f, L2 = 0x1.995ed6p-2f, L3 = 0x1.31e08p-2f;
    const float s = f / (2.0f + f);
    const float z = s * s;
    float R = fmaf(L3, z, L2);
    R = fmaf(R, z, L1);
    R = R * z;
    const float hfsq = 0.5f * f * f;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + (dk * ln2_lo + cu))) - f);
}

/* log(u 2^kadd) + cu for u > 0 finite (kadd an integer): u = 2^k m, m in [sqrt2/2, sqrt2),
 * f = m - 1 exactly.  may_sub = 0: the caller knows u is normal. */
FE_INLINE float fe_logf_core_(float u, float cu, float kadd, const int may_sub)
{
    const int sub = may_sub && u < 0x1p-126f;
    const float us = sub ? u * 0x1p23f : u;
    const int32_t t = (int32_t)(fe_f2u(us) - 0x3f3504f3u);  /* bits of sqrt(2)/2 */
    const int32_t k = t >> 23;
    const float m = fe_u2f(fe_f2u(us) - ((uint32_t)k << 23));  /* in [sqrt2/2, sqrt2) */
    const float dk = ((float)k - (sub ? 23.0f : 0.0f)) + kadd;
    return fe_logf_poly(m - 1.0f, dk, cu);
}

FE_INLINE float fe_logf_core(float u, float cu, float kadd)
{
    return fe_logf_core_(u, cu, kadd, 1);
}

/* The special values of log at u (C99 F.9.3.7), else res. */
FE_INLINE float fe_logf_special(float u, float res)
{
    res = u == (float)INFINITY ? u : res;
    res = u == 0.0f ? -(float)INFINITY : res;
    res = u < 0.0f ? (float)NAN : res;
    return u != u ? u + u : res;
}

/* log(x); may_sub = 0 for an x that is never subnormal (clipped at a normal bound): the
 * same bits without that case.  The functions below with a may_sub flag mean the same. */
FE_INLINE float fe_logf_(float x, const int may_sub)
{
    return fe_logf_special(x, fe_logf_core_(x, 0.0f, 0.0f, may_sub));
}

FE_INLINE float fe_logf(float x) { return fe_logf_(x, 1); }

/* log1p(x) for x in [0, 1], for a caller that already has u = 1 + x (rounded) and
 * ru = 1 / u (the softplus of the logits needs 1 / (1 + e) anyway): the correction's
 * division is a product, and no special value or subnormal can occur, so the core alone
 * gives fe_log1pf's bits (x = 0: +0 either way).  A NaN x gives a NaN of unspecified
 * payload (the caller selects). */
FE_INLINE float fe_log1pf_unit_ur(float x, float u, float ru)
{
    const float b = u - 1.0f;
    const float c = (1.0f - (u - b)) + (x - b);
    return fe_logf_core_(u, c * ru, 0.0f, 0);
}

FE_INLINE float fe_log1pf_(float x, const int may_sub)
{
    const float u = 1.0f + x;
    const float b = u - 1.0f;                        /* TwoSum(1, x): u + c = 1 + x exactly */
    const float c = (1.0f - (u - b)) + (x - b);
    const float res = fe_logf_core_(u, c / u, 0.0f, may_sub);
    return fe_logf_special(u, x != x || x == 0.0f ? x : res);   /* keeps -0 */
}

FE_INLINE float fe_log1pf(float x) { return fe_log1pf_(x, 1); }

/* pos != 0 ? log(p) : log1p(-p), with one evaluation of the core: bit for bit what
 * fe_logf(p) or fe_log1pf(-p) gives (binary cross-entropy with hard labels needs only one
 * of the two logs).  pos is a float flag (1 or 0) so that the lanes stay float. */
FE_INLINE float fe_logf_sel_(float p, float pos, const int may_sub)
{
    const float x = -p, u1 = 1.0f + x;
    const float b = u1 - 1.0f;
    const float c = (1.0f - (u1 - b)) + (x - b);
    const float u = pos != 0 ? p : u1;
    const float res = fe_logf_core_(u, pos != 0 ? 0.0f : c / u1, 0.0f, may_sub);
    return fe_logf_special(u, pos == 0 && (x != x || x == 0.0f) ? x : res);
}

/* ------------------------------------------------------------------------------------ */
/* double                                                                               */
/* ------------------------------------------------------------------------------------ */

/* exp(x), double.  Sollya: fpminimax(exp(x), [|2,...,11|], [|double...|], [-ln2/2; ln2/2],
 * floating, relative, 1 + x): relative error 2^-58. */
FE_INLINE double fe_exp_(double x, const int upper, const int normal)
{
    const double shifter = 0x1.8p52, log2e = 0x1.71547652b82fep+0;
    const double ln2_hi = 0x1.62e42fefa39efp-1, ln2_lo = 0x1.abc9e3b39803fp-56;
    const double c2 = 0x1.000000000000ap-1, c3 = 0x1.55555555554fep-3,
                 c4 = 0x1.55555555506cp-5, c5 = 0x1.1111111126b37p-7,
                 c6 = 0x1.6c16c18475a18p-10, c7 = 0x1.a01a012fec2f9p-13,
                 c8 = 0x1.a0199963c9d45p-16, c9 = 0x1.71df18fbc7568p-19,
                 c10 = 0x1.28adf7a193ac5p-22, c11 = 0x1.ad92c7da7197p-26;
    double xc = upper && x > 710.0 ? 710.0 : x;    /* exp(710) overflows, exp(-746) is 0 */
    xc = !normal && xc < -746.0 ? -746.0 : xc;
    const double z = fma(xc, log2e, shifter);
    const double n = z - shifter;
    double r = fma(-n, ln2_hi, xc);
    r = fma(-n, ln2_lo, r);
    double q = fma(c11, r, c10);              /* Horner: Estrin's scheme is 20% faster but
                                               * its roundings bring the error to 0.995 ulp */
    q = fma(q, r, c9);
    q = fma(q, r, c8);
    q = fma(q, r, c7);
    q = fma(q, r, c6);
    q = fma(q, r, c5);
    q = fma(q, r, c4);
    q = fma(q, r, c3);
    q = fma(q, r, c2);
    const double p = fma(r * r, q, r);
    if (normal)                                                 /* as fe_expf_'s  */
        return fe_u2d(fe_d2u(1.0 + p) + (fe_d2u(z) << 52));
    /* 2^n1 2^n2, n1 = floor(n/2) from the bits of z, biased so that the shift is logical
     * (AVX2 has no 64-bit arithmetic shift) */
    const uint64_t kb = fe_d2u(z) - fe_d2u(shifter) + 2048;     /* n + 2048 >= 0 */
    const uint64_t k1b = kb >> 1;                               /* n1 + 1024     */
    const double s1 = fe_u2d((k1b - 1024 + 1023) << 52);
    const double s2 = fe_u2d(((kb - k1b) - 1024 + 1023) << 52);
    const double res = fma(p, s1, s1) * s2;
    return x != x ? x + x : res;
}

#define FE_EXP_NORMAL_MIN (-707.5)  /* n >= -1021: fe_expf_normal's argument */
FE_INLINE double fe_exp(double x) { return fe_exp_(x, 1, 0); }
FE_INLINE double fe_exp_nonpos(double x) { return fe_exp_(x, 0, 0); }
FE_INLINE double fe_exp_normal(double x) { return fe_exp_(x, 0, 1); }

/* dk ln2 + log1p(f) + cu for f in [sqrt2/2 - 1, sqrt2 - 1], as fe_logf_poly.
 * R: Sollya fpminimax(2 atanh(sqrt z)/sqrt z - 2, [|1,...,7|], [|double...|],
 * [2^-60; (3 - 2 sqrt 2)^2], absolute): error 2^-59. */
FE_INLINE double fe_log_poly(double f, double dk, double cu)
{
    const double ln2_hi = 0x1.62e42feep-1, ln2_lo = 0x1.a39ef35793c76p-33;
    const double L1 = 0x1.5555555555592p-1, L2 = 0x1.999999997ff27p-2,
                 L3 = 0x1.24924941e048bp-2, L4 = 0x1.c71c5215423a7p-3,
                 L5 = 0x1.74663cba3a9b8p-3, L6 = 0x1.39a1edfb181ccp-3,
                 L7 = 0x1.2f0386248cf79p-3;
    const double s = f / (2.0 + f);
    const double z = s * s;
    double R = fma(L7, z, L6);
    R = fma(R, z, L5);
    R = fma(R, z, L4);
    R = fma(R, z, L3);
    R = fma(R, z, L2);
    R = fma(R, z, L1);
    R = R * z;
    const double hfsq = 0.5 * f * f;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + (dk * ln2_lo + cu))) - f);
}

/* log(u 2^kadd) + cu for u > 0 finite, kadd an integer (as fe_logf_core_). */
FE_INLINE double fe_log_core_(double u, double cu, double kadd, const int may_sub)
{
    const int sub = may_sub && u < 0x1p-1022;
    const double us = sub ? u * 0x1p52 : u;
    /* k = exponent of us relative to [sqrt2/2, sqrt2), without 64-bit arithmetic shifts
     * (AVX2 has none): bias the difference so that it is positive, shift logically. */
    const uint64_t t = fe_d2u(us) - 0x3fe6a09e667f3bcdull + (1023ull << 52);
    const uint64_t kb = t >> 52;                       /* k + 1023, in [1, 2046]        */
    const double m = fe_u2d(fe_d2u(us) - (kb << 52) + (1023ull << 52));
    /* (double)(kb - 1023) without int64 -> double conversion: 2^52 + kb as bits */
    const double dk = (fe_u2d(0x4330000000000000ull + kb) - (0x1p52 + 1023.0))
                      - (sub ? 52.0 : 0.0) + kadd;
    return fe_log_poly(m - 1.0, dk, cu);
}

FE_INLINE double fe_log_core(double u, double cu, double kadd)
{
    return fe_log_core_(u, cu, kadd, 1);
}

FE_INLINE double fe_log_special(double u, double res)
{
    res = u == (double)INFINITY ? u : res;
    res = u == 0.0 ? -(double)INFINITY : res;
    res = u < 0.0 ? (double)NAN : res;
    return u != u ? u + u : res;
}

FE_INLINE double fe_log_(double x, const int may_sub)
{
    return fe_log_special(x, fe_log_core_(x, 0.0, 0.0, may_sub));
}

FE_INLINE double fe_log(double x) { return fe_log_(x, 1); }

FE_INLINE double fe_log1p_unit_ur(double x, double u, double ru)
{
    const double b = u - 1.0;
    const double c = (1.0 - (u - b)) + (x - b);
    return fe_log_core_(u, c * ru, 0.0, 0);
}

FE_INLINE double fe_log1p_(double x, const int may_sub)
{
    const double u = 1.0 + x;
    const double b = u - 1.0;
    const double c = (1.0 - (u - b)) + (x - b);
    const double res = fe_log_core_(u, c / u, 0.0, may_sub);
    return fe_log_special(u, x != x || x == 0.0 ? x : res);     /* keeps -0 */
}

FE_INLINE double fe_log1p(double x) { return fe_log1p_(x, 1); }

/* log S of a softmax row's sum S = sum_c e^(x_c - max x): S >= 1 (the maximum's term is
 * exactly 1, the others >= 0) or NaN.  The same bits as fe_log1p(S - 1), which the row
 * functions computed: for S >= 1, S - 1 and 1 + (S - 1) are exact, so fe_log1p's correction
 * term is +0 (its division gives +0) and its log core runs on S itself; at S = 1 both give
 * +0.  One division less a row. */
FE_INLINE double fe_log_rowsum(double S) { return fe_log_(S, 0); }

/* pos != 0 ? log(p) : log1p(-p), one core evaluation (as fe_logf_sel). */
FE_INLINE double fe_log_sel_(double p, double pos, const int may_sub)
{
    const double x = -p, u1 = 1.0 + x;
    const double b = u1 - 1.0;
    const double c = (1.0 - (u1 - b)) + (x - b);
    const double u = pos != 0 ? p : u1;
    const double res = fe_log_core_(u, pos != 0 ? 0.0 : c / u1, 0.0, may_sub);
    return fe_log_special(u, pos == 0 && (x != x || x == 0.0) ? x : res);
}

/* ------------------------------------------------------------------------------------ */
/* log(p / q) without overflow, underflow or cancellation                               */
/* ------------------------------------------------------------------------------------ */
/* For p, q > 0 finite (callers select the special cases).  SciPy's rel_entr computes
 * x log(x / y), which overflows when y is tiny (q = 1e-310, p = 1 gives inf instead of
 * 713.8) and loses digits when p and q are close.  Here p = mp 2^ep and q = mq 2^eq with
 * mp, mq in [1, 2) read from the bits (subnormals scaled), so nothing can overflow or
 * underflow; mp / mq in (1/2, 2) is brought into [sqrt2/2, sqrt2) by doubling mp or mq
 * (P, Q), and then
 *   log(p / q) = k ln2 + log1p(f),  f = (P - Q) / Q,  k = ep - eq - [P = 2 mp] + [Q = 2 mq]
 * with P - Q exact (Sterbenz: P / Q in [1/2, 2]): f is the correctly rounded relative
 * difference, however close p and q are (no 1 + f is ever rounded), and log1p(f) is the
 * polynomial of fe_logf_poly on its own interval, with f's rounding error put back to
 * first order: the remainder r = (P - Q) - f Q is exact (fma), and log1p(f + r/Q) =
 * log1p(f) + r / (Q (1 + f)) = log1p(f) + r / P.  No select between two forms. */
/* x > 0 as m 2^e, m in [1, 2): the bits of x scaled out of the subnormal range first */
FE_INLINE uint32_t fe_normbitsf_(float x)
{
    return fe_f2u(x < 0x1p-126f ? x * 0x1p23f : x);
}

FE_INLINE float fe_logratiof_(float p, float q, const int may_sub)
{
    const uint32_t bp = may_sub ? fe_normbitsf_(p) : fe_f2u(p);
    const uint32_t bq = may_sub ? fe_normbitsf_(q) : fe_f2u(q);
    const float mp = fe_u2f((bp & 0x007fffffu) | 0x3f800000u);
    const float mq = fe_u2f((bq & 0x007fffffu) | 0x3f800000u);
    const float k = ((float)((int32_t)(bp >> 23) - (int32_t)(bq >> 23))
                     - (may_sub && p < 0x1p-126f ? 23.0f : 0.0f))
                    + (may_sub && q < 0x1p-126f ? 23.0f : 0.0f);
    const float lo = 0x1.6a09e6p-1f * mq, hi = 0x1.6a09e6p+0f * mq;   /* mq sqrt2^-+1 */
    const float P = mp < lo ? 2.0f * mp : mp, Q = mp >= hi ? 2.0f * mq : mq;
    const float up = mp < lo ? 1.0f : 0.0f, dn = mp >= hi ? 1.0f : 0.0f;
    const float d = P - Q, f = d / Q;
    return fe_logf_poly(f, (k - up) + dn, fmaf(-f, Q, d) / P);
}

FE_INLINE uint64_t fe_normbits_(double x)
{
    return fe_d2u(x < 0x1p-1022 ? x * 0x1p52 : x);
}

FE_INLINE double fe_logratio_(double p, double q, const int may_sub)
{
    const uint64_t bp = may_sub ? fe_normbits_(p) : fe_d2u(p);
    const uint64_t bq = may_sub ? fe_normbits_(q) : fe_d2u(q);
    const double mp = fe_u2d((bp & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    const double mq = fe_u2d((bq & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
    /* exponent fields as doubles without int64 -> double conversion (2^52 + e as bits) */
    const double ep = fe_u2d(0x4330000000000000ull + (bp >> 52));
    const double eq = fe_u2d(0x4330000000000000ull + (bq >> 52));
    const double k = ((ep - eq) - (may_sub && p < 0x1p-1022 ? 52.0 : 0.0))
                     + (may_sub && q < 0x1p-1022 ? 52.0 : 0.0);
    const double lo = 0x1.6a09e667f3bcdp-1 * mq, hi = 0x1.6a09e667f3bcdp+0 * mq;
    const double P = mp < lo ? 2.0 * mp : mp, Q = mp >= hi ? 2.0 * mq : mq;
    const double up = mp < lo ? 1.0 : 0.0, dn = mp >= hi ? 1.0 : 0.0;
    const double d = P - Q, f = d / Q;
    return fe_log_poly(f, (k - up) + dn, fma(-f, Q, d) / P);
}

#endif /* FE_MATH_H */
