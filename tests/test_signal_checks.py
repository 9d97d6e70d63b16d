"""Family 3, tier (b): each simulation check passes for the generated function and fails for a wrong theory
(an error of the size its tolerance can see, or a known trap such as the noise factor on the cross term), and
the claims hold."""
from __future__ import annotations

import pytest
import torch

import learndyn
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.signal_checks import SIGNAL_CHECKS
from learndyn.verify.signal_claims import SIGNAL_CLAIMS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = VerifyConfig(examples=25, seed=0, device="cpu")  # one batch of hyperparameters per check


def scaled(name: str, factor: float):
    fn = learndyn.function(name)

    def wrong(**kw):
        v = fn(**kw)
        return type(v)(*(factor * x for x in v)) if hasattr(v, "_asdict") else factor * v
    return wrong


def cross_term_with_noise(**kw):
    """The trap THEORY.md warns of: μ2 on the cross term too, i.e. c' = κ(c) (no 1/μ2)."""
    return learndyn.function("correlation_map")(c=kw["c"], mu2=torch.ones_like(torch.as_tensor(kw["mu2"])))


WRONG = {
    "variance_map": scaled("variance_map", 1.05),
    "additive_noise_variance_map": lambda **kw: learndyn.function("variance_map")(
        q=kw["q"], sigma_w=kw["sigma_w"], sigma_b=kw["sigma_b"], mu2=1.0),  # the noise forgotten
    "critical_sigma_w": scaled("critical_sigma_w", 1.05),
    "variance_after_depth": scaled("variance_after_depth", 1.5),
    "correlation_map": cross_term_with_noise,
    "correlation_fixed_point": scaled("correlation_fixed_point", 1.1),
    "shifted_relu_active_fraction": scaled("shifted_relu_active_fraction", 1.01),
    "shifted_relu_second_moment": scaled("shifted_relu_second_moment", 1.02),
    "shifted_relu_critical_point": scaled("shifted_relu_critical_point", 1.1),
    "jacobian_spectrum_variance": scaled("jacobian_spectrum_variance", 1.5),
}


@pytest.mark.parametrize("name", list(SIGNAL_CHECKS))
def test_simulation_check_passes(name: str) -> None:
    for check in SIGNAL_CHECKS[name]:
        c = check(CPU, learndyn.function(name))
        assert c.passed, c.failure
        assert c.examples >= 1 and c.worst <= c.tolerance


@pytest.mark.parametrize("name", list(WRONG))
def test_simulation_check_fails_for_a_wrong_theory(name: str) -> None:
    for check in SIGNAL_CHECKS[name]:
        c = check(CPU, WRONG[name])
        assert not c.passed
        assert "standard errors" in c.failure


@pytest.mark.parametrize("name", list(SIGNAL_CLAIMS))
def test_claims_hold(name: str) -> None:
    c = SIGNAL_CLAIMS[name](CPU)
    assert c.passed, c.failure
