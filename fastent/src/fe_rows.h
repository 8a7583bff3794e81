/*
 * fe_rows.h -- the row driver's per-row last step (fe_rows_impl.h), built for float and
 * double and for each instruction set, and its dispatch table.
 */
#ifndef FE_ROWS_H
#define FE_ROWS_H

#include "fe_terms.h"
#include "fe_exact.h"

/* The one rule for a row's label, branch-free: bit 0 set when the row counts nowhere
 * (ignore_index, or a label outside [0, C)), bit 2 (bad bit 4) when it is outside [0, C)
 * and not ignore_index -- an error the caller reports. */
static inline Py_ssize_t fe_label_flags(Py_ssize_t label, Py_ssize_t C, int has_ignore,
                                        Py_ssize_t ignore_index)
{
    /* in the labels' width throughout (vector loops need no packing); C >= 0, so the
     * unsigned comparison is label < 0 or label >= C */
    const Py_ssize_t skip = (Py_ssize_t)has_ignore & (label == ignore_index);
    const Py_ssize_t outside = (size_t)label >= (size_t)C;
    return (skip | outside) | ((outside & (skip ^ 1)) << 2);
}

#define FE_TEMPLATE "fe_rows_impl.h"
#include "fe_template.h"
#undef FE_TEMPLATE

#ifndef FE_UNIT
typedef void (*fe_rows_finish_fn)(Py_ssize_t, const double *, double *, double, char *,
                                  Py_ssize_t, fe_xsum *, double *);
static fe_rows_finish_fn fe_rows_finish_f32, fe_rows_finish_f64;
typedef int (*fe_rows_labels_fn)(Py_ssize_t, const char *, Py_ssize_t, const char *,
                                 Py_ssize_t, Py_ssize_t, int, Py_ssize_t, double, Py_ssize_t *,
                                 double *, double *);
static fe_rows_labels_fn fe_rows_labels;
typedef void (*fe_rows_gather_fn)(void *, Py_ssize_t, const char *, Py_ssize_t, Py_ssize_t,
                                  int);
static fe_rows_gather_fn fe_rows_gather;

#define FE_ROWS_TABLE(X, ISA)                                                           \
    X(fe_rows_finish_f32, fe_rows_finish_f32, ISA)                                      \
    X(fe_rows_finish_f64, fe_rows_finish_f64, ISA)                                      \
    X(fe_rows_labels, fe_rows_labels_f64, ISA)   /* (no dtype: fe_rows_impl.h) */    \
    X(fe_rows_gather, fe_rows_gather_f64, ISA)
FE_TABLE_DECLARE(FE_ROWS_TABLE)

static int fe_rows_select(int requested) { FE_SELECT(requested, FE_ROWS_TABLE); }
#endif

#endif /* FE_ROWS_H */
