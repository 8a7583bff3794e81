"""How many threads a call runs.

- **Usable cores**: the CPUs this process may run on (its affinity mask) capped by a cgroup
  CPU quota (containers: `cpu.max`, or `cpu.cfs_quota_us` / `cpu.cfs_period_us`).
- **n_threads**: None is the default below; a positive int caps it at the usable cores; -1
  means all usable cores, -2 all but one, and so on (scikit-learn's convention); 0 and
  anything else is refused.
- **The default** (None): OpenMP's own limit for the calling thread (`OMP_NUM_THREADS`,
  `threadpoolctl.threadpool_limits`) capped at the usable cores, and at one core when the
  machine is busy with other processes (the CPU time of the last 0.2 s that was not this
  process's leaves less than one idle core): a parallel region on a busy machine waits for
  its slowest thread, which may not get a core for a whole scheduler quantum.
- **After fork**: GNU OpenMP cannot run in a child forked from a parent that used it (the
  child would wait for the parent's threads forever), so a forked child runs every kernel
  on its own thread: the same bits, as results never depend on the thread count.
- **Several Python threads at once** draw the kernel threads of their calls from one
  process-wide budget of usable cores (acquire / release below), each call counting its
  caller's own thread, so that N callers never run N x cores threads; a call that finds
  the budget spent runs serially on its caller's thread.  And once calls have overlapped,
  n_threads=None stays serial for a second: with several callers the cores are already
  used by the callers themselves, and a parallel region among them waits for whichever of
  its threads the scheduler runs last.
"""
import math
import numbers
import os
import threading
import time

from fastent import _runtime

_state = {"forked": False, "busy": False, "sampled": 0.0, "last": None,
          "concurrent_at": -10.0}
_lock = threading.Lock()
_SAMPLE = 0.2          # seconds between two looks at the machine's load
_FIRST_SAMPLE = 0.02   # ... and before the first verdict
_CONCURRENT_HOLD = 1.0 # seconds n_threads=None stays serial after calls overlapped


def forked():
    """Whether this process is a forked child of the one that imported fastent."""
    return _state["forked"]


def _cgroup_quota():
    """CPUs allowed by a cgroup quota (v2 `cpu.max`, v1 `cfs_quota_us`), or None."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return float(quota) / float(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = float(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = float(f.read())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def _cores():
    """usable_cores(), looked up at most once a second (affinity can change at run time)."""
    now = time.monotonic()
    if now - _state.get("cores_at", -10.0) > 1.0:
        _state["cores"], _state["cores_at"] = usable_cores(), now
    return _state["cores"]


def usable_cores():
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def cpu_times():
    """(CPU seconds used by the whole machine, by this process), from /proc; None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
        ticks = os.sysconf("SC_CLK_TCK")
        total = [int(x) for x in fields]
        busy = sum(total) - total[3] - (total[4] if len(total) > 4 else 0)   # not idle/iowait
        t = os.times()
        return busy / ticks, t.user + t.system
    except (OSError, ValueError, IndexError):
        return None


def machine_busy(cores):
    """Whether other processes left less than one of `cores` idle over the last sample
    (refreshed every 0.2 s; the first verdict comes 20 ms after the first look)."""
    now = time.monotonic()
    interval = _SAMPLE if _state.get("known") else _FIRST_SAMPLE
    if now - _state["sampled"] < interval:
        return _state["busy"]
    with _lock:
        if now - _state["sampled"] >= interval:
            sample = cpu_times()
            last = _state["last"]
            if sample is not None and last is not None:
                dt = now - _state["sampled"]
                others = (sample[0] - last[0]) - (sample[1] - last[1])
                _state["busy"] = dt < 5 and others / dt > cores - 1
                _state["known"] = True
            _state["last"], _state["sampled"] = sample, now
    return _state["busy"]


def last_busy():
    """What the last sample of machine_busy found (no new sample)."""
    return _state["busy"]


def resolve(n_threads):
    """Threads for one call (see the module docstring); 1 without OpenMP."""
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
            raise TypeError(f"n_threads: must be None or an int (-1: all usable cores), "
                            f"got {type(n_threads).__name__}")
        n_threads = int(n_threads)
        if n_threads == 0:
            raise ValueError("n_threads: must be None, a positive int or a negative int "
                             "(-1: all usable cores, -2: all but one, ...), got 0")
    if not _runtime.OPENMP or _state["forked"]:
        return 1
    cores = _cores()
    if n_threads is None:
        n = min(_runtime.max_threads(), cores)
        if n > 1 and (time.monotonic() - _state["concurrent_at"] < _CONCURRENT_HOLD
                      or machine_busy(cores)):
            n = 1
        return n
    if n_threads < 0:
        return max(1, cores + 1 + n_threads)
    return min(n_threads, cores)


# -- the process-wide budget of kernel threads ----------------------------------------
PARALLEL_MIN = _runtime.PARALLEL_MIN     # elements: the drivers run smaller calls serially
_budget = {"used": 0}


def acquire(n, size):
    """Kernel threads for a call of `size` elements that may use `n`: a small call runs
    serially and draws nothing; a larger one takes what the budget has left of the usable
    cores, at least 1 (its caller's own thread, which is counted too: N concurrent callers
    with n_threads=None run about `cores` threads, not N x cores).  Pair with release()."""
    if size < PARALLEL_MIN:
        return n
    with _lock:
        if _budget["used"]:
            _state["concurrent_at"] = time.monotonic()
        granted = max(1, min(n, _cores() - _budget["used"]))
        _budget["used"] += granted
        return granted


def release(granted, size):
    if size >= PARALLEL_MIN:
        with _lock:
            _budget["used"] -= granted


def _after_fork_in_child():
    """A forked child: serial from now on, with a fresh lock and an empty budget."""
    global _lock
    _state["forked"] = True
    _budget["used"] = 0
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run(kernel, n, size, *args, **kwargs):
    """kernel(*args, n_threads=<threads drawn from the budget>, **kwargs)."""
    granted = acquire(n, size)
    try:
        return kernel(*args, n_threads=granted, **kwargs)
    finally:
        release(granted, size)
