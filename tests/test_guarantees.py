"""What fastent promises beyond correct values: 64-bit indexing without copies, the GIL
released and thread safety, bounded extra memory, no leaks."""
import ctypes
import gc
import sys
import threading
import tracemalloc

import numpy as np
import pytest

import fastent as fe


# ------------------------------------------------------------------ 64-bit indexing
@pytest.mark.parametrize("n_threads", [None])
def test_more_than_2_31_elements_from_a_broadcast_view(n_threads):
    n = 2**31 + 77
    x = np.broadcast_to(np.float32(0.25), (n,))          # 8 GiB if it were copied
    tracemalloc.start()
    try:
        total = fe.binary_cross_entropy(1, x, reduction="sum", n_threads=n_threads)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    per_element = float(-np.log(np.float32(0.25)))     # the float32 loss, summed in float64
    assert total == pytest.approx(n * per_element, rel=1e-12)
    assert peak < 64 * 2**20, f"{peak} bytes: a broadcast view was copied"


def test_more_than_2_31_elements_along_rows():
    rows, C = 2**21 + 3, 1024                            # 2**31 + 3072 elements
    x = np.broadcast_to(np.float32(0.0), (rows, C))
    labels = np.zeros(rows, np.intp)
    tracemalloc.start()
    try:
        loss = fe.softmax_cross_entropy(labels, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loss == pytest.approx(np.log(C), rel=1e-6)
    assert peak < 64 * 2**20


# ------------------------------------------------------------------ threads
def test_eight_python_threads_share_read_only_inputs(rng):
    x = rng.normal(size=(3000, 100)).astype(np.float32)
    t = rng.integers(0, 100, 3000)
    p = rng.dirichlet(np.ones(100), 3000)
    for a in (x, t, p):
        a.flags.writeable = False
    expected = [fe.softmax_cross_entropy(t, x, return_grad=True),
                fe.kl_divergence(p, p[::-1]),
                fe.binary_cross_entropy_with_logits(x > 0, x, reduction="none")]
    results, errors = {}, []

    def worker(i):
        try:
            for _ in range(20):
                got = [fe.softmax_cross_entropy(t, x, return_grad=True),
                       fe.kl_divergence(p, p[::-1]),
                       fe.binary_cross_entropy_with_logits(x > 0, x, reduction="none")]
            results[i] = got
        except Exception as e:       # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for got in results.values():
        assert got[0][0] == expected[0][0]
        np.testing.assert_array_equal(got[0][1], expected[0][1])
        assert got[1] == expected[1]
        np.testing.assert_array_equal(got[2], expected[2])


def test_kernels_release_the_gil():
    """While one thread runs a long kernel, another Python thread keeps running."""
    x = np.broadcast_to(np.float64(0.3), (60_000_000,))
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    th = threading.Thread(target=ticker)
    th.start()
    try:
        fe.binary_cross_entropy(1, x, n_threads=1)
    finally:
        done.set()
        th.join()
    assert len(ticks) > 5


# ------------------------------------------------------------------ memory
def _peak_extra(fn):
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base, result


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peak_memory_is_the_gradient_plus_small(rng, dtype):
    x = rng.normal(size=(4096, 1000)).astype(dtype)
    t = rng.integers(0, 1000, 4096)
    small = 1 * 2**20                      # O(threads x classes) scratch, O(rows) sums
    extra, _ = _peak_extra(lambda: fe.softmax_cross_entropy(t, x, return_grad=True))
    assert extra <= x.nbytes + small
    g = np.empty_like(x)
    extra, _ = _peak_extra(lambda: fe.softmax_cross_entropy(t, x, return_grad=True,
                                                            grad_out=g))
    assert extra <= small
    xt = np.asfortranarray(x)              # class axis strided: still no copy
    extra, _ = _peak_extra(lambda: fe.softmax_cross_entropy(t, xt, return_grad=True,
                                                            grad_out=g))
    assert extra <= small
    p = rng.dirichlet(np.ones(1000), 4096).astype(dtype)
    extra, _ = _peak_extra(lambda: fe.kl_divergence(p, p[::-1], return_grad=True,
                                                    grad_out=g))
    assert extra <= small
    extra, _ = _peak_extra(lambda: fe.binary_cross_entropy_with_logits(
        x > 0, x, return_grad=True, grad_out=g))
    assert extra <= x.size + small         # only the bool target's cast


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _c_heap_counter():
    """(name, count): count() is the bytes of C memory allocated and not freed, as the
    allocator counts them -- AddressSanitizer's (every thread's) in the sanitizer build,
    glibc's mallinfo2 (its main arena) otherwise; (None, None) without either."""
    lib = ctypes.CDLL(None)
    if hasattr(lib, "__sanitizer_get_current_allocated_bytes"):
        count = lib.__sanitizer_get_current_allocated_bytes
        count.restype = ctypes.c_size_t
        return "asan", count
    if hasattr(lib, "mallinfo2"):
        lib.mallinfo2.restype = _MallInfo2

        def count():
            info = lib.mallinfo2()
            return info.uordblks + info.hblkhd
        return "glibc", count
    return None, None


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="Linux only")
def test_no_leak_over_ten_thousand_calls(rng):
    x = rng.normal(size=(64, 10))
    t = rng.integers(0, 10, 64)
    p = rng.dirichlet(np.ones(10), 64)

    def calls(n):
        for _ in range(n):
            fe.softmax_cross_entropy(t, x, return_grad=True)
            fe.binary_cross_entropy_with_logits(x > 0, x, reduction="none", return_grad=True)
            fe.kl_divergence(p, p, return_grad=True)
            try:
                fe.softmax_cross_entropy(t + 10, x)
            except ValueError:
                pass

    # Counts, not the RSS where a count exists: Python's objects (sys.getallocatedblocks)
    # and the C heap move by a few dozen blocks and bytes between windows of calls, so a
    # leak of one object in ten rounds or of 14 bytes a round fails.  The sanitizer build's
    # RSS includes its quarantine of freed blocks (up to 256 MiB), which moves by +-4 MiB
    # from one window of 10 000 rounds to the next with no leak at all: there the count is
    # AddressSanitizer's own; elsewhere the RSS is checked as well (a leak outside glibc's
    # main arena, or outside both counts).
    calls(1000)
    gc.collect()
    counter, heap_bytes = _c_heap_counter()
    heap = heap_bytes() if heap_bytes else None
    blocks, rss = sys.getallocatedblocks(), _rss()
    calls(10_000)
    gc.collect()
    grown = sys.getallocatedblocks() - blocks
    assert grown < 1000, f"{grown} more Python objects after 10 000 rounds"
    if heap is not None:
        grown = heap_bytes() - heap
        assert grown < 2**17, f"{grown} more bytes of C heap ({counter}) after 10 000 rounds"
    if counter != "asan":
        grown = _rss() - rss
        assert grown < 4 * 2**20, f"the RSS grew by {grown} bytes over 10 000 rounds"
