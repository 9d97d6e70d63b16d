"""From a declaration to a proven closed form and the stable form that is emitted.

``derive_result(result)`` dispatches on the kind of defining equation:

* :class:`ODE` — ``dsolve`` with the declared hint, constant from the initial condition, proven by
  ``checkodesol`` and the initial condition, shown equal to the published form, removable singularities
  recorded as limits; the stable form is chosen by a rewrite rule and proven equal branch by branch.
* :class:`SeparableTime` — ``t = ∫ tau dv / rhs(v)``; SymPy integrates it (for each listed integer value
  of an integer parameter), the result is proven by differentiation and the start condition, and the
  emitted form (log1p rewrite, or the declared implementation) is proven equal to it.
* :class:`Implicit` — the inverse of another result; existence and uniqueness from monotonicity, the
  vectorised solve is checked against mpmath in the verification tier.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import mpmath
import sympy as sp

from learndyn.derive import functions as F
from learndyn.derive.declaration import ODE, ClosedForm, Implicit, RandomClock, Result, SeparableTime, Solve, UpperBound
from learndyn.derive.proof import DerivationError, Prover, ProofStep, seeded_points
from learndyn.derive.stable import log_ratio_to_log1p, ode_stable_form

__all__ = ["Derivation", "derive_result", "sample_point"]

DPS = 50


@dataclass(frozen=True)
class Derivation:
    """What ``derive`` produces for one result.

    ``derived``: the closed form SymPy derived (``None`` for an implicit result); ``implementation``: the
    numerically stable form that is emitted (proven equal to ``derived``); ``limits``: removable
    singularities ``{param: (value, limit expression)}``; ``proof``: the proof record; ``defining``: the
    defining equation as a SymPy relation, for LaTeX.
    """

    result: Result
    derived: sp.Expr | None
    implementation: sp.Expr
    defining: sp.Basic
    limits: dict = field(default_factory=dict)
    proof: tuple[ProofStep, ...] = ()
    per_integer: dict = field(default_factory=dict)
    #: ``((name, expr), …)`` when the result has several outputs (returned as a NamedTuple)
    outputs: tuple = ()
    #: ``((value, expr), …)``, one expression per value of the result's categorical parameter
    cases: tuple = ()
    #: the solver of an implicit result (:class:`learndyn.derive.maps.SolverSpec`), emitted as ``_solve_NAME``
    solver: object = None
    #: a kernel composition's layer per activation: ``((value, ((name, expr), …)), …)`` in ``q1, q2, c, det``
    layers: tuple = ()
    #: further solvers this result emits (earlier stages of a staged root, every value of a :class:`ByChoice`)
    solvers: tuple = ()
    #: sub-derivations registered for later results to ``ref`` (one per value of a :class:`ByChoice`)
    parts: tuple = ()
    #: the derived outputs where ``outputs`` holds stable forms of some (what later results ``ref`` and simplify)
    derived_outputs: tuple = ()
    #: a spectral flow's ``((output, spectral function, rate),)`` (see :mod:`learndyn.derive.flow`)
    spectral: tuple = ()
    #: with ``per_integer``: the closed form for the values of the integer parameter that ``per_integer`` does not list
    generic: sp.Expr | None = None
    #: module-level integrand functions a spectral integral's emitted form calls (:mod:`learndyn.derive.spectral_integral`)
    integrands: tuple = ()

    @property
    def name(self) -> str:
        return self.result.name

    @property
    def expr(self) -> sp.Expr:
        """The closed form (the derived one where there is one, else the emitted form)."""
        return self.derived if self.derived is not None else self.implementation

    @property
    def domain(self):
        """The runtime :class:`~learndyn.domain.Domain` (the same object the generated code checks)."""
        from learndyn.derive.emit import build_domain

        return build_domain(self.result)

    @property
    def ranges(self) -> dict:
        """Per parameter: (domain, test range, simulation range)."""
        return {p.name: (p.domain, p.test, p.sim) for p in self.result.params}

    @property
    def assumptions(self) -> tuple[str, ...]:
        return self.result.assumptions

    @property
    def source(self):
        return self.result.source

    @property
    def latex(self) -> str:
        """This result's LaTeX (equations labelled ``eq:NAME``), as in the generated ``.tex``."""
        from learndyn.derive.latex import result_latex

        return result_latex(self)


def sample_point(result: Result, rng: random.Random, *, integers: dict | None = None) -> dict:
    """A random point of the result's test range (log-uniform for scale parameters), as exact rationals.

    Used for the seeded numeric proof steps; the hypothesis strategies in ``learndyn.verify`` draw from
    the same declared ranges.
    """
    from learndyn.domain import Interval, IntParam
    from learndyn.derive.declaration import Between

    point: dict = {}
    for p in result.params:
        rng_spec = p.test if p.test is not None else p.domain
        if isinstance(rng_spec, Between):
            continue
        if isinstance(rng_spec, IntParam):
            point[p.name] = (integers or {}).get(p.name, rng.randint(rng_spec.lo, rng_spec.hi or rng_spec.lo + 8))
            continue
        lo, hi = rng_spec.lo, rng_spec.hi
        if p.log and lo > 0:
            val = 10 ** rng.uniform(mpmath.log10(lo), mpmath.log10(hi))
        elif p.log and hi < 0:  # a negative scale parameter: log-uniform magnitude
            val = -10 ** rng.uniform(mpmath.log10(-hi), mpmath.log10(-lo))
        elif p.log and lo < 0:
            mag = 10 ** rng.uniform(-3, mpmath.log10(max(abs(lo), abs(hi))))
            val = mag if rng.random() < 0.5 else -mag
        else:
            val = rng.uniform(lo, hi)
        point[p.name] = sp.Rational(repr(float(val)))
    for p in result.params:
        spec = p.test
        if isinstance(spec, Between):
            anchors = {k: point[k] for k in spec.anchors}
            frac = sp.Rational(repr(rng.uniform(0.01, 0.99)))
            a = anchors[spec.a] if isinstance(spec.a, str) else sp.Rational(repr(spec.a))
            b = anchors[spec.b] if isinstance(spec.b, str) else sp.Rational(repr(spec.b))
            f = sp.Rational(repr(spec.lo)) + (sp.Rational(repr(spec.hi)) - sp.Rational(repr(spec.lo))) * frac
            v = a + (b - a) * f if not spec.log else sp.Rational(repr(_log_between(a, b, f)))
            for name in spec.scale:  # a rational close to v·√(Π anchors), inside the range
                v = v * sp.Rational(repr(float(sp.sqrt(point[name]))))
            if spec.factor is not None:  # a rational close to v·factor
                v = sp.Rational(repr(float(v * spec._factor(point, True))))
            point[p.name] = v * (1 - sp.Rational(1, 10**12)) if spec.scale else v
    return point


def _log_between(a, b, f) -> float:
    """``a (b/a)^f`` for positive anchors, in float64 (a geometric :class:`Between`)."""
    a, b, f = float(a), float(b), float(f)
    return min(max(a * (b / a) ** f, min(a, b)), max(a, b))


def _mp_eval(expr: sp.Expr, symbols: dict[str, sp.Symbol]) -> Callable[[dict], mpmath.mpf]:
    fn = sp.lambdify([symbols[k] for k in sorted(symbols)], expr, modules="mpmath")

    def call(point: dict):
        with mpmath.workdps(DPS + 20):
            val = fn(*(mpmath.mpf(sp.Rational(point[k]).p) / sp.Rational(point[k]).q for k in sorted(symbols)))
        return mpmath.re(val)

    return call


def _evalf(expr: sp.Expr, symbols: dict[str, sp.Symbol]) -> Callable[[dict], mpmath.mpf]:
    def call(point: dict):
        v = expr.subs({symbols[k]: sp.Rational(point[k]) if not isinstance(point[k], int) else point[k] for k in point if k in symbols})
        return mpmath.mpf(str(sp.re(v.evalf(DPS + 10))))

    return call


def _derive_ode(result: Result, d: ODE) -> Derivation:
    syms = result.symbols
    prover = Prover(result.name)
    # a singular value p = v (removable) is kept out of the solve by writing p = v + δ with δ ≠ 0
    delta = {n: sp.Symbol(n if val == 0 else f"{n}_minus_{sp.sstr(val)}", real=True, nonzero=True) for n, val in d.singular}
    forward = {syms[n]: val + delta[n] for n, val in d.singular}
    back = {delta[n]: syms[n] - val for n, val in d.singular}
    env = {**syms, **{str(v): v for v in delta.values()}}
    t = syms[d.time]
    u_sym = sp.Symbol(d.unknown)
    u = sp.Function(d.unknown)
    rhs = d.rhs.subs(forward)
    tau = d.tau.subs(forward)
    initial = d.initial.subs(forward)
    ode = sp.Eq(tau * u(t).diff(t), rhs.subs(u_sym, u(t)))
    general = sp.dsolve(ode, u(t), hint=d.hint)
    constants = sorted(general.free_symbols - set(env.values()) - {t}, key=lambda s: s.name)
    if len(constants) != 1:
        raise DerivationError(f"{result.name}: expected one integration constant, got {constants}")
    (c1,) = constants
    sols = sp.solve(sp.Eq(general.rhs.subs(t, 0), initial), c1)
    if len(sols) != 1:
        raise DerivationError(f"{result.name}: initial condition gives {sols} for {c1}")
    derived_solving = sp.simplify(general.rhs.subs(c1, sols[0]))
    ok, residual = sp.checkodesol(ode, sp.Eq(u(t), derived_solving))
    if not ok:
        raise DerivationError(f"{result.name}: dsolve({d.hint}) gave a wrong solution, residual {residual}")
    prover.fact("the derived form solves the ODE", f"symbolic (dsolve hint '{d.hint}', checked by checkodesol)")
    prover.symbolic("the derived form meets the initial condition", derived_solving.subs(t, 0) - initial)
    derived = sp.simplify(derived_solving.subs(back))

    limits = {}
    for n, val in d.singular:
        lim = sp.simplify(sp.limit(derived_solving, delta[n], 0).subs(back).subs(syms[n], val))
        limits[n] = (val, lim)
        prover.fact(f"{n} = {sp.sstr(val)} is a removable singularity with limit {sp.sstr(lim)}", "symbolic (SymPy limit)")

    if result.published is not None:
        prover.symbolic("the derived form equals the published form", derived_solving - result.published.subs(forward))

    impl = result.implementation
    if impl is None:
        chosen = ode_stable_form(d.rhs / d.tau, u_sym, d.initial, t)
        if chosen is None:
            impl = derived
        else:
            impl = chosen[0]
            prover.fact("emitted form chosen by rewrite rule", f"symbolic (rewrite rule {chosen[1]}; proven equal below)")
    _prove_branches(prover, impl, derived, syms, limits)
    defining = sp.Eq(tau * sp.Derivative(u(syms[d.time]), syms[d.time]), d.rhs.subs(u_sym, u(syms[d.time])))
    return Derivation(result, derived, impl, defining, limits, tuple(prover.steps))


def _branches(expr: sp.Expr):
    """The branches of a Piecewise stable form, with the sign the branch assumes for each Max/Min argument."""
    if not isinstance(expr, sp.Piecewise):
        return [(expr, sp.true)]
    return list(expr.args)


def _resolve_clamps(expr: sp.Expr, nonnegative: bool, condition: sp.Basic = sp.true) -> sp.Expr:
    """Replace ``Max(a, 0)``/``Min(a, 0)`` by ``a`` or ``0`` on the side of 0 a branch assumes, and an inner
    ``Piecewise`` on the same ``condition`` as the outer one (``a >= 0``) by the side the branch is on."""
    is_clamp = lambda e: isinstance(e, (sp.Max, sp.Min)) and len(e.args) == 2 and sp.S.Zero in e.args

    def pick(e):
        (a,) = [arg for arg in e.args if arg != 0]
        keep = isinstance(e, sp.Max) == nonnegative
        return a if keep else sp.S.Zero

    same_split = lambda e: (isinstance(e, sp.Piecewise) and condition != sp.true and len(e.args) == 2  # noqa: E731
                            and e.args[0].cond == condition and e.args[1].cond == sp.true)
    expr = expr.replace(same_split, lambda e: e.args[0].expr if nonnegative else e.args[1].expr)
    return expr.replace(is_clamp, pick)


def _prove_branches(prover: Prover, impl: sp.Expr, derived: sp.Expr, syms, limits) -> None:
    """Prove each branch of the emitted form equal to the derived form on the side of 0 it covers.

    Stable forms branch on the sign of one rate ``a`` (``a >= 0`` first, then the rest); inside a branch
    ``Max(a, 0)``/``Min(a, 0)`` resolve to ``a`` or ``0``.
    """
    branches = _branches(impl)
    for i, (expr, cond) in enumerate(branches):
        nonneg = not (cond == sp.true and i > 0)
        expr_r = _resolve_clamps(expr, nonneg, branches[0][1])
        where = "" if len(branches) == 1 else (f"where {sp.sstr(cond)}" if nonneg else "elsewhere")
        residual = F.to_elementary(expr_r) - derived
        label = f"the emitted form equals the derived form {where}".rstrip()
        if sp.simplify(residual) == 0:
            prover.fact(label, "symbolic (SymPy simplifies the difference to 0)")
        else:
            raise DerivationError(f"{prover.name}: {label} failed; residual {residual}")
    for n, (val, lim) in limits.items():
        at = _resolve_clamps(_branches(impl)[0][0], True, _branches(impl)[0][1]).subs(syms[n], val)
        prover.symbolic(f"the emitted form at {n} = {val} equals the limit", F.to_elementary(at) - lim)


def _derive_separable(result: Result, d: SeparableTime) -> Derivation:
    syms = result.symbols
    u_sym = sp.Symbol(d.unknown)
    if d.per_integer is not None:
        return _derive_per_integer(result, d)
    start, end = d.start, d.end
    if d.rhs.has(sp.Piecewise) or not isinstance(end, sp.Symbol):
        return _derive_general_separable(result, d)
    prover = Prover(result.name)
    v = sp.Symbol("v", positive=True)
    integrand = (d.tau / d.rhs).subs(u_sym, v)
    end_sym = end
    defining = sp.Eq(sp.Symbol("t"), sp.Integral(integrand, (v, start, end)))
    antiderivative = sp.integrate(integrand, v)
    if antiderivative.has(sp.Integral):
        return _derive_general_separable(result, d)
    derived = sp.simplify(antiderivative.subs(v, end) - antiderivative.subs(v, start))
    prover.symbolic("the antiderivative differentiates to the integrand", sp.diff(antiderivative, v) - integrand, "SymPy integrate, checked by differentiation")
    target = result.published if result.published is not None else derived
    prover.symbolic("the closed form differentiates (in the end point) to the integrand", sp.diff(target, end_sym) - integrand.subs(v, end_sym))
    prover.symbolic("the closed form vanishes at the start point", target.subs(end_sym, start))
    if result.published is not None:
        prover.fact("the derived form equals the published form", "symbolic (both have the same derivative in the end point and vanish at the start point)")
        derived = result.published
    impl = result.implementation or log_ratio_to_log1p(derived)
    if impl != derived:
        prover.fact("emitted form chosen by rewrite rule", "symbolic (rewrite rule ln(N/D) -> log1p((N - D)/D) with N - D simplified symbolically; proven equal below)")
        prover.symbolic("the emitted form differentiates (in the end point) to the integrand", sp.diff(F.to_elementary(impl), end_sym) - integrand.subs(v, end_sym))
        prover.symbolic("the emitted form vanishes at the start point", F.to_elementary(impl).subs(end_sym, start))
    return Derivation(result, derived, impl, defining, {}, tuple(prover.steps))


def _path_variable(result: Result, d: SeparableTime) -> sp.Symbol:
    """The integration variable, with the sign the path has on the test ranges (positive, negative or real)."""
    from learndyn.derive.separable import path_sign

    sign = path_sign(d.start, d.end, sample_point(result, random.Random(20241123)))
    return sp.Symbol("v", positive=True) if sign > 0 else sp.Symbol("v", negative=True) if sign < 0 else sp.Symbol("v", real=True)


def _stop_fact(prover: Prover, d: SeparableTime, boundary, below: bool) -> None:
    if boundary is not None:
        side = "below" if below else "above"
        prover.fact(f"the rate is 0 beyond {d.unknown} = {sp.sstr(boundary)}: the motion stops there, so the time to an end "
                    f"beyond it is infinite and to an end {side} it the integral of the moving piece",
                    "symbolic (the later pieces of the Piecewise rate are 0; the moving piece's rate is nonzero at the boundary)")


def _in_piece(end, boundary, below: bool):
    """``point -> bool``: whether the end point lies in the moving piece's closure (``None`` without a boundary)."""
    if boundary is None:
        return None
    cond = sp.Le(end, boundary) if below else sp.Ge(end, boundary)
    return lambda pt: bool(cond.subs({s: pt[s.name] for s in cond.free_symbols if s.name in pt}))


def _derive_general_separable(result: Result, d: SeparableTime) -> Derivation:
    """A separable time with a rate that stops, an end that is not a symbol, or a term without an elementary
    antiderivative (:mod:`learndyn.derive.separable`)."""
    from learndyn.derive.separable import (
        INTEGRAL_VARIABLE, antiderivative_terms, domain_points, moving_piece, prove_equal, stopped,
    )

    syms = result.symbols
    prover = Prover(result.name)
    u_sym = sp.Symbol(d.unknown)
    v = _path_variable(result, d)
    active, boundary, below = moving_piece(d.rhs, u_sym)
    integrand = (d.tau / active).subs(u_sym, v)
    defining = sp.Eq(sp.Symbol("t"), sp.Integral((d.tau / d.rhs).subs(u_sym, v), (v, d.start, d.end)))
    _stop_fact(prover, d, boundary, below)
    anti, leftover = antiderivative_terms(integrand, v)
    covered = integrand - sum(leftover, sp.S.Zero)
    prover.symbolic("the antiderivative differentiates to the integrand" + (" (the terms SymPy integrates)" if leftover else ""),
                    sp.diff(anti, v) - covered, "SymPy integrate, checked by differentiation")
    s_var = INTEGRAL_VARIABLE
    kept = sum((sp.Integral(term.subs(v, s_var), (s_var, d.start, d.end)) for term in leftover), sp.S.Zero)
    for term in leftover:
        prover.fact(f"{sp.sstr(term)} has no elementary antiderivative: kept as a definite integral over the path",
                    "SymPy integrate returns it unevaluated; evaluated by quadrature (mpmath in the proofs, the declared "
                    "implementation in the emitted code)")
    closed = sp.simplify(anti.subs(v, d.end) - anti.subs(v, d.start)) + kept
    free = d.end if isinstance(d.end, sp.Symbol) else d.start
    sign = 1 if free is d.end else -1
    other = d.start if free is d.end else d.end
    prover.symbolic(f"the closed form's derivative in {free} is {'+' if sign > 0 else '−'}the integrand there",
                    sp.diff(closed, free) - sign * integrand.subs(v, free))
    prover.symbolic(f"the closed form vanishes where {free} = {sp.sstr(other)}", closed.subs(free, other))
    derived = stopped(closed, d.end, boundary, below)
    rng = random.Random(20241123)
    points = domain_points(result, rng, 6, keep=_in_piece(d.end, boundary, below))
    if result.published is not None:
        prove_equal(prover, "the derived form equals the published form", derived, result.published, points)
    impl = result.implementation if result.implementation is not None else derived
    if impl is not derived:
        prove_equal(prover, "the emitted form equals the derived form", impl, derived, points)
    return Derivation(result, derived, impl, defining, {}, tuple(prover.steps))


def _derive_per_integer(result: Result, d: SeparableTime) -> Derivation:
    """A closed form per listed value of the integer parameter (and, with ``generic``, one for the others): each
    proven by differentiation, against the declared published forms and against the emitted implementation; the
    implementation also against the defining integral by quadrature at further values."""
    from learndyn.derive.separable import domain_points, generic_closed_form, moving_piece, prove_equal, stopped

    syms = result.symbols
    prover = Prover(result.name)
    u_sym = sp.Symbol(d.unknown)
    v = sp.Symbol("v", positive=True)
    active, boundary, below = moving_piece(d.rhs, u_sym)
    integrand = (d.tau / active).subs(u_sym, v)
    start, end = d.start, d.end
    defining = sp.Eq(sp.Symbol("t"), sp.Integral((d.tau / d.rhs).subs(u_sym, v), (v, start, end)))
    _stop_fact(prover, d, boundary, below)
    n = syms[d.per_integer]
    impl = result.implementation
    if impl is None:
        raise DerivationError(f"{result.name}: a per-integer separable time needs a declared implementation")
    in_piece = _in_piece(end, boundary, below)
    per_integer = {}
    published = dict(d.published)
    rng = random.Random(20241123)
    for k in d.derive_for:
        ig = integrand.subs(n, k)
        anti = _antiderivative_in(ig, v, d.substitution, u_sym, {n: k})
        how = "SymPy integrate, checked by differentiation"
        if d.substitution is not None:
            g = sp.sstr(d.substitution[1].subs(n, k)).replace("**", "^").replace("*", " ")
            how = (f"SymPy integrate in {d.substitution[0]} with {d.unknown} = {g} (a rational integrand), taken back; "
                   "checked by differentiation")
        prover.symbolic(f"{d.per_integer} = {k}: SymPy's antiderivative differentiates to the integrand", sp.diff(anti, v) - ig, how)
        closed = stopped(anti.subs(v, end) - anti.subs(v, start), end, boundary, below)
        per_integer[k] = closed
        if boundary is None and not d.published and not d.generic:  # the original form of this step
            pts = [sample_point(result, rng, integers={d.per_integer: k}) for _ in range(6)]
        else:
            pts = domain_points(result, rng, 6, integers={d.per_integer: k}, keep=in_piece)
        if k in published:
            prove_equal(prover, f"{d.per_integer} = {k}: the derived form equals the published form", closed,
                        stopped(published[k], end, boundary, below), pts)
        prover.numeric(
            f"{d.per_integer} = {k}: the emitted closed form equals SymPy's",
            _evalf(closed, syms), _evalf(impl.subs(n, k), syms), pts, dps=DPS, rtol_digits=35)
    others = sorted({2 + rng.randint(3, 12), 17, 33, 64})
    generic = None
    if d.generic:
        anti = sp.integrate(sp.expand(integrand), v)
        if anti.has(sp.Integral):
            raise DerivationError(f"{result.name}: SymPy cannot integrate the integrand for a symbolic {d.per_integer}")
        anti = generic_closed_form(anti, n, others)
        generic = stopped(anti.subs(v, end) - anti.subs(v, start), end, boundary, below)
        atoms = sorted({type(f).__name__ for f in generic.atoms(sp.Function)})
        pts = [pt for k in others for pt in domain_points(result, rng, 2, integers={d.per_integer: k}, keep=in_piece)]
        _prove_derivative_numeric(prover, f"symbolic {d.per_integer}: SymPy's antiderivative ({', '.join(atoms) or 'elementary'}) "
                                  "differentiates to the integrand", anti, integrand, v, end, pts)
        prover.numeric(f"{d.per_integer} in {others}: the emitted closed form equals SymPy's form for a symbolic {d.per_integer}",
                       _evalf(generic, syms), _evalf(impl, syms), pts, dps=DPS, rtol_digits=30)
    if boundary is None and not d.published and not d.generic:  # the original form of this step
        pts = [sample_point(result, rng, integers={d.per_integer: k}) for k in others for _ in range(3)]
    else:
        pts = [pt for k in others for pt in domain_points(result, rng, 3, integers={d.per_integer: k}, keep=in_piece)]
    quad = _quadrature(d, syms)
    prover.numeric(
        f"{d.per_integer} in {others}: the emitted closed form equals the defining integral (mpmath quadrature)",
        quad, _evalf(impl, syms), pts, dps=DPS, rtol_digits=30)
    return Derivation(result, None, impl, defining, {}, tuple(prover.steps), per_integer, generic=generic)


def _quadrature(d: SeparableTime, syms: dict):
    """The defining integral ``∫ tau dv/rhs(v)`` at a point by mpmath quadrature (split geometrically toward both ends)."""
    from learndyn.derive.independent_dynamics import time_integral

    def call(point: dict):
        pt = {k: (int(v) if isinstance(v, int) else sp.Rational(v)) for k, v in point.items()}
        return time_integral(d, pt)

    return call


def _prove_derivative_numeric(prover: Prover, claim: str, anti, integrand, v, end, points) -> None:
    """``d anti/dv = integrand`` at the end point of each of ``points`` (mpmath.diff at 50 digits, 25 digits required)."""
    from learndyn.derive.separable import mp_evaluate

    x = sp.Symbol("_x")
    worst = mpmath.mpf(0)
    for pt in points:
        with mpmath.workdps(DPS):
            x0 = mp_evaluate(sp.sympify(end), pt, DPS)
            # evaluated at the precision mpmath.diff works at (it raises it for its differences)
            slope = mpmath.diff(lambda y: mp_evaluate(anti.subs(v, x), {**pt, "_x": y}, mpmath.mp.dps), x0)
            want = mp_evaluate(integrand.subs(v, x), {**pt, "_x": x0}, DPS)
        rel = abs(slope - want) / abs(want)
        if not rel <= mpmath.mpf(10) ** -25:
            raise DerivationError(f"{prover.name}: {claim} fails at {pt}: {mpmath.nstr(slope, 20)} != {mpmath.nstr(want, 20)}")
        worst = max(worst, rel)
    prover.fact(claim, f"numeric (mpmath.diff at the end point of {len(points)} seeded points at {DPS} digits; largest "
                       f"relative difference {mpmath.nstr(worst, 2) if worst else '0'})")


def _antiderivative_in(integrand: sp.Expr, v: sp.Symbol, substitution, unknown: sp.Symbol, values: dict) -> sp.Expr:
    """``∫ integrand dv``: directly, or in ``w`` with ``v = g(w)`` (``substitution = (w, g)`` in the unknown's
    symbols), integrating only the ``w``-dependent factor (SymPy drops partial fractions of a rational integrand
    whose coefficients are symbolic) and returning through the positive root ``w = g⁻¹(v)``."""
    if substitution is None:
        return sp.integrate(integrand, v)
    w, g = substitution
    g = g.subs(values)
    wp = sp.Symbol(w.name, positive=True)
    g = g.subs(w, wp)
    in_w = sp.powsimp(sp.simplify(integrand.subs(v, g) * sp.diff(g, wp)), force=True)
    const, dep = in_w.as_independent(wp, as_Add=False)
    anti_w = const * sp.integrate(sp.factor(dep), wp)
    inverse = [r for r in sp.solve(sp.Eq(g, v), wp) if r.is_positive is not False]
    if len(inverse) != 1:
        raise DerivationError(f"the substitution {unknown} = {sp.sstr(g)} has no single positive inverse: {inverse}")
    return anti_w.subs(wp, inverse[0])


def _symbolic_or_numeric(prover: Prover, result: Result, claim: str, residual: sp.Expr) -> None:
    """``residual == 0``: symbolically where SymPy simplifies it, else at 12 seeded points of the test ranges to 40
    digits relative to its largest term (SymPy does not simplify Lambert-W identities such as e^{W(x)} = x/W(x))."""
    from learndyn.derive.proof import symbolic_zero
    from learndyn.derive.separable import domain_points, mp_evaluate

    if symbolic_zero(residual):
        prover.fact(claim, "symbolic (SymPy simplifies the residual to 0)")
        return
    terms = sp.Add.make_args(sp.expand(residual))
    worst = mpmath.mpf(0)
    points = domain_points(result, random.Random(20241123), 12)
    for pt in points:
        value = mp_evaluate(residual, pt, DPS)
        scale = max(abs(mp_evaluate(t, pt, DPS)) for t in terms) or mpmath.mpf(1)
        rel = abs(value) / scale
        if not rel <= mpmath.mpf(10) ** -40:
            raise DerivationError(f"{prover.name}: could not prove '{claim}': residual {mpmath.nstr(value, 5)} at {pt}")
        worst = max(worst, rel)
    prover.fact(claim, f"numeric (SymPy does not simplify the residual; below {mpmath.nstr(worst, 2) if worst else '0'} "
                       f"of its largest term at {len(points)} seeded points at {DPS} digits)")


def _derive_solve(result: Result, d: Solve, registry: dict | None = None) -> Derivation:
    """SymPy solves ``d.equation`` (or a system) for the unknown(s); the solution must be unique, and is proven
    by substitution and (where given) equal to the published form. ``d.outputs`` are then expressions of
    the unknowns, proven to satisfy ``d.checks`` by substitution."""
    from learndyn.derive.maps import _inline

    syms = result.symbols
    prover = Prover(result.name)
    names = (d.unknown,) if isinstance(d.unknown, str) else tuple(d.unknown)
    eqs = (d.equation,) if not isinstance(d.equation, tuple) else d.equation
    if registry:
        inlined = tuple(_inline(e, registry).doit() for e in eqs)
        if inlined != eqs:
            prover.fact("earlier results substituted into the defining equation", "symbolic")
        eqs = inlined
    free = set().union(*(e.free_symbols for e in eqs))
    unknowns = []
    for n in names:
        matches = [x for x in free if x.name == n]
        if len(matches) != 1:
            raise DerivationError(f"{result.name}: the defining equation has no single symbol named {n!r}")
        unknowns.append(matches[0])
    sols = sp.solve(list(eqs), unknowns, dict=True)
    if len(sols) != 1:
        raise DerivationError(f"{result.name}: solving {[sp.sstr(e) for e in eqs]} for {names} gave {sols}, not one solution")
    solution = {u: sp.simplify(sols[0][u]) for u in unknowns}
    prover.fact(f"SymPy solves the defining equation for {', '.join(names)} (one solution)", "symbolic (sympy.solve)")
    for e in eqs:
        _symbolic_or_numeric(prover, result, "the solution satisfies the defining equation" if len(eqs) == 1 else
                             f"the solution satisfies {sp.sstr(e)}", (e.lhs - e.rhs).subs(solution, simultaneous=True))
    values: dict = {}
    if d.given:
        prover.fact(f"solved with {', '.join(sym.name for sym, _ in d.given)} as symbols, then replaced by "
                    + ", ".join(f"{sym.name} = {sp.sstr(e)}" for sym, e in d.given), "symbolic (substitution)")
        values = {sym: _inline(e, registry or {}) for sym, e in d.given}
        solution = {u: v.subs(values, simultaneous=True) for u, v in solution.items()}
        eqs = tuple(e.subs(values, simultaneous=True) for e in eqs)
    known = set(syms.values())
    for u, v in solution.items():
        extra = {s for s in v.free_symbols if s not in known}
        if extra:
            raise DerivationError(f"{result.name}: the solution depends on {sorted(s.name for s in extra)}, which are not parameters")
    derived = solution[unknowns[0]]
    if result.published is not None:
        prover.symbolic("the derived form equals the published form", derived - result.published)
    outputs = ()
    if d.outputs:
        outputs = tuple((n, _inline(e, registry or {}).subs(solution, simultaneous=True).subs(values, simultaneous=True))
                        for n, e in d.outputs)
        for check in d.checks:
            chk = _inline(check, registry or {}).doit()
            subs = {s: outputs[[n for n, _ in d.outputs].index(s.name)][1] for s in chk.free_symbols if s.name in dict(d.outputs)}
            prover.symbolic(f"the outputs satisfy {sp.sstr(check)}", (chk.lhs - chk.rhs).subs(subs, simultaneous=True))
        if isinstance(result.implementation, tuple):  # stable forms of some outputs, proven equal at seeded points
            from learndyn.derive.maps import _equal, _points, solvers_of, stable_outputs

            stable = {n: _inline(e, registry or {}) for n, e in result.implementation}
            outputs = stable_outputs(prover, outputs, stable, _points(result), solvers_of(registry or {}), _equal,
                                     "the emitted (stable) form of {} equals the derived form")
        return Derivation(result, None, outputs[0][1], eqs[0] if len(eqs) == 1 else sp.And(*eqs), {}, tuple(prover.steps),
                          outputs=outputs)
    impl = result.implementation if result.implementation is not None else derived
    if impl is not derived:
        prover.symbolic("the emitted form equals the derived form", F.to_elementary(impl) - derived)
    return Derivation(result, derived, impl, eqs[0] if len(eqs) == 1 else sp.And(*eqs), {}, tuple(prover.steps))


def _real_antiderivative(integrand: sp.Expr, v: sp.Symbol, side: dict) -> sp.Expr:
    """An antiderivative of a rational ``integrand`` that is real on the integration path: each partial
    fraction ``c/(v − r)`` integrates to ``c ln(σ (v − r))`` with ``σ`` the (constant) sign of ``v − r`` on
    the path, read at ``side`` (a point of the domain with ``v`` on the path). SymPy's own ``c ln(v − r)``
    is the log of a negative number below a root, which force-expanding logs would get wrong."""
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.apart(sp.together(integrand), v)):
        num, den = sp.fraction(sp.factor(term))
        poly = sp.Poly(den, v)
        if poly.degree() == 1 and not num.has(v):
            lead = poly.LC()
            root = -poly.coeff_monomial(1) / lead
            sign = 1 if float(sp.sign((v - root).subs(side))) > 0 else -1
            out += num / lead * sp.log(sign * (v - root))
        else:
            out += sp.integrate(term, v)
    return out


def _derive_random_clock(result: Result, d: RandomClock) -> Derivation:
    from sympy.stats import E as expectation, Geometric

    syms = result.symbols
    prover = Prover(result.name)
    u_sym = sp.Symbol(d.unknown)
    v = sp.Symbol("v", positive=True)
    integrand = (d.tau / d.rhs).subs(u_sym, v)
    point = sample_point(result, random.Random(20241123))
    side = {**{syms[k]: val for k, val in point.items()}}
    side[v] = ((d.start + d.end) / 2).subs(side)
    anti = _real_antiderivative(integrand, v, side)
    prover.symbolic("the antiderivative of tau/rhs differentiates to the integrand", sp.diff(anti, v) - integrand,
                    "partial fractions, each c/(v - r) integrated to c ln|v - r|, checked by differentiation")
    active = anti.subs(v, d.end) - anti.subs(v, d.start)
    logs = sorted({a.args[0] for a in active.atoms(sp.log)}, key=sp.default_sort_key)
    if not all(float(arg.subs(side)) > 0 for arg in logs):
        raise DerivationError(f"{result.name}: a logarithm's argument is not positive on the path: {logs}")
    prover.fact(f"the active time from {sp.sstr(d.start)} to {sp.sstr(d.end)} is {sp.sstr(sp.simplify(active))}",
                "symbolic (the antiderivative between the end points; every logarithm's argument is positive "
                "on the domain, so logarithms may be combined and expanded)")
    p = syms[d.probability]
    per_active = sp.simplify(expectation(Geometric("G", p)))
    k = sp.Symbol("k", integer=True, positive=True)
    series = sp.piecewise_fold(sp.Sum(k * p * (1 - p) ** (k - 1), (k, 1, sp.oo)).doit())
    if isinstance(series, sp.Piecewise):
        value, cond = series.args[0]
        region = sp.solve_univariate_inequality(cond.subs(p, sp.Symbol("q", real=True)), sp.Symbol("q", real=True), relational=False)
        if not sp.Interval.Lopen(0, 1).is_subset(region):
            raise DerivationError(f"{result.name}: the geometric series converges only for {region}")
        series = value
    prover.symbolic(f"steps per active step: E[Geometric({d.probability})] = {sp.sstr(per_active)} (sympy.stats), "
                    f"equal to the series sum_k k p (1-p)^(k-1) on 0 < {d.probability} <= 1", series - per_active)
    derived = per_active * sp.simplify(active)
    prover.fact("E[t] = E[steps per active step] · active time", "symbolic (Wald's identity: the active steps are "
                "fixed by the deterministic ODE, the waiting times are independent geometric variables)")
    if result.published is not None:
        prover.symbolic("the derived form equals the published form",
                        sp.expand_log(derived - result.published, force=True))
    impl = result.implementation if result.implementation is not None else log_ratio_to_log1p(
        result.published if result.published is not None else derived)
    if impl != derived:
        prover.fact("emitted form chosen by rewrite rule",
                    "symbolic (rewrite rule ln(N/D) -> log1p((N - D)/D); proven equal below)")
        prover.symbolic("the emitted form equals the derived form", sp.expand_log(F.to_elementary(impl) - derived, force=True))
    defining = sp.Eq(F.Expectation(sp.Symbol("t")), per_active * sp.Integral(integrand, (v, d.start, d.end)))
    return Derivation(result, derived, impl, defining, {}, tuple(prover.steps))


def _derive_upper_bound(result: Result, d: UpperBound, registry: dict) -> Derivation:
    syms = result.symbols
    prover = Prover(result.name)
    if d.of not in registry:
        raise DerivationError(f"{result.name}: bounds {d.of}, which must be derived first (declare it earlier in the family)")
    of = registry[d.of]
    prover.symbolic(f"the bound minus {d.of} equals the gap {sp.sstr(d.gap)}",
                    sp.expand_log(d.expr - of.expr - d.gap, force=True))
    rng = random.Random(20241123)
    pts = [sample_point(result, rng) for _ in range(24)]
    gap = _evalf(d.gap, syms)
    worst = min(gap(pt) for pt in pts)
    if not worst > 0:
        raise DerivationError(f"{result.name}: the gap {sp.sstr(d.gap)} is not positive at a test point ({worst})")
    prover.fact("the gap is positive on the domain",
                f"numeric (positive at {len(pts)} seeded points of the test range at {DPS} digits; smallest {mpmath.nstr(worst, 3)})")
    impl = result.implementation if result.implementation is not None else log_ratio_to_log1p(d.expr)
    if impl != d.expr:
        prover.symbolic("the emitted form equals the bound", sp.expand_log(F.to_elementary(impl) - d.expr, force=True))
    rel = F.Expectation(sp.Symbol("t"))
    return Derivation(result, d.expr, impl, sp.Le(rel, d.expr), {}, tuple(prover.steps))


def _derive_implicit(result: Result, d: Implicit, registry: dict) -> Derivation:
    if d.derive_inverse:
        from learndyn.derive.inverse import derive_inverse

        return derive_inverse(result, d, registry)
    prover = Prover(result.name)
    prover.fact(
        f"{d.unknown}(t) is the inverse of {d.inverse_of}",
        "symbolic (the integrand has the constant sign of s - v between u0 and s, so t(u) is strictly monotone and the inverse exists and is unique); vectorised safeguarded Newton solve, checked against mpmath in the verification tier")
    if result.implementation is None:
        raise DerivationError(f"{result.name}: an implicit result needs a declared implementation (solver)")
    return Derivation(result, None, result.implementation, d.equation, {}, tuple(prover.steps))


def derive_result(result: Result, registry: dict | None = None, *, independent: bool = True) -> Derivation:
    """Derive and prove one result; raises :class:`DerivationError` if any step does not hold.

    An exception SymPy or mpmath raises on the way (a hint that does not match the ODE, an integral
    that does not converge) is a failed derivation too, and is reported as one. The last steps compare the
    derived form with its defining equation solved by another method (:mod:`learndyn.derive.independent`;
    ``independent=False`` leaves them out, for the stages of a :class:`~learndyn.derive.declaration.ByChoice`,
    which is compared per value as a whole).
    """
    try:
        derivation = _derive_dispatch(result, registry)
        if independent:
            from learndyn.derive.independent import with_independent_reference

            derivation = with_independent_reference(derivation, registry or {})
        return derivation
    except DerivationError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure inside SymPy is a failed derivation
        raise DerivationError(f"{result.name}: derivation failed: {type(exc).__name__}: {exc}") from exc


def _derive_dispatch(result: Result, registry: dict | None) -> Derivation:
    d = result.definition
    if isinstance(d, ODE):
        return _derive_ode(result, d)
    if isinstance(d, SeparableTime):
        return _derive_separable(result, d)
    if isinstance(d, Implicit):
        return _derive_implicit(result, d, registry or {})
    if isinstance(d, Solve):
        return _derive_solve(result, d, registry)
    if isinstance(d, RandomClock):
        return _derive_random_clock(result, d)
    if isinstance(d, UpperBound):
        return _derive_upper_bound(result, d, registry or {})
    from learndyn.derive import maps
    from learndyn.derive.declaration import SpectralFlow

    if isinstance(d, SpectralFlow):
        from learndyn.derive.flow import derive_flow

        return derive_flow(result, d)
    from learndyn.derive.declaration import SpectralIntegral

    if isinstance(d, SpectralIntegral):
        from learndyn.derive.spectral_integral import derive_spectral

        return derive_spectral(result, d)
    if isinstance(d, maps.KINDS):
        return maps.derive(result, d, registry or {})
    if isinstance(d, ClosedForm):
        impl = result.implementation if result.implementation is not None else d.expr
        return Derivation(result, d.expr, impl, sp.Eq(sp.Symbol(result.name), d.expr), {}, (ProofStep("closed form", "given"),))
    raise DerivationError(f"{result.name}: unknown kind of definition {type(d).__name__}")
