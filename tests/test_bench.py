"""``learndyn bench``: a quick run has all four groups with rows, its JSON is serialisable, every ratio is positive
and finite; the baselines compute what the fast paths compute."""
from __future__ import annotations

import json
import math

import pytest
import torch

from learndyn.bench import GROUPS, BenchReport, Row, run_bench
from learndyn.bench.kernels import naive_kernel
from learndyn.bench.points import axis_of, draw
from learndyn.bench.simulation import sgd_loop_deep_linear, sgd_loop_scalar

F64 = torch.float64


@pytest.fixture(scope="module")
def quick_report() -> BenchReport:
    return run_bench(None, device="cpu", quick=True)


def test_quick_report_has_every_group_with_rows(quick_report: BenchReport) -> None:
    assert quick_report.groups == GROUPS
    for group in GROUPS:
        assert quick_report.group_rows(group), group
    # closed forms: every family's explicit closed forms
    names = {r.name.split(" @")[0] for r in quick_report.group_rows("closed_forms")}
    assert {"scalar_trajectory", "weight_decay_trajectory", "variance_map", "relu_kernel_map"} <= names


def test_quick_report_json_is_serialisable_and_ratios_positive_finite(quick_report: BenchReport) -> None:
    data = json.loads(json.dumps(quick_report.to_json()))
    assert data["quick"] is True
    for key in ("torch", "sympy", "numpy", "device", "threads", "cpu_model"):
        assert data["provenance"][key] is not None, key
    measured = 0
    for row in data["rows"]:
        assert {"group", "name", "unit", "measured", "baseline", "ratio", "goal", "met"} <= row.keys()
        if row["ratio"] is not None:
            measured += 1
            assert math.isfinite(row["ratio"]) and row["ratio"] > 0, row
        assert row["met"] is None  # no goal is judged on a smoke run
    assert measured >= 40
    text = quick_report.to_table()
    assert all(f"== {g}" in text for g in GROUPS)


def test_row_ratio_goal_and_met() -> None:
    fast = Row("g", "n", "s", 1.0, 4.0, "base", "speedup", goal=3.0)
    assert fast.ratio == 4.0 and fast.met is True
    cost = Row("g", "n", "s", 2.0, 1.0, "base", "cost", goal=1.5, goal_op="<=")
    assert cost.ratio == 2.0 and cost.met is False
    absolute = Row("g", "n", "s", 25.0, 40.0, "base", goal=30.0, goal_op="<=", goal_on="measured")
    assert absolute.met is True
    assert Row("g", "n", "s", None, 1.0, "base", goal=1.0).met is None


def test_unknown_group_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown benchmark group"):
        run_bench(("closed_form",), device="cpu", quick=True)


def test_points_respect_the_domain() -> None:
    import learndyn

    for name in ("mode_learning_time", "relu_kernel_map", "dropout_expected_time", "variance_after_depth"):
        result = learndyn.result(name).result
        for layout in ("axis", "scattered"):
            kw = draw(result, 200, layout=layout, seed=3)
            learndyn.function(name)(**kw)  # raises a DomainError if a point is outside
            varied = [k for k, v in kw.items() if isinstance(v, torch.Tensor) and v.dim()]
            assert varied == [axis_of(result)] if layout == "axis" else len(varied) >= 1


def test_scalar_sgd_loop_matches_the_batched_simulator() -> None:
    from learndyn.verify.simulate import simulate_scalar_network

    lr = torch.tensor([0.01, 0.03], dtype=F64)
    w0 = torch.full((2,), 1e-3 ** 0.5, dtype=F64)
    w1, w2 = sgd_loop_scalar(1.0, 2.0, w0, w0, lr, 50)
    run = simulate_scalar_network(1.0, 2.0, 1e-3, lr, 50, record_every=50, device="cpu")
    assert torch.allclose(run.w1[-1], w1, rtol=1e-13, atol=0)
    assert torch.allclose(run.w2[-1], w2, rtol=1e-13, atol=0)


def test_deep_linear_fast_path_matches_autograd_and_the_sgd_loop() -> None:
    """The bench's configuration (3 × 8×8 on 64 whitened examples): the correlation form (which takes W Σ11 as W for
    whitened data) against autograd on the data and against nn.Linear + torch.optim.SGD, to round-off."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    data = whitened_dataset([3.0, 2.0, 1.0, 0.5], 8, 8, 64, seed=0, device="cpu")
    gen = torch.Generator().manual_seed(1)
    init = [0.3 / 8 ** 0.5 * torch.randn(3, 8, 8, dtype=F64, generator=gen) for _ in range(3)]
    lr = torch.tensor([0.005, 0.01, 0.02], dtype=F64)
    fast = simulate_deep_linear(data, 3, lr, 40, init=init, record_every=40)
    auto = simulate_deep_linear(data, 3, lr, 40, init=init, record_every=40, gradient="autograd")
    loop = sgd_loop_deep_linear(data.X, data.Y, init, lr, 40)
    for wf, wa, wl in zip(fast.weights_final, auto.weights_final, loop):
        assert (wf - wa).abs().max() < 1e-13
        assert (wf - wl).abs().max() < 1e-13
    assert (fast.loss - auto.loss).abs().max() < 1e-13
    assert (fast.loss[-1] < fast.loss[0] - 0.05).all()  # it learned: the comparison is not vacuous


def test_naive_kernel_recursion_agrees_with_learndyn_on_generic_inputs() -> None:
    import learndyn

    x = torch.randn(6, 5, dtype=F64, generator=torch.Generator().manual_seed(2))
    for name, output in (("nngp_kernel", "nngp"), ("ntk_kernel", "ntk")):
        for activation, w, b in (("relu", 2.0, 0.1), ("erf", 1.5, 0.05)):
            ours = learndyn.function(name)(x, None, 3, w, b, activation)
            theirs = naive_kernel(x, 3, w, b, activation, output)
            assert torch.allclose(ours, theirs, rtol=1e-10, atol=0), (name, activation)


def test_pure_python_reference_solver_converges_to_float64() -> None:
    """The baseline used without scipy (the README's test command installs none) meets float64 convergence on
    roots of every scale, and the solver group runs with it."""
    from learndyn.bench.solvers import illinois

    for target in (2.0 ** (1 / 3), 1e-200, 7.5e150, 0.3):
        for g in (lambda x: math.log(x / target), lambda x: (x / target) ** 3 - 1.0):
            root = illinois(g, target / 4, target * 4)
            assert abs(root - target) <= 8 * math.ulp(target), (target, root)


def test_solver_group_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    from learndyn.bench import solvers

    solvers.reference_solver.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "scipy", None)
    monkeypatch.setitem(__import__("sys").modules, "scipy.optimize", None)
    try:
        assert solvers.reference_solver().startswith("Illinois")
        rows = solvers.run_solvers(device="cpu", quick=True)
        assert rows and all(r.ratio is None or (math.isfinite(r.ratio) and r.ratio > 0) for r in rows)
    finally:
        solvers.reference_solver.cache_clear()


# -- the similarity group -------------------------------------------------------------------------------------------

def test_similarity_baselines_compute_what_learndyn_computes() -> None:
    """The naive covariance-inverse SVCCA (batched and looped) and the Gram-matrix CKA agree with learndyn on the
    bench's (well-conditioned) activations, so the ratios compare the same computation."""
    from learndyn.bench.similarity import layer_activations, naive_cka_loop, naive_svcca_batched, naive_svcca_loop
    from learndyn.similarity import linear_cka, svcca

    acts = layer_activations(3, 64, 8, seed=1)
    ours = svcca(acts[:, None], acts[None], 4)
    assert torch.allclose(naive_svcca_batched(acts, 4), ours, rtol=0, atol=1e-10)
    assert torch.allclose(naive_svcca_loop(acts, 4), ours, rtol=0, atol=1e-10)
    assert torch.allclose(naive_cka_loop(acts), linear_cka(acts[:, None], acts[None]), rtol=0, atol=1e-12)


def test_similarity_group_without_google_svcca(monkeypatch: pytest.MonkeyPatch) -> None:
    from learndyn.bench.similarity import SVCCA_PATH_VARIABLE, google_cca_core, run_similarity

    monkeypatch.delenv(SVCCA_PATH_VARIABLE, raising=False)
    assert google_cca_core() is None
    rows = run_similarity(device="cpu", quick=True)
    assert [r.ratio is None for r in rows] == [False, False, True, False]
    assert "skipped" in rows[2].note and SVCCA_PATH_VARIABLE in rows[2].note
    assert all(r.details["max_abs_difference_to_naive"] < 1e-10 for r in rows if r.ratio is not None)
    monkeypatch.setenv(SVCCA_PATH_VARIABLE, "/nonexistent/svcca")
    assert google_cca_core() is None


def test_similarity_group_with_a_google_svcca_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The optional baseline is loaded from ``$LEARNDYN_SVCCA_PATH`` (a directory holding ``cca_core.py``) and run on
    the same activations; a stand-in with google's signature (CCA by QR in numpy) exercises the path here."""
    from learndyn.bench.similarity import SVCCA_PATH_VARIABLE, google_cca_core, run_similarity

    (tmp_path / "cca_core.py").write_text(
        "import numpy as np\n"
        "def get_cca_similarity(acts1, acts2, epsilon=0.0, threshold=0.98, compute_coefs=True, compute_dirns=False,\n"
        "                       verbose=True):\n"
        "    qa = np.linalg.qr((acts1 - acts1.mean(1, keepdims=True)).T)[0]\n"
        "    qb = np.linalg.qr((acts2 - acts2.mean(1, keepdims=True)).T)[0]\n"
        "    return {'cca_coef1': np.linalg.svd(qa.T @ qb, compute_uv=False)}\n")
    monkeypatch.setenv(SVCCA_PATH_VARIABLE, str(tmp_path))
    assert google_cca_core() is not None
    rows = run_similarity(device="cpu", quick=True)
    google_row = rows[2]
    assert google_row.ratio is not None and math.isfinite(google_row.ratio) and google_row.ratio > 0
    assert google_row.details["max_abs_difference_to_google"] < 1e-12
