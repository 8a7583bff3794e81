# cython: language_level=3
"""What the build and the CPU offer: OpenMP, threads, instruction sets; and fastent's own
maths over arrays (src/fe_vecmath.h), for the accuracy and cross-path tests."""

cimport numpy as cnp
import numpy as np
from libc.stdlib cimport free, malloc
from fastent._common cimport (FE_BLOCK, FE_OPENMP, FE_MULTI_ISA, FE_PARALLEL_MIN, FE_XBLOCK,
                              fe_best_isa,
                              fe_max_threads, fe_xsum, fe_xsum_add_f32, fe_xsum_add_f64,
                              fe_xsum_init, xsum_state)

cnp.import_array()

cdef extern from "fe_vecmath.h" nogil:
    ctypedef void (*fe_vm_f32_fn)(int, Py_ssize_t, const float *, float *)
    ctypedef void (*fe_vm_f64_fn)(int, Py_ssize_t, const double *, double *)
    fe_vm_f32_fn fe_vm_f32
    fe_vm_f64_fn fe_vm_f64
    int fe_vecmath_select(int requested)

OPENMP = bool(FE_OPENMP)
MULTI_ISA = bool(FE_MULTI_ISA)
PARALLEL_MIN = FE_PARALLEL_MIN * FE_BLOCK    # elements: the drivers run smaller calls serially
_FUNCTIONS = ("exp", "log", "log1p")


def max_threads():
    """Threads an OpenMP region uses by default (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return fe_max_threads()


def best_isa(int requested=-1):
    """Best instruction set of this CPU that fastent has kernels for, capped by `requested`:
    0 baseline x86-64, 1 x86-64-v3 (AVX2, FMA), 2 x86-64-v4 (AVX-512)."""
    return fe_best_isa(requested)


def select_isa(int requested=-1):
    """Point the maths' dispatch table at the best instruction set (capped by `requested`)."""
    return fe_vecmath_select(requested)


def vecmath(str name, x):
    """fastent's own `name` ("exp", "log" or "log1p") of a float32 or float64 array,
    elementwise, as the kernels of the selected instruction set compute it."""
    if name not in _FUNCTIONS:
        raise ValueError(f"name: must be one of {_FUNCTIONS}, got {name!r}")
    cdef cnp.ndarray a = np.ascontiguousarray(x)
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"x: must be float32 or float64, got {a.dtype}")
    cdef cnp.ndarray y = np.empty_like(a)
    cdef int fn = _FUNCTIONS.index(name)
    cdef Py_ssize_t n = a.size
    if a.dtype == np.float32:
        with nogil:
            fe_vm_f32(fn, n, <const float *>cnp.PyArray_DATA(a), <float *>cnp.PyArray_DATA(y))
    else:
        with nogil:
            fe_vm_f64(fn, n, <const double *>cnp.PyArray_DATA(a), <double *>cnp.PyArray_DATA(y))
    return y


def exact_sum(a, dtype):
    """The exact sum of array `a`'s values converted to `dtype` (float32 or float64), as an
    ExactSum state: the denominator of a weighted mean, summed as the kernels sum it."""
    cdef fe_xsum s
    cdef cnp.ndarray chunk
    cdef double *buf = <double *>malloc(FE_XBLOCK * sizeof(double))
    if buf == NULL:
        raise MemoryError()
    fe_xsum_init(&s)
    dt = np.dtype(dtype)
    try:
        it = np.nditer(np.asarray(a), flags=["external_loop", "buffered", "zerosize_ok",
                                             "refs_ok"],
                       op_dtypes=[dt], casting="unsafe", buffersize=FE_XBLOCK)
        for c in it:
            chunk = np.ascontiguousarray(c)
            if dt == np.float32:
                fe_xsum_add_f32(&s, <const float *>cnp.PyArray_DATA(chunk), chunk.size, buf)
            else:
                fe_xsum_add_f64(&s, <const double *>cnp.PyArray_DATA(chunk), chunk.size, buf)
    finally:
        free(buf)
    return xsum_state(&s)
