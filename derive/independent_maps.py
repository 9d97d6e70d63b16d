r"""Independent references of maps and equations: ``Solve``, ``Root``, ``GaussianMap``, ``Recurrence``, ``Composite``,
``FreeProduct``, ``ClosedForm`` and ``ByChoice`` (see :mod:`learndyn.derive.independent` for the methods).

A symbol of a defining equation that is neither a parameter nor an unknown (``q`` in ``variance_map(q, σ_w, 0, μ2) = q``:
the equation must hold for every ``q``) is set to each of :data:`FOR_EVERY` in turn.
"""
from __future__ import annotations

import dataclasses

import mpmath
import sympy as sp

from learndyn.derive import functions as F
from learndyn.derive.declaration import Result, Root, Solve
from learndyn.derive.gauss_quadrature import bivariate_expectation, expectation
from learndyn.derive.independent import Comparison, Row, candidates, derived_rows, solvers_for, take_points
from learndyn.derive.independent_eval import Refs, at_values, bind, evaluate, root_system, solve_outputs, to_mpf
from learndyn.derive.proof import DerivationError

__all__ = ["solve", "root", "gaussian_map", "recurrence", "composite", "free_product", "closed_form", "by_choice",
           "FOR_EVERY", "QUADRATURE_BUDGET"]

#: values given in turn to a symbol the defining equation must hold for every value of
FOR_EVERY = (sp.Rational(3, 4), sp.Rational(5, 2))
#: most nodes per variable of a Gaussian quadrature rule before a point is skipped (see ``gauss_quadrature``)
QUADRATURE_BUDGET = 400


def _for_every(symbols: list) -> list[dict]:
    """Assignments of :data:`FOR_EVERY` to the free symbols (one value each per assignment: ``len(FOR_EVERY)`` of them)."""
    if not symbols:
        return [{}]
    return [{s.name: v for s in symbols} for v in FOR_EVERY]


def _extra_symbols(exprs, result: Result, exclude: set[str]) -> list:
    names = set(result.names) | exclude
    free = {s for e in exprs for s in sp.sympify(e).free_symbols if s.name not in names}
    return sorted(free, key=lambda s: s.name)


def _note_every(extra: list) -> str:
    return (f"; the equation holds for every {', '.join(s.name for s in extra)}: at "
            f"{' and '.join(sp.sstr(v) for v in FOR_EVERY)}") if extra else ""


# -- equations: Solve, Root, and chains of them -------------------------------------------------------------------------

def _system(d, stages, registry: dict, label: str = "") -> list:
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)
    system = root_system(stages, d.result.name)
    equations = [e.lhs - e.rhs for e in system.equations] + [e for _, e in system.given]
    extra = _extra_symbols(equations, d.result, {u.name for u in system.unknowns} | {s.name for s, _ in system.given})

    def make(pt):
        rows = []
        for every in _for_every(extra):
            row = derived_rows(d, {**pt, **every}, registry, refs, solvers, {})  # the derived value first: it must be real
            row.independent = solve_outputs(d, system, row.point, solvers, refs)
            rows.append(row)
        return rows

    rows = take_points(candidates(d.result), 3, make)
    names = ", ".join(u.name for u in system.unknowns)
    method = (f"Newton's method on the {len(system.equations)} defining equation{'s' if len(system.equations) > 1 else ''} "
              f"in {names}, earlier results evaluated numerically, from the derived value" + _note_every(extra))
    return [(label, Comparison(method, rows))]


def solve(d, registry: dict) -> list:
    return _system(d, (d.result.definition,), registry)


def root(d, registry: dict) -> list:
    return _system(d, (d.result.definition,), registry)


# -- Gaussian expectations ---------------------------------------------------------------------------------------------

def expectation_value(expr: sp.Expr, point: dict, solvers=(), refs=None):
    """``expr`` with each ``GaussE``/``BivariateE`` marker replaced by its numeric value (``gauss_quadrature``)."""
    values, reps = {}, {}
    markers = sorted(expr.atoms(F.GaussE, F.BivariateE), key=sp.default_sort_key)
    for i, marker in enumerate(markers):
        name = f"_E{i}"
        if isinstance(marker, F.BivariateE):
            f, g, q1, c, q2 = marker.args
            values[name] = bivariate_expectation(f, g, *(at_values(v, point) for v in (q1, c, q2)), budget=QUADRATURE_BUDGET)
        else:
            integrand, *zs = marker.args
            values[name] = expectation(at_values(integrand, point), tuple(zs), budget=QUADRATURE_BUDGET)
        reps[marker] = sp.Symbol(name)
    return evaluate(expr.xreplace(reps), {**point, **values}, solvers, refs)


def gaussian_map(d, registry: dict) -> list:
    D = d.result.definition
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)

    def make(pt):
        return derived_rows(d, pt, registry, refs, solvers, {"": expectation_value(D.expr, pt, solvers, refs)})

    rows = take_points(candidates(d.result, extra=D.auxiliary), 3, make)
    aux = f"; the auxiliary {', '.join(p.name for p in D.auxiliary)} drawn too" if D.auxiliary else ""
    return [("", Comparison("the Gaussian expectations by numeric integration split at the kinks (exact truncated-normal "
                            "moments of polynomial pieces, else the trapezoidal or Clenshaw-Curtis rule; points needing "
                            f"more than {QUADRATURE_BUDGET} nodes per variable skipped){aux}", rows))]


# -- recurrences -------------------------------------------------------------------------------------------------------

def recurrence(d, registry: dict) -> list:
    D = d.result.definition
    if D.of not in registry:
        raise DerivationError(f"iterates {D.of}, which must be derived first")
    m = registry[D.of]
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)
    call = sp.Function(D.of)(*(p.symbol for p in m.result.params if p.kind != "choice"))

    def iterate(pt: dict):
        step = bind(call, (D.var,), pt, solvers, refs)
        q = to_mpf(pt[D.var])
        for _ in range(int(pt[D.steps])):
            q = step(q)
        return q

    rows = take_points(candidates(d.result), 3, lambda pt: derived_rows(d, pt, registry, refs, solvers, {"": iterate(pt)}))
    for i, (name, (val, lim)) in enumerate(sorted(d.limits.items())):
        pt = next(candidates(d.result, seed=i + 1))
        pt[name] = at_values(val, pt)
        derived = {("", "limit"): evaluate(lim, pt, solvers, refs),
                   ("", "emitted"): evaluate(d.implementation, pt, solvers, refs)}
        rows.append(Row(pt, derived, {"": iterate(pt)}, replay=pt[name].is_Rational))
    method = f"{D.of} applied {D.steps} times to {D.var}"
    if d.limits:
        method += "; also at " + ", ".join(f"{n} = {sp.sstr(v)}" for n, (v, _) in sorted(d.limits.items())) + \
            " against the recorded limit"
    return [("", Comparison(method, rows))]


# -- composites --------------------------------------------------------------------------------------------------------

def composite(d, registry: dict) -> list:
    D = d.result.definition
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)
    pairs = D.expr if isinstance(D.expr, tuple) else ((D.unknown, D.expr),)
    extra = _extra_symbols([e for _, e in pairs], d.result, set())

    def make(pt):
        rows = []
        for every in _for_every(extra):
            point = {**pt, **every}
            values = {name: evaluate(e, point, solvers, refs) for name, e in pairs}
            values = values if d.outputs else {"": next(iter(values.values()))}
            rows.append(derived_rows(d, point, registry, refs, solvers, values))
        return rows

    rows = take_points(candidates(d.result), 3, make)
    return [("", Comparison("the defining expression evaluated directly: derivatives by mpmath.diff, earlier results by "
                            "their own defining equations where they are roots (Newton) or composites, else by their "
                            "independently checked emitted forms" + _note_every(extra), rows))]


def closed_form(d, registry: dict) -> list:
    solvers = solvers_for(d, registry)
    refs = Refs(registry, solvers)

    def make(pt):
        return derived_rows(d, pt, registry, refs, solvers, {"": evaluate(d.result.definition.expr, pt, solvers, refs)})

    return [("", Comparison("the defining expression evaluated directly", take_points(candidates(d.result), 3, make)))]


# -- free products ------------------------------------------------------------------------------------------------------

def _moments(X, point: dict) -> tuple:
    """The first two moments of the spectral law ``X`` at ``point``: by summation (a finite law) or quadrature
    (a continuous one), never by ``sympy.stats``' expectation."""
    from sympy.stats import density
    from sympy.stats.rv import is_random

    if not is_random(X):
        v = evaluate(at_values(X, point), {})
        return v, v * v
    law = density(X)
    if isinstance(law, dict) or hasattr(law, "dict"):
        table = dict(law.dict if hasattr(law, "dict") else law)
        pairs = [(evaluate(at_values(v, point), {}), evaluate(at_values(p, point), {})) for v, p in table.items()]
        return mpmath.fsum(p * v for v, p in pairs), mpmath.fsum(p * v * v for v, p in pairs)
    x = sp.Symbol("x", real=True)
    pdf = at_values(law(x), point)
    support = law.set
    f = bind(pdf, ("x",), {})
    a, b = to_mpf(support.inf), to_mpf(support.sup)
    return tuple(mpmath.quad(lambda t, k=k: t**k * f(t), [a, b]) for k in (1, 2))


def _free_variance(factors, point: dict) -> mpmath.mpf:
    """Variance of the product of free factors from their moments: ``φ(ab) = φ(a)φ(b)`` and
    ``φ(abab) = φ(a²)φ(b)² + φ(a)²φ(b²) − φ(a)²φ(b)²`` for free ``a``, ``b``."""
    m1, m2 = mpmath.mpf(1), mpmath.mpf(1)
    for X, count in factors:
        a1, a2 = _moments(X, point)
        for _ in range(int(evaluate(at_values(count, point), {}))):
            m1, m2 = m1 * a1, m2 * a1**2 + m1**2 * a2 - m1**2 * a1**2
    return m2 - m1**2


def free_product(d, registry: dict) -> list:
    D = d.result.definition
    solvers = solvers_for(d, registry)
    params = tuple(p for p in d.result.params if p.name != D.choice)
    sub = dataclasses.replace(d.result, params=params)
    out = []
    for (value, factors), (_, expr) in zip(D.factors, d.cases):
        def make(pt, factors=factors, expr=expr, value=value):
            derived = {("", "derived"): evaluate(expr, pt, solvers)}
            return Row({**pt, D.choice: value}, derived, {"": _free_variance(factors, pt)})

        rows = take_points(candidates(sub), 3, make)
        out.append((f"{value}: ", Comparison("the moments of each factor's law by summation or mpmath.quad of its "
                                             "density; the product's second moment by the mixed-moment rule of free "
                                             "independence, φ(abab) = φ(a²) φ(b)² + φ(a)² φ(b²) − φ(a)² φ(b)²", rows)))
    return out


# -- one definition per value of a categorical parameter ------------------------------------------------------------------

def by_choice(d, registry: dict) -> list:
    from learndyn.derive.independent import _kinds

    D = d.result.definition
    local = {**registry, d.result.name: d, **{p.name: p for p in d.parts}}
    out = []
    for (value, stages), part in zip(D.cases, d.parts):
        if all(isinstance(s, (Root, Solve)) for s in stages):
            comparisons = _system(part, stages, local)
        elif len(stages) == 1:
            comparisons = _kinds()[type(stages[0])](part, local)
        else:
            raise DerivationError(f"{value}: no independent reference for stages {[type(s).__name__ for s in stages]}")
        for _, comparison in comparisons:
            for row in comparison.rows:
                row.point = {**row.point, D.choice: value}
            out.append((f"{value}: ", comparison))
    return out
