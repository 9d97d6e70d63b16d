"""Tests of the family-1 gradient-descent simulators (learndyn.verify.simulate).

Every closed form used as a reference is written out here independently of the package. Discrete GD
follows gradient flow up to an error of first order in ``lr`` at fixed flow time ``lr·t``, so comparisons
with the flow check the *order*: halving ``lr`` (and doubling the steps) must halve the error.
"""

from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.simulate import (
    Dataset,
    DeepLinearRun,
    ScalarRun,
    simulate_deep_linear,
    simulate_scalar_network,
    whitened_dataset,
)

DEV = "cpu"
F64 = torch.float64


def t64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def assert_first_order(errors: list[torch.Tensor], lo: float = 1.8, hi: float = 2.2) -> None:
    """errors[i] at lr/2^i: each halving of lr must halve every error (ratio in [lo, hi])."""
    for big, small in zip(errors, errors[1:]):
        ratio = big / small
        assert bool(((ratio >= lo) & (ratio <= hi)).all()), f"error ratios {ratio} not in [{lo}, {hi}]; errors {errors}"


# ---------------------------------------------------------------- data set


@pytest.mark.parametrize("n_in,n_out,P,s", [(5, 4, 12, [3.0, 1.5, 0.5]), (3, 6, 3, [2.0, 1.0, 0.25]), (8, 8, 64, [4.0])])
def test_whitened_dataset_is_exact(n_in: int, n_out: int, P: int, s: list[float]) -> None:
    ds = whitened_dataset(s, n_in, n_out, P, seed=7, device=DEV)
    m = len(s)
    assert isinstance(ds, Dataset)
    assert ds.X.shape == (n_in, P) and ds.Y.shape == (n_out, P)
    assert ds.U.shape == (n_out, m) and ds.V.shape == (n_in, m) and ds.S.shape == (m,)
    assert ds.X.dtype == F64
    assert (ds.X @ ds.X.T / P - torch.eye(n_in, dtype=F64)).abs().max() < 1e-12
    sigma31 = ds.U @ torch.diag(t64(s)) @ ds.V.T
    assert (ds.Y @ ds.X.T / P - sigma31).abs().max() < 1e-12
    assert (ds.U.T @ ds.U - torch.eye(m, dtype=F64)).abs().max() < 1e-12
    assert (ds.V.T @ ds.V - torch.eye(m, dtype=F64)).abs().max() < 1e-12
    # the singular values of Σ31 are the ones asked for
    sv = torch.linalg.svdvals(ds.Y @ ds.X.T / P)[:m]
    assert torch.allclose(sv, torch.sort(t64(s), descending=True).values, rtol=0, atol=1e-12)


def test_whitened_dataset_deterministic_and_seeded() -> None:
    a = whitened_dataset([2.0, 1.0], 4, 3, 10, seed=3, device=DEV)
    b = whitened_dataset([2.0, 1.0], 4, 3, 10, seed=3, device=DEV)
    c = whitened_dataset([2.0, 1.0], 4, 3, 10, seed=4, device=DEV)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a.X, c.X) and not torch.equal(a.U, c.U)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(singular_values=[1.0], n_in=4, n_out=3, n_examples=3),  # P < n_in
        dict(singular_values=[1.0, 1.0, 1.0, 1.0], n_in=4, n_out=3, n_examples=8),  # m > min(n_in, n_out)
        dict(singular_values=[1.0, -1.0], n_in=4, n_out=3, n_examples=8),  # negative singular value
        dict(singular_values=[1.0], n_in=0, n_out=3, n_examples=8),
    ],
)
def test_whitened_dataset_rejects_bad_input(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        whitened_dataset(**kwargs, seed=0, device=DEV)


# ---------------------------------------------------------------- scalar network


def logistic_reference(t: torch.Tensor, x, y, u0, lr) -> torch.Tensor:
    """Seed 000 eq. (2): u = y E / (x (E − 1) + y/u0), E = exp(2 y x lr t)."""
    E = torch.exp(2 * y * x * lr * t)
    return y * E / (x * (E - 1) + y / u0)


def test_scalar_matches_logistic_to_first_order() -> None:
    x, y, u0 = t64([1.0, 0.5, 2.0, 1.0]), t64([2.0, 3.0, 0.5, -1.0]), t64([0.1, 0.01, 0.2, 0.5])
    flow_time = 4.0
    errors = []
    for lr in (0.02, 0.01, 0.005):
        steps = round(flow_time / lr)
        run = simulate_scalar_network(x, y, u0, lr, steps, device=DEV)
        assert isinstance(run, ScalarRun)
        assert run.u.shape == (steps + 1, 4) and run.t.shape == (steps + 1,)
        ref = logistic_reference(run.t.to(F64)[:, None], x, y, u0, lr)
        errors.append((run.u - ref).abs().max(0).values)
    assert bool((errors[0] < 0.1).all())  # the right curve, not just the right order
    assert_first_order(errors)


def test_scalar_gd_step_is_simultaneous_and_explicit() -> None:
    x, y, u0, lr = t64([1.5, 0.7]), t64([2.0, -0.5]), t64([0.3, 0.8]), t64([0.05, 0.2])
    run = simulate_scalar_network(x, y, u0, lr, 3, imbalance=t64([0.4, -0.2]), device=DEV)
    w1, w2 = run.w1[0].clone(), run.w2[0].clone()
    for k in range(1, 4):
        r = y - w2 * w1 * x  # L = ½ r², ∂L/∂w1 = −r w2 x, ∂L/∂w2 = −r w1 x
        w1, w2 = w1 + lr * r * w2 * x, w2 + lr * r * w1 * x
        assert torch.allclose(run.w1[k], w1, rtol=1e-14, atol=0)
        assert torch.allclose(run.w2[k], w2, rtol=1e-14, atol=0)
        assert torch.allclose(run.u[k], w1 * w2, rtol=1e-14, atol=0)


def test_scalar_balanced_start_stays_exactly_balanced() -> None:
    g = torch.Generator().manual_seed(11)
    B = 64
    x = 0.2 + 2 * torch.rand(B, generator=g, dtype=F64)
    y = -2 + 4 * torch.rand(B, generator=g, dtype=F64)
    u0 = 0.01 + torch.rand(B, generator=g, dtype=F64)
    run = simulate_scalar_network(x, y, u0, 0.05, 400, device=DEV)
    assert torch.equal(run.w1[0], torch.sqrt(u0))
    assert torch.equal(run.w2 * run.w2 - run.w1 * run.w1, torch.zeros_like(run.w1))


def test_scalar_imbalance_start_and_first_order_drift() -> None:
    x, y, u0, d = t64([1.0, 2.0]), t64([2.0, 1.0]), t64([0.1, 0.05]), t64([0.5, -0.3])
    drifts = []
    for lr in (0.02, 0.01, 0.005):
        run = simulate_scalar_network(x, y, u0, lr, round(3.0 / lr), imbalance=d, device=DEV)
        assert torch.allclose(run.w1[0] * run.w2[0], u0, rtol=1e-14, atol=0)
        assert torch.allclose(run.w2[0] ** 2 - run.w1[0] ** 2, d, rtol=1e-13, atol=0)
        # exact per-step law of GD: the imbalance is multiplied by 1 − (lr r x)²
        imb = run.w2**2 - run.w1**2
        r = y - x * run.u
        assert torch.allclose(imb[1:], imb[:-1] * (1 - (lr * r[:-1] * x) ** 2), rtol=1e-10, atol=1e-14)
        drifts.append((imb[-1] - d).abs())
    assert_first_order(drifts)


def test_scalar_negative_target_decays_without_sign_change() -> None:
    run = simulate_scalar_network(1.0, -1.0, 0.5, 0.05, 2000, device=DEV)
    assert bool((run.u > 0).all()) and bool((run.u[1:] < run.u[:-1]).all())
    assert run.u[-1].item() < 0.01


def test_scalar_record_every_and_batch_independence() -> None:
    x, y, u0, lr = t64([1.0, 0.5, 2.0]), t64([2.0, 3.0, 0.5]), t64([0.1, 0.01, 0.2]), t64([0.01, 0.03, 0.02])
    full = simulate_scalar_network(x, y, u0, lr, 10, device=DEV)
    sparse = simulate_scalar_network(x, y, u0, lr, 10, record_every=4, device=DEV)
    assert sparse.t.tolist() == [0, 4, 8, 10]
    assert torch.equal(sparse.u, full.u[[0, 4, 8, 10]])
    for i in range(3):
        one = simulate_scalar_network(x[i].item(), y[i].item(), u0[i].item(), lr[i].item(), 10, device=DEV)
        assert one.u.shape == (11, 1)
        assert torch.equal(one.u[:, 0], full.u[:, i])
    # broadcasting to a grid of configurations
    grid = simulate_scalar_network(1.0, 2.0, u0[:, None], lr[None, :], 5, device=DEV)
    assert grid.u.shape == (6, 3, 3)


@pytest.mark.parametrize(
    "kwargs",
    [dict(u0=0.0), dict(u0=-1.0), dict(lr=0.0), dict(lr=float("nan")), dict(steps=-1), dict(record_every=0)],
)
def test_scalar_rejects_bad_input(kwargs: dict) -> None:
    args = dict(x=1.0, y=1.0, u0=0.1, lr=0.01, steps=5) | kwargs
    record_every = args.pop("record_every", 1)
    with pytest.raises(ValueError):
        simulate_scalar_network(**args, record_every=record_every, device=DEV)


# ---------------------------------------------------------------- deep linear network

S3 = [3.0, 1.5, 0.5]


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return whitened_dataset(S3, 5, 4, 12, seed=1, device=DEV)


def test_deep_linear_shapes_and_balanced_start(ds: Dataset) -> None:
    u0 = t64([[0.1, 0.2, 0.3], [0.01, 0.02, 0.03]])  # (B, m): per configuration and mode
    run = simulate_deep_linear(ds, 3, t64([0.01, 0.02]), 7, hidden=6, u0=u0, record_every=3, device=DEV)
    assert isinstance(run, DeepLinearRun)
    assert run.t.tolist() == [0, 3, 6, 7]
    assert run.mode_strengths.shape == (4, 2, 3) and run.loss.shape == (4, 2)
    assert [tuple(w.shape) for w in run.weights_final] == [(2, 6, 5), (2, 6, 6), (2, 4, 6)]
    assert torch.allclose(run.mode_strengths[0], u0, rtol=1e-12, atol=0)
    # the recorded loss is ½ · mean over examples of ‖y − ŷ‖², which for this data is ½ Σ_α (s_α − a_α)²
    half_sq = 0.5 * ((t64(S3) - run.mode_strengths) ** 2).sum(-1)
    assert torch.allclose(run.loss, half_sq, rtol=1e-12, atol=1e-14)


def test_deep_linear_D1_is_exact_linear_regression(ds: Dataset) -> None:
    s, u0 = t64(S3), 0.2
    errors = []
    for lr in (0.02, 0.01, 0.005):
        steps = round(4.0 / lr)
        run = simulate_deep_linear(ds, 1, lr, steps, u0=u0, device=DEV)
        t = run.t.to(F64)[:, None]
        discrete = s + (u0 - s) * (1 - lr) ** t  # GD on τ du/dt = s − u, exactly
        assert torch.allclose(run.mode_strengths[:, 0], discrete, rtol=1e-12, atol=1e-13)
        flow = s + (u0 - s) * torch.exp(-lr * t)
        errors.append((run.mode_strengths[:, 0] - flow).abs().max(0).values)
    assert_first_order(errors)


def saxe_reference(t: torch.Tensor, s: torch.Tensor, u0, lr) -> torch.Tensor:
    """τ du/dt = 2u(s − u): u = s e^{2st/τ} / (e^{2st/τ} − 1 + s/u0), τ = 1/lr."""
    E = torch.exp(2 * s * t * lr)
    return s * E / (E - 1 + s / u0)


def test_deep_linear_D2_matches_saxe_to_first_order(ds: Dataset) -> None:
    s = t64(S3)
    u0 = t64([0.01, 0.1])  # two configurations in one run
    errors = []
    for lr in (0.01, 0.005, 0.0025):
        run = simulate_deep_linear(ds, 2, lr, round(6.0 / lr), hidden=7, u0=u0, seed=2, device=DEV)
        ref = saxe_reference(run.t.to(F64)[:, None, None], s, u0[:, None], lr)
        errors.append((run.mode_strengths - ref).abs().max(0).values)  # (B, m)
    assert bool((errors[0] < 0.1).all())
    assert_first_order(errors)


def rk4_deep_flow(u0: float, s: float, D: int, flow_times: list[float], h: float) -> list[float]:
    """Integrate du/dT = D u^{2−2/D} (s − u) (T = lr·t) by classical RK4 with step h."""

    def f(u: float) -> float:
        return D * u ** (2 - 2 / D) * (s - u)

    out, u, T = [], u0, 0.0
    for target in flow_times:
        n = round((target - T) / h)
        for _ in range(n):
            k1 = f(u)
            k2 = f(u + h / 2 * k1)
            k3 = f(u + h / 2 * k2)
            k4 = f(u + h * k3)
            u += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        T = target
        out.append(u)
    return out


def test_deep_linear_D3_balanced_modes(ds: Dataset) -> None:
    D, u0, flow_time = 3, 0.05, 5.0
    s = t64(S3)
    grid = [0.05 * i for i in range(int(flow_time / 0.05) + 1)]
    flows = torch.stack([t64(rk4_deep_flow(u0, si, D, grid, 1e-3)) for si in S3], -1)  # (R, m)
    errors = []
    for lr in (0.01, 0.005, 0.0025):
        run = simulate_deep_linear(ds, D, lr, round(flow_time / lr), u0=u0, record_every=round(0.05 / lr), device=DEV)
        # GD from the balanced start keeps every layer at strength a with a ← a + lr a^{D−1}(s − a^D)
        a = torch.full((3,), u0 ** (1 / D), dtype=F64)
        discrete = [a**D]
        for _ in range(run.t[-1].item()):
            a = a + lr * a ** (D - 1) * (s - a**D)
            discrete.append(a**D)
        discrete = torch.stack(discrete)[run.t]
        assert torch.allclose(run.mode_strengths[:, 0], discrete, rtol=1e-11, atol=1e-13)
        errors.append((run.mode_strengths[:, 0] - flows).abs().max(0).values)
    assert bool((errors[0] < 0.1).all())
    assert_first_order(errors)


@pytest.mark.parametrize("D,init_scale,lr,steps", [(2, 1e-2, 0.02, 700), (3, 0.2, 0.02, 1000)])
def test_small_random_start_learns_modes_in_order_of_s(D: int, init_scale: float, lr: float, steps: int) -> None:
    s = [4.0, 2.0, 1.0]
    data = whitened_dataset(s, 6, 6, 6, seed=5, device=DEV)
    run = simulate_deep_linear(
        data, D, lr, steps, init="random", init_scale=init_scale, configs=16, seed=9, record_every=5, device=DEV
    )
    a = run.mode_strengths  # (R, B, m)
    assert bool((a[0].abs() < 0.05).all())
    learned = a >= 0.5 * t64(s)  # (R, B, m)
    assert bool(learned[-1].all()), "every mode is learned by the end"
    half_time = torch.where(learned, run.t[:, None, None], steps + 1).min(0).values  # (B, m)
    assert bool((half_time[:, 0] < half_time[:, 1]).all() and (half_time[:, 1] < half_time[:, 2]).all())
    assert torch.allclose(a[-1], t64(s).expand(16, 3), atol=1e-3)
    assert bool((run.loss[-1] < 1e-4).all())  # directions with s = 0 decay only algebraically for D ≥ 3


def non_whitened_dataset(seed: int) -> Dataset:
    """Generic X, Y (Σ11 ≠ I, Y not of rank m): exercises the general correlation form."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(5, 9, generator=g, dtype=F64)
    Y = torch.randn(4, 9, generator=g, dtype=F64)
    U, S, Vh = torch.linalg.svd(Y @ X.T / 9, full_matrices=False)
    return Dataset(X=X, Y=Y, U=U[:, :3], S=S[:3], V=Vh[:3].T)


@pytest.mark.parametrize("D", [1, 2, 3, 4])
@pytest.mark.parametrize("init", ["balanced", "random"])
@pytest.mark.parametrize("whitened", [True, False])
def test_autograd_and_correlation_gradients_agree(ds: Dataset, D: int, init: str, whitened: bool) -> None:
    data = ds if whitened else non_whitened_dataset(4)
    kw = dict(hidden=6, init=init, u0=t64([0.3, 0.05, 0.8]), init_scale=0.7, seed=3, device=DEV)
    lr = t64([0.01, 0.05, 0.1])
    corr = simulate_deep_linear(data, D, lr, 25, gradient="correlation", **kw)
    auto = simulate_deep_linear(data, D, lr, 25, gradient="autograd", **kw)
    assert torch.equal(corr.t, auto.t)
    for wc, wa in zip(corr.weights_final, auto.weights_final):
        assert (wc - wa).abs().max() < 1e-12
    assert (corr.mode_strengths - auto.mode_strengths).abs().max() < 1e-12
    assert (corr.loss - auto.loss).abs().max() < 1e-12
    # and the weights really moved (the comparison is not vacuous)
    assert (corr.loss[-1] - corr.loss[0]).abs().min() > 1e-3


def test_loss_is_the_explicit_data_loss() -> None:
    data = non_whitened_dataset(6)
    run = simulate_deep_linear(data, 2, 0.05, 10, hidden=3, init="random", init_scale=0.5, configs=2, device=DEV)
    W = run.weights_final[1] @ run.weights_final[0]
    P = data.X.shape[1]
    explicit = torch.stack([0.5 * sum(((data.Y[:, p] - W[b] @ data.X[:, p]) ** 2).sum() for p in range(P)) / P for b in range(2)])
    assert torch.allclose(run.loss[-1], explicit, rtol=1e-13, atol=0)
    modes = torch.einsum("oa,bon,na->ba", data.U, W, data.V)
    assert torch.allclose(run.mode_strengths[-1], modes, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("init", ["balanced", "random"])
def test_deep_linear_deterministic_given_seed(ds: Dataset, init: str) -> None:
    kw = dict(init=init, u0=0.1, init_scale=0.3, configs=4, device=DEV)
    a = simulate_deep_linear(ds, 3, 0.05, 20, seed=8, **kw)
    b = simulate_deep_linear(ds, 3, 0.05, 20, seed=8, **kw)
    c = simulate_deep_linear(ds, 3, 0.05, 20, seed=9, **kw)
    assert torch.equal(a.mode_strengths, b.mode_strengths) and torch.equal(a.loss, b.loss)
    assert all(torch.equal(x, y) for x, y in zip(a.weights_final, b.weights_final))
    assert not torch.equal(a.weights_final[0], c.weights_final[0])
    assert not torch.equal(a.weights_final[0][0], a.weights_final[0][1])  # configurations draw their own weights


@pytest.mark.parametrize("gradient", ["correlation", "autograd"])
def test_deep_linear_batch_entries_are_independent(ds: Dataset, gradient: str) -> None:
    g = torch.Generator().manual_seed(12)
    B, widths = 3, [5, 6, 6, 4]
    init = [0.5 * torch.randn(B, o, i, generator=g, dtype=F64) / math.sqrt(i) for i, o in zip(widths[:-1], widths[1:])]
    lr = t64([0.02, 0.05, 0.1])
    batch = simulate_deep_linear(ds, 3, lr, 30, init=init, gradient=gradient, device=DEV)
    assert torch.equal(init[0], init[0].clone())  # explicit initial weights are not modified
    for b in range(B):
        one = simulate_deep_linear(ds, 3, lr[b].item(), 30, init=[w[b] for w in init], gradient=gradient, device=DEV)
        assert (one.mode_strengths[:, 0] - batch.mode_strengths[:, b]).abs().max() < 1e-13
        assert (one.loss[:, 0] - batch.loss[:, b]).abs().max() < 1e-13
    # balanced starts: per-configuration lr and u0; the mode dynamics do not depend on the random R_l
    u0 = t64([0.01, 0.1, 0.5])
    batch = simulate_deep_linear(ds, 3, lr, 30, u0=u0, gradient=gradient, seed=1, device=DEV)
    for b in range(B):
        one = simulate_deep_linear(ds, 3, lr[b].item(), 30, u0=u0[b].item(), gradient=gradient, seed=2, device=DEV)
        assert (one.mode_strengths[:, 0] - batch.mode_strengths[:, b]).abs().max() < 1e-12


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(depth=0),
        dict(lr=-0.1),
        dict(lr=t64([0.1, 0.2]), configs=3),  # batch sizes disagree
        dict(u0=0.0),
        dict(u0=t64([[0.1, 0.2]])),  # wrong number of modes
        dict(hidden=2),  # fewer hidden units than modes for the balanced start
        dict(init="orthogonal"),
        dict(gradient="numerical"),
        dict(init=[torch.zeros(6, 5), torch.zeros(4, 5)]),  # shapes do not chain
    ],
)
def test_deep_linear_rejects_bad_input(ds: Dataset, kwargs: dict) -> None:
    args = dict(depth=2, lr=0.01, steps=3) | kwargs
    with pytest.raises(ValueError):
        simulate_deep_linear(ds, args.pop("depth"), args.pop("lr"), args.pop("steps"), device=DEV, **args)
