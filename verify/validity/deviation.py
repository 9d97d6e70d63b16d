"""The deviation of simulation from theory that a validity map measures, per configuration.

It is the observable and the normalisation of the result's own comparison, taken *before* whatever the comparison
does to remove the effect a map is after (``along``: the axis' extrapolation, :attr:`~learndyn.verify.validity.Axis.along`;
an extrapolation along another axis is kept):

* :class:`~learndyn.verify.tier_b.Statistical`: the mean over replicates of ``(observed − theory)/norm`` (averaged
  over ``reduce_dims`` first), without the allowance;
* :class:`~learndyn.verify.tier_b.Richardson`: the run at ``lr`` itself, ``max |u(lr) − theory|/norm`` over the
  records, not the extrapolation ``2u(lr/2) − u(lr)`` that removes the first-order error being mapped;
* :class:`~learndyn.verify.tier_b.Extrapolated`: the mean deviation at the largest simulated size, not the fit in
  ``1/N`` that removes the finite-size error;
* :class:`~learndyn.verify.tier_b.UpperBound`: by how much the observed mean exceeds the bound, relative to it
  (``0`` where it holds).

Each comes with its standard error (from the replicates, or the measurement's own).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from learndyn.verify.tier_b.comparison import (
    Comparison, Extrapolated, Richardson, Statistical, UpperBound, _dims, _given_se, _mean_se, _norm,
    lagrange_weights_at_zero,
)
from learndyn.verify.tier_b.measurement import Measurement

__all__ = ["Deviation", "deviation"]


@dataclass
class Deviation:
    """Per configuration (flattened over outputs): ``value`` the absolute deviation, ``se`` its standard error."""

    value: torch.Tensor
    se: torch.Tensor

    def worst(self) -> tuple[float, float, int]:
        """The largest deviation (``inf`` for a NaN: a run that blew up), its standard error and its index."""
        v = torch.nan_to_num(self.value, nan=float("inf"))
        i = int(v.argmax())
        return float(v[i]), float(self.se[i]), i

    @staticmethod
    def cat(parts: list["Deviation"]) -> "Deviation":
        """The configurations of several deviations, one after another."""
        return Deviation(torch.cat([p.value for p in parts]), torch.cat([p.se for p in parts]))


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64).reshape(-1).cpu()


def _predicted(m: Measurement, theory: Callable, key: str, obs: torch.Tensor) -> torch.Tensor:
    pred = m.theory_values(theory)[key].to(obs)
    return torch.broadcast_to(pred, obs.shape) if pred.dim() <= obs.dim() else pred


def deviation(compare: Comparison, m: Measurement, theory: Callable, along: str | None = "lr") -> Deviation:
    """The deviation of ``m`` from ``theory`` as ``compare`` measures it, before the extrapolation ``along`` the
    mapped axis (module docstring)."""
    parts = []
    for key, obs in m.observed.items():
        pred = _predicted(m, theory, key, obs)
        norm = torch.broadcast_to(_norm(m, pred), obs.shape)
        reduce, rep = _dims(m, obs.dim())
        se_given = None if m.standard_error is None else m.standard_error.get(key)
        if isinstance(compare, Richardson):
            mean, se = _mean_se(obs, rep, se_given)
            if along != "lr" and m.fine is not None:  # the map is not along lr: compare the extrapolated flow
                se_f = None if m.fine_standard_error is None else m.fine_standard_error.get(key)
                f_mean, f_se = _mean_se(m.fine[key], rep, se_f)
                mean, se = 2 * f_mean - mean, torch.sqrt(4 * f_se**2 + se**2)
            if rep is not None:
                pred, norm = pred.narrow(rep, 0, 1), norm.narrow(rep, 0, 1)
            dev, se = (mean - pred).abs() / norm, se / norm
            if reduce:  # the worst record of each configuration, with its own standard error
                flat_dev = dev.movedim(reduce, tuple(range(-len(reduce), 0))).flatten(-len(reduce))
                flat_se = torch.broadcast_to(se, dev.shape).movedim(reduce, tuple(range(-len(reduce), 0))).flatten(-len(reduce))
                i = torch.nan_to_num(flat_dev, nan=float("inf")).argmax(-1, keepdim=True)
                dev, se = flat_dev.gather(-1, i).squeeze(-1), flat_se.gather(-1, i).squeeze(-1)
        elif isinstance(compare, UpperBound):
            mean, se = _mean_se(obs, rep, se_given)
            if rep is not None:
                pred = pred.narrow(rep, 0, 1)
            dev, se = ((mean - pred) / pred).clamp(min=0), se / pred.abs()
            if reduce:
                dev, se = dev.amax(reduce), se.amax(reduce)
        else:
            d = (obs - pred) / norm
            given = _given_se(m, key, obs, norm, reduce)
            if reduce:
                d = d.mean(reduce, keepdim=True)
            mean, se = _mean_se(d, rep, given)
            if isinstance(compare, Extrapolated) and m.extrapolation is not None:
                axis = m.extrapolation[0] % d.dim()
                if along == "size" or len(m.extrapolation[1]) < 2:  # the deviation at the largest size
                    largest = min(range(len(m.extrapolation[1])), key=lambda i: abs(m.extrapolation[1][i]))
                    mean, se = mean.select(axis, largest), se.select(axis, largest)
                else:  # another axis: the fit in 1/N removes the finite size, as the check's own comparison does
                    weights = lagrange_weights_at_zero(m.extrapolation[1])
                    mean, se = (sum(w * mean.select(axis, i) for i, w in enumerate(weights)),
                                torch.sqrt(sum(w * w * se.select(axis, i) ** 2 for i, w in enumerate(weights))))
            elif not isinstance(compare, (Statistical, Extrapolated)):
                raise TypeError(f"no validity deviation is defined for a {type(compare).__name__} comparison")
            dev = mean.abs()
        parts.append(Deviation(_flat(dev), _flat(torch.broadcast_to(se, dev.shape))))
    return Deviation.cat(parts)
