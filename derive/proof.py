"""Proof records: what was proven about a result, and how (symbolically, or numerically where and at
which precision). A step that does not hold raises :class:`DerivationError` at once: a wrong derivation
fails loudly."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterable

import mpmath
import sympy as sp

__all__ = ["ProofStep", "IndependentReference", "DerivationError", "symbolic_zero", "numeric_agreement", "Prover"]


class DerivationError(RuntimeError):
    """A derivation or one of its proof steps failed."""


@dataclass(frozen=True)
class ProofStep:
    """One step of a proof record: what was shown (``claim``) and how (``method``: symbolic or numeric, in words)."""

    claim: str
    method: str

    def __str__(self) -> str:
        return f"{self.claim} — {self.method}"


@dataclass(frozen=True)
class IndependentReference(ProofStep):
    """A numeric step comparing the derived form with the defining equation solved by another method
    (:mod:`learndyn.derive.independent`). Besides the text it keeps, per point, the point (``(name, value)`` pairs:
    floats, ints, strings, arrays as nested tuples), the independent values (``(output, value)`` pairs, values as
    decimal strings; ``""`` names a single output), and whether the point is exact in float64 (``replay``: tier (a)
    evaluates the generated function there); ``worst`` is the largest relative difference, ``tolerance`` the bound."""

    points: tuple = ()
    values: tuple = ()
    replay: tuple = ()
    worst: float = 0.0
    tolerance: float = 1e-30


def _split_roots(e: sp.Expr) -> sp.Expr:
    """Square roots of factored products split into products of roots (valid for the positive factors
    that the symbols' assumptions guarantee), then simplified: ``√((1+2q1)(1+2q2)) = √(1+2q1) √(1+2q2)``."""
    e = e.replace(lambda x: x.is_Pow and x.exp in (sp.S.Half, -sp.S.Half), lambda x: sp.Pow(sp.factor(x.base), x.exp))
    return sp.simplify(sp.expand_power_base(e, force=False))


def symbolic_zero(expr: sp.Expr) -> bool:
    """True when SymPy can show ``expr == 0`` (cancel, then simplify)."""
    if expr == 0:
        return True
    for f in (sp.cancel, sp.simplify, lambda e: sp.simplify(e.rewrite(sp.erf)) if e.has(sp.erfc) else e,
              lambda e: sp.simplify(e.replace(sp.acos, lambda x: sp.pi / 2 - sp.asin(x))) if e.has(sp.acos) else e,
              _split_roots):
        try:
            if f(expr) == 0:
                return True
        except (TypeError, ValueError, NotImplementedError):
            continue
    return False


def numeric_agreement(
    f: Callable[[dict], mpmath.mpf],
    g: Callable[[dict], mpmath.mpf],
    draws: Iterable[dict],
    dps: int,
    rtol: mpmath.mpf,
) -> tuple[int, mpmath.mpf]:
    """Compare two high-precision evaluations at the given points; return (points, worst relative diff)."""
    worst = mpmath.mpf(0)
    n = 0
    with mpmath.workdps(dps):
        for point in draws:
            a, b = f(point), g(point)
            scale = max(abs(a), abs(b), mpmath.mpf(10) ** (-dps))
            diff = abs(a - b) / scale
            worst = max(worst, diff)
            n += 1
            if diff > rtol:
                raise DerivationError(f"numeric check failed at {point}: {a} != {b} (relative {mpmath.nstr(diff, 5)})")
    return n, worst


class Prover:
    """Collects the proof steps of one result."""

    def __init__(self, result_name: str):
        self.name = result_name
        self.steps: list[ProofStep] = []

    def symbolic(self, claim: str, residual: sp.Expr, how: str = "SymPy simplifies the residual to 0") -> None:
        if not symbolic_zero(residual):
            raise DerivationError(f"{self.name}: could not prove '{claim}': residual {residual}")
        self.steps.append(ProofStep(claim, f"symbolic ({how})"))

    def fact(self, claim: str, how: str) -> None:
        self.steps.append(ProofStep(claim, how))

    def numeric(self, claim: str, f, g, draws: list[dict], dps: int = 50, rtol_digits: int = 40) -> None:
        n, _ = numeric_agreement(f, g, draws, dps, mpmath.mpf(10) ** (-rtol_digits))
        self.steps.append(ProofStep(claim, f"numeric ({n} seeded points at {dps} digits, relative difference < 1e-{rtol_digits})"))


def seeded_points(rng_seed: int, n: int, sampler: Callable[[random.Random], dict]) -> list[dict]:
    """Deterministic proof points (the same on every run, so the proof record is byte-stable)."""
    rng = random.Random(rng_seed)
    return [sampler(rng) for _ in range(n)]
