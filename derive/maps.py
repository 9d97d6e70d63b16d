"""Derivations for signal propagation: Gaussian maps, recurrences over depth, implicit roots (fixed points,
critical points), composites of earlier results (slopes, depth scales) and free products (Jacobian spectra).

Every step is recorded by a :class:`~learndyn.derive.proof.Prover` as ``symbolic`` (SymPy shows it) or
``numeric`` (mpmath at high precision, at seeded points of the test ranges, with the worst difference).
"""
from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from learndyn.derive import functions as F
from learndyn.derive.declaration import (
    ByChoice, Composite, FreeProduct, GaussianMap, KernelComposition, Recurrence, Result, Root,
)
from learndyn.derive.printer import SOLVED_PREFIX
from learndyn.derive.proof import DerivationError, Prover

__all__ = ["KINDS", "derive", "SolverSpec", "mp_value", "mp_modules", "ndtr_form", "solved"]

KINDS = (GaussianMap, Recurrence, Root, Composite, FreeProduct, KernelComposition, ByChoice)
DPS = 40
PROOF_POINTS = 16
SEED = 20241123


def solved(name: str):
    """The SymPy function standing for the solved variable of implicit result ``name`` (printed as a call of
    its emitted solver ``_solve_NAME``, evaluated by a bracketed mpmath root in references and proofs)."""
    return sp.Function(SOLVED_PREFIX + name)


@dataclass(frozen=True)
class SolverSpec:
    """An implicit result's scalar equation, increasing in ``variable`` on ``[lo, hi]``; emitted as
    ``_solve_NAME(*params)`` (a vectorised, differentiable Newton-bisection solve)."""

    name: str
    variable: sp.Symbol
    equation: sp.Expr
    lo: sp.Expr
    hi: sp.Expr
    guess: sp.Expr | None
    params: tuple[sp.Symbol, ...]
    #: integer parameters of the equation (Python ints, not tensors: passed to the emitted equation as they are)
    integers: tuple[sp.Symbol, ...] = ()


# -- high-precision evaluation ------------------------------------------------------------------------

def _to_mpf(v):
    if isinstance(v, (str, mpmath.mpf)):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return mpmath.mpf(v)  # exact; an int would make 2/depth a float division in the lambdified code
    if isinstance(v, float):
        return mpmath.mpf(v)  # the exact binary value (its shortest repr differs by up to half an ulp)
    r = sp.Rational(v)
    return mpmath.mpf(r.p) / r.q


def _mp_root_increasing(f, lo, hi):
    """Root of an increasing ``f`` on ``[lo, hi]`` (``hi`` may be ``inf``) at the working precision."""
    if f(lo) >= 0:
        return lo
    if hi == mpmath.inf:
        top = max(2 * abs(lo), mpmath.mpf(1))
        while f(top) < 0:
            lo, top = top, top * 2
        hi = top
    a, b = mpmath.mpf(lo), mpmath.mpf(hi)
    tol = mpmath.mpf(10) ** (-mpmath.mp.dps + 5)
    for _ in range(20 * mpmath.mp.dps):
        mid = mpmath.sqrt(a * b) if a > 0 and b > 4 * a else (a + b) / 2
        if f(mid) < 0:
            a = mid
        else:
            b = mid
        if b - a <= tol * max(abs(a), abs(b)):
            break
        if b - a <= mpmath.mpf(10) ** -15 * max(abs(a), abs(b)):
            try:  # polish inside the bracket
                x = mpmath.findroot(f, (a, b), solver="anderson")
                if a <= x <= b:
                    return x
            except (ValueError, ZeroDivisionError):
                pass
    return (a + b) / 2


@functools.lru_cache(maxsize=None)
def _lambdified(expr: sp.Expr, symbols: tuple[sp.Symbol, ...], solvers: tuple[SolverSpec, ...]):
    return sp.lambdify(symbols, expr, modules=mp_modules(solvers))


@functools.lru_cache(maxsize=None)
def _mp_solver(spec: SolverSpec):
    params = (*spec.params, *spec.integers)
    f = sp.lambdify((spec.variable, *params), spec.equation, modules=mp_modules(()))
    lo = sp.lambdify(params, spec.lo, modules=mp_modules(()))
    hi = sp.lambdify(params, spec.hi, modules=mp_modules(()))

    roots: dict = {}  # the same root is asked for by every proof step at the same point

    def solve(*args):
        key = (mpmath.mp.prec, *args)
        if key not in roots:
            roots[key] = _mp_root_increasing(lambda x: mpmath.re(f(x, *args)), mpmath.mpf(lo(*args)), mpmath.mpf(hi(*args)))
        return roots[key]

    return solve


def mp_modules(solvers: tuple[SolverSpec, ...]) -> list:
    """lambdify modules: the project's special functions and the given solvers, then mpmath."""
    table = dict(F.MPMATH_FUNCTIONS)
    for spec in solvers:
        table[SOLVED_PREFIX + spec.name] = _mp_solver(spec)
    return [table, "mpmath"]


def solvers_of(registry: dict) -> tuple[SolverSpec, ...]:
    """Every solver the derivations of ``registry`` emit (their own, earlier stages', their parts'), once each."""
    out: list[SolverSpec] = []
    for d in registry.values():
        for spec in (getattr(d, "solver", None), *getattr(d, "solvers", ())):
            if spec is not None and spec not in out:
                out.append(spec)
    return tuple(out)


def with_parts(derivations) -> dict:
    """A registry (name -> derivation) of ``derivations`` and their parts (``NAME_VALUE`` of a :class:`ByChoice`)."""
    registry: dict = {}
    for d in derivations:
        registry[d.name] = d
        for part in getattr(d, "parts", ()):
            registry[part.name] = part
    return registry


def mp_value(expr: sp.Expr, point: dict, solvers: tuple[SolverSpec, ...] = (), dps: int = DPS) -> mpmath.mpf:
    """``expr`` at ``point`` (a dict keyed by symbol name) at ``dps`` digits; an infinite value is ``inf``."""
    symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    fn = _lambdified(expr, symbols, solvers)
    with mpmath.workdps(dps):
        try:
            return mpmath.re(fn(*(_to_mpf(point[s.name]) for s in symbols)))
        except ZeroDivisionError:
            return mpmath.inf


def _inline(expr: sp.Expr, registry: dict) -> sp.Expr:
    """Replace each ``ref(NAME)(args)`` by the earlier derivation of NAME at those arguments."""
    def is_ref(e):
        return isinstance(e, AppliedUndef) and type(e).__name__.split(".")[0] in registry

    def repl(e):
        name, _, output = type(e).__name__.partition(".")
        d = registry[name]
        syms = [p.symbol for p in d.result.params if p.kind != "choice"]
        value = dict(d.derived_outputs or d.outputs)[output] if output else d.expr
        return value.subs(dict(zip(syms, e.args)), simultaneous=True)

    unknown = [type(e).__name__ for e in expr.atoms(AppliedUndef)
               if not type(e).__name__.startswith(SOLVED_PREFIX) and type(e).__name__.split(".")[0] not in registry]
    if unknown:
        raise DerivationError(f"refers to {sorted(set(unknown))}, which must be derived first (declare it earlier)")
    return expr.replace(is_ref, repl)


def _points(result: Result, extra: tuple = (), n: int = PROOF_POINTS, seed: int = SEED) -> list[dict]:
    from learndyn.derive.derivation import sample_point

    rng = random.Random(seed)
    out = []
    for _ in range(50 * n):
        pt = sample_point(result, rng)
        for p in extra:
            pt.update(sample_point(Result(p.name, "", (p,), None, "", (), None), rng))
        if all(_holds(rel.condition, pt) for rel in result.relations):
            out.append(pt)
        if len(out) == n:
            break
    return out


def _holds(condition: sp.Basic, point: dict) -> bool:
    """Whether a relation of the domain holds at a point (a drawn point outside the domain is not used)."""
    subs = {s: sp.nsimplify(point[s.name]) if isinstance(point[s.name], float) else point[s.name]
            for s in condition.free_symbols if s.name in point}
    try:
        return bool(condition.subs(subs))
    except TypeError:
        return True


def _numeric_equal(prover: Prover, claim: str, a: sp.Expr, b: sp.Expr, points: list[dict], solvers, how: str = "") -> None:
    worst = mpmath.mpf(0)
    for pt in points:
        va, vb = mp_value(a, pt, solvers), mp_value(b, pt, solvers)
        if va == vb:
            continue
        scale = max(abs(va), abs(vb), mpmath.mpf(10) ** -DPS)
        rel = abs(va - vb) / scale
        worst = max(worst, rel)
        if rel > mpmath.mpf(10) ** -25:
            raise DerivationError(f"{prover.name}: {claim} fails at {pt}: {va} != {vb}")
    prover.fact(claim, f"numeric ({how}{len(points)} seeded points at {DPS} digits; largest relative difference "
                       f"{mpmath.nstr(worst, 2) if worst else '0'})")


def stable_outputs(prover: Prover, outputs: tuple, stable: dict, points, solvers, prove, label: str) -> tuple:
    """``outputs`` with those named in ``stable`` replaced by their emitted (stable) forms, each first proven equal
    to the derived output by ``prove`` (``_equal`` or ``_numeric_equal``); ``label`` formats the proof step."""
    out = []
    for name, expr in outputs:
        if name in stable:
            prove(prover, label.format(name), stable[name], expr, points, solvers)
            expr = stable[name]
        out.append((name, expr))
    return tuple(out)


def _equal(prover: Prover, claim: str, a: sp.Expr, b: sp.Expr, points, solvers) -> None:
    """Prove ``a == b``: symbolically if SymPy can, else numerically at the seeded points."""
    if not (a.has(AppliedUndef) or b.has(AppliedUndef)):
        try:
            if sp.simplify(F.to_elementary(a) - F.to_elementary(b)) == 0:
                prover.fact(claim, "symbolic (SymPy simplifies the difference to 0)")
                return
        except Exception:  # noqa: BLE001 - fall back to the numeric proof
            pass
    _numeric_equal(prover, claim, a, b, points, solvers)


# -- stable forms -------------------------------------------------------------------------------------

def ndtr_form(expr: sp.Expr) -> sp.Expr:
    r"""Rewrite ``erf``/``erfc`` as the normal CDF ``Φ`` and pick, term by term, the side of ``Φ`` that keeps
    the tails exact: a term ``k Φ(x)`` beside a constant ``−k`` becomes ``−k Φ(−x)`` (``k − k Φ(−x) − k``),
    so ``1 − Φ(−a)`` is emitted as ``Φ(a)``, never as a difference that is 0 in float64."""
    if not expr.has(sp.erf, sp.erfc):
        return expr
    out = expr.replace(sp.erfc, lambda x: 2 * F.Ndtr(-sp.sqrt(2) * x)).replace(sp.erf, lambda x: 2 * F.Ndtr(sp.sqrt(2) * x) - 1)
    out = sp.expand(out)
    changed = True
    while changed:
        changed = False
        terms = sp.Add.make_args(out)
        for t in terms:
            atoms = t.atoms(F.Ndtr)
            if len(atoms) != 1:
                continue
            (atom,) = atoms
            k = sp.simplify(t / atom)
            if k.has(F.Ndtr) or -k not in terms:
                continue
            out = sp.expand(out - t + k - k * F.Ndtr(-atom.args[0]))
            changed = True
            break
    return out


# -- Gaussian expectations -----------------------------------------------------------------------------

def _density(z: sp.Symbol) -> sp.Expr:
    return sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)


def _piecewise(f: sp.Expr) -> sp.Expr:
    f = f.replace(lambda e: isinstance(e, (F.ReLU, F.ShiftedReLU, F.Step)), lambda e: e.rewrite(sp.Piecewise))
    return sp.piecewise_fold(f)


def _sign_at(expr: sp.Expr, side: dict) -> int:
    if expr.is_positive:
        return 1
    if expr.is_negative:
        return -1
    v = float(expr.subs(side))
    if v == 0:
        raise DerivationError(f"the sign of {expr} cannot be read at the sample point")
    return 1 if v > 0 else -1


def _regions(f: sp.Piecewise, z: sp.Symbol, side: dict) -> list[tuple[sp.Expr, sp.Expr, sp.Expr]]:
    """The pieces of a Piecewise in ``z`` as ``(expr, lo, hi)``; one kink (one linear condition) per variable."""
    pieces = list(f.args)
    if len(pieces) != 2 or pieces[1][1] != sp.true:
        raise DerivationError(f"only one kink per Gaussian variable is supported, got {f}")
    (e1, cond), (e2, _) = pieces
    if not isinstance(cond, sp.core.relational.Relational):
        raise DerivationError(f"the kink condition {cond} is not a single inequality")
    lhs = sp.expand(cond.lhs - cond.rhs)
    poly = sp.Poly(lhs, z)
    if poly.degree() != 1:
        raise DerivationError(f"the kink condition {cond} is not linear in {z}")
    k, m = poly.coeff_monomial(z), poly.coeff_monomial(1)
    b = sp.simplify(-m / k)
    upward = (_sign_at(k, side) > 0) == (cond.rel_op in (">", ">="))
    return [(e1, b, sp.oo), (e2, -sp.oo, b)] if upward else [(e1, -sp.oo, b), (e2, b, sp.oo)]


@dataclass(frozen=True)
class _Quadrature:
    """A one-dimensional Gaussian integral left to mpmath: ``const · Σ ∫_lo^hi expr φ_N(z) dz``."""

    const: sp.Expr
    pieces: tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]
    z: sp.Symbol

    def value(self, point: dict) -> mpmath.mpf:
        total = mpmath.mpf(0)
        subs = {s: _to_mpf(point[s.name]) for s in self.const.free_symbols}
        for expr, lo, hi in self.pieces:
            syms = tuple(sorted((expr.free_symbols | lo.free_symbols | hi.free_symbols) - {self.z}, key=lambda s: s.name))
            args = [_to_mpf(point[s.name]) for s in syms]
            f = sp.lambdify((self.z, *syms), expr * _density(self.z), modules=mp_modules(()))
            a = sp.lambdify(syms, lo, modules="mpmath")(*args)
            b = sp.lambdify(syms, hi, modules="mpmath")(*args)
            total += mpmath.quad(lambda x: f(x, *args), [a, b])
        c = sp.lambdify(tuple(subs), self.const, modules="mpmath")(*subs.values()) if subs else mpmath.mpf(str(sp.N(self.const, DPS)))
        return c * total


def _integrate_one(f: sp.Expr, z: sp.Symbol, side: dict):
    """``E_z[f]`` in closed form, or a :class:`_Quadrature` where SymPy cannot close it."""
    const, dep = f.as_independent(z, as_Add=False)
    dep = _piecewise(dep)
    if isinstance(dep, sp.Piecewise) and not any(c.has(z) for _, c in dep.args):
        return const * sp.Piecewise(*[(_integrate_one(e, z, side), c) for e, c in dep.args])
    pieces = _regions(dep, z, side) if isinstance(dep, sp.Piecewise) else [(dep, -sp.oo, sp.oo)]
    total = sp.S.Zero
    for e, lo, hi in pieces:
        if e == 0:
            continue
        integrand = sp.expand(e * _density(z))
        val = sp.integrate(integrand, (z, lo, hi))
        if val.has(sp.Integral) or isinstance(val, sp.Piecewise) or val.has(sp.polar_lift):
            # a Gaussian factor whose exponent's sign SymPy cannot see: combine and factor the exponents
            combined = sp.powsimp(integrand, combine="exp").replace(sp.exp, lambda arg: sp.exp(sp.factor(arg)))
            val = sp.integrate(combined, (z, lo, hi)) if combined != integrand else val
        if val.has(sp.Integral) or isinstance(val, sp.Piecewise) or val.has(sp.polar_lift):
            return _Quadrature(const, tuple(pieces), z)
        total += val
    return const * sp.simplify(total)


def _expectation(marker: F.GaussE, side: dict):
    integrand, *zs = marker.args
    f = integrand
    for i, z in enumerate(reversed(zs)):
        f = _integrate_one(f, z, side)
        if isinstance(f, _Quadrature):
            if i != len(zs) - 1:
                raise DerivationError(f"E over {zs}: SymPy cannot integrate over {z}, and only the outermost "
                                      "integral may be left to quadrature")
            return f
    return f


_CHOL = (sp.Symbol("A_chol", positive=True), sp.Symbol("B_chol", real=True), sp.Symbol("D_chol", positive=True))
_PRICE_DEPTH = 2


def _price_derivative(f: sp.Lambda) -> sp.Lambda:
    """``f'`` for Price's theorem: ReLU → step → Dirac delta (distributional derivatives), else ``sp.diff``."""
    (x,), body = f.args
    if isinstance(body, F.ReLU) and body.args[0] == x:
        return sp.Lambda(x, F.Step(x))
    if isinstance(body, F.Step) and body.args[0] == x:
        return sp.Lambda(x, sp.DiracDelta(x))
    return sp.Lambda(x, sp.diff(body, x))


def _odd(f: sp.Expr, z: sp.Symbol) -> bool:
    try:
        return sp.simplify(f.subs(z, -z) + f) == 0
    except Exception:  # noqa: BLE001
        return False


#: functions whose Gaussian integrals over a shifted argument SymPy does not close (it tries for ~15 s, then fails):
#: an activation with one goes to Price's theorem at once (its derivative is elementary)
_NONELEMENTARY = (sp.erf, sp.erfc, sp.erfi, sp.Ei, sp.Si, sp.Ci, sp.li, sp.fresnels, sp.fresnelc)


def _nonelementary(f: sp.Lambda) -> bool:
    return f.args[1].has(*_NONELEMENTARY)


def _closed(val) -> bool:
    return not isinstance(val, _Quadrature) and not val.has(sp.Integral, sp.polar_lift) and not isinstance(val, sp.Piecewise)


def _antiderivative(integrand: sp.Expr, v: sp.Symbol) -> sp.Expr | None:
    """An antiderivative in ``v`` without case splits: SymPy directly, else with the ``v``-free constant under
    each square root replaced by a positive symbol (so SymPy knows its sign); checked by differentiation."""
    cands = [integrand]
    reps = {}
    for pw in integrand.atoms(sp.Pow):
        if pw.exp in (sp.S.Half, -sp.S.Half) and pw.base.has(v):
            poly = sp.Poly(sp.expand(pw.base), v)
            const = poly.coeff_monomial(1)
            if const != 0 and not const.has(v):
                m = sp.Symbol(f"M{len(reps)}", positive=True)
                reps[m] = const
                cands.append(cands[-1].subs(pw.base, pw.base - const + m))
    for k, cand in enumerate(cands):
        anti = sp.integrate(cand, v)
        if anti.has(sp.Integral) or anti.has(sp.Piecewise):
            continue
        anti = anti.subs(reps) if k else anti
        if sp.simplify(sp.diff(anti, v) - integrand) == 0:
            return anti
    return None


def _bivariate(marker: F.BivariateE, side: dict, prover: Prover, depth: int = 0) -> sp.Expr:
    """``E[f(u_a) g(u_b)]`` in closed form: over the Cholesky factors where SymPy closes both integrals, else by
    Price's theorem ``∂_c E[f g] = E[f' g']`` from ``c = 0`` (where the expectation factorises). A non-elementary
    ``f`` or ``g`` (``erf``) goes to Price's theorem without the Cholesky attempt, which SymPy cannot close."""
    f, g, q1, c, q2 = marker.args
    a, b, d = _CHOL
    z1, z2 = sp.symbols("z1 z2", real=True)
    chol_side = {a: sp.sqrt(q1.subs(side)), b: c.subs(side) / sp.sqrt(q1.subs(side)),
                 d: sp.sqrt((q1 * q2 - c**2).subs(side) / q1.subs(side))}
    back = {a: sp.sqrt(q1), b: c / sp.sqrt(q1), d: sp.sqrt(q1 * q2 - c**2) / sp.sqrt(q1)}
    direct = None
    if depth >= _PRICE_DEPTH or not (_nonelementary(f) or _nonelementary(g)):
        try:
            direct = _expectation(F.GaussE(f(a * z1) * g(b * z1 + d * z2), z1, z2), chol_side)
        except DerivationError:  # the inner integral does not close either
            direct = None
    label = f"E[{sp.sstr(f.args[1])} · {sp.sstr(g.args[1])}]"
    if direct is not None and _closed(direct):
        val = sp.simplify(sp.powsimp(direct.subs(back), force=True))
        prover.fact(f"{label} = {sp.sstr(val)}", "symbolic (SymPy integrate over the Cholesky factors u_a = √q1 z1, "
                    "u_b = (c/√q1) z1 + √(det/q1) z2)")
        return val
    if depth >= _PRICE_DEPTH:
        raise DerivationError(f"SymPy cannot integrate {label}, even after {_PRICE_DEPTH} uses of Price's theorem")
    fp, gp = _price_derivative(f), _price_derivative(g)
    slope = _bivariate(F.BivariateE(fp, gp, q1, c, q2), side, prover, depth + 1)
    at_zero = sp.S.One
    for h, q in ((f, q1), (g, q2)):
        z = sp.Symbol("z", real=True)
        integrand = h(sp.sqrt(q) * z)
        one = _expectation(F.GaussE(integrand, z), side) if not _odd(integrand, z) else sp.S.Zero
        if not _closed(one):
            raise DerivationError(f"SymPy cannot integrate E[{sp.sstr(integrand)}]")
        at_zero *= one
    v = sp.Symbol("v_c", real=True)
    anti = _antiderivative(slope.subs(c, v), v)
    if anti is None:
        raise DerivationError(f"SymPy cannot integrate {sp.sstr(slope)} over {c}")
    val = sp.simplify(at_zero + anti.subs(v, c) - anti.subs(v, 0))
    prover.fact(f"{label} = {sp.sstr(val)}",
                f"symbolic (Price's theorem: ∂/∂c {label} = E[f'(u_a) g'(u_b)]; at c = 0 it factorises into "
                f"{sp.sstr(at_zero)} (SymPy, or 0 for an odd integrand); SymPy integrates the slope from 0 to c and "
                "the antiderivative is checked by differentiation)")
    return val


def _derive_gaussian(result: Result, d: GaussianMap, registry: dict):
    from learndyn.derive.derivation import Derivation

    prover = Prover(result.name)
    aux = {p.symbol for p in d.auxiliary}
    points = _points(result, d.auxiliary)
    side = {s: sp.Rational(points[0][s.name]) for s in d.expr.free_symbols if s.name in points[0]}
    expr = _inline(d.expr, registry)
    subs, quads = {}, {}
    for marker in sorted(expr.atoms(F.BivariateE), key=sp.default_sort_key):
        subs[marker] = _bivariate(marker, side, prover)
    for i, marker in enumerate(sorted(expr.atoms(F.GaussE), key=sp.default_sort_key)):
        val = _expectation(marker, side)
        if isinstance(val, _Quadrature):
            placeholder = sp.Symbol(f"_E{i}")
            subs[marker], quads[placeholder] = placeholder, val
            prover.fact(f"{sp.sstr(marker)}: inner integrals in closed form",
                        "symbolic (SymPy integrate, split at the kinks); the outermost integral by mpmath quadrature")
        else:
            subs[marker] = val
            prover.fact(f"{sp.sstr(marker)} = {sp.sstr(val)}", "symbolic (SymPy integrate over each Gaussian variable, split at the kinks)")
    defining = sp.Eq(sp.Symbol(d.unknown), d.expr)
    if not quads:
        derived = sp.simplify(expr.xreplace(subs))
        if derived.free_symbols & aux:
            raise DerivationError(f"{result.name}: the auxiliary parameters {sorted(s.name for s in derived.free_symbols & aux)} do not cancel: {derived}")
        if aux:
            prover.fact(f"independent of {', '.join(sorted(s.name for s in aux))}", "symbolic (they cancel)")
        if result.published is not None:
            prover.symbolic("the derived form equals the published form", F.to_elementary(derived - result.published))
        stable = ndtr_form(derived)
        if stable != derived:
            prover.symbolic("emitted form chosen by rewrite rule (erf/erfc as Φ on the side that keeps the tails exact) "
                            "equals the derived form", F.to_elementary(stable) - derived)
    else:
        if result.published is None:
            raise DerivationError(f"{result.name}: SymPy cannot close the expectation; declare the published form to prove by quadrature")
        partial = expr.xreplace(subs)
        worst = mpmath.mpf(0)
        for pt in points:
            with mpmath.workdps(DPS):
                vals = {k.name: q.value(pt) for k, q in quads.items()}
                lhs = mp_value(partial, {**pt, **vals})
                rhs = mp_value(result.published, pt)
            rel = abs(lhs - rhs) / max(abs(rhs), mpmath.mpf(10) ** -DPS)
            worst = max(worst, rel)
            if rel > mpmath.mpf(10) ** -25:
                raise DerivationError(f"{result.name}: the published form differs from the defining expectation at {pt}: {lhs} != {rhs}")
        names = ", ".join(sorted(s.name for s in aux))
        prover.fact("the published form equals the defining expectation" + (f" (and is independent of {names})" if aux else ""),
                    f"numeric (one-dimensional mpmath quadrature with the inner integral in closed form, at {len(points)} "
                    f"seeded points of the test ranges at {DPS} digits; largest relative difference {mpmath.nstr(worst, 2)})")
        derived = result.published
        stable = derived
    impl = stable
    if result.implementation is not None:
        impl = result.implementation
        _equal(prover, "the emitted (stable) form equals the derived form", impl, derived, points, solvers_of(registry))
    return Derivation(result, derived, impl, defining, {}, tuple(prover.steps))


# -- recurrences over depth ------------------------------------------------------------------------------

def _derive_recurrence(result: Result, d: Recurrence, registry: dict):
    from learndyn.derive.derivation import Derivation

    syms = result.symbols
    prover = Prover(result.name)
    if d.of not in registry:
        raise DerivationError(f"{result.name}: iterates {d.of}, which must be derived first")
    m = registry[d.of]
    v, n = syms[d.var], syms[d.steps]
    map_expr = m.expr.subs({p.symbol: syms[p.name] for p in m.result.params if p.name in syms}, simultaneous=True)
    Q = sp.Function("Q")
    derived = sp.rsolve(Q(n + 1) - map_expr.subs(v, Q(n)), Q(n), {Q(0): v})
    if derived is None:
        raise DerivationError(f"{result.name}: rsolve found no solution")
    prover.fact(f"SymPy solves Q(l+1) = {d.of}(Q(l)), Q(0) = {d.var}", "symbolic (sympy.rsolve)")
    prover.symbolic("the solution satisfies the recurrence", derived.subs(n, n + 1) - map_expr.subs(v, derived))
    prover.symbolic("the solution satisfies the initial condition", derived.subs(n, 0) - v)
    poly = sp.Poly(sp.expand(map_expr), v)
    if poly.degree() != 1:
        raise DerivationError(f"{result.name}: only affine maps have a stable form here")
    a, b = sp.factor(poly.coeff_monomial(v)), sp.factor(poly.coeff_monomial(1))
    impl = F.AffineIterate(a, b, v, n)
    prover.fact("emitted form chosen by rewrite rule (affine map: a^l q + b (a^l − 1)/(a − 1), the geometric sum "
                "computed as expm1(l log1p(a − 1))/(a − 1), in logarithms where a^l overflows)", "symbolic (proven equal below)")
    prover.symbolic("the emitted form equals the derived form", F.to_elementary(impl) - derived)
    limits = {}
    for name in d.removable:
        (val,) = [x for x in sp.solve(a - 1, syms[name]) if x.is_positive is not False]
        lim = v + n * b.subs(syms[name], val)
        prover.symbolic(f"at {name} = {sp.sstr(val)} (slope 1, a removable singularity) the limit of the derived form "
                        f"is {sp.sstr(lim)}", lim - sp.limit(derived, syms[name], val))
        b_val = b.subs(syms[name], val)
        prover.symbolic("the emitted form equals the limit there (its geometric sum is Geom(1, l) = l)",
                        v + b_val * F.Geom(sp.S.One, n) - lim)
        limits[name] = (val, lim)
    defining = sp.Eq(Q(n), sp.Function(d.of)(Q(n - 1)))
    return Derivation(result, derived, impl, defining, limits, tuple(prover.steps))


# -- implicit roots ------------------------------------------------------------------------------------

def _derive_root(result: Result, d: Root, registry: dict):
    from learndyn.derive.derivation import Derivation

    prover = Prover(result.name)
    x = d.variable
    name = d.name or result.name
    given = tuple(sym for sym, _ in d.given)
    reals = tuple(p.symbol for p in result.params if p.kind == "real")
    integers = tuple(p.symbol for p in result.params if p.kind == "int")
    spec = SolverSpec(name, x, d.equation, d.bracket[0], d.bracket[1], d.guess, reals + given, integers)
    solvers = solvers_of(registry) + (spec,)
    outputs = dict(d.outputs)
    unknowns = {s.name: s for eq in d.equations for s in eq.free_symbols if s.name in outputs}
    points = _points(result)
    givens = {sym: expr for sym, expr in d.given}
    points = [{**pt, **{sym.name: mp_value(expr, pt, solvers) for sym, expr in d.given}} for pt in points]
    if d.where is not None:
        inside = [pt for pt in points if bool(mp_value(sp.Piecewise((1, d.where), (0, True)), pt, solvers))]
        for pt in points:
            if pt not in inside and mp_value(d.equation.subs(x, d.bracket[0]), pt, solvers) != 0:
                raise DerivationError(f"{result.name}: outside {sp.sstr(d.where)} the emitted equation must vanish at the "
                                      f"lower end of the bracket (it does not at {pt})")
        prover.fact(f"the root exists where {sp.sstr(d.where)}; elsewhere the emitted equation vanishes at the lower "
                    f"end of the bracket", f"numeric ({len(inside)} of {len(points)} seeded points lie inside; exactly 0 "
                    f"at the other {len(points) - len(inside)})")
        if len(inside) < 4:
            raise DerivationError(f"{result.name}: only {len(inside)} seeded points where {sp.sstr(d.where)}")
        points = inside
    root_x = solved(name)(*reals, *given, *integers)
    # 1. the outputs at the root satisfy every defining equation
    for eq in d.equations:
        residual = _inline(eq.lhs - eq.rhs, registry).subs({unknowns[k]: outputs[k] for k in unknowns}, simultaneous=True)
        label = f"the outputs satisfy {sp.sstr(eq)}"
        try:  # a large residual (a polished output) goes straight to the numeric check: simplify would not finish
            identical = sp.count_ops(residual) <= 120 and sp.simplify(F.to_elementary(residual)) == 0
        except Exception:  # noqa: BLE001
            identical = False
        if identical:
            prover.fact(label + f" for every {x}", "symbolic (SymPy simplifies the residual to 0)")
            continue
        worst, ratios = mpmath.mpf(0), []
        for pt in points:
            xr = mp_value(root_x, pt, solvers)
            r = mp_value(residual, {**pt, x.name: xr}, solvers)
            scale = max(abs(mp_value(s, {**pt, x.name: xr}, solvers)) for s in sp.Add.make_args(sp.expand(residual))) or 1
            worst = max(worst, abs(r) / scale)
            for frac in ("0.25", "0.5", "0.75"):
                lo = mp_value(d.bracket[0], pt)
                hi = mp_value(d.bracket[1], pt)
                xs = lo + (min(hi, xr * 4 + 1) - lo) * mpmath.mpf(frac)
                ev = mp_value(d.equation, {**pt, x.name: xs}, solvers)
                if ev != 0:
                    ratios.append(mp_value(residual, {**pt, x.name: xs}, solvers) / ev)
        if worst > mpmath.mpf(10) ** -(DPS - 12):
            raise DerivationError(f"{result.name}: {label} fails at the root (relative residual {mpmath.nstr(worst, 3)})")
        signs = {mpmath.sign(r) for r in ratios}
        if 0 in signs or len(signs) != 1:
            raise DerivationError(f"{result.name}: the residual of {sp.sstr(eq)} is not a fixed-sign multiple of the emitted equation")
        prover.fact(label + " exactly where the emitted equation vanishes",
                    f"numeric (residual below {mpmath.nstr(worst, 2) if worst else '0'} relative at the mpmath root, at "
                    f"{len(points)} seeded points at {DPS} digits; the residual is a multiple of fixed sign of the emitted "
                    f"equation at {len(ratios)} points of the bracket)")
    # 2. existence and uniqueness: increasing, with a sign change on the bracket
    slope = sp.diff(d.equation, x)
    worst_slope = mpmath.inf
    for pt in points:
        lo, hi = mp_value(d.bracket[0], pt), mp_value(d.bracket[1], pt)
        top = hi if hi != mpmath.inf else mpmath.mpf(10) ** 8
        f_lo, f_hi = mp_value(d.equation, {**pt, x.name: lo}, solvers), mp_value(d.equation, {**pt, x.name: top}, solvers)
        if not (f_lo <= 0 <= f_hi):
            raise DerivationError(f"{result.name}: the emitted equation does not change sign on the bracket at {pt} ({f_lo}, {f_hi})")
        for k in range(1, 8):
            xs = lo + (top - lo) * (mpmath.mpf(k) / 8) ** 3
            val = mp_value(slope, {**pt, x.name: xs}, solvers)
            worst_slope = min(worst_slope, val)
            if not val > 0:
                raise DerivationError(f"{result.name}: the emitted equation is not increasing at {x} = {xs}, {pt}")
    hi_text = sp.sstr(d.bracket[1]) if d.bracket[1] != sp.oo else "1e8"
    prover.fact(f"the emitted equation is increasing in {x} and changes sign on [{sp.sstr(d.bracket[0])}, {hi_text}], "
                f"so the root exists and is unique", f"numeric (signs at the ends and the derivative at 7 points inside, at "
                f"{len(points)} seeded points at {DPS} digits)")
    names = [k for k, _ in d.outputs]
    exprs = [v.subs(x, root_x).subs(givens, simultaneous=True) for _, v in d.outputs]
    impl = exprs[0]
    outs = tuple(zip(names, exprs)) if len(names) > 1 else ()
    if result.implementation is not None and not isinstance(result.implementation, tuple) and not outs:
        _numeric_equal(prover, "the emitted (stable) form equals the output at the root", result.implementation, impl,
                       points, solvers)
        impl = result.implementation
    derived_outs = outs
    if isinstance(result.implementation, tuple):  # stable forms of some of several outputs
        original = [{k: v for k, v in pt.items() if k not in {s.name for s in given}} for pt in points]
        outs = stable_outputs(prover, outs, dict(result.implementation), original, solvers, _numeric_equal,
                              "the emitted (stable) form of {} equals the output at the root")
    for values, check in d.published:
        _published_at_root(prover, result, values, check, names, exprs, solvers)
    defining = sp.And(*d.equations) if len(d.equations) > 1 else d.equations[0]
    derived = exprs[0] if not outs else None
    return Derivation(result, derived, impl, defining, {}, tuple(prover.steps), outputs=outs, solver=spec,
                      derived_outputs=derived_outs if derived_outs != outs else ())


def _published_at_root(prover: Prover, result: Result, values: tuple, check, names: list, exprs: list, solvers) -> None:
    """A published statement at given integer values (``((name, value), …)``), proven at seeded points: an ``Eq`` in
    the parameters and the outputs that holds at the root, or an expression the first output equals."""
    from learndyn.derive.derivation import sample_point

    fixed = dict(values)
    rng = random.Random(SEED + 1)
    points = []
    for _ in range(200):
        pt = sample_point(result, rng, integers=fixed)
        if all(_holds(rel.condition, pt) for rel in result.relations):
            points.append(pt)
        if len(points) == 6:
            break
    worst = mpmath.mpf(0)
    for pt in points:
        outs = {n: mp_value(e, pt, solvers) for n, e in zip(names, exprs)}
        if isinstance(check, sp.Eq):
            lhs, rhs = (mp_value(side, {**pt, **outs}, solvers) for side in (check.lhs, check.rhs))
        else:
            lhs, rhs = outs[names[0]], mp_value(check, pt, solvers)
        rel = abs(lhs - rhs) / max(abs(lhs), abs(rhs), mpmath.mpf(10) ** -DPS)
        if rel > mpmath.mpf(10) ** -25:
            raise DerivationError(f"{result.name}: the published form at {fixed} fails at {pt}: {lhs} != {rhs}")
        worst = max(worst, rel)
    what = f"satisfy {sp.sstr(check)}" if isinstance(check, sp.Eq) else f"equal the published form {sp.sstr(check)}"
    where = ", ".join(f"{k} = {v}" for k, v in values)
    prover.fact(f"{where}: the outputs at the root {what}",
                f"numeric ({len(points)} seeded points at {DPS} digits; largest relative difference "
                f"{mpmath.nstr(worst, 2) if worst else '0'})")


# -- composites of earlier results -------------------------------------------------------------------------

def _derive_composite(result: Result, d: Composite, registry: dict):
    from learndyn.derive.derivation import Derivation

    prover = Prover(result.name)
    solvers = solvers_of(registry)
    points = _points(result)
    pairs = d.expr if isinstance(d.expr, tuple) else ((d.unknown, d.expr),)
    impls = dict(result.implementation) if isinstance(result.implementation, tuple) else {d.unknown: result.implementation}
    outputs = []
    for unknown, expr in pairs:
        derived = sp.simplify(_inline(expr, registry).doit())
        prover.fact(f"{unknown} = {sp.sstr(derived)}", "symbolic (earlier results substituted, derivatives taken by SymPy)")
        if result.published is not None and len(pairs) == 1:
            _equal(prover, "the derived form equals the published form", derived, _inline(result.published, registry), points, solvers)
        impl = derived
        if impls.get(unknown) is not None:
            impl = _inline(impls[unknown], registry)
            label = "the emitted (stable) form equals the derived form" + (f" ({unknown})" if len(pairs) > 1 else "")
            _equal(prover, label, impl, derived, points, solvers)
        outputs.append((unknown, derived, impl))
    if len(pairs) == 1:
        (_, derived, impl), = outputs
        return Derivation(result, derived, impl, sp.Eq(sp.Symbol(d.unknown), d.expr), {}, tuple(prover.steps))
    defining = sp.And(*(sp.Eq(sp.Symbol(n), e) for n, e in pairs))
    return Derivation(result, None, outputs[0][2], defining, {}, tuple(prover.steps),
                      outputs=tuple((n, impl) for n, _, impl in outputs))


# -- one definition per value of a categorical parameter ------------------------------------------------------

def _derive_by_choice(result: Result, d: ByChoice, registry: dict):
    """Derive each value's stages as a result of its own (``NAME_VALUE``; earlier stages under their solver's
    name), with the relations that hold for that value; the parts are registered for later ``ref``s."""
    from dataclasses import replace

    from learndyn.derive.derivation import Derivation, derive_result
    from learndyn.derive.proof import ProofStep

    params = tuple(p for p in result.params if p.name != d.choice)
    published, impls = dict(d.published), dict(d.implementations)
    local = dict(registry)
    parts, cases, solvers, steps = [], [], [], []
    for value, stages in d.cases:
        relations = tuple(replace(rel, when=None) for rel in result.relations if rel.when in (None, (d.choice, value)))
        for i, stage in enumerate(stages):
            last = i == len(stages) - 1
            name = f"{result.name}_{value}" if last else (getattr(stage, "name", "") or f"{result.name}_{value}_{i}")
            sub = replace(result, name=name, params=params, relations=relations, definition=stage,
                          published=published.get(value) if last else None,
                          implementation=impls.get(value) if last else None)
            sd = derive_result(sub, local, independent=False)
            local[name] = sd
            steps += [ProofStep(f"{value}: {step.claim}", step.method) for step in sd.proof]
            solvers += [spec for spec in (sd.solver, *sd.solvers) if spec is not None and spec not in solvers]
        parts.append(sd)
        cases.append((value, sd.outputs if sd.outputs else sd.implementation))
    first = cases[0][1]
    impl = first[0][1] if isinstance(first, tuple) else first
    return Derivation(result, None, impl, d.defining, {}, tuple(steps), cases=tuple(cases), solvers=tuple(solvers),
                      parts=tuple(parts))


# -- free products (spectra of Jacobians) ----------------------------------------------------------------

def _s_transform_slope(X, prover: Prover, label: str) -> sp.Expr:
    """``S'(0)`` of a unit-mean spectral law from its first two moments (series reversion of ``ψ``)."""
    from sympy.stats import Expectation

    # the expectation as sympy.stats writes it (an integral over the law's density, or a finite sum), evaluated by
    # SymPy's manual (rule-based) integration: the Marchenko–Pastur moments in 0.3 s where meijerg takes 5 s each
    m1 = sp.simplify(Expectation(X).rewrite(sp.Integral).doit(manual=True))
    m2 = sp.simplify(Expectation(X**2).rewrite(sp.Integral).doit(manual=True))
    if m1.has(sp.Integral) or m2.has(sp.Integral):
        raise DerivationError(f"{label}: SymPy cannot integrate the moments of {sp.sstr(X)}")
    prover.symbolic(f"{label}: unit mean", m1 - 1, "sympy.stats expectation")
    z, w, a1, a2 = sp.symbols("z w a1 a2")
    psi = m1 * z + m2 * z**2
    chi = a1 * w + a2 * w**2
    eqs = sp.Poly(sp.expand(psi.subs(z, chi)) - w, w)
    sol = sp.solve([eqs.coeff_monomial(w), eqs.coeff_monomial(w**2)], [a1, a2], dict=True)[0]
    S = sp.series((chi.subs(sol)) * (1 + w) / w, w, 0, 2).removeO()
    slope = sp.simplify(sp.diff(S, w).subs(w, 0))
    prover.fact(f"{label}: second moment {sp.sstr(m2)}, S(w) = 1 + ({sp.sstr(slope)}) w + O(w²)",
                "symbolic (sympy.stats moments; ψ(z) = m1 z + m2 z² reversed as a series; S(w) = χ(w)(1 + w)/w)")
    return slope


def _derive_free_product(result: Result, d: FreeProduct, registry: dict):
    from learndyn.derive.derivation import Derivation

    prover = Prover(result.name)
    cases = []
    for value, factors in d.factors:
        total = sp.S.Zero
        for X, count in factors:
            total += count * _s_transform_slope(X, prover, f"{value}: factor {sp.sstr(X)}")
        variance = sp.factor(sp.simplify(-total))  # factored: L (1 − a)/a, not L/a − L (which cancels as a → 1)
        prover.fact(f"{value}: the spectrum of the product has variance {sp.sstr(variance)}",
                    "symbolic (S-transforms of free factors multiply: S = Π S_i^count, so −S'(0) = −Σ count·S_i'(0))")
        cases.append((value, variance))
    published = dict(d.published)
    for value, expr in cases:
        if value in published:
            prover.symbolic(f"{value}: the derived form equals the published form", expr - published[value])
    w = sp.Symbol("w")
    defining = sp.Eq(sp.Symbol(r"\operatorname{Var}[\lambda(J J^\top)]"),
                     -sp.Subs(sp.Derivative(sp.Function(r"S_{J J^\top}")(w), w), w, 0))
    return Derivation(result, cases[0][1], cases[0][1], defining, {}, tuple(prover.steps), cases=tuple(cases))


# -- kernels composed over depth ---------------------------------------------------------------------------

LAYER_OUTPUTS = ("t11", "t22", "t12", "tdot12", "det_t", "dist_t", "diff_t")
#: the name suffix of an activation's fast layer
FAST_SUFFIX = "_fast"


def _kernel_symbols():
    q1, q2, det = sp.symbols("q1 q2 det", positive=True)
    c, diff = sp.symbols("c diff", real=True)
    return q1, q2, c, det, diff


def _layer_points(result: Result) -> list[dict]:
    """Seeded points of the map's test ranges plus nearly parallel and nearly opposite pairs of unequal and
    nearly equal variances, and of variances 1e5 apart (every branch of a carried form is met)."""
    extra = [{"q1": q1, "q2": q2, "c": rho * math.sqrt(q1 * q2)}
             for q1, q2 in ((0.3, 2.0), (5.0, 5.0 * (1 + 1e-6)), (1e-3, 0.02), (40.0, 0.01), (4.2, 2e-5), (1e-7, 1e-2))
             for rho in (0.2, -0.2, 0.7, -0.7, 1 - 1e-9, -1 + 1e-9)]
    return [{"q1": p["q1"], "q2": p["q2"], "c": p["c"]} for p in _points(result)] + extra


def _derive_kernel(result: Result, d: KernelComposition, registry: dict):
    from learndyn.derive.derivation import Derivation

    prover = Prover(result.name)
    q1, q2, c, det, diff = _kernel_symbols()
    w, b, dist = sp.symbols("sigma_w2 sigma_b2 dist", positive=True)
    dense = (w * q1 + b) * (w * q2 + b) - (w * c + b) ** 2
    prover.symbolic("a dense layer maps det = q1 q2 − c² to σ_w⁴ det + σ_w² σ_b² dist, dist = q1 + q2 − 2c to σ_w² dist "
                    "and diff = q1 − q2 to σ_w² diff (no cancellation: every term is nonnegative)",
                    sp.expand(dense - (w**2 * (q1 * q2 - c**2) + w * b * (q1 + q2 - 2 * c)))
                    + sp.expand((w * q1 + b) - (w * q2 + b) - w * (q1 - q2)))
    layers = []
    for value, (t_name, tdot_name) in d.maps:
        if t_name not in registry or tdot_name not in registry:
            raise DerivationError(f"{result.name}: the maps {t_name}, {tdot_name} must be derived first (declare them earlier)")
        T, Td = registry[t_name], registry[tdot_name]
        names = {s.name: s for s in T.result.symbols.values()}
        own = {names["q1"]: q1, names["q2"]: q2, names["c"]: c}
        gram = F.Gram2(q1, q2, c)
        carried = dict(dict(d.carried)[value])
        missing = {"det_t", "dist_t", "diff_t"} - carried.keys()
        if missing:
            raise DerivationError(f"{result.name}: the {value} layer carries no {', '.join(sorted(missing))}")
        t12 = carried.get("t12", T.implementation.xreplace(own).xreplace({gram: det}))
        tdot12 = Td.implementation.xreplace(own).xreplace({gram: det})
        diag = {}
        for qi in (q1, q2):
            exact = sp.simplify(T.derived.xreplace(own).subs({c: qi, q1: qi, q2: qi}, simultaneous=True))
            if exact.has(sp.asin, sp.acos, sp.atan, sp.atan2):
                exact = T.implementation.xreplace(own).subs({c: qi, q1: qi, q2: qi}, simultaneous=True).xreplace({F.Gram2(qi, qi, qi): 0})
            diag[qi] = exact
        # the carried forms against the maps' derived values, at seeded points of the maps' test ranges
        naive_t12 = T.derived.xreplace(own)
        naive = {"t12": naive_t12, "det_t": diag[q1] * diag[q2] - naive_t12**2,
                 "dist_t": diag[q1] + diag[q2] - 2 * naive_t12, "diff_t": diag[q1] - diag[q2]}
        meaning = {"t12": "T12", "det_t": "T11 T22 − T12²", "dist_t": "T11 + T22 − 2 T12", "diff_t": "T11 − T22"}
        points = _layer_points(T.result)
        back = {det: q1 * q2 - c**2, diff: q1 - q2}
        for name in ("t12", "det_t", "dist_t", "diff_t"):
            if name in carried:
                _numeric_equal(prover, f"{value}: the carried {name} equals {meaning[name]}", carried[name].xreplace(back),
                               naive[name], points, ())
        prover.fact(f"{value}: the layer evaluates the emitted forms of {t_name} and {tdot_name} with the carried det",
                    "symbolic (substitution of det for q1 q2 − c²)")
        outputs = (diag[q1], diag[q2], t12, tdot12, carried["det_t"], carried["dist_t"], carried["diff_t"])
        layers.append((value, tuple(zip(LAYER_OUTPUTS, outputs))))
        fast = dict(dict(d.fast).get(value, ()))
        if fast:
            from learndyn.numerics.kernels import FAST_CONDITION
  # the cheaper layer: the maps' forms, the gaps by their definitions (kept where well-conditioned)
            for name in ("t12", "diff_t"):
                if name in fast:
                    _numeric_equal(prover, f"{value}: the fast layer's {name} equals {meaning[name]}",
                                   fast[name].xreplace(back), naive[name], points, ())
            f_t12, f_diff = fast["t12"], fast.get("diff_t", carried["diff_t"])
            prover.fact(f"{value}: the fast layer forms det_t = T11 T22 − T12² and dist_t = T11 + T22 − 2 T12 by their "
                        f"definitions; the composition keeps them where T11 T22 + T12² ≤ {FAST_CONDITION}|det_t| and "
                        f"T11 + T22 + 2|T12| ≤ {FAST_CONDITION} dist_t (their rounding is then below 2^-46 relative), "
                        "and evaluates the carried layer elsewhere", "definition (a per-entry bound on cancellation)")
            fast_out = (diag[q1], diag[q2], f_t12, tdot12, diag[q1] * diag[q2] - f_t12**2, diag[q1] + diag[q2] - 2 * f_t12,
                        f_diff)
            layers.append((f"{value}{FAST_SUFFIX}", tuple(zip(LAYER_OUTPUTS, fast_out))))
    l = sp.Symbol("l", integer=True, nonnegative=True)
    K = sp.Function("K")
    Tf, Tdf = sp.Function(r"\mathcal{T}"), sp.Function(r"\dot{\mathcal{T}}")
    if d.output == "nngp":
        defining = sp.Eq(K(l + 1), w * Tf(K(l)) + b)
        prover.fact("K^{l+1} = σ_w² T(K^l) + σ_b², K¹ = σ_w² x1 x2ᵀ/d + σ_b²; the readout kernel is K^{L+1}", "definition (composition)")
    else:
        Th = sp.Function(r"\Theta")
        defining = sp.Eq(Th(l + 1), K(l + 1) + w * Tdf(K(l)) * Th(l))
        prover.fact("Θ^{l+1} = K^{l+1} + σ_w² Ṫ(K^l) ⊙ Θ^l, Θ¹ = K¹; the readout kernel is Θ^{L+1}", "definition (composition)")
    return Derivation(result, None, defining.rhs, defining, {}, tuple(prover.steps), layers=tuple(layers))


def derive(result: Result, d, registry: dict):
    if isinstance(d, GaussianMap):
        return _derive_gaussian(result, d, registry)
    if isinstance(d, Recurrence):
        return _derive_recurrence(result, d, registry)
    if isinstance(d, Root):
        return _derive_root(result, d, registry)
    if isinstance(d, Composite):
        return _derive_composite(result, d, registry)
    if isinstance(d, FreeProduct):
        return _derive_free_product(result, d, registry)
    if isinstance(d, KernelComposition):
        return _derive_kernel(result, d, registry)
    if isinstance(d, ByChoice):
        return _derive_by_choice(result, d, registry)
    raise DerivationError(f"{result.name}: unknown kind {type(d).__name__}")
