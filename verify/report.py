"""A verification outcome: one row per (result or claim, tier), printed as a table or JSON."""
from __future__ import annotations

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
        """A JSON-safe dict (NaN, for a check that measured nothing, becomes ``None``)."""
        out = asdict(self)
        for key in ("worst", "tolerance"):
            if out[key] != out[key]:
                out[key] = None
        return out


def format_table(checks: list[Check]) -> str:
    head = ("result / claim", "tier", "examples", "worst", "tolerance", "measure", "")
    rows = [head] + [
        (c.name, c.tier, str(c.examples), f"{c.worst:.3g}", f"{c.tolerance:.3g}", c.measure, "ok" if c.passed else "FAIL")
        for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for c in checks:
        if c.failure:
            lines.append(f"FAIL {c.name} [{c.tier}]: {c.failure}")
    return "\n".join(lines)
