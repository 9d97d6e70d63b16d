"""Validity maps (issue 22): the engine on a case whose boundary is known in closed form.

The scalar network ``ŷ = w2 w1 x`` trained by GD from a balanced start leaves its gradient flow at first order in
``lr``: ``u_GD(τ) − u(τ) = lr·E(u(τ)) + O(lr²)`` with ``E`` derived from the per-step map
(:mod:`learndyn.verify.validity.first_order`). The measured 1 % contour of ``lr·λ_max`` must sit where that
first-order deviation reaches 1 %, and GD must stop converging at ``lr·λ_max = 2``.
"""
from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import sympy as sp
import torch
from click.testing import CliRunner

from learndyn.cli import main
from learndyn.verify.validity import Axis, apply_axis, lr_axis, validity_map, width_axis
from learndyn.verify.validity.first_order import derive_first_order, scalar_network_first_order
from learndyn.verify.validity.output import format_maps, read_maps, render_map, validity_latex, write_map
from learndyn.verify.validity.search import bracket_of, contour_search
from learndyn.verify.validity.units import WorkUnit, evaluate_unit, serial_map


@pytest.fixture(scope="module")
def scalar_map():
    return validity_map("scalar_trajectory", "lr", seeds=2, bisections=5)


def test_first_order_coefficient_of_a_linear_flow_is_the_textbook_one():
    """``u ← (1 − kη) u``: ``(1 − kη)^{τ/η} = e^{−kτ}(1 − k²ητ/2 + O(η²))``, so ``E = −k² τ u / 2`` with
    ``τ = ln(u0/u)/k`` — derived independently of the general formula."""
    u, u0, eta, k = sp.symbols("u u0 eta k", positive=True)
    fo = derive_first_order((1 - k * eta) * u, u, eta, u0, (k,))
    tau = sp.log(u0 / u) / k
    assert sp.simplify(fo.coefficient_expr - (-k**2 * tau * u / 2)) == 0
    assert all(fo.proof.values())


def test_a_wrong_first_order_closed_form_fails_its_proof(monkeypatch):
    """The derivation proves itself: an integral that is off by a factor fails the substitution."""
    real = sp.integrate
    monkeypatch.setattr(sp, "integrate", lambda *a, **k: 1.01 * real(*a, **k))
    u, u0, eta, k = sp.symbols("u u0 eta k", positive=True)
    with pytest.raises(AssertionError, match="not proven"):
        derive_first_order((1 - k * eta) * u, u, eta, u0, (k,))


def test_first_order_coefficient_matches_gd_at_small_lr():
    """``(u_GD − u)/lr → E`` as ``lr → 0`` (Richardson in ``lr`` removes the ``O(lr)`` remainder of the ratio):
    GD simulated directly, the flow from its closed form."""
    import learndyn
    from learndyn.verify.simulate import simulate_scalar_network

    x, y, u0 = torch.tensor([0.7, 1.5]), torch.tensor([1.9, 0.6]), torch.tensor([0.02, 0.004])
    x, y, u0 = (v.double() for v in (x, y, u0))
    coarse_steps = torch.round(3.0 / (x * y) / 1e-3).to(torch.int64)  # the same flow time at both rates
    ratios = []
    for lr, k in ((1e-3, 1), (5e-4, 2)):
        steps = k * coarse_steps
        end = []
        for i in range(2):
            run = simulate_scalar_network(x[i], y[i], u0[i], lr, int(steps[i]), record_every=int(steps[i]))
            end.append(float(run.u[-1, 0]))
        t = steps.double()
        flow = learndyn.function("scalar_trajectory")(t=t, x=x, y=y, u0=u0, lr=torch.full_like(x, lr))
        ratios.append((torch.tensor(end, dtype=torch.float64) - flow) / lr)
    extrapolated = 2 * ratios[1] - ratios[0]
    u_end = learndyn.function("scalar_trajectory")(t=coarse_steps.double(), x=x, y=y, u0=u0, lr=torch.full_like(x, 1e-3))
    E = scalar_network_first_order().coefficient(u_end.numpy(), u0.numpy(), x=x.numpy(), y=y.numpy())
    assert np.allclose(extrapolated.numpy(), E, rtol=2e-3), (extrapolated, E)


def test_scalar_map_contour_is_where_the_first_order_deviation_reaches_the_level(scalar_map):
    """The known boundary: the 1 % contour agrees with ``lr·max|E|/K = 1 %``. Tolerance: the bracket's half-width
    (5 halvings of a factor-2 step: ``2^(1/64)``, 1.1 %) plus the second-order term, measured from the map itself as
    the departure of the deviation from proportionality between the contour and twice it."""
    c = next(c for c in scalar_map.contours if c.level == 0.01)
    assert c.beyond is None and c.predicted is not None
    pts = {p.value: p.deviation for p in scalar_map.points if p.seed == 0}
    v1 = min(pts, key=lambda v: abs(math.log(v / c.value)))
    v2 = min(pts, key=lambda v: abs(math.log(v / (2 * c.value))))
    curvature = abs(pts[v2] / pts[v1] / (v2 / v1) - 1)
    tolerance = math.log(2) / 64 + curvature + 1e-3
    assert abs(math.log(c.value / c.predicted)) <= tolerance, (c.value, c.predicted, tolerance)
    assert c.agrees
    assert c.low < c.value < c.high


def test_scalar_map_deviation_is_first_order_in_lr(scalar_map):
    """Halving ``lr`` halves the deviation (to the second-order term, below 2 % at these rates)."""
    pts = sorted((p.value, p.deviation) for p in scalar_map.points if p.seed == 0 and p.value <= 0.1)
    for (va, da), (vb, db) in zip(pts, pts[1:]):
        assert abs((db / da) / (vb / va) - 1) < 0.02 * (vb / va)


def test_stability_limit_matches_divergence_in_simulation(scalar_map):
    """GD stops converging at ``lr·λ_max = 2`` (``λ_max = 2x|y|``): every seed's bracket is within 0.5 % of 2
    (5000 steps resolve ``1 − lr λ`` down to ``|1 − lrλ| ≈ 1 − 2.8e-3``)."""
    lim = scalar_map.limit
    assert lim is not None and lim.agrees
    for a, b in lim.brackets:
        assert a is not None and b is not None
        assert 2 * (1 - 5e-3) <= a < b <= 2 * (1 + 5e-3)


def test_the_map_is_deterministic_for_a_seed(scalar_map):
    again = validity_map("scalar_trajectory", "lr", seeds=2, bisections=5)
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(scalar_map.to_json(), sort_keys=True)


def test_units_are_plain_data_and_any_executor_runs_them():
    """A unit survives pickling (a cluster engine can ship it), and a custom executor gets every unit of a round."""
    from learndyn.verify.families import simulations

    check = simulations()["scalar_trajectory"][0]
    unit = WorkUnit("scalar_trajectory", 0, "lr", 0.1, dict(check.points[0]), dict(check.sizes))
    back = pickle.loads(pickle.dumps(unit))
    assert back == unit
    assert evaluate_unit(back).deviation == evaluate_unit(unit).deviation
    seen = []

    def recording(fn, units):
        units = list(units)
        seen.append(len(units))
        return serial_map(fn, units)

    m = validity_map("scalar_trajectory", "lr", seeds=3, bisections=1, executor=recording)
    assert max(seen) == 3  # the three seeds' units of a round arrive together
    assert m.contours[0].value is not None


def test_apply_axis_sets_sizes_and_case_parameters_without_touching_the_declaration():
    case = {"points": [{"lr": 0.1, "x": 1.0}, {"lr": 0.2, "x": 2.0}], "u0": [[0.1, 0.2]], "seed": 3}
    sizes = {"width": {"relu": 8, "erf": 4}, "networks": 2}
    c2, s2 = apply_axis(width_axis(start=8), case, sizes, 5.4)
    assert s2["width"] == {"relu": 5, "erf": 5} and sizes["width"] == {"relu": 8, "erf": 4}
    c3, _ = apply_axis(Axis("lr", "lr", "case", start=0.1), case, sizes, 0.5)
    assert [p["lr"] for p in c3["points"]] == [0.5, 0.5] and case["points"][0]["lr"] == 0.1
    c4, _ = apply_axis(Axis("u0", "u0", "case", start=0.1), case, sizes, 0.3)
    assert c4["u0"] == [[0.3, 0.3]]
    with pytest.raises(KeyError, match="no parameter 'depth'"):
        apply_axis(Axis("depth", "depth", "case", start=1), case, sizes, 2)
    _, s5 = apply_axis(lr_axis(start=0.05), case, sizes, 0.3)
    assert s5["lr_lambda"] == 0.3


def test_search_brackets_each_level_and_stops_at_the_axis_bound():
    """On an exact deviation ``d(v) = v``, each level's bracket contains it and is narrowed by the bisections; a
    level never reached inside the bounds is reported as holding up to the bound."""
    axis = Axis("lr", "lr_lambda", start=0.05, lo=1e-3, hi=1.0)
    gen = contour_search(axis, (0.01, 0.1, 5.0), 6)
    evals, v = {}, next(gen)
    try:
        while True:
            evals[v] = v
            v = gen.send(v)
    except StopIteration as stop:
        evals = stop.value
    for level in (0.01, 0.1):
        b = bracket_of(axis, evals, level)
        assert b.valid <= level < b.broken and b.broken / b.valid <= 2 ** (1 / 32) * 1.0001
    b = bracket_of(axis, evals, 5.0)
    assert b.broken is None and b.valid == 1.0


def test_outputs_json_figure_latex(tmp_path, scalar_map):
    data = scalar_map.to_json()
    path = write_map(tmp_path, data)
    with pytest.raises(FileExistsError):
        write_map(tmp_path, data)
    assert read_maps(tmp_path) == [json.loads(path.read_text())]
    png, pdf = tmp_path / "a.png", tmp_path / "a.pdf"
    render_map(data, png, pdf)
    first = png.read_bytes()
    render_map(data, png, pdf)
    assert png.read_bytes() == first and pdf.stat().st_size > 0
    tex = validity_latex([data], {"validity-scalar_trajectory-lr": pdf})
    assert r"\section{Validity maps}" in tex and "holds to" in tex and r"\includegraphics" in tex
    text = format_maps([data])
    assert "holds to 1%: lr·λ_max < " in text and "stability limit" in text and "agrees" in text


def test_cli_validity_writes_the_map_and_names_bad_input(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["validity", "scalar_trajectory", "--over", "lr", "--seeds", "1", "--bisections", "2",
                               "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "validity" / "scalar_trajectory-lr.json").exists()
    assert (tmp_path / "validity" / "scalar_trajectory-lr.png").exists()
    assert (tmp_path / "validity" / "validity.tex").exists()
    again = runner.invoke(main, ["validity", "scalar_trajectory", "--seeds", "1", "-o", str(tmp_path)])
    assert again.exit_code != 0 and "--force" in again.output
    bad = runner.invoke(main, ["validity", "scalar_trajectory", "--over", "width"])
    assert bad.exit_code != 0 and "no validity axis 'width'" in bad.output and "lr" in bad.output
    bad = runner.invoke(main, ["validity", "scalar_trajectory", "--level", "0,0.1"])
    assert bad.exit_code != 0 and "positive deviation" in bad.output
    bad = runner.invoke(main, ["validity", "no_such_result"])
    assert bad.exit_code != 0 and "no_such_result" in bad.output


def test_report_draws_stored_maps_and_builds(tmp_path, scalar_map):
    """A map written by ``learndyn validity -o DIR`` appears in ``learndyn report -o DIR``: the section, its table and
    its figure — and, where LaTeX is installed, the strict PDF build (no overfull line, no undefined reference)."""
    import shutil

    from learndyn.verify.report_document import write_report
    from learndyn.verify.runner import VerifyConfig

    write_map(tmp_path, scalar_map.to_json())
    have_tex = shutil.which("pdflatex") is not None
    files = write_report(tmp_path, ["scalar_trajectory"], config=VerifyConfig(examples=5, seed=0, device="cpu"),
                         tiers=("a",), quick_figures=True, pdf=have_tex, refresh=True)
    tex = files.tex.read_text(encoding="utf-8")
    assert r"\section{Validity maps}" in tex and r"\label{fig:validity-scalar_trajectory-lr}" in tex
    assert "holds to" in tex and (tmp_path / "figures" / "validity-scalar_trajectory-lr.pdf").exists()
    if have_tex:
        assert files.pdf is not None and files.pdf.exists()


def test_failed_simulations_end_the_walk_towards_validity_and_count_as_broken_beyond():
    """A simulation that cannot be run below 0.01 (its step budget: NaN) stops the walk towards validity, and a
    level exceeded there is reported as not located; one that blows up above 1 (NaN) counts as broken."""
    axis = Axis("lr", "lr_lambda", start=0.05, lo=1e-4, hi=8.0)

    def deviation(v):
        return math.nan if v < 0.01 or v > 1.0 else v

    gen = contour_search(axis, (0.001, 0.1, 5.0), 4)
    v = next(gen)
    try:
        while True:
            v = gen.send(deviation(v))
    except StopIteration as stop:
        evals = stop.value
    assert min(evals) >= 0.01 / 2 and min(evals) < 0.01  # one step into the failing region, no further
    b = bracket_of(axis, evals, 0.1)
    assert b.valid <= 0.1 < b.broken
    assert bracket_of(axis, evals, 0.001).valid is None  # exceeded at the last measurable value
    b = bracket_of(axis, evals, 5.0)
    assert b.valid <= 1.0 < b.broken  # the blow-up is the breakdown


def test_cli_size_overrides_reach_the_simulation_and_bad_ones_are_named(monkeypatch):
    import learndyn.verify.validity.sweep as sweep

    seen = {}
    real = sweep.validity_map

    def spy(*a, **k):
        seen.update(k.get("sizes") or {})
        return real(*a, **{**k, "bisections": 1})

    monkeypatch.setattr(sweep, "validity_map", spy)
    r = CliRunner().invoke(main, ["validity", "scalar_trajectory", "--seeds", "1", "--size", "max_steps=123",
                                  "--size", "extra=0.5"])
    assert r.exit_code == 0, r.output
    assert seen == {"max_steps": 123, "extra": 0.5}
    bad = CliRunner().invoke(main, ["validity", "scalar_trajectory", "--size", "max_steps"])
    assert bad.exit_code != 0 and "KEY=NUMBER" in bad.output
