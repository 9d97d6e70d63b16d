"""Tier (b) and the claims of family 2 (``learndyn.verify.families.regularisation``).

Every declared check passes the generated functions at its pinned cases, never calls the theory it tests, and
FAILS for a theory 2 % off (every output × 1.02 or × 0.98, the clock 2 % fast; the bound: replaced by the
expectation it bounds) and for a simulator whose learning rate, noise level, decay or keep probability is 2 % off.
The slow test measures the power at the default size (``--examples 100``).
"""
from __future__ import annotations

import inspect
import math

import pytest
import torch

import learndyn
from learndyn.derive.registry import declaration
from learndyn.verify.families import regularisation as family
from learndyn.verify.families import simulations
from learndyn.verify.registry import CLAIM_CHECKS
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.tier_b.engine import MeasurementCache, judge, measure
from learndyn.verify.tier_b.estimators import control_variate_mean
from learndyn.verify.tier_b.power import TARGET, variants, wrong_theory

NAMES = learndyn.results("regularisation")
CHECKS = [(name, i) for name in NAMES for i in range(len(simulations()[name]))]
CPU = VerifyConfig(examples=25, seed=0, device="cpu")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _id(v) -> str:
    return f"{v[0]}-{v[1]}" if isinstance(v, tuple) else str(v)


def _pinned(name: str, index: int, cache: MeasurementCache | None = None):
    check = simulations()[name][index]
    return check, measure(check, declaration(name), examples=0, seed=0, device="cpu", cache=cache or MeasurementCache())


@pytest.fixture(scope="module")
def pinned_runs():
    """Every check's pinned cases, simulated once while the family's own functions raise if called: the
    simulations must measure without the theory they are compared with."""
    real = learndyn.function

    def no_theory(name, check=True):
        if name in NAMES:
            raise AssertionError(f"a simulation called the theory {name}")
        return real(name, check=check)

    cache = MeasurementCache()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(learndyn, "function", no_theory)
        runs = {key: _pinned(*key, cache=cache) for key in CHECKS}
    return runs


def test_every_result_is_declared_and_every_claim_has_a_check() -> None:
    for name in NAMES:
        assert simulations().get(name), name
    for claim in learndyn.claims():
        if set(claim.about) & set(NAMES):
            assert claim.name in CLAIM_CHECKS, claim.name


@pytest.mark.parametrize("key", CHECKS, ids=_id)
def test_declared_check_passes_at_its_pinned_cases(key, pinned_runs) -> None:
    check, runs = pinned_runs[key]
    assert all(r.error is None for r in runs), [r.error for r in runs]
    j = judge(check, runs, learndyn.function(key[0]))
    assert j.passed, j.failure
    assert j.configurations > 0 and j.ratio <= 1


@pytest.mark.parametrize("key", [k for k in CHECKS if k[0] != "dropout_time_bound"], ids=_id)
def test_declared_check_fails_a_theory_two_percent_off(key, pinned_runs) -> None:
    """Each check alone (not only the result's checks together) catches every 2 % variant at its pinned cases."""
    name = key[0]
    check, runs = pinned_runs[key]
    theory = learndyn.function(name)
    for variant in variants(declaration(name).names, None):
        j = judge(check, runs, wrong_theory(theory, variant, TARGET))
        assert not j.passed, f"{check.title}: {variant.label} at 2 % passes (worst ratio {j.ratio:.3g})"


def test_dropout_bound_fails_when_replaced_by_the_expectation(pinned_runs) -> None:
    check, runs = pinned_runs["dropout_time_bound", 0]
    j = judge(check, runs, learndyn.function("dropout_expected_time"))
    assert not j.passed and "bound" in j.failure
    # and a bound 2 % below the right one stays above the mean by its 16 % margin: the check is not a scale check
    assert judge(check, runs, wrong_theory(learndyn.function("dropout_time_bound"), variants(("s",), None)[1], TARGET)).passed


# -- simulators 2 % off -----------------------------------------------------------------------------------------

def _perturb(monkeypatch, simulator: str, parameter: str, factor: float, only_if=None) -> None:
    """Replace ``learndyn.verify.simulate.<simulator>`` by one whose ``parameter`` is multiplied by ``factor``
    (where ``only_if(value)`` holds, if given)."""
    import learndyn.verify.simulate as sim

    real = getattr(sim, simulator)
    signature = inspect.signature(real)

    def perturbed(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        value = bound.arguments[parameter]
        if only_if is None or only_if(value):
            bound.arguments[parameter] = value * factor
        return real(*bound.args, **bound.kwargs)

    monkeypatch.setattr(sim, simulator, perturbed)


def _not_always_on(p) -> bool:
    return not bool((torch.as_tensor(p) == 1).all())


PERTURBED_SIMULATORS = [
    (("weight_decay_trajectory", 0), "simulate_deep_linear", "lr", 1.02, None),
    (("weight_decay_trajectory", 0), "simulate_deep_linear", "gamma", 1.02, None),
    (("dae_trajectory", 0), "simulate_autoencoder", "lr", 1.02, None),
    (("dae_trajectory", 0), "simulate_autoencoder", "eps", 1.02, None),
    (("dae_trajectory", 1), "simulate_autoencoder", "lr", 0.98, None),
    (("dae_trajectory", 1), "simulate_autoencoder", "eps", 1.02, None),
    (("noise_equivalent_decay", 0), "simulate_autoencoder", "eps", 1.02, None),
    (("noise_equivalent_decay", 0), "simulate_autoencoder", "gamma", 0.98, None),
    (("dropout_expected_time", 0), "simulate_dropout", "lr", 1.02, None),
    (("dropout_expected_time", 0), "dropout_hitting_times", "p", 0.98, _not_always_on),
    (("dropout_trajectory", 0), "simulate_dropout", "lr", 1.02, None),
    (("dropout_trajectory", 0), "simulate_dropout", "p", 0.98, None),
    (("inverted_dropout_trajectory", 0), "simulate_dropout", "lr", 0.98, None),
    (("inverted_dropout_trajectory", 0), "simulate_dropout", "p", 0.98, None),
]


@pytest.mark.parametrize("key,simulator,parameter,factor,only_if", PERTURBED_SIMULATORS,
                         ids=[f"{k[0]}-{k[1]}-{s}-{p}" for k, s, p, _, _ in PERTURBED_SIMULATORS])
def test_a_simulator_two_percent_off_fails_its_check(monkeypatch, key, simulator, parameter, factor, only_if) -> None:
    _perturb(monkeypatch, simulator, parameter, factor, only_if)
    check, runs = _pinned(*key)
    j = judge(check, runs, learndyn.function(key[0]))
    assert not j.passed, f"{check.title} passes with {simulator}'s {parameter} x {factor} (worst ratio {j.ratio:.3g})"


# -- what the simulations compute -------------------------------------------------------------------------------

def test_equivalent_decay_is_measured_exactly() -> None:
    """The interpolated decay is ``lam eps/(lam + eps)`` (THEORY.md, written out here) to round-off."""
    lam = torch.tensor([0.5, 1.0, 2.0, 0.7], dtype=torch.float64)
    eps = torch.tensor([0.05, 1.0, 0.3, 0.7], dtype=torch.float64)
    case = {"points": [{"lam": float(a), "eps": float(b)} for a, b in zip(lam, eps)], "seed": 4}
    m = family.simulate_equivalent_decay(case, {}, "cpu")
    exact = lam * eps / (lam + eps)
    assert torch.allclose(m.observed["value"], exact, rtol=1e-12, atol=0)
    assert m.allowance == family.FIXED_POINT_TOL


def test_equivalent_decay_refuses_a_fixed_point_that_is_not_affine_in_the_decay(monkeypatch) -> None:
    import learndyn.verify.simulate as sim

    real = sim.simulate_autoencoder

    def curved(data, lr, steps, **kw):
        run = real(data, lr, steps, **kw)
        gamma = torch.as_tensor(kw["gamma"]).view(1, -1, 1, 1)
        return run._replace(mode_strengths=run.mode_strengths + 1e-6 * gamma**2)

    monkeypatch.setattr(sim, "simulate_autoencoder", curved)
    case = {"points": [{"lam": 1.0, "eps": 0.5}], "seed": 0}
    with pytest.raises(RuntimeError, match="not affine"):
        family.simulate_equivalent_decay(case, {}, "cpu")


def test_dropout_run_records_each_runs_active_steps() -> None:
    """``active`` counts the steps with ``d ≠ 0``: ``u`` is the always-on path after that many steps (bit for bit:
    a step with ``d = 0`` changes nothing), and the count is Binomial(t, p)."""
    from learndyn.verify.simulate import simulate_dropout

    s, p, lr, u0, steps, runs = 1.0, 0.4, 0.05, 0.1, 60, 4000
    run = simulate_dropout(s, p, lr, steps, u0=u0, runs=runs, record_runs=True, record_every=20, seed=2, device="cpu")
    always = simulate_dropout(s, 1.0, lr, steps, u0=u0, runs=1, record_runs=True, device="cpu")
    assert run.active.shape == run.u.shape == (4, 1, runs) and run.active.dtype == torch.int64
    assert torch.equal(always.active[:, 0, 0], torch.arange(steps + 1))
    path = always.u[:, 0, 0]
    assert torch.equal(run.u, path[run.active])
    t = run.t.to(torch.float64).view(-1, 1)
    mean = run.active.to(torch.float64).mean(-1)
    assert bool(((mean - t * p).abs() <= 5 * torch.sqrt(t * p * (1 - p) / runs) + 1e-12).all())
    assert simulate_dropout(s, p, lr, 5, u0=u0, runs=3, device="cpu").active is None


def test_control_variate_mean_is_unbiased_with_the_right_standard_error() -> None:
    """``y = g(A)`` with ``A ~ Binomial(n, p)``: the estimate with the centred first two moments of ``A`` as controls
    lies within 5 of its standard errors of the exact ``E[g(A)]`` in every one of 200 repetitions' mean, its
    standard error matches the spread of the estimates, and is far below the sample mean's."""
    n, p, runs, reps = 400, 0.3, 256, 200
    g = lambda a: torch.tanh((a - 100.0) / 40.0)  # noqa: E731
    k = torch.arange(n + 1, dtype=torch.float64)
    pmf = torch.exp(torch.lgamma(k.new_tensor(n + 1.0)) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p))
    exact = float((pmf * g(k)).sum())
    with torch.random.fork_rng():
        torch.manual_seed(0)
        A = torch.distributions.Binomial(n, torch.full((reps, runs), p, dtype=torch.float64)).sample()
    centred = A - n * p
    mean, se = control_variate_mean(g(A), [centred, centred**2 - n * p * (1 - p)])
    assert mean.shape == se.shape == (reps,)
    z = (mean - exact) / se
    assert abs(float(z.mean())) * math.sqrt(reps) < 5 and float(z.abs().max()) < 5
    assert 0.8 < float(mean.std() / se.mean()) < 1.25
    assert float(se.mean()) < 0.05 * float(g(A).std(-1).mean() / math.sqrt(runs))
    # a control without variance is ignored: the plain sample mean and its standard error
    m0, se0 = control_variate_mean(g(A), [torch.zeros_like(A)])
    assert torch.allclose(m0, g(A).mean(-1)) and torch.allclose(se0, g(A).std(-1) / math.sqrt(runs), rtol=1e-3)


# -- claims -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("claim", ["noise_lowers_plateau_not_growth", "equivalent_decay_is_slower",
                                   "weight_decay_removes_imbalance"])
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


# -- power at the default size (slow) ---------------------------------------------------------------------------

@pytest.mark.slow
def test_every_result_catches_a_two_percent_error_at_the_default_size() -> None:
    from learndyn.verify.tier_b.suite import run_power

    config = VerifyConfig(examples=100, seed=0, device="cpu")
    rows = run_power(NAMES, config=config, theories={n: learndyn.function(n) for n in NAMES},
                     results={n: declaration(n) for n in NAMES})
    for row in rows:
        assert row.passes_unperturbed, row.result
        assert row.meets_target, (row.result, row.per_variant, row.bound_detected)
