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


def test_the_streaming_example_counts_each_token_once():
    """The README's merge example: two accumulators of 5 batches each, merged, count the
    2560 tokens once (it used to merge a pickled copy of itself: 5120) and equal the
    one-shot call over all of them to the bit."""
    import numpy as np
    import fastent as fe
    code = next(b for b in BLOCKS if "acc.merge" in b)
    ns = {"__name__": "__readme__", "print": lambda *a: None}
    exec(compile(code, "README.md streaming example", "exec"), ns)
    assert ns["acc"].count == 2560
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(256, 1000)).astype(np.float32), rng.integers(0, 1000, 256))
               for _ in range(10)]
    logits = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert ns["acc"].result() == fe.softmax_cross_entropy(labels, logits)
