"""The paper of a family of your own: ``learndyn latex --module MODULE --out DIR``.

``learndyn derive --module MODULE --out DIR`` writes the family's section, ``DIR/<family>.tex`` (its derivations,
proof records, domains and sources, exactly as for the built-in families). :func:`user_document` puts it into a
standalone document with learndyn's preamble and macros, its bibliography (learndyn's entry for a key it knows,
else the family's own ``bibliography``) and, given the JSON of ``learndyn verify --module MODULE --out DIR --json``,
the verification table the report uses (:func:`learndyn.verify.report_document.verification_latex`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["user_document", "user_bibliography", "checks_from_json"]


def _tex(text: str) -> str:
    from learndyn.derive.latex_prose import prose_latex

    return prose_latex(str(text))


def user_bibliography(family) -> str:
    """The ``.bib`` of the family's citations: learndyn's entries where it knows the key, else the family's own."""
    from learndyn.derive.bibliography import REFERENCES, bibtex

    keys = sorted({r.source.cite for r in family.results} | {c.source.cite for c in family.claims})
    missing = [k for k in keys if k not in REFERENCES and k not in family.bibliography]
    if missing:
        raise KeyError(f"no bibliography entry for {', '.join(missing)}; add it to the family's bibliography")
    known = [k for k in keys if k in REFERENCES]
    own = [f"@misc{{{k},\n  note = {{{family.bibliography[k]}}},\n}}\n" for k in keys if k not in REFERENCES]
    return (bibtex(known) if known else "") + "".join("\n" + e for e in own)


def checks_from_json(run: dict):
    """The checks of a ``learndyn verify --json`` run (its ``checks`` list, or the list itself)."""
    from learndyn.verify.report import Check

    rows = run["checks"] if isinstance(run, dict) else run
    return [Check(c["name"], c["tier"], c["examples"], math.nan if c["worst"] is None else c["worst"],
                  math.nan if c["tolerance"] is None else c["tolerance"], c["measure"], c["passed"], c.get("failure"),
                  c.get("details") or {}) for c in rows]


def user_document(module: str, out_dir: str | Path, *, bib: str, verification: dict | None = None) -> tuple[str, str]:
    """``(tex, bib)``: the standalone document of the family in ``module`` whose section ``derive`` wrote into
    ``out_dir`` (``FileNotFoundError`` naming the command to run where it did not), citing from ``BIB.bib``."""
    from learndyn.derive.families import load_family_module
    from learndyn.derive.latex import DOCUMENT_PREAMBLE, FIT_MACRO, PDFSTRING_MACRO, PREAMBLE
    from learndyn.verify.report_document import verification_latex

    family = load_family_module(module)
    section = Path(out_dir) / f"{family.name}.tex"
    if not section.exists():
        raise FileNotFoundError(f"{section} not found: run `learndyn derive --module {module} --out {out_dir}` first")
    table = verification_latex(checks_from_json(verification)) if verification is not None else ""
    tex = "\n".join([
        r"\documentclass[11pt]{article}", *PREAMBLE, *DOCUMENT_PREAMBLE, r"\usepackage{array,longtable}",
        rf"\title{{{_tex(family.title)}: derived, proven and verified by learndyn}}", r"\date{}",
        r"\begin{document}", r"\maketitle", FIT_MACRO, PDFSTRING_MACRO, r"\begingroup\sloppy",
        section.read_text(encoding="utf-8"), r"\endgroup", table,
        r"\bibliographystyle{plainnat}", rf"\bibliography{{{bib}}}", r"\end{document}", ""])
    return tex, user_bibliography(family)


def read_verification(path: str | Path) -> dict:
    """A ``learndyn verify --json`` run from ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
