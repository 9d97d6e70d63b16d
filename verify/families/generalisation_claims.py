r"""Claims of family 6 (seed 003), checked as properties of the theory (the generated functions) and of simulation
(sampled spectra, gradient descent, the ridge solve, deep linear networks), with the tier-b machinery of
:mod:`learndyn.verify.families.generalisation`:

* ``overtraining_peaks_at_one``: on ``ALPHA_GRID`` (σ_w² = 1, σ_ε² = 0.5, σ_0² = 0) the seed mean of each realisation's
  ``E_g(∞) − min_t E_g`` (``N = 200``, 32 realisations) and the generated ``overtraining`` both have their maximum at the
  grid point nearest 1 (0.95) and fall on either side of it; ``min_t E_g`` (``optimal_stopping_time``) is smooth
  through ``α = 1``: finite there, its second difference over ``α = 0.95, 1, 1.05`` below 1 % of it;
* ``frozen_subspace``: GD (:func:`~learndyn.verify.simulate.simulate_linear_student`, ``α < 1``) moves the weights in
  null(X) by at most ``FROZEN_TOL`` (relative, every record); the generated ``generalisation_error`` at late times
  keeps the frozen part: ``E_g(t) ≥ σ_ε² + (1 − α)(σ_w² + σ_0²)``;
* ``training_monotone_generalisation_one_minimum``: on a fine log grid of ``t`` the generated ``E_t`` never rises and
  ``E_g`` falls then rises once (sign changes of its differences, where resolved above round-off), and so does every
  realisation's exact ``E[E_g | X](t)``, ``E[E_t | X](t)``;
* ``stopping_time_scaling``: at large ``snr = σ_w²/σ_ε²`` the slope ``Δt_opt/Δ ln snr`` between ``snr`` and ``10 snr``
  approaches ``1/λ₋`` (``α ≠ 1``), and ``t_opt/snr`` approaches ``1/(4(√2 − 1))`` at ``α = 1``: both ratios are reported
  per ``snr`` and must move toward 1 as ``snr`` grows and be within ``SCALING_TOL`` of 1 at the largest (measured with
  an independent quadrature: ``λ₋ Δt_opt/Δ ln snr`` between ``snr = 1e4`` and ``1e5`` is 0.979–0.987 for ``α`` in {0.25,
  0.5, 2, 4}, approaching 1 slowly, as ``1 − O(1/(λ₋ t_opt))`` from the edge's ``t^{−3/2}``; ``4(√2 − 1) t_opt/snr`` at
  ``α = 1`` is 1.0007, 1.0001, 1.0000, 1.0000 at ``snr = 1e2 … 1e5``);
* ``ridge_beats_early_stopping``: the generated ``ridge_error`` at ``γ = σ_ε²/σ_w²`` is below ``min_error`` and below
  ridge at ``γ`` 2× off; in every simulated realisation the ridge solution's ``E[E_g | X]`` at that ``γ`` is at most the
  realisation's own best early-stopping ``E[E_g | X]`` (the posterior mean is optimal given ``X``);
* ``initial_variance_cost``: the generated ``(E_g(∞; σ_0² = a) − E_g(∞; 0))/a`` equals ``1 − α`` (``α < 1``) within
  ``1e-9``, and 0 for ``α > 1``; simulated with the exact limit per realisation at the REALISED draws (common teacher,
  data and noise; the start scaled) the seed mean is ``1 − P/N`` within ``k`` standard errors;
* ``pretraining_accelerates``: :func:`~learndyn.verify.simulate.pretraining_comparison` (depth 2, whitened data): every
  mode reaches half its strength sooner from the aligned start than from the random start of equal norm, and the
  aligned time, Richardson-extrapolated over ``lr, lr/2``, is family 1's ``mode_learning_time`` within
  ``RICHARDSON_TOL``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from learndyn.verify.report import Check

from . import generalisation as fam

__all__ = ["GENERALISATION_CLAIMS", "ALPHA_GRID", "FROZEN_TOL", "SCALING_TOL"]

F64 = torch.float64
ALPHA_GRID = (0.25, 0.5, 0.8, 0.95, 1.25, 2.0, 4.0)
FROZEN_TOL = 1e-12
SCALING_TOL = 0.1
SNRS = (1e2, 1e3, 1e4, 1e5)


def _fn(name: str):
    import learndyn

    return learndyn.function(name, check=False)


def _t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=F64)


def _row(name: str, count: int, worst: float, tol: float, measure: str, failure, details) -> Check:
    return Check(name, "claim", count, float(worst), float(tol), measure, failure is None, failure, details)


def _run(name: str, body: Callable[[dict], None], count: int, worst_key: str, tol: float, measure: str) -> Check:
    from learndyn.verify.figures.threads import single_thread

    record: dict = {worst_key: 0.0}
    failure = None
    try:
        with single_thread():
            body(record)
    except AssertionError as exc:
        failure = str(exc).splitlines()[0]
    return _row(name, count, record.get(worst_key, 0.0), tol, measure, failure,
                {k: v for k, v in record.items() if k != worst_key})


def _seeds(config, salt: int, count: int) -> list[int]:
    return fam._seeds(config.seed + salt, 0, count)


# -- overtraining peaks at one -------------------------------------------------------------------------------------

def overtraining_peak_check(config) -> Check:
    sw, se, s0 = 1.0, 0.5, 0.0

    def body(rec):
        sims = []
        for i, a in enumerate(ALPHA_GRID):
            lam, P = fam.spectrum(200, a, fam._seeds(config.seed + 101, i, 32), config.device)
            _, m = fam.stopping(lam, sw + s0, se)
            limit = fam.conditional_generalisation(lam, torch.zeros_like(lam), sw + s0, se)
            sims.append(float((limit - m).mean()))
        theory = _fn("overtraining")(alpha=_t(ALPHA_GRID), sigma_w2=sw, sigma_eps2=se, sigma_02=s0)
        rec["simulated"], rec["theory"] = sims, theory.tolist()
        nearest = min(range(len(ALPHA_GRID)), key=lambda i: abs(math.log(ALPHA_GRID[i])))
        for label, vals in (("simulated", sims), ("theory", theory.tolist())):
            top = max(range(len(vals)), key=lambda i: vals[i])
            assert top == nearest, f"overtraining_peaks_at_one: the {label} maximum is at alpha {ALPHA_GRID[top]}"
            assert all(vals[i] < vals[i + 1] for i in range(nearest)) and all(
                vals[i] > vals[i + 1] for i in range(nearest, len(vals) - 1)), (
                f"overtraining_peaks_at_one: {label} overtraining does not fall away from alpha = 1: {vals}")
        mins = _fn("optimal_stopping_time")(alpha=_t([0.95, 1.0, 1.05]), sigma_w2=sw, sigma_eps2=se, sigma_02=s0)
        m = mins.min_error
        curvature = float((m[0] + m[2] - 2 * m[1]).abs() / m[1])
        rec["second_difference"] = curvature
        assert bool(torch.isfinite(m).all()) and curvature < 0.01, (
            f"overtraining_peaks_at_one: min_t E_g is not smooth through alpha = 1 ({m.tolist()})")

    return _run("overtraining_peaks_at_one", body, 2 * len(ALPHA_GRID), "second_difference", 0.01,
                "relative second difference of min_t E_g over alpha = 0.95, 1, 1.05 (and the peak's place)")


# -- frozen subspace -------------------------------------------------------------------------------------------------

def frozen_subspace_check(config) -> Check:
    from learndyn.verify.simulate import simulate_linear_student, student_teacher_data

    alphas = (0.25, 0.5, 0.8)

    def body(rec):
        data = student_teacher_data(100, alphas, _seeds(config, 7, 3), sigma_w2=1.0, sigma_eps2=0.5, sigma_02=0.5,
                                    device=config.device)
        run = simulate_linear_student(data, 0.1, 2000, record=200, frozen=True)
        motion = float(run.frozen_motion.max())
        rec["motion"] = motion
        assert motion <= FROZEN_TOL, f"frozen_subspace: GD moved the weights in null(X) by {motion:.3g}"
        a = _t(alphas)
        late = _fn("generalisation_error")(t=_t(1e6), alpha=a, sigma_w2=1.0, sigma_eps2=0.5, sigma_02=0.5)
        floor = 0.5 + (1 - a) * 1.5
        rec["theory_above_frozen_floor"] = (late - floor).tolist()
        assert bool((late >= floor * (1 - 1e-12)).all()), "frozen_subspace: the theory's E_g drops below the frozen part"

    return _run("frozen_subspace", body, 9, "motion", FROZEN_TOL,
                "max |projection of w - w0 on null(X)| / |w - w0| over GD records")


# -- E_t monotone, E_g one minimum --------------------------------------------------------------------------------------

def _sign_changes(curve: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """Sign changes of the differences along the last axis, where they are resolved above ``rtol`` of the curve."""
    d = curve[..., 1:] - curve[..., :-1]
    resolved = d.abs() > rtol * curve[..., 1:].abs()
    s = torch.sign(d)
    changes = torch.zeros(curve.shape[:-1], dtype=torch.int64)
    last = torch.zeros(curve.shape[:-1], dtype=F64)
    for j in range(d.shape[-1]):
        now = torch.where(resolved[..., j], s[..., j], torch.zeros_like(s[..., j]))
        flip = (now != 0) & (last != 0) & (now != last)
        changes += flip.to(torch.int64)
        last = torch.where(now != 0, now, last)
    return changes


def monotone_check(config) -> Check:
    t = torch.logspace(-2, 4, 400, dtype=F64)
    configs = [(0.5, 1.0, 0.5, 0.0), (2.0, 1.0, 0.5, 0.5), (0.8, 2.0, 0.1, 1.0), (1.25, 0.5, 1.0, 0.0)]

    def body(rec):
        worst = 0.0
        for a, sw, se, s0 in configs:
            eg = _fn("generalisation_error")(t=t, alpha=a, sigma_w2=sw, sigma_eps2=se, sigma_02=s0)
            et = _fn("training_error")(t=t, alpha=a, sigma_w2=sw, sigma_eps2=se, sigma_02=s0)
            rise = float(((et[1:] - et[:-1]) / (se + sw + s0)).max())
            worst = max(worst, rise)
            assert rise <= 1e-12, f"training_monotone_generalisation_one_minimum: the theory's E_t rises at alpha {a}"
            assert int(_sign_changes(eg)) == 1 and bool(eg[1] < eg[0]), (
                f"training_monotone_generalisation_one_minimum: the theory's E_g has not one minimum at alpha {a}")
            lam, P = fam.spectrum(200, a, _seeds(config, 11, 8), config.device)
            decay = torch.exp(-lam.unsqueeze(-2) * t.unsqueeze(-1))
            g = fam.conditional_generalisation(lam.unsqueeze(-2), decay, sw + s0, se)
            tr = fam.conditional_training(lam.unsqueeze(-2), decay, P, sw + s0, se)
            rise = float(((tr[:, 1:] - tr[:, :-1]) / (se + sw + s0)).max())
            worst = max(worst, rise)
            assert rise <= 1e-12, f"training_monotone_generalisation_one_minimum: a realisation's E_t rises ({a})"
            assert bool((_sign_changes(g) == 1).all()), (
                f"training_monotone_generalisation_one_minimum: a realisation's E_g has not one minimum ({a})")
        rec["rise"] = worst

    return _run("training_monotone_generalisation_one_minimum", body, len(configs) * 9, "rise", 1e-12,
                "largest rise of E_t between grid times / E_t(0) (theory and 8 realisations per configuration)")


# -- stopping time scaling --------------------------------------------------------------------------------------------

def scaling_ratios(alphas=(0.25, 0.5, 2.0, 4.0), snrs=SNRS) -> dict:
    """``λ₋ · Δt_opt/Δ ln snr`` between consecutive ``snrs`` (per ``α``), and ``4(√2 − 1) t_opt/snr`` at ``α = 1``."""
    f = _fn("optimal_stopping_time")
    out = {}
    for a in alphas:
        t = f(alpha=a, sigma_w2=_t(snrs), sigma_eps2=1.0, sigma_02=0.0).t_opt
        lower = (1 - math.sqrt(a)) ** 2
        out[a] = (lower * (t[1:] - t[:-1]) / math.log(10)).tolist()
    t1 = f(alpha=1.0, sigma_w2=_t(snrs), sigma_eps2=1.0, sigma_02=0.0).t_opt
    out[1.0] = (4 * (math.sqrt(2) - 1) * t1 / _t(snrs)).tolist()
    return out


def stopping_scaling_check(config) -> Check:
    def body(rec):
        ratios = scaling_ratios()
        rec["ratios by alpha (successive snr)"] = ratios
        worst = 0.0
        for a, r in ratios.items():
            err = [abs(x - 1) for x in r]
            worst = max(worst, err[-1])
            assert all(e2 <= e1 + 1e-9 for e1, e2 in zip(err, err[1:])), (
                f"stopping_time_scaling: the ratio does not approach 1 at alpha {a}: {r}")
            assert err[-1] <= SCALING_TOL, f"stopping_time_scaling: ratio {r[-1]:.4g} at alpha {a}, snr {SNRS[-1]:g}"
        rec["error"] = worst

    return _run("stopping_time_scaling", body, 5 * len(SNRS), "error", SCALING_TOL,
                "|lambda_- dt_opt/dln snr - 1| (alpha != 1), |4(sqrt2-1) t_opt/snr - 1| (alpha = 1) at the largest snr")


# -- ridge beats early stopping -----------------------------------------------------------------------------------------

def ridge_check(config) -> Check:
    configs = [(0.5, 1.0, 0.5), (0.8, 2.0, 0.1), (1.0, 1.0, 0.5), (1.25, 0.5, 1.0), (2.0, 1.0, 0.25), (4.0, 2.0, 1.0)]

    def body(rec):
        gaps, ratios = [], []
        for i, (a, sw, se) in enumerate(configs):
            g = se / sw
            ridge = _fn("ridge_error")(alpha=a, sigma_w2=sw, sigma_eps2=se, gamma=_t([g, 2 * g, g / 2]))
            stop = _fn("optimal_stopping_time")(alpha=a, sigma_w2=sw, sigma_eps2=se, sigma_02=0.0).min_error
            assert bool(ridge[0] < stop) and bool((ridge[0] < ridge[1:]).all()), (
                f"ridge_beats_early_stopping: theory at alpha {a}: ridge {ridge.tolist()} vs early stopping {float(stop)}")
            gaps.append(float((stop - ridge[0]) / stop))
            ratios.append(float(ridge[0] / stop))
            lam, _ = fam.spectrum(200, a, fam._seeds(config.seed + 31, i, 16), config.device)
            r = fam.conditional_ridge(lam, g, sw, se)
            _, m = fam.stopping(lam, sw, se)
            ratios.append(float((r / m).max()))
            assert bool((r <= m * (1 + 1e-12)).all()), (
                f"ridge_beats_early_stopping: a realisation at alpha {a} stops early better than ridge")
        rec["relative advantage of ridge (theory)"] = gaps
        rec["ratio"] = max(ratios)

    return _run("ridge_beats_early_stopping", body, len(configs) * 17, "ratio", 1.0,
                "largest ridge error at gamma* / min_t E_g (theory, and each of 16 realisations per configuration)")


# -- initial variance cost -----------------------------------------------------------------------------------------------

def initial_variance_cost_check(config) -> Check:
    from learndyn.verify.simulate import exact_linear_student, student_teacher_data
    from learndyn.verify.tier_b.comparison import student_k

    alphas = (0.25, 0.5, 0.8, 2.0)
    a0, sw, se = 0.5, 1.0, 0.5

    def body(rec):
        f = _fn("generalisation_error_limit")
        a = _t(alphas)
        cost = (f(alpha=a, sigma_w2=sw, sigma_eps2=se, sigma_02=a0) - f(alpha=a, sigma_w2=sw, sigma_eps2=se, sigma_02=0.0)) / a0
        expected = torch.clamp(1 - a, min=0)
        err = float((cost - expected).abs().max())
        rec["theory"] = cost.tolist()
        rec["theory_error"] = err
        assert err <= 1e-9, f"initial_variance_cost: the theory's cost per unit sigma_0^2 is {cost.tolist()}"
        seeds = _seeds(config, 41, 32)
        runs = [exact_linear_student(student_teacher_data(100, alphas, seeds, sigma_w2=sw, sigma_eps2=se, sigma_02=s,
                                                          device=config.device), t=[1e12]).generalisation[0]
                for s in (a0, 0.0)]
        diff = ((runs[0] - runs[1]) / a0).reshape(len(alphas), len(seeds))
        mean, sd = diff.mean(1), diff.std(1) / math.sqrt(len(seeds))
        target = torch.clamp(1 - torch.round(a * 100) / 100, min=0)
        k = student_k(5.0, len(seeds))
        ratio = ((mean - target).abs() / (k * sd).clamp(min=1e-15))
        ratio = torch.where(sd > 0, ratio, (mean - target).abs() / 1e-12)
        rec["simulated"] = mean.tolist()
        rec["ratio"] = float(ratio.max())
        assert bool((ratio <= 1).all()), f"initial_variance_cost: simulated cost {mean.tolist()} vs {target.tolist()}"

    return _run("initial_variance_cost", body, 2 * len(alphas), "ratio", 1.0,
                "|simulated cost - (1 - alpha)| / (k SE) (32 realisations, realised draws)")


# -- pretraining accelerates -----------------------------------------------------------------------------------------------

def pretraining_check(config) -> Check:
    from learndyn.verify.property_runs import RICHARDSON_TOL
    from learndyn.verify.simulate import pretraining_comparison, whitened_dataset

    def body(rec):
        ds = whitened_dataset([2.0, 1.0, 0.5], 6, 6, 12, seed=config.seed, device=config.device)
        u0 = 1e-3
        theory = _fn("mode_learning_time")(s=ds.S, u0=u0, uf=ds.S / 2, tau=1.0)
        horizon = 4.0 * float(theory.max())  # the random start is slower
        lr = 0.02
        runs = [pretraining_comparison(ds, lr=lr / k, steps=round(horizon * k / lr), u0=u0, configs=2,
                                       seed=config.seed) for k in (1, 2)]
        extrapolated = 2 * runs[1].aligned_half_times - runs[0].aligned_half_times
        err = float(((extrapolated - theory) / theory).abs().max())
        rec["error"] = err
        rec["random / aligned"] = (runs[1].random_half_times / runs[1].aligned_half_times).tolist()
        assert err <= RICHARDSON_TOL, f"pretraining_accelerates: aligned half times off mode_learning_time by {err:.3g}"
        for r in runs:
            assert not bool(r.random_half_times.isnan().any()), "pretraining_accelerates: a random-start mode never learned"
            assert bool((r.random_half_times > r.aligned_half_times).all()), (
                "pretraining_accelerates: a mode learned sooner from the random start")

    return _run("pretraining_accelerates", body, 6, "error", 1e-3,
                "|Richardson aligned half time - mode_learning_time| / mode_learning_time")


GENERALISATION_CLAIMS: dict[str, Callable] = {
    "overtraining_peaks_at_one": overtraining_peak_check,
    "frozen_subspace": frozen_subspace_check,
    "training_monotone_generalisation_one_minimum": monotone_check,
    "stopping_time_scaling": stopping_scaling_check,
    "ridge_beats_early_stopping": ridge_check,
    "initial_variance_cost": initial_variance_cost_check,
    "pretraining_accelerates": pretraining_check,
}
