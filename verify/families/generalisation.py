r"""Tier (b) of family 6 (high-dimensional generalisation dynamics of a linear student, seed 003: Advani & Saxe 2017),
declared beside ``derive/families/generalisation.py``, and the family's claims
(:mod:`learndyn.verify.families.generalisation_claims`).

**What is simulated.** Every check samples student–teacher data sets (:func:`~learndyn.verify.simulate.student_teacher_data`:
``X`` with ``N(0, 1/N)`` entries, ``P = round(αN)`` rows) and takes the spectrum of each realisation's ``XᵀX`` (the
eigenvalues of the smaller Gram matrix, ``XᵀX`` or ``XXᵀ``, padded with the ``N − P`` exact zeros of the frozen subspace
when ``α < 1``; eigenvalues ``≤ 1e-10 λ_max`` count as zero, as in :func:`~learndyn.verify.simulate.sample_spectrum`).
Along an eigenvector the exact per-realisation solution (:func:`~learndyn.verify.simulate.exact_linear_student`) is
``e = d·e0 + (1 − d)·ξ/√λ`` with ``d = e^{−λt}`` (flow) or ``(1 − lr λ)^k`` (GD), ``d = 1`` on frozen modes. Given
``X``, ``e0 = Vᵀ(w0 − w̄)`` and ``ξ = Uᵀε`` are iid Gaussian of variances ``σ_w² + σ_0²`` and ``σ_ε²`` (they are independent of
``X``), so each realisation's errors are averaged over the teacher, the start and the noise EXACTLY given ``X``
(Rao–Blackwell): ``E[E_g | X] = σ_ε² + (1/N) Σ (d² S0 + (1 − d)² σ_ε²/λ)`` (``S0`` on frozen modes), ``E[E_t | X] =
(σ_ε²(P − rank X) + Σ_{λ>0} d² (λ S0 + σ_ε²))/P``, the ridge solution's ``(1/N) Σ (γ² σ_w² + λ σ_ε²)/(λ + γ)²``. What is
left random is the spectrum, the quantity the theory is about; its linear statistics fluctuate by ``O(1/N)`` per
realisation (not ``O(1/√N)``), which is what makes a 1 % check affordable. The real runs are gates inside the
simulation: on ``GD_SEEDS`` realisations per point (``N = 100``) gradient descent
(:func:`~learndyn.verify.simulate.simulate_linear_student`, the point's ``lr`` and ``steps``) must equal
:func:`~learndyn.verify.simulate.exact_linear_student`'s exact-discrete solution at the realised draws, and the ridge
solution of ``(XᵀX + γ) w = Xᵀy`` (a linear solve) the mode formula at the realised draws, both within ``GATE_RTOL``
(else the simulation raises): GD at a finite ``lr`` IS the ``gd_*`` theory's mode recursion, so what the ``gd_*`` checks
compare is GD up to finite ``N``.

**Tolerances.** Every value check is :class:`~learndyn.verify.tier_b.Extrapolated`: the same observable at ``N = 100``
and ``N = 200`` (``SIZES``; ``SEEDS = 64`` independent realisations each, the replicate axis), the deviation from the
theory at each size's own ``α = P/N`` (so rounding ``αN`` is no error), extrapolated linearly in ``1/N`` to ``N = ∞``
(weights ``(−1, 2)``) and held to ``k·SE`` (``k`` = the Student-t quantile for 64 replicates with the tail of 5 normal
standard errors, 5.57; ``SE = √(SE₁₀₀² + 4 SE₂₀₀²)``) plus ``ROUNDING`` (``1e-12``: values that do not fluctuate at all,
such as ``E_t(∞)`` and ``E_g`` at ``k = 0``). The remainder after the fit is ``O(1/N²)``; measured against the fit at
``N = 400, 800`` (seeds 64/64/32/8, ``σ_w² = 2, σ_ε² = 0.1, σ_0² = 1``, ``α`` in {0.25, 0.5, 0.8, 1, 1.25, 2, 4}, ``t`` in
0.5…50, and GD to ``t = lr k = 800``) every (100, 200) extrapolation was within 1.7 of its standard errors of zero,
so the remainder is below the noise that sets the tolerance. Per-realisation relative standard deviations at
``N = 100`` are 0.2–2 % (``E_g``; larger at long times, near ``α = 1``), so the extrapolated SE is 0.03–0.4 % and the
tolerance 0.2–2 % of the theory; a 2 % error (every output ``× 1.02``, the clock 2 % fast) is caught at the
configurations where it is largest in units of the tolerance (``learndyn verify --power``). ``E_t`` and ``gd_training_error``
are compared in units of the initial training error ``σ_ε² + σ_w² + σ_0²`` (``Measurement.scale``), not relative: for
``α < 1`` ``E_t → 0`` exponentially and its relative finite-``N`` error is set by the smallest eigenvalue's edge
fluctuation, not ``1/N``.

**The window around α = 1.** ``E_g(∞)`` (and ``overtraining = E_g(∞) − min_t E_g``) diverges at ``α = 1`` through
``σ_ε² ∫ρ/λ``, and at finite ``N`` its mean is ``σ_ε² α/(1 − α − 1/N)`` (``α < 1``) or ``σ_ε²/(α − 1 − 1/N)`` (the mean
of an inverse Wishart matrix), a series in ``1/(N|1 − α|)``: the linear fit is good only where ``N|1 − α| ≫ 1``. The
limit checks therefore compare only points with ``|ln α| ≥ ln WINDOW`` (``WINDOW = 1.25``: ``α ≤ 0.8`` or ``α ≥ 1.25``),
with the fit's remainder on the inverse-Wishart term as an allowance (at most 0.2 % of ``E_g(∞)`` at the window's
edge). Finite times need no window: ``E_g(t)``, ``E_t(t)``, ``t_opt``, ``min_t E_g`` and GD to ``t = 800`` stay smooth
through ``α = 1`` (their integrands are bounded; the hard edge at ``λ ~ 1/N²`` is far below ``1/t``). The pinned cases
put ``α`` below 1 (0.25, 0.5, 0.8), above (1.25, 2, 4) and at and near 1 (0.95, 1).

**Spectral results.** ``mp_stieltjes``: ``(1/N) Σ 1/(λ + γ)`` per realisation (zeros included), extrapolated as above.
``mp_density``: the fraction of each realisation's eigenvalues in a bin of width a tenth of the bulk, divided by the
width, in four bins at 20–80 % of ``(λ₋, λ₊)``; the theory enters as the average of ``ρ`` over ``DENSITY_NODES`` midpoints of
the bin (midpoint rule, relative error ``~ρ''h²/(24·16²)``, below ``1e-5``), and deviations are relative to the
observed bin average. Eigenvalue counts in an interval fluctuate by ``O(√log N)``, not ``O(√N)``, so the same 64
realisations give 0.1–0.3 % standard errors.

**Cost.** One shared run per case (``SharedRun(spectra_run, …)``, every check declares the same cases): 4 points × 2
sizes × 64 spectra and the gates, about 5 s on one core; ``--examples 100`` runs the 2 pinned and 2 drawn cases. Power
measured with an independent quadrature of the same integrals standing in for the generated functions (``--examples
100``, seed 0; the smallest detected error of any variant): ``mp_density`` 1.1 %, ``generalisation_error`` 1.3 % (the
clock; outputs 0.07 %), ``training_error`` 0.5 % (clock), ``optimal_stopping_time`` 0.3 %, ``overtraining`` 0.17 %, the
others ≤ 0.1 % (``training_error_limit`` and the ``gd_*`` results at the round-off floor: ``E_t(∞)``, ``E_g`` at ``k = 0``
and ``E_t`` after convergence do not fluctuate at all).

**Validity maps** (``learndyn validity``). Every check declares the axis ``n`` (:data:`N_AXIS`): the map sets
``sizes["n"]`` to one number, and the run samples that size alone (:func:`map_size`) with :func:`map_realisations`
realisations, ``64·(200/N)²`` (so the standard error of a ``1/N`` effect is the same fraction of it at every ``N``;
at least 8, at most 64 × 64), from draws of their own; the map measures the mean deviation there, before the 1/N fit.
``generalisation_error_limit`` carries the exact finite-``N`` mean of ``E_g(∞)`` as the axis' prediction
(:func:`limit_at_finite_n`). The flow results (``generalisation_error``, ``training_error``) also declare the lr axis
(:data:`FLOW_LR_AXIS`): ``sizes["lr_lambda"]`` sets every point's ``lr`` to ``lr_lambda/λ₊`` (:func:`upper_edge`), the
run samples the largest size alone, and the observation is GD's exact-discrete error given ``X`` after ``k =
round(t/lr)`` steps against the flow theory at ``k·lr`` (:func:`gd_flow_steps`; the GD gate runs at that ``lr``), so the
deviation there is GD's departure from the flow on top of the finite-``N`` one at ``N = 200``; its convergence probe
is real GD (:func:`flow_diverges`). Without either size ``learndyn verify`` runs exactly as before.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import strategies as st

from learndyn.verify.tier_b import K_SE, Extrapolated, Measurement, SharedRun, SimulationCheck
from learndyn.verify.tier_b.comparison import student_k
from learndyn.verify.validity.axis import Axis, lr_axis

__all__ = ["SIMULATIONS", "CLAIM_CHECKS", "SIZES", "SEEDS", "WINDOW", "SpectraRun", "spectra_run", "spectrum",
           "conditional_generalisation", "conditional_training", "conditional_ridge", "stopping", "gd_gate",
           "ridge_gate", "case_points", "CASE_POINTS", "N_AXIS", "FLOW_LR_AXIS", "map_size", "map_realisations",
           "in_map", "upper_edge", "gd_flow_steps", "flow_diverges", "limit_at_finite_n"]

F64 = torch.float64
#: input dimensions of the 1/N fit, and realisations per size
SIZES = (100, 200)
SEEDS = 64
#: realisations per point on which GD and the ridge solve are checked against the exact solution (at SIZES[0])
GD_SEEDS = 2
GATE_RTOL = 1e-8
#: points (values of α and the rest) per case
BATCH = 4
#: flow times every E_g/E_t case is compared at (besides each point's own t), within the declared range 0.5…50
TIMES = (0.5, 2.0, 8.0, 50.0)
#: the limit results compare only α with |ln α| >= ln WINDOW
WINDOW = 1.25
#: values that do not fluctuate are held to this (round-off)
ROUNDING = 1e-12
ZERO_RTOL = 1e-10
#: mp_density: bin centres as fractions of the bulk, bin width as a fraction, midpoints per bin
DENSITY_BINS = ((0.05, 0.95), (0.05, 0.5), (0.5, 0.95))
DENSITY_NODES = 64
EXTRAPOLATED = Extrapolated()
#: validity maps along N (``learndyn validity <result> n``): ``sizes["n"]`` set to one number runs that size alone,
#: with :func:`map_realisations` realisations (at least the first bound, at most the second times ``sizes["seeds"]``)
#: from seeds of their own (``case seed + stride·N``, a stride apart from the map's per-seed shift, so no two
#: evaluations of one map share draws); in a map's runs (this axis or the lr axis) the GD and ridge gates run at
#: ``min(N, SIZES[0])``
MAP_REALISATIONS = (8, 64)
MAP_SEED_STRIDE = 104_729
#: the N axis: from the check's largest size down to 4 (``P = round(αN) ≥ 1`` at the smallest pinned ``α``, 0.25)
#: and up to 800 (a run there costs ~10 s on one core)
N_LO, N_HI = 4, 800
#: the parameters a case draws per point, by the result whose simulation range they come from
DRAWN = {"gd_generalisation_error": ("steps", "lr", "alpha", "sigma_w2", "sigma_eps2", "sigma_02"),
         "ridge_error": ("gamma",), "generalisation_error": ("t",)}


def _declaration(name: str):
    from learndyn.derive.registry import declaration

    return declaration(name)


#: the outputs of optimal_stopping_time (its declaration's ``stationary``)
STOPPING_OUTPUTS = ("t_opt", "min_error")


# -- the sampled spectra ------------------------------------------------------------------------------------------

def spectrum(n: int, alpha: float, seeds, device: str = "cpu", *, single_blas: bool = False,
             **sigmas) -> tuple[torch.Tensor, int]:
    """Eigenvalues of ``XᵀX`` of each realisation (``(S, n)``, descending, zeros last) and ``P``: those of the smaller
    Gram matrix (numpy's ``eigvalsh`` on the CPU, torch's elsewhere), padded with exact zeros when ``P < n``; values
    ``≤ ZERO_RTOL · λ_max`` are set to 0 (frozen modes). ``single_blas``: numpy's BLAS on one thread for the
    ``eigvalsh`` (where ``threadpoolctl`` is installed; a validity map's runs: on a loaded two-core machine OpenBLAS'
    threads made a 400 × 400 ``eigvalsh`` 1.3 s instead of 6 ms)."""
    from learndyn.verify.simulate import student_teacher_data

    data = student_teacher_data(n, alpha, list(seeds), device=device, **sigmas)
    X = data.X
    P = int(data.P[0])
    gram = X.mT @ X if P >= n else X @ X.mT
    if str(device).startswith("cpu"):
        with _blas_threads(1 if single_blas else None):
            lam = torch.from_numpy(np.linalg.eigvalsh(gram.numpy())).to(F64)
    else:
        lam = torch.linalg.eigvalsh(gram)
    lam = lam.flip(-1).clamp(min=0)
    if P < n:
        lam = torch.cat([lam, lam.new_zeros(lam.shape[0], n - P)], -1)
    lam = torch.where(lam <= ZERO_RTOL * lam[:, :1], torch.zeros_like(lam), lam)
    return lam, P


def _blas_threads(limit: int | None):
    """numpy's BLAS limited to ``limit`` threads in the block (no limit: ``None``, or without ``threadpoolctl``)."""
    import contextlib

    if limit is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (the test extra)
        return contextlib.nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")


def _split(lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    zero = lam == 0
    return zero, torch.where(zero, torch.ones_like(lam), lam)


def conditional_generalisation(lam: torch.Tensor, decay: torch.Tensor, S0, se) -> torch.Tensor:
    """``E[E_g | X]``: ``lam (…, N)``, ``decay`` (broadcasting, ``(…, N)``) ``d`` per mode; ``S0``, ``se`` broadcasting
    against the result (``(…)``)."""
    zero, safe = _split(lam)
    S0, se = (torch.as_tensor(v, dtype=lam.dtype, device=lam.device).unsqueeze(-1) for v in (S0, se))
    live = S0 * decay * decay + se * (1 - decay) ** 2 / safe
    per = torch.where(zero, S0.expand_as(live), live)
    return se.squeeze(-1) + per.mean(-1)


def conditional_training(lam: torch.Tensor, decay: torch.Tensor, P, S0, se) -> torch.Tensor:
    """``E[E_t | X] = (σ_ε²(P − rank) + Σ_{λ>0} d²(λ S0 + σ_ε²))/P``."""
    zero, safe = _split(lam)
    S0, se = (torch.as_tensor(v, dtype=lam.dtype, device=lam.device) for v in (S0, se))
    rank = (~zero).sum(-1).to(lam.dtype)
    live = torch.where(zero, torch.zeros_like(safe), decay * decay * (safe * S0.unsqueeze(-1) + se.unsqueeze(-1)))
    return (se * (P - rank) + live.sum(-1)) / P


def conditional_ridge(lam: torch.Tensor, gamma, sw, se) -> torch.Tensor:
    """``E[E_g | X]`` of the ridge solution ``w = (XᵀX + γ)⁻¹Xᵀy``: ``σ_ε² + (1/N) Σ (γ² σ_w² + λ σ_ε²)/(λ + γ)²`` (``σ_w²``
    on frozen modes, where the formula gives it too)."""
    g, sw, se = (torch.as_tensor(v, dtype=lam.dtype, device=lam.device).unsqueeze(-1) for v in (gamma, sw, se))
    return se.squeeze(-1) + ((g * g * sw + lam * se) / (lam + g) ** 2).mean(-1)


def stopping(lam: torch.Tensor, S0, se, iterations: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Per realisation, the time where ``E[E_g | X](t)`` has its minimum and the minimum: the root of
    ``dE/dt ∝ Σ_{λ>0} e^{−λt}(σ_ε²(1 − e^{−λt}) − λ S0 e^{−λt})`` (negative at ``t → 0``, positive at ``t → ∞`` when
    ``σ_ε² > 0``) by bisection in ``ln t`` on ``[1e-4, 1e8]``. ``lam (…, N)``; ``S0``, ``se`` broadcasting against
    ``(…)``."""
    zero, safe = _split(lam)
    S0, se = (torch.as_tensor(v, dtype=lam.dtype, device=lam.device) for v in (S0, se))
    shape = torch.broadcast_shapes(lam.shape[:-1], S0.shape, se.shape)
    S0x, sex = S0.expand(shape).unsqueeze(-1), se.expand(shape).unsqueeze(-1)

    # each realisation's slope times e^{λ_min t} (λ_min its smallest nonzero eigenvalue): the same sign, no underflow
    low = torch.where(zero, torch.full_like(lam, math.inf), lam).amin(-1, keepdim=True)

    def slope(t):
        tt = t.unsqueeze(-1)
        d = torch.exp(-safe * tt)
        rel = torch.exp(-(safe - low) * tt)
        return torch.where(zero, torch.zeros_like(d), rel * (sex * (1 - d) - safe * S0x * d)).sum(-1)

    lo = torch.full(shape, math.log(1e-4), dtype=lam.dtype, device=lam.device)
    hi = torch.full(shape, math.log(1e8), dtype=lam.dtype, device=lam.device)
    if bool((slope(torch.exp(hi)) <= 0).any()):
        raise RuntimeError("the generalisation error of a realisation still falls at t = 1e8")
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        up = slope(torch.exp(mid)) > 0
        hi, lo = torch.where(up, mid, hi), torch.where(up, lo, mid)
    t = torch.exp(0.5 * (lo + hi))
    return t, conditional_generalisation(lam, torch.exp(-lam * t.unsqueeze(-1)), S0, se)


# -- the gates: GD and the ridge solve against the exact solution at the realised draws ---------------------------

def gd_gate(point: dict, seeds, device: str = "cpu", n: int = SIZES[0]) -> float:
    """GD (:func:`~learndyn.verify.simulate.simulate_linear_student`) on ``seeds`` realisations at the point's ``lr`` for
    its ``steps``, against the exact-discrete solution (:func:`~learndyn.verify.simulate.exact_linear_student`) at
    the same draws; returns the largest relative difference of ``E_g`` and ``E_t`` and raises beyond ``GATE_RTOL``."""
    from learndyn.verify.simulate import exact_linear_student, simulate_linear_student, student_teacher_data

    data = student_teacher_data(n, point["alpha"], list(seeds), sigma_w2=point["sigma_w2"],
                                sigma_eps2=point["sigma_eps2"], sigma_02=point["sigma_02"], device=device)
    steps = int(point["steps"])
    record = sorted({0, steps // 4, steps // 2, steps})
    run = simulate_linear_student(data, float(point["lr"]), steps, record=record, frozen=False)
    exact = exact_linear_student(data, steps=record, lr=float(point["lr"]))
    err = max(float(((run.generalisation - exact.generalisation).abs() / exact.generalisation).max()),
              float(((run.training - exact.training).abs() / exact.training.clamp(min=1e-300)
                     ).where(exact.training > 1e-12 * (point["sigma_eps2"] + point["sigma_w2"]),
                             torch.zeros_like(exact.training)).max()))
    if not err <= GATE_RTOL:
        raise RuntimeError(f"GD departs from its exact-discrete solution by {err:.3g} (relative) at {point}")
    return err


def ridge_gate(point: dict, seeds, device: str = "cpu", n: int = SIZES[0]) -> float:
    """The ridge solution by a linear solve, ``(XᵀX + γ) w = Xᵀy``, against the mode formula at the realised draws
    (``e_v = (−γ w̄_v + g_v)/(λ_v + γ)``, ``g = VᵀXᵀε``); the largest relative difference of ``E_g``, raising beyond
    ``GATE_RTOL``."""
    from learndyn.verify.simulate import sample_spectrum, student_teacher_data

    data = student_teacher_data(n, point["alpha"], list(seeds), sigma_w2=point["sigma_w2"],
                                sigma_eps2=point["sigma_eps2"], device=device)
    g = float(point["gamma"])
    eye = torch.eye(n, dtype=data.X.dtype, device=data.X.device)
    w = torch.linalg.solve(data.X.mT @ data.X + g * eye, (data.X.mT @ data.y.unsqueeze(-1))).squeeze(-1)
    solved = ((w - data.w_bar) ** 2).mean(-1) + data.sigma_eps2
    spec = sample_spectrum(data)
    wbar = (spec.eigenvectors.mT @ data.w_bar.unsqueeze(-1)).squeeze(-1)
    e = (-g * wbar + spec.g) / (spec.eigenvalues + g)
    modes = (e * e).mean(-1) + data.sigma_eps2
    err = float(((solved - modes).abs() / modes).max())
    if not err <= GATE_RTOL:
        raise RuntimeError(f"the ridge solve departs from the mode formula by {err:.3g} (relative) at {point}")
    return err


# -- the shared run -------------------------------------------------------------------------------------------------

@dataclass
class SpectraRun:
    """The spectra of one case: ``lam[s]`` ``(S, B, N_s)`` at size ``SIZES[s]``, ``P`` and ``alpha`` ``(sizes, B)``
    (``α = P/N`` of each size), the points, and the gates' largest relative differences."""

    points: list
    sizes: tuple
    lam: list
    P: torch.Tensor
    alpha: torch.Tensor
    gates: dict = field(default_factory=dict)

    def column(self, name: str) -> torch.Tensor:
        return torch.tensor([float(p[name]) for p in self.points], dtype=F64, device=self.P.device)


def _seeds(case_seed: int, i: int, count: int) -> list[int]:
    base = (int(case_seed) * 1_000_003 + i * 10_007) % 2**62
    return [base + j for j in range(count)]


def spectra_run(case, sizes, device) -> SpectraRun:
    """Sample ``sizes["seeds"]`` spectra at every size for each point's ``α`` (independent draws per size), and run
    the GD and ridge gates on ``sizes["gd_seeds"]`` realisations per point. On one torch thread
    (:func:`~learndyn.verify.figures.threads.single_thread`): the many small Gram products and GD steps ran 8× slower
    with two threads on a loaded two-core machine (42 s against 5 s per case)."""
    from learndyn.verify.figures.threads import single_thread

    with single_thread():
        return _spectra_run(case, sizes, device)


def _spectra_run(case, sizes, device) -> SpectraRun:
    single = map_size(sizes)
    ns = (single,) if single is not None else tuple(int(n) for n in sizes.get("n", SIZES))
    count = int(sizes.get("seeds", SEEDS))
    gate_count = int(sizes.get("gd_seeds", GD_SEEDS))
    pts = case["points"]
    if "lr_lambda" in sizes:  # a validity map's lr axis: every point's lr is lr_lambda/λ₊
        pts = [dict(p, lr=float(sizes["lr_lambda"]) / upper_edge(float(p["alpha"]))) for p in pts]
    mapped = in_map(sizes)
    if single is not None:
        count = map_realisations(single, count)
    elif mapped:  # the lr axis: a map measures the deviation at the largest size alone (before the 1/N fit)
        ns = (max(ns),)
    stride = MAP_SEED_STRIDE if single is not None else 7919
    lams, Ps = [], []
    for n in ns:
        per, ps = [], []
        for i, p in enumerate(pts):
            lam, P = spectrum(n, float(p["alpha"]), _seeds(case["seed"] + stride * n, i, count), device,
                              single_blas=mapped)
            per.append(lam)
            ps.append(P)
        lams.append(torch.stack(per, 1))
        Ps.append(ps)
    P = torch.tensor(Ps, dtype=F64, device=device)
    alpha = P / torch.tensor(ns, dtype=F64, device=device).unsqueeze(1)
    gates = {"gd": 0.0, "ridge": 0.0}
    gate_n = min(ns[0], SIZES[0]) if mapped else ns[0]
    if gate_count:
        for i, p in enumerate(pts):
            seeds = _seeds(case["seed"] + 17, i, gate_count)
            gates["gd"] = max(gates["gd"], gd_gate(p, seeds, device, gate_n))
            gates["ridge"] = max(gates["ridge"], ridge_gate(p, seeds, device, gate_n))
    return SpectraRun(list(pts), ns, lams, P, alpha, gates)


def upper_edge(alpha: float) -> float:
    """``λ₊ = (1 + √α)²``, the upper edge of the bulk of ``XᵀX``: the largest Hessian eigenvalue of the summed loss
    as ``N → ∞`` (the ``λ_max`` of a validity map's ``lr·λ_max``)."""
    return (1 + math.sqrt(alpha)) ** 2


def map_size(sizes) -> int | None:
    """The one input dimension of a validity map's run (``sizes["n"]`` a number, set by :data:`N_AXIS`), else
    ``None`` (``sizes["n"]`` the sizes of the 1/N fit)."""
    n = sizes.get("n", SIZES)
    if isinstance(n, (int, float)) and not isinstance(n, bool):
        return int(n)
    return None


def map_realisations(n: int, seeds: int = SEEDS) -> int:
    """Realisations of a validity map's run at the one size ``n``: ``seeds·(N_ref/n)²`` (``N_ref = SIZES[-1]``, the
    size whose deviation the map starts from), at least ``MAP_REALISATIONS[0]`` and at most ``MAP_REALISATIONS[1]``
    times ``seeds``, so that the standard error of a linear statistic (``O(1/N)`` per realisation) is the same at
    every ``n`` as at ``N_ref`` with ``seeds`` (for ``n`` from 25 to 566 at ``seeds = 64``): near a contour it is the
    same fraction of the level wherever the contour lies, and a run costs ``~n`` rather than ``~n³`` above
    ``N_ref``."""
    lo, factor = MAP_REALISATIONS
    return int(min(max(round(seeds * (SIZES[-1] / n) ** 2), lo), factor * seeds))


def _where(run: SpectraRun, case, what: str) -> str:
    alphas = ", ".join(f"{float(p['alpha']):.3g}" for p in run.points)
    return (f"{what}: alpha {alphas}; N {run.sizes}, {run.lam[0].shape[0]} realisations each, seed {case['seed']}")


def _xs(run: SpectraRun) -> tuple[float, ...]:
    return tuple(1.0 / n for n in run.sizes)


def _stack(values) -> torch.Tensor:
    return torch.stack(list(values), 0)


def _args(run: SpectraRun, names, extra: int, keep=None) -> dict:
    """The theory's arguments: ``alpha`` per size and point ``(sizes, 1, B, 1…)``, the point's other parameters
    ``(1, 1, B, 1…)`` (``extra`` trailing axes), restricted to the points ``keep``."""
    keep = slice(None) if keep is None else keep
    tail = (1,) * extra
    out = {}
    for name in names:
        if name == "alpha":
            out[name] = run.alpha[:, keep].reshape(run.alpha.shape[0], 1, -1, *tail)
        else:
            out[name] = run.column(name)[keep].reshape(1, 1, -1, *tail)
    return out


def _sigmas(run: SpectraRun):
    sw, se, s0 = (run.column(k) for k in ("sigma_w2", "sigma_eps2", "sigma_02"))
    return sw, se, s0, sw + s0


def flow_times(run: SpectraRun) -> torch.Tensor:
    """``(B, T)``: each point's own ``t``, then ``TIMES``."""
    t = run.column("t").unsqueeze(1)
    return torch.cat([t, torch.tensor(TIMES, dtype=F64, device=t.device).expand(t.shape[0], -1)], 1)


def _flow(run: SpectraRun, training: bool) -> torch.Tensor:
    """``(sizes, S, B, T)`` conditional ``E_g`` or ``E_t`` at :func:`flow_times`."""
    t = flow_times(run)
    return _conditional(run, training, lambda lam: torch.exp(-lam.unsqueeze(-2) * t.unsqueeze(-1)))  # (S, B, T, N)


def _conditional(run: SpectraRun, training: bool, decay_of) -> torch.Tensor:
    """Each realisation's error given X for the per-mode decay ``decay_of(λ)`` (the flow's or GD's)."""
    sw, se, s0, S0 = _sigmas(run)
    out = []
    for s, lam in enumerate(run.lam):
        decay, l4 = decay_of(lam), lam.unsqueeze(-2)
        if training:
            out.append(conditional_training(l4, decay, run.P[s].view(1, -1, 1), S0.view(-1, 1), se.view(-1, 1)))
        else:
            out.append(conditional_generalisation(l4, decay, S0.view(-1, 1), se.view(-1, 1)))
    return _stack(out)


def _gd_decay(lr: torch.Tensor, k: torch.Tensor):
    """The per-mode decay ``(1 − lr λ)^k`` of GD, ``lr (B,)``, ``k (B, K)``: ``λ (S, B, N) -> (S, B, K, N)``."""
    def decay_of(lam):
        base = 1 - lr.view(1, -1, 1, 1) * lam.unsqueeze(-2)               # (S, B, 1, N)
        return torch.sign(base) ** k.unsqueeze(-1) * base.abs() ** k.unsqueeze(-1)
    return decay_of


def gd_flow_steps(run: SpectraRun) -> tuple[torch.Tensor, torch.Tensor]:
    """A validity map's lr axis on a flow result: per point, the steps ``k = max(1, round(t/lr))`` nearest each of
    :func:`flow_times` at the point's ``lr`` (``lr_lambda/λ₊``) and the flow time ``k·lr`` they reach, ``(B, T)``."""
    lr = run.column("lr").unsqueeze(1)
    k = torch.clamp(torch.round(flow_times(run) / lr), min=1)
    return k, k * lr


def observe_flow(name: str):
    training = name == "training_error"

    def observe(run: SpectraRun, case, sizes, device) -> Measurement:
        sw, se, s0, S0 = _sigmas(run)
        args = _args(run, ("alpha", "sigma_w2", "sigma_eps2", "sigma_02"), 1)
        scale = (se + S0).view(1, 1, -1, 1) if training else None
        if "lr_lambda" in sizes:  # a validity map's lr axis: GD (exact-discrete given X) against the flow at k·lr
            k, t = gd_flow_steps(run)
            args["t"] = t.unsqueeze(0).unsqueeze(0)
            return Measurement(args=args, observed={"value": _conditional(run, training, _gd_decay(run.column("lr"), k))},
                               replicate_dim=1, scale=scale, allowance=ROUNDING, extrapolation=(0, _xs(run)),
                               details={"gd_gate": run.gates.get("gd")},
                               where=_where(run, case, f"{name}, exact-discrete GD given X at lr·λ₊ = "
                                                       f"{sizes['lr_lambda']:.4g} (GD gate {run.gates.get('gd', 0):.1e}), "
                                                       f"k = round(t/lr) steps against the flow at k·lr, t = (own, {TIMES})"))
        args["t"] = flow_times(run).unsqueeze(0).unsqueeze(0)
        return Measurement(args=args, observed={"value": _flow(run, training)}, replicate_dim=1, scale=scale,
                           allowance=ROUNDING, extrapolation=(0, _xs(run)),
                           where=_where(run, case, f"{name}, exact flow given X, t = (own, {TIMES})"))
    return observe


def steps_grid(run: SpectraRun) -> torch.Tensor:
    """``(B, K)`` step counts: each point's ``steps``, half and an eighth of it."""
    k = run.column("steps").to(torch.int64).unsqueeze(1)
    return torch.cat([k, k // 2, k // 8], 1)


def _gd(run: SpectraRun, training: bool) -> torch.Tensor:
    return _conditional(run, training, _gd_decay(run.column("lr"), steps_grid(run).to(F64)))


def observe_gd(name: str):
    training = name == "gd_training_error"

    def observe(run: SpectraRun, case, sizes, device) -> Measurement:
        sw, se, s0, S0 = _sigmas(run)
        args = _args(run, ("alpha", "sigma_w2", "sigma_eps2", "sigma_02", "lr"), 1)
        args["steps"] = steps_grid(run).unsqueeze(0).unsqueeze(0)
        scale = (se + S0).view(1, 1, -1, 1) if training else None
        return Measurement(args=args, observed={"value": _gd(run, training)}, replicate_dim=1, scale=scale,
                           allowance=ROUNDING, extrapolation=(0, _xs(run)),
                           details={"gd_gate": run.gates.get("gd")},
                           where=_where(run, case, f"{name}, exact-discrete GD given X (GD gate "
                                                   f"{run.gates.get('gd', 0):.1e}), steps (k, k/2, k/8)"))
    return observe


def _outside_window(run: SpectraRun) -> torch.Tensor:
    a = run.column("alpha")
    return (a.log().abs() >= math.log(WINDOW) - 1e-12).nonzero().flatten()


def _inverse_wishart_remainder(run: SpectraRun, keep) -> torch.Tensor:
    """The remainder of the linear 1/N fit on ``σ_ε² (1/N) Σ 1/λ`` whose finite-``N`` mean is ``σ_ε² g(1/N)``,
    ``g(x) = α/(1 − α − x)`` or ``1/(α − 1 − x)``: ``|Σ w_i g(x_i) − g(0)|`` (the sizes' α taken at the larger size),
    per point."""
    from learndyn.verify.tier_b.comparison import lagrange_weights_at_zero

    a = run.alpha[-1, keep]
    xs = _xs(run)
    w = lagrange_weights_at_zero(xs)

    def g(x):
        return torch.where(a < 1, a / (1 - a - x), 1 / (a - 1 - x))
    return (sum(wi * g(xi) for wi, xi in zip(w, xs)) - g(0.0)).abs()


def _limits(run: SpectraRun, keep) -> torch.Tensor:
    sw, se, s0, S0 = _sigmas(run)
    out = []
    for lam in run.lam:
        l = lam[:, keep]
        out.append(conditional_generalisation(l, torch.zeros_like(l), S0[keep], se[keep]))
    return _stack(out)


def observe_limit(name: str):
    training = name == "training_error_limit"

    def observe(run: SpectraRun, case, sizes, device) -> list[Measurement]:
        sw, se, s0, S0 = _sigmas(run)
        names = ("alpha", "sigma_w2", "sigma_eps2", "sigma_02")
        if training:  # no window: E_t(∞) = σ_ε²(P − rank)/P is finite everywhere
            obs = _stack(conditional_training(lam, torch.zeros_like(lam), run.P[s].view(1, -1), S0, se)
                         for s, lam in enumerate(run.lam))
            return [Measurement(args=_args(run, names, 0), observed={"value": obs}, replicate_dim=1,
                                scale=(se + S0).view(1, 1, -1), allowance=ROUNDING, extrapolation=(0, _xs(run)),
                                where=_where(run, case, f"{name}, exact limit given X"))]
        keep = _outside_window(run)
        if keep.numel() == 0:
            return []
        obs = _limits(run, keep)
        ref = obs.mean(1, keepdim=True).abs()
        allowance = (se[keep] * _inverse_wishart_remainder(run, keep)).view(1, -1) / ref.mean(0).view(1, -1)
        return [Measurement(args=_args(run, names, 0, keep), observed={"value": obs}, replicate_dim=1,
                            allowance=allowance + ROUNDING, extrapolation=(0, _xs(run)),
                            where=_where(run, case, f"{name}, exact limit given X, |ln alpha| >= ln {WINDOW}"))]
    return observe


def _stopping(run: SpectraRun) -> tuple[torch.Tensor, torch.Tensor]:
    sw, se, s0, S0 = _sigmas(run)
    ts, ms = [], []
    for lam in run.lam:
        t, m = stopping(lam, S0, se)
        ts.append(t)
        ms.append(m)
    return _stack(ts), _stack(ms)


def observe_stopping(run: SpectraRun, case, sizes, device) -> Measurement:
    t, m = _stopping(run)
    names = STOPPING_OUTPUTS
    return Measurement(args=_args(run, ("alpha", "sigma_w2", "sigma_eps2", "sigma_02"), 0),
                       observed={names[0]: t, names[1]: m}, replicate_dim=1, allowance=ROUNDING,
                       extrapolation=(0, _xs(run)),
                       where=_where(run, case, "optimal_stopping_time, argmin of each realisation's E_g given X"))


def inverse_moment_control(lam: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """``(1/N) Σ_{λ>0} 1/λ`` of each realisation minus its exact finite-``N`` mean (a control variate of known mean 0):
    the nonzero eigenvalues of ``XᵀX`` are those of ``(1/N) ZᵀZ`` (``α > 1``) or ``(1/N) ZZᵀ`` (``α < 1``), ``Z`` standard
    Gaussian, whose inverse has mean ``I/(|P − N| − 1)`` (inverse Wishart), so the mean is ``N/(P − N − 1)`` or
    ``P/(N − P − 1)``. ``lam (S, B, N)``, ``P (B,)``."""
    n = lam.shape[-1]
    zero, safe = _split(lam)
    moment = torch.where(zero, torch.zeros_like(lam), 1 / safe).mean(-1)
    mean = torch.where(P > n, n / (P - n - 1), P / (n - P - 1))
    return moment - mean


#: overtraining's comparison: its standard errors are the control-variate estimator's (estimated from SEEDS runs with
#: one control), held to the Student-t multiple for those degrees of freedom
K_CONTROL = student_k(K_SE, SEEDS - 1)
EXTRAPOLATED_CONTROL = Extrapolated(k=K_CONTROL)


def observe_overtraining(run: SpectraRun, case, sizes, device) -> list[Measurement]:
    """``E_g(∞) − min_t E_g`` of each realisation given ``X``; its fluctuation is mostly that of ``σ_ε² (1/N) Σ 1/λ``,
    removed by the control variate :func:`inverse_moment_control` (:func:`~learndyn.verify.tier_b.estimators.control_variate_mean`)."""
    from learndyn.verify.tier_b.estimators import control_variate_mean

    keep = _outside_window(run)
    if keep.numel() == 0:
        return []
    sw, se, s0, S0 = _sigmas(run)
    _, m = _stopping(run)
    gap = _limits(run, keep) - m[:, :, keep]                               # (sizes, S, B')
    means, ses = [], []
    for s, lam in enumerate(run.lam):
        control = inverse_moment_control(lam[:, keep], run.P[s, keep])
        mean, se_ = control_variate_mean(gap[s], [control], dim=0)
        means.append(mean)
        ses.append(se_)
    mean, err = _stack(means), _stack(ses)                                  # (sizes, B')
    allowance = (se[keep] * _inverse_wishart_remainder(run, keep)).view(1, -1) / mean.abs().mean(0).view(1, -1)
    args = {k: v.squeeze(1) for k, v in _args(run, ("alpha", "sigma_w2", "sigma_eps2", "sigma_02"), 0, keep).items()}
    return [Measurement(args=args, observed={"value": mean}, standard_error={"value": err},
                        allowance=allowance + ROUNDING, extrapolation=(0, _xs(run)),
                        details={"raw_standard_error": (gap.std(1) / math.sqrt(gap.shape[1])).tolist()},
                        where=_where(run, case, f"overtraining, E_g(inf) - min_t E_g of each realisation (control "
                                                f"variate: the inverse-Wishart moment), |ln alpha| >= ln {WINDOW}"))]


def ridge_gammas(run: SpectraRun) -> torch.Tensor:
    """``(B, G)``: each point's ``γ``, the optimal ``σ_ε²/σ_w²``, and the ends of the declared range."""
    g = run.column("gamma").unsqueeze(1)
    opt = (run.column("sigma_eps2") / run.column("sigma_w2")).unsqueeze(1)
    ends = torch.tensor([0.05, 5.0], dtype=F64, device=g.device).expand(g.shape[0], -1)
    return torch.cat([g, opt, ends], 1)


def observe_ridge(run: SpectraRun, case, sizes, device) -> Measurement:
    sw, se, s0, S0 = _sigmas(run)
    g = ridge_gammas(run)
    obs = _stack(conditional_ridge(lam.unsqueeze(-2), g, sw.view(-1, 1), se.view(-1, 1)) for lam in run.lam)
    args = _args(run, ("alpha", "sigma_w2", "sigma_eps2"), 1)
    args["gamma"] = g.unsqueeze(0).unsqueeze(0)
    return Measurement(args=args, observed={"value": obs}, replicate_dim=1, allowance=ROUNDING,
                       extrapolation=(0, _xs(run)), details={"ridge_gate": run.gates.get("ridge")},
                       where=_where(run, case, f"ridge_error, ridge solution given X (solve gate "
                                               f"{run.gates.get('ridge', 0):.1e}), gamma (own, optimal, 0.05, 5)"))


def stieltjes_gammas(run: SpectraRun) -> torch.Tensor:
    g = run.column("gamma").unsqueeze(1)
    return torch.cat([g, torch.tensor([0.05, 0.5, 5.0], dtype=F64, device=g.device).expand(g.shape[0], -1)], 1)


def observe_stieltjes(run: SpectraRun, case, sizes, device) -> Measurement:
    g = stieltjes_gammas(run)
    obs = _stack((1 / (lam.unsqueeze(-2) + g.unsqueeze(-1))).mean(-1) for lam in run.lam)
    args = {"alpha": run.alpha.reshape(run.alpha.shape[0], 1, -1, 1), "gamma": g.unsqueeze(0).unsqueeze(0)}
    return Measurement(args=args, observed={"value": obs}, replicate_dim=1, allowance=ROUNDING,
                       extrapolation=(0, _xs(run)),
                       where=_where(run, case, "mp_stieltjes, (1/N) sum 1/(lam + gamma), gamma (own, 0.05, 0.5, 5)"))


def density_bins(alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bin edges ``lo, hi`` ``(…, K)`` at the fractions ``DENSITY_BINS`` of the bulk of each ``α``, and
    ``DENSITY_NODES`` midpoints per bin ``(…, K, M)``."""
    a = alpha.unsqueeze(-1)
    lower, upper = (1 - a.sqrt()) ** 2, (1 + a.sqrt()) ** 2
    ends = torch.tensor(DENSITY_BINS, dtype=F64, device=a.device)
    lo, hi = lower + (upper - lower) * ends[:, 0], lower + (upper - lower) * ends[:, 1]
    frac = (torch.arange(DENSITY_NODES, dtype=F64, device=a.device) + 0.5) / DENSITY_NODES
    return lo, hi, lo.unsqueeze(-1) + (hi - lo).unsqueeze(-1) * frac


def observe_density(run: SpectraRun, case, sizes, device) -> Measurement:
    obs, nodes = [], []
    for s, lam in enumerate(run.lam):
        lo, hi, x = density_bins(run.alpha[s])                            # (B, K), (B, K, M)
        l = lam.unsqueeze(-2)                                             # (S, B, 1, N)
        inside = ((l > lo.unsqueeze(-1)) & (l <= hi.unsqueeze(-1))).to(F64).sum(-1)
        obs.append(inside / lam.shape[-1] / (hi - lo))                   # (S, B, K)
        nodes.append(x)
    observed = _stack(obs).unsqueeze(-1).expand(-1, -1, -1, -1, DENSITY_NODES)
    scale = observed.mean(1, keepdim=True)
    args = {"lam": _stack(nodes).unsqueeze(1), "alpha": run.alpha.reshape(run.alpha.shape[0], 1, -1, 1, 1)}
    return Measurement(args=args, observed={"value": observed}, replicate_dim=1, reduce_dims=(-1,), scale=scale,
                       allowance=ROUNDING, extrapolation=(0, _xs(run)),
                       where=_where(run, case, f"mp_density, eigenvalue fractions in bins at {DENSITY_BINS} of the bulk"))


# -- cases ------------------------------------------------------------------------------------------------------------

def _point_strategy():
    from learndyn.verify.strategies import point_strategy

    parts = [point_strategy(_declaration(name), "sim", only=only) for name, only in DRAWN.items()]
    return st.tuples(*parts).map(lambda ds: {k: v for d in ds for k, v in d.items()})


def case_strategy(result=None):
    """A case: ``BATCH`` points (every parameter of the family's simulation ranges) and a seed; the same for every
    check, so their drawn cases, and the spectra they observe, coincide."""
    return st.fixed_dictionaries({"points": st.lists(_point_strategy(), min_size=BATCH, max_size=BATCH),
                                  "seed": st.integers(0, 2**31 - 1)})


def case_points(alphas, salt: int = 0) -> list[dict]:
    """Pinned points at the given ``α``: every other parameter takes the low end, the middle and the high end of its
    simulation range equally often over the points (a fixed shuffle per parameter, as
    :func:`~learndyn.verify.tier_b.cases.pinned_batch`)."""
    from learndyn.verify.tier_b.cases import sim_levels

    out = [{"alpha": float(a)} for a in alphas]
    j = 0
    for name, only in DRAWN.items():
        for p in only:
            if p == "alpha":
                continue
            levels = sim_levels(_declaration(name).param(p))
            column = [levels[i % len(levels)] for i in range(len(out))]
            random.Random(j + salt).shuffle(column)
            for point, v in zip(out, column):
                point[p] = int(v) if p == "steps" else float(v)
            j += 1
    return out


#: pinned cases: α below 1, above 1, and at and near 1 (the window's edges 0.8 and 1.25 included)
CASE_POINTS = ({"points": case_points((0.25, 0.5, 2.0, 4.0)), "seed": 61},
               {"points": case_points((0.8, 0.95, 1.0, 1.25), salt=3), "seed": 62})
SIZES_DECLARED = {"n": SIZES, "seeds": SEEDS, "gd_seeds": GD_SEEDS}
RUN = spectra_run


def n_axis(predicted=None, predicted_by: str = "") -> Axis:
    """The N axis of a validity map (``learndyn validity <result> n``): the input dimension, swept down from the
    check's largest size (where the map's deviation, the one before the 1/N fit, is measured) and up where the theory
    is off by more than 1 % there already; ``predicted``: the deviation at ``N`` where it is known exactly."""
    return Axis("n", "n", "sizes", "N (input dimension)", start=SIZES[-1], grows=False, lo=N_LO, hi=N_HI, integer=True,
                predicted=predicted, predicted_by=predicted_by, along="size")


N_AXIS = n_axis()


def limit_at_finite_n(m: Measurement, value: float) -> torch.Tensor:
    """The deviation of ``E_g(∞)`` at ``N = value`` from its limit, exactly (per configuration, relative): given ``X``
    it is ``σ_ε² + S0·(N − P)/N + σ_ε² (1/N) Σ_{λ>0} 1/λ``, and the inverse-Wishart mean of the last sum is
    ``g(1/N)``, ``g(x) = α/(1 − α − x)`` (``α < 1``) or ``1/(α − 1 − x)`` (``α > 1``), ``α = P/N`` (the theory's
    ``σ_ε² g(0)``), so the mean deviation is ``σ_ε² |g(1/N) − g(0)|`` over the theory."""
    import learndyn

    a = m.args
    alpha, se = a["alpha"], a["sigma_eps2"]

    def g(x: float) -> torch.Tensor:
        return torch.where(alpha < 1, alpha / (1 - alpha - x), 1 / (alpha - 1 - x))
    theory = learndyn.function("generalisation_error_limit", check=False)(**a)
    return torch.broadcast_to((se * (g(1.0 / value) - g(0.0)) / theory).abs(), torch.broadcast_shapes(
        alpha.shape, se.shape)).reshape(-1)


LIMIT_N_AXIS = n_axis(limit_at_finite_n, "the exact finite-N mean of E_g(inf) (inverse-Wishart moment)")

#: where GD leaves the flow (the flow results): ``sizes["lr_lambda"]`` = ``lr·λ₊`` (:func:`gd_flow_steps`), from
#: ``LR_START`` (0.5 % of the stability limit) up
LR_START = 0.01
#: the lr axis' convergence probe: real GD for this many steps
CONVERGENCE_STEPS = 1000


def flow_diverges(case, value: float, device) -> bool:
    """GD (:func:`~learndyn.verify.simulate.simulate_linear_student`, the real iteration) at ``lr·λ₊ = value`` for
    :data:`CONVERGENCE_STEPS` steps on ``GD_SEEDS`` realisations of every point at ``N = SIZES[-1]`` (where the lr
    map measures the deviation): whether some realisation's training error ends above where it started, or not
    finite. (At ``lr λ_max = 2(1 + ε)`` the top mode's share ``~1/N`` of ``E_t`` grows by ``(1 + 2ε)^{2k}``: ``ε`` of
    0.3 % is seen. The realised ``λ_max`` of ``XᵀX`` lies ``O(N^{-2/3})`` (Tracy–Widom) above or below ``λ₊``, so at
    finite ``N`` GD stops converging at ``lr·λ₊ = 2λ₊/λ_max``, a few per cent off 2.)"""
    from learndyn.verify.figures.threads import single_thread
    from learndyn.verify.simulate import simulate_linear_student, student_teacher_data

    with single_thread():
        for i, p in enumerate(case["points"]):
            data = student_teacher_data(SIZES[-1], float(p["alpha"]), _seeds(case["seed"] + 17, i, GD_SEEDS),
                                        sigma_w2=float(p["sigma_w2"]), sigma_eps2=float(p["sigma_eps2"]),
                                        sigma_02=float(p["sigma_02"]), device=device)
            run = simulate_linear_student(data, value / upper_edge(float(p["alpha"])), CONVERGENCE_STEPS,
                                          record=[0, CONVERGENCE_STEPS], frozen=False)
            start, end = run.training[0], run.training[-1]
            if not bool((torch.isfinite(end) & (end <= start)).all()):
                return True
    return False


FLOW_LR_AXIS = lr_axis(start=LR_START, diverges=flow_diverges)


def in_map(sizes) -> bool:
    """Whether ``sizes`` are a validity map's (:data:`N_AXIS` or the lr axis set)."""
    return map_size(sizes) is not None or "lr_lambda" in sizes


def _observed(observe):
    """``observe`` on one torch thread in a validity map's runs (on a loaded two-core machine two threads made the
    stopping times' bisection 6 s instead of 0.3 s), unchanged otherwise."""
    def run_observe(run, case, sizes, device):
        if not in_map(sizes):
            return observe(run, case, sizes, device)
        from learndyn.verify.figures.threads import single_thread

        with single_thread():
            return observe(run, case, sizes, device)
    run_observe.__name__ = run_observe.__qualname__ = getattr(observe, "__name__", "observe")
    run_observe.__doc__ = observe.__doc__
    return run_observe


def _check(result: str, title: str, observe, compare=EXTRAPOLATED, axes=(N_AXIS,)) -> SimulationCheck:
    return SimulationCheck(result=result, title=title, method="monte_carlo", simulate=SharedRun(RUN, _observed(observe)),
                           compare=compare, strategy=case_strategy, points=CASE_POINTS, sizes=SIZES_DECLARED,
                           examples_per_case=50, axes=tuple(axes))


def _checks() -> tuple[SimulationCheck, ...]:
    fit = "1/N fit over N = 100, 200"
    return (
        _check("mp_density", f"sampled X^T X spectra, bin fractions, {fit}", observe_density),
        _check("mp_stieltjes", f"sampled spectra, (1/N) tr (X^T X + gamma)^-1, {fit}", observe_stieltjes),
        _check("generalisation_error", f"exact flow per realisation, mean given X, {fit}",
               observe_flow("generalisation_error"), axes=(N_AXIS, FLOW_LR_AXIS)),
        _check("training_error", f"exact flow per realisation, mean given X, {fit}", observe_flow("training_error"),
               axes=(N_AXIS, FLOW_LR_AXIS)),
        _check("generalisation_error_limit", f"exact limit per realisation, |ln alpha| >= ln {WINDOW}, {fit}",
               observe_limit("generalisation_error_limit"), axes=(LIMIT_N_AXIS,)),
        _check("training_error_limit", f"exact limit per realisation, {fit}", observe_limit("training_error_limit")),
        _check("optimal_stopping_time", f"argmin of each realisation's E_g(t), {fit}", observe_stopping),
        _check("overtraining", f"E_g(inf) - min E_g per realisation, |ln alpha| >= ln {WINDOW}, {fit}",
               observe_overtraining, EXTRAPOLATED_CONTROL),
        _check("ridge_error", f"ridge solution per realisation (solve gate), mean given X, {fit}", observe_ridge),
        _check("gd_generalisation_error", f"GD = exact-discrete per realisation (gate), mean given X, {fit}",
               observe_gd("gd_generalisation_error")),
        _check("gd_training_error", f"GD = exact-discrete per realisation (gate), mean given X, {fit}",
               observe_gd("gd_training_error")),
    )


SIMULATIONS = _checks()


def __getattr__(name: str):
    """``CLAIM_CHECKS``: the family's claim checks (:mod:`learndyn.verify.families.generalisation_claims`)."""
    if name == "CLAIM_CHECKS":
        from learndyn.verify.families.generalisation_claims import GENERALISATION_CLAIMS

        return GENERALISATION_CLAIMS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
