"""Tests of the family-6 simulators (learndyn.verify.simulate.linear_student): linear student–teacher regression.

References are written out here from the data (direct norms, finite differences, family 1's closed form); the
statistical checks use k = 5 standard errors computed from the sample, and every realisation is seeded.
"""

from __future__ import annotations

import math

import pytest
import torch

import learndyn
from learndyn.verify.simulate import (
    LinearStudentData,
    LinearStudentRun,
    exact_linear_student,
    frozen_subspace_motion,
    pretraining_comparison,
    sample_spectrum,
    simulate_linear_student,
    simulate_two_layer_student,
    student_teacher_data,
    two_layer_student_gradients,
    two_layer_student_loss,
    whitened_dataset,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEV = "cpu"
F64 = torch.float64
K_SE = 5.0  # statistical tolerance: k standard errors of the sample mean


def within_k_se(samples: torch.Tensor, expected: float, k: float = K_SE) -> None:
    """The mean of iid ``samples`` lies within ``k`` standard errors (from the sample) of ``expected``."""
    mean, se = samples.mean().item(), (samples.std() / math.sqrt(samples.numel())).item()
    assert abs(mean - expected) <= k * se, f"mean {mean} vs {expected}: {abs(mean - expected) / se:.2f} standard errors"


@pytest.fixture(scope="module")
def data() -> LinearStudentData:
    """N = 40, alpha in {0.5, 1, 2}, 4 seeds, noise and a random start."""
    return student_teacher_data(40, [0.5, 1.0, 2.0], range(4), sigma_w2=1.0, sigma_eps2=0.25, sigma_02=0.5,
                                device=DEV)


# ---------------------------------------------------------------- data


def test_data_layout_padding_and_determinism(data: LinearStudentData) -> None:
    B, p_max, n = data.X.shape
    assert (B, p_max, n) == (12, 80, 40) and data.X.dtype == F64
    assert data.P.tolist() == [20] * 4 + [40] * 4 + [80] * 4
    assert data.seed.tolist() == [0, 1, 2, 3] * 3 and torch.equal(data.alpha, data.P.to(F64) / 40)
    pad = ~data.mask
    assert bool((data.X[pad] == 0).all()) and bool((data.y[pad] == 0).all()) and bool((data.noise[pad] == 0).all())
    assert bool((data.X[data.mask].abs().sum(-1) > 0).all())
    # y = X w̄ + ε
    y = (data.X @ data.w_bar.unsqueeze(-1)).squeeze(-1) + data.noise
    torch.testing.assert_close(data.y, y, rtol=0, atol=1e-14)
    # same seeds → identical; a different seed → different; the draws of a seed do not depend on the others
    again = student_teacher_data(40, [0.5, 1.0, 2.0], range(4), sigma_w2=1.0, sigma_eps2=0.25, sigma_02=0.5,
                                 device=DEV)
    for a, b in zip(data, again):
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
    other = student_teacher_data(40, [0.5, 1.0, 2.0], [0, 1, 2, 7], sigma_w2=1.0, sigma_eps2=0.25, sigma_02=0.5,
                                 device=DEV)
    same, diff = other.seed != 7, other.seed == 7
    assert torch.equal(other.X[same], data.X[same]) and torch.equal(other.w_bar[same], data.w_bar[same])
    assert not torch.equal(other.X[diff], data.X[diff]) and not torch.equal(other.w0[diff], data.w0[diff])
    # independent by default (fresh teacher per alpha); nested: same teacher and start, growing data set
    assert not torch.equal(data.w_bar[0], data.w_bar[4])
    nested = student_teacher_data(40, [0.5, 1.0, 2.0], range(4), sigma_eps2=0.25, sigma_02=0.5, nested=True,
                                  device=DEV)
    assert torch.equal(nested.w_bar[0], nested.w_bar[8]) and torch.equal(nested.w0[1], nested.w0[5])
    assert torch.equal(nested.X[0, :20], nested.X[8, :20]) and torch.equal(nested.noise[4, :40], nested.noise[8, :40])
    by_count = student_teacher_data(40, examples=[20, 40, 80], seeds=range(4), sigma_eps2=0.25, sigma_02=0.5,
                                    device=DEV)
    assert torch.equal(by_count.X, data.X)


def test_data_statistics() -> None:
    """E[x_i²] = 1/N, Var w̄_i = σ_w², Var w0_i = σ_0², Var ε = σ_ε², E[y²] = σ_w² + σ_ε² (k = 5 standard errors)."""
    sw2, se2, s02, n = 2.0, 0.3, 0.7, 50
    d = student_teacher_data(n, [0.6, 1.5], range(40), sigma_w2=sw2, sigma_eps2=se2, sigma_02=s02, device=DEV)
    within_k_se(n * d.X[d.mask].reshape(-1) ** 2, 1.0)  # iid entries
    within_k_se(d.w_bar.reshape(-1) ** 2, sw2)
    within_k_se(d.w0.reshape(-1) ** 2, s02)
    within_k_se(d.noise[d.mask] ** 2, se2)
    # the examples of one realisation share w̄: average within a realisation, the realisations are iid per alpha
    y2 = (d.y ** 2).sum(-1) / d.P.to(F64)
    for p in d.P.unique():
        within_k_se(y2[d.P == p], sw2 + se2)


def test_generalisation_error_at_start() -> None:
    """E_g(0) = ‖w0 − w̄‖²/N + σ_ε² exactly (GD record and exact solution), and its mean over 300 independent
    realisations is σ_w² + σ_0² + σ_ε² within 5 standard errors; E_t(0) = ‖y − X w0‖²/P."""
    sw2, se2, s02, n = 1.0, 0.25, 0.5, 30
    d = student_teacher_data(n, [0.5, 2.0], range(150), sigma_w2=sw2, sigma_eps2=se2, sigma_02=s02, device=DEV)
    direct = ((d.w0 - d.w_bar) ** 2).sum(-1) / n + se2
    r = d.y - (d.X @ d.w0.unsqueeze(-1)).squeeze(-1)
    direct_t = (r ** 2).sum(-1) / d.P.to(F64)
    run = simulate_linear_student(d, 0.1, 0, frozen=False)
    assert run.generalisation.shape == (1, 300) and run.steps.tolist() == [0]
    torch.testing.assert_close(run.generalisation[0], direct, rtol=1e-14, atol=0)
    torch.testing.assert_close(run.training[0], direct_t, rtol=1e-14, atol=0)
    for ex in (exact_linear_student(d, [0.0]), exact_linear_student(d, steps=[0], lr=0.1)):
        torch.testing.assert_close(ex.generalisation[0], direct, rtol=1e-12, atol=0)
        torch.testing.assert_close(ex.training[0], direct_t, rtol=1e-12, atol=0)
    within_k_se(direct, sw2 + s02 + se2)


# ---------------------------------------------------------------- GD against the exact per-realisation solution


def test_gd_equals_exact_discrete(data: LinearStudentData) -> None:
    """GD and the exact discrete solution (1 − lr λ)^k from the sample spectrum agree to 1e-10 relative."""
    lr, steps = 0.05, 400
    run = simulate_linear_student(data, lr, steps, record=25)
    assert isinstance(run, LinearStudentRun) and run.generalisation.shape == (17, 12)
    torch.testing.assert_close(run.t, lr * run.steps.to(F64), rtol=0, atol=0)
    ex = exact_linear_student(data, steps=run.steps, lr=lr)
    torch.testing.assert_close(ex.t, run.t, rtol=0, atol=0)
    torch.testing.assert_close(run.generalisation, ex.generalisation, rtol=1e-10, atol=0)
    torch.testing.assert_close(run.training, ex.training, rtol=1e-10, atol=1e-15)
    # the run did learn: training error fell for every realisation, by > 100x where it interpolates (alpha < 1)
    assert bool((run.training[-1] < 0.5 * run.training[0]).all())
    assert bool((run.training[-1, :4] < 0.01 * run.training[0, :4]).all())
    # recording a list of steps gives the same values at those steps
    sub = simulate_linear_student(data, lr, steps, record=[0, 50, 400], frozen=False)
    assert sub.frozen_motion is None
    torch.testing.assert_close(sub.generalisation, run.generalisation[[0, 2, 16]], rtol=0, atol=0)
    torch.testing.assert_close(sub.weights_final, run.weights_final, rtol=0, atol=0)


@pytest.mark.parametrize("t", [1.0, 5.0, 20.0])
def test_flow_against_gd_is_first_order(data: LinearStudentData, t: float) -> None:
    """exact_flow − GD(lr) = 2 (exact_flow − GD(lr/2)) + O(lr²): the Richardson residual is below 5 % of the
    largest first-order error (taken over the batch, since single realisations can have a vanishing O(lr) term)."""
    flow = exact_linear_student(data, [t])
    for field in ("generalisation", "training"):
        f = getattr(flow, field)[0]
        errs = []
        for lr in (0.05, 0.025):
            k = round(t / lr)
            errs.append(f - getattr(simulate_linear_student(data, lr, k, record=[k], frozen=False), field)[0])
        scale = errs[0].abs().max().item()
        assert scale > 1e-5, f"{field}: no visible lr effect at t = {t}"
        resid = (errs[0] - 2 * errs[1]).abs().max().item()
        assert resid <= 0.05 * scale, f"{field} at t = {t}: Richardson residual {resid} vs first-order error {scale}"


def test_frozen_subspace_never_moves() -> None:
    """alpha = 0.5: w − w0 has no component in null(X) (relative 1e-12) although w moves by O(1); the exact solution
    has N − P frozen modes; the measure itself reports motion planted in the null space."""
    d = student_teacher_data(40, 0.5, range(4), sigma_eps2=0.25, sigma_02=0.5, device=DEV)
    run = simulate_linear_student(d, 0.05, 600, record=50)
    moved = (run.weights_final - d.w0).norm(dim=-1)
    assert bool((moved > 0.5).all())
    assert run.frozen_motion.max().item() <= 1e-12
    sp = sample_spectrum(d)
    assert sp.zero.sum(-1).tolist() == [20] * 4
    assert bool((sp.g[sp.zero] == 0).all()) and bool((sp.e_star[sp.zero] == 0).all())
    null = sp.eigenvectors[..., -1]  # a frozen direction (eigenvalues are sorted descending)
    assert bool((d.X @ null.unsqueeze(-1)).abs().max() < 1e-12)
    planted = frozen_subspace_motion(d, d.w0 + 0.3 * null + 0.4 * sp.eigenvectors[..., 0])
    torch.testing.assert_close(planted, torch.full((4,), 0.6, dtype=F64), rtol=1e-12, atol=0)
    # at alpha >= 1 there is no null space
    full = student_teacher_data(40, 1.5, range(2), sigma_02=0.5, device=DEV)
    run_full = simulate_linear_student(full, 0.05, 20, record=10)
    assert bool((run_full.frozen_motion == 0).all())


# ---------------------------------------------------------------- two-layer student


def test_two_layer_gradient_matches_finite_differences() -> None:
    """The hand-derived gradient of ½ Σ_μ (y_μ − a·W x_μ)² matches central differences along random directions,
    and one GD step of simulate_two_layer_student is W − lr ∂L/∂W, a − lr ∂L/∂a."""
    d = student_teacher_data(12, [0.5, 2.0], range(2), sigma_eps2=0.1, device=DEV)
    g = torch.Generator().manual_seed(5)
    B, h, n = 4, 5, 12
    W = torch.randn(B, h, n, generator=g, dtype=F64) / math.sqrt(n)
    a = torch.randn(B, h, generator=g, dtype=F64) / math.sqrt(h)
    dW, da = torch.randn(B, h, n, generator=g, dtype=F64), torch.randn(B, h, generator=g, dtype=F64)
    gW, ga, _ = two_layer_student_gradients(d, W, a)
    eps = 1e-6
    fd = (two_layer_student_loss(d, W + eps * dW, a + eps * da) - two_layer_student_loss(d, W - eps * dW, a - eps * da))
    fd = fd / (2 * eps)
    analytic = (gW * dW).sum((-2, -1)) + (ga * da).sum(-1)
    torch.testing.assert_close(analytic, fd, rtol=1e-7, atol=1e-9)
    lr = 0.03
    run = simulate_two_layer_student(d, h, lr, 1, init=(W, a))
    torch.testing.assert_close(run.W_final, W - lr * gW, rtol=0, atol=1e-15)
    torch.testing.assert_close(run.a_final, a - lr * ga, rtol=0, atol=1e-15)
    torch.testing.assert_close(run.w_eff_final, (run.W_final.mT @ run.a_final.unsqueeze(-1)).squeeze(-1))


def test_two_layer_training_decreases_and_errors_are_exact() -> None:
    """From a small random start (width 10) the training error decreases at every step (up to 1e-12 relative:
    at the noise floor of alpha = 2 it wiggles by rounding) and falls > 100x at alpha = 0.5; E_g recorded from
    w_eff = Wᵀa equals ‖w_eff − w̄‖²/N + σ_ε²; rows of W never move in null(X) (alpha = 0.5)."""
    d = student_teacher_data(30, [0.5, 2.0], range(3), sigma_eps2=0.1, device=DEV)
    run = simulate_two_layer_student(d, 10, 0.05, 400, init_scale=0.3, seed=1)
    assert bool((run.training[1:] <= run.training[:-1] * (1 + 1e-12)).all())
    assert bool((run.training[-1, :3] < 0.01 * run.training[0, :3]).all())
    direct = ((run.w_eff_final - d.w_bar) ** 2).sum(-1) / 30 + 0.1
    torch.testing.assert_close(run.generalisation[-1], direct, rtol=1e-13, atol=0)
    start = simulate_two_layer_student(d, 10, 0.05, 0, init_scale=0.3, seed=1)  # same seed: same start
    sp = sample_spectrum(d)
    null = sp.eigenvectors * sp.zero.to(F64).unsqueeze(-2)
    motion = ((run.W_final - start.W_final) @ null).norm(dim=(-2, -1))
    assert motion.max().item() <= 1e-12 * (run.W_final - start.W_final).norm(dim=(-2, -1)).max().item()


# ---------------------------------------------------------------- pretraining comparison (deep linear, seed 003)


def test_pretraining_aligned_start_matches_mode_learning_time_and_beats_random() -> None:
    """Checks BOTH claims, depth 2: (1) the aligned (pretrained) start's half-times converge to family 1's
    mode_learning_time(s, u0, s/2, tau=1) at first order (error ratio in [1.8, 2.2] when lr halves); (2) on the
    pinned seed 0, every mode of every one of 3 random starts of equal per-layer norm takes longer."""
    ds = whitened_dataset([3.0, 2.0, 1.0], 8, 8, 16, seed=0, device=DEV)
    u0 = 1e-3
    theory = learndyn.function("mode_learning_time")(s=ds.S, u0=u0, uf=ds.S / 2, tau=1.0)
    runs = [pretraining_comparison(ds, lr=lr, steps=round(6 / lr), u0=u0, configs=3, seed=0) for lr in (0.02, 0.01)]
    first = runs[0]
    assert first.aligned_half_times.shape == (3, 3) and first.random_modes.shape == (301, 3, 3)
    torch.testing.assert_close(first.targets, ds.S / 2)
    torch.testing.assert_close(first.aligned_modes[0], torch.full((3, 3), u0, dtype=F64), rtol=1e-12, atol=0)
    assert first.layer_norm == pytest.approx(math.sqrt(3) * math.sqrt(u0))
    errs = [r.aligned_half_times - theory for r in runs]
    assert bool((errs[0].abs() < 0.05).all())
    ratio = errs[0] / errs[1]
    assert bool(((ratio >= 1.8) & (ratio <= 2.2)).all()), f"error ratios {ratio}"
    for r in runs:
        assert not bool(r.random_half_times.isnan().any())
        assert bool((r.random_half_times > r.aligned_half_times).all()), r.random_half_times
