"""The public Python API: ``results()``, ``function(name)``, ``result(name)``, ``claims()``.

``results`` and ``function`` read only the generated index and modules (torch, no SymPy); ``result``
and ``claims`` load the declarations and their (cached) derivations, which needs SymPy.
"""
from __future__ import annotations

import difflib
import functools
import importlib
from typing import Any, Callable

from learndyn.generated import CLAIMS, FAMILIES, MODULE_OF

__all__ = ["results", "function", "result", "claims", "family_of", "unknown_name_error", "figure_data"]


def unknown_name_error(name: str, kind: str = "result") -> KeyError:
    known = list(MODULE_OF) if kind == "result" else [c for cs in CLAIMS.values() for c in cs]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
    return KeyError(f"unknown {kind} {name!r}{hint}")


def results(family: str | None = None) -> list[str]:
    """Names of the results, in catalogue order (optionally of one family)."""
    if family is not None:
        if family not in FAMILIES:
            raise KeyError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
        return list(FAMILIES[family])
    return [name for names in FAMILIES.values() for name in names]


def family_of(name: str) -> str:
    """The family a result belongs to (its generated module's name, e.g. ``"linear"``); a ``KeyError`` naming the
    known results for an unknown name."""
    if name not in MODULE_OF:
        raise unknown_name_error(name)
    return MODULE_OF[name]


def function(name: str, *, check: bool = True) -> Callable[..., Any]:
    """The generated torch function of result ``name``, called with its parameters' names as keywords
    (``learndyn info NAME`` lists them with their domains).

    Out-of-domain arguments raise :class:`learndyn.DomainError` (a ``ValueError``) naming the result, the parameter,
    its value and the domain; ``check=False`` skips the range checks on a hot path, but an argument of the wrong kind
    (a string, ``None``, a bool, a complex number, a list of strings) raises the same error either way. An explicit closed form evaluates
    inputs of :data:`learndyn.fused.MIN_ELEMENTS` elements or more in one pass compiled by ``torch.compile`` (the
    first such call per signature compiles; ``LEARNDYN_COMPILE=0`` keeps eager torch), see :mod:`learndyn.fused`.
    """
    fn = _function(name)
    return fn if check else functools.partial(fn, check=False)


@functools.lru_cache(maxsize=None)
def _function(name: str) -> Callable[..., Any]:
    """The generated function of ``name``; an explicit closed form is wrapped (once per process, so what it
    compiles is kept) in a :class:`~learndyn.fused.FusedFunction`, which evaluates large inputs in one fused pass."""
    from learndyn.fused import fused

    module = importlib.import_module(f"learndyn.generated.{family_of(name)}")
    return fused(name, getattr(module, name), module.DOMAINS[name])


def result(name: str):
    """The declaration and derivation of ``name``: SymPy expressions, domains, assumptions, source, LaTeX
    and proof record (a :class:`learndyn.derive.derivation.Derivation`)."""
    from learndyn.derive.registry import derivation

    family_of(name)
    return derivation(name)


def claims(family: str | None = None) -> list:
    """The claims (qualitative statements checked against simulation), with the results they are about."""
    from learndyn.derive.registry import family as get_family

    fams = [family] if family is not None else list(FAMILIES)
    return [c for f in fams for c in get_family(f).claims]


def figure_data(name: str, **options) -> dict:
    """The data behind a figure, theory beside simulation, as a JSON-able dict: any figure ``learndyn figures``
    draws (``learndyn.verify.figures.FIGURES``, with its agreement records; options ``seed``, ``device``,
    ``quick``), as ``learndyn data NAME`` prints it. The three seed-001 figures ``"variance_dynamics"``,
    ``"correlation_dynamics"`` and ``"fixed_point_vs_noise"`` also take their sizes as options (``depth``,
    ``width``, ``networks``, …; see :mod:`learndyn.verify.figure_data`)."""
    from learndyn.verify.figure_data import FIGURES as SEED_001
    from learndyn.verify.figure_data import figure_data as _seed_001_data
    from learndyn.verify.figures import FIGURES

    if name in SEED_001 and not set(options) <= {"seed", "device", "quick"}:
        return _seed_001_data(name, **options)
    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    from learndyn.verify.runner import default_device

    return FIGURES[name].data(seed=options.get("seed", 0), device=options.get("device") or default_device(),
                              quick=options.get("quick", False))
