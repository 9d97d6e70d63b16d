"""Double-double arithmetic (``learndyn.numerics.double_double``) and the decay ``(1 − lr λ)^k`` built on it, against
mpmath at 50 digits.

Tolerances: a double-double operation is exact to a few ``u² ≈ 1.2e-32`` relative (``add`` relative to ``|x| + |y|``,
where cancellation is exact); ``1e-30`` leaves a factor ~80. The decay is checked to ``1e-14`` relative where
``k·|ln|1 − x|| ≤ 700``: its float64 steps (``log``, ``exp`` of ``k·log``) cost ``(k|ln|1 − x|| + 2) u``.
"""
from __future__ import annotations

import mpmath as mp
import pytest
import torch

from learndyn.numerics import double_double as dd
from learndyn.numerics.spectral_density import pow_decay, pow_decay_gap

U2 = 1e-30


def _values(seed: int, n: int = 200, positive: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mant = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
    expo = torch.randint(-30, 30, (n,), generator=g).to(torch.float64)
    sign = torch.ones(n, dtype=torch.float64) if positive else torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    hi = sign * mant * 2.0 ** expo
    lo = hi * (torch.rand(n, generator=g, dtype=torch.float64) - 0.5) * 2.0 ** -53
    return hi, lo


@pytest.fixture(autouse=True)
def fifty_digits():
    with mp.workdps(50):
        yield


def _mp(x, i) -> mp.mpf:
    return mp.mpf(float(x[0][i])) + mp.mpf(float(x[1][i]))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_operations_match_mpmath(op) -> None:
    x, y = _values(1), _values(2)
    got = getattr(dd, op)(x, y)
    for i in range(x[0].numel()):
        a, b = _mp(x, i), _mp(y, i)
        want = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]
        scale = abs(a) + abs(b) if op in ("add", "sub") else abs(want)
        assert abs(_mp(got, i) - want) <= U2 * scale, (op, i, a, b)


def test_sqrt_and_powers_match_mpmath() -> None:
    x = _values(3, positive=True)
    root = dd.sqrt(x)
    for n in (-2, -1, 0, 1, 2, 3, 4, 7):
        power = dd.pow(x, n)
        for i in range(x[0].numel()):
            a = _mp(x, i)
            assert abs(_mp(power, i) - a ** n) <= 4 * U2 * abs(a ** n), (n, i)
    for i in range(x[0].numel()):
        a = _mp(x, i)
        assert abs(_mp(root, i) - mp.sqrt(a)) <= U2 * mp.sqrt(a), i
    zero = dd.sqrt(torch.zeros(1, dtype=torch.float64))
    assert float(zero[0]) == 0.0 and float(zero[1]) == 0.0


def test_two_product_and_two_sum_are_exact() -> None:
    (a, _), (b, _) = _values(4), _values(5)
    p, e = dd.two_prod(a, b)
    s, f = dd.two_sum(a, b)
    for i in range(a.numel()):
        x, y = mp.mpf(float(a[i])), mp.mpf(float(b[i]))
        assert mp.mpf(float(p[i])) + mp.mpf(float(e[i])) == x * y
        assert mp.mpf(float(s[i])) + mp.mpf(float(f[i])) == x + y


# -- the decay -----------------------------------------------------------------------------------------------------

def _decay_ref(lr, lam_hi, lam_lo, k):
    x = mp.mpf(float(lr)) * (mp.mpf(float(lam_hi)) + mp.mpf(float(lam_lo)))
    return (1 - x) ** k


CASES = [  # (lr, λ, k): near the stability limit lr λ → 2 (base → −1), at lr λ = 1, small lr λ, k = 0
    (1.9999, 0.99999999, 7000), (1.87, 1.0654, 1110), (0.999 * 2 / 1.0654, 1.0654, 100000), (1.0, 1.0, 5),
    (0.5, 1.0, 3), (1e-9, 0.3, 10 ** 8), (0.3, 1e-12, 4), (1.5, 1.2, 0), (1.999999, 1.0, 1), (1.999999, 1.0, 2),
]


@pytest.mark.parametrize("lr, lam, k", CASES)
def test_decay_in_double_double_matches_mpmath(lr, lam, k) -> None:
    lam_hi = torch.tensor([lam], dtype=torch.float64)
    lam_lo = lam_hi * 2.0 ** -60  # a node's low part
    lr_t = torch.tensor(lr, dtype=torch.float64)
    want = _decay_ref(lr, lam_hi, lam_lo, k)
    got = float(pow_decay((lr_t, lam_hi, lam_lo), k))
    gap = float(pow_decay_gap((lr_t, lam_hi, lam_lo), k))
    tol = 1e-14 * max(1.0, float(abs(k * mp.log(abs(1 - mp.mpf(lr) * mp.mpf(lam))))) if lr * lam != 1 else 1.0)
    assert abs(got - want) <= tol * abs(want) + 1e-300, (got, want)
    assert abs(gap - (want - 1)) <= tol * abs(want - 1) + 1e-300, (gap, want - 1)


def test_decay_gradient_is_finite_and_right() -> None:
    """``∂/∂lr (1 − lr λ)^k = −kλ(1 − lr λ)^{k−1}``, through the double-double path, near the stability limit."""
    lam = torch.tensor([1.0654], dtype=torch.float64)
    for lr0, k in ((1.87, 1110), (0.3, 5), (1.0 / 1.0654, 3)):
        lr = torch.tensor(lr0, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(pow_decay((lr, lam, torch.zeros_like(lam)), k).sum(), lr)
        x = mp.mpf(lr0) * mp.mpf(float(lam))
        want = -k * mp.mpf(float(lam)) * (1 - x) ** (k - 1)
        assert torch.isfinite(grad)
        assert abs(float(grad) - want) <= 1e-12 * abs(want) + 1e-300, (lr0, k, float(grad), want)
