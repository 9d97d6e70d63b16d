r"""The margin of a classification mode over time (family 5): the inverse of the time to a margin, exact and
differentiable.

With ``a = 2/L − 1``, ``κ = p r^{2/L}`` and the mode equation ``dm/dt = L κ m^{1−a} g(m)``:

* **hinge** (``g = 1[m < 1]``): the power law ``m^a = m0^a + a L κ t`` (``m0 e^{2κt}`` at depth 2), written
  ``m = m0 exp(W log1prel(a W))``, ``W = L κ t/m0^a`` (exact for every ``a``, also ``a = 0``), up to the stop
  ``t_stop = m0^a ln(1/m0) exprel(a ln(1/m0))/(Lκ)``; from there on exactly 1;
* **logistic** (``g = σ(−m)``): depth 1 in closed form, ``m = m0 + δ`` with ``δ + e^{m0} expm1(δ) = κt`` (SymPy's
  ``m = κt + C − W₀(e^{κt + C})``, ``C = m0 + e^{m0}``, without its cancellation: Newton from ``log1p(κt e^{−m0})``,
  which lies above the root, so the convex equation converges monotonically); deeper, the root of
  :func:`~learndyn.numerics.margin_time.logistic_margin_time` ``= t`` in ``m`` (:func:`~learndyn.numerics.roots.solve_increasing`).

At depth ``L ≥ 3`` from a tiny start the inverse is ill conditioned (``κ_c = t m′/m ~ (m/m0)^{−a}``, up to ~1e11):
where ``κ_c > 10`` the value is recomputed from ``t − C`` with the ``m0``-dependent constant ``C`` from mpmath
(:mod:`learndyn.numerics.margin_constants`; hinge ``C = t∞``, logistic ``C = [2m0^a/|a| − H_a(m0)]/(Lκ)``), which leaves
a well-conditioned equation: hinge ``m = (|a| L κ (t∞ − t))^{1/a}``, logistic ``[H_a(m) − 2 m^a/|a|]/(Lκ) = t − C``.

Gradients, both losses: one implicit-function step ``m − (t(m) − t)/t′(m)`` whose value is detached, so
``∂m/∂θ = −(∂t/∂θ)/(∂t/∂m)``, with ``∂t/∂m0 = −1/rate(m0)`` in closed form and ``∂t/∂p = −t/p``, ``∂t/∂r = −(2/L) t/r``
taken at the given ``t`` (autograd through the power law or through ``t(m0 → m)`` at the float root loses up to all
digits: ``W log1prel(aW)`` cancels from a tiny ``m0``, and where ``m`` hardly leaves ``m0`` the float root's time is not
``t``); hinge: 0 from the stop on. The solves run in float64 whatever the dtype.
"""
from __future__ import annotations

import math

import torch

from learndyn.numerics.exp_integral import scaled_h
from learndyn.numerics.margin_constants import hinge_blowup_time, logistic_shift
from learndyn.numerics.margin_time import (
    _hinge_value, _scale_up, as_like, check_depth, hinge_inverse_rate, hinge_margin_time, inverse_rate, log_rate,
    logistic_margin_time,
)
from learndyn.numerics.roots import solve_increasing
from learndyn.numerics.special import log1prel

__all__ = ["hinge_margin_trajectory", "hinge_stop_time", "logistic_margin_trajectory"]

_ILL = 10.0          # the condition number above which a deep trajectory is refined
_NEWTON_MAX = 60


def hinge_stop_time(m0: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``t_stop = m0^a ln(1/m0) exprel(a ln(1/m0))/(Lκ)``, the time the hinge margin reaches 1 (``0 < m0 ≤ 1``): the
    value of :func:`~learndyn.numerics.margin_time.hinge_margin_time` at ``m = 1`` to the last bit (the generated
    ``hinge_stopping_time``), so that the margin is exactly 1 from that float time on (no autograd)."""
    return _hinge_value(m0, torch.ones_like(m0), p, r, depth)


def _rows(mask: torch.Tensor, *tensors: torch.Tensor):
    idx = mask.reshape(-1).nonzero().squeeze(-1)
    return idx, [x.reshape(-1)[idx] for x in tensors]


def hinge_margin_trajectory(t: torch.Tensor, m0: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``m(t)`` under hinge loss at depth ``L`` (``t ≥ 0``, ``0 < m0 ≤ 1``, ``p, r > 0``): exactly 1 from
    :func:`hinge_stop_time` on. Broadcasts; keeps the dtype."""
    L = check_depth(depth)
    a = 2.0 / L - 1.0
    t, m0, p, r = torch.broadcast_tensors(*as_like(t, m0, p, r))
    with torch.no_grad():
        t_, m0_, p_, r_ = (x.detach() for x in (t, m0, p, r))
        stop = hinge_stop_time(m0_, p_, r_, L)
        te = torch.minimum(t_, stop)
        W = torch.exp(log_rate(p_, r_, L) - a * torch.log(m0_)) * te          # L κ t/m0^a, held at the stop
        m = torch.clamp(m0_ * torch.exp(W * log1prel(a * W)), max=1.0)
        moving = t_ < stop
        m = torch.where(moving, m, torch.ones_like(m))
        if L >= 3:
            ill = (1.0 + a * W < 1.0 / _ILL) & moving & (t_ > 0)      # from the stop on the margin is exactly 1
            if bool(ill.any()):
                idx, (ti, m0i, pi, ri) = _rows(ill, t_, m0_, p_, r_)
                tinf = hinge_blowup_time(m0i, pi, ri, L)
                t64 = ti.to(torch.float64)
                rest = ((tinf[:, 0] - t64) + tinf[:, 1]) + tinf[:, 2]           # t∞ − t, to ~eps relative
                ok = rest > 0
                lr = log_rate(pi.to(torch.float64), ri.to(torch.float64), L)
                safe = torch.where(ok, rest, torch.ones_like(rest))
                refined = torch.exp((math.log(-a) + lr + torch.log(safe)) / a)
                refined = torch.where(ok, torch.clamp(refined, max=1.0), torch.ones_like(refined))
                flat = m.reshape(-1).clone()
                flat[idx] = refined.to(m.dtype)
                m = flat.reshape(m.shape)
        # the rate at the value (below the stop; m0 elsewhere, where the derivatives are 0, to keep them finite)
        at = torch.where(moving, m, m0_)
        rate = 1.0 / hinge_inverse_rate(at, p_, r_, L)
    if not any(x.requires_grad for x in (t, m0, p, r)):
        return m
    # derivatives by the implicit function theorem, from t(m0 → m) = t: ∂m/∂t = rate(m), ∂m/∂m0 = rate(m)/rate(m0),
    # ∂m/∂p = (t/p) rate(m), ∂m/∂r = (2/L)(t/r) rate(m) (the time scales as 1/(p r^{2/L})); 0 from the stop on
    corr = (t - hinge_margin_time(m0, at, p_, r_, L)
            + t_ * (torch.log(p) - torch.log(p_) + (2.0 / L) * (torch.log(r) - torch.log(r_)))) * rate
    return m + torch.where(moving, corr - corr.detach(), torch.zeros_like(corr))


def _depth_one(t, m0, p, r):
    """``m0 + δ``, ``δ e^{−m0} + expm1(δ) = κ t e^{−m0}`` by Newton from above (float64, no autograd)."""
    c = p * r * r * t * torch.exp(-m0)                      # κ t e^{−m0}
    em = torch.exp(-m0)
    d = torch.log1p(c)                                      # above the root: the equation is convex and increasing
    for _ in range(_NEWTON_MAX):
        f = d * em + torch.expm1(d) - c
        step = f / (em + torch.exp(d))
        new = torch.clamp(d - step, min=0.0)
        done = (new - d).abs() <= 2 * torch.finfo(d.dtype).eps * new.abs()
        d = new
        if bool(done.all()):
            break
    return m0 + d


def _shifted_equation(L: int):
    r"""``G(m) = τ``, ``G = A − B``, ``A = H_a(m)/(Lκ)``, ``B = 2 m^a/(|a| L κ)``, as the increasing, nearly linear
    ``ln(A + max(−τ, 0)) − ln(B + max(τ, 0)) = 0`` (in logarithms: no overflow, and Newton is fast for large ``m``)."""
    a = 2.0 / L - 1.0

    def equation(m, rest, p, r):
        lr = log_rate(p, r, L)
        log_a = m - lr + torch.log(scaled_h(m, a))
        log_b = math.log(2.0 / -a) + a * torch.log(m) - lr
        neg = torch.clamp(-rest, min=0.0)
        pos = torch.clamp(rest, min=0.0)
        return torch.logaddexp(log_a, torch.log(neg)) - torch.logaddexp(log_b, torch.log(pos))

    return equation


def _float_shift(m0, p, r, L: int) -> torch.Tensor:
    """``C = [2 m0^a/|a| − H_a(m0)]/(Lκ)`` in float64 (its value decides where the mpmath one is needed)."""
    a = 2.0 / L - 1.0
    lr = log_rate(p, r, L)
    return 2.0 * torch.exp(a * torch.log(m0) - lr) / (-a) - _scale_up(scaled_h(m0, a), m0 - lr)


def _logistic_value(t, m0, p, r, L: int) -> torch.Tensor:
    """The root in float64, from ``t − C`` with ``C`` from mpmath where the float64 solve is ill conditioned (no
    autograd)."""
    if L == 1:
        return _depth_one(t, m0, p, r)
    ts = torch.where(t > 0, t, torch.ones_like(t))

    def equation(m, t_, m0_, p_, r_):
        return torch.log(logistic_margin_time(m0_, m, p_, r_, L)) - torch.log(t_)

    guess = m0 + ts / inverse_rate(m0, p, r, L)
    ill = torch.zeros_like(t, dtype=torch.bool)
    if L >= 3:
        C = _float_shift(m0, p, r, L)
        ill = (t > 0) & (_ILL * (ts - C).abs() < C)          # κ_c ~ C/|t − C| > 10
    m = m0.clone()
    well = ~ill & (t > 0)
    if bool(well.any()):
        idx, (ti, m0i, pi, ri, gi) = _rows(well, ts, m0, p, r, guess)
        m.reshape(-1)[idx] = solve_increasing(equation, m0i, math.inf, (ti, m0i, pi, ri), gi)
    if bool(ill.any()):
        idx, (ti, m0i, pi, ri) = _rows(ill, ts, m0, p, r)
        Cm = logistic_shift(m0i, pi, ri, L)
        rest = ((ti - Cm[:, 0]) - Cm[:, 1]) - Cm[:, 2]
        m.reshape(-1)[idx] = solve_increasing(_shifted_equation(L), m0i, math.inf, (rest, pi, ri), m0i * 2)
    return m


def logistic_margin_trajectory(t: torch.Tensor, m0: torch.Tensor, p: torch.Tensor, r: torch.Tensor,
                               depth: int) -> torch.Tensor:
    r"""``m(t)`` under logistic loss at depth ``L`` (``t ≥ 0``, ``m0, p, r > 0``). Broadcasts; keeps the dtype."""
    L = check_depth(depth)
    t, m0, p, r = torch.broadcast_tensors(t, m0, p, r)
    with torch.no_grad():
        m = _logistic_value(*(x.detach().to(torch.float64) for x in (t, m0, p, r)), L).to(t.dtype)
    # implicit-function step: the value is the root, the gradient −(∂t/∂θ)/(∂t/∂m); ∂t/∂p = −t/p and ∂t/∂r = −(2/L) t/r
    # from the given t (at the float root m the time t(m0 → m) may differ from t by a large factor where m hardly
    # moves from m0, or by κ_c ε where the inverse is ill conditioned)
    p_, r_, t_ = p.detach(), r.detach(), t.detach()
    rate = 1.0 / inverse_rate(m, p_, r_, L)
    corr = (t - logistic_margin_time(m0, m, p_, r_, L)
            + t_ * (torch.log(p) - torch.log(p_) + (2.0 / L) * (torch.log(r) - torch.log(r_)))) * rate
    out = m + (corr - corr.detach())
    return torch.where(t == 0, m0 + (out - out.detach()), out)
