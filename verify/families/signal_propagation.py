"""Tier (b) of family 3 (signal propagation in noisy rectifier networks), declared beside
``derive/families/signal_propagation.py``, and the family's claims.

Every check samples wide random networks as THEORY.md defines them (noise drawn per unit, input and layer) and
never evaluates the result under test; the comparison infers the result from what the networks do. Power comes
from measuring what is exactly true at any width, so that the standard error (``k = 5``) and not a width bias
sets the tolerance:

* **exact conditional moments** (:func:`~learndyn.verify.simulate.propagate_units`): given layer ``l − 1`` (its
  noise included) the units of layer ``l`` are iid Gaussian with covariance ``K^l = σ_w² a aᵀ/N + σ_b²``, so
  ``K^l = E[Q^l | layer l−1]`` is known exactly and stands in for the sampled ``Q^l`` (the layer's weights are
  integrated out; its noise is not). The variance maps are affine, so ``E[K^l − map(Q^{l−1})] = 0`` at every width,
  and ``φ(h)² − h²/2`` (mean 0 given ``|h|``) makes the sampled ``Q^{l−1}`` a control variate: no allowance;
* **one layer at a chosen input correlation, its draws held fixed** (:mod:`~learndyn.verify.simulate.signal_layer`,
  common random numbers over ``c``): the jackknife over units removes the ``O(1/N)`` bias of a correlation (a
  ratio), the sampled map's own fixed point and slope (Price's theorem) are read off each network; widths of
  ``2¹⁴–2¹⁵`` units are cheap because the layer's weights are integrated out;
* **criticality inferred, not assumed**: ``critical_sigma_w`` from the per-layer growth ``(σ_w0/σ_crit)²`` at
  ``σ_w0`` of the check's choosing; ``shifted_relu_critical_point`` as the root of the sampled criticality
  conditions (``σ_w² p̂(q) = 1``, ``q = σ_w² m̂(q) + σ_b²``, with a control variate of mean 0 by Stein's identity);
* **a fit in 1/N** for the Jacobian spectrum (widths ``N`` and ``2N``, :class:`~learndyn.verify.tier_b.Extrapolated`),
  conditioned on each network's measured active fractions.

Each tolerance is ``5`` standard errors of the mean over independent networks plus a bias bound stated where the
simulation defines it (module constants below).

Validity maps (``learndyn validity RESULT --over width``): every check with a width sweeps it down from its own;
the sizes' ``units`` (:func:`networks_at`) adds networks as the layers narrow, so the standard error does not grow
with the sweep. The variance maps are exact in expectation at every width (above), so their maps measure only noise
and stop where narrow ``σ_b = 0`` layers die (:data:`DEAD_LAYER_WIDTH`); the fixed-point checks break down where
the ``b/N`` bias of a sampled root grows and, narrower still, where some network's sampled map has no root below
``0.999``.
"""
from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from learndyn.verify.tier_b import OUTPUT, Extrapolated, Measurement, SharedRun, SimulationCheck, Statistical
from learndyn.verify.tier_b.cases import batch_strategy, columns, pinned_batch
from learndyn.verify.validity.axis import width_axis

__all__ = ["SIMULATIONS", "CLAIM_CHECKS", "SIGNAL_CLAIMS", "NOISES", "noise_keywords", "critical_roots",
           "ROOT_BIAS_PER_WIDTH", "JACOBIAN_REMAINDER", "CRITICAL_ROOT_BIAS"]

STATISTICAL = Statistical()
NOISES = ("dropout", "gaussian")

#: the inputs of the variance checks: ``|x|²/n0 = 0.5`` and ``2`` (so ``q¹ = σ_w² |x|²/n0 + σ_b²`` spans ×4)
VARIANCE_INPUTS = torch.tensor([[1.0, 0.0], [2.0 * math.cos(1.0), 2.0 * math.sin(1.0)]], dtype=torch.float64)
#: the weight scales at which ``critical_sigma_w`` measures the growth per layer (theory-free choices)
SIGMA_W0 = (0.9, 1.2, 1.5)
#: the input correlations at which ``correlation_map`` is measured
CORRELATIONS = (-0.5, 0.0, 0.5, 0.9, 0.99)
#: from this width on the fixed-point solver keeps its default 3 Newton steps after the pilot; narrower layers take
#: ``FIXED_POINT_NARROW_STEPS`` (enough bisections to reach the solver's ``1e-7`` from any bracket)
FIXED_POINT_FULL_STEPS_WIDTH = 8192
FIXED_POINT_NARROW_STEPS = 40
#: ``mu2`` range of the fixed-point checks: below 1.05, ``c* → 1`` and ``χ → 1`` (``ξ_c`` diverges at 1)
FIXED_POINT_MU2 = (1.05, 3.0)
#: the root and slope of a sampled correlation map of width ``N`` are biased by ``b/N``; measured ``|b| ≤ 8``
#: (``mu2 = 1.05 … 3``, dropout and Gaussian, 8192 networks of 256 and 2048 of 1024 units); allowed: ``12/N``
ROOT_BIAS_PER_WIDTH = 12.0
#: after the fit in ``1/N`` through widths ``N``, ``2N`` the Jacobian-spectrum variance keeps an ``O(L²/N²)``
#: remainder: measured ``|remainder| ≤ 15 L²/(N·2N)`` relative (``15 ± 4`` Gaussian weights at depth 3, ``8 ± 2`` at
#: depth 4, below ``2`` orthogonal; ReLU and the shifted ReLU at its critical point, depths 1–4, ``N = 64 … 256``,
#: 384–3072 networks); allowed ``JACOBIAN_REMAINDER · L²/(N·2N)`` plus ``1e-12`` for round-off
JACOBIAN_REMAINDER = 20.0
#: the root of the sampled criticality condition with ``n`` units is biased by ``b/n`` relative; measured
#: ``|b| ≤ 11`` for ``q*`` and ``≤ 1`` for the active fraction (``α = 0.2 … 1``, ``σ_b = 0.05 … 0.5``, 8192
#: replicates of 1024 units, 4096 of 4096); allowed: ``16/n`` relative
CRITICAL_ROOT_BIAS = 16.0


def _declaration(name: str):
    from learndyn.derive.registry import declaration

    return declaration(name)


def _function(name: str):
    import learndyn

    return learndyn.function(name, check=False)


def noise_keywords(mu2, kind: str) -> dict:
    """The simulators' noise keywords for second moment ``mu2`` (a number or a tensor of configurations): inverted
    dropout with keep probability ``1/mu2``, or Gaussian ``ε ~ N(1, mu2 − 1)``."""
    mu2 = torch.as_tensor(mu2, dtype=torch.float64)
    if kind == "dropout":
        return {"noise": "dropout", "keep": 1.0 / mu2}
    if kind == "gaussian":
        return {"noise": "gaussian", "noise_std": torch.sqrt((mu2 - 1.0).clamp_min(0.0))}
    raise ValueError(f"noise kind must be one of {NOISES}, got {kind!r}")


def _scalar_noise(mu2: float, kind: str) -> dict:
    return {k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in noise_keywords(mu2, kind).items()}


def _describe(point: dict, kind: str | None = None) -> str:
    text = ", ".join(f"{k}={v:.4g}" for k, v in point.items())
    return f"{text}{'' if kind is None else ', ' + kind + ' noise'}"


def _with_noise(points: tuple[dict, ...]) -> tuple[dict, ...]:
    return tuple({**p, "noise": kind} for p in points for kind in NOISES)


def networks_at(sizes) -> int:
    """The number of networks a run samples: ``sizes["networks"]``, raised where ``sizes["units"]`` is given so that
    ``width × networks ≥ units``. Each check's ``units`` is at most its own ``width × networks`` (so it changes
    nothing at the check's width): it holds the standard error as a validity map sweeps the width down."""
    networks = int(sizes["networks"])
    if "units" not in sizes:
        return networks
    return max(networks, -(-int(sizes["units"]) // int(sizes["width"])))


# -- variance maps: exact conditional moments ---------------------------------------------------------------

def _chain(case, sizes, device, *, depth: int, sigma_w, sigma_b, **noise):
    from learndyn.verify.simulate import propagate_units

    return propagate_units(VARIANCE_INPUTS, depth=depth, sigma_w=sigma_w, sigma_b=sigma_b, width=int(sizes["width"]),
                           networks=networks_at(sizes), seed=case["seed"], device=device, **noise)


def _map_measurements(case, run, noise: str) -> list[Measurement]:
    """Per configuration of ``case``: ``K^l`` of ``run`` against the map of its sampled ``q^{l−1}``, layers
    ``2 … depth``, both inputs, per network."""
    q, k = run.variance, run.conditional_variance  # (configs, networks, depth, inputs)
    return [Measurement(args=dict(q=q[i, :, :-1], **p), observed={OUTPUT: k[i, :, 1:]}, replicate_dim=0,
                        reduce_dims=(1, 2), where=_describe(p, noise))
            for i, p in enumerate(case["points"])]


def simulate_variance_map(case, sizes, device) -> list[Measurement]:
    """``K^l = E[q^l | layer l−1]`` against ``variance_map(q^{l−1})`` (sampled ``q^{l−1}``), layers ``2 … depth``,
    both inputs, per network: ``E[K^l − map(q^{l−1})] = 0`` at every width (module docstring)."""
    c = columns(case["points"], device)
    run = _chain(case, sizes, device, depth=sizes["depth"], sigma_w=c["sigma_w"], sigma_b=c["sigma_b"],
                 **noise_keywords(c["mu2"], case["noise"]))
    return _map_measurements(case, run, case["noise"])


def simulate_additive_noise_variance_map(case, sizes, device) -> list[Measurement]:
    """As :func:`simulate_variance_map` with additive noise ``ξ ~ N(0, eps)`` per unit and input."""
    c = columns(case["points"], device)
    run = _chain(case, sizes, device, depth=sizes["depth"], sigma_w=c["sigma_w"], sigma_b=c["sigma_b"],
                 additive_eps=c["eps"])
    return _map_measurements(case, run, "additive")


def simulate_critical_sigma_w(case, sizes, device) -> list[Measurement]:
    """At ``σ_b = 0`` and a weight scale ``σ_w0`` of the check's choosing (:data:`SIGMA_W0`), the variance grows by
    ``(σ_w0/σ_crit)²`` per layer: ``E[K^l] = (σ_w0/σ_crit)² E[q^{l−1}]`` exactly, so the theory's ``σ_crit`` is
    observed through ``σ ↦ (σ_w0/σ)² q^{l−1}`` against ``K^l`` (a 2 % error in ``σ_crit`` is a 4 % error there)."""
    c = columns(case["points"], device)
    sw0 = torch.tensor([SIGMA_W0[i % len(SIGMA_W0)] for i in range(len(case["points"]))], dtype=torch.float64,
                       device=device)
    run = _chain(case, sizes, device, depth=sizes["depth"], sigma_w=sw0, sigma_b=0.0,
                 **noise_keywords(c["mu2"], case["noise"]))
    q, k = run.variance, run.conditional_variance
    out = []
    for i, p in enumerate(case["points"]):
        w, before = float(sw0[i]), q[i, :, :-1]
        out.append(Measurement(args=dict(p), observed={OUTPUT: k[i, :, 1:]},
                               observe={OUTPUT: lambda s, w=w, before=before: (w / s) ** 2 * before},
                               replicate_dim=0, reduce_dims=(1, 2),
                               where=f"{_describe(p, case['noise'])}, sigma_w0={w:g}"))
    return out


def after_depth_lags(depth: int) -> tuple[int, ...]:
    """The numbers of layers over which ``variance_after_depth`` is compared: 1, 2, the powers of 2 below
    ``depth``, and ``depth``."""
    return tuple(sorted({1, 2, depth} | {2**j for j in range(2, 6) if 2**j < depth}))


def simulate_variance_after_depth(case, sizes, device) -> list[Measurement]:
    """``K^{l+k}`` against ``variance_after_depth(q^l, depth=k)`` for every start ``l`` of a chain of ``1 + depth``
    layers and each lag ``k`` of :func:`after_depth_lags`: exact in expectation (the tower property, the map being
    affine); the spread grows like ``√k`` (the noise of every layer compounds), so the short lags carry the power
    and the long ones check the iteration."""
    c = columns(case["points"], device)
    lags = after_depth_lags(case["depth"])
    run = _chain(case, sizes, device, depth=1 + max(lags), sigma_w=c["sigma_w"], sigma_b=c["sigma_b"],
                 **noise_keywords(c["mu2"], case["noise"]))
    q, k = run.variance, run.conditional_variance
    total = q.shape[2]
    return [Measurement(args=dict(q=q[i, :, : total - lag], depth=lag, **p), observed={OUTPUT: k[i, :, lag:]},
                        replicate_dim=0, reduce_dims=(1, 2), where=f"{_describe(p, case['noise'])}, depth={lag}")
            for i, p in enumerate(case["points"]) for lag in lags]


# -- correlations: one layer, draws fixed over c ------------------------------------------------------------

def simulate_correlation_map(case, sizes, device) -> list[Measurement]:
    """The jackknifed correlation ``ĉ'`` of the layer after inputs at correlation ``c`` (:data:`CORRELATIONS`),
    per network, against ``correlation_map(c)``; the jackknife leaves an ``O(1/N²)`` bias (``< 1e-6`` here)."""
    from learndyn.verify.simulate.signal_layer import layer_correlation, pair_layer

    cs = torch.tensor(CORRELATIONS, dtype=torch.float64, device=device)
    out = []
    for i, p in enumerate(case["points"]):
        layer = pair_layer(width=int(sizes["width"]), networks=networks_at(sizes), seed=case["seed"] + 7919 * i,
                           device=device, **_scalar_noise(p["mu2"], case["noise"]))
        observed = torch.stack([layer_correlation(layer, float(c)) for c in CORRELATIONS], dim=-1)
        out.append(Measurement(args=dict(c=cs, mu2=p["mu2"]), observed={OUTPUT: observed}, replicate_dim=0,
                               where=f"{_describe(p, case['noise'])}, c in {CORRELATIONS}"))
    return out


def run_fixed_points(case, sizes, device) -> tuple:
    """Per configuration of ``case``, each network's sampled fixed point ``ĉ*`` and slope ``χ̂`` there (one run
    shared by the four results that read them, :class:`~learndyn.verify.tier_b.SharedRun`)."""
    from learndyn.verify.simulate.signal_layer import layer_fixed_point, pair_layer

    width = int(sizes["width"])
    # Newton's iterations after the pilot: 3 suffice from a pilot of 2048 units of a layer 16 times as wide; a narrower
    # layer (a validity map's) has a rougher sampled map, where the safeguarded Newton often falls back to bisection
    steps = 3 if width >= FIXED_POINT_FULL_STEPS_WIDTH else FIXED_POINT_NARROW_STEPS
    out = []
    for i, p in enumerate(case["points"]):
        layer = pair_layer(width=width, networks=networks_at(sizes), seed=int(case["seed"]) + 7919 * i,
                           device=str(device), **_scalar_noise(float(p["mu2"]), case["noise"]))
        try:
            out.append(layer_fixed_point(layer, steps=steps))
        except RuntimeError:
            # 3 steps can leave a network just above the solver's tolerance (measured: 1.07e-7 at 32768 units, seed
            # 7919): once more with enough steps to converge from any bracket; a map without a root still raises
            if steps >= FIXED_POINT_NARROW_STEPS:
                raise
            out.append(layer_fixed_point(layer, steps=FIXED_POINT_NARROW_STEPS))
    return tuple(out)


#: how each fixed-point result is observed: the sampled root ``"c"`` or slope ``"chi"``, through a map of the
#: theory's value (``None``: itself)
FIXED_POINT_OBSERVABLES = {
    "correlation_fixed_point": ("c", None),
    "correlation_slope": ("chi", None),
    "correlation_depth_scale": ("chi", lambda xi: torch.exp(-1.0 / xi)),        # χ = e^{−1/ξ_c}
    "trainable_depth": ("chi", lambda depth: torch.exp(-6.0 / depth)),          # L_max = 6 ξ_c
}


def simulate_fixed_point(name: str) -> SharedRun:
    """For result ``name``: the sampled layer's fixed point ``ĉ*`` or its slope ``χ̂`` there (observed through
    :data:`FIXED_POINT_OBSERVABLES`), per network, from
    :func:`~learndyn.verify.simulate.signal_layer.layer_fixed_point` (:func:`run_fixed_points`, one simulation shared
    by the four results). Absolute deviations; the root of a map sampled with ``N`` units is biased by at most
    :data:`ROOT_BIAS_PER_WIDTH` ``/N``, the allowance."""
    output, observe = FIXED_POINT_OBSERVABLES[name]

    def observe_fixed_points(runs, case, sizes, device) -> list[Measurement]:
        return [Measurement(args=dict(mu2=p["mu2"]), observed={OUTPUT: c_star if output == "c" else chi},
                            observe={} if observe is None else {OUTPUT: observe}, replicate_dim=0, scale=1.0,
                            allowance=ROOT_BIAS_PER_WIDTH / sizes["width"], where=_describe(p, case["noise"]))
                for p, (c_star, chi) in zip(case["points"], runs)]

    observe_fixed_points.__qualname__ = f"observe_fixed_points[{name}]"
    return SharedRun(run_fixed_points, observe_fixed_points)


def fixed_point_strategy(batch: int = 2):
    """Cases of ``batch`` values of ``mu2`` drawn log-uniformly from :data:`FIXED_POINT_MU2`, a noise kind, a seed."""
    lo, hi = FIXED_POINT_MU2

    def build(result):
        mu2 = st.floats(math.log(lo), math.log(hi)).map(lambda e: min(max(math.exp(e), lo), hi))
        return st.fixed_dictionaries({"points": st.lists(st.fixed_dictionaries({"mu2": mu2}), min_size=batch,
                                                         max_size=batch),
                                      "noise": st.sampled_from(NOISES), "seed": st.integers(0, 2**31 - 1)})
    return build


# -- shifted ReLU: units of a layer at variance q -----------------------------------------------------------

def _unit_moments(q: torch.Tensor, alpha: torch.Tensor, samples: int, seed: int, device: str):
    """For the units ``h = √q z`` of one sample of ``samples`` standard normals (the same for every configuration):
    the active fraction ``p̂ = #(h > −α)/n`` and ``mean φ(h)²``, ``mean φ(h)⁴`` of ``φ(h) = max(h, −α)``, per
    configuration."""
    g = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(samples, generator=g, dtype=torch.float64, device=device)
    p, m2, m4 = (torch.empty_like(q) for _ in range(3))
    for i in range(q.numel()):
        above = z > -alpha[i] / torch.sqrt(q[i])
        phi2 = torch.where(above, q[i] * z * z, alpha[i] ** 2)
        p[i], m2[i], m4[i] = above.to(torch.float64).mean(), phi2.mean(), (phi2 * phi2).mean()
    return p, m2, m4


def simulate_active_fraction(case, sizes, device) -> Measurement:
    """The fraction of ``n`` units ``h = √q z`` with ``φ'(h) = 1`` (``h > −α``), every configuration on the same
    sample, against ``shifted_relu_active_fraction``; binomial standard error ``√(p̂(1 − p̂)/n)``."""
    c = columns(case["points"], device)
    n = sizes["samples"]
    p, _, _ = _unit_moments(c["q"], c["alpha"], n, case["seed"], device)
    return Measurement(args=dict(q=c["q"], alpha=c["alpha"]), observed={OUTPUT: p},
                       standard_error={OUTPUT: torch.sqrt(p * (1 - p) / n)},
                       where=f"{len(case['points'])} (q, alpha), {n} units, seed {case['seed']}")


def simulate_second_moment(case, sizes, device) -> Measurement:
    """The mean of ``φ(h)²`` over ``n`` units ``h = √q z`` (the same sample for every configuration) against
    ``shifted_relu_second_moment``; standard error ``√((mean φ⁴ − (mean φ²)²)/(n − 1))``."""
    c = columns(case["points"], device)
    n = sizes["samples"]
    _, m2, m4 = _unit_moments(c["q"], c["alpha"], n, case["seed"], device)
    return Measurement(args=dict(q=c["q"], alpha=c["alpha"]), observed={OUTPUT: m2},
                       standard_error={OUTPUT: torch.sqrt((m4 - m2 * m2).clamp_min(0.0) / (n - 1))},
                       where=f"{len(case['points'])} (q, alpha), {n} units, seed {case['seed']}")


def critical_roots(alpha: torch.Tensor, sigma_b: torch.Tensor, z_sorted: torch.Tensor, below_sums: torch.Tensor,
                   bisections: int = 80) -> tuple[torch.Tensor, torch.Tensor]:
    """The critical variance ``q̂*`` and active fraction ``â`` of sampled layers, ``(replicates, configs)``:
    ``alpha``, ``sigma_b`` ``(configs,)``; per replicate the sorted units ``z_sorted`` ``(replicates, n)`` and their
    prefix sums ``below_sums[i] = Σ_{j<i} z_j`` ``(replicates, n + 1)``.

    A layer of units ``h = √q z`` is critical where ``σ_w² p̂(q) = 1`` (``χ = 1``) and ``q = σ_w² m̂(q) + σ_b²``
    (``p̂``, ``m̂``: the active fraction and ``mean φ(h)²``), i.e. ``q p̂ − m̂ = σ_b² p̂``. In ``a = α/√q``,
    ``q p̂ − m̂ = q mean[(1 − z²) 1(z > −a)] − α² P̂(z ≤ −a)``, whose noise grows like ``q`` (like ``1/a``
    relative): subtracting the control variate ``q (mean[(1 − z²) 1(z > −a)] − a mean[(z − a)₊] − a² P̂(z ≤ −a))``,
    of mean 0 for standard normal units (Stein's identity: both expectations are ``a φ(a)``), leaves
    ``(α²/a) mean[(z − a)₊]``, whose relative noise does not grow as ``a → 0``. The sampled condition
    ``F(a) = σ_b² a P̂(z > −a) − α² mean[(z − a)₊] = 0`` is increasing in ``a`` (``F(0) < 0 < F(∞)``): bisected in
    ``log a`` on ``[1e-8, 64]``; then ``q̂* = α²/â²`` and the active fraction ``P̂(z > −â)``."""
    n = z_sorted.shape[-1]
    alpha, sigma_b = alpha.unsqueeze(0), sigma_b.unsqueeze(0)
    total = below_sums[:, -1:]

    def F(a):  # a: (replicates, configs)
        active = n - torch.searchsorted(z_sorted, (-a).contiguous(), right=True).to(torch.float64)  # #(z > −a)
        above = torch.searchsorted(z_sorted, a.contiguous(), right=True)  # #(z <= a)
        excess = (total - torch.gather(below_sums, -1, above)) - a * (n - above).to(torch.float64)  # Σ (z − a)₊
        return (sigma_b**2 * a * active - alpha**2 * excess) / n, active / n

    shape = (z_sorted.shape[0], alpha.shape[-1])
    lo = torch.full(shape, math.log(1e-8), dtype=torch.float64, device=z_sorted.device)
    hi = torch.full(shape, math.log(64.0), dtype=torch.float64, device=z_sorted.device)
    if bool((F(torch.exp(lo))[0] >= 0).any()) or bool((F(torch.exp(hi))[0] <= 0).any()):
        raise RuntimeError("the sampled criticality condition does not change sign on a in [1e-8, 64]")
    for _ in range(bisections):
        mid = 0.5 * (lo + hi)
        positive = F(torch.exp(mid))[0] > 0
        lo, hi = torch.where(positive, lo, mid), torch.where(positive, mid, hi)
    a = torch.exp(0.5 * (lo + hi))
    return alpha**2 / a**2, F(a)[1]


def _replicate_samples(replicates: int, samples: int, seed: int, device: str):
    """Per replicate, ``samples`` sorted standard normals and their prefix sums."""
    g = torch.Generator(device=device).manual_seed(seed)
    z = torch.sort(torch.randn((replicates, samples), generator=g, dtype=torch.float64, device=device), -1).values
    zero = torch.zeros((replicates, 1), dtype=torch.float64, device=device)
    return z, torch.cat([zero, torch.cumsum(z, -1)], -1)


def simulate_critical_point(case, sizes, device) -> list[Measurement]:
    """Per replicate layer of ``n`` shifted-ReLU units, the critical point inferred from the units alone
    (:func:`critical_roots`): ``q̂*``, ``â = p̂(q̂*)`` and ``σ̂_w = 1/√â``, against the theory's three outputs; the
    root of the sampled condition is biased by ``O(1/n)``: :data:`CRITICAL_ROOT_BIAS` ``/n`` relative, allowed."""
    c = columns(case["points"], device)
    z, below_sums = _replicate_samples(sizes["replicates"], sizes["samples"], case["seed"], device)
    q_star, a = critical_roots(c["alpha"], c["sigma_b"], z, below_sums)
    return [Measurement(args=dict(p), observed={"q_star": q_star[:, i], "active_fraction": a[:, i],
                                                "sigma_w": 1.0 / torch.sqrt(a[:, i])},
                        replicate_dim=0, allowance=CRITICAL_ROOT_BIAS / sizes["samples"], where=_describe(p))
            for i, p in enumerate(case["points"])]


# -- Jacobian spectrum: a fit in 1/N --------------------------------------------------------------------------

def simulate_jacobian(case, sizes, device) -> list[Measurement]:
    """The normalised spectral variance ``m₂/m₁² − 1`` of ``J Jᵀ`` (``m_k = tr (J Jᵀ)^k/N``) of noise-free
    networks at criticality (ReLU at ``σ_w = √2``, or the shifted ReLU at ``shifted_relu_critical_point``, its
    input at ``q*``), at widths ``N`` and ``2N``, against the theory at each network's measured active fraction
    (the harmonic mean of its layers': given the masks, a projection of trace ``â`` adds ``1/â − 1``), extrapolated
    to ``N → ∞`` (:class:`~learndyn.verify.tier_b.Extrapolated`). Dividing by ``m₁²`` removes the spread of the
    mean (``σ_w² â ≠ 1`` in one network)."""
    from learndyn.verify.simulate import jacobian_spectrum

    if case["activation"] == "relu":
        kw, label = dict(sigma_w=math.sqrt(2.0), sigma_b=0.0, alpha=None, q0=1.0), "ReLU"
    else:
        cp = _function("shifted_relu_critical_point")(alpha=case["alpha"], sigma_b=case["sigma_b"])
        kw = dict(sigma_w=float(cp.sigma_w), sigma_b=case["sigma_b"], alpha=case["alpha"], q0=float(cp.q_star))
        label = f"shifted ReLU alpha={case['alpha']:.3g}, sigma_b={case['sigma_b']:.3g}"
    widths = sizes["widths"]
    # a validity map's width axis sets one width N: the fit runs through N and 2N, as the check's own (64, 128)
    widths = tuple(int(n) for n in widths) if isinstance(widths, (tuple, list)) else (int(widths), 2 * int(widths))
    out = []
    for depth in case["depths"]:
        variance, active = [], []
        for j, n in enumerate(widths):
            s = jacobian_spectrum(depth=depth, weights=case["weights"], width=n, networks=sizes["networks"],
                                  seed=case["seed"] + 1009 * j + 17 * depth, device=device, **kw)
            variance.append(s.second_moment / s.mean**2 - 1)
            active.append(1.0 / (1.0 / s.active_fraction).mean(-1))
        allowance = JACOBIAN_REMAINDER * depth**2 / math.prod(widths[:2]) + 1e-12
        out.append(Measurement(args=dict(active_fraction=torch.stack(active), depth=depth, weights=case["weights"]),
                               observed={OUTPUT: torch.stack(variance)}, replicate_dim=1,
                               extrapolation=(0, tuple(1.0 / n for n in widths)), allowance=allowance,
                               where=f"{case['weights']} weights, {label}, depth={depth}, widths {widths}"))
    return out


JACOBIAN_POINTS = (
    {"weights": "orthogonal", "activation": "relu", "depths": (1, 2)},
    {"weights": "gaussian", "activation": "relu", "depths": (1, 2)},
    {"weights": "gaussian", "activation": "shifted", "alpha": 0.5, "sigma_b": 0.2, "depths": (1, 3)},
    {"weights": "orthogonal", "activation": "shifted", "alpha": 0.3, "sigma_b": 0.4, "depths": (3,)},
)


def jacobian_strategy(result):
    from learndyn.verify.strategies import param_strategy

    cp = _declaration("shifted_relu_critical_point")
    by = {p.name: p for p in cp.params}
    return st.fixed_dictionaries({
        "weights": st.sampled_from(("orthogonal", "gaussian")), "activation": st.sampled_from(("relu", "shifted")),
        "alpha": param_strategy(by["alpha"], "sim"), "sigma_b": param_strategy(by["sigma_b"], "sim"),
        "depths": st.integers(1, 4).map(lambda d: (d,)), "seed": st.integers(0, 2**31 - 1)})


# -- the declarations --------------------------------------------------------------------------------------------

#: ``units``: the least ``width × networks`` a run samples (:func:`networks_at`): inactive at the check's own width,
#: it holds the standard error as a validity map narrows the layers (the variance checks at their own standard
#: error; the correlation checks at ``2¹⁸`` units, for the fixed points a standard error of ``0.3–0.4 %`` of ``ĉ*``)
VARIANCE_SIZES = {"width": 1024, "networks": 128, "depth": 5, "units": 1024 * 128}
AFTER_DEPTH_SIZES = {"width": 512, "networks": 64, "units": 512 * 64}
CORRELATION_SIZES = {"width": 16384, "networks": 64, "units": 2**18}
FIXED_POINT_SIZES = {"width": 32768, "networks": 128, "units": 2**18}
MONTE_CARLO_SIZES = {"samples": 2**20}
CRITICAL_POINT_SIZES = {"samples": 2**16, "replicates": 64}
JACOBIAN_SIZES = {"widths": (64, 128), "networks": 384}
#: the lowest width ``N`` (fit through ``N``, ``2N``) of the Jacobian's validity map: narrower ReLU layers of some of the
#: 384 networks lose every unit (``2^−N`` per layer), an active fraction of 0 and a spectrum of NaN
JACOBIAN_WIDTH_LO = 16


def _scaled(sizes: dict, key: str, factor: int) -> dict:
    out = {**sizes, key: sizes[key] * factor}
    if key == "networks" and "units" in sizes:  # the validity map's floor scales with the networks
        out["units"] = sizes["units"] * factor
    return out


#: the width below which a layer of a ``σ_b = 0`` network under dropout ``1/3`` (the variance checks' pinned
#: points) loses every unit in some of the ``units/N`` networks (``(5/6)^N`` per layer: measured at ``N = 64, 65``),
#: leaving ``K = map(q) = 0`` and a relative deviation ``0/0`` (and a jackknifed correlation ``0/0``: measured below
#: ``N = 91``): the variance and correlation maps' width axes stop there (the variance maps' deviation is exactly 0 in
#: expectation at every width, module docstring: their maps measure only the noise)
DEAD_LAYER_WIDTH = 128


def _width(sizes: dict, lo: float = 2.0):
    """The width axis of a check with these sizes: down from its own width (:func:`networks_at` holds the standard
    error)."""
    return (width_axis(start=sizes["width"], lo=lo),)


def _batched(name: str, simulate, title: str, only: tuple[str, ...], batch: int, *, noisy: bool, sizes: dict,
             gpu_sizes: dict, method: str = "random", examples_per_case: int = 50, axes: tuple = ()) -> SimulationCheck:
    r = _declaration(name)
    options = {"noise": st.sampled_from(NOISES)} if noisy else {}
    pinned = ({"points": pinned_batch(r, only, batch)},)
    return SimulationCheck(
        result=name, title=title, method=method, simulate=simulate, compare=STATISTICAL,
        strategy=lambda res: batch_strategy(res, only, batch, **options),
        points=_with_noise(pinned) if noisy else pinned, sizes=sizes, gpu_sizes=gpu_sizes,
        examples_per_case=examples_per_case, axes=axes)


def _after_depth_check() -> SimulationCheck:
    from learndyn.verify.strategies import param_strategy, point_strategy

    r = _declaration("variance_after_depth")
    only = ("sigma_w", "sigma_b", "mu2")

    def strategy(res):
        return st.fixed_dictionaries({
            "points": st.lists(point_strategy(res, "sim", only=only), min_size=4, max_size=4),
            "depth": param_strategy(res.param("depth"), "sim"), "noise": st.sampled_from(NOISES),
            "seed": st.integers(0, 2**31 - 1)})

    points = ({"points": pinned_batch(r, only, 6), "depth": 20, "noise": "dropout"},
              {"points": pinned_batch(r, only, 6), "depth": 6, "noise": "gaussian"})
    return SimulationCheck(
        result="variance_after_depth", title="wide noisy ReLU chains, exact conditional variances, lags 1-20",
        method="random", simulate=simulate_variance_after_depth, compare=STATISTICAL, strategy=strategy, points=points,
        sizes=AFTER_DEPTH_SIZES, gpu_sizes=_scaled(AFTER_DEPTH_SIZES, "networks", 8), examples_per_case=50,
        axes=_width(AFTER_DEPTH_SIZES, DEAD_LAYER_WIDTH))


def _fixed_point_check(name: str, title: str) -> SimulationCheck:
    points = ({"points": [{"mu2": 1.05}, {"mu2": 1.5}], "noise": "dropout"},
              {"points": [{"mu2": 1.2}, {"mu2": 3.0}], "noise": "gaussian"})
    return SimulationCheck(
        result=name, title=title, method="random", simulate=simulate_fixed_point(name), compare=STATISTICAL,
        strategy=fixed_point_strategy(), points=points, sizes=FIXED_POINT_SIZES,
        gpu_sizes=_scaled(FIXED_POINT_SIZES, "networks", 8), examples_per_case=100, axes=_width(FIXED_POINT_SIZES))


def _checks() -> tuple[SimulationCheck, ...]:
    variance_gpu = _scaled(VARIANCE_SIZES, "networks", 8)
    mc = dict(sizes=MONTE_CARLO_SIZES, gpu_sizes=_scaled(MONTE_CARLO_SIZES, "samples", 8), method="monte_carlo",
              examples_per_case=50)
    return (
        _batched("variance_map", simulate_variance_map, "wide noisy ReLU networks, exact conditional variances",
                 ("sigma_w", "sigma_b", "mu2"), 8, noisy=True, sizes=VARIANCE_SIZES, gpu_sizes=variance_gpu,
                 axes=_width(VARIANCE_SIZES, DEAD_LAYER_WIDTH)),
        _batched("additive_noise_variance_map", simulate_additive_noise_variance_map,
                 "wide ReLU networks with additive noise, exact conditional variances",
                 ("sigma_w", "sigma_b", "eps"), 8, noisy=False, sizes=VARIANCE_SIZES, gpu_sizes=variance_gpu,
                 examples_per_case=34, axes=_width(VARIANCE_SIZES)),
        _batched("critical_sigma_w", simulate_critical_sigma_w, "growth per layer at sigma_w0 (sigma_b = 0)",
                 ("mu2",), 6, noisy=True, sizes=VARIANCE_SIZES, gpu_sizes=variance_gpu,
                 axes=_width(VARIANCE_SIZES, DEAD_LAYER_WIDTH)),
        _after_depth_check(),
        _batched("correlation_map", simulate_correlation_map, "one noisy ReLU layer at input correlations, jackknifed",
                 ("mu2",), 3, noisy=True, sizes=CORRELATION_SIZES, gpu_sizes=_scaled(CORRELATION_SIZES, "networks", 8),
                 examples_per_case=100, axes=_width(CORRELATION_SIZES, DEAD_LAYER_WIDTH)),
        _fixed_point_check("correlation_fixed_point", "root of the sampled correlation map"),
        _fixed_point_check("correlation_slope", "slope of the sampled map at its root (Price)"),
        _fixed_point_check("correlation_depth_scale", "slope at the root, through chi = exp(-1/xi_c)"),
        _fixed_point_check("trainable_depth", "slope at the root, through chi = exp(-6/L_max)"),
        _batched("shifted_relu_active_fraction", simulate_active_fraction, "units of a layer at variance q",
                 ("q", "alpha"), 16, noisy=False, **mc),
        _batched("shifted_relu_second_moment", simulate_second_moment, "units of a layer at variance q",
                 ("q", "alpha"), 16, noisy=False, **mc),
        _batched("shifted_relu_critical_point", simulate_critical_point,
                 "root of the sampled criticality conditions", ("alpha", "sigma_b"), 6, noisy=False,
                 sizes=CRITICAL_POINT_SIZES, gpu_sizes=_scaled(CRITICAL_POINT_SIZES, "replicates", 8),
                 method="monte_carlo"),
        SimulationCheck(
            result="jacobian_spectrum_variance", title="J J^T of critical networks, fit in 1/N", method="random",
            simulate=simulate_jacobian, compare=Extrapolated(), strategy=jacobian_strategy, points=JACOBIAN_POINTS,
            sizes=JACOBIAN_SIZES, gpu_sizes={"widths": (256, 512), "networks": 256}, examples_per_case=100,
            axes=(width_axis(start=JACOBIAN_SIZES["widths"][0], lo=JACOBIAN_WIDTH_LO, key="widths"),)),
    )


SIMULATIONS = _checks()


# -- claims --------------------------------------------------------------------------------------------------------

#: the claims' networks (:func:`~learndyn.verify.simulate.propagate`, weights drawn): width and count
CLAIM_WIDTH, CLAIM_NETWORKS = 1000, 16


def _mean_se(per_network: torch.Tensor) -> tuple[float, float]:
    """Mean over networks and its standard error (networks are independent; what is inside one is not)."""
    return float(per_network.mean()), float(per_network.std(unbiased=True) / math.sqrt(per_network.numel()))


def additive_noise_has_no_critical_point(config):
    """Symbolically: ``q' − q ≡ 0`` for every ``q`` needs ``σ_w²/2 = 1`` and ``σ_w² eps + σ_b² = 0``, which has no
    solution for ``eps > 0``. In simulation, at He initialisation with additive noise the variance grows by
    ``2 eps`` per layer (mean increment over 9 layers ``/(2 eps) = 1`` within 5 SE) and is far from constant
    (more than 5 SE from 0), while multiplicative noise at its critical ``σ_w`` keeps it constant (within 5 SE)."""
    import sympy as sp

    from learndyn.derive.registry import derivation
    from learndyn.verify.report import Check
    from learndyn.verify.simulate import inputs_with_correlations, propagate
    from learndyn.verify.tier_b import K_SE
    from learndyn.verify.tier_b.engine import draw_cases

    d = derivation("additive_noise_variance_map")
    syms = d.result.symbols
    q, eps = syms["q"], syms["eps"]
    poly = sp.Poly(sp.expand(d.expr - q), q)
    solutions = sp.solve([c.subs(eps, sp.Symbol("e", positive=True)) for c in poly.all_coeffs()],
                         [syms["sigma_w"], syms["sigma_b"]], dict=True)
    worst, failure, count = 0.0, None, 0
    if solutions:
        failure = f"SymPy finds a critical point with additive noise: {solutions}"
    examples = draw_cases(st.tuples(st.floats(0.05, 1.0), st.floats(1.1, 3.0), st.integers(0, 2**31 - 1)),
                          max(1, config.examples // 50), config.seed)
    for eps_v, mu2, seed in examples if failure is None else ():
        x = inputs_with_correlations([0.5], seed=seed)
        run = propagate(x, depth=10, sigma_w=math.sqrt(2.0), sigma_b=0.0, width=CLAIM_WIDTH, networks=CLAIM_NETWORKS,
                        additive_eps=eps_v, seed=seed, device=config.device)
        q_ = run.variance
        mean, se = _mean_se(((q_[:, 1:] - q_[:, :-1]) / (2 * eps_v)).mean(dim=(1, 2)))
        worst, count = max(worst, abs(mean - 1) / se), count + 1
        if abs(mean - 1) > K_SE * se or mean < K_SE * se:
            failure = f"additive noise eps={eps_v:.3g}: growth per layer / (2 eps) = {mean:.4g} ± {se:.2g}"
            break
        crit = propagate(x, depth=10, sigma_w=float(_function("critical_sigma_w")(mu2=mu2)), sigma_b=0.0,
                         width=CLAIM_WIDTH, networks=CLAIM_NETWORKS, seed=seed, device=config.device,
                         **_scalar_noise(mu2, "dropout"))
        qc = crit.variance
        mean_c, se_c = _mean_se((qc[:, 1:] / qc[:, :-1] - 1).mean(dim=(1, 2)))
        worst = max(worst, abs(mean_c) / se_c)
        if abs(mean_c) > K_SE * se_c:
            failure = f"multiplicative noise mu2={mu2:.3g} at its critical sigma_w: growth {mean_c:.3g} ± {se_c:.2g}"
            break
    return Check("additive_noise_has_no_critical_point", "claim", count, worst, K_SE,
                 "max z (growth/2eps - 1; critical growth)", failure is None, failure,
                 {"symbolic": "no (sigma_w, sigma_b) solves q' = q for all q when eps > 0"})


def noise_limits_depth(config):
    """Stronger noise, lower ``c*`` and shorter ``ξ_c`` (theory, on a grid of ``mu2``), and in simulation the
    correlation of two inputs after 16 layers is lower for dropout with keep 0.6 than with keep 0.9 (by more
    than 5 SE), each within 5 SE plus the finite-width allowance of its ``c*``."""
    from learndyn.verify.report import Check
    from learndyn.verify.simulate import inputs_with_correlations, propagate
    from learndyn.verify.tier_b import K_SE

    mu2 = torch.linspace(1.0, 4.0, 61, dtype=torch.float64)
    c_star = _function("correlation_fixed_point")(mu2=mu2)
    xi = _function("correlation_depth_scale")(mu2=mu2)
    failure = None
    if not (bool((c_star[1:] < c_star[:-1]).all()) and bool((c_star[1:] < 1).all()) and bool((xi[1:] < xi[:-1]).all())):
        failure = "c* or xi_c does not decrease with noise strength"
    worst, count = 0.0, 0
    if failure is None:
        x = inputs_with_correlations([0.9], seed=config.seed)
        last = {}
        for keep in (0.9, 0.6):
            run = propagate(x, depth=16, sigma_w=1.4, sigma_b=0.0, width=CLAIM_WIDTH, networks=CLAIM_NETWORKS,
                            seed=config.seed, device=config.device, noise="dropout", keep=keep)
            c = run.correlation[:, -1, 0, 1]
            target = float(_function("correlation_fixed_point")(mu2=1 / keep))
            chi = float(_function("correlation_slope")(mu2=1 / keep))
            mean, se = _mean_se(c - target)
            z = (abs(mean) - 1 / (CLAIM_WIDTH * (1 - chi))) / se
            worst, count = max(worst, z), count + 1
            if z > K_SE:
                failure = f"keep {keep}: c^16 - c* = {mean:.3g} ± {se:.2g}"
            last[keep] = c
        diff, se = _mean_se(last[0.9] - last[0.6])
        if failure is None and diff < K_SE * se:
            failure = f"stronger dropout does not lower the correlation: {diff:.3g} ± {se:.2g}"
    return Check("noise_limits_depth", "claim", count, worst, K_SE, "max z of c^16 - c* (keep 0.9, 0.6)",
                 failure is None, failure)


#: the family's claims, by name: ``check(config) -> Check``
SIGNAL_CLAIMS = {
    "additive_noise_has_no_critical_point": additive_noise_has_no_critical_point,
    "noise_limits_depth": noise_limits_depth,
}

#: the family's claim checks, by claim (``learndyn.verify.families.claim_checks`` collects them)
CLAIM_CHECKS = SIGNAL_CLAIMS
