"""Family 5 (classification dynamics, seed 002): the derivations and their proofs, a wrong derivation failing, the
generated functions against mpmath references computed here from THEORY.md's defining equations (independent of
the engine and of ``learndyn.derive.margin_mp``), their gradients, their domains, and tier a's power.

References, all from the mode equation ``dm/dt = L κ m^{2−2/L} g(m)``, ``κ = p r^{2/L}``, ``g = σ(−m)`` or ``1[m < 1]``:

* the time to a margin: ``mpmath.quad`` of ``∫_{m0}^{m} dx/(L κ x^{2−2/L} g(x))`` (geometric pieces toward 0, the
  exponential tail integrated backwards from ``m``), at 30 digits;
* the margin at a time: ``mpmath.findroot`` (Newton in ``ln m``) of that quadrature ``= t``, the float ``t`` taken
  exactly; depth 1 under logistic loss also THEORY's Lambert-W form ``m = κt + C − W₀(e^{κt + C})`` at 80 digits; under
  hinge loss THEORY's power law, held at 1 from the stop on;
* the crossing time: ``mpmath.quad`` of ``∫_{m0}^{0} dx/(p r g(x) √(r²Δ² + 4x²))``;
* the inflection: ``mpmath.findroot`` of ``m σ(m) = 2 − 2/L``;
* the starved margin: ``mpmath.findroot`` of "feature 2 reaches y when feature 1 reaches 1 − y" (THEORY's hinge power
  laws), and THEORY's depth-1 closed form and depth-2 equation ``m10 e^{2 r1 P T1} + m20 e^{2 r2 q P T1} = 1``.

The bound is the project's: ``|err| ≤ 1e-12 |true| + 2.3e-308``. A true value beyond float64 (the logistic time to a
margin far in the tail, ``e^m/(Lκ m^{2−2/L})`` with ``m = 1e4``) must come back as ``inf`` (its correct rounding), and
one of the hinge loss past its stop is ``inf`` exactly.

Tier b and the claims are tested in ``test_classification_checks.py``, the simulators in
``test_classification_simulators.py``.
"""
from __future__ import annotations

import dataclasses
import math

import mpmath
import pytest
import sympy as sp
import torch

import learndyn
from learndyn.derive.derivation import derive_result
from learndyn.derive.proof import DerivationError
from learndyn.derive.registry import declaration, derivation, derivations
from learndyn.domain import DomainError
from learndyn.verify.closed_form import check_closed_form

FAMILY5 = ["classification_mode_time", "classification_mode_trajectory", "hinge_stopping_time", "margin_inflection",
           "wrong_sign_crossing_time", "starved_margin"]
RTOL = 1e-12
ATOL = 2.3e-308
DPS = 30
FLOAT_MAX = mpmath.mpf(torch.finfo(torch.float64).max)
DEPTHS = [1, 2, 3, 7, 64]
mpf = mpmath.mpf


def close(got, ref) -> bool:
    """``|got − ref| ≤ 1e-12 |ref| + 2.3e-308`` (``ref`` an mpf, ``got`` a float or a one-element tensor)."""
    got = float(got)
    if math.isinf(ref):
        return got == ref
    return math.isfinite(got) and abs(mpf(got) - ref) <= RTOL * abs(ref) + ATOL


def rel(got, ref) -> float:
    return float(abs(mpf(float(got)) - ref) / abs(ref)) if ref != 0 else abs(float(got))


def fn(name):
    return learndyn.function(name)


def leaf(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


# ---- references (written out here from THEORY.md's defining equations) ---------------------------------------------

def _geometric(lo, hi):
    pts, x = [lo], lo * 10
    while x < hi:
        pts.append(x)
        x *= 10
    return pts + [hi]


def _integral(f, lo, hi):
    """``∫_lo^hi f`` for ``0 < lo ≤ hi``, ``f`` growing like ``e^x`` at most: geometric pieces up to 1; above 1 in
    ``u = hi − x`` on pieces doubling from ``hi`` (where the exponential lives) and geometric ones beyond ``u = 256``."""
    if lo == hi:
        return mpf(0)
    mid = min(hi, max(lo, mpf(1)))
    total = mpmath.quad(f, _geometric(lo, mid)) if mid > lo else mpf(0)
    if hi > mid:
        w = hi - mid
        cut = min(w, mpf(256))
        pts, u = [mpf(0)], mpf(1)
        while u < cut:
            pts.append(u)
            u *= 2
        total += mpmath.quad(lambda u: f(hi - u), pts + [cut])
        if w > cut:
            total += mpmath.quad(f, _geometric(mid, hi - cut))
    return total


def rate(x, p, r, L, loss):
    """``dm/dt`` at margin ``x`` (mpf arguments); the hinge rate from below at the stop."""
    g = 1 / (1 + mpmath.exp(x)) if loss == "logistic" else (1 if x <= 1 else 0)
    return L * p * r ** (mpf(2) / L) * x ** (2 - mpf(2) / L) * g


def time_ref(m0, m, p, r, L, loss):
    """``t(m0 → m) = ∫_{m0}^{m} dx/rate(x)`` by quadrature (signed; ``inf`` past the hinge stop)."""
    with mpmath.workdps(DPS):
        m0, m, p, r = (mpf(v) for v in (m0, m, p, r))
        if loss == "hinge" and max(m, m0) > 1:
            return mpmath.inf
        e, k = mpf(2) / L - 2, L * p * r ** (mpf(2) / L)
        f = (lambda x: x**e * (1 + mpmath.exp(x)) / k) if loss == "logistic" else (lambda x: x**e / k)
        return _integral(f, m0, m) if m >= m0 else -_integral(f, m, m0)


def time_lower_bound(m, p, r, L):
    """A lower bound of the logistic time to ``m ≥ m0 + 1``: ``∫_{m−1}^{m} x^{2/L−2} e^x dx/(Lκ) ≥ e^{m−1} m^{2/L−2}/(Lκ)``."""
    with mpmath.workdps(DPS):
        m, p, r = mpf(m), mpf(p), mpf(r)
        return mpmath.exp(m - 1) * m ** (mpf(2) / L - 2) / (L * p * r ** (mpf(2) / L))


def trajectory_ref(t, m0, p, r, L, loss, start):
    """The root ``m`` of ``time_ref(m0, m) = t`` (the float ``t`` taken exactly): ``mpmath.findroot``, Newton in
    ``u = ln m`` with ``dt/du = m/rate(m)``, from ``start``."""
    with mpmath.workdps(DPS):
        t = mpf(t)
        f = lambda u: time_ref(m0, mpmath.exp(u), p, r, L, loss) - t  # noqa: E731
        df = lambda u: mpmath.exp(u) / rate(mpmath.exp(u), mpf(p), mpf(r), L, loss)  # noqa: E731
        u = mpmath.findroot(f, mpmath.log(mpf(start)), solver="newton", df=df, tol=mpf(10) ** (4 - DPS), verify=False)
        assert abs(f(u) / df(u)) < mpf(10) ** (8 - DPS), "reference Newton did not converge"
        return mpmath.exp(u)


def lambert_ref(t, m0, p, r):
    """THEORY: depth 1, logistic, ``m = κt + C − W₀(e^{κt + C})``, ``κ = p r²``, ``C = m0 + e^{m0}``, evaluated as
    ``ln W₀(e^{κt + C})`` (``W e^W = e^y``: ``y − W = ln W``; the difference would cancel 200 digits at κt = 1e217)."""
    with mpmath.workdps(80):
        t, m0, p, r = (mpf(v) for v in (t, m0, p, r))
        y = p * r * r * t + m0 + mpmath.exp(m0)
        w = mpmath.lambertw(mpmath.exp(y)).real
        assert abs((y - w) - mpmath.log(w)) <= mpf(10) ** -60 * max(1, y)
        return mpmath.log(w)


def hinge_trajectory_ref(t, m0, p, r, L):
    """THEORY: the hinge power law ``m^a = m0^a + a L κ t`` (``m0 e^{2κt}`` at depth 2), then exactly 1."""
    with mpmath.workdps(60):
        t, m0, p, r = (mpf(v) for v in (t, m0, p, r))
        a, k = mpf(2) / L - 1, L * p * r ** (mpf(2) / L)
        if L == 2:
            m = m0 * mpmath.exp(k * t)
        else:
            base = m0**a + a * k * t
            m = base ** (1 / a) if base > 0 else mpmath.inf
        return min(m, mpf(1))


def hinge_time_closed(m0, m, k, L):
    """THEORY's hinge time ``(m^a − m0^a)/(a L κ)`` (``ln(m/m0)/(2κ)`` at depth 2), mpf arguments, ``k = κ``."""
    a = mpf(2) / L - 1
    return mpmath.log(m / m0) / (L * k) if L == 2 else (m**a - m0**a) / (a * L * k)


def crossing_ref(m0, delta, p, r, loss):
    """``∫_{m0}^{0} dx/(p r g(x) √(r²Δ² + 4x²))`` by quadrature, pieces growing by 4 from the kink of width rΔ at 0."""
    with mpmath.workdps(DPS):
        m0, delta, p, r = (mpf(v) for v in (m0, delta, p, r))
        b = r * delta
        g_inv = (lambda x: 1 + mpmath.exp(x)) if loss == "logistic" else (lambda x: 1)
        pts, x = [mpf(0)], b / 100
        while x < -m0:
            pts.append(-x)
            x *= 4
        return mpmath.quad(lambda x: g_inv(x) / (p * r * mpmath.sqrt(b**2 + 4 * x**2)), sorted(pts + [m0]))


def inflection_ref(L):
    """The root of ``m σ(m) = 2 − 2/L`` (mpmath.findroot, from 2)."""
    with mpmath.workdps(DPS + 10):
        c = 2 - mpf(2) / L
        return mpmath.findroot(lambda x: x / (1 + mpmath.exp(-x)) - c, 2)


def starved_ref(m10, m20, r1, r2, q, P, L):
    """THEORY: feature 2 stops where ``m1 + m2 = 1``, i.e. it reaches ``y`` when feature 1 reaches ``1 − y``:
    ``t(m20 → y; qP, r2) = t(m10 → 1 − y; P, r1)`` with the hinge times, solved by mpmath.findroot on the bracket."""
    with mpmath.workdps(DPS + 10):
        m10, m20, r1, r2, q, P = (mpf(v) for v in (m10, m20, r1, r2, q, P))
        k1, k2 = P * r1 ** (mpf(2) / L), q * P * r2 ** (mpf(2) / L)
        g = lambda y: hinge_time_closed(m20, y, k2, L) - hinge_time_closed(m10, 1 - y, k1, L)  # noqa: E731
        y = mpmath.findroot(g, (m20, 1 - m10), solver="anderson", tol=mpf(10) ** (-2 * DPS), verify=False)
        assert m20 <= y <= 1 - m10
        return y


# ------------------------------------------------------------------------------------------ derivations


def test_every_result_is_derived_with_a_proof_saying_how() -> None:
    for name in FAMILY5:
        d = derivation(name)
        assert d.proof, name
        for step in d.proof:
            # every step is symbolic or numeric, or states that SymPy left an integral without elementary antiderivative
            assert step.method.startswith(("symbolic", "numeric", "SymPy integrate returns it unevaluated")), (name, step)
        claims = " | ".join(s.claim for s in d.proof)
        assert "independent reference" in claims, name


def test_mode_time_closed_forms_are_derived_per_depth() -> None:
    d = derivation("classification_mode_time")
    logistic, hinge = d.parts
    assert (logistic.name, hinge.name) == ("classification_mode_time_logistic", "classification_mode_time_hinge")
    s = d.result.symbols
    m0, m, p, r, L = (s[k] for k in ("m0", "m", "p", "r", "depth"))
    # logistic: depth 1 elementary, depth 2 Ei, deeper incomplete gamma (and erfc at depth 4)
    assert sp.simplify(logistic.per_integer[1] - (m - m0 + sp.exp(m) - sp.exp(m0)) / (p * r**2)) == 0
    assert sp.simplify(logistic.per_integer[2] - (sp.log(m) + sp.Ei(m) - sp.log(m0) - sp.Ei(m0)) / (2 * p * r)) == 0
    assert logistic.per_integer[3].has(sp.uppergamma) and logistic.per_integer[4].has(sp.erfc)
    assert logistic.generic.has(sp.lowergamma)
    # the generic (incomplete-gamma) form at depths it was not derived for is the defining integral
    for depth, (a0, a1, ap, ar) in ((7, ("1e-3", "2.5", "0.3", "2")), (64, ("0.2", "40", "1", "0.01"))):
        value = sp.N(logistic.generic.subs({L: depth, m0: sp.Float(a0, 40), m: sp.Float(a1, 40), p: sp.Float(ap, 40),
                                            r: sp.Float(ar, 40)}), 30)
        ref = time_ref(a0, a1, ap, ar, depth, "logistic")
        with mpmath.workdps(DPS):
            re, im = (mpf(str(v)) for v in value.as_real_imag())
            assert abs(re - ref) <= mpf(10) ** -20 * ref and abs(im) <= mpf(10) ** -20 * ref, (depth, re, im, ref)
    # hinge: the power law, infinite beyond the stop at m = 1
    assert sp.simplify(hinge.per_integer[1].args[0].expr - (m - m0) / (p * r**2)) == 0
    assert sp.simplify(sp.expand_log(hinge.per_integer[2].args[0].expr - sp.log(m / m0) / (2 * p * r), force=True)) == 0
    a = sp.Integer(2) / L - 1
    assert sp.simplify(hinge.generic.args[0].expr - (m**a - m0**a) / (a * L * p * r ** (2 / L))) == 0
    for k, closed in hinge.per_integer.items():
        assert closed.subs({m: sp.Rational(3, 2), m0: sp.Rational(1, 2), p: 1, r: 1}) == sp.oo, k
    claims = " | ".join(f"{st.claim} — {st.method}" for st in d.proof)
    for loss in ("logistic", "hinge"):
        for k in (1, 2):
            assert f"{loss}: depth = {k}: the derived form equals the published form — symbolic" in claims
        assert f"{loss}: depth in [12, 17, 33, 64]: the emitted closed form equals the defining integral" in claims


def test_hinge_stop_is_derived_at_exactly_one() -> None:
    stop = derivation("hinge_stopping_time")
    traj = derivation("classification_mode_trajectory").parts[1]
    assert traj.name == "classification_mode_trajectory_hinge"
    s = traj.result.symbols
    m0, p, r, t, L = (s[k] for k in ("m0", "p", "r", "t", "depth"))
    ss = stop.result.symbols
    same = {ss["m0"]: m0, ss["p"]: p, ss["r"]: r, ss["depth"]: L}
    forms = [(k, traj.per_integer[k], stop.per_integer[k]) for k in (1, 2, 3, 4)] + [("generic", traj.generic, stop.generic)]
    for k, inverse, t_stop in forms:
        (moving, condition), (held, _) = inverse.args
        assert held == 1, k                                             # exactly 1 from the stop on
        assert sp.simplify(condition.rhs - t_stop.xreplace(same)) == 0, k  # ... which is hinge_stopping_time
    assert sp.simplify(stop.per_integer[1] - (1 - ss["m0"]) / (ss["p"] * ss["r"] ** 2)) == 0
    assert sp.simplify(stop.per_integer[2] - sp.log(1 / ss["m0"]) / (2 * ss["p"] * ss["r"])) == 0
    # the generated functions: a margin above 1 takes forever; from the stop on the margin is exactly 1
    time, trajectory = fn("classification_mode_time"), fn("classification_mode_trajectory")
    for depth in DEPTHS:
        assert float(time(m0=0.5, m=1.0 + 2**-52, p=0.5, r=1.0, depth=depth, loss="hinge")) == math.inf
        assert float(time(m0=1e-12, m=1e5, p=0.5, r=1.0, depth=depth, loss="hinge")) == math.inf
        assert math.isfinite(float(time(m0=0.5, m=1.0, p=0.5, r=1.0, depth=depth, loss="hinge")))
        t_stop = float(fn("hinge_stopping_time")(m0=1e-3, p=0.5, r=1.0, depth=depth))
        for t_ in (t_stop, t_stop * (1 + 1e-12), 2 * t_stop, 1e9):
            assert float(trajectory(t=t_, m0=1e-3, p=0.5, r=1.0, depth=depth, loss="hinge")) == 1.0
        before = float(trajectory(t=t_stop * (1 - 1e-6), m0=1e-3, p=0.5, r=1.0, depth=depth, loss="hinge"))
        assert before < 1.0 and close(before, hinge_trajectory_ref(t_stop * (1 - 1e-6), 1e-3, 0.5, 1.0, depth))
        assert float(trajectory(t=1e9, m0=1e-3, p=0.5, r=1.0, depth=depth, loss="logistic")) > 1.0  # logistic: no stop


def test_logistic_trajectory_at_depth_one_is_the_lambert_w_form() -> None:
    d = derivation("classification_mode_trajectory").parts[0]
    s = d.result.symbols
    t, m0, p, r = (s[k] for k in ("t", "m0", "p", "r"))
    y = p * r**2 * t + m0 + sp.exp(m0)
    assert sp.simplify(d.per_integer[1] - (y - sp.LambertW(sp.exp(y)))) == 0
    assert any("LambertW" in st.claim and st.method.startswith("symbolic") for st in d.proof)


@pytest.mark.parametrize("depth", [2, 3, 7, 64, 10**6])
def test_margin_inflection_solves_m_sigma_m(depth) -> None:
    d = derivation("margin_inflection")
    (name, margin), _ = d.outputs
    assert name == "margin"
    L = d.result.symbols["depth"]
    c = 2 - sp.Integer(2) / L
    assert sp.simplify(margin - (c + sp.LambertW(c * sp.exp(-c)))) == 0          # THEORY's c + W₀(c e^{−c})
    ref = inflection_ref(depth)
    with mpmath.workdps(DPS + 10):
        derived = mpf(str(sp.N(margin.subs(L, depth), DPS + 10)))
        assert abs(derived - ref) <= mpf(10) ** -DPS * ref
    got = fn("margin_inflection")(m0=0.1, p=0.5, r=1.0, depth=depth).margin
    assert close(got, ref), (float(got), ref)
    if depth == 2:  # 1 + W₀(1/e)
        with mpmath.workdps(DPS + 10):
            assert abs(ref - (1 + mpmath.lambertw(mpmath.exp(-1)).real)) < mpf(10) ** -DPS


def test_margin_inflection_is_where_the_rate_peaks() -> None:
    """d²m/dt² = rate′(m) rate(m) = 0: the rate of the mode equation is largest at m*, at every depth ≥ 2."""
    for depth in (2, 3, 7, 64):
        ms = inflection_ref(depth)
        with mpmath.workdps(DPS):
            peak = rate(ms, 1, 1, depth, "logistic")
            assert rate(ms * (1 - mpf(10) ** -6), 1, 1, depth, "logistic") < peak
            assert rate(ms * (1 + mpf(10) ** -6), 1, 1, depth, "logistic") < peak
            assert abs(mpmath.diff(lambda x: rate(x, 1, 1, depth, "logistic"), ms)) < mpf(10) ** -20


STARVED_CASES = [  # (m10, m20, r1, r2, q, P)
    (1e-12, 1e-12, 1.0, 1.0, 0.5, 0.5),
    (1e-3, 1e-12, 1e2, 1e-2, 1e-3, 1.0),
    (1e-12, 1e-3, 1e-2, 1e2, 1.0, 1e-3),
    (0.1, 0.1, 1.0, 2.0, 0.3, 0.7),
    (0.3, 0.7, 1.0, 1.0, 0.5, 0.5),            # m10 + m20 = 1: nothing left to learn, m2 = m20
    (0.5, 0.5 - 1e-9, 2.0, 0.5, 0.2, 1.0),
    (1e-12, 1 - 1e-6, 1.0, 1.0, 1e-3, 1e-3),
]


def test_starved_margin_is_theory_at_depths_one_and_two() -> None:
    f = fn("starved_margin")
    for m10, m20, r1, r2, q, P in STARVED_CASES:
        got1 = f(m10=m10, m20=m20, r1=r1, r2=r2, q=q, class_fraction=P, depth=1)
        with mpmath.workdps(DPS):
            M10, M20, R1, R2, Q = (mpf(v) for v in (m10, m20, r1, r2, q))
            closed = M20 + Q * R2**2 * (1 - M10 - M20) / (R1**2 + Q * R2**2)      # THEORY, depth 1
        assert close(got1, closed), (m10, m20, float(got1), closed)
        got2 = f(m10=m10, m20=m20, r1=r1, r2=r2, q=q, class_fraction=P, depth=2)
        with mpmath.workdps(DPS + 10):
            M10, M20, R1, R2, Q, PP = (mpf(v) for v in (m10, m20, r1, r2, q, P))
            eq = lambda T: M10 * mpmath.exp(2 * R1 * PP * T) + M20 * mpmath.exp(2 * R2 * Q * PP * T) - 1  # noqa: E731
            hi = mpmath.log(1 / M10) / (2 * R1 * PP)                               # feature 1 alone reaches 1 there
            T1 = mpmath.findroot(eq, (mpf(0), hi), solver="ridder", tol=mpf(10) ** (-2 * DPS), verify=False)
            assert abs(eq(T1)) < mpf(10) ** (10 - DPS)
            m2 = M20 * mpmath.exp(2 * R2 * Q * PP * T1)
        assert close(got2, m2), (m10, m20, float(got2), m2)
        # the control: the rare feature alone reaches 1; starved, it stops below 1 − m10
        assert float(got1) <= 1 - m10 and float(got2) <= 1 - m10


# ------------------------------------------------------------------------------------ wrong derivations fail


def _fast(definition, **changes):
    """The definition derived for depths 1 and 2 only (the failing step comes first)."""
    return dataclasses.replace(definition, derive_for=(1, 2), generic=False, **changes)


def test_hinge_stop_off_by_a_factor_fails_loudly() -> None:
    r = declaration("hinge_stopping_time")
    m0, p, rr = (r.symbols[k] for k in ("m0", "p", "r"))
    wrong = ((1, (1 - m0) / (p * rr**2)), (2, sp.log(1 / m0) / (p * rr)))           # depth 2 without its 1/2
    with pytest.raises(DerivationError, match="depth = 2: the derived form equals the published form"):
        derive_result(dataclasses.replace(r, definition=_fast(r.definition, published=wrong)), independent=False)


def test_hinge_stop_with_a_wrong_implementation_fails_loudly() -> None:
    r = declaration("hinge_stopping_time")
    wrong = dataclasses.replace(r, definition=_fast(r.definition), implementation=sp.Rational(101, 100) * r.implementation)
    with pytest.raises(DerivationError, match=r"numeric check failed .* \(relative 0\.0099"):
        derive_result(wrong, independent=False)


@pytest.mark.parametrize("depth,wrong", [
    (2, lambda m0, m, p, r: (sp.log(m) - sp.Ei(m) - sp.log(m0) + sp.Ei(m0)) / (2 * p * r)),   # Ei with the wrong sign
    (1, lambda m0, m, p, r: (m + sp.exp(m) - m0 - sp.exp(m0)) / (p * r)),                    # r where THEORY has r²
    (1, lambda m0, m, p, r: (m + sp.exp(m) - m0 - sp.exp(m0)) / (2 * p * r**2)),             # off by a factor 2
])
def test_logistic_time_with_a_wrong_published_form_fails_loudly(depth, wrong) -> None:
    r = declaration("classification_mode_time")
    s = r.symbols
    by_choice = r.definition
    (value, (separable,)), _ = by_choice.cases
    assert value == "logistic"
    published = dict(separable.published)
    published[depth] = wrong(s["m0"], s["m"], s["p"], s["r"])
    one = dataclasses.replace(by_choice, cases=(("logistic", (_fast(separable, published=tuple(published.items())),)),))
    with pytest.raises(DerivationError, match=f"depth = {depth}: the derived form equals the published form"):
        derive_result(dataclasses.replace(r, definition=one), independent=False)


def test_starved_margin_with_a_wrong_published_form_fails_loudly() -> None:
    r = declaration("starved_margin")
    s = r.symbols
    m10, m20, r1, r2, q = (s[k] for k in ("m10", "m20", "r1", "r2", "q"))
    registry = {}
    for d in derivations("classification"):
        registry[d.name] = d
        registry.update({part.name: part for part in d.parts})
    depth1, depth2 = r.definition.published
    wrong = (depth1[0], m20 + q * r2 * (1 - m10 - m20) / (r1 + q * r2))              # norms where THEORY has squares
    bad = dataclasses.replace(r, definition=dataclasses.replace(r.definition, published=(wrong, depth2)))
    with pytest.raises(DerivationError, match="published form"):
        derive_result(bad, registry, independent=False)


# ------------------------------------------------------------------------------ generated functions


PR = [(1e-3, 1e-2), (1.0, 1e2), (0.3, 1.0)]   # (p, r): both test-range extremes, and an interior point
TIME_CASES = [  # (m0, m): the margin ranges THEORY's results are held to
    (1e-12, 1e-12 * (1 + 1e-9)),   # t → 0 from a tiny start
    (1e-12, 1e-6),
    (1e-12, 0.5),
    (1e-12, 1.0),
    (0.3, 0.3 + 1e-10),
    (0.5, 0.5),                    # t = 0
    (1.0, 1.0),
]
LOGISTIC_TAIL = [  # far into the tail: e^m overflows float64 from 710, Ei(m) likewise; the time overflows later
    (1e-12, 50.0),
    (0.5, 500.0),
    (1e-3, 715.0),                 # e^715 = 3e310, but the time is finite (p = 1, r = 100)
    (100.0, 100.0 + 1e-9),
]
OVERFLOWING = [(2.0, 1e4), (1e-12, 1e5), (1e3, 1e4 * (1 + 1e-15)), (0.5, 1e300), (1.0, 1.7e308)]   # times beyond float64


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
@pytest.mark.parametrize("depth", DEPTHS)
def test_mode_time_is_exact(depth, loss) -> None:
    f = fn("classification_mode_time")
    cases = TIME_CASES + (LOGISTIC_TAIL if loss == "logistic" else [(0.5, 1.5), (1e-12, 1e5)])
    for i, (m0, m) in enumerate(cases):
        p, r = (1.0, 1e2) if m == 715.0 else PR[i % len(PR)]
        ref = time_ref(m0, m, p, r, depth, loss)
        got = f(m0=m0, m=m, p=p, r=r, depth=depth, loss=loss)
        assert close(got, ref), (m0, m, p, r, float(got), mpmath.nstr(ref, 20))
    if loss == "logistic":
        for m0, m in OVERFLOWING:
            for p, r in PR[:2]:
                assert time_lower_bound(m, p, r, depth) > FLOAT_MAX           # the true time is beyond float64
                assert float(f(m0=m0, m=m, p=p, r=r, depth=depth, loss=loss)) == math.inf


@pytest.mark.parametrize("t", [0.0, 1e-300, 1e-6, 1.0, 1e3, 1e9])
def test_logistic_trajectory_at_depth_one_near_the_limits_of_lambert_w(t) -> None:
    """Tiny t (m − m0 far below m0's ulp at m0 = 100), huge t (κt = 1e13: e^{κt + C} overflows), tiny m0."""
    f = fn("classification_mode_trajectory")
    for m0 in (1e-12, 1e-3, 0.5, 10.0, 100.0):
        for p, r in PR:
            got = f(t=t, m0=m0, p=p, r=r, depth=1, loss="logistic")
            ref = lambert_ref(t, m0, p, r)
            assert close(got, ref), (t, m0, p, r, float(got), mpmath.nstr(ref, 20))


TRAJECTORY_CASES = [  # (m0, the margin whose time is the t of the check)
    (1e-12, 1e-12 * (1 + 1e-9)),   # tiny t
    (1e-12, 1e-6),                 # deep: ill conditioned, κ_c = t m′/m up to 1e11 from m0 = 1e-12
    (1e-12, 0.5),
    (1e-12, 0.999),                # hinge: next to the stop
    (0.5, 0.9),
]


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
@pytest.mark.parametrize("depth", [2, 3, 7, 64])
def test_trajectory_inverts_the_defining_integral(depth, loss) -> None:
    f = fn("classification_mode_trajectory")
    cases = TRAJECTORY_CASES + ([(1e-3, 50.0), (0.5, 100.0)] if loss == "logistic" else [])   # t up to ~1e45
    for i, (m0, target) in enumerate(cases):
        p, r = PR[i % 2]
        t = float(time_ref(m0, target, p, r, depth, loss))
        ref = trajectory_ref(t, m0, p, r, depth, loss, target)
        got = f(t=t, m0=m0, p=p, r=r, depth=depth, loss=loss)
        assert close(got, ref), (m0, target, p, r, t, float(got), mpmath.nstr(ref, 20))


@pytest.mark.parametrize("depth", [1, 3, 64])
def test_logistic_trajectory_far_in_the_tail(depth) -> None:
    """Times of 1e211 and 1e299 (margins 500 and 690, where e^m and Ei(m) overflow on the way to them): the solve
    brackets the root through margins whose time is beyond float64."""
    f = fn("classification_mode_trajectory")
    m0, target, (p, r) = (0.5, 500.0, PR[0]) if depth == 64 else (1e-12, 690.0, PR[1])
    t = float(time_ref(m0, target, p, r, depth, "logistic"))
    ref = lambert_ref(t, m0, p, r) if depth == 1 else trajectory_ref(t, m0, p, r, depth, "logistic", target)
    got = f(t=t, m0=m0, p=p, r=r, depth=depth, loss="logistic")
    assert close(got, ref), (m0, target, p, r, t, float(got), mpmath.nstr(ref, 20))


@pytest.mark.parametrize("depth", DEPTHS)
def test_hinge_trajectory_is_the_power_law_up_to_the_stop(depth) -> None:
    f = fn("classification_mode_trajectory")
    for m0 in (1e-12, 1e-3, 0.5, 1 - 1e-12, 1.0):
        for p, r in PR[:2]:
            stop = hinge_time_closed(mpf(m0), mpf(1), mpf(p) * mpf(r) ** (mpf(2) / depth), depth)
            for t in (0.0, 1e-6, float(stop) * 0.5, float(stop) * (1 - 1e-9), float(stop) * 2, 1e9):
                got = f(t=t, m0=m0, p=p, r=r, depth=depth, loss="hinge")
                ref = hinge_trajectory_ref(t, m0, p, r, depth)
                assert close(got, ref), (m0, p, r, t, float(got), mpmath.nstr(ref, 20))


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_wrong_sign_crossing_time_is_exact(loss) -> None:
    f = fn("wrong_sign_crossing_time")
    i = 0
    for m0 in (-1e-12, -1e-6, -1.0, -44.0, -46.0, -100.0):   # the quadrature switches pieces at −1 and −46
        for delta in (1e-6, 1e-2, 1e2):
            p, r = PR[i % len(PR)]
            i += 1
            ref = crossing_ref(m0, delta, p, r, loss)
            got = f(m0=m0, delta=delta, p=p, r=r, loss=loss)
            assert close(got, ref), (m0, delta, p, r, float(got), mpmath.nstr(ref, 20))
            if loss == "hinge":  # THEORY's closed form
                with mpmath.workdps(DPS):
                    assert close(got, mpmath.asinh(-2 * mpf(m0) / (mpf(r) * mpf(delta))) / (2 * mpf(p) * mpf(r)))


@pytest.mark.parametrize("depth", DEPTHS)
def test_hinge_stopping_time_is_exact(depth) -> None:
    f = fn("hinge_stopping_time")
    for m0 in (1e-12, 1e-3, 0.5, 1 - 1e-6, 1 - 1e-12, 1 - 2**-53):
        for p, r in PR[:2]:
            got = f(m0=m0, p=p, r=r, depth=depth)
            ref = time_ref(m0, 1.0, p, r, depth, "hinge")
            assert close(got, ref), (m0, p, r, float(got), mpmath.nstr(ref, 20))
            if depth in (1, 2):  # THEORY: (1 − m0)/(p r²) and ln(1/m0)/(2pr)
                with mpmath.workdps(DPS):
                    M0, P, R = mpf(m0), mpf(p), mpf(r)
                    assert close(got, (1 - M0) / (P * R**2) if depth == 1 else mpmath.log(1 / M0) / (2 * P * R))
    assert float(f(m0=1.0, p=0.5, r=1.0, depth=depth)) == 0.0                   # m0 → 1: the time → 0


@pytest.mark.parametrize("depth", [2, 3, 7, 64])
def test_margin_inflection_time_is_exact_also_next_to_the_inflection(depth) -> None:
    f = fn("margin_inflection")
    ms = inflection_ref(depth)
    near = [float(ms * (1 - mpf(10) ** -9)), float(ms), math.nextafter(float(ms), 3.0), float(ms * (1 + mpf(10) ** -5))]
    for i, m0 in enumerate([1e-12, 1e-3, 0.5, 10.0, 100.0] + near):
        p, r = PR[i % len(PR)]
        got = f(m0=m0, p=p, r=r, depth=depth)
        ref = time_ref(m0, ms, p, r, depth, "logistic")           # to m* itself, not to the float nearest it
        assert close(got.time, ref), (m0, p, r, float(got.time), mpmath.nstr(ref, 20))
        assert (float(got.time) < 0) == (m0 > ms)                  # negative past the inflection


@pytest.mark.parametrize("depth", DEPTHS)
def test_starved_margin_is_exact(depth) -> None:
    f = fn("starved_margin")
    for case in STARVED_CASES:
        got = f(m10=case[0], m20=case[1], r1=case[2], r2=case[3], q=case[4], class_fraction=case[5], depth=depth)
        ref = starved_ref(*case, depth)
        assert close(got, ref), (case, float(got), mpmath.nstr(ref, 20))


# ------------------------------------------------------------------------------------------- gradients


def _gradcheck(f, *values):
    inputs = tuple(leaf(v) for v in values)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_gradcheck_time_and_trajectory(depth, loss) -> None:
    time, traj = fn("classification_mode_time"), fn("classification_mode_trajectory")
    _gradcheck(lambda m0, m, p, r: time(m0=m0, m=m, p=p, r=r, depth=depth, loss=loss), 0.2, 0.6, 0.5, 1.3)
    stop = float(time(m0=0.2, m=1.0, p=0.5, r=1.3, depth=depth, loss=loss))
    _gradcheck(lambda t, m0, p, r: traj(t=t, m0=m0, p=p, r=r, depth=depth, loss=loss), 0.4 * stop, 0.2, 0.5, 1.3)


def test_gradcheck_stop_inflection_crossing_starved() -> None:
    _gradcheck(lambda m0, p, r: fn("hinge_stopping_time")(m0=m0, p=p, r=r, depth=3), 0.2, 0.5, 1.3)
    _gradcheck(lambda m0, p, r: fn("margin_inflection")(m0=m0, p=p, r=r, depth=3).time, 0.2, 0.5, 1.3)
    for loss in ("logistic", "hinge"):
        _gradcheck(lambda m0, d, p, r: fn("wrong_sign_crossing_time")(m0=m0, delta=d, p=p, r=r, loss=loss),
                   -0.7, 0.3, 0.5, 1.3)
    for depth in (1, 2, 3):
        _gradcheck(lambda a, b, c, d, e, g: fn("starved_margin")(m10=a, m20=b, r1=c, r2=d, q=e, class_fraction=g,
                                                                 depth=depth), 0.05, 0.02, 1.2, 0.8, 0.4, 0.6)


def _grad_close(g, ref) -> bool:
    """A gradient to the value bound, or ``±inf`` where the true derivative is beyond float64."""
    g = float(g)
    if abs(ref) > FLOAT_MAX:
        return g == math.copysign(math.inf, ref)
    return math.isfinite(g) and abs(mpf(g) - ref) <= RTOL * abs(ref) + ATOL


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_time_gradients_at_the_extremes(loss) -> None:
    """dt/dm = 1/rate(m), dt/dm0 = −1/rate(m0), dt/dp = −t/p, dt/dr = −(2/L) t/r (the time scales as 1/(p r^{2/L}))."""
    f = fn("classification_mode_time")
    cases = [(1e-12, 1e-12 * (1 + 1e-9)), (1e-12, 0.5), (1e-12, 1.0 - 1e-12), (1e-3, 50.0), (0.5, 500.0), (1e-3, 715.0)]
    for depth in DEPTHS:
        for i, (m0, m) in enumerate(cases):
            if loss == "hinge" and m > 1:
                continue
            p, r = PR[i % 2] if m != 715.0 else (1e-3, 1e-2)
            args = [leaf(v) for v in (m0, m, p, r)]
            t = f(m0=args[0], m=args[1], p=args[2], r=args[3], depth=depth, loss=loss)
            grads = torch.autograd.grad(t, args)
            with mpmath.workdps(DPS):
                M0, M, P, R = (mpf(v) for v in (m0, m, p, r))
                T = time_ref(m0, m, p, r, depth, loss)
                refs = (-1 / rate(M0, P, R, depth, loss), 1 / rate(M, P, R, depth, loss), -T / P, -2 * T / (depth * R))
            for name, g, ref in zip(("m0", "m", "p", "r"), grads, refs):
                assert _grad_close(g, ref), (depth, m0, m, p, r, name, float(g), mpmath.nstr(ref, 17))


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_trajectory_gradients_at_the_extremes(loss) -> None:
    """dm/dt = rate(m), dm/dm0 = rate(m)/rate(m0), dm/dp = (t/p) rate(m), dm/dr = (2/L)(t/r) rate(m), at the exact
    margin; 0 under hinge loss from the stop on."""
    f = fn("classification_mode_trajectory")
    for depth in DEPTHS:
        for i, (m0, t) in enumerate([(1e-12, 1e-6), (1e-12, 1e3), (0.5, 1e-6), (0.5, 10.0), (1e-3, 1e9),
                                     (100.0 if loss == "logistic" else 1 - 1e-12, 1e-300)]):
            p, r = PR[i % 2]
            args = [leaf(v) for v in (t, m0, p, r)]
            m = f(t=args[0], m0=args[1], p=args[2], r=args[3], depth=depth, loss=loss)
            grads = torch.autograd.grad(m, args)
            if loss == "hinge" and m.item() == 1.0:
                assert all(float(g) == 0.0 for g in grads)
                continue
            with mpmath.workdps(DPS):
                M, M0, P, R, T = (mpf(v) for v in (m.item(), m0, p, r, t))   # m exact to 1e-12 (tested above)
                rm = rate(M, P, R, depth, loss)
                refs = (rm, rm / rate(M0, P, R, depth, loss), T / P * rm, 2 * T / (depth * R) * rm)
            for name, g, ref in zip(("t", "m0", "p", "r"), grads, refs):
                # the reference at the float value of m: 1e-12 relative covers its rounding (rate′/rate is moderate)
                assert math.isfinite(float(g)) and abs(mpf(float(g)) - ref) <= 2 * RTOL * abs(ref) + ATOL, \
                    (depth, m0, t, p, r, name, float(g), mpmath.nstr(ref, 17))


def test_stop_crossing_inflection_gradients_at_the_extremes() -> None:
    for depth in DEPTHS:
        for m0 in (1e-12, 0.5, 1 - 1e-12):
            for p, r in PR[:2]:
                args = [leaf(v) for v in (m0, p, r)]
                g = torch.autograd.grad(fn("hinge_stopping_time")(m0=args[0], p=args[1], r=args[2], depth=depth), args)
                with mpmath.workdps(DPS):
                    assert _grad_close(g[0], -1 / rate(mpf(m0), mpf(p), mpf(r), depth, "hinge"))
                    assert all(math.isfinite(float(x)) for x in g)
    for depth in (2, 7, 64):
        ms = inflection_ref(depth)
        for m0 in (1e-12, float(ms), 100.0):
            args = [leaf(v) for v in (m0, 1e-3, 1e-2)]
            g = torch.autograd.grad(fn("margin_inflection")(m0=args[0], p=args[1], r=args[2], depth=depth).time, args)
            with mpmath.workdps(DPS):
                assert _grad_close(g[0], -1 / rate(mpf(m0), mpf(1e-3), mpf(1e-2), depth, "logistic"))
            assert all(math.isfinite(float(x)) for x in g[1:])
    for loss in ("logistic", "hinge"):
        for m0 in (-1e-12, -1.0, -100.0):
            for delta in (1e-6, 1e2):
                for p, r in PR[:2]:
                    args = [leaf(v) for v in (m0, delta, p, r)]
                    t = fn("wrong_sign_crossing_time")(m0=args[0], delta=args[1], p=args[2], r=args[3], loss=loss)
                    g = torch.autograd.grad(t, args)
                    with mpmath.workdps(DPS):
                        M0, D, P, R = (mpf(v) for v in (m0, delta, p, r))
                        g_inv = 1 + mpmath.exp(M0) if loss == "logistic" else 1
                        ref = -g_inv / (P * R * mpmath.sqrt((R * D) ** 2 + 4 * M0**2))   # −1/rate(m0)
                    assert _grad_close(g[0], ref), (loss, m0, delta, p, r, float(g[0]), ref)
                    assert all(math.isfinite(float(x)) for x in g)


@pytest.mark.parametrize("depth", DEPTHS)
def test_starved_margin_gradients_at_the_extremes(depth) -> None:
    """By the implicit function theorem on F(y) = t2(m20 → y) − t1(m10 → 1 − y) = 0: dy/dθ = −(∂F/∂θ)/(∂F/∂y), at the
    exact root. The generated function evaluates them at the float root y, through t2 = t(m20 → y), t1 = t(m10 → 1 − y)
    and the rates at y and 1 − y: the rounding of y (ε relative) is amplified by K = max(y/(y − m20), y/(1 − y − m10))
    where y hardly leaves m20 or 1 − y hardly leaves m10 (2.6e-6 relative where y − m20 = 1e-10 y). That much, and no
    more, is allowed on top of 1e-12 (K is about 1 away from those ends)."""
    f = fn("starved_margin")
    eps = torch.finfo(torch.float64).eps
    for case in STARVED_CASES[:4]:
        args = [leaf(v) for v in case]
        y = f(m10=args[0], m20=args[1], r1=args[2], r2=args[3], q=args[4], class_fraction=args[5], depth=depth)
        grads = torch.autograd.grad(y, args)
        assert all(math.isfinite(float(g)) for g in grads)
        with mpmath.workdps(DPS + 10):
            Y = starved_ref(*case, depth)
            M10, M20, R1, R2, Q, P = (mpf(v) for v in case)
            k1, k2 = P * R1 ** (mpf(2) / depth), Q * P * R2 ** (mpf(2) / depth)
            T = hinge_time_closed(M20, Y, k2, depth)                 # = t1(m10 → 1 − Y) at the exact root
            speed = lambda m, k: depth * k * m ** (2 - mpf(2) / depth)  # noqa: E731
            dF_dy = 1 / speed(Y, k2) + 1 / speed(1 - Y, k1)
            K = max(Y / (Y - M20), Y / (1 - Y - M10))
            checks = (("m10", 1 / speed(M10, k1)), ("m20", -1 / speed(M20, k2)), ("r1", 2 * T / (depth * R1)),
                      ("r2", -2 * T / (depth * R2)), ("q", -T / Q))
        for (name, dF), g in zip(checks, grads):
            ref = -dF / dF_dy
            bound = (RTOL + 8 * eps * K) * abs(ref)
            assert abs(mpf(float(g)) - ref) <= bound, (depth, case, name, float(g), mpmath.nstr(ref, 17))
        # the class fraction cancels (both times scale as 1/P): 0 up to the same rounding of t1 − t2
        scale = T / (P * dF_dy)
        assert abs(float(grads[5])) <= (RTOL + 8 * eps * K) * scale, (depth, case, float(grads[5]))


# --------------------------------------------------------------------------------------------- domains


@pytest.mark.parametrize("name,kwargs,param", [
    ("classification_mode_time", dict(m0=0.5, m=0.4, p=0.5, r=1.0, depth=2, loss="logistic"), "m"),
    ("classification_mode_time", dict(m0=1.5, m=2.0, p=0.5, r=1.0, depth=2, loss="hinge"), "m0"),
    ("classification_mode_time", dict(m0=0.1, m=0.2, p=-0.5, r=1.0, depth=2, loss="hinge"), "p"),
    ("classification_mode_time", dict(m0=0.1, m=0.2, p=0.5, r=1.0, depth=2, loss="squared"), "loss"),
    ("classification_mode_time", dict(m0=0.1, m=0.2, p=0.5, r=1.0, depth=0, loss="hinge"), "depth"),
    ("classification_mode_trajectory", dict(t=1.0, m0=1.5, p=0.5, r=1.0, depth=2, loss="hinge"), "m0"),
    ("classification_mode_trajectory", dict(t=-1.0, m0=0.5, p=0.5, r=1.0, depth=2, loss="logistic"), "t"),
    ("classification_mode_trajectory", dict(t=1.0, m0=0.5, p=-1e-3, r=1.0, depth=2, loss="logistic"), "p"),
    ("hinge_stopping_time", dict(m0=1.5, p=0.5, r=1.0, depth=2), "m0"),
    ("margin_inflection", dict(m0=0.5, p=0.5, r=1.0, depth=1), "depth"),
    ("wrong_sign_crossing_time", dict(m0=0.5, delta=1.0, p=0.5, r=1.0, loss="hinge"), "m0"),
    ("wrong_sign_crossing_time", dict(m0=-0.5, delta=-1.0, p=0.5, r=1.0, loss="logistic"), "delta"),
    ("wrong_sign_crossing_time", dict(m0=-0.5, delta=1.0, p=0.5, r=1.0, loss="cross-entropy"), "loss"),
    ("starved_margin", dict(m10=0.6, m20=0.5, r1=1.0, r2=1.0, q=0.5, class_fraction=0.5, depth=2), "m20"),
    ("starved_margin", dict(m10=0.1, m20=0.1, r1=1.0, r2=1.0, q=1.5, class_fraction=0.5, depth=2), "q"),
])
def test_out_of_domain_input_names_the_parameter(name, kwargs, param) -> None:
    with pytest.raises(DomainError, match=rf"parameter '{param}' = .*(domain|must be one of)") as info:
        fn(name)(**kwargs)
    assert isinstance(info.value, ValueError)
    value = kwargs[param]
    assert repr(value) in str(info.value) or str(value) in str(info.value)


# --------------------------------------------------------------------------------------------- tier a


@pytest.mark.parametrize("name", FAMILY5)
def test_tier_a_passes_and_fails_on_one_percent(name: str) -> None:
    d = derivation(name)
    f = fn(name)
    examples = 1 if name == "wrong_sign_crossing_time" else 4   # its mpmath reference costs ~0.5 s a point
    ok = check_closed_form(d, f, examples=examples, seed=0)
    assert ok.passed, ok.failure
    if name == "margin_inflection":
        wrongs = [lambda **kw: f(**kw)._replace(time=1.01 * f(**kw).time),
                  lambda **kw: f(**kw)._replace(margin=1.01 * f(**kw).margin)]
    else:
        wrongs = [lambda **kw: 1.01 * f(**kw)]
    for wrong in wrongs:
        bad = check_closed_form(d, wrong, examples=examples, seed=0)
        assert not bad.passed and "relative error" in bad.failure, bad.failure
