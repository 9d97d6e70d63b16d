"""Tests of the independent reference (issue 17 item 2): every derivation is checked against its defining equation
solved by a different method, and a wrong derivation fails ``derive``.

Each kind of definition gets a deliberately wrong derivation — the engine's derived (and emitted) form replaced by
one off by a factor or a coefficient, for results without a published form to fall back on where there are any —
and ``derive_result`` (what ``learndyn derive`` runs) must raise :class:`DerivationError` naming the step; the
unmodified derivation must pass. The wrong derivations are injected by replacing the engine's dispatch, so no result
is re-derived (the derivations come from the cache ``learndyn derive`` fills).
"""
from __future__ import annotations

import dataclasses
import math

import mpmath
import pytest
import sympy as sp

from learndyn.derive import derivation as engine
from learndyn.derive import functions as F
from learndyn.derive.declaration import ClosedForm, Interval, Param, Result, Source
from learndyn.derive.derivation import derive_result
from learndyn.derive.gauss_quadrature import bivariate_expectation, expectation
from learndyn.derive.independent import independent_steps
from learndyn.derive.maps import with_parts
from learndyn.derive.proof import DerivationError, IndependentReference
from learndyn.derive.registry import derivations, family

STEP = "independent reference"


def _family_of(name: str) -> str:
    from learndyn.derive.registry import families

    return next(f.name for f in families() if any(r.name == name for r in f.results))


def _registry(name: str) -> dict:
    """The derivations a result of the family is derived with: those declared before it, and their parts."""
    fam = family(_family_of(name))
    ds = derivations(fam.name)
    index = [r.name for r in fam.results].index(name)
    return with_parts(ds[:index])


def _derived(name: str):
    return next(d for d in derivations(_family_of(name)) if d.result.name == name)


def _strip(d):
    return dataclasses.replace(d, proof=tuple(s for s in d.proof if not isinstance(s, IndependentReference)))


def _derive_with(monkeypatch, d):
    """``derive_result`` of ``d``'s declaration with the engine's own derivation replaced by ``d`` (no independent steps)."""
    monkeypatch.setattr(engine, "_derive_dispatch", lambda result, registry: _strip(d))
    return derive_result(d.result, _registry(d.result.name))


def _scaled(d, factor):
    """``d`` with its derived and emitted forms multiplied by ``factor``."""
    changes = {"implementation": d.implementation * factor}
    if d.derived is not None:
        changes["derived"] = d.derived * factor
    return dataclasses.replace(d, **changes)


def _fails(monkeypatch, wrong, match: str = STEP) -> None:
    with pytest.raises(DerivationError, match=match):
        _derive_with(monkeypatch, wrong)


# -- a wrong derivation of each kind of definition fails derive; the right one passes ----------------------------------

@pytest.mark.parametrize("name", ["dropout_trajectory", "deep_mode_time", "dropout_expected_time", "dropout_time_bound",
                                  "noise_equivalent_decay", "correlation_fixed_point", "shifted_relu_second_moment",
                                  "variance_after_depth", "trainable_depth", "mean_prediction"])
def test_right_derivation_passes_and_records_a_numeric_step(monkeypatch, name: str) -> None:
    d = _derive_with(monkeypatch, _derived(name))
    steps = [s for s in d.proof if isinstance(s, IndependentReference)]
    assert len(steps) == 1 and steps[0].claim.startswith(STEP), d.proof
    assert steps[0].method.startswith("numeric (") and "digits" in steps[0].method and "points" in steps[0].method
    assert steps[0].worst <= 1e-30 and len(steps[0].points) >= 2


def test_ode_without_published_form_off_by_1e_25_fails(monkeypatch) -> None:
    """dropout_trajectory has no published form: only the independent step can see its derivation; 30 digits see
    a relative error of 1e-25."""
    _fails(monkeypatch, _scaled(_derived("dropout_trajectory"), 1 + sp.Rational(1, 10**25)))


def test_ode_with_a_changed_rate_fails(monkeypatch) -> None:
    d = _derived("inverted_dropout_trajectory")
    t = d.result.symbols["t"]
    _fails(monkeypatch, dataclasses.replace(d, derived=d.derived.subs(t, sp.Rational(102, 100) * t),
                                            implementation=d.implementation.subs(t, sp.Rational(102, 100) * t)))


def test_ode_with_a_wrong_limit_at_the_removable_singularity_fails(monkeypatch) -> None:
    d = _derived("weight_decay_trajectory")
    (name, (value, limit)), = d.limits.items()
    _fails(monkeypatch, dataclasses.replace(d, limits={name: (value, limit * sp.Rational(102, 100))}))


def test_separable_time_per_integer_with_a_wrong_depth_factor_fails(monkeypatch) -> None:
    d = _derived("deep_mode_time")
    S = d.result.symbols
    wrong = F.DeepModeTime(S["s"], S["u0"], S["uf"], S["tau"] * sp.Rational(102, 100), S["depth"])
    _fails(monkeypatch, dataclasses.replace(d, implementation=wrong))


def test_random_clock_with_the_wrong_steps_per_active_step_fails(monkeypatch) -> None:
    """E[Geometric(p)] taken as 1/p² instead of 1/p."""
    d = _derived("dropout_expected_time")
    p = d.result.symbols["p"]
    _fails(monkeypatch, _scaled(d, 1 / p))


def test_upper_bound_off_the_declared_gap_or_below_the_quantity_fails(monkeypatch) -> None:
    d = _derived("dropout_time_bound")
    _fails(monkeypatch, _scaled(d, sp.Rational(102, 100)))   # still a bound, but not the declared one
    below = _registry("dropout_time_bound")["dropout_expected_time"].expr * sp.Rational(99, 100)
    _fails(monkeypatch, dataclasses.replace(d, derived=below, implementation=below), match="does not exceed")


def test_implicit_inverse_of_a_wrong_forward_equation_fails(monkeypatch) -> None:
    d = _derived("deep_mode_trajectory")
    wrong = sp.Eq(d.defining.lhs, d.defining.rhs * sp.Rational(102, 100))
    _fails(monkeypatch, dataclasses.replace(d, defining=wrong))


def test_solve_with_a_wrong_solution_fails(monkeypatch) -> None:
    _fails(monkeypatch, _scaled(_derived("noise_equivalent_decay"), sp.Rational(102, 100)))


def test_root_off_by_1e_12_fails(monkeypatch) -> None:
    _fails(monkeypatch, _scaled(_derived("correlation_fixed_point"), 1 + sp.Rational(1, 10**12)))


def test_gaussian_map_without_published_form_with_a_wrong_coefficient_fails(monkeypatch) -> None:
    d = _derived("shifted_relu_second_moment")
    alpha = d.result.symbols["alpha"]
    shift = {alpha: alpha * sp.Rational(102, 100)}
    _fails(monkeypatch, dataclasses.replace(d, derived=d.derived.subs(shift), implementation=d.implementation.subs(shift)))


def test_recurrence_with_a_wrong_slope_fails(monkeypatch) -> None:
    d = _derived("variance_after_depth")
    a, b, q, n = d.implementation.args
    _fails(monkeypatch, dataclasses.replace(d, derived=d.derived * sp.Rational(102, 100),
                                            implementation=F.AffineIterate(a * sp.Rational(102, 100), b, q, n)))


def test_composite_trainable_depth_with_a_changed_factor_fails(monkeypatch) -> None:
    """The issue's example: trainable_depth's factor 6 changed, and nothing failed before this step."""
    _fails(monkeypatch, _scaled(_derived("trainable_depth"), sp.Rational(59, 60)))


def test_emitted_form_that_is_not_real_in_the_test_range_fails(monkeypatch) -> None:
    """A point where the emitted form is complex is a failure, not a point to skip."""
    d = _derived("trainable_depth")
    mu2 = d.result.symbols["mu2"]
    _fails(monkeypatch, _scaled(d, 1 + sp.sqrt(2 - mu2) / 10**10), match="not real")   # complex for mu2 > 2


def test_composite_slope_with_a_wrong_derivative_fails(monkeypatch) -> None:
    _fails(monkeypatch, _scaled(_derived("correlation_slope"), sp.Rational(102, 100)))


def test_free_product_with_a_wrong_variance_fails(monkeypatch) -> None:
    d = _derived("jacobian_spectrum_variance")
    cases = tuple((v, e * sp.Rational(102, 100) if v == "gaussian" else e) for v, e in d.cases)
    _fails(monkeypatch, dataclasses.replace(d, cases=cases), match="gaussian: " + STEP)


def test_kernel_composition_with_a_wrong_carried_determinant_fails(monkeypatch) -> None:
    """The ReLU layer's carried det_T off by 2 %: only the second hidden layer reads it (the composition at one
    hidden layer still agrees), so this also checks that the reference composes two layers."""
    d = _derived("nngp_kernel")
    layers = tuple((v, tuple((k, e * sp.Rational(102, 100) if (v, k) == ("relu", "det_t") else e) for k, e in layer))
                   for v, layer in d.layers)
    _fails(monkeypatch, dataclasses.replace(d, layers=layers), match="relu: " + STEP)


def test_spectral_flow_with_a_wrong_rate_fails(monkeypatch) -> None:
    d = _derived("mse_train_prediction")
    r = next(s for s in d.derived.free_symbols if s.name == "r")
    _fails(monkeypatch, dataclasses.replace(d, derived=d.derived.subs(r, r * sp.Rational(102, 100))))


def test_spectral_flow_mean_with_a_wrong_limit_fails(monkeypatch) -> None:
    _fails(monkeypatch, _scaled(_derived("mean_prediction"), sp.Rational(102, 100)))


def test_by_choice_root_chain_with_a_wrong_correlation_fails(monkeypatch) -> None:
    """kernel_fixed_point for erf: two staged roots, checked as one system of both fixed-point equations."""
    d = _derived("kernel_fixed_point")
    parts = []
    for part in d.parts:
        if part.name.endswith("_erf"):
            outs = tuple((k, e * (1 + sp.Rational(1, 10**9)) if k == "q_star" else e) for k, e in part.outputs)
            part = dataclasses.replace(part, outputs=outs, derived_outputs=())
        parts.append(part)
    _fails(monkeypatch, dataclasses.replace(d, parts=tuple(parts)), match="erf: " + STEP)


def test_by_choice_composite_with_a_wrong_depth_scale_fails(monkeypatch) -> None:
    d = _derived("kernel_depth_scales")
    parts = tuple(dataclasses.replace(p, outputs=tuple((k, e * sp.Rational(102, 100) if k == "xi_c" else e)
                                                        for k, e in p.outputs), derived_outputs=())
                  if p.name.endswith("_relu") else p for p in d.parts)
    _fails(monkeypatch, dataclasses.replace(d, parts=parts), match="relu: " + STEP)


def test_closed_form_with_an_emitted_form_unequal_to_its_definition_fails() -> None:
    x = Param("x", Interval(0.0, math.inf), test=Interval(0.1, 10.0, True, True))
    xs = x.symbol
    result = Result("cube_plus_one", "x³ + 1", (x,), ClosedForm(xs**3 + 1), "f", (), Source("-", "-", "saxe2014exact"))
    d = derive_result(result)
    assert any(isinstance(s, IndependentReference) for s in d.proof)
    with pytest.raises(DerivationError, match=STEP):
        derive_result(dataclasses.replace(result, implementation=xs**3 + sp.Rational(101, 100)))


def test_a_users_family_gets_the_same_step() -> None:
    """examples/my_results.py, as ``learndyn derive --module`` derives it."""
    from learndyn.derive.families import load_family_module
    from learndyn.derive.pipeline import derive_family

    from pathlib import Path

    fam = load_family_module(str(Path(__file__).parent.parent / "examples" / "my_results.py"))
    (d,) = derive_family(fam, use_cache=False, workers=1)
    steps = [s for s in d.proof if isinstance(s, IndependentReference)]
    assert steps and "odefun" in steps[0].method and steps[0].worst <= 1e-30


# -- the step in the proof record, the LaTeX and tier (a) ----------------------------------------------------------------

def test_every_result_has_the_step_in_its_proof_and_latex() -> None:
    from learndyn.derive.registry import families

    for fam in families():
        for d in derivations(fam.name):
            steps = [s for s in d.proof if isinstance(s, IndependentReference)]
            assert steps, d.result.name
            assert all(s.method.startswith("numeric (") and s.worst <= s.tolerance <= 1e-30 for s in steps), d.result.name
            assert STEP in d.latex, d.result.name


def test_the_step_is_deterministic() -> None:
    d = _derived("correlation_slope")
    reg = _registry("correlation_slope")
    assert independent_steps(_strip(d), reg) == independent_steps(_strip(d), reg)
    assert independent_steps(_strip(d), reg) == tuple(s for s in d.proof if isinstance(s, IndependentReference))


def test_tier_a_replays_the_generated_function_at_the_independent_points() -> None:
    import learndyn
    from learndyn.verify.independent import independent_replay

    d = _derived("trainable_depth")
    fn = learndyn.function("trainable_depth")
    good = independent_replay(d, fn)
    assert good.failure is None and good.points >= 3 and good.worst <= 1.0
    bad = independent_replay(d, lambda **kw: fn(**kw) * (1 + 1e-9))
    assert bad.failure is not None and "independent value" in bad.failure
    missing = independent_replay(_strip(d), fn)
    assert missing.failure is not None and "no independent reference" in missing.failure


def test_tier_a_rows_fail_without_the_step_and_report_it_with_it() -> None:
    import learndyn
    from learndyn.verify.closed_form import check_closed_form
    from learndyn.verify.flow_checks import check_flow
    from learndyn.verify.kernel_checks import check_kernel

    d = _derived("correlation_depth_scale")
    fn = learndyn.function("correlation_depth_scale")
    assert "derive: 1 step" in check_closed_form(d, fn, examples=2).details["independent"]
    assert not check_closed_form(_strip(d), fn, examples=2).passed
    flow = _derived("ntk_condition_number")
    assert not check_flow(_strip(flow), learndyn.function("ntk_condition_number"), examples=1).passed
    kernel = _derived("nngp_kernel")
    row = check_kernel(kernel, learndyn.function("nngp_kernel"), examples=1)
    assert row.passed and "generated function at 4" in row.details["independent"], row
    assert not check_kernel(_strip(kernel), learndyn.function("nngp_kernel"), examples=1).passed


# -- the numeric rules themselves ---------------------------------------------------------------------------------------

def _mp(r) -> mpmath.mpf:
    r = sp.Rational(r)
    return mpmath.mpf(r.p) / r.q


def test_gaussian_quadrature_against_textbook_closed_forms() -> None:
    """Φ(−949) in the far tail, the arc-cosine kernel, the arcsine kernel (trapezoidal rule in both variables) and a
    step of a step (Clenshaw–Curtis outer rule), each to 35 digits or more."""
    z, x = sp.Symbol("z", real=True), sp.Symbol("x", real=True)
    with mpmath.workdps(40):
        tail = expectation(F.Step(z - 949), (z,))
        assert abs(tail / mpmath.ncdf(-949) - 1) < 1e-35
        q1, c, q2 = sp.Rational(4, 5), sp.Rational(1, 2), sp.Rational(21, 10)
        Q1, C, Q2 = _mp(q1), _mp(c), _mp(q2)
        theta = mpmath.acos(C / mpmath.sqrt(Q1 * Q2))
        relu = bivariate_expectation(sp.Lambda(x, F.ReLU(x)), sp.Lambda(x, F.ReLU(x)), q1, c, q2)
        assert abs(relu / ((mpmath.sqrt(Q1 * Q2 - C**2) + (mpmath.pi - theta) * C) / (2 * mpmath.pi)) - 1) < 1e-35
        step = bivariate_expectation(sp.Lambda(x, F.Step(x)), sp.Lambda(x, F.Step(x)), q1, c, q2)
        assert abs(step / ((mpmath.pi - theta) / (2 * mpmath.pi)) - 1) < 1e-35
        erf = bivariate_expectation(sp.Lambda(x, sp.erf(x)), sp.Lambda(x, sp.erf(x)), q1, c, q2)
        assert abs(erf / (2 / mpmath.pi * mpmath.asin(2 * C / mpmath.sqrt((1 + 2 * Q1) * (1 + 2 * Q2)))) - 1) < 1e-35
