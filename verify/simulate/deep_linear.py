"""Gradient descent on deep linear networks with whitened inputs (family 1, seeds 000 and 003).

Data: ``P`` examples as columns of ``X (n_in, P)`` and ``Y (n_out, P)``; input correlation
``Σ11 = X Xᵀ/P`` and input-output correlation ``Σ31 = Y Xᵀ/P = U diag(S) Vᵀ``.

Network with ``D ≥ 1`` weight matrices: ``ŷ = W_D ⋯ W_1 x = W x``. Loss, written out explicitly
(½ × mean over examples of the squared error summed over outputs)::

    L = ½ · (1/P) Σ_p ‖y_p − W x_p‖² = ½ tr Σ33 − tr(Wᵀ Σ31) + ½ tr(W Σ11 Wᵀ)

Its gradient in correlation form (no pass over the data)::

    ∂L/∂W   = −(Σ31 − W Σ11)
    ∂L/∂W_l = (W_D ⋯ W_{l+1})ᵀ · ∂L/∂W · (W_{l−1} ⋯ W_1)ᵀ

Full-batch GD: ``W_l ← W_l − lr ∂L/∂W_l`` for all layers from the same old weights. ``t`` counts steps;
gradient flow is ``dθ/dt = −lr ∇L`` and ``tau = 1/lr``.

Mode strengths ``a_α = u_αᵀ W v_α`` (``u_α``, ``v_α`` columns of ``U``, ``V``). From the decoupled
balanced start ``W_1 = R_1 A Vᵀ``, ``W_l = R_l A R_{l−1}ᵀ``, ``W_D = U A R_{D−1}ᵀ`` (``R_l`` with orthonormal
columns, ``A = diag(u0^{1/D})``) and whitened inputs, every layer keeps the form ``R_l A(t) R_{l−1}ᵀ`` under
GD, with per-layer strength ``a ← a + lr a^{D−1} (s − a^D)``; so under gradient flow each mode obeys
``tau du/dt = D u^{2−2/D} (s − u)`` exactly (``D = 1``: ``u = s + (u0 − s) e^{−t/τ}``;
``D = 2``: ``u = s e^{2st/τ} / (e^{2st/τ} − 1 + s/u0)``), and GD follows it up to ``O(lr)`` at fixed ``lr·t``.

Weight decay (family 2, seed 000): the penalty ``(gamma/2) Σ_l ‖W_l‖²_F`` added to ``L`` adds ``gamma W_l``
to ``∂L/∂W_l``, so GD is ``W_l ← (1 − lr gamma) W_l − lr (W_D ⋯ W_{l+1})ᵀ ∂L/∂W (W_{l−1} ⋯ W_1)ᵀ``. The
decoupled balanced form is kept (the decay term is ``gamma R_l A R_{l−1}ᵀ``), with per-layer strength::

    a ← a + lr (a^{D−1} (s − a^D) − gamma a)

so ``u = a^D`` obeys ``tau du/dt = D a^{D−1} (a^{D−1}(s − u) − gamma a) = D u^{2−2/D} (s − u) − D gamma u``
(``D = 2``: ``tau du/dt = 2u (s − gamma − u)``, solved by ``u = (s−γ) E / (E − 1 + (s−γ)/u0)``,
``E = e^{2(s−γ)t/τ}``; ``D = 1``: ``tau du/dt = s − (1 + gamma) u``).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from .scalar import _default_device, _record_times

__all__ = ["Dataset", "DeepLinearRun", "whitened_dataset", "simulate_deep_linear"]


class Dataset(NamedTuple):
    """Synthetic data set with whitened inputs and a chosen input-output correlation.

    ``X (n_in, P)``, ``Y (n_out, P)`` (examples are columns), ``U (n_out, m)`` and ``V (n_in, m)`` with
    orthonormal columns, ``S (m,)``; ``X Xᵀ/P = I`` and ``Y Xᵀ/P = U diag(S) Vᵀ`` to round-off.
    """

    X: Tensor
    Y: Tensor
    U: Tensor
    S: Tensor
    V: Tensor


class DeepLinearRun(NamedTuple):
    """Recorded trajectory of :func:`simulate_deep_linear` (all tensors on the simulation device).

    ``t``: (R,) int64 steps recorded. ``mode_strengths``: (R, B, m), ``a_α = u_αᵀ W_D⋯W_1 v_α``.
    ``loss``: (R, B), the explicit data loss ``½ mean_p ‖y_p − W x_p‖²``. ``weights_final``: tuple of the
    ``D`` weight matrices after the last step, layer 1 first, each (B, out, in).
    """

    t: Tensor
    mode_strengths: Tensor
    loss: Tensor
    weights_final: tuple[Tensor, ...]


def _orthonormal_columns(
    n: int, m: int, batch: tuple[int, ...], gen: torch.Generator, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """Haar-random ``(*batch, n, m)`` matrices with orthonormal columns (QR of a Gaussian, signs fixed)."""
    g = torch.randn(*batch, n, m, generator=gen, device=device, dtype=dtype)
    q, r = torch.linalg.qr(g)
    sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return q * sign.unsqueeze(-2)


def whitened_dataset(
    singular_values: Sequence[float] | Tensor,
    n_in: int,
    n_out: int,
    n_examples: int,
    *,
    seed: int,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> Dataset:
    """Data with ``X Xᵀ/P = I`` and ``Σ31 = Y Xᵀ/P = U diag(S) Vᵀ`` exactly (to round-off).

    ``X = √P Qᵀ`` with ``Q (P, n_in)`` orthonormal columns (needs ``P = n_examples ≥ n_in``), so
    ``X Xᵀ/P = QᵀQ = I``; ``Y = U diag(S) Vᵀ X`` (noise-free targets; the minimum loss is 0), so
    ``Y Xᵀ/P = U diag(S) Vᵀ``. ``U (n_out, m)``, ``V (n_in, m)``: random orthonormal columns,
    ``m = len(singular_values) ≤ min(n_in, n_out)``; singular values must be ``≥ 0`` (any order).
    Drawn from ``torch.Generator(device).manual_seed(seed)`` in the order X, U, V: deterministic given
    the seed and the device (CPU and CUDA generators give different draws).
    """
    dev = _default_device(device)
    s = torch.as_tensor(singular_values, dtype=dtype, device=dev).reshape(-1)
    m = s.numel()
    for name, v in (("n_in", n_in), ("n_out", n_out), ("n_examples", n_examples)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    if n_examples < n_in:
        raise ValueError(f"n_examples must be >= n_in = {n_in} for whitened inputs, got {n_examples}")
    if not 1 <= m <= min(n_in, n_out):
        raise ValueError(f"len(singular_values) must be in [1, min(n_in, n_out)] = [1, {min(n_in, n_out)}], got {m}")
    if not bool(torch.isfinite(s).all()) or bool((s < 0).any()):
        raise ValueError(f"singular_values must be finite and >= 0, got {s}")
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    q = _orthonormal_columns(n_examples, n_in, (), gen, dev, dtype)
    X = math.sqrt(n_examples) * q.T.contiguous()
    U = _orthonormal_columns(n_out, m, (), gen, dev, dtype)
    V = _orthonormal_columns(n_in, m, (), gen, dev, dtype)
    Y = (U * s) @ (V.T @ X)
    return Dataset(X=X, Y=Y, U=U, S=s, V=V)


def _batch_size(candidates: dict[str, int]) -> int:
    sizes = {v for v in candidates.values() if v != 1}
    if len(sizes) > 1:
        raise ValueError(f"batch sizes do not agree: {candidates}")
    return sizes.pop() if sizes else 1


def _as_batch(name: str, v: float | Tensor, dtype: torch.dtype, device: torch.device, *, max_ndim: int) -> Tensor:
    out = torch.as_tensor(v, dtype=dtype, device=device)
    if out.ndim > max_ndim:
        raise ValueError(f"{name} must have at most {max_ndim} dimensions, got shape {tuple(out.shape)}")
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} must be finite, got {out}")
    return out


def _product(weights: Sequence[Tensor]) -> Tensor:
    """``W_D ⋯ W_1`` for ``weights = (W_1, …, W_D)``."""
    w = weights[0]
    for layer in weights[1:]:
        w = layer @ w
    return w


def simulate_deep_linear(
    dataset: Dataset,
    depth: int,
    lr: float | Tensor,
    steps: int,
    *,
    hidden: int | None = None,
    init: str | Sequence[Tensor] = "balanced",
    u0: float | Tensor = 1e-3,
    init_scale: float | Tensor = 1e-2,
    gamma: float | Tensor = 0.0,
    configs: int | None = None,
    record_every: int = 1,
    gradient: str = "correlation",
    seed: int = 0,
    device: str | torch.device | None = None,
) -> DeepLinearRun:
    """Full-batch GD on ``ŷ = W_D ⋯ W_1 x`` with ``L = ½ mean_p ‖y_p − ŷ_p‖²``, batched over B configurations.

    Weights are ``(B, out, in)`` tensors, one per layer (widths ``n_in → hidden → … → hidden → n_out``,
    ``hidden`` defaulting to ``max(n_in, n_out)``), and all B configurations advance in one tensor program.
    ``B`` is the common size of the per-configuration arguments: ``lr`` (scalar or ``(B,)``), ``u0``
    (scalar, ``(B,)`` or ``(B, m)``: per configuration and mode; a 1-D ``u0`` is always per configuration,
    pass ``(1, m)`` for per-mode values shared by all), ``init_scale`` (scalar or ``(B,)``), ``gamma``
    (weight decay ``≥ 0``, scalar or ``(B,)``, default 0), ``configs`` (an int) and explicit initial
    weights; sizes of 1 broadcast.

    ``gamma``: the loss minimised is ``L + (gamma/2) Σ_l ‖W_l‖²_F`` (each step multiplies ``W_l`` by
    ``1 − lr gamma`` before subtracting ``lr ∂L/∂W_l``); the recorded ``loss`` stays the data loss. With
    ``gamma = 0`` everywhere the decay is skipped, so results are bit for bit those without it.

    ``init``:
      - ``"balanced"``: decoupled balanced start, ``W_1 = R_1 A Vᵀ``, ``W_l = R_l A R_{l−1}ᵀ``,
        ``W_D = U A R_{D−1}ᵀ``, ``A = diag(u0^{1/D})`` (``D = 1``: ``W = U diag(u0) Vᵀ``), ``R_l`` random
        ``(hidden, m)`` with orthonormal columns, drawn per configuration (needs ``hidden ≥ m``, ``u0 > 0``).
        Then ``a_α(0) = u0_α`` and each mode follows ``tau du/dt = D u^{2−2/D} (s − u)`` up to ``O(lr)``.
      - ``"random"``: ``W_l[i, j] ~ N(0, init_scale² / fan_in_l)`` independently (so each layer scales a
        random vector's norm by about ``init_scale · √(fan_out/fan_in)``); modes are learned
        approximately, in order of ``s``.
      - a sequence of ``D`` tensors ``(B or 1, out, in)`` or ``(out, in)``: explicit initial weights
        (copied, never modified; ``hidden`` is then read from them).

    ``gradient``:
      - ``"correlation"``: ``∂L/∂W = W Σ11 − Σ31`` with ``Σ11 = X Xᵀ/P``, ``Σ31 = Y Xᵀ/P`` computed once,
        back-propagated through the layers with prefix products ``W_{l−1}⋯W_1`` (``3D − 2`` batched
        matrix products per step, independent of ``P``; ``3D − 3`` for whitened inputs, where ``Σ11`` is the
        identity to round-off and ``W Σ11`` is taken as ``W``).
      - ``"autograd"``: the loss on the actual data ``X, Y``, differentiated by ``torch.autograd``.
      Both are the same full-batch GD and agree to round-off.

    Records at ``t = 0, record_every, …`` and at ``t = steps`` the mode strengths ``a_α = u_αᵀ W v_α`` and
    the explicit data loss (computed from ``X`` and ``Y``, a ``(B, n_out, P)`` residual; recording every
    step costs two to three correlation-form steps, so use ``record_every`` for long runs). GD diverges for
    ``lr ≳ 2/(D s_max^{2−2/D})``; no check is made. Randomness comes from
    ``torch.Generator(device).manual_seed(seed)``: deterministic given seed and device. ``device``
    defaults to the data set's device; the dtype is the data set's. Returns a :class:`DeepLinearRun`.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    if gradient not in ("correlation", "autograd"):
        raise ValueError(f"gradient must be 'correlation' or 'autograd', got {gradient!r}")
    times = _record_times(steps, record_every)
    dev = torch.device(device) if device is not None else dataset.X.device
    dtype = dataset.X.dtype
    X, Y, U, S, V = (v.to(device=dev, dtype=dtype) for v in dataset)
    n_in, P = X.shape
    n_out = Y.shape[0]
    m = S.numel()
    D = depth

    lr_t = _as_batch("lr", lr, dtype, dev, max_ndim=1)
    if bool((lr_t <= 0).any()):
        raise ValueError(f"lr must be > 0, got {lr_t}")
    gamma_t = _as_batch("gamma", gamma, dtype, dev, max_ndim=1)
    if bool((gamma_t < 0).any()):
        raise ValueError(f"gamma (weight decay) must be >= 0, got {gamma_t}")
    decays = bool((gamma_t != 0).any())
    sizes = {"lr": lr_t.numel(), "gamma": gamma_t.numel()}
    if configs is not None:
        if not isinstance(configs, int) or isinstance(configs, bool) or configs < 1:
            raise ValueError(f"configs must be an int >= 1, got {configs!r}")
        sizes["configs"] = configs

    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))

    if isinstance(init, str):
        if init not in ("balanced", "random"):
            raise ValueError(f"init must be 'balanced', 'random' or a sequence of weights, got {init!r}")
        h = max(n_in, n_out) if hidden is None else hidden
        if not isinstance(h, int) or isinstance(h, bool) or h < 1:
            raise ValueError(f"hidden must be an int >= 1, got {hidden!r}")
        widths = [n_in] + [h] * (D - 1) + [n_out]
        if init == "balanced":
            u0_t = _as_batch("u0", u0, dtype, dev, max_ndim=2)
            if bool((u0_t <= 0).any()):
                raise ValueError(f"u0 must be > 0 for the balanced start, got {u0_t}")
            if u0_t.ndim == 2 and u0_t.shape[1] not in (1, m):
                raise ValueError(f"u0 of shape (B, m) needs m = {m} columns, got shape {tuple(u0_t.shape)}")
            if D > 1 and h < m:
                raise ValueError(f"hidden must be >= the number of modes m = {m} for the balanced start, got {h}")
            sizes["u0"] = u0_t.shape[0] if u0_t.ndim else 1
            B = _batch_size(sizes)
            u0_bm = u0_t.reshape(-1, 1) if u0_t.ndim < 2 else u0_t
            a = (u0_bm ** (1.0 / D)).expand(B, m)  # per-layer strength along each mode
            Rs = [_orthonormal_columns(h, m, (B,), gen, dev, dtype) for _ in range(D - 1)]
            lefts = Rs + [U.expand(B, n_out, m)]  # R_1, …, R_{D−1}, U
            rights = [V.expand(B, n_in, m)] + Rs  # V, R_1, …, R_{D−1}
            weights = [(lft * a.unsqueeze(1)) @ rgt.mT for lft, rgt in zip(lefts, rights)]
        else:
            scale = _as_batch("init_scale", init_scale, dtype, dev, max_ndim=1)
            if bool((scale <= 0).any()):
                raise ValueError(f"init_scale must be > 0, got {scale}")
            sizes["init_scale"] = scale.numel()
            B = _batch_size(sizes)
            scale = scale.reshape(-1, 1, 1)
            weights = [
                scale * torch.randn(B, fo, fi, generator=gen, device=dev, dtype=dtype) / math.sqrt(fi)
                for fi, fo in zip(widths[:-1], widths[1:])
            ]
    else:
        given = [torch.as_tensor(w).detach().to(device=dev, dtype=dtype) for w in init]
        if len(given) != D:
            raise ValueError(f"init must hold depth = {D} weight matrices, got {len(given)}")
        for i, w in enumerate(given):
            if w.ndim not in (2, 3):
                raise ValueError(f"init[{i}] must have shape (out, in) or (B, out, in), got {tuple(w.shape)}")
            if w.ndim == 3:
                sizes[f"init[{i}]"] = w.shape[0]
        B = _batch_size(sizes)
        weights = [w.expand(B, *w.shape[-2:]).clone() for w in given]
        widths = [w.shape[-1] for w in weights] + [weights[-1].shape[-2]]
        chain_ok = all(weights[i + 1].shape[-1] == weights[i].shape[-2] for i in range(D - 1))
        if widths[0] != n_in or widths[-1] != n_out or not chain_ok:
            raise ValueError(f"init shapes {[tuple(w.shape) for w in weights]} do not chain {n_in} -> {n_out}")
    weights = [w.contiguous() for w in weights]
    lr_b = lr_t.expand(B).reshape(B, 1, 1)
    gamma_b = gamma_t.expand(B).reshape(B, 1, 1)
    keep_b = 1 - lr_b * gamma_b  # weight-decay factor 1 − lr gamma

    n_rec = len(times)
    rec_modes = torch.empty((n_rec, B, m), dtype=dtype, device=dev)
    rec_loss = torch.empty((n_rec, B), dtype=dtype, device=dev)

    def modes_of(w: Tensor) -> Tensor:  # a_α = u_αᵀ W v_α, (B, m)
        return (U * (w @ V)).sum(-2)

    k = 0
    if gradient == "correlation":
        S11 = X @ X.T / P
        S31 = Y @ X.T / P
        # whitened inputs (Σ11 = I to round-off, as whitened_dataset makes them): W Σ11 is W, one product less
        eye = torch.eye(n_in, dtype=dtype, device=dev)
        whitened = bool(((S11 - eye).abs() <= 64 * n_in * torch.finfo(dtype).eps).all())
        # Preallocated buffers (fresh large tensors each step cost more than the arithmetic on CPU).
        # prefix[l] = W_{l+1} ⋯ W_1 (layers 0-indexed); grad_out[l] = lr · (W_D ⋯ W_{l+2})ᵀ ∂L/∂W, the
        # gradient arriving at the output of layer l, so that lr · ∂L/∂W_l = grad_out[l] · prefix[l−1]ᵀ.
        prefix = [weights[0]] + [torch.empty(B, widths[l + 1], n_in, dtype=dtype, device=dev) for l in range(1, D)]
        grad_out = [torch.empty(B, widths[l + 1], n_in, dtype=dtype, device=dev) for l in range(D)]
        resid = torch.empty(B, n_out, P, dtype=dtype, device=dev)
        for step in range(steps + 1):
            for l in range(1, D):
                torch.bmm(weights[l], prefix[l - 1], out=prefix[l])
            W = prefix[-1]
            if times[k] == step:
                rec_modes[k] = modes_of(W)
                torch.matmul(W, X, out=resid)  # explicit data loss ½ mean_p ‖y_p − W x_p‖²
                r = resid.sub_(Y).view(B, 1, n_out * P)
                rec_loss[k] = 0.5 * (r @ r.mT).view(B) / P
                k += 1
            if step == steps:
                break
            G = grad_out[D - 1]
            if whitened:
                torch.sub(W, S31, out=G)
            else:
                torch.matmul(W, S11, out=G).sub_(S31)
            G.mul_(lr_b)  # lr · ∂L/∂W = lr · (W Σ11 − Σ31)
            for l in range(D - 1, 0, -1):  # top layer first: W_l is still old when W_lᵀ is used
                torch.bmm(weights[l].mT, grad_out[l], out=grad_out[l - 1])
                if decays:
                    weights[l].mul_(keep_b)
                weights[l].baddbmm_(grad_out[l], prefix[l - 1].mT, alpha=-1.0)
            if decays:
                weights[0].mul_(keep_b)
            weights[0].sub_(grad_out[0])
    else:
        for w in weights:
            w.requires_grad_(True)
        for step in range(steps + 1):
            h = X
            for w in weights:
                h = w @ h
            r = (Y - h).reshape(B, n_out * P)
            loss = 0.5 * (r * r).sum(-1) / P  # ½ mean_p ‖y_p − ŷ_p‖², (B,)
            if times[k] == step:
                with torch.no_grad():
                    rec_modes[k] = modes_of(_product(weights))
                    rec_loss[k] = loss
                k += 1
            if step == steps:
                break
            objective = loss.sum()
            if decays:  # (gamma/2) Σ_l ‖W_l‖²_F, per configuration
                objective = objective + sum(0.5 * (gamma_b * w * w).sum() for w in weights)
            grads = torch.autograd.grad(objective, weights)  # configurations are independent
            with torch.no_grad():
                for w, g in zip(weights, grads):
                    w.sub_(lr_b * g)
        weights = [w.detach() for w in weights]

    t = torch.tensor(times, dtype=torch.int64, device=dev)
    return DeepLinearRun(t=t, mode_strengths=rec_modes, loss=rec_loss, weights_final=tuple(weights))
