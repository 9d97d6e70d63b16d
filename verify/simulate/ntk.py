"""Finite-width networks in the NTK parameterisation: empirical kernels and MSE training (family 4, seed 004).

Network (neural-tangents' convention; inputs are rows of ``x (n, d)``; ``L = hidden_layers``, ``N = width``,
``k = outputs``; every ``W``, ``b`` entry is iid ``N(0, 1)``, the scales live in the forward pass)::

    a⁰ = x,   z^l = (σ_w/√n_{l−1}) a^{l−1} W^lᵀ + σ_b b^l,   a^l = φ(z^l)     (l = 1 … L, n_0 = d, n_l = N)
    f(x) = z^{L+1} = (σ_w/√n_L) a^L W^{L+1}ᵀ + σ_b b^{L+1}                    (k outputs; L = 0: linear)

with ``σ_w² = sigma_w2``, ``σ_b² = sigma_b2`` and ``φ`` ReLU or ``erf``.

Empirical kernels of one network (readout output 0). The NNGP estimate is the readout covariance given the
last hidden layer, ``K̂(x, x') = (σ_w²/n_L) a^L(x)·a^L(x') + σ_b²``; with ``δ^l(x) = ∂f_0(x)/∂z^l`` the NTK is
``Θ̂ = Σ_θ ∂f_0(x)/∂θ ∂f_0(x')/∂θ``. Because ``∂f_0/∂W^l = (σ_w/√n_{l−1}) δ^l a^{l−1}ᵀ`` is rank one and
``∂f_0/∂b^l = σ_b δ^l``, the sum over parameters contracts layer by layer without forming the Jacobian
(neural-tangents' "structured derivatives")::

    Θ̂(x, x') = K̂(x, x') + Σ_{l=1}^{L} (δ^l(x)·δ^l(x')) ((σ_w²/n_{l−1}) a^{l−1}(x)·a^{l−1}(x') + σ_b²)

(``δ^{L+1} = e_0``, whose term is ``K̂``). The ``δ^l`` are the gradients of ``Σ_x f_0(x)`` with respect to
offsets added to the pre-activations, taken with ``torch.func.grad`` (one backward pass for all inputs and
networks, which do not interact). Infinite width (THEORY.md, family 4): ``K⁰ = x x'ᵀ/d``; dense
``K ↦ σ_w² K + σ_b²``, ``Θ ↦ K_new + σ_w² Θ`` (``Θ⁰ = 0``); activation ``K ↦ T(K)``, ``Θ ↦ Ṫ(K) ⊙ Θ``.
``E K̂ = σ_w² T(K^L) + σ_b²`` exactly at every width given the layer before the last (for ``L = 1`` exactly,
``z¹`` being Gaussian); ``E Θ̂`` is exact at every width for ``L ≤ 1`` and biased by ``O(1/N)`` beyond.

Training (:func:`train_mse`): ``n`` examples, targets ``Y (n, k)``, loss written out explicitly::

    L(θ) = 1/(2 n k) Σ_{a,j} (f_j(x_a) − Y_aj)²,        θ ← θ − lr ∇L     (full batch, all parameters)

so in the linearised (infinite-width) model ``f_{t+1} = f_t − (lr/(n k)) Θ (f_t − Y)``, i.e.
``f_t = Y + (I − lr Θ/(n k))^t (f0 − Y) ≈ Y + exp(−lr Θ t/(n k)) (f0 − Y)`` for the per-output NTK ``Θ``
(``Θ ⊗ I_k`` up to finite-width fluctuations). For ``L = 0`` the model is linear in ``θ``, its NTK is
``σ_w² x x'ᵀ/d + σ_b²`` per output with no cross-output term, and the discrete recursion is exact.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from .scalar import _default_device

__all__ = [
    "DigitsData",
    "EmpiricalKernels",
    "MSETraining",
    "digits_dataset",
    "empirical_kernels",
    "forward",
    "init_params",
    "train_mse",
]

_CHUNK_BYTES = 2**28  # float64 parameters and activations of one chunk of networks (a few copies live at once)
_ACTIVATIONS = ("relu", "erf")

Params = list[tuple[Tensor, Tensor]]  # per layer 1 … L+1: (W (networks, fan_out, fan_in), b (networks, fan_out))


class EmpiricalKernels(NamedTuple):
    """Result of :func:`empirical_kernels`: (networks, n1, n2) float64 each, one kernel per network.

    ``nngp``: ``(σ_w²/n_L) a^L(x1) a^L(x2)ᵀ + σ_b²`` (its mean over networks estimates the NNGP kernel).
    ``ntk``: ``Σ_θ ∂f_0(x1)/∂θ ∂f_0(x2)/∂θ`` for readout output 0.
    """

    nngp: Tensor
    ntk: Tensor


class MSETraining(NamedTuple):
    """Result of :func:`train_mse` (``R`` recorded step counts, ``k`` outputs; ``n_test = 0`` without ``x_test``).

    ``steps``: (R,) int64. ``f_train``: (networks, R, n, k), ``f_test``: (networks, R, n_test, k), the outputs
    after that many GD steps. ``f0_train`` (networks, n, k), ``f0_test`` (networks, n_test, k): at
    initialisation. ``ntk_train_train`` (networks, n, n), ``ntk_test_train`` (networks, n_test, n): the empirical
    NTK of output 0 at initialisation.
    """

    steps: Tensor
    f_train: Tensor
    f_test: Tensor
    f0_train: Tensor
    f0_test: Tensor
    ntk_train_train: Tensor
    ntk_test_train: Tensor


class DigitsData(NamedTuple):
    """Result of :func:`digits_dataset` (float64 on the CPU; ``d = 64``, ``k = classes``).

    ``x_train (n_train, d)``, ``x_test (n_test, d)``: rows centred and scaled to norm ``√d``.
    ``y_train (n_train, k)``, ``y_test (n_test, k)``: one-hot minus ``1/k``. ``labels_*``: int64 digit labels.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    labels_train: Tensor
    labels_test: Tensor


# ---------------------------------------------------------------- validation


def _int(name: str, value: int, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _real(name: str, value: float, *, low: float, strict: bool) -> float:
    """``value`` as a finite float ``> low`` (``strict``) or ``>= low``; else ``ValueError`` naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or (v <= low if strict else v < low):
        raise ValueError(f"{name} must be finite and {'>' if strict else '>='} {low}, got {value!r}")
    return v


def _matrix(name: str, x: Tensor, dev: torch.device, cols: int | None = None, rows: int | None = None,
            min_rows: int = 1) -> Tensor:
    """``x`` as a finite float64 (rows, cols) tensor on ``dev``; else ``ValueError`` naming ``name``."""
    x = torch.as_tensor(x).to(device=dev, dtype=torch.float64)
    want = f"({'n' if rows is None else rows}, {'d' if cols is None else cols})"
    if (x.ndim != 2 or x.shape[0] < min_rows or x.shape[1] < 1 or (cols is not None and x.shape[1] != cols)
            or (rows is not None and x.shape[0] != rows)):
        raise ValueError(f"{name} must have shape {want} with n >= {min_rows}, d >= 1, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite")
    return x


def _network_args(hidden_layers: int, sigma_w2: float, sigma_b2: float, activation: str, width: int,
                  networks: int) -> tuple[int, float, float, int, int]:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    return (_int("hidden_layers", hidden_layers, 0), _real("sigma_w2", sigma_w2, low=0.0, strict=True),
            _real("sigma_b2", sigma_b2, low=0.0, strict=False), _int("width", width), _int("networks", networks))


# ---------------------------------------------------------------- parameters and forward pass


def _generator(seed: int, dev: torch.device) -> torch.Generator:
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    return gen


def _fans(d: int, hidden_layers: int, width: int, outputs: int) -> list[tuple[int, int]]:
    """(fan_out, fan_in) of layers 1 … L+1."""
    sizes = [d] + [width] * hidden_layers + [outputs]
    return list(zip(sizes[1:], sizes[:-1]))


def _draw(fans: list[tuple[int, int]], c: int, gen: torch.Generator, dev: torch.device) -> Params:
    """Standard normal parameters of ``c`` networks, drawn network by network (``W¹, b¹, W², b², …``), so the
    networks do not depend on how a run is chunked."""
    f64 = dict(dtype=torch.float64, device=dev)
    params = [(torch.empty((c, o, i), **f64), torch.empty((c, o), **f64)) for o, i in fans]
    for net in range(c):
        for w, b in params:
            w[net].normal_(generator=gen)
            b[net].normal_(generator=gen)
    return params


def _chunk(networks: int, fans: list[tuple[int, int]], n: int) -> int:
    per_network = 8 * sum(o * i + o + 4 * n * o for o, i in fans)
    return max(1, min(networks, _CHUNK_BYTES // per_network))


def init_params(d: int, *, hidden_layers: int, width: int, outputs: int = 1, networks: int = 1, seed: int = 0,
                device: str | torch.device | None = None) -> Params:
    """Parameters of ``networks`` networks with input dimension ``d``: a list over layers ``1 … L+1`` of
    ``(W (networks, fan_out, fan_in), b (networks, fan_out))``, all entries iid ``N(0, 1)`` (float64), drawn
    network by network from ``torch.Generator(device).manual_seed(seed)`` — the networks that
    :func:`empirical_kernels` (``outputs = 1``) and :func:`train_mse` build with the same seed."""
    fans = _fans(_int("d", d), _int("hidden_layers", hidden_layers, 0), _int("width", width),
                 _int("outputs", outputs))
    dev = _default_device(device)
    return _draw(fans, _int("networks", networks), _generator(seed, dev), dev)


def _phi(z: Tensor, activation: str) -> Tensor:
    return torch.relu(z) if activation == "relu" else torch.erf(z)


def _forward(params: Params, x: Tensor, sw2: float, sb2: float, activation: str,
             offsets: Sequence[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
    """Outputs (c, n, k) and the inputs ``a⁰ … a^L`` of every dense layer; ``offsets[l]`` (c, n, N), if
    given, is added to the pre-activation of hidden layer ``l + 1`` (its gradient is ``δ^{l+1}``)."""
    sw, sb = math.sqrt(sw2), math.sqrt(sb2)
    a = x.expand(params[0][0].shape[0], *x.shape) if x.ndim == 2 else x
    acts = [a]
    for layer, (w, b) in enumerate(params):
        z = torch.baddbmm(b.unsqueeze(1), a, w.mT, beta=sb, alpha=sw / math.sqrt(w.shape[-1]))
        if layer == len(params) - 1:
            return z, acts
        if offsets is not None:
            z = z + offsets[layer]
        a = _phi(z, activation)
        acts.append(a)
    raise AssertionError("params is empty")


def forward(params: Params, x: Tensor, *, sigma_w2: float, sigma_b2: float, activation: str) -> Tensor:
    """``f(x)`` (networks, n, outputs) of the networks in ``params`` (from :func:`init_params`) at the rows of
    ``x (n, d)`` (module docstring)."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    sw2 = _real("sigma_w2", sigma_w2, low=0.0, strict=True)
    sb2 = _real("sigma_b2", sigma_b2, low=0.0, strict=False)
    x = _matrix("x", x, params[0][0].device, cols=params[0][0].shape[-1])
    return _forward(params, x, sw2, sb2, activation)[0]


def _kernels(params: Params, x: Tensor, left: slice, right: slice, sw2: float, sb2: float,
             activation: str) -> EmpiricalKernels:
    """Empirical NNGP and output-0 NTK (c, |left|, |right|) between rows ``left`` and rows ``right`` of ``x``."""
    head = params[:-1] + [(params[-1][0][:, :1], params[-1][1][:, :1])]  # readout output 0 only
    hidden = len(params) - 1

    def out0(offsets: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        f, acts = _forward(head, x, sw2, sb2, activation, offsets)
        return f.sum(), acts

    c, n = params[0][0].shape[0], x.shape[0]
    zeros = [torch.zeros((c, n, w.shape[1]), dtype=x.dtype, device=x.device) for w, _ in params[:-1]]
    if hidden:
        deltas, acts = torch.func.grad(out0, has_aux=True)(zeros)
    else:
        deltas, acts = [], _forward(head, x, sw2, sb2, activation)[1]

    def gram(u: Tensor) -> Tensor:
        return u[:, left] @ u[:, right].mT

    def dense(layer: int) -> Tensor:  # (σ_w²/n_{l−1}) a^{l−1}·a^{l−1} + σ_b² for layer ``layer + 1``
        a = acts[layer]
        return gram(a).mul_(sw2 / a.shape[-1]).add_(sb2)

    nngp = dense(hidden)
    ntk = nngp.clone()
    for layer in range(hidden):
        ntk += gram(deltas[layer]) * dense(layer)
    return EmpiricalKernels(nngp=nngp, ntk=ntk)


# ---------------------------------------------------------------- public simulators


def empirical_kernels(
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    hidden_layers: int,
    sigma_w2: float,
    sigma_b2: float,
    activation: str,
    width: int,
    networks: int,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> EmpiricalKernels:
    """Empirical NNGP and NTK kernels of ``networks`` random networks (one readout output) at ``x1 (n1, d)``
    and ``x2 (n2, d)`` (``None``: ``x1``).

    Per network (module docstring): ``nngp = (σ_w²/n_L) φ(z^L(x1)) φ(z^L(x2))ᵀ + σ_b²`` (``L = 0``:
    ``σ_w² x1 x2ᵀ/d + σ_b²``), whose mean over networks is the NNGP kernel, and
    ``ntk = Σ_θ ∂f(x1)/∂θ ∂f(x2)/∂θ``, contracted layer by layer from the backpropagated signals
    ``δ^l = ∂f/∂z^l`` that ``torch.func.grad`` returns. Float64, networks batched in chunks of about
    256 MB (cost ``O(networks · (n1 + n2) · L · N²)``); parameters drawn as :func:`init_params` draws them
    (``outputs = 1``), so the result is deterministic given the arguments and the device (``device`` defaults
    to CUDA if available). Returns an :class:`EmpiricalKernels` of (networks, n1, n2) tensors. Raises
    ``ValueError`` naming the parameter for a bad ``x1``, ``x2``, ``hidden_layers < 0``, ``width < 1``,
    ``networks < 1``, ``sigma_w2 ≤ 0``, ``sigma_b2 < 0`` or ``activation`` not in {"relu", "erf"}.
    """
    hidden_layers, sw2, sb2, width, networks = _network_args(hidden_layers, sigma_w2, sigma_b2, activation, width,
                                                             networks)
    dev = _default_device(device)
    x1 = _matrix("x1", x1, dev)
    n1, d = x1.shape
    same = x2 is None
    x = x1 if same else torch.cat([x1, _matrix("x2", x2, dev, cols=d)])
    fans = _fans(d, hidden_layers, width, 1)
    gen = _generator(seed, dev)
    n2 = n1 if same else x.shape[0] - n1
    nngp = torch.empty((networks, n1, n2), dtype=torch.float64, device=dev)
    ntk = torch.empty_like(nngp)
    chunk = _chunk(networks, fans, x.shape[0])
    for start in range(0, networks, chunk):
        c = min(chunk, networks - start)
        k = _kernels(_draw(fans, c, gen, dev), x, slice(0, n1), slice(0 if same else n1, None), sw2, sb2,
                     activation)
        nngp[start : start + c], ntk[start : start + c] = k.nngp, k.ntk
    return EmpiricalKernels(nngp=nngp, ntk=ntk)


def train_mse(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor | None = None,
    *,
    hidden_layers: int,
    sigma_w2: float,
    sigma_b2: float,
    activation: str,
    width: int,
    lr: float,
    steps: int,
    record: Sequence[int] | None = None,
    networks: int = 1,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> MSETraining:
    """Full-batch gradient descent of ``networks`` independent networks on ``L = 1/(2 n k) ‖f(X) − Y‖²_F``.

    ``x_train (n, d)``, ``y_train (n, k)`` (the readout has ``k`` outputs), ``x_test (n_test, d)`` or ``None``
    (then the test tensors have ``n_test = 0``). ``θ ← θ − lr ∇L`` for ``steps`` steps, gradients by
    ``torch.autograd`` of the loss written out above (summed over networks, which do not interact);
    outputs recorded after each step count in ``record`` (increasing ints in ``[0, steps]``; default
    ``(0, steps)``). Also returns ``f0`` and the empirical NTK of output 0 at initialisation (as
    :func:`empirical_kernels` computes it). Float64, networks batched in chunks; parameters drawn as
    :func:`init_params` draws them (``outputs = k``) from ``seed`` on ``device`` (default CUDA if available).
    Returns an :class:`MSETraining`. Raises ``ValueError`` naming the parameter for bad shapes, ``lr ≤ 0``,
    ``steps < 0``, a bad ``record`` or any bad network argument (as :func:`empirical_kernels`).
    """
    hidden_layers, sw2, sb2, width, networks = _network_args(hidden_layers, sigma_w2, sigma_b2, activation, width,
                                                             networks)
    rate = _real("lr", lr, low=0.0, strict=True)
    steps = _int("steps", steps, 0)
    times = sorted({0, steps}) if record is None else list(record)
    if (not times or any(not isinstance(t, int) or isinstance(t, bool) for t in times)
            or any(b <= a for a, b in zip(times, times[1:])) or times[0] < 0 or times[-1] > steps):
        raise ValueError(f"record must be a non-empty increasing sequence of ints in [0, steps={steps}], "
                         f"got {record!r}")
    dev = _default_device(device)
    xtr = _matrix("x_train", x_train, dev)
    n, d = xtr.shape
    y = _matrix("y_train", y_train, dev, rows=n)
    k = y.shape[1]
    xte = torch.empty((0, d), dtype=torch.float64, device=dev) if x_test is None else _matrix(
        "x_test", x_test, dev, cols=d)
    m = xte.shape[0]
    x_all = torch.cat([xtr, xte])
    fans = _fans(d, hidden_layers, width, k)
    gen = _generator(seed, dev)
    f64 = dict(dtype=torch.float64, device=dev)
    out = MSETraining(
        steps=torch.tensor(times, dtype=torch.int64, device=dev),
        f_train=torch.empty((networks, len(times), n, k), **f64),
        f_test=torch.empty((networks, len(times), m, k), **f64),
        f0_train=torch.empty((networks, n, k), **f64),
        f0_test=torch.empty((networks, m, k), **f64),
        ntk_train_train=torch.empty((networks, n, n), **f64),
        ntk_test_train=torch.empty((networks, m, n), **f64),
    )
    chunk = _chunk(networks, fans, n + m)
    for start in range(0, networks, chunk):
        c = min(chunk, networks - start)
        rows = slice(start, start + c)
        params = _draw(fans, c, gen, dev)
        # NTK of output 0 between all rows of x_all = [train; test] and the training rows: (c, n + m, n)
        ntk = _kernels(params, x_all, slice(None), slice(0, n), sw2, sb2, activation).ntk
        out.ntk_train_train[rows], out.ntk_test_train[rows] = ntk[:, :n], ntk[:, n:]
        with torch.no_grad():
            f0 = _forward(params, x_all, sw2, sb2, activation)[0]
        out.f0_train[rows], out.f0_test[rows] = f0[:, :n], f0[:, n:]
        flat = [p.requires_grad_() for pair in params for p in pair]
        r = 0
        for step in range(steps + 1):
            if step == times[r]:
                with torch.no_grad():
                    f = _forward(params, x_all, sw2, sb2, activation)[0]
                out.f_train[rows, r], out.f_test[rows, r] = f[:, :n], f[:, n:]
                r += 1
                if r == len(times):
                    break
            f = _forward(params, xtr, sw2, sb2, activation)[0]
            loss = (f - y).square().sum() / (2 * n * k)  # summed over networks: each one's own loss
            grads = torch.autograd.grad(loss, flat)
            with torch.no_grad():
                for p, g in zip(flat, grads):
                    p.sub_(g, alpha=rate)
    return out


def digits_dataset(n_train: int, n_test: int, *, seed: int = 0, classes: int = 10) -> DigitsData:
    """A random train/test split of scikit-learn's ``load_digits`` (8×8 images, ``d = 64``; read from disk
    with scikit-learn, no download), restricted to digits ``0 … classes−1``.

    Each input row is centred (its mean over the 64 pixels subtracted) and scaled to norm ``√d``, so
    ``K⁰_aa = x_a·x_a/d = 1``; targets are one-hot minus ``1/classes`` (each row sums to zero), ``k = classes``
    columns. The ``n_train + n_test`` rows are disjoint, chosen by ``torch.randperm`` with
    ``torch.Generator().manual_seed(seed)``. Float64 on the CPU. Returns a :class:`DigitsData`; raises
    ``ImportError`` without scikit-learn (``pip install 'learndyn[digits]'``) and ``ValueError`` naming the
    parameter for ``classes`` outside ``2 … 10``, ``n_train < 1``, ``n_test < 0`` or more rows than exist.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("digits_dataset needs scikit-learn: pip install 'learndyn[digits]'") from err
    classes = _int("classes", classes, 2)
    if classes > 10:
        raise ValueError(f"classes must be an int in [2, 10], got {classes!r}")
    n_train, n_test = _int("n_train", n_train), _int("n_test", n_test, 0)
    images, labels = load_digits(n_class=classes, return_X_y=True)
    total = images.shape[0]
    if n_train + n_test > total:
        raise ValueError(f"n_train + n_test must be <= {total} (digits 0 … {classes - 1}), "
                         f"got n_train={n_train}, n_test={n_test}")
    x = torch.as_tensor(images, dtype=torch.float64)
    x = x - x.mean(1, keepdim=True)
    x = x * (math.sqrt(x.shape[1]) / x.norm(dim=1, keepdim=True))
    lab = torch.as_tensor(labels, dtype=torch.int64)
    y = torch.nn.functional.one_hot(lab, classes).to(torch.float64) - 1.0 / classes
    order = torch.randperm(total, generator=_generator(seed, torch.device("cpu")))
    tr, te = order[:n_train], order[n_train : n_train + n_test]
    return DigitsData(x_train=x[tr], y_train=y[tr], x_test=x[te], y_test=y[te], labels_train=lab[tr],
                      labels_test=lab[te])
