"""Gradient-descent simulators that check the closed forms against real training runs (batched, torch).

Family 1 (linear learning dynamics): :func:`simulate_scalar_network` (``ŷ = w2 w1 x``) and
:func:`simulate_deep_linear` (``ŷ = W_D ⋯ W_1 x`` on :func:`whitened_dataset` data).
"""

from .deep_linear import Dataset, DeepLinearRun, simulate_deep_linear, whitened_dataset
from .scalar import ScalarRun, simulate_scalar_network

__all__ = [
    "Dataset",
    "DeepLinearRun",
    "ScalarRun",
    "simulate_deep_linear",
    "simulate_scalar_network",
    "whitened_dataset",
]
