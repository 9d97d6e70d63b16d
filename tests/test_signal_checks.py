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
    "correlation_slope": scaled("correlation_slope", 1.25),
    "correlation_depth_scale": scaled("correlation_depth_scale", 1.5),
    "trainable_depth": scaled("trainable_depth", 1.5),
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


def test_figure_data_for_seed_001() -> None:
    fp = learndyn.figure_data("fixed_point_vs_noise", points=5)
    dropout = fp["series"][0]
    assert dropout["fixed_point"][0] == 1.0 and dropout["depth_scale"][0] == float("inf")
    assert all(a > b for a, b in zip(dropout["fixed_point"], dropout["fixed_point"][1:]))
    var = learndyn.figure_data("variance_dynamics", depth=3, width=300, networks=4)
    assert {(s["noise"], s["sigma_w_over_critical"]) for s in var["series"]} == {
        (k, f) for k in ("dropout", "gaussian") for f in (0.9, 1.0, 1.1)}
    critical = [s for s in var["series"] if s["sigma_w_over_critical"] == 1.0]
    assert all(s["theory"] == pytest.approx([s["theory"][0]] * 3, rel=1e-12) for s in critical)
    corr = learndyn.figure_data("correlation_dynamics", depth=3, width=300, networks=4, cosines=(0.5,))
    assert [s["noise"] for s in corr["series"]] == ["none", "dropout", "gaussian"]
    with pytest.raises(KeyError, match="unknown figure"):
        learndyn.figure_data("phase_diagram")


def test_cli_data_lists_and_writes(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("learndyn"))
    listing = subprocess.run([exe, "data"], capture_output=True, text=True, check=True).stdout
    assert "variance_dynamics" in listing and "fixed_point_vs_noise" in listing
    out = tmp_path / "fp.json"
    subprocess.run([exe, "data", "fixed_point_vs_noise", "-o", str(out)], capture_output=True, text=True, check=True)
    assert json.loads(out.read_text())["figure"] == "fixed_point_vs_noise"
    again = subprocess.run([exe, "data", "fixed_point_vs_noise", "-o", str(out)], capture_output=True, text=True)
    assert again.returncode != 0 and "--force" in again.stderr
    bad = subprocess.run([exe, "data", "nope"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown figure" in bad.stderr
