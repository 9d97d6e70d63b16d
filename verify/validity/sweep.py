"""A validity map: where a result's theory stops holding along one axis, at given levels of deviation.

:func:`validity_map` runs, for each of ``seeds`` seeds, a :func:`~learndyn.verify.validity.search.contour_search`
over the check's pinned cases (the representative points of its simulation ranges, their seeds shifted per map
seed): the deviation at a value is the worst configuration's over all of them, so a contour says "holds to 1 % for
every configuration of the simulation range as long as …". The seeds advance in lockstep and each round's units
go to ``executor`` together. A contour is reported with its uncertainty: the spread over seeds (standard error of
the mean of ``log value``), the bracket's width, and the deviation's own standard error through the local slope.
Where the axis has a stability limit, :func:`~learndyn.verify.validity.search.limit_search` finds where the
simulation stops converging, to be compared with it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from learndyn.verify.validity.axis import Axis
from learndyn.verify.validity.search import Bracket, bracket_of, contour_search, limit_search, measured_from
from learndyn.verify.validity.units import Evaluation, WorkUnit, evaluate_unit, resolve, serial_map

__all__ = ["ValidityMap", "Contour", "Limit", "SweepPoint", "validity_map", "axes_of", "LEVELS", "BISECTIONS",
           "LIMIT_BISECTIONS", "declared_axes"]

#: the default levels of deviation whose contours a map locates (1 % and 10 %)
LEVELS = (0.01, 0.1)
BISECTIONS = 5
LIMIT_BISECTIONS = 8
SEED_STRIDE = 7919


@dataclass
class SweepPoint:
    """One evaluated value of one seed: the worst deviation over the pinned cases and its standard error, the
    predicted deviation there, and the simulation's error if one raised."""

    seed: int
    value: float
    deviation: float
    se: float
    predicted: float
    error: str | None = None


@dataclass
class Contour:
    """Where the deviation crosses ``level``: ``value`` (geometric mean over seeds of each seed's bracket midpoint),
    ``low``/``high`` its one-standard-error band (seeds, bracket width and the deviation's noise combined in
    ``log value``), ``per_seed`` each seed's contour; ``predicted``: where the axis' theory puts it (``None``
    without one); ``agrees``: whether the two are within ``tolerance`` (relative) of each other; ``beyond``:
    ``"holds"`` where the level was never crossed inside the axis' bounds, ``"broken"`` where it is exceeded
    already at the bound, ``"unmeasured"`` where it is exceeded at the last value the simulation could be run at
    (``value`` is then that value; ``error`` what the simulation said beyond it), ``"mixed"`` where the seeds
    disagree on that; ``noise``: the deviation's standard error at the bracket where it exceeds a third of the
    level (the contour is then noise-dominated: more networks or samples would sharpen it)."""

    level: float
    value: float | None
    low: float | None
    high: float | None
    per_seed: list[float | None]
    brackets: list[tuple[float | None, float | None]]
    predicted: float | None = None
    agrees: bool | None = None
    beyond: str | None = None
    error: str | None = None
    noise: float | None = None


@dataclass
class Limit:
    """The stability limit on the axis (theory) and where the simulation stops converging: per seed, the last
    value that converged and the first that did not; ``agrees``: the theory's limit lies in the union of the
    brackets widened by ``tolerance``."""

    theory: float
    brackets: list[tuple[float | None, float | None]]
    agrees: bool
    tolerance: float


@dataclass
class ValidityMap:
    """A result's validity along one axis (JSON: :meth:`to_json`)."""

    result: str
    check: str
    method: str
    axis: str
    label: str
    key: str
    start: float
    grows: bool
    levels: list[float]
    seeds: list[int]
    device: str
    sizes: dict
    contours: list[Contour]
    points: list[SweepPoint]
    limit: Limit | None = None
    predicted_by: str = ""
    comparison: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The map as JSON (non-finite numbers as ``"inf"``/``None``), what ``learndyn validity --json`` prints."""
        out = asdict(self)
        return _finite(out)

    @property
    def disagreements(self) -> list[str]:
        """What the measured map and the theory of the breakdown disagree on, in words."""
        out = []
        for c in self.contours:
            if c.agrees is False:
                out.append(f"the {c.level:.0%} contour is at {self.axis} = {_g(c.value)} but {self.predicted_by} "
                           f"puts it at {_g(c.predicted)}")
        if self.limit is not None and not self.limit.agrees:
            out.append(f"the simulation stops converging at {self.axis} in {self.limit.brackets}, the theory's "
                       f"limit is {self.limit.theory:g}")
        return out


def _g(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _finite(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else None)
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def axes_of(check) -> dict[str, Axis]:
    """The axes a check declares, by name."""
    return {a.name: a for a in getattr(check, "axes", ())}


def _cases(check, seed: int) -> list[dict]:
    out = []
    for i, p in enumerate(check.points):
        case = dict(p)
        base = case.get("seed", 1000 + i)
        case["seed"] = (base + SEED_STRIDE * seed) % (2**31 - 1)
        out.append(case)
    return out


def _run_lockstep(searches: dict[int, Any], units_of: Callable[[int, float], list[WorkUnit]],
                  combine: Callable[[int, float, list[Evaluation]], Any], executor,
                  known: dict[tuple[int, float], Any] | None = None) -> dict[int, Any]:
    """Advance every seed's search (a generator) round by round; each round's units go to ``executor`` at once
    (``known``: answers already measured, by seed and value, sent without simulating again)."""
    known = {} if known is None else known
    pending: dict[int, float] = {}
    results: dict[int, Any] = {}
    for s, gen in searches.items():
        try:
            pending[s] = next(gen)
        except StopIteration as stop:
            results[s] = stop.value
    while pending:
        batch = {s: units_of(s, v) for s, v in pending.items() if (s, v) not in known}
        flat = [u for us in batch.values() for u in us]
        evaluations = iter(executor(evaluate_unit, flat) if flat else ())
        answers = {s: combine(s, pending[s], [next(evaluations) for _ in us]) for s, us in batch.items()}
        answers.update({s: known[(s, v)] for s, v in pending.items() if (s, v) in known})
        pending = {}
        for s, answer in answers.items():
            try:
                pending[s] = searches[s].send(answer)
            except StopIteration as stop:
                results[s] = stop.value
    return results


def _once(value: float):
    """A search of one value: yields it, returns what it was sent."""
    answer = yield value
    return answer


def _identical(per_seed: list[list[float]]) -> bool:
    """Whether every seed measured the same deviation and standard error in every configuration (to 1e-12)."""
    first = per_seed[0]
    if not first or any(len(v) != len(first) for v in per_seed):
        return False
    for column in zip(*per_seed):
        if not all(math.isfinite(x) for x in column):
            return False
        if max(column) - min(column) > 1e-12 * max(max(abs(x) for x in column), 1e-300):
            return False
    return True


def _log_slope(evals: dict[float, float], b: Bracket) -> float:
    """``d deviation / d log value`` across the bracket (0 where it is not resolved)."""
    if b.valid is None or b.broken is None or b.valid == b.broken:
        return 0.0
    dv, db = evals[b.valid], evals[b.broken]
    if not (math.isfinite(dv) and math.isfinite(db)):
        return 0.0
    return abs(db - dv) / abs(math.log(b.broken / b.valid))


def _predicted_contour(axis: Axis, points: list[SweepPoint], level: float) -> float | None:
    """Where the predicted deviation crosses ``level``: log-log interpolation between the evaluated values
    (a first-order prediction is a straight line there), extrapolated from the nearest two where it does not cross."""
    pts = sorted((p.value, p.predicted) for p in points if math.isfinite(p.predicted) and p.predicted > 0)
    if len(pts) < 2:
        return None
    logs = [(math.log(v), math.log(d)) for v, d in pts]
    ll = math.log(level)
    best = None
    for (x0, y0), (x1, y1) in zip(logs, logs[1:]):
        if x1 == x0 or y1 == y0:
            continue
        if min(y0, y1) <= ll <= max(y0, y1):
            return math.exp(x0 + (ll - y0) * (x1 - x0) / (y1 - y0))
        best = (x0, y0, x1, y1) if best is None or abs(ll - y1) < abs(ll - best[3]) else best
    if best is None:
        return None
    x0, y0, x1, y1 = best
    return math.exp(x0 + (ll - y0) * (x1 - x0) / (y1 - y0))


def validity_map(result: str, axis: str, *, levels: Sequence[float] = LEVELS, seeds: int = 3, seed: int = 0,
                 device: str = "cpu", check: int | None = None, bisections: int = BISECTIONS,
                 limit_bisections: int = LIMIT_BISECTIONS, tolerance: float = 0.1, limit_tolerance: float = 0.02,
                 executor=serial_map,
                 module: str | None = None, out_dir: str | None = None, sizes: dict | None = None,
                 progress: Callable[[str], None] | None = None) -> ValidityMap:
    """The validity map of ``result`` along ``axis`` (module docstring). ``check``: which of its declared checks
    (default: the first that declares the axis); ``seeds`` maps, seeds ``seed, seed + 1, …``; ``tolerance``: how
    far (relative) a measured contour may lie from the predicted one (beyond two of its standard errors) and still
    agree with it; ``limit_tolerance``: how far the measured divergence may lie from the stability limit;
    ``sizes``: entries that replace the check's own sizes (a larger step budget, more networks)."""
    if not levels or any(not (0 < lv < math.inf) for lv in levels):
        raise ValueError(f"levels must be positive deviations (0.01 is 1 %), got {list(levels)}")
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    chosen, ax = _chosen_check(result, axis, check, module, out_dir)
    sim_check, _, _ = resolve(result, chosen, module, out_dir)
    overrides = dict(sizes or {})
    sizes = {**sim_check.sizes_on(device), **overrides}
    seed_list = [seed + i for i in range(seeds)]
    cases = {s: _cases(sim_check, s) for s in seed_list}
    points: list[SweepPoint] = []

    def units_of(probe: str):
        def build(s: int, v: float) -> list[WorkUnit]:
            if progress:
                progress(f"{result}: {axis} = {v:.4g} (seed {s}{', convergence' if probe == 'divergence' else ''})")
            return [WorkUnit(result, chosen, axis, v, c, sizes, device, probe, module, out_dir) for c in cases[s]]
        return build

    values: dict[tuple[int, float], list[float]] = {}

    def combine(s: int, v: float, evaluations: list[Evaluation]) -> float:
        values[(s, v)] = [x for e in evaluations for x in (e.values + [e.se])]
        worst = max(evaluations, key=lambda e: e.deviation if not math.isnan(e.deviation) else math.inf)  # NaN: failed
        predicted = max((e.predicted for e in evaluations if math.isfinite(e.predicted)), default=math.nan)
        error = next((e.error for e in evaluations if e.error), None)
        points.append(SweepPoint(s, v, worst.deviation, worst.se, predicted, error))
        return worst.deviation

    # the first round: every seed at the check's own setting; a simulation that does not depend on the seed (a
    # deterministic GD run) gives every seed the same deviation, and then one seed is mapped
    start = ax.rounded(ax.start)
    first = _run_lockstep({s: _once(start) for s in seed_list}, units_of("deviation"), combine, executor)
    notes = []
    if len(seed_list) > 1 and _identical([values[(s, start)] for s in seed_list]):
        notes.append(f"the simulation does not depend on the seed (seeds {', '.join(map(str, seed_list))} agree to "
                     f"1e-12 at {ax.name} = {start:g}), so one seed is mapped")
        seed_list = seed_list[:1]
        points[:] = [p for p in points if p.seed == seed_list[0]]
    searches = {s: contour_search(ax, levels, bisections) for s in seed_list}
    evals = _run_lockstep(searches, units_of("deviation"), combine, executor,
                          known={(s, start): first[s] for s in seed_list})
    contours = [_contour(ax, lv, evals, [p for p in points], tolerance) for lv in sorted(levels)]
    limit = None
    if ax.limit is not None and ax.diverges is not None:
        limit = _limit(ax, seed_list, units_of("divergence"), executor, limit_bisections, limit_tolerance)
    points.sort(key=lambda p: (p.seed, p.value))
    return ValidityMap(result, sim_check.title, sim_check.method, ax.name, ax.text, ax.key, float(ax.start), ax.grows,
                       sorted(levels), seed_list, device, {k: _plain(v) for k, v in sizes.items()}, contours, points,
                       limit, ax.predicted_by, _comparison_text(sim_check), notes)


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def _comparison_text(check) -> str:
    """What the deviation measures for the check's comparison (:mod:`learndyn.verify.validity.deviation`)."""
    kind = type(check.compare).__name__
    return {"Richardson": "max over records of |u(lr) - theory| / scale (the GD run itself, not extrapolated)",
            "Statistical": "|mean over replicates of (sim - theory) / norm| (no allowance)",
            "Extrapolated": "|mean deviation| at the largest simulated size (no 1/N fit)",
            "UpperBound": "(mean - bound) / bound where positive"}.get(kind, kind)


def declared_axes(result: str, module: str | None = None, out_dir: str | None = None) -> list[str]:
    """The axes the checks of ``result`` declare, in order (``KeyError`` for a result with no check)."""
    checks = _checks(result, module)
    out: list[str] = []
    for c in checks:
        out += [a for a in axes_of(c) if a not in out]
    return out


def _checks(result: str, module: str | None):
    if module is None:
        from learndyn.verify.families import simulations

        checks = simulations().get(result)
        if checks is None:
            from learndyn.derive.registry import declaration

            declaration(result)  # a KeyError naming the known results where the name is unknown
            raise KeyError(f"{result} declares no simulation check, so it has no validity map")
        return checks
    from learndyn.derive.families import import_family_module
    from learndyn.verify.families import simulations_of_module

    return simulations_of_module(import_family_module(module)).get(result, ())


def _chosen_check(result: str, axis: str, check: int | None, module, out_dir) -> tuple[int, Axis]:
    checks = _checks(result, module)
    indices = range(len(checks)) if check is None else [check]
    for i in indices:
        if not 0 <= i < len(checks):
            raise KeyError(f"{result} declares {len(checks)} simulation checks, there is no check {i}")
        if axis in axes_of(checks[i]):
            return i, axes_of(checks[i])[axis]
    known = sorted({a for c in checks for a in axes_of(c)})
    raise KeyError(f"{result}: no simulation check declares the axis {axis!r}"
                   + (f" (its axes: {', '.join(known)})" if known else " (it declares no validity axes)"))


#: a contour whose deviation has a standard error above this fraction of the level is reported as noise-dominated
NOISY = 1 / 3


def _contour(axis: Axis, level: float, evals: dict[int, dict[float, float]], points: list[SweepPoint],
             tolerance: float) -> Contour:
    per_seed, brackets, logs, outcomes, error = [], [], [], [], None
    se_log2, se_at = 0.0, 0.0
    for s in sorted(evals):
        ev = evals[s]
        b = bracket_of(axis, ev, level)
        brackets.append((b.valid, b.broken))
        if b.value is None:
            bound = b.valid if b.broken is None else b.broken
            outcome = "holds" if b.broken is None else "broken"
            if b.valid is None and measured_from(axis, ev)[:1] != sorted(ev, reverse=not axis.grows)[:1]:
                outcome = "unmeasured"
                error = next((p.error for p in points if p.seed == s and p.error and math.isnan(p.deviation)), None)
            outcomes.append(outcome)
            per_seed.append(None)
            logs.append(math.log(bound))
            continue
        outcomes.append(None)
        per_seed.append(b.value)
        logs.append(math.log(b.value))
        half = 0.5 * abs(math.log(b.broken / b.valid))
        slope = _log_slope(ev, b)
        se_dev = max((p.se for p in points if p.seed == s and p.value in (b.valid, b.broken) and math.isfinite(p.se)),
                     default=0.0)
        se_at = max(se_at, se_dev)
        noise = se_dev / slope if slope > 0 else 0.0
        se_log2 += (half / math.sqrt(3)) ** 2 + noise**2  # a uniform position in the bracket, and the noise
    n = len(logs)
    mean = sum(logs) / n
    spread = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1)) / math.sqrt(n) if n > 1 else 0.0
    se = math.sqrt(spread**2 + se_log2 / n**2)
    value = math.exp(mean)
    # one outcome for all seeds, or "mixed" where some seeds located the contour and others did not
    beyond = outcomes[0] if len(set(outcomes)) == 1 else "mixed"
    predicted = _predicted_contour(axis, points, level) if axis.predicted is not None else None
    agrees = None
    if predicted is not None and beyond is None:
        agrees = abs(math.log(value / predicted)) <= math.log1p(tolerance) + 2 * se
    return Contour(level, value, math.exp(mean - se), math.exp(mean + se), per_seed, brackets, predicted, agrees, beyond,
                   error, se_at if se_at > NOISY * level else None)


def _limit(axis: Axis, seed_list, units_of, executor, bisections: int, tolerance: float) -> Limit:
    searches = {s: limit_search(axis, bisections) for s in seed_list}

    def combine(s, v, evaluations):
        return any(e.diverged for e in evaluations)

    seen = _run_lockstep(searches, units_of, combine, executor)
    brackets = []
    for s in seed_list:
        ok = [v for v, d in seen[s].items() if not d]
        bad = [v for v, d in seen[s].items() if d]
        brackets.append((max(ok) if ok else None, min(bad) if bad else None))
    lo = min((a for a, _ in brackets if a is not None), default=axis.lo)
    hi = max((b for _, b in brackets if b is not None), default=axis.hi)
    agrees = lo / (1 + tolerance) <= axis.limit <= hi * (1 + tolerance) and all(b is not None for _, b in brackets)
    return Limit(axis.limit, brackets, agrees, tolerance)
