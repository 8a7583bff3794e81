/*
 * fe_template.h -- instantiates the family file named by FE_TEMPLATE for each instruction
 * set: the x86-64 baseline always, and (GCC on x86-64) x86-64-v3 (AVX2, FMA) and x86-64-v4
 * (AVX-512) under `#pragma GCC target`.  Function x becomes fe_x_f32_base, fe_x_f64_avx2, ...
 * No include guard on purpose.
 */
#define FE_CAT_(a, b, c) fe_##a##_##b##_##c
#define FE_CAT(a, b, c) FE_CAT_(a, b, c)
#define FE_FN(x) FE_CAT(x, FE_DT, FE_ISA)

#define FE_ISA base
#include "fe_template_dtypes.h"
#undef FE_ISA

#if FE_MULTI_ISA
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define FE_ISA avx2
#include "fe_template_dtypes.h"
#undef FE_ISA
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define FE_ISA avx512
#include "fe_template_dtypes.h"
#undef FE_ISA
#pragma GCC pop_options
#endif

#undef FE_FN
#undef FE_CAT
#undef FE_CAT_
