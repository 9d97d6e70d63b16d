"""The validity-map protocol of the signal-propagation and NTK families: width axes (the simulators run at the swept
width, and a floor on ``width × networks`` that changes nothing at a check's own width) and the lr axis of the
linearised-network checks (``sizes["lr_lambda"]`` is the run's ``lr·λ_max``, GD's stability limit at 2)."""
from __future__ import annotations

import math

import pytest
import torch

import learndyn
from learndyn.verify.families import ntk_kernels, ntk_phase, ntk_training, signal_propagation
from learndyn.verify.families import simulations
from learndyn.verify.validity import apply_axis, axes_of, deviation, validity_map


def _check(result: str, axis: str):
    return next(c for c in simulations()[result] if axis in axes_of(c))


WIDTH_RESULTS = ("variance_map", "additive_noise_variance_map", "critical_sigma_w", "variance_after_depth",
                 "correlation_map", "correlation_fixed_point", "correlation_slope", "correlation_depth_scale",
                 "trainable_depth", "nngp_kernel", "ntk_kernel", "kernel_fixed_point", "chi1", "kernel_depth_scales",
                 "ntk_depth_limit", "mse_train_prediction", "mse_test_prediction", "jacobian_spectrum_variance")
LR_RESULTS = ("mse_train_prediction", "mse_test_prediction", "ntk_condition_number", "mean_prediction")


@pytest.mark.parametrize("result", WIDTH_RESULTS)
def test_width_axes_start_at_the_checks_width_and_sweep_down(result):
    check = _check(result, "width")
    axis = axes_of(check)["width"]
    widths = check.sizes[axis.key]
    # one width per activation: the wider; a fit through (N, 2N): N
    own = max(widths.values()) if isinstance(widths, dict) else widths[0] if isinstance(widths, tuple) else widths
    assert axis.key in ("width", "widths") and axis.kind == "sizes" and not axis.grows and axis.integer
    assert axis.start == own and axis.lo < own


@pytest.mark.parametrize("result", LR_RESULTS)
def test_linearised_checks_declare_the_lr_axis_with_the_stability_limit(result):
    check = _check(result, "lr")
    axis = axes_of(check)["lr"]
    assert check.method == "gd_linearised" and axis.key == "lr_lambda" and axis.limit == 2.0
    assert axis.diverges is not None


def _floors():
    """Every (check, sizes) that declares a ``units`` floor, on the CPU and on a GPU."""
    seen = {}
    for checks in simulations().values():
        for c in checks:
            for sizes in (c.sizes_on("cpu"), c.sizes_on("cuda")):
                if "units" in sizes:
                    seen[(c.result, c.title, tuple(sorted(map(str, sizes.items()))))] = (c, sizes)
    return list(seen.values())


def test_the_units_floor_changes_nothing_at_a_checks_own_width():
    """``learndyn verify`` runs each check at its own sizes: there the floor must leave the networks as declared."""
    floors = _floors()
    assert len(floors) >= 6
    for c, sizes in floors:
        if isinstance(sizes["width"], dict):
            for act in sizes["width"]:
                assert ntk_kernels.networks_at(sizes, act) == sizes["networks"][act], c.result
        else:
            assert signal_propagation.networks_at(sizes) == sizes["networks"], c.result
            assert ntk_kernels.networks_at(sizes) == sizes["networks"], c.result


def test_the_floor_raises_the_networks_as_the_width_falls():
    sizes = {"width": 1000, "networks": 10, "units": 10000}
    narrow = {**sizes, "width": 7}
    assert signal_propagation.networks_at(narrow) * 7 >= 10000 > (signal_propagation.networks_at(narrow) - 1) * 7
    assert signal_propagation.networks_at({"width": 7, "networks": 10}) == 10  # no floor: as declared


def _median_se(check, sizes, width):
    theory = learndyn.function(check.result, check=False)
    case, sized = apply_axis(axes_of(check)["width"], {"seed": 5, **check.points[0]}, sizes, width)
    ms = check.simulate(case, sized, "cpu")
    se = torch.cat([deviation(check.compare, m, theory).se for m in ms])
    return float(se.median()), ms


def test_the_variance_simulation_runs_at_the_swept_width():
    """Without the floor, a narrower layer's conditional variance is a mean over fewer units: its standard error
    grows like ``1/√N`` (16 times narrower: about 4 times larger); with the floor it does not grow."""
    check = _check("additive_noise_variance_map", "width")
    bare = {k: v for k, v in check.sizes.items() if k != "units"}
    bare["networks"] = 64
    wide, _ = _median_se(check, bare, 512)
    narrow, _ = _median_se(check, bare, 32)
    assert narrow > 2.5 * wide
    floored, ms = _median_se(check, {**bare, "units": 512 * 64}, 32)
    assert next(iter(ms[0].observed.values())).shape[0] == 512 * 64 // 32  # the floor's networks, of 32 units
    assert floored < 0.5 * narrow


def test_the_jacobian_fit_runs_through_the_swept_width_and_its_double():
    check = _check("jacobian_spectrum_variance", "width")
    case, sized = apply_axis(axes_of(check)["width"], {"seed": 3, **check.points[0]}, {**check.sizes, "networks": 8},
                             24)
    (m, *_) = check.simulate(case, sized, "cpu")
    assert m.extrapolation[1] == (1 / 24, 1 / 48) and "widths (24, 48)" in m.where


def test_the_kernel_simulation_runs_at_the_swept_width():
    """The width dict takes the one swept value for both activations, and the run samples networks of that width."""
    check = _check("nngp_kernel", "width")
    sizes = {**check.sizes, "units": {"relu": 2**12, "erf": 2**12}}
    case, sized = apply_axis(axes_of(check)["width"], check.points[0], sizes, 16)
    assert sized["width"] == {"relu": 16, "erf": 16}
    m = check.simulate(case, sized, "cpu")
    assert "of width 16" in m.where
    assert next(iter(m.observed.values())).shape[0] == 2**12 // 16


@pytest.fixture(scope="module")
def tangent():
    """One linearised case, narrow and few networks (cheap), with its step-size protocol."""
    case = dict(ntk_training.POINTS[0])
    sizes = {**ntk_training.SIZES, "width": 64, "networks": 2}
    return case, sizes


def _x(runs):
    n, k = runs.y_train.shape
    lam_max = torch.linalg.eigvalsh(runs.lin.ntk_train_train)[:, -1]
    return runs.lr * lam_max / (n * k)


def test_lr_lambda_sets_the_runs_lr_times_lambda_max(tangent):
    case, sizes = tangent
    default = ntk_training.tangent_runs(case, sizes, "cpu")
    assert torch.allclose(_x(default), torch.full_like(default.lr, ntk_training.X_MAX), rtol=1e-12)
    for x in (0.3, 1.5):
        runs = ntk_training.tangent_runs(case, {**sizes, "lr_lambda": x}, "cpu")
        assert torch.allclose(_x(runs), torch.full_like(runs.lr, x), rtol=1e-12)
        n, k = runs.y_train.shape
        lam_max = torch.linalg.eigvalsh(runs.lin.ntk_train_train)[:, -1]
        assert torch.allclose(runs.converge_lr * lam_max / (n * k), torch.full_like(lam_max, x), rtol=1e-12)
        # the records are at the flow times of the check's own runs
        assert abs(float(runs.coarse.steps[-1]) * x - float(default.coarse.steps[-1]) * ntk_training.X_MAX) \
            <= x + 1e-9


def test_gd_error_before_extrapolation_grows_with_lr(tangent):
    case, sizes = tangent
    check = _check("mse_train_prediction", "lr")
    theory = learndyn.function("mse_train_prediction", check=False)

    def worst(x):
        ms = check.simulate(case, {**sizes, "lr_lambda": x}, "cpu")
        return max(deviation(check.compare, m, theory).worst()[0] for m in ms)

    small, large = worst(0.05), worst(0.4)
    assert 0 < small < large and math.isfinite(large)


def test_the_linearised_gd_stops_converging_at_lr_lambda_two():
    case = ntk_training.POINTS[0]
    assert not ntk_training.linearised_diverges(case, 1.95, "cpu")
    assert ntk_training.linearised_diverges(case, 2.05, "cpu")


def test_a_small_lr_map_finds_a_finite_contour(monkeypatch):
    """GD's limit does not depend on its step size, so ``mean_prediction`` holds until GD stops converging at
    ``lr·λ_max = 2``: a map (narrow networks for speed, one seed, coarse bisection) finds its contours inside the
    axis' bounds, at most at the stability limit, and the simulation diverging beyond it."""
    monkeypatch.setitem(ntk_training.SIZES, "width", 32)
    m = validity_map("mean_prediction", "lr", seeds=1, bisections=2, limit_bisections=3)
    axis = axes_of(_check("mean_prediction", "lr"))["lr"]
    for c in m.contours:
        assert c.beyond is None and c.value is not None and math.isfinite(c.value)
        assert axis.start <= c.value <= axis.limit * 1.01
    assert m.limit is not None and m.limit.agrees
