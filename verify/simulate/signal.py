"""Signal propagation through wide random rectifier networks, with and without noise (family 3, seed 001).

Network (``N`` = ``width`` units per layer, one draw of weights per network, shared by all its inputs)::

    h¹ = W¹ x + b¹,                                 W¹_ij ~ N(0, σ_w²/n0)
    h^l = W^l (ε^{l−1} ⊙ φ(h^{l−1}) + ξ^{l−1}) + b^l,  W^l_ij ~ N(0, σ_w²/N),  l = 2 … L
    b^l_i ~ N(0, σ_b²),   φ(h) = max(0, h + α) − α  (ReLU at α = 0; φ' ∈ {0, 1})

The input ``x`` gets no activation and no noise. The multiplicative noise ``ε`` is iid over networks,
units, inputs and layers with ``E ε = 1``, ``μ2 = E ε²``: inverted dropout ``ε ∈ {0, 1/p}``,
``P(ε = 1/p) = p`` (``μ2 = 1/p``), or Gaussian ``ε ~ N(1, σ_ε²)`` (``μ2 = 1 + σ_ε²``); the additive noise
``ξ ~ N(0, eps)`` likewise. The measured second moments are ``Q^l_ab = (1/N) Σ_i h^l_i(x_a) h^l_i(x_b)``.

Exact conditional means (zero-mean weights, ε, ξ independent of everything else)::

    E[Q^l_aa | layer l−1] = σ_w² (μ2 (1/N) Σ_j φ(h^{l−1}_j(x_a))² + eps) + σ_b²
    E[Q^l_ab | layer l−1] = σ_w² (1/N) Σ_j φ(h^{l−1}_j(x_a)) φ(h^{l−1}_j(x_b)) + σ_b²     (a ≠ b)

Given layer ``l−2`` the units of ``h^{l−1}`` are iid Gaussian, so for ReLU
``E[(1/N) Σ φ(h^{l−1})² | l−2] = E[Q^{l−1} | l−2]/2`` and the variance map
``q' = σ_w² (μ2 q/2 + eps) + σ_b²`` holds *in expectation at every width*:
``E[Q^L_aa] = A^{L−1} q¹ + C (A^{L−1} − 1)/(A − 1)`` with ``A = σ_w² μ2/2``, ``C = σ_w² eps + σ_b²``,
``q¹ = σ_w² |x_a|²/n0 + σ_b²``. The correlation ``c = Q_ab/√(Q_aa Q_bb)`` is a ratio, so it follows
``c' = (1/μ2)[(c arcsin c + √(1−c²))/π + c/2]`` (σ_b = 0) only up to ``O(1/N)`` per layer.

Exact conditional law (what :func:`propagate_units` samples): given layer ``l−1`` (its activations ``a = ε ⊙ φ(h) + ξ``,
noise included), the units ``h^l_i`` are iid Gaussian over ``i`` with covariance over inputs
``K^l = σ_w² a aᵀ/fan_in + σ_b²`` (the rows of ``W^l`` are iid), so ``K^l = E[Q^l | layer l−1]``: both
samplers record it as ``conditional``. :func:`propagate_units` draws the ``N`` units of each layer from that law
directly (``h = z Rᵀ``, ``R Rᵀ = K^l``), the same joint law as drawing the weights, at cost ``O(N n_inputs²)``
per layer instead of ``O(N² n_inputs)``, for a batch of configurations at once.

Jacobian (:func:`jacobian_spectrum`, noise-free, square ``N × N`` weights at every layer, input
``h⁰ ~ N(0, q0)`` iid per unit, ``h^l = W^l φ(h^{l−1}) + b^l``)::

    J = ∂h^L/∂h⁰ = W^L D^{L−1} W^{L−1} ⋯ W¹ D⁰,        D^l = diag(φ'(h^l))

with Gaussian ``W_ij ~ N(0, σ_w²/N)`` or orthogonal ``W = σ_w O`` (``O`` Haar). At criticality
``σ_w² a = 1`` (``a`` the active fraction) the eigenvalues of ``J Jᵀ`` have mean 1 and, as ``N → ∞``,
variance ``L (1 − a)/a`` (orthogonal) or ``L/a`` (Gaussian); at finite ``N`` the mean over networks of
``second_moment − mean²`` lies above these by a relative ``≈ 2 L/N`` (measured: ``1.9 L/N`` Gaussian,
``1.4 … 2.8 L/N`` orthogonal, ReLU, ``N = 250 … 1000``, ``L ≤ 8``), mostly ``Var(mean) = O(L/N)``.
``E[mean] = (σ_w²/2)^L`` exactly at every ``N`` (ReLU, ``σ_b = 0``): flipping the sign of row ``i`` of ``W^l``
preserves both weight laws, flips ``h^l_i`` and leaves ``|row_i(J)|²`` unchanged.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .scalar import _default_device

__all__ = ["JacobianSpectrum", "Propagation", "inputs_with_correlations", "jacobian_spectrum", "noise_factors",
           "propagate", "propagate_units"]

_CHUNK_BYTES = 2**28  # float64 work arrays of one chunk of networks (a few of these live at once: < 1 GB)
_NOISES = ("none", "dropout", "gaussian")
_WEIGHTS = ("gaussian", "orthogonal")


class Propagation(NamedTuple):
    """Result of :func:`propagate`.

    ``moments``: (networks, depth, n_inputs, n_inputs), ``Q^l_ab = (1/N) Σ_i h^l_i(x_a) h^l_i(x_b)``;
    index ``l − 1`` holds layer ``l = 1 … depth`` (:func:`propagate_units` puts its configurations in front).
    ``conditional``: same shape, ``K^l = E[Q^l | layer l−1] = σ_w² a aᵀ/fan_in + σ_b²`` with ``a`` the layer's
    input (``x`` for ``l = 1``, else ``ε ⊙ φ(h^{l−1}) + ξ``), or ``None``.
    """

    moments: Tensor
    conditional: Tensor | None = None

    @property
    def variance(self) -> Tensor:
        """(networks, depth, n_inputs): ``q^l_a = Q^l_aa``."""
        return torch.diagonal(self.moments, dim1=-2, dim2=-1)

    @property
    def correlation(self) -> Tensor:
        """(networks, depth, n_inputs, n_inputs): ``c^l_ab = Q^l_ab / √(Q^l_aa Q^l_bb)`` (NaN where ``Q_aa = 0``)."""
        s = torch.sqrt(self.variance)
        return self.moments / (s.unsqueeze(-1) * s.unsqueeze(-2))

    @property
    def conditional_variance(self) -> Tensor:
        """(…, networks, depth, n_inputs): ``K^l_aa = E[q^l_a | layer l−1]``."""
        if self.conditional is None:
            raise ValueError("this Propagation has no conditional moments")
        return torch.diagonal(self.conditional, dim1=-2, dim2=-1)


class JacobianSpectrum(NamedTuple):
    """Result of :func:`jacobian_spectrum`, per network (``λ`` runs over the ``N`` eigenvalues of ``J Jᵀ``).

    ``mean``: (networks,), ``(1/N) tr J Jᵀ``. ``second_moment``: (networks,), ``(1/N) tr (J Jᵀ)²``.
    ``variance``: (networks,), ``second_moment − mean²`` (the variance of the spectrum of one network).
    ``active_fraction``: (networks, depth), the fraction of units with ``φ' = 1`` in ``D⁰ … D^{L−1}``.
    """

    mean: Tensor
    second_moment: Tensor
    variance: Tensor
    active_fraction: Tensor


def _int(name: str, value: int, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _real(name: str, value: float, *, low: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float, ``> low`` (``strict``) or ``>= low``; else ``ValueError`` naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v <= low if strict else v < low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {value!r}")
    return v


def _phi(h: Tensor, alpha: float) -> Tensor:
    """``φ(h) = max(0, h + α) − α = max(h, −α)``."""
    return torch.clamp_min(h, -alpha)


def _check_noise(noise: str, keep, noise_std) -> None:
    """``ValueError`` for an unknown ``noise``, for ``keep``/``noise_std`` given with another noise, or missing
    with their own."""
    if noise not in _NOISES:
        raise ValueError(f"noise must be one of {_NOISES}, got {noise!r}")
    if keep is not None and noise != "dropout":
        raise ValueError(f"keep is the dropout keep probability; it needs noise='dropout', got noise={noise!r}")
    if noise_std is not None and noise != "gaussian":
        raise ValueError(f"noise_std needs noise='gaussian', got noise={noise!r}")
    if noise == "dropout" and keep is None:
        raise ValueError("keep (keep probability in (0, 1]) is required with noise='dropout'")
    if noise == "gaussian" and noise_std is None:
        raise ValueError("noise_std (>= 0) is required with noise='gaussian'")


def _chunk(networks: int, bytes_per_network: int) -> int:
    return max(1, min(networks, _CHUNK_BYTES // max(1, bytes_per_network)))


def _generator(seed: int, dev: torch.device) -> torch.Generator:
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    return gen


def propagate(
    x: Tensor,
    *,
    depth: int,
    sigma_w: float,
    sigma_b: float = 0.0,
    width: int = 1000,
    networks: int = 16,
    noise: str = "none",
    keep: float | None = None,
    noise_std: float | None = None,
    additive_eps: float = 0.0,
    alpha: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> Propagation:
    """Second moments ``Q^l_ab`` of the pre-activations of ``networks`` random noisy rectifier networks.

    ``x``: (n_inputs, n0), the inputs (fed to ``W¹`` as they are). Network (module docstring)::

        h¹ = W¹ x + b¹,   h^l = W^l (ε^{l−1} ⊙ φ(h^{l−1}) + ξ^{l−1}) + b^l   (l = 2 … depth)

    ``W¹_ij ~ N(0, σ_w²/n0)``, ``W^l_ij ~ N(0, σ_w²/N)``, ``b_i ~ N(0, σ_b²)``, ``N = width``;
    ``φ`` is ReLU, or ``φ(h) = max(0, h + alpha) − alpha`` for a given ``alpha``. ``noise``: ``"none"``
    (``ε = 1``), ``"dropout"`` (needs ``keep`` ``∈ (0, 1]``: ``ε = 1/keep`` with probability ``keep``, else 0;
    ``μ2 = 1/keep``) or ``"gaussian"`` (needs ``noise_std ≥ 0``: ``ε ~ N(1, noise_std²)``,
    ``μ2 = 1 + noise_std²``); ``ε`` is independent per network, unit, input and layer. ``additive_eps ≥ 0``
    is the variance of the additive ``ξ`` (same independence). ``keep = 1``, ``noise_std = 0`` and
    ``additive_eps = 0`` draw no noise: the noise-free network, draw for draw. Expected maps: module docstring.

    Works in float64, networks batched in chunks of about 256 MB of weights (one network at a time when one
    weight matrix is larger; cost ``O(depth · networks · N²)`` normal draws); all draws come from
    ``torch.Generator(device).manual_seed(seed)``, so the result is deterministic given the arguments and
    the device (``device`` defaults to CUDA if available). Returns a :class:`Propagation` (with the conditional
    moments ``K^l``). Raises
    ``ValueError`` naming the parameter for a bad ``x``, ``depth``, ``width``, ``networks``, ``sigma_w ≤ 0``,
    ``sigma_b < 0``, ``noise``, ``keep``, ``noise_std``, ``additive_eps < 0``, non-finite ``alpha``, or for
    ``keep``/``noise_std`` given with another ``noise``.
    """
    depth, width, networks = _int("depth", depth), _int("width", width), _int("networks", networks)
    sw = _real("sigma_w", sigma_w, low=0.0, strict=True)
    sb = _real("sigma_b", sigma_b, low=0.0)
    eps = _real("additive_eps", additive_eps, low=0.0)
    shift = 0.0 if alpha is None else _real("alpha", alpha)
    _check_noise(noise, keep, noise_std)
    p, std = 1.0, 0.0
    if noise == "dropout":
        p = _real("keep", keep)
        if not 0.0 < p <= 1.0:
            raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    if noise == "gaussian":
        std = _real("noise_std", noise_std, low=0.0)
    dev = _default_device(device)
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    x = x.to(device=dev, dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (n_inputs, n0) with both >= 1, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite")
    n_in, n0 = x.shape
    gen = _generator(seed, dev)
    f64 = dict(dtype=torch.float64, device=dev)

    moments = torch.empty((networks, depth, n_in, n_in), **f64)
    conditional = torch.empty_like(moments)
    chunk = _chunk(networks, 8 * (width * max(width, n0) + 4 * n_in * width))
    for start in range(0, networks, chunk):
        c = min(chunk, networks - start)
        a = x.expand(c, n_in, n0)  # the layer's input, (c, n_inputs, fan_in)
        for layer in range(depth):
            fan_in = a.shape[-1]
            w = torch.randn((c, width, fan_in), generator=gen, **f64).mul_(sw / math.sqrt(fan_in))
            b = torch.randn((c, 1, width), generator=gen, **f64).mul_(sb)
            h = torch.baddbmm(b, a, w.mT)  # (c, n_inputs, N)
            moments[start : start + c, layer] = (h @ h.mT) / width
            conditional[start : start + c, layer] = (a @ a.mT) * (sw * sw / fan_in) + sb * sb
            if layer == depth - 1:
                break
            a = _phi(h, shift)
            if noise == "dropout" and p < 1.0:
                on = torch.rand(h.shape, generator=gen, **f64) < p
                a = torch.where(on, a / p, 0.0)
            elif noise == "gaussian" and std > 0.0:
                a = a * torch.randn(h.shape, generator=gen, **f64).mul_(std).add_(1.0)
            if eps > 0.0:
                a = a + torch.randn(h.shape, generator=gen, **f64).mul_(math.sqrt(eps))
    return Propagation(moments=moments, conditional=conditional)


def _batch_param(name: str, value, dev: torch.device, *, low: float | None = None, strict: bool = False,
                 high: float | None = None) -> Tensor:
    """``value`` (a number or a 0-d/1-d tensor of configurations) as float64 on ``dev``, finite and in range;
    else ``ValueError`` naming ``name``."""
    try:
        t = torch.as_tensor(value, dtype=torch.float64, device=dev)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a real number or a 1-d tensor of them, got {value!r}") from None
    if t.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-d tensor (one value per configuration), "
                         f"got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and bool((t <= low).any() if strict else (t < low).any()):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {value!r}")
    if high is not None and bool((t > high).any()):
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return t


def noise_factors(
    shape: tuple[int, ...],
    *,
    noise: str,
    keep: Tensor | float | None = None,
    noise_std: Tensor | float | None = None,
    generator: torch.Generator,
) -> Tensor:
    """The multiplicative noise ``ε`` (float64, ``shape``), iid with ``E ε = 1``: ``"none"`` (``ε = 1``, no draws),
    ``"dropout"`` (``ε = [u < keep]/keep``, ``u`` uniform: ``μ2 = 1/keep``) or ``"gaussian"``
    (``ε = 1 + noise_std·z``: ``μ2 = 1 + noise_std²``). ``keep``/``noise_std`` broadcast against ``shape``
    (one per configuration in front); ``keep = 1`` and ``noise_std = 0`` give ``ε = 1`` exactly (the draws are
    still made). Draws from ``generator`` on its device."""
    dev = generator.device
    f64 = dict(dtype=torch.float64, device=dev)
    if noise == "none":
        return torch.ones(shape, **f64)
    if noise == "dropout":
        if keep is None:
            raise ValueError("keep (keep probability in (0, 1]) is required with noise='dropout'")
        p = torch.as_tensor(keep, **f64)
        return (torch.rand(shape, generator=generator, **f64) < p).to(torch.float64) / p
    if noise == "gaussian":
        if noise_std is None:
            raise ValueError("noise_std (>= 0) is required with noise='gaussian'")
        return torch.randn(shape, generator=generator, **f64).mul_(torch.as_tensor(noise_std, **f64)).add_(1.0)
    raise ValueError(f"noise must be one of {_NOISES}, got {noise!r}")


def _kernel_root(k: Tensor) -> Tensor:
    """``R`` with ``R Rᵀ = K`` for a batch of symmetric positive semi-definite ``K`` (…, n, n): ``U √Λ`` from
    ``eigh`` (robust where ``K`` is singular: parallel inputs, ``σ_b = 0`` and a zero input)."""
    if k.shape[-1] == 1:
        return torch.sqrt(k.clamp_min(0.0))
    lam, u = torch.linalg.eigh(k)
    return u * torch.sqrt(lam.clamp_min(0.0)).unsqueeze(-2)


def propagate_units(
    x: Tensor,
    *,
    depth: int,
    sigma_w: float | Tensor,
    sigma_b: float | Tensor = 0.0,
    width: int = 1000,
    networks: int = 16,
    noise: str = "none",
    keep: float | Tensor | None = None,
    noise_std: float | Tensor | None = None,
    additive_eps: float | Tensor = 0.0,
    alpha: float | Tensor | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> Propagation:
    """The networks of :func:`propagate`, each layer's units drawn from their exact law given the layer before.

    Same network, same joint law of ``(h¹, …, h^depth)``: given the layer's input ``a`` (``x`` for layer 1, else
    ``ε ⊙ φ(h^{l−1}) + ξ``), the ``N`` units of ``h^l = W^l a + b^l`` are iid ``N(0, K^l)`` over inputs with
    ``K^l = σ_w² a aᵀ/fan_in + σ_b²`` (``fan_in = n0`` for layer 1, ``N`` after), because the rows of ``W^l`` and
    the entries of ``b^l`` are iid Gaussian. Each layer is drawn as ``h = z Rᵀ`` (``z`` iid standard normal,
    ``R Rᵀ = K^l``), at ``O(N n_inputs²)`` per layer instead of :func:`propagate`'s ``O(N² n_inputs)``, so widths
    of ``10⁴–10⁵`` and many networks are cheap when the inputs are few.

    A batch of configurations runs at once: ``sigma_w``, ``sigma_b``, ``keep``, ``noise_std``, ``additive_eps`` and
    ``alpha`` are numbers or 1-d tensors (one value per configuration, broadcast together), ``x`` is
    ``(n_inputs, n0)`` or ``(configurations, n_inputs, n0)``. ``noise`` (one kind per call) as in
    :func:`propagate`; unlike there, ``keep = 1``/``noise_std = 0`` still consume their draws. Returns a
    :class:`Propagation` with ``moments`` ``Q^l`` and ``conditional`` ``K^l = E[Q^l | layer l−1]``, shaped
    ``(configurations, networks, depth, n_inputs, n_inputs)`` (no configuration axis when every parameter is a
    number and ``x`` is 2-d). Float64, networks chunked (about 256 MB of work arrays), deterministic given the
    arguments and the device; raises ``ValueError`` naming a bad parameter.
    """
    depth, width, networks = _int("depth", depth), _int("width", width), _int("networks", networks)
    _check_noise(noise, keep, noise_std)
    dev = _default_device(device)
    sw = _batch_param("sigma_w", sigma_w, dev, low=0.0, strict=True)
    sb = _batch_param("sigma_b", sigma_b, dev, low=0.0)
    eps = _batch_param("additive_eps", additive_eps, dev, low=0.0)
    shift = _batch_param("alpha", 0.0 if alpha is None else alpha, dev)
    p = _batch_param("keep", 1.0 if keep is None else keep, dev, low=0.0, strict=True, high=1.0)
    std = _batch_param("noise_std", 0.0 if noise_std is None else noise_std, dev, low=0.0)
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    x = x.to(device=dev, dtype=torch.float64)
    if x.ndim not in (2, 3) or x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"x must have shape (n_inputs, n0) or (configurations, n_inputs, n0), got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite")
    try:
        batch = torch.broadcast_shapes(*(t.shape for t in (sw, sb, eps, shift, p, std)), x.shape[:-2])
    except RuntimeError:
        raise ValueError("the per-configuration parameters (and x's leading axis) must have one length") from None
    n_in, n0 = x.shape[-2:]
    b = batch[0] if batch else 1
    col = lambda t: t.expand(batch).reshape(b, 1, 1, 1) if batch else t.reshape(1, 1, 1, 1)  # noqa: E731
    sw, sb, eps, shift, p, std = (col(t) for t in (sw, sb, eps, shift, p, std))
    x = x.expand(*((b,) if x.ndim == 2 else ()), n_in, n0).reshape(b, 1, n_in, n0)
    k1 = (x @ x.mT) * (sw * sw / n0) + sb * sb  # (b, 1, n, n): layer 1 given the inputs
    gen = _generator(seed, dev)
    f64 = dict(dtype=torch.float64, device=dev)
    moments = torch.empty((b, networks, depth, n_in, n_in), **f64)
    conditional = torch.empty_like(moments)
    additive = bool((eps > 0).any())
    chunk = _chunk(networks, 8 * 6 * b * width * n_in)
    for start in range(0, networks, chunk):
        c = min(chunk, networks - start)
        nets = slice(start, start + c)
        k = k1.expand(b, c, n_in, n_in)
        for layer in range(depth):
            conditional[:, nets, layer] = k
            h = torch.randn((b, c, width, n_in), generator=gen, **f64) @ _kernel_root(k).mT  # rows ~ N(0, K)
            moments[:, nets, layer] = (h.mT @ h) / width
            if layer == depth - 1:
                break
            a = torch.maximum(h, -shift) if alpha is not None else h.clamp_min(0.0)
            if noise != "none":
                a = a * noise_factors(h.shape, noise=noise, keep=p, noise_std=std, generator=gen)
            if additive:
                a = a + torch.randn(h.shape, generator=gen, **f64).mul_(torch.sqrt(eps))
            k = (a.mT @ a) * (sw * sw / width) + sb * sb
    if not batch:
        moments, conditional = moments[0], conditional[0]
    return Propagation(moments=moments, conditional=conditional)


def inputs_with_correlations(cosines: list[float], n0: int = 64, scales: list[float] | None = None,
                             seed: int = 0) -> Tensor:
    """Inputs ``x_0 … x_k`` in ``R^{n0}`` (rows, float64) with ``cos(x_0, x_i) = cosines[i−1]`` and norms
    ``√n0 · scale`` (``scales`` per input, default 1): ``x_0 = e_0``, ``x_i = c_i e_0 + √(1 − c_i²) e_i`` for an
    orthonormal ``e_0 … e_k`` drawn from ``seed`` (QR of a Gaussian matrix), times ``√n0``."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n0, len(cosines) + 1, generator=g, dtype=torch.float64))
    e0 = basis[:, 0]
    rows = [e0] + [c * e0 + math.sqrt(1 - c * c) * basis[:, i + 1] for i, c in enumerate(cosines)]
    x = torch.stack(rows) * math.sqrt(n0)
    if scales is not None:
        x = x * torch.tensor(scales, dtype=torch.float64).unsqueeze(1)
    return x


def _haar_orthogonal(c: int, n: int, gen: torch.Generator, dev: torch.device) -> Tensor:
    """(c, n, n) Haar-orthogonal matrices: ``Q diag(sign(diag R))`` from ``G = Q R``, ``G`` Gaussian."""
    g = torch.randn((c, n, n), generator=gen, dtype=torch.float64, device=dev)
    q, r = torch.linalg.qr(g)
    sign = torch.where(torch.diagonal(r, dim1=-2, dim2=-1) < 0, -1.0, 1.0)
    return q * sign.unsqueeze(-2)


def jacobian_spectrum(
    *,
    depth: int,
    sigma_w: float,
    sigma_b: float = 0.0,
    alpha: float | None = None,
    weights: str = "gaussian",
    width: int = 1000,
    networks: int = 4,
    q0: float = 1.0,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> JacobianSpectrum:
    """First two moments of the spectrum of ``J Jᵀ``, ``J = ∂h^L/∂h⁰``, for ``networks`` noise-free networks.

    ``h⁰ ~ N(0, q0)`` iid per unit (``q0 = q*`` draws it at the fixed point), ``h^l = W^l φ(h^{l−1}) + b^l``
    for ``l = 1 … depth`` with ``N × N`` weights (``N = width``): ``weights="gaussian"``
    ``W_ij ~ N(0, σ_w²/N)``, ``"orthogonal"`` ``W = σ_w O`` with ``O`` Haar (sign-fixed QR); ``b_i ~ N(0, σ_b²)``;
    ``φ`` ReLU or the shifted ReLU with ``alpha``. The Jacobian is accumulated as a product (no autograd)::

        J = W^L D^{L−1} ⋯ W¹ D⁰,   D^l = diag(φ'(h^l)),   φ'(h) = [h > −α]

    and, per network, ``mean = ‖J‖_F²/N = (1/N) tr J Jᵀ``, ``second_moment = ‖J Jᵀ‖_F²/N = (1/N) tr (J Jᵀ)²``
    (no eigendecomposition) and ``variance = second_moment − mean²``. Float64, networks chunked (``< 1 GB``
    for ``N ≲ 4000``), draws from ``torch.Generator(device).manual_seed(seed)``; cost ``O(depth · N³)`` per
    network (orthogonal weights add one QR per layer).
    Returns a :class:`JacobianSpectrum`; raises ``ValueError`` naming the parameter for a bad ``depth``,
    ``width``, ``networks``, ``weights``, ``sigma_w ≤ 0``, ``sigma_b < 0``, ``q0 ≤ 0`` or non-finite ``alpha``.
    """
    depth, width, networks = _int("depth", depth), _int("width", width), _int("networks", networks)
    sw = _real("sigma_w", sigma_w, low=0.0, strict=True)
    sb = _real("sigma_b", sigma_b, low=0.0)
    var0 = _real("q0", q0, low=0.0, strict=True)
    shift = 0.0 if alpha is None else _real("alpha", alpha)
    if weights not in _WEIGHTS:
        raise ValueError(f"weights must be one of {_WEIGHTS}, got {weights!r}")
    dev = _default_device(device)
    gen = _generator(seed, dev)
    f64 = dict(dtype=torch.float64, device=dev)
    n = width

    mean = torch.empty(networks, **f64)
    second = torch.empty(networks, **f64)
    active = torch.empty((networks, depth), **f64)
    chunk = _chunk(networks, 8 * 4 * n * n)  # W, J, the new J and J Jᵀ
    for start in range(0, networks, chunk):
        c = min(chunk, networks - start)
        rows = slice(start, start + c)
        h = torch.randn((c, n, 1), generator=gen, **f64).mul_(math.sqrt(var0))  # h⁰ as columns
        jac: Tensor | None = None
        for layer in range(depth):
            if weights == "gaussian":
                w = torch.randn((c, n, n), generator=gen, **f64).mul_(sw / math.sqrt(n))
            else:
                w = _haar_orthogonal(c, n, gen, dev).mul_(sw)
            b = torch.randn((c, n, 1), generator=gen, **f64).mul_(sb)
            on = h > -shift  # φ'(h^{layer}) as (c, N, 1)
            active[rows, layer] = on.squeeze(-1).to(torch.float64).mean(-1)
            wd = w * on.mT.to(torch.float64)  # W^{l+1} D^l: columns of W masked
            jac = wd if jac is None else wd @ jac
            h = torch.baddbmm(b, w, _phi(h, shift))
        assert jac is not None
        mean[rows] = jac.square().sum((-2, -1)) / n
        second[rows] = (jac @ jac.mT).square().sum((-2, -1)) / n
    return JacobianSpectrum(mean=mean, second_moment=second, variance=second - mean * mean, active_fraction=active)
