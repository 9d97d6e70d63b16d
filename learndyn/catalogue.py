"""The catalogue of results and claims, read from ``generated/catalogue.json`` (written by ``learndyn derive``):
what ``learndyn info NAME`` and ``learndyn list --params`` print. Plain JSON: no torch, no SymPy."""
from __future__ import annotations

import difflib
import functools
import json
import textwrap
from pathlib import Path

__all__ = ["load_catalogue", "entry", "describe", "params_summary", "WIDTH"]

#: width the text is wrapped to
WIDTH = 100


@functools.lru_cache(maxsize=1)
def load_catalogue() -> dict:
    """The catalogue (see :mod:`learndyn.derive.catalogue` for its fields)."""
    import learndyn.generated as generated

    path = Path(generated.__file__).with_name("catalogue.json")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `learndyn derive` to write it")
    return json.loads(path.read_text(encoding="utf-8"))


def entry(name: str) -> tuple[str, dict]:
    """``("result" | "claim", its record)``; ``KeyError`` with the closest names for an unknown one."""
    cat = load_catalogue()
    if name in cat["results"]:
        return "result", cat["results"][name]
    if name in cat["claims"]:
        return "claim", cat["claims"][name]
    known = list(cat["results"]) + list(cat["claims"])
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "`learndyn list` shows them all"
    raise KeyError(f"unknown result or claim {name!r}; {hint}")


def _wrap(text: str, indent: str = "  ", hang: str = "    ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=hang, break_long_words=False,
                         break_on_hyphens=False) or [indent]


def _param_lines(p: dict) -> list[str]:
    kind = "" if p["kind"] == "real" else f" ({'integer' if p['kind'] == 'int' else p['kind']})"
    test = (p["test"] or "the domain") + (", log-uniform" if p["log"] else "")
    test += f", always including {', '.join(p['special'])}" if p["special"] else ""
    lines = _wrap(f"{p['name']}{kind}" + (f": {p['description']}" if p["description"] else ""))
    for label, text in (("domain", p["domain"]), ("test", test), ("simulation", p["sim"] or "not simulated")):
        lines += _wrap(f"{label:<11} {text}", "      ", " " * 18)
    return lines


def _result_text(name: str, r: dict) -> str:
    params = [p["name"] for p in r["params"]]
    lines = [f"{name}: {r['title']} (family {r['family']})",
             *_wrap(f'Python: learndyn.function("{name}")({", ".join(params)})  (check=False skips the domain check)'),
             *_wrap(f"CLI:    learndyn eval {name} " + " ".join(f"{n}=..." for n in params)),
             "", "Parameters:"]
    for p in r["params"]:
        lines += _param_lines(p)
    if r["relations"]:
        lines += ["Relations:"] + [line for rel in r["relations"] for line in _wrap(rel)]
    lines += ["", f"Defining equation ({r['definition']['kind'].replace('_', ' ')}):", *_wrap(r["definition"]["text"])]
    lines += ["", "Closed form:"]
    for form in r["forms"]:
        lines += _wrap(f"{form['label']}: {form['text']}")
    lines += ["", "Outputs: " + (", ".join(r["outputs"]) + " (a NamedTuple)" if r["outputs"] else
                                 f"one tensor, {r['symbol']}")]
    lines += ["", "Assumptions:"] + [line for a in r["assumptions"] for line in _wrap(f"- {a}")]
    for note in r["notes"]:
        lines += _wrap(f"Note: {note}", "", "  ")
    if r["stability"]:
        lines += _wrap(f"Stability: {r['stability']}", "", "  ")
    lines += ["", *_wrap(f"Source: {r['source']['text']}", "", "  ")]
    if r["claims"]:
        lines += _wrap("Claims about it: " + ", ".join(r["claims"]), "", "  ")
    return "\n".join(lines)


def _claim_text(name: str, c: dict) -> str:
    lines = [f"{name}: a claim (family {c['family']}), checked against simulation by `learndyn verify --tier claims`",
             "", *_wrap(c["statement"], "  ", "  "), "",
             *_wrap("About: " + ", ".join(c["about"]), "", "  "),
             *_wrap(f"Source: {c['source']['text']}", "", "  ")]
    return "\n".join(lines)


def describe(name: str) -> str:
    """What ``learndyn info NAME`` prints for a result or a claim."""
    kind, record = entry(name)
    return _result_text(name, record) if kind == "result" else _claim_text(name, record)


def params_summary(name: str) -> str:
    """One result's parameters with their domains and relations, on one line (``list --params``)."""
    r = load_catalogue()["results"][name]
    parts = [f"{p['name']} ∈ {p['domain']}" if p["kind"] == "real" else f"{p['name']}: {p['domain']}"
             for p in r["params"]]
    return ", ".join(parts) + "".join(f"; {rel}" for rel in r["relations"])
