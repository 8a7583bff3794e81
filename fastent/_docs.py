"""The public functions' docstrings (numpydoc), composed once at import.

Keywords shared by several functions are written once here (`SHARED`, and per family where
their meaning differs); `document` composes a function's docstring in the order of its
signature, so a keyword added to a function without documentation fails at import."""
import inspect
import textwrap

ELEM, ROWS = "elementwise", "rows"

SHARED = {
    "reduction": ('{"mean", "sum", "none"}, default "mean"', {
        ELEM: '"none" returns the per-element loss times its weight; "sum" is the correctly '
              'rounded sum of those values; "mean" is that sum over the sum of the weights.',
        ROWS: '"none" returns the per-row value times the row weight; "sum" is the correctly '
              'rounded sum of those values; "mean" divides by the summed row weights (for '
              'class labels weighted by class_weight of the label, as PyTorch does).',
    }),
    "weight": ("array_like, optional", {
        ELEM: "Per-element weights, broadcastable to the prediction's shape; finite, >= 0.",
        ROWS: "Per-row weights, broadcastable to the prediction's shape without `axis`; "
              "finite, >= 0.",
    }),
    "base": ('"e" or positive number, default "e"',
             "Logarithm base of the result: 2 gives bits; losses and gradients are divided "
             "by ln(base)."),
    "eps": ('"auto" or float in [0, 0.5), default "auto"', {
        ELEM: 'Probabilities are clipped to [eps, 1 - eps] before the logs; "auto" is the '
              "machine epsilon of the computation dtype; 0 gives exact IEEE results (+inf for "
              "a confident wrong prediction).",
        ROWS: 'Values inside a log are raised to at least eps ("auto": the machine epsilon '
              "of the computation dtype), so results are finite; eps=0 gives SciPy's "
              "conventions exactly (+inf where p > 0 = q).",
    }),
    "label_smoothing": ("float in [0, 1], default 0", {
        ELEM: "Targets become t (1 - label_smoothing) + label_smoothing / 2.",
        ROWS: "Targets become (1 - label_smoothing) target + label_smoothing / C.",
    }),
    "zero_division": ("float, default nan",
                      'What "mean" returns when nothing is counted (empty input, all weights '
                      "zero, every label ignored)."),
    "out": ("ndarray, optional",
            'Receives the unreduced values (reduction="none" only): the loss\'s shape and the '
            "computation dtype, writeable; the result is that very array.  It may share "
            "memory with an input: the values are those of the call with separate arrays "
            "(NumPy's ufunc rule; computed apart, then copied in)."),
    "grad_out": ("ndarray, optional",
                 "Receives the gradient: the prediction's shape and computation dtype, "
                 "writeable; the result is that very array.  It may be an input (e.g. "
                 "grad_out=logits, in place): the values are those of the call with separate "
                 "arrays.  Sharing memory with out raises ValueError."),
    "n_threads": ("int, optional",
                  "Threads for this call: None uses the usable cores, a positive int caps "
                  "them, -1 all usable cores, -2 all but one.  The result does not depend on "
                  "it, to the bit."),
    "return_grad": ("bool, default False",
                    "Also return the gradient with respect to the prediction, computed in "
                    "the same pass."),
    "axis": ("int, default -1",
             "The class axis: each row along it is one distribution (axis=1 is PyTorch's "
             "(N, C, d1, ...) layout)."),
}

RAISES = """ValueError
    A value outside its range (names the argument, the value and its first position), shapes
    that do not broadcast (names both), a keyword out of range.
TypeError
    A dtype or an argument of a type fastent does not read (names the argument and says what
    to pass instead)."""


def _returns(pred, per, grad_fn):
    if grad_fn:
        return ("grad : ndarray\n"
                f"    The gradient of the reduced loss with respect to `{pred}`: its shape,\n"
                "    the computation dtype (float32 or float64).")
    return ("loss : numpy.float64 or ndarray\n"
            '    "mean" and "sum": a float64 scalar; "none": the ' f"{per} values in the\n"
            "    computation dtype.\n"
            "grad : ndarray\n"
            "    Only with return_grad=True (a tuple (loss, grad) is then returned): the\n"
            f"    gradient with respect to `{pred}`.")


def document(kind, summary, *, params=None, pred, per, examples, notes=None, grad_fn=False):
    """Compose the numpydoc docstring of a public function of family `kind` (elementwise or
    rows): `params` holds the function's own parameters as name -> (type, text)."""
    params = params or {}

    def deco(fn):
        lines = [textwrap.dedent(summary).strip(), "", "Parameters", "----------"]
        for name in inspect.signature(fn).parameters:
            typ, text = params[name] if name in params else SHARED[name]
            if isinstance(text, dict):
                text = text[kind]
            lines.append(f"{name} : {typ}")
            lines += textwrap.wrap(textwrap.dedent(text).strip(), 88, initial_indent="    ",
                                   subsequent_indent="    ")
        lines += ["", "Returns", "-------", _returns(pred, per, grad_fn), "", "Raises",
                  "------", RAISES]
        if notes:
            lines += ["", "Notes", "-----", textwrap.dedent(notes).strip()]
        lines += ["", "Examples", "--------", textwrap.dedent(examples).strip()]
        fn.__doc__ = "\n".join(lines) + "\n"
        return fn
    return deco
