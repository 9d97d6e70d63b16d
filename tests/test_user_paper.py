"""``learndyn latex --module MODULE --out DIR``: the paper of a family of your own (the tutorial builds its PDF)."""
from __future__ import annotations

from click.testing import CliRunner

from learndyn.cli import main

MODULE = "examples/my_results.py"


def test_latex_module_needs_its_derivation_and_names_the_command(tmp_path):
    r = CliRunner().invoke(main, ["latex", "--module", MODULE, "--out", str(tmp_path / "none"), "-o", str(tmp_path / "p.tex")])
    assert r.exit_code != 0 and "learndyn derive --module" in r.output
    assert not (tmp_path / "p.tex").exists()


def test_latex_module_usage_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["latex", "--module", MODULE])
    assert r.exit_code == 2 and "--module and --out go together" in r.output
    r = runner.invoke(main, ["latex", "chi1", "--module", MODULE, "--out", str(tmp_path)])
    assert r.exit_code == 2 and "drop NAMES" in r.output
    (tmp_path / "v.json").write_text("{}", encoding="utf-8")
    r = runner.invoke(main, ["latex", "chi1", "--verification", str(tmp_path / "v.json")])
    assert r.exit_code == 2 and "--verification goes with --module" in r.output


def test_latex_module_document_has_the_section_bibliography_and_verification(tmp_path):
    runner = CliRunner()
    out = tmp_path / "gen"
    assert runner.invoke(main, ["derive", "--module", MODULE, "--out", str(out)]).exit_code == 0
    run = tmp_path / "v.json"
    r = runner.invoke(main, ["verify", "--module", MODULE, "--out", str(out), "--examples", "2", "--tier", "a", "--json"])
    assert r.exit_code == 0, r.output
    run.write_text(r.output[r.output.index("{"):], encoding="utf-8")
    r = runner.invoke(main, ["latex", "--module", MODULE, "--out", str(out), "--verification", str(run),
                             "-o", str(tmp_path / "paper.tex")])
    assert r.exit_code == 0, r.output
    tex = (tmp_path / "paper.tex").read_text(encoding="utf-8")
    assert r"\section{Verification}" in tex and r"\bibliography{paper}" in tex
    assert (out / "regression.tex").read_text(encoding="utf-8").strip() in tex
    assert "saxe2014exact" in (tmp_path / "paper.bib").read_text(encoding="utf-8")
