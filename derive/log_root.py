r"""The root of an increasing function of ``u > 0`` at mpmath's working precision, found in ``w = ln u``: the time
a separable flow takes to reach ``u`` is increasing in ``u``, so its inverse (the flow's state at a time) is such a
root.

A bracket by doubling from ``ln start``, bisection to three digits, then Newton with the exact derivative
``df/dw``, safeguarded by the bracket. Newton stops at the evaluation's own rounding floor: ``f`` at the root is
measured at the working precision and at 20 digits more, and a residual within a hundred times their difference
(or ``10^{−(dps−10)}`` of ``scale``) is as close as this precision gets; the caller raises the precision where it
needs more (a forward form that cancels sets the floor, not the tolerance).
"""
from __future__ import annotations

from typing import Callable

import mpmath

__all__ = ["increasing_root_in_log"]


def increasing_root_in_log(f: Callable, slope: Callable, start, scale=1) -> mpmath.mpf:
    """``u ≥ start`` with ``f(ln u) = 0``, for ``f`` increasing in ``w = ln u`` with ``f(ln start) ≤ 0``;
    ``slope(w) = df/dw``; ``f`` evaluates at the working precision (``mpmath.mp.dps``); ``scale`` is the size of the
    terms ``f`` subtracts (the time sought), for the rounding floor."""
    lo, step = mpmath.log(start), mpmath.mpf(1)
    hi = lo + step
    while f(hi) < 0:
        lo, step = hi, step * 2
        hi = lo + step
    while hi - lo > mpmath.mpf(10) ** -3 * max(1, abs(lo)):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    w = (lo + hi) / 2
    dps = mpmath.mp.dps
    with mpmath.extradps(20):
        finer = f(w)
    noise = abs(f(w) - finer)
    floor = max(mpmath.mpf(10) ** (-dps + 10) * abs(scale), 100 * noise)
    tol = mpmath.mpf(10) ** (-dps + 5)
    for _ in range(100):
        fw = f(w)
        if abs(fw) <= floor:
            break
        lo, hi = (w, hi) if fw < 0 else (lo, w)
        new = w - fw / slope(w)
        if not lo < new < hi:
            new = (lo + hi) / 2
        if abs(new - w) <= tol * max(1, abs(w)):
            w = new
            break
        w = new
    return mpmath.exp(w)
