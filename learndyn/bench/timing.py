"""Timing: the first call (which compiles, where something compiles) timed on its own, warm-up calls, then the
median of repeated calls; CUDA is synchronised before every clock read."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

__all__ = ["Timing", "measure", "synchronize"]


def synchronize(device: str | torch.device | None) -> None:
    """Wait for queued work on ``device`` (a no-op on the CPU)."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Timing:
    """Seconds: ``first`` (the first call, with any compilation) and ``samples`` (repeats after warm-up)."""

    first: float
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def compile_seconds(self) -> float:
        """What the first call cost beyond a warm one (the compile time, where the first call compiles)."""
        return max(0.0, self.first - self.median)

    def to_json(self) -> dict:
        return {"first_s": self.first, "median_s": self.median, "samples_s": list(self.samples)}


def measure(fn: Callable[[], Any], *, repeats: int, warmup: int = 1, device: str | torch.device | None = None,
            budget: float | None = 20.0) -> Timing:
    """Time ``fn()``: the first call, ``warmup`` untimed calls, then ``repeats`` timed calls; where the first call
    says warm-up and repeats would take more than ``budget`` seconds, no warm-up and at least 3 repeats."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    first = time.perf_counter() - start
    if budget is not None and first * (warmup + repeats) > budget and repeats > 3:
        warmup, repeats = 0, max(3, min(repeats, int(budget / max(first, 1e-9))))
    for _ in range(warmup):
        fn()
    synchronize(device)
    samples = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        synchronize(device)
        samples.append(time.perf_counter() - start)
    return Timing(first, tuple(samples))
