# cython: language_level=3
"""Declarations every kernel family shares: the instruction-set dispatch, the OpenMP shim
and the strided gather/scatter helpers of src/fe_simd.h."""

cdef extern from "fe_simd.h" nogil:
    int FE_VECMATH, FE_OPENMP, FE_MULTI_ISA
    int FE_ISA_BASELINE, FE_ISA_AVX2, FE_ISA_AVX512
    int fe_best_isa(int requested)
    int fe_max_threads()
    void fe_gather(void *dst, const char *src, Py_ssize_t n, Py_ssize_t stride,
                   Py_ssize_t itemsize)
    void fe_scatter(char *dst, const void *src, Py_ssize_t n, Py_ssize_t stride,
                    Py_ssize_t itemsize)

# Elements per reduction block.  The partition of the data into blocks depends on the
# iteration shape only, and block sums are combined in block order, so every thread count
# gives the same bits.
cdef enum:
    FE_BLOCK = 2048
    FE_MAXDIM = 64
    FE_PARALLEL_MIN = 16   # blocks: smaller calls run on one thread
