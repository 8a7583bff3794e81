"""Build fastent's Cython kernels.

Switches (environment variables, read at build time):
  FASTENT_OPENMP=0   build without OpenMP even where the compiler has it (serial kernels)
  FASTENT_DEBUG=1    bounds checking and assertions back on, -O0 -g, and (where the compiler
                     has them) AddressSanitizer and UBSan over the C kernels and drivers

The default build runs on any x86-64 CPU: the kernels are compiled for the baseline and,
under a target pragma (GCC or clang), for x86-64-v3 and x86-64-v4, and picked at import
(src/fe_simd.h, src/fe_template.h); elsewhere (aarch64) once, for the build's target.  The
exp/log maths is fastent's own (src/fe_math.h): no libmvec, the same bits on every path.
Never -ffast-math (it would set flush-to-zero for the whole process) nor -march=native, and
-ffp-contract=off: every fma is written out, so every compiler rounds alike.
The compiler is the one setuptools picks (CC=clang selects clang): GCC 11 or newer, or
clang 13 or newer (each checked here; older ones get one message naming the minimum).
With GCC or clang each instruction set's kernels are a translation unit of their own
(FE_UNIT, src/fe_simd.h), and every unit of every extension compiles in parallel, one job a
usable core.
"""
import glob
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import textwrap
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
DEBUG = os.environ.get("FASTENT_DEBUG", "0") == "1"
WANT_OPENMP = os.environ.get("FASTENT_OPENMP", "1") != "0"
# the longest to compile first: the parallel build starts its units first
FAMILIES = ["_rowwise", "_binary", "_runtime"]
ISA_UNITS = ["base", "avx2", "avx512"]      # FE_UNIT 0, 1, 2 (src/fe_simd.h)
MIN_COMPILER = "GCC 11 or clang 13"
COMPILER_CHECK = """
#if defined(__clang__)
#  if __clang_major__ < 13
#    error "clang older than 13"
#  endif
#elif defined(__GNUC__)
#  if __GNUC__ < 11
#    error "GCC older than 11"
#  endif
#endif
int main(void) { return 0; }
"""


def _compiles(compiler, code, extra_compile, extra_link):
    """Whether `code` compiles and links with the given flags."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(textwrap.dedent(code))
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=extra_compile)
        compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=extra_link)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fail(message):
    bar = "*" * 78
    sys.exit(f"\n{bar}\nfastent build: {message}\n{bar}\n")


def _kernel_headers(pyx):
    """The kernel headers a Cython module declares (its `cdef extern from "fe_*.h"`)."""
    with open(os.path.join(HERE, pyx)) as f:
        return re.findall(r'^cdef extern from "(fe_\w+\.h)"', f.read(), re.M)


def _parallel_compile(pool):
    """A CCompiler.compile that compiles an extension's sources in `pool`, not in turn."""
    def compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)
        jobs = [pool.submit(self._compile, obj, *build[obj], cc_args, extra_postargs, pp_opts)
                for obj in objects if obj in build]
        for job in jobs:
            job.result()
        return objects
    return compile


class BuildExt(build_ext):
    """Probe the compiler once, set the flags of every extension, compile in parallel."""

    def build_extensions(self):
        cc = self.compiler
        gcc_like = cc.compiler_type == "unix"
        if gcc_like and not _compiles(cc, "int main(void) { return 0; }\n", [], []):
            _fail(f"the C compiler ({' '.join(cc.compiler_so[:1])}) cannot compile a "
                  f"program: fastent needs {MIN_COMPILER} or newer.  Install one (Debian/"
                  f"Ubuntu: apt install gcc) and name it with CC=..., or install the wheel, "
                  f"which needs no compiler.")
        if gcc_like and not _compiles(cc, COMPILER_CHECK, [], []):
            _fail(f"{' '.join(cc.compiler_so[:1])} is too old: fastent needs {MIN_COMPILER} "
                  f"or newer.  Pick another with CC=..., e.g. CC=gcc-12 pip install ...")
        compile_args, link_args, macros = [], [], []
        notes = []
        if gcc_like:
            compile_args += ["-O0", "-g"] if DEBUG else ["-O3", "-g0"]
            # no FMA contraction: every kernel variant and instruction set rounds alike
            compile_args += ["-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off",
                             "-std=gnu11"]
        if DEBUG and gcc_like:
            # every pointer offset of the drivers and kernels checked, and undefined
            # behaviour an abort (the Python process needs the runtimes preloaded: .ci/run)
            san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
            if _compiles(cc, "int main(void){return 0;}\n", san, san):
                compile_args += san + ["-fno-omit-frame-pointer"]
                link_args += san
            else:
                notes.append("FASTENT_DEBUG=1: this compiler has no AddressSanitizer/UBSan; "
                             "the debug build checks memoryviews only")
        # GCC only: jump threading and partial redundancy elimination copy the code after
        # each clamp into both arms (one with the bound folded in), which if-conversion then
        # joins with blends: a third more instructions in the KL loop (docs/design-notes.md,
        # N14); the same bits either way
        if gcc_like and _compiles(cc, "#if defined(__clang__) || !defined(__GNUC__)\n"
                                      "#error not GCC\n#endif\nint main(void){return 0;}\n",
                                  [], []):
            compile_args += ["-fno-thread-jumps", "-fno-tree-pre"]
        # clang only: LLVM's vectoriser versions a loop whose stride is a run-time value
        # (value c of every row, x[r*C + c], in the short-row loops) on "the stride is 1" and
        # runs the scalar loop otherwise (the rows-in-lanes softmax, docs/design-notes.md,
        # N15); without that versioning it vectorises them as GCC does
        # (strided loads).  The same bits either way.
        clang_flag = ["-mllvm", "-enable-mem-access-versioning=0"]
        if gcc_like and _compiles(cc, "#ifndef __clang__\n#error not clang\n#endif\n"
                                      "int main(void){return 0;}\n", clang_flag, []):
            compile_args += clang_flag
        # x86-64: no MMX registers.  GCC 12 may spill 64-bit values to %mm0-7 under register
        # pressure (seen in the baseline KL-from-logits kernel) without an emms after them;
        # that leaves the x87 unit in MMX state, and every later long double operation of the
        # process (NumPy's longdouble, its float repr) gets NaN.  The same code without them.
        if gcc_like and sysconfig.get_platform().endswith("x86_64") and _compiles(
                cc, "int main(void){return 0;}\n", ["-mno-mmx"], []):
            compile_args.append("-mno-mmx")
        openmp = False
        if WANT_OPENMP and gcc_like and _compiles(
            cc, "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n",
            ["-fopenmp"], ["-fopenmp"]):
            compile_args.append("-fopenmp")
            link_args.append("-fopenmp")
            openmp = True
        elif gcc_like:
            notes.append("OpenMP " + ("switched off by FASTENT_OPENMP=0" if not WANT_OPENMP
                                      else "not available from this compiler"))
            if _compiles(cc, "int main(void){return 0;}\n", ["-fopenmp-simd"], []):
                compile_args.append("-fopenmp-simd")
                macros.append(("FE_OPENMP_SIMD", "1"))
        for note in notes:
            bar = "*" * 78
            print(f"\n{bar}\nWARNING (fastent build): {note}\n{bar}\n", file=sys.stderr)
        for ext in self.extensions:
            ext.extra_compile_args = compile_args
            ext.extra_link_args = link_args
            ext.define_macros = list(ext.define_macros or []) + macros
            if gcc_like:
                self._split_units(ext)
        self._write_build_info(cc, compile_args, link_args, macros, openmp)
        if not gcc_like:
            return super().build_extensions()
        jobs = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            cc.compile = types.MethodType(_parallel_compile(pool), cc)
            self.parallel = len(self.extensions)
            super().build_extensions()

    def _split_units(self, ext):
        """Each instruction set's kernels of `ext` in a unit of its own (FE_UNIT); the
        Cython module compiles none (FE_SPLIT) and calls them through its tables."""
        name = ext.name.split(".")[-1]
        headers = _kernel_headers(os.path.splitext(ext.sources[0])[0] + ".pyx")
        folder = os.path.join(self.build_temp, "units")
        os.makedirs(folder, exist_ok=True)
        for unit, isa in enumerate(ISA_UNITS):
            path = os.path.join(folder, f"{name}_{isa}.c")
            text = (f"/* Written by setup.py: the {isa} kernels of fastent.{name}. */\n"
                    f"#define FE_UNIT {unit}\n"
                    + "".join(f'#include "{h}"\n' for h in headers))
            if not os.path.exists(path) or open(path).read() != text:
                with open(path, "w") as f:
                    f.write(text)
            ext.sources.append(path)
        ext.define_macros.append(("FE_SPLIT", "1"))

    def _write_build_info(self, cc, compile_args, link_args, macros, openmp):
        info = {
            "compiler": " ".join(getattr(cc, "compiler_so", [cc.compiler_type])[:1]),
            "compile_args": compile_args,
            "link_args": link_args,
            "define_macros": [m[0] for m in macros],
            "openmp": openmp,
            "vector_maths": "fastent (src/fe_math.h)",
            "debug": DEBUG,
            "python": sysconfig.get_python_version(),
            "numpy_build": np.__version__,
        }
        text = ("# Written by setup.py at build time; not under version control.\n"
                f"BUILD_INFO = {info!r}\n")
        for root in {HERE, os.path.abspath(self.build_lib)}:
            target = os.path.join(root, "fastent", "_build_info.py")
            if os.path.isdir(os.path.dirname(target)):
                with open(target, "w") as f:
                    f.write(text)


directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "nonecheck": DEBUG,
    "embedsignature": True,
}

extensions = [
    Extension(
        f"fastent.{name}",
        [f"fastent/{name}.pyx"],
        include_dirs=[np.get_include(), "fastent/src"],
        # every kernel header, so that an edit to any of them rebuilds the extensions
        depends=sorted(glob.glob("fastent/src/*.h")),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    )
    for name in FAMILIES
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=directives,
                          compile_time_env={}, annotate=False),
    cmdclass={"build_ext": BuildExt},
)
