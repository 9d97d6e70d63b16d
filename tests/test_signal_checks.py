"""Tier (b) and the claims of family 3 (``learndyn.verify.families.signal_propagation``).

Every declared check passes the generated functions at its pinned cases, never calls the theory it tests, and
FAILS for a theory 2 % off (every output × 1.02 or × 0.98, each output of ``shifted_relu_critical_point`` alone),
for the known trap of the correlation map (``μ2`` on the cross term) and for a simulator whose noise level is 2 %
off (the Gaussian noise's standard deviation, dropout's ``μ2 = 1/keep``, the additive noise's variance). The slow
tests measure the power at the default size (``--examples 100``). The simulators themselves are tested in
``test_signal_simulators.py`` and ``test_signal_layer.py``.
"""
from __future__ import annotations

import pytest
import torch

import learndyn
from learndyn.derive.registry import declaration
from learndyn.verify.families import signal_propagation as family
from learndyn.verify.families import simulations
from learndyn.verify.registry import CLAIM_CHECKS
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.tier_b.engine import MeasurementCache, judge, measure
from learndyn.verify.tier_b.power import TARGET, variants, wrong_theory

NAMES = learndyn.results("signal_propagation")
CPU = VerifyConfig(examples=25, seed=0, device="cpu")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pinned(name: str, cache: MeasurementCache | None = None):
    (check,) = simulations()[name]
    return check, measure(check, declaration(name), examples=0, seed=0, device="cpu", cache=cache or MeasurementCache())


@pytest.fixture(scope="module")
def pinned_runs():
    """Every check's pinned cases at the default sizes, simulated once while the family's own functions raise if
    called (``shifted_relu_critical_point`` excepted for the Jacobian check, which places its networks at that
    other result's critical point): the simulations measure without the theory they are compared with."""
    real = learndyn.function
    running: list[str] = []

    def no_theory(name, check=True):
        if name == running[-1] or (name in NAMES and running[-1] != "jacobian_spectrum_variance"):
            raise AssertionError(f"the simulation of {running[-1]} called the theory {name}")
        return real(name, check=check)

    runs = {}
    cache = MeasurementCache()  # one verification: the four fixed-point checks share their sampled maps
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(learndyn, "function", no_theory)
        for name in NAMES:
            running.append(name)
            runs[name] = _pinned(name, cache)
    return runs


def _outputs(name: str) -> list[str] | None:
    """The output fields of a result with several (each is perturbed alone), else ``None``."""
    if name != "shifted_relu_critical_point":
        return None
    return list(learndyn.function(name)(alpha=0.5, sigma_b=0.2)._asdict())


def test_every_result_is_declared_and_every_claim_has_a_check() -> None:
    for name in NAMES:
        assert simulations().get(name), name
    for claim in learndyn.claims():
        if set(claim.about) & set(NAMES):
            assert claim.name in CLAIM_CHECKS and CLAIM_CHECKS[claim.name] is family.SIGNAL_CLAIMS[claim.name]


@pytest.mark.parametrize("name", NAMES)
def test_declared_check_passes_at_its_pinned_cases(name, pinned_runs) -> None:
    check, runs = pinned_runs[name]
    assert all(r.error is None for r in runs), [r.error for r in runs]
    j = judge(check, runs, learndyn.function(name))
    assert j.passed, j.failure
    assert j.configurations > 0 and j.ratio <= 1


@pytest.mark.parametrize("name", NAMES)
def test_declared_check_fails_a_theory_two_percent_off(name, pinned_runs) -> None:
    """The pinned cases alone catch every 2 % variant (each output alone for the critical point)."""
    check, runs = pinned_runs[name]
    theory = learndyn.function(name)
    for variant in variants(declaration(name).names, _outputs(name)):
        j = judge(check, runs, wrong_theory(theory, variant, TARGET))
        assert not j.passed, f"{check.title}: {variant.label} at 2 % passes (worst ratio {j.ratio:.3g})"


def test_correlation_map_with_noise_on_the_cross_term_fails(pinned_runs) -> None:
    """THEORY.md's trap: the two inputs' independent noise gives the cross term no ``μ2`` (``c' = κ(c)/μ2``);
    ``c' = κ(c)`` fails."""
    check, runs = pinned_runs["correlation_map"]
    right = learndyn.function("correlation_map")
    j = judge(check, runs, lambda c, mu2: right(c=c, mu2=torch.ones_like(torch.as_tensor(mu2))))
    assert not j.passed and "standard errors" in j.failure


# -- simulators 2 % off -----------------------------------------------------------------------------------------

def _perturb_noise(monkeypatch, kind: str, factor: float) -> None:
    """Replace ``noise_factors`` (both modules that draw noise) by one whose noise level is off by ``factor``:
    Gaussian ``noise_std × factor``, dropout ``keep / factor`` (``μ2 × factor``)."""
    import learndyn.verify.simulate.signal as signal
    import learndyn.verify.simulate.signal_layer as layer

    real = signal.noise_factors

    def perturbed(shape, *, noise, keep=None, noise_std=None, generator):
        if noise == "gaussian" and kind == "gaussian":
            noise_std = noise_std * factor
        if noise == "dropout" and kind == "dropout":
            keep = keep / factor
        return real(shape, noise=noise, keep=keep, noise_std=noise_std, generator=generator)

    monkeypatch.setattr(signal, "noise_factors", perturbed)
    monkeypatch.setattr(layer, "noise_factors", perturbed)


NOISE_OFF = [(name, kind) for name in ("variance_map", "correlation_map") for kind in ("gaussian", "dropout")]
NOISE_OFF_SLOW = [(name, kind) for name in ("critical_sigma_w", "variance_after_depth", "correlation_fixed_point",
                                            "correlation_slope", "correlation_depth_scale")
                  for kind in ("gaussian", "dropout")]


@pytest.mark.parametrize("name,kind", NOISE_OFF, ids=[f"{n}-{k}" for n, k in NOISE_OFF])
def test_noise_standard_deviation_two_percent_off_fails(monkeypatch, name, kind) -> None:
    _perturb_noise(monkeypatch, kind, 1.02)
    check, runs = _pinned(name)
    j = judge(check, runs, learndyn.function(name))
    assert not j.passed, f"{check.title} passes with {kind} noise 2 % off (worst ratio {j.ratio:.3g})"


@pytest.mark.slow
@pytest.mark.parametrize("name,kind", NOISE_OFF_SLOW, ids=[f"{n}-{k}" for n, k in NOISE_OFF_SLOW])
def test_noise_two_percent_off_fails_the_other_noisy_checks(monkeypatch, name, kind) -> None:
    test_noise_standard_deviation_two_percent_off_fails(monkeypatch, name, kind)


def test_additive_noise_variance_two_percent_off_fails(monkeypatch) -> None:
    import learndyn.verify.simulate as sim

    real = sim.propagate_units

    def perturbed(*args, additive_eps=0.0, **kw):
        return real(*args, additive_eps=additive_eps * 1.02, **kw)

    monkeypatch.setattr(sim, "propagate_units", perturbed)
    check, runs = _pinned("additive_noise_variance_map")
    assert not judge(check, runs, learndyn.function("additive_noise_variance_map")).passed


# -- what the checks compute ------------------------------------------------------------------------------------

def test_critical_roots_against_the_population_root() -> None:
    """The root of the sampled criticality condition converges to the root of the exact one, written out here
    with mpmath: ``σ_b² a Φ(a)/α² = φ(a) − a Φ(−a)``, ``q* = α²/a²``, ``active fraction Φ(a)`` (5 SE over 64
    replicates of 2¹⁶ units plus the bias bound), including ``σ_b ≫ α`` where ``a`` is small and the condition
    without its control variate is ill-conditioned (biased by 2 SE there, with 25 times the spread)."""
    import math

    import mpmath

    alpha = torch.tensor([0.5, 1.0, 0.2], dtype=torch.float64)
    sigma_b = torch.tensor([0.2, 0.05, 0.5], dtype=torch.float64)
    z, prefix = family._replicate_samples(64, 2**16, 3, "cpu")
    q_star, a = family.critical_roots(alpha, sigma_b, z, prefix)
    for i in range(3):
        al, sb = float(alpha[i]), float(sigma_b[i])
        root = mpmath.findroot(lambda x: sb**2 * x * mpmath.ncdf(x) / al**2 - (mpmath.npdf(x) - x * mpmath.ncdf(-x)),
                               1.0)
        for values, target in ((q_star[:, i], al**2 / float(root) ** 2), (a[:, i], float(mpmath.ncdf(root)))):
            mean, se = float(values.mean()), float(values.std() / math.sqrt(values.numel()))
            assert abs(mean - target) <= 5 * se + family.CRITICAL_ROOT_BIAS / 2**16 * target, (i, mean, se, target)
            assert 5 * se < 0.01 * target  # resolves far less than a 2 % error


def test_after_depth_lags() -> None:
    assert family.after_depth_lags(1) == (1, 2)
    assert family.after_depth_lags(20) == (1, 2, 4, 8, 16, 20)


# -- claims -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("claim", list(family.SIGNAL_CLAIMS))
def test_claims_hold(claim: str) -> None:
    c = CLAIM_CHECKS[claim](CPU)
    assert c.passed, c.failure
    assert c.examples > 0


# -- power at the default size (slow) ---------------------------------------------------------------------------

@pytest.mark.slow
def test_every_result_catches_a_two_percent_error_at_the_default_size() -> None:
    from learndyn.verify.tier_b.suite import run_power

    config = VerifyConfig(examples=100, seed=0, device="cpu")
    rows = run_power(NAMES, config=config, theories={n: learndyn.function(n) for n in NAMES},
                     results={n: declaration(n) for n in NAMES})
    for row in rows:
        assert row.passes_unperturbed, row.result
        assert row.meets_target, (row.result, row.per_variant)


# -- seed 001's figure data -------------------------------------------------------------------------------------

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
    assert "variance_dynamics" in listing and "fixed_point_vs_noise" in listing and "ntk_phase_diagram" in listing
    out = tmp_path / "fig.json"  # `data` serves every figure's data (simulation included): a quick one here
    subprocess.run([exe, "data", "scalar_learning_curve", "--quick", "--device", "cpu", "-o", str(out)],
                   capture_output=True, text=True, check=True)
    data = json.loads(out.read_text())
    assert data["figure"] == "scalar_learning_curve" and data["agreement"]
    again = subprocess.run([exe, "data", "scalar_learning_curve", "-o", str(out)], capture_output=True, text=True)
    assert again.returncode != 0 and "--force" in again.stderr
    bad = subprocess.run([exe, "data", "nope"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown figure" in bad.stderr
