"""Centring activations over the examples: ``a − 1 mᵀ`` with ``m`` the mean of each neuron.

Every measure of :mod:`learndyn.similarity` compares *centred* activations: canonical correlations and CKA are
defined through covariances, so a neuron's mean carries no information and a constant neuron none at all.

:func:`centre` removes the mean in two passes (the second removes the rounding left by the first, so a neuron whose
mean is ``10⁴`` times its spread keeps its spread to ``ε``, not to ``10⁴ ε``), and sets neurons whose entries are
all equal — constant neurons, dead ReLUs — to exact zeros, so they have exactly zero variance whatever their value.
It is differentiable (the constant test is a mask; a constant neuron's gradient is that of its zero column).
"""
from __future__ import annotations

import torch

__all__ = ["centre", "constant_neurons"]


def constant_neurons(a: torch.Tensor) -> torch.Tensor:
    """``(..., 1, neurons)`` boolean: the neurons of ``a (..., examples, neurons)`` whose entries are all equal."""
    return (a == a[..., :1, :]).all(dim=-2, keepdim=True)


def centre(a: torch.Tensor) -> torch.Tensor:
    """``a (..., examples, neurons)`` minus each neuron's mean over the examples (two passes; constant neurons 0)."""
    r = a - a.mean(dim=-2, keepdim=True)
    r = r - r.mean(dim=-2, keepdim=True)
    return torch.where(constant_neurons(a), torch.zeros((), dtype=r.dtype, device=r.device), r)
