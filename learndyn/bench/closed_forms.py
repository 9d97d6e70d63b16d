"""Group ``closed_forms``: every family's explicit closed forms at 10⁶ and 10⁷ float64 points.

Per result and size (``axis`` layout, see :mod:`learndyn.bench.points`), four figures:

* the default path (``learndyn.function(name)(...)``, domain check included: above
  :data:`learndyn.fused.MIN_ELEMENTS` one compiled pass, see :mod:`learndyn.fused`) against the derived closed form
  through ``sympy.lambdify`` to numpy — goal: at least 3× faster at 10⁷ points;
* the emitted stable form against the naive torch transcription of the published formula (the derived one where
  nothing is published), both eager — goal: at most 1.5× the naive one's time;
* the same two under ``torch.compile`` (compile time reported beside) — goal: at most 1.5×;
* the default path against the machine's limit: one compiled pass that reads the same inputs and writes one output.
"""
from __future__ import annotations

import functools
import importlib
import math
import warnings

import numpy as np
import sympy as sp
import torch

import learndyn
from learndyn.bench.points import draw
from learndyn.bench.report import Row
from learndyn.bench.timing import measure
from learndyn.fused import _uniquely_named, compile_accurately, empty_output

__all__ = ["explicit_closed_forms", "run_closed_forms", "SIZES", "QUICK_SIZES"]

SIZES = (10**6, 10**7)
QUICK_SIZES = (2000,)
GROUP = "closed_forms"


def explicit_closed_forms() -> list[str]:
    """Results whose emitted function is one expression of their parameters with a derived closed form (no
    solver, no kernel composition or spectral flow, no cases)."""
    names = []
    for name in learndyn.results():
        d = learndyn.result(name)
        if d.derived is None or d.solver is not None or d.solvers or d.layers or d.spectral or d.cases or d.outputs or d.integrands:
            continue
        if any(p.kind not in ("real", "int") for p in d.result.params):
            continue
        if any(type(f).__name__.startswith("solve_") for f in d.derived.atoms(sp.Function)):
            continue
        names.append(name)
    return names


def _naive(d):
    """The published formula (else the derived one) printed plainly as torch code by the project's printer."""
    from learndyn.derive.printer import RUNTIME_IMPORTS, LearndynTorchPrinter

    expr = d.result.published if d.result.published is not None else d.derived
    params = [p.name for p in d.result.params]
    source = f"def naive_{d.name}({', '.join(params)}):\n    return {LearndynTorchPrinter().doprint(expr)}\n"
    env = {"torch": torch, "math": math, **{a: importlib.import_module(m) for a, m in RUNTIME_IMPORTS.items()}}
    exec(compile(source, f"<naive {d.name}>", "exec"), env)  # noqa: S102 - our own printed expression
    return env[f"naive_{d.name}"], ("published" if d.result.published is not None else "derived")


def _lambdified(d):
    """The derived closed form through ``sympy.lambdify`` to numpy (scipy for special functions where installed);
    ``None`` where it needs scipy and scipy is missing."""
    try:
        import scipy  # noqa: F401

        modules = ["scipy", "numpy"]
    except ImportError:
        modules = ["numpy"]
    symbols = [d.result.symbols[p.name] for p in d.result.params]
    fn = sp.lambdify(symbols, d.derived, modules=modules)
    if modules == ["numpy"] and d.derived.has(sp.erfc, sp.erf):
        return None
    return fn


def _numpy_args(kwargs: dict) -> dict:
    return {k: (v.cpu().numpy() if v.dim() else float(v)) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}


def _unchecked(fn, name: str):
    """``fn(..., check=False)`` as a function of its own (torch.compile keeps compiled code per code object: a
    ``functools.partial`` would share one with every other partial)."""

    def unchecked(*args, **kwargs):
        return fn(*args, check=False, **kwargs)

    return _uniquely_named(unchecked, f"learndyn_unchecked_{name}")


@functools.lru_cache(maxsize=None)
def _limit_pass(arity: int):
    """A compiled pass reading ``arity`` inputs (broadcast) and writing one output: the sum into a buffer."""

    def limit(buffer, *xs):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return buffer.copy_(total)

    return compile_accurately(_uniquely_named(limit, f"learndyn_limit_{arity}"))


def run_closed_forms(*, device: str, quick: bool, names: list[str] | None = None, progress=None) -> list[Row]:
    sizes = QUICK_SIZES if quick else SIZES
    repeats = 1 if quick else 5
    warmup = 0 if quick else 1
    rows: list[Row] = []
    for name in names or explicit_closed_forms():
        if progress:
            progress(f"closed_forms: {name}")
        d = learndyn.result(name)
        default = learndyn.function(name)
        stable = getattr(default, "__wrapped__", default)
        naive, naive_of = _naive(d)
        lamb = _lambdified(d)
        stable_compiled = None if quick else compile_accurately(_unchecked(stable, name))
        naive_compiled = None if quick else compile_accurately(naive)
        reals = [p.name for p in d.result.params if p.kind == "real"]
        for n in sizes:
            kw = draw(d.result, n, layout="axis", seed=0, device=device)
            label = f"{name} @{n:.0e}".replace("e+0", "e")
            details = {"points": n, "layout": "axis", "repeats": repeats, "varied": [k for k in reals if kw[k].dim()]}
            t_default = measure(lambda: default(**kw), repeats=repeats, warmup=warmup, device=device)
            compiled_default = bool(getattr(default, "compile_seconds", {}))
            default_details = {**details, "default_path": "fused (torch.compile)" if compiled_default and n >= _min_elements()
                               else "eager", "default_first_call_s": t_default.first}
            if lamb is not None:
                npkw = _numpy_args(kw)
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t_lamb = measure(lambda: lamb(**npkw), repeats=repeats, warmup=warmup)
                rows.append(Row(GROUP, f"{label}: default path vs lambdify", "s", t_default.median, t_lamb.median,
                                "sympy.lambdify(derived) to numpy", "speedup",
                                goal=3.0 if n >= 10**7 else None, details=default_details))
            else:
                rows.append(Row(GROUP, f"{label}: default path vs lambdify", "s", t_default.median, None,
                                "sympy.lambdify(derived) to numpy", "speedup", note="needs scipy (pip install 'learndyn[bench]')",
                                details=default_details))
            t_stable = measure(lambda: stable(**kw, check=False), repeats=repeats, warmup=warmup, device=device)
            t_naive = measure(lambda: naive(**kw), repeats=repeats, warmup=warmup, device=device)
            rows.append(Row(GROUP, f"{label}: stable vs naive, eager", "s", t_stable.median, t_naive.median,
                            f"naive torch ({naive_of} form), eager", "cost", goal=1.5, goal_op="<=", details=details))
            if quick:
                rows.append(Row(GROUP, f"{label}: stable vs naive, torch.compile", "s", None, None,
                                f"naive torch ({naive_of} form), compiled", "cost", note="skipped in --quick"))
                rows.append(Row(GROUP, f"{label}: default path vs machine limit", "s", None, None,
                                "one fused pass: read the inputs, write one output", "cost", note="skipped in --quick"))
                continue
            tc_stable = measure(lambda: stable_compiled(**kw), repeats=repeats, warmup=warmup, device=device)
            tc_naive = measure(lambda: naive_compiled(**kw), repeats=repeats, warmup=warmup, device=device)
            rows.append(Row(GROUP, f"{label}: stable vs naive, torch.compile", "s", tc_stable.median, tc_naive.median,
                            f"naive torch ({naive_of} form), compiled", "cost", goal=1.5, goal_op="<=",
                            details={**details, "compile_s_stable": tc_stable.compile_seconds,
                                     "compile_s_naive": tc_naive.compile_seconds}))
            inputs = [kw[k] for k in reals]
            shape = torch.broadcast_shapes(*(x.shape for x in inputs))
            limit = _limit_pass(len(inputs))
            t_limit = measure(lambda: limit(empty_output(shape, torch.float64, torch.device(device)), *inputs),
                              repeats=repeats, warmup=warmup, device=device)
            rows.append(Row(GROUP, f"{label}: default path vs machine limit", "s", t_default.median, t_limit.median,
                            "one fused pass: read the inputs, write one output", "cost",
                            details={**details, "compile_s_default": t_default.compile_seconds,
                                     "compile_s_limit": t_limit.compile_seconds}))
    return rows


def _min_elements() -> int:
    from learndyn.fused import MIN_ELEMENTS

    return MIN_ELEMENTS
