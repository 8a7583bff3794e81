"""Dask arrays in, lazy Dask results out.

Every public function hands over to this module when one of its array arguments is a Dask
array.  Reduced values ("mean", "sum") are computed in one pass over the chunks: each chunk
runs the NumPy kernel with reduction="sum" and yields its exact sums (fastent._exact), which
are added exactly and rounded once into a lazy 0-d array: any chunking gives the bits of the
NumPy call.  "none" and gradients are
lazy arrays chunked like the prediction; the gradient of "mean" uses the
global denominator (a cheap pass over the weights or labels only).  A class axis split
across chunks is rechunked to one chunk along that axis (each row must be whole for its
softmax or its sum); the other axes keep their chunks.  Dask is optional: it is imported
only when a Dask array arrives.
"""
import numpy as np

from fastent import _registry
from fastent import _validation as v
from fastent._exact import ExactSum


def is_dask(*arrays):
    return any(type(a).__module__.split(".")[0] == "dask" for a in arrays if a is not None)


def _imports():
    import dask
    import dask.array as da
    return dask, da


def _combine(totals):
    """The chunks' Totals added exactly (their exact sums merged)."""
    from fastent._api import Totals
    totals = list(totals)
    return Totals(ExactSum.sum(p.total for p in totals), ExactSum.sum(p.weight for p in totals),
                  sum(p.count for p in totals))


def _finish(totals, reduction, zero_division):
    from fastent import _api
    return _api.reduced(totals.total, totals.weight, reduction=reduction, loss_arr=None,
                        zero_division=zero_division)


def run(name, target, pred, *, reduction, weight, want_loss, want_grad,
        class_axis=None, pred_name="prediction", out=None, grad_out=None, denominator=None,
        totals=False, **options):
    """The Dask version of the loss registered as `name` (fastent._registry): returns (lazy
    loss or None, lazy grad or None, None), or with `totals` (RunningLoss) (None, None, the
    Totals of all chunks as a Dask delayed object).

    Each chunk runs the loss's registered NumPy call with the loss's own `options` (its
    public keywords); `class_axis` is None for elementwise functions, else the class axis
    (which the NumPy call also receives, as `axis`, among the options); target is None for
    a loss of one distribution."""
    entry = _registry.LOSSES[name]

    def family_run(tb, xb, **kw):
        return entry.run(xb, **kw) if entry.one_argument else entry.run(tb, xb, **kw)

    if out is not None or grad_out is not None:
        raise ValueError("out, grad_out: not supported with Dask arrays (the results are "
                         "lazy Dask arrays)")
    dask, da = _imports()
    x = da.asarray(pred)
    dtype = v.computation_dtype(x.dtype, pred_name)
    x = x.astype(dtype)
    reduction = v.reduction(reduction)
    v.log_base(options.get("base", "e"))       # a bad base fails now, not at compute time
    zero_division = options.get("zero_division", np.nan)

    row_shape, row_chunks = x.shape, x.chunks
    if class_axis is None:
        ax = None
    else:
        if x.ndim == 0:
            raise ValueError(f"{pred_name}: must have a class axis (got a 0-d array)")
        ax = v.axis(class_axis, x.ndim)
        if x.numblocks[ax] > 1:
            if _unknown(x.chunks[ax]):
                raise ValueError(f"{pred_name}: the class axis (axis={class_axis}) has unknown "
                                 f"chunk sizes; call .compute_chunk_sizes() on the Dask "
                                 f"arrays first")
            x = x.rechunk({ax: -1})
        row_shape = x.shape[:ax] + x.shape[ax + 1:]
        row_chunks = x.chunks[:ax] + x.chunks[ax + 1:]
    unknown = any(_unknown(c) for c in x.chunks)

    def aligned(a, name, shape, chunks):
        """Operand `a` as a Dask array chunked like `chunks` (the prediction's, or its rows').
        With unknown chunk sizes (boolean indexing) an operand must already be chunked the
        same way (then chunk i meets chunk i; a mismatch fails in the chunk's own call)."""
        if a is None:
            return None
        a_unknown = is_dask(a) and any(_unknown(c) for c in a.chunks)
        if not unknown and a_unknown:
            raise ValueError(f"{name}: has unknown chunk sizes (the result of boolean "
                             f"indexing?) while {pred_name}'s are known; call "
                             f".compute_chunk_sizes() on it first")
        if not unknown:
            return da.broadcast_to(da.asarray(a), shape).rechunk(chunks)
        if is_dask(a) and a.ndim == len(chunks) and all(
                _same_sizes(c, d) for c, d in zip(a.chunks, chunks)):
            return a
        raise ValueError(f"{name}: the Dask arrays have unknown chunk sizes (the result of "
                         f"boolean indexing?) and {name} is not chunked like {pred_name}; "
                         f"call .compute_chunk_sizes() on them first")

    def full(a, name):
        return aligned(a, name, x.shape, x.chunks)

    def rows(a, name):
        return aligned(a, name, row_shape, row_chunks)

    # operands as Dask arrays aligned with x (full shape) or with its rows
    t = None
    if target is not None:
        dtype_t = getattr(target, "dtype", None) or np.asarray(target).dtype
        if class_axis is not None and np.dtype(dtype_t).kind in "biu":
            t = rows(target, "target")            # integer labels: one per row
        else:
            t = full(target, "target")
    w = full(weight, "weight") if class_axis is None else rows(weight, "weight")
    has_pw = "pos_weight" in options             # a keyword of the logits function only
    pw = full(options.pop("pos_weight", None), "pos_weight")

    def chunk_index(idx, a):
        """Index of the chunk of operand `a` for x's chunk `idx`."""
        if a is None:
            return None
        if a.ndim == x.ndim:
            return idx
        return idx[:ax] + idx[ax + 1:]

    blocks = {"x": x.to_delayed()}
    for name, a in (("t", t), ("w", w), ("pw", pw)):
        if a is not None:
            blocks[name] = a.to_delayed()

    def block_args(idx):
        get = lambda name, a: None if a is None else blocks[name][chunk_index(idx, a)]
        return get("t", t), blocks["x"][idx], get("w", w), get("pw", pw)

    unchunked = set(options)                    # class_weight and the like: whole in each call

    def call(idx, tb, xb, wb, pwb, **kw):
        """The NumPy `_run` on x's chunk `idx`; its errors name positions in the whole array."""
        opts = dict(options)
        if has_pw:
            opts["pos_weight"] = pwb
        try:
            return family_run(tb, xb, weight=wb, out=None, grad_out=None, **opts, **kw)
        except v.BadValue as e:
            raise _rebased(e, x.chunks, ax, idx, unchunked) from None

    loss = grad = None
    if totals or want_loss and reduction != "none":
        parts = [dask.delayed(lambda *a: call(*a, reduction="sum", want_loss=True,
                                              want_grad=False, totals=True)[2])(
                                                  idx, *block_args(idx))
                 for idx in np.ndindex(blocks["x"].shape)]
        combined = dask.delayed(_combine)(parts)
        if totals:
            return None, None, combined
        loss = da.from_delayed(dask.delayed(_finish)(combined, reduction, zero_division),
                               shape=(), dtype=np.float64)
    elif want_loss:
        def none_block(idx, tb, xb, wb, pwb):
            return call(idx, tb, xb, wb, pwb, reduction="none", want_loss=True,
                        want_grad=False)[0]
        loss = _map(da, none_block, x, t, w, pw, ax, dtype, drop_class=True)

    if want_grad:
        denominator = None
        if reduction == "mean":
            denominator = _denominator(dask, da, x, t, w, ax, class_axis, options, blocks,
                                       unchunked)

        def grad_block(idx, tb, xb, wb, pwb, denom=None):
            return call(idx, tb, xb, wb, pwb, reduction=reduction, want_loss=False,
                        want_grad=True,
                        denominator=None if denom is None else float(denom))[1]
        grad = _map(da, grad_block, x, t, w, pw, ax, dtype, drop_class=False,
                    extra=denominator)
    return loss, grad, None


def softmax_stats(logits, target, *, axis, k, ignore_index, base, n_threads):
    """softmax_stats of Dask arrays: each block of rows (the class axis in one chunk) runs
    the NumPy function; its fields travel as one float64 array (every value converts
    exactly) and are split lazily."""
    from fastent.softmax import SoftmaxStats, softmax_stats as numpy_stats
    _, da = _imports()
    x = da.asarray(logits)
    dtype = v.computation_dtype(x.dtype, "logits")
    ax = v.axis(axis, x.ndim, "axis")
    x = x.rechunk({ax: -1}).astype(dtype)
    C = x.shape[ax]
    has_t = target is not None
    row_chunks = x.chunks[:ax] + x.chunks[ax + 1:]
    t = da.asarray(target).rechunk(row_chunks) if has_t else None

    def block(xb, tb=None, block_id=None):  # class axis last; tb with a trailing axis of 1
        try:
            s = numpy_stats(xb, None if tb is None else tb[..., 0], k=k,
                              ignore_index=ignore_index, base=base, n_threads=n_threads)
        except v.BadValue as e:     # a label's position in the whole target
            raise _rebased(e, row_chunks + ((C,),), len(row_chunks), block_id, ()) from None
        return np.stack([np.asarray(f, np.float64) if f is not None
                         else np.zeros(s.argmax.shape) for f in s], axis=-1)

    args = (da.moveaxis(x, ax, -1),) + ((t[..., None],) if has_t else ())
    stacked = da.map_blocks(block, *args, dtype=np.float64,
                            chunks=row_chunks + ((len(SoftmaxStats._fields),),))
    field = lambda i, dt: stacked[..., i].astype(dt)
    return SoftmaxStats(field(0, dtype), field(1, dtype) if has_t else None, field(2, dtype),
                        field(3, dtype), field(4, np.intp), field(5, bool) if has_t else None,
                        field(6, bool) if has_t else None)


def _denominator(dask, da, x, t, w, ax, class_axis, options, blocks, unchunked):
    """The global denominator of "mean" as a lazy 0-d array, from a pass over the weights
    (elementwise) or the labels and row weights (class axis) only."""
    def count(n):            # a count of elements or rows, known now or chunk by chunk
        if not np.isnan(n):
            return da.from_array(np.float64(n), chunks=())
        sizes = [dask.delayed(lambda xb: xb.size // (1 if ax is None else xb.shape[ax]))(xb)
                 for xb in blocks["x"].ravel()]
        return da.from_delayed(dask.delayed(lambda ns: float(sum(ns)))(sizes), shape=(),
                               dtype=np.float64)

    if class_axis is None:
        if w is None:
            return count(x.size)
        from fastent import _runtime
        dt = x.dtype
        parts = [dask.delayed(lambda wb: ExactSum.of(_runtime.exact_sum(wb, dt)))(wb)
                 for wb in blocks["w"].ravel()]
    else:
        from fastent import _api
        C = x.shape[ax]
        labels = t is not None and t.ndim != x.ndim
        cw = options.get("class_weight")

        def part(idx, tb, wb):
            lab = np.ascontiguousarray(tb, dtype=np.intp) if labels else None
            cwa = None if cw is None or not labels else v.class_weight(cw, C, x.dtype)
            try:
                return _api.row_pass((tb if labels else wb).shape, C, wb, labels=lab,
                                     class_weight=cwa, ignore_index=options.get("ignore_index"),
                                     target=tb)[1]
            except v.BadValue as e:
                raise _rebased(e, x.chunks, ax, idx[:ax] + (0,) + idx[ax:], unchunked) from None
        if not labels and w is None:
            return count(np.prod(x.shape[:ax] + x.shape[ax + 1:]))
        grid = (blocks["t"] if labels else blocks["w"])
        parts = []
        for idx in np.ndindex(grid.shape):
            tb = blocks["t"][idx] if labels else None
            wb = blocks["w"][idx] if w is not None else None
            parts.append(dask.delayed(part)(idx, tb, wb))
    return da.from_delayed(dask.delayed(lambda ps: ExactSum.sum(ps).value())(parts), shape=(),
                           dtype=np.float64)


def _unknown(sizes):
    return any(np.isnan(c) for c in sizes)


def _same_sizes(a, b):
    """Chunk sizes along one axis agree (unknown sizes agree with unknown ones)."""
    return len(a) == len(b) and all(p == q or (np.isnan(p) and np.isnan(q))
                                    for p, q in zip(a, b))


def _rebased(e, chunks, ax, idx, unchunked):
    """BadValue `e` from x's chunk `idx` (`chunks`: x's chunk sizes, `ax` its class axis or
    None), its position moved to the whole array: an operand shaped like x or like its rows
    (the position's length says which); an option (`unchunked`) is whole in every call."""
    if e.name in unchunked:
        return e
    dims = list(range(len(chunks)))
    if ax is not None and len(e.position) == len(chunks) - 1:
        del dims[ax]
    if len(e.position) != len(dims):
        return e
    sizes, block = [chunks[d] for d in dims], tuple(idx[d] for d in dims)
    if any(_unknown(c) for c in sizes):
        return e.in_chunk(block)
    return e.moved([sum(c[:i]) for c, i in zip(sizes, block)])


def _map(da, fn, x, t, w, pw, ax, dtype, drop_class, extra=None):
    """Blockwise `fn(idx, tb, xb, wb, pwb[, extra])` over x's chunks, `idx` the chunk's index;
    drop_class: the output loses the class axis."""
    ind = tuple(range(x.ndim))
    row_ind = ind if ax is None else ind[:ax] + ind[ax + 1:]
    out_ind = row_ind if (drop_class and ax is not None) else ind
    args = []
    for a in (t, x, w, pw):
        if a is None:
            args += [None, None]
        else:
            args += [a, ind if a.ndim == x.ndim else row_ind]
    if extra is not None:
        args += [extra, ()]
    # one array of chunk numbers per axis, a chunk each: block (i, j) gets [i], [j].  The
    # operands are chunked like x already, so blockwise need not align them (and must not:
    # it would split x's chunks into the numbers' chunks of one).
    for d in ind:
        args += [da.arange(x.numblocks[d], chunks=1), (d,)]

    def block(*a):
        idx = tuple(int(i[0]) for i in a[len(a) - x.ndim:])
        return fn(idx, *a[:len(a) - x.ndim])
    return da.blockwise(block, out_ind, *args, dtype=dtype, concatenate=True,
                        align_arrays=False)
