"""SymPy functions for the numerically stable forms, each with an mpmath evaluation and a rewrite back to
elementary functions (so the engine can prove a stable form equal to the derived one), and each mapped to
a torch implementation by :mod:`learndyn.derive.printer`.
"""
from __future__ import annotations

import mpmath
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

__all__ = ["exprel", "expm1", "log1p", "DeepModeTime", "DeepModeTrajectory", "Expectation", "to_elementary"]


class exprel(sp.Function):
    r"""``exprel(z) = (e^z - 1)/z``, continuous at ``z = 0`` where it is 1."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.Integer(1)

    def fdiff(self, argindex=1):
        z = self.args[0]
        return (sp.exp(z) * z - (sp.exp(z) - 1)) / z**2

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return (sp.exp(z) - 1) / z

    def _eval_evalf(self, prec):
        z = self.args[0]._eval_evalf(prec)
        if z is None:
            return None
        with mpmath.workprec(prec + 20):
            zm = mpmath.mpf(str(z)) if z.is_real else mpmath.mpc(complex(z))
            val = mpmath.mpf(1) if zm == 0 else mpmath.expm1(zm) / zm
            return sp.Float(val, precision=prec)

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        base = r"\operatorname{exprel}\left(%s\right)" % arg
        return base if exp is None else r"%s^{%s}" % (base, exp)


class DeepModeTime(sp.Function):
    r"""``t(u0 → uf) = tau/D ∫_{u0}^{uf} dv / (v^{2-2/D}(s - v))`` in its exact closed form over the
    ``D``-th roots of unity (implemented in :mod:`learndyn.numerics.deep_mode`).

    Arguments ``(s, u0, uf, tau, depth)``.
    """

    nargs = 5

    def _eval_evalf(self, prec):
        s, u0, uf, tau, depth = (a._eval_evalf(prec) if not a.is_Integer else a for a in self.args)
        if any(a is None for a in (s, u0, uf, tau)) or not depth.is_Integer:
            return None
        dps = mpmath.libmp.prec_to_dps(prec) + 10
        with mpmath.workdps(dps):
            val = deep_mode_time_closed_mp(*(mpmath.mpf(str(a)) for a in (s, u0, uf, tau)), int(depth))
            return sp.Float(val, precision=prec)

    def _latex(self, printer, exp=None):
        s, u0, uf, tau, D = (printer._print(a) for a in self.args)
        return r"\frac{%s}{%s}\int_{%s}^{%s} \frac{dv}{v^{2-2/%s}\,(%s - v)}" % (tau, D, u0, uf, D, s)


class DeepModeTrajectory(sp.Function):
    r"""``u(t)``: the inverse of :class:`DeepModeTime` in ``uf`` (a vectorised, differentiable solve).

    Arguments ``(t, s, u0, tau, depth)``.
    """

    nargs = 5

    def _latex(self, printer, exp=None):
        t, s, u0, tau, D = (printer._print(a) for a in self.args)
        return r"u\ \text{solving}\ %s = T_{%s}(%s \to u)" % (t, D, u0)


def deep_mode_time_closed_mp(s, u0, uf, tau, depth: int):
    r"""The closed form over the roots of unity, at the current mpmath precision.

    With ``y = (v/s)^{1/D}``: ``t = tau s^{-(2-2/D)} ∫_{y0}^{yf} dy / (y^{D-1}(1-y^D))`` and
    ``1/(y^{D-1}(1-y^D)) = y^{1-D} + y/(1-y^D)``, ``y/(1-y^D) = -(1/D) Σ_k ω_k^2/(y - ω_k)``
    (``ω_k = e^{2πik/D}``, ``D >= 2``); ``D = 1`` is ``∫ dy/(1-y)``.
    """
    mp = mpmath.mp
    s, u0, uf, tau = (mp.mpf(a) for a in (s, u0, uf, tau))
    D = depth
    y0, yf = (u0 / s) ** (mp.mpf(1) / D), (uf / s) ** (mp.mpf(1) / D)
    if D == 1:
        return tau * mp.log((1 - y0) / (1 - yf))
    first = mp.log(yf / y0) if D == 2 else (yf ** (2 - D) - y0 ** (2 - D)) / (2 - D)
    second = mp.mpf(0)
    for k in range(D):
        w = mp.expjpi(mp.mpf(2 * k) / D)
        second += w**2 * mp.log((yf - w) / (y0 - w))
    second = -mp.re(second) / D
    return tau * s ** (-(2 - mp.mpf(2) / D)) * (first + second)


def deep_mode_time_mp(s, u0, uf, tau, depth: int):
    r"""Reference: the defining integral by mpmath quadrature (in the variable ``z = ln(v/(s−v))`` or
    ``ln(v/(v−s))`` where the integrand is smooth), at the current mpmath precision."""
    mp = mpmath.mp
    s, u0, uf, tau = (mp.mpf(a) for a in (s, u0, uf, tau))
    D = depth
    b = mp.mpf(2) / D - 1
    # with v = s*sigmoid(z) (v < s) or v = s/(1 - e^{-z}) (v > s):
    # tau/D dv/(v^{2-2/D}(s - v)) = tau/(D s^{2-2/D}) * (v/s)^{b} dz * (+1 below s, -1·... above s)
    if u0 < s:
        z0, z1 = mp.log(u0 / (s - u0)), mp.log(uf / (s - uf))
        f = lambda z: (1 / (1 + mp.exp(-z))) ** b
    else:
        z0, z1 = mp.log(u0 / (u0 - s)), mp.log(uf / (uf - s))
        f = lambda z: (1 / (1 - mp.exp(-z))) ** b
    pts = [z0, z1] if abs(z1 - z0) < 4 else list(mp.linspace(z0, z1, 2 + int(min(abs(z1 - z0), 400))))
    integral = mp.quad(f, pts)
    return abs(tau / (D * s ** (2 - mp.mpf(2) / D)) * integral)


def to_elementary(expr: sp.Expr) -> sp.Expr:
    """Rewrite the stable-form functions back to elementary ones (for symbolic proofs)."""
    return expr.replace(exprel, lambda z: (sp.exp(z) - 1) / z).replace(
        expm1, lambda z: sp.exp(z) - 1).replace(log1p, lambda z: sp.log(1 + z))


class Expectation(sp.Function):
    r"""``E[x]``, the expected value, for writing defining equations (``\mathbb{E}[t] = …``); never evaluated."""

    nargs = 1

    def _latex(self, printer, exp=None):
        return r"\mathbb{E}\left[%s\right]" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "E[%s]" % printer._print(self.args[0])
