"""Two Python threads, each calling fastent with n_threads=1, against the same calls made
one after the other: with the GIL released in the kernels the pair runs in parallel
(about 2x the throughput on 2 cores)."""
import threading

import numpy as np
import pytest

import fastent as fe


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 1000, 4096), rng.normal(size=(4096, 1000)).astype(np.float32)


def two_calls_sequential(t, x):
    fe.softmax_cross_entropy(t, x, n_threads=1)
    fe.softmax_cross_entropy(t, x, n_threads=1)


def two_calls_in_threads(t, x):
    th = [threading.Thread(target=fe.softmax_cross_entropy, args=(t, x),
                           kwargs=dict(n_threads=1)) for _ in range(2)]
    for h in th:
        h.start()
    for h in th:
        h.join()


@pytest.mark.parametrize("mode", ["sequential", "two-python-threads"])
def test_gil_released(benchmark, data, mode):
    benchmark.group = "two softmax_ce calls (4096, 1000) float32, n_threads=1 each"
    benchmark.extra_info["impl"] = mode
    fn = two_calls_sequential if mode == "sequential" else two_calls_in_threads
    benchmark(fn, *data)
