/*
 * fe_divergence.h -- the cross-entropy / KL / entropy / Jensen-Shannon block kernel, built for
 * float and double and for each instruction set, and its dispatch table.
 */
#ifndef FE_DIVERGENCE_H
#define FE_DIVERGENCE_H

#include "fe_terms.h"

#define FE_TEMPLATE "fe_divergence_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

#ifndef FE_UNIT
typedef void (*fe_div_block_f32_fn)(int, Py_ssize_t, Py_ssize_t, const float *, const float *,
                                    double, double, float *, const double *, double *, float *,
                                    double *, int *);
typedef void (*fe_div_block_f64_fn)(int, Py_ssize_t, Py_ssize_t, const double *,
                                    const double *, double, double, double *, const double *,
                                    double *, double *, double *, int *);
static fe_div_block_f32_fn fe_div_block_f32;
static fe_div_block_f64_fn fe_div_block_f64;

#define FE_DIVERGENCE_TABLE(X, ISA)                                                     \
    X(fe_div_block_f32, fe_div_block_f32, ISA) X(fe_div_block_f64, fe_div_block_f64, ISA)
FE_TABLE_DECLARE(FE_DIVERGENCE_TABLE)

static int fe_divergence_select(int requested) { FE_SELECT(requested, FE_DIVERGENCE_TABLE); }
#endif

#endif /* FE_DIVERGENCE_H */
