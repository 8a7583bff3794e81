/*
 * fe_softmax.h -- the softmax cross-entropy block kernel, built for float and double and for
 * each instruction set, and the dispatch table the Cython driver calls through.
 */
#ifndef FE_SOFTMAX_H
#define FE_SOFTMAX_H

#include "fe_terms.h"

#define FE_TEMPLATE "fe_softmax_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

typedef void (*fe_smx_block_f32_fn)(Py_ssize_t, Py_ssize_t, const float *, const Py_ssize_t *,
                                    const float *, const float *, double, double, float *,
                                    const double *, double *, float *, double *, double *,
                                    int *);
typedef void (*fe_smx_block_f64_fn)(Py_ssize_t, Py_ssize_t, const double *, const Py_ssize_t *,
                                    const double *, const double *, double, double, double *,
                                    const double *, double *, double *, double *, double *,
                                    int *);
static fe_smx_block_f32_fn fe_smx_block_f32;
static fe_smx_block_f64_fn fe_smx_block_f64;

#define FE_SOFTMAX_SET(ISA)                                                             \
    fe_smx_block_f32 = fe_softmax_block_f32_##ISA;                                      \
    fe_smx_block_f64 = fe_softmax_block_f64_##ISA;

static int fe_softmax_select(int requested) { FE_SELECT(requested, FE_SOFTMAX_SET); }

#endif /* FE_SOFTMAX_H */
