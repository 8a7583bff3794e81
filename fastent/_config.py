"""Runtime configuration: which kernels run, and `show_config()`.

FASTENT_SIMD=baseline|avx2|avx512 (read at import) caps the instruction set the kernels use;
the default is the best this CPU supports.
"""
import os
import sys

from fastent import _binary, _rowwise, _runtime, _threads

ISA_NAMES = ("baseline", "avx2", "avx512")
_FAMILIES = (_runtime, _binary, _rowwise)


def _requested_isa():
    value = os.environ.get("FASTENT_SIMD", "").strip().lower()
    if not value:
        return -1
    if value not in ISA_NAMES:
        raise ImportError(f"FASTENT_SIMD={value!r}: must be one of {ISA_NAMES}")
    return ISA_NAMES.index(value)


def select_isa(requested=None):
    """Use the kernels of instruction set `requested` ('baseline', 'avx2', 'avx512'; None:
    the best this CPU has), or the best below it the CPU supports.  Returns the chosen name."""
    level = -1 if requested is None else ISA_NAMES.index(requested)
    chosen = {family.select_isa(level) for family in _FAMILIES}
    assert len(chosen) == 1
    return ISA_NAMES[chosen.pop()]


def isa():
    """Name of the instruction set the kernels use now."""
    return _ISA[0]


_ISA = [select_isa(None if _requested_isa() < 0 else ISA_NAMES[_requested_isa()])]


def _set_isa(name):
    _ISA[0] = select_isa(name)
    return _ISA[0]


def show_config(file=None):
    """Print the version, how the kernels were built and how they run here.

    Parameters
    ----------
    file : file-like, optional
        Where to print (default: sys.stdout).

    Returns
    -------
    None

    Examples
    --------
    >>> import fastent as fe
    >>> fe.show_config()                     # doctest: +ELLIPSIS
    fastent ...
      python ...
      SIMD kernels      ...
    """
    from fastent import __version__
    try:
        from fastent._build_info import BUILD_INFO
    except ImportError:  # built by something other than setup.py
        BUILD_INFO = {}
    out = file or sys.stdout
    lines = [
        f"fastent {__version__}",
        f"  python            {sys.version.split()[0]}",
        f"  numpy             {__import__('numpy').__version__}",
        f"  compiler          {BUILD_INFO.get('compiler', '?')}",
        f"  compile flags     {' '.join(BUILD_INFO.get('compile_args', []))}",
        f"  link flags        {' '.join(BUILD_INFO.get('link_args', []))}",
        f"  macros            {' '.join(BUILD_INFO.get('define_macros', []))}",
        f"  debug build       {BUILD_INFO.get('debug', '?')}",
        f"  OpenMP            {'on' if _runtime.OPENMP else 'off'}",
        f"  threads           {_threads.resolve(None)} (n_threads=None now: usable cores "
        f"{_threads.usable_cores()} (affinity, cgroup quota), OpenMP limit "
        f"{_runtime.max_threads()} (OMP_NUM_THREADS, threadpoolctl)"
        f"{', forked child: serial' if _threads.forked() else ''}"
        f"{', machine busy: serial' if _threads.last_busy() else ''})",
        "  vector maths      fastent's own exp/log/log1p (src/fe_math.h), vectorised by "
        "the compiler; the same bits on every path",
        f"  SIMD kernels      {isa()} ({'multi-ISA build' if _runtime.MULTI_ISA else 'one ISA: the build target'}; CPU best: {ISA_NAMES[_runtime.best_isa(-1)]}; "
        f"FASTENT_SIMD={os.environ.get('FASTENT_SIMD', '') or 'unset'})",
    ]
    print("\n".join(lines), file=out)
