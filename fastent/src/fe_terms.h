/*
 * fe_terms.h -- the terms of every loss (fe_terms_impl.h) for float and double, on top of
 * fastent's own maths (fe_math.h).  Term x of dtype f32 is fe_x_f32; inside a family's
 * template FE_T(x) names the term of the dtype being instantiated.
 */
#ifndef FE_TERMS_H
#define FE_TERMS_H

#include "fe_simd.h"
#include "fe_math.h"

#define FE_LANES 16             /* lanes of every row sum (fe_terms_impl.h) */
#define FE_T_(x, dt) fe_##x##_##dt
#define FE_TX(x, dt) FE_T_(x, dt)
#define FE_T(x) FE_TX(x, FE_DT)

#define REAL float
#define FE_DT f32
#define EXP fe_expf
#define LOG fe_logf
#define LOG1P fe_log1pf
#define LOGRATIO fe_logratiof
#include "fe_terms_impl.h"
#undef REAL
#undef FE_DT
#undef EXP
#undef LOG
#undef LOG1P
#undef LOGRATIO

#define REAL double
#define FE_DT f64
#define EXP fe_exp
#define LOG fe_log
#define LOG1P fe_log1p
#define LOGRATIO fe_logratio
#include "fe_terms_impl.h"
#undef REAL
#undef FE_DT
#undef EXP
#undef LOG
#undef LOG1P
#undef LOGRATIO

#endif /* FE_TERMS_H */
