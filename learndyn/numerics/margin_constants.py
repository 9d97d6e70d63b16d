r"""Large constants of the deep (``L ≥ 3``) margin dynamics, computed in mpmath from the exact float64 inputs and
returned as expansions of float64s ``C_0 + C_1 + C_2`` (``|C_{j+1}| ≤ ulp(C_j)``), once per distinct input.

From a tiny start the time to a margin is a huge constant that depends on ``m0`` only, plus a moderate function of
``m``; where ``t`` is close to that constant the inverse ``m(t)`` is ill conditioned in float64 (the condition number
is ``~(m/m0)^{1−2/L}``, up to ~1e11 at ``m0 = 1e-12``), and ``t − C`` must be formed from more digits of ``C`` than
float64 holds. With ``a = 2/L − 1 < 0`` and ``κ = p r^{2/L}``:

* hinge: ``t∞ = m0^a/(|a| L κ)``, the time at which the power law ``m^a = m0^a − |a| L κ t`` would blow up;
* logistic: ``C = [2 m0^a/|a| − H_a(m0)]/(Lκ)``, ``H_a(x) = x^{a+1}/(a+1) ₂F₂(1, a+1; 2, a+2; x)``.
"""
from __future__ import annotations

import mpmath
import torch

__all__ = ["hinge_blowup_time", "logistic_shift"]

_PARTS = 3
_DPS = 60


def _expansion(values: list) -> list[list[float]]:
    rows = []
    for v in values:
        parts = []
        for _ in range(_PARTS):
            f = float(v)
            parts.append(f)
            v = v - f
        rows.append(parts)
    return rows


def _per_point(fn, *tensors: torch.Tensor) -> torch.Tensor:
    """``fn`` (mpmath, of the exact inputs) at each distinct row of the 1-d ``tensors``, as ``(n, 3)`` float64."""
    stacked = torch.stack([t.detach().to("cpu", torch.float64) for t in tensors], -1)
    uniq, inv = torch.unique(stacked, dim=0, return_inverse=True)
    with mpmath.workdps(_DPS):
        values = [fn(*(mpmath.mpf(v) for v in row)) for row in uniq.tolist()]
        rows = _expansion(values)
    return torch.tensor(rows, dtype=torch.float64)[inv].to(tensors[0].device)


def hinge_blowup_time(m0: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``t∞ = m0^a/(|a| L p r^{2/L})`` (``depth ≥ 3``) as ``(n, 3)`` float64 expansions (1-d inputs)."""
    def fn(m0_, p_, r_):
        a = mpmath.mpf(2) / depth - 1          # at the working precision (_DPS digits), not mpmath's default 15
        return m0_**a / (-a * depth * p_ * r_ ** (mpmath.mpf(2) / depth))

    return _per_point(fn, m0, p, r)


def logistic_shift(m0: torch.Tensor, p: torch.Tensor, r: torch.Tensor, depth: int) -> torch.Tensor:
    r"""``C = [2 m0^a/|a| − H_a(m0)]/(L p r^{2/L})`` (``depth ≥ 3``) as ``(n, 3)`` float64 expansions (1-d inputs)."""
    def fn(m0_, p_, r_):
        a = mpmath.mpf(2) / depth - 1          # at the working precision (_DPS digits), not mpmath's default 15
        h = m0_ ** (a + 1) / (a + 1) * mpmath.hyp2f2(1, a + 1, 2, a + 2, m0_)
        return (2 * m0_**a / (-a) - h) / (depth * p_ * r_ ** (mpmath.mpf(2) / depth))

    return _per_point(fn, m0, p, r)
