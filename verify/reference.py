"""High-precision (mpmath) reference values of a result, from its derivation — not from the generated code.

* closed forms (ODE and separable results): the derived SymPy expression evaluated by mpmath at 50 digits,
  and at a removable singularity the limit SymPy derived;
* per-integer separable times (``deep_mode_time``): the defining integral by mpmath quadrature;
* implicit inverses (``deep_mode_trajectory``): a bracketed root of the (proven) closed form of the
  forward result, in the variable ``z = ln(u/|s − u|)``.
"""
from __future__ import annotations

import functools

import mpmath
import sympy as sp

from learndyn.derive import functions as F
from learndyn.derive.declaration import Implicit, SeparableTime
from learndyn.derive.derivation import Derivation

__all__ = ["reference", "DPS"]

DPS = 50


def _mpf(v) -> mpmath.mpf:
    return mpmath.mpf(v) if not isinstance(v, mpmath.mpf) else v


@functools.lru_cache(maxsize=None)
def _lambdified(expr: sp.Expr, names: tuple[str, ...], symbols: tuple[sp.Symbol, ...]):
    return sp.lambdify(symbols, expr, modules="mpmath")


def _exact(v):
    return sp.Rational(v) if isinstance(v, float) else v  # exact binary value


def _at_removable_singularity(d: Derivation, point: dict, expr: sp.Expr) -> sp.Expr:
    """``expr``, or the limit the derivation recorded where ``point`` lies exactly on a removable singularity."""
    syms = d.result.symbols
    for name, (val, lim) in d.limits.items():
        at = val.subs({syms[k]: _exact(v) for k, v in point.items() if k in syms and not isinstance(v, str)})
        if sp.simplify(at - _exact(point[name])) == 0:
            return lim
    return expr


def _closed_form(d: Derivation, point: dict) -> mpmath.mpf:
    r = d.result
    syms = r.symbols
    expr = _at_removable_singularity(d, point, d.derived)
    names = tuple(p.name for p in r.params)
    fn = _lambdified(expr, names, tuple(syms[n] for n in names))
    with mpmath.workdps(DPS + 20):
        value = fn(*(_mpf(point[n]) if isinstance(point[n], float) else point[n] for n in names))
    return mpmath.re(value)


def _deep_time(point: dict) -> mpmath.mpf:
    with mpmath.workdps(DPS + 10):
        return F.deep_mode_time_mp(_mpf(point["s"]), _mpf(point["u0"]), _mpf(point["uf"]), _mpf(point["tau"]), int(point["depth"]))


def _deep_trajectory(point: dict) -> mpmath.mpf:
    """Solve ``T(u0 → u) = t`` for ``u`` at high precision."""
    with mpmath.workdps(DPS + 20):
        t, s, u0, tau = (_mpf(point[k]) for k in ("t", "s", "u0", "tau"))
        D = int(point["depth"])
        if t == 0 or u0 == s:
            return u0
        below = u0 < s

        def u_of(z):
            return s / (1 + mpmath.exp(-z)) if below else s / (1 - mpmath.exp(-z))

        def g(z):
            return F.deep_mode_time_closed_mp(s, u0, u_of(z), tau, D) - t

        z0 = mpmath.log(u0 / abs(s - u0))
        z_cap = max(z0 + 1, mpmath.mpf(120))
        if g(z_cap) < 0:  # the root lies beyond z = 120: |u - s| < s·e^{-120} ≈ 1e-52 s
            return s
        lo, step = z0, mpmath.mpf(1)
        hi = min(z0 + step, z_cap)
        while g(hi) < 0:
            lo, step = hi, step * 2
            hi = min(z0 + step, z_cap)
        for _ in range(400):  # bisection to a narrow bracket, then a secant polish
            mid = (lo + hi) / 2
            if g(mid) < 0:
                lo = mid
            else:
                hi = mid
            if hi - lo < mpmath.mpf(10) ** (-12) * max(1, abs(mid)):
                break
        try:
            z = mpmath.findroot(g, (lo, hi), solver="anderson", tol=mpmath.mpf(10) ** (-2 * DPS + 20))
        except ValueError:  # no convergence to that tolerance: finish by bisection (the bracket is sound)
            while hi - lo > mpmath.mpf(10) ** (-DPS + 10) * max(1, abs(lo)):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if g(mid) < 0 else (lo, mid)
            z = (lo + hi) / 2
        return u_of(z)


def _adaptive(evaluate) -> mpmath.mpf:
    """Evaluate at increasing precision until two precisions agree (a derived form may cancel: the erf form
    of a Gaussian tail, ``1 − ½ erfc(x)``, loses ``x²/2.3`` digits)."""
    previous = evaluate(DPS + 20)
    for dps in (2 * DPS, 4 * DPS, 8 * DPS, 16 * DPS, 32 * DPS, 64 * DPS):
        value = evaluate(dps)
        if value == previous or abs(value - previous) <= mpmath.mpf(10) ** -40 * abs(value) + mpmath.mpf(10) ** -340:
            return value
        previous = value
    raise ArithmeticError(f"the reference did not converge up to {64 * DPS} digits")


def _signal_reference(d: Derivation, point: dict):
    """Results derived by :mod:`learndyn.derive.maps`: the derived expression (with the solved variables of
    implicit results found by a bracketed mpmath root of their proven equation), at adaptive precision."""
    from learndyn.derive import maps
    from learndyn.derive.registry import derivations, families

    family = next(f for f in families() if any(r.name == d.result.name for r in f.results))
    solvers = maps.solvers_of(maps.with_parts(derivations(family.name)))
    if d.cases:
        choice = next(p.name for p in d.result.params if p.kind == "choice")
        expr = dict(d.cases)[point[choice]]
        if isinstance(expr, tuple):  # several outputs
            return {name: _adaptive(lambda dps, e=e: maps.mp_value(e, point, solvers, dps)) for name, e in expr}
    elif d.outputs:
        return {name: _adaptive(lambda dps, e=e: maps.mp_value(e, point, solvers, dps)) for name, e in d.outputs}
    else:
        expr = d.derived if d.derived is not None else d.implementation
    if expr.has(sp.erf, sp.erfc):
        expr = maps.ndtr_form(expr)  # proven equal symbolically in the derivation; exact in the tails
    expr = _at_removable_singularity(d, point, expr)
    return _adaptive(lambda dps: maps.mp_value(expr, point, solvers, dps))


def reference(d: Derivation, point: dict):
    """The reference value of result ``d.result`` at ``point`` (a dict of Python floats/ints/strings); a dict
    of values for a result with several outputs."""
    from learndyn.derive import maps

    from learndyn.verify import reference_derived as rd

    definition = d.result.definition
    from learndyn.derive.declaration import SpectralIntegral

    if isinstance(definition, SpectralIntegral):
        return _spectral_reference(d, point)
    if isinstance(definition, maps.KINDS):
        if d.cases and d.parts:  # a part derived per integer (or keeping an integral) is referenced by its derivation
            choice = next(p.name for p in d.result.params if p.kind == "choice")
            part = dict(zip((v for v, _ in d.cases), d.parts))[point[choice]]
            value = _part_reference(part, point)
            if value is not None:
                return value
        return _signal_reference(d, point)
    if isinstance(definition, Implicit):
        if definition.inverse_of == "deep_mode_time":
            return _deep_trajectory(point)
        if definition.derive_inverse:
            return rd.inverse_reference(d, _family_registry(d)[definition.inverse_of], point)
        raise NotImplementedError(f"no reference for implicit result {d.result.name}")
    if isinstance(definition, SeparableTime) and definition.per_integer is not None:
        value = rd.time_reference(d, point) if d.generic is not None or definition.published else None
        return _deep_time(point) if value is None else value
    if d.outputs:  # several outputs (a solved equation): each at adaptive precision
        return {name: _adaptive(lambda dps, e=e: maps.mp_value(e, point, (), dps)) for name, e in d.outputs}
    return _closed_form(d, point)


def _spectral_reference(d: Derivation, point: dict):
    """A spectral integral (:mod:`learndyn.derive.spectral_integral`): its emitted rule carried to 30 digits by mpmath
    (the same integrand, Gauss–Legendre with more nodes per panel, the stationary time by Newton's method at 30 digits),
    or its derived closed form; a dict for several outputs."""
    from learndyn.derive.spectral_integral import BulkIntegral, BulkRoot, mp_emitted

    exprs = [e for _, e in d.outputs] or [d.implementation]
    if not any(e.has(BulkIntegral, BulkRoot) for e in exprs):
        return _closed_form(d, point)
    with mpmath.workdps(40):
        values = mp_emitted(d, point, 30)
    return values if d.outputs else values[""]


def _family_registry(d: Derivation) -> dict:
    from learndyn.derive import maps
    from learndyn.derive.registry import derivations, families

    name = d.result.name  # a result, or a part NAME_VALUE of one
    family = next(f for f in families() if any(r.name == name or name.startswith(r.name + "_") for r in f.results))
    return maps.with_parts(derivations(family.name))


def _part_reference(part: Derivation, point: dict):
    """The reference of one value's part of a :class:`ByChoice` derived per integer, inverting one, or keeping an
    integral; ``None`` for the other kinds (the maps' reference)."""
    from learndyn.verify import reference_derived as rd

    definition = part.result.definition
    if isinstance(definition, SeparableTime) and definition.per_integer is not None:
        return rd.time_reference(part, point)
    if isinstance(definition, SeparableTime) and part.derived is not None and part.derived.has(sp.Integral):
        return rd.derived_reference(part, point)
    if isinstance(definition, Implicit) and definition.derive_inverse:
        return rd.inverse_reference(part, _family_registry(part)[definition.inverse_of], point)
    return None
