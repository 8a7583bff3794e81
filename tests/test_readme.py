"""The Python examples of the README and of docs/*.md run as written: blocks with >>>
prompts as doctests (their printed values checked), the others as scripts, each in a fresh
namespace."""
import doctest
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# the README's examples and those of the documentation's pages (docs/*.md)
PAGES = [README] + sorted((ROOT / "docs").glob("*.md"))
SOURCES = [(page, block) for page in PAGES
           for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)]
BLOCKS = [block for _, block in SOURCES]


def test_the_readme_has_examples():
    readme = [b for page, b in SOURCES if page == README]
    assert len(readme) >= 2 and any(">>>" in b for b in readme)
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i):
    page, code = SOURCES[i]
    where = page.relative_to(ROOT)
    if "dask" in code:
        pytest.importorskip("dask.array")
    if ">>>" in code:
        test = doctest.DocTestParser().get_doctest(code, {}, f"{where} block {i}", str(page), 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0, f"an example of {where} printed something else (see above)"
    else:
        exec(compile(code, f"{where} python block {i}", "exec"), {"__name__": "__readme__"})


def test_the_streaming_example_counts_each_token_once():
    """The streaming page's merge example: two accumulators of 5 batches each, merged, count the
    2560 tokens once (it used to merge a pickled copy of itself: 5120) and equal the
    one-shot call over all of them to the bit."""
    import numpy as np
    import fastent as fe
    code = next(b for b in BLOCKS if "acc.merge" in b)
    ns = {"__name__": "__readme__", "print": lambda *a: None}
    exec(compile(code, "docs/streaming.md streaming example", "exec"), ns)
    assert ns["acc"].count == 2560
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(256, 1000)).astype(np.float32), rng.integers(0, 1000, 256))
               for _ in range(10)]
    logits = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert ns["acc"].result() == fe.softmax_cross_entropy(labels, logits)


def test_the_readme_stays_a_front_page():
    """What it is, install, a short tour, the guarantees and links: the rest lives in docs/
    (every page the README links to exists)."""
    text = README.read_text()
    assert len(text.splitlines()) <= 350
    for target in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / target).is_file(), f"README links to a missing {target}"
