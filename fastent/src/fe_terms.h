/*
 * fe_terms.h -- the terms of every loss (fe_terms_impl.h) for float and double, on top of
 * fastent's own maths (fe_math.h).  Term x of dtype f32 is fe_x_f32; inside a family's
 * template FE_T(x) names the term of the dtype being instantiated.
 */
#ifndef FE_TERMS_H
#define FE_TERMS_H

#include <float.h>
#include "fe_simd.h"
#include "fe_math.h"
#include "fe_exact.h"

/* What a row computes: the kinds of the row functions, one list for the Python layer
 * (fastent._rowwise.Kind: FE_KL is Kind.KL) and the block kernels, so no layer renumbers. */
enum fe_row_kind {
    FE_SOFTMAX = 0,         /* softmax cross-entropy (labels or probability targets) */
    FE_CROSS_ENTROPY = 1,   /* H(p, q) */
    FE_KL = 2,              /* D(p || q) */
    FE_ENTROPY = 3,         /* H(p) */
    FE_JS = 4,              /* Jensen-Shannon divergence of distributions p, q */
    FE_KL_LOGITS = 5,       /* D(softmax(t / T) || softmax(x / T)) from logits */
    FE_JS_LOGITS = 6        /* Jensen-Shannon divergence of softmax(t / T), softmax(x / T) */
};

#define FE_LANES 16             /* lanes of every row sum (fe_terms_impl.h) */
#if defined(__GNUC__) || defined(__clang__)
#define FE_VECTOR_EXT 1         /* GCC / clang vector types: the row sums' accumulators */
typedef double fe_v4d __attribute__((vector_size(32)));
typedef double fe_v8d __attribute__((vector_size(64)));
/* one AVX2 vector of rows (lanes_max, the labels' gradient in lanes): 8 floats or 4
 * doubles, their keys, their labels */
typedef float fe_v8f __attribute__((vector_size(32)));
typedef int32_t fe_v8i __attribute__((vector_size(32)));
typedef int64_t fe_v4l __attribute__((vector_size(32)));
/* one AVX-512 vector of keys (row_keys with wide 2) */
typedef int32_t fe_v16i __attribute__((vector_size(64)));
typedef int64_t fe_v8l __attribute__((vector_size(64)));
#else
#define FE_VECTOR_EXT 0
#endif
#define FE_T_(x, dt) fe_##x##_##dt
#define FE_TX(x, dt) FE_T_(x, dt)
#define FE_T(x) FE_TX(x, FE_DT)

/* order-preserving integer keys of floats (fe_terms_impl.h: rowmax); the map is its own
 * inverse on the magnitude bits */
FE_INLINE int32_t fe_key_f32(float x)
{
    const int32_t b = (int32_t)fe_f2u(x);
    return b ^ ((b >> 31) & 0x7fffffff);
}
FE_INLINE float fe_val_f32(int32_t k) { return fe_u2f((uint32_t)(k ^ ((k >> 31) & 0x7fffffff))); }
FE_INLINE int64_t fe_key_f64(double x)
{
    const int64_t b = (int64_t)fe_d2u(x);
    return b ^ (int64_t)((uint64_t)(b >> 63) >> 1);
}
FE_INLINE double fe_val_f64(int64_t k)
{
    return fe_u2d((uint64_t)(k ^ (int64_t)((uint64_t)(k >> 63) >> 1)));
}

/* The one NaN: every value a kernel writes (a loss, a row value, a gradient) that is NaN is
 * written as the positive quiet NaN without payload (NumPy's np.nan: 0x7fc00000,
 * 0x7ff8000000000000), whatever NaN the arithmetic made: x86's default NaN (inf - inf,
 * 0 * inf) is negative and aarch64's positive, and where two NaNs meet the result carries
 * either one's sign and payload, as the compiler orders the operands.  So a NaN result has
 * the same bytes on every machine and compiler.  FE_T(one_nan) in the kernels. */
FE_INLINE float fe_one_nan_f32(float v) { return v != v ? (float)NAN : v; }
FE_INLINE double fe_one_nan_f64(double v) { return v != v ? (double)NAN : v; }

/* the softmax gradient before the one NaN, (e f - a) gs (fe_terms_impl.h: softmax_grad), on
 * values or on vectors of rows (the labels' gradient in lanes, FE_WIDE) */
#define FE_SOFTMAX_GRAD(e, f, a, gs) (((e) * (f) - (a)) * (gs))

/* per dtype (FE_DT, in the terms and in the kernels): a float's key, and for the vectors of
 * rows (FE_WIDE paths) a vector of rows of the dtype, of their keys, and its initialiser
 * from every C-th value at p */
typedef int32_t fe_keyt_f32;
typedef int64_t fe_keyt_f64;
#define FE_KEY FE_T(keyt)
#define FE_KEY_OF FE_T(key)
#define FE_VAL_OF FE_T(val)
#if FE_VECTOR_EXT
typedef fe_v8f fe_rvec_f32;
typedef fe_v8i fe_kvec_f32;
typedef fe_v4d fe_rvec_f64;
typedef fe_v4l fe_kvec_f64;
typedef fe_v16i fe_kvec64_f32;
typedef fe_v8l fe_kvec64_f64;
#define fe_rows_of_f32(p, C) {(p)[0], (p)[(C)], (p)[2 * (C)], (p)[3 * (C)], (p)[4 * (C)],  \
                              (p)[5 * (C)], (p)[6 * (C)], (p)[7 * (C)]}
#define fe_rows_of_f64(p, C) {(p)[0], (p)[(C)], (p)[2 * (C)], (p)[3 * (C)]}
#define FE_RVEC FE_T(rvec)
#define FE_KVEC FE_T(kvec)
#define FE_KVEC64 FE_T(kvec64)
#define FE_ROWS_OF FE_T(rows_of)
/* on a vector of keys: the key map of fe_key_f32/f64 (its own inverse on the magnitude
 * bits; the sign by an arithmetic shift, as there: a shift and one three-way logic op),
 * and the largest / smallest of two, lane by lane, as `kc > k ? kc : k` */
#define FE_VKEY(v)                                                                         \
    ((v) ^ (((v) >> (8 * sizeof(FE_KEY) - 1)) & (FE_KEY)(~0ull >> (65 - 8 * sizeof(FE_KEY)))))
#define FE_VMAX(a, b) fe_vsel((a) > (b), (a), (b))
#define FE_VMIN(a, b) fe_vsel((a) < (b), (a), (b))
#define fe_vsel(m, a, b) (((a) & (m)) | ((b) & ~(m)))
/* The largest key of each of four 32-byte key vectors a, b, c, d, found together: each
 * level takes the larger of two shuffles that pair the lanes of two vectors (or of one),
 * so that the four folds share their steps (three levels for float keys, two for double);
 * key j's largest is lane FE_KEYS_FOLD_AT(j) of the result.  A maximum is the same in any
 * order: the same keys as folding each vector alone. */
/* A shuffle of two vectors of one shape, the result of that shape: lane i is lane M[i] of
 * a's lanes followed by b's; M is the integer vector of that shape (GCC's __builtin_shuffle
 * takes the mask as such a vector: GCC 11 has no __builtin_shufflevector). */
#if defined(__clang__)
#define FE_SHUF(M, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define FE_SHUF(M, a, b, ...) __builtin_shuffle(a, b, (M){__VA_ARGS__})
#endif
#define fe_keys_fold4_f32(a, b, c, d)                                                      \
    __extension__({                                                                        \
        const fe_v8i p_ = FE_VMAX(FE_SHUF(fe_v8i, a, b, 0, 1, 2, 3, 8, 9, 10, 11),         \
                                  FE_SHUF(fe_v8i, a, b, 4, 5, 6, 7, 12, 13, 14, 15));      \
        const fe_v8i q_ = FE_VMAX(FE_SHUF(fe_v8i, c, d, 0, 1, 2, 3, 8, 9, 10, 11),         \
                                  FE_SHUF(fe_v8i, c, d, 4, 5, 6, 7, 12, 13, 14, 15));      \
        const fe_v8i s_ = FE_VMAX(FE_SHUF(fe_v8i, p_, q_, 0, 1, 4, 5, 8, 9, 12, 13),       \
                                  FE_SHUF(fe_v8i, p_, q_, 2, 3, 6, 7, 10, 11, 14, 15));    \
        FE_VMAX(s_, FE_SHUF(fe_v8i, s_, s_, 1, 0, 3, 2, 5, 4, 7, 6));                      \
    })
#define fe_keys_fold4_f64(a, b, c, d)                                                      \
    __extension__({                                                                        \
        const fe_v4l p_ = FE_VMAX(FE_SHUF(fe_v4l, a, b, 0, 1, 4, 5),                       \
                                  FE_SHUF(fe_v4l, a, b, 2, 3, 6, 7));                      \
        const fe_v4l q_ = FE_VMAX(FE_SHUF(fe_v4l, c, d, 0, 1, 4, 5),                       \
                                  FE_SHUF(fe_v4l, c, d, 2, 3, 6, 7));                      \
        FE_VMAX(FE_SHUF(fe_v4l, p_, q_, 0, 2, 4, 6), FE_SHUF(fe_v4l, p_, q_, 1, 3, 5, 7)); \
    })
#define fe_keys_fold_at_f32(j) (2 * (j))
#define fe_keys_fold_at_f64(j) (j)
#define FE_KEYS_FOLD4 FE_T(keys_fold4)
#define FE_KEYS_FOLD_AT FE_T(keys_fold_at)
#endif

/* Values of a row for the row sums (fe_terms_impl.h): L##_LOAD(v) the values at v as L's
 * vector of doubles, L1 one value; L##_NZ(d, e) d where e != 0, else +0. */
#define FE_L1_LOAD(v) ((double)(v)[0])
#define FE_L1_NZ(d, e) ((e) != 0.0 ? (d) : 0.0)
/* KL from logits' term at offset o of a row (fe_divlogits_impl.h), in double:
 * e ((t - x) + dm), e = exp(za) of the row (ea), t and x its logits, dm = max x - max t;
 * masked (a row that may have e = 0, a class the teacher masks): +0 where e = 0, whatever
 * t - x is */
#define FE_KL_TERM(L, o)                                                                   \
    (L##_LOAD(ea + (o)) * ((L##_LOAD(t + (o)) - L##_LOAD(x + (o))) + dm))
#define FE_KL_VAL(L, o)                                                                    \
    (masked ? L##_NZ(FE_KL_TERM(L, o), L##_LOAD(ea + (o))) : FE_KL_TERM(L, o))

/* Jensen-Shannon's weights of the row bound (js_range, fe_terms_impl.h): cp = -beta log beta, cq = -bq log bq (0
 * at beta 0 and 1) */
FE_INLINE void fe_js_weights(double beta, double *cp, double *cq)
{
    const double bq = 1.0 - beta;
    *cp = beta > 0.0 ? -(beta * fe_log(beta)) : 0.0;
    *cq = bq > 0.0 ? -(bq * fe_log1p(-beta)) : 0.0;
}

#define REAL float
#define FE_DT f32
#define EXP fe_expf
#define FE_XADD fe_xsum_add_f32          /* exact sums of a row: fe_exact.h */
#define LOG fe_logf
#define LOG1P fe_log1pf
#define LOG_ fe_logf_                 /* the (x, may_sub) forms: fe_math.h */
#define LOG1P_ fe_log1pf_
#define LOG_SEL_ fe_logf_sel_
#define LOGRATIO_ fe_logratiof_
#define LOG1P_UNIT_UR fe_log1pf_unit_ur
#define EXP_NONPOS fe_expf_nonpos
#include "fe_terms_impl.h"
#undef REAL
#undef FE_DT
#undef EXP
#undef FE_XADD
#undef LOG
#undef LOG1P
#undef LOG_
#undef LOG1P_
#undef LOG_SEL_
#undef LOGRATIO_
#undef LOG1P_UNIT_UR
#undef EXP_NONPOS

#define REAL double
#define FE_DT f64
#define EXP fe_exp
#define FE_XADD fe_xsum_add_f64
#define LOG fe_log
#define LOG1P fe_log1p
#define LOG_ fe_log_                 /* the (x, may_sub) forms: fe_math.h */
#define LOG1P_ fe_log1p_
#define LOG_SEL_ fe_log_sel_
#define LOGRATIO_ fe_logratio_
#define LOG1P_UNIT_UR fe_log1p_unit_ur
#define EXP_NONPOS fe_exp_nonpos
#include "fe_terms_impl.h"
#undef REAL
#undef FE_DT
#undef EXP
#undef FE_XADD
#undef LOG
#undef LOG1P
#undef LOG_
#undef LOG1P_
#undef LOG_SEL_
#undef LOGRATIO_
#undef LOG1P_UNIT_UR
#undef EXP_NONPOS

#endif /* FE_TERMS_H */
