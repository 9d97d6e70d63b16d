"""An axis of a validity map: one hyperparameter swept past a simulation check's range.

An :class:`Axis` is declared on a :class:`~learndyn.verify.tier_b.SimulationCheck` (``axes=``) and says where its
value goes — an entry of the simulation's ``sizes`` (``width``; ``lr_lambda``, the run's ``lr`` times the largest
Hessian eigenvalue at the optimum) or a parameter of the case (set on the case itself, on every point of a batched
case, or on every element of a per-configuration list) — where the sweep starts (the check's own setting), which
way the theory is expected to break down (``grows``: the deviation grows with the value, as for ``lr``; or shrinks,
as for the width), how far it may go, and the theory of the breakdown where there is one: a stability ``limit`` on
the axis with a simulation ``diverges`` probe, and a first-order ``predicted`` deviation.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["Axis", "lr_axis", "width_axis", "apply_axis", "AXIS_KINDS"]

AXIS_KINDS = ("sizes", "case")


@dataclass(frozen=True)
class Axis:
    """One sweepable hyperparameter of a simulation check.

    * ``name``: what ``learndyn validity --over`` calls it (``lr``, ``width``, ``depth``, ``u0``);
    * ``key``, ``kind``: where the value goes, ``sizes[key]`` or the case's parameter ``key``;
    * ``label``: the axis in words and symbols (``lr·λ_max``), for the table and the figure;
    * ``start``: the check's own setting, where the sweep starts (a case axis: ``None``, the case's value);
    * ``grows``: ``True`` where the theory's assumption breaks down as the value grows (a learning rate), ``False``
      where it does as the value falls (a width);
    * ``lo``, ``hi``: the sweep's bounds; ``integer``: round every value to an integer;
    * ``limit``: where the theory says the simulation stops converging (``lr·λ_max = 2``), ``diverges``:
      ``(case, value, device) -> bool``, the simulation's own answer (any configuration fails to converge);
    * ``predicted``: ``(measurement, value) -> tensor``, the deviation the theory of the breakdown predicts per
      configuration (GD's first-order ``c·lr``; a ``1/N`` correction), in the units of the measured deviation;
      ``predicted_by``: that theory in words;
    * ``along``: the extrapolation of the check that runs along this axis and would hide what the map measures,
      ``"lr"`` (Richardson's ``2u(lr/2) − u(lr)``) or ``"size"`` (the fit in ``1/N``): the map undoes that one and
      keeps any other (an lr map of a check extrapolated in ``1/N`` compares the extrapolated deviation, so the
      finite size does not mix into it); ``None`` undoes none.
    """

    name: str
    key: str
    kind: str = "sizes"
    label: str = ""
    start: float | None = None
    grows: bool = True
    lo: float = 0.0
    hi: float = math.inf
    integer: bool = False
    limit: float | None = None
    diverges: Callable[[Mapping[str, Any], float, str], bool] | None = None
    predicted: Callable[[Any, float], Any] | None = None
    predicted_by: str = ""
    along: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in AXIS_KINDS:
            raise ValueError(f"axis {self.name}: kind {self.kind!r} is not one of {', '.join(AXIS_KINDS)}")
        if not self.lo < self.hi:
            raise ValueError(f"axis {self.name}: lo = {self.lo} must be below hi = {self.hi}")

    @property
    def text(self) -> str:
        """The axis' label, or its name where it has none."""
        return self.label or self.name

    def rounded(self, value: float) -> float:
        """``value`` inside ``[lo, hi]``, an integer for an integer axis."""
        value = min(max(value, self.lo), self.hi)
        return float(round(value)) if self.integer else float(value)


def lr_axis(*, start: float, predicted: Callable | None = None, predicted_by: str = "",
            diverges: Callable | None = None, hi: float = 4.0) -> Axis:
    """The learning-rate axis of a gradient-descent check: ``sizes["lr_lambda"]``, the run's ``lr`` times the largest
    eigenvalue of the loss' Hessian at the optimum (the simulator sets ``lr = lr_lambda/λ_max`` exactly where it is
    given); GD leaves the flow at first order in it and stops converging at ``lr·λ_max = 2``."""
    return Axis("lr", "lr_lambda", "sizes", "lr·λ_max", start=start, grows=True, lo=1e-4, hi=hi, limit=2.0,
                diverges=diverges, predicted=predicted, predicted_by=predicted_by, along="lr")


def width_axis(*, start: float, lo: float = 2.0, key: str = "width", predicted: Callable | None = None,
               predicted_by: str = "") -> Axis:
    """The width axis of an infinite-width result: ``sizes[key]`` (hidden units per layer), swept down from the
    check's width."""
    return Axis("width", key, "sizes", "width N", start=start, grows=False, lo=lo, hi=max(start, lo + 1), integer=True,
                predicted=predicted, predicted_by=predicted_by, along="size")


def _set(container: Any, key: str, value: float) -> bool:
    """Set ``key`` to ``value`` in a dict, on each of a list of dicts, or on every element of a (nested) list
    stored under ``key``; whether anything was set."""
    if isinstance(container, dict):
        found = False
        if key in container:
            container[key] = _fill(container[key], value)
            found = True
        for sub in container.values():
            if isinstance(sub, list) and sub and isinstance(sub[0], dict):
                found = any([_set(p, key, value) for p in sub]) or found
        return found
    return False


def _fill(old: Any, value: float) -> Any:
    if isinstance(old, (list, tuple)):
        return type(old)(_fill(v, value) for v in old)
    return int(value) if isinstance(old, int) and not isinstance(old, bool) and float(value).is_integer() else value


def apply_axis(axis: Axis, case: Mapping[str, Any], sizes: Mapping[str, Any], value: float) -> tuple[dict, dict]:
    """The case and sizes of one point of the sweep (copies; the declaration's are never changed)."""
    case, sizes = copy.deepcopy(dict(case)), dict(sizes)
    value = axis.rounded(value)
    if axis.kind == "sizes":
        number = int(value) if axis.integer else value
        old = sizes.get(axis.key)
        # a size per option (a width per activation) takes the one value for all
        sizes[axis.key] = {k: number for k in old} if isinstance(old, dict) else number
    elif not _set(case, axis.key, value):
        raise KeyError(f"axis {axis.name}: the case has no parameter {axis.key!r} (it has {', '.join(case)})")
    return case, sizes
