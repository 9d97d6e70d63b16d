"""Hypothesis strategies built from the declarations (never written again by hand).

``point_strategy(result, "test")`` draws a dict of arguments from the result's test range,
``point_strategy(result, "sim")`` from its simulation range. Scale parameters (``log=True``) are drawn
log-uniformly, signed ones as ± a log-uniform magnitude; declared special values (``y = 0``) and the
range's edges are drawn with extra weight; a :class:`Between` parameter is drawn between its two
anchors, edges included; the domain's relations are then enforced with ``assume``.
"""
from __future__ import annotations

import math
import random

import torch
from hypothesis import assume
from hypothesis import strategies as st

from learndyn.derive.declaration import Between, Param, Result
from learndyn.derive.emit import build_domain
from learndyn.domain import ChoiceParam, DomainError, Interval, IntParam

__all__ = ["param_strategy", "point_strategy", "edge_points"]


def _interval_strategy(p: Param, spec: Interval) -> st.SearchStrategy[float]:
    lo, hi = spec.lo, spec.hi
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{p.name}: a test or simulation range must be finite, got {spec}")
    edges = [v for v in (lo, hi) if p.domain.contains_float(v)]
    specials = [float(v) for v in p.special if p.domain.contains_float(v) and lo <= v <= hi]
    if p.log and lo > 0:
        body = st.floats(math.log10(lo), math.log10(hi)).map(lambda e: min(max(10.0**e, lo), hi))
    elif p.log and hi < 0:  # a negative scale parameter: log-uniform magnitude
        body = st.floats(math.log10(-hi), math.log10(-lo)).map(lambda e: min(max(-(10.0**e), lo), hi))
    elif p.log and lo < 0 < hi:
        top = math.log10(max(-lo, hi))
        mag = st.floats(-3.0, top).map(lambda e: 10.0**e)
        body = st.tuples(st.sampled_from((-1.0, 1.0)), mag).map(lambda sm: min(max(sm[0] * sm[1], lo), hi))
    else:
        body = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    extra = edges + specials
    return st.one_of(st.sampled_from(extra), body, body, body) if extra else body


def param_strategy(p: Param, which: str = "test"):
    spec = p.test if which == "test" else p.sim
    if spec is None:
        spec = p.domain
    if isinstance(spec, IntParam):
        hi = spec.hi if spec.hi is not None else spec.lo + 16
        return st.integers(spec.lo, hi)
    if isinstance(spec, ChoiceParam):
        return st.sampled_from(spec.choices)
    if isinstance(spec, Interval):
        return _interval_strategy(p, spec)
    raise TypeError(f"{p.name}: no strategy for {spec!r}")


_FRACTIONS = st.one_of(
    st.sampled_from((1e-12, 1e-8, 1e-4, 0.5, 1 - 1e-4, 1 - 1e-8, 1 - 1e-12)),
    st.floats(1e-12, 1 - 1e-12),
)


def _uniform_value(p: Param, spec, rng: random.Random):
    """One value of ``p`` drawn evenly from ``spec`` (log-uniform for scale parameters)."""
    if isinstance(spec, IntParam):
        return rng.randint(spec.lo, spec.hi if spec.hi is not None else spec.lo + 16)
    if isinstance(spec, ChoiceParam):
        return rng.choice(spec.choices)
    lo, hi = spec.lo, spec.hi
    if p.log and lo > 0:
        return min(max(10.0 ** rng.uniform(math.log10(lo), math.log10(hi)), lo), hi)
    if p.log and hi < 0:
        return min(max(-(10.0 ** rng.uniform(math.log10(-hi), math.log10(-lo))), lo), hi)
    if p.log and lo < 0 < hi:
        mag = 10.0 ** rng.uniform(-3.0, math.log10(max(-lo, hi)))
        return min(max(rng.choice((-1.0, 1.0)) * mag, lo), hi)
    return rng.uniform(lo, hi)


_NEAR = st.sampled_from((0.0, 1e-15, -1e-15, 1e-12, -1e-12, 1e-8, -1e-8, 1e-4, -1e-4, 1e-2, -1e-2))


def _spec(p: Param, which: str):
    spec = p.test if which == "test" else p.sim
    if spec is None:  # not simulated: a dependent draw still follows its anchors
        spec = p.test if isinstance(p.test, Between) else p.domain
    return spec


def point_strategy(result: Result, which: str = "test", only: tuple[str, ...] | None = None) -> st.SearchStrategy[dict]:
    """Arguments of ``result`` drawn from its declared ``test`` (or ``sim``) ranges, inside its domain
    (``only``: just these parameters, e.g. those a simulation draws; the caller supplies the rest).

    A parameter declared ``near`` another is, in a third of the structured draws, set equal to it or within
    a relative 1e-15 … 1e-2 of it (a removable singularity such as ``s = gamma`` and its neighbourhood)."""
    params = [p for p in result.params if only is None or p.name in only]
    names = {p.name for p in params}
    independent = {p.name: param_strategy(p, which) for p in params if not isinstance(_spec(p, which), Between)}
    between = [p for p in params if isinstance(_spec(p, which), Between)]
    near = [(p, other) for p in params for other in p.near if other in names and p.name in independent]

    def finish(point: dict, fractions) -> dict:
        for p in between:
            point[p.name] = _spec(p, which).value(point, fractions())
        if only is None:
            _assume_in_domain(result, point)
        return {p.name: point[p.name] for p in params}

    @st.composite
    def structured(draw) -> dict:
        point = {name: draw(s) for name, s in independent.items()}
        for p, other in near:
            if draw(st.integers(0, 2)) == 0:
                point[p.name] = point[other] * (1.0 + draw(_NEAR))
        return finish(point, lambda: draw(_FRACTIONS))

    @st.composite
    def even(draw) -> dict:
        rng = random.Random(draw(st.integers(0, 2**32 - 1)))
        point = {p.name: _uniform_value(p, _spec(p, which), rng) for p in params if p.name in independent}
        return finish(point, lambda: rng.uniform(1e-12, 1 - 1e-12))

    # hypothesis' structured draws seek edges, simple values and repeats (it mutates one parameter and keeps
    # the others); the even draws, a whole point from one seeded uniform generator, cover the interior, so a
    # 1 % error confined to one decade of one parameter is found with a few dozen examples
    return st.one_of(structured(), even(), even())


def _assume_in_domain(result: Result, point: dict) -> None:
    values = {k: (torch.tensor(v, dtype=torch.float64) if isinstance(v, float) else v) for k, v in point.items()}
    try:
        build_domain(result).check(values)
    except DomainError:
        assume(False)


def edge_points(result: Result) -> list[dict]:
    """Deterministic corner points of the test range (each parameter at its edges/specials, the others at
    the geometric middle), always checked before the random draws."""
    middle = {}
    choices: dict[str, list] = {}
    for p in result.params:
        spec = p.test if p.test is not None else p.domain
        if isinstance(spec, Between):
            continue
        if isinstance(spec, IntParam):
            hi = spec.hi if spec.hi is not None else spec.lo + 16
            middle[p.name] = spec.lo
            choices[p.name] = sorted({spec.lo, min(spec.lo + 1, hi), min(spec.lo + 2, hi), hi})
        elif isinstance(spec, ChoiceParam):
            middle[p.name] = spec.choices[0]
            choices[p.name] = list(spec.choices)
        else:
            lo, hi = spec.lo, spec.hi
            mid = (math.sqrt(lo * hi) if p.log and lo > 0 else -math.sqrt(lo * hi) if p.log and hi < 0
                   else (1.0 if p.log else 0.5 * (lo + hi)))
            middle[p.name] = mid
            choices[p.name] = [v for v in (lo, hi, *p.special) if p.domain.contains_float(v)]
    points = []
    for name, vals in choices.items():
        for v in vals:
            pt = dict(middle)
            pt[name] = float(v) if not isinstance(v, (int, str)) or isinstance(v, bool) else v
            points.append(pt)
    for p in result.params:  # a removable singularity p = other, and just beside it
        for other in p.near:
            if other in middle and p.name in middle:
                for rel in (0.0, 1e-9, -1e-9):
                    pt = dict(middle)
                    pt[p.name] = pt[other] * (1.0 + rel)
                    points.append(pt)
    for name, vals in choices.items():  # every corner for every value of a categorical parameter
        if isinstance(vals[0], str):
            points = [{**pt, name: v} for pt in points for v in vals]
    out = []
    for pt in points:
        for p in result.params:
            if isinstance(p.test, Between):
                for frac in ((0.0, 1e-12, 1e-9, 0.5, 1 - 1e-9, 1 - 1e-12, 1.0) if p.test.scale else (1e-12, 0.5, 1 - 1e-9)):
                    q = dict(pt)
                    q[p.name] = p.test.value(pt, frac)
                    out.append(q)
                break
        else:
            out.append(pt)
    return [pt for pt in out if _in_domain(result, pt)]


def _in_domain(result: Result, point: dict) -> bool:
    """Whether a corner lies in the domain (a relation such as ``sigma_w2 < 2`` for ReLU can exclude it)."""
    values = {k: (torch.tensor(v, dtype=torch.float64) if isinstance(v, float) else v) for k, v in point.items()}
    try:
        build_domain(result).check(values)
    except DomainError:
        return False
    return True
