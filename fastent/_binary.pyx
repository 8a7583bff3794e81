# cython: language_level=3
"""Binary cross-entropy: the family's block of the driver (fastent/_driver.pxd) around the
inner loops of src/fe_binary_impl.h, and its thin call path.

The Python layer (fastent/binary.py) hands over the operands by name -- pred, target,
weight, pos_weight, out, grad -- all of one iteration shape (axes in the prediction's
memory order, mergeable axes merged; fastent/_layout.py) with their byte strides.  The
iteration range is cut into blocks of FE_BLOCK elements; within a block each row segment
(along the last axis) runs through one vectorised inner loop, operands with a non-unit stride
or another element type being gathered into (and outputs scattered from) the thread's
scratch.  The inner loop adds the written losses (and the weights) to the thread's exact
sums.
"""

cimport numpy as cnp
import numpy as np
from fastent cimport _driver
from fastent._common cimport (FE_BLOCK, FE_MAXDIM, FE_T_F32, FE_T_F64, common_keywords,
                              disjoint, fe_gather_as, fe_scatter, fe_xsum, float_type,
                              plain_array, xsum_state, xsum_value)
from fastent._driver cimport (GRAD, NOPS, OUT, POS_WEIGHT, PRED, TARGET, WEIGHT, Driver)

cnp.import_array()

cdef extern from "fe_binary.h" nogil:
    enum: FE_NMODES
    const char *const fe_elementwise_names[]
    ctypedef struct fe_bparams:
        int mode
        double lo, hi
        double log_min
        double smooth
        double loss_scale
        double grad_scale
        double a, b
    ctypedef void (*fe_bce_f32_fn)(Py_ssize_t, const float *, const float *, const float *,
                                   const float *, float *, float *, const fe_bparams *, int *,
                                   fe_xsum *, fe_xsum *, double *)
    ctypedef void (*fe_bce_f64_fn)(Py_ssize_t, const double *, const double *,
                                   const double *, const double *, double *, double *,
                                   const fe_bparams *, int *, fe_xsum *, fe_xsum *, double *)
    fe_bce_f32_fn fe_bce_f32
    fe_bce_f64_fn fe_bce_f64
    int fe_binary_select(int requested)

# the kernel's modes by the stem of their term (src/fe_terms_impl.h: FE_ELEMENTWISE)
MODES = {fe_elementwise_names[i].decode(): i for i in range(FE_NMODES)}


def select_isa(int requested=-1):
    """Point the dispatch table at the best kernels for this CPU (capped by `requested`);
    returns the instruction set chosen (0 baseline, 1 AVX2, 2 AVX-512)."""
    return fe_binary_select(requested)


cdef void _bce_block(const Driver *D, Py_ssize_t b, char *scratch, fe_xsum *sums,
                     double *xs, int *bad_out) noexcept nogil:
    """One block of the element range, row segment by row segment; the written losses (and
    weights) go to sums[0] (and sums[1]) when `sums` is given."""
    cdef const fe_bparams *prm = <const fe_bparams *>D.params
    cdef Py_ssize_t nd = D.ndim, last = D.ndim - 1, isz = D.itemsize
    cdef Py_ssize_t inner = D.shape[last]
    cdef Py_ssize_t start = b * D.block
    cdef Py_ssize_t end = min(D.items, start + D.block)
    cdef Py_ssize_t col = start % inner
    cdef Py_ssize_t pos = start, seg, k, st
    cdef Py_ssize_t idx[FE_MAXDIM]
    cdef Py_ssize_t off[NOPS]
    cdef void *p[NOPS]
    cdef char *addr
    cdef int bad = 0, rb = 0

    _driver.odo_start(D, nd - 1, start // inner, idx, off)
    while pos < end:
        seg = min(inner - col, end - pos)
        for k in range(NOPS):
            p[k] = NULL
            if D.op[k].data == NULL:
                continue
            st = D.op[k].strides[last]
            addr = D.op[k].data + off[k] + col * st
            if st == isz and D.op[k].type == D.ctype:
                p[k] = addr
            else:
                p[k] = scratch + k * FE_BLOCK * isz
                if k < OUT:   # inputs: gathered, converted to the computation type
                    fe_gather_as(p[k], isz, addr, seg, st, D.op[k].type)
        if p[OUT] == NULL:
            p[OUT] = scratch + OUT * FE_BLOCK * isz
        if isz == 4:
            fe_bce_f32(seg, <const float *>p[TARGET], <const float *>p[PRED],
                       <const float *>p[WEIGHT], <const float *>p[POS_WEIGHT],
                       <float *>p[OUT], <float *>p[GRAD], prm, &rb, sums,
                       NULL if sums == NULL else sums + 1, xs)
        else:
            fe_bce_f64(seg, <const double *>p[TARGET], <const double *>p[PRED],
                       <const double *>p[WEIGHT], <const double *>p[POS_WEIGHT],
                       <double *>p[OUT], <double *>p[GRAD], prm, &rb, sums,
                       NULL if sums == NULL else sums + 1, xs)
        for k in range(OUT, NOPS):      # the outputs: scattered where not in place
            st = D.op[k].strides[last]
            if D.op[k].data != NULL and st != isz:
                fe_scatter(D.op[k].data + off[k] + col * st, p[k], seg, st, isz)
        bad |= rb
        pos += seg
        col = 0
        _driver.odo_next(D, nd - 1, idx, off)
    bad_out[0] = bad


cdef void _prepare(Driver *D, fe_bparams *prm) noexcept:
    """The blocks of D's element range (its shape and operands set), for _bce_block."""
    cdef Py_ssize_t d
    D.items = 1
    for d in range(D.ndim):
        D.items *= D.shape[d]
    D.elements = D.items
    D.block = FE_BLOCK
    D.scratch = NOPS * FE_BLOCK * D.itemsize
    D.params = prm


def bce(int mode, tuple shape, dict operands, *, int ctype, double lo, double hi,
        double log_min, double smooth, double loss_scale, double grad_scale, bint want_sum,
        int n_threads, double a=0.0, double b=0.0):
    """Run the binary cross-entropy kernel over an iteration layout.

    operands: {"target", "pred", "weight", "pos_weight", "out", "grad": (array, byte strides
    for `shape`, 0, element type code) or None}; the outputs have the computation type
    `ctype` (float32 or float64), the inputs any type the kernels read (converted while a
    block is gathered).  mode: a value of MODES (the term; lo, hi: clip bounds, log_min:
    PyTorch's clamp, a, b: the term's own parameters).  Returns (exact sum of the written
    losses, exact sum of the weights or None, range-check bits), the sums as
    fastent._exact.ExactSum states (None unless `want_sum`).
    """
    cdef Driver D
    cdef fe_bparams prm
    _driver.init(&D, len(shape), ctype)
    _driver.set_operands(&D, shape, operands)
    prm.mode = mode
    prm.lo = lo
    prm.hi = hi
    prm.log_min = log_min
    prm.smooth = smooth
    prm.loss_scale = loss_scale
    prm.grad_scale = grad_scale
    prm.a, prm.b = a, b
    cdef fe_xsum total, wtotal
    _prepare(&D, &prm)
    cdef int bad = _driver.run(&D, _bce_block, n_threads, want_sum, &total, &wtotal)
    if D.items == 0 or not want_sum:
        return None, None, bad
    return (xsum_state(&total), xsum_state(&wtotal) if D.op[WEIGHT].data != NULL else None, bad)


# ---- the thin call path -------------------------------------------------------------------
# The common case -- a C-contiguous, aligned float32/float64 prediction, a target of its
# shape in any type the kernel reads, default keywords -- goes from the public function to
# the block loop above with O(1) Python work.  Anything else returns None and the caller
# takes its general path, which makes every check and raises every error; so does a call
# whose data the kernel found invalid (range-check bits), so that the general path raises
# the same error it always did.  Same kernel, same bits.
from fastent._exact import rounded as _rounded
from fastent import _threads
from fastent import _validation as _v

cdef dict _AUTO_BOUNDS = {t: _v.clip_bounds(_v.clip_eps("auto", t), t)
                          for t in (np.float32, np.float64)}
cdef double _LO32 = _AUTO_BOUNDS[np.float32][0], _HI32 = _AUTO_BOUNDS[np.float32][1]
cdef double _LO64 = _AUTO_BOUNDS[np.float64][0], _HI64 = _AUTO_BOUNDS[np.float64][1]
# numpy type number -> the kernels' element type code (src/fe_simd.h; _validation.KERNEL_TYPES)
cdef dict _CODES = {np.dtype(t).num: c for t, c in _v.KERNEL_TYPES.items()}


def fast(int mode, double a, double b, target, pred, reduction, weight, base, eps, log_min,
         pos_weight, label_smoothing, zero_division, out, grad_out, n_threads,
         bint want_loss, bint want_grad, bint totals=False):
    """(out or None, grad or None, the correctly rounded sum of the element values or None,
    the exact sum as an ExactSum state or None, elements counted) of the common case
    (fastent._api.fast_result makes the result), or None (see above).  `totals`: the sum
    is wanted whatever the reduction (RunningLoss)."""
    cdef int typ = float_type(pred)
    if not (typ >= 0 and plain_array(target) and weight is None and pos_weight is None
            and log_min is None and type(eps) is str and eps == "auto"
            and common_keywords(reduction, base, label_smoothing, zero_division, n_threads)):
        return None
    cdef cnp.ndarray x = pred, t = target, o = None, g = None
    cdef int nd = cnp.PyArray_NDIM(x), d
    if cnp.PyArray_NDIM(t) != nd:
        return None
    for d in range(nd):
        if cnp.PyArray_DIM(t, d) != cnp.PyArray_DIM(x, d):
            return None
    tcode = _CODES.get(cnp.PyArray_TYPE(t))
    cdef cnp.npy_intp n = cnp.PyArray_SIZE(x)
    if tcode is None or n == 0:
        return None
    cdef bint none = reduction == "none"
    for arr, wanted in ((out, want_loss and none), (grad_out, want_grad)):
        if arr is not None and not (
                wanted and plain_array(arr) and cnp.PyArray_TYPE(arr) == typ
                and cnp.PyArray_SIZE(arr) == n and cnp.PyArray_NDIM(arr) == nd
                and cnp.PyArray_ISWRITEABLE(arr) and disjoint(arr, x) and disjoint(arr, t)):
            return None
    if out is not None:
        o = out
        for d in range(nd):
            if cnp.PyArray_DIM(o, d) != cnp.PyArray_DIM(x, d):
                return None
    if grad_out is not None:
        g = grad_out
        for d in range(nd):
            if cnp.PyArray_DIM(g, d) != cnp.PyArray_DIM(x, d):
                return None
        if not disjoint(g, o):
            return None
    if want_loss and none and o is None:
        o = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(x), typ, 0)
    if want_grad and g is None:
        g = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(x), typ, 0)

    cdef Driver D
    cdef fe_bparams prm
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(x)
    _driver.init(&D, 1, FE_T_F32 if isz == 4 else FE_T_F64)
    D.shape[0] = n
    D.op[TARGET].data, D.op[TARGET].type = <char *>cnp.PyArray_DATA(t), tcode
    D.op[TARGET].strides[0] = cnp.PyArray_ITEMSIZE(t)
    D.op[PRED].data, D.op[PRED].strides[0] = <char *>cnp.PyArray_DATA(x), isz
    if o is not None:
        D.op[OUT].data, D.op[OUT].strides[0] = <char *>cnp.PyArray_DATA(o), isz
    if g is not None:
        D.op[GRAD].data, D.op[GRAD].strides[0] = <char *>cnp.PyArray_DATA(g), isz
    prm.mode = mode
    prm.a, prm.b = a, b
    prm.lo, prm.hi = (_LO32, _HI32) if isz == 4 else (_LO64, _HI64)
    prm.log_min = 0.0
    prm.smooth = 0.0
    prm.loss_scale = 1.0
    prm.grad_scale = 1.0 / n if reduction == "mean" else 1.0
    _prepare(&D, &prm)
    return _driver.run_call(&D, _bce_block, n_threads, want_loss and not none, totals, o, g,
                            n, _threads, _rounded)
