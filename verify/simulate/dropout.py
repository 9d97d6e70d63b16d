"""Gradient descent with dropout on one hidden unit (family 2, seed 000).

Network and loss (one example ``x = 1``, target ``s``, written out explicitly)::

    ŷ = w2 d w1,        L(w1, w2) = ½ (s − w2 d w1)²

with a mask ``d`` redrawn every step, independently per run: ``d ~ Bern(p)`` (``p`` the keep
probability) scaled to ``d ∈ {0, 1}`` (``variant="standard"``, as seed 000) or ``d ∈ {0, 1/p}``
(``variant="inverted"``, as in most libraries). Gradients, derived by hand (``r = s − d w2 w1``)::

    ∂L/∂w1 = −r d w2,   ∂L/∂w2 = −r d w1,        w1 ← w1 + lr d r w2,   w2 ← w2 + lr d r w1

From the balanced start ``w1 = w2 = √u0`` the two updates are bitwise identical, so ``w1 = w2 = w`` at
every step and one weight is tracked: ``w ← w + lr d (s − d w²) w``, ``u = w2 w1 = w²``. A step with
``d = 0`` leaves ``w`` unchanged exactly (it carries no gradient); a step with ``d ≠ 0`` is the plain GD
step of the network ``ŷ = w2 w1 x`` at ``x = d``.

Expected dynamics. One step gives ``u' = u + 2 lr d (s − d u) u + lr² d² (s − d u)² u``; averaging over
``d``, ``E[d (s − d u)] = E[d] s − E[d²] u`` with ``E[d] = p``, ``E[d²] = p`` (standard) and ``E[d] = 1``,
``E[d²] = 1/p`` (inverted). So to first order in ``lr``::

    standard:  tau du/dt = 2 p u (s − u)        (plateau s, learning slowed by 1/p)
    inverted:  tau du/dt = 2 u (s − u/p)        (plateau p s, no slow-down)

The mean over runs follows these up to ``O(lr)``: the Euler error, plus the bias from the fluctuations
(``Var u = O(lr)`` at fixed flow time, through the curvature of the map).

Exact law. After ``t`` steps a run has made ``A_t ~ Binomial(t, p)`` active steps, and its ``u`` is the
deterministic GD trajectory ``g`` (with ``d ≡ 1``, or ``d ≡ 1/p`` for inverted dropout) after ``A_t``
steps: ``E[u_t] = Σ_k C(t, k) p^k (1−p)^{t−k} g(k)`` exactly. In particular the hitting time of a level
(first step with ``u ≥ level``) is the number of Bernoulli trials needed for ``K`` successes, where ``K``
is the number of deterministic GD steps needed: a negative binomial with mean ``K/p`` and variance
``K (1 − p)/p²``, and every run has used exactly ``K`` active steps when it hits (bit for bit the same
arithmetic as the ``p = 1`` run). With ``u0 = margin`` and ``level = s − margin`` (standard),
``K ≈ (τ/s) ln((s − margin)/margin)`` up to ``O(1)`` steps, the flow time of the logistic curve.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .scalar import _default_device, _record_times

__all__ = ["DropoutRun", "DropoutHits", "simulate_dropout", "dropout_hitting_times"]

_CHECK_EVERY = 32  # steps between checks whether every run has hit (a device sync on CUDA)


class DropoutRun(NamedTuple):
    """Recorded trajectory of :func:`simulate_dropout` (all tensors on the simulation device).

    ``t``: (R,) int64 steps recorded. ``u_mean``, ``u_var``: (R, *batch), the mean over runs of
    ``u = w2 w1`` and its unbiased sample variance (0 for one run; the standard error of ``u_mean`` is
    ``√(u_var/runs)``). ``u``: (R, *batch, runs), every run, or ``None`` unless ``record_runs=True``.
    ``active``: (R, *batch, runs) int64, the number of active steps (``d ≠ 0``) among steps ``1 … t`` of every run
    (``Binomial(t, p)``, the run's random clock), or ``None`` unless ``record_runs=True``.
    """

    t: Tensor
    u_mean: Tensor
    u_var: Tensor
    u: Tensor | None
    active: Tensor | None = None


class DropoutHits(NamedTuple):
    """Hitting times from :func:`dropout_hitting_times`, each (*batch, runs).

    ``steps``: int64, the first step ``t`` with ``u_t ≥ level`` (0 if ``u0 ≥ level``), ``-1`` for runs that
    did not hit within ``max_steps``. ``active_steps``: int64, the number of steps with ``d ≠ 0`` among
    steps ``1 … steps`` (up to ``max_steps`` for runs that did not hit). ``hit``: bool, which runs hit.
    """

    steps: Tensor
    active_steps: Tensor
    hit: Tensor


def _setup(
    s: float | Tensor,
    p: float | Tensor,
    lr: float | Tensor,
    u0: float | Tensor,
    runs: int,
    variant: str,
    extra: dict[str, float | Tensor],
    device: str | torch.device | None,
    dtype: torch.dtype,
    seed: int,
) -> tuple[torch.device, dict[str, Tensor], torch.Generator]:
    """Validate and broadcast the per-configuration arguments to ``(*batch, 1)`` (runs on the last axis)."""
    if variant not in ("standard", "inverted"):
        raise ValueError(f"variant must be 'standard' or 'inverted', got {variant!r}")
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        raise ValueError(f"runs must be an int >= 1, got {runs!r}")
    dev = _default_device(device)
    args = {
        name: torch.as_tensor(v, dtype=dtype, device=dev)
        for name, v in (("s", s), ("p", p), ("lr", lr), ("u0", u0), *extra.items())
    }
    for name, v in args.items():
        if not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name} must be finite, got {v}")
    if bool(((args["p"] <= 0) | (args["p"] > 1)).any()):
        raise ValueError(f"p (keep probability) must be in (0, 1], got {args['p']}")
    if bool((args["u0"] <= 0).any()):
        raise ValueError(f"u0 must be > 0 (balanced start w1 = w2 = √u0), got {args['u0']}")
    if bool((args["lr"] <= 0).any()):
        raise ValueError(f"lr must be > 0, got {args['lr']}")
    values = torch.broadcast_tensors(*args.values())
    if values[0].ndim == 0:
        values = tuple(v.reshape(1) for v in values)
    out = {name: v.unsqueeze(-1) for name, v in zip(args, values)}
    # the nonzero mask value: 1 (standard) or 1/p (inverted)
    out["on"] = torch.ones_like(out["p"]) if variant == "standard" else 1 / out["p"]
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    return dev, out, gen


def _step(w: Tensor, a: dict[str, Tensor], gen: torch.Generator) -> Tensor:
    """One GD step of every run; returns the boolean mask of active runs (``d ≠ 0``)."""
    active = torch.rand(w.shape, generator=gen, device=w.device, dtype=w.dtype) < a["p"]
    d = torch.where(active, a["on"], 0.0)
    c = a["lr"] * d * torch.addcmul(a["s"], d, w * w, value=-1.0)  # lr d (s − d w²)
    w.addcmul_(c, w)  # w ← w + lr d r w   (exactly w where d = 0)
    return active


def simulate_dropout(
    s: float | Tensor,
    p: float | Tensor,
    lr: float | Tensor,
    steps: int,
    *,
    u0: float | Tensor,
    runs: int,
    variant: str = "standard",
    record_every: int = 1,
    record_runs: bool = False,
    seed: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> DropoutRun:
    """GD with a dropout mask on ``ŷ = w2 d w1`` (``x = 1``, target ``s``), ``runs`` independent runs per configuration.

    ``s``, ``p`` (keep probability in ``(0, 1]``), ``lr`` and ``u0`` are floats or tensors that broadcast
    together to the batch shape (a 0-d batch is promoted to ``(1,)``); the runs are a last axis, so the
    state is one ``(*batch, runs)`` tensor. Start ``w1 = w2 = √u0``; every step draws
    ``d ~ Bern(p)`` per run (``variant``: ``"standard"`` ``d ∈ {0, 1}``, ``"inverted"`` ``d ∈ {0, 1/p}``)
    and does ``w ← w + lr d (s − d w²) w`` (``w = w1 = w2``, module docstring).

    Records at ``t = 0, record_every, …`` and at ``t = steps`` the mean and variance over runs of
    ``u = w2 w1`` (and, with ``record_runs=True``, every run's ``u`` and its count of active steps so far, whose
    law ``Binomial(t, p)`` is known: a control variate; memory ``2 × R × batch × runs``). Masks come from
    ``torch.Generator(device).manual_seed(seed)``, one ``rand(*batch, runs)`` per step: deterministic given
    seed and device, and the same masks as :func:`dropout_hitting_times` with the same arguments.
    Returns a :class:`DropoutRun`; ``device`` defaults to CUDA if available. Raises ``ValueError`` for
    ``p ∉ (0, 1]``, ``u0 ≤ 0``, ``lr ≤ 0``, non-finite inputs or a bad ``variant``, ``runs``, ``steps``.
    """
    times = _record_times(steps, record_every)
    dev, a, gen = _setup(s, p, lr, u0, runs, variant, {}, device, dtype, seed)
    batch = a["s"].shape[:-1]
    w = torch.sqrt(a["u0"]).expand(*batch, runs).clone()
    n_rec = len(times)
    mean = torch.empty((n_rec, *batch), dtype=dtype, device=dev)
    var = torch.empty_like(mean)
    every = torch.empty((n_rec, *batch, runs), dtype=dtype, device=dev) if record_runs else None
    active = torch.zeros((*batch, runs), dtype=torch.int64, device=dev) if record_runs else None
    active_at = torch.empty((n_rec, *batch, runs), dtype=torch.int64, device=dev) if record_runs else None

    def record(k: int) -> None:
        u = w * w
        mean[k] = u.mean(-1)
        var[k] = u.var(-1) if runs > 1 else torch.zeros_like(mean[k])
        if every is not None:
            every[k] = u
            active_at[k] = active

    record(0)
    k = 1
    for step in range(1, steps + 1):
        on = _step(w, a, gen)
        if active is not None:
            active += on
        if k < n_rec and times[k] == step:
            record(k)
            k += 1
    t = torch.tensor(times, dtype=torch.int64, device=dev)
    return DropoutRun(t=t, u_mean=mean, u_var=var, u=every, active=active_at)


def dropout_hitting_times(
    s: float | Tensor,
    p: float | Tensor,
    lr: float | Tensor,
    level: float | Tensor,
    *,
    u0: float | Tensor,
    runs: int,
    max_steps: int,
    variant: str = "standard",
    seed: int = 0,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> DropoutHits:
    """First step at which ``u = w2 w1 ≥ level`` in each of ``runs`` independent dropout runs per configuration.

    Same network, arguments, start and masks as :func:`simulate_dropout`; ``level`` (per configuration,
    broadcast with the others) is the threshold, e.g. ``s − margin`` (standard) — with inverted dropout
    every run tends to ``p s``, so choose ``level < p s``. Runs until every run has hit or ``max_steps``
    steps have been made (all runs keep drawing masks until the last step made, so the masks match
    :func:`simulate_dropout`). Hitting times are negative binomial (module docstring).
    Returns a :class:`DropoutHits`; runs that did not hit have ``steps = -1`` and ``hit = False``.
    """
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 0:
        raise ValueError(f"max_steps must be an int >= 0, got {max_steps!r}")
    dev, a, gen = _setup(s, p, lr, u0, runs, variant, {"level": level}, device, dtype, seed)
    batch = a["s"].shape[:-1]
    w = torch.sqrt(a["u0"]).expand(*batch, runs).clone()
    level_t = a["level"]
    hit = (w * w >= level_t).expand(*batch, runs).clone()
    hit_step = torch.where(hit, 0, -1).to(torch.int64)
    active_steps = torch.zeros((*batch, runs), dtype=torch.int64, device=dev)
    for step in range(1, max_steps + 1):
        if step % _CHECK_EVERY == 1 and bool(hit.all()):
            break
        active = _step(w, a, gen)
        active_steps += active & ~hit
        new = ~hit & (w * w >= level_t)
        hit_step = torch.where(new, step, hit_step)
        hit |= new
    return DropoutHits(steps=hit_step, active_steps=active_steps, hit=hit)
