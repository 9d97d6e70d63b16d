"""Claims of family 2 (seed 000) checked as properties of real GD runs.

* ``noise_lowers_plateau_not_growth``: linear autoencoders with and without input noise (marginalised),
  same data and start. The noisy run settles at ``lam/(lam + eps)`` (GD's fixed point is the flow's, so to
  ``1e-9`` after ≥ 40 e-foldings), below the noise-free plateau 1; its early growth — the time to grow
  from ``u0`` to ``10 u0`` — equals the noise-free one up to the logistic correction: ``d ln u/dt`` differs
  by ``2 eps u/τ``, so the times differ relatively by at most ``(eps/lam)·10 u0`` (checked with a factor 2).
* ``equivalent_decay_is_slower``: an autoencoder with the weight decay ``noise_equivalent_decay(lam, eps)``
  and no noise against one with noise ``eps``: the same plateau, and the time to reach half of it
  (interpolated in the logit, Richardson-extrapolated over ``lr``, ``lr/2``) longer by ``(lam + eps)/lam``
  within ``RICHARDSON_TOL``.
* ``weight_decay_removes_imbalance``: the scalar network with weight decay from an unbalanced start; the
  ratio ``(w2² − w1²)(t)/(w2² − w1²)(0)`` against ``e^{−2 gamma t/τ}``, first order in ``lr`` and within
  ``RICHARDSON_TOL`` after Richardson extrapolation.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from hypothesis import strategies as st

from learndyn.verify.regularisation_checks import _cols, _f, crossing_time, lam_eps_strategy
from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.simulation_checks import (
    LR_LAMBDA, RICHARDSON_TOL, _assert_convergence, _check, _declaration, _run_examples, _Worst,
)
from learndyn.verify.strategies import point_strategy

__all__ = ["REGULARISATION_CLAIMS"]


def noise_lowers_plateau_check(config: VerifyConfig) -> Check:
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    dev = config.device
    worst = {"plateau": 0.0, "growth": 0.0}
    count = [0]
    u0 = 1e-4

    def body(ex):
        points, seed = ex
        c = _cols(points, dev)
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

    failure = _run_examples(lam_eps_strategy(8), body, config, max(1, config.examples // 50))
    return Check("noise_lowers_plateau_not_growth", "claim", count[0], worst["growth"], 1.0,
                 "growth-time change / (2 (eps/lam) 10 u0)", failure is None, failure,
                 details={"worst_plateau_error": worst["plateau"]})


def equivalent_decay_slower_check(config: VerifyConfig) -> Check:
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    dev = config.device
    worst = _Worst()
    gamma_of = _f("noise_equivalent_decay")
    u0 = 1e-3

    def body(ex):
        points, seed = ex
        c = _cols(points, dev)
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
        _assert_convergence("equivalent_decay_is_slower", e1, e2, eR, worst)

    failure = _run_examples(lam_eps_strategy(8), body, config, max(1, config.examples // 50))
    row = _check("equivalent_decay_is_slower", worst, failure, "")
    row.tier = "claim"
    return row


def imbalance_decay_check(config: VerifyConfig) -> Check:
    from learndyn.verify.simulate import simulate_scalar_network

    dev = config.device
    worst = _Worst()
    r = _declaration("weight_decay_trajectory")
    strategy = st.tuples(st.lists(point_strategy(r, "sim", only=("s", "u0", "gamma", "tau")), min_size=16, max_size=16),
                         st.lists(st.floats(-0.5, 0.5).filter(lambda v: abs(v) > 1e-3), min_size=16, max_size=16))

    def body(ex):
        points, imbalance = ex
        c = _cols(points, dev)
        s, u0, gamma = c["s"], c["u0"], c["gamma"]
        d0 = torch.tensor(imbalance, dtype=torch.float64, device=dev)
        tau = torch.maximum(c["tau"], (2 * s + 2 * gamma + 1) / LR_LAMBDA)
        steps = int(math.ceil(float((2.0 / gamma * tau).max())))  # two e-folding times 1/(2 gamma) ... of the slowest
        steps = min(steps, 40000)
        every = max(1, steps // 200)
        runs = [simulate_scalar_network(1.0, s, u0, 1 / (k * tau), k * steps, imbalance=d0, gamma=gamma,
                                        record_every=k * every, device=dev) for k in (1, 2)]
        ratios = [(run.w2**2 - run.w1**2) / d0 for run in runs]
        t = runs[0].t.to(torch.float64).unsqueeze(1)
        expected = torch.exp(-2 * gamma * t / tau)
        e1 = (ratios[0] - expected).abs().amax(0)
        e2 = (ratios[1] - expected).abs().amax(0)
        eR = (2 * ratios[1] - ratios[0] - expected).abs().amax(0)
        _assert_convergence("weight_decay_removes_imbalance", e1, e2, eR, worst)

    failure = _run_examples(strategy, body, config, max(1, config.examples // 25))
    row = _check("weight_decay_removes_imbalance", worst, failure, "")
    row.tier = "claim"
    return row


REGULARISATION_CLAIMS: dict[str, Callable[[VerifyConfig], Check]] = {
    "noise_lowers_plateau_not_growth": noise_lowers_plateau_check,
    "equivalent_decay_is_slower": equivalent_decay_slower_check,
    "weight_decay_removes_imbalance": imbalance_decay_check,
}
