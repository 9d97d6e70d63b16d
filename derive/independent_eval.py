r"""Numeric evaluation of defining equations for the independent reference (:mod:`learndyn.derive.independent`).

* :func:`evaluate` — a SymPy expression at a point at the working precision: ``Derivative`` by ``mpmath.diff`` (a
  numeric derivative, not SymPy's), ``Subs`` by substitution, a call ``ref(NAME)(args)`` of an earlier result by
  :class:`Refs`, the solved variable of an implicit result by the engine's bracketed root of its proven equation; a
  complex value (a point outside the expression's domain) raises :class:`OutOfDomain`.
* :class:`Refs` — an earlier result at given arguments: a fixed point or a solved equation (``Root``, ``Solve``) by
  Newton's method on its own defining equations, started from its derived value; a composite by its own expression,
  evaluated here; anything else by its emitted form (proven equal to the derived one, and exact where that cancels:
  the ReLU map's ``arccos(c/√(q1 q2))`` turns the rounding of ``c/√(q1 q2) = 1`` into its square root), which its
  own independent reference has checked against its defining equation (induction over the declaration order).
* :func:`newton` — Newton's method on ``n`` residuals in ``n`` unknowns with a one-sided difference Jacobian at three
  times the working precision (stepping away from a domain boundary where the other side is outside).
"""
from __future__ import annotations

from typing import Callable

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from learndyn.derive import functions as F
from learndyn.derive.declaration import ByChoice, Composite, Root, Solve
from learndyn.derive.gauss_quadrature import MP_ACTIVATIONS
from learndyn.derive.printer import SOLVED_PREFIX
from learndyn.derive.proof import DerivationError

__all__ = ["DPS", "OutOfDomain", "to_mpf", "at_values", "evaluate", "bind", "Refs", "newton", "root_system", "RootSystem",
           "derived_outputs", "solve_outputs"]

#: working precision of the independent reference (digits)
DPS = 40

#: mpmath implementations of engine functions that ``MPMATH_FUNCTIONS`` leaves to ``evalf``
_EXTRA = {"DeepModeTime": lambda s, u0, uf, tau, D: F.deep_mode_time_closed_mp(s, u0, uf, tau, int(D))}


class OutOfDomain(ArithmeticError):
    """The expression is complex (or undefined) at the point: outside its domain."""


def to_mpf(v):
    """A point's value at the working precision (``Rational`` exactly, ``float`` by its binary value)."""
    if isinstance(v, (mpmath.mpf, mpmath.mpc)):
        return v
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(v, (int, float)):
        return mpmath.mpf(v)
    if isinstance(v, sp.Rational):
        return mpmath.mpf(v.p) / v.q
    if isinstance(v, sp.Basic):
        return mpmath.mpf(sp.N(v, mpmath.mp.dps + 10))
    raise TypeError(f"not a number: {v!r}")


def _real(v):
    if isinstance(v, mpmath.mpc):
        if abs(v.imag) > mpmath.mpf(10) ** (-mpmath.mp.dps + 5) * max(abs(v.real), 1):
            raise OutOfDomain(f"complex value {v}")
        return v.real
    return mpmath.mpf(v) if not isinstance(v, mpmath.mpf) else v


def _name(e: AppliedUndef) -> str:
    return type(e).__name__


class _Compiled:
    """An expression lambdified once: arguments sorted by name, refs and solved variables as callables."""

    def __init__(self, expr: sp.Expr, solvers: tuple, refs: "Refs | None"):
        from learndyn.derive.maps import mp_modules

        names = sorted({_name(e) for e in expr.atoms(AppliedUndef) if not _name(e).startswith(SOLVED_PREFIX)})
        table: dict = {}
        aliases = {}
        for i, full in enumerate(names):
            if refs is None:
                raise DerivationError(f"refers to {full}, which must be derived first")
            name, _, output = full.partition(".")
            aliases[full] = sp.Function(f"_ref{i}")
            table[f"_ref{i}"] = refs.callable(name, output or None)
        if aliases:  # bottom up: a ref's arguments may hold refs
            expr = expr.replace(lambda e: isinstance(e, AppliedUndef) and _name(e) in aliases,
                                lambda e: aliases[_name(e)](*e.args))
        self.symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
        self.expr = expr
        self.fn = sp.lambdify(self.symbols, expr, modules=[table, _EXTRA, MP_ACTIVATIONS, *mp_modules(solvers)])

    def __call__(self, point: dict):
        try:
            args = [to_mpf(point[s.name]) for s in self.symbols]
        except KeyError as exc:
            raise DerivationError(f"no value for {exc.args[0]} in {sp.sstr(self.expr)}") from None
        try:
            return _real(self.fn(*args))
        except ZeroDivisionError:
            raise OutOfDomain("division by zero") from None
        except NameError:  # a function without an mpmath implementation: SymPy's evalf
            value = self.expr.subs({s: sp.Float(mpmath.nstr(a, mpmath.mp.dps + 5), mpmath.mp.dps + 5)
                                    for s, a in zip(self.symbols, args)}).evalf(mpmath.mp.dps + 5)
            return _real(mpmath.mpmathify(complex(value)) if not value.is_real else mpmath.mpf(str(value)))
        except (ValueError, TypeError, AttributeError) as exc:  # mpmath outside a function's domain: a comparison
            raise OutOfDomain(str(exc)) from None                   # with a complex, atan2 of a complex square root


_CACHE: dict = {}


def _compiled(expr: sp.Expr, solvers: tuple, refs: "Refs | None") -> _Compiled:
    key = (expr, solvers, refs)
    if key not in _CACHE:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = _Compiled(expr, solvers, refs)
    return _CACHE[key]


def at_values(expr, point: dict):
    """``expr`` with the point's values substituted for its symbols (by name), exactly."""
    expr = sp.sympify(expr)
    return expr.subs({s: point[s.name] for s in expr.free_symbols if s.name in point})


def _outermost(expr: sp.Expr, kinds: tuple) -> list:
    if isinstance(expr, kinds):
        return [expr]
    out = []
    for a in expr.args:
        out += _outermost(a, kinds)
    return out


def evaluate(expr: sp.Expr, point: dict, solvers: tuple = (), refs: "Refs | None" = None):
    """``expr`` at ``point`` (a dict keyed by symbol name) at the working precision (see the module)."""
    expr = sp.sympify(expr)
    nodes = _outermost(expr, (sp.Subs, sp.Derivative))
    if nodes:
        point = dict(point)
        reps = {}
        for i, node in enumerate(nodes):
            name = f"_node{i}"
            point[name] = _node_value(node, point, solvers, refs)
            reps[node] = sp.Symbol(name)
        expr = expr.xreplace(reps)
    if expr.is_number and not expr.has(AppliedUndef):
        return _real(to_mpf(expr)) if expr.is_real is not False else _real(mpmath.mpmathify(complex(expr)))
    return _compiled(expr, tuple(solvers), refs)(point)


def bind(expr: sp.Expr, variables: tuple[str, ...], point: dict, solvers: tuple = (), refs: "Refs | None" = None) -> Callable:
    """``expr`` (without ``Derivative`` or ``Subs``) as a fast function of the named ``variables``, every other symbol
    fixed at its value in ``point`` (for an integrator's right-hand side or an integrand)."""
    compiled = _compiled(sp.sympify(expr), tuple(solvers), refs)
    order = [s.name for s in compiled.symbols]
    fixed = {n: to_mpf(point[n]) for n in order if n not in variables}
    slots = [variables.index(n) if n in variables else None for n in order]

    def call(*values):
        try:
            return _real(compiled.fn(*[fixed[n] if i is None else values[i] for n, i in zip(order, slots)]))
        except ZeroDivisionError:
            raise OutOfDomain("division by zero") from None

    return call


def _node_value(node, point: dict, solvers, refs):
    if isinstance(node, sp.Subs):
        inner = dict(point)
        for var, val in zip(node.variables, node.point):
            inner[var.name] = evaluate(val, point, solvers, refs)
        return evaluate(node.expr, inner, solvers, refs)
    (var, order), = node.variable_count
    at = to_mpf(point[var.name])
    return mpmath.diff(lambda x: evaluate(node.expr, {**point, var.name: x}, solvers, refs), at, int(order))


# -- Newton's method on defining equations -----------------------------------------------------------------------------

def newton(residuals: Callable[[list], list], start: list, *, max_iter: int = 60) -> list:
    """A root of ``residuals`` (``n`` functions of ``n`` unknowns, as a list) near ``start``; raises
    :class:`DerivationError` when it does not converge. The Jacobian is a one-sided difference with a relative step
    ``10^{−dps/2}`` at 20 extra digits; a step that leaves the domain is halved; steps that stop shrinking below
    ``10^{−(dps−10)}`` relative have reached the rounding of the residuals and end the iteration."""
    x = [to_mpf(v) for v in start]
    tol = mpmath.mpf(10) ** -(mpmath.mp.dps - 3)
    floor = mpmath.mpf(10) ** -(mpmath.mp.dps - 10)  # steps that stop shrinking here are rounding in the residuals
    dps, previous = mpmath.mp.dps, None
    for _ in range(max_iter):
        with mpmath.workdps(dps + 20):
            fx = residuals(x)
            jac = mpmath.matrix(len(fx), len(x))
            for j in range(len(x)):
                h = mpmath.mpf(10) ** -(dps // 2) * max(abs(x[j]), mpmath.mpf(10) ** -5)
                for side in (1, -1):
                    try:
                        col = residuals([x[i] + (side * h if i == j else 0) for i in range(len(x))])
                        break
                    except OutOfDomain:
                        if side == -1:
                            raise
                for i in range(len(fx)):
                    jac[i, j] = (col[i] - fx[i]) / (side * h)
            try:
                step = mpmath.lu_solve(jac, mpmath.matrix(fx))
            except ZeroDivisionError:
                raise DerivationError("Newton's method met a singular Jacobian") from None
            for _ in range(40):  # stay inside the domain
                new = [x[j] - step[j] for j in range(len(x))]
                try:
                    residuals(new)
                    break
                except OutOfDomain:
                    step = step / 2
        size = max(abs(step[j]) / max(abs(new[j]), mpmath.mpf(10) ** -30) for j in range(len(x)))
        if size <= tol:
            return [+v for v in new]
        if previous is not None and size >= previous / 2 and size <= floor:  # at the residual's rounding floor
            return [+v for v in x]
        x, previous = new, size
    raise DerivationError(f"Newton's method did not converge from {[mpmath.nstr(v, 8) for v in start]}")


def bracketed_root(f: Callable, x0) -> mpmath.mpf:
    """A sign change of ``f`` about ``x0`` (the bracket ``x0 (1 ± 2^k 10^{-12})`` grown until ``f`` changes sign, points
    outside ``f``'s domain skipped), narrowed by bisection to the working precision; raises :class:`DerivationError`
    where there is none."""
    x0 = to_mpf(x0)
    f0 = f(x0)
    if f0 == 0:
        return x0
    scale = abs(x0) if x0 != 0 else mpmath.mpf(1)
    for k in range(200):
        h = scale * mpmath.mpf(10) ** -12 * 2**k
        for other in (x0 + h, x0 - h):
            try:
                fo = f(other)
            except OutOfDomain:
                continue
            if fo == 0:
                return other
            if (fo > 0) != (f0 > 0):
                a, b, fa = (x0, other, f0) if x0 < other else (other, x0, fo)
                for _ in range(4 * mpmath.mp.prec):
                    mid = (a + b) / 2
                    fm = f(mid)
                    if fm == 0 or b - a <= mpmath.mpf(2) ** (-mpmath.mp.prec + 4) * abs(mid):
                        return mid
                    a, b, fa = (mid, b, fm) if (fm > 0) == (fa > 0) else (a, mid, fa)
                return (a + b) / 2
    raise DerivationError(f"no sign change of the residual about {mpmath.nstr(x0, 8)}")


# -- earlier results ------------------------------------------------------------------------------------------------------

class RootSystem:
    """Defining equations of a root-like result: ``equations`` (relations), the ``unknowns`` (symbols), the declared
    ``outputs`` ``(name, expr)`` in the unknowns and parameters, and ``given`` ``(symbol, expr)``."""

    def __init__(self, equations, unknowns, outputs, given=()):
        self.equations, self.unknowns, self.outputs, self.given = tuple(equations), tuple(unknowns), tuple(outputs), tuple(given)

    def solve(self, point: dict, start: dict, solvers: tuple, refs: "Refs") -> dict:
        """The unknowns (by name) solving the equations at ``point``, by Newton's method from ``start``."""
        point = dict(point)
        for sym, expr in self.given:
            point[sym.name] = evaluate(expr, point, solvers, refs)
        names = [u.name for u in self.unknowns]
        lhs = [e.lhs - e.rhs for e in self.equations]

        def residuals(x):
            at = {**point, **dict(zip(names, x))}
            return [evaluate(r, at, solvers, refs) for r in lhs]

        x0 = [start.get(n, mpmath.mpf(1)) for n in names]
        x0 = [v if mpmath.isfinite(v) else mpmath.mpf(1) for v in x0]
        try:
            return {**point, **dict(zip(names, newton(residuals, x0)))}
        except DerivationError:
            if len(names) != 1 or len(lhs) != 1:
                raise
        # one equation in one unknown that Newton cannot follow (a steep or kinked residual): a bracket grown
        # geometrically about the start until the residual changes sign, then bisection
        return {**point, names[0]: bracketed_root(lambda x: residuals([x])[0], x0[0])}

    def output_values(self, solved: dict, solvers: tuple, refs: "Refs") -> dict:
        out = {}
        for name, expr in self.outputs:
            out[name] = solved[name] if name in solved and name in {u.name for u in self.unknowns} else \
                evaluate(expr, solved, solvers, refs)
        return out


def _first_branch(expr: sp.Expr) -> sp.Expr:
    return expr.args[0].expr if isinstance(expr, sp.Piecewise) else expr


def root_system(stages, result_name: str = "") -> RootSystem:
    """The defining equations of ``stages`` (one or more ``Root``/``Solve`` definitions solved in order): all their
    equations together, the unknowns named by their outputs (or ``Solve``'s unknowns), ``given`` symbols of one stage
    that an earlier stage solves becoming unknowns too."""
    equations, outputs, given = [], {}, []
    names: list[str] = []
    for stage in stages:
        if isinstance(stage, Root):
            eqs = list(stage.equations)
            declared = dict(stage.outputs)
            wanted = [n for n in declared]
        elif isinstance(stage, Solve):
            eqs = list(stage.equation) if isinstance(stage.equation, tuple) else [stage.equation]
            eqs += list(stage.checks)
            declared = dict(stage.outputs)
            wanted = ([stage.unknown] if isinstance(stage.unknown, str) else list(stage.unknown)) + list(declared)
        else:
            raise DerivationError(f"{result_name}: {type(stage).__name__} is not a system of equations")
        equations += eqs
        outputs.update(declared)
        free = {s.name: s for e in eqs for s in e.free_symbols}
        names += [n for n in dict.fromkeys(wanted) if n in free and n not in names]
        given += [(sym, expr) for sym, expr in getattr(stage, "given", ())]
    free = {s.name: s for e in equations for s in e.free_symbols}
    unknowns = [free[n] for n in names]
    given = [(s, e) for s, e in given if s.name not in names]
    return RootSystem(equations, unknowns, tuple(outputs.items()), given)


class Refs:
    """Earlier results at given arguments (see the module), memoised per point and precision."""

    def __init__(self, registry: dict, solvers: tuple):
        self.registry = registry
        self.solvers = tuple(solvers)
        self._memo: dict = {}

    def _parent(self, name: str):
        """``(ByChoice derivation, value)`` when ``name`` is a part ``NAME_VALUE`` of one."""
        for d in self.registry.values():
            if any(p.name == name for p in getattr(d, "parts", ())) and isinstance(d.result.definition, ByChoice):
                value = name[len(d.result.name) + 1:]
                return d, value
        return None, None

    def callable(self, name: str, output: str | None) -> Callable:
        if name not in self.registry:
            raise DerivationError(f"refers to {name}, which must be derived first (declare it earlier)")
        return lambda *args: self.value(name, output, args)

    def value(self, name: str, output: str | None, args: tuple):
        key = (name, output, tuple(args), mpmath.mp.prec)
        if key not in self._memo:
            self._memo[key] = self._compute(name, output, args)
        return self._memo[key]

    def _compute(self, name: str, output: str | None, args: tuple):
        d = self.registry[name]
        params = [p for p in d.result.params if p.kind != "choice"]
        point = {p.name: a for p, a in zip(params, args)}
        definition = d.result.definition
        parent, value = self._parent(name)
        stages = (definition,)
        if parent is not None:
            stages = dict(parent.result.definition.cases)[value]
        if all(isinstance(s, (Root, Solve)) for s in stages):
            values = self.root_outputs(d, stages, point)
            return values[output] if output else values[next(iter(values))]
        if isinstance(definition, Composite) and len(stages) == 1:
            pairs = dict(definition.expr) if isinstance(definition.expr, tuple) else {definition.unknown: definition.expr}
            expr = pairs[output] if output else next(iter(pairs.values()))
            if {s.name for s in expr.free_symbols} <= set(point):  # else it holds for every value of a free symbol
                return evaluate(expr, point, self.solvers, self)
        # the emitted forms: proven equal to the derived ones and exact where those cancel (the ReLU map's
        # arccos(c/√(q1 q2)) at c = q1 = q2 turns the rounding ε of the quotient into √ε)
        forms = dict(d.outputs)
        return evaluate(forms[output] if output else d.implementation, point, self.solvers, self)

    def root_outputs(self, d, stages, point: dict) -> dict:
        return solve_outputs(d, root_system(stages, d.result.name), point, self.solvers, self)


def solve_outputs(d, system: RootSystem, point: dict, solvers: tuple, refs: Refs) -> dict:
    """The outputs of root-like derivation ``d`` at ``point`` by Newton's method on ``system`` (its defining
    equations), started from its derived outputs; keyed like :func:`derived_outputs`."""
    start = derived_outputs(d, point, solvers, refs)
    unknowns = [u.name for u in system.unknowns]
    if "" in start:
        first = system.outputs[0][0] if system.outputs else unknowns[0]
        start = {first: start[""]}
    for name, expr in system.outputs:  # an output that is an unknown (possibly a Piecewise branch) starts it
        branch = _first_branch(expr)
        if isinstance(branch, sp.Symbol) and branch.name in unknowns and name in start:
            start.setdefault(branch.name, start[name])
    solved = system.solve(point, start, solvers, refs)
    values = system.output_values(solved, solvers, refs) if system.outputs else {unknowns[0]: solved[unknowns[0]]}
    if not d.outputs:
        return {"": next(iter(values.values()))}
    return values


def derived_outputs(d, point: dict, solvers: tuple, refs: "Refs | None") -> dict:
    """The derivation's emitted value(s) at ``point`` by output name (``""`` for a single output)."""
    if d.outputs:
        return {name: evaluate(e, point, solvers, refs) for name, e in d.outputs}
    return {"": evaluate(d.implementation, point, solvers, refs)}
