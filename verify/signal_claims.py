"""Claims of family 3, checked against wide random networks (and, for the first, symbolically)."""
from __future__ import annotations

import math
from typing import Callable

import sympy as sp
from hypothesis import strategies as st

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.signal_checks import K_SE, NETWORKS, WIDTH, _f, inputs_with_correlations, noisy, zscore
from learndyn.verify.simulation_checks import _run_examples

__all__ = ["SIGNAL_CLAIMS"]


def additive_noise_has_no_critical_point(config: VerifyConfig) -> Check:
    """Symbolically: ``q' − q ≡ 0`` for every ``q`` needs ``σ_w²/2 = 1`` and ``σ_w² eps + σ_b² = 0``, which has no
    solution for ``eps > 0``. In simulation, at He initialisation with additive noise the variance grows by
    ``2 eps`` per layer (mean increment over 9 layers ``/(2 eps) = 1`` within 5 SE) and is far from constant
    (more than 5 SE from 0), while multiplicative noise at its critical ``σ_w`` keeps it constant (within 5 SE)."""
    from learndyn.derive.registry import derivation
    from learndyn.verify.simulate import propagate

    d = derivation("additive_noise_variance_map")
    syms = d.result.symbols
    q, eps = syms["q"], syms["eps"]
    poly = sp.Poly(sp.expand(d.expr - q), q)
    solutions = sp.solve([c.subs(eps, sp.Symbol("e", positive=True)) for c in poly.all_coeffs()],
                         [syms["sigma_w"], syms["sigma_b"]], dict=True)
    worst, failure, count = 0.0, None, 0
    if solutions:
        failure = f"SymPy finds a critical point with additive noise: {solutions}"

    def body(ex):
        nonlocal worst, count
        eps_v, mu2, seed = ex
        x = inputs_with_correlations([0.5], seed=seed)
        run = propagate(x, depth=10, sigma_w=math.sqrt(2.0), sigma_b=0.0, width=WIDTH, networks=NETWORKS,
                        additive_eps=eps_v, seed=seed, device=config.device)
        q_ = run.variance
        step = ((q_[:, 1:] - q_[:, :-1]) / (2 * eps_v)).mean(dim=(1, 2))
        mean, se = zscore(step)
        worst = max(worst, abs(mean - 1) / se)
        count += 1
        if abs(mean - 1) > K_SE * se or mean < K_SE * se:
            raise AssertionError(f"additive noise eps={eps_v:.3g}: growth per layer / (2 eps) = {mean:.4g} ± {se:.2g}")
        crit = propagate(x, depth=10, sigma_w=float(_f("critical_sigma_w")(mu2=mu2)), sigma_b=0.0, width=WIDTH,
                         networks=NETWORKS, seed=seed, device=config.device, **noisy(mu2, "dropout"))
        qc = crit.variance
        mean_c, se_c = zscore((qc[:, 1:] / qc[:, :-1] - 1).mean(dim=(1, 2)))
        worst = max(worst, abs(mean_c) / se_c)
        if abs(mean_c) > K_SE * se_c:
            raise AssertionError(f"multiplicative noise mu2={mu2:.3g} at its critical sigma_w: growth {mean_c:.3g} ± {se_c:.2g}")

    if failure is None:
        failure = _run_examples(st.tuples(st.floats(0.05, 1.0), st.floats(1.1, 3.0), st.integers(0, 2**31 - 1)),
                                body, config, max(1, config.examples // 50))
    return Check("additive_noise_has_no_critical_point", "claim", count, worst, K_SE,
                 "max z (growth/2eps - 1; critical growth)", failure is None, failure,
                 {"symbolic": "no (sigma_w, sigma_b) solves q' = q for all q when eps > 0"})


def noise_limits_depth(config: VerifyConfig) -> Check:
    """Stronger noise, lower ``c*`` and shorter ``ξ_c`` (theory, on a grid of ``mu2``), and in simulation the
    correlation of two inputs after 16 layers is lower for dropout with keep 0.6 than with keep 0.9 (by more
    than 5 SE), each within 5 SE plus the finite-width allowance of its ``c*``."""
    import torch

    from learndyn.verify.simulate import propagate

    mu2 = torch.linspace(1.0, 4.0, 61, dtype=torch.float64)
    c_star = _f("correlation_fixed_point")(mu2=mu2)
    xi = _f("correlation_depth_scale")(mu2=mu2)
    failure = None
    if not (bool((c_star[1:] < c_star[:-1]).all()) and bool((c_star[1:] < 1).all()) and bool((xi[1:] < xi[:-1]).all())):
        failure = "c* or xi_c does not decrease with noise strength"
    worst, count = 0.0, 0
    if failure is None:
        x = inputs_with_correlations([0.9], seed=config.seed)
        last = {}
        for keep in (0.9, 0.6):
            run = propagate(x, depth=16, sigma_w=1.4, sigma_b=0.0, width=WIDTH, networks=NETWORKS, seed=config.seed,
                            device=config.device, noise="dropout", keep=keep)
            c = run.correlation[:, -1, 0, 1]
            target = float(_f("correlation_fixed_point")(mu2=1 / keep))
            chi = float(_f("correlation_slope")(mu2=1 / keep))
            mean, se = zscore(c - target)
            z = (abs(mean) - 1 / (WIDTH * (1 - chi))) / se
            worst, count = max(worst, z), count + 1
            if z > K_SE:
                failure = f"keep {keep}: c^16 - c* = {mean:.3g} ± {se:.2g}"
            last[keep] = c
        diff, se = zscore(last[0.9] - last[0.6])
        if failure is None and diff < K_SE * se:
            failure = f"stronger dropout does not lower the correlation: {diff:.3g} ± {se:.2g}"
    return Check("noise_limits_depth", "claim", count, worst, K_SE, "max z of c^16 - c* (keep 0.9, 0.6)",
                 failure is None, failure)


SIGNAL_CLAIMS: dict[str, Callable[[VerifyConfig], Check]] = {
    "additive_noise_has_no_critical_point": additive_noise_has_no_critical_point,
    "noise_limits_depth": noise_limits_depth,
}
