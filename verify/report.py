"""A verification outcome: one row per (result or claim, tier), printed as a table or JSON."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = ["Check", "format_table"]


@dataclass
class Check:
    """One verification: ``worst`` is the worst error measured, ``tolerance`` the bound it must stay
    within (``worst <= tolerance`` passes), both in the unit ``measure`` names."""

    name: str
    tier: str
    examples: int
    worst: float
    tolerance: float
    measure: str
    passed: bool
    failure: str | None = None
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-safe dict: a value that is not finite (NaN for a check that measured nothing, inf for a theory
        that crashed or a deviation beyond any tolerance) becomes ``None``; ``failure`` says which."""
        out = asdict(self)
        for key in ("worst", "tolerance"):
            if not math.isfinite(out[key]):
                out[key] = None
        return out


def format_table(checks: list[Check]) -> str:
    """One line per check: status, result or claim, tier, configurations, worst error and tolerance; what the
    errors measure is listed once below the table (``[1]``, ``[2]``, …) so the table stays narrow."""
    measures: list[str] = []
    for c in checks:
        if c.measure not in measures:
            measures.append(c.measure)
    head = ("status", "result / claim", "tier", "n", "worst", "tolerance", "measure")
    rows = [head] + [
        ("ok" if c.passed else "FAIL", c.name, c.tier, str(c.examples), f"{c.worst:.3g}", f"{c.tolerance:.3g}",
         f"[{measures.index(c.measure) + 1}]")
        for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [""] + [f"[{i + 1}] {m}" for i, m in enumerate(measures)]
    failures = [f"FAIL {c.name} [{c.tier}]: {c.failure}" for c in checks if c.failure]
    if failures:
        lines += [""] + failures
    return "\n".join(lines)
