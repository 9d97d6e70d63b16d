"""Canonical correlation analysis of two representations, from orthonormal bases (never inverted covariances).

**Definition.** For centred activations ``A_c (n × p)`` and ``B_c (n × q)`` of the same ``n`` examples, the first
canonical correlation is ``ρ_1 = max corr(A_c w, B_c z)`` over weight vectors ``w, z``; each next one maximises the
same over variates uncorrelated with the earlier ones. Equivalently, with the covariances ``Σ_aa, Σ_ab, Σ_bb``,
``ρ_i`` are the singular values of ``Σ_aa^{-1/2} Σ_ab Σ_bb^{-1/2}`` — the route of google/svcca's ``cca_core``,
which forms and inverts covariances. Here they are the cosines of the principal angles between the column spaces:

    ρ_i = σ_i(Q_aᵀ Q_b),    span(Q_a) = span(A_c),  Q_aᵀ Q_a = I,

(Björck & Golub 1973) with ``Q_a, Q_b`` from :mod:`.basis` (QR/SVD of the centred activations, the ill-conditioned
directions refined in double-double). There are ``min(r_a, r_b)`` of them (``r`` the numerical ranks, :mod:`.rank`);
``cca`` returns ``min(n, p, q)`` values, descending, the ones past ``min(r_a, r_b)`` exactly 0. ``Σ_i ρ_i²`` is the
number of dimensions the two spaces share in the Frobenius sense, ``tr(Π_a Π_b)``.

**Accuracy** (tests/test_similarity_reference.py, against 50-digit mpmath): within ``1e-10`` absolute — in
practice ``≤ 8e-16`` (PWCCA and CKA ``≤ 7e-15`` relative) — on activations with condition numbers up to
``1e8``, near-collinear neurons (``a₂ = a₁ + 1e-8 z``), constant and duplicated neurons, means ``10⁴`` times the
spread, and more neurons than examples.
**Invariances:** exactly those of the definition — invertible linear maps and translations of either
representation, the order of the neurons, exchanging ``a`` and ``b``.
**Gradients:** of the singular values of ``Q_aᵀQ_b`` (finite also at repeated values, where only their sum is
differentiable and torch returns one valid choice) through :mod:`.basis`.

**google/svcca** (``cca_core.get_cca_similarity``, read at commit 1f3fbf1; tests/test_similarity_google.py
re-implements its arithmetic and has the evidence): on well-conditioned activations it agrees (``3e-14`` at
``n = 2000``, 50 against 40 neurons). It forms covariances, which squares the condition number, then inverts them
(``pinv``) and takes an eigen square root: against the 50-digit reference, at ``κ = 1e2`` it is off by up to
``5e-12``, at ``κ = 1e4`` by ``2e-6``…``1.3e-5``, and at ``κ = 1e6``–``1e8`` it raises ``LinAlgError`` (the root of
a negative round-off eigenvalue is NaN) — learndyn: ``≤ 8e-16`` throughout. Its ``epsilon`` (``1e-10`` in its
tutorial) regularises by ``+ε I`` (errors ``6e-8`` at ``κ = 1e2``, ``7e-4`` at ``1e4``, coefficients above 1 at
``1e8``) and *drops* neurons whose variance is below ``ε`` times the largest (two of six neurons spread over eight
decades: coefficients off by 0.49). A constant neuron with ``epsilon=0`` raises ``LinAlgError`` in 8 of 12 random
draws. More neurons than examples fails its orientation assertion (its layout is ``(neurons, datapoints)``, the
transpose of this one). Its ``"mean"`` averages only the leading coefficients that hold 98 % of their sum
(0.645 where the mean of all 40 is 0.543); its tutorial uses ``np.mean(cca_coef1)``, the mean CCA.
"""
from __future__ import annotations

from typing import Any

import torch

from learndyn.similarity.basis import PrincipalBasis, pair_bases
from learndyn.similarity.inputs import Pair, check_pair, check_rtol
from learndyn.similarity.products import cross

__all__ = ["cca", "canonical_correlations"]


def canonical_correlations(basis_a: PrincipalBasis, basis_b: PrincipalBasis) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ρ, count)``: the singular values of ``Q_aᵀ Q_b`` clamped to ``[0, 1]`` with those past
    ``count = min(kept_a, kept_b)`` set to 0, and ``count`` (both batch-broadcast)."""
    rho = torch.linalg.svdvals(cross(basis_a.q, basis_b.q)).clamp(0.0, 1.0)
    count = torch.minimum(basis_a.kept, basis_b.kept)
    index = torch.arange(rho.shape[-1], device=rho.device)
    return torch.where(index < count[..., None], rho, torch.zeros_like(rho)), count


def identical_coefficients(pair: Pair, rho: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``rho`` with the pairs of identical representations set to exactly 1 on their ``count`` coefficients."""
    same = pair.identical()
    if not bool(same.any()):
        return rho
    index = torch.arange(rho.shape[-1], device=rho.device)
    ones = (index < count[..., None]).to(rho.dtype)
    return torch.where(same[..., None], ones, rho)


def cca(a: Any, b: Any, *, rtol: float | None = None) -> torch.Tensor:
    """Canonical correlations of ``a (..., n, p)`` and ``b (..., n, q)``: ``(..., min(n, p, q))``, descending.

    ``rtol`` is the rank tolerance (default ``max(n, neurons) · ε``, :mod:`learndyn.similarity.rank`); the
    coefficients past ``min(rank_a, rank_b)`` are 0; identical representations give exactly 1 (on their rank).
    Leading dimensions broadcast; computed in float64 on ``a``'s device and returned in the inputs' floating dtype.
    The module docstring gives the definition, the accuracy and the comparison with google/svcca."""
    pair = check_pair(a, b)
    tol = check_rtol(rtol)
    rho, count = canonical_correlations(*pair_bases(pair.a, pair.b, None, tol))
    size = min(pair.examples, pair.a.shape[-1], pair.b.shape[-1])
    rho = torch.nn.functional.pad(rho, (0, size - rho.shape[-1]))
    return identical_coefficients(pair, rho, count).to(pair.dtype)
