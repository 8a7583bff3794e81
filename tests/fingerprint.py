"""The bytes of every function's results on a fixed set of inputs, hashed.

`python tests/fingerprint.py` prints one JSON object {case: sha256 of the result bytes}.
The suite runs it once per instruction set the CPU has (FASTENT_SIMD=..., each in a
subprocess) and CI runs it against the gcc and the clang build: the contract promises the
same bytes everywhere, so the objects must be equal.

The inputs cover ordinary values and the edges (exact 0 and 1, subnormals, +-1e4, +-inf,
NaN), float32 and float64, loss ("none", "sum", "mean") and gradient, several shapes
(short and long rows, a length that is not a multiple of any vector width).
"""
import hashlib
import json
import sys

import numpy as np

import fastent as fe


def _edges(dtype):
    f = np.finfo(dtype)
    return np.array([0.0, 1.0, f.smallest_subnormal, f.tiny, 1 - f.epsneg, f.eps, 0.5,
                     1e-30, 1e4, -1e4, np.inf, -np.inf, np.nan, -0.0, 88.0, -104.0, 709.0,
                     -745.0], dtype=dtype)


def _cases():
    rng = np.random.default_rng(20261129)
    for dtype in (np.float32, np.float64):
        dn = np.dtype(dtype).name
        n = 1037
        logits = rng.normal(scale=6.0, size=n).astype(dtype)
        logits[:18] = _edges(dtype)
        t = rng.random(n).astype(dtype)
        t[:4] = [0, 1, 0, 1]
        prob = rng.random(n).astype(dtype)
        prob[:6] = [0, 1, 1, 0, np.finfo(dtype).smallest_subnormal, 1 - np.finfo(dtype).epsneg]
        w = rng.random(n).astype(dtype)
        for red in ("none", "sum", "mean"):
            yield f"bce-logits {dn} {red}", lambda red=red: fe.binary_cross_entropy_with_logits(
                t, logits, reduction=red, return_grad=True)
            yield f"bce-logits-w {dn} {red}", lambda red=red: fe.binary_cross_entropy_with_logits(
                t, logits, reduction=red, weight=w, pos_weight=np.float64(1.5),
                return_grad=True)
            yield f"bce {dn} {red}", lambda red=red: fe.binary_cross_entropy(
                t, prob, reduction=red, return_grad=True)
            yield f"bce-eps0 {dn} {red}", lambda red=red: fe.binary_cross_entropy(
                t, prob, reduction=red, eps=0, return_grad=True)
            yield f"bce-logmin {dn} {red}", lambda red=red: fe.binary_cross_entropy(
                t, prob, reduction=red, log_min=-100.0, return_grad=True)
        for C in (1, 2, 3, 10, 17, 129, 1000):
            R = max(3, 3000 // C)
            x = rng.normal(scale=3.0, size=(R, C)).astype(dtype)
            x[0, 0] = 1e4
            if C > 1:
                x[1, 1] = -np.inf
            x[2, 0] = np.nan
            lab = rng.integers(0, C, R)
            pt = rng.random((R, C)).astype(dtype)
            pt /= pt.sum(1, keepdims=True)
            q = rng.random((R, C)).astype(dtype)
            q /= q.sum(1, keepdims=True)
            q[0, 0] = 0
            q[1, 0] = np.finfo(dtype).smallest_subnormal
            pt[2, 0] = 0
            # the teacher's logits: the student's reversed and halved, -inf where pt is 0
            # (not np.log(pt): NumPy's log has other bits with AVX-512 than with AVX2, so
            # the inputs, and the hashes, differed from one machine to another)
            tl = np.where(pt == 0, -np.inf, x[:, ::-1] * 0.5).astype(dtype)
            for red in ("none", "sum", "mean"):
                yield f"softmax-label {dn} C={C} {red}", lambda x=x, lab=lab, red=red: (
                    fe.softmax_cross_entropy(lab, x, reduction=red, label_smoothing=0.1,
                                             return_grad=True))
                yield f"softmax-prob {dn} C={C} {red}", lambda x=x, pt=pt, red=red: (
                    fe.softmax_cross_entropy(pt, x, reduction=red, return_grad=True))
                for name, f in (("xent", fe.cross_entropy), ("kl", fe.kl_divergence)):
                    for eps in ("auto", 0):
                        yield f"{name} {dn} C={C} eps={eps} {red}", (
                            lambda f=f, pt=pt, q=q, red=red, eps=eps: f(
                                pt, q, reduction=red, eps=eps, return_grad=True))
                yield f"entropy {dn} C={C} {red}", lambda q=q, red=red: fe.entropy(
                    q, reduction=red, return_grad=True)
                # the functions beyond the six, on the same inputs (no new random draws: the
                # cases above keep their inputs); teacher logits with -inf
                yield f"kl-logits {dn} C={C} {red}", lambda x=x, tl=tl, red=red: (
                    fe.kl_divergence_with_logits(tl, x, temperature=2.0,
                                                 reduction=red, return_grad=True))
                yield f"js-logits {dn} C={C} {red}", lambda x=x, tl=tl, red=red: (
                    fe.js_divergence_with_logits(tl, x, beta=0.3, reduction=red,
                                                 return_grad=True))
                yield f"js {dn} C={C} {red}", lambda pt=pt, q=q, red=red: fe.js_divergence(
                    pt, q, reduction=red, return_grad=True)
            yield f"softmax-stats {dn} C={C}", lambda x=x, lab=lab: tuple(
                fe.softmax_stats(x, lab, k=3))
        for red in ("none", "sum", "mean"):
            yield f"information {dn} {red}", lambda red=red: fe.information(
                prob, reduction=red, return_grad=True)
            yield f"binary-entropy {dn} {red}", lambda red=red: fe.binary_entropy(
                prob, reduction=red, eps=0, return_grad=True)


def fingerprint():
    out = {}
    with np.errstate(all="ignore"):
        for name, run in _cases():
            h = hashlib.sha256()
            for a in run():
                h.update(np.ascontiguousarray(a).tobytes())
            out[name] = h.hexdigest()[:16]
    return out


if __name__ == "__main__":
    json.dump(fingerprint(), sys.stdout, indent=0, sort_keys=True)
