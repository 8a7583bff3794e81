"""Documentation in the code: every public name has a numpydoc docstring whose examples run;
the README's examples run too (its >>> blocks as doctests, the others as scripts)."""
import doctest
import inspect
import re

import numpy as np
import pytest

import fastent as fe

PUBLIC = [n for n in fe.__all__ if n != "__version__"]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("name", PUBLIC)
def test_numpydoc_sections(name):
    obj = getattr(fe, name)
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    for section in ("Parameters\n----------", "Returns\n-------", "Examples\n--------"):
        assert section in doc, f"{name}: no {section.splitlines()[0]} section"
    params = inspect.signature(obj).parameters
    documented = re.findall(r"^(\*{0,2}\w+)(?: : .*)?$", doc, flags=re.M)
    for p in params.values():
        label = {p.VAR_KEYWORD: "**", p.VAR_POSITIONAL: "*"}.get(p.kind, "") + p.name
        assert label in documented, f"{name}: parameter {label} is not documented"


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_examples_run(name):
    obj = getattr(fe, name)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = [t for t in finder.find(obj, name, globs={"np": np, "fe": fe}) if t.examples]
    assert tests, f"{name} has no examples"
    for t in tests:
        runner.run(t)
    assert runner.failures == 0, f"{name}: {runner.failures} example(s) failed (see above)"


def test_docstrings_are_composed_once():
    """The shared keyword text is the same object of thought in every function: one place."""
    from fastent import _docs
    text = _docs.SHARED["n_threads"][1][:40]
    users = [n for n in PUBLIC if "n_threads" in inspect.signature(getattr(fe, n)).parameters
             and n != "RunningLoss"]
    assert all(text in inspect.getdoc(getattr(fe, n)).replace("\n    ", " ") for n in users)
