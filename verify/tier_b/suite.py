"""Tier (b) over a set of results: their declared checks (``learndyn.verify.families``, or a user module's
``SIMULATIONS``), a failed row for a result without one, and the power table."""
from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Sequence

from learndyn.verify.report import Check
from learndyn.verify.tier_b.declaration import SimulationCheck
from learndyn.verify.tier_b.engine import MeasurementCache, measure, run_check
from learndyn.verify.tier_b.power import PowerRow, measure_power

__all__ = ["tier_b_labels", "power_labels", "run_tier_b", "run_power", "NO_CHECK"]

NO_CHECK = "no simulation check is declared for this result: tier b cannot say whether the theory holds"


def _declared(declared: Mapping[str, Sequence[SimulationCheck]] | None) -> Mapping[str, Sequence[SimulationCheck]]:
    if declared is not None:
        return declared
    from learndyn.verify.families import simulations

    return simulations()


def _label(name: str, check: SimulationCheck | None = None) -> str:
    return f"{name}: tier b ({check.title if check is not None else 'none'})"


def tier_b_labels(names: Iterable[str], declared=None) -> list[str]:
    """The progress labels :func:`run_tier_b` reports, in order (one per check, or per result without one)."""
    declared = _declared(declared)
    labels = []
    for n in names:
        labels += [_label(n, c) for c in declared.get(n, ())] or [_label(n)]
    return labels


def _power_label(name: str) -> str:
    return f"{name}: power"


def power_labels(names: Iterable[str]) -> list[str]:
    """The progress labels :func:`run_power` reports, in order (one per result)."""
    return [_power_label(n) for n in names]


def _no_check(name: str) -> Check:
    return Check(name, "b: simulation", 0, math.nan, math.nan, "-", False, NO_CHECK)


def run_tier_b(names: Iterable[str], *, config, theories: Mapping[str, Callable], results: Mapping[str, object],
               progress: Callable[[str], None] | None = None, cache: MeasurementCache | None = None,
               declared=None) -> list[Check]:
    """One row per check of every result in ``names`` (``theories[n]`` is compared; ``results[n]`` is its
    declaration; ``declared``: the checks by result, default the built-in families'); a result without a check is a
    failed row that says so."""
    declared = _declared(declared)
    cache = cache or MeasurementCache()
    rows: list[Check] = []
    for n in names:
        checks = declared.get(n, ())
        if not checks:
            if progress:
                progress(_label(n))
            rows.append(_no_check(n))
        for check in checks:
            if progress:
                progress(_label(n, check))
            rows.append(run_check(check, results[n], theories[n], examples=config.examples, seed=config.seed,
                                  device=config.device, cache=cache))
    return rows


def _bounded(result, theories: Mapping[str, Callable]) -> tuple[Callable | None, str | None]:
    """For a bound, the function of the quantity it bounds (among ``theories``, else the generated one)."""
    from learndyn.derive.declaration import UpperBound

    definition = getattr(result, "definition", None)
    if isinstance(definition, UpperBound):
        if definition.of in theories:
            return theories[definition.of], definition.of
        import learndyn

        return learndyn.function(definition.of, check=False), definition.of
    return None, None


def run_power(names: Iterable[str], *, config, theories: Mapping[str, Callable], results: Mapping[str, object],
              progress: Callable[[str], None] | None = None, cache: MeasurementCache | None = None,
              declared=None) -> list[PowerRow]:
    """The power of every result's checks, by bisection over the size of each wrong theory
    (:func:`~learndyn.verify.tier_b.power.measure_power`), on the measurements of ``cache`` (simulated if absent)."""
    declared = _declared(declared)
    cache = cache or MeasurementCache()
    out: list[PowerRow] = []
    for n in names:
        if progress:
            progress(_power_label(n))
        checks = declared.get(n, ())
        if not checks:
            out.append(PowerRow(n, 0, None, None, note="no simulation check"))
            continue
        of, of_name = _bounded(results[n], theories)
        runs = [(c, measure(c, results[n], examples=config.examples, seed=config.seed, device=config.device,
                            cache=cache)) for c in checks]
        out.append(measure_power(results[n], runs, theories[n], bounded=of, bounded_name=of_name))
    return out
