"""What one simulated case measured, kept apart from the theory it is compared with.

A :class:`Measurement` is computed once per case by a simulation (which never sees the theory under test) and
then compared with any theory: the generated function, or a deliberately wrong one when the check's power is
measured (:mod:`learndyn.verify.tier_b.power`). That split is what makes power cheap to measure: the simulation
runs once, the comparison many times.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

__all__ = ["Measurement", "OUTPUT"]

#: the key of a single-output result's values
OUTPUT = "value"


@dataclass
class Measurement:
    """The simulated observable of one case, with everything a comparison needs.

    * ``args``: the theory's keyword arguments, broadcasting against ``observed`` (they may hold measured
      quantities, such as the previous layer's variance that a map is applied to);
    * ``observed``: the observable per theory output (``{OUTPUT: tensor}`` for a single output). For a
      :class:`~learndyn.verify.tier_b.comparison.Richardson` comparison this is the run at ``lr``, and ``fine`` the
      run at ``lr/2`` recorded at the same flow times;
    * ``observe``: maps the theory's value of an output to the observable (``χ ↦ e^{−1/χ}``-style relations, or a
      measured growth factor ``(σ_w/σ_crit)²`` from a critical ``σ_w``); identity where absent;
    * ``replicate_dim``: the axis of independent replicates (networks, runs) over which a standard error is
      formed; ``None`` for a deterministic run, or where ``standard_error`` gives it (an exact law's);
    * ``standard_error``: per output, the standard error of ``observed`` (and ``fine_standard_error`` of
      ``fine``) where it is known without replicates, e.g. a binomial or negative-binomial law's;
    * ``reduce_dims``: axes averaged (statistical) or maximised (Richardson) within a configuration before
      comparing, e.g. layers and inputs of one network, or the records of one trajectory;
    * ``scale``: deviations are divided by it (``None``: by ``|theory|``, a relative deviation);
    * ``allowance``: a known bias bound in the deviation's units (finite width, a secant's curvature), stated by
      the simulation from theory, never fitted to the data;
    * ``where``: the case in words, for failure messages;
    * ``extrapolation``: for an :class:`~learndyn.verify.tier_b.comparison.Extrapolated` comparison, ``(axis, xs)``:
      the axis of ``observed`` that holds the same observable at several sizes, and each size's ``x`` (e.g.
      ``1/N``), extrapolated to ``x = 0``.
    """

    args: Mapping[str, Any]
    observed: Mapping[str, torch.Tensor]
    fine: Mapping[str, torch.Tensor] | None = None
    observe: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] = field(default_factory=dict)
    replicate_dim: int | None = None
    standard_error: Mapping[str, torch.Tensor] | None = None
    fine_standard_error: Mapping[str, torch.Tensor] | None = None
    reduce_dims: tuple[int, ...] = ()
    scale: torch.Tensor | float | None = None
    allowance: torch.Tensor | float = 0.0
    where: str = ""
    details: dict = field(default_factory=dict)
    extrapolation: tuple[int, tuple[float, ...]] | None = None

    def theory_values(self, theory: Callable) -> dict[str, torch.Tensor]:
        """The theory's prediction of every observed output, through ``observe``."""
        value = call_theory(theory, self.args)
        outputs = value._asdict() if hasattr(value, "_asdict") else {OUTPUT: value}
        missing = [k for k in self.observed if k not in outputs]
        if missing:
            raise KeyError(f"the theory has no output {missing[0]!r} (it has {', '.join(outputs)})")
        return {k: self.observe.get(k, _identity)(torch.as_tensor(outputs[k])) for k in self.observed}

    @property
    def configurations(self) -> int:
        """How many configurations (elements outside the replicate and reduced axes) this case compares."""
        shape = next(iter(self.observed.values())).shape
        skip = {d % len(shape) for d in self.reduce_dims} | ({self.replicate_dim % len(shape)} if self.replicate_dim is not None else set())
        if self.extrapolation is not None:
            skip.add(self.extrapolation[0] % len(shape))
        n = 1
        for i, s in enumerate(shape):
            if i not in skip:
                n *= s
        return n * len(self.observed)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def call_theory(theory: Callable, args: Mapping[str, object]):
    """``theory(**args)``, where an integer parameter (``steps``, ``depth``) may be an integer tensor that varies across
    configurations: the generated functions take it as a Python int, so the theory is called once per distinct value
    on the configurations that have it, and the outputs are assembled in the broadcast shape."""
    ints = {k: v for k, v in args.items() if isinstance(v, torch.Tensor) and not v.is_floating_point() and v.numel() > 1}
    if not ints:
        return theory(**args)
    tensors = {k: v for k, v in args.items() if isinstance(v, torch.Tensor)}
    shape = torch.broadcast_shapes(*(v.shape for v in tensors.values()))
    full = {k: v.expand(shape) for k, v in tensors.items()}
    combos = torch.stack([full[k].reshape(-1) for k in ints], 1)
    outputs: dict[str, torch.Tensor] = {}
    named = None
    for combo in torch.unique(combos, dim=0):
        mask = (combos == combo).all(1)
        call = {k: (v if not isinstance(v, torch.Tensor) else full[k].reshape(-1)[mask]) for k, v in args.items()}
        call.update({k: int(c) for k, c in zip(ints, combo)})
        value = theory(**call)
        fields = value._asdict() if hasattr(value, "_asdict") else {OUTPUT: value}
        named = type(value) if hasattr(value, "_asdict") else None
        for name, v in fields.items():
            if name not in outputs:
                outputs[name] = torch.empty(mask.numel(), dtype=torch.as_tensor(v).dtype)
            outputs[name][mask] = torch.as_tensor(v).reshape(-1)
    shaped = {k: v.reshape(shape) for k, v in outputs.items()}
    return named(**shaped) if named is not None else shaped[OUTPUT]
