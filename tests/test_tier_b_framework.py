"""The declared tier-b framework (learndyn.verify.tier_b): comparisons, the engine, power by bisection, a result without
a check, and how power reaches the CLI and the report."""
from __future__ import annotations

import json
import math
from collections import namedtuple

import pytest
import torch

import learndyn
from learndyn.verify.runner import VerifyConfig, run_power, run_verification
from learndyn.verify.tier_b import (
    OUTPUT, Measurement, MeasurementCache, Richardson, SimulationCheck, Statistical, UpperBound, judge, wrong_theory,
)
from learndyn.verify.tier_b.comparison import student_k
from learndyn.verify.tier_b.power import Variant, smallest_detected
from learndyn.verify.tier_b.suite import NO_CHECK, run_tier_b

F64 = torch.float64


# -- comparisons --------------------------------------------------------------------------------------------------

def test_student_k_matches_the_t_table_and_tends_to_k() -> None:
    """The 97.5 % quantile of Student's t with 15 degrees of freedom is 2.131 (any t table); k = 5 normal standard
    errors need 8.27 estimated ones from 16 replicates, and nearly 5 from many."""
    assert student_k(1.959963984540054, 16) == pytest.approx(2.1314495, rel=1e-6)
    assert student_k(5.0, 16) == pytest.approx(8.267, rel=1e-3)
    assert 5.0 < student_k(5.0, 1000) < 5.04
    assert student_k(5.0, None) == 5.0


def _statistical(observed: torch.Tensor, theory_value: float, allowance: float = 0.0) -> Measurement:
    return Measurement(args={"v": torch.tensor(theory_value, dtype=F64)}, observed={OUTPUT: observed},
                       replicate_dim=0, allowance=allowance, where="synthetic")


def test_statistical_ratio_is_the_mean_deviation_over_t_times_the_standard_error() -> None:
    torch.manual_seed(0)
    x = 1.0 + 0.01 * torch.randn(64, dtype=F64)
    m = _statistical(x, 1.0)
    out = Statistical().judge(m, lambda v: v)
    dev = x - 1.0
    expected = abs(float(dev.mean())) / (student_k(5.0, 64) * float(dev.std() / 8))
    assert out.ratio == pytest.approx(expected, rel=1e-12) and out.passed
    assert not Statistical().judge(m, lambda v: 1.02 * v).passed  # 2 % against an SE of 0.125 %
    assert Statistical().judge(_statistical(x, 1.02, allowance=0.03), lambda v: v).passed  # within the allowance


def test_richardson_passes_first_order_gd_and_fails_a_theory_two_percent_off() -> None:
    t = torch.linspace(0, 5, 50, dtype=F64)
    exact = 1 - torch.exp(-t)
    c = 0.02 * t * torch.exp(-t)  # a first-order error term: u(lr) = u + c, u(lr/2) = u + c/2
    m = Measurement(args={"t": t}, observed={OUTPUT: exact + c}, fine={OUTPUT: exact + c / 2}, reduce_dims=(0,),
                    scale=1.0, where="synthetic")
    theory = lambda t: 1 - torch.exp(-t)  # noqa: E731
    assert Richardson(tol=1e-3).judge(m, theory).passed
    assert not Richardson(tol=1e-3).judge(m, lambda t: 1.02 * theory(t)).passed
    # an error that does not halve with lr (a simulator whose error is not GD's first-order one) survives Richardson
    m_bad = Measurement(args={"t": t}, observed={OUTPUT: exact + c}, fine={OUTPUT: exact + c}, reduce_dims=(0,), scale=1.0)
    out = Richardson(tol=1e-3).judge(m_bad, theory)
    assert not out.passed and out.details["richardson_error"] == pytest.approx(float(c.max()))


def test_upper_bound_fails_when_replaced_by_the_quantity_it_bounds() -> None:
    torch.manual_seed(1)
    x = 10.0 + torch.randn(400, dtype=F64)
    m = Measurement(args={"v": torch.tensor(10.0, dtype=F64)}, observed={OUTPUT: x}, replicate_dim=0)
    assert UpperBound().judge(m, lambda v: 1.5 * v).passed
    assert not UpperBound().judge(m, lambda v: v).passed


# -- power --------------------------------------------------------------------------------------------------------

def test_bisection_finds_the_smallest_detected_error() -> None:
    assert smallest_detected(lambda d: d >= 0.0123) == pytest.approx(0.0123, rel=1e-3)
    assert smallest_detected(lambda d: False) == math.inf
    assert smallest_detected(lambda d: True) == 1e-4


def test_wrong_theories_scale_one_output_or_run_the_clock_fast_by_keyword_or_position() -> None:
    Pair = namedtuple("Pair", "a b")

    def f(t, k=1.0):
        return Pair(k * t, 2 * k * t)

    wrong = wrong_theory(f, Variant("scale", -1, "b"), 0.1)(3.0)
    assert wrong.a == 3.0 and wrong.b == pytest.approx(5.4)
    assert wrong_theory(f, Variant("clock"), 0.5)(2.0, k=1.0).a == 3.0
    assert wrong_theory(f, Variant("clock"), 0.5)(t=2.0).a == 3.0


def _two_closures():
    def factory(offset):
        def simulate(case, sizes, device):
            return Measurement(args={"v": torch.tensor(1.0, dtype=F64)},
                               observed={OUTPUT: torch.full((8,), 1.0 + offset, dtype=F64) + 1e-3 * torch.arange(8)},
                               replicate_dim=0, where=f"offset {offset}")
        return simulate
    return [SimulationCheck(result="r", title=f"t{o}", method="monte_carlo", simulate=factory(o),
                            compare=Statistical(), points=({"x": 1},)) for o in (0.0, 0.5)]


def test_two_closures_of_one_factory_do_not_share_measurements() -> None:
    from learndyn.verify.tier_b.engine import measure

    cache = MeasurementCache()
    a, b = _two_closures()
    ra = measure(a, None, examples=0, seed=0, device="cpu", cache=cache)
    rb = measure(b, None, examples=0, seed=0, device="cpu", cache=cache)
    assert float(ra[0].measurements[0].observed[OUTPUT][0]) != float(rb[0].measurements[0].observed[OUTPUT][0])
    assert judge(a, ra, lambda v: v).passed and not judge(b, rb, lambda v: v).passed


def test_a_result_without_a_check_is_a_failed_row_and_has_no_power() -> None:
    rows = run_tier_b(["lonely"], config=VerifyConfig(examples=0), theories={"lonely": lambda: 0},
                      results={"lonely": None}, declared={})
    assert len(rows) == 1 and not rows[0].passed and rows[0].failure == NO_CHECK


def test_run_power_of_a_declared_result_reaches_the_target() -> None:
    cache = MeasurementCache()
    checks = run_verification(["mode_learning_time"], config=VerifyConfig(examples=0), tiers=("b",), cache=cache)
    assert all(c.passed for c in checks)
    (row,) = run_power(["mode_learning_time"], config=VerifyConfig(examples=0), cache=cache)
    assert row.meets_target and row.delta < 0.005
    assert set(row.per_variant) == {"x (1+d)", "x (1-d)"}
    # a result that is 2 % wrong fails with the same measurements
    wrong = wrong_theory(learndyn.function("mode_learning_time"), Variant("scale", 1), 0.02)
    bad = run_verification(["mode_learning_time"], config=VerifyConfig(examples=0), tiers=("b",), cache=cache,
                           functions={"mode_learning_time": wrong})
    assert not any(c.passed for c in bad)


# -- CLI and report -----------------------------------------------------------------------------------------------

def test_cli_verify_power_prints_the_table_and_json() -> None:
    from click.testing import CliRunner

    from learndyn.cli import main

    res = CliRunner().invoke(main, ["verify", "scalar_trajectory", "--power", "--examples", "1", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "power d" in res.output and "1 of 1 results catch a 2% error" in res.output
    res = CliRunner().invoke(main, ["verify", "scalar_trajectory", "--power", "--examples", "1", "--device", "cpu", "--json"])
    data = json.loads(res.output[res.output.index("{"):])
    (row,) = data["power"]
    assert row["result"] == "scalar_trajectory" and row["meets_target"] and {c["tier"][0] for c in data["checks"]} == {"b"}


def test_report_has_the_power_table(tmp_path) -> None:
    from learndyn.verify.report_document import write_report

    files = write_report(tmp_path, ["mode_trajectory"], config=VerifyConfig(examples=1, seed=0, device="cpu"),
                         tiers=("b",), quick_figures=True, pdf=False, refresh=True)
    tex = files.tex.read_text(encoding="utf-8")
    assert r"\section{Power of the simulation checks}" in tex
    assert r"\texttt{mode\_\allowbreak{}trajectory}~\eqref{eq:mode_trajectory}" in tex.split("sec:power")[1]
    power = json.loads(files.verification.read_text(encoding="utf-8"))["power"]
    assert power[0]["result"] == "mode_trajectory" and power[0]["meets_target"]


def test_a_users_family_gets_tier_b_and_power_from_its_module(tmp_path) -> None:
    """examples/my_results.py declares its result and its simulation check; `learndyn verify --module ... --power`
    runs tier a, tier b and the power table from them, and a wrong simulation fails."""
    from pathlib import Path

    from click.testing import CliRunner

    from learndyn.cli import main

    module = str(Path(__file__).resolve().parents[1] / "examples" / "my_results.py")
    runner = CliRunner()
    assert runner.invoke(main, ["derive", "--module", module, "--out", str(tmp_path)]).exit_code == 0
    res = runner.invoke(main, ["verify", "--module", module, "--out", str(tmp_path), "--power", "--tier", "a",
                               "--tier", "b", "--examples", "25", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "b: GD on linear regression, Richardson" in res.output and "1 of 1 results catch a 2% error" in res.output

    from learndyn.derive.families import import_family_module
    from learndyn.verify.runner import run_user_family

    user = import_family_module(module)
    original = user.simulate_regression

    def lr_off(case, sizes, device):  # GD at a learning rate 2 % above the one the theory is told
        m = original({**case, "tau": case["tau"] / 1.02}, sizes, device)
        m.args = {**m.args, "tau": case["tau"]}
        return m

    check = user.SIMULATIONS[0]
    try:
        user.SIMULATIONS = (SimulationCheck(**{**check.__dict__, "simulate": lr_off}),)
        rows = run_user_family(module, tmp_path, config=VerifyConfig(examples=0), tiers=("b",))
    finally:
        user.SIMULATIONS = (check,)
    assert len(rows) == 1 and not rows[0].passed


def test_checks_that_share_a_run_simulate_it_once_per_case() -> None:
    """Two checks observing one ``run`` (the dropout expectation and its bound, say) simulate each case once
    within a verification; called outside one, a shared run simply runs."""
    from learndyn.verify.tier_b import SharedRun
    from learndyn.verify.tier_b.engine import measure

    calls: list[dict] = []

    def run(case, sizes, device):
        calls.append(dict(case))
        return torch.full((16,), float(case["x"]), dtype=F64) + 1e-3 * torch.arange(16, dtype=F64)

    def observe_value(out, case, sizes, device):
        return Measurement(args={"v": torch.tensor(float(case["x"]), dtype=F64)}, observed={OUTPUT: out}, replicate_dim=0)

    def observe_twice(out, case, sizes, device):
        return Measurement(args={"v": torch.tensor(2.0 * case["x"], dtype=F64)}, observed={OUTPUT: 2 * out}, replicate_dim=0)

    checks = [SimulationCheck(result="r", title=t, method="monte_carlo", simulate=SharedRun(run, obs),
                              compare=Statistical(), points=({"x": 1.0}, {"x": 2.0}))
              for t, obs in (("value", observe_value), ("twice", observe_twice))]
    cache = MeasurementCache()
    runs = [measure(c, None, examples=0, seed=0, device="cpu", cache=cache) for c in checks]
    assert [c["x"] for c in calls] == [1.0, 2.0]  # each case once, for both checks
    assert all(judge(c, r, lambda v: v).passed for c, r in zip(checks, runs))
    assert float(runs[1][0].measurements[0].observed[OUTPUT][0]) == 2.0
    checks[0].simulate({"x": 3.0}, {}, "cpu")
    assert len(calls) == 3
