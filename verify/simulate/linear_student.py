"""Linear student–teacher regression in high dimension (family 6, Advani & Saxe 2017).

Data: inputs ``x ∈ R^N`` with iid entries ``N(0, 1/N)``; teacher ``y = w̄·x + ε`` with ``w̄_i ~ N(0, σ_w²)``
and ``ε ~ N(0, σ_ε²)``; ``P`` examples, ``α = P/N``, stacked as rows of ``X (P, N)``. Linear student
``ŷ = w·x`` from ``w_i(0) ~ N(0, σ_0²)``. Loss (a SUM over the examples)::

    L(w) = ½ Σ_μ (y_μ − w·x_μ)² = ½ ‖y − X w‖²,        ∇L = −Xᵀ(y − X w)

Full-batch GD ``w ← w + lr Xᵀ(y − X w)``; time ``t = lr × steps``; gradient flow ``dw/dt = Xᵀ(y − X w)``.
Errors (without the ½)::

    E_g = ‖w − w̄‖²/N + σ_ε²      (expected squared error on a fresh noisy example, exact from the weights)
    E_t = (1/P) ‖y − X w‖²

Modes. With ``e = w − w̄`` the update is ``e ← e − lr (XᵀX e − Xᵀε)``. Along an eigenvector ``v`` of ``XᵀX``
(eigenvalue ``λ``; ``X v = √λ u``, ``ξ = uᵀε``, ``g = vᵀXᵀε = √λ ξ``) the mode ``e_v = vᵀe`` obeys::

    GD:   e_k  = (1 − lr λ)^k (e_0 − e*) + e*,      flow: e(t) = e^{−λt} (e_0 − e*) + e*,     e* = g/λ = ξ/√λ

and along ``λ = 0`` (the frozen subspace, the null space of ``X``, of dimension ``N − P`` when ``α < 1``)
``g = 0`` and ``w`` never moves. Hence, with ``d_v = (decay)·(e_0 − e*)`` and the least-squares floor
``‖ε_⊥‖² = min_w ‖ε − X w‖²`` (``ε_⊥ = ε − X X⁺ε``)::

    E_g = σ_ε² + (1/N) Σ_v (e*_v + d_v)²,           E_t = (1/P) (‖ε_⊥‖² + Σ_{λ>0} λ d_v²)

(``E_t`` written this way has no cancellation, also when it tends to 0 for ``α < 1``).
:func:`exact_linear_student` evaluates these per realisation from the sample spectrum, so
GD − exact-discrete is rounding, exact-discrete − exact-flow is the ``O(lr)`` effect of the step, and
exact-flow − the ``N → ∞`` theory is the finite-``N`` fluctuation.

Two-layer student (:func:`simulate_two_layer_student`): ``ŷ = a·(W x)``, ``W (h, N)``, ``a (h,)``,
``w_eff = Wᵀ a``, same summed loss; with ``r = y − X w_eff`` and ``c = Xᵀ r``::

    ∂L/∂W = −a cᵀ,    ∂L/∂a = −W c,    W ← W + lr a cᵀ,  a ← a + lr W c   (both from the old weights)

Pretraining (seed 003, :func:`pretraining_comparison`): a deep linear network (:mod:`.deep_linear`) from the
decoupled start aligned with the data's singular vectors, which pretraining provides, against a small
random start with the same per-layer Frobenius norm; half-learning times of each mode.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from .deep_linear import Dataset, simulate_deep_linear
from .scalar import _default_device, _record_times

__all__ = [
    "LinearStudentData",
    "LinearStudentExact",
    "LinearStudentRun",
    "PretrainingComparison",
    "SampleSpectrum",
    "TwoLayerStudentRun",
    "exact_linear_student",
    "frozen_subspace_motion",
    "pretraining_comparison",
    "sample_spectrum",
    "simulate_linear_student",
    "simulate_two_layer_student",
    "student_teacher_data",
    "two_layer_student_gradients",
    "two_layer_student_loss",
]

ZERO_RTOL = 1e-10  # eigenvalues of XᵀX at or below ZERO_RTOL · λ_max (per realisation) are treated as zero


class LinearStudentData(NamedTuple):
    """A batch of ``B`` student–teacher realisations (:func:`student_teacher_data`), padded to ``P_max`` rows.

    ``X (B, P_max, N)``, ``y (B, P_max)`` and ``noise (B, P_max)`` (``ε``) are zero on the padding rows
    (``mask (B, P_max)`` is True on the real ones), which therefore add nothing to ``XᵀX``, ``Xᵀy`` or
    ``‖y − X w‖²``. ``w_bar``, ``w0``: ``(B, N)`` teacher and student start. ``P (B,)`` int64 examples,
    ``alpha (B,)`` = ``P/N``, ``seed (B,)`` int64. ``sigma_w2``, ``sigma_eps2``, ``sigma_02``: the variances.
    """

    X: Tensor
    y: Tensor
    noise: Tensor
    w_bar: Tensor
    w0: Tensor
    mask: Tensor
    P: Tensor
    alpha: Tensor
    seed: Tensor
    sigma_w2: float
    sigma_eps2: float
    sigma_02: float


class LinearStudentRun(NamedTuple):
    """Recorded GD trajectory (:func:`simulate_linear_student`), tensors on the simulation device.

    ``steps (R,)`` int64; ``t (R,)`` = ``lr × steps``; ``generalisation``, ``training``: ``(R, B)``, ``E_g`` and
    ``E_t``; ``frozen_motion``: ``(R, B)``, :func:`frozen_subspace_motion` of ``w(step)`` (None if not asked
    for); ``weights_final (B, N)``.
    """

    steps: Tensor
    t: Tensor
    generalisation: Tensor
    training: Tensor
    frozen_motion: Tensor | None
    weights_final: Tensor


class SampleSpectrum(NamedTuple):
    """Per-realisation spectrum of ``XᵀX`` (:func:`sample_spectrum`), everything ``(B, N)`` unless stated.

    ``eigenvalues`` descending, those ``≤ rtol · λ_max`` set to exactly 0; ``eigenvectors (B, N, N)`` (columns);
    ``zero`` (bool) marks the frozen modes; ``e0 = Vᵀ(w0 − w̄)``; ``g = VᵀXᵀε`` (0 on frozen modes);
    ``e_star = g/λ`` (0 on frozen modes); ``residual_floor (B,)`` = ``‖ε − X X⁺ε‖²``.
    """

    eigenvalues: Tensor
    eigenvectors: Tensor
    zero: Tensor
    e0: Tensor
    g: Tensor
    e_star: Tensor
    residual_floor: Tensor


class LinearStudentExact(NamedTuple):
    """Exact per-realisation errors (:func:`exact_linear_student`): ``t (R,)``, ``steps (R,)`` int64 (None for
    gradient flow), ``generalisation`` and ``training`` ``(R, B)``."""

    t: Tensor
    steps: Tensor | None
    generalisation: Tensor
    training: Tensor


class TwoLayerStudentRun(NamedTuple):
    """Recorded GD trajectory of :func:`simulate_two_layer_student`: ``steps (R,)`` int64, ``t (R,)`` =
    ``lr × steps``, ``generalisation`` and ``training`` ``(R, B)`` (from ``w_eff = Wᵀa``), ``W_final (B, h, N)``,
    ``a_final (B, h)``, ``w_eff_final (B, N)``."""

    steps: Tensor
    t: Tensor
    generalisation: Tensor
    training: Tensor
    W_final: Tensor
    a_final: Tensor
    w_eff_final: Tensor


class PretrainingComparison(NamedTuple):
    """Aligned (pretrained) against random start (:func:`pretraining_comparison`).

    ``t (R,)``: flow time ``lr × steps`` (in units of ``tau = 1/lr`` of :mod:`.deep_linear`, the loss there being
    ½ × MEAN over examples); ``targets (m,)`` = ``s/2``; ``aligned_half_times``, ``random_half_times``
    ``(B, m)``: first time each mode strength ``a_α = u_αᵀ W v_α`` reaches ``s_α/2`` (linear interpolation between
    records, NaN if never reached); ``aligned_modes``, ``random_modes`` ``(R, B, m)``; ``layer_norm``: the common
    Frobenius norm ``√m · u0^{1/D}`` of every layer at the start, for both starts.
    """

    t: Tensor
    targets: Tensor
    aligned_half_times: Tensor
    random_half_times: Tensor
    aligned_modes: Tensor
    random_modes: Tensor
    layer_norm: float


# ---------------------------------------------------------------- data


def _as_list(name: str, v: float | int | Sequence | Tensor) -> list:
    if isinstance(v, Tensor):
        out = v.reshape(-1).tolist()
    else:
        out = [v] if isinstance(v, (int, float)) else list(v)
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


def _example_counts(n: int, alphas, examples) -> list[int]:
    if (alphas is None) == (examples is None):
        raise ValueError("give exactly one of alphas and examples")
    if examples is not None:
        counts = _as_list("examples", examples)
        if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in counts):
            raise ValueError(f"examples must be ints >= 1, got {examples!r}")
        return counts
    counts = []
    for a in _as_list("alphas", alphas):
        if not (math.isfinite(float(a)) and float(a) > 0):
            raise ValueError(f"alphas must be finite and > 0, got {alphas!r}")
        counts.append(max(1, round(float(a) * n)))
    return counts


def student_teacher_data(
    n: int,
    alphas: float | Sequence[float] | Tensor | None = None,
    seeds: int | Sequence[int] = 0,
    *,
    examples: int | Sequence[int] | None = None,
    sigma_w2: float = 1.0,
    sigma_eps2: float = 0.0,
    sigma_02: float = 0.0,
    nested: bool = False,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> LinearStudentData:
    """``len(alphas) × len(seeds)`` student–teacher realisations at input dimension ``n``, padded into one batch.

    Batching over ``α``: by PADDING. Every realisation has ``P_max = max P`` rows; those past its own
    ``P = round(α n)`` (or ``examples`` given directly instead of ``alphas``) are zero in ``X``, ``y`` and ``ε``,
    so every simulator runs all ``α`` and seeds in one tensor program. Order: ``b = i_alpha · len(seeds) + i_seed``.

    Randomness: one ``torch.Generator(device).manual_seed(seed)`` per seed, deterministic given the seeds,
    the ``α`` list and the device (CPU and CUDA draws differ). ``nested=False`` (default): the seed's generator
    draws, for each ``α`` in the order given, ``w̄``, ``w0``, ``X (P, n)``, ``ε (P,)`` afresh, so all
    realisations are independent. ``nested=True``: it draws ``w̄``, ``w0``, ``X (P_max, n)``, ``ε (P_max,)`` once
    and each ``α`` keeps the first ``P`` rows (common random numbers: same teacher and start, growing data set).
    ``x_{μi} = z/√n``, ``w̄_i = σ_w z``, ``w0_i = σ_0 z``, ``ε_μ = σ_ε z`` with ``z ~ N(0, 1)``.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    for name, v in (("sigma_w2", sigma_w2), ("sigma_eps2", sigma_eps2), ("sigma_02", sigma_02)):
        if not (math.isfinite(float(v)) and float(v) >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
    counts = _example_counts(n, alphas, examples)
    seed_list = [int(s) for s in _as_list("seeds", seeds)]
    dev = _default_device(device)
    p_max = max(counts)
    sw, se, s0 = math.sqrt(sigma_w2), math.sqrt(sigma_eps2), math.sqrt(sigma_02)

    def draw(gen: torch.Generator, p: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        w_bar = sw * torch.randn(n, generator=gen, device=dev, dtype=dtype)
        w0 = s0 * torch.randn(n, generator=gen, device=dev, dtype=dtype)
        x = torch.randn(p, n, generator=gen, device=dev, dtype=dtype) / math.sqrt(n)
        eps = se * torch.randn(p, generator=gen, device=dev, dtype=dtype)
        return w_bar, w0, x, eps

    B = len(counts) * len(seed_list)
    X = torch.zeros(len(counts), len(seed_list), p_max, n, device=dev, dtype=dtype)
    noise = torch.zeros(len(counts), len(seed_list), p_max, device=dev, dtype=dtype)
    w_bar = torch.empty(len(counts), len(seed_list), n, device=dev, dtype=dtype)
    w0 = torch.empty_like(w_bar)
    for j, seed in enumerate(seed_list):
        gen = torch.Generator(device=dev)
        gen.manual_seed(seed)
        if nested:
            shared = draw(gen, p_max)
        for i, p in enumerate(counts):
            wb, ws, x, eps = shared if nested else draw(gen, p)
            w_bar[i, j], w0[i, j], X[i, j, :p], noise[i, j, :p] = wb, ws, x[:p], eps[:p]
    X, noise, w_bar, w0 = X.reshape(B, p_max, n), noise.reshape(B, p_max), w_bar.reshape(B, n), w0.reshape(B, n)
    P = torch.tensor(counts, device=dev, dtype=torch.int64).repeat_interleave(len(seed_list))
    mask = torch.arange(p_max, device=dev).unsqueeze(0) < P.unsqueeze(1)
    y = (X @ w_bar.unsqueeze(-1)).squeeze(-1) + noise  # padding rows: 0 + 0
    return LinearStudentData(
        X=X, y=y, noise=noise, w_bar=w_bar, w0=w0, mask=mask, P=P,
        alpha=P.to(dtype) / n, seed=torch.tensor(seed_list, device=dev, dtype=torch.int64).repeat(len(counts)),
        sigma_w2=float(sigma_w2), sigma_eps2=float(sigma_eps2), sigma_02=float(sigma_02),
    )


# ---------------------------------------------------------------- errors and the sample spectrum


def sample_spectrum(data: LinearStudentData, *, rtol: float = ZERO_RTOL) -> SampleSpectrum:
    """The spectrum of each realisation's ``XᵀX`` and the mode projections, from the SVD ``X = U diag(σ) Vᵀ``.

    ``λ = σ²`` and the eigenvectors ``V`` (all ``N`` of them: ``full_matrices=True``, the ``N − rank`` extra
    columns have ``λ = 0``). The SVD of ``X`` rather than ``eigh(XᵀX)``: a small ``λ`` (near ``α = 1``) then has
    relative error ``~ε_mach √(λ_max/λ)`` instead of ``~ε_mach λ_max/λ``, and ``e* = ξ/σ`` with ``ξ = uᵀε`` read
    from the left singular vectors. Eigenvalues ``≤ rtol · λ_max`` of their realisation (default ``1e-10``) are
    treated as ZERO: set to 0, with ``g`` and ``e*`` set to 0 there, so those modes stay at ``e0`` exactly (for
    ``α < 1`` the ``N − P`` null directions sit at ``~1e-32 λ_max``; a genuine eigenvalue that small would be
    frozen too). ``‖ε_⊥‖² = ‖ε − Σ_{λ>0} u ξ‖²`` is formed from the vector, so it is ``~1e-30`` when ``α ≤ 1``.
    """
    X = data.X
    B, p_max, n = X.shape
    U, sig, Vh = torch.linalg.svd(X, full_matrices=True)  # U (B, P_max, P_max), sig (B, min), Vh (B, N, N)
    r = sig.shape[-1]
    sig = torch.cat([sig, sig.new_zeros(B, n - r)], dim=-1) if r < n else sig  # (B, N), descending
    lam = sig * sig
    zero = lam <= rtol * lam[..., :1]
    one = torch.ones_like(lam)
    lam = torch.where(zero, torch.zeros_like(lam), lam)
    V = Vh.mT
    e0 = (Vh @ (data.w0 - data.w_bar).unsqueeze(-1)).squeeze(-1)
    xi = (U.mT @ data.noise.unsqueeze(-1)).squeeze(-1)[..., :r]  # ξ = uᵀε for the first min(P_max, N) modes
    xi = torch.cat([xi, xi.new_zeros(B, n - r)], dim=-1) if r < n else xi
    xi = torch.where(zero, torch.zeros_like(xi), xi)
    g = sig * xi  # vᵀXᵀε = σ ξ
    e_star = torch.where(zero, torch.zeros_like(lam), xi / torch.where(zero, one, sig))
    u_live = U[..., :, : min(r, n)] * (~zero[..., : min(r, n)]).to(X.dtype).unsqueeze(-2)
    eps_perp = data.noise - (u_live @ xi[..., : min(r, n)].unsqueeze(-1)).squeeze(-1)  # ε − X X⁺ε
    return SampleSpectrum(lam, V, zero, e0, g, e_star, (eps_perp * eps_perp).sum(-1))


def exact_linear_student(
    data: LinearStudentData,
    t: float | Sequence[float] | Tensor | None = None,
    *,
    steps: int | Sequence[int] | Tensor | None = None,
    lr: float | None = None,
    rtol: float = ZERO_RTOL,
    spectrum: SampleSpectrum | None = None,
) -> LinearStudentExact:
    """Exact ``E_g`` and ``E_t`` of each realisation from its sample spectrum (module docstring).

    ``lr is None``: gradient flow at times ``t`` (decay ``e^{−λt}``). ``lr`` given: discrete GD after ``steps``
    steps (decay ``(1 − lr λ)^k``; equals :func:`simulate_linear_student` to rounding), reported at
    ``t = lr × steps``. Frozen modes (eigenvalues ``≤ rtol · λ_max``, see :func:`sample_spectrum`) stay at
    ``e0``. Pass ``spectrum`` to reuse a decomposition. Returns a :class:`LinearStudentExact`, ``(R, B)`` errors.
    """
    sp = sample_spectrum(data, rtol=rtol) if spectrum is None else spectrum
    lam = sp.eigenvalues
    dev, dtype = lam.device, lam.dtype
    if lr is None:
        if t is None or steps is not None:
            raise ValueError("gradient flow (lr=None) needs t and no steps")
        tt = torch.as_tensor(t, dtype=dtype, device=dev).reshape(-1)
        if not bool(torch.isfinite(tt).all()) or bool((tt < 0).any()):
            raise ValueError(f"t must be finite and >= 0, got {tt}")
        decay = torch.exp(-tt.reshape(-1, 1, 1) * lam)
        k = None
    else:
        if steps is None or t is not None:
            raise ValueError("discrete GD (lr given) needs steps and no t")
        if not (math.isfinite(float(lr)) and float(lr) > 0):
            raise ValueError(f"lr must be finite and > 0, got {lr!r}")
        k = torch.as_tensor(steps, device=dev).reshape(-1)
        if k.dtype.is_floating_point or bool((k < 0).any()):
            raise ValueError(f"steps must be ints >= 0, got {steps!r}")
        k = k.to(torch.int64)
        decay = torch.pow(1 - float(lr) * lam, k.to(dtype).reshape(-1, 1, 1))
        tt = float(lr) * k.to(dtype)
    d = decay * (sp.e0 - sp.e_star)  # (R, B, N)
    e = sp.e_star + d
    n = lam.shape[-1]
    gen = (e * e).sum(-1) / n + data.sigma_eps2
    train = (sp.residual_floor + (lam * d * d).sum(-1)) / data.P.to(dtype)
    return LinearStudentExact(t=tt, steps=k, generalisation=gen, training=train)


def frozen_subspace_motion(
    data: LinearStudentData, weights: Tensor, *, rtol: float = ZERO_RTOL, spectrum: SampleSpectrum | None = None
) -> Tensor:
    """``‖Π_null (w − w0)‖ / ‖w − w0‖`` for weights ``(…, B, N)`` (0 where ``w = w0``), ``Π_null`` the projector
    onto the null space of ``X`` (the frozen modes of :func:`sample_spectrum`). GD never moves ``w`` there, so
    this is rounding (``~1e-15``) for any run; it is 0 when ``α ≥ 1`` (no frozen modes)."""
    sp = sample_spectrum(data, rtol=rtol) if spectrum is None else spectrum
    dw = weights - data.w0
    coeff = (sp.eigenvectors.mT @ dw.unsqueeze(-1)).squeeze(-1) * sp.zero.to(dw.dtype)
    frozen = coeff.norm(dim=-1)  # V orthonormal: ‖Π_null dw‖ = ‖(Vᵀ dw)_zero‖
    total = dw.norm(dim=-1)
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, frozen / safe, torch.zeros_like(total))


# ---------------------------------------------------------------- gradient descent


def _record_steps(steps: int, record: int | Sequence[int]) -> list[int]:
    """``record`` an int ``k``: every ``k`` steps and the last; a sequence: those step counts (sorted, unique)."""
    if isinstance(record, int) and not isinstance(record, bool):
        return _record_times(steps, record)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    out = sorted({int(k) for k in _as_list("record", record)})
    if out[0] < 0 or out[-1] > steps:
        raise ValueError(f"record steps must lie in [0, steps = {steps}], got {record!r}")
    return out


def _check_lr(lr: float) -> float:
    if isinstance(lr, Tensor) or not (math.isfinite(float(lr)) and float(lr) > 0):
        raise ValueError(f"lr must be a finite float > 0, got {lr!r}")
    return float(lr)


def simulate_linear_student(
    data: LinearStudentData,
    lr: float,
    steps: int,
    *,
    record: int | Sequence[int] = 1,
    frozen: bool = True,
    device: str | torch.device | None = None,
) -> LinearStudentRun:
    """Full-batch GD ``w ← w + lr Xᵀ(y − X w)`` on the summed loss, all ``B`` realisations at once.

    Explicit update, no optimiser; the residual ``r = y − X w`` of each step gives ``E_t = ‖r‖²/P`` of the
    weights it is computed from, ``E_g = ‖w − w̄‖²/N + σ_ε²``. ``record``: an int ``k`` (steps ``0, k, 2k, …``
    and ``steps``) or a sequence of step counts. ``frozen``: also record :func:`frozen_subspace_motion` (one
    ``eigh`` of ``XᵀX`` per realisation). Stable for ``lr < 2/λ_max`` (``λ_max ≈ (1 + √α)²``); no check is made.
    ``device`` defaults to the data's; the dtype is the data's. Returns a :class:`LinearStudentRun`.
    """
    lr = _check_lr(lr)
    times = _record_steps(steps, record)
    dev = data.X.device if device is None else torch.device(device)
    if dev != data.X.device:
        data = LinearStudentData(*(v.to(dev) if isinstance(v, Tensor) else v for v in data))
    X, y, dtype = data.X, data.y, data.X.dtype
    B, n = data.w0.shape
    inv_p = 1.0 / data.P.to(dtype)
    sp = sample_spectrum(data) if frozen else None

    w = data.w0.clone().unsqueeze(-1)  # (B, N, 1)
    r = torch.empty(B, X.shape[1], 1, dtype=dtype, device=dev)
    yv = y.unsqueeze(-1)
    rec_g = torch.empty(len(times), B, dtype=dtype, device=dev)
    rec_t = torch.empty_like(rec_g)
    rec_w = torch.empty(len(times), B, n, dtype=dtype, device=dev) if frozen else None
    k = 0
    for step in range(steps + 1):
        torch.baddbmm(yv, X, w, alpha=-1.0, out=r)  # r = y − X w
        if times[k] == step:
            e = w.squeeze(-1) - data.w_bar
            rec_g[k] = (e * e).sum(-1) / n + data.sigma_eps2
            rec_t[k] = (r * r).sum((-2, -1)) * inv_p
            if frozen:
                rec_w[k] = w.squeeze(-1)
            k += 1
        if step == steps:
            break
        w.baddbmm_(X.mT, r, alpha=lr)  # w += lr Xᵀ r
    motion = frozen_subspace_motion(data, rec_w, spectrum=sp) if frozen else None
    st = torch.tensor(times, dtype=torch.int64, device=dev)
    return LinearStudentRun(steps=st, t=lr * st.to(dtype), generalisation=rec_g, training=rec_t,
                            frozen_motion=motion, weights_final=w.squeeze(-1))


# ---------------------------------------------------------------- two-layer student


def two_layer_student_loss(data: LinearStudentData, W: Tensor, a: Tensor) -> Tensor:
    """Summed loss ``½ Σ_μ (y_μ − a·(W x_μ))²`` of each realisation, ``W (B, h, N)``, ``a (B, h)`` → ``(B,)``."""
    w_eff = (W.mT @ a.unsqueeze(-1)).squeeze(-1)
    r = data.y - (data.X @ w_eff.unsqueeze(-1)).squeeze(-1)
    return 0.5 * (r * r).sum(-1)


def two_layer_student_gradients(data: LinearStudentData, W: Tensor, a: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Hand-derived ``(∂L/∂W (B, h, N), ∂L/∂a (B, h), r (B, P_max))`` of the summed loss: with
    ``r = y − X Wᵀa`` and ``c = Xᵀ r``, ``∂L/∂W = −a cᵀ`` and ``∂L/∂a = −W c``."""
    w_eff = (W.mT @ a.unsqueeze(-1)).squeeze(-1)
    r = data.y - (data.X @ w_eff.unsqueeze(-1)).squeeze(-1)
    c = (data.X.mT @ r.unsqueeze(-1)).squeeze(-1)
    return -a.unsqueeze(-1) * c.unsqueeze(-2), -(W @ c.unsqueeze(-1)).squeeze(-1), r


def simulate_two_layer_student(
    data: LinearStudentData,
    hidden: int,
    lr: float,
    steps: int,
    *,
    init_scale: float = 1e-2,
    init: tuple[Tensor, Tensor] | None = None,
    record: int | Sequence[int] = 1,
    seed: int = 0,
) -> TwoLayerStudentRun:
    """Full-batch GD on ``ŷ = a·(W x)`` with the summed loss, all realisations batched.

    Start: ``init = (W (B or 1, h, N), a (B or 1, h))`` explicit (copied), else small random
    ``W_ij ~ N(0, init_scale²/N)``, ``a_i ~ N(0, init_scale²/h)`` from ``torch.Generator(device).manual_seed(seed)``
    (the data's device and dtype). Update ``W ← W + lr a cᵀ``, ``a ← a + lr W c`` from the same old weights
    (``c = Xᵀ(y − X Wᵀa)``). Records ``E_g = ‖Wᵀa − w̄‖²/N + σ_ε²`` and ``E_t = ‖y − X Wᵀa‖²/P`` as ``record``
    says (see :func:`simulate_linear_student`). Returns a :class:`TwoLayerStudentRun`.
    """
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise ValueError(f"hidden must be an int >= 1, got {hidden!r}")
    lr = _check_lr(lr)
    times = _record_steps(steps, record)
    dev, dtype = data.X.device, data.X.dtype
    B, n = data.w0.shape
    if init is None:
        gen = torch.Generator(device=dev)
        gen.manual_seed(int(seed))
        W = init_scale * torch.randn(B, hidden, n, generator=gen, device=dev, dtype=dtype) / math.sqrt(n)
        a = init_scale * torch.randn(B, hidden, generator=gen, device=dev, dtype=dtype) / math.sqrt(hidden)
    else:
        W0, a0 = (torch.as_tensor(v).detach().to(device=dev, dtype=dtype) for v in init)
        if W0.shape[-2:] != (hidden, n) or a0.shape[-1] != hidden:
            raise ValueError(f"init shapes {tuple(W0.shape)}, {tuple(a0.shape)} do not fit hidden={hidden}, N={n}")
        W, a = W0.expand(B, hidden, n).clone(), a0.expand(B, hidden).clone()
    inv_p = 1.0 / data.P.to(dtype)
    rec_g = torch.empty(len(times), B, dtype=dtype, device=dev)
    rec_t = torch.empty_like(rec_g)
    k = 0
    for step in range(steps + 1):
        gW, ga, r = two_layer_student_gradients(data, W, a)
        if times[k] == step:
            e = (W.mT @ a.unsqueeze(-1)).squeeze(-1) - data.w_bar
            rec_g[k] = (e * e).sum(-1) / n + data.sigma_eps2
            rec_t[k] = (r * r).sum(-1) * inv_p
            k += 1
        if step == steps:
            break
        W.sub_(lr * gW)
        a.sub_(lr * ga)
    st = torch.tensor(times, dtype=torch.int64, device=dev)
    return TwoLayerStudentRun(steps=st, t=lr * st.to(dtype), generalisation=rec_g, training=rec_t,
                              W_final=W, a_final=a, w_eff_final=(W.mT @ a.unsqueeze(-1)).squeeze(-1))


# ---------------------------------------------------------------- pretraining (deep linear networks)


def _half_times(t: Tensor, modes: Tensor, targets: Tensor) -> Tensor:
    """First time each ``modes (R, B, m)`` reaches ``targets (m,)``, linear between records; NaN if never."""
    above = modes >= targets
    first = above.to(torch.int64).argmax(0)  # (B, m)
    idx = first.clamp(min=1).unsqueeze(0)
    m1, m0 = modes.gather(0, idx).squeeze(0), modes.gather(0, idx - 1).squeeze(0)
    tt = t.reshape(-1, 1, 1).expand(modes.shape)
    t1, t0 = tt.gather(0, idx).squeeze(0), tt.gather(0, idx - 1).squeeze(0)
    out = t0 + (t1 - t0) * (targets - m0) / (m1 - m0)
    out = torch.where(first == 0, torch.zeros_like(out), out)
    return torch.where(above.any(0), out, torch.full_like(out, math.nan))


def pretraining_comparison(
    dataset: Dataset,
    *,
    lr: float,
    steps: int,
    depth: int = 2,
    u0: float = 1e-3,
    hidden: int | None = None,
    configs: int = 1,
    record_every: int = 1,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> PretrainingComparison:
    """Half-learning time of every mode from an aligned (pretrained) and from a random start of equal norm.

    Both runs are :func:`~.deep_linear.simulate_deep_linear` (loss ½ MEAN over examples, whitened
    :func:`~.deep_linear.whitened_dataset` data, ``tau = 1/lr``), ``configs`` configurations each:
      (a) ``init="balanced"``: ``W_1 = R_1 A Vᵀ``, …, ``W_D = U A R_{D−1}ᵀ``, ``A = u0^{1/D} I_m`` — every mode at
          strength ``u0``, aligned with the singular vectors (what pretraining gives); under gradient flow each
          mode learns in the decoupled time (``depth = 2``: family 1's ``mode_learning_time(s, u0, s/2, tau=1)``);
      (b) iid Gaussian layers (``torch.Generator(device).manual_seed(seed + 1)``) each rescaled to the same
          Frobenius norm ``√m · u0^{1/D}`` as the layers of (a).
    Times are flow times ``lr × steps`` (units of ``tau``); record densely (``record_every=1``) so the linear
    interpolation adds only ``O(lr²)``. NaN where a mode does not reach ``s/2`` within ``steps``.
    """
    lr = _check_lr(lr)
    dev = dataset.X.device if device is None else torch.device(device)
    dtype = dataset.X.dtype
    n_in, n_out, m = dataset.X.shape[0], dataset.Y.shape[0], dataset.S.numel()
    h = max(n_in, n_out) if hidden is None else hidden
    aligned = simulate_deep_linear(dataset, depth, lr, steps, hidden=h, init="balanced", u0=u0, configs=configs,
                                   record_every=record_every, seed=seed, device=dev)
    layer_norm = math.sqrt(m) * float(u0) ** (1.0 / depth)  # ‖R A Vᵀ‖_F = ‖A‖_F
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed) + 1)
    widths = [n_in] + [h] * (depth - 1) + [n_out]
    start = []
    for fi, fo in zip(widths[:-1], widths[1:]):
        w = torch.randn(configs, fo, fi, generator=gen, device=dev, dtype=dtype)
        start.append(w * (layer_norm / w.flatten(1).norm(dim=1)).reshape(-1, 1, 1))
    random = simulate_deep_linear(dataset, depth, lr, steps, init=start, record_every=record_every, device=dev)
    t = lr * aligned.t.to(dtype)
    targets = dataset.S.to(device=dev, dtype=dtype) / 2
    return PretrainingComparison(
        t=t, targets=targets,
        aligned_half_times=_half_times(t, aligned.mode_strengths, targets),
        random_half_times=_half_times(t, random.mode_strengths, targets),
        aligned_modes=aligned.mode_strengths, random_modes=random.mode_strengths, layer_norm=layer_norm,
    )
