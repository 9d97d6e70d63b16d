"""Claims of family 1 (seed 003) checked as properties against simulated deep linear networks.

Each claim is a statement about how a learning time depends on depth; each is checked on real
networks trained by GD (balanced, decoupled start on whitened data; one hypothesis example is a batch
of singular values) with hitting times Richardson-extrapolated in ``lr`` (runs at ``lr`` and ``lr/2``), so
the property is asserted of the gradient flow, not of a particular step size, and the simulated times
are also held to the theory within ``RICHARDSON_TOL``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from hypothesis import strategies as st

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig

__all__ = ["CLAIM_CHECKS"]

DEPTHS = (1, 2, 3, 4, 5, 6)


def _sc():
    from learndyn.verify import simulation_checks as sc

    return sc


def _flow_hitting_times(s: torch.Tensor, u0: torch.Tensor, level: torch.Tensor, depth: int, device: str, seed: int):
    """Richardson-extrapolated hitting times ``t/τ`` of ``level`` for the modes of one balanced network whose
    ``Σ31`` has singular values ``s`` (``s``, ``u0``, ``level``: (m,)), and the theory's times."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    sc = _sc()
    m = s.numel()
    lam = depth * s.max() ** (2 - 2 / depth)
    lr = float(sc.LR_LAMBDA / lam)
    theory = sc._deep_time(s=s, u0=u0, uf=level, tau=torch.ones_like(s), depth=depth)
    steps = int(math.ceil(float(theory.max()) / lr * 1.2))
    every = max(1, steps // 4000)
    data = whitened_dataset(s.tolist(), n_in=m, n_out=m, n_examples=2 * m, seed=seed, device=device)
    times = []
    for k in (1, 2):
        run = simulate_deep_linear(data, depth, lr / k, k * steps, u0=u0.view(1, m), seed=seed, device=device,
                                   record_every=k * every)
        h = sc._hitting_time(run.t.to(torch.float64), run.mode_strengths[:, 0, :], level, s)
        times.append(h * lr / k)  # flow time t/τ with τ = k/lr
    coarse, fine = times
    return 2 * fine - coarse, theory


def _depth_claim(name: str, u0_of: Callable, s_of: Callable, monotone: str, config: VerifyConfig) -> Check:
    """Shared body of the two depth claims: D·t/τ against depth for a batch of singular values."""
    from hypothesis import HealthCheck, given, seed as hyp_seed, settings, Phase
    from learndyn.derive.registry import declaration

    sc = _sc()
    s_param = declaration("deep_mode_time").param("s")
    worst = {"theory": 0.0, "trend": None}
    failure = None

    @settings(max_examples=2, database=None, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(st.lists(sc.param_strategy(s_param, "sim"), min_size=3, max_size=3, unique=True))
    def prop(draw):
        s = s_of(torch.tensor(draw, dtype=torch.float64, device=config.device))
        scaled = []
        for D in DEPTHS:
            u0 = u0_of(s, D)
            level = 0.9 * s
            flow, theory = _flow_hitting_times(s, u0, level, D, config.device, config.seed)
            rel = float(((flow - theory).abs() / theory).max())
            worst["theory"] = max(worst["theory"], rel)
            assert rel <= sc.RICHARDSON_TOL, f"{name}: simulated D·t/τ at D={D} differs from deep_mode_time by {rel:.3g}"
            scaled.append(D * flow)
        table = torch.stack(scaled)  # (depths, B)
        worst["trend"] = table.mean(1).tolist()
        steps = table[1:] - table[:-1]
        if monotone == "nonincreasing":
            bad = steps > sc.RICHARDSON_TOL * table[:-1]
            assert not bool(bad.any()), f"{name}: D·t/τ grew with depth: {table.mean(1).tolist()}"
        else:
            bad = steps <= 0
            assert not bool(bad.any()), f"{name}: D·t/τ did not grow with depth: {table.mean(1).tolist()}"
            assert bool((table[-1] > 4 * table[1]).all()), f"{name}: D·t/τ at D={DEPTHS[-1]} is not far above D=2: {table.mean(1).tolist()}"

    try:
        hyp_seed(config.seed)(prop)()
    except AssertionError as exc:
        failure = str(exc).splitlines()[0]
    return Check(name, "claim: GD, depths 1-6, Richardson", 6 * len(DEPTHS), worst["theory"], sc.RICHARDSON_TOL,
                 "max |sim - theory| / theory of t/τ", failure is None, failure,
                 {"mean D·t/τ by depth": worst["trend"], "depths": list(DEPTHS)})


def depth_independent_check(config: VerifyConfig) -> Check:
    """From ``u0 = 1`` (per-layer gain 1) toward ``s > 1``: ``D·t/τ`` does not grow with ``D``."""
    return _depth_claim("depth_independent_time_from_order_one_start",
                        u0_of=lambda s, D: torch.ones_like(s), s_of=lambda s: 1 + s,
                        monotone="nonincreasing", config=config)


def small_gain_check(config: VerifyConfig) -> Check:
    """From a per-layer gain ``a0 = 0.3`` (``u0 = a0^D``, below ``0.9 s`` for every drawn ``s``): ``D·t/τ``
    grows with ``D`` without bound."""
    return _depth_claim("time_grows_with_depth_from_small_gain",
                        u0_of=lambda s, D: torch.full_like(s, 0.3**D), s_of=lambda s: s,
                        monotone="increasing", config=config)


def stable_lr_check(config: VerifyConfig) -> Check:
    """The Hessian of the real network's loss at the balanced optimum has largest eigenvalue ``D s^{2−2/D}``
    (computed by autograd, to round-off), and GD from near the optimum converges at ``lr = 0.9·2/λ`` and
    diverges at ``lr = 1.1·2/λ``."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    worst = 0.0
    failure = None
    results = {}
    try:
        for D in DEPTHS:
            for s in (0.5, 1.0, 2.0):
                data = whitened_dataset([s], n_in=1, n_out=1, n_examples=2, seed=config.seed, device=config.device)
                X, Y = data.X, data.Y
                a = torch.full((D,), s ** (1 / D), dtype=torch.float64, device=config.device)

                def loss(w):
                    W = torch.prod(w) * data.U @ data.V.T
                    return 0.5 * ((Y - W @ X) ** 2).sum(0).mean()

                H = torch.autograd.functional.hessian(loss, a)
                lam = float(torch.linalg.eigvalsh(H).max())
                expected = D * s ** (2 - 2 / D)
                rel = abs(lam - expected) / expected
                worst = max(worst, rel)
                assert rel < 1e-10, f"D={D}, s={s}: largest Hessian eigenvalue {lam} != D s^(2-2/D) = {expected}"
                start = (s * 1.05) * torch.ones(1, 1, dtype=torch.float64, device=config.device)
                ends = []
                for factor in (0.9, 1.1):
                    run = simulate_deep_linear(data, D, factor * 2 / expected, 400, u0=start, hidden=1, seed=config.seed,
                                               device=config.device, record_every=400)
                    ends.append(abs(float(run.mode_strengths[-1, 0, 0]) - s))
                results[f"D={D},s={s}"] = ends
                assert ends[0] < 1e-6 * s, f"D={D}, s={s}: GD at 0.9·2/λ did not converge ({ends[0]:.3g} from s)"
                assert not ends[1] < 1e-2 * s, f"D={D}, s={s}: GD at 1.1·2/λ converged ({ends[1]:.3g} from s)"
    except AssertionError as exc:
        failure = str(exc)
    return Check("stable_lr_shrinks_with_depth", "claim: Hessian + GD stability", 3 * len(DEPTHS), worst, 1e-10,
                 "|λ_max - D s^(2-2/D)| / λ_max", failure is None, failure, {})


def mode_order_check(config: VerifyConfig) -> Check:
    """From a small random start, modes cross ``s/2`` in decreasing order of ``s`` (D = 2 and 3)."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    sc = _sc()
    failure = None
    order = {}
    try:
        s = [2.0, 1.0, 0.5]
        for D, scale in ((2, 1e-2), (3, 1e-1)):
            data = whitened_dataset(s, n_in=6, n_out=5, n_examples=12, seed=config.seed, device=config.device)
            lam = D * max(s) ** (2 - 2 / D)
            lr = sc.LR_LAMBDA / lam
            # horizon: twice the balanced-start time of the weakest mode from a strength of scale^D / 10
            t_weak = sc._deep_time(s=torch.tensor(min(s)), u0=torch.tensor(scale**D / 10), uf=torch.tensor(min(s) / 2),
                                   tau=torch.tensor(1 / lr), depth=D)
            steps = int(2 * float(t_weak))
            run = simulate_deep_linear(data, D, lr, steps, init="random", init_scale=scale, configs=8, seed=config.seed,
                                       device=config.device, record_every=max(1, steps // 4000))
            st_ = torch.tensor(s, dtype=torch.float64, device=config.device).expand(8, 3)
            h = sc._hitting_time(run.t.to(torch.float64), run.mode_strengths, 0.5 * st_, st_)
            order[D] = h.mean(0).tolist()
            assert not bool(h.isnan().any()), f"D={D}: a mode never reached s/2 within {steps} steps"
            assert bool((h[:, 0] < h[:, 1]).all() and (h[:, 1] < h[:, 2]).all()), f"D={D}: modes not learned in order of s: {h.tolist()}"
    except AssertionError as exc:
        failure = str(exc)
    return Check("modes_learned_in_order_of_strength", "claim: GD, random start", 16, 0.0, 0.0, "order of hitting times",
                 failure is None, failure, {"mean hitting step by depth": order})


CLAIM_CHECKS: dict[str, Callable[[VerifyConfig], Check]] = {
    "depth_independent_time_from_order_one_start": depth_independent_check,
    "time_grows_with_depth_from_small_gain": small_gain_check,
    "stable_lr_shrinks_with_depth": stable_lr_check,
    "modes_learned_in_order_of_strength": mode_order_check,
}
