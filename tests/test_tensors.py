"""CPU tensors (PyTorch, JAX: anything with __dlpack__) are read in place, any strides, and
an output tensor (grad_out=, out=) is written in place; results are NumPy arrays."""
import numpy as np
import pytest

import fastent as fe
from fastent import _validation as v


def _bytes(r):
    parts = r if isinstance(r, tuple) else (r,)
    return [(np.asarray(a).dtype.str, np.asarray(a).shape, np.asarray(a).tobytes())
            for a in parts]


def test_torch_tensors_are_read_in_place(rng):
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(rng.normal(size=(40, 9)).astype(np.float32))
    lab = torch.from_numpy(rng.integers(0, 9, 40))
    for X in (x, x[::3], x.T, x.to(torch.float64), x.to(torch.float16)):
        a = v.as_array(X, "logits")
        assert a.ctypes.data == X.data_ptr() and a.strides == tuple(
            s * X.element_size() for s in X.stride())
        n = a.shape[0]
        got = fe.softmax_cross_entropy(lab[:n] % a.shape[1], X, return_grad=True)
        want = fe.softmax_cross_entropy(lab[:n].numpy() % a.shape[1], X.numpy().copy(),
                                        return_grad=True)
        assert _bytes(got) == _bytes(want)


def test_output_tensors_are_written_in_place(rng):
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(rng.normal(size=(40, 9)).astype(np.float32))
    lab = torch.from_numpy(rng.integers(0, 9, 40))
    want = fe.softmax_cross_entropy(lab.numpy(), x.numpy(), reduction="none",
                                    return_grad=True)
    for g in (torch.empty(40, 9), torch.empty(9, 40).T):     # contiguous, transposed
        o = torch.empty(40)
        loss, grad = fe.softmax_cross_entropy(lab, x, reduction="none", return_grad=True,
                                              out=o, grad_out=g)
        assert isinstance(grad, np.ndarray) and np.shares_memory(grad, g.numpy())
        assert np.shares_memory(loss, o.numpy())
        assert _bytes((o.numpy(), g.numpy())) == _bytes(want)
    # written in place when the gradient overwrites the logits too (as if copied first)
    xg = x.clone()
    fe.softmax_cross_entropy(lab, xg, reduction="none", return_grad=True, grad_out=xg)
    assert _bytes(xg.numpy()) == _bytes(want[1])


def test_tensors_that_cannot_be_used_say_what_to_do():
    torch = pytest.importorskip("torch")
    x, lab = torch.zeros(4, 3), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"grad_out: a torch tensor that requires grad; pass "
                                        r"grad_out\.detach\(\)"):
        fe.softmax_cross_entropy(lab, x, return_grad=True,
                                 grad_out=torch.zeros(4, 3, requires_grad=True))
    with pytest.raises(TypeError, match=r"grad_out: has dtype float64, expected float32"):
        fe.softmax_cross_entropy(lab, x, return_grad=True,
                                 grad_out=torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"grad_out: has shape \(3, 4\), expected \(4, 3\)"):
        fe.softmax_cross_entropy(lab, x, return_grad=True, grad_out=torch.zeros(3, 4))


class _OnDevice:
    """A tensor of another device, as DLPack describes one (kDLCUDA = 2)."""
    device = "cuda:0"

    def __dlpack__(self, **kw):
        raise BufferError("not on the CPU")

    def __dlpack_device__(self):
        return (2, 0)


def test_a_tensor_on_another_device_is_refused_naming_the_fix():
    with pytest.raises(TypeError, match=r"logits: a tensor on cuda:0, not on the CPU; pass "
                                        r"logits\.cpu\(\) \(PyTorch\)"):
        fe.softmax_cross_entropy(np.zeros(2, int), _OnDevice())
    with pytest.raises(TypeError, match=r"grad_out: a tensor on cuda:0"):
        fe.softmax_cross_entropy(np.zeros(2, int), np.zeros((2, 3)), return_grad=True,
                                 grad_out=_OnDevice())


def test_jax_arrays_are_read_in_place(rng):
    jnp = pytest.importorskip("jax.numpy")
    ml_dtypes = pytest.importorskip("ml_dtypes")
    xf = rng.normal(size=(30, 7)).astype(np.float32)
    lab = rng.integers(0, 7, 30)
    for X, ref in ((jnp.asarray(xf), xf),
                   (jnp.asarray(xf).astype(jnp.bfloat16),
                    xf.astype(ml_dtypes.bfloat16).astype(np.float32))):
        a = v.as_array(X, "logits")
        assert a.ctypes.data == X.unsafe_buffer_pointer()
        got = fe.softmax_cross_entropy(jnp.asarray(lab), X, return_grad=True)
        assert _bytes(got) == _bytes(fe.softmax_cross_entropy(lab, ref, return_grad=True))
    # JAX arrays are immutable: not an output
    with pytest.raises(ValueError, match=r"grad_out: is read-only"):
        fe.softmax_cross_entropy(lab, xf, return_grad=True, grad_out=jnp.zeros((30, 7)))
