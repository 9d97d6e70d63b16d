r"""Gaussian expectations by numeric integration, independent of SymPy's integration: the independent reference of a
:class:`~learndyn.derive.declaration.GaussianMap` and of the layer maps of a kernel composition.

``E[f] = ∫ f(z) φ(z) dz`` over one or two iid standard normal variables (the last innermost), split at the kinks of
the rectifiers (``ReLU``, ``Step``, ``ShiftedReLU``, ``Heaviside``, ``Abs``, ``sign``, ``Max``, ``Min``: where their
argument, linear in the variable, changes sign). On each piece between kinks:

* a polynomial piece (rectifiers are piecewise polynomial): exact truncated-normal moments
  ``M_n(a, b) = ∫_a^b z^n φ(z) dz``, ``M_0 = Φ(b) − Φ(a)`` (on the side of ``Φ`` without cancellation),
  ``M_1 = φ(a) − φ(b)``, ``M_n = a^{n−1} φ(a) − b^{n−1} φ(b) + (n − 1) M_{n−2}``, with the polynomial's
  coefficients interpolated at ``n + 1`` nodes of the piece, 20 digits above the working precision (exact also in
  the far tail: ``Φ(−949)``);
* a smooth integrand on the whole line: the trapezoidal rule on ``|z| ≤ Z`` (``φ(Z) < 10^{−(dps+10)}``), spectrally
  accurate for an analytic integrand with Gaussian decay; the step starts from the scale of the arguments and is
  halved until the rule on every other node agrees: the error of ``T(h)`` is at most ``|T(h) − T(2h)|`` to the power
  4 for an entire integrand (``erf``, ``exp``: a Gaussian Fourier tail, error ``e^{−C/h²}``) and 2 otherwise (a
  pole, ``e^{−C/h}``);
* any other piece: Clenshaw–Curtis on the piece cut at ``±Z``, doubling the nodes (32, 64, …) until the rule on
  half of them agrees to the square root of the target (geometric convergence), with breakpoints ``a + 4^j/a`` toward
  the end of a piece that lies in the far tail.

A bivariate expectation ``E[f(u_a) g(u_b)]`` (:func:`bivariate_expectation`) is taken over the Cholesky factors
``u_a = √q1 z1``, ``u_b | u_a ~ N(c u_a/q1, (q1 q2 − c²)/q1)``; where neither ``f`` nor ``g`` is piecewise polynomial
(``erf``), the inner trapezoidal rule runs in ``u_b`` on one grid shared by every outer node, so ``g`` is evaluated
once per grid point and the conditional density by a multiplicative recurrence.

Nested 2-D tanh-sinh (``mpmath.quad``) at 40 digits took 54 s (ReLU) and 191 s (erf) per point on this machine,
which is why these rules are used. A point whose rule would need more than ``budget`` nodes per variable raises
:class:`QuadratureBudget` (the caller draws another point).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import mpmath
import sympy as sp

from learndyn.derive import functions as F

__all__ = ["expectation", "bivariate_expectation", "QuadratureBudget", "MP_ACTIVATIONS"]


class QuadratureBudget(ArithmeticError):
    """The rule would need more nodes than allowed at this point."""


def _relu(x):
    return x if x > 0 else 0 * x


#: mpmath implementations of the rectifiers (for lambdify), beside :data:`learndyn.derive.functions.MPMATH_FUNCTIONS`
MP_ACTIVATIONS = {
    "ReLU": _relu,
    "Step": lambda x: mpmath.mpf(1) if x > 0 else mpmath.mpf(0),
    "ShiftedReLU": lambda x, a: x if x + a > 0 else -a,
    "Heaviside": lambda x, *half: mpmath.mpf(1) if x > 0 else mpmath.mpf(0),
}
_ENTIRE = (sp.exp, sp.erf, sp.erfc, sp.sin, sp.cos, sp.sinh, sp.cosh)


def _kink_arguments(expr: sp.Expr) -> list[sp.Expr]:
    """The expressions whose sign picks a rectifier's branch."""
    out = [a.args[0] for a in expr.atoms(F.ReLU, F.Step, sp.Heaviside, sp.Abs, sp.sign)]
    out += [a.args[0] + a.args[1] for a in expr.atoms(F.ShiftedReLU)]
    for m in expr.atoms(sp.Max, sp.Min):
        args = list(m.args)
        out += [args[i] - args[j] for i in range(len(args)) for j in range(i + 1, len(args))]
    return out


def _stand_in(expr: sp.Expr) -> sp.Expr:
    """Each rectifier replaced by its branch of highest degree: the degree of a piecewise polynomial."""
    expr = expr.replace(F.ReLU, lambda x: x).replace(F.Step, lambda x: sp.S.One)
    expr = expr.replace(F.ShiftedReLU, lambda x, a: x).replace(sp.Abs, lambda x: x).replace(sp.sign, lambda x: sp.S.One)
    expr = expr.replace(sp.Heaviside, lambda x, *h: sp.S.One)
    return expr.replace(sp.Max, lambda *a: sp.Add(*a)).replace(sp.Min, lambda *a: sp.Add(*a))


def _degree(expr: sp.Expr, v: sp.Symbol) -> int | None:
    """The degree in ``v`` of a piecewise-polynomial integrand, or ``None`` if it is not one."""
    try:
        poly = sp.Poly(sp.expand(_stand_in(expr)), v)
    except sp.PolynomialError:
        return None
    if any(c.has(v) for c in poly.coeffs()) or not all(sp.diff(k, v, 2) == 0 for k in _kink_arguments(expr)):
        return None
    return poly.degree()


def _power(expr: sp.Expr) -> int:
    """4 for an entire integrand (the trapezoidal rule's error is ``e^{−C/h²}``), else 2."""
    return 4 if all(issubclass(type(f), _ENTIRE) for f in expr.atoms(sp.Function)) else 2


def _lambdify(args: tuple[sp.Symbol, ...], expr: sp.Expr) -> Callable:
    return sp.lambdify(args, expr, modules=[MP_ACTIVATIONS, dict(F.MPMATH_FUNCTIONS), "mpmath"])


def _scale(expr: sp.Expr, v: sp.Symbol, outer: tuple) -> Callable:
    """The largest ``|∂ argument/∂v|`` of the functions in ``expr`` (at least 1): the trapezoidal step is ``1/(2·scale)``."""
    coeffs = [sp.diff(f.args[0], v) for f in expr.atoms(sp.Function) if f.args and f.args[0].has(v)]
    fns = [_lambdify(outer, c) for c in coeffs if c.free_symbols <= set(outer)]
    return lambda *x: max([mpmath.mpf(1)] + [abs(f(*x)) for f in fns])


def _tail() -> mpmath.mpf:
    """``Z`` with ``φ(Z) < 10^{−(dps+10)}``."""
    return mpmath.sqrt(2 * mpmath.log(10) * (mpmath.mp.dps + 10))


def _npdf(x):
    return mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)


def _target():
    return mpmath.mpf(10) ** -(mpmath.mp.dps - 3)


# -- one-dimensional rules for ∫ g(z) φ(z) dz ----------------------------------------------------------------------

def _moments(a, b, n: int) -> list:
    """``∫_a^b z^k φ(z) dz`` for ``k ≤ n`` (``a``, ``b`` may be infinite)."""
    pa = _npdf(a) if mpmath.isfinite(a) else mpmath.mpf(0)
    pb = _npdf(b) if mpmath.isfinite(b) else mpmath.mpf(0)
    m0 = mpmath.ncdf(-a) - mpmath.ncdf(-b) if a >= 0 else mpmath.ncdf(b) - mpmath.ncdf(a)
    out = [m0, pa - pb]
    for k in range(2, n + 1):
        ta = a ** (k - 1) * pa if mpmath.isfinite(a) else mpmath.mpf(0)
        tb = b ** (k - 1) * pb if mpmath.isfinite(b) else mpmath.mpf(0)
        out.append(ta - tb + (k - 1) * out[k - 2])
    return out[: n + 1]


def _nodes(a, b, n: int) -> list:
    if mpmath.isfinite(a) and mpmath.isfinite(b):
        return [a + (b - a) * mpmath.mpf(j + 1) / (n + 2) for j in range(n + 1)]
    if mpmath.isfinite(a):
        return [a + j + 1 for j in range(n + 1)]
    if mpmath.isfinite(b):
        return [b - j - 1 for j in range(n + 1)]
    return [mpmath.mpf(j) - mpmath.mpf(n) / 2 for j in range(n + 1)]


def _polynomial_piece(g: Callable, a, b, n: int):
    """``∫_a^b g φ`` for a polynomial ``g`` of degree ``≤ n`` on ``(a, b)``."""
    nodes = _nodes(a, b, n)
    values = [g(x) for x in nodes]
    if all(v == 0 for v in values):
        return mpmath.mpf(0)
    V = mpmath.matrix([[x**j for j in range(n + 1)] for x in nodes])
    coef = mpmath.lu_solve(V, mpmath.matrix(values))
    return mpmath.fsum(coef[j] * m for j, m in enumerate(_moments(a, b, n)))


def _trapezoid(g: Callable, scale, budget: int, power: int):
    """``∫ g φ`` over the line by the trapezoidal rule, halving the step until it has converged (see the module)."""
    Z = _tail()
    h = mpmath.mpf(1) / (2 * scale)
    n = int(Z / h) + 1
    if 2 * n + 1 > budget:
        raise QuadratureBudget(f"the trapezoidal rule needs {2 * n + 1} nodes")
    values = [g(j * h) * _npdf(j * h) for j in range(-n, n + 1)]
    total, norm = mpmath.fsum(values), mpmath.fsum(abs(v) for v in values)
    estimate = h * total
    while True:
        h, n = h / 2, 2 * n
        if 2 * n + 1 > budget:
            raise QuadratureBudget(f"the trapezoidal rule needs {2 * n + 1} nodes")
        values = [g(j * h) * _npdf(j * h) for j in range(-n + 1, n, 2)]
        total += mpmath.fsum(values)
        norm += mpmath.fsum(abs(v) for v in values)
        refined = h * total
        if abs(refined - estimate) ** power <= _target() * h * norm:
            return refined
        estimate = refined


@functools.lru_cache(maxsize=None)
def _clenshaw_curtis_rule(n: int, prec: int) -> tuple[list, list]:
    """Nodes ``cos(kπ/n)`` and weights of the ``n + 1``-point Clenshaw–Curtis rule on ``[−1, 1]`` (``n`` even):
    ``w_k = (c_k/n)(1 − Σ_{j=1}^{n/2} b_j cos(2jkπ/n)/(4j² − 1))``, ``c_0 = c_n = b_{n/2} = 1``, else 2."""
    with mpmath.workprec(prec):
        cosines = [mpmath.cos(mpmath.pi * m / n) for m in range(2 * n)]
        coef = [mpmath.mpf(1 if 2 * j == n else 2) / (4 * j * j - 1) for j in range(1, n // 2 + 1)]
        half = []
        for k in range(n // 2 + 1):
            s = 1 - mpmath.fdot(coef, [cosines[(2 * j * k) % (2 * n)] for j in range(1, n // 2 + 1)])
            half.append((1 if k == 0 else 2) * s / n)
        weights = half + half[: n // 2][::-1]  # symmetric: w_k = w_{n−k}
        return cosines[: n + 1], weights


def _clenshaw_curtis(f: Callable, a, b, budget: int):
    """``∫_a^b f`` by nested Clenshaw–Curtis rules, doubling until two successive rules agree (see the module)."""
    cache: dict = {}
    previous = None
    n = 32
    inside = (b - a) * mpmath.mpf(10) ** -(mpmath.mp.dps + 10)
    while True:
        if n + 1 > budget:
            where = f"[{mpmath.nstr(a, 5)}, {mpmath.nstr(b, 5)}]"
            raise QuadratureBudget(f"Clenshaw–Curtis needs more than {budget} nodes on {where}")
        nodes, weights = _clenshaw_curtis_rule(n, mpmath.mp.prec)
        values = []
        for k, x in enumerate(nodes):
            key = mpmath.mpf(k) / n
            if key not in cache:  # the end points nudged inside: a step takes the piece's branch there
                y = b - inside if k == 0 else a + inside if k == n else a + (b - a) * (x + 1) / 2
                cache[key] = f(y)
            values.append(cache[key])
        estimate = (b - a) / 2 * mpmath.fsum(w * v for w, v in zip(weights, values))
        if previous is not None:
            norm = (b - a) / 2 * mpmath.fsum(w * abs(v) for w, v in zip(weights, values))
            if abs(estimate - previous) ** 2 <= _target() * norm or norm == 0:
                return estimate
        previous, n = estimate, 2 * n


def _smooth_piece(g: Callable, a, b, budget: int):
    """``∫_a^b g φ`` for ``g`` analytic on the piece: Clenshaw–Curtis, cut at ``±Z``, with breakpoints in the far tail."""
    Z = _tail()
    f = lambda x: g(x) * _npdf(x)  # noqa: E731
    lo, hi = (max(a, -Z) if a < Z else a), (min(b, Z) if b > -Z else b)
    if lo >= hi:
        return mpmath.mpf(0)
    if lo >= 2:  # the mass sits at the left end
        cuts = [lo] + [lo + mpmath.mpf(4) ** j / lo for j in range(6)] + [lo + 200 / lo]
    elif hi <= -2:
        cuts = [hi - 200 / -hi] + [hi - mpmath.mpf(4) ** j / -hi for j in reversed(range(6))] + [hi]
    else:
        return _clenshaw_curtis(f, lo, hi, budget)
    cuts = sorted({min(max(x, lo), hi) for x in cuts})
    return mpmath.fsum(_clenshaw_curtis(f, x, y, budget) for x, y in zip(cuts, cuts[1:]))


@dataclass(frozen=True)
class _Variable:
    """How to integrate over one variable: kinks as ``(α, β)`` functions of the outer variables (a kink at ``−β/α``),
    the degree of a piecewise-polynomial integrand (``None``: not one), the trapezoidal step's scale and error power."""

    kinks: tuple
    degree: int | None
    scale: Callable
    power: int

    def integrate(self, g: Callable, outer: tuple, budget: int):
        kinks = sorted({-beta(*outer) / alpha(*outer) for alpha, beta in self.kinks if alpha(*outer) != 0})
        edges = [-mpmath.inf] + kinks + [mpmath.inf]
        if self.degree is not None:
            with mpmath.extradps(20):
                total = mpmath.fsum(_polynomial_piece(g, a, b, self.degree) for a, b in zip(edges, edges[1:]))
            return +total
        if not kinks:
            return _trapezoid(g, self.scale(*outer), budget, self.power)
        return mpmath.fsum(_smooth_piece(g, a, b, budget) for a, b in zip(edges, edges[1:]))


def _kinks(arguments, v: sp.Symbol, outer: tuple) -> tuple:
    out = []
    for k in arguments:
        if sp.diff(k, v, 2) != 0:
            raise ValueError(f"the kink of {sp.sstr(k)} is not linear in {v}")
        out.append((_lambdify(outer, sp.diff(k, v)), _lambdify(outer, k.subs(v, 0))))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _plan(integrand: sp.Expr, variables: tuple[sp.Symbol, ...]):
    """Per variable (outer first) how to integrate, and the integrand as an mpmath callable."""
    arguments = _kink_arguments(integrand)
    if len(variables) == 1:
        (z,) = variables
        own = [k for k in arguments if k.has(z)]
        var = _Variable(_kinks(own, z, ()), _degree(integrand, z), _scale(integrand, z, ()), _power(integrand))
        return (var,), _lambdify((z,), integrand)
    if len(variables) != 2:
        raise ValueError(f"expectations over {len(variables)} variables are not supported (one or two)")
    z1, z2 = variables
    inner_args = [k for k in arguments if k.has(z2)]
    inner = _Variable(_kinks(inner_args, z2, (z1,)), _degree(integrand, z2), _scale(integrand, z2, (z1,)), _power(integrand))
    # the outer integrand (the inner integral) is smooth across the inner kinks: its kinks are those free of z2; it is
    # a piecewise polynomial in z1 where the inner one is and no inner kink moves with z1
    moves = any(k.has(z1) for k in inner_args)
    degree = _degree(integrand, z1) if inner.degree is not None and not moves else None
    own = [k for k in arguments if k.has(z1) and not k.has(z2)]
    outer = _Variable(_kinks(own, z1, ()), degree, _scale(integrand, z1, ()), inner.power)
    return (outer, inner), _lambdify((z1, z2), integrand)


def expectation(integrand: sp.Expr, variables: tuple[sp.Symbol, ...], *, budget: int = 400) -> mpmath.mpf:
    """``E[integrand]`` over iid standard normal ``variables`` (one or two; the integrand's other symbols already
    replaced by numbers), at the working precision (see the module)."""
    plan, f = _plan(integrand.evalf(mpmath.mp.dps + 10), tuple(variables))
    if len(plan) == 1:
        return plan[0].integrate(f, (), budget)
    outer, inner = plan
    return outer.integrate(lambda x: inner.integrate(lambda y: f(x, y), (x,), budget), (), budget)


# -- bivariate expectations E[f(u_a) g(u_b)] ---------------------------------------------------------------------------

def _mpf(v):
    if isinstance(v, mpmath.mpf):
        return v
    r = sp.Rational(v)
    return mpmath.mpf(r.p) / r.q


def bivariate_expectation(f: sp.Lambda, g: sp.Lambda, q1, c, q2, *, budget: int = 400) -> mpmath.mpf:
    """``E[f(u_a) g(u_b)]``, ``(u_a, u_b) ~ N(0, [[q1, c], [c, q2]])`` (``f``, ``g`` one-variable ``sp.Lambda``s;
    ``q1``, ``c``, ``q2`` exact rationals), at the working precision (see the module)."""
    q1, c, q2 = (sp.Rational(v) if not isinstance(v, sp.Basic) else v for v in (q1, c, q2))
    det = q1 * q2 - c**2
    if det < 0:
        raise ValueError(f"not a covariance: q1 q2 − c² = {det}")
    z1, z2 = sp.symbols("z1 z2", real=True)
    x = sp.Symbol("x", real=True)
    polynomial = {h: _degree(h(x), x) is not None for h in (f, g)}
    if det == 0:
        return expectation(f(sp.sqrt(q1) * z1) * g(c / sp.sqrt(q1) * z1), (z1,), budget=budget)
    if polynomial[f] and not polynomial[g]:  # the piecewise-polynomial factor innermost
        f, g, q1, q2 = g, f, q2, q1
    if polynomial[g] or polynomial[f]:
        return expectation(f(sp.sqrt(q1) * z1) * g(c / sp.sqrt(q1) * z1 + sp.sqrt(det / q1) * z2), (z1, z2), budget=budget)
    return _smooth_bivariate(f, g, q1, c, q2, det, budget)


def _smooth_bivariate(f: sp.Lambda, g: sp.Lambda, q1, c, q2, det, budget: int):
    """Both factors smooth: the outer rule over ``z1`` (``u_a = √q1 z1``); the inner trapezoidal rule in ``u_b`` on a
    grid of step ``hw`` shared by every outer node, ``N(w; m, D²)`` by a multiplicative recurrence along the grid."""
    x = sp.Symbol("x", real=True)
    A, B, D = mpmath.sqrt(_mpf(q1)), _mpf(c) / mpmath.sqrt(_mpf(q1)), mpmath.sqrt(_mpf(det) / _mpf(q1))
    g_mp = _lambdify((x,), g(x).evalf(mpmath.mp.dps + 10))
    power = min(_power(f(x)), _power(g(x)))
    Z = _tail()
    hz = mpmath.mpf(1) / (2 * max(mpmath.mpf(1), D))   # the inner step in units of the conditional deviation D
    while True:
        if 2 * Z / hz > budget:
            raise QuadratureBudget(f"the inner trapezoidal rule needs {int(2 * Z / hz)} nodes")
        hw, table = hz * D, {}
        q = mpmath.exp(-hz * hz)

        def inner(z, hw=hw, hz=hz, q=q, table=table):
            """``∫ g(w) N(w; B z, D²) dw`` at steps ``hw`` and ``2 hw``; raises ``_Refine`` where they disagree."""
            m = B * z
            k0, k1 = int(mpmath.ceil((m - Z * D) / hw)), int(mpmath.floor((m + Z * D) / hw))
            t = (k0 * hw - m) / D
            e, r = mpmath.exp(-t * t / 2), mpmath.exp(-(2 * t * hz + hz * hz) / 2)
            fine, coarse, norm = [], [], []
            for k in range(k0, k1 + 1):
                if k not in table:
                    table[k] = g_mp(k * hw)
                term = table[k] * e
                fine.append(term)
                norm.append(abs(term))
                if k % 2 == 0:
                    coarse.append(term)
                e, r = e * r, r * q
            scale = hz / mpmath.sqrt(2 * mpmath.pi)
            value, rough, size = scale * mpmath.fsum(fine), 2 * scale * mpmath.fsum(coarse), scale * mpmath.fsum(norm)
            if abs(value - rough) ** power > _target() * size and size != 0:
                raise _Refine
            return value

        fx = _lambdify((x,), f(x).evalf(mpmath.mp.dps + 10))
        outer = _Variable(_kinks(_kink_arguments(f(x)), x, ()), None, lambda: max(A, abs(B), mpmath.mpf(1)), power)
        try:
            return outer.integrate(lambda s: fx(A * s) * inner(s), (), budget) if not outer.kinks else \
                mpmath.fsum(_smooth_piece(lambda s: fx(A * s) * inner(s), a, b, budget) for a, b in _pieces(outer, A))
        except _Refine:
            hz /= 2


def _pieces(var: _Variable, A) -> list[tuple]:
    """The pieces of ``z`` between the kinks of ``f(A z)`` (``var``'s kinks are in ``f``'s own argument)."""
    kinks = sorted({-beta() / (alpha() * A) for alpha, beta in var.kinks if alpha() != 0})
    edges = [-mpmath.inf] + kinks + [mpmath.inf]
    return list(zip(edges, edges[1:]))


class _Refine(Exception):
    """The shared inner grid is too coarse at some outer node."""
