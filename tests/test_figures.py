"""Tests of ``learndyn.verify.figures`` (``learndyn figures``): files, determinism, errors, and — the point of the
figures — that theory and simulation agree within the tolerance each figure's data justifies, and would not if the
theory were wrong (each figure's main result is perturbed by a few per cent and its agreement must fail).

Every figure is rendered once with ``quick=True`` (module fixture, about 30 s on two loaded cores); its data are kept
by wrapping the catalogue's data functions, so the agreement tests reuse them.
"""
from __future__ import annotations

import dataclasses
import json
import math
import struct

import pytest
import torch
from click.testing import CliRunner

import learndyn
from learndyn.verify.figures import FIGURES, FigureSpec, figure_paths, render_figures, summary, worst_ratio

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, one_torch_thread):
    """``(folder, returned paths, progress calls, data by name)`` of one quick rendering of every figure."""
    out = tmp_path_factory.mktemp("figures")
    data: dict[str, dict] = {}
    original = dict(FIGURES)

    def recording(spec: FigureSpec) -> FigureSpec:
        def data_fn(**kw):
            data[spec.name] = spec.data(**kw)
            return data[spec.name]

        return dataclasses.replace(spec, data=data_fn)

    FIGURES.update({name: recording(spec) for name, spec in original.items()})
    seen: list[str] = []
    try:
        paths = render_figures(out / "new", quick=True, seed=0, device="cpu", progress=seen.append)
    finally:
        FIGURES.update(original)
    return out / "new", paths, seen, data


def _png_size(blob: bytes) -> tuple[int, int]:
    assert blob[:8] == PNG_MAGIC and blob[12:16] == b"IHDR"
    return struct.unpack(">II", blob[16:24])


def test_every_figure_is_written_as_png_and_pdf(rendered) -> None:
    out, paths, seen, _ = rendered
    assert seen == list(FIGURES)  # progress after each figure, in catalogue order
    assert paths == [p for name in FIGURES for p in figure_paths(out, name)]
    for path in paths:
        blob = path.read_bytes()
        if path.suffix == ".png":
            width, height = _png_size(blob)
            assert 800 <= width <= 4000 and 400 <= height <= 3000, (path.name, width, height)
            assert blob.endswith(b"IEND\xaeB`\x82")
            assert b"matplotlib" not in blob  # no Software key
        else:
            assert blob.startswith(b"%PDF-") and blob.rstrip().endswith(b"%%EOF"), path.name
            assert b"CreationDate" not in blob and b"Producer" not in blob and b"ModDate" not in blob
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)


def test_data_are_json_and_carry_their_settings(rendered) -> None:
    *_, data = rendered
    for name, d in data.items():
        json.dumps(d)
        assert d["settings"] and d["agreement"], name
        for record in d["agreement"]:
            assert record["points"] > 0 and record["tolerance"], (name, record)


@pytest.mark.parametrize("name", list(FIGURES))
def test_theory_and_simulation_agree(rendered, name: str) -> None:
    """Every compared quantity within its tolerance (``|deviation| / tolerance ≤ 1``)."""
    d = rendered[3][name]
    assert worst_ratio(d) <= 1.0, summary(d)


def _perturbed(monkeypatch, name: str, change) -> None:
    """Make ``learndyn.function(name)`` return ``change(real function, keywords)``."""
    real = learndyn.function

    def function(requested, *args, **kw):
        fn = real(requested, *args, **kw)
        if requested != name:
            return fn
        return lambda **call: change(fn, call)

    monkeypatch.setattr(learndyn, "function", function)


def _scale(factor: float):
    return lambda fn, call: fn(**call) * factor


def _shift(keyword: str, factor: float):
    return lambda fn, call: fn(**{**call, keyword: call[keyword] * factor})


# (figure, result perturbed, how): a few per cent where the simulation resolves that (quick sizes); measured worst
# ratios with these perturbations are 1.8 … 1e4
POWER = [
    ("scalar_learning_curve", "scalar_trajectory", _scale(1.01)),
    ("deep_linear_modes", "deep_mode_trajectory", _scale(1.01)),
    ("weight_decay_vs_noise", "dae_trajectory", _scale(1.01)),
    ("weight_decay_vs_noise", "weight_decay_trajectory", _scale(1.01)),
    ("dropout_time", "dropout_expected_time", _scale(1.05)),
    ("dropout_time", "dropout_time_bound", _scale(0.95)),
    ("variance_dynamics", "variance_after_depth", _shift("mu2", 1.1)),  # 10 % more growth per layer
    ("correlation_dynamics", "correlation_map", _scale(0.98)),
    ("fixed_point_vs_noise", "correlation_fixed_point", _scale(0.85)),
    ("fixed_point_vs_noise", "correlation_slope", _scale(1.2)),
    ("margin_curves", "classification_mode_trajectory", _scale(1.01)),
    ("failure_phase_diagram", "wrong_sign_crossing_time", _scale(1.01)),
    ("starvation", "starved_margin", _scale(1.01)),
    ("starvation", "classification_mode_trajectory", _shift("t", 1.01)),  # the control's clock 1 % fast
    ("generalisation_curves", "gd_generalisation_error", _scale(1.01)),
    ("generalisation_curves", "gd_training_error", _scale(1.01)),
    ("generalisation_curves", "generalisation_error", _scale(1.01)),
    ("generalisation_curves", "training_error", _shift("t", 1.02)),  # the flow's clock 2 % fast
    ("overtraining_peak", "overtraining", _scale(1.05)),
    ("overtraining_peak", "optimal_stopping_time",
     lambda fn, call: fn(**call)._replace(min_error=fn(**call).min_error * 1.01)),
    ("stopping_time_scaling", "optimal_stopping_time",
     lambda fn, call: fn(**call)._replace(t_opt=fn(**call).t_opt * 1.01)),
    ("ntk_phase_diagram", "kernel_depth_scales", lambda fn, call: fn(**call)._replace(xi_c=fn(**call).xi_c * 1.01)),
    ("ntk_depth_metrics", "chi1", _scale(1.05)),
    ("ntk_mse_dynamics", "ntk_kernel", _scale(1.25)),
]


@pytest.mark.parametrize("figure,result,change", POWER, ids=[f"{f}-{r}" for f, r, _ in POWER])
def test_a_wrong_theory_fails(monkeypatch, figure: str, result: str, change) -> None:
    """The same quick data with the theory perturbed: the agreement must fail (so the test above has power)."""
    _perturbed(monkeypatch, result, change)
    d = FIGURES[figure].data(seed=0, device="cpu", quick=True)
    assert worst_ratio(d) > 1.0, f"{result} perturbed, yet:\n{summary(d)}"


def test_files_are_deterministic(tmp_path) -> None:
    """The same seed and device give byte-identical PNG and PDF files (a seeded simulation: dropout_time)."""
    first = render_figures(tmp_path / "a", ["dropout_time"], seed=3, quick=True)
    second = render_figures(tmp_path / "b", ["dropout_time"], seed=3, quick=True)
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = render_figures(tmp_path / "c", ["dropout_time"], seed=4, quick=True)
    assert other[0].read_bytes() != first[0].read_bytes()  # the seed reaches the simulation


def test_existing_files_need_force(tmp_path) -> None:
    """``FileExistsError`` naming the file and ``--force``, raised before anything is computed or written."""
    paths = render_figures(tmp_path, ["scalar_learning_curve"], quick=True)
    before = [p.read_bytes() for p in paths]
    with pytest.raises(FileExistsError) as err:
        render_figures(tmp_path, ["scalar_learning_curve"], quick=True)
    assert "scalar_learning_curve.png" in str(err.value) and "--force" in str(err.value)
    (tmp_path / "deep_linear_modes.pdf").write_bytes(b"")
    with pytest.raises(FileExistsError, match="deep_linear_modes.pdf"):
        render_figures(tmp_path, ["dropout_time", "deep_linear_modes"], quick=True)
    assert not (tmp_path / "dropout_time.png").exists()  # checked before the first figure
    assert [p.read_bytes() for p in paths] == before
    again = render_figures(tmp_path, ["scalar_learning_curve"], quick=True, force=True)
    assert again == paths


def test_unknown_figure_names_the_known_ones(tmp_path) -> None:
    with pytest.raises(KeyError) as err:
        render_figures(tmp_path / "x", ["scalar_learning_curve", "phase_portrait"])
    message = str(err.value.args[0])
    assert "phase_portrait" in message and all(name in message for name in FIGURES)
    assert not (tmp_path / "x").exists()


def test_catalogue() -> None:
    known = set(learndyn.results())
    seeds = {"000": (1, 2), "001": (3, 7), "002": (5,), "003": (6,), "004": (4,)}
    for name, spec in FIGURES.items():
        assert spec.name == name and spec.results and set(spec.results) <= known, name
        assert spec.family in seeds[spec.seed], name
        assert spec.caption and "\n" not in spec.caption and spec.caption.count("$") % 2 == 0, name
        assert callable(spec.data) and callable(spec.plot)


SEED003 = ("generalisation_curves", "overtraining_peak", "stopping_time_scaling")


def test_seed003_figures(rendered) -> None:
    """Seed 003 (family 6): the quick data are deterministic for a seed and the seed reaches the simulation; they show
    what the captions say — E_t falls while E_g has an interior minimum in GD; overtraining rises towards α = 1 from
    both sides in theory and simulation while min_t E_g stays finite there; the stopping-time asymptotes hold."""
    from learndyn.verify.figures import data_seed003

    data = rendered[3]
    assert list(FIGURES)[list(FIGURES).index("starvation") + 1:][:3] == list(SEED003)  # catalogue order: seed 003
    again = data_seed003.stopping_time_scaling(seed=0, device="cpu", quick=True)
    assert json.dumps(again) == json.dumps(data["stopping_time_scaling"])
    other = data_seed003.stopping_time_scaling(seed=1, device="cpu", quick=True)
    assert other["series"][0]["simulation"] != again["series"][0]["simulation"]
    assert other["series"][0]["t_line"] == again["series"][0]["t_line"]  # the theory does not depend on the seed

    for panel in data["generalisation_curves"]["panels"]:
        sim = panel["simulation"]
        train, gen = torch.tensor(sim["training"]), torch.tensor(sim["generalisation"])
        assert bool((train[1:] <= train[:-1] * (1 + 1e-12)).all()), panel["alpha"]  # GD on a quadratic, lr < 1/λ_max
        low = int(gen.argmin())
        assert 0 < low < gen.numel() - 1 and float(gen[-1]) > float(gen[low]) + 5 * sim["generalisation_se"][-1]

    over = data["overtraining_peak"]
    alpha, sim = over["alpha"], over["simulation"]["overtraining"]
    left = [v for a, v in zip(alpha, sim) if a < 1 and v is not None]
    right = [v for a, v in zip(alpha, sim) if a > 1 and v is not None]
    assert left == sorted(left) and right == sorted(right, reverse=True) and left and right
    line = torch.tensor(over["overtraining_line"])
    peak = over["alpha_line"][int(line.argmax())]
    assert abs(math.log(peak)) < 0.02
    at_one = alpha.index(1.0)
    assert sim[at_one] is None and math.isfinite(over["simulation"]["min_error"][at_one])

    records = {a["quantity"].split(":")[0]: a for a in data["stopping_time_scaling"]["agreement"]}
    assert records["asymptote α ≠ 1"]["points"] == 2 and records["asymptote α = 1"]["worst_ratio"] < 0.1


def test_cli_figures(tmp_path) -> None:
    from learndyn.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["figures", "scalar_learning_curve", "-o", str(tmp_path), "--quick", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "scalar_learning_curve.pdf").exists() and "wrote" in res.output
    res = runner.invoke(main, ["figures", "scalar_learning_curve", "-o", str(tmp_path), "--quick", "--device", "cpu"])
    assert res.exit_code != 0 and "--force" in res.output
    res = runner.invoke(main, ["figures", "nope", "-o", str(tmp_path / "n"), "--quick"])
    assert res.exit_code != 0 and "nope" in res.output


def test_figure_data_deviation_standard_error() -> None:
    """figure_data's seed-001 series give the standard error of each network's deviation from the theory iterated
    from its own first layer: zero at the first layer, finite and positive beyond."""
    d = learndyn.figure_data("variance_dynamics", depth=4, width=200, networks=6)
    for s in d["series"]:
        dev = s["deviation_standard_error"]
        assert len(dev) == 4 and dev[0] == pytest.approx(0.0, abs=1e-12) and all(v > 0 for v in dev[1:]), dev
    c = learndyn.figure_data("correlation_dynamics", depth=3, width=200, networks=6, cosines=(0.5,))
    assert all(math.isfinite(v) for s in c["series"] for v in s["deviation_standard_error"])
    assert torch.isfinite(torch.tensor(c["series"][0]["theory"])).all()
