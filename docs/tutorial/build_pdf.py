"""The PDF of a family of your own: its derivation and proof, as ``learndyn derive --module`` wrote them, and its
verification.

    python docs/tutorial/build_pdf.py MODULE OUT      # writes OUT/<family>-paper.tex, .bib and .pdf

``learndyn latex --pdf`` builds this document for the built-in results only; for your family this script puts the
section ``learndyn derive --module MODULE --out OUT`` wrote (``OUT/<family>.tex``) into a standalone document with
the preamble and macros of learndyn's own (:mod:`learndyn.derive.latex`), its bibliography (learndyn's entry for a
key it knows, else the family's ``bibliography``) and, where ``OUT/verification.json`` exists
(``learndyn verify --module MODULE --out OUT --json``), a table of the checks; then it builds it with learndyn's
strict LaTeX build (:func:`learndyn.latex_build.build_pdf`: errors, undefined citations and overfull lines fail).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from learndyn.derive.bibliography import REFERENCES, bibtex
from learndyn.derive.families import load_family_module
from learndyn.derive.latex import DOCUMENT_PREAMBLE, FIT_MACRO, PDFSTRING_MACRO, PREAMBLE
from learndyn.latex_build import LatexUnavailable, build_pdf, latex_engine


def tex_escape(text: str) -> str:
    return re.sub(r"([_%&#${}])", r"\\\1", str(text)).replace("~", r"\textasciitilde{}").replace("^", r"\^{}")


def breakable(name: str) -> str:
    """A result's name for ``\\texttt``, which may break after its underscores."""
    return tex_escape(name).replace(r"\_", r"\_\allowbreak{}")


def bibliography(family) -> str:
    keys = sorted({r.source.cite for r in family.results} | {c.source.cite for c in family.claims})
    entries = [bibtex([k]) for k in keys if k in REFERENCES]
    for k in keys:
        if k not in REFERENCES:
            if k not in family.bibliography:
                raise SystemExit(f"no bibliography entry for {k!r}: add it to the family's bibliography")
            entries.append(f"@misc{{{k},\n  note = {{{family.bibliography[k]}}},\n}}\n")
    return "\n".join(entries)


def verification_section(path: Path) -> list[str]:
    if not path.exists():
        return []
    run = json.loads(path.read_text(encoding="utf-8"))
    rows = [rf"\texttt{{{breakable(c['name'])}}} & {tex_escape(c['tier'])} & {c['examples']} & "
            rf"{c['worst']:.3g} & {c['tolerance']:.3g} & {'passed' if c['passed'] else 'FAILED'} \\"
            for c in run["checks"]]
    return [r"\section{Verification}",
            rf"\texttt{{learndyn verify}} at \texttt{{--examples {run['examples']}}}, seed {run['seed']}, device "
            rf"{tex_escape(run['device'])}, torch {tex_escape(run['torch'])}: tier a compares the generated function "
            r"with a 50-digit mpmath evaluation of the derivation, tier b the theory with simulation; a check passes "
            r"when its worst error is within its tolerance.", "",
            r"\begin{center}\small", r"\begin{tabular}{@{}p{0.27\linewidth}p{0.33\linewidth}rrrl@{}}",
            r"result & check & $n$ & worst & tolerance & \\ \hline", *rows, r"\end{tabular}", r"\end{center}"]


def main(module: str, out: str) -> Path:
    family = load_family_module(module)
    folder = Path(out)
    section = folder / f"{family.name}.tex"
    if not section.exists():
        raise SystemExit(f"{section} is missing: run `learndyn derive --module {module} --out {out}` first")
    try:
        latex_engine()
    except LatexUnavailable as exc:
        raise SystemExit(f"cannot build the PDF: {exc}")
    stem = f"{family.name}-paper"
    document = [r"\documentclass[11pt]{article}", *PREAMBLE, *DOCUMENT_PREAMBLE,
                rf"\title{{{tex_escape(family.title)}: derived, proven and verified by learndyn}}", r"\date{}",
                r"\begin{document}", r"\maketitle", FIT_MACRO, PDFSTRING_MACRO, r"\begingroup\sloppy",
                rf"\input{{{family.name}}}", r"\endgroup", *verification_section(folder / "verification.json"),
                r"\bibliographystyle{plainnat}", rf"\bibliography{{{stem}}}", r"\end{document}", ""]
    (folder / f"{stem}.tex").write_text("\n".join(document), encoding="utf-8")
    (folder / f"{stem}.bib").write_text(bibliography(family), encoding="utf-8")
    pdf = build_pdf(folder / f"{stem}.tex")
    print(f"wrote {pdf}")
    return pdf


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    main(sys.argv[1], sys.argv[2])
