"""`python -m fastent demo`: a short tour, checked against the NumPy reference."""
import numpy as np

import fastent as fe
from fastent import reference as R


def main():
    fe.show_config()
    y = np.array([1, 1, 0, 1])
    p = np.array([0.9, 0.95, 0.7, 0.75])
    print("\nbinary_cross_entropy([1, 1, 0, 1], [0.9, 0.95, 0.7, 0.75]) =",
          f"{fe.binary_cross_entropy(y, p):.8f} nats,",
          f"{fe.binary_cross_entropy(y, p, base=2):.8f} bits")
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, 10**6).astype(np.float32)
    t = (rng.random(10**6) < 0.5).astype(np.float32)
    loss, grad = fe.binary_cross_entropy_with_logits(t, x, return_grad=True)
    ref = R.binary_cross_entropy_with_logits(t, x)
    print(f"binary_cross_entropy_with_logits on 1e6 float32 logits: {loss:.8f} "
          f"(NumPy reference {ref:.8f}), gradient {grad.dtype}{grad.shape}")
    return 0
