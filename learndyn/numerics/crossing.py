r"""The part of the wrong-sign crossing time that has no elementary form (family 5), by quadrature.

    Q(m0, b) = ∫_{m0}^{0} e^s / √(b² + 4 s²) ds = ∫_0^{M} e^{−u} / √(b² + 4 u²) du,    M = −m0 > 0, b > 0.

The integrand has branch points at ``u = ±i b/2``, a kink of width ``b`` at 0 when ``b`` is small. Two pieces, each by
16-point Gauss–Legendre on equal panels:

* ``u ∈ [0, u1]``, ``u1 = min(M, 1)``, in ``θ`` with ``u = (b/2) sinh θ``: the integrand is ``½ e^{−(b/2) sinh θ}``,
  entire and bounded by ½ in the strip ``|Im θ| ≤ π/2``; panels of width at most 1 in ``θ ∈ [0, asinh(2u1/b)]`` (as many
  as the widest element of the batch needs: ``ln(4/b)`` for small ``b``), error below ``1e-25`` per panel;
* ``u ∈ [u1, min(M, u1 + 45)]``, in ``u``: 23 panels of width at most 2, at least 1 away from the branch points
  (``ρ ≥ 2 + √3``), error below ``1e-18`` of the panel; beyond ``u1 + 45`` the integrand is below ``e^{−45}``.

Differentiable in ``m0`` and ``b`` by autograd (the rule's nodes move with the ends).
"""
from __future__ import annotations

import math

import torch

from learndyn.numerics.gauss_legendre import integrate

__all__ = ["crossing_tail"]

_U_PANELS = 23
_U_REACH = 45.0


def crossing_tail(m0: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""``∫_{m0}^{0} e^s/√(b² + 4s²) ds`` for ``m0 < 0``, ``b > 0``, elementwise (broadcasts, keeps the dtype)."""
    m0, b = torch.broadcast_tensors(m0, b)
    M = -m0
    u1 = torch.clamp(M, max=1.0)
    theta1 = torch.asinh(2.0 * u1 / b)
    panels = max(1, math.ceil(float(theta1.detach().max())) if theta1.numel() else 1)
    half_b = (b / 2)[..., None]
    total = torch.zeros_like(M)
    for k in range(panels):
        lo, hi = theta1 * (k / panels), theta1 * ((k + 1) / panels)
        total = total + 0.5 * integrate(lambda th: torch.exp(-half_b * torch.sinh(th)), lo, hi)
    top = torch.minimum(M, u1 + _U_REACH)
    b_n = b[..., None]
    for j in range(_U_PANELS):
        lo = u1 + (top - u1) * (j / _U_PANELS)
        hi = u1 + (top - u1) * ((j + 1) / _U_PANELS)
        total = total + integrate(lambda u: torch.exp(-u) / torch.hypot(b_n, 2.0 * u), lo, hi)
    return total
