"""Family 6's derivation (``derive/spectral_integral.py``) and its proofs.

* every result's proof record ends with the independent reference, agreeing to 1e-30;
* the closed forms SymPy derived by residues are the published ones (the limits, the Stieltjes transform, ridge
  regression through the Stieltjes transform), symbolically regime by regime and at seeded rational points to 30 digits;
* a wrong derivation fails loudly: an expectation with one variance 0.1 % off (the independent reference catches it),
  residues 0.1 % off (the mass-1 proof, the published form, the emitted quadrature's numeric proof catch them), a wrong
  published Stieltjes form;
* the engine is general: a user family with a semicircle density on [1, 3] is derived, emitted, executed and checked
  against mpmath quadrature.
"""
from __future__ import annotations

import dataclasses
import math
import random

import mpmath as mp
import pytest
import sympy as sp
import torch

from learndyn.derive.declaration import (Family, Interval, ModeDynamics, Param, Result, Source, SpectralDensity,
                                         SpectralIntegral)
from learndyn.derive.derivation import derive_result
from learndyn.derive.emit import emit_module
from learndyn.derive.proof import DerivationError, IndependentReference
from learndyn.derive.registry import declaration, derivations, family

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RESULTS = ("mp_density", "mp_stieltjes", "generalisation_error", "training_error", "generalisation_error_limit",
           "training_error_limit", "optimal_stopping_time", "overtraining", "ridge_error", "gd_generalisation_error",
           "gd_training_error")


@pytest.fixture(scope="module")
def derived():
    return {d.name: d for d in derivations("generalisation")}


@pytest.fixture(scope="module")
def fam():
    return family("generalisation")


def _symbols(fam):
    out = {}
    for r in fam.results:
        out.update(r.symbols)
    return out


# -- the proof records -----------------------------------------------------------------------------------------------

def test_the_family_has_the_declared_results(derived) -> None:
    assert set(derived) == set(RESULTS)


@pytest.mark.parametrize("name", RESULTS)
def test_every_result_has_an_independent_reference_within_1e_30(name, derived) -> None:
    steps = [s for s in derived[name].proof if isinstance(s, IndependentReference)]
    assert len(steps) == 1, [str(s) for s in derived[name].proof]
    ref = steps[0]
    assert ref.tolerance <= 1e-30
    assert 0 <= ref.worst <= 1e-30, (name, ref.worst)
    assert len(ref.points) >= 1 and len(ref.values) == len(ref.points)
    # and every result but the density itself proves its density's mass, regime by regime
    claims = [s.claim for s in derived[name].proof]
    assert sum("total mass 1" in c for c in claims) == 2, claims


# -- the closed forms are the published ones -------------------------------------------------------------------------

def piece(expr: sp.Expr, at: dict) -> sp.Expr:
    """The branch of a Piecewise that holds at ``at`` (a sample point of a regime), symbolic in its parameters."""
    if not isinstance(expr, sp.Piecewise):
        return expr
    for value, cond in expr.args:
        if cond == sp.true or bool(cond.subs(at)):
            return value
    raise AssertionError(f"no branch of {expr} holds at {at}")


def same(a: sp.Expr, b: sp.Expr, symbols, regime, seed: int = 0) -> None:
    """``a == b`` symbolically, or else at 8 seeded rational points of the regime to 30 digits."""
    if sp.simplify(a - b) == 0:
        return
    rng = random.Random(seed)
    for _ in range(8):
        point = {s: sp.Rational(rng.randint(1, 400), rng.randint(1, 400)) for s in symbols}
        point.update(regime(rng))
        x, y = sp.N(a.subs(point), 40), sp.N(b.subs(point), 40)
        assert abs(x - y) <= sp.Float(10) ** -30 * max(abs(y), 1), (a, b, point, x, y)


def _below(rng):
    return {ALPHA: sp.Rational(rng.randint(1, 999), 1000)}


def _above(rng):
    return {ALPHA: 1 + sp.Rational(rng.randint(1, 9999), 1000)}


ALPHA = declaration("mp_stieltjes").symbols["alpha"]  # the family's own symbol (it carries its assumptions)


@pytest.fixture(scope="module")
def syms(fam):
    return _symbols(fam)


def stieltjes_published(s):
    g, a = s["gamma"], s["alpha"]
    return (-(g + a - 1) + sp.sqrt((g + a - 1) ** 2 + 4 * g)) / (2 * g)


def test_stieltjes_is_the_published_form_in_both_regimes_and_at_one(derived, syms) -> None:
    d, a, g = derived["mp_stieltjes"].derived, syms["alpha"], syms["gamma"]
    published = stieltjes_published(syms)
    same(piece(d, {a: sp.Rational(1, 2)}), published, [g], _below)
    same(piece(d, {a: 2}), published, [g], _above)
    same(piece(d, {a: 1}), published.subs(a, 1), [g], lambda rng: {})


def test_generalisation_limit_is_the_published_form(derived, syms) -> None:
    d = derived["generalisation_error_limit"].derived
    a, sw, se, s0 = (syms[k] for k in ("alpha", "sigma_w2", "sigma_eps2", "sigma_02"))
    same(piece(d, {a: sp.Rational(1, 2)}), (sw + s0) * (1 - a) + se / (1 - a), [sw, se, s0], _below)
    same(piece(d, {a: 2}), se * a / (a - 1), [sw, se, s0], _above)
    assert piece(d, {a: 1}) == sp.oo


def test_training_limit_is_the_published_form(derived, syms) -> None:
    d = derived["training_error_limit"].derived
    a, se = syms["alpha"], syms["sigma_eps2"]
    assert sp.simplify(piece(d, {a: sp.Rational(1, 2)})) == 0
    assert sp.simplify(piece(d, {a: 1})) == 0
    same(piece(d, {a: 2}), se * (1 - 1 / a), [se], _above)


def _ridge_through_stieltjes(syms, below: bool):
    """``σ_w²(1 − α)₊ + ∫ρ_bulk (σ_w² γ² + σ_ε² λ)/(λ + γ)² + σ_ε²`` with ``∫ρ_bulk/(λ + γ) = S_b(γ)``:
    ``∫ρ_bulk γ²/(λ + γ)² = −γ² S_b′``, ``∫ρ_bulk λ/(λ + γ)² = S_b + γ S_b′``."""
    a, g, sw, se = (syms[k] for k in ("alpha", "gamma", "sigma_w2", "sigma_eps2"))
    atom = (1 - a) if below else 0
    sb = stieltjes_published(syms) - atom / g
    dsb = sp.diff(sb, g)
    return sw * atom + sw * (-g**2 * dsb) + se * (sb + g * dsb) + se


def test_ridge_is_the_stieltjes_form(derived, syms) -> None:
    d = derived["ridge_error"].derived
    a, g, sw, se = (syms[k] for k in ("alpha", "gamma", "sigma_w2", "sigma_eps2"))
    same(piece(d, {a: sp.Rational(1, 2)}), _ridge_through_stieltjes(syms, True), [g, sw, se], _below)
    same(piece(d, {a: 2}), _ridge_through_stieltjes(syms, False), [g, sw, se], _above)
    same(piece(d, {a: 1}), _ridge_through_stieltjes(syms, False).subs(a, 1), [g, sw, se], lambda rng: {})


def test_ridge_at_its_optimum_is_the_noise_times_one_plus_stieltjes(derived, syms) -> None:
    d = derived["ridge_error"].derived
    a, g, sw, se = (syms[k] for k in ("alpha", "gamma", "sigma_w2", "sigma_eps2"))
    for at, regime in (({a: sp.Rational(1, 2)}, _below), ({a: 2}, _above)):
        at_optimum = piece(d, at).subs(g, se / sw)
        same(at_optimum, se * (1 + stieltjes_published(syms).subs(g, se / sw)), [sw, se], regime)


def test_the_flow_integrands_are_the_mode_solution(derived, syms) -> None:
    """E_g = σ_ε² + (σ_w² + σ_0²)(1 − α)₊ + ∫ρ [(σ_w² + σ_0²) e^{−2λt} + σ_ε²(1 − e^{−λt})²/λ] and
    E_t = σ_ε²(1 − 1/α)₊ + (1/α) ∫ρ (σ_ε² + λ(σ_w² + σ_0²)) e^{−2λt}, and GD with (1 − lr λ)^k."""
    a, t, sw, se, s0 = (syms[k] for k in ("alpha", "t", "sigma_w2", "sigma_eps2", "sigma_02"))
    k, lr = syms["steps"], syms["lr"]

    def split(expr):
        """``(λ, integrand without ρ, the rest)`` of ``rest + ∫ρ(λ)·integrand dλ`` (or ``rest + ∫…/α``)."""
        (integral,) = expr.atoms(sp.Integral)
        lam = integral.limits[0][0]
        rho = next(f for f in integral.function.atoms(sp.Function) if f.func.__name__ == r"\rho")
        return lam, sp.simplify(integral.function / rho), integral

    for name, flow in (("generalisation_error", True), ("gd_generalisation_error", False)):
        lam, f, integral = split(derived[name].derived)
        decay = sp.exp(-lam * t) if flow else (1 - lr * lam) ** k
        assert sp.simplify(sp.expand(f - ((sw + s0) * decay**2 + se * (1 - decay) ** 2 / lam))) == 0, (name, f)
        rest = derived[name].derived - integral
        assert sp.simplify(rest - (se + (sw + s0) * sp.Max(0, 1 - a))) == 0, (name, rest)
    for name, flow in (("training_error", True), ("gd_training_error", False)):
        lam, f, integral = split(derived[name].derived)
        decay = sp.exp(-lam * t) if flow else (1 - lr * lam) ** k
        assert sp.simplify(sp.expand(f - (se + lam * (sw + s0)) * decay**2)) == 0, (name, f)
        rest = derived[name].derived - integral / a
        assert sp.simplify(rest - se * sp.Max(0, 1 - 1 / a)) == 0, (name, rest)


# -- a wrong derivation fails loudly ---------------------------------------------------------------------------------

def test_an_expectation_with_a_variance_off_is_caught_by_the_independent_reference(fam, monkeypatch) -> None:
    """E[e²] with the noise's variance × 1.001: every SymPy step is consistent with it (the residues, the limit), so
    only the independent reference (which takes the expectation by its own cubature) can catch it."""
    import learndyn.derive.spectral_integral as si

    real = si._expectation

    def wrong(prover, quantity, sources):
        sources = tuple((v, var * sp.Rational(1001, 1000) if str(v) == "xi" else var) for v, var in sources)
        return real(prover, quantity, sources)

    monkeypatch.setattr(si, "_expectation", wrong)
    result = fam.result("generalisation_error_limit")
    wrong_derivation = derive_result(result, {}, independent=False)  # the derivation alone does not notice
    assert wrong_derivation.derived != derive_result_unpatched(result, monkeypatch, si, real)
    with pytest.raises(DerivationError, match="generalisation_error_limit: independent reference"):
        derive_result(result, {})


def derive_result_unpatched(result, monkeypatch, si, real):
    with monkeypatch.context() as m:
        m.setattr(si, "_expectation", real)
        return derive_result(result, {}, independent=False).derived


def test_residues_off_fail_the_mass_proof(fam, monkeypatch) -> None:
    import learndyn.derive.spectral_integral as si

    real = si.residue_integral
    monkeypatch.setattr(si, "residue_integral", lambda density, f, sample: real(density, f, sample) * sp.Rational(1001, 1000))
    with pytest.raises(DerivationError, match="total mass 1"):
        derive_result(fam.result("mp_stieltjes"), {})


def _residues_off_but_the_mass(monkeypatch):
    """Residues × 1.001 for every integrand but the constant 1 (so the mass proof passes)."""
    import learndyn.derive.spectral_integral as si

    real = si.residue_integral

    def wrong(density, f, sample):
        value = real(density, f, sample)
        return value if f == 1 else value * sp.Rational(1001, 1000)

    monkeypatch.setattr(si, "residue_integral", wrong)


def test_residues_off_fail_the_published_form(fam, monkeypatch) -> None:
    _residues_off_but_the_mass(monkeypatch)
    with pytest.raises(DerivationError, match="published"):
        derive_result(fam.result("mp_stieltjes"), {}, independent=False)


def test_residues_off_fail_the_numeric_proof_of_the_emitted_quadrature(fam, monkeypatch) -> None:
    """Without a published form to compare with, the emitted quadrature (at 30 digits) disagrees with the closed form."""
    _residues_off_but_the_mass(monkeypatch)
    r = fam.result("mp_stieltjes")
    unpublished = dataclasses.replace(r, definition=dataclasses.replace(r.definition, published=None))
    with pytest.raises(DerivationError, match="emitted quadrature equals the closed form"):
        derive_result(unpublished, {}, independent=False)


def test_residues_off_in_a_limit_are_caught_by_the_independent_reference(fam, monkeypatch) -> None:
    """A limit has no quadrature and (E_g(∞)) no published form to compare with: the derivation alone accepts wrong
    residues of ∫ρ σ_ε²/λ, the independent reference catches them. (E_t(∞) would not do: its limiting integrand is 0.)"""
    _residues_off_but_the_mass(monkeypatch)
    result = fam.result("generalisation_error_limit")
    derive_result(result, {}, independent=False)
    with pytest.raises(DerivationError, match="generalisation_error_limit: independent reference"):
        derive_result(result, {})


def test_a_wrong_published_stieltjes_form_fails(fam, syms) -> None:
    r = fam.result("mp_stieltjes")
    wrong = dataclasses.replace(r, definition=dataclasses.replace(
        r.definition, published=r.definition.published * sp.Rational(1001, 1000)))
    with pytest.raises(DerivationError, match="published form"):
        derive_result(wrong, {}, independent=False)
    # and a form right in one regime only (the atom left out for α < 1) fails too
    a, g = syms["alpha"], syms["gamma"]
    bulk_only = dataclasses.replace(r, definition=dataclasses.replace(
        r.definition, published=r.definition.published - sp.Max(0, 1 - a) / g))
    with pytest.raises(DerivationError, match="published form where alpha < 1"):
        derive_result(bulk_only, {}, independent=False)


def test_a_density_that_does_not_integrate_to_one_fails(fam) -> None:
    r = fam.result("mp_stieltjes")
    dens = r.definition.density
    heavy = dataclasses.replace(dens, density=dens.density * sp.Rational(1001, 1000))
    with pytest.raises(DerivationError, match="total mass 1"):
        derive_result(dataclasses.replace(r, definition=dataclasses.replace(r.definition, density=heavy)), {},
                      independent=False)


# -- the engine is general: a user family with a semicircle density --------------------------------------------------

INF = math.inf
U_T = Param("t", Interval(0.0, INF, lo_closed=True), test=Interval(1e-3, 1e3, True, True), log=True, special=(0.0,))
U_V0 = Param("v0", Interval(0.0, INF), test=Interval(1e-2, 1e2, True, True), log=True)
U_VN = Param("vn", Interval(0.0, INF), test=Interval(1e-2, 1e2, True, True), log=True)
U_G = Param("g", Interval(0.0, INF), test=Interval(1e-2, 1e2, True, True), log=True)
U_LAM = Param("lam", Interval(0.0, INF), test=Interval(0.5, 3.5, True, True))
u_lam = sp.Symbol("lam", positive=True)
u_e, u_e0, u_xi = sp.symbols("e e0 xi", real=True)
SEMICIRCLE = SpectralDensity(variable=u_lam, density=2 * sp.sqrt((3 - u_lam) * (u_lam - 1)) / sp.pi,
                             lower=sp.Integer(1), upper=sp.Integer(3), regimes=((sp.true, {}),))
U_FLOW = ModeDynamics("e", time="t", rhs=-u_lam * u_e + sp.sqrt(u_lam) * u_xi, initial=u_e0,
                      sources=((u_e0, U_V0.symbol), (u_xi, U_VN.symbol)))
U_SOURCE = Source("003", "a test of the engine with a density of its own", "engine_test")


def _user(name, params, definition):
    return Result(name=name, title=name.replace("_", " "), params=params, definition=definition, symbol_tex="E",
                  assumptions=("a semicircle spectrum on [1, 3]",), source=U_SOURCE)


USER_FAMILY = Family(
    name="semicircle_user",
    title="A user's family: the flow of a linear model on a semicircle spectrum",
    results=(
        _user("sc_density", (U_LAM,), SpectralIntegral(SEMICIRCLE, None)),
        _user("sc_error", (U_T, U_V0, U_VN), SpectralIntegral(SEMICIRCLE, u_e**2, U_FLOW)),
        _user("sc_error_limit", (U_V0, U_VN), SpectralIntegral(SEMICIRCLE, u_e**2, U_FLOW, limit=True)),
        _user("sc_stieltjes", (U_G,), SpectralIntegral(SEMICIRCLE, 1 / (u_lam + U_G.symbol))),
    ),
    bibliography={"engine_test": "A test of the spectral-integral engine (no publication)."},
)


@pytest.fixture(scope="module")
def user_module():
    ds = [derive_result(r, {}) for r in USER_FAMILY.results]
    source = emit_module(USER_FAMILY, ds)
    namespace: dict = {}
    exec(compile(source, "<semicircle_user>", "exec"), namespace)
    return {d.name: d for d in ds}, namespace


def _semicircle_quad(f, scale=None):
    """``∫₁³ (2/π)√((3 − λ)(λ − 1)) f(λ) dλ`` by tanh-sinh at 30 digits, split toward λ = 1 where ``e^{−λt}``
    concentrates the integrand (``scale`` = 1/t)."""
    with mp.workdps(30):
        pts = [mp.mpf(1)] + ([1 + scale * mp.mpf(10) ** j for j in range(-3, 3) if scale * 10.0**j < 1] if scale else []) + [mp.mpf(2), mp.mpf(3)]
        g = lambda lam: 2 * mp.sqrt((3 - lam) * (lam - 1)) / mp.pi * f(lam)  # noqa: E731
        first = mp.quad(g, pts)
        return mp.quad(lambda lam: g(lam) / first, pts) * first


def test_a_user_family_derives_with_its_proofs(user_module) -> None:
    ds, _ = user_module
    for name, d in ds.items():
        steps = [s for s in d.proof if isinstance(s, IndependentReference)]
        assert len(steps) == 1 and steps[0].worst <= 1e-30, name
    assert any("total mass 1 where True" in s.claim for s in ds["sc_stieltjes"].proof)
    v0, vn, g = U_V0.symbol, U_VN.symbol, U_G.symbol
    # ∫ρ/λ = 2(2 − √3) and S(g) = 2(2 + g − √((2 + g)² − 1)) for the semicircle of radius 1 about 2
    assert sp.simplify(ds["sc_error_limit"].derived - 2 * vn * (2 - sp.sqrt(3))) == 0
    assert sp.simplify(ds["sc_stieltjes"].derived - 2 * (2 + g - sp.sqrt((2 + g) ** 2 - 1))) == 0


def test_a_user_family_emits_working_functions(user_module) -> None:
    _, ns = user_module
    v0, vn = 1.3, 0.4
    for t in (0.0, 1e-3, 0.5, 10.0, 1e3):
        ref = _semicircle_quad(lambda lam: v0 * mp.exp(-2 * lam * t) + vn * mp.expm1(-lam * t) ** 2 / lam,
                               1 / mp.mpf(t) if t > 0 else None)
        got = float(ns["sc_error"](t=t, v0=v0, vn=vn))
        assert abs(got - ref) <= 1e-12 * abs(ref), (t, got, ref)
    limit = float(ns["sc_error_limit"](v0=v0, vn=vn))
    ref = _semicircle_quad(lambda lam: vn / lam)
    assert abs(limit - ref) <= 1e-12 * ref
    assert abs(float(ns["sc_error"](t=1e3, v0=v0, vn=vn)) - limit) <= 1e-12 * limit
    for g in (1e-2, 1.0, 1e2):
        ref = _semicircle_quad(lambda lam: 1 / (lam + g))
        got = float(ns["sc_stieltjes"](g=g))
        assert abs(got - ref) <= 1e-12 * ref, (g, got, ref)
    lam = torch.tensor([0.5, 1.0, 1.5, 2.0, 2.999, 3.0, 3.5], dtype=torch.float64)
    want = [0.0 if not 1 < x < 3 else 2 * math.sqrt((3 - x) * (x - 1)) / math.pi for x in lam.tolist()]
    torch.testing.assert_close(ns["sc_density"](lam=lam), torch.tensor(want, dtype=torch.float64), rtol=1e-14, atol=0)
    # broadcasting and gradients work in the emitted module too
    t = torch.tensor([[0.0], [1.0]], dtype=torch.float64, requires_grad=True)
    out = ns["sc_error"](t=t, v0=torch.tensor([1.0, 2.0], dtype=torch.float64), vn=0.4)
    assert out.shape == (2, 2)
    (grad,) = torch.autograd.grad(out.sum(), t)
    assert bool(torch.isfinite(grad).all()) and bool((grad < 0).all())


def test_a_density_without_regimes_still_has_its_mass_proven() -> None:
    heavy = dataclasses.replace(SEMICIRCLE, density=2 * SEMICIRCLE.density, regimes=())
    r = USER_FAMILY.result("sc_error")
    with pytest.raises(DerivationError):
        derive_result(dataclasses.replace(r, definition=dataclasses.replace(r.definition, density=heavy)), {},
                      independent=False)
