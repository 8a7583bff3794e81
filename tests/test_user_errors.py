"""Mistakes caught where they happen: swapped arguments, a forgotten axis, dtypes and tensors
NumPy cannot read, each with a message that says what to do."""
import warnings

import numpy as np
import pytest

import fastent as fe
from fastent import reference

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
    with pytest.raises(TypeError, match=r"logits: a torch tensor that requires grad"):
        fe.softmax_cross_entropy(np.array([0]), torch.zeros((1, 3), dtype=torch.bfloat16,
                                                            requires_grad=True))
    # a float tensor without grad is read like any array
    assert fe.entropy(torch.full((2,), 0.5)) == pytest.approx(np.log(2))


def test_bfloat16_without_torch():
    class BF16:                          # what an array library without NumPy support raises
        def __array__(self, dtype=None, copy=None):
            raise TypeError("Got unsupported ScalarType BFloat16")
    with pytest.raises(TypeError, match="p: dtype bfloat16 is not supported; cast it first"):
        fe.entropy(BF16())


# Every row family whose truth is a distribution (or the teacher's logits) over the class
# axis: (function, the truth's name).  A truth with one value along that axis used to be
# broadcast along it, e.g. float 0/1 labels as a column (N, 1) against (N, 2) logits taken
# as the rows [y, y]: a wrong loss and gradient, nothing raised.
ROW_TRUTHS = [(fe.softmax_cross_entropy, "target"), (fe.cross_entropy, "p"),
              (fe.kl_divergence, "p"), (fe.js_divergence, "p"),
              (fe.kl_divergence_with_logits, "target_logits"),
              (fe.js_divergence_with_logits, "target_logits")]


def _grad_of(f):
    return getattr(fe, f.__name__ + "_grad")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("C", [2, 5])
@pytest.mark.parametrize("f, name", ROW_TRUTHS, ids=[f.__name__ for f, _ in ROW_TRUTHS])
def test_a_truth_is_never_broadcast_along_the_class_axis(f, name, C, dtype, rng):
    N = 7
    pred = rng.random((N, C)).astype(dtype) + 0.1
    pred /= pred.sum(axis=1, keepdims=True)
    column = (rng.random((N, 1)) < 0.5).astype(dtype)          # y.float().unsqueeze(1)
    calls = [lambda t, x, **k: f(t, x, **k), lambda t, x, **k: f(t, x, return_grad=True, **k),
             lambda t, x, **k: f(t, x, reduction="none", **k),
             lambda t, x, **k: _grad_of(f)(t, x, **k),
             lambda t, x, **k: fe.RunningLoss(f.__name__, **k).update(t, x)]
    for call in calls:
        with pytest.raises(ValueError, match=rf"^{name}: a distribution over the classes must "
                                             rf"span the class axis \(axis 1, {C} classes\)"):
            call(column, pred)
        # the same in PyTorch's (C, N) layout along axis 0: a row (1, N) of labels
        with pytest.raises(ValueError, match=rf"^{name}: .*\(axis 0, {C} classes\)"):
            call(column.T, pred.T, axis=0)
    if f is fe.softmax_cross_entropy:        # the labels' way out, in the message
        with pytest.raises(ValueError, match=r"pass them as an integer array of the rows' "
                                             r"shape: y\.ravel\(\)\.astype\(int\)"):
            f(column, pred)
        labels = column.ravel().astype(int)
        assert f(labels, pred) == pytest.approx(
            float(reference.softmax_cross_entropy(labels, pred.astype(np.float64))),
            rel=1e-6)


@pytest.mark.parametrize("f, name", ROW_TRUTHS, ids=[f.__name__ for f, _ in ROW_TRUTHS])
def test_a_truth_broadcasts_over_the_rows(f, name, rng):
    """One distribution for every row ((C,) or (1, C)) is still broadcast over the rows: the
    same bytes as the full (N, C) truth (documented under "Shared conventions")."""
    pred = rng.random((9, 4)) + 0.1
    pred /= pred.sum(axis=1, keepdims=True)
    one = np.array([0.1, 0.2, 0.3, 0.4])
    full = np.broadcast_to(one, pred.shape).copy()
    for t in (one, one[None, :]):
        a, ga = f(t, pred, reduction="none", return_grad=True)
        b, gb = f(full, pred, reduction="none", return_grad=True)
        assert a.tobytes() == b.tobytes() and ga.tobytes() == gb.tobytes()


# The order hint ("fastent takes the truth first ...") only where swapping the arguments
# would make the call valid; elsewhere the message says what would.
_NO_ORDER = r"^(?!.*truth first)"


def test_labels_of_the_wrong_length_get_no_order_hint():
    with pytest.raises(ValueError, match=_NO_ORDER + r"target: integer class labels must have "
                                         r"the logits' shape without axis 1, \(8,\); got "
                                         r"\(7,\)$"):
        fe.softmax_cross_entropy(np.zeros(7, int), np.zeros((8, 5)))


def test_a_column_of_integer_labels_is_told_to_ravel():
    with pytest.raises(ValueError, match=_NO_ORDER + r".*got \(8, 1\); class labels have no "
                                         r"class axis: pass target\.ravel\(\)$"):
        fe.softmax_cross_entropy(np.zeros((8, 1), int), np.zeros((8, 5)))
    with pytest.raises(ValueError, match=r"pass np\.squeeze\(target, axis=1\)$"):
        fe.softmax_cross_entropy(np.zeros((8, 1, 3), int), np.zeros((8, 5, 3)), axis=1)


def test_an_integer_one_hot_target_is_told_its_two_ways_out():
    onehot = np.eye(5, dtype=int)[[0, 1, 2, 3, 4, 0, 1, 2]]
    with pytest.raises(ValueError, match=_NO_ORDER + r".*look one-hot: cast them to float to "
                                         r"use them as probabilities \(target\.astype\(np\."
                                         r"float32\)\), or pass the labels, target\.argmax\("
                                         r"axis=1\)$"):
        fe.softmax_cross_entropy(onehot, np.zeros((8, 5)))
    both = (fe.softmax_cross_entropy(onehot.astype(np.float32), np.zeros((8, 5))),
            fe.softmax_cross_entropy(onehot.argmax(axis=1), np.zeros((8, 5))))
    assert both[0] == both[1] == pytest.approx(np.log(5))


def test_binary_shapes_that_differ_by_a_column_get_the_reshape_hint():
    with pytest.raises(ValueError, match=_NO_ORDER + r"target: shape \(4,\) does not broadcast "
                                         r"to the prediction's shape \(4, 1\) \(the same 4 "
                                         r"values as the prediction in another shape: pass "
                                         r"target\.reshape\(4, 1\), or \.ravel\(\) both\)$"):
        fe.binary_cross_entropy(np.zeros(4), np.full((4, 1), 0.5))


def test_the_order_hint_stays_where_the_swap_is_valid():
    with pytest.raises(ValueError, match=r"truth first: binary_cross_entropy\(target, prob\)"):
        fe.binary_cross_entropy(np.zeros((3, 4)), np.full(4, 0.5))    # swapped: (4,) -> (3, 4)
    fe.binary_cross_entropy(np.full(4, 0.5), np.zeros((3, 4)))


def test_labels_against_probabilities_point_to_softmax_cross_entropy():
    """sklearn's log_loss(y, proba) order, written as cross_entropy(y, proba)."""
    proba = np.full((4, 3), 1 / 3)
    for y in (np.array([0, 1, 2, 0]), np.array([[0], [1], [2], [0]])):
        with pytest.raises(ValueError, match=r"^p: .*\(class labels\? the divergences take "
                                             r"distributions: for labels against predicted "
                                             r"probabilities use softmax_cross_entropy on the "
                                             r"logits, or one-hot rows\)$"):
            fe.cross_entropy(y, proba)


def test_running_loss_names_the_option_the_loss_lacks():
    with pytest.raises(TypeError, match=r"^RunningLoss\('softmax_cross_entropy'\): temperature: "
                                        r"softmax_cross_entropy has no option 'temperature' "
                                        r"\(its options: axis, class_weight, .*\)$"):
        fe.RunningLoss("softmax_cross_entropy", temperature=2.0)
    with pytest.raises(TypeError, match=r"reduction: RunningLoss always keeps the running mean"):
        fe.RunningLoss("cross_entropy", reduction="sum")
