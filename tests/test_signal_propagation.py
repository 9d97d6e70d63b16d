"""Family 3 (signal propagation): derivations and proofs, generated functions against mpmath evaluations of
THEORY.md's formulas written out here (independent of the engine), stable forms at their hard points, the
vectorised root solvers, domains and bad input.

The simulation tier is tested in ``test_signal_checks.py`` and the simulators in ``test_signal_simulators.py`` and
``test_signal_layer.py``.
"""
from __future__ import annotations

import dataclasses
import math

import mpmath
import pytest
import sympy as sp
import torch

import learndyn
from learndyn.derive.declaration import GaussianMap, Root
from learndyn.derive.derivation import derive_result
from learndyn.derive.families.signal_propagation import FAMILY
from learndyn.derive.functions import SinMinusXCos
from learndyn.derive.proof import DerivationError
from learndyn.derive.registry import declaration, derivation, derivations
from learndyn.domain import DomainError
from learndyn.numerics.special import ndtr
from learndyn.verify.closed_form import check_closed_form

FAMILY3 = [r.name for r in FAMILY.results]
RTOL, ATOL = 1e-12, 2.3e-308
mp = mpmath.mpf
f64 = lambda v: torch.tensor(v, dtype=torch.float64)


def close(got, ref) -> bool:
    return abs(mp(float(torch.as_tensor(got).detach())) - ref) <= RTOL * abs(ref) + ATOL


def off_by(fn, factor: float = 1.01):
    def wrong(**kw):
        v = fn(**kw)
        if hasattr(v, "_asdict"):
            return type(v)(*(factor * x for x in v))
        return factor * v
    return wrong


# ---- THEORY.md's formulas, with mpmath at 60 digits ----------------------------------------------------

def kappa(c):
    c = mp(c)
    return (c * mpmath.asin(c) + mpmath.sqrt(1 - c**2)) / mpmath.pi + c / 2


def c_star_ref(mu2):
    """The fixed point of c = κ(c)/μ2, solved in x = 1 − c (bracketed), independent of the engine's angle form."""
    with mpmath.workdps(60):
        mu2 = mp(mu2)
        if mu2 == 1:
            return mp(1)
        g = lambda x: kappa(1 - x) / mu2 - (1 - x)
        return 1 - mpmath.findroot(g, (mp(10) ** -40, mp(1)), solver="illinois")


# --------------------------------------------------------------------------------------------- tier (a)

@pytest.mark.parametrize("name", FAMILY3)
def test_tier_a_passes(name: str) -> None:
    c = check_closed_form(derivation(name), learndyn.function(name), examples=30, seed=0)
    assert c.passed, c.failure
    assert c.worst <= 1.0


@pytest.mark.parametrize("name", FAMILY3)
def test_tier_a_fails_when_off_by_one_percent(name: str) -> None:
    c = check_closed_form(derivation(name), off_by(learndyn.function(name)), examples=10, seed=0)
    assert not c.passed
    assert "relative error" in c.failure or "returned" in c.failure


# ------------------------------------------------------------------------------------------ derivations

def test_proof_records_say_which_steps_are_symbolic_and_which_numeric() -> None:
    kinds = {name: [str(s) for s in derivation(name).proof] for name in FAMILY3}
    # every step of the variance map is symbolic but the independent reference (its defining expectation by
    # quadrature), which is numeric
    steps = derivation("variance_map").proof
    assert all("symbolic" in str(s) for s in steps if "independent" not in str(s).lower())
    assert [s for s in steps if "independent" in str(s).lower()] and all(
        "numeric" in str(s) for s in steps if "independent" in str(s).lower())
    corr = " ".join(kinds["correlation_map"])
    assert "numeric (one-dimensional mpmath quadrature" in corr and "inner integrals in closed form" in corr
    assert any("numeric" in s for s in kinds["correlation_fixed_point"])
    assert any("sympy.rsolve" in s for s in kinds["variance_after_depth"])
    assert any("sympy.stats" in s for s in kinds["jacobian_spectrum_variance"])


def test_derived_forms_equal_theory() -> None:
    q, sw, sb, mu2 = (sp.Symbol(n, positive=True) for n in ("q", "sigma_w", "sigma_b", "mu2"))
    assert sp.simplify(derivation("critical_sigma_w").expr - sp.sqrt(2 / declaration("critical_sigma_w").params[0].symbol)) == 0
    cases = dict(derivation("jacobian_spectrum_variance").cases)
    a, L = declaration("jacobian_spectrum_variance").params[0].symbol, declaration("jacobian_spectrum_variance").params[1].symbol
    assert sp.simplify(cases["orthogonal"] - L * (1 - a) / a) == 0
    assert sp.simplify(cases["gaussian"] - L / a) == 0


def test_a_wrong_published_gaussian_form_fails_loudly() -> None:
    r = declaration("variance_map")
    wrong = dataclasses.replace(r, published=r.published * sp.Rational(101, 100))
    with pytest.raises(DerivationError, match="published"):
        derive_result(wrong, {})


def test_a_wrong_published_correlation_map_fails_its_quadrature_proof() -> None:
    r = declaration("correlation_map")
    reg = {d.name: d for d in derivations("signal_propagation")}
    wrong = dataclasses.replace(r, published=r.published * sp.Rational(101, 100))
    with pytest.raises(DerivationError, match="differs from the defining expectation"):
        derive_result(wrong, reg)


def test_a_root_equation_that_is_not_the_fixed_point_fails_loudly() -> None:
    r = declaration("correlation_fixed_point")
    theta, mu2 = r.definition.variable, r.params[0].symbol
    reg = {d.name: d for d in derivations("signal_propagation")}
    wrong = dataclasses.replace(r, definition=dataclasses.replace(
        r.definition, equation=SinMinusXCos(theta) / sp.pi - (mu2 - sp.Rational(99, 100)) * sp.cos(theta)))
    with pytest.raises(DerivationError):
        derive_result(wrong, reg)


# ------------------------------------------------------------------------------------------- numerics

@pytest.mark.parametrize("c", [-1.0, -1 + 1e-15, -1 + 1e-9, -0.999, -0.5, 0.0, 0.7, 1 - 1e-12, 1.0])
def test_correlation_map_exact_near_plus_and_minus_one_with_finite_gradient(c: float) -> None:
    x = f64(c).requires_grad_(True)
    v = learndyn.function("correlation_map")(c=x, mu2=1.5)
    with mpmath.workdps(60):
        assert close(v, kappa(mpmath.mpf(c)) / mp(1.5))
        (g,) = torch.autograd.grad(v, x)
        assert math.isfinite(float(g))
        assert abs(float(g) - float((mpmath.asin(mp(c)) / mpmath.pi + mp(1) / 2) / mp(1.5))) <= 1e-12


@pytest.mark.parametrize("mu2", [1.0 + 1e-15, 1.0 + 1e-12, 1.0 + 1e-6, 1.25, 2.0, 10.0, 1e3, 1e6])
def test_correlation_fixed_point_against_a_root_in_one_minus_c(mu2: float) -> None:
    """c* → 1 as mu2 → 1 (a root in c loses digits there) and c* → 0 as mu2 → ∞; both ends exact."""
    got = learndyn.function("correlation_fixed_point")(mu2)
    assert close(got, c_star_ref(mu2)), (float(got), c_star_ref(mu2))


def test_correlation_fixed_point_at_mu2_one_and_its_documented_gradient() -> None:
    m = f64([1.0, 1.0 + 1e-12]).requires_grad_(True)
    c = learndyn.function("correlation_fixed_point")(m)
    assert c[0].item() == 1.0
    (g,) = torch.autograd.grad(c.sum(), m)
    assert math.isnan(g[0].item())  # declared: dc*/dmu2 → −∞ at mu2 = 1
    assert math.isfinite(g[1].item()) and g[1].item() < -1e3
    assert learndyn.function("correlation_depth_scale")(1.0).item() == math.inf
    assert learndyn.function("trainable_depth")(1.0 + 1e-12).item() > 1e4


def test_depth_scale_matches_slope_and_fixed_point() -> None:
    mu2 = torch.logspace(0, 3, 50, dtype=torch.float64)[1:]
    chi = learndyn.function("correlation_slope")(mu2)
    xi = learndyn.function("correlation_depth_scale")(mu2)
    assert torch.allclose(xi, -1 / torch.log(chi), rtol=1e-10)
    assert bool((chi < 1).all()) and bool((xi[1:] < xi[:-1]).all())  # stronger noise, shorter depth scale
    c = learndyn.function("correlation_fixed_point")(mu2)
    assert torch.allclose(learndyn.function("correlation_map")(c, mu2), c, rtol=1e-13, atol=0)


def test_root_solver_is_vectorised_broadcasts_and_converges_everywhere() -> None:
    g = torch.Generator().manual_seed(0)
    mu2 = 1 + 10 ** (torch.rand(20000, generator=g, dtype=torch.float64) * 18 - 15)
    c = learndyn.function("correlation_fixed_point")(mu2)
    assert c.shape == mu2.shape and bool(torch.isfinite(c).all()) and bool(((c > 0) & (c <= 1)).all())
    alpha = torch.logspace(-2, 1, 7, dtype=torch.float64).reshape(7, 1)
    sigma_b = torch.logspace(-2, 1, 5, dtype=torch.float64)
    out = learndyn.function("shifted_relu_critical_point")(alpha, sigma_b)
    assert out.q_star.shape == (7, 5)


def test_shifted_relu_critical_point_satisfies_its_defining_equations() -> None:
    alpha = torch.logspace(-2, 1, 9, dtype=torch.float64).reshape(9, 1)
    sigma_b = torch.logspace(-2, 1, 9, dtype=torch.float64)
    q, a, sw = learndyn.function("shifted_relu_critical_point")(alpha, sigma_b)
    p = learndyn.function("shifted_relu_active_fraction")(q, alpha)
    m2 = learndyn.function("shifted_relu_second_moment")(q, alpha)
    assert torch.allclose(sw**2 * p, torch.ones_like(p), rtol=1e-13)
    assert torch.allclose(a, p, rtol=1e-14)
    assert torch.allclose(sw**2 * m2 + sigma_b**2, q, rtol=1e-12)


def test_shifted_relu_critical_point_gradients_by_implicit_differentiation() -> None:
    alpha, sigma_b = f64(0.7).requires_grad_(True), f64(0.2).requires_grad_(True)
    fn = learndyn.function("shifted_relu_critical_point")
    q = fn(alpha, sigma_b).q_star
    ga, gb = torch.autograd.grad(q, (alpha, sigma_b))
    h = 1e-6
    fd_a = (fn(0.7 + h, 0.2).q_star - fn(0.7 - h, 0.2).q_star) / (2 * h)
    fd_b = (fn(0.7, 0.2 + h).q_star - fn(0.7, 0.2 - h).q_star) / (2 * h)
    assert abs(ga.item() - fd_a.item()) <= 1e-7 * abs(fd_a.item())
    assert abs(gb.item() - fd_b.item()) <= 1e-7 * abs(fd_b.item())


@pytest.mark.parametrize("z", [-37.0, -30.0, -12.0, -5.0, 0.0, 3.0, 9.0])
def test_active_fraction_exact_in_the_far_tail(z: float) -> None:
    """½ erfc(−α/√(2q)): exact where 1 − ½ erfc(α/√(2q)) is 0 (and where torch.special.ndtr is)."""
    got = learndyn.function("shifted_relu_active_fraction")(q=4.0, alpha=2 * z)
    with mpmath.workdps(60):
        assert close(got, mpmath.ncdf(mp(z)))
    assert close(ndtr(f64(z)), mpmath.ncdf(mp(z)))


def test_variance_after_depth_at_slope_one_and_past_overflow() -> None:
    fn = learndyn.function("variance_after_depth")
    assert fn(q=1.5, sigma_w=1.0, sigma_b=0.1, mu2=2.0, depth=100).item() == pytest.approx(1.5 + 100 * 0.01, rel=1e-15)
    assert fn(q=1.5, sigma_w=1.0, sigma_b=0.1, mu2=2.0, depth=0).item() == 1.5
    # a^L overflows float64 but q a^L does not: 1e-6 · 50^182 ≈ 1.6e303
    got = fn(q=1e-6, sigma_w=10.0, sigma_b=1e-4, mu2=1.0, depth=182)
    with mpmath.workdps(60):
        A = mp(10.0) ** 2 / 2
        ref = A**182 * mp(1e-6) + mp(1e-4) ** 2 * (A**182 - 1) / (A - 1)
    assert close(got, ref)
    assert fn(q=1.0, sigma_w=10.0, sigma_b=0.0, mu2=1.0, depth=200).item() == math.inf  # the true value overflows


def test_variance_after_depth_iterates_variance_map() -> None:
    vm, vd = learndyn.function("variance_map"), learndyn.function("variance_after_depth")
    q = f64(0.7)
    for _ in range(12):
        q = vm(q, 1.3, 0.2, 1.4)
    assert torch.allclose(vd(0.7, 1.3, 0.2, 1.4, 12), q, rtol=1e-14)
    assert vm(1.0, learndyn.function("critical_sigma_w")(1.7), 0.0, 1.7).item() == pytest.approx(1.0, rel=1e-15)


def test_jacobian_spectrum_variance_cases() -> None:
    fn = learndyn.function("jacobian_spectrum_variance")
    assert fn(0.5, 10, "orthogonal").item() == 10.0 and fn(0.5, 10, "gaussian").item() == 20.0
    assert fn(1.0, 7, "orthogonal").item() == 0.0
    a = 1 - 2.0**-40
    assert close(fn(a, 3, "orthogonal"), 3 * (1 - mp(a)) / mp(a))  # no cancellation as a → 1


@pytest.mark.parametrize("name, kwargs, param", [
    ("variance_map", dict(q=-1.0, sigma_w=1.0, sigma_b=0.0, mu2=1.0), "q"),
    ("variance_map", dict(q=1.0, sigma_w=1.0, sigma_b=0.0, mu2=0.5), "mu2"),
    ("correlation_map", dict(c=1.5, mu2=1.0), "c"),
    ("correlation_fixed_point", dict(mu2=float("nan")), "mu2"),
    ("variance_after_depth", dict(q=1.0, sigma_w=1.0, sigma_b=0.0, mu2=1.0, depth=-1), "depth"),
    ("shifted_relu_critical_point", dict(alpha=-1.0, sigma_b=0.1), "alpha"),
    ("jacobian_spectrum_variance", dict(active_fraction=0.5, depth=3, weights="uniform"), "weights"),
    ("jacobian_spectrum_variance", dict(active_fraction=0.0, depth=3, weights="gaussian"), "active_fraction"),
])
def test_bad_input_names_the_parameter(name: str, kwargs: dict, param: str) -> None:
    with pytest.raises(DomainError, match=f"'{param}'"):
        learndyn.function(name)(**kwargs)


def test_definitions_hold_their_kinds() -> None:
    assert isinstance(declaration("correlation_map").definition, GaussianMap)
    assert isinstance(declaration("shifted_relu_critical_point").definition, Root)
    assert derivation("shifted_relu_critical_point").outputs[0][0] == "q_star"
