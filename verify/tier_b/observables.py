"""Observables read off recorded trajectories."""
from __future__ import annotations

import math
from typing import Callable

import torch

__all__ = ["crossing_time", "logit_between"]


def crossing_time(t: torch.Tensor, a: torch.Tensor, level: torch.Tensor, transform: Callable) -> torch.Tensor:
    """First time ``a`` (recorded at times ``t`` along axis 0) reaches ``level``, interpolated linearly in
    ``transform(a)`` (a logit for a sigmoidal curve, a log for exponential growth, in which the curve is nearly
    linear in ``t``, so the interpolation error stays far below any tolerance), NaN where never."""
    above = a >= level
    idx = above.to(torch.int64).argmax(0).clamp(min=1)
    a1 = a.gather(0, idx.unsqueeze(0)).squeeze(0)
    a0 = a.gather(0, (idx - 1).unsqueeze(0)).squeeze(0)
    g0, g1, gl = transform(a0), transform(a1), transform(level)
    out = t[idx - 1] + (t[idx] - t[idx - 1]) * (gl - g0) / (g1 - g0)
    return torch.where(above.any(0), out, torch.full_like(out, math.nan))


def logit_between(s: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v ↦ ln(v/(s − v))``, clamped inside ``(0, s)``: the coordinate in which a logistic mode is linear in t."""
    def logit(v: torch.Tensor) -> torch.Tensor:
        v = torch.minimum(v.clamp(min=1e-300), s * (1 - 1e-12))
        return torch.log(v / (s - v))
    return logit
