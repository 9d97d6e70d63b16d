"""Gradient descent on the linear (denoising) autoencoder with weight decay (family 2, seed 000).

Data: ``P`` examples as columns of ``X (n, P)`` with a chosen input covariance (second moment)
``Σ = X Xᵀ/P = Q diag(lam) Qᵀ`` (``Q (n, m)`` orthonormal columns, ``lam > 0``), built exactly by
:func:`covariance_dataset`. Noise ``ξ_p ~ N(0, eps I_n)``, independent over examples and steps; noisy
inputs ``Xn = X + Ξ``.

Network ``x̂ = W2 W1 (x + ξ) = W (x + ξ)``, ``W1 (h, n)``, ``W2 (n, h)``. Loss on one draw of the noise,
written out explicitly (½ × mean over examples of the squared error summed over outputs, plus weight
decay ``gamma``)::

    L = ½ (1/P) Σ_p ‖x_p − W (x_p + ξ_p)‖² + (gamma/2)(‖W1‖²_F + ‖W2‖²_F)
      = ½ tr[(X − W Xn)(X − W Xn)ᵀ]/P + (gamma/2)(‖W1‖²_F + ‖W2‖²_F)

Its gradient in correlation form (``S_xn = X Xnᵀ/P``, ``S_nn = Xn Xnᵀ/P``), derived by hand::

    ∂L/∂W  = −(S_xn − W S_nn) =: G
    ∂L/∂W1 = W2ᵀ G + gamma W1,      ∂L/∂W2 = G W1ᵀ + gamma W2

With ``C = X Ξᵀ/P``: ``S_xn = Σ + C`` and ``S_nn = Σ + C + Cᵀ + Ξ Ξᵀ/P``. Averaged over the noise,
``E S_xn = Σ`` and ``E S_nn = Σ + eps I``: the marginalised loss is
``½ mean_p ‖x_p − W x_p‖² + (eps/2)‖W‖²_F (+ weight decay)``, with ``∂L/∂W = −(Σ − W (Σ + eps I))``
(deterministic; noise acts as a penalty on the end-to-end map).

Full-batch GD: ``W1 ← W1 − lr ∂L/∂W1``, ``W2 ← W2 − lr ∂L/∂W2`` from the same old weights. ``t`` counts
steps; gradient flow is ``dθ/dt = −lr ∇L`` (``tau = 1/lr``).

Modes. From the decoupled balanced start ``W1 = R A Qᵀ``, ``W2 = Q A Rᵀ`` (``R (h, m)`` orthonormal
columns, ``A = diag(√u0)``) the marginalised gradient keeps the form: ``W = Q A² Qᵀ``,
``G = −Q (Λ − A² (Λ + eps)) Qᵀ`` and ``∂L/∂W1 = R [−A (Λ − A²(Λ + eps)) + gamma A] Qᵀ``, so each per-layer
strength obeys ``a ← a + lr a (lam − gamma − (lam + eps) a²)`` and ``u = a² = q_iᵀ W2 W1 q_i`` follows::

    tau du/dt = 2u (lam − gamma − (lam + eps) u)

up to ``O(lr)`` at fixed ``lr·t``; the logistic solution is ``u = (λ−γ) E / ((λ+ε)(E − 1) + (λ−γ)/u0)``,
``E = e^{2(λ−γ)t/τ}``, with fixed point ``max(0, (λ−γ)/(λ+ε))``.

Sampled noise. Conditioned on the current weights, the expected sampled gradient is the marginalised one
(the noise is fresh, independent of ``W``), so the sampled run is a stochastic approximation of the
marginalised run: its per-step gradient noise has variance ``O(eps (lam + eps)/P)`` per entry, which over
the ``T/lr`` steps to flow time ``T`` accumulates to ``Var u = O(lr T eps lam / P)`` (the fluctuations
shrink like ``√(lr/P)``: they vanish in the gradient-flow limit even at fixed ``P``), and the mean over
replicas differs from the marginalised GD run by a bias of the order of that variance (``O(lr/P)``,
through the curvature of the dynamics) — on top of the common ``O(lr)`` Euler error against the flow. The
noise also couples the modes (off-diagonal entries of ``W`` in the ``Q`` basis fluctuate around 0 with the
same ``O(lr/P)`` variance). Measured (``lam = 2, 1, 0.5``, ``eps = 0.5``, ``gamma = 0.1``, ``u0 = 0.05``,
``T = 3``, ``n = h = 4``): ``std u = (0.21…0.25) √(lr T eps lam / P)`` for every ``P`` in 8…2048 and ``lr``
in 0.01…0.04 (e.g. 0.010, 0.0064, 0.0049 at ``P = 32``, ``lr = 0.02``), and a mean bias of at most about
``2 × max_i Var u_i``, below the marginalised value where it is resolved.

Two exact samplers of the noise statistics:
  - ``"explicit"``: draw ``Ξ (n, P)`` per replica and step (cost ``∝ n P`` per step);
  - ``"wishart"``: with the thin SVD ``X = U_x S_x O_xᵀ`` (``k = min(n, P)`` columns), ``Z1 = Ξ O_x`` has
    iid ``N(0, eps)`` entries, ``C = U_x S_x Z1ᵀ/P`` and ``Ξ Ξᵀ = Z1 Z1ᵀ + eps·W_n(I, P − k)``, the
    Wishart part drawn by Bartlett's decomposition (``L Lᵀ``, ``L`` lower triangular, ``L_ii² ~ χ²(P − k −
    i + 1)``, ``L_ij ~ N(0, 1)`` below the diagonal): the same joint law of ``(S_xn, S_nn)``, at a cost
    independent of ``P`` (use it for large ``P``; it never forms ``Ξ``).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from .deep_linear import _as_batch, _batch_size, _orthonormal_columns
from .scalar import _default_device, _record_times

__all__ = ["CovarianceData", "AutoencoderRun", "covariance_dataset", "simulate_autoencoder"]


class CovarianceData(NamedTuple):
    """Synthetic inputs with a chosen covariance spectrum (from :func:`covariance_dataset`).

    ``X``: ``(n, P)``, or ``(B, n, P)`` when ``lam`` is per configuration (examples are columns).
    ``Q``: ``(n, m)`` orthonormal columns (shared by all configurations). ``lam``: ``(m,)`` or ``(B, m)``.
    ``X Xᵀ/P = Q diag(lam) Qᵀ`` to round-off.
    """

    X: Tensor
    Q: Tensor
    lam: Tensor


class AutoencoderRun(NamedTuple):
    """Recorded trajectory of :func:`simulate_autoencoder` (all tensors on the simulation device).

    ``t``: (R,) int64 steps recorded. ``mode_strengths``: (R, B, K, m), ``u_i = q_iᵀ W2 W1 q_i`` for
    ``B`` configurations and ``K`` replicas (independent noise draws of the same configuration).
    ``loss``: (R, B, K), the marginalised reconstruction loss
    ``½ mean_p ‖x_p − W x_p‖² + (eps/2)‖W‖²_F`` (the expectation over the noise of the data term, without
    weight decay). ``weights_final``: ``(W1 (B, K, h, n), W2 (B, K, n, h))`` after the last step.
    """

    t: Tensor
    mode_strengths: Tensor
    loss: Tensor
    weights_final: tuple[Tensor, Tensor]


def covariance_dataset(
    lam: Sequence[float] | Tensor,
    n: int,
    n_examples: int,
    *,
    seed: int,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> CovarianceData:
    """Inputs ``X (n, P)`` with ``X Xᵀ/P = Q diag(lam) Qᵀ`` exactly (to round-off).

    ``X = √P Q diag(√lam) Oᵀ`` with ``Q (n, m)`` and ``O (P, m)`` random orthonormal columns, so
    ``X Xᵀ/P = Q diag(√lam) OᵀO diag(√lam) Qᵀ = Q diag(lam) Qᵀ``. ``lam``: ``(m,)`` positive eigenvalues
    (any order, ``m ≤ n``, ``m ≤ P = n_examples``), or ``(B, m)`` for one spectrum per configuration
    (then ``X`` is ``(B, n, P)``, sharing ``Q`` and ``O``). Directions orthogonal to ``Q`` have zero
    variance. Drawn from ``torch.Generator(device).manual_seed(seed)`` in the order Q, O: deterministic
    given the seed and the device.
    """
    dev = _default_device(device)
    lam_t = torch.as_tensor(lam, dtype=dtype, device=dev)
    if lam_t.ndim == 0:
        lam_t = lam_t.reshape(1)
    if lam_t.ndim > 2:
        raise ValueError(f"lam must have shape (m,) or (B, m), got shape {tuple(lam_t.shape)}")
    for name, v in (("n", n), ("n_examples", n_examples)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    m = lam_t.shape[-1]
    if not 1 <= m <= n:
        raise ValueError(f"lam must hold between 1 and n = {n} eigenvalues, got {m}")
    if n_examples < m:
        raise ValueError(f"n_examples must be >= the number of eigenvalues m = {m}, got {n_examples}")
    if not bool(torch.isfinite(lam_t).all()) or bool((lam_t <= 0).any()):
        raise ValueError(f"lam must be finite and > 0, got {lam_t}")
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    Q = _orthonormal_columns(n, m, (), gen, dev, dtype)
    O = _orthonormal_columns(n_examples, m, (), gen, dev, dtype)
    X = math.sqrt(n_examples) * (Q * lam_t.sqrt().unsqueeze(-2)) @ O.T
    return CovarianceData(X=X, Q=Q, lam=lam_t)


def _rmul(a: Tensor, m: Tensor) -> Tensor:
    """``a (N, r, c) @ m (Bx, c, d)`` where entry ``b`` of ``m`` serves the ``N/Bx`` consecutive rows of ``a``.

    Batch entries are configuration-major (``N = B·K``, ``Bx ∈ {1, B}``), so this is one matrix product of
    ``(Bx, N/Bx · r, c)`` by ``(Bx, c, d)``, without copying ``m``.
    """
    N, r, c = a.shape
    Bx = m.shape[0]
    return torch.bmm(a.reshape(Bx, (N // Bx) * r, c), m).view(N, r, m.shape[-1])


def _per_config(a: Tensor, Bx: int) -> Tensor:
    """View ``(N, …)`` as ``(Bx, N/Bx, …)`` (to broadcast per-configuration ``(Bx, 1, …)`` tensors)."""
    return a.view(Bx, a.shape[0] // Bx, *a.shape[1:])


def simulate_autoencoder(
    data: CovarianceData,
    lr: float | Tensor,
    steps: int,
    *,
    eps: float | Tensor = 0.0,
    gamma: float | Tensor = 0.0,
    noise: str = "marginalised",
    sampler: str = "explicit",
    replicas: int = 1,
    hidden: int | None = None,
    init: str | Sequence[Tensor] = "balanced",
    u0: float | Tensor = 1e-3,
    init_scale: float | Tensor = 1e-2,
    configs: int | None = None,
    record_every: int = 1,
    gradient: str = "correlation",
    seed: int = 0,
    device: str | torch.device | None = None,
) -> AutoencoderRun:
    """Full-batch GD on the linear autoencoder ``x̂ = W2 W1 (x + ξ)`` with weight decay, batched.

    ``B`` configurations × ``K = replicas`` independent noise replicas advance in one tensor program
    (weights ``(B·K, h, n)``, configuration-major). ``B`` is the common size of the per-configuration
    arguments: ``lr``, ``eps`` (noise variance ``≥ 0``), ``gamma`` (weight decay ``≥ 0``), ``init_scale``
    (each scalar or ``(B,)``), ``u0`` (scalar, ``(B,)`` or ``(B, m)``; pass ``(1, m)`` for per-mode
    values shared by all), ``data.lam`` when it is ``(B, m)``, and ``configs`` (an int); sizes of 1
    broadcast. ``hidden`` defaults to ``n``.

    ``noise``:
      - ``"marginalised"``: the expected loss ``½ mean_p ‖x_p − W x_p‖² + (eps/2)‖W2 W1‖²_F`` (+ weight
        decay), deterministic; ``∂L/∂W = W (Σ + eps I) − Σ``.
      - ``"sampled"``: fresh ``ξ ~ N(0, eps I)`` for every example, replica and step; GD on the sampled
        loss, ``∂L/∂W = W S_nn − S_xn``. ``sampler`` ``"explicit"`` draws ``Ξ (n, P)``; ``"wishart"``
        draws the exact joint law of ``(X Ξᵀ, Ξ Ξᵀ)`` at a cost independent of ``P`` (module docstring).
        Replicas differ only in their noise (and in the random ``R`` of the balanced start, which does not
        enter the mode dynamics).

    ``init``:
      - ``"balanced"``: ``W1 = R A Qᵀ``, ``W2 = Q A Rᵀ``, ``A = diag(√u0)``, ``R (h, m)`` random
        orthonormal columns per configuration and replica (needs ``hidden ≥ m``, ``u0 > 0``); then
        ``u_i(0) = u0_i`` and, marginalised, each mode follows ``tau du/dt = 2u (lam − gamma − (lam + eps) u)``
        up to ``O(lr)``.
      - ``"random"``: ``W1[i, j] ~ N(0, init_scale²/n)``, ``W2[i, j] ~ N(0, init_scale²/h)``, drawn per
        configuration and replica (so replicas are independent runs).
      - a pair ``(W1, W2)`` of tensors ``(h, n)`` and ``(n, h)``, or ``(B or 1, h, n)`` and ``(B or 1, n, h)``:
        explicit initial weights, the same for every replica (copied, never modified; ``hidden`` is then read
        from them), e.g. a start just off a fixed point in every direction.

    ``gradient``: ``"correlation"`` (the hand-derived form above, products of ``n × n`` and ``n × h``
    matrices per step plus the noise statistics) or ``"autograd"`` (``torch.autograd`` on the explicit loss
    over the ``P`` examples, with the same noise draws; not with the ``"wishart"`` sampler). Both agree to
    round-off.

    Records at ``t = 0, record_every, …`` and at ``t = steps`` (see :class:`AutoencoderRun`). No stability
    check: GD diverges for ``lr`` above about ``1/(lam_max + eps)`` near the fixed point. Randomness comes
    from ``torch.Generator(device).manual_seed(seed)`` (initial weights first, then the noise of each step
    in order): deterministic given seed and device. ``device`` defaults to the data's device; the dtype is
    the data's. Raises ``ValueError`` naming any bad argument.
    """
    if noise not in ("marginalised", "sampled"):
        raise ValueError(f"noise must be 'marginalised' or 'sampled', got {noise!r}")
    if sampler not in ("explicit", "wishart"):
        raise ValueError(f"sampler must be 'explicit' or 'wishart', got {sampler!r}")
    if gradient not in ("correlation", "autograd"):
        raise ValueError(f"gradient must be 'correlation' or 'autograd', got {gradient!r}")
    if gradient == "autograd" and noise == "sampled" and sampler == "wishart":
        raise ValueError("gradient='autograd' needs the explicit noise Ξ: use sampler='explicit'")
    if isinstance(init, str) and init not in ("balanced", "random"):
        raise ValueError(f"init must be 'balanced', 'random' or a pair of weight matrices, got {init!r}")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise ValueError(f"replicas must be an int >= 1, got {replicas!r}")
    times = _record_times(steps, record_every)
    dev = torch.device(device) if device is not None else data.X.device
    dtype = data.X.dtype
    X, Q, lam = (v.to(device=dev, dtype=dtype) for v in data)
    if X.ndim not in (2, 3) or Q.ndim != 2 or lam.ndim not in (1, 2):
        raise ValueError(f"data must hold X (n, P) or (B, n, P), Q (n, m), lam (m,) or (B, m); got shapes "
                         f"{tuple(X.shape)}, {tuple(Q.shape)}, {tuple(lam.shape)}")
    n, P = X.shape[-2:]
    m = Q.shape[1]
    if Q.shape[0] != n or lam.shape[-1] != m:
        raise ValueError(f"data shapes do not agree: X {tuple(X.shape)}, Q {tuple(Q.shape)}, lam {tuple(lam.shape)}")
    X = X.reshape(-1, n, P)  # (Bx, n, P)
    Bx = X.shape[0]

    lr_t = _as_batch("lr", lr, dtype, dev, max_ndim=1)
    eps_t = _as_batch("eps", eps, dtype, dev, max_ndim=1)
    gamma_t = _as_batch("gamma", gamma, dtype, dev, max_ndim=1)
    if bool((lr_t <= 0).any()):
        raise ValueError(f"lr must be > 0, got {lr_t}")
    if bool((eps_t < 0).any()):
        raise ValueError(f"eps (noise variance) must be >= 0, got {eps_t}")
    if bool((gamma_t < 0).any()):
        raise ValueError(f"gamma (weight decay) must be >= 0, got {gamma_t}")
    sizes = {"lr": lr_t.numel(), "eps": eps_t.numel(), "gamma": gamma_t.numel(), "data": Bx}
    if configs is not None:
        if not isinstance(configs, int) or isinstance(configs, bool) or configs < 1:
            raise ValueError(f"configs must be an int >= 1, got {configs!r}")
        sizes["configs"] = configs
    given = None
    if not isinstance(init, str):
        given = [torch.as_tensor(w).detach().to(device=dev, dtype=dtype) for w in init]
        if len(given) != 2 or any(w.ndim not in (2, 3) for w in given):
            raise ValueError(f"init must be 'balanced', 'random' or a pair (W1, W2) of (h, n) and (n, h) matrices "
                             f"(or batches of them), got {[tuple(w.shape) for w in given]}")
        hidden = given[0].shape[-2]
        if given[0].shape[-1] != n or tuple(given[1].shape[-2:]) != (n, hidden):
            raise ValueError(f"init shapes {[tuple(w.shape) for w in given]} do not chain {n} -> h -> {n}")
        for i, w in enumerate(given):
            if w.ndim == 3:
                sizes[f"init[{i}]"] = w.shape[0]
    h = n if hidden is None else hidden
    if not isinstance(h, int) or isinstance(h, bool) or h < 1:
        raise ValueError(f"hidden must be an int >= 1, got {hidden!r}")

    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    K = replicas
    if init == "balanced":
        u0_t = _as_batch("u0", u0, dtype, dev, max_ndim=2)
        if bool((u0_t <= 0).any()):
            raise ValueError(f"u0 must be > 0 for the balanced start, got {u0_t}")
        if u0_t.ndim == 2 and u0_t.shape[1] not in (1, m):
            raise ValueError(f"u0 of shape (B, m) needs m = {m} columns, got shape {tuple(u0_t.shape)}")
        if h < m:
            raise ValueError(f"hidden must be >= the number of modes m = {m} for the balanced start, got {h}")
        sizes["u0"] = u0_t.shape[0] if u0_t.ndim else 1
        B = _batch_size(sizes)
        N = B * K
        u0_bm = u0_t.reshape(-1, 1) if u0_t.ndim < 2 else u0_t
        a = u0_bm.sqrt().expand(B, m).repeat_interleave(K, 0)  # (N, m) per-layer strengths
        R = _orthonormal_columns(h, m, (N,), gen, dev, dtype)  # (N, h, m)
        W1 = (R * a.unsqueeze(1)) @ Q.T  # R A Qᵀ
        W2 = (Q * a.unsqueeze(1)) @ R.mT  # Q A Rᵀ
    elif given is not None:
        B = _batch_size(sizes)
        N = B * K
        W1, W2 = (w.expand(B, *w.shape[-2:]).repeat_interleave(K, 0) for w in given)
    else:
        scale = _as_batch("init_scale", init_scale, dtype, dev, max_ndim=1)
        if bool((scale <= 0).any()):
            raise ValueError(f"init_scale must be > 0, got {scale}")
        sizes["init_scale"] = scale.numel()
        B = _batch_size(sizes)
        N = B * K
        sc = scale.expand(B).repeat_interleave(K).view(N, 1, 1)
        W1 = sc * torch.randn(N, h, n, generator=gen, device=dev, dtype=dtype) / math.sqrt(n)
        W2 = sc * torch.randn(N, n, h, generator=gen, device=dev, dtype=dtype) / math.sqrt(h)
    W1, W2 = W1.contiguous(), W2.contiguous()

    def per_replica(v: Tensor) -> Tensor:  # (1 or B,) → (N, 1, 1)
        return v.expand(B).repeat_interleave(K).view(N, 1, 1)

    lr_n, eps_n, gamma_n = per_replica(lr_t), per_replica(eps_t), per_replica(gamma_t)
    if Bx not in (1, B):
        raise ValueError(f"data holds {Bx} configurations, but the batch has B = {B}")
    S = X @ X.mT / P  # Σ, (Bx, n, n)
    eye = torch.eye(n, dtype=dtype, device=dev)
    sqrt_eps = eps_n.sqrt()
    sampled = noise == "sampled" and bool((eps_t > 0).any())
    if sampled and sampler == "wishart":
        Ux, Sx, _ = torch.linalg.svd(X, full_matrices=False)  # X = U_x S_x O_xᵀ, k = min(n, P) columns
        k = Sx.shape[-1]
        SxUxT = (Ux * Sx.unsqueeze(-2)).mT.contiguous()  # (Bx, k, n)
        df = P - k  # degrees of freedom of the Wishart part Ξ O_⊥ (Ξ O_⊥)ᵀ
        if df >= n:
            half_df = (df - torch.arange(n, dtype=dtype, device=dev)) / 2  # χ²(df − i) = 2 Γ((df − i)/2)
            half_df = half_df.expand(N, n).contiguous()

    def draw_noise() -> tuple[Tensor, Tensor, Tensor | None]:
        """``(C, M, Ξ)`` with ``C = X Ξᵀ/P``, ``M = S_nn − Σ = C + Cᵀ + Ξ Ξᵀ/P`` for one fresh draw."""
        if sampler == "explicit":
            Xi = sqrt_eps * torch.randn(N, n, P, generator=gen, device=dev, dtype=dtype)
            CT = _rmul(Xi, X.mT) / P  # Ξ Xᵀ/P = Cᵀ
            XiXiT = torch.bmm(Xi, Xi.mT)
        else:
            Xi = None
            Z1 = sqrt_eps * torch.randn(N, n, k, generator=gen, device=dev, dtype=dtype)
            CT = _rmul(Z1, SxUxT) / P  # Z1 S_x U_xᵀ/P = Cᵀ
            XiXiT = torch.bmm(Z1, Z1.mT)
            if df >= n:  # Bartlett: W_n(I, df) = L Lᵀ
                L = torch.randn(N, n, n, generator=gen, device=dev, dtype=dtype).tril_(-1)
                chi2 = 2 * torch._standard_gamma(half_df, generator=gen)
                L.diagonal(dim1=-2, dim2=-1).copy_(chi2.sqrt())
                XiXiT = XiXiT + eps_n * torch.bmm(L, L.mT)
            elif df > 0:
                Z2 = sqrt_eps * torch.randn(N, n, df, generator=gen, device=dev, dtype=dtype)
                XiXiT = XiXiT + torch.bmm(Z2, Z2.mT)
        C = CT.mT
        return C, C + CT + XiXiT / P, Xi

    n_rec = len(times)
    rec_modes = torch.empty((n_rec, N, m), dtype=dtype, device=dev)
    rec_loss = torch.empty((n_rec, N), dtype=dtype, device=dev)

    def record(k_: int, W: Tensor) -> None:
        rec_modes[k_] = (Q * (W @ Q)).sum(-2)  # u_i = q_iᵀ W q_i
        E = eye - W  # ½ tr[(I − W) Σ (I − W)ᵀ] + (eps/2)‖W‖²_F
        fit = 0.5 * (_rmul(E, S) * E).sum((-2, -1))
        rec_loss[k_] = fit + 0.5 * eps_n.view(N) * (W * W).sum((-2, -1))

    k_rec = 0
    if gradient == "correlation":
        for step in range(steps + 1):
            W = torch.bmm(W2, W1)
            if times[k_rec] == step:
                record(k_rec, W)
                k_rec += 1
            if step == steps:
                break
            G = _rmul(W, S)  # W Σ
            _per_config(G, Bx).sub_(S.unsqueeze(1))  # W Σ − Σ
            if sampled:
                C, M, _ = draw_noise()
                G.add_(torch.bmm(W, M)).sub_(C)  # W S_nn − S_xn
            elif noise == "marginalised":
                G.addcmul_(eps_n, W)  # W (Σ + eps I) − Σ
            g1 = torch.bmm(W2.mT, G).addcmul_(gamma_n, W1)  # W2ᵀ G + gamma W1
            g2 = torch.bmm(G, W1.mT).addcmul_(gamma_n, W2)  # G W1ᵀ + gamma W2
            W1.sub_(lr_n * g1)
            W2.sub_(lr_n * g2)
    else:
        W1.requires_grad_(True)
        W2.requires_grad_(True)
        Xb = X.unsqueeze(1)  # (Bx, 1, n, P)
        for step in range(steps + 1):
            W = W2 @ W1
            if times[k_rec] == step:
                with torch.no_grad():
                    record(k_rec, W)
                k_rec += 1
            if step == steps:
                break
            Wb = _per_config(W, Bx)  # (Bx, N/Bx, n, n)
            if sampled:
                _, _, Xi = draw_noise()
                Xn = Xb + _per_config(Xi, Bx)  # x_p + ξ_p
                resid = Xb - Wb @ Xn
                fit = 0.5 * (resid * resid).sum((-2, -1)) / P  # ½ mean_p ‖x_p − W (x_p + ξ_p)‖²
            else:
                resid = Xb - Wb @ Xb
                fit = 0.5 * (resid * resid).sum((-2, -1)) / P
                if noise == "marginalised":
                    fit = fit + 0.5 * _per_config(eps_n, Bx).view(Bx, -1) * (Wb * Wb).sum((-2, -1))
            decay = 0.5 * (gamma_n * (W1 * W1)).sum() + 0.5 * (gamma_n * (W2 * W2)).sum()
            g1, g2 = torch.autograd.grad(fit.sum() + decay, (W1, W2))  # replicas are independent
            with torch.no_grad():
                W1.sub_(lr_n * g1)
                W2.sub_(lr_n * g2)
        W1, W2 = W1.detach(), W2.detach()

    t = torch.tensor(times, dtype=torch.int64, device=dev)
    return AutoencoderRun(
        t=t,
        mode_strengths=rec_modes.view(n_rec, B, K, m),
        loss=rec_loss.view(n_rec, B, K),
        weights_final=(W1.view(B, K, h, n), W2.view(B, K, n, h)),
    )
