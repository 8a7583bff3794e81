"""RunningLoss: the mean of a loss over data that arrives in batches.

Each update runs the kernel once and adds its exact sums (fastent._exact.ExactSum: the
values "none" would return, and the mean's weights) to the accumulator's exact sums, so
that any split of the data into batches, merged in any order, gives the one-shot result to
the bit.
"""
import math

import numpy as np

from fastent import binary, divergence, softmax
from fastent._exact import ExactSum

# name -> (family module's _run adapter, "elements" or "rows")
_LOSSES = {
    "binary_cross_entropy": lambda t, x, **kw: binary._run(
        False, t, x, "prob", **_binary_kw(kw)),
    "binary_cross_entropy_with_logits": lambda t, x, **kw: binary._run(
        True, t, x, "logits", **_binary_kw(kw, logits=True)),
    "softmax_cross_entropy": lambda t, x, **kw: softmax._run(t, x, **_softmax_kw(kw)),
    "cross_entropy": lambda p, q, **kw: divergence._run(
        divergence._rowwise.Kind.CROSS_ENTROPY, p, q, **_dist_kw(kw)),
    "kl_divergence": lambda p, q, **kw: divergence._run(
        divergence._rowwise.Kind.KL, p, q, **_dist_kw(kw)),
    "entropy": lambda _unused, p, **kw: divergence._run(
        divergence._rowwise.Kind.ENTROPY, None, p, **_dist_kw(kw)),
}
_OPTIONS = {
    "binary_cross_entropy": {"base", "eps", "log_min", "label_smoothing", "zero_division",
                             "n_threads"},
    "binary_cross_entropy_with_logits": {"base", "pos_weight", "label_smoothing",
                                         "zero_division", "n_threads"},
    "softmax_cross_entropy": {"axis", "class_weight", "ignore_index", "label_smoothing", "base",
                              "zero_division", "n_threads"},
    "cross_entropy": {"axis", "base", "eps", "zero_division", "n_threads"},
    "kl_divergence": {"axis", "base", "eps", "zero_division", "n_threads"},
    "entropy": {"axis", "base", "eps", "zero_division", "n_threads"},
}
_DEFAULTS = dict(base="e", eps="auto", log_min=None, label_smoothing=0.0, pos_weight=None,
                 zero_division=np.nan, n_threads=None, axis=-1, class_weight=None,
                 ignore_index=None)
_COMMON = dict(reduction="sum", out=None, grad_out=None, want_loss=True, want_grad=False,
               totals=True)


def _binary_kw(kw, logits=False):
    d = {k: kw.get(k, _DEFAULTS[k]) for k in ("base", "eps", "log_min", "label_smoothing",
                                              "pos_weight", "zero_division", "n_threads")}
    if logits:
        d["eps"], d["log_min"] = "auto", None
    return dict(d, weight=kw.get("weight"), **_COMMON)


def _softmax_kw(kw):
    d = {k: kw.get(k, _DEFAULTS[k]) for k in ("axis", "class_weight", "ignore_index",
                                              "label_smoothing", "base", "zero_division",
                                              "n_threads")}
    return dict(d, weight=kw.get("weight"), **_COMMON)


def _dist_kw(kw):
    d = {k: kw.get(k, _DEFAULTS[k]) for k in ("axis", "base", "eps", "zero_division",
                                              "n_threads")}
    return dict(d, weight=kw.get("weight"), **_COMMON)


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


class RunningLoss:
    """Streaming mean of one of fastent's six losses.

        acc = fastent.RunningLoss("softmax_cross_entropy", ignore_index=-100)
        for labels, logits in batches:
            acc.update(labels, logits)
        acc.result()          # == softmax_cross_entropy(all labels, all logits)

    `loss` is one of the six loss functions or its name; `options` are its keywords except
    `reduction` (and out, grad_out, return_grad).  `update(target, prediction, weight=None)`
    adds a batch (for `entropy`, pass the distribution as `prediction` and None as target);
    `merge(other)` adds another accumulator of the same configuration; `result()` is the
    mean exactly as the one-shot call with reduction="mean" would give it (`zero_division`
    when nothing was counted).  `total` (sum of w * loss), `weight` (the mean's
    denominator) and `count` (elements or rows counted) are in the unit of `base`.
    Picklable; `reset()` empties it.
    """

    def __init__(self, loss, **options):
        name = getattr(loss, "__name__", loss)
        if not isinstance(name, str) or name not in _LOSSES:
            raise ValueError(f"loss: must be one of {sorted(_LOSSES)} or the function, "
                             f"got {loss!r}")
        unknown = set(options) - _OPTIONS[name]
        if unknown:
            raise TypeError(f"{name}: RunningLoss does not take {sorted(unknown)} "
                            f"(reduction is always the running mean)")
        self.loss = name
        self.options = dict(options)
        from fastent import _validation
        self._scale = _validation.log_base(options.get("base", "e"))
        self.reset()

    # -- accumulation ---------------------------------------------------------------
    def reset(self):
        """Forget every batch."""
        self._total = ExactSum()
        self._weight = ExactSum()
        self._count = 0
        return self

    def update(self, target, prediction, weight=None):
        """Add a batch; returns self."""
        totals = _LOSSES[self.loss](target, prediction, weight=weight, **self.options)[2]
        self._total.add(totals.total)
        self._weight.add(totals.weight)
        self._count += totals.count
        return self

    def merge(self, other):
        """Add the batches of another accumulator of the same configuration; returns self."""
        if not isinstance(other, RunningLoss):
            raise TypeError(f"other: expected a RunningLoss, got {type(other).__name__}")
        if other.loss != self.loss or set(other.options) != set(self.options) or not all(
                _same(self.options[k], other.options[k]) for k in self.options):
            raise ValueError(f"other: cannot merge {other!r} into {self!r}: "
                             f"the loss or its options differ")
        self._total.add(other._total)
        self._weight.add(other._weight)
        self._count += other._count
        return self

    # -- results -------------------------------------------------------------------
    @property
    def total(self):
        """Sum of weight * loss over everything added, in the unit of `base`."""
        return np.float64(self._total.value())

    @property
    def weight(self):
        """The mean's denominator: summed weights (class weights of labels included)."""
        return np.float64(self._weight.value())

    @property
    def count(self):
        """Elements (binary losses) or rows (class-axis losses) counted."""
        return self._count

    def result(self):
        """The weighted mean, as the one-shot call with reduction="mean" gives it."""
        from fastent import _api
        return _api.reduced(self._total, self._weight, reduction="mean", loss_arr=None,
                            zero_division=self.options.get("zero_division", np.nan))

    def _mean_nats(self):
        if self.loss != "softmax_cross_entropy":
            raise TypeError(f"perplexity and bits_per_token apply to softmax_cross_entropy, "
                            f"not {self.loss}")
        w = self._weight.value()
        return self._total.value() / w / self._scale if w > 0 else math.nan

    def perplexity(self):
        """exp of the mean cross-entropy in nats (whatever `base`); NaN when nothing was
        counted or the mean is NaN; +inf only when the mean itself exceeds log(max float)."""
        m = self._mean_nats()
        if math.isnan(m):
            return np.float64(math.nan)
        return np.float64(math.exp(m) if m < 709.78 else math.inf)

    def bits_per_token(self):
        """The mean cross-entropy in bits."""
        return np.float64(self._mean_nats() / math.log(2))

    def __repr__(self):
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return (f"RunningLoss({self.loss}{opts}; mean={self.result():.6g}, "
                f"count={self.count}, weight={float(self.weight):.6g})")

    def __getstate__(self):
        return {"loss": self.loss, "options": self.options, "total": self._total.state(),
                "weight": self._weight.state(), "count": self._count}

    def __setstate__(self, state):
        self.__init__(state["loss"], **state["options"])
        self._total, self._weight = ExactSum(*state["total"]), ExactSum(*state["weight"])
        self._count = state["count"]
