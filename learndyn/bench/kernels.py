"""Group ``kernels``: the infinite-width NNGP and NTK together (:func:`learndyn.kernels`, one pass over the layers)
against neural-tangents (an optional baseline, when it is installed) and a naive torch recursion, on ``K(x, x)``;
and the NTK predictions (``mse_test_prediction``, ``mean_prediction``) against neural-tangents' ``gradient_descent_mse``
and the textbook eigendecomposition.

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

__all__ = ["naive_kernel", "naive_kernels", "naive_test_prediction", "run_kernels", "neural_tangents"]

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
        from neural_tangents import predict, stax
    except Exception:  # noqa: BLE001 - an optional baseline: any import failure means "not installed"
        return None
    return {"jax": jax, "jnp": jnp, "stax": stax, "predict": predict, "name": f"neural-tangents {nt.__version__} (jax {jax.__version__}, "
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
                k, th = (torch.from_numpy(__import__("numpy").array(a)) for a in fn(xj))
                details |= {"neural_tangents_first_call_seconds": timing.first,
                            "max_relative_difference_to_neural_tangents": max(_relative(pair.nngp.cpu(), k),
                                                                               _relative(pair.ntk.cpu(), th))}
                note = ""
            rows.append(Row(GROUP, f"{label} vs neural-tangents", "s", ours.median, theirs,
                            nt["name"] if nt is not None else "neural-tangents", "speedup", goal=1.0, goal_op=">=",
                            note=note, details=details))
            rows.append(Row(GROUP, f"{label} vs naive torch", "s", ours.median, naive.median,
                            "neural-tangents' recursion, naive torch (no carried gaps)", "speedup", details=details))
    return rows + _prediction_rows(device=device, quick=quick, nt=nt, progress=progress)


def naive_test_prediction(t: float, lr: float, k_test_train: torch.Tensor, k_train_train: torch.Tensor,
                          y: torch.Tensor, f0: torch.Tensor, f0_test: torch.Tensor) -> torch.Tensor:
    """The textbook test prediction: ``f0* + Θ_{*X} V diag((1 − e^{−sλ})/λ) Vᵀ (Y − f0)``, ``s = lr t/(n k)``."""
    n, k = y.shape
    lam, vec = torch.linalg.eigh(k_train_train)
    s = lr * t / (n * k)
    return f0_test + k_test_train @ (vec @ (((1 - torch.exp(-s * lam)) / lam)[:, None] * (vec.T @ (y - f0))))


def _prediction_rows(*, device: str, quick: bool, nt: dict | None, progress=None) -> list[Row]:
    """``mse_test_prediction`` at ``t`` and ``mean_prediction`` (``t = ∞``) on an NTK of ``n`` training and 500 test
    points, against neural-tangents' ``gradient_descent_mse`` (its eigendecomposition, resp. Cholesky solve, done
    inside the timed call, as learndyn's) and the textbook eigendecomposition in torch."""
    sizes, n_test = ((16,), 8) if quick else ((500, 2000), 500)
    repeats, warmup = (1, 0) if quick else (5, 1)
    rows: list[Row] = []
    test, mean = learndyn.function("mse_test_prediction"), learndyn.function("mean_prediction")
    for n in sizes:
        if progress:
            progress(f"kernels: predictions, n = {n}")
        g = torch.Generator().manual_seed(6)
        x = torch.randn(n + n_test, 64, dtype=torch.float64, generator=g).to(device)
        theta = learndyn.kernels(x, None, 3, 2.0, 0.1, "relu").ntk
        ktt, kst = theta[:n, :n].contiguous(), theta[n:, :n].contiguous()
        y = torch.randn(n, 1, dtype=torch.float64, generator=g).to(device)
        f0, f0s = torch.zeros_like(y), torch.zeros(n_test, 1, dtype=torch.float64, device=device)
        t, lr = 10.0, 1.0
        cases = (("mse_test_prediction (t = 10)", lambda: test(t, lr, kst, ktt, y, f0, f0s), t),
                 ("mean_prediction (t = ∞)", lambda: mean(kst, ktt, y), None))
        naive = measure(lambda: naive_test_prediction(t, lr, kst, ktt, y, f0, f0s), repeats=repeats, warmup=warmup,
                        device=device, budget=None)
        for what, fn, at in cases:
            ours = measure(fn, repeats=repeats, warmup=warmup, device=device, budget=None)
            label = f"{what}, ReLU NTK of {n} training and {n_test} test points"
            theirs, note, details = None, "neural-tangents is not installed (an optional baseline)", {"n": n}
            if nt is not None:
                jnp, predict = nt["jnp"], nt["predict"]
                jk, jks, jy = (jnp.asarray(a.cpu().numpy()) for a in (ktt, kst, y))
                z, zs = jnp.zeros((n, 1)), jnp.zeros((n_test, 1))

                def gd_mse(at=at):
                    out = predict.gradient_descent_mse(jk, jy, learning_rate=lr)(at, z, zs, jks)
                    return [o.block_until_ready() for o in out]
                theirs = measure(gd_mse, repeats=repeats, warmup=warmup, budget=None).median
                mine = fn().cpu().numpy()
                details["max_relative_difference_to_neural_tangents"] = float(
                    abs(mine - __import__("numpy").asarray(gd_mse()[1])).max() / max(abs(mine).max(), 1e-300))
                note = ""
            rows.append(Row(GROUP, f"{label} vs neural-tangents' gradient_descent_mse", "s", ours.median, theirs,
                            nt["name"] if nt is not None else "neural-tangents", "speedup", goal=1.0, goal_op=">=",
                            note=note, details=details))
            if at is not None:
                rows.append(Row(GROUP, f"{label} vs the textbook eigendecomposition", "s", ours.median, naive.median,
                                "V diag((1 − e^{−sλ})/λ) Vᵀ in torch", "speedup", details=details))
    return rows
