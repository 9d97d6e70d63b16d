r"""Derivation of results that integrate a per-mode quantity against a spectral density (family 6 and a user's own).

For a :class:`~learndyn.derive.declaration.SpectralIntegral`:

1. the density is factored as ``w(λ) √((upper − λ)(λ − lower))`` with ``w`` rational (proven by simplification), and its
   total mass (atom plus bulk) is integrated by residues in every regime and must be 1;
2. the mode's state is solved (``dsolve`` of its ODE and ``checkodesol``, ``rsolve`` of its recurrence and substitution,
   or ``solve`` of its stationary equation), proven by substitution and the initial condition;
3. the integrand ``E[quantity]`` is taken over the mode's independent centred sources: for a quadratic ``Q``,
   ``E[Q] = Q|₀ + ½ Σ_v var_v ∂²Q/∂v²`` (exact, the third derivatives are proven 0); the state is written as
   ``D·(…) + C·(…)`` with the decay ``D`` (``e^{−λt}``, ``(1 − lr λ)^k``) and its complement ``C = 1 − D`` kept apart
   (``C = −expm1(−λt)``: nothing cancels for small ``λt``), which is proven equal to the solved state;
4. the atom's value is the integrand's limit ``λ → 0`` at fixed time (the frozen modes);
5. rational integrands (the ``t → ∞`` limit, a Stieltjes transform, ridge regression) are integrated in closed form by
   residues: ``λ = c + R(z + 1/z)`` maps the bulk to the unit circle, ``∫ρ f dλ = −πR² Σ Res_{|z|<1}[(z − 1/z)² w f / z]``,
   regime by regime (the regime's sample point decides which poles are inside); on a boundary between regimes the
   value is the limit;
6. a stationary time: the slope ``∂_t E[quantity]`` and curvature are derived for the emitted root; per mode the slope
   vanishes once, at ``t_λ`` (SymPy solves for it), negative before and positive after, so the integral changes sign
   between the extreme ``t_λ`` and a root exists (proven at seeded points).

The emitted form calls :func:`learndyn.numerics.spectral_density.bulk_integral` with a module-level integrand function
(``_integrand_NAME``: ``w·E[quantity]`` in the stable form) and, for a stationary time,
:func:`~learndyn.numerics.spectral_density.bulk_root`.
"""
from __future__ import annotations

import dataclasses
import functools
import random
from dataclasses import dataclass

import mpmath
import sympy as sp
from sympy.codegen.cfunctions import expm1
from sympy.solvers.ode import checkodesol

from learndyn.derive.declaration import ModeDynamics, Result, SpectralDensity, SpectralIntegral
from learndyn.derive.proof import DerivationError, Prover

__all__ = ["derive_spectral", "Integrand", "BulkIntegral", "BulkDensity", "BulkRoot", "PowDecay", "PowDecayGap", "DecayFactors",
           "with_decay_factors", "residue_integral",
           "bulk_weight", "mp_bulk_integral", "mp_bulk_root", "TimeStar"]


# -- SymPy functions the emitted form is built of ---------------------------------------------------------------

class BulkIntegral(sp.Function):
    r"""``∫ √((hi − λ)(λ − lo)) g(λ, *args) dλ`` with ``g`` the module-level integrand named by the first argument (a
    ``Symbol``), ``hi = lo + width``: arguments ``(name, lo, width, *args)``; printed as a call of
    :func:`learndyn.numerics.spectral_density.bulk_integral`."""

    def _latex(self, printer, exp=None):
        name = self.args[0].name.removeprefix("_integrand_").replace("_", r"\_")
        base = r"\mathcal{I}_{\mathrm{%s}}" % name
        return base if exp is None else r"%s^{%s}" % (base, exp)


class BulkDensity(sp.Function):
    r"""``w(λ) √((hi − λ)(λ − lo))`` on ``(lo, hi)`` and 0 elsewhere, with ``w`` the module-level integrand named by the
    first argument (its edges in double-double): arguments ``(name, λ, lo, width, *args)``; printed as a call of
    :func:`learndyn.numerics.spectral_density.bulk_density` (the distances to the edges without the edges' rounding)."""


class BulkRoot(sp.Function):
    r"""The time where the bulk integral of the slope integrand changes sign: arguments ``(slope name, curvature name,
    lo, width, *args)``; printed as :func:`learndyn.numerics.spectral_density.bulk_root`."""

    def _latex(self, printer, exp=None):
        return r"t^{*}"


class TimeStar(sp.Function):
    """The stationary time ``t*`` in derived (displayed) forms."""

    def _latex(self, printer, exp=None):
        return r"t^{*}"


class PowDecay(sp.Function):
    r"""``(1 − x)^k`` (``0 ≤ x < 2``, integer ``k``), printed as :func:`~learndyn.numerics.spectral_density.pow_decay`."""

    nargs = 2

    def _eval_rewrite_as_Pow(self, x, k, **kwargs):
        return (1 - x) ** k


class PowDecayGap(sp.Function):
    r"""``(1 − x)^k − 1``, printed as :func:`~learndyn.numerics.spectral_density.pow_decay_gap` (``expm1(k log1p(−x))``)."""

    nargs = 2

    def _eval_rewrite_as_Pow(self, x, k, **kwargs):
        return (1 - x) ** k - 1


class DecayFactors(sp.Function):
    r"""The factors ``(lr, λ)`` of a decay's base ``1 − lr λ`` inside an emitted integrand, printed as a tuple (with
    the node's low part) so that :func:`~learndyn.numerics.spectral_density.pow_decay` forms the product in
    double-double; a common subexpression of the integrand is then a tuple, never the rounded product."""

    nargs = 2


def with_decay_factors(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each decay ``PowDecay(a·b, k)``/``PowDecayGap(a·b, k)`` of a two-factor product written with
    :class:`DecayFactors` (for printing; the value is unchanged)."""
    def two_factors(x):
        return isinstance(x, sp.Mul) and len(x.args) == 2 and not any(a.is_number for a in x.args)
    return expr.replace(lambda e: isinstance(e, (PowDecay, PowDecayGap)) and two_factors(e.args[0]),
                        lambda e: e.func(DecayFactors(*e.args[0].args), e.args[1]))


def elementary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the decay functions and ``expm1`` written out (for proofs and mpmath)."""
    expr = expr.replace(PowDecay, lambda x, k: (1 - x) ** k).replace(PowDecayGap, lambda x, k: (1 - x) ** k - 1)
    return expr.replace(expm1, lambda z: sp.exp(z) - 1)


@dataclass(frozen=True)
class Integrand:
    """A module-level integrand function of the emitted code: ``def NAME(lam, *params): return expr``."""

    name: str
    variable: sp.Symbol
    params: tuple[sp.Symbol, ...]
    expr: sp.Expr
    #: ``(lower, width)`` of the density's bulk, emitted in double-double beside the integrand (its nodes are then
    #: exact to ~1e-32, which gradient descent's decay near the stability limit needs)
    edges: tuple | None = None
    #: the density's weight ``w(λ)`` itself (its edges are emitted whether or not the expression uses the nodes' low
    #: parts: :class:`BulkDensity` forms the distances to the edges from them)
    weight: bool = False


# -- the density -------------------------------------------------------------------------------------------------

def bulk_weight(density: SpectralDensity) -> sp.Expr:
    """``w(λ)`` of ``density = w(λ) √((upper − λ)(λ − lower))``."""
    lam = density.variable
    root = sp.sqrt((density.upper - lam) * (lam - density.lower))
    return sp.simplify(density.density / root)


def _regimes(density: SpectralDensity) -> list:
    """The density's regimes as ``(condition, sample point dict)``."""
    return [(cond, dict(sample)) for cond, sample in density.regimes]


def _regime_value(expr: sp.Expr, sample: dict) -> sp.Expr:
    """``expr`` with every ``Max``/``Min`` replaced by the argument that is larger/smaller at ``sample`` (the regime's
    branch)."""
    def pick(e, larger):
        values = [complex(sp.N(a.subs(sample))).real for a in e.args]
        i = values.index(max(values) if larger else min(values))
        return e.args[i]

    return expr.replace(lambda e: isinstance(e, sp.Max), lambda e: pick(e, True)).replace(
        lambda e: isinstance(e, sp.Min), lambda e: pick(e, False))


def _square_roots(expr: sp.Expr) -> dict:
    """``{s: q}`` for every positive symbol ``s`` of which ``expr`` takes a square root: ``s = q²`` with ``q`` positive
    makes the residue computation rational in ``q`` (much faster for SymPy than ``sqrt(s)``)."""
    out = {}
    for power in expr.atoms(sp.Pow):
        base, exponent = power.as_base_exp()
        if isinstance(base, sp.Symbol) and exponent.is_Rational and exponent.q == 2 and base.is_positive:
            out[base] = sp.Symbol(f"_{base.name}_root", positive=True)
    return out


def _residue(body: sp.Expr, z: sp.Symbol, pole: sp.Expr, order: int) -> sp.Expr:
    """The residue of the rational function ``body`` at ``pole`` of the given order (``N(p)/D'(p)`` at a simple pole)."""
    num, den = sp.fraction(sp.together(body))
    if order == 1:
        return sp.simplify(num.subs(z, pole) / sp.diff(den, z).subs(z, pole))
    inner = sp.cancel(body * (z - pole) ** order)
    inner = sp.diff(inner, z, order - 1) / sp.factorial(order - 1)
    return sp.cancel(inner.subs(z, pole))


def _contour(density: SpectralDensity, f: sp.Expr, sample: dict) -> sp.Expr:
    """``∫ density·f dλ`` by the residues inside the unit circle, for ``f`` whose poles in ``z`` are rational in the
    parameters (a polynomial, a pole at λ = 0) or simple."""
    lam = density.variable
    z = sp.Symbol("z")
    c = (density.lower + density.upper) / 2
    R = sp.sqrt(sp.simplify((density.upper - density.lower) ** 2 / 16))
    g = (bulk_weight(density) * f).subs(lam, c + R * (z + 1 / z))
    roots = _square_roots(g)
    g = g.subs({s: q**2 for s, q in roots.items()})
    R = sp.simplify(R.subs({s: q**2 for s, q in roots.items()}))
    at = {roots.get(k, k): (sp.sqrt(v) if k in roots else v) for k, v in sample.items()}
    body = sp.factor(sp.together((z - 1 / z) ** 2 * g / z))
    num, den = sp.fraction(body)
    poles = sp.roots(sp.Poly(den, z))
    if sum(poles.values()) != sp.Poly(den, z).degree():
        raise DerivationError(f"could not find every pole of {den}")
    total = sp.Integer(0)
    for pole, order in poles.items():
        others = {x: 1 for x in pole.free_symbols if x not in at}  # the regime fixes which poles are inside
        where = complex(sp.N(pole.subs(at).subs(others), 30))
        if abs(where) < 1 - 1e-12:
            total += _residue(body, z, pole, order)
        elif abs(abs(where) - 1) <= 1e-12:
            raise DerivationError(f"a pole {pole} of the integrand lies on the unit circle at {sample}")
    value = sp.factor(sp.cancel(-sp.pi * R**2 * total))
    return sp.simplify(sp.radsimp(value.subs({q: sp.sqrt(s) for s, q in roots.items()})))


def residue_integral(density: SpectralDensity, f: sp.Expr, sample: dict) -> sp.Expr:
    r"""``∫_lower^upper density(λ) f(λ) dλ`` for ``f`` rational in ``λ``, by residues, in the regime of ``sample``.

    ``f`` is split into partial fractions in ``λ``; a pole of order ``m`` at ``λ = a ≠ 0`` is integrated as
    ``∂_a^{m−1}/(m−1)!`` of the simple pole's integral (so every residue taken is at a rational or a simple pole)."""
    lam = density.variable
    a = sp.Symbol("_pole")
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.apart(sp.together(f), lam)):
        num, den = sp.fraction(sp.together(term))
        if not den.has(lam):
            total += _contour(density, term, sample)
            continue
        factors = [(b, e) for b, e in (x.as_base_exp() for x in sp.Mul.make_args(den)) if b.has(lam)]
        if len(factors) != 1 or sp.degree(factors[0][0], lam) != 1:
            raise DerivationError(f"a partial fraction {term} is not a power of one linear factor in {lam}")
        base, m = factors[0]
        where = sp.simplify(-base.subs(lam, 0) / sp.diff(base, lam))  # the root of the linear factor
        if where == 0 or not where.free_symbols:
            total += _contour(density, term, sample)
            continue
        coefficient = sp.simplify(term * (lam - where) ** m)
        simple = _contour(density, 1 / (lam - a), {**sample, a: where.subs(sample).subs({x: 1 for x in where.free_symbols
                                                                                      if x not in sample})})
        total += coefficient * (sp.diff(simple, a, m - 1) / sp.factorial(m - 1)).subs(a, where)
    return sp.simplify(sp.radsimp(sp.simplify(total)))


# -- the mode ------------------------------------------------------------------------------------------------------

def state_symbol(mode: ModeDynamics, *exprs) -> sp.Symbol:
    """The symbol of the mode's state in its declaration (matched by name, whatever its assumptions)."""
    for expr in exprs:
        for s in getattr(expr, "free_symbols", ()):
            if s.name == mode.unknown:
                return s
    return sp.Symbol(mode.unknown)


def _solve_mode(prover: Prover, mode: ModeDynamics, lam: sp.Symbol, syms: dict) -> tuple[sp.Expr, sp.Symbol | None]:
    """The mode's state as an expression, and its time symbol (``None`` for a stationary state)."""
    unknown = state_symbol(mode, mode.rhs, mode.step, mode.equation)
    if mode.rhs is not None:
        t = syms.get(mode.time, sp.Symbol(mode.time, nonnegative=True))
        u = sp.Function(mode.unknown)
        ode = sp.Eq(u(t).diff(t), mode.rhs.subs(unknown, u(t)))
        sol = sp.dsolve(ode, u(t), ics={u(0): mode.initial})
        ok, residual = checkodesol(ode, sol)
        if not ok:
            raise DerivationError(f"{prover.name}: checkodesol fails for the mode: {residual}")
        prover.fact(f"the mode equation {sp.sstr(ode)} solves to {mode.unknown}(t) = {sp.sstr(sol.rhs)}", "symbolic (dsolve; checkodesol)")
        prover.symbolic("the mode starts at its initial value", sol.rhs.subs(t, 0) - mode.initial)
        return sol.rhs, t
    if mode.step is not None:
        k = sp.Symbol(mode.time, integer=True, nonnegative=True)
        u = sp.Function(mode.unknown)
        state = unknown
        sol = sp.rsolve(u(k + 1) - mode.step.subs(state, u(k)), u(k), {u(0): mode.initial})
        if sol is None:
            raise DerivationError(f"{prover.name}: rsolve found no solution of the mode's recurrence")
        prover.fact(f"the mode recurrence {mode.unknown}_{{k+1}} = {sp.sstr(mode.step)} solves to {mode.unknown}_k = "
                    f"{sp.sstr(sol)}", "symbolic (rsolve)")
        prover.symbolic("the solution satisfies the recurrence",
                        sp.expand((sol.subs(k, k + 1) - mode.step.subs(state, sol)).replace(
                            lambda e: e.is_Pow and e.exp == k + 1, lambda e: e.base**k * e.base)))
        prover.symbolic("the mode starts at its initial value", sol.subs(k, 0) - mode.initial)
        declared = syms.get(mode.time, k)
        return sol.subs(k, declared), declared
    if mode.equation is not None:
        state = unknown
        eq = mode.equation
        sols = sp.solve(eq, state, dict=True)
        if len(sols) != 1:
            raise DerivationError(f"{prover.name}: the mode's equation has {len(sols)} solutions")
        sol = sols[0][state]
        prover.symbolic(f"the mode's stationary state {mode.unknown} = {sp.sstr(sol)} solves {sp.sstr(mode.equation)}",
                        (eq.lhs - eq.rhs).subs(state, sol))
        return sol, None
    raise DerivationError(f"{prover.name}: a mode needs rhs, step or equation")


def _expectation(prover: Prover, quantity: sp.Expr, sources) -> sp.Expr:
    """``E[quantity]`` over independent centred sources, for ``quantity`` quadratic in them."""
    variables = [v for v, _ in sources]
    for v in variables:
        if sp.simplify(sp.diff(quantity, v, 3)) != 0:
            raise DerivationError(f"{prover.name}: the quantity is not quadratic in {v}")
    for i, a in enumerate(variables):
        for b in variables[i + 1:]:
            pass  # cross terms have expectation 0 (independent, centred)
    at_zero = quantity.subs({v: 0 for v in variables})
    return at_zero + sum(var * sp.diff(quantity, v, 2) / 2 for v, var in sources)


def _decay_form(prover: Prover, state: sp.Expr, time: sp.Symbol | None, lam: sp.Symbol, mode: ModeDynamics):
    """``(D, C, state in D and C)``: the decay ``D`` of the solved state, its complement ``C = 1 − D`` in a form without
    cancellation, and the state written with symbols ``𝒟``, ``𝒞`` for them."""
    Dsym, Csym = sp.Symbol("D_decay", positive=True), sp.Symbol("C_decay", real=True)
    if time is None:
        return None, None, state, (Dsym, Csym)
    powers = [p for p in state.atoms(sp.exp, sp.Pow) if p.has(time)]
    if len(powers) != 1:
        raise DerivationError(f"{prover.name}: expected one decay factor in {state}, found {powers}")
    D = powers[0]
    if isinstance(D, sp.exp):
        C = -expm1(D.args[0])
    else:
        base, k = D.args
        x = sp.simplify(1 - base)
        C = -PowDecayGap(x, k)
        D = D  # printed as PowDecay below
    with_symbols = sp.expand(state.subs(D, Dsym))
    # write the state as a·D + b·(1 − D) = a D + b C: b = state at D = 0, a = state at D = 1
    a, b = with_symbols.subs(Dsym, 1), with_symbols.subs(Dsym, 0)
    form = a * Dsym + b * Csym
    prover.symbolic("the state is a·D + b·(1 − D) with the decay D = " + sp.sstr(D), sp.expand(form.subs(Csym, 1 - Dsym) - with_symbols))
    return D, C, form, (Dsym, Csym)


def _stable(expr: sp.Expr, symbols) -> sp.Expr:
    """``expr`` (in the decay symbols) factored, with ``1 − C`` written ``D`` and ``1 − D`` written ``C``."""
    Dsym, Csym = symbols
    f = expr

    def swap(e):
        for target, repl in ((Csym - 1, -Dsym), (1 - Csym, Dsym), (Dsym - 1, -Csym), (1 - Dsym, Csym)):
            if sp.expand(e - target) == 0:
                return repl
        return e

    return sp.factor_terms(f.replace(lambda e: e.is_Add, swap))


# -- mpmath evaluation (proofs, tier a) ------------------------------------------------------------------------------

def _mp(expr: sp.Expr, point: dict, dps: int):
    from learndyn.derive.maps import mp_value

    return mp_value(elementary(expr), point, (), dps)


def _levels(dps: int) -> int:
    """Geometric levels (factor 2) toward each end for an mpmath integral at ``dps`` digits: the first panel then holds
    less than ``10^{−dps}`` of an integrand bounded by its mean (its width cubed)."""
    return int(dps * 3.33 / 3) + 8


@functools.lru_cache(maxsize=None)
def _gauss_legendre(n: int, dps: int):
    with mpmath.workdps(dps):
        X, W = mpmath.gauss_quadrature(n, "legendre")
        return tuple(X), tuple(W)


def mp_bulk_integral(weight_f: sp.Expr, lam: sp.Symbol, lower, width, point: dict, dps: int):
    r"""``∫ √((hi − λ)(λ − lo)) g(λ) dλ`` at ``dps`` digits (``g = weight_f`` in ``lam`` and the point's parameters, keyed by
    name): the emitted rule carried to ``dps`` digits — in the angle ``θ`` of ``λ = lo + width sin²(θ/2)``, Gauss–Legendre
    with ``n = (dps + 10)/1.5`` nodes on panels graded by factor 2 toward both ends (on a panel ``[a, 2a]`` a singularity
    at distance ``≥ a`` costs ``(3 + √8)^{−2n} < 10^{−dps−10}``). mpmath's adaptive ``quad`` is not used: its error
    estimate accepted results 1e-4 off where ``(1 − lr λ)^{2k}`` concentrates the integrand."""
    body = _lambdified(weight_f, lam, tuple(point))
    n = int((dps + 10) / 1.5) + 1

    def mp(v):
        return mpmath.mpf(str(sp.N(v, dps + 20))) if not isinstance(v, (int, mpmath.mpf)) else mpmath.mpf(v)

    with mpmath.workdps(dps + 10):
        X, W = _gauss_legendre(n, dps + 10)
        fixed = [mp(v) for v in point.values()]
        lo, wd = mp(lower), mp(width)
        edges = [mpmath.mpf(0)] + [mpmath.pi / 2 * mpmath.mpf(2) ** (-k) for k in range(_levels(dps), -1, -1)]
        terms = []
        for a, b in zip(edges[:-1], edges[1:]):
            half, mid = (b - a) / 2, (a + b) / 2
            for x, w in zip(X, W):
                phi = mid + half * x
                near, far = mpmath.sin(phi / 2) ** 2, mpmath.cos(phi / 2) ** 2
                for s, c in ((near, far), (far, near)):  # θ = φ and θ = π − φ
                    terms.append(half * w * wd * wd * s * c * body(lo + wd * s, *fixed))
        total = mpmath.fsum(terms)
    return total  # at the working precision it was computed in


_LAMBDIFIED: dict = {}


def _lambdified(expr: sp.Expr, lam: sp.Symbol, names: tuple):
    key = (expr, lam, names)
    if key not in _LAMBDIFIED:
        _LAMBDIFIED[key] = sp.lambdify([lam] + [sp.Symbol(k) for k in names],
                                       elementary(expr).subs({s: sp.Symbol(s.name) for s in expr.free_symbols}), "mpmath")
    return _LAMBDIFIED[key]


def mp_bulk_root(slope: Integrand, curvature: Integrand, lower, width, args: dict, dps: int):
    """The time where the bulk integral of ``slope`` changes sign from − to +, at ``dps`` digits: doubling to a bracket,
    bisection in ``ln t`` to three digits, then Newton with the ``curvature`` integral (quadratic convergence)."""
    key = (slope.expr, curvature.expr, str(lower), str(width), tuple(sorted((k, str(v)) for k, v in args.items())), dps)
    if key in _ROOTS:
        return _ROOTS[key]
    time = slope.params[0].name

    def F(integrand, tv, digits=dps):
        return mp_bulk_integral(integrand.expr, integrand.variable, lower, width, {time: tv, **args}, digits)

    with mpmath.workdps(dps + 10):
        rough = lambda tv: F(slope, tv, 15)  # noqa: E731 - the bracket needs only the sign
        start = 1 / (mpmath.mpf(str(sp.N(lower, dps + 10))) + mpmath.mpf(str(sp.N(width, dps + 10))))  # 1/λ₊
        lo = hi = start
        while rough(hi) < 0:
            hi *= 4
        while rough(lo) >= 0:
            lo /= 4
        lo = max(lo, hi / 4) if hi > start else lo
        for _ in range(12):
            mid = mpmath.sqrt(lo * hi)
            lo, hi = (mid, hi) if rough(mid) < 0 else (lo, mid)
        t = mpmath.sqrt(lo * hi)
        for _ in range(60):
            step = F(slope, t) / F(curvature, t)
            t -= step
            if abs(step) <= mpmath.mpf(10) ** (-dps - 5) * abs(t):
                break
        else:
            raise DerivationError(f"the stationary time did not converge at {args}")
    _ROOTS[key] = t
    return t


#: stationary times already found (a point's value and its root are asked for separately)
_ROOTS: dict = {}


def mp_emitted(d, point: dict, dps: int) -> dict:
    """A spectral integral's emitted form(s) at ``point`` (keyed by name) at ``dps`` digits, by output name (``""`` for
    one output): each ``BulkRoot`` by :func:`mp_bulk_root`, each ``BulkIntegral`` by :func:`mp_bulk_integral`."""
    by_name = {i.name: i for i in d.integrands}
    symbols = {s.name: s for s in d.result.symbols.values()}
    subs = {symbols[k]: (sp.Rational(v) if isinstance(v, float) else v) for k, v in point.items() if k in symbols}

    def value(expr: sp.Expr):
        expr = expr.subs(subs)  # a Piecewise on the point's parameters (infinite at α = 1) resolves here
        if expr in (sp.oo, -sp.oo):
            return mpmath.inf if expr == sp.oo else -mpmath.inf
        for call in sorted(expr.atoms(BulkRoot), key=sp.default_sort_key):
            slope, curvature = by_name[call.args[0].name], by_name[call.args[1].name]
            args = {s.name: a.subs(subs) for s, a in zip(slope.params[1:], call.args[4:])}
            t = mp_bulk_root(slope, curvature, call.args[2].subs(subs), call.args[3].subs(subs), args, dps)
            expr = expr.xreplace({call: sp.Float(t, dps + 10)})
        for call in sorted(expr.atoms(BulkDensity), key=sp.default_sort_key):
            spec = by_name[call.args[0].name]
            at, lo, wd = (a.subs(subs) for a in call.args[1:4])
            w = spec.expr.subs({spec.variable: at, **{s: a.subs(subs) for s, a in zip(spec.params, call.args[4:])}})
            inside = bool(sp.N(at - lo, dps + 10) > 0) and bool(sp.N(lo + wd - at, dps + 10) > 0)
            v = sp.N(w * sp.sqrt((lo + wd - at) * (at - lo)), dps + 10) if inside else sp.Integer(0)
            expr = expr.xreplace({call: sp.Float(v, dps + 10)})
        for call in sorted(expr.atoms(BulkIntegral), key=sp.default_sort_key):
            spec = by_name[call.args[0].name]
            args = {s.name: a.subs(subs) for s, a in zip(spec.params, call.args[3:])}
            v = mp_bulk_integral(spec.expr, spec.variable, call.args[1].subs(subs), call.args[2].subs(subs), args, dps)
            expr = expr.xreplace({call: sp.Float(v, dps + 10)})
        return mpmath.mpf(str(sp.N(elementary(expr).subs(subs), dps + 10)))

    with mpmath.workdps(dps + 10):
        if d.outputs:
            return {name: value(e) for name, e in d.outputs}
        return {"": value(d.implementation)}


# -- the derivation --------------------------------------------------------------------------------------------------

def _factored(value: sp.Expr) -> sp.Expr:
    """A rational closed form over one denominator, factored where the factors of its numerator are linear in each
    symbol (``σ(α − 1)/α``, not ``σ − σ/α``, which cancels near ``α = 1``); anything else as it is (factoring
    ``(α − 1)²σ₀ + σ_ε`` would expand the square, which cancels there)."""
    syms = sorted(value.free_symbols, key=sp.default_sort_key)
    if not syms or not value.is_rational_function(*syms):
        return value
    factored = sp.factor(value)
    numerator, _ = sp.fraction(factored)
    bases = [b for b, _ in (x.as_base_exp() for x in sp.Mul.make_args(numerator)) if b.free_symbols]
    if all(max(sp.Poly(b, *syms).degree_list()) <= 1 for b in bases):
        return factored
    return value


def _seeded(result: Result, n: int, seed: int = 20241123):
    from learndyn.derive.derivation import sample_point

    rng = random.Random(seed)
    return [sample_point(result, rng) for _ in range(n)]


def derive_spectral(result: Result, d: SpectralIntegral):
    from learndyn.derive.derivation import Derivation

    prover = Prover(result.name)
    dens = d.density
    lam = dens.variable
    syms = result.symbols
    weight = bulk_weight(dens)
    root = sp.sqrt((dens.upper - lam) * (lam - dens.lower))
    prover.symbolic(f"the bulk density is w(λ)·√((λ₊ − λ)(λ − λ₋)) with w = {sp.sstr(weight)} rational in λ",
                    dens.density - weight * root)
    if weight.has(sp.sqrt(lam)) or not sp.simplify(weight).is_rational_function(lam):
        raise DerivationError(f"{result.name}: the density's weight {weight} is not rational in {lam}")
    if not dens.regimes:
        raise DerivationError(f"{result.name}: the density declares no regimes (use ((sympy.true, {{}}),) for one): its "
                              "mass and closed forms are proven per regime")
    for cond, sample in _regimes(dens):
        mass = sp.simplify(residue_integral(dens, sp.Integer(1), sample) + _regime_value(dens.atom, sample))
        prover.symbolic(f"the density has total mass 1 where {sp.sstr(cond)} (bulk by residues, plus the atom)", mass - 1)
    lower, width = dens.lower, sp.simplify(dens.upper - dens.lower)
    interval = (lam, dens.lower, dens.upper)
    rho = sp.Function(dens.tex)(lam)

    if d.quantity is None:  # the density itself
        inside = sp.And(sp.StrictGreaterThan(lam, dens.lower), sp.StrictLessThan(lam, dens.upper))
        # the root of a safe argument outside the support: the untaken branch must not make the gradient NaN
        # (clamped at the smallest normal float: outside, the clamp's zero gradient meets a finite root's)
        params = tuple(p.symbol for p in result.params if p.kind in ("real", "int") and p.symbol != lam)
        name = f"_integrand_{result.name}"
        weight_fn = Integrand(name, lam, params, sp.simplify(weight), (lower, width), weight=True)
        impl = BulkDensity(sp.Symbol(name), lam, lower, width, *params)
        derived = sp.Piecewise((dens.density, inside), (0, True))
        prover.fact("the emitted form is the bulk density on (λ₋, λ₊) and 0 elsewhere (the atom is reported apart); "
                    "its distances to the edges are formed in double-double", "definition")
        return Derivation(result, derived, impl, sp.Eq(rho, dens.density), {}, tuple(prover.steps),
                          integrands=(weight_fn,))

    # the integrand
    decay = (None, None)
    time = None
    if d.mode is not None:
        state, time = _solve_mode(prover, d.mode, lam, syms)
        D, C, form, dc = _decay_form(prover, state, time, lam, d.mode)
        unknown = state_symbol(d.mode, d.quantity, d.mode.rhs, d.mode.step, d.mode.equation)
        quantity = d.quantity.subs(unknown, form)
        mean = _expectation(prover, quantity, d.mode.sources)
        variances = sorted(set().union(*(v.free_symbols for _, v in d.mode.sources)), key=sp.default_sort_key)
        if D is not None:
            mean = _tidy(mean, dc, variances)
            decay = (D, C)
            in_decay = mean
            exact = _expectation(prover, d.quantity.subs(unknown, state), d.mode.sources)
            prover.symbolic("the integrand in the decay form equals E[quantity] of the solved state",
                            sp.expand(elementary(mean.subs({dc[0]: D, dc[1]: 1 - D})) - exact, power_base=True, force=True))
            mean_shown = mean.subs({dc[0]: D, dc[1]: 1 - D})
            emit = mean.subs({dc[0]: D if isinstance(D, sp.exp) else PowDecay(sp.simplify(1 - D.args[0]), D.args[1]),
                              dc[1]: C})
        else:
            mean = sp.simplify(mean)
            mean_shown = emit = mean
        prover.fact(f"the integrand E[{sp.sstr(d.quantity)}] over the independent centred sources "
                    f"{', '.join(f'{v} (variance {sp.sstr(s)})' for v, s in d.mode.sources)} is {sp.sstr(mean_shown)}",
                    "symbolic (E[Q] = Q|₀ + ½ Σ var ∂²Q/∂v² for quadratic Q; the third derivatives are 0)")
    else:
        mean_shown = emit = d.quantity
    atom_value = sp.Integer(0)
    if d.atom and dens.atom != 0:
        atom_value = sp.limit(elementary(mean_shown), lam, 0, "+")
        if atom_value.has(sp.oo, sp.zoo, sp.nan):
            raise DerivationError(f"{result.name}: the integrand has no finite limit at λ = 0 for the atom")
        prover.fact(f"the atom's modes (λ = 0) contribute the integrand's limit λ → 0: {sp.sstr(atom_value)}", "symbolic (sympy.limit)")
    params = tuple(p.symbol for p in result.params if p.kind in ("real", "int") and p.symbol in
                   (weight * emit).free_symbols | (dens.lower + dens.upper).free_symbols)
    params = tuple(p.symbol for p in result.params if p.kind in ("real", "int"))
    defining = sp.Eq(sp.Symbol(result.name), d.scale * sp.Integral(rho * sp.Function("E")(d.quantity), interval)
                     + (dens.atom * sp.Function("E")(d.quantity).subs(lam, 0) if d.atom and dens.atom != 0 else 0) + d.extra)

    def assemble(integral, atom):
        return dens.atom * atom + d.scale * integral + d.extra if d.atom and dens.atom != 0 else d.scale * integral + d.extra

    integrands: list[Integrand] = []

    def integrand(tag: str, expr: sp.Expr, extra_params=()) -> sp.Symbol:
        name = f"_integrand_{result.name}" + (f"_{tag}" if tag else "")
        integrands.append(Integrand(name, lam, tuple(extra_params) + params, sp.simplify(weight) * expr, (lower, width)))
        return sp.Symbol(name)

    closed_rational = (d.mode is None or time is None) and sp.simplify(elementary(emit)).is_rational_function(lam)
    if d.limit or closed_rational:
        if d.limit:
            if time is None:
                raise DerivationError(f"{result.name}: a limit needs a mode with a time")
            f_inf = sp.limit(elementary(mean_shown), time, sp.oo)
            atom_inf = sp.limit(atom_value, time, sp.oo) if atom_value != 0 else 0
            prover.fact(f"as {time} → ∞ the integrand tends to {sp.sstr(f_inf)} for λ > 0 and the atom's value to "
                        f"{sp.sstr(atom_inf)}", "symbolic (sympy.limit; dominated convergence under the bounded density)")
        else:
            f_inf, atom_inf = sp.simplify(elementary(emit)), atom_value
        pieces = []
        for cond, sample in _regimes(dens):
            bulk = residue_integral(dens, f_inf, sample)
            value = _factored(sp.simplify(_regime_value(dens.atom, sample) * atom_inf + d.scale * bulk
                                          + _regime_value(d.extra, sample) if d.atom else d.scale * bulk
                                          + _regime_value(d.extra, sample)))
            prover.fact(f"where {sp.sstr(cond)}: ∫ρ·{sp.sstr(f_inf)} dλ = {sp.sstr(bulk)} by residues, so the value is "
                        f"{sp.sstr(value)}", "symbolic (residues at the poles inside the unit circle)")
            pieces.append((value, cond))
        closed = sp.Piecewise(*pieces)
        boundary = _boundaries(dens, pieces, prover)
        derived = sp.Piecewise(*boundary, *pieces[:-1], (pieces[-1][0], True))
        if d.published is not None:
            for (value, cond), (_, sample) in zip(pieces, _regimes(dens)):
                residual = sp.simplify(value - _regime_value(d.published, sample))
                prover.symbolic(f"equals the published form where {sp.sstr(cond)}", residual)
        if d.limit:
            impl = derived
        else:
            atom_call = atom_value
            impl = assemble(BulkIntegral(integrand("", emit), lower, width, *params), atom_call)
            _prove_numeric_equal(prover, result, impl, derived, integrands, lam, lower, width,
                                 "the emitted quadrature equals the closed form")
        return Derivation(result, derived, impl, defining, {}, tuple(prover.steps), integrands=tuple(integrands))

    if d.stationary is None:
        call = BulkIntegral(integrand("", emit), lower, width, *params)
        impl = assemble(call, atom_value)
        derived = assemble(sp.Integral(rho * mean_shown, interval), atom_value)
        return Derivation(result, derived, impl, defining, {}, tuple(prover.steps), integrands=tuple(integrands))

    # a stationary time: the slope and curvature of the integrand in time (by the chain rule in the decay D and its
    # complement C: dD/dt = −r D, dC/dt = r D with the mode's rate r), the per-mode stationary time
    Dsym, Csym = dc
    rate = sp.simplify(-sp.diff(D, time) / D)

    def d_dt(expr):
        return _tidy(sp.diff(expr, Dsym) * (-rate * Dsym) + sp.diff(expr, Csym) * (rate * Dsym), dc, variances)

    to_time = {Dsym: D, Csym: 1 - D}
    slope, curvature = d_dt(in_decay), d_dt(d_dt(in_decay))
    prover.symbolic("the slope ∂t E[quantity], written in D and C, is the derivative of the integrand",
                    sp.expand(elementary(slope.subs(to_time)) - sp.diff(elementary(mean_shown), time)))
    prover.symbolic("the curvature is the derivative of the slope",
                    sp.expand(elementary(curvature.subs(to_time)) - sp.diff(elementary(mean_shown), time, 2)))
    emitted = {Dsym: D, Csym: C}
    per_mode = [x for x in sp.solve(sp.simplify(elementary(slope.subs(to_time))), time) if x.is_real is not False]
    if len(per_mode) != 1:
        raise DerivationError(f"{result.name}: the integrand's slope in {time} vanishes at {per_mode}, not once")
    t_mode = sp.simplify(per_mode[0])
    prover.fact(f"per mode, ∂{time} of the integrand vanishes only at {time}_λ = {sp.sstr(t_mode)}",
                "symbolic (sympy.solve)")
    _prove_sign_change(prover, result, elementary(slope.subs(to_time)), t_mode, time, lam, dens)
    tau = [p for p in params if p != time]
    slope_sym = integrand("slope", slope.subs(emitted), (time,))
    integrands[-1] = dataclasses.replace(integrands[-1], params=(time, *tau))
    curv_sym = integrand("curvature", curvature.subs(emitted), (time,))
    integrands[-1] = dataclasses.replace(integrands[-1], params=(time, *tau))
    t_star = BulkRoot(slope_sym, curv_sym, lower, width, *tau)
    shown_t = TimeStar(*tau)
    if not d.gap:
        value_sym = integrand("value", emit, (time,))
        integrands[-1] = dataclasses.replace(integrands[-1], params=(time, *tau))
        value = assemble(BulkIntegral(value_sym, lower, width, t_star, *tau), atom_value.subs(time, t_star))
        shown_value = assemble(sp.Integral(rho * mean_shown.subs(time, shown_t), interval), atom_value.subs(time, shown_t))
        t_name, v_name = d.stationary
        return Derivation(result, None, t_star, sp.Eq(sp.Derivative(sp.Symbol("E"), time), 0), {}, tuple(prover.steps),
                          outputs=((t_name, t_star), (v_name, value)),
                          derived_outputs=((t_name, shown_t), (v_name, sp.Function("E")(shown_t))),  # E at t*
                          integrands=tuple(integrands))
    at_infinity = {Dsym: 0, Csym: 1}  # D → 0 for every mode with λ > 0
    gap = _tidy(in_decay.subs(at_infinity) - in_decay, dc, variances)
    prover.symbolic("the integrand's limit t → ∞ is its value at D = 0, C = 1",
                    sp.simplify(sp.limit(elementary(mean_shown), time, sp.oo) - in_decay.subs(at_infinity)))
    atom_gap = sp.simplify(sp.limit(atom_value, time, sp.oo) - atom_value) if atom_value != 0 else sp.Integer(0)
    prover.fact(f"the value as {time} → ∞ minus the value at {time}: per mode {sp.sstr(gap.subs(to_time))}, atom "
                f"{sp.sstr(atom_gap)}", "symbolic (sympy.limit)")
    gap_sym = integrand("gap", gap.subs(emitted), (time,))
    integrands[-1] = dataclasses.replace(integrands[-1], params=(time, *tau))
    impl = d.scale * BulkIntegral(gap_sym, lower, width, t_star, *tau) + (dens.atom * atom_gap.subs(time, t_star) if d.atom else 0)
    derived = d.scale * sp.Integral(rho * gap.subs(to_time).subs(time, shown_t), interval)
    # where the t → ∞ value is infinite (a regime boundary where ∫ρ f_∞ diverges), so is the gap
    f_inf = in_decay.subs(at_infinity)
    if f_inf.is_rational_function(lam):
        pieces = [(sp.simplify(d.scale * residue_integral(dens, f_inf, sample)), cond) for cond, sample in _regimes(dens)]
        for value, where in _boundaries(dens, pieces, prover):
            if value in (sp.oo, -sp.oo, sp.zoo):
                impl = sp.Piecewise((sp.oo, where), (impl, True))
                derived = sp.Piecewise((sp.oo, where), (derived, True))
                prover.fact(f"where {sp.sstr(where)} the t → ∞ value diverges (∫ρ·{sp.sstr(f_inf)} dλ by residues tends to "
                            "∞ from both sides), and so does the gap", "symbolic (residues; sympy.limit)")
    return Derivation(result, derived, impl, defining, {}, tuple(prover.steps), integrands=tuple(integrands))


def _tidy(expr: sp.Expr, symbols, variances) -> sp.Expr:
    """An integrand in the decay ``D`` and complement ``C``, grouped by the sources' variances, each coefficient factored
    with ``1 − C`` written ``D`` and ``1 − D`` written ``C`` (so nothing cancels where ``D`` or ``C`` is small)."""
    grouped = sp.collect(sp.expand(expr), variances, evaluate=False)
    return sp.Add(*(_stable(sp.factor(coefficient), symbols) * (1 if key == 1 else key)
                    for key, coefficient in grouped.items()))


def _boundaries(dens: SpectralDensity, pieces, prover: Prover) -> list:
    """The value on the boundary between consecutive regimes (``alpha = 1``): the common limit, or ``oo``."""
    out = []
    for (v1, c1), (v2, c2) in zip(pieces[:-1], pieces[1:]):
        if not isinstance(c1, sp.core.relational.Relational):
            continue
        var, edge = c1.lhs, c1.rhs
        left, right = sp.limit(v1, var, edge, "-"), sp.limit(v2, var, edge, "+")
        if sp.simplify(left - right) != 0 and not (left == right):
            raise DerivationError(f"{prover.name}: the regimes disagree at {var} = {edge}: {left} and {right}")
        prover.fact(f"at {var} = {edge} both regimes tend to {sp.sstr(left)}", "symbolic (sympy.limit from both sides)")
        out.append((left, sp.Eq(var, edge)))
    return out


def _points_of(result: Result, n: int):
    return _seeded(result, n)


def _prove_numeric_equal(prover: Prover, result: Result, impl, derived, integrands, lam, lower, width, claim: str) -> None:
    """The emitted quadrature (at 30 digits by mpmath) equals the derived closed form at seeded points."""
    from learndyn.derive.derivation import Derivation

    probe = Derivation(result, derived, impl, sp.S.true, integrands=tuple(integrands))
    by_symbol = result.symbols
    worst = mpmath.mpf(0)
    points = _seeded(result, 6)
    for pt in points:
        with mpmath.workdps(40):
            a = mp_emitted(probe, pt, 30)[""]
            b = sp.N(derived.subs({by_symbol[k]: v for k, v in pt.items()}), 40)
            if b.has(sp.oo):
                continue
            b = mpmath.mpf(str(b))
            diff = abs(a - b) / max(abs(b), mpmath.mpf(10) ** -300)
            worst = max(worst, diff)
            if diff > mpmath.mpf(10) ** -25:
                raise DerivationError(f"{result.name}: {claim} fails at {pt}: {a} != {b}")
    prover.fact(claim, f"numeric ({len(points)} seeded points, the emitted rule at 30 digits by mpmath; largest relative "
                       f"difference {mpmath.nstr(worst, 2)})")


def _prove_sign_change(prover: Prover, result: Result, slope, t_mode, time, lam, dens) -> None:
    """Per mode the slope is negative before ``t_λ`` and positive after (checked at seeded points and modes)."""
    checked = 0
    by_symbol = result.symbols
    for pt in _seeded(result, 8):
        point = {by_symbol[k]: v for k, v in pt.items() if k != time.name}
        lo = sp.N(dens.lower.subs(point), 30)
        hi = sp.N(dens.upper.subs(point), 30)
        for frac in (sp.Rational(1, 7), sp.Rational(1, 2), sp.Rational(6, 7)):
            lv = lo + (hi - lo) * frac
            tl = sp.N(t_mode.subs(point).subs(lam, lv), 30)
            for factor, sign in ((sp.Rational(1, 2), -1), (2, 1)):
                s = sp.N(slope.subs(point).subs({lam: lv, time: tl * factor}), 30)
                if not (s * sign > 0):
                    raise DerivationError(f"{result.name}: the per-mode slope does not change sign at t_λ ({point}, λ = {lv})")
                checked += 1
    prover.fact(f"per mode the slope is negative before {time}_λ and positive after, so ∫ρ ∂{time} E[quantity] changes sign between "
                f"the extreme {time}_λ of the bulk: a stationary time exists",
                f"numeric ({checked} seeded modes at 30 digits)")
