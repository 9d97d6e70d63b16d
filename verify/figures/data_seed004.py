"""The data behind seed 004's figures (family 4): the NTK phase diagram, trainability and generalisation against
depth, and wide networks trained by gradient descent against the NTK's closed-form dynamics.

* :func:`ntk_phase_diagram`: ``chi1`` and ``kernel_depth_scales`` (erf) over a ``(σ_w², σ_b²)`` grid, each from
  one broadcast call; on the cut ``σ_b² = 0.05``, ``ξ_c`` against the depth scale measured from the
  ``nngp_kernel`` recursion itself (two inputs started at ``q*`` a small distance ``δ`` from ``c*``; their
  correlation approaches ``c*`` like ``e^{−l/ξ_c}``).
* :func:`ntk_depth_metrics`: ``ntk_condition_number`` ``κ`` and the spread of ``mean_prediction`` over the test
  inputs against depth, from ``ntk_kernel`` on the synthetic teacher task of
  :mod:`learndyn.verify.families.ntk_claims`,
  in the ordered (``σ_w² = 0.5``) and chaotic (``σ_w² = 25``) phase, with the asymptotic laws that the phase
  results predict: ordered ``κ ∝ 1/(l χ1^l)``; chaotic ``κ − 1 ∝ χ1^{−l}`` and spread ``∝ l (χ_c*/χ1)^l``
  (``χ_c* = e^{−1/ξ_c}``; the input-dependent part of ``Θ^l`` decays like ``l χ_c*^l`` while its diagonal grows
  like ``χ1^l``).
* :func:`ntk_mse_dynamics`: one-hidden-layer erf networks in both phases trained by full-batch GD
  (:func:`learndyn.verify.simulate.train_mse`) against ``mse_train_prediction`` / ``mse_test_prediction`` with
  the infinite-width ``ntk_kernel`` and each network's own initial outputs ``f0``.

Agreement (:mod:`learndyn.verify.figures.agreement`): the phase-diagram cut compares two depth scales found in
different ways (the fixed-point solvers against the kernel recursion), its tolerance estimated from a second
measurement at ``δ/2`` (the measured scale is off by ``O(δ)``); the depth metrics compare fitted exponents with
the predicted ones within ``EXPONENT_TOL``; the trained networks are compared statistically (module
docstring of :func:`ntk_mse_dynamics`).
"""
from __future__ import annotations

import math

import torch

from .agreement import K_SE, compare
from .threads import single_thread

__all__ = ["ntk_phase_diagram", "ntk_depth_metrics", "ntk_mse_dynamics", "EXPONENT_TOL", "FIT", "ORDERED",
           "CHAOTIC"]

F64 = torch.float64
EXPONENT_TOL = 0.05
#: depth windows of the asymptote fits: where the exponent is within about 2 % and κ is resolved in float64
FIT = {"ordered kappa": (12, 24), "chaotic kappa": (16, 22), "chaotic spread": (12, 22)}
ORDERED = (0.5, 0.05)
CHAOTIC = (25.0, 0.05)
_EPS = torch.finfo(F64).eps


def _f(name: str):
    import learndyn

    return learndyn.function(name)


def _list(v) -> list:
    return torch.as_tensor(v).detach().cpu().tolist()


# ---------------------------------------------------------------- phase diagram


def _pair_at(q_star: float, c0: float, sigma_w2: float, sigma_b2: float) -> torch.Tensor:
    """Two inputs in R² whose first dense layer gives ``K¹ = q* [[1, c0], [c0, 1]]`` (needs ``q* > σ_b²``)."""
    r2 = (q_star - sigma_b2) / sigma_w2 * 2  # |x|²/d = (q* − σ_b²)/σ_w², d = 2
    cos = (q_star * c0 - sigma_b2) / (q_star - sigma_b2)
    sin = math.sqrt(max(0.0, 1.0 - cos * cos))
    return math.sqrt(r2) * torch.tensor([[1.0, 0.0], [cos, sin]], dtype=F64)


def _measured_depth_scale(sigma_w2: float, sigma_b2: float, delta: float, layers: tuple[int, int]) -> float:
    """``(l2 − l1)/ln(|c^{l1} − c*|/|c^{l2} − c*|)`` of the ``nngp_kernel`` recursion from ``c¹ = c* ± δ`` at
    ``q*`` (``c^l`` is the correlation of the kernel after ``l`` dense layers, ``hidden_layers = l − 1``)."""
    fp = _f("kernel_fixed_point")(sigma_w2=sigma_w2, sigma_b2=sigma_b2, activation="erf")
    q_star, c_star = float(fp.q_star), float(fp.c_star)
    c0 = c_star - delta if c_star + delta >= 1.0 else c_star + delta
    x = _pair_at(q_star, c0, sigma_w2, sigma_b2)
    gaps = []
    for l in layers:
        k = _f("nngp_kernel")(x1=x, x2=None, hidden_layers=l - 1, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                              activation="erf")
        gaps.append(abs(float(k[0, 1] / torch.sqrt(k[0, 0] * k[1, 1])) - c_star))
    return (layers[1] - layers[0]) / math.log(gaps[0] / gaps[1])


def ntk_phase_diagram(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """``χ1`` and ``ξ_c`` of erf networks over ``σ_w² ∈ [0.1, 100]`` (log grid) × ``σ_b² ∈ [0.01, 2]`` (160 × 120,
    or 40 × 30 when ``quick``), and the cut ``σ_b² = 0.05`` with measured depth scales at a few ``σ_w²``.
    No randomness (``seed`` unused); computed on the CPU in float64."""
    nw, nb = (40, 30) if quick else (160, 120)
    w = torch.logspace(-1, 2, nw, dtype=F64)
    b = torch.linspace(0.01, 2.0, nb, dtype=F64)
    chi = _f("chi1")(sigma_w2=w, sigma_b2=b[:, None], activation="erf")
    xi = _f("kernel_depth_scales")(sigma_w2=w, sigma_b2=b[:, None], activation="erf").xi_c
    # the cut σ_b² = 0.05
    sb2 = 0.05
    wc = torch.logspace(-1, 2, 200 if not quick else 60, dtype=F64)
    scales = _f("kernel_depth_scales")(sigma_w2=wc, sigma_b2=sb2, activation="erf")
    chi_c = _f("chi1")(sigma_w2=wc, sigma_b2=sb2, activation="erf")
    measured_w = [0.2, 0.5, 1.0, 3.0, 10.0, 25.0, 60.0] if not quick else [0.5, 3.0, 25.0]
    delta = 1e-4
    points, dev, tol, labels = [], [], [], []
    for sw2 in measured_w:
        xi_th = float(_f("kernel_depth_scales")(sigma_w2=sw2, sigma_b2=sb2, activation="erf").xi_c)
        l1 = 1 + math.ceil(2 * xi_th)
        layers = (l1, l1 + max(2, math.ceil(4 * xi_th)))
        m1 = _measured_depth_scale(sw2, sb2, delta, layers)
        m2 = _measured_depth_scale(sw2, sb2, delta / 2, layers)
        points.append(dict(sigma_w2=sw2, depth_scale=m2, depth_scale_at_2delta=m1, theory=xi_th, layers=list(layers)))
        dev.append(m2 - xi_th)
        tol.append(3 * abs(m1 - m2) + 1e-6 * xi_th)
        labels.append(f"σ_w² = {sw2:g}, σ_b² = {sb2:g}")
    agreement = [compare("ξ_c (kernel_depth_scales) against the nngp_kernel recursion", dev, tol, labels=labels,
                         how="3·|ξ(δ) − ξ(δ/2)| (the measurement's O(δ) error, δ = 1e-4, 50 % margin) + 1e-6·ξ")]
    return dict(figure="ntk_phase_diagram", activation="erf", sigma_w2=_list(w), sigma_b2=_list(b), chi1=_list(chi),
                xi_c=_list(xi), phases=dict(ordered=list(ORDERED), chaotic=list(CHAOTIC)),
                cut=dict(sigma_b2=sb2, sigma_w2=_list(wc), xi_c=_list(scales.xi_c), xi_1=_list(scales.xi_1),
                         chi1=_list(chi_c), measured=points),
                agreement=agreement, seed=seed, device="cpu",
                settings=r"erf; $\chi_1$ and $\xi_c$ from one broadcast call each over the grid; points: the depth "
                         r"scale of the nngp_kernel recursion ($c^l - c^* \propto e^{-l/\xi_c}$)")


# ---------------------------------------------------------------- trainability and generalisation against depth


def _slope(xs, ys) -> float:
    x = torch.tensor(xs, dtype=F64)
    y = torch.tensor(ys, dtype=F64)
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def ntk_depth_metrics(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """``κ`` and the spread of the mean prediction (``prediction_spread``: std over test rows / rms of the targets)
    against depth ``l = 1 … 24`` in both phases, from ``ntk_kernel`` on ``teacher_task(seed)`` (24 train, 8 test
    rows, ``d = 16``). Asymptotes (module docstring) are fitted in log space over the ``FIT`` windows, their
    slopes compared with the predicted exponents within ``EXPONENT_TOL`` (5 %: in these windows the local slopes
    still drift by 0.1–2 % of the exponent — for seed 0: ordered 1.8 %, chaotic ``κ − 1`` 1.2 %, spread 0.3 %).
    Depths whose ``κ`` is not resolved in float64 (``κ·eps > 1e-6``, or ``κ − 1 < 1e3·eps``) are marked. ``quick``
    changes nothing (infinite width is cheap)."""
    from learndyn.verify.families.ntk_claims import prediction_spread, teacher_task

    x_train, y_train, x_test = teacher_task(seed, d=16)
    n = x_train.shape[0]
    depths = list(range(1, 25))
    out, agreement = {}, []
    for name, (sw2, sb2) in (("ordered", ORDERED), ("chaotic", CHAOTIC)):
        kappa, spread = [], []
        for l in depths:
            theta = _f("ntk_kernel")(x1=torch.cat([x_train, x_test]), x2=x_train, hidden_layers=l, sigma_w2=sw2,
                                     sigma_b2=sb2, activation="erf")
            tt, st = theta[:n], theta[n:]
            kappa.append(float(_f("ntk_condition_number")(ntk_train_train=tt)))
            pred = _f("mean_prediction")(ntk_test_train=st, ntk_train_train=tt, y_train=y_train)
            spread.append(prediction_spread(pred, y_train))
        chi = float(_f("chi1")(sigma_w2=sw2, sigma_b2=sb2, activation="erf"))
        xi_c = float(_f("kernel_depth_scales")(sigma_w2=sw2, sigma_b2=sb2, activation="erf").xi_c)
        resolved = [k * _EPS <= 1e-6 and k - 1 >= 1e3 * _EPS for k in kappa]
        rec = dict(sigma_w2=sw2, sigma_b2=sb2, chi1=chi, xi_c=xi_c, depth=depths, kappa=kappa, spread=spread,
                   resolved=resolved, asymptotes={})
        # (quantity, y(l, value), value(l, y), predicted slope of y, what y is, fit window)
        if name == "ordered":
            laws = [("kappa", lambda l, v: math.log(l * v), lambda l, y: math.exp(y) / l, -math.log(chi), "ln(l κ)",
                     FIT["ordered kappa"])]
        else:
            laws = [("kappa", lambda l, v: math.log(v - 1), lambda l, y: 1 + math.exp(y), -math.log(chi), "ln(κ − 1)",
                     FIT["chaotic kappa"]),
                    ("spread", lambda l, v: math.log(v / l), lambda l, y: l * math.exp(y), -1 / xi_c - math.log(chi),
                     "ln(spread/l)", FIT["chaotic spread"])]
        for key, transform, inverse, predicted, what, (lo, hi) in laws:
            ls = [l for l in depths if lo <= l <= hi]
            ys = [transform(l, rec[key][l - 1]) for l in ls]
            slope = _slope(ls, ys)
            # the asymptote with the predicted exponent through the window's mean point
            l_mean, y_mean = sum(ls) / len(ls), sum(ys) / len(ys)
            grid = [l for l in depths if l >= 4]
            line = [inverse(l, y_mean + predicted * (l - l_mean)) for l in grid]
            rec["asymptotes"][key] = dict(depth=grid, value=line, fitted_slope=slope, predicted_slope=predicted,
                                          window=[lo, hi])
            agreement.append(compare(f"{name}: slope of {what} against depth (l = {lo}…{hi})", slope / predicted - 1,
                                     EXPONENT_TOL, labels=[f"{name}, fitted {slope:.4g}, predicted {predicted:.4g}"],
                                     how=f"{EXPONENT_TOL:.0%} of the predicted exponent (subleading drift, "
                                         f"measured 0.1–2 %)"))
        out[name] = rec
    return dict(figure="ntk_depth_metrics", activation="erf", n_train=n, n_test=x_test.shape[0], d=16,
                phases=out, agreement=agreement, seed=seed, device="cpu",
                settings=f"erf, $\\sigma_b^2 = 0.05$, infinite width (ntk_kernel); teacher task: {n} train / "
                         f"{x_test.shape[0]} test rows, d = 16; dashed: asymptotes from chi1 and kernel_depth_scales")


# ---------------------------------------------------------------- wide networks trained by gradient descent


def _flow_and_discrete(theta: torch.Tensor, theta_test: torch.Tensor, y: torch.Tensor, f0: torch.Tensor,
                       f0_test: torch.Tensor, lr: float, steps: list[int]) -> tuple[torch.Tensor, ...]:
    """Outputs of the linear model on ``Θ`` by gradient flow and by discrete GD (``(I − lr Θ/(n k))^t``), train and
    test, each (R, rows, k); used only for the discretisation allowance."""
    n, k = y.shape
    lam, v = torch.linalg.eigh(theta)
    lam = lam.clamp_min(0.0)
    eta = lr * lam / (n * k)
    t = torch.tensor(steps, dtype=F64)[:, None]
    flow = torch.exp(-eta * t)
    disc = (1 - eta) ** t
    r0 = v.mT @ (f0 - y)  # residual in the eigenbasis
    safe = torch.where(lam > 0, lam, 1.0)

    def train(decay):
        return y + v @ (decay[:, :, None] * r0)

    def test(decay):
        g = torch.where(lam > 0, (1 - decay) / safe, t * (lr / (n * k)))  # Θ⁻¹(I − decay), entire in λ
        return f0_test - theta_test @ v @ (g[:, :, None] * r0)

    return train(flow), train(disc), test(flow), test(disc)


@single_thread()
def ntk_mse_dynamics(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """One-hidden-layer erf networks (width 1024, 16 networks; width 256 when ``quick``) trained by full-batch GD on
    ``1/(2 n k) ‖f(X) − Y‖²`` (16 train rows of the teacher task, 8 test rows, ``d = 16``, ``k = 1``), in the ordered
    (``σ_w² = 0.5``) and chaotic (``σ_w² = 25``) phase (``σ_b² = 0.05``), at ``lr = η n k/λ_max(Θ)``
    (``η = 0.1``; 0.2 when ``quick``) for ``5 κ/η`` steps (``2 κ/η`` when ``quick``), against ``mse_train_prediction`` /
    ``mse_test_prediction`` with the infinite-width ``Θ = ntk_kernel`` and each network's own ``f0``.

    Agreement. (1) **The response to the targets.** Each network is trained twice from the same initialisation,
    on ``Y`` and on ``−Y``; half the difference of its outputs, ``(f_t[Y] − f_t[−Y])/2``, is its response to the
    targets, from which the random initial function ``f0`` cancels (exactly for the linearised network), and whose
    theory is ``mse_train_prediction`` / ``mse_test_prediction`` with ``f0 = 0``, i.e. ``(I − e^{−lr Θ t/(n k)}) Y``
    and ``Θ_{*X} Θ⁻¹ (I − e^{−lr Θ t/(n k)}) Y``. Its mean over networks must be within ``K_SE`` standard errors
    plus the exact difference between discrete GD and the flow for the linear model (first order in ``lr``) plus
    ``1e-3`` of ``rms(Y)``. With ``f0`` removed, this detects an error of a few per cent in ``Θ``. (2) **The plotted
    MSE** (each network's own ``f0`` in the theory): the mean over networks of ``MSE_sim − MSE_theory`` within
    ``K_SE`` SE plus the discrete-GD difference plus the mean of ``|f_sim − f_theory|²`` (a squared deviation
    of order ``1/N`` biases a difference of MSEs by that much); weaker, since ``f0`` dominates its spread."""
    from learndyn.verify.families.ntk_claims import teacher_task
    from learndyn.verify.simulate import train_mse

    width, networks, eta = (256, 16, 0.2) if quick else (1024, 16, 0.1)
    n, m, d = 16, 8, 16
    xs, ys, _ = teacher_task(seed, d=d, n_train=n + m, n_test=0)
    x_train, y_train, x_test, y_test = xs[:n], ys[:n], xs[n:], ys[n:]
    k = y_train.shape[1]
    y_rms = float(y_train.pow(2).mean().sqrt())
    train_fn, test_fn = _f("mse_train_prediction"), _f("mse_test_prediction")
    phases, agreement = {}, []

    def mse(f, y):  # (..., rows, k) → (...)
        return (f - y).pow(2).mean((-2, -1))

    for name, (sw2, sb2) in (("ordered", ORDERED), ("chaotic", CHAOTIC)):
        theta = _f("ntk_kernel")(x1=torch.cat([x_train, x_test]), x2=x_train, hidden_layers=1, sigma_w2=sw2,
                                 sigma_b2=sb2, activation="erf")
        tt, st = theta[:n], theta[n:]
        lam = torch.linalg.eigvalsh(tt)
        kappa = float(lam[-1] / lam[0])
        lr = eta * n * k / float(lam[-1])
        steps = int(math.ceil((2 if quick else 5) * kappa / eta))
        record = sorted({0} | {int(round(v)) for v in torch.logspace(0, math.log10(steps), 28).tolist()})
        kw = dict(hidden_layers=1, sigma_w2=sw2, sigma_b2=sb2, activation="erf", width=width, lr=lr, steps=steps,
                  record=record, networks=networks, seed=seed, device=device)
        plus = train_mse(x_train, y_train, x_test, **kw)
        minus = train_mse(x_train, -y_train, x_test, **kw)  # the same networks (same seed), targets −Y
        t = torch.tensor(record, dtype=F64)
        t_line = torch.cat([torch.linspace(0.0, 1.0, 11, dtype=F64)[:-1],
                            torch.logspace(0, math.log10(steps), 200, dtype=F64)])
        zero_tr, zero_te = torch.zeros_like(y_train), torch.zeros_like(y_test)

        # (1) the response to the targets against the theory with f0 = 0
        response = {"train": (plus.f_train - minus.f_train).cpu() / 2, "test": (plus.f_test - minus.f_test).cpu() / 2}
        resp_th = {"train": train_fn(t=t, lr=lr, ntk_train_train=tt, y_train=y_train, f0_train=zero_tr),
                   "test": test_fn(t=t, lr=lr, ntk_test_train=st, ntk_train_train=tt, y_train=y_train,
                                   f0_train=zero_tr, f0_test=zero_te)}
        flow_tr, disc_tr, flow_te, disc_te = _flow_and_discrete(tt, st, y_train, zero_tr, zero_te, lr, record)
        resp_disc = {"train": (disc_tr - flow_tr).abs(), "test": (disc_te - flow_te).abs()}

        # (2) the plotted MSE, theory with each network's own f0
        th = {"train": [], "test": []}
        line = {"train": [], "test": []}
        mse_disc = {"train": [], "test": []}
        for i in range(networks):
            f0, f0t = plus.f0_train[i].cpu(), plus.f0_test[i].cpu()
            th["train"].append(train_fn(t=t, lr=lr, ntk_train_train=tt, y_train=y_train, f0_train=f0))
            th["test"].append(test_fn(t=t, lr=lr, ntk_test_train=st, ntk_train_train=tt, y_train=y_train,
                                      f0_train=f0, f0_test=f0t))
            line["train"].append(train_fn(t=t_line, lr=lr, ntk_train_train=tt, y_train=y_train, f0_train=f0))
            line["test"].append(test_fn(t=t_line, lr=lr, ntk_test_train=st, ntk_train_train=tt, y_train=y_train,
                                        f0_train=f0, f0_test=f0t))
            a, b, c, e = _flow_and_discrete(tt, st, y_train, f0, f0t, lr, record)
            mse_disc["train"].append((mse(b, y_train) - mse(a, y_train)).abs())
            mse_disc["test"].append((mse(e, y_test) - mse(c, y_test)).abs())
        rec = dict(sigma_w2=sw2, sigma_b2=sb2, chi1=float(_f("chi1")(sigma_w2=sw2, sigma_b2=sb2, activation="erf")),
                   lr=lr, kappa=kappa, steps=steps, t=record, t_line=_list(t_line))
        for split, y, sim in (("train", y_train, plus.f_train.cpu()), ("test", y_test, plus.f_test.cpu())):
            rows = y.shape[0]
            labels = [f"{name}, {split}, t = {s}, row {r}" for s in record for r in range(rows)]
            dev = response[split] - resp_th[split]  # (networks, R, rows, k)
            se = dev.std(0) / math.sqrt(networks)
            agreement.append(compare(
                f"{name}: {split} response (f[Y] − f[−Y])/2, mean over networks", dev.mean(0),
                K_SE * se + resp_disc[split] + 1e-3 * y_rms, labels=labels,
                how=f"{K_SE:g} SE over {networks} networks + |discrete GD − flow| of the linear model + 1e-3·rms(Y)"))
            ths, lines = torch.stack(th[split]), torch.stack(line[split])
            ms, mt = mse(sim, y), mse(ths, y)
            dmse = ms - mt
            finite = (sim - ths).pow(2).mean((-2, -1)).mean(0)
            agreement.append(compare(
                f"{name}: {split} MSE, mean over networks", dmse.mean(0),
                K_SE * dmse.std(0) / math.sqrt(networks) + torch.stack(mse_disc[split]).mean(0) + finite
                + 1e-12 * mt.mean(0), labels=[f"{name}, {split}, t = {s}" for s in record],
                how=f"{K_SE:g} SE over {networks} networks + |discrete GD − flow| + mean |f_sim − f_theory|²"))
            shown = 3 if split == "train" else 2
            rec[split] = dict(
                simulation=_list(ms.mean(0)), standard_error=_list(ms.std(0) / math.sqrt(networks)),
                theory=_list(mt.mean(0)), theory_line=_list(mse(lines, y).mean(0)),
                outputs=dict(network=0, rows=list(range(shown)), simulation=_list(sim[0, :, :shown, 0]),
                             theory_line=_list(lines[0, :, :shown, 0]), target=_list(y[:shown, 0])))
        phases[name] = rec
    return dict(figure="ntk_mse_dynamics", activation="erf", hidden_layers=1, width=width, networks=networks,
                eta=eta, n_train=n, n_test=m, d=d, phases=phases, agreement=agreement, seed=seed, device=str(device),
                settings=f"{networks} erf networks (1 hidden layer, width {width}, $\\sigma_b^2 = 0.05$) trained by "
                         f"full-batch GD at $\\mathrm{{lr}} = {eta:g}\\, nk/\\lambda_{{\\max}}(\\Theta)$, mean ± SE; "
                         f"theory: infinite-width $\\Theta$ with each network's own $f_0$")
