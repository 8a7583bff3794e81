# cython: language_level=3
"""Declarations every kernel family shares: the instruction-set dispatch, the OpenMP shim,
the strided gather/scatter helpers of src/fe_simd.h, and the exact sums of src/fe_exact.h
(the one reduction path: every reduced value of every family goes through them)."""

from libc.stdlib cimport free, malloc

cdef extern from "fe_simd.h" nogil:
    int FE_OPENMP, FE_MULTI_ISA
    int FE_ISA_BASELINE, FE_ISA_AVX2, FE_ISA_AVX512
    int fe_best_isa(int requested)
    int fe_max_threads()
    enum: FE_T_F32, FE_T_F64
    void fe_gather_as(void *dst, Py_ssize_t dst_itemsize, const char *src, Py_ssize_t n,
                      Py_ssize_t stride, int src_type)
    void fe_scatter(char *dst, const void *src, Py_ssize_t n, Py_ssize_t stride,
                    Py_ssize_t itemsize)

cdef extern from "fe_exact.h" nogil:
    enum: FE_XBLOCK
    ctypedef struct fe_xsum:
        double p[48]
        int n
        long long pinf, ninf, nan
        int ovf
    void fe_xsum_init(fe_xsum *s)
    void fe_xsum_add(fe_xsum *s, double x)
    void fe_xsum_merge(fe_xsum *a, const fe_xsum *b)
    void fe_xsum_add_f32(fe_xsum *s, const float *v, Py_ssize_t n, double *r)
    void fe_xsum_add_f64(fe_xsum *s, const double *v, Py_ssize_t n, double *r)

# Elements per reduction block.  The partition of the data into blocks depends on the
# iteration shape only; sums are exact, so neither blocks nor threads change a bit.
cdef enum:
    FE_BLOCK = 2048
    FE_MAXDIM = 64
    FE_PARALLEL_MIN = 16   # blocks: smaller calls run on one thread


cdef inline tuple xsum_state(const fe_xsum *s):
    """The exact sum as fastent._exact.ExactSum's state: (partials, +inf, -inf, NaN, overflow)."""
    return (tuple([s.p[i] for i in range(s.n)]), s.pinf, s.ninf, s.nan, s.ovf)


cdef inline tuple xsum_threads_state(fe_xsum *sums, int nt):
    """Merge per-thread exact sums (order is irrelevant: they are exact) into the state."""
    cdef int k
    for k in range(1, nt):
        fe_xsum_merge(&sums[0], &sums[k])
    return xsum_state(&sums[0])
