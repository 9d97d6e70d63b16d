"""Linear centred kernel alignment (Kornblith, Norouzi, Lee, Hinton 2019), and its unbiased form.

**Definition.** For centred activations ``X (n × p)`` and ``Y (n × q)`` with linear Gram matrices ``K = XXᵀ``,
``L = YYᵀ``, HSIC's biased estimator is ``tr(KL)/(n − 1)² = ‖XᵀY‖_F²/(n − 1)²`` and

    linear_cka(a, b) = ‖XᵀY‖_F² / (‖XᵀX‖_F ‖YᵀY‖_F).

It is computed in the feature space (``p × q`` products) when ``p q ≤ n²``, else from the ``n × n`` Gram matrices,
on activations centred in two passes and scaled to unit Frobenius norm (CKA does not depend on the scale, and the
scale keeps fourth powers in range). Invariant to orthogonal maps and isotropic scaling of either side and to
translations; not to general invertible maps (that would make it CCA). Symmetric, in ``[0, 1]`` (Cauchy–Schwarz),
exactly 1 for identical representations (and for ``a`` against ``s a O + c``, to round-off).

**Unbiased form.** The biased HSIC is biased upwards by ``O(1/n)``; Song et al. (2012) give the unbiased
estimator on ``K̃ = K − diag(K)``, ``L̃`` alike,

    HSIC₁(K, L) = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)).

It is a U-statistic in differences ``(x_i − x_k)ᵀ(x_j − x_l)`` of the examples, so translations of ``X`` do not
change it; for centred ``X`` (``K1 = 0``), with ``d_x = diag(K)`` (the examples' squared norms),
``1ᵀK̃1 = −‖X‖_F²``, ``K̃1 = −d_x`` and ``tr(K̃L̃) = tr(KL) − d_xᵀd_y``, so

    n(n−3) HSIC₁ = ‖XᵀY‖_F² − n/(n−2) · d_xᵀd_y + ‖X‖_F² ‖Y‖_F² / ((n−1)(n−2)),

which is what is computed (no ``n × n`` matrix). HSIC₁ is an inner product of U-centred Gram matrices (Székely and
Rizzo 2014), so ``unbiased_linear_cka = HSIC₁(K, L)/√(HSIC₁(K, K) HSIC₁(L, L))`` lies in ``[−1, 1]``: near 0 (either
sign) for unrelated representations, where the biased CKA stays well above 0 at small ``n``. Needs ``n ≥ 4``.

Both are differentiable (plain autograd). NaN where a representation is constant (no variance to align).
"""
from __future__ import annotations

from typing import Any

import torch

from learndyn.similarity.centring import centre
from learndyn.similarity.inputs import Pair, check_pair
from learndyn.similarity.products import cross

__all__ = ["linear_cka", "unbiased_linear_cka"]


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Centred ``x`` scaled to unit Frobenius norm per batch element (0/0 = NaN for a constant representation)."""
    xc = centre(x)
    return xc / xc.square().sum(dim=(-2, -1), keepdim=True).sqrt()


def _alignment(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``‖XᵀY‖_F²`` (``= tr(XXᵀ YYᵀ)``) by the cheaper of the feature-space and Gram routes."""
    n, p, q = x.shape[-2], x.shape[-1], y.shape[-1]
    if p * q <= n * n:
        return cross(x, y).square().sum(dim=(-2, -1))
    return ((x @ x.mT) * (y @ y.mT)).sum(dim=(-2, -1))


def _finish(pair: Pair, value: torch.Tensor, low: float) -> torch.Tensor:
    value = value.clamp(low, 1.0)
    same = pair.identical() & torch.isfinite(value)
    return torch.where(same, torch.ones_like(value), value).to(pair.dtype)


def linear_cka(a: Any, b: Any) -> torch.Tensor:
    """Linear CKA of ``a (..., n, p)`` and ``b (..., n, q)``: ``(...)`` in ``[0, 1]`` (the module docstring gives the
    definition). Leading dimensions broadcast; float64 inside, returned in the inputs' floating dtype."""
    pair = check_pair(a, b)
    x, y = _unit(pair.a), _unit(pair.b)
    value = _alignment(x, y) / (_alignment(x, x) * _alignment(y, y)).sqrt()
    return _finish(pair, value, 0.0)


def _hsic1(x: torch.Tensor, y: torch.Tensor, aligned: torch.Tensor) -> torch.Tensor:
    """``n(n−3) HSIC₁`` of centred ``x``, ``y`` given ``aligned = ‖xᵀy‖_F²``."""
    n = x.shape[-2]
    dx, dy = x.square().sum(dim=-1), y.square().sum(dim=-1)
    nx, ny = dx.sum(dim=-1), dy.sum(dim=-1)
    return aligned - n / (n - 2) * (dx * dy).sum(dim=-1) + nx * ny / ((n - 1) * (n - 2))


def unbiased_linear_cka(a: Any, b: Any) -> torch.Tensor:
    """Linear CKA from the unbiased HSIC estimator (Song et al. 2012; Kornblith et al. 2019): ``(...)`` in
    ``[−1, 1]``, for ``a (..., n, p)`` and ``b (..., n, q)`` with ``n ≥ 4``. The module docstring gives the formula."""
    pair = check_pair(a, b, min_examples=4)
    x, y = _unit(pair.a), _unit(pair.b)
    self_x, self_y = _hsic1(x, x, _alignment(x, x)), _hsic1(y, y, _alignment(y, y))
    value = _hsic1(x, y, _alignment(x, y)) / (self_x * self_y).sqrt()
    return _finish(pair, value, -1.0)
