"""Validity maps of families 2 (regularisation) and 5 (classification): the lr axis' protocol.

Where a map sets ``sizes["lr_lambda"] = v`` a check's simulation must run at ``lr = v/λ_max`` exactly, ``λ_max`` the
largest eigenvalue of the loss' Hessian at the optimum (classification, which has none: the rate scale ``L p r^{2/L}``
its ``KAPPA`` caps). The ``λ_max`` here are computed independently of the family module: by autograd on the explicit
losses of the simulated networks, on their actual data, at their optima. GD's first-order deviation from the flow
must grow with ``v``, the convergence probes must find GD's stability limit ``lr·λ_max = 2``, and a small map must
come out finite.
"""
from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.families import classification as cls
from learndyn.verify.families import regularisation as reg
from learndyn.verify.tier_b.cases import columns
from learndyn.verify.validity import validity_map
from learndyn.verify.validity.units import WorkUnit, evaluate_unit

F64 = torch.float64


def _check(module, result: str, title_part: str = ""):
    return next(c for c in module.SIMULATIONS if c.result == result and title_part in c.title)


def _top_eigenvalue(loss, params: list[torch.Tensor]) -> float:
    """The largest eigenvalue of the Hessian of ``loss(*params)`` over all entries of ``params``."""
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    flat = torch.cat([p.reshape(-1) for p in params]).detach()

    def f(x):
        return loss(*[c.view(s) for c, s in zip(torch.split(x, sizes), shapes)])

    return float(torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, flat)).max())


# -- lr = lr_lambda/λ_max exactly ------------------------------------------------------------------------------

def test_weight_decay_runs_at_lr_lambda_over_the_hessians_top_eigenvalue():
    """The decayed network's loss ``½ mean_p ‖y_p − W2 W1 x_p‖² + (γ/2)(‖W1‖² + ‖W2‖²)`` on the case's data, its
    Hessian at the optimum the run converges to (``W1 = R A Vᵀ``, ``W2 = U A Rᵀ``, ``A = √max(s − γ, 0)``)."""
    from learndyn.verify.simulate import whitened_dataset

    check = _check(reg, "weight_decay_trajectory")
    case = check.points[0]
    v = 0.5
    m = check.simulate(dict(case), {**check.sizes, "lr_lambda": v}, "cpu")
    lr = 1 / m.args["tau"].reshape(-1)
    data = whitened_dataset(case["s"], n_in=4, n_out=4, n_examples=8, seed=case["seed"], device="cpu")
    R = torch.linalg.qr(torch.randn(4, 3, dtype=F64, generator=torch.Generator().manual_seed(1)))[0]
    s = torch.tensor(case["s"], dtype=F64)
    for i, gamma in enumerate(case["gamma"]):
        a = (s - gamma).clamp(min=0).sqrt()
        W1, W2 = (R * a) @ data.V.T, (data.U * a) @ R.T

        def loss(w1, w2):
            r = data.Y - w2 @ w1 @ data.X
            return 0.5 * (r * r).sum() / data.X.shape[1] + 0.5 * gamma * ((w1 * w1).sum() + (w2 * w2).sum())

        lam = _top_eigenvalue(loss, [W1, W2])
        assert float(lr[i]) * lam == pytest.approx(v, rel=1e-9)


def test_autoencoder_runs_at_lr_lambda_over_the_hessians_top_eigenvalue():
    """The marginalised autoencoder ``½ mean_p ‖x_p − W x_p‖² + (eps/2)‖W‖² + (γ/2)(‖W1‖² + ‖W2‖²)``, ``W = W2 W1``,
    on the case's data at its optimum ``W1 = R A Qᵀ``, ``W2 = Q A Rᵀ``, ``A² = max((lam − γ)/(lam + eps), 0)``."""
    from learndyn.verify.simulate import covariance_dataset

    check = _check(reg, "dae_trajectory", "marginalised")
    case = check.points[0]
    v = 0.5
    m = check.simulate(dict(case), {**check.sizes, "lr_lambda": v}, "cpu")
    lr = 1 / m.args["tau"].reshape(-1)
    data = covariance_dataset(case["lam"], 4, 16, seed=case["seed"], device="cpu")
    X, P = data.X, data.X.shape[1]
    R = torch.linalg.qr(torch.randn(4, 3, dtype=F64, generator=torch.Generator().manual_seed(2)))[0]
    lam = torch.tensor(case["lam"], dtype=F64)
    for i, (eps, gamma) in enumerate(zip(case["eps"], case["gamma"])):
        a = ((lam - gamma) / (lam + eps)).clamp(min=0).sqrt()
        W1, W2 = (R * a) @ data.Q.T, (data.Q * a) @ R.T

        def loss(w1, w2):
            w = w2 @ w1
            r = X - w @ X
            return (0.5 * (r * r).sum() / P + 0.5 * eps * (w * w).sum()
                    + 0.5 * gamma * ((w1 * w1).sum() + (w2 * w2).sum()))

        top = _top_eigenvalue(loss, [W1, W2])
        assert float(lr[i]) * top == pytest.approx(v, rel=1e-9)


@pytest.mark.parametrize("result,variant", [("dropout_trajectory", "standard"),
                                            ("inverted_dropout_trajectory", "inverted")])
def test_dropout_runs_at_lr_lambda_over_the_active_steps_top_eigenvalue(result, variant):
    """An active step is GD on ``½ (s − w2 d w1)²`` (``d = 1``, or ``1/p`` inverted); its Hessian at the optimum
    ``w1 = w2 = √(s/d)``."""
    check = _check(reg, result)
    case = check.points[0]
    v = 0.7
    m = check.simulate(dict(case), {**check.sizes, "runs": 16, "lr_lambda": v}, "cpu")
    lr = 1 / m.args["tau"].reshape(-1)
    for i, pt in enumerate(case["points"]):
        s, p = pt["s"], pt["p"]
        d = 1.0 if variant == "standard" else 1 / p
        w = torch.full((1,), math.sqrt(s / d), dtype=F64)
        top = _top_eigenvalue(lambda w1, w2: 0.5 * (s - (w2 * d * w1).sum()) ** 2, [w, w.clone()])
        assert float(lr[i]) * top == pytest.approx(v, rel=1e-12)


def test_dropout_hitting_time_runs_at_lr_lambda_and_is_not_extrapolated():
    """The always-on step (``d = 1``) has Hessian ``2s`` at its optimum; in a map the measured time is the run at
    ``lr`` itself: with ``p = 1`` (no mask noise) it is the deterministic GD crossing time at ``lr``, which differs
    from the Richardson-extrapolated one by the first-order error, so the two sizes give different values."""
    check = _check(reg, "dropout_expected_time")
    case = dict(check.points[0])
    v = 0.4
    m = check.simulate(case, {**check.sizes, "runs": 50, "lr_lambda": v}, "cpu")
    s = columns(case["points"], "cpu")["s"]
    lr = 1 / m.args["tau"]
    assert torch.allclose(lr * 2 * s, torch.full_like(s, v), rtol=1e-12, atol=0)
    # at lr·λ = 0.4 the GD time is off the flow by several percent: the map's deviation sees it
    ev = evaluate_unit(WorkUnit("dropout_expected_time", 0, "lr", v, case, {**check.sizes, "runs": 50}))
    assert ev.error is None and ev.deviation > 0.02


def test_classification_runs_at_lr_lambda_over_the_rate_scale():
    """Each network's ``lr`` (its flow time per step) times ``max L p r^{2/L}`` over its features is ``v``; the
    wrong-sign and starvation runs likewise with their own rate scales."""
    check = _check(cls, "classification_mode_time")
    case = check.points[1]                                   # depth 2
    v = 0.6
    runs = cls.mode_runs(case, {**check.sizes, "lr_lambda": v}, "cpu")
    L = int(case["depth"])
    pts = case["points"]
    B = len(pts)
    for b in range(B):
        p1, p2 = pts[b]["p"], pts[(b + 1) % B]["p"]
        p2 = min(p2, 1 - p1)
        p2 = p2 if p2 >= p1 / 4 else 0.0
        rate = L * max(p1, p2) * pts[b]["r"] ** (2 / L)
        for net in (b, B + b):                                 # logistic, hinge
            lr = float(runs.coarse.t[1, net] - runs.coarse.t[0, net])
            assert lr * rate == pytest.approx(v, rel=1e-12)
            assert float(runs.fine.t[1, net] - runs.fine.t[0, net]) == pytest.approx(lr / 2, rel=1e-12)

    starved = _check(cls, "starved_margin").points[0]
    vals = {k: torch.tensor([float(x[k]) for x in starved["points"]], dtype=F64) for k in cls.STARVATION_COLUMNS}
    D = int(starved["depth"])
    _, lr = cls.starvation_run(D, vals, 1.0, "cpu", lr_lambda=v)
    rate = D * vals["class_fraction"] * torch.maximum(vals["r1"] ** (2 / D), vals["q"] * vals["r2"] ** (2 / D))
    assert torch.allclose(lr * rate, torch.full_like(rate, v), rtol=1e-12, atol=0)


# -- the deviation grows with lr, the probes find lr·λ_max = 2 ---------------------------------------------------

@pytest.mark.parametrize("result,check", [("weight_decay_trajectory", 0), ("wrong_sign_crossing_time", 0)])
def test_deviation_grows_with_lr(result, check):
    from learndyn.verify.families import simulations

    sim = simulations()[result][check]
    devs = []
    for v in (0.05, 0.5):
        evs = [evaluate_unit(WorkUnit(result, check, "lr", v, dict(p), sim.sizes_on("cpu"))) for p in sim.points[:1]]
        assert all(e.error is None for e in evs)
        devs.append(max(e.deviation for e in evs))
    assert math.isfinite(devs[1]) and devs[1] > 2 * devs[0] > 0


@pytest.mark.parametrize("result", ["weight_decay_trajectory", "dae_trajectory", "dropout_trajectory",
                                    "inverted_dropout_trajectory"])
def test_convergence_probe_brackets_the_stability_limit(result):
    axis = _check(reg, result).axes[0]
    case = _check(reg, result).points[0]
    assert axis.limit == 2.0
    assert not axis.diverges(case, 1.9, "cpu")
    assert axis.diverges(case, 2.1, "cpu")


def test_checks_declare_the_lr_axis_from_the_family_cap():
    mapped = {c.result for c in reg.SIMULATIONS if c.axes} | {c.result for c in cls.SIMULATIONS if c.axes}
    assert mapped == {c.result for c in reg.SIMULATIONS if c.result != "noise_equivalent_decay"} | \
        {c.result for c in cls.SIMULATIONS}
    assert all(c.axes[0].start == cls.KAPPA and c.axes[0].diverges is None for c in cls.SIMULATIONS)


def test_autoencoder_accepts_explicit_weights():
    """A start exactly at the marginalised optimum stays there (to round-off); the shapes are checked."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder

    data = covariance_dataset([0.5, 2.0], 3, 8, seed=0)
    lam, eps, gamma = data.lam, 0.3, 0.1
    a = ((lam - gamma) / (lam + eps)).sqrt()
    W1, W2 = (torch.eye(3, 2, dtype=F64) * a) @ data.Q.T, (data.Q * a) @ torch.eye(3, 2, dtype=F64).T
    run = simulate_autoencoder(data, 0.1, 50, eps=eps, gamma=gamma, init=(W1, W2), record_every=50, replicas=2,
                               device="cpu")
    assert torch.allclose(run.mode_strengths[-1], (a * a).expand(1, 2, 2), rtol=0, atol=1e-13)
    with pytest.raises(ValueError):
        simulate_autoencoder(data, 0.1, 5, init=(W1, W2.T[:2]), device="cpu")


# -- a small map ---------------------------------------------------------------------------------------------

def test_small_map_has_finite_contours_and_a_limit_at_two():
    m = validity_map("weight_decay_trajectory", "lr", seeds=1, bisections=2, limit_bisections=3)
    assert [c.level for c in m.contours] == [0.01, 0.1]
    for c in m.contours:
        assert c.beyond is None and c.value is not None and math.isfinite(c.value) and c.low <= c.value <= c.high
    assert m.contours[0].value < m.contours[1].value
    assert m.limit is not None and m.limit.agrees
    lo, hi = m.limit.brackets[0]
    assert lo < 2 < hi
