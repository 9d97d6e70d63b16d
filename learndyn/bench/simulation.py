"""Group ``simulation``: gradient descent on many hyperparameter configurations in one tensor program, against the
per-configuration loop a user writes with ``torch.optim.SGD``, per configuration-step.

* the scalar network ``ŷ = w2 w1 x`` (:func:`~learndyn.verify.simulate.simulate_scalar_network`, hand-derived
  gradients) against two ``torch.nn.Parameter`` scalars, the loss ``½ (y − w2 w1 x)²``, ``backward`` and ``SGD``;
  goal at 4096 configurations: at least 10,000×;
* a deep linear network, 3 weight matrices of 8×8 on 64 whitened examples
  (:func:`~learndyn.verify.simulate.simulate_deep_linear`, gradient in correlation form) against
  ``torch.nn.Sequential`` of three bias-free ``nn.Linear(8, 8)`` layers on the data, the loss
  ``½ mean_p ‖y_p − ŷ_p‖²``, ``backward`` and ``SGD``; goal at 4096 configurations: at least 1,000×.

Both start from the same weights and learning rates; the final weights of the configurations the loop ran are
compared with the simulator's (``max_relative_difference``), so the two compute the same gradient descent.
"""
from __future__ import annotations

import time

import torch

from learndyn.bench.report import Row
from learndyn.bench.timing import synchronize

__all__ = ["run_simulation", "sgd_loop_scalar", "sgd_loop_deep_linear", "CONFIGS"]

GROUP = "simulation"
CONFIGS = 4096


def sgd_loop_scalar(x: float, y: float, w1: torch.Tensor, w2: torch.Tensor, lr: torch.Tensor, steps: int):
    """The loop a user writes, one configuration at a time: final ``(w1, w2)`` per configuration."""
    out = []
    for i in range(w1.numel()):
        p1 = torch.nn.Parameter(w1[i].clone())
        p2 = torch.nn.Parameter(w2[i].clone())
        opt = torch.optim.SGD([p1, p2], lr=float(lr[i]))
        for _ in range(steps):
            opt.zero_grad()
            loss = 0.5 * (y - p2 * p1 * x) ** 2
            loss.backward()
            opt.step()
        out.append((p1.detach(), p2.detach()))
    return torch.stack([a for a, _ in out]), torch.stack([b for _, b in out])


def sgd_loop_deep_linear(X: torch.Tensor, Y: torch.Tensor, init: list[torch.Tensor], lr: torch.Tensor, steps: int):
    """The loop a user writes for the deep linear network: final weights ``(configs, out, in)`` per layer."""
    finals = []
    for i in range(lr.numel()):
        layers = []
        for w in init:
            layer = torch.nn.Linear(w.shape[-1], w.shape[-2], bias=False, dtype=X.dtype, device=X.device)
            with torch.no_grad():
                layer.weight.copy_(w[i])
            layers.append(layer)
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=float(lr[i]))
        inputs, targets = X.T, Y.T  # examples as rows
        for _ in range(steps):
            opt.zero_grad()
            loss = 0.5 * ((targets - model(inputs)) ** 2).sum(1).mean()
            loss.backward()
            opt.step()
        finals.append([layer.weight.detach().clone() for layer in layers])
    return [torch.stack([f[k] for f in finals]) for k in range(len(init))]


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).abs() / b.abs().clamp(min=1e-300)).max())


def _timed(fn, device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def run_simulation(*, device: str, quick: bool, progress=None) -> list[Row]:
    from learndyn.verify.simulate import simulate_deep_linear, simulate_scalar_network, whitened_dataset

    configs = 64 if quick else CONFIGS
    rows: list[Row] = []
    dt = torch.float64

    # -- scalar network
    if progress:
        progress("simulation: scalar network")
    steps, loop_configs, loop_steps = (20, 2, 20) if quick else (2000, 4, 300)
    lr = torch.linspace(0.002, 0.05, configs, dtype=dt, device=device)
    x, y, u0 = 1.0, 2.0, 1e-3
    w0 = torch.full((configs,), u0 ** 0.5, dtype=dt, device=device)
    simulate_scalar_network(x, y, u0, lr, 2, record_every=2, device=device)  # warm-up
    sim = min(_timed(lambda: simulate_scalar_network(x, y, u0, lr, steps, record_every=steps, device=device), device)
              for _ in range(1 if quick else 3))
    sgd_loop_scalar(x, y, w0[:1], w0[:1], lr[:1], 2)  # warm-up (first autograd and optimiser calls)
    t0 = time.perf_counter()
    w1, w2 = sgd_loop_scalar(x, y, w0[:loop_configs], w0[:loop_configs], lr[:loop_configs], loop_steps)
    loop = time.perf_counter() - t0
    check = simulate_scalar_network(x, y, u0, lr[:loop_configs], loop_steps, record_every=loop_steps, device=device)
    diff = max(_relative(check.w1[-1], w1), _relative(check.w2[-1], w2))
    per_sim, per_loop = sim / (configs * steps), loop / (loop_configs * loop_steps)
    rows.append(Row(GROUP, f"scalar network, {configs} configurations: time per configuration-step", "ns",
                    per_sim * 1e9, per_loop * 1e9, "torch.optim.SGD loop, one configuration at a time", "speedup",
                    goal=10_000.0, details={"configurations": configs, "steps": steps, "loop_configurations": loop_configs,
                                            "loop_steps": loop_steps, "config_steps_per_s": 1 / per_sim,
                                            "loop_config_steps_per_s": 1 / per_loop, "max_relative_difference": diff}))

    # -- deep linear network: 3 weight matrices of 8×8, 64 whitened examples
    if progress:
        progress("simulation: deep linear network")
    steps, loop_configs, loop_steps = (5, 2, 5) if quick else (300, 4, 100)
    data = whitened_dataset([3.0, 2.0, 1.0, 0.5], 8, 8, 64, seed=0, device=device)
    gen = torch.Generator(device="cpu").manual_seed(7)
    init = [(0.3 / 8 ** 0.5 * torch.randn(configs, 8, 8, dtype=dt, generator=gen)).to(device) for _ in range(3)]
    lr = torch.linspace(0.002, 0.02, configs, dtype=dt, device=device)
    simulate_deep_linear(data, 3, lr, 2, init=init, record_every=2)  # warm-up
    sim = min(_timed(lambda: simulate_deep_linear(data, 3, lr, steps, init=init, record_every=steps), device)
              for _ in range(1 if quick else 3))
    head = [w[:1] for w in init]
    sgd_loop_deep_linear(data.X, data.Y, head, lr[:1], 2)  # warm-up
    t0 = time.perf_counter()
    finals = sgd_loop_deep_linear(data.X, data.Y, [w[:loop_configs] for w in init], lr[:loop_configs], loop_steps)
    loop = time.perf_counter() - t0
    check = simulate_deep_linear(data, 3, lr[:loop_configs], loop_steps, init=[w[:loop_configs] for w in init],
                                 record_every=loop_steps)
    diff = max(_relative(a, b) for a, b in zip(check.weights_final, finals))
    per_sim, per_loop = sim / (configs * steps), loop / (loop_configs * loop_steps)
    rows.append(Row(GROUP, f"deep linear network (3 × 8×8, 64 examples), {configs} configurations: "
                    "time per configuration-step", "ns", per_sim * 1e9, per_loop * 1e9,
                    "torch.optim.SGD loop over nn.Linear layers, one configuration at a time", "speedup",
                    goal=1_000.0, details={"configurations": configs, "steps": steps, "loop_configurations": loop_configs,
                                           "loop_steps": loop_steps, "config_steps_per_s": 1 / per_sim,
                                           "loop_config_steps_per_s": 1 / per_loop, "max_relative_difference": diff}))
    return rows
