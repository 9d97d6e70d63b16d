"""Random networks of neural-tangents' parameterisation sampled exactly in law, layer by layer, at any width:
the per-network kernels that :func:`~learndyn.verify.simulate.ntk.empirical_kernels` computes from explicit
``N × N`` weight matrices, at a cost of ``O(N n²)`` per layer instead of ``O(N²)`` (family 4, seed 004).

Network (as :mod:`learndyn.verify.simulate.ntk`): inputs are the ``n`` columns of ``A⁰ = xᵀ (d, n)``; dense layer
``l = 1 … L+1`` computes ``z^l = (σ_w/√n_{l−1}) W^l A^{l−1} + σ_b b^l 1ᵀ`` with ``W^l, b^l`` iid ``N(0, 1)``, and
``A^l = φ(z^l)`` for ``l ≤ L`` (``N`` units each); the readout ``z^{L+1}`` has one unit.

**Why only the projections of ``W`` matter.** Write ``A^{l−1} = Q R`` (thin QR, ``Q`` with orthonormal columns,
``k = rank`` columns). Row ``w_i`` of ``W^l`` splits into ``Qᵀ w_i`` and ``P⊥ w_i`` (``P⊥ = I − Q Qᵀ``), which are
independent standard Gaussians on their subspaces, and independent of ``A^{l−1}`` (``W^l`` is). So

* forward: ``W^l A^{l−1} = E R`` with ``E = W^l Q`` — an ``(n_l, k)`` matrix of iid ``N(0, 1)``: the rows of
  ``z^l`` are iid ``N(0, Ĉ^l)``, ``Ĉ^l = (σ_w²/n_{l−1}) A^{l−1}ᵀ A^{l−1} + σ_b²`` (the layer's input kernel);
* backward: ``W^lᵀ δ = Q Eᵀ δ + P⊥ G'ᵀ δ`` with ``G'`` a fresh iid ``N(0, 1)`` matrix independent of the whole
  forward pass (it is ``W^l P⊥``, which the forward pass never sees); writing ``δ = Q_δ R_δ``, ``G'ᵀ Q_δ`` is again
  iid ``N(0, 1)``, so ``G'ᵀ δ = F R_δ`` with ``F (n_{l−1}, k_δ)`` iid.

Drawing ``E``, ``F`` and ``b`` is therefore drawing the network: every statistic of the inputs ``x`` below has
exactly the law it has for explicit weights (``tests/test_ntk_law.py`` compares both at small width, finite-width
bias and fluctuations included), up to the float32 rounding of the normal draws (:func:`_normal`). With
``δ^{L+1} = 1`` (readout output 0) and ``δ^{l−1} = φ'(z^{l−1}) ⊙ (σ_w/√N) W^lᵀ δ^l``, the empirical kernels are::

    K̂ = Ĉ^{L+1},        Θ̂ = Σ_{l=1}^{L+1} (δ^lᵀ δ^l) ⊙ Ĉ^l

(the structured-derivative contraction of :func:`~learndyn.verify.simulate.ntk.empirical_kernels`), and
``Ĥ^l = (σ_w²/N) φ'(z^l)ᵀ φ'(z^l)`` is the layer's empirical derivative kernel: its mean given ``A^{l−1}`` is
``σ_w² Ṫ(Ĉ^l)``, and its diagonal is the mean squared singular value of the layer-to-layer Jacobian
``∂z^{l+1}/∂z^l = (σ_w/√N) W^{l+1} diag φ'(z^l)`` averaged over ``W^{l+1}`` (independent of ``z^l``).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .ntk import EmpiricalKernels, _generator, _int, _matrix, _network_args, _phi
from .scalar import _default_device

__all__ = ["LayerStatistics", "sampled_kernels", "sampled_layers"]

#: float64 elements of one chunk of networks' stored layers (a few copies live at once)
_CHUNK_ELEMENTS = 2**24
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class LayerStatistics(NamedTuple):
    """Result of :func:`sampled_layers` (``M`` networks, ``L`` hidden layers, ``n`` inputs; float64).

    ``kernel`` (M, L+1, n, n): ``Ĉ^l`` for ``l = 1 … L+1``, the input kernel of dense layer ``l`` (``Ĉ¹ = σ_w²
    x xᵀ/d + σ_b²``; ``Ĉ^{L+1}`` is the empirical NNGP kernel). ``derivative`` (M, L, n, n): ``Ĥ^l`` for
    ``l = 1 … L``. ``ntk`` (M, n, n): the empirical NTK ``Θ̂`` of readout output 0, or ``None`` when not asked for.
    """

    kernel: Tensor
    derivative: Tensor
    ntk: Tensor | None


def _dphi(z: Tensor, activation: str) -> Tensor:
    if activation == "relu":
        return (z > 0).to(z.dtype)
    return _TWO_OVER_SQRT_PI * torch.exp(-z * z)


def _gram(u: Tensor) -> Tensor:
    return u.mT @ u


def _normal(shape: tuple[int, ...], gen: torch.Generator, like: Tensor) -> Tensor:
    """Standard normals drawn in float32 (vectorised, 4× faster than float64 draws on a CPU) and used in float64:
    their law differs from ``N(0, 1)`` by the float32 rounding, a relative 6e-8, and by tails cut beyond about
    5.7σ (probability 1e-8), far below any statistical resolution here."""
    return torch.randn(shape, generator=gen, dtype=torch.float32, device=like.device).to(like.dtype)


def _chunk_layers(x: Tensor, hidden: int, sw2: float, sb2: float, activation: str, width: int, c: int,
                  gen: torch.Generator, ntk: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """``c`` networks: (c, L+1, n, n) kernels, (c, L, n, n) derivative kernels, (c, n, n) NTK or ``None``."""
    f64 = dict(dtype=x.dtype, device=x.device)
    sw, sb = math.sqrt(sw2), math.sqrt(sb2)
    n = x.shape[0]
    a = x.mT.expand(c, *x.mT.shape)                      # A⁰ (c, d, n)
    kernels, derivatives, stored = [], [], []
    for layer in range(hidden + 1):
        fan_in, fan_out = a.shape[1], (width if layer < hidden else 1)
        q, r = torch.linalg.qr(a)                          # (c, fan_in, k), (c, k, n)
        kernels.append(_gram(r).mul_(sw2 / fan_in).add_(sb2))   # RᵀR = AᵀA
        if layer == hidden:
            q_out = q
            break
        e = _normal((c, fan_out, r.shape[1]), gen, x)
        bias = _normal((c, fan_out, 1), gen, x)
        z = torch.baddbmm(bias * sb, e, r, alpha=sw / math.sqrt(fan_in))
        d = _dphi(z, activation)
        derivatives.append(_gram(d).mul_(sw2 / width))
        if ntk:
            stored.append((q, e, d))
        a = _phi(z, activation)
    kernel = torch.stack(kernels, 1)
    derivative = torch.stack(derivatives, 1) if derivatives else x.new_zeros((c, 0, n, n))
    if not ntk:
        return kernel, derivative, None
    # backward: δ^{L+1} = 1 (readout output 0); the readout's E never entered the forward pass, so it is drawn here
    theta = kernels[hidden].clone()                       # (δ^{L+1}ᵀ δ^{L+1}) ⊙ Ĉ^{L+1}, δ^{L+1} = 1
    delta = torch.ones((c, 1, n), **f64)
    for layer in range(hidden, 0, -1):                    # dense layer ``layer + 1`` maps A^{layer} to z^{layer+1}
        q = q_out if layer == hidden else stored[layer][0]
        e_next = (_normal((c, 1, q.shape[2]), gen, x) if layer == hidden else stored[layer][1])
        fan_in, fan_out = q.shape[1], delta.shape[1]
        along = q @ (e_next.mT @ delta)                   # Q Eᵀ δ
        if fan_out <= n:                                  # G'ᵀ δ from G' itself (a readout of one unit)
            free = _normal((c, fan_out, fan_in), gen, x).mT @ delta
        else:                                             # G'ᵀ δ = F R_δ, δ = Q_δ R_δ
            r_delta = torch.linalg.qr(delta)[1]
            free = _normal((c, fan_in, r_delta.shape[1]), gen, x) @ r_delta
        free = free - q @ (q.mT @ free)                   # P⊥ G'ᵀ δ
        delta = stored[layer - 1][2] * (along + free).mul_(math.sqrt(sw2 / fan_in))   # δ^{layer}
        theta += _gram(delta) * kernels[layer - 1]
    return kernel, derivative, theta


def sampled_layers(x: Tensor, *, hidden_layers: int, sigma_w2: float, sigma_b2: float, activation: str, width: int,
                   networks: int, seed: int = 0, ntk: bool = False,
                   device: str | torch.device | None = None) -> LayerStatistics:
    """Per-layer kernels (and, with ``ntk=True``, the empirical NTK) of ``networks`` random networks at the rows
    of ``x (n, d)``, sampled exactly in law (module docstring) from ``torch.Generator(device).manual_seed(seed)``.

    Cost ``O(networks · L · width · n²)``; float64; networks batched in chunks (the draws depend on the chunking,
    the law does not). Returns a :class:`LayerStatistics`. Raises ``ValueError`` naming the parameter for a bad
    ``x``, ``hidden_layers < 0``, ``width < 1``, ``networks < 1``, ``sigma_w2 ≤ 0``, ``sigma_b2 < 0`` or an
    ``activation`` not in {"relu", "erf"}.
    """
    hidden, sw2, sb2, width, networks = _network_args(hidden_layers, sigma_w2, sigma_b2, activation, width, networks)
    dev = _default_device(device)
    x = _matrix("x", x, dev)
    n = x.shape[0]
    per_network = max(1, (hidden + 1) * width * n * (4 if ntk else 2))
    chunk = max(1, min(networks, _CHUNK_ELEMENTS // per_network))
    gen = _generator(seed, dev)
    parts = [_chunk_layers(x, hidden, sw2, sb2, activation, width, min(chunk, networks - s), gen, ntk)
             for s in range(0, networks, chunk)]
    kernel = torch.cat([p[0] for p in parts])
    derivative = torch.cat([p[1] for p in parts])
    theta = torch.cat([p[2] for p in parts]) if ntk else None
    return LayerStatistics(kernel=kernel, derivative=derivative, ntk=theta)


def sampled_kernels(x1: Tensor, x2: Tensor | None = None, *, hidden_layers: int, sigma_w2: float, sigma_b2: float,
                    activation: str, width: int, networks: int, seed: int = 0,
                    device: str | torch.device | None = None) -> EmpiricalKernels:
    """The empirical NNGP and NTK kernels of ``networks`` random networks, as
    :func:`~learndyn.verify.simulate.ntk.empirical_kernels` returns them — (networks, n1, n2) each, between the
    rows of ``x1`` and ``x2`` (``None``: ``x1``) — with the networks sampled exactly in law at ``O(width)`` cost
    per layer (module docstring) instead of drawn as explicit weight matrices."""
    _int("networks", networks)
    dev = _default_device(device)
    x1 = _matrix("x1", x1, dev)
    x = x1 if x2 is None else torch.cat([x1, _matrix("x2", x2, dev, cols=x1.shape[1])])
    out = sampled_layers(x, hidden_layers=hidden_layers, sigma_w2=sigma_w2, sigma_b2=sigma_b2, activation=activation,
                         width=width, networks=networks, seed=seed, ntk=True, device=dev)
    n1 = x1.shape[0]
    cols = slice(0, n1) if x2 is None else slice(n1, None)
    return EmpiricalKernels(nngp=out.kernel[:, -1, :n1, cols], ntk=out.ntk[:, :n1, cols])
