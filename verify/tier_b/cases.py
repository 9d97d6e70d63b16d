"""Cases that carry a batch of configurations, and pinned representative points, built from the declared ranges.

One case can hold a whole batch of hyperparameters (trained in one tensor program): ``batch_strategy`` draws
``batch`` points of a result's simulation ranges and a seed; ``pinned_batch`` spreads a batch deterministically
over the same ranges (each parameter takes its low end, geometric or arithmetic middle and high end equally
often, in a fixed shuffled order per parameter, so corners and interiors both appear) — the representative
points every run starts with, not hypothesis' minimal corner.
"""
from __future__ import annotations

import math
import random
from typing import Any, Sequence

import torch
from hypothesis import strategies as st

from learndyn.domain import ChoiceParam, Interval, IntParam

__all__ = ["batch_strategy", "pinned_batch", "columns", "sim_levels"]


def batch_strategy(result, only: Sequence[str], batch: int, **options) -> Any:
    """A case ``{"points": [batch dicts], "seed": int, **options}`` drawn from ``result``'s simulation ranges."""
    from learndyn.verify.strategies import point_strategy

    points = st.lists(point_strategy(result, "sim", only=tuple(only)), min_size=batch, max_size=batch)
    return st.fixed_dictionaries({"points": points, "seed": st.integers(0, 2**31 - 1), **options})


def sim_levels(param) -> list:
    """Low end, middle and high end of a parameter's simulation range (its choices, for a categorical one)."""
    spec = param.sim if param.sim is not None else param.domain
    if isinstance(spec, ChoiceParam):
        return list(spec.choices)
    if isinstance(spec, IntParam):
        hi = spec.hi if spec.hi is not None else spec.lo + 4
        return sorted({spec.lo, (spec.lo + hi) // 2, hi})
    assert isinstance(spec, Interval)
    lo, hi = spec.lo, spec.hi
    mid = math.sqrt(lo * hi) if param.log and lo > 0 else 0.5 * (lo + hi)
    return [float(lo), float(mid), float(hi)]


def pinned_batch(result, only: Sequence[str], batch: int) -> list[dict]:
    """``batch`` points spread over the simulation ranges of the parameters ``only`` (see the module docstring); a
    parameter whose simulation range lies between anchors (:class:`~learndyn.derive.declaration.Between`, ``margin``
    between 0 and ``s``) takes the fractions ¼, ½, ¾ of its range between them."""
    from learndyn.derive.declaration import Between

    dependent = [n for n in only if isinstance(result.param(n).sim, Between)]
    columns_of = {}
    for j, name in enumerate(only):
        vals = [0.25, 0.5, 0.75] if name in dependent else sim_levels(result.param(name))
        column = [vals[i % len(vals)] for i in range(batch)]
        random.Random(j).shuffle(column)  # a fixed Latin-hypercube-like design: each level equally often
        columns_of[name] = column
    points = [{name: columns_of[name][i] for name in only if name not in dependent} for i in range(batch)]
    for point, i in zip(points, range(batch)):
        for name in dependent:
            point[name] = result.param(name).sim.value(point, columns_of[name][i])
    return [{name: point[name] for name in only} for point in points]


def columns(points: Sequence[dict], device: str) -> dict[str, torch.Tensor]:
    """A batch of points as float64 columns on ``device``."""
    return {k: torch.tensor([float(p[k]) for p in points], dtype=torch.float64, device=device) for k in points[0]}
