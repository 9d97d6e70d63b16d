"""Prose with Unicode mathematics (assumptions, relations, proof records) as LaTeX text.

The declarations write mathematics in prose the way THEORY.md does: ``σ_w²``, ``q*``, ``χ1``, ``Θ⁻¹``,
``‖f0 − Y‖``. :func:`prose_latex` typesets each such atom in math mode (``\\ensuremath{\\sigma_w^2}``,
``q^*``, ``\\chi_1``), escapes LaTeX's special characters, and sets tokens that are SymPy's printing of an
expression (``c_star*q_star``, ``sqrt(q1)``, ``Eq(...)``, as proof records quote them) in typewriter type with
break points, so that long ones wrap instead of running into the margin. A character it cannot typeset
raises ``ValueError`` naming it: the export fails at ``derive`` time, not in the reader's LaTeX run.
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
_ACCENTED = {"ŷ": r"\hat{y}", "x̂": r"\hat{x}", "Ṫ": r"\dot{T}", "𝟙": r"\mathbf{1}"}
_SUPERSCRIPTS = {"²": "2", "³": "3", "⁴": "4", "⁰": "0", "¹": "1", "*": "*", "ᵀ": r"\top", "⁻¹": "-1"}
_SYMBOLS = {
    "−": "-", "√": r"\surd", "→": r"\to", "·": r"\cdot", "‖": r"\|", "∞": r"\infty", "≥": r"\ge", "≤": r"\le",
    "∈": r"\in", "∂": r"\partial", "↦": r"\mapsto", "⊗": r"\otimes", "⊙": r"\odot", "½": r"\tfrac12",
    "≈": r"\approx", "≠": r"\ne", "×": r"\times", "±": r"\pm", "∫": r"\int", "∑": r"\sum", "∇": r"\nabla",
    "⟨": r"\langle", "⟩": r"\rangle", "∝": r"\propto", "∼": r"\sim", "≪": r"\ll", "≫": r"\gg", "≡": r"\equiv",
    "′": r"'", "^": r"\hat{}",
}
_TEXT = {"—": "---", "–": "--", "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
         "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
         "’": "'", "‘": "`", "“": "``", "”": "''"}

_SUP = "(?:⁻¹|[²³⁴⁰¹ᵀ])"
_BASE = "(?:" + "|".join(map(re.escape, sorted({**GREEK, **_ACCENTED}, key=len, reverse=True))) + ")"
_ATOM = re.compile(
    rf"(?P<base>{_BASE}|(?<![A-Za-z0-9_])[A-Za-z](?=\u0302|{_SUP}|\*(?![A-Za-z0-9(])|_[A-Za-z0-9{{]|\^))"
    rf"(?P<hat>\u0302)?"
    rf"(?P<digits>\d+(?![\d.]))?"
    rf"(?P<tail>(?:_\{{[^}}]*\}}|_[A-Za-z0-9]+|\^\{{[^}}]*\}}|\^[A-Za-z0-9]+|{_SUP}|\*(?![A-Za-z0-9(]))*)"
)
#: SymPy's printing of an expression, as proof records quote it
_CODE = re.compile(r"\*\*|[A-Za-z0-9)]\*[A-Za-z0-9(]|[A-Za-z]{2,}_[A-Za-z0-9]|[A-Za-z0-9]_[A-Za-z]{2,}|[A-Za-z]{2,}\(")


def _math_inner(text: str) -> str:
    """Text already in math mode (an exponent): Greek letters and symbols as commands."""
    out = []
    for ch in text:
        tex = GREEK.get(ch) or _SYMBOLS.get(ch)
        out.append(tex + " " if tex and tex.startswith("\\") else tex or ch)
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
    if digits and base in GREEK:  # χ1 is χ_1
        sub, digits = "_{" + digits + ("," + sub[2:-1] if sub else "") + "}", ""
    return rf"\ensuremath{{{tex}{sub}{sup}}}" + digits


def _code_latex(token: str) -> str:
    out = []
    for ch in token:
        out.append(_plain(ch, token) if ch not in _SUPERSCRIPTS else ch)
        if ch in "*,(+/=_":
            out.append(r"\allowbreak{}")
    return r"\texttt{" + "".join(out) + "}"


def _plain(text: str, where: str) -> str:
    out = []
    for ch in text:
        if ch in _TEXT:
            out.append(_TEXT[ch])
        elif ch in _SYMBOLS:
            out.append(rf"\ensuremath{{{_SYMBOLS[ch]}}}")
        elif ch in _SUPERSCRIPTS:
            out.append(rf"\ensuremath{{^{{{_SUPERSCRIPTS[ch]}}}}}")
        elif ord(ch) > 127:
            raise ValueError(f"cannot typeset {ch!r} (U+{ord(ch):04X}) in {where!r}; add it to learndyn.derive.latex_prose")
        else:
            out.append(ch)
    return "".join(out)


def _token_latex(token: str, where: str) -> str:
    if _CODE.search(token) and not any(ch in GREEK for ch in token):
        return _code_latex(token)
    out, pos = [], 0
    for m in _ATOM.finditer(token):
        out.append(_plain(token[pos : m.start()], where))
        out.append(_atom_latex(m))
        pos = m.end()
    out.append(_plain(token[pos:], where))
    return "".join(out)


def prose_latex(text: str, names: dict[str, str] | None = None) -> str:
    """``text`` as LaTeX (see the module docstring); ``names`` maps identifiers (a result's parameter names,
    ``sigma_w2``) to their LaTeX (``\\sigma_w^2``), typeset in math mode wherever they stand as a word."""
    parts = re.split(r"(\s+)", text)
    out = []
    for token in parts:
        if not token or token.isspace():
            out.append(token)
            continue
        if token.startswith("'"):  # an opening quote
            token = "`" + token[1:]
        if names:
            pieces = re.split(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                              + r")(?![A-Za-z0-9_(])", token)
            if len(pieces) > 1:
                out.append("".join(rf"\ensuremath{{{names[p]}}}" if i % 2 else _token_latex(p, text) if p else ""
                                   for i, p in enumerate(pieces)))
                continue
        out.append(_token_latex(token, text))
    return "".join(out)
