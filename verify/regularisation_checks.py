"""Tier (b) for family 2 (regularisation): weight decay, denoising noise and dropout against real GD.

Deterministic runs (weight decay, the marginalised autoencoder) use the family-1 scheme: runs at ``lr`` and
``lr/2``, the error first order in ``lr`` (ratio in ``ORDER_RANGE``) and Richardson ``2u(lr/2) − u(lr)``
within ``RICHARDSON_TOL`` of the theory. Stochastic runs (sampled noise, dropout) compare means over
independent runs: the mean is ``E[u](lr) = u + c·lr + O(lr²)`` (Euler error plus the bias the
fluctuations cause through the curvature), so Richardson applies to means too, with the standard error
``SE_R = √(4 SE(lr/2)² + SE(lr)²)`` of the extrapolated mean; the tolerance is
``K_SE · SE_R + RICHARDSON_TOL · scale`` with ``K_SE = 5`` (a false alarm about once in 10^6 per
assertion for a Gaussian mean).

Dropout hitting times split into an exact law and a deterministic part. Every run hits after exactly ``K``
active steps (``K``: the steps GD needs with the unit always on), so its hitting time is negative binomial,
mean ``K/p``, variance ``K(1 − p)/p²``: the sample mean is held to ``K/p`` within ``K_SE`` standard errors
(no bias term: this is exact). The theory's active time ``p·E[t]`` is held to ``K`` by Richardson on the
interpolated hitting time of the always-on run (the ``O(lr)`` bias). Together: the mean lies within
``K_SE·SE + |K/p − E[t]|`` of ``dropout_expected_time``, and below ``dropout_time_bound`` by more than
that where the bound is decidable (margin near ``s/4``; THEORY.md).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from hypothesis import strategies as st

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.simulation_checks import (
    LR_LAMBDA, RICHARDSON_TOL, _assert_convergence, _check, _declaration, _run_examples, _Worst,
)
from learndyn.verify.strategies import param_strategy, point_strategy

__all__ = ["REGULARISATION_CHECKS", "K_SE", "crossing_time"]

K_SE = 5.0
MAX_STEPS = 40000
_HITS: dict = {}


def _f(name: str) -> Callable:
    import learndyn

    return learndyn.function(name, check=False)


def crossing_time(t: torch.Tensor, a: torch.Tensor, level: torch.Tensor, transform: Callable) -> torch.Tensor:
    """First time ``a`` (recorded at times ``t`` along axis 0) reaches ``level``, interpolated linearly in
    ``transform(a)`` (a logit for a sigmoidal curve, a log for exponential growth), NaN where never."""
    above = a >= level
    idx = above.to(torch.int64).argmax(0).clamp(min=1)
    a1 = a.gather(0, idx.unsqueeze(0)).squeeze(0)
    a0 = a.gather(0, (idx - 1).unsqueeze(0)).squeeze(0)
    g0, g1, gl = transform(a0), transform(a1), transform(level)
    out = t[idx - 1] + (t[idx] - t[idx - 1]) * (gl - g0) / (g1 - g0)
    return torch.where(above.any(0), out, torch.full_like(out, math.nan))


def _horizon(rate: torch.Tensor, plateau: torch.Tensor, u0: torch.Tensor) -> torch.Tensor:
    """Flow time (in units of τ) a logistic mode ``du/dt = 2u(r − b u)`` needs to settle: to 90 % of its
    plateau when it grows, to e^{-3} when it decays, and a fixed 5τ/|r|-style cap near ``r = 0``."""
    r = rate.abs().clamp(min=0.2)
    grow = torch.log((0.9 * (plateau - u0)).clamp(min=1e-300) / (0.1 * u0)) / (2 * r)
    return torch.where((rate > 0.1) & (u0 < 0.9 * plateau), grow, 3.0 / (2 * r)).clamp(min=1.0)


# -- weight decay on a two-layer linear network -------------------------------------------------------------

def weight_decay_check(config: VerifyConfig, theory: Callable) -> Check:
    """``weight_decay_trajectory`` against GD on a two-layer linear network with an explicit weight-decay
    penalty (whitened data, ``Σ31 = U S Vᵀ`` with 3 modes, decoupled balanced start), 8 configurations."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    r = _declaration("weight_decay_trajectory")
    batch, modes = 8, 3
    by = {p.name: p for p in r.params}
    strategy = st.fixed_dictionaries({
        "s": st.lists(param_strategy(by["s"], "sim"), min_size=modes, max_size=modes, unique=True),
        "gamma": st.lists(param_strategy(by["gamma"], "sim"), min_size=batch, max_size=batch),
        "u0": st.lists(st.lists(param_strategy(by["u0"], "sim"), min_size=modes, max_size=modes), min_size=batch, max_size=batch),
        "tau": st.lists(param_strategy(by["tau"], "sim"), min_size=batch, max_size=batch),
        "seed": st.integers(0, 2**31 - 1)})
    worst = _Worst()
    dev = config.device

    def body(ex):
        s = torch.tensor(ex["s"], dtype=torch.float64, device=dev)
        gamma = torch.tensor(ex["gamma"], dtype=torch.float64, device=dev)
        u0 = torch.tensor(ex["u0"], dtype=torch.float64, device=dev)
        # the Hessian's largest eigenvalue is at most 2 max(s) + gamma: keep lr times it <= LR_LAMBDA
        tau = torch.maximum(torch.tensor(ex["tau"], dtype=torch.float64, device=dev), (2 * s.max() + gamma) / LR_LAMBDA)
        rate = s - gamma.unsqueeze(1)
        flow = _horizon(rate, rate.clamp(min=0), u0) * tau.unsqueeze(1)
        steps = min(MAX_STEPS, int(math.ceil(float(flow.max()) * 1.2)))
        data = whitened_dataset(ex["s"], n_in=4, n_out=4, n_examples=8, seed=ex["seed"], device=dev)
        every = max(1, steps // 200)
        runs = [simulate_deep_linear(data, 2, k_lr / tau, k * steps, u0=u0, gamma=gamma, seed=ex["seed"], device=dev,
                                     record_every=k * every) for k, k_lr in ((1, 1.0), (2, 0.5))]
        t = runs[0].t.to(torch.float64)  # the coarse run's record steps (the fine run records the same flow times)
        expected = theory(t=t.view(-1, 1, 1), s=s, u0=u0, gamma=gamma.view(1, -1, 1), tau=tau.view(1, -1, 1))
        coarse, fine = (run.mode_strengths for run in runs)
        scale = s.view(1, 1, -1)
        e1 = ((coarse - expected).abs() / scale).amax(0).flatten()
        e2 = ((fine - expected).abs() / scale).amax(0).flatten()
        eR = ((2 * fine - coarse - expected).abs() / scale).amax(0).flatten()
        _assert_convergence("weight_decay_trajectory", e1, e2, eR, worst)

    failure = _run_examples(strategy, body, config, max(1, config.examples // 25))
    return _check("weight_decay_trajectory", worst, failure, "GD, 2-layer linear net + weight decay, Richardson")


# -- the denoising autoencoder ------------------------------------------------------------------------------

def _dae_strategy(batch: int, modes: int):
    r = _declaration("dae_trajectory")
    by = {p.name: p for p in r.params}
    per = lambda name: st.lists(param_strategy(by[name], "sim"), min_size=batch, max_size=batch)
    return st.fixed_dictionaries({
        "lam": st.lists(param_strategy(by["lam"], "sim"), min_size=modes, max_size=modes, unique=True),
        "eps": per("eps"), "gamma": per("gamma"), "tau": per("tau"),
        "u0": st.lists(st.lists(param_strategy(by["u0"], "sim"), min_size=modes, max_size=modes), min_size=batch, max_size=batch),
        "seed": st.integers(0, 2**31 - 1)})


def _dae_setup(ex, dev):
    lam = torch.tensor(ex["lam"], dtype=torch.float64, device=dev)
    eps = torch.tensor(ex["eps"], dtype=torch.float64, device=dev)
    gamma = torch.tensor(ex["gamma"], dtype=torch.float64, device=dev)
    u0 = torch.tensor(ex["u0"], dtype=torch.float64, device=dev)
    # curvature of the per-layer map at most 2 (lam + eps) + gamma: keep lr times it <= LR_LAMBDA
    tau = torch.maximum(torch.tensor(ex["tau"], dtype=torch.float64, device=dev), (2 * (lam.max() + eps) + gamma) / LR_LAMBDA)
    rate = lam - gamma.unsqueeze(1)
    plateau = (rate / (lam + eps.unsqueeze(1))).clamp(min=0)
    flow = _horizon(rate, plateau, u0) * tau.unsqueeze(1)
    return lam, eps, gamma, u0, tau, flow


def dae_check(config: VerifyConfig, theory: Callable) -> Check:
    """``dae_trajectory`` against GD on a linear autoencoder with the marginalised noise penalty
    ``(eps/2)‖W2 W1‖²`` and weight decay (inputs with covariance eigenvalues ``lam``, 3 modes, 8 configs)."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    worst = _Worst()
    dev = config.device

    def body(ex):
        lam, eps, gamma, u0, tau, flow = _dae_setup(ex, dev)
        steps = min(MAX_STEPS, int(math.ceil(float(flow.max()) * 1.2)))
        every = max(1, steps // 200)
        data = covariance_dataset(ex["lam"], 4, 16, seed=ex["seed"], device=dev)
        runs = [simulate_autoencoder(data, k_lr / tau, k * steps, eps=eps, gamma=gamma, u0=u0, noise="marginalised",
                                     record_every=k * every, seed=ex["seed"], device=dev)
                for k, k_lr in ((1, 1.0), (2, 0.5))]
        t = runs[0].t.to(torch.float64).view(-1, 1, 1)
        expected = theory(t=t, lam=lam, eps=eps.view(1, -1, 1), gamma=gamma.view(1, -1, 1), u0=u0, tau=tau.view(1, -1, 1))
        coarse, fine = (run.mode_strengths[:, :, 0, :] for run in runs)
        scale = (lam / (lam + eps.unsqueeze(1))).unsqueeze(0)  # the noise-only plateau, >= the mode's plateau
        e1 = ((coarse - expected).abs() / scale).amax(0).flatten()
        e2 = ((fine - expected).abs() / scale).amax(0).flatten()
        eR = ((2 * fine - coarse - expected).abs() / scale).amax(0).flatten()
        _assert_convergence("dae_trajectory", e1, e2, eR, worst)

    failure = _run_examples(_dae_strategy(8, 3), body, config, max(1, config.examples // 25))
    return _check("dae_trajectory", worst, failure, "GD, linear autoencoder, marginalised noise, Richardson")


class _Stat:
    def __init__(self):
        self.worst = 0.0  # worst |error| / tolerance
        self.configs = 0
        self.details: dict = {}


def _mean_check(name: str, stat: _Stat, diff: torch.Tensor, se: torch.Tensor, scale: torch.Tensor, what: str) -> None:
    """Assert ``|diff| <= K_SE·se + RICHARDSON_TOL·scale`` elementwise (the extrapolated mean against the
    theory); record the worst ratio and the worst z-score ``|diff|/se``."""
    tol = K_SE * se + RICHARDSON_TOL * scale
    ratio = (diff.abs() / tol)
    stat.configs += diff.numel()
    stat.worst = max(stat.worst, float(ratio.max()))
    if float(ratio.max()) > 1:
        i = int(ratio.argmax())
        raise AssertionError(f"{name}: {what} differs from the theory by {float(diff.flatten()[i]):.3g}, more than "
                             f"{K_SE:g} standard errors ({float(se.flatten()[i]):.3g}) + {RICHARDSON_TOL:g} x scale")


def _stat_row(name: str, stat: _Stat, failure: str | None, what: str) -> Check:
    return Check(name=name, tier=f"b: {what}", examples=stat.configs, worst=stat.worst, tolerance=1.0,
                 measure=f"|mean - theory| / ({K_SE:g} SE + {RICHARDSON_TOL:g} scale)", passed=failure is None,
                 failure=failure, details=dict(stat.details))


def dae_sampled_noise_check(config: VerifyConfig, theory: Callable) -> Check:
    """``dae_trajectory`` against the linear autoencoder trained on inputs with noise sampled afresh every
    step (64 examples, 48 independent noise replicas per configuration): the Richardson-extrapolated mean
    over replicas within ``K_SE`` standard errors + ``RICHARDSON_TOL`` of the theory."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    stat = _Stat()
    dev = config.device
    replicas = 48

    def body(ex):
        lam, eps, gamma, u0, tau, flow = _dae_setup(ex, dev)
        steps = min(MAX_STEPS // 4, int(math.ceil(float(flow.max()) * 1.2)))
        every = max(1, steps // 100)
        data = covariance_dataset(ex["lam"], 4, 64, seed=ex["seed"], device=dev)
        means, ses = [], []
        for k, k_lr in ((1, 1.0), (2, 0.5)):
            run = simulate_autoencoder(data, k_lr / tau, k * steps, eps=eps, gamma=gamma, u0=u0, noise="sampled",
                                       sampler="wishart", replicas=replicas, record_every=k * every,
                                       seed=ex["seed"] + k, device=dev)
            u = run.mode_strengths  # (R, B, K, m)
            means.append(u.mean(2))
            ses.append(u.std(2) / math.sqrt(replicas))
            if k == 1:
                t = run.t.to(torch.float64)
        expected = theory(t=t.view(-1, 1, 1), lam=lam, eps=eps.view(1, -1, 1), gamma=gamma.view(1, -1, 1), u0=u0,
                          tau=tau.view(1, -1, 1))
        extrapolated = 2 * means[1] - means[0]
        se = torch.sqrt(4 * ses[1] ** 2 + ses[0] ** 2)
        scale = (lam / (lam + eps.unsqueeze(1))).unsqueeze(0)
        _mean_check("dae_trajectory (sampled noise)", stat, extrapolated - expected, se, scale.expand_as(se),
                    "the Richardson-extrapolated replica mean")

    failure = _run_examples(_dae_strategy(4, 3), body, config, max(1, config.examples // 50))
    return _stat_row("dae_trajectory", stat, failure, "GD, autoencoder, sampled noise, replica mean")


# -- dropout --------------------------------------------------------------------------------------------------

def lam_eps_strategy(batch: int):
    """A batch of ``(lam, eps)`` from ``noise_equivalent_decay``'s simulation ranges, and a seed."""
    return st.tuples(st.lists(point_strategy(_declaration("noise_equivalent_decay"), "sim"), min_size=batch, max_size=batch),
                     st.integers(0, 2**31 - 1))


def _dropout_points(name: str, batch: int):
    only = tuple(n for n in _declaration(name).names if n != "t")
    return st.tuples(st.lists(point_strategy(_declaration(name), "sim", only=only), min_size=batch, max_size=batch),
                     st.integers(0, 2**31 - 1))


def _cols(points, dev) -> dict:
    return {k: torch.tensor([p[k] for p in points], dtype=torch.float64, device=dev) for k in points[0]}


def _dropout_hits(config: VerifyConfig, theory: Callable, name: str) -> Check:
    """Hitting times of ``u ≥ s − margin`` from ``u0 = margin`` over 4000 dropout runs per configuration."""
    from learndyn.verify.simulate import dropout_hitting_times, simulate_scalar_network

    stat = _Stat()
    dev = config.device
    runs = 4000
    expected_time = _f("dropout_expected_time")

    def body(ex):
        points, seed = ex
        c = _cols(points, dev)
        s, p, margin, tau = c["s"], c["p"], c["margin"], c["tau"]
        # lr·2s <= LR_LAMBDA for stability, and tau >= 300 so that K >= 300 active steps: the O(1)-step
        # discretisation of a hitting time (part of the O(lr) bias) stays near 0.3 % of it
        tau = torch.maximum(torch.maximum(tau, 2 * s / LR_LAMBDA), torch.full_like(tau, 300.0))
        lr = 1 / tau
        level = s - margin
        # E[t] under test (for the bound's check, the generated expectation: the bound is compared with it)
        of = theory if name == "dropout_expected_time" else expected_time
        mean_time = of(s=s, p=p, margin=margin, tau=tau)
        # the deterministic part: the always-on run (the scalar network at x = 1, y = s), hitting time
        # interpolated in the logit and Richardson-extrapolated, against the theory's active time p·E[t]
        active = p * mean_time
        steps = int(math.ceil(float((active / tau).max() * tau.max()) * 1.3))
        cont = []
        for k in (1, 2):
            run = simulate_scalar_network(1.0, s, margin, lr / k, k * steps, device=dev)
            logit = lambda v: torch.log(v / (s - v))
            cont.append(crossing_time(run.t.to(torch.float64), run.u, level, logit) / k)
        active_R = 2 * cont[1] - cont[0]
        rel = ((active_R - active).abs() / active)
        stat.details["worst_active_time_richardson"] = max(stat.details.get("worst_active_time_richardson", 0.0), float(rel.max()))
        if float(rel.max()) > RICHARDSON_TOL:
            raise AssertionError(f"{name}: the always-on GD run's extrapolated hitting time differs from p·E[t] by "
                                 f"{float(rel.max()):.3g} (> {RICHARDSON_TOL})")
        # the exact law: negative binomial with K active steps
        K = dropout_hitting_times(s, torch.ones_like(p), lr, level, u0=margin, runs=1, max_steps=steps, seed=seed,
                                  device=dev).steps.squeeze(-1).to(torch.float64)
        key = (tuple(tuple(sorted(pt.items())) for pt in points), seed, dev)
        if key not in _HITS:  # the expectation and the bound checks share one simulation
            _HITS.clear()
            _HITS[key] = dropout_hitting_times(s, p, lr, level, u0=margin, runs=runs,
                                               max_steps=int(float((K / p).max()) * 3) + 100, seed=seed, device=dev)
        hits = _HITS[key]
        if not bool(hits.hit.all()):
            raise AssertionError(f"{name}: some dropout runs did not reach s - margin")
        if not bool((hits.active_steps == K.to(torch.int64).unsqueeze(-1)).all()):
            raise AssertionError(f"{name}: a run hit after a number of active steps other than K")
        mean = hits.steps.to(torch.float64).mean(-1)
        se = torch.sqrt(K * (1 - p) / p**2 / runs).clamp(min=1e-12)
        z = ((mean - K / p).abs() / se)
        stat.details["max_z_exact_law"] = max(stat.details.get("max_z_exact_law", 0.0), float(z.max()))
        if float(z.max()) > K_SE:
            raise AssertionError(f"{name}: mean hitting time {float(mean[int(z.argmax())]):.6g} is {float(z.max()):.2f} "
                                 f"standard errors from K/p = {float((K / p)[int(z.argmax())]):.6g}")
        bias = (K / p - mean_time).abs()
        value = theory(s=s, p=p, margin=margin, tau=tau)
        if name == "dropout_expected_time":
            # implied by the two assertions above (|mean − K/p| <= K_SE·SE, K/p − E[t] the measured O(lr) bias);
            # the row reports what was asserted: the exact law's z/K_SE and the active time's Richardson error
            tol = K_SE * se + bias
            ratio = torch.maximum(z / K_SE, rel / RICHARDSON_TOL)
        else:  # the bound must lie above the mean by more than the statistical and O(lr) uncertainty
            tol = K_SE * se + bias
            ratio = (mean + tol) / value  # < 1: decidably below the bound
        stat.configs += mean.numel()
        stat.worst = max(stat.worst, float(ratio.max()))
        stat.details["worst_relative_gap_mean_vs_theory"] = max(
            stat.details.get("worst_relative_gap_mean_vs_theory", 0.0), float(((mean - value).abs() / value).max()))
        if float(ratio.max()) > 1:
            i = int(ratio.argmax())
            raise AssertionError(f"{name}: mean dropout hitting time {float(mean[i]):.6g} vs theory {float(value[i]):.6g} "
                                 f"(tolerance {K_SE:g} SE + O(lr) bias = {float(tol[i]):.3g})")

    failure = _run_examples(_dropout_points(name, 8), body, config, max(1, config.examples // 25))
    measure = ("max(|mean - K/p| / 5 SE, |active time - p E[t]| / 1e-3 p E[t])" if name == "dropout_expected_time"
               else "(mean + 5 SE + |K/p - E[t]|) / bound")
    return Check(name=name, tier=f"b: GD with a dropout mask, {runs} runs, hitting times", examples=stat.configs,
                 worst=stat.worst, tolerance=1.0, measure=measure, passed=failure is None, failure=failure,
                 details=dict(stat.details))


def dropout_time_check(config: VerifyConfig, theory: Callable) -> Check:
    return _dropout_hits(config, theory, "dropout_expected_time")


def dropout_bound_check(config: VerifyConfig, theory: Callable) -> Check:
    return _dropout_hits(config, theory, "dropout_time_bound")


def _dropout_trajectory(config: VerifyConfig, theory: Callable, name: str, variant: str) -> Check:
    """Mean of ``u = w2 w1`` over 4000 dropout runs per configuration, Richardson-extrapolated, against
    the variant's own expected ODE."""
    from learndyn.verify.simulate import simulate_dropout

    stat = _Stat()
    dev = config.device
    runs = 4000

    def body(ex):
        points, seed = ex
        c = _cols(points, dev)
        s, p, u0, tau = c["s"], c["p"], c["u0"], c["tau"]
        # an active step is the scalar network at x = d: Hessian 2 d s, so lr·2 s/p <= LR_LAMBDA
        tau = torch.maximum(tau, 2 * s / p / LR_LAMBDA)
        rate, plateau = (p * s, s) if variant == "standard" else (s, p * s)
        flow = _horizon(rate, plateau, u0) * tau / 1.0
        steps = min(MAX_STEPS // 4, int(math.ceil(float(flow.max()) * 1.2)))
        every = max(1, steps // 100)
        means, ses = [], []
        for k in (1, 2):
            run = simulate_dropout(s, p, 1 / (k * tau), k * steps, u0=u0, runs=runs, variant=variant,
                                   record_every=k * every, seed=seed + k, device=dev)
            means.append(run.u_mean)
            ses.append(torch.sqrt(run.u_var / runs))
            if k == 1:
                t = run.t.to(torch.float64)
        expected = theory(t=t.unsqueeze(1), s=s, p=p, u0=u0, tau=tau)
        extrapolated = 2 * means[1] - means[0]
        se = torch.sqrt(4 * ses[1] ** 2 + ses[0] ** 2)
        _mean_check(name, stat, extrapolated - expected, se, plateau.expand_as(se), "the Richardson-extrapolated mean")

    failure = _run_examples(_dropout_points(name, 4), body, config, max(1, config.examples // 25))
    return _stat_row(name, stat, failure, f"GD with {variant} dropout, {runs} runs, mean")


def dropout_trajectory_check(config: VerifyConfig, theory: Callable) -> Check:
    return _dropout_trajectory(config, theory, "dropout_trajectory", "standard")


def inverted_dropout_trajectory_check(config: VerifyConfig, theory: Callable) -> Check:
    return _dropout_trajectory(config, theory, "inverted_dropout_trajectory", "inverted")


def noise_equivalent_decay_check(config: VerifyConfig, theory: Callable) -> Check:
    """``noise_equivalent_decay``: a linear autoencoder with weight decay ``theory(lam, eps)`` and no noise
    converges to the same mode strength as one with (marginalised) noise ``eps`` and no decay. GD's fixed
    points are the flow's, so after ``≥ 40`` e-foldings of the slower run the two agree to ``1e-9``
    (a 1 % error in the decay moves the fixed point by ``1 % · gamma/(lam − gamma)``); 8 configurations."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    worst = _Worst()
    dev = config.device
    tol = 1e-9

    def body(ex):
        points, seed = ex
        c = _cols(points, dev)
        lam, eps = c["lam"], c["eps"]
        gamma = theory(lam=lam, eps=eps)
        tau = float((2 * (lam + eps) + gamma).max() / LR_LAMBDA)
        # near the fixed point the slower run contracts by 1 − 2 lr (lam − gamma) (lam + eps)/lam... per step
        rate = float((2 * lam**2 / (lam + eps) / tau).min())
        steps = int(math.ceil(45 / rate))
        data = covariance_dataset(lam.unsqueeze(1), 2, 4, seed=seed, device=dev)
        noisy = simulate_autoencoder(data, 1 / tau, steps, eps=eps, u0=0.01, record_every=steps, seed=seed, device=dev)
        decayed = simulate_autoencoder(data, 1 / tau, steps, gamma=gamma, u0=0.01, record_every=steps, seed=seed, device=dev)
        a, b = noisy.mode_strengths[-1, :, 0, 0], decayed.mode_strengths[-1, :, 0, 0]
        err = (a - b).abs() / a
        worst.configs += err.numel()
        worst.richardson = max(worst.richardson, float(err.max()))
        if float(err.max()) > tol:
            i = int(err.argmax())
            raise AssertionError(f"noise_equivalent_decay: converged strengths differ by {float(err[i]):.3g} "
                                 f"(noise {float(a[i]):.12g}, decay {float(b[i]):.12g}) at lam = {float(lam[i]):.4g}, eps = {float(eps[i]):.4g}")

    failure = _run_examples(lam_eps_strategy(8), body, config, max(1, config.examples // 50))
    return Check("noise_equivalent_decay", "b: GD, autoencoders, converged fixed points", worst.configs, worst.richardson,
                 tol, "|u*(noise) - u*(decay)| / u*(noise)", failure is None, failure)


REGULARISATION_CHECKS: dict[str, tuple[Callable[[VerifyConfig, Callable], Check], ...]] = {
    "weight_decay_trajectory": (weight_decay_check,),
    "dae_trajectory": (dae_check, dae_sampled_noise_check),
    "noise_equivalent_decay": (noise_equivalent_decay_check,),
    "dropout_expected_time": (dropout_time_check,),
    "dropout_time_bound": (dropout_bound_check,),
    "dropout_trajectory": (dropout_trajectory_check,),
    "inverted_dropout_trajectory": (inverted_dropout_trajectory_check,),
}
