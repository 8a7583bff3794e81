/*
 * fe_simd.h -- instruction-set dispatch, the OpenMP shim and the strided gather/scatter
 * helpers shared by every kernel family.
 *
 * Each family's loops are compiled three times on x86-64 (baseline, x86-64-v3 = AVX2 + FMA,
 * x86-64-v4 = AVX-512) by including its *_impl.h under a target pragma (GCC or clang, see
 * fe_template.h); FE_SELECT picks one at import from the CPU's features, or the one
 * FASTENT_SIMD forces.  Elsewhere (aarch64, other compilers) the loops are compiled once,
 * for the target of the build.  The maths is fastent's own (fe_math.h): every path gives
 * the same bits.
 */
#ifndef FE_SIMD_H
#define FE_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <Python.h>

/* Several instruction sets in one build: GCC and clang on x86-64 (fe_template.h). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#  define FE_MULTI_ISA 1
#else
#  define FE_MULTI_ISA 0
#endif

/* Where the kernels are compiled.  By default every instruction set's kernels are compiled
 * into the translation unit that includes a family's header (fe_template.h).  setup.py
 * compiles them apart, one unit an instruction set, in parallel: each unit defines FE_UNIT
 * (0 baseline, 1 avx2, 2 avx512) and compiles that set's kernels only, with external
 * (hidden) linkage; the Cython module defines FE_SPLIT, compiles none and declares them. */
#if defined(FE_UNIT)
#  define FE_UNIT_HAS(isa) (FE_UNIT == (isa))
#  define FE_KERNEL __attribute__((visibility("hidden")))
#elif defined(FE_SPLIT)
#  define FE_UNIT_HAS(isa) 0
#else
#  define FE_UNIT_HAS(isa) 1
#  define FE_KERNEL static
#endif
#if defined(__GNUC__) || defined(__clang__)
#  define FE_MAYBE_UNUSED __attribute__((unused))
#else
#  define FE_MAYBE_UNUSED
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#  define FE_RESTRICT __restrict
#else
#  define FE_RESTRICT restrict
#endif

#include "fe_math.h"      /* FE_INLINE, and the maths every family uses */

/* A hint to fetch the cache line at p (no fault, no effect on any value); _W: to write it. */
#if defined(__GNUC__) || defined(__clang__)
#  define FE_PREFETCH(p) __builtin_prefetch(p)
#  define FE_PREFETCH_W(p) __builtin_prefetch((p), 1)
#else
#  define FE_PREFETCH(p) ((void)(p))
#  define FE_PREFETCH_W(p) ((void)(p))
#endif
/* A long row (over FE_SPREAD bytes) has the next row fetched FE_SEG values at a time, before
 * each segment of this row's passes (fe_divlogits_impl.h, fe_softmax_impl.h): asked all at
 * once, most of the requests met a busy memory system and came late. */
#define FE_SEG 256
#define FE_SPREAD 8192
/* The segments [s0, s0 + len) of n values, FE_SEG at a time (the last one the rest). */
#define FE_SEGMENTS(s0, len, n)                                                            \
    for ((s0) = 0, (len) = (n) < FE_SEG ? (n) : FE_SEG; (s0) < (n);                        \
         (s0) += FE_SEG, (len) = (n) - (s0) < FE_SEG ? (n) - (s0) : FE_SEG)
/* Values of the dtype in a 64-byte cache line: the step of a loop of prefetches (several
 * arrays' lines fetched in one loop, line by line, not one array after the other: N2 of
 * docs/design-notes.md) */
#define FE_LINE ((Py_ssize_t)(64 / sizeof(REAL)))

/* An elementwise loop over n values in pieces [lo, hi): the first n - n % W values, then,
 * where n % W != 0 and n >= W, the last W values, overlapping them, where the loop the
 * compiler makes would end in up to W - 1 scalar steps (docs/design-notes.md, N1).  Only
 * for an elementwise body that reads no value it writes: a value computed twice gives the
 * same bits, stored twice.
 * FE_VBYTES (fe_template.h): the instruction set's vector. */
#define FE_PIECES(lo, hi, n, W)                                                            \
    for ((lo) = 0, (hi) = (n) >= (W) ? (n) - (n) % (W) : (n); (lo) < (hi);                 \
         (lo) = (hi) < (n) ? (n) - (W) : (hi), (hi) = (n))

#if defined(_OPENMP) || defined(FE_OPENMP_SIMD)
#  define FE_PRAGMA(x) _Pragma(#x)
#else
#  define FE_PRAGMA(x)
#endif

#ifdef _OPENMP
#  include <omp.h>
#  define FE_OPENMP 1
static inline int fe_max_threads(void) { return omp_get_max_threads(); }
#else
#  define FE_OPENMP 0
static inline int fe_max_threads(void) { return 1; }
#endif

enum { FE_ISA_BASELINE = 0, FE_ISA_AVX2 = 1, FE_ISA_AVX512 = 2 };

/* Best instruction set this CPU runs, capped by `requested` (-1: no cap). */
FE_MAYBE_UNUSED static int fe_best_isa(int requested)
{
    int best = FE_ISA_BASELINE;
#if FE_MULTI_ISA
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = FE_ISA_AVX2;
    if (best == FE_ISA_AVX2 && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl"))
        best = FE_ISA_AVX512;
#endif
    if (requested >= 0 && requested < best)
        best = requested;
    return best;
}

/* A family's dispatch table is a list TABLE(X, ISA) of X(pointer, kernel, ISA), one entry a
 * kernel: FE_TABLE_SET points each pointer at the kernel of instruction set ISA, and
 * FE_TABLE_DECLARE (FE_SPLIT) declares the kernels compiled apart, of the pointers' types. */
#define FE_TABLE_SET1(p, k, ISA) p = k##_##ISA;
#define FE_TABLE_DECLARE1(p, k, ISA)                                                     \
    __attribute__((visibility("hidden"))) __typeof__(*p) k##_##ISA;
#if defined(FE_SPLIT) && FE_MULTI_ISA
#  define FE_TABLE_DECLARE(TABLE)                                                        \
    TABLE(FE_TABLE_DECLARE1, base) TABLE(FE_TABLE_DECLARE1, avx2)                        \
    TABLE(FE_TABLE_DECLARE1, avx512)
#elif defined(FE_SPLIT)
#  define FE_TABLE_DECLARE(TABLE) TABLE(FE_TABLE_DECLARE1, base)
#else
#  define FE_TABLE_DECLARE(TABLE)
#endif

/* The body of a family's select function: point its dispatch table at the kernels of the
 * best instruction set this CPU runs, capped by `requested` (-1: no cap), and return it. */
#if FE_MULTI_ISA
#  define FE_SELECT(requested, TABLE)                                                    \
    do {                                                                                 \
        const int isa_ = fe_best_isa(requested);                                          \
        if (isa_ == FE_ISA_AVX512) { TABLE(FE_TABLE_SET1, avx512) }                      \
        else if (isa_ == FE_ISA_AVX2) { TABLE(FE_TABLE_SET1, avx2) }                     \
        else { TABLE(FE_TABLE_SET1, base) }                                              \
        return isa_;                                                                     \
    } while (0)
#else
#  define FE_SELECT(requested, TABLE)                                                    \
    do { (void)(requested); TABLE(FE_TABLE_SET1, base) return FE_ISA_BASELINE; } while (0)
#endif

/* Element types an operand may have in memory; the kernels compute in float or double and
 * convert other types while gathering a block (no full-size cast is ever made).  A type
 * stored in the other byte order (big-endian data on a little-endian machine: FITS files,
 * network buffers) carries the flag FE_T_SWAPPED. */
enum { FE_T_F32 = 0, FE_T_F64, FE_T_BOOL, FE_T_I8, FE_T_U8, FE_T_I16, FE_T_U16, FE_T_I32,
       FE_T_U32, FE_T_I64, FE_T_U64, FE_T_F16, FE_T_BF16 };
enum { FE_T_SWAPPED = 32 };

/* IEEE binary16 -> binary32, exactly (every half is a float): NaN payloads, infinities,
 * subnormals and signed zeros kept. */
static inline float fe_half_to_float(unsigned short h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 31u, m = h & 1023u;
    uint32_t bits;
    float f;
    if (e == 0) {                       /* zero or subnormal: m * 2^-24, exact */
        f = (float)m * 5.9604644775390625e-08f;
        return sign ? -f : f;
    }
    bits = e == 31 ? (sign | 0x7f800000u | (m << 13))           /* inf, NaN */
                   : (sign | ((e + 112u) << 23) | (m << 13));   /* normal: rebias 15 -> 127 */
    memcpy(&f, &bits, 4);
    return f;
}

/* bfloat16 -> binary32, exactly: a bfloat16 is the top half of a float's bits */
static inline float fe_bf16_to_float(unsigned short h)
{
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline Py_ssize_t fe_type_size(int type)
{
    switch (type & ~FE_T_SWAPPED) {
    case FE_T_BOOL: case FE_T_I8: case FE_T_U8: return 1;
    case FE_T_I16: case FE_T_U16: case FE_T_F16: case FE_T_BF16: return 2;
    case FE_T_F32: case FE_T_I32: case FE_T_U32: return 4;
    default: return 8;
    }
}

#define FE_GATHER_AS(T, CONV)                                                             \
    do {                                                                                  \
        T v_;                                                                             \
        if (stride == (Py_ssize_t)sizeof(T)) {  /* contiguous: loops that vectorise */    \
            const T *FE_RESTRICT s_ = (const T *)src;                                     \
            if (dst_itemsize == 4) {                                                      \
                float *FE_RESTRICT d = (float *)dst;                                      \
                for (i = 0; i < n; i++) d[i] = (float)CONV(s_[i]);                        \
            } else {                                                                      \
                double *FE_RESTRICT d = (double *)dst;                                    \
                for (i = 0; i < n; i++) d[i] = (double)CONV(s_[i]);                       \
            }                                                                             \
        } else if (dst_itemsize == 4) {                                                   \
            float *d = (float *)dst;                                                      \
            for (i = 0; i < n; i++) {                                                     \
                memcpy(&v_, src + i * stride, sizeof(T)); d[i] = (float)CONV(v_);         \
            }                                                                             \
        } else {                                                                          \
            double *d = (double *)dst;                                                    \
            for (i = 0; i < n; i++) {                                                     \
                memcpy(&v_, src + i * stride, sizeof(T)); d[i] = (double)CONV(v_);        \
            }                                                                             \
        }                                                                                 \
    } while (0)
#define FE_SAME(v) (v)

/* n strided elements of type src_type, in this machine's byte order, into a contiguous
 * float/double buffer (always inlined: a kernel unit's copy converts in its own vectors). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void fe_gather_native(void *dst, Py_ssize_t dst_itemsize, const char *src,
                                    Py_ssize_t n, Py_ssize_t stride, int src_type)
{
    Py_ssize_t i;
    switch (src_type) {
    case FE_T_F32: FE_GATHER_AS(float, FE_SAME); break;
    case FE_T_F64: FE_GATHER_AS(double, FE_SAME); break;
    case FE_T_BOOL: case FE_T_U8: FE_GATHER_AS(unsigned char, FE_SAME); break;
    case FE_T_I8: FE_GATHER_AS(signed char, FE_SAME); break;
    case FE_T_I16: FE_GATHER_AS(short, FE_SAME); break;
    case FE_T_U16: FE_GATHER_AS(unsigned short, FE_SAME); break;
    case FE_T_I32: FE_GATHER_AS(int, FE_SAME); break;
    case FE_T_U32: FE_GATHER_AS(unsigned int, FE_SAME); break;
    case FE_T_I64: FE_GATHER_AS(long long, FE_SAME); break;
    case FE_T_U64: FE_GATHER_AS(unsigned long long, FE_SAME); break;
    case FE_T_F16: FE_GATHER_AS(unsigned short, fe_half_to_float); break;
    case FE_T_BF16: FE_GATHER_AS(unsigned short, fe_bf16_to_float); break;
    }
}

/* Copy n strided elements of type src_type (either byte order) into a contiguous
 * float/double buffer (always inlined too, for the same reason). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void fe_gather_as(void *dst, Py_ssize_t dst_itemsize, const char *src,
                                Py_ssize_t n, Py_ssize_t stride, int src_type)
{
    Py_ssize_t i, b;
    if (src_type & FE_T_SWAPPED) {      /* other byte order: one element at a time */
        const Py_ssize_t sz = fe_type_size(src_type);
        char e[8];
        for (i = 0; i < n; i++) {
            for (b = 0; b < sz; b++) e[b] = src[i * stride + sz - 1 - b];
            fe_gather_native((char *)dst + i * dst_itemsize, dst_itemsize, e, 1, sz,
                             src_type & ~FE_T_SWAPPED);
        }
        return;
    }
    fe_gather_native(dst, dst_itemsize, src, n, stride, src_type);
}
#undef FE_GATHER_AS
#undef FE_SAME

/* Copy n contiguous elements into a strided destination. */
static inline void fe_scatter(char *dst, const void *src, Py_ssize_t n, Py_ssize_t stride,
                              Py_ssize_t itemsize)
{
    Py_ssize_t i;
    if (itemsize == 4) {
        const float *s = (const float *)src;
        for (i = 0; i < n; i++) *(float *)(dst + i * stride) = s[i];
    } else {
        const double *s = (const double *)src;
        for (i = 0; i < n; i++) *(double *)(dst + i * stride) = s[i];
    }
}

#endif /* FE_SIMD_H */
