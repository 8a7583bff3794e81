/*
 * fe_simd.h -- vector maths and instruction-set dispatch shared by every kernel family.
 *
 * Vectorised exp/log without -ffast-math: glibc declares the libmvec variants only under
 * __FAST_MATH__, so we declare them here.  GCC then calls _ZGVbN4v_logf (SSE2),
 * _ZGVdN8v_logf (AVX2) or _ZGVeN16v_logf (AVX-512) from loops marked `omp simd`.  libmvec
 * keeps IEEE semantics for inf, NaN and subnormals; errno is never set (-fno-math-errno).
 *
 * Each family's inner loops are compiled three times (baseline x86-64, x86-64-v3,
 * x86-64-v4) by including its *_impl.h under `#pragma GCC target`; fe_select_isa() picks one
 * at import from the CPU's features, or the one FASTENT_SIMD forces.
 */
#ifndef FE_SIMD_H
#define FE_SIMD_H

#include <math.h>
#include <stddef.h>
#include <Python.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) \
    && defined(FE_HAVE_LIBMVEC)
#  define FE_VECMATH 1
#  define FE_VDECL __attribute__((__simd__("notinbranch")))
FE_VDECL extern float expf(float);
FE_VDECL extern float logf(float);
FE_VDECL extern double exp(double);
FE_VDECL extern double log(double);
#  if __GLIBC_PREREQ(2, 35)
FE_VDECL extern float log1pf(float);
FE_VDECL extern double log1p(double);
#  endif
#else
#  define FE_VECMATH 0
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#  define FE_MULTI_ISA 1
#else
#  define FE_MULTI_ISA 0
#endif

#if defined(__GNUC__)
#  define FE_INLINE static inline __attribute__((always_inline))
#else
#  define FE_INLINE static inline
#endif

#if defined(_OPENMP) || defined(FE_OPENMP_SIMD)
#  define FE_PRAGMA(x) _Pragma(#x)
#else
#  define FE_PRAGMA(x)
#endif

#ifdef _OPENMP
#  include <omp.h>
#  define FE_OPENMP 1
static int fe_max_threads(void) { return omp_get_max_threads(); }
#else
#  define FE_OPENMP 0
static int fe_max_threads(void) { return 1; }
#endif

enum { FE_ISA_BASELINE = 0, FE_ISA_AVX2 = 1, FE_ISA_AVX512 = 2 };

/* Best instruction set this CPU runs, capped by `requested` (-1: no cap). */
static int fe_best_isa(int requested)
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

/* Copy n elements of `itemsize` bytes from a strided source into a contiguous buffer. */
static inline void fe_gather(void *dst, const char *src, Py_ssize_t n, Py_ssize_t stride,
                             Py_ssize_t itemsize)
{
    Py_ssize_t i;
    if (itemsize == 4) {
        float *d = (float *)dst;
        for (i = 0; i < n; i++) d[i] = *(const float *)(src + i * stride);
    } else {
        double *d = (double *)dst;
        for (i = 0; i < n; i++) d[i] = *(const double *)(src + i * stride);
    }
}

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
