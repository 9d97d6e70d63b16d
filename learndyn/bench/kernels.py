"""Group ``kernels``: the infinite-width NNGP and NTK together (:func:`learndyn.kernels`, one pass over the layers)
against neural-tangents (an optional baseline, when it is installed) and a naive torch recursion, on ``K(x, x)``.

neural-tangents runs its own ``stax.serial([Dense, act] × L, Dense)`` kernel function (NTK parameterisation, the
same ``σ_w²``, ``σ_b²``), jitted with float64 (``jax_enable_x64``) and asked for ``('nngp', 'ntk')`` in one call; its
compile is timed apart, as is learndyn's (the layers run compiled from the second large call on, see
:data:`learndyn.numerics.kernels.COMPILE_MIN_WORK`). The naive recursion is the textbook one (neural-tangents'
``stax.Relu``/``stax.Erf`` maps with ``stax.Dense``): ``K¹ = σ_w² x xᵀ/d + σ_b²``, then per hidden layer
``Θ ← K' + σ_w² Ṫ(K) Θ`` with ``K' = σ_w² T(K) + σ_b²`` and the arc-cosine maps (ReLU)
``T = √(q1 q2)(sin θ + (π − θ) cos θ)/(2π)``, ``Ṫ = (π − θ)/(2π)``, ``θ = arccos(c/√(q1 q2))`` (clipped), and the
arcsine maps (erf) ``T = (2/π) arcsin(2c/√((1 + 2q1)(1 + 2q2)))``, ``Ṫ = (4/π)/√((1 + 2q1)(1 + 2q2) − 4c²)``.
learndyn carries ``q1 q2 − c²``, ``q1 + q2 − 2c`` and ``q1 − q2`` without cancellation (exact for nearly identical
and nearly opposite inputs), which costs arithmetic; each row says what it costs and how far the three disagree.
"""
from __future__ import annotations

import functools
import math
import time

import torch

import learndyn
from learndyn.bench.report import Row
from learndyn.bench.timing import measure

__all__ = ["naive_kernel", "naive_kernels", "run_kernels", "neural_tangents"]

GROUP = "kernels"
#: (activation, σ_w², σ_b²) of the comparison
SETTINGS = (("relu", 2.0, 0.1), ("erf", 1.5, 0.05))


def naive_kernels(x: torch.Tensor, hidden_layers: int, sigma_w2: float, sigma_b2: float,
                  activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """neural-tangents' recursion, naively: the ``(n, n)`` NNGP and NTK of ``x (n, d)`` in one pass."""
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
    return k, theta


def naive_kernel(x: torch.Tensor, hidden_layers: int, sigma_w2: float, sigma_b2: float, activation: str,
                 output: str) -> torch.Tensor:
    """One of :func:`naive_kernels`' outputs (``output``: ``"nngp"`` or ``"ntk"``)."""
    nngp, ntk = naive_kernels(x, hidden_layers, sigma_w2, sigma_b2, activation)
    return nngp if output == "nngp" else ntk


@functools.lru_cache(maxsize=1)
def neural_tangents() -> dict | None:
    """neural-tangents and jax (float64 enabled) with their versions, or ``None`` where they are not installed (or
    do not import: neural-tangents 0.6.5 needs jax 0.4.23 and numpy < 2)."""
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import neural_tangents as nt
        from neural_tangents import stax
    except Exception:  # noqa: BLE001 - an optional baseline: any import failure means "not installed"
        return None
    return {"jax": jax, "jnp": jnp, "stax": stax, "name": f"neural-tangents {nt.__version__} (jax {jax.__version__}, "
            f"jit, float64)"}


def _nt_kernel_fn(nt: dict, hidden_layers: int, sigma_w2: float, sigma_b2: float, activation: str):
    stax = nt["stax"]
    act = {"relu": stax.Relu, "erf": stax.Erf}[activation]
    dense = functools.partial(stax.Dense, 1, W_std=math.sqrt(sigma_w2), b_std=math.sqrt(sigma_b2))
    layers = [f() for _ in range(hidden_layers) for f in (dense, act)]
    _, _, kernel_fn = stax.serial(*layers, dense())
    jitted = nt["jax"].jit(kernel_fn, static_argnames="get")
    return lambda x: [a.block_until_ready() for a in jitted(x, None, ("nngp", "ntk"))]


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).abs() / b.abs().clamp(min=1e-300)).max())


def run_kernels(*, device: str, quick: bool, progress=None) -> list[Row]:
    """Per size and activation: the seconds of NNGP + NTK of ``K(x, x)`` (``x`` of ``n × 64`` standard normal
    entries, 10 hidden layers) for learndyn, neural-tangents and the naive recursion (medians after warm-up; the first
    calls apart), and the largest relative differences between them. Goal: learndyn at most neural-tangents' time."""
    sizes, d, layers = ((16,), 8, 2) if quick else ((500, 2000), 64, 10)
    repeats, warmup = (1, 0) if quick else (5, 1)
    nt = neural_tangents() if not quick else None
    rows: list[Row] = []
    for n in sizes:
        x = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(4)).to(device)
        for activation, sigma_w2, sigma_b2 in SETTINGS:
            if progress:
                progress(f"kernels: n = {n}, {activation}")
            ours_fn = functools.partial(learndyn.kernels, x, None, layers, sigma_w2, sigma_b2, activation)
            calls = []
            for _ in range(0 if quick else 2):  # the first call (eager) and the second (which compiles the layers)
                start = time.perf_counter()
                ours_fn()
                calls.append(time.perf_counter() - start)
            ours = measure(ours_fn, repeats=repeats, warmup=warmup, device=device, budget=None)
            naive_fn = functools.partial(naive_kernels, x, layers, sigma_w2, sigma_b2, activation)
            naive = measure(naive_fn, repeats=repeats, warmup=warmup, device=device, budget=None)
            pair, plain = ours_fn(), naive_fn()
            details = {"n": n, "d": d, "hidden_layers": layers, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2,
                       "first_calls_seconds": calls or [ours.first], "naive_first_call_seconds": naive.first,
                       "max_relative_difference_to_naive": max(_relative(pair.nngp, plain[0]), _relative(pair.ntk, plain[1]))}
            label = f"NNGP + NTK ({activation}, n={n}, d={d}, {layers} layers)"
            note, theirs = "neural-tangents is not installed (an optional baseline)", None
            if nt is not None:
                fn = _nt_kernel_fn(nt, layers, sigma_w2, sigma_b2, activation)
                xj = nt["jnp"].asarray(x.cpu().numpy())
                timing = measure(lambda: fn(xj), repeats=repeats, warmup=warmup, budget=None)
                theirs = timing.median
                k, th = (torch.from_numpy(__import__("numpy").asarray(a)) for a in fn(xj))
                details |= {"neural_tangents_first_call_seconds": timing.first,
                            "max_relative_difference_to_neural_tangents": max(_relative(pair.nngp.cpu(), k),
                                                                               _relative(pair.ntk.cpu(), th))}
                note = ""
            rows.append(Row(GROUP, f"{label} vs neural-tangents", "s", ours.median, theirs,
                            nt["name"] if nt is not None else "neural-tangents", "speedup", goal=1.0, goal_op=">=",
                            note=note, details=details))
            rows.append(Row(GROUP, f"{label} vs naive torch", "s", ours.median, naive.median,
                            "neural-tangents' recursion, naive torch (no carried gaps)", "speedup", details=details))
    return rows
