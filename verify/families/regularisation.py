"""Tier (b) of family 2 (regularisation), declared beside ``derive/families/regularisation.py``; and its claims.

* ``weight_decay_trajectory``, ``dae_trajectory`` (marginalised noise): deterministic GD (a two-layer linear network
  with the decay penalty written out; the linear autoencoder with the marginalised noise penalty) at ``lr`` and
  ``lr/2``, Richardson ``2u(lr/2) − u(lr)`` against the theory within ``1e-3`` of the mode's scale, the error first
  order in ``lr`` (family 1's scheme: ``lr·λ_max ≤ 0.05`` keeps the ``O(lr²)`` remainder below ``3e-4``).
* ``dae_trajectory`` (sampled noise): the autoencoder with noise drawn afresh every step, independent replicas; the
  replica mean is ``E[u](lr) = u + c·lr + O(lr²)`` (Euler error and the ``O(lr/P)`` bias of the fluctuations), so
  Richardson applies to means, with ``5 SE`` of the extrapolated mean on top of the ``1e-3``.
* ``noise_equivalent_decay``: measured without the theory. GD's fixed points are the flow's (they do not depend on
  ``lr``), and the decayed, noise-free autoencoder's fixed point is affine in the decay, ``u*(γ) = 1 − γ/λ``; so the
  fixed points at three decays (two for the line, the third to confirm it is a line, to ``1e-9``) and that of the
  run with noise ``eps`` and no decay give the decay with the noisy run's fixed point by linear interpolation,
  exactly up to convergence and round-off. That measured decay is compared with ``noise_equivalent_decay(lam, eps)``.
* ``dropout_expected_time``, ``dropout_time_bound``: a step with ``d = 0`` leaves the weights unchanged, so a run
  hits the level after exactly ``K`` active steps (``K`` those of the always-on run; asserted run by run) and its
  hitting time ``T`` is negative binomial, ``E[T] = K/p`` exactly, ``Var T = K(1 − p)/p²``. ``T̄/K`` therefore
  estimates the clock factor ``1/p`` with a known standard error, and the flow's active time ``A`` (in steps at
  ``lr``) comes from the always-on run's crossing time (interpolated in the logit), Richardson-extrapolated twice:
  ``A_R = 2A(lr/4) − A(lr/2)``, with the next-coarser extrapolation's distance ``|A_R − (2A(lr/2) − A(lr))|``
  (three times ``A_R``'s estimated ``O(lr²)`` remainder) as its bias bound. The measurement ``Ê = A_R T̄/K`` is held
  to ``dropout_expected_time`` within ``5 SE`` plus that bound, and ``dropout_time_bound`` must lie above
  ``Ê + 5 SE +`` the bound (decidable for ``margin`` in ``[0.2 s, 0.3 s]``, where the bound exceeds the expectation
  by 16–42 %).
* ``dropout_trajectory``, ``inverted_dropout_trajectory``: the mean of ``u`` over runs with sampled masks at ``lr``
  and ``lr/2``, Richardson as above. After ``t`` steps a run has made ``A_t ~ Binomial(t, p)`` active steps and its
  ``u`` is a smooth function of ``A_t``; ``A_t − tp`` and ``(A_t − tp)² − tp(1 − p)`` have known mean 0, so they are
  control variates (:func:`~learndyn.verify.tier_b.estimators.control_variate_mean`) that remove nearly all of the
  mask noise from the mean. Their known mean is a premise, checked on the runs (a mask sampler off its ``p`` would
  otherwise be corrected back to ``p`` unseen).

Validity maps (``learndyn validity``, :mod:`learndyn.verify.validity`): every GD trajectory and hitting-time check
declares an ``lr`` axis. Where a map sets ``sizes["lr_lambda"]`` the run's ``lr`` is exactly ``lr_lambda/λ`` (replacing
the drawn ``tau``, not capped), ``λ`` the largest eigenvalue of the loss' Hessian at the optimum the run converges to:
computed by autograd at that optimum for the decayed network and the marginalised autoencoder (the family's caps
above are upper bounds on it), ``2 d s`` for an active dropout step (``d = 1``, or ``1/p`` inverted). The dropout
hitting-time measurement then reports the always-on run at ``lr`` itself, not its Richardson extrapolation. Each
axis with a deterministic simulation at an isolated optimum has a convergence probe (GD from 5 % off the optimum);
``noise_equivalent_decay`` has no axis (it measures fixed points, which do not depend on ``lr``).

The claims (at the end) are hand-written checks ``check(config) -> Check``, listed in ``REGULARISATION_CLAIMS``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from hypothesis import strategies as st

from learndyn.verify.families.linear import LR_LAMBDA
from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.property_runs import ConvergenceRecord, assert_first_order, convergence_row, run_examples
from learndyn.verify.strategies import point_strategy
from learndyn.verify.tier_b import OUTPUT, Measurement, Richardson, SharedRun, SimulationCheck, Statistical, UpperBound
from learndyn.verify.tier_b.cases import batch_strategy, columns, pinned_batch
from learndyn.verify.tier_b.estimators import control_variate_mean
from learndyn.verify.tier_b.observables import crossing_time, logit_between
from learndyn.verify.validity.axis import lr_axis

__all__ = ["SIMULATIONS", "CLAIM_CHECKS", "REGULARISATION_CLAIMS", "FIXED_POINT_TOL"]

MAX_STEPS = 40000
RICHARDSON = Richardson(tol=1e-3)
#: the measured equivalent decay's error bound: the runs sit ≥ 40 e-foldings of their slowest contraction from the
#: start, within e^{-40} < 1e-17 of their fixed points, so what is left is round-off (~1e-15 relative, amplified at
#: most ~100x by the interpolation); 1e-9 bounds it with room to spare and lies 2e7 times below a 2 % error
FIXED_POINT_TOL = 1e-9


def _declaration(name: str):
    from learndyn.derive.registry import declaration

    return declaration(name)


def _function(name: str) -> Callable:
    import learndyn

    return learndyn.function(name, check=False)


def _horizon(rate: torch.Tensor, plateau: torch.Tensor, u0: torch.Tensor) -> torch.Tensor:
    """Flow time (in units of τ) a logistic mode ``du/dt = 2u(r − b u)`` needs to settle: to 90 % of its plateau
    when it grows, else ``3/(2|r|)`` (``|r|`` at least 0.2, so a mode at ``r ≈ 0`` still gets a finite run)."""
    r = rate.abs().clamp(min=0.2)
    grow = torch.log((0.9 * (plateau - u0)).clamp(min=1e-300) / (0.1 * u0)) / (2 * r)
    return torch.where((rate > 0.1) & (u0 < 0.9 * plateau), grow, 3.0 / (2 * r)).clamp(min=1.0)


def _tensor(v, device) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64, device=device)


# -- cases of mode dynamics: modes shared by a batch of configurations ----------------------------------------

def mode_strategy(modes_param: str, per_config: tuple[str, ...], batch: int, modes: int = 3):
    """Cases ``{modes_param: [modes distinct values], "u0": [batch × modes], per_config...: [batch], "seed"}``."""
    def build(result):
        from learndyn.verify.strategies import param_strategy

        by = {p.name: p for p in result.params}
        per = {n: st.lists(param_strategy(by[n], "sim"), min_size=batch, max_size=batch) for n in per_config}
        return st.fixed_dictionaries({
            modes_param: st.lists(param_strategy(by[modes_param], "sim"), min_size=modes, max_size=modes, unique=True),
            "u0": st.lists(st.lists(param_strategy(by["u0"], "sim"), min_size=modes, max_size=modes),
                           min_size=batch, max_size=batch),
            **per, "seed": st.integers(0, 2**31 - 1)})
    return build


def mode_points(name: str, modes_param: str, values: list[float], per_config: tuple[str, ...], batch: int,
                decays: tuple[list[float], ...] = ()) -> tuple[dict, ...]:
    """Pinned cases: three well-separated modes and a batch spread over the per-configuration ranges; then one case
    per list in ``decays`` with those ``gamma`` (e.g. equal to a mode's value: the removable singularity)."""
    r = _declaration(name)
    pts = pinned_batch(r, ("u0",) + per_config, batch * 3)
    base = {modes_param: values, "u0": [[pts[3 * i + m]["u0"] for m in range(3)] for i in range(batch)],
            **{n: [pts[3 * i][n] for i in range(batch)] for n in per_config}}
    out = [{**base, "seed": 11}]
    for k, gammas in enumerate(decays):
        out.append({**base, "gamma": [gammas[i % len(gammas)] for i in range(batch)], "seed": 12 + k})
    return tuple(out)


# -- weight decay on a two-layer linear network ---------------------------------------------------------------

def simulate_weight_decay(case, sizes, device) -> Measurement:
    """GD on a two-layer linear network (whitened data, ``Σ31 = U S Vᵀ``, decoupled balanced start) with the
    penalty ``(γ/2)(‖W1‖² + ‖W2‖²)``; mode strengths at lr and lr/2 until every mode has settled."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    s, gamma, u0 = _tensor(case["s"], device), _tensor(case["gamma"], device), _tensor(case["u0"], device)
    if "lr_lambda" in sizes:  # a validity map's lr: exactly lr_lambda/λ_max
        tau = weight_decay_lambda(s, gamma) / sizes["lr_lambda"]
    else:  # the Hessian's largest eigenvalue is at most 2 max(s) + gamma: lr times it <= LR_LAMBDA
        tau = torch.maximum(_tensor(case["tau"], device), (2 * s.max() + gamma) / LR_LAMBDA)
    rate = s - gamma.unsqueeze(1)
    steps = min(MAX_STEPS, int(math.ceil(float((_horizon(rate, rate.clamp(min=0), u0) * tau.unsqueeze(1)).max()) * 1.2)))
    data = whitened_dataset(case["s"], n_in=4, n_out=4, n_examples=8, seed=case["seed"], device=device)
    every = max(1, steps // 200)
    coarse, fine = (simulate_deep_linear(data, 2, k_lr / tau, k * steps, u0=u0, gamma=gamma, seed=case["seed"],
                                         device=device, record_every=k * every) for k, k_lr in ((1, 1.0), (2, 0.5)))
    t = coarse.t.to(torch.float64).view(-1, 1, 1)
    return Measurement(args=dict(t=t, s=s, u0=u0, gamma=gamma.view(1, -1, 1), tau=tau.view(1, -1, 1)),
                       observed={OUTPUT: coarse.mode_strengths}, fine={OUTPUT: fine.mode_strengths},
                       reduce_dims=(0,), scale=s.view(1, 1, -1),
                       where=f"s = {case['s']}, gamma = {[round(g, 4) for g in case['gamma']]}, seed {case['seed']}")


# -- the denoising autoencoder --------------------------------------------------------------------------------

def _dae_setup(case, device, sizes):
    lam, eps, gamma = (_tensor(case[k], device) for k in ("lam", "eps", "gamma"))
    u0 = _tensor(case["u0"], device)
    if "lr_lambda" in sizes:  # a validity map's lr: exactly lr_lambda/λ_max
        tau = autoencoder_lambda(lam, eps, gamma) / sizes["lr_lambda"]
    else:  # the curvature of the per-layer map is at most 2 (lam + eps) + gamma: lr times it <= LR_LAMBDA
        tau = torch.maximum(_tensor(case["tau"], device), (2 * (lam.max() + eps) + gamma) / LR_LAMBDA)
    rate = lam - gamma.unsqueeze(1)
    plateau = (rate / (lam + eps.unsqueeze(1))).clamp(min=0)
    flow = _horizon(rate, plateau, u0) * tau.unsqueeze(1)
    return lam, eps, gamma, u0, tau, flow


def simulate_dae_marginalised(case, sizes, device) -> Measurement:
    """GD on the linear autoencoder with the marginalised noise penalty ``(eps/2)‖W2 W1‖²`` and weight decay
    (inputs with covariance eigenvalues ``lam``), at lr and lr/2."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    lam, eps, gamma, u0, tau, flow = _dae_setup(case, device, sizes)
    steps = min(MAX_STEPS, int(math.ceil(float(flow.max()) * 1.2)))
    every = max(1, steps // 200)
    data = covariance_dataset(case["lam"], 4, 16, seed=case["seed"], device=device)
    coarse, fine = (simulate_autoencoder(data, k_lr / tau, k * steps, eps=eps, gamma=gamma, u0=u0,
                                         noise="marginalised", record_every=k * every, seed=case["seed"], device=device)
                    for k, k_lr in ((1, 1.0), (2, 0.5)))
    t = coarse.t.to(torch.float64).view(-1, 1, 1)
    scale = (lam / (lam + eps.unsqueeze(1))).unsqueeze(0)  # the noise-only plateau, >= the mode's plateau
    return Measurement(args=dict(t=t, lam=lam, eps=eps.view(1, -1, 1), gamma=gamma.view(1, -1, 1), u0=u0,
                                 tau=tau.view(1, -1, 1)),
                       observed={OUTPUT: coarse.mode_strengths[:, :, 0, :]}, fine={OUTPUT: fine.mode_strengths[:, :, 0, :]},
                       reduce_dims=(0,), scale=scale, where=f"lam = {case['lam']}, seed {case['seed']} (marginalised)")


def simulate_dae_sampled(case, sizes, device) -> Measurement:
    """The same autoencoder on ``sizes["examples"]`` examples with noise sampled afresh every step (the exact
    Wishart sampler of the noise statistics, whose cost does not grow with the examples), ``sizes["replicas"]``
    independent replicas, at lr and lr/2 (independent noise), until the flow time ``sizes["flow"]`` (in units of τ)
    at most.

    The standard error comes from the replicas' spread, so their number sets how far the 5-SE threshold is from a
    Gaussian one: with 64 a Student t with 63 degrees of freedom exceeds 5 with probability 5e-6 (16 would give
    1.6e-4). The spread itself is ``O(√(lr T eps lam/P))``, about 1e-3 at 1024 examples, so 5 SE of the extrapolated
    mean stays near the ``1e-3`` tolerance and far below a 2 % error.

    In a validity map (``sizes["lr_lambda"]``) only the run at ``lr`` is made (``fine`` is ``None``): the map's
    deviation is that run's, and the ``lr/2`` run would be two thirds of the map's time."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    lam, eps, gamma, u0, tau, flow = _dae_setup(case, device, sizes)
    flow = torch.minimum(flow, sizes["flow"] * tau.unsqueeze(1))
    steps = min(MAX_STEPS, int(math.ceil(float(flow.max()))))
    every = max(1, steps // 100)
    data = covariance_dataset(case["lam"], 4, sizes["examples"], seed=case["seed"], device=device)
    sizes_lr = ((1, 1.0),) if "lr_lambda" in sizes else ((1, 1.0), (2, 0.5))
    runs = [simulate_autoencoder(data, k_lr / tau, k * steps, eps=eps, gamma=gamma, u0=u0, noise="sampled",
                                 sampler="wishart", replicas=sizes["replicas"], record_every=k * every,
                                 seed=case["seed"] + k, device=device) for k, k_lr in sizes_lr]
    t = runs[0].t.to(torch.float64).view(-1, 1, 1, 1)
    B, m = u0.shape
    scale = (lam / (lam + eps.unsqueeze(1))).view(1, B, 1, m)
    return Measurement(args=dict(t=t, lam=lam, eps=eps.view(1, -1, 1, 1), gamma=gamma.view(1, -1, 1, 1),
                                 u0=u0.view(1, B, 1, m), tau=tau.view(1, -1, 1, 1)),
                       observed={OUTPUT: runs[0].mode_strengths},
                       fine={OUTPUT: runs[1].mode_strengths} if len(runs) > 1 else None, replicate_dim=2, reduce_dims=(0,), scale=scale,
                       where=f"lam = {case['lam']}, seed {case['seed']} (sampled noise, {sizes['replicas']} replicas)")


# -- the weight decay with the fixed point of noise -----------------------------------------------------------

#: the decays (as fractions of lam) whose fixed points fix the line u*(gamma); the middle one confirms it is a line
DECAY_FRACTIONS = (0.0, 1 / 3, 2 / 3)


def simulate_equivalent_decay(case, sizes, device) -> Measurement:
    """The decay whose GD fixed point equals the noisy autoencoder's, measured by interpolation (module docstring).

    One batched run: per configuration the autoencoder with marginalised noise ``eps`` and no decay, and three with
    decay ``gamma_j = f_j lam`` and no noise (``f_j`` in :data:`DECAY_FRACTIONS`), all at ``lr = 0.25/(lam + eps)``
    (stable: the per-layer map's curvature is at most ``2(lam + eps)``) from ``u0 = 0.05`` for 40 e-foldings of the
    slowest contraction ``1 − 2 lr (lam − gamma)`` beyond the growth from ``u0``."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    c = columns(case["points"], device)
    lam, eps = c["lam"], c["eps"]
    zero = torch.zeros_like(lam)
    lam_all = lam.repeat(1 + len(DECAY_FRACTIONS))
    eps_all = torch.cat([eps] + [zero] * len(DECAY_FRACTIONS))
    gammas = [f * lam for f in DECAY_FRACTIONS]
    gamma_all = torch.cat([zero] + gammas)
    lr = 0.25 / (lam_all + eps_all)
    u0 = 0.05
    rate = float((2 * lr * (lam_all - gamma_all)).min())
    steps = int(math.ceil((40 + math.log(1 / u0)) / rate))
    data = covariance_dataset(lam_all.unsqueeze(1), 2, 4, seed=case["seed"], device=device)
    run = simulate_autoencoder(data, lr, steps, eps=eps_all, gamma=gamma_all, u0=u0, record_every=steps,
                               seed=case["seed"], device=device)
    noisy, u1, u2, u3 = run.mode_strengths[-1, :, 0, 0].view(1 + len(DECAY_FRACTIONS), -1)
    g1, g2, g3 = gammas
    line = lambda g: u1 + (g - g1) * (u3 - u1) / (g3 - g1)  # noqa: E731
    off_line = ((u2 - line(g2)).abs() / u2).max()
    if float(off_line) > FIXED_POINT_TOL:
        raise RuntimeError(f"the decayed autoencoder's fixed point is not affine in gamma (off by {float(off_line):.3g}):"
                           " the runs did not converge")
    matched = g1 + (noisy - u1) * (g3 - g1) / (u3 - u1)
    return Measurement(args=dict(lam=lam, eps=eps), observed={OUTPUT: matched}, allowance=FIXED_POINT_TOL,
                       where=f"{lam.numel()} (lam, eps), seed {case['seed']}",
                       details={"worst_off_line": float(off_line)})


# -- dropout: hitting times -----------------------------------------------------------------------------------

def _dropout_clock(case, sizes, device) -> dict:
    """The dropout hitting-time measurement of one case: ``Ê = A_R T̄/K``, its standard error and ``A_R``'s bias
    bound (module docstring)."""
    from learndyn.verify.simulate import dropout_hitting_times, simulate_dropout

    c = columns(case["points"], device)
    s, p, margin = c["s"], c["p"], c["margin"]
    # an active step is GD on the scalar network at x = 1: Hessian 2s at the optimum, lr times it <= LR_LAMBDA
    # (a validity map's lr: exactly lr_lambda/(2s))
    mapped = "lr_lambda" in sizes
    tau = 2 * s / sizes["lr_lambda"] if mapped else torch.maximum(c["tau"], 2 * s / LR_LAMBDA)
    lr, level = 1 / tau, s - margin
    # K: the active steps the always-on run needs (the same arithmetic as every dropout run's active steps)
    cap = int(100 * float((tau / s).max()))
    always = dropout_hitting_times(s, torch.ones_like(p), lr, level, u0=margin, runs=1, max_steps=cap, device=device)
    if not bool(always.hit.all()):
        raise RuntimeError("the always-on run did not reach s - margin")
    K = always.steps[..., 0].to(torch.float64)
    # A(lr/k): its crossing time interpolated in the logit, in steps at lr
    steps = int(K.max()) + 2
    active = []
    for k in (1, 2, 4):
        run = simulate_dropout(s, 1.0, lr / k, k * steps, u0=margin, runs=1, device=device)
        active.append(crossing_time(run.t.to(torch.float64), run.u_mean, level, logit_between(s)) / k)
    coarser, extrapolated = 2 * active[1] - active[0], 2 * active[2] - active[1]
    # a validity map measures GD at lr itself, before the extrapolation that removes its first-order error
    measured = active[0] if mapped else extrapolated
    runs = sizes["runs"]
    hits = dropout_hitting_times(s, p, lr, level, u0=margin, runs=runs, max_steps=int(float((K / p).max()) * 3) + 100,
                                 seed=case["seed"], device=device)
    if not bool(hits.hit.all()):
        raise RuntimeError("some dropout runs did not reach s - margin")
    if not bool((hits.active_steps == K.to(torch.int64).unsqueeze(-1)).all()):
        raise RuntimeError("a dropout run hit after a number of active steps other than the always-on run's K")
    clock = hits.steps.to(torch.float64).mean(-1) / K                      # estimates 1/p: E[T] = K/p exactly
    clock_se = torch.sqrt((1 - p) / (K * runs)) / p                        # Var T = K (1 − p)/p² exactly
    return dict(args=dict(s=s, p=p, margin=margin, tau=tau), value=measured * clock, se=measured * clock_se,
                bias=(extrapolated - coarser).abs() / extrapolated, where=f"{s.numel()} configurations, {runs} runs, "
                f"seed {case['seed']}" + (f", lr·λ = {sizes['lr_lambda']:g}, not extrapolated" if mapped else ""))


def observe_dropout_time(m: dict, case, sizes, device) -> Measurement:
    """``Ê = A_R T̄/K`` with its exact standard error; the allowance is ``A_R``'s relative bias bound."""
    return Measurement(args=m["args"], observed={OUTPUT: m["value"]}, standard_error={OUTPUT: m["se"]},
                       allowance=m["bias"], where=m["where"])


def observe_dropout_time_for_bound(m: dict, case, sizes, device) -> Measurement:
    """The same measurement, its bias bound in time units (an upper bound adds it to the mean)."""
    return Measurement(args=m["args"], observed={OUTPUT: m["value"]}, standard_error={OUTPUT: m["se"]},
                       allowance=m["bias"] * m["value"], where=m["where"])


#: the expectation's and the bound's checks observe one simulation of the hitting times per case
simulate_dropout_time = SharedRun(_dropout_clock, observe_dropout_time)
simulate_dropout_time_for_bound = SharedRun(_dropout_clock, observe_dropout_time_for_bound)


def dropout_time_points() -> tuple[dict, ...]:
    """Pinned: ``s``, ``p``, ``tau`` spread over their ranges (``p = 1`` among them), ``margin`` at 0.2, 0.25, 0.3 s."""
    r = _declaration("dropout_expected_time")
    pts = pinned_batch(r, ("s", "p", "tau"), 8)
    fractions = (0.2, 0.25, 0.3)
    return ({"points": [{**pt, "margin": fractions[i % 3] * pt["s"]} for i, pt in enumerate(pts)], "seed": 3},)


# -- dropout: expected trajectories ---------------------------------------------------------------------------

def _assert_binomial_clock(centred: torch.Tensor, t: torch.Tensor, p: torch.Tensor) -> None:
    """The control variates' known mean is the premise of the estimate: a mask sampler off its keep probability
    would be corrected back to ``p`` by them, unseen. So the runs' active-step counts at the last record (``A − t p``,
    ``(configurations, runs)``) must lie within 5 standard errors of mean 0 (``Var A = t p (1 − p)``, exact); a 2 %
    error in ``p`` moves the mean by ``0.02 t p``, ``0.02 √(t p runs/(1 − p))`` standard errors: for standard dropout
    at least 7.9 in the lr/2 run over the simulation ranges with 256 runs (``t ≥ 1434`` steps there at ``p = 0.3``);
    inverted dropout's mask value ``1/p`` moves with ``p`` too, which the comparison itself sees."""
    runs = centred.shape[-1]
    se = torch.sqrt(t * p * (1 - p) / runs)
    z = torch.where(se > 0, centred.mean(-1) / se.clamp(min=1e-300), centred.mean(-1).abs() * math.inf)
    z = torch.nan_to_num(z, nan=0.0)
    if float(z.abs().max()) > 5:
        raise RuntimeError(f"the dropout masks' active-step counts are {float(z.abs().max()):.3g} standard errors off "
                           "their Binomial(t, p) mean: the control variates do not apply")


def simulate_dropout_mean(variant: str):
    """The mean of ``u = w2 w1`` over ``sizes["runs"]`` runs with sampled masks (control variates: the active-step
    count's first two centred moments), at lr and lr/2 (independent masks)."""
    def simulate(case, sizes, device) -> Measurement:
        from learndyn.verify.simulate import simulate_dropout

        c = columns(case["points"], device)
        s, p, u0 = c["s"], c["p"], c["u0"]
        # an active step is the scalar network at x = d, d = 1 or 1/p: Hessian 2 d s (2s/p for both, as before;
        # a validity map's lr: exactly lr_lambda/(2 d s))
        if "lr_lambda" in sizes:
            tau = dropout_lambda(s, p, variant) / sizes["lr_lambda"]
        else:
            tau = torch.maximum(c["tau"], 2 * s / p / LR_LAMBDA)
        rate, plateau = (p * s, s) if variant == "standard" else (s, p * s)
        steps = min(MAX_STEPS // 4, int(math.ceil(float((_horizon(rate, plateau, u0) * tau).max()) * 1.2)))
        every = max(1, steps // 100)
        out = []
        for k in (1, 2):
            run = simulate_dropout(s, p, 1 / (k * tau), k * steps, u0=u0, runs=sizes["runs"], variant=variant,
                                   record_every=k * every, record_runs=True, seed=case["seed"] + k, device=device)
            n = run.t.to(torch.float64).view(-1, 1, 1)
            centred = run.active.to(torch.float64) - n * p.unsqueeze(-1)
            _assert_binomial_clock(centred[-1], n[-1, 0, 0], p)
            controls = [centred, centred**2 - n * (p * (1 - p)).unsqueeze(-1)]
            out.append(control_variate_mean(run.u, controls, dim=-1))
            if k == 1:
                t = run.t.to(torch.float64).unsqueeze(1)
        (coarse, coarse_se), (fine, fine_se) = out
        return Measurement(args=dict(t=t, s=s, p=p, u0=u0, tau=tau), observed={OUTPUT: coarse}, fine={OUTPUT: fine},
                           standard_error={OUTPUT: coarse_se}, fine_standard_error={OUTPUT: fine_se},
                           reduce_dims=(0,), scale=plateau,
                           where=f"{variant} dropout, {s.numel()} configurations, seed {case['seed']}")
    simulate.__qualname__ = f"simulate_dropout_mean.{variant}"
    return simulate


# -- validity maps: the lr axis (module docstring) ------------------------------------------------------------

#: GD steps of a convergence probe (active steps, for dropout): at lr·λ = 2(1 − ε) the distance to the optimum
#: along the top eigenvector shrinks by 1 − 2ε per step. The networks' probes run ``CONVERGENCE_STEPS/value`` steps
#: where that is more (the flow time ``CONVERGENCE_STEPS/λ_max`` at least): their Hessians have directions a few
#: percent of ``λ_max`` (``2γ`` of a small decay), which must converge too at a small ``value``
CONVERGENCE_STEPS = 5000
#: converged: every entry of the end-to-end map within this of the optimum's, relative to the largest mode
CONVERGED = 1e-6
#: the probe's start: every weight this far (relative to the largest per-layer strength) off the optimum
PROBE_OFFSET = 0.05
#: a configuration with a mode this close (relative) to its decay is left out of a probe: at ``gamma = s`` the
#: optimum is degenerate (a zero Hessian eigenvalue that moves the map) and GD approaches it only algebraically
DEGENERATE = 0.05


def _top_hessian_eigenvalue(loss: Callable, a: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """The largest eigenvalue of the Hessian of ``loss(W1, W2, *args)`` (two ``n × n`` layers of one configuration)
    at ``W1 = W2 = diag(a)``, per configuration: ``a`` ``(B, n)``, ``args`` ``(B, …)``; by autograd (float64, CPU)."""
    from torch.func import hessian, vmap

    a = a.detach().to("cpu", torch.float64)
    args = tuple(x.detach().to("cpu", torch.float64) for x in args)
    n = a.shape[-1]

    def f(x, *arg):
        return loss(x[:n * n].view(n, n), x[n * n:].view(n, n), *arg)

    w = torch.diag_embed(a).reshape(a.shape[0], n * n)
    return torch.linalg.eigvalsh(vmap(hessian(f))(torch.cat([w, w], -1), *args)).amax(-1)


def _padded(values: torch.Tensor, n: int, batch: int) -> torch.Tensor:
    """``(batch, n)``: ``values`` ``(m,)`` or ``(batch, m)`` followed by zeros."""
    v = values.expand(batch, values.shape[-1])
    return torch.cat([v, torch.zeros(batch, n - v.shape[-1], dtype=v.dtype, device=v.device)], -1)


def weight_decay_lambda(s: torch.Tensor, gamma: torch.Tensor, n: int = 4) -> torch.Tensor:
    """``λ_max`` per configuration (``s`` ``(m,)``, ``gamma`` ``(B,)``) of the decayed two-layer network of
    :func:`simulate_weight_decay` (``n`` inputs, outputs and hidden units): the Hessian of
    ``½‖Σ31 − W2 W1‖² + (γ/2)(‖W1‖² + ‖W2‖²)`` at the optimum ``W1 = W2 = diag(√max(s − γ, 0))``, in the singular
    bases (the spectrum does not depend on them). Not ``2 max(s) + γ``, the cap's bound: e.g. ``3.1`` for
    ``s = (0.5, 1.1, 2)``, ``γ = 1.5``, where the bound is ``5.5``."""
    B = gamma.numel()
    S = _padded(s, n, B)
    a = (S - gamma.unsqueeze(1)).clamp(min=0).sqrt()

    def loss(W1, W2, s_, g):
        return 0.5 * ((torch.diag(s_) - W2 @ W1) ** 2).sum() + 0.5 * g * ((W1 * W1).sum() + (W2 * W2).sum())

    return _top_hessian_eigenvalue(loss, a, S, gamma).to(gamma)


def autoencoder_lambda(lam: torch.Tensor, eps: torch.Tensor, gamma: torch.Tensor, n: int = 4) -> torch.Tensor:
    """``λ_max`` per configuration (``lam`` ``(m,)``, ``eps``, ``gamma`` ``(B,)``) of the autoencoder of
    :func:`simulate_dae_marginalised` (``n`` inputs and hidden units): the Hessian of the marginalised loss
    ``½ tr[(I − W) Σ (I − W)ᵀ] + (eps/2)‖W‖² + (γ/2)(‖W1‖² + ‖W2‖²)`` at its optimum
    ``W1 = W2 = diag(√max((lam − γ)/(lam + eps), 0))`` in the eigenbasis of ``Σ`` (the sampled-noise run's expected
    loss is the same)."""
    B = eps.numel()
    L = _padded(lam, n, B)
    a = ((L - gamma.unsqueeze(1)) / (L + eps.unsqueeze(1))).clamp(min=0).sqrt()

    def loss(W1, W2, lam_, e, g):
        E = torch.eye(n, dtype=W1.dtype) - W2 @ W1
        W = W2 @ W1
        return (0.5 * (E * E * lam_).sum() + 0.5 * e * (W * W).sum()
                + 0.5 * g * ((W1 * W1).sum() + (W2 * W2).sum()))

    return _top_hessian_eigenvalue(loss, a, L, eps, gamma).to(eps)


def dropout_lambda(s: torch.Tensor, p: torch.Tensor, variant: str) -> torch.Tensor:
    """``λ_max`` of an active dropout step, the scalar network at ``x = d`` at its optimum ``d u = s``: ``2 d s``
    (``d = 1`` standard, ``1/p`` inverted). The mean dynamics settle at that optimum too (``s``, ``p s``), and a
    step with ``d = 0`` changes nothing, so GD with dropout is stable exactly where the active step is."""
    return 2 * s if variant == "standard" else 2 * s / p


def _probe_start(optimum: tuple[torch.Tensor, torch.Tensor], scale: torch.Tensor, seed: int):
    """The two layers of the optimum, every entry moved by ``PROBE_OFFSET × scale`` times a standard normal."""
    gen = torch.Generator(device=optimum[0].device)
    gen.manual_seed(int(seed))
    return tuple(w + PROBE_OFFSET * scale.view(-1, 1, 1)
                 * torch.randn(w.shape, generator=gen, device=w.device, dtype=w.dtype) for w in optimum)


def _probe_steps(value: float) -> int:
    """Steps of a network's probe at ``lr·λ_max = value`` (:data:`CONVERGENCE_STEPS`)."""
    return int(math.ceil(CONVERGENCE_STEPS * max(1.0, 1.0 / value)))


def _not_converged(W: torch.Tensor, target: torch.Tensor, scale: torch.Tensor) -> bool:
    close = (W - target).abs().amax((-2, -1)) < CONVERGED * scale
    return not bool(close.all())


def _weight_decay_diverges(case, value: float, device) -> bool:
    """GD at ``lr·λ_max = value`` on the case's data from :func:`_probe_start` of every configuration's optimum
    (the modes' ``W = U diag(max(s − γ, 0)) Vᵀ``): whether some configuration's ``W2 W1`` is not within
    ``CONVERGED·max(s)`` of it after :func:`_probe_steps` steps (configurations at ``γ ≈ s`` left out)."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    s, gamma = _tensor(case["s"], device), _tensor(case["gamma"], device)
    keep = ((s - gamma.unsqueeze(1)).abs() > DEGENERATE * s).all(1)
    if not bool(keep.any()):
        return False
    gamma = gamma[keep]
    data = whitened_dataset(case["s"], n_in=4, n_out=4, n_examples=8, seed=case["seed"], device=device)
    a = (s - gamma.unsqueeze(1)).clamp(min=0).sqrt()                   # (B, m) per-layer strengths
    R = torch.eye(4, s.numel(), dtype=s.dtype, device=device)           # the hidden units' basis (any)
    W1 = (R * a.unsqueeze(1)) @ data.V.T
    W2 = (data.U * a.unsqueeze(1)) @ R.T
    top = s.max().sqrt().expand(gamma.numel())
    lr = value / weight_decay_lambda(s, gamma)
    steps = _probe_steps(value)
    run = simulate_deep_linear(data, 2, lr, steps, init=_probe_start((W1, W2), top, case["seed"]),
                               gamma=gamma, seed=case["seed"], device=device, record_every=steps)
    W = run.weights_final[1] @ run.weights_final[0]
    return _not_converged(W, (data.U * (a * a).unsqueeze(1)) @ data.V.T, s.max())


def _dae_diverges(case, value: float, device) -> bool:
    """GD on the marginalised autoencoder at ``lr·λ_max = value`` from :func:`_probe_start` of every configuration's
    optimum (``W = Q diag(max((lam − γ)/(lam + eps), 0)) Qᵀ``): whether some configuration's ``W2 W1`` is not
    within ``CONVERGED·max(lam)/(max(lam) + eps)`` of it after :func:`_probe_steps` steps (configurations at
    ``γ ≈ lam`` left out)."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    lam, eps, gamma = (_tensor(case[k], device) for k in ("lam", "eps", "gamma"))
    keep = ((lam - gamma.unsqueeze(1)).abs() > DEGENERATE * lam).all(1)
    if not bool(keep.any()):
        return False
    eps, gamma = eps[keep], gamma[keep]
    data = covariance_dataset(case["lam"], 4, 16, seed=case["seed"], device=device)
    u = ((lam - gamma.unsqueeze(1)) / (lam + eps.unsqueeze(1))).clamp(min=0)    # (B, m) the optimum's modes
    R = torch.eye(4, lam.numel(), dtype=lam.dtype, device=device)
    W1 = (R * u.sqrt().unsqueeze(1)) @ data.Q.T
    W2 = (data.Q * u.sqrt().unsqueeze(1)) @ R.T
    plateau = lam.max() / (lam.max() + eps)
    lr = value / autoencoder_lambda(lam, eps, gamma)
    steps = _probe_steps(value)
    run = simulate_autoencoder(data, lr, steps, eps=eps, gamma=gamma,
                               init=_probe_start((W1, W2), plateau.sqrt(), case["seed"]),
                               record_every=steps, seed=case["seed"], device=device)
    W1f, W2f = run.weights_final
    return _not_converged((W2f @ W1f)[:, 0], (data.Q * u.unsqueeze(1)) @ data.Q.T, plateau)


def _dropout_diverges(variant: str):
    """GD with ``variant`` dropout at ``lr·2ds = value`` from ``1.05×`` the optimum ``s/d`` of every configuration, 8
    runs each, until each run has made about :data:`CONVERGENCE_STEPS` active steps: whether some run is not within
    ``CONVERGED`` (relative) of it."""
    def diverges(case, value: float, device) -> bool:
        from learndyn.verify.simulate import simulate_dropout

        c = columns(case["points"], device)
        s, p = c["s"], c["p"]
        optimum = s if variant == "standard" else p * s
        steps = int(math.ceil(CONVERGENCE_STEPS / float(p.min())))
        run = simulate_dropout(s, p, value / dropout_lambda(s, p, variant), steps, u0=1.05 * optimum, runs=8,
                               variant=variant, record_every=steps, record_runs=True, seed=case["seed"],
                               device=device)
        end = run.u[-1]
        return not bool((((end - optimum.unsqueeze(-1)).abs() / optimum.unsqueeze(-1)) < CONVERGED).all())
    diverges.__qualname__ = f"_dropout_diverges.{variant}"
    return diverges


# -- the declarations -----------------------------------------------------------------------------------------

def _weight_decay_check() -> SimulationCheck:
    per = ("gamma", "tau")
    return SimulationCheck(
        result="weight_decay_trajectory", title="GD, 2-layer linear net + weight decay, Richardson", method="gd",
        simulate=simulate_weight_decay, compare=RICHARDSON, strategy=mode_strategy("s", per, 8),
        points=mode_points("weight_decay_trajectory", "s", [0.5, 1.1, 2.0], per, 8, decays=([0.5, 1.1],)),
        examples_per_case=25, axes=(lr_axis(start=LR_LAMBDA, diverges=_weight_decay_diverges),))


def _dae_checks() -> tuple[SimulationCheck, SimulationCheck]:
    per = ("eps", "gamma", "tau")
    marginalised = SimulationCheck(
        result="dae_trajectory", title="GD, linear autoencoder, marginalised noise, Richardson", method="gd",
        simulate=simulate_dae_marginalised, compare=RICHARDSON, strategy=mode_strategy("lam", per, 8),
        points=mode_points("dae_trajectory", "lam", [0.5, 1.0, 2.0], per, 8, decays=([0.5, 1.0],)),
        examples_per_case=25, axes=(lr_axis(start=LR_LAMBDA, diverges=_dae_diverges),))
    sampled = SimulationCheck(
        result="dae_trajectory", title="GD, autoencoder, sampled noise, replica mean, Richardson", method="gd",
        simulate=simulate_dae_sampled, compare=RICHARDSON, strategy=mode_strategy("lam", per, 4),
        points=mode_points("dae_trajectory", "lam", [0.5, 1.0, 2.0], per, 4),
        sizes={"replicas": 64, "examples": 1024, "flow": 4.0}, gpu_sizes={"replicas": 512, "flow": 8.0},
        examples_per_case=100, axes=(lr_axis(start=LR_LAMBDA),))  # sampled noise: no point to converge to
    return marginalised, sampled


def _equivalent_decay_check() -> SimulationCheck:
    r = _declaration("noise_equivalent_decay")
    return SimulationCheck(
        result="noise_equivalent_decay", title="GD fixed points, decay interpolated to the noisy one", method="gd",
        simulate=simulate_equivalent_decay, compare=Statistical(),
        strategy=lambda res: batch_strategy(res, ("lam", "eps"), 8),
        points=({"points": pinned_batch(r, ("lam", "eps"), 9), "seed": 5},), examples_per_case=50)


def _dropout_time_checks() -> tuple[SimulationCheck, SimulationCheck]:
    only = ("s", "p", "margin", "tau")
    common = dict(method="gd", strategy=lambda res: batch_strategy(res, only, 8), points=dropout_time_points(),
                  sizes={"runs": 2000}, gpu_sizes={"runs": 20000}, examples_per_case=25,
                  axes=(lr_axis(start=LR_LAMBDA, diverges=_dropout_diverges("standard")),))
    expected = SimulationCheck(
        result="dropout_expected_time", title="GD with a dropout mask, hitting times, exact law + Richardson",
        simulate=simulate_dropout_time, compare=Statistical(), **common)
    bound = SimulationCheck(
        result="dropout_time_bound", title="GD with a dropout mask, hitting times, decidable bound",
        simulate=simulate_dropout_time_for_bound, compare=UpperBound(), **common)
    return expected, bound


def _dropout_trajectory_check(name: str, variant: str) -> SimulationCheck:
    only = ("s", "p", "u0", "tau")
    return SimulationCheck(
        result=name, title=f"GD with {variant} dropout, control-variate mean, Richardson", method="gd",
        simulate=simulate_dropout_mean(variant), compare=RICHARDSON,
        strategy=lambda res: batch_strategy(res, only, 4),
        points=({"points": pinned_batch(_declaration(name), only, 8), "seed": 9},),
        sizes={"runs": 256}, gpu_sizes={"runs": 4096}, examples_per_case=25,
        axes=(lr_axis(start=LR_LAMBDA, diverges=_dropout_diverges(variant)),))


SIMULATIONS = (
    _weight_decay_check(),
    *_dae_checks(),
    _equivalent_decay_check(),
    *_dropout_time_checks(),
    _dropout_trajectory_check("dropout_trajectory", "standard"),
    _dropout_trajectory_check("inverted_dropout_trajectory", "inverted"),
)


# -- claims (seed 000), checked as properties of real GD runs -------------------------------------------------
#
# * ``noise_lowers_plateau_not_growth``: linear autoencoders with and without input noise (marginalised), same data
#   and start. The noisy run settles at ``lam/(lam + eps)`` (GD's fixed point is the flow's, so to ``1e-9`` after
#   ≥ 40 e-foldings), below the noise-free plateau 1; its early growth — the time to grow from ``u0`` to ``10 u0`` —
#   equals the noise-free one up to the logistic correction: ``d ln u/dt`` differs by ``2 eps u/τ``, so the times
#   differ relatively by at most ``(eps/lam)·10 u0`` (checked with a factor 2).
# * ``equivalent_decay_is_slower``: an autoencoder with the weight decay ``noise_equivalent_decay(lam, eps)`` and no
#   noise against one with noise ``eps``: the same plateau, and the time to reach half of it (interpolated in the
#   logit, Richardson-extrapolated over ``lr``, ``lr/2``) longer by ``(lam + eps)/lam`` within ``RICHARDSON_TOL``.
# * ``weight_decay_removes_imbalance``: the scalar network with weight decay from an unbalanced start; the ratio
#   ``(w2² − w1²)(t)/(w2² − w1²)(0)`` against ``e^{−2 gamma t/τ}``, first order in ``lr`` and within
#   ``RICHARDSON_TOL`` after Richardson extrapolation.

def _lam_eps_strategy(batch: int):
    """A batch of ``(lam, eps)`` from ``noise_equivalent_decay``'s simulation ranges, and a seed."""
    return st.tuples(st.lists(point_strategy(_declaration("noise_equivalent_decay"), "sim"), min_size=batch,
                              max_size=batch), st.integers(0, 2**31 - 1))


def noise_lowers_plateau_check(config: VerifyConfig) -> Check:
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    dev = config.device
    worst = {"plateau": 0.0, "growth": 0.0}
    count = [0]
    u0 = 1e-4

    def body(ex):
        points, seed = ex
        c = columns(points, dev)
        lam, eps = c["lam"], c["eps"]
        tau = float((2 * (lam + eps)).max() / LR_LAMBDA)
        rate = float((2 * lam / tau).min())  # contraction rate near either fixed point is at least this
        steps = int(math.ceil(45 / rate + math.log(1 / u0) / rate))
        data = covariance_dataset(lam.unsqueeze(1), 2, 4, seed=seed, device=dev)
        runs = {k: simulate_autoencoder(data, 1 / tau, steps, eps=e, u0=u0, seed=seed, device=dev)
                for k, e in (("noisy", eps), ("clean", torch.zeros_like(eps)))}
        u = {k: r.mode_strengths[:, :, 0, 0] for k, r in runs.items()}
        t = runs["noisy"].t.to(torch.float64)
        plateau = lam / (lam + eps)
        perr = ((u["noisy"][-1] - plateau).abs() / plateau)
        if float(perr.max()) > 1e-9:
            raise AssertionError(f"noise_lowers_plateau_not_growth: the noisy plateau is off lam/(lam+eps) by {float(perr.max()):.3g}")
        if not bool((u["noisy"][-1] < u["clean"][-1] - 0.5 * eps / (lam + eps)).all()):
            raise AssertionError("noise_lowers_plateau_not_growth: the noisy plateau is not below the noise-free one")
        grow = {k: crossing_time(t, v, torch.full_like(lam, 10 * u0), torch.log) for k, v in u.items()}
        rel = (grow["noisy"] / grow["clean"] - 1).abs()
        bound = 2 * (eps / lam) * 10 * u0
        worst["plateau"] = max(worst["plateau"], float(perr.max()))
        worst["growth"] = max(worst["growth"], float((rel / bound).max()))
        count[0] += lam.numel()
        if bool((rel > bound).any()):
            i = int((rel / bound).argmax())
            raise AssertionError(f"noise_lowers_plateau_not_growth: noise changed the early growth time by {float(rel[i]):.3g} "
                                 f"(> {float(bound[i]):.3g}, the logistic correction)")

    failure = run_examples(_lam_eps_strategy(8), body, config, max(1, config.examples // 50))
    return Check("noise_lowers_plateau_not_growth", "claim", count[0], worst["growth"], 1.0,
                 "growth-time change / (2 (eps/lam) 10 u0)", failure is None, failure,
                 details={"worst_plateau_error": worst["plateau"]})


def equivalent_decay_slower_check(config: VerifyConfig) -> Check:
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    dev = config.device
    worst = ConvergenceRecord()
    gamma_of = _function("noise_equivalent_decay")
    u0 = 1e-3

    def body(ex):
        points, seed = ex
        c = columns(points, dev)
        lam, eps = c["lam"], c["eps"]
        gamma = gamma_of(lam=lam, eps=eps)
        plateau = lam / (lam + eps)
        tau = float((2 * (lam + eps) + gamma).max() / LR_LAMBDA)
        slow_rate = float((2 * lam**2 / (lam + eps) / tau).min())
        steps = int(math.ceil(1.3 * math.log(plateau.max() / u0) / slow_rate))
        data = covariance_dataset(lam.unsqueeze(1), 2, 4, seed=seed, device=dev)
        logit = lambda v: torch.log(v / (plateau - v))
        half = {}
        for name, kw in (("noise", {"eps": eps}), ("decay", {"gamma": gamma})):
            times = []
            for k in (1, 2):
                run = simulate_autoencoder(data, 1 / (k * tau), k * steps, u0=u0, seed=seed, device=dev, **kw)
                times.append(crossing_time(run.t.to(torch.float64), run.mode_strengths[:, :, 0, 0], 0.5 * plateau, logit) / k)
            half[name] = times
        if any(bool(torch.isnan(x).any()) for v in half.values() for x in v):
            raise AssertionError("equivalent_decay_is_slower: a run did not reach half its plateau")
        expected = (lam + eps) / lam
        ratio = [half["decay"][k] / half["noise"][k] for k in (0, 1)]
        e1 = (ratio[0] - expected).abs() / expected
        e2 = (ratio[1] - expected).abs() / expected
        eR = (2 * ratio[1] - ratio[0] - expected).abs() / expected
        assert_first_order("equivalent_decay_is_slower", e1, e2, eR, worst)

    failure = run_examples(_lam_eps_strategy(8), body, config, max(1, config.examples // 50))
    return convergence_row("equivalent_decay_is_slower", worst, failure)


def imbalance_decay_check(config: VerifyConfig) -> Check:
    from learndyn.verify.simulate import simulate_scalar_network

    dev = config.device
    worst = ConvergenceRecord()
    r = _declaration("weight_decay_trajectory")
    strategy = st.tuples(st.lists(point_strategy(r, "sim", only=("s", "u0", "gamma", "tau")), min_size=16, max_size=16),
                         st.lists(st.floats(-0.5, 0.5).filter(lambda v: abs(v) > 1e-3), min_size=16, max_size=16))

    def body(ex):
        points, imbalance = ex
        c = columns(points, dev)
        s, u0, gamma = c["s"], c["u0"], c["gamma"]
        d0 = torch.tensor(imbalance, dtype=torch.float64, device=dev)
        tau = torch.maximum(c["tau"], (2 * s + 2 * gamma + 1) / LR_LAMBDA)
        steps = int(math.ceil(float((2.0 / gamma * tau).max())))  # two e-folding times 1/(2 gamma) ... of the slowest
        steps = min(steps, MAX_STEPS)
        every = max(1, steps // 200)
        runs = [simulate_scalar_network(1.0, s, u0, 1 / (k * tau), k * steps, imbalance=d0, gamma=gamma,
                                        record_every=k * every, device=dev) for k in (1, 2)]
        ratios = [(run.w2**2 - run.w1**2) / d0 for run in runs]
        t = runs[0].t.to(torch.float64).unsqueeze(1)
        expected = torch.exp(-2 * gamma * t / tau)
        e1 = (ratios[0] - expected).abs().amax(0)
        e2 = (ratios[1] - expected).abs().amax(0)
        eR = (2 * ratios[1] - ratios[0] - expected).abs().amax(0)
        assert_first_order("weight_decay_removes_imbalance", e1, e2, eR, worst)

    failure = run_examples(strategy, body, config, max(1, config.examples // 25))
    return convergence_row("weight_decay_removes_imbalance", worst, failure)


REGULARISATION_CLAIMS: dict[str, Callable[[VerifyConfig], Check]] = {
    "noise_lowers_plateau_not_growth": noise_lowers_plateau_check,
    "equivalent_decay_is_slower": equivalent_decay_slower_check,
    "weight_decay_removes_imbalance": imbalance_decay_check,
}

#: the family's claim checks, by claim (``learndyn.verify.families.claim_checks`` collects them)
CLAIM_CHECKS = REGULARISATION_CLAIMS
