r"""Double-double arithmetic on torch tensors: a value is a pair ``(hi, lo)`` with ``hi = fl(hi + lo)``, about 32 digits.

Used where one float64 rounding is amplified: the base ``1 − lr λ`` of gradient descent's decay ``(1 − lr λ)^k`` near
the stability limit ``lr λ₊ → 2``, where an error ``δ`` in ``lr λ`` moves ``(1 − lr λ)^{2k}`` by ``2k δ`` relative
(``k`` up to ``709/(1 − |1 − lr λ₊|)`` before the value underflows). The spectral edges ``λ₋``, ``λ₊ − λ₋`` and the
quadrature nodes are carried in double-double, so ``lr λ`` is exact to ``~u²``.

Error-free transformations (Knuth's two-sum, Dekker's two-product by Veltkamp's splitting; torch has no fused
multiply-add), then the usual sloppy double-double operations (relative error a few ``u²``). A plain tensor or
Python number is a double-double with ``lo = 0``. Every operation is differentiable: the ``hi`` parts carry the
ordinary float64 derivative, the correction terms' derivatives vanish.
"""
from __future__ import annotations

from typing import Union

import torch

__all__ = ["DD", "of", "two_sum", "two_prod", "split", "add", "neg", "sub", "mul", "div", "sqrt", "pow", "value"]

#: a double-double: ``(hi, lo)``
DD = tuple
Number = Union[torch.Tensor, float, int]

_SPLIT = 134217729.0  # 2^27 + 1, Veltkamp's constant for float64


def of(x) -> DD:
    """``x`` as a double-double: a pair is returned as it is, a number or tensor gets ``lo = 0``."""
    if isinstance(x, tuple):
        return x
    return x, (torch.zeros_like(x) if isinstance(x, torch.Tensor) else 0.0)


def value(x: DD) -> Number:
    """The float64 value ``hi + lo``."""
    return x[0] + x[1]


def two_sum(a: Number, b: Number) -> DD:
    """``(s, e)`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a: Number, b: Number) -> DD:
    """``two_sum`` for ``|a| ≥ |b|`` (Dekker)."""
    s = a + b
    return s, b - (s - a)


def _split(a: Number) -> DD:
    c = _SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def split(a: Number) -> DD:
    """Veltkamp's splitting ``a = high + low`` into two halves of 26 bits (their products are exact)."""
    return _split(a)


def two_prod(a: Number, b: Number, b_split: DD | None = None) -> DD:
    """``(p, e)`` with ``p = fl(a b)`` and ``p + e = a b`` exactly (Dekker, by Veltkamp's splitting; ``b_split`` is
    ``split(b)`` where it was computed once for many products, as for fixed quadrature nodes)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b) if b_split is None else b_split
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def add(x, y) -> DD:
    """``x + y``."""
    (xh, xl), (yh, yl) = of(x), of(y)
    s, e = two_sum(xh, yh)
    return _fast_two_sum(s, e + (xl + yl))


def neg(x) -> DD:
    """``−x``."""
    xh, xl = of(x)
    return -xh, -xl


def sub(x, y) -> DD:
    """``x − y``."""
    return add(x, neg(y))


def mul(x, y, y_split: DD | None = None) -> DD:
    """``x · y`` (``y_split``: ``split`` of ``y``'s high part, computed once)."""
    (xh, xl), (yh, yl) = of(x), of(y)
    p, e = two_prod(xh, yh, y_split)
    return _fast_two_sum(p, e + (xh * yl + xl * yh))


def div(x, y) -> DD:
    """``x / y``: the float64 quotient and one correction from the exact remainder."""
    (xh, xl), (yh, yl) = of(x), of(y)
    q = xh / yh
    p, e = two_prod(q, yh)
    remainder = ((xh - p) - e + xl) - q * yl
    return _fast_two_sum(q, remainder / yh)


def sqrt(x) -> DD:
    """``√x`` for ``x ≥ 0``: the float64 root and one Newton correction from the exact residual."""
    xh, xl = of(x)
    r = torch.sqrt(torch.as_tensor(xh)) if not isinstance(xh, float) else xh ** 0.5
    p, e = two_prod(r, r)
    correction = ((xh - p) - e + xl) / (2 * r)
    if isinstance(correction, torch.Tensor):
        correction = torch.where(r > 0, correction, torch.zeros_like(correction))
    elif r == 0:
        correction = 0.0
    return _fast_two_sum(r, correction)


def pow(x, n: int) -> DD:
    """``x^n`` for an integer ``n`` (binary powering; ``1/x^{|n|}`` for ``n < 0``)."""
    if n < 0:
        return div(1.0, pow(x, -n))
    result, base = None, of(x)
    while n:
        if n & 1:
            result = base if result is None else mul(result, base)
        n >>= 1
        if n:
            base = mul(base, base)
    if result is None:  # x^0 = 1, shaped like x
        hi = of(x)[0]
        return of(torch.ones_like(hi) if isinstance(hi, torch.Tensor) else 1.0)
    return result
