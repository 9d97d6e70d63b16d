"""Tier (a): each generated function against a high-precision evaluation of its derived expression.

The bound is THEORY.md's: ``|f − ref| ≤ 1e-12 |ref| + 2.3e-308`` (a value that underflows may come back
as 0). Points: the declared edges and special values of the test range, then hypothesis draws from the
declared test ranges (seeded, no example database, so a run is reproducible from its seed). At every
point the gradient with respect to every real argument must be finite (except at points the result declares
an infinite derivative, and where the value is within 1e18 of overflowing float64, so a derivative may
overflow); a true value beyond float64's range must come back as inf. A 1 % error anywhere in the test
range fails this tier. The reference above is the derived expression; the row also checks the independent
reference that ``derive`` recorded (the defining equation solved by another method) and evaluates the generated
function at its points against the independent values (:mod:`learndyn.verify.independent`).
"""
from __future__ import annotations

import math
import sys
from typing import Callable

import mpmath
import sympy as sp
import torch
from hypothesis import HealthCheck, given, seed as hyp_seed, settings

from learndyn.derive.maps import mp_value
from learndyn.derive.derivation import Derivation
from learndyn.verify.independent import independent_replay
from learndyn.verify.reference import reference
from learndyn.verify.report import Check
from learndyn.verify.strategies import edge_points, point_strategy

__all__ = ["check_closed_form", "RTOL", "ATOL"]

RTOL = 1e-12
ATOL = 2.3e-308
NEAR_OVERFLOW = 1e290


class _Tracker:
    def __init__(self):
        self.worst = 0.0
        self.worst_point: dict | None = None
        self.count = 0


def _compare(name: str, point: dict, got: float, ref, tracker: _Tracker) -> None:
    if mpmath.isinf(ref) or abs(ref) > sys.float_info.max:  # the true value is infinite or overflows float64
        if got != float(ref):
            raise AssertionError(f"{name}{point}: returned {got!r}, reference {mpmath.nstr(ref, 5)} (overflows float64)")
        return
    if not math.isfinite(got):
        raise AssertionError(f"{name}{point}: returned {got}, reference {mpmath.nstr(ref, 17)}")
    err = abs(mpmath.mpf(got) - ref)
    bound = RTOL * abs(ref) + ATOL
    ratio = float(err / bound)
    if ratio > tracker.worst:
        tracker.worst, tracker.worst_point = ratio, dict(point)
    if ratio > 1:
        rel = float(err / abs(ref)) if ref != 0 else float("inf")
        raise AssertionError(
            f"{name}{point}: {got!r} vs reference {mpmath.nstr(ref, 20)} (relative error {rel:.3g} > {RTOL:g})")


def _infinite_derivative_here(d: Derivation, point: dict) -> bool:
    """At a declared point where the true derivative is infinite, the gradient is not required finite."""
    for name, value, _ in d.result.infinite_derivative:
        if isinstance(value, sp.Basic):  # a condition on the parameters, e.g. Eq(Gram2(q1, q2, c), 0)
            if mp_value(value.lhs - value.rhs, point) == 0:
                return True
        elif point.get(name) == value:
            return True
    return False


def _evaluate(fn: Callable, d: Derivation, point: dict, tracker: _Tracker) -> None:
    reals = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in point.items() if isinstance(v, float)}
    args = {**point, **reals}
    value = fn(**args)
    ref = reference(d, point)
    name = d.result.name
    outputs = value._asdict() if hasattr(value, "_asdict") else {None: value}
    refs = ref if isinstance(ref, dict) else {None: ref}
    for key, out in outputs.items():
        _compare(name if key is None else f"{name}.{key}", point, float(out.detach()), refs[key], tracker)
    tracker.count += 1
    if _infinite_derivative_here(d, point):
        return
    if any(abs(float(out.detach())) > NEAR_OVERFLOW for out in outputs.values()):
        return  # a derivative may overflow float64 where the value itself nearly does
    for key, out in outputs.items():
        if not out.requires_grad:
            continue
        grads = torch.autograd.grad(out, list(reals.values()), allow_unused=True, retain_graph=True)
        for pname, g in zip(reals, grads):
            if g is not None and not bool(torch.isfinite(g).all()):
                raise AssertionError(f"{name}{'' if key is None else '.' + key}{point}: gradient d/d{pname} = {float(g)} is not finite")


def check_closed_form(d: Derivation, fn: Callable, *, examples: int = 100, seed: int = 0) -> Check:
    """Run tier (a) for one result; returns a :class:`Check` (worst error as a multiple of the bound)."""
    tracker = _Tracker()
    failure = None
    try:
        for point in edge_points(d.result):
            _evaluate(fn, d, point, tracker)

        @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                  suppress_health_check=list(HealthCheck), print_blob=True)
        @given(point_strategy(d.result, "test"))
        def draws(point):
            _evaluate(fn, d, point, tracker)

        hyp_seed(seed)(draws)()
    except AssertionError as exc:
        failure = str(exc).splitlines()[0]
    except Exception as exc:  # noqa: BLE001 - a crash of the function under test is a failed check
        failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    replay = independent_replay(d, fn)
    failure = failure or replay.failure
    return Check(
        name=d.result.name, tier="a: mpmath 50 digits", examples=tracker.count,
        worst=max(tracker.worst, replay.worst), tolerance=1.0, measure="|err| / (1e-12|ref| + 2.3e-308)",
        passed=failure is None, failure=failure,
        details={"worst_point": tracker.worst_point, "independent": replay.summary},
    )
