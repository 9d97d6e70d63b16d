r"""The time a classification mode's margin takes under logistic loss (family 5), exact and differentiable.

The mode equation ``dm/dt = L κ m^{2−2/L} σ(−m)``, ``κ = p r^{2/L}``, ``a = 2/L − 1``, gives

    t(m0 → m) = (1/(Lκ)) ∫_{m0}^{m} x^{a−1} (1 + e^x) dx = [2 (m^a − m0^a)/a + H_a(m) − H_a(m0)]/(Lκ)

(signed: negative for ``m < m0``), ``H_a`` the generalised exponential integral of :mod:`learndyn.numerics.exp_integral`.
With ``lo ≤ hi`` the ends, the integral is carried scaled, ``I = e^{−hi} ∫_lo^hi …``, and ``t = e^{hi − ln(Lκ)} I``
(in logarithms where ``e^{hi − ln(Lκ)}`` would overflow), so the time is finite wherever it is finite in float64 although
``e^m`` and ``Ei(m)`` overflow from ``m = 710``:

* ends closer than ``min(lo, 1)``: 16-point Gauss–Legendre on ``[lo, hi]`` (the integrand's only singularity, ``x = 0``,
  lies at least three half-widths away and ``e^x`` varies by at most ``e`` over the interval: error below ``1e-24``);
  this keeps the digits of a short interval, where the closed form is a difference of nearly equal values;
* farther ends: ``I = 2 e^{−hi} lo^a ℓ exprel(aℓ) + h_a(hi) − e^{−(hi − lo)} h_a(lo)``, ``ℓ = ln(hi/lo)`` from
  ``log1p``, ``h_a = e^{−x} H_a`` (the power part ``(hi^a − lo^a)/a = lo^a ℓ exprel(aℓ)``, exact also at ``a = 0``).

:func:`hinge_margin_time` is the hinge loss's time, the power law ``(m^a − m0^a)/(a L κ)`` up to the stop at ``m = 1``
(``inf`` beyond), and :func:`logistic_inflection_time` the logistic time to the inflection margin ``m*`` carried to twice
float64's digits.

The derivatives are supplied in closed form (``∂t/∂m = 1/rate(m)``, ``∂t/∂m0 = −1/rate(m0)``, ``∂t/∂p = −t/p``,
``∂t/∂r = −(2/L) t/r``): finite wherever they are finite in float64.
"""
from __future__ import annotations

import functools
import math

import mpmath
import torch

from learndyn.numerics.exp_integral import scaled_h
from learndyn.numerics.gauss_legendre import integrate
from learndyn.numerics.special import exprel

__all__ = ["logistic_margin_time", "logistic_inflection_time", "inflection_margin_parts", "hinge_margin_time", "as_like",
           "inverse_rate", "hinge_inverse_rate", "log_rate", "scaled_integral", "check_depth"]

_EXP_SAFE = 700.0
_OVERFLOWS = 1e4         # a margin beyond which the logistic time from any smaller one exceeds float64


def check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth={depth!r}: must be an int >= 1")
    return depth


def log_rate(p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    """``ln(L κ) = ln L + ln p + (2/L) ln r``."""
    return math.log(depth) + torch.log(p) + (2.0 / depth) * torch.log(r)


def scaled_integral(lo: torch.Tensor, hi: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``e^{−hi} ∫_lo^hi x^{a−1}(1 + e^x) dx`` for ``0 < lo ≤ hi`` (see the module)."""
    a = 2.0 / depth - 1.0
    delta = hi - lo
    close = delta <= torch.clamp(lo, max=1.0)
    # close ends: Gauss–Legendre of x^{a−1} (e^{x − hi} + e^{−hi})
    hi_n = hi[..., None]
    near = integrate(lambda x: torch.pow(x, a - 1.0) * (torch.exp(x - hi_n) + torch.exp(-hi_n)), lo, hi)
    # far ends: the closed form, every term scaled by e^{−hi}
    ell = torch.log1p(delta / lo)
    power = 2.0 * torch.exp(a * torch.log(lo) - hi) * ell * exprel(a * ell)
    far = power + scaled_h(hi, a) - torch.exp(-delta) * scaled_h(lo, a)
    return torch.where(close, near, far)


def _scale_up(value: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    """``value e^{exponent}`` (``value ≥ 0``) without overflow on the way: in logarithms where ``e^{exponent}`` would
    overflow (the product is then inf only where it is beyond float64)."""
    big = exponent > _EXP_SAFE
    e_small = torch.where(big, torch.zeros_like(exponent), exponent)
    e_big = torch.where(big, exponent, torch.zeros_like(exponent))
    v_big = torch.where(big, value, torch.ones_like(value))
    return torch.where(big, torch.exp(e_big + torch.log(v_big)), value * torch.exp(e_small))


def _value(m0, m, p, r, L: int) -> torch.Tensor:
    up = m >= m0
    lo, hi = torch.minimum(m0, m), torch.maximum(m0, m)
    t = _scale_up(scaled_integral(lo, hi, L), hi - log_rate(p, r, L))
    # beyond hi = 1e4 the scaled integral (~hi^{a−1}) underflows for huge hi (to 0, and t with it), while the time is
    # beyond float64 for every p ≤ 1, r < 2^1024 and depth < 2^63 as soon as lo < hi: ln t ≥ hi − 1512 > 710 there
    # (the integral is at least an ulp of hi times hi^{a−1} e^{hi−1}, and ln(Lκ) ≤ 44 + 1420)
    t = torch.where((hi > _OVERFLOWS) & (lo < hi), torch.full_like(t, math.inf), t)
    return torch.where(up, t, -t)


def inverse_rate(m: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``1/rate(m) = m^{a−1}(1 + e^m)/(Lκ)``, ``dt/dm`` of the logistic mode (without overflow on the way)."""
    a = 2.0 / depth - 1.0
    return torch.exp(m + (a - 1.0) * torch.log(m) - log_rate(p, r, depth)) * (1.0 + torch.exp(-m))


class _LogisticTime(torch.autograd.Function):
    """The value by :func:`_value`; the derivatives in closed form: ``∂t/∂m = 1/rate(m)``, ``∂t/∂m0 = −1/rate(m0)``,
    ``∂t/∂p = −t/p``, ``∂t/∂r = −(2/L) t/r`` (no cancellation, unlike autograd through the scaled closed form)."""

    @staticmethod
    def forward(ctx, m0, m, p, r, L):
        t = _value(m0, m, p, r, L)
        ctx.save_for_backward(m0, m, p, r, t)
        ctx.L = L
        return t

    @staticmethod
    def backward(ctx, g):
        m0, m, p, r, t = ctx.saved_tensors
        L = ctx.L
        return (-g * inverse_rate(m0, p, r, L), g * inverse_rate(m, p, r, L), -g * t / p, -g * (2.0 / L) * t / r, None)


def logistic_margin_time(m0: torch.Tensor, m: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``t(m0 → m)`` under logistic loss at depth ``L`` (signed; ``m0, m, p, r > 0``); broadcasts, keeps the dtype."""
    L = check_depth(depth)
    m0, m, p, r = torch.broadcast_tensors(*as_like(m0, m, p, r))
    return _LogisticTime.apply(m0, m, p, r, L)


@functools.lru_cache(maxsize=None)
def inflection_margin_parts(depth: int) -> tuple[float, float]:
    r"""The inflection margin ``m* = c + W₀(c e^{−c})``, ``c = 2 − 2/L`` (the root of ``m σ(m) = c``), as two float64s
    ``hi + lo`` (``hi`` the float nearest ``m*``, ``|lo| ≤ ulp(hi)/2``), from mpmath at 40 digits (``depth ≥ 2``)."""
    with mpmath.workdps(40):
        c = 2 - mpmath.mpf(2) / depth
        value = c + mpmath.lambertw(c * mpmath.exp(-c)).real
        hi = float(value)
        return hi, float(value - hi)


def logistic_inflection_time(m0: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``t(m0 → m*)`` under logistic loss, ``m*`` the inflection margin of depth ``L ≥ 2`` (signed: negative for
    ``m0 > m*``): ``t(m0 → hi) + lo/rate(hi)`` with ``m* = hi + lo`` (:func:`inflection_margin_parts`; the neglected
    term is ``O(lo²)``, ~1e-32 relative). The time to the float ``hi`` alone would be off by ``ulp(m*)/|m0 − m*|``
    relative, which exceeds 1e-12 for ``m0`` within 1e-4 of ``m*``. Broadcasts; keeps the dtype; differentiable."""
    L = check_depth(depth)
    if L < 2:
        raise ValueError(f"depth={depth!r}: the margin curve has an inflection only at depth >= 2")
    m0, p, r = torch.broadcast_tensors(*as_like(m0, p, r))
    hi, lo = inflection_margin_parts(L)
    m_hi = torch.full_like(m0, hi)
    return logistic_margin_time(m0, m_hi, p, r, L) + lo * inverse_rate(m_hi, p, r, L)


def hinge_inverse_rate(m: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``1/rate(m) = m^{a−1}/(Lκ)``, ``dt/dm`` of the hinge mode below the stop (in logarithms: no overflow on the way)."""
    a = 2.0 / depth - 1.0
    return torch.exp((a - 1.0) * torch.log(m) - log_rate(p, r, depth))


def _hinge_value(m0, m, p, r, L: int) -> torch.Tensor:
    """``m0^a ℓ exprel(aℓ)/(Lκ)``, ``ℓ = ln(m/m0)`` from ``log1p`` (the power law ``(m^a − m0^a)/(a L κ)``, exact at
    ``a = 0`` and for ``m`` next to ``m0``); ``inf`` beyond ``m = 1``."""
    a = 2.0 / L - 1.0
    ell = torch.log1p((m - m0) / m0)
    t = torch.exp(a * torch.log(m0) - log_rate(p, r, L)) * ell * exprel(a * ell)
    return torch.where(m <= 1, t, torch.full_like(t, math.inf))


class _HingeTime(torch.autograd.Function):
    """The value by :func:`_hinge_value`; the derivatives in closed form, ``∂t/∂m = m^{a−1}/(Lκ)``,
    ``∂t/∂m0 = −m0^{a−1}/(Lκ)``, ``∂t/∂p = −t/p``, ``∂t/∂r = −(2/L) t/r`` (autograd through ``log1p`` and ``exprel``
    cancels: ~1e-4 relative from m0 = 1e-12); 0 beyond the stop, where the time is ``inf`` for every nearby input."""

    @staticmethod
    def forward(ctx, m0, m, p, r, L):
        t = _hinge_value(m0, m, p, r, L)
        ctx.save_for_backward(m0, m, p, r, t)
        ctx.L = L
        return t

    @staticmethod
    def backward(ctx, g):
        m0, m, p, r, t = ctx.saved_tensors
        L = ctx.L
        moving = m <= 1
        gm = torch.where(moving, g, torch.zeros_like(g))
        tf = torch.where(moving, t, torch.zeros_like(t))
        return (-gm * hinge_inverse_rate(m0, p, r, L), gm * hinge_inverse_rate(m, p, r, L), -gm * tf / p,
                -gm * (2.0 / L) * tf / r, None)


def hinge_margin_time(m0: torch.Tensor, m, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``t(m0 → m)`` under hinge loss at depth ``L``: ``(m^a − m0^a)/(a L κ)`` (``ln(m/m0)/(2κ)`` at depth 2) for
    ``m ≤ 1`` (signed), ``inf`` beyond (the margin stops at 1); ``m0, p, r > 0``. Broadcasts, keeps the dtype;
    derivatives in closed form."""
    L = check_depth(depth)
    m0, m, p, r = torch.broadcast_tensors(*as_like(m0, m, p, r))
    return _HingeTime.apply(m0, m, p, r, L)


def as_like(*values) -> tuple[torch.Tensor, ...]:
    """The arguments as tensors: a Python number (a value of the depth alone) in the dtype and device of the first
    tensor among them."""
    like = next(v for v in values if isinstance(v, torch.Tensor))
    return tuple(v if isinstance(v, torch.Tensor) else torch.as_tensor(float(v), dtype=like.dtype, device=like.device)
                 for v in values)
