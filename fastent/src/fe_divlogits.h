/*
 * fe_divlogits.h -- the KL / Jensen-Shannon divergence from logits block kernel, built for
 * float and double and for each instruction set, and its dispatch table.
 */
#ifndef FE_DIVLOGITS_H
#define FE_DIVLOGITS_H

#include "fe_terms.h"

#define FE_TEMPLATE "fe_divlogits_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

#ifndef FE_UNIT
typedef void (*fe_divlogits_block_f32_fn)(int, Py_ssize_t, Py_ssize_t, const float *,
                                          const float *, double, double, float *,
                                          const double *, double *, float *, double *);
typedef void (*fe_divlogits_block_f64_fn)(int, Py_ssize_t, Py_ssize_t, const double *,
                                          const double *, double, double, double *,
                                          const double *, double *, double *, double *);
static fe_divlogits_block_f32_fn fe_divlogits_block_f32;
static fe_divlogits_block_f64_fn fe_divlogits_block_f64;

#define FE_DIVLOGITS_TABLE(X, ISA)                                                     \
    X(fe_divlogits_block_f32, fe_divlogits_block_f32, ISA)                            \
    X(fe_divlogits_block_f64, fe_divlogits_block_f64, ISA)
FE_TABLE_DECLARE(FE_DIVLOGITS_TABLE)

static int fe_divlogits_select(int requested) { FE_SELECT(requested, FE_DIVLOGITS_TABLE); }
#endif

#endif /* FE_DIVLOGITS_H */
