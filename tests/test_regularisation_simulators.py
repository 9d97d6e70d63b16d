"""Tests of the family-2 (regularisation) simulators in learndyn.verify.simulate.

Every closed form used as a reference is written out here from THEORY.md ("Family 2"), independently of
the package. Conventions: ``t`` counts GD steps, ``tau = 1/lr``, flow time ``T = lr·t``.

Deterministic comparisons with the gradient flow check the *order*: GD is Euler on the flow, so halving
``lr`` (and doubling the steps) must halve the error (ratio in [1.6, 2.5]: a first-order error
``c1 lr + c2 lr²`` gives ratios ``2 (1 + c2 lr/c1)/(1 + c2 lr/(2 c1))``, within 20 % of 2 while the second-order
part stays under a third of the first), and the Richardson combination ``2 u(lr/2) − u(lr)`` removes the
first-order term (residual ``O(lr²)``, asserted below 1e-3).

Statistical comparisons use k = 5 standard errors (false-failure chance about 6e-7 per comparison, so
about 1e-4 over all comparisons here) plus a stated bound on any systematic bias; every random draw is
seeded, so a failure reproduces.
"""

from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.simulate import (
    AutoencoderRun,
    CovarianceData,
    DropoutHits,
    DropoutRun,
    covariance_dataset,
    dropout_hitting_times,
    simulate_autoencoder,
    simulate_deep_linear,
    simulate_dropout,
    simulate_scalar_network,
    whitened_dataset,
)

DEV = "cpu"
F64 = torch.float64
K_SE = 5.0  # standard errors allowed in statistical comparisons


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def t64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def assert_first_order(errors: list[torch.Tensor], lo: float = 1.6, hi: float = 2.5) -> None:
    """errors[i] at lr/2^i: each halving of lr must halve every error (ratio in [lo, hi])."""
    for big, small in zip(errors, errors[1:]):
        ratio = big / small
        assert bool(((ratio >= lo) & (ratio <= hi)).all()), f"error ratios {ratio} not in [{lo}, {hi}]; errors {errors}"


def logistic(T: torch.Tensor, K: torch.Tensor, r: torch.Tensor, u0) -> torch.Tensor:
    """Solution of du/dT = r u (1 − u/K) (i.e. du/dT = (r/K) u (K − u)) from u0, stable for r < 0 too.

    u = K E / (E − 1 + K/u0), E = e^{rT}; at r = 0 (K = 0: du/dT = −c u², removable) the caller passes the limit.
    """
    E = torch.exp(r * T)
    return K * E / (E - 1 + K / u0)


def weight_decay_reference(T: torch.Tensor, s, gamma, u0) -> torch.Tensor:
    """THEORY family 2: tau du/dt = 2u(s − γ − u): u = (s−γ)E/(E − 1 + (s−γ)/u0), E = e^{2(s−γ)t/τ};
    s = γ removable: u = u0/(1 + 2 u0 t/τ)."""
    k = s - gamma
    safe_k = torch.where(k == 0, torch.ones_like(k), k)
    general = logistic(T, safe_k, 2 * safe_k, u0)
    return torch.where(k == 0, u0 / (1 + 2 * u0 * T), general)


def dae_reference(T: torch.Tensor, lam, eps, gamma, u0) -> torch.Tensor:
    """THEORY family 2: tau du/dt = 2u(λ − γ − (λ+ε)u): u = (λ−γ)E/((λ+ε)(E − 1) + (λ−γ)/u0), E = e^{2(λ−γ)t/τ};
    λ = γ removable: u = u0/(1 + 2 (λ+ε) u0 t/τ)."""
    k = lam - gamma
    safe_k = torch.where(k == 0, torch.ones_like(k), k)
    E = torch.exp(2 * safe_k * T)
    general = safe_k * E / ((lam + eps) * (E - 1) + safe_k / u0)
    return torch.where(k == 0, u0 / (1 + 2 * (lam + eps) * u0 * T), general)


# ================================================================ weight decay: scalar network


def test_scalar_weight_decay_zero_is_bitwise_unchanged() -> None:
    x, y, u0, lr = t64([1.0, 0.5]), t64([2.0, -1.0]), t64([0.1, 0.3]), t64([0.02, 0.05])
    a = simulate_scalar_network(x, y, u0, lr, 50, imbalance=t64([0.2, -0.1]), device=DEV)
    b = simulate_scalar_network(x, y, u0, lr, 50, imbalance=t64([0.2, -0.1]), gamma=0.0, device=DEV)
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_scalar_weight_decay_matches_closed_form_to_first_order() -> None:
    # u = w2 w1 obeys du/dt = 2 lr u (x y − γ − x² u): logistic with K = (xy − γ)/x², rate 2(xy − γ) lr
    x, y = t64([1.0, 1.0, 0.5, 2.0, 1.0]), t64([2.0, 1.0, 3.0, 1.0, 0.5])
    gamma, u0 = t64([0.3, 1.0, 0.5, 0.2, 1.2]), t64([0.05, 0.2, 0.1, 0.01, 0.4])  # xy = γ; xy < γ
    errors, rich = [], []
    runs = {}
    for lr in (0.01, 0.005, 0.0025):
        steps = round(4.0 / lr)
        run = simulate_scalar_network(x, y, u0, lr, steps, gamma=gamma, record_every=round(0.1 / lr), device=DEV)
        T = lr * run.t.to(F64)[:, None]
        k = x * y - gamma
        safe_k = torch.where(k == 0, torch.ones_like(k), k)
        ref = torch.where(k == 0, u0 / (1 + 2 * x * x * u0 * T), logistic(T, safe_k / (x * x), 2 * safe_k, u0))
        errors.append((run.u - ref).abs().max(0).values)
        runs[lr] = (run.u, ref)
    assert bool((errors[0] < 0.05).all())
    assert_first_order(errors)
    (u1, ref), (u2, _) = runs[0.005], runs[0.0025]
    assert (2 * u2 - u1 - ref).abs().max() < 1e-3  # Richardson removes the first-order term


def test_scalar_weight_decay_removes_imbalance() -> None:
    x, y, u0 = t64([1.0, 2.0, 1.0]), t64([2.0, 1.0, 0.5]), t64([0.1, 0.05, 0.3])
    d0, gamma = t64([0.5, -0.3, 0.8]), t64([0.2, 0.5, 1.0])
    flow_time = 3.0
    errors = []
    for lr in (0.01, 0.005, 0.0025):
        run = simulate_scalar_network(x, y, u0, lr, round(flow_time / lr), imbalance=d0, gamma=gamma, device=DEV)
        imb = run.w2**2 - run.w1**2
        r = y - x * run.u
        # exact per-step law of GD with weight decay: imbalance × ((1 − lr γ)² − (lr r x)²)
        factor = (1 - lr * gamma) ** 2 - (lr * r[:-1] * x) ** 2
        assert torch.allclose(imb[1:], imb[:-1] * factor, rtol=1e-10, atol=1e-15)
        # gradient flow: imbalance(T) = d0 e^{−2γT}; GD follows it to first order in lr (relative error)
        flow = d0 * torch.exp(-2 * gamma * lr * run.t.to(F64)[:, None])
        errors.append((imb / flow - 1).abs().max(0).values)
    assert bool((errors[0] < 0.05).all())
    assert_first_order(errors)
    # the weight decay really removed most of it (e^{−2γT} ≤ e^{−1.2})
    assert bool((imb[-1].abs() < 0.31 * d0.abs()).all())


# ================================================================ weight decay: deep linear network

S3 = [3.0, 1.5, 0.5]


@pytest.fixture(scope="module")
def ds():
    return whitened_dataset(S3, 5, 4, 12, seed=1, device=DEV)


def test_deep_linear_weight_decay_zero_is_bitwise_unchanged(ds) -> None:
    for gradient in ("correlation", "autograd"):
        a = simulate_deep_linear(ds, 3, 0.02, 20, u0=0.1, gradient=gradient, device=DEV)
        b = simulate_deep_linear(ds, 3, 0.02, 20, u0=0.1, gradient=gradient, gamma=t64([0.0]), device=DEV)
        assert torch.equal(a.mode_strengths, b.mode_strengths) and torch.equal(a.loss, b.loss)


def test_deep_linear_D2_weight_decay_matches_closed_form(ds) -> None:
    s = t64(S3)
    gamma = t64([0.0, 0.4, 1.5])  # γ = 1.5: mode s = 1.5 is the removable case, mode s = 0.5 decays
    u0 = 0.05  # (not s − γ = 0.1 of config 1, mode 3: a fixed point, error pure round-off)
    errors, us = [], []
    for lr in (0.01, 0.005, 0.0025):
        run = simulate_deep_linear(ds, 2, lr, round(4.0 / lr), u0=u0, gamma=gamma, record_every=round(0.1 / lr),
                                   seed=3, device=DEV)
        T = lr * run.t.to(F64)[:, None, None]
        ref = weight_decay_reference(T, s, gamma[:, None], u0)  # (R, B, m)
        errors.append((run.mode_strengths - ref).abs().max(0).values)
        us.append(run.mode_strengths)
    assert bool((errors[0] < 0.05).all())
    assert_first_order(errors)
    assert (2 * us[2] - us[1] - ref).abs().max() < 1e-3  # Richardson: O(lr²) left
    # the fixed point s − γ is reached by the fast modes (rate 2(s − γ) ≥ 3)
    assert torch.allclose(us[2][-1, 0, :2], s[:2], atol=1e-3) and abs(us[2][-1, 1, 0].item() - 2.6) < 1e-3


def rk4(f, u0: float, grid: list[float], h: float) -> list[float]:
    out, u, T = [], u0, 0.0
    for target in grid:
        for _ in range(round((target - T) / h)):
            k1 = f(u)
            k2 = f(u + h / 2 * k1)
            k3 = f(u + h / 2 * k2)
            k4 = f(u + h * k3)
            u += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        T = target
        out.append(u)
    return out


def test_deep_linear_D3_weight_decay_modes(ds) -> None:
    D, u0, gamma, flow_time = 3, 0.05, 0.3, 4.0
    s = t64(S3)
    grid = [0.1 * i for i in range(int(flow_time / 0.1) + 1)]
    # tau du/dt = D u^{2−2/D} (s − u) − D γ u, integrated to ~1e-12 by RK4
    flows = torch.stack(
        [t64(rk4(lambda u, si=si: D * u ** (2 - 2 / D) * (si - u) - D * gamma * u, u0, grid, 1e-3)) for si in S3], -1
    )
    errors = []
    for lr in (0.01, 0.005, 0.0025):
        run = simulate_deep_linear(ds, D, lr, round(flow_time / lr), u0=u0, gamma=gamma, record_every=round(0.1 / lr),
                                   device=DEV)
        # GD from the balanced start: every layer has strength a with a ← a + lr (a^{D−1}(s − a^D) − γ a)
        a = torch.full((3,), u0 ** (1 / D), dtype=F64)
        discrete = [a**D]
        for _ in range(run.t[-1].item()):
            a = a + lr * (a ** (D - 1) * (s - a**D) - gamma * a)
            discrete.append(a**D)
        discrete = torch.stack(discrete)[run.t]
        assert torch.allclose(run.mode_strengths[:, 0], discrete, rtol=1e-11, atol=1e-13)
        errors.append((run.mode_strengths[:, 0] - flows).abs().max(0).values)
    assert bool((errors[0] < 0.1).all())  # stiffest mode: D s^{2−2/D} = 6.2 at s = 3
    assert_first_order(errors)


@pytest.mark.parametrize("D", [1, 2, 3])
@pytest.mark.parametrize("init", ["balanced", "random"])
def test_deep_linear_weight_decay_autograd_agrees(ds, D: int, init: str) -> None:
    kw = dict(hidden=6, init=init, u0=t64([0.3, 0.05, 0.8]), init_scale=0.7, seed=3, device=DEV,
              gamma=t64([0.1, 0.0, 0.5]))
    lr = t64([0.01, 0.05, 0.1])
    corr = simulate_deep_linear(ds, D, lr, 25, gradient="correlation", **kw)
    auto = simulate_deep_linear(ds, D, lr, 25, gradient="autograd", **kw)
    for wc, wa in zip(corr.weights_final, auto.weights_final):
        assert (wc - wa).abs().max() < 1e-12
    assert (corr.loss - auto.loss).abs().max() < 1e-12
    plain = simulate_deep_linear(ds, D, lr, 25, **(kw | dict(gamma=0.0)))
    assert (plain.weights_final[0][0] - corr.weights_final[0][0]).abs().max() > 1e-3  # the decay acts


def test_weight_decay_rejects_bad_input(ds) -> None:
    with pytest.raises(ValueError, match="gamma"):
        simulate_scalar_network(1.0, 1.0, 0.1, 0.01, 5, gamma=-0.1, device=DEV)
    with pytest.raises(ValueError, match="gamma"):
        simulate_scalar_network(1.0, 1.0, 0.1, 0.01, 5, gamma=float("nan"), device=DEV)
    with pytest.raises(ValueError, match="gamma"):
        simulate_deep_linear(ds, 2, 0.01, 5, gamma=t64([0.1, -1.0]), device=DEV)
    with pytest.raises(ValueError, match="batch sizes"):
        simulate_deep_linear(ds, 2, t64([0.01, 0.02]), 5, gamma=t64([0.1, 0.2, 0.3]), device=DEV)


# ================================================================ linear autoencoder

LAM = [2.0, 1.0, 0.5]


@pytest.fixture(scope="module")
def cov() -> CovarianceData:
    return covariance_dataset(LAM, 4, 24, seed=5, device=DEV)


@pytest.mark.parametrize("lam,n,P", [(LAM, 4, 24), ([3.0], 1, 5), ([1.0, 0.2, 4.0, 0.7], 6, 4)])
def test_covariance_dataset_is_exact(lam, n: int, P: int) -> None:
    data = covariance_dataset(lam, n, P, seed=2, device=DEV)
    m = len(lam)
    assert data.X.shape == (n, P) and data.Q.shape == (n, m) and data.X.dtype == F64
    assert (data.Q.T @ data.Q - torch.eye(m, dtype=F64)).abs().max() < 1e-13
    target = data.Q @ torch.diag(t64(lam)) @ data.Q.T
    assert (data.X @ data.X.T / P - target).abs().max() < 1e-13
    # per-configuration spectra share Q
    lam_b = torch.stack([t64(lam), 2 * t64(lam)])
    batched = covariance_dataset(lam_b, n, P, seed=2, device=DEV)
    assert batched.X.shape == (2, n, P) and torch.equal(batched.Q, data.Q)
    assert (batched.X[1] @ batched.X[1].T / P - 2 * target).abs().max() < 1e-13
    again = covariance_dataset(lam, n, P, seed=2, device=DEV)
    other = covariance_dataset(lam, n, P, seed=3, device=DEV)
    assert torch.equal(again.X, data.X) and not torch.equal(other.X, data.X)


@pytest.mark.parametrize(
    "kwargs,name",
    [(dict(lam=[1.0, 0.0]), "lam"), (dict(lam=[1.0, -2.0]), "lam"), (dict(lam=[1.0] * 5), "lam"),
     (dict(n_examples=2), "n_examples"), (dict(n=0), "n"), (dict(lam=[[[1.0]]]), "lam")],
)
def test_covariance_dataset_rejects_bad_input(kwargs: dict, name: str) -> None:
    args = dict(lam=[1.0, 0.5, 0.2], n=4, n_examples=8) | kwargs
    with pytest.raises(ValueError, match=name):
        covariance_dataset(**args, seed=0, device=DEV)


def test_autoencoder_marginalised_matches_dae_closed_form() -> None:
    # B = 4 configurations with their own spectrum, eps and gamma; includes λ = γ (removable) and λ < γ (decay)
    lam = t64([[2.0, 1.0, 0.5], [2.0, 1.0, 0.5], [1.5, 0.8, 0.3], [1.0, 0.5, 0.25]])
    eps, gamma = t64([0.0, 0.5, 1.0, 0.3]), t64([0.0, 0.1, 0.8, 0.5])  # config 3: λ = γ for mode 2, λ < γ mode 3
    data = covariance_dataset(lam, 5, 16, seed=4, device=DEV)
    u0 = t64([0.05, 0.01, 0.2, 0.1])
    errors, us = [], []
    for lr in (0.01, 0.005, 0.0025):
        run = simulate_autoencoder(data, lr, round(4.0 / lr), eps=eps, gamma=gamma, u0=u0, hidden=4,
                                   record_every=round(0.1 / lr), seed=1, device=DEV)
        assert isinstance(run, AutoencoderRun) and run.mode_strengths.shape[1:] == (4, 1, 3)
        T = lr * run.t.to(F64)[:, None, None]
        ref = dae_reference(T, lam, eps[:, None], gamma[:, None], u0[:, None])  # (R, B, m)
        u = run.mode_strengths[:, :, 0]
        errors.append((u - ref).abs().max(0).values)
        us.append(u)
    assert bool((errors[0] < 0.05).all())
    assert_first_order(errors)
    assert (2 * us[2] - us[1] - ref).abs().max() < 1e-3
    # fixed point (λ−γ)/(λ+ε), approached by T = 4 by the fast modes (rate 2(λ − γ) ≥ 3.8)
    plateau = (lam - gamma[:, None]) / (lam + eps[:, None])
    assert (us[2][-1, :2, 0] - plateau[:2, 0]).abs().max() < 2e-3


def test_autoencoder_marginalised_loss_and_balanced_start(cov: CovarianceData) -> None:
    eps, gamma = 0.4, 0.2
    run = simulate_autoencoder(cov, 0.02, 30, eps=eps, gamma=gamma, u0=t64([[0.1, 0.2, 0.3]]), hidden=5, seed=2,
                               device=DEV)
    assert torch.allclose(run.mode_strengths[0, 0, 0], t64([0.1, 0.2, 0.3]), rtol=1e-13, atol=0)
    # the recorded loss is ½ mean_p ‖x_p − W x_p‖² + (eps/2)‖W‖²_F, computed here from the examples
    W1, W2 = run.weights_final
    W = (W2 @ W1)[0, 0]
    X = cov.X
    explicit = 0.5 * ((X - W @ X) ** 2).sum() / X.shape[1] + 0.5 * eps * (W * W).sum()
    assert torch.allclose(run.loss[-1, 0, 0], explicit, rtol=1e-13, atol=0)
    # balanced and decoupled: W = Q diag(u) Qᵀ, so the loss is ½ Σ_i [λ_i (1 − u_i)² + eps u_i²]
    lam = t64(LAM)
    u = run.mode_strengths[:, 0, 0]
    assert torch.allclose(run.loss[:, 0, 0], 0.5 * (lam * (1 - u) ** 2 + eps * u**2).sum(-1), rtol=1e-12, atol=0)
    assert bool((run.loss[1:] < run.loss[:-1]).all())


@pytest.mark.parametrize("noise", ["marginalised", "sampled"])
@pytest.mark.parametrize("init", ["balanced", "random"])
def test_autoencoder_correlation_gradient_equals_autograd(cov: CovarianceData, noise: str, init: str) -> None:
    """The hand-derived correlation form vs torch.autograd on the explicit loss with the same noise draws."""
    kw = dict(eps=t64([0.5, 0.0, 1.0]), gamma=t64([0.1, 0.3, 0.0]), lr=t64([0.05, 0.02, 0.03]), noise=noise,
              init=init, u0=0.2, init_scale=0.8, hidden=6, replicas=2, seed=7, device=DEV)
    corr = simulate_autoencoder(cov, steps=20, gradient="correlation", **kw)
    auto = simulate_autoencoder(cov, steps=20, gradient="autograd", **kw)
    for wc, wa in zip(corr.weights_final, auto.weights_final):
        assert (wc - wa).abs().max() < 1e-12
    assert (corr.mode_strengths - auto.mode_strengths).abs().max() < 1e-12
    assert (corr.loss - auto.loss).abs().max() < 1e-12
    assert (corr.mode_strengths[-1] - corr.mode_strengths[0]).abs().max() > 1e-2  # not vacuous
    if noise == "sampled":  # replicas of a noisy configuration differ; the noise-free one (eps = 0) does not
        W = corr.weights_final[1] @ corr.weights_final[0]
        assert (W[0, 0] - W[0, 1]).abs().max() > 1e-4
        if init == "balanced":
            assert (corr.mode_strengths[:, 1, 0] - corr.mode_strengths[:, 1, 1]).abs().max() < 1e-13


def test_autoencoder_sampled_gradient_is_the_sampled_loss_gradient(cov: CovarianceData) -> None:
    """One step from given weights, checked against autograd of ½ mean_p ‖x_p − W2 W1 (x_p + ξ_p)‖² written here,
    with Ξ redrawn from the documented generator order (initial R first, then the step's noise)."""
    eps, gamma, lr, h = 0.7, 0.2, 0.1, 5
    run = simulate_autoencoder(cov, lr, 1, eps=eps, gamma=gamma, noise="sampled", u0=0.3, hidden=h, seed=11,
                               device=DEV)
    n, P = cov.X.shape
    gen = torch.Generator().manual_seed(11)
    g = torch.randn(1, h, 3, generator=gen, dtype=F64)  # R: QR of a Gaussian, signs fixed
    q, r = torch.linalg.qr(g)
    R = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    A = torch.full((3,), math.sqrt(0.3), dtype=F64)
    W1 = ((R[0] * A) @ cov.Q.T).requires_grad_(True)
    W2 = ((cov.Q * A) @ R[0].T).requires_grad_(True)
    Xi = math.sqrt(eps) * torch.randn(1, n, P, generator=gen, dtype=F64)[0]
    loss = 0.5 * ((cov.X - W2 @ W1 @ (cov.X + Xi)) ** 2).sum() / P + 0.5 * gamma * ((W1**2).sum() + (W2**2).sum())
    g1, g2 = torch.autograd.grad(loss, (W1, W2))
    with torch.no_grad():
        assert (run.weights_final[0][0, 0] - (W1 - lr * g1)).abs().max() < 1e-13
        assert (run.weights_final[1][0, 0] - (W2 - lr * g2)).abs().max() < 1e-13


def _bias_bound(var_u: torch.Tensor, lam_max: float, eps: float, flow_time: float) -> torch.Tensor:
    """Bound on |E u(sampled) − u(marginalised)| at the same lr.

    Given the weights, the expected sampled step is the marginalised step (the noise is fresh), so the mean
    differs only at second order in the noise, through the curvature of the map: per step
    ``½ f''(u) Var u`` with ``f'' ≈ −4 lr (λ + ε)`` for a mode (plus an ``lr² u Var(G|u)`` term of the same
    order). Summed over the ``T/lr`` steps this is about ``(λ + ε) T · Var u`` (Var u grows with t); a factor 2
    covers the propagation of the bias and the mode couplings. Measured (λ = 2, 1, 0.5, ε = 0.5, γ = 0.1,
    T = 3, 4000 replicas, where the bias is resolved, |z| ≥ 4): |bias| ≤ 2.1 · max over modes of Var u, at
    P = 8…32 and lr = 0.01…0.04 (the bound here: 15 · max Var u)."""
    return 2 * (lam_max + eps) * flow_time * var_u.max()


@pytest.mark.parametrize("sampler,P,K", [("explicit", 32, 2000), ("wishart", 2048, 2000)])
def test_autoencoder_sampled_noise_mean_follows_marginalised(sampler: str, P: int, K: int) -> None:
    data = covariance_dataset(LAM, 4, P, seed=3, device=DEV)
    lr, T, eps, gamma = 0.02, 3.0, 0.5, 0.1
    steps = round(T / lr)
    kw = dict(eps=eps, gamma=gamma, u0=0.05, record_every=steps // 3, device=DEV)
    marg = simulate_autoencoder(data, lr, steps, **kw).mode_strengths[:, 0, 0]  # (R, m)
    samp = simulate_autoencoder(data, lr, steps, noise="sampled", sampler=sampler, replicas=K, seed=8, **kw)
    u = samp.mode_strengths[:, 0]  # (R, K, m)
    mean, var = u.mean(1), u.var(1)
    se = (var / K).sqrt()
    bias = _bias_bound(var, max(LAM), eps, T)
    dev = (mean - marg).abs()
    assert bool((dev <= K_SE * se + bias).all()), f"z = {(mean - marg) / se}, bias bound {bias}"
    # fluctuations are real but small: std ≈ √(lr T eps λ / P) order
    assert bool((var[-1].sqrt() > 0.1 * math.sqrt(lr * T * eps * 0.5 / P)).all())
    assert bool((var[-1].sqrt() < 10 * math.sqrt(lr * T * eps * max(LAM) / P)).all())


@pytest.mark.parametrize("P", [12, 6, 3])  # n = 4: Bartlett (P − n ≥ n), explicit remainder (0 < P − n < n), none
def test_autoencoder_wishart_sampler_has_the_explicit_law(P: int) -> None:
    """Both samplers draw (X Ξᵀ, Ξ Ξᵀ) from the same law, so u at a fixed time has the same mean and variance."""
    data = covariance_dataset(LAM, 4, P, seed=6, device=DEV)
    K, lr, steps = 3000, 0.05, 40
    kw = dict(eps=1.0, gamma=0.0, u0=0.1, noise="sampled", replicas=K, record_every=steps, device=DEV)
    a = simulate_autoencoder(data, lr, steps, sampler="explicit", seed=1, **kw).mode_strengths[-1, 0]  # (K, m)
    b = simulate_autoencoder(data, lr, steps, sampler="wishart", seed=2, **kw).mode_strengths[-1, 0]
    se_mean = (a.var(0) / K + b.var(0) / K).sqrt()
    assert bool(((a.mean(0) - b.mean(0)).abs() <= K_SE * se_mean).all())

    def var_se(v: torch.Tensor) -> torch.Tensor:  # SE of the sample variance: √((m4 − σ⁴)/K)
        c = v - v.mean(0)
        return (((c**4).mean(0) - c.var(0) ** 2) / K).sqrt()

    se_var = (var_se(a) ** 2 + var_se(b) ** 2).sqrt()
    assert bool(((a.var(0) - b.var(0)).abs() <= K_SE * se_var).all())


def test_autoencoder_fluctuations_scale_like_sqrt_lr_over_P() -> None:
    """std u(T) ∝ √(lr/P): per-step gradient noise O(√(eps λ/P)), accumulated over T/lr steps of size lr."""
    K, T = 2000, 2.0
    stds = {}
    for P in (64, 256):
        data = covariance_dataset(LAM, 4, P, seed=2, device=DEV)
        for lr in (0.04, 0.02):
            steps = round(T / lr)
            run = simulate_autoencoder(data, lr, steps, eps=0.5, u0=0.05, noise="sampled", sampler="wishart",
                                       replicas=K, record_every=steps, seed=P, device=DEV)
            stds[P, lr] = run.mode_strengths[-1, 0].std(0)
    # The SE of a log-std over K ≈ Gaussian samples is √(1/(2K)), so a ratio r of two independent stds has
    # SE ≈ r/√K (0.045 for r = 2, 0.032 for r = √2 at K = 2000); allow 5 SE plus the O(lr) and O(1/P)
    # corrections to the variance (measured over 4 seeds: P ratios 1.96–2.10, lr ratios 1.35–1.50, i.e. a
    # systematic +1 % to +3 %; allowed: 4 %)
    tol_P = K_SE * 2 / math.sqrt(K) + 0.04 * 2
    tol_lr = K_SE * math.sqrt(2) / math.sqrt(K) + 0.04 * math.sqrt(2)
    assert bool(((stds[64, 0.02] / stds[256, 0.02] - 2).abs() < tol_P).all())
    assert bool(((stds[64, 0.04] / stds[64, 0.02] - math.sqrt(2)).abs() < tol_lr).all())


def test_autoencoder_seeded_and_batch_independent(cov: CovarianceData) -> None:
    kw = dict(eps=0.5, gamma=0.1, noise="sampled", u0=0.1, replicas=3, device=DEV)
    a = simulate_autoencoder(cov, 0.05, 15, seed=4, **kw)
    b = simulate_autoencoder(cov, 0.05, 15, seed=4, **kw)
    c = simulate_autoencoder(cov, 0.05, 15, seed=5, **kw)
    assert torch.equal(a.mode_strengths, b.mode_strengths) and torch.equal(a.weights_final[0], b.weights_final[0])
    assert not torch.equal(a.mode_strengths, c.mode_strengths)
    # marginalised: a configuration in a batch runs as it would alone (the random R does not enter the modes)
    lr, eps, gamma = t64([0.02, 0.05]), t64([0.3, 1.0]), t64([0.0, 0.2])
    batch = simulate_autoencoder(cov, lr, 30, eps=eps, gamma=gamma, u0=0.1, seed=1, device=DEV)
    for i in range(2):
        one = simulate_autoencoder(cov, lr[i].item(), 30, eps=eps[i].item(), gamma=gamma[i].item(), u0=0.1, seed=9,
                                   device=DEV)
        assert (one.mode_strengths[:, 0] - batch.mode_strengths[:, i]).abs().max() < 1e-12


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(lr=0.0), "lr"),
        (dict(eps=-0.1), "eps"),
        (dict(gamma=t64([0.1, -0.2])), "gamma"),
        (dict(u0=0.0), "u0"),
        (dict(init_scale=-1.0, init="random"), "init_scale"),
        (dict(noise="gaussian"), "noise"),
        (dict(sampler="bartlett"), "sampler"),
        (dict(gradient="numerical"), "gradient"),
        (dict(noise="sampled", sampler="wishart", gradient="autograd"), "autograd"),
        (dict(init="orthogonal"), "init"),
        (dict(replicas=0), "replicas"),
        (dict(hidden=2), "hidden"),
        (dict(lr=t64([0.1, 0.2]), eps=t64([0.1, 0.2, 0.3])), "batch sizes"),
        (dict(u0=t64([[0.1, 0.2]])), "u0"),
        (dict(steps=-1), "steps"),
        (dict(record_every=0), "record_every"),
    ],
)
def test_autoencoder_rejects_bad_input(cov: CovarianceData, kwargs: dict, name: str) -> None:
    args = dict(lr=0.01, steps=3) | kwargs
    with pytest.raises(ValueError, match=name):
        simulate_autoencoder(cov, device=DEV, **args)


def test_autoencoder_rejects_mismatched_data_batch() -> None:
    data = covariance_dataset(t64([[1.0, 0.5], [2.0, 1.0]]), 3, 8, seed=0, device=DEV)
    with pytest.raises(ValueError, match="data"):
        simulate_autoencoder(data, t64([0.01, 0.02, 0.03]), 3, device=DEV)


# ================================================================ dropout


def deterministic_dropout_path(s: float, lr: float, on: float, u0: float, steps: int) -> torch.Tensor:
    """g(k): u after k active steps, each the GD step of ŷ = w2 d w1 at d = on (w1 = w2 = w)."""
    w = math.sqrt(u0)
    out = [w * w]
    for _ in range(steps):
        w = w + lr * on * (s - on * (w * w)) * w
        out.append(w * w)
    return t64(out)


def binomial_law_mean(g: torch.Tensor, t: torch.Tensor, p: float) -> torch.Tensor:
    """E[u_t] = Σ_k C(t, k) p^k (1−p)^{t−k} g(k): a run has made Binomial(t, p) active steps at step t."""
    out = []
    for ti in t.tolist():
        k = torch.arange(ti + 1, dtype=F64)
        if p == 1.0:
            out.append(g[ti])
            continue
        logpmf = (math.lgamma(ti + 1) - torch.lgamma(k + 1) - torch.lgamma(ti - k + 1)
                  + k * math.log(p) + (ti - k) * math.log1p(-p))
        out.append((logpmf.exp() * g[: ti + 1]).sum())
    return torch.stack(out)


def dropout_flow(T: torch.Tensor, s: float, p: float, u0: float, variant: str) -> torch.Tensor:
    """standard: tau du/dt = 2 p u (s − u) (plateau s); inverted: tau du/dt = 2u (s − u/p) (plateau p s)."""
    if variant == "standard":
        return logistic(T, t64(s), t64(2 * p * s), u0)
    return logistic(T, t64(p * s), t64(2 * s), u0)


@pytest.mark.parametrize("variant", ["standard", "inverted"])
def test_dropout_mean_follows_expected_dynamics(variant: str) -> None:
    s, u0, T, runs = 1.0, 0.05, 4.0, 20000
    ps = [0.8, 0.5, 0.25]
    bias = {}
    laws = {}
    for lr in (0.02, 0.01, 0.005):
        steps = round(T / lr)
        t = torch.arange(0, steps + 1, round(0.25 / lr))
        errs = []
        for p in ps:
            on = 1.0 if variant == "standard" else 1 / p
            g = deterministic_dropout_path(s, lr, on, u0, steps)
            law = binomial_law_mean(g, t, p)
            laws[lr, p] = law
            errs.append((law - dropout_flow(lr * t.to(F64), s, p, u0, variant)).abs().max())
        bias[lr] = torch.stack(errs)
    # the exact mean law differs from the expected ODE by O(lr) (Euler error plus the O(lr) spread of the
    # number of active steps at fixed flow time, through the curvature of the curve)
    assert_first_order([bias[0.02], bias[0.01], bias[0.005]])
    assert bool((bias[0.02] < 0.1).all())

    lr = 0.01
    steps = round(T / lr)
    run = simulate_dropout(s, t64(ps), lr, steps, u0=u0, runs=runs, variant=variant, record_every=round(0.25 / lr),
                           seed=3, device=DEV)
    assert isinstance(run, DropoutRun) and run.u is None and run.u_mean.shape == (17, 3)
    se = (run.u_var / runs).sqrt()
    for i, p in enumerate(ps):
        # simulation vs the exact law: statistics only
        z = (run.u_mean[:, i] - laws[lr, p]) / se[:, i].clamp(min=1e-300)
        assert bool((z[1:].abs() <= K_SE).all()), f"p = {p}: z = {z}"
        # simulation vs the expected ODE: 5 SE plus the O(lr) bias measured above
        flow = dropout_flow(lr * run.t.to(F64), s, p, u0, variant)
        assert bool(((run.u_mean[:, i] - flow).abs() <= K_SE * se[:, i] + bias[lr][i]).all())
    if variant == "inverted":  # plateau p s (active steps drive u to p s, from below), rate 2s: e^{−8} by T = 4
        assert (run.u_mean[-1] - s * t64(ps)).abs().max() < 0.01


def negbin_var_se(K: int, p: float, n: int) -> float:
    """SE of the sample variance of n negative-binomial (K successes, prob p) trial counts.

    Var s² ≈ σ⁴ (2/(n−1) + κ/n) with κ = (6 + p²/(1−p))/K the excess kurtosis (a sum of K geometric counts)."""
    var = K * (1 - p) / p**2
    kurt = (6 + p * p / (1 - p)) / K
    return var * math.sqrt(2 / (n - 1) + kurt / n)


@pytest.mark.parametrize("variant", ["standard", "inverted"])
def test_dropout_hitting_times_are_negative_binomial(variant: str) -> None:
    s, lr, runs = 2.0, 0.02, 20000
    ps = [1.0, 0.7, 0.4, 0.15]
    # margin s/4 from 0 and from the plateau (s, or p s for inverted dropout)
    margin = t64([s / 4] * 4) if variant == "standard" else t64([p * s / 4 for p in ps])
    level = (t64([s] * 4) if variant == "standard" else s * t64(ps)) - margin
    hits = dropout_hitting_times(s, t64(ps), lr, level, u0=margin, runs=runs, max_steps=20000, variant=variant,
                                 seed=12, device=DEV)
    assert isinstance(hits, DropoutHits) and hits.steps.shape == (4, runs) and hits.steps.dtype == torch.int64
    assert bool(hits.hit.all())
    for i, p in enumerate(ps):
        # K: the number of steps of the deterministic GD (d ≡ 1, or d ≡ 1/p), counted here independently
        on = 1.0 if variant == "standard" else 1 / p
        path = deterministic_dropout_path(s, lr, on, margin[i].item(), 5000)
        K = int((path >= level[i]).nonzero()[0].item())
        # ≈ the flow's learning time (τ/(s·on)) ln((s − margin)/margin) in steps with d = on (O(1) steps off)
        assert abs(K - (1 / (s * on * lr)) * math.log(3.0)) < 2
        # every run used exactly K active steps: a step with d = 0 carries no gradient
        assert bool((hits.active_steps[i] == K).all())
        T = hits.steps[i].to(F64)
        if p == 1.0:
            assert bool((hits.steps[i] == K).all())
            continue
        mean, var = K / p, K * (1 - p) / p**2
        assert abs(T.mean().item() - mean) <= K_SE * math.sqrt(var / runs), (p, T.mean().item(), mean)
        assert abs(T.var().item() - var) <= K_SE * negbin_var_se(K, p, runs), (p, T.var().item(), var)
        assert T.min().item() >= K  # at least K trials


def test_dropout_hitting_times_match_trajectories_and_report_misses() -> None:
    kw = dict(u0=0.1, runs=50, variant="standard", seed=5, device=DEV)
    run = simulate_dropout(1.0, 0.3, 0.05, 300, record_runs=True, **kw)
    hits = dropout_hitting_times(1.0, 0.3, 0.05, 0.8, max_steps=300, **kw)
    assert run.u.shape == (301, 1, 50)
    crossed = run.u[:, 0] >= 0.8  # (t, runs)
    first = torch.where(crossed.any(0), crossed.float().argmax(0), -1)
    assert torch.equal(hits.steps[0], first)
    assert torch.equal(hits.hit[0], crossed.any(0))
    assert torch.allclose(run.u_mean, run.u.mean(-1), rtol=1e-14, atol=0)
    # runs that do not hit within max_steps are reported
    short = dropout_hitting_times(1.0, 0.3, 0.05, 0.8, max_steps=60, **kw)
    assert bool((~short.hit).any()) and bool((short.steps[~short.hit] == -1).all())
    assert bool((short.steps[short.hit] == hits.steps[short.hit]).all())
    assert bool((short.active_steps[~short.hit] <= 60).all())
    # already above the level at the start: step 0
    zero = dropout_hitting_times(1.0, 0.3, 0.05, 0.05, max_steps=10, **kw)
    assert bool((zero.steps == 0).all() and (zero.active_steps == 0).all())


def test_dropout_seeded_and_balanced() -> None:
    kw = dict(u0=0.1, runs=100, record_runs=True, device=DEV)
    a = simulate_dropout(1.0, t64([0.5, 0.9]), 0.05, 40, seed=1, **kw)
    b = simulate_dropout(1.0, t64([0.5, 0.9]), 0.05, 40, seed=1, **kw)
    c = simulate_dropout(1.0, t64([0.5, 0.9]), 0.05, 40, seed=2, **kw)
    assert torch.equal(a.u, b.u) and not torch.equal(a.u, c.u)
    assert not torch.equal(a.u[-1, 0, 0], a.u[-1, 0, 1])  # runs draw their own masks
    # with p = 1 every run is the deterministic scalar network with x = 1 (balanced: bitwise the same weights)
    one = simulate_dropout(t64([2.0, 0.5]), 1.0, 0.03, 60, u0=0.2, runs=3, record_runs=True, device=DEV)
    ref = simulate_scalar_network(1.0, t64([2.0, 0.5]), 0.2, 0.03, 60, device=DEV)
    assert torch.allclose(one.u, ref.u[..., None].expand(-1, -1, 3), rtol=1e-15, atol=0)
    assert bool((one.u_var == 0).all())


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(p=0.0), "p"),
        (dict(p=1.5), "p"),
        (dict(u0=0.0), "u0"),
        (dict(lr=-0.01), "lr"),
        (dict(s=float("nan")), "s"),
        (dict(variant="gaussian"), "variant"),
        (dict(runs=0), "runs"),
    ],
)
def test_dropout_rejects_bad_input(kwargs: dict, name: str) -> None:
    args = dict(s=1.0, p=0.5, lr=0.01, u0=0.1, runs=10) | kwargs
    with pytest.raises(ValueError, match=name):
        simulate_dropout(steps=5, device=DEV, **args)
    with pytest.raises(ValueError, match=name):
        dropout_hitting_times(level=0.5, max_steps=5, device=DEV, **args)


def test_dropout_rejects_bad_steps() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        dropout_hitting_times(1.0, 0.5, 0.01, 0.5, u0=0.1, runs=3, max_steps=-1, device=DEV)
    with pytest.raises(ValueError, match="level"):
        dropout_hitting_times(1.0, 0.5, 0.01, float("inf"), u0=0.1, runs=3, max_steps=5, device=DEV)
    with pytest.raises(ValueError, match="record_every"):
        simulate_dropout(1.0, 0.5, 0.01, 5, u0=0.1, runs=3, record_every=0, device=DEV)
