"""``run_bench``: the chosen groups on one device, into a :class:`~learndyn.bench.report.BenchReport`."""
from __future__ import annotations

import dataclasses
import sys
from typing import Callable, Iterable

from learndyn.bench.provenance import load_average, provenance
from learndyn.bench.report import GROUPS, BenchReport, Row

__all__ = ["run_bench"]


def _runners() -> dict[str, Callable[..., list[Row]]]:
    from learndyn.bench.closed_forms import run_closed_forms
    from learndyn.bench.derivation import run_derive
    from learndyn.bench.kernels import run_kernels
    from learndyn.bench.simulation import run_simulation
    from learndyn.bench.similarity import run_similarity
    from learndyn.bench.solvers import run_solvers

    return {"closed_forms": run_closed_forms, "solvers": run_solvers, "kernels": run_kernels, "simulation": run_simulation,
            "similarity": run_similarity, "derive": run_derive}


def _stderr_progress(label: str) -> None:
    print(f"[bench] {label}", file=sys.stderr, flush=True)


def run_bench(groups: Iterable[str] | None = None, *, device: str = "cpu", quick: bool = False,
              progress: Callable[[str], None] | None = None) -> BenchReport:
    """Run the benchmark ``groups`` (default: all of :data:`~learndyn.bench.report.GROUPS`) on ``device``.

    Every figure is a ratio against a baseline measured in the same run (medians of repeats after warm-up; the
    first call, which compiles where something compiles, is timed apart). ``quick`` runs tiny sizes once (a smoke
    run for tests: seconds, and no goals are judged on it). ``progress`` gets a label per step (default: stderr
    when it is a terminal)."""
    chosen = tuple(GROUPS) if not groups else tuple(groups)
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown benchmark group(s) {unknown}; known: {', '.join(GROUPS)}")
    if progress is None and sys.stderr.isatty():
        progress = _stderr_progress
    prov = provenance(device)
    prov["quick"] = quick
    runners = _runners()
    rows: list[Row] = []
    for group in GROUPS:
        if group in chosen:
            rows += runners[group](device=device, quick=quick, progress=progress)
    if quick:  # tiny sizes measure overheads, not the goals
        rows = [dataclasses.replace(r, goal=None) for r in rows]
    prov["load_after"] = load_average()
    return BenchReport(rows, prov, tuple(g for g in GROUPS if g in chosen), quick)
