"""The derivation LaTeX of a family: per result, the defining equation, the closed form, the domain,
assumptions, source (with a citation key) and proof status, with stable ``\\label{eq:NAME}`` labels.

This text is part of what ``learndyn derive --check`` keeps byte-identical."""
from __future__ import annotations

import math
from functools import partial

import sympy as sp

from learndyn.derive.declaration import Family, Result
from learndyn.derive.derivation import Derivation
from learndyn.derive.emit import header_lines
from learndyn.domain import ArrayParam, ChoiceParam, Interval, IntParam

__all__ = ["family_latex", "result_latex", "latex_expr", "latex_body", "latex_document", "bibliography_bibtex", "cited_keys",
           "PREAMBLE", "DOCUMENT_PREAMBLE", "FIT_MACRO", "SCALED_MESSAGE", "PDFSTRING_MACRO"]


def _quadrature(d: Derivation) -> bool:
    """Whether ``d`` is emitted as a quadrature against a spectral density (not the density's weight alone)."""
    return any(not getattr(i, "weight", False) for i in d.integrands)


def _symbol_names(result: Result) -> dict:
    return {p.symbol: p.tex for p in result.params}


def _param_names(result: Result) -> dict[str, str]:
    """Parameter names (``sigma_w2``) to their LaTeX (``\\sigma_w^2``), for prose."""
    return {p.name: p.tex for p in result.params if p.tex != p.name}


def _split_tuple(tex: str) -> list[str]:
    """``"(q^*, c^*)"`` → ``["q^*", "c^*"]`` (top-level commas only); anything else → ``[tex]``."""
    if not (tex.startswith("(") and tex.endswith(")")):
        return [tex]
    parts, depth, cur = [], 0, ""
    for ch in tex[1:-1]:
        depth += ch in "({[" and 1 or 0
        depth -= ch in ")}]" and 1 or 0
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return parts + [cur.strip()]


def output_tex(result: Result, outputs: list[str]) -> dict[str, str]:
    """LaTeX of each output of a result with several: its ``symbol_tex`` tuple, entry by entry, where it
    has one entry per output, else ``symbol_tex`` subscripted by the output's name."""
    parts = _split_tuple(result.symbol_tex)
    if len(parts) == len(outputs):
        return dict(zip(outputs, parts))
    return {o: rf"{result.symbol_tex}_{{\mathrm{{{o.replace('_', ' ')}}}}}" for o in outputs}


def _declared_outputs(definition) -> list[str]:
    """The output names a definition declares (several outputs only), read off the declaration: no derivation."""
    from learndyn.derive.declaration import ByChoice

    if isinstance(definition, ByChoice):
        return _declared_outputs(definition.cases[0][1][-1]) if definition.cases else []
    outs = getattr(definition, "outputs", ())
    if isinstance(outs, tuple) and len(outs) > 1 and all(isinstance(o, tuple) for o in outs):
        return [n for n, _ in outs]
    expr = getattr(definition, "expr", None)
    if isinstance(expr, tuple):
        return [n for n, _ in expr]
    return []


def _notation() -> dict[str, str]:
    """LaTeX for calls of earlier results (their ``symbol_tex``, per output where they have several) and for
    solved variables (``θ^*``) of roots, staged roots included; from the declarations alone."""
    from learndyn.derive.declaration import ByChoice, Root
    from learndyn.derive.printer import SOLVED_PREFIX
    from learndyn.derive.registry import families

    table = {}
    for fam in families():
        for r in fam.results:
            table[r.name] = r.symbol_tex
            defs, parts = [r.definition], []
            if isinstance(r.definition, ByChoice):
                defs = [stage for _, stages in r.definition.cases for stage in stages]
                parts = [f"{r.name}_{value}" for value, _ in r.definition.cases]
            for df in defs:
                if isinstance(df, Root):
                    table[SOLVED_PREFIX + (df.name or r.name)] = sp.latex(df.variable) + "^*"
            names = _declared_outputs(r.definition)
            for o, tex in (output_tex(r, names).items() if names else ()):
                for owner in [r.name, *parts]:
                    table[f"{owner}.{o}"] = tex
            for part in parts:
                table.setdefault(part, r.symbol_tex)
    return table


def _star_symbols(expr: sp.Basic) -> dict:
    """``q_star`` → ``q^*`` (an unknown of a system, named as THEORY.md names the fixed point)."""
    out = {}
    for s in expr.free_symbols:
        if s.name.endswith("_star"):
            out[s] = sp.latex(sp.Symbol(s.name[: -len("_star")])) + "^*"
    return out


def latex_expr(expr: sp.Basic, result: Result) -> str:
    from sympy.core.function import AppliedUndef

    table = _notation()
    names = dict(_symbol_names(result))
    names.update(_star_symbols(expr))
    # a symbol of a parameter's name with other assumptions (sigma_b2 positive where the parameter is
    # nonnegative) is still that parameter: σ_b², not σ_{b2}
    by_name = {p.name: p.tex for p in result.params}
    names.update({s: by_name[s.name] for s in expr.free_symbols if s not in names and s.name in by_name})
    density = getattr(result.definition, "density", None)
    if density is not None:  # a spectral integral's eigenvalue
        names[density.variable] = r"\lambda"

    def named(e):
        tex = table[type(e).__name__]
        args = ", ".join(sp.latex(a, symbol_names=names) for a in e.args)
        sym = sp.Symbol(f"_call{len(names)}")
        names[sym] = tex if tex.endswith("^*") or "(" in tex or "." in type(e).__name__ else rf"{tex}\left({args}\right)"
        return sym

    expr = expr.replace(lambda e: isinstance(e, AppliedUndef) and type(e).__name__ in table, named)
    if isinstance(expr, sp.And):  # a system: one equation per line
        return r" \\ ".join(latex_expr(a, result) for a in expr.args)
    return sp.latex(expr, symbol_names=names, ln_notation=True, inv_trig_style="full")


#: a display that is wider than the line is scaled down to it (no overfull equations), and the log says so
#: (:data:`SCALED_MESSAGE`); the body defines it
FIT_MACRO = (r"\providecommand{\learndynfit}[1]{\sbox0{$\displaystyle #1$}\ifdim\wd0>\dimexpr\linewidth-3em\relax"
             r"\typeout{learndyn: display scaled to the line on input line \the\inputlineno}"
             r"\resizebox{\dimexpr\linewidth-3em\relax}{!}{\usebox0}\else\usebox0\fi}")
#: what the log says for each display that :data:`FIT_MACRO` scaled down
SCALED_MESSAGE = "learndyn: display scaled to the line"


#: headings with mathematics give hyperref's bookmarks their plain text; without hyperref the math is all there is
PDFSTRING_MACRO = r"\providecommand{\texorpdfstring}[2]{#1}"

_PDF_SPECIAL = {ch: "\\" + ch for ch in "#$%&_{}"} | {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _heading(text: str, result: Result | None = None) -> str:
    """A section title: its LaTeX, with the plain text (Unicode, as declared) for PDF bookmarks where it has
    mathematics, which a bookmark cannot show (hyperref would drop its sub- and superscripts)."""
    tex = _esc(text, result)
    if "\\ensuremath" not in tex:
        return tex
    return rf"\texorpdfstring{{{tex}}}{{{''.join(_PDF_SPECIAL.get(ch, ch) for ch in text)}}}"


def _equation(body: str, label: str) -> list[str]:
    if r" \\ " in body:  # a system
        rows = body.split(r" \\ ")
        return [r"\begin{equation}", r"\learndynfit{\begin{gathered}", r" \\ ".join(rows), r"\end{gathered}}",
                rf"\label{{{label}}}", r"\end{equation}"]
    return [r"\begin{equation}", rf"\learndynfit{{{body}}}", rf"\label{{{label}}}", r"\end{equation}"]


def _display(lhs: str, expr: sp.Basic, r: Result, label: str) -> list[str]:
    """A numbered ``lhs = expr``, with its nested ``Piecewise`` and long repeated parts named and defined on
    "where" lines below it (:mod:`learndyn.derive.latex_display`), so that it prints at the size of the text."""
    from learndyn.derive.latex_display import name_parts, where_lines

    tex = partial(latex_expr, result=r)
    named = name_parts([expr], tex, taken=lhs)
    return _equation(f"{lhs} = {tex(named.exprs[0])}", label) + where_lines(named, tex)


def _outputs_block(r: Result, outputs, label: str, names: list[str] | None = None) -> list[str]:
    """A ``gather`` of ``output = expr`` lines, each labelled ``LABEL:OUTPUT`` (``names``: all the result's
    outputs, where ``outputs`` shows some), with the parts they share named below it as in :func:`_display`."""
    from learndyn.derive.latex_display import name_parts, where_lines

    tex = output_tex(r, names or [o for o, _ in outputs])
    to_tex = partial(latex_expr, result=r)
    named = name_parts([e for _, e in outputs], to_tex, taken=" ".join(tex[o] for o, _ in outputs))
    rows = [rf"\learndynfit{{{tex[o]} = {to_tex(e)}}} \label{{{label}:{o}}}" for (o, _), e in zip(outputs, named.exprs)]
    return [r"\begin{gather}", " \\\\\n".join(rows), r"\end{gather}", *where_lines(named, to_tex)]


def _esc(text: str, result: Result | None = None) -> str:
    from learndyn.derive.latex_prose import prose_latex

    return prose_latex(text, _param_names(result) if result is not None else None)


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


def _root_lines(stages, r: Result) -> list[str]:
    """For each root stage: the scalar equation its solver variable is the root of, and its bracket, with their
    long shared parts named below (as :func:`_display` does)."""
    from learndyn.derive.declaration import Root
    from learndyn.derive.latex_display import name_parts, where_lines

    lines = []
    for st in stages:
        if isinstance(st, Root):
            v = sp.latex(st.variable)
            placeholders = {sym: sp.Symbol(f"_given{i}") for i, (sym, _) in enumerate(st.given)}
            given = {placeholders[sym]: latex_expr(e, r) for sym, e in st.given}

            def tex(e: sp.Basic) -> str:
                out = latex_expr(e, r)
                for placeholder, text in given.items():
                    out = out.replace(placeholder.name, text).replace(sp.latex(placeholder), text)
                return out

            named = name_parts([e.subs(placeholders) for e in (st.equation, *st.bracket)], tex, taken=v)
            eq, lo, hi = (tex(e) for e in named.exprs)
            lines += [r"\begin{equation*}", rf"\learndynfit{{{v}^* \text{{ is the root in }} [{lo}, {hi}] \text{{ of }} 0 = {eq}}}",
                      r"\end{equation*}", *where_lines(named, tex)]
    return lines


def _closed_form_lines(d: Derivation) -> list[str]:
    """The closed form(s): per value of a categorical parameter, per output, or one equation; the published
    form where there is one (it is proven equal to the derived one)."""
    r = d.result
    if d.cases and d.parts:
        choice = r.param(r.definition.choice)
        lines = [r"Closed form, per value of $" + choice.tex + "$:", r"\begin{subequations}", rf"\label{{eq:{r.name}}}"]
        stages_of = dict(r.definition.cases)
        for (value, _), part in zip(d.cases, d.parts):
            lines += ["", rf"\noindent For ${choice.tex} = \mathrm{{{value}}}$:"]
            lines += _root_lines(stages_of.get(value, ()), r)
            outputs = part.outputs or ((None, part.derived if part.derived is not None else part.implementation),)
            # an output that is its root itself (q* = q*) says nothing the root's line does not
            outputs = tuple((o, e) for o, e in outputs if o is None or output_tex(r, [x for x, _ in part.outputs])[o]
                            != latex_expr(e, r)) or outputs
            if outputs[0][0] is None:
                lines += _display(r.symbol_tex, outputs[0][1], r, f"eq:{r.name}:{value}")
            else:
                lines += _outputs_block(r, outputs, f"eq:{r.name}:{value}", [o for o, _ in part.outputs])
            lines += _per_integer_lines(part, r, f"eq:{r.name}:{value}")
        return lines + [r"\end{subequations}"]
    if d.outputs:
        return ["Closed form:", r"\begin{subequations}", rf"\label{{eq:{r.name}}}",
                *_outputs_block(r, d.derived_outputs or d.outputs, f"eq:{r.name}"), r"\end{subequations}"]
    shown = r.published if r.published is not None else d.derived
    if shown is not None and _quadrature(d) and len(latex_expr(shown, r)) > 250:  # a form too wide for the page
        return [r"Closed form: too wide to display here; it is given in the proof record below and in the generated "
                r"function's docstring:", *_equation(r.symbol_tex + r" = \text{the derived form}", f"eq:{r.name}")]
    if shown is not None:
        which = "published form (see the source below), derived and proven" if r.published is not None else "derived closed form"
        return [f"Closed form, {which}:", *_display(r.symbol_tex, shown, r, f"eq:{r.name}")]
    return ["Closed form:", *_display(r.symbol_tex, d.implementation, r, f"eq:{r.name}"), *_per_integer_lines(d, r, f"eq:{r.name}")]


def _per_integer_lines(d: Derivation, r: Result, label: str) -> list[str]:
    """The closed forms SymPy derived per value of an integer parameter (and its generic form, or its explicit
    inverse), where the derivation keeps them (a time derived per depth; not the deep-linear forms over roots of unity,
    whose emitted form is shown)."""
    if not d.per_integer or (d.generic is None and not getattr(r.definition, "published", ())
                             and not getattr(r.definition, "derive_inverse", False)):
        return []
    name = next(p for p in r.params if p.kind == "int")
    lines = [rf"Derived closed forms, per value of ${name.tex}$ (proven equal to the emitted form):"]
    forms = [(rf"${name.tex} = {k}$", form, f"{label}:{name.name}-{k}") for k, form in sorted(d.per_integer.items())]
    if d.generic is not None:
        forms.append((rf"Other ${name.tex}$", d.generic, f"{label}:{name.name}-generic"))
    for heading, form, tag in forms:
        lines.append(rf"\noindent {heading}:")
        split = _as_difference(form, d.result.definition)
        if split is None:
            lines += _display(r.symbol_tex, form, r, tag)
        else:
            shown, antiderivative, x = split
            tex = partial(latex_expr, result=r)
            lines += _display(r.symbol_tex, shown, r, tag)
            lines += [r"\noindent where", r"\begin{gather*}",
                      rf"\learndynfit{{F({tex(x)}) = {tex(antiderivative)}}}", r"\end{gather*}"]
    return lines


_F = sp.Function("F")


def _as_difference(form: sp.Expr, definition):
    """A separable time ``A(end) − A(start)`` (or a ``Piecewise`` whose first piece is one) shown as
    ``F(end) − F(start)`` with ``F`` defined once: ``(shown, F(x), x)``, or ``None`` where ``form`` is not such a
    difference of one function at the two ends."""
    start, end = getattr(definition, "start", None), getattr(definition, "end", None)
    if not (isinstance(start, sp.Symbol) and isinstance(end, sp.Symbol)):
        return None
    piece = form.args[0].expr if isinstance(form, sp.Piecewise) else form
    at_end = sp.Add(*[a for a in sp.Add.make_args(piece) if a.has(end) and not a.has(start)])
    x = sp.Symbol("x", positive=True)
    antiderivative = at_end.subs(end, x)
    if at_end == 0 or sp.expand(piece - (at_end - at_end.subs(end, start))) != 0:
        return None
    difference = _F(end) - _F(start)
    if isinstance(form, sp.Piecewise):
        shown = sp.Piecewise((difference, form.args[0].cond), *[(e, c) for e, c in form.args[1:]])
    else:
        shown = difference
    return shown, antiderivative, x


def result_latex(d: Derivation) -> str:
    r = d.result
    name = r.name.replace("_", r"\_")
    lines = [rf"\subsection{{{_heading(r.title, r)}}}", rf"\label{{sec:{r.name}}}", rf"\noindent Result \texttt{{{name}}}.", ""]
    lines += [r"Defining equation:", *_equation(latex_expr(d.defining, r), f"eq:{r.name}:definition")]
    lines += _closed_form_lines(d)
    for n, (val, lim) in sorted(d.limits.items()):
        sym = r.param(n).tex
        lines += [rf"At ${sym} = {sp.latex(val)}$ (a removable singularity):",
                  *_display(r.symbol_tex, lim, r, f"eq:{r.name}:{n}-limit")]
    shown = r.published if r.published is not None else d.derived
    if _quadrature(d):  # a spectral integral: the emitted rule, in words
        lines += [r"\noindent Emitted as a quadrature in the angle $\theta$ of "
                  r"$\lambda = \lambda_- + (\lambda_+ - \lambda_-)\sin^2(\theta/2)$, which removes the square-root "
                  r"edges: Gauss--Legendre on panels graded geometrically toward both edges (where the pole of the "
                  r"density at $\lambda = 0$ and a long decay concentrate the integrand).", ""]
    elif (d.implementation is not None and d.implementation != shown and d.derived is not None and not d.cases
          and getattr(r.definition, "density", None) is None):  # a density: its edges' distances in double-double
        lines += [r"Emitted in the numerically stable form (proven equal):",
                  *_display(r.symbol_tex, d.implementation, r, f"eq:{r.name}:stable")]
    dom = [f"${p.tex} {_interval_tex(p.domain)}$" for p in r.params]
    dom += [_esc(rel.text, r) for rel in r.relations]
    lines += ["", r"\noindent Domain: " + ", ".join(dom) + ".", ""]
    lines += [r"\noindent Assumptions:", r"\begin{itemize}"] + [rf"  \item {_esc(a, r)}" for a in r.assumptions] + [r"\end{itemize}"]
    lines += [_source_line(r), ""]
    lines += [r"\noindent Proof status:", r"\begin{itemize}"] + [rf"  \item {_esc(str(s), r)}" for s in d.proof] + [r"\end{itemize}", ""]
    return "\n".join(lines)


def _source_line(r: Result) -> str:
    """``Source: \\cite{KEY}, Sec. 1.3, eq. (11). As summarised in <the seed talk>, <its place there>.``"""
    from learndyn.derive.bibliography import seed_text

    src = r.source
    line = rf"\noindent Source: \cite{{{src.cite}}}, {_esc(src.where)}."  # the paper's notation: no parameter names
    seed = seed_text(src.seed, src.seed_where)
    return line + (f" {_esc(seed[0].upper() + seed[1:])}." if seed else "")


def _claims_lines(claims, shown: set[str] | None) -> list[str]:
    lines = [r"\subsection{Claims}", r"\begin{itemize}"]
    for c in claims:
        about = ", ".join(rf"\eqref{{eq:{a}}}" for a in c.about if shown is None or a in shown)
        lines.append(rf"  \item \texttt{{{c.name.replace('_', chr(92) + '_')}}}: {_esc(c.statement)} (about {about}; "
                     rf"\cite{{{c.source.cite}}})")
    return lines + [r"\end{itemize}", ""]


def family_latex(family: Family, derivations: list[Derivation]) -> str:
    """A ``\\section`` per family, to ``\\input`` into a document (see :data:`PREAMBLE` for what it needs)."""
    lines = header_lines(family, comment="%")
    lines += ["", rf"\section{{{_heading(family.title)}}}", rf"\label{{sec:family:{family.name}}}", ""]
    for d in derivations:
        lines.append(result_latex(d))
    if family.claims:
        lines += _claims_lines(family.claims, None)
    return "\n".join(lines)


#: all that the body (``learndyn latex --body``) needs: amsmath and amssymb for the equations, graphicx to fit a
#: display wider than the line. It needs no font encoding beyond LaTeX's default OT1, defines its two macros
#: itself with ``\providecommand``, and cites with plain ``\cite`` (any bibliography style)
PREAMBLE = (r"\usepackage{amsmath,amssymb}", r"\usepackage{graphicx}")
#: what the standalone document adds: natbib for its numbered citations, the page, links and bookmarks. No
#: ``[T1]{fontenc}``: with OT1 every font is Computer Modern Type 1, where T1 needs cm-super and otherwise
#: falls back to bitmap fonts
DOCUMENT_PREAMBLE = (r"\usepackage[numbers]{natbib}", r"\usepackage[margin=2.5cm]{geometry}",
                     r"\usepackage[hidelinks]{hyperref}")


def cited_keys(names: list[str] | None = None) -> list[str]:
    """The BibTeX keys that the LaTeX of ``names`` (all results if ``None``) cites, sorted."""
    from learndyn.derive.registry import families

    keys = set()
    for fam in families():
        rs = [r for r in fam.results if names is None or r.name in names]
        keys |= {r.source.cite for r in rs}
        keys |= {c.source.cite for c in fam.claims if any(r.name in c.about for r in rs)}
    return sorted(keys)


def bibliography_bibtex(names: list[str] | None = None) -> str:
    """The ``.bib`` file for the LaTeX of ``names``: THEORY.md's papers, or a family's own entries."""
    from learndyn.derive.bibliography import REFERENCES, bibtex
    from learndyn.derive.registry import families

    keys = cited_keys(names)
    own = {k: v for fam in families() for k, v in fam.bibliography.items() if k not in REFERENCES}
    known = [k for k in keys if k in REFERENCES]
    extra = [f"@misc{{{k},\n  note = {{{own[k]}}},\n}}\n" for k in keys if k in own]
    missing = [k for k in keys if k not in REFERENCES and k not in own]
    if missing:
        raise KeyError(f"no bibliography entry for {', '.join(missing)}; add it to the family's bibliography")
    return bibtex(known) + "".join("\n" + e for e in extra)


def latex_body(names: list[str] | None = None) -> str:
    """The sections of the chosen results (all if ``None``) with their claims, to ``\\input`` into a paper
    whose preamble has :data:`PREAMBLE`'s packages; it defines the one macro it uses."""
    from learndyn.derive.registry import derivations, families

    chosen = set(names) if names else None
    if chosen:
        known = {r.name for f in families() for r in f.results}
        unknown = sorted(chosen - known)
        if unknown:
            raise KeyError(f"unknown result(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    body = [FIT_MACRO, PDFSTRING_MACRO, r"\begingroup\sloppy", ""]
    for fam in families():
        ds = [d for d in derivations(fam.name) if chosen is None or d.result.name in chosen]
        if not ds:
            continue
        body += [rf"\section{{{_heading(fam.title)}}}", rf"\label{{sec:family:{fam.name}}}", ""]
        body += [result_latex(d) for d in ds]
        claims = [c for c in fam.claims if any(d.result.name in c.about for d in ds)]
        if claims:
            body += _claims_lines(claims, chosen)
    return "\n".join(body + [r"\endgroup"])


def latex_document(names: list[str] | None = None, *, bib: str = "learndyn", extra_body: str = "",
                   title: str = "Results derived and verified by learndyn", extra_preamble: tuple[str, ...] = ()) -> str:
    """A standalone document of the chosen results (all if ``None``), citing from ``BIB.bib`` (write it with
    :func:`bibliography_bibtex`); compiles with ``pdflatex`` + ``bibtex`` (``latexmk -pdf``)."""
    return "\n".join([
        r"\documentclass[11pt]{article}", *PREAMBLE, *DOCUMENT_PREAMBLE, *extra_preamble, rf"\title{{{title}}}", r"\date{}",
        r"\begin{document}", r"\maketitle", r"\tableofcontents", "", latex_body(names), extra_body,
        r"\bibliographystyle{plainnat}", rf"\bibliography{{{bib}}}", r"\end{document}", ""])
