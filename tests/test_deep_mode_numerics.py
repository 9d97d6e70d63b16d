"""Deep linear mode dynamics: ``deep_mode_time`` and ``deep_mode_trajectory`` against mpmath at 50 digits.

ODE: ``tau du/dt = D u^(2-2/D) (s - u)``.  References (independent of the closed form under test):

* ``t``: ``deep_mode_time_mp`` (incomplete-beta / 2F1 form; cross-checked with tanh-sinh quadrature below);
* ``dt/d(s, u0, uf, tau)``: ``dt/duf = tau/(D uf^a (s - uf))``, ``dt/du0 = -tau/(D u0^a (s - u0))``,
  ``dt/dtau = t/tau`` and the homogeneity relation ``s dt/ds + u0 dt/du0 + uf dt/duf = -a t`` (``a = 2 - 2/D``);
* ``u(t)`` at a float ``t_f = fl(t(uf))``: the exact root of ``deep_mode_time_mp(u) = t_f`` (the float ``t_f``
  taken exactly), by Newton steps at 50 digits from ``uf`` (within ``kappa eps`` of it); where the float ``t_f``
  no longer resolves ``uf`` (``kappa eps >~ 1``), the residual ``(t(u) - t_f) du/dt / u`` at enough digits;
* ``du/d(t, s, u0, tau)``: ``du/dt = D u^a (s - u)/tau``, ``du/du0 = u^a (s - u)/(u0^a (s - u0))``,
  ``du/dtau = -(t/tau) du/dt``, ``s du/ds = u - u0 du/du0 + a t du/dt`` (scaling ``u -> lambda u``,
  ``s -> lambda s``, ``tau -> lambda^a tau``), evaluated at ``(u_true, t_f)``.

Accuracy contract tested: ``deep_mode_time``, ``deep_mode_trajectory`` and their gradients to ``1e-12`` relative
everywhere -- for the trajectory also where the inverse is ill conditioned, ``kappa = |t du/dt / u|`` up to ~1e11
(from a tiny start at depth ``D > 2`` the time to reach ``u`` hardly depends on ``u``: ``t`` is a huge
``u0``-dependent constant plus a moderate function of ``u``), where the float64 solve alone (backward stable: exact
for a time within a few ulps of ``t``) is off by ``~1e-15 kappa`` and the value is recomputed at high precision.
Only a round trip through a float time (``u(fl(t(uf)))`` against ``uf``) keeps the bound ``2e-14 (1 + kappa)``.
"""

from __future__ import annotations

import functools
import math

import mpmath as mp
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

import learndyn.numerics.deep_mode as dm
from learndyn.numerics.deep_mode import deep_mode_time, deep_mode_time_mp, deep_mode_trajectory

F64 = torch.float64
REL = 1e-12  # the contract
KAPPA_C = 2e-14  # round trip through a float time: |u(fl(t(uf))) - uf| <= KAPPA_C (1 + kappa) |uf|
DPS = 50


def _t(x, grad=False):
    return torch.tensor(x, dtype=F64, requires_grad=grad)


# ---------------------------------------------------------------------------------------------------------------
# mpmath references


def _ref_time(s, u0, uf, tau, D):
    """(t, [dt/ds, dt/du0, dt/duf, dt/dtau]) at DPS digits."""
    with mp.workdps(DPS):
        t = deep_mode_time_mp(s, u0, uf, tau, D, dps=DPS)
        S, U0, UF, TAU = (mp.mpf(x) for x in (s, u0, uf, tau))
        a = 2 - mp.mpf(2) / D
        duf = TAU / (D * UF ** a * (S - UF))
        du0 = -TAU / (D * U0 ** a * (S - U0))
        ds = (-a * t - U0 * du0 - UF * duf) / S
        return t, [ds, du0, duf, t / TAU]


def _ref_traj_grads(u, t, s, u0, tau, D):
    """[du/dt, du/ds, du/du0, du/dtau] at the point (u, t) of the flow, DPS digits."""
    with mp.workdps(DPS):
        U, T, S, U0, TAU = (mp.mpf(x) for x in (u, t, s, u0, tau))
        a = 2 - mp.mpf(2) / D
        gt = D * U ** a * (S - U) / TAU
        gu0 = U ** a * (S - U) / (U0 ** a * (S - U0))
        gtau = -T / TAU * gt
        gs = (U - U0 * gu0 + a * T * gt) / S
        return [gt, gs, gu0, gtau]


def _relerr(x, ref):
    ref = mp.mpf(ref)
    if ref == 0:
        return abs(float(x))
    return float(abs((mp.mpf(float(x)) - ref) / ref))


# ---------------------------------------------------------------------------------------------------------------
# the checks, shared by the grid and the hypothesis tests


def check_time(D, s, u0, uf, tau):
    """deep_mode_time value and gradients to REL; returns the float time and the mp time."""
    args = [_t(x, True) for x in (s, u0, uf, tau)]
    t = deep_mode_time(*args, D)
    grads = torch.autograd.grad(t, args)
    t_ref, g_ref = _ref_time(s, u0, uf, tau, D)
    err = _relerr(t.item(), t_ref)
    assert err <= REL, f"t: rel err {err:.3g} at D={D} s={s!r} u0={u0!r} uf={uf!r} tau={tau!r}"
    for name, g, r in zip(("s", "u0", "uf", "tau"), grads, g_ref):
        assert torch.isfinite(g), name
        e = _relerr(g.item(), r)
        assert e <= REL, f"dt/d{name}: rel err {e:.3g} at D={D} s={s!r} u0={u0!r} uf={uf!r} tau={tau!r}"
    return t.item(), t_ref


def _ref_root(t_f, s, u0, tau, D, start, t_start=None):
    """The exact root ``u(t_f)`` at DPS digits (``t_f`` a float, taken exactly): Newton steps on
    ``deep_mode_time_mp(u) = t_f`` from ``start`` (a point whose time ``t_start``, if known, saves one evaluation).
    The start is the float root of a nearby time (within ``kappa eps`` of the root), so that each step squares
    the relative error (times at most ``u/|s - u|``): the loop stops after a step below ``1e-25`` relative."""
    with mp.workdps(DPS):
        S, TAU, T = mp.mpf(s), mp.mpf(tau), mp.mpf(t_f)
        a = 2 - mp.mpf(2) / D
        u = mp.mpf(start)
        for _ in range(8):
            tu = t_start if t_start is not None else deep_mode_time_mp(s, u0, u, tau, D, dps=DPS)
            t_start = None
            step = (tu - T) * D * u ** a * (S - u) / TAU
            u = u - step
            if abs(step) <= mp.mpf(10) ** -25 * abs(u):
                return u
        raise AssertionError("reference Newton did not converge")


def check_trajectory(D, s, u0, uf, tau, t_f, t_ref, u_true=None):
    """deep_mode_trajectory at the float time t_f = fl(t(uf)): value and gradients to REL against the exact flow
    at t_f (the exact root ``u_true``, by :func:`_ref_root` unless given).  Returns (kappa, iterations)."""
    args = [_t(x, True) for x in (t_f, s, u0, tau)]
    u, iters = deep_mode_trajectory(*args, D, return_iterations=True)
    grads = torch.autograd.grad(u, args)
    assert all(torch.isfinite(g) for g in grads)
    if u_true is None:
        u_true = _ref_root(t_f, s, u0, tau, D, uf, t_ref)
    with mp.workdps(DPS):
        S = mp.mpf(s)
        a = 2 - mp.mpf(2) / D
        rate = D * u_true ** a * (S - u_true) / mp.mpf(tau)
        kappa = float(abs(mp.mpf(t_f) * rate / u_true))
    err = _relerr(u.item(), u_true)
    where = f"D={D} s={s!r} u0={u0!r} uf={uf!r} tau={tau!r} t={t_f!r} kappa={kappa:.3g}"
    assert err <= REL, f"u: rel err {err:.3g} at {where}"
    # gradients: the exact derivatives of the flow at (u_true, t_f) (their condition number, about
    # kappa (2 + u/|s - u|), is as large as kappa's: they are right only because the value is)
    for name, g, r in zip(("t", "s", "u0", "tau"), grads, _ref_traj_grads(u_true, t_f, s, u0, tau, D)):
        e = _relerr(g.item(), r)
        assert e <= REL, f"du/d{name}: rel err {e:.3g} at {where}"
    return kappa, iters


# ---------------------------------------------------------------------------------------------------------------
# deterministic grid over the edges

DEPTHS = [1, 2, 3, 4, 5, 7, 10, 16, 33, 100, 200]
SCALES = [1e-3, 1.0, 1e3]
# (w0, wf) = (u0/s, uf/s)
PAIRS = [
    (1e-12, 0.5),  # tiny start
    (1e-12, 1 - 1e-12),  # tiny start, end at s(1 - 1e-12)
    (1e-12, 1e-12 * (1 + 1e-12)),  # t -> 0 at a tiny start
    (0.3, 0.3 * (1 + 1e-13)),  # t -> 0
    (0.5, 0.6),
    (0.9, 1 - 1e-12),
    (1 - 1e-9, 1 - 1e-12),
    (1e-6, 1e-3),
    (1 + 1e-12, 1 + 1e-13),  # above, both next to s
    (1.5, 1.2),
    (3.0, 2.5),
    (5.0, 1.5),  # above: split at w = 2
    (4.0000001, 1.9999),
    (1e3, 1 + 1e-12),
    (1e6, 2.0),  # series only
    (1e12, 1e12 * (1 - 1e-10)),  # far above, t -> 0
    (2.0, 2.0 * (1 - 1e-12)),
]
GRID = [(D, s, w0, wf) for D in DEPTHS for s in SCALES for (w0, wf) in PAIRS]


@pytest.mark.parametrize("D", DEPTHS)
def test_grid_time_and_trajectory(D):
    worst_kappa_free = 0.0
    max_iters = 0
    for s in SCALES:
        for w0, wf in PAIRS:
            u0, uf = s * w0, s * wf
            if not (min(u0, s) < uf < max(u0, s)):
                continue
            t_f, t_ref = check_time(D, s, u0, uf, 1.0)
            _, iters = check_trajectory(D, s, u0, uf, 1.0, t_f, t_ref)
            max_iters = max(max_iters, iters)
    assert max_iters <= 12


def test_grid_vectorised_matches_elementwise():
    """One batched call over the whole grid gives the same numbers as the per-point calls (to the last bit for
    the time; the solver's stopping point may differ by rounding only)."""
    for D in (1, 3, 100):
        rows = [(s * w0, s * wf, s) for (DD, s, w0, wf) in GRID if DD == D
                if min(s * w0, s) < s * wf < max(s * w0, s)]
        u0 = torch.tensor([r[0] for r in rows], dtype=F64)
        uf = torch.tensor([r[1] for r in rows], dtype=F64)
        s = torch.tensor([r[2] for r in rows], dtype=F64)
        tau = torch.ones_like(s)
        t = deep_mode_time(s, u0, uf, tau, D)
        single = torch.stack([deep_mode_time(s[i], u0[i], uf[i], tau[i], D) for i in range(len(rows))])
        assert torch.equal(t, single)
        u = deep_mode_trajectory(t, s, u0, tau, D)
        us = torch.stack([deep_mode_trajectory(t[i], s[i], u0[i], tau[i], D) for i in range(len(rows))])
        assert torch.allclose(u, us, rtol=1e-13, atol=0.0)


def test_large_depth():
    for D in (500, 1000):
        for s, w0, wf in [(1.0, 1e-12, 1 - 1e-12), (10.0, 0.3, 0.3 * (1 + 1e-13)), (0.1, 5.0, 1.5),
                          (1.0, 1e6, 1 + 1e-9), (1.0, 0.99, 0.999)]:
            t_f, t_ref = check_time(D, s, s * w0, s * wf, 2.0)
            check_trajectory(D, s, s * w0, s * wf, 2.0, t_f, t_ref)


# ---------------------------------------------------------------------------------------------------------------
# hypothesis: random points, edges included


@st.composite
def cases(draw):
    D = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 25, 33, 50, 64, 100, 128, 199, 200]))
    s = 10.0 ** draw(st.floats(-3.0, 3.0))
    tau = 10.0 ** draw(st.floats(-2.0, 2.0))
    side = draw(st.sampled_from(["tiny", "below", "near_s_below", "above", "near_s_above"]))
    if side == "tiny":
        w0 = 10.0 ** draw(st.floats(-12.0, -6.0))
    elif side == "below":
        w0 = 10.0 ** draw(st.floats(-6.0, -0.05))
    elif side == "near_s_below":
        w0 = 1.0 - 10.0 ** draw(st.floats(-12.0, -0.5))
    elif side == "above":
        w0 = 1.0 + 10.0 ** draw(st.floats(-0.5, 6.0))
    else:
        w0 = 1.0 + 10.0 ** draw(st.floats(-12.0, -0.5))
    where = draw(st.sampled_from(["near_u0", "near_s", "between"]))
    frac = 10.0 ** draw(st.floats(-15.0, -0.01))
    u0 = s * w0
    if where == "near_u0":
        uf = u0 + (s - u0) * frac
    elif where == "near_s":
        uf = s - (s - u0) * frac
    else:  # log-uniform between u0 and s
        uf = math.exp(math.log(u0) + (math.log(s) - math.log(u0)) * draw(st.floats(0.01, 0.99)))
    return D, s, u0, uf, tau


@settings(derandomize=True, max_examples=400, deadline=None)
@given(cases())
@example((7, 1.0, 1e-12, 1.0 - 1e-12, 1.0))
@example((1, 1e3, 1e-9, 999.999999999, 0.5))
@example((3, 1e-3, 1e3, 1e-3 * (1 + 1e-12), 1.0))
@example((200, 1.0, 0.5, 0.5 * (1 + 2e-16), 1.0))
def test_hypothesis_time_and_trajectory(case):
    D, s, u0, uf, tau = case
    if not (min(u0, s) < uf < max(u0, s)):
        return  # the float rounding of an edge draw left the domain
    t_f, t_ref = check_time(D, s, u0, uf, tau)
    check_trajectory(D, s, u0, uf, tau, t_f, t_ref)


# ---------------------------------------------------------------------------------------------------------------
# ill-conditioned inverse: tiny start at depth D >= 2 (kappa up to ~1e11); t = fl(t(u*)), the reference is the
# exact root at that float t (not u*, which is ~kappa eps away)

ILL_DEPTHS = [2, 3, 10, 100, 1000]
ILL_W0 = [1e-12, 1e-8]
ILL_WSTAR = [0.01, 0.5, 0.99]
ILL_S_TAU = [(1.0, 1.0), (37.0, 0.02), (1e-3, 5.0)]


@functools.lru_cache(maxsize=None)
def _ill_case(D, w0, ws, s, tau):
    """(u0, u*, t_f, t_ref, u_true) for the start u0 = w0 s and the target u* = ws s."""
    u0, us = w0 * s, ws * s
    t_ref = deep_mode_time_mp(s, u0, us, tau, D, dps=DPS)
    t_f = float(t_ref)
    return u0, us, t_f, t_ref, _ref_root(t_f, s, u0, tau, D, us, t_ref)


@pytest.mark.parametrize("D", ILL_DEPTHS)
def test_ill_conditioned_tiny_start(D):
    """Value and gradients to REL at the transition from a tiny start, where the float64 solve alone is off by up
    to ~1e-4 (kappa ~ 1e11 at D = 100, u* = s/2)."""
    kappas = []
    for w0 in ILL_W0:
        for ws in ILL_WSTAR:
            for s, tau in ILL_S_TAU:
                u0, us, t_f, t_ref, u_true = _ill_case(D, w0, ws, s, tau)
                kappa, _ = check_trajectory(D, s, u0, us, tau, t_f, t_ref, u_true)
                kappas.append(kappa)
    # these are ill-conditioned points indeed (D = 2: kappa ~ ln(1/w0) only)
    assert max(kappas) > (20.0 if D == 2 else 1e4)


def test_ill_conditioned_batched():
    """One broadcast call over all the ill-conditioned points of a depth (mixed s, tau, u0, t) gives each value to
    REL (the refinement works on the slow points of a batch together)."""
    for D in (3, 100):
        rows = [(s, w0, ws, tau) for w0 in ILL_W0 for ws in ILL_WSTAR for s, tau in ILL_S_TAU]
        cases = [_ill_case(D, w0, ws, s, tau) for s, w0, ws, tau in rows]
        t = torch.tensor([c[2] for c in cases], dtype=F64)
        s = torch.tensor([r[0] for r in rows], dtype=F64)
        u0 = torch.tensor([c[0] for c in cases], dtype=F64)
        tau = torch.tensor([r[3] for r in rows], dtype=F64)
        # and a well-conditioned point and t = 0 in the same batch
        t, s, u0, tau = (torch.cat([x, torch.tensor(v, dtype=F64)]) for x, v in
                         zip((t, s, u0, tau), ([0.3, 0.0], [1.0, 2.0], [0.5, 1e-12], [1.0, 1.0])))
        u = deep_mode_trajectory(t, s, u0, tau, D)
        for i, c in enumerate(cases):
            assert _relerr(u[i].item(), c[4]) <= REL, (D, rows[i])
        assert u[-1].item() == 1e-12
        single = deep_mode_trajectory(t[-2], s[-2], u0[-2], tau[-2], D)
        assert abs(u[-2].item() / single.item() - 1) <= 1e-14


def test_values_not_perturbed_by_the_gradient_step():
    """The implicit-function step attaches gradients only: the value is the same with and without autograd."""
    t = torch.tensor([_ill_case(10, 1e-12, 0.5, 1.0, 1.0)[2], 0.7, 3.0, 0.0], dtype=F64)
    for D in (2, 10, 100):
        args = [t.clone().requires_grad_(), _t(1.0, True), _t(1e-12, True), _t(1.0, True)]
        u = deep_mode_trajectory(*args, D)
        with torch.no_grad():
            u_ng = deep_mode_trajectory(*(x.detach() for x in args), D)
        assert torch.equal(u.detach(), u_ng)


@st.composite
def transition_cases(draw):
    """A tiny start and a target in the rise (log-uniform between w0^0.7 and ~1) or late (next to s)."""
    D = draw(st.sampled_from([2, 3, 4, 5, 7, 10, 16, 33, 64, 100, 200, 500, 1000]))
    s = 10.0 ** draw(st.floats(-3.0, 3.0))
    tau = 10.0 ** draw(st.floats(-3.0, 3.0))
    w0 = 10.0 ** draw(st.floats(-12.0, -4.0))
    if draw(st.sampled_from(["rise", "late"])) == "rise":
        ws = math.exp(math.log(w0) * (1.0 - draw(st.floats(0.3, 0.999))))
    else:
        ws = 1.0 - 10.0 ** draw(st.floats(-12.0, -0.3))
    return D, s, w0 * s, ws * s, tau


@settings(derandomize=True, max_examples=120, deadline=None)
@given(transition_cases())
@example((100, 1.0, 1e-12, 0.5, 1.0))  # kappa ~ 1.5e11
@example((1000, 3.0, 3e-12, 1.5, 0.1))
@example((3, 1e-3, 1e-15, 1e-3 * (1 - 1e-12), 1e3))
def test_hypothesis_transition_from_tiny_start(case):
    D, s, u0, us, tau = case
    if not (u0 < us < s):
        return
    t_ref = deep_mode_time_mp(s, u0, us, tau, D, dps=DPS)
    check_trajectory(D, s, u0, us, tau, float(t_ref), t_ref)


def _check_by_residual(u, t_f, s, u0, tau, D):
    """u(t_f) to REL without a reference root: the relative error is (T(u) - t_f) (du/dt)/u to first order, with
    T(u) at enough digits for kappa (<= D t s^a/tau); u = s (float) is right if T(s (1 - REL)) <= t_f."""
    dps = 25 + int(math.log10(1.0 + D * t_f * s ** (2.0 - 2.0 / D) / tau))
    with mp.workdps(dps):
        if u == s:
            assert deep_mode_time_mp(s, u0, mp.mpf(s) * (1 - mp.mpf(REL)), tau, D, dps=dps) <= mp.mpf(t_f)
            return
        U, S = mp.mpf(u), mp.mpf(s)
        rate = D * U ** (2 - mp.mpf(2) / D) * (S - U) / mp.mpf(tau)
        err = abs((deep_mode_time_mp(s, u0, u, tau, D, dps=dps) - mp.mpf(t_f)) * rate / U)
        assert err <= REL, f"rel err {float(err):.3g} at D={D} u0={u0!r} t={t_f!r} u={u!r}"


def test_extremely_tiny_or_large_start():
    """Far outside the usual ranges the value is still right: u0/s down to 1e-300 (kappa up to ~1e299 at
    D = 1000, where even the decision that t is past the relaxation is below float64 resolution), and D = 1 from
    u0/s = 1e50 (kappa ~ ln(u0/s))."""
    for D, w0, ws in [(3, 1e-30, 0.5), (10, 1e-30, 0.01), (100, 1e-50, 0.5), (1000, 1e-100, 0.5),
                      (1000, 1e-300, 0.5), (3, 1e-300, 0.5), (2, 1e-300, 0.5), (2, 1e-100, 0.99), (1, 1e50, 2.0)]:
        s, tau = 1.0, 1.0
        t_f = float(deep_mode_time_mp(s, w0 * s, ws * s, tau, D, dps=40 + int(abs(math.log10(w0)))))
        u = deep_mode_trajectory(_t(t_f), _t(s), _t(w0 * s), _t(tau), D).item()
        _check_by_residual(u, t_f, s, w0 * s, tau, D)


# ---------------------------------------------------------------------------------------------------------------
# closed forms, round trips, edges


def test_closed_forms_depth_1_and_2():
    s = torch.tensor([1e-3, 1.0, 7.0, 1e3], dtype=F64)
    u0 = s * torch.tensor([1e-12, 0.25, 3.0, 1e6], dtype=F64)
    uf = s * torch.tensor([0.5, 0.75, 1.5, 2.0], dtype=F64)
    tau = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64)
    t1 = tau * torch.log((s - u0) / (s - uf))
    assert torch.allclose(deep_mode_time(s, u0, uf, tau, 1), t1, rtol=1e-14, atol=0)
    t2 = tau / (2 * s) * torch.log(uf * (s - u0) / (u0 * (s - uf)))
    assert torch.allclose(deep_mode_time(s, u0, uf, tau, 2), t2, rtol=1e-13, atol=0)


def test_trajectory_depth_2_closed_form_and_gradients():
    """D = 2: u = s / (1 + (s/u0 - 1) e^(-2 s t/tau)), value and autograd gradients."""
    for t, s, u0, tau in [(0.3, 1.0, 0.01, 1.0), (5.0, 2.0, 1e-6, 0.7), (0.01, 3.0, 30.0, 1.0),
                          (40.0, 0.5, 0.1, 2.0), (1e-9, 1.0, 0.5, 1.0)]:
        a1 = [_t(x, True) for x in (t, s, u0, tau)]
        u = deep_mode_trajectory(*a1, 2)
        g = torch.autograd.grad(u, a1)
        a2 = [_t(x, True) for x in (t, s, u0, tau)]
        tt, ss, uu0, ttau = a2
        ref = ss / (1 + (ss / uu0 - 1) * torch.exp(-2 * ss * tt / ttau))
        gr = torch.autograd.grad(ref, a2)
        assert abs(u.item() / ref.item() - 1) <= 1e-13
        for gi, ri in zip(g, gr):
            assert abs(gi.item() - ri.item()) <= 1e-11 * abs(ri.item()) + 1e-15 * abs(u.item())


def test_round_trip_in_float():
    """u(t(uf)) = uf and t(u(t)) = t with both halves in float64."""
    torch.manual_seed(0)
    for D in (1, 2, 3, 10, 100):
        s = 10.0 ** (6 * torch.rand(200, dtype=F64) - 3)
        w0 = torch.where(torch.rand(200, dtype=F64) < 0.5, 10.0 ** (-12 * torch.rand(200, dtype=F64)),
                         1 + 10.0 ** (12 * torch.rand(200, dtype=F64) - 6))
        frac = torch.rand(200, dtype=F64) * 0.98 + 0.01
        u0 = s * w0
        uf = torch.exp(torch.log(u0) + (torch.log(s) - torch.log(u0)) * frac)
        tau = torch.ones_like(s)
        t = deep_mode_time(s, u0, uf, tau, D)
        u = deep_mode_trajectory(t, s, u0, tau, D)
        a = 2 - 2 / D
        kappa = (t * D * uf ** a * (s - uf).abs() / uf / tau)
        assert (((u - uf) / uf).abs() <= KAPPA_C * (1 + kappa)).all()
        t_back = deep_mode_time(s, u0, u, tau, D)
        ok = (u != u0) & (u != s)
        assert (((t_back - t) / t).abs()[ok] <= 1e-13).all()


def test_t_zero_gives_u0_exactly_and_the_rate():
    for D in (1, 2, 3, 50, 1000):
        for s, u0 in [(1.0, 1e-12), (2.0, 1.0), (1.0, 1.0 - 1e-12), (1.0, 5.0), (3.0, 1e8)]:
            args = [_t(x, True) for x in (0.0, s, u0, 1.5)]
            u = deep_mode_trajectory(*args, D)
            assert u.item() == u0
            gt, gs, gu0, gtau = (g.item() for g in torch.autograd.grad(u, args))
            a = 2 - 2 / D
            rate = D * u0 ** a * (s - u0) / 1.5
            assert abs(gt - rate) <= 1e-13 * abs(rate)
            assert abs(gu0 - 1.0) <= 1e-14
            assert abs(gs) <= 1e-14 * u0 / s
            assert gtau == 0.0


def test_u0_equal_s_stays_at_s():
    t = torch.tensor([0.0, 1e-3, 1.0, 1e9], dtype=F64, requires_grad=True)
    s = _t(2.0, True)
    u0 = _t(2.0, True)
    tau = _t(1.0, True)
    for D in (1, 2, 7):
        u = deep_mode_trajectory(t, s, u0, tau, D)
        assert torch.equal(u, torch.full_like(u, 2.0))
        E = torch.exp(-D * 2.0 ** (2 - 2 / D) * t.detach())
        for i in range(4):
            gt, gs, gu0, gtau = torch.autograd.grad(u[i], [t, s, u0, tau], retain_graph=True)
            assert gt[i].item() == 0.0 and gtau.item() == 0.0
            assert abs(gu0.item() - E[i].item()) <= 1e-15
            assert abs(gs.item() - (1 - E[i].item())) <= 1e-15


def test_very_long_times_reach_s():
    """t = (time to get half way) + 1e9 relaxation times tau/(D s^a): u = s exactly, du/ds = 1, the rest ~ 0."""
    for D in (1, 2, 3, 100, 1000):
        for s, u0 in [(1e-3, 1e-15), (1.0, 1e-12), (1e3, 0.5), (1.0, 1e6), (2.0, 2.0 + 1e-12)]:
            a = 2 - 2 / D
            t_half = deep_mode_time(_t(s), _t(u0), _t(0.5 * (u0 + s)), _t(1.0), D).item()
            t = t_half + 1e9 / (D * s ** a)
            args = [_t(x, True) for x in (t, s, u0, 1.0)]
            u = deep_mode_trajectory(*args, D)
            assert u.item() == s
            gt, gs, gu0, gtau = (g.item() for g in torch.autograd.grad(u, args))
            assert all(math.isfinite(g) for g in (gt, gs, gu0, gtau))
            assert abs(gs - 1.0) <= 1e-15 and abs(gt) <= 1e-300 and abs(gu0) <= 1e-300


def test_gradients_finite_everywhere_on_a_batch():
    """Batched call mixing every regime (tiny u0, above, u0 = s, t = 0, huge t): all gradients finite."""
    t = torch.tensor([0.0, 1e-30, 1e-6, 1.0, 30.0, 1e9, 0.0, 2.0], dtype=F64, requires_grad=True)
    s = torch.tensor([1.0, 1.0, 2.0, 1e3, 1e-3, 1.0, 1.0, 1.0], dtype=F64, requires_grad=True)
    u0 = torch.tensor([1e-12, 0.5, 1e6, 1.0, 1e-3, 1e-12, 1.0, 1.0 + 1e-12], dtype=F64, requires_grad=True)
    tau = torch.ones(8, dtype=F64, requires_grad=True)
    for D in (1, 2, 3, 33, 200):
        u = deep_mode_trajectory(t, s, u0, tau, D)
        for g in torch.autograd.grad(u.sum(), [t, s, u0, tau]):
            assert torch.isfinite(g).all()
        uf = (0.5 * (u0 + s)).detach()
        ok = u0 != s
        T = deep_mode_time(s[ok], u0[ok], uf[ok], tau[ok], D)
        for g in torch.autograd.grad(T.sum(), [s, u0, tau]):
            assert torch.isfinite(g).all()


def test_gradcheck_finite_differences():
    """Autograd against central finite differences (independent of the mp derivative formulas)."""
    for D in (1, 2, 3, 8):
        s, u0, uf, tau = (_t(x, True) for x in (1.3, 0.2, 0.9, 0.8))
        assert torch.autograd.gradcheck(lambda a, b, c, d: deep_mode_time(a, b, c, d, D), (s, u0, uf, tau))
        t = _t(0.7, True)
        assert torch.autograd.gradcheck(lambda a, b, c, d: deep_mode_trajectory(a, b, c, d, D), (t, s, u0, tau))
        u0a = _t(4.0, True)
        assert torch.autograd.gradcheck(lambda a, b, c, d: deep_mode_trajectory(a, b, c, d, D), (t, s, u0a, tau))


def test_broadcast_dtype_and_float32():
    s = torch.tensor([[1.0], [2.0], [3.0]], dtype=F64)
    u0 = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=F64)
    tau = torch.tensor(1.0, dtype=F64)
    uf = 0.5 * (u0 + s)
    t = deep_mode_time(s, u0, uf, tau, 4)
    assert t.shape == (3, 4) and t.dtype == F64
    u = deep_mode_trajectory(t, s, u0, tau, 4)
    assert u.shape == (3, 4) and torch.allclose(u, uf.expand(3, 4), rtol=1e-13, atol=0)
    f32 = [x.float() for x in (s, u0, uf, tau)]
    t32 = deep_mode_time(*f32, 4)
    assert t32.dtype == torch.float32
    assert torch.allclose(t32.double(), t, rtol=1e-5, atol=0)
    u32 = deep_mode_trajectory(t32, f32[0], f32[1], f32[3], 4)
    assert u32.dtype == torch.float32 and torch.allclose(u32.double(), uf.expand(3, 4), rtol=1e-5, atol=0)


def test_depth_must_be_a_positive_int():
    x = _t(0.5)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="depth"):
            deep_mode_time(_t(1.0), x, _t(0.7), _t(1.0), bad)
        with pytest.raises(ValueError, match="depth"):
            deep_mode_trajectory(_t(1.0), _t(1.0), x, _t(1.0), bad)


def test_solver_raises_when_not_converged(monkeypatch):
    monkeypatch.setattr(dm, "_MAX_ITER", 1)
    with pytest.raises(RuntimeError, match="did not converge"):
        deep_mode_trajectory(_t(3.0), _t(1.0), _t(1e-9), _t(1.0), 7)


def test_mp_reference_methods_agree():
    for args in [(1.0, 1e-12, 1 - 1e-12, 1.0, 5), (2.0, 0.3, 0.3 * (1 + 1e-13), 1.0, 7), (1.0, 5.0, 1.5, 2.0, 3),
                 (1e3, 1e9, 1e3 * (1 + 1e-12), 1.0, 2), (1.0, 0.5, 0.6, 1.0, 1), (1.0, 50.0, 1.5, 1.0, 1)]:
        with mp.workdps(DPS):
            a = deep_mode_time_mp(*args)
            b = deep_mode_time_mp(*args, method="quad")
            assert abs(a / b - 1) < mp.mpf(10) ** (-40)
    # elementary forms
    with mp.workdps(DPS):
        t1 = deep_mode_time_mp(2.0, 0.5, 1.5, 3.0, 1)
        assert abs(t1 - 3 * mp.log(mp.mpf(1.5) / mp.mpf(0.5))) < mp.mpf(10) ** (-45)
        t2 = deep_mode_time_mp(2.0, 0.5, 1.5, 3.0, 2)
        assert abs(t2 - mp.mpf(3) / 4 * mp.log(mp.mpf(1.5) * 1.5 / (mp.mpf(0.5) * 0.5))) < mp.mpf(10) ** (-45)


def test_pair_sum_blocks_agree(monkeypatch):
    """The k-sum is evaluated in blocks for large batches x depths; a tiny block size gives the same numbers."""
    s = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64)
    u0 = s * torch.tensor([1e-9, 0.3, 3.0, 1 - 1e-9], dtype=F64)
    uf = s * torch.tensor([0.9, 0.3 * (1 + 1e-9), 1.5, 1 - 1e-12], dtype=F64)
    tau = torch.ones_like(s)
    for D in (3, 64, 201):
        t = deep_mode_time(s, u0, uf, tau, D)
        u = deep_mode_trajectory(t, s, u0, tau, D)
        with monkeypatch.context() as m:
            m.setattr(dm, "_PAIR_BLOCK_ELEMS", 7)
            tb = deep_mode_time(s, u0, uf, tau, D)
            ub = deep_mode_trajectory(t, s, u0, tau, D)
        assert torch.allclose(t, tb, rtol=1e-14, atol=0)
        assert torch.allclose(u, ub, rtol=1e-14, atol=0)
