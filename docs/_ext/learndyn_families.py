"""Sphinx extension: one page per family of results, written from what ``learndyn derive`` generated.

At ``builder-inited`` it writes ``docs/families/<family>.rst``, ``docs/families/index.rst`` and
``docs/families/references.rst`` (build products, ignored by git). Nothing is written twice and nothing is
re-derived; every piece comes from a file the declarations generated or from the verification record:

- ``generated/catalogue.json`` (:func:`learndyn.catalogue.load_catalogue`): families, titles, signatures, parameters
  with their domain, test and simulation ranges, relations, notes, assumptions, sources and claims;
- ``generated/<family>.tex`` (what ``learndyn latex`` prints, from :mod:`learndyn.derive.latex`): each result's
  defining equation and closed forms as LaTeX, rendered here with ``.. math::``, and its proof record;
- :mod:`learndyn.derive.bibliography`: the references;
- ``docs/_data/verification.json`` (``docs/record_verification.py``): the verification status and power of the
  last recorded run, shown as recorded.

Anything it cannot translate (a LaTeX command it does not know, a result missing from one of the sources, a math
command MathJax may not render) is a Sphinx warning, so ``-W`` fails the build instead of printing it wrong.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parent.parent
RECORD = DOCS / "_data" / "verification.json"

#: math commands in the generated LaTeX that MathJax 3 renders (its TeX input with the ams extensions); a command
#: not listed here is a warning, so a new macro in the LaTeX export is looked at before a page shows it raw
MATH_COMMANDS = frozenset("""
    Delta Gamma Lambda Omega Phi Pi Psi Sigma Theta Xi Upsilon
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi rho varrho
    sigma varsigma tau upsilon phi varphi chi psi omega ell infty partial nabla surd
    frac tfrac dfrac sqrt left right big Big bigg Bigg middle
    begin end text mathrm mathbf mathbb mathcal mathit operatorname boldsymbol
    sin cos tan arcsin arccos arctan sinh cosh tanh ln log exp max min sup inf lim det
    int sum prod limits substack
    cdot times odot otimes circ to mapsto in notin sim propto approx equiv ne neq le leq ge geq ll gg pm mp
    wedge vee land lor neg setminus cup cap subset subseteq top bot perp
    bar hat tilde dot ddot vec overline underline widehat widetilde
    quad qquad
""".split())
#: environments inside the math
MATH_ENVIRONMENTS = frozenset({"cases", "gathered", "aligned", "matrix", "pmatrix", "bmatrix", "array"})

#: text-mode commands of the generated LaTeX and their plain text
#: LaTeX's text ligatures and their characters, longest first (``---`` before ``--``)
LIGATURES = {"---": "—", "--": "–", "``": "“", "''": "”"}
TEXT_SYMBOLS = {"textless": "<", "textgreater": ">", "textbackslash": "\\", "textasciitilde": "~",
                "textasciicircum": "^", "allowbreak": "", "noindent": "", "sloppy": ""}
ESCAPED = set("_%&#${} ")


# -- LaTeX text -> reStructuredText -----------------------------------------------------------------------------

def _group(s: str, i: int) -> tuple[str, int]:
    """The brace group starting at ``s[i] == '{'``: its content and the index after its closing brace."""
    if i >= len(s) or s[i] != "{":
        raise ValueError(f"expected '{{' at {i} in {s[:80]!r}")
    depth = 0
    for j in range(i, len(s)):
        c = s[j]
        if c == "\\":
            continue
        if c == "{" and (j == 0 or s[j - 1] != "\\"):
            depth += 1
        elif c == "}" and s[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return s[i + 1:j], j + 1
    raise ValueError(f"unbalanced braces in {s[:80]!r}")


def escape_rst(text: str) -> str:
    """Plain text made safe inside a reStructuredText paragraph: markup characters escaped."""
    return re.sub(r"([\\`*_|])", r"\\\1", text).replace("::", r":\:")


def paragraph(text: str) -> str:
    """A paragraph's reStructuredText that does not start a list, a field or a comment."""
    if re.match(r"([-+#*]\s|\d+[.)]\s|\.\.\s)", text):
        return "\\" + text
    return text


@dataclass
class Inline:
    """Inline pieces of one paragraph: ``("text", s)``, ``("math", tex)``, ``("code", s)`` or ``("ref", target, s)``."""

    parts: list = field(default_factory=list)
    where: str = ""

    def text(self, s: str) -> None:
        if s:
            if self.parts and self.parts[-1][0] == "text":
                self.parts[-1] = ("text", self.parts[-1][1] + s)
            else:
                self.parts.append(("text", s))

    def rst(self) -> str:
        out = ""
        for k, part in enumerate(self.parts):
            kind = part[0]
            if kind == "text":
                out += escape_rst(part[1])
                continue
            if kind == "math":
                check_math(part[1], self.where)
                piece = f":math:`{part[1]}`"
            elif kind == "code":
                code = part[1].strip()
                if not code:
                    continue
                piece = f"``{code}``" if "``" not in code and not code.endswith("`") else escape_rst(code)
            else:  # ref
                piece = f":ref:`{escape_rst(part[2])} <{part[1]}>`"
            before = out[-1:] if out else " "
            nxt = self.parts[k + 1][1][:1] if k + 1 < len(self.parts) and self.parts[k + 1][0] == "text" else " "
            out += ("" if before.isspace() else "\\ ") + piece + ("" if (nxt.isspace() or not nxt) else "\\ ")
        return paragraph(re.sub(r"[ \t]+", " ", out).strip())


def latex_text(src: str, where: str, known_results: set[str]) -> str:
    """One paragraph of the generated LaTeX's text (prose with ``\\ensuremath``, ``\\texttt``, ``\\cite`` ...) as
    reStructuredText; an unknown command is a warning."""
    line = Inline(where=where)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "$":
            j = src.index("$", i + 1)
            line.parts.append(("math", src[i + 1:j]))
            i = j + 1
            continue
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+)\s*", src[i:])
            if not m:  # \_ \% \{ ...
                nxt = src[i + 1:i + 2]
                if nxt in ESCAPED:
                    line.text(nxt)
                elif nxt == "\\":
                    line.text(" ")
                else:
                    logger.warning(f"{where}: unknown LaTeX escape \\{nxt} in the generated text")
                    line.text(nxt)
                i += 2
                continue
            cmd = m.group(1)
            after = i + len("\\" + cmd)
            if cmd in ("ensuremath", "texttt", "cite", "eqref", "ref", "texorpdfstring", "emph", "textit", "textbf"):
                arg, end = _group(src, after)
                if cmd == "ensuremath":
                    line.parts.append(("math", arg))
                elif cmd == "texttt":
                    line.parts += _texttt_parts(arg, where)
                elif cmd == "cite":
                    for k, key in enumerate(arg.split(",")):
                        line.text("[" if k == 0 else ", ")
                        line.parts.append(("ref", f"ref-{key.strip()}", key.strip()))
                    line.text("]")
                elif cmd in ("eqref", "ref"):
                    name = re.sub(r"^(eq|sec):", "", arg).split(":")[0]
                    if name in known_results:
                        line.parts.append(("ref", f"result-{name}", name))
                    else:
                        line.text(f"({arg})")
                elif cmd == "texorpdfstring":
                    plain, end = _group(src, end)
                    line.text(plain)
                else:  # \emph, \textit, \textbf: their text, read on
                    src, n = src[:i] + arg + src[end:], len(src) - (end - i) + len(arg)
                    continue
                i = end
                continue
            if cmd == "char":
                m2 = re.match(r"\\char(\d+)(\{\})?", src[i:])
                line.text(chr(int(m2.group(1))))
                i += len(m2.group(0))
                continue
            if cmd in TEXT_SYMBOLS:
                line.text(TEXT_SYMBOLS[cmd])
                i = after
                if src[i:i + 2] == "{}":
                    i += 2
                continue
            logger.warning(f"{where}: the LaTeX text command \\{cmd} has no translation (docs/_ext/learndyn_families.py)")
            i = after
            continue
        ligature = next((t for t in LIGATURES if src.startswith(t, i)), None)
        if ligature is not None:
            line.text(LIGATURES[ligature])
            i += len(ligature)
        elif c == "~":
            line.text("\u00a0")
            i += 1
        elif c in "{}":
            i += 1
        else:
            line.text(c)
            i += 1
    return line.rst()


def _texttt_parts(arg: str, where: str) -> list:
    """``\\texttt{...}``: code, with any ``\\ensuremath{...}`` inside it as math."""
    parts, i = [], 0
    while True:
        j = arg.find("\\ensuremath", i)
        if j < 0:
            return parts + [("code", _code_text(arg[i:], where))]
        math, end = _group(arg, j + len("\\ensuremath"))
        parts += [("code", _code_text(arg[i:j], where)), ("math", math)]
        i = end


def _code_text(arg: str, where: str) -> str:
    out = arg.replace("\\allowbreak{}", "").replace("\\allowbreak", "")
    out = re.sub(r"\\char(\d+)(\{\})?", lambda m: chr(int(m.group(1))), out)
    out = re.sub(r"\\([_%&#${} ])", r"\1", out)
    for cmd, text in TEXT_SYMBOLS.items():
        out = out.replace(f"\\{cmd}{{}}", text)
    if "\\" in out:
        logger.warning(f"{where}: a LaTeX command inside \\texttt has no translation: {arg[:80]!r}")
    return out


def check_math(tex: str, where: str) -> None:
    """Warn about a math command or environment MathJax may not render."""
    for cmd in set(re.findall(r"\\([A-Za-z]+)", tex)) - MATH_COMMANDS:
        logger.warning(f"{where}: math command \\{cmd} is not known to render in MathJax "
                       "(add a macro to conf.py's mathjax3_config and to MATH_COMMANDS)")
    for env in set(re.findall(r"\\begin\{([^}]*)\}", tex)) - MATH_ENVIRONMENTS:
        logger.warning(f"{where}: math environment {env!r} is not known to render in MathJax")
    if "`" in tex:
        logger.warning(f"{where}: a backtick in math cannot be written in reStructuredText: {tex[:60]!r}")


# -- the generated LaTeX of one family ---------------------------------------------------------------------------

def strip_fit(tex: str) -> str:
    """``\\learndynfit{X}`` (the export's fit-to-line macro) -> ``X``, labels removed."""
    tex = re.sub(r"\\label\{[^}]*\}", "", tex)
    out, i = "", 0
    while True:
        j = tex.find("\\learndynfit", i)
        if j < 0:
            return (out + tex[i:]).strip()
        arg, end = _group(tex, j + len("\\learndynfit"))
        out += tex[i:j] + arg
        i = end


def split_top(tex: str, sep: str = "\\\\") -> list[str]:
    """``tex`` split at ``sep`` outside braces and environments (the rows of a ``gather``)."""
    parts, depth, env, start, i = [], 0, 0, 0, 0
    while i < len(tex):
        if tex.startswith("\\begin{", i):
            env += 1
        elif tex.startswith("\\end{", i):
            env -= 1
        if tex[i] == "\\" and tex.startswith(sep, i) and depth == 0 and env == 0:
            parts.append(tex[start:i])
            i += len(sep)
            start = i
            continue
        if tex[i] == "\\":
            i += 2
            continue
        depth += tex[i] == "{"
        depth -= tex[i] == "}"
        i += 1
    parts.append(tex[start:])
    return [p for p in (strip_fit(p) for p in parts) if p]


@dataclass
class ResultTex:
    """What one result's section of ``generated/<family>.tex`` holds that the catalogue does not."""

    name: str
    #: ``("text", latex)`` captions and ``("math", [equation, ...])`` displays, in order
    displays: list = field(default_factory=list)
    #: the proof record's items (LaTeX text)
    proof: list = field(default_factory=list)


MATH_ENVS = ("equation", "equation*", "gather", "gather*")


def parse_family_tex(tex: str) -> dict[str, ResultTex]:
    """The results' sections of a family's generated LaTeX, by name."""
    out: dict[str, ResultTex] = {}
    for chunk in re.split(r"^\\subsection\{", tex, flags=re.M)[1:]:
        m = re.search(r"^\\label\{sec:([^}]*)\}", chunk, flags=re.M)
        if not m:
            continue  # the claims
        r = ResultTex(m.group(1))
        out[r.name] = r
        lines = chunk.splitlines()
        k = next((k for k, s in enumerate(lines) if s.startswith("\\noindent Result ")), 0) + 1
        para: list[str] = []

        def flush():
            if para:
                r.displays.append(("text", " ".join(para)))
                para.clear()

        while k < len(lines):
            s = lines[k].strip()
            if s.startswith("\\noindent Domain:") or s.startswith("\\noindent Assumptions:"):
                break
            env = re.match(r"\\begin\{([^}]*)\}", s)
            if env and env.group(1) in MATH_ENVS:
                flush()
                body = []
                k += 1
                while not lines[k].strip().startswith(f"\\end{{{env.group(1)}}}"):
                    body.append(lines[k])
                    k += 1
                content = "\n".join(body)
                rows = split_top(content) if env.group(1).startswith("gather") else [strip_fit(content)]
                r.displays.append(("math", rows))
            elif s.startswith("\\begin{subequations}") or s.startswith("\\end{subequations}") or s.startswith("\\label{"):
                flush()
            elif not s:
                flush()
            else:
                para.append(s)
            k += 1
        flush()
        proof = re.search(r"\\noindent Proof status:\s*\\begin\{itemize\}(.*?)\\end\{itemize\}", chunk, flags=re.S)
        if proof:
            r.proof = [item.strip() for item in re.split(r"^\s*\\item\s", proof.group(1), flags=re.M) if item.strip()]
    return out


# -- the verification record -----------------------------------------------------------------------------------

def load_record() -> dict:
    if not RECORD.exists():
        logger.warning(f"{RECORD} is missing: write it with `python docs/record_verification.py`")
        return {"recorded": {}, "results": {}, "claims": {}}
    return json.loads(RECORD.read_text(encoding="utf-8"))


def percent(delta) -> str:
    """A power ``δ`` as ``learndyn verify --power`` prints it."""
    if delta is None:
        return "—"
    if delta == "inf":
        return "> 50 %"
    if delta <= 1e-4 * (1 + 1e-9):
        return "≤ 0.01 %"
    return f"{delta * 100:.2g} %"


def tier_text(t) -> str:
    if not t:
        return "not recorded"
    what = "passed" if t.get("passed") else "**FAILED**"
    if t.get("checks"):
        what += f" ({t['checks']} check{'s' if t['checks'] != 1 else ''})"
    if t.get("failed"):
        what += ": " + ", ".join(escape_rst(f) for f in t["failed"])
    return what


def power_text(p) -> str:
    if not p:
        return "not recorded"
    if p.get("bound_replaced_by"):
        ok = p.get("bound_detected")
        return (f"a bound: the check {'fails' if ok else '**passes**'} when it is replaced by "
                f"``{p['bound_replaced_by']}`` ({'meets' if p.get('meets_target') else '**misses**'} the target)")
    text = f"δ = {percent(p.get('delta'))}"
    if p.get("weakest"):
        text += f" (weakest: {escape_rst(p['weakest'])})"
    return text + (", meets the 2 % target" if p.get("meets_target") else ", **misses the 2 % target**")


def run_text(r: dict) -> str:
    """How one run was recorded: command, size, seed, device, torch, date, commit."""
    bits = [f"``{r['command']}``" if r.get("command") else None,
            f"``--examples {r['examples']}``" if r.get("examples") else None,
            f"seed {r['seed']}" if r.get("seed") is not None else None,
            f"device {r['device']}" if r.get("device") else None,
            f"torch {r['torch']}" if r.get("torch") else None]
    date = r.get("date") or "as recorded (not stated)"
    commit = r.get("commit") or "as recorded (not stated)"
    return f"{', '.join(b for b in bits if b)}; date: {escape_rst(str(date))}; commit: {escape_rst(str(commit))}"


def provenance(rec: dict) -> str:
    r = rec.get("recorded", {})
    text = (f"Verification status and power as recorded in ``docs/_data/verification.json`` (not re-run when the docs "
            f"are built): {run_text(r)}.")
    if r.get("source"):
        text += f" Source of the record: {escape_rst(r['source'])}."
    if r.get("note"):
        text += f" {escape_rst(r['note'])}"
    return text + " Regenerate it with ``python docs/record_verification.py`` (see :doc:`/guides/verify`)."


# -- pages ---------------------------------------------------------------------------------------------------------

def heading(text: str, char: str) -> list[str]:
    text = paragraph(escape_rst(text))
    return [text, char * (len(text) + 2), ""]


def _range(value) -> str:
    return f"``{value}``" if value else "—"


def param_table(r: dict) -> list[str]:
    rows = [".. list-table::", "   :header-rows: 1", "   :widths: 12 40 16 16 16", "",
            "   * - parameter", "     - meaning", "     - domain", "     - test range (tier a)",
            "     - simulation range (tier b)"]
    for p in r["params"]:
        test = _range(p["test"])
        if p["special"]:
            test += ", also at " + ", ".join(f"``{v}``" for v in p["special"])
        rows += [f"   * - ``{p['name']}``", f"     - {escape_rst(p['description'] or '')}", f"     - {_range(p['domain'])}",
                 f"     - {test}", f"     - {_range(p['sim'])}"]
    return rows + [""]


def math_block(rows: list[str], where: str) -> list[str]:
    out = [".. math::", ""]
    for k, row in enumerate(rows):
        check_math(row, where)
        if k:
            out.append("")
        out += ["   " + ln.strip() for ln in row.splitlines() if ln.strip()]
    return out + [""]


def source_text(src: dict) -> str:
    """A source's text with its citation key linked to the references page."""
    text, key = paragraph(escape_rst(src["text"])), src["cite"]
    link = f":ref:`{key} <ref-{key}>`"
    cited = f"[{escape_rst(key)}]"
    return text.replace(cited, f"[{link}]") if cited in text else f"{text} ({link})"


def result_section(name: str, r: dict, tex: ResultTex | None, rec: dict, cat: dict, known: set[str]) -> list[str]:
    where = f"generated/{r['family']}.tex: {name}"
    out = [f".. _result-{name}:", ""] + heading(r["title"], "-")
    out += [f"``learndyn.function(\"{name}\")``: ``{r['signature']}``, returns :math:`{r['symbol']}`"
            + (f" as the named tuple ``({', '.join(r['outputs'])})``" if r["outputs"] else "") + ".", ""]
    check_math(r["symbol"], where)
    out += [".. rubric:: Parameters", ""] + param_table(r)
    for label, key in (("Relations between parameters", "relations"), ("Notes", "notes")):
        if r[key]:
            out += [f"**{label}**", ""] + [f"- {paragraph(escape_rst(x))}" for x in r[key]] + [""]
    if r.get("stability"):
        out += [f"**Stability**: {escape_rst(r['stability'])}", ""]
    out += [".. rubric:: Equations", ""]
    if tex is None or not tex.displays:
        logger.warning(f"{where}: no equations found in the generated LaTeX")
    else:
        for kind, value in tex.displays:
            if kind == "text":
                out += [latex_text(value, where, known), ""]
            else:
                out += math_block(value, where)
    out += [".. rubric:: Assumptions", ""] + [f"- {paragraph(escape_rst(a))}" for a in r["assumptions"]] + [""]
    out += [".. rubric:: Source", "", source_text(r["source"]), ""]
    out += [".. rubric:: Proof record", ""]
    if tex is None or not tex.proof:
        logger.warning(f"{where}: no proof record found in the generated LaTeX")
    else:
        for item in tex.proof:
            text = latex_text(item, where, known)
            text = re.sub(r" — (symbolic|numeric)\b", r" — **\1**", text)
            out += [f"- {text}"]
        out += [""]
    v = rec.get("results", {}).get(name)
    if v and v.get("recorded"):  # recorded by a later run of some results (docs/record_verification.py NAMES)
        out += [".. rubric:: Verification (as recorded)", "", f"Recorded separately: {run_text(v['recorded'])}.", ""]
    else:
        out += [".. rubric:: Verification (as recorded)", ""]
    out += [
            f"- tier a (generated function against 50-digit mpmath): {tier_text(v and v.get('tier_a'))}",
            f"- tier b (theory against simulation): {tier_text(v and v.get('tier_b'))}",
            f"- power (smallest relative error tier b detects): {power_text(v and v.get('power'))}", ""]
    claims = [c for c, cd in cat["claims"].items() if name in cd["about"]]
    if claims:
        out += ["Claims about it: " + ", ".join(f":ref:`{c} <claim-{c}>`" for c in claims) + ".", ""]
    return out


def family_page(number: int, fam: dict, cat: dict, texs: dict[str, ResultTex], rec: dict, known: set[str]) -> str:
    out = [f".. _family-{fam['name']}:", "", "..", "   generated by docs/_ext/learndyn_families.py from generated/catalogue.json, "
           f"generated/{fam['name']}.tex and docs/_data/verification.json — do not edit", ""]
    out += heading(f"Family {number}: {fam['title']}", "=")
    if (DOCS / "family_intros" / f"{fam['name']}.rst").exists():  # the prose overview, written by hand
        out += [f".. include:: /family_intros/{fam['name']}.rst", ""]
    out += [f"Results: {', '.join(f':ref:`{n} <result-{n}>`' for n in fam['results'])}.", ""]
    if fam["claims"]:
        out += [f"Claims: {', '.join(f':ref:`{c} <claim-{c}>`' for c in fam['claims'])}.", ""]
    out += [f"Generated from the declarations (``derive/families/{fam['name']}.py``): parameters, assumptions and "
            f"sources from ``generated/catalogue.json``, equations and proof records from "
            f"``generated/{fam['name']}.tex`` — the same LaTeX ``learndyn latex`` exports. "
            f"Tier b's simulation checks are declared in ``verify/families/{fam['name']}.py``.", "",
            ".. note::", "", "   " + provenance(rec), ""]
    for name in fam["results"]:
        out += result_section(name, cat["results"][name], texs.get(name), rec, cat, known)
    if fam["claims"]:
        out += heading("Claims", "-")
        out += ["Qualitative statements of the seeds, checked against simulation (``learndyn verify --tier claims``).", ""]
        for c in fam["claims"]:
            cd = cat["claims"][c]
            status = tier_text(rec.get("claims", {}).get(c))
            out += [f".. _claim-{c}:", "", f"``{c}``", f"   {escape_rst(cd['statement'])}", "",
                    f"   About: {', '.join(f':ref:`{a} <result-{a}>`' for a in cd['about'])}. Source: "
                    f"{source_text(cd['source'])}. "
                    f"Last recorded check: {status}.", ""]
    return "\n".join(out).rstrip() + "\n"


def index_page(cat: dict, rec: dict) -> str:
    out = ["..", "   generated by docs/_ext/learndyn_families.py — do not edit", ""]
    out += heading("Families of results", "=")
    out += ["One page per family, generated at build time from what ``learndyn derive`` wrote from the declarations. "
            "Per result: its signature and parameters (domain, test range, simulation range), the defining equation "
            "and closed forms, assumptions, source, the proof record, and the verification status and power of the "
            "last recorded run.", "", ".. note::", "", "   " + provenance(rec), "",
            ".. toctree::", "   :maxdepth: 1", ""]
    out += [f"   {fam['name']}" for fam in cat["families"]] + ["   references", ""]
    out += [".. list-table::", "   :header-rows: 1", "   :widths: 25 45 15 15", "", "   * - result", "     - title",
            "     - family", "     - power δ (recorded)"]
    for k, fam in enumerate(cat["families"], 1):
        for name in fam["results"]:
            p = (rec.get("results", {}).get(name) or {}).get("power")
            pw = "bound" if p and p.get("bound_replaced_by") else percent(p.get("delta")) if p else "not recorded"
            out += [f"   * - :ref:`{name} <result-{name}>`", f"     - {escape_rst(cat['results'][name]['title'])}",
                    f"     - :doc:`{k} <{fam['name']}>`", f"     - {pw}"]
    return "\n".join(out) + "\n"


def power_table(cat: dict, rec: dict) -> str:
    """The recorded power of every result, a row per family (included by docs/guides/verify.rst)."""
    out = [".. list-table::", "   :header-rows: 1", "   :widths: 10 90", "", "   * - family", "     - results and their power δ (as recorded)"]
    for k, fam in enumerate(cat["families"], 1):
        cells = []
        for name in fam["results"]:
            p = (rec.get("results", {}).get(name) or {}).get("power")
            if not p:
                what = "not recorded"
            elif p.get("bound_replaced_by"):
                what = f"fails as ``{p['bound_replaced_by']}``" if p.get("bound_detected") else "**passes** as its bound"
            else:
                what = percent(p.get("delta"))
            cells.append(f":ref:`{name} <result-{name}>` {what}")
        out += [f"   * - :doc:`{k} </families/{fam['name']}>`", f"     - {', '.join(cells)}"]
    return "\n".join(out) + "\n"


def references_page(keys: list[str]) -> str:
    from learndyn.derive.bibliography import REFERENCES

    out = ["..", "   generated by docs/_ext/learndyn_families.py from learndyn.derive.bibliography — do not edit", ""]
    out += heading("References", "=")
    for key in keys:
        ref = REFERENCES.get(key)
        if ref is None:
            logger.warning(f"no bibliography entry for {key!r} (derive/bibliography.py)")
            continue
        out += [f".. _ref-{key}:", "", f"``{key}``", f"   {escape_rst(str(ref))}", ""]
    return "\n".join(out)


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def check_declarations(cat: dict) -> None:
    """Warn where the committed generated files no longer match the declarations (run ``learndyn derive``)."""
    from learndyn.derive.registry import families

    declared = {f.name: [r.name for r in f.results] for f in families()}
    generated = {f["name"]: f["results"] for f in cat["families"]}
    if declared != generated:
        logger.warning("generated/catalogue.json does not match the declarations: run `learndyn derive` "
                       f"(declared {declared}, generated {generated})")


def generate(app) -> None:
    import learndyn.generated
    from learndyn.catalogue import load_catalogue

    cat = load_catalogue()
    check_declarations(cat)
    rec = load_record()
    gen = Path(learndyn.generated.__file__).parent
    out_dir = DOCS / "families"
    out_dir.mkdir(exist_ok=True)
    known = set(cat["results"])
    unknown = set(rec.get("results", {})) - known
    if unknown:
        logger.warning(f"docs/_data/verification.json records unknown results: {', '.join(sorted(unknown))}")
    for k, fam in enumerate(cat["families"], 1):
        texs = parse_family_tex((gen / f"{fam['name']}.tex").read_text(encoding="utf-8"))
        missing = set(fam["results"]) - set(texs)
        if missing:
            logger.warning(f"generated/{fam['name']}.tex lacks {', '.join(sorted(missing))}: run `learndyn derive`")
        _write(out_dir / f"{fam['name']}.rst", family_page(k, fam, cat, texs, rec, known))
    _write(out_dir / "index.rst", index_page(cat, rec))
    _write(out_dir / "power_table.inc", power_table(cat, rec))
    keys = sorted({r["source"]["cite"] for r in cat["results"].values()} | {c["source"]["cite"] for c in cat["claims"].values()})
    _write(out_dir / "references.rst", references_page(keys))


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
