"""Threads and processes: a forked child never hangs, n_threads speaks scikit-learn's
language, the usable cores follow affinity and OMP_NUM_THREADS, several Python threads share
one budget, and the thread count never changes a bit.  Every test that starts a process
has a timeout, so a regression fails instead of hanging CI."""
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import textwrap
import threading

import numpy as np
import pytest

import fastent as fe
from fastent import _runtime, _threads

TIMEOUT = 120

pytestmark = pytest.mark.filterwarnings(
    # Python 3.12+ warns that fork() in a multi-threaded process may deadlock (the test
    # harness's threads): the point of these tests is that fastent itself does not
    "ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning")


# a call big enough for the parallel path (when the process may use threads), as script text
WORK = "\n        ".join("""def work(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20000, 100)).astype(np.float32)
    y = rng.integers(0, 100, 20000)
    return float(fe.softmax_cross_entropy(y, x, n_threads=2))""".splitlines())


def _script(body):
    """Run `body` as a script file in a fresh interpreter (a file, so that spawn and
    forkserver children can import its functions); its last line prints the result."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "script.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(body))
        out = subprocess.run([sys.executable, path], capture_output=True, text=True,
                             timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_os_fork_child_does_not_hang():
    out = _script("""
        import os, signal, numpy as np, fastent as fe
        rng = np.random.default_rng(0)
        x = rng.normal(size=(20000, 1000)).astype(np.float32)
        y = rng.integers(0, 1000, 20000)
        parent = fe.softmax_cross_entropy(y, x, n_threads=2)     # the parent uses OpenMP
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)
            child = fe.softmax_cross_entropy(y, x, n_threads=2)
            os.write(w, repr(float(child)).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print(os.read(r, 100).decode() == repr(float(parent)))
    """)
    assert out == "True"


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool(method):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"{method} not available")
    out = _script(f"""
        import multiprocessing as mp, numpy as np, fastent as fe
        {WORK}
        if __name__ == "__main__":
            here = [work(s) for s in range(4)]               # the parent uses OpenMP first
            with mp.get_context("{method}").Pool(2) as pool:
                there = pool.map(work, range(4))
            print(here == there)
    """)
    assert out == "True"


def test_process_pool_executor_default_context():
    out = _script(f"""
        import concurrent.futures, numpy as np, fastent as fe
        {WORK}
        if __name__ == "__main__":
            here = [work(s) for s in range(4)]
            with concurrent.futures.ProcessPoolExecutor(2) as ex:
                there = list(ex.map(work, range(4)))
            print(here == there)
    """)
    assert out == "True"


def test_forked_child_runs_serially_with_the_same_bits():
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    out = _script("""
        import os, numpy as np, fastent as fe
        from fastent import _threads
        x = np.random.default_rng(1).normal(size=(300000,)).astype(np.float32)
        t = (x > 0).astype(np.float32)
        parent = fe.binary_cross_entropy_with_logits(t, x, reduction="none", n_threads=2)
        r, w = os.pipe()
        if os.fork() == 0:
            ok = _threads.forked() and _threads.resolve(None) == 1 and _threads.resolve(-1) == 1
            child = fe.binary_cross_entropy_with_logits(t, x, reduction="none", n_threads=2)
            os.write(w, b"1" if ok and child.tobytes() == parent.tobytes() else b"0")
            os._exit(0)
        os.wait()
        print(os.read(r, 1).decode())
    """)
    assert out == "1"


# ------------------------------------------------------------------------ n_threads
def test_n_threads_values():
    cores = _threads.usable_cores()
    if not _runtime.OPENMP:
        pytest.skip("serial build")
    assert _threads.resolve(1) == 1
    assert _threads.resolve(10 ** 6) == cores
    assert _threads.resolve(-1) == cores
    assert _threads.resolve(-2) == max(1, cores - 1)
    assert _threads.resolve(-10 ** 6) == 1
    assert 1 <= _threads.resolve(None) <= cores
    with pytest.raises(ValueError, match="n_threads: .*got 0"):
        fe.entropy([0.5, 0.5], n_threads=0)
    for bad in (1.5, "2", True):
        with pytest.raises(TypeError, match="n_threads"):
            fe.entropy([0.5, 0.5], n_threads=bad)
    x = np.random.default_rng(2).normal(size=(40000, 8))
    y = np.random.default_rng(3).integers(0, 8, 40000)
    ref = fe.softmax_cross_entropy(y, x, reduction="none", n_threads=1).tobytes()
    for nt in (None, -1, -2, 2, 7):
        assert fe.softmax_cross_entropy(y, x, reduction="none", n_threads=nt).tobytes() == ref


def test_usable_cores_follow_the_affinity_mask():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no affinity control here")
    out = _script("""
        import os
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        from fastent import _threads
        print(_threads.usable_cores(), _threads.resolve(-1), _threads.resolve(None))
    """)
    assert out == "1 1 1"


def test_omp_num_threads_is_honoured_and_show_config_agrees():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", "import fastent, fastent._threads as t; "
                          "fastent.show_config(); print('resolved', t.resolve(None))"],
                         capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert "resolved 1" in out.stdout
    line = [ln for ln in out.stdout.splitlines() if ln.strip().startswith("threads")][0]
    assert " 1 " in line + " ", line
    env["OMP_NUM_THREADS"] = "64"
    out = subprocess.run([sys.executable, "-c", "import fastent._threads as t; "
                          "print(t.resolve(None), t.usable_cores())"],
                         capture_output=True, text=True, timeout=TIMEOUT, env=env)
    resolved, cores = out.stdout.split()
    assert resolved == cores            # capped at the usable cores, not 64


def test_threadpoolctl_limits_are_honoured():
    import threadpoolctl            # in the test extra: this test never skips
    if not _runtime.OPENMP:
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert _threads.resolve(None) == 1


# ------------------------------------------------------------------- the budget
def test_python_threads_share_one_budget():
    """While one call holds every usable core, a concurrent call runs serially; released,
    the budget is whole again.  (The accounting is what keeps N Python threads from
    running N x cores kernel threads.)"""
    cores = _threads.usable_cores()
    big = _threads.PARALLEL_MIN
    first = _threads.acquire(cores, big)
    try:
        assert first == cores
        second = _threads.acquire(cores, big)            # nothing left: serial
        assert second == 1
        _threads.release(second, big)
        assert _threads.acquire(cores, 10) == cores       # small calls never draw on it
    finally:
        _threads.release(first, big)
    again = _threads.acquire(cores, big)
    _threads.release(again, big)
    assert again == cores


def test_concurrent_calls_give_the_sequential_bits():
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(30000, 50)).astype(np.float32) for _ in range(4)]
    ys = [rng.integers(0, 50, 30000) for _ in range(4)]
    want = [fe.softmax_cross_entropy(y, x, return_grad=True) for y, x in zip(ys, xs)]
    got = [None] * 4

    def call(i):
        got[i] = fe.softmax_cross_entropy(ys[i], xs[i], return_grad=True)

    th = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for h in th:
        h.start()
    for h in th:
        h.join(TIMEOUT)
    for (lw, gw), (lg, gg) in zip(want, got):
        assert lw == lg and gw.tobytes() == gg.tobytes()
    assert _threads._budget["used"] == 0
