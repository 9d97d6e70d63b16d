"""Tests of the derivation engine (learndyn.derive): proof records, loud failure of wrong derivations,
the rewrite rules that produce the numerically stable forms, and removable singularities.

Every expected value here is written from THEORY.md (family 1) or computed independently (SymPy's own
``dsolve``, mpmath at high precision); nothing is copied from the code under test.
"""
from __future__ import annotations

import dataclasses

import mpmath
import pytest
import sympy as sp

from learndyn.derive import functions as F
from learndyn.derive.derivation import derive_result
from learndyn.derive.proof import DerivationError
from learndyn.derive.registry import declaration, derivation
from learndyn.derive.stable import log_ratio_to_log1p, logistic_form

FAMILY1 = ("scalar_trajectory", "mode_trajectory", "mode_learning_time", "deep_mode_time", "deep_mode_trajectory")
REWRITE_STEP = "emitted form chosen by rewrite rule"


def syms(name: str) -> dict[str, sp.Symbol]:
    return declaration(name).symbols


# --------------------------------------------------------------------------------------- proof records


@pytest.mark.parametrize("name", FAMILY1)
def test_every_result_derives_with_a_proof_record(name: str) -> None:
    d = derivation(name)
    assert d.result.name == name
    assert len(d.proof) >= 1
    for step in d.proof:
        assert step.claim.strip(), f"{name}: empty claim in {step}"
        assert step.method.strip(), f"{name}: empty method in {step}"
    # every step except the (informational) choice of the rewrite rule says how it was proven
    for step in d.proof:
        if step.claim == REWRITE_STEP:
            continue
        assert step.method.startswith(("symbolic", "numeric")), f"{name}: step without symbolic/numeric method: {step}"
    # a rewrite rule is always followed by a symbolic proof that the emitted form equals the derived one
    claims = [s.claim for s in d.proof]
    if REWRITE_STEP in claims:
        after = d.proof[claims.index(REWRITE_STEP) + 1:]
        assert any("emitted form" in s.claim and s.method.startswith("symbolic") for s in after), d.proof


@pytest.mark.parametrize("name", [
    "scalar_trajectory",
    "mode_trajectory",
    "mode_learning_time",
    "deep_mode_time",
    "deep_mode_trajectory",
])
def test_every_proof_step_says_symbolic_or_numeric(name: str) -> None:
    for step in derivation(name).proof:
        assert step.method.startswith(("symbolic", "numeric")), f"{name}: {step}"


def test_ode_results_prove_the_ode_the_initial_condition_and_the_published_form() -> None:
    for name in ("scalar_trajectory", "mode_trajectory"):
        claims = " | ".join(s.claim for s in derivation(name).proof)
        assert "solves the ODE" in claims
        assert "initial condition" in claims
        assert "published form" in claims


def test_numeric_proof_steps_state_points_and_precision() -> None:
    steps = [s for s in derivation("deep_mode_time").proof if s.method.startswith("numeric")]
    # one per derived depth 1..4 and one against quadrature at other depths
    assert len(steps) >= 5
    for s in steps:
        assert "points" in s.method and "digits" in s.method, s


# ---------------------------------------------------------------- derived forms against THEORY.md


def test_scalar_trajectory_derived_form_is_seed_000_eq_2() -> None:
    S = syms("scalar_trajectory")
    t, x, y, u0, lr = (S[k] for k in ("t", "x", "y", "u0", "lr"))
    E = sp.exp(2 * y * x * t * lr)
    theory = y * E / (x * (E - 1) + y / u0)
    assert sp.simplify(derivation("scalar_trajectory").derived - theory) == 0


def test_mode_trajectory_derived_form_matches_theory() -> None:
    S = syms("mode_trajectory")
    t, s, u0, tau = (S[k] for k in ("t", "s", "u0", "tau"))
    E = sp.exp(2 * s * t / tau)
    theory = s * E / (E - 1 + s / u0)
    assert sp.simplify(derivation("mode_trajectory").derived - theory) == 0


def test_mode_learning_time_derived_form_matches_theory() -> None:
    S = syms("mode_learning_time")
    s, u0, uf, tau = (S[k] for k in ("s", "u0", "uf", "tau"))
    theory = tau / (2 * s) * sp.log(uf * (s - u0) / (u0 * (s - uf)))
    d = derivation("mode_learning_time")
    assert sp.simplify(sp.expand_log(d.derived - theory, force=True)) == 0
    # the emitted form is the log1p rewrite (no bare log left) and equal to the theory at sample points
    assert not d.implementation.has(sp.log)
    for pt in ({s: sp.Rational(3, 2), u0: sp.Rational(1, 100), uf: sp.Rational(7, 5), tau: 10},
               {s: sp.Rational(1, 2), u0: 3, uf: sp.Rational(2, 3), tau: sp.Rational(1, 7)}):
        a = sp.N(F.to_elementary(d.implementation).subs(pt), 40)
        b = sp.N(theory.subs(pt), 40)
        assert abs(a - b) <= 1e-35 * abs(b)


def test_deep_mode_time_per_integer_forms_match_depth_1_and_2() -> None:
    """THEORY: D = 1 is linear regression (t = tau ln((s-u0)/(s-uf))), D = 2 is mode_learning_time."""
    d = derivation("deep_mode_time")
    assert set(d.per_integer) >= {1, 2, 3, 4}
    S = syms("deep_mode_time")
    s, u0, uf, tau = (S[k] for k in ("s", "u0", "uf", "tau"))
    d1 = tau * sp.log((s - u0) / (s - uf))
    d2 = tau / (2 * s) * sp.log(uf * (s - u0) / (u0 * (s - uf)))
    for pt in ({s: sp.Rational(3, 2), u0: sp.Rational(1, 100), uf: sp.Rational(7, 5), tau: 10},
               {s: 2, u0: sp.Rational(1, 3), uf: sp.Rational(1, 2), tau: sp.Rational(3, 7)}):
        for closed, ref in ((d.per_integer[1], d1), (d.per_integer[2], d2)):
            a, b = sp.N(closed.subs(pt), 40), sp.N(ref.subs(pt), 40)
            assert abs(sp.re(a) - b) <= 1e-30 * abs(b), (closed, pt)


def test_deep_mode_time_depth_3_per_integer_form_matches_quadrature() -> None:
    d = derivation("deep_mode_time")
    S = syms("deep_mode_time")
    pt = {"s": sp.Rational(3, 2), "u0": sp.Rational(1, 10), "uf": sp.Rational(6, 5), "tau": sp.Rational(7, 3)}
    closed = sp.re(sp.N(d.per_integer[3].subs({S[k]: v for k, v in pt.items()}), 40))
    with mpmath.workdps(40):
        s, u0, uf, tau = (mpmath.mpf(v.p) / v.q for v in pt.values())
        D = 3
        quad = tau / D * mpmath.quad(lambda v: 1 / (v ** (2 - mpmath.mpf(2) / D) * (s - v)), [u0, uf])
        assert abs(mpmath.mpf(str(closed)) - quad) <= mpmath.mpf(10) ** -30 * quad


# -------------------------------------------------------------------- removable singularity y = 0


def test_removable_singularity_y0_limit_recorded() -> None:
    d = derivation("scalar_trajectory")
    S = syms("scalar_trajectory")
    t, x, u0, lr = (S[k] for k in ("t", "x", "u0", "lr"))
    assert set(d.limits) == {"y"}
    at, lim = d.limits["y"]
    assert at == 0
    assert sp.simplify(lim - u0 / (1 + 2 * lr * x**2 * u0 * t)) == 0
    steps = [s for s in d.proof if "y = 0" in s.claim]
    assert len(steps) >= 2  # the limit itself, and the emitted form's value there
    assert all(s.method.startswith("symbolic") for s in steps)


def test_removable_singularity_emitted_form_continuous_at_y0() -> None:
    """The emitted (stable) form evaluated at y = ±1e-30 and y = 0 agrees with the limit to 1e-25."""
    d = derivation("scalar_trajectory")
    S = syms("scalar_trajectory")
    base = {S["t"]: 7, S["x"]: sp.Rational(3, 2), S["u0"]: sp.Rational(1, 3), S["lr"]: sp.Rational(1, 10)}
    lim = d.limits["y"][1].subs(base)
    for yv in (sp.Integer(0), sp.Rational(1, 10**30), -sp.Rational(1, 10**30)):
        got = sp.N(d.implementation.subs(base).subs(S["y"], yv), 40)
        assert abs(got - sp.N(lim, 40)) <= 1e-25 * abs(sp.N(lim, 40)), yv


# ------------------------------------------------------------------ wrong derivations fail loudly


@pytest.mark.parametrize("name", ["scalar_trajectory", "mode_trajectory", "mode_learning_time"])
def test_wrong_published_form_raises(name: str) -> None:
    r = declaration(name)
    wrong = dataclasses.replace(r, published=sp.Rational(101, 100) * r.published)
    with pytest.raises(DerivationError, match="published|closed form"):
        derive_result(wrong)


def test_wrong_published_form_shifted_argument_raises() -> None:
    r = declaration("mode_trajectory")
    S = r.symbols
    wrong = dataclasses.replace(r, published=r.published.subs(S["t"], S["t"] + 1))
    with pytest.raises(DerivationError):
        derive_result(wrong)


def test_wrong_published_time_with_sign_error_raises() -> None:
    r = declaration("mode_learning_time")
    S = r.symbols
    s, u0, uf, tau = (S[k] for k in ("s", "u0", "uf", "tau"))
    wrong = dataclasses.replace(r, published=tau / (2 * s) * sp.log(uf * (s + u0) / (u0 * (s - uf))))
    with pytest.raises(DerivationError):
        derive_result(wrong)


def test_correct_declaration_still_derives() -> None:
    """Control for the tests above: the unmodified declarations derive (no DerivationError)."""
    for name in ("scalar_trajectory", "mode_trajectory", "mode_learning_time"):
        d = derive_result(declaration(name))
        assert d.proof


def test_wrong_ode_with_published_form_of_another_ode_raises() -> None:
    """The declared ODE (rate 3 instead of 2) disagrees with the published form: caught."""
    r = declaration("mode_trajectory")
    S = r.symbols
    u = sp.Symbol("u")
    wrong = dataclasses.replace(r, definition=dataclasses.replace(r.definition, rhs=3 * u * (S["s"] - u)))
    with pytest.raises(DerivationError, match="published"):
        derive_result(wrong)


def test_wrong_initial_condition_is_caught() -> None:
    r = declaration("mode_trajectory")
    S = r.symbols
    wrong = dataclasses.replace(r, definition=dataclasses.replace(r.definition, initial=2 * S["u0"]))
    with pytest.raises(DerivationError):
        derive_result(wrong)


def test_hint_giving_a_wrong_answer_is_caught() -> None:
    """SymPy's '1st_power_series' hint returns a truncated series, not the solution; the engine must
    not accept it (it is caught by the comparison with the published form)."""
    r = declaration("scalar_trajectory")
    wrong = dataclasses.replace(r, definition=dataclasses.replace(r.definition, hint="1st_power_series"))
    with pytest.raises(DerivationError):
        derive_result(wrong)


def test_hint_giving_a_wrong_answer_is_caught_without_published_form() -> None:
    """Without a published form to compare with, the wrong (series) answer must still not be emitted."""
    r = declaration("scalar_trajectory")
    wrong = dataclasses.replace(r, published=None,
                                definition=dataclasses.replace(r.definition, hint="1st_power_series"))
    with pytest.raises(DerivationError):
        derive_result(wrong)


def test_hint_that_does_not_apply_raises_derivation_error() -> None:
    r = declaration("mode_trajectory")
    wrong = dataclasses.replace(r, definition=dataclasses.replace(r.definition, hint="nth_algebraic"))
    with pytest.raises(DerivationError):
        derive_result(wrong)


def test_implicit_and_per_integer_results_need_an_implementation() -> None:
    for name in ("deep_mode_trajectory", "deep_mode_time"):
        r = declaration(name)
        if name == "deep_mode_time":
            # only D = 1 derived, to keep this fast; the missing implementation must still be refused
            r = dataclasses.replace(r, definition=dataclasses.replace(r.definition, derive_for=(1,)))
        with pytest.raises(DerivationError, match="implementation"):
            derive_result(dataclasses.replace(r, implementation=None))


def _deep(**changes) -> "object":
    r = declaration("deep_mode_time")
    return dataclasses.replace(r, **changes)


def test_deep_mode_time_scaled_implementation_fails_numeric_step() -> None:
    r = declaration("deep_mode_time")
    S = r.symbols
    wrong = _deep(implementation=sp.Rational(101, 100) * F.DeepModeTime(S["s"], S["u0"], S["uf"], S["tau"], S["depth"]))
    with pytest.raises(DerivationError, match="numeric check failed"):
        derive_result(wrong)


def test_deep_mode_time_shifted_depth_implementation_fails_numeric_step() -> None:
    r = declaration("deep_mode_time")
    S = r.symbols
    wrong = _deep(implementation=F.DeepModeTime(S["s"], S["u0"], S["uf"], S["tau"], S["depth"] + 1))
    with pytest.raises(DerivationError, match="numeric check failed"):
        derive_result(wrong)


def test_deep_mode_time_shifted_argument_implementation_fails_numeric_step() -> None:
    r = declaration("deep_mode_time")
    S = r.symbols
    wrong = _deep(implementation=F.DeepModeTime(S["s"], S["u0"], S["uf"], S["tau"] * sp.Rational(1001, 1000), S["depth"]))
    with pytest.raises(DerivationError, match="numeric check failed"):
        derive_result(wrong)


def test_deep_mode_time_wrong_only_beyond_derived_depths_fails_quadrature_step() -> None:
    """An implementation right for D = 1, 2 (the depths SymPy integrates here) but 1e-6 off for larger D is
    caught by the step against the defining integral at other depths."""
    r = declaration("deep_mode_time")
    S = r.symbols
    D = S["depth"]
    off = 1 + (D - 1) * (D - 2) / sp.Integer(10**8)
    wrong = dataclasses.replace(
        r, definition=dataclasses.replace(r.definition, derive_for=(1, 2)),
        implementation=off * F.DeepModeTime(S["s"], S["u0"], S["uf"], S["tau"], D))
    with pytest.raises(DerivationError, match="numeric check failed"):
        derive_result(wrong)
    # control: the same shortened derivation accepts the right implementation
    right = dataclasses.replace(r, definition=dataclasses.replace(r.definition, derive_for=(1, 2)))
    d = derive_result(right)
    assert any("quadrature" in s.claim for s in d.proof)


# ------------------------------------------------------------------------------ rewrite rules


a_, b_, u0_, t_ = sp.Symbol("a", real=True), sp.Symbol("b", positive=True), sp.Symbol("u0", positive=True), sp.Symbol("t", nonnegative=True)
U = sp.Symbol("u")


def _logistic_reference(a, b, u0, t) -> mpmath.mpf:
    """du/dt = a u − b u², u(0) = u0, by hand: 1/u solves a linear ODE (mpmath, exact inputs)."""
    if a == 0:
        return u0 / (1 + b * u0 * t)
    E = mpmath.exp(a * t)
    return a * u0 * E / (a + b * u0 * mpmath.expm1(a * t))


@pytest.fixture(scope="module")
def logistic_dsolve():
    """SymPy's own solution of the logistic IVP (a ≠ 0), independent of the engine's rewrite rule."""
    f = sp.Function("f")
    a = sp.Symbol("a", real=True, nonzero=True)
    general = sp.dsolve(sp.Eq(f(t_).diff(t_), a * f(t_) - b_ * f(t_) ** 2), f(t_), hint="Bernoulli")
    (c1,) = [c for c in general.free_symbols if c.name.startswith("C")]
    (c1_value,) = sp.solve(sp.Eq(general.rhs.subs(t_, 0), u0_), c1)
    sol = general.rhs.subs(c1, c1_value)
    assert sp.simplify(sol.diff(t_) - (a * sol - b_ * sol**2)) == 0 and sp.simplify(sol.subs(t_, 0) - u0_) == 0
    return sol.subs(a, a_)


POINTS = [  # (a, b, u0, t) as exact rationals; a < 0, a = 0, a > 0, tiny |a t|, large |a t|
    (sp.Rational(-3), sp.Rational(1, 2), sp.Rational(2), sp.Rational(5, 4)),
    (sp.Rational(-1, 1000), sp.Rational(3), sp.Rational(1, 10), sp.Rational(7)),
    (sp.Integer(0), sp.Rational(2), sp.Rational(1, 3), sp.Rational(11, 2)),
    (sp.Rational(1, 10**9), sp.Rational(1, 7), sp.Rational(5), sp.Rational(3)),
    (sp.Rational(5, 2), sp.Rational(1, 4), sp.Rational(1, 10**6), sp.Rational(4)),
    (sp.Rational(40), sp.Rational(1), sp.Rational(1, 100), sp.Rational(30)),
    (sp.Rational(-40), sp.Rational(1), sp.Rational(1, 100), sp.Rational(30)),
]


@pytest.mark.parametrize("a,b,u0,t", POINTS)
def test_logistic_form_equals_dsolve_solution(logistic_dsolve, a, b, u0, t) -> None:
    form = logistic_form(a_ * U - b_ * U**2, U, u0_, t_)
    assert form is not None
    assert isinstance(form, sp.Piecewise)  # a has no known sign
    pt = {a_: a, b_: b, u0_: u0, t_: t}
    with mpmath.workdps(60):
        got = mpmath.mpf(str(sp.N(form.subs(pt), 50)))
        ref = _logistic_reference(*(mpmath.mpf(v.p) / v.q for v in (a, b, u0, t)))
        if a != 0:
            ds = mpmath.mpf(str(sp.N(logistic_dsolve.subs(pt), 60)))
            assert abs(ds - ref) <= mpmath.mpf(10) ** -40 * abs(ref)
        assert abs(got - ref) <= mpmath.mpf(10) ** -40 * abs(ref), (a, got, ref)


def test_logistic_form_has_no_overflow_in_either_branch() -> None:
    """Each branch avoids exp of a positive argument: exp(Max(a,0)·t) never appears un-negated."""
    form = logistic_form(a_ * U - b_ * U**2, U, u0_, t_)
    for e in form.atoms(sp.exp):
        arg = e.args[0]
        # evaluate the exponent at a = ±5, t = 3: it must never be positive
        for av in (5, -5):
            assert sp.N(arg.subs({a_: av, t_: 3})) <= 0, e


def test_logistic_form_sign_known_gives_single_branch() -> None:
    s, tau = sp.Symbol("s", positive=True), sp.Symbol("tau", positive=True)
    form = logistic_form(2 * U * (s - U) / tau, U, u0_, t_)
    assert form is not None and not isinstance(form, sp.Piecewise)
    E = sp.exp(2 * s * t_ / tau)
    theory = s * E / (E - 1 + s / u0_)
    assert sp.simplify(F.to_elementary(form) - theory) == 0
    neg = sp.Symbol("c", negative=True)
    form = logistic_form(neg * U - b_ * U**2, U, u0_, t_)
    assert form is not None and not isinstance(form, sp.Piecewise)
    pt = {neg: -2, b_: 3, u0_: sp.Rational(1, 2), t_: 5}
    with mpmath.workdps(60):
        ref = _logistic_reference(mpmath.mpf(-2), mpmath.mpf(3), mpmath.mpf(0.5), mpmath.mpf(5))
        assert abs(mpmath.mpf(str(sp.N(form.subs(pt), 50))) - ref) <= mpmath.mpf(10) ** -40 * ref


@pytest.mark.parametrize("rhs", [
    a_ * U - b_ * U**3,
    1 + a_ * U - b_ * U**2,
    a_ * U,
    a_ * U**4 - U**2,
    sp.Integer(3),
])
def test_logistic_form_rejects_non_logistic_rhs(rhs) -> None:
    assert logistic_form(rhs, U, u0_, t_) is None


def test_log_ratio_to_log1p_equal_and_accurate() -> None:
    s, u0, uf, tau = sp.symbols("s u0 uf tau", positive=True)
    expr = tau / (2 * s) * sp.log(uf * (s - u0) / (u0 * (s - uf)))
    out = log_ratio_to_log1p(expr)
    assert not out.has(sp.log) and out.has(F.log1p)
    assert sp.simplify(F.to_elementary(out) - expr) == 0
    naive = sp.lambdify((s, u0, uf, tau), expr, modules="math")
    stable = sp.lambdify((s, u0, uf, tau), out, modules="math")
    naive_worst = 0.0
    for u0v, ufv in ((1e-3, 1e-3 * (1 + 1e-12)), (0.5, 0.5 + 1e-13), (2.0, 2.0 - 1e-11), (0.25, 0.25 * (1 + 3e-14)),
                     (0.1, 0.1 + 7e-15), (3.0, 3.0 - 5e-13)):
        sv, tv = 1.0 if u0v < 1 else 1.5, 3.0
        with mpmath.workdps(60):
            S, U0, UF, T = (mpmath.mpf(v) for v in (sv, u0v, ufv, tv))
            ref = T / (2 * S) * mpmath.log(UF * (S - U0) / (U0 * (S - UF)))
            assert abs(stable(sv, u0v, ufv, tv) - ref) <= 1e-12 * abs(ref), (u0v, ufv)
            naive_worst = max(naive_worst, float(abs(naive(sv, u0v, ufv, tv) - ref) / abs(ref)))
    # the rewrite is needed: the naive form loses most digits there
    assert naive_worst > 1e-6


def test_log_ratio_to_log1p_leaves_log_free_expressions_alone() -> None:
    x = sp.Symbol("x", positive=True)
    assert log_ratio_to_log1p(x**2 + sp.exp(x)) == x**2 + sp.exp(x)
