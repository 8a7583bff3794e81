"""RunningLoss: the mean of a loss over data that arrives in batches.

Each update runs the kernel once and adds its exact sums (fastent._exact.ExactSum: the
values "none" would return, and the mean's weights) to the accumulator's exact sums, so
that any split of the data into batches, merged in any order, gives the one-shot result to
the bit.  Everything an accumulator holds is plain numbers (`state_dict`), so a checkpoint
restores it to the bit too.
"""
import collections
import math
import numbers
import textwrap
import threading

import numpy as np

from fastent import _api, _registry
from fastent import _validation as v
from fastent import binary, divergence, infotheory, softmax   # noqa: F401 (registering)
from fastent._exact import ExactSum

# 2: an exact sum's last number is its carry (of 2^1023); in 1 it was +-1 where the sum had
# overflowed to +-inf (read as one +-inf term)
STATE_VERSION = 2
_LOSSES = _registry.LOSSES      # every loss of the families imported above


def _run(name, target, prediction, options, **call):
    """Loss `name` on one batch with its options (defaults filled in); returns (loss,
    grad, Totals) with the exact sums whatever the reduction."""
    kw = dict(_LOSSES[name].options, **options)
    kw.update(reduction="sum", out=None, grad_out=None, want_loss=True, want_grad=False,
              totals=True)
    kw.update(call)
    entry = _LOSSES[name]
    if entry.one_argument:
        return entry.run(prediction, **kw)
    return entry.run(target, prediction, **kw)


# -- the configuration as plain, canonical numbers ------------------------------------------
def _number(x):
    """A float as JSON carries it: non-finite values as the strings "nan", "inf", "-inf"."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def _axis(x):
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"axis: must be an int, got {type(x).__name__}")
    return int(x)


def _eps(x):
    e = v.clip_eps(x, np.float64)           # checks "auto" too
    return "auto" if isinstance(x, str) else e


def _weights(name):
    def canonical(x):
        if x is None:
            return None
        a = v.as_array(x, name)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name}: dtype {a.dtype} is not supported; pass real numbers")
        if v.bad_weight(a).any():
            raise v.first_bad(name, a, v.bad_weight, v.WEIGHT_RANGE)
        return a.astype(np.float64).tolist()
    return canonical


# each shared option: its check and canonical spelling (a loss's own: fastent._registry)
_CANONICAL = {
    "base": lambda x: "e" if v.log_base(x) == 1.0 else float(x),
    "eps": _eps,
    "log_min": lambda x: None if x is None else v.real(x, "log_min"),
    "label_smoothing": lambda x: v.fraction(x, "label_smoothing"),
    "beta": v.beta,
    "temperature": v.temperature,
    "zero_division": lambda x: _number(v.real(x, "zero_division")),
    "axis": _axis,
    "ignore_index": v.ignore_index,
    "class_weight": _weights("class_weight"),
    "pos_weight": _weights("pos_weight"),
}


def _canonical(name, options):
    """The options that change the value, validated, with defaults filled in and spelt one
    way (base "e" or its number, floats as floats, arrays as lists of floats); n_threads
    is left out: it never changes a bit."""
    entry = _LOSSES[name]
    o = dict(entry.options, **options)
    v.n_threads(o.get("n_threads"))
    return {k: (entry.canonical.get(k) or _CANONICAL[k])(o[k])
            for k in entry.options if k != "n_threads"}


def _call_options(canonical):
    """Keyword arguments for the loss function from canonical options."""
    o = dict(canonical)
    if "zero_division" in o:
        o["zero_division"] = float(o["zero_division"])
    return o


class _Stats:
    """What an accumulator sums: the exact total of w * loss, the mean's weights, the count;
    units the caller supplied; and per sequence, the exact sum of sequence perplexities and
    their number."""

    __slots__ = ("total", "weight", "count", "units", "seq_ppl", "seq_count")

    def __init__(self):
        self.total, self.weight, self.units, self.seq_ppl = (ExactSum(), ExactSum(),
                                                             ExactSum(), ExactSum())
        self.count = self.seq_count = 0

    def add(self, other):
        for k in ("total", "weight", "units", "seq_ppl"):
            getattr(self, k).add(getattr(other, k))
        self.count += other.count
        self.seq_count += other.seq_count
        return self

    def copy(self):
        return _Stats().add(self)

    def state(self):
        return {"total": self.total.state(), "weight": self.weight.state(),
                "count": self.count, "units": self.units.state(),
                "seq_ppl": self.seq_ppl.state(), "seq_count": self.seq_count}

    @classmethod
    def of_state(cls, d, version=STATE_VERSION):
        s = cls()
        for k in ("total", "weight", "units", "seq_ppl"):
            partials, pinf, ninf, nan, last = d[k]
            if version == 1 and last:
                pinf, ninf, last = pinf + (last > 0), ninf + (last < 0), 0
            setattr(s, k, ExactSum(partials, pinf, ninf, nan, last))
        s.count, s.seq_count = int(d["count"]), int(d["seq_count"])
        return s


_MISSING = object()


class RunningLoss:
    """Streaming mean of one of fastent's losses, exact in any split and merge order.

    Parameters
    ----------
    loss : str or function
        The loss function or its name, one of
        LOSSES
    window : int, optional
        Also keep the last `window` updates apart: `windowed()` is an accumulator of those
        only (a moving figure beside the lifetime one).
    sequence_axis : int, optional
        softmax_cross_entropy only: the axis of the labels (the logits' shape without the
        class axis) that indexes sequences; each update then also adds the perplexity of
        each of its sequences, for `perplexity(per="sequence")`.
    **options
        The loss's keywords except `reduction`, `out`, `grad_out`, `return_grad`; checked
        now.

    Returns
    -------
    RunningLoss
        An empty accumulator.  `update(target, prediction, weight=None, units=None)` adds a
        batch (one-distribution losses: `update(p)`; Dask arrays are computed chunk by
        chunk); `merge(other)` adds an accumulator of the same configuration; `result()` is
        the mean exactly as the one-shot call with reduction="mean" gives it;
        `perplexity()`, `bits_per_token()`, `bits_per_unit()`; `total`, `weight`, `count`,
        `units`, `sequences`; `state_dict()` / `load_state_dict()` / `from_state_dict()`
        checkpoint it as plain JSON-safe numbers, to the bit; picklable; `reset()`.

    Raises
    ------
    ValueError
        An unknown loss, an option out of range, a window that is not a positive int.
    TypeError
        An option the loss does not take, or of the wrong type.

    Examples
    --------
    >>> import numpy as np, fastent as fe
    >>> labels = np.array([2, 0, 1, 1])
    >>> logits = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    >>> acc = fe.RunningLoss("softmax_cross_entropy")
    >>> _ = acc.update(labels[:3], logits[:3]).update(labels[3:], logits[3:])
    >>> bool(acc.result() == fe.softmax_cross_entropy(labels, logits))    # to the bit
    True
    >>> round(float(acc.perplexity()), 6), acc.count
    (1.678268, 4)
    >>> back = fe.RunningLoss.from_state_dict(acc.state_dict())
    >>> bool(back.result() == acc.result())
    True
    """

    def __init__(self, loss, *, window=None, sequence_axis=None, **options):
        name = getattr(loss, "__name__", loss)
        if not isinstance(name, str) or name not in _LOSSES:
            raise ValueError(f"loss: must be one of {sorted(_LOSSES)} or the function, "
                             f"got {loss!r}")
        known = _LOSSES[name].options
        unknown = sorted(set(options) - set(known))
        if unknown:
            why = {"reduction": "reduction: RunningLoss always keeps the running mean",
                   "out": "out: RunningLoss keeps sums, not the per-row values",
                   "grad_out": "grad_out: RunningLoss computes no gradient",
                   "return_grad": "return_grad: RunningLoss computes no gradient"}
            said = [why.get(k, f"{k}: {name} has no option {k!r}") for k in unknown]
            raise TypeError(f"RunningLoss({name!r}): " + "; ".join(said)
                            + f" (its options: {', '.join(known)})")
        if window is not None and (isinstance(window, bool)
                                   or not isinstance(window, numbers.Integral) or window < 1):
            raise ValueError(f"window: must be None or a positive int, got {window!r}")
        if sequence_axis is not None:
            if name != "softmax_cross_entropy":
                raise ValueError(f"sequence_axis: applies to softmax_cross_entropy (per-"
                                 f"sequence perplexity), not to {name}")
            if isinstance(sequence_axis, bool) or not isinstance(sequence_axis,
                                                                 numbers.Integral):
                raise TypeError(f"sequence_axis: must be None or an int, got "
                                f"{type(sequence_axis).__name__}")
        self.loss = name
        self.options = dict(options)
        self.window = None if window is None else int(window)
        self.sequence_axis = None if sequence_axis is None else int(sequence_axis)
        self._config = _canonical(name, options)
        self._scale = v.log_base(options.get("base", "e"))
        # updates from several Python threads: each replaces _stats by a new total under the
        # lock (the kernels run outside it), so a reader sees one whole total or the next
        self._lock = threading.Lock()
        self.reset()

    # -- accumulation ---------------------------------------------------------------
    def reset(self):
        """Forget every batch."""
        with self._lock:
            self._stats = _Stats()
            self._recent = collections.deque(maxlen=self.window) if self.window else None
        return self

    def _snapshot(self):
        """(the totals, the window's updates) as they are now, taken together."""
        with self._lock:
            return self._stats, None if self._recent is None else list(self._recent)

    def update(self, target, prediction=_MISSING, weight=None, *, units=None):
        """Add a batch; returns self.

        For `entropy`, `information` and `binary_entropy` (one array), `update(p)`.
        `units`: how many units (bytes, words, ...) this batch's text holds, for
        `bits_per_unit()` and `perplexity(per="unit")`."""
        if _LOSSES[self.loss].one_argument:
            if prediction is _MISSING:
                target, prediction = None, target
            elif target is not None:
                raise TypeError(f"{self.loss} takes one distribution: update(p) or "
                                f"update(p, weight=w)")
        elif prediction is _MISSING:
            raise TypeError(f"update: {self.loss} needs the target and the prediction: "
                            f"update(target, prediction)")
        u = None
        if units is not None:
            u = v.real(units, "units")
            if not (u >= 0 and math.isfinite(u)):
                raise ValueError(f"units: must be a finite number >= 0, got {units!r}")
        opts = dict(self.options, weight=weight)
        stats = _Stats()
        if self.sequence_axis is None:
            totals = _run(self.loss, target, prediction, opts)[2]
            if hasattr(totals, "compute"):      # Dask: the chunks' exact sums, computed now
                totals = totals.compute()
        else:
            totals = self._update_sequences(stats, target, prediction, opts)
        stats.total, stats.weight, stats.count = totals.total, totals.weight, totals.count
        if u is not None:
            stats.units.add(ExactSum.of_value(u))
        with self._lock:
            self._stats = self._stats.copy().add(stats)
            if self._recent is not None:
                self._recent.append(stats)
        return self

    def _update_sequences(self, stats, target, logits, opts):
        """The per-row losses of one batch, summed per sequence: each sequence's perplexity,
        exp(its weighted mean loss in nats), goes into the exact sum of sequence
        perplexities (sequences with nothing counted are skipped)."""
        from fastent import _dask
        if _dask.is_dask(target, logits, opts.get("weight")):
            raise TypeError("sequence_axis: Dask arrays are not supported; update with "
                            "NumPy batches")
        loss, _, totals = _run(self.loss, target, logits, opts, reduction="none")
        ax = v.axis(self.sequence_axis, loss.ndim, "sequence_axis")
        # each sequence's denominator from the one row pass the loss itself uses (weights,
        # class weights of labels in the computation dtype, ignore_index)
        x, dtype = v.prediction(logits, "logits")
        C = x.shape[v.axis(self._config["axis"], x.ndim)]
        t = np.asarray(target)
        labels = t.dtype.kind in "biu"
        cw = self._config["class_weight"]
        cw = None if cw is None or not labels else v.class_weight(cw, C, dtype)
        w = opts.get("weight")
        w = None if w is None else np.broadcast_to(np.asarray(w, np.float64), loss.shape)
        for i in range(loss.shape[ax]):
            ti = np.take(t, i, axis=ax) if labels else None
            den = _api.row_pass(
                np.take(loss, i, axis=ax).shape, C, None if w is None else np.take(w, i, axis=ax),
                labels=None if ti is None else v.labels(ti, "target"), class_weight=cw,
                ignore_index=self._config["ignore_index"], target=ti)[1].value()
            if den > 0:
                lrow = np.take(loss, i, axis=ax).astype(np.float64).ravel()
                nats = math.fsum(lrow) / den / self._scale
                stats.seq_ppl.add(ExactSum.of_value(_exp(nats)))
                stats.seq_count += 1
        return totals

    def merge(self, other):
        """Add the batches of another accumulator of the same configuration; returns self.

        Windows are merged step by step: the i-th latest update of `other` joins the i-th
        latest of this one (data-parallel workers that update once per step)."""
        if not isinstance(other, RunningLoss):
            raise TypeError(f"other: expected a RunningLoss, got {type(other).__name__}")
        if self._key() != other._key():
            raise ValueError(f"other: cannot merge {other!r} into {self!r}: "
                             f"the loss or its options differ")
        stats, theirs = other._snapshot()
        with self._lock:
            self._stats = self._stats.copy().add(stats)
            if self._recent is not None:
                mine = list(self._recent)
                n = max(len(mine), len(theirs))
                mine = [_Stats()] * (n - len(mine)) + mine
                theirs = [_Stats()] * (n - len(theirs)) + theirs
                self._recent.clear()
                self._recent.extend(a.copy().add(b) for a, b in zip(mine, theirs))
        return self

    def _key(self):
        return (self.loss, self._config, self.window, self.sequence_axis)

    def windowed(self):
        """A new accumulator (no window) holding only the last `window` updates."""
        if self._recent is None:
            raise ValueError("windowed: this accumulator has no window (RunningLoss(..., "
                             "window=k))")
        acc = RunningLoss(self.loss, sequence_axis=self.sequence_axis, **self.options)
        for s in self._snapshot()[1]:
            acc._stats.add(s)
        return acc

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self):
        """Everything this accumulator holds, as plain JSON-safe numbers (floats finite,
        lists, ints, strings): `json.dumps(acc.state_dict(), allow_nan=False)` works, and
        `load_state_dict` restores it to the bit.  n_threads is not part of it."""
        stats, recent = self._snapshot()
        return {"format": "fastent.RunningLoss", "version": STATE_VERSION, "loss": self.loss,
                "options": dict(self._config), "window": self.window,
                "sequence_axis": self.sequence_axis, "stats": stats.state(),
                "recent": None if recent is None else [s.state() for s in recent]}

    def load_state_dict(self, state):
        """Replace what this accumulator holds by a `state_dict()` of one with the same
        configuration; returns self."""
        if not isinstance(state, dict) or state.get("format") != "fastent.RunningLoss":
            raise ValueError("state: not a RunningLoss state_dict")
        version = state.get("version")
        if version not in (1, STATE_VERSION):
            raise ValueError(f"state: version {version!r} is not supported "
                             f"(this fastent reads versions 1 to {STATE_VERSION})")
        key = (state["loss"], state["options"], state["window"], state["sequence_axis"])
        if key != self._key():
            raise ValueError(f"state: it is of {state['loss']} with options "
                             f"{state['options']}, window={state['window']}, "
                             f"sequence_axis={state['sequence_axis']}; this accumulator is "
                             f"of {self.loss} with {self._config}, window={self.window}, "
                             f"sequence_axis={self.sequence_axis}")
        stats = _Stats.of_state(state["stats"], version)
        recent = [_Stats.of_state(s, version) for s in state["recent"]] \
            if self._recent is not None else None
        with self._lock:
            self._stats = stats
            if recent is not None:
                self._recent.clear()
                self._recent.extend(recent)
        return self

    @classmethod
    def from_state_dict(cls, state, n_threads=None):
        """A new accumulator from a `state_dict()`."""
        if not isinstance(state, dict) or "loss" not in state or "options" not in state:
            raise ValueError("state: not a RunningLoss state_dict")
        opts = _call_options(state["options"])
        if n_threads is not None:
            opts["n_threads"] = n_threads
        acc = cls(state["loss"], window=state.get("window"),
                  sequence_axis=state.get("sequence_axis"), **opts)
        return acc.load_state_dict(state)

    def __getstate__(self):
        return {"state": self.state_dict(), "n_threads": self.options.get("n_threads")}

    def __setstate__(self, d):
        self.__dict__.update(RunningLoss.from_state_dict(d["state"], d["n_threads"]).__dict__)

    # -- results -------------------------------------------------------------------
    @property
    def total(self):
        """Sum of weight * loss over everything added, in the unit of `base`."""
        return np.float64(self._stats.total.value())

    @property
    def weight(self):
        """The mean's denominator: summed weights (class weights of labels included)."""
        return np.float64(self._stats.weight.value())

    @property
    def count(self):
        """Elements (binary losses) or rows (class-axis losses) counted."""
        return self._stats.count

    @property
    def units(self):
        """The units passed to `update` (bytes, words, ...), summed."""
        return np.float64(self._stats.units.value())

    @property
    def sequences(self):
        """Sequences counted for `perplexity(per="sequence")`."""
        return self._stats.seq_count

    def result(self):
        """The weighted mean, as the one-shot call with reduction="mean" gives it."""
        from fastent import _api
        st = self._stats                    # one total: an update replaces it whole
        return _api.reduced(st.total, st.weight, reduction="mean",
                            loss_arr=None, zero_division=float(self._config["zero_division"]))

    def _nats(self, per):
        """The language-model figure in nats: mean per token, per unit."""
        if self.loss != "softmax_cross_entropy":
            raise TypeError(f"perplexity and bits per token or unit apply to "
                            f"softmax_cross_entropy, not {self.loss}")
        st = self._stats
        den = (st.weight if per == "token" else st.units).value()
        return st.total.value() / den / self._scale if den > 0 else math.nan

    def perplexity(self, per="token"):
        """exp of the mean cross-entropy in nats (whatever `base`).

        per="token": over every counted token (row) -- the usual figure; per="sequence": the
        mean over sequences of each sequence's perplexity (needs `sequence_axis`);
        per="unit": exp(total nats / units passed to `update`) (word- or byte-level
        perplexity).  NaN when nothing was counted or the mean is NaN; +inf only when the
        mean itself exceeds log(max float)."""
        if per == "sequence":
            if self.loss != "softmax_cross_entropy" or self.sequence_axis is None:
                raise ValueError("per: 'sequence' needs RunningLoss('softmax_cross_entropy', "
                                 "sequence_axis=...)")
            st = self._stats
            n = st.seq_count
            return np.float64(st.seq_ppl.value() / n if n else math.nan)
        if per not in ("token", "unit"):
            raise ValueError(f"per: must be 'token', 'sequence' or 'unit', got {per!r}")
        return np.float64(_exp(self._nats(per)))

    def bits_per_token(self):
        """The mean cross-entropy in bits."""
        return np.float64(self._nats("token") / math.log(2))

    def bits_per_unit(self):
        """Total cross-entropy in bits over the units passed to `update` (bits per byte,
        per character, per word); NaN when no units were passed."""
        return np.float64(self._nats("unit") / math.log(2))

    def __repr__(self):
        # the options given, not the defaults a state_dict round trip spells out
        defaults = _LOSSES[self.loss].options
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items()
                       if not _is_default(defaults[k], v))
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in ("window", "sequence_axis")
                        if getattr(self, k) is not None)
        return (f"RunningLoss({self.loss}{opts}{extra}; mean={self.result():.6g}, "
                f"count={self.count}, weight={float(self.weight):.6g})")


RunningLoss.__doc__ = RunningLoss.__doc__.replace("        LOSSES", textwrap.fill(
    ", ".join(_LOSSES) + ".", 92, initial_indent=" " * 8, subsequent_indent=" " * 8))


def _is_default(default, value):
    """Whether an option's value is its default (NaN equals NaN here)."""
    if value is None or default is None:
        return value is default
    if isinstance(value, numbers.Real) and isinstance(default, numbers.Real):
        return value == default or (math.isnan(value) and math.isnan(default))
    return isinstance(value, str) and value == default


def _exp(m):
    """exp that gives NaN for NaN and +inf (not OverflowError) past the float range."""
    if math.isnan(m):
        return math.nan
    return math.exp(m) if m < 709.78 else math.inf
