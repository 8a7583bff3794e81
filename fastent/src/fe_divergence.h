/*
 * fe_divergence.h -- cross-entropy / KL divergence / entropy row kernels, built for float
 * and double and for each instruction set, and their dispatch table.
 */
#ifndef FE_DIVERGENCE_H
#define FE_DIVERGENCE_H

#include "fe_simd.h"

#define FE_TEMPLATE "fe_divergence_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

/* (C, x, t, eps, grad, gscale, bad) -> row loss */
typedef double (*fe_div_f32_fn)(Py_ssize_t, const float *, const float *, double, float *,
                                double, int *);
typedef double (*fe_div_f64_fn)(Py_ssize_t, const double *, const double *, double,
                                double *, double, int *);

typedef void (*fe_div_block_f32_fn)(int, Py_ssize_t, Py_ssize_t, const float *, const float *,
                                    double, float *, const double *, double *, float *, int *);
typedef void (*fe_div_block_f64_fn)(int, Py_ssize_t, Py_ssize_t, const double *,
                                    const double *, double, double *, const double *, double *,
                                    double *, int *);
static fe_div_block_f32_fn fe_div_block_f32;
static fe_div_block_f64_fn fe_div_block_f64;
static fe_div_f32_fn fe_xent_f32, fe_kl_f32, fe_entropy_f32;
static fe_div_f64_fn fe_xent_f64, fe_kl_f64, fe_entropy_f64;

#define FE_DIVERGENCE_SET(ISA)                                                          \
    fe_xent_f32 = fe_xent_row_f32_##ISA; fe_xent_f64 = fe_xent_row_f64_##ISA;            \
    fe_kl_f32 = fe_kl_row_f32_##ISA; fe_kl_f64 = fe_kl_row_f64_##ISA;                    \
    fe_entropy_f32 = fe_entropy_row_f32_##ISA; fe_entropy_f64 = fe_entropy_row_f64_##ISA; \
    fe_div_block_f32 = fe_div_block_f32_##ISA; fe_div_block_f64 = fe_div_block_f64_##ISA;

static int fe_divergence_select(int requested) { FE_SELECT(requested, FE_DIVERGENCE_SET); }

#endif /* FE_DIVERGENCE_H */
