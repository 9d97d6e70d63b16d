"""Tests of the family-5 simulators (learndyn.verify.simulate.classification): each computes what it says.

* the hand-derived gradients equal autograd's on random (not decoupled) networks, all depths, both losses, every
  data set, with and without the one-path masks, and GD with either gives the same run;
* the data sets stand for the mean loss over explicit examples (rows repeated as often as their weight says);
* a fully connected network from the decoupled start stays decoupled bit for bit on single-feature examples (not on
  co-occurring ones, unless masked to one path per feature);
* the balance ``Δ = a² − v²``: exactly ``Δ_{k+1} = Δ_k (1 − (lr p g r)²)`` per GD step, so 0 stays 0 and the drift
  over a fixed flow time is first order in ``lr``;
* GD converges to the mode equation ``dm/dt = L p r^{2/L} m^{2−2/L} g(m)`` (written out here and integrated by RK4,
  independently of the package) at first order in ``lr``; the hinge margin freezes after reaching 1;
* wrong-sign starts: ``a0 > |v0|`` crosses 0, ``a0 < |v0|`` dies (``a`` reaches 0 first);
* :func:`first_crossing` interpolates exactly on a line.
"""
from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.simulate import (
    classifier_gradients,
    classifier_loss,
    classifier_output,
    cooccurring_features,
    decoupled_start,
    first_crossing,
    orthogonal_features,
    path_masks,
    starvation_data,
    train_classifier,
    two_layer_start,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64
CLASSES = torch.tensor([[1.0, -1.0, 1.0]], dtype=F64)


def _random_weights(depth: int, B: int, d: int, H: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    if depth == 1:
        return (torch.randn(B, d, generator=g, dtype=F64),)
    shapes = [(B, H, d)] + [(B, H, H)] * (depth - 2) + [(B, H)]
    return tuple(torch.randn(*s, generator=g, dtype=F64) for s in shapes)


def _datasets(B: int):
    g = torch.Generator().manual_seed(3)
    r = 0.5 + 1.5 * torch.rand(B, 3, generator=g, dtype=F64)
    return {
        "orthogonal": orthogonal_features(r, torch.full((B, 3), 0.3, dtype=F64), CLASSES),
        "starvation": starvation_data(r[:, 0], r[:, 1], 0.3, 0.6),
        "control": starvation_data(r[:, 0], r[:, 1], 0.3, 0.6, control=True),
        "cooccurring": cooccurring_features(r[:, 0], 0.3, 0.5),
    }


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_gradients_equal_autograd(depth: int, loss: str) -> None:
    """Random weights of both signs (some units inactive on some examples): hand-derived = autograd to 1e-13."""
    B, H = 5, 4
    for name, data in _datasets(B).items():
        d = data.X.shape[-1]
        for masked in (False, True):
            w = _random_weights(depth, B, d, H, seed=depth + 10 * masked)
            masks = path_masks(depth, H, d) if masked else None
            manual, m = classifier_gradients(w, data, loss, masks)
            params = [x.clone().requires_grad_(True) for x in w]
            auto = torch.autograd.grad(classifier_loss(params, data, loss).sum(), params)
            for layer, (a, b) in enumerate(zip(manual, auto)):
                if masks is not None and layer < len(masks):
                    b = b * masks[layer]
                assert torch.allclose(a, b, rtol=1e-12, atol=1e-13), (name, masked, layer)
            assert torch.allclose(m, data.y * classifier_output(w, data.X), rtol=0, atol=1e-14)


def test_hinge_gradient_is_zero_at_and_above_margin_one() -> None:
    data = orthogonal_features(torch.tensor([[1.0]], dtype=F64), 0.5, torch.tensor([[1.0]], dtype=F64))
    for m, expected in ((0.999, 1.0), (1.0, 0.0), (1.5, 0.0)):
        w = decoupled_start(torch.tensor([[m]], dtype=F64), 1.0, 1.0, 2)
        grads, _ = classifier_gradients(w, data, "hinge")
        assert bool((grads[-1].abs() > 0).all()) == bool(expected), m


@pytest.mark.parametrize("depth", [2, 3])
def test_gd_with_autograd_is_the_same_run(depth: int) -> None:
    data = _datasets(3)["cooccurring"]
    w = _random_weights(depth, 3, 3, 3, seed=5)
    runs = [train_classifier(data, w, 0.05, 40, loss=["logistic", "hinge", "logistic"], gradient=g)
            for g in ("manual", "autograd")]
    assert torch.allclose(runs[0].margins, runs[1].margins, rtol=1e-12, atol=1e-14)
    assert torch.allclose(runs[0].feature_margins, runs[1].feature_margins, rtol=1e-12, atol=1e-14)


def test_weights_are_the_mean_over_repeated_examples() -> None:
    """A data set with weights 0.25, 0.5, 0.25 is GD on 4 explicit examples (one row repeated), mean loss."""
    data = starvation_data(torch.tensor([1.3]), torch.tensor([0.7]), 0.5, 0.75)  # weights (3/8, 3/8, 1/4)
    rows = torch.cat([data.X[:, :1].expand(1, 3, 3), data.X[:, 1:2].expand(1, 3, 3), data.X[:, 2:].expand(1, 2, 3)], 1)
    labels = torch.tensor([[1.0] * 6 + [-1.0] * 2], dtype=F64)
    explicit = data._replace(X=rows, y=labels, weight=torch.full((1, 8), 1 / 8, dtype=F64))
    w = _random_weights(2, 1, 3, 3, seed=2)
    a = train_classifier(data, w, 0.1, 50)
    b = train_classifier(explicit, w, 0.1, 50)
    assert torch.allclose(a.feature_margins, b.feature_margins, rtol=1e-12, atol=1e-14)
    assert torch.allclose(a.loss, b.loss, rtol=1e-12)


def _off_path(weights) -> float:
    """The largest weight off the paths (unit k ← e_k, unit k ← unit k)."""
    out = 0.0
    for W in weights[:-1]:
        eye = torch.eye(W.shape[-2], W.shape[-1], dtype=torch.bool)
        out = max(out, float(W[:, ~eye].abs().max()))
    return out


@pytest.mark.parametrize("depth", [2, 3])
def test_decoupled_start_stays_decoupled(depth: int) -> None:
    """Single-feature examples: every off-path weight of the fully connected network stays exactly 0, and each
    feature's margin is that of a network trained on that feature alone (bit for bit up to the summation order)."""
    r = torch.tensor([[0.7, 1.4, 1.1]], dtype=F64)
    p = torch.tensor([[0.2, 0.3, 0.4]], dtype=F64)
    m0 = torch.tensor([[0.01, 0.05, 0.2]], dtype=F64)
    data = orthogonal_features(r, p, CLASSES)
    start = decoupled_start(m0, r, CLASSES, depth)
    for loss in ("logistic", "hinge"):
        run = train_classifier(data, start, 0.05, 600, loss=loss)
        assert _off_path(run.weights_final) == 0.0
        for k in range(3):
            alone = orthogonal_features(r[:, k:k + 1], p[:, k:k + 1], CLASSES[:, k:k + 1])
            single = train_classifier(alone, decoupled_start(m0[:, k:k + 1], r[:, k:k + 1], CLASSES[:, k:k + 1], depth),
                                      0.05, 600, loss=loss)
            assert torch.allclose(run.margins[:, :, k], single.margins[:, :, 0], rtol=1e-13, atol=0)


def test_cooccurring_features_couple_a_fully_connected_network_only() -> None:
    data = cooccurring_features(torch.tensor([1.0]), 0.3, 0.5)
    start = decoupled_start(torch.full((1, 3), 0.05, dtype=F64), 1.0, CLASSES, 2)
    full = train_classifier(data, start, 0.05, 200)
    paths = train_classifier(data, start, 0.05, 200, masks=path_masks(2, 3, 3))
    assert _off_path(full.weights_final) > 1e-3
    assert _off_path(paths.weights_final) == 0.0


def test_starvation_data_rows() -> None:
    d = starvation_data(torch.tensor([2.0]), torch.tensor([0.5]), 0.2, 0.6)
    assert torch.equal(d.X[0], torch.tensor([[2.0, 0, 0], [2.0, 0.5, 0], [0, 0, 2.0]], dtype=F64))
    assert torch.allclose(d.weight[0], torch.tensor([0.48, 0.12, 0.4], dtype=F64))
    c = starvation_data(torch.tensor([2.0]), torch.tensor([0.5]), 0.2, 0.6, control=True)
    assert torch.equal(c.X[0, 1], torch.tensor([0, 0.5, 0], dtype=F64))
    o = cooccurring_features(torch.tensor([1.5]), 0.25, 0.4)
    assert torch.allclose(o.weight[0], torch.tensor([0.15, 0.15, 0.1, 0.25], dtype=F64))
    assert torch.equal(o.X[0, 2], torch.tensor([1.5, 1.5, 0], dtype=F64))


def _balance(weights) -> torch.Tensor:
    W1, v = weights
    return W1.diagonal(dim1=-2, dim2=-1) ** 2 - v**2


def test_balance_evolves_exactly_as_derived() -> None:
    """One GD step multiplies ``Δ = a² − v²`` by ``1 − (lr p g(m) r)²`` (two layers, decoupled): 0 stays 0 (to
    round-off), and over a fixed flow time the drift of an imbalanced start is first order in ``lr``."""
    r = torch.tensor([[0.8, 1.6]], dtype=F64)
    p = torch.tensor([[0.3, 0.5]], dtype=F64)
    classes = torch.tensor([[1.0, -1.0]], dtype=F64)
    data = orthogonal_features(r, p, classes)
    for loss, g in (("logistic", lambda m: torch.sigmoid(-m)), ("hinge", lambda m: (m < 1).to(F64))):
        balanced = decoupled_start(torch.tensor([[0.02, 0.3]], dtype=F64), r, classes, 2)
        w = balanced
        for _ in range(50):
            nxt = train_classifier(data, w, 0.1, 1, loss=loss).weights_final
            w = nxt
        a = w[0].diagonal(dim1=-2, dim2=-1)
        assert float((_balance(w).abs() / a**2).max()) < 1e-13
        w = decoupled_start(torch.tensor([[0.02, 0.3]], dtype=F64), r, classes, 2, imbalance=0.2)
        lr = 0.1
        for _ in range(30):
            m = classes * r * w[0].diagonal(dim1=-2, dim2=-1) * w[1]
            expected = _balance(w) * (1 - (lr * p * g(m) * r) ** 2)
            w = train_classifier(data, w, lr, 1, loss=loss).weights_final
            assert torch.allclose(_balance(w), expected, rtol=1e-12, atol=1e-15)
    drift = []
    for lr in (0.1, 0.05, 0.025):
        w = decoupled_start(torch.tensor([[0.02, 0.3]], dtype=F64), r, classes, 2, imbalance=0.2)
        end = train_classifier(data, w, lr, int(round(8 / lr)), loss="logistic").weights_final
        drift.append((_balance(end) - 0.2).abs())
    for big, small in zip(drift, drift[1:]):
        ratio = big / small
        assert bool(((ratio > 1.8) & (ratio < 2.2)).all()), ratio


def _mode_flow(m0: torch.Tensor, k: torch.Tensor, depth: int, loss: str, t: torch.Tensor, n: int = 4000) -> torch.Tensor:
    """RK4 of ``d ln m/dt = k m^{1−2/L} g(m)`` (``k = L p r^{2/L}``) to times ``t`` (a grid starting at 0)."""
    def rhs(u):
        m = torch.exp(u)
        g = torch.sigmoid(-m) if loss == "logistic" else (m < 1).to(F64)
        return k * m ** (1 - 2.0 / depth) * g

    out = [torch.log(m0)]
    u = torch.log(m0)
    for t0, t1 in zip(t[:-1], t[1:]):
        h = (t1 - t0) / n
        for _ in range(n):
            k1 = rhs(u)
            k2 = rhs(u + h / 2 * k1)
            k3 = rhs(u + h / 2 * k2)
            k4 = rhs(u + h * k3)
            u = u + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(u)
    return torch.exp(torch.stack(out))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_gd_follows_the_mode_equation_at_first_order(depth: int) -> None:
    """Logistic loss, fully connected network, decoupled balanced start: the error against the mode equation at
    fixed flow times halves with lr, and Richardson's ``2m(lr/2) − m(lr)`` is within 1e-4 (relative)."""
    r = torch.tensor([[0.7, 1.5]], dtype=F64)
    p = torch.tensor([[0.4, 0.25]], dtype=F64)
    m0 = torch.tensor([[0.02, 0.1]], dtype=F64)
    classes = torch.tensor([[1.0, -1.0]], dtype=F64)
    k = depth * p * r ** (2.0 / depth)
    data = orthogonal_features(r, p, classes)
    T = 6.0 / float(k.min())
    steps = 800
    lr = T / steps
    runs = [train_classifier(data, decoupled_start(m0, r, classes, depth), lr / j, j * steps, loss="logistic",
                             record_every=j * steps // 8) for j in (1, 2, 4)]
    flow = _mode_flow(m0[0], k[0], depth, "logistic", runs[0].t[:, 0], n=400)
    errors = [((run.margins[:, 0] - flow) / flow).abs().max() for run in runs]
    assert errors[0] > 1e-3  # resolved
    for big, small in zip(errors, errors[1:]):
        assert 1.8 < float(big / small) < 2.2, errors
    richardson = ((2 * runs[2].margins[:, 0] - runs[1].margins[:, 0] - flow) / flow).abs().max()
    assert float(richardson) < 1e-4


def test_hinge_margin_freezes_after_one() -> None:
    r = torch.tensor([[1.0, 1.7]], dtype=F64)
    classes = torch.tensor([[1.0, -1.0]], dtype=F64)
    data = orthogonal_features(r, 0.4, classes)
    run = train_classifier(data, decoupled_start(0.05, r, classes, 3), 0.02, 3000, loss="hinge")
    m = run.margins[:, 0]
    for k in range(2):
        first = int((m[:, k] >= 1).to(torch.int64).argmax())
        assert 0 < first < m.shape[0] - 100
        assert bool((m[first:, k] == m[first, k]).all()) and m[first - 1, k] < 1 <= m[first, k]
    assert torch.equal(run.loss[-1], run.loss[-2])


def test_wrong_sign_starts_cross_or_die() -> None:
    """Two layers, c = +1, v0 < 0: a0 > |v0| crosses margin 0 and keeps a > 0; a0 < |v0| ends with a ≤ 0 (the
    unit is inactive on its feature: its margin is 0 and no longer moves)."""
    a0 = torch.tensor([[0.5, 0.3]], dtype=F64)
    v0 = torch.tensor([[-0.3, -0.5]], dtype=F64)
    data = orthogonal_features(torch.tensor([[1.0, 1.0]], dtype=F64), 0.4, torch.tensor([[1.0, 1.0]], dtype=F64))
    for loss in ("logistic", "hinge"):
        run = train_classifier(data, two_layer_start(a0, v0), 0.05, 2000, loss=loss)
        a = run.weights_final[0].diagonal(dim1=-2, dim2=-1)[0]
        m = run.margins[:, 0]
        assert m[-1, 0] > 0.5 and a[0] > 0
        assert a[1] <= 0 and m[-1, 1] == 0 and bool((m[:, 1] <= 0).all())


def test_first_crossing_interpolates() -> None:
    data = orthogonal_features(torch.tensor([[1.0]], dtype=F64), 0.5, torch.tensor([[1.0]], dtype=F64))
    run = train_classifier(data, decoupled_start(0.1, 1.0, 1.0, 1), 0.1, 40, loss="hinge")  # m = 0.1 + p r² t = 0.1 + 0.5 t
    t = first_crossing(run, torch.tensor(0.6123, dtype=F64))
    assert t.item() == pytest.approx((0.6123 - 0.1) / 0.5, rel=1e-12)
    assert math.isnan(first_crossing(run, torch.tensor(5.0, dtype=F64)).item())
    assert first_crossing(run, torch.tensor(0.05, dtype=F64)).item() == 0.0


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        orthogonal_features(1.0, torch.tensor([[0.6, 0.6]], dtype=F64), torch.tensor([[1.0, -1.0]], dtype=F64))
    with pytest.raises(ValueError):
        decoupled_start(-0.1, 1.0, 1.0, 2)
    data = orthogonal_features(1.0, 0.5, 1.0)
    with pytest.raises(ValueError):
        train_classifier(data, decoupled_start(0.1, 1.0, 1.0, 2), 0.1, 5, loss="squared")
    with pytest.raises(ValueError):
        train_classifier(data, decoupled_start(0.1, 1.0, 1.0, 2), -0.1, 5)
