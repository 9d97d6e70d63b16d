"""Tier b and the claims of family 6 (``learndyn.verify.families.generalisation``): every result has a declared check,
the checks pass the generated functions at their pinned cases without ever calling the theory they test, and fail a
theory 2 % off (every output × 1.02 or × 0.98, the clock 2 % fast); the gates catch a GD run whose ``lr`` is 2 % off;
the claims hold, and fail for a wrong theory where that is cheap to show."""
from __future__ import annotations

import pytest
import torch

import learndyn
from learndyn.derive.registry import declaration
from learndyn.verify.families import generalisation as fam
from learndyn.verify.families.generalisation_claims import GENERALISATION_CLAIMS
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.tier_b import MeasurementCache, judge, measure
from learndyn.verify.tier_b.power import TARGET, variants, wrong_theory

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RESULTS = ("mp_density", "mp_stieltjes", "generalisation_error", "training_error", "generalisation_error_limit",
           "training_error_limit", "optimal_stopping_time", "overtraining", "ridge_error", "gd_generalisation_error",
           "gd_training_error")
CONFIG = VerifyConfig(examples=25, seed=0, device="cpu")


def _checks(name: str):
    return [c for c in fam.SIMULATIONS if c.result == name]


@pytest.fixture(scope="module")
def pinned_runs():
    """Every check's pinned cases, simulated once (one shared run per case) while the family's own functions raise if
    called: the simulations measure without the theory they are compared with."""
    real = learndyn.function

    def no_theory(name, check=True):
        if name in RESULTS:
            raise AssertionError(f"a simulation called the theory {name}")
        return real(name, check=check)

    cache = MeasurementCache()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(learndyn, "function", no_theory)
        runs = {name: [(c, measure(c, declaration(name), examples=0, seed=0, device="cpu", cache=cache))
                       for c in _checks(name)] for name in RESULTS}
    return runs


def _outputs(name: str, runs) -> list[str] | None:
    m = next(m for _, rs in runs for r in rs for m in r.measurements)
    from learndyn.verify.tier_b.measurement import call_theory

    value = call_theory(learndyn.function(name, check=False), m.args)
    return list(value._asdict()) if hasattr(value, "_asdict") else None


def test_every_result_has_a_check_and_the_family_is_registered() -> None:
    from learndyn.verify.families import FAMILY_MODULES, claim_checks, simulations

    assert "generalisation" in FAMILY_MODULES
    declared = simulations()
    assert all(declared.get(name) for name in RESULTS)
    assert set(GENERALISATION_CLAIMS) <= set(claim_checks())
    from learndyn.derive.families.generalisation import CLAIMS

    assert {c.name for c in CLAIMS} == set(GENERALISATION_CLAIMS)


def test_pinned_cases_cover_alpha_below_above_and_near_one() -> None:
    alphas = sorted({p["alpha"] for case in fam.CASE_POINTS for p in case["points"]})
    assert min(alphas) < 0.5 and max(alphas) > 2 and 1.0 in alphas and 0.95 in alphas
    assert {0.8, 1.25} <= set(alphas)  # the window's edges: the limit checks compare them


@pytest.mark.parametrize("name", RESULTS)
def test_pinned_cases_pass(name: str, pinned_runs) -> None:
    theory = learndyn.function(name, check=False)
    for check, runs in pinned_runs[name]:
        assert all(r.error is None for r in runs), [r.error for r in runs]
        j = judge(check, runs, theory)
        assert j.passed, (check.title, j.failure)
        assert j.configurations > 0 and j.ratio <= 1


@pytest.mark.parametrize("name", RESULTS)
def test_a_theory_two_percent_off_fails_at_the_pinned_cases(name: str, pinned_runs) -> None:
    runs = pinned_runs[name]
    theory = learndyn.function(name, check=False)
    for v in variants(declaration(name).names, _outputs(name, runs)):
        wrong = wrong_theory(theory, v, TARGET)
        assert any(not judge(c, rs, wrong).passed for c, rs in runs), f"{name}: {v.label} at 2 % passes"


def test_the_limit_checks_skip_the_window_around_one(pinned_runs) -> None:
    check, runs = pinned_runs["generalisation_error_limit"][0]
    compared = [float(a) for r in runs for m in r.measurements for a in m.args["alpha"][-1].flatten()]
    assert compared and all(abs(a - 1) >= 0.2 - 1e-9 for a in compared)


def test_the_gd_gate_catches_a_learning_rate_two_percent_off(monkeypatch) -> None:
    import learndyn.verify.simulate as sim

    point = dict(fam.CASE_POINTS[0]["points"][2], steps=400)
    assert fam.gd_gate(point, [1, 2]) <= fam.GATE_RTOL
    real = sim.simulate_linear_student
    monkeypatch.setattr(sim, "simulate_linear_student", lambda data, lr, steps, **kw: real(data, lr * 1.02, steps, **kw))
    with pytest.raises(RuntimeError, match="GD departs"):
        fam.gd_gate(point, [1, 2])


def test_stopping_finds_each_realisations_minimum() -> None:
    lam, _ = fam.spectrum(100, 0.5, [3, 4])
    t, m = fam.stopping(lam, 1.5, 0.5)
    for f in (0.99, 1.01):
        other = fam.conditional_generalisation(lam, torch.exp(-lam * (f * t).unsqueeze(-1)), 1.5, 0.5)
        assert bool((other > m).all())


@pytest.mark.parametrize("claim", list(GENERALISATION_CLAIMS))
def test_claims_hold(claim: str) -> None:
    row = GENERALISATION_CLAIMS[claim](CONFIG)
    assert row.passed, row.failure
    assert row.worst <= row.tolerance


def _with(monkeypatch, name: str, wrong) -> None:
    real = learndyn.function
    monkeypatch.setattr(learndyn, "function", lambda n, check=True: wrong(real(n, check=False)) if n == name
                        else real(n, check=check))


@pytest.mark.parametrize("claim, result, wrong", [
    ("initial_variance_cost", "generalisation_error_limit",
     lambda f: lambda **kw: f(**kw) * (1 + 0.02 * torch.as_tensor(kw["sigma_02"]))),
    ("ridge_beats_early_stopping", "ridge_error", lambda f: lambda **kw: f(**kw) * 1.02),
    ("overtraining_peaks_at_one", "overtraining", lambda f: lambda **kw: f(**{**kw, "alpha": torch.as_tensor(kw["alpha"]) * 1.2})),
])
def test_a_wrong_theory_fails_a_claim(monkeypatch, claim: str, result: str, wrong) -> None:
    _with(monkeypatch, result, wrong)
    assert not GENERALISATION_CLAIMS[claim](CONFIG).passed
