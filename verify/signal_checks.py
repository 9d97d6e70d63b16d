"""Tier (b) for family 3: wide random noisy rectifier networks against the maps (THEORY.md, "Family 3").

Networks are built as THEORY.md defines them (:func:`learndyn.verify.simulate.propagate`, width ``N ≥ 1000``,
noise sampled per unit, input and layer); hyperparameters are drawn by hypothesis from the results' simulation
ranges, with a seed per example. Statistics are compared through ``z = mean deviation / standard error``
over independent networks (``k = 5`` standard errors, a false-failure chance of about 6e-7 per assertion) plus
the finite-width bias where there is one:

* the variance maps are affine in ``q`` and, given one layer, the next one's units are iid Gaussian, so the
  mean of ``(q^l − map(q^{l−1}))/map(q^{l−1})`` is exactly 0 at any width (``φ(h)² − h²/2`` has mean 0 given
  ``|h|``): no bias allowance;
* the correlation map is not linear: its finite-width bias was measured at most ``0.6/N`` per layer, and the
  allowance is ``1/N`` per layer (geometric over depth, ``1/(N (1 − χ))``);
* the Jacobian spectrum variance is biased by ``+1.4 … +2.8 L/N`` relative (measured at ``N = 250 … 1000``): the
  allowance is ``3 L/N``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from hypothesis import strategies as st

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.simulation_checks import _run_examples
from learndyn.verify.strategies import point_strategy

__all__ = ["SIGNAL_CHECKS", "K_SE", "WIDTH", "NETWORKS", "noisy", "inputs_with_correlations", "zscore"]

K_SE = 5.0
WIDTH = 1000
NETWORKS = 16


def _declaration(name: str):
    from learndyn.derive.registry import declaration

    return declaration(name)


def _f(name: str) -> Callable:
    import learndyn

    return learndyn.function(name)


def noisy(mu2: float, kind: str) -> dict:
    """``propagate`` keywords for multiplicative noise with second moment ``mu2``: inverted dropout with keep
    probability ``1/mu2``, or Gaussian ``N(1, mu2 − 1)``."""
    if kind == "dropout":
        return dict(noise="dropout", keep=1.0 / mu2)
    return dict(noise="gaussian", noise_std=math.sqrt(max(mu2 - 1.0, 0.0)))


def inputs_with_correlations(cosines: list[float], n0: int = 64, scales: list[float] | None = None,
                             seed: int = 0) -> torch.Tensor:
    """Inputs ``x_0 … x_k`` in ``R^{n0}`` (rows) with ``cos(x_0, x_i) = cosines[i−1]`` and norms ``√n0 · scale``."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n0, len(cosines) + 1, generator=g, dtype=torch.float64))
    e0 = basis[:, 0]
    rows = [e0] + [c * e0 + math.sqrt(1 - c * c) * basis[:, i + 1] for i, c in enumerate(cosines)]
    x = torch.stack(rows) * math.sqrt(n0)
    if scales is not None:
        x = x * torch.tensor(scales, dtype=torch.float64).unsqueeze(1)
    return x


def zscore(per_network: torch.Tensor) -> tuple[float, float]:
    """Mean over networks and its standard error (networks are independent; what is inside one is not)."""
    n = per_network.numel()
    return float(per_network.mean()), float(per_network.std(unbiased=True) / math.sqrt(n))


class _Worst:
    def __init__(self):
        self.z = 0.0
        self.examples = 0
        self.details: dict = {}


def _sim_points(name: str, only: tuple[str, ...]):
    return st.tuples(point_strategy(_declaration(name), "sim", only=only), st.integers(0, 2**31 - 1),
                     st.sampled_from(("dropout", "gaussian")))


def _assert_z(name: str, mean: float, se: float, allowance: float, worst: _Worst, where: str) -> None:
    z = (abs(mean) - allowance) / se if se > 0 else (math.inf if abs(mean) > allowance else 0.0)
    if abs(mean) >= worst.details.get("largest_mean_deviation", -1.0):
        worst.details.update(largest_mean_deviation=abs(mean), its_standard_error=se, its_allowance=allowance, where=where)
    worst.z = max(worst.z, z)
    worst.examples += 1
    if z > K_SE:
        raise AssertionError(f"{name}: mean deviation {mean:.3g} is {z:.1f} standard errors ({se:.2g}) beyond the "
                             f"finite-width allowance {allowance:.2g} at {where}")


def _row(name: str, tier: str, worst: _Worst, failure: str | None, measure: str) -> Check:
    return Check(name, tier, worst.examples, worst.z, K_SE, measure, failure is None, failure, worst.details)


def _batches(config: VerifyConfig) -> int:
    return max(1, config.examples // 50)


# -- variance -------------------------------------------------------------------------------------------

def _variance_deviation(run, theory_next: Callable) -> torch.Tensor:
    """Per network: mean over layers ``l ≥ 2`` and inputs of ``(q^l − map(q^{l−1}))/map(q^{l−1})``."""
    q = run.variance  # (networks, depth, inputs)
    pred = theory_next(q[:, :-1])
    return ((q[:, 1:] - pred) / pred).mean(dim=(1, 2))


def _one_layer_variance_check(config: VerifyConfig, name: str, noise_param: str, theory_at: Callable,
                              simulate_noise: Callable, tier: str) -> Check:
    """A variance map one layer at a time: 4 inputs of different norms, depth 4, 16 networks of width 1000;
    ``σ_w``, ``σ_b`` and the noise parameter drawn from the simulation ranges (below, at and above
    criticality). Unbiased at any width, so the tolerance is 5 standard errors."""
    from learndyn.verify.simulate import propagate

    worst = _Worst()

    def body(ex):
        pt, seed, kind = ex
        sw, sb, v = pt["sigma_w"], pt["sigma_b"], pt[noise_param]
        x = inputs_with_correlations([0.3, -0.2, 0.6], scales=[0.5, 1.0, 1.5, 2.0], seed=seed)
        run = propagate(x, depth=4, sigma_w=sw, sigma_b=sb, width=WIDTH, networks=NETWORKS, seed=seed,
                        device=config.device, **simulate_noise(v, kind))
        dev = _variance_deviation(run, lambda q: theory_at(q, sw, sb, v))
        _assert_z(name, *zscore(dev), 0.0, worst, f"sigma_w={sw:.4g}, sigma_b={sb:.4g}, {noise_param}={v:.4g}, {kind}")

    failure = _run_examples(_sim_points(name, ("sigma_w", "sigma_b", noise_param)), body, config, _batches(config))
    return _row(name, tier, worst, failure, "max z of mean (q' - map(q))/map(q)")


def variance_map_check(config: VerifyConfig, theory: Callable) -> Check:
    """``variance_map`` with dropout or Gaussian noise of second moment ``mu2`` (see :func:`_one_layer_variance_check`)."""
    return _one_layer_variance_check(config, "variance_map", "mu2",
                                     lambda q, sw, sb, mu2: theory(q=q, sigma_w=sw, sigma_b=sb, mu2=mu2),
                                     noisy, "b: wide noisy ReLU networks")


def additive_noise_variance_map_check(config: VerifyConfig, theory: Callable) -> Check:
    """``additive_noise_variance_map``: additive ``ξ ~ N(0, eps)`` per unit and input (see
    :func:`_one_layer_variance_check`)."""
    return _one_layer_variance_check(config, "additive_noise_variance_map", "eps",
                                     lambda q, sw, sb, eps: theory(q=q, sigma_w=sw, sigma_b=sb, eps=eps),
                                     lambda eps, kind: dict(additive_eps=eps), "b: wide ReLU networks, additive noise")


def critical_sigma_w_check(config: VerifyConfig, theory: Callable) -> Check:
    """``critical_sigma_w``: at ``σ_w = theory(mu2)``, ``σ_b = 0``, the variance is kept from layer to layer
    (mean of ``q^l/q^{l−1} − 1`` over 9 layers is 0 within 5 SE); at ``0.9 σ_w`` and ``1.1 σ_w`` it shrinks and
    grows by ``(0.9² − 1)`` and ``(1.1² − 1)`` per layer, also within 5 SE, so the check sees a 10 % error."""
    from learndyn.verify.simulate import propagate

    worst = _Worst()

    def body(ex):
        pt, seed, kind = ex
        mu2 = pt["mu2"]
        sw = float(theory(mu2=mu2))
        x = inputs_with_correlations([0.5], seed=seed)
        for factor in (1.0, 0.9, 1.1):
            run = propagate(x, depth=10, sigma_w=factor * sw, sigma_b=0.0, width=WIDTH, networks=NETWORKS, seed=seed,
                            device=config.device, **noisy(mu2, kind))
            q = run.variance
            growth = (q[:, 1:] / q[:, :-1] - factor**2).mean(dim=(1, 2))
            _assert_z("critical_sigma_w", *zscore(growth), 0.0, worst, f"mu2={mu2:.4g}, {kind}, sigma_w x {factor}")

    failure = _run_examples(_sim_points("critical_sigma_w", ("mu2",)), body, config, _batches(config))
    return _row("critical_sigma_w", "b: wide noisy ReLU networks at criticality", worst, failure,
                "max z of mean q^l/q^(l-1) - (sigma_w/sigma_crit)^2")


def variance_after_depth_check(config: VerifyConfig, theory: Callable) -> Check:
    """``variance_after_depth``: ``q^L`` of 10-layer networks against the map iterated 9 times from the
    measured ``q¹`` (per network and input); unbiased at any width (tower property), 5 SE (which at this size is
    about 20 % of ``q^L``: the multiplicative noise compounds over 10 layers; tier (a) sees 1 %)."""
    from learndyn.verify.simulate import propagate

    worst = _Worst()

    def body(ex):
        pt, seed, kind = ex
        sw, sb, mu2 = pt["sigma_w"], pt["sigma_b"], pt["mu2"]
        depth = 10
        x = inputs_with_correlations([0.3, 0.8], scales=[0.5, 1.0, 2.0], seed=seed)
        run = propagate(x, depth=depth, sigma_w=sw, sigma_b=sb, width=WIDTH, networks=NETWORKS, seed=seed,
                        device=config.device, **noisy(mu2, kind))
        q = run.variance
        pred = theory(q=q[:, 0], sigma_w=sw, sigma_b=sb, mu2=mu2, depth=depth - 1)
        dev = ((q[:, -1] - pred) / pred).mean(dim=1)
        _assert_z("variance_after_depth", *zscore(dev), 0.0, worst, f"sigma_w={sw:.4g}, sigma_b={sb:.4g}, mu2={mu2:.4g}, {kind}")

    failure = _run_examples(_sim_points("variance_after_depth", ("sigma_w", "sigma_b", "mu2")), body, config,
                            _batches(config))
    return _row("variance_after_depth", "b: wide noisy ReLU networks, depth 10", worst, failure,
                "max z of mean (q^L - theory(q^1))/theory")


# -- correlation ------------------------------------------------------------------------------------------

def correlation_map_check(config: VerifyConfig, theory: Callable) -> Check:
    """``correlation_map`` one layer at a time (layer 1 → 2, then 2 → 3) for 4 inputs at cosines from −0.8 to
    0.95 (6 pairs), ``σ_b = 0``, dropout or Gaussian noise with independent noise per input; tolerance 5 SE
    plus the finite-width allowance ``1/N``."""
    from learndyn.verify.simulate import propagate

    worst = _Worst()
    allowance = 1.0 / WIDTH

    def body(ex):
        pt, seed, kind = ex
        sw = 1.4
        x = inputs_with_correlations([0.95, 0.2, -0.8], seed=seed)
        for mu2 in (pt["mu2"], 2 * pt["mu2"] - 0.5):  # the drawn noise and a stronger one
            run = propagate(x, depth=3, sigma_w=sw, sigma_b=0.0, width=WIDTH, networks=NETWORKS, seed=seed,
                            device=config.device, **noisy(mu2, kind))
            c = run.correlation
            iu = torch.triu_indices(4, 4, 1)
            before, after = c[:, :-1, iu[0], iu[1]], c[:, 1:, iu[0], iu[1]]
            dev = (after - theory(c=before.clamp(-1.0, 1.0), mu2=mu2)).mean(dim=(1, 2))
            _assert_z("correlation_map", *zscore(dev), allowance, worst, f"mu2={mu2:.4g}, {kind}")

    failure = _run_examples(_sim_points("correlation_map", ("mu2",)), body, config, _batches(config))
    return _row("correlation_map", "b: wide noisy ReLU networks, pairs of inputs", worst, failure,
                "max z of mean c' - map(c) beyond 1/N")


def correlation_fixed_point_check(config: VerifyConfig, theory: Callable) -> Check:
    """``correlation_fixed_point``: after 16 layers (``≥ 5 ξ_c`` for ``mu2 ≥ 1.05``) the correlation of every
    pair of inputs, from cosines −0.5 … 0.99, is ``c*``: mean over pairs against ``c*`` within 5 SE plus the
    accumulated finite-width allowance ``1/(N (1 − χ))`` and the theory's own convergence gap ``χ^15``."""
    from learndyn.verify.simulate import propagate

    worst = _Worst()

    def body(ex):
        pt, seed, kind = ex
        mu2 = max(pt["mu2"], 1.05)
        c_star = float(theory(mu2=mu2))
        chi = float(_f("correlation_slope")(mu2=mu2))
        depth = 16
        x = inputs_with_correlations([0.99, 0.5, -0.5], seed=seed)
        run = propagate(x, depth=depth, sigma_w=1.4, sigma_b=0.0, width=WIDTH, networks=NETWORKS, seed=seed,
                        device=config.device, **noisy(mu2, kind))
        iu = torch.triu_indices(4, 4, 1)
        last = run.correlation[:, -1, iu[0], iu[1]]
        allowance = 1.0 / (WIDTH * (1 - chi)) + 2 * chi ** (depth - 1)
        _assert_z("correlation_fixed_point", *zscore((last - c_star).mean(dim=1)), allowance, worst,
                  f"mu2={mu2:.4g}, {kind}, c*={c_star:.4g}")

    failure = _run_examples(_sim_points("correlation_fixed_point", ("mu2",)), body, config, _batches(config))
    return _row("correlation_fixed_point", "b: wide noisy ReLU networks, depth 16", worst, failure,
                "max z of mean c^L - c* beyond allowance")


def _slope_check(config: VerifyConfig, name: str, chi_of: Callable) -> Check:
    """The slope ``χ`` of the correlation map at ``c*`` measured as a secant: two pairs of inputs at cosines
    ``c* ± 0.3`` (``c¹`` has those means, the first layer being linear), their correlations after the noisy layer
    ``(c²_a − c²_b)/(c¹_a − c¹_b)`` per network, 64 networks; ``mu2 ∈ [1.2, 3]`` (so ``c* + 0.3 < 1``). Tolerance
    5 SE plus the secant's own curvature error, ``|secant of correlation_map − its derivative at c*|`` (at most
    0.004), and ``2/N`` for the ratio and finite width."""
    from learndyn.verify.simulate import propagate

    worst = _Worst()
    delta = 0.3

    def body(ex):
        pt, seed, kind = ex
        mu2 = min(max(pt["mu2"], 1.2), 3.0)
        c_star = float(_f("correlation_fixed_point")(mu2=mu2))
        chi = float(chi_of(mu2))
        cmap = _f("correlation_map")
        at = torch.tensor(c_star, dtype=torch.float64, requires_grad=True)
        (tangent,) = torch.autograd.grad(cmap(c=at, mu2=mu2), at)
        secant = float(cmap(c=c_star + delta, mu2=mu2) - cmap(c=c_star - delta, mu2=mu2)) / (2 * delta)
        x = inputs_with_correlations([c_star + delta, c_star - delta], seed=seed)
        run = propagate(x, depth=2, sigma_w=1.4, sigma_b=0.0, width=WIDTH, networks=4 * NETWORKS, seed=seed,
                        device=config.device, **noisy(mu2, kind))
        c = run.correlation
        slope = (c[:, 1, 0, 1] - c[:, 1, 0, 2]) / (c[:, 0, 0, 1] - c[:, 0, 0, 2])
        _assert_z(name, *zscore(slope - chi), abs(secant - float(tangent)) + 2.0 / WIDTH, worst,
                  f"mu2={mu2:.4g}, {kind}, chi={chi:.4g}")

    failure = _run_examples(_sim_points("correlation_slope", ("mu2",)), body, config, _batches(config))
    return _row(name, "b: wide noisy ReLU networks, secant at c*", worst, failure, "max z of mean secant slope - chi")


def correlation_slope_check(config: VerifyConfig, theory: Callable) -> Check:
    """``correlation_slope`` against the measured secant (see :func:`_slope_check`)."""
    return _slope_check(config, "correlation_slope", lambda mu2: theory(mu2=mu2))


def correlation_depth_scale_check(config: VerifyConfig, theory: Callable) -> Check:
    """``correlation_depth_scale`` through ``χ = e^{−1/ξ_c}`` against the measured secant (see :func:`_slope_check`)."""
    return _slope_check(config, "correlation_depth_scale", lambda mu2: math.exp(-1.0 / float(theory(mu2=mu2))))


def trainable_depth_check(config: VerifyConfig, theory: Callable) -> Check:
    """``trainable_depth`` through ``χ = e^{−6/L_max}`` (its definition ``L_max = 6 ξ_c``) against the measured
    secant (see :func:`_slope_check`); the empirical factor 6 itself is not something a wide network can test."""
    return _slope_check(config, "trainable_depth", lambda mu2: math.exp(-6.0 / float(theory(mu2=mu2))))


# -- shifted ReLU ------------------------------------------------------------------------------------------

def _monte_carlo_z(config: VerifyConfig, seed: int, samples: int = 1_000_000) -> torch.Tensor:
    g = torch.Generator(device=config.device).manual_seed(seed)
    return torch.randn(samples, generator=g, dtype=torch.float64, device=config.device)


def shifted_relu_active_fraction_check(config: VerifyConfig, theory: Callable) -> Check:
    """``shifted_relu_active_fraction`` by Monte Carlo: the fraction of ``10⁶`` draws ``√q z > −α`` against the
    theory within 5 binomial standard errors."""
    worst = _Worst()

    def body(ex):
        pt, seed, _ = ex
        q, alpha = pt["q"], pt["alpha"]
        z = _monte_carlo_z(config, seed)
        p = float(theory(q=q, alpha=alpha))
        frac = float(((math.sqrt(q) * z + alpha) > 0).double().mean())
        se = math.sqrt(max(p * (1 - p), 1e-300) / z.numel())
        _assert_z("shifted_relu_active_fraction", frac - p, se, 0.0, worst, f"q={q:.4g}, alpha={alpha:.4g}")

    failure = _run_examples(_sim_points("shifted_relu_active_fraction", ("q", "alpha")), body, config, 4 * _batches(config))
    return _row("shifted_relu_active_fraction", "b: Monte Carlo, 1e6 draws", worst, failure, "max z of fraction - p")


def shifted_relu_second_moment_check(config: VerifyConfig, theory: Callable) -> Check:
    """``shifted_relu_second_moment`` by Monte Carlo: the mean of ``φ(√q z)²`` over ``10⁶`` draws within 5 SE."""
    worst = _Worst()

    def body(ex):
        pt, seed, _ = ex
        q, alpha = pt["q"], pt["alpha"]
        z = _monte_carlo_z(config, seed)
        h = math.sqrt(q) * z
        phi2 = (torch.clamp(h + alpha, min=0.0) - alpha) ** 2
        se = float(phi2.std() / math.sqrt(phi2.numel()))
        _assert_z("shifted_relu_second_moment", float(phi2.mean()) - float(theory(q=q, alpha=alpha)), se, 0.0, worst,
                  f"q={q:.4g}, alpha={alpha:.4g}")

    failure = _run_examples(_sim_points("shifted_relu_second_moment", ("q", "alpha")), body, config, 4 * _batches(config))
    return _row("shifted_relu_second_moment", "b: Monte Carlo, 1e6 draws", worst, failure, "max z of mean phi^2 - m2")


def shifted_relu_critical_point_check(config: VerifyConfig, theory: Callable) -> Check:
    """``shifted_relu_critical_point``: a noise-free shifted-ReLU network at ``(σ_w, σ_b)`` from the theory, its
    input drawn at ``q*``, keeps the variance at ``q*`` (mean of ``q^l/q* − 1`` over 8 layers) and its units are
    active with the predicted fraction (from the Jacobian simulator's masks); 5 SE plus ``1/N`` per layer for the
    (nonlinear) variance map's finite-width bias."""
    from learndyn.verify.simulate import jacobian_spectrum, propagate

    worst = _Worst()

    def body(ex):
        pt, seed, _ = ex
        alpha, sb = pt["alpha"], pt["sigma_b"]
        cp = theory(alpha=alpha, sigma_b=sb)
        q_star, a, sw = float(cp.q_star), float(cp.active_fraction), float(cp.sigma_w)
        n0 = 256
        x = inputs_with_correlations([0.3], n0=n0, seed=seed) * math.sqrt(max(q_star - sb**2, 0.0)) / sw
        run = propagate(x, depth=8, sigma_w=sw, sigma_b=sb, alpha=alpha, width=WIDTH, networks=NETWORKS, seed=seed,
                        device=config.device)
        dev = (run.variance / q_star - 1).mean(dim=(1, 2))
        _assert_z("shifted_relu_critical_point", *zscore(dev), 8.0 / WIDTH, worst, f"alpha={alpha:.4g}, sigma_b={sb:.4g} (q*)")
        spec = jacobian_spectrum(depth=4, sigma_w=sw, sigma_b=sb, alpha=alpha, width=500, networks=8, q0=q_star,
                                 seed=seed, device=config.device)
        _assert_z("shifted_relu_critical_point", *zscore(spec.active_fraction.mean(dim=1) - a), 4.0 / 500, worst,
                  f"alpha={alpha:.4g}, sigma_b={sb:.4g} (active fraction)")

    failure = _run_examples(_sim_points("shifted_relu_critical_point", ("alpha", "sigma_b")), body, config, _batches(config))
    return _row("shifted_relu_critical_point", "b: wide shifted-ReLU networks at q*", worst, failure,
                "max z of mean q^l/q* - 1 and of active fraction - a")


def jacobian_spectrum_variance_check(config: VerifyConfig, theory: Callable) -> Check:
    """``jacobian_spectrum_variance``: the variance of the eigenvalues of ``J Jᵀ`` of noise-free networks at
    criticality — ReLU (``a = ½``, ``σ_w = √2``) and the shifted ReLU at its critical point — with orthogonal
    and Gaussian weights, depth 4, width 400, 24 networks; 5 SE plus the finite-width bias ``3 L/N`` relative."""
    from learndyn.verify.simulate import jacobian_spectrum

    worst = _Worst()
    width, depth, nets = 400, 4, 24

    def body(ex):
        pt, seed, _ = ex
        cp = _f("shifted_relu_critical_point")(alpha=pt["alpha"], sigma_b=pt["sigma_b"])
        cases = [(None, 0.0, math.sqrt(2.0), 0.5, 1.0),
                 (pt["alpha"], pt["sigma_b"], float(cp.sigma_w), float(cp.active_fraction), float(cp.q_star))]
        for alpha, sb, sw, a, q0 in cases:
            for weights in ("orthogonal", "gaussian"):
                spec = jacobian_spectrum(depth=depth, sigma_w=sw, sigma_b=sb, alpha=alpha, weights=weights, width=width,
                                         networks=nets, q0=q0, seed=seed, device=config.device)
                expected = float(theory(active_fraction=a, depth=depth, weights=weights))
                mean, se = zscore(spec.variance - expected)
                _assert_z("jacobian_spectrum_variance", mean, se, 3 * depth / width * expected, worst,
                          f"{weights}, {'ReLU' if alpha is None else f'shifted ReLU alpha={alpha:.3g}'}, a={a:.4g}")

    points = st.tuples(point_strategy(_declaration("shifted_relu_critical_point"), "sim"), st.integers(0, 2**31 - 1),
                       st.just("none"))
    failure = _run_examples(points, body, config, _batches(config))
    return _row("jacobian_spectrum_variance", "b: J J^T spectra, orthogonal and Gaussian", worst, failure,
                "max z of mean variance - theory beyond 3L/N")


SIGNAL_CHECKS: dict[str, tuple[Callable[[VerifyConfig, Callable], Check], ...]] = {
    "variance_map": (variance_map_check,),
    "additive_noise_variance_map": (additive_noise_variance_map_check,),
    "critical_sigma_w": (critical_sigma_w_check,),
    "variance_after_depth": (variance_after_depth_check,),
    "correlation_map": (correlation_map_check,),
    "correlation_fixed_point": (correlation_fixed_point_check,),
    "correlation_slope": (correlation_slope_check,),
    "correlation_depth_scale": (correlation_depth_scale_check,),
    "trainable_depth": (trainable_depth_check,),
    "shifted_relu_active_fraction": (shifted_relu_active_fraction_check,),
    "shifted_relu_second_moment": (shifted_relu_second_moment_check,),
    "shifted_relu_critical_point": (shifted_relu_critical_point_check,),
    "jacobian_spectrum_variance": (jacobian_spectrum_variance_check,),
}
