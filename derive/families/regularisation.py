"""Family 2 — regularisation: weight decay, denoising noise and dropout (seed 000). THEORY.md, "Family 2".

Names follow THEORY.md: ``gamma`` is the weight decay (seed 000's ``λ*``), ``lam`` an eigenvalue of the input
covariance, ``eps`` an input-noise variance, ``p`` a dropout keep probability, ``margin`` the dropout bound's
``ε``. Every result is declared once here; ``learndyn derive`` derives, proves and generates it into
``generated/regularisation.py`` and ``generated/regularisation.tex``.
"""
from __future__ import annotations

import math

import sympy as sp

from learndyn.derive.declaration import (
    ODE, Between, Claim, Family, Interval, Param, RandomClock, Relation, Result, Solve, Source, UpperBound,
)
from learndyn.derive.families.linear import BALANCED, FLOW, S, T, TAU, U0, WHITENED

INF = math.inf

GAMMA = Param("gamma", Interval(0.0, INF, lo_closed=True), test=Interval(1e-6, 1e3, True, True),
              sim=Interval(0.05, 1.5, True, True), log=True, special=(0.0,), near=("s", "lam"), latex=r"\gamma",
              description="weight-decay coefficient (penalty (gamma/2) times the squared norm of every weight)")
LAM = Param("lam", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.5, 2.0, True, True),
            log=True, latex=r"\lambda", description="eigenvalue of the input covariance")
EPS = Param("eps", Interval(0.0, INF, lo_closed=True), test=Interval(1e-6, 1e3, True, True),
            sim=Interval(0.05, 1.0, True, True), log=True, special=(0.0,), latex=r"\varepsilon",
            description="variance of the input noise")
P = Param("p", Interval(0.0, 1.0, hi_closed=True), test=Interval(1e-3, 1.0, True, True),
          sim=Interval(0.3, 1.0, True, True), log=True, special=(1.0,), description="dropout keep probability")
MARGIN = Param("margin", Interval(0.0, INF), test=Between(0.0, "s", 0.0, 0.5), sim=Between(0.0, "s", 0.2, 0.3),
               latex=r"\epsilon", description="convergence margin: start at margin, converged at s - margin")

t, s, u0, tau, gamma, lam, eps, p, margin = (x.symbol for x in (T, S, U0, TAU, GAMMA, LAM, EPS, P, MARGIN))
u = sp.Symbol("u")

# Saxe et al.'s places are checked against the paper's text (arXiv:1312.6120); the weight-decay and dropout forms
# themselves are seed 000's, built on that mode dynamics
WD_SOURCE = Source("000", "the mode dynamics of Sec. 1.3, eq. (10), with the weight-decay penalty added", "saxe2014exact",
                   seed_where="slide “weight decay”, whose λ* is the γ here")
DAE_SOURCE = Source("000", "its learning dynamics of a linear denoising autoencoder, mode by mode, with input noise and "
                    "weight decay", "pretorius2018learning", seed_where="slide “autoencoder networks”")
DROPOUT_SOURCE = Source("000", "the mode dynamics of Sec. 1.3, eq. (10), advancing only on the steps where the unit is "
                        "kept", "saxe2014exact",
                        seed_where="slide “dropout”, whose ε is the margin here and whose ρ is the keep probability p")

PENALTY = "penalty (gamma/2)(‖W1‖² + ‖W2‖²) on both layers, written out in the loss"
MARGIN_RELATION = Relation("margin", sp.StrictLessThan(margin, s / 2), "margin < s/2")
STANDARD_DROPOUT = ("standard (not rescaled) dropout: d ~ Bern(p) ∈ {0, 1} redrawn every step, "
                    "ŷ = w2 d w1 x; a step with d = 0 carries no gradient")
INVERTED_DROPOUT = "inverted dropout: d ∈ {0, 1/p} with probabilities 1 − p and p, redrawn every step, ŷ = w2 d w1 x"
ONE_UNIT = "one hidden unit, x = 1, target s, loss ½ (s − w2 d w1)², balanced start w1 = w2 = √u0"


def _nonzero_fixed_point(rhs: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """The fixed point of ``du/dt ∝ rhs(u)`` other than ``u = 0`` (``rhs/u`` is linear in ``u``)."""
    (root,) = sp.solve(sp.cancel(rhs / var), var)
    return root


_E_WD = sp.exp(2 * (s - gamma) * t / tau)
weight_decay_trajectory = Result(
    name="weight_decay_trajectory",
    title="Mode strength of a two-layer linear network under weight decay",
    params=(T, S, U0, GAMMA, TAU),
    definition=ODE("u", "t", rhs=2 * u * (s - gamma - u), initial=u0, tau=tau, hint="Bernoulli",
                   removable=(("s", gamma),)),
    published=(s - gamma) * _E_WD / (_E_WD - 1 + (s - gamma) / u0),
    symbol_tex="u(t)",
    assumptions=("one hidden layer", WHITENED, BALANCED, PENALTY, FLOW,
                 "s = gamma is a removable singularity (u = u0/(1 + 2 u0 t/tau)); for s < gamma the mode decays to 0"),
    source=WD_SOURCE,
    stability="GD is stable for lr = 1/tau < 1/|s - gamma| and lr·gamma < 1",
)

DAE_RHS = 2 * u * (lam - gamma - (lam + eps) * u)
_E_DAE = sp.exp(2 * (lam - gamma) * t / tau)
dae_trajectory = Result(
    name="dae_trajectory",
    title="Mode strength of a denoising linear autoencoder with weight decay",
    params=(T, LAM, EPS, GAMMA, U0, TAU),
    definition=ODE("u", "t", rhs=DAE_RHS, initial=u0, tau=tau, hint="Bernoulli", removable=(("lam", gamma),)),
    published=(lam - gamma) * _E_DAE / ((lam + eps) * (_E_DAE - 1) + (lam - gamma) / u0),
    symbol_tex="u(t)",
    assumptions=(
        "linear autoencoder x̂ = W2 W1 (x + ξ), ξ ~ N(0, eps I) sampled afresh every step; loss ½ ‖x − x̂‖² "
        "averaged over data and noise, i.e. ½ mean ‖x − W x‖² + (eps/2) ‖W2 W1‖²_F",
        "u is the strength along an eigenvector of the input covariance with eigenvalue lam; decoupled balanced start",
        PENALTY, FLOW,
        "fixed point max(0, (lam − gamma)/(lam + eps)); lam = gamma is a removable singularity",
    ),
    source=DAE_SOURCE,
    stability="GD is stable for lr = 1/tau below 1/|lam - gamma| and 1/(lam + eps)",
)

noise_equivalent_decay = Result(
    name="noise_equivalent_decay",
    title="Weight decay with the fixed point of input noise",
    params=(LAM, EPS),
    definition=Solve("gamma", sp.Eq(_nonzero_fixed_point(DAE_RHS.subs(eps, 0), u),
                                    _nonzero_fixed_point(DAE_RHS.subs(gamma, 0), u))),
    published=lam * eps / (lam + eps),
    symbol_tex=r"\gamma",
    assumptions=("fixed points of dae_trajectory: (lam − gamma)/lam with weight decay alone, lam/(lam + eps) with noise alone",),
    source=DAE_SOURCE,
)

dropout_expected_time = Result(
    name="dropout_expected_time",
    title="Expected time to learn one unit under dropout",
    params=(S, P, MARGIN, TAU),
    relations=(MARGIN_RELATION,),
    definition=RandomClock("u", rhs=2 * u * (s - u), start=margin, end=s - margin, probability="p", tau=tau),
    published=tau / (s * p) * sp.log((s - margin) / margin),
    symbol_tex=r"\mathbb{E}[t]",
    assumptions=(ONE_UNIT, STANDARD_DROPOUT, "start u0 = margin; converged when u ≥ s − margin", FLOW),
    source=DROPOUT_SOURCE,
    stability="GD on an active step is stable for lr = 1/tau < 1/s",
)

dropout_time_bound = Result(
    name="dropout_time_bound",
    title="Seed 000's upper bound on the dropout learning time",
    params=(S, P, MARGIN, TAU),
    relations=(MARGIN_RELATION,),
    definition=UpperBound("dropout_expected_time", expr=tau / (s * p) * sp.log(s / margin),
                          gap=-tau / (s * p) * sp.log(1 - margin / s)),
    published=tau / (s * p) * sp.log(s / margin),
    symbol_tex=r"t_{\mathrm{bound}}",
    assumptions=dropout_expected_time.assumptions + (
        "the bound exceeds the expectation by (tau/(s p)) (−ln(1 − margin/s)): 0.2 % of it at margin = 0.01 s, "
        "decidable by simulation only for a margin of order s/4",),
    source=DROPOUT_SOURCE,
)

_E_DROP = sp.exp(2 * p * s * t / tau)
dropout_trajectory = Result(
    name="dropout_trajectory",
    title="Expected mode strength under standard dropout",
    params=(T, S, P, U0, TAU),
    definition=ODE("u", "t", rhs=2 * p * u * (s - u), initial=u0, tau=tau, hint="Bernoulli"),
    symbol_tex="u(t)",
    assumptions=(ONE_UNIT, STANDARD_DROPOUT,
                 "expected dynamics: E[d] = E[d²] = p, so tau du/dt = 2 p u (s − u): plateau s, slowed by 1/p",
                 "single runs fluctuate about it by O(√lr); the mean over runs follows it up to O(lr)", FLOW),
    source=DROPOUT_SOURCE,
)

inverted_dropout_trajectory = Result(
    name="inverted_dropout_trajectory",
    title="Expected mode strength under inverted dropout",
    params=(T, S, P, U0, TAU),
    definition=ODE("u", "t", rhs=2 * u * (s - u / p), initial=u0, tau=tau, hint="Bernoulli"),
    symbol_tex="u(t)",
    assumptions=(ONE_UNIT, INVERTED_DROPOUT,
                 "expected dynamics: E[d] = 1, E[d²] = 1/p, so tau du/dt = 2 u (s − u/p): plateau p s, no slow-down",
                 "single runs fluctuate about it by O(√lr); the mean over runs follows it up to O(lr)", FLOW),
    source=DROPOUT_SOURCE,
)

CLAIMS = (
    Claim("noise_lowers_plateau_not_growth",
          "Input noise eps lowers the plateau of a mode to lam/(lam + eps) without slowing its early growth "
          "(the growth rate 2(lam − gamma)/tau does not depend on eps).",
          ("dae_trajectory",), DAE_SOURCE),
    Claim("equivalent_decay_is_slower",
          "The weight decay with the same fixed point as noise eps (noise_equivalent_decay) learns slower: its "
          "half-time is longer by the factor (lam + eps)/lam.",
          ("dae_trajectory", "noise_equivalent_decay"), DAE_SOURCE),
    Claim("weight_decay_removes_imbalance",
          "Weight decay gamma removes the imbalance w2² − w1² at the rate e^{−2 gamma t/tau}.",
          ("weight_decay_trajectory",), WD_SOURCE),
)

FAMILY = Family(
    name="regularisation",
    title="Regularisation dynamics: weight decay, denoising noise and dropout",
    results=(weight_decay_trajectory, dae_trajectory, noise_equivalent_decay, dropout_expected_time,
             dropout_time_bound, dropout_trajectory, inverted_dropout_trajectory),
    claims=CLAIMS,
)
