"""Numerically stable special functions that the project's torch printer maps SymPy functions to.

Each is exact to float64 round-off over the whole real line and has finite gradients wherever the true
derivative is finite (the branch not taken by a ``torch.where`` gets a guarded, harmless input, so no NaN
gradient leaks from it).
"""
from __future__ import annotations

import torch

__all__ = ["exprel", "log1prel", "ndtr", "log1p_exp", "sin_minus_x_cos", "log_sinc", "log_asinc", "erf_angle_gap", "erf_norm_gap", "relu_kernel", "gram2", "arccos_kernel", "geometric_sum", "affine_iterate"]

import math
from fractions import Fraction

_EXPREL_SERIES = 1e-4


def exprel(z: torch.Tensor) -> torch.Tensor:
    r"""``exprel(z) = (e^z - 1)/z``, with ``exprel(0) = 1``.

    For ``|z| < 1e-4`` the Taylor series ``1 + z/2 + z^2/6 + z^3/24 + z^4/120`` (truncation error below
    ``z^5/720 < 2e-23``); elsewhere ``expm1(z)/z``, which is relative-accurate because ``expm1`` is.
    """
    small = z.abs() < _EXPREL_SERIES
    zs = torch.where(small, z, torch.zeros_like(z))
    series = 1 + zs * (0.5 + zs * (1.0 / 6 + zs * (1.0 / 24 + zs * (1.0 / 120))))
    zl = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, series, torch.expm1(zl) / zl)


def log1prel(z: torch.Tensor) -> torch.Tensor:
    r"""``log1prel(z) = log1p(z)/z`` for ``z > −1``, with ``log1prel(0) = 1``.

    For ``|z| < 1e-4`` the Taylor series ``1 − z/2 + z²/3 − z³/4 + z⁴/5`` (truncation error below ``z⁵/6 < 2e-21``);
    elsewhere ``log1p(z)/z``, relative-accurate because ``log1p`` is."""
    small = z.abs() < _EXPREL_SERIES
    zs = torch.where(small, z, torch.zeros_like(z))
    series = 1 + zs * (-0.5 + zs * (1.0 / 3 + zs * (-0.25 + zs * 0.2)))
    zl = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, series, torch.log1p(zl) / zl)


_SQRT_HALF = 0.7071067811865476


def ndtr(z: torch.Tensor) -> torch.Tensor:
    r"""Standard normal CDF ``Φ(z) = ½ erfc(−z/√2)``, relative-accurate in both tails.

    Not ``torch.special.ndtr``: in torch 2.13 (CPU, float64) it returns 0 for ``z ≤ −10`` (the true value is
    7.6e-24 there) and is off by 4e-11 relative at ``z = −5``. ``erfc`` is accurate; the rounding of
    ``z/√2`` costs at most ``z²·1e-16`` relative (1.4e-13 at ``z = −37``, where ``Φ`` is 6e-300)."""
    return 0.5 * torch.special.erfc(-_SQRT_HALF * z)


def log1p_exp(z: torch.Tensor) -> torch.Tensor:
    r"""``ln(1 + e^z)`` (softplus) without overflow."""
    return torch.nn.functional.softplus(z)


# g(x) = sin x − x cos x = Σ_{k≥1} (−1)^{k+1} 2k x^{2k+1}/(2k+1)!  (≈ x³/3): the series below x = 1, where the
# direct form loses 1/x² of its digits; 10 terms leave a truncation error below 4e-19 of g at x = 1.
_G_COEFFS = tuple((-1) ** (k + 1) * 2 * k / math.factorial(2 * k + 1) for k in range(1, 11))


def sin_minus_x_cos(x: torch.Tensor) -> torch.Tensor:
    r"""``g(x) = sin x − x cos x`` for ``x ≥ 0``, relative-accurate near 0 (where it is ``x³/3``)."""
    small = x < 1.0
    xs = torch.where(small, x, torch.zeros_like(x))
    x2 = xs * xs
    acc = torch.full_like(xs, _G_COEFFS[-1])
    for c in reversed(_G_COEFFS[:-1]):
        acc = acc * x2 + c
    series = xs * x2 * acc
    return torch.where(small, series, torch.sin(x) - x * torch.cos(x))


def _bernoulli(count: int) -> list[Fraction]:
    """``B_0 … B_{count−1}`` (``B_1 = −1/2``), exactly."""
    b: list[Fraction] = []
    for m in range(count):
        b.append(Fraction(1) if m == 0 else -sum(math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1))
    return b


# ln(sin u/u) = Σ_{n≥1} (−1)^n 2^{2n−1} B_{2n} u^{2n} / (n (2n)!)  (≈ −u²/6): successive terms shrink by about
# (u/π)², so 16 terms leave a truncation error below 1e-17 of the value for |u| < 1, where the direct form
# keeps only ε of absolute (not relative) accuracy
_B = _bernoulli(34)
_LOG_SINC_COEFFS = tuple(float((-1) ** n * 2 ** (2 * n - 1) * _B[2 * n] / (n * math.factorial(2 * n))) for n in range(1, 17))


def _log_series(a: list[Fraction]) -> list[Fraction]:
    """Coefficients of ``ln A(w)`` for a power series ``A`` with ``A(0) = 1``: ``n b_n = n a_n − Σ_{k<n} k b_k a_{n−k}``."""
    b = [Fraction(0)] * len(a)
    for n in range(1, len(a)):
        b[n] = a[n] - sum(k * b[k] * a[n - k] for k in range(1, n)) / n
    return b


# ln(arcsin z/z) in w = z²: arcsin z/z = Σ C(2n, n) w^n / (4^n (2n + 1)); the logarithm's coefficients shrink
# about like w^n, so 32 terms leave a truncation error below 1e-18 of the value for |z| < 0.5
_LOG_ASINC_COEFFS = tuple(float(c) for c in _log_series(
    [Fraction(math.comb(2 * n, n), 4**n * (2 * n + 1)) for n in range(33)])[1:])


def _even_series(x2: torch.Tensor, coeffs: tuple[float, ...], ratio: float) -> torch.Tensor:
    """``Σ_n coeffs[n−1] x^{2n}`` by Horner's rule in ``x²``, with as many terms as the largest ``x²`` needs: the
    terms shrink at least by ``ratio·x²`` each, so ``N`` terms leave a truncation below ``(ratio x²)^N/(1 − ratio x²)``
    of the first, kept under 1e-18 (all terms under ``torch.compile``, which cannot read the maximum)."""
    count = len(coeffs)
    if not torch.compiler.is_compiling() and x2.numel():
        r = float(x2.detach().max()) * ratio  # sizes the series: not part of the graph
        if r <= 0:
            count = 1
        elif r < 1:
            count = min(count, max(1, math.ceil(math.log(1e-18 * (1 - r)) / math.log(r))))
    acc = torch.full_like(x2, coeffs[count - 1])
    for c in reversed(coeffs[:count - 1]):
        acc = acc * x2 + c
    return acc * x2


def _series_or_direct(small: torch.Tensor, series, direct) -> torch.Tensor:
    """``torch.where(small, series(), direct())``, evaluating only the side in use when all of ``small`` agree
    (the kernels' gaps are usually all small or all large)."""
    if not torch.compiler.is_compiling():
        if bool(small.all()):
            return series()
        if not bool(small.any()):
            return direct()
    return torch.where(small, series(), direct())


def log_sinc(u: torch.Tensor) -> torch.Tensor:
    r"""``ln(sin u / u)`` for ``|u| < π`` (``0`` at ``u = 0``), relative-accurate near 0 (where it is ``−u²/6``)."""
    small = u.abs() < 1.0
    us = torch.where(small, u, torch.zeros_like(u))
    ud = torch.where(small, torch.ones_like(u), u)   # the direct branch never sees 0 (no NaN gradient leaks)
    return _series_or_direct(small, lambda: _even_series(us * us, _LOG_SINC_COEFFS, 1 / math.pi**2),
                             lambda: torch.log(torch.sin(ud) / ud))


def log_asinc(z: torch.Tensor) -> torch.Tensor:
    r"""``ln(arcsin z / z)`` for ``|z| ≤ 1`` (``0`` at ``z = 0``), relative-accurate near 0 (where it is ``z²/6``)."""
    small = z.abs() < 0.5
    zs = torch.where(small, z, torch.zeros_like(z))
    zd = torch.where(small, torch.full_like(z, 0.5), z)
    return _series_or_direct(small, lambda: _even_series(zs * zs, _LOG_ASINC_COEFFS, 1.0),
                             lambda: torch.log(torch.asin(zd) / zd))


def erf_angle_gap(q1: torch.Tensor, q2: torch.Tensor, c: torch.Tensor, det: torch.Tensor) -> torch.Tensor:
    r"""``Δ = A_g − |A_12|`` of the erf kernel map (angles of the arcsine kernel at ``c = √(q1 q2)`` and at ``c``)
    from the carried ``det = q1 q2 − c² ≥ 0``: with the sines ``g = 2√(q1 q2/n)``, ``s = 2|c|/√n``,
    ``n = (1 + 2q1)(1 + 2q2)``, ``Δ = atan2((g² − s²)/(g√(1 − s²) + s√(1 − g²)), √(1 − g²)√(1 − s²) + g s)`` and
    ``g² − s² = 4 det/n``, ``1 − g² = (1 + 2q1 + 2q2)/n``, ``1 − s² = (1 + 2q1 + 2q2 + 4 det)/n``: no cancellation,
    every factor O(1) (no overflow for variances up to 1e150)."""
    n1, n2 = 1 + 2 * q1, 1 + 2 * q2
    g = 2 * torch.sqrt(q1 / n1) * torch.sqrt(q2 / n2)
    s = 2 * c.abs() / (torch.sqrt(n1) * torch.sqrt(n2))
    p = 1 / n2 + (2 * q2 / n2) / n1                    # (1 + 2q1 + 2q2)/n
    d = 4 * (det / n1) / n2                            # 4 det/n = g² − s²
    cg, cs = torch.sqrt(p), torch.sqrt(p + d)
    return torch.atan2(d / (g * cs + s * cg), cg * cs + g * s)


def erf_norm_gap(q1: torch.Tensor, q2: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
    r"""``D = A_11 − A_22`` of the erf kernel map, ``A_ii = arcsin(a_i)``, ``a_i = 2q_i/(1 + 2q_i)``, from the carried
    ``diff = q1 − q2``: ``a1 − a2 = 2 diff/((1 + 2q1)(1 + 2q2))``, ``sin D = (a1 − a2)(a1 + a2)/(a1 cos A_22 +
    a2 cos A_11)``, ``cos D = cos A_11 cos A_22 + a1 a2`` with ``cos A_ii = √(1 + 4q_i)/(1 + 2q_i)``."""
    n1, n2 = 1 + 2 * q1, 1 + 2 * q2
    a1, a2 = 2 * q1 / n1, 2 * q2 / n2
    c1, c2 = torch.sqrt(1 + 4 * q1) / n1, torch.sqrt(1 + 4 * q2) / n2
    return torch.atan2(2 * (diff / n1) / n2 * (a1 + a2) / (a1 * c2 + a2 * c1), c1 * c2 + a1 * a2)


class _ReluKernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c):
        s = torch.sqrt((1 - c) * (1 + c))          # √(1 − c²) without cancellation near ±1
        delta = torch.atan2(s, -c)                   # π − arccos c, accurate when small (c → −1)
        ctx.save_for_backward(c)
        return torch.where(delta < 1.0, sin_minus_x_cos(delta), s + c * delta) / math.pi

    @staticmethod
    def backward(ctx, grad):
        (c,) = ctx.saved_tensors
        delta = torch.atan2(torch.sqrt(((1 - c) * (1 + c)).clamp(min=0)), -c)
        return grad * delta / math.pi               # dκ/dc = (π − arccos c)/π, finite on [−1, 1]


def relu_kernel(c: torch.Tensor) -> torch.Tensor:
    r"""``κ(c) = (√(1 − c²) + c (π − arccos c))/π`` on ``[−1, 1]``, relative-accurate everywhere.

    With ``δ = π − arccos c = atan2(√((1−c)(1+c)), −c)``: ``κ = (sin δ − δ cos δ)/π`` for ``δ < 1``
    (near ``c = −1``, where ``κ ≈ δ³/(3π)`` and the textbook form cancels), else ``(√(1−c²) + c δ)/π``.
    The gradient ``δ/π`` is computed directly (finite at ``c = ±1``, where autograd through the square root
    would give ``inf − inf``)."""
    return _ReluKernel.apply(c)


_SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's splitter for float64


def _two_product(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``a b = p + e`` exactly (Dekker): ``p`` the rounded product, ``e`` its rounding error."""
    p = a * b
    ca, cb = _SPLIT * a, _SPLIT * b
    a_hi = ca - (ca - a)
    a_lo = a - a_hi
    b_hi = cb - (cb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def gram2(q1: torch.Tensor, q2: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    r"""``q1 q2 − c²`` without cancellation: both products split exactly into value and rounding error
    (Dekker), so the difference is correct to round-off of the result itself, also when ``c² ≈ q1 q2``
    (nearly identical or opposite inputs), where the naive form keeps only ``1e-16 q1 q2`` of absolute
    accuracy. (Valid while the products neither overflow nor underflow; gradients are the plain ones,
    ``(q2, q1, −2c)``.)"""
    q1, q2, c = torch.broadcast_tensors(q1, q2, c)
    with torch.no_grad():
        p, e = _two_product(q1, q2)
        s, f = _two_product(c, c)
        exact = (p - s) + (e - f)
    naive = q1 * q2 - c * c
    return naive + (exact - naive).detach()


class _ArcCosKernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c, det):
        s = torch.sqrt(det.clamp(min=0))
        phi = torch.atan2(s, -c)                               # π − θ, accurate when small (c → −√(q1 q2))
        big = torch.sqrt(det.clamp(min=0) + c * c)             # √(q1 q2)
        small = phi < 1.0
        out = torch.where(small, big * sin_minus_x_cos(torch.where(small, phi, torch.zeros_like(phi))), s + c * phi)
        ctx.save_for_backward(c, det, phi, s, big)
        return out / (2 * math.pi)

    @staticmethod
    def backward(ctx, grad):
        c, det, phi, s, big = ctx.saved_tensors
        p = big * big
        ratio = torch.where(p > 0, s / torch.where(p > 0, p, torch.ones_like(p)), torch.zeros_like(p))
        return grad * (phi + c * ratio) / (2 * math.pi), grad * ratio / (4 * math.pi)


def arccos_kernel(c: torch.Tensor, det: torch.Tensor) -> torch.Tensor:
    r"""The ReLU kernel map ``E[φ(u_a) φ(u_b)] = (√det + (π − θ) c)/(2π)``, ``θ = atan2(√det, c)``, from the
    covariance ``c`` and the determinant ``det = q1 q2 − c²`` (carried exactly, see :func:`gram2`).

    With ``δ = π − θ``: ``√(q1 q2) (sin δ − δ cos δ)/(2π)`` for ``δ < 1`` (nearly opposite inputs, where the
    textbook form cancels to ``≈ δ³``), else ``(√det + c δ)/(2π)``. Gradients are computed directly, finite
    also at ``det = 0`` (identical inputs), where autograd through ``√det`` would give ``inf · 0``:
    ``∂/∂c = (δ + c √det/(q1 q2))/(2π)``, ``∂/∂det = √det/(4π q1 q2)``."""
    c, det = torch.broadcast_tensors(c, det)
    return _ArcCosKernel.apply(c, det)


_GEOM_SERIES = 1e-4


def geometric_sum(a: torch.Tensor, n: int) -> torch.Tensor:
    r"""``Σ_{k<n} a^k = (a^n − 1)/(a − 1)`` for ``a > 0`` and an integer ``n ≥ 0``, including ``a = 1`` (``n``).

    With ``x = a − 1``: ``expm1(n log1p x)/x``, relative-accurate for any ``x`` not tiny; where
    ``|n x| < 1e-4`` the series ``n + C(n,2) x + C(n,3) x² + C(n,4) x³`` (truncation below ``(n x)^4/120``)."""
    x = a - 1
    small = (x * n).abs() < _GEOM_SERIES
    xs = torch.where(small, x, torch.zeros_like(x))
    c2, c3, c4 = n * (n - 1) / 2, n * (n - 1) * (n - 2) / 6, n * (n - 1) * (n - 2) * (n - 3) / 24
    series = n + xs * (c2 + xs * (c3 + xs * c4))
    xl = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, series, torch.expm1(n * torch.log1p(xl)) / xl)


def affine_iterate(a: torch.Tensor, b: torch.Tensor, q: torch.Tensor, n: int) -> torch.Tensor:
    r"""``n`` steps of the affine map ``q ↦ a q + b`` from ``q``: ``a^n q + b (a^n − 1)/(a − 1)``, for ``a > 0`` and
    ``b, q ≥ 0``.

    Where ``a^n`` overflows float64 but the result need not (``q`` or ``b`` tiny), the terms are formed in
    logarithms, ``exp(n ln a + ln q) + exp(n ln a + ln b − ln(a − 1))`` (``a^n − 1 = a^n`` in float64 there);
    the rounding of ``n ln a`` costs at most ``|n ln a|·1e-16`` (7e-14 at the edge of overflow)."""
    power = torch.pow(a, n)
    over = ~torch.isfinite(power) | ~torch.isfinite(geometric_sum(a, n))
    one = torch.ones_like(a)
    a_safe = torch.where(over, one, a)
    direct = q * torch.pow(a_safe, n) + b * geometric_sum(a_safe, n)
    a_big = torch.where(over, a, 2 * one)
    lg = n * torch.log(a_big)
    q_pos, b_pos = q > 0, b > 0
    t1 = torch.where(q_pos, torch.exp(lg + torch.log(torch.where(q_pos, q, one))), torch.zeros_like(q))
    t2 = torch.where(b_pos, torch.exp(lg + torch.log(torch.where(b_pos, b, one)) - torch.log(a_big - 1)), torch.zeros_like(b))
    return torch.where(over, t1 + t2, direct)
