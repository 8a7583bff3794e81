"""Malformed input to every public function ends in a result or in a ValueError/TypeError
whose message names the argument; never a crash or another exception type."""
import itertools
import warnings

import numpy as np
import pytest

import fastent as fe

GOOD = {
    "binary_cross_entropy": (np.array([1.0, 0.0]), np.array([0.3, 0.6])),
    "binary_cross_entropy_with_logits": (np.array([1.0, 0.0]), np.array([0.3, -2.0])),
    "softmax_cross_entropy": (np.array([0, 1]), np.zeros((2, 3))),
    "cross_entropy": (np.full((2, 3), 1 / 3), np.full((2, 3), 1 / 3)),
    "kl_divergence": (np.full((2, 3), 1 / 3), np.full((2, 3), 1 / 3)),
    "entropy": (None, np.full((2, 3), 1 / 3)),
}
BAD_ARRAYS = [
    np.array([object(), object()]), np.array(["a", "b"]), "ab", b"ab", [[1, 2], [3]],
    {"a": 1}, None, 1 + 2j, np.array([1 + 1j, 2]), np.datetime64("2020-01-01"),
    np.array([1.0, np.nan]), np.array([np.inf, -np.inf]), np.float64(0.5), np.array(0.5),
    np.empty((0,)), np.empty((2, 0)), np.zeros((2, 3, 4)), [0.5, 0.5], True,
    np.array([1, 0], dtype=np.uint8), np.arange(6).reshape(2, 3).T, 10**30, -1,
]
BAD_KEYWORDS = [
    dict(n_threads=10**30), dict(n_threads=-1), dict(n_threads=0), dict(n_threads="2"),
    dict(n_threads=2.0), dict(n_threads=True), dict(reduction=None), dict(reduction="MEAN"),
    dict(base=0), dict(base=float("nan")), dict(base=float("inf")), dict(base=[2]),
    dict(base=True), dict(eps=float("nan")), dict(eps=-0.0), dict(eps="0"), dict(eps=None),
    dict(weight="heavy"), dict(weight={"w": 1}), dict(weight=[np.nan, 1]), dict(weight=-1),
    dict(weight=np.ones((5, 5))), dict(out=np.empty(2)), dict(out=[0, 0]),
    dict(out=np.empty((2, 3), np.float32), reduction="none"),
    dict(out=np.empty(2)[::-1], reduction="none"),
    dict(grad_out=np.empty(7), return_grad=True), dict(grad_out="x", return_grad=True),
    dict(axis=5), dict(axis="last"), dict(axis=None), dict(zero_division="nan"),
    dict(label_smoothing=2), dict(class_weight=[1, 2]), dict(ignore_index="x"),
    dict(pos_weight=[1, 2, 3]), dict(log_min="low"),
]


def call(name, target, pred, **kw):
    f = getattr(fe, name)
    return f(pred, **kw) if name == "entropy" else f(target, pred, **kw)


def outcome(name, target, pred, **kw):
    """The call's result, or the documented error; anything else fails the test.  (The
    warning about an integer prediction with a float target is tested on its own.)"""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "prob has dtype", UserWarning)
            warnings.filterwarnings("ignore", "logits has dtype", UserWarning)
            return call(name, target, pred, **kw)
    except (ValueError, TypeError) as e:
        msg = str(e)
        # ours name the argument before a colon; Python's own name the keyword
        assert ":" in msg or "keyword argument '" in msg, f"unhelpful message: {msg!r}"
        return e


@pytest.mark.parametrize("name", list(GOOD))
def test_malformed_arrays(name):
    target, pred = GOOD[name]
    for bad in BAD_ARRAYS:
        outcome(name, target, bad)
        if name != "entropy":
            outcome(name, bad, pred)


@pytest.mark.parametrize("name", list(GOOD))
def test_malformed_keywords(name):
    target, pred = GOOD[name]
    for kw in BAD_KEYWORDS:
        result = outcome(name, target, pred, **kw)
        if isinstance(result, TypeError) and "unexpected keyword" in str(result):
            continue                 # a keyword this function does not have
        if "n_threads" in kw and kw["n_threads"] == 10**30:
            assert not isinstance(result, Exception)       # huge thread counts are capped


@pytest.mark.parametrize("name", list(GOOD))
def test_pairs_of_malformed_inputs(name):
    target, pred = GOOD[name]
    for a, b in itertools.product(BAD_ARRAYS[:8], BAD_KEYWORDS[:12]):
        outcome(name, target, a, **b)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword"):
        fe.entropy([0.5, 0.5], normalise=True)
