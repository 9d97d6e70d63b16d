r"""SymPy functions for the stable kernels of family 5 (classification dynamics), each kept whole by SymPy, evaluated
at high precision by its mpmath closed form (:mod:`learndyn.derive.margin_mp`, for the proofs and tier a) and printed
as a call of its torch kernel (:mod:`learndyn.numerics.margin`).

The mode equation is ``dm/dt = L κ m^{2−2/L} g(m)``, ``κ = p r^{2/L}``, ``a = 2/L − 1``:

* :class:`LogisticMarginTime` ``(m0, m, p, r, depth)``: ``t = (1/(Lκ)) ∫_{m0}^{m} x^{a−1} (1 + e^x) dx`` (signed: negative
  for ``m < m0``), in closed form ``[2 (m^a − m0^a)/a + H_a(m) − H_a(m0)]/(Lκ)`` with
  ``H_a(x) = ∫_0^x s^{a−1} (e^s − 1) ds = x^{a+1}/(a+1) ₂F₂(1, a+1; 2, a+2; x)`` (``a = 0``: ``2 ln(m/m0)``);
* :class:`LogisticMarginTrajectory` ``(t, m0, p, r, depth)``: its inverse in ``m`` (depth 1: ``m = ln ω(y)``, the Wright
  omega ``ω(y) = W₀(e^y)`` of ``y = κt + m0 + e^{m0}``);
* :class:`HingeMarginTime` ``(m0, m, p, r, depth)``: the hinge time, ``(m^a − m0^a)/(a L κ)`` (``ln(m/m0)/(2κ)`` at depth
  2) for ``m ≤ 1``, ``∞`` beyond (its torch kernel has closed-form derivatives);
* :class:`HingeMarginTrajectory` ``(t, m0, p, r, depth)``: the hinge power law up to the stop, then 1;
* :class:`InflectionTime` ``(m0, p, r, depth)``: :class:`LogisticMarginTime` to the inflection margin
  ``m* = c + W₀(c e^{−c})``, ``c = 2 − 2/L``, with ``m*`` carried to twice float64's digits (the time to the float
  nearest ``m*`` is off by ``ulp(m*)/|m0 − m*|`` relative);
* :class:`CrossingTail` ``(m0, b)``: ``∫_{m0}^{0} e^s/√(b² + 4 s²) ds`` for ``m0 < 0``, ``b > 0`` (no elementary form:
  a quadrature, ``s = −(b/2) sinh θ``).
"""
from __future__ import annotations

import sympy as sp

__all__ = ["LogisticMarginTime", "LogisticMarginTrajectory", "HingeMarginTime", "HingeMarginTrajectory", "CrossingTail",
           "InflectionTime", "MARGIN_MPMATH"]


class _MarginFunction(sp.Function):
    """A kernel SymPy keeps whole: evaluated numerically by its mpmath closed form (``_mp_name`` in
    :mod:`learndyn.derive.margin_mp`) at twice the working precision; the last argument may be the integer depth."""

    _mp_name = ""

    def _eval_evalf(self, prec):
        import mpmath

        from learndyn.derive import margin_mp

        vals = []
        for a in self.args:
            if a.is_Integer:
                vals.append(int(a))
                continue
            v = a._eval_evalf(prec)
            if v is None:
                return None
            vals.append(v)
        with mpmath.workprec(2 * prec + 40):
            args = [x if isinstance(x, int) else mpmath.mpf(str(x)) for x in vals]
            return sp.Float(getattr(margin_mp, self._mp_name)(*args), precision=prec)


class LogisticMarginTime(_MarginFunction):
    r"""``t(m0 → m)`` under logistic loss at depth ``L`` (see the module). Arguments ``(m0, m, p, r, depth)``."""

    nargs = 5
    _mp_name = "logistic_time_mp"

    def _latex(self, printer, exp=None):
        m0, m, p, r, L = (printer._print(a) for a in self.args)
        return (r"\frac{1}{%s\,%s\,%s^{2/%s}}\int_{%s}^{%s} x^{2/%s - 2}\left(1 + e^{x}\right) dx"
                % (L, p, r, L, m0, m, L))


class LogisticMarginTrajectory(_MarginFunction):
    r"""``m(t)`` under logistic loss at depth ``L``: the inverse of :class:`LogisticMarginTime` in ``m``.
    Arguments ``(t, m0, p, r, depth)``."""

    nargs = 5
    _mp_name = "logistic_trajectory_mp"

    def _latex(self, printer, exp=None):
        t, m0, p, r, L = (printer._print(a) for a in self.args)
        return r"m\ \text{solving}\ %s = t_{%s}(%s \to m)" % (t, L, m0)


class HingeMarginTime(_MarginFunction):
    r"""``t(m0 → m)`` under hinge loss at depth ``L``: ``m0^a ℓ exprel(aℓ)/(Lκ)``, ``ℓ = ln(m/m0)`` (the power law
    ``(m^a − m0^a)/(a L κ)``), for ``m ≤ 1``; ``∞`` beyond (the margin stops at 1). Its torch kernel supplies the
    derivatives in closed form (``∂t/∂m = m^{a−1}/(Lκ)``, ``∂t/∂m0 = −m0^{a−1}/(Lκ)``), which autograd through ``log1p`` and
    ``exprel`` would lose to cancellation. Arguments ``(m0, m, p, r, depth)``."""

    nargs = 5
    _mp_name = "hinge_time_mp"

    def fdiff(self, argindex=1):
        """The derivatives below the stop (``m ≤ 1``): ``∂t/∂m0 = −m0^{a−1}/(Lκ)``, ``∂t/∂m = m^{a−1}/(Lκ)``,
        ``∂t/∂p = −t/p``, ``∂t/∂r = −(2/L) t/r``."""
        m0, m, p, r, L = self.args
        a = sp.Integer(2) / L - 1
        k = L * p * r ** (sp.Integer(2) / L)
        if argindex == 1:
            return -m0 ** (a - 1) / k
        if argindex == 2:
            return m ** (a - 1) / k
        if argindex == 3:
            return -self / p
        if argindex == 4:
            return -2 * self / (L * r)
        raise sp.ArgumentIndexError(self, argindex)

    def _latex(self, printer, exp=None):
        m0, m, p, r, L = (printer._print(a) for a in self.args)
        return r"\frac{1}{%s\,%s\,%s^{2/%s}}\int_{%s}^{%s} x^{2/%s - 2}\,dx" % (L, p, r, L, m0, m, L)


class HingeMarginTrajectory(_MarginFunction):
    r"""``m(t)`` under hinge loss at depth ``L``: the power law ``m^a = m0^a + a L κ t`` (``m0 e^{2κt}`` at depth 2) up
    to the stop, then exactly 1; ill-conditioned deep points from ``t∞ − t`` at extra precision. Arguments
    ``(t, m0, p, r, depth)``."""

    nargs = 5
    _mp_name = "hinge_trajectory_mp"

    def _latex(self, printer, exp=None):
        t, m0, p, r, L = (printer._print(a) for a in self.args)
        return (r"\min\left(1, \left(%s^{2/%s - 1} + \left(2 - %s\right) %s\,%s^{2/%s}\,%s\right)^{%s/(2 - %s)}\right)"
                % (m0, L, L, p, r, L, t, L, L))


class InflectionTime(_MarginFunction):
    r"""``t(m0 → m*)`` under logistic loss at depth ``L ≥ 2``, ``m*`` the inflection margin (the root of
    ``m σ(m) = 2 − 2/L``): :class:`LogisticMarginTime` ``(m0, m*, p, r, depth)`` with ``m*`` exact to ~1e-32, so that
    the time keeps its digits for ``m0`` next to ``m*``. Arguments ``(m0, p, r, depth)``."""

    nargs = 4
    _mp_name = "inflection_time_mp"

    def _latex(self, printer, exp=None):
        m0, p, r, L = (printer._print(a) for a in self.args)
        return (r"\frac{1}{%s\,%s\,%s^{2/%s}}\int_{%s}^{m^*} x^{2/%s - 2}\left(1 + e^{x}\right) dx"
                % (L, p, r, L, m0, L))


class CrossingTail(_MarginFunction):
    r"""``∫_{m0}^{0} e^s / √(b² + 4 s²) ds`` (``m0 < 0``, ``b > 0``), computed by Gauss–Legendre quadrature in
    ``θ`` with ``s = −(b/2) sinh θ`` (integrand ``½ e^{−(b/2) sinh θ}``, smooth and bounded by ½). Arguments ``(m0, b)``."""

    nargs = 2
    _mp_name = "crossing_tail_mp"

    def _latex(self, printer, exp=None):
        m0, b = (printer._print(a) for a in self.args)
        return r"\int_{%s}^{0} \frac{e^{s}\,ds}{\sqrt{%s^{2} + 4 s^{2}}}" % (m0, b)


def _mp(name: str, depth_last: bool = True):
    def call(*args):
        from learndyn.derive import margin_mp

        if depth_last:  # the depth arrives as an int or an integral mpf
            args = (*args[:-1], int(args[-1]))
        return getattr(margin_mp, name)(*args)

    return call


#: mpmath implementations, for lambdify(modules=[MARGIN_MPMATH, ...])
MARGIN_MPMATH = {
    "LogisticMarginTime": _mp("logistic_time_mp"),
    "LogisticMarginTrajectory": _mp("logistic_trajectory_mp"),
    "HingeMarginTime": _mp("hinge_time_mp"),
    "HingeMarginTrajectory": _mp("hinge_trajectory_mp"),
    "CrossingTail": _mp("crossing_tail_mp", depth_last=False),
    "InflectionTime": _mp("inflection_time_mp"),
}
