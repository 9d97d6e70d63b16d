"""``learndyn report``: the derivation LaTeX, the verification tables, the figures and the provenance, as one
document (and its PDF where a LaTeX engine is installed).

Layout of the output folder: ``report.tex``, ``report.bib``, ``verification.json`` (the checks, as
``learndyn verify --json`` prints them), ``figures/NAME.{png,pdf}``, and ``report.pdf``. Verification results
are reused from the cache (:mod:`learndyn.verify.verification_cache`) when nothing they depend on changed."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig

__all__ = ["ReportFiles", "write_report", "verification_latex", "figures_latex", "provenance_latex"]

_TIER_NAMES = {"a": "tier a (against mpmath)", "b": "tier b (against simulation)", "claim": "claims"}


@dataclass
class ReportFiles:
    tex: Path
    bib: Path
    verification: Path
    figures: list[Path] = field(default_factory=list)
    pdf: Path | None = None
    pdf_skipped: str | None = None
    verification_reused: bool = False
    failed: list[str] = field(default_factory=list)


#: typewriter glyphs by slot (the same in OT1 and T1 typewriter fonts), for characters LaTeX treats specially
_TT_SPECIAL = {ch: rf"\char{ord(ch)}{{}}" for ch in "\\{}~^<>"} | {ch: "\\" + ch for ch in "#$%&"}


def _tt(text: str) -> str:
    """Typewriter text that may break after its underscores (long result names in narrow columns); ``--`` stays
    two hyphens (T1 typewriter fonts would join them into a dash), LaTeX's special characters print as themselves."""
    out = []
    for i, ch in enumerate(text):
        if ch == "_":
            out.append(r"\_\allowbreak{}")
        elif ch == "-" and text[i + 1 : i + 2] == "-":
            out.append("-{}")
        else:
            out.append(_TT_SPECIAL.get(ch, ch))
    return r"\texttt{" + "".join(out) + "}"


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "--"
    mant, _, exp = f"{x:.2e}".partition("e")
    e = int(exp)
    return f"${mant}$" if e == 0 else rf"${mant}\times 10^{{{e}}}$"


def _tier(check: Check) -> str:
    return "claim" if check.tier.startswith("claim") else check.tier.split(":")[0].strip()


def verification_latex(checks: list[Check]) -> str:
    """A section with one table per tier: each check's examples, worst error, tolerance and outcome, and
    what the error measures; the result's name links to its equation."""
    from learndyn.derive.latex_prose import prose_latex
    from learndyn.derive.registry import families

    results = {r.name for f in families() for r in f.results}
    passed = sum(c.passed for c in checks)
    lines = [r"\section{Verification}", r"\label{sec:verification}", "",
             rf"{passed} of {len(checks)} checks passed. Each row gives the worst error measured over the examples and "
             r"the tolerance it must stay within, in the unit the last column names; tier a compares each generated "
             r"function with a 50-digit mpmath evaluation of its derivation, tier b compares the theory with "
             r"networks trained or propagated in torch, and the claims check the seeds' qualitative statements "
             r"against simulation.", ""]
    for tier in ("a", "b", "claim"):
        rows = [c for c in checks if _tier(c) == tier]
        if not rows:
            continue
        lines += [rf"\subsection*{{{_TIER_NAMES[tier].capitalize()}}}", r"{\small",
                  r"\begin{longtable}{@{}>{\raggedright\arraybackslash}p{0.4\linewidth}rrrl@{}}", r"\hline",
                  r"result & examples & worst & tolerance & \\ \hline\endhead"]
        for c in rows:
            name = _tt(c.name) + (rf"~\eqref{{eq:{c.name}}}" if c.name in results else "")
            status = r"ok" if c.passed else r"\textbf{FAIL}"
            lines.append(rf"{name} & {c.examples} & {_num(c.worst)} & {_num(c.tolerance)} & {status} \\*")
            lines.append(rf"\multicolumn{{5}}{{@{{}}p{{0.95\linewidth}}@{{}}}}{{\footnotesize\quad {prose_latex(c.tier)}: "
                         rf"{prose_latex(c.measure)}}} \\")
            if c.failure:
                lines.append(rf"\multicolumn{{5}}{{@{{}}p{{0.95\linewidth}}@{{}}}}{{\footnotesize\quad "
                             rf"{prose_latex(c.failure[:400])}}} \\")
        lines += [r"\hline", r"\end{longtable}", r"}", ""]
    return "\n".join(lines)


def _percent(value) -> str:
    if value is None:
        return "--"
    if value in ("inf", math.inf):
        return r"$>50\,\%$"
    if value <= 1e-4:
        return r"$\le 0.01\,\%$"
    return rf"${value * 100:.2g}\,\%$"


def power_latex(rows: list[dict]) -> str:
    """A section with the power of tier (b): per result, the smallest relative error of the theory its simulation
    checks detect (outputs scaled by ``1 ± δ``, the clock ``1 + δ`` fast), found by bisection on the same
    simulations; a bound is judged by whether it fails when replaced by the quantity it bounds."""
    from learndyn.derive.registry import families
    from learndyn.verify.tier_b import TARGET
    from learndyn.verify.tier_b.power import power_columns

    results = {r.name for f in families() for r in f.results}
    met = sum(bool(r.get("meets_target")) for r in rows)
    lines = [r"\section{Power of the simulation checks}", r"\label{sec:power}", "",
             rf"{met} of {len(rows)} results catch a theory that is ${TARGET * 100:g}\,\%$ wrong. For each result the "
             r"smallest relative error $\delta$ its simulation checks detect, by bisection over $\delta$ on the same "
             r"simulations: every output scaled by $1+\delta$ and by $1-\delta$, and for results of time the clock "
             r"run $1+\delta$ fast; the power is the weakest of these. A bound must fail when it is replaced by the "
             r"quantity it bounds.", "", r"{\small", r"\begin{longtable}{@{}lrrrrl@{}}", r"\hline",
             r"result & $\times(1+\delta)$ & $\times(1-\delta)$ & clock & power & \\ \hline\endhead"]
    for r in rows:
        name = _tt(r["result"]) + (rf"~\eqref{{eq:{r['result']}}}" if r["result"] in results else "")
        ok = "ok" if r.get("meets_target") else r"\textbf{missed}"
        if r.get("bound_replaced_by"):
            verdict = "fails" if r.get("bound_detected") else r"\textbf{passes}"
            lines.append(rf"{name} & \multicolumn{{4}}{{l}}{{bound: {verdict} when replaced by "
                         rf"{_tt(r['bound_replaced_by'])}}} & {ok} \\")
            continue
        cells = [_percent(v) for v in (*power_columns(r.get("per_variant", {})), r.get("delta"))]
        lines.append(rf"{name} & {' & '.join(cells)} & {ok} \\")
    lines += [r"\hline", r"\end{longtable}", r"}", ""]
    return "\n".join(lines)


def _caption_latex(caption: str) -> str:
    """A figure's caption: its ``$…$`` parts are already (matplotlib's subset of) LaTeX math; the rest is prose."""
    from learndyn.derive.latex_prose import prose_latex

    parts = re.split(r"(\$[^$]*\$)", caption)
    return "".join(p if p.startswith("$") and p.endswith("$") and len(p) > 1 else prose_latex(p) for p in parts)


def figures_latex(figures: list[tuple[str, Path, str, tuple[str, ...]]], folder: str = "figures") -> str:
    """A section with one float per figure ``(name, pdf path, caption, results shown)``."""
    from learndyn.derive.latex_prose import prose_latex

    lines = [r"\section{Theory against simulation}", r"\label{sec:figures}", "",
             r"Lines are the generated functions, points the simulations (means, with standard errors where "
             r"several networks were run).", ""]
    for name, path, caption, shown in figures:
        refs = ", ".join(rf"\eqref{{eq:{r}}}" for r in shown)
        text = _caption_latex(caption).rstrip()
        if refs and not text.endswith((".", "!", "?")):
            text += "."  # a sentence of its own before the equation references
        lines += [r"\begin{figure}[htbp]", r"\centering",
                  rf"\includegraphics[width=\linewidth,height=0.42\textheight,keepaspectratio]{{{folder}/{path.stem}}}",
                  rf"\caption{{{text}" + (f" Theory: {refs}." if refs else "") + "}",
                  rf"\label{{fig:{name}}}", r"\end{figure}", ""]
    return "\n".join(lines)


def provenance_latex(prov: dict, key: str, reused: bool) -> str:
    """The provenance section: versions, seed, device and examples in a table set apart from the text above it."""
    rows = [(p, v) for p, v in prov["versions"].items()] + [("Python", prov["python"]), ("seed", str(prov["seed"])),
                                                              ("device", prov["device"]), ("examples", str(prov["examples"]))]
    lines = [r"\section{Provenance}", r"\label{sec:provenance}", "",
             r"The verification tables and figures depend on these versions, the seed and the device; the "
             rf"equations do not (they are regenerated byte-identically by {_tt('learndyn derive --check')}). "
             rf"Verification key {_tt(key)}" + (r" (reused from the cache)." if reused else "."), "",
             r"\begin{center}", r"\begin{tabular}{@{}ll@{}}", r"\hline"]
    lines += [rf"{_tt(k)} & {_tt(v)} \\" for k, v in rows]
    lines += [r"\hline", r"\end{tabular}", r"\end{center}", ""]
    return "\n".join(lines)


def _figures_for(names: list[str] | None) -> list[str] | None:
    from learndyn.verify.figures import FIGURES

    if names is None:
        return list(FIGURES)
    return [f for f, spec in FIGURES.items() if set(spec.results) & set(names)]


def _similarity_section(names: list[str] | None, config: VerifyConfig, quick: bool, drawn: dict) -> str:
    """The representation-similarity section (:mod:`learndyn.verify.similarity_document`) for a report of every
    result or of one the experiment uses; with the claims' outcomes where its run is stored."""
    from learndyn.verify.figures import FIGURES
    from learndyn.verify.similarity_document import similarity_latex, stored_similarity
    from learndyn.verify.similarity_experiment import FIGURE

    if names is not None and not set(FIGURES[FIGURE].results) & set(names):
        return ""
    data = stored_similarity(config.seed, config.device, quick)
    return similarity_latex(data, results=None if names is None else set(names), figure=FIGURE in drawn)


def _validity_section(out: Path, names: list[str] | None, config: VerifyConfig, compute: bool, seeds: int,
                      tick) -> str:
    """The validity maps of the chosen results (computed first with ``compute``), their figures and table."""
    from learndyn.verify.validity.output import read_maps, render_map, validity_latex, write_map
    from learndyn.verify.validity.sweep import declared_axes, validity_map

    if compute:
        chosen = names if names is not None else _mapped_results()
        plan = [(n, a) for n in chosen for a in _axes_or_none(n, declared_axes)]
        done = tick("validity", len(plan))
        for n, a in plan:
            write_map(out, validity_map(n, a, seeds=seeds, seed=config.seed, device=config.device).to_json(), force=True)
            done(f"{n} along {a}")
    maps = [m for m in read_maps(out) if names is None or m["result"] in names]
    figures = {}
    for m in maps:
        key = f"validity-{m['result']}-{m['axis']}"
        png, pdf = out / "figures" / f"{key}.png", out / "figures" / f"{key}.pdf"
        render_map(m, png, pdf)
        figures[key] = pdf
    return validity_latex(maps, figures)


def _axes_or_none(name: str, declared_axes) -> list[str]:
    try:
        return declared_axes(name)
    except KeyError:
        return []


def _mapped_results() -> list[str]:
    from learndyn.verify.families import simulations

    return [n for n, checks in simulations().items() if any(getattr(c, "axes", ()) for c in checks)]


def write_report(out: Path, names: list[str] | None = None, *, config: VerifyConfig = VerifyConfig(),
                 tiers: tuple[str, ...] = ("a", "b", "claims"), quick_figures: bool = False, force: bool = False,
                 pdf: bool = True, refresh: bool = False, progress: Callable[[str, int], Callable[[str], None]] | None = None,
                 validity: bool = False, validity_seeds: int = 3) -> ReportFiles:
    """Verify (or reuse the cached verification), render the figures, write the document and build its PDF.

    ``progress(step, total)`` returns the callback that step calls after each unit of work (a progress bar).
    The validity maps stored in ``out/validity/`` (``learndyn validity -o out``) of the chosen results are drawn in a
    section of their own; with ``validity``, every axis of every chosen result is mapped first (``validity_seeds``
    seeds each) and stored there. Raises ``FileExistsError`` rather than overwrite ``report.tex`` unless ``force``."""
    from learndyn.derive.latex import bibliography_bibtex, latex_document
    from learndyn.verify.figures import FIGURES, render_figures
    from learndyn.verify.verification_cache import cached_verification, provenance

    out = Path(out)
    tex, bib, ver = out / "report.tex", out / "report.bib", out / "verification.json"
    for path in (tex, bib, ver):
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists; pass --force to overwrite the report")
    out.mkdir(parents=True, exist_ok=True)
    tick = progress or (lambda step, total: (lambda item: None))

    verification = cached_verification(names, config, tiers, progress=tick("verify", 0), refresh=refresh)
    checks, reused, key = verification.checks, verification.reused, verification.key
    ver.write_text(json.dumps({"key": key, **provenance(config), "checks": [c.to_json() for c in checks],
                               "power": verification.power}, indent=1, default=str) + "\n", encoding="utf-8")

    chosen = _figures_for(names)
    paths = render_figures(out / "figures", chosen, seed=config.seed, device=config.device, quick=quick_figures,
                           force=True, progress=tick("figures", len(chosen))) if chosen else []
    pdfs = {p.stem: p for p in paths if p.suffix == ".pdf"}
    figs = [(n, pdfs[n], FIGURES[n].caption, tuple(FIGURES[n].results)) for n in chosen if n in pdfs]

    validity_section = _validity_section(out, names, config, validity, validity_seeds, tick)
    extra = "\n".join([verification_latex(checks), power_latex(verification.power) if verification.power else "",
                       figures_latex(figs) if figs else "", validity_section, _similarity_section(names, config, quick_figures, pdfs),
                       provenance_latex(provenance(config), key, reused)])
    tex.write_text(latex_document(names, bib="report", extra_body=extra,
                                  title="learndyn report: derivations, verification and figures",
                                  extra_preamble=(r"\usepackage{array,longtable}",)), encoding="utf-8")
    bib.write_text(bibliography_bibtex(names), encoding="utf-8")
    files = ReportFiles(tex=tex, bib=bib, verification=ver, figures=paths, verification_reused=reused,
                        failed=[f"{c.name} [{c.tier}]" for c in checks if not c.passed])
    if pdf:
        from learndyn.latex_build import LatexUnavailable, build_pdf

        tick("pdf", 1)("pdf")
        try:
            files.pdf = build_pdf(tex)
        except LatexUnavailable as exc:
            files.pdf_skipped = str(exc)
    return files
