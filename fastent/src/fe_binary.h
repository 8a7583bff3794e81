/*
 * fe_binary.h -- the binary cross-entropy family's loops, built for float and double and for
 * each instruction set, and the dispatch table the Cython driver calls through.
 */
#ifndef FE_BINARY_H
#define FE_BINARY_H

#include "fe_terms.h"
#include "fe_exact.h"

/* the modes (FE_BCE_CLIP, ...) and their terms: FE_ELEMENTWISE in fe_terms_impl.h */
typedef struct {
    int mode;           /* a mode of FE_ELEMENTWISE                                      */
    double lo, hi;      /* clip bounds of p (clip mode; information: lo; binary entropy's
                         * gradient: both)                                              */
    double log_min;     /* lower clamp of each log (log_min mode)                        */
    double smooth;      /* label smoothing: t -> t (1 - smooth) + smooth / 2             */
    double loss_scale;  /* written loss = w l * loss_scale  (1 / ln base)                */
    double grad_scale;  /* written grad = w dl * grad_scale (1 / ln base, / sum w)       */
    double a, b;        /* a term's own parameters                                       */
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

/* the modes' names (their terms' stems), for fastent._binary.MODES */
#define FE_EL_NAME(M, stem, target, unit, var) #stem,
static const char *const fe_elementwise_names[FE_NMODES] = {FE_ELEMENTWISE(FE_EL_NAME)};
#undef FE_EL_NAME

static int fe_binary_select(int requested) { FE_SELECT(requested, FE_BINARY_TABLE); }
#endif

#endif /* FE_BINARY_H */
