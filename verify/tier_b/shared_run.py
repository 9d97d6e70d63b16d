"""One simulation observed by several checks: ``SharedRun(run, observe)`` as a check's ``simulate``.

``run(case, sizes, device)`` simulates (the expensive part, anything it returns); ``observe(output, case, sizes,
device)`` turns that output into the check's :class:`~learndyn.verify.tier_b.Measurement`. Checks that declare the same
``run`` function share its output case by case within a :class:`~learndyn.verify.tier_b.MeasurementCache` (the
dropout expectation and its bound observe one set of hitting times; the four correlation results one set of sampled
maps), so no family keeps a cache of its own, and a test that patches a simulator needs no cache cleared. Called
directly, outside a verification, it simply runs and observes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from learndyn.verify.tier_b.measurement import Measurement

__all__ = ["SharedRun"]


@dataclass(frozen=True)
class SharedRun:
    """``simulate = SharedRun(run, observe)``: ``observe(run(case, sizes, device), case, sizes, device)``, with
    ``run``'s output shared between the checks that declare the same ``run``."""

    run: Callable[[Mapping[str, Any], Mapping[str, Any], str], Any]
    observe: Callable[[Any, Mapping[str, Any], Mapping[str, Any], str], Measurement | Sequence[Measurement]]

    def __call__(self, case, sizes, device) -> Measurement | Sequence[Measurement]:
        return self.observe(self.run(case, sizes, device), case, sizes, device)
