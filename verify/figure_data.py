"""The data behind seed 001's figures, theory (lines) beside simulation (points), as plain JSON-able dicts.

* ``variance_dynamics``: the variance over depth for dropout and multiplicative Gaussian noise, at the critical
  ``σ_w = critical_sigma_w(mu2)`` and 10 % below and above it; theory is ``variance_after_depth`` iterated from
  the measured ``q¹``, simulation the mean over networks with its standard error.
* ``correlation_dynamics``: the correlation of two inputs over depth from several starting cosines, no noise,
  dropout and Gaussian noise at criticality; theory is ``correlation_map`` iterated from the measured ``c¹``.

  Both also give ``deviation_standard_error``: the standard error over networks of each network's deviation from
  the theory iterated from its own first layer (in expectation no larger than ``standard_error``, which includes the
  spread of the first layer's statistics themselves; the figures' agreement checks use it). ``variance_dynamics`` also gives
  the map checked one layer at a time: ``one_layer_relative_deviation``, the mean over networks of each network's
  mean over layers of ``(q^l − map(q^{l−1}))/map(q^{l−1})`` (0 in expectation at any width), and its
  ``one_layer_standard_error``.
* ``fixed_point_vs_noise``: ``c*`` and ``ξ_c`` (and the trainable depth ``6 ξ_c``) against the dropout rate
  ``1 − p`` and the Gaussian noise variance ``σ_ε²`` (theory only).
"""
from __future__ import annotations

import math

import torch

__all__ = ["FIGURES", "figure_data", "variance_dynamics", "correlation_dynamics", "fixed_point_vs_noise"]


def _f(name):
    import learndyn

    return learndyn.function(name)


def _noise(kind: str, strength: float) -> tuple[float, dict]:
    """``mu2`` and the simulator's keywords for dropout rate ``strength`` (keep ``1 − strength``) or Gaussian
    noise variance ``strength``."""
    if kind == "dropout":
        keep = 1.0 - strength
        return 1.0 / keep, dict(noise="dropout", keep=keep)
    if kind == "gaussian":
        return 1.0 + strength, dict(noise="gaussian", noise_std=math.sqrt(strength))
    if kind == "none":
        return 1.0, dict(noise="none")
    raise ValueError(f"noise must be 'dropout', 'gaussian' or 'none', got {kind!r}")


def variance_dynamics(*, depth: int = 15, width: int = 1000, networks: int = 8, seed: int = 0, device: str = "cpu",
                      dropout_rate: float = 0.4, gaussian_variance: float = 0.5, q0: float = 1.0) -> dict:
    """Variance ``q^l``, ``l = 1 … depth``, per noise kind and ``σ_w`` factor (0.9, 1, 1.1 of the critical)."""
    from learndyn.verify.simulate import inputs_with_correlations, propagate

    series = []
    for kind, strength in (("dropout", dropout_rate), ("gaussian", gaussian_variance)):
        mu2, kw = _noise(kind, strength)
        crit = float(_f("critical_sigma_w")(mu2=mu2))
        for factor in (0.9, 1.0, 1.1):
            sw = factor * crit
            x = inputs_with_correlations([], seed=seed) * math.sqrt(q0) / sw
            run = propagate(x, depth=depth, sigma_w=sw, width=width, networks=networks, seed=seed, device=device, **kw)
            q = run.variance[:, :, 0]
            per_network = torch.stack([_f("variance_after_depth")(q=q[:, 0], sigma_w=sw, sigma_b=0.0, mu2=mu2, depth=l)
                                       for l in range(depth)], dim=1)
            # one layer at a time: each network's mean over layers of (q^l − map(q^{l−1}))/map(q^{l−1})
            one = _f("variance_after_depth")(q=q[:, :-1], sigma_w=sw, sigma_b=0.0, mu2=mu2, depth=1)
            rel = ((q[:, 1:] - one) / one).mean(1) if depth > 1 else torch.zeros(networks, dtype=q.dtype)
            series.append(dict(noise=kind, strength=strength, mu2=mu2, sigma_w=sw, sigma_w_over_critical=factor,
                               layer=list(range(1, depth + 1)), theory=per_network.mean(0).tolist(),
                               simulation=q.mean(0).tolist(),
                               standard_error=(q.std(0) / math.sqrt(networks)).tolist(),
                               deviation_standard_error=((q - per_network).std(0) / math.sqrt(networks)).tolist(),
                               one_layer_relative_deviation=float(rel.mean()),
                               one_layer_standard_error=float(rel.std() / math.sqrt(networks))))
    return dict(figure="variance_dynamics", width=width, networks=networks, seed=seed, device=device, series=series)


def correlation_dynamics(*, depth: int = 15, width: int = 1000, networks: int = 8, seed: int = 0, device: str = "cpu",
                         dropout_rate: float = 0.4, gaussian_variance: float = 0.5,
                         cosines: tuple[float, ...] = (0.99, 0.5, 0.0, -0.5)) -> dict:
    """Correlation ``c^l`` of the first input with each of the others (starting cosines ``cosines``), per noise."""
    from learndyn.verify.simulate import inputs_with_correlations, propagate

    series = []
    for kind, strength in (("none", 0.0), ("dropout", dropout_rate), ("gaussian", gaussian_variance)):
        mu2, kw = _noise(kind, strength)
        sw = float(_f("critical_sigma_w")(mu2=mu2))
        x = inputs_with_correlations(list(cosines), seed=seed)
        run = propagate(x, depth=depth, sigma_w=sw, width=width, networks=networks, seed=seed, device=device, **kw)
        c = run.correlation[:, :, 0, 1:]  # (networks, depth, pairs)
        theory = [c[:, 0].mean(0)]
        for _ in range(depth - 1):
            theory.append(_f("correlation_map")(c=theory[-1].clamp(-1.0, 1.0), mu2=mu2))
        theory = torch.stack(theory)
        per_network = [c[:, 0]]  # the map iterated from each network's own c¹ (for the deviation's standard error)
        for _ in range(depth - 1):
            per_network.append(_f("correlation_map")(c=per_network[-1].clamp(-1.0, 1.0), mu2=mu2))
        deviation = c - torch.stack(per_network, dim=1)
        for i, c0 in enumerate(cosines):
            series.append(dict(noise=kind, strength=strength, mu2=mu2, sigma_w=sw, input_cosine=c0,
                               layer=list(range(1, depth + 1)), theory=theory[:, i].tolist(),
                               simulation=c[:, :, i].mean(0).tolist(),
                               standard_error=(c[:, :, i].std(0) / math.sqrt(networks)).tolist(),
                               deviation_standard_error=(deviation[:, :, i].std(0) / math.sqrt(networks)).tolist(),
                               fixed_point=float(_f("correlation_fixed_point")(mu2=mu2))))
    return dict(figure="correlation_dynamics", width=width, networks=networks, seed=seed, device=device, series=series)


def fixed_point_vs_noise(*, points: int = 50) -> dict:
    """``c*``, ``ξ_c`` and ``6 ξ_c`` against the dropout rate (0 … 0.9) and the Gaussian noise variance (0 … 2)."""
    out = []
    for kind, top in (("dropout", 0.9), ("gaussian", 2.0)):
        strength = torch.linspace(0.0, top, points, dtype=torch.float64)
        mu2 = 1 / (1 - strength) if kind == "dropout" else 1 + strength
        out.append(dict(noise=kind, strength=strength.tolist(), mu2=mu2.tolist(),
                        fixed_point=_f("correlation_fixed_point")(mu2=mu2).tolist(),
                        depth_scale=_f("correlation_depth_scale")(mu2=mu2).tolist(),
                        trainable_depth=_f("trainable_depth")(mu2=mu2).tolist()))
    return dict(figure="fixed_point_vs_noise", series=out)


FIGURES = {"variance_dynamics": variance_dynamics, "correlation_dynamics": correlation_dynamics,
           "fixed_point_vs_noise": fixed_point_vs_noise}


def figure_data(name: str, **options) -> dict:
    """The data of figure ``name`` (one of :data:`FIGURES`); options are the function's keywords."""
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    return FIGURES[name](**options)
