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
    if name not in MODULE_OF:
        raise unknown_name_error(name)
    return MODULE_OF[name]


def function(name: str, *, check: bool = True) -> Callable[..., Any]:
    """The generated torch function of result ``name``, called with THEORY.md's keyword names.

    Out-of-domain arguments raise :class:`learndyn.DomainError` (a ``ValueError``) naming the parameter,
    its value and the domain; ``check=False`` skips the checks on a hot path. An explicit closed form evaluates
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
    """The data behind a seed figure, theory beside simulation, as a JSON-able dict (see
    :mod:`learndyn.verify.figure_data`): ``"variance_dynamics"``, ``"correlation_dynamics"`` and
    ``"fixed_point_vs_noise"`` (seed 001)."""
    from learndyn.verify.figure_data import figure_data as _figure_data

    return _figure_data(name, **options)
