"""The benchmark report: one :class:`Row` per figure (a ratio against a baseline measured in the same run, its
goal and whether it is met), the machine it ran on, a JSON form and a table."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Row", "BenchReport", "GROUPS"]

#: the groups of ``learndyn bench``, in report order
GROUPS = ("closed_forms", "solvers", "kernels", "simulation", "similarity", "derive")


@dataclass(frozen=True)
class Row:
    """One figure of the report.

    ``measured`` and ``baseline`` are in ``unit`` (``None`` where a part was skipped, with ``note`` saying why).
    ``ratio`` is ``baseline/measured`` when ``ratio_kind == "speedup"`` (higher is better) and ``measured/baseline``
    when it is ``"cost"`` (lower is better); ``goal`` is a bound on the ratio (``goal_op`` ``">="`` or ``"<="``), or on
    ``measured`` itself where ``goal_on == "measured"``; ``met`` is ``None`` where there is no goal (or nothing
    was measured)."""

    group: str
    name: str
    unit: str
    measured: float | None
    baseline: float | None
    baseline_name: str
    ratio_kind: str = "speedup"
    goal: float | None = None
    goal_op: str = ">="
    goal_on: str = "ratio"
    note: str = ""
    details: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.measured is None or self.baseline is None or self.measured <= 0 or self.baseline <= 0:
            return None
        return self.baseline / self.measured if self.ratio_kind == "speedup" else self.measured / self.baseline

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        value = self.measured if self.goal_on == "measured" else self.ratio
        if value is None:
            return None
        return value >= self.goal if self.goal_op == ">=" else value <= self.goal

    @property
    def goal_text(self) -> str:
        if self.goal is None:
            return ""
        if self.goal_on == "measured":
            return f"{self.goal_op} {_num(self.goal)} {self.unit}"
        return f"{self.goal_op} {_num(self.goal)}×"

    def to_json(self) -> dict:
        ratio = self.ratio
        return {"group": self.group, "name": self.name, "unit": self.unit, "measured": self.measured,
                "baseline": self.baseline, "baseline_name": self.baseline_name, "ratio": ratio,
                "ratio_kind": self.ratio_kind, "goal": self.goal, "goal_op": self.goal_op if self.goal is not None else None,
                "goal_on": self.goal_on if self.goal is not None else None, "met": self.met, "note": self.note,
                "details": _jsonable(self.details)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


@dataclass
class BenchReport:
    """Rows of the groups that ran, and the provenance of the run (versions, device, threads, CPU, load)."""

    rows: list[Row]
    provenance: dict
    groups: tuple[str, ...] = GROUPS
    quick: bool = False

    def group_rows(self, group: str) -> list[Row]:
        return [r for r in self.rows if r.group == group]

    def to_json(self) -> dict:
        return {"quick": self.quick, "groups": list(self.groups), "provenance": _jsonable(self.provenance),
                "rows": [r.to_json() for r in self.rows],
                "goals": {"met": sum(r.met is True for r in self.rows), "missed": sum(r.met is False for r in self.rows)}}

    def to_table(self) -> str:
        p = self.provenance
        lines = [f"learndyn bench{' --quick (smoke run: sizes too small to measure anything)' if self.quick else ''}",
                 f"torch {p.get('torch')}, sympy {p.get('sympy')}, numpy {p.get('numpy')}, scipy {p.get('scipy') or '-'}; "
                 f"device {p.get('device')} ({p.get('device_name')}); {p.get('threads')} torch threads on "
                 f"{p.get('cpu_count')} CPUs ({p.get('cpu_model')}); load average {p.get('load_before')} -> {p.get('load_after')}",
                 "ratio: speedup = baseline/measured (higher is better), cost = measured/baseline (lower is better)", ""]
        header = ("name", "measured", "baseline", "ratio", "goal", "met")
        for group in self.groups:
            rows = self.group_rows(group)
            if not rows:
                continue
            table = []
            for r in rows:
                ratio = r.ratio
                ratio_text = "-" if ratio is None else f"{_num(ratio)}× {'faster' if r.ratio_kind == 'speedup' else 'cost'}"
                met = {True: "yes", False: "NO", None: ""}[r.met]
                measured = "-" if r.measured is None else f"{_num(r.measured)} {r.unit}"
                baseline = "-" if r.baseline is None else f"{_num(r.baseline)} {r.unit} ({r.baseline_name})"
                name = r.name + (f" [{r.note}]" if r.note else "")
                table.append((name, measured, baseline, ratio_text, r.goal_text, met))
            widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(header)]
            lines.append(f"== {group}")
            lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
            lines.append("  ".join("-" * w for w in widths))
            lines += ["  ".join(c.ljust(w) for c, w in zip(t, widths)).rstrip() for t in table]
            lines.append("")
        met = sum(r.met is True for r in self.rows)
        missed = sum(r.met is False for r in self.rows)
        lines.append(f"goals met: {met}, missed: {missed} (rows marked NO)")
        return "\n".join(lines)
