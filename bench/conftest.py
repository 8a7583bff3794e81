"""pytest-benchmark suite (not part of the default test run: testpaths = ["tests"]).

    pytest bench/ --benchmark-group-by=group --benchmark-columns=median,iqr,rounds
    pytest bench/ -k "1e+06" --benchmark-save=binary    # a subset, saved as JSON

Every benchmark carries its implementation, thread count and its max relative error against
fastent.reference in `extra_info`.
"""
import numpy as np
import pytest


def max_rel_error(actual, expected):
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    scale = np.maximum(np.abs(e), np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - e) / scale
    err = err[np.isfinite(err)]
    return float(err.max()) if err.size else 0.0


@pytest.fixture
def rng():
    return np.random.default_rng(0)
