"""Error-free transformations in float64: sums and matrix products carried as double-doubles ``hi + lo``.

The canonical correlations of near-collinear neurons depend on differences between columns that are far below the
columns' size (``a2 = a1 + 1e-8 z``). A float64 product or a float64 centring perturbs every column by ``ε`` of its
own size, which is ``ε/1e-8 = 1e-8`` of the difference: canonical correlations then lose 8 digits. The few products
that decide the subspace are therefore computed here to about ``ε²`` of the inputs' size:

- :func:`two_sum` — Knuth's TwoSum, ``a + b = s + e`` exactly (six float64 operations, no branch);
- :func:`accurate_matmul` — ``x @ y`` as ``hi + lo`` by the Ozaki splitting: each row of ``x`` and each column of
  ``y`` is cut into slices of ``t = ⌊(53 − ⌈log2 k⌉)/2⌋`` bits on a power-of-two grid of its own scale, so that the
  products of the leading slices, summed over the inner dimension ``k``, are integers below ``2^53`` times a power of
  two: float64 matrix multiplication (BLAS, cuBLAS, any summation order) computes them *exactly*. The remaining
  slices are ``2^{−2t}`` smaller and are multiplied in plain float64; the error of the result is about
  ``k ε 2^{−2t} max|x_i·| max|y_·j|`` (``≈ 3e-26`` of the inputs' scale at ``k = 1000``), six matrix products in all;
- :func:`centre_double_double` — the column means of a double-double matrix removed in two passes, to ``ε`` of the
  centred column's own size.

Everything is batched over leading dimensions and runs on any device (no Python loop over elements). Do not run
these functions under ``torch.compile``: a fused kernel may contract ``a + b − s`` into a different expression.
"""
from __future__ import annotations

import math

import torch

__all__ = ["two_sum", "power_of_two", "accurate_matmul", "centre_double_double"]

_MANTISSA = 53  # float64


def two_sum(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (Knuth; float64, no overflow)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def power_of_two(exponent: torch.Tensor) -> torch.Tensor:
    """``2**exponent`` for integer tensors, exact (built from the bits of a float64; clamped to the normal range)."""
    e = exponent.to(torch.int64).clamp(-1022, 1023)
    return torch.bitwise_left_shift(e + 1023, 52).view(torch.float64)


def _exponent(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The least ``e`` with ``|x| ≤ 2**e`` along ``dim`` (kept), as int64; 0 where all entries are 0."""
    largest = x.abs().amax(dim=dim, keepdim=True)
    _, e = torch.frexp(largest)  # largest = m 2**e, m in [0.5, 1)
    return e.to(torch.int64)


def _slices(x: torch.Tensor, e: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x = x1 + x2 + x3`` exactly: ``x1`` on the grid ``2**(e − t)``, ``x2`` on ``2**(e − 2t)``, ``x3`` the rest."""
    up1, down1 = power_of_two(t - e), power_of_two(e - t)
    x1 = torch.round(x * up1) * down1
    r = x - x1  # exact: x1 is x rounded to a coarser grid of powers of two
    up2, down2 = power_of_two(2 * t - e), power_of_two(e - 2 * t)
    x2 = torch.round(r * up2) * down2
    return x1, x2, r - x2


def accurate_matmul(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x @ y ≈ hi + lo`` to about ``k ε 2^{−2t}`` of ``max|x_i·| max|y_·j|`` (float64, batched, broadcasting).

    ``x`` is ``(..., n, k)``, ``y`` is ``(..., k, m)``. The three products of leading slices are exact in float64
    (the module docstring says why), their sum is carried as a double-double, and the three products of the small
    remaining slices are added to ``lo``. Inputs whose entries are below ``2**-900`` of their row's or column's
    largest entry lose the exactness of those entries' slices (subnormal grids); activations never come close."""
    k = x.shape[-1]
    t = (_MANTISSA - max(1, math.ceil(math.log2(max(k, 2))))) // 2
    x1, x2, x3 = _slices(x, _exponent(x, -1), t)
    y1, y2, y3 = _slices(y, _exponent(y, -2), t)
    hi, lo = two_sum(x1 @ y1, x1 @ y2)  # each product is exact
    hi, e = two_sum(hi, x2 @ y1)
    rest = x1 @ y3 + x2 @ (y2 + y3) + x3 @ y  # 2^{-2t} smaller: plain float64 suffices
    return two_sum(hi, lo + e + rest)


def centre_double_double(hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """``(hi + lo) − mean over dim −2``, rounded once to float64: two passes, each mean removed as a double-double.

    The first mean is exact to ``ε`` of the column's mean, the second removes what is left to ``ε`` of the centred
    column's size; the result is the exactly centred column to a relative ``ε`` per column."""
    m1 = hi.mean(dim=-2, keepdim=True)
    d_hi, d_lo = two_sum(hi, -m1)
    d_lo = d_lo + lo
    m2 = d_hi.mean(dim=-2, keepdim=True) + d_lo.mean(dim=-2, keepdim=True)
    return (d_hi - m2) + d_lo
