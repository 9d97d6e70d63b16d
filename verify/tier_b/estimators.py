"""Estimators of a mean over independent runs with less noise than the sample mean.

:func:`control_variate_mean`: with controls ``c`` of KNOWN mean (taken as 0: pass them centred), the regression
estimator ``ȳ − β̂ᵀ c̄`` (``β̂`` the least-squares slope of ``y`` on ``c`` over the runs) is unbiased up to
``O(1/n)`` and its variance is ``σ²(1 − R²)/n``, ``R²`` the fraction of ``y``'s variance the controls explain
(Glasserman, *Monte Carlo Methods in Financial Engineering*, Sec. 4.1). Its standard error is estimated from the
regression residuals, ``√(Σ e²/(n − q − 1) / n)`` for ``q`` controls. A control that is constant over the runs (no
variance) is ignored (pseudo-inverse of the Gram matrix, ``q`` its rank), so with none left the estimator is the
sample mean with its usual standard error.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["control_variate_mean"]


def control_variate_mean(y: torch.Tensor, controls: Sequence[torch.Tensor], dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """The control-variate estimate of ``E[y]`` over the runs on axis ``dim``, and its standard error.

    ``controls``: tensors of ``y``'s shape whose expectation is 0 (centre them by their known mean). Returns
    ``(mean, se)`` with the axis ``dim`` removed."""
    y = y.movedim(dim, -1)
    n = y.shape[-1]
    q = len(controls)
    if n < q + 2:
        raise ValueError(f"a control-variate mean with {q} controls needs at least {q + 2} runs, got {n}")
    c = torch.stack([x.movedim(dim, -1).to(y.dtype) for x in controls], -1)  # (..., n, q)
    y_bar = y.mean(-1)
    c_bar = c.mean(-2)                                                        # (..., q)
    yc = y - y_bar.unsqueeze(-1)
    cc = c - c_bar.unsqueeze(-2)
    gram = cc.mT @ cc                                                         # (..., q, q)
    beta = (torch.linalg.pinv(gram, hermitian=True, rtol=1e-12) @ (cc.mT @ yc.unsqueeze(-1))).squeeze(-1)
    mean = y_bar - (beta * c_bar).sum(-1)
    resid = yc - (cc @ beta.unsqueeze(-1)).squeeze(-1)
    fitted = torch.linalg.matrix_rank(gram, hermitian=True, rtol=1e-12)  # the controls that carry variance
    se = torch.sqrt((resid * resid).sum(-1) / (n - fitted - 1) / n)
    return mean, se
