"""sigmoid_focal_loss against torchvision's formula (written here in float64), its gradient
against central differences, the limits, gamma 0, and bytes across instruction sets."""
import math

import mpmath
import numpy as np
import pytest

import fastent as fe
import fastent.reference  # noqa: F401
from support import DTYPE_IDS, DTYPES, ISAS
from fastent import _config


def torchvision_focal(t, x, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss(reduction="none"), its formula element by element
    in 40-digit arithmetic (mpmath): in float64, 1 - p_t cancels for confident right
    predictions, which fastent computes without cancellation."""
    out = []
    with mpmath.workdps(40):
        for ti, xi in zip(np.ravel(t).astype(float), np.ravel(x).astype(float)):
            ti, xi = mpmath.mpf(ti), mpmath.mpf(xi)
            p = 1 / (1 + mpmath.exp(-xi))
            ce = ti * mpmath.log1p(mpmath.exp(-xi)) + (1 - ti) * mpmath.log1p(mpmath.exp(xi))
            p_t = p * ti + (1 - p) * (1 - ti)
            loss = ce * (1 - p_t) ** mpmath.mpf(gamma)
            if alpha >= 0:
                loss *= alpha * ti + (1 - alpha) * (1 - ti)
            out.append(float(loss))
    return np.array(out).reshape(np.shape(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1, 2.0), (0.5, 0.5), (0.9, 3.3)])
def test_values_are_torchvisions(rng, dtype, alpha, gamma):
    x = (rng.standard_normal(300) * 4).astype(dtype)
    t = rng.random(300)
    t[:200] = t[:200] > 0.5                     # hard labels and soft ones
    t = t.astype(dtype)
    ref = torchvision_focal(t, x, alpha, gamma)
    got = fe.sigmoid_focal_loss(t, x, alpha=alpha, gamma=gamma, reduction="none")
    assert got.dtype == dtype
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(fe.sigmoid_focal_loss(t, x, alpha=alpha, gamma=gamma),
                               math.fsum(ref) / ref.size, rtol=rtol)
    np.testing.assert_allclose(
        fe.sigmoid_focal_loss(t, x, alpha=alpha, gamma=gamma, reduction="none"),
        fe.reference.sigmoid_focal_loss(t, x, alpha=alpha, gamma=gamma, reduction="none"),
        rtol=rtol * 4, atol=1e-30)


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1, 0.7), (0.6, 1.0)])
def test_gradient_is_central_differences(rng, alpha, gamma):
    x = rng.standard_normal(60) * 3
    t = (rng.random(60) > 0.5).astype(float)
    t[:20] = rng.random(20)
    h = 1e-6
    fd = (torchvision_focal(t, x + h, alpha, gamma)
          - torchvision_focal(t, x - h, alpha, gamma)) / (2 * h)
    g = fe.sigmoid_focal_loss_grad(t, x, alpha=alpha, gamma=gamma, reduction="sum")
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        g, fe.reference.sigmoid_focal_loss_grad(t, x, alpha=alpha, gamma=gamma,
                                                reduction="sum"), rtol=1e-12, atol=1e-300)
    loss, g2 = fe.sigmoid_focal_loss(t, x, alpha=alpha, gamma=gamma, reduction="mean",
                                     return_grad=True)
    np.testing.assert_allclose(g2, g / x.size, rtol=1e-15)
    assert loss == pytest.approx(torchvision_focal(t, x, alpha, gamma).mean(), rel=1e-14)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_large_and_infinite_logits_give_the_limits(dtype):
    x = np.array([1e4, -1e4, np.inf, -np.inf, 1e4, -np.inf, np.nan], dtype)
    t = np.array([1, 0, 1, 0, 0, 1, 1], dtype)
    loss, g = fe.sigmoid_focal_loss(t, x, reduction="none", return_grad=True)
    assert list(loss[:4]) == [0, 0, 0, 0] and list(g[:4]) == [0, 0, 0, 0]
    assert loss[4] == pytest.approx(0.75 * 1e4) and g[4] == pytest.approx(0.75)
    assert loss[5] == np.inf and g[5] == -0.25
    assert np.isnan(loss[6]) and np.isnan(g[6])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_gamma_zero_is_bce_with_logits_to_the_bit(rng, dtype):
    x = (rng.standard_normal(1000) * 5).astype(dtype)
    t = rng.random(1000).astype(dtype)
    t[:500] = np.round(t[:500])
    for red in ("none", "sum", "mean"):
        a = fe.sigmoid_focal_loss(t, x, alpha=-1, gamma=0, reduction=red, return_grad=True)
        b = fe.binary_cross_entropy_with_logits(t, x, reduction=red, return_grad=True)
        for u, v in zip(a, b):
            assert np.asarray(u).tobytes() == np.asarray(v).tobytes(), red
    w = fe.sigmoid_focal_loss(t, x, alpha=0.25, gamma=0, reduction="none")
    at = 0.25 * t.astype(float) + 0.75 * (1 - t.astype(float))
    bce = fe.binary_cross_entropy_with_logits(t, x, reduction="none")
    np.testing.assert_allclose(w, at * bce, rtol=2e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bytes_are_the_same_on_every_instruction_set(rng, dtype):
    x = (rng.standard_normal(3001) * 6).astype(dtype)
    x[:4] = [np.inf, -np.inf, 1e4, -1e4]
    t = rng.random(3001).astype(dtype)
    w = rng.random(3001)
    before = _config.isa()
    seen = set()
    try:
        for name in ISAS:
            _config._set_isa(name)
            r = [fe.sigmoid_focal_loss(t, x, reduction=red, weight=w, return_grad=True)
                 for red in ("none", "sum")]
            seen.add(b"".join(np.asarray(a).tobytes() for pair in r for a in pair))
    finally:
        _config._set_isa(before)
    assert len(seen) == 1


def test_streaming_and_dask_give_the_one_shot_bits(rng):
    x = rng.standard_normal(1000) * 3
    t = (rng.random(1000) > 0.7).astype(float)
    one = fe.sigmoid_focal_loss(t, x, alpha=0.4, gamma=1.5)
    acc = fe.RunningLoss("sigmoid_focal_loss", alpha=0.4, gamma=1.5)
    for i in range(0, 1000, 333):
        acc.update(t[i:i + 333], x[i:i + 333])
    assert acc.result() == one
    assert fe.RunningLoss.from_state_dict(acc.state_dict()).result() == one
    da = pytest.importorskip("dask.array")
    lazy = fe.sigmoid_focal_loss(da.from_array(t, chunks=128), da.from_array(x, chunks=128),
                                 alpha=0.4, gamma=1.5)
    assert lazy.compute() == one


def test_bad_options_are_named():
    t, x = np.array([1.0]), np.array([0.0])
    with pytest.raises(ValueError, match="alpha"):
        fe.sigmoid_focal_loss(t, x, alpha=1.5)
    with pytest.raises(ValueError, match="alpha"):
        fe.sigmoid_focal_loss(t, x, alpha=np.nan)
    with pytest.raises(ValueError, match="gamma"):
        fe.sigmoid_focal_loss(t, x, gamma=-1)
    with pytest.raises(ValueError, match="gamma"):
        fe.RunningLoss("sigmoid_focal_loss", gamma=np.inf)
    with pytest.raises(ValueError, match="target"):
        fe.sigmoid_focal_loss(np.array([2.0]), x)
    assert fe.sigmoid_focal_loss(np.zeros(0), np.zeros(0), reduction="sum") == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_gamma_two_takes_the_square_and_meets_the_power_next_to_it(rng, dtype):
    """gamma = 2 (the default) computes m^2 as m m; the power path at the next float gamma
    (exp(gamma log m)) gives the same values to within the power's own rounding."""
    x = (rng.standard_normal(5000) * 4).astype(dtype)
    t = (rng.random(5000) < 0.5).astype(dtype)
    sq = fe.sigmoid_focal_loss(t, x, gamma=2.0, reduction="none", return_grad=True)
    pw = fe.sigmoid_focal_loss(t, x, gamma=np.nextafter(2.0, 3.0), reduction="none",
                               return_grad=True)
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    for a, b in zip(sq, pw):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)
