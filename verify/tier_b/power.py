"""The power of a result's simulation checks: the smallest relative error of the theory they detect.

A wrong theory is made from the right one by one of these variants, each at a relative size ``δ``:

* every output scaled by ``1 + δ``, and by ``1 − δ`` (each output alone, for a result with several);
* for a result of time (a parameter ``t``), the clock run ``1 + δ`` fast: ``theory(t = (1 + δ) t)``;
* for a bound (an :class:`~learndyn.derive.declaration.UpperBound`), the bound replaced by the quantity it bounds,
  which must fail.

The checks' measurements are simulated once (:mod:`learndyn.verify.tier_b.engine`) and compared with each wrong
theory; ``δ`` is found by bisection (in ``log δ``, between ``1e-4`` and ``0.5``) as the smallest size at which some
check of the result fails. A result's power is its weakest variant's ``δ``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import torch

from learndyn.verify.tier_b.declaration import SimulationCheck
from learndyn.verify.tier_b.engine import CaseRun, judge

__all__ = ["Variant", "PowerRow", "variants", "wrong_theory", "measure_power", "format_power_table", "power_columns",
           "TARGET", "DELTA_RANGE"]

#: the error every result's checks must catch at the default size (issue: verification with power)
TARGET = 0.02
DELTA_RANGE = (1e-4, 0.5)
BISECTIONS = 14


@dataclass(frozen=True)
class Variant:
    """One way of making the theory wrong by ``δ``: ``kind`` is ``"scale"`` (``output`` × ``1 + sign·δ``; ``output``
    ``None`` scales every output) or ``"clock"`` (``t`` × ``1 + δ``)."""

    kind: str
    sign: int = 1
    output: str | None = None

    @property
    def label(self) -> str:
        """The variant in the table's words (``x (1+d)``, ``clock (1+d) fast``)."""
        if self.kind == "clock":
            return "clock (1+d) fast"
        what = "" if self.output is None else f"{self.output} "
        return f"{what}x (1{'+' if self.sign > 0 else '-'}d)"


def _scale(value, factor: float, output: str | None):
    if hasattr(value, "_asdict"):
        fields = value._asdict()
        keys = [output] if output is not None else list(fields)
        return value._replace(**{k: fields[k] * factor for k in keys})
    return value * factor


def wrong_theory(theory: Callable, variant: Variant, delta: float) -> Callable:
    """``theory`` made wrong by ``variant`` at size ``delta`` (called as ``theory`` is: by keyword or position)."""
    if variant.kind == "clock":
        import inspect

        signature = inspect.signature(theory)

        def clock_fast(*args, **kw):
            bound = signature.bind(*args, **kw)
            bound.arguments["t"] = bound.arguments["t"] * (1.0 + delta)
            return theory(*bound.args, **bound.kwargs)
        return clock_fast

    def scaled(*args, **kw):
        return _scale(theory(*args, **kw), 1.0 + variant.sign * delta, variant.output)
    return scaled


def variants(param_names: Sequence[str], outputs: Sequence[str] | None) -> list[Variant]:
    """The variants of a result with these parameters and outputs (``None``: a single output)."""
    out: list[Variant] = []
    for o in (outputs or [None]):
        out += [Variant("scale", +1, o), Variant("scale", -1, o)]
    if "t" in param_names:
        out.append(Variant("clock"))
    return out


@dataclass
class PowerRow:
    """The measured power of one result's checks (``delta``: the weakest variant's smallest detected error, ``inf``
    where one is not detected up to ``DELTA_RANGE[1]``; ``None`` for a bound, judged by ``bound_detected``)."""

    result: str
    checks: int
    delta: float | None
    weakest: str | None
    per_variant: dict[str, float] = field(default_factory=dict)
    passes_unperturbed: bool = True
    bound_replaced_by: str | None = None
    bound_detected: bool | None = None
    note: str = ""

    @property
    def meets_target(self) -> bool:
        """Whether the result's checks catch a :data:`TARGET` error (a bound: fail when replaced)."""
        if self.checks == 0 or not self.passes_unperturbed:
            return False
        if self.bound_replaced_by is not None:
            return bool(self.bound_detected)
        return self.delta is not None and self.delta <= TARGET

    def to_json(self) -> dict:
        """The row as JSON (infinite sizes as ``"inf"``), with ``meets_target``."""
        out = asdict(self)
        for k in ("delta",):
            if isinstance(out[k], float) and not math.isfinite(out[k]):
                out[k] = None if math.isnan(out[k]) else "inf"
        out["per_variant"] = {k: (v if math.isfinite(v) else "inf") for k, v in out["per_variant"].items()}
        out["meets_target"] = self.meets_target
        return out


def _outputs(runs_by_check: Sequence[tuple[SimulationCheck, Sequence[CaseRun]]], theory: Callable) -> list[str] | None:
    for _, runs in runs_by_check:
        for run in runs:
            for m in run.measurements:
                from learndyn.verify.tier_b.measurement import call_theory

                value = call_theory(theory, m.args)
                return list(value._asdict()) if hasattr(value, "_asdict") else None
    return None


def _detects(runs_by_check, theory: Callable) -> bool:
    return any(not judge(check, runs, theory).passed for check, runs in runs_by_check)


def smallest_detected(detects: Callable[[float], bool], lo: float = DELTA_RANGE[0], hi: float = DELTA_RANGE[1],
                      steps: int = BISECTIONS) -> float:
    """The smallest ``δ`` in ``[lo, hi]`` with ``detects(δ)``, by bisection in ``log δ`` (``lo`` if detected there,
    ``inf`` if not detected at ``hi``)."""
    if not detects(hi):
        return math.inf
    if detects(lo):
        return lo
    a, b = math.log(lo), math.log(hi)
    for _ in range(steps):
        mid = 0.5 * (a + b)
        if detects(math.exp(mid)):
            b = mid
        else:
            a = mid
    return math.exp(b)


def measure_power(result, runs_by_check: Sequence[tuple[SimulationCheck, Sequence[CaseRun]]], theory: Callable,
                  *, bounded: Callable | None = None, bounded_name: str | None = None) -> PowerRow:
    """The power of ``result``'s checks, whose runs are given; ``bounded``: for a bound, the function of the
    quantity it bounds."""
    name = result.name
    if not runs_by_check:
        return PowerRow(name, 0, None, None, note="no simulation check")
    row = PowerRow(name, len(runs_by_check), None, None)
    row.passes_unperturbed = not _detects(runs_by_check, theory)
    if bounded is not None:
        row.bound_replaced_by = bounded_name
        row.bound_detected = _detects(runs_by_check, bounded)
        return row
    with torch.no_grad():
        outs = _outputs(runs_by_check, theory)
        for v in variants(result.names, outs):
            row.per_variant[v.label] = smallest_detected(lambda d, v=v: _detects(runs_by_check, wrong_theory(theory, v, d)))
    row.weakest = max(row.per_variant, key=lambda k: row.per_variant[k])
    row.delta = row.per_variant[row.weakest]
    return row


def power_columns(per_variant: dict) -> tuple[float | None, float | None, float | None]:
    """The table's columns of a result's per-variant ``δ`` (floats, or their JSON form where ``"inf"`` stands for
    ``inf``): the weakest ``× (1 + δ)`` over the outputs, the weakest ``× (1 − δ)``, the clock (``None`` where
    absent)."""
    values = {k: math.inf if v == "inf" else v for k, v in per_variant.items()}
    worst = lambda sign: max((v for k, v in values.items() if k.endswith(f"(1{sign}d)")), default=None)  # noqa: E731
    return worst("+"), worst("-"), values.get(Variant("clock").label)


def _pct(x: float | None) -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return f"> {DELTA_RANGE[1]:.0%}"
    if x <= DELTA_RANGE[0]:
        return f"<= {DELTA_RANGE[0] * 100:g} %"
    return f"{x * 100:.2g} %"


def format_power_table(rows: Sequence[PowerRow]) -> str:
    """One line per result: checks, the smallest detected error per variant kind, the power, and the verdict."""
    head = ("result", "checks", "x(1+d)", "x(1-d)", "clock", "power d", f"<= {TARGET:.0%}")
    lines = [head]
    for r in rows:
        if r.bound_replaced_by is not None:
            verdict = "ok" if r.meets_target else "MISSED"
            lines.append((r.result, str(r.checks), "-", "-", "-",
                          f"bound: {'fails' if r.bound_detected else 'PASSES'} as {r.bound_replaced_by}", verdict))
            continue
        verdict = ("NO CHECK" if r.checks == 0 else "FAILS UNPERTURBED" if not r.passes_unperturbed
                   else "ok" if r.meets_target else "MISSED")
        lines.append((r.result, str(r.checks), *map(_pct, power_columns(r.per_variant)), _pct(r.delta), verdict))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    met = sum(r.meets_target for r in rows)
    text.append(f"{met} of {len(rows)} results catch a {TARGET:.0%} error")
    return "\n".join(text)
