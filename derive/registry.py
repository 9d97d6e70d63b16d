"""Lookup of the built-in families, their results and (cached) derivations by name."""
from __future__ import annotations

import functools

from learndyn.derive.declaration import Family, Result
from learndyn.derive.derivation import Derivation
from learndyn.derive.families import builtin_families
from learndyn.derive.pipeline import derive_family

__all__ = ["families", "family", "declaration", "derivation", "derivations"]


@functools.lru_cache(maxsize=None)
def families() -> tuple[Family, ...]:
    return tuple(builtin_families())


def family(name: str) -> Family:
    for f in families():
        if f.name == name:
            return f
    raise KeyError(f"unknown family {name!r}")


def declaration(name: str) -> Result:
    for f in families():
        for r in f.results:
            if r.name == name:
                return r
    raise KeyError(f"unknown result {name!r}")


@functools.lru_cache(maxsize=None)
def derivations(family_name: str) -> tuple[Derivation, ...]:
    return tuple(derive_family(family(family_name)))


def derivation(name: str) -> Derivation:
    for f in families():
        for d in derivations(f.name) if any(r.name == name for r in f.results) else ():
            if d.result.name == name:
                return d
    raise KeyError(f"unknown result {name!r}")
