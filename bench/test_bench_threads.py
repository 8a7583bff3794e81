"""Threads: n_threads=None against explicit settings where threads can hurt.

- two Python threads each calling with n_threads=1, against the same calls one after the
  other (the GIL is released in the kernels);
- four Python threads each calling with n_threads=None / 1 / 2 (the process-wide budget);
- Dask's threaded scheduler over (65536, 1000) float32 logits chunked by 4096 rows;
- a busy machine: as many CPU-bound processes as cores, then one call of 1e5 elements.
`None` should be at least as fast as the best explicit setting in each group.
"""
import multiprocessing as mp
import os
import threading
import time

import numpy as np
import pytest

import fastent as fe
from fastent import _threads


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


@pytest.mark.parametrize("nt", [None, 1, 2])
def test_four_python_threads(benchmark, data, nt):
    benchmark.group = "4 Python threads x softmax_ce (4096, 1000) float32"
    benchmark.extra_info["impl"] = f"n_threads={nt}"
    t, x = data

    def four():
        th = [threading.Thread(target=fe.softmax_cross_entropy, args=(t, x),
                               kwargs=dict(n_threads=nt)) for _ in range(4)]
        for h in th:
            h.start()
        for h in th:
            h.join()
    benchmark(four)


@pytest.mark.parametrize("nt", [None, 1, 2])
def test_dask_threaded_scheduler(benchmark, nt):
    da = pytest.importorskip("dask.array")
    import dask
    rng = np.random.default_rng(1)
    x = da.from_array(rng.normal(size=(65536, 1000)).astype(np.float32), chunks=(4096, 1000))
    y = da.from_array(rng.integers(0, 1000, 65536), chunks=4096)
    benchmark.group = "Dask threaded scheduler, softmax_ce (65536, 1000) float32 / 4096 rows"
    benchmark.extra_info["impl"] = f"n_threads={nt}"
    with dask.config.set(scheduler="threads"):
        benchmark(lambda: fe.softmax_cross_entropy(y, x, n_threads=nt).compute())


def _spin(stop):
    while not stop.is_set():
        pass


@pytest.fixture
def busy_machine():
    """As many CPU-bound processes as usable cores, for the duration of the test."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_spin, args=(stop,)) for _ in range(_threads.usable_cores())]
    for p in procs:
        p.start()
    time.sleep(1.0)          # let the load show
    yield
    stop.set()
    for p in procs:
        p.join(10)


@pytest.mark.parametrize("nt", [None, 1, 2])
def test_busy_machine(benchmark, busy_machine, nt):
    rng = np.random.default_rng(2)
    x = rng.normal(size=100_000).astype(np.float32)
    t = (x > 0).astype(np.float32)
    benchmark.group = "busy machine: bce_with_logits 1e5 float32"
    benchmark.extra_info["impl"] = f"n_threads={nt}"
    benchmark.extra_info["cores"] = os.cpu_count()
    benchmark(fe.binary_cross_entropy_with_logits, t, x, n_threads=nt)
