"""Prose with Unicode mathematics (assumptions, relations, proof records) as LaTeX text.

The declarations write mathematics in prose the way THEORY.md does: ``σ_w²``, ``q*``, ``χ1``, ``Θ⁻¹``,
``‖f0 − Y‖``. :func:`prose_latex` typesets each such atom in math mode (``\\ensuremath{\\sigma_w^2}``,
``q^*``, ``\\chi_1``), escapes LaTeX's special characters, and sets tokens that are SymPy's printing of an
expression (``c_star*q_star``, ``sqrt(q1)``, ``Eq(...)``, as proof records quote them) in typewriter type with
break points, so that long ones wrap instead of running into the margin; such an expression is one span up to
its closing bracket, spaces included (``sqrt(-c**2 + q1*q2)``), so that its operators are typewriter
characters too, with only parameter names in math. Unicode super- and subscripts inside an exponent
(``e^{−x²}``) become ``^{2}``, ``_{2}``. The output needs no font encoding beyond LaTeX's default OT1 (``|`` is
set in math, ``--`` in typewriter as ``-{}-``). A character it cannot typeset raises ``ValueError`` naming it:
the export fails at ``derive`` time, not in the reader's LaTeX run.
"""
from __future__ import annotations

import re

__all__ = ["prose_latex", "GREEK"]

GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "ζ": r"\zeta", "η": r"\eta",
    "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "π": r"\pi",
    "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "υ": r"\upsilon", "φ": r"\phi", "χ": r"\chi", "ψ": r"\psi",
    "ω": r"\omega", "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi",
    "Σ": r"\Sigma", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega",
}
#: letters with a precomposed accent
_ACCENTED = {"ŷ": r"\hat{y}", "x̂": r"\hat{x}", "w̄": r"\bar{w}", "Ṫ": r"\dot{T}", "𝟙": r"\mathbf{1}"}
_SUPERSCRIPTS = {"²": "2", "³": "3", "⁴": "4", "⁰": "0", "¹": "1", "*": "*", "ᵀ": r"\top", "⁻¹": "-1"}
_SUBSCRIPTS = {chr(0x2080 + k): str(k) for k in range(10)} | {"₊": "+", "₋": "-"}
_SYMBOLS = {
    "−": "-", "√": r"\surd", "→": r"\to", "·": r"\cdot", "‖": r"\|", "∞": r"\infty", "≥": r"\ge", "≤": r"\le",
    "∈": r"\in", "∂": r"\partial", "↦": r"\mapsto", "⊗": r"\otimes", "⊙": r"\odot", "½": r"\tfrac12",
    "≈": r"\approx", "≠": r"\ne", "×": r"\times", "±": r"\pm", "∫": r"\int", "∑": r"\sum", "∇": r"\nabla",
    "⟨": r"\langle", "⟩": r"\rangle", "∝": r"\propto", "∼": r"\sim", "≪": r"\ll", "≫": r"\gg", "≡": r"\equiv",
    "′": r"'", "^": r"\hat{}", "|": "|", "~": r"\sim",
}
_TEXT = {"—": "---", "–": "--", "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
         "_": r"\_", "{": r"\{", "}": r"\}", "<": r"\textless{}", ">": r"\textgreater{}",
         "’": "'", "‘": "`", "“": "``", "”": "''"}

_SUP = "(?:⁻¹|[²³⁴⁰¹ᵀ])"
_BASE = "(?:" + "|".join(map(re.escape, sorted({**GREEK, **_ACCENTED}, key=len, reverse=True))) + ")"
_ATOM = re.compile(
    rf"(?P<base>{_BASE}|(?<![A-Za-z_])[A-Za-z](?=\u0302|{_SUP}|\d*\^|\*(?![A-Za-z0-9(])|_[A-Za-z0-9{{]|\^))"
    rf"(?P<hat>\u0302)?"
    rf"(?P<digits>\d+(?![\d.]))?"
    rf"(?P<tail>(?:_\{{[^}}]*\}}|_[A-Za-z0-9]+|\^\{{[^}}]*\}}|\^[A-Za-z0-9]+|{_SUP}|\*(?![A-Za-z0-9(]))*)"
)
#: SymPy's printing of an expression (operators, snake_case names): code even in an unclosed bracket
_STRONG_CODE = re.compile(r"\*\*|[A-Za-z0-9)]\*[A-Za-z0-9(]|[A-Za-z]{2,}_[A-Za-z0-9]|[A-Za-z0-9]_[A-Za-z]{2,}|[A-Za-z0-9]_\*")
#: SymPy's printing of an expression, as proof records quote it: the above, or a call ``name(``; a call ``sin(A``
#: whose bracket does not close in SymPy's ASCII (``sin(A − φ)``) is prose
_CODE = re.compile(_STRONG_CODE.pattern + r"|[A-Za-z]{2,}\w*\(")


def _math_inner(text: str) -> str:
    """Text already in math mode (an exponent): Greek letters and symbols as commands, Unicode super- and
    subscripts as ``^{…}`` and ``_{…}`` (``−x²`` is ``-x^{2}``)."""
    out = []
    for piece in re.findall(r"⁻¹|.", text, flags=re.S):
        if piece in _SUPERSCRIPTS and piece != "*":
            out.append("^{" + _SUPERSCRIPTS[piece] + "}")
        elif piece in _SUBSCRIPTS:
            out.append("_{" + _SUBSCRIPTS[piece] + "}")
        else:
            tex = GREEK.get(piece) or _SYMBOLS.get(piece)
            out.append(tex + " " if tex and tex.startswith("\\") else tex or piece)
    return "".join(out).strip()


def _tail_latex(tail: str) -> tuple[str, str]:
    subs, sups = [], []
    for piece in re.findall(rf"_\{{[^}}]*\}}|_[A-Za-z0-9]+|\^\{{[^}}]*\}}|\^[A-Za-z0-9]+|⁻¹|[²³⁴⁰¹ᵀ*]", tail):
        if piece.startswith("_"):
            subs.append(piece[1:].strip("{}"))
        elif piece.startswith("^"):
            sups.append(_math_inner(piece[1:].strip("{}")))
        else:
            sups.append(_SUPERSCRIPTS[piece])
    sub = ("_{" + ",".join(subs) + "}") if subs else ""
    sup = ("^{" + "".join(sups) + "}") if sups else ""
    return sub, sup


def _atom_latex(m: re.Match) -> str:
    base = m["base"]
    tex = GREEK.get(base) or _ACCENTED.get(base) or base
    if m["hat"]:
        tex = rf"\hat{{{tex}}}"
    sub, sup = _tail_latex(m["tail"] or "")
    digits = m["digits"] or ""
    if digits and (base in GREEK or sup):  # χ1 is χ_1, a0^D is a_0^D (T12² stays T12 squared: no atom)
        sub, digits = "_{" + digits + ("," + sub[2:-1] if sub else "") + "}", ""
    return rf"\ensuremath{{{tex}{sub}{sup}}}" + digits


#: characters that a typewriter font has in its ASCII slot, in OT1 as in T1, where LaTeX's text commands
#: (``\\textless``, ``\\{``) would take the glyph from a symbol font and warn of a substitution
_TT_CHAR = frozenset("<>{}\\~^")


def _code_latex(code: str) -> str:
    """SymPy's printing of an expression in typewriter type, with break points after its operators; ``*`` is the
    typewriter asterisk (centred in Computer Modern), ``--`` is kept apart (T1 would join it into a dash), and
    ``< > { } \\ ~ ^`` are the typewriter font's own glyphs."""
    out = []
    for i, ch in enumerate(code):
        if ch == "*":
            out.append(ch)
        elif ch in _TT_CHAR:
            out.append(rf"\char{ord(ch)}{{}}")
        elif ch == "-" and code[i + 1 : i + 2] == "-":
            out.append("-{}")
        else:
            out.append(_plain(ch, code))
        if ch in "*,(+/=_":
            out.append(r"\allowbreak{}")
    return r"\texttt{" + "".join(out) + "}"


def _code_span_latex(code: str, names: dict[str, str] | None) -> str:
    """A code span: parameter names (``sigma_w2``) in math, the rest in typewriter; brackets, commas and
    spaces alone between two names stay roman."""
    pieces = _split_names(code, names) if names else [code]
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(rf"\ensuremath{{{names[piece]}}}")
        elif piece and re.fullmatch(r"[()\[\], ]*", piece):
            out.append(_plain(piece, code))
        elif piece:
            core = piece.strip(" ")
            lead, trail = piece[: len(piece) - len(piece.lstrip(" "))], piece[len(piece.rstrip(" ")) :]
            out.append(lead + _code_latex(core) + trail)
    return "".join(out)


def _split_names(text: str, names: dict[str, str]) -> list[str]:
    """``text`` split at the identifiers of ``names`` standing as words: odd entries are the names."""
    return re.split(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                    + r")(?![A-Za-z0-9_(])", text)


def _is_code(token: str) -> bool:
    return bool(_CODE.search(token)) and not any(ch in GREEK for ch in token)


def _depth(token: str) -> int:
    """How many brackets ``token`` leaves open (negative: closes more than it opens)."""
    return sum(token.count(b) for b in "([") - sum(token.count(b) for b in ")]")


def _plain(text: str, where: str) -> str:
    out = []
    for ch in text:
        if ch in _TEXT:
            out.append(_TEXT[ch])
        elif ch in _SYMBOLS:
            out.append(rf"\ensuremath{{{_SYMBOLS[ch]}}}")
        elif ch in _SUPERSCRIPTS:
            out.append(rf"\ensuremath{{^{{{_SUPERSCRIPTS[ch]}}}}}")
        elif ch in _SUBSCRIPTS:
            out.append(rf"\ensuremath{{_{{{_SUBSCRIPTS[ch]}}}}}")
        elif ord(ch) > 127:
            raise ValueError(f"cannot typeset {ch!r} (U+{ord(ch):04X}) in {where!r}; add it to learndyn.derive.latex_prose")
        else:
            out.append(ch)
    return "".join(out)


def _token_latex(token: str, where: str, code: bool = True) -> str:
    """One whitespace-separated token: SymPy's printing in typewriter (unless ``code`` is false), else prose."""
    if code and _is_code(token):
        return _code_latex(token)
    out, pos = [], 0
    for m in _ATOM.finditer(token):
        out.append(_plain(token[pos : m.start()], where))
        out.append(_atom_latex(m))
        pos = m.end()
    out.append(_plain(token[pos:], where))
    return "".join(out)


def _code_end(parts: list[str], i: int) -> int:
    """The index of the last token of the code span that starts at ``parts[i]``: the token itself, or where
    the brackets it opens close (``i`` when they never do, or when a token on the way is not SymPy's ASCII
    printing: prose such as ``exp(−lr Θ t)`` is not one span)."""
    def printed(token: str) -> bool:
        return token == "·" or token.isascii()

    depth, j = _depth(parts[i]), i
    while depth > 0 and j + 2 < len(parts) and printed(parts[j]):
        j += 2
        depth += _depth(parts[j])
    return j if depth <= 0 and printed(parts[j]) else i


def prose_latex(text: str, names: dict[str, str] | None = None) -> str:
    """``text`` as LaTeX (see the module docstring); ``names`` maps identifiers (a result's parameter names,
    ``sigma_w2``) to their LaTeX (``\\sigma_w^2``), typeset in math mode wherever they stand as a word."""
    parts = re.split(r"(\s+)", text)
    out, i = [], 0
    while i < len(parts):
        token = parts[i]
        if not token or token.isspace():
            out.append(token)
            i += 1
            continue
        if token.startswith("'"):  # an opening quote
            token = "`" + token[1:]
        end = _code_end(parts, i) if _is_code(token) else -1
        if end >= 0 and (end > i or _depth(token) <= 0 or _STRONG_CODE.search(token)):
            out.append(_code_span_latex("".join([token, *parts[i + 1 : end + 1]]), names))
            i = end + 1
            continue
        code = end < 0  # a code token that is not a span is prose (``sin(A`` of ``sin(A − φ)``)
        if names:
            pieces = _split_names(token, names)
            if len(pieces) > 1:
                out.append("".join(rf"\ensuremath{{{names[p]}}}" if k % 2 else _token_latex(p, text, code) if p else ""
                                   for k, p in enumerate(pieces)))
                i += 1
                continue
        out.append(_token_latex(token, text, code))
        i += 1
    return "".join(out)
