"""Projection-weighted CCA (Morcos, Raghu, Bengio 2018): canonical correlations weighted by how much of ``a`` their
canonical variates account for.

**Definition.** With the canonical correlations ``ρ_i`` of ``a`` and ``b`` (:mod:`.cca`), ``i ≤ c = min(r_a, r_b)``,
and ``a``'s canonical variates ``h_i = Q_a u_i`` — unit vectors over the examples, orthogonal, ``u_i`` the left
singular vectors of ``Q_aᵀQ_b`` — the weight of ``ρ_i`` is how much of ``a``'s centred neurons ``a_j`` lies along
``h_i``:

    α̃_i = Σ_j |⟨h_i, a_j⟩|,   α_i = α̃_i / Σ_{k≤c} α̃_k,   pwcca(a, b) = Σ_{i≤c} α_i ρ_i.

Asymmetric by definition (``pwcca(a, b) ≠ pwcca(b, a)``): the weights come from ``a``. In ``[0, 1]``; exactly 1
for identical representations; invariant to translations, permutations and sign flips of ``a``'s neurons and to
invertible maps of ``b`` — not to mixing ``a``'s neurons (the L1 sum over neurons is not rotation invariant). Where
canonical correlations repeat, the ``h_i`` inside the tie are any rotation of each other and ``Σ_j |⟨h_i, a_j⟩|``
depends on that choice: PWCCA is then not a function of the data (identical representations excepted, where every
``ρ_i = 1``). Its gradient exists where the ``ρ_i`` are distinct; :mod:`.svd_grad` keeps it finite at ties.

**google/svcca** (``pwcca.compute_pwcca``, read at commit 1f3fbf1; evidence in tests/test_similarity_google.py)
differs from this definition in four ways, so its values differ even on centred, well-conditioned activations
(0.726 where the definition — learndyn, within ``1e-13`` of the 50-digit reference — gives 0.607, the mean CCA
being 0.604; shifting ``a``'s neurons by constants moves google's value to 0.665): (1) its canonical variates are
``coef_x · (acts − means) + means`` without the ``Σ_xx^{-1/2}`` that turns the SVD's vectors into weights on
neurons (``cca_core``'s own ``cca_dirns1`` include it), then orthonormalised by a QR in neuron order — a basis of
the whole span, not the canonical variates; (2) its
weights project the *uncentred* activations, so adding a constant to a neuron changes the result; (3) it weights by
whichever side has fewer neurons, not by ``a``; (4) when ``acts1`` has more neurons than ``acts2`` it indexes
``acts1`` with ``acts2``'s neuron mask and fails (an ``IndexError``). On top come ``cca_core``'s covariance errors.
"""
from __future__ import annotations

from typing import Any

import torch

from learndyn.similarity.basis import pair_bases
from learndyn.similarity.inputs import Pair, check_pair, check_rtol
from learndyn.similarity.products import cross
from learndyn.similarity.svd_grad import svd

__all__ = ["pwcca", "pwcca_weights"]


def _weights(pair: Pair, tol: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    basis_a, basis_b = pair_bases(pair.a, pair.b, None, tol)
    u, s, _ = svd(cross(basis_a.q, basis_b.q))
    count = torch.minimum(basis_a.kept, basis_b.kept)
    index = torch.arange(s.shape[-1], device=s.device)
    used = index < count[..., None]
    rho = torch.where(used, s.clamp(0.0, 1.0), torch.zeros_like(s))
    projections = u.mT @ (basis_a.q.mT @ basis_a.centred)          # ⟨h_i, a_j⟩, (..., c0, p)
    raw = torch.where(used, projections.abs().sum(dim=-1), torch.zeros_like(s))
    return raw / raw.sum(dim=-1, keepdim=True), rho


def pwcca_weights(a: Any, b: Any, *, rtol: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(α, ρ)``, both ``(..., min(n, p, q))`` in float64: the projection weights (summing to 1 over the first
    ``min(rank_a, rank_b)``, 0 after) and the canonical correlations."""
    pair = check_pair(a, b)
    alpha, rho = _weights(pair, check_rtol(rtol))
    size = min(pair.examples, pair.a.shape[-1], pair.b.shape[-1])
    pad = (0, size - rho.shape[-1])
    return torch.nn.functional.pad(alpha, pad), torch.nn.functional.pad(rho, pad)


def pwcca(a: Any, b: Any, *, rtol: float | None = None) -> torch.Tensor:
    """PWCCA of ``a (..., n, p)`` and ``b (..., n, q)``, weighted by ``a``: ``(...)`` (the module docstring gives the
    definition). ``rtol``: the rank tolerance (:mod:`learndyn.similarity.rank`). Leading dimensions broadcast;
    float64 inside, returned in the inputs' floating dtype; differentiable where the canonical correlations are
    distinct. NaN where a representation has no direction above the tolerance."""
    pair = check_pair(a, b)
    alpha, rho = _weights(pair, check_rtol(rtol))
    value = (alpha * rho).sum(dim=-1)
    same = pair.identical() & torch.isfinite(value)
    return torch.where(same, torch.ones_like(value), value).to(pair.dtype)
