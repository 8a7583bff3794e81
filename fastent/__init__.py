"""fastent: typed Cython kernels for the entropy family of losses and metrics.

    import fastent as fe
    fe.binary_cross_entropy(target, prob)                        # mean, in nats
    loss, grad = fe.binary_cross_entropy_with_logits(t, x, return_grad=True)

Every function takes the truth first and the prediction second; gradients are with respect
to the prediction.  `fastent.reference` holds plain-NumPy versions of everything.
"""
__version__ = "0.1.0"

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
