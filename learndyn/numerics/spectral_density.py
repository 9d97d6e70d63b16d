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

import mpmath
import numpy as np
import torch

from learndyn.numerics import double_double as _dd

__all__ = ["bulk_integral", "bulk_density", "bulk_root", "with_edges", "pow_decay", "pow_decay_gap", "NODES", "LEVELS", "nodes"]

#: Gauss–Legendre nodes per panel
NODES = 14
#: geometric levels toward each end (the smallest panel is ``2^{−LEVELS} π/2`` wide)
LEVELS = 52
#: elements of one block (batch × nodes) evaluated at once (bounds memory for phase diagrams)
BLOCK = 1 << 22


def _legendre_nodes(n: int, dps: int = 40) -> tuple[list, np.ndarray]:
    """Gauss–Legendre nodes on ``[−1, 1]`` to ``dps`` digits (numpy's, refined by Newton steps on ``P_n``) and the
    float64 weights."""
    x, w = np.polynomial.legendre.leggauss(n)
    with mpmath.workdps(dps):
        refined = []
        for x0 in x:
            xi = mpmath.mpf(float(x0))
            for _ in range(3):
                xi -= mpmath.legendre(n, xi) / mpmath.diff(lambda z: mpmath.legendre(n, z), xi)
            refined.append(xi)
    return refined, w


@functools.lru_cache(maxsize=None)
def _rule() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(s, s_lo, c, weight)``: ``s = sin²(θ/2)`` at the nodes in double-double (the nodes' positions exact to
    ~1e-32, computed with mpmath), ``c = cos²(θ/2)`` and the weights in ``θ``."""
    x, w = _legendre_nodes(NODES)
    weight = []
    with mpmath.workdps(40):
        quarter = mpmath.pi / 2
        edges = [mpmath.mpf(0)] + [quarter * mpmath.mpf(2) ** (-k) for k in range(LEVELS, -1, -1)]  # 0, …, π/2
        near, far = [], []
        for a, b in zip(edges[:-1], edges[1:]):
            for xi, wi in zip(x, w):
                phi = (a + b) / 2 + (b - a) / 2 * xi  # the distance to the nearest end, in (0, π/2)
                near.append(mpmath.sin(phi / 2) ** 2)
                far.append(mpmath.cos(phi / 2) ** 2)
                weight.append(float((b - a) / 2) * wi)

        def pair(values):
            hi = np.array([float(v) for v in values])
            return hi, np.array([float(v - mpmath.mpf(h)) for v, h in zip(values, hi)])

        (nh, nl), (fh, fl) = pair(near), pair(far)
    # lower half: θ = φ (s = near); upper half: θ = π − φ (s = far, c = near)
    weight = np.array(weight)
    return np.concatenate([nh, fh]), np.concatenate([nl, fl]), np.concatenate([fh, nh]), np.concatenate([weight, weight])


@functools.lru_cache(maxsize=None)
def _nodes(dtype: torch.dtype, device: str) -> tuple[torch.Tensor, ...]:
    """``(s, 1 − s, weight·s(1 − s), s_lo, split(s))`` as tensors."""
    s, s_lo, c, w = _rule()
    as_t = lambda a: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
    return as_t(s), as_t(1 - s), as_t(w * s * c), as_t(s_lo), _dd.split(as_t(s))


def nodes(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(s, 1 − s, weight·s(1 − s))`` of the rule, in ``like``'s dtype and on its device."""
    return _nodes(like.dtype, str(like.device))[:3]


def with_edges(edges: Callable[..., tuple]):
    """Attach to an integrand the function of its parameters that returns the bulk's ``(lower, width)`` in
    double-double (:mod:`~learndyn.numerics.double_double`): :func:`bulk_integral` then forms the nodes
    ``λ = lower + width·s`` in double-double and passes their low parts to the integrand as ``lam_lo``."""
    def attach(integrand):
        integrand.edges = edges
        return integrand
    return attach


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
    s, _, weight, s_lo, s_split = _nodes(lower.dtype, str(lower.device))
    edges = getattr(integrand, "edges", None) if dtype == torch.float64 else None
    shape = lower.shape
    flat = [t.reshape(-1, 1) for t in (lower, width, *args)]
    n = flat[0].shape[0]
    step = max(1, BLOCK // s.numel())
    parts = []
    for i in range(0, max(n, 1), step):
        lo, wd, *a = (t[i:i + step] for t in flat)
        if edges is None:
            values = integrand(lo + wd * s, *a)
        else:  # the nodes in double-double: lr λ exact to ~1e-32 in the decay (1 − lr λ)^k
            lo, wd = (_dd.of(e) for e in edges(*a))
            lam_hi, lam_lo = _dd.add(lo, _dd.mul(wd, (s, s_lo), s_split))
            wd = wd[0]
            values = integrand(lam_hi, *a, lam_lo=lam_lo)
        parts.append((wd * wd * (values * weight).sum(-1, keepdim=True)).squeeze(-1))
    out = torch.cat(parts) if parts else lower.reshape(-1)
    return out.reshape(shape)


def bulk_density(weight: Callable[..., torch.Tensor], lam: torch.Tensor, lower: torch.Tensor, width: torch.Tensor,
                 args: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""``w(λ) √((hi − λ)(λ − lo))`` on ``(lo, hi)`` (``hi = lo + width``) and 0 elsewhere, elementwise; ``weight(lam,
    *args)`` is ``w``. With the weight's edges in double-double (:func:`with_edges`), ``hi − λ`` and ``λ − lo`` are
    formed without the edges' rounding: near an edge the density's condition number in its edge is
    ``hi/(2(hi − λ))`` (1.2e-12 off at α = 1e-3, a thousandth of the width from ``λ₊``, with float64 edges)."""
    tensors = [t for t in (lam, lower, width, *args) if isinstance(t, torch.Tensor)]
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    lam, lower, width, *args = _broadcast(*(torch.as_tensor(t, dtype=dtype, device=tensors[0].device)
                                           for t in (lam, lower, width, *args)))
    edges = getattr(weight, "edges", None) if dtype == torch.float64 else None
    if edges is None:
        above, below = lam - lower, lower + width - lam
    else:
        lo, wd = (_dd.of(e) for e in edges(*args))
        above = _dd.value(_dd.sub(lam, lo))
        below = _dd.value(_dd.sub(_dd.add(lo, wd), lam))
    inside = (above > 0) & (below > 0)
    one = torch.ones_like(above)
    root = torch.sqrt(torch.where(inside, above, one)) * torch.sqrt(torch.where(inside, below, one))
    # the weight at a point inside where λ is outside: its pole (λ = 0) must not make the gradient NaN
    safe = torch.where(inside, lam, lower + width / 2)
    return torch.where(inside, weight(safe, *args) * root, torch.zeros_like(root))


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


def _log_base(x) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(ln|1 − x|, sign(1 − x))`` for ``x = a·(b + b_lo)`` given as ``(a, b)`` or ``(a, b, b_lo)``: the product in
    double-double (``p + e``), then ``log1p(−p) − e/(1 − p)`` for ``p < 1`` (exact for small ``p``) and, for
    ``1 ≤ p ≤ 2``, ``ln|d − e|`` with ``d = 1 − p`` exact (Sterbenz) and ``d − e`` in double-double. Near the stability
    limit ``x → 2`` the decay ``(1 − x)^k`` amplifies an error in its base ``k`` times; this one is ~1e-32."""
    a, b, *low = x
    p, e = _dd.two_prod(*torch.broadcast_tensors(torch.as_tensor(a), torch.as_tensor(b)))
    if low:
        e = e + a * low[0]
    inside = p < 1
    p_in = torch.where(inside, p, torch.zeros_like(p))
    log_in = torch.log1p(-p_in) - e / (1 - p_in)
    bh, bl = _dd.two_sum(1 - p, -e)
    safe = torch.where(inside | (bh == 0), torch.ones_like(bh), bh)
    log_out = torch.log(safe.abs()) + bl / safe
    log_out = torch.where(bh == 0, torch.full_like(bh, -math.inf), log_out)
    sign = torch.where(inside | (bh >= 0), torch.ones_like(bh), -torch.ones_like(bh))
    return torch.where(inside, log_in, log_out), sign


def _parity_sign(sign: torch.Tensor, k) -> torch.Tensor:
    """``sign^k`` for an integer ``k`` (a tensor of floats holding integers, or a Python int)."""
    k = torch.as_tensor(k, dtype=sign.dtype)
    odd = torch.remainder(k, 2) == 1
    return torch.where(odd & (sign < 0), -torch.ones_like(sign), torch.ones_like(sign))


def _times(k, log: torch.Tensor) -> torch.Tensor:
    """``k·log`` with ``0·(−∞) = 0`` (no step from a zero base)."""
    k = torch.as_tensor(k, dtype=log.dtype)
    return torch.where(k == 0, torch.zeros_like(log), k * torch.where(torch.isinf(log) & (k == 0), torch.zeros_like(log), log))


def pow_decay(x, k) -> torch.Tensor:
    r"""``(1 − x)^k`` for ``0 ≤ x < 2`` and integer ``k ≥ 0``: ``exp(k log1p(−x))`` for ``x < 1`` (exact for small
    ``x``), the signed power beyond. ``x`` given as a product's factors ``(lr, λ)`` or ``(lr, λ, λ_lo)`` (a node in
    double-double) is formed without rounding (:func:`_log_base`)."""
    if isinstance(x, tuple):
        log, sign = _log_base(x)
        return _parity_sign(sign, k) * torch.exp(_times(k, log))
    x, k = torch.as_tensor(x), torch.as_tensor(k, dtype=torch.as_tensor(x).dtype)
    safe = torch.where(x < 1, x, torch.zeros_like(x))
    inside = torch.exp(k * torch.log1p(-safe))
    return torch.where(x < 1, inside, torch.pow(1 - x, k))


def pow_decay_gap(x, k) -> torch.Tensor:
    r"""``(1 − x)^k − 1``: ``expm1(k ln|1 − x|)`` where ``(1 − x)^k > 0`` (no cancellation for small ``k x``, nor for
    an even power of a base near ``−1``), ``−|1 − x|^k − 1`` where it is negative (no cancellation either)."""
    if isinstance(x, tuple):
        log, sign = _log_base(x)
        kl = _times(k, log)
        return torch.where(_parity_sign(sign, k) > 0, torch.expm1(kl), -torch.exp(kl) - 1)
    x, k = torch.as_tensor(x), torch.as_tensor(k, dtype=torch.as_tensor(x).dtype)
    safe = torch.where(x < 1, x, torch.zeros_like(x))
    inside = torch.expm1(k * torch.log1p(-safe))
    return torch.where(x < 1, inside, torch.pow(1 - x, k) - 1)
