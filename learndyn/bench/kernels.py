"""Group ``solvers``, part 2: the infinite-width kernels (``nngp_kernel``, ``ntk_kernel``) in time per layer per n²
entries, against neural-tangents' published recursions written naively in torch.

The naive recursion is the textbook one (neural-tangents' ``stax.Relu``/``stax.Erf`` with ``stax.Dense``, NTK
parameterisation): ``K¹ = σ_w² x xᵀ/d + σ_b²``, then per hidden layer ``K ← σ_w² T(K) + σ_b²`` and
``Θ ← K + σ_w² Ṫ(K) Θ`` with the arc-cosine maps (ReLU) ``T = √(q1 q2)(sin θ + (π − θ) cos θ)/(2π)``,
``Ṫ = (π − θ)/(2π)``, ``θ = arccos(c/√(q1 q2))`` (clipped), and the arcsine maps (erf)
``T = (2/π) arcsin(2c/√((1 + 2q1)(1 + 2q2)))``, ``Ṫ = (4/π)/√((1 + 2q1)(1 + 2q2) − 4c²)``. learndyn's composition
carries ``q1 q2 − c²`` and ``q1 + q2 − 2c`` without cancellation (exact for nearly identical inputs), which costs
arithmetic; the figure says how much.
"""
from __future__ import annotations

import math

import torch

import learndyn
from learndyn.bench.report import Row
from learndyn.bench.timing import measure

__all__ = ["naive_kernel", "run_kernels"]

GROUP = "solvers"


def naive_kernel(x: torch.Tensor, hidden_layers: int, sigma_w2: float, sigma_b2: float, activation: str,
                 output: str) -> torch.Tensor:
    """neural-tangents' recursion, naively: the ``(n, n)`` NNGP (``output="nngp"``) or NTK of ``x (n, d)``."""
    d = x.shape[1]
    k = sigma_w2 * (x @ x.T) / d + sigma_b2
    theta = k
    for _ in range(hidden_layers):
        q = torch.diagonal(k)
        q1, q2 = q[:, None], q[None, :]
        if activation == "relu":
            norm = torch.sqrt(q1 * q2)
            angle = torch.arccos(torch.clamp(k / norm, -1.0, 1.0))
            t = norm * (torch.sin(angle) + (math.pi - angle) * torch.cos(angle)) / (2 * math.pi)
            tdot = (math.pi - angle) / (2 * math.pi)
        else:
            prod = (1 + 2 * q1) * (1 + 2 * q2)
            t = (2 / math.pi) * torch.arcsin(2 * k / torch.sqrt(prod))
            tdot = (4 / math.pi) / torch.sqrt(prod - 4 * k * k)
        k = sigma_w2 * t + sigma_b2
        theta = k + sigma_w2 * tdot * theta
    return k if output == "nngp" else theta


def run_kernels(*, device: str, quick: bool, progress=None) -> list[Row]:
    """Per kernel and activation: the cost per layer per entry (time at ``L`` layers minus time at 0 layers, over
    ``L n²``) and the cost of the input kernel per entry (time at 0 layers over ``n²``: learndyn computes
    ``det`` and ``dist`` of the inputs exactly, an ``(n, n, d)`` pass)."""
    n, d, layers = (16, 8, 2) if quick else (256, 32, 16)
    repeats = 1 if quick else 5
    warmup = 0 if quick else 1
    gen = torch.Generator(device="cpu").manual_seed(4)
    x = torch.randn(n, d, dtype=torch.float64, generator=gen).to(device)
    rows: list[Row] = []
    for name in ("nngp_kernel", "ntk_kernel"):
        output = "nngp" if name == "nngp_kernel" else "ntk"
        fn = learndyn.function(name)
        for activation, sigma_w2, sigma_b2 in (("relu", 2.0, 0.1), ("erf", 1.5, 0.05)):
            if progress:
                progress(f"solvers: {name} ({activation})")
            t = {}
            for depth in (0, layers):
                t["ours", depth] = measure(lambda: fn(x, None, depth, sigma_w2, sigma_b2, activation), repeats=repeats,
                                           warmup=warmup, device=device).median
                t["naive", depth] = measure(lambda: naive_kernel(x, depth, sigma_w2, sigma_b2, activation, output),
                                            repeats=repeats, warmup=warmup, device=device).median
            a = fn(x, None, layers, sigma_w2, sigma_b2, activation)
            b = naive_kernel(x, layers, sigma_w2, sigma_b2, activation, output)
            diff = float(((a - b).abs() / b.abs().clamp(min=1e-300)).max())
            details = {"n": n, "d": d, "hidden_layers": layers, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2,
                       "max_relative_difference_to_naive": diff, "seconds": {f"{k}@{l}": v for (k, l), v in t.items()}}
            per_layer = {k: max(t[k, layers] - t[k, 0], 0.0) * 1e9 / (layers * n * n) for k in ("ours", "naive")}
            label = f"{name} ({activation}, n={n}, {layers} layers)"
            rows.append(Row(GROUP, f"{label}: time per layer per entry", "ns", per_layer["ours"] or None,
                            per_layer["naive"] or None, "neural-tangents' recursion, naive torch", "speedup",
                            details=details))
            rows.append(Row(GROUP, f"{label}: input kernel per entry", "ns", t["ours", 0] * 1e9 / (n * n),
                            t["naive", 0] * 1e9 / (n * n), "x xᵀ/d, naive torch", "speedup",
                            note="learndyn: det and dist of the inputs without cancellation", details=details))
    return rows
