r"""The principal branch of the Lambert W function and the Wright omega function, vectorised and differentiable.

* :func:`lambertw` — ``W₀(x)`` for ``x ≥ −1/e``: ``W e^W = x``, ``W ≥ −1``. Near the branch point the series in
  ``p = √(2(e x + 1))`` (``W = −1 + p − p²/3 + 11p³/72 − …``) with ``x + 1/e`` formed from ``1/e`` as a sum of two
  float64s (so ``p`` keeps its digits as ``x → −1/e``); elsewhere Winitzki's or the logarithmic start and Halley
  steps. ``dW/dx = e^{−W}/(1 + W)`` (infinite at ``x = −1/e``).
* :func:`wright_omega` — ``ω(y) = W₀(e^y)``, the root of ``ω + ln ω = y``, for every real ``y`` (also where ``e^y``
  overflows or underflows): ``e^y`` below ``y = −30`` (to ``e^{2y}``), ``W₀(e^y)`` up to ``y = 1``, Newton on
  ``ω + ln ω = y`` above, from ``y − ln y + ln y/y``. ``dω/dy = ω/(1 + ω)``.

Both are exact to a few ulps (``tests/test_classification_numerics.py`` against mpmath). Python floats give float64
0-d tensors (a depth-only argument such as ``c e^{−c}``, ``c = 2 − 2/L``).
"""
from __future__ import annotations

import math

import torch

__all__ = ["lambertw", "wright_omega"]

_INV_E_HI = 0.36787944117144233            # 1/e = hi + lo to ~1e-33
_INV_E_LO = -1.2428753672788363e-17
# W = −1 + p − p²/3 + 11p³/72 − 43p⁴/540 + 769p⁵/17280 − 221p⁶/8505 + … (Corless et al. 1996, eq. 4.22)
_BRANCH = (-1.0, 1.0, -1.0 / 3.0, 11.0 / 72.0, -43.0 / 540.0, 769.0 / 17280.0, -221.0 / 8505.0,
           680863.0 / 43545600.0, -1963.0 / 204120.0, 226287557.0 / 37623398400.0)
_HALLEY_STEPS = 6


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(float(x), dtype=torch.float64)


def _branch_series(p: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(p)
    for c in reversed(_BRANCH):
        out = out * p + c
    return out


def _w0_value(x: torch.Tensor) -> torch.Tensor:
    """``W₀(x)`` without autograd (``x ≥ −1/e``; ``x`` below it gives NaN)."""
    shift = (x + _INV_E_HI) + _INV_E_LO                  # x + 1/e, exact next to the branch point
    p = torch.sqrt(torch.clamp(2.0 * math.e * shift, min=0.0))
    near = p < 0.02                                      # the series to p^9 is exact to ~1e-19 there
    # starts: Winitzki below x = 3, logarithmic above
    xs = torch.clamp(x, min=-0.25)
    l1p = torch.log1p(xs)
    w_small = l1p * (1.0 - torch.log1p(l1p) / (2.0 + l1p))
    xl = torch.clamp(x, min=3.0)
    L1 = torch.log(xl)
    L2 = torch.log(L1)
    w_large = L1 - L2 + L2 / L1
    w = torch.where(x < 3.0, w_small, w_large)
    w = torch.where(x < -0.25, _branch_series(p), w)
    for _ in range(_HALLEY_STEPS):
        ew = torch.exp(w)
        f = w * ew - x
        wp1 = w + 1.0
        denom = ew * wp1 - (w + 2.0) * f / (2.0 * wp1)
        step = f / denom
        w = torch.where((wp1 > 0) & torch.isfinite(step), w - step, w)
    w = torch.where(near, _branch_series(p), w)
    w = torch.where(x == 0, torch.zeros_like(x), w)
    return torch.where(shift < 0, torch.full_like(x, math.nan), w)


class _LambertW(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        w = _w0_value(x)
        ctx.save_for_backward(w)
        return w

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g * torch.exp(-w) / (1.0 + w)


def lambertw(x) -> torch.Tensor:
    r"""``W₀(x)``, the principal branch of Lambert's W (``x ≥ −1/e``; NaN below), elementwise."""
    return _LambertW.apply(_as_tensor(x))


def _omega_value(y: torch.Tensor) -> torch.Tensor:
    low = y < -30.0
    mid = (y >= -30.0) & (y <= 1.0)
    ym = torch.clamp(y, min=-30.0, max=1.0)
    w_mid = _w0_value(torch.exp(ym))
    yl = torch.clamp(y, max=-30.0)
    w_low = torch.exp(yl) * (1.0 - torch.exp(yl))            # ω = e^y − e^{2y} + …
    yh = torch.clamp(y, min=1.0)
    ly = torch.log(yh)
    w = yh - ly + ly / yh
    for _ in range(_HALLEY_STEPS):
        w = w - (w + torch.log(w) - yh) * w / (w + 1.0)
    return torch.where(low, w_low, torch.where(mid, w_mid, w))


class _WrightOmega(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y):
        w = _omega_value(y)
        ctx.save_for_backward(w)
        return w

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g * w / (1.0 + w)


def wright_omega(y) -> torch.Tensor:
    r"""``ω(y) = W₀(e^y)``, the root of ``ω + ln ω = y``, for every real ``y``, elementwise."""
    return _WrightOmega.apply(_as_tensor(y))
