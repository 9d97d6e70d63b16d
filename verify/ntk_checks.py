"""Tier (b) for family 4: infinite-width kernels against empirical kernels of finite torch networks.

``nngp_kernel`` and ``ntk_kernel`` against the mean over ``NETWORKS`` random networks of width ``WIDTH`` of the
per-network readout covariance and of the empirical NTK ``Σ_θ ∂f(x_a)/∂θ ∂f(x_b)/∂θ`` (``torch.func``, see
:func:`learndyn.verify.simulate.ntk.empirical_kernels`), entry by entry. Tolerance: ``K_SE`` standard errors of
the mean over networks (independent draws) beyond a finite-width allowance of ``L/N`` times the entry: the bias is
``O(1/N)`` per layer (measured at most ``0.23 L/N`` relative for ReLU and erf, ``L ≤ 4``, ``N = 16 … 128``) and
exactly 0 for one hidden layer. Inputs: 6 rows normalised to ``K⁰_aa = 1`` (THEORY.md), one pair 1e-3 apart and
one nearly opposite pair.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.signal_checks import K_SE, _Worst, _assert_z, _row

__all__ = ["NTK_CHECKS", "WIDTH", "NETWORKS", "kernel_inputs"]

WIDTH = 512
NETWORKS = 48
#: (hidden_layers, sigma_w2, sigma_b2) per activation: ordered and chaotic erf, ReLU near criticality
CONFIGS = {"relu": ((1, 2.0, 0.1), (3, 1.5, 0.2)), "erf": ((1, 2.5, 0.1), (3, 0.5, 0.05), (3, 6.0, 0.05))}


def kernel_inputs(seed: int, d: int = 16) -> torch.Tensor:
    """6 rows of norm √d (``K⁰_aa = 1``): 4 random, one 1e-3 from the first, one nearly opposite to the second."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, d, generator=g, dtype=torch.float64)
    x[4] = x[0] + 1e-3 * torch.randn(d, generator=g, dtype=torch.float64)
    x[5] = -x[1] + 1e-2 * torch.randn(d, generator=g, dtype=torch.float64)
    return x * math.sqrt(d) / x.norm(dim=1, keepdim=True)


def _kernel_check(config: VerifyConfig, name: str, which: str, theory: Callable) -> Check:
    from learndyn.verify.simulate import empirical_kernels

    worst = _Worst()
    failure = None
    try:
        for k, (act, configs) in enumerate(sorted(CONFIGS.items())):
            for j, (L, w, b) in enumerate(configs):
                x = kernel_inputs(config.seed + 10 * k + j)
                seed = config.seed * 1000 + 10 * k + j
                emp = getattr(empirical_kernels(x, hidden_layers=L, sigma_w2=w, sigma_b2=b, activation=act,
                                                width=WIDTH, networks=NETWORKS, seed=seed, device=config.device), which)
                th = theory(x, None, L, w, b, act).to(emp.device)
                dev = emp - th                                     # (networks, n, n)
                mean, se = dev.mean(0), dev.std(0) / math.sqrt(NETWORKS)
                frob = float(mean.norm() / th.norm())
                worst.details.setdefault("relative_frobenius_error", {})[f"{act}, L={L}, sigma_w2={w}"] = frob
                allowance = (L - 1) / WIDTH * th.abs() if L > 1 else torch.zeros_like(th)
                z = (mean.abs() - allowance) / se.clamp(min=1e-300)
                i = int(z.argmax())
                a, c = divmod(i, th.shape[1])
                _assert_z(name, float(mean[a, c]), float(se[a, c]), float(allowance[a, c]), worst,
                          f"{act}, hidden_layers={L}, sigma_w2={w}, sigma_b2={b}, entry ({a}, {c})")
    except AssertionError as exc:
        failure = str(exc)
    return _row(name, f"b: {NETWORKS} networks of width {WIDTH}", worst, failure,
                "max z of mean(empirical − theory) per entry")


def nngp_kernel_check(config: VerifyConfig, theory: Callable) -> Check:
    """``nngp_kernel`` against the mean readout covariance of random networks (see the module docstring)."""
    return _kernel_check(config, "nngp_kernel", "nngp", theory)


def ntk_kernel_check(config: VerifyConfig, theory: Callable) -> Check:
    """``ntk_kernel`` against the mean empirical NTK of random networks (see the module docstring)."""
    return _kernel_check(config, "ntk_kernel", "ntk", theory)


NTK_CHECKS = {"nngp_kernel": (nngp_kernel_check,), "ntk_kernel": (ntk_kernel_check,)}
