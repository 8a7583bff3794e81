"""The workloads of `python -m fastent bench` under pytest-benchmark: the same data, the same
implementations (fastent at 1 and 2 threads, NumPy, and the installed peers) and the same
error measure (fastent._bench), one benchmark per workload and implementation.

    pytest bench/test_bench_workloads.py -k "softmax and float32" --benchmark-save=softmax
    python -m fastent bench --from-json .benchmarks/*/0001_softmax.json   # the same report
"""
import functools

import pytest

from fastent import _bench

THREADS = [1, 2]
WORKLOADS = {w.label: w for w in _bench.all_workloads(quick=False)}
IMPLS = ["fastent-1t", "fastent-2t", "NumPy", "torch-1t", "torch-2t", "sklearn-1t",
         "sklearn-2t", "scipy", "torch.compile-1t", "torch.compile-2t", "jax"]
COMPILED = False        # True: torch.compile and JAX's jit too (seconds of compiling a shape)


@functools.lru_cache(maxsize=1)
def _found():
    return _bench.peers(compiled=COMPILED)[0]


@functools.lru_cache(maxsize=1)
def _built(label):
    """The last workload's data, kept while its implementations run one after another."""
    impls, exact = WORKLOADS[label].build(_found())
    return {key: (make, nt) for key, make, nt in _bench.implementations(impls, THREADS)}, exact()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("label", list(WORKLOADS))
def test_workload(benchmark, label, impl):
    impls, expected = _built(label)
    if impl not in impls:
        pytest.skip(f"{impl} does not run {label} here")
    make, nt = impls[impl]
    call = make(nt)
    w = WORKLOADS[label]
    benchmark.group = label
    benchmark.extra_info.update(workload=label, family=w.family, mode=w.mode, dtype=w.dtype,
                                shape=list(w.shape), elements=w.elements, impl=impl,
                                threads=nt)
    result = benchmark(call)
    benchmark.extra_info["error"] = _bench.normwise_error(result, expected)
