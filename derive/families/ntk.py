"""Family 4 — trainability and generalisation through the neural tangent kernel (seed 004). THEORY.md, "Family 4".

Fully-connected networks in neural-tangents' NTK parameterisation: a dense layer computes
``z = (σ_w/√n) W x + σ_b b`` with ``W, b ~ N(0, 1)``. With ``(u_a, u_b) ~ N(0, K)``, the activation's kernel
maps are ``T(K)_ab = E[φ(u_a) φ(u_b)]`` and ``Ṫ(K)_ab = E[φ'(u_a) φ'(u_b)]``; a dense layer maps
``K ↦ σ_w² K + σ_b²``, ``Θ ↦ K_new + σ_w² Θ``, an activation ``K ↦ T(K)``, ``Θ ↦ Ṫ(K) ⊙ Θ``. The maps are derived
from their Gaussian expectations (over the Cholesky factors of ``K`` where SymPy closes the integrals, else by
Price's theorem); the emitted forms carry ``det = q1 q2 − c²`` exactly, so they stay exact as the inputs become
identical (``θ → 0``) or opposite (``θ → π``). Declared once here; ``learndyn derive`` writes
``generated/ntk.py`` and ``.tex``.
"""
from __future__ import annotations

import math

import sympy as sp

from learndyn.derive.declaration import (
    ArrayParam, Between, ByChoice, ChoiceParam, Claim, Composite, Family, GaussianMap, Interval, IntParam, KernelComposition, Param,
    Relation, Result, Root, Solve, Source, SpectralFlow, ref, solved_variable,
)
from learndyn.derive.functions import ArcCosKernel, BivariateE, ErfAngleGap, ErfNormGap, Gram2, LogAsinc, LogSinc, ReLU, SinMinusXCos, Step, expm1

INF = math.inf

Q1 = Param("q1", Interval(0.0, INF), test=Interval(1e-4, 1e4, True, True), log=True, latex="q_1",
           description="variance of the first input's pre-activation")
Q2 = Param("q2", Interval(0.0, INF), test=Interval(1e-4, 1e4, True, True), log=True, latex="q_2",
           description="variance of the second input's pre-activation")
C = Param("c", Interval(-INF, INF), test=Between(-1.0, 1.0, scale=("q1", "q2")), latex="c",
          description="covariance of the two pre-activations (c = ρ √(q1 q2), ρ the correlation)")

q1, q2, c = Q1.symbol, Q2.symbol, C.symbol
x = sp.Symbol("x", real=True)

SOURCE = Source("004", "its kernel maps T and Ṫ of a ReLU and an erf layer", "xiao2020disentangling",
                seed_where="slide “Training Dynamics and NTK”")
COVARIANCE = Relation("c", Gram2(q1, q2, c) >= 0, "c² ≤ q1 q2 (a covariance of the two variances)")
MAP_ASSUMPTIONS = ("(u_a, u_b) ~ N(0, [[q1, c], [c, q2]]): the pre-activations of two inputs in an infinitely wide layer",
                   "emitted with det = q1 q2 − c² computed exactly (error-free products) and θ = atan2(√det, c), so the "
                   "forms stay exact as the inputs become identical (θ → 0) or opposite (θ → π)")
_THETA = sp.acos(c / sp.sqrt(q1 * q2))
_DET = Gram2(q1, q2, c)
_ERF_D = 1 + 2 * q1 + 2 * q2 + 4 * _DET          # (1 + 2q1)(1 + 2q2) − 4c², a sum of positive terms


relu_kernel_map = Result(
    name="relu_kernel_map",
    title="Kernel map of a ReLU layer (arc-cosine kernel)",
    params=(Q1, C, Q2),
    definition=GaussianMap("T", BivariateE(sp.Lambda(x, ReLU(x)), sp.Lambda(x, ReLU(x)), q1, c, q2)),
    published=(sp.sqrt(q1 * q2 - c**2) + (sp.pi - _THETA) * c) / (2 * sp.pi),
    implementation=ArcCosKernel(c, _DET),
    relations=(COVARIANCE,),
    symbol_tex=r"\mathcal{T}",
    assumptions=MAP_ASSUMPTIONS + ("φ = ReLU",),
    source=SOURCE,
)

relu_kernel_map_derivative = Result(
    name="relu_kernel_map_derivative",
    title="Derivative kernel map of a ReLU layer",
    params=(Q1, C, Q2),
    definition=GaussianMap("Tdot", BivariateE(sp.Lambda(x, Step(x)), sp.Lambda(x, Step(x)), q1, c, q2)),
    published=(sp.pi - _THETA) / (2 * sp.pi),
    implementation=sp.atan2(sp.sqrt(_DET), -c) / (2 * sp.pi),
    relations=(COVARIANCE,),
    symbol_tex=r"\dot{\mathcal{T}}",
    assumptions=MAP_ASSUMPTIONS + ("φ = ReLU, φ' = 𝟙[x > 0]",),
    source=SOURCE,
    infinite_derivative=(("c", sp.Eq(_DET, 0), "inf or NaN (∂Ṫ/∂c = 1/(2π√det) → ∞ at identical or opposite inputs)"),),
)

erf_kernel_map = Result(
    name="erf_kernel_map",
    title="Kernel map of an erf layer (arcsin kernel)",
    params=(Q1, C, Q2),
    definition=GaussianMap("T", BivariateE(sp.Lambda(x, sp.erf(x)), sp.Lambda(x, sp.erf(x)), q1, c, q2)),
    published=2 / sp.pi * sp.asin(2 * c / sp.sqrt((1 + 2 * q1) * (1 + 2 * q2))),
    implementation=2 / sp.pi * sp.atan2(2 * c, sp.sqrt(_ERF_D)),
    relations=(COVARIANCE,),
    symbol_tex=r"\mathcal{T}",
    assumptions=MAP_ASSUMPTIONS + ("φ = erf",),
    source=SOURCE,
)

erf_kernel_map_derivative = Result(
    name="erf_kernel_map_derivative",
    title="Derivative kernel map of an erf layer",
    params=(Q1, C, Q2),
    definition=GaussianMap("Tdot", BivariateE(sp.Lambda(x, sp.diff(sp.erf(x), x)), sp.Lambda(x, sp.diff(sp.erf(x), x)), q1, c, q2)),
    published=4 / sp.pi / sp.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c**2),
    implementation=4 / sp.pi / sp.sqrt(_ERF_D),
    relations=(COVARIANCE,),
    symbol_tex=r"\dot{\mathcal{T}}",
    assumptions=MAP_ASSUMPTIONS + ("φ = erf, φ'(x) = (2/√π) e^{−x²}",),
    source=SOURCE,
)

# -- kernels over a data set ---------------------------------------------------------------------------------

X1 = Param("x1", ArrayParam(2, "(n1, d)"), latex="x_1", description="inputs, one per row")
X2 = Param("x2", ArrayParam(2, "(n2, d)", optional=True), latex="x_2", description="second inputs (None: x1)")
HIDDEN = Param("hidden_layers", IntParam(0), test=IntParam(0, 30), latex="L", description="number of hidden layers (dense, then activation)")
SIGMA_W2 = Param("sigma_w2", Interval(0.0, INF), test=Interval(0.1, 30.0, True, True), log=True, latex=r"\sigma_w^2",
                 description="weight variance (times the fan-in)")
SIGMA_B2 = Param("sigma_b2", Interval(0.0, INF, lo_closed=True), test=Interval(0.0, 1.0, True, True), special=(0.0,),
                 latex=r"\sigma_b^2", description="bias variance")
ACTIVATION = Param("activation", ChoiceParam(("relu", "erf")), latex=r"\phi", description="the nonlinearity φ")

_q1, _q2, _det = sp.symbols("q1 q2 det", positive=True)
_c, _diff = sp.symbols("c diff", real=True)
_P = _det + _c**2                                   # q1 q2
_THETA_C = sp.atan2(sp.sqrt(_det), _c)               # the angle between the two inputs
_GAP = 2 * sp.pi * sp.sin(_THETA_C / 2) ** 2 - SinMinusXCos(_THETA_C)   # π − J(θ) ≥ 0, no cancellation
_J = sp.pi - _GAP                                    # J(θ) = sin θ + (π − θ) cos θ, T12 = √(q1 q2) J/(2π)


#: below this ratio of the sines a_i = 2q_i/(1 + 2q_i), A_11 A_22 − A_g² is summed as a series in the smaller one
_RATIO = sp.Rational(1, 100)
#: terms of that series: the k-th is about (a_small/a_big)^{k−1} of the first, so 10 leave 1e-18 relative
_MIXED_TERMS = 10


def _mixed_series(A: sp.Expr, a: sp.Expr, small: sp.Expr) -> sp.Expr:
    r"""``arcsin(a) arcsin(s) − arcsin(√(a s))²`` for ``s ≪ a`` as ``Σ_k c_k(a) s^k``: from ``arcsin s = Σ α_k s^k``
    (odd ``k``) and ``arcsin(y)² = Σ_k 2^{2k−1} y^{2k}/(k² C(2k, k))``, ``c_k = α_k arcsin(a) − 2^{2k−1} a^k/(k² C(2k, k))``;
    ``c_1 = arcsin(a) − a = a expm1(ln(arcsin a/a))`` without cancellation. Where one input row has a tiny norm the
    sinc form's ``ln r`` is a sum of terms ~``a`` that cancel to ~``s`` (1e-12 relative lost at ``s/a`` = 4e-5)."""
    total = small * a * expm1(LogAsinc(a))
    for k in range(2, _MIXED_TERMS + 1):
        square = sp.Rational(2 ** (2 * k - 1), k**2 * sp.binomial(2 * k, k))
        odd = sp.Rational(sp.factorial(k - 1), 4 ** ((k - 1) // 2) * sp.factorial((k - 1) // 2) ** 2 * k) if k % 2 else 0
        total += (odd * A - square * a**k) * small**k
    return total


def _erf_carried() -> tuple:
    r"""The erf layer without cancellation. With ``T_ij = (2/π) A_ij``, ``A_ii = arcsin(2q_i/(1 + 2q_i))``,
    ``A_12 = arcsin(2c/√((1 + 2q1)(1 + 2q2)))`` and ``A_g = arcsin(2√(q1 q2)/√((1 + 2q1)(1 + 2q2)))`` (the value
    of ``A_12`` at ``c = √(q1 q2)``), every difference the next layer needs is split into nonnegative parts,
    each an angle whose sine is formed from the carried ``det`` and ``diff = q1 − q2``:

    * the angle gap ``Δ = A_g − |A_12|`` (``ErfAngleGap``: a difference of arcsines whose sines differ by
      ``g² − s² = 4 det/((1 + 2q1)(1 + 2q2))``, formed in O(1) factors so nothing overflows);
    * the norm gap ``D = A_11 − A_22`` (``ErfNormGap``: the sines differ by ``2 diff/((1 + 2q1)(1 + 2q2))``);
      with ``M = (A_11 + A_22)/2``, ``sin² M − sin² A_g = sin²(D/2)``, so
      ``E = M − A_g = arcsin(sin²(D/2)/sin(M + A_g)) ≥ 0``;
    * ``A_11 A_22 − A_g² = E (M + A_g) − D²/4 = (D/2)² (r − 1) ≥ 0`` with
      ``ln r = 2 ln sinc(D/2) − ln sinc(M + A_g) + ln(arcsin z / z)``, ``z = sin²(D/2)/sin(M + A_g)``, each term
      by its series where it is small.

    Then ``det_T = (2/π)² [(A_11 A_22 − A_g²) + Δ (2A_g − Δ)]``, ``dist_T = (4/π)(E + A_g − A_12)`` and
    ``diff_T = (2/π) D``. Where ``|c| ≥ √(q1 q2)/2`` (nearly parallel or opposite), ``A_g − A_12`` is ``Δ`` for
    ``c ≥ 0`` and ``2A_g − Δ`` otherwise, and ``T12 = ±(2/π)(A_g − Δ)``, so the next layer's covariance carries no
    rounding that the chaotic phase would amplify; elsewhere both are formed directly (no cancellation there, and
    the gradient in ``c`` at ``c = 0`` is the true one, not that of ``|c|``)."""
    alpha = 2 / sp.pi
    P = 1 + 2 * _q1 + 2 * _q2
    Q = P + 4 * _det
    root = sp.sqrt(_q1 * _q2)
    A1 = sp.atan2(2 * _q1, sp.sqrt(1 + 4 * _q1))
    A2 = sp.atan2(2 * _q2, sp.sqrt(1 + 4 * _q2))
    Ag = sp.atan2(2 * root, sp.sqrt(P))
    B = sp.atan2(2 * _c, sp.sqrt(Q))
    gap = ErfAngleGap(_q1, _q2, _c, _det)
    D = ErfNormGap(_q1, _q2, _diff)
    x = (A1 + A2) / 2 + Ag
    z = sp.sin(D / 2) ** 2 / sp.sin(x)
    norm_gap = sp.asin(z)
    a1, a2 = 2 * _q1 / (1 + 2 * _q1), 2 * _q2 / (1 + 2 * _q2)   # sin A_11, sin A_22; sin A_g = √(a1 a2)
    big, small = sp.Max(a1, a2), sp.Min(a1, a2)   # the series in the smaller sine (symmetric in the two rows)
    mixed = sp.Piecewise((_mixed_series(sp.Piecewise((A1, a1 >= a2), (A2, True)), big, small), small <= _RATIO * big),
                         ((D / 2) ** 2 * expm1(LogAsinc(z) + 2 * LogSinc(D / 2) - LogSinc(x)), True))
    near = 4 * _c**2 >= _q1 * _q2   # nearly (anti)parallel: the gaps; elsewhere A_g − A_12 has no cancellation
    angle = sp.Piecewise((sp.Piecewise((gap, _c >= 0), (2 * Ag - gap, True)), near), (Ag - B, True))
    return (
        ("t12", sp.Piecewise((alpha * sp.sign(_c) * (Ag - gap), near), (alpha * B, True))),
        ("det_t", alpha**2 * (mixed + gap * (2 * Ag - gap))),
        ("dist_t", 2 * alpha * (norm_gap + angle)),
        ("diff_t", alpha * D),
    )


def _erf_fast() -> tuple:
    r"""The erf layer's fast forms, for pairs where the carried gaps are well-conditioned by their definitions:
    ``T12 = (2/π) atan2(2c, √(1 + 2q1 + 2q2 + 4 det))`` (the map with the carried ``det``; ``(1 + 2q1)(1 + 2q2) − 4c² =
    1 + 2q1 + 2q2 + 4 det``) and ``diff_T = (2/π) D`` (the norm gap, one ``atan2``); ``det_T`` and ``dist_T`` then follow
    from their definitions, where the composition's per-entry bound accepts them (else the carried layer runs)."""
    alpha = 2 / sp.pi
    Q = 1 + 2 * _q1 + 2 * _q2 + 4 * _det
    return (("t12", alpha * sp.atan2(2 * _c, sp.sqrt(Q))), ("diff_t", alpha * ErfNormGap(_q1, _q2, _diff)))


#: per activation, the forms of a layer evaluated where the naive gaps are well-conditioned (see KernelComposition)
FAST = (("erf", _erf_fast()),)

CARRIED = (
    ("relu", (("det_t", _P * _GAP * (sp.pi + _J) / (4 * sp.pi**2)),
              ("dist_t", _diff**2 / (2 * (sp.sqrt(_q1) + sp.sqrt(_q2)) ** 2) + sp.sqrt(_P) * _GAP / sp.pi),
              ("diff_t", _diff / 2))),
    ("erf", _erf_carried()),
)
MAPS = (("relu", ("relu_kernel_map", "relu_kernel_map_derivative")), ("erf", ("erf_kernel_map", "erf_kernel_map_derivative")))
# Jacot et al.'s places are checked against the paper's text (arXiv:1806.07572)
KERNEL_SOURCE = Source("004", "Sec. 4.1, Proposition 1 (the NNGP kernel) and Theorem 1 (the limiting NTK), with the weights "
                       "scaled by σ_w and β = σ_b", "jacot2018neural",
                       seed_where="slides “Training Dynamics and NTK” and “Convergence of NTK and Phase Diagram”")
KERNEL_ASSUMPTIONS = (
    "infinitely wide hidden layers, NTK parameterisation z = (σ_w/√n) W x + σ_b b with W, b ~ N(0, 1) (neural-tangents' convention)",
    "input kernel K⁰ = x1 x2ᵀ/d; hidden_layers blocks of dense then activation, then a dense readout",
    "det = q1 q2 − c², dist = q1 + q2 − 2c and diff = q1 − q2 are carried through the layers without cancellation, "
    "so nearly identical (θ → 0) and nearly opposite (θ → π) inputs keep their angle to round-off, also where the "
    "chaotic phase amplifies it by χ1 per layer",
    "raises an error naming hidden_layers where a variance would leave [1e-150, 1e150] (products of two variances "
    "must stay exact in float64)",
)
nngp_kernel = Result(
    name="nngp_kernel",
    title="NNGP kernel of a deep fully-connected network",
    params=(X1, X2, HIDDEN, SIGMA_W2, SIGMA_B2, ACTIVATION),
    definition=KernelComposition("nngp", "activation", MAPS, CARRIED, FAST),
    symbol_tex=r"\mathcal{K}",
    assumptions=KERNEL_ASSUMPTIONS,
    source=KERNEL_SOURCE,
)
ntk_kernel = Result(
    name="ntk_kernel",
    title="Neural tangent kernel of a deep fully-connected network",
    params=(X1, X2, HIDDEN, SIGMA_W2, SIGMA_B2, ACTIVATION),
    definition=KernelComposition("ntk", "activation", MAPS, CARRIED, FAST),
    symbol_tex=r"\Theta",
    assumptions=KERNEL_ASSUMPTIONS + ("Θ¹ = K¹ (Θ⁰ = 0); the kernel of one readout unit (Θ ⊗ I_k for k outputs)",),
    source=KERNEL_SOURCE,
)

# -- fixed points, slopes, depth scales and large-depth limits (broadcast over (sigma_w2, sigma_b2)) --------------

SIGMA_B2_POS = Param("sigma_b2", Interval(0.0, INF), test=Interval(1e-4, 2.0, True, True), log=True, special=(0.05,),
                     latex=r"\sigma_b^2", description="bias variance (positive: with σ_b² = 0 the fixed point is q* = 0)")
w, b = SIGMA_W2.symbol, SIGMA_B2_POS.symbol
PHASE_PARAMS = (SIGMA_W2, SIGMA_B2_POS, ACTIVATION)
RELU_BOUNDED = Relation("sigma_w2", w < 2, "sigma_w2 < 2 for ReLU (σ_w² ≥ 2 has no finite fixed point: the variance diverges)",
                        when=("activation", "relu"))
PHASE_SOURCE = Source("004", "its large-depth analysis of the NNGP kernel and the NTK: the fixed point (q*, c*), χ1, the "
                      "depth scales, the ordered and the chaotic phase", "xiao2020disentangling",
                      seed_where="slide “Convergence of NTK and Phase Diagram”")
PHASE_ASSUMPTIONS = (
    "infinitely wide layers; the fixed points of the dense-then-activation map K ↦ σ_w² T(K) + σ_b² (the layer recursion of nngp_kernel)",
    "erf: ordered phase χ1 < 1 (c* = 1), chaotic phase χ1 > 1 (c* < 1); ReLU is always ordered on its domain (χ1 = σ_w²/2 < 1)",
)
_qs, _cs = sp.Symbol("q_star", positive=True), sp.Symbol("c_star", real=True)
_qv, _phi = sp.Symbol("q", positive=True), sp.Symbol("phi", nonnegative=True)
_T = {"relu": ref("relu_kernel_map"), "erf": ref("erf_kernel_map")}
_TDOT = {"relu": ref("relu_kernel_map_derivative"), "erf": ref("erf_kernel_map_derivative")}
_ERF_A = sp.atan2(2 * _qs, sp.sqrt(1 + 4 * _qs))      # arcsin(a), a = 2q*/(1 + 2q*): the angle of T(q*, q*, q*)
_ERF_a = 2 * _qs / (1 + 2 * _qs)
_ERF_CHI1 = 4 * w / (sp.pi * sp.sqrt(1 + 4 * _qs))    # σ_w² Ṫ(q*, q*, q*)
# c = sin(A − φ)/a: T(q*, q* c, q*) = (2/π)(A − φ), and 1 − c = 2 cos(A − φ/2) sin(φ/2)/a, so the residual of the
# correlation equation is −(1 − c) q* G(φ) with G below (increasing in φ; G(0) = 1 − χ1, G(A) = σ_b²/q*)
_ERF_G = 1 - w * (2 / sp.pi) * _ERF_a / (_qs * sp.cos(_ERF_A - _phi / 2) * sp.sinc(_phi / 2))
# small c*: ψ = A − φ = arcsin(a c*) loses relative accuracy in the subtraction, so one Newton step on the correlation
# equation in ψ, F(ψ) = q* sin ψ/a − (2σ_w²/π) ψ − σ_b² (F' = (q* cos ψ/a)(1 − χ_c*), well away from 0 there), restores it
_PSI_0 = _ERF_A - _phi
_ERF_F = _qs * sp.sin(_PSI_0) / _ERF_a - 2 * w / sp.pi * _PSI_0 - b
_PSI_1 = _PSI_0 - _ERF_F / (_qs * sp.cos(_PSI_0) / _ERF_a - 2 * w / sp.pi)
_Q_ERF = solved_variable("kernel_fixed_point_erf_variance")(w, b)
_PHI_ERF = solved_variable("kernel_fixed_point_erf_correlation")(w, b, _Q_ERF)

_C_STAR_ERF = sp.Piecewise((sp.sin(_PSI_1) / _ERF_a, (_ERF_CHI1 > 1) & (_phi > _ERF_A / 2)),
                           (sp.sin(_ERF_A - _phi) / _ERF_a, _ERF_CHI1 > 1), (1, True)).subs(_phi, _PHI_ERF).subs(_qs, _Q_ERF)


def _fixed_point_equations(act):
    return (sp.Eq(_qs, w * _T[act](_qs, _qs, _qs) + b), sp.Eq(_cs * _qs, w * _T[act](_qs, _cs * _qs, _qs) + b))


kernel_fixed_point = Result(
    name="kernel_fixed_point",
    title="Fixed point of the kernel map (variance q* and correlation c*)",
    params=PHASE_PARAMS,
    definition=ByChoice("activation", (
        ("relu", (Solve("q_star", _fixed_point_equations("relu")[0], outputs=(("q_star", _qs), ("c_star", sp.S.One)),
                        checks=(_fixed_point_equations("relu")[1],)),)),
        ("erf", (
            Root(equations=(_fixed_point_equations("erf")[0],), variable=_qv, bracket=(b, w + b),
                 equation=1 - w * (2 / sp.pi) * sp.atan2(2 * _qv, sp.sqrt(1 + 4 * _qv)) / _qv - b / _qv,
                 outputs=(("q_star", _qv),), guess=w / 2 + b, name="kernel_fixed_point_erf_variance"),
            Root(equations=(_fixed_point_equations("erf")[1],), variable=_phi, bracket=(sp.S.Zero, _ERF_A),
                 equation=sp.Piecewise((_ERF_G, _ERF_CHI1 > 1), (_phi, True)),
                 outputs=(("q_star", _qs), ("c_star", sp.Piecewise((sp.sin(_ERF_A - _phi) / _ERF_a, _ERF_CHI1 > 1), (1, True)))),
                 guess=sp.Piecewise((_ERF_A / 2, _ERF_CHI1 > 1), (0, True)), name="kernel_fixed_point_erf_correlation",
                 given=((_qs, _Q_ERF),), where=_ERF_CHI1 > 1),
        )),
    ), defining=sp.And(*_fixed_point_equations("relu")).replace(lambda e: e.func == _T["relu"], lambda e: sp.Function(r"\mathcal{T}")(*e.args)),
        published=(("relu", b / (1 - w / 2)),),
        implementations=(("erf", (("c_star", _C_STAR_ERF),)),)),
    symbol_tex="(q^*, c^*)",
    relations=(RELU_BOUNDED,),
    assumptions=PHASE_ASSUMPTIONS + (
        "q* = σ_w² T(q*, q*, q*) + σ_b² and c* q* = σ_w² T(q*, c* q*, q*) + σ_b²; c* the stable fixed point (c* = 1 when χ1 ≤ 1)",
        "erf: q* the root of 1 − σ_w² T(q, q, q)/q − σ_b²/q, increasing in q on [σ_b², σ_w² + σ_b²]; in the chaotic phase "
        "c* = sin(A − φ)/a with φ = arcsin a − arcsin(a c*) the root of an increasing equation on [0, arcsin a], "
        "a = 2q*/(1 + 2q*): exact as c* → 1 at the phase boundary",
    ),
    source=PHASE_SOURCE,
)

_Q = {act: ref(f"kernel_fixed_point_{act}", "q_star")(w, b) for act in ("relu", "erf")}
_C = {act: ref(f"kernel_fixed_point_{act}", "c_star")(w, b) for act in ("relu", "erf")}

chi1 = Result(
    name="chi1",
    title="Slope χ1 of the kernel map at the fixed point",
    params=PHASE_PARAMS,
    definition=ByChoice("activation", (
        ("relu", (Composite("chi1", w * _TDOT["relu"](_qs, _qs, _qs)),)),
        ("erf", (Composite("chi1", w * _TDOT["erf"](_Q["erf"], _Q["erf"], _Q["erf"])),)),
    ), defining=sp.Eq(sp.Symbol(r"\chi_1"), w * sp.Function(r"\dot{\mathcal{T}}")(_qs, _qs, _qs)),
        published=(("relu", w / 2),)),
    symbol_tex=r"\chi_1",
    relations=(RELU_BOUNDED,),
    assumptions=PHASE_ASSUMPTIONS + ("ReLU: Ṫ(q, q, q) = 1/2 for every q, so χ1 = σ_w²/2 whatever q* is",),
    source=PHASE_SOURCE,
)

_CHI1 = {act: ref(f"chi1_{act}")(w, b) for act in ("relu", "erf")}
_DELTA = 2 * sp.cos(_ERF_A - _PHI_ERF / 2) * sp.sin(_PHI_ERF / 2) / _ERF_a       # 1 − c*, without cancellation
_ERF_CHIC = 4 * w / (sp.pi * sp.sqrt(1 + 4 * _qs + 4 * _qs**2 * _DELTA * (2 - _DELTA)))   # σ_w² Ṫ(q*, q* c*, q*)

kernel_depth_scales = Result(
    name="kernel_depth_scales",
    title="Depth scales of the kernel's convergence",
    params=PHASE_PARAMS,
    definition=ByChoice("activation", (
        ("relu", (Composite("xi", (("xi_1", 1 / sp.Abs(sp.log(_CHI1["relu"]))),
                                   ("xi_c", -1 / sp.log(w * _TDOT["relu"](_qs, _qs, _qs))))),)),
        ("erf", (Composite("xi", (("xi_1", 1 / sp.Abs(sp.log(_CHI1["erf"]))),
                                  ("xi_c", -1 / sp.log(w * _TDOT["erf"](_Q["erf"], _Q["erf"] * _C["erf"], _Q["erf"]))))),)),
    ), defining=sp.And(sp.Eq(sp.Symbol(r"\xi_1"), 1 / sp.Abs(sp.log(sp.Symbol(r"\chi_1")))),
                       sp.Eq(sp.Symbol(r"\xi_c"), -1 / sp.log(sp.Symbol(r"\chi_{c^*}")))),
        implementations=(
            ("relu", (("xi_1", -1 / sp.log(1 + (w - 2) / 2)), ("xi_c", -1 / sp.log(1 + (w - 2) / 2)))),
            ("erf", (("xi_1", 1 / sp.Abs(sp.log(4 * w / sp.pi) - sp.log(1 + 4 * _Q["erf"]) / 2)),
                     ("xi_c", -1 / sp.log(_ERF_CHIC.subs(_qs, _Q["erf"]))))),
        )),
    symbol_tex=r"(\xi_1, \xi_c)",
    relations=(RELU_BOUNDED,),
    assumptions=PHASE_ASSUMPTIONS + (
        "ξ1 = 1/|ln χ1|: the depth over which c → 1 in the ordered phase (and over which the NTK's diagonal grows like "
        "χ1^l in the chaotic phase)", "ξ_c = −1/ln χ_c*, χ_c* = σ_w² Ṫ(q*, q* c*, q*): the depth over which c → c*; "
        "ξ_c = ξ1 in the ordered phase (c* = 1)", "both are infinite on the phase boundary χ1 = 1 and ill-conditioned "
        "near it: a relative change ε of σ_w² changes them by about ε/|χ1 − 1|"),
    source=PHASE_SOURCE,
)

_td, _to, _kd, _ko, _xd, _xo = sp.symbols("theta_diag theta_off k_diag k_off chi_diag chi_off", real=True)


def _depth_limit(act):
    chi_c = w * _TDOT[act](_Q[act], _Q[act] * _C[act], _Q[act]) if act == "erf" else _CHI1[act]
    return Solve(("theta_diag", "theta_off"), (sp.Eq(_td, _kd + _xd * _td), sp.Eq(_to, _ko + _xo * _to)),
                 outputs=(("diagonal", sp.Piecewise((_td, _xd < 1), (sp.oo, True))), ("off_diagonal", _to)),
                 given=((_kd, _Q[act]), (_xd, _CHI1[act]), (_ko, _Q[act] * _C[act]), (_xo, chi_c)))


ntk_depth_limit = Result(
    name="ntk_depth_limit",
    title="Large-depth limit of the NTK",
    params=PHASE_PARAMS,
    definition=ByChoice("activation", (("relu", (_depth_limit("relu"),)), ("erf", (_depth_limit("erf"),))),
                        defining=sp.And(sp.Eq(_td, _kd + _xd * _td), sp.Eq(_to, _ko + _xo * _to)),
                        implementations=(("erf", (("off_diagonal", _Q_ERF * _C_STAR_ERF / (1 - _ERF_CHIC.subs(_qs, _Q_ERF))),)),)),
    symbol_tex=r"\Theta^*",
    relations=(RELU_BOUNDED,),
    assumptions=PHASE_ASSUMPTIONS + (
        "Θ^{l+1} = K^{l+1} + σ_w² Ṫ(K^l) Θ^l with K at its fixed point: a linear recurrence Θ ↦ k + χ Θ whose limit is "
        "k/(1 − χ) when χ < 1", "diagonal: k = q*, χ = χ1 (inf in the chaotic phase, where Θ grows like χ1^l); "
        "off-diagonal: k = q* c*, χ = χ_c*", "ill-conditioned near the phase boundary, where 1 − χ → 0"),
    source=PHASE_SOURCE,
)

# -- function-space dynamics of squared-error gradient flow on the NTK ---------------------------------------

T_PARAM = Param("t", Interval(0.0, INF, lo_closed=True), test=Interval(0.0, 1e6, True, True), special=(0.0,), log=True,
                description="training time in gradient-descent steps (a scalar or a 1-d tensor of times)")
LR = Param("lr", Interval(0.0, INF), test=Interval(1e-3, 10.0, True, True), log=True, latex=r"\eta", description="learning rate")
NTK_TT = Param("ntk_train_train", ArrayParam(2, "(n, n)", psd=True), latex=r"\Theta", description="NTK between the training inputs")
NTK_ST = Param("ntk_test_train", ArrayParam(2, "(n*, n)"), latex=r"\Theta_{*X}", description="NTK between test and training inputs")
Y_TRAIN = Param("y_train", ArrayParam(2, "(n, k)"), latex="Y", description="training targets")
F0_TRAIN = Param("f0_train", ArrayParam(2, "(n, k)"), latex="f_0(X)", description="the network's outputs at initialisation")
F0_TEST = Param("f0_test", ArrayParam(2, "(n*, k)"), latex="f_0(X_*)", description="the network's test outputs at initialisation")
_n, _k = sp.symbols("n k", positive=True, integer=True)
_RATE = LR.symbol / (_n * _k)
FLOW_SOURCE = Source("004", "Sec. 5, “Least-squares regression”: f_t = f* + e^{−tΠ}(f0 − f*)", "jacot2018neural",
                     seed_where="slide “Training Dynamics and NTK”")
MEAN_SOURCE = Source("004", "Sec. 5, “Least-squares regression”: the mean of its limit t → ∞", "jacot2018neural",
                     seed_where="slide “Convergence of NTK and Phase Diagram”")
CONDITION_SOURCE = Source("004", "its condition number κ = λ_max/λ_min of the NTK, the measure of trainability", "xiao2020disentangling",
                          seed_where="slide “Convergence of NTK and Phase Diagram”")
FLOW_ASSUMPTIONS = (
    "gradient flow on L = ‖f(X) − Y‖²_F/(2 n k) with the kernel fixed at Θ (infinite width, or a wide network's "
    "linearisation): df/dt = −(lr/(n k)) Θ (f − Y)",
    "Θ symmetric positive semi-definite; the functions of Θ are applied through its eigendecomposition, with "
    "gradients by divided differences that stay finite when eigenvalues are equal or nearly equal",
)

mse_train_prediction = Result(
    name="mse_train_prediction",
    title="Training outputs under MSE gradient flow on the NTK",
    params=(T_PARAM, LR, NTK_TT, Y_TRAIN, F0_TRAIN),
    definition=SpectralFlow("train", _RATE),
    symbol_tex="f_t(X)",
    assumptions=FLOW_ASSUMPTIONS + ("f_t = Y + exp(−lr Θ t/(n k)) (f0 − Y); a 1-d t gives one (n, k) slice per time",),
    source=FLOW_SOURCE,
)
mse_test_prediction = Result(
    name="mse_test_prediction",
    title="Test outputs under MSE gradient flow on the NTK",
    params=(T_PARAM, LR, NTK_ST, NTK_TT, Y_TRAIN, F0_TRAIN, F0_TEST),
    definition=SpectralFlow("test", _RATE),
    symbol_tex="f_t(X_*)",
    assumptions=FLOW_ASSUMPTIONS + ("f_t(X*) = f0(X*) + Θ_{*X} Θ⁻¹ (I − exp(−lr Θ t/(n k))) (Y − f0); Θ⁻¹(I − e^{−sΘ}) "
                                    "is entire in Θ, so Θ may be singular",),
    source=FLOW_SOURCE,
)
ntk_condition_number = Result(
    name="ntk_condition_number",
    title="Condition number of the NTK",
    params=(NTK_TT,),
    definition=SpectralFlow("condition"),
    symbol_tex=r"\kappa",
    assumptions=FLOW_ASSUMPTIONS + ("κ = λ_max/λ_min: how many times slower the slowest mode trains than the fastest; inf "
                                    "where Θ is singular to round-off",),
    source=CONDITION_SOURCE,
)
mean_prediction = Result(
    name="mean_prediction",
    title="Mean prediction of an infinitely wide network trained to convergence",
    params=(NTK_ST, NTK_TT, Y_TRAIN),
    definition=SpectralFlow("mean"),
    symbol_tex=r"\bar f_\infty(X_*)",
    assumptions=FLOW_ASSUMPTIONS + ("t → ∞ and E f0 = 0 (random initialisation): Θ_{*X} Θ⁻¹ Y; Θ positive definite "
                                    "(the pseudo-inverse where it is singular to round-off)",),
    source=MEAN_SOURCE,
)

CLAIMS = (
    Claim("chaotic_phase_trains_fast_but_forgets_inputs",
          "In the chaotic phase (erf, sigma_w2 = 25, sigma_b2 = 0.05, chi1 = 3.40; inputs with K⁰_aa = 1) the NTK's diagonal "
          "grows like chi1^l while its off-diagonal stays bounded, so with depth the condition number of Θ_train tends to 1 "
          "(deep networks train fast) but the mean prediction Θ_{*X} Θ⁻¹ Y tends to 0 and loses its dependence on the test inputs.",
          ("ntk_kernel", "chi1", "ntk_depth_limit", "ntk_condition_number", "mean_prediction"), PHASE_SOURCE),
    Claim("ordered_phase_generalises_but_trains_slowly",
          "In the ordered phase (erf, sigma_w2 = 0.5, sigma_b2 = 0.05, chi1 = 0.53) Θ^l tends to Θ* 11ᵀ (ntk_depth_limit) with a "
          "remainder of order l chi1^l that carries the inputs, so the condition number grows with depth, about like 1/(l chi1^l), "
          "while the mean prediction keeps depending on the test inputs, at depths where Θ − Θ* is resolved in float64.",
          ("ntk_kernel", "chi1", "ntk_depth_limit", "ntk_condition_number", "mean_prediction"), PHASE_SOURCE),
)

FAMILY = Family(
    name="ntk",
    title="Trainability and generalisation through the neural tangent kernel",
    results=(relu_kernel_map, relu_kernel_map_derivative, erf_kernel_map, erf_kernel_map_derivative, nngp_kernel, ntk_kernel,
             kernel_fixed_point, chi1, kernel_depth_scales, ntk_depth_limit, mse_train_prediction, mse_test_prediction,
             ntk_condition_number, mean_prediction),
    claims=CLAIMS,
)
