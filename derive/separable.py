r"""Separable times beyond one closed form: rates that stop, integrands without an elementary antiderivative, and a
closed form per value of an integer parameter with a generic one for the rest.

The time an autonomous ODE ``tau du/dt = rhs(u)`` takes from ``start`` to ``end`` is ``t = ∫ tau dv/rhs(v)``.

* **A rate that stops.** ``rhs`` may be a ``Piecewise`` in the unknown whose later pieces are 0 (the hinge loss:
  ``g(m) = 1[m < 1]``). The motion stops at the boundary ``c`` of the moving piece: the time to an end within the moving
  piece (its closure) is the integral of the moving piece's rate, to an end beyond it ``∞``. :func:`moving_piece` reads
  the piece and its boundary; the derived form is ``Piecewise((time, end ≤ c), (∞, True))``.
* **No elementary antiderivative.** SymPy integrates the integrand term by term (of its expansion); a term it cannot
  integrate stays a definite ``Integral`` over the path in the derived form (:func:`antiderivative_terms`), evaluated by
  quadrature in the proofs (:func:`mp_evaluate`) and by the declared implementation in the emitted code.
* **Per integer.** With ``per_integer``, SymPy integrates at each value of ``derive_for`` (and, with ``generic``, with
  the integer left a symbol: the form of every other value, e.g. an incomplete gamma function); each is proven by
  differentiation, against the published forms declared per value, and against the emitted implementation at seeded
  points; the emitted implementation is also compared with the defining integral by mpmath quadrature at other values.
"""
from __future__ import annotations

import functools
import random

import mpmath
import sympy as sp

from learndyn.derive import functions as F
from learndyn.derive.proof import DerivationError, Prover, symbolic_zero

__all__ = ["moving_piece", "stopped", "antiderivative_terms", "generic_closed_form", "mp_evaluate", "path_sign",
           "domain_points", "INTEGRAL_VARIABLE"]

#: the variable of an integral kept in a derived form (no elementary antiderivative)
INTEGRAL_VARIABLE = sp.Symbol("s", real=True)


def moving_piece(rhs: sp.Expr, unknown: sp.Symbol) -> tuple[sp.Expr, sp.Expr | None, bool]:
    """``(rate, boundary, below)``: the rate of the moving piece, the boundary where the rate becomes 0 (``None`` for
    a rate without pieces) and whether the moving piece lies below it (``u < c``) or above (``u > c``)."""
    if not rhs.has(sp.Piecewise):
        return rhs, None, True
    folded = sp.piecewise_fold(rhs)
    if not isinstance(folded, sp.Piecewise):
        raise DerivationError(f"the rate {sp.sstr(rhs)} is piecewise in a way the engine cannot split")
    (active, cond), *rest = folded.args
    if not rest or not all(sp.simplify(e) == 0 for e, _ in rest) or rest[-1][1] != sp.true:
        raise DerivationError(f"a piecewise rate must be one moving piece followed by pieces of rate 0, got {sp.sstr(folded)}")
    if not isinstance(cond, sp.core.relational.Relational) or cond.rel_op not in ("<", "<=", ">", ">="):
        raise DerivationError(f"the moving piece's condition {sp.sstr(cond)} must be one inequality in {unknown}")
    lhs, rhs_c = cond.lhs, cond.rhs
    if lhs == unknown and not rhs_c.has(unknown):
        boundary, below = rhs_c, cond.rel_op in ("<", "<=")
    elif rhs_c == unknown and not lhs.has(unknown):
        boundary, below = lhs, cond.rel_op in (">", ">=")
    else:
        raise DerivationError(f"the moving piece's condition {sp.sstr(cond)} must compare {unknown} with a bound")
    if sp.simplify(active.subs(unknown, boundary)) == 0:
        raise DerivationError(f"the moving piece's rate vanishes at its boundary {sp.sstr(boundary)}: the time to it is infinite")
    return active, boundary, below


def stopped(closed: sp.Expr, end: sp.Expr, boundary: sp.Expr | None, below: bool) -> sp.Expr:
    """``closed`` where ``end`` lies in the moving piece's closure, ``∞`` beyond the boundary (where the motion stops)."""
    if boundary is None:
        return closed
    within = sp.Le(end, boundary) if below else sp.Ge(end, boundary)
    if within == sp.true:
        return closed
    if within == sp.false:
        return sp.oo
    return sp.Piecewise((closed, within), (sp.oo, True))


def antiderivative_terms(integrand: sp.Expr, v: sp.Symbol) -> tuple[sp.Expr, tuple[sp.Expr, ...]]:
    """``(antiderivative, leftover)``: SymPy's antiderivative of the terms of ``integrand`` it can integrate, and the
    terms it cannot (no elementary antiderivative); the whole integrand first, term by term only if that fails."""
    whole = sp.integrate(integrand, v)
    if not whole.has(sp.Integral):
        return whole, ()
    anti, leftover = sp.S.Zero, []
    for term in sp.Add.make_args(sp.expand(integrand)):
        part = sp.integrate(term, v)
        if part.has(sp.Integral):
            leftover.append(term)
        else:
            anti += part
    return anti, tuple(leftover)


def generic_closed_form(anti: sp.Expr, n: sp.Symbol, values: list[int]) -> sp.Expr:
    """SymPy's antiderivative for a symbolic integer ``n`` at the values ``values`` (none of ``derive_for``): each
    ``Piecewise`` in ``n`` alone by the branch that holds there (the same for every value, else an error), and the
    polar numbers of SymPy's incomplete gamma functions (``v e^{iπ}``) made ordinary (``−v``)."""
    def pick(pw):
        if not all(c.free_symbols <= {n} for _, c in pw.args):
            return pw
        chosen = set()
        for k in values:
            for i, (_, c) in enumerate(pw.args):
                if bool(c.subs(n, k)):
                    chosen.add(i)
                    break
        if len(chosen) != 1:
            raise DerivationError(f"the branches of {sp.sstr(pw)} differ between {n} = {values}")
        return pw.args[chosen.pop()].expr

    anti = anti.replace(lambda e: isinstance(e, sp.Piecewise), pick)
    return anti.replace(sp.exp_polar, lambda z: sp.exp(z))


def path_sign(start: sp.Expr, end: sp.Expr, point: dict) -> int:
    """``+1`` where the path lies in ``v > 0``, ``−1`` in ``v < 0``, ``0`` where it may cross 0 (read at a point)."""
    vals = [float(sp.sympify(e).subs({s: point[s.name] for s in sp.sympify(e).free_symbols if s.name in point})) for e in (start, end)]
    if min(vals) >= 0:
        return 1
    if max(vals) <= 0:
        return -1
    return 0


def domain_points(result, rng: random.Random, n: int, integers: dict | None = None, keep=None) -> list[dict]:
    """``n`` seeded points of the result's test ranges that satisfy its relations (and ``keep(point)``)."""
    from learndyn.derive.derivation import sample_point
    from learndyn.derive.maps import _holds

    out = []
    for _ in range(200 * n):
        pt = sample_point(result, rng, integers=integers)
        if all(_holds(rel.condition, pt) for rel in result.relations) and (keep is None or keep(pt)):
            out.append(pt)
        if len(out) == n:
            break
    if len(out) < n:
        raise DerivationError(f"{result.name}: too few points of the test ranges inside the domain")
    return out


def mp_evaluate(expr: sp.Expr, point: dict, dps: int) -> mpmath.mpf:
    """``expr`` at ``point`` (keyed by symbol name; integers substituted exactly) at ``dps`` digits, each ``Integral``
    by ``mpmath.quad`` split geometrically toward both ends (:func:`~learndyn.derive.independent_dynamics.quad_path`)."""
    from learndyn.derive.independent_dynamics import quad_path
    from learndyn.derive.maps import mp_value

    ints = tuple(sorted((s.name, point[s.name]) for s in expr.free_symbols
                        if s.name in point and isinstance(point[s.name], int)))
    expr, integrals = _prepared(expr, ints)
    with mpmath.workdps(dps):
        values, reps = {}, {}
        for i, integral in enumerate(integrals):
            (var, lo, hi), = integral.limits
            body = integral.function
            fixed = {k: v for k, v in point.items() if k != var.name}
            f = lambda x, body=body, var=var: mp_value(body, {**fixed, var.name: x}, (), dps)  # noqa: E731
            a, b = mp_value(sp.sympify(lo), fixed, (), dps), mp_value(sp.sympify(hi), fixed, (), dps)
            name = f"_I{i}"
            values[name] = quad_path(f, a, b)
            reps[integral] = sp.Symbol(name)
        return mp_value(expr.xreplace(reps), {**point, **values}, (), dps)


@functools.lru_cache(maxsize=512)
def _prepared(expr: sp.Expr, ints: tuple) -> tuple[sp.Expr, tuple]:
    """``expr`` with its integer parameters substituted exactly, and its integrals in a fixed order (memoised: a root
    search evaluates the same expression many times)."""
    expr = expr.subs({s: dict(ints)[s.name] for s in expr.free_symbols if s.name in dict(ints)})
    return expr, tuple(sorted(expr.atoms(sp.Integral), key=sp.default_sort_key))


def prove_equal_numeric(prover: Prover, claim: str, a: sp.Expr, b: sp.Expr, points: list[dict], dps: int = 50,
                        digits: int = 30) -> None:
    """``a == b`` at ``points`` to ``digits`` digits (both evaluated by :func:`mp_evaluate`; equal infinities agree)."""
    worst = mpmath.mpf(0)
    for pt in points:
        va, vb = mp_evaluate(a, pt, dps), mp_evaluate(b, pt, dps)
        if va == vb:
            continue
        scale = max(abs(va), abs(vb))
        rel = abs(va - vb) / scale if scale else mpmath.mpf(0)
        if not rel <= mpmath.mpf(10) ** -digits:
            raise DerivationError(f"{prover.name}: {claim} fails at {pt}: {mpmath.nstr(va, 25)} != {mpmath.nstr(vb, 25)}")
        worst = max(worst, rel)
    prover.fact(claim, f"numeric ({len(points)} seeded points at {dps} digits, integrals by mpmath quadrature; largest "
                       f"relative difference {mpmath.nstr(worst, 2) if worst else '0'}, tolerance 1e-{digits})")


def prove_equal(prover: Prover, claim: str, a: sp.Expr, b: sp.Expr, points: list[dict]) -> None:
    """``a == b``: symbolically where SymPy shows it, else numerically at ``points``."""
    if not (a.has(sp.Integral) or b.has(sp.Integral)):
        try:
            if symbolic_zero(F.to_elementary(a) - F.to_elementary(b)):
                prover.fact(claim, "symbolic (SymPy simplifies the difference to 0)")
                return
        except Exception:  # noqa: BLE001 - fall back to the numeric proof
            pass
    prove_equal_numeric(prover, claim, a, b, points)
