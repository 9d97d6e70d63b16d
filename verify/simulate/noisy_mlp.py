"""Deep noisy rectifier classifiers trained by minibatch gradient descent, many networks batched, with the
activations of every layer on a probe set recorded at checkpoints (family 7's experiment, seed 001's plan).

Network (THEORY.md, family 3; ``N`` = ``width``, ``L`` = ``depth`` hidden layers, ``k`` classes)::

    h¹ = W¹ x + b¹,   h^l = W^l (ε^{l−1} ⊙ φ(h^{l−1}) + ξ^{l−1}) + b^l   (l = 2 … L),
    logits = W^{L+1} (ε^L ⊙ φ(h^L) + ξ^L) + b^{L+1},
    W^l_ij ~ N(0, σ_w²/fan_in),  b^l_i ~ N(0, σ_b²),  φ(h) = max(0, h + α) − α = max(h, −α)

(ReLU at ``α = 0``; the readout is drawn like the hidden layers). The noise acts only while training: ``ε`` is
multiplicative — Gaussian ``N(1, σ_ε²)`` (``μ2 = 1 + σ_ε²``) or inverted dropout with keep probability ``p``
(``μ2 = 1/p``) — or ``ξ ~ N(0, eps)`` is added; each independent per network's seed, example, unit, layer and
step. The recorded activations ``φ(h^l)`` (``l = 1 … L``) come from the noise-free forward pass (``ε = E ε = 1``,
``ξ = 0``), the network one evaluates after training.

Training: the cross-entropy of the logits, averaged over a minibatch of ``batch_size`` training rows drawn
without replacement at every step (the whole set when ``batch_size ≥ n``), plain gradient descent on every
weight and bias at the rate ``lr_t = lr (1 − t/steps)`` (linear decay to 0). The learning rate is the same for
every network, whatever its start, as in the trainability experiments of Schoenholz et al. (2017) and Pretorius
et al. (2018): a start that makes the gradients explode or vanish trains too fast (and diverges) or too slowly.

**Common random numbers.** Networks that share a ``seed`` draw their weights from the same standard normal
matrices (``W^l = σ_w/√fan_in · V^l``, ``b^l = σ_b u^l``), see the same minibatches and the same noise ``ε, ξ``
at every step; they differ only in their ``σ_w``, ``σ_b`` and ``α``. So comparisons between starts (or
activations) within a seed measure the start, not the draw. A seed's draws do not depend on the other networks in
the batch.

**Divergence.** A network whose minibatch loss or gradient is not finite stops there: its parameters are no
longer updated, :attr:`NoisyMLPRun.diverged_at` holds the step, and its activations at later checkpoints are NaN.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import torch
from torch import Tensor

from .scalar import _default_device

__all__ = ["NOISES", "NoisyMLPRun", "noise_mu2", "train_noisy_mlps"]

#: the kinds of training noise: multiplicative Gaussian ``N(1, σ_ε²)``, inverted dropout, additive Gaussian, none
NOISES = ("gaussian", "dropout", "additive", "none")


class NoisyMLPRun(NamedTuple):
    """Result of :func:`train_noisy_mlps` (``B`` networks, ``T`` checkpoints, ``L`` layers, ``n`` probe rows).

    ``checkpoints`` (T,) int64: the steps recorded (0 is the initialisation). ``activations`` (B, T, L, n, N)
    float32: ``φ(h^l)`` of the noise-free forward pass on the probe rows (NaN after a divergence).
    ``probe_accuracy`` (B, T) and ``train_loss`` (B, T) float64: accuracy on the probe rows and cross-entropy on
    the whole training set, noise-free. ``diverged_at`` (B,) int64: the step of a divergence, −1 if none.
    ``init_variance`` (B, L+1) float64: ``Q^l = mean h^l²`` over probe rows and units in one *noisy* forward pass
    at initialisation (index ``L`` is the logits' pre-activation, ``l = L + 1``), the quantity the variance map
    propagates; ``input_second_moment`` float: ``mean |x|²/d`` of the probe rows (``Q¹`` in expectation is
    ``σ_w² · input_second_moment + σ_b²``). ``select_accuracy`` and ``select_loss`` (B, T) float64: accuracy and
    cross-entropy on the selection rows, noise-free (NaN without selection rows, or after a divergence)."""

    checkpoints: Tensor
    activations: Tensor
    probe_accuracy: Tensor
    train_loss: Tensor
    diverged_at: Tensor
    init_variance: Tensor
    input_second_moment: float
    select_accuracy: Tensor
    select_loss: Tensor


def noise_mu2(noise: str, strength: float) -> float:
    """``μ2 = E ε²`` of the multiplicative noise: ``1 + strength`` (Gaussian, ``strength = σ_ε²``), ``1/strength``
    (dropout, ``strength = p`` the keep probability), 1 for additive noise and none. ``ValueError`` naming
    ``noise`` or ``noise_strength`` when they are out of range."""
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {', '.join(NOISES)}, got {noise!r}")
    s = float(strength)
    if not math.isfinite(s):
        raise ValueError(f"noise_strength must be finite, got {strength!r}")
    if noise == "gaussian":
        if s < 0:
            raise ValueError(f"noise_strength (the variance σ_ε² of the Gaussian noise) must be >= 0, got {s!r}")
        return 1.0 + s
    if noise == "dropout":
        if not 0.0 < s <= 1.0:
            raise ValueError(f"noise_strength (the dropout keep probability p) must be in (0, 1], got {s!r}")
        return 1.0 / s
    if noise == "additive" and s < 0:
        raise ValueError(f"noise_strength (the variance of the additive noise) must be >= 0, got {s!r}")
    return 1.0


def _per_network(name: str, value, count: int, dev: torch.device, *, low: float, strict: bool) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.float32, device=dev).reshape(-1)
    if t.numel() == 1:
        t = t.expand(count)
    if t.numel() != count:
        raise ValueError(f"{name} must have one value per network ({count}), got {t.numel()}")
    if not bool(torch.isfinite(t).all()) or bool((t <= low).any() if strict else (t < low).any()):
        raise ValueError(f"every {name} must be finite and {'>' if strict else '>='} {low}, got {t.tolist()}")
    return t.contiguous()


def _int(name: str, value, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


class _Noise:
    """Draws the training noise of one step for every seed group, expanded to the networks of the group."""

    def __init__(self, noise: str, strength: float, gens: list[torch.Generator], group: Tensor):
        self.noise, self.strength, self.gens, self.group = noise, float(strength), gens, group
        # no draws where the noise is the identity (the noise-free network, draw for draw)
        self.off = noise == "none" or strength == (1.0 if noise == "dropout" else 0.0)

    def apply(self, a: Tensor) -> Tensor:
        """``a`` (B, m, N) with the noise of its layer: ``ε ⊙ a`` or ``a + ξ`` (fresh draws per seed group)."""
        if self.off:
            return a
        shape = a.shape[1:]
        opts = dict(device=a.device, dtype=a.dtype)
        if self.noise == "dropout":
            draw = torch.stack([torch.rand(shape, generator=g, **opts) for g in self.gens])[self.group]
            return torch.where(draw < self.strength, a / self.strength, torch.zeros_like(a))
        draw = torch.stack([torch.randn(shape, generator=g, **opts) for g in self.gens])[self.group]
        if self.noise == "gaussian":
            return a * (1.0 + math.sqrt(self.strength) * draw)
        return a + math.sqrt(self.strength) * draw


def _forward(x: Tensor, weights: list[Tensor], biases: list[Tensor], alpha: Tensor, noise: _Noise | None,
             keep: str | None = None) -> tuple[Tensor, list[Tensor]]:
    """Logits (B, m, k) of inputs ``x`` (B, m, d) and, by ``keep``, nothing (``None``), the activations ``φ(h^l)``
    of l = 1 … L (``"post"``) or the pre-activations ``h^l`` of l = 1 … L + 1 (``"pre"``, the logits last)."""
    a, kept = x, []
    depth = len(weights) - 1
    for layer in range(depth):
        h = torch.baddbmm(biases[layer], a, weights[layer].mT)
        a = torch.maximum(h, -alpha)
        if keep == "pre":
            kept.append(h)
        elif keep == "post":
            kept.append(a)
        if noise is not None:
            a = noise.apply(a)
    logits = torch.baddbmm(biases[depth], a, weights[depth].mT)
    if keep == "pre":
        kept.append(logits)
    return logits, kept


def _loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy per network: ``logits`` (B, m, k), ``labels`` (B, m) → (B,)."""
    b, m, k = logits.shape
    return torch.nn.functional.cross_entropy(logits.reshape(b * m, k), labels.reshape(b * m),
                                             reduction="none").reshape(b, m).mean(1)


def train_noisy_mlps(
    x_train: Tensor,
    labels_train: Tensor,
    x_probe: Tensor,
    labels_probe: Tensor,
    *,
    depth: int,
    width: int,
    sigma_w: Sequence[float] | Tensor,
    sigma_b: Sequence[float] | Tensor,
    alpha: Sequence[float] | Tensor,
    seeds: Sequence[int],
    noise: str = "gaussian",
    noise_strength: float = 0.1,
    lr: float = 0.1,
    steps: int = 1000,
    batch_size: int = 128,
    checkpoints: Sequence[int] = (0,),
    classes: int = 10,
    x_select: Tensor | None = None,
    labels_select: Tensor | None = None,
    device: str | torch.device | None = None,
    progress: Callable[[str], None] | None = None,
) -> NoisyMLPRun:
    """Train ``B = len(seeds)`` networks (module docstring) at once and record their probe activations.

    ``x_train`` (n, d), ``labels_train`` (n,) int, ``x_probe`` (n_probe, d), ``labels_probe`` (n_probe,):
    training and probe rows. Per network (length ``B``, or one value for all): ``sigma_w > 0``, ``sigma_b ≥ 0``,
    ``alpha ≥ 0`` (0 is ReLU) and its ``seeds`` entry (networks with equal seeds share their draws). ``noise`` one
    of :data:`NOISES` with ``noise_strength`` (:func:`noise_mu2`). ``checkpoints``: the steps at which the
    activations are recorded (0 … ``steps``; sorted, duplicates dropped). Float32 on ``device`` (default CUDA if
    available); deterministic for given arguments and device. ``x_select`` (m, d), ``labels_select`` (m,): optional
    held-out rows on which accuracy and loss are also recorded (to choose networks without the probe rows). ``progress(label)`` is called at each checkpoint.
    Raises ``ValueError`` naming the parameter that is out of range."""
    depth, width = _int("depth", depth, 1), _int("width", width, 1)
    steps, batch_size, classes = _int("steps", steps, 1), _int("batch_size", batch_size, 1), _int("classes", classes, 2)
    noise_mu2(noise, noise_strength)  # checks noise and its strength
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    marks = sorted({int(c) for c in checkpoints})
    if not marks or marks[0] < 0 or marks[-1] > steps:
        raise ValueError(f"checkpoints must lie in 0 … steps ({steps}), got {list(checkpoints)}")
    dev = _default_device(device)
    f32 = dict(dtype=torch.float32, device=dev)
    xtr, xpr = torch.as_tensor(x_train).to(**f32), torch.as_tensor(x_probe).to(**f32)
    ytr = torch.as_tensor(labels_train).to(device=dev, dtype=torch.int64)
    ypr = torch.as_tensor(labels_probe).to(device=dev, dtype=torch.int64)
    if xtr.ndim != 2 or xpr.ndim != 2 or xtr.shape[1] != xpr.shape[1] or ytr.shape != xtr.shape[:1] or \
            ypr.shape != xpr.shape[:1]:
        raise ValueError(f"x_train (n, d), labels_train (n,), x_probe (n_probe, d), labels_probe (n_probe,) needed, "
                         f"got {tuple(xtr.shape)}, {tuple(ytr.shape)}, {tuple(xpr.shape)}, {tuple(ypr.shape)}")
    if (x_select is None) != (labels_select is None):
        raise ValueError("x_select and labels_select must be given together (or neither)")
    xse = None if x_select is None else torch.as_tensor(x_select).to(**f32)
    yse = None if labels_select is None else torch.as_tensor(labels_select).to(device=dev, dtype=torch.int64)
    if xse is not None and (xse.ndim != 2 or xse.shape[1] != xtr.shape[1] or yse.shape != xse.shape[:1]):
        raise ValueError(f"x_select (m, {xtr.shape[1]}) and labels_select (m,) needed, got {tuple(xse.shape)}, "
                         f"{tuple(yse.shape)}")
    seeds = [int(s) for s in seeds]
    count = len(seeds)
    if count < 1:
        raise ValueError("seeds must name at least one network")
    sw = _per_network("sigma_w", sigma_w, count, dev, low=0.0, strict=True)
    sb = _per_network("sigma_b", sigma_b, count, dev, low=0.0, strict=False)
    al = _per_network("alpha", alpha, count, dev, low=0.0, strict=False)
    distinct = sorted(set(seeds))
    group = torch.tensor([distinct.index(s) for s in seeds], device=dev)
    n, d = xtr.shape

    # parameters: per seed group standard normal draws, scaled per network
    weights, biases = [], []
    fans = [d] + [width] * depth
    outs = [width] * depth + [classes]
    draws = [torch.Generator(device="cpu").manual_seed(s) for s in distinct]
    for fan, out in zip(fans, outs):
        v = torch.stack([torch.randn((out, fan), generator=g, dtype=torch.float32) for g in draws]).to(dev)[group]
        u = torch.stack([torch.randn((1, out), generator=g, dtype=torch.float32) for g in draws]).to(dev)[group]
        weights.append((v * (sw / math.sqrt(fan))[:, None, None]).requires_grad_())
        biases.append((u * sb[:, None, None]).requires_grad_())
    params = weights + biases
    alpha_view = al[:, None, None]
    step_gens = [torch.Generator(device=dev).manual_seed(s * 7919 + 104729) for s in distinct]
    noise_draw = _Noise(noise, noise_strength, step_gens, group)

    # Q^l of one noisy forward pass at initialisation (the variance map's check)
    init_gens = [torch.Generator(device=dev).manual_seed(s * 7919 + 15485863) for s in distinct]
    with torch.no_grad():
        _, pre = _forward(xpr.expand(count, *xpr.shape), weights, biases, alpha_view,
                          _Noise(noise, noise_strength, init_gens, group), keep="pre")
        init_variance = torch.stack([h.double().square().mean((1, 2)) for h in pre], dim=1)
    input_second_moment = float(xpr.double().square().mean())

    acts = torch.full((count, len(marks), depth, xpr.shape[0], width), math.nan, **f32)
    accuracy = torch.full((count, len(marks)), math.nan, dtype=torch.float64)
    train_loss = torch.full((count, len(marks)), math.nan, dtype=torch.float64)
    select_accuracy = torch.full((count, len(marks)), math.nan, dtype=torch.float64)
    select_loss = torch.full((count, len(marks)), math.nan, dtype=torch.float64)
    diverged = torch.full((count,), -1, dtype=torch.int64)
    alive = torch.ones(count, dtype=torch.bool, device=dev)

    def record(index: int) -> None:
        with torch.no_grad():
            logits, layers = _forward(xpr.expand(count, *xpr.shape), weights, biases, alpha_view, None, keep="post")
            ok = alive.cpu()
            stacked = torch.stack(layers, dim=1)
            acts[:, index] = torch.where(alive[:, None, None, None], stacked, torch.full_like(stacked, math.nan))
            acc = (logits.argmax(-1) == ypr).double().mean(1).cpu()
            accuracy[:, index] = torch.where(ok, acc, torch.full_like(acc, math.nan))
            full, _ = _forward(xtr.expand(count, *xtr.shape), weights, biases, alpha_view, None)
            loss = _loss(full, ytr.expand(count, n)).double().cpu()
            train_loss[:, index] = torch.where(ok, loss, torch.full_like(loss, math.nan))
            if xse is not None:
                out, _ = _forward(xse.expand(count, *xse.shape), weights, biases, alpha_view, None)
                acc = (out.argmax(-1) == yse).double().mean(1).cpu()
                loss = _loss(out, yse.expand(count, xse.shape[0])).double().cpu()
                select_accuracy[:, index] = torch.where(ok, acc, torch.full_like(acc, math.nan))
                select_loss[:, index] = torch.where(ok, loss, torch.full_like(loss, math.nan))
        if progress is not None:
            progress(f"step {marks[index]}/{steps}")

    full_batch = batch_size >= n
    sample_gens = [torch.Generator(device=dev).manual_seed(s * 7919 + 32452843) for s in distinct]
    next_mark = 0
    for step in range(steps + 1):
        if next_mark < len(marks) and step == marks[next_mark]:
            record(next_mark)
            next_mark += 1
        if step == steps:
            break
        if full_batch:
            xb, yb = xtr.expand(count, n, d), ytr.expand(count, n)
        else:
            rows = torch.stack([torch.randperm(n, generator=g, device=dev)[:batch_size] for g in sample_gens])[group]
            xb, yb = xtr[rows], ytr[rows]
        logits, _ = _forward(xb, weights, biases, alpha_view, noise_draw)
        loss = _loss(logits, yb)
        grads = torch.autograd.grad(loss.sum(), params)
        with torch.no_grad():
            finite = torch.isfinite(loss)
            for g in grads:
                finite &= torch.isfinite(g).flatten(1).all(1)
            newly = alive & ~finite
            if bool(newly.any()):
                diverged[newly.cpu()] = step
                alive &= finite
            rate = lr * (1.0 - step / steps)
            mask = alive[:, None, None]
            for p, g in zip(params, grads):
                p.sub_(torch.where(mask, g, torch.zeros_like(g)), alpha=rate)
    return NoisyMLPRun(checkpoints=torch.tensor(marks, dtype=torch.int64), activations=acts.cpu(),
                       probe_accuracy=accuracy, train_loss=train_loss, diverged_at=diverged,
                       init_variance=init_variance.cpu(), input_second_moment=input_second_moment,
                       select_accuracy=select_accuracy, select_loss=select_loss)
