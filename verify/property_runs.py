"""What the hand-written claim checks share: running a property over hypothesis examples, and asserting that GD's
error is first order in ``lr`` with a Richardson extrapolation within tolerance.

Claims (qualitative statements, kind 6) are properties of the theory and the simulation together ("the time does not
grow with depth"), so unlike results they are checked by one function each, ``check(config) -> Check``, listed in
their family's ``CLAIM_CHECKS`` (``learndyn.verify.families``). A claim that also asserts the simulation follows the
theory uses :class:`ConvergenceRecord` and :func:`assert_first_order` (GD is the Euler method of the flow: runs at
``lr`` and ``lr/2``, the error ratio ``e(lr)/e(lr/2)`` in ``ORDER_RANGE``, Richardson ``2u(lr/2) − u(lr)`` within
``RICHARDSON_TOL`` of the mode's scale).
"""
from __future__ import annotations

from typing import Callable

import torch
from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings

from learndyn.verify.report import Check
from learndyn.verify.tier_b.comparison import ROUND_OFF, Richardson

__all__ = ["RICHARDSON_TOL", "ORDER_RANGE", "run_examples", "ConvergenceRecord", "assert_first_order", "convergence_row"]

#: tier b's Richardson comparison's defaults: the claims hold GD to the same standard
RICHARDSON_TOL = Richardson.tol
ORDER_RANGE = Richardson.order


def run_examples(strategy, body: Callable, config, batches: int) -> str | None:
    """Run ``body`` on ``batches`` hypothesis examples of ``strategy`` (seeded by ``config.seed``, generation only);
    return the first assertion's message, or ``None``."""
    failure: list[str] = []

    @settings(max_examples=batches, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(strategy)
    def prop(example):
        body(example)

    try:
        hyp_seed(config.seed)(prop)()
    except AssertionError as exc:
        failure.append(str(exc).splitlines()[0])
    return failure[0] if failure else None


class ConvergenceRecord:
    """The worst errors seen over a claim's runs: Richardson-extrapolated, first-order, and the order ratios."""

    def __init__(self) -> None:
        self.richardson = 0.0
        self.first_order = 0.0
        self.order_ratios: list[float] = []
        self.configs = 0


def assert_first_order(name: str, e1: torch.Tensor, e2: torch.Tensor, eR: torch.Tensor, record: ConvergenceRecord) -> None:
    """``e1``, ``e2``, ``eR``: per-configuration max errors (scaled) at ``lr``, ``lr/2`` and after Richardson
    extrapolation; the order is judged only where the first-order term dominates (not where it happens to vanish)."""
    record.configs += e1.numel()
    record.richardson = max(record.richardson, float(eR.max()))
    record.first_order = max(record.first_order, float(e1.max()))
    resolved = (e2 > ROUND_OFF * 100) & (e2 > 10 * eR)
    if bool(resolved.any()):
        ratios = e1[resolved] / e2[resolved]
        record.order_ratios += ratios.tolist()
        lo, hi = ORDER_RANGE
        bad = (ratios < lo) | (ratios > hi)
        if bool(bad.any()):
            raise AssertionError(f"{name}: GD error is not first order in lr: e(lr)/e(lr/2) = {ratios[bad][0]:.3f} not in {ORDER_RANGE}")
    if float(eR.max()) > RICHARDSON_TOL:
        i = int(eR.argmax())
        raise AssertionError(f"{name}: Richardson-extrapolated GD differs from the theory by {float(eR.max()):.3g} "
                             f"(> {RICHARDSON_TOL}) in configuration {i} (first-order error there {float(e1[i]):.3g})")


def convergence_row(name: str, record: ConvergenceRecord, failure: str | None) -> Check:
    """The verification row of a claim that asserted convergence."""
    ratios = record.order_ratios
    return Check(name=name, tier="claim", examples=record.configs, worst=record.richardson,
                 tolerance=RICHARDSON_TOL, measure="max |2u(lr/2)-u(lr)-theory| / scale",
                 passed=failure is None, failure=failure,
                 details={"worst_first_order_error": record.first_order,
                          "order_ratio_range": [min(ratios), max(ratios)] if ratios else None})
