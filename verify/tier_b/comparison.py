"""How a measurement and a theory are compared: every comparison gives, per configuration, a deviation in units
of its tolerance (``ratio``); a check passes when every ratio is at most 1.

* :class:`Statistical`: replicate means, ``|mean deviation| ≤ k·SE + allowance`` (``k = 5``: a false alarm about
  once in 10⁶ per configuration for a Gaussian mean, PRACTICE.md; where the SE is estimated from ``n`` replicates,
  ``k`` is raised to the Student-t quantile with the same tail, :func:`student_k`);
* :class:`Richardson`: gradient descent is the Euler method of the gradient flow, so at a fixed flow time
  ``u_GD(lr) = u + c·lr + O(lr²)``; runs at ``lr`` and ``lr/2`` give ``2u(lr/2) − u(lr) = u + O(lr²)``, held to
  ``tol·scale`` (plus ``k`` standard errors of the extrapolated mean for stochastic runs); the error must also
  be first order (``e(lr)/e(lr/2)`` in ``order``) wherever it is resolved;
* :class:`UpperBound`: a bound is verified only where it is decidable, ``bound ≥ mean + allowance + k·SE``; a
  bound replaced by the quantity it bounds fails;
* :class:`Extrapolated`: a fit in ``1/N`` (or any size ``x``): the mean deviations measured at several sizes,
  extrapolated to ``x = 0`` by the polynomial through them, ``|extrapolated| ≤ k·SE + allowance``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from learndyn.verify.tier_b.measurement import Measurement

__all__ = ["Outcome", "Comparison", "Statistical", "Richardson", "UpperBound", "Extrapolated", "K_SE", "student_k"]

#: standard errors a statistical comparison allows (a false alarm about once in 10⁶ per Gaussian configuration)
K_SE = 5.0
#: errors below this (relative to the scale) are round-off, too small to resolve an order of convergence
ROUND_OFF = 1e-10


@dataclass
class Outcome:
    """The comparison of one case: the worst ``ratio`` (deviation / tolerance) over its configurations, the
    failure message when it exceeds 1 (or a convergence-order failure), and what was measured there."""

    ratio: float
    configurations: int
    failure: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the case passed (no failure)."""
        return self.failure is None


class Comparison:
    """Base class: ``judge(measurement, theory) -> Outcome``; ``describe()`` says what the ratio measures."""

    kind = "comparison"

    def judge(self, m: Measurement, theory: Callable) -> Outcome:  # pragma: no cover - abstract
        """Compare measurement ``m`` with ``theory``: the worst ratio of deviation to tolerance over its
        configurations, and the failure where one exceeds 1."""
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        """What the ratio measures, for the verification row."""
        raise NotImplementedError


def _norm(m: Measurement, pred: torch.Tensor) -> torch.Tensor:
    return pred.abs() if m.scale is None else torch.as_tensor(m.scale, dtype=pred.dtype, device=pred.device)


def _dims(m: Measurement, ndim: int) -> tuple[tuple[int, ...], int | None]:
    reduce = tuple(sorted({d % ndim for d in m.reduce_dims}))
    rep = m.replicate_dim % ndim if m.replicate_dim is not None else None
    return reduce, rep


def _mean_se(x: torch.Tensor, rep: int | None, se: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard error over the replicate axis (kept as size 1), or ``x`` with the given/zero SE."""
    if rep is None:
        return x, (torch.zeros_like(x) if se is None else torch.broadcast_to(torch.as_tensor(se, dtype=x.dtype, device=x.device), x.shape))
    n = x.shape[rep]
    if n < 2:
        raise ValueError("a statistical comparison needs at least 2 replicates")
    return x.mean(rep, keepdim=True), x.std(rep, unbiased=True, keepdim=True) / math.sqrt(n)


@functools.lru_cache(maxsize=None)
def student_k(k: float, replicates: int | None) -> float:
    """The multiple of an *estimated* standard error with the same false-alarm chance as ``k`` known ones.

    A mean over ``n`` replicates divided by its sample standard error is Student-t with ``n − 1`` degrees of freedom,
    whose tails are heavier than the normal's: ``k = 5`` normal standard errors (two-sided ``5.7e-7``) become
    ``t = 8.27`` at ``n = 16``, ``5.57`` at ``n = 64``, ``5.13`` at ``n = 256``. ``replicates=None`` (an exact or
    known standard error) keeps ``k``."""
    if replicates is None:
        return k
    import mpmath

    df = replicates - 1
    tail = mpmath.erfc(mpmath.mpf(k) / mpmath.sqrt(2))  # P(|Z| > k)
    lo, hi = mpmath.mpf(k), mpmath.mpf(k)
    while mpmath.betainc(df / 2, 0.5, 0, df / (df + hi * hi), regularized=True) > tail:  # P(|T| > t)
        lo, hi = hi, 2 * hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if mpmath.betainc(df / 2, 0.5, 0, df / (df + mid * mid), regularized=True) > tail:
            lo = mid
        else:
            hi = mid
    return float(hi)


def _replicates(m: Measurement, ndim: int) -> int | None:
    """The number of replicates a standard error is estimated from (``None`` where it is given or zero)."""
    if m.replicate_dim is None:
        return None
    return next(iter(m.observed.values())).shape[m.replicate_dim % ndim]


def _worst_at(ratio: torch.Tensor) -> int:
    flat = torch.nan_to_num(ratio.flatten(), nan=math.inf)
    return int(flat.argmax())


def _record_mean_within(worst: Outcome, key: str, mean: torch.Tensor, se: torch.Tensor, k: float,
                        allowance: torch.Tensor, where: str, label: str) -> None:
    """``ratio = |mean| / (k·SE + allowance)`` per configuration (``inf`` for a NaN mean or a nonzero mean against a
    zero tolerance); the worst one, with what was measured there (``label``: the mean's name), goes into ``worst``."""
    tol = k * se + allowance
    ratio = torch.where(tol > 0, mean.abs() / tol.clamp(min=1e-300),
                        torch.where(mean == 0, torch.zeros_like(mean), torch.full_like(mean, math.inf)))
    ratio = torch.where(torch.isnan(mean), torch.full_like(mean, math.inf), ratio)
    i = _worst_at(ratio)
    r = float(ratio.flatten()[i])
    worst.configurations += ratio.numel()
    if r >= worst.ratio:
        at = lambda t: float(torch.broadcast_to(t, ratio.shape).flatten()[i])  # noqa: E731
        worst.ratio = r
        worst.details = {"output": key, label: at(mean), "standard_error": at(se), "allowance": at(allowance),
                         "where": where}


def _given_se(m: Measurement, key: str, obs: torch.Tensor, norm: torch.Tensor, reduce: tuple[int, ...]) -> torch.Tensor | None:
    """The measurement's known standard error of output ``key``, in the deviation's units and averaged like it."""
    se = None if m.standard_error is None else m.standard_error.get(key)
    if se is None:
        return None
    se = torch.broadcast_to(torch.as_tensor(se, dtype=obs.dtype, device=obs.device) / norm, obs.shape)
    return se.mean(reduce, keepdim=True) if reduce else se


@dataclass(frozen=True)
class Statistical(Comparison):
    """``|mean over replicates of (observed − theory)/norm| ≤ k·SE + allowance`` per configuration, where the
    deviation is first averaged over ``reduce_dims`` within each replicate (``norm``: ``|theory|`` or the
    measurement's ``scale``)."""

    k: float = K_SE
    kind = "statistical"

    def judge(self, m: Measurement, theory: Callable) -> Outcome:
        predicted = m.theory_values(theory)
        worst = Outcome(0.0, 0)
        for key, obs in m.observed.items():
            pred = torch.broadcast_to(predicted[key].to(obs), obs.shape) if predicted[key].dim() <= obs.dim() else predicted[key]
            dev = (obs - pred) / _norm(m, pred)
            reduce, rep = _dims(m, dev.dim())
            if reduce:
                dev = dev.mean(reduce, keepdim=True)
            mean, se = _mean_se(dev, rep, _given_se(m, key, obs, _norm(m, pred), reduce))
            allowance = torch.as_tensor(m.allowance, dtype=mean.dtype, device=mean.device)
            _record_mean_within(worst, key, mean, se, student_k(self.k, _replicates(m, obs.dim())), allowance,
                                m.where, "mean_deviation")
        if worst.ratio > 1:
            d = worst.details
            worst.failure = (f"mean deviation {d['mean_deviation']:.3g} is beyond {self.k:g} standard errors "
                             f"({d['standard_error']:.2g}) + allowance {d['allowance']:.2g}"
                             f"{'' if d['output'] == 'value' else ' in ' + d['output']} at {m.where}")
        return worst

    def describe(self) -> str:
        return f"|mean dev| / ({self.k:g} SE + allowance)"


@dataclass(frozen=True)
class Richardson(Comparison):
    """``|2u(lr/2) − u(lr) − theory| / norm ≤ tol + k·SE_R`` at every record, and a first-order error
    (``e(lr)/e(lr/2)`` in ``order``) wherever it is resolved above round-off and above the extrapolated error."""

    tol: float = 1e-3
    order: tuple[float, float] = (1.6, 2.5)
    k: float = K_SE
    check_order: bool = True
    kind = "richardson"

    def judge(self, m: Measurement, theory: Callable) -> Outcome:
        if m.fine is None:
            raise ValueError("a Richardson comparison needs the run at lr/2 (Measurement.fine)")
        predicted = m.theory_values(theory)
        worst = Outcome(0.0, 0)
        for key, coarse in m.observed.items():
            fine = m.fine[key]
            pred = torch.broadcast_to(predicted[key].to(coarse), coarse.shape)
            norm = torch.broadcast_to(_norm(m, pred), coarse.shape)
            reduce, rep = _dims(m, coarse.dim())
            se_c = None if m.standard_error is None else m.standard_error.get(key)
            se_f = None if m.fine_standard_error is None else m.fine_standard_error.get(key)
            c_mean, c_se = _mean_se(coarse, rep, se_c)
            f_mean, f_se = _mean_se(fine, rep, se_f)
            if rep is not None:
                pred, norm = pred.narrow(rep, 0, 1), norm.narrow(rep, 0, 1)
            e1 = (c_mean - pred).abs() / norm
            e2 = (f_mean - pred).abs() / norm
            eR = (2 * f_mean - c_mean - pred).abs() / norm
            seR = torch.sqrt(4 * f_se**2 + c_se**2) / norm
            k = student_k(self.k, _replicates(m, coarse.dim()))
            tol = self.tol + k * seR
            ratio = eR / tol
            ratio = torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)
            if reduce:
                ratio_c = ratio.amax(reduce)
                e1c, e2c, eRc = (x.amax(reduce) for x in (e1, e2, eR))
                noise = (k * seR).amax(reduce)
            else:
                ratio_c, e1c, e2c, eRc, noise = ratio, e1, e2, eR, k * seR
            i = _worst_at(ratio_c)
            r = float(ratio_c.flatten()[i])
            worst.configurations += ratio_c.numel()
            if r >= worst.ratio:
                worst.ratio = r
                worst.details = {"output": key, "richardson_error": float(eRc.flatten()[i]),
                                 "first_order_error": float(e1c.flatten()[i]), "where": m.where}
            worst.details["worst_first_order_error"] = max(worst.details.get("worst_first_order_error", 0.0), float(e1c.max()))
            if self.check_order and worst.failure is None:
                resolved = (e2c > ROUND_OFF * 100) & (e2c > 10 * torch.maximum(eRc, noise))
                if bool(resolved.any()):
                    ratios = e1c[resolved] / e2c[resolved]
                    lo, hi = self.order
                    rng = worst.details.setdefault("order_ratio_range", [math.inf, -math.inf])
                    rng[0], rng[1] = min(rng[0], float(ratios.min())), max(rng[1], float(ratios.max()))
                    bad = (ratios < lo) | (ratios > hi)
                    if bool(bad.any()):
                        worst.failure = (f"the GD error is not first order in lr: e(lr)/e(lr/2) = {float(ratios[bad][0]):.3f} "
                                         f"not in {self.order} at {m.where}")
        if worst.failure is None and worst.ratio > 1:
            d = worst.details
            worst.failure = (f"Richardson-extrapolated GD differs from the theory by {d['richardson_error']:.3g} "
                             f"(> {self.tol:g}{' + ' + format(self.k, 'g') + ' SE' if m.replicate_dim is not None or m.standard_error else ''}) "
                             f"at {m.where} (first-order error {d['first_order_error']:.3g})")
        return worst

    def describe(self) -> str:
        return f"max |2u(lr/2) - u(lr) - theory| / norm / ({self.tol:g} + {self.k:g} SE)"


@dataclass(frozen=True)
class UpperBound(Comparison):
    """The theory is an upper bound on the observed mean, decidably: ``(mean + allowance + k·SE)/bound ≤ 1``."""

    k: float = K_SE
    kind = "upper_bound"

    def judge(self, m: Measurement, theory: Callable) -> Outcome:
        predicted = m.theory_values(theory)
        worst = Outcome(0.0, 0)
        for key, obs in m.observed.items():
            bound = torch.broadcast_to(predicted[key].to(obs), obs.shape)
            reduce, rep = _dims(m, obs.dim())
            se_given = None if m.standard_error is None else m.standard_error.get(key)
            mean, se = _mean_se(obs, rep, se_given)
            k = student_k(self.k, _replicates(m, obs.dim()))
            if rep is not None:
                bound = bound.narrow(rep, 0, 1)
            allowance = torch.as_tensor(m.allowance, dtype=mean.dtype, device=mean.device)
            ratio = (mean + allowance + k * se) / bound
            if reduce:
                ratio = ratio.amax(reduce)
            i = _worst_at(ratio)
            r = float(ratio.flatten()[i])
            worst.configurations += ratio.numel()
            if r >= worst.ratio:
                worst.ratio = r
                worst.details = {"output": key, "where": m.where}
        if worst.ratio > 1:
            worst.failure = (f"the bound is not decidably above the observed mean (mean + allowance + {self.k:g} SE "
                             f"= {worst.ratio:.4g} x bound) at {m.where}")
        return worst

    def describe(self) -> str:
        return f"(mean + allowance + {self.k:g} SE) / bound"


def lagrange_weights_at_zero(xs) -> list[float]:
    """Weights ``w_i`` with ``Σ w_i f(x_i) = p(0)`` for the polynomial ``p`` of degree ``len(xs) − 1`` through the
    points: ``w_i = Π_{j≠i} x_j/(x_j − x_i)`` (two sizes ``N``, ``2N`` at ``x = 1/N``: ``(−1, 2)``)."""
    xs = [float(x) for x in xs]
    if len(set(xs)) != len(xs):
        raise ValueError(f"extrapolation needs distinct sizes, got {xs}")
    return [math.prod(xj / (xj - xi) for j, xj in enumerate(xs) if j != i) for i, xi in enumerate(xs)]


@dataclass(frozen=True)
class Extrapolated(Comparison):
    """A fit in ``1/N`` across sizes: ``Measurement.extrapolation = (axis, xs)`` says which axis of ``observed``
    holds the observable at sizes ``x_i`` (independent runs). Per size, the deviation ``(observed − theory)/norm``
    is averaged over ``reduce_dims`` within each replicate, then over replicates (mean ``d_i``, standard error
    ``s_i``); the polynomial through the ``(x_i, d_i)`` at ``x = 0``, ``D = Σ w_i d_i``
    (:func:`lagrange_weights_at_zero`), removes the terms of order below ``len(xs)`` in ``x`` and is held to
    ``|D| ≤ k·√(Σ w_i² s_i²) + allowance`` (the allowance bounds the remainder: a number, or a tensor broadcasting
    against ``D``, i.e. ``observed`` without the extrapolation axis), per configuration."""

    k: float = K_SE
    kind = "extrapolated"

    def judge(self, m: Measurement, theory: Callable) -> Outcome:
        if m.extrapolation is None:
            raise ValueError("an Extrapolated comparison needs Measurement.extrapolation = (axis, sizes)")
        predicted = m.theory_values(theory)
        worst = Outcome(0.0, 0)
        for key, obs in m.observed.items():
            pred = torch.broadcast_to(predicted[key].to(obs), obs.shape)
            dev = (obs - pred) / _norm(m, pred)
            axis = m.extrapolation[0] % dev.dim()
            weights = lagrange_weights_at_zero(m.extrapolation[1])
            if dev.shape[axis] != len(weights):
                raise ValueError(f"the extrapolation axis has {dev.shape[axis]} sizes, "
                                 f"the measurement names {len(weights)}")
            reduce, rep = _dims(m, dev.dim())
            if axis in reduce or axis == rep:
                raise ValueError("the extrapolation axis cannot also be reduced or the replicate axis")
            if reduce:
                dev = dev.mean(reduce, keepdim=True)
            mean, se = _mean_se(dev, rep, _given_se(m, key, obs, _norm(m, pred), reduce))
            mean = sum(w * mean.select(axis, i) for i, w in enumerate(weights))
            se = torch.sqrt(sum(w * w * se.select(axis, i) ** 2 for i, w in enumerate(weights)))
            allowance = torch.as_tensor(m.allowance, dtype=mean.dtype, device=mean.device)
            _record_mean_within(worst, key, mean, se, student_k(self.k, _replicates(m, obs.dim())), allowance,
                                m.where, "extrapolated_deviation")
            worst.details.setdefault("sizes", list(m.extrapolation[1]))
        if worst.ratio > 1:
            d = worst.details
            worst.failure = (f"the deviation extrapolated to infinite size, {d['extrapolated_deviation']:.3g}, is "
                             f"beyond {self.k:g} standard errors ({d['standard_error']:.2g}) + allowance {d['allowance']:.2g}"
                             f"{'' if d['output'] == 'value' else ' in ' + d['output']} at {m.where}")
        return worst

    def describe(self) -> str:
        return f"|dev extrapolated in 1/N| / ({self.k:g} SE + allowance)"
