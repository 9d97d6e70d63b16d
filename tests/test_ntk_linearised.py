"""Tests of learndyn.verify.simulate.ntk_linearised: wide networks' linearisations trained by gradient descent.

The references are written out here: the network's forward pass (neural-tangents' parameterisation,
``z = (σ_w/√n_in) W a + σ_b b``), its Jacobian from one ``torch.autograd.grad`` per input over every parameter of
output 0, and gradient descent on the linearised model's parameters themselves (``P`` of them per target column),
``θ_j ← θ_j − lr ∂L/∂θ_j`` with ``L = ‖F − Y‖²_F/(2 n k)`` and ``F_j = f0_j + J (θ_j − θ0)``.
"""
from __future__ import annotations

import math

import pytest
import torch

from learndyn.verify.simulate import empirical_kernels, forward, init_params, train_mse
from learndyn.verify.simulate.ntk_linearised import (
    Linearisation,
    LinearisedRun,
    gradient_descent,
    jacobian_gram,
    linearise,
)

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rows(n: int, d: int, seed: int) -> torch.Tensor:
    x = torch.randn(n, d, dtype=F64, generator=torch.Generator().manual_seed(seed))
    return x / x.norm(dim=1, keepdim=True) * math.sqrt(d)


def reference_output0(net, x: torch.Tensor, sw2: float, sb2: float, activation: str) -> torch.Tensor:
    """Output 0 of one network (unbatched ``net``) at one input ``x (d,)``."""
    phi = torch.relu if activation == "relu" else torch.erf
    a = x
    for layer, (w, b) in enumerate(net):
        z = math.sqrt(sw2 / a.shape[0]) * (w @ a) + math.sqrt(sb2) * b
        if layer == len(net) - 1:
            return z[0]
        a = phi(z)
    raise AssertionError


def reference_jacobian(params, i: int, x: torch.Tensor, sw2: float, sb2: float, activation: str) -> torch.Tensor:
    """``∂f_0(x_a)/∂θ`` (rows, P) of network ``i``, one autograd call per row, every parameter flattened."""
    net = [(w[i].clone().requires_grad_(), b[i].clone().requires_grad_()) for w, b in params]
    flat = [p for pair in net for p in pair]
    return torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(
        reference_output0(net, xa, sw2, sb2, activation), flat)]) for xa in x])


KW = dict(sigma_w2=1.7, sigma_b2=0.3, width=6)


@pytest.mark.parametrize("hidden_layers, activation", [(1, "erf"), (2, "relu")])
def test_linearisation_is_the_networks_own(hidden_layers: int, activation: str) -> None:
    """The same networks as :func:`train_mse` (seed, ``outputs = k``): their initial outputs and output-0 NTK; and
    the Gram matrix of the explicit Jacobian equals ``J Jᵀ`` of the reference and the NTK (to round-off)."""
    d, k = 3, 2
    x, xt = rows(4, d, 1), rows(3, d, 2)
    lin = linearise(x, xt, hidden_layers=hidden_layers, activation=activation, outputs=k, networks=3, seed=5,
                    device="cpu", **KW)
    assert isinstance(lin, Linearisation)
    assert lin.f0_train.shape == (3, 4, k) and lin.f0_test.shape == (3, 3, k) and lin.jacobian_gram.shape == (3, 7, 4)
    trained = train_mse(x, torch.zeros(4, k, dtype=F64), xt, hidden_layers=hidden_layers, activation=activation,
                        lr=0.1, steps=0, networks=3, seed=5, device="cpu", **KW)
    assert torch.allclose(lin.f0_train, trained.f0_train, rtol=1e-13, atol=1e-14)
    assert torch.allclose(lin.f0_test, trained.f0_test, rtol=1e-13, atol=1e-14)
    assert torch.allclose(lin.ntk_train_train, trained.ntk_train_train, rtol=1e-13, atol=1e-14)
    params = init_params(d, hidden_layers=hidden_layers, width=KW["width"], outputs=k, networks=3, seed=5,
                         device="cpu")
    for i in range(3):
        j = reference_jacobian(params, i, torch.cat([x, xt]), KW["sigma_w2"], KW["sigma_b2"], activation)
        assert torch.allclose(lin.jacobian_gram[i], j @ j[:4].T, rtol=1e-12, atol=1e-13)
    assert torch.allclose(lin.jacobian_gram[:, :4], lin.ntk_train_train, rtol=1e-12, atol=1e-13)
    assert torch.allclose(lin.jacobian_gram[:, 4:], lin.ntk_test_train, rtol=1e-12, atol=1e-13)


def test_jacobian_gram_between_row_sets() -> None:
    """``right`` selects the columns: the Gram between all rows and a subset equals the NTK of those rows."""
    x = rows(5, 3, 3)
    params = init_params(3, hidden_layers=1, width=7, outputs=1, networks=2, seed=1, device="cpu")
    g = jacobian_gram(params, x, slice(1, 3), sigma_w2=2.0, sigma_b2=0.1, activation="erf")
    k = empirical_kernels(x, x[1:3], hidden_layers=1, sigma_w2=2.0, sigma_b2=0.1, activation="erf", width=7,
                          networks=2, seed=1, device="cpu")
    assert torch.allclose(g, k.ntk, rtol=1e-12, atol=1e-13)


def test_gradient_descent_is_gd_on_the_linearised_parameters() -> None:
    """Against GD on the ``P`` parameters of each target column's tangent model, by autograd of the loss
    written out; per-network step sizes; outputs recorded after the given step counts (train and test rows)."""
    d, k, n, m = 3, 2, 4, 2
    x, xt = rows(n, d, 4), rows(m, d, 5)
    y = torch.randn(n, k, dtype=F64, generator=torch.Generator().manual_seed(6))
    lin = linearise(x, xt, hidden_layers=1, activation="erf", outputs=k, networks=2, seed=3, device="cpu", **KW)
    lr = torch.tensor([0.3, 0.7], dtype=F64)
    record = [0, 1, 5, 17]
    run = gradient_descent(lin, y, lr=lr, steps=17, record=record)
    assert isinstance(run, LinearisedRun) and run.steps.tolist() == record
    assert run.f_train.shape == (2, 4, n, k) and run.f_test.shape == (2, 4, m, k)
    params = init_params(d, hidden_layers=1, width=KW["width"], outputs=k, networks=2, seed=3, device="cpu")
    for i in range(2):
        jac = reference_jacobian(params, i, torch.cat([x, xt]), KW["sigma_w2"], KW["sigma_b2"], "erf")
        f0 = torch.cat([lin.f0_train[i], lin.f0_test[i]])
        delta = torch.zeros(jac.shape[1], k, dtype=F64, requires_grad=True)  # θ_j − θ0, one column per target
        for step in range(18):
            if step in record:
                f = (f0 + jac @ delta).detach()
                r = record.index(step)
                assert torch.allclose(run.f_train[i, r], f[:n], rtol=1e-11, atol=1e-12)
                assert torch.allclose(run.f_test[i, r], f[n:], rtol=1e-11, atol=1e-12)
            loss = (f0[:n] + jac[:n] @ delta - y).square().sum() / (2 * n * k)
            (g,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                delta -= lr[i] * g
    # one float step size applies to every network
    same = gradient_descent(lin, y, lr=0.3, steps=17, record=record)
    assert torch.equal(same.f_train[0], run.f_train[0])


def test_antithetic_pairs() -> None:
    """Pairs: the first of each pair is the network :func:`init_params` draws (``networks/2`` of them), the second
    the same with its readout negated: ``f0 ↦ −f0``, the same NTK and Gram matrix; so a pair's mean output under
    GD is the response to the targets alone (``f0`` cancels exactly)."""
    d, k = 3, 2
    x, xt = rows(4, d, 7), rows(2, d, 8)
    lin = linearise(x, xt, hidden_layers=2, activation="relu", outputs=k, networks=4, seed=9, antithetic=True,
                    device="cpu", **KW)
    params = init_params(d, hidden_layers=2, width=KW["width"], outputs=k, networks=2, seed=9, device="cpu")
    f = forward(params, torch.cat([x, xt]), sigma_w2=KW["sigma_w2"], sigma_b2=KW["sigma_b2"], activation="relu")
    assert torch.allclose(lin.f0_train[0::2], f[:, :4], rtol=1e-13, atol=1e-14)
    assert torch.allclose(lin.f0_train[1::2], -f[:, :4], rtol=1e-13, atol=1e-14)
    assert torch.allclose(lin.ntk_train_train[0::2], lin.ntk_train_train[1::2], rtol=1e-13, atol=1e-14)
    assert torch.allclose(lin.jacobian_gram[0::2], lin.jacobian_gram[1::2], rtol=1e-13, atol=1e-14)
    assert not torch.allclose(lin.f0_train[0], lin.f0_train[2])  # two different pairs
    y = torch.randn(4, k, dtype=F64, generator=torch.Generator().manual_seed(1))
    run = gradient_descent(lin, y, lr=0.2, steps=10)
    zero = Linearisation(torch.zeros_like(lin.f0_train), torch.zeros_like(lin.f0_test), *lin[2:])
    response = gradient_descent(zero, y, lr=0.2, steps=10)
    pair_mean = (run.f_test[0::2] + run.f_test[1::2]) / 2
    assert torch.allclose(pair_mean, response.f_test[0::2], rtol=1e-12, atol=1e-13)


def test_validation() -> None:
    x = rows(3, 2, 1)
    kw = dict(hidden_layers=1, activation="erf", device="cpu", **KW)
    with pytest.raises(ValueError, match="networks"):
        linearise(x, networks=3, antithetic=True, **kw)
    with pytest.raises(ValueError, match="activation"):
        linearise(x, **{**kw, "activation": "tanh"})
    with pytest.raises(ValueError, match="outputs"):
        linearise(x, outputs=0, **kw)
    lin = linearise(x, outputs=2, networks=2, **kw)
    y = torch.zeros(3, 2, dtype=F64)
    assert lin.f0_test.shape == (2, 0, 2)
    with pytest.raises(ValueError, match="y_train"):
        gradient_descent(lin, torch.zeros(3, 1, dtype=F64), lr=0.1, steps=3)
    with pytest.raises(ValueError, match="lr"):
        gradient_descent(lin, y, lr=0.0, steps=3)
    with pytest.raises(ValueError, match="lr"):
        gradient_descent(lin, y, lr=torch.tensor([0.1, 0.1, 0.1], dtype=F64), steps=3)
    with pytest.raises(ValueError, match="steps"):
        gradient_descent(lin, y, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match="record"):
        gradient_descent(lin, y, lr=0.1, steps=3, record=[2, 1])


def test_chunks_do_not_change_the_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Networks are drawn one by one, so a run split into chunks of two (antithetic pairs kept together) is the
    same as one chunk."""
    import learndyn.verify.simulate.ntk_linearised as module

    x = rows(4, 3, 2)
    kw = dict(hidden_layers=2, activation="erf", outputs=2, networks=6, seed=4, antithetic=True, device="cpu", **KW)
    whole = linearise(x, **kw)
    monkeypatch.setattr(module, "_CHUNK_BYTES", 1)
    chunked = linearise(x, **kw)
    for a, b in zip(whole, chunked):
        assert torch.equal(a, b)
