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
from fastent import binary, divergence, infotheory, softmax
from fastent._config import show_config
from fastent._streaming import RunningLoss
from fastent.binary import *        # noqa: F401,F403 -- each family's __all__
from fastent.divergence import *    # noqa: F401,F403
from fastent.infotheory import *    # noqa: F401,F403
from fastent.softmax import *       # noqa: F401,F403
from fastent.softmax import SoftmaxStats

__all__ = [*binary.__all__, *softmax.__all__, *divergence.__all__, *infotheory.__all__,
           "RunningLoss", "show_config", "__version__"]
del _warn_of_namesake
