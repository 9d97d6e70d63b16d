"""Tests of the public API (learndyn.results / function / result / claims) and of THEORY.md's conventions:
keyword names, dtypes, broadcasting, devices, differentiability, domain errors, and float64 accuracy at the
numerical edge cases (huge t, tiny u0, the removable singularity y = 0, decaying y < 0).

References are written here from THEORY.md and evaluated with mpmath; nothing is copied from the code.
"""
from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp
import torch
from torch.autograd import gradcheck

import learndyn
from learndyn.domain import DomainError

FAMILY1 = ["scalar_trajectory", "mode_trajectory", "mode_learning_time", "deep_mode_time", "deep_mode_trajectory"]
RTOL, ATOL = 1e-12, 2.3e-308

# a valid keyword call of each result (Python floats; depth an int)
CALLS = {
    "scalar_trajectory": dict(t=3.0, x=1.5, y=2.0, u0=0.1, lr=0.1),
    "mode_trajectory": dict(t=3.0, s=2.0, u0=0.1, tau=4.0),
    "mode_learning_time": dict(s=2.0, u0=0.1, uf=1.5, tau=4.0),
    "deep_mode_time": dict(s=2.0, u0=0.1, uf=1.5, tau=4.0, depth=3),
    "deep_mode_trajectory": dict(t=3.0, s=2.0, u0=0.1, tau=4.0, depth=3),
}


# ------------------------------------------------------------------------------ independent references


def mp_scalar(t, x, y, u0, lr) -> mpmath.mpf:
    """seed 000 eq. (2), u = y E/(x(E − 1) + y/u0), E = exp(2 y x t lr), written with expm1 so that no
    cancellation happens for tiny y; y = 0 is the limit u0/(1 + 2 lr x² u0 t)."""
    t, x, y, u0, lr = (mpmath.mpf(v) for v in (t, x, y, u0, lr))
    if y == 0:
        return u0 / (1 + 2 * lr * x**2 * u0 * t)
    k = 2 * y * x * lr
    return y / (x * -mpmath.expm1(-k * t) + y / u0 * mpmath.exp(-k * t))


def mp_mode(t, s, u0, tau) -> mpmath.mpf:
    t, s, u0, tau = (mpmath.mpf(v) for v in (t, s, u0, tau))
    E = mpmath.exp(2 * s * t / tau)
    return s * E / (E - 1 + s / u0)


def mp_mode_time(s, u0, uf, tau) -> mpmath.mpf:
    s, u0, uf, tau = (mpmath.mpf(v) for v in (s, u0, uf, tau))
    return tau / (2 * s) * mpmath.log(uf * (s - u0) / (u0 * (s - uf)))


def mp_deep_time(s, u0, uf, tau, D) -> mpmath.mpf:
    """THEORY: t = τ/D ∫_{u0}^{uf} dv / (v^{2−2/D} (s − v)), by quadrature."""
    s, u0, uf, tau = (mpmath.mpf(v) for v in (s, u0, uf, tau))
    f = lambda v: 1 / (v ** (2 - mpmath.mpf(2) / D) * (s - v))
    return tau / D * mpmath.quad(f, [u0, (u0 + uf) / 2, uf])


def close(got: float, ref: mpmath.mpf, rtol: float = RTOL) -> bool:
    return abs(mpmath.mpf(got) - ref) <= rtol * abs(ref) + ATOL


# -------------------------------------------------------------------------------------- catalogue


FAMILY3 = ["variance_map", "additive_noise_variance_map", "critical_sigma_w", "variance_after_depth", "correlation_map",
           "correlation_fixed_point", "correlation_slope", "correlation_depth_scale", "trainable_depth",
           "shifted_relu_active_fraction", "shifted_relu_second_moment", "shifted_relu_critical_point",
           "jacobian_spectrum_variance"]
FAMILY4 = ["relu_kernel_map", "relu_kernel_map_derivative", "erf_kernel_map", "erf_kernel_map_derivative", "nngp_kernel",
           "ntk_kernel", "kernel_fixed_point", "chi1", "kernel_depth_scales", "ntk_depth_limit", "mse_train_prediction",
           "mse_test_prediction", "ntk_condition_number", "mean_prediction"]
FAMILY5 = ["classification_mode_time", "classification_mode_trajectory", "hinge_stopping_time", "margin_inflection",
           "wrong_sign_crossing_time", "starved_margin"]
FAMILY6 = ["mp_density", "mp_stieltjes", "generalisation_error", "training_error", "generalisation_error_limit",
           "training_error_limit", "optimal_stopping_time", "overtraining", "ridge_error", "gd_generalisation_error",
           "gd_training_error"]
FAMILY2 = ["weight_decay_trajectory", "dae_trajectory", "noise_equivalent_decay", "dropout_expected_time",
           "dropout_time_bound", "dropout_trajectory", "inverted_dropout_trajectory"]


def test_results_lists_the_families_in_theory_order() -> None:
    assert learndyn.results() == FAMILY1 + FAMILY2 + FAMILY3 + FAMILY4 + FAMILY5 + FAMILY6
    assert learndyn.results("generalisation") == FAMILY6
    assert learndyn.results("ntk") == FAMILY4
    assert learndyn.results("linear") == FAMILY1
    assert learndyn.results("regularisation") == FAMILY2
    with pytest.raises(KeyError):
        learndyn.results("no_such_family")


def test_function_with_keyword_names_matches_theory() -> None:
    with mpmath.workdps(40):
        refs = {
            "scalar_trajectory": mp_scalar(**CALLS["scalar_trajectory"]),
            "mode_trajectory": mp_mode(**CALLS["mode_trajectory"]),
            "mode_learning_time": mp_mode_time(**CALLS["mode_learning_time"]),
            "deep_mode_time": mp_deep_time(2.0, 0.1, 1.5, 4.0, 3),
        }
    for name, ref in refs.items():
        got = learndyn.function(name)(**CALLS[name])
        assert isinstance(got, torch.Tensor)
        assert close(float(got), ref), (name, float(got), ref)


def test_function_rejects_positional_confusion_and_unknown_names() -> None:
    f = learndyn.function("scalar_trajectory")
    with pytest.raises(TypeError):
        f(t=1.0, x=1.0, y=1.0, u0=0.1, lr=0.1, tau=3.0)  # a parameter it does not have
    with pytest.raises(KeyError, match="scalar_trajectory"):
        learndyn.function("scalar_trajectori")  # suggestion of the close name


def test_deep_results_reduce_to_depth_1_and_2_closed_forms() -> None:
    """THEORY: D = 1 is linear regression, D = 2 is mode_learning_time / mode_trajectory."""
    dt = learndyn.function("deep_mode_time")
    du = learndyn.function("deep_mode_trajectory")
    s, u0, uf, tau = 1.7, 0.03, 1.2, 2.5
    with mpmath.workdps(40):
        S, U0, UF, T = (mpmath.mpf(v) for v in (s, u0, uf, tau))
        ref1 = T * mpmath.log((S - U0) / (S - UF))
        ref2 = mp_mode_time(s, u0, uf, tau)
    assert close(float(dt(s=s, u0=u0, uf=uf, tau=tau, depth=1)), ref1)
    assert close(float(dt(s=s, u0=u0, uf=uf, tau=tau, depth=2)), ref2)
    for t in (0.0, 0.3, 2.0, 40.0):
        with mpmath.workdps(40):
            # D = 1: tau du/dt = s - u  =>  u = s - (s - u0) e^{-t/tau}
            r1 = S - (S - U0) * mpmath.exp(-mpmath.mpf(t) / T)
            r2 = mp_mode(t, s, u0, tau)
        assert close(float(du(t=t, s=s, u0=u0, tau=tau, depth=1)), r1, 1e-11)
        assert close(float(du(t=t, s=s, u0=u0, tau=tau, depth=2)), r2, 1e-11)


@pytest.mark.parametrize("D", [3, 5])
def test_deep_mode_trajectory_inverts_the_defining_integral(D: int) -> None:
    du = learndyn.function("deep_mode_trajectory")
    s, u0, tau = 1.3, 0.02, 3.0
    with mpmath.workdps(30):
        t90 = float(mp_deep_time(s, u0, 0.9 * s, tau, D))  # well-conditioned below 0.9 s
    for t in (0.01 * t90, 0.5 * t90, t90):
        u = float(du(t=t, s=s, u0=u0, tau=tau, depth=D))
        assert u0 < u < s
        with mpmath.workdps(30):
            back = mp_deep_time(s, u0, u, tau, D)
        assert abs(back - t) <= 1e-9 * t, (t, u, back)


# ------------------------------------------------------------------------------------- conventions


@pytest.mark.parametrize("name", FAMILY1)
def test_python_floats_give_float64_on_cpu(name: str) -> None:
    out = learndyn.function(name)(**CALLS[name])
    assert out.dtype == torch.float64
    assert out.device.type == "cpu"
    assert out.dim() == 0


@pytest.mark.parametrize("name", FAMILY1)
def test_float32_tensors_stay_float32(name: str) -> None:
    kw = dict(CALLS[name])
    first = next(k for k, v in kw.items() if isinstance(v, float))
    kw[first] = torch.tensor([kw[first]], dtype=torch.float32)
    out = learndyn.function(name)(**kw)
    assert out.dtype == torch.float32
    ref = learndyn.function(name)(**CALLS[name])
    assert abs(out.item() - ref.item()) <= 1e-5 * abs(ref.item())


@pytest.mark.parametrize("name", FAMILY1)
def test_tensor_arguments_broadcast(name: str) -> None:
    f = learndyn.function(name)
    kw = dict(CALLS[name])
    reals = [k for k, v in kw.items() if isinstance(v, float)]
    a, b = reals[0], reals[-1]
    va = torch.tensor([[kw[a]], [kw[a] * 1.1], [kw[a] * 0.9]], dtype=torch.float64)    # (3, 1)
    vb = torch.tensor([kw[b], kw[b] * 1.2, kw[b] * 0.8, kw[b] * 1.05], dtype=torch.float64)  # (4,)
    # (for the learning times a = s, b = tau: uf = 1.5 stays strictly between u0 and every s)
    out = f(**{**kw, a: va, b: vb})
    assert out.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            single = f(**{**kw, a: float(va[i, 0]), b: float(vb[j])})
            assert out[i, j].item() == pytest.approx(single.item(), rel=1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", FAMILY1)
def test_device_kept_cuda(name: str) -> None:
    kw = dict(CALLS[name])
    first = next(k for k, v in kw.items() if isinstance(v, float))
    kw[first] = torch.tensor(kw[first], dtype=torch.float64, device="cuda")
    out = learndyn.function(name)(**kw)
    assert out.device.type == "cuda"
    assert out.item() == pytest.approx(learndyn.function(name)(**CALLS[name]).item(), rel=1e-12)


def test_device_kept_cpu_tensor() -> None:
    out = learndyn.function("mode_trajectory")(t=torch.tensor([1.0, 2.0], device="cpu"), s=1.0, u0=0.1, tau=1.0)
    assert out.device == torch.device("cpu")


def _t(*v):
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


def test_gradcheck_scalar_trajectory() -> None:
    f = learndyn.function("scalar_trajectory")
    assert gradcheck(lambda t, x, y, u0, lr: f(t=t, x=x, y=y, u0=u0, lr=lr),
                     (_t(0.5, 3.0, 10.0), _t(1.0, 0.7, 2.0), _t(2.0, -1.0, 0.3), _t(0.1, 0.5, 1.5), _t(0.1, 0.2, 0.05)))


def test_gradcheck_mode_trajectory() -> None:
    f = learndyn.function("mode_trajectory")
    assert gradcheck(lambda t, s, u0, tau: f(t=t, s=s, u0=u0, tau=tau),
                     (_t(0.5, 3.0, 10.0), _t(1.0, 0.7, 2.0), _t(0.1, 0.5, 3.0), _t(1.0, 2.0, 5.0)))


def test_gradcheck_mode_learning_time() -> None:
    f = learndyn.function("mode_learning_time")
    assert gradcheck(lambda s, u0, uf, tau: f(s=s, u0=u0, uf=uf, tau=tau),
                     (_t(1.0, 0.7, 2.0), _t(0.1, 0.5, 3.0), _t(0.5, 0.6, 2.5), _t(1.0, 2.0, 5.0)))


def test_gradcheck_deep_mode_time_depth3() -> None:
    f = learndyn.function("deep_mode_time")
    assert gradcheck(lambda s, u0, uf, tau: f(s=s, u0=u0, uf=uf, tau=tau, depth=3),
                     (_t(1.0, 0.7, 2.0), _t(0.1, 0.5, 3.0), _t(0.5, 0.6, 2.5), _t(1.0, 2.0, 5.0)))


def test_gradcheck_deep_mode_trajectory_depth3() -> None:
    f = learndyn.function("deep_mode_trajectory")
    assert gradcheck(lambda t, s, u0, tau: f(t=t, s=s, u0=u0, tau=tau, depth=3),
                     (_t(0.5, 3.0, 10.0), _t(1.0, 0.7, 2.0), _t(0.1, 0.5, 3.0), _t(1.0, 2.0, 5.0)))


def test_gradient_matches_theory_derivative() -> None:
    """d mode_learning_time / d uf = tau / (2 uf (s − uf)) (the integrand of THEORY's defining integral)."""
    uf = _t(0.3, 1.2)
    out = learndyn.function("mode_learning_time")(s=1.5, u0=0.1, uf=uf, tau=2.0)
    out.sum().backward()
    for g, v in zip(uf.grad.tolist(), (0.3, 1.2)):
        assert g == pytest.approx(2.0 / (2 * v * (1.5 - v)), rel=1e-13)


# ----------------------------------------------------------------------------------- domain errors


@pytest.mark.parametrize("name,kw,param,value,domain_bits", [
    ("scalar_trajectory", dict(x=-1.0), "x", "-1.0", ["(0.0", "inf)"]),
    ("scalar_trajectory", dict(t=-1.0), "t", "-1.0", ["[0.0", "inf)"]),
    ("mode_trajectory", dict(s=0.0), "s", "0.0", ["(0.0", "inf)"]),
    ("mode_learning_time", dict(uf=2.5), "uf", "2.5", ["between", "u0", "s"]),
    ("mode_learning_time", dict(uf=0.05), "uf", "0.05", ["between", "u0", "s"]),
    ("deep_mode_time", dict(depth=0), "depth", "0", [">= 1"]),
    ("deep_mode_time", dict(depth=2.5), "depth", "2.5", ["int", ">= 1"]),
    ("deep_mode_trajectory", dict(depth=-3), "depth", "-3", [">= 1"]),
    ("deep_mode_trajectory", dict(u0=float("nan")), "u0", "nan", ["(0.0", "inf)"]),
])
def test_out_of_domain_raises_value_error_naming_param_value_domain(name, kw, param, value, domain_bits) -> None:
    with pytest.raises(ValueError) as info:
        learndyn.function(name)(**{**CALLS[name], **kw})
    assert isinstance(info.value, DomainError)
    msg = str(info.value)
    assert f"'{param}'" in msg
    assert value in msg
    for bit in domain_bits:
        assert bit in msg, (msg, bit)


def test_out_of_domain_tensor_names_the_offending_element() -> None:
    with pytest.raises(ValueError) as info:
        learndyn.function("scalar_trajectory")(t=1.0, x=torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64),
                                               y=1.0, u0=0.1, lr=0.1)
    msg = str(info.value)
    assert "'x'" in msg and "-2.0" in msg and "1 of 3" in msg


def test_uf_equal_to_u0_or_s_is_outside_the_domain() -> None:
    f = learndyn.function("mode_learning_time")
    for uf in (0.1, 2.0):
        with pytest.raises(ValueError, match="'uf'"):
            f(s=2.0, u0=0.1, uf=uf, tau=1.0)


def test_uf_between_s_and_u0_above_target_is_inside() -> None:
    """The relation is 'strictly between', in either order (u0 > s is allowed)."""
    out = learndyn.function("mode_learning_time")(s=1.0, u0=3.0, uf=1.5, tau=2.0)
    with mpmath.workdps(40):
        assert close(float(out), mp_mode_time(1.0, 3.0, 1.5, 2.0))


def test_check_false_skips_the_domain_check() -> None:
    bad = dict(t=1.0, x=-1.0, y=1.0, u0=0.1, lr=0.1)
    with pytest.raises(ValueError):
        learndyn.function("scalar_trajectory")(**bad)
    out = learndyn.function("scalar_trajectory", check=False)(**bad)
    assert isinstance(out, torch.Tensor)
    out2 = learndyn.function("scalar_trajectory")(**bad, check=False)
    assert torch.equal(out, out2)
    # the unchecked function still evaluates the same formula: for x = -1 the ODE's solution is
    # u = y E/(x(E−1) + y/u0) with E = exp(2 y x t lr)
    E = math.exp(2 * 1.0 * -1.0 * 1.0 * 0.1)
    assert float(out) == pytest.approx(1.0 * E / (-1.0 * (E - 1) + 1.0 / 0.1), rel=1e-12)


# ------------------------------------------------------------------------ result() and claims()


def test_result_exposes_expression_domains_assumptions_source_proof() -> None:
    d = learndyn.result("scalar_trajectory")
    r = d.result
    assert isinstance(d.derived, sp.Expr)
    S = r.symbols
    t, x, y, u0, lr = (S[k] for k in ("t", "x", "y", "u0", "lr"))
    E = sp.exp(2 * y * x * t * lr)
    assert sp.simplify(d.derived - y * E / (x * (E - 1) + y / u0)) == 0
    assert r.names == ("t", "x", "y", "u0", "lr")
    # domains from THEORY: t >= 0, x > 0, y real, u0 > 0, lr > 0
    dom = {p.name: p.domain for p in r.params}
    assert dom["t"].lo == 0 and dom["t"].lo_closed and dom["t"].hi == math.inf
    assert dom["x"].lo == 0 and not dom["x"].lo_closed
    assert dom["y"].lo == -math.inf and dom["y"].hi == math.inf
    assert r.assumptions and any("balanced" in a for a in r.assumptions)
    assert any("y < 0" in a for a in r.assumptions)  # the decay for y < 0 is documented
    assert r.source.seed == "000" and r.source.seed_where == "eq. (2)" and "Sec. 1.3" in r.source.where
    assert len(d.proof) > 0
    with pytest.raises(KeyError):
        learndyn.result("no_such_result")


def test_result_record_convenience_fields() -> None:
    """The record's own fields: expr, domain (the runtime check), ranges, assumptions, source, latex."""
    import importlib

    d = learndyn.result("mode_learning_time")
    assert d.name == "mode_learning_time"
    S = d.result.symbols
    s, u0, uf, tau = (S[k] for k in ("s", "u0", "uf", "tau"))
    theory = tau / (2 * s) * sp.log(uf * (s - u0) / (u0 * (s - uf)))
    assert sp.simplify(sp.expand_log(d.expr - theory, force=True)) == 0
    gen = importlib.import_module("learndyn.generated.linear").DOMAINS["mode_learning_time"]
    assert dict(d.domain.params) == dict(gen.params)
    with pytest.raises(DomainError, match="'uf'"):
        d.domain.check({k: torch.tensor(v, dtype=torch.float64) for k, v in dict(s=1.0, u0=0.1, uf=1.5, tau=1.0).items()})
    dom, test, sim = d.ranges["s"]
    assert dom.lo == 0 and not dom.lo_closed and math.isfinite(test.hi)
    assert d.assumptions == d.result.assumptions and d.source == d.result.source
    assert r"\label{eq:mode_learning_time}" in d.latex


def test_result_of_relation_domain() -> None:
    r = learndyn.result("mode_learning_time").result
    assert [rel.subject for rel in r.relations] == ["uf"]


def test_claims_are_listed_beside_real_results() -> None:
    cs = learndyn.claims()
    assert len(cs) == 24
    names = set(learndyn.results())
    for c in cs:
        assert c.about and set(c.about) <= names, c
        assert c.statement
    assert {c.name for c in cs} == {
        "depth_independent_time_from_order_one_start", "time_grows_with_depth_from_small_gain",
        "stable_lr_shrinks_with_depth", "modes_learned_in_order_of_strength",
        "noise_lowers_plateau_not_growth", "equivalent_decay_is_slower", "weight_decay_removes_imbalance",
        "additive_noise_has_no_critical_point", "noise_limits_depth", "chaotic_phase_trains_fast_but_forgets_inputs",
        "ordered_phase_generalises_but_trains_slowly", "sigmoidal_from_depth_two", "hinge_stops_sooner",
        "time_scales_with_frequency_and_norm", "failure_region_of_the_start", "rare_feature_starved",
        "coupled_modes_break_decoupled_theory", "overtraining_peaks_at_one", "frozen_subspace",
        "training_monotone_generalisation_one_minimum", "stopping_time_scaling", "ridge_beats_early_stopping",
        "initial_variance_cost", "pretraining_accelerates"}


# -------------------------------------------------------------- numerical edge cases (scalar net)


EDGE_POINTS = [
    # huge t: saturates at y/x
    dict(t=1e9, x=1.0, y=2.0, u0=1e-3, lr=0.01),
    dict(t=1e9, x=1e-3, y=1e3, u0=1e-12, lr=1.0),
    # tiny u0 (long plateau)
    dict(t=100.0, x=1.0, y=2.0, u0=1e-12, lr=0.01),
    dict(t=1e3, x=0.3, y=0.7, u0=1e-12, lr=0.05),
    # removable singularity y = 0 and its neighbourhood
    dict(t=1e9, x=0.5, y=0.0, u0=1e-12, lr=1e-3),
    dict(t=7.0, x=1.5, y=0.0, u0=0.3, lr=0.1),
    dict(t=1e9, x=1.0, y=1e-300, u0=1e-12, lr=1.0),
    dict(t=10.0, x=2.0, y=1e-9, u0=3.0, lr=0.1),
    dict(t=1e3, x=2.0, y=-1e-9, u0=3.0, lr=0.1),
    # y < 0: decays to 0 without changing sign (and underflows for huge t)
    dict(t=100.0, x=1.0, y=-0.5, u0=1.0, lr=0.01),
    dict(t=1e4, x=1.0, y=-2.0, u0=1.0, lr=0.01),
    dict(t=1e9, x=1.0, y=-2.0, u0=1.0, lr=0.01),
    dict(t=1e9, x=1e-3, y=-1e3, u0=1e3, lr=1e-6),
]


@pytest.mark.parametrize("pt", EDGE_POINTS, ids=lambda p: ",".join(f"{k}={v:g}" for k, v in p.items()))
def test_scalar_trajectory_edge_cases_accurate(pt: dict) -> None:
    f = learndyn.function("scalar_trajectory")
    args = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in pt.items()}
    out = f(**args)
    got = float(out.detach())
    assert math.isfinite(got)
    with mpmath.workdps(60):
        ref = mp_scalar(**pt)
        assert abs(mpmath.mpf(got) - ref) <= RTOL * abs(ref) + ATOL, (got, ref)
    if pt["y"] < 0:
        assert 0.0 <= got <= pt["u0"]  # decays, never changes sign
    grads = torch.autograd.grad(out, list(args.values()))
    for name, g in zip(args, grads):
        assert bool(torch.isfinite(g)), f"d/d{name} = {g}"


@pytest.mark.parametrize("pt,wrt", [
    (dict(t=7.0, x=1.5, y=0.0, u0=0.3, lr=0.1), "y"),
    (dict(t=7.0, x=1.5, y=0.0, u0=0.3, lr=0.1), "t"),
    (dict(t=100.0, x=1.0, y=2.0, u0=1e-12, lr=0.01), "u0"),
    (dict(t=100.0, x=1.0, y=-0.5, u0=1.0, lr=0.01), "y"),
    (dict(t=1e3, x=2.0, y=-1e-9, u0=3.0, lr=0.1), "lr"),
])
def test_scalar_trajectory_gradients_match_mpmath(pt: dict, wrt: str) -> None:
    f = learndyn.function("scalar_trajectory")
    args = {k: torch.tensor(v, dtype=torch.float64, requires_grad=(k == wrt)) for k, v in pt.items()}
    (g,) = torch.autograd.grad(f(**args), [args[wrt]])
    with mpmath.workdps(50):
        ref = mpmath.diff(lambda v: mp_scalar(**{**pt, wrt: v}), mpmath.mpf(pt[wrt]))
    assert abs(float(g) - ref) <= 1e-9 * abs(ref) + 1e-300, (float(g), ref)


def test_scalar_trajectory_y0_equals_limit_of_neighbours() -> None:
    f = learndyn.function("scalar_trajectory")
    y = torch.tensor([-1e-12, 0.0, 1e-12], dtype=torch.float64)
    out = f(t=50.0, x=1.2, y=y, u0=0.4, lr=0.05)
    lim = 0.4 / (1 + 2 * 0.05 * 1.2**2 * 0.4 * 50.0)
    assert out[1].item() == pytest.approx(lim, rel=1e-15)
    assert (out - lim).abs().max().item() < 1e-11
    assert not bool(torch.isnan(out).any())


def test_mode_trajectory_huge_t_and_tiny_u0() -> None:
    f = learndyn.function("mode_trajectory")
    for pt in (dict(t=1e9, s=2.0, u0=1e-12, tau=1e-3), dict(t=50.0, s=0.5, u0=1e-12, tau=3.0),
               dict(t=1e-6, s=1e3, u0=1e3 * 0.999, tau=1e-3)):
        got = float(f(**pt))
        with mpmath.workdps(60):
            assert close(got, mp_mode(**pt)), pt


def test_figure_data_serves_every_figure_of_learndyn_figures() -> None:
    """``learndyn.figure_data`` serves what ``learndyn data`` serves: every figure in learndyn.verify.figures."""
    from learndyn.verify.figures import FIGURES

    data = learndyn.figure_data("scalar_learning_curve", quick=True)
    assert data == FIGURES["scalar_learning_curve"].data(seed=0, device="cpu", quick=True)
    with pytest.raises(KeyError, match="unknown figure"):
        learndyn.figure_data("no_such_figure")
