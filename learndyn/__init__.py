"""learndyn — derive, prove, generate and verify results of the theory of neural-network learning.

>>> import learndyn
>>> learndyn.results()                                  # names of the results
>>> f = learndyn.function("scalar_trajectory")          # generated torch function
>>> f(t=100.0, x=1.0, y=2.0, u0=1e-3, lr=0.01)
>>> learndyn.result("scalar_trajectory").proof          # declaration, derivation and proof record
>>> learndyn.kernels(x, None, hidden_layers=10, sigma_w2=2.0, sigma_b2=0.1, activation="relu")  # NNGP and NTK
>>> learndyn.validity_map("scalar_trajectory", "lr").contours  # where GD leaves the flow by 1 % and 10 %

Importing the package is cheap: the public names are loaded on first use (PEP 562), so ``learndyn --help``,
``learndyn list`` and ``learndyn info`` never import torch or SymPy.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["results", "function", "result", "claims", "family_of", "figure_data", "kernels", "Kernels", "DomainError",
           "validity_map", "__version__"]
__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first access)
_LAZY = {
    "results": "learndyn.api",
    "function": "learndyn.api",
    "result": "learndyn.api",
    "claims": "learndyn.api",
    "family_of": "learndyn.api",
    "figure_data": "learndyn.api",
    "kernels": "learndyn.kernel_pair",
    "Kernels": "learndyn.kernel_pair",
    "DomainError": "learndyn.domain",
    "validity_map": "learndyn.verify.validity",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'learndyn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
