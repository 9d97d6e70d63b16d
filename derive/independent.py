r"""The independent reference: every derived result against its defining equation solved by a different method.

The engine derives a closed form (or an emitted solver) from the declaration and proves it symbolically; this step
solves the *defining equation* again, numerically and without the engine's derivation, at seeded points of the
result's test ranges, at :data:`DPS` digits, and requires the derived form (and the emitted form, where it differs)
to agree to :data:`DIGITS` digits. It is a numeric proof step (:class:`~learndyn.derive.proof.IndependentReference`)
of every result, so it appears in the proof record, the LaTeX and ``learndyn.result(name).proof``; a disagreement
raises :class:`~learndyn.derive.proof.DerivationError` naming the step, which fails ``learndyn derive``. The step
keeps its points and the independent values, so tier (a) evaluates the generated function there too.

Methods, per kind of definition (:mod:`learndyn.derive.independent_dynamics`, :mod:`learndyn.derive.independent_maps`,
:mod:`learndyn.derive.independent_kernels`):

* ``ODE`` — ``mpmath.odefun`` (Taylor series) of ``tau du/dt = rhs(u)``, ``u(0) = initial``, at two times a point
  (half and twice the inverse of the initial rate), and at each removable singularity against the recorded limit;
* ``SeparableTime`` — ``mpmath.quad`` of ``tau/rhs`` between the end points, split geometrically toward each end
  down to its distance from the nearest singularity;
* ``RandomClock`` — the active time by that quadrature times ``E[G]`` by summing the geometric series
  ``Σ k p (1 − p)^{k−1}`` (``mpmath.nsum``), not ``sympy.stats``;
* ``UpperBound`` — the bounded result computed independently; the bound minus it equals the declared gap and is
  positive;
* ``Implicit`` (the inverse of a separable time) — the forward integral from the start to a seeded end point gives
  the time; the forward defining equation is solved at that time by Newton's method (the integrand is its
  derivative); the derived equation's root (bracketed) must agree;
* ``Solve``, ``Root`` — Newton's method on the original equations (not the engine's transformed scalar equation),
  from the derived value;
* ``GaussianMap`` — the Gaussian expectations by numeric integration (:mod:`learndyn.derive.gauss_quadrature`);
* ``Recurrence`` — the map iterated ``steps`` times (and at a removable singularity against the recorded limit);
* ``Composite`` — its expression evaluated directly: derivatives by ``mpmath.diff``, earlier results by
  :class:`~learndyn.derive.independent_eval.Refs` (fixed points by Newton on their equations);
* ``FreeProduct`` — the moments of each factor's law by quadrature or summation and the product's second moment by
  the mixed-moment rule of free independence, ``φ(abab) = φ(a²)φ(b)² + φ(a)²φ(b²) − φ(a)²φ(b)²`` (not S-transforms);
* ``KernelComposition`` — the kernel composed layer by layer with the layer maps by Gaussian quadrature of their
  defining expectations, against the composition with the emitted (carried) layer forms;
* ``SpectralFlow`` — for small seeded PSD kernels, the linear ODE of the outputs solved by the matrix exponential
  (``mpmath.expm``: Taylor series with scaling and squaring) (train, test), the linear system by LU (mean), the
  extreme eigenvalues as roots of the characteristic polynomial (condition number), against the derived per-mode
  solutions lifted through ``mpmath.eigsy``;
* ``SpectralIntegral`` — the mode's state numerically (matrix exponential, matrix power, linear solve), the expectation
  by the cubature exact for quadratics, the density's integral by tanh-sinh in ``λ`` (not the angle the emitted rule
  uses, nor residues), a stationary time by a Newton step with ``mpmath.diff``
  (:mod:`learndyn.derive.independent_spectral`);
* ``ByChoice`` — per value, by the rules above (a chain of roots as one system of all its equations);
* ``ClosedForm`` — the defining expression evaluated directly against the emitted form.

Earlier results inside a definition are evaluated by their emitted forms (proven equal to the derived ones and
exact where those cancel), each checked against its defining equation by its own independent reference (induction
over the declaration order), except fixed points and solved equations (Newton on their own equations) and
composites (their expressions), as :class:`~learndyn.derive.independent_eval.Refs` says. Every method here is
deterministic (seeded points, fixed digits), so the proof record and the files ``derive`` writes are byte-stable.
"""
from __future__ import annotations

import dataclasses
import random
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

import mpmath
import sympy as sp

from learndyn.derive.declaration import (
    ODE, ByChoice, ClosedForm, Composite, FreeProduct, GaussianMap, Implicit, KernelComposition, RandomClock,
    Recurrence, Result, Root, SeparableTime, Solve, SpectralFlow, SpectralIntegral, UpperBound,
)
from learndyn.derive.independent_eval import DPS, OutOfDomain, Refs, derived_outputs
from learndyn.derive.proof import DerivationError, IndependentReference

__all__ = ["DPS", "DIGITS", "SEED", "Row", "Comparison", "independent_steps", "with_independent_reference",
           "candidates", "take_points", "solvers_for"]

#: digits to which the derived form must agree with the independent solution
DIGITS = 30
#: extra digits at which derived forms are evaluated (they may cancel; the defining equation is solved at DPS)
GUARD = 20
#: seed of the points (different from the engine's own numeric proofs, 20241123)
SEED = 20260117
CLAIM = "independent reference: the defining equation solved by another method agrees with the derived form"


@dataclass
class Row:
    """One point: the derived values ``{(output, form): value}`` and the independent ones ``{output: value}``
    (a value is an ``mpf`` or a tuple of them: a matrix, compared normwise). ``replay``: whether the point's
    coordinates are exact float64 numbers, so tier (a) can evaluate the generated function there."""

    point: dict
    derived: dict
    independent: dict
    replay: bool = True


@dataclass
class Comparison:
    """What one reference produced: how (for the proof record), and its rows."""

    method: str
    rows: list = field(default_factory=list)
    claim: str = CLAIM
    digits: int = DIGITS
    #: further facts checked on the way (a bound's positivity), appended to the method
    notes: tuple[str, ...] = ()


def solvers_for(d, registry: dict) -> tuple:
    from learndyn.derive.maps import solvers_of

    own = tuple(s for s in (d.solver, *d.solvers) if s is not None)
    return tuple(dict.fromkeys(solvers_of(registry) + own))


def _binary(v):
    """A drawn value as the exact rational of its nearest float64 (so the generated function sees the same point)."""
    if isinstance(v, (int, str)) and not isinstance(v, bool):
        return v
    if isinstance(v, sp.Integer):
        return int(v)
    return sp.Rational(float(v))


def candidates(result: Result, *, seed: int | None = None, extra: tuple = ()) -> Iterator[dict]:
    """Seeded points of the result's test ranges (``extra``: auxiliary parameters drawn too), rounded to float64 and
    inside the domain's relations; an endless, deterministic stream."""
    from learndyn.derive.derivation import sample_point
    from learndyn.derive.maps import _holds

    rng = random.Random(SEED + zlib.crc32(result.name.encode()) if seed is None else seed)
    for _ in range(10000):
        pt = sample_point(result, rng)
        for p in extra:
            pt.update(sample_point(Result(p.name, "", (p,), None, "", (), None), rng))
        pt = {k: _binary(v) for k, v in pt.items()}
        if all(_holds(rel.condition, pt) for rel in result.relations):
            yield pt


def take_points(stream, n: int, make, *, tries: int = 40) -> list:
    """The rows of the first ``n`` points of ``stream`` that ``make`` evaluates (``make`` returns a row or a list of
    rows); a point outside a function's domain, or one whose quadrature would exceed its node budget, is skipped."""
    from learndyn.derive.gauss_quadrature import QuadratureBudget

    rows, taken = [], 0
    for _, pt in zip(range(tries), stream):
        try:
            made = make(pt)
        except (OutOfDomain, QuadratureBudget):
            continue
        rows += made if isinstance(made, list) else [made]
        taken += 1
        if taken == n:
            break
    return rows


def relative_difference(a, b) -> mpmath.mpf:
    """``|a − b| / max(|a|, |b|)``; normwise for matrices; 0 for equal infinities."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        num = mpmath.sqrt(mpmath.fsum((x - y) ** 2 for x, y in zip(a, b)))
        den = max(mpmath.sqrt(mpmath.fsum(x**2 for x in a)), mpmath.sqrt(mpmath.fsum(y**2 for y in b)))
        return num / den if den else mpmath.mpf(0)
    if mpmath.isinf(a) or mpmath.isinf(b):
        return mpmath.mpf(0) if a == b else mpmath.inf
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else mpmath.mpf(0)


def _plain(v):
    """A point's value as data for the proof record: floats, ints, strings, nested tuples."""
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return v
    if isinstance(v, (tuple, list)):
        return tuple(_plain(x) for x in v)
    return float(v) if not isinstance(v, mpmath.mpf) else float(v)


def _record(v) -> str | tuple:
    if isinstance(v, tuple):
        return tuple(_record(x) for x in v)
    return mpmath.nstr(v, DPS, min_fixed=1, max_fixed=0) if mpmath.isfinite(v) else str(v)


def _step(d, comparison: Comparison, label: str) -> IndependentReference:
    worst = mpmath.mpf(0)
    tol = mpmath.mpf(10) ** -comparison.digits
    for row in comparison.rows:
        for (output, form), value in row.derived.items():
            ref = row.independent[output]
            diff = relative_difference(value, ref)
            if not diff <= tol:
                where = ", ".join(f"{k}={mpmath.nstr(v, 17) if not isinstance(v, (str, tuple)) else v}"
                                  for k, v in sorted(row.point.items()) if not isinstance(v, tuple))
                what = f"{output} " if output else ""
                raise DerivationError(
                    f"{d.result.name}: {label}{comparison.claim} fails at {where}: the {form} form gives {what}"
                    f"{_show(value)}, the defining equation ({comparison.method}) gives {_show(ref)} "
                    f"(relative difference {mpmath.nstr(diff, 3)} > 1e-{comparison.digits})")
            worst = max(worst, diff)
    if not comparison.rows:
        raise DerivationError(f"{d.result.name}: {label}{comparison.claim}: no point of the test ranges could be evaluated")
    notes = "".join(f"; {n}" for n in comparison.notes)
    method = (f"numeric ({comparison.method}; {len(comparison.rows)} seeded points of the test ranges at {DPS} digits"
              f"{notes}; largest relative difference {mpmath.nstr(worst, 2) if worst else '0'}, "
              f"tolerance 1e-{comparison.digits})")
    points = tuple(tuple(sorted((k, _plain(v)) for k, v in row.point.items())) for row in comparison.rows)
    values = tuple(tuple(sorted((k, _record(v)) for k, v in row.independent.items())) for row in comparison.rows)
    replay = tuple(row.replay for row in comparison.rows)
    return IndependentReference(label + comparison.claim, method, points=points, values=values, replay=replay,
                                worst=float(worst), tolerance=float(tol))


def _show(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(mpmath.nstr(x, 20) for x in v) + ")"
    return mpmath.nstr(v, 25)


def _kinds() -> dict[type, Callable]:
    from learndyn.derive import independent_dynamics as dyn
    from learndyn.derive import independent_kernels as ker
    from learndyn.derive import independent_maps as maps
    from learndyn.derive import independent_spectral as spectral

    return {ODE: dyn.ode, SeparableTime: dyn.separable_time, RandomClock: dyn.random_clock, UpperBound: dyn.upper_bound,
            Implicit: dyn.implicit, Solve: maps.solve, Root: maps.root, GaussianMap: maps.gaussian_map,
            Recurrence: maps.recurrence, Composite: maps.composite, FreeProduct: maps.free_product,
            ClosedForm: maps.closed_form, ByChoice: maps.by_choice, KernelComposition: ker.kernel_composition,
            SpectralFlow: ker.spectral_flow, SpectralIntegral: spectral.spectral_integral}


def independent_steps(d, registry: dict) -> tuple[IndependentReference, ...]:
    """The independent-reference proof steps of derivation ``d`` (one per value of a categorical parameter); raises
    :class:`DerivationError` where the derived form disagrees with its defining equation."""
    kind = type(d.result.definition)
    method = _kinds().get(kind)
    if method is None:
        raise DerivationError(f"{d.result.name}: no independent reference for a {kind.__name__} definition")
    with mpmath.workdps(DPS):
        try:
            comparisons = method(d, registry)
        except DerivationError as exc:
            raise DerivationError(f"{d.result.name}: independent reference: {exc}") from exc
        except (OutOfDomain, ArithmeticError, ValueError, TypeError) as exc:
            raise DerivationError(f"{d.result.name}: independent reference failed: {type(exc).__name__}: {exc}") from exc
        return tuple(_step(d, c, label) for label, c in comparisons)


def with_independent_reference(d, registry: dict):
    """``d`` with its independent-reference steps appended to the proof record."""
    return dataclasses.replace(d, proof=tuple(d.proof) + independent_steps(d, registry))


def derived_rows(d, point: dict, registry: dict, refs: Refs, solvers: tuple, independent: dict, *,
                 forms: dict | None = None, replay: bool = True) -> Row:
    """A :class:`Row` with the derivation's emitted outputs (and its derived form or outputs where they differ) at
    ``point``; ``independent`` keyed by output name (``""`` for a single output)."""
    with mpmath.extradps(GUARD):  # a derived form may cancel (a sum of logarithms over roots of unity)
        try:
            return _derived_rows(d, point, refs, solvers, independent, forms, replay)
        except OutOfDomain as exc:  # inside the test ranges the emitted form must be real (the reference was)
            where = {k: v for k, v in point.items() if not isinstance(v, tuple)}
            raise DerivationError(f"the emitted form is not real at {where}: {exc}") from None


def _derived_rows(d, point, refs, solvers, independent, forms, replay) -> Row:
    derived = {}
    emitted = derived_outputs(d, point, solvers, refs) if forms is None else forms
    for output, value in emitted.items():
        derived[(output, "emitted")] = value
    if d.derived_outputs:
        for output, expr in d.derived_outputs:
            from learndyn.derive.independent_eval import evaluate

            derived[(output, "derived")] = evaluate(expr, point, solvers, refs)
    elif not d.outputs and d.derived is not None and d.derived != d.implementation and forms is None:
        from learndyn.derive.independent_eval import evaluate

        try:
            derived[("", "derived")] = evaluate(d.derived, point, solvers, refs)
        except OutOfDomain:  # a removable singularity of the derived form: the emitted one covers it
            pass
    return Row(point, {k: +v if not isinstance(v, tuple) else v for k, v in derived.items()}, independent, replay)
