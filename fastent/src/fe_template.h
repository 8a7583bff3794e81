/*
 * fe_template.h -- instantiates the family file named by FE_TEMPLATE for each instruction
 * set: the x86-64 baseline always, and (GCC or clang on x86-64) x86-64-v3 (AVX2, FMA) and
 * x86-64-v4 (AVX-512) under `#pragma GCC target` or clang's `#pragma clang attribute`
 * (the feature lists below are those of the two x86-64 micro-architecture levels).
 * Function x becomes fe_x_f32_base, fe_x_f64_avx2, ...  FE_WIDE: 1 where the instruction
 * set has 256-bit integer vectors (AVX2), 2 where it has 512-bit ones (AVX-512; row_keys
 * takes those): the vector-of-rows paths, in the kernels
 * (the labels' gradient in lanes) and in the shared inline terms, which take it as an
 * argument (the preprocessor sees the baseline's macros only: the terms are compiled once
 * and inlined into each instruction set's functions).  FE_VBYTES: the bytes of the
 * instruction set's widest vector (16, 32, 64), for the kernels' loop widths (FE_PIECES,
 * FE_PAIR_SIMDLEN).
 * FE_UNIT_HAS (fe_simd.h): the instruction sets this translation unit compiles.
 * No include guard on purpose.
 */
#define FE_CAT_(a, b, c) fe_##a##_##b##_##c
#define FE_CAT(a, b, c) FE_CAT_(a, b, c)
#define FE_FN(x) FE_CAT(x, FE_DT, FE_ISA)

#if FE_UNIT_HAS(0)
#define FE_ISA base
#define FE_WIDE 0
#define FE_VBYTES 16
#include "fe_template_dtypes.h"
#undef FE_ISA
#undef FE_WIDE
#undef FE_VBYTES
#endif

#if FE_MULTI_ISA && defined(__clang__)
#if FE_UNIT_HAS(1)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,lzcnt,movbe,popcnt,f16c,sse4.2,xsave"))), apply_to = function)
#define FE_ISA avx2
#define FE_WIDE 1
#define FE_VBYTES 32
#include "fe_template_dtypes.h"
#undef FE_ISA
#undef FE_WIDE
#undef FE_VBYTES
#pragma clang attribute pop
#endif

#if FE_UNIT_HAS(2)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,lzcnt,movbe,popcnt,f16c,sse4.2,xsave,avx512f,avx512bw,avx512cd,avx512dq,avx512vl"))), apply_to = function)
#define FE_ISA avx512
#define FE_WIDE 2
#define FE_VBYTES 64
#include "fe_template_dtypes.h"
#undef FE_ISA
#undef FE_WIDE
#undef FE_VBYTES
#pragma clang attribute pop
#endif
#elif FE_MULTI_ISA
#if FE_UNIT_HAS(1)
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define FE_ISA avx2
#define FE_WIDE 1
#define FE_VBYTES 32
#include "fe_template_dtypes.h"
#undef FE_ISA
#undef FE_WIDE
#undef FE_VBYTES
#pragma GCC pop_options
#endif

#if FE_UNIT_HAS(2)
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define FE_ISA avx512
#define FE_WIDE 2
#define FE_VBYTES 64
#include "fe_template_dtypes.h"
#undef FE_ISA
#undef FE_WIDE
#undef FE_VBYTES
#pragma GCC pop_options
#endif
#endif

#undef FE_FN
#undef FE_CAT
#undef FE_CAT_
