"""Mistakes caught where they happen: swapped arguments, a forgotten axis, dtypes and tensors
NumPy cannot read, each with a message that says what to do."""
import warnings

import numpy as np
import pytest

import fastent as fe

Y = np.array([1, 1, 0, 1])
P = np.array([0.9, 0.95, 0.7, 0.75])


@pytest.mark.parametrize("f, name", [(fe.binary_cross_entropy, "prob"),
                                     (fe.binary_cross_entropy_with_logits, "logits"),
                                     (fe.binary_cross_entropy_grad, "prob")])
def test_swapped_binary_arguments_warn(f, name):
    with pytest.warns(UserWarning, match=rf"{name} has dtype int64 and target float64: fastent "
                                         r"takes the target first") as rec:
        f(P, Y)                                   # PyTorch's order: a wrong number otherwise
    assert rec[0].filename == __file__            # points at the caller's line


def test_no_warning_in_the_right_order_or_with_integer_targets():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fe.binary_cross_entropy(Y, P) == pytest.approx(0.41207717, rel=1e-7)
        fe.binary_cross_entropy(Y, np.array([1, 0, 0, 1]))     # integer both: labels as probs
        fe.binary_cross_entropy_with_logits(Y.astype(bool), P)


def test_range_errors_name_the_order():
    with pytest.raises(ValueError, match=r"target: targets must lie in \[0, 1\].*found 2\.0 at "
                                         r"position \(1,\) \(fastent takes the truth first: "
                                         r"binary_cross_entropy\(target, prob\)"):
        fe.binary_cross_entropy(np.array([0.5, 2.0]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"prob: probabilities must lie in \[0, 1\].*truth "
                                         r"first"):
        fe.binary_cross_entropy(np.array([0.5, 1.0]), np.array([0.1, 2.0]))


def test_softmax_swapped_arguments_name_the_order():
    with pytest.raises(ValueError, match=r"target: shape \(6, 3\) does not broadcast.*truth "
                                         r"first: softmax_cross_entropy\(target, logits\)"):
        fe.softmax_cross_entropy(np.zeros((6, 3)), np.array([0, 1, 2, 0, 1, 2]))


def test_forgotten_axis_is_suggested():
    logits = np.zeros((8, 5, 4, 4))
    labels = np.zeros((8, 4, 4), int)
    with pytest.raises(ValueError, match=r"got \(8, 4, 4\); did you mean axis=1\?"):
        fe.softmax_cross_entropy(labels, logits)
    fe.softmax_cross_entropy(labels, logits, axis=1)


def test_torch_tensors_that_cannot_be_read():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"logits: a torch tensor that requires grad; pass "
                                        r"logits\.detach\(\)"):
        fe.binary_cross_entropy_with_logits(np.ones(3), torch.zeros(3, requires_grad=True))
    with pytest.raises(TypeError, match=r"logits: dtype bfloat16 is not supported; cast it "
                                        r"first: .*tensor\.float\(\)"):
        fe.softmax_cross_entropy(np.array([0]), torch.zeros((1, 3), dtype=torch.bfloat16))
    # a float tensor without grad is read like any array
    assert fe.entropy(torch.full((2,), 0.5)) == pytest.approx(np.log(2))


def test_bfloat16_without_torch():
    class BF16:                          # what an array library without NumPy support raises
        def __array__(self, dtype=None, copy=None):
            raise TypeError("Got unsupported ScalarType BFloat16")
    with pytest.raises(TypeError, match="p: dtype bfloat16 is not supported; cast it first"):
        fe.entropy(BF16())
