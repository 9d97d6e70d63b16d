"""Group ``solvers``, part 1: the implicit results (fixed and critical points), in time per point and iterations to
float64 convergence, against a scalar reference solver per point.

The learndyn side is the public function on ``n`` points drawn from the test ranges (every parameter varied), one
vectorised Newton-bisection solve per stage (:mod:`learndyn.numerics.roots`, iterations recorded by
:func:`~learndyn.numerics.roots.record_solves`). The reference solves the same emitted equation point by point with
``scipy.optimize.brentq`` (``xtol`` below any root, ``rtol = 4ε``: float64 convergence), or without scipy a
plain-Python Illinois (modified regula falsi) iteration to the same float64 convergence, on a subset of the points;
the roots of both are compared.
"""
from __future__ import annotations

import functools
import importlib
import math
import time

import sympy as sp
import torch

import learndyn
from learndyn.bench.points import draw
from learndyn.bench.report import Row
from learndyn.bench.timing import measure

__all__ = ["SOLVER_CASES", "run_solvers", "reference_solver"]

GROUP = "solvers"
#: (result, categorical arguments): the results whose emitted function solves an equation
SOLVER_CASES = (("correlation_fixed_point", {}), ("kernel_fixed_point", {"activation": "erf"}),
                ("shifted_relu_critical_point", {}))

_G_SERIES = tuple((-1) ** (k + 1) * 2 * k / math.factorial(2 * k + 1) for k in range(1, 11))


def _sin_minus_x_cos(x: float) -> float:
    """``sin x − x cos x``, by its series below 1 (as learndyn's kernel, so the reference is as accurate)."""
    if abs(x) < 1.0:
        x2, acc = x * x, _G_SERIES[-1]
        for c in reversed(_G_SERIES[:-1]):
            acc = acc * x2 + c
        return x * x2 * acc
    return math.sin(x) - x * math.cos(x)


#: scalar float implementations of the project's functions, for lambdify
SCALAR_FUNCTIONS = {
    "SinMinusXCos": _sin_minus_x_cos,
    "Ndtr": lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0)),
    "sinc": lambda x: 1.0 if x == 0 else math.sin(x) / x,
    "exprel": lambda z: 1.0 if z == 0 else math.expm1(z) / z,
}


@functools.lru_cache(maxsize=1)
def reference_solver() -> str:
    try:
        import scipy.optimize  # noqa: F401

        return "scipy.optimize.brentq"
    except ImportError:
        return "Illinois regula falsi (pure Python, float64)"


def _root(f, lo: float, hi: float, args: tuple) -> tuple[float, int]:
    """Root of increasing ``f(x, *args)`` on ``[lo, hi]`` (``hi`` may be inf) and the function calls it took."""
    calls = 0

    def g(x):
        nonlocal calls
        calls += 1
        return float(f(x, *args))

    if g(lo) >= 0:
        return lo, calls
    if math.isinf(hi):
        top = max(1.0, lo + 1.0)
        while g(top) < 0:
            lo, top = top, 2 * top
        hi = top
    if reference_solver() == "scipy.optimize.brentq":
        from scipy.optimize import brentq

        x = brentq(g, lo, hi, xtol=1e-300, rtol=4 * 2.220446049250313e-16, maxiter=500)
    else:
        x = illinois(g, lo, hi)
    return x, calls


def illinois(g, lo: float, hi: float, *, rtol: float = 4 * 2.220446049250313e-16, maxiter: int = 500) -> float:
    """Root of ``g`` bracketed by ``g(lo) < 0 <= g(hi)``, by the Illinois variant of regula falsi (superlinear,
    never leaves the bracket), to ``|hi − lo| <= rtol·|x|`` or adjacent floats: the baseline without scipy."""
    glo, ghi = g(lo), g(hi)
    side = 0
    for _ in range(maxiter):
        if ghi == 0 or hi - lo <= rtol * max(abs(lo), abs(hi)) or math.nextafter(lo, hi) >= hi:
            break
        x = (lo * ghi - hi * glo) / (ghi - glo)
        if not lo < x < hi:  # round-off put the secant on an end: bisect
            x = 0.5 * (lo + hi)
        gx = g(x)
        if gx < 0:
            lo, glo = x, gx
            if side == -1:
                ghi *= 0.5
            side = -1
        else:
            hi, ghi = x, gx
            if side == 1:
                glo *= 0.5
            side = 1
    return hi if abs(ghi) <= abs(glo) else lo


class _Stages:
    """The emitted equations of a result's solve stages as scalar functions; the parameters a stage takes beyond
    the result's own are the roots of the stages before it, in order."""

    def __init__(self, d):
        self.specs = [s for s in (d.solver, *d.solvers) if s is not None]
        self.module = importlib.import_module(f"learndyn.generated.{learndyn.family_of(d.name)}")
        own = {p.name for p in d.result.params}
        self.stages = []
        for spec in self.specs:
            names = [p.name for p in spec.params]
            modules = [SCALAR_FUNCTIONS, "math"]
            f = sp.lambdify((spec.variable, *spec.params), spec.equation, modules=modules)
            lo = sp.lambdify(spec.params, spec.lo, modules=modules)
            hi = sp.lambdify(spec.params, spec.hi, modules=modules) if spec.hi != sp.oo else None
            extra = [n for n in names if n not in own]
            self.stages.append((spec, names, extra, f, lo, hi))

    def reference(self, point: dict) -> tuple[list[float], int]:
        """The roots of every stage at ``point`` (floats) and the function calls in all."""
        roots, calls, values = [], 0, dict(point)
        for spec, names, extra, f, lo, hi in self.stages:
            for name, root in zip(extra, roots):
                values[name] = root
            args = tuple(values[n] for n in names)
            x, c = _root(f, float(lo(*args)), math.inf if hi is None else float(hi(*args)), args)
            roots.append(x)
            calls += c
        return roots, calls

    def learndyn_roots(self, kw: dict) -> list[torch.Tensor]:
        """The roots of every stage from the generated ``_solve_NAME`` functions (vectorised)."""
        roots, values = [], dict(kw)
        for spec, names, extra, *_ in self.stages:
            for name, root in zip(extra, roots):
                values[name] = root
            roots.append(getattr(self.module, f"_solve_{spec.name}")(*(values[n] for n in names)))
        return roots


def run_solvers(*, device: str, quick: bool, progress=None) -> list[Row]:
    from learndyn.numerics.roots import record_solves

    n = 50 if quick else 10_000
    n_ref = 5 if quick else 300
    repeats = 1 if quick else 5
    rows: list[Row] = []
    for name, choices in SOLVER_CASES:
        if progress:
            progress(f"solvers: {name}")
        d = learndyn.result(name)
        fn = learndyn.function(name)
        kw = draw(d.result, n, layout="scattered", seed=1, device=device, choices=choices)
        with record_solves() as stats:
            fn(**kw)
        timing = measure(lambda: fn(**kw), repeats=repeats, warmup=0 if quick else 1, device=device)
        stages = _Stages(d)
        reals = [p.name for p in d.result.params if p.kind == "real"]
        points = [{k: float(kw[k][i]) if kw[k].dim() else float(kw[k]) for k in reals} for i in range(n_ref)]
        stages.reference(points[0])  # warm-up (imports)
        start = time.perf_counter()
        refs = [stages.reference(pt) for pt in points]
        t_ref = (time.perf_counter() - start) / n_ref
        ours = stages.learndyn_roots({k: kw[k] for k in reals})
        worst = 0.0
        for s, root in enumerate(ours):
            mine = root.detach().cpu().double()[:n_ref] if root.dim() else root.detach().cpu().double().expand(n_ref)
            theirs = torch.tensor([r[0][s] for r in refs], dtype=torch.float64)
            scale = torch.maximum(mine.abs(), theirs.abs()).clamp(min=1e-300)
            worst = max(worst, float(((mine - theirs).abs() / scale).max()))
        label = name + (f" ({', '.join(f'{k}={v}' for k, v in choices.items())})" if choices else "")
        per_point = timing.median / n * 1e6
        rows.append(Row(GROUP, f"{label}: time per point", "µs/point", per_point, t_ref * 1e6,
                        f"{reference_solver()} per point", "speedup",
                        details={"points": n, "reference_points": n_ref, "stages": len(stages.stages),
                                 "iterations": [s.iterations for s in stats], "mean_iterations": [s.mean_iterations for s in stats],
                                 "bracket_doublings": [s.doublings for s in stats],
                                 "reference_function_calls_per_point": sum(r[1] for r in refs) / n_ref,
                                 "max_relative_difference_of_roots": worst}))
        iterations = float(sum(s.mean_iterations for s in stats))
        ref_calls = sum(r[1] for r in refs) / n_ref
        rows.append(Row(GROUP, f"{label}: iterations to float64 convergence", "evaluations/point", iterations, ref_calls,
                        f"{reference_solver()} function calls", "speedup",
                        note="learndyn: Newton steps per element (each one value and slope), all stages",
                        details={"loop_iterations": [s.iterations for s in stats],
                                 "max_relative_difference_of_roots": worst}))
    return rows
