/*
 * fe_rows.h -- the row driver's per-row last step (fe_rows_impl.h), built for float and
 * double and for each instruction set, and its dispatch table.
 */
#ifndef FE_ROWS_H
#define FE_ROWS_H

#include "fe_terms.h"
#include "fe_exact.h"

#define FE_TEMPLATE "fe_rows_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

typedef void (*fe_rows_finish_fn)(Py_ssize_t, const double *, double *, double, char *,
                                  Py_ssize_t, fe_xsum *, double *);
static fe_rows_finish_fn fe_rows_finish_f32, fe_rows_finish_f64;

#define FE_ROWS_SET(ISA)                                                                \
    fe_rows_finish_f32 = fe_rows_finish_f32_##ISA;                                      \
    fe_rows_finish_f64 = fe_rows_finish_f64_##ISA;

static int fe_rows_select(int requested) { FE_SELECT(requested, FE_ROWS_SET); }

#endif /* FE_ROWS_H */
