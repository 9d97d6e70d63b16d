"""Benchmark inputs: points drawn from each result's declared test ranges (the ranges hypothesis draws from in the
closed-form tier), as float64 tensors.

Two layouts: ``axis`` (one parameter takes ``n`` values, the others one value each, the way a trajectory over
time or a sweep of one hyperparameter is evaluated) and ``scattered`` (every real parameter takes ``n`` values).
The axis is the first real parameter that no other parameter's draw depends on (``t`` for the trajectories).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from learndyn.domain import IntParam

__all__ = ["draw", "axis_of", "int_value"]


def _between_cls():
    from learndyn.derive.declaration import Between

    return Between


def axis_of(result) -> str:
    """The parameter an ``axis`` layout varies: the first real one that is no anchor of another's draw."""
    Between = _between_cls()
    anchors = {a for p in result.params if isinstance(p.test, Between) for a in p.test.anchors}
    reals = [p.name for p in result.params if p.kind == "real"]
    free = [n for n in reals if n not in anchors]
    return free[0] if free else reals[0]


def int_value(param) -> int:
    """The value an integer parameter takes in a benchmark: 4, kept inside its test (or domain) range."""
    spec = param.test if isinstance(param.test, IntParam) else param.domain
    hi = spec.hi if spec.hi is not None else 10**9
    return int(min(max(4, spec.lo), hi))


def _interval(param, rng: np.random.Generator, n: int) -> np.ndarray:
    spec = param.test if param.test is not None else param.domain
    lo, hi = spec.lo, spec.hi
    if not math.isfinite(lo) or not math.isfinite(hi):  # no finite test range: a unit interval inside the domain
        lo = lo if math.isfinite(lo) else min(-1.0, hi - 1.0)
        hi = hi if math.isfinite(hi) else max(1.0, lo + 1.0)
    if param.log and lo > 0:
        return 10 ** rng.uniform(math.log10(lo), math.log10(hi), n)
    if param.log and lo < 0:
        mag = 10 ** rng.uniform(-3, math.log10(max(abs(lo), abs(hi))), n)
        return np.where(rng.random(n) < 0.5, mag, -mag)
    return rng.uniform(lo, hi, n)


def draw(result, n: int, *, layout: str = "axis", seed: int = 0, device: str = "cpu",
         choices: dict | None = None) -> dict:
    """Keyword arguments for ``result``'s function: ``n`` points of the test ranges in the given layout (tensors of
    shape ``(n,)`` for the varied parameters, 0-d tensors for the others), integers from :func:`int_value`,
    categorical values from ``choices`` (default: the first choice)."""
    Between = _between_cls()
    rng = np.random.default_rng(seed)
    axis = axis_of(result)
    counts = {p.name: (n if layout == "scattered" or p.name == axis else 1) for p in result.params if p.kind == "real"}
    values: dict = {}
    for p in result.params:
        if p.kind == "real" and not isinstance(p.test, Between):
            values[p.name] = _interval(p, rng, counts[p.name])
    for p in result.params:
        if p.kind == "real" and isinstance(p.test, Between):
            spec = p.test
            size = max([counts[p.name]] + [len(values[a]) for a in spec.anchors])
            a = values[spec.a] if isinstance(spec.a, str) else spec.a
            b = values[spec.b] if isinstance(spec.b, str) else spec.b
            f = spec.lo + (spec.hi - spec.lo) * rng.uniform(0.01, 0.99, size)
            v = a + (b - a) * f
            for name in spec.scale:  # as the proof points: just inside the range (c² < q1 q2)
                v = v * np.sqrt(values[name])
            v = v * (1 - 1e-12) if spec.scale else v
            values[p.name] = np.broadcast_to(v, (size,)).copy()
    out: dict = {}
    for p in result.params:
        if p.kind == "real":
            v = torch.as_tensor(values[p.name], dtype=torch.float64, device=device)
            out[p.name] = v.reshape(()) if counts[p.name] == 1 and v.numel() == 1 else v
        elif p.kind == "int":
            out[p.name] = int_value(p)
        elif p.kind == "choice":
            out[p.name] = (choices or {}).get(p.name, p.domain.choices[0])
        else:
            raise ValueError(f"{result.name}: parameter {p.name} of kind {p.kind} has no benchmark draw")
    return out
