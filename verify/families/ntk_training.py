"""Tier (b) of family 4's training results (``mse_train_prediction``, ``mse_test_prediction``,
``ntk_condition_number``, ``mean_prediction``), declared beside ``derive/families/ntk.py``;
``verify/families/ntk.py`` includes these checks.

The theory's setting is gradient flow on ``L = ‖f(X) − Y‖²_F/(2 n k)`` with the kernel fixed at ``Θ``: a wide
network's linearisation about its initialisation. The precise checks train exactly that — each network's own
linearisation (:mod:`learndyn.verify.simulate.ntk_linearised`: the tangent model of output 0, one parameter copy
per target column, so its kernel is ``Θ̂ ⊗ I_k``) — by full-batch GD, and compare with the theory evaluated at the
network's own empirical NTK ``Θ̂`` and initial outputs ``f0``. What separates GD from the flow is then only the
step size, removed by Richardson extrapolation in ``lr``; a second check trains the real networks
(:func:`~learndyn.verify.simulate.train_mse`) and allows for their distance from the linearisation.

* Step size. Each network is trained at ``lr = X_MAX n k / λ_max(Θ̂)`` (its fastest mode moves ``X_MAX`` of the way
  per step) and at ``lr/2`` for twice the steps; ``2 f(lr/2) − f(lr)`` is compared at the same flow times
  ``lr·t``. Per eigenmode ``x = lr λ/(n k) ≤ X_MAX``, GD gives ``(1 − x)^s`` for ``e^{−xs}``, and the extrapolation
  leaves ``R(x, τ) = 2(1 − x/2)^{2τ/x} − (1 − x)^{τ/x} − e^{−τ}``, with ``sup_τ |R| ≤ REMAINDER x²``
  (``REMAINDER = 0.046`` for ``x ≤ 0.05``; tests/test_ntk_training_checks.py computes it). Per element of the
  training outputs the remainder is at most ``REMAINDER X_MAX² ‖f0 − Y‖_F`` (``1.15e-4`` of that scale: the
  comparison's tolerance); the test outputs carry ``Θ_*X Θ⁻¹``, so ``|R(x)|/λ ≤ REMAINDER X_MAX²/λ_max`` per mode
  and the same tolerance holds in units of ``‖Θ_*X‖₂/λ_max · ‖f0 − Y‖_F``.
* Records. Step counts spread geometrically from 1 until the slowest mode has decayed by ``e^{−TAU_END}``
  (``s = TAU_END κ/X_MAX``): every mode is seen from barely moved to well decayed, which is where a wrong rate or a
  wrong clock shows (a 2 % fast clock moves a mode by ``0.02 τ e^{−τ}`` of its start, ``0.74 %`` at ``τ = 1``).
* ``ntk_condition_number``. The residual ``F(X) − Y`` projected on the extreme eigenvectors ``v_max``, ``v_min`` of
  ``Θ̂`` decays geometrically in GD; its decay time (the step at which the projection has fallen by ``e``,
  interpolated in ``log``) is ``T = −1/ln(1 − x)``, and ``T_slow/T_fast → λ_max/λ_min`` as ``lr → 0``. The ratio at
  ``lr`` and at ``lr/2`` is extrapolated; its relative remainder is at most ``KAPPA_REMAINDER = 4.5e-4`` for
  ``x ≤ 0.05`` (sup over ``x_min ≤ x_max``: ``x_max²/6`` to leading order), the tolerance.
* ``mean_prediction``. The networks come in antithetic pairs (the second with its readout layer negated: the same
  ``Θ̂``, ``f0 ↦ −f0``), so ``E f0 = 0`` holds exactly within a pair; each pair is trained to convergence at
  ``lr = n k/λ_max`` (GD's limit does not depend on ``lr``), and the pair's mean test output is
  compared with ``Θ̂_*X Θ̂⁻¹ Y`` at the pair's NTK. Tolerance, per element in units of the pair mean's norm: the
  distance left to the limit, at most ``‖Θ_*X‖₂ ‖r̄‖_F/λ_min`` for the pair's mean training residual ``r̄`` at
  the last step (the test outputs are ``Θ_*X Θ⁻¹ r̄`` from their limit; the run is long enough,
  ``(1 − 1/κ)^s ≤ 1e-12``, to make it negligible, and a pair further than ``UNCONVERGED = 1e-8`` from its limit is
  an error, not a larger tolerance), plus ``ROUND_OFF`` for the recursion's rounding.
* Real networks (``mse_*``, pinned cases). The same Richardson extrapolation of networks trained by
  :func:`~learndyn.verify.simulate.train_mse` (``k = 2`` outputs, the theory at output 0's ``Θ̂``), within the
  remainder above plus the lazy-training allowance ``(L + 1)/√N`` of ``‖f0 − Y‖_F`` (Lee et al. 2019: a width-``N``
  network stays ``O(1/√N)`` from its linearisation; the cross-output blocks that one ``Θ̂`` ignores are also
  ``O(1/√N)``; measured ``√N × error`` at most ``0.89`` for one hidden layer, widths 256 to 4096, and ``0.68`` for
  two at width 256). This check shows the theory holds for trained networks, and catches gross errors (a rate
  without its ``k``); its power is that allowance (alone it catches outputs 10 % off and a clock 41 % fast at width
  1024), the linearised checks' is below 0.1 %.

Data (every case): 8 training rows in ``d = 8`` normalised to ``K⁰_aa = 1``, two target columns (a random erf
teacher and its centred square), 4 test rows (:func:`mse_task`).

Validity maps: the linearised checks declare the lr axis (``sizes["lr_lambda"] = x``: every run of
:func:`tangent_runs` at ``lr = x n k/λ_max(Θ̂)``, the loss' Hessian in the tangent parameters being ``JᵀJ/(n k)``;
:func:`linearised_diverges` probes GD's limit ``x = 2``), the real networks the width axis (where they leave the
lazy regime).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from learndyn.verify.simulate.ntk_linearised import Linearisation, LinearisedRun, gradient_descent, linearise
from learndyn.verify.tier_b import OUTPUT, Measurement, Richardson, SharedRun, SimulationCheck, Statistical
from learndyn.verify.tier_b.observables import crossing_time
from learndyn.verify.validity.axis import Axis, lr_axis

__all__ = ["SIMULATIONS", "X_MAX", "REMAINDER", "KAPPA_REMAINDER", "TAU_END", "ROUND_OFF", "mse_task",
           "tangent_runs", "wide_runs"]

#: the fastest mode's step ``lr λ_max/(n k)`` in the Richardson runs
X_MAX = 0.05
#: ``sup_{x ≤ X_MAX, τ ≥ 0} |R(x, τ)|/x²``, the Richardson remainder of one mode (module docstring)
REMAINDER = 0.046
#: the relative Richardson remainder of the decay-time ratio at ``x_max = X_MAX`` (module docstring)
KAPPA_REMAINDER = 4.5e-4
#: the slowest mode's flow time at the last record
TAU_END = 3.0
#: the rounding of a converged GD recursion, relative (measured: below 1e-12)
ROUND_OFF = 1e-10
#: the convergence run's length: the slowest mode's factor ``(1 − 1/κ)^s`` at most this
CONVERGED = 1e-12
#: a pair whose distance to GD's limit is not below this (relative) failed to converge: an error, not a tolerance
UNCONVERGED = 1e-8
RECORDS = 24
MAX_STEPS = 20000

#: the simulation ranges of the drawn cases (erf in both phases, ReLU below and near its critical point; ``σ_b² ≤
#: 0.2`` keeps ``κ ≤ 300`` for ``L ≤ 3`` on these inputs)
ACTIVATIONS = ("erf", "relu")
HIDDEN_LAYERS = (1, 3)
SIGMA_W2 = {"erf": (0.5, 8.0), "relu": (0.5, 2.5)}
SIGMA_B2 = (0.01, 0.2)

#: pinned cases: erf near its critical line and in both phases, ReLU at depth 2 (the legacy check's), erf chaotic deep
POINTS = (
    {"activation": "erf", "hidden_layers": 1, "sigma_w2": 2.5, "sigma_b2": 0.1, "seed": 0},
    {"activation": "relu", "hidden_layers": 2, "sigma_w2": 2.0, "sigma_b2": 0.1, "seed": 1},
    {"activation": "erf", "hidden_layers": 2, "sigma_w2": 0.5, "sigma_b2": 0.05, "seed": 2},
    {"activation": "erf", "hidden_layers": 3, "sigma_w2": 6.0, "sigma_b2": 0.05, "seed": 3},
)
SIZES = {"width": 512, "networks": 4}
GPU_SIZES = {"width": 2048, "networks": 8}

#: real networks: pinned cases only (every network trains ``s`` steps at ``lr`` and ``2s`` at ``lr/2``, ``s = TAU_END κ/x_max``)
WIDE_POINTS = (
    {"activation": "erf", "hidden_layers": 1, "sigma_w2": 2.5, "sigma_b2": 0.1, "seed": 0},
    {"activation": "relu", "hidden_layers": 1, "sigma_w2": 2.0, "sigma_b2": 0.1, "seed": 1},
)
WIDE_SIZES = {"width": 1024, "networks": 4, "x_max": 0.1}
WIDE_GPU_SIZES = {"width": 4096, "networks": 8}
#: the largest step ``lr λ_max(Θ̂)/(n k)`` of a real network (sized from the infinite-width NTK) the bound covers
WIDE_X_BOUND = 0.2
#: ``sup_{x ≤ WIDE_X_BOUND, τ} |R(x, τ)|/x²`` (0.0518)
WIDE_REMAINDER = 0.052


def mse_task(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_train (8, 8), y_train (8, 2), x_test (4, 8))``: rows normalised to ``K⁰_aa = 1``; targets a random erf
    teacher (:func:`learndyn.verify.families.ntk_claims.teacher_task`) and its centred square."""
    from learndyn.verify.families.ntk_claims import teacher_task

    x_train, y, x_test = teacher_task(seed, d=8, n_train=8, n_test=4)
    y2 = y.square()
    return x_train, torch.cat([y, y2 - y2.mean()], dim=1), x_test


def geometric_records(last: int, count: int = RECORDS) -> list[int]:
    """``0`` and about ``count`` step counts spread geometrically over ``[1, last]``."""
    grid = torch.logspace(0, math.log10(max(last, 1)), count, dtype=torch.float64)
    return sorted({0, last} | {int(round(v)) for v in grid.tolist()})


# -- the linearised networks, shared by the four results --------------------------------------------------------

@dataclass(frozen=True)
class TangentRuns:
    """One case's linearised networks and their GD runs: at ``lr`` (``coarse``) and ``lr/2`` (``fine``, recorded at
    twice the step counts), and to convergence (``converged``: last record only, run when first read — only
    ``mean_prediction`` reads it)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    lin: Linearisation
    lr: torch.Tensor
    coarse: LinearisedRun
    fine: LinearisedRun
    converge_lr: torch.Tensor
    converge_steps: int
    where: str

    @functools.cached_property
    def converged(self) -> LinearisedRun:
        return gradient_descent(self.lin, self.y_train, lr=self.converge_lr, steps=self.converge_steps,
                                record=[self.converge_steps])


def _where(case) -> str:
    return (f"{case['activation']}, hidden_layers={case['hidden_layers']}, sigma_w2={case['sigma_w2']:.4g}, "
            f"sigma_b2={case['sigma_b2']:.4g}, seed {case['seed']}")


@functools.lru_cache(maxsize=16)
def _linearisation(seed: int, hidden_layers: int, sigma_w2: float, sigma_b2: float, activation: str, width: int,
                   networks: int, device: str) -> Linearisation:
    """The linearised networks of one case (a validity map runs the same case at many step sizes: it is linearised
    once; read only)."""
    x_train, y, x_test = mse_task(seed)
    return linearise(x_train, x_test, hidden_layers=hidden_layers, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                     activation=activation, width=width, outputs=y.shape[1], networks=networks, seed=seed,
                     antithetic=True, device=device)


def _linearised_case(case, sizes, device) -> Linearisation:
    return _linearisation(int(case["seed"]), int(case["hidden_layers"]), float(case["sigma_w2"]),
                          float(case["sigma_b2"]), str(case["activation"]), int(sizes["width"]),
                          int(sizes["networks"]), str(device))


def tangent_runs(case, sizes, device) -> TangentRuns:
    """The linearised networks of ``case`` trained at ``lr``, ``lr/2`` and to convergence (one run shared by the
    four results' checks: :class:`~learndyn.verify.tier_b.SharedRun`)."""
    device = str(device)
    x_train, y, x_test = mse_task(case["seed"])
    n, k = y.shape
    lin = _linearised_case(case, sizes, device)
    lam = torch.linalg.eigvalsh(lin.ntk_train_train)  # sizing only: step sizes and run lengths
    lam_min, lam_max = lam[:, 0], lam[:, -1]
    if not bool((lam_min > 0).all()):
        raise RuntimeError("an empirical NTK is singular: no mode-by-mode comparison")
    kappa = float((lam_max / lam_min).max())
    last = min(MAX_STEPS, int(math.ceil(TAU_END * kappa / X_MAX)))
    # a validity map's lr axis: every run at x = lr λ_max(Θ̂)/(n k) = sizes["lr_lambda"] (the loss' Hessian in the
    # tangent model's parameters is JᵀJ/(n k), whose largest eigenvalue is λ_max(Θ̂)/(n k)), recorded at the flow
    # times of the check's own runs
    x = sizes.get("lr_lambda")
    if x is None:
        lr = X_MAX * n * k / lam_max
    else:
        lr = x * n * k / lam_max
        last = max(1, int(math.ceil(last * X_MAX / x)))
    records = geometric_records(last)
    coarse = gradient_descent(lin, y, lr=lr, steps=last, record=records)
    fine = gradient_descent(lin, y, lr=lr / 2, steps=2 * last, record=[2 * r for r in records])
    converge_lr = n * k / lam_max  # x = 1 for the fastest mode: half the stable step, so a wrong lr stays stable
    rho = 1 - 1 / kappa
    if x is not None:
        converge_lr = x * n * k / lam_max
        rho = max(abs(1 - x / kappa), abs(1 - x))  # the slowest-decaying mode's factor per step
    converge_steps = (min(MAX_STEPS, int(math.ceil(math.log(CONVERGED) / math.log(rho)))) if 0 < rho < 1
                      else (1 if x is None else MAX_STEPS))
    return TangentRuns(x_train, y, x_test, lin, lr, coarse, fine, converge_lr, converge_steps,
                       _where(case) + f", width {sizes['width']}")


def observe_train(r: TangentRuns, case, sizes, device) -> list[Measurement]:
    """Training outputs of each linearised network at ``lr`` and ``lr/2`` (Richardson), scale ``‖f0 − Y‖_F``."""
    t = r.coarse.steps.to(torch.float64)
    out = []
    for i in range(r.lin.f0_train.shape[0]):
        f0 = r.lin.f0_train[i]
        out.append(Measurement(
            args=dict(t=t, lr=r.lr[i], ntk_train_train=r.lin.ntk_train_train[i], y_train=r.y_train, f0_train=f0),
            observed={OUTPUT: r.coarse.f_train[i]}, fine={OUTPUT: r.fine.f_train[i]}, reduce_dims=(0, 1, 2),
            scale=(f0 - r.y_train).norm(), where=f"{r.where}, linearised network {i}"))
    return out


def observe_test(r: TangentRuns, case, sizes, device) -> list[Measurement]:
    """Test outputs of each linearised network at ``lr`` and ``lr/2`` (Richardson), scale
    ``‖Θ_*X‖₂/λ_max · ‖f0 − Y‖_F``."""
    t = r.coarse.steps.to(torch.float64)
    out = []
    for i in range(r.lin.f0_train.shape[0]):
        tt, st_ = r.lin.ntk_train_train[i], r.lin.ntk_test_train[i]
        f0 = r.lin.f0_train[i]
        scale = torch.linalg.matrix_norm(st_, ord=2) / torch.linalg.eigvalsh(tt)[-1] * (f0 - r.y_train).norm()
        out.append(Measurement(
            args=dict(t=t, lr=r.lr[i], ntk_test_train=st_, ntk_train_train=tt, y_train=r.y_train, f0_train=f0,
                      f0_test=r.lin.f0_test[i]),
            observed={OUTPUT: r.coarse.f_test[i]}, fine={OUTPUT: r.fine.f_test[i]}, reduce_dims=(0, 1, 2),
            scale=scale, where=f"{r.where}, linearised network {i}"))
    return out


def decay_time(steps: torch.Tensor, residual: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """The step at which ``‖directionᵀ residual_s‖`` (residual (R, n, k) at ``steps`` (R,)) has fallen by ``e``,
    interpolated linearly in its logarithm (exact for a geometric decay)."""
    p = torch.einsum("n,rnk->rk", direction, residual).norm(dim=-1)
    if not bool(p[0] > 1e-8 * residual[0].norm()):
        raise RuntimeError("the residual has no component along an extreme eigenvector to follow")
    decayed = torch.log(p[0] / p)
    t = crossing_time(steps.to(torch.float64), decayed, torch.ones((), dtype=torch.float64), lambda v: v)
    if bool(t.isnan()):
        raise RuntimeError("a mode did not decay by e within the run")
    return t


def observe_condition(r: TangentRuns, case, sizes, device) -> list[Measurement]:
    """``T_slow/T_fast`` of each linearised network's residual along ``Θ̂``'s extreme eigenvectors, at ``lr`` and
    ``lr/2`` (Richardson; relative)."""
    out = []
    for i in range(r.lin.f0_train.shape[0]):
        tt = r.lin.ntk_train_train[i]
        vecs = torch.linalg.eigh(tt).eigenvectors  # the directions to follow (eigenvalues are not used)
        ratios = []
        for run, steps in ((r.coarse, r.coarse.steps), (r.fine, r.fine.steps)):
            residual = run.f_train[i] - r.y_train
            ratios.append((decay_time(steps, residual, vecs[:, 0]) / decay_time(steps, residual, vecs[:, -1])).view(1))
        out.append(Measurement(args=dict(ntk_train_train=tt), observed={OUTPUT: ratios[0]}, fine={OUTPUT: ratios[1]},
                               where=f"{r.where}, linearised network {i}"))
    return out


def observe_mean(r: TangentRuns, case, sizes, device) -> list[Measurement]:
    """The mean converged test output of each antithetic pair of linearised networks against the theory at the
    pair's NTK; deterministic, within the distance left to the limit plus ``ROUND_OFF`` (module docstring)."""
    out = []
    f_train, f_test = r.converged.f_train[:, -1], r.converged.f_test[:, -1]
    for p in range(f_test.shape[0] // 2):
        a, b = 2 * p, 2 * p + 1
        tt, st_ = r.lin.ntk_train_train[a], r.lin.ntk_test_train[a]
        mean = (f_test[a] + f_test[b]) / 2
        # the pair's mean residual r̄ = Y − f̄(X) is what is left of the flow, and the test outputs are Θ_*X Θ⁻¹ r̄
        # from their limit: at most ‖Θ_*X‖₂ ‖r̄‖/λ_min
        residual = r.y_train - (f_train[a] + f_train[b]) / 2
        left = float(torch.linalg.matrix_norm(st_, ord=2) / torch.linalg.eigvalsh(tt)[0] * residual.norm())
        scale = mean.norm()
        if left > UNCONVERGED * float(scale):
            raise RuntimeError(f"antithetic pair {p} is {left / float(scale):.3g} of its norm from GD's limit after "
                               f"{r.converge_steps} steps: not converged")
        out.append(Measurement(args=dict(ntk_test_train=st_, ntk_train_train=tt, y_train=r.y_train),
                               observed={OUTPUT: mean}, scale=scale, allowance=left / float(scale) + ROUND_OFF,
                               where=f"{r.where}, antithetic pair {p} after {r.converge_steps} steps"))
    return out


# -- real networks ----------------------------------------------------------------------------------------------

def wide_runs(case, sizes, device):
    """Real networks of ``case`` trained by GD at ``lr`` and ``lr/2`` (one run shared by the train and test checks:
    :class:`~learndyn.verify.tier_b.SharedRun`)."""
    from learndyn.verify.simulate import train_mse
    import learndyn

    device = str(device)
    x_train, y, x_test = mse_task(case["seed"])
    n, k = y.shape
    kw = dict(hidden_layers=case["hidden_layers"], sigma_w2=case["sigma_w2"], sigma_b2=case["sigma_b2"],
              activation=case["activation"])
    # sizing from the infinite-width kernel (another result): the networks' own λ_max is known only after
    lam = torch.linalg.eigvalsh(learndyn.function("ntk_kernel", check=False)(x_train, None, **kw))
    lr = sizes["x_max"] * n * k / float(lam[-1])
    last = min(MAX_STEPS, int(math.ceil(TAU_END * float(lam[-1] / lam[0]) / sizes["x_max"])))
    records = geometric_records(last)
    runs = [train_mse(x_train, y, x_test, **kw, width=sizes["width"], lr=lr / m, steps=m * last,
                      record=[m * s for s in records], networks=sizes["networks"], seed=case["seed"], device=device)
            for m in (1, 2)]
    return x_train, y, x_test, lr, runs, _where(case) + f", width {sizes['width']}"


def _observe_wide(runs, case, sizes, test: bool) -> list[Measurement]:
    x_train, y, x_test, lr, (coarse, fine), where = runs
    t = coarse.steps.to(torch.float64)
    lazy = (case["hidden_layers"] + 1) / math.sqrt(sizes["width"])
    out = []
    for i in range(coarse.f0_train.shape[0]):
        tt, st_, f0 = coarse.ntk_train_train[i], coarse.ntk_test_train[i], coarse.f0_train[i]
        lam_max = torch.linalg.eigvalsh(tt)[-1]
        x = float(lr * lam_max) / y.numel()
        if x > WIDE_X_BOUND:
            raise RuntimeError(f"the step lr λ_max/(n k) = {x:.3g} left the range of the remainder bound "
                               f"({WIDE_X_BOUND})")
        if test:  # the step-size remainder of the test outputs carries ‖Θ_*X‖₂/λ_max (module docstring)
            extrapolated = 2 * fine.f_test[i] - coarse.f_test[i]
            remainder = WIDE_REMAINDER * x**2 * float(torch.linalg.matrix_norm(st_, ord=2) / lam_max)
            args = dict(t=t, lr=lr, ntk_test_train=st_, ntk_train_train=tt, y_train=y, f0_train=f0,
                        f0_test=coarse.f0_test[i])
        else:
            extrapolated = 2 * fine.f_train[i] - coarse.f_train[i]
            remainder = WIDE_REMAINDER * x**2
            args = dict(t=t, lr=lr, ntk_train_train=tt, y_train=y, f0_train=f0)
        out.append(Measurement(args=args, observed={OUTPUT: extrapolated}, scale=(f0 - y).norm(),
                               allowance=remainder + lazy, where=f"{where}, network {i}"))
    return out


def observe_wide_train(runs, case, sizes, device) -> list[Measurement]:
    """Richardson-extrapolated training outputs of real networks against the theory at their own ``Θ̂``
    (output 0) and ``f0``, within the step-size remainder plus the lazy-training allowance ``(L + 1)/√N`` of
    ``‖f0 − Y‖_F`` (module docstring)."""
    return _observe_wide(runs, case, sizes, test=False)


def observe_wide_test(runs, case, sizes, device) -> list[Measurement]:
    """As :func:`observe_wide_train` for the test outputs (the remainder in units of ``‖f0 − Y‖_F`` carries
    ``‖Θ_*X‖₂/λ_max``)."""
    return _observe_wide(runs, case, sizes, test=True)


#: the linearised checks observe one run per case, and so do the two real-network checks
simulate_train = SharedRun(tangent_runs, observe_train)
simulate_test = SharedRun(tangent_runs, observe_test)
simulate_condition = SharedRun(tangent_runs, observe_condition)
simulate_mean = SharedRun(tangent_runs, observe_mean)
simulate_wide_train = SharedRun(wide_runs, observe_wide_train)
simulate_wide_test = SharedRun(wide_runs, observe_wide_test)


# -- the declarations ---------------------------------------------------------------------------------------------

def case_strategy(result) -> st.SearchStrategy:
    """A case: activation, hidden layers, ``σ_w²`` (log-uniform in the activation's range), ``σ_b²`` (log-uniform)
    and a seed (the data's and the networks')."""
    def log_uniform(lo: float, hi: float) -> st.SearchStrategy:
        return st.floats(math.log(lo), math.log(hi)).map(math.exp)

    def build(activation: str) -> st.SearchStrategy:
        return st.fixed_dictionaries({
            "activation": st.just(activation), "hidden_layers": st.integers(*HIDDEN_LAYERS),
            "sigma_w2": log_uniform(*SIGMA_W2[activation]), "sigma_b2": log_uniform(*SIGMA_B2),
            "seed": st.integers(0, 2**31 - 1)})
    return st.sampled_from(ACTIVATIONS).flatmap(build)


#: the validity map's divergence probe: steps of GD from the initial outputs, and the growth of the training
#: residual beyond its start that counts as diverged
DIVERGENCE_STEPS = 4000
DIVERGED = 1e3


def linearised_diverges(case, value: float, device) -> bool:
    """GD at ``lr λ_max(Θ̂)/(n k) = value`` on the linearised networks of ``case`` (the check's sizes) for
    :data:`DIVERGENCE_STEPS` steps: whether some network's training residual ends :data:`DIVERGED` times above where
    it started (or not finite). Every mode decays by ``|1 − x λ/λ_max|`` per step, so this happens just above
    ``x = 2`` (a residual growing by ``1.002`` per step gains ``e^8``), and not below."""
    _, y, _ = mse_task(case["seed"])
    lin = _linearised_case(case, SIZES, str(device))
    lam_max = torch.linalg.eigvalsh(lin.ntk_train_train)[:, -1]
    # GD on the tangent model as :func:`gradient_descent` runs it, in function space: the training residual
    # r = F(X) − Y moves by r ← r − lr Θ̂ r/(n k) (the gradient of L in F(X) is r/(n k)); plain steps, no autograd
    step = (value / lam_max).view(-1, 1, 1) * lin.ntk_train_train  # lr Θ̂/(n k)
    r = lin.f0_train - y
    start = r.flatten(1).norm(dim=1)
    for _ in range(DIVERGENCE_STEPS):
        r = r - step @ r
    end = r.flatten(1).norm(dim=1)
    return not bool((torch.isfinite(end) & (end <= DIVERGED * start)).all())


def _lr_axes(start: float = X_MAX) -> tuple[Axis, ...]:
    """The lr axis of a linearised check (``sizes["lr_lambda"]``, :func:`tangent_runs`), from its own ``x``."""
    return (lr_axis(start=start, diverges=linearised_diverges),)


def _linearised(result: str, title: str, simulate, compare, axes: tuple = ()) -> SimulationCheck:
    return SimulationCheck(result=result, title=title, method="gd_linearised", simulate=simulate, compare=compare,
                           strategy=case_strategy, points=POINTS, sizes=SIZES, gpu_sizes=GPU_SIZES,
                           examples_per_case=10, axes=axes or _lr_axes())


#: the real networks' width axis: where they leave the lazy (NTK) regime as the width falls; it also goes up from the
#: check's own width, which is already past the 1 % level (the measured ``√N ×`` error reaches ``0.89``)
WIDE_WIDTH_AXIS = Axis("width", "width", "sizes", "width N", start=WIDE_SIZES["width"], grows=False, lo=16.0,
                       hi=16.0 * WIDE_SIZES["width"], integer=True)


def _wide(result: str, simulate) -> SimulationCheck:
    return SimulationCheck(result=result, title="GD, wide networks, Richardson + lazy allowance", method="gd",
                           simulate=simulate, compare=Statistical(), strategy=case_strategy,
                           points=WIDE_POINTS, sizes=WIDE_SIZES, gpu_sizes=WIDE_GPU_SIZES, examples_per_case=10**9,
                           axes=(WIDE_WIDTH_AXIS,))


RICHARDSON = Richardson(tol=REMAINDER * X_MAX**2)

SIMULATIONS = (
    _linearised("mse_train_prediction", "GD, linearised networks, Richardson", simulate_train, RICHARDSON),
    _wide("mse_train_prediction", simulate_wide_train),
    _linearised("mse_test_prediction", "GD, linearised networks, Richardson", simulate_test, RICHARDSON),
    _wide("mse_test_prediction", simulate_wide_test),
    _linearised("ntk_condition_number", "GD, linearised networks, decay-time ratio, Richardson", simulate_condition,
                Richardson(tol=KAPPA_REMAINDER)),
    _linearised("mean_prediction", "GD to convergence, antithetic pairs of linearised networks", simulate_mean,
                Statistical(), axes=_lr_axes(1.0)),
)
