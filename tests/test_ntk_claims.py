"""Family 4 claims (seed 004): both hold for the generated functions, and fail for a wrong theory (phases swapped,
a kernel that ignores depth, a wrong chi1 or ntk_depth_limit); the digits experiment shows the trade-off on real
data (small split)."""
from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.families import ntk_claims
from learndyn.verify.families.ntk_claims import NTK_CLAIMS
from learndyn.verify.runner import VerifyConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = VerifyConfig(examples=25, seed=0, device="cpu")  # one teacher task per claim


def _patched(monkeypatch, name: str, wrap):
    """Replace the function ``name`` that the claims see by ``wrap(original)``."""
    original = ntk_claims._f

    def f(n: str):
        fn = original(n)
        return wrap(fn) if n == name else fn

    monkeypatch.setattr(ntk_claims, "_f", f)


def _ignore_depth(fn):
    return lambda **kw: fn(**{**kw, "hidden_layers": 1})


def _swap_phases(fn):
    swap = {25.0: 0.5, 0.5: 25.0}
    return lambda **kw: fn(**{**kw, "sigma_w2": swap.get(float(kw["sigma_w2"]), kw["sigma_w2"])})


def _scaled(factor):
    def wrap(fn):
        def wrong(**kw):
            v = fn(**kw)
            return type(v)(*(factor * x for x in v)) if hasattr(v, "_asdict") else factor * v
        return wrong
    return wrap


@pytest.mark.parametrize("name", list(NTK_CLAIMS))
def test_claim_holds(name: str) -> None:
    c = NTK_CLAIMS[name](CPU)
    assert c.passed, c.failure
    assert c.examples >= 1 and c.worst <= c.tolerance
    assert c.tier == "claim" and c.name == name


def test_claims_are_deterministic() -> None:
    a = NTK_CLAIMS["chaotic_phase_trains_fast_but_forgets_inputs"](CPU)
    b = NTK_CLAIMS["chaotic_phase_trains_fast_but_forgets_inputs"](CPU)
    assert a.worst == b.worst and a.details["examples"][0]["seed"] == b.details["examples"][0]["seed"]


@pytest.mark.parametrize("name", list(NTK_CLAIMS))
@pytest.mark.parametrize("wrong", [_ignore_depth, _swap_phases], ids=["kernel_ignores_depth", "phases_swapped"])
def test_claim_fails_for_a_wrong_kernel(monkeypatch, name: str, wrong) -> None:
    _patched(monkeypatch, "ntk_kernel", wrong)
    c = NTK_CLAIMS[name](CPU)
    assert not c.passed
    assert c.worst > c.tolerance
    assert "kappa" in c.failure


def test_chaotic_claim_fails_for_a_wrong_chi1(monkeypatch) -> None:
    _patched(monkeypatch, "chi1", _scaled(1.001))
    c = NTK_CLAIMS["chaotic_phase_trains_fast_but_forgets_inputs"](CPU)
    assert not c.passed and "chi1" in c.failure


def test_chaotic_claim_fails_for_a_wrong_depth_limit(monkeypatch) -> None:
    _patched(monkeypatch, "ntk_depth_limit", _scaled(1.01))
    c = NTK_CLAIMS["chaotic_phase_trains_fast_but_forgets_inputs"](CPU)
    assert not c.passed and "ntk_depth_limit" in c.failure


def test_ordered_claim_fails_for_a_wrong_depth_limit(monkeypatch) -> None:
    _patched(monkeypatch, "ntk_depth_limit", _scaled(1.001))
    c = NTK_CLAIMS["ordered_phase_generalises_but_trains_slowly"](CPU)
    assert not c.passed and "ntk_depth_limit" in c.failure


def test_ordered_claim_fails_for_a_wrong_chi1(monkeypatch) -> None:
    _patched(monkeypatch, "chi1", _scaled(0.9))  # growth rate -ln chi1 off by 17 %
    c = NTK_CLAIMS["ordered_phase_generalises_but_trains_slowly"](CPU)
    assert not c.passed and "chi1" in c.failure


def test_predictions_match_their_definitions() -> None:
    """The four prediction results, as ``_f`` returns them to the claims, against a direct eigendecomposition."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    theta = a @ a.T + 0.5 * torch.eye(6, dtype=torch.float64)
    cross = torch.randn(3, 6, generator=g, dtype=torch.float64)
    y = torch.randn(6, 2, generator=g, dtype=torch.float64)
    f0 = torch.randn(6, 2, generator=g, dtype=torch.float64)
    f0s = torch.randn(3, 2, generator=g, dtype=torch.float64)
    lam, v = torch.linalg.eigh(theta)
    t, lr = 3.0, 0.7
    s = lr * t / (6 * 2)
    expm = v @ torch.diag(torch.exp(-s * lam)) @ v.T
    inv = v @ torch.diag(1 / lam) @ v.T
    f = ntk_claims._f
    train = f("mse_train_prediction")(t=t, lr=lr, ntk_train_train=theta, y_train=y, f0_train=f0)
    torch.testing.assert_close(train, y + expm @ (f0 - y), rtol=1e-10, atol=1e-12)
    test = f("mse_test_prediction")(t=t, lr=lr, ntk_test_train=cross, ntk_train_train=theta, y_train=y,
                                    f0_train=f0, f0_test=f0s)
    torch.testing.assert_close(test, f0s + cross @ inv @ (torch.eye(6, dtype=torch.float64) - expm) @ (y - f0),
                               rtol=1e-10, atol=1e-12)
    kappa = float(f("ntk_condition_number")(ntk_train_train=theta))
    assert math.isclose(kappa, float(lam[-1] / lam[0]), rel_tol=1e-10)
    mean = f("mean_prediction")(ntk_test_train=cross, ntk_train_train=theta, y_train=y)
    torch.testing.assert_close(mean, cross @ inv @ y, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- the digits experiment


def test_digits_trade_off_on_real_data() -> None:
    pytest.importorskip("sklearn")
    from learndyn.verify.digits_experiment import run_digits_experiment

    res = run_digits_experiment(depths=(1, 32), n_train=64, n_test=64, steps=1000, seed=0)
    row = {(r.phase, r.depth): r for r in res.rows}
    assert len(res.rows) == 4 and all(r.kind == "infinite" for r in res.rows)
    assert res.chance_accuracy < 0.4
    deep_chaos, deep_order = row["chaotic", 32], row["ordered", 32]
    # chaotic and deep: trains at once (kappa -> 1) but predicts nothing (zero output, majority digit(s) only)
    assert deep_chaos.condition_number - 1 < 1e-6
    assert deep_chaos.train_accuracy == 1.0 and deep_chaos.steps_to_fit < 3
    assert deep_chaos.mean_prediction_spread < 1e-9
    assert math.isclose(deep_chaos.test_mse_inf, res.zero_predictor_test_mse, rel_tol=1e-6)
    assert deep_chaos.test_accuracy_inf <= res.chance_accuracy + 1e-12
    assert row["chaotic", 1].test_accuracy_inf > res.chance_accuracy + 0.3
    # ordered: generalises at every depth, but kappa grows and the fixed budget no longer fits the training set
    for depth in (1, 32):
        r = row["ordered", depth]
        assert r.resolved
        assert r.test_accuracy_inf > max(0.7, res.chance_accuracy + 0.3)
        assert r.mean_prediction_spread > 0.5
    assert deep_order.condition_number > 1e4 * row["ordered", 1].condition_number
    assert deep_order.steps_to_fit > 1e3 * row["ordered", 1].steps_to_fit
    assert deep_order.train_accuracy < 0.6 < row["ordered", 1].train_accuracy
    table = res.to_table()
    assert "chaotic" in table and "ordered" in table and "steps_to_fit" in table
    import json

    json.dumps(res.to_json())


def test_digits_trained_rows_smoke() -> None:
    pytest.importorskip("sklearn")
    from learndyn.verify.digits_experiment import run_digits_experiment

    res = run_digits_experiment(depths=(), trained_depths=(2,), phases=(("ordered", 0.5, 0.05),), n_train=32,
                                n_test=16, width=32, steps=5, seed=0)
    (r,) = res.rows
    assert r.kind == "trained" and r.width == 32 and r.steps == 5
    assert all(math.isfinite(v) for v in (r.train_mse, r.test_mse, r.condition_number, r.lr))
