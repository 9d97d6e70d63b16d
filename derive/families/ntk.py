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
    ArrayParam, Between, ChoiceParam, Family, GaussianMap, Interval, IntParam, KernelComposition, Param, Relation, Result,
    Source,
)
from learndyn.derive.functions import ArcCosKernel, BivariateE, Gram2, ReLU, SinMinusXCos, Step

INF = math.inf

Q1 = Param("q1", Interval(0.0, INF), test=Interval(1e-4, 1e4, True, True), log=True, latex="q_1",
           description="variance of the first input's pre-activation")
Q2 = Param("q2", Interval(0.0, INF), test=Interval(1e-4, 1e4, True, True), log=True, latex="q_2",
           description="variance of the second input's pre-activation")
C = Param("c", Interval(-INF, INF), test=Between(-1.0, 1.0, scale=("q1", "q2")), latex="c",
          description="covariance of the two pre-activations (c = ρ √(q1 q2), ρ the correlation)")

q1, q2, c = Q1.symbol, Q2.symbol, C.symbol
x = sp.Symbol("x", real=True)

SOURCE = Source("004", "'Training Dynamics and NTK' (kernel maps)", "xiao2020disentangling")
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
ACTIVATION = Param("activation", ChoiceParam(("relu", "erf")), description="the nonlinearity φ")

_q1, _q2, _det = sp.symbols("q1 q2 det", positive=True)
_c = sp.Symbol("c", real=True)
_P = _det + _c**2                                   # q1 q2
_THETA_C = sp.atan2(sp.sqrt(_det), _c)               # the angle between the two inputs
_GAP = 2 * sp.pi * sp.sin(_THETA_C / 2) ** 2 - SinMinusXCos(_THETA_C)   # π − J(θ) ≥ 0, no cancellation
_J = sp.pi - _GAP                                    # J(θ) = sin θ + (π − θ) cos θ, T12 = √(q1 q2) J/(2π)
_ERF_T = lambda q: 2 / sp.pi * sp.atan2(2 * q, sp.sqrt(1 + 4 * q))        # noqa: E731 - T(q, q, q) for erf
_ERF_T12 = 2 / sp.pi * sp.atan2(2 * _c, sp.sqrt(1 + 2 * _q1 + 2 * _q2 + 4 * _det))
CARRIED = (
    ("relu", (_P * _GAP * (sp.pi + _J) / (4 * sp.pi**2),
              (_q1 - _q2) ** 2 / (2 * (sp.sqrt(_q1) + sp.sqrt(_q2)) ** 2) + sp.sqrt(_P) * _GAP / sp.pi)),
    ("erf", (Gram2(_ERF_T(_q1), _ERF_T(_q2), _ERF_T12), _ERF_T(_q1) + _ERF_T(_q2) - 2 * _ERF_T12)),
)
MAPS = (("relu", ("relu_kernel_map", "relu_kernel_map_derivative")), ("erf", ("erf_kernel_map", "erf_kernel_map_derivative")))
KERNEL_SOURCE = Source("004", "'Training Dynamics and NTK' and 'Convergence of NTK and Phase Diagram'", "xiao2020disentangling")
KERNEL_ASSUMPTIONS = (
    "infinitely wide hidden layers, NTK parameterisation z = (σ_w/√n) W x + σ_b b with W, b ~ N(0, 1) (neural-tangents' convention)",
    "input kernel K⁰ = x1 x2ᵀ/d; hidden_layers blocks of dense then activation, then a dense readout",
    "det = q1 q2 − c² and dist = q1 + q2 − 2c are carried through the layers without cancellation, so nearly "
    "identical (θ → 0) and nearly opposite (θ → π) inputs keep their angle to round-off",
    "raises an error naming hidden_layers where a variance would leave [1e-150, 1e150] (products of two variances "
    "must stay exact in float64)",
)
nngp_kernel = Result(
    name="nngp_kernel",
    title="NNGP kernel of a deep fully-connected network",
    params=(X1, X2, HIDDEN, SIGMA_W2, SIGMA_B2, ACTIVATION),
    definition=KernelComposition("nngp", "activation", MAPS, CARRIED),
    symbol_tex=r"\mathcal{K}",
    assumptions=KERNEL_ASSUMPTIONS,
    source=KERNEL_SOURCE,
)
ntk_kernel = Result(
    name="ntk_kernel",
    title="Neural tangent kernel of a deep fully-connected network",
    params=(X1, X2, HIDDEN, SIGMA_W2, SIGMA_B2, ACTIVATION),
    definition=KernelComposition("ntk", "activation", MAPS, CARRIED),
    symbol_tex=r"\Theta",
    assumptions=KERNEL_ASSUMPTIONS + ("Θ¹ = K¹ (Θ⁰ = 0); the kernel of one readout unit (Θ ⊗ I_k for k outputs)",),
    source=KERNEL_SOURCE,
)

FAMILY = Family(
    name="ntk",
    title="Trainability and generalisation through the neural tangent kernel",
    results=(relu_kernel_map, relu_kernel_map_derivative, erf_kernel_map, erf_kernel_map_derivative, nngp_kernel, ntk_kernel),
    claims=(),
    bibliography={
        "xiao2020disentangling": "Xiao, Pennington, Schoenholz. Disentangling trainability and generalization in deep neural networks. ICML 2020.",
        "jacot2018neural": "Jacot, Gabriel, Hongler. Neural tangent kernel: convergence and generalization in neural networks. NeurIPS 2018.",
    },
)
