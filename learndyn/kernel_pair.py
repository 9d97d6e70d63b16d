r"""The NNGP and the NTK of a deep fully-connected network in one call: one pass over the layers.

``nngp_kernel`` and ``ntk_kernel`` (family 4) each compose the layer maps from the inputs; the NTK recursion
``Θ ← K + σ_w² Ṫ(K) Θ`` carries the NNGP ``K`` anyway, so asking for both separately composes ``K`` twice.
:func:`kernels` composes once and returns both, validated against ``ntk_kernel``'s domain (the two results share
their parameters). With ``x2=None`` only the upper triangle of ``K(x1, x1)`` is composed and mirrored.
"""
from __future__ import annotations

import importlib
from typing import NamedTuple

import torch

from learndyn.numerics import kernels as _kernels
from learndyn.numerics.tensors import as_array

__all__ = ["Kernels", "kernels"]


class Kernels(NamedTuple):
    """The two infinite-width kernels of the readout."""

    nngp: torch.Tensor
    ntk: torch.Tensor


def kernels(x1, x2=None, hidden_layers: int = 1, sigma_w2: float = 2.0, sigma_b2: float = 0.0,
            activation: str = "relu", *, check: bool = True) -> Kernels:
    r"""``(nngp, ntk)`` of the ``(n1, d)`` inputs ``x1`` against ``x2`` (``None``: ``x1`` itself, symmetric), for
    ``hidden_layers`` hidden layers of ``activation`` (``"relu"``, ``"erf"``) in the NTK parameterisation:
    ``K¹ = σ_w² x1 x2ᵀ/d + σ_b²``, ``K^{l+1} = σ_w² T(K^l) + σ_b²``, ``Θ^{l+1} = K^{l+1} + σ_w² Ṫ(K^l) Θ^l``; equal to
    ``nngp_kernel`` and ``ntk_kernel`` (same maps, same carried gaps, same float64 accuracy) at the cost of one.
    Raises a :class:`~learndyn.domain.DomainError` naming the parameter for input outside ``ntk_kernel``'s domain."""
    generated = importlib.import_module("learndyn.generated.ntk")
    domain = generated.DOMAINS["ntk_kernel"]
    x1 = as_array(x1, "x1", domain)
    x2 = as_array(x2, "x2", domain)
    values = {"x1": x1, "x2": x2, "hidden_layers": hidden_layers, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2,
              "activation": activation}
    if check:
        domain.check(values)
    else:
        domain.check_kinds({k: v for k, v in values.items() if k not in ("x1", "x2")})
    layer = getattr(generated, f"_kernel_layer_{activation}")
    fast = getattr(generated, f"_kernel_layer_{activation}_fast", None)  # the same layers ntk_kernel runs
    nngp, ntk = _kernels.compose(x1, x2, hidden_layers, sigma_w2, sigma_b2, activation, layer, "both", "kernels",
                                 fast=fast)
    return Kernels(nngp, ntk)
