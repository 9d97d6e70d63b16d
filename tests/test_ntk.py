"""Family 4 (NTK, seed 004): kernel maps and kernels against mpmath, the stable forms at the hard points, the
domain errors, and a 1 % error caught by tier (a).

References are independent: the maps at ``θ → 0`` and ``θ → π`` from the published forms evaluated by mpmath at
120 digits from the exact binary inputs; the kernels from :func:`kernel_reference`, which composes the derived
maps at 120 digits."""
from __future__ import annotations

import mpmath
import pytest
import torch

import learndyn
from learndyn.domain import DomainError
from learndyn.verify.kernel_checks import kernel_datasets, kernel_reference
from learndyn.verify.runner import VerifyConfig, run_verification

F64 = torch.float64
MAPS = ("relu_kernel_map", "relu_kernel_map_derivative", "erf_kernel_map", "erf_kernel_map_derivative")


def _published(name, q1, c, q2):
    with mpmath.workdps(120):
        q1, c, q2 = mpmath.mpf(q1), mpmath.mpf(c), mpmath.mpf(q2)
        det = q1 * q2 - c * c
        if name.startswith("relu"):
            phi = mpmath.atan2(mpmath.sqrt(det), -c)          # π − θ
            if name.endswith("derivative"):
                return phi / (2 * mpmath.pi)
            return (mpmath.sqrt(det) + phi * c) / (2 * mpmath.pi)
        a = (1 + 2 * q1) * (1 + 2 * q2)
        if name.endswith("derivative"):
            return 4 / mpmath.pi / mpmath.sqrt(a - 4 * c * c)
        return 2 / mpmath.pi * mpmath.asin(2 * c / mpmath.sqrt(a))


@pytest.mark.parametrize("name", MAPS)
@pytest.mark.parametrize("rho", [1.0, 1 - 1e-15, 1 - 1e-9, 0.3, 0.0, -0.7, -1 + 1e-12, -1 + 1e-15, -1.0])
@pytest.mark.parametrize("q1,q2", [(1.0, 1.0), (3.7, 0.02), (1e-4, 1e4)])
def test_maps_exact_near_identical_and_opposite(name, rho, q1, q2):
    import math

    c = rho * (q1 * q2) ** 0.5
    with mpmath.workdps(100):
        while mpmath.mpf(q1) * mpmath.mpf(q2) - mpmath.mpf(c) ** 2 < 0:  # the rounded root may leave the domain
            c = math.nextafter(c, 0.0)
    got = learndyn.function(name)(q1, c, q2)
    ref = _published(name, q1, c, q2)
    assert abs(mpmath.mpf(float(got)) - ref) <= 1e-12 * abs(ref) + 2.3e-308, (float(got), ref)


def test_relu_map_gradients_finite_at_identical_inputs():
    q1 = torch.tensor(2.0, dtype=F64, requires_grad=True)
    c = torch.tensor(2.0, dtype=F64, requires_grad=True)
    q2 = torch.tensor(2.0, dtype=F64, requires_grad=True)
    t = learndyn.function("relu_kernel_map")(q1, c, q2)
    grads = torch.autograd.grad(t, (q1, c, q2))
    assert all(torch.isfinite(g) for g in grads)
    assert float(grads[1]) == pytest.approx(0.5, rel=1e-15)          # ∂T/∂c = Ṫ = 1/2 at θ = 0


def test_map_domain_error_names_c():
    with pytest.raises(DomainError, match="'c'"):
        learndyn.function("relu_kernel_map")(1.0, 1.5, 1.0)


@pytest.mark.parametrize("name", ["nngp_kernel", "ntk_kernel"])
@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("L,w,b", [(0, 1.3, 0.1), (1, 2.0, 0.0), (6, 1.7, 0.2), (25, 0.5, 0.05)])
def test_kernels_against_mpmath(name, activation, L, w, b):
    x = kernel_datasets(3)[0]
    got = learndyn.function(name)(x, None, L, w, b, activation)
    ref = kernel_reference(x, x, L, w, b, activation, name.split("_")[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            assert abs(mpmath.mpf(float(got[i, j])) - ref[i][j]) <= 1e-12 * abs(ref[i][j]) + 2.3e-308, (i, j)


@pytest.mark.parametrize("name", ["nngp_kernel", "ntk_kernel"])
@pytest.mark.parametrize("L,w,b", [(20, 25.0, 0.05), (30, 29.0, 1.0), (23, 11.9, 0.3)])
def test_erf_chaotic_nearly_parallel_and_opposite_inputs(name, L, w, b):
    """Deep in the chaotic erf phase the correlation map multiplies the rounding of 1 − c by χ1 ≈ 3–4 per layer;
    nearly parallel rows (1e-7 apart; 1.5× with 1e-9 noise) and nearly opposite rows stay within 1e-12 because T12
    is formed from the carried gaps (with T12 from c alone these were off by up to 1e-3 relative)."""
    x = kernel_datasets(0)[0]
    got = learndyn.function(name)(x, None, L, w, b, "erf")
    ref = kernel_reference(x, x, L, w, b, "erf", name.split("_")[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            assert abs(mpmath.mpf(float(got[i, j])) - ref[i][j]) <= 1e-12 * abs(ref[i][j]) + 2.3e-308, (i, j)


@pytest.mark.parametrize("name", ["nngp_kernel", "ntk_kernel"])
@pytest.mark.parametrize("scale", [1e-140, 1e80, 1e140])
def test_erf_kernels_exact_at_extreme_input_scales(name, scale):
    """Input variances from 1e-140 to 1e140 (the composition allows [1e-150, 1e150]) with a nearly parallel pair:
    the erf layer's gaps are formed from O(1) factors, so nothing overflows (products like det·q1q2 would)."""
    x = torch.tensor([[1.0, 2.0, -0.5], [2.0, 4.1, -1.0], [0.3, -1.0, 2.0], [1.0, 2.0, -0.5000001]], dtype=F64) * scale**0.5
    b = 0.0 if scale < 1 else 0.1
    got = learndyn.function(name)(x, None, 2, 2.0, b, "erf")
    ref = kernel_reference(x, x, 2, 2.0, b, "erf", name.split("_")[0])
    for i in range(4):
        for j in range(4):
            assert abs(mpmath.mpf(float(got[i, j])) - ref[i][j]) <= 1e-12 * abs(ref[i][j]) + 2.3e-308, (i, j)


@pytest.mark.parametrize("name", ["nngp_kernel", "ntk_kernel"])
@pytest.mark.parametrize("rows,sigma_b2", [([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], 0.0),
                                           ([[1.0, 0.0], [-0.5, 1.0], [0.7, 0.3]], 0.5)])
def test_erf_kernel_gradient_where_the_covariance_is_zero(name, rows, sigma_b2):
    """Pre-activation covariance c = 0 exactly: orthogonal rows with σ_b² = 0 (erf is odd, so c stays 0 at every
    layer), and rows with x1·x2/d = −1/4 at σ_w² = 2, σ_b² = 1/2 (c = 0 after the first dense layer, with σ_b² > 0 so
    dist_T feeds the next det). The gradient is the true one (finite differences), not that of |c|: forming
    A_g − A_12 from the angle gap Δ = A_g − |A_12| there as well fails the second case."""
    x = torch.tensor(rows, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda y: learndyn.function(name)(y, None, 3, 2.0, sigma_b2, "erf"), (x,),
                                    eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("name", ["nngp_kernel", "ntk_kernel"])
def test_kernel_gradients_finite_at_parallel_and_identical_rows(name, activation):
    """Finite gradients with repeated rows (the diagonal of K(x, x), and a row given twice), nearly parallel and
    nearly opposite rows; and equal to finite differences where the kernel is smooth (distinct rows: K(x, x) is
    smooth in x, its diagonal included)."""
    x = kernel_datasets(2)[0].clone().requires_grad_(True)
    k = learndyn.function(name)(x, None, 6, 3.0, 0.1, activation)
    (grad,) = torch.autograd.grad(k.sum(), x)
    assert torch.isfinite(grad).all()
    y = torch.randn(3, 4, dtype=F64, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda y: learndyn.function(name)(y, None, 3, 2.0, 0.1, activation), (y,),
                                    eps=1e-6, atol=1e-7, rtol=1e-6)


def test_log_sinc_and_log_asinc_against_mpmath():
    from learndyn.numerics.special import log_asinc, log_sinc

    with mpmath.workdps(700):  # ln(sin u/u) at u = 1e-150 is −1.7e-301: 1 − 1e-300 needs 300+ digits
        for u in (1e-150, 1e-8, 1e-3, 0.3, 0.999, 1.0, 1.001, 2.0, 3.1):
            for v in (u, -u):
                ref = mpmath.log(mpmath.sin(mpmath.mpf(v)) / mpmath.mpf(v))
                got = float(log_sinc(torch.tensor(v, dtype=F64)))
                assert abs(got - ref) <= 4e-16 * abs(ref) + 2.3e-308, v
        for z in (1e-150, 1e-8, 1e-3, 0.3, 0.4999, 0.5, 0.7, 0.999, 1.0):
            ref = mpmath.log(mpmath.asin(mpmath.mpf(z)) / mpmath.mpf(z))
            got = float(log_asinc(torch.tensor(z, dtype=F64)))
            assert abs(got - ref) <= 4e-15 * abs(ref) + 2.3e-308, z
    # one call on mixed magnitudes (the series' length follows the largest argument; both branches at once)
    us = [1e-8, 1e-3, 0.3, 0.999, 1.5, 3.1]
    got = log_sinc(torch.tensor(us, dtype=F64))
    zs = [1e-8, 1e-3, 0.3, 0.4999, 0.7, 0.999]
    got_a = log_asinc(torch.tensor(zs, dtype=F64))
    with mpmath.workdps(60):
        for v, g in zip(us, got.tolist()):
            ref = mpmath.log(mpmath.sin(mpmath.mpf(v)) / mpmath.mpf(v))
            assert abs(g - ref) <= 4e-16 * abs(ref), v
        for v, g in zip(zs, got_a.tolist()):
            ref = mpmath.log(mpmath.asin(mpmath.mpf(v)) / mpmath.mpf(v))
            assert abs(g - ref) <= 4e-15 * abs(ref), v
    u = torch.tensor([0.0, 0.5, 1.0, 2.5], dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad((log_sinc(u) + log_asinc(u.clamp(max=0.9))).sum(), u)
    assert torch.isfinite(g).all() and float(g[0]) == 0.0


def test_kernel_cross_block_and_symmetry():
    x = kernel_datasets(1)[1]
    full = learndyn.function("ntk_kernel")(x, None, 4, 2.0, 0.1, "erf")
    cross = learndyn.function("ntk_kernel")(x[:2], x[1:], 4, 2.0, 0.1, "erf")
    torch.testing.assert_close(full, full.T, rtol=1e-13, atol=0)
    torch.testing.assert_close(cross, full[:2, 1:], rtol=1e-14, atol=0)


@pytest.mark.parametrize("activation,w,L", [("relu", 25.0, 400), ("relu", 0.1, 400), ("erf", 25.0, 700)])
def test_depth_that_leaves_float64_raises(activation, w, L):
    x = kernel_datasets(0)[1]
    b = 0.0 if activation == "relu" else 0.05
    with pytest.raises(DomainError, match="hidden_layers"):
        learndyn.function("ntk_kernel")(x, None, L, w, b, activation)


def test_kernel_bad_input_errors():
    x = torch.randn(3, 4, dtype=F64)
    with pytest.raises(DomainError, match="sigma_w2"):
        learndyn.function("nngp_kernel")(x, None, 2, -1.0, 0.1, "relu")
    with pytest.raises(DomainError, match="activation"):
        learndyn.function("nngp_kernel")(x, None, 2, 1.0, 0.1, "tanh")
    with pytest.raises(DomainError, match="x2"):
        learndyn.function("nngp_kernel")(x, torch.randn(3, 5, dtype=F64), 2, 1.0, 0.1, "relu")
    x[0, 0] = float("nan")
    with pytest.raises(DomainError, match="x1"):
        learndyn.function("nngp_kernel")(x, None, 2, 1.0, 0.1, "relu")


@pytest.mark.parametrize("name", list(MAPS) + ["nngp_kernel", "ntk_kernel"])
def test_one_percent_error_fails_tier_a(name):
    fn = learndyn.function(name)
    wrong = lambda *a, **k: fn(*a, **k) * 1.01  # noqa: E731
    checks = run_verification([name], config=VerifyConfig(examples=10), tiers=("a",), functions={name: wrong})
    assert not checks[0].passed
