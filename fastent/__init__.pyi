# Type information for fastent's public API (PEP 561; the package ships py.typed).
# tests/test_package.py checks that every signature here matches the code's.
# With Dask arrays in, the functions return lazy Dask arrays (typed here for NumPy input).
from typing import IO, Any, Literal, NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str

FloatArray = NDArray[np.floating[Any]]
# each loss function is overloaded on reduction ("mean"/"sum": a float64 scalar; "none": an
# array) and on return_grad (False: the loss; True: (loss, gradient))

@overload
def binary_cross_entropy(
    target: ArrayLike, prob: ArrayLike, *, reduction: Literal["mean", "sum"] = ...,
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., log_min: float | None = ..., label_smoothing: float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None = ...,
    n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def binary_cross_entropy(
    target: ArrayLike, prob: ArrayLike, *, reduction: Literal["none"],
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., log_min: float | None = ..., label_smoothing: float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None = ...,
    n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def binary_cross_entropy(
    target: ArrayLike, prob: ArrayLike, *, reduction: Literal["mean", "sum"] = ...,
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., log_min: float | None = ..., label_smoothing: float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None = ...,
    n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def binary_cross_entropy(
    target: ArrayLike, prob: ArrayLike, *, reduction: Literal["none"],
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., log_min: float | None = ..., label_smoothing: float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None = ...,
    n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def binary_cross_entropy_grad(
    target: ArrayLike, prob: ArrayLike, *, reduction: Literal["mean", "sum", "none"] = ...,
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., log_min: float | None = ..., label_smoothing: float = ...,
    zero_division: float = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...
) -> FloatArray: ...

@overload
def binary_cross_entropy_with_logits(
    target: ArrayLike, logits: ArrayLike, *, reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., pos_weight:
    ArrayLike | None = ..., label_smoothing: float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def binary_cross_entropy_with_logits(
    target: ArrayLike, logits: ArrayLike, *, reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., pos_weight:
    ArrayLike | None = ..., label_smoothing: float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def binary_cross_entropy_with_logits(
    target: ArrayLike, logits: ArrayLike, *, reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., pos_weight:
    ArrayLike | None = ..., label_smoothing: float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def binary_cross_entropy_with_logits(
    target: ArrayLike, logits: ArrayLike, *, reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., pos_weight:
    ArrayLike | None = ..., label_smoothing: float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def binary_cross_entropy_with_logits_grad(
    target: ArrayLike, logits: ArrayLike, *, reduction: Literal["mean", "sum", "none"] =
    ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., pos_weight:
    ArrayLike | None = ..., label_smoothing: float = ..., zero_division: float = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ...
) -> FloatArray: ...

@overload
def sigmoid_focal_loss(
    target: ArrayLike, logits: ArrayLike, *, alpha: float = ..., gamma: float = ...,
    reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def sigmoid_focal_loss(
    target: ArrayLike, logits: ArrayLike, *, alpha: float = ..., gamma: float = ...,
    reduction: Literal["none"], weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def sigmoid_focal_loss(
    target: ArrayLike, logits: ArrayLike, *, alpha: float = ..., gamma: float = ...,
    reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def sigmoid_focal_loss(
    target: ArrayLike, logits: ArrayLike, *, alpha: float = ..., gamma: float = ...,
    reduction: Literal["none"], weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def sigmoid_focal_loss_grad(
    target: ArrayLike, logits: ArrayLike, *, alpha: float = ..., gamma: float = ...,
    reduction: Literal["mean", "sum", "none"] = ..., weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ...
) -> FloatArray: ...

@overload
def softmax_cross_entropy(
    target: ArrayLike, logits: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., class_weight: ArrayLike | None =
    ..., ignore_index: int | None = ..., label_smoothing: float = ..., base: Literal["e"] |
    float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None
    = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def softmax_cross_entropy(
    target: ArrayLike, logits: ArrayLike, *, axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., class_weight: ArrayLike | None =
    ..., ignore_index: int | None = ..., label_smoothing: float = ..., base: Literal["e"] |
    float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None
    = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def softmax_cross_entropy(
    target: ArrayLike, logits: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., class_weight: ArrayLike | None =
    ..., ignore_index: int | None = ..., label_smoothing: float = ..., base: Literal["e"] |
    float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None
    = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def softmax_cross_entropy(
    target: ArrayLike, logits: ArrayLike, *, axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., class_weight: ArrayLike | None =
    ..., ignore_index: int | None = ..., label_smoothing: float = ..., base: Literal["e"] |
    float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None
    = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def softmax_cross_entropy_grad(
    target: ArrayLike, logits: ArrayLike, *, axis: int = ..., reduction: Literal["mean",
    "sum", "none"] = ..., weight: ArrayLike | None = ..., class_weight: ArrayLike | None =
    ..., ignore_index: int | None = ..., label_smoothing: float = ..., base: Literal["e"] |
    float = ..., zero_division: float = ..., grad_out: FloatArray | None = ..., n_threads: int |
    None = ...
) -> FloatArray: ...

@overload
def cross_entropy(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] =
    ...
) -> np.float64: ...

@overload
def cross_entropy(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] =
    ...
) -> FloatArray: ...

@overload
def cross_entropy(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def cross_entropy(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def cross_entropy_grad(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum",
    "none"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., grad_out: FloatArray | None = ...,
    n_threads: int | None = ...
) -> FloatArray: ...

@overload
def kl_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] =
    ...
) -> np.float64: ...

@overload
def kl_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] =
    ...
) -> FloatArray: ...

@overload
def kl_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def kl_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def kl_divergence_grad(
    p: ArrayLike, q: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum",
    "none"] = ..., weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps:
    Literal["auto"] | float = ..., zero_division: float = ..., grad_out: FloatArray | None = ...,
    n_threads: int | None = ...
) -> FloatArray: ...

@overload
def entropy(
    p: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ...,
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def entropy(
    p: ArrayLike, *, axis: int = ..., reduction: Literal["none"],
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def entropy(
    p: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum"] = ...,
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def entropy(
    p: ArrayLike, *, axis: int = ..., reduction: Literal["none"],
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ...,
    grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def entropy_grad(
    p: ArrayLike, *, axis: int = ..., reduction: Literal["mean", "sum", "none"] = ...,
    weight: ArrayLike | None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"]
    | float = ..., zero_division: float = ..., grad_out: FloatArray | None = ..., n_threads: int
    | None = ...
) -> FloatArray: ...


@overload
def kl_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, temperature: float = ..., axis: int =
    ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None =
    ..., grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad:
    Literal[False] = ...
) -> np.float64: ...

@overload
def kl_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, temperature: float = ..., axis: int =
    ..., reduction: Literal["none"], weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None =
    ..., grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad:
    Literal[False] = ...
) -> FloatArray: ...

@overload
def kl_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, temperature: float = ..., axis: int =
    ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None =
    ..., grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad:
    Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def kl_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, temperature: float = ..., axis: int =
    ..., reduction: Literal["none"], weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., out: FloatArray | None =
    ..., grad_out: FloatArray | None = ..., n_threads: int | None = ..., return_grad:
    Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def kl_divergence_with_logits_grad(
    target_logits: ArrayLike, logits: ArrayLike, *, temperature: float = ..., axis: int =
    ..., reduction: Literal["mean", "sum", "none"] = ..., weight: ArrayLike | None = ...,
    base: Literal["e"] | float = ..., zero_division: float = ..., grad_out: FloatArray |
    None = ..., n_threads: int | None = ...
) -> FloatArray: ...

@overload
def js_divergence(
    p: ArrayLike, q: ArrayLike, *, beta: float = ..., axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out:
    FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def js_divergence(
    p: ArrayLike, q: ArrayLike, *, beta: float = ..., axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out:
    FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def js_divergence(
    p: ArrayLike, q: ArrayLike, *, beta: float = ..., axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike | None = ..., base: Literal["e"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out:
    FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def js_divergence(
    p: ArrayLike, q: ArrayLike, *, beta: float = ..., axis: int = ..., reduction: Literal["none"], weight: ArrayLike | None = ..., base: Literal["e"]
    | float = ..., zero_division: float = ..., out: FloatArray | None = ..., grad_out:
    FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def js_divergence_grad(
    p: ArrayLike, q: ArrayLike, *, beta: float = ..., axis: int = ..., reduction:
    Literal["mean", "sum", "none"] = ..., weight: ArrayLike | None = ..., base: Literal["e"]
    | float = ..., zero_division: float = ..., grad_out: FloatArray | None = ..., n_threads:
    int | None = ...
) -> FloatArray: ...

@overload
def js_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, beta: float = ..., temperature: float =
    ..., axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike
    | None = ..., base: Literal["e"] | float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def js_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, beta: float = ..., temperature: float =
    ..., axis: int = ..., reduction: Literal["none"], weight: ArrayLike
    | None = ..., base: Literal["e"] | float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def js_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, beta: float = ..., temperature: float =
    ..., axis: int = ..., reduction: Literal["mean", "sum"] = ..., weight: ArrayLike
    | None = ..., base: Literal["e"] | float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def js_divergence_with_logits(
    target_logits: ArrayLike, logits: ArrayLike, *, beta: float = ..., temperature: float =
    ..., axis: int = ..., reduction: Literal["none"], weight: ArrayLike
    | None = ..., base: Literal["e"] | float = ..., zero_division: float = ..., out:
    FloatArray | None = ..., grad_out: FloatArray | None = ..., n_threads: int | None = ...,
    return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def js_divergence_with_logits_grad(
    target_logits: ArrayLike, logits: ArrayLike, *, beta: float = ..., temperature: float =
    ..., axis: int = ..., reduction: Literal["mean", "sum", "none"] = ..., weight: ArrayLike
    | None = ..., base: Literal["e"] | float = ..., zero_division: float = ..., grad_out:
    FloatArray | None = ..., n_threads: int | None = ...
) -> FloatArray: ...

@overload
def information(
    p: ArrayLike, *, reduction: Literal["mean", "sum"] = ..., weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def information(
    p: ArrayLike, *, reduction: Literal["none"], weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def information(
    p: ArrayLike, *, reduction: Literal["mean", "sum"] = ..., weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def information(
    p: ArrayLike, *, reduction: Literal["none"], weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def information_grad(
    p: ArrayLike, *, reduction: Literal["mean", "sum", "none"] = ..., weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., grad_out: FloatArray | None = ..., n_threads: int | None =
    ...
) -> FloatArray: ...

@overload
def binary_entropy(
    p: ArrayLike, *, reduction: Literal["mean", "sum"] = ..., weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> np.float64: ...

@overload
def binary_entropy(
    p: ArrayLike, *, reduction: Literal["none"], weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[False] = ...
) -> FloatArray: ...

@overload
def binary_entropy(
    p: ArrayLike, *, reduction: Literal["mean", "sum"] = ..., weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[np.float64, FloatArray]: ...

@overload
def binary_entropy(
    p: ArrayLike, *, reduction: Literal["none"], weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., out: FloatArray | None = ..., grad_out: FloatArray | None =
    ..., n_threads: int | None = ..., return_grad: Literal[True]
) -> tuple[FloatArray, FloatArray]: ...

def binary_entropy_grad(
    p: ArrayLike, *, reduction: Literal["mean", "sum", "none"] = ..., weight: ArrayLike |
    None = ..., base: Literal["e"] | float = ..., eps: Literal["auto"] | float = ...,
    zero_division: float = ..., grad_out: FloatArray | None = ..., n_threads: int | None =
    ...
) -> FloatArray: ...

class SoftmaxStats(NamedTuple):
    logsumexp: FloatArray
    log_prob: FloatArray | None
    entropy: FloatArray
    max_prob: FloatArray
    argmax: NDArray[np.intp]
    correct: NDArray[np.bool_] | None
    ignored: NDArray[np.bool_] | None

def softmax_stats(
    logits: ArrayLike, target: ArrayLike | None = ..., *, axis: int = ..., k: int = ...,
    ignore_index: int | None = ..., base: Literal["e"] | float = ..., n_threads: int | None
    = ...
) -> SoftmaxStats: ...


class RunningLoss:
    loss: str
    options: dict[str, Any]
    window: int | None
    sequence_axis: int | None
    def __init__(self, loss: str | Any, *, window: int | None = ...,
                 sequence_axis: int | None = ..., **options: Any) -> None: ...
    def reset(self) -> RunningLoss: ...
    def update(self, target: ArrayLike | None, prediction: ArrayLike = ...,
               weight: ArrayLike | None = ..., *, units: float | None = ...) -> RunningLoss: ...
    def merge(self, other: RunningLoss) -> RunningLoss: ...
    def windowed(self) -> RunningLoss: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> RunningLoss: ...
    @classmethod
    def from_state_dict(cls, state: dict[str, Any],
                        n_threads: int | None = ...) -> RunningLoss: ...
    @property
    def total(self) -> np.float64: ...
    @property
    def weight(self) -> np.float64: ...
    @property
    def count(self) -> int: ...
    @property
    def units(self) -> np.float64: ...
    @property
    def sequences(self) -> int: ...
    def result(self) -> np.float64: ...
    def perplexity(self, per: Literal["token", "sequence", "unit"] = ...) -> np.float64: ...
    def bits_per_token(self) -> np.float64: ...
    def bits_per_unit(self) -> np.float64: ...


def show_config(file: IO[str] | None = ...) -> None: ...
