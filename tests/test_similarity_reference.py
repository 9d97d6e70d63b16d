""":mod:`learndyn.similarity` against a 50-digit mpmath reference on ill-conditioned activations.

The reference (written here, independent of the library): the float64 inputs read exactly as mpmath numbers,
centred exactly, the SVD at 50 digits (``mp.svd_r``) with the same rank tolerance ``max(n, p) ε σ_max``; canonical
correlations as the singular values of ``Q_aᵀQ_b``, and — for full-rank cases — by a second route, the Cholesky
factors of the 50-digit covariances (``L_a⁻¹ Σ_ab L_b⁻ᵀ``); PWCCA from its definition; CKA from ``‖XᵀY‖_F``; the
unbiased CKA from Song et al.'s formula on the *uncentred* Gram matrices with zeroed diagonals (so the library's
centred closed form is checked, translation invariance included).

Cases (``n = 24`` examples unless stated): neurons scaled over 8 decades; neurons mixed by a matrix of condition
number 1e8; near-collinear neurons (``a₂ = a₁ + 1e-8 z``, ``a₄ = a₃ + 1e-6 z'``); constant neurons (0.1, 98765.4321);
more neurons than examples (12 × 20); a mean of 1e4 on unit spread; duplicated and doubled neurons. Every value is
required within ``1e-10`` (absolute for coefficients in [0, 1], relative for the summaries); the library's worst
errors over these cases: coefficients 5.6e-16, SVCCA 3.3e-16, PWCCA 4.4e-15, CKA 4.6e-16, unbiased CKA 6.6e-15. A
plain float64 basis (float64 centring and product, the same QR) misses ``1e-10`` on the mixed and near-collinear
cases (``4e-10`` … ``1.4e-9``): :func:`test_a_plain_float64_basis_misses_the_tolerance` keeps that evidence.
"""
from __future__ import annotations

import mpmath as mp
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import learndyn.similarity.basis as basis_module
from learndyn.similarity import cca, linear_cka, pwcca, svcca, unbiased_linear_cka
from learndyn.similarity.centring import centre

F64 = torch.float64
# tiny matrices: torch's intra-op threads only add synchronisation (conftest.py)
pytestmark = pytest.mark.usefixtures("one_torch_thread")
EPS = 2.0**-52
DIGITS = 50
TOL = 1e-10


# -- the reference -------------------------------------------------------------------------------------------------

def mp_centred(x: torch.Tensor) -> mp.matrix:
    n, p = x.shape
    out = mp.matrix(n, p)
    for j in range(p):
        col = [mp.mpf(float(v)) for v in x[:, j]]
        mean = mp.fsum(col) / n
        for i in range(n):
            out[i, j] = col[i] - mean
    return out


def mp_svd(m: mp.matrix) -> tuple[mp.matrix, list]:
    """Left singular vectors and singular values, descending."""
    u, s, _ = mp.svd_r(m)
    order = sorted(range(s.rows), key=lambda i: -s[i])
    uu = mp.matrix(u.rows, len(order))
    for c, i in enumerate(order):
        for r in range(u.rows):
            uu[r, c] = u[r, i]
    return uu, [s[i] for i in order]


def mp_basis(x: torch.Tensor, keep=None) -> tuple[mp.matrix, mp.matrix, int]:
    """``(Q, X_c, k)``: the ``k`` kept leading left singular vectors of the exactly centred ``x``."""
    n, p = x.shape
    xc = mp_centred(x)
    u, s = mp_svd(xc)
    rank = sum(1 for v in s if v > max(n, p) * EPS * s[0])
    if keep is None or keep == 1.0:
        k = rank
    elif isinstance(keep, int):
        k = min(keep, rank)
    else:
        variance = [v**2 for v in s[:rank]]
        total, running, k = mp.fsum(variance), mp.mpf(0), 0
        while running < keep * total:
            running += variance[k]
            k += 1
    q = mp.matrix(n, k)
    for i in range(n):
        for j in range(k):
            q[i, j] = u[i, j]
    return q, xc, k


def mp_cca(a: torch.Tensor, b: torch.Tensor, keep=None) -> list:
    qa, _, ka = mp_basis(a, keep)
    qb, _, kb = mp_basis(b, keep)
    return mp_svd(qa.T * qb)[1][: min(ka, kb)]


def mp_cca_covariance(a: torch.Tensor, b: torch.Tensor) -> list:
    """Full-rank canonical correlations by another route: Cholesky factors of the 50-digit covariances."""
    ac, bc = mp_centred(a), mp_centred(b)
    la, lb = mp.cholesky(ac.T * ac), mp.cholesky(bc.T * bc)
    return mp_svd(mp.inverse(la) * (ac.T * bc) * mp.inverse(lb).T)[1]


def mp_pwcca(a: torch.Tensor, b: torch.Tensor):
    qa, ac, ka = mp_basis(a)
    qb, _, kb = mp_basis(b)
    c = min(ka, kb)
    u, rho = mp_svd(qa.T * qb)
    h = qa * u
    weights = [mp.fsum(abs(mp.fsum(h[i, k] * ac[i, j] for i in range(ac.rows))) for j in range(ac.cols))
               for k in range(c)]
    return mp.fsum(w * r for w, r in zip(weights, rho)) / mp.fsum(weights)


def _frobenius2(m: mp.matrix):
    return mp.fsum(m[i, j] ** 2 for i in range(m.rows) for j in range(m.cols))


def mp_cka(a: torch.Tensor, b: torch.Tensor):
    ac, bc = mp_centred(a), mp_centred(b)
    return _frobenius2(ac.T * bc) / mp.sqrt(_frobenius2(ac.T * ac) * _frobenius2(bc.T * bc))


def mp_unbiased_cka(a: torch.Tensor, b: torch.Tensor):
    n = a.shape[0]

    def gram(x):
        m = mp.matrix([[mp.mpf(float(v)) for v in row] for row in x])
        k = m * m.T
        for i in range(n):
            k[i, i] = 0
        return k

    def hsic(k, l):
        kl = k * l
        total = lambda m: mp.fsum(m[i, j] for i in range(n) for j in range(n))  # noqa: E731
        trace = mp.fsum(kl[i, i] for i in range(n))
        return (trace + total(k) * total(l) / ((n - 1) * (n - 2)) - 2 * total(kl) / (n - 2)) / (n * (n - 3))

    k, l = gram(a), gram(b)
    return hsic(k, l) / mp.sqrt(hsic(k, k) * hsic(l, l))


# -- ill-conditioned activations -----------------------------------------------------------------------------------

def _orthogonal(g: torch.Generator, k: int) -> torch.Tensor:
    return torch.linalg.qr(torch.randn(k, k, dtype=F64, generator=g)).Q


def ill_conditioned(kind: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    n, p, q = 24, 6, 5
    if kind == "wide":
        a = torch.randn(12, 20, dtype=F64, generator=g)
        b = a[:, :3] @ torch.randn(3, q, dtype=F64, generator=g) + 0.7 * torch.randn(12, q, dtype=F64, generator=g)
        return a, b
    z = torch.randn(n, 8, dtype=F64, generator=g)
    a = z[:, :p].clone()
    if kind == "scaled":
        a = a * torch.logspace(0, -8, p, dtype=F64)
    elif kind == "mixed":
        a = a @ (_orthogonal(g, p) @ torch.diag(torch.logspace(0, -8, p, dtype=F64)) @ _orthogonal(g, p))
    elif kind == "collinear":
        a[:, 1] = a[:, 0] + 1e-8 * z[:, 6]
        a[:, 3] = a[:, 2] + 1e-6 * z[:, 7]
    elif kind == "constant":
        a[:, 1], a[:, 4] = 0.1, 98765.4321  # the second's float64 mean is not exact: centring leaves 1.5e-11
    elif kind == "offset":
        a = a + 1e4
    elif kind == "duplicate":
        a[:, 4], a[:, 5] = a[:, 1], 2 * a[:, 2]
    b = z[:, :3] @ torch.randn(3, q, dtype=F64, generator=g) + 0.7 * torch.randn(n, q, dtype=F64, generator=g)
    if kind == "mixed":
        b = b @ (_orthogonal(g, q) @ torch.diag(torch.logspace(0, -6, q, dtype=F64)) @ _orthogonal(g, q))
    return a, b


KINDS = ("scaled", "mixed", "collinear", "constant", "wide", "offset", "duplicate")
FULL_RANK = ("scaled", "mixed", "collinear", "offset")


@pytest.fixture(autouse=True, scope="module")
def fifty_digits():
    with mp.workdps(DIGITS):
        yield


def _relative(ours: torch.Tensor, ref) -> float:
    return abs(float(ours) - float(ref)) / abs(float(ref))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", KINDS)
def test_every_measure_is_within_1e_10_of_the_mpmath_reference(kind, seed) -> None:
    a, b = ill_conditioned(kind, seed)
    ref = mp_cca(a, b)
    ours = cca(a, b)
    r = len(ref)
    assert max(abs(float(x) - float(y)) for x, y in zip(ours[:r], ref)) <= TOL
    assert torch.equal(ours[r:], torch.zeros_like(ours[r:]))
    assert _relative(svcca(a, b, None), mp.fsum(ref) / r) <= TOL
    assert _relative(svcca(a, b, 1.0), mp.fsum(ref) / r) <= TOL
    assert _relative(pwcca(a, b), mp_pwcca(a, b)) <= TOL
    assert _relative(linear_cka(a, b), mp_cka(a, b)) <= TOL
    assert _relative(unbiased_linear_cka(a, b), mp_unbiased_cka(a, b)) <= TOL


@pytest.mark.parametrize("kind", FULL_RANK)
def test_the_two_reference_routes_agree(kind) -> None:
    """The SVD route (used with the rank tolerance) and the Cholesky-covariance route give the same 50-digit
    coefficients on full-rank cases: the reference is not one algorithm checked against itself."""
    a, b = ill_conditioned(kind, 0)
    for x, y in zip(mp_cca(a, b), mp_cca_covariance(a, b)):
        assert abs(x - y) < mp.mpf(10) ** -30


@pytest.mark.parametrize("keep", [2, 4, 0.9, 0.999])
def test_truncated_svcca_against_mpmath_where_the_cut_has_a_gap(keep) -> None:
    """SVCCA that keeps fewer directions than the rank, on spectra with clear gaps (singular values 10, 5, 2, 1,
    0.1, 0.01 before noise): within 1e-10 (its accuracy is ``ε σ_1/(σ_k − σ_{k+1})``)."""
    g = torch.Generator().manual_seed(4)
    z = torch.randn(40, 6, dtype=F64, generator=g)
    scales = torch.tensor([10.0, 5.0, 2.0, 1.0, 0.1, 0.01], dtype=F64)
    a = (z * scales) @ _orthogonal(g, 6)
    b = (z[:, :5] * scales[:5] + 0.3 * torch.randn(40, 5, dtype=F64, generator=g)) @ _orthogonal(g, 5)
    ref = mp_cca(a, b, keep)
    assert _relative(svcca(a, b, keep), mp.fsum(ref) / len(ref)) <= TOL


@settings(derandomize=True, deadline=None, max_examples=8, database=None)
@given(st.integers(8, 30), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31 - 1), st.floats(0.0, 8.0))
def test_drawn_ill_conditioned_activations_against_mpmath(n, p, q, seed, log10_cond) -> None:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, max(p, q), dtype=F64, generator=g)
    mix = _orthogonal(g, p) @ torch.diag(torch.logspace(0, -log10_cond, p, dtype=F64)) @ _orthogonal(g, p)
    a = z[:, :p] @ mix + 3.0
    b = z[:, :q] + torch.randn(n, q, dtype=F64, generator=g)
    ref = mp_cca(a, b)
    ours = cca(a, b)
    assert max(abs(float(x) - float(y)) for x, y in zip(ours, ref)) <= TOL


def test_a_plain_float64_basis_misses_the_tolerance(monkeypatch: pytest.MonkeyPatch) -> None:
    """The double-double step is what meets 1e-10: with the basis from float64 centring and a float64 product (the
    same SVD, the same QR), the mixed and near-collinear cases are off by more than 1e-10."""
    monkeypatch.setattr(basis_module, "_accurate_span", lambda a, v: centre(a) @ v)
    for kind in ("mixed", "collinear"):
        a, b = ill_conditioned(kind, 0)
        ref = mp_cca(a, b)
        assert max(abs(float(x) - float(y)) for x, y in zip(cca(a, b), ref)) > TOL, kind
