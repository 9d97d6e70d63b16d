r"""High-precision (mpmath) closed forms of family 5's kernels, at the working precision: the values that the proofs
compare with SymPy's derivation and that tier (a) holds the torch kernels (:mod:`learndyn.numerics.margin`) to.

With ``a = 2/L − 1`` and ``κ = p r^{2/L}``:

* ``logistic_time_mp``: ``t = [2 (m^a − m0^a)/a + H_a(m) − H_a(m0)]/(Lκ)`` (``a = 0``: ``2 ln(m/m0)``), with
  ``H_a(x) = ∫_0^x s^{a−1}(e^s − 1) ds = x^{a+1}/(a+1) ₂F₂(1, a+1; 2, a+2; x)``; signed (negative for ``m < m0``);
* ``logistic_trajectory_mp``: the root ``m`` of ``logistic_time_mp(m0, m, …) = t`` (bisection in ``ln m``, then a
  secant polish);
* ``hinge_time_mp``, ``hinge_trajectory_mp``, ``hinge_stop_constant_mp``: the power law, its explicit inverse (held at 1
  from the stop on), and ``t∞ = m0^a/(|a| L κ)`` (depth ≥ 3), the time at which the power law would blow up;
* ``logistic_shift_mp``: ``C = [2 m0^a/|a| − H_a(m0)]/(Lκ)`` (depth ≥ 3), the part of the logistic time that depends
  on ``m0`` only: ``t = C + [H_a(m) − 2 m^a/|a|]/(Lκ)``;
* ``inflection_margin_mp``, ``inflection_time_mp``: ``m* = c + W₀(c e^{−c})``, ``c = 2 − 2/L`` (the root of
  ``m σ(m) = c``), and ``logistic_time_mp(m0, m*, …)``;
* ``crossing_tail_mp``: ``∫_{m0}^0 e^s/√(b² + 4 s²) ds = ½ ∫_0^Θ e^{−(b/2) sinh θ} dθ``, ``Θ = asinh(−2 m0/b)``, by
  ``mpmath.quad`` on unit panels.
"""
from __future__ import annotations

import mpmath

from learndyn.derive.log_root import increasing_root_in_log

__all__ = ["h_integral_mp", "logistic_time_mp", "logistic_trajectory_mp", "hinge_time_mp", "hinge_trajectory_mp",
           "hinge_stop_constant_mp", "logistic_shift_mp", "crossing_tail_mp", "inflection_margin_mp", "inflection_time_mp"]


def _a(L: int):
    return mpmath.mpf(2) / L - 1


def _kappa(p, r, L: int):
    return p * r ** (mpmath.mpf(2) / L)


def h_integral_mp(x, a):
    r"""``H_a(x) = ∫_0^x s^{a−1}(e^s − 1) ds`` for ``x > 0``, ``a > −1``."""
    x, a = mpmath.mpf(x), mpmath.mpf(a)
    return x ** (a + 1) / (a + 1) * mpmath.hyp2f2(1, a + 1, 2, a + 2, x)


def _power(m0, m, a, L: int):
    """``∫_{m0}^{m} s^{a−1} ds``: ``(m^a − m0^a)/a``, ``ln(m/m0)`` at ``a = 0``."""
    return mpmath.log(m / m0) if L == 2 else (m**a - m0**a) / a


def logistic_time_mp(m0, m, p, r, L: int):
    m0, m, p, r = (mpmath.mpf(v) for v in (m0, m, p, r))
    a = _a(L)
    total = 2 * _power(m0, m, a, L) + h_integral_mp(m, a) - h_integral_mp(m0, a)
    return total / (L * _kappa(p, r, L))


def hinge_time_mp(m0, m, p, r, L: int):
    m0, m, p, r = (mpmath.mpf(v) for v in (m0, m, p, r))
    if m > 1:
        return mpmath.inf
    return _power(m0, m, _a(L), L) / (L * _kappa(p, r, L))


def hinge_trajectory_mp(t, m0, p, r, L: int):
    t, m0, p, r = (mpmath.mpf(v) for v in (t, m0, p, r))
    if m0 >= 1 or t >= hinge_time_mp(m0, 1, p, r, L):
        return max(m0, mpmath.mpf(1)) if m0 < 1 else m0
    a, k = _a(L), L * _kappa(p, r, L)
    if L == 2:
        return m0 * mpmath.exp(k * t)
    return (m0**a + a * k * t) ** (1 / a)


def hinge_stop_constant_mp(m0, p, r, L: int):
    r"""``t∞ = m0^a/(|a| L κ)`` (``L ≥ 3``)."""
    m0, p, r = (mpmath.mpf(v) for v in (m0, p, r))
    a = _a(L)
    return m0**a / (-a * L * _kappa(p, r, L))


def logistic_shift_mp(m0, p, r, L: int):
    r"""``C = [2 m0^a/|a| − H_a(m0)]/(Lκ)`` (``L ≥ 3``)."""
    m0, p, r = (mpmath.mpf(v) for v in (m0, p, r))
    a = _a(L)
    return (2 * m0**a / (-a) - h_integral_mp(m0, a)) / (L * _kappa(p, r, L))


def logistic_trajectory_mp(t, m0, p, r, L: int):
    """The root ``m ≥ m0`` of ``logistic_time_mp(m0, m, p, r, L) = t`` at the working precision: a bracket in
    ``u = ln m`` (:func:`~learndyn.derive.log_root.increasing_root_in_log`), Newton with the exact derivative
    ``dt/du = m^a (1 + e^m)/(Lκ)``."""
    t, m0, p, r = (mpmath.mpf(v) for v in (t, m0, p, r))
    if t == 0:
        return m0
    a, k = _a(L), L * _kappa(p, r, L)
    with mpmath.extradps(20):
        f = lambda u: logistic_time_mp(m0, mpmath.exp(u), p, r, L) - t  # noqa: E731
        slope = lambda u: mpmath.exp(a * u) * (1 + mpmath.exp(mpmath.exp(u))) / k  # noqa: E731
        return +increasing_root_in_log(f, slope, m0, scale=t)


def crossing_tail_mp(m0, b):
    m0, b = mpmath.mpf(m0), mpmath.mpf(b)
    theta = mpmath.asinh(-2 * m0 / b)
    cuts = [mpmath.mpf(0)] + [mpmath.mpf(k) for k in range(1, int(theta) + 1)] + [theta]
    return mpmath.quad(lambda th: mpmath.exp(-b / 2 * mpmath.sinh(th)), sorted(set(cuts))) / 2


def inflection_margin_mp(L: int):
    r"""``m* = c + W₀(c e^{−c})``, ``c = 2 − 2/L`` (``L ≥ 2``)."""
    c = 2 - mpmath.mpf(2) / L
    return c + mpmath.lambertw(c * mpmath.exp(-c)).real


def inflection_time_mp(m0, p, r, L: int):
    r"""``t(m0 → m*)`` under logistic loss (signed)."""
    return logistic_time_mp(m0, inflection_margin_mp(L), p, r, L)
