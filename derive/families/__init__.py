"""The built-in families, one module each; a user's own family is any module with a ``FAMILY``."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from learndyn.derive.declaration import Family

__all__ = ["BUILTIN", "builtin_families", "load_family_module"]

#: module names under ``learndyn.derive.families``, in catalogue order
BUILTIN = ("linear", "regularisation", "signal_propagation", "ntk", "classification", "generalisation")


def builtin_families() -> list[Family]:
    return [importlib.import_module(f"learndyn.derive.families.{name}").FAMILY for name in BUILTIN]


def import_family_module(spec: str):
    """Import a user's family module from a file path (``my_results.py``) or a module name (``mypkg.results``),
    once per process."""
    path = Path(spec)
    if path.suffix == ".py" and path.exists():
        name = f"learndyn_user_{path.stem}"
        if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path.resolve()):
            return sys.modules[name]
        module_spec = importlib.util.spec_from_file_location(name, path.resolve())
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        return module
    return importlib.import_module(spec)


def load_family_module(spec: str) -> Family:
    """Load a user's family (its ``FAMILY``) from a file path (``my_results.py``) or a module name
    (``mypkg.results``)."""
    module = import_family_module(spec)
    family = getattr(module, "FAMILY", None)
    if not isinstance(family, Family):
        raise ValueError(f"{spec}: a family module must define FAMILY = Family(...)")
    return family
