"""The derivation LaTeX of a family: per result, the defining equation, the closed form, the domain,
assumptions, source (with a citation key) and proof status, with stable ``\\label{eq:NAME}`` labels.

This text is part of what ``learndyn derive --check`` keeps byte-identical."""
from __future__ import annotations

import math

import sympy as sp

from learndyn.derive.declaration import Family, Result
from learndyn.derive.derivation import Derivation
from learndyn.derive.emit import header_lines
from learndyn.domain import ArrayParam, ChoiceParam, Interval, IntParam

__all__ = ["family_latex", "result_latex", "latex_expr"]


def _symbol_names(result: Result) -> dict:
    return {p.symbol: p.tex for p in result.params}


def _notation() -> dict[str, str]:
    """LaTeX for calls of earlier results (their ``symbol_tex``) and for solved variables (``θ^*``)."""
    from learndyn.derive.declaration import Root
    from learndyn.derive.printer import SOLVED_PREFIX
    from learndyn.derive.registry import families

    table = {}
    for fam in families():
        for r in fam.results:
            table[r.name] = r.symbol_tex
            if isinstance(r.definition, Root):
                table[SOLVED_PREFIX + r.name] = sp.latex(r.definition.variable) + "^*"
    return table


def latex_expr(expr: sp.Basic, result: Result) -> str:
    from sympy.core.function import AppliedUndef

    table = _notation()
    names = dict(_symbol_names(result))

    def named(e):
        tex = table[type(e).__name__]
        args = ", ".join(sp.latex(a, symbol_names=names) for a in e.args)
        sym = sp.Symbol(f"_call{len(names)}")
        names[sym] = tex if tex.endswith("^*") or "(" in tex else rf"{tex}\left({args}\right)"
        return sym

    expr = expr.replace(lambda e: isinstance(e, AppliedUndef) and type(e).__name__ in table, named)
    return sp.latex(expr, symbol_names=names, ln_notation=True)


def _esc(text: str) -> str:
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\^{}", "<": r"\textless{}", ">": r"\textgreater{}"}
    out = "".join(repl.get(ch, ch) for ch in text)
    for uni, tex in {"½": r"$\tfrac12$", "ŷ": r"$\hat y$", "Σ": r"$\Sigma$", "ᵀ": r"$^\top$", "≥": r"$\ge$", "≤": r"$\le$",
                     "·": r"$\cdot$", "√": r"$\surd$", "∈": r"$\in$", "−": "-", "—": "---", "→": r"$\to$", "²": r"$^2$",
                     "ω": r"$\omega$", "ρ": r"$\rho$", "α": r"$\alpha$", "ξ": r"$\xi$", "γ": r"$\gamma$", "λ": r"$\lambda$", "μ": r"$\mu$",
                     "σ": r"$\sigma$", "ε": r"$\varepsilon$", "τ": r"$\tau$", "∫": r"$\int$",
                     "x̂": r"$\hat x$", "\u0302": "", "φ": r"$\phi$", "‖": r"$\|$", "∞": r"$\infty$", "θ": r"$\theta$",
                     "Φ": r"$\Phi$", "χ": r"$\chi$", "π": r"$\pi$", "ψ": r"$\psi$", "Π": r"$\Pi$", "κ": r"$\kappa$",
                     "–": "--"}.items():
        out = out.replace(uni, tex)
    return out


def _interval_tex(spec) -> str:
    if isinstance(spec, Interval):
        lo = r"-\infty" if spec.lo == -math.inf else sp.latex(sp.nsimplify(spec.lo))
        hi = r"\infty" if spec.hi == math.inf else sp.latex(sp.nsimplify(spec.hi))
        left = "[" if spec.lo_closed and math.isfinite(spec.lo) else "("
        right = "]" if spec.hi_closed and math.isfinite(spec.hi) else ")"
        return rf"\in {left}{lo}, {hi}{right}"
    if isinstance(spec, IntParam):
        return rf"\in \mathbb{{Z}},\ {spec.lo} \le \cdot" + (rf" \le {spec.hi}" if spec.hi is not None else "")
    if isinstance(spec, ChoiceParam):
        return r"\in \{" + ", ".join(rf"\texttt{{{c}}}" for c in spec.choices) + r"\}"
    if isinstance(spec, ArrayParam):
        shape = spec.shape.strip("()").replace(",", r" \times")
        return rf"\in \mathbb{{R}}^{{{shape}}}" + (r"\ \text{or None}" if spec.optional else "")
    raise TypeError(spec)


def result_latex(d: Derivation) -> str:
    r = d.result
    name = r.name.replace("_", r"\_")
    lines = [rf"\subsection{{{_esc(r.title)} (\texttt{{{name}}})}}", rf"\label{{sec:{r.name}}}", ""]
    lines += [r"Defining equation:", r"\begin{equation}", latex_expr(d.defining, r), rf"\label{{eq:{r.name}:definition}}",
              r"\end{equation}"]
    shown = r.published if r.published is not None else d.derived
    if shown is not None:
        which = f"published form ({_esc(r.source.where)}), derived and proven" if r.published is not None else "derived closed form"
        lines += [f"Closed form, {which}:", r"\begin{equation}", f"{r.symbol_tex} = {latex_expr(shown, r)}",
                  rf"\label{{eq:{r.name}}}", r"\end{equation}"]
    else:
        lines += [r"Closed form:", r"\begin{equation}", f"{r.symbol_tex} = {latex_expr(d.implementation, r)}",
                  rf"\label{{eq:{r.name}}}", r"\end{equation}"]
    for n, (val, lim) in sorted(d.limits.items()):
        sym = r.param(n).tex
        lines += [rf"At ${sym} = {sp.latex(val)}$ (a removable singularity):", r"\begin{equation}",
                  f"{r.symbol_tex} = {latex_expr(lim, r)}", rf"\label{{eq:{r.name}:{n}-limit}}", r"\end{equation}"]
    if d.implementation is not None and d.implementation != shown and d.derived is not None:
        lines += [r"Emitted in the numerically stable form (proven equal):", r"\begin{equation}",
                  f"{r.symbol_tex} = {latex_expr(d.implementation, r)}", rf"\label{{eq:{r.name}:stable}}", r"\end{equation}"]
    dom = [f"${p.tex} {_interval_tex(p.domain)}$" for p in r.params]
    dom += [_esc(rel.text) for rel in r.relations]
    lines += ["", r"\noindent Domain: " + ", ".join(dom) + ".", ""]
    lines += [r"\noindent Assumptions:", r"\begin{itemize}"] + [rf"  \item {_esc(a)}" for a in r.assumptions] + [r"\end{itemize}"]
    lines += [rf"\noindent Source: seed {r.source.seed}, {_esc(r.source.where)} \cite{{{r.source.cite}}}.", ""]
    lines += [r"\noindent Proof status:", r"\begin{itemize}"] + [rf"  \item {_esc(str(s))}" for s in d.proof] + [r"\end{itemize}", ""]
    return "\n".join(lines)


def family_latex(family: Family, derivations: list[Derivation]) -> str:
    """A ``\\section`` per family, to ``\\input`` into a document (it needs amsmath and amssymb)."""
    lines = header_lines(family, comment="%")
    lines += ["", rf"\section{{{_esc(family.title)}}}", rf"\label{{sec:family:{family.name}}}", ""]
    for d in derivations:
        lines.append(result_latex(d))
    if family.claims:
        lines += [r"\subsection{Claims}", r"\begin{itemize}"]
        for c in family.claims:
            about = ", ".join(rf"\eqref{{eq:{a}}}" for a in c.about)
            lines.append(rf"  \item \texttt{{{c.name.replace('_', chr(92) + '_')}}}: {_esc(c.statement)} (about {about}; \cite{{{c.source.cite}}})")
        lines += [r"\end{itemize}", ""]
    return "\n".join(lines)


def latex_document(names: list[str] | None = None) -> str:
    """A standalone LaTeX document of the chosen results (all if ``None``), with their claims and a
    bibliography; compiles with a plain ``pdflatex``."""
    from learndyn.derive.registry import derivations, families

    chosen = set(names) if names else None
    if chosen:
        known = {r.name for f in families() for r in f.results}
        unknown = sorted(chosen - known)
        if unknown:
            raise KeyError(f"unknown result(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    body, cites = [], {}
    for fam in families():
        ds = [d for d in derivations(fam.name) if chosen is None or d.result.name in chosen]
        if not ds:
            continue
        body += [rf"\section{{{_esc(fam.title)}}}", rf"\label{{sec:family:{fam.name}}}", ""]
        body += [result_latex(d) for d in ds]
        claims = [c for c in fam.claims if any(d.result.name in c.about for d in ds)]
        if claims:
            body += [r"\subsection{Claims}", r"\begin{itemize}"]
            for c in claims:
                about = ", ".join(rf"\eqref{{eq:{a}}}" for a in c.about if chosen is None or a in chosen)
                body.append(rf"  \item \texttt{{{c.name.replace('_', chr(92) + '_')}}}: {_esc(c.statement)} (about {about})")
            body += [r"\end{itemize}", ""]
        cites.update(fam.bibliography)
    bib = [r"\begin{thebibliography}{9}"] + [rf"\bibitem{{{k}}} {_esc(v)}" for k, v in sorted(cites.items())] + [r"\end{thebibliography}"]
    return "\n".join([
        r"\documentclass{article}", r"\usepackage[utf8]{inputenc}", r"\usepackage[T1]{fontenc}", r"\usepackage{amsmath,amssymb}",
        r"\usepackage[margin=2.5cm]{geometry}", r"\title{Results derived and verified by learndyn}", r"\date{}",
        r"\begin{document}", r"\maketitle", "", *body, *bib, r"\end{document}", ""])
