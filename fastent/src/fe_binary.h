/*
 * fe_binary.h -- the binary cross-entropy family's loops, built for float and double and for
 * each instruction set, and the dispatch table the Cython driver calls through.
 */
#ifndef FE_BINARY_H
#define FE_BINARY_H

#include "fe_terms.h"
#include "fe_exact.h"

/* the elementwise functions: BCE three ways; information and binary entropy (no target) */
enum { FE_BCE_CLIP = 0, FE_BCE_LOGMIN = 1, FE_BCE_LOGITS = 2, FE_INFO = 3, FE_BENT = 4 };

typedef struct {
    int mode;           /* FE_BCE_CLIP, FE_BCE_LOGMIN (PyTorch), FE_BCE_LOGITS, FE_INFO,
                         * FE_BENT                                                      */
    double lo, hi;      /* clip bounds of p (clip mode; information: lo; binary entropy's
                         * gradient: both)                                              */
    double log_min;     /* lower clamp of each log (log_min mode)                        */
    double smooth;      /* label smoothing: t -> t (1 - smooth) + smooth / 2             */
    double loss_scale;  /* written loss = w l * loss_scale  (1 / ln base)                */
    double grad_scale;  /* written grad = w dl * grad_scale (1 / ln base, / sum w)       */
} fe_bparams;

typedef void (*fe_bce_f32_fn)(Py_ssize_t, const float *, const float *, const float *,
                              const float *, float *, float *, const fe_bparams *, int *,
                              fe_xsum *, fe_xsum *, double *);
typedef void (*fe_bce_f64_fn)(Py_ssize_t, const double *, const double *, const double *,
                              const double *, double *, double *, const fe_bparams *, int *,
                              fe_xsum *, fe_xsum *, double *);

#define FE_TEMPLATE "fe_binary_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

#ifndef FE_UNIT
static fe_bce_f32_fn fe_bce_f32;
static fe_bce_f64_fn fe_bce_f64;

#define FE_BINARY_TABLE(X, ISA) X(fe_bce_f32, fe_bce_f32, ISA) X(fe_bce_f64, fe_bce_f64, ISA)
FE_TABLE_DECLARE(FE_BINARY_TABLE)

static int fe_binary_select(int requested) { FE_SELECT(requested, FE_BINARY_TABLE); }
#endif

#endif /* FE_BINARY_H */
