"""The package as a user installs it: type information that matches the code, one version,
a licence.  (The wheel's and the sdist's contents are checked by .ci/run with
tests/check_dist.py: building them takes a compile.)"""
import ast
import importlib.metadata
import inspect
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

import fastent as fe

PKG = pathlib.Path(fe.__file__).parent
STUB = PKG / "__init__.pyi"


def _stub_functions():
    tree = ast.parse(STUB.read_text())
    funcs = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            funcs.setdefault(node.name, []).append(node.args)
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    funcs.setdefault(f"{node.name}.{item.name}", []).append(item.args)
    return funcs


def _shape(args):
    """(name, kind, has default) of every parameter of an ast signature."""
    pos = args.posonlyargs + args.args
    defaults = [None] * (len(pos) - len(args.defaults)) + list(args.defaults)
    out = [(a.arg, "positional", d is not None) for a, d in zip(pos, defaults)]
    if args.vararg:
        out.append((args.vararg.arg, "*args", False))
    out += [(a.arg, "keyword", d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        out.append((args.kwarg.arg, "**kwargs", False))
    return out


def _runtime_shape(fn):
    kinds = {inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
             inspect.Parameter.POSITIONAL_ONLY: "positional",
             inspect.Parameter.VAR_POSITIONAL: "*args",
             inspect.Parameter.KEYWORD_ONLY: "keyword", inspect.Parameter.VAR_KEYWORD: "**kwargs"}
    return [(n, kinds[p.kind], p.default is not p.empty)
            for n, p in inspect.signature(fn).parameters.items()]


def test_every_public_function_has_a_stub_matching_its_signature():
    stubs = _stub_functions()
    for name in fe.__all__:
        obj = getattr(fe, name)
        if inspect.isfunction(obj):
            assert name in stubs, f"{name} has no type stub"
            for args in stubs[name]:
                shape = _shape(args)
                if name != "show_config" and not name.endswith("_grad"):
                    # the overloads on return_grad and on reduction: True and "none" are
                    # given without a default
                    shape = [(n, k, d or n in ("return_grad", "reduction"))
                             for n, k, d in shape]
                assert shape == _runtime_shape(obj), name
    for meth in ("update", "merge", "result", "perplexity", "state_dict", "load_state_dict",
                 "from_state_dict", "windowed", "reset", "bits_per_token", "bits_per_unit"):
        (args,) = stubs[f"RunningLoss.{meth}"]
        runtime = _runtime_shape(getattr(fe.RunningLoss, meth))
        if meth == "from_state_dict":
            runtime = [("cls", "positional", False)] + runtime
        assert _shape(args) == runtime, meth


def test_the_package_is_typed():
    assert (PKG / "py.typed").exists()


def test_mypy_reads_the_types():
    pytest.importorskip("mypy")
    code = textwrap.dedent("""
        import numpy as np
        import fastent as fe
        y, p = np.array([1, 0]), np.array([0.9, 0.2])
        loss = fe.binary_cross_entropy(y, p)
        both = fe.softmax_cross_entropy(np.array([1]), np.zeros((1, 3)), return_grad=True)
        value, grad = both
        g: np.ndarray = fe.kl_divergence_grad(p, p)
        acc = fe.RunningLoss("entropy", window=3).update(p)
        x: float = float(acc.result()) + float(loss) + float(value)
        mean: float = fe.binary_cross_entropy(y, p)
        rows: np.ndarray = fe.softmax_cross_entropy(np.array([1]), np.zeros((1, 3)),
                                                    reduction="none")
        total, g2 = fe.kl_divergence(p, p, reduction="sum", return_grad=True)
        t2: float = total
        fe.binary_cross_entropy(y, p, reductoin="sum")
        fe.entropy(p, base="two")
        """)
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                          "--cache-dir=/dev/null", "-c", code], capture_output=True, text=True)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    lines = {int(e.split(":")[1]) for e in errors}
    assert lines == {16, 17}, out.stdout          # the correct lines pass, the two typos fail
    assert any('"reductoin"' in e and 'did you mean "reduction"' in e for e in errors)


DIST = "fastent-losses"          # the distribution's name; the import name is fastent


def test_one_version():
    assert importlib.metadata.version(DIST) == fe.__version__
    pyproject = (PKG.parent / "pyproject.toml")
    if pyproject.exists():        # from a clone: the version is written once, in fastent
        text = pyproject.read_text()
        assert 'dynamic = ["version"]' in text and "\nversion =" not in text.split("[tool")[0]


def test_licence():
    root = PKG.parent
    if (root / "pyproject.toml").exists():
        assert "BSD 3-Clause License" in (root / "LICENSE").read_text()
        assert 'license = "BSD-3-Clause"' in (root / "pyproject.toml").read_text()
    assert importlib.metadata.metadata(DIST)["License-Expression"] == "BSD-3-Clause"


def test_metadata_names_the_project_and_its_pages():
    meta = importlib.metadata.metadata(DIST)
    assert meta["Name"] == DIST
    urls = {u.split(",")[0].strip() for u in meta.get_all("Project-URL")}
    assert urls >= {"Repository", "Documentation", "Changelog", "Issues"}


# `pip install` followed (in the same command) by the bare distribution name fastent, with
# or without extras or a version: what would install the package index's other project
_BARE = re.compile(r"""pip3? install\b[^&;|`)\n]*?(?<![\w./-])["']?fastent(\[[^\]]*\])?"""
                   r"""(?:[<>=!~]=?[\w.*]+)?["']?(?![\w.-])""")


def test_bare_name_pattern():
    for bad in ('pip install fastent', 'pip install "fastent[dask]"', "pip install -U fastent",
                "pip install fastent==0.2.0", "pip3 install 'fastent[plot]' numpy"):
        assert _BARE.search(bad), bad
    for good in ("pip install fastent-losses", 'pip install "fastent-losses[dask]"',
                 "pip install -e .", 'pip install -e ".[test]"', "pip uninstall fastent",
                 "pip install ./fastent_losses-0.2.0.whl", "import fastent",
                 'pip install -e ".[plot]" && python -m fastent bench'):
        assert not _BARE.search(good), good


def test_no_text_tells_a_user_to_install_the_bare_name():
    """Every install line in the repository names fastent-losses; the README's one mention
    of the bare name says that it is an unrelated project."""
    root = pathlib.Path(__file__).resolve().parent.parent
    listed = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True,
                            text=True)
    if listed.returncode != 0 or not (root / "pyproject.toml").exists():
        pytest.skip("not a clone: the repository's texts are not here")
    bad = []
    for name in listed.stdout.split():
        path = root / name
        if (path.suffix in {".png", ".whl", ".gz"} or not path.is_file()
                or path.resolve() == pathlib.Path(__file__).resolve()):   # its examples
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _BARE.search(line) and not (name == "README.md" and "unrelated" in line):
                bad.append(f"{name}:{n}: {line.strip()}")
    assert not bad, "\n".join(bad)
    assert any(_BARE.search(line) and "unrelated" in line
               for line in (root / "README.md").read_text().splitlines())


def test_a_namesake_distribution_is_named_at_import(tmp_path):
    """With the package index's other "fastent" installed too, import says so and how to
    repair it (the two share the import name)."""
    info = tmp_path / "fastent-0.7.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fastent\nVersion: 0.7.3\n"
                                   "Summary: Automated Custom NER tool\n")
    code = "import fastent"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0, out.stderr
    assert "RuntimeWarning" in out.stderr and "0.7.3: Automated Custom NER tool" in out.stderr
    assert "pip uninstall -y fastent fastent-losses && pip install fastent-losses" in out.stderr
    clean = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                           text=True)
    assert clean.returncode == 0 and clean.stderr == "", clean.stderr


def test_tests_share_helpers_through_support_not_conftest():
    """conftest.py is pytest's to load (fixtures); a test importing it gets a second copy of
    the module.  Shared helpers and the one oracle live in tests/support.py."""
    here = pathlib.Path(__file__).resolve().parent
    offenders = [p.name for p in sorted(here.glob("*.py"))
                 if re.search(r"^\s*(from conftest import|import conftest)", p.read_text(),
                              re.M)]
    assert offenders == []
    assert "def oracle(" in (here / "support.py").read_text()
    others = [p.name for p in sorted(here.glob("test_*.py"))
              if re.search(r"^def oracle\(", p.read_text(), re.M)]
    assert others == []


def test_no_module_calls_another_modules_private_names():
    """Each fastent module uses the others through their public names only (a leading
    underscore is the module's own business): `binary._run` or `v._check` from another
    module would tie the two together unseen."""
    pkg = pathlib.Path(fe.__file__).resolve().parent
    found = []
    for path in sorted(pkg.glob("*.py")):
        tree = ast.parse(path.read_text())
        modules = {}        # local name -> fastent module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("fastent", None):
                for a in node.names:
                    modules[a.asname or a.name] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and modules[node.value.id] != path.stem):
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert found == []
