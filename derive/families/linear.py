"""Family 1 — linear learning dynamics (seed 000; seed 003). THEORY.md, "Family 1".

Every result here is declared once; ``learndyn derive`` derives, proves and generates it into
``generated/linear.py`` and ``generated/linear.tex``.
"""
from __future__ import annotations

import math

import sympy as sp

from learndyn.derive.declaration import (
    ODE, Between, Claim, Family, Implicit, Interval, IntParam, Param, Relation, Result, SeparableTime, Source,
)
from learndyn.derive.functions import DeepModeTime, DeepModeTrajectory

INF = math.inf

# -- parameters (shared declarations; each result lists the ones it takes) -----------------------------
T = Param("t", Interval(0.0, INF, lo_closed=True), test=Interval(1e-6, 1e9, True, True), sim=None, log=True,
          special=(0.0,), description="time in gradient-descent steps (gradient flow; one unit = one step)")
X = Param("x", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.5, 2.0, True, True), log=True,
          description="scalar input")
Y = Param("y", Interval(-INF, INF), test=Interval(-1e3, 1e3, True, True), sim=Interval(0.5, 2.0, True, True), log=True,
          special=(0.0,), description="scalar target")
U0 = Param("u0", Interval(0.0, INF), test=Interval(1e-12, 1e3, True, True), sim=Interval(1e-3, 0.1, True, True), log=True,
           latex="u_0", description="initial strength (product of the layers' strengths)")
LR = Param("lr", Interval(0.0, INF), test=Interval(1e-6, 1.0, True, True), sim=Interval(1e-3, 2e-2, True, True), log=True,
           latex=r"\alpha", description="learning rate")
S = Param("s", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.5, 2.0, True, True), log=True,
          description="singular value of the input-output correlation")
TAU = Param("tau", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(50.0, 500.0, True, True), log=True,
            latex=r"\tau", description="time constant, 1/lr")
UF = Param("uf", Interval(0.0, INF), test=Between("u0", "s"), sim=None, latex="u_f",
           description="final strength, strictly between u0 and s")
DEPTH = Param("depth", IntParam(1), test=IntParam(1, 64), sim=IntParam(1, 6), latex="D",
              description="number of weight matrices")

t, x, y, u0, lr, s, tau, uf, D = (p.symbol for p in (T, X, Y, U0, LR, S, TAU, UF, DEPTH))
u = sp.Symbol("u")

# places in Saxe et al. (arXiv:1312.6120, the ICLR 2014 paper), checked against the paper's text
_MODES_SLIDE = "slide “Learning dynamics for deep linear networks” (Σ31 = U S Vᵀ)"
SAXE = Source("000", "Sec. 1.3, eqs. (8)–(12) (the dynamics of one mode and their solution), here for one scalar "
              "example (x, y)", "saxe2014exact", seed_where="eq. (2)")
SAXE_MODE = Source("000", "Sec. 1.3, eq. (12), the solution of eq. (10) for one mode of the SVD Σ31 = U S Vᵀ of eq. (3)",
                   "saxe2014exact", seed_where=_MODES_SLIDE)
SAXE_TIME = Source("000", "Sec. 1.3, eq. (11)", "saxe2014exact", seed_where=_MODES_SLIDE)
SAXE_ORDER = Source("000", "Sec. 1.3 (the time a mode takes is inversely proportional to its singular value)",
                    "saxe2014exact", seed_where=_MODES_SLIDE)
SAXE_DEEP = Source("003", "Sec. 2, eq. (15), whose N_l − 1 weight matrices are the D here", "saxe2014exact")
SAXE_DEPTH = Source("003", "Sec. 2 (from decoupled initial conditions the learning time stays finite as the depth "
                    "grows; the optimal learning rate falls like 1/N_l, Supplementary Appendix B)", "saxe2014exact")

BETWEEN = Relation("uf", sp.StrictGreaterThan((uf - u0) * (s - uf), 0), "uf strictly between u0 and s")
BALANCED = "balanced start: every layer starts with the same strength along the mode (w1(0) = w2(0) = sqrt(u0))"
WHITENED = "whitened inputs (Σ11 = I) and decoupled start along the singular vectors of Σ31 = U S Vᵀ"
FLOW = "gradient flow (discrete GD follows it up to O(lr) at fixed flow time lr·t)"

_E = sp.exp(2 * y * x * t * lr)
_Em = sp.exp(2 * s * t / tau)

scalar_trajectory = Result(
    name="scalar_trajectory",
    title="Learning dynamics of the scalar linear network",
    params=(T, X, Y, U0, LR),
    definition=ODE("u", "t", rhs=2 * lr * x * u * (y - x * u), initial=u0, hint="Bernoulli", nonzero=("y",)),
    published=y * _E / (x * (_E - 1) + y / u0),
    symbol_tex="u(t)",
    assumptions=(
        "network ŷ = w2 w1 x, loss L = ½ (y − w2 w1 x)², u = w2 w1",
        BALANCED, FLOW,
        "for y < 0 the balanced network cannot change the sign of u, which decays to 0",
    ),
    source=SAXE,
    stability="GD is stable for lr < 1/(x |y|) near the optimum (Hessian eigenvalue 2 x |y|)",
)

mode_trajectory = Result(
    name="mode_trajectory",
    title="Strength of one mode of a two-layer linear network",
    params=(T, S, U0, TAU),
    definition=ODE("u", "t", rhs=2 * u * (s - u), initial=u0, tau=tau, hint="Bernoulli"),
    published=s * _Em / (_Em - 1 + s / u0),
    symbol_tex="u(t)",
    assumptions=("one hidden layer", WHITENED, BALANCED, FLOW),
    source=SAXE_MODE,
    stability="GD is stable for lr = 1/tau < 1/s (Hessian eigenvalue 2 s at the optimum)",
)

mode_learning_time = Result(
    name="mode_learning_time",
    title="Time for a mode to grow from u0 to uf",
    params=(S, U0, UF, TAU),
    relations=(BETWEEN,),
    definition=SeparableTime("u", rhs=2 * u * (s - u), start=u0, end=uf, tau=tau),
    published=tau / (2 * s) * sp.log(uf * (s - u0) / (u0 * (s - uf))),
    symbol_tex="t",
    assumptions=("one hidden layer", WHITENED, BALANCED, FLOW),
    source=SAXE_TIME,
)

_W = sp.Symbol("w", positive=True)  # u = s w^D makes the learning-time integrand rational

deep_mode_time = Result(
    name="deep_mode_time",
    title="Learning time of one mode of a deep linear network",
    params=(S, U0, UF, TAU, DEPTH),
    relations=(BETWEEN,),
    definition=SeparableTime("u", rhs=D * u ** (2 - 2 / D) * (s - u), start=u0, end=uf, tau=tau,
                             per_integer="depth", derive_for=(1, 2, 3, 4), substitution=(_W, s * _W**D)),
    implementation=DeepModeTime(s, u0, uf, tau, D),
    symbol_tex="t",
    assumptions=(
        "deep linear network with D weight matrices; u is the product of the D per-layer strengths",
        WHITENED, BALANCED, FLOW,
        "D = 1 is linear regression, D = 2 is mode_learning_time",
    ),
    source=SAXE_DEEP,
    notes=(
        "exact closed form for every integer D: with y = (v/s)^{1/D}, "
        "1/(y^{D-1}(1-y^D)) = y^{1-D} - (1/D) Σ_k ω_k²/(y - ω_k) over the D-th roots of unity ω_k",
    ),
    stability="the largest Hessian eigenvalue at the optimum is D s^{2-2/D}, so GD needs lr < 2/(D s^{2-2/D})",
)

deep_mode_trajectory = Result(
    name="deep_mode_trajectory",
    title="Strength of one mode of a deep linear network over time",
    params=(T, S, U0, TAU, DEPTH),
    definition=Implicit("u", equation=sp.Eq(t, DeepModeTime(s, u0, sp.Symbol("u", positive=True), tau, D)),
                        inverse_of="deep_mode_time"),
    implementation=DeepModeTrajectory(t, s, u0, tau, D),
    symbol_tex="u(t)",
    assumptions=deep_mode_time.assumptions[:-1],
    source=SAXE_DEEP,
    stability=deep_mode_time.stability,
)

CLAIMS = (
    Claim("depth_independent_time_from_order_one_start",
          "From a start of order one (orthogonal-like, u0 = 1), D · deep_mode_time / tau does not grow with depth.",
          ("deep_mode_time", "deep_mode_trajectory"), SAXE_DEPTH),
    Claim("time_grows_with_depth_from_small_gain",
          "With a per-layer gain a0 < 1 (u0 = a0^D), D · deep_mode_time / tau grows without bound with depth.",
          ("deep_mode_time",), SAXE_DEPTH),
    Claim("stable_lr_shrinks_with_depth",
          "The largest Hessian eigenvalue at the optimum is D s^{2−2/D}, so the stable lr shrinks like 1/D.",
          ("deep_mode_time", "deep_mode_trajectory"), SAXE_DEPTH),
    Claim("modes_learned_in_order_of_strength",
          "From a small random start, modes are learned in order of their singular value s.",
          ("mode_trajectory", "deep_mode_trajectory"), SAXE_ORDER),
)

FAMILY = Family(
    name="linear",
    title="Linear learning dynamics",
    results=(scalar_trajectory, mode_trajectory, mode_learning_time, deep_mode_time, deep_mode_trajectory),
    claims=CLAIMS,
)
