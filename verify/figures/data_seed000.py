"""The data behind seed 000's figures (families 1 and 2): theory beside gradient descent, as JSON-able dicts.

Each function takes ``seed``, ``device`` and ``quick`` (smaller runs for tests) and returns a dict with
``figure``, ``settings`` (a one-line description of the simulation for the figure's title), the curves (theory on
a fine grid for the line, simulation at its recorded steps, theory again at those steps) and ``agreement``
(:mod:`learndyn.verify.figures.agreement`).

* :func:`scalar_learning_curve`: ``scalar_trajectory`` against ``simulate_scalar_network`` (balanced start, so
  exact up to the Euler error of GD), for several ``u0`` and several ``lr``.
* :func:`deep_linear_modes`: ``mode_trajectory`` (``D = 2``) and ``deep_mode_trajectory`` (``D = 4``) against
  ``simulate_deep_linear`` on ``whitened_dataset`` from the decoupled balanced start: the modes are learned in
  order of their singular value.
* :func:`weight_decay_vs_noise`: ``weight_decay_trajectory`` against a two-layer linear network with weight decay;
  ``dae_trajectory`` with input noise ``eps`` against the linear denoising autoencoder with sampled noise (mean
  over replicas), and with the weight decay of the same fixed point, ``noise_equivalent_decay(lam, eps)``,
  against the autoencoder with that weight decay.
* :func:`dropout_time`: ``dropout_expected_time`` and ``dropout_time_bound`` against the mean hitting time of
  ``dropout_hitting_times`` over many runs, against the keep probability ``p`` and against the margin.
"""
from __future__ import annotations

import math

import torch

from .agreement import K_SE, bound, compare, euler
from .threads import single_thread

__all__ = ["scalar_learning_curve", "deep_linear_modes", "weight_decay_vs_noise", "dropout_time"]

F64 = torch.float64


def _f(name: str):
    import learndyn

    return learndyn.function(name)


def _list(v) -> list:
    return torch.as_tensor(v).detach().cpu().tolist()


def _line(t_max: float, points: int = 301) -> torch.Tensor:
    return torch.linspace(0.0, t_max, points, dtype=F64)


# ---------------------------------------------------------------- family 1


@single_thread()
def scalar_learning_curve(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """``u = w2 w1`` of ``ŷ = w2 w1 x`` (``x = 1``, ``y = 2``) over GD steps: panel ``u0`` (``u0`` = 1e-3, 1e-2,
    1e-1 at ``lr = 0.005``) and panel ``lr`` (0.0025, 0.005, 0.01 at ``u0 = 0.01``). GD is deterministic (``seed``
    is unused); every run is repeated at ``lr/2`` for the discretisation tolerance. ``quick`` changes nothing (the
    runs take milliseconds)."""
    from learndyn.verify.simulate import simulate_scalar_network

    x, y = 1.0, 2.0
    theory_fn = _f("scalar_trajectory")
    panels, agreement = [], []
    for panel, u0s, lrs, steps, every in (("u0", [1e-3, 1e-2, 1e-1], [0.005] * 3, 600, 12),
                                          ("lr", [1e-2] * 3, [0.0025, 0.005, 0.01], 1000, 20)):
        u0 = torch.tensor(u0s, dtype=F64)
        lr = torch.tensor(lrs, dtype=F64)
        run = simulate_scalar_network(x=x, y=y, u0=u0, lr=lr, steps=steps, record_every=every, device=device)
        half = simulate_scalar_network(x=x, y=y, u0=u0, lr=lr / 2, steps=2 * steps, record_every=2 * every,
                                       device=device)
        t = run.t.to("cpu", F64)
        u, uh = run.u.cpu(), half.u.cpu()
        th = theory_fn(t=t[:, None], x=x, y=y, u0=u0, lr=lr)
        tl = _line(steps)
        line = theory_fn(t=tl[:, None], x=x, y=y, u0=u0, lr=lr)
        curves = [dict(u0=u0s[i], lr=lrs[i], t_line=_list(tl), theory_line=_list(line[:, i]), t=_list(t),
                       simulation=_list(u[:, i]), theory=_list(th[:, i])) for i in range(len(u0s))]
        panels.append(dict(vary=panel, curves=curves))
        labels = [f"{panel} panel, u0={u0s[i]:g}, lr={lrs[i]:g}, t={int(tt)}" for tt in t.tolist()
                  for i in range(len(u0s))]
        agreement += euler(f"u(t), {panel} panel", u, uh, th, y / x, labels=labels)
    return dict(figure="scalar_learning_curve", x=x, y=y, panels=panels, agreement=agreement, seed=seed,
                device=str(device),
                settings=r"full-batch GD on $\hat y = w_2 w_1 x$ ($x = 1$, $y = 2$) from the balanced start "
                         r"$w_1 = w_2 = \sqrt{u_0}$ (deterministic: one run per curve)")


@single_thread()
def deep_linear_modes(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """Mode strengths ``a_α = u_αᵀ W_D⋯W_1 v_α`` of deep linear networks (``D = 2`` and ``D = 4``, width 8) on 8
    whitened examples with singular values 3, 2, 1, 0.5, from the decoupled balanced start ``u0 = 0.01``, against
    ``mode_trajectory`` / ``deep_mode_trajectory``. ``quick`` doubles ``lr`` (half the steps)."""
    from learndyn.verify.simulate import simulate_deep_linear, whitened_dataset

    S, u0, n = (3.0, 2.0, 1.0, 0.5), 0.01, 8
    s = torch.tensor(S, dtype=F64)
    data = whitened_dataset(S, n_in=n, n_out=n, n_examples=n, seed=seed, device=device)
    panels, agreement = [], []
    for depth, lr, flow_time in ((2, 0.004, 10.0), (4, 0.002, 14.0)):
        lr = 2 * lr if quick else lr
        steps = int(round(flow_time / lr))
        every = steps // 50
        run = simulate_deep_linear(data, depth=depth, lr=lr, steps=steps, u0=u0, record_every=every, seed=seed,
                                   device=device)
        half = simulate_deep_linear(data, depth=depth, lr=lr / 2, steps=2 * steps, u0=u0, record_every=2 * every,
                                    seed=seed, device=device)
        t = run.t.to("cpu", F64)
        u, uh = run.mode_strengths[:, 0].cpu(), half.mode_strengths[:, 0].cpu()
        tl = _line(steps)

        def theory_at(tt: torch.Tensor) -> torch.Tensor:
            if depth == 2:
                return _f("mode_trajectory")(t=tt[:, None], s=s, u0=u0, tau=1 / lr)
            return _f("deep_mode_trajectory")(t=tt[:, None], s=s, u0=u0, tau=1 / lr, depth=depth)

        th, line = theory_at(t), theory_at(tl)
        panels.append(dict(depth=depth, lr=lr, steps=steps, result="mode_trajectory" if depth == 2 else
                           "deep_mode_trajectory", flow_time_line=_list(tl * lr), flow_time=_list(t * lr),
                           modes=[dict(s=S[i], theory_line=_list(line[:, i]), simulation=_list(u[:, i]),
                                       theory=_list(th[:, i])) for i in range(len(S))]))
        labels = [f"D={depth}, s={S[i]:g}, t={int(tt)}" for tt in t.tolist() for i in range(len(S))]
        agreement += euler(f"mode strength, D = {depth}", u, uh, th, s, labels=labels)
    return dict(figure="deep_linear_modes", singular_values=list(S), u0=u0, width=n, panels=panels,
                agreement=agreement, seed=seed, device=str(device),
                settings=f"full-batch GD on $\\hat y = W x$, $W = W_D \\cdots W_1$ (width {n}), {n} whitened examples, "
                         f"decoupled balanced start $u_0 = {u0:g}$ (deterministic: one run per depth)")


# ---------------------------------------------------------------- family 2


@single_thread()
def weight_decay_vs_noise(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """Two panels.

    ``decay``: a two-layer linear network (width 8, whitened data, singular values 2, 1, 0.5, 0.2) with weight
    decay ``gamma = 0.3`` from the balanced start ``u0 = 0.05``, against ``weight_decay_trajectory`` (plateau
    ``s − gamma``; the mode with ``s < gamma`` decays). Deterministic; tolerance from a run at ``lr/2``.

    ``noise``: the linear denoising autoencoder (``n = 4`` inputs, eigenvalues ``lam`` = 2, 1, 0.5, ``P`` examples,
    ``u0 = 0.01``) with Gaussian input noise ``eps = 0.5`` sampled afresh every step (mean over replicas) against
    ``dae_trajectory(eps = 0.5)``; and with no noise but the weight decay of the same fixed point,
    ``gamma = noise_equivalent_decay(lam, eps)`` (one configuration per mode), against ``dae_trajectory(eps = 0,
    gamma)`` — the same plateau ``lam/(lam + eps)``, reached more slowly. Tolerance of the sampled runs:
    ``K_SE`` standard errors over replicas, plus the first-order GD error estimated from the marginalised
    (noise-averaged) runs at ``lr`` and ``lr/2``, plus ``2 max_i Var u_i`` (the bias of the sampled mean,
    measured in :mod:`learndyn.verify.simulate.autoencoder`), plus ``1e-3`` of the plateau."""
    from learndyn.verify.simulate import covariance_dataset, simulate_autoencoder, simulate_deep_linear, \
        whitened_dataset

    agreement = []
    # -- weight decay in a deep (D = 2) linear network
    S, gamma, u0_d, lr_d, T_d, n = (2.0, 1.0, 0.5, 0.2), 0.3, 0.05, 0.01, 10.0, 8
    s = torch.tensor(S, dtype=F64)
    steps = int(round(T_d / lr_d))
    every = steps // 50
    data = whitened_dataset(S, n_in=n, n_out=n, n_examples=n, seed=seed, device=device)
    run = simulate_deep_linear(data, depth=2, lr=lr_d, steps=steps, u0=u0_d, gamma=gamma, record_every=every,
                               seed=seed, device=device)
    half = simulate_deep_linear(data, depth=2, lr=lr_d / 2, steps=2 * steps, u0=u0_d, gamma=gamma,
                                record_every=2 * every, seed=seed, device=device)
    t = run.t.to("cpu", F64)
    u, uh = run.mode_strengths[:, 0].cpu(), half.mode_strengths[:, 0].cpu()
    wd = _f("weight_decay_trajectory")
    th = wd(t=t[:, None], s=s, u0=u0_d, gamma=gamma, tau=1 / lr_d)
    tl = _line(steps)
    line = wd(t=tl[:, None], s=s, u0=u0_d, gamma=gamma, tau=1 / lr_d)
    decay = dict(gamma=gamma, u0=u0_d, lr=lr_d, width=n, flow_time_line=_list(tl * lr_d), flow_time=_list(t * lr_d),
                 modes=[dict(s=S[i], theory_line=_list(line[:, i]), simulation=_list(u[:, i]),
                             theory=_list(th[:, i])) for i in range(len(S))])
    agreement += euler("weight decay, mode strength", u, uh, th, s,
                       labels=[f"s={S[i]:g}, t={int(tt)}" for tt in t.tolist() for i in range(len(S))])

    # -- input noise against its equivalent weight decay in the linear autoencoder
    lam_list, eps, u0_a, lr_a, T_a = (2.0, 1.0, 0.5), 0.5, 0.01, 0.01, 16.0
    n_in, P = 4, 64
    replicas = 16 if quick else 48
    lam = torch.tensor(lam_list, dtype=F64)
    steps = int(round(T_a / lr_a))
    every = steps // 40
    ae = covariance_dataset(lam_list, n=n_in, n_examples=P, seed=seed, device=device)
    common = dict(u0=u0_a, seed=seed, device=device)
    sampled = simulate_autoencoder(ae, lr_a, steps, eps=eps, noise="sampled", replicas=replicas, record_every=every,
                                   **common)
    marg = simulate_autoencoder(ae, lr_a, steps, eps=eps, noise="marginalised", record_every=every, **common)
    marg_h = simulate_autoencoder(ae, lr_a / 2, 2 * steps, eps=eps, noise="marginalised", record_every=2 * every,
                                  **common)
    gam = _f("noise_equivalent_decay")(lam=lam, eps=eps)
    dec = simulate_autoencoder(ae, lr_a, steps, eps=0.0, gamma=gam, record_every=every, **common)
    dec_h = simulate_autoencoder(ae, lr_a / 2, 2 * steps, eps=0.0, gamma=gam, record_every=2 * every, **common)
    t = sampled.t.to("cpu", F64)
    us = sampled.mode_strengths[:, 0].cpu()  # (R, K, m)
    mean, var = us.mean(1), us.var(1)
    se = us.std(1) / math.sqrt(replicas)
    um, umh = marg.mode_strengths[:, 0, 0].cpu(), marg_h.mode_strengths[:, 0, 0].cpu()
    idx = torch.arange(len(lam_list))
    ud, udh = dec.mode_strengths[:, idx, 0, idx].cpu(), dec_h.mode_strengths[:, idx, 0, idx].cpu()  # mode i of config i
    dae = _f("dae_trajectory")
    tau = 1 / lr_a
    th_noise = dae(t=t[:, None], lam=lam, eps=eps, gamma=0.0, u0=u0_a, tau=tau)
    th_decay = dae(t=t[:, None], lam=lam, eps=0.0, gamma=gam, u0=u0_a, tau=tau)
    tl = _line(steps)
    line_noise = dae(t=tl[:, None], lam=lam, eps=eps, gamma=0.0, u0=u0_a, tau=tau)
    line_decay = dae(t=tl[:, None], lam=lam, eps=0.0, gamma=gam, u0=u0_a, tau=tau)
    plateau = lam / (lam + eps)
    labels = [f"lam={lam_list[i]:g}, t={int(tt)}" for tt in t.tolist() for i in range(len(lam_list))]
    from .agreement import EULER_MARGIN, RICHARDSON_TOL

    allowance = EULER_MARGIN * (um - umh).abs() + 2 * var.amax(1, keepdim=True) + RICHARDSON_TOL * plateau
    agreement.append(compare("sampled input noise: mean over replicas", mean - th_noise, K_SE * se + allowance,
                             labels=labels,
                             how=f"{K_SE:g} SE over {replicas} replicas + {EULER_MARGIN:g}·|u(lr) − u(lr/2)| of the "
                                 f"marginalised runs + 2·max_i Var u_i + {RICHARDSON_TOL:g}·plateau"))
    agreement += euler("noise, marginalised", um, umh, th_noise, plateau, labels=labels)
    agreement += euler("equivalent weight decay", ud, udh, th_decay, plateau, labels=labels)
    noise = dict(eps=eps, u0=u0_a, lr=lr_a, n=n_in, examples=P, replicas=replicas, flow_time_line=_list(tl * lr_a),
                 flow_time=_list(t * lr_a),
                 modes=[dict(lam=lam_list[i], gamma=float(gam[i]), plateau=float(plateau[i]),
                             noise_line=_list(line_noise[:, i]), decay_line=_list(line_decay[:, i]),
                             noise_simulation=_list(mean[:, i]), noise_standard_error=_list(se[:, i]),
                             decay_simulation=_list(ud[:, i]), noise_theory=_list(th_noise[:, i]),
                             decay_theory=_list(th_decay[:, i])) for i in range(len(lam_list))])
    return dict(figure="weight_decay_vs_noise", decay=decay, noise=noise, agreement=agreement, seed=seed,
                device=str(device),
                settings=f"(a) GD on a two-layer linear net (width {n}, whitened data), lr = {lr_d:g}; (b) GD on a "
                         f"linear denoising autoencoder, n = {n_in}, P = {P}, lr = {lr_a:g}; noise: mean ± SE of "
                         f"{replicas} replicas")


@single_thread()
def dropout_time(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """Steps until ``u = w2 w1`` of the dropout unit ``ŷ = w2 d w1`` (``x = 1``, target ``s = 1``, ``d ~ Bern(p)``
    in ``{0, 1}``, ``lr = 0.02``, ``τ = 50``) first reaches ``s − margin`` from ``u0 = margin``: mean and standard
    error over ``runs`` independent runs, against ``p`` (``margin = 0.25``) and against ``margin`` (``p = 0.5``).

    Tolerance of the expected time: ``K_SE`` standard errors plus the first-order GD error of the number ``K`` of
    active steps a run needs (every run hits after exactly ``K`` active steps, so ``E[t] = K/p``): ``K`` at ``lr``
    and at ``lr/2`` (from runs with ``p = 1``) give the flow-time error ``|K(lr) − K(lr/2)/2|`` in steps at ``lr``,
    allowed ``EULER_MARGIN`` times, plus 1.5 steps of rounding (a hitting time is a whole step), divided by ``p``.
    The bound is checked one-sidedly: the mean may exceed it by at most ``K_SE`` standard errors."""
    from learndyn.verify.simulate import dropout_hitting_times

    from .agreement import EULER_MARGIN

    s, lr = 1.0, 0.02
    tau = 1 / lr
    runs = 400 if quick else 4000
    expected, tbound = _f("dropout_expected_time"), _f("dropout_time_bound")
    panels, agreement = [], []
    for vary, ps, margins in (("p", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [0.25] * 10),
                              ("margin", [0.5] * 9, [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45])):
        p = torch.tensor(ps, dtype=F64)
        m = torch.tensor(margins, dtype=F64)
        # K: active steps a run needs, from deterministic runs (p = 1) at lr and at lr/2
        k_lr = dropout_hitting_times(s=s, p=1.0, lr=lr, level=s - m, u0=m, runs=1, max_steps=100_000,
                                     device=device).steps[:, 0].cpu().to(F64)
        k_half = dropout_hitting_times(s=s, p=1.0, lr=lr / 2, level=s - m, u0=m, runs=1, max_steps=200_000,
                                       device=device).steps[:, 0].cpu().to(F64)
        max_steps = int(float((k_lr / p).max()) * 3 + 40 * math.sqrt(float(k_lr.max())) / float(p.min()) + 100)
        hits = dropout_hitting_times(s=s, p=p, lr=lr, level=s - m, u0=m, runs=runs, max_steps=max_steps, seed=seed,
                                     device=device)
        if not bool(hits.hit.all()):
            raise RuntimeError(f"dropout_time: some runs did not hit within {max_steps} steps")
        steps = hits.steps.cpu().to(F64)
        mean, se = steps.mean(1), steps.std(1) / math.sqrt(runs)
        th = expected(s=s, p=p, margin=m, tau=tau)
        bd = tbound(s=s, p=p, margin=m, tau=tau)
        allowance = (EULER_MARGIN * (k_lr - k_half / 2).abs() + 1.5) / p
        labels = [f"p={a:g}, margin={b:g}" for a, b in zip(ps, margins)]
        agreement.append(compare(f"mean hitting time against dropout_expected_time ({vary} sweep)", mean - th,
                                 K_SE * se + allowance, labels=labels,
                                 how=f"{K_SE:g} SE over {runs} runs + ({EULER_MARGIN:g}·|K(lr) − K(lr/2)/2| + 1.5)/p "
                                     f"steps (first-order GD error of the active steps K, and rounding)"))
        agreement.append(bound(f"mean hitting time below dropout_time_bound ({vary} sweep)", mean - bd, K_SE * se,
                               labels=labels, how=f"{K_SE:g} SE over {runs} runs (one-sided)"))
        if vary == "p":
            grid = torch.linspace(0.08, 1.0, 200, dtype=F64)
            line = dict(x=_list(grid), expected=_list(expected(s=s, p=grid, margin=0.25, tau=tau)),
                        bound=_list(tbound(s=s, p=grid, margin=0.25, tau=tau)))
        else:
            grid = torch.linspace(0.02, 0.49, 200, dtype=F64)
            line = dict(x=_list(grid), expected=_list(expected(s=s, p=0.5, margin=grid, tau=tau)),
                        bound=_list(tbound(s=s, p=0.5, margin=grid, tau=tau)))
        panels.append(dict(vary=vary, p=ps, margin=margins, mean=_list(mean), standard_error=_list(se),
                           theory=_list(th), bound=_list(bd), active_steps=_list(k_lr), line=line))
    return dict(figure="dropout_time", s=s, lr=lr, tau=tau, runs=runs, panels=panels, agreement=agreement,
                seed=seed, device=str(device),
                settings=f"GD on $\\hat y = w_2 d w_1$ ($x = 1$, target $s = 1$, lr = {lr:g}, $\\tau = {tau:g}$), "
                         f"$d \\sim \\mathrm{{Bern}}(p) \\in \\{{0, 1\\}}$ redrawn every step; "
                         f"mean ± SE of {runs} runs per point")
