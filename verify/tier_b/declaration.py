"""The declaration of a result's simulation check (tier b): which simulator runs, what it observes, how theory and
simulation are compared, at which points and sizes.

A family's checks are declared once, in ``verify/families/<family>.py`` beside ``derive/families/<family>.py`` (a
user's own family: a ``SIMULATIONS`` tuple in the same module as its ``FAMILY``). Everything else — drawing the
cases from the declared simulation ranges, running them, comparing, the verification row, and the check's power
(:mod:`learndyn.verify.tier_b.power`) — comes from the declaration.

``simulate(case, sizes, device)`` runs one case and returns its :class:`Measurement` (or several). It must not
call the theory under test: the same measurement is compared with the generated function and, to measure power,
with deliberately wrong ones. It may use other generated functions to size a run (a horizon, a stable ``lr``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from learndyn.verify.tier_b.comparison import Comparison
from learndyn.verify.tier_b.measurement import Measurement

__all__ = ["SimulationCheck", "Case", "METHODS"]

#: one case: the drawn (or pinned) parameters, a ``seed`` and any options of the simulation (noise kind, …)
Case = Mapping[str, Any]

#: how a check's simulation relates to the theory, in the words the README and the report use
METHODS = {
    "gd": "trains real networks by gradient descent",
    "gd_linearised": "trains each network's linearisation about its initialisation by gradient descent",
    "random": "samples random wide networks (no training)",
    "monte_carlo": "Monte Carlo over the defining expectation",
    "empirical_kernel": "empirical kernels of random finite-width networks (torch.func)",
}


@dataclass(frozen=True)
class SimulationCheck:
    """Tier (b) of one result, declared.

    * ``result``: the result's name; ``title``: what runs, in a few words (the row's tier column);
    * ``method``: a key of :data:`METHODS`;
    * ``simulate``: ``(case, sizes, device) -> Measurement | list[Measurement]``;
    * ``compare``: a :class:`~learndyn.verify.tier_b.comparison.Comparison`;
    * ``draws``: the result's parameters drawn from their declared simulation ranges for each case (and a seed),
      or ``strategy``: a function ``(result) -> hypothesis strategy`` of whole cases, for cases that carry batches;
      ``options``: further case entries drawn from given strategies (``{"noise": st.sampled_from(...)}``);
    * ``points``: pinned representative cases, always run first (include noise, depth, both activations: not
      only the corner hypothesis starts from);
    * ``sizes``: the simulation's sizes on a CPU (widths, networks, runs, steps), ``gpu_sizes`` overrides on a GPU;
    * ``examples_per_case``: ``learndyn verify --examples N`` draws ``N // examples_per_case`` cases besides the
      pinned ones;
    * ``axes``: the hyperparameters ``learndyn validity`` may sweep past the simulation range
      (:class:`~learndyn.verify.validity.Axis`: ``lr_axis``, ``width_axis``, or a parameter of the case); the map
      runs ``simulate`` on the pinned points with the axis' value set, and measures the deviation as ``compare``
      does, before any extrapolation (:mod:`learndyn.verify.validity`).
    """

    result: str
    title: str
    method: str
    simulate: Callable[[Case, Mapping[str, Any], str], Measurement | Sequence[Measurement]]
    compare: Comparison
    draws: tuple[str, ...] = ()
    strategy: Callable[[Any], Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    points: tuple[Case, ...] = ()
    sizes: Mapping[str, Any] = field(default_factory=dict)
    gpu_sizes: Mapping[str, Any] = field(default_factory=dict)
    examples_per_case: int = 50
    axes: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"{self.result}: method {self.method!r} is not one of {', '.join(METHODS)}")

    def sizes_on(self, device: str) -> dict[str, Any]:
        """The sizes for ``device`` (the GPU overrides where the device is not the CPU)."""
        out = dict(self.sizes)
        if not str(device).startswith("cpu"):
            out.update(self.gpu_sizes)
        return out

    def drawn_cases(self, examples: int) -> int:
        """Cases drawn by hypothesis at ``--examples examples``, besides the pinned ones (at least one if none)."""
        return max(0 if self.points else 1, examples // self.examples_per_case)
