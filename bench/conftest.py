"""pytest-benchmark suite (not part of the default test run: testpaths = ["tests"]).

    pytest bench/ --benchmark-group-by=group --benchmark-columns=median,iqr,rounds
    pytest bench/ -k "1e+06" --benchmark-save=binary    # a subset, saved as JSON
    python -m fastent bench --from-json .benchmarks/<machine>/0001_binary.json

The workloads of test_bench_workloads.py are those of `python -m fastent bench`
(fastent/_bench.py); each benchmark carries its workload, implementation, thread count and
normwise error in `extra_info`, from which --from-json renders the same report.
"""
import numpy as np
import pytest

from fastent import _bench

# every implementation timed with the memory it freed kept for reuse, as by `python -m
# fastent bench`: no call pays page faults of fresh temporaries
_bench.steady_allocator()


@pytest.fixture(autouse=True)
def _give_back_memory():
    """What one benchmark kept goes back before the next (as between the command's
    workloads)."""
    yield
    _bench.trim_allocator()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
