r"""Independent references of the dynamics: ``ODE``, ``SeparableTime``, ``RandomClock``, ``UpperBound``, ``Implicit``
(see :mod:`learndyn.derive.independent` for the methods and how a step is recorded).

* ODE: ``mpmath.odefun`` (a Taylor-series integrator) of ``tau du/dt = rhs(u)`` from ``u(0) = initial`` at the times
  ``T/k``, ``T ∈ {1/2, 2}``, with ``k = max(|f'(u0)|, |f(u0)/u0|)`` the initial rate of ``f = rhs/tau``; integrated
  in ``s = k t`` and ``v = u/u0`` (odefun's steps are at most 1/2 and its tolerance absolute);
* separable times: ``t = ∫_{start}^{end} tau dv/rhs(v)`` by ``mpmath.quad`` (tanh-sinh), the path split toward each
  end point geometrically (ratio 4) down to a quarter of ``|f/f'|`` there, the distance to the nearest pole or branch
  point of the integrand ``f``;
* random clocks: that active time times ``E[G] = Σ_{k≥1} k p (1 − p)^{k−1}`` summed by ``mpmath.nsum``.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from learndyn.derive.declaration import Between, RandomClock, SeparableTime
from learndyn.derive.independent import GUARD, Comparison, Row, candidates, derived_rows, solvers_for, take_points
from learndyn.derive.independent_eval import OutOfDomain, Refs, at_values, bind, evaluate, to_mpf
from learndyn.derive.proof import DerivationError

__all__ = ["ode", "separable_time", "random_clock", "upper_bound", "implicit", "quad_path", "time_integral", "clock_value"]

TIMES = (mpmath.mpf(1) / 2, mpmath.mpf(2))


# -- ODEs --------------------------------------------------------------------------------------------------------------

def ode(d, registry: dict) -> list:
    r, D = d.result, d.result.definition
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)
    rate = D.rhs / D.tau

    def rows_at(pt: dict, limit=None) -> list:
        f = bind(rate, (D.time, D.unknown), pt, solvers, refs)
        u0 = evaluate(D.initial, {**pt, D.time: 0}, solvers, refs)
        slope = mpmath.diff(lambda u: f(mpmath.mpf(0), u), u0)
        k = max(abs(slope), abs(f(mpmath.mpf(0), u0) / u0) if u0 != 0 else mpmath.mpf(0), mpmath.mpf(10) ** -30)
        # in the units of the initial rate and the initial value (mpmath.odefun steps at most 1/2 and has an absolute
        # tolerance): v = u/u0 (u/1 where u0 = 0) against s = k t
        unit = abs(u0) if u0 != 0 else mpmath.mpf(1)
        solution = mpmath.odefun(lambda s, v: f(s / k, v * unit) / (k * unit), 0, u0 / unit)
        out = []
        for T in TIMES:
            point = {**pt, D.time: sp.Rational(float(T / k))}
            value = solution(to_mpf(point[D.time]) * k) * unit
            if limit is None:
                out.append(derived_rows(d, point, registry, refs, solvers, {"": value}))
                continue
            derived = {("", "limit"): evaluate(limit, point, solvers, refs)}
            try:
                derived[("", "emitted")] = evaluate(d.implementation, point, solvers, refs)
            except OutOfDomain:
                pass
            out.append(Row(point, derived, {"": value}))
        return out

    rows = take_points(candidates(r), 2, rows_at)
    for i, (name, (val, lim)) in enumerate(sorted(d.limits.items())):
        pt = next(candidates(r, seed=i + 1))
        pt[name] = at_values(val, pt)
        rows += rows_at(pt, limit=lim)
    method = "mpmath.odefun (Taylor series) of the initial-value problem, at the times T/k, T ∈ {1/2, 2}, k the initial rate"
    if d.limits:
        method += "; also at " + ", ".join(f"{n} = {sp.sstr(v)}" for n, (v, _) in sorted(d.limits.items())) + \
            " against the recorded limit"
    return [("", Comparison(method, rows))]


# -- separable times -----------------------------------------------------------------------------------------------------

def quad_path(f, a, b) -> mpmath.mpf:
    """``∫_a^b f`` by tanh-sinh, the path split toward each end geometrically down to a quarter of ``|f/f'|`` there."""
    if a == b:
        return mpmath.mpf(0)
    m = (a + b) / 2
    cuts = {a, m, b}
    for e in (a, b):
        try:
            reach = abs(f(e) / mpmath.diff(f, e))
        except (ZeroDivisionError, OutOfDomain):
            reach = abs(m - e) * mpmath.mpf(10) ** -12
        x = m - e
        for _ in range(80):
            if abs(x) <= reach / 4:
                break
            x /= 4
            cuts.add(e + x)
    return mpmath.quad(f, sorted(cuts)) * (1 if a < b else -1)


def time_integral(D: SeparableTime | RandomClock, point: dict, solvers=(), refs=None) -> mpmath.mpf:
    """``∫_{start}^{end} tau dv / rhs(v)`` at ``point`` by :func:`quad_path`; for a rate that stops at a boundary
    (a ``Piecewise`` whose later pieces are 0), the moving piece's integral, ``inf`` for an end beyond the boundary."""
    from learndyn.derive.separable import moving_piece

    u = D.unknown
    active, boundary, below = moving_piece(D.rhs, sp.Symbol(u))
    start, end = (evaluate(e, point, solvers, refs) for e in (D.start, D.end))
    if boundary is not None:
        c = evaluate(boundary, point, solvers, refs)
        if (end > c) if below else (end < c):
            return mpmath.inf
    f = bind(D.tau / active, (u,), point, solvers, refs)
    return quad_path(f, start, end)


def separable_time(d, registry: dict) -> list:
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)

    def make(pt):
        return derived_rows(d, pt, registry, refs, solvers, {"": time_integral(d.result.definition, pt, solvers, refs)})

    rows = take_points(candidates(d.result), 3, make)
    return [("", Comparison("mpmath.quad (tanh-sinh) of τ/rhs from the start to the end point, the path split "
                            "geometrically toward both ends", rows))]


# -- random clocks and bounds --------------------------------------------------------------------------------------------

def expected_geometric(p) -> mpmath.mpf:
    """``E[G] = Σ_{k≥1} k p (1 − p)^{k−1}`` by ``mpmath.nsum`` (the series itself, not its closed form)."""
    return mpmath.nsum(lambda k: k * p * (1 - p) ** (k - 1), [1, mpmath.inf])


def clock_value(D: RandomClock, point: dict, solvers=(), refs=None) -> mpmath.mpf:
    return expected_geometric(evaluate(sp.Symbol(D.probability), point)) * time_integral(D, point, solvers, refs)


def random_clock(d, registry: dict) -> list:
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)

    def make(pt):
        return derived_rows(d, pt, registry, refs, solvers, {"": clock_value(d.result.definition, pt, solvers, refs)})

    rows = take_points(candidates(d.result), 3, make)
    return [("", Comparison("the active time by mpmath.quad of τ/rhs, times E[G] = Σ_k k p (1 − p)^{k−1}, summed over "
                            "k ≥ 1 by mpmath.nsum", rows))]


def upper_bound(d, registry: dict) -> list:
    D = d.result.definition
    if D.of not in registry:
        raise DerivationError(f"bounds {D.of}, which must be derived first")
    of = registry[D.of].result.definition
    if not isinstance(of, (RandomClock, SeparableTime)):
        raise DerivationError(f"no independent value of {D.of} (a {type(of).__name__}) to bound")
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)
    margins = []

    def make(pt):
        value = clock_value(of, pt, solvers, refs) if isinstance(of, RandomClock) else time_integral(of, pt, solvers, refs)
        row = derived_rows(d, pt, registry, refs, solvers, {})
        bound = row.derived[("", "emitted")]
        margin = bound - value
        if not margin > 0:
            raise DerivationError(f"the bound {mpmath.nstr(bound, 20)} does not exceed {D.of} = {mpmath.nstr(value, 20)} "
                                  f"(computed independently) at {pt}")
        margins.append(margin / value)
        row.independent = {"": value + evaluate(D.gap, pt, solvers, refs)}
        return row

    rows = take_points(candidates(d.result), 3, make)
    note = f"the bound exceeds {D.of} at every point, by at least {mpmath.nstr(min(margins), 2)} of it"
    return [("", Comparison(f"the bounded result, {D.of}, computed independently by mpmath.quad and mpmath.nsum, plus "
                            "the declared gap", rows,
                            claim="independent reference: the bound minus the independently computed "
                                  f"{D.of} is positive and equals the declared gap", notes=(note,)))]


# -- implicit results (inverses of separable times) ------------------------------------------------------------------------

def implicit(d, registry: dict) -> list:
    D = d.result.definition
    if not D.inverse_of or D.inverse_of not in registry:
        raise DerivationError("an implicit result needs the earlier result it inverts (inverse_of) for its reference")
    forward = registry[D.inverse_of].result
    F = forward.definition
    if not isinstance(F, SeparableTime):
        raise DerivationError(f"no independent reference for the inverse of a {type(F).__name__}")
    own, theirs = set(d.result.names), set(forward.names)
    if len(theirs - own) != 1 or len(own - theirs) != 1:
        raise DerivationError(f"the inverse of {D.inverse_of} must trade one parameter of it (here {sorted(theirs - own)}) "
                              f"for one of its own (here {sorted(own - theirs)})")
    (target,), (clock,) = sorted(theirs - own), sorted(own - theirs)
    spec = forward.param(target).test
    if not isinstance(spec, Between):
        raise DerivationError(f"{forward.name}.{target} needs a Between test range (the bracket of the inverse)")
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)
    unknown = next(s for s in d.defining.free_symbols if s.name == D.unknown)
    residual = d.defining.lhs - d.defining.rhs
    from learndyn.derive.separable import moving_piece

    active, _, _ = moving_piece(F.rhs, sp.Symbol(F.unknown))  # a rate that stops: the moving piece
    integrand = F.tau / active

    def make(pt_forward):
        with mpmath.extradps(GUARD):  # u(t) may be ill-conditioned: dt/du = tau/rhs(u) is small where t is large
            return _inverse_row(pt_forward)

    def _inverse_row(pt_forward):
        t_exact = time_integral(F, pt_forward, solvers, refs)
        if not mpmath.isfinite(t_exact) or abs(t_exact) > mpmath.mpf(2) ** 1023:
            raise OutOfDomain("the end is never reached, or not before float64's largest time")
        t = sp.Rational(float(t_exact))
        point = {k: v for k, v in pt_forward.items() if k != target}
        point[clock] = t
        # the forward defining equation ∫_{start}^{u} tau/rhs = t by Newton's method from the seeded end point: the
        # integrand is the derivative, the increments are quadratures over [u_n, u_{n+1}]
        u, behind = to_mpf(pt_forward[target]), t_exact - to_mpf(t)
        for _ in range(30):
            slope = evaluate(integrand, {**point, F.unknown: u}, solvers, refs)
            new = u - behind / slope
            behind += time_integral_between(F, point, u, new, solvers, refs)
            if abs(new - u) <= mpmath.mpf(10) ** -(mpmath.mp.dps - 2) * abs(new):
                u = new
                break
            u = new
        lo, hi = (to_mpf(point[a]) if isinstance(a, str) else mpmath.mpf(a) for a in (spec.a, spec.b))
        derived = _bracketed_root(lambda x: evaluate(residual, {**point, unknown.name: x}, solvers, refs), lo, hi)
        return Row(point, {("", "derived"): derived}, {"": u})

    rows = take_points(candidates(forward), 3, make)
    return [("", Comparison(f"the forward defining integral of {D.inverse_of} by mpmath.quad, from the start to a seeded "
                            f"{target}, gives the time; Newton's method on that integral equation recovers {target}; "
                            "the derived equation's root is bracketed between the anchors of its range", rows))]


def time_integral_between(F, point: dict, a, b, solvers=(), refs=None) -> mpmath.mpf:
    from learndyn.derive.separable import moving_piece

    active, _, _ = moving_piece(F.rhs, sp.Symbol(F.unknown))
    f = bind(F.tau / active, (F.unknown,), point, solvers, refs)
    return quad_path(f, a, b)


def _bracketed_root(f, lo, hi) -> mpmath.mpf:
    """The root of a monotone ``f`` strictly between ``lo`` and ``hi`` (bisection to 12 digits, then Anderson)."""
    a, b = (lo, hi) if lo < hi else (hi, lo)
    width = b - a
    a, b = a + width * mpmath.mpf(10) ** -30, b - width * mpmath.mpf(10) ** -30
    fa, fb = f(a), f(b)
    if fa * fb > 0:
        raise DerivationError(f"the derived equation does not change sign between {mpmath.nstr(a, 10)} and {mpmath.nstr(b, 10)}")
    for _ in range(60):
        m = (a + b) / 2
        fm = f(m)
        if fm == 0:
            return m
        a, b, fa, fb = (m, b, fm, fb) if fa * fm > 0 else (a, m, fa, fm)
        if b - a < mpmath.mpf(10) ** -12 * abs(m):
            break
    return mpmath.findroot(f, (a, b), solver="anderson", tol=mpmath.mpf(10) ** -(2 * mpmath.mp.dps - 10))
