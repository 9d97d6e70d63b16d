"""The data behind seed 001's figures (family 3): wide noisy ReLU networks against the mean-field maps.

The curves come from :mod:`learndyn.verify.figure_data` (``variance_dynamics``, ``correlation_dynamics``,
``fixed_point_vs_noise``, also served by ``learndyn data``); this module picks the sizes (``quick`` or
publication), adds simulated ``c*`` and ``ξ_c`` points to ``fixed_point_vs_noise``, and records the agreement
(:mod:`learndyn.verify.figures.agreement`):

* variance: each network's ``q^l`` against ``variance_after_depth`` from its own ``q¹``; the map is exact in
  expectation at any width (given one layer, the next one's units are iid), so the tolerance is ``K_SE``
  standard errors of the per-network deviation; and, with far more resolution (the deviations of successive
  layers are independent, while ``q^l`` from ``q¹`` accumulates them), the map one layer at a time
  (``variance_after_depth(q^{l−1}, depth = 1)``), pooled over layers per network, within ``K_SE`` SE;
* correlation: the same, plus the finite-width bias of the (nonlinear) correlation map, at most ``1/N`` per layer
  (measured ``≤ 0.6/N``, ``tests/test_signal_simulators.py``), so ``(l − 1)/N`` at layer ``l``;
* ``c*``: the correlation after ``FIXED_POINT_DEPTH`` layers, from pairs of inputs at ``c* ± δ``, within ``K_SE``
  SE plus ``1/(N (1 − χ_max))`` (finite width, accumulated) plus ``δ χ_max^{L−1}`` (not yet converged), ``χ_max``
  the map's largest slope on ``[c* − δ, c* + δ]``;
* ``ξ_c = −1/ln χ``: ``χ`` measured as the secant of the first noisy layer, ``(c²_a − c²_b)/(c¹_a − c¹_b)``
  (``a``, ``b``: means over ``SLOPE_PAIRS`` pairs at ``c* + δ`` and at ``c* − δ``; ``SLOPE_NETWORKS`` networks),
  within ``K_SE`` SE plus the secant's own curvature error
  ``|secant of correlation_map − its slope at c*|`` (both from ``correlation_map``, so that the allowance does not
  move with ``correlation_slope``) plus ``2/N`` for the ratio and finite width.
"""
from __future__ import annotations

import math

import torch

from learndyn.verify import figure_data as _fd

from .agreement import K_SE, compare

__all__ = ["variance_dynamics", "correlation_dynamics", "fixed_point_vs_noise", "FIXED_POINT_DEPTH", "SLOPE_NETWORKS",
           "SLOPE_PAIRS"]

F64 = torch.float64
FIXED_POINT_DEPTH = 12
SLOPE_NETWORKS = 48
SLOPE_PAIRS = 24
_ROUND_OFF = 1e-12


def _f(name: str):
    import learndyn

    return learndyn.function(name)


def _sizes(quick: bool) -> dict:
    return dict(depth=10, width=256, networks=16) if quick else dict(depth=15, width=1000, networks=16)


def variance_dynamics(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """:func:`learndyn.verify.figure_data.variance_dynamics` (16 networks; width 1000 and 15 layers, or 256 and 10
    when ``quick``) with its agreement record."""
    d = _fd.variance_dynamics(seed=seed, device=device, **_sizes(quick))
    dev, tol, labels = [], [], []
    for s in d["series"]:
        sim, th = torch.tensor(s["simulation"], dtype=F64), torch.tensor(s["theory"], dtype=F64)
        dev.append(sim - th)
        tol.append(K_SE * torch.tensor(s["deviation_standard_error"], dtype=F64) + _ROUND_OFF * th.abs())
        labels += [f"{s['noise']}, σ_w = {s['sigma_w_over_critical']:g}·critical, layer {l}" for l in s["layer"]]
    one = [s["one_layer_relative_deviation"] for s in d["series"]]
    one_tol = [K_SE * s["one_layer_standard_error"] for s in d["series"]]
    d["agreement"] = [compare("q^l against variance_after_depth", torch.cat(dev), torch.cat(tol), labels=labels,
                              how=f"{K_SE:g} SE over {d['networks']} networks of each network's deviation (exact in "
                                  f"expectation at any width)"),
                      compare("one layer at a time: mean (q^l − map(q^{l−1}))/map(q^{l−1})", one, one_tol,
                              labels=[f"{s['noise']}, σ_w = {s['sigma_w_over_critical']:g}·critical"
                                      for s in d["series"]],
                              how=f"{K_SE:g} SE over {d['networks']} networks (exact in expectation at any width)")]
    d["settings"] = (f"{d['networks']} ReLU networks of width {d['width']} per curve, mean ± SE; "
                     f"theory iterated from each network's $q^1$")
    return d


def correlation_dynamics(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """:func:`learndyn.verify.figure_data.correlation_dynamics` (sizes as :func:`variance_dynamics`) with its
    agreement record."""
    d = _fd.correlation_dynamics(seed=seed, device=device, **_sizes(quick))
    width = d["width"]
    dev, tol, labels = [], [], []
    for s in d["series"]:
        sim, th = torch.tensor(s["simulation"], dtype=F64), torch.tensor(s["theory"], dtype=F64)
        layer = torch.tensor(s["layer"], dtype=F64)
        dev.append(sim - th)
        tol.append(K_SE * torch.tensor(s["deviation_standard_error"], dtype=F64) + (layer - 1) / width + _ROUND_OFF)
        labels += [f"{s['noise']}, c⁰ = {s['input_cosine']:g}, layer {l}" for l in s["layer"]]
    d["agreement"] = [compare("c^l against correlation_map iterated", torch.cat(dev), torch.cat(tol), labels=labels,
                              how=f"{K_SE:g} SE over {d['networks']} networks of each network's deviation + "
                                  f"(l − 1)/N (finite-width bias, ≤ 1/N per layer)")]
    d["settings"] = (f"{d['networks']} ReLU networks of width {width} per curve at criticality, mean ± SE; "
                     f"theory iterated from the measured $c^1$")
    return d


def _map_slope(c: float, mu2: float) -> float:
    at = torch.tensor(c, dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(_f("correlation_map")(c=at, mu2=mu2), at)
    return float(g)


def fixed_point_vs_noise(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """:func:`learndyn.verify.figure_data.fixed_point_vs_noise` (theory lines, 60 points per noise) plus simulated
    ``c*`` and ``ξ_c`` at five noise strengths per kind: 16 networks of width 500 (200 when ``quick``) at
    criticality, ``FIXED_POINT_DEPTH`` layers, three inputs (the second and third at cosines ``c* ± δ`` with
    the first, ``δ = min(0.2, (1 − c*)/2)``); module docstring for the measurement and its tolerance."""
    from learndyn.verify.simulate import inputs_with_correlations, propagate

    d = _fd.fixed_point_vs_noise(points=60)
    width, networks, depth = (200 if quick else 500), 16, FIXED_POINT_DEPTH
    strengths = {"dropout": [0.1, 0.2, 0.4, 0.6, 0.8], "gaussian": [0.25, 0.5, 1.0, 1.5, 2.0]}
    agreement_c, agreement_chi = ([], [], []), ([], [], [])
    for series in d["series"]:
        kind = series["noise"]
        points = []
        for j, strength in enumerate(strengths[kind]):
            mu2, kw = _fd._noise(kind, strength)
            c_star = float(_f("correlation_fixed_point")(mu2=mu2))
            chi = float(_f("correlation_slope")(mu2=mu2))
            delta = min(0.2, (1.0 - c_star) / 2)
            sw = float(_f("critical_sigma_w")(mu2=mu2))
            x = inputs_with_correlations([c_star + delta, c_star - delta], seed=seed + 7919 * j)
            run = propagate(x, depth=depth, sigma_w=sw, width=width, networks=networks, seed=seed + 7919 * j,
                            device=device, **kw)
            last = run.correlation.cpu()[:, -1, 0, 1:].mean(1)  # per network, mean over the two pairs
            c_mean, c_se = float(last.mean()), float(last.std() / math.sqrt(networks))
            # χ: one noisy layer, SLOPE_PAIRS pairs on each side of c*, SLOPE_NETWORKS networks
            x = inputs_with_correlations([c_star + delta] * SLOPE_PAIRS + [c_star - delta] * SLOPE_PAIRS,
                                         seed=seed + 7919 * j + 1)
            c = propagate(x, depth=2, sigma_w=sw, width=width, networks=SLOPE_NETWORKS, seed=seed + 7919 * j + 1,
                          device=device, **kw).correlation.cpu()[:, :, 0, 1:]  # (networks, 2, pairs)
            up, down = c[..., :SLOPE_PAIRS].mean(-1), c[..., SLOPE_PAIRS:].mean(-1)
            slope = (up[:, 1] - down[:, 1]) / (up[:, 0] - down[:, 0])
            chi_mean, chi_se = float(slope.mean()), float(slope.std() / math.sqrt(SLOPE_NETWORKS))
            tangent = _map_slope(c_star, mu2)  # the map's own slope at c*, for the secant's curvature error
            chi_max = max(_map_slope(min(c_star + delta, 1.0), mu2), tangent)
            cmap = _f("correlation_map")
            secant = float(cmap(c=c_star + delta, mu2=mu2) - cmap(c=c_star - delta, mu2=mu2)) / (2 * delta)
            where = f"{kind} {strength:g} (mu2 = {mu2:.4g})"
            agreement_c[0].append(c_mean - c_star)
            agreement_c[1].append(K_SE * c_se + 1.0 / (width * (1 - chi_max)) + delta * chi_max ** (depth - 1))
            agreement_c[2].append(where)
            agreement_chi[0].append(chi_mean - chi)
            agreement_chi[1].append(K_SE * chi_se + abs(secant - tangent) + 2.0 / width)
            agreement_chi[2].append(where)
            xi = -1.0 / math.log(chi_mean)
            points.append(dict(strength=strength, mu2=mu2, fixed_point=c_mean, fixed_point_standard_error=c_se,
                               slope=chi_mean, slope_standard_error=chi_se, depth_scale=xi,
                               depth_scale_standard_error=chi_se / (chi_mean * math.log(chi_mean) ** 2)))
        series["simulation"] = points
    d["agreement"] = [
        compare(f"c^L (L = {depth}) against correlation_fixed_point", agreement_c[0], agreement_c[1],
                labels=agreement_c[2],
                how=f"{K_SE:g} SE over {networks} networks + 1/(N(1 − χ_max)) + δ·χ_max^(L−1)"),
        compare("secant slope χ of one noisy layer against correlation_slope (ξ_c = −1/ln χ)", agreement_chi[0],
                agreement_chi[1], labels=agreement_chi[2],
                how=f"{K_SE:g} SE over {SLOPE_NETWORKS} networks + |secant − tangent| of correlation_map + 2/N"),
    ]
    d.update(width=width, networks=networks, depth=depth, seed=seed, device=str(device),
             settings=f"points: ReLU networks of width {width} at criticality, mean ± SE; $c^*$: $c^l$ after {depth} "
                      f"layers, {networks} networks; $\\xi_c$: slope of one noisy layer, {SLOPE_NETWORKS} networks")
    return d
