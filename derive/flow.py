"""Derivation of the function-space dynamics of squared-error gradient flow on a fixed kernel (the NTK).

The flow ``df/dt = −r Θ (f − Y)`` is linear with a symmetric PSD ``Θ``, so it decouples along the eigenvectors
of ``Θ``: SymPy solves the scalar mode equation ``du/dt = −r λ (u − y)`` with ``dsolve`` (proven by
``checkodesol`` and the initial condition), integrates the test output's equation ``dv/dt = −r κ (u − y)``
(proven by differentiation), and reads off the spectral functions ``F(λ) = e^{−sλ}`` and
``G(λ) = (1 − e^{−sλ})/λ`` of ``s = r t``, which the generated code applies to ``Θ`` through its
eigendecomposition with stable divided differences for the gradient (:mod:`learndyn.numerics.spectral`).
"""
from __future__ import annotations

import sympy as sp
from sympy.solvers.ode import checkodesol

from learndyn.derive.declaration import Result, SpectralFlow
from learndyn.derive.proof import DerivationError, Prover

__all__ = ["derive_flow", "SPECTRAL_FUNCTIONS"]

_s = sp.Symbol("s", nonnegative=True)
_lam = sp.Symbol("lambda", positive=True)
#: the spectral functions :func:`learndyn.numerics.spectral.spectral_apply` implements, as functions of ``(λ, s)``
SPECTRAL_FUNCTIONS = {"exp": sp.exp(-_s * _lam), "phi1": (1 - sp.exp(-_s * _lam)) / _lam}


def _recognise(prover: Prover, what: str, expr: sp.Expr) -> str:
    for name, form in SPECTRAL_FUNCTIONS.items():
        if sp.simplify(expr - form) == 0:
            prover.fact(f"{what} = {sp.sstr(form)}, applied to Θ as '{name}'", "symbolic (SymPy simplifies the difference to 0)")
            return name
    raise DerivationError(f"{what} = {sp.sstr(expr)} is not a spectral function the runtime implements")


def derive_flow(result: Result, d: SpectralFlow):
    from learndyn.derive.derivation import Derivation

    prover = Prover(result.name)
    t, tau = sp.Symbol("t", nonnegative=True), sp.Symbol("tau", nonnegative=True)
    r = sp.Symbol("r", positive=True)
    y, u0, v0, kappa = sp.symbols("y u0 v0 kappa", real=True)
    u, v = sp.Function("u"), sp.Function("v")
    ode = sp.Eq(u(t).diff(t), -r * _lam * (u(t) - y))
    sol = sp.dsolve(ode, u(t), ics={u(0): u0})
    ok, residual = checkodesol(ode, sol)
    if not ok:
        raise DerivationError(f"{result.name}: checkodesol fails: {residual}")
    u_t = sol.rhs
    prover.fact(f"the mode equation {sp.sstr(ode)} with u(0) = u0 solves to u = {sp.sstr(u_t)}",
                "symbolic (dsolve; checkodesol)")
    prover.symbolic("the initial condition u(0) = u0", u_t.subs(t, 0) - u0)
    to_s = {t: _s / r}
    outputs = {"train": "f_t", "test": "f_t(X*)", "mean": "f_∞(X*)", "condition": "κ"}
    if d.output not in outputs:
        raise DerivationError(f"{result.name}: unknown spectral-flow output {d.output!r}")
    F = sp.simplify(((u_t - y) / (u0 - y)).subs(to_s))
    spectral = [("decay", _recognise(prover, "F(λ) = (u − y)/(u0 − y) at t = s/r", F))]
    derived = u_t
    if d.output in ("test", "mean"):
        v_t = v0 + sp.integrate((-r * kappa * (u_t - y)).subs(t, tau), (tau, 0, t))
        prover.symbolic("the test output solves dv/dt = −r κ (u − y)", sp.diff(v_t, t) + r * kappa * (u_t - y))
        prover.symbolic("the test output starts at v(0) = v0", v_t.subs(t, 0) - v0)
        G = sp.simplify(((v_t - v0) / (kappa * (y - u0))).subs(to_s))
        spectral = [("integral", _recognise(prover, "G(λ) = (v − v0)/(κ (y − u0)) at t = s/r", G))]
        at_zero = sp.limit(G, _lam, 0)
        prover.symbolic("G is entire: G(0) = s (the removable singularity of (1 − e^{−sλ})/λ)", at_zero - _s)
        derived = v_t
        if d.output == "mean":
            limit = sp.limit(G, _s, sp.oo)
            prover.symbolic("as t → ∞, G(λ) → 1/λ for λ > 0, so with E f0 = 0 the mean prediction is Θ_{*X} Θ⁻¹ Y",
                            limit - 1 / _lam)
            spectral = [("inverse", "solve")]
            derived = kappa * y * limit
    if d.output == "condition":
        time_constant = sp.simplify(-1 / (sp.diff(u_t, t) / (u_t - y)))
        prover.symbolic("each mode decays with time constant 1/(r λ)", time_constant - 1 / (r * _lam))
        lmin, lmax = sp.symbols("lambda_min lambda_max", positive=True)
        ratio = sp.simplify(time_constant.subs(_lam, lmin) / time_constant.subs(_lam, lmax))
        prover.symbolic("the slowest over the fastest time constant is λ_max/λ_min", ratio - lmax / lmin)
        spectral = [("ratio", "condition")]
        derived = ratio
    prover.fact(f"s = r t with r = {sp.sstr(d.rate)} (n rows and k columns of y_train)", "definition (the loss in the assumptions)")
    defining = {"train": sp.Eq(sp.Symbol(r"\dot f_t"), -sp.Symbol("r") * sp.Symbol(r"\Theta") * (sp.Symbol("f_t") - sp.Symbol("Y"))),
                "test": sp.Eq(sp.Symbol(r"\dot f_t(X_*)"), -sp.Symbol("r") * sp.Symbol(r"\Theta_{*X}") * (sp.Symbol("f_t") - sp.Symbol("Y"))),
                "mean": sp.Eq(sp.Symbol(r"\bar f_\infty(X_*)"), sp.Symbol(r"\Theta_{*X}") * sp.Symbol(r"\Theta^{-1}") * sp.Symbol("Y")),
                "condition": sp.Eq(sp.Symbol(r"\kappa"), sp.Symbol(r"\lambda_{\max}") / sp.Symbol(r"\lambda_{\min}"))}[d.output]
    return Derivation(result, derived, derived, defining, {}, tuple(prover.steps),
                      spectral=((d.output, spectral[0][1], d.rate),))
