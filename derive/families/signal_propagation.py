"""Family 3 — signal propagation in noisy rectifier networks (seed 001). THEORY.md, "Family 3".

Network: ``h¹ = W¹ x⁰ + b¹``, ``h^l = W^l (ε^{l−1} ⊙ φ(h^{l−1})) + b^l``, ``W_ij ~ N(0, σ_w²/N)``,
``b ~ N(0, σ_b²)``, multiplicative noise ``ε`` iid over units, inputs and layers with ``E ε = 1`` and
``E ε² = mu2`` (inverted dropout with keep probability p: ``mu2 = 1/p``; Gaussian ``N(1, σ_ε²)``:
``mu2 = 1 + σ_ε²``). Every map is derived from its Gaussian expectation; the fixed points are emitted as
vectorised, differentiable solvers. Declared once here; ``learndyn derive`` writes
``generated/signal_propagation.py`` and ``.tex``.
"""
from __future__ import annotations

import math

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.stats import Bernoulli, ContinuousRV

from learndyn.derive.declaration import (
    ChoiceParam, Claim, Composite, Family, FreeProduct, GaussianMap, Interval, IntParam, Param, Recurrence, Result,
    Root, Solve, Source, ref, solved_variable,
)
from learndyn.derive.functions import GaussE, HalfErfc, Ndtr, ReLU, ReluKernel, ShiftedReLU, SinMinusXCos, Step

INF = math.inf
SQRT2 = math.sqrt(2.0)

Q = Param("q", Interval(0.0, INF, lo_closed=True), test=Interval(1e-6, 1e4, True, True), sim=Interval(0.5, 2.0, True, True),
          log=True, special=(0.0,), description="variance of the pre-activations of the layer before")
SIGMA_W = Param("sigma_w", Interval(0.0, INF), test=Interval(1e-2, 10.0, True, True), sim=Interval(0.8, 2.0, True, True),
                log=True, special=(1.0, SQRT2), latex=r"\sigma_w", description="standard deviation of the weights (times √N)")
SIGMA_B = Param("sigma_b", Interval(0.0, INF, lo_closed=True), test=Interval(1e-4, 10.0, True, True),
                sim=Interval(0.0, 0.5, True, True), log=True, special=(0.0,), latex=r"\sigma_b",
                description="standard deviation of the biases")
MU2 = Param("mu2", Interval(1.0, INF, lo_closed=True), test=Interval(1.0, 1e3, True, True), sim=Interval(1.0, 3.0, True, True),
            log=True, special=(1.0, 1.0 + 1e-15, 1.0 + 1e-12, 1.0 + 1e-8, 1.0 + 1e-4, 2.0), latex=r"\mu_2",
            description="second moment of the multiplicative noise (1/p for dropout, 1 + σ_ε² for Gaussian noise)")
EPS = Param("eps", Interval(0.0, INF, lo_closed=True), test=Interval(1e-6, 1e3, True, True), sim=Interval(0.05, 1.0, True, True),
            log=True, special=(0.0,), latex=r"\varepsilon", description="variance of the additive noise")
DEPTH = Param("depth", IntParam(0), test=IntParam(0, 200), sim=IntParam(1, 20), latex="L",
              description="number of applications of the map (layers)")
C = Param("c", Interval(-1.0, 1.0, lo_closed=True, hi_closed=True), test=Interval(-1.0, 1.0, True, True),
          special=(-1.0, -1.0 + 1e-15, -1.0 + 1e-9, -1.0 + 1e-5, -0.5, 0.0, 1.0 - 1e-9, 1.0 - 1e-15, 1.0),
          description="correlation of the pre-activations of two inputs")
Q_POS = Param("q", Interval(0.0, INF), test=Interval(1e-3, 1e3, True, True), sim=Interval(0.5, 2.0, True, True), log=True,
              description="variance of the pre-activations")
ALPHA = Param("alpha", Interval(-INF, INF), test=Interval(-30.0, 30.0, True, True), sim=Interval(-1.0, 1.0, True, True),
              log=True, special=(0.0,), latex=r"\alpha", description="shift of the shifted ReLU max(0, x + α) − α")
ALPHA_POS = Param("alpha", Interval(0.0, INF), test=Interval(1e-2, 10.0, True, True), sim=Interval(0.2, 1.0, True, True),
                  log=True, latex=r"\alpha", description="shift of the shifted ReLU (positive)")
SIGMA_B_POS = Param("sigma_b", Interval(0.0, INF), test=Interval(1e-2, 10.0, True, True), sim=Interval(0.05, 0.5, True, True),
                    log=True, latex=r"\sigma_b", description="standard deviation of the biases (positive)")
ACTIVE = Param("active_fraction", Interval(0.0, 1.0, hi_closed=True), test=Interval(1e-3, 1.0, True, True),
               sim=Interval(0.3, 1.0, True, True), log=True, special=(1.0, 0.5), latex="a",
               description="probability that a rectifier unit is active (φ' = 1)")
JAC_DEPTH = Param("depth", IntParam(1), test=IntParam(1, 200), sim=IntParam(1, 8), latex="L", description="number of layers")
WEIGHTS = Param("weights", ChoiceParam(("orthogonal", "gaussian")), description="distribution of the weight matrices")
# auxiliary (drawn for the numeric proof of the correlation map, cancel from the result)
Q_AUX = Param("q", Interval(0.0, INF), test=Interval(1e-2, 1e2, True, True), log=True)
SIGMA_W_AUX = Param("sigma_w", Interval(0.0, INF), test=Interval(0.1, 10.0, True, True), log=True)

q, sigma_w, sigma_b, mu2, eps, depth, c, alpha, a_frac, L = (
    p.symbol for p in (Q, SIGMA_W, SIGMA_B, MU2, EPS, DEPTH, C, ALPHA, ACTIVE, JAC_DEPTH))
z, z1, z2, zeta = sp.symbols("z z1 z2 zeta", real=True)
theta = sp.Symbol("theta", nonnegative=True)
a_root = sp.Symbol("a", positive=True)
q_star = sp.Symbol("q_star", positive=True)
frac = sp.Symbol("active_fraction", positive=True)
alpha_p, sigma_b_p, q_pos = ALPHA_POS.symbol, SIGMA_B_POS.symbol, Q_POS.symbol

SOURCE = Source("001", "its mean-field variance and correlation maps of noisy rectifier networks, their fixed points "
                "and depth scales", "pretorius2018critical",
                seed_where="slides “variance dynamics” and “correlation dynamics”")
SHIFTED_SOURCE = Source("001", "its mean-field criticality conditions, applied here to a shifted ReLU", "pretorius2018critical",
                        seed_where="slide “Is ReLU really the best?” (shifted ReLU)")
SPECTRUM_SOURCE = Source("001", "its free-probability variance of the spectrum of J Jᵀ at criticality, for orthogonal and "
                         "Gaussian weights", "pennington2018emergence",
                         seed_where="slide “Is ReLU really the best?” (Jacobian spectrum)")
TRAINABLE_SOURCE = Source("001", "its depth scale ξ_c of correlation propagation and the finding that networks train to "
                          "depths of about 6 ξ_c", "schoenholz2017deep", seed_where="slide “But noise limits trainable depth”")

MEAN_FIELD = "mean-field limit: infinitely wide layers (N → ∞), so pre-activations are Gaussian"
NOISE = "multiplicative noise ε iid over units, inputs and layers, E ε = 1, E ε² = mu2, independent of the weights"
RELU = "φ = ReLU"
NO_BIAS = "sigma_b = 0"

variance_map = Result(
    name="variance_map",
    title="Variance map of a noisy ReLU network",
    params=(Q, SIGMA_W, SIGMA_B, MU2),
    definition=GaussianMap("q'", sigma_w**2 * mu2 * GaussE(ReLU(sp.sqrt(q) * z)**2, z) + sigma_b**2),
    published=sigma_w**2 * mu2 * q / 2 + sigma_b**2,
    symbol_tex="q'",
    assumptions=(MEAN_FIELD, NOISE, RELU, "maps layer l − 1 to layer l for l ≥ 2 (the input layer has no noise)"),
    source=SOURCE,
)

additive_noise_variance_map = Result(
    name="additive_noise_variance_map",
    title="Variance map of a ReLU network with additive noise",
    params=(Q, SIGMA_W, SIGMA_B, EPS),
    definition=GaussianMap("q'", sigma_w**2 * GaussE((ReLU(sp.sqrt(q) * z) + sp.sqrt(eps) * zeta)**2, z, zeta) + sigma_b**2),
    published=sigma_w**2 * (q / 2 + eps) + sigma_b**2,
    symbol_tex="q'",
    assumptions=(MEAN_FIELD, RELU, "additive noise φ(h) + ξ, ξ ~ N(0, eps) iid over units, inputs and layers",
                 "no (sigma_w, sigma_b) keeps every q fixed when eps > 0: there is no critical initialisation"),
    source=SOURCE,
)

critical_sigma_w = Result(
    name="critical_sigma_w",
    title="Critical weight scale of a noisy ReLU network",
    params=(MU2,),
    definition=Solve("sigma_w", sp.Eq(ref("variance_map")(q, sigma_w, 0, mu2), q)),
    published=sp.sqrt(2 / mu2),
    symbol_tex=r"\sigma_w",
    assumptions=(MEAN_FIELD, NOISE, RELU, NO_BIAS, "q' = q for every q: the variance neither explodes nor vanishes",
                 "dropout with keep probability p: σ_w = √(2p); Gaussian noise N(1, σ_ε²): σ_w = √(2/(1 + σ_ε²))"),
    source=SOURCE,
)

variance_after_depth = Result(
    name="variance_after_depth",
    title="Variance after several noisy ReLU layers",
    params=(Q, SIGMA_W, SIGMA_B, MU2, DEPTH),
    definition=Recurrence(of="variance_map", var="q", steps="depth", removable=("sigma_w",)),
    symbol_tex="q^{(L)}",
    assumptions=variance_map.assumptions + ("the variance map applied depth times, starting from q",),
    source=SOURCE,
)

correlation_map = Result(
    name="correlation_map",
    title="Correlation map of a noisy ReLU network",
    params=(C, MU2),
    definition=GaussianMap(
        "c'", sigma_w**2 * GaussE(ReLU(sp.sqrt(q) * z1) * ReLU(sp.sqrt(q) * (c * z1 + sp.sqrt(1 - c**2) * z2)), z1, z2)
        / ref("variance_map")(q, sigma_w, 0, mu2),
        auxiliary=(Q_AUX, SIGMA_W_AUX)),
    published=((c * sp.asin(c) + sp.sqrt(1 - c**2)) / sp.pi + c / 2) / mu2,
    implementation=ReluKernel(c) / mu2,
    symbol_tex="c'",
    assumptions=(MEAN_FIELD, NOISE, RELU, NO_BIAS, "both inputs have the same variance q",
                 "the two inputs get independent noise, so the cross term carries no mu2 (E[ε_a ε_b] = 1)",
                 "independent of q and sigma_w"),
    source=SOURCE,
)

_THETA = solved_variable("correlation_fixed_point")(mu2)
correlation_fixed_point = Result(
    name="correlation_fixed_point",
    title="Stable fixed point of the correlation map",
    params=(MU2,),
    definition=Root(
        equations=(sp.Eq(c, ref("correlation_map")(c, mu2)),),
        variable=theta, bracket=(sp.S.Zero, sp.pi / 2),
        equation=SinMinusXCos(theta) / sp.pi - (mu2 - 1) * sp.cos(theta),
        outputs=(("c", sp.cos(theta)),),
        guess=sp.Min(sp.cbrt(3 * sp.pi * (mu2 - 1)), sp.pi / 4)),
    # c* = cos θ*, or (at the root, identically) g(θ*)/(π(mu2 − 1)), which keeps c* → 0 exact as mu2 → ∞
    implementation=sp.Piecewise((SinMinusXCos(_THETA) / (sp.pi * sp.Max(mu2 - 1, 1)), mu2 > 2), (sp.cos(_THETA), True)),
    symbol_tex="c^*",
    assumptions=(MEAN_FIELD, NOISE, RELU, NO_BIAS,
                 "solved for the angle θ = arccos c* (c* = cos θ): μ2 (c − κ(c)/μ2) = (μ2 − 1) cos θ − (sin θ − θ cos θ)/π, "
                 "exact near c* = 1 where a root in c loses digits",
                 "unique in (0, 1) for mu2 > 1 and stable (slope below 1); c* = 1 at mu2 = 1"),
    source=SOURCE,
    infinite_derivative=(("mu2", 1.0, "NaN (dc*/dmu2 → −∞ like (mu2 − 1)^(−1/3))"),),
)

_C_STAR = ref("correlation_fixed_point")(mu2)

correlation_slope = Result(
    name="correlation_slope",
    title="Slope of the correlation map at its fixed point",
    params=(MU2,),
    definition=Composite("chi", sp.Subs(sp.Derivative(ref("correlation_map")(c, mu2), c), c, _C_STAR)),
    published=(sp.asin(_C_STAR) / sp.pi + sp.Rational(1, 2)) / mu2,
    implementation=(1 - _THETA / sp.pi) / mu2,
    symbol_tex=r"\chi(c^*)",
    assumptions=correlation_fixed_point.assumptions[:4] + ("computed from the angle θ* of c* (arcsin c* = π/2 − θ*)",),
    source=SOURCE,
    infinite_derivative=(("mu2", 1.0, "NaN (the derivative is infinite)"),),
)

correlation_depth_scale = Result(
    name="correlation_depth_scale",
    title="Depth scale of correlation propagation",
    params=(MU2,),
    definition=Composite("xi_c", -1 / sp.log(ref("correlation_slope")(mu2))),
    implementation=1 / (log1p(mu2 - 1) - log1p(-_THETA / sp.pi)),
    symbol_tex=r"\xi_c",
    assumptions=correlation_slope.assumptions + ("|c^l − c*| ~ e^{−l/ξ_c}; ξ_c = inf at mu2 = 1",),
    source=SOURCE,
    infinite_derivative=(("mu2", 1.0, "NaN (ξ_c = inf there)"),),
)

trainable_depth = Result(
    name="trainable_depth",
    title="Depth to which noisy ReLU networks train",
    params=(MU2,),
    definition=Composite("L_max", 6 * ref("correlation_depth_scale")(mu2)),
    implementation=6 * correlation_depth_scale.implementation,
    symbol_tex=r"L_{\max}",
    assumptions=correlation_depth_scale.assumptions + (
        "empirical rule: networks train to about 6 ξ_c layers (Schoenholz et al. 2017, used in seed 001's source)",),
    source=TRAINABLE_SOURCE,
    infinite_derivative=(("mu2", 1.0, "NaN (infinite there)"),),
)

shifted_relu_active_fraction = Result(
    name="shifted_relu_active_fraction",
    title="Active fraction of shifted ReLU units",
    params=(Q_POS, ALPHA),
    definition=GaussianMap("p", GaussE(Step(sp.sqrt(q_pos) * z + alpha), z)),
    published=HalfErfc(-alpha / sp.sqrt(2 * q_pos)),
    symbol_tex="p(q)",
    assumptions=(MEAN_FIELD, "φ(x) = max(0, x + α) − α, active (φ' = 1) where x > −α",
                 "emitted as Φ(α/√q): exact also for large negative α/√q, where 1 − ½ erfc(α/√(2q)) is 0"),
    source=SHIFTED_SOURCE,
)

shifted_relu_second_moment = Result(
    name="shifted_relu_second_moment",
    title="Second moment of shifted ReLU units",
    params=(Q_POS, ALPHA),
    definition=GaussianMap("m_2", GaussE(ShiftedReLU(sp.sqrt(q_pos) * z, alpha)**2, z)),
    symbol_tex=r"\mathbb{E}[\phi_\alpha^2]",
    assumptions=(MEAN_FIELD, "φ(x) = max(0, x + α) − α"),
    source=SHIFTED_SOURCE,
)

_R = sp.exp(-a_root**2 / 2) / sp.sqrt(2 * sp.pi) - a_root * Ndtr(-a_root)   # E[(z − a)+] = φ_N(a) − a Φ(−a)
shifted_relu_critical_point = Result(
    name="shifted_relu_critical_point",
    title="Critical point of a shifted-ReLU network",
    params=(ALPHA_POS, SIGMA_B_POS),
    definition=Root(
        equations=(sp.Eq(sigma_w**2 * frac, 1),
                   sp.Eq(frac, ref("shifted_relu_active_fraction")(q_star, alpha_p)),
                   sp.Eq(q_star, sigma_w**2 * ref("shifted_relu_second_moment")(q_star, alpha_p) + sigma_b_p**2)),
        variable=a_root, bracket=(sp.S.Zero, sp.oo),
        equation=sigma_b_p**2 * a_root * Ndtr(a_root) / alpha_p**2 - _R,
        outputs=(("q_star", alpha_p**2 / a_root**2), ("active_fraction", Ndtr(a_root)), ("sigma_w", 1 / sp.sqrt(Ndtr(a_root)))),
        guess=sp.S.One),
    symbol_tex=r"(q^*, a, \sigma_w)",
    assumptions=("noise-free network (mu2 = 1)", MEAN_FIELD, "φ(x) = max(0, x + α) − α",
                 "χ = σ_w² p(q*) = 1 and q* = σ_w² E[φ(√q* z)²] + σ_b²",
                 "solved for a = α/√q*: σ_b² a Φ(a)/α² = φ_N(a) − a Φ(−a), increasing in a, one root in (0, ∞)"),
    source=SHIFTED_SOURCE,
)


def _spectral_factors():
    x = sp.Symbol("x", positive=True)
    d = Bernoulli("D", a_frac)
    gain = d**2 / a_frac                                    # σ_w² D² with σ_w² = 1/a: mean 1 at criticality
    mp = ContinuousRV(x, sp.sqrt(x * (4 - x)) / (2 * sp.pi * x), set=sp.Interval(0, 4))   # Marchenko–Pastur, ratio 1
    return (("orthogonal", ((sp.S.One, L), (gain, L))), ("gaussian", ((mp, L), (gain, L))))


jacobian_spectrum_variance = Result(
    name="jacobian_spectrum_variance",
    title="Variance of the spectrum of J Jᵀ at criticality",
    params=(ACTIVE, JAC_DEPTH, WEIGHTS),
    definition=FreeProduct("weights", _spectral_factors(),
                           published=(("orthogonal", L * (1 - a_frac) / a_frac), ("gaussian", L / a_frac))),
    symbol_tex=r"\sigma^2_{JJ^\top}",
    assumptions=("noise-free network with φ' ∈ {0, 1} (ReLU or shifted ReLU), at criticality σ_w² · active_fraction = 1",
                 MEAN_FIELD + "; the layers' factors are asymptotically free",
                 "W W^T σ_w² has the Marchenko–Pastur law of ratio 1 (Gaussian weights) or is the identity (orthogonal)",
                 "active_fraction is the fraction of active units at the fixed point, not a dropout keep probability: "
                 "the result does not hold with dropout noise"),
    source=SPECTRUM_SOURCE,
)

CLAIMS = (
    Claim("additive_noise_has_no_critical_point",
          "With additive noise (eps > 0) no (sigma_w, sigma_b) keeps every variance fixed: at He initialisation "
          "(sigma_w = √2, sigma_b = 0) the variance grows linearly with depth, by 2 eps per layer, where multiplicative "
          "noise at its critical sigma_w keeps it constant.",
          ("additive_noise_variance_map", "critical_sigma_w"), SOURCE),
    Claim("noise_limits_depth",
          "Multiplicative noise (mu2 > 1) makes c* < 1: correlations converge to c* over ξ_c layers, and stronger "
          "noise gives a lower c* and a shorter depth scale, so inputs stay distinguishable over fewer layers.",
          ("correlation_fixed_point", "correlation_depth_scale", "trainable_depth"), SOURCE),
)

FAMILY = Family(
    name="signal_propagation",
    title="Signal propagation in noisy rectifier networks",
    results=(variance_map, additive_noise_variance_map, critical_sigma_w, variance_after_depth, correlation_map,
             correlation_fixed_point, correlation_slope, correlation_depth_scale, trainable_depth,
             shifted_relu_active_fraction, shifted_relu_second_moment, shifted_relu_critical_point,
             jacobian_spectrum_variance),
    claims=CLAIMS,
)
