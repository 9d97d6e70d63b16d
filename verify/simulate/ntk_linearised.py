"""Wide networks' linearisations trained by full-batch gradient descent: the setting of the NTK's training
dynamics (family 4, seed 004), where the kernel is fixed at the network's own empirical NTK.

A network of :mod:`learndyn.verify.simulate.ntk` (neural-tangents' parameterisation) is linearised about its
initialisation ``θ0`` in its readout output 0 (the output whose empirical NTK ``Θ̂`` :func:`~.ntk.train_mse`
and :func:`~.ntk.empirical_kernels` report)::

    f_lin(x; θ) = f_0(x; θ0) + J(x)·(θ − θ0),      J(x) = ∂f_0(x; θ0)/∂θ     (torch.func.jacrev, every parameter)

and each of the ``k`` target columns is fitted by its own copy of those parameters, ``θ_j``, starting from the
network's own initial output ``f_j(x; θ0)`` (column ``j`` of ``f0``): ``F_j(x) = f_j(x; θ0) + J(x)·(θ_j − θ0)``.
Its kernel is exactly ``J Jᵀ ⊗ I_k`` — the structure the theory assumes, which the ``k`` outputs of an infinitely
wide network have and a finite network's outputs only up to ``O(1/√N)`` cross-output terms. Full-batch GD on the
loss written out, ``L = 1/(2 n k) Σ_{a,j} (F_j(x_a) − Y_aj)²``, ``θ_j ← θ_j − lr ∂L/∂θ_j = θ_j − lr J(X)ᵀ ∂L/∂F_j(X)``,
keeps ``θ_j − θ0`` in the row space of ``J(X)``: ``θ_j − θ0 = J(X)ᵀ A_j`` with ``A ← A − lr ∂L/∂F(X)``, so the
outputs are ``F = f0 + J Jᵀ A`` at every row (train and test) — the same iterates as GD on the ``P`` parameters
(``P ≫ n``) at a cost of ``O(n² k)`` per step. ``∂L/∂F(X) = (F − Y)/(n k)`` is taken by ``torch.autograd`` of
the loss as written, so the ``1/(n k)`` of the loss reaches the dynamics without being copied by hand.

Per step this is ``F(X) ← F(X) − (lr/(n k)) J Jᵀ (F(X) − Y)``: the Euler method of the flow
``dF/dt = −(lr/(n k)) Θ (F − Y)`` that ``mse_train_prediction`` solves, with ``Θ = J(X) J(X)ᵀ`` formed from the
explicit Jacobian (independently of the layer-by-layer contraction of :func:`~.ntk.empirical_kernels`, which
gives ``Θ̂``; the two agree to round-off).

``antithetic=True`` draws the networks in pairs, the second of each pair the first with its readout layer
(``W^{L+1}``, ``b^{L+1}``) negated: ``f0 ↦ −f0`` while ``J`` of the hidden layers flips sign and that of the readout
does not, so ``J Jᵀ`` is the same. Averaged over a pair, ``E f0 = 0`` holds exactly.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from .ntk import (
    Params,
    _CHUNK_BYTES,
    _chunk,
    _default_device,
    _draw,
    _fans,
    _forward,
    _generator,
    _int,
    _kernels,
    _matrix,
    _network_args,
)

__all__ = ["Linearisation", "LinearisedRun", "gradient_descent", "jacobian_gram", "linearise"]


class Linearisation(NamedTuple):
    """Result of :func:`linearise`: ``networks`` networks about their initialisation (float64).

    ``f0_train`` (networks, n, k), ``f0_test`` (networks, n_test, k): the networks' outputs at initialisation;
    ``ntk_train_train`` (networks, n, n), ``ntk_test_train`` (networks, n_test, n): the empirical NTK of output 0
    (:func:`~.ntk.empirical_kernels`' layer-by-layer contraction); ``jacobian_gram`` (networks, n + n_test, n):
    ``J(x_a)·J(x_b)`` from the explicit Jacobian that :func:`gradient_descent` uses (rows: train, then test;
    columns: train).
    """

    f0_train: Tensor
    f0_test: Tensor
    ntk_train_train: Tensor
    ntk_test_train: Tensor
    jacobian_gram: Tensor


class LinearisedRun(NamedTuple):
    """Result of :func:`gradient_descent` (``R`` recorded step counts).

    ``steps`` (R,) int64; ``f_train`` (networks, R, n, k), ``f_test`` (networks, R, n_test, k): the outputs of the
    linearised networks after that many GD steps.
    """

    steps: Tensor
    f_train: Tensor
    f_test: Tensor


def jacobian_gram(params: Params, x: Tensor, right: slice, *, sigma_w2: float, sigma_b2: float,
                  activation: str) -> Tensor:
    """``J(x_a)·J(x_b)`` (networks, rows, |right|) for the networks in ``params``, ``J(x) = ∂f_0(x)/∂θ`` over every
    parameter of output 0 (the readout's other rows do not touch it), from ``torch.func.jacrev`` per network."""
    head = list(params[:-1]) + [(params[-1][0][:, :1], params[-1][1][:, :1])]
    flat = [p for pair in head for p in pair]

    def out0(*one: Tensor) -> Tensor:
        net = [(one[2 * i].unsqueeze(0), one[2 * i + 1].unsqueeze(0)) for i in range(len(one) // 2)]
        return _forward(net, x, sigma_w2, sigma_b2, activation)[0][0, :, 0]

    jac = torch.func.vmap(torch.func.jacrev(out0, argnums=tuple(range(len(flat)))))(*flat)
    gram = torch.zeros((flat[0].shape[0], x.shape[0], x[right].shape[0]), dtype=x.dtype, device=x.device)
    for j in jac:
        j = j.flatten(2)  # (networks, rows, parameters of this tensor)
        gram += j @ j[:, right].mT
    return gram


def _antithetic(params: Params) -> Params:
    """Each network followed by its twin with the readout layer negated (2c networks from c)."""
    def pairs(t: Tensor, sign: float) -> Tensor:
        return torch.stack([t, sign * t], 1).flatten(0, 1)

    last = len(params) - 1
    return [(pairs(w, -1.0 if i == last else 1.0), pairs(b, -1.0 if i == last else 1.0))
            for i, (w, b) in enumerate(params)]


def linearise(
    x_train: Tensor,
    x_test: Tensor | None = None,
    *,
    hidden_layers: int,
    sigma_w2: float,
    sigma_b2: float,
    activation: str,
    width: int,
    outputs: int = 1,
    networks: int = 1,
    seed: int = 0,
    antithetic: bool = False,
    device: str | torch.device | None = None,
) -> Linearisation:
    """``networks`` networks with ``outputs`` readout outputs, linearised about their initialisation (module
    docstring): their initial outputs, their empirical NTK and the Gram matrix of their explicit Jacobian.

    The networks are those :func:`~.ntk.train_mse` trains with the same ``seed`` and ``k = outputs`` (parameters
    drawn as :func:`~.ntk.init_params` draws them); ``antithetic=True`` draws ``networks/2`` of them, each followed
    by its readout-negated twin (``networks`` must then be even). Float64 on ``device`` (default CUDA if
    available). Raises ``ValueError`` naming the parameter as :func:`~.ntk.train_mse` does, and for an odd
    ``networks`` with ``antithetic``.
    """
    hidden_layers, sw2, sb2, width, networks = _network_args(hidden_layers, sigma_w2, sigma_b2, activation, width,
                                                             networks)
    k = _int("outputs", outputs)
    if antithetic and networks % 2:
        raise ValueError(f"networks must be even with antithetic=True, got {networks}")
    dev = _default_device(device)
    xtr = _matrix("x_train", x_train, dev)
    n, d = xtr.shape
    xte = torch.empty((0, d), dtype=torch.float64, device=dev) if x_test is None else _matrix(
        "x_test", x_test, dev, cols=d)
    m = xte.shape[0]
    x_all = torch.cat([xtr, xte])
    fans = _fans(d, hidden_layers, width, k)
    gen = _generator(seed, dev)
    f64 = dict(dtype=torch.float64, device=dev)
    out = Linearisation(
        f0_train=torch.empty((networks, n, k), **f64),
        f0_test=torch.empty((networks, m, k), **f64),
        ntk_train_train=torch.empty((networks, n, n), **f64),
        ntk_test_train=torch.empty((networks, m, n), **f64),
        jacobian_gram=torch.empty((networks, n + m, n), **f64),
    )
    per = 2 if antithetic else 1
    # the explicit Jacobian holds rows × parameters (of output 0) per network, a few copies of it while it is built
    jacobian_bytes = 8 * 3 * (n + m) * sum(i + 1 for _, i in fans[:-1]) * width + 8 * 3 * (n + m) * (fans[-1][1] + 1)
    chunk = max(per, min(_chunk(networks, fans, n + m), _CHUNK_BYTES // jacobian_bytes) // per * per)
    for start in range(0, networks, chunk):
        c = min(chunk, networks - start)
        rows = slice(start, start + c)
        params = _draw(fans, c // per, gen, dev)
        if antithetic:
            params = _antithetic(params)
        with torch.no_grad():
            f0 = _forward(params, x_all, sw2, sb2, activation)[0]
        ntk = _kernels(params, x_all, slice(None), slice(0, n), sw2, sb2, activation).ntk
        out.f0_train[rows], out.f0_test[rows] = f0[:, :n], f0[:, n:]
        out.ntk_train_train[rows], out.ntk_test_train[rows] = ntk[:, :n], ntk[:, n:]
        out.jacobian_gram[rows] = jacobian_gram(params, x_all, slice(0, n), sigma_w2=sw2, sigma_b2=sb2,
                                                activation=activation)
    return out


def gradient_descent(lin: Linearisation, y_train: Tensor, *, lr: float | Tensor, steps: int,
                     record: Sequence[int] | None = None) -> LinearisedRun:
    """Full-batch GD on ``L = 1/(2 n k) ‖F(X) − Y‖²_F`` of the linearised networks ``lin`` (module docstring):
    ``A ← A − lr ∂L/∂F(X)``, ``F = f0 + J Jᵀ A`` from ``A = 0``.

    ``y_train (n, k)`` with ``k`` the networks' outputs; ``lr`` a float or a tensor (networks,) of step sizes, one
    per network; outputs recorded after each step count in ``record`` (increasing ints in ``[0, steps]``; default
    ``(0, steps)``). Returns a :class:`LinearisedRun`; raises ``ValueError`` naming the parameter for a bad
    ``y_train``, ``lr ≤ 0``, ``steps < 0`` or ``record``.
    """
    dev = lin.f0_train.device
    networks, n, k = lin.f0_train.shape
    y = _matrix("y_train", y_train, dev, rows=n)
    if y.shape[1] != k:
        raise ValueError(f"y_train must have {k} columns (the networks' outputs), got {y.shape[1]}")
    rate = torch.as_tensor(lr, dtype=torch.float64, device=dev)
    if rate.dim() == 0:
        rate = rate.expand(networks)
    if rate.shape != (networks,) or not bool(torch.isfinite(rate).all()) or not bool((rate > 0).all()):
        raise ValueError(f"lr must be a positive float or a tensor of {networks} positive step sizes, got {lr!r}")
    steps = _int("steps", steps, 0)
    times = sorted({0, steps}) if record is None else list(record)
    if (not times or any(not isinstance(t, int) or isinstance(t, bool) for t in times)
            or any(b <= a for a, b in zip(times, times[1:])) or times[0] < 0 or times[-1] > steps):
        raise ValueError(f"record must be a non-empty increasing sequence of ints in [0, steps={steps}], "
                         f"got {record!r}")
    f0 = torch.cat([lin.f0_train, lin.f0_test], 1)
    gram, g_train = lin.jacobian_gram, lin.jacobian_gram[:, :n]
    f_train = torch.empty((networks, len(times), n, k), dtype=torch.float64, device=dev)
    f_test = torch.empty((networks, len(times), f0.shape[1] - n, k), dtype=torch.float64, device=dev)

    def grad_loss(f: Tensor) -> Tensor:
        """``∂L/∂F(X)`` by autograd of the loss as written (summed over networks: each one's own loss)."""
        f = f.detach().requires_grad_()
        loss = (f - y).square().sum() / (2 * n * k)
        return torch.autograd.grad(loss, f)[0]

    a = torch.zeros((networks, n, k), dtype=torch.float64, device=dev)  # θ_j − θ0 = J(X)ᵀ A_j
    step_size = rate.view(-1, 1, 1)
    r = 0
    for step in range(steps + 1):
        if step == times[r]:
            f = f0 + gram @ a
            f_train[:, r], f_test[:, r] = f[:, :n], f[:, n:]
            r += 1
            if r == len(times):
                break
        a = a - step_size * grad_loss(lin.f0_train + g_train @ a)
    return LinearisedRun(steps=torch.tensor(times, dtype=torch.int64, device=dev), f_train=f_train, f_test=f_test)
