r"""``learndyn.numerics.spectral`` against mpmath at 50 digits.

Functions under test: ``F(Θ; s) v`` for ``exp: F = exp(−sΘ)`` and ``phi1: F = Θ⁻¹(I − exp(−sΘ))``, their gradients
in ``(Θ, s, v)``, ``κ(Θ) = λ_max/λ_min`` and ``psd_solve: Θ⁻¹ r``.

References (independent of the code under test): the stored float64 matrix taken exactly, eigendecomposed by
``mpmath.eigsy`` at 50 digits, ``f(λ) = e^{−sλ}``, ``−expm1(−sλ)/λ`` (``s`` at ``λ = 0``); cross-checked once against
``mpmath.expm`` (``exp(−sΘ)`` and the block form ``exp([[−sΘ, sI], [0, 0]])_{12} = Θ⁻¹(I − e^{−sΘ})``). Gradients
against a 60-digit central finite difference of the analytic (unclamped) ``F`` with step ``1e-28``; divided
differences against the direct quotient at 400 digits; ``psd_solve`` against ``mpmath.lu_solve`` at 50 digits.

Tolerances (normwise, ``C = TOL_C = 16``, ``eps`` of float64, ``n`` the size, ``‖·‖`` spectral/Frobenius):

* values: ``eigh`` is backward stable — the computed ``V, Λ`` are exact for ``Θ + ΔΘ``, ``‖ΔΘ‖ ≲ n eps ‖Θ‖`` —
  and the product ``V (f ∘ Vᵀ v)`` adds ``n eps ‖F‖ ‖v‖``. By Daleckii–Krein
  ``‖F(Θ + ΔΘ) − F(Θ)‖_F ≤ max|f[λ_i, λ_j]| ‖ΔΘ‖_F ≤ max_{[λ_min, λ_max]}|f'| ‖ΔΘ‖``, so

      ‖err‖_F ≤ C n eps ‖v‖_F (‖F(Θ)‖_2 + ‖Θ‖_2 max|f'|) + n·tiny·‖v‖_F   (underflow floor),

  with ``max|f'| = |f'(λ_min)|`` (``s e^{−sλ}`` for exp, ``s² ∫_0^1 t e^{−sλt} dt`` for phi1, both decreasing).
  For moderate ``s‖Θ‖`` this is ``C n eps ‖F‖ ‖v‖``; for phi1 at large ``s`` on a definite ``Θ`` it is the
  ``n eps κ(Θ) ‖Θ⁻¹‖ ‖v‖`` of a backward-stable solve; at a zero eigenvalue and ``s‖Θ‖ = 1e12`` it is
  ``n eps s‖Θ‖`` relative — genuinely the conditioning: an eigenvalue known to ``eps‖Θ‖`` moves ``e^{−sλ}`` by ``s eps ‖Θ‖``.
* gradients: the same backward-error argument one derivative up (second divided differences ``≤ max|f''|/2``):
  ``C n eps ‖w‖ (‖v‖ ‖E‖_F (max|f'| + ‖Θ‖ max|f''|) + ‖v‖ |σ| (max|∂_s f| + ‖Θ‖ max|∂_s f'|) + ‖u‖ (‖F‖ + ‖Θ‖ max|f'|))``
  for the directional derivative along ``(E, σ, u)`` of ``L = Σ w ∘ F(Θ; s) v``.
* ``κ`` and ``Θ⁻¹ r``: ``C n eps κ`` relative (an eigenvalue / the solution of a backward-stable solve).
"""
from __future__ import annotations

import math

import mpmath as mp
import pytest
import torch

from learndyn.numerics.spectral import _divided_differences, condition_number, psd_solve, spectral_apply

F64 = torch.float64
EPS = torch.finfo(F64).eps
TINY = torch.finfo(F64).tiny
TOL_C = 16
DPS = 50
S_SCALED = (0.0, 1e-8, 1.0, 1e3, 1e12)   # s‖Θ‖_2


# ---------------------------------------------------------------------------------------------------------------
# test matrices (seeded)


def _orthogonal(n, gen):
    q, r = torch.linalg.qr(torch.randn(n, n, dtype=F64, generator=gen))
    return q * torch.sign(torch.diagonal(r))


def _from_spectrum(lam, gen):
    q = _orthogonal(len(lam), gen)
    theta = (q * torch.as_tensor(lam, dtype=F64)) @ q.T
    return (theta + theta.T) / 2


def _cases():
    gen = torch.Generator().manual_seed(20240611)
    out = []
    for n in (3, 5, 8):
        lam = 10.0 ** torch.empty(n, dtype=F64).uniform_(0, 1, generator=gen)
        out.append((f"well-n{n}", _from_spectrum(lam, gen)))
    out.append(("well-scaled-1e-3", 1e-3 * _from_spectrum(torch.linspace(1, 4, 4, dtype=F64), gen)))
    for n in (4, 7):
        out.append((f"ill-1e8-n{n}", _from_spectrum(torch.logspace(0, -8, n, dtype=F64), gen)))
    for n, r in ((4, 2), (6, 3)):
        x = torch.randn(n, r, dtype=F64, generator=gen)
        out.append((f"singular-gram-n{n}r{r}", x @ x.T))                     # rank r < n, λ = 0 up to round-off
    out.append(("singular-exact-ones-n5", torch.ones(5, 5, dtype=F64)))     # 11ᵀ: λ = 0 exactly (4-fold)
    for n in (3, 6):
        out.append((f"near-equal-n{n}", torch.ones(n, n, dtype=F64) + 1e-12 * torch.eye(n, dtype=F64)))
    pert = torch.randn(5, 5, dtype=F64, generator=gen)
    out.append(("near-equal-perturbed-n5",
                2.0 * torch.ones(5, 5, dtype=F64) + 1e-12 * torch.eye(5, dtype=F64) + 1e-14 * (pert + pert.T)))
    return out


CASES = _cases()


def _vec(n, k, seed):
    return torch.randn(n, k, dtype=F64, generator=torch.Generator().manual_seed(seed))


def _s_grid(theta):
    norm = float(torch.linalg.matrix_norm(theta, ord=2))
    return torch.tensor([c / norm for c in S_SCALED], dtype=F64)


# ---------------------------------------------------------------------------------------------------------------
# mpmath references


def _mp_matrix(t):
    n, m = t.shape
    out = mp.matrix(n, m)
    for i in range(n):
        for j in range(m):
            out[i, j] = mp.mpf(float(t[i, j]))
    return out


def _mp_f(lam, s, function, clamp=True):
    """f(λ; s) at the working precision; λ clamped at 0 (the documented semantics) unless ``clamp=False``
    (the entire extension, for finite differences)."""
    if clamp and lam < 0:
        lam = mp.mpf(0)
    if function == "exp":
        return mp.exp(-s * lam)
    return s if lam == 0 else -mp.expm1(-s * lam) / lam


def _mp_apply(theta_mp, s, v_mp, function, clamp=True):
    """F(Θ; s) v via mpmath.eigsy: V (f(λ) ∘ Vᵀ v)."""
    lam, q = mp.eigsy(theta_mp)
    n = theta_mp.rows
    proj = q.T * v_mp
    for j in range(n):
        fj = _mp_f(lam[j], s, function, clamp)
        for c in range(proj.cols):
            proj[j, c] *= fj
    return q * proj, [lam[j] for j in range(n)]


def _j(k, x):
    """∫_0^1 t^k e^{−xt} dt for x ≥ 0 (k = 1, 2), by the closed form or, for tiny x, its series."""
    if x < mp.mpf("1e-5"):
        return [None, mp.mpf(1) / 2 - x / 3 + x * x / 8, mp.mpf(1) / 3 - x / 4 + x * x / 10][k]
    if k == 1:
        return (1 - mp.exp(-x) * (1 + x)) / x**2
    return (2 - mp.exp(-x) * (x * x + 2 * x + 2)) / x**3


def _bounds(lams, s, function):
    """max over the spectrum of |f|, |f'|, |f''|, |∂_s f|, |∂_s f'| (upper bounds; λ_min clamped at 0)."""
    lo, hi = max(min(lams), mp.mpf(0)), max(max(lams), mp.mpf(0))
    e = mp.exp(-s * lo)
    if function == "exp":
        return dict(f=e, f1=s * e, f2=s * s * e, fs=hi * e, fs1=(1 + s * hi) * e)
    x = s * lo
    return dict(f=s * (1 if x == 0 else -mp.expm1(-x) / x), f1=s * s * _j(1, x), f2=s**3 * _j(2, x), fs=e, fs1=s * e)


def _fro(m):
    return mp.sqrt(mp.fsum(m[i, j] ** 2 for i in range(m.rows) for j in range(m.cols)))


def _value_errors(theta, s_vals, v, function):
    """[(abs error ‖out − ref‖_F, tolerance unit n eps ‖v‖(‖F‖ + ‖Θ‖ max|f'|) + n tiny ‖v‖, ‖F‖ ‖v‖)] per s."""
    n = theta.shape[0]
    out = spectral_apply(theta, s_vals, v, function)
    rows = []
    with mp.workdps(DPS):
        th, vm = _mp_matrix(theta), _mp_matrix(v)
        vnorm = _fro(vm)
        for i, s in enumerate(s_vals.tolist()):
            ref, lams = _mp_apply(th, mp.mpf(s), vm, function)
            err = _fro(_mp_matrix(out[i]) - ref)
            b = _bounds(lams, mp.mpf(s), function)
            lam_max = max(max(lams), 0)
            unit = n * EPS * vnorm * (b["f"] + lam_max * b["f1"]) + n * TINY * vnorm
            rows.append((float(err), float(unit), float(b["f"] * vnorm)))
    return rows


# ---------------------------------------------------------------------------------------------------------------
# values


@pytest.mark.parametrize("function", ["exp", "phi1"])
@pytest.mark.parametrize("name,theta", CASES, ids=[c[0] for c in CASES])
def test_values_against_mpmath(name, theta, function):
    n = theta.shape[0]
    v = _vec(n, 2, 7 + n)
    for err, unit, _ in _value_errors(theta, _s_grid(theta), v, function):
        assert err <= TOL_C * unit, (name, function, err, unit, err / unit)


@pytest.mark.parametrize("function", ["exp", "phi1"])
def test_values_identity_and_zero(function):
    """Θ = I: F = f(1) I; Θ = 0: exp → v, phi1 → s v (exactly representable, so to a few ulps)."""
    v = _vec(4, 3, 1)
    s = torch.tensor([0.0, 1e-8, 0.5, 3.0, 1e3, 1e12], dtype=F64)
    out = spectral_apply(torch.eye(4, dtype=F64), s, v, function)
    with mp.workdps(DPS):
        for i, si in enumerate(s.tolist()):
            f = float(_mp_f(mp.mpf(1), mp.mpf(si), function))
            torch.testing.assert_close(out[i], f * v, rtol=4 * EPS, atol=0)
    out0 = spectral_apply(torch.zeros(4, 4, dtype=F64), s, v, function)
    expect = v.expand(len(s), 4, 3) if function == "exp" else s[:, None, None] * v
    torch.testing.assert_close(out0, expect, rtol=0, atol=0)


def test_reference_cross_check_with_expm():
    """The eigsy reference agrees with mpmath.expm (exp(−sΘ) and the block form of phi1) to ~1e-40."""
    theta = CASES[0][1]
    n = theta.shape[0]
    v = _vec(n, 2, 3)
    with mp.workdps(DPS):
        th, vm = _mp_matrix(theta), _mp_matrix(v)
        for s in (mp.mpf("0.37"), mp.mpf(4)):
            ref_exp, _ = _mp_apply(th, s, vm, "exp")
            assert _fro(mp.expm(-s * th) * vm - ref_exp) < mp.mpf("1e-40")
            block = mp.zeros(2 * n, 2 * n)
            for i in range(n):
                block[i, n + i] = s
                for j in range(n):
                    block[i, j] = -s * th[i, j]
            top_right = mp.expm(block)[0:n, n:2 * n]
            ref_phi, _ = _mp_apply(th, s, vm, "phi1")
            assert _fro(top_right * vm - ref_phi) < mp.mpf("1e-40")


def test_shapes_scalar_s_and_vector_v():
    theta, v = CASES[1][1], _vec(5, 2, 4)
    s = torch.tensor([0.2, 1.5], dtype=F64)
    batched = spectral_apply(theta, s, v, "phi1")
    assert batched.shape == (2, 5, 2)
    for i in range(2):
        single = spectral_apply(theta, s[i], v, "phi1")
        assert single.shape == (5, 2)
        torch.testing.assert_close(single, batched[i], rtol=0, atol=0)
    assert spectral_apply(theta, s, v[:, 0], "exp").shape == (2, 5)
    assert spectral_apply(theta, s[0], v[:, 0], "exp").shape == (5,)
    with pytest.raises(ValueError):
        spectral_apply(theta, s, v, "phi2")


def test_no_nan_for_huge_s_and_large_phi1_limit():
    """s up to 1e300: exp → 0 on definite Θ, phi1 → Θ⁻¹ v (the psd_solve limit), never NaN."""
    theta, v = CASES[0][1], _vec(3, 2, 5)
    s = torch.tensor([1e30, 1e100, 1e300], dtype=F64)
    e = spectral_apply(theta, s, v, "exp")
    assert torch.equal(e, torch.zeros_like(e))
    p = spectral_apply(theta, s, v, "phi1")
    limit = psd_solve(theta, v)
    for i in range(3):
        torch.testing.assert_close(p[i], limit, rtol=1e-13, atol=0)
    for name, theta in CASES:
        out = spectral_apply(theta, torch.tensor([1e300], dtype=F64), _vec(theta.shape[0], 1, 2), "phi1")
        assert not torch.isnan(out).any(), name


def test_float32():
    """float32 inputs stay float32 and agree with float64 (same float32 inputs) to ``64 n eps32 ‖F‖ ‖v‖`` for
    ``s‖Θ‖ ≤ 1`` (where the ``s‖Θ‖`` term of the value bound is O(1)); finite values and gradients at
    ``s‖Θ‖ = 1e3, 1e12`` (where float32 underflows ``e^{−sλ}``)."""
    theta, v = CASES[1][1], _vec(5, 2, 6)
    s = _s_grid(theta)
    for function in ("exp", "phi1"):
        th32, v32, s32 = (x.float().requires_grad_() for x in (theta, v, s))
        out = spectral_apply(th32, s32, v32, function)
        assert out.dtype == torch.float32
        ref = spectral_apply(th32.detach().double(), s32.detach().double(), v32.detach().double(), function)
        scale = ref.flatten(1).norm(dim=1)[:, None, None]
        assert ((out.double() - ref).abs() <= 64 * 5 * torch.finfo(torch.float32).eps * scale)[:3].all()
        assert torch.isfinite(out).all()
        out.sum().backward()
        assert all(torch.isfinite(x.grad).all() for x in (th32, v32, s32))


# ---------------------------------------------------------------------------------------------------------------
# divided differences


def _mp_dd(a, b, s, function):
    """f[a, b] (f'(a) at a = b) at 400 digits from the direct quotient."""
    with mp.workdps(400):
        a, b, s = mp.mpf(a), mp.mpf(b), mp.mpf(s)
        if a != b:
            return (_mp_f(a, s, function) - _mp_f(b, s, function)) / (a - b)
        if function == "exp":
            return -s * mp.exp(-s * a)
        return -s * s * _j(1, s * a)


@pytest.mark.parametrize("function", ["exp", "phi1"])
def test_divided_differences_against_mpmath(function):
    """Elementwise relative error ≤ 16 eps (1 + s·max λ): the rounding of s·λ costs s λ eps in e^{−sλ}."""
    lam = torch.tensor([0.0, 1e-300, 1e-12, 1e-12 * (1 + 2 * EPS), 1e-3, 0.25, 0.25 * (1 + EPS), 0.2500001,
                        0.5, 1.0, 1.0 + 1e-9, 2.0, 37.0, 1e3], dtype=F64)
    s = torch.tensor([0.0, 1e-12, 1e-3, 0.5, 1.0, 1.7, 3.0, 40.0, 1e3, 1e6, 1e12, 1e100], dtype=F64)
    dd = _divided_differences(lam, s, function)
    assert torch.isfinite(dd).all()
    worst = 0.0
    for m, sm in enumerate(s.tolist()):
        for i, a in enumerate(lam.tolist()):
            for j, b in enumerate(lam.tolist()):
                ref = _mp_dd(a, b, sm, function)
                got = float(dd[m, i, j])
                if abs(ref) < 1e-290:                  # underflowed in float64 (e^{−sλ} below tiny)
                    assert abs(got) <= 1e-290
                    continue
                rel = abs((got - ref) / ref)
                bound = 16 * EPS * (1 + sm * max(a, b))
                worst = max(worst, float(rel / bound))
                assert rel <= bound, (function, sm, a, b, got, float(ref))
    assert worst <= 1


# ---------------------------------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("function", ["exp", "phi1"])
def test_gradcheck_generic(function):
    gen = torch.Generator().manual_seed(11)
    theta = _from_spectrum(torch.tensor([0.3, 0.7, 1.1, 2.0, 3.5], dtype=F64), gen)
    v = _vec(5, 2, 12)
    for s in (torch.tensor(0.7, dtype=F64), torch.tensor([0.0, 0.3, 2.0], dtype=F64)):
        args = (theta.clone().requires_grad_(), s.clone().requires_grad_(), v.clone().requires_grad_())
        assert torch.autograd.gradcheck(lambda t, a, b: spectral_apply(t, a, b, function), args)


def _directional(theta, s, v, w, e_dir, sigma, u, function):
    """torch: ⟨∂L/∂Θ, E⟩ + σ ∂L/∂s + ⟨∂L/∂v, u⟩ for L = Σ w ∘ F(Θ; s) v."""
    th, sv, vv = (x.clone().requires_grad_() for x in (theta, torch.tensor(s, dtype=F64), v))
    (w * spectral_apply(th, sv, vv, function)).sum().backward()
    for x in (th, sv, vv):
        assert torch.isfinite(x.grad).all()
    assert torch.allclose(th.grad, th.grad.T, rtol=0, atol=0)
    return float((th.grad * e_dir).sum() + sv.grad * sigma + (vv.grad * u).sum()), th.grad


def _mp_directional(theta, s, v, w, e_dir, sigma, u, function):
    """60-digit central difference of the analytic L(Θ + hE, s + hσ, v + hu), h = 1e-28."""
    with mp.workdps(60):
        th, vm, wm, em, um = (_mp_matrix(x) for x in (theta, v, w, e_dir, u))
        h = mp.mpf("1e-28")

        def loss(sign):
            out, _ = _mp_apply(th + sign * h * em, mp.mpf(s) + sign * h * mp.mpf(sigma), vm + sign * h * um,
                               function, clamp=False)
            return mp.fsum(wm[i, j] * out[i, j] for i in range(out.rows) for j in range(out.cols))

        return (loss(1) - loss(-1)) / (2 * h)


def _grad_tolerance(theta, s, v, w, e_dir, sigma, u, function):
    n = theta.shape[0]
    with mp.workdps(DPS):
        lams, _ = mp.eigsy(_mp_matrix(theta))
        lams = [lams[j] for j in range(n)]
        b = _bounds(lams, mp.mpf(s), function)
        norm = max(max(lams), 0)
        wn, vn, en, un = (float(x.norm()) for x in (w, v, e_dir, u))
        total = wn * (vn * en * (b["f1"] + norm * b["f2"]) + vn * abs(sigma) * (b["fs"] + norm * b["fs1"])
                      + un * (b["f"] + norm * b["f1"]))
        return float(TOL_C * n * EPS * total) + n * TINY     # + underflow floor


GRAD_CASES = [c for c in CASES if c[0].startswith(("near", "singular", "ill-1e8-n4", "well-n5"))]


@pytest.mark.parametrize("function", ["exp", "phi1"])
@pytest.mark.parametrize("name,theta", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradient_against_mpmath_finite_difference(name, theta, function):
    """Nearly equal / repeated / zero eigenvalues and s‖Θ‖ up to 1e12: finite, symmetric, and the directional
    derivative along a random (E, σ, u) matches the 60-digit finite difference within the stated bound."""
    n = theta.shape[0]
    gen = torch.Generator().manual_seed(99 + n)
    e_dir = torch.randn(n, n, dtype=F64, generator=gen)
    e_dir = (e_dir + e_dir.T) / 2
    v, w, u = _vec(n, 2, 21), _vec(n, 2, 22), _vec(n, 2, 23)
    norm = float(torch.linalg.matrix_norm(theta, ord=2))
    for c in (0.0, 1e-8, 1.0, 1e3, 1e12):
        s = c / norm
        sigma = 0.5 / norm
        got, _ = _directional(theta, s, v, w, e_dir, sigma, u, function)
        ref = _mp_directional(theta, s, v, w, e_dir, sigma, u, function)
        tol = _grad_tolerance(theta, s, v, w, e_dir, sigma, u, function)
        assert abs(got - float(ref)) <= tol, (name, function, c, got, float(ref), tol)


@pytest.mark.parametrize("function", ["exp", "phi1"])
@pytest.mark.parametrize("c", [0.0, 1.0, 2.5])
def test_gradient_at_multiples_of_identity(function, c):
    """Θ = cI (Θ = 0, Θ = I, …): every eigenvalue equal, so F^{[1]} ≡ f'(c) and ∂L/∂Θ = f'(c) sym(w vᵀ) exactly;
    ∂L/∂s = ∂_s f(c) Σ w∘v."""
    n = 4
    v, w = _vec(n, 2, 31), _vec(n, 2, 32)
    for s in (0.0, 1e-8, 0.7, 40.0, 1e12):
        th = (c * torch.eye(n, dtype=F64)).requires_grad_()
        sv = torch.tensor(s, dtype=F64, requires_grad=True)
        (w * spectral_apply(th, sv, v, function)).sum().backward()
        with mp.workdps(DPS):
            fp = float(_mp_dd(c, c, s, function))
            cm, sm = mp.mpf(c), mp.mpf(s)
            fs = float(-cm * mp.exp(-sm * cm) if function == "exp" else mp.exp(-sm * cm))
        expect = fp * (w @ v.T + v @ w.T) / 2
        torch.testing.assert_close(th.grad, expect, rtol=16 * EPS, atol=16 * EPS * expect.abs().max())
        torch.testing.assert_close(sv.grad, torch.tensor(fs * float((w * v).sum()), dtype=F64), rtol=16 * EPS, atol=1e-300)


def test_gradient_finite_for_huge_s():
    """s up to 1e300 on a definite Θ, and s‖Θ‖ = 1e12 on singular ones: all gradients finite."""
    for name, theta in CASES:
        n = theta.shape[0]
        norm = float(torch.linalg.matrix_norm(theta, ord=2))
        definite = not name.startswith("singular")
        grid = [1e30, 1e100, 1e300] if definite else [1e12 / norm]
        for function in ("exp", "phi1"):
            th = theta.clone().requires_grad_()
            s = torch.tensor(grid, dtype=F64, requires_grad=True)
            v = _vec(n, 2, 41).requires_grad_()
            spectral_apply(th, s, v, function).sum().backward()
            for x in (th, s, v):
                assert torch.isfinite(x.grad).all(), (name, function)


def test_gradient_batched_s_equals_sum_of_single():
    theta, v, w = CASES[2][1], _vec(8, 2, 51), _vec(8, 2, 52)
    s = torch.tensor([0.0, 0.1, 3.0], dtype=F64)
    th = theta.clone().requires_grad_()
    (w * spectral_apply(th, s, v, "phi1")).sum().backward()
    total = torch.zeros_like(theta)
    for si in s:
        t1 = theta.clone().requires_grad_()
        (w * spectral_apply(t1, si, v, "phi1")).sum().backward()
        total += t1.grad
    torch.testing.assert_close(th.grad, total, rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------------------------------------------------------
# condition number and psd_solve


def _mp_kappa(theta):
    with mp.workdps(DPS):
        lams, _ = mp.eigsy(_mp_matrix(theta))
        lams = sorted(lams[j] for j in range(theta.shape[0]))
        return lams[-1] / lams[0] if lams[0] > 0 else mp.inf


@pytest.mark.parametrize("name,theta", [c for c in CASES if not c[0].startswith("singular")],
                         ids=[c[0] for c in CASES if not c[0].startswith("singular")])
def test_condition_number_against_mpmath(name, theta):
    kappa = condition_number(theta)
    ref = _mp_kappa(theta)
    assert kappa.dim() == 0
    assert abs(float(kappa) - float(ref)) <= TOL_C * theta.shape[0] * EPS * float(ref) ** 2, name


def test_condition_number_singular_and_gradient():
    assert math.isinf(float(condition_number(torch.zeros(3, 3, dtype=F64))))
    assert math.isinf(float(condition_number(torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=F64)))))
    assert float(condition_number(torch.eye(3, dtype=F64))) == 1.0
    gen = torch.Generator().manual_seed(61)
    theta = _from_spectrum(torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=F64), gen).requires_grad_()
    assert torch.autograd.gradcheck(condition_number, (theta,))
    z = torch.zeros(3, 3, dtype=F64, requires_grad=True)
    condition_number(z).backward()
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name,theta", [c for c in CASES if not c[0].startswith("singular")],
                         ids=[c[0] for c in CASES if not c[0].startswith("singular")])
def test_psd_solve_against_mpmath(name, theta):
    """‖x − x*‖ ≤ C n eps κ ‖x*‖ (Cholesky is backward stable)."""
    n = theta.shape[0]
    r = _vec(n, 2, 71)
    x = psd_solve(theta, r)
    kappa = float(_mp_kappa(theta))
    with mp.workdps(DPS):
        th = _mp_matrix(theta)
        for col in range(2):
            ref = mp.lu_solve(th, _mp_matrix(r[:, col:col + 1]))
            err = _fro(_mp_matrix(x[:, col:col + 1]) - ref)
            assert err <= TOL_C * n * EPS * kappa * _fro(ref), (name, float(err / _fro(ref)), kappa)
    assert psd_solve(theta, r[:, 0]).shape == (n,)


def test_psd_solve_gradient_and_pinv_fallback():
    gen = torch.Generator().manual_seed(81)
    theta = _from_spectrum(torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=F64), gen).requires_grad_()
    r = _vec(4, 2, 82).requires_grad_()
    assert torch.autograd.gradcheck(psd_solve, (theta, r))
    # the t → ∞ limit of phi1
    torch.testing.assert_close(psd_solve(theta.detach(), r.detach()),
                               spectral_apply(theta.detach(), torch.tensor(1e300, dtype=F64), r.detach(), "phi1"),
                               rtol=1e-13, atol=0)
    # 11ᵀ: Cholesky fails; the pseudo-inverse solution, finite gradients
    ones = torch.ones(4, 4, dtype=F64, requires_grad=True)
    rr = r.detach().clone().requires_grad_()
    x = psd_solve(ones, rr)
    torch.testing.assert_close(x, torch.linalg.pinv(ones.detach(), hermitian=True) @ rr.detach(), rtol=1e-13, atol=1e-15)
    x.sum().backward()
    assert torch.isfinite(ones.grad).all() and torch.isfinite(rr.grad).all()
