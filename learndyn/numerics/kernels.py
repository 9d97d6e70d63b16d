"""Layer-by-layer composition of infinite-width kernels (NNGP and NTK) over a data set, in float64 round-off.

Per pair of inputs the composition carries ``q1``, ``q2`` (the two variances), ``c`` (the covariance), and,
computed without cancellation, ``det = q1 q2 − c²``, ``dist = q1 + q2 − 2c = E[(u_a − u_b)²]`` and
``diff = q1 − q2``:

    input:       K⁰ = x1 x2ᵀ/d, det⁰ = |x1|² |r|²/d² (r: x2's component orthogonal to x1), dist⁰ = |x1 − x2|²/d,
                 diff⁰ = (x1 − x2)·(x1 + x2)/d
    dense:       q ↦ σ_w² q + σ_b², c ↦ σ_w² c + σ_b², det ↦ σ_w⁴ det + σ_w² σ_b² dist, dist ↦ σ_w² dist,
                 diff ↦ σ_w² diff, Θ ↦ K + σ_w² Θ
    activation:  (T11, T22, T12, Ṫ12, det_T, dist_T, diff_T) from the generated layer function, Θ ↦ Ṫ12 Θ

so the angle between nearly identical (or opposite) inputs, on which the ReLU maps depend through ``√det``,
keeps its relative accuracy through every layer, and the erf layer's ``T12`` is formed from these carried gaps
rather than from ``c`` alone (in the chaotic phase the map of ``c`` multiplies its rounding by ``χ1`` per layer).
Identical rows get ``det = dist = diff = 0`` exactly.
"""
from __future__ import annotations

from typing import Callable

import torch

from learndyn.domain import DomainError
from learndyn.numerics.special import _two_product

__all__ = ["compose", "input_moments", "OVERFLOW", "UNDERFLOW"]

#: largest variance allowed: products of two variances must stay finite
OVERFLOW = 1e150
#: smallest positive variance allowed: products of two variances must stay normal
UNDERFLOW = 1e-150
_CHUNK = 2**22  # entries of one (rows, cols, d) work array


def input_moments(x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(q1 (n1, 1), q2 (1, n2), c, det, dist, diff)`` of ``K⁰ = x1 x2ᵀ/d``; ``det``, ``dist`` and ``diff = q1 − q2``
    without cancellation."""
    d = x1.shape[1]
    a1 = (x1 * x1).sum(1, keepdim=True)
    a2 = (x2 * x2).sum(1, keepdim=True).T
    c = x1 @ x2.T
    det = torch.empty_like(c)
    dist = torch.empty_like(c)
    diff_norms = torch.empty_like(c)
    rows = max(1, _CHUNK // max(1, x2.shape[0] * d))
    for i in range(0, x1.shape[0], rows):
        xa = x1[i:i + rows, None, :]
        xb = x2[None, :, :]
        diff = xa - xb
        dist[i:i + rows] = (diff * diff).sum(-1)
        diff_norms[i:i + rows] = (diff * (xa + xb)).sum(-1)
        norm = a1[i:i + rows].clamp(min=torch.finfo(x1.dtype).tiny)
        xa_full = xa.expand_as(diff)
        r = xb.expand_as(diff)
        for _ in range(2):  # x2 minus its projection on x1, twice; each product split exactly (Dekker), so the
            alpha = (r * xa_full).sum(-1, keepdim=True) / norm[..., None]  # only rounding left is along x1 (removed
            p, e = _two_product(alpha.expand_as(diff), xa_full)            # by the second pass) or relative to r
            r = (r - p) - e
        det[i:i + rows] = a1[i:i + rows] * (r * r).sum(-1)
    same = dist == 0
    c = torch.where(same, a1.expand_as(c), c)  # identical rows: |x1|² itself (no square root to differentiate at 0)
    det = torch.where(same, torch.zeros_like(det), det)
    diff_norms = torch.where(same, torch.zeros_like(diff_norms), diff_norms)
    return a1 / d, a2 / d, c / d, det / d**2, dist / d, diff_norms / d


def _fail(name: str, layers: int, layer: int, what: str, sigma_w2: float, sigma_b2: float, activation: str) -> None:
    raise DomainError(
        f"{name}: parameter 'hidden_layers' = {layers} is outside its domain for sigma_w2 = {sigma_w2!r}, "
        f"sigma_b2 = {sigma_b2!r}, activation = {activation!r}: the kernel {what} float64 at layer {layer} "
        f"(variances must stay within [{UNDERFLOW:g}, {OVERFLOW:g}], where products of two variances are exact); "
        f"ask for fewer than {layer} hidden layers")


def compose(x1: torch.Tensor, x2: torch.Tensor | None, hidden_layers: int, sigma_w2: float, sigma_b2: float,
            activation: str, layer: Callable, output: str, name: str) -> torch.Tensor:
    """The ``(n1, n2)`` NNGP (``output="nngp"``) or NTK (``"ntk"``) of the readout, composing ``layer`` (the
    generated per-activation map ``(q1, q2, c, det, diff) -> (T11, T22, T12, Ṫ12, det_T, dist_T, diff_T)``); raises a
    :class:`DomainError` naming ``hidden_layers`` where a variance would leave float64's safe range."""
    if x2 is None:
        x2 = x1
    if x2.shape[1] != x1.shape[1]:
        raise DomainError(f"{name}: parameter 'x2' has {x2.shape[1]} columns but x1 has {x1.shape[1]}: both must be (n, d)")
    x2 = x2.to(dtype=x1.dtype, device=x1.device)
    w, b = float(sigma_w2), float(sigma_b2)
    q1, q2, c, det, dist, diff = input_moments(x1, x2)

    def dense(q1, q2, c, det, dist, diff):
        return w * q1 + b, w * q2 + b, w * c + b, w * w * det + w * b * dist, w * dist, w * diff

    def check(l, q1, q2, theta):
        q1, q2, theta = q1.detach(), q2.detach(), theta.detach()  # a range check, not part of the graph
        top = max(float(q1.max()), float(q2.max()), float(theta.abs().max()) if theta.numel() else 0.0)
        if not top <= OVERFLOW:
            _fail(name, hidden_layers, l, "overflows", sigma_w2, sigma_b2, activation)
        if min(float(q1.min()), float(q2.min())) < UNDERFLOW:
            _fail(name, hidden_layers, l, "underflows", sigma_w2, sigma_b2, activation)

    q1, q2, c, det, dist, diff = dense(q1, q2, c, det, dist, diff)
    same = dist == 0
    same = same if bool(same.any()) else None
    theta = c
    for l in range(1, hidden_layers + 1):
        check(l, q1, q2, theta)
        c_in, det_in = c, det.clamp(min=0)
        if same is not None:  # identical pairs are evaluated at a harmless point (c = 0, det = q1 q2) and replaced
            c_in = torch.where(same, torch.zeros_like(c), c)  # below: a square root's inf·0 at det = 0 would leak
            det_in = torch.where(same, (q1 * q2).expand_as(det), det_in)  # a NaN into the gradient
        t11, t22, t12, tdot12, det_t, dist_t, diff_t = layer(q1, q2, c_in, det_in, diff)
        if same is not None:  # identical inputs stay identical: no rounding may separate them
            t12 = torch.where(same, t11.expand_as(t12), t12)
            zero = torch.zeros_like(q1)  # Ṫ at identical inputs: the layer on the diagonal (n1, 1), det a constant 0
            tdot12 = torch.where(same, layer(q1, q1, q1, zero, zero)[3].expand_as(tdot12), tdot12)
            det_t = torch.where(same, torch.zeros_like(det_t), det_t)
            dist_t = torch.where(same, torch.zeros_like(dist_t), dist_t)
            diff_t = torch.where(same, torch.zeros_like(diff_t), diff_t)
        theta = tdot12 * theta
        q1, q2, c, det, dist, diff = dense(t11, t22, t12, det_t, dist_t, diff_t)
        theta = c + w * theta
    check(hidden_layers + 1, q1, q2, theta)
    return c if output == "nngp" else theta
