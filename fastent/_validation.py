"""Argument checks shared by every public function: one place, one wording.

Each helper names the argument it checks in its error message.  Nothing here touches the
data beyond dtype conversion; range checks on values happen inside the kernels' pass.
"""
import math
import numbers

import numpy as np

from fastent import _threads

REDUCTIONS = ("mean", "sum", "none")
WEIGHT_RANGE = "weights must be finite and non-negative"


def bad_weight(a):
    """Mask of invalid weights (negative, infinite or NaN)."""
    return ~((a >= 0) & np.isfinite(a))


def computation_dtype(dt, name):
    """float32/float64 are kept, float16 and bfloat16 are computed in float32, integers and
    bools in float64 (in either byte order); everything else is refused."""
    dt = native(np.dtype(dt))
    if dt == np.float32 or dt == np.float64:
        return dt
    if dt == np.float16 or is_bfloat16(dt):
        return np.dtype(np.float32)
    if dt.kind in "biu":
        return np.dtype(np.float64)
    raise TypeError(f"{name}: dtype {dt} is not supported; pass real numbers "
                    f"(float32 and float64 are computed natively)")


def native(dt):
    """`dt` in this machine's byte order."""
    return dt if dt.isnative else dt.newbyteorder("=")


def prediction(x, name):
    """(the prediction as an array, its computation dtype: float32 or float64).  An array
    the kernels read directly (KERNEL_TYPES, either byte order) is returned as it is: they
    convert it block by block; other dtypes are refused."""
    x = as_array(x, name)
    return x, computation_dtype(x.dtype, name)


# element types the kernels read directly (converting while they gather a block); the codes
# are those of src/fe_simd.h
KERNEL_TYPES = {np.dtype(t): code for code, t in enumerate(
    [np.float32, np.float64, np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32,
     np.uint32, np.int64, np.uint64, np.float16])}
SWAPPED = 32        # FE_T_SWAPPED: stored in the other byte order
BFLOAT16 = len(KERNEL_TYPES)    # FE_T_BF16: ml_dtypes.bfloat16, known by its name (no import)


def is_bfloat16(dt):
    """Whether `dt` is ml_dtypes' bfloat16 (the NumPy dtype of JAX, TensorFlow, ...)."""
    return dt.kind == "V" and dt.itemsize == 2 and dt.name == "bfloat16"


def type_code(a):
    """The kernel's code for the element type of array `a` (a dtype of KERNEL_TYPES in
    either byte order)."""
    dt = a.dtype
    if is_bfloat16(dt):
        return BFLOAT16
    return KERNEL_TYPES[native(dt)] | (0 if dt.isnative else SWAPPED)


def kernel_type(dt):
    """Whether the kernels read dtype `dt` directly."""
    return is_bfloat16(dt) or native(dt) in KERNEL_TYPES


def operand(x, name, dtype, shape, keep_type=False, hint="", whole_axis=None,
            column_hint=""):
    """A real-valued operand (target, weight, ...) broadcast to `shape`, cast to `dtype` --
    or, with keep_type, left in its own type when the kernels read that type directly.
    `hint` ends the message of a shape error (a string, or a function of the operand's
    shape that makes it).  `whole_axis`: a class axis (of `shape`) that
    the operand must span, not be broadcast along: a column of labels (N, 1) against (N, C)
    logits would otherwise be taken as the row [y, y, ...]; `column_hint` ends the message
    when the operand has one value along it."""
    x = as_array(x, name)
    if x.dtype.kind not in "biuf" and not is_bfloat16(x.dtype):
        raise TypeError(f"{name}: dtype {x.dtype} is not supported; pass real numbers")
    if keep_type and kernel_type(x.dtype):
        dtype = x.dtype
    if x.shape == tuple(shape):
        return x.astype(dtype, copy=False)
    try:
        b = np.broadcast_shapes(x.shape, shape)
    except ValueError:
        b = None
    if b != tuple(shape):
        raise ValueError(f"{name}: shape {x.shape} does not broadcast to the prediction's "
                         f"shape {tuple(shape)}{hint(x.shape) if callable(hint) else hint}")
    # it broadcasts, so along the class axis it has the classes or one value (or none)
    k = None if whole_axis is None else whole_axis - len(shape)   # counted from the end
    if k is not None and shape[k] != 1 and (x.ndim < -k or x.shape[k] == 1):
        raise ValueError(f"{name}: a distribution over the classes must span the class "
                         f"axis (axis {whole_axis}, {shape[k]} classes), not be broadcast "
                         f"along it; got shape {x.shape} for {tuple(shape)}{column_hint}")
    return np.broadcast_to(x.astype(dtype, copy=False), shape)


_BFLOAT16 = ("cast it first: x.astype(np.float32) for NumPy, tensor.float() for PyTorch "
             "(float16, float32, float64 and ml_dtypes.bfloat16 are read directly)")


def _requires_grad(name):
    return TypeError(f"{name}: a torch tensor that requires grad; pass {name}.detach() "
                     f"(return_grad=True gives fastent's gradient)")


def _torch_bfloat16(x, name):
    """A CPU torch.bfloat16 tensor (checked by _tensor) as a NumPy array of ml_dtypes.bfloat16
    sharing its memory (NumPy has no bfloat16 of its own: the tensor's bits are viewed as
    int16, then as ml_dtypes' type)."""
    try:
        import ml_dtypes
    except ImportError:
        raise TypeError(f"{name}: dtype bfloat16 is read with the ml_dtypes package: "
                        f"pip install \"fastent-losses[bf16]\" (or ml_dtypes), or "
                        f"{_BFLOAT16}") from None
    import torch
    return x.view(torch.int16).numpy().view(ml_dtypes.bfloat16)


_DLPACK_CPU = 1         # DLPack's kDLCPU


def _tensor(x, name, writable=False):
    """A tensor (anything with __dlpack__) as a NumPy array sharing its memory: on the CPU,
    not requiring grad (PyTorch); `writable`: an output, written in place."""
    if getattr(x, "requires_grad", False):
        raise _requires_grad(name)
    device = x.__dlpack_device__()[0] if hasattr(x, "__dlpack_device__") else _DLPACK_CPU
    if device != _DLPACK_CPU:
        where = getattr(x, "device", f"DLPack device type {int(device)}")
        raise TypeError(f"{name}: a tensor on {where}, not on the CPU; pass {name}.cpu() "
                        f"(PyTorch) or jax.device_get({name}) (JAX)")
    if str(getattr(x, "dtype", "")) == "torch.bfloat16":
        return _torch_bfloat16(x, name)
    try:
        a = np.from_dlpack(x)
    except (BufferError, TypeError, RuntimeError, ValueError) as e:
        if writable:
            raise TypeError(f"{name}: cannot be written in place ({e})") from None
        return None                 # the caller tries np.asarray
    if writable and not a.flags.writeable:
        raise ValueError(f"{name}: is read-only (the tensor's library exports it so)")
    return a


def as_array(x, name):
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}")
    if not isinstance(x, np.ndarray) and hasattr(x, "__dlpack__"):
        a = _tensor(x, name)                 # in place, any strides: no copy
        if a is not None:
            return a if a.flags.aligned else a.copy()
    try:
        a = np.asarray(x)
    except (ValueError, TypeError, RuntimeError) as e:
        text = str(e)
        if "requires grad" in text:
            raise _requires_grad(name) from None
        if "BFloat16" in text or "bfloat16" in text:
            raise TypeError(f"{name}: dtype bfloat16 is not supported; {_BFLOAT16}") from None
        raise TypeError(f"{name}: cannot be read as an array of numbers ({e})") from None
    if a.dtype.kind in "OUSVMm" and not is_bfloat16(a.dtype):
        raise TypeError(f"{name}: expected an array of numbers, got dtype {a.dtype}")
    if not a.flags.aligned:
        # elements at addresses that are not multiples of their size (a buffer read at an
        # odd offset, a pickled chunk): the kernels read typed data, so they get a copy
        a = a.copy()
    return a


LABELS_COLUMN = (" (a column of class labels? pass them as an integer array of the rows' "
                 "shape: y.ravel().astype(int))")


def order_hint(function, truth, prediction):
    """The sentence appended to errors a swapped pair of arguments would cause."""
    return (f" (fastent takes the truth first: {function}({truth}, {prediction}); "
            f"PyTorch takes the prediction first)")


def broadcasts(shape, to):
    """Whether an array of `shape` broadcasts to the shape `to`."""
    try:
        return np.broadcast_shapes(shape, to) == tuple(to)
    except ValueError:
        return False


def reshape_hint(name, shape, to):
    """The end of a shape error where `name` holds as many values as the prediction."""
    if int(np.prod(shape)) != int(np.prod(to)) or not len(to):
        return ""
    return (f" (the same {int(np.prod(to))} values as the prediction in another shape: pass "
            f"{name}.reshape{tuple(to)}, or .ravel() both)")


_INDEX = np.iinfo(np.intp)


def labels(t, name):
    """Integer class labels as a contiguous intp array (a copy of one number per row); a
    label the index type cannot hold (a uint64 above its maximum) is an error, never a
    wrapped value."""
    if t.dtype.kind == "u" and t.dtype.itemsize >= np.dtype(np.intp).itemsize and t.size:
        big = t > _INDEX.max
        if big.any():
            pos = position(big)
            raise BadValue(name, pos, f"{name}: class label {int(t[pos])}",
                           f" does not fit the index type (at most {_INDEX.max})")
    return np.ascontiguousarray(t, dtype=np.intp)


def ignore_index(value):
    """None or an int the index type holds (labels are compared with it as intp)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"ignore_index: must be None or an int, got {type(value).__name__}")
    if not _INDEX.min <= value <= _INDEX.max:
        raise ValueError(f"ignore_index: {value} is outside the index type's range "
                         f"[{_INDEX.min}, {_INDEX.max}]; no label can equal it")
    return int(value)


def axis(value, ndim, name="axis"):
    """A class axis of an array with `ndim` dimensions, as a non-negative int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: must be an int, got {type(value).__name__}")
    if not -ndim <= value < ndim:
        raise ValueError(f"{name}: {value} is out of range for an array of {ndim} dimensions")
    return int(value) % ndim


def class_axis(x, axis_, name):
    """(axis, number of classes, row shape) of a prediction with a class axis."""
    if x.ndim == 0:
        raise ValueError(f"{name}: must have a class axis (got a 0-d array)")
    ax = axis(axis_, x.ndim)
    return ax, x.shape[ax], x.shape[:ax] + x.shape[ax + 1:]


def class_weight(value, n_classes, dtype):
    """Class weights: one finite, non-negative number per class, as a contiguous array."""
    cw = as_array(value, "class_weight")
    if cw.dtype.kind not in "biuf":
        raise TypeError(f"class_weight: dtype {cw.dtype} is not supported; pass real numbers")
    if cw.shape != (n_classes,):
        raise ValueError(f"class_weight: has shape {cw.shape}, expected ({n_classes},): one "
                         f"weight per class")
    cw = np.ascontiguousarray(cw, dtype=dtype)
    if bad_weight(cw).any():
        raise first_bad("class_weight", cw, bad_weight, WEIGHT_RANGE)
    return cw


def reduction(value):
    if not isinstance(value, str) or value not in REDUCTIONS:
        raise ValueError(f"reduction: must be one of {REDUCTIONS}, got {value!r}")
    return value


def log_base(base):
    """1 / ln(base): the factor that turns nats into the requested unit."""
    if isinstance(base, str):
        if base == "e":
            return 1.0
        raise ValueError(f"base: must be 'e' or a positive number other than 1, got {base!r}")
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise TypeError(f"base: must be 'e' or a positive number, got {type(base).__name__}")
    b = float(base)
    if not (b > 0 and math.isfinite(b)) or b == 1:
        raise ValueError(f"base: must be 'e' or a positive number other than 1, got {base!r}")
    return 1.0 / math.log(b)


def clip_eps(eps, dtype):
    """The clipping threshold: 'auto' is the machine epsilon of the computation dtype."""
    if isinstance(eps, str):
        if eps == "auto":
            return float(np.finfo(dtype).eps)
        raise ValueError(f"eps: must be 'auto' or a number in [0, 0.5), got {eps!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps: must be 'auto' or a number, got {type(eps).__name__}")
    e = float(eps)
    if not 0 <= e < 0.5:
        raise ValueError(f"eps: must be 'auto' or a number in [0, 0.5), got {eps!r}")
    return e


def clip_bounds(eps, dtype):
    """The clip bounds [lo, hi] of a probability for clipping threshold `eps` (a float from
    clip_eps), as values of the computation dtype: eps and 1 - eps rounded to the dtype,
    except that with eps > 0 both logs stay finite whatever the dtype: an eps that rounds to
    0 (below the smallest subnormal) takes the smallest positive value, and a 1 - eps that
    rounds to 1 (eps below the resolution next to 1) takes the largest value below 1."""
    dt = np.dtype(dtype).type
    lo, hi = dt(eps), dt(1.0 - eps)
    if eps > 0:
        if lo == 0:
            lo = np.finfo(dt).smallest_subnormal
        if hi == 1:
            hi = np.nextafter(dt(1), dt(0))
    return float(lo), float(hi)


def real(value, name):
    """A real number (not a bool), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: must be a number, got {type(value).__name__}")
    return float(value)


def fraction(value, name):
    """A number in [0, 1] (label_smoothing)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: must be a number in [0, 1], got {type(value).__name__}")
    v = float(value)
    if not 0 <= v <= 1:
        raise ValueError(f"{name}: must be a number in [0, 1], got {value!r}")
    return v


def temperature(value):
    """A softmax temperature: a finite number > 0."""
    t = real(value, "temperature")
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"temperature: must be a finite number > 0, got {value!r}")
    return t


def beta(value):
    """Jensen-Shannon's weight of the first distribution: a number in [0, 1]."""
    b = real(value, "beta")
    if not 0 <= b <= 1:
        raise ValueError(f"beta: must lie in [0, 1], got {value!r}")
    return b


def n_threads(value):
    """Threads for one call: see fastent/_threads.py (None, a positive cap, -1 for all
    usable cores, -2 for all but one, ...)."""
    return _threads.resolve(value)


def output(arr, name, shape, dtype):
    """A caller-provided output array: right shape, right dtype, writeable.  A CPU tensor
    (DLPack: PyTorch, ...) is written in place, through a NumPy view of its memory."""
    if not isinstance(arr, np.ndarray) and hasattr(arr, "__dlpack__"):
        arr = _tensor(arr, name, writable=True)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: must be a numpy.ndarray or a CPU tensor, got "
                        f"{type(arr).__name__}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name}: has shape {arr.shape}, expected {tuple(shape)}")
    if arr.dtype != dtype:
        raise TypeError(f"{name}: has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if not arr.flags.writeable:
        raise ValueError(f"{name}: is read-only")
    return arr


class BadValue(ValueError):
    """A ValueError about the value at one position of an operand.  It keeps the parts of
    its message, so that Dask can re-base a chunk's position to the whole array's."""

    def __init__(self, name, position, head, tail="", chunk=None):
        self.name, self.position, self.head, self.tail = name, position, head, tail
        self.chunk = chunk
        where = "" if chunk is None else f" of chunk {chunk}"
        super().__init__(f"{head} at position {position}{where}{tail}")

    def __reduce__(self):       # pickled whole: Dask's distributed workers send it back
        return BadValue, (self.name, self.position, self.head, self.tail, self.chunk)

    def moved(self, offset):
        """The same error, its position shifted by `offset` (the chunk's first index)."""
        position = tuple(p + int(o) for p, o in zip(self.position, offset))
        return BadValue(self.name, position, self.head, self.tail)

    def in_chunk(self, chunk):
        """The same error, saying the position is within chunk `chunk` (whose offset is
        unknown: Dask arrays with unknown chunk sizes)."""
        return BadValue(self.name, self.position, self.head, self.tail, chunk=chunk)


def first_bad(name, values, bad, what, hint=""):
    """ValueError naming the first element (C order) of `values` where `bad(values)` holds,
    `hint` appended.

    Only called after a kernel reported bad input, to say where it is."""
    values = np.asarray(values)
    mask = bad(values)
    if not mask.ndim:
        return ValueError(f"{name}: {what}; found {values.item()!r}{hint}")
    pos = position(mask)
    return BadValue(name, pos, f"{name}: {what}; found {values[pos].item()!r}", hint)


def position(mask):
    """The first position (C order) where `mask` holds, as a tuple of ints."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))
