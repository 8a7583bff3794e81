"""python -m fastent: help, version, errors and exit codes; the benchmark report's header,
warnings, error measure, and the pytest-benchmark JSON rendered to the same report."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fastent as fe
from fastent import _bench


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastent", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("args", [["--help"], ["bench", "--help"], ["config", "--help"]])
def test_help_exits_0(args):
    out = _run(*args)
    assert out.returncode == 0 and "usage: python -m fastent" in out.stdout


def test_version_exits_0():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fastent {fe.__version__}"


@pytest.mark.parametrize("args, message", [
    (["bench", "--threads", "abc"], "argument --threads: expected positive integers"),
    (["bench", "--threads", "0"], "argument --threads: thread counts must be >= 1"),
    (["bench", "--only", "nomatch"], "--only: no workload label contains 'nomatch'"),
    (["bench", "--from-json", "/nonexistent.json"], "--from-json: cannot read"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_values_end_in_one_line_and_exit_2(args, message):
    out = _run(*args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert message in out.stderr.strip().splitlines()[-1]


def test_bench_report(tmp_path):
    out = _run("bench", "--quick", "--only", "bce_logits loss float64 (1000,)",
               "--out", str(tmp_path), "--threads", "1")
    assert out.returncode == 0, out.stderr
    assert "[1/1] bce_logits loss float64 (1000,)" in out.stdout and "elapsed" in out.stdout
    # the terminal gets the headline ratios and where the files are, not the tables
    assert "NumPy ÷ fastent 1t" in out.stdout and "median" in out.stdout
    assert "| fastent 1t |" not in out.stdout and "report.md" in out.stdout
    md = (tmp_path / "report.md").read_text()
    for field in ("# fastent benchmark — 20", "- machine: ", f"fastent kernels: {fe._config.isa()}",
                  f"fastent {fe.__version__}", f"NumPy {np.__version__}", "- skipped peers: ",
                  "interleaved", "- memory: ", "| fastent 1t |", "NumPy ÷ fastent 1t",
                  "fastent error"):
        assert field in md, field
    res = json.loads((tmp_path / "results.json").read_text())
    (row,) = res["rows"]
    assert row["errors"]["fastent-1t"] < 1e-15
    assert row["times"]["fastent-1t"]["q1"] <= row["times"]["fastent-1t"]["median"] \
        <= row["times"]["fastent-1t"]["q3"]
    assert res["environment"]["simd"] == fe._config.isa()


_FRESH_BLOCK_FAULTS = """
import resource, numpy as np
from fastent import _bench
def touch():         # page faults of allocating and filling 64 MiB (freed on return)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(8 << 20)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
touch()
before = touch()     # glibc as it comes: a block this large is fresh memory every time
sentence = _bench.steady_allocator()
touch()              # (the first block after the switch extends the heap)
after = touch()
_bench.trim_allocator()
print(before, after, touch(), sentence, sep="|")
"""


def test_bench_times_calls_with_freed_memory_reused():
    # in a process of its own: the suite's allocator stays as it is
    out = subprocess.run([sys.executable, "-c", _FRESH_BLOCK_FAULTS], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    before, after, trimmed, sentence = out.stdout.strip().split("|")
    if not sentence.startswith("glibc") or "refused" in sentence:
        pytest.skip(f"not glibc's malloc: {sentence}")
    # reused while kept, fresh again once trimmed between workloads
    assert int(before) > 0 and int(after) == 0 and int(trimmed) > 0, (before, after, trimmed)
    assert "M_MMAP_MAX=0, M_TRIM_THRESHOLD=-1" in sentence


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streaming_workload_times_the_same_result_two_ways(dtype):
    """The report's RunningLoss row: the updates and the one call it is compared with give
    the same bits (RunningLoss's contract), both near the float64 reference."""
    (w,) = _bench.streaming_workloads(3, 5, 7, [dtype])
    assert w.label == (f"RunningLoss[softmax_ce] update {np.dtype(dtype).name} "
                       f"3 batches × (5, 7)")
    impls, exact = w.build({})
    assert set(impls) == {"fastent", "one-call"}
    (stream,), (one,) = impls["fastent"][1](1)(), impls["one-call"][1](1)()
    assert np.float64(stream).tobytes() == np.float64(one).tobytes()
    assert _bench.normwise_error([stream], exact()) < 10 * np.finfo(dtype).eps


def test_vocab_workloads_compare_with_the_copy_bound_and_torch():
    """The language-model rows: bfloat16 (when ml_dtypes is there) and float32 logits, the
    mean cross-entropy and the target's log-probability; every implementation near the
    float64 reference, the copy bound at each thread count."""
    pytest.importorskip("ml_dtypes")
    ws = _bench.vocab_workloads([(6, 50)])
    assert [w.label for w in ws] == [
        f"{f} loss {d} (6, 50)" for d in ("bfloat16", "float32")
        for f in ("softmax_ce[vocab]", "log_prob[vocab]")]
    try:
        import torch
        found = {"torch": torch}
    except ImportError:
        found = {}
    for w in ws:
        impls, exact = w.build(found)
        assert {"fastent", "NumPy", "copy"} <= set(impls)
        for name, (threaded, make) in impls.items():
            for nt in (1, 2) if threaded else (1,):
                got = make(nt)()
                if name == "copy":
                    assert got == ()
                else:    # PyTorch computes bfloat16 in bfloat16 (its result too)
                    bound = 1e-2 if name == "torch" and w.dtype == "bfloat16" else 1e-6
                    assert _bench.normwise_error(got, exact()) < bound, (w.label, name)


def test_focal_workloads_time_the_same_function_in_every_peer():
    """The peers' sigmoid focal loss is torchvision's formula: each implementation's loss
    (and gradient) is that of fastent.reference, in float32 and float64."""
    ws = _bench.focal_workloads([500], [np.float32, np.float64])
    assert [w.label for w in ws] == [f"sigmoid_focal {m} {d} (500,)" for d in
                                     ("float32", "float64") for m in ("loss", "loss+grad")]
    try:
        import torch
        found = {"torch": torch}
    except ImportError:
        found = {}
    for w in ws:
        impls, exact = w.build(found)
        assert {"fastent", "NumPy"} <= set(impls) and ("torch" in impls) == bool(found)
        for name, (threaded, make) in impls.items():
            got = make(1)()
            assert len(got) == len(exact())
            bound = 1e-5 if w.dtype == "float32" else 1e-12
            assert _bench.normwise_error(got, exact()) < bound, (w.label, name)


def test_other_processes_are_measured_not_our_own_threads(monkeypatch):
    """Busy = the machine's CPU time minus this process's (a load average would count the
    benchmark's own threads)."""
    from fastent import _threads
    clock = iter([10.0, 12.0])
    cpu = iter([(100.0, 50.0), (104.0, 53.5)])        # 4 s busy in all, 3.5 s of them ours
    monkeypatch.setattr(_bench.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(_threads, "cpu_times", lambda: next(cpu))
    assert _bench.OtherLoad().start().stop() == pytest.approx(0.25)


def test_compiled_peers_are_found_or_skipped_with_a_reason():
    found, skipped = _bench.peers(compiled=True)
    for name in ("torch.compile", "jax"):
        assert (found.get(name) is not None) != (name in skipped)
    found, skipped = _bench.peers()
    assert "--compiled" in skipped["jax"] and "torch.compile" not in found


def test_normwise_error_measures_what_it_claims():
    g = np.array([1e-300, 0.0, -2.0, 1.0])
    # an elementwise relative error next to zero is huge; normwise it is the honest 5e-17
    assert _bench.normwise_error([g + np.array([1e-300, 1e-16, 0, 0])], [g]) == \
        pytest.approx(1e-16 / np.linalg.norm(g))
    assert _bench.normwise_error([3.0], [2.0]) == 0.5
    assert _bench.normwise_error([np.inf], [np.inf]) == 0.0
    assert _bench.normwise_error([np.nan], [np.inf]) == np.inf
    assert _bench.normwise_error([1e-20], [0.0]) == 1e-20


def _row(label, t1, t2, numpy):
    times = {k: {"median": v, "q1": v * 0.98, "q3": v * 1.02}
             for k, v in (("fastent-1t", t1), ("fastent-2t", t2), ("NumPy", numpy))}
    return dict(workload=label, family="bce", mode="loss", dtype="float32", shape=[10**7],
                elements=10**7, times=times, errors={k: 0.0 for k in times})


def test_report_warns_on_a_busy_machine():
    env = _bench.environment({}, {"torch": "ImportError: no torch"}, [1, 2])
    env["others_before"], env["others_during"] = 1.5, 0.1
    md, warn = _bench.report(env, [_row("bce loss float32 (1e+07)", 1.0, 1.9, 5.0)], [1, 2])
    assert any("busy" in w for w in warn) and any("1.5x" in w for w in warn)
    assert "> **Warning:** the machine was busy" in md
    assert "torch (ImportError: no torch)" in md
    md, warn = _bench.report(dict(env, others_before=0.0), [_row("x", 1.0, 0.6, 5.0)], [1, 2])
    assert not warn and "Warning" not in md and "| 5.00 | 8.33 |" in md


def test_pytest_benchmark_json_renders_to_the_same_report(tmp_path):
    bench = []
    for key, t in (("fastent-1t", 0.002), ("fastent-2t", 0.001), ("NumPy", 0.01)):
        bench.append({"stats": {"median": t, "q1": t, "q3": t},
                      "extra_info": dict(workload="bce loss float32 (1e+06)", family="bce",
                                         mode="loss", dtype="float32", shape=[10**6],
                                         elements=10**6, impl=key, threads=1, error=1e-9)})
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"benchmarks": bench, "datetime": "2026-01-01T00:00:00",
                                "commit_info": {"id": "abc1234"}}))
    out = _run("bench", "--from-json", str(path), "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "r" / "report.md").read_text()
    assert "pytest-benchmark" in md and "commit abc1234" in md and "2026-01-01" in md
    assert "| bce loss float32 (1e+06) | 2.00 ms | 1.00 ms | 10.00 ms | 1.0e-09 |" in md
    assert "| bce loss float32 (1e+06) | 5.00 | 10.00 |" in md


def test_labels_read_as_shapes():
    labels = [w.label for w in _bench.all_workloads(quick=True)]
    assert "bce loss float32 (100000,)" in labels
    assert "softmax_ce[index] loss float32 (131072, 2)" in labels
    assert not any("e+0" in lab or "x" in lab.rsplit(" ", 1)[-1] for lab in labels)


def test_columns_most_rows_leave_empty_get_a_table_of_their_own():
    rows = [_row(f"bce loss float32 ({n},)", 1.0, 0.6, 5.0) for n in range(4)]
    rows[0]["times"]["one-call-1t"] = {"median": 0.9, "q1": 0.9, "q3": 0.9}
    env = dict(_bench.environment({}, {}, [1, 2]), others_before=0.0, others_during=0.0)
    md, _ = _bench.report(env, rows, [1, 2])
    main, rest = md.split("## Implementations timed on a few workloads only")
    assert "one-call" not in main and "NumPy ÷ fastent 1t" in main
    assert "| bce loss float32 (0,) |" in rest and "| bce loss float32 (1,) |" not in rest
    assert "one-call 1t ÷ fastent 1t" in rest and "| 0.90 |" in rest


def test_summary_gives_each_peers_median_and_range():
    rows = [_row("a", 1.0, 0.5, 4.0), _row("b", 1.0, 0.5, 2.0), _row("c", 1.0, 0.5, 10.0)]
    text = "\n".join(_bench.summary(rows, [1, 2]))
    assert "NumPy ÷ fastent 1t" in text and "median   4.00   range 2.00-10.00   (3 workloads)" \
        in text


def test_noise_warning_names_what_it_measured():
    rows = [_row("a", 1.0, 0.5, 4.0)]
    for t in rows[0]["times"].values():
        t["q1"], t["q3"] = 0.5 * t["median"], 1.5 * t["median"]
    env = dict(_bench.environment({}, {}, [1, 2]), others_before=0.0, others_during=0.01)
    (warn,) = _bench.warnings_for(env, rows)
    assert "no other load was measured during the run" in warn
    warn = _bench.warnings_for(dict(env, others_during=1.2), rows)
    assert any("other processes kept 1.20 cores busy during the run" in w for w in warn)


def test_speedup_plot_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [_row("bce loss float32 (1000,)", 1.0, 0.6, 5.0)]
    env = _bench.environment({}, {}, [1, 2])
    assert _bench.plot(env, rows, [1, 2], tmp_path / "s.png", tmp_path / "t.png")
    assert (tmp_path / "s.png").stat().st_size > 10_000 and (tmp_path / "t.png").exists()


def test_demo_tours_every_family_and_checks_each_result():
    out = _run("demo")
    assert out.returncode == 0, out.stderr
    for needle in ("binary_cross_entropy_with_logits", "softmax_cross_entropy", "softmax_stats",
                   "kl_divergence(p, q)", "js_divergence(p, q)", "entropy(p)",
                   "kl_divergence_with_logits", "RunningLoss", "Dask"):
        assert needle in out.stdout, needle
    n_ok = sum(line.rstrip().endswith("  ok") for line in out.stdout.splitlines())
    assert "MISMATCH" not in out.stdout and f"{n_ok} of {n_ok} checks ok" in out.stdout
    assert n_ok >= 14
