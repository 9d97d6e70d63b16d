"""Tier (b) of family 5 (classification dynamics, seed 002), declared beside ``derive/families/classification.py``,
and the family's claims (:mod:`learndyn.verify.families.classification_claims`).

Every check trains real ReLU classifiers (:mod:`learndyn.verify.simulate.classification`: fully connected, no
biases, logistic or hinge loss written out, hand-derived gradients) by full-batch gradient descent on THEORY.md's
orthogonal-feature data, at ``lr`` and ``lr/2``, recording every step, and compares the Richardson extrapolation
``2u(lr/2) − u(lr)`` with the theory (GD is the Euler method of the flow, so at a fixed flow time ``t = lr × steps``
its error is first order in ``lr``; the order is checked where resolved). One network per configuration serves two
features of opposite class (unit ``k`` ↔ feature ``k``), both compared.

* **learning rate**: ``lr = κ / (L p r^{2/L})`` at most (``KAPPA``: ``L p r^{2/L}`` bounds the rate of ``ln m`` at
  margin 1, and of the weights), smaller where a configuration's horizon allows the common number of steps. At
  ``κ = 0.02`` the ``O(lr²)`` remainder after Richardson extrapolation was measured at most ``7.5e-5`` of the
  theory (``--examples 100``, seed 0: trajectories ``7.5e-5``, hitting times ``3.2e-5``, wrong-sign crossings
  ``2e-5``, inflection ``1.4e-5``, starved margins ``8e-6``, hinge stops ``7e-6``), so ``Richardson(tol=1e-3)``
  keeps a margin of ten and an error of 0.1 % in the theory is caught;
* **hitting times** (``classification_mode_time``, ``hinge_stopping_time``, ``wrong_sign_crossing_time``, the
  inflection time): the first step at or above the level, interpolated with its predecessor in ``m^{2/L−1}``
  (``ln m`` at depth 2: the coordinate in which a mode at constant ``g`` moves at constant speed, so a level just
  above ``m0`` is timed as well as a far one), in ``m`` for the crossings of 1 and 0. With every step recorded the
  interpolation error is ``O(lr²)``;
* **the hinge stop**: the flow stops at exactly ``m = 1``; GD stops at its first step at or above 1, overshooting
  by less than one step, and then its weights do not change at all (asserted bit for bit). The trajectory is held
  to the theory by Richardson at records before both runs' stops (and before the stop extrapolated from them, less
  their difference), and after the stop by a bracket: the theory must lie between the fine run's last margin below
  1 and its frozen margin (a deterministic, exact criterion: ``Statistical`` with zero standard error and the
  bracket's half-width as allowance);
* **inflection** (``margin_inflection``): the GD rate ``(m_{k+1} − m_k)/lr`` against ``m_k`` (logistic loss), fitted
  by a least-squares quartic over ``±15 %`` of the discrete maximum, its maximum found by Newton; its time is the
  hitting time of that margin (no theory involved). The quartic's bias is part of the ``1.4e-5`` above;
* **starvation** (``starved_margin``, hinge): one path per feature (the decoupled model the theory assumes,
  :func:`~learndyn.verify.simulate.path_masks`); the rare feature's margin where the co-occurring examples reach
  margin 1, interpolated at the crossing like a hitting time; it must then stay frozen (asserted).

Validity maps (``learndyn validity``, :mod:`learndyn.verify.validity`): every check declares an ``lr`` axis. The
losses have no isolated optimum (the logistic margin grows without bound, the hinge loss is flat once it stops), so
the axis' ``λ`` is the rate scale that ``KAPPA`` caps, per network: ``max L p r^{2/L}`` over its features (the mode
runs), the bound on the weights' rate of the wrong-sign start, ``L P max(r1^{2/L}, q r2^{2/L})`` (starvation). Where
a map sets ``sizes["lr_lambda"]`` each network's ``lr`` is exactly ``lr_lambda/λ`` (not the horizon-matched
``lr ≤ KAPPA/λ``) and the common number of steps covers every network's horizon. No convergence probe: there is no
optimum to converge to (the axis' ``lr·λ = 2`` is not a stability limit here).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import torch
from hypothesis import strategies as st

from learndyn.verify.tier_b import OUTPUT, Measurement, Richardson, SharedRun, SimulationCheck, Statistical
from learndyn.verify.tier_b.cases import pinned_batch
from learndyn.verify.validity.axis import lr_axis

__all__ = ["SIMULATIONS", "CLAIM_CHECKS", "KAPPA", "mode_runs", "train_modes", "flow_time_estimate"]

F64 = torch.float64
#: lr × L p r^{2/L}, at most
KAPPA = 0.02
RICHARDSON = Richardson(tol=1e-3)
#: the hinge stop's bracket: exact (no standard error; the bracket's half-width is the allowance)
BRACKET = Statistical()
#: ``--examples N`` draws ``N // EXAMPLES_PER_CASE`` cases per check besides the pinned ones
EXAMPLES_PER_CASE = 10
#: trajectory records compared per run
RECORDS = 40
#: configurations (networks) per case and loss
BATCH = 8
#: a logistic mode is run until it reaches at least this margin (beyond the inflection at depth 3, 1.60, and its
#: fitting window)
LOGISTIC_TOP = 2.5
#: the relative half-width of the window in which the GD rate is fitted around its maximum
INFLECTION_WINDOW = 0.15
LOSSES = ("logistic", "hinge")


def _declaration(name: str):
    from learndyn.derive.registry import declaration

    return declaration(name)


# -- sizing (never the theory under test: a quadrature of the mode equation, accurate to about 1e-3) ----------

_NODES, _WEIGHTS = (torch.tensor(v, dtype=F64) for v in np.polynomial.legendre.leggauss(48))


def flow_time_estimate(m0: torch.Tensor, m: torch.Tensor, rate: torch.Tensor, depth: int, loss: str) -> torch.Tensor:
    """``∫_{m0}^{m} dm′/(rate · m′^{2−2/L} g(m′))`` by Gauss–Legendre in ``ln m′`` (to size runs;
    ``rate = L p r^{2/L}``; hinge levels are capped at 1)."""
    m = torch.minimum(m, torch.ones_like(m)) if loss == "hinge" else m
    a, b = torch.log(m0), torch.log(m)
    u = (a + b).unsqueeze(-1) / 2 + (b - a).unsqueeze(-1) / 2 * _NODES.to(m0.device)
    x = torch.exp(u)
    inv_g = (1 + torch.exp(x)) if loss == "logistic" else torch.ones_like(x)
    integrand = x ** (2.0 / depth - 1) * inv_g  # dm/(m^{2-2/L} g) = m^{2/L-1} (1/g) d ln m
    return ((b - a) / 2 * (integrand * _WEIGHTS.to(m0.device)).sum(-1)) / rate


# -- the mode runs shared by the mode results ----------------------------------------------------------------

def partner_frequency(p: torch.Tensor, p_partner: torch.Tensor) -> torch.Tensor:
    """The frequency of a network's second feature (class ``−1``): the partner point's ``p`` where the two fit in
    one data set of single-feature examples (``p1 + p2 ≤ 1``), else what is left, ``1 − p1``; 0 (the feature is
    absent and not compared) where that is below ``p1/4`` (a slower mode would set the run's length)."""
    p2 = torch.minimum(p_partner, 1 - p)
    return torch.where(p2 >= p / 4, p2, torch.zeros_like(p2))


class ModeRuns(NamedTuple):
    """Two runs (``lr``, ``lr/2``) of ``2·B`` networks (logistic first, then hinge), two features each (classes
    ``+1``, ``−1``), every step recorded in both (a hitting time is interpolated within one step). The modes compared
    are the present features (``valid`` ``(B, 2)``): their ``m0``, ``p``, ``r``, levels (``level`` for the
    logistic loss, ``hinge_level`` below 1) are flat ``(N,)`` tensors, as is ``lr`` per mode and loss (``(2, N)``)."""

    coarse: object
    fine: object
    depth: int
    valid: torch.Tensor
    m0: torch.Tensor
    p: torch.Tensor
    r: torch.Tensor
    level: torch.Tensor
    hinge_level: torch.Tensor
    lr: torch.Tensor

    def flat(self, x: torch.Tensor, loss: str) -> torch.Tensor:
        return flat_modes(x, self.valid, loss)

    def lr_of(self, loss: str) -> torch.Tensor:
        return self.lr[0 if loss == "logistic" else 1]


def flat_modes(x: torch.Tensor, valid: torch.Tensor, loss: str) -> torch.Tensor:
    """The present modes (``valid`` ``(B, 2)``) of the configurations of ``loss`` (logistic: the first ``B``, hinge:
    the last ``B``) from a recorded ``(…, 2B, 2)`` tensor: ``(…, N)``."""
    B = valid.shape[0]
    part = x[..., :B, :] if loss == "logistic" else x[..., B:, :]
    return part[..., valid]


def _pair(values, device) -> torch.Tensor:
    """``(B, 2)``: each point's own value for feature 1, the next point's for feature 2 (``m0`` and ``m`` of one
    point stay together)."""
    v = torch.tensor(values, dtype=F64, device=device)
    return torch.stack([v, v.roll(-1)], -1)


def _level_top() -> float:
    spec = _declaration("classification_mode_time").param("m").sim
    return float(spec.b) if isinstance(getattr(spec, "b", None), (int, float)) else 4.0


def _hinge_levels(m0: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """A hinge margin stops at 1: its level is the drawn one where below 0.95, else as far along the way from ``m0``
    to 1 (in ``ln m``) as the drawn level is along its range from ``m0`` (a choice of where to look, no theory)."""
    frac = (torch.log(level / m0) / (math.log(_level_top()) - torch.log(m0))).clamp(0.1, 0.9)
    return torch.where(level < 0.95, level, m0 * (1 / m0) ** frac)


def train_modes(depth: int, m0: tuple, p: tuple, r: tuple, level: tuple, kappa: float, device: str,
                lr_lambda: float | None = None) -> ModeRuns:
    """Train the networks of a set of mode points (``m0``, ``p``, ``r``, ``level`` per point), at ``lr`` and ``lr/2``;
    ``lr_lambda``: each network's ``lr`` is exactly ``lr_lambda/max L p r^{2/L}`` (a validity map)."""
    from learndyn.verify.simulate import decoupled_start, orthogonal_features, train_classifier

    m0_, lev, p_ = (_pair(v, device) for v in (m0, level, p))      # (B, 2)
    p_ = torch.stack([p_[:, 0], partner_frequency(p_[:, 0], p_[:, 1])], -1)
    valid = p_ > 0
    r_ = torch.tensor(r, dtype=F64, device=device).unsqueeze(1).expand_as(p_)
    rate = depth * p_ * r_ ** (2.0 / depth)                         # (B, 2), 0 for an absent feature
    top = torch.maximum(lev, torch.full_like(lev, LOGISTIC_TOP))
    horizon = {"logistic": 1.15 * flow_time_estimate(m0_, top, rate, depth, "logistic"),
               "hinge": 1.5 * flow_time_estimate(m0_, torch.ones_like(m0_), rate, depth, "hinge")}
    horizon = torch.cat([torch.where(valid, horizon[k], torch.zeros_like(rate)).amax(1) for k in LOSSES])
    fastest = torch.cat([rate.amax(1)] * 2)
    steps, lr = _steps_and_lr(horizon, fastest, kappa, lr_lambda)
    classes = torch.tensor([[1.0, -1.0]], dtype=F64, device=device)
    r2, p2, m02 = (torch.cat([x, x]) for x in (r_, p_, m0_))
    data = orthogonal_features(r2, p2, classes, device=device)
    start = decoupled_start(m02, r2, classes, depth, device=device)
    loss = ["logistic"] * len(m0) + ["hinge"] * len(m0)
    coarse = train_classifier(data, start, lr, steps, loss=loss)
    fine = train_classifier(data, start, lr / 2, 2 * steps, loss=loss)
    B = len(m0)
    lr_modes = torch.stack([lr[:B, None].expand_as(p_)[valid], lr[B:, None].expand_as(p_)[valid]])
    return ModeRuns(coarse, fine, depth, valid, m0_[valid], p_[valid], r_[valid], lev[valid],
                    _hinge_levels(m0_, lev)[valid], lr_modes)


def _steps_and_lr(horizon: torch.Tensor, rate: torch.Tensor, kappa: float,
                  lr_lambda: float | None) -> tuple[int, torch.Tensor]:
    """The common number of steps and each network's ``lr`` for flow-time horizons ``horizon`` at rate scales ``rate``
    (both per network): ``lr·rate <= kappa``, each ``lr`` matched to its horizon; or, for a validity map,
    ``lr = lr_lambda/rate`` exactly and enough steps for the longest horizon."""
    if lr_lambda is None:
        steps = int(math.ceil(float((horizon * rate).max()) / kappa))
        return steps, horizon / steps                               # lr · rate <= kappa for every network
    lr = lr_lambda / rate
    return int(math.ceil(float((horizon / lr).max()))), lr


def _lr_lambda(sizes) -> float | None:
    """A validity map's ``lr·λ`` (``sizes["lr_lambda"]``), ``None`` outside a map."""
    return float(sizes["lr_lambda"]) if "lr_lambda" in sizes else None


def mode_runs(case, sizes, device) -> ModeRuns:
    """The GD runs of a mode case: the mode results' checks observe them (``SharedRun(mode_runs, …)``)."""
    pts = case["points"]
    col = lambda k: tuple(float(x[k]) for x in pts)  # noqa: E731
    return train_modes(int(case["depth"]), col("m0"), col("p"), col("r"), col("m"), float(sizes.get("kappa", KAPPA)),
                      str(device), _lr_lambda(sizes))


def _where(case, loss: str, runs: ModeRuns) -> str:
    return (f"depth {runs.depth}, {loss}, {runs.valid.shape[0]} networks, {runs.m0.numel()} modes, "
            f"{runs.coarse.steps.numel() - 1} steps, seed {case['seed']}")


def _mode_args(runs: ModeRuns, loss: str | None, lead: int = 0) -> dict:
    """The theory's per-mode arguments ``m0``, ``p``, ``r`` (with ``lead`` leading axes), ``depth`` and ``loss``."""
    shape = (1,) * lead + (-1,)
    out = dict(m0=runs.m0.view(shape), p=runs.p.view(shape), r=runs.r.view(shape), depth=runs.depth)
    if loss is not None:
        out["loss"] = loss
    return out


def growth_coordinate(depth: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``m ↦ m^a/a`` with ``a = 2/L − 1`` (``ln m`` at ``L = 2``): the coordinate in which the mode equation at constant
    ``g`` moves at constant speed, so hitting times interpolated in it between steps are accurate from the first step
    on (``g`` changes slowly: ``|g′| ≤ 1/4``). The form of the growth law only, not the result under test."""
    a = 2.0 / depth - 1
    if depth == 2:
        return torch.log
    return lambda m: m.clamp(min=1e-300) ** a / a


def _hits(runs: ModeRuns, loss: str, level: torch.Tensor, transform) -> tuple[torch.Tensor, torch.Tensor]:
    """Hitting times of ``level`` (``(N,)``) by the modes of ``loss``, in the coarse and the fine run."""
    from learndyn.verify.simulate import first_crossing

    full = torch.ones(runs.valid.shape[0] * 2, 2, dtype=F64, device=level.device)
    B = runs.valid.shape[0]
    part = full[:B] if loss == "logistic" else full[B:]
    part[runs.valid] = level
    out = [runs.flat(first_crossing(run, full, transform=transform), loss) for run in (runs.coarse, runs.fine)]
    if any(bool(h.isnan().any()) for h in out):
        raise RuntimeError(f"a {loss} mode never reached its level within the run")
    return out[0], out[1]


def _stops(runs: ModeRuns) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The hinge modes' GD stops: crossing times of 1 in the coarse and the fine run, and the fine run's step of the
    first margin at or above 1; asserts that no margin changes after it (bit for bit), in either run."""
    from learndyn.verify.simulate import first_crossing

    times, firsts = [], []
    for run in (runs.coarse, runs.fine):
        m = runs.flat(run.margins, "hinge")                        # (steps + 1, N)
        above = m >= 1
        if not bool(above.any(0).all()):
            raise RuntimeError("a hinge mode never reached margin 1 within the run")
        first = above.to(torch.int64).argmax(0)
        frozen = m.gather(0, first.unsqueeze(0))
        after = torch.arange(m.shape[0], device=m.device).unsqueeze(1) >= first
        if not bool(torch.where(after, m == frozen, torch.ones_like(above)).all()):
            raise AssertionError("a hinge margin changed after reaching 1: GD did not stop")
        times.append(runs.flat(first_crossing(run, torch.ones((), dtype=F64)), "hinge"))
        firsts.append(first)
    return times[0], times[1], firsts[1]


def _records(runs: ModeRuns, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Record indices of the trajectory check in the coarse run (``2·idx`` in the fine one: the same flow times)
    and their flow times per mode of ``loss``, ``(R, N)``."""
    steps = runs.coarse.steps.numel() - 1
    idx = torch.arange(0, steps + 1, max(1, steps // RECORDS), device=runs.coarse.t.device)
    return idx, runs.flat(runs.coarse.t[idx].unsqueeze(-1).expand(-1, -1, 2), loss)


def _keep_before(x: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """``x`` ``(R, N)`` with record ``j`` replaced by record ``min(j, last)`` (the records after ``last`` repeat it)."""
    j = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    return x.gather(0, torch.minimum(j, last.unsqueeze(0)).expand_as(x))


def _keep_after(x: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    j = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    return x.gather(0, torch.maximum(j, first.unsqueeze(0)).expand_as(x))


def observe_trajectory(runs: ModeRuns, case, sizes, device) -> list[Measurement]:
    """Margins of every mode at ``RECORDS`` flow times, at lr and lr/2, for both losses (hinge: before its stop)."""
    out = []
    for loss in LOSSES:
        idx, t = _records(runs, loss)
        mc = runs.flat(runs.coarse.margins[idx], loss)
        mf = runs.flat(runs.fine.margins[2 * idx], loss)       # step 2k at lr/2: the flow time of step k at lr
        if loss == "hinge":
            sc, sf, _ = _stops(runs)
            gap = (sc - sf).abs()
            cut = torch.minimum(torch.minimum(sc, sf), 2 * sf - sc) - 2 * gap - 2 * runs.lr_of(loss)
            last = ((t < cut).sum(0) - 1).clamp(min=0)
            mc, mf, t = (_keep_before(x, last) for x in (mc, mf, t))
        out.append(Measurement(args=dict(t=t, **_mode_args(runs, loss, lead=1)), observed={OUTPUT: mc},
                               fine={OUTPUT: mf}, reduce_dims=(0,), scale=None, where=_where(case, loss, runs)))
    return out


def observe_hinge_stop(runs: ModeRuns, case, sizes, device) -> Measurement:
    """After the hinge stop: the theory must lie in ``[last margin below 1, frozen margin]`` of the fine run."""
    sc, sf, first_f = _stops(runs)
    _, t = _records(runs, "hinge")
    m = runs.flat(runs.fine.margins, "hinge")
    frozen = m.gather(0, first_f.unsqueeze(0)).squeeze(0)
    before = m.gather(0, (first_f - 1).clamp(min=0).unsqueeze(0)).squeeze(0)
    gap = (sc - sf).abs()
    after = torch.maximum(torch.maximum(sc, sf), 2 * sf - sc) + 2 * gap + 2 * runs.lr_of("hinge")
    first = (t < after).sum(0)
    if bool((first >= t.shape[0]).any()):
        raise RuntimeError("no record after a hinge stop")
    t = _keep_after(t, first)
    return Measurement(args=dict(t=t, **_mode_args(runs, "hinge", lead=1)),
                       observed={OUTPUT: ((frozen + before) / 2).expand_as(t)}, reduce_dims=(0,), scale=1.0,
                       allowance=((frozen - before) / 2).unsqueeze(0) + 1e-12,  # + round-off of the midpoint
                       where=_where(case, "hinge", runs) + " (after the stop)")


def observe_mode_time(runs: ModeRuns, case, sizes, device) -> list[Measurement]:
    """Hitting times of each mode's level (logistic: drawn; hinge: below 1), interpolated in :func:`growth_coordinate`."""
    out = []
    for loss, level in (("logistic", runs.level), ("hinge", runs.hinge_level)):
        hc, hf = _hits(runs, loss, level, growth_coordinate(runs.depth))
        out.append(Measurement(args=dict(m=level, **_mode_args(runs, loss)), observed={OUTPUT: hc}, fine={OUTPUT: hf},
                               scale=None, where=_where(case, loss, runs)))
    return out


def observe_stopping_time(runs: ModeRuns, case, sizes, device) -> Measurement:
    """The hinge modes' crossing times of margin 1 (interpolated in ``m`` within the crossing step)."""
    sc, sf, _ = _stops(runs)
    return Measurement(args=_mode_args(runs, None), observed={OUTPUT: sc}, fine={OUTPUT: sf}, scale=None,
                       where=_where(case, "hinge", runs))


def rate_peak(m: torch.Tensor, lr: torch.Tensor, window: float = INFLECTION_WINDOW) -> torch.Tensor:
    """The margin at which the GD rate ``(m_{k+1} − m_k)/lr`` is largest, per mode: a least-squares quartic in ``m``
    through the steps within ``±window`` (relative) of the discrete maximum, maximised by Newton. ``m``:
    ``(steps + 1, N)``; ``lr``: ``(N,)``."""
    rate = (m[1:] - m[:-1]) / lr
    x = m[:-1]
    out = torch.empty(m.shape[1:], dtype=F64, device=m.device)
    for i in range(m.shape[1]):
        xs, ys = x[:, i], rate[:, i]
        top = int(ys.argmax())
        if top == 0 or top == ys.numel() - 1:
            raise RuntimeError("the GD rate has no interior maximum (no inflection within the run)")
        x0 = float(xs[top])
        sel = (xs - x0).abs() <= window * x0
        if int(sel.sum()) < 5:  # at a large lr (a validity map) the steps are too coarse to fit the quartic
            raise RuntimeError(f"only {int(sel.sum())} GD steps within ±{window:.0%} of the rate's maximum: too few to "
                               "fit its quartic")
        dx = xs[sel] - x0
        scale = float(dx.abs().max())
        V = torch.stack([(dx / scale) ** j for j in range(5)], -1)
        c = torch.linalg.lstsq(V, ys[sel].unsqueeze(-1)).solution.squeeze(-1)
        z = 0.0
        for _ in range(60):
            step = float((c[1] + 2 * c[2] * z + 3 * c[3] * z**2 + 4 * c[4] * z**3)
                         / (2 * c[2] + 6 * c[3] * z + 12 * c[4] * z**2))
            z -= step
            if abs(step) < 1e-15:
                break
        out[i] = x0 + z * scale
    return out


def observe_inflection(runs: ModeRuns, case, sizes, device) -> Measurement:
    """The inflection margin (maximum of the GD rate against ``m``, logistic loss) and the time it is reached."""
    lr = runs.lr_of("logistic")
    peaks = [rate_peak(runs.flat(run.margins, "logistic"), lr / k) for run, k in ((runs.coarse, 1), (runs.fine, 2))]
    times = [_hits(runs, "logistic", peak, growth_coordinate(runs.depth))[i] for i, peak in enumerate(peaks)]
    names = _outputs("margin_inflection")
    observed, fine = {names[0]: peaks[0]}, {names[0]: peaks[1]}
    if len(names) > 1:
        observed[names[1]], fine[names[1]] = times
    args = {n: v for n, v in _mode_args(runs, None).items() if n in _declaration("margin_inflection").names}
    return Measurement(args=args, observed=observed, fine=fine, scale=None, where=_where(case, "logistic", runs))


def _outputs(name: str) -> tuple[str, ...]:
    """The result's output names, from its declaration (``(OUTPUT,)`` for a single output)."""
    outs = getattr(_declaration(name).definition, "outputs", ()) or ()
    return tuple(o[0] if isinstance(o, tuple) else str(o) for o in outs) or (OUTPUT,)


# -- the wrong-sign start (two layers) --------------------------------------------------------------------------

def wrong_sign_start(m0: torch.Tensor, delta: torch.Tensor, r: torch.Tensor, classes: torch.Tensor):
    """``(a0, v0)`` with ``c r a0 v0 = m0 < 0`` and ``a0² − v0² = delta > 0``, ``a0 > 0``:
    ``a0² = (Δ + √(Δ² + 4 m0²/r²))/2``, ``v0 = −c |m0|/(r a0)``."""
    u = m0.abs() / r
    a0 = torch.sqrt((delta + torch.sqrt(delta * delta + 4 * u * u)) / 2)
    return a0, -classes * u / a0


def _crossing_time_estimate(m0, delta, p, r, loss: str) -> torch.Tensor:
    """``∫_{m0}^{0} ds/(p r g(s) √(r²Δ² + 4s²))`` by Gauss–Legendre (to size runs only)."""
    s = (m0.unsqueeze(-1) / 2) * (1 - _NODES.to(m0.device))  # m0 … 0
    g = torch.sigmoid(-s) if loss == "logistic" else torch.ones_like(s)
    f = 1 / (g * torch.sqrt((r * delta).unsqueeze(-1) ** 2 + 4 * s * s))
    return (m0.abs() / 2 * (f * _WEIGHTS.to(m0.device)).sum(-1)) / (p * r)


def _wrong_sign_runs(m0: tuple, delta: tuple, p: tuple, r: tuple, kappa: float, device: str,
                     lr_lambda: float | None = None):
    from learndyn.verify.simulate import orthogonal_features, train_classifier, two_layer_start

    m0_, d_, p_ = (_pair(v, device) for v in (m0, delta, p))
    p_ = torch.stack([p_[:, 0], partner_frequency(p_[:, 0], p_[:, 1])], -1)
    valid = p_ > 0
    r_ = torch.tensor(r, dtype=F64, device=device).unsqueeze(1).expand_as(p_)
    classes = torch.tensor([[1.0, -1.0]], dtype=F64, device=device)
    a0, v0 = wrong_sign_start(m0_, d_, r_, classes)
    zero = torch.zeros_like(p_)
    horizon = torch.cat([torch.where(valid, 1.3 * _crossing_time_estimate(m0_, d_, p_.clamp(min=1e-300), r_, loss),
                                     zero).amax(1) for loss in LOSSES])
    # the weights (a, v) move at rate p g r (eigenvalues ±p g r of the linear flow); the margin at p r (a² + v²) r
    rate = torch.cat([(p_ * r_ * torch.clamp(r_ * (a0 * a0 + v0 * v0), min=1.0)).amax(1)] * 2)
    steps, lr = _steps_and_lr(horizon, rate, kappa, lr_lambda)
    data = orthogonal_features(torch.cat([r_, r_]), torch.cat([p_, p_]), classes, device=device)
    start = two_layer_start(torch.cat([a0, a0]), torch.cat([v0, v0]), device=device)
    loss = ["logistic"] * len(m0) + ["hinge"] * len(m0)
    coarse = train_classifier(data, start, lr, steps, loss=loss)
    fine = train_classifier(data, start, lr / 2, 2 * steps, loss=loss)
    return coarse, fine, valid, m0_[valid], d_[valid], p_[valid], r_[valid]


def simulate_wrong_sign(case, sizes, device) -> list[Measurement]:
    """The time a wrong-sign mode's margin takes to cross 0 (interpolated in ``m``), at lr and lr/2, both losses."""
    from learndyn.verify.simulate import first_crossing

    pts = case["points"]
    col = lambda k: tuple(float(x[k]) for x in pts)  # noqa: E731
    coarse, fine, valid, m0, d, p, r = _wrong_sign_runs(col("m0"), col("delta"), col("p"), col("r"),
                                                        float(sizes.get("kappa", KAPPA)), str(device),
                                                        _lr_lambda(sizes))
    out = []
    for loss in LOSSES:
        hc, hf = (flat_modes(first_crossing(run, torch.zeros((), dtype=F64)), valid, loss) for run in (coarse, fine))
        if bool(hc.isnan().any() | hf.isnan().any()):
            raise RuntimeError("a wrong-sign mode never crossed margin 0 within the run")
        out.append(Measurement(args=dict(m0=m0, delta=d, p=p, r=r, loss=loss), observed={OUTPUT: hc},
                               fine={OUTPUT: hf}, scale=None,
                               where=f"two layers, {loss}, {len(pts)} networks, {m0.numel()} modes, seed {case['seed']}"))
    return out


# -- starvation (hinge, one path per feature) ------------------------------------------------------------------

STARVATION_COLUMNS = ("m10", "m20", "r1", "r2", "q", "class_fraction")


def starvation_run(depth: int, values: dict[str, torch.Tensor], lr_scale: float, device: str, *, control: bool = False,
                   loss: str = "hinge", horizon: torch.Tensor | None = None, kappa: float = KAPPA,
                   record_every: int = 1, paths: bool = True, lr_lambda: float | None = None):
    """GD (one path per feature; ``paths=False``: fully connected) on
    :func:`~learndyn.verify.simulate.starvation_data` from the decoupled balanced
    start ``(m10, m20, m10)`` (feature 3: the other class); ``lr = κ/(L P max(r1^{2/L}, q r2^{2/L}))`` times
    ``lr_scale``,
    up to ``horizon`` (default: 1.2 × the time feature 1 alone takes to margin 1 under the hinge loss, a bound on
    the starved margin's freezing time); ``lr_lambda`` (a validity map): ``lr = lr_lambda/(L P max(r1^{2/L},
    q r2^{2/L}))`` exactly, times ``lr_scale``. Returns ``(run, lr)``."""
    from learndyn.verify.simulate import decoupled_start, path_masks, starvation_data, train_classifier

    v = values
    P = v["class_fraction"]
    rate = depth * P * torch.maximum(v["r1"] ** (2.0 / depth), v["q"] * v["r2"] ** (2.0 / depth))
    if horizon is not None:
        horizon = torch.as_tensor(horizon, dtype=F64, device=P.device)
    else:
        horizon = 1.2 * flow_time_estimate(v["m10"], torch.ones_like(v["m10"]), depth * P * v["r1"] ** (2.0 / depth),
                                           depth, "hinge")
    steps, lr = _steps_and_lr(horizon, rate, kappa, lr_lambda)
    lr = lr * lr_scale
    k = int(round(1 / lr_scale))
    data = starvation_data(v["r1"], v["r2"], v["q"], P, control=control, device=device)
    m0 = torch.stack([v["m10"], v["m20"], v["m10"]], -1)
    r = torch.stack([v["r1"], v["r2"], v["r1"]], -1)
    classes = torch.tensor([[1.0, 1.0, -1.0]], dtype=F64, device=device)
    start = decoupled_start(m0, r, classes, depth, device=device)
    masks = path_masks(depth, 3, 3, device=device) if paths else None
    run = train_classifier(data, start, lr, k * steps, loss=loss, masks=masks, record_every=record_every)
    return run, lr


def frozen_rare_margin(run) -> torch.Tensor:
    """The rare feature's margin ``m2`` where the co-occurring examples' margin ``m1 + m2`` first reaches 1,
    interpolated linearly within that step; asserts that ``m2`` never changes afterwards."""
    s = run.margins[:, :, 1]             # the co-occurring example
    m2 = run.feature_margins[:, :, 1]
    above = s >= 1
    if not bool(above.any(0).all()):
        raise RuntimeError("the co-occurring examples never reached margin 1 within the run")
    k = above.to(torch.int64).argmax(0).clamp(min=1)
    s1, s0 = s.gather(0, k.unsqueeze(0)).squeeze(0), s.gather(0, (k - 1).unsqueeze(0)).squeeze(0)
    a1, a0 = m2.gather(0, k.unsqueeze(0)).squeeze(0), m2.gather(0, (k - 1).unsqueeze(0)).squeeze(0)
    after = torch.arange(s.shape[0], device=s.device).unsqueeze(1) >= k
    if not bool(torch.where(after, m2 == a1, torch.ones_like(after)).all()):
        raise AssertionError("the rare feature's margin changed after the co-occurring examples reached margin 1")
    return a0 + (a1 - a0) * (1 - s0) / (s1 - s0)


def simulate_starved(case, sizes, device) -> Measurement:
    """The starved margin at lr and lr/2 (module docstring)."""
    depth = int(case["depth"])
    v = {k: torch.tensor([float(x[k]) for x in case["points"]], dtype=F64, device=device) for k in STARVATION_COLUMNS}
    kappa = float(sizes.get("kappa", KAPPA))
    runs = [starvation_run(depth, v, s, str(device), kappa=kappa, lr_lambda=_lr_lambda(sizes))[0] for s in (1.0, 0.5)]
    obs = [frozen_rare_margin(run) for run in runs]
    return Measurement(args=dict(**v, depth=depth), observed={OUTPUT: obs[0]}, fine={OUTPUT: obs[1]}, scale=None,
                       where=f"depth {depth}, hinge, {len(case['points'])} networks, seed {case['seed']}")


# -- cases and declarations --------------------------------------------------------------------------------------

def _points_strategy(name: str, only: tuple[str, ...], batch: int):
    from learndyn.verify.strategies import point_strategy

    return st.lists(point_strategy(_declaration(name), "sim", only=only), min_size=batch, max_size=batch)


def _depth_strategy(name: str, lowest: int = 1):
    from learndyn.verify.strategies import param_strategy

    return param_strategy(_declaration(name).param("depth"), "sim").filter(lambda d: d >= lowest)


MODE_COLUMNS = ("m0", "p", "r", "m")


def mode_strategy(lowest_depth: int = 1):
    """Cases of the mode results: a depth, ``BATCH`` points ``(m0, p, r, m)`` of ``classification_mode_time``'s
    simulation ranges, a seed (the same strategy for every mode result, so their drawn cases, and runs, coincide)."""
    def build(result):
        return st.fixed_dictionaries({
            "depth": _depth_strategy("classification_mode_time", lowest_depth),
            "points": _points_strategy("classification_mode_time", MODE_COLUMNS, BATCH),
            "seed": st.integers(0, 2**31 - 1)})
    return build


def mode_points(depths: tuple[int, ...]) -> tuple[dict, ...]:
    """Pinned cases: at each depth, ``BATCH`` points spread over the simulation ranges (both losses run)."""
    r = _declaration("classification_mode_time")
    pts = pinned_batch(r, MODE_COLUMNS, BATCH * 3)
    return tuple({"depth": d, "points": pts[BATCH * (d - 1):BATCH * d], "seed": 11 + d} for d in depths)


def _plain_strategy(name: str, columns: tuple[str, ...], batch: int, with_depth: bool = False):
    def build(result):
        parts = {"points": _points_strategy(name, columns, batch), "seed": st.integers(0, 2**31 - 1)}
        if with_depth:
            parts["depth"] = _depth_strategy(name)
        return st.fixed_dictionaries(parts)
    return build


WRONG_SIGN_COLUMNS = ("m0", "delta", "p", "r")


def _wrong_sign_points() -> tuple[dict, ...]:
    r = _declaration("wrong_sign_crossing_time")
    return ({"points": pinned_batch(r, WRONG_SIGN_COLUMNS, BATCH), "seed": 21},)


def _starved_points() -> tuple[dict, ...]:
    r = _declaration("starved_margin")
    pts = pinned_batch(r, STARVATION_COLUMNS, 3 * BATCH)
    return tuple({"depth": d, "points": pts[(d - 1) * BATCH:d * BATCH], "seed": 30 + d} for d in (1, 2, 3))


#: the lr axis of every check (module docstring): from the family's cap, no stability limit to probe
LR_AXIS = lr_axis(start=KAPPA)


def _checks() -> tuple[SimulationCheck, ...]:
    modes = mode_points((1, 2, 3))
    common = dict(method="gd", compare=RICHARDSON, sizes={"kappa": KAPPA}, examples_per_case=EXAMPLES_PER_CASE,
                  axes=(LR_AXIS,))
    return (
        SimulationCheck(result="classification_mode_trajectory", title="GD, ReLU nets, both losses, Richardson",
                        simulate=SharedRun(mode_runs, observe_trajectory), strategy=mode_strategy(), points=modes, **common),
        SimulationCheck(result="classification_mode_trajectory", title="GD, hinge stop: frozen bracket",
                        method="gd", compare=BRACKET, simulate=SharedRun(mode_runs, observe_hinge_stop), strategy=mode_strategy(),
                        points=modes, sizes={"kappa": KAPPA}, examples_per_case=EXAMPLES_PER_CASE, axes=(LR_AXIS,)),
        SimulationCheck(result="classification_mode_time", title="GD, ReLU nets, hitting time, Richardson",
                        simulate=SharedRun(mode_runs, observe_mode_time), strategy=mode_strategy(), points=modes, **common),
        SimulationCheck(result="hinge_stopping_time", title="GD, ReLU nets, hinge stop, Richardson",
                        simulate=SharedRun(mode_runs, observe_stopping_time), strategy=mode_strategy(), points=modes, **common),
        SimulationCheck(result="margin_inflection", title="GD, maximal rate, Richardson",
                        simulate=SharedRun(mode_runs, observe_inflection), strategy=mode_strategy(2), points=modes[1:], **common),
        SimulationCheck(result="wrong_sign_crossing_time", title="GD, two layers, crossing of 0, Richardson",
                        simulate=simulate_wrong_sign, strategy=_plain_strategy("wrong_sign_crossing_time",
                                                                               WRONG_SIGN_COLUMNS, BATCH),
                        points=_wrong_sign_points(), **common),
        SimulationCheck(result="starved_margin", title="GD, one path per feature, hinge, Richardson",
                        simulate=simulate_starved, strategy=_plain_strategy("starved_margin", STARVATION_COLUMNS,
                                                                            BATCH, with_depth=True),
                        points=_starved_points(), **common),
    )


SIMULATIONS = _checks()


def __getattr__(name: str):
    """``CLAIM_CHECKS``: the family's claim checks, by claim (``learndyn.verify.families.claim_checks`` collects
    them), from :mod:`learndyn.verify.families.classification_claims`, which builds on this module."""
    if name == "CLAIM_CHECKS":
        from learndyn.verify.families.classification_claims import CLASSIFICATION_CLAIMS

        return CLASSIFICATION_CLAIMS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
