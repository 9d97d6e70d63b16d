"""How far simulation is from theory in a figure, in units of a tolerance the simulation justifies.

Every figure's data carries ``"agreement"``: a list of records, one per compared quantity, each saying what was
compared, how its tolerance is built, and the worst ``|deviation| / tolerance`` over its points (``≤ 1`` means
theory and simulation agree). The tolerances are of three kinds, all set by the simulation, never by the theory:

* **statistical** (several runs): ``K_SE = 5`` standard errors of the mean deviation over independent runs
  (networks, replicas, dropout runs), plus any known systematic bias (finite width, first order in ``lr``);
  with 15 or more degrees of freedom a single point exceeds 5 SE by chance with probability ≤ 1.6e-4;
* **discretisation** (deterministic gradient descent, the Euler method for the gradient flow): the run at ``lr``
  is repeated at ``lr/2`` (twice the steps, the same flow times), which estimates the first-order error
  ``e(lr) ≈ 2 (u(lr) − u(lr/2))``; the points at ``lr`` may deviate by ``EULER_MARGIN · |u(lr) − u(lr/2)|``
  (``e(lr)`` with a 50 % margin) plus ``RICHARDSON_TOL`` of the curve's scale, and the Richardson extrapolation
  ``2 u(lr/2) − u(lr)``, which removes the first-order term, must be within ``RICHARDSON_TOL`` of the scale —
  so a 1 % error in the theory fails;
* **asymptotic laws** (theory-only figures): a relative tolerance on a fitted exponent, stated with the size of
  the subleading corrections it must absorb.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["K_SE", "EULER_MARGIN", "RICHARDSON_TOL", "compare", "bound", "euler", "worst_ratio", "summary"]

K_SE = 5.0
EULER_MARGIN = 3.0
RICHARDSON_TOL = 1e-3


def _flat(v) -> torch.Tensor:
    return torch.as_tensor(v, dtype=torch.float64).detach().cpu().reshape(-1)


def _record(quantity: str, how: str, dev: torch.Tensor, tol: torch.Tensor, ratio: torch.Tensor,
            labels: Sequence[str] | None) -> dict:
    ratio = torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)
    i = int(torch.argmax(ratio)) if ratio.numel() else 0
    worst = float(ratio[i]) if ratio.numel() else 0.0
    return dict(quantity=quantity, tolerance=how, points=int(ratio.numel()), worst_ratio=worst,
                worst_deviation=float(dev[i]) if dev.numel() else 0.0,
                tolerance_at_worst=float(tol[i]) if tol.numel() else 0.0,
                where=(labels[i] if labels is not None and ratio.numel() else str(i)))


def compare(quantity: str, deviation, tolerance, *, how: str, labels: Sequence[str] | None = None) -> dict:
    """Record ``|deviation| / tolerance`` (elementwise, broadcast; ``0/0`` counts as 0, ``x/0`` as ``inf``)."""
    dev = _flat(deviation)
    tol = _flat(tolerance)
    dev, tol = torch.broadcast_tensors(dev, tol)
    a = dev.abs()
    ratio = torch.where(tol > 0, a / tol.clamp_min(1e-300), torch.where(a > 0, math.inf, 0.0))
    return _record(quantity, how, dev, tol, ratio, labels)


def bound(quantity: str, excess, tolerance, *, how: str, labels: Sequence[str] | None = None) -> dict:
    """Record a one-sided check ``value ≤ bound``: ``excess = value − bound``, ratio ``max(excess, 0) / tolerance``."""
    dev = _flat(excess)
    tol = _flat(tolerance)
    dev, tol = torch.broadcast_tensors(dev, tol)
    a = dev.clamp_min(0.0)
    ratio = torch.where(tol > 0, a / tol.clamp_min(1e-300), torch.where(a > 0, math.inf, 0.0))
    return _record(quantity, how, dev, tol, ratio, labels)


def euler(quantity: str, u_lr, u_half, theory, scale, *, labels: Sequence[str] | None = None) -> list[dict]:
    """The two discretisation records (module docstring) for deterministic GD runs at ``lr`` and ``lr/2`` recorded
    at the same flow times: the plotted points ``u(lr)`` against the theory, and the Richardson extrapolation."""
    u_lr, u_half, th, sc = (_flat(v) for v in torch.broadcast_tensors(*(torch.as_tensor(v, dtype=torch.float64)
                                                                          for v in (u_lr, u_half, theory, scale))))
    first_order = EULER_MARGIN * (u_lr - u_half).abs() + RICHARDSON_TOL * sc
    return [
        compare(f"{quantity}: GD at lr", u_lr - th, first_order, labels=labels,
                how=f"{EULER_MARGIN:g}·|u(lr) − u(lr/2)| (first-order GD error, 50 % margin) + "
                    f"{RICHARDSON_TOL:g}·scale"),
        compare(f"{quantity}: Richardson 2u(lr/2) − u(lr)", 2 * u_half - u_lr - th, RICHARDSON_TOL * sc,
                labels=labels, how=f"{RICHARDSON_TOL:g}·scale (the O(lr²) remainder)"),
    ]


def worst_ratio(data: dict) -> float:
    """The largest ``worst_ratio`` over a figure's agreement records (0 when it has none)."""
    return max((a["worst_ratio"] for a in data.get("agreement", ())), default=0.0)


def summary(data: dict) -> str:
    """One line per agreement record: quantity, worst ratio, where, and how the tolerance is built."""
    return "\n".join(f"{a['quantity']}: worst |dev|/tol = {a['worst_ratio']:.3g} at {a['where']} "
                     f"(dev {a['worst_deviation']:.3g}, tol {a['tolerance_at_worst']:.3g}; tol = {a['tolerance']})"
                     for a in data.get("agreement", ()))
