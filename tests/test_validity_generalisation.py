"""Validity maps of family 6 (high-dimensional generalisation dynamics): the N axis and the flow results' lr axis.

The theory is the N → ∞ limit, so every result declares an axis ``n``: a map sets ``sizes["n"]`` to one number and
the simulation must then sample spectra of that one size (and only then: ``learndyn verify`` passes the sizes of its
1/N fit). The flow results also declare the lr axis: ``sizes["lr_lambda"]`` is ``lr·λ₊`` and the observation becomes
GD's exact-discrete error against the flow at the time GD reached. Expected values here come from the model itself
(``P = round(αN)``, ``E tr XᵀX = P``, GD's per-mode factor ``1 − lr λ``), not from the code under test.
"""
from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.families import generalisation as G
from learndyn.verify.validity import apply_axis, axes_of, validity_map
from learndyn.verify.validity.units import WorkUnit, evaluate_unit

RESULTS = ("mp_density", "mp_stieltjes", "generalisation_error", "training_error", "generalisation_error_limit",
           "training_error_limit", "optimal_stopping_time", "overtraining", "ridge_error", "gd_generalisation_error",
           "gd_training_error")
FLOW = ("generalisation_error", "training_error")


def _check(name: str):
    return next(c for c in G.SIMULATIONS if c.result == name)


def _small(sizes, seeds: int = 8) -> dict:
    return {**sizes, "seeds": seeds, "gd_seeds": 0}


def test_every_result_declares_the_n_axis_and_the_flow_results_the_lr_axis() -> None:
    for name in RESULTS:
        axes = axes_of(_check(name))
        assert "n" in axes, name
        ax = axes["n"]
        assert ax.kind == "sizes" and ax.integer and not ax.grows and ax.lo < ax.start <= ax.hi
        assert ax.start == max(_check(name).sizes["n"])  # the map starts at the check's largest size
        assert ("lr" in axes) == (name in FLOW), name


def test_the_simulation_runs_at_the_requested_n() -> None:
    """Through the map's own path (``apply_axis``): one size, ``P = round(αN)`` rows, ``N`` eigenvalues per realisation
    whose mean is ``tr(XᵀX)/N``, in expectation ``P/N`` (entries of variance ``1/N``)."""
    check = _check("generalisation_error")
    case = dict(G.CASE_POINTS[0])
    for n in (13, 57):
        _, sizes = apply_axis(axes_of(check)["n"], case, _small(check.sizes), n)
        run = G.spectra_run(case, sizes, "cpu")
        assert run.sizes == (n,) and len(run.lam) == 1
        lam = run.lam[0]
        assert lam.shape[-1] == n and lam.shape[1] == len(case["points"])
        assert lam.shape[0] >= sizes["seeds"]  # a smaller N may take more realisations, never fewer
        for i, p in enumerate(case["points"]):
            P = round(p["alpha"] * n)
            assert int(run.P[0, i]) == P
            assert int((lam[:, i] > 0).sum(-1).max()) == min(P, n)
            trace = lam[:, i].mean(-1)  # (1/N) tr XᵀX per realisation
            se = float(trace.std() / math.sqrt(trace.numel()))
            assert abs(float(trace.mean()) - P / n) < 5 * se + 1e-12, (n, p["alpha"])
        m = check.simulate(case, sizes, "cpu")
        assert m.extrapolation[1] == (1.0 / n,)


def test_without_the_axis_the_simulation_runs_the_fit_sizes() -> None:
    """``learndyn verify``'s sizes: both sizes of the 1/N fit, each with exactly the declared realisations."""
    check = _check("mp_stieltjes")
    case = G.CASE_POINTS[0]
    sizes = _small(check.sizes, seeds=3)
    run = G.spectra_run(case, sizes, "cpu")
    assert run.sizes == tuple(check.sizes["n"])
    assert [tuple(l.shape) for l in run.lam] == [(3, len(case["points"]), n) for n in check.sizes["n"]]
    assert not G.in_map(check.sizes)


def test_the_deviation_is_larger_at_small_n() -> None:
    """The finite-size deviation of the generalisation error grows as N falls (well beyond its standard errors)."""
    check = _check("generalisation_error")
    case = G.CASE_POINTS[1]
    sizes = _small(check.sizes, seeds=16)
    small, large = (evaluate_unit(WorkUnit("generalisation_error", 0, "n", n, case, sizes)) for n in (12, 96))
    assert small.error is None and large.error is None
    assert small.deviation > 3 * large.deviation
    assert small.deviation - large.deviation > 5 * math.hypot(small.se, large.se)


def test_lr_axis_sets_lr_from_the_upper_edge_and_gd_leaves_the_flow() -> None:
    """``lr = lr_lambda/λ₊`` at every point, ``λ₊ = (1 + √α)²``; GD's per-mode factor ``(1 − lr λ)^k`` meets the
    flow's ``e^{−λ k lr}`` as ``lr → 0`` (at ``lr·λ₊ = 1e-4`` the observation is the flow's to first order in it,
    ``(λt)(lr λ)/2`` per mode, plus the time ``k·lr`` off ``t`` by at most ``lr/2``), and the deviation from the
    flow theory grows with ``lr·λ₊``."""
    check = _check("generalisation_error")
    case = G.CASE_POINTS[0]
    base = {**check.sizes, "n": (60,), "seeds": 8, "gd_seeds": 1}
    ax = axes_of(check)["lr"]
    _, tiny = apply_axis(ax, case, base, 1e-4)
    run = G.spectra_run(case, tiny, "cpu")
    for p, q in zip(case["points"], run.points):
        assert q["lr"] == pytest.approx(1e-4 / (1 + math.sqrt(p["alpha"])) ** 2, rel=1e-12)
    gd = check.simulate.observe(run, case, tiny, "cpu")
    flow = check.simulate.observe(run, case, base, "cpu")
    assert gd.args["t"].shape == flow.args["t"].shape
    assert torch.allclose(gd.args["t"], flow.args["t"], rtol=1e-3)
    assert torch.allclose(gd.observed["value"], flow.observed["value"], rtol=1e-3)
    assert not torch.equal(gd.observed["value"], flow.observed["value"])
    # GD against the flow at the time it reached, on the same realisations: first order in lr·λ₊ (8× the step, 4-12×
    # the departure: the second-order term at lr·λ₊ = 0.4 and the flow times' rounding to whole steps aside)
    departure = []
    for v in (0.05, 0.4):
        _, sizes = apply_axis(ax, case, base, v)
        run = G.spectra_run(case, sizes, "cpu")
        k, t = G.gd_flow_steps(run)
        gd = check.simulate.observe(run, case, sizes, "cpu").observed["value"]
        flow = G._conditional(run, False, lambda lam: torch.exp(-lam.unsqueeze(-2) * t.unsqueeze(-1)))
        departure.append(float((gd / flow - 1).abs().max()))
    assert 4 < departure[1] / departure[0] < 12, departure


def test_lr_axis_convergence_probe() -> None:
    """Real GD converges well below ``lr·λ₊ = 2`` and does not converge well above it."""
    case = G.CASE_POINTS[0]
    assert not G.flow_diverges(case, 1.5, "cpu")
    assert G.flow_diverges(case, 2.6, "cpu")


def test_a_small_map_has_finite_contours(monkeypatch) -> None:
    """One seed, two bisections, an eighth of the realisations: both contours of the generalisation error lie inside the axis,
    the 10 % one at a smaller N than the 1 % one."""
    monkeypatch.setitem(G.SIZES_DECLARED, "seeds", 8)
    m = validity_map("generalisation_error", "n", seeds=1, bisections=2)
    one, ten = m.contours
    assert m.axis == "n" and one.level < ten.level
    for c in (one, ten):
        assert c.beyond is None and c.value is not None and math.isfinite(c.value)
        assert c.low <= c.value <= c.high
    ax = axes_of(_check("generalisation_error"))["n"]
    assert ax.lo <= ten.value < one.value <= ax.hi
    assert all(p.error is None for p in m.points)
