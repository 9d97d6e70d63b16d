"""The command line as a new user meets it (issue 16): start-up without torch or SymPy, the catalogue
(`info`, `list --params`), `eval` with matrices and files, options validated before anything runs, help texts,
`data` serving every figure, and progress on long commands."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import learndyn
from learndyn.cli import main

REPO = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


# ------------------------------------------------------------------------------------------- start-up

_WRAPPER = (
    "import sys\n"
    "from learndyn.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:], prog_name='learndyn')\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "heavy = sorted(m for m in ('torch', 'sympy', 'mpmath', 'numpy') if m in sys.modules)\n"
    "print('HEAVY', ','.join(heavy), 'EXIT', code)\n"
)


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "--params"], ["list", "--params", "--json"],
                                  ["info", "scalar_trajectory"], ["info", "noise_limits_depth", "ntk_kernel"],
                                  ["eval", "--help"], ["verify", "--help"], ["info", "no_such_name"]],
                         ids=" ".join)
def test_light_commands_import_neither_torch_nor_sympy(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("HEAVY"), proc.stdout + proc.stderr
    assert last.split()[1] == "EXIT", f"learndyn {' '.join(args)} imported {last.split()[1]}"
    assert last.split()[-1] == ("1" if "no_such_name" in args else "0"), proc.stdout + proc.stderr


def test_import_learndyn_is_lazy() -> None:
    code = ("import sys, learndyn\n"
            "assert 'torch' not in sys.modules and 'sympy' not in sys.modules\n"
            "assert learndyn.results()[0] == 'scalar_trajectory' and 'torch' not in sys.modules\n"
            "assert set(learndyn.__all__) <= set(dir(learndyn))\n"
            "from learndyn import DomainError\n"
            "assert issubclass(DomainError, ValueError) and 'torch' in sys.modules\n"
            "print(float(learndyn.function('mode_trajectory')(t=0.0, s=2.0, u0=0.25, tau=1.0)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) == 0.25
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        learndyn.nope  # noqa: B018


# ------------------------------------------------------------------------------------------ catalogue


def test_catalogue_holds_the_declarations() -> None:
    from learndyn.catalogue import load_catalogue
    from learndyn.derive.registry import families

    cat = load_catalogue()
    assert list(cat["results"]) == sorted(learndyn.results())
    assert [n for f in cat["families"] for n in f["results"]] == learndyn.results()
    for fam in families():
        for r in fam.results:
            record = cat["results"][r.name]
            assert [p["name"] for p in record["params"]] == list(r.names)
            assert [p["domain"] for p in record["params"]] == [str(p.domain) for p in r.params]
            assert record["assumptions"] == list(r.assumptions) and record["source"]["cite"] == r.source.cite
        for c in fam.claims:
            assert cat["claims"][c.name]["statement"] == c.statement and cat["claims"][c.name]["about"] == list(c.about)


def test_info_describes_a_result() -> None:
    r = invoke("info", "scalar_trajectory")
    assert r.exit_code == 0, r.output
    out = r.output
    for needle in ("Learning dynamics of the scalar linear network", "x: scalar input", "domain      (0.0, inf)",
                   "test        [1e-06, 1000000000.0], log-uniform, always including 0.0", "simulation  [0.5, 2.0]",
                   "Defining equation (ode):", "Eq(Derivative(u(t), t)", "published form (", "u(t) = y*exp(",
                   "derived closed form:", "at y = 0 (removable singularity)", "Outputs: one tensor",
                   "balanced start", "Source: ", "saxe2014exact",
                   "learndyn eval scalar_trajectory t=... x=... y=... u0=... lr=..."):
        assert needle in out, needle
    several = invoke("info", "shifted_relu_critical_point").output
    assert "Outputs: q_star, active_fraction, sigma_w (a NamedTuple)" in several
    assert "uf strictly between u0 and s" in invoke("info", "mode_learning_time").output


def test_info_describes_a_claim_and_suggests_names() -> None:
    r = invoke("info", "noise_limits_depth")
    assert r.exit_code == 0 and "About: correlation_fixed_point" in r.output and "pretorius2018critical" in r.output
    bad = invoke("info", "scalar_trajectori")
    assert bad.exit_code != 0 and "did you mean scalar_trajectory" in bad.output
    data = json.loads(invoke("info", "chi1", "--json").stdout)
    assert [p["name"] for p in data["chi1"]["params"]] == ["sigma_w2", "sigma_b2", "activation"]


def test_list_params() -> None:
    r = invoke("list", "--params")
    assert r.exit_code == 0, r.output
    assert "deep_mode_time(s, u0, uf, tau, depth): s ∈ (0.0, inf)" in r.output
    assert "depth: integer >= 1; uf strictly between u0 and s" in r.output
    assert "activation: one of 'relu', 'erf'" in r.output
    data = json.loads(invoke("list", "--params", "--json").stdout)
    assert data["families"]["linear"]["scalar_trajectory"][1]["domain"] == "(0.0, inf)"
    assert json.loads(invoke("list", "--json").stdout)["families"]["linear"][0] == "scalar_trajectory"


# -------------------------------------------------------------------------------------------------- eval

KERNEL = dict(hidden_layers=2, sigma_w2=1.5, sigma_b2=0.1, activation="erf")
X1 = [[1.0, 0.0], [0.6, 0.8], [-0.5, 2.0]]


def _kernel_args(x1: str, *extra: str) -> list[str]:
    return ["eval", "ntk_kernel", f"x1={x1}", *(f"{k}={v}" for k, v in KERNEL.items()), *extra]


def test_eval_takes_a_json_matrix_with_optional_x2() -> None:
    ref = learndyn.function("ntk_kernel")(torch.tensor(X1, dtype=torch.float64), None, **KERNEL)
    r = invoke(*_kernel_args(json.dumps(X1)))
    assert r.exit_code == 0, r.output
    assert torch.tensor(json.loads(r.stdout), dtype=torch.float64).equal(ref)
    r = invoke(*_kernel_args(json.dumps(X1), "x2=null"))
    assert torch.tensor(json.loads(r.stdout), dtype=torch.float64).equal(ref)
    r = invoke(*_kernel_args(json.dumps(X1), f"x2={json.dumps(X1[:2])}"))
    assert torch.tensor(json.loads(r.stdout), dtype=torch.float64).equal(ref[:, :2])


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".json"])
def test_eval_reads_a_matrix_from_a_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x1{suffix}"
    if suffix == ".npy":
        np.save(path, np.array(X1))
    elif suffix == ".csv":
        np.savetxt(path, np.array(X1), delimiter=",", fmt="%.17g")
    else:
        path.write_text(json.dumps(X1))
    ref = learndyn.function("ntk_kernel")(torch.tensor(X1, dtype=torch.float64), None, **KERNEL)
    r = invoke(*_kernel_args(f"@{path}"))
    assert r.exit_code == 0, r.output
    assert torch.tensor(json.loads(r.stdout), dtype=torch.float64).equal(ref)


def test_eval_json_array_for_a_real_parameter_broadcasts() -> None:
    r = invoke("eval", "mode_trajectory", "t=[[0], [1]]", "s=2", "u0=0.1,0.2", "tau=1")
    assert r.exit_code == 0, r.output
    got = torch.tensor(json.loads(r.stdout), dtype=torch.float64)
    ref = learndyn.function("mode_trajectory")(t=torch.tensor([[0.0], [1.0]], dtype=torch.float64), s=2.0,
                                               u0=torch.tensor([0.1, 0.2], dtype=torch.float64), tau=1.0)
    assert got.shape == (2, 2) and got.equal(ref)


@pytest.mark.parametrize("args,needles", [
    (["eval", "scalar_trajectory", "t=1", "x=1", "y=2", "u0=0.1", "lr=0.01", "lr=0.02"], ["lr", "twice"]),
    (_kernel_args("[[1, 2], [3"), ["x1", "JSON"]),
    (_kernel_args('[["a", "b"]]'), ["x1", "numbers"]),
    (_kernel_args("@/no/such/file.npy"), ["x1", "no such file"]),
    (_kernel_args("[1, 2]"), ["x1", "2-d tensor"]),
    (["eval", "ntk_kernel", "x2=[[1.0]]", *(f"{k}={v}" for k, v in KERNEL.items())], ["x1=..."]),
    (["eval", "chi1", "sigma_w2=1", "sigma_b2=0.1", "activation=tanh"], ["activation", "'relu', 'erf'"]),
])
def test_eval_rejects_bad_arguments(args, needles) -> None:
    r = invoke(*args)
    assert r.exit_code != 0
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    for needle in needles:
        assert needle in r.output, (needle, r.output)


# ------------------------------------------------------------------------------ options checked first


@pytest.mark.parametrize("args", [
    ["verify", "--examples", "0"], ["verify", "--seed", "-1"], ["report", "-o", "r", "--examples", "0"],
    ["report", "-o", "r", "--seed", "-1"], ["data", "scalar_learning_curve", "--seed", "-1"],
    ["figures", "-o", "f", "--seed", "-1"], ["digits", "--width", "0"], ["digits", "--steps", "0"],
    ["digits", "--lr", "0"], ["digits", "--n-train", "0"], ["digits", "--n-test", "0"], ["digits", "--seed", "-2"],
    ["digits", "--depths", "0,2"], ["digits", "--trained", "x"],
], ids=" ".join)
def test_numeric_options_are_validated_before_anything_runs(args, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = invoke(*args)
    assert r.exit_code == 2, r.output  # a usage error: nothing ran
    assert "Invalid value" in r.output
    assert not any(tmp_path.iterdir())


def test_latex_body_pdf_refused_before_writing(tmp_path: Path) -> None:
    r = invoke("latex", "chi1", "--body", "--pdf", "-o", str(tmp_path / "x.tex"))
    assert r.exit_code == 2 and "drop --body" in r.output
    assert not any(tmp_path.iterdir())


def test_latex_pdf_without_engine_fails_before_writing(tmp_path: Path, monkeypatch) -> None:
    import learndyn.latex_build as lb

    def no_engine():
        raise lb.LatexUnavailable("no LaTeX engine found (pdflatex)")

    monkeypatch.setattr(lb, "latex_engine", no_engine)
    r = invoke("latex", "chi1", "--pdf", "-o", str(tmp_path / "x.tex"))
    assert r.exit_code == 1 and "no LaTeX engine found" in r.output and "drop --pdf" in r.output
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------------------- help and listings


def test_every_command_has_a_whole_short_help() -> None:
    for name, cmd in main.commands.items():
        assert cmd.short_help and not cmd.short_help.rstrip().endswith("e.g."), name
    r = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert "Evaluate a result at given parameter values." in r.output
    assert "..." not in r.output.split("Commands:")[1]


@pytest.mark.parametrize("command", ["verify", "report"])
def test_names_are_explained(command: str) -> None:
    text = " ".join(invoke(command, "--help").output.split())
    assert "NAMES are result names" in text and "learndyn list" in text and "claims" in text


def test_verify_refuses_a_claim_name_with_a_hint() -> None:
    r = invoke("verify", "noise_limits_depth")
    assert r.exit_code == 2 and "is a claim" in r.output and "trainable_depth" in r.output


def test_data_lists_every_figure() -> None:
    from learndyn.verify.figures import FIGURES

    r = invoke("data")
    assert r.exit_code == 0, r.output
    assert [line.split(" ")[0] for line in r.output.splitlines()] == list(FIGURES)
    bad = invoke("data", "nope")
    assert bad.exit_code != 0 and "unknown figure 'nope'" in bad.output


def test_figures_refusal_speaks_cli(tmp_path: Path) -> None:
    (tmp_path / "scalar_learning_curve.png").write_bytes(b"mine")
    r = invoke("figures", "scalar_learning_curve", "-o", str(tmp_path), "--quick")
    assert r.exit_code == 1 and "pass --force to overwrite it" in r.output and "force=True" not in r.output
    assert (tmp_path / "scalar_learning_curve.png").read_bytes() == b"mine"


# ---------------------------------------------------------------------------------------------- progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_plain_lines_off_a_terminal() -> None:
    from learndyn.progress import Progress

    stream = io.StringIO()
    with Progress("verify", 3, unit="check", stream=stream) as p:
        for label in ("a: tier a", "b: tier a", "claim c"):
            p.start(label)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("verify: 1/3 a: tier a (00:0") and lines[0].endswith(" elapsed)")
    assert lines[2].startswith("verify: 3/3 claim c (")
    assert lines[3].startswith("verify: 3 checks in 00:0")


def test_progress_bar_on_a_terminal_shows_n_of_m_and_eta() -> None:
    from learndyn.progress import Progress

    stream = _Terminal()
    p = Progress("figures", 4, unit="figure", stream=stream)
    p.done("one")
    p.done("two")
    text = stream.getvalue()
    p.close()
    assert "2/4" in text and "<" in text and "two" in text  # N of M, elapsed<remaining, the current step
    assert stream.getvalue().rstrip().splitlines()[-1].startswith("figures: 2 figures in ")


def test_plan_verification_matches_the_progress_of_a_run(monkeypatch) -> None:
    """The labels a run reports, in order, are what plan_verification promises (checks replaced by stubs; tier b
    is left out here: it simulates, and its labels are :func:`learndyn.verify.tier_b.suite.tier_b_labels`)."""
    from types import SimpleNamespace

    from learndyn.derive import registry
    from learndyn.verify import closed_form, flow_checks, kernel_checks, runner
    from learndyn.verify.report import Check

    def stub(*args, **kwargs):
        return Check("stub", "a", 1, 0.0, 1.0, "-", True, "")

    for module, name in ((closed_form, "check_closed_form"), (flow_checks, "check_flow"), (kernel_checks, "check_kernel")):
        monkeypatch.setattr(module, name, stub)
    monkeypatch.setattr(runner, "_guarded", stub)
    monkeypatch.setattr(registry, "derivation", lambda name: SimpleNamespace(spectral=(), result=SimpleNamespace(params=())))
    for names, tiers in ((None, ("a", "claims")), (["dae_trajectory", "chi1"], ("claims",)), (None, ("a",))):
        seen: list[str] = []
        runner.run_verification(names, tiers=tiers, progress=seen.append)
        assert runner.plan_verification(names, tiers) == seen, (names, tiers)
    assert len(runner.plan_verification(None)) > 70
    with pytest.raises(KeyError, match="unknown result"):
        runner.plan_verification(["nope"])


def test_verify_reports_progress_off_a_terminal() -> None:
    r = invoke("verify", "mode_learning_time", "--tier", "a", "--examples", "5", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "verify: 1/1 mode_learning_time: tier a (00:" in r.stderr
    assert "verify: 1 check in " in r.stderr.splitlines()[-1]


def test_verify_power_progress_counts_the_power_steps_whatever_the_tiers() -> None:
    """``--power`` measures power also where ``--tier`` leaves tier b out: its steps are in the total."""
    r = invoke("verify", "mode_learning_time", "--power", "--tier", "a", "--examples", "1", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "verify: 1/2 mode_learning_time: tier a (00:" in r.stderr
    assert "verify: 2/2 mode_learning_time: power (00:" in r.stderr


def test_derive_reports_progress_off_a_terminal(tmp_path: Path) -> None:
    r = invoke("derive", "--module", str(REPO / "examples" / "my_results.py"), "--out", str(tmp_path), "--no-cache")
    assert r.exit_code == 0, r.output
    assert "derive: 1/1 linear_regression_trajectory (00:" in r.stderr
    assert "derive: 1 result in " in r.stderr
