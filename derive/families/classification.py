"""Family 5 — classification dynamics, hinge against cross-entropy, and gradient starvation (seed 002). THEORY.md,
"Family 5".

The model is THEORY.md's reconstruction of the setting of seed 002's abstract (Tachet des Combes et al. 2018; the
paper's full text was not available): orthonormal features ``e_k`` of class ``c_k``, norm ``r`` and frequency ``p``
(the fraction of the examples that contain the feature); a ReLU network with one path per feature and depth ``L``;
the mean loss over the examples with margin ``m = y f(x)``, logistic ``ℓ = ln(1 + e^{−m})`` or hinge
``ℓ = max(0, 1 − m)``, ``g = −ℓ′`` (``σ(−m)`` or ``1[m < 1]``). From a decoupled balanced start each feature's margin
follows the mode equation

    dm/dt = L p r^{2/L} m^{2−2/L} g(m),      t = lr × steps,

from which every result here is derived. Declared once; ``learndyn derive`` writes ``generated/classification.py``
and ``.tex``.
"""
from __future__ import annotations

import math

import sympy as sp

from learndyn.derive.declaration import (
    ByChoice, ChoiceParam, Claim, Family, Implicit, Interval, IntParam, Param, Relation, Result, Root, SeparableTime,
    Solve, Source, ref,
)
from learndyn.derive.declaration import Between
from learndyn.derive.margin_functions import (
    CrossingTail, HingeMarginTime, HingeMarginTrajectory, InflectionTime, LogisticMarginTime, LogisticMarginTrajectory,
)

INF = math.inf

# -- parameters (each with its domain, the range tier a draws from, and the range a GD simulation covers) -----------
M0 = Param("m0", Interval(0.0, INF), test=Interval(1e-12, 1e2, True, True), sim=Interval(1e-2, 0.5, True, True), log=True,
           latex="m_0", description="initial margin of the mode (c r a0 v0 at a balanced start, a0 = |v0|)")
M = Param("m", Interval(0.0, INF), test=Between("m0", 1e3, log=True), sim=Between("m0", 4.0, log=True), latex="m",
          description="the margin reached (at least m0; under hinge loss a margin above 1 is never reached: t = inf)")
T = Param("t", Interval(0.0, INF, lo_closed=True), test=Interval(1e-6, 1e9, True, True), sim=None, log=True,
          special=(0.0,), description="time, t = lr × steps (gradient flow)")
P = Param("p", Interval(0.0, 1.0, hi_closed=True), test=Interval(1e-3, 1.0, True, True), sim=Interval(0.2, 1.0, True, True),
          log=True, special=(1.0,), description="frequency of the feature: the fraction of the examples that contain it")
R = Param("r", Interval(0.0, INF), test=Interval(1e-2, 1e2, True, True), sim=Interval(0.5, 2.0, True, True), log=True,
          description="input norm of the feature")
DEPTH = Param("depth", IntParam(1), test=IntParam(1, 64), sim=IntParam(1, 3), latex="L",
              description="depth L: the number of weights on the path of one feature (1: a linear classifier)")
DEPTH_2 = Param("depth", IntParam(2), test=IntParam(2, 64), sim=IntParam(2, 3), latex="L",
                description="depth L ≥ 2 (at depth 1 the margin curve is concave: it has no inflection)")
LOSS = Param("loss", ChoiceParam(("logistic", "hinge")), latex=r"\ell",
             description="the loss: logistic ln(1 + e^{−m}) (binary cross-entropy of a sigmoid output) or hinge max(0, 1 − m)")
M0_NEG = Param("m0", Interval(-INF, 0.0), test=Interval(-1e2, -1e-12, True, True), sim=Interval(-0.5, -1e-2, True, True),
               log=True, latex="m_0", description="initial margin, of the wrong sign (c v0 < 0)")
DELTA = Param("delta", Interval(0.0, INF), test=Interval(1e-6, 1e2, True, True), sim=Interval(0.05, 1.0, True, True),
              log=True, latex=r"\Delta", description="Δ = a0² − v0² > 0, conserved by gradient flow (a0 > |v0|)")
M10 = Param("m10", Interval(0.0, INF), test=Interval(1e-12, 1.0, True, True), sim=Interval(1e-3, 0.1, True, True), log=True,
            latex="m_{1,0}", description="initial margin of the frequent feature 1")
M20 = Param("m20", Interval(0.0, INF), test=Interval(1e-12, 1.0, True, True), sim=Interval(1e-3, 0.1, True, True), log=True,
            latex="m_{2,0}", description="initial margin of the rare feature 2")
R1 = Param("r1", Interval(0.0, INF), test=Interval(1e-2, 1e2, True, True), sim=Interval(0.5, 2.0, True, True), log=True,
           latex="r_1", description="input norm of the frequent feature 1")
R2 = Param("r2", Interval(0.0, INF), test=Interval(1e-2, 1e2, True, True), sim=Interval(0.5, 2.0, True, True), log=True,
           latex="r_2", description="input norm of the rare feature 2")
Q = Param("q", Interval(0.0, 1.0, hi_closed=True), test=Interval(1e-3, 1.0, True, True), sim=Interval(0.1, 0.5, True, True),
          log=True, special=(1.0,), description="fraction of the examples of the class that contain the rare feature 2")
CLASS_FRACTION = Param("class_fraction", Interval(0.0, 1.0, hi_closed=True), test=Interval(1e-3, 1.0, True, True),
                       sim=Interval(0.3, 0.7, True, True), log=True, special=(0.5, 1.0), latex="P",
                       description="fraction of all the examples that are of this class (feature 1 is in every one of them)")

m0, m, t, p, r, L = (x.symbol for x in (M0, M, T, P, R, DEPTH))
m0n, delta = M0_NEG.symbol, DELTA.symbol
m10, m20, r1, r2, q, P_class = (x.symbol for x in (M10, M20, R1, R2, Q, CLASS_FRACTION))
x = sp.Symbol("x")                          # the margin as the integration variable of the mode equation
margin = sp.Symbol("margin", positive=True)  # the inflection margin (unknown of margin_inflection)

KAPPA = p * r ** (2 / L)                     # the mode's speed: the time to a margin scales as 1/(p r^{2/L})
A = 2 / L - 1                                # the power of the mode equation, m^{2−2/L} = m^{1−a}


def rate(g: sp.Expr) -> sp.Expr:
    """The right-hand side of the mode equation, ``L p r^{2/L} x^{2−2/L} g(x)``."""
    return L * KAPPA * x ** (2 - 2 / L) * g


G = {"logistic": 1 / (1 + sp.exp(x)),                      # σ(−x)
     "hinge": sp.Piecewise((1, x < 1), (0, True))}          # 1[x < 1]: the motion stops at margin 1

# -- sources, assumptions ---------------------------------------------------------------------------------------
_RECONSTRUCTED = ("its learning dynamics of classification with deep ReLU networks on linearly separable data, as "
                  "reconstructed here from its abstract (the paper's full text was not available)")
SOURCE = Source("002", _RECONSTRUCTED, "tachetdescombes2018learning")
SOURCE_LOSSES = Source("002", "its comparison of the hinge loss with the cross-entropy (logistic) loss, as reconstructed "
                       "here from its abstract", "tachetdescombes2018learning")
SOURCE_FAILURE = Source("002", "its conditions on the initialisation under which learning succeeds or a unit fails, as "
                        "reconstructed here from its abstract", "tachetdescombes2018learning")
SOURCE_STARVATION = Source("002", "its gradient starvation: a frequent feature that is learned first stops the learning "
                           "of a rare one, as reconstructed here from its abstract", "tachetdescombes2018learning")

MODEL = ("a reconstruction of the setting of Tachet des Combes et al. (2018) from its abstract (the paper's full text "
         "was not available): orthonormal features, each with its class, input norm r and frequency p; a ReLU network without "
         "biases, one path of depth L per feature")
DECOUPLED = ("decoupled balanced start (hidden unit k serves feature k, |v_k| = a_k > 0): each feature's margin m = c r "
             "a v follows dm/dt = L p r^{2/L} m^{2−2/L} g(m) on its own")
MEAN_LOSS = ("mean loss over the examples, logistic ln(1 + e^{−m}) with g(m) = σ(−m) or hinge max(0, 1 − m) with "
             "g(m) = 1[m < 1] (with a summed loss, p becomes a count)")
FLOW = "gradient flow, t = lr × steps (discrete GD follows it up to O(lr) at a fixed t)"
STOP = "hinge loss: the margin stops at exactly m = 1 (g = 0 from there on); a margin above 1 is never reached"
POSITIVE = Relation("m", sp.GreaterThan(m, m0), "m ≥ m0 (the margin grows)")
HINGE_START = Relation("m0", sp.LessThan(m0, 1), "m0 ≤ 1 under hinge loss (above 1 the hinge loss is 0: nothing moves)",
                       when=("loss", "hinge"))

# -- the time to a margin -------------------------------------------------------------------------------------------

# the hinge time m0^a ℓ exprel(aℓ)/(Lκ), ℓ = ln(m/m0) from log1p (the power law (m^a − m0^a)/(a L κ), exact at depth 2
# and for m next to m0), as a kernel with closed-form derivatives (autograd through log1p and exprel cancels)
_HINGE_TIME = sp.Piecewise((HingeMarginTime(m0, m, p, r, L), m <= 1), (sp.oo, True))
_HINGE_STOP = HingeMarginTime(m0, sp.Integer(1), p, r, L)   # the same at m = 1


def _time(loss: str) -> SeparableTime:
    published = {
        "logistic": ((1, (m + sp.exp(m) - m0 - sp.exp(m0)) / (p * r**2)),
                     (2, (sp.log(m) + sp.Ei(m) - sp.log(m0) - sp.Ei(m0)) / (2 * p * r))),
        "hinge": ((1, (m - m0) / (p * r**2)), (2, sp.log(m / m0) / (2 * p * r))),
    }[loss]
    return SeparableTime("x", rhs=rate(G[loss]), start=m0, end=m, per_integer="depth", derive_for=(1, 2, 3, 4),
                         generic=True, published=published)


classification_mode_time = Result(
    name="classification_mode_time",
    title="Time for a classification mode's margin to grow from m0 to m",
    params=(M0, M, P, R, DEPTH, LOSS),
    relations=(POSITIVE, HINGE_START),
    definition=ByChoice("loss", (("logistic", (_time("logistic"),)), ("hinge", (_time("hinge"),))),
                        defining=sp.Eq(t, sp.Integral(1 / rate(sp.Function("g")(x)), (x, m0, m))),
                        implementations=(("logistic", LogisticMarginTime(m0, m, p, r, L)), ("hinge", _HINGE_TIME))),
    symbol_tex="t",
    assumptions=(MODEL, DECOUPLED, MEAN_LOSS, FLOW, STOP,
                 "logistic: the margin never stops; the time grows like e^m m^{2/L−2}/(L p r^{2/L}) (m ~ ln t)"),
    source=SOURCE_LOSSES,
    notes=("logistic: t = [2 (m^a − m0^a)/a + H_a(m) − H_a(m0)]/(L p r^{2/L}) with a = 2/L − 1 and "
           "H_a(x) = ∫_0^x s^{a−1}(e^s − 1) ds (depth 1: e^x − 1 − x; depth 2: Ein(x) = Ei(x) − γ − ln x; deeper: an "
           "incomplete gamma function), evaluated as e^{−x} H_a(x) (series below x = 40, asymptotic series above) and "
           "multiplied by e^{m} in log space, so the time stays finite where e^m and Ei(m) overflow; ends closer than "
           "min(m0, 1) by Gauss–Legendre quadrature of the integrand",
           "hinge: m0^a ln(m/m0) exprel(a ln(m/m0))/(L p r^{2/L}) (the power law (m^a − m0^a)/(a L p r^{2/L}), exact "
           "at depth 2, where a = 0, and for m close to m0)"),
)

# -- the margin over time -------------------------------------------------------------------------------------------

_m = sp.Symbol("m", positive=True)


def _hinge_time(m0_, m_, p_, r_) -> sp.Expr:
    """The hinge time ``m0^a ln(m/m0) exprel(a ln(m/m0))/(L p r^{2/L})`` for ``m ≤ 1`` (its kernel)."""
    return HingeMarginTime(m0_, m_, p_, r_, L)


classification_mode_trajectory = Result(
    name="classification_mode_trajectory",
    title="Margin of a classification mode over time",
    params=(T, M0, P, R, DEPTH, LOSS),
    relations=(HINGE_START,),
    definition=ByChoice("loss", (
        ("logistic", (Implicit("m", sp.Eq(t, ref("classification_mode_time_logistic")(m0, _m, p, r, L)),
                               inverse_of="classification_mode_time_logistic", derive_inverse=True),)),
        ("hinge", (Implicit("m", sp.Eq(t, ref("classification_mode_time_hinge")(m0, _m, p, r, L)),
                            inverse_of="classification_mode_time_hinge", derive_inverse=True),)),
    ), defining=sp.Eq(sp.Derivative(sp.Function("m")(t), t), rate(sp.Function("g")(sp.Function("m")(t))).subs(x, sp.Function("m")(t))),
        implementations=(("logistic", LogisticMarginTrajectory(t, m0, p, r, L)), ("hinge", HingeMarginTrajectory(t, m0, p, r, L)))),
    symbol_tex="m(t)",
    assumptions=(MODEL, DECOUPLED, MEAN_LOSS, FLOW, STOP + ": m(t) = 1 from hinge_stopping_time on"),
    source=SOURCE_LOSSES,
    notes=("logistic, depth 1: m = κt + C − W₀(e^{κt + C}), κ = p r², C = m0 + e^{m0} (SymPy's Lambert-W form), emitted "
           "as m = m0 + δ with δ + e^{m0} expm1(δ) = κt (no cancellation for small m0, no overflow of e^{κt + C}); "
           "deeper: a vectorised Newton solve of classification_mode_time = t in ln m, gradients by the implicit "
           "function theorem",
           "hinge: the power law m = m0 (1 + a L κ t/m0^a)^{1/a} up to the stop (m0 e^{2κt} at depth 2), then 1"),
)

hinge_stopping_time = Result(
    name="hinge_stopping_time",
    title="Time at which the hinge loss stops the margin at 1",
    params=(Param("m0", Interval(0.0, 1.0, hi_closed=True), test=Interval(1e-12, 1.0, True, True),
                  sim=Interval(1e-2, 0.5, True, True), log=True, special=(1.0,), latex="m_0",
                  description="initial margin (at most 1: above it the hinge loss is 0 from the start)"), P, R, DEPTH),
    definition=SeparableTime("x", rhs=rate(G["hinge"]), start=m0, end=sp.Integer(1), per_integer="depth",
                             derive_for=(1, 2, 3, 4), generic=True,
                             published=((1, (1 - m0) / (p * r**2)), (2, sp.log(1 / m0) / (2 * p * r)))),
    implementation=_HINGE_STOP,
    symbol_tex=r"t_{\mathrm{stop}}",
    assumptions=(MODEL, DECOUPLED, MEAN_LOSS, FLOW, STOP,
                 "learning stops at this time (the logistic loss never stops: m ~ ln t)"),
    source=SOURCE_LOSSES,
)

# -- the inflection of the sigmoidal margin curve -------------------------------------------------------------------

margin_inflection = Result(
    name="margin_inflection",
    title="Inflection of the margin curve under logistic loss: the margin and the time",
    params=(M0, P, R, DEPTH_2),
    definition=Solve("margin", sp.Eq(sp.diff(rate(G["logistic"]), x).subs(x, margin), 0),
                     outputs=(("margin", margin),
                              ("time", ref("classification_mode_time_logistic")(m0, margin, p, r, L)))),
    published=2 - 2 / L + sp.LambertW((2 - 2 / L) * sp.exp(-(2 - 2 / L))),
    # the time to m* itself, not to the float nearest it (off by ulp(m*)/|m0 − m*| relative for m0 next to m*)
    implementation=(("time", InflectionTime(m0, p, r, L)),),
    symbol_tex=r"(m^*, t^*)",
    assumptions=(MODEL, DECOUPLED, MEAN_LOSS, FLOW,
                 "logistic loss; d²m/dt² = 0 where d/dm [m^{2−2/L} σ(−m)] = 0, i.e. m σ(m) = 2 − 2/L",
                 "the margin depends on the depth alone; m0, p and r fix when it is reached, so one call gives the point "
                 "(t*, m*) to mark on a margin curve; the time is negative where m0 is already past the inflection",
                 "depth ≥ 2: at depth 1 the curve is concave from the start (m σ(m) = 0 has no positive root), so depth = 1 "
                 "raises a DomainError"),
    source=SOURCE,
    notes=("m* = c + W₀(c e^{−c}), c = 2 − 2/L: depth 2 gives 1 + W₀(1/e); as L → ∞, 2 + W₀(2/e²)",
           "the time is emitted as t(m0 → hi) + lo/rate(hi) with m* = hi + lo carried to twice float64's digits, so it "
           "keeps its digits where m0 lies next to m* (the time to the float nearest m* would be off by ulp(m*)/|m0 − m*| "
           "relative)"),
)

# -- a wrong-sign start that still succeeds -------------------------------------------------------------------------

_B = r * delta                                   # r Δ
_CROSS_RATE = p * r * sp.sqrt(_B**2 + 4 * x**2)   # dm/dt / g(m) of a two-layer mode with imbalance Δ
_s = sp.Symbol("s", real=True)
_ASINH = sp.asinh(-2 * m0n / _B) / (2 * p * r)

wrong_sign_crossing_time = Result(
    name="wrong_sign_crossing_time",
    title="Time for a wrong-sign margin to cross zero (two layers, a0 > |v0|)",
    params=(M0_NEG, DELTA, P, R, LOSS),
    definition=ByChoice("loss", (
        ("logistic", (SeparableTime("x", rhs=_CROSS_RATE * G["logistic"], start=m0n, end=sp.Integer(0)),)),
        ("hinge", (SeparableTime("x", rhs=_CROSS_RATE * G["hinge"], start=m0n, end=sp.Integer(0)),)),
    ), defining=sp.Eq(t, sp.Integral(1 / (_CROSS_RATE * sp.Function("g")(x)), (x, m0n, 0))),
        published=(("logistic", _ASINH + sp.Integral(sp.exp(_s) / sp.sqrt(_B**2 + 4 * _s**2), (_s, m0n, 0)) / (p * r)),
                   ("hinge", _ASINH)),
        implementations=(("logistic", _ASINH + CrossingTail(m0n, _B) / (p * r)), ("hinge", _ASINH))),
    symbol_tex=r"t_0",
    assumptions=(MODEL, MEAN_LOSS, FLOW,
                 "two layers (depth 2), one unit: margin m = c r a v with a > 0 and c v0 < 0; gradient flow conserves "
                 "Δ = a² − v² and a v = c m/r, so a² + v² = √(Δ² + 4m²/r²) and dm/dt = p r g(m) √(r²Δ² + 4m²)",
                 "Δ > 0 (a0 > |v0|): the margin crosses 0 in finite time (a unit with a0 < |v0| dies: a reaches 0 first)"),
    source=SOURCE_FAILURE,
    notes=("logistic: the term (p r)⁻¹ ∫_{m0}^{0} e^s/√(r²Δ² + 4s²) ds has no elementary antiderivative; it is emitted "
           "as a Gauss–Legendre quadrature in θ with s = −(rΔ/2) sinh θ (integrand ½ e^{−(rΔ/2) sinh θ}, smooth and "
           "bounded), on equal panels of width at most 1 up to s = −45 (beyond it the integrand is below e^{−45})",),
)

# -- gradient starvation under hinge loss ----------------------------------------------------------------------------

_STARVED = sp.Symbol("starved_margin", positive=True)
_y = sp.Symbol("y", positive=True)              # the solver's variable: the starved margin itself
_T2 = ref("classification_mode_time_hinge")(m20, _STARVED, q * P_class, r2, L)          # when feature 2 reaches it
_T1_DEPTH2 = sp.log(_STARVED / m20) / (2 * r2 * q * P_class)                            # T1 at depth 2

starved_margin = Result(
    name="starved_margin",
    title="Margin of a rare feature starved by a frequent one (hinge loss)",
    params=(M10, M20, R1, R2, Q, CLASS_FRACTION, DEPTH),
    relations=(Relation("m20", sp.LessThan(m10 + m20, 1), "m10 + m20 ≤ 1 (else no example has a hinge loss to learn from)"),),
    definition=Root(
        # m1 + m2 = 1 at the time T1 at which m2 reaches its final value: T1 = classification_mode_time(m20 → m2)
        equations=(sp.Eq(ref("classification_mode_trajectory_hinge")(_T2, m10, P_class, r1, L) + _STARVED, 1),),
        variable=_y,
        bracket=(m20, 1 - m10),
        # the same statement as a difference of times: feature 2 reaches y when feature 1 reaches 1 − y (both
        # forward hinge times, no cancellation; exactly 0 at y = 1/2 for two identical features)
        equation=_hinge_time(m20, _y, q * P_class, r2) - _hinge_time(m10, 1 - _y, P_class, r1),
        outputs=(("starved_margin", _y),),
        published=(
            ((("depth", 1),), m20 + q * r2**2 * (1 - m10 - m20) / (r1**2 + q * r2**2)),
            ((("depth", 2),), sp.Eq(m10 * sp.exp(2 * r1 * P_class * _T1_DEPTH2) + m20 * sp.exp(2 * r2 * q * P_class * _T1_DEPTH2), 1)),
        )),
    symbol_tex="m_2",
    assumptions=(MODEL, "hinge loss, mean over the examples; " + FLOW,
                 "one class: a fraction class_fraction = P of all the examples; the frequent feature 1 is in every example "
                 "of the class, the rare feature 2 in a fraction q of them; both predict the class fully",
                 "decoupled balanced start; an example with both features has margin m1 + m2, one with feature 1 alone m1, "
                 "so until T1 each margin follows classification_mode_trajectory (hinge) with frequencies P and q P",
                 "at T1, m1 + m2 = 1: the examples with both features have no loss left, so m2 (m2 = f(r2 e2)) stops there "
                 "for good, while m1 goes on to 1 on the examples with feature 1 alone",
                 "a control data set in which feature 2 appears alone (no feature 1) reaches m2 = 1"),
    source=SOURCE_STARVATION,
    notes=("solved for m2 itself: feature 2 reaches m2 at the time feature 1 reaches 1 − m2, "
           "t(m20 → m2; q P, r2) = t(m10 → 1 − m2; P, r1) with t the hinge time of classification_mode_time, increasing in "
           "m2 on [m20, 1 − m10] (a vectorised, differentiable Newton-bisection solve); the times are forward power laws, "
           "so nothing is lost near the stop of the deep power law",
           "near a tie (both features reach their stops together from tiny starts at depth ≥ 3) the starved margin depends "
           "on the difference of two huge blow-up times m0^a/(|a| L κ) of the inputs, and float64 inputs fix it only to "
           "about ε m0^a relative: there the value is that of the float64 inputs to that accuracy (exact for two identical "
           "features)",
           "depth 1: m2 = m20 + q r2² (1 − m10 − m20)/(r1² + q r2²); depth 2: m20 e^{2 r2 q P T1} with T1 the root of "
           "m10 e^{2 r1 P T1} + m20 e^{2 r2 q P T1} = 1 (both proven at the root)"),
)

CLAIMS = (
    Claim("sigmoidal_from_depth_two",
          "Under logistic loss, margin curves from a small start are sigmoidal (convex, then concave, with one "
          "inflection at margin_inflection) at depth ≥ 2, and concave from the start at depth 1.",
          ("classification_mode_trajectory", "margin_inflection"), SOURCE),
    Claim("hinge_stops_sooner",
          "The hinge loss brings a margin to 1 sooner than the logistic loss (hinge_stopping_time < "
          "classification_mode_time with m = 1 and logistic loss) and then stops it; the logistic margin keeps growing like ln t.",
          ("classification_mode_time", "classification_mode_trajectory", "hinge_stopping_time"), SOURCE_LOSSES),
    Claim("time_scales_with_frequency_and_norm",
          "The time to reach a margin scales as 1/(p r^{2/L}): the frequency and the input norm of a feature set the "
          "speed at which it is learned.",
          ("classification_mode_time", "classification_mode_trajectory"), SOURCE),
    Claim("failure_region_of_the_start",
          "A two-layer unit learns its feature iff a0 > 0 and either c v0 > 0 or a0 > |v0|; a unit with a0 < |v0| and "
          "c v0 < 0 dies (a reaches 0 before the margin turns positive).",
          ("wrong_sign_crossing_time",), SOURCE_FAILURE),
    Claim("rare_feature_starved",
          "With logistic loss, a rare feature (in a fraction q of its class's examples) that co-occurs with a frequent "
          "one is starved: its margin over that of a control data set in which it appears alone falls with time, and "
          "while m2 ≪ 1, m2 ∝ m1^{q r2/r1} (at depth 2).",
          ("starved_margin",), SOURCE_STARVATION),
    Claim("coupled_modes_break_decoupled_theory",
          "Where features co-occur in examples and the first layer is fully connected, the modes couple and the "
          "decoupled equations are wrong: measured by how far GD departs from classification_mode_trajectory as the "
          "overlap grows.",
          ("classification_mode_trajectory",), SOURCE),
)

FAMILY = Family(
    name="classification",
    title="Classification dynamics: hinge against cross-entropy, and gradient starvation",
    results=(classification_mode_time, classification_mode_trajectory, hinge_stopping_time, margin_inflection,
             wrong_sign_crossing_time, starved_margin),
    claims=CLAIMS,
)
