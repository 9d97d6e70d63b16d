"""Tier (b) of family 4's kernel maps (``relu_kernel_map``, ``erf_kernel_map`` and their derivatives): Monte Carlo
over the units of a random dense layer.

A dense layer ``u = W x`` with iid ``N(0, 1)`` rows ``w_i`` applied to two inputs whose kernel is
``K = [[q1, c], [c, q2]]`` gives, unit by unit, iid pairs ``(u_a, u_b) ~ N(0, K)``; they are drawn as
``u_a = √q1 e1``, ``u_b = √q2 (ρ e1 + √(1 − ρ²) e2)`` (``ρ = c/√(q1 q2)``, ``e`` iid ``N(0, 1)``) for ``S`` units
per configuration. The maps are the layer's mean products ``T = E[φ(u_a) φ(u_b)]``, ``Ṫ = E[φ'(u_a) φ'(u_b)]``,
estimated with exact variance reduction:

* antithetic units for ReLU (each draw ``e`` also as ``−e``: the odd part of ``φ(u_a)φ(u_b)`` cancels exactly;
  erf's products are even in ``e``, so it gains nothing there);
* control variates with known Gaussian means (:func:`~learndyn.verify.tier_b.estimators.control_variate_mean`), in
  the standardised ``ã = u_a/√q1``, ``b̃ = u_b/√q2``: ``ã b̃ − ρ``, ``ã² − 1``, ``b̃² − 1``, ``ã² b̃² − (1 + 2ρ²)``,
  ``ã³ b̃ − 3ρ``, ``ã b̃³ − 3ρ``, ``|ã| − √(2/π)``, ``|b̃| − √(2/π)`` (Isserlis' theorem and the half-normal mean).
  The regression estimator is unbiased up to ``O(q/S)`` (``q = 8`` controls, ``S = 2^15``: a relative ``2e-4`` of the
  standard deviation, far below the standard error) and its standard error comes from the residuals.

Deviations are in units of ``√(E[f(u_a, u_a)] E[f(u_b, u_b)])`` for the product ``f`` (the map at identical inputs,
estimated from the same units), so a map near zero (erf at ``c = 0``, ReLU at opposite inputs) compares on the
scale of its inputs rather than relative to itself. Tolerance: ``5`` standard errors plus ``1e-10`` for round-off
(the maps are exact to ``1e-12`` of their value); for ReLU's ``Ṫ``, whose integrand is an indicator, also the mass
the sample can miss: an event of probability ``p`` is absent from ``S`` units with probability ``e^{−pS}``, which
exceeds ``1e-6`` only for ``pS < 14``, where the sample variance is 0 and cannot see it (nearly opposite inputs), so
``14 · max f / S`` (``max f = 1/2`` after the antithetic pairing) is added, ``2e-4`` of the scale at ``S = 2^15``.
Measured standard errors at ``S = 2^15``: below 0.3 % of that scale, up to 1.2 % for ``erf'`` at ``q ≈ 100`` (where
``e^{−u²}`` is nearly a rare event), so a 2 % error is caught wherever the map is not small against its scale.
Simulation range: ``q1, q2 ∈ [1e-2, 1e2]`` (log-uniform; ReLU's maps are homogeneous in ``q``, erf's saturate
beyond it) and ``c`` anywhere in ``[−√(q1 q2), √(q1 q2)]``, to within 1e-12 of its edges (nearly identical and
nearly opposite inputs).
"""
from __future__ import annotations

import dataclasses
import math

import torch
from hypothesis import strategies as st

from learndyn.domain import Interval
from learndyn.verify.tier_b import OUTPUT, Measurement, SimulationCheck, Statistical
from learndyn.verify.tier_b.estimators import control_variate_mean

__all__ = ["MAP_CHECKS", "simulate_map", "layer_units", "SAMPLES", "ROUND_OFF", "Q_RANGE"]

#: units (Monte Carlo samples) per configuration
SAMPLES = 2**15
#: the comparison's allowance for round-off, in units of the deviation scale
ROUND_OFF = 1e-10
#: events rarer than RARE_EVENTS/S can be absent from S units with probability above e^{-14} = 8e-7
RARE_EVENTS = 14.0
#: the simulation range of q1 and q2
Q_RANGE = (1e-2, 1e2)
BATCH = 16
#: name -> (activation, "T" or "Tdot")
MAPS = {"relu_kernel_map": ("relu", "T"), "relu_kernel_map_derivative": ("relu", "Tdot"),
        "erf_kernel_map": ("erf", "T"), "erf_kernel_map_derivative": ("erf", "Tdot")}
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def layer_units(q1: torch.Tensor, c: torch.Tensor, q2: torch.Tensor, samples: int, gen: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``samples`` units of a random layer per configuration: ``(u_a, u_b, ã, b̃)``, each (B, samples), with
    ``(u_a, u_b) ~ N(0, [[q1, c], [c, q2]])`` and ``ã = u_a/√q1``, ``b̃ = u_b/√q2`` (module docstring)."""
    shape = (q1.numel(), samples)
    e1 = torch.randn(shape, generator=gen, dtype=q1.dtype, device=q1.device)
    e2 = torch.randn(shape, generator=gen, dtype=q1.dtype, device=q1.device)
    root = torch.sqrt(q1 * q2)
    rho = (c / root).clamp(-1.0, 1.0).unsqueeze(1)
    ta = e1
    tb = rho * e1 + torch.sqrt((1 - rho) * (1 + rho)) * e2
    return torch.sqrt(q1).unsqueeze(1) * ta, torch.sqrt(q2).unsqueeze(1) * tb, ta, tb


def _product(kind: str, activation: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if kind == "T":
        if activation == "relu":
            return torch.relu(a) * torch.relu(b)
        return torch.erf(a) * torch.erf(b)
    if activation == "relu":
        return ((a > 0) & (b > 0)).to(a.dtype)
    return _TWO_OVER_SQRT_PI**2 * torch.exp(-(a * a + b * b))


def _controls(ta: torch.Tensor, tb: torch.Tensor, rho: torch.Tensor) -> list[torch.Tensor]:
    """Functions of the standardised units with known mean, centred (Isserlis; ``E|z| = √(2/π)``)."""
    rho = rho.unsqueeze(1)
    half_normal = math.sqrt(2 / math.pi)
    ab = ta * tb
    return [ab - rho, ta * ta - 1, tb * tb - 1, ab * ab - (1 + 2 * rho * rho), ab * ta * ta - 3 * rho,
            ab * tb * tb - 3 * rho, ta.abs() - half_normal, tb.abs() - half_normal]


def simulate_map(activation: str, kind: str):
    """The simulation of one map: ``(case, sizes, device) -> Measurement`` for a batch of ``(q1, c, q2)``."""
    def simulate(case, sizes, device) -> Measurement:
        pts = case["points"]
        f64 = dict(dtype=torch.float64, device=device)
        q1 = torch.tensor([p["q1"] for p in pts], **f64)
        q2 = torch.tensor([p["q2"] for p in pts], **f64)
        c = torch.tensor([p["c"] for p in pts], **f64)
        gen = torch.Generator(device=device).manual_seed(int(case["seed"]))
        samples = int(sizes.get("samples", SAMPLES))
        a, b, ta, tb = layer_units(q1, c, q2, samples, gen)
        y = _product(kind, activation, a, b)
        diag_a, diag_b = _product(kind, activation, a, a), _product(kind, activation, b, b)
        if activation == "relu":                     # antithetic units: the same draws negated
            y = 0.5 * (y + _product(kind, activation, -a, -b))
            diag_a = 0.5 * (diag_a + _product(kind, activation, -a, -a))
            diag_b = 0.5 * (diag_b + _product(kind, activation, -b, -b))
        rho = (c / torch.sqrt(q1 * q2)).clamp(-1.0, 1.0)
        mean, se = control_variate_mean(y, _controls(ta, tb, rho))
        scale = torch.sqrt(diag_a.mean(1) * diag_b.mean(1))
        allowance = ROUND_OFF
        if activation == "relu" and kind == "Tdot":     # an indicator: the mass S units can miss (module docstring)
            allowance = ROUND_OFF + RARE_EVENTS * 0.5 / samples / scale
        return Measurement(args=dict(q1=q1, c=c, q2=q2), observed={OUTPUT: mean}, standard_error={OUTPUT: se},
                           scale=scale, allowance=allowance,
                           where=f"{len(pts)} (q1, c, q2) of a random layer, {samples} units each, seed {case['seed']}",
                           details={"rho": rho.tolist()})
    simulate.__qualname__ = f"simulate_map_{activation}_{kind}"
    return simulate


def _with_sim_ranges(result):
    """``result`` with its ``q1``, ``q2`` drawn from :data:`Q_RANGE` (``c`` keeps its declared ``Between``)."""
    params = tuple(dataclasses.replace(p, sim=Interval(*Q_RANGE, True, True)) if p.name in ("q1", "q2") else p
                   for p in result.params)
    return dataclasses.replace(result, params=params)


def map_strategy(result):
    """Cases ``{"points": [BATCH × {q1, c, q2}], "seed"}`` from the simulation ranges (module docstring)."""
    from learndyn.verify.strategies import point_strategy

    points = st.lists(point_strategy(_with_sim_ranges(result), "sim"), min_size=BATCH, max_size=BATCH)
    return st.fixed_dictionaries({"points": points, "seed": st.integers(0, 2**31 - 1)})


def map_points() -> tuple[dict, ...]:
    """One pinned case: correlations from nearly opposite to identical, equal and unequal variances over the range."""
    rhos = (-0.999999, -0.999, -0.9, -0.5, -0.1, 0.0, 0.2, 0.5, 0.7, 0.9, 0.99, 0.999999, 0.9999, 0.3, 0.6, 0.8)
    qs = ((1.0, 1.0), (0.01, 0.01), (100.0, 100.0), (0.05, 20.0), (3.0, 0.3), (1.0, 1.0), (0.5, 2.0), (10.0, 10.0))
    pts = []
    for i, rho in enumerate(rhos):
        q1, q2 = qs[i % len(qs)]
        pts.append({"q1": q1, "c": rho * math.sqrt(q1 * q2), "q2": q2})
    return ({"points": pts, "seed": 41},)


def _check(name: str) -> SimulationCheck:
    activation, kind = MAPS[name]
    what = "φ(u_a)φ(u_b)" if kind == "T" else "φ'(u_a)φ'(u_b)"
    return SimulationCheck(
        result=name, title=f"Monte Carlo of {what} over a random layer's units", method="monte_carlo",
        simulate=simulate_map(activation, kind), compare=Statistical(), strategy=map_strategy,
        points=map_points(), sizes={"samples": SAMPLES}, gpu_sizes={"samples": 2**19}, examples_per_case=50)


MAP_CHECKS = tuple(_check(name) for name in MAPS)
