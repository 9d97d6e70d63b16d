"""SymPy functions for the numerically stable forms, each with an mpmath evaluation and a rewrite back to
elementary functions (so the engine can prove a stable form equal to the derived one), and each mapped to
a torch implementation by :mod:`learndyn.derive.printer`.
"""
from __future__ import annotations

import mpmath
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

__all__ = ["exprel", "log1prel", "expm1", "log1p", "DeepModeTime", "DeepModeTrajectory", "Expectation", "to_elementary",
           "GaussE", "BivariateE", "Gram2", "ArcCosKernel", "ReLU", "ShiftedReLU", "Step", "Ndtr", "ReluKernel", "SinMinusXCos", "LogSinc", "LogAsinc", "ErfAngleGap", "ErfNormGap", "Geom", "AffineIterate", "HalfErfc", "MPMATH_FUNCTIONS"]


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


class log1prel(sp.Function):
    r"""``log1prel(z) = log1p(z)/z = ln(1 + z)/z`` (``z > −1``), continuous at ``z = 0`` where it is 1: the inverse
    of a power law ``m = m0 (1 + z)^{1/a}`` written as ``m0 exp((z/a) log1prel(z))``, exact also as ``a → 0``."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.Integer(1)

    def fdiff(self, argindex=1):
        z = self.args[0]
        return 1 / (z * (1 + z)) - sp.log(1 + z) / z**2

    def _eval_rewrite_as_log(self, z, **kwargs):
        return sp.log(1 + z) / z

    def _eval_evalf(self, prec):
        z = self.args[0]._eval_evalf(prec)
        if z is None:
            return None
        with mpmath.workprec(prec + 20):
            zm = mpmath.mpf(str(z))
            return sp.Float(mpmath.mpf(1) if zm == 0 else mpmath.log1p(zm) / zm, precision=prec)

    def _latex(self, printer, exp=None):
        base = r"\operatorname{log1prel}\left(%s\right)" % printer._print(self.args[0])
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
    expr = expr.replace(log1prel, lambda z: sp.log(1 + z) / z)
    expr = expr.replace(exprel, lambda z: (sp.exp(z) - 1) / z).replace(
        expm1, lambda z: sp.exp(z) - 1).replace(log1p, lambda z: sp.log(1 + z))
    expr = expr.replace(Ndtr, lambda x: sp.erfc(-x / sp.sqrt(2)) / 2)
    expr = expr.replace(ReluKernel, lambda c: (c * sp.asin(c) + sp.sqrt(1 - c**2)) / sp.pi + c / 2)
    expr = expr.replace(SinMinusXCos, lambda x: sp.sin(x) - x * sp.cos(x))
    expr = expr.replace(Gram2, lambda q1, q2, c: q1 * q2 - c**2)
    expr = expr.replace(LogSinc, lambda u: sp.log(sp.sin(u) / u)).replace(LogAsinc, lambda z: sp.log(sp.asin(z) / z))
    expr = expr.replace(ErfAngleGap, lambda q1, q2, c, det: sp.asin(2 * sp.sqrt(q1 * q2) / sp.sqrt((1 + 2 * q1) * (1 + 2 * q2)))
                        - sp.asin(2 * sp.Abs(c) / sp.sqrt((1 + 2 * q1) * (1 + 2 * q2))))
    expr = expr.replace(ErfNormGap, lambda q1, q2, diff: sp.asin(2 * q1 / (1 + 2 * q1)) - sp.asin(2 * q2 / (1 + 2 * q2)))
    expr = expr.replace(ArcCosKernel, lambda c, det: (sp.sqrt(det) + sp.atan2(sp.sqrt(det), -c) * c) / (2 * sp.pi))
    expr = expr.replace(HalfErfc, lambda x: sp.erfc(x) / 2)
    expr = expr.replace(AffineIterate, lambda a, b, q, n: a**n * q + b * (a**n - 1) / (a - 1))
    return expr.replace(Geom, lambda a, n: (a**n - 1) / (a - 1))


class Expectation(sp.Function):
    r"""``E[x]``, the expected value, for writing defining equations (``\mathbb{E}[t] = …``); never evaluated."""

    nargs = 1

    def _latex(self, printer, exp=None):
        return r"\mathbb{E}\left[%s\right]" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "E[%s]" % printer._print(self.args[0])


# -- Gaussian expectations, activations and the special functions of signal propagation (family 3) ------

class GaussE(sp.Function):
    r"""``GaussE(f, z1, ..., zk) = E[f]`` over iid standard normal ``z1 … zk`` — a marker in a defining
    equation, evaluated by :mod:`learndyn.derive.gaussian` (symbolically where SymPy can, else by quadrature)."""

    def _latex(self, printer, exp=None):
        integrand, *zs = self.args
        sub = ",".join(printer._print(z) for z in zs)
        return r"\mathbb{E}_{%s}\left[%s\right]" % (sub, printer._print(integrand))

    def _sympystr(self, printer):
        integrand, *zs = self.args
        return "E_{%s}[%s]" % (",".join(printer._print(z) for z in zs), printer._print(integrand))


class BivariateE(sp.Function):
    r"""``BivariateE(f, g, q1, c, q2) = E[f(u_a) g(u_b)]`` with ``(u_a, u_b) ~ N(0, [[q1, c], [c, q2]])``; ``f`` and
    ``g`` are one-variable ``sp.Lambda``s. A marker in a defining equation: the engine integrates it over the
    Cholesky factors ``u_a = √q1 z1``, ``u_b = (c/√q1) z1 + √((q1 q2 − c²)/q1) z2`` or, where SymPy cannot,
    by Price's theorem ``∂_c E[f(u_a) g(u_b)] = E[f'(u_a) g'(u_b)]`` from ``c = 0``."""

    nargs = 5

    def _latex(self, printer, exp=None):
        f, g = self.args[:2]
        fa = printer._print(f(sp.Symbol("u_a")))
        gb = printer._print(g(sp.Symbol("u_b")))
        return r"\mathbb{E}\left[%s\,%s\right]" % (fa, gb)

    def _sympystr(self, printer):
        f, g, q1, c, q2 = self.args
        return "E[%s * %s; q1=%s, c=%s, q2=%s]" % tuple(printer._print(v) for v in (f(sp.Symbol("u_a")), g(sp.Symbol("u_b")), q1, c, q2))


class Gram2(sp.Function):
    r"""``q1 q2 − c²``, the determinant of a 2×2 covariance, computed without cancellation (error-free
    products) so that it is exact to round-off even for nearly identical or opposite inputs."""

    nargs = 3

    def _latex(self, printer, exp=None):
        q1, q2, c = (printer._print(v) for v in self.args)
        return r"\left(%s %s - %s^{2}\right)" % (q1, q2, c)


class ArcCosKernel(sp.Function):
    r"""The ReLU kernel map in terms of the covariance ``c`` and the determinant ``det = q1 q2 − c²``:
    ``(√det + (π − θ) c)/(2π)`` with ``θ = atan2(√det, c)``, relative-accurate as ``θ → 0`` and ``θ → π`` and
    with finite gradients there (``∂/∂c = (π − θ + c√det/(q1 q2))/(2π)``, ``∂/∂det = √det/(4π q1 q2)``)."""

    nargs = 2

    def _latex(self, printer, exp=None):
        c, det = (printer._print(v) for v in self.args)
        return r"\frac{\sqrt{%s} + \left(\pi - \theta\right) %s}{2\pi}" % (det, c)


class ReLU(sp.Function):
    r"""``φ(x) = max(0, x)``; rewrites to a ``Piecewise`` (one kink at 0) for integration."""

    nargs = 1

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return sp.Piecewise((x, x > 0), (0, True))

    def _latex(self, printer, exp=None):
        base = r"\phi\left(%s\right)" % printer._print(self.args[0])
        return base if exp is None else r"\phi^{%s}\left(%s\right)" % (exp, printer._print(self.args[0]))


class ShiftedReLU(sp.Function):
    r"""``φ_α(x) = max(0, x + α) − α`` (Pretorius et al. 2018): ``x`` above ``−α``, ``−α`` below."""

    nargs = 2

    def _eval_rewrite_as_Piecewise(self, x, alpha, **kwargs):
        return sp.Piecewise((x, x + alpha > 0), (-alpha, True))

    def _latex(self, printer, exp=None):
        x, a = (printer._print(v) for v in self.args)
        base = r"\phi_{%s}" % a
        return (base if exp is None else base + "^{%s}" % exp) + r"\left(%s\right)" % x


class Step(sp.Function):
    r"""``𝟙[x > 0]`` (the derivative of a rectifier, ``φ' ∈ {0, 1}``)."""

    nargs = 1

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return sp.Piecewise((1, x > 0), (0, True))

    def _latex(self, printer, exp=None):
        return r"\mathbf{1}\left[%s > 0\right]" % printer._print(self.args[0])  # amssymb has no blackboard 1


class Ndtr(sp.Function):
    r"""The standard normal CDF ``Φ(x) = ½ erfc(−x/√2)``, kept as its own function: SymPy rewrites
    ``½ erfc(−x)`` to ``1 − ½ erfc(x)``, which is 0 in float64 for large negative ``x``."""

    nargs = 1

    def fdiff(self, argindex=1):
        x = self.args[0]
        return sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)

    def _eval_rewrite_as_erfc(self, x, **kwargs):
        return sp.erfc(-x / sp.sqrt(2)) / 2

    def _eval_evalf(self, prec):
        x = self.args[0]._eval_evalf(prec)
        if x is None:
            return None
        with mpmath.workprec(prec + 20):
            return sp.Float(mpmath.ncdf(mpmath.mpf(str(x))), precision=prec)

    def _latex(self, printer, exp=None):
        base = r"\Phi\left(%s\right)" % printer._print(self.args[0])
        return base if exp is None else r"\Phi^{%s}\left(%s\right)" % (exp, printer._print(self.args[0]))


class ReluKernel(sp.Function):
    r"""The arc-cosine kernel of degree 1 normalised to ``κ(1) = 1``:
    ``κ(c) = (c (π − arccos c) + √(1 − c²))/π = (c arcsin c + √(1 − c²))/π + c/2``, ``c ∈ [−1, 1]``
    (``2 E[φ(u1)φ(u2)]/q`` for ReLU and unit-variance inputs of correlation ``c``)."""

    nargs = 1

    def fdiff(self, argindex=1):
        c = self.args[0]
        return sp.asin(c) / sp.pi + sp.Rational(1, 2)

    def _eval_evalf(self, prec):
        c = self.args[0]._eval_evalf(prec)
        if c is None:
            return None
        with mpmath.workprec(prec + 20):
            return sp.Float(relu_kernel_mp(mpmath.mpf(str(c))), precision=prec)

    def _latex(self, printer, exp=None):
        base = r"\kappa_1\left(%s\right)" % printer._print(self.args[0])
        return base if exp is None else r"\kappa_1^{%s}\left(%s\right)" % (exp, printer._print(self.args[0]))


def relu_kernel_mp(c):
    return (c * mpmath.asin(c) + mpmath.sqrt(1 - c**2)) / mpmath.pi + c / 2


def sin_minus_x_cos_mp(x):
    return mpmath.sin(x) - x * mpmath.cos(x)


class _MpmathFunction(sp.Function):
    """A stable-form function that SymPy keeps whole: evaluated numerically (for the proofs) by its mpmath
    implementation ``_mp`` at twice the working precision, printed to torch by the project's printer."""

    _mp = None

    def _eval_evalf(self, prec):
        vals = [a._eval_evalf(prec) for a in self.args]
        if any(v is None for v in vals):
            return None
        with mpmath.workprec(2 * prec + 40):
            return sp.Float(type(self)._mp(*(mpmath.mpf(str(v)) for v in vals)), precision=prec)


class SinMinusXCos(_MpmathFunction):
    r"""``g(x) = sin x − x cos x`` (``≈ x³/3`` for small ``x``; computed by its series there)."""

    nargs = 1
    _mp = staticmethod(sin_minus_x_cos_mp)

    def fdiff(self, argindex=1):
        x = self.args[0]
        return x * sp.sin(x)

    def _latex(self, printer, exp=None):
        x = printer._print(self.args[0])
        return r"\left(\sin %s - %s\cos %s\right)" % (x, x, x)


def log_sinc_mp(u):
    return mpmath.mpf(0) if u == 0 else mpmath.log(mpmath.sin(u) / u)


def log_asinc_mp(z):
    return mpmath.mpf(0) if z == 0 else mpmath.log(mpmath.asin(z) / z)


def erf_angle_gap_mp(q1, q2, c, det):
    n = (1 + 2 * q1) * (1 + 2 * q2)
    g, s = 2 * mpmath.sqrt(q1 * q2 / n), 2 * abs(c) / mpmath.sqrt(n)
    cg, cs = mpmath.sqrt((1 + 2 * q1 + 2 * q2) / n), mpmath.sqrt((1 + 2 * q1 + 2 * q2 + 4 * det) / n)
    return mpmath.atan2(4 * det / n / (g * cs + s * cg), cg * cs + g * s)


def erf_norm_gap_mp(q1, q2, diff):
    n1, n2 = 1 + 2 * q1, 1 + 2 * q2
    a1, a2 = 2 * q1 / n1, 2 * q2 / n2
    c1, c2 = mpmath.sqrt(1 + 4 * q1) / n1, mpmath.sqrt(1 + 4 * q2) / n2
    return mpmath.atan2(2 * diff / (n1 * n2) * (a1 + a2) / (a1 * c2 + a2 * c1), c1 * c2 + a1 * a2)


class LogSinc(_MpmathFunction):
    r"""``ln(sin u / u)`` for ``|u| < π`` (``≈ −u²/6`` for small ``u``; computed by its series there, so it is
    relative-accurate where the direct form keeps only ``ε`` of absolute accuracy)."""

    nargs = 1
    _mp = staticmethod(log_sinc_mp)

    def fdiff(self, argindex=1):
        u = self.args[0]
        return sp.cot(u) - 1 / u

    def _latex(self, printer, exp=None):
        u = printer._print(self.args[0])
        return r"\ln\frac{\sin %s}{%s}" % (u, u)


class LogAsinc(_MpmathFunction):
    r"""``ln(arcsin z / z)`` for ``|z| ≤ 1`` (``≈ z²/6`` for small ``z``; computed by its series there)."""

    nargs = 1
    _mp = staticmethod(log_asinc_mp)

    def fdiff(self, argindex=1):
        z = self.args[0]
        return 1 / (sp.sqrt(1 - z**2) * sp.asin(z)) - 1 / z

    def _latex(self, printer, exp=None):
        z = printer._print(self.args[0])
        return r"\ln\frac{\arcsin %s}{%s}" % (z, z)


class ErfAngleGap(_MpmathFunction):
    r"""``Δ = A_g − |A_12|`` of the erf kernel map: ``A_g = arcsin(2√(q1 q2)/√((1 + 2q1)(1 + 2q2)))``,
    ``A_12 = arcsin(2c/√((1 + 2q1)(1 + 2q2)))``, from the carried ``det = q1 q2 − c²`` without cancellation:
    ``Δ = atan2((g² − s²)/(g √(1 − s²) + |s| √(1 − g²)), √(1 − g²)√(1 − s²) + g|s|)`` with ``g², s²`` the squared
    sines, ``g² − s² = 4 det/((1 + 2q1)(1 + 2q2))``; every factor is O(1), so nothing overflows for variances up to
    1e150."""

    nargs = 4
    _mp = staticmethod(erf_angle_gap_mp)

    def _latex(self, printer, exp=None):
        return r"\Delta\left(%s\right)" % ", ".join(printer._print(a) for a in self.args)


class ErfNormGap(_MpmathFunction):
    r"""``D = A_11 − A_22`` of the erf kernel map, ``A_ii = arcsin(2q_i/(1 + 2q_i))``, from the carried
    ``diff = q1 − q2``: ``sin A_11 − sin A_22 = 2 diff/((1 + 2q1)(1 + 2q2))`` and
    ``D = atan2((a1² − a2²)/(a1 cos A_22 + a2 cos A_11), cos A_11 cos A_22 + a1 a2)``, ``a_i = sin A_ii``."""

    nargs = 3
    _mp = staticmethod(erf_norm_gap_mp)

    def _latex(self, printer, exp=None):
        return r"D\left(%s\right)" % ", ".join(printer._print(a) for a in self.args)


class Geom(sp.Function):
    r"""``Geom(a, n) = (a^n − 1)/(a − 1) = Σ_{k<n} a^k`` (``n`` at ``a = 1``)."""

    nargs = 2

    @classmethod
    def eval(cls, a, n):
        if a == 1:
            return n

    def _eval_evalf(self, prec):
        a, n = self.args
        am = a._eval_evalf(prec)
        if am is None or not n.is_Integer:
            return None
        with mpmath.workprec(prec + 20):
            am = mpmath.mpf(str(am))
            val = mpmath.mpf(int(n)) if am == 1 else (am ** int(n) - 1) / (am - 1)
            return sp.Float(val, precision=prec)

    def _latex(self, printer, exp=None):
        a, n = (printer._print(v) for v in self.args)
        return r"\frac{\left(%s\right)^{%s} - 1}{%s - 1}" % (a, n, a)


class HalfErfc(sp.Function):
    r"""``½ erfc(x)`` as written in the papers, kept whole: SymPy evaluates ``erfc(−x)`` to ``2 − erfc(x)`` on
    construction (and again when a pickled expression is loaded), which would change a published form."""

    nargs = 1

    def _latex(self, printer, exp=None):
        return r"\tfrac{1}{2}\operatorname{erfc}\left(%s\right)" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "erfc(%s)/2" % printer._print(self.args[0])


class AffineIterate(sp.Function):
    r"""``AffineIterate(a, b, q, n) = a^n q + b (a^n − 1)/(a − 1)``: ``n`` steps of ``q ↦ a q + b``."""

    nargs = 4

    def _latex(self, printer, exp=None):
        a, b, q, n = (printer._print(v) for v in self.args)
        return r"\left(%s\right)^{%s} %s + %s\,\frac{\left(%s\right)^{%s} - 1}{%s - 1}" % (a, n, q, b, a, n, a)


_ACTIVATIONS = (ReLU, ShiftedReLU, Step)


#: mpmath implementations of the functions above, for lambdify(modules=[MPMATH_FUNCTIONS, "mpmath"])
MPMATH_FUNCTIONS = {
    "Ndtr": lambda x: mpmath.ncdf(x),
    "ReluKernel": relu_kernel_mp,
    "SinMinusXCos": sin_minus_x_cos_mp,
    "Geom": lambda a, n: mpmath.mpf(int(n)) if a == 1 else (a ** int(n) - 1) / (a - 1),
    "HalfErfc": lambda x: mpmath.erfc(x) / 2,
    "Gram2": lambda q1, q2, c: q1 * q2 - c**2,
    "LogSinc": log_sinc_mp,
    "LogAsinc": log_asinc_mp,
    "ErfAngleGap": erf_angle_gap_mp,
    "ErfNormGap": erf_norm_gap_mp,
    "ArcCosKernel": lambda c, det: (mpmath.sqrt(det) + mpmath.atan2(mpmath.sqrt(det), -c) * c) / (2 * mpmath.pi),
    "AffineIterate": lambda a, b, q, n: a ** int(n) * q + b * (mpmath.mpf(int(n)) if a == 1 else (a ** int(n) - 1) / (a - 1)),
    "exprel": lambda z: mpmath.mpf(1) if z == 0 else mpmath.expm1(z) / z,
    "log1prel": lambda z: mpmath.mpf(1) if z == 0 else mpmath.log1p(z) / z,
}

# family 5's kernels (classification dynamics): their mpmath closed forms
from learndyn.derive.margin_functions import MARGIN_MPMATH  # noqa: E402

MPMATH_FUNCTIONS.update(MARGIN_MPMATH)
