"""SVCCA (Raghu, Gilmer, Yosinski, Sohl-Dickstein 2017): CCA between the leading singular directions.

**Definition.** Centre each representation; keep the ``k_a`` leading left singular directions of ``A_c`` (those
with the largest singular values) and ``k_b`` of ``B_c``; SVCCA is the mean of the ``c = min(k_a, k_b)`` canonical
correlations between the kept subspaces,

    svcca(a, b) = (1/c) Σ_{i≤c} ρ_i(U_{a,k_a}, U_{b,k_b}).

``keep`` (:mod:`.rank`): an ``int`` keeps that many directions of each (at most its numerical rank), a ``float``
``f ∈ (0, 1]`` the fewest holding a fraction ``f`` of the variance ``Σ σ_i²`` (the paper keeps 99 %), ``None`` or
``1.0`` every direction above the rank tolerance — then SVCCA is the mean canonical correlation, invariant to
invertible linear maps of either side. A truncated SVCCA is not (a linear map changes which directions lead), and
it is only as well defined as the gap ``σ_k − σ_{k+1}`` at the cut: its accuracy is ``ε σ_1/(σ_k − σ_{k+1})``.

Symmetric in ``a, b``; in ``[0, 1]``; exactly 1 for identical representations; NaN where a representation has no
direction above the tolerance (all its neurons constant: there is nothing to correlate).

**google/svcca** has no SVCCA function; its tutorial does the SVD by hand on ``(neurons, datapoints)`` arrays,
keeps a fixed 20 directions after measuring the "fraction of variance" as ``Σ_{i≤20} σ_i / Σ σ_i`` (singular values,
not variances), and passes them to ``get_cca_similarity(..., epsilon=1e-10)`` — so its numbers inherit that
function's covariance inversion (``cca.py``'s docstring); its baseline cell centres over axis 0, the neurons,
instead of the datapoints.
"""
from __future__ import annotations

from typing import Any

import torch

from learndyn.similarity.basis import pair_bases
from learndyn.similarity.cca import canonical_correlations
from learndyn.similarity.inputs import check_keep, check_pair, check_rtol

__all__ = ["svcca"]


def svcca(a: Any, b: Any, keep: int | float | None = 0.99, *, rtol: float | None = None) -> torch.Tensor:
    """SVCCA of ``a (..., n, p)`` and ``b (..., n, q)``: ``(...)``, the mean canonical correlation of the ``keep``
    leading directions (default: 99 % of the variance; the module docstring gives the definition).

    ``rtol``: the rank tolerance (:mod:`learndyn.similarity.rank`). Leading dimensions broadcast; computed in float64
    and returned in the inputs' floating dtype; differentiable."""
    pair = check_pair(a, b)
    keep = check_keep(keep, {"a": pair.a.shape[-1], "b": pair.b.shape[-1]}, pair.examples)
    tol = check_rtol(rtol)
    rho, count = canonical_correlations(*pair_bases(pair.a, pair.b, keep, tol))
    value = rho.sum(dim=-1) / count.to(rho.dtype)  # 0/0 = NaN where a side has nothing above the tolerance
    same = pair.identical() & (count > 0)
    return torch.where(same, torch.ones_like(value), value).to(pair.dtype)
