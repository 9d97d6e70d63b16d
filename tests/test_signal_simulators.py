"""Tests of the family-3 (signal propagation) simulators in learndyn.verify.simulate.signal.

Every reference is written out here from THEORY.md ("Family 3") or derived by hand, independently of the
package. Statistical comparisons allow k = 5 standard errors, the standard error computed from the spread
over networks (false-failure chance under 1e-4 per comparison with >= 64 networks), plus a stated bound on any
systematic finite-width bias; every draw is seeded, so a failure reproduces.

Exact at every width (no bias allowance): with zero-mean weights, ``E[q^l | layer l−1] =
σ_w² (μ2 (1/N) Σ_j φ(h^{l−1}_j)² + eps) + σ_b²`` and, the units of one layer being iid Gaussian given the layer
before, ``E[(1/N) Σ φ(h)²] = E[q]/2`` for ReLU, so ``E[q^L − A^{L−1} q¹] = C (A^{L−1} − 1)/(A − 1)`` with
``A = σ_w² μ2/2``, ``C = σ_w² eps + σ_b²`` (``q¹`` measured per network: ``E q¹`` is the exact first-layer
variance). Likewise ``E[(1/N) tr J Jᵀ] = (σ_w²/2)^L = 1`` at ``σ_w = √2``, ``σ_b = 0`` for ReLU: flipping the
sign of row ``i`` of ``W^l`` (a symmetry of both weight laws) flips ``h^l_i`` and leaves ``|row_i(J)|²``
unchanged, so each mask ``D^l`` keeps half of the squared norm in expectation.
"""

from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.simulate import JacobianSpectrum, Propagation, jacobian_spectrum, propagate, propagate_units

DEV = "cpu"
F64 = torch.float64
K_SE = 5.0  # standard errors allowed in statistical comparisons

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def mean_and_se(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over the first (networks) axis and its standard error."""
    return samples.mean(0), samples.std(0) / math.sqrt(samples.shape[0])


def unit_inputs(angles: list[float], n0: int = 2) -> torch.Tensor:
    """Unit vectors ``(cos θ, sin θ, 0, …)`` in R^{n0}: pairwise cosines ``cos(θ_a − θ_b)``."""
    x = torch.zeros(len(angles), n0, dtype=F64)
    x[:, 0] = torch.cos(torch.tensor(angles, dtype=F64))
    x[:, 1] = torch.sin(torch.tensor(angles, dtype=F64))
    return x


def predicted_variance(q1: torch.Tensor, A: float, C: float, depth: int) -> torch.Tensor:
    """``E[q^L | q¹] = A^{L−1} q¹ + C Σ_{k<L−1} A^k`` (the iterated map ``q' = A q + C``; ``A = 1`` included)."""
    series = sum(A**k for k in range(depth - 1))
    return A ** (depth - 1) * q1 + C * series


def assert_variance_map(run: Propagation, A: float, C: float, depth: int) -> None:
    """Mean over networks of ``q^L − E[q^L | q¹]`` is 0 within K_SE standard errors, for every input; and the
    test has power: 5 SE stay below 20 % of the prediction, so a 4 % error in ``A`` (20 % after five layers)
    would fail it."""
    q = run.variance  # (networks, depth, n_inputs)
    pred = predicted_variance(q[:, 0], A, C, depth)
    resid, se = mean_and_se(q[:, -1] - pred)
    assert bool((resid.abs() <= K_SE * se).all()), f"q^L − prediction {resid} vs SE {se}"
    assert bool((K_SE * se < 0.2 * pred.mean(0)).all()), f"too few networks to resolve the map: SE {se}"


# ---------------------------------------------------------------- propagate: shapes and the variance maps


def test_propagate_shapes_and_properties() -> None:
    x = unit_inputs([0.0, 0.3, 1.0], n0=5)
    run = propagate(x, depth=4, sigma_w=1.0, width=32, networks=3, seed=1, device=DEV)
    assert isinstance(run, Propagation)
    assert run.moments.shape == (3, 4, 3, 3) and run.moments.dtype == F64
    assert run.variance.shape == (3, 4, 3)
    assert torch.equal(run.variance, torch.diagonal(run.moments, dim1=-2, dim2=-1))
    c = run.correlation
    assert c.shape == (3, 4, 3, 3)
    assert torch.allclose(torch.diagonal(c, dim1=-2, dim2=-1), torch.ones(3, 4, 3, dtype=F64))
    assert torch.allclose(c, c.mT) and bool((c.abs() <= 1 + 1e-12).all())


def test_first_layer_is_the_linear_map_of_the_input() -> None:
    """Layer 1 is ``W¹ x + b¹``: for one input the squared norms of ``h¹`` are ``q¹ N/(σ_w²/n0 |x|² + σ_b²)
    ~ χ²_N``, so ``q¹`` has mean ``σ_w² |x|²/n0 + σ_b²`` (no activation, no noise on the input)."""
    x = torch.tensor([[3.0, 0.0, 4.0, 0.0]], dtype=F64)  # |x|² = 25, n0 = 4
    run = propagate(x, depth=1, sigma_w=1.5, sigma_b=0.5, width=200, networks=256, noise="dropout", keep=0.5,
                    seed=3, device=DEV)
    m, se = mean_and_se(run.variance[:, 0, 0])
    assert abs(m - (2.25 * 25 / 4 + 0.25)) <= K_SE * se


@pytest.mark.parametrize(
    "kw, A",
    [
        # dropout at criticality: σ_w² μ2/2 = 1.2/(2·0.6) = 1, so q^L = q¹ + (L − 1) σ_b² in expectation
        (dict(noise="dropout", keep=0.6, sigma_w=math.sqrt(1.2), sigma_b=0.3), 1.0),
        # Gaussian noise above criticality: μ2 = 1.25, A = 2.25·1.25/2 = 1.40625
        (dict(noise="gaussian", noise_std=0.5, sigma_w=1.5, sigma_b=0.2), 1.40625),
    ],
    ids=["dropout-critical", "gaussian-supercritical"],
)
def test_variance_map_with_multiplicative_noise(kw: dict, A: float) -> None:
    """Mean over 512 networks of width 100 (exact at every width, so a narrow network and many of them give
    the smallest standard error per draw)."""
    depth = 6
    x = unit_inputs([0.0, 1.0]) * torch.tensor([[1.0], [2.0]], dtype=F64)
    run = propagate(x, depth=depth, width=100, networks=512, seed=11, device=DEV, **kw)
    assert_variance_map(run, A, kw["sigma_b"] ** 2, depth)


def test_additive_noise_variance_map() -> None:
    """``q' = σ_w² (q/2 + eps) + σ_b²``: ``A = σ_w²/2``, ``C = σ_w² eps + σ_b²``; at He initialisation
    (``σ_w = √2``, ``σ_b = 0``) the variance grows linearly with depth, ``q^L = q¹ + 2 eps (L − 1)``."""
    depth = 6
    x = unit_inputs([0.0, 2.0])
    for sw, sb, eps in [(1.3, 0.2, 0.5), (math.sqrt(2.0), 0.0, 0.25)]:
        run = propagate(x, depth=depth, sigma_w=sw, sigma_b=sb, additive_eps=eps, width=100, networks=512,
                        seed=5, device=DEV)
        assert_variance_map(run, sw**2 / 2, sw**2 * eps + sb**2, depth)


def test_additive_and_multiplicative_noise_together() -> None:
    """Both noises: ``A = σ_w² μ2/2`` and ``C = σ_w² eps + σ_b²`` (``ξ`` independent of ``ε``)."""
    depth = 4
    run = propagate(unit_inputs([0.0]), depth=depth, sigma_w=1.1, sigma_b=0.1, noise="dropout", keep=0.8,
                    additive_eps=0.3, width=100, networks=512, seed=9, device=DEV)
    assert_variance_map(run, 1.21 / (2 * 0.8), 1.21 * 0.3 + 0.01, depth)


def test_shifted_relu_second_layer_variance() -> None:
    """``φ(h) = max(0, h + α) − α``: ``E[q² | layer 1] = σ_w² (1/N) Σ φ(h¹)² + σ_b²`` with ``h¹`` iid
    ``N(0, q¹)`` (``q¹ = σ_w² |x|²/n0``), and for ``h = √q z``, ``t = −α/√q``:
    ``E φ(h)² = q [(1 − Φ(t)) + t φ_N(t)] + α² Φ(t)``. Exact at every width."""
    sw, sb, alpha = 1.2, 0.3, 0.5
    run = propagate(unit_inputs([0.0]), depth=2, sigma_w=sw, sigma_b=sb, alpha=alpha, width=200, networks=512,
                    seed=2, device=DEV)
    q1 = sw**2 / 2 + sb**2  # |x| = 1, n0 = 2
    t = -alpha / math.sqrt(q1)
    cdf, pdf = 0.5 * math.erfc(-t / math.sqrt(2)), math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    expected = sw**2 * (q1 * ((1 - cdf) + t * pdf) + alpha**2 * cdf) + sb**2
    m, se = mean_and_se(run.variance[:, 1, 0])
    assert abs(m - expected) <= K_SE * se, (m, se, expected)
    # relu (alpha = 0) would give σ_w² q¹/2 + σ_b²: the shift is visible at this precision
    assert abs(sw**2 * q1 / 2 + sb**2 - expected) > 10 * se


# ---------------------------------------------------------------- propagate: the correlation map


def correlation_map(c: torch.Tensor, mu2: float) -> torch.Tensor:
    """THEORY.md: ``c' = (1/μ2)[(c arcsin c + √(1−c²))/π + c/2]`` (σ_b = 0)."""
    c = c.clamp(-1.0, 1.0)
    return ((c * torch.asin(c) + torch.sqrt(1 - c * c)) / math.pi + c / 2) / mu2


# Allowance for the finite-width bias of ``c² − map(c¹)``: measured (20000 … 1500 networks at N = 50 … 400, the
# inputs below) it is at most about 0.2/N without noise and 0.6/N with dropout (keep 0.8; largest at c ≈ 0.9).
CORR_BIAS_PER_WIDTH = 1.0


@pytest.mark.parametrize("noise, kw, mu2", [("none", {}, 1.0), ("dropout", {"keep": 0.8}, 1.25)], ids=["none", "dropout"])
def test_correlation_map_one_layer(noise: str, kw: dict, mu2: float) -> None:
    """``c²`` against ``correlation_map(c¹)`` per network, ``c¹`` measured, σ_b = 0, for input cosines
    0.9, 0, −0.5 (and the other pairs of the same inputs: 0.44, −0.07, 0.87). ``c`` is a ratio of sums over
    units, so the comparison carries an ``O(1/N)`` bias (sample-correlation and ratio bias), allowed as
    ``CORR_BIAS_PER_WIDTH/N`` on top of 5 SE. The spread of ``c² − map(c¹)`` is about ``1.1/√N`` per network,
    so 1024 networks of width 200 give 5 SE ≈ 0.012 and an allowance of 0.005; a wrong ``μ2`` (or noise
    shared by the two inputs, which would put ``μ2`` into the cross term) moves ``c²`` by ≥ 0.1."""
    width = 200
    x = unit_inputs([0.0, math.acos(0.9), math.pi / 2, 2 * math.pi / 3])
    run = propagate(x, depth=2, sigma_w=1.0, width=width, networks=1024, noise=noise, seed=21, device=DEV, **kw)
    c = run.correlation
    resid, se = mean_and_se(c[:, 1] - correlation_map(c[:, 0], mu2))
    off = ~torch.eye(x.shape[0], dtype=torch.bool)
    tol = K_SE * se + CORR_BIAS_PER_WIDTH / width
    assert bool((resid.abs() <= tol)[off].all()), f"c² − map(c¹): {resid[off]} vs allowed {tol[off]}"


# ---------------------------------------------------------------- propagate: determinism and validation


def test_propagate_is_deterministic_given_seed() -> None:
    x = unit_inputs([0.0, 1.0])
    kw = dict(depth=3, sigma_w=1.3, sigma_b=0.1, width=50, networks=5, noise="gaussian", noise_std=0.3,
              additive_eps=0.1, device=DEV)
    a, b, c = propagate(x, seed=4, **kw), propagate(x, seed=4, **kw), propagate(x, seed=5, **kw)
    assert torch.equal(a.moments, b.moments)
    assert not torch.equal(a.moments, c.moments)
    d = propagate(x, depth=3, sigma_w=1.3, width=50, networks=5, noise="dropout", keep=0.5, seed=4, device=DEV)
    assert torch.equal(d.moments, propagate(x, depth=3, sigma_w=1.3, width=50, networks=5, noise="dropout",
                                            keep=0.5, seed=4, device=DEV).moments)


def test_noise_free_limits() -> None:
    """``keep = 1`` and ``noise_std = 0`` are the noise-free network, draw for draw."""
    x = unit_inputs([0.0, 1.0])
    kw = dict(depth=3, sigma_w=1.3, width=40, networks=3, seed=8, device=DEV)
    plain = propagate(x, **kw).moments
    assert torch.equal(plain, propagate(x, noise="dropout", keep=1.0, **kw).moments)
    assert torch.equal(plain, propagate(x, noise="gaussian", noise_std=0.0, **kw).moments)


X2 = unit_inputs([0.0, 1.0])


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(depth=0), "depth"),
        (dict(depth=2.0), "depth"),
        (dict(width=0), "width"),
        (dict(networks=0), "networks"),
        (dict(sigma_w=0.0), "sigma_w"),
        (dict(sigma_w=float("nan")), "sigma_w"),
        (dict(sigma_b=-0.1), "sigma_b"),
        (dict(noise="bernoulli"), "noise"),
        (dict(noise="dropout"), "keep"),
        (dict(noise="dropout", keep=0.0), "keep"),
        (dict(noise="dropout", keep=1.5), "keep"),
        (dict(keep=0.5), "keep"),
        (dict(noise="gaussian", keep=0.5, noise_std=0.1), "keep"),
        (dict(noise="gaussian"), "noise_std"),
        (dict(noise="gaussian", noise_std=-0.1), "noise_std"),
        (dict(noise="dropout", keep=0.5, noise_std=0.1), "noise_std"),
        (dict(additive_eps=-1.0), "additive_eps"),
        (dict(alpha=float("inf")), "alpha"),
        (dict(x=torch.ones(3)), "x"),
        (dict(x=torch.ones(0, 3)), "x"),
        (dict(x=torch.tensor([[1.0, float("nan")]])), "x"),
    ],
)
def test_propagate_validation(kw: dict, name: str) -> None:
    args = dict(x=X2, depth=2, sigma_w=1.0, width=8, networks=2, device=DEV) | kw
    x = args.pop("x")
    with pytest.raises(ValueError, match=name):
        propagate(x, **args)


# ---------------------------------------------------------------- jacobian_spectrum

# Finite-width bias of the spectrum variance (ReLU, σ_w = √2, σ_b = 0), measured with 3000/800/160 (Gaussian) and
# 2000/500/100 (orthogonal) networks at N = 250/500/1000, depths 1, 2, 4, 8: relative to the N → ∞ value it is
# +1.9 L/N (± 0.3 L/N at N = 250; e.g. +6.1 % ± 0.8 % at L = 8, N = 250) for Gaussian weights, and between
# +1.4 L/N and +2.8 L/N (± 0.3 … 0.6 L/N; +5.3 % ± 0.8 % at L = 8, N = 250) for orthogonal weights (−1/N at
# L = 1, exactly: 4 a (1 − a) with a ~ Binomial(N, ½)/N). Most of it is E[mean²] − 1 = Var(mean) = O(L/N), since the
# variance is second_moment − mean² per network. Allowance: |E[variance]/theory − 1| ≤ 3 L/N.
JAC_REL_BIAS_PER_DEPTH_WIDTH = 3.0


def test_jacobian_spectrum_shapes_and_determinism() -> None:
    kw = dict(depth=3, sigma_w=1.2, sigma_b=0.1, alpha=0.3, width=20, networks=3, q0=0.5, device=DEV)
    for weights in ("gaussian", "orthogonal"):
        a = jacobian_spectrum(weights=weights, seed=1, **kw)
        assert isinstance(a, JacobianSpectrum)
        assert a.mean.shape == a.second_moment.shape == a.variance.shape == (3,)
        assert a.active_fraction.shape == (3, 3)
        assert torch.equal(a.variance, a.second_moment - a.mean**2)
        b, c = jacobian_spectrum(weights=weights, seed=1, **kw), jacobian_spectrum(weights=weights, seed=2, **kw)
        assert all(torch.equal(u, v) for u, v in zip(a, b))
        assert not torch.equal(a.mean, c.mean)


def test_jacobian_spectrum_matches_eigenvalues_of_explicit_product() -> None:
    """Depth 1: ``J = W¹ D⁰``. With ``σ_w = 1``, orthogonal weights: ``J Jᵀ = O D⁰ Oᵀ`` has eigenvalues in
    {0, 1}, so mean = second moment = active fraction of ``D⁰`` and variance ``a (1 − a)`` exactly."""
    s = jacobian_spectrum(depth=1, sigma_w=1.0, weights="orthogonal", width=64, networks=3, seed=3, device=DEV)
    a = s.active_fraction[:, 0]
    assert torch.allclose(s.mean, a, rtol=1e-12) and torch.allclose(s.second_moment, a, rtol=1e-12)
    assert torch.allclose(s.variance, a * (1 - a), rtol=1e-10, atol=1e-14)


def test_jacobian_active_fraction_shifted_relu() -> None:
    """``D⁰`` of ``h⁰ ~ N(0, q0)``: ``P(h⁰ > −α) = ½ erfc(−α/√(2 q0))`` (THEORY.md), exactly in expectation."""
    q0, alpha = 0.7, 0.4
    s = jacobian_spectrum(depth=1, sigma_w=1.0, alpha=alpha, width=500, networks=16, q0=q0, seed=6, device=DEV)
    m, se = mean_and_se(s.active_fraction[:, 0])
    assert abs(m - 0.5 * math.erfc(-alpha / math.sqrt(2 * q0))) <= K_SE * se


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_jacobian_mean_is_one_at_criticality(weights: str) -> None:
    """``E[(1/N) tr J Jᵀ] = 1`` exactly at ``σ_w² a = 1`` (ReLU, σ_b = 0; module docstring)."""
    s = jacobian_spectrum(depth=4, sigma_w=math.sqrt(2.0), weights=weights, width=200, networks=64, seed=12,
                          device=DEV)
    m, se = mean_and_se(s.mean)
    assert abs(m - 1) <= K_SE * se, (m, se)
    assert abs(s.active_fraction.mean() - 0.5) < 0.01


def assert_jacobian_variance(weights: str, per_layer: float, width: int, depth: int, networks: int, seed: int) -> None:
    s = jacobian_spectrum(depth=depth, sigma_w=math.sqrt(2.0), weights=weights, width=width, networks=networks,
                          seed=seed, device=DEV)
    theory = per_layer * depth
    m, se = mean_and_se(s.variance)
    tol = K_SE * se + JAC_REL_BIAS_PER_DEPTH_WIDTH * depth / width * theory
    assert abs(m - theory) <= tol, (m, se, theory, tol)
    # the two laws are told apart (they differ by L/a − L(1−a)/a = L)
    assert tol < 0.5 * depth


@pytest.mark.parametrize("weights, per_layer", [("gaussian", 2.0), ("orthogonal", 1.0)])
def test_jacobian_variance_at_criticality(weights: str, per_layer: float) -> None:
    """Spectrum variance ``L/a`` (Gaussian) and ``L (1 − a)/a`` (orthogonal); ReLU ``a = ½``: ``2L``, ``L``.
    Allowed: 5 SE plus the finite-width bias bound ``JAC_REL_BIAS_PER_DEPTH_WIDTH · L/N`` (relative); at
    N = 200, L = 4 with 256 networks that is about 15 % (Gaussian) and 13 % (orthogonal) of the theory."""
    assert_jacobian_variance(weights, per_layer, width=200, depth=4, networks=256, seed=13)


@pytest.mark.slow
@pytest.mark.parametrize("weights, per_layer", [("gaussian", 2.0), ("orthogonal", 1.0)])
def test_jacobian_variance_at_criticality_deep(weights: str, per_layer: float) -> None:
    """As above at L = 8, N = 250 with 1000 networks (5 SE ≈ 4 % and the allowance 10 % of the theory; the
    measured bias there is about 6 %). About 30 s (Gaussian) and 60 s (orthogonal) on one core."""
    assert_jacobian_variance(weights, per_layer, width=250, depth=8, networks=1000, seed=14)


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_jacobian_spectrum_validation(weights: str) -> None:
    base = dict(depth=2, sigma_w=1.0, weights=weights, width=8, networks=2, device=DEV)
    for kw, name in [
        (dict(depth=0), "depth"),
        (dict(width=0), "width"),
        (dict(networks=-1), "networks"),
        (dict(sigma_w=-1.0), "sigma_w"),
        (dict(sigma_b=-1.0), "sigma_b"),
        (dict(q0=0.0), "q0"),
        (dict(alpha=float("nan")), "alpha"),
        (dict(weights="uniform"), "weights"),
    ]:
        with pytest.raises(ValueError, match=name):
            jacobian_spectrum(**(base | kw))


# ---------------------------------------------------------------- conditional moments, propagate_units, noise


def test_propagate_records_exact_first_layer_conditional_moments() -> None:
    """``K¹ = σ_w² x xᵀ/n0 + σ_b²`` exactly (layer 1 given the inputs), for both samplers; ``K¹`` is the same for
    every network."""
    x = unit_inputs([0.0, 0.7, 2.0], n0=3) * torch.tensor([[1.0], [2.0], [0.5]], dtype=F64)
    expected = 1.3**2 * (x @ x.T) / 3 + 0.2**2
    for run in (propagate(x, depth=2, sigma_w=1.3, sigma_b=0.2, width=16, networks=3, seed=1, device=DEV),
                propagate_units(x, depth=2, sigma_w=1.3, sigma_b=0.2, width=16, networks=3, seed=1, device=DEV)):
        assert torch.allclose(run.conditional[:, 0], expected.expand(3, 3, 3), rtol=1e-14, atol=0)
        assert torch.equal(run.conditional_variance, torch.diagonal(run.conditional, dim1=-2, dim2=-1))


@pytest.mark.parametrize("sampler", [propagate, propagate_units], ids=["weights", "units"])
def test_conditional_moments_are_the_mean_of_the_sampled_ones(sampler) -> None:
    """Given layer ``l−1``, ``Q^l`` is a Wishart mean with expectation ``K^l`` (every layer, every pair of inputs):
    the mean over 2000 networks of ``Q^l − K^l`` is 0 within 5 SE; and ``K^l`` moves with the noise (``K² ≠ K¹``
    by far more than the SE), so a sampler that recorded the wrong ``K`` would fail."""
    x = unit_inputs([0.0, 1.0, 2.5])
    run = sampler(x, depth=3, sigma_w=1.4, sigma_b=0.3, width=50, networks=2000, noise="gaussian", noise_std=0.6,
                  additive_eps=0.2, seed=17, device=DEV)
    resid, se = mean_and_se(run.moments - run.conditional)
    assert bool((resid.abs() <= K_SE * se + 1e-15).all()), (resid, se)
    drift, se_drift = mean_and_se(run.conditional[:, 1] - run.conditional[:, 0])
    assert bool((drift.abs() > 10 * se_drift).any())


def test_propagate_units_has_the_law_of_propagate() -> None:
    """Both samplers draw the same networks: the mean and the mean square of every ``Q^l_ab`` and ``K^l_ab``
    (layers 2, 3; three inputs; dropout and additive noise) agree between 3000 networks of each within 5 SE of
    the difference. A unit sampler that missed ``σ_b²``, the noise or a factor ``1/N`` would differ by ≥ 10 SE."""
    x = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 1.5, 0.5]], dtype=F64)
    kw = dict(depth=3, sigma_w=1.3, sigma_b=0.2, width=48, networks=3000, noise="dropout", keep=0.7, additive_eps=0.1,
              device=DEV)
    a, b = propagate(x, seed=1, **kw), propagate_units(x, seed=2, **kw)
    for name in ("moments", "conditional"):
        for power in (1, 2):
            u, v = getattr(a, name)[:, 1:] ** power, getattr(b, name)[:, 1:] ** power
            se = torch.sqrt(u.var(0) / u.shape[0] + v.var(0) / v.shape[0])
            assert bool(((u.mean(0) - v.mean(0)).abs() <= K_SE * se).all()), (name, power)


def test_propagate_units_batch_of_configurations() -> None:
    """One call, several configurations (``sigma_w``, ``sigma_b``, ``keep`` per configuration): shapes, and each
    configuration follows its own variance map ``q' = σ_w² q/(2 keep) + σ_b²`` (exact at any width, 5 SE)."""
    sw = torch.tensor([1.0, 1.5, math.sqrt(1.2)], dtype=F64)
    sb = torch.tensor([0.0, 0.3, 0.1], dtype=F64)
    keep = torch.tensor([1.0, 0.8, 0.6], dtype=F64)
    x = unit_inputs([0.0, 1.0]) * torch.tensor([[1.0], [2.0]], dtype=F64)
    run = propagate_units(x, depth=5, sigma_w=sw, sigma_b=sb, noise="dropout", keep=keep, width=100, networks=512,
                          seed=4, device=DEV)
    assert run.moments.shape == run.conditional.shape == (3, 512, 5, 2, 2)
    for i in range(3):
        A, C = float(sw[i] ** 2 / (2 * keep[i])), float(sb[i] ** 2)
        assert_variance_map(Propagation(run.moments[i]), A, C, 5)
    single = propagate_units(x, depth=2, sigma_w=1.0, width=8, networks=2, seed=0, device=DEV)
    assert single.moments.shape == (2, 2, 2, 2)


def test_propagate_units_shifted_relu_and_gaussian_noise() -> None:
    """The shifted ReLU (``alpha``) and Gaussian noise per configuration: layer 2's ``E[q²]`` is
    ``σ_w² μ2 E φ(h¹)² + σ_b²`` with ``h¹ ~ N(0, q¹)`` (formula of :func:`test_shifted_relu_second_layer_variance`),
    ``μ2 = 1 + noise_std²``; 5 SE over 2048 networks."""
    sw, sb, alpha = 1.2, 0.3, torch.tensor([0.5, -0.3], dtype=F64)
    std = torch.tensor([0.0, 0.5], dtype=F64)
    run = propagate_units(unit_inputs([0.0]), depth=2, sigma_w=sw, sigma_b=sb, alpha=alpha, noise="gaussian",
                          noise_std=std, width=200, networks=2048, seed=2, device=DEV)
    q1 = sw**2 / 2 + sb**2
    for i in range(2):
        a = float(alpha[i])
        t = -a / math.sqrt(q1)
        cdf, pdf = 0.5 * math.erfc(-t / math.sqrt(2)), math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
        expected = sw**2 * (1 + float(std[i]) ** 2) * (q1 * ((1 - cdf) + t * pdf) + a**2 * cdf) + sb**2
        m, se = mean_and_se(run.variance[i, :, 1, 0])
        assert abs(m - expected) <= K_SE * se, (i, m, se, expected)


def test_propagate_units_is_deterministic_given_seed() -> None:
    kw = dict(depth=3, sigma_w=1.3, sigma_b=0.1, width=40, networks=5, noise="gaussian", noise_std=0.3,
              additive_eps=0.1, device=DEV)
    a, b, c = (propagate_units(X2, seed=s, **kw) for s in (4, 4, 5))
    assert torch.equal(a.moments, b.moments) and torch.equal(a.conditional, b.conditional)
    assert not torch.equal(a.moments, c.moments)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(depth=0), "depth"),
        (dict(width=0), "width"),
        (dict(sigma_w=0.0), "sigma_w"),
        (dict(sigma_w=torch.tensor([1.0, -1.0])), "sigma_w"),
        (dict(sigma_w=torch.ones(2, 2)), "sigma_w"),
        (dict(sigma_b=-0.1), "sigma_b"),
        (dict(noise="bernoulli"), "noise"),
        (dict(noise="dropout"), "keep"),
        (dict(noise="dropout", keep=torch.tensor([0.5, 1.5])), "keep"),
        (dict(keep=0.5), "keep"),
        (dict(noise="gaussian"), "noise_std"),
        (dict(noise="gaussian", noise_std=-0.1), "noise_std"),
        (dict(additive_eps=float("nan")), "additive_eps"),
        (dict(alpha=float("inf")), "alpha"),
        (dict(sigma_w=torch.ones(2), sigma_b=torch.ones(3)), "configuration"),
        (dict(x=torch.ones(3)), "x"),
        (dict(x=torch.tensor([[1.0, float("nan")]])), "x"),
    ],
)
def test_propagate_units_validation(kw: dict, name: str) -> None:
    args = dict(x=X2, depth=2, sigma_w=1.0, width=8, networks=2, device=DEV) | kw
    x = args.pop("x")
    with pytest.raises(ValueError, match=name):
        propagate_units(x, **args)


def test_noise_factors_moments() -> None:
    """``E ε = 1`` and ``E ε² = μ2``: dropout ``1/keep``, Gaussian ``1 + noise_std²`` (per configuration in front),
    within 5 SE over 2·10⁵ draws; ``keep = 1`` and ``noise_std = 0`` give ``ε = 1`` exactly; ``"none"`` draws
    nothing."""
    from learndyn.verify.simulate import noise_factors

    gen = torch.Generator().manual_seed(3)
    keep = torch.tensor([[0.4], [0.8], [1.0]], dtype=F64)
    std = torch.tensor([[0.0], [0.5], [1.2]], dtype=F64)
    dropout = noise_factors((3, 200_000), noise="dropout", keep=keep, generator=gen)
    gaussian = noise_factors((3, 200_000), noise="gaussian", noise_std=std, generator=gen)
    for eps, mu2 in ((dropout, 1 / keep), (gaussian, 1 + std**2)):
        for values, target in ((eps, torch.ones_like(mu2)), (eps**2, mu2)):
            m, se = values.mean(-1, keepdim=True), values.std(-1, keepdim=True) / math.sqrt(values.shape[-1])
            assert bool(((m - target).abs() <= K_SE * se + 1e-15).all()), (m, target)
    assert torch.equal(dropout[2], torch.ones(200_000, dtype=F64)) and torch.equal(gaussian[0], dropout[2])
    assert torch.equal(noise_factors((2, 5), noise="dropout", keep=1.0, generator=gen), torch.ones(2, 5, dtype=F64))
    assert torch.equal(noise_factors((2, 5), noise="gaussian", noise_std=0.0, generator=gen), torch.ones(2, 5, dtype=F64))
    state = gen.get_state()
    assert torch.equal(noise_factors((4,), noise="none", generator=gen), torch.ones(4, dtype=F64))
    assert torch.equal(gen.get_state(), state)
    with pytest.raises(ValueError, match="noise"):
        noise_factors((4,), noise="uniform", generator=gen)


def test_inputs_with_correlations() -> None:
    """Cosines with the first input and norms ``√n0 · scale``, exactly."""
    from learndyn.verify.simulate import inputs_with_correlations

    x = inputs_with_correlations([0.9, -0.3, 0.0], n0=16, scales=[1.0, 2.0, 0.5, 3.0], seed=5)
    norms = x.norm(dim=1)
    assert torch.allclose(norms, 4.0 * torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64), rtol=1e-13)
    cos = (x @ x[0]) / (norms * norms[0])
    assert torch.allclose(cos[1:], torch.tensor([0.9, -0.3, 0.0], dtype=F64), atol=1e-13)
