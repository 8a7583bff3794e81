/*
 * fe_vecmath_impl.h -- fastent's maths applied elementwise, as the kernels call it (inlined
 * into an `omp simd` loop of one instruction set): what tests/test_vecmath.py measures
 * against a higher-precision reference.  No include guard on purpose.
 * fn: 0 exp, 1 log, 2 log1p.
 */
FE_KERNEL void FE_FN(vecmath)(int fn, Py_ssize_t n, const REAL *FE_RESTRICT x,
                           REAL *FE_RESTRICT y)
{
    Py_ssize_t i;
    if (fn == 0) {
        FE_PRAGMA(omp simd)
        for (i = 0; i < n; i++) y[i] = EXP(x[i]);
    } else if (fn == 1) {
        FE_PRAGMA(omp simd)
        for (i = 0; i < n; i++) y[i] = FE_T(vm_log)(x[i]);
    } else {
        FE_PRAGMA(omp simd)
        for (i = 0; i < n; i++) y[i] = FE_T(vm_log1p)(x[i]);
    }
}
