"""Tier (b) of family 4's phase results (``kernel_fixed_point``, ``chi1``, ``kernel_depth_scales``,
``ntk_depth_limit``): deep random networks run to their stationary state.

Each case is one ``(activation, sigma_w2, sigma_b2)``. ``M`` networks of width ``N`` with two inputs (``d = 16``,
``K⁰_aa = 1``) are sampled exactly in law (:func:`~learndyn.verify.simulate.ntk_law.sampled_layers`) through
``D = D0 + D1`` hidden layers: ``D0`` layers of burn-in, after which the infinite-width recursion (iterated with the
kernel maps ``T``, ``Ṫ`` — other results, used only to size the run) has stopped moving by ``1e-8`` relative per
layer, and ``D1 = 16`` measured layers. Per network (the replicate), averaged over the measured layers:

* ``q̂`` — the layer's input variance ``Ĉ^l_aa`` (both inputs) → ``q_star``; ``ĉ = Ĉ_ab/√(Ĉ_aa Ĉ_bb)`` → ``c_star``
  (compared in absolute units: ``c*`` ranges over ``(0, 1]``);
* ``χ̂1`` — the diagonal of ``Ĥ^l = (σ_w²/N) φ'(z^l)ᵀ φ'(z^l)``, the mean squared singular value of the
  layer-to-layer Jacobian ``(σ_w/√N) W^{l+1} diag φ'(z^l)`` averaged over ``W^{l+1}`` (independent of ``z^l``) →
  ``chi1``, and through ``χ1 = e^{∓1/ξ1}`` (ordered: ``−``; chaotic: ``+``) → ``xi_1``;
* ``χ̂_c`` — the off-diagonal ``Ĥ^l_ab``, the slope ``dc'/dc = σ_w² Ṫ(q, c, q)`` of the correlation map at the
  stationary pair (Price's theorem), → ``xi_c`` through ``χ_c* = e^{−1/ξ_c}`` (in the ordered phase the pair has
  collapsed, ``ĉ = 1``, and it is ``χ̂1``);
* ordered phase: the empirical NTK ``Θ̂`` of the depth-``D`` network (diagonal and off-diagonal; the pair has
  collapsed, so both approach ``q*/(1 − χ1)``) → ``ntk_depth_limit``. In the chaotic phase the empirical NTK's
  off-diagonal is unresolvable at any affordable width (its fluctuations grow like ``χ1^D/√N`` with the diagonal),
  so ``off_diagonal`` is compared with the limit ``k̂/(1 − χ̂_c)`` of the NTK recursion ``Θ ↦ k + χ_c Θ`` driven by the
  network's own stationary ``k̂ = Ĉ_ab`` and ``χ̂_c`` (ratio of the means over networks, delta-method standard error),
  and ``diagonal = inf`` is not compared.

Tolerance: ``5`` standard errors of the mean over networks plus a finite-width allowance ``a/N`` (relative; absolute
for ``c*``), ``a`` about twice the largest bias measured with the same sampler at ``N = 32 … 2048`` (2^18–2^20
network-units): ``q*`` ReLU ``0`` (its variance map is linear, so ``E q̂`` follows it exactly), erf ``2`` (measured
``≤ 0.54``); ``c*`` ``4`` (``≤ 3.0``); ``χ1`` ReLU ``0`` (``P(z > 0) = 1/2`` exactly), erf ``2`` (``≤ 0.5``); ``χ_c``
``5`` (``≤ 3.2``); ``Θ̂`` ``3`` (``≤ 0.6``); the chaotic recursion limit, the allowances of ``k̂`` and ``χ̂_c``
propagated through ``k/(1 − χ)``; plus ``1e-6`` for what the burn-in leaves (``≤ 1e-8 χ/(1 − χ)``). Cases keep
``|ln χ1| ≥ 0.3``: near the phase boundary the depth scales diverge and the burn-in would be unaffordable. A 2 %
error in ``ξ`` changes ``χ`` by ``2 % |ln χ|``, so the depth scales are caught where ``|ln χ| ≳ 0.5``: ordered cases
with ``χ1 ≤ 0.6`` (the chaotic ``χ_c*`` lies in ``[0.69, 0.95]``, too close to 1 for 2 %).

Sizes (default): ``N = 1024``, ``M = 128``. Standard errors at the pinned cases: 0.02–0.35 % on ``q*``, ``χ1``,
``χ_c``, 0.1–0.85 % on ``Θ̂``; the chaotic recursion limit is coarse (1–25 %, allowance 3–50 %: ``k = q* c*`` is small
where ``c*`` is), a structural check that catches ``χ1`` in place of ``χ_c*`` or ``q*`` in place of ``q* c*``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from hypothesis import strategies as st

from learndyn.verify.families.ntk_kernels import networks_at
from learndyn.verify.tier_b import Measurement, SharedRun, SimulationCheck, Statistical
from learndyn.verify.validity.axis import width_axis

__all__ = ["PHASE_CHECKS", "PhaseRun", "phase_run", "infinite_width_path", "ALLOWANCE", "MIN_LOG_CHI"]

#: ``units``: the least ``width × networks`` a run samples (:func:`~learndyn.verify.families.ntk_kernels.networks_at`),
#: inactive at the check's own width: it holds the standard error as a validity map narrows the networks
SIZES = {"width": 1024, "networks": 128, "measured_layers": 16, "units": 2**16}
GPU_SIZES = {"width": 16384, "networks": 512, "units": 2**22}
#: finite-width allowance per observable, in units of 1/N (module docstring)
ALLOWANCE = {("q", "relu"): 0.0, ("q", "erf"): 2.0, "c": 4.0, ("chi1", "relu"): 0.0, ("chi1", "erf"): 2.0,
             "chic": 5.0, "ntk": 3.0}
#: what the burn-in leaves, at most
BURN_IN_RESIDUAL = 1e-6
#: relative change per layer of the infinite-width recursion at which the burn-in ends
CONVERGED = 1e-8
MAX_DEPTH = 200
#: the lowest width of the validity map
PHASE_WIDTH_LO = 2.0
#: cases keep |ln χ1| at least this far from the phase boundary
MIN_LOG_CHI = 0.3
PINNED = (("erf", 0.5, 0.05), ("erf", 0.3, 0.2), ("relu", 1.0, 0.1), ("relu", 1.4, 0.5), ("erf", 25.0, 0.05),
          ("erf", 4.0, 0.2))


def _maps(activation: str):
    import learndyn

    return (learndyn.function(f"{activation}_kernel_map", check=False),
            learndyn.function(f"{activation}_kernel_map_derivative", check=False))


class Path(NamedTuple):
    """The infinite-width recursion from two inputs: the burn-in depth, ``χ1`` there and the phase."""

    burn_in: int
    chi1: float
    ordered: bool


def infinite_width_path(sigma_w2: float, sigma_b2: float, activation: str, k0: tuple[float, float, float]) -> Path:
    """Iterate ``K ↦ σ_w² T(K) + σ_b²``, ``Θ ↦ K' + σ_w² Ṫ(K) Θ`` from the input kernel ``k0 = (K⁰_aa, K⁰_ab, K⁰_bb)``
    with the generated maps until ``q``, the correlation and (ordered) ``Θ`` move by less than :data:`CONVERGED`
    relative per layer; used only to size the run and to name the phase (``σ_w² Ṫ(q, q, q) < 1``)."""
    T, Td = _maps(activation)
    w, b = float(sigma_w2), float(sigma_b2)
    k = torch.tensor([w * k0[0] + b, w * k0[1] + b, w * k0[2] + b], dtype=torch.float64)   # K¹: (q_a, c, q_b)
    theta = k.clone()
    prev = None
    for depth in range(1, MAX_DEPTH + 1):
        q1 = k[[0, 0, 2]]
        q2 = k[[0, 2, 2]]
        c = torch.minimum(torch.maximum(k, -torch.sqrt(q1 * q2)), torch.sqrt(q1 * q2))
        tdot = Td(q1, c, q2)
        k = w * T(q1, c, q2) + b
        theta = k + w * tdot * theta
        chi1 = float(w * tdot[0])
        corr = float(k[1] / torch.sqrt(k[0] * k[2]))
        ordered = chi1 < 1
        state = torch.cat([k[[0, 2]], torch.tensor([corr], dtype=torch.float64)] + ([theta] if ordered else []))
        if prev is not None and prev.shape == state.shape:
            change = ((state - prev).abs() / state.abs().clamp(min=1e-300)).max()
            if float(change) < CONVERGED:
                return Path(depth, chi1, ordered)
        prev = state
    return Path(MAX_DEPTH, chi1, ordered)


def phase_inputs(seed: int, d: int = 16) -> torch.Tensor:
    """Two rows of norm √d (``K⁰_aa = 1``) at a generic angle."""
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn(2, d, generator=g, dtype=torch.float64)
    return x * math.sqrt(d) / x.norm(dim=1, keepdim=True)


def _path_from(x: torch.Tensor, sigma_w2: float, sigma_b2: float, activation: str) -> Path:
    """:func:`infinite_width_path` from the input kernel of the two rows ``x``."""
    k0 = (x @ x.T) / x.shape[1]
    return infinite_width_path(sigma_w2, sigma_b2, activation, (float(k0[0, 0]), float(k0[0, 1]), float(k0[1, 1])))


class PhaseRun(NamedTuple):
    """What one case measured, per network (M,): ``q`` (M, 2), ``c``, ``chi1`` (M, 2), ``chic``, ``k_off`` (the
    stationary ``Ĉ_ab``), ``ntk`` (M, 2, 2) in the ordered phase (else ``None``); and the path that sized it."""

    q: torch.Tensor
    c: torch.Tensor
    chi1: torch.Tensor
    chic: torch.Tensor
    k_off: torch.Tensor
    ntk: torch.Tensor | None
    path: Path
    width: int
    depth: int


def phase_run(case, sizes, device) -> PhaseRun:
    """The deep random networks of a case at their stationary state (one run shared by the four results' checks:
    :class:`~learndyn.verify.tier_b.SharedRun`)."""
    from learndyn.verify.simulate.ntk_law import sampled_layers

    activation, sigma_w2, sigma_b2 = case["activation"], float(case["sigma_w2"]), float(case["sigma_b2"])
    seed, width, measured = int(case["seed"]), int(sizes["width"]), int(sizes["measured_layers"])
    x = phase_inputs(seed)
    path = _path_from(x, sigma_w2, sigma_b2, activation)
    depth = path.burn_in + measured
    s = sampled_layers(x.to(device), hidden_layers=depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2, activation=activation,
                       width=width, networks=networks_at(sizes), seed=seed, ntk=path.ordered, device=str(device))
    kern = s.kernel[:, -measured:]                      # Ĉ^l, l = D − measured + 2 … D + 1 (the readout's input)
    der = s.derivative[:, -measured:]                   # Ĥ^l, l = D − measured + 1 … D
    qa, qb, cab = kern[..., 0, 0], kern[..., 1, 1], kern[..., 0, 1]
    return PhaseRun(q=torch.stack([qa.mean(1), qb.mean(1)], 1), c=(cab / torch.sqrt(qa * qb)).mean(1),
                    chi1=der.diagonal(dim1=2, dim2=3).mean(1), chic=der[..., 0, 1].mean(1), k_off=cab.mean(1),
                    ntk=s.ntk, path=path, width=width, depth=depth)


def _allowance(key: str, activation: str, width: int) -> float:
    a = ALLOWANCE.get((key, activation), ALLOWANCE.get(key))
    return BURN_IN_RESIDUAL + a / width


def _args(case) -> dict:
    return dict(sigma_w2=float(case["sigma_w2"]), sigma_b2=float(case["sigma_b2"]), activation=case["activation"])


def _where(case, run: PhaseRun) -> str:
    phase = "ordered" if run.path.ordered else "chaotic"
    return (f"{case['activation']}, sigma_w2={case['sigma_w2']:.4g}, sigma_b2={case['sigma_b2']:.4g} ({phase}), "
            f"{run.q.shape[0]} networks of width {run.width}, depth {run.depth}, seed {case['seed']}")


def observe_fixed_point(run: PhaseRun, case, sizes, device) -> list[Measurement]:
    """``q*`` from the stationary variance, ``c*`` from the stationary correlation (module docstring)."""
    act = case["activation"]
    return [Measurement(args=_args(case), observed={"q_star": run.q}, replicate_dim=0, reduce_dims=(1,),
                        allowance=_allowance("q", act, run.width), where=_where(case, run)),
            Measurement(args=_args(case), observed={"c_star": run.c}, replicate_dim=0, scale=1.0,
                        allowance=_allowance("c", act, run.width), where=_where(case, run))]


def observe_chi1(run: PhaseRun, case, sizes, device) -> Measurement:
    """``χ1`` as the layer-to-layer Jacobian's mean squared singular value at the stationary state."""
    return Measurement(args=_args(case), observed={"value": run.chi1}, replicate_dim=0, reduce_dims=(1,),
                       allowance=_allowance("chi1", case["activation"], run.width), where=_where(case, run))


def _contraction(sign: float):
    return lambda xi: torch.exp(sign / xi)


def observe_depth_scales(run: PhaseRun, case, sizes, device) -> list[Measurement]:
    """``ξ1``, ``ξ_c`` through the per-layer factors ``χ1 = e^{∓1/ξ1}``, ``χ_c* = e^{−1/ξ_c}`` they describe."""
    act = case["activation"]
    sign = -1.0 if run.path.ordered else 1.0
    return [Measurement(args=_args(case), observed={"xi_1": run.chi1}, observe={"xi_1": _contraction(sign)},
                        replicate_dim=0, reduce_dims=(1,), allowance=_allowance("chi1", act, run.width),
                        where=_where(case, run) + ": xi_1 through chi1 = exp(" + ("-" if sign < 0 else "+") + "1/xi_1)"),
            Measurement(args=_args(case), observed={"xi_c": run.chic}, observe={"xi_c": _contraction(-1.0)},
                        replicate_dim=0, allowance=_allowance("chic", act, run.width),
                        where=_where(case, run) + ": xi_c through chi_c = exp(-1/xi_c)")]


def _recursion_limit(run: PhaseRun) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``r = k̄/(1 − χ̄)`` over the networks, its delta-method standard error and its finite-width allowance."""
    k, x = run.k_off, run.chic
    m = k.numel()
    kb, xb = k.mean(), x.mean()
    g = torch.stack([1 / (1 - xb), kb / (1 - xb) ** 2])           # ∂r/∂(k, χ)
    cov = torch.cov(torch.stack([k, x]))
    se = torch.sqrt(g @ cov @ g / m)
    r = kb / (1 - xb)
    q = run.q.mean()
    dk = q * ALLOWANCE["c"] / run.width + kb.abs() * ALLOWANCE[("q", "erf")] / run.width
    dx = xb * ALLOWANCE["chic"] / run.width
    allowance = float((dk / (1 - xb) + kb.abs() * dx / (1 - xb) ** 2) / r.abs()) + BURN_IN_RESIDUAL
    return r.reshape(1), se.reshape(1), allowance


def observe_depth_limit(run: PhaseRun, case, sizes, device) -> Measurement:
    """Ordered: the depth-``D`` empirical NTK; chaotic: the off-diagonal limit of the recursion driven by the
    network's stationary ``k̂``, ``χ̂_c`` (module docstring)."""
    if run.path.ordered:
        return Measurement(args=_args(case), observed={"diagonal": run.ntk.diagonal(dim1=1, dim2=2),
                                                       "off_diagonal": run.ntk[:, 0, 1:2]},
                           replicate_dim=0, reduce_dims=(1,), allowance=_allowance("ntk", case["activation"], run.width),
                           where=_where(case, run) + ": empirical NTK at depth")
    r, se, allowance = _recursion_limit(run)
    return Measurement(args=_args(case), observed={"off_diagonal": r}, standard_error={"off_diagonal": se},
                       allowance=allowance,
                       where=_where(case, run) + ": off-diagonal limit k/(1 - chi_c) of the measured recursion")


#: the four results observe one run per case
simulate_fixed_point = SharedRun(phase_run, observe_fixed_point)
simulate_chi1 = SharedRun(phase_run, observe_chi1)
simulate_depth_scales = SharedRun(phase_run, observe_depth_scales)
simulate_depth_limit = SharedRun(phase_run, observe_depth_limit)


def _log_chi1(activation: str, sigma_w2: float, sigma_b2: float) -> float:
    return abs(math.log(_path_from(phase_inputs(0), sigma_w2, sigma_b2, activation).chi1))


def phase_strategy(result):
    """Cases ``{activation, sigma_w2, sigma_b2, seed}`` from the declared test ranges, inside the domain (ReLU:
    ``sigma_w2 < 2``) and at least :data:`MIN_LOG_CHI` from the phase boundary in ``ln χ1``."""
    from learndyn.verify.strategies import point_strategy

    point = point_strategy(result, "test").filter(
        lambda p: _log_chi1(p["activation"], p["sigma_w2"], p["sigma_b2"]) >= MIN_LOG_CHI)
    return st.tuples(point, st.integers(0, 2**31 - 1)).map(lambda ps: {**ps[0], "seed": ps[1]})


def phase_points() -> tuple[dict, ...]:
    return tuple({"activation": a, "sigma_w2": w, "sigma_b2": b, "seed": 3000 + i} for i, (a, w, b) in enumerate(PINNED))


def _check(name: str, title: str, simulate) -> SimulationCheck:
    return SimulationCheck(result=name, title=title, method="random", simulate=simulate, compare=Statistical(),
                           strategy=phase_strategy, points=phase_points(), sizes=SIZES, gpu_sizes=GPU_SIZES,
                           examples_per_case=50, axes=(width_axis(start=SIZES["width"], lo=PHASE_WIDTH_LO),))


PHASE_CHECKS = (
    _check("kernel_fixed_point", "stationary variance and correlation of deep random networks", simulate_fixed_point),
    _check("chi1", "layer-to-layer Jacobian of deep random networks", simulate_chi1),
    _check("kernel_depth_scales", "per-layer contraction of deep random networks", simulate_depth_scales),
    _check("ntk_depth_limit", "empirical NTK of deep random networks", simulate_depth_limit),
)
