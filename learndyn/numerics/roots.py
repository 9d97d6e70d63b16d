"""A vectorised, differentiable root solver for the implicit results (fixed points, critical points).

``solve_increasing(equation, lo, hi, params)`` finds, elementwise, the root of an equation that is
increasing in its unknown on ``[lo, hi]`` (``hi`` may be ``inf``): safeguarded Newton steps (the derivative
by autograd), bisection when a step leaves the bracket, iterated until every element has converged to
float64 round-off — not a fixed number of iterations. Gradients with respect to the parameters follow
from the implicit function theorem, ``dx/dp = −(∂f/∂p)/(∂f/∂x)``, so they are exact at the root and cost
one extra evaluation.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

__all__ = ["solve_increasing", "ConvergenceError", "SolveStats", "record_solves"]

MAX_ITER = 400

#: where :func:`record_solves` collects statistics (``None``: not recording, no cost)
_RECORD: list | None = None


@dataclass(frozen=True)
class SolveStats:
    """One vectorised solve: ``elements`` solved together, ``iterations`` of the Newton-bisection loop (until the
    last element converged), the ``mean_iterations`` after which an element had converged, and the ``doublings``
    that bracketed an infinite upper end."""

    elements: int
    iterations: int
    mean_iterations: float
    doublings: int


@contextlib.contextmanager
def record_solves() -> Iterator[list[SolveStats]]:
    """Collect a :class:`SolveStats` per solve inside the block (for benchmarks and diagnostics)."""
    global _RECORD
    outer, _RECORD = _RECORD, []
    try:
        yield _RECORD
    finally:
        _RECORD = outer


class ConvergenceError(RuntimeError):
    """The solver did not converge (should not happen inside a result's domain)."""


def _value_and_slope(equation, x, params):
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        f = equation(xg, *params)
        (df,) = torch.autograd.grad(f.sum(), xg)
    return f.detach(), df.detach()


def _solve(equation, lo, hi, params, guess):
    params = tuple(p.detach() for p in params)
    shape = torch.broadcast_shapes(*(p.shape for p in params), lo.shape, hi.shape)
    lo = torch.broadcast_to(lo, shape).clone()
    hi = torch.broadcast_to(hi, shape).clone()
    eps = torch.finfo(lo.dtype).eps
    tiny = torch.finfo(lo.dtype).tiny
    doublings = 0
    # an infinite upper end: double from max(guess, 1) until the equation is non-negative
    if bool(torch.isinf(hi).any()):
        top = torch.where(torch.isinf(hi), torch.clamp(torch.broadcast_to(guess, shape), min=1.0), hi)
        for doublings in range(2100):
            f, _ = _value_and_slope(equation, top, params)
            low = (f < 0) & torch.isinf(hi)
            if not bool(low.any()):
                break
            lo = torch.where(low, top, lo)
            top = torch.where(low, top * 2, top)
        else:
            raise ConvergenceError("could not bracket the root (the equation stays negative)")
        hi = torch.where(torch.isinf(hi), top, hi)
    x = torch.minimum(torch.maximum(torch.broadcast_to(guess, shape), lo), hi).clone()
    done = torch.zeros(shape, dtype=torch.bool, device=lo.device)
    taken = torch.zeros(shape, dtype=torch.int64, device=lo.device) if _RECORD is not None else None
    for iteration in range(MAX_ITER):
        if taken is not None:
            taken += ~done
        f, df = _value_and_slope(equation, x, params)
        done = done | (f == 0)
        lo = torch.where(f < 0, x, lo)
        hi = torch.where(f > 0, x, hi)
        newton = x - f / torch.where(df > 0, df, torch.ones_like(df))
        # a Newton step onto (or past) an end already evaluated is replaced by bisection: near the root the
        # rounding of f can make Newton bounce between two points a few ulps apart
        newton_ok = (df > 0) & (newton > lo) & (newton < hi)
        mid = torch.where((lo > 0) & (hi > 4 * lo), torch.sqrt(lo * hi), lo + (hi - lo) / 2)
        step = torch.where(newton_ok, newton, mid)
        # converged: a Newton step below round-off of x, or a bracket only a few ulps wide
        small_step = (df > 0) & ((newton - x).abs() <= 4 * eps * x.abs() + tiny)
        narrow = hi - lo <= 4 * eps * torch.maximum(lo.abs(), hi.abs()) + tiny
        step = torch.where(small_step, torch.minimum(torch.maximum(newton, lo), hi), step)
        x = torch.where(done, x, step)
        done = done | small_step | narrow
        if bool(done.all()):
            if taken is not None:
                _RECORD.append(SolveStats(int(x.numel()), iteration + 1, float(taken.double().mean()) if x.numel() else 0.0,
                                          doublings))
            return x
    raise ConvergenceError(f"no convergence in {MAX_ITER} iterations")


class _ImplicitRoot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, equation, lo, hi, guess, *params):
        x = _solve(equation, lo, hi, params, guess)
        ctx.equation = equation
        ctx.save_for_backward(x, *params)
        return x

    @staticmethod
    def backward(ctx, grad):
        x, *params = ctx.saved_tensors
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            pg = [p.detach().requires_grad_(True) for p in params]
            f = ctx.equation(xg, *pg)
            dfs = torch.autograd.grad(f.sum(), [xg, *pg], allow_unused=True)
        dfx = dfs[0]
        out = []
        for p, dfp in zip(params, dfs[1:]):
            if dfp is None or not ctx.needs_input_grad[4 + len(out)]:
                out.append(None)
                continue
            g = -grad * dfp / dfx
            # reduce over broadcast dimensions back to the parameter's shape
            while g.dim() > p.dim():
                g = g.sum(0)
            for i, (gs, ps) in enumerate(zip(g.shape, p.shape)):
                if ps == 1 and gs != 1:
                    g = g.sum(i, keepdim=True)
            out.append(g)
        return (None, None, None, None, *out)


def solve_increasing(equation: Callable[..., torch.Tensor], lo, hi, params: Sequence[torch.Tensor],
                     guess=None) -> torch.Tensor:
    r"""Root ``x`` of ``equation(x, *params) = 0``, increasing in ``x`` on ``[lo, hi]``, elementwise.

    ``lo``/``hi``/``guess`` are numbers or tensors broadcasting with ``params``; ``hi`` may be ``inf``.
    A root at an end of the bracket (``equation(lo) = 0``) is found exactly. Differentiable in ``params``
    by the implicit function theorem (infinite where ``∂f/∂x = 0`` at the root)."""
    p0 = params[0]
    as_t = lambda v: torch.as_tensor(v, dtype=p0.dtype, device=p0.device)
    lo_t, hi_t = as_t(lo), as_t(hi)
    guess_t = as_t(guess) if guess is not None else torch.where(torch.isinf(hi_t), lo_t + 1, (lo_t + hi_t) / 2)
    return _ImplicitRoot.apply(equation, lo_t, hi_t, guess_t, *params)
