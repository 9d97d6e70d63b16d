"""The :class:`Extrapolated` comparison (tier b): a fit in ``1/N`` across sizes, on synthetic measurements whose
finite-size bias and noise are known."""
from __future__ import annotations

import pytest
import torch

from learndyn.verify.tier_b import OUTPUT, Extrapolated, Measurement, Statistical
from learndyn.verify.tier_b.comparison import lagrange_weights_at_zero


def test_lagrange_weights_at_zero() -> None:
    """Two sizes ``N``, ``2N``: ``2 f(2N) − f(N)``; three sizes: exact for any quadratic in ``x``."""
    assert lagrange_weights_at_zero([1 / 64, 1 / 128]) == pytest.approx([-1.0, 2.0], rel=1e-14)
    xs = [0.3, 0.1, 0.05]
    w = lagrange_weights_at_zero(xs)
    for a, b, c in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (2.0, -3.0, 5.0)):
        assert sum(wi * (a + b * x + c * x * x) for wi, x in zip(w, xs)) == pytest.approx(a, abs=1e-12)
    with pytest.raises(ValueError, match="distinct"):
        lagrange_weights_at_zero([0.1, 0.1])


def biased_measurement(bias: float = 2.0, noise: float = 0.002, replicates: int = 400, seed: int = 0) -> Measurement:
    """An observable ``3 (1 + bias/N) + noise`` at ``N = 64`` and ``128``, per replicate; the theory is ``3``."""
    g = torch.Generator().manual_seed(seed)
    widths = torch.tensor([64.0, 128.0], dtype=torch.float64).unsqueeze(1)
    observed = 3.0 * (1 + bias / widths) + noise * torch.randn(2, replicates, generator=g, dtype=torch.float64)
    return Measurement(args={"x": torch.ones(2, replicates, dtype=torch.float64)}, observed={OUTPUT: observed},
                       replicate_dim=1, extrapolation=(0, (1 / 64, 1 / 128)))


def theory(scale: float = 1.0):
    return lambda x: 3.0 * scale * x


def test_extrapolation_removes_the_finite_size_bias() -> None:
    """The bias ``2/N`` (3 % at ``N = 64``) fails a plain comparison at either width but not the extrapolation; a
    theory 1 % off fails the extrapolation (5 SE ≈ 0.04 %)."""
    m = biased_measurement()
    ok = Extrapolated().judge(m, theory())
    assert ok.passed and ok.ratio < 1, ok.failure
    assert ok.configurations == 1
    for wrong in (1.01, 0.99):
        bad = Extrapolated().judge(m, theory(wrong))
        assert not bad.passed and "extrapolated" in bad.failure
    for i in range(2):
        one = Measurement(args={"x": torch.ones(400, dtype=torch.float64)}, observed={OUTPUT: m.observed[OUTPUT][i]},
                          replicate_dim=0)
        assert not Statistical().judge(one, theory()).passed


def test_extrapolation_standard_error_and_allowance() -> None:
    """The standard error is ``√(Σ w_i² s_i²)`` (here ``√5`` times one width's); the allowance is added to the
    tolerance."""
    m = biased_measurement(bias=0.0, noise=0.01, replicates=100, seed=3)
    out = Extrapolated(k=5).judge(m, theory())
    se_each = [float(m.observed[OUTPUT][i].std() / 3.0 / 10.0) for i in range(2)]
    assert out.details["standard_error"] == pytest.approx((4 * se_each[1] ** 2 + se_each[0] ** 2) ** 0.5, rel=1e-9)
    big = Measurement(**{**m.__dict__, "allowance": 0.5})
    assert Extrapolated().judge(big, theory(1.2)).passed  # 20 % off is inside a 50 % allowance


def test_extrapolation_needs_its_axis() -> None:
    m = biased_measurement()
    with pytest.raises(ValueError, match="extrapolation"):
        Extrapolated().judge(Measurement(**{**m.__dict__, "extrapolation": None}), theory())
    with pytest.raises(ValueError, match="sizes"):
        Extrapolated().judge(Measurement(**{**m.__dict__, "extrapolation": (0, (0.1, 0.05, 0.025))}), theory())
