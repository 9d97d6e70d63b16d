"""The paper export: prose notation, the standalone document and its bibliography, the body fragment, a
compiled PDF with no undefined references or citations and no overfull lines, and the report."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sympy as sp
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
    # Unicode super- and subscripts inside an exponent (the erf map's φ′ lost its square: e^{−x})
    ("(2/√π) e^{−x²}", r"(2/\ensuremath{\surd}\ensuremath{\pi}) \ensuremath{e^{-x^{2}}}"),
    ("e^{−x₁Θ⁻¹}", r"\ensuremath{e^{-x_{1}\Theta ^{-1}}}"),
    # | in math, as OT1 text would print it as an em dash; ~ is "distributed as"
    ("z = −|a| t", r"z = \ensuremath{-}\ensuremath{|}a\ensuremath{|} t"),
    ("(u_a, u_b) ~ N(0, 1)", r"(\ensuremath{u_{a}}, \ensuremath{u_{b}}) \ensuremath{\sim} N(0, 1)"),
    ("u0 = a0^D", r"u0 = \ensuremath{a_{0}^{D}}"),
])
def test_prose_notation(text: str, expected: str) -> None:
    assert prose_latex(text) == expected


def test_prose_code_and_parameter_names() -> None:
    out = prose_latex("Eq(c_star*q_star, sigma_b2)", {"sigma_b2": r"\sigma_b^2"})
    assert r"\texttt{Eq(\allowbreak{}c\_\allowbreak{}star*\allowbreak{}q\_\allowbreak{}star,\allowbreak{}}" in out
    assert out.endswith(r"\ensuremath{\sigma_b^2})")


def test_proof_record_quotes_sympy_in_typewriter_throughout() -> None:
    """A SymPy expression is one typewriter span up to its closing bracket, spaces included: its asterisks are
    the typewriter's (centred), never a raised math asterisk between parameter names in math."""
    out = prose_latex("E[ReLU(x) · ReLU(x)] = 4/(pi*sqrt(-4*c**2 + 4*q1*q2 + 2*q1 + 1)) — symbolic",
                      {"q1": "q_1", "q2": "q_2"})
    assert r"\ensuremath{^{*}}" not in out
    assert out.startswith(r"\texttt{E[ReLU(\allowbreak{}x) \ensuremath{\cdot} ReLU(\allowbreak{}x)]} = \texttt{4/")
    assert r"2 +\allowbreak{} 4*\allowbreak{}}\ensuremath{q_1}\texttt{*\allowbreak{}}\ensuremath{q_2} \texttt{+" in out
    assert out.endswith(r"\texttt{+\allowbreak{} 1))} --- symbolic")
    # typewriter glyphs for characters whose text commands would come from a symbol font; -- stays two hyphens
    assert prose_latex("E_{z}[ReLU(sqrt(q)*z)**2] > 0") == (r"\texttt{E\_\allowbreak{}\char123{}z\char125{}[ReLU(\allowbreak{}"
                                                           r"sqrt(\allowbreak{}q)*\allowbreak{}z)*\allowbreak{}*\allowbreak{}2]} \textgreater{} 0")
    assert prose_latex("log1p(a--b)") == r"\texttt{log1p(\allowbreak{}a-{}-b)}"


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
    assert not re.search(r"\\mathbb\{[^A-Z]", doc)  # amssymb's blackboard bold has capitals only (𝟙 printed as ⊮)
    assert r"\ensuremath{^{*}}" not in doc  # proof records: no raised asterisks between typewriter pieces
    assert r"\sigma_{b2}" not in doc  # a parameter's symbol with other assumptions still prints as the parameter


def test_sources_name_the_paper_and_its_place() -> None:
    """Each source cites the paper and says where in it; the seed is provenance a reader can identify, and the
    project's own catalogue is never a reference."""
    doc = latex_document()
    sources = re.findall(r"^\\noindent Source: (.*)$", doc, flags=re.M)
    claims_sections = len(re.findall(r"\\subsection\{Claims\}", doc))
    assert claims_sections == 6
    assert len(sources) == len(re.findall(r"\\subsection\{", doc)) - claims_sections  # every result
    for line in sources:
        assert re.match(r"\\cite\{[a-z]+\d{4}[a-z]+\}, \S", line), line
        assert "seed 0" not in line and "THEORY" not in line
    assert "THEORY.md" not in doc and "Source: seed" not in doc
    body = latex_body(["mode_learning_time", "deep_mode_time", "mse_train_prediction"])
    assert r"\cite{saxe2014exact}, Sec. 1.3, eq. (11)." in body  # Saxe et al.'s own numbering
    assert r"\cite{saxe2014exact}, Sec. 2, eq. (15)" in body
    assert r"\cite{jacot2018neural}, Sec. 5, ``Least-squares regression''" in body
    assert "As summarised in A. Pretorius's talk ``Using learning dynamics" in body


def test_stable_forms_name_their_nested_cases() -> None:
    """A Piecewise inside a stable form (exprel's argument, e's exponent) is named and defined below the display
    as a cases of its own, with exprel's definition, instead of being nested into one display."""
    from learndyn.derive.latex_display import name_parts

    body = latex_body(["scalar_trajectory", "kernel_fixed_point"])
    stable = body[body.index(r"\label{eq:scalar_trajectory:stable}") - 400 : body.index("Domain:", body.index("eq:scalar_trajectory:stable"))]
    displays = [line for line in stable.splitlines() if line.startswith(r"\learndynfit{")]
    assert displays and all(line.count(r"\begin{cases}") <= 1 for line in displays), displays
    assert r"\noindent where" in stable and r"\learndynfit{z_{1} = \begin{cases}" in stable
    assert r"\operatorname{exprel}(\zeta) = \frac{e^{\zeta} - 1}{\zeta}" in stable
    # erf's fixed point: arctan(2q*/√(4q* + 1)), six times in c*, becomes one name
    erf = body[body.index(r"For $\phi = \mathrm{erf}$") :]
    c_star = next(line for line in erf.splitlines() if line.startswith(r"\learndynfit{c^* = "))
    assert r"\arctan" not in c_star and c_star.count("z") >= 6 and r"\learndynfit{z = \arctan" in erf
    # deterministic, and each definition uses only names above it
    x, y = sp.symbols("x y")
    inner = sp.Piecewise((x, y > 0), (-x, True))
    named = name_parts([sp.exp(inner) + sp.Piecewise((sp.sin(inner), x > 0), (1, True))], sp.latex)
    assert [str(s) for s, _ in named.parts] == ["z_1", "z_2"] and named.parts[1][1].has(sp.Symbol("z_1"))
    assert named == name_parts([sp.exp(inner) + sp.Piecewise((sp.sin(inner), x > 0), (1, True))], sp.latex)


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
def test_whole_document_prints_displays_at_text_size(tmp_path: Path) -> None:
    """No display is wider than the line at the standalone document's width: none is scaled down to it."""
    from learndyn.derive.latex import SCALED_MESSAGE
    from learndyn.latex_build import build_pdf

    (tmp_path / "all.tex").write_text(latex_document(bib="all"), encoding="utf-8")
    (tmp_path / "all.bib").write_text(bibliography_bibtex(), encoding="utf-8")
    build_pdf(tmp_path / "all.tex")
    assert SCALED_MESSAGE not in (tmp_path / "all.log").read_text(encoding="latin-1")


README_PREAMBLE = re.compile(r"\\usepackage(?:\[[^]]*\])?\{[^}]+\}")


@needs_tex
def test_body_fragment_compiles_with_the_readme_preamble(tmp_path: Path) -> None:
    """A small paper whose preamble is exactly what the paper guide lists \\input's every result's fragment and compiles
    under the strict build: OT1 text encoding (no |-as-em-dash), no geometry or hyperref, plain \\cite."""
    from learndyn.latex_build import build_pdf

    # the paper guide (docs/guides/paper.rst, linked from the README) lists the packages a paper needs
    section = (Path(__file__).resolve().parents[1] / "docs" / "guides" / "paper.rst").read_text(encoding="utf-8")
    packages = README_PREAMBLE.findall(section)
    r = CliRunner().invoke(main, ["latex", "--body", "-o", str(tmp_path / "results.tex")])
    assert r.exit_code == 0, r.output
    fragment = (tmp_path / "results.tex").read_text(encoding="utf-8")
    header = [line[2:] for line in fragment.splitlines()[:6] if line.startswith(r"% \usepackage")]
    assert packages and header == packages, (header, packages)
    paper = tmp_path / "paper.tex"
    paper.write_text("\n".join([r"\documentclass{article}", *packages, r"\begin{document}", r"\input{results}",
                                r"\bibliographystyle{plain}", r"\bibliography{results}", r"\end{document}", ""]),
                     encoding="utf-8")
    pdf = build_pdf(paper)  # raises LatexError on any error, undefined citation, overfull line or wrong output
    if shutil.which("pdftotext"):  # OT1 prints a text-mode | as an em dash, which no log mentions
        import subprocess

        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, encoding="utf-8", check=True).stdout
        assert "|a| t" in text and "—a—" not in text


WRONG_OUTPUT_DOCUMENTS = {
    "invalid in math mode": r"$e^{-x²}$",                     # \texttwosuperior in math: the square is dropped
    "Missing character": r"\char200",                        # OT1 cmr has no glyph 200
    "Font shape": r"\textsc{\textbf{bold small capitals}}",   # cmr has none: another shape substituted
    "multiply defined": r"\section{A}\label{x}\section{B}\label{x}\ref{x}",
}


@needs_tex
@pytest.mark.parametrize("what", sorted(WRONG_OUTPUT_DOCUMENTS))
def test_strict_build_fails_on_wrong_output(tmp_path: Path, what: str) -> None:
    """A PDF whose log says the page shows something other than the source is not clean."""
    from learndyn.latex_build import LatexError, build_pdf

    tex = tmp_path / "wrong.tex"
    tex.write_text("\\documentclass{article}\\begin{document}" + WRONG_OUTPUT_DOCUMENTS[what] + "\n\\end{document}\n",
                   encoding="utf-8")
    with pytest.raises(LatexError, match="wrong output: .*" + what):
        build_pdf(tex)


@needs_tex
def test_strict_build_fails_on_a_bookmark_that_loses_its_math(tmp_path: Path) -> None:
    from learndyn.latex_build import LatexError, build_pdf

    tex = tmp_path / "bookmark.tex"
    tex.write_text("\\documentclass{article}\\usepackage{hyperref}\\begin{document}\\section{Slope $\\chi_1$}\n"
                   "\\end{document}\n", encoding="utf-8")
    with pytest.raises(LatexError, match="Token not allowed in a PDF string"):
        build_pdf(tex)


def test_provenance_keeps_its_double_hyphen_and_sets_its_table_apart() -> None:
    from learndyn.verify.report_document import provenance_latex

    tex = provenance_latex({"versions": {"torch": "2.13.0+cpu"}, "python": "3.11", "seed": 0, "device": "cpu",
                            "examples": 5}, "0123abcd", reused=False)
    assert r"\texttt{learndyn derive -{}-check}" in tex and "--check" not in tex
    assert tex.index(r"Verification key \texttt{0123abcd}.") < tex.index(r"\begin{center}") < tex.index(r"\begin{tabular}")


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
