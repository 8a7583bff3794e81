"""RunningLoss over batches of 4096 x 1000 float32 against one call on the concatenated
data (the same rows): the accumulator's cost is the per-batch call overhead."""
import numpy as np
import pytest

import fastent as fe

N_BATCHES, ROWS, C = 16, 4096, 1000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_BATCHES * ROWS, C)).astype(np.float32)
    t = rng.integers(0, C, N_BATCHES * ROWS)
    return t, x


@pytest.mark.parametrize("impl", ["one-call", "RunningLoss"])
def test_streaming_throughput(benchmark, data, impl):
    t, x = data
    benchmark.group = f"streaming softmax_ce {N_BATCHES}x({ROWS}, {C}) float32"
    benchmark.extra_info["impl"] = impl
    expected = fe.softmax_cross_entropy(t, x)
    if impl == "one-call":
        result = benchmark(fe.softmax_cross_entropy, t, x)
    else:
        def stream():
            acc = fe.RunningLoss("softmax_cross_entropy")
            for i in range(0, len(t), ROWS):
                acc.update(t[i:i + ROWS], x[i:i + ROWS])
            return acc.result()
        result = benchmark(stream)
    benchmark.extra_info["max_rel_error"] = abs(result - expected) / abs(expected)
