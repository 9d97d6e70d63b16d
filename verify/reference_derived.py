r"""High-precision references from per-integer derivations (a time derived per value of an integer parameter, its
inverse, and results with several outputs), for tier (a).

* a per-integer separable time: SymPy's closed form at the point's integer value (``Ei``, incomplete gamma, …), the
  generic form for a value that ``derive_for`` does not list, each at adaptive precision;
* its inverse (an :class:`~learndyn.derive.declaration.Implicit` with ``derive_inverse``): SymPy's explicit inverse
  where it found one (a Lambert-W or power-law form, held at the boundary where the rate stops), else the root of the
  derived forward form: bisection in ``ln u`` to three digits, then Newton with the defining rate as derivative
  (``dt/du = 1/rhs(u)``), at 50 digits and more;
* a separable time with a term that has no elementary antiderivative: its derived form, the integral by quadrature.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from learndyn.derive.derivation import Derivation

__all__ = ["per_integer_form", "time_reference", "inverse_reference", "derived_reference"]


def _adaptive(evaluate):
    from learndyn.verify.reference import _adaptive as adaptive

    return adaptive(evaluate)


def per_integer_form(d: Derivation, point: dict):
    """The derived closed form of ``d`` (a per-integer derivation) at the point's integer value, or ``None``."""
    definition = d.result.definition
    name = getattr(definition, "per_integer", None)
    if name is None and getattr(definition, "inverse_of", None):
        name = next((p.name for p in d.result.params if p.kind == "int"), None)
    if name is None:
        return None
    k = int(point[name])
    form = d.per_integer.get(k)
    if form is None and d.generic is not None and _generic_applies(d, k):
        form = d.generic
    return form


def _generic_applies(d: Derivation, k: int) -> bool:
    listed = getattr(d.result.definition, "derive_for", None)
    if listed is None:  # an inverse: the forward derivation's listed values
        return True
    return k not in listed


def _value(expr: sp.Expr, point: dict) -> mpmath.mpf:
    from learndyn.derive.separable import mp_evaluate

    return _adaptive(lambda dps: mp_evaluate(expr, point, dps))


def time_reference(d: Derivation, point: dict):
    """A per-integer separable time at ``point``: its derived form, or ``None`` where it has none there."""
    form = per_integer_form(d, point)
    return None if form is None else _value(form, point)


def inverse_reference(d: Derivation, forward: Derivation, point: dict) -> mpmath.mpf:
    """The inverse of ``forward`` (a per-integer separable time) at ``point``: the explicit derived inverse where
    there is one, else the root of the derived forward form."""
    k = int(point[next(p.name for p in d.result.params if p.kind == "int")])
    explicit = d.per_integer.get(k)
    if explicit is None and k not in forward.per_integer:
        explicit = d.generic
    if explicit is not None:
        return _value(explicit, point)
    T = forward.per_integer.get(k, forward.generic)
    F = forward.result.definition
    own, theirs = set(d.result.names), set(forward.result.names)
    (clock,), (target,) = sorted(own - theirs), sorted(theirs - own)
    return _adaptive(lambda dps: _root(T, F, point, clock, target, dps))


def _root(T: sp.Expr, F, point: dict, clock: str, target: str, dps: int) -> mpmath.mpf:
    from learndyn.derive.log_root import increasing_root_in_log
    from learndyn.derive.separable import moving_piece, mp_evaluate

    with mpmath.workdps(dps):
        t = mpmath.mpf(point[clock])
        start = mp_evaluate(sp.sympify(F.start), point, dps)
        if t == 0:
            return start
        rest = {k: v for k, v in point.items() if k != clock}
        active, _, _ = moving_piece(F.rhs, sp.Symbol(F.unknown))
        rate = active.subs(sp.Symbol(F.unknown), sp.Symbol("_u")) / F.tau

        def f(w):  # at the working precision
            return mp_evaluate(T, {**rest, target: mpmath.exp(w)}, mpmath.mp.dps) - t

        def slope(w):  # dt/dw = u/rate(u)
            u = mpmath.exp(w)
            return u / mp_evaluate(rate, {**rest, "_u": u}, mpmath.mp.dps)

        return increasing_root_in_log(f, slope, start, scale=t)


def derived_reference(d: Derivation, point: dict):
    """A result whose derivation keeps a form the maps' reference does not evaluate (an integral kept for quadrature)."""
    return _value(d.derived, point)
