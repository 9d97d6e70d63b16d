"""Numerically stable special functions that the project's torch printer maps SymPy functions to.

Each is exact to float64 round-off over the whole real line and has finite gradients wherever the true
derivative is finite (the branch not taken by a ``torch.where`` gets a guarded, harmless input, so no NaN
gradient leaks from it).
"""
from __future__ import annotations

import torch

__all__ = ["exprel", "ndtr", "log1p_exp"]

_EXPREL_SERIES = 1e-4


def exprel(z: torch.Tensor) -> torch.Tensor:
    r"""``exprel(z) = (e^z - 1)/z``, with ``exprel(0) = 1``.

    For ``|z| < 1e-4`` the Taylor series ``1 + z/2 + z^2/6 + z^3/24 + z^4/120`` (truncation error below
    ``z^5/720 < 2e-23``); elsewhere ``expm1(z)/z``, which is relative-accurate because ``expm1`` is.
    """
    small = z.abs() < _EXPREL_SERIES
    zs = torch.where(small, z, torch.zeros_like(z))
    series = 1 + zs * (0.5 + zs * (1.0 / 6 + zs * (1.0 / 24 + zs * (1.0 / 120))))
    zl = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, series, torch.expm1(zl) / zl)


def ndtr(z: torch.Tensor) -> torch.Tensor:
    r"""Standard normal CDF ``Φ(z) = ½ erfc(-z/√2)``, relative-accurate in both tails."""
    return torch.special.ndtr(z)


def log1p_exp(z: torch.Tensor) -> torch.Tensor:
    r"""``ln(1 + e^z)`` (softplus) without overflow."""
    return torch.nn.functional.softplus(z)
