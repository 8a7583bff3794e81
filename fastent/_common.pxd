# cython: language_level=3
"""Declarations every kernel family shares: the instruction-set dispatch, the OpenMP shim,
the strided gather/scatter helpers of src/fe_simd.h, the exact sums of src/fe_exact.h
(the one reduction path: every reduced value of every family goes through them), and the
tests by which the thin call paths recognise the common case."""

cimport numpy as cnp

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
    Py_ssize_t fe_type_size(int type)

cdef extern from "fe_exact.h" nogil:
    enum: FE_XBLOCK
    ctypedef struct fe_xsum:
        double p[48]
        int n
        long long pinf, ninf, nan
        long long carry
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
    return (tuple([s.p[i] for i in range(s.n)]), s.pinf, s.ninf, s.nan, s.carry)


# ---- the common case, recognised in O(1) (the public functions' thin call path) ----------


cdef inline bint plain_array(object a):
    """An exact numpy.ndarray, C-contiguous, aligned, in this machine's byte order: what the
    kernels read in place with no layout work."""
    if type(a) is not cnp.ndarray:
        return False
    return (cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>a)
            and not cnp.PyArray_ISBYTESWAPPED(<cnp.ndarray>a))


cdef inline bint real_number(object x):
    """A Python float or int (not a bool): what fastent._validation.real accepts without
    conversion."""
    return isinstance(x, float) or type(x) is int


cdef inline bint disjoint(cnp.ndarray a, object b):
    """Whether the bytes of C-contiguous `a` and of `b` (a C-contiguous array or None) do
    not overlap."""
    if b is None:
        return True
    cdef char *pa = <char *>cnp.PyArray_DATA(a)
    cdef char *pb = <char *>cnp.PyArray_DATA(<cnp.ndarray>b)
    return (pa + cnp.PyArray_NBYTES(a) <= pb or pb + cnp.PyArray_NBYTES(<cnp.ndarray>b) <= pa
            or cnp.PyArray_NBYTES(a) == 0 or cnp.PyArray_NBYTES(<cnp.ndarray>b) == 0)


cdef inline bint thread_count_plain(object n_threads):
    """n_threads as fastent._threads.resolve accepts it without error (None or a non-zero
    int)."""
    return n_threads is None or (type(n_threads) is int and n_threads != 0)


cdef inline bint common_keywords(object reduction, object base, object label_smoothing,
                                 object zero_division, object n_threads):
    """The keywords every family shares, at values the thin call path serves: a valid
    reduction, base "e", no label smoothing, a real zero_division, a valid n_threads."""
    return (type(reduction) is str and reduction in ("mean", "sum", "none")
            and type(base) is str and base == "e"
            and real_number(label_smoothing) and label_smoothing == 0
            and real_number(zero_division) and thread_count_plain(n_threads))


cdef inline int float_type(object a):
    """The numpy type number of a plain_array of float32 or float64, else -1."""
    if not plain_array(a):
        return -1
    cdef int typ = cnp.PyArray_TYPE(<cnp.ndarray>a)
    return typ if typ == cnp.NPY_FLOAT or typ == cnp.NPY_DOUBLE else -1


cdef inline object xsum_value(const fe_xsum *s, object rounded):
    """fastent._exact.ExactSum.value() of an exact sum (`rounded` is fastent._exact.rounded):
    the same correctly rounded float64."""
    if s.nan or (s.pinf and s.ninf):
        return float("nan")
    if s.pinf:
        return float("inf")
    if s.ninf:
        return float("-inf")
    return rounded([s.p[i] for i in range(s.n)], s.carry)
