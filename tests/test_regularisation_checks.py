"""The simulation tier and the claims of family 2: each check passes for the generated functions and fails
for a function that is wrong by 1 % (the bound: for a "bound" that lies at the expectation)."""
from __future__ import annotations

import pytest
import torch

import learndyn
from learndyn.verify.registry import CLAIM_CHECKS, SIMULATION_CHECKS
from learndyn.verify.runner import VerifyConfig, run_verification

CPU = VerifyConfig(examples=25, seed=0, device="cpu")
CHECKED = ["weight_decay_trajectory", "dae_trajectory", "noise_equivalent_decay", "dropout_expected_time",
           "dropout_trajectory", "inverted_dropout_trajectory"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_result_and_claim_of_the_family_has_a_check() -> None:
    for name in learndyn.results("regularisation"):
        assert SIMULATION_CHECKS.get(name), name
    for claim in learndyn.claims():
        assert claim.name in CLAIM_CHECKS, claim.name


@pytest.mark.parametrize("name", CHECKED + ["dropout_time_bound"])
def test_simulation_agrees_with_the_theory(name: str) -> None:
    checks = run_verification([name], config=CPU, tiers=("b",))
    assert checks
    for c in checks:
        assert c.passed, c.failure
        assert c.examples > 0 and c.worst <= c.tolerance


@pytest.mark.parametrize("name", CHECKED)
def test_simulation_fails_when_the_theory_is_off_by_one_percent(name: str) -> None:
    f = learndyn.function(name)
    checks = run_verification([name], config=CPU, tiers=("b",), functions={name: lambda **kw: 1.01 * f(**kw)})
    assert checks and not any(c.passed for c in checks), [c.failure for c in checks]


def test_dropout_bound_check_fails_for_a_bound_at_the_expectation() -> None:
    expected = learndyn.function("dropout_expected_time")
    (c,) = run_verification(["dropout_time_bound"], config=CPU, tiers=("b",), functions={"dropout_time_bound": expected})
    assert not c.passed


def test_dropout_exact_law_and_active_time_are_reported() -> None:
    (c,) = run_verification(["dropout_expected_time"], config=CPU, tiers=("b",))
    assert c.details["max_z_exact_law"] < 5
    assert c.details["worst_active_time_richardson"] < 1e-3


@pytest.mark.parametrize("claim", ["noise_lowers_plateau_not_growth", "equivalent_decay_is_slower", "weight_decay_removes_imbalance"])
def test_claims_hold_in_simulation(claim: str) -> None:
    c = CLAIM_CHECKS[claim](CPU)
    assert c.passed, c.failure
    assert c.examples > 0


def test_equivalent_decay_claim_fails_with_a_wrong_equivalent_decay(monkeypatch) -> None:
    """With a decay 1 % too large the plateaus differ, and the half-time ratio is off."""
    right = learndyn.function("noise_equivalent_decay", check=False)
    real_function = learndyn.function

    def patched(name, check=True):
        if name == "noise_equivalent_decay":
            return lambda **kw: 1.01 * right(**kw)
        return real_function(name, check=check)

    monkeypatch.setattr(learndyn, "function", patched)
    assert not CLAIM_CHECKS["equivalent_decay_is_slower"](CPU).passed
