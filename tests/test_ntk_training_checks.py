"""Tier b of family 4's training results (verify/families/ntk_training.py): the declared checks pass the generated
functions, fail theories 2 % wrong and a simulator whose learning rate is 2 % off, and their tolerances are the
bounds the module docstring states (computed here)."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import learndyn
from learndyn.derive.registry import declaration
from learndyn.verify.families import ntk_training as nt
from learndyn.verify.families import simulations_of_module
from learndyn.verify.tier_b import MeasurementCache, Variant, judge, measure, wrong_theory

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RESULTS = ("mse_train_prediction", "mse_test_prediction", "ntk_condition_number", "mean_prediction")
SMALL = {"width": 128, "networks": 2}
F64 = torch.float64


def linearised_check(name: str):
    check = next(c for c in simulations_of_module(nt)[name] if "linearised" in c.title)
    return dataclasses.replace(check, sizes=SMALL)


def runs_at_pinned(name: str, check=None, cache: MeasurementCache | None = None):
    check = check or linearised_check(name)
    return check, measure(check, declaration(name), examples=0, seed=0, device="cpu", cache=cache)


@pytest.fixture(scope="module")
def pinned():
    """Every result's linearised check at its pinned cases, small networks (the four share one simulation)."""
    cache = MeasurementCache()
    return {name: runs_at_pinned(name, cache=cache) for name in RESULTS}


# -- the bounds behind the tolerances -------------------------------------------------------------------------

def richardson_remainder(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """``2(1 − x/2)^{2τ/x} − (1 − x)^{τ/x} − e^{−τ}``: one mode's extrapolated GD error at flow time ``τ``."""
    s = tau / x
    return 2 * (1 - x / 2) ** (2 * s) - (1 - x) ** s - torch.exp(-tau)


@pytest.mark.parametrize("x_bound, constant", [(nt.X_MAX, nt.REMAINDER), (nt.WIDE_X_BOUND, nt.WIDE_REMAINDER)])
def test_richardson_remainder_bound(x_bound: float, constant: float) -> None:
    """``sup_τ |R(x, τ)| ≤ constant·x²`` for every ``x ≤ x_bound``, and nearly attained (so the tolerance is tight)."""
    x = torch.linspace(x_bound / 200, x_bound, 200, dtype=F64).unsqueeze(1)
    tau = torch.linspace(0, 40, 40001, dtype=F64).unsqueeze(0)
    ratio = richardson_remainder(x, tau).abs().amax(1) / x.squeeze(1) ** 2
    assert float(ratio.max()) <= constant
    assert float(ratio.max()) > 0.97 * constant


def test_decay_time_ratio_remainder_bound() -> None:
    """The relative Richardson remainder of ``T_slow/T_fast = ln(1 − x_max)/ln(1 − x_min)`` at ``x_max = X_MAX``
    over every ``x_min ≤ x_max`` is at most ``KAPPA_REMAINDER`` (and about ``x_max²/6``)."""
    x = torch.tensor(nt.X_MAX, dtype=F64)
    x_min = x * torch.logspace(-8, 0, 20001, dtype=F64)

    def ratio(a, b):
        return torch.log1p(-a) / torch.log1p(-b)

    rel = ((2 * ratio(x / 2, x_min / 2) - ratio(x, x_min)) / (x / x_min) - 1).abs()
    assert float(rel.max()) <= nt.KAPPA_REMAINDER
    assert float(rel.max()) > 0.95 * nt.KAPPA_REMAINDER and math.isclose(float(rel.max()), nt.X_MAX**2 / 6, rel_tol=0.1)


def test_decay_time_is_exact_for_a_geometric_decay() -> None:
    """The step at which a geometric decay ``q^s`` along ``v`` has fallen by ``e`` is ``−1/ln q``, from sparse
    records; other directions do not leak in."""
    steps = torch.tensor([0, 1, 3, 10, 40, 100])
    v = torch.tensor([0.6, 0.8], dtype=F64)
    w = torch.tensor([0.8, -0.6], dtype=F64)
    q = 0.97
    residual = (q ** steps.to(F64)).view(-1, 1, 1) * torch.outer(v, torch.tensor([1.0, -2.0], dtype=F64))
    residual = residual + (0.5 ** steps.to(F64)).view(-1, 1, 1) * torch.outer(w, torch.tensor([3.0, 1.0], dtype=F64))
    assert math.isclose(float(nt.decay_time(steps, residual, v)), -1 / math.log(q), rel_tol=1e-12)
    with pytest.raises(RuntimeError, match="decay"):
        nt.decay_time(steps[:3], residual[:3], v)


# -- the checks -----------------------------------------------------------------------------------------------

def test_declared_for_every_training_result() -> None:
    """Declared here and included in family 4's checks (``learndyn verify`` runs them)."""
    from learndyn.verify.families import simulations

    declared = simulations_of_module(nt)
    assert set(declared) == set(RESULTS)
    assert [c.method for c in declared["mse_train_prediction"]] == ["gd_linearised", "gd"]
    assert all(simulations()[name] == declared[name] for name in RESULTS)


@pytest.mark.parametrize("name", RESULTS)
def test_linearised_checks_pass_the_generated_functions(pinned, name: str) -> None:
    check, runs = pinned[name]
    assert all(r.error is None for r in runs), [r.error for r in runs]
    j = judge(check, runs, learndyn.function(name))
    assert j.passed, j.failure
    assert 0 < j.ratio < 1 and j.configurations >= 8


@pytest.mark.parametrize("name", RESULTS)
def test_a_theory_two_percent_wrong_fails(pinned, name: str) -> None:
    """Every output × 1.02 and × 0.98, and the clock 2 % fast, fail at the pinned cases (small networks)."""
    check, runs = pinned[name]
    theory = learndyn.function(name)
    variants = [Variant("scale", 1), Variant("scale", -1)] + ([Variant("clock")] if name.startswith("mse") else [])
    for v in variants:
        j = judge(check, runs, wrong_theory(theory, v, 0.02))
        assert not j.passed and j.ratio > 3, (v.label, j.ratio)


def test_a_rate_without_k_fails_every_mse_check(pinned) -> None:
    """The flow rate ``lr/n`` instead of ``lr/(n k)`` (k = 2) fails the linearised and the wide-network checks."""
    theory = learndyn.function("mse_train_prediction")
    check, runs = pinned["mse_train_prediction"]
    assert not judge(check, runs, wrong_theory(theory, Variant("clock"), 1.0)).passed
    wide = next(c for c in simulations_of_module(nt)["mse_train_prediction"] if "wide" in c.title)
    wide = dataclasses.replace(wide, points=wide.points[:1], sizes={**wide.sizes, "width": 256, "networks": 2})
    wide_runs = measure(wide, declaration("mse_train_prediction"), examples=0, seed=0, device="cpu")
    assert judge(wide, wide_runs, theory).passed
    assert not judge(wide, wide_runs, wrong_theory(theory, Variant("clock"), 1.0)).passed


def test_a_learning_rate_two_percent_off_fails(monkeypatch) -> None:
    """GD run at ``1.02 lr`` while the measurement reports ``lr``: the MSE checks fail; the mean prediction (GD's
    limit) does not depend on ``lr`` and still passes. (The condition number's decay-time ratio does not depend on
    ``lr`` either, but its tolerance is the Richardson remainder at ``x_max = X_MAX``, nearly attained for ``κ ≫ 1``:
    at ``1.02 X_MAX`` it may exceed it.)"""
    real = nt.gradient_descent

    def fast(lin, y, *, lr, steps, record=None):
        return real(lin, y, lr=lr * 1.02, steps=steps, record=record)

    monkeypatch.setattr(nt, "gradient_descent", fast)
    cache = MeasurementCache()
    for name in ("mse_train_prediction", "mse_test_prediction", "mean_prediction"):
        check, runs = runs_at_pinned(name, cache=cache)
        j = judge(check, runs, learndyn.function(name))
        assert j.passed == (name == "mean_prediction"), (name, j.ratio, j.failure)
        assert j.passed or j.ratio > 3


@pytest.mark.slow
def test_power_at_the_default_size() -> None:
    """``learndyn verify``'s default size (--examples 100): tier b passes and every result catches a 2 % error."""
    from learndyn.verify.runner import VerifyConfig
    from learndyn.verify.tier_b.suite import run_power, run_tier_b

    config = VerifyConfig(examples=100, seed=0, device="cpu")
    theories = {n: learndyn.function(n) for n in RESULTS}
    results = {n: declaration(n) for n in RESULTS}
    declared = simulations_of_module(nt)
    rows = run_tier_b(RESULTS, config=config, theories=theories, results=results, declared=declared)
    assert all(r.passed for r in rows), [r.failure for r in rows if not r.passed]
    power = run_power(RESULTS, config=config, theories=theories, results=results, declared=declared)
    assert all(p.meets_target for p in power), [(p.result, p.per_variant) for p in power]
