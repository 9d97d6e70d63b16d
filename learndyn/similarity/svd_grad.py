"""The thin SVD ``C = U diag(s) Vᵀ`` with a backward pass that stays finite at repeated singular values.

The singular vectors are differentiable only where the singular values are distinct; torch's backward divides by
``s_j² − s_i²`` for every pair and returns inf/NaN at a tie even when the loss does not depend on the choice of
vectors inside the tied subspace — as for the zero singular values that pad :mod:`.pwcca`'s batches. The backward
here is Townsend's (2016) formula,

    C̄ = U [ (F ∘ (UᵀŪ − ŪᵀU)) S + diag(s̄) + S (F ∘ (VᵀV̄ − V̄ᵀV)) ] Vᵀ
        + (I − UUᵀ) Ū S⁻¹ Vᵀ + U S⁻¹ V̄ᵀ (I − VVᵀ),    F_ij = 1/(s_j² − s_i²)  (i ≠ j),

with ``F_ij = 0`` where ``|s_j² − s_i²| ≤ 64 ε s_max²`` and ``S⁻¹`` read as 0 on zero singular values: the gradient
of the part of the loss that is invariant within tied subspaces. Where the loss is not invariant there (a tie in
PWCCA's canonical correlations), the true gradient does not exist; this one is finite and documented as a choice.
"""
from __future__ import annotations

import torch

__all__ = ["svd"]

EPS = torch.finfo(torch.float64).eps


class _SVD(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c):  # noqa: D401 - autograd signature
        u, s, vh = torch.linalg.svd(c, full_matrices=False)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        v = vh.mT
        s2 = s.square()
        gap = s2[..., None, :] - s2[..., :, None]                     # [i, j] = s_j² − s_i²
        tiny = 64 * EPS * s2.amax(dim=-1, keepdim=True)[..., None].clamp(min=torch.finfo(s.dtype).tiny)
        f = torch.where(gap.abs() > tiny, 1.0 / torch.where(gap.abs() > tiny, gap, torch.ones_like(gap)),
                        torch.zeros_like(gap))
        inv = torch.where(s > 0, 1.0 / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))
        inner = torch.zeros_like(gap)
        out = 0.0
        if gs is not None:
            inner = inner + torch.diag_embed(gs)
        if gu is not None:
            j = u.mT @ gu
            inner = inner + (f * (j - j.mT)) * s[..., None, :]
            out = out + ((gu - u @ j) * inv[..., None, :]) @ vh
        if gvh is not None:
            gv = gvh.mT
            k = v.mT @ gv
            inner = inner + s[..., :, None] * (f * (k - k.mT))
            out = out + (u * inv[..., None, :]) @ (gv - v @ k).mT
        return u @ inner @ vh + out


def svd(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(U, s, Vh)`` of ``c (..., m, n)`` (thin, ``torch.linalg.svd``), differentiable with the backward above."""
    return _SVD.apply(c)
