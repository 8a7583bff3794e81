"""RunningLoss and Dask at the corners; checkpoints, windows, perplexity per sequence and per
unit; inputs in float16 and in the other byte order; labels that do not fit the index type."""
import json
import math
import tracemalloc

import numpy as np
import pytest

import fastent as fe
from fastent import reference as ref

da = pytest.importorskip("dask.array")


def _bytes(a):
    return np.asarray(a).tobytes()


def _lm_batch(rng, n_seq, T, V, dtype=np.float64, ignore=-100):
    logits = rng.standard_normal((n_seq, T, V)).astype(dtype) * 3
    labels = rng.integers(0, V, (n_seq, T))
    labels[rng.random((n_seq, T)) < 0.2] = ignore
    return labels, logits


# -- perplexity ---------------------------------------------------------------------
def test_perplexity_is_nan_when_nothing_counted_or_the_mean_is_nan():
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100)
    assert math.isnan(acc.perplexity())
    acc.update(np.array([-100, -100]), np.zeros((2, 3)))
    assert math.isnan(acc.perplexity()) and math.isnan(acc.bits_per_token())
    acc.update(np.array([0]), np.array([[np.nan, 0.0, 0.0]]))
    assert math.isnan(acc.perplexity())
    # zero_division is what result() gives when nothing was counted
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, zero_division=0.0)
    acc.update(np.array([-100]), np.zeros((1, 3)))
    assert acc.result() == 0.0 and math.isnan(acc.perplexity())


# -- merge compares what changes the value -------------------------------------------
@pytest.mark.parametrize("a, b", [
    (dict(), dict(base="e")),
    (dict(base=2), dict(base=2.0)),
    (dict(n_threads=1), dict(n_threads=2)),
    (dict(zero_division=np.nan), dict(zero_division=float("nan"))),
    (dict(class_weight=[1, 2, 3]), dict(class_weight=np.array([1.0, 2.0, 3.0]))),
    (dict(ignore_index=np.int64(-100)), dict(ignore_index=-100)),
    (dict(label_smoothing=0), dict(label_smoothing=0.0, n_threads=-1)),
])
def test_merge_accepts_the_same_configuration_spelt_differently(rng, a, b):
    labels, logits = rng.integers(0, 3, 50), rng.standard_normal((50, 3))
    x = fe.RunningLoss("softmax_cross_entropy", **a).update(labels[:20], logits[:20])
    y = fe.RunningLoss("softmax_cross_entropy", **b).update(labels[20:], logits[20:])
    x.merge(y)
    one = fe.softmax_cross_entropy(labels, logits, **{k: v for k, v in a.items()})
    assert _bytes(x.result()) == _bytes(one)


@pytest.mark.parametrize("a, b", [
    (dict(), dict(base=2)),
    (dict(class_weight=[1, 2, 3]), dict(class_weight=[1, 2, 4])),
    (dict(ignore_index=-100), dict()),
    (dict(zero_division=0.0), dict()),
    (dict(axis=1), dict()),
])
def test_merge_refuses_configurations_that_change_the_value(a, b):
    with pytest.raises(ValueError, match="other: cannot merge"):
        fe.RunningLoss("softmax_cross_entropy", **a).merge(
            fe.RunningLoss("softmax_cross_entropy", **b))


def test_options_are_checked_when_the_accumulator_is_made():
    with pytest.raises(ValueError, match="base"):
        fe.RunningLoss("entropy", base=-1)
    with pytest.raises(ValueError, match="eps"):
        fe.RunningLoss("kl_divergence", eps=0.7)
    with pytest.raises(ValueError, match="class_weight"):
        fe.RunningLoss("softmax_cross_entropy", class_weight=[1, -1])
    with pytest.raises(ValueError, match="ignore_index"):
        fe.RunningLoss("softmax_cross_entropy", ignore_index=2**70)
    with pytest.raises(ValueError, match="window"):
        fe.RunningLoss("entropy", window=0)
    with pytest.raises(ValueError, match="sequence_axis"):
        fe.RunningLoss("entropy", sequence_axis=0)


# -- update: one-argument losses, Dask -------------------------------------------------
def test_update_with_one_distribution(rng):
    p = rng.random((40, 5))
    a = fe.RunningLoss("entropy").update(p[:15]).update(p[15:], weight=np.arange(25.0))
    b = fe.RunningLoss("entropy").update(None, p[:15]).update(None, p[15:], np.arange(25.0))
    w = np.concatenate([np.ones(15), np.arange(25.0)])
    assert _bytes(a.result()) == _bytes(b.result()) == _bytes(fe.entropy(p, weight=w))
    with pytest.raises(TypeError, match="one distribution"):
        fe.RunningLoss("entropy").update(p, p)
    with pytest.raises(TypeError, match="needs the target and the prediction"):
        fe.RunningLoss("kl_divergence").update(p)


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "binary_cross_entropy_with_logits",
                                  "kl_divergence", "entropy"])
def test_update_with_dask_arrays_is_computed_into_the_accumulator(rng, name):
    x = rng.standard_normal((300, 6))
    if name == "softmax_cross_entropy":
        t = rng.integers(0, 6, 300)
    elif name == "binary_cross_entropy_with_logits":
        t = rng.random((300, 6))
    else:
        x = rng.random((300, 6))
        t = rng.random((300, 6))
    w = rng.random(300 if name != "binary_cross_entropy_with_logits" else (300, 6))
    T, X, W = (da.from_array(a, chunks=(70,) + a.shape[1:]) for a in (t, x, w))
    args = (lambda a, b: (b,)) if name == "entropy" else (lambda a, b: (a, b))
    lazy = fe.RunningLoss(name).update(*args(T, X), weight=W).update(*args(t, x))
    eager = fe.RunningLoss(name).update(*args(t, x), weight=w).update(*args(t, x))
    assert _bytes(lazy.result()) == _bytes(eager.result())
    assert lazy.count == eager.count == 2 * (300 if name != "binary_cross_entropy_with_logits"
                                             else 1800)


# -- Dask arrays with unknown chunk sizes ------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dask_unknown_chunk_sizes(rng, reduction):
    n = 1000
    m = rng.random(n) < 0.6
    M = da.from_array(m, chunks=300)
    x, y, w = rng.standard_normal((n, 7)), rng.integers(0, 7, n), rng.random(n)
    X, Y, W = (da.from_array(a, chunks=(300, 7)[:a.ndim])[M] for a in (x, y, w))
    assert np.isnan(X.shape[0])
    got = [a.compute() for a in fe.softmax_cross_entropy(Y, X, weight=W, reduction=reduction,
                                                         return_grad=True)]
    want = fe.softmax_cross_entropy(y[m], x[m], weight=w[m], reduction=reduction,
                                    return_grad=True)
    assert all(_bytes(a) == _bytes(b) for a, b in zip(got, want))

    z, t = rng.standard_normal(n), rng.random(n) < 0.5
    Z, T = (da.from_array(a, chunks=300)[M] for a in (z, t))
    got = [a.compute() for a in fe.binary_cross_entropy_with_logits(
        T, Z, reduction=reduction, return_grad=True)]
    want = fe.binary_cross_entropy_with_logits(t[m], z[m], reduction=reduction,
                                               return_grad=True)
    assert all(_bytes(a) == _bytes(b) for a, b in zip(got, want))
    P = da.from_array(rng.random((n, 7)), chunks=(300, 7))[M]
    assert _bytes(fe.entropy(P, reduction=reduction).compute()) == _bytes(
        fe.entropy(P.compute(), reduction=reduction))


def test_dask_unknown_chunk_sizes_with_an_operand_chunked_otherwise(rng):
    m = da.from_array(rng.random(100) < 0.5, chunks=30)
    Z = da.from_array(rng.standard_normal(100), chunks=30)[m]
    with pytest.raises(ValueError, match=r"target: .*compute_chunk_sizes\(\)"):
        fe.binary_cross_entropy_with_logits(np.ones(50), Z)


# -- dtypes: float16 and the other byte order, read block by block ---------------------------
def test_float16_target_makes_no_temporary_of_its_size(rng):
    t = rng.random((1024, 4096)).astype(np.float32)
    t /= t.sum(1, keepdims=True)
    t16 = t.astype(np.float16)
    x = rng.standard_normal((1024, 4096)).astype(np.float32)
    fe.softmax_cross_entropy(t16, x)          # warm up (imports, first allocations)
    tracemalloc.start()
    got = fe.softmax_cross_entropy(t16, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < t16.nbytes / 8, peak
    assert _bytes(got) == _bytes(fe.softmax_cross_entropy(t16.astype(np.float32), x))


def test_every_float16_value_reads_as_its_float32(rng):
    h = np.arange(65536, dtype=np.uint16).view(np.float16)
    t = rng.random(h.size) < 0.5
    for order in ("<", ">"):
        hh = h.astype(order + "f2")
        got = fe.binary_cross_entropy_with_logits(t, hh, reduction="none", return_grad=True)
        want = fe.binary_cross_entropy_with_logits(t, h.astype(np.float32), reduction="none",
                                                   return_grad=True)
        assert all(a.dtype == np.float32 and _bytes(a) == _bytes(b)
                   for a, b in zip(got, want))


_FUNCS = {
    "bce": lambda t, x, **k: fe.binary_cross_entropy(t, 1 / (1 + np.exp(-x.astype(float))).astype(
        x.dtype), **k),
    "bce_logits": fe.binary_cross_entropy_with_logits,
    "softmax_probs": fe.softmax_cross_entropy,
    "kl": lambda t, x, **k: fe.kl_divergence(t, np.abs(x), **k),
    "entropy": lambda t, x, **k: fe.entropy(np.abs(x), **k),
}


@pytest.mark.parametrize("name", sorted(_FUNCS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_other_byte_order_gives_the_same_bytes(rng, name, dtype):
    x = rng.standard_normal((64, 33)).astype(dtype)
    t = rng.random((64, 33)).astype(dtype)
    w = rng.random(64 if name in ("softmax_probs", "kl", "entropy") else (64, 33))
    f = _FUNCS[name]
    swap = lambda a: a.astype(a.dtype.newbyteorder(">" if a.dtype.isnative else "<"))
    for red in ("none", "sum"):
        want = f(t, x, weight=w, reduction=red, return_grad=True)
        got = f(swap(t), swap(x), weight=swap(w), reduction=red, return_grad=True)
        assert all(_bytes(a) == _bytes(b) and np.asarray(a).dtype.isnative
                   for a, b in zip(got, want))
        assert np.asarray(got[1]).dtype == dtype


def test_other_byte_order_prediction_makes_no_full_copy(rng):
    x = rng.standard_normal((512, 2048)).astype(">f4")
    labels = rng.integers(0, 2048, 512)
    fe.softmax_cross_entropy(labels, x)
    tracemalloc.start()
    got = fe.softmax_cross_entropy(labels, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < x.nbytes / 4, peak
    assert _bytes(got) == _bytes(fe.softmax_cross_entropy(labels, x.astype(np.float32)))


def test_swapped_integer_targets(rng):
    z = rng.standard_normal(500)
    t = (rng.random(500) < 0.5).astype(">i4")
    assert _bytes(fe.binary_cross_entropy_with_logits(t, z, reduction="none")) == _bytes(
        fe.binary_cross_entropy_with_logits(t.astype(np.int32), z, reduction="none"))
    labels = rng.integers(0, 5, 40).astype(">i8")
    x = rng.standard_normal((40, 5))
    assert _bytes(fe.softmax_cross_entropy(labels, x)) == _bytes(
        fe.softmax_cross_entropy(labels.astype(np.int64), x))


# -- labels and ignore_index beyond the index type --------------------------------------------
def test_labels_that_do_not_fit_the_index_type():
    x = np.zeros((3, 4))
    t = np.array([1, 2**64 - 100, 0], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"target: class label 18446744073709551516 at "
                                         r"position \(1,\) does not fit"):
        fe.softmax_cross_entropy(t, x, ignore_index=-100)
    for bad in (2**63, -2**63 - 1, 2**70):
        with pytest.raises(ValueError, match="ignore_index: .* outside the index type"):
            fe.softmax_cross_entropy(np.array([1, 2, 0]), x, ignore_index=bad)
    # the largest uint64 that fits is a label like any other (out of range here)
    with pytest.raises(ValueError, match="outside"):
        fe.softmax_cross_entropy(np.array([2**63 - 1, 0, 0], dtype=np.uint64), x)


# -- state_dict --------------------------------------------------------------------------
def test_state_dict_round_trip_through_json_to_the_bit(rng):
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, base=2,
                         class_weight=[1.0, 0.5, 2.0, 1.0, 3.0], window=3, sequence_axis=0,
                         n_threads=1)
    batches = [_lm_batch(rng, 4, 9, 5) for _ in range(6)]
    for labels, logits in batches[:4]:
        acc.update(labels, logits, units=37)
    text = json.dumps(acc.state_dict(), allow_nan=False)
    back = fe.RunningLoss.from_state_dict(json.loads(text))
    same = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, base=2.0,
                          class_weight=np.array([1, 0.5, 2, 1, 3]), window=3,
                          sequence_axis=0).load_state_dict(json.loads(text))
    for a in (back, same):
        for labels, logits in batches[4:]:
            a.update(labels, logits, units=37)
    for labels, logits in batches[4:]:
        acc.update(labels, logits, units=37)
    for a in (back, same):
        for f in (lambda r: r.result(), lambda r: r.perplexity(), lambda r: r.bits_per_unit(),
                  lambda r: r.perplexity(per="sequence"), lambda r: r.windowed().result(),
                  lambda r: r.total, lambda r: r.weight):
            assert _bytes(f(a)) == _bytes(f(acc))
        assert a.count == acc.count and a.sequences == acc.sequences
    assert json.loads(json.dumps(back.state_dict(), allow_nan=False)) == acc.state_dict()


def test_state_dict_keeps_infinities_and_nan_json_safe():
    acc = fe.RunningLoss("kl_divergence", eps=0)
    acc.update(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))        # +inf
    text = json.dumps(acc.state_dict(), allow_nan=False)
    back = fe.RunningLoss.from_state_dict(json.loads(text))
    assert back.result() == np.inf
    back.update(np.array([[np.nan, 1.0]]), np.array([[0.5, 0.5]]))
    assert math.isnan(back.result())
    assert math.isnan(fe.RunningLoss.from_state_dict(
        json.loads(json.dumps(back.state_dict(), allow_nan=False))).result())


def test_load_state_dict_refuses_another_configuration():
    state = fe.RunningLoss("entropy", base=2).state_dict()
    with pytest.raises(ValueError, match="state: it is of entropy"):
        fe.RunningLoss("entropy").load_state_dict(state)
    with pytest.raises(ValueError, match="version"):
        fe.RunningLoss("entropy", base=2).load_state_dict(dict(state, version=99))
    with pytest.raises(ValueError, match="not a RunningLoss state_dict"):
        fe.RunningLoss("entropy").load_state_dict({"loss": "entropy"})


# -- windows ---------------------------------------------------------------------------
def test_window_is_the_one_shot_value_of_the_last_updates(rng):
    acc = fe.RunningLoss("binary_cross_entropy_with_logits", window=3)
    batches = [(rng.random(n) < 0.5, rng.standard_normal(n)) for n in (5, 80, 13, 40, 7)]
    for t, z in batches:
        acc.update(t, z)
    last = batches[-3:]
    want = fe.binary_cross_entropy_with_logits(np.concatenate([t for t, _ in last]),
                                               np.concatenate([z for _, z in last]))
    assert _bytes(acc.windowed().result()) == _bytes(want)
    assert acc.windowed().count == 60 and acc.count == 145
    with pytest.raises(ValueError, match="no window"):
        fe.RunningLoss("entropy").windowed()


def test_merge_of_windowed_accumulators_goes_step_by_step(rng):
    """Two workers update once per step; merged, the window is the last k steps of both."""
    steps = 5
    work = [[(rng.integers(0, 4, 16), rng.standard_normal((16, 4))) for _ in range(steps)]
            for _ in range(2)]
    accs = [fe.RunningLoss("softmax_cross_entropy", window=2) for _ in range(2)]
    for w in range(2):
        for labels, logits in work[w][1 if w else 0:]:     # worker 1 missed the first step
            accs[w].update(labels, logits)
    merged = accs[0].merge(accs[1])
    last = [work[w][s] for s in (steps - 2, steps - 1) for w in range(2)]
    want = fe.softmax_cross_entropy(np.concatenate([t for t, _ in last]),
                                    np.concatenate([x for _, x in last]))
    assert _bytes(merged.windowed().result()) == _bytes(want)
    everything = [work[0][s] for s in range(steps)] + [work[1][s] for s in range(1, steps)]
    assert _bytes(merged.result()) == _bytes(fe.softmax_cross_entropy(
        np.concatenate([t for t, _ in everything]), np.concatenate([x for _, x in everything])))
    with pytest.raises(ValueError, match="cannot merge"):
        accs[0].merge(fe.RunningLoss("softmax_cross_entropy", window=3))


# -- perplexity per sequence and per unit -------------------------------------------------------
def _hand_sequence_perplexity(batches, ignore=-100):
    """Mean over sequences of exp(mean token NLL), in float64 NumPy."""
    ppl = []
    for labels, logits in batches:
        for lab, x in zip(labels, logits.astype(np.float64)):
            keep = lab != ignore
            if not keep.any():
                continue
            m = x.max(-1, keepdims=True)
            logp = x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))
            nll = -logp[np.arange(len(lab))[keep], lab[keep]]
            ppl.append(math.exp(math.fsum(nll) / keep.sum()))
    return math.fsum(ppl) / len(ppl)


def test_perplexity_per_sequence_against_a_hand_computation(rng):
    batches = [_lm_batch(rng, n, 12, 7) for n in (3, 5, 1)]
    batches[0][0][1] = -100                      # a sequence with nothing counted: skipped
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, sequence_axis=0)
    for labels, logits in batches:
        acc.update(labels, logits)
    assert acc.sequences == 8
    assert acc.perplexity(per="sequence") == pytest.approx(_hand_sequence_perplexity(batches),
                                                           rel=1e-13)
    # the token figure is the usual one, unchanged by sequence_axis
    labels = np.concatenate([b[0] for b in batches])
    logits = np.concatenate([b[1] for b in batches])
    tok = fe.softmax_cross_entropy(labels, logits, ignore_index=-100)
    assert _bytes(acc.perplexity()) == _bytes(np.float64(math.exp(tok)))
    # any split of the sequences, merged in any order: the same bits
    parts = [fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, sequence_axis=0)
             .update(labels[i:i + 2], logits[i:i + 2]) for i in range(0, 9, 2)]
    total = parts[3]
    for p in (parts[1], parts[4], parts[0], parts[2]):
        total.merge(p)
    assert _bytes(total.perplexity(per="sequence")) == _bytes(acc.perplexity(per="sequence"))


def test_perplexity_per_sequence_on_time_major_labels_and_weights(rng):
    labels, logits = _lm_batch(rng, 4, 10, 6)
    w = rng.random((4, 10))
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, axis=-1, sequence_axis=1)
    acc.update(labels.T, np.swapaxes(logits, 0, 1), weight=w.T)
    want = []
    for s in range(4):
        row = fe.softmax_cross_entropy(labels[s], logits[s], weight=w[s], ignore_index=-100)
        want.append(math.exp(row))
    assert acc.perplexity(per="sequence") == pytest.approx(math.fsum(want) / 4, rel=1e-13)


def test_bits_and_perplexity_per_unit(rng):
    labels, logits = _lm_batch(rng, 3, 20, 9)
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, base=2)
    assert math.isnan(acc.bits_per_unit())
    acc.update(labels[:2], logits[:2], units=101).update(labels[2:], logits[2:], units=55)
    nats = fe.softmax_cross_entropy(labels, logits, ignore_index=-100, reduction="sum")
    assert acc.units == 156
    assert acc.bits_per_unit() == pytest.approx(nats / math.log(2) / 156, rel=1e-15)
    assert acc.perplexity(per="unit") == pytest.approx(math.exp(nats / 156), rel=1e-14)
    with pytest.raises(ValueError, match="units"):
        acc.update(labels, logits, units=-1)
    with pytest.raises(ValueError, match="per"):
        acc.perplexity(per="word")
    with pytest.raises(ValueError, match="sequence_axis"):
        acc.perplexity(per="sequence")


def test_reference_agrees_on_a_swapped_input(rng):
    """The reference reads the other byte order too (an independent check of the gather)."""
    x = rng.standard_normal((20, 5)).astype(">f8")
    labels = rng.integers(0, 5, 20)
    assert fe.softmax_cross_entropy(labels, x) == pytest.approx(
        ref.softmax_cross_entropy(labels, x.astype(np.float64)), rel=1e-14)
