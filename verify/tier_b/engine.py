"""Running declared simulation checks: draw the cases, simulate each once, compare with a theory, report a row.

Measurements are kept in a :class:`MeasurementCache` for the run, keyed by the simulation function itself, so power
(:mod:`learndyn.verify.tier_b.power`) re-compares the checks' measurements without re-simulating. Checks that
observe one simulation differently (the dropout expectation and its bound, the phase results of family 4) declare
``simulate = SharedRun(run, observe)`` with the same ``run``: the cache keeps ``run``'s output per case too
(:mod:`learndyn.verify.tier_b.shared_run`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings
from hypothesis import strategies as st

from learndyn.verify.report import Check
from learndyn.verify.tier_b.comparison import Outcome
from learndyn.verify.tier_b.declaration import METHODS, Case, SimulationCheck
from learndyn.verify.tier_b.measurement import Measurement
from learndyn.verify.tier_b.shared_run import SharedRun

__all__ = ["MeasurementCache", "CaseRun", "cases_of", "measure", "judge", "run_check", "draw_cases"]


def draw_cases(strategy, n: int, seed: int) -> list:
    """``n`` examples of ``strategy``, deterministic given ``seed`` (hypothesis' generation phase only)."""
    if n <= 0:
        return []
    out: list = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example):
        out.append(example)

    hyp_seed(seed)(collect)()
    return out[:n]


def _default_strategy(check: SimulationCheck, result) -> Any:
    from learndyn.verify.strategies import point_strategy

    parts = {"seed": st.integers(0, 2**31 - 1), **check.options}
    point = point_strategy(result, "sim", only=check.draws) if check.draws else st.just({})
    return st.tuples(point, st.fixed_dictionaries(parts)).map(lambda pe: {**pe[0], **pe[1]})


def cases_of(check: SimulationCheck, result, examples: int, seed: int) -> list[Case]:
    """The pinned points, then the cases hypothesis draws from the declared simulation ranges."""
    strategy = check.strategy(result) if check.strategy is not None else _default_strategy(check, result)
    pinned = [dict(p) for p in check.points]
    for i, p in enumerate(pinned):
        p.setdefault("seed", 1000 + i)
    return pinned + draw_cases(strategy, check.drawn_cases(examples), seed)


@dataclass
class CaseRun:
    """One case and what its simulation measured (or the exception it raised)."""

    case: Case
    measurements: list[Measurement] = field(default_factory=list)
    error: str | None = None


def _key(check: SimulationCheck, case: Case, sizes: dict, device: str) -> tuple:
    """The simulation function itself (two checks share a measurement only when they declare the same function
    object, never two closures of one factory), the case, the sizes and the device."""
    return (check.simulate, repr(sorted(case.items())), repr(sorted(sizes.items())), str(device))


class MeasurementCache:
    """Measurements by (simulation, case, sizes, device), for the duration of one verification, and the outputs of
    shared runs (:class:`~learndyn.verify.tier_b.shared_run.SharedRun`) by (run, case, sizes, device)."""

    def __init__(self) -> None:
        self._runs: dict[tuple, CaseRun] = {}
        self._shared: dict[tuple, Any] = {}

    def run(self, check: SimulationCheck, case: Case, sizes: dict, device: str) -> CaseRun:
        """The case's run, simulated on first request and kept for the verification."""
        key = _key(check, case, sizes, device)
        if key not in self._runs:
            self._runs[key] = _simulate(check, case, sizes, device, self)
        return self._runs[key]

    def shared_output(self, run: Callable, case: Case, sizes: dict, device: str) -> Any:
        """``run(case, sizes, device)``, once per case for every check that shares it (an exception is kept and
        raised again for each of them)."""
        key = (run, repr(sorted(case.items())), repr(sorted(sizes.items())), str(device))
        if key not in self._shared:
            try:
                self._shared[key] = (run(case, sizes, device), None)
            except Exception as exc:  # noqa: BLE001 - re-raised for every check that observes this run
                self._shared[key] = (None, exc)
        out, exc = self._shared[key]
        if exc is not None:
            raise exc
        return out


def _simulate(check: SimulationCheck, case: Case, sizes: dict, device: str, cache: MeasurementCache) -> CaseRun:
    try:
        sim = check.simulate
        if isinstance(sim, SharedRun):
            out = sim.observe(cache.shared_output(sim.run, case, sizes, device), case, sizes, device)
        else:
            out = sim(case, sizes, device)
    except Exception as exc:  # noqa: BLE001 - a simulator that crashes is a failed row, not a crashed verify
        first = str(exc).splitlines()[0] if str(exc) else ""
        return CaseRun(case, [], f"the simulation raised {type(exc).__name__}: {first}")
    return CaseRun(case, list(out) if isinstance(out, (list, tuple)) else [out])


def measure(check: SimulationCheck, result, *, examples: int, seed: int, device: str,
            cache: MeasurementCache | None = None) -> list[CaseRun]:
    """Simulate every case of ``check`` (pinned and drawn) once."""
    cache = cache or MeasurementCache()
    sizes = check.sizes_on(device)
    return [cache.run(check, case, sizes, device) for case in cases_of(check, result, examples, seed)]


@dataclass
class Judgement:
    """A check's runs compared with one theory."""

    passed: bool
    ratio: float
    configurations: int
    failure: str | None
    details: dict


def judge(check: SimulationCheck, runs: Sequence[CaseRun], theory: Callable) -> Judgement:
    """Compare every measurement with ``theory``; the first failure is reported, the worst ratio kept."""
    worst, configs, failure, details = 0.0, 0, None, {}
    for run in runs:
        if run.error is not None:
            failure = failure or f"{run.error} (case {dict(run.case)})"
            continue
        for m in run.measurements:
            try:
                outcome = check.compare.judge(m, theory)
            except Exception as exc:  # noqa: BLE001 - a theory that crashes fails its check
                outcome = Outcome(math.inf, 0, f"comparing raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            configs += outcome.configurations
            if outcome.ratio >= worst or (failure is None and outcome.failure):
                worst = max(worst, outcome.ratio)
                details = dict(outcome.details)
            if failure is None and outcome.failure:
                failure = outcome.failure
    return Judgement(failure is None, worst, configs, failure, details)


def row(check: SimulationCheck, runs: Sequence[CaseRun], j: Judgement) -> Check:
    """The verification row of a judged check."""
    details = {**j.details, "cases": len(runs), "method": METHODS[check.method]}
    return Check(name=check.result, tier=f"b: {check.title}", examples=j.configurations, worst=j.ratio,
                 tolerance=1.0, measure=check.compare.describe(), passed=j.passed, failure=j.failure, details=details)


def run_check(check: SimulationCheck, result, theory: Callable, *, examples: int, seed: int, device: str,
              cache: MeasurementCache | None = None) -> Check:
    """Simulate, compare with ``theory`` and return the row."""
    runs = measure(check, result, examples=examples, seed=seed, device=device, cache=cache)
    return row(check, runs, judge(check, runs, theory))
