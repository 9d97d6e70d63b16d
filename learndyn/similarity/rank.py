"""The rank tolerance, and how many directions a representation keeps.

**Rank tolerance.** A singular value ``σ_i`` of the centred activations ``A_c (n × p)`` counts as zero when

    σ_i ≤ rtol · σ_max,   rtol = max(n, p) · ε   (ε = 2^-52, float64)

by default — LAPACK's and ``numpy.linalg.matrix_rank``'s convention: it is the size of the round-off that any
float64 factorisation of ``A_c`` leaves in its singular values. So constant neurons (exact zero columns after
:func:`~learndyn.similarity.centring.centre`), duplicated or exactly collinear neurons, and the ``p − n + 1``
directions that ``n < p + 1`` examples cannot span, all drop out; a direction with ``σ_i/σ_max`` above about
``1e-14`` (condition numbers up to ``1e13`` at ``n ≤ 100``) is kept. Pass ``rtol`` to choose another cut.

**Kept directions** (``keep`` of :func:`~learndyn.similarity.svcca`): ``None`` keeps every direction above the
tolerance (the numerical rank ``r``); an ``int`` keeps ``min(keep, r)``; a ``float`` ``f ∈ (0, 1]`` keeps the fewest
leading directions whose variance ``Σ_{i≤k} σ_i²`` is at least ``f Σ_{i≤r} σ_i²`` (``f = 1`` keeps ``r``). Note that
google/svcca's tutorial measures the fraction with ``Σ σ_i`` (singular values, not variances): its "99 %" keeps more
directions than 99 % of the variance needs.
"""
from __future__ import annotations

import torch

__all__ = ["default_rtol", "numerical_rank", "kept_directions"]

EPS = torch.finfo(torch.float64).eps


def default_rtol(examples: int, neurons: int) -> float:
    """``max(examples, neurons) · ε`` (float64)."""
    return max(examples, neurons) * EPS


def numerical_rank(singular_values: torch.Tensor, rtol: float) -> torch.Tensor:
    """``(...,)`` int64: how many of the descending ``singular_values (..., k)`` exceed ``rtol · σ_max``."""
    return (singular_values > rtol * singular_values[..., :1]).sum(dim=-1)


def kept_directions(singular_values: torch.Tensor, rank: torch.Tensor, keep: int | float | None) -> torch.Tensor:
    """``(...,)`` int64: the number of leading directions kept (the module docstring gives the rule)."""
    if keep is None:
        return rank
    if isinstance(keep, int):
        return rank.clamp(max=keep)
    if keep >= 1.0:
        return rank
    index = torch.arange(singular_values.shape[-1], device=singular_values.device)
    variance = torch.where(index < rank[..., None], singular_values.square(), torch.zeros_like(singular_values))
    cumulative = variance.cumsum(dim=-1)
    enough = cumulative >= keep * cumulative[..., -1:]
    fewest = (~enough).sum(dim=-1) + 1  # cumulative is nondecreasing: the first index that holds enough, plus one
    return torch.minimum(fewest, rank)
