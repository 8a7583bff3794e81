/*
 * fe_softmax.h -- the softmax cross-entropy block kernel, built for float and double and for
 * each instruction set, and the dispatch table the Cython driver calls through.
 */
#ifndef FE_SOFTMAX_H
#define FE_SOFTMAX_H

#include "fe_terms.h"

/* Whether softmax_block runs a block in the two-class loop (softmax_pairs): two classes, no
 * class weights, no smoothing, no statistics (the driver asks before it passes raw labels) */
static inline int fe_softmax_in_pairs(Py_ssize_t C, const void *cw, double smooth,
                                      const void *stats)
{
    return C == 2 && !cw && smooth == 0.0 && !stats;
}

#define FE_TEMPLATE "fe_softmax_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

#ifndef FE_UNIT
typedef void (*fe_softmax_block_f32_fn)(Py_ssize_t, Py_ssize_t, const float *,
                                        const Py_ssize_t *, const float *, const float *,
                                        double, double, float *, const double *, double *,
                                        float *, double *, double *, int *, const char *,
                                        Py_ssize_t);
typedef void (*fe_softmax_block_f64_fn)(Py_ssize_t, Py_ssize_t, const double *,
                                        const Py_ssize_t *, const double *, const double *,
                                        double, double, double *, const double *, double *,
                                        double *, double *, double *, int *, const char *,
                                        Py_ssize_t);
static fe_softmax_block_f32_fn fe_softmax_block_f32;
static fe_softmax_block_f64_fn fe_softmax_block_f64;
typedef void (*fe_softmax_pairs_raw_f32_fn)(Py_ssize_t, const float *, const Py_ssize_t *,
                                            float *, const double *, double *, int *);
typedef void (*fe_softmax_pairs_raw_f64_fn)(Py_ssize_t, const double *, const Py_ssize_t *,
                                            double *, const double *, double *, int *);
static fe_softmax_pairs_raw_f32_fn fe_softmax_pairs_raw_f32;
static fe_softmax_pairs_raw_f64_fn fe_softmax_pairs_raw_f64;

#define FE_SOFTMAX_TABLE(X, ISA)                                                        \
    X(fe_softmax_block_f32, fe_softmax_block_f32, ISA)                                  \
    X(fe_softmax_block_f64, fe_softmax_block_f64, ISA)                                  \
    X(fe_softmax_pairs_raw_f32, fe_softmax_pairs_raw_f32, ISA)                          \
    X(fe_softmax_pairs_raw_f64, fe_softmax_pairs_raw_f64, ISA)
FE_TABLE_DECLARE(FE_SOFTMAX_TABLE)

static int fe_softmax_select(int requested) { FE_SELECT(requested, FE_SOFTMAX_TABLE); }
#endif

#endif /* FE_SOFTMAX_H */
