/*
 * fe_vecmath.h -- fastent's own maths (fe_math.h) over arrays, for each instruction set:
 * the test hook of the accuracy sweep and of the cross-path identity tests.
 */
#ifndef FE_VECMATH_H
#define FE_VECMATH_H

#include "fe_terms.h"

FE_INLINE float fe_vm_log_f32(float x) { return fe_logf(x); }
FE_INLINE double fe_vm_log_f64(double x) { return fe_log(x); }
FE_INLINE float fe_vm_log1p_f32(float x) { return fe_log1pf(x); }
FE_INLINE double fe_vm_log1p_f64(double x) { return fe_log1p(x); }

#define FE_TEMPLATE "fe_vecmath_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

#ifndef FE_UNIT
typedef void (*fe_vm_f32_fn)(int, Py_ssize_t, const float *, float *);
typedef void (*fe_vm_f64_fn)(int, Py_ssize_t, const double *, double *);
static fe_vm_f32_fn fe_vm_f32;
static fe_vm_f64_fn fe_vm_f64;

#define FE_VECMATH_TABLE(X, ISA)                                                       \
    X(fe_vm_f32, fe_vecmath_f32, ISA) X(fe_vm_f64, fe_vecmath_f64, ISA)
FE_TABLE_DECLARE(FE_VECMATH_TABLE)

static int fe_vecmath_select(int requested) { FE_SELECT(requested, FE_VECMATH_TABLE); }
#endif

#endif /* FE_VECMATH_H */
