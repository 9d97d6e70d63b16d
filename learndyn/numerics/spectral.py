r"""Stable, differentiable functions of a symmetric positive semi-definite matrix (the NTK Gram matrix ``Θ``).

MSE gradient flow in function space, with ``s = lr·t/(n k)``:

    f_t(X)  = Y + exp(−sΘ) (f0 − Y),
    f_t(X*) = f0(X*) + Θ_{*X} Θ⁻¹ (I − exp(−sΘ)) (Y − f0),      Θ⁻¹ (I − exp(−sΘ)) = ∫_0^s exp(−uΘ) du.

Values. ``Θ = V Λ Vᵀ`` by ``torch.linalg.eigh`` (of ``(Θ + Θᵀ)/2``), ``λ_i ← max(λ_i, 0)`` (``Θ`` is PSD; round-off
may leave tiny negative eigenvalues), and ``F(Θ) v = V (f(λ) ∘ (Vᵀ v))`` with the scalar functions

    exp:   f(λ) = e^{−sλ},                                    ∂f/∂s = −λ e^{−sλ},
    phi1:  f(λ) = (1 − e^{−sλ})/λ = s·exprel(−sλ) (= s at 0),  ∂f/∂s = e^{−sλ},

``phi1`` as ``s·exprel(−sλ)`` for ``sλ < 1`` and ``−expm1(−sλ)/λ`` otherwise (relative-accurate, → ``1/λ``
without overflow for huge ``sλ``).

Gradients (Daleckii–Krein). For ``L`` with ``G = ∂L/∂F(Θ)``,

    ∂L/∂Θ = V (F^{[1]} ∘ (Vᵀ sym(G) V)) Vᵀ,    F^{[1]}_{ij} = f[λ_i, λ_j] = (f(λ_i) − f(λ_j))/(λ_i − λ_j)  (f'(λ_i) if equal),

never through autograd of ``eigh`` (whose backward divides by ``λ_i − λ_j``). The divided differences are formed
without cancellation; with ``a = max(λ_i, λ_j)``, ``b = min(λ_i, λ_j)``, ``d = a − b ≥ 0`` (exact when ``a ≈ b``):

    exp:   f[a, b] = e^{−sb} (e^{−sd} − 1)/d = −s e^{−sb} exprel(−sd)             (sd < 1),
                                         = e^{−sb} expm1(−sd)/d                    (sd ≥ 1).

    phi1:  with E(u) = e^{−su}, φ(u) = −E[u, 0], so φ[a, b] = −E[a, b, 0]; shifting by b,
           E[a, b, 0] = e^{−sb} E[d, 0, −b] = e^{−sb} (E[d, 0] − E[0, −b])/a = s e^{−sb} (q(sb) − p(sd))/a
           with p(x) = (1 − e^{−x})/x ≤ 1 ≤ q(x) = (e^x − 1)/x; and q(x) − 1 = x h₂(x), 1 − p(x) = x h₂(−x),
           h₂(x) = (e^x − 1 − x)/x² (= 1/2 at 0), so −φ[a, b] = T₁ + T₂, two non-negative terms:

           T₁ = (b/a) s² e^{−sb} h₂(sb)       = (−expm1(−sb) − sb e^{−sb})/(a b)     (second form for sb ≥ 1),
           T₂ = (d/a) s² e^{−sb} h₂(−sd)      = e^{−sb} (s + expm1(−sd)/d)/a         (second form for sd ≥ 1),

           (weights b/a + d/a = 1; at a = 0 take b/a = 1, giving φ'(0) = −s²/2); h₂ by its Taylor series on
           ``|x| < 1``, where each closed form would cancel. Every term is a sum of positive quantities, so
           ``φ[a, b]`` is relative-accurate for equal, nearly equal and zero eigenvalues and for huge ``s``.

    ∂L/∂s = Σ_i (∂f/∂s)(λ_i) (Vᵀ g)_i · (Vᵀ v)_i  (``∂F/∂s`` is diagonal in the eigenbasis), ∂L/∂v = F(Θ) g.

Everything stays on the inputs' device and dtype (float32/float64, CPU/CUDA).
"""
from __future__ import annotations

import math
import weakref

import torch
from torch.autograd.function import once_differentiable

from learndyn.numerics.special import exprel

__all__ = ["spectral_apply", "condition_number", "psd_solve"]

_FUNCTIONS = ("exp", "phi1")

# h₂(x) = Σ_{k≥0} x^k/(k+2)!: 18 terms on |x| < 1 leave a truncation error below 1/20! ≈ 4e-19 (relative to
# h₂ ≥ h₂(−1) = 1/e), below float64 round-off.
_H2_COEFFS = tuple(1.0 / math.factorial(k + 2) for k in range(18))
_XEXP_CLAMP = 1e3  # x e^{−x} = 0 in float64 (and float32) beyond this; clamping keeps x·e^{−x} from inf·0


def _h2_series(x: torch.Tensor) -> torch.Tensor:
    r"""``h₂(x) = (e^x − 1 − x)/x² = Σ_k x^k/(k+2)!`` by its Taylor series (meant for ``|x| ≤ 1``)."""
    acc = torch.full_like(x, _H2_COEFFS[-1])
    for c in reversed(_H2_COEFFS[:-1]):
        acc = acc * x + c
    return acc


def _values(lam: torch.Tensor, s: torch.Tensor, function: str) -> torch.Tensor:
    r"""``f(λ; s)``: ``e^{−sλ}`` (exp) or ``(1 − e^{−sλ})/λ = s·exprel(−sλ)`` (phi1), for ``λ, s ≥ 0``."""
    x = s * lam
    if function == "exp":
        return torch.exp(-x)
    small = x < 1
    series = s * exprel(-torch.where(small, x, torch.zeros_like(x)))
    lam_safe = torch.where(small, torch.ones_like(lam), lam)
    return torch.where(small, series, -torch.expm1(-x) / lam_safe)


def _s_derivative(lam: torch.Tensor, s: torch.Tensor, function: str) -> torch.Tensor:
    r"""``∂f/∂s``: ``−λ e^{−sλ}`` (exp) or ``e^{−sλ}`` (phi1)."""
    e = torch.exp(-(s * lam))
    return -lam * e if function == "exp" else e


def _divided_differences(lam: torch.Tensor, s: torch.Tensor, function: str) -> torch.Tensor:
    r"""``f[λ_i, λ_j]`` (``f'(λ_i)`` on ties), shape ``(m, n, n)`` for ``λ`` of shape ``(n,)``, ``s`` of shape ``(m,)``.

    With ``a = max``, ``b = min``, ``d = a − b``:
    exp: ``−s e^{−sb} exprel(−sd)`` (sd < 1), ``e^{−sb} expm1(−sd)/d`` (sd ≥ 1);
    phi1: ``−(T₁ + T₂)``, ``T₁ = (b/a) s² e^{−sb} h₂(sb)``, ``T₂ = (d/a) s² e^{−sb} h₂(−sd)`` (module docstring)."""
    a = torch.maximum(lam[:, None], lam[None, :])
    b = torch.minimum(lam[:, None], lam[None, :])
    d = a - b
    s = s[:, None, None]
    sb, sd = s * b, s * d
    zero, one = torch.zeros_like(sd), torch.ones_like(sd)
    eb = torch.exp(-sb)
    close = sd < 1
    sd_small = torch.where(close, sd, zero)
    d_safe = torch.where(close, one, d)
    if function == "exp":
        near = -(s * eb) * exprel(-sd_small)
        far = eb * torch.expm1(-sd) / d_safe
        return torch.where(close, near, far)
    # phi1
    a_pos = a > 0
    a_safe = torch.where(a_pos, a, torch.ones_like(a))
    w_b = torch.where(a_pos, b / a_safe, torch.ones_like(a))       # b/a, and 1 at a = b = 0
    w_d = torch.where(a_pos, d / a_safe, torch.zeros_like(a))      # d/a
    low_b = sb < 1
    sb_small = torch.where(low_b, sb, zero)
    t1_near = ((w_b * s) * s) * (torch.exp(-sb_small) * _h2_series(sb_small))
    sb_c = sb.clamp(max=_XEXP_CLAMP)
    ab_safe = torch.where(low_b, one, a * b)
    t1_far = (-torch.expm1(-sb) - sb_c * torch.exp(-sb_c)) / ab_safe
    t1 = torch.where(low_b, t1_near, t1_far)
    t2_near = ((w_d * s) * (s * eb)) * _h2_series(-sd_small)
    t2_far = eb * (s + torch.expm1(-sd) / d_safe) / torch.where(close, one, a_safe)
    t2 = torch.where(close, t2_near, t2_far)
    return -(t1 + t2)


def _sym(x: torch.Tensor) -> torch.Tensor:
    return (x + x.mT) / 2


class _SpectralApply(torch.autograd.Function):
    r"""``(Θ, s, v) ↦ F(Θ; s_m) v`` for ``s`` of shape ``(m,)``, ``v`` of shape ``(n, k)``; output ``(m, n, k)``.

    Backward: ``∂L/∂v = Σ_m F_m g_m``, ``∂L/∂s_m = Σ_i ∂_s f(λ_i; s_m) (Vᵀ g_m ∘ Vᵀ v)_{i·}``,
    ``∂L/∂Θ = V (Σ_m F^{[1]}_m ∘ sym((Vᵀ g_m)(Vᵀ v)ᵀ)) Vᵀ`` (Daleckii–Krein)."""

    @staticmethod
    def forward(ctx, theta, s, v, function):
        lam, vecs = torch.linalg.eigh(theta)
        lam = lam.clamp(min=0)
        f = _values(lam[None, :], s[:, None], function)           # (m, n)
        proj = vecs.mT @ v                                          # Vᵀ v, (n, k)
        out = vecs @ (f[..., None] * proj)                          # (m, n, k)
        ctx.function = function
        ctx.save_for_backward(lam, vecs, s, proj, f)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        lam, vecs, s, proj, f = ctx.saved_tensors
        function = ctx.function
        g_hat = vecs.mT @ grad                                      # Vᵀ g_m, (m, n, k)
        grad_theta = grad_s = grad_v = None
        if ctx.needs_input_grad[2]:
            grad_v = vecs @ (f[..., None] * g_hat).sum(0)
        if ctx.needs_input_grad[1]:
            grad_s = (_s_derivative(lam[None, :], s[:, None], function) * (g_hat * proj).sum(-1)).sum(-1)
        if ctx.needs_input_grad[0]:
            dd = _divided_differences(lam, s, function)            # (m, n, n)
            inner = (dd * _sym(g_hat @ proj.mT)).sum(0)             # Σ_m F^{[1]}_m ∘ sym(Vᵀ G_m V)
            grad_theta = _sym(vecs @ inner @ vecs.mT)
        return grad_theta, grad_s, grad_v, None


def spectral_apply(theta: torch.Tensor, s: torch.Tensor, v: torch.Tensor, function: str) -> torch.Tensor:
    r"""``F(Θ; s) @ v`` for symmetric PSD ``Θ`` ``(n, n)``, ``v`` ``(n, k)`` (or ``(n,)``), ``s ≥ 0`` of shape ``()`` or ``(m,)``.

    ``"exp"``:  ``F = exp(−sΘ)``;
    ``"phi1"``: ``F = Θ⁻¹(I − exp(−sΘ)) = ∫_0^s exp(−uΘ) du`` (entire in ``Θ``: ``s·I`` at ``Θ = 0``).

    Computed as ``V (f(λ) ∘ (Vᵀ v))`` from ``eigh((Θ + Θᵀ)/2)`` with ``λ`` clamped at ``≥ 0``; differentiable in
    ``Θ``, ``s`` and ``v`` with finite gradients at repeated, nearly repeated and zero eigenvalues and for huge
    ``s`` (Daleckii–Krein with cancellation-free divided differences, see the module docstring). Returns
    ``(n, k)`` for scalar ``s``, ``(m, n, k)`` for 1-D ``s`` (the ``k`` axis dropped for 1-D ``v``). First derivatives
    only (the backward is ``once_differentiable``)."""
    if function not in _FUNCTIONS:
        raise ValueError(f"function must be one of {_FUNCTIONS}, not {function!r}")
    if theta.dim() != 2 or theta.shape[0] != theta.shape[1]:
        raise ValueError(f"theta must be a square matrix, got shape {tuple(theta.shape)}")
    s = torch.as_tensor(s, device=theta.device).to(theta.dtype)
    if s.dim() > 1:
        raise ValueError(f"s must be 0-d or 1-D, got shape {tuple(s.shape)}")
    vector = v.dim() == 1
    v2 = v[:, None] if vector else v
    out = _SpectralApply.apply(_sym(theta), s.reshape(-1), v2, function)
    if vector:
        out = out[..., 0]
    return out[0] if s.dim() == 0 else out


def condition_number(theta: torch.Tensor) -> torch.Tensor:
    r"""``κ(Θ) = λ_max/λ_min`` of symmetric PSD ``Θ`` by ``eigvalsh`` (``inf`` where ``λ_min ≤ 0``), a 0-d tensor.

    Differentiable where ``λ_min`` and ``λ_max`` are simple: ``dκ = (v_maxᵀ dΘ v_max)/λ_min −
    κ (v_minᵀ dΘ v_min)/λ_min`` (the eigenvalue-only backward of ``eigvalsh`` has no ``1/(λ_i − λ_j)``)."""
    lam = torch.linalg.eigvalsh(_sym(theta))
    lo, hi = lam[0], lam[-1]
    pos = lo > 0
    ratio = hi / torch.where(pos, lo, torch.ones_like(lo))
    return torch.where(pos, ratio, torch.full_like(ratio, math.inf))


def _eigh_pinv_factors(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(V, 1/λ)`` of ``Θ = V Λ Vᵀ`` with ``1/λ → 0`` for ``λ ≤ n·eps·λ_max`` (pseudo-inverse cut-off)."""
    lam, vecs = torch.linalg.eigh(theta)
    cut = theta.shape[-1] * torch.finfo(theta.dtype).eps * lam[-1].clamp(min=0)
    keep = lam > cut
    inv = torch.where(keep, 1 / torch.where(keep, lam, torch.ones_like(lam)), torch.zeros_like(lam))
    return vecs, inv


#: the last Cholesky factor of a matrix's symmetric part that a domain check computed: ``(weak reference to the
#: matrix, its version counter, the factor)``; a solve with that very matrix, unchanged since, reuses it
_LAST_FACTOR: list = [None]


def remember_cholesky(matrix: torch.Tensor, factor: torch.Tensor) -> None:
    """Keep ``factor`` (the Cholesky factor of ``(matrix + matrixᵀ)/2``) for :func:`psd_solve` with ``matrix``."""
    _LAST_FACTOR[0] = (weakref.ref(matrix), matrix._version, factor)


def _recalled_cholesky(matrix: torch.Tensor) -> torch.Tensor | None:
    entry = _LAST_FACTOR[0]
    if entry is not None and entry[0]() is matrix and entry[1] == matrix._version:
        return entry[2]
    return None


class _PsdSolve(torch.autograd.Function):
    r"""``x = Θ⁻¹ r``; backward ``∂L/∂r = Θ⁻¹ g``, ``∂L/∂Θ = −sym((Θ⁻¹ g) xᵀ)``, reusing the forward factorisation
    (or one computed for the same matrix by its domain check)."""

    @staticmethod
    def forward(ctx, theta, rhs, factor=None):
        chol, info = (factor, 0) if factor is not None else torch.linalg.cholesky_ex(theta)
        if int(info) == 0:
            ctx.mode = "chol"
            inv = torch.empty(0, dtype=theta.dtype, device=theta.device)
            x = torch.cholesky_solve(rhs, chol)
            ctx.save_for_backward(chol, inv, x)
        else:
            ctx.mode = "eigh"
            vecs, inv = _eigh_pinv_factors(theta)
            x = vecs @ (inv[:, None] * (vecs.mT @ rhs))
            ctx.save_for_backward(vecs, inv, x)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        first, inv, x = ctx.saved_tensors
        if ctx.mode == "chol":
            y = torch.cholesky_solve(grad, first)
        else:
            y = first @ (inv[:, None] * (first.mT @ grad))
        grad_theta = -_sym(y @ x.mT) if ctx.needs_input_grad[0] else None
        return grad_theta, (y if ctx.needs_input_grad[1] else None), None


def psd_solve(theta: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    r"""``x = Θ⁻¹ rhs`` for symmetric positive definite ``Θ`` — the ``s → ∞`` limit of ``phi1``,
    ``lim_{s→∞} Θ⁻¹(I − exp(−sΘ)) rhs = Θ⁻¹ rhs``; ``rhs`` of shape ``(n,)`` or ``(n, k)``.

    Cholesky solve of ``(Θ + Θᵀ)/2`` where the factorisation succeeds (backward stable: relative error
    ``≲ n·eps·κ(Θ)``); otherwise (numerically singular or indefinite ``Θ``) ``V Λ⁺ Vᵀ rhs`` from ``eigh``, the
    pseudo-inverse with eigenvalues ``λ ≤ n·eps·λ_max`` dropped — the ``s → ∞`` limit of ``Θ_{*X} phi1(Θ)``
    for a PSD joint kernel, whose null vectors of ``Θ`` are annihilated by ``Θ_{*X}``. Differentiable:
    ``∂L/∂rhs = Θ⁻¹ g``, ``∂L/∂Θ = −sym((Θ⁻¹ g) xᵀ)`` (on the pseudo-inverse branch: the derivative restricted to
    the kept eigenspace)."""
    vector = rhs.dim() == 1
    r = rhs[:, None] if vector else rhs
    factor = _recalled_cholesky(theta)
    if factor is not None and (factor.dtype != theta.dtype or factor.device != theta.device):
        factor = None
    x = _PsdSolve.apply(_sym(theta), r, factor)
    return x[:, 0] if vector else x
