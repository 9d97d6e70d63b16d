"""Tier (a)'s share of the independent reference (:mod:`learndyn.derive.independent`).

``learndyn derive`` compares every derived form with its defining equation solved by another method and records the
outcome, the points and the independent values in the proof (:class:`~learndyn.derive.proof.IndependentReference`).
Tier (a) reads that record instead of repeating the mpmath work (seconds of ODE integration and quadrature per
result, deterministic, cached with the proof), and adds what derive cannot see: the *generated* function evaluated at
those points against the independent values, within tier (a)'s bound ``|f − ref| ≤ 1e-12 |ref| + 2.3e-308`` (per
entry; normwise, ``‖f − ref‖ ≤ 1e-12 ‖ref‖``, for a spectral flow's matrices). So the chain generated code → derived
form → defining equation is closed at a few points in every tier-(a) row. The row fails where the record is missing
(a derivation without the step), records a disagreement, or the generated function misses an independent value.
"""
from __future__ import annotations

import math
from typing import Callable

import mpmath
import torch

from learndyn.derive.proof import IndependentReference

__all__ = ["independent_replay", "Replay", "RTOL", "ATOL"]

RTOL = 1e-12
ATOL = 2.3e-308


class Replay:
    """Outcome: ``worst`` (``|err|/(1e-12|ref| + 2.3e-308)``, the largest over the replayed points), ``points``
    replayed, ``failure`` (``None`` when it passes) and a one-line ``summary`` for the check's details."""

    def __init__(self, worst: float, points: int, failure: str | None, summary: str):
        self.worst, self.points, self.failure, self.summary = worst, points, failure, summary


def _argument(param, value):
    if param.kind == "array":
        return torch.tensor(value, dtype=torch.float64)
    if param.kind == "real":
        return float(value)
    return value


def _outputs(value) -> dict:
    if hasattr(value, "_asdict"):
        return {k: v for k, v in value._asdict().items()}
    return {"": value}


def _ratio(got: torch.Tensor, ref, normwise: bool) -> float:
    got = got.detach().reshape(-1).tolist()
    ref = [mpmath.mpf(v) for v in (ref if isinstance(ref, tuple) else (ref,))]
    if len(got) != len(ref):
        return math.inf
    if normwise:
        err = mpmath.sqrt(mpmath.fsum((mpmath.mpf(g) - r) ** 2 for g, r in zip(got, ref)))
        size = mpmath.sqrt(mpmath.fsum(r**2 for r in ref))
        return float(err / (RTOL * size + ATOL))
    worst = 0.0
    for g, r in zip(got, ref):
        if mpmath.isinf(r):
            worst = max(worst, 0.0 if g == float(r) else math.inf)
            continue
        if not math.isfinite(g):
            return math.inf
        worst = max(worst, float(abs(mpmath.mpf(g) - r) / (RTOL * abs(r) + ATOL)))
    return worst


def independent_replay(d, fn: Callable, *, normwise: bool = False) -> Replay:
    """Check the independent reference of derivation ``d`` in its proof record, and ``fn`` (the generated function)
    at its points (see the module)."""
    steps = [s for s in d.proof if isinstance(s, IndependentReference)]
    name = d.result.name
    if not steps:
        return Replay(math.inf, 0, f"{name}: the proof record has no independent reference (re-run `learndyn derive`)", "missing")
    bad = [s for s in steps if not s.worst <= s.tolerance]
    if bad:
        return Replay(math.inf, 0, f"{name}: the proof records a disagreement with the defining equation: {bad[0].claim}",
                      "disagrees")
    params = {p.name: p for p in d.result.params}
    worst, count, failure = 0.0, 0, None
    with mpmath.workdps(45):
        for step in steps:
            for point, values, exact in zip(step.points, step.values, step.replay or (True,) * len(step.points)):
                if not exact:
                    continue
                args = {k: _argument(params[k], v) for k, v in point if k in params}
                for p in params.values():
                    if p.kind == "array" and p.name not in args and getattr(p.domain, "optional", False):
                        args[p.name] = None
                try:
                    outputs = _outputs(fn(**args))
                except Exception as exc:  # noqa: BLE001 - a crash of the function under test fails the row
                    failure = f"{name}{dict(point)}: {type(exc).__name__}: {exc}"
                    break
                for output, ref in values:
                    if output not in outputs:
                        failure = f"{name}: no output {output!r} at {dict(point)}"
                        break
                    ref = tuple(ref) if isinstance(ref, tuple) else ref
                    ratio = _ratio(outputs[output], ref, normwise)
                    worst = max(worst, ratio)
                    if not ratio <= 1 and failure is None:
                        failure = (f"{name}{'.' + output if output else ''}{_short(point)}: the generated function misses "
                                   f"the independent value by {ratio:.3g} times tier (a)'s bound")
                count += 1
            if failure:
                break
    recorded = max(s.worst for s in steps)
    summary = (f"derive: {len(steps)} step(s), largest relative difference {recorded:.2g} (tolerance "
               f"{steps[0].tolerance:.0e}); generated function at {count} of their points: {worst:.3g} of the bound")
    return Replay(worst, count, failure, summary)


def _short(point) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in point if not isinstance(v, tuple)) + "}"
