# cython: language_level=3
"""What the build and the CPU offer: OpenMP, threads, vector maths, instruction sets."""

from fastent._common cimport (FE_OPENMP, FE_VECMATH, FE_MULTI_ISA, fe_best_isa,
                              fe_max_threads)

OPENMP = bool(FE_OPENMP)
VECMATH = bool(FE_VECMATH)
MULTI_ISA = bool(FE_MULTI_ISA)


def max_threads():
    """Threads an OpenMP region uses by default (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return fe_max_threads()


def best_isa(int requested=-1):
    """Best instruction set of this CPU that fastent has kernels for, capped by `requested`:
    0 baseline x86-64, 1 x86-64-v3 (AVX2, FMA), 2 x86-64-v4 (AVX-512)."""
    return fe_best_isa(requested)
