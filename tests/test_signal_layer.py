"""Tests of the one-layer correlation simulator (learndyn.verify.simulate.signal_layer).

References are written out here from THEORY.md ("Family 3"), independently of the package: the correlation map
``c' = (1/μ2)[(c arcsin c + √(1−c²))/π + c/2]``, its slope ``(arcsin c/π + 1/2)/μ2``, and its fixed point by
bisection. Statistical comparisons allow 5 standard errors over independent networks plus, where stated, the
sampled root's ``O(1/N)`` bias bound.
"""
from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.simulate.signal_layer import (
    jackknife_ratio,
    layer_correlation,
    layer_fixed_point,
    layer_slope,
    pair_layer,
)

F64 = torch.float64
K_SE = 5.0

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reference_map(c: float, mu2: float) -> float:
    return ((c * math.asin(c) + math.sqrt(1 - c * c)) / math.pi + c / 2) / mu2


def reference_slope(c: float, mu2: float) -> float:
    return (math.asin(c) / math.pi + 0.5) / mu2


def reference_fixed_point(mu2: float) -> float:
    lo, hi = 0.0, 1.0  # map(c) − c > 0 at 0 and < 0 at 1 for mu2 > 1
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if reference_map(mid, mu2) > mid else (lo, mid)
    return 0.5 * (lo + hi)


def mean_se(x: torch.Tensor) -> tuple[float, float]:
    return float(x.mean()), float(x.std() / math.sqrt(x.numel()))


def test_jackknife_ratio_is_the_leave_one_out_formula() -> None:
    """``N R − (N − 1) mean_i R₍₋ᵢ₎``, written out with an explicit loop over the left-out unit."""
    g = torch.Generator().manual_seed(0)
    num = torch.randn(3, 7, generator=g, dtype=F64)
    a, b = torch.rand(3, 7, generator=g, dtype=F64), torch.rand(3, 7, generator=g, dtype=F64)
    ratio = lambda n, x, y: n.sum(-1) / torch.sqrt(x.sum(-1) * y.sum(-1))  # noqa: E731
    loo = torch.stack([ratio(torch.cat([num[:, :i], num[:, i + 1:]], -1), torch.cat([a[:, :i], a[:, i + 1:]], -1),
                             torch.cat([b[:, :i], b[:, i + 1:]], -1)) for i in range(7)], -1)
    expected = 7 * ratio(num, a, b) - 6 * loo.mean(-1)
    assert torch.allclose(jackknife_ratio(num, a, b), expected, rtol=1e-12, atol=1e-14)


def test_jackknife_removes_the_first_order_bias() -> None:
    """The uncentred correlation ``Σxy/√(ΣxxΣyy)`` of ``N = 20`` bivariate normal pairs (``ρ = 0.5``) is biased by
    about ``−ρ(1 − ρ²)/(2N) ≈ −0.009`` (resolved: more than 5 SE over 40000 samples); the jackknifed one is
    unbiased within 5 SE."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(40000, 20, 2, generator=g, dtype=F64)
    x, y = z[..., 0], 0.5 * z[..., 0] + math.sqrt(0.75) * z[..., 1]
    plain = (x * y).sum(-1) / torch.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    m, se = mean_se(plain - 0.5)
    assert abs(m) > K_SE * se
    m, se = mean_se(jackknife_ratio(x * y, x * x, y * y) - 0.5)
    assert abs(m) <= K_SE * se, (m, se)


@pytest.mark.parametrize("kw, mu2", [({"noise": "none"}, 1.0), ({"noise": "dropout", "keep": 0.8}, 1.25),
                                     ({"noise": "gaussian", "noise_std": math.sqrt(0.5)}, 1.5)],
                         ids=["none", "dropout", "gaussian"])
def test_layer_correlation_is_the_correlation_map(kw: dict, mu2: float) -> None:
    """Jackknifed ``ĉ'`` per network against the closed form, at ``c = −0.5, 0.3, 0.9``: 64 networks of 8192 units,
    within 5 SE (the jackknife leaves ``O(1/N²)``); 5 SE stay below 5 % of ``c'``, while noise shared between the
    inputs, or ``μ2`` on the cross term, would move ``c'`` by 25 % or more (``μ2 ≥ 1.25``)."""
    layer = pair_layer(width=8192, networks=64, seed=5, device="cpu", **kw)
    for c in (-0.5, 0.3, 0.9):
        m, se = mean_se(layer_correlation(layer, c) - reference_map(c, mu2))
        assert abs(m) <= K_SE * se, (c, m, se)
        assert K_SE * se < 0.05 * reference_map(c, mu2)  # resolves far less than the traps' 10 %


def test_layer_slope_is_the_derivative_of_the_map() -> None:
    """Price's estimator against ``(arcsin c/π + 1/2)/μ2`` (5 SE), and against the secant of the sampled map over
    ``c ± 0.01`` on the same draws (common random numbers: both estimate ``dc'/dc``; the secant's curvature error
    ``|m'''| 10⁻⁴/6`` is far below the SE)."""
    mu2 = 1.4
    layer = pair_layer(width=8192, networks=64, seed=6, device="cpu", noise="dropout", keep=1 / mu2)
    for c in (0.2, 0.7):
        slope = layer_slope(layer, c)
        m, se = mean_se(slope - reference_slope(c, mu2))
        assert abs(m) <= K_SE * se, (c, m, se)
        secant = (layer_correlation(layer, c + 0.01) - layer_correlation(layer, c - 0.01)) / 0.02
        m, se = mean_se(secant - slope)
        assert abs(m) <= K_SE * se + 1e-4, (c, m, se)


@pytest.mark.parametrize("kw, mu2", [({"noise": "dropout", "keep": 1 / 1.3}, 1.3),
                                     ({"noise": "gaussian", "noise_std": 1.0}, 2.0)], ids=["dropout", "gaussian"])
def test_layer_fixed_point(kw: dict, mu2: float) -> None:
    """Every network's root solves its own sampled map (to ``1e-7``), the roots' mean is the reference ``c*`` and
    the slopes' mean the reference ``χ = slope(c*)``, within 5 SE plus the root's bias bound ``12/N``."""
    width = 8192
    layer = pair_layer(width=width, networks=48, seed=7, device="cpu", **kw)
    c, chi = layer_fixed_point(layer)
    assert float((layer_correlation(layer, c) - c).abs().max()) < 1e-7
    c_star = reference_fixed_point(mu2)
    for values, target in ((c, c_star), (chi, reference_slope(c_star, mu2))):
        m, se = mean_se(values - target)
        assert abs(m) <= K_SE * se + 12 / width, (m, se, target)


def test_layer_fixed_point_needs_noise() -> None:
    """Without noise ``c* = 1``, outside the bracket: the solver says so instead of returning a clamp."""
    layer = pair_layer(width=1024, networks=4, seed=8, device="cpu")
    with pytest.raises(RuntimeError, match="no fixed point"):
        layer_fixed_point(layer)


def test_pair_layer_draws() -> None:
    """Shapes, determinism given the seed, noise with the requested law (dropout: ``ε ∈ {0, 1/keep}``)."""
    a = pair_layer(width=100, networks=3, seed=9, device="cpu", noise="dropout", keep=0.5)
    b = pair_layer(width=100, networks=3, seed=9, device="cpu", noise="dropout", keep=0.5)
    assert a.z.shape == a.noise.shape == (3, 100, 2) and a.width == 100
    assert torch.equal(a.z, b.z) and torch.equal(a.noise, b.noise)
    assert set(a.noise.unique().tolist()) == {0.0, 2.0}
    with pytest.raises(ValueError, match="width"):
        pair_layer(width=1, networks=3)
