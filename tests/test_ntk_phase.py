"""Family 4's phase results (fixed points, χ1, depth scales, large-depth limits) and the MSE flow on the NTK:
tier a against mpmath, a 1 % error caught, broadcasting, gradients, clear errors, and the published values."""
from __future__ import annotations

import math

import pytest
import torch

import learndyn
from learndyn.domain import DomainError
from learndyn.verify.runner import VerifyConfig, run_verification

F = learndyn.function
PHASE = ("kernel_fixed_point", "chi1", "kernel_depth_scales", "ntk_depth_limit")
FLOW = ("mse_train_prediction", "mse_test_prediction", "ntk_condition_number", "mean_prediction")


@pytest.mark.parametrize("name", PHASE + FLOW)
def test_tier_a_passes(name):
    (check,) = run_verification([name], config=VerifyConfig(examples=24, seed=1), tiers=("a",))
    assert check.passed, check.failure
    assert check.examples >= 12


def _scaled(name, factor=1.01):
    fn = F(name)

    def wrong(**kw):
        out = fn(**kw)
        if isinstance(out, tuple):
            return type(out)(*(o * factor for o in out))
        return out * factor
    return wrong


@pytest.mark.parametrize("name", PHASE + FLOW)
def test_one_percent_error_fails_tier_a(name):
    (check,) = run_verification([name], config=VerifyConfig(examples=8, seed=2), tiers=("a",),
                                functions={name: _scaled(name)})
    assert not check.passed


def test_relu_closed_forms():
    w, b = 1.5, 0.1
    fp = F("kernel_fixed_point")(sigma_w2=w, sigma_b2=b, activation="relu")
    assert fp.q_star.item() == pytest.approx(b / (1 - w / 2), rel=1e-15) and fp.c_star.item() == 1.0
    assert F("chi1")(sigma_w2=w, sigma_b2=b, activation="relu").item() == w / 2
    lim = F("ntk_depth_limit")(sigma_w2=w, sigma_b2=b, activation="relu")
    assert lim.diagonal.item() == pytest.approx(b / (1 - w / 2) / (1 - w / 2), rel=1e-14)


def test_seed_phases():
    """THEORY.md's two erf examples: chaotic χ1 > 1 with c* < 1 and an infinite diagonal limit; ordered χ1 < 1, c* = 1.
    (THEORY.md says χ1 ≈ 3.2 at σ_w² = 25; the derivation gives 3.3999.)"""
    chaotic = dict(sigma_w2=25.0, sigma_b2=0.05, activation="erf")
    ordered = dict(sigma_w2=0.5, sigma_b2=0.05, activation="erf")
    assert F("chi1")(**chaotic).item() == pytest.approx(3.3999, abs=1e-4)
    assert F("chi1")(**ordered).item() == pytest.approx(0.5335, abs=1e-4)
    assert 0 < F("kernel_fixed_point")(**chaotic).c_star.item() < 1
    assert F("kernel_fixed_point")(**ordered).c_star.item() == 1.0
    assert math.isinf(F("ntk_depth_limit")(**chaotic).diagonal.item())
    xi = F("kernel_depth_scales")(**ordered)
    assert xi.xi_1.item() == pytest.approx(xi.xi_c.item(), rel=1e-14)


def test_phase_diagram_is_one_call_and_differentiable():
    w = torch.logspace(-1, math.log10(30), 40, dtype=torch.float64).requires_grad_(True)
    b = torch.logspace(-4, 0, 30, dtype=torch.float64)[:, None].requires_grad_(True)
    chi = F("chi1")(sigma_w2=w, sigma_b2=b, activation="erf")
    fp = F("kernel_fixed_point")(sigma_w2=w, sigma_b2=b, activation="erf")
    xi = F("kernel_depth_scales")(sigma_w2=w, sigma_b2=b, activation="erf")
    assert chi.shape == fp.c_star.shape == xi.xi_c.shape == (30, 40)
    assert bool(((chi > 1) == (fp.c_star < 1)).all())          # c* < 1 exactly in the chaotic phase
    (fp.q_star.sum() + fp.c_star.sum() + chi.sum()).backward()
    assert torch.isfinite(w.grad).all() and torch.isfinite(b.grad).all()
    relu = F("chi1")(sigma_w2=torch.tensor([0.5, 1.0]), sigma_b2=torch.tensor([[0.1], [0.2]]), activation="relu")
    assert relu.shape == (2, 2)                                 # broadcast although χ1 = σ_w²/2 ignores σ_b²


def test_bad_phase_input_names_the_parameter():
    with pytest.raises(DomainError, match="sigma_w2.*2.5.*ReLU"):
        F("kernel_fixed_point")(sigma_w2=2.5, sigma_b2=0.1, activation="relu")
    with pytest.raises(DomainError, match="sigma_b2"):
        F("chi1")(sigma_w2=1.0, sigma_b2=0.0, activation="erf")
    with pytest.raises(DomainError, match="activation"):
        F("chi1")(sigma_w2=1.0, sigma_b2=0.1, activation="tanh")


def _kernel(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    return a @ a.T / n + 0.1 * torch.eye(n, dtype=torch.float64), torch.randn(n, 2, generator=g, dtype=torch.float64)


def test_flow_limits_and_shapes():
    theta, y = _kernel()
    f0 = torch.zeros_like(y)
    star = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    train = F("mse_train_prediction")
    assert torch.allclose(train(t=0.0, lr=0.5, ntk_train_train=theta, y_train=y, f0_train=f0), f0, rtol=0, atol=1e-14)
    late = train(t=1e9, lr=0.5, ntk_train_train=theta, y_train=y, f0_train=f0)
    assert torch.allclose(late, y, rtol=0, atol=1e-12)
    ts = torch.tensor([0.0, 10.0, 1e9], dtype=torch.float64)
    test = F("mse_test_prediction")(t=ts, lr=0.5, ntk_test_train=star, ntk_train_train=theta, y_train=y, f0_train=f0,
                                    f0_test=torch.zeros(3, 2, dtype=torch.float64))
    assert test.shape == (3, 3, 2)
    mean = F("mean_prediction")(ntk_test_train=star, ntk_train_train=theta, y_train=y)
    assert torch.allclose(test[-1], mean, rtol=1e-12, atol=1e-12)


def test_flow_gradients_finite_at_equal_eigenvalues():
    """The deep chaotic NTK is nearly a·11ᵀ + b·I: eigenvalues nearly equal; gradients stay finite."""
    n = 6
    theta = (3.0 * torch.ones(n, n, dtype=torch.float64) + 1e-13 * torch.eye(n, dtype=torch.float64)).requires_grad_(True)
    y = torch.randn(n, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    t = torch.tensor(50.0, dtype=torch.float64, requires_grad=True)
    out = F("mse_train_prediction")(t=t, lr=0.1, ntk_train_train=theta, y_train=y, f0_train=torch.zeros_like(y))
    out.sum().backward()
    assert torch.isfinite(theta.grad).all() and torch.isfinite(t.grad).all()


def test_flow_bad_input_names_the_parameter():
    theta, y = _kernel()
    f0 = torch.zeros_like(y)
    with pytest.raises(DomainError, match="ntk_train_train.*symmetric"):
        F("mse_train_prediction")(t=1.0, lr=0.1, ntk_train_train=theta + torch.triu(theta, 1), y_train=y, f0_train=f0)
    with pytest.raises(DomainError, match="ntk_train_train.*positive semi-definite"):
        F("mse_train_prediction")(t=1.0, lr=0.1, ntk_train_train=-theta, y_train=y, f0_train=f0)
    with pytest.raises(DomainError, match="f0_train"):
        F("mse_train_prediction")(t=1.0, lr=0.1, ntk_train_train=theta, y_train=y, f0_train=f0[:3])
    with pytest.raises(DomainError, match="'t'"):
        F("mse_train_prediction")(t=-1.0, lr=0.1, ntk_train_train=theta, y_train=y, f0_train=f0)
    with pytest.raises(DomainError, match="lr"):
        F("mse_train_prediction")(t=1.0, lr=0.0, ntk_train_train=theta, y_train=y, f0_train=f0)
