"""Tier b of the MSE gradient-flow predictions: GD-trained wide networks against mse_train/test_prediction."""
from __future__ import annotations

import math

import pytest
import torch

import learndyn
from learndyn.verify import ntk_checks
from learndyn.verify.runner import VerifyConfig

SMALL = (("erf", 1, 2.5, 0.1, 512),)


@pytest.fixture()
def small_configs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ntk_checks, "TRAIN_CONFIGS", SMALL)
    monkeypatch.setattr(ntk_checks, "TRAIN_NETWORKS", 2)


def test_discretisation_bound_holds_mode_by_mode() -> None:
    """GD on the linearised model, (1 − hΘ)^s, against the flow e^{−hΘs}, at every s up to 4000: the train
    and test gaps stay within the bounds per unit of ‖f0 − Y‖, and the train bound is nearly attained."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    tt = a @ a.T + 0.05 * torch.eye(6, dtype=torch.float64)
    st = torch.randn(3, 6, generator=g, dtype=torch.float64)
    lam, v = torch.linalg.eigh(tt)
    h = torch.tensor(0.05 / float(lam[-1]), dtype=torch.float64)
    train_bound, test_bound = ntk_checks._discretisation_bound(h, tt, st)
    worst_train = worst_test = 0.0
    for s in range(0, 4001, 7):
        gap = v @ torch.diag((1 - h * lam) ** s - torch.exp(-h * lam * s)) @ v.T
        worst_train = max(worst_train, float(torch.linalg.matrix_norm(gap, ord=2)))
        test_gap = st @ v @ torch.diag(((1 - h * lam) ** s - torch.exp(-h * lam * s)) / lam) @ v.T
        worst_test = max(worst_test, float(torch.linalg.matrix_norm(test_gap, ord=2)))
    assert worst_train <= train_bound and worst_test <= test_bound
    assert worst_train > 0.5 * train_bound  # the bound is x/(2e) to first order: nearly attained


def test_trained_networks_follow_the_flow(small_configs) -> None:
    config = VerifyConfig(examples=10, seed=0, device="cpu")
    for name in ("mse_train_prediction", "mse_test_prediction"):
        check = ntk_checks.NTK_CHECKS[name][0](config, learndyn.function(name))
        assert check.passed, check.failure
        assert 0 < check.worst < 1 and check.examples > 0
        assert check.details["worst_at"].startswith("erf, hidden_layers=1")


def test_a_wrong_rate_fails(small_configs) -> None:
    """Theory at half the learning rate (a wrong n k normalisation would do the same) is caught."""
    config = VerifyConfig(examples=10, seed=0, device="cpu")
    train = learndyn.function("mse_train_prediction")
    test = learndyn.function("mse_test_prediction")
    bad = ntk_checks.mse_prediction_check(config, lambda t, lr, *a: train(t, lr / 2, *a))
    assert not bad.passed and bad.worst > 1 and "beyond the tolerance" in bad.failure
    bad = ntk_checks.mse_test_prediction_check(config, lambda t, lr, *a: test(t, lr / 2, *a))
    assert not bad.passed and bad.worst > 1


def test_mse_checks_are_registered() -> None:
    from learndyn.verify.registry import SIMULATION_CHECKS

    assert SIMULATION_CHECKS["mse_train_prediction"] and SIMULATION_CHECKS["mse_test_prediction"]
    assert math.isclose(ntk_checks.ETA / (2 * math.e * (1 - ntk_checks.ETA)), 0.0096810, rel_tol=1e-4)
