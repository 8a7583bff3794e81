"""The README's Python examples run as written: blocks with >>> prompts as doctests (their
printed values checked), the others as scripts, each in a fresh namespace."""
import doctest
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4 and any(">>>" in b for b in BLOCKS)


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i):
    code = BLOCKS[i]
    if "dask" in code:
        pytest.importorskip("dask.array")
    if ">>>" in code:
        test = doctest.DocTestParser().get_doctest(code, {}, f"README block {i}", str(README), 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0, "a README example printed something else (see above)"
    else:
        exec(compile(code, f"README.md python block {i}", "exec"), {"__name__": "__readme__"})
