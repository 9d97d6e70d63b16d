r"""The scaled generalised exponential integral of the logistic margin time (family 5).

With ``a ∈ (−1, 1]`` (``a = 2/L − 1`` at depth ``L``),

    H_a(x) = ∫_0^x s^{a−1} (e^s − 1) ds = Σ_{k≥1} x^{a+k}/((a + k) k!)      (x > 0),

the part of ``∫ s^{a−1}(1 + e^s) ds`` that is not a power (``a = 1``: ``e^x − 1 − x``; ``a = 0``: ``Ein(x) = Ei(x) − γ − ln x``;
otherwise ``x^{a+1}/(a+1) ₂F₂(1, a+1; 2, a+2; x)``, an incomplete gamma function of ``−x``). :func:`scaled_h` returns
``h_a(x) = e^{−x} H_a(x)``, which stays in range where ``H_a`` overflows (``x > 709``):

* ``x ≤ 50``: the series, every term positive (``e^{−x} x^a Σ_k c_k/(a + k)``, ``c_k = x^k/k!``, 130 terms: the terms
  past ``k = 130`` are below ``1e-17`` of the sum at ``x = 50``);
* ``x > 50``: the asymptotic series ``x^{a−1} Σ_n (1 − a)_n x^{−n}`` (integration by parts), 48 terms; its smallest
  term at ``x = 50`` is ``2e-19``, and what it leaves out (a constant times ``e^{−x}``) is below ``1e-19`` of it.

Accuracy (measured against mpmath, ``tests/test_classification_numerics.py``): a few ulps for ``x`` in ``1e-300 … 1e6``
and every ``L`` from 1 to 1000. The derivative ``dh/dx = −h + x^{a−1}(1 − e^{−x})`` is supplied in closed form.
"""
from __future__ import annotations

import torch

__all__ = ["scaled_h", "SERIES_TERMS", "ASYMPTOTIC_TERMS", "SWITCH"]

SWITCH = 50.0
SERIES_TERMS = 130
ASYMPTOTIC_TERMS = 48


def _series(x: torch.Tensor, a: float) -> torch.Tensor:
    """``e^{−x} x^a Σ_{k≥1} x^k/((a + k) k!)`` for ``0 < x ≤ 50`` (positive terms only)."""
    c = torch.ones_like(x)
    total = torch.zeros_like(x)
    for k in range(1, SERIES_TERMS + 1):
        c = c * x / k
        total = total + c / (a + k)
    return torch.pow(x, a) * torch.exp(-x) * total


def _asymptotic(x: torch.Tensor, a: float) -> torch.Tensor:
    """``x^{a−1} Σ_{n<48} (1 − a)_n x^{−n}`` for ``x ≥ 50``."""
    term = torch.ones_like(x)
    total = torch.ones_like(x)
    for n in range(1, ASYMPTOTIC_TERMS):
        term = term * ((1.0 - a) + (n - 1)) / x
        total = total + term
    return torch.pow(x, a - 1.0) * total


def _value(x: torch.Tensor, a: float) -> torch.Tensor:
    small = x <= SWITCH
    xs = torch.where(small, x, torch.full_like(x, SWITCH))
    xl = torch.where(small, torch.full_like(x, SWITCH), x)
    return torch.where(small, _series(xs, a), _asymptotic(xl, a))


class _ScaledH(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a):
        h = _value(x, a)
        ctx.save_for_backward(x, h)
        ctx.a = a
        return h

    @staticmethod
    def backward(ctx, g):
        x, h = ctx.saved_tensors
        a = ctx.a
        dh = -h - torch.pow(x, a - 1.0) * torch.expm1(-x)
        return g * dh, None


def scaled_h(x: torch.Tensor, a: float) -> torch.Tensor:
    r"""``h_a(x) = e^{−x} ∫_0^x s^{a−1}(e^s − 1) ds`` for ``x > 0`` and ``a ∈ (−1, 1]`` (see the module);
    differentiable in ``x`` (first derivatives)."""
    if not -1.0 < a <= 1.0:
        raise ValueError(f"a = {a}: must lie in (-1, 1]")
    return _ScaledH.apply(x, float(a))
