"""Dask arrays in, lazy Dask results out, the same values as the NumPy call."""
import numpy as np
import pytest

import fastent as fe

from support import tol

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


def _error(call):
    with pytest.raises(ValueError) as info:
        r = call()
        (r.log_prob if isinstance(r, fe.SoftmaxStats) else r).compute()
    return str(info.value)


def _bad_cases(rng, dtype):
    """(name, NumPy call, its Dask version): one bad value in the fourth chunk of rows."""
    p = rng.random(100).astype(dtype)
    p[77] = 1.5
    x = rng.normal(size=(100, 5)).astype(dtype)
    labels = rng.integers(0, 5, 100)
    labels[77] = 9
    w = np.ones(100, dtype)
    w[77] = -1
    q = np.full((100, 5), 0.2, dtype)
    q[77, 3] = -1
    x3 = rng.normal(size=(4, 5, 30)).astype(dtype)
    labels3 = np.zeros((4, 30), int)
    labels3[2, 17] = -3
    rows = lambda a: lazy(a, (25,) + a.shape[1:])
    return [
        ("binary_entropy", lambda f: fe.binary_entropy(f(p))),
        ("bce prob", lambda f: fe.binary_cross_entropy(np.ones(100), f(p))),
        ("bce weight", lambda f: fe.binary_cross_entropy(np.ones(100), f(p * 0), weight=w)),
        ("bce pos_weight", lambda f: fe.binary_cross_entropy_with_logits(
            np.ones((100, 5)), f(x), pos_weight=np.array([1, 1, 1, -1, 1.0]))),
        ("softmax ce label", lambda f: fe.softmax_cross_entropy(f(labels), f(x))),
        ("softmax ce label, none", lambda f: fe.softmax_cross_entropy(
            f(labels), f(x), reduction="none")),
        ("softmax ce grad", lambda f: fe.softmax_cross_entropy_grad(f(labels), f(x))),
        ("softmax ce weight", lambda f: fe.softmax_cross_entropy(
            f(labels * 0), f(x), weight=f(w))),
        ("softmax ce class_weight", lambda f: fe.softmax_cross_entropy(
            f(labels * 0), f(x), class_weight=[1, 1, -1, 1, 1])),
        ("softmax ce axis 1", lambda f: fe.softmax_cross_entropy(
            (lambda a: lazy(a, (2, 10)) if f is not np.asarray else a)(labels3),
            (lambda a: lazy(a, (2, 5, 10)) if f is not np.asarray else a)(x3), axis=1)),
        ("softmax_stats", lambda f: fe.softmax_stats(f(x), f(labels))),
        ("softmax_stats axis 1", lambda f: fe.softmax_stats(
            (lambda a: lazy(a, (2, 5, 10)) if f is not np.asarray else a)(x3),
            (lambda a: lazy(a, (2, 10)) if f is not np.asarray else a)(labels3), axis=1)),
        ("kl_divergence q", lambda f: fe.kl_divergence(np.full((100, 5), 0.2), f(q))),
        ("kl_divergence grad", lambda f: fe.kl_divergence_grad(np.full((100, 5), 0.2), f(q))),
    ], rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_errors_name_the_position_in_the_whole_array(rng, dtype):
    cases, rows = _bad_cases(rng, dtype)
    for name, case in cases:
        want = _error(lambda: case(np.asarray))
        assert "at position" in want, name
        assert _error(lambda: case(rows)) == want, name


def test_errors_in_chunks_of_unknown_size_name_the_chunk(rng):
    p = rng.random(100)
    p[77] = 1.5
    dp = lazy(p, 25)
    dp = dp[dp > -1]                      # the same values, chunk sizes now unknown
    for reduction in ("mean", "none"):
        with pytest.raises(ValueError, match=r"found 1\.5 at position \(2,\) of chunk \(3,\)$"):
            fe.binary_entropy(dp, reduction=reduction).compute()


def test_positioned_errors_survive_pickling():
    import pickle
    from fastent import _validation as v
    e = v.BadValue("target", (2,), "target: class label 9", " is outside [0, 5)")
    for err, text in ((e.moved((75,)), "at position (77,) is"),
                      (e.in_chunk((3,)), "at position (2,) of chunk (3,) is")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is v.BadValue
        assert str(back) == str(err) == f"target: class label 9 {text} outside [0, 5)"
        assert (back.name, back.position) == (err.name, err.position)


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
