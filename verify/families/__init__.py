"""Tier (b) per family, mirroring ``derive/families/``: each module declares its results' simulation checks
(``SIMULATIONS``) and its claims' checks (``CLAIM_CHECKS``); :func:`simulations` and :func:`claim_checks` collect
them, for the built-in families (and :func:`simulations_of_module` for a user's own module)."""
from __future__ import annotations

import functools
import importlib
from types import ModuleType

from learndyn.verify.tier_b import SimulationCheck

__all__ = ["FAMILY_MODULES", "simulations", "simulations_of_module", "claim_checks"]

#: family name -> its tier-b module (``learndyn.verify.families.<family>``)
FAMILY_MODULES = ("linear", "regularisation", "signal_propagation", "ntk", "classification", "generalisation")


def simulations_of_module(module: ModuleType) -> dict[str, tuple[SimulationCheck, ...]]:
    """A module's declared checks, by result (a module without ``SIMULATIONS`` declares none)."""
    out: dict[str, list[SimulationCheck]] = {}
    for check in getattr(module, "SIMULATIONS", ()):
        if not isinstance(check, SimulationCheck):
            raise TypeError(f"{module.__name__}.SIMULATIONS holds {check!r}, not a SimulationCheck")
        out.setdefault(check.result, []).append(check)
    return {k: tuple(v) for k, v in out.items()}


@functools.lru_cache(maxsize=None)
def simulations() -> dict[str, tuple[SimulationCheck, ...]]:
    """Every built-in family's declared checks, by result."""
    out: dict[str, tuple[SimulationCheck, ...]] = {}
    for module in _family_modules():
        out.update(simulations_of_module(module))
    return out


def _family_modules():
    for name in FAMILY_MODULES:
        yield importlib.import_module(f"learndyn.verify.families.{name}")


@functools.lru_cache(maxsize=None)
def claim_checks() -> dict:
    """Every built-in family's claim checks, by claim: ``check(config) -> Check``."""
    out: dict = {}
    for module in _family_modules():
        out.update(getattr(module, "CLAIM_CHECKS", {}))
    return out
