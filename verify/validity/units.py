"""The unit of work of a validity map: one simulation of one case at one value of the swept axis.

A :class:`WorkUnit` is plain data (names, a case, sizes, a device: picklable, printable), and
:func:`evaluate_unit` is a top-level function of it alone, so the units of a sweep can be handed to any executor —
the default runs them here, one after another; a process pool or a cluster engine's ``map`` runs them unchanged.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

__all__ = ["WorkUnit", "Evaluation", "evaluate_unit", "resolve", "serial_map", "FINE_RUN"]

#: the size a Richardson check's simulation receives as ``False`` in a validity map: the map compares the run at
#: ``lr`` itself, so the run at ``lr/2`` may be skipped (a simulator that ignores it only does more work)
FINE_RUN = "fine_run"


@dataclass(frozen=True)
class WorkUnit:
    """Simulate case ``case`` of the ``check``-th declared check of ``result`` with ``sizes`` on ``device``, the axis
    ``axis`` at ``value``; ``probe``: ``"deviation"`` (compare with the theory) or ``"divergence"`` (the axis' own
    convergence probe). ``module``/``out_dir``: a user's family (its module and its generated folder)."""

    result: str
    check: int
    axis: str
    value: float
    case: Mapping[str, Any]
    sizes: Mapping[str, Any]
    device: str = "cpu"
    probe: str = "deviation"
    module: str | None = None
    out_dir: str | None = None


@dataclass
class Evaluation:
    """What one unit measured: the worst configuration's deviation and standard error, the deviation the axis'
    theory predicts there (``nan`` without one), whether the run diverged, and the simulation's error if it raised."""

    unit: WorkUnit
    deviation: float = math.nan
    se: float = 0.0
    predicted: float = math.nan
    diverged: bool = False
    configurations: int = 0
    error: str | None = None
    values: list[float] = field(default_factory=list)


@functools.lru_cache(maxsize=None)
def resolve(result: str, check: int, module: str | None = None, out_dir: str | None = None):
    """``(check, theory, declaration)`` of a built-in result, or of a user's (``module``, ``out_dir``)."""
    if module is None:
        import learndyn
        from learndyn.derive.registry import declaration
        from learndyn.verify.families import simulations

        checks = simulations().get(result, ())
        theory, decl = learndyn.function(result, check=False), declaration(result)
    else:
        from learndyn.verify.families import simulations_of_module
        from learndyn.verify.runner import _user_family

        family, user_module, generated = _user_family(module, out_dir)
        checks = simulations_of_module(user_module).get(result, ())
        theory = getattr(generated, result)
        decl = next(r for r in family.results if r.name == result)
    if not 0 <= check < len(checks):
        raise KeyError(f"{result} declares {len(checks)} simulation checks, there is no check {check}")
    return checks[check], theory, decl


def _axis(check, name: str):
    for axis in check.axes:
        if axis.name == name:
            return axis
    raise KeyError(f"{check.result}: its check {check.title!r} declares no axis {name!r}")


def evaluate_unit(unit: WorkUnit) -> Evaluation:
    """Run one unit (see the module docstring)."""
    import torch

    from learndyn.verify.validity.axis import apply_axis
    from learndyn.verify.validity.deviation import Deviation, deviation

    check, theory, _ = resolve(unit.result, unit.check, unit.module, unit.out_dir)
    axis = _axis(check, unit.axis)
    out = Evaluation(unit)
    if unit.probe == "divergence":
        out.diverged = bool(axis.diverges(unit.case, unit.value, unit.device))
        return out
    case, sizes = apply_axis(axis, unit.case, unit.sizes, unit.value)
    from learndyn.verify.tier_b.comparison import Richardson

    if isinstance(check.compare, Richardson) and axis.along == "lr":
        sizes[FINE_RUN] = False
    try:
        with _threads(check):
            measured = check.simulate(case, sizes, unit.device)
    except Exception as exc:  # noqa: BLE001 - past its range a simulation may fail: recorded, not raised
        # unmeasured (NaN): beyond the breakdown side of a measured value the search counts it as broken (a run that
        # blew up), on the validity side as the end of what can be measured (a step budget, a horizon)
        out.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        out.deviation, out.diverged = math.nan, True
        return out
    measurements = list(measured) if isinstance(measured, (list, tuple)) else [measured]
    with torch.no_grad():
        with _threads(check):
            dev = Deviation.cat([deviation(check.compare, m, theory, axis.along) for m in measurements])
        out.deviation, out.se, _ = dev.worst()
        out.configurations = int(dev.value.numel())
        out.values = [float(v) for v in dev.value]
        out.diverged = not math.isfinite(out.deviation)
        if axis.predicted is not None:
            pred = torch.cat([torch.as_tensor(axis.predicted(m, unit.value), dtype=torch.float64).reshape(-1).cpu()
                              for m in measurements])
            out.predicted = float(pred.abs().max())
    return out


def _threads(check):
    """One torch thread for the simulations of small tensors (GD of small networks, Monte Carlo of small matrices),
    where intra-op threads only add synchronisation (:mod:`learndyn.verify.figures.threads`); wide random networks
    and empirical kernels keep the caller's setting."""
    import contextlib

    from learndyn.verify.figures.threads import single_thread

    return contextlib.nullcontext() if check.method in ("random", "empirical_kernel") else single_thread()


def serial_map(fn: Callable[[WorkUnit], Evaluation], units: Iterable[WorkUnit]) -> list[Evaluation]:
    """The default executor: the units one after another, in this process."""
    return [fn(u) for u in units]
