"""Claims of family 4 (seed 004): the trainability / generalisation trade-off of deep erf networks, at infinite width.

Both claims are about the NTK ``Θ^l`` of an erf network with ``l`` hidden layers on normalised inputs
(``K⁰_aa = 1``, rows of norm ``√d``), computed by ``ntk_kernel`` on a small seeded teacher task (one hypothesis
example = one task: ``N_TRAIN`` training and ``N_TEST`` test rows in ``d ∈ {8, 16, 32}``, targets from a random
one-hidden-layer erf teacher). Two quantities decide them:

* trainability: ``κ = ntk_condition_number(Θ_train)`` — gradient descent at the largest stable rate
  (``lr ≈ 2 n k/λ_max``) needs about ``κ`` steps to fit the slowest mode;
* generalisation: the spread of ``P = mean_prediction(Θ_test,train, Θ_train, Y)`` (the ``t → ∞`` mean output of
  the infinite network) over the test rows, ``spread = std_test(P)/rms(Y)`` (:func:`prediction_spread`): ``0``
  means the prediction no longer depends on the test input.

**Chaotic phase** (``σ_w² = 25``, ``σ_b² = 0.05``, ``χ1 = 3.3999``; THEORY.md's "≈ 3.2" is a loose figure, the
fixed-point equation gives 3.40): ``Θ^l = D_l (I + O((χ_c*/χ1)^l))`` with ``D_l ∝ χ1^l`` while the off-diagonal
entries stay bounded (→ ``q* c*/(1 − χ_c*)``), so ``κ → 1`` and ``P ≈ Θ_{*X} Y/D_l → 0``. Asserted at depths
``CHAOTIC_DEPTHS``: ``κ`` decreases with depth, ``κ − 1 ≤ 1e-9`` at the deepest; ``spread`` decreases, below
``1e-9`` at the deepest. Consistency (scalar results, no kernel inverse): the ratio of successive diagonals
``Θ^{48}_aa/Θ^{47}_aa`` equals ``chi1`` within ``1e-6`` (relative), and the off-diagonal entries of ``Θ^{48}``
equal ``ntk_depth_limit(...).off_diagonal`` within ``1e-3`` (relative; the approach is like ``l χ_c*^l``,
``χ_c* = e^{−1/ξ_c} = 0.718``, about ``3e-5`` at ``l = 48``) and are 10 times closer than at ``l = 24``.

**Ordered phase** (``σ_w² = 0.5``, ``σ_b² = 0.05``, ``χ1 = 0.5335``): ``Θ^l → Θ* 𝟙𝟙ᵀ`` with
``Θ* = q*/(1 − χ1)``; what is left, ``Θ^l − Θ* 𝟙𝟙ᵀ = O(l χ1^l)``, carries the inputs' structure, so ``κ`` grows
like ``1/(l χ1^l)`` while ``P`` keeps depending on the inputs. Asserted at depths ``1 … 24`` (where ``κ·eps ≤ 1e-6``
is also asserted: ``Θ − Θ*`` is resolved in float64 — THEORY.md warns that it is not after a few dozen layers):
``κ`` increases at every depth; the least-squares slope of ``ln(l κ_l)`` against ``l`` over ``l = 8 … 24`` is
``−ln χ1 = 0.628`` within ``GROWTH_TOL = 5 %`` (a loose test of the law, but tight enough to tell it from
``1/χ1^l``: over 60 tasks the slope of ``ln(l κ)`` is 1.9–2.7 % above ``−ln χ1`` while that of ``ln κ`` is 8–9 %
below; a depth-independent kernel gives 0, the chaotic phase a negative slope); ``spread ≥ 0.5·spread(l = 1)``
and ``≥ 0.1`` at every depth (measured: flat, 0.7–1.1). Consistency: every entry of ``Θ^{24}`` is
``ntk_depth_limit(...)`` (diagonal = off-diagonal = ``Θ*``) within ``1e-4`` (relative; measured ≈ 1e-5), and the
slope of ``ln(dev_l/l)`` over ``l = 8 … 24`` (``dev_l`` = largest relative deviation) is ``ln χ1`` within 5 %
(measured 0.5–0.8 %).

Every criterion is a ratio ``value/threshold`` (≤ 1 passes); ``worst`` is the largest over criteria and examples,
``tolerance`` is 1. A wrong theory — phases swapped, ``ntk_kernel`` ignoring depth, a wrong ``chi1`` or
``ntk_depth_limit`` — fails (``tests/test_ntk_claims.py``).

Every generated function is reached through :func:`_f` (which the tests replace by wrong theories).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from hypothesis import strategies as st

from learndyn.verify.report import Check
from learndyn.verify.runner import VerifyConfig
from learndyn.verify.property_runs import run_examples

__all__ = ["NTK_CLAIMS", "teacher_task", "prediction_spread", "CHAOTIC", "ORDERED", "CHAOTIC_DEPTHS",
           "ORDERED_DEPTHS"]

#: (sigma_w2, sigma_b2) of the two phases (erf)
CHAOTIC = (25.0, 0.05)
ORDERED = (0.5, 0.05)
CHAOTIC_DEPTHS = (1, 2, 4, 8, 16, 32)
ORDERED_DEPTHS = tuple(range(1, 25))
N_TRAIN, N_TEST = 24, 8
DIMS = (8, 16, 32)
GROWTH_TOL = 0.05
FIT_DEPTHS = (8, 24)  # inclusive range of the ordered-phase slope fits
_EPS = torch.finfo(torch.float64).eps


# ---------------------------------------------------------------- generated functions


def _f(name: str) -> Callable:
    """``learndyn.function(name)``."""
    import learndyn

    return learndyn.function(name)


# ---------------------------------------------------------------- data and measures


def teacher_task(seed: int, d: int = 16, n_train: int = N_TRAIN, n_test: int = N_TEST, hidden: int = 8):
    """``(x_train, y_train, x_test)``: Gaussian rows scaled to norm ``√d`` (``K⁰_aa = 1``), targets ``(n, 1)`` of a
    random teacher ``y = Σ_j v_j erf(w_j·x/√d)/√hidden`` (``w_j``, ``v_j`` standard normal); float64, from
    ``torch.Generator().manual_seed(seed)``."""
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn(n_train + n_test, d, generator=g, dtype=torch.float64)
    x = x * (math.sqrt(d) / x.norm(dim=1, keepdim=True))
    w = torch.randn(d, hidden, generator=g, dtype=torch.float64)
    v = torch.randn(hidden, 1, generator=g, dtype=torch.float64)
    y = torch.erf(x @ w / math.sqrt(d)) @ v / math.sqrt(hidden)
    return x[:n_train], y[:n_train], x[n_train:]


def prediction_spread(prediction: torch.Tensor, y_train: torch.Tensor) -> float:
    """How much a prediction ``(n*, k)`` varies over the test rows, in units of the targets:
    ``sqrt(mean_j Var_rows(P_·j)) / sqrt(mean(Y²))`` (population variance); ``0`` for an input-independent one."""
    p = prediction.reshape(prediction.shape[0], -1)
    return float(p.var(dim=0, unbiased=False).mean().sqrt() / y_train.pow(2).mean().sqrt())


def _kernels(x_train, x_test, depth: int, phase: tuple[float, float]):
    """``(Θ_train,train, Θ_test,train)`` from one ``ntk_kernel`` call on ``[train; test] × train``."""
    n = x_train.shape[0]
    theta = _f("ntk_kernel")(x1=torch.cat([x_train, x_test]), x2=x_train, hidden_layers=depth,
                             sigma_w2=phase[0], sigma_b2=phase[1], activation="erf")
    return theta[:n], theta[n:]


def _depth_sweep(x_train, y_train, x_test, depths, phase):
    """κ, spread and the train kernels at each depth."""
    kappa, spread, thetas = [], [], []
    for depth in depths:
        tt, st_ = _kernels(x_train, x_test, depth, phase)
        kappa.append(float(_f("ntk_condition_number")(ntk_train_train=tt)))
        pred = _f("mean_prediction")(ntk_test_train=st_, ntk_train_train=tt, y_train=y_train)
        spread.append(prediction_spread(pred, y_train))
        thetas.append(tt)
    return kappa, spread, thetas


def _slope(xs, ys) -> float:
    """Least-squares slope of ``ys`` against ``xs``."""
    x = torch.tensor(xs, dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64)
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def _scalar(name: str, phase, field: str | None = None) -> float:
    out = _f(name)(sigma_w2=phase[0], sigma_b2=phase[1], activation="erf")
    return float(getattr(out, field) if field else out)


class _Criteria:
    """Ratios ``value/threshold`` (≤ 1 passes); the first one above 1 becomes the failure message."""

    def __init__(self):
        self.worst = 0.0
        self.count = 0
        self.details: dict = {}

    def require(self, ratio: float, message: str) -> None:
        ratio = float(ratio) if ratio == ratio else math.inf  # NaN fails
        self.worst = max(self.worst, ratio)
        if not ratio <= 1.0:
            raise AssertionError(message)


def _strategy():
    return st.tuples(st.integers(0, 2**31 - 1), st.sampled_from(DIMS))


def _batches(config: VerifyConfig) -> int:
    return max(1, config.examples // 50)


# ---------------------------------------------------------------- the claims


def chaotic_phase_trains_fast_but_forgets_inputs(config: VerifyConfig) -> Check:
    """Chaotic erf networks (σ_w² = 25, σ_b² = 0.05): ``κ → 1`` and the mean prediction's spread over test inputs
    ``→ 0`` with depth; ``Θ^l_aa`` grows by ``chi1`` per layer and the off-diagonal tends to
    ``ntk_depth_limit``'s (module docstring)."""
    crit = _Criteria()
    chi = _scalar("chi1", CHAOTIC)
    off_limit = _scalar("ntk_depth_limit", CHAOTIC, "off_diagonal")
    crit.details.update(chi1=chi, off_diagonal_limit=off_limit, depths=list(CHAOTIC_DEPTHS), examples=[])

    def body(ex):
        seed, d = ex
        x_train, y_train, x_test = teacher_task(seed, d)
        kappa, spread, _ = _depth_sweep(x_train, y_train, x_test, CHAOTIC_DEPTHS, CHAOTIC)
        rec = {"seed": seed, "d": d, "kappa": kappa, "spread": spread}
        crit.details["examples"].append(rec)
        crit.count += 1
        where = f"(teacher seed {seed}, d = {d})"
        for (l0, k0), (l1, k1) in zip(zip(CHAOTIC_DEPTHS, kappa), zip(CHAOTIC_DEPTHS[1:], kappa[1:])):
            # strictly decreasing while κ − 1 is resolved; never increasing beyond round-off
            excess = (k1 - 1) / (k0 - 1) if k0 - 1 > 1e-12 else (k1 - 1) / 1e-12
            crit.require(excess, f"kappa does not decrease with depth {where}: kappa({l0}) = {k0:.6g}, "
                                 f"kappa({l1}) = {k1:.6g}")
        crit.require((kappa[-1] - 1) / 1e-9, f"kappa at depth {CHAOTIC_DEPTHS[-1]} is {kappa[-1]:.6g}, not within "
                                             f"1e-9 of 1 {where}")
        for (l0, s0), (l1, s1) in zip(zip(CHAOTIC_DEPTHS, spread), zip(CHAOTIC_DEPTHS[1:], spread[1:])):
            crit.require(s1 / s0 if s0 > 0 else math.inf,
                         f"the mean prediction's spread does not decrease with depth {where}: "
                         f"{s0:.3g} at depth {l0}, {s1:.3g} at depth {l1}")
        crit.require(spread[-1] / 1e-9, f"the mean prediction still depends on the inputs at depth "
                                        f"{CHAOTIC_DEPTHS[-1]} {where}: spread {spread[-1]:.3g} > 1e-9")
        # consistency with the scalar results, on the first 6 training rows
        rows = x_train[:6]
        th = {l: _f("ntk_kernel")(x1=rows, x2=None, hidden_layers=l, sigma_w2=CHAOTIC[0], sigma_b2=CHAOTIC[1],
                                  activation="erf") for l in (24, 47, 48)}
        ratio = th[48].diagonal() / th[47].diagonal()
        err = float((ratio / chi - 1).abs().max())
        rec["diagonal_ratio_rel_err"] = err
        crit.require(err / 1e-6, f"Theta^48_aa/Theta^47_aa = {float(ratio[0]):.10g} is not chi1 = {chi:.10g} within "
                                 f"1e-6 {where}")
        off = ~torch.eye(rows.shape[0], dtype=torch.bool)
        dev = {l: float((th[l][off] / off_limit - 1).abs().max()) for l in (24, 48)}
        rec["off_diagonal_rel_dev"] = dev
        crit.require(dev[48] / 1e-3, f"off-diagonal of Theta^48 is {dev[48]:.3g} (relative) from ntk_depth_limit's "
                                     f"{off_limit:.6g}, more than 1e-3 {where}")
        crit.require(dev[48] / (dev[24] / 10), f"off-diagonal of Theta^l does not approach ntk_depth_limit: relative "
                                               f"deviation {dev[24]:.3g} at l = 24, {dev[48]:.3g} at l = 48 {where}")

    failure = run_examples(_strategy(), body, config, _batches(config))
    return Check("chaotic_phase_trains_fast_but_forgets_inputs", "claim", crit.count, crit.worst, 1.0,
                 "max criterion/threshold (kappa-1, spread, monotonicity, chi1 and limit consistency)",
                 failure is None, failure, crit.details)


def ordered_phase_generalises_but_trains_slowly(config: VerifyConfig) -> Check:
    """Ordered erf networks (σ_w² = 0.5, σ_b² = 0.05): ``κ`` grows with depth about like ``1/(l χ1^l)`` while the
    mean prediction keeps its dependence on the test inputs, at depths where ``Θ − Θ*`` is resolved; ``Θ^l`` tends
    to ``ntk_depth_limit`` at the rate ``l χ1^l`` (module docstring)."""
    crit = _Criteria()
    chi = _scalar("chi1", ORDERED)
    limit = _f("ntk_depth_limit")(sigma_w2=ORDERED[0], sigma_b2=ORDERED[1], activation="erf")
    diag_lim, off_lim = float(limit.diagonal), float(limit.off_diagonal)
    rate = -math.log(chi)
    crit.details.update(chi1=chi, depth_limit=(diag_lim, off_lim), expected_log_growth=rate,
                        depths=list(ORDERED_DEPTHS), examples=[])
    lo, hi = FIT_DEPTHS
    fit = [i for i, l in enumerate(ORDERED_DEPTHS) if lo <= l <= hi]

    def body(ex):
        seed, d = ex
        x_train, y_train, x_test = teacher_task(seed, d)
        kappa, spread, thetas = _depth_sweep(x_train, y_train, x_test, ORDERED_DEPTHS, ORDERED)
        rec = {"seed": seed, "d": d, "kappa": kappa, "spread": spread}
        crit.details["examples"].append(rec)
        crit.count += 1
        where = f"(teacher seed {seed}, d = {d})"
        for l, k in zip(ORDERED_DEPTHS, kappa):
            crit.require(k * _EPS / 1e-6, f"Theta - Theta* is not resolved in float64 at depth {l}: kappa = {k:.3g} "
                                          f"> 1e-6/eps {where}")
        for (l0, k0), (l1, k1) in zip(zip(ORDERED_DEPTHS, kappa), zip(ORDERED_DEPTHS[1:], kappa[1:])):
            crit.require(k0 / k1, f"kappa does not grow with depth {where}: kappa({l0}) = {k0:.6g}, "
                                  f"kappa({l1}) = {k1:.6g}")
        ls = [ORDERED_DEPTHS[i] for i in fit]
        slope = _slope(ls, [math.log(l * kappa[i]) for l, i in zip(ls, fit)])
        rec["log_growth_of_l_kappa"] = slope
        rec["log_growth_of_kappa"] = _slope(ls, [math.log(kappa[i]) for i in fit])
        crit.require(abs(slope / rate - 1) / GROWTH_TOL,
                     f"ln(l kappa) grows by {slope:.4g} per layer over l = {lo}..{hi}, not -ln chi1 = {rate:.4g} "
                     f"within {GROWTH_TOL:.0%} {where}")
        for l, s in zip(ORDERED_DEPTHS, spread):
            crit.require(max(0.5 * spread[0], 0.1) / s if s > 0 else math.inf,
                         f"the mean prediction loses its input dependence at depth {l} {where}: spread {s:.3g} "
                         f"(depth 1: {spread[0]:.3g}; needs >= max(0.5 x that, 0.1))")
        # consistency with ntk_depth_limit: every entry tends to Θ*, the deviation decaying like l χ1^l
        eye = torch.eye(x_train.shape[0], dtype=torch.bool)
        devs = [max(float((th.diagonal() / diag_lim - 1).abs().max()), float((th[~eye] / off_lim - 1).abs().max()))
                for th in thetas]
        rec["depth_limit_rel_dev"] = devs
        crit.require(devs[-1] / 1e-4, f"Theta^{ORDERED_DEPTHS[-1]} is {devs[-1]:.3g} (relative) from ntk_depth_limit "
                                      f"({diag_lim:.6g}, {off_lim:.6g}), more than 1e-4 {where}")
        dslope = _slope(ls, [math.log(devs[i] / l) for l, i in zip(ls, fit)])
        rec["log_decay_of_dev_over_l"] = dslope
        crit.require(abs(dslope / -rate - 1) / GROWTH_TOL,
                     f"Theta^l - Theta* decays like exp({dslope:.4g} l) l, not chi1^l l (ln chi1 = {-rate:.4g}) "
                     f"within {GROWTH_TOL:.0%} {where}")

    failure = run_examples(_strategy(), body, config, _batches(config))
    return Check("ordered_phase_generalises_but_trains_slowly", "claim", crit.count, crit.worst, 1.0,
                 "max criterion/threshold (kappa growth, spread, resolvability, depth-limit consistency)",
                 failure is None, failure, crit.details)


NTK_CLAIMS: dict[str, Callable[[VerifyConfig], Check]] = {
    "chaotic_phase_trains_fast_but_forgets_inputs": chaotic_phase_trains_fast_but_forgets_inputs,
    "ordered_phase_generalises_but_trains_slowly": ordered_phase_generalises_but_trains_slowly,
}
