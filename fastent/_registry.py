"""The losses by name, each with the one call that runs it: what RunningLoss derives its
losses, options and defaults from, and what the Dask graphs (fastent._dask.run) call on
each chunk.

A family module registers each public loss with `@loss(run)` where it defines it.  `run`
is the family's `_run` with the loss's leading arguments bound:
run(target, prediction, *, reduction, weight, out, grad_out, want_loss, want_grad,
totals, **options) -> (loss or None, grad or None, Totals), for NumPy and Dask input alike;
run(p, ...) for a loss of one distribution (entropy).
The options and their defaults are read from the public function's signature, so they
cannot drift from it.
"""
import inspect
from typing import Callable, NamedTuple

# the keywords of a call, not of the loss: every loss takes them, RunningLoss sets them
CALL_KEYWORDS = ("reduction", "weight", "out", "grad_out", "return_grad")


class Loss(NamedTuple):
    name: str
    run: Callable
    options: dict           # option -> default, in the signature's order
    one_argument: bool      # one distribution (entropy): run(p, ...)
    canonical: dict         # option -> its own check and canonical spelling (see loss())


LOSSES = {}


def loss(run, **canonical):
    """Register the decorated public function under its name, run by `run`.  `canonical`:
    for an option no other loss has, a function checking a value and returning it as plain
    JSON-safe numbers (RunningLoss's state_dict); the shared options have theirs in
    fastent._streaming."""
    def register(fn):
        params = inspect.signature(fn).parameters.values()
        options = {p.name: p.default for p in params
                   if p.kind is p.KEYWORD_ONLY and p.name not in CALL_KEYWORDS}
        positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        LOSSES[fn.__name__] = Loss(fn.__name__, run, options, len(positional) == 1,
                                   canonical)
        return fn
    return register
