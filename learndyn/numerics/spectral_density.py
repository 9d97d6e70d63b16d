r"""Integrals against a spectral density with square-root edges, for the generated functions of family 6.

A density ``ρ(λ) = w(λ) √((hi − λ)(λ − lo))`` on ``[lo, hi]`` (Marchenko–Pastur: ``w = 1/(2πλ)``,
``lo, hi = (1 ∓ √α)²``) is integrated against a mode quantity ``f(λ)`` in the angle ``θ`` of
``λ = lo + (hi − lo) sin²(θ/2)``::

    ∫_lo^hi ρ(λ) f(λ) dλ = ∫_0^π (hi − lo)² sin²(θ/2) cos²(θ/2) w(λ) f(λ) dθ,

which removes both square-root edges (the integrand is analytic in ``θ``). What is left to resolve lives at the ends:
the pole of ``w`` at ``λ = 0`` sits a distance ``|1 − √α|/α^{1/4}`` from ``θ = 0`` (at ``α = 1`` the density is
``~ 1/(π√λ)``); at large ``t`` a factor ``e^{−2λt}`` concentrates the integrand within ``θ ~ (√α t)^{−1/2}`` of
``θ = 0``; near gradient descent's stability limit ``(1 − lr λ)^{2k}`` concentrates it at ``θ = π`` too. So the rule
is composite Gauss–Legendre on panels graded geometrically toward both ends (ratio 2, down to ``2^{−LEVELS} π/2``).
On a panel ``[a, 2a]`` a singularity at distance ``≥ a`` lies outside the Bernstein ellipse ``ρ = 3 + √8``, so
``NODES`` points per panel give a relative error below ``ρ^{−2·NODES} ≈ 1e-18``; the first panel ``[0, 2^{−LEVELS} π/2]``
holds less than ``1e-15`` of the integral wherever the integrand is bounded by its mean.

``lo + (hi − lo) s`` and ``hi − λ = (hi − lo)(1 − s)`` are formed from ``s = sin²(θ/2)`` and ``1 − s = cos²(θ/2)``, each
computed from the node's distance to its nearest end, so nothing cancels at either edge. Everything is torch and
differentiable (autograd through the nodes' values).
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import numpy as np
import torch

__all__ = ["bulk_integral", "bulk_root", "pow_decay", "pow_decay_gap", "one_minus_product", "NODES", "LEVELS", "nodes"]

#: Gauss–Legendre nodes per panel
NODES = 14
#: geometric levels toward each end (the smallest panel is ``2^{−LEVELS} π/2`` wide)
LEVELS = 52
#: elements of one block (batch × nodes) evaluated at once (bounds memory for phase diagrams)
BLOCK = 1 << 22


@functools.lru_cache(maxsize=None)
def _rule() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, c, weight)``: ``s = sin²(θ/2)``, ``c = cos²(θ/2)`` at the nodes and the weights in ``θ``."""
    x, w = np.polynomial.legendre.leggauss(NODES)
    edges = [0.0] + [math.pi / 2 * 2.0 ** (-k) for k in range(LEVELS, -1, -1)]  # 0, …, π/4, π/2
    phi, weight = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        phi.append((a + b) / 2 + (b - a) / 2 * x)
        weight.append((b - a) / 2 * w)
    phi, weight = np.concatenate(phi), np.concatenate(weight)  # distances to the nearest end, in (0, π/2)
    near = np.sin(phi / 2) ** 2      # sin² of half the distance to the end
    far = np.cos(phi / 2) ** 2
    # lower half: θ = φ (s = near); upper half: θ = π − φ (s = far, c = near)
    s = np.concatenate([near, far])
    c = np.concatenate([far, near])
    return s, c, np.concatenate([weight, weight])


@functools.lru_cache(maxsize=None)
def _nodes(dtype: torch.dtype, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    s, c, w = _rule()
    as_t = lambda a: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
    return as_t(s), as_t(c), as_t(w * s * c)


def nodes(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(s, 1 − s, weight·s(1 − s))`` of the rule, in ``like``'s dtype and on its device."""
    return _nodes(like.dtype, str(like.device))


def _broadcast(*xs: torch.Tensor) -> list[torch.Tensor]:
    shape = torch.broadcast_shapes(*(x.shape for x in xs))
    return [x.expand(shape) for x in xs]


def bulk_integral(integrand: Callable[..., torch.Tensor], lower: torch.Tensor, width: torch.Tensor,
                  args: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""``∫_lo^hi √((hi − λ)(λ − lo)) g(λ, *args) dλ`` with ``hi = lo + width``, elementwise over the broadcast
    ``lower``, ``width`` and ``args``; ``integrand(lam, *args)`` is ``g = w·f`` (the density's weight times the mode
    quantity), called with every argument given one trailing axis of nodes."""
    tensors = [t for t in (lower, width, *args) if isinstance(t, torch.Tensor)]
    like = tensors[0]
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    lower, width, *args = _broadcast(*(torch.as_tensor(t, dtype=dtype, device=like.device) for t in (lower, width, *args)))
    s, _, weight = nodes(lower)
    shape = lower.shape
    flat = [t.reshape(-1, 1) for t in (lower, width, *args)]
    n = flat[0].shape[0]
    step = max(1, BLOCK // s.numel())
    parts = []
    for i in range(0, max(n, 1), step):
        lo, wd, *a = (t[i:i + step] for t in flat)
        lam = lo + wd * s
        parts.append((wd * wd * (integrand(lam, *a) * weight).sum(-1, keepdim=True)).squeeze(-1))
    out = torch.cat(parts) if parts else lower.reshape(-1)
    return out.reshape(shape)


def bulk_root(slope: Callable[..., torch.Tensor], curvature: Callable[..., torch.Tensor], lower: torch.Tensor,
              width: torch.Tensor, args: Sequence[torch.Tensor], *, iterations: int = 200) -> torch.Tensor:
    r"""The time ``t > 0`` where ``F(t) = ∫ √((hi − λ)(λ − lo)) slope(λ, t, *args) dλ`` changes sign from − to +,
    elementwise (``F`` is ``dE/dt`` of a spectral integral: negative at small ``t``, positive at large ``t``).

    Bracketed from ``t = 1/λ₊`` by factors of 4 until the signs differ (a slope that underflows to 0 counts as late), then bisection in ``ln t``
    until the bracket is within float64 round-off, then one Newton step with ``∂F/∂t`` from ``curvature`` (``∂²f/∂t²``).
    Gradients with respect to ``args`` follow from the implicit function theorem: the returned
    ``t − F(t)/F'(t)`` with ``F'`` detached has ``dt/dp = −(∂F/∂p)/F'`` at the root."""
    lower, width, *args = _broadcast(*(torch.as_tensor(t) for t in (lower, width, *args)))
    detached = [x.detach() for x in (lower, width, *args)]
    lo_, wd_, *a_ = detached

    def F(t):
        return bulk_integral(slope, lo_, wd_, (t, *a_))

    start = 1 / (lo_ + wd_)  # the fastest mode's time scale 1/λ₊
    t_lo, t_hi = start.clone(), start.clone()
    f_hi = F(t_hi)
    for _ in range(600):
        up = f_hi < 0  # 0 is a slope that has decayed below the smallest float: late, not early
        if not bool(up.any()):
            break
        t_hi = torch.where(up, t_hi * 4, t_hi)
        f_hi = torch.where(up, F(t_hi), f_hi)
    f_lo = F(t_lo)
    for _ in range(600):
        down = f_lo >= 0
        if not bool(down.any()):
            break
        t_lo = torch.where(down, t_lo / 4, t_lo)
        f_lo = torch.where(down, F(t_lo), f_lo)
    t_lo = torch.where(t_hi > start, t_hi / 4, t_lo)
    for _ in range(iterations):
        mid = torch.sqrt(t_lo * t_hi)
        if bool(((t_hi - t_lo) <= 4 * torch.finfo(mid.dtype).eps * t_hi).all()):
            break
        f_mid = F(mid)
        t_lo = torch.where(f_mid < 0, mid, t_lo)
        t_hi = torch.where(f_mid < 0, t_hi, mid)
    t = torch.sqrt(t_lo * t_hi)
    slope_at = bulk_integral(curvature, lo_, wd_, (t, *a_))
    t = t - F(t) / slope_at  # a Newton step: the bisection's last bit
    if not any(x.requires_grad for x in (lower, width, *args)):
        return t
    value = bulk_integral(slope, lower, width, (t, *args))
    return t - value / slope_at.detach()


def one_minus_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""``1 − a·b`` with the product's rounding error carried (Dekker's two-product by Veltkamp splitting): near the
    stability limit ``lr λ ≈ 2`` the decay ``(1 − lr λ)^k`` amplifies an error in its base ``k`` times."""
    a, b = torch.broadcast_tensors(torch.as_tensor(a), torch.as_tensor(b))
    split = 134217729.0 if a.dtype == torch.float64 else 4097.0
    ca, cb = split * a, split * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    p = a * b
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return (1 - p) - e


def pow_decay(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""``(1 − x)^k`` for ``0 ≤ x < 2`` and integer ``k ≥ 0``: ``exp(k log1p(−x))`` for ``x < 1`` (exact for small
    ``x``), the signed power beyond."""
    if isinstance(x, tuple):  # (lr, λ): the base 1 − lr λ formed without the product's rounding
        base = one_minus_product(*x)
        x = x[0] * x[1]
        k = torch.as_tensor(k, dtype=base.dtype)
        return torch.where(x < 1, torch.exp(k * torch.log1p(-torch.where(x < 1, x, torch.zeros_like(x)))),
                           torch.sign(base) ** k * base.abs() ** k)
    x, k = torch.as_tensor(x), torch.as_tensor(k, dtype=torch.as_tensor(x).dtype)
    safe = torch.where(x < 1, x, torch.zeros_like(x))
    inside = torch.exp(k * torch.log1p(-safe))
    return torch.where(x < 1, inside, torch.pow(1 - x, k))


def pow_decay_gap(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    r"""``(1 − x)^k − 1``: ``expm1(k log1p(−x))`` for ``x < 1`` (no cancellation for small ``k x``), the power minus
    1 beyond (where it is at most ``−1 + |1 − x|^k`` in size, no cancellation either)."""
    if isinstance(x, tuple):
        return _gap_of_product(x, k)
    x, k = torch.as_tensor(x), torch.as_tensor(k, dtype=torch.as_tensor(x).dtype)
    safe = torch.where(x < 1, x, torch.zeros_like(x))
    inside = torch.expm1(k * torch.log1p(-safe))
    return torch.where(x < 1, inside, torch.pow(1 - x, k) - 1)


def _gap_of_product(x: tuple, k) -> torch.Tensor:
    lr, lam = x
    prod = lr * lam
    k = torch.as_tensor(k, dtype=prod.dtype)
    inside = torch.expm1(k * torch.log1p(-torch.where(prod < 1, prod, torch.zeros_like(prod))))
    return torch.where(prod < 1, inside, pow_decay(x, k) - 1)
