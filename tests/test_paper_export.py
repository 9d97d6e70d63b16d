"""The paper export: prose notation, the standalone document and its bibliography, the body fragment, a
compiled PDF with no undefined references or citations and no overfull lines, and the report."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from learndyn.cli import main
from learndyn.derive.bibliography import REFERENCES
from learndyn.derive.latex import bibliography_bibtex, cited_keys, latex_body, latex_document
from learndyn.derive.latex_prose import prose_latex

HAVE_TEX = shutil.which("pdflatex") is not None
needs_tex = pytest.mark.skipif(not HAVE_TEX, reason="no pdflatex (apt-get install texlive-latex-base latexmk)")


@pytest.mark.parametrize("text, expected", [
    ("σ_w²", r"\ensuremath{\sigma_{w}^{2}}"),
    ("q* = 1", r"\ensuremath{q^{*}} = 1"),
    ("χ1 < 1", r"\ensuremath{\chi_{1}} \textless{} 1"),
    ("Θ⁻¹ Y", r"\ensuremath{\Theta^{-1}} Y"),
    ("e^{−2γt/τ}", r"\ensuremath{e^{-2\gamma t/\tau}}"),
    ("Θ̂", r"\ensuremath{\hat{\Theta}}"),
    ("a — b", "a --- b"),
    ("50% & $5", r"50\% \& \$5"),
])
def test_prose_notation(text: str, expected: str) -> None:
    assert prose_latex(text) == expected


def test_prose_code_and_parameter_names() -> None:
    out = prose_latex("Eq(c_star*q_star, sigma_b2)", {"sigma_b2": r"\sigma_b^2"})
    assert r"\texttt{Eq(\allowbreak{}c\_\allowbreak{}star*\allowbreak{}q\_\allowbreak{}star,\allowbreak{}}" in out
    assert out.endswith(r"\ensuremath{\sigma_b^2})")


def test_prose_rejects_what_it_cannot_typeset() -> None:
    with pytest.raises(ValueError, match="U\\+2603"):
        prose_latex("a snowman ☃")


def test_document_labels_every_result_and_cites_known_papers() -> None:
    import learndyn

    doc = latex_document()
    for name in learndyn.results():
        assert rf"\label{{eq:{name}}}" in doc and rf"\label{{eq:{name}:definition}}" in doc
    labels = re.findall(r"\\label\{([^}]+)\}", doc)
    assert len(labels) == len(set(labels)), "duplicate labels"
    for ref in set(re.findall(r"\\eqref\{([^}]+)\}", doc)):
        assert ref in labels, ref
    keys = cited_keys()
    assert set(re.findall(r"\\cite\{([^}]+)\}", doc)) <= set(keys) <= set(REFERENCES)
    bib = bibliography_bibtex()
    for k in keys:
        assert f"{{{k}," in bib
    # the ByChoice results show every value, with labels per value and output
    assert r"\label{eq:kernel_fixed_point:erf:c_star}" in doc and r"\label{eq:kernel_fixed_point:relu:q_star}" in doc
    assert r"\arctan" in doc and not re.search(r"\\operatorname\{atan\}(?!_)", doc)  # atan2 keeps its name


def test_body_fragment_and_bib_file(tmp_path: Path) -> None:
    out = tmp_path / "paper" / "results.tex"
    r = CliRunner().invoke(main, ["latex", "chi1", "kernel_fixed_point", "--body", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert r"\documentclass" not in text and r"\begin{document}" not in text
    assert r"\section{" in text and r"\providecommand{\learndynfit}" in text
    assert (tmp_path / "paper" / "results.bib").read_text(encoding="utf-8").startswith("@inproceedings{xiao2020disentangling,")
    assert re.findall(r"\\label\{sec:([^}]+)\}", latex_body(["chi1"])) == ["family:ntk", "chi1"]
    # a second write without --force touches neither file
    (tmp_path / "paper" / "results.bib").write_text("mine\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["latex", "chi1", "--body", "-o", str(out)])
    assert r.exit_code != 0 and "--force" in r.output
    assert (tmp_path / "paper" / "results.bib").read_text(encoding="utf-8") == "mine\n"


@needs_tex
def test_whole_document_compiles_cleanly(tmp_path: Path) -> None:
    """Every result: no LaTeX error, no undefined reference or citation, no line more than 1 pt overfull."""
    from learndyn.latex_build import build_pdf, read_log

    r = CliRunner().invoke(main, ["latex", "-o", str(tmp_path / "all.tex")])
    assert r.exit_code == 0, r.output
    pdf = build_pdf(tmp_path / "all.tex")
    assert pdf.stat().st_size > 50_000
    report = read_log(tmp_path / "all.log")
    assert report.clean, report.summary()
    assert "Saxe" in (tmp_path / "all.bbl").read_text(encoding="utf-8")


@needs_tex
def test_log_reader_sees_a_broken_reference(tmp_path: Path) -> None:
    from learndyn.latex_build import LatexError, build_pdf

    tex = tmp_path / "bad.tex"
    tex.write_text("\\documentclass{article}\\begin{document}See \\ref{eq:nowhere}.\\end{document}\n", encoding="utf-8")
    with pytest.raises(LatexError, match="eq:nowhere"):
        build_pdf(tex)


def test_report_builds_and_reuses_cached_verification(tmp_path: Path) -> None:
    """A small report end to end: tier a of one result, its figure (quick), the document and — where LaTeX is
    installed — a clean PDF; the second run reuses the cached verification instead of verifying again."""
    from learndyn.verify.report_document import write_report
    from learndyn.verify.runner import VerifyConfig

    config = VerifyConfig(examples=5, seed=0, device="cpu")
    files = write_report(tmp_path, ["scalar_trajectory"], config=config, tiers=("a",), quick_figures=True,
                         pdf=HAVE_TEX, refresh=True)
    assert not files.verification_reused and not files.failed
    tex = files.tex.read_text(encoding="utf-8")
    for needle in (r"\section{Verification}", r"\section{Provenance}", r"\label{fig:scalar_learning_curve}",
                   r"\texttt{scalar\_\allowbreak{}trajectory}~\eqref{eq:scalar_trajectory}", r"\includegraphics"):
        assert needle in tex, needle
    assert "torch" in tex and "seed" in tex and not re.search(r"20\d\d-\d\d-\d\d", tex)  # provenance, no timestamp
    assert sorted(p.name for p in files.figures) == ["scalar_learning_curve.pdf", "scalar_learning_curve.png"]
    if HAVE_TEX:
        assert files.pdf is not None and files.pdf.exists()
    with pytest.raises(FileExistsError, match="--force"):
        write_report(tmp_path, ["scalar_trajectory"], config=config, tiers=("a",), quick_figures=True, pdf=False)
    again = write_report(tmp_path, ["scalar_trajectory"], config=config, tiers=("a",), quick_figures=True, pdf=False,
                         force=True)
    assert again.verification_reused
    assert again.verification.read_text(encoding="utf-8") == files.verification.read_text(encoding="utf-8")
