"""Tier (a) for the spectral-flow results (MSE dynamics on the NTK): the generated functions against the derived
per-mode solutions applied to the kernel at 50 digits (``mpmath.eigsy`` of the exact float64 matrix).

The reference applies the spectral function SymPy derived (``F(λ) = e^{−sλ}``, ``G(λ) = (1 − e^{−sλ})/λ``, the
``t → ∞`` limit, the ratio of time constants) to the eigenvalues at 50 digits. Matrices: well conditioned,
ill conditioned (κ up to 1e8), singular (rank-deficient Gram matrices, for the train and test flows only), and
nearly equal eigenvalues (``a 11ᵀ + 1e-12 I``, the deep chaotic NTK); times from 0 to ``s‖Θ‖ = 1e6``, scalar
and 1-d.

Tolerance (normwise, Frobenius): a backward-stable eigendecomposition perturbs ``Θ`` by ``n ε ‖Θ‖``, which moves
``F(Θ)v`` by at most ``n ε ‖Θ‖ max|F'| ‖v‖`` (Daleckii–Krein) plus the rounding of the products, so
``C n ε (‖F(Θ)‖₂ + ‖Θ‖₂ max|F'|) ‖v‖`` with ``C = 16`` (``max|F'| = s`` for ``e^{−sλ}``, ``s²/2`` for ``G``);
the mean prediction and the condition number carry the condition number ``κ(Θ)`` instead.

The row also checks the independent reference ``derive`` recorded (the matrix ODE solved by the matrix exponential,
the linear system by LU, the characteristic polynomial's roots) and the generated function at its cases, normwise
within ``1e-12 ‖ref‖`` (:mod:`learndyn.verify.independent`).
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import mpmath
import sympy as sp
import torch

from learndyn.verify.independent import independent_replay
from learndyn.verify.report import Check

__all__ = ["check_flow", "flow_cases"]

DPS = 50
C = 16
EPS = 2.0**-52


def _psd(kind: str, n: int, g: torch.Generator) -> torch.Tensor:
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    if kind == "well":
        return a @ a.T / n + torch.eye(n, dtype=torch.float64)
    if kind == "ill":
        q, _ = torch.linalg.qr(a)
        lam = torch.logspace(0, -8, n, dtype=torch.float64)
        return (q * lam) @ q.T
    if kind == "singular":
        b = a[:, : max(1, n // 2)]
        return b @ b.T
    if kind == "equal":
        one = torch.ones(n, n, dtype=torch.float64)
        return 3.0 * one + 1e-12 * torch.eye(n, dtype=torch.float64)
    raise ValueError(kind)


def flow_cases(examples: int, seed: int) -> list[dict]:
    """Seeded cases: per case a kernel kind, sizes, data and times (scalar or 1-d)."""
    g = torch.Generator().manual_seed(seed)
    kinds = ("well", "ill", "singular", "equal")
    cases = []
    for i in range(max(examples, 8)):
        kind = kinds[i % 4]
        n, k, m = 3 + i % 6, 1 + i % 2, 2 + i % 3
        theta = _psd(kind, n, g)
        lr = float(10 ** (torch.rand((), generator=g) * 2 - 1))
        norm = float(torch.linalg.matrix_norm(theta, 2))
        st = [0.0, 1e-8, 1.0, 1e3, 1e6][i % 5] * n * k / (lr * norm)
        t = torch.tensor(st) if i % 2 else torch.tensor([st, st / 3, 2 * st])
        cases.append({"kind": kind, "t": t.to(torch.float64), "lr": lr, "ntk_train_train": theta,
                      "ntk_test_train": torch.randn(m, n, generator=g, dtype=torch.float64) * math.sqrt(norm),
                      "y_train": torch.randn(n, k, generator=g, dtype=torch.float64),
                      "f0_train": torch.randn(n, k, generator=g, dtype=torch.float64),
                      "f0_test": torch.randn(m, k, generator=g, dtype=torch.float64)})
    return cases


def _mp(x: torch.Tensor) -> mpmath.matrix:
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in x.tolist()])


def _frob(m) -> mpmath.mpf:
    return mpmath.sqrt(sum(abs(v) ** 2 for v in m))


def _spectrum(case: dict) -> tuple[list, mpmath.matrix]:
    """Eigenvalues (clamped at 0: Θ is PSD) and eigenvectors of the exact float64 kernel at the working precision."""
    lam, vecs = mpmath.eigsy(_mp(case["ntk_train_train"]))
    return [max(l, mpmath.mpf(0)) for l in lam], vecs


@functools.lru_cache(maxsize=None)
def _spectral_function(function: str):
    """The derived spectral function ``f(λ, s)`` as an mpmath callable."""
    from learndyn.derive.flow import SPECTRAL_FUNCTIONS, _lam, _s

    return sp.lambdify((_lam, _s), SPECTRAL_FUNCTIONS[function], modules="mpmath")


def _reference(output: str, function: str, case: dict, spectrum, s: mpmath.mpf):
    """The derived spectral function applied at 50 digits: (value, ‖v‖, κ)."""
    lam, vecs = spectrum
    lmax, lmin = max(lam), min(lam)
    kappa = lmax / lmin if lmin > 0 else mpmath.inf
    if output == "condition":
        return kappa, None, kappa
    y = _mp(case["y_train"])
    if output == "mean":
        w = vecs.T * y
        for i, l in enumerate(lam):
            for j in range(w.cols):
                w[i, j] /= l
        return _mp(case["ntk_test_train"]) * (vecs * w), None, kappa
    f = _spectral_function(function)
    def apply(v):
        w = vecs.T * v
        for i, l in enumerate(lam):
            fl = f(l, s) if l > 0 else (mpmath.mpf(1) if function == "exp" else s)
            for j in range(w.cols):
                w[i, j] *= fl
        return vecs * w
    if output == "train":
        v = _mp(case["f0_train"] - case["y_train"])
        return y + apply(v), _frob(v), kappa
    v = _mp(case["y_train"] - case["f0_train"])
    return _mp(case["f0_test"]) + _mp(case["ntk_test_train"]) * apply(v), _frob(v), kappa


def check_flow(d, fn: Callable, *, examples: int = 32, seed: int = 0) -> Check:
    """Tier (a) for one spectral-flow result (see the module docstring)."""
    output, function, _ = d.spectral[0]
    names = [p.name for p in d.result.params]
    worst, where, count = 0.0, "", 0
    failure = None
    with mpmath.workdps(DPS):
        for case in flow_cases(examples, seed):
            args = {k: v for k, v in case.items() if k in names}
            if output == "mean" and case["kind"] in ("singular", "equal"):
                continue  # Θ⁻¹ Y needs Θ positive definite; the pseudo-inverse is a different function
            if output == "condition" and case["kind"] == "singular":
                continue  # κ of a matrix singular to round-off is not resolvable in float64 (inf or ~1/ε by chance)
            try:
                got = fn(**args)
            except Exception as exc:  # noqa: BLE001
                failure = f"{case['kind']} kernel: {type(exc).__name__}: {exc}"
                break
            n = case["ntk_train_train"].shape[0]
            theta_norm = float(torch.linalg.matrix_norm(case["ntk_train_train"], 2))
            times = case["t"].reshape(-1) if "t" in args else [None]
            spectrum = _spectrum(case)
            for i, t in enumerate(times):
                s = mpmath.mpf(float(case["lr"] * t)) / (n * case["y_train"].shape[1]) if t is not None else mpmath.mpf(0)
                ref, vnorm, kappa = _reference(output, function, case, spectrum, s)
                value = got[i] if (t is not None and case["t"].dim() == 1) else got
                if output == "condition":
                    err = abs(mpmath.mpf(float(value)) - ref) if ref != mpmath.inf else (0 if math.isinf(float(value)) or float(value) > 1e14 else 1)
                    tol = C * n * EPS * ref * ref if ref != mpmath.inf else 1
                else:
                    diff = [mpmath.mpf(float(a)) - b for a, b in zip(value.reshape(-1).tolist(), ref)]
                    err = _frob(diff)
                    if output == "mean":
                        tol = C * n * EPS * kappa * _frob(ref) + C * n * EPS * _frob(ref)
                    else:
                        deriv = s if function == "exp" else s * s / 2
                        # ‖F(Θ)‖₂: 1 for e^{−sΘ}; G(λ_min) ≤ min(s, 1/λ_min) for G = (1 − e^{−sλ})/λ
                        fnorm = 1 if function == "exp" else min(s, 1 / max(min(spectrum[0]), mpmath.mpf(1e-300)))
                        coupling = 1 if output == "train" else float(torch.linalg.matrix_norm(case["ntk_test_train"], 2))
                        tol = C * n * EPS * (coupling * (fnorm + theta_norm * deriv) * vnorm + _frob(ref))
                ratio = float(err / tol)
                count += 1
                if ratio > worst:
                    worst, where = ratio, f"{case['kind']} kernel n={n}, s={mpmath.nstr(s, 3)}"
    passed = failure is None and worst <= 1.0
    if failure is None and not passed:
        failure = f"error {worst:.3g} times the tolerance at {where}"
    replay = independent_replay(d, fn, normwise=True)  # the matrix ODE by expm, recorded by derive
    if replay.failure and failure is None:
        failure, passed = replay.failure, False
    measure = {"condition": f"|err| / ({C} n ε κ²)", "mean": f"‖err‖_F / ({C} n ε (κ + 1) ‖ref‖)"}.get(
        output, f"‖err‖_F / ({C} n ε (‖F‖ + ‖Θ‖ max|F'|) ‖v‖)")
    return Check(d.result.name, f"a: mpmath {DPS} digits", count, worst, 1.0, measure, passed, failure,
                 {"worst_at": where, "independent": replay.summary})
