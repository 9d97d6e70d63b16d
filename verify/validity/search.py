"""Locating where a deviation crosses given levels along one axis: a geometric walk from the check's own setting
towards the breakdown (and back towards validity), then a bisection in ``log value`` of each level's bracket. Every
value is evaluated once and shared between the levels.

:func:`contour_search` is a generator: it yields the next value to evaluate and is sent the deviation measured
there, so many searches (one per seed) can advance in lockstep and have their simulations batched or sent out
together (:mod:`learndyn.verify.validity.sweep`). It returns the evaluated deviations by value.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Generator, Sequence

from learndyn.verify.validity.axis import Axis

__all__ = ["contour_search", "limit_search", "Bracket", "bracket_of", "measured_from", "WALK_FACTOR"]

#: the geometric step of the walk away from the check's setting
WALK_FACTOR = 2.0


def _towards_breakdown(axis: Axis, v: float) -> float:
    return axis.rounded(v * WALK_FACTOR if axis.grows else v / WALK_FACTOR)


def _towards_validity(axis: Axis, v: float) -> float:
    return axis.rounded(v / WALK_FACTOR if axis.grows else v * WALK_FACTOR)


def _between(axis: Axis, a: float, b: float) -> float | None:
    """The log-midpoint of ``a`` and ``b`` (``None`` where no evaluable value lies strictly between)."""
    m = axis.rounded(math.sqrt(a * b))
    return None if m in (a, b) else m


@dataclass(frozen=True)
class Bracket:
    """Where a level is crossed: ``valid`` is the last value (walking towards the breakdown) at which the deviation
    is at most the level, ``broken`` the next one, beyond it. ``None`` on one side: the level was not crossed inside
    the axis' bounds (never reached: the theory holds to the bound; already exceeded at the bound)."""

    level: float
    valid: float | None
    broken: float | None

    @property
    def value(self) -> float | None:
        """The contour: the log-midpoint of the bracket."""
        if self.valid is None or self.broken is None:
            return None
        return math.sqrt(self.valid * self.broken)


def measured_from(axis: Axis, evals: dict[float, float]) -> list[float]:
    """The evaluated values in the order of the walk towards the breakdown, from the first one measured on (values
    on the validity side of every measurement whose simulation failed — a step budget, a horizon — are dropped)."""
    order = sorted(evals, reverse=not axis.grows)
    while order and math.isnan(evals[order[0]]):
        order.pop(0)
    return order


def bracket_of(axis: Axis, evals: dict[float, float], level: float) -> Bracket:
    """The first crossing of ``level``, walking the measured values towards the breakdown (an unmeasured value
    beyond a measured one counts as broken: a run that blew up)."""
    order = measured_from(axis, evals)
    prev = None
    for v in order:
        if not evals[v] <= level:  # NaN and inf count as broken
            return Bracket(level, prev, v)
        prev = v
    return Bracket(level, prev, None)


def _probe(answers: dict, v: float):
    """Yield ``v`` once (its answer is sent back and kept in ``answers``), then return the answer."""
    if v not in answers:
        answers[v] = yield v
    return answers[v]


def contour_search(axis: Axis, levels: Sequence[float], bisections: int) -> Generator[float, float, dict[float, float]]:
    """Yield values to evaluate (each sent back its deviation) until every level's bracket is ``bisections`` halvings
    (in ``log value``) narrower than the walk's step, or as narrow as an integer axis allows."""
    evals: dict[float, float] = {}
    probe = functools.partial(_probe, evals)
    start = axis.rounded(axis.start)
    top, bottom = max(levels), min(levels)
    v = start
    d = yield from probe(v)
    while d <= top and _towards_breakdown(axis, v) != v:
        v = _towards_breakdown(axis, v)
        d = yield from probe(v)
    v = start
    while not evals[v] <= bottom and _towards_validity(axis, v) != v:
        if math.isnan(evals[v]) and v != start:
            break  # the simulation cannot be run here (its budget), nor further towards validity
        v = _towards_validity(axis, v)
        yield from probe(v)
    for level in sorted(levels):
        for _ in range(bisections):
            b = bracket_of(axis, evals, level)
            if b.valid is None or b.broken is None:
                break
            mid = _between(axis, b.valid, b.broken)
            if mid is None:
                break
            yield from probe(mid)
    return evals


def limit_search(axis: Axis, bisections: int) -> Generator[float, bool, dict[float, bool]]:
    """Where the simulation stops converging: walk up from the check's setting until the probe diverges, then bisect
    in ``log value``; yields values, is sent whether it diverged there; returns the outcomes by value."""
    seen: dict[float, bool] = {}
    probe = functools.partial(_probe, seen)
    v = axis.rounded(axis.start)
    diverged = yield from probe(v)
    while not diverged and axis.rounded(v * WALK_FACTOR) != v:
        v = axis.rounded(v * WALK_FACTOR)
        diverged = yield from probe(v)
    for _ in range(bisections):
        converged = [x for x, d in seen.items() if not d]
        broken = [x for x, d in seen.items() if d]
        if not converged or not broken:
            break
        a, b = max(converged), min(broken)
        if a > b:
            break
        mid = _between(axis, a, b)
        if mid is None:
            break
        yield from probe(mid)
    return seen
