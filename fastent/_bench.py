"""`python -m fastent bench`: fastent against its peers, timed side by side.

Every workload (a function, loss or loss+grad, a dtype, a shape) is timed for fastent at each
thread count and for every peer installed here: NumPy (fastent.reference's per-element
formulas and np.mean, as a NumPy user writes them; one thread), SciPy's special functions,
scikit-learn's Cython losses and PyTorch on the CPU (forward + autograd backward for
loss+grad), the peers with threads at the same count.  Implementations are interleaved round
by round, so a change in the machine's load hits all of them alike; a time is the median of
the rounds, its spread the interquartile range.  The error column is normwise,
||result - exact|| / ||exact|| over the loss and the gradient, against fastent.reference run
in float64 on the same inputs.

Every implementation is timed with the memory it freed kept for reuse (glibc's mallopt; the
report's memory line says what was done), so its temporaries cost no page faults in any
round; that memory goes back between workloads.

Writes report.md (header: date, machine, versions, skipped peers, memory, warnings; times;
speed-up ratios), results.json (every measurement) and, with matplotlib, throughput.png
(one panel per family, every implementation at 1 and 2 threads).  The same workloads, peers
and error measure serve the pytest-benchmark suite in bench/; `--from-json` renders its
saved JSON.
"""
import argparse
import datetime
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

import fastent as fe
from fastent import reference as R

NOISY = 0.10            # a time whose IQR exceeds 10% of its median is marked ~
BUSY = 0.25             # cores kept busy by other processes above which the machine is busy


# ----------------------------------------------------------------------------- errors
def normwise_error(actual, exact):
    """max over the outputs of ||a - e||_2 / ||e||_2 (|a - e| where e = 0), in float64;
    non-finite entries must agree in place and value."""
    worst = 0.0
    for a, e in zip(actual, exact):
        a = np.asarray(a, np.float64).ravel()
        e = np.asarray(e, np.float64).ravel()
        finite = np.isfinite(e)
        if not np.array_equal(a[~finite], e[~finite], equal_nan=True):
            return math.inf
        d = np.linalg.norm(a[finite] - e[finite])
        n = np.linalg.norm(e[finite])
        worst = max(worst, float(d / n) if n > 0 else float(d))
    return worst


# ----------------------------------------------------------------------------- peers
def peers(compiled=False):
    """{name: module or None} and {name: why it is skipped} for the optional peers; with
    `compiled`, also torch.compile ("torch.compile") and JAX's jit ("jax", float64 on)."""
    found, skipped = {}, {}
    names = [("torch", "torch"), ("sklearn", "sklearn._loss.loss"), ("scipy", "scipy.special")]
    if compiled:
        names.append(("jax", "jax"))
        # compile in this process: pools of compile workers would read as other load
        os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    for name, module in names:
        try:
            found[name] = __import__(module, fromlist=["_"])
        except Exception as e:          # ImportError, or a broken install
            found[name] = None
            skipped[name] = f"{type(e).__name__}: {e}".splitlines()[0]
    if compiled and found.get("jax") is not None:
        found["jax"].config.update("jax_enable_x64", True)
    if compiled and found["torch"] is not None:
        # each workload (shape, dtype, gradient, thread count) compiles the same Python
        # function anew; past dynamo's recompile limit (8) it would run it eagerly, unsaid,
        # and the "torch.compile" column would time PyTorch eager
        config = found["torch"]._dynamo.config
        for limit in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit",
                      "accumulated_cache_size_limit"):
            if hasattr(config, limit):
                setattr(config, limit, max(getattr(config, limit), 1 << 16))
    if compiled:
        found["torch.compile"] = found["torch"]
        if found["torch"] is None:
            skipped["torch.compile"] = skipped["torch"]
    else:
        for name in ("torch.compile", "jax"):
            skipped[name] = "not asked for (--compiled: each shape compiles for seconds)"
    return found, skipped


ALL_CORES = ("jax",)    # peers whose threads cannot be set per call: compared at the most


def _compiled_peers(found, torch_fn, jax_fn, args, grad):
    """torch.compile of the PyTorch expression (autograd compiled with it) and jax.jit of
    the JAX one (value_and_grad for loss+grad); args: (target, prediction) NumPy arrays."""
    out = {}
    torch = found.get("torch.compile")
    if torch is not None and torch_fn is not None:
        compiled = torch.compile(torch_fn, dynamic=False)
        out["torch.compile"] = _torch_impl(torch, compiled, args[0], args[1], grad)
    jax = found.get("jax")
    if jax is not None and jax_fn is not None:
        t, x = (jax.device_put(a) for a in args)
        f = jax.jit(jax.value_and_grad(jax_fn, argnums=1) if grad else jax_fn)

        def make_jax(threads):
            def call():
                r = f(t, x)
                return (float(r[0]), np.asarray(r[1])) if grad else (float(r),)
            return call
        out["jax"] = (False, make_jax)
    return out


def _version(name):
    try:
        from importlib.metadata import version
        return version({"sklearn": "scikit-learn", "torch.compile": "torch"}.get(name, name))
    except Exception:
        return "?"


# ----------------------------------------------------------------------------- workloads
class Workload:
    """One row of the report: a function, a mode (loss or loss+grad), a dtype and a shape.

    `build(found)` makes the data (only when the workload runs) and returns (impls, exact):
    impls maps an implementation ("fastent", "NumPy", "torch", ...) to (threaded,
    make) where make(threads) gives a zero-argument callable returning a tuple (loss[,
    grad]); `exact()` is that tuple from fastent.reference in float64."""

    def __init__(self, family, mode, dtype, shape, build, shape_text=None):
        self.family, self.mode, self.dtype, self.shape = family, mode, dtype, shape
        self.build, self.shape_text = build, shape_text

    @property
    def label(self):
        shape = self.shape_text or str(tuple(int(s) for s in self.shape))
        return f"{self.family} {self.mode} {self.dtype} {shape}"

    @property
    def elements(self):
        return int(np.prod(self.shape))


def _impls(f, ref, ref_grad, args, grad, peer_impls):
    """fastent, NumPy and the peers for one workload, and the float64 exact values."""
    def make_fastent(threads):
        if grad:
            g = np.empty_like(args[-1])
            return lambda: f(*args, n_threads=threads, return_grad=True, grad_out=g)
        return lambda: (f(*args, n_threads=threads),)

    def numpy_loss():
        return np.mean(ref(*args, reduction="none"), dtype=np.float64)

    numpy_call = (lambda: (numpy_loss(), ref_grad(*args))) if grad else (
        lambda: (numpy_loss(),))
    wide = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else a for a in args]
    # the same function in float64: with the clip bound the call has (eps="auto" is the
    # machine epsilon of the computation dtype, float32's for a float32 workload)
    dt = args[-1].dtype
    kw = ({"eps": float(np.finfo(dt).eps)}
          if "eps" in inspect.signature(ref).parameters and dt.kind == "f" else {})

    def exact():
        return (ref(*wide, **kw),) + ((ref_grad(*wide, **kw),) if grad else ())
    impls = {"fastent": (True, make_fastent), "NumPy": (False, lambda threads: numpy_call)}
    impls.update(peer_impls)
    return impls, exact


def binary_workloads(sizes, dtypes):
    out = []
    for logits in (False, True):
        family = "bce_logits" if logits else "bce"
        f = fe.binary_cross_entropy_with_logits if logits else fe.binary_cross_entropy
        ref = R.binary_cross_entropy_with_logits if logits else R.binary_cross_entropy
        ref_g = (R.binary_cross_entropy_with_logits_grad if logits
                 else R.binary_cross_entropy_grad)
        for dtype in dtypes:
            for n in sizes:
                for mode in ("loss", "loss+grad"):
                    def build(found, n=n, dtype=dtype, grad=mode == "loss+grad", logits=logits,
                              f=f, ref=ref, ref_g=ref_g):
                        rng = np.random.default_rng(n)
                        t = (rng.random(n) < 0.5).astype(dtype)
                        x = (rng.normal(0, 3, n) if logits
                             else rng.uniform(0.001, 0.999, n)).astype(dtype)
                        return _impls(f, ref, ref_g, (t, x), grad,
                                      _binary_peers(found, logits, t, x, grad))
                    out.append(Workload(family, mode, np.dtype(dtype).name, (n,), build))
    return out


def _torch_impl(torch, fn, t, x, grad):
    """PyTorch's forward (no_grad) or forward + backward, at a thread count."""
    def make(threads):
        tt, xt = torch.from_numpy(t), torch.from_numpy(x)

        def use_threads():          # global in torch: set for each call (interleaved peers)
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        if not grad:
            def call():
                use_threads()
                with torch.no_grad():
                    return (fn(xt, tt).item(),)
            return call

        def call():
            use_threads()
            xg = xt.detach().requires_grad_(True)
            loss = fn(xg, tt)
            loss.backward()
            return loss.item(), xg.grad.numpy()
        return call
    return True, make


def _binary_peers(found, logits, t, x, grad):
    out = {}
    torch, sk = found.get("torch"), found.get("sklearn")
    if torch is not None:
        F = torch.nn.functional
        out["torch"] = _torch_impl(torch, F.binary_cross_entropy_with_logits if logits
                                   else F.binary_cross_entropy, t, x, grad)
    jnp = found["jax"].numpy if found.get("jax") is not None else None
    if logits:
        jf = None if jnp is None else (lambda tt, xx: jnp.mean(
            jnp.maximum(xx, 0) - xx * tt + jnp.log1p(jnp.exp(-jnp.abs(xx)))))
    else:
        jf = None if jnp is None else (lambda tt, xx: -jnp.mean(
            tt * jnp.log(xx) + (1 - tt) * jnp.log1p(-xx)))
    tf = None
    if torch is not None:
        F = torch.nn.functional
        tf = F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy
    out.update(_compiled_peers(found, tf, jf, (t, x), grad))
    if sk is not None and logits:
        def make_sk(threads):
            loss_obj = sk.HalfBinomialLoss()
            lo, go = np.empty_like(x), np.empty_like(x)
            tf = t.astype(x.dtype)
            # scikit-learn's loss is per sample; the mean is taken as a user would
            if grad:
                def call():
                    loss_obj.loss_gradient(tf, x, loss_out=lo, gradient_out=go,
                                           n_threads=threads)
                    return float(lo.mean()), go / x.size
                return call
            return lambda: (float(loss_obj.loss(tf, x, loss_out=lo, n_threads=threads).mean()),)
        out["sklearn"] = (True, make_sk)
    return out


def focal_workloads(sizes, dtypes):
    """sigmoid_focal_loss at its defaults (alpha 0.25, gamma 2) against torchvision's
    formula written in each peer's operations (torchvision itself is not needed)."""
    out = []
    for dtype in dtypes:
        for n in sizes:
            for mode in ("loss", "loss+grad"):
                def build(found, n=n, dtype=dtype, grad=mode == "loss+grad"):
                    rng = np.random.default_rng(n)
                    t = (rng.random(n) < 0.5).astype(dtype)
                    x = rng.normal(0, 3, n).astype(dtype)
                    return _impls(fe.sigmoid_focal_loss, R.sigmoid_focal_loss,
                                  R.sigmoid_focal_loss_grad, (t, x), grad,
                                  _focal_peers(found, t, x, grad))
                out.append(Workload("sigmoid_focal", mode, np.dtype(dtype).name, (n,),
                                    build))
    return out


def _focal_peers(found, t, x, grad, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss's formula, mean-reduced, in PyTorch (eager and
    compiled) and JAX."""
    torch = found.get("torch")
    tf = None
    if torch is not None:
        F = torch.nn.functional

        def tf(xx, tt):
            p = torch.sigmoid(xx)
            ce = F.binary_cross_entropy_with_logits(xx, tt, reduction="none")
            p_t = p * tt + (1 - p) * (1 - tt)
            a_t = alpha * tt + (1 - alpha) * (1 - tt)
            return (a_t * ce * (1 - p_t) ** gamma).mean()
    jnp = found["jax"].numpy if found.get("jax") is not None else None
    jf = None
    if jnp is not None:
        def jf(tt, xx):
            p = 1 / (1 + jnp.exp(-xx))
            ce = jnp.maximum(xx, 0) - xx * tt + jnp.log1p(jnp.exp(-jnp.abs(xx)))
            p_t = p * tt + (1 - p) * (1 - tt)
            a_t = alpha * tt + (1 - alpha) * (1 - tt)
            return jnp.mean(a_t * ce * (1 - p_t) ** gamma)
    out = {} if tf is None else {"torch": _torch_impl(torch, tf, t, x, grad)}
    out.update(_compiled_peers(found, tf, jf, (t, x), grad))
    return out


def softmax_workloads(shapes, dtypes):
    out = []
    for kind in ("index", "prob"):
        for dtype in dtypes:
            for N, C in shapes:
                for mode in ("loss", "loss+grad"):
                    def build(found, N=N, C=C, dtype=dtype, kind=kind,
                              grad=mode == "loss+grad"):
                        rng = np.random.default_rng(N + C)
                        x = rng.normal(0, 2, (N, C)).astype(dtype)
                        if kind == "index":
                            t = rng.integers(0, C, N)
                        else:
                            t = rng.random((N, C)).astype(dtype)
                            t /= t.sum(axis=1, keepdims=True)
                        return _impls(fe.softmax_cross_entropy, R.softmax_cross_entropy,
                                      R.softmax_cross_entropy_grad, (t, x), grad,
                                      _softmax_peers(found, kind, t, x, grad))
                    out.append(Workload(f"softmax_ce[{kind}]", mode, np.dtype(dtype).name,
                                        (N, C), build))
    return out


def _softmax_peers(found, kind, t, x, grad):
    out = {}
    torch, sk = found.get("torch"), found.get("sklearn")
    if torch is not None:
        out["torch"] = _torch_impl(torch, torch.nn.functional.cross_entropy, t, x, grad)
    jnp = found["jax"].numpy if found.get("jax") is not None else None
    jf = None
    if jnp is not None:
        from jax.nn import log_softmax
        if kind == "index":
            jf = lambda tt, xx: -jnp.mean(jnp.take_along_axis(log_softmax(xx, axis=1),
                                                               tt[:, None], axis=1))
        else:
            jf = lambda tt, xx: -jnp.mean(jnp.sum(tt * log_softmax(xx, axis=1), axis=1))
    out.update(_compiled_peers(found, None if torch is None else
                               torch.nn.functional.cross_entropy, jf, (t, x), grad))
    if sk is not None and kind == "index":
        def make_sk(threads):
            loss_obj = sk.HalfMultinomialLoss(n_classes=x.shape[1])
            y = t.astype(x.dtype)
            lo = np.empty(x.shape[0], x.dtype)
            go = np.empty_like(x)
            if grad:
                def call():
                    loss_obj.loss_gradient(y, x, loss_out=lo, gradient_out=go,
                                           n_threads=threads)
                    return float(lo.mean()), go / x.shape[0]
                return call
            return lambda: (float(loss_obj.loss(y, x, loss_out=lo, n_threads=threads).mean()),)
        out["sklearn"] = (True, make_sk)
    return out


def divergence_workloads(shapes, dtypes):
    funcs = {"cross_entropy": (fe.cross_entropy, R.cross_entropy, R.cross_entropy_grad),
             "kl_divergence": (fe.kl_divergence, R.kl_divergence, R.kl_divergence_grad),
             "entropy": (fe.entropy, R.entropy, R.entropy_grad)}
    out = []
    for name, (f, ref, ref_g) in funcs.items():
        for dtype in dtypes:
            for N, C in shapes:
                for mode in ("loss", "loss+grad"):
                    def build(found, N=N, C=C, dtype=dtype, name=name,
                              grad=mode == "loss+grad", f=f, ref=ref, ref_g=ref_g):
                        rng = np.random.default_rng(N + C)
                        p, q = rng.random((N, C)), rng.random((N, C))
                        p = (p / p.sum(1, keepdims=True)).astype(dtype)
                        q = (q / q.sum(1, keepdims=True)).astype(dtype)
                        a = (q,) if name == "entropy" else (p, q)
                        return _impls(f, ref, ref_g, a, grad,
                                      _divergence_peers(found, name, p, q, grad))
                    out.append(Workload(name, mode, np.dtype(dtype).name, (N, C), build))
    return out


def _divergence_peers(found, name, p, q, grad):
    out = {}
    torch, special = found.get("torch"), found.get("scipy")
    if special is not None and not grad:
        fn = {"cross_entropy": lambda: -special.xlogy(p, q).sum(-1).mean(),
              "kl_divergence": lambda: special.rel_entr(p, q).sum(-1).mean(),
              "entropy": lambda: special.entr(q).sum(-1).mean()}[name]
        out["scipy"] = (False, lambda threads: (lambda: (fn(),)))
    if torch is not None:
        pt = torch.from_numpy(p)

        def value(qq, _unused=None):
            if name == "kl_divergence":
                return torch.nn.functional.kl_div(qq.log(), pt, reduction="batchmean")
            if name == "cross_entropy":
                return -(pt * qq.log()).sum(-1).mean()
            return -(qq * qq.log()).sum(-1).mean()
        out["torch"] = _torch_impl(torch, value, p, q, grad)
    jnp = found["jax"].numpy if found.get("jax") is not None else None
    jf = None
    if jnp is not None:
        jf = {"cross_entropy": lambda pp, qq: -jnp.mean(jnp.sum(pp * jnp.log(qq), axis=-1)),
              "kl_divergence": lambda pp, qq: jnp.mean(jnp.sum(
                  pp * (jnp.log(pp) - jnp.log(qq)), axis=-1)),
              "entropy": lambda pp, qq: -jnp.mean(jnp.sum(qq * jnp.log(qq), axis=-1))}[name]
    out.update(_compiled_peers(found, None if torch is None else value, jf, (p, q), grad))
    return out


def beyond_workloads(logit_shapes, stats_shapes, dtypes):
    """Distillation (kl_divergence_with_logits at T = 2, against PyTorch's recipe: two
    log_softmax, kl_div, autograd) and softmax_stats (against the four-pass NumPy recipe:
    fastent.reference.softmax_stats)."""
    import functools
    T = 2.0
    out = []
    for dtype in dtypes:
        for N, C in logit_shapes:
            for mode in ("loss", "loss+grad"):
                def build(found, N=N, C=C, dtype=dtype, grad=mode == "loss+grad"):
                    rng = np.random.default_rng(N + C)
                    t = rng.normal(0, 2, (N, C)).astype(dtype)
                    s = rng.normal(0, 2, (N, C)).astype(dtype)
                    part = lambda fn: functools.partial(fn, temperature=T)
                    return _impls(part(fe.kl_divergence_with_logits),
                                  part(R.kl_divergence_with_logits),
                                  part(R.kl_divergence_with_logits_grad), (t, s), grad,
                                  _distill_peers(found, t, s, T, grad))
                out.append(Workload(f"kl_divergence_with_logits[T={T:g}]", mode,
                                    np.dtype(dtype).name, (N, C), build))
        for N, C in stats_shapes:
            def build(found, N=N, C=C, dtype=dtype):
                rng = np.random.default_rng(N + C)
                x = rng.normal(0, 2, (N, C)).astype(dtype)
                y = rng.integers(0, C, N)
                fields = ("logsumexp", "log_prob", "entropy", "max_prob", "argmax", "correct")

                def make_fastent(threads):
                    def call():
                        r = fe.softmax_stats(x, y, n_threads=threads)
                        return tuple(getattr(r, f) for f in fields)
                    return call

                def numpy_call():
                    r = R.softmax_stats(x, y)
                    return tuple(r[f] for f in fields)

                def exact():
                    r = R.softmax_stats(x.astype(np.float64), y)
                    return tuple(r[f] for f in fields)
                impls = {"fastent": (True, make_fastent),
                         "NumPy": (False, lambda threads: numpy_call)}
                torch = found.get("torch")
                if torch is not None:
                    def make_torch(threads):
                        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

                        def call():
                            if torch.get_num_threads() != threads:
                                torch.set_num_threads(threads)
                            lse = torch.logsumexp(xt, 1)
                            lsm = xt - lse[:, None]
                            p = lsm.exp()
                            mx, am = xt.max(1)
                            xl = xt.gather(1, yt[:, None])
                            return (lse.numpy(), lsm.gather(1, yt[:, None])[:, 0].numpy(),
                                    -(p * lsm).sum(1).numpy(), (mx - lse).exp().numpy(),
                                    am.numpy(), ((xt > xl).sum(1) < 1).numpy())
                        return call
                    impls["torch"] = (True, make_torch)
                return impls, exact
            out.append(Workload("softmax_stats", "stats", np.dtype(dtype).name, (N, C), build))
    return out


def vocab_workloads(shapes):
    """Language-model evaluation over long vocabularies: the mean softmax cross-entropy and
    the target's log-probability (softmax_stats) of logits in bfloat16 (ml_dtypes: the bytes
    a model gives; NumPy casts to float32 first) and float32, against PyTorch on the same
    tensor (its own bfloat16 kernels) and the bound of reading them: copying them
    ("copy": np.copyto, the rows split between the threads)."""
    try:
        import ml_dtypes
        dtypes = [np.dtype(ml_dtypes.bfloat16), np.dtype(np.float32)]
    except ImportError:
        dtypes = [np.dtype(np.float32)]
    out = []
    for dtype in dtypes:
        for N, C in shapes:
            for family in ("softmax_ce[vocab]", "log_prob[vocab]"):
                def build(found, N=N, C=C, dtype=dtype, stats=family.startswith("log_prob")):
                    rng = np.random.default_rng(N + C)
                    x = (2 * rng.standard_normal((N, C), dtype=np.float32)).astype(dtype)
                    y = rng.integers(0, C, N)
                    if stats:
                        ours = lambda nt: lambda: (fe.softmax_stats(x, y, n_threads=nt).log_prob,)
                        ref = lambda a: R.softmax_stats(a, y)["log_prob"]
                    else:
                        ours = lambda nt: lambda: (fe.softmax_cross_entropy(y, x, n_threads=nt),)
                        ref = lambda a: np.mean(R.softmax_cross_entropy(y, a, reduction="none"),
                                                dtype=np.float64)
                    impls = {"fastent": (True, ours),
                             "NumPy": (False, lambda nt: lambda: (ref(x.astype(np.float32)),)),
                             "copy": (True, lambda nt: _copy_call(x, nt))}
                    torch = found.get("torch")
                    if torch is not None:
                        impls["torch"] = (True, lambda nt: _torch_vocab(torch, x, y, nt, stats))
                    return impls, lambda: (ref(x.astype(np.float64)),)
                out.append(Workload(family, "loss", dtype.name, (N, C), build))
    return out


def _copy_call(x, threads):
    """np.copyto of x into a buffer of its own, the rows split between `threads` threads
    (np.copyto releases the GIL): the time of reading and writing x once."""
    import concurrent.futures
    dst = np.empty_like(x)
    parts = np.array_split(np.arange(x.shape[0]), threads)
    if threads == 1:
        return lambda: (np.copyto(dst, x), ())[1]
    pool = concurrent.futures.ThreadPoolExecutor(threads)

    def call():
        list(pool.map(lambda r: np.copyto(dst[r[0]:r[-1] + 1], x[r[0]:r[-1] + 1]), parts))
        return ()
    return call


def _torch_vocab(torch, x, y, threads, stats):
    """PyTorch on the same logits: F.cross_entropy (mean) or log_softmax and gather, in the
    tensor's own dtype (bfloat16 viewed from ml_dtypes' bits)."""
    xt = (torch.from_numpy(x.view(np.int16)).view(torch.bfloat16) if x.dtype.name == "bfloat16"
          else torch.from_numpy(x))
    yt = torch.from_numpy(y)
    F = torch.nn.functional

    def call():
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.no_grad():
            if stats:
                return (F.log_softmax(xt, 1).gather(1, yt[:, None])[:, 0].float().numpy(),)
            return (F.cross_entropy(xt, yt).item(),)
    return call


def _distill_peers(found, t, s, T, grad):
    out = {}
    torch = found.get("torch")
    tf = None
    if torch is not None:
        F = torch.nn.functional

        def tf(ss, tt):         # the usual recipe (no T^2: fastent's value, compared alike)
            return F.kl_div(F.log_softmax(ss / T, -1), F.log_softmax(tt / T, -1),
                            log_target=True, reduction="batchmean")
        out["torch"] = _torch_impl(torch, tf, t, s, grad)
    jnp = found["jax"].numpy if found.get("jax") is not None else None
    jf = None
    if jnp is not None:
        from jax.nn import log_softmax
        jf = lambda tt, ss: jnp.mean(jnp.sum(jnp.exp(log_softmax(tt / T, axis=-1)) * (
            log_softmax(tt / T, axis=-1) - log_softmax(ss / T, axis=-1)), axis=-1))
    out.update(_compiled_peers(found, tf, jf, (t, s), grad))
    return out


def streaming_workloads(batches, rows, C, dtypes):
    """RunningLoss("softmax_cross_entropy") updated with `batches` batches of (rows, C)
    logits and labels, against one call on their concatenation (the "one-call" column:
    fastent itself, the same data and threads), timed interleaved as every workload is:
    what streaming costs over one call is the updates' overhead."""
    out = []
    for dtype in dtypes:
        def build(found, dtype=dtype):
            rng = np.random.default_rng(batches * rows + C)
            x = rng.normal(0, 2, (batches * rows, C)).astype(dtype)
            t = rng.integers(0, C, batches * rows)

            def make_stream(threads):
                def call():
                    acc = fe.RunningLoss("softmax_cross_entropy", n_threads=threads)
                    for i in range(0, len(t), rows):
                        acc.update(t[i:i + rows], x[i:i + rows])
                    return (acc.result(),)
                return call

            def make_one(threads):
                return lambda: (fe.softmax_cross_entropy(t, x, n_threads=threads),)

            def exact():
                return (R.softmax_cross_entropy(t, x.astype(np.float64)),)
            return {"fastent": (True, make_stream), "one-call": (True, make_one)}, exact
        out.append(Workload("RunningLoss[softmax_ce]", "update", np.dtype(dtype).name,
                            (batches * rows, C), build,
                            shape_text=f"{batches} batches × {(rows, C)}"))
    return out


def all_workloads(quick=False):
    dtypes = [np.float32, np.float64]
    # (64, 10): one small batch, where the per-call cost is what counts; short rows (10 and 2
    # classes) next to long ones, for the cost per element of each
    if quick:
        sizes = [10**3, 10**5, 10**6]
        shapes = [(64, 10), (8192, 10), (2048, 1000), (256, 32000), (131072, 2)]
        dist_shapes = [(8192, 10), (8192, 100), (512, 32000)]
        logit_shapes, stats_shapes = [(8192, 100), (512, 32000)], [(4096, 1000)]
        vocab = [(256, 128256)]
        streams = (8, 1024, 1000)
    else:
        sizes = [10**3, 10**4, 10**5, 10**6, 10**7]
        shapes = [(64, 10), (65536, 10), (16384, 1000), (2048, 32000), (1_000_000, 2)]
        dist_shapes = [(1_000_000, 2), (65536, 10), (65536, 100), (256, 4096), (4096, 32000)]
        logit_shapes, stats_shapes = [(65536, 100), (4096, 32000)], [(16384, 1000)]
        vocab = [(2048, 128256), (512, 256000)]
        streams = (16, 4096, 1000)
    return (binary_workloads(sizes, dtypes) + focal_workloads(sizes[-2:], dtypes)
            + softmax_workloads(shapes, dtypes)
            + divergence_workloads(dist_shapes, dtypes)
            + beyond_workloads(logit_shapes, stats_shapes, dtypes) + vocab_workloads(vocab)
            + streaming_workloads(*streams, dtypes))


def implementations(impls, threads):
    """[(key, callable maker, threads)]: threaded implementations at each count, the others
    once ("fastent-2t", "torch-1t", "NumPy")."""
    out = []
    for name, (threaded, make) in impls.items():
        if threaded:
            out += [(f"{name}-{nt}t", make, nt) for nt in threads]
        else:
            out.append((name, make, 1))
    return out


# ----------------------------------------------------------------------------- timing
# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def _glibc():
    """(libc, its version string) where the C library is glibc, else (None, None)."""
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version          # AttributeError: not glibc
    except (OSError, AttributeError):
        return None, None
    version.restype = ctypes.c_char_p
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc, version().decode()


def trim_allocator():
    """Give the memory freed and kept by steady_allocator back to the system (glibc's
    malloc_trim), between workloads: what one workload kept does not add to the next's.
    The (4096, 32000) float64 distillation workload, its NumPy and PyTorch recipes among
    it, held 16 GiB by its end."""
    libc, _ = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def steady_allocator():
    """Keep the memory this process frees for its next allocations (glibc: no mmap for
    large blocks, M_MMAP_MAX = 0; no trimming of the heap, M_TRIM_THRESHOLD = -1), so that
    an implementation's temporaries reuse the pages its previous call touched.  Otherwise
    whether a call pays the kernel's page faults and zeroing of fresh memory depends on
    what the calls before it left in the allocator: PyTorch's distillation recipe at
    (65536, 100) float32 took 24-25 ms without page faults and 30-115 ms with 6 400 to
    64 000 of them, from one round to the next (the report's PyTorch time of that workload
    moved between 26 and 42 ms from one run to the next).  Returns the report's sentence
    on it; elsewhere the allocator is left as it is, and the sentence says so."""
    libc, version = _glibc()
    if libc is None:
        return ("allocator left as it is (not glibc): a call may include page faults of "
                "fresh temporaries")
    if not (libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, -1)):
        return "glibc refused mallopt: a call may include page faults of fresh temporaries"
    return (f"glibc {version} keeps freed memory for reuse while a workload is timed "
            f"(mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=-1; malloc_trim between workloads): no "
            f"implementation's time includes page faults of fresh temporaries")


def measure(calls, budget):
    """Interleaved timing of zero-argument callables: round after round, each callable once
    (a sample of enough calls to last >= 5 ms), the order rotated every round.  Returns, per
    callable, (median, first quartile, third quartile) seconds per call."""
    once = []
    for c in calls:
        c()                                    # warm up (and page in outputs)
        t0 = time.perf_counter()
        c()
        once.append(max(time.perf_counter() - t0, 1e-7))
    inner = [max(1, int(0.005 / t)) for t in once]
    per_round = sum(t * k for t, k in zip(once, inner))
    rounds = max(5, min(31, int(budget * len(calls) / per_round)))
    samples = [[] for _ in calls]
    for r in range(rounds):
        for j in range(len(calls)):
            i = (j + r) % len(calls)
            t0 = time.perf_counter()
            for _ in range(inner[i]):
                calls[i]()
            samples[i].append((time.perf_counter() - t0) / inner[i])
    return [tuple(float(v) for v in np.percentile(s, [50, 25, 75])) for s in samples]


def run(workloads, threads, budget, found, progress=print, failed=None):
    """Time every workload; returns the rows of the report (see `report`).  `failed` gets
    {implementation: why} for the implementations that raised."""
    rows = []
    failed = {} if failed is None else failed
    start = time.perf_counter()
    for i, w in enumerate(workloads, 1):
        elapsed = time.perf_counter() - start
        eta = "" if i == 1 else f", about {_duration(elapsed / (i - 1) * (len(workloads) - i + 1))} left"
        progress(f"[{i}/{len(workloads)}] {w.label}  ({_duration(elapsed)} elapsed{eta})")
        rows.append(_time_workload(w, threads, budget, found, failed))
        trim_allocator()        # the workload's memory, kept while it was timed, goes back
    return rows


def _time_workload(w, threads, budget, found, failed):
    """The report's row of one workload (its data and results are freed on return)."""
    impls, exact = w.build(found)
    expected = exact()
    chosen, calls = [], []
    for key, make, nt in implementations(impls, threads):
        try:
            call = make(nt)
            call()                      # a peer that fails here (a compiler missing) is left out
        except Exception as e:
            failed[key] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
            continue
        chosen.append((key, make, nt))
        calls.append(call)
    stats = measure(calls, budget)
    row = dict(workload=w.label, family=w.family, mode=w.mode, dtype=w.dtype,
               shape=list(w.shape), elements=w.elements, times={}, errors={})
    for (key, _, _), call, (med, q1, q3) in zip(chosen, calls, stats):
        row["times"][key] = {"median": med, "q1": q1, "q3": q3}
        row["errors"][key] = normwise_error(call(), expected)
    return row


def _duration(s):
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


# ----------------------------------------------------------------------------- report
def environment(found, skipped, threads, source="python -m fastent bench (interleaved)"):
    from fastent import _threads
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(), "machine": platform.machine(), "cores": os.cpu_count(),
        "usable_cores": _threads.usable_cores(), "simd": fe._config.isa(),
        "fastent": fe.__version__, "commit": _commit(), "python": platform.python_version(),
        "numpy": np.__version__, "threads": list(threads), "source": source,
        "peers": {name: _version(name) for name, m in found.items() if m is not None},
        "skipped": dict(skipped), "others_before": None, "others_during": None,
    }
    try:
        from fastent._build_info import BUILD_INFO
        env["compiler"] = BUILD_INFO.get("compiler", "?")
    except ImportError:
        env["compiler"] = "?"
    return env


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(root, ".git")):
        return None
    try:
        out = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class OtherLoad:
    """CPU time other processes used (in cores) between `start()` and `stop()`: the
    machine's busy time minus this process's, from /proc (None where there is none).  A
    load average would count the benchmark's own threads and the compile before it."""

    def start(self):
        from fastent import _threads
        self._t, self._cpu = time.monotonic(), _threads.cpu_times()
        return self

    def stop(self):
        from fastent import _threads
        cpu, dt = _threads.cpu_times(), time.monotonic() - self._t
        if cpu is None or self._cpu is None or dt <= 0:
            return None
        return max(0.0, ((cpu[0] - self._cpu[0]) - (cpu[1] - self._cpu[1])) / dt)


def others_now(seconds=1.0):
    """Cores other processes keep busy, measured over `seconds` of idleness here."""
    probe = OtherLoad().start()
    time.sleep(seconds)
    return probe.stop()


def _spread(t):
    return (t["q3"] - t["q1"]) / t["median"] if t["median"] > 0 else 0.0


def warnings_for(env, rows):
    """Why the numbers may not be trusted: a busy machine, noisy times, 2 threads slower."""
    out = []
    for when, what in (("others_before", "before the run"), ("others_during", "during the run")):
        busy = env.get(when)
        if busy is not None and busy > BUSY:
            out.append(f"the machine was busy {what}: other processes kept {busy:.2f} cores "
                       f"busy, so times are inflated and ratios unreliable")
    times = [t for r in rows for t in r["times"].values()]
    noisy = sum(_spread(t) > NOISY for t in times)
    if times and noisy > 0.2 * len(times):
        load = env.get("others_during")
        cause = (f"other processes kept {load:.2f} cores busy during the run" if load
                 and load > BUSY else
                 "no other load was measured during the run, so the spread is the "
                 "machine's own variation (frequency, a shared host) over rounds of >= 5 ms: "
                 "a full run (without --quick) takes more rounds" if load is not None else
                 "the load during the run was not measured")
        out.append(f"{noisy} of {len(times)} times have a spread (IQR) above "
                   f"{NOISY:.0%} of their median (marked ~): {cause}")
    slow2 = [r["workload"] for r in rows if r["elements"] >= 10**6
             and "fastent-1t" in r["times"] and "fastent-2t" in r["times"]
             and r["times"]["fastent-2t"]["median"] > 1.5 * r["times"]["fastent-1t"]["median"]]
    if slow2:
        out.append(f"on {len(slow2)} large workloads fastent with 2 threads took over 1.5x its "
                   f"1-thread time: another process is competing for the cores")
    return out


def _fmt_time(t):
    s = t["median"]
    text = (f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s")
    return text + ("~" if _spread(t) > NOISY else "")


def _columns(rows, threads):
    keys = {k for r in rows for k in r["times"]}
    peer_names = sorted({k.rsplit("-", 1)[0] for k in keys if k.endswith("t") and "-" in k}
                        - {"fastent"})
    single = sorted(k for k in keys if "-" not in k and k != "NumPy")
    return peer_names, single


def _ratio_columns(rows, threads):
    """The speed-ups: (column, the peer's key, fastent's key), NumPy's first."""
    peer_names, single = _columns(rows, threads)
    rcols = [(f"NumPy ÷ fastent {nt}t", "NumPy", f"fastent-{nt}t") for nt in threads]
    for k in single:             # one-threaded peers, or (ALL_CORES) every core's
        nt = threads[-1] if k in ALL_CORES else threads[0]
        rcols.append((f"{k}{' (all cores)' if k in ALL_CORES else ''} ÷ fastent {nt}t", k,
                      f"fastent-{nt}t"))
    rcols += [(f"{p} {nt}t ÷ fastent {nt}t", f"{p}-{nt}t", f"fastent-{nt}t")
              for p in peer_names for nt in threads]
    return rcols


def _speedups(rows, a, b):
    """The peer `a`'s time over fastent's `b`, for every row that has both."""
    return [r["times"][a]["median"] / r["times"][b]["median"] for r in rows
            if a in r["times"] and b in r["times"]]


def summary(rows, threads):
    """The terminal's few lines: per peer, the median speed-up over the workloads and its
    range."""
    out = ["speed-up of fastent (the peer's time over fastent's; > 1: fastent is faster):"]
    for col, a, b in _ratio_columns(rows, threads):
        ratios = _speedups(rows, a, b)
        if ratios:
            out.append(f"  {col:<32} median {np.median(ratios):6.2f}   range "
                       f"{min(ratios):.2f}-{max(ratios):.2f}   ({len(ratios)} workloads)")
    return out


def report(env, rows, threads):
    """The Markdown report: header, warnings, times, ratios."""
    peer_names, single = _columns(rows, threads)
    head = [f"# fastent benchmark — {env['date']}", "",
            f"- machine: {env['cpu']} ({env['machine']}), {env['cores']} cores "
            f"({env['usable_cores']} usable); fastent kernels: {env['simd']}, built with "
            f"{env['compiler']}",
            f"- fastent {env['fastent']}" + (f" (commit {env['commit']})" if env["commit"] else "")
            + f"; Python {env['python']}, NumPy {env['numpy']}"
            + "".join(f", {k} {v}" for k, v in sorted(env["peers"].items())),
            "- skipped peers: " + ("; ".join(f"{k} ({v})" for k, v in sorted(env["skipped"].items()))
                                  or "none"),
            f"- timing: {env['source']}; medians, ~ marks an interquartile range above "
            f"{NOISY:.0%} of the median"
            + ("" if env.get("others_during") is None else
               f"; other processes used {env['others_before'] or 0:.2f} cores before the run, "
               f"{env['others_during']:.2f} during it")]
    if env.get("memory"):
        head.append(f"- memory: {env['memory']}")
    warn = warnings_for(env, rows)
    if warn:
        head += [""] + [f"> **Warning:** {w}." for w in warn]
    # times: (column, key); ratios: (column, peer key, fastent key)
    tcols = [(f"fastent {nt}t", f"fastent-{nt}t") for nt in threads] + [("NumPy", "NumPy")] + [
        (k, k) for k in single] + [(f"{p} {nt}t", f"{p}-{nt}t") for p in peer_names
                                   for nt in threads]
    rcols = _ratio_columns(rows, threads)
    fast = [c for c in tcols if c[1].startswith("fastent")]
    # a column most rows leave empty (a peer that runs few workloads) goes to a table of its
    # own, with only the rows it has
    common = lambda key: 2 * sum(key in r["times"] for r in rows) >= len(rows)
    t_main = [c for c in tcols if common(c[1])]
    t_rest = [c for c in tcols if not common(c[1])]
    r_main = [c for c in rcols if common(c[1])]
    r_rest = [c for c in rcols if not common(c[1])]

    def times_table(cols, sel):
        out = ["| workload | " + " | ".join(c for c, _ in cols) + " | fastent error |",
               "|---" * (len(cols) + 2) + "|"]
        for r in sel:
            cells = [_fmt_time(r["times"][k]) if k in r["times"] else "—" for _, k in cols]
            err = max(v for k, v in r["errors"].items() if k.startswith("fastent"))
            out.append(f"| {r['workload']} | " + " | ".join(cells) + f" | {err:.1e} |")
        return out

    def ratio_table(cols, sel):
        out = ["| workload | " + " | ".join(c for c, _, _ in cols) + " |",
               "|---" * (len(cols) + 1) + "|"]
        for r in sel:
            cells = []
            for _, a, b in cols:
                ta, tb = r["times"].get(a), r["times"].get(b)
                cells.append(f"{ta['median'] / tb['median']:.2f}" if ta and tb else "—")
            out.append(f"| {r['workload']} | " + " | ".join(cells) + " |")
        return out

    lines = head + ["", "## Times (median per call)", ""] + times_table(t_main, rows)
    lines += ["", "## Speed-up: the peer's time over fastent's (> 1: fastent is faster)", ""]
    lines += ratio_table(r_main, rows)
    if t_rest:
        sel = [r for r in rows if any(k in r["times"] for _, k in t_rest)]
        lines += ["", "## Implementations timed on a few workloads only", ""]
        lines += times_table(fast + t_rest, sel)
        if r_rest:
            lines += [""] + ratio_table(r_rest, sel)
    lines += ["", "Errors: max over loss and gradient of ||result − exact|| / ||exact||, the "
              "exact values from fastent.reference in float64 on the same inputs "
              "(results.json has every implementation's)."]
    return "\n".join(lines) + "\n", warn


def plot(env, rows, threads, path, throughput_path=None):
    """The speed-up figure at `path` (and the throughput one at `throughput_path`); False
    without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    _plot_speedups(plt, env, rows, threads, path)
    if throughput_path:
        _plot_throughput(plt, env, rows, throughput_path)
    return True


def _plot_speedups(plt, env, rows, threads, path):
    """Per family a panel, per workload a line: each peer's time over fastent's (fastent =
    1; right of the line fastent is faster), a colour per peer, filled at fastent's first
    thread count and hollow at its last."""
    from matplotlib.gridspec import GridSpec, GridSpecFromSubplotSpec
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
    families = list(dict.fromkeys(r["family"] for r in rows))
    cols = _ratio_columns(rows, threads)
    peers_ = list(dict.fromkeys(a.rsplit("-", 1)[0] if a.endswith("t") and "-" in a else a
                                for _, a, _ in cols))
    cmap = plt.get_cmap("tab10")
    color = {p: cmap(i % 10) for i, p in enumerate(peers_)}
    # families into two columns of about equal height
    height = {f: sum(r["family"] == f for r in rows) + 2.5 for f in families}
    stacks = [[], []]
    for f in families:
        min(stacks, key=lambda st: sum(height[g] for g in st)).append(f)
    total = max(sum(height[g] for g in st) for st in stacks)
    fig_h = 0.2 * total + 1.2
    fig = plt.figure(figsize=(11, fig_h))
    outer = GridSpec(1, 2, figure=fig, wspace=0.55, top=1 - 0.75 / fig_h,
                     bottom=0.45 / fig_h)
    coarse = [v * 10.0**e for e in range(-3, 4) for v in (1, 2, 5)]
    fine = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.2, 1.5, 2.0]     # for a panel near 1
    for c, stack in enumerate(stacks):
        if not stack:
            continue
        inner = GridSpecFromSubplotSpec(len(stack) + 1, 1, subplot_spec=outer[c], hspace=0.9,
                                        height_ratios=[height[f] for f in stack]
                                        + [total - sum(height[f] for f in stack) + 1e-3])
        for k, fam in enumerate(stack):
            ax = fig.add_subplot(inner[k])
            sel = [r for r in rows if r["family"] == fam]
            seen = [1.0]
            for y, r in enumerate(sel):
                for _, a, b in cols:
                    if a in r["times"] and b in r["times"]:
                        peer = a.rsplit("-", 1)[0] if a.endswith("t") and "-" in a else a
                        first = b == f"fastent-{threads[0]}t"
                        seen.append(r["times"][a]["median"] / r["times"][b]["median"])
                        ax.plot(seen[-1], y, "o",
                                ms=5, color=color[peer], mfc=color[peer] if first else "none",
                                mew=1.2)
            ax.axvline(1.0, color="black", lw=1)
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(FixedLocator(
                coarse if max(seen) / min(seen) > 3 else fine))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_yticks(range(len(sel)))
            ax.set_yticklabels([r["workload"][len(fam) + 1:].replace("float", "f")
                                for r in sel], fontsize=7.5)
            ax.set_ylim(len(sel) - 0.5, -0.5)
            ax.set_title(fam, fontsize=9, loc="left", fontweight="bold")
            ax.tick_params(axis="x", labelsize=7.5)
            ax.grid(True, axis="x", which="both", alpha=0.3)
        ax.set_xlabel("peer's time ÷ fastent's   (> 1: fastent is faster)", fontsize=8)
    handles = [Line2D([], [], ls="", marker="o", color=color[p], label=p) for p in peers_]
    handles += [Line2D([], [], ls="", marker="o", color="gray",
                       label=f"filled: fastent {threads[0]} thread"
                             f"{'s' * (threads[0] > 1)}")]
    if len(threads) > 1:
        handles.append(Line2D([], [], ls="", marker="o", color="gray", mfc="none",
                              label=f"hollow: fastent {threads[-1]} threads"))
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 5), fontsize=8,
               bbox_to_anchor=(0.5, 1 - 0.2 / fig_h), frameon=False)
    fig.suptitle(f"How much faster fastent {env['fastent']} is, per workload — {env['cpu']}, "
                 f"{env['cores']} cores, {env['simd']} kernels, {env['date']}", fontsize=9,
                 y=1.0)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _plot_throughput(plt, env, rows, path):
    """One panel per family: throughput of every implementation, workloads along x."""
    families = list(dict.fromkeys(r["family"] for r in rows))
    keys = list(dict.fromkeys(k for r in rows for k in r["times"]))
    ncol = 2
    nrow = (len(families) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 3.6 * nrow), squeeze=False)
    colors = {}
    for ax, fam in zip(axes.flat, families):
        sel = [r for r in rows if r["family"] == fam]
        xs = range(len(sel))
        for k in keys:
            ys = [r["elements"] / r["times"][k]["median"] / 1e9 if k in r["times"] else np.nan
                  for r in sel]
            if all(np.isnan(ys)):
                continue
            style = "-o" if k.startswith("fastent") else ("--s" if k == "NumPy" else ":^")
            line, = ax.semilogy(xs, ys, style, ms=4, label=k, color=colors.get(k),
                                lw=2 if k.startswith("fastent") else 1.2)
            colors.setdefault(k, line.get_color())
        ax.set_title(fam, fontsize=10)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["workload"][len(fam) + 1:] for r in sel], rotation=60,
                           ha="right", fontsize=6)
        ax.set_ylabel("G elements / s", fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 8), fontsize=8,
               bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(f"fastent {env['fastent']} — {env['cpu']}, {env['cores']} cores, kernels "
                 f"{env['simd']} — {env['date']}", fontsize=10, y=1.03)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


# ----------------------------------------------------------------------------- pytest-benchmark
def rows_from_pytest_benchmark(data):
    """Rows of the report from a pytest-benchmark JSON of bench/ (extra_info carries the
    workload, the implementation key and the error)."""
    rows = {}
    for b in data["benchmarks"]:
        info = b.get("extra_info", {})
        if "workload" not in info:
            continue
        r = rows.setdefault(info["workload"], dict(
            workload=info["workload"], family=info["family"], mode=info["mode"],
            dtype=info["dtype"], shape=info["shape"], elements=info["elements"], times={},
            errors={}))
        s = b["stats"]
        r["times"][info["impl"]] = {"median": s["median"], "q1": s["q1"], "q3": s["q3"]}
        r["errors"][info["impl"]] = info["error"]
    return list(rows.values())


# ----------------------------------------------------------------------------- command line
def _threads_arg(text):
    try:
        values = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, "
                                         f"got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text!r}")
    return values


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and shorter timing (about 2 minutes here)")
    parser.add_argument("--out", default="fastent-bench", metavar="DIR",
                        help="folder for report.md, results.json, throughput.png "
                             "(default: %(default)s)")
    parser.add_argument("--threads", default=[1, 2], type=_threads_arg, metavar="N[,N...]",
                        help="fastent's (and threaded peers') thread counts (default: 1,2)")
    parser.add_argument("--only", default="", metavar="TEXT",
                        help="run only the workloads whose label contains TEXT, e.g. "
                             "'softmax', 'float32', 'loss+grad'")
    parser.add_argument("--compiled", action="store_true",
                        help="also time torch.compile and JAX's jit (each shape compiles "
                             "for seconds; JAX runs on all cores)")
    parser.add_argument("--from-json", metavar="FILE",
                        help="render a pytest-benchmark JSON saved from bench/ instead of "
                             "timing")


def main(args, parser):
    """`python -m fastent bench` with parsed `args`; usage errors go through `parser`."""
    threads = args.threads
    found, skipped = peers(compiled=args.compiled)
    if args.from_json:
        try:
            with open(args.from_json) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            parser.error(f"--from-json: cannot read {args.from_json}: {e}")
        rows = rows_from_pytest_benchmark(data)
        if not rows:
            parser.error(f"--from-json: {args.from_json} holds no fastent workloads "
                         f"(saved from bench/ with --benchmark-save?)")
        rows = [r for r in rows if args.only in r["workload"]]
        env = environment(found, skipped, threads,
                          source=f"pytest-benchmark ({args.from_json}; not interleaved)")
        # the run's own date, machine and commit; the load now says nothing about it
        env["date"] = data.get("datetime", env["date"])
        env["cpu"] = data.get("machine_info", {}).get("cpu", {}).get("brand_raw", env["cpu"])
        env["commit"] = (data.get("commit_info") or {}).get("id", env["commit"])
    else:
        workloads = [w for w in all_workloads(args.quick) if args.only in w.label]
        if not workloads:
            parser.error(f"--only: no workload label contains {args.only!r} (labels look like "
                         f"{all_workloads(True)[0].label!r})")
        env = environment(found, skipped, threads)
        env["memory"] = steady_allocator()
        budget = 0.15 if args.quick else 0.5
        print(f"fastent {fe.__version__} benchmark: {len(workloads)} workloads, implementations "
              f"interleaved, threads {threads}", flush=True)
        env["others_before"] = others_now()
        for w in warnings_for(env, []):
            print(f"warning: {w}", flush=True)
        probe = OtherLoad().start()
        failed = {}
        rows = run(workloads, threads, budget, found, progress=lambda s: print(s, flush=True),
                   failed=failed)
        env["others_during"] = probe.stop()
        env["skipped"].update({k: f"failed: {v}" for k, v in failed.items()})
    md, warn = report(env, rows, threads)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"environment": env, "rows": rows}, f, indent=1)
    plotted = plot(env, rows, threads, os.path.join(args.out, "speedup.png"),
                   os.path.join(args.out, "throughput.png"))
    print("\n" + "\n".join(summary(rows, threads)))
    for w in warn:
        print(f"warning: {w}", file=sys.stderr)
    print(f"the full report: {args.out}/report.md (every time and ratio), results.json"
          + (", speedup.png, throughput.png" if plotted else
             ' (no plot: pip install "fastent-losses[plot]" for matplotlib)'))
    return 0
