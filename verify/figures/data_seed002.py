"""The data behind seed 002's figures (family 5): theory beside gradient descent on ReLU classifiers, as JSON-able
dicts (the conventions of :mod:`learndyn.verify.figures.data_seed000`: ``settings``, curves, ``agreement``).

* :func:`margin_curves`: ``classification_mode_trajectory`` against GD (fully connected network, two features of
  opposite class, decoupled balanced start), logistic and hinge loss, depths 1–3, with ``margin_inflection`` and
  ``hinge_stopping_time`` marked;
* :func:`failure_phase_diagram`: GD outcomes of two-layer starts ``(a0, v0)`` over the rule's boundary (``a0 = 0``,
  ``a0 = |v0|`` on the wrong-sign side), and the time a wrong-sign start takes to cross margin 0 against
  ``wrong_sign_crossing_time``;
* :func:`starvation`: the rare feature's margin beside a frequent one against its control (the rare feature alone;
  ``classification_mode_trajectory`` with frequency ``q P``), logistic loss, and the hinge loss's frozen rare margin
  against ``starved_margin``.

Every GD run is repeated at ``lr/2`` (the discretisation tolerance of :func:`~learndyn.verify.figures.agreement.euler`).
"""
from __future__ import annotations

import math

import torch

from .agreement import compare, euler
from .threads import single_thread

__all__ = ["margin_curves", "failure_phase_diagram", "starvation"]

F64 = torch.float64


def _f(name: str):
    import learndyn

    return learndyn.function(name)


def _list(v) -> list:
    return torch.as_tensor(v).detach().cpu().tolist()


def _two_runs(data, start, lr: float, steps: int, **kw):
    from learndyn.verify.simulate import train_classifier

    return [train_classifier(data, start, lr / k, k * steps, **kw) for k in (1, 2)]


# ---------------------------------------------------------------- margin curves


@single_thread()
def margin_curves(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """Per depth ``L = 1, 2, 3`` one network per loss (two features: ``m0 = 0.02``, ``p = 0.4``, ``r = 1``, class +1,
    and ``r = 1.5``, class −1), ``lr · L p r^{2/L} = 0.01`` (``0.04`` with ``quick``), every step recorded; the
    margins at 40 flow times. Hinge margins are compared before the GD stop and, after it, by the bracket
    ``[last margin below 1, frozen margin]`` of the ``lr/2`` run (the flow stops at exactly 1). GD is deterministic
    (``seed`` is unused)."""
    from learndyn.verify.simulate import decoupled_start, first_crossing, orthogonal_features

    m0, p = 0.02, 0.4
    r = torch.tensor([[1.0, 1.5]], dtype=F64, device=device)
    classes = torch.tensor([[1.0, -1.0]], dtype=F64, device=device)
    kappa = 0.04 if quick else 0.01
    traj = _f("classification_mode_trajectory")
    panels, agreement = [], []
    for depth in (1, 2, 3):
        rate = depth * p * 1.5 ** (2.0 / depth)
        t_end = {1: 30.0, 2: 22.0, 3: 40.0}[depth] / (depth * p)
        steps = int(math.ceil(t_end * rate / kappa))
        lr = t_end / steps
        data = orthogonal_features(r.expand(2, 2), p, classes, device=device)
        start = decoupled_start(m0, r.expand(2, 2), classes, depth, device=device)
        coarse, fine = _two_runs(data, start, lr, steps, loss=["logistic", "hinge"])
        idx = torch.arange(0, steps + 1, max(1, steps // 40), device=device)
        t = coarse.t[idx, 0].cpu()
        tl = torch.linspace(0.0, t_end, 301, dtype=F64)
        curves = []
        for b, loss in enumerate(("logistic", "hinge")):
            u, uh = coarse.margins[idx, b].cpu(), fine.margins[2 * idx, b].cpu()
            th = traj(t=t[:, None], m0=m0, p=p, r=r[0].cpu(), depth=depth, loss=loss)
            line = traj(t=tl[:, None], m0=m0, p=p, r=r[0].cpu(), depth=depth, loss=loss)
            keep = torch.ones_like(u, dtype=torch.bool)
            if loss == "hinge":
                stops = [first_crossing(run, torch.ones((), dtype=F64))[b].cpu() for run in (coarse, fine)]
                gap = (stops[0] - stops[1]).abs()
                before = torch.minimum(stops[0], stops[1]) - 2 * gap - 2 * lr
                after = torch.maximum(stops[0], stops[1]) + 2 * gap + 2 * lr
                keep = t[:, None] < before
                m = fine.margins[:, b].cpu()
                first = (m >= 1).to(torch.int64).argmax(0)
                frozen, last_below = m[first, torch.arange(2)], m[first - 1, torch.arange(2)]
                late = t[:, None] > after
                mid = ((frozen + last_below) / 2).expand_as(th)
                agreement.append(compare(f"hinge stop at margin 1, depth {depth}", (mid - th)[late],
                                         ((frozen - last_below) / 2 + 1e-12).expand_as(th)[late],
                                         how="the theory within [last margin below 1, frozen margin] of the lr/2 run"))
            labels = [f"depth {depth}, {loss}, feature {k + 1}, t={float(tt):.3g}" for tt in t for k in range(2)]
            keep_flat = keep.reshape(-1).tolist()
            agreement += euler(f"margin, depth {depth}, {loss}", u[keep], uh[keep], th[keep], torch.ones_like(th)[keep],
                               labels=[lab for lab, k in zip(labels, keep_flat) if k])
            curves.append(dict(loss=loss, t=_list(t), simulation=_list(u.T), theory=_list(th.T), t_line=_list(tl),
                               theory_line=_list(line.T)))
        marks = {}
        if depth >= 2:
            infl = _f("margin_inflection")(m0=m0, p=p, r=r[0].cpu(), depth=depth)
            marks["inflection"] = dict(margin=_list(infl.margin), time=_list(infl.time))
        marks["hinge_stop"] = _list(_f("hinge_stopping_time")(m0=m0, p=p, r=r[0].cpu(), depth=depth))
        panels.append(dict(depth=depth, lr=lr, steps=steps, r=_list(r[0]), curves=curves, marks=marks))
    return dict(figure="margin_curves", m0=m0, p=p, panels=panels, agreement=agreement, seed=seed,
                device=str(device),
                settings=rf"full-batch GD on fully connected ReLU networks of depth $L$ from the decoupled balanced "
                         rf"start ($m_0 = {m0:g}$, $p = {p:g}$, $r = 1$ and $1.5$ for two features of opposite class), "
                         rf"$t = \mathrm{{lr}} \times$ steps, $\mathrm{{lr}} \cdot L p r^{{2/L}} \leq {kappa:g}$ "
                         rf"(deterministic: one run per depth and loss)")


# ---------------------------------------------------------------- failure region


@single_thread()
def failure_phase_diagram(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """(a) GD from a grid of two-layer starts ``(a0, v0)`` (``p = 0.5``, ``r = 1``, class ``c = +1``; logistic loss):
    learned (margin > 0 at the end) or not, against the rule (learned iff ``a0 > 0`` and (``v0 > 0`` or
    ``a0 > |v0|``)). (b) Starts on the wrong side, ``v0 = −0.3``, ``Δ = a0² − v0²`` from 0.02 to 0.7 (geometric):
    the time to cross margin 0 against ``wrong_sign_crossing_time``, both losses (``lr·p r (a0² + v0²) ≤ κ``)."""
    from learndyn.verify.families.classification import KAPPA
    from learndyn.verify.families.classification_claims import failure_grid, failure_outcomes, predicted_success
    from learndyn.verify.simulate import first_crossing, orthogonal_features, two_layer_start

    p, r = 0.5, 1.0
    a0, v0 = failure_grid(points=6 if quick else 12, extent=0.6, device=device)
    out = failure_outcomes(a0, v0, p, r, "logistic", device, kappa=4 * KAPPA if quick else KAPPA)
    learned = (out["margin"][:, 0] > 0).cpu()
    rule = predicted_success(a0.cpu(), v0.cpu(), torch.ones(()))
    agreement = [compare("GD outcome against the rule a0 > 0 and (c v0 > 0 or a0 > |v0|)",
                         (learned != rule).to(F64), torch.full((learned.numel(),), 0.5, dtype=F64),
                         how="exact: every start's outcome (deviation 1 for a mismatch, tolerance 1/2)",
                         labels=[f"a0={float(a):.3g}, v0={float(v):.3g}" for a, v in zip(a0, v0)])]

    n = 8 if quick else 16
    delta = torch.logspace(math.log10(0.02), math.log10(0.7), n, dtype=F64, device=device)
    v_line = torch.full_like(delta, -0.3)
    a_line = torch.sqrt(delta + v_line**2)
    m0 = r * a_line * v_line
    cross = _f("wrong_sign_crossing_time")
    times = {}
    classes = torch.ones(1, 1, dtype=F64, device=device)
    for loss in ("logistic", "hinge"):
        th = cross(m0=m0.cpu(), delta=delta.cpu(), p=p, r=r, loss=loss)
        t_end = 1.3 * float(th.max())
        steps = int(math.ceil(t_end * p * r * max(1.0, float((a_line**2 + v_line**2).max())) / (KAPPA * (2 if quick else 1))))
        data = orthogonal_features(torch.full((n, 1), r, dtype=F64, device=device), p, classes, device=device)
        runs = _two_runs(data, two_layer_start(a_line.unsqueeze(1), v_line.unsqueeze(1), device=device), t_end / steps,
                         steps, loss=loss)
        hc, hf = (first_crossing(run, torch.zeros((), dtype=F64))[:, 0].cpu() for run in runs)
        agreement += euler(f"time to cross margin 0, {loss}", hc, hf, th, th,
                           labels=[f"{loss}, a0={float(a):.3g}" for a in a_line])
        line_a = torch.sqrt(0.09 + torch.logspace(math.log10(0.01), math.log10(0.8), 200, dtype=F64))
        times[loss] = dict(delta=_list(delta), simulation=_list(hc), theory=_list(th),
                           delta_line=_list(line_a**2 - 0.09),
                           theory_line=_list(cross(m0=-r * 0.3 * line_a, delta=line_a**2 - 0.09, p=p, r=r, loss=loss)))
    return dict(figure="failure_phase_diagram", p=p, r=r, a0=_list(a0), v0=_list(v0), learned=_list(learned),
                rule=_list(rule), crossing=times, v0_line=-0.3, agreement=agreement, seed=seed, device=str(device),
                settings=rf"full-batch GD on two-layer ReLU networks, one unit on a feature of class $c = +1$ "
                         rf"($p = {p:g}$, $r = {r:g}$), logistic loss in (a), "
                         rf"$t = \mathrm{{lr}} \times$ steps (deterministic: one run per start)")


# ---------------------------------------------------------------- starvation


@single_thread()
def starvation(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """One path per feature, depth 2; the frequent feature 1 (``r1 = 1.5``) in every example of its class
    (``P = 0.5``), the rare feature 2 (``r2 = 1``) in ``q = 0.2`` of them, both from ``m0 = 0.01``. (a) logistic
    loss: ``m1``, ``m2`` and the control's ``m2`` (the rare feature alone), which follows
    ``classification_mode_trajectory`` with frequency ``q P``; (b) their ratio ``m2/m2_control``; (c) hinge loss:
    the rare margin freezes at ``starved_margin`` while the control's reaches 1."""
    from learndyn.verify.families.classification import KAPPA, frozen_rare_margin, starvation_run

    P, q, r1, r2, m10, m20, depth = 0.5, 0.2, 1.5, 1.0, 0.01, 0.01, 2
    kappa = 4 * KAPPA if quick else KAPPA
    v = {k: torch.tensor([x], dtype=F64, device=device) for k, x in
         (("m10", m10), ("m20", m20), ("r1", r1), ("r2", r2), ("q", q), ("class_fraction", P))}
    traj = _f("classification_mode_trajectory")
    agreement = []
    # (a), (b) logistic: run until the control's rare margin reaches about 2
    t_end = 60.0
    runs = {name: [starvation_run(depth, v, s, device, loss="logistic", horizon=torch.tensor([t_end]), kappa=kappa,
                                  control=control)[0] for s in (1.0, 0.5)]
            for name, control in (("full", False), ("control", True))}
    steps = runs["full"][0].steps.numel() - 1
    idx = torch.arange(0, steps + 1, max(1, steps // 60))
    t = runs["full"][0].t[idx, 0].cpu()
    m = {name: [rr[0].feature_margins[idx, 0].cpu(), rr[1].feature_margins[2 * idx, 0].cpu()] for name, rr in runs.items()}
    th_control = traj(t=t, m0=m20, p=q * P, r=r2, depth=depth, loss="logistic")
    agreement += euler("control: rare margin (feature alone)", m["control"][0][:, 1], m["control"][1][:, 1], th_control,
                       th_control, labels=[f"t={float(x):.3g}" for x in t])
    tl = torch.linspace(0.0, t_end, 301, dtype=F64)
    logistic = dict(t=_list(t), m1=_list(m["full"][0][:, 0]), m2=_list(m["full"][0][:, 1]),
                    m2_control=_list(m["control"][0][:, 1]), t_line=_list(tl),
                    control_line=_list(traj(t=tl, m0=m20, p=q * P, r=r2, depth=depth, loss="logistic")),
                    m1_alone_line=_list(traj(t=tl, m0=m10, p=P, r=r1, depth=depth, loss="logistic")))
    # (c) hinge
    t_h = 1.3 * float(_f("hinge_stopping_time")(m0=m20, p=q * P, r=r2, depth=depth))
    hinge_runs = {name: [starvation_run(depth, v, s, device, loss="hinge", horizon=torch.tensor([t_h]), kappa=kappa,
                                        control=control)[0] for s in (1.0, 0.5)]
                  for name, control in (("full", False), ("control", True))}
    frozen = [frozen_rare_margin(run).cpu() for run in hinge_runs["full"]]
    starved = _f("starved_margin")(m10=m10, m20=m20, r1=r1, r2=r2, q=q, class_fraction=P, depth=depth)
    agreement += euler("hinge: frozen rare margin", frozen[0], frozen[1], starved, starved)
    steps_h = hinge_runs["full"][0].steps.numel() - 1
    idx_h = torch.arange(0, steps_h + 1, max(1, steps_h // 60))
    th_ctrl_h = traj(t=hinge_runs["control"][0].t[idx_h, 0].cpu(), m0=m20, p=q * P, r=r2, depth=depth, loss="hinge")
    tlh = torch.linspace(0.0, t_h, 301, dtype=F64)
    hinge = dict(t=_list(hinge_runs["full"][0].t[idx_h, 0]), m2=_list(hinge_runs["full"][0].feature_margins[idx_h, 0, 1]),
                 m1=_list(hinge_runs["full"][0].feature_margins[idx_h, 0, 0]),
                 m2_control=_list(hinge_runs["control"][0].feature_margins[idx_h, 0, 1]), t_line=_list(tlh),
                 control_line=_list(traj(t=tlh, m0=m20, p=q * P, r=r2, depth=depth, loss="hinge")),
                 starved=float(starved), control_theory=_list(th_ctrl_h))
    return dict(figure="starvation", P=P, q=q, r1=r1, r2=r2, m10=m10, m20=m20, depth=depth, logistic=logistic,
                hinge=hinge, agreement=agreement, seed=seed, device=str(device),
                settings=rf"full-batch GD, depth {depth}, one path per feature: feature 1 ($r_1 = {r1:g}$) in every "
                         rf"example of its class ($P = {P:g}$ of the data), feature 2 ($r_2 = {r2:g}$) in $q = {q:g}$ "
                         rf"of them; control: feature 2 alone in those examples; $m_0 = {m10:g}$ "
                         rf"(deterministic: one run each)")
