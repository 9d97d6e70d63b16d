r"""Family 6 — high-dimensional generalisation dynamics: overtraining, early stopping and the frozen subspace (seed 003:
Advani & Saxe 2017).

Setting (one normalisation, kept throughout): inputs ``x ∈ ℝ^N`` with entries ``N(0, 1/N)``; a teacher
``y = w̄·x + ε``, ``w̄_i ~ N(0, σ_w²)``, ``ε ~ N(0, σ_ε²)``; a linear student ``ŷ = w·x`` from ``w_i(0) ~ N(0, σ_0²)``;
``P = αN`` examples; the summed loss ``½ Σ_μ (y_μ − w·x_μ)²``; ``t = lr × steps``. The eigenvalues of ``XᵀX`` follow the
Marchenko–Pastur law as ``N → ∞``,

    ρ(λ) = (1 − α)₊ δ(λ) + √((λ₊ − λ)(λ − λ₋))/(2πλ),      λ± = (1 ± √α)²,

and along an eigenvector with eigenvalue ``λ`` the error ``e = w − w̄`` follows ``de/dt = −λe + √λ ξ``,
``ξ ~ N(0, σ_ε²)`` (the noise's projection on the left singular vector), or under GD ``e_{k+1} = (1 − lr λ) e_k +
lr √λ ξ``. The zero eigenvalues are a frozen subspace: the student never moves there. Every result integrates a mode
quantity against ``ρ`` (:class:`~learndyn.derive.declaration.SpectralIntegral`): SymPy solves the mode, takes the
expectation, integrates rational integrands (limits, the Stieltjes transform, ridge) by residues and derives the
stationarity condition of ``E_g``; the generated functions integrate with the rule of
:mod:`learndyn.numerics.spectral_density`.
"""
from __future__ import annotations

import math

import sympy as sp

from learndyn.derive.declaration import (
    Between, Claim, Family, IntParam, Interval, ModeDynamics, Param, Relation, Result, Source, SpectralDensity,
    SpectralIntegral,
)

INF = math.inf

T = Param("t", Interval(0.0, INF, lo_closed=True), test=Interval(1e-6, 1e9, True, True), sim=Interval(0.5, 50.0, True, True),
          log=True, special=(0.0,), description="time, t = lr × steps (gradient flow of the summed loss)")
ALPHA = Param("alpha", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.25, 4.0, True, True), log=True,
              special=(1.0,), latex=r"\alpha", description="examples per weight, α = P/N")
SIGMA_W2 = Param("sigma_w2", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.5, 2.0, True, True),
                 log=True, latex=r"\sigma_w^2", description="variance of the teacher's weights")
SIGMA_EPS2 = Param("sigma_eps2", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.1, 1.0, True, True),
                   log=True, latex=r"\sigma_\epsilon^2", description="variance of the label noise")
SIGMA_02 = Param("sigma_02", Interval(0.0, INF, lo_closed=True), test=Interval(1e-3, 1e2, True, True),
                 sim=Interval(0.0, 1.0, True, True), log=True, special=(0.0,), latex=r"\sigma_0^2",
                 description="variance of the student's initial weights")
GAMMA = Param("gamma", Interval(0.0, INF), test=Interval(1e-4, 1e4, True, True), sim=Interval(0.05, 5.0, True, True), log=True,
              latex=r"\gamma", description="ridge penalty: the student minimises ½‖y − Xw‖² + ½γ‖w‖²")
LAM = Param("lam", Interval(0.0, INF), test=Interval(1e-6, 1e3, True, True), sim=None, log=True, latex=r"\lambda",
            description="an eigenvalue of XᵀX")
STEPS = Param("steps", IntParam(0), test=IntParam(0, 100000), sim=IntParam(0, 4000), latex="k",
              description="gradient-descent steps")

alpha, t, sw, se, s0, gamma, k = (p.symbol for p in (ALPHA, T, SIGMA_W2, SIGMA_EPS2, SIGMA_02, GAMMA, STEPS))
lam = sp.Symbol("lam", positive=True)          # the eigenvalue: the density's variable
LR_BOUND = 2 / (1 + sp.sqrt(alpha)) ** 2        # GD is stable for lr < 2/λ₊
LR = Param("lr", Interval(0.0, INF), test=Between(1e-4, 0.999, log=True, factor=LR_BOUND),
           sim=Interval(0.01, 0.2, True, True), log=True, description="learning rate of gradient descent (lr < 2/λ₊)")
lr = LR.symbol
e, e0, xi, wbar = sp.symbols("e e0 xi wbar", real=True)

# λ₋ as (1 − α)²/(1 + √α)²: (1 − √α)² would cancel near α = 1 (relative error 1e-16/|1 − √α|)
LOWER, UPPER = (1 - alpha) ** 2 / (1 + sp.sqrt(alpha)) ** 2, (1 + sp.sqrt(alpha)) ** 2
MP = SpectralDensity(
    variable=lam,
    density=sp.sqrt((UPPER - lam) * (lam - LOWER)) / (2 * sp.pi * lam),
    lower=LOWER, upper=UPPER, atom=sp.Max(1 - alpha, 0),
    regimes=((sp.StrictLessThan(alpha, 1), {alpha: sp.Rational(1, 2)}), (sp.StrictGreaterThan(alpha, 1), {alpha: 2})),
)
S0 = sw + s0  # the initial error's variance per weight
FLOW = ModeDynamics("e", time="t", rhs=-lam * e + sp.sqrt(lam) * xi, initial=e0, sources=((e0, S0), (xi, se)))
GD = ModeDynamics("e", time="steps", step=(1 - lr * lam) * e + lr * sp.sqrt(lam) * xi, initial=e0,
                  sources=((e0, S0), (xi, se)))
# ridge: the minimiser w = (XᵀX + γ)⁻¹ Xᵀ y, per mode (λ + γ)(e + w̄) = λ w̄ + √λ ξ with e = w − w̄ (from w = 0)
RIDGE = ModeDynamics("e", sources=((wbar, sw), (xi, se)),
                     equation=sp.Eq((lam + gamma) * (e + wbar), lam * wbar + sp.sqrt(lam) * xi))

GENERALISATION = e**2                                   # ‖w − w̄‖²/N per mode; E_g adds σ_ε²
TRAINING = (xi - sp.sqrt(lam) * e) ** 2                 # the residual along the mode's left singular vector

SOURCE = Source("003", "its analysis of the generalisation error of a linear student trained by gradient descent in the "
                "high-dimensional regime through the Marchenko–Pastur spectrum, in words (the paper's numbering was not "
                "checked)", "advani2017high", "the regime where the examples are of the order of the weights")
SOURCE_PRETRAIN = Source("003", "unsupervised pretraining accelerates learning in deep linear networks", "saxe2014exact",
                         "how unsupervised pretraining accelerates learning")

SETTING = ("inputs with iid N(0, 1/N) entries, a linear teacher with N(0, σ_w²) weights and N(0, σ_ε²) label noise, a "
           "linear student from N(0, σ_0²) weights; P = αN examples, the summed squared loss ½Σ(y − w·x)²")
LIMIT = "N, P → ∞ at fixed α = P/N: the spectrum of XᵀX is Marchenko–Pastur (self-averaging errors)"
FLOW_A = "gradient flow, t = lr × steps (GD follows it up to O(lr) at fixed t)"
ERRORS = "errors without the ½: E_g = E(y − ŷ)² on a fresh noisy example = ‖w − w̄‖²/N + σ_ε², E_t = ‖y − Xw‖²/P"
FROZEN = "the frozen subspace (zero eigenvalues, dimension (1 − α)₊N) keeps its initial error"


def _result(name, title, params, definition, symbol, notes=(), relations=(), extra_assumptions=()):
    return Result(name=name, title=title, params=params, definition=definition, symbol_tex=symbol,
                  assumptions=(SETTING, LIMIT, *extra_assumptions, ERRORS), source=SOURCE, notes=notes, relations=relations)


mp_density = _result(
    "mp_density", "Marchenko–Pastur density of the eigenvalues of XᵀX (the bulk)", (LAM, ALPHA),
    SpectralIntegral(MP, None), r"\rho(\lambda)",
    notes=("the atom (1 − α)₊ at λ = 0 is not part of the returned density; the density is 0 outside (λ₋, λ₊)",))

mp_stieltjes = _result(
    "mp_stieltjes", "Stieltjes transform of the Marchenko–Pastur law, S(γ) = ∫ρ(λ)/(λ + γ) dλ (atom included)",
    (GAMMA, ALPHA), SpectralIntegral(MP, 1 / (lam + gamma),
                                     published=(-(gamma + alpha - 1) + sp.sqrt((gamma + alpha - 1) ** 2 + 4 * gamma)) / (2 * gamma)),
    "S(\\gamma)")

generalisation_error = _result(
    "generalisation_error", "Generalisation error of the linear student under gradient flow",
    (T, ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, GENERALISATION, FLOW, extra=se), "E_g", extra_assumptions=(FLOW_A, FROZEN))

training_error = _result(
    "training_error", "Training error of the linear student under gradient flow",
    (T, ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, TRAINING, FLOW, atom=False, scale=1 / alpha, extra=se * sp.Max((alpha - 1) / alpha, 0)), "E_t",
    extra_assumptions=(FLOW_A, "for α > 1 the (1 − 1/α)P directions of the labels outside the range of X keep their noise"))

generalisation_error_limit = _result(
    "generalisation_error_limit", "Generalisation error after training to convergence (t → ∞)",
    (ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, GENERALISATION, FLOW, extra=se, limit=True), "E_g(\\infty)", extra_assumptions=(FLOW_A, FROZEN),
    notes=("infinite at α = 1, where ∫ρ/λ diverges",))

training_error_limit = _result(
    "training_error_limit", "Training error after training to convergence (t → ∞)",
    (ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, TRAINING, FLOW, atom=False, scale=1 / alpha, extra=se * sp.Max((alpha - 1) / alpha, 0), limit=True),
    "E_t(\\infty)", extra_assumptions=(FLOW_A,))

optimal_stopping_time = _result(
    "optimal_stopping_time", "Early-stopping time that minimises the generalisation error, and the minimum",
    (ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, GENERALISATION, FLOW, extra=se, stationary=("t_opt", "min_error")),
    "(t_{\\mathrm{opt}}, \\min_t E_g)",
    extra_assumptions=(FLOW_A, FROZEN),
    notes=("t_opt is the root of dE_g/dt = ∫ρ ∂_t E[e²] (vectorised: doubling to a bracket, bisection in ln t, a Newton "
           "step); its gradients follow from the implicit function theorem",))

overtraining = _result(
    "overtraining", "Overtraining: the generalisation error at convergence minus its minimum over time",
    (ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, GENERALISATION, FLOW, extra=se, stationary=("t_opt", "min_error"), gap=True),
    "E_g(\\infty) - \\min_t E_g", extra_assumptions=(FLOW_A, FROZEN),
    notes=("integrated as one integral of E[e²](∞) − E[e²](t_opt) per mode, not a difference of two errors",))

ridge_error = _result(
    "ridge_error", "Generalisation error of the ridge-regression solution",
    (ALPHA, SIGMA_W2, SIGMA_EPS2, GAMMA),
    SpectralIntegral(MP, GENERALISATION, RIDGE, extra=se), "E_g^{\\mathrm{ridge}}",
    notes=("optimal at γ = σ_ε²/σ_w², where it equals σ_ε²(1 + S(γ)) with S the Stieltjes transform",))

gd_generalisation_error = _result(
    "gd_generalisation_error", "Generalisation error after k steps of gradient descent (exact in the step size)",
    (STEPS, LR, ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, GENERALISATION, GD, extra=se), "E_g",
    relations=(Relation("lr", sp.StrictLessThan(lr, LR_BOUND), "lr < 2/λ₊ = 2/(1 + √α)² (GD is stable)"),),
    extra_assumptions=("gradient descent with step lr: every mode contracts by (1 − lr λ) per step", FROZEN))

gd_training_error = _result(
    "gd_training_error", "Training error after k steps of gradient descent (exact in the step size)",
    (STEPS, LR, ALPHA, SIGMA_W2, SIGMA_EPS2, SIGMA_02),
    SpectralIntegral(MP, TRAINING, GD, atom=False, scale=1 / alpha, extra=se * sp.Max((alpha - 1) / alpha, 0)), "E_t",
    relations=(Relation("lr", sp.StrictLessThan(lr, LR_BOUND), "lr < 2/λ₊ = 2/(1 + √α)² (GD is stable)"),),
    extra_assumptions=("gradient descent with step lr: every mode contracts by (1 − lr λ) per step",))

CLAIMS = (
    Claim("overtraining_peaks_at_one", "overtraining is worst at α = 1 (it diverges there) and falls as the model is made "
          "smaller or larger, while min_t E_g is smooth through α = 1", ("overtraining", "optimal_stopping_time"), SOURCE),
    Claim("frozen_subspace", "the components of the weights in the null space of X never move under gradient descent",
          ("generalisation_error",), SOURCE),
    Claim("training_monotone_generalisation_one_minimum", "E_t falls monotonically while E_g has one interior minimum "
          "whenever overtraining is positive", ("training_error", "generalisation_error"), SOURCE),
    Claim("stopping_time_scaling", "t_opt grows like ln(snr)/λ₋ away from α = 1 and linearly in snr at α = 1",
          ("optimal_stopping_time",), SOURCE),
    Claim("ridge_beats_early_stopping", "ridge regression at its optimal γ = σ_ε²/σ_w² is slightly better than early "
          "stopping", ("ridge_error", "optimal_stopping_time"), SOURCE),
    Claim("initial_variance_cost", "for α < 1 a larger σ_0² raises E_g(∞) by (1 − α) per unit",
          ("generalisation_error_limit",), SOURCE),
    Claim("pretraining_accelerates", "a deep linear network started from the data's singular vectors (as pretraining "
          "gives) learns each mode in the decoupled time, faster than from a small random start",
          ("mode_learning_time",), SOURCE_PRETRAIN),
)

FAMILY = Family(
    name="generalisation",
    title="High-dimensional generalisation dynamics: overtraining, early stopping, the frozen subspace",
    results=(mp_density, mp_stieltjes, generalisation_error, training_error, generalisation_error_limit,
             training_error_limit, optimal_stopping_time, overtraining, ridge_error, gd_generalisation_error,
             gd_training_error),
    claims=CLAIMS,
)
