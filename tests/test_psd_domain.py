"""The domain check of kernel-matrix parameters (symmetric positive semi-definite to round-off): a Cholesky
factorisation of ``Θ + 64 n ε max diag(Θ) I`` accepts, and only where it fails do the eigenvalues decide and name the
smallest one."""
from __future__ import annotations

import pytest
import torch

import learndyn
from learndyn.domain import ArrayParam, DomainError

F64 = torch.float64


def _gram(n: int, rank: int, seed: int = 0) -> torch.Tensor:
    x = torch.randn(n, rank, generator=torch.Generator().manual_seed(seed), dtype=F64)
    return x @ x.T


def test_psd_matrices_pass_singular_ones_included() -> None:
    spec = ArrayParam(2, "(n, n)", psd=True)
    for theta in (_gram(50, 80), _gram(50, 5), torch.zeros(3, 3, dtype=F64) + torch.eye(3, dtype=F64)):
        assert spec.psd_violation(theta) is None


def test_indefinite_matrix_is_refused_with_its_smallest_eigenvalue() -> None:
    spec = ArrayParam(2, "(n, n)", psd=True)
    theta = _gram(40, 60)
    v = torch.randn(40, 1, generator=torch.Generator().manual_seed(3), dtype=F64)
    v = v / v.norm()
    lam_max = float(torch.linalg.eigvalsh(theta)[-1])
    bad = theta - (float(v.T @ theta @ v) + 1e-6 * lam_max) * (v @ v.T)  # v's Rayleigh quotient pushed below 0
    why = spec.psd_violation(bad)
    assert why is not None and "positive semi-definite" in why and "smallest eigenvalue" in why
    with pytest.raises(DomainError, match="ntk_train_train"):
        learndyn.function("mean_prediction")(torch.zeros(2, 40, dtype=F64), bad, torch.zeros(40, 1, dtype=F64))


def test_round_off_negative_eigenvalues_pass() -> None:
    """A PSD matrix perturbed by round-off (eigenvalues down to about −n ε λ_max) is a kernel to round-off."""
    spec = ArrayParam(2, "(n, n)", psd=True)
    theta = _gram(60, 10)  # rank 10: 50 zero eigenvalues, computed as ±1e-14
    noise = torch.randn(60, 60, generator=torch.Generator().manual_seed(4), dtype=F64) * 1e-15 * float(theta.abs().max())
    assert spec.psd_violation(theta + (noise + noise.T) / 2) is None


def test_the_check_factor_is_reused_only_for_the_same_unchanged_matrix() -> None:
    """The domain check's Cholesky factor serves the solve of that very matrix: not after an in-place change (its
    version counter moves), not for another matrix; mean_prediction's value is the solve's either way."""
    from learndyn.numerics import spectral

    theta = _gram(30, 40)
    spec = ArrayParam(2, "(n, n)", psd=True)
    assert spec.psd_violation(theta) is None
    assert spectral._recalled_cholesky(theta) is not None
    assert spectral._recalled_cholesky(theta.clone()) is None
    theta.mul_(2.0)  # in place: the remembered factor is stale
    assert spectral._recalled_cholesky(theta) is None
    y = torch.randn(30, 1, generator=torch.Generator().manual_seed(8), dtype=F64)
    kst = torch.randn(5, 30, generator=torch.Generator().manual_seed(9), dtype=F64)
    got = learndyn.function("mean_prediction")(kst, theta, y)
    torch.testing.assert_close(got, kst @ torch.linalg.solve(theta, y), rtol=1e-9, atol=0)
