"""Tier (b) of family 1 (linear learning dynamics), declared beside ``derive/families/linear.py``.

Every check trains real networks by full-batch gradient descent (the scalar network ``ŷ = w2 w1 x``; a ``D``-layer
linear network on whitened data with ``Σ31 = U S Vᵀ`` from a decoupled balanced start) at ``lr`` and ``lr/2`` and
compares the Richardson extrapolation ``2u(lr/2) − u(lr)`` with the theory (GD is the Euler method of the flow, so
its error at fixed flow time is first order in ``lr``; the order is checked too). With ``lr·λ ≤ 0.05`` for the
Hessian's largest eigenvalue ``λ`` at the optimum, the ``O(lr²)`` remainder is below ``3e-4`` of the mode's scale,
so ``1e-3`` is the tolerance and a 2 % error in the theory fails. The family's claims (seed 003: learning time
against depth, the stable ``lr``, the order in which modes are learned) are at the end, in ``CLAIM_CHECKS``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from hypothesis import strategies as st

from learndyn.verify.property_runs import RICHARDSON_TOL, run_examples
from learndyn.verify.report import Check
from learndyn.verify.tier_b import OUTPUT, Measurement, Richardson, SimulationCheck
from learndyn.verify.tier_b.cases import batch_strategy, columns, pinned_batch
from learndyn.verify.tier_b.observables import crossing_time, logit_between
from learndyn.verify.validity.axis import lr_axis

__all__ = ["SIMULATIONS", "CLAIM_CHECKS", "LR_LAMBDA"]

#: lr times the Hessian's largest eigenvalue at the optimum, at most
LR_LAMBDA = 0.05
MAX_STEPS = 40000
RICHARDSON = Richardson(tol=1e-3)


def fine_run(sizes) -> bool:
    """Whether to run at ``lr/2`` too: a validity map measures the run at ``lr`` alone and says so with
    ``sizes["fine_run"] = False`` (:data:`~learndyn.verify.validity.units.FINE_RUN`)."""
    return bool(sizes.get("fine_run", True))


def run_lr(drawn, lam, sizes):
    """The run's ``lr``: ``sizes["lr_lambda"]/λ`` exactly where a validity map sets it, else the drawn ``lr`` capped
    at ``LR_LAMBDA/λ`` (``λ``: the largest Hessian eigenvalue at the optimum)."""
    if "lr_lambda" in sizes:
        return sizes["lr_lambda"] / lam
    return torch.minimum(drawn, LR_LAMBDA / lam)


def _declaration(name: str):
    from learndyn.derive.registry import declaration

    return declaration(name)


def _function(name: str):
    import learndyn

    return learndyn.function(name, check=False)


# -- the scalar network ----------------------------------------------------------------------------------------

def simulate_scalar(case, sizes, device) -> Measurement:
    """GD on ``ŷ = w2 w1 x``, ``L = ½(y − ŷ)²``, balanced start, to 95 % of the plateau ``y/x``, at lr and lr/2."""
    from learndyn.verify.simulate import simulate_scalar_network

    c = columns(case["points"], device)
    x, y, u0 = c["x"], c["y"], c["u0"]
    lr = run_lr(c["lr"], 2 * x * y.abs(), sizes)  # Hessian eigenvalue 2 x |y| at the optimum
    K = y / x
    flow = torch.log(0.95 * (K - u0) / (u0 * 0.05)) / (2 * x * y)
    steps = int(math.ceil(float((flow / lr).max())))
    coarse = simulate_scalar_network(x, y, u0, lr, steps, device=device)
    fine = simulate_scalar_network(x, y, u0, lr / 2, 2 * steps, device=device, record_every=2) if fine_run(sizes) else None
    t = coarse.t.to(torch.float64).unsqueeze(1)
    return Measurement(args=dict(t=t, x=x, y=y, u0=u0, lr=lr), observed={OUTPUT: coarse.u},
                       fine=None if fine is None else {OUTPUT: fine.u},
                       reduce_dims=(0,), scale=K, where=f"scalar network, {x.numel()} configurations, seed {case['seed']}")


# -- deep linear networks --------------------------------------------------------------------------------------

def deep_strategy(depths: tuple[int, ...] | None, batch: int = 8, modes: int = 3):
    """Cases of a ``D``-layer network: ``modes`` distinct singular values, per configuration ``u0`` per mode and
    ``tau``, a data seed."""
    def build(result):
        from learndyn.verify.strategies import param_strategy

        by = {p.name: p for p in result.params}
        depth = st.sampled_from(depths) if depths else param_strategy(by["depth"], "sim")
        return st.fixed_dictionaries({
            "depth": depth,
            "s": st.lists(param_strategy(by["s"], "sim"), min_size=modes, max_size=modes, unique=True),
            "u0": st.lists(st.lists(param_strategy(by["u0"], "sim"), min_size=modes, max_size=modes), min_size=batch, max_size=batch),
            "tau": st.lists(param_strategy(by["tau"], "sim"), min_size=batch, max_size=batch),
            "seed": st.integers(0, 2**31 - 1)})
    return build


def deep_points(depths: tuple[int, ...], batch: int = 8) -> tuple[dict, ...]:
    """Pinned cases: at each depth, three well-separated modes and a batch spread over ``u0`` and ``tau``."""
    r = _declaration("deep_mode_trajectory")
    out = []
    for k, depth in enumerate(depths):
        pts = pinned_batch(r, ("u0", "tau"), batch * 3)
        u0 = [[pts[3 * i + m]["u0"] for m in range(3)] for i in range(batch)]
        out.append({"depth": depth, "s": [0.5, 1.1, 2.0], "u0": u0, "tau": [pts[3 * i]["tau"] for i in range(batch)],
                    "seed": 7 + k})
    return tuple(out)


def _deep_runs(case, device, kind: str, sizes=None):
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    D = case["depth"]
    s = torch.tensor(case["s"], dtype=torch.float64, device=device)
    u0 = torch.tensor(case["u0"], dtype=torch.float64, device=device)        # (B, m)
    tau = torch.tensor(case["tau"], dtype=torch.float64, device=device)      # (B,)
    # GD is stable for lr < 2/λ, λ = D s^{2−2/D}; lr·λ <= LR_LAMBDA keeps the O(lr²) remainder far below the
    # tolerance (tau is raised where its draw is too small)
    lam = D * s.max() ** (2 - 2 / D)
    tau = torch.full_like(tau, float(lam / sizes["lr_lambda"])) if sizes and "lr_lambda" in sizes else torch.maximum(tau, lam / LR_LAMBDA)
    data = whitened_dataset(case["s"], n_in=5, n_out=4, n_examples=16, seed=case["seed"], device=device)
    uf = (0.9 if kind == "trajectory" else 0.5) * s  # the horizon: the slowest mode reaches 90 % of s (or s/2)
    t_end = _function("deep_mode_time")(s=s.expand_as(u0), u0=torch.minimum(u0, 0.45 * s), uf=uf.expand_as(u0),
                                       tau=tau.unsqueeze(1), depth=D)
    steps = min(int(math.ceil(float(t_end.max()) * 1.2)), int((sizes or {}).get("max_steps", MAX_STEPS)))
    # hitting times need dense records, the same at both step sizes (Richardson would not remove their error)
    every = max(1, steps // (4000 if kind == "time" else 200))
    rates = ((1, 1.0), (2, 0.5)) if fine_run(sizes) else ((1, 1.0),)
    runs = [simulate_deep_linear(data, D, k_lr / tau, k * steps, u0=u0, seed=case["seed"], device=device,
                                 record_every=k * every) for k, k_lr in rates]
    return D, s, u0, tau, runs + [None] * (2 - len(runs))


def simulate_deep_trajectory(with_depth: bool):
    """Mode strengths ``u_α^T W_D ⋯ W_1 v_α`` over the run, at lr and lr/2, for a trajectory result."""
    def simulate(case, sizes, device) -> Measurement:
        D, s, u0, tau, (coarse, fine) = _deep_runs(case, device, "trajectory", sizes)
        t = coarse.t.to(torch.float64).view(-1, 1, 1)
        args = dict(t=t, s=s, u0=u0, tau=tau.view(1, -1, 1), **({"depth": D} if with_depth else {}))
        return Measurement(args=args, observed={OUTPUT: coarse.mode_strengths},
                           fine=None if fine is None else {OUTPUT: fine.mode_strengths},
                           reduce_dims=(0,), scale=s.view(1, 1, -1), where=f"D = {D}, s = {case['s']}, seed {case['seed']}")
    return simulate


def simulate_deep_time(with_depth: bool):
    """The time each mode takes from ``u0`` to ``s/2`` (interpolated in the logit between records), at lr and lr/2."""
    def simulate(case, sizes, device) -> Measurement:
        D, s, u0, tau, runs = _deep_runs(case, device, "time", sizes)
        level = (0.5 * s).expand_as(u0)
        hits = [crossing_time(run.t.to(torch.float64), run.mode_strengths, level, logit_between(s.expand_as(u0))) / k
                for k, run in zip((1, 2), runs) if run is not None]
        if any(bool(h.isnan().any()) for h in hits):
            raise RuntimeError("a mode never reached s/2 within the run")
        args = dict(s=s.expand_as(u0), u0=u0, uf=level, tau=tau.unsqueeze(1), **({"depth": D} if with_depth else {}))
        return Measurement(args=args, observed={OUTPUT: hits[0]}, fine={OUTPUT: hits[1]} if len(hits) > 1 else None, scale=None,
                           where=f"D = {D}, s = {case['s']}, seed {case['seed']}")
    return simulate


# -- validity maps: the lr axis, GD's first-order deviation and its stability limit ---------------------------------

#: GD steps of the convergence probe: at lr·λ = 2(1 − ε) the distance to the optimum shrinks by 1 − 2ε per step
CONVERGENCE_STEPS = 5000
CONVERGED = 1e-6


def _as_numpy(x) -> "np.ndarray":
    import numpy as np

    return np.asarray(torch.as_tensor(x, dtype=torch.float64).cpu())


def _scalar_predicted(m: Measurement, value: float):
    """``lr·|E(u(τ))|/K`` at every record (:func:`~learndyn.verify.validity.first_order.scalar_network_first_order`),
    the worst record per configuration."""
    from learndyn.verify.validity.first_order import scalar_network_first_order

    a = m.args
    u = _as_numpy(_function("scalar_trajectory")(**a))
    E = scalar_network_first_order().coefficient(u, _as_numpy(a["u0"]), x=_as_numpy(a["x"]), y=_as_numpy(a["y"]))
    return torch.as_tensor(abs(E) * _as_numpy(a["lr"]) / _as_numpy(m.scale)).amax(0)


def _deep_predicted(kind: str):
    """The same for a mode of a ``D``-layer network (``lr = 1/τ``): ``|E(u(τ))|/(τ s)`` at every record, or for a
    hitting time ``|E(u_f)| / (f(u_f) t)`` relative to the time ``t`` (GD reaches ``u_f`` when ``u + lr E`` does)."""
    def predicted(m: Measurement, value: float):
        from learndyn.verify.validity.first_order import deep_mode_first_order

        a = m.args
        D = int(a.get("depth", 2))
        fo = deep_mode_first_order(D)
        s, u0, tau = (_as_numpy(a[k]) for k in ("s", "u0", "tau"))
        if kind == "trajectory":
            u = _as_numpy(_function("deep_mode_trajectory")(t=a["t"], s=a["s"], u0=a["u0"], tau=a["tau"], depth=D))
            return torch.as_tensor(abs(fo.coefficient(u, u0, s=s)) / (tau * s)).amax(0).reshape(-1)
        uf = _as_numpy(a["uf"])
        t = _as_numpy(_function("deep_mode_time")(s=a["s"], u0=a["u0"], uf=a["uf"], tau=a["tau"], depth=D))
        flow = D * uf ** (2 - 2 / D) * (s - uf)
        return torch.as_tensor(abs(fo.coefficient(uf, u0, s=s)) / (flow * t)).reshape(-1)
    return predicted


def _scalar_diverges(case, value: float, device) -> bool:
    """GD at ``lr·λ = value`` from 5 % above the optimum ``y/x`` of every configuration: whether some configuration is
    not within ``1e-6`` of it after :data:`CONVERGENCE_STEPS` steps."""
    from learndyn.verify.simulate import simulate_scalar_network

    c = columns(case["points"], device)
    x, y = c["x"], c["y"].abs()
    K = y / x
    run = simulate_scalar_network(x, y, 1.05 * K, value / (2 * x * y), CONVERGENCE_STEPS, device=device,
                                  record_every=CONVERGENCE_STEPS)
    end = run.u[-1]
    return not bool((((end - K).abs() / K) < CONVERGED).all())


def _deep_diverges(case, value: float, device) -> bool:
    """GD at ``lr·λ = value`` (``λ = D s_max^{2−2/D}``) on the case's data from 5 % above every mode's optimum: whether
    some mode is not within ``1e-6`` of its ``s`` after :data:`CONVERGENCE_STEPS` steps."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    D = case.get("depth", 2)
    s = torch.tensor(case["s"], dtype=torch.float64, device=device)
    lam = D * float(s.max()) ** (2 - 2 / D)
    data = whitened_dataset(case["s"], n_in=5, n_out=4, n_examples=16, seed=case["seed"], device=device)
    run = simulate_deep_linear(data, D, value / lam, CONVERGENCE_STEPS, u0=(1.05 * s).view(1, -1), seed=case["seed"],
                               device=device, record_every=CONVERGENCE_STEPS)
    end = run.mode_strengths[-1, 0]
    return not bool((((end - s).abs() / s) < CONVERGED).all())


SCALAR_LR_AXIS = lr_axis(start=LR_LAMBDA, predicted=_scalar_predicted, diverges=_scalar_diverges,
                         predicted_by="GD's first-order deviation lr·E(u) from the per-step map")


def _deep_lr_axis(kind: str):
    return lr_axis(start=LR_LAMBDA, predicted=_deep_predicted(kind), diverges=_deep_diverges,
                   predicted_by="GD's first-order deviation lr·E(u) from the per-step map")


def _scalar_check() -> SimulationCheck:
    r = _declaration("scalar_trajectory")
    only = ("x", "y", "u0", "lr")
    return SimulationCheck(
        result="scalar_trajectory", title="GD, scalar network, Richardson", method="gd",
        simulate=simulate_scalar, compare=RICHARDSON, strategy=lambda res: batch_strategy(res, only, 16),
        points=({"points": pinned_batch(r, only, 16), "seed": 0},), examples_per_case=25, axes=(SCALAR_LR_AXIS,))


def _deep_check(name: str, depths: tuple[int, ...] | None, kind: str) -> SimulationCheck:
    with_depth = depths != (2,)
    simulate = simulate_deep_trajectory(with_depth) if kind == "trajectory" else simulate_deep_time(with_depth)
    layers = "D-layer" if depths is None else f"{depths[0]}-layer"
    return SimulationCheck(
        result=name, title=f"GD, {layers} linear net, Richardson" + (", hitting time" if kind == "time" else ""),
        method="gd", simulate=simulate, compare=RICHARDSON, strategy=deep_strategy(depths),
        points=deep_points(depths or (1, 3, 6)), examples_per_case=25, axes=(_deep_lr_axis(kind),))


SIMULATIONS = (
    _scalar_check(),
    _deep_check("mode_trajectory", (2,), "trajectory"),
    _deep_check("mode_learning_time", (2,), "time"),
    _deep_check("deep_mode_time", None, "time"),
    _deep_check("deep_mode_trajectory", None, "trajectory"),
)


# -- claims (seed 003) -------------------------------------------------------------------------------------------
# Each claim is a statement about how a learning time depends on depth, checked on real networks trained by GD
# (balanced, decoupled start on whitened data; one hypothesis example is a batch of singular values) with hitting
# times Richardson-extrapolated in ``lr`` (runs at ``lr`` and ``lr/2``), so the property is asserted of the gradient
# flow, not of a particular step size, and the simulated times are also held to the theory within RICHARDSON_TOL.

DEPTHS = (1, 2, 3, 4, 5, 6)


def _flow_hitting_times(s: torch.Tensor, u0: torch.Tensor, level: torch.Tensor, depth: int, device: str, seed: int):
    """Richardson-extrapolated hitting times ``t/τ`` of ``level`` for the modes of one balanced network whose
    ``Σ31`` has singular values ``s`` (``s``, ``u0``, ``level``: (m,)), and the theory's times."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    m = s.numel()
    lam = depth * s.max() ** (2 - 2 / depth)
    lr = float(LR_LAMBDA / lam)
    theory = _function("deep_mode_time")(s=s, u0=u0, uf=level, tau=torch.ones_like(s), depth=depth)
    steps = int(math.ceil(float(theory.max()) / lr * 1.2))
    every = max(1, steps // 4000)
    data = whitened_dataset(s.tolist(), n_in=m, n_out=m, n_examples=2 * m, seed=seed, device=device)
    times = []
    for k in (1, 2):
        run = simulate_deep_linear(data, depth, lr / k, k * steps, u0=u0.view(1, m), seed=seed, device=device,
                                   record_every=k * every)
        h = crossing_time(run.t.to(torch.float64), run.mode_strengths[:, 0, :], level, logit_between(s))
        times.append(h * lr / k)  # flow time t/τ with τ = k/lr
    coarse, fine = times
    return 2 * fine - coarse, theory


def _depth_claim(name: str, u0_of: Callable, s_of: Callable, monotone: str, config) -> Check:
    """Shared body of the two depth claims: D·t/τ against depth for a batch of singular values."""
    from learndyn.verify.strategies import param_strategy

    s_param = _declaration("deep_mode_time").param("s")
    worst = {"theory": 0.0, "trend": None}

    def prop(draw):
        s = s_of(torch.tensor(draw, dtype=torch.float64, device=config.device))
        scaled = []
        for D in DEPTHS:
            u0 = u0_of(s, D)
            level = 0.9 * s
            flow, theory = _flow_hitting_times(s, u0, level, D, config.device, config.seed)
            rel = float(((flow - theory).abs() / theory).max())
            worst["theory"] = max(worst["theory"], rel)
            assert rel <= RICHARDSON_TOL, f"{name}: simulated D·t/τ at D={D} differs from deep_mode_time by {rel:.3g}"
            scaled.append(D * flow)
        table = torch.stack(scaled)  # (depths, B)
        worst["trend"] = table.mean(1).tolist()
        steps = table[1:] - table[:-1]
        if monotone == "nonincreasing":
            bad = steps > RICHARDSON_TOL * table[:-1]
            assert not bool(bad.any()), f"{name}: D·t/τ grew with depth: {table.mean(1).tolist()}"
        else:
            bad = steps <= 0
            assert not bool(bad.any()), f"{name}: D·t/τ did not grow with depth: {table.mean(1).tolist()}"
            assert bool((table[-1] > 4 * table[1]).all()), f"{name}: D·t/τ at D={DEPTHS[-1]} is not far above D=2: {table.mean(1).tolist()}"

    failure = run_examples(st.lists(param_strategy(s_param, "sim"), min_size=3, max_size=3, unique=True), prop,
                           config, batches=2)
    return Check(name, "claim: GD, depths 1-6, Richardson", 6 * len(DEPTHS), worst["theory"], RICHARDSON_TOL,
                 "max |sim - theory| / theory of t/τ", failure is None, failure,
                 {"mean D·t/τ by depth": worst["trend"], "depths": list(DEPTHS)})


def depth_independent_check(config) -> Check:
    """From ``u0 = 1`` (per-layer gain 1) toward ``s > 1``: ``D·t/τ`` does not grow with ``D``."""
    return _depth_claim("depth_independent_time_from_order_one_start",
                        u0_of=lambda s, D: torch.ones_like(s), s_of=lambda s: 1 + s,
                        monotone="nonincreasing", config=config)


def small_gain_check(config) -> Check:
    """From a per-layer gain ``a0 = 0.3`` (``u0 = a0^D``, below ``0.9 s`` for every drawn ``s``): ``D·t/τ``
    grows with ``D`` without bound."""
    return _depth_claim("time_grows_with_depth_from_small_gain",
                        u0_of=lambda s, D: torch.full_like(s, 0.3**D), s_of=lambda s: s,
                        monotone="increasing", config=config)


def stable_lr_check(config) -> Check:
    """The Hessian of the real network's loss at the balanced optimum has largest eigenvalue ``D s^{2−2/D}``
    (computed by autograd, to round-off), and GD from near the optimum converges at ``lr = 0.9·2/λ`` and
    diverges at ``lr = 1.1·2/λ``."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    worst = 0.0
    failure = None
    results = {}
    try:
        for D in DEPTHS:
            for s in (0.5, 1.0, 2.0):
                data = whitened_dataset([s], n_in=1, n_out=1, n_examples=2, seed=config.seed, device=config.device)
                X, Y = data.X, data.Y
                a = torch.full((D,), s ** (1 / D), dtype=torch.float64, device=config.device)

                def loss(w):
                    W = torch.prod(w) * data.U @ data.V.T
                    return 0.5 * ((Y - W @ X) ** 2).sum(0).mean()

                H = torch.autograd.functional.hessian(loss, a)
                lam = float(torch.linalg.eigvalsh(H).max())
                expected = D * s ** (2 - 2 / D)
                rel = abs(lam - expected) / expected
                worst = max(worst, rel)
                assert rel < 1e-10, f"D={D}, s={s}: largest Hessian eigenvalue {lam} != D s^(2-2/D) = {expected}"
                start = (s * 1.05) * torch.ones(1, 1, dtype=torch.float64, device=config.device)
                ends = []
                for factor in (0.9, 1.1):
                    run = simulate_deep_linear(data, D, factor * 2 / expected, 400, u0=start, hidden=1, seed=config.seed,
                                               device=config.device, record_every=400)
                    ends.append(abs(float(run.mode_strengths[-1, 0, 0]) - s))
                results[f"D={D},s={s}"] = ends
                assert ends[0] < 1e-6 * s, f"D={D}, s={s}: GD at 0.9·2/λ did not converge ({ends[0]:.3g} from s)"
                assert not ends[1] < 1e-2 * s, f"D={D}, s={s}: GD at 1.1·2/λ converged ({ends[1]:.3g} from s)"
    except AssertionError as exc:
        failure = str(exc)
    return Check("stable_lr_shrinks_with_depth", "claim: Hessian + GD stability", 3 * len(DEPTHS), worst, 1e-10,
                 "|λ_max - D s^(2-2/D)| / λ_max", failure is None, failure, {})


def mode_order_check(config) -> Check:
    """From a small random start, modes cross ``s/2`` in decreasing order of ``s`` (D = 2 and 3)."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    failure = None
    order = {}
    try:
        s = [2.0, 1.0, 0.5]
        for D, scale in ((2, 1e-2), (3, 1e-1)):
            data = whitened_dataset(s, n_in=6, n_out=5, n_examples=12, seed=config.seed, device=config.device)
            lam = D * max(s) ** (2 - 2 / D)
            lr = LR_LAMBDA / lam
            # horizon: twice the balanced-start time of the weakest mode from a strength of scale^D / 10
            t_weak = _function("deep_mode_time")(s=torch.tensor(min(s)), u0=torch.tensor(scale**D / 10), uf=torch.tensor(min(s) / 2),
                                   tau=torch.tensor(1 / lr), depth=D)
            steps = int(2 * float(t_weak))
            run = simulate_deep_linear(data, D, lr, steps, init="random", init_scale=scale, configs=8, seed=config.seed,
                                       device=config.device, record_every=max(1, steps // 4000))
            st_ = torch.tensor(s, dtype=torch.float64, device=config.device).expand(8, 3)
            h = crossing_time(run.t.to(torch.float64), run.mode_strengths, 0.5 * st_, logit_between(st_))
            order[D] = h.mean(0).tolist()
            assert not bool(h.isnan().any()), f"D={D}: a mode never reached s/2 within {steps} steps"
            assert bool((h[:, 0] < h[:, 1]).all() and (h[:, 1] < h[:, 2]).all()), f"D={D}: modes not learned in order of s: {h.tolist()}"
    except AssertionError as exc:
        failure = str(exc)
    return Check("modes_learned_in_order_of_strength", "claim: GD, random start", 16, 0.0, 0.0, "order of hitting times",
                 failure is None, failure, {"mean hitting step by depth": order})


CLAIM_CHECKS: dict[str, Callable[..., Check]] = {
    "depth_independent_time_from_order_one_start": depth_independent_check,
    "time_grows_with_depth_from_small_gain": small_gain_check,
    "stable_lr_shrinks_with_depth": stable_lr_check,
    "modes_learned_in_order_of_strength": mode_order_check,
}
