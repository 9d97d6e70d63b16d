"""Family 2 (regularisation): derivations and proofs, generated functions against mpmath evaluations of the
formulas written out here from THEORY.md (independent of the engine), domains and bad input.

The simulation tier for the family is tested in ``test_regularisation_checks.py`` and the simulators in
``test_regularisation_simulators.py``.
"""
from __future__ import annotations

import dataclasses

import mpmath
import pytest
import sympy as sp
import torch

import learndyn
from learndyn.derive.declaration import Solve, UpperBound
from learndyn.derive.derivation import derive_result
from learndyn.derive.proof import DerivationError
from learndyn.derive.registry import declaration, derivation
from learndyn.verify.closed_form import check_closed_form

FAMILY2 = ["weight_decay_trajectory", "dae_trajectory", "noise_equivalent_decay", "dropout_expected_time",
           "dropout_time_bound", "dropout_trajectory", "inverted_dropout_trajectory"]
RTOL = 1e-12
ATOL = 2.3e-308
mp = mpmath.mpf


def close(got, ref) -> bool:
    return abs(mp(float(got)) - ref) <= RTOL * abs(ref) + ATOL


# ---- THEORY.md's formulas, written out with mpmath (the published forms, or their limits) ---------------

def wd_ref(t, s, u0, gamma, tau):
    t, s, u0, gamma, tau = map(mp, (t, s, u0, gamma, tau))
    if s == gamma:
        return u0 / (1 + 2 * u0 * t / tau)
    E = mpmath.exp(2 * (s - gamma) * t / tau)
    return (s - gamma) * E / (E - 1 + (s - gamma) / u0)


def dae_ref(t, lam, eps, gamma, u0, tau):
    t, lam, eps, gamma, u0, tau = map(mp, (t, lam, eps, gamma, u0, tau))
    if lam == gamma:  # limit of the published form: u0 / (1 + 2 (lam + eps) u0 t / tau)
        return u0 / (1 + 2 * (lam + eps) * u0 * t / tau)
    E = mpmath.exp(2 * (lam - gamma) * t / tau)
    return (lam - gamma) * E / ((lam + eps) * (E - 1) + (lam - gamma) / u0)


def logistic_ref(t, a, K, u0):
    """Solution of du/dt = a u (1 − u/K), u(0) = u0."""
    E = mpmath.exp(a * t)
    return K * E / (E - 1 + K / u0)


# ------------------------------------------------------------------------------------------ derivations


def test_every_result_is_derived_with_a_proof_saying_how() -> None:
    for name in FAMILY2:
        d = derivation(name)
        assert d.proof, name
        for step in d.proof:
            assert step.method.startswith(("symbolic", "numeric")), (name, step)


def test_weight_decay_removable_singularity_is_derived_as_a_limit() -> None:
    d = derivation("weight_decay_trajectory")
    r = d.result
    t, u0, tau, gamma = (r.symbols[k] for k in ("t", "u0", "tau", "gamma"))
    val, lim = d.limits["s"]
    assert val == gamma
    assert sp.simplify(lim - u0 / (1 + 2 * u0 * t / tau)) == 0
    claims = " | ".join(s.claim for s in d.proof)
    assert "solves the ODE" in claims and "initial condition" in claims and "published form" in claims
    assert "s = gamma" in claims


def test_dae_removable_singularity_and_fixed_point() -> None:
    d = derivation("dae_trajectory")
    val, lim = d.limits["lam"]
    r = d.result
    assert val == r.symbols["gamma"]
    # the derived trajectory tends to the fixed point (lam − gamma)/(lam + eps) for lam > gamma
    lam, eps, gamma = (r.symbols[k] for k in ("lam", "eps", "gamma"))
    at = d.derived.subs({lam: 2, eps: sp.Rational(1, 2), gamma: sp.Rational(1, 2), r.symbols["tau"]: 1, r.symbols["u0"]: sp.Rational(1, 100)})
    assert sp.limit(at, r.symbols["t"], sp.oo) == sp.Rational(3, 2) / sp.Rational(5, 2)


def test_noise_equivalent_decay_is_solved_not_transcribed() -> None:
    d = derivation("noise_equivalent_decay")
    r = d.result
    lam, eps = r.symbols["lam"], r.symbols["eps"]
    assert sp.simplify(d.derived - lam * eps / (lam + eps)) == 0
    assert any("sympy.solve" in s.method for s in d.proof)
    # a defining equation with two solutions is refused
    g = sp.Symbol("gamma", real=True)
    two = dataclasses.replace(r, published=None, definition=Solve("gamma", sp.Eq(g**2, lam)))
    with pytest.raises(DerivationError, match="not one solution"):
        derive_result(two)


def test_dropout_time_derives_the_geometric_mean_and_the_active_time() -> None:
    d = derivation("dropout_expected_time")
    text = " | ".join(str(s) for s in d.proof)
    assert "E[Geometric(p)] = 1/p" in text
    assert "active time" in text and "published form" in text
    r = d.result
    s, p, m, tau = (r.symbols[k] for k in ("s", "p", "margin", "tau"))
    assert sp.simplify(sp.expand_log(d.derived - tau / (s * p) * sp.log((s - m) / m), force=True)) == 0


def test_wrong_published_dropout_time_fails_loudly() -> None:
    r = declaration("dropout_expected_time")
    s, p, m, tau = (r.symbols[k] for k in ("s", "p", "margin", "tau"))
    wrong = dataclasses.replace(r, published=tau / (s * p) * sp.log(s / m))  # the bound, not the expectation
    with pytest.raises(DerivationError, match="published form"):
        derive_result(wrong)


def test_bound_with_a_wrong_gap_or_a_negative_gap_fails() -> None:
    r = declaration("dropout_time_bound")
    reg = {"dropout_expected_time": derivation("dropout_expected_time")}
    s, p, m, tau = (r.symbols[k] for k in ("s", "p", "margin", "tau"))
    d = r.definition
    wrong_gap = dataclasses.replace(r, definition=dataclasses.replace(d, gap=2 * d.gap))
    with pytest.raises(DerivationError, match="gap"):
        derive_result(wrong_gap, reg)
    # a "bound" below the expectation: the gap is negative
    low = tau / (s * p) * sp.log((s - 2 * m) / m)
    below = dataclasses.replace(r, definition=UpperBound("dropout_expected_time", low, low - reg["dropout_expected_time"].expr))
    with pytest.raises(DerivationError, match="not positive"):
        derive_result(below, reg)
    with pytest.raises(DerivationError, match="derived first"):
        derive_result(r, {})


def test_wrong_removable_singularity_fails() -> None:
    """Declaring the wrong removable point (s = 2 gamma) makes the limit step fail: the emitted form there is
    not the (wrong) limit's value."""
    r = declaration("weight_decay_trajectory")
    gamma = r.symbols["gamma"]
    wrong = dataclasses.replace(r, definition=dataclasses.replace(r.definition, removable=(("s", 2 * gamma),)))
    with pytest.raises(DerivationError):
        derive_result(wrong)


# ------------------------------------------------------------------------------ generated functions


@pytest.mark.parametrize("s,gamma", [(1.0, 1.0), (1.0, 1.0 + 1e-12), (1.0, 1.0 - 1e-12), (1.0, 1.0 + 1e-6),
                                     (2.0, 0.0), (0.5, 1.5), (1e3, 1e-6), (1e-3, 1e3)])
@pytest.mark.parametrize("t", [0.0, 1e-6, 1.0, 1e3, 1e9])
@pytest.mark.parametrize("u0", [1e-12, 0.3, 1e3])
def test_weight_decay_trajectory_is_exact(s, gamma, t, u0) -> None:
    f = learndyn.function("weight_decay_trajectory")
    with mpmath.workdps(60):
        ref = wd_ref(t, s, u0, gamma, 2.0)
        got = f(t=t, s=s, u0=u0, gamma=gamma, tau=2.0)
        assert close(got, ref), (float(got), ref)


def test_weight_decay_is_continuous_across_s_equal_gamma_with_finite_gradients() -> None:
    f = learndyn.function("weight_decay_trajectory")
    s = torch.tensor([1.0 - 1e-9, 1.0 - 1e-15, 1.0, 1.0 + 1e-15, 1.0 + 1e-9], dtype=torch.float64, requires_grad=True)
    u = f(t=50.0, s=s, u0=0.01, gamma=1.0, tau=1.0)
    with mpmath.workdps(60):
        for si, ui in zip(s.tolist(), u.tolist()):
            assert close(ui, wd_ref(50.0, si, 0.01, 1.0, 1.0))
    (g,) = torch.autograd.grad(u.sum(), s)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("lam,gamma", [(1.0, 1.0), (1.0, 1.0 + 1e-13), (1.0, 0.0), (0.2, 3.0), (1e3, 1e-6)])
@pytest.mark.parametrize("eps", [0.0, 1e-6, 0.5, 1e3])
@pytest.mark.parametrize("t", [0.0, 1.0, 1e9])
def test_dae_trajectory_is_exact(lam, gamma, eps, t) -> None:
    f = learndyn.function("dae_trajectory")
    with mpmath.workdps(60):
        ref = dae_ref(t, lam, eps, gamma, 1e-3, 1.0)
        got = f(t=t, lam=lam, eps=eps, gamma=gamma, u0=1e-3, tau=1.0)
        assert close(got, ref), (float(got), ref)


def test_dae_reaches_its_fixed_point_and_decays_below_gamma() -> None:
    f = learndyn.function("dae_trajectory")
    assert abs(float(f(t=1e9, lam=2.0, eps=0.5, gamma=0.5, u0=1e-3, tau=1.0)) - 1.5 / 2.5) < 1e-15
    assert float(f(t=1e9, lam=0.5, eps=0.5, gamma=2.0, u0=1e-3, tau=1.0)) == 0.0  # e^{-3e9}: underflows to 0


@pytest.mark.parametrize("lam,eps", [(1.0, 0.0), (1.0, 1e-300), (1e-3, 1e3), (1e3, 1e-3), (2.0, 2.0)])
def test_noise_equivalent_decay_is_exact(lam, eps) -> None:
    got = learndyn.function("noise_equivalent_decay")(lam=lam, eps=eps)
    with mpmath.workdps(50):
        assert close(got, mp(lam) * mp(eps) / (mp(lam) + mp(eps)))


@pytest.mark.parametrize("frac", [1e-300, 1e-12, 0.01, 0.25, 0.5 - 1e-9, 0.5 - 1e-15])
@pytest.mark.parametrize("p", [1e-3, 0.5, 1.0])
def test_dropout_time_and_bound_are_exact_up_to_margin_near_s_over_2(frac, p) -> None:
    s, tau = 1.7, 30.0
    margin = frac * s
    with mpmath.workdps(60):
        m = mp(margin)
        expected = mp(tau) / (mp(s) * mp(p)) * mpmath.log((mp(s) - m) / m)
        bound = mp(tau) / (mp(s) * mp(p)) * mpmath.log(mp(s) / m)
        got_e = learndyn.function("dropout_expected_time")(s=s, p=p, margin=margin, tau=tau)
        got_b = learndyn.function("dropout_time_bound")(s=s, p=p, margin=margin, tau=tau)
        assert close(got_e, expected), (float(got_e), expected)
        assert close(got_b, bound)
    # the bound exceeds the expectation by a relative −ln(1 − frac)/ln((1 − frac)/frac): ~1e-303 at frac = 1e-300
    assert float(got_b) >= float(got_e)
    if frac >= 1e-12:
        assert float(got_b) > float(got_e)


@pytest.mark.parametrize("p", [1e-3, 0.3, 1.0])
@pytest.mark.parametrize("t", [0.0, 10.0, 1e4, 1e9])
def test_dropout_trajectories_follow_their_own_odes(p, t) -> None:
    s, u0, tau = 1.3, 1e-4, 5.0
    with mpmath.workdps(60):
        standard = logistic_ref(mp(t), 2 * mp(p) * mp(s) / tau, mp(s), mp(u0))
        inverted = logistic_ref(mp(t), 2 * mp(s) / tau, mp(p) * mp(s), mp(u0))
        assert close(learndyn.function("dropout_trajectory")(t=t, s=s, p=p, u0=u0, tau=tau), standard)
        assert close(learndyn.function("inverted_dropout_trajectory")(t=t, s=s, p=p, u0=u0, tau=tau), inverted)


def test_the_variant_each_dropout_result_assumes_is_stated() -> None:
    for name in ("dropout_expected_time", "dropout_time_bound", "dropout_trajectory"):
        assert any("standard (not rescaled) dropout" in a for a in declaration(name).assumptions)
    assert any("inverted dropout" in a for a in declaration("inverted_dropout_trajectory").assumptions)


@pytest.mark.parametrize("name", FAMILY2)
def test_tier_a_passes_and_fails_on_one_percent(name: str) -> None:
    d = derivation(name)
    f = learndyn.function(name)
    ok = check_closed_form(d, f, examples=30, seed=0)
    assert ok.passed, ok.failure
    wrong = check_closed_form(d, lambda **kw: 1.01 * f(**kw), examples=30, seed=0)
    assert not wrong.passed and "relative error" in wrong.failure


def test_tier_a_finds_an_error_only_near_the_removable_singularity() -> None:
    """Wrong by 1 % only within a relative 1e-6 of s = gamma (but not at it): found by the `near` draws."""
    d = derivation("weight_decay_trajectory")
    f = learndyn.function("weight_decay_trajectory")

    def wrong(**kw):
        v = f(**kw)
        rel = (torch.as_tensor(kw["gamma"]) / torch.as_tensor(kw["s"]) - 1).abs()
        return torch.where((rel > 0) & (rel < 1e-6), 1.01 * v, v)

    c = check_closed_form(d, wrong, examples=60, seed=0)
    assert not c.passed


# --------------------------------------------------------------------------------------------- domains


@pytest.mark.parametrize("name,kwargs,param", [
    ("dropout_expected_time", dict(s=1.0, p=0.5, margin=0.5, tau=1.0), "margin"),
    ("dropout_expected_time", dict(s=1.0, p=0.0, margin=0.1, tau=1.0), "p"),
    ("dropout_time_bound", dict(s=1.0, p=1.5, margin=0.1, tau=1.0), "p"),
    ("weight_decay_trajectory", dict(t=1.0, s=1.0, u0=0.1, gamma=-0.1, tau=1.0), "gamma"),
    ("dae_trajectory", dict(t=1.0, lam=1.0, eps=-1e-3, gamma=0.0, u0=0.1, tau=1.0), "eps"),
    ("noise_equivalent_decay", dict(lam=0.0, eps=1.0), "lam"),
])
def test_out_of_domain_input_names_the_parameter(name, kwargs, param) -> None:
    with pytest.raises(ValueError, match=param):
        learndyn.function(name)(**kwargs)
