"""Tier (a) for kernels over a data set (``nngp_kernel``, ``ntk_kernel``): every entry against mpmath.

The reference composes the *derived* closed forms of the layer maps (``T``, ``Ṫ`` as SymPy derived them) at
120 significant digits from the exact binary values of the inputs, entry by entry: ``K¹ = σ_w² x1 x2ᵀ/d + σ_b²``,
then per hidden layer ``Θ ← Ṫ(K) Θ``, ``K ← σ_w² T(K) + σ_b²``, ``Θ ← K + σ_w² Θ``. The data sets are random
Gaussian rows plus a pair 1e-7 apart (``θ → 0``), a pair opposite up to a factor ``1 + 1e-9`` (``θ → π``) and a
repeated row; hyperparameters are drawn from the declared test ranges with the check's seed.

The row also checks the independent reference ``derive`` recorded (the kernel composed with the layer maps by
Gaussian quadrature of their defining expectations) and the generated kernel at its inputs
(:mod:`learndyn.verify.independent`).

Nearly parallel and opposite rows are compared at every depth and in both phases: in the chaotic erf phase the
map of the correlation multiplies the rounding of ``1 − c`` by ``χ1`` per layer, which the composition avoids by
forming ``T12`` from the carried gaps (``det``, ``dist``, ``diff``; measured: 1e-3 of the bound at 30 layers,
``σ_w² = 29``, where the earlier ``T12`` from ``c`` alone was off by 1e-3 relative).
"""
from __future__ import annotations

import functools
import random
from typing import Callable

import mpmath
import sympy as sp
import torch

from learndyn.derive.derivation import Derivation
from learndyn.verify.independent import independent_replay
from learndyn.verify.report import Check

__all__ = ["check_kernel", "kernel_reference", "kernel_datasets"]

DPS = 120
RTOL, ATOL = 1e-12, 2.3e-308


@functools.lru_cache(maxsize=None)
def _maps(activation: str):
    from learndyn.derive.registry import derivation

    t, td = dict(derivation("nngp_kernel").result.definition.maps)[activation]
    out = []
    for name in (t, td):
        d = derivation(name)
        syms = [d.result.symbols[k] for k in ("q1", "c", "q2")]
        out.append(sp.lambdify(syms, d.derived, modules="mpmath"))
    return tuple(out)


def kernel_reference(x1: torch.Tensor, x2: torch.Tensor, hidden_layers: int, sigma_w2: float, sigma_b2: float,
                     activation: str, output: str) -> list[list[mpmath.mpf]]:
    """The ``(n1, n2)`` kernel at ``DPS`` digits from the derived maps (see the module docstring)."""
    T, Td = _maps(activation)
    with mpmath.workdps(DPS):
        w, b = mpmath.mpf(sigma_w2), mpmath.mpf(sigma_b2)
        d = x1.shape[1]
        rows1 = [[mpmath.mpf(v) for v in r] for r in x1.tolist()]
        rows2 = [[mpmath.mpf(v) for v in r] for r in x2.tolist()]
        dot = lambda u, v: mpmath.fsum(a * c for a, c in zip(u, v)) / d  # noqa: E731
        out = []
        for u in rows1:
            row = []
            for v in rows2:
                q1, q2, c = w * dot(u, u) + b, w * dot(v, v) + b, w * dot(u, v) + b
                theta = c
                for _ in range(hidden_layers):
                    c_in = max(min(c, mpmath.sqrt(q1 * q2)), -mpmath.sqrt(q1 * q2))
                    theta = mpmath.re(Td(q1, c_in, q2)) * theta
                    q1, q2, c = w * mpmath.re(T(q1, q1, q1)) + b, w * mpmath.re(T(q2, q2, q2)) + b, w * mpmath.re(T(q1, c_in, q2)) + b
                    theta = c + w * theta
                row.append(c if output == "nngp" else theta)
            out.append(row)
        return out


def kernel_datasets(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    x[1] = x[0] + 1e-7 * torch.randn(4, generator=g, dtype=torch.float64)   # nearly identical (θ → 0)
    x[2] = -x[0] * (1 + 1e-9)                                              # nearly opposite (θ → π)
    x[4] = x[3]                                                            # identical
    x[5] = x[0] * 1.5 + 1e-9 * torch.randn(4, generator=g, dtype=torch.float64)  # nearly parallel, unequal norms
    return [x, torch.randn(3, 7, generator=g, dtype=torch.float64) * 3.0]


def check_kernel(d: Derivation, fn: Callable, *, examples: int = 100, seed: int = 0) -> Check:
    """Tier (a) for a kernel result: worst ``|err|/(1e-12|ref| + 2.3e-308)`` over every entry of every draw."""
    rng = random.Random(seed)
    output = d.result.definition.output
    worst, worst_point, count, failure = 0.0, None, 0, None
    draws = max(4, examples // 10)
    configs = [(L, w, b, a) for a in ("relu", "erf") for (L, w, b) in ((0, 1.0, 0.0), (1, 2.0, 0.0), (3, 0.5, 0.3))]
    for _ in range(draws):
        configs.append((rng.randint(0, 30), 10 ** rng.uniform(-1, 1.47), rng.choice((0.0, 10 ** rng.uniform(-3, 0))),
                        rng.choice(("relu", "erf"))))
    try:
        for L, w, b, act in configs:
            for x in kernel_datasets(seed + count):
                got = fn(x, None, L, w, b, act)
                ref = kernel_reference(x, x, L, w, b, act, output)
                for i in range(x.shape[0]):
                    for j in range(x.shape[0]):
                        r = ref[i][j]
                        ratio = float(abs(mpmath.mpf(float(got[i, j])) - r) / (RTOL * abs(r) + ATOL))
                        if ratio > worst:
                            worst, worst_point = ratio, {"hidden_layers": L, "sigma_w2": w, "sigma_b2": b,
                                                         "activation": act, "entry": (i, j)}
                        if ratio > 1:
                            raise AssertionError(f"{d.result.name}{worst_point}: {float(got[i, j])!r} vs {mpmath.nstr(r, 20)}")
                count += 1
    except AssertionError as exc:
        failure = str(exc)
    except Exception as exc:  # noqa: BLE001
        failure = f"{type(exc).__name__}: {exc}"
    replay = independent_replay(d, fn)  # the defining composition by quadrature, recorded by derive
    failure = failure or replay.failure
    return Check(name=d.result.name, tier="a: mpmath 120 digits", examples=count,
                 worst=max(worst, replay.worst), tolerance=1.0, measure="|err| / (1e-12|ref| + 2.3e-308)",
                 passed=failure is None, failure=failure,
                 details={"worst_point": worst_point, "independent": replay.summary})
