r"""The independent reference of a :class:`~learndyn.derive.declaration.SpectralIntegral` (see
:mod:`learndyn.derive.independent`).

The engine solves the mode symbolically (``dsolve``, ``rsolve``, ``solve``), takes the expectation symbolically, integrates
in the angle ``θ`` (the emitted rule) or by residues (closed forms). Here, at seeded points of the test ranges:

* the mode's state is an affine function of its sources, obtained numerically: the ODE ``de/dt = A e + Σ B_i v_i + c`` by
  the matrix exponential of its augmented matrix (``mpmath.expm``: Taylor series with scaling and squaring), the
  recurrence by the ``k``-th power of its augmented matrix (repeated squaring), a stationary equation or the ODE's
  ``t → ∞`` state by solving the linear equation;
* the expectation of the quadratic quantity over the independent centred sources by the cubature that is exact for
  quadratics: ``E[Q] = Q(0) + ½ Σ_i [Q(σ_i e_i) + Q(−σ_i e_i) − 2 Q(0)]``;
* the integral against the density by tanh-sinh quadrature in ``λ`` itself (``mpmath.quad``, which resolves the
  square-root edges), split at ``λ₋ + 10^j/t`` where a factor ``e^{−λt}`` concentrates it, plus the atom's frozen
  modes evaluated at ``λ = 0``;
* a stationary time: one Newton step on ``dE/dt = 0`` from the emitted root (a root at the working precision is its
  own Newton step), with ``dE/dt`` and ``d²E/dt²`` from ``M expm(Mt)`` and ``M² expm(Mt)`` through the quantity's
  derivatives in the state (the chain rule, not the derived slope integrand), and the value there.
"""
from __future__ import annotations

import functools

import mpmath
import sympy as sp

from learndyn.derive.independent import Comparison, Row, candidates, take_points
from learndyn.derive.independent_eval import to_mpf
from learndyn.derive.proof import DerivationError

__all__ = ["spectral_integral"]


_COMPILED: dict = {}
#: digits the cubature may carry beyond the working precision (a long-decayed residual is a difference of O(1) terms)
MAX_EXTRA_DIGITS = 150


@functools.lru_cache(maxsize=None)
def _derivative(expr, variable, k: int):
    return sp.diff(expr, variable, k)


def _compiled(expr, variables: tuple):
    key = (expr, variables)
    if key not in _COMPILED:
        _COMPILED[key] = sp.lambdify(list(variables), sp.sympify(expr), "mpmath")
    return _COMPILED[key]


def _bound(expr, variables: list, values: dict):
    """``expr`` as an mpmath function of ``variables`` with ``values`` (symbol -> mpf) bound at full precision."""
    keys = tuple(sorted(values, key=sp.default_sort_key))
    f = _compiled(expr, tuple(variables) + keys)
    fixed = [values[k] for k in keys]
    return lambda *xs: f(*xs, *fixed)


def _at(expr, values: dict):
    """``expr`` at ``values`` (symbol -> mpf), at the working precision."""
    return mpmath.mpf(_bound(expr, [], values)())


def _values(d, point: dict) -> dict:
    """The point's values keyed by the result's symbols, as mpmath numbers."""
    return {s: to_mpf(point[name]) for name, s in d.result.symbols.items() if name in point}


def _affine_state(definition, lam_value, values: dict, time_value=None, *, limit: bool = False, order: int = 0):
    """``(state, sources)``: the mode's state (or its ``order``-th time derivative, from the ODE itself:
    ``u′ = A u + β``, ``u″ = A u′``) as a function of its sources' values, at eigenvalue ``lam_value``.

    The dynamics are affine in the state, ``A u + β(v)`` with ``β`` affine in the sources; the propagator is computed
    once per eigenvalue: ``expm([[A t, t], [0, 0]]) = [[e^{At}, ∫₀ᵗ e^{As} ds], [0, 1]]`` for an ODE (mpmath.expm), the
    ``k``-th power of ``[[a, 1], [0, 1]]`` (``[[a^k, Σ_{j<k} a^j], [0, 1]]``, by repeated squaring) for a recurrence."""
    from learndyn.derive.spectral_integral import state_symbol

    mode = definition.mode
    lam = definition.density.variable
    u = state_symbol(mode, mode.rhs, mode.step, mode.equation, definition.quantity)
    sources = [v for v, _ in mode.sources]
    at = {**values, lam: lam_value}

    def num(expr):  # at the working precision (substituting mpf values into SymPy would round them to 15 digits)
        if isinstance(expr, (int, float)):
            return mpmath.mpf(expr)
        return _at(expr, at)

    def affine(expr):
        a = num(sp.diff(expr, u))
        b = [num(sp.diff(expr, v)) for v in sources]
        c = num(expr.subs({u: 0, **{v: 0 for v in sources}}))
        return a, (lambda vs: c + mpmath.fsum(bi * vi for bi, vi in zip(b, vs)))

    initial = _initial(mode, sources, num)
    if mode.equation is not None or limit:
        eq = (mode.equation.lhs - mode.equation.rhs) if mode.equation is not None else mode.rhs
        a, beta = affine(eq)
        if a == 0:  # a frozen mode (λ = 0): it keeps its initial state
            return initial, sources
        return (lambda vs: -beta(vs) / a), sources
    if mode.step is not None:
        a, beta = affine(mode.step)
        P = mpmath.matrix([[a, 1], [0, 1]]) ** int(time_value)
        return (lambda vs: P[0, 0] * initial(vs) + P[0, 1] * beta(vs)), sources
    A, beta = affine(mode.rhs)
    P = _expm_affine(A * time_value, to_mpf(time_value))

    def state(vs, order=order):
        x = P[0, 0] * initial(vs) + P[0, 1] * beta(vs)
        if order >= 1:
            x = A * x + beta(vs)
        for _ in range(order - 1):
            x = A * x
        return x

    return state, sources


def _expm_affine(a, b):
    """``expm([[a, b], [0, 0]])`` (``[[e^a, b (e^a − 1)/a], [0, 1]]``) by the Taylor series of the matrix with scaling and
    squaring, specialised to this structure (``M^n = [[a^n, a^{n−1} b], [0, 0]]``; a square of ``[[E, F], [0, 1]]`` is
    ``[[E², (E + 1) F], [0, 1]]``): mpmath.expm's algorithm at a fraction of its cost."""
    squarings = max(0, int(mpmath.ceil(mpmath.log(abs(a), 2))) + 2) if a != 0 else 0
    x, y = a / mpmath.mpf(2) ** squarings, b / mpmath.mpf(2) ** squarings
    E, F, term, n = mpmath.mpf(1), mpmath.mpf(0), mpmath.mpf(1), 0  # term = x^n/n!
    tiny = mpmath.mpf(2) ** (-mpmath.mp.prec - 10)
    while True:
        n += 1
        F += term * y / n if n > 0 else 0  # y x^{n−1}/n!
        term = term * x / n
        E += term
        if abs(term) <= tiny and n > 2:
            break
    for _ in range(squarings):
        E, F = E * E, (E + 1) * F
    return mpmath.matrix([[E, F], [0, 1]])


def _initial(mode, sources, num):
    init = mode.initial if mode.initial is not None else sp.Integer(0)
    a = [num(sp.diff(init, v)) for v in sources]
    c = num(init.subs({v: 0 for v in sources}))
    return lambda vs: c + mpmath.fsum(ai * vi for ai, vi in zip(a, vs))


def _decay_digits(definition, lam_value, values: dict, time_value) -> int:
    """Digits of the mode's decay over ``time_value`` (``−log10`` of ``e^{At}`` or ``a^k``)."""
    from learndyn.derive.spectral_integral import state_symbol

    mode = definition.mode
    lam = definition.density.variable
    u = state_symbol(mode, mode.rhs, mode.step, mode.equation, definition.quantity)
    expr = mode.rhs if mode.rhs is not None else mode.step
    if expr is None:
        return 0
    coefficient = _at(sp.diff(expr, u), {**values, lam: lam_value})
    if mode.rhs is not None:
        decay_log10 = coefficient * to_mpf(time_value) / mpmath.log(10)
    else:
        decay_log10 = int(time_value) * mpmath.log10(abs(coefficient)) if coefficient != 0 else -mpmath.mp.dps
    return int(max(0, -decay_log10))


def _expectation(definition, lam_value, values: dict, time_value=None, *, limit: bool = False, order: int = 0,
                 _carried: bool = False):
    """``E[quantity]`` at one eigenvalue (or its ``order``-th time derivative, ``order ≤ 2``, by the chain rule through
    the state: ``Q_u u′`` and ``Q_uu u′² + Q_u u″``), by the cubature exact for quadratics; a value below
    ``10^{8−dps}`` of the largest term it is built of is rounding (a residual at a fixed point) and returned as 0."""
    from learndyn.derive.spectral_integral import state_symbol

    lam = definition.density.variable
    if definition.mode is None:
        return _at(definition.quantity, {**values, lam: lam_value})
    mode = definition.mode
    # the residual of a long-decayed mode is a difference of O(1) terms that is ~decay: carry the digits it loses
    # only a quantity that subtracts the state from a source (a residual ξ − √λ e) cancels that way
    residual = any(v in definition.quantity.free_symbols for v, _ in mode.sources)
    extra = (_decay_digits(definition, lam_value, values, time_value)
             if residual and not (limit or _carried) and time_value is not None else 0)
    if extra > MAX_EXTRA_DIGITS:  # beyond this method's reach: the point is skipped (the proof counts the points taken)
        from learndyn.derive.gauss_quadrature import QuadratureBudget

        raise QuadratureBudget(f"the mode decays by 10^-{extra} over the time: the residual would need {extra} more digits")
    if extra > 3:
        with mpmath.workdps(mpmath.mp.dps + extra + 10):
            value = _expectation(definition, lam_value, values, time_value, limit=limit, order=order, _carried=True)
        return +value
    propagated = _affine_state(definition, lam_value, values, time_value, limit=limit)[0]
    states = [propagated] + [(lambda vs, k=k: propagated(vs, order=k)) for k in range(1, order + 1)]
    sources = [v for v, _ in mode.sources]
    u = state_symbol(mode, definition.quantity, mode.rhs, mode.step, mode.equation)
    names = list(values)
    Q = [_bound(_derivative(definition.quantity, u, k), [u, lam, *sources], values) for k in range(order + 1)]
    sd = [mpmath.sqrt(_at(var, values)) for _, var in mode.sources]

    def q(vs):
        x = [st(vs) for st in states]
        if order == 0:
            return Q[0](x[0], lam_value, *vs)
        if order == 1:
            return Q[1](x[0], lam_value, *vs) * x[1]
        return Q[2](x[0], lam_value, *vs) * x[1] ** 2 + Q[1](x[0], lam_value, *vs) * x[2]

    zero = [mpmath.mpf(0)] * len(sources)
    q0 = q(zero)
    total, largest = q0, abs(q0)
    for i, s in enumerate(sd):
        plus, minus = list(zero), list(zero)
        plus[i], minus[i] = s, -s
        qp, qm = q(plus), q(minus)
        largest = max(largest, abs(qp), abs(qm))
        total += (qp + qm - 2 * q0) / 2
    if abs(total) <= mpmath.mpf(10) ** (8 - mpmath.mp.dps) * largest:
        return mpmath.mpf(0)
    return total


def _value(definition, values: dict, time_value=None, *, limit: bool = False, order: int = 0):
    """The result's value (or its ``order``-th time derivative): atom + scale·∫ρ E[quantity] dλ + extra, by tanh-sinh
    in λ, split where a decay ``e^{−λt}`` or ``(1 − lr λ)^k`` concentrates the integrand near ``λ₋``."""
    dens = definition.density
    lam = dens.variable
    lo, hi = _at(dens.lower, values), _at(dens.upper, values)
    rho = _bound(dens.density, [lam], values)
    splits = [lo]
    if time_value is not None and not limit:
        mode = definition.mode
        clock = to_mpf(time_value)
        if mode.step is not None:  # k steps of size lr: the decay (1 − lr λ)^k ≈ e^{−lr k λ}
            lr = next(to_mpf(v) for s, v in values.items() if s.name == "lr") if any(s.name == "lr" for s in values) else 1
            clock = clock * lr
        if clock > 0:  # geometric splits by 4 around the decay's scale 1/clock
            splits += [lo + mpmath.mpf(4) ** j / clock for j in range(-8, 30) if lo + mpmath.mpf(4) ** j / clock < hi]
    splits.append(hi)
    def integrand(x):  # the density's root is real inside the support (a rounding residue of i·1e-66 is dropped)
        return mpmath.re(rho(x)) * _expectation(definition, x, values, time_value, limit=limit, order=order)

    # mpmath.quad stops on an absolute error estimate: scale the integrand to order 1 first (a value near 1e-60, where
    # a decay has run for long, was otherwise accepted 1e-4 off)
    probes = [abs(integrand((a + b) / 2)) for a, b in zip(splits[:-1], splits[1:])]
    scale = max(probes) or mpmath.mpf(1)
    bulk = scale * mpmath.quad(lambda x: integrand(x) / scale, splits, maxdegree=8)
    total = _at(definition.scale, values) * bulk + (_at(definition.extra, values) if order == 0 else 0)
    if definition.mode is not None and order == 0:
        # the value is a sum of variances times O(1) factors: below 10^{10−dps} of them it is rounding (a residual that
        # vanishes at a fixed point, computed as a difference)
        scale = mpmath.fsum(abs(_at(var, values)) for _, var in definition.mode.sources)
        if abs(total) <= mpmath.mpf(10) ** (10 - mpmath.mp.dps) * scale and limit:
            total = mpmath.mpf(0)
    atom = _at(dens.atom, values)
    if definition.atom and atom != 0:
        total += atom * _expectation(definition, mpmath.mpf(0), values, time_value, limit=limit, order=order)
    return total


def spectral_integral(d, registry: dict) -> list:
    from learndyn.derive.spectral_integral import mp_emitted

    definition = d.result.definition
    names = {p.name for p in d.result.params}
    mode = definition.mode
    time_name = mode.time if mode is not None else None
    n = 1 if definition.stationary else 2 if time_name in names else 3

    def make(pt):
        values = _values(d, pt)
        emitted = mp_emitted(d, pt, 40)
        derived = {(k, "emitted"): v for k, v in emitted.items()}
        if d.derived is not None and not d.outputs and not d.derived.has(sp.Integral) and definition.quantity is not None:
            value = sp.N(d.derived.subs({s: sp.Rational(pt[s.name]) for s in d.derived.free_symbols if s.name in pt}), 50)
            if value.is_finite:
                derived[("", "derived")] = mpmath.mpf(str(value))
        if definition.quantity is None:  # the density: evaluated directly
            rho = to_mpf(sp.Piecewise((definition.density.density, sp.And(
                definition.density.variable > definition.density.lower,
                definition.density.variable < definition.density.upper)), (0, True)).subs(
                {definition.density.variable: sp.Rational(pt["lam"]), **{k: sp.Rational(pt[k.name]) for k in values}}))
            return Row(pt, derived, {"": rho})
        if definition.stationary is None:
            t = to_mpf(pt[time_name]) if time_name in names else None
            if definition.limit:
                independent = {"": _value(definition, values, None, limit=True)}
            else:
                independent = {"": _value(definition, values, t)}
            return Row(pt, derived, independent)
        t_star = mp_emitted_root(d, pt, emitted)
        E = lambda tv: _value(definition, values, tv)  # noqa: E731
        if definition.gap:
            independent = {"": _value(definition, values, None, limit=True) - E(t_star)}
        else:
            t_name, v_name = definition.stationary
            slope = _value(definition, values, t_star, order=1)
            curvature = _value(definition, values, t_star, order=2)
            if not curvature > 0:
                raise DerivationError(f"the stationary time is not a minimum at {pt}")
            independent = {t_name: t_star - slope / curvature, v_name: E(t_star)}
        return Row(pt, derived, independent)

    def mp_emitted_root(d, pt, emitted):
        from learndyn.derive.spectral_integral import BulkRoot

        if definition.gap:  # the root itself, from the emitted form's BulkRoot
            from learndyn.derive.derivation import Derivation

            call = next(iter(d.implementation.atoms(BulkRoot)))
            return mp_emitted(Derivation(d.result, None, call, sp.S.true, integrands=d.integrands), pt, 40)[""]
        return emitted[definition.stationary[0]]

    with mpmath.workdps(40):
        rows = take_points(candidates(d.result), n, make)
    how = {True: "the density evaluated directly"}.get(definition.quantity is None, (
        "the mode's state by the matrix exponential (ODE), the matrix power (recurrence) or the linear solve (stationary "
        "state, t → ∞), its expectation by the cubature exact for quadratics, the density's integral by tanh-sinh "
        "quadrature in λ"
        + ("; the stationary time by a Newton step on dE/dt = 0, the time derivatives through M expm(Mt)"
           if definition.stationary else "")))
    return [("", Comparison(how, rows))]
