"""The README's Python examples run as written (each block in a fresh namespace)."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i, capsys):
    code = BLOCKS[i]
    if "dask" in code:
        pytest.importorskip("dask.array")
    exec(compile(code, f"README.md python block {i}", "exec"), {"__name__": "__readme__"})
