"""Check what `python -m build` made (run by .ci/run): python tests/check_dist.py DIST LOG.

The wheel holds the Python code, the compiled extensions (no debug info), the type stubs,
py.typed and the licence, and no sources (.c, .pyx, .h); the sdist holds everything its tests
need; the build log has no packaging warning."""
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


def main(dist, log):
    dist = Path(dist)
    (wheel,), (sdist,) = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    problems = [f"wheel ships a source file: {n}" for n in names
                if re.search(r"\.(c|pyx|pxd|h)$", n)]
    for need in ("fastent/py.typed", "fastent/__init__.pyi"):
        if need not in names:
            problems.append(f"wheel lacks {need}")
    if not any(n.endswith("licenses/LICENSE") for n in names):
        problems.append("wheel lacks the LICENSE")
    meta = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    if "License-Expression: BSD-3-Clause" not in meta:
        problems.append("wheel metadata has no SPDX License-Expression")
    with zipfile.ZipFile(wheel) as z:
        for n in names:
            if n.endswith(".so"):
                out = Path(dist, Path(n).name)
                out.write_bytes(z.read(n))
                sections = subprocess.run(["objdump", "-h", str(out)], capture_output=True,
                                          text=True).stdout
                if ".debug_info" in sections:
                    problems.append(f"{n} carries debug info")
                out.unlink()
    members = {m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m}
    for need in ("LICENSE", "tests/conftest.py", "tests/fingerprint.py", "fastent/_binary.pyx",
                 "fastent/_driver.pxd", "fastent/src/fe_rows_impl.h",
                 "fastent/src/fe_math.h", "fastent/py.typed", "fastent/__init__.pyi",
                 "setup.py", "pyproject.toml", "README.md"):
        if need not in members:
            problems.append(f"sdist lacks {need}")
    text = Path(log).read_text()
    for pat in (r"DeprecationWarning|\bdeprecated\b",
                r"^warning: (?!build_py: byte-compiling|install_lib: byte-comp)",
                r"\bwarning: .*\[-W"):
        for line in text.splitlines():
            if re.search(pat, line):
                problems.append(f"build log: {line.strip()}")
    for p in problems:
        print("check_dist:", p, file=sys.stderr)
    print(f"check_dist: {wheel.name} ({len(names)} files), {sdist.name} ({len(members)} "
          f"files): {'ok' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
