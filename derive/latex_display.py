"""Displayed equations that print at the size of the text: nested parts named and defined on "where" lines.

A stable form is often a ``Piecewise`` whose branches hold further ``Piecewise`` (the argument of ``exprel`` and
the exponent of ``e`` in the logistic forms), or repeats a long sub-expression (``arctan(2q*/√(4q* + 1))`` six
times in the erf fixed point). Printed whole, such a display is far wider than the line and has to be scaled down
to a tiny font. :func:`name_parts` instead

* names every ``Piecewise`` that is not the whole expression (``z``, or ``z_1``, ``z_2``, … where there are
  several), to be defined as a ``cases`` on a line of its own;
* in a long display, names the sub-expression that occurs twice or more (once at least inside another
  expression) whose name saves most LaTeX, while there is one of at least :data:`REPEATED_MIN_CHARS` characters;
* lists the definition of each special function the display uses (``exprel``).

The definitions are listed so that each uses only names defined above it.

A ``Piecewise`` at the top stays a ``cases`` environment, one line per branch. The naming is deterministic (SymPy's
canonical argument order, ties broken by ``default_sort_key``), so the export stays byte-identical.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

import sympy as sp

from learndyn.derive.functions import exprel

__all__ = ["Named", "name_parts", "where_lines", "REPEATED_MIN_CHARS", "LONG_DISPLAY_CHARS", "FUNCTION_DEFINITIONS"]

#: a sub-expression this long in LaTeX or longer that occurs twice or more is named ...
REPEATED_MIN_CHARS = 40
#: ... in a display (all its expressions together) this long or longer
LONG_DISPLAY_CHARS = 200
#: the definition printed on a "where" line for each special function a display uses
FUNCTION_DEFINITIONS: dict[type, str] = {
    exprel: r"\operatorname{exprel}(\zeta) = \frac{e^{\zeta} - 1}{\zeta}\ \ \text{(1 at } \zeta = 0\text{)}",
}
#: letters a name may take, first free one first
_NAME_LETTERS = ("z", "v", "w", "A", "B")


@dataclass(frozen=True)
class Named:
    """Expressions to display with their named parts replaced by symbols, and the parts' definitions."""

    exprs: tuple[sp.Basic, ...]
    #: ``(symbol, definition)``, each definition using only symbols named before it
    parts: tuple[tuple[sp.Symbol, sp.Basic], ...] = ()
    #: LaTeX definitions of the special functions used (:data:`FUNCTION_DEFINITIONS`)
    functions: tuple[str, ...] = ()


def _letter(exprs: Iterable[sp.Basic], taken: str) -> str:
    """The first letter of :data:`_NAME_LETTERS` that no symbol of ``exprs`` and no LaTeX in ``taken`` uses."""
    used = " ".join([taken, *(s.name for e in exprs for s in e.free_symbols)])
    for letter in _NAME_LETTERS:
        if not re.search(rf"(?<![A-Za-z\\]){letter}(?![A-Za-z])", used):
            return letter
    return "\\zeta"


def _nested_piecewise(exprs: tuple[sp.Basic, ...]) -> sp.Piecewise | None:
    """An innermost ``Piecewise`` that is not one of ``exprs`` itself, or ``None``."""
    found = []
    for e in exprs:
        for sub in sp.preorder_traversal(e):
            if isinstance(sub, sp.Piecewise) and sub not in exprs and not any(
                    isinstance(a, sp.Piecewise) for arg in sub.args for a in sp.preorder_traversal(arg.expr)):
                found.append(sub)
    return min(found, key=sp.default_sort_key) if found else None


def _repeated(exprs: tuple[sp.Basic, ...], tex: Callable[[sp.Basic], str]) -> sp.Basic | None:
    """The sub-expression whose naming saves most LaTeX (its length times its occurrences less one) among those
    that occur twice or more across ``exprs``, at least once inside another, and are at least
    :data:`REPEATED_MIN_CHARS` long; not a negation (``−x`` where ``x`` would do); ``None`` when there is none."""
    counts: dict[sp.Basic, int] = {}
    for e in exprs:
        for sub in sp.preorder_traversal(e):
            if isinstance(sub, sp.Expr) and not sub.is_Atom:
                counts[sub] = counts.get(sub, 0) + 1
    candidates = []
    for sub, n in counts.items():
        # a whole displayed expression (a root's bracket end) only where it also occurs inside another
        if n < 2 or n == exprs.count(sub) or sp.count_ops(sub) < 3 or (sub.is_Mul and sub.args[0] == -1):
            continue
        length = len(tex(sub))
        if length >= REPEATED_MIN_CHARS:
            candidates.append(((n - 1) * length, sub))
    if not candidates:
        return None
    return min(candidates, key=lambda c: (-c[0], sp.default_sort_key(c[1])))[1]


def name_parts(exprs: Iterable[sp.Basic], tex: Callable[[sp.Basic], str], taken: str = "") -> Named:
    """``exprs`` (displayed together, e.g. the outputs of one result) with nested ``Piecewise`` and, in a long
    display, long repeated sub-expressions named; ``tex`` prints an expression, ``taken`` is LaTeX already on
    the display (its left-hand sides), whose letters the names avoid."""
    exprs = tuple(exprs)
    letter = _letter(exprs, taken)
    found: list[sp.Basic] = []
    current = exprs
    long_display = sum(len(tex(e)) for e in exprs) >= LONG_DISPLAY_CHARS
    while True:
        part = _nested_piecewise(current + tuple(found))
        if part is None and long_display:
            part = _repeated(current + tuple(found), tex)
        if part is None:
            break
        symbol = sp.Symbol(f"_part{len(found)}")
        current = tuple(e.xreplace({part: symbol}) for e in current)
        found = [d.xreplace({part: symbol}) for d in found] + [part]
    order = _defined_first(found)
    names = [sp.Symbol(letter if len(found) == 1 else f"{letter}_{k + 1}") for k in range(len(found))]
    rename = {sp.Symbol(f"_part{k}"): names[order.index(k)] for k in range(len(found))}
    functions = tuple(d for f, d in FUNCTION_DEFINITIONS.items() if any(e.has(f) for e in (*exprs, *found)))
    return Named(tuple(e.xreplace(rename) for e in current),
                 tuple((names[i], found[k].xreplace(rename)) for i, k in enumerate(order)), functions)


def _defined_first(found: list[sp.Basic]) -> list[int]:
    """An order of the parts ``_part0``, ``_part1``, … in which each definition uses only parts before it."""
    order: list[int] = []
    while len(order) < len(found):
        done = {sp.Symbol(f"_part{k}") for k in order}
        order.append(next(k for k, d in enumerate(found) if k not in order
                          and {s for s in d.free_symbols if s.name.startswith("_part")} <= done))
    return order


def where_lines(named: Named, tex: Callable[[sp.Basic], str], fit: str = r"\learndynfit") -> list[str]:
    """The "where" lines under a display: each named part, then each special function, one per line."""
    rows = [rf"{fit}{{{tex(symbol)} = {tex(definition)}}}" for symbol, definition in named.parts]
    rows += [rf"{fit}{{{definition}}}" for definition in named.functions]
    if not rows:
        return []
    return [r"\noindent where", r"\begin{gather*}", " \\\\\n".join(rows), r"\end{gather*}"]
