"""Function-space predictions of squared-error gradient flow on a fixed kernel (THEORY.md, family 4).

With ``s = lr·t/(n k)`` for ``n`` training points and ``k`` outputs (neural-tangents' loss ``‖f − Y‖²/(2nk)``):

    train:      f_t(X)  = Y + exp(−sΘ)(f0 − Y)
    test:       f_t(X*) = f0(X*) + Θ_{*X} Θ⁻¹(I − exp(−sΘ))(Y − f0)
    mean:       lim_{t→∞} E f_t(X*) = Θ_{*X} Θ⁻¹ Y                  (E f0 = 0)
    condition:  κ = λ_max(Θ)/λ_min(Θ)

The spectral functions (``"exp"``, ``"phi1"``) are those SymPy derives per eigenmode (:mod:`learndyn.derive.flow`);
they are applied to ``Θ`` by :func:`learndyn.numerics.spectral.spectral_apply` (eigendecomposition, gradients by
stable divided differences, finite for equal eigenvalues). A scalar ``t`` gives ``(n, k)``; a 1-D ``t`` of
length ``m`` gives ``(m, n, k)``.
"""
from __future__ import annotations

import torch

from learndyn.domain import DomainError
from learndyn.numerics import spectral

__all__ = ["sizes", "train_prediction", "test_prediction", "mean_prediction", "condition_number"]


def sizes(result: str, *, t: torch.Tensor | None = None, ntk_train_train: torch.Tensor, y_train: torch.Tensor,
          f0_train: torch.Tensor | None = None, ntk_test_train: torch.Tensor | None = None,
          f0_test: torch.Tensor | None = None) -> tuple[int, int]:
    """``(n, k)`` from ``y_train``, after checking that every argument's shape agrees (a :class:`DomainError`
    naming the parameter otherwise)."""
    n, k = y_train.shape
    def need(name, value, shape):
        if value is not None and tuple(value.shape) != shape:
            raise DomainError(f"{result}: parameter '{name}' has shape {tuple(value.shape)}; it must be {shape} "
                              f"(n = {n} training points, k = {k} outputs from y_train)")
    need("ntk_train_train", ntk_train_train, (n, n))
    need("f0_train", f0_train, (n, k))
    if ntk_test_train is not None:
        need("ntk_test_train", ntk_test_train, (ntk_test_train.shape[0], n))
        need("f0_test", f0_test, (ntk_test_train.shape[0], k))
    if t is not None and t.dim() > 1:
        raise DomainError(f"{result}: parameter 't' must be a scalar or 1-d tensor, got shape {tuple(t.shape)}")
    return n, k


def _dtype(*xs: torch.Tensor) -> torch.dtype:
    dtype = xs[0].dtype
    for x in xs[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return dtype


def train_prediction(s: torch.Tensor, ntk_train_train: torch.Tensor, y_train: torch.Tensor, f0_train: torch.Tensor,
                     function: str) -> torch.Tensor:
    """``Y + F(Θ)(f0 − Y)`` (``F = exp(−sΘ)``)."""
    dt = _dtype(s, ntk_train_train, y_train, f0_train)
    y = y_train.to(dt)
    return y + spectral.spectral_apply(ntk_train_train.to(dt), s.to(dt), f0_train.to(dt) - y, function)


def test_prediction(s: torch.Tensor, ntk_test_train: torch.Tensor, ntk_train_train: torch.Tensor, y_train: torch.Tensor,
                    f0_train: torch.Tensor, f0_test: torch.Tensor, function: str) -> torch.Tensor:
    """``f0(X*) + Θ_{*X} G(Θ)(Y − f0)`` (``G = Θ⁻¹(I − exp(−sΘ))``)."""
    dt = _dtype(s, ntk_test_train, ntk_train_train, y_train, f0_train, f0_test)
    g = spectral.spectral_apply(ntk_train_train.to(dt), s.to(dt), y_train.to(dt) - f0_train.to(dt), function)
    return f0_test.to(dt) + ntk_test_train.to(dt) @ g


def mean_prediction(ntk_test_train: torch.Tensor, ntk_train_train: torch.Tensor, y_train: torch.Tensor) -> torch.Tensor:
    """``Θ_{*X} Θ⁻¹ Y`` (a Cholesky solve; the pseudo-inverse where ``Θ`` is singular to round-off)."""
    dt = _dtype(ntk_test_train, ntk_train_train, y_train)
    return ntk_test_train.to(dt) @ spectral.psd_solve(ntk_train_train.to(dt), y_train.to(dt))


def condition_number(ntk_train_train: torch.Tensor) -> torch.Tensor:
    """``λ_max/λ_min`` (``inf`` where ``λ_min ≤ 0`` to round-off)."""
    return spectral.condition_number(ntk_train_train)
