"""Dask arrays in, lazy Dask results out, the same values as the NumPy call."""
import numpy as np
import pytest

import fastent as fe

from conftest import tol

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


def lazy(a, chunks):
    return da.from_array(a, chunks=chunks)


@pytest.fixture(params=["threads", "sync"])
def scheduler(request):
    with dask.config.set(scheduler=request.param):
        yield request.param


def test_binary_all_reductions_and_gradients(rng, scheduler):
    # float32: an element's position within a vector (or the scalar tail) of the kernel can
    # change its last bits (libmvec and scalar libm round differently), so chunked results
    # agree with the NumPy call to float32 accuracy, not bit for bit
    x = rng.normal(0, 3, (500, 40)).astype(np.float32)
    t = (rng.random((500, 40)) < 0.5).astype(np.float32)
    w = rng.random(40)
    dx = lazy(x, (128, 13))
    for f in (fe.binary_cross_entropy_with_logits,):
        for reduction in ("mean", "sum", "none"):
            got = f(t, dx, weight=w, reduction=reduction, pos_weight=2.0)
            assert isinstance(got, da.Array)
            want = f(t, x, weight=w, reduction=reduction, pos_weight=2.0)
            if reduction == "none":
                np.testing.assert_allclose(got.compute(), want, rtol=tol(np.float32))
            else:
                assert got.shape == ()
                assert got.compute() == pytest.approx(want, rel=tol(np.float32))
            g = fe.binary_cross_entropy_with_logits_grad(t, dx, weight=w, reduction=reduction)
            assert isinstance(g, da.Array) and g.chunks == dx.chunks
            np.testing.assert_allclose(
                g.compute(), fe.binary_cross_entropy_with_logits_grad(t, x, weight=w,
                                                                      reduction=reduction),
                rtol=tol(np.float32), atol=1e-12)
    p = rng.uniform(0.01, 0.99, (300, 7))
    dp = lazy(p, (64, 7))
    tp = lazy((rng.random((300, 7)) < 0.5) * 1.0, (100, 3))      # other chunks than p
    assert fe.binary_cross_entropy(tp, dp).compute() == pytest.approx(
        fe.binary_cross_entropy(tp.compute(), p), rel=1e-13)


@pytest.mark.parametrize("axis, chunks", [(-1, (100, 4)), (1, (2, 3, 4, 5)), (0, (5, 10))],
                         ids=["last-split", "nchw-split", "axis0"])
def test_softmax_class_axis_split_across_chunks(rng, scheduler, axis, chunks):
    shape = {-1: (300, 10), 1: (4, 10, 6, 5), 0: (10, 30)}[axis]
    x = rng.normal(size=shape)
    row_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    t = rng.integers(-1, 10, row_shape)
    kw = dict(axis=axis, ignore_index=-1, label_smoothing=0.1,
              class_weight=rng.uniform(0.5, 2, 10))
    dx = lazy(x, chunks)
    for reduction in ("mean", "sum", "none"):
        got = fe.softmax_cross_entropy(t, dx, reduction=reduction, **kw).compute()
        want = fe.softmax_cross_entropy(t, x, reduction=reduction, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-13)
    w = rng.random(row_shape)
    np.testing.assert_allclose(
        fe.softmax_cross_entropy_grad(lazy(t, 2), dx, weight=w, **kw).compute(),
        fe.softmax_cross_entropy_grad(t, x, weight=w, **kw), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["cross_entropy", "kl_divergence", "entropy"])
def test_distributions(rng, scheduler, name):
    p = rng.dirichlet(np.ones(12), 200)
    q = rng.dirichlet(np.ones(12), 200)
    f, fg = getattr(fe, name), getattr(fe, name + "_grad")
    args = (q,) if name == "entropy" else (p, q)
    dargs = tuple(lazy(a, (64, 5)) for a in args)
    w = rng.random(200)
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(f(*dargs, reduction=reduction, weight=w).compute(),
                                   f(*args, reduction=reduction, weight=w), rtol=1e-13)
    np.testing.assert_allclose(fg(*dargs, base=2).compute(), fg(*args, base=2), rtol=1e-13)


def test_errors_surface_at_compute(rng):
    dx = lazy(np.full((10, 3), 0.5), 5)
    with pytest.raises(ValueError, match="target: class label 7"):
        fe.softmax_cross_entropy(np.full(10, 7), dx).compute()
    with pytest.raises(ValueError, match="out, grad_out: not supported with Dask"):
        fe.entropy(dx, reduction="none", out=np.empty(10))


def test_distributed_local_cluster(rng):
    distributed = pytest.importorskip("distributed")
    x = rng.normal(size=(2000, 50))
    t = rng.integers(0, 50, 2000)
    dx = lazy(x, (250, 20))
    # the scheduler starts its HTTP server even without a dashboard, on port 8787 unless told
    # otherwise; a free port, so that two suites on one machine do not collide (the port
    # warning would fail the test under filterwarnings = error)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client:
        loss = fe.softmax_cross_entropy(t, dx, label_smoothing=0.05)
        grad = fe.softmax_cross_entropy_grad(t, dx)
        bce = fe.binary_cross_entropy_with_logits((x > 0) * 1.0, dx, reduction="sum")
        futures = client.compute([loss, grad, bce])
        got_loss, got_grad, got_bce = (f.result(timeout=120) for f in futures)
    # the same bytes as the call on the whole NumPy array (exact sums, one rounding)
    assert got_loss == fe.softmax_cross_entropy(t, x, label_smoothing=0.05)
    assert got_grad.tobytes() == fe.softmax_cross_entropy_grad(t, x).tobytes()
    assert got_bce == fe.binary_cross_entropy_with_logits((x > 0) * 1.0, x, reduction="sum")


def test_labels_of_unknown_chunk_sizes_against_known_logits_get_the_hint():
    logits = da.zeros((20, 3), chunks=(5, 3))
    labels = da.from_array(np.arange(20) % 3, chunks=10)
    labels = labels[labels < 3]                      # boolean indexing: sizes unknown
    with pytest.raises(ValueError, match=r"target: has unknown chunk sizes .* while logits's are "
                                         r"known; call \.compute_chunk_sizes\(\) on it first"):
        fe.softmax_cross_entropy(labels, logits)
    labels = labels.compute_chunk_sizes()
    fe.softmax_cross_entropy(labels, logits)       # the hint's way out works
