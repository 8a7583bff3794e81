"""fastent: typed Cython kernels for the entropy family of losses and metrics.

    import fastent as fe
    fe.binary_cross_entropy(target, prob)                        # mean, in nats
    loss, grad = fe.binary_cross_entropy_with_logits(t, x, return_grad=True)

Every function takes the truth first and the prediction second; gradients are with respect
to the prediction.  `fastent.reference` holds plain-NumPy versions of everything.
"""
__version__ = "0.2.0"


def _warn_of_namesake():
    """The package index's "fastent" is another project (this one is "fastent-losses") that
    also installs a top-level fastent package: installed together, one's files overwrite
    the other's.  An install of this project under its old name is the same case."""
    from importlib import metadata
    try:
        other = metadata.distribution("fastent")
    except metadata.PackageNotFoundError:
        return
    import warnings
    warnings.warn(
        f"a distribution named 'fastent' ({other.version}: {other.metadata['Summary']}) "
        f"is installed beside this one (fastent-losses) and shares its import name, so "
        f"their files may have overwritten each other.  To repair: pip uninstall -y "
        f"fastent fastent-losses && pip install fastent-losses", RuntimeWarning,
        stacklevel=3)


_warn_of_namesake()
from fastent._config import show_config
from fastent.binary import (
    binary_cross_entropy,
    binary_cross_entropy_grad,
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
)
from fastent.divergence import (
    cross_entropy,
    cross_entropy_grad,
    entropy,
    entropy_grad,
    js_divergence,
    js_divergence_grad,
    js_divergence_with_logits,
    js_divergence_with_logits_grad,
    kl_divergence,
    kl_divergence_grad,
    kl_divergence_with_logits,
    kl_divergence_with_logits_grad,
)
from fastent.infotheory import (
    binary_entropy,
    binary_entropy_grad,
    information,
    information_grad,
)
from fastent.softmax import (
    SoftmaxStats,
    softmax_cross_entropy,
    softmax_cross_entropy_grad,
    softmax_stats,
)
from fastent._streaming import RunningLoss

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "softmax_cross_entropy", "softmax_cross_entropy_grad",
    "cross_entropy", "cross_entropy_grad", "kl_divergence", "kl_divergence_grad",
    "entropy", "entropy_grad",
    "kl_divergence_with_logits", "kl_divergence_with_logits_grad",
    "js_divergence", "js_divergence_grad",
    "js_divergence_with_logits", "js_divergence_with_logits_grad",
    "information", "information_grad", "binary_entropy", "binary_entropy_grad",
    "softmax_stats", "RunningLoss",
    "show_config", "__version__",
]
del _warn_of_namesake
