"""The build and the runtime: no process-wide floating-point side effects, a readable
configuration, kernels for every instruction set the CPU has."""
import io
import subprocess
import sys

import numpy as np

import fastent as fe
from fastent import _config


def test_import_does_not_flush_subnormals_to_zero():
    # -ffast-math would link crtfastmath.o, which sets FTZ/DAZ for the whole process
    code = ("import numpy as np, fastent\n"
            "assert np.float32(1e-40) * np.float32(1) != 0\n"
            "assert np.float64(5e-324) * 1.0 != 0\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert np.float32(1e-40) * np.float32(1) != 0


def test_show_config_reports_build_and_runtime():
    buf = io.StringIO()
    fe.show_config(file=buf)
    text = buf.getvalue()
    from fastent._build_info import BUILD_INFO
    optimisation = "-O0" if BUILD_INFO["debug"] else "-O3"      # FASTENT_DEBUG=1 builds
    for needle in ("fastent " + fe.__version__, "compile flags", optimisation, "OpenMP",
                   "threads", "SIMD kernels"):
        assert needle in text
    assert "-ffast-math" not in text and "march=native" not in text
    # the debug build checks the C pointer code too (where the compiler has the sanitizers)
    sanitized = "-fsanitize=address,undefined" in BUILD_INFO["compile_args"]
    assert not sanitized or BUILD_INFO["debug"]          # never in a release build
    if BUILD_INFO["debug"] and BUILD_INFO["compiler"] == "gcc":
        assert sanitized


def test_forced_instruction_set_is_used():
    code = ("import fastent._config as c; print(c.isa())")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env={**__import__("os").environ, "FASTENT_SIMD": "baseline"})
    assert out.stdout.strip() == "baseline"


def test_bad_forced_instruction_set_is_refused():
    code = "import fastent"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "FASTENT_SIMD": "sse9"})
    assert res.returncode != 0 and "FASTENT_SIMD" in res.stderr


def test_isa_names():
    assert _config.isa() in _config.ISA_NAMES
