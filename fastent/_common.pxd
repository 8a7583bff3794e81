# cython: language_level=3
"""Declarations every kernel family shares: the instruction-set dispatch, the OpenMP shim
and the strided gather/scatter helpers of src/fe_simd.h, and the compensated sum."""

from libc.math cimport fabs

cdef extern from "fe_simd.h" nogil:
    int FE_VECMATH, FE_OPENMP, FE_MULTI_ISA
    int FE_ISA_BASELINE, FE_ISA_AVX2, FE_ISA_AVX512
    int fe_best_isa(int requested)
    int fe_max_threads()
    void fe_gather_as(void *dst, Py_ssize_t dst_itemsize, const char *src, Py_ssize_t n,
                      Py_ssize_t stride, int src_type)
    void fe_scatter(char *dst, const void *src, Py_ssize_t n, Py_ssize_t stride,
                    Py_ssize_t itemsize)

# Elements per reduction block.  The partition of the data into blocks depends on the
# iteration shape only, and block sums are combined in block order, so every thread count
# gives the same bits.
cdef enum:
    FE_BLOCK = 2048
    FE_MAXDIM = 64
    FE_PARALLEL_MIN = 16   # blocks: smaller calls run on one thread


cdef inline void neumaier_add(double *s, double *c, double x) noexcept nogil:
    """s + c += x, Neumaier's compensated summation (the combination of block sums)."""
    cdef double t = s[0] + x
    if fabs(s[0]) >= fabs(x):
        c[0] += (s[0] - t) + x
    else:
        c[0] += (x - t) + s[0]
    s[0] = t
