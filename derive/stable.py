"""Rewrite rules that turn a derived closed form into a numerically stable one.

Each rule returns a new expression (or ``None`` if it does not apply); the engine then proves the
rewritten form equal to the derived one before it is emitted.
"""
from __future__ import annotations

import sympy as sp

from learndyn.derive.functions import exprel, log1p

__all__ = ["ode_stable_form", "logistic_form", "linear_form", "log_ratio_to_log1p"]


def ode_stable_form(rhs_over_tau: sp.Expr, u: sp.Symbol, u0: sp.Expr, t: sp.Expr) -> tuple[sp.Expr, str] | None:
    """The stable form of an autonomous polynomial ODE's solution, by the first rule that applies, with a
    description of the rule (for the proof record); ``None`` if no rule applies."""
    for rule, text in ((linear_form, "linear: u0 e^{at} + c t exprel(at)"),
                       (logistic_form, "logistic: with z = −|a| t, u0 / (e^z + b u0 t exprel(z)) for a >= 0, "
                                       "u0 e^z / (1 + b u0 t exprel(z)) for a < 0 (e^z and exprel(z) once for both)")):
        form = rule(rhs_over_tau, u, u0, t)
        if form is not None:
            return form, text
    return None


def linear_form(rhs_over_tau: sp.Expr, u: sp.Symbol, u0: sp.Expr, t: sp.Expr) -> sp.Expr | None:
    r"""Stable solution of ``du/dt = a u + c``, ``u(0) = u0``: ``u = u0 e^{at} + c t exprel(at)``.

    The textbook form ``(u0 + c/a) e^{at} − c/a`` is 0/0 at ``a = 0`` and, written as
    ``(c e^{-at} ...)e^{at}``, overflows for large ``|a t|`` although the value is finite.
    """
    poly = sp.Poly(sp.expand(rhs_over_tau), u)
    if poly.degree() != 1:
        return None
    a = sp.factor(poly.coeff_monomial(u))
    c = sp.factor(poly.coeff_monomial(1))
    return u0 * sp.exp(a * t) + c * t * exprel(a * t)


def logistic_form(rhs_over_tau: sp.Expr, u: sp.Symbol, u0: sp.Expr, t: sp.Expr) -> sp.Expr | None:
    r"""Stable solution of ``du/dt = a u - b u^2``, ``u(0) = u0``, when ``rhs`` has that shape.

    ``1/u`` solves a linear ODE, which gives the two equivalent forms

    .. math:: u = \frac{u_0}{e^{-at} + b u_0 t\,\mathrm{exprel}(-at)} \quad (a \ge 0), \qquad
              u = \frac{u_0 e^{at}}{1 + b u_0 t\,\mathrm{exprel}(at)} \quad (a < 0),

    with ``exprel(z) = (e^z − 1)/z``. Each is free of overflow on its side (no exponential of a positive
    argument), and ``a = 0`` (a removable singularity of the published forms: ``y = 0``, ``s = γ``) is an
    ordinary point. Both sides are written in the one argument ``z = −|a| t`` (``−a t`` for ``a ≥ 0``, ``a t``
    otherwise), so ``e^z`` and ``exprel(z)`` are evaluated once for both (half the transcendental work of two
    branches fed ``Max(a, 0)`` and ``Min(a, 0)``); ``z ≤ 0`` on both sides, so nothing overflows, no NaN gradient
    leaks through ``torch.where``, and at ``a = 0`` the gradient is the ``a ≥ 0`` side's (``∂z/∂a = −t``).
    """
    poly = sp.Poly(sp.expand(rhs_over_tau), u)
    if poly.degree() != 2 or poly.coeff_monomial(1) != 0:
        return None
    a = sp.factor(poly.coeff_monomial(u))
    b = sp.factor(-poly.coeff_monomial(u**2))

    def grow(z):
        return u0 / (sp.exp(z) + b * u0 * t * exprel(z))

    def decay(z):
        return u0 * sp.exp(z) / (1 + b * u0 * t * exprel(z))

    if a.is_nonnegative:
        return grow(-a * t)
    if a.is_negative:
        return decay(a * t)
    z = sp.Piecewise((-a * t, sp.Ge(a, 0)), (a * t, True))  # −|a| t, with the a ≥ 0 side's derivative at a = 0
    return sp.Piecewise((grow(z), sp.Ge(a, 0)), (decay(z), True))


def log_ratio_to_log1p(expr: sp.Expr) -> sp.Expr:
    r"""Rewrite every ``ln(N/D)`` as ``log1p((N − D)/D)`` with ``N − D`` simplified symbolically.

    ``ln(N/D)`` loses all relative precision where ``N ≈ D`` (e.g. a learning time for ``uf ≈ u0``),
    and ``ln(a) − ln(b)`` loses it where the two are large and close; the difference ``N − D`` done in
    algebra (``s (uf − u0)``) is exact in floating point.
    """
    def rule(arg):
        num, den = sp.fraction(sp.together(arg))
        return log1p(sp.factor(sp.expand(num - den)) / den)

    return expr.replace(sp.log, rule)
