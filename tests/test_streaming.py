"""RunningLoss: batches merged in any order give the one-shot mean."""
import pickle

import numpy as np
import pytest

import fastent as fe

CASES = {
    "binary_cross_entropy": (lambda r, n: ((r.random(n) < .5) * 1.0, r.uniform(.01, .99, n)),
                             dict(base=2)),
    "binary_cross_entropy_with_logits": (lambda r, n: (r.random(n), r.normal(0, 3, n)),
                                         dict(pos_weight=1.5, label_smoothing=0.1)),
    "softmax_cross_entropy": (lambda r, n: (r.integers(-1, 7, n), r.normal(0, 2, (n, 7))),
                              dict(ignore_index=-1, class_weight=np.arange(1, 8.0))),
    "cross_entropy": (lambda r, n: (r.dirichlet(np.ones(5), n), r.dirichlet(np.ones(5), n)),
                      dict(eps=1e-9)),
    "kl_divergence": (lambda r, n: (r.dirichlet(np.ones(5), n), r.dirichlet(np.ones(5), n)),
                      dict(base=10)),
    "entropy": (lambda r, n: (None, r.dirichlet(np.ones(5), n)), dict()),
}


def one_shot(name, t, x, w, opts):
    f = getattr(fe, name)
    args = (x,) if name == "entropy" else (t, x)
    return f(*args, weight=w, **opts)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_split_and_merge_in_any_order_equals_one_shot(rng, name, weighted):
    make, opts = CASES[name]
    n = 3001
    t, x = make(rng, n)
    w = rng.uniform(0, 2, n) if weighted else None
    expected = one_shot(name, t, x, w, opts)
    cuts = np.sort(rng.choice(np.arange(1, n), 9, replace=False))
    pieces = np.split(np.arange(n), cuts)
    accs = []
    for idx in pieces:
        acc = fe.RunningLoss(getattr(fe, name), **opts)
        accs.append(acc.update(None if t is None else t[idx], x[idx],
                               None if w is None else w[idx]))
    for order in range(3):
        rng.shuffle(accs)
        total = fe.RunningLoss(name, **opts)
        for a in accs:
            total.merge(a)
        assert total.result() == pytest.approx(expected, rel=1e-12)
        assert total.count == sum(a.count for a in accs)
    # one accumulator fed batch after batch
    single = fe.RunningLoss(name, **opts)
    for idx in pieces:
        single.update(None if t is None else t[idx], x[idx], None if w is None else w[idx])
    assert single.result() == pytest.approx(expected, rel=1e-12)
    assert single.total / single.weight == pytest.approx(expected, rel=1e-12)


def test_exact_over_a_large_stream(rng):
    """1e9 elements worth of sums: a billion-element stream of equal batches."""
    x = np.broadcast_to(np.float32(0.3), (10**6,))
    acc = fe.RunningLoss("binary_cross_entropy")
    part = fe.RunningLoss("binary_cross_entropy").update(1, x)
    for _ in range(1000):
        acc.merge(part)
    assert acc.count == 10**9
    assert acc.result() == pytest.approx(-np.log(np.float32(0.3)), rel=1e-12)


def test_pickle_round_trip_and_repr(rng):
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, label_smoothing=0.1)
    acc.update(rng.integers(0, 4, 50), rng.normal(size=(50, 4)))
    back = pickle.loads(pickle.dumps(acc))
    assert back.result() == acc.result() and back.count == acc.count == 50
    assert "softmax_cross_entropy" in repr(acc) and "count=50" in repr(acc)
    back.merge(acc)
    assert back.result() == pytest.approx(acc.result(), rel=1e-15)


def test_empty_accumulator_and_reset(rng):
    acc = fe.RunningLoss("entropy")
    assert np.isnan(acc.result()) and acc.count == 0
    assert fe.RunningLoss("entropy", zero_division=0.0).result() == 0.0
    acc.update(None, rng.dirichlet(np.ones(3), 10))
    assert acc.count == 10
    assert np.isnan(acc.reset().result())


def test_perplexity_and_bits():
    x = np.zeros((4, 8))
    acc = fe.RunningLoss("softmax_cross_entropy").update(np.arange(4), x)
    assert acc.perplexity() == pytest.approx(8.0, rel=1e-14)
    assert acc.bits_per_token() == pytest.approx(3.0, rel=1e-14)
    big = fe.RunningLoss("softmax_cross_entropy").update([0], [[0.0, 1e4]])
    assert big.perplexity() == np.inf           # exp(1e4): no overflow warning, inf
    with pytest.raises(TypeError, match="perplexity"):
        fe.RunningLoss("entropy").perplexity()


def test_configuration_errors():
    with pytest.raises(ValueError, match="loss: must be one of"):
        fe.RunningLoss("hinge")
    with pytest.raises(TypeError, match=r"^RunningLoss\('entropy'\): reduction: RunningLoss "
                                        r"always keeps"):
        fe.RunningLoss("entropy", reduction="sum")
    a = fe.RunningLoss("kl_divergence", base=2)
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(fe.RunningLoss("kl_divergence"))
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(fe.RunningLoss("cross_entropy", base=2))
    with pytest.raises(TypeError, match="other"):
        a.merge(3)
    with pytest.raises(ValueError, match="target: class label 9"):
        fe.RunningLoss("softmax_cross_entropy").update([9], [[0.0, 1.0]])


def test_repr_is_the_same_after_a_state_dict_round_trip():
    acc = fe.RunningLoss("softmax_cross_entropy", ignore_index=-100, label_smoothing=0.1)
    acc.update(np.array([0, 1]), np.zeros((2, 3)))
    back = fe.RunningLoss.from_state_dict(acc.state_dict())
    assert repr(back) == repr(acc)
    assert "axis=" not in repr(acc) and "ignore_index=-100" in repr(acc)   # given ones only


def test_the_docstring_names_every_loss_it_takes():
    from fastent._registry import LOSSES
    doc = fe.RunningLoss.__doc__
    assert "six loss" not in doc and len(LOSSES) >= 11
    for name in LOSSES:
        assert f" {name}," in doc or f" {name}." in doc, name


def test_updates_from_many_python_threads_are_each_counted_once():
    """One accumulator updated from 8 Python threads at once, the interpreter switching
    threads every microsecond: the mean equals the one-shot call to the bit, the count is
    every row's (the exact-sum merge was not atomic: the mean came out 4.99 or 5.14 for
    5.069)."""
    import sys
    import threading
    rng = np.random.default_rng(3)
    batches = [(rng.dirichlet(np.ones(5), 16), rng.dirichlet(np.ones(5), 16) * 1e-3 + 1e-9)
               for _ in range(64)]
    acc = fe.RunningLoss("cross_entropy")
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=lambda k=k: [acc.update(*batches[i])
                                                        for i in range(k, 64, 8)])
                   for k in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(before)
    p = np.concatenate([b[0] for b in batches])
    q = np.concatenate([b[1] for b in batches])
    assert acc.count == 64 * 16
    assert acc.result().tobytes() == fe.cross_entropy(p, q).tobytes()
