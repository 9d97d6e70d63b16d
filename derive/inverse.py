r"""The inverse of a per-integer separable time (an :class:`~learndyn.derive.declaration.Implicit` with
``derive_inverse``): the unknown at a given time.

For each integer value the forward derivation closed (and its generic form), SymPy solves ``t = T(u)`` for ``u`` where
``T`` is elementary (a power law, a logarithm, ``u + e^u``: the solution is a power law, an exponential or a Lambert-W
form); the solution must be unique and positive, and is proven by substitution. Where ``T`` is not elementary (``Ei``,
an incomplete gamma function) there is no closed-form inverse and the emitted implementation is a vectorised solve.
Either way the emitted implementation is proven to invert the *derived* forward form: at seeded points of the
forward result's test ranges the exact time ``t = T(u)`` is computed at 50 digits and the implementation at that
``t`` must give ``u`` back to 30 digits (less the digits the inverse's conditioning costs, which are re-gained by
extra precision). Where the forward rate stops at a boundary (the hinge loss at ``m = 1``), the unknown is the
boundary from the time the boundary is reached on: checked at ``t = (5/4) T(boundary)``.
"""
from __future__ import annotations

import random

import mpmath
import sympy as sp

from learndyn.derive.proof import DerivationError, Prover

__all__ = ["derive_inverse"]

DPS = 50
SEED = 20241123

def _elementary(expr: sp.Expr) -> bool:
    return not any(not isinstance(f, (sp.exp, sp.log, sp.LambertW)) for f in expr.atoms(sp.Function))


def _active(expr: sp.Expr) -> sp.Expr:
    return expr.args[0].expr if isinstance(expr, sp.Piecewise) else expr


def derive_inverse(result, d, registry: dict):
    from learndyn.derive.derivation import Derivation
    from learndyn.derive.separable import domain_points, moving_piece, mp_evaluate

    if d.inverse_of not in registry:
        raise DerivationError(f"{result.name}: inverts {d.inverse_of}, which must be derived first")
    fwd = registry[d.inverse_of]
    F = fwd.result.definition
    if not fwd.per_integer:
        raise DerivationError(f"{result.name}: derive_inverse needs a per-integer separable time to invert")
    own, theirs = set(result.names), set(fwd.result.names)
    (clock,), (target,) = sorted(own - theirs), sorted(theirs - own)
    syms, fsyms = result.symbols, fwd.result.symbols
    t, n = syms[clock], syms[F.per_integer]
    u = sp.Symbol(d.unknown, positive=True)
    prover = Prover(result.name)
    prover.fact(f"{d.unknown}({clock}) is the inverse of {d.inverse_of} in {target}",
                f"symbolic (the integrand of {d.inverse_of} is positive on the moving piece, so the time is strictly "
                "increasing in its end point: the inverse exists and is unique)")
    active, boundary, below = moving_piece(F.rhs, sp.Symbol(F.unknown))
    rng = random.Random(SEED)
    forms = list(fwd.per_integer.items()) + ([("generic", fwd.generic)] if fwd.generic is not None else [])
    inverses: dict = {}
    for k, T in forms:
        label = f"{F.per_integer} = {k}" if k != "generic" else f"{F.per_integer} not in {sorted(fwd.per_integer)}"
        T_u = _active(T).subs(fsyms[target], u)
        if not _elementary(T_u):
            kinds = ", ".join(sorted({type(f).__name__ for f in T_u.atoms(sp.Function)} - {"exp", "log"}))
            prover.fact(f"{label}: t({target}) is not elementary ({kinds}): no closed-form inverse; the emitted "
                        "implementation is a vectorised solve", "symbolic (the forward closed form)")
            continue
        sols = sp.solve(sp.Eq(t, T_u), u)
        if len(sols) != 1:
            raise DerivationError(f"{result.name}: {label}: solving t = {sp.sstr(T_u)} for {d.unknown} gave {sols}")
        inverses[k] = sols[0]
        inv = sols[0]
        prover.fact(f"{label}: SymPy solves t = {sp.sstr(T_u)} for {d.unknown}: {d.unknown} = {sp.sstr(inv)}",
                    "symbolic (sympy.solve, one solution; proven by substitution at the seeded points below)")
    impl = result.implementation
    if impl is None:
        raise DerivationError(f"{result.name}: an implicit result needs a declared implementation")
    in_piece = None
    if boundary is not None:
        end = F.end
        in_piece = lambda pt: bool((sp.Le(end, boundary) if below else sp.Ge(end, boundary)).subs(  # noqa: E731
            {s: pt[s.name] for s in sp.sympify(end).free_symbols}))
    values = [k for k, _ in forms if k != "generic"]
    others = sorted({2 + rng.randint(3, 12), 17, 33, 64} - set(values))
    worst, count = mpmath.mpf(0), 0
    for k in values + others:
        T = fwd.per_integer.get(k, fwd.generic)
        inv = inverses.get(k, inverses.get("generic") if k not in fwd.per_integer else None)
        for pt in domain_points(fwd.result, rng, 3, integers={F.per_integer: k}, keep=in_piece):
            with mpmath.workdps(DPS + 30):
                time = mp_evaluate(T, pt, DPS + 30)
                want = mpmath.mpf(sp.Rational(pt[target]).p) / sp.Rational(pt[target]).q
            at = {name: val for name, val in pt.items() if name != target}
            at[clock] = time
            got = {"emitted": mp_evaluate(impl, at, DPS + 30)}
            if inv is not None:
                got["derived"] = mp_evaluate(inv, at, DPS + 30)
            for form, value in got.items():
                rel = abs(value - want) / want
                if not rel <= mpmath.mpf(10) ** -30:
                    raise DerivationError(f"{result.name}: the {form} inverse at t = {d.inverse_of}({target} = "
                                          f"{mpmath.nstr(want, 17)}) gives {mpmath.nstr(value, 25)} at {F.per_integer} = {k}")
                worst = max(worst, rel)
            count += 1
    prover.fact(f"the emitted implementation (and each derived inverse) gives {target} back at the time "
                f"{d.inverse_of} derives for it, at {F.per_integer} in {values + others}",
                f"numeric ({count} seeded points of the forward test ranges at {DPS + 30} digits; largest relative "
                f"difference {mpmath.nstr(worst, 2) if worst else '0'}, tolerance 1e-30)")
    stop_inverse = {}
    if boundary is not None:
        b = boundary
        for k in values + others[:1]:
            T = fwd.per_integer.get(k, fwd.generic)
            for pt in domain_points(fwd.result, rng, 2, integers={F.per_integer: k}, keep=in_piece):
                at = {**{name: val for name, val in pt.items() if name != target}, target: b}
                reach = mp_evaluate(T, at, DPS)
                at = {name: val for name, val in at.items() if name != target}
                at[clock] = reach * mpmath.mpf(5) / 4
                value = mp_evaluate(impl, at, DPS)
                if value != mp_evaluate(sp.sympify(b), at, DPS):
                    raise DerivationError(f"{result.name}: past the stop the emitted form gives {value}, not {sp.sstr(b)}")
        prover.fact(f"from the time {target} = {sp.sstr(b)} is reached on, the emitted form is exactly {sp.sstr(b)}",
                    "numeric (at 5/4 of that time, at seeded points)")
        reach_of = {k: _active(T).subs(fsyms[target], b) for k, T in forms}
        for k, inv in inverses.items():
            stop_inverse[k] = sp.Piecewise((inv, sp.Lt(t, reach_of[k])), (b, True))
    else:
        stop_inverse = dict(inverses)
    generic = stop_inverse.pop("generic", None)
    return Derivation(result, None, impl, d.equation, {}, tuple(prover.steps), stop_inverse, generic=generic)
