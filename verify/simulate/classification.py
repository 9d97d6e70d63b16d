"""Gradient descent on ReLU classifiers over orthogonal features (family 5, seed 002; THEORY.md "Family 5").

**Data.** Orthonormal feature directions ``e_k`` (here the coordinate axes of ``R^d``: the network below is
equivariant under rotations of its input, ``W1 → W1 Qᵀ``, so axis-aligned features lose nothing and keep the
inactive units' pre-activations exactly 0). Feature ``k`` has class ``c_k = ±1``, norm ``r_k`` and frequency ``p_k``;
an example is ``x = Σ_{k∈S} r_k e_k`` with all ``k ∈ S`` of one class ``y``. A data set is stored as its distinct
examples, each row standing for the fraction ``weight`` of the ``n`` examples it is repeated in: the mean loss over
the ``n`` examples is then exactly ``Σ_i weight_i ℓ(y_i f(x_i))`` (the remaining fraction ``1 − Σ weight`` are
examples of further features, orthogonal to these and served by their own units, which add nothing to these
weights' gradients; ``x = 0`` rows would be the same). All tensors carry a leading batch axis ``B`` of
configurations (their own norms, frequencies and starts), trained in one tensor program.

**Network** of depth ``L`` (``len(weights)``), fully connected, no biases::

    h_0 = x,   z_l = W_l h_{l−1},   h_l = ReLU(z_l)   (l = 1 … L−1),   f(x) = v · h_{L−1}

(``L = 1``: ``f(x) = v·x``, a linear classifier). ``W_1`` is ``(H, d)``, ``W_l`` ``(H, H)``, ``v`` ``(H,)``.

**Loss**, written out, with margins ``m_i = y_i f(x_i)``::

    logistic:  ℓ(m) = ln(1 + e^{−m}),   g(m) = −ℓ′(m) = σ(−m)
    hinge:     ℓ(m) = max(0, 1 − m),    g(m) = 1[m < 1]      (the subgradient 0 at m = 1)
    L = Σ_i weight_i ℓ(m_i)

**Gradients**, derived by hand (``δ_i = ∂L/∂f(x_i) = −weight_i y_i g(m_i)``; ``ReLU′(0) = 0`` as in torch)::

    ∂L/∂v = Σ_i δ_i h_{L−1,i}
    ∂h_{L−1,i} = δ_i v,   ∂z_{l,i} = ∂h_{l,i} ⊙ 1[z_{l,i} > 0],   ∂h_{l−1,i} = W_lᵀ ∂z_{l,i}
    ∂L/∂W_l = Σ_i ∂z_{l,i} h_{l−1,i}ᵀ

Full-batch GD updates every layer from the same old weights, ``θ ← θ − lr ∂L/∂θ``. Time is the flow time
``t = lr × steps`` (the gradient flow ``dθ/dt = −∇L`` that the theory describes; GD is its Euler method, so a
trajectory at fixed ``t`` is off by ``O(lr)``, removed by Richardson extrapolation from runs at ``lr`` and ``lr/2``).

**Decoupled start** (:func:`decoupled_start`): unit ``k`` of every hidden layer serves feature ``k``,
``W_1 = Σ_k a_k e_k e_kᵀ``, ``W_l = diag(a_k)``, ``v_k = c_k a_k`` (balanced, ``a_k = (m0_k/r_k)^{1/L}``), so the mode's
margin is ``m_k = c_k f(r_k e_k) = r_k a_k^L``. With single-feature examples every off-path pre-activation is
exactly 0, so the fully connected network stays decoupled under GD bit for bit, and each mode obeys
``dm/dt = L p r^{2/L} m^{2−2/L} g(m)``. For ``L = 2`` the flow conserves ``Δ = a² − v²`` per unit; one GD step
multiplies it by ``1 − (lr p g r)²``, so from a balanced start (``Δ = 0``) it stays exactly 0, and from an
imbalanced one it drifts by ``O(lr)`` over a fixed flow time. :func:`two_layer_start` sets any ``(a0, v0)`` (the
failure region: a unit whose ``a`` reaches 0 goes inactive on its feature and never learns again).

Data sets: :func:`orthogonal_features` (single-feature examples), :func:`starvation_data` (a frequent feature in
every example of its class, a rare one in a fraction ``q`` of them; ``control=True``: the rare feature alone in
those examples), :func:`cooccurring_features` (two features of one class that share a fraction ``overlap`` of their
examples). :func:`path_masks` restrict the network to one path per feature (the decoupled model the theory assumes
when features co-occur); without them the layers are fully connected and co-occurring features couple the modes.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from .scalar import _default_device, _record_times

__all__ = [
    "FeatureData", "ClassificationRun", "LOSSES", "orthogonal_features", "starvation_data", "cooccurring_features",
    "decoupled_start", "two_layer_start", "path_masks", "classifier_output", "classifier_loss",
    "classifier_gradients", "train_classifier", "first_crossing",
]

F64 = torch.float64
LOSSES = ("logistic", "hinge")


class FeatureData(NamedTuple):
    """A batch of data sets of orthogonal features (see the module docstring).

    ``X`` ``(B, P, d)``: the distinct examples; ``y`` ``(B, P)``: their labels ``±1``; ``weight`` ``(B, P)``: the
    fraction of the ``n`` examples each stands for; ``probes`` ``(B, K, d)``: each feature alone, ``r_k e_k``;
    ``probe_classes`` ``(B, K)``: ``c_k``. The margin of feature ``k`` is ``m_k = c_k f(r_k e_k)``.
    """

    X: Tensor
    y: Tensor
    weight: Tensor
    probes: Tensor
    probe_classes: Tensor


class ClassificationRun(NamedTuple):
    """What :func:`train_classifier` recorded (every tensor on the simulation device).

    ``steps`` ``(R,)`` int64: the steps recorded; ``t`` ``(R, B)``: flow times ``lr × steps``; ``margins``
    ``(R, B, P)``: every example's margin ``y_i f(x_i)``; ``feature_margins`` ``(R, B, K)``: ``c_k f(r_k e_k)``;
    ``loss`` ``(R, B)``: the mean loss; ``weights_final``: the weights after the last step (layer 1 first, ``v``
    last).
    """

    steps: Tensor
    t: Tensor
    margins: Tensor
    feature_margins: Tensor
    loss: Tensor
    weights_final: tuple[Tensor, ...]


# -- data ---------------------------------------------------------------------------------------------------

def _column(v, dev) -> Tensor:
    out = torch.as_tensor(v, dtype=F64, device=dev)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"inputs must be finite, got {out}")
    return out


def _batch2(name: str, v: Tensor) -> Tensor:
    if v.ndim == 0:
        v = v.reshape(1, 1)
    elif v.ndim == 1:
        v = v.reshape(-1, 1)
    if v.ndim != 2:
        raise ValueError(f"{name} must be a scalar, (B,) or (B, K), got shape {tuple(v.shape)}")
    return v


def orthogonal_features(r, p, classes, *, device: str | torch.device | None = None) -> FeatureData:
    """Single-feature examples: feature ``k`` (norm ``r_k``, frequency ``p_k``, class ``c_k``) is the example
    ``r_k e_k`` with label ``c_k``, standing for a fraction ``p_k`` of the data (``p_k = 0``: the feature is absent,
    its unit never moves). ``r``, ``p``, ``classes``
    broadcast to ``(B, K)``; ``d = K``; the examples are the features (``probes`` = ``X``)."""
    dev = _default_device(device)
    r, p, c = (_batch2(n, _column(v, dev)) for n, v in (("r", r), ("p", p), ("classes", classes)))
    r, p, c = torch.broadcast_tensors(r, p, c)
    if bool((r <= 0).any()) or bool((p < 0).any()) or bool((c.abs() != 1).any()):
        raise ValueError("need r > 0, p >= 0 and classes in {-1, +1}")
    if bool((p.sum(-1) > 1 + 1e-12).any()):
        raise ValueError(f"the frequencies of single-feature examples sum to more than 1: {p.sum(-1)}")
    B, K = r.shape
    eye = torch.eye(K, dtype=F64, device=dev)
    X = r.unsqueeze(-1) * eye  # (B, K, K): row k = r_k e_k
    return FeatureData(X=X, y=c.clone(), weight=p.clone(), probes=X, probe_classes=c.clone())


def starvation_data(r1, r2, q, class_fraction, *, control: bool = False,
                    device: str | torch.device | None = None) -> FeatureData:
    """The frequent/rare-feature data set (THEORY.md, ``starved_margin``), batched over ``(B,)`` parameters.

    A fraction ``P = class_fraction`` of the examples is of class ``+1``: of those, ``1 − q`` are ``r1 e1`` and ``q``
    are ``r1 e1 + r2 e2`` (feature 1 in every example of its class, feature 2 in a fraction ``q``; both fully
    predictive). The other ``1 − P`` are ``r1 e3`` of class ``−1``. ``control=True``: the rare feature appears
    alone, ``r2 e2``, in its ``q P`` examples. Features (probes): ``r1 e1``, ``r2 e2`` (class ``+1``), ``r1 e3``."""
    dev = _default_device(device)
    r1, r2, q, P = torch.broadcast_tensors(*(_column(v, dev).reshape(-1) for v in (r1, r2, q, class_fraction)))
    if bool((q <= 0).any() | (q > 1).any() | (P <= 0).any() | (P >= 1).any() | (r1 <= 0).any() | (r2 <= 0).any()):
        raise ValueError("need r1, r2 > 0, 0 < q <= 1 and 0 < class_fraction < 1")
    B = r1.numel()
    zero = torch.zeros_like(r1)
    both = torch.stack([r1 * (0.0 if control else 1.0) + zero, r2, zero], -1)
    X = torch.stack([torch.stack([r1, zero, zero], -1), both, torch.stack([zero, zero, r1], -1)], 1)  # (B, 3, 3)
    y = torch.tensor([1.0, 1.0, -1.0], dtype=F64, device=dev).expand(B, 3).clone()
    weight = torch.stack([P * (1 - q), P * q, 1 - P], -1)
    probes = torch.stack([torch.stack([r1, zero, zero], -1), torch.stack([zero, r2, zero], -1),
                          torch.stack([zero, zero, r1], -1)], 1)
    return FeatureData(X=X, y=y, weight=weight, probes=probes, probe_classes=y.clone())


def cooccurring_features(r, p, overlap, *, device: str | torch.device | None = None) -> FeatureData:
    """Two class-``+1`` features of norm ``r`` and frequency ``p`` each, sharing a fraction ``overlap`` of their
    examples: ``p(1 − overlap)`` of the data are ``r e1``, as many ``r e2``, ``p·overlap`` are ``r e1 + r e2``; a
    class-``−1`` feature ``r e3`` has frequency ``p``. ``(B,)`` parameters; needs ``p (2 − overlap) + p ≤ 1``.
    Features (probes): ``r e1``, ``r e2``, ``r e3``; ``overlap = 0`` is :func:`orthogonal_features`."""
    dev = _default_device(device)
    r, p, o = torch.broadcast_tensors(*(_column(v, dev).reshape(-1) for v in (r, p, overlap)))
    if bool((o < 0).any() | (o > 1).any() | (p <= 0).any() | ((3 - o) * p > 1 + 1e-12).any()):
        raise ValueError("need 0 <= overlap <= 1 and (3 - overlap) p <= 1")
    B = r.numel()
    z = torch.zeros_like(r)
    rows = [(r, z, z), (z, r, z), (r, r, z), (z, z, r)]
    X = torch.stack([torch.stack(row, -1) for row in rows], 1)  # (B, 4, 3)
    y = torch.tensor([1.0, 1.0, 1.0, -1.0], dtype=F64, device=dev).expand(B, 4).clone()
    weight = torch.stack([p * (1 - o), p * (1 - o), p * o, p], -1)
    probes = torch.stack([torch.stack(row, -1) for row in ((r, z, z), (z, r, z), (z, z, r))], 1)
    classes = torch.tensor([1.0, 1.0, -1.0], dtype=F64, device=dev).expand(B, 3).clone()
    return FeatureData(X=X, y=y, weight=weight, probes=probes, probe_classes=classes)


# -- starts ---------------------------------------------------------------------------------------------------

def decoupled_start(m0, r, classes, depth: int, *, imbalance=0.0, inputs: int | None = None,
                    device: str | torch.device | None = None) -> tuple[Tensor, ...]:
    """The decoupled start of a depth-``depth`` network whose unit ``k`` serves feature ``k`` (along ``e_k``).

    ``m0``, ``r``, ``classes`` broadcast to ``(B, K)``: mode ``k`` starts at margin ``m0_k = c_k f(r_k e_k) > 0``.
    Balanced (``imbalance = 0``): per-layer strength ``a = (m0/r)^{1/L}``, ``W_1 = Σ a_k e_k e_kᵀ``, ``W_l = diag(a)``,
    ``v = c ⊙ a``. ``depth = 2`` with ``imbalance = Δ ≠ 0``: ``a² − v² = Δ`` and ``a |v| = m0/r`` (positive ``a``).
    ``depth = 1``: ``v = c m0/r`` (a linear classifier). ``inputs``: the input dimension (default ``K``; features
    beyond ``K`` get zero weights). Returns ``(W_1, …, W_{L−1}, v)``, each with a leading ``B``."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    dev = _default_device(device)
    m0, r, c, imb = (_batch2(n, _column(v, dev)) for n, v in (("m0", m0), ("r", r), ("classes", classes),
                                                              ("imbalance", imbalance)))
    m0, r, c, imb = torch.broadcast_tensors(m0, r, c, imb)
    if bool((m0 <= 0).any()) or bool((r <= 0).any()):
        raise ValueError("the decoupled start needs m0 > 0 and r > 0 (use two_layer_start for a wrong sign)")
    B, K = m0.shape
    d = K if inputs is None else inputs
    u = m0 / r  # the product of the per-layer strengths along the path
    if depth == 1:
        v = torch.zeros(B, d, dtype=F64, device=dev)
        v[:, :K] = c * u
        return (v,)
    if bool((imb != 0).any()):
        if depth != 2:
            raise ValueError("an imbalanced start is defined for depth 2 only")
        big = torch.sqrt((imb.abs() + torch.sqrt(imb * imb + 4 * u * u)) / 2)
        small = u / big
        a = torch.where(imb > 0, big, torch.where(imb < 0, small, torch.sqrt(u)))
        vabs = torch.where(imb > 0, small, torch.where(imb < 0, big, torch.sqrt(u)))
    else:
        a = u ** (1.0 / depth)
        vabs = a
    W1 = torch.zeros(B, K, d, dtype=F64, device=dev)
    W1[:, :, :K] = torch.diag_embed(a)
    hidden = [torch.diag_embed(a) for _ in range(depth - 2)]
    return (W1, *hidden, c * vabs)


def two_layer_start(a0, v0, *, inputs: int | None = None, device: str | torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Any two-layer start along the features: unit ``k`` has ``w_k = a0_k e_k`` and output weight ``v0_k``
    (``(B, K)``), so ``m_k = c_k r_k a0_k v0_k``; ``a0 ≤ 0`` is a unit inactive on its feature."""
    dev = _default_device(device)
    a0, v0 = torch.broadcast_tensors(_batch2("a0", _column(a0, dev)), _batch2("v0", _column(v0, dev)))
    B, K = a0.shape
    d = K if inputs is None else inputs
    W1 = torch.zeros(B, K, d, dtype=F64, device=dev)
    W1[:, :, :K] = torch.diag_embed(a0)
    return W1, v0.clone()


def path_masks(depth: int, units: int, inputs: int, *, device: str | torch.device | None = None) -> tuple[Tensor, ...]:
    """The masks of a network with one path per feature: ``W_1`` ``(units, inputs)`` keeps only unit ``k`` ← ``e_k``,
    every deeper ``W_l`` only unit ``k`` ← unit ``k`` (``depth − 1`` masks; none at depth 1)."""
    dev = _default_device(device)
    return tuple(torch.eye(units, inputs if layer == 0 else units, dtype=F64, device=dev) for layer in range(depth - 1))


# -- network, loss, gradients ---------------------------------------------------------------------------------

def _forward(weights: Sequence[Tensor], X: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """``f (B, P)``, the hidden activations ``[h_0 = X, h_1, …, h_{L−1}]`` and pre-activations ``[z_1, …]``."""
    hs, zs = [X], []
    h = X
    for W in weights[:-1]:
        z = h @ W.mT  # (B, P, H)
        h = torch.relu(z)
        zs.append(z)
        hs.append(h)
    f = (h @ weights[-1].unsqueeze(-1)).squeeze(-1)
    return f, hs, zs


def classifier_output(weights: Sequence[Tensor], X: Tensor) -> Tensor:
    """``f(x)`` of the network ``weights`` (``(W_1, …, v)``) on inputs ``X (B, P, d)``: ``(B, P)``."""
    return _forward(weights, X)[0]


def _loss_flags(loss, B: int, dev) -> Tensor:
    """``(B,)`` booleans, True where the configuration's loss is the hinge."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        return torch.full((B,), loss == "hinge", dtype=torch.bool, device=dev)
    if isinstance(loss, (list, tuple)):
        bad = [v for v in loss if v not in LOSSES]
        if bad:
            raise ValueError(f"loss must be one of {LOSSES}, got {bad[0]!r}")
        flags = torch.tensor([v == "hinge" for v in loss], dtype=torch.bool, device=dev)
    else:
        flags = torch.as_tensor(loss, dtype=torch.bool, device=dev).reshape(-1)
    return flags.expand(B) if flags.numel() == 1 else flags


def _ell(m: Tensor, hinge: Tensor) -> Tensor:
    """``ℓ(m)``: ``ln(1 + e^{−m})`` (softplus, no overflow) or ``max(0, 1 − m)``."""
    return torch.where(hinge.unsqueeze(-1), torch.clamp(1 - m, min=0.0), torch.nn.functional.softplus(-m))


def _g(m: Tensor, hinge: Tensor) -> Tensor:
    """``g(m) = −ℓ′(m)``: ``σ(−m)`` or ``1[m < 1]``."""
    return torch.where(hinge.unsqueeze(-1), (m < 1).to(m.dtype), torch.sigmoid(-m))


def classifier_loss(weights: Sequence[Tensor], data: FeatureData, loss="logistic") -> Tensor:
    """The mean loss ``Σ_i weight_i ℓ(y_i f(x_i))`` per configuration, ``(B,)`` (differentiable by autograd)."""
    f = classifier_output(weights, data.X)
    hinge = _loss_flags(loss, f.shape[0], f.device)
    return (data.weight * _ell(data.y * f, hinge)).sum(-1)


def classifier_gradients(weights: Sequence[Tensor], data: FeatureData, loss="logistic",
                         masks: Sequence[Tensor | None] | None = None) -> tuple[tuple[Tensor, ...], Tensor]:
    """The hand-derived gradients ``∂L/∂θ`` of :func:`classifier_loss` (module docstring), one per weight tensor, and
    the example margins ``(B, P)``; ``masks`` multiply ``∂L/∂W_1 … ∂L/∂W_{L−1}`` (one path per feature)."""
    f, hs, zs = _forward(weights, data.X)
    hinge = _loss_flags(loss, f.shape[0], f.device)
    m = data.y * f
    delta = -data.weight * data.y * _g(m, hinge)  # ∂L/∂f, (B, P)
    v = weights[-1]
    grads: list[Tensor] = [(delta.unsqueeze(1) @ hs[-1]).squeeze(1)]  # ∂L/∂v
    dh = delta.unsqueeze(-1) * v.unsqueeze(1)  # (B, P, H)
    for layer in range(len(weights) - 2, -1, -1):
        dz = dh * (zs[layer] > 0)
        grads.append(dz.mT @ hs[layer])  # ∂L/∂W_{layer+1}
        if layer > 0:
            dh = dz @ weights[layer]
    grads.reverse()
    return tuple(_masked(grads, masks)), m


def _masked(tensors: Sequence[Tensor], masks: Sequence[Tensor | None] | None) -> list[Tensor]:
    """``tensors`` (``W_1 … W_{L−1}``, then ``v``) with the hidden layers' masks applied."""
    out = list(tensors)
    for layer, mk in enumerate(masks or ()):
        if mk is not None:
            out[layer] = out[layer] * mk
    return out


# -- training -------------------------------------------------------------------------------------------------

def train_classifier(
    data: FeatureData,
    weights: Sequence[Tensor],
    lr,
    steps: int,
    *,
    loss="logistic",
    record_every: int = 1,
    masks: Sequence[Tensor | None] | None = None,
    gradient: str = "manual",
) -> ClassificationRun:
    """Full-batch GD on the classifier ``weights`` (``(W_1, …, W_{L−1}, v)``, each ``(B, …)``; copied) over ``data``.

    ``lr``: a float or ``(B,)``; ``loss``: ``"logistic"``, ``"hinge"``, a sequence of them per configuration or a
    ``(B,)`` boolean tensor (True = hinge); ``masks``: one tensor (or ``None``) per hidden weight matrix
    ``W_1 … W_{L−1}``, multiplying it and its gradient (:func:`path_masks`: one path per feature; ``None``: fully
    connected); ``gradient``: ``"manual"`` (:func:`classifier_gradients`) or
    ``"autograd"`` (``torch.autograd`` on :func:`classifier_loss`; the same GD to round-off). Records at steps
    ``0, record_every, …, steps`` (flow time ``t = lr × step``) every example's margin, every feature's margin and
    the loss. Deterministic (no randomness). Returns a :class:`ClassificationRun`."""
    if gradient not in ("manual", "autograd"):
        raise ValueError(f"gradient must be 'manual' or 'autograd', got {gradient!r}")
    times = _record_times(steps, record_every)
    dev = data.X.device
    B, P, _ = data.X.shape
    K = data.probes.shape[1]
    ws = [w.detach().to(device=dev, dtype=F64).clone() for w in weights]
    if any(w.shape[0] != B for w in ws):
        raise ValueError(f"every weight tensor needs the batch size B = {B} first, got {[tuple(w.shape) for w in ws]}")
    if masks is not None and len(masks) != len(ws) - 1:
        raise ValueError(f"masks needs one entry per hidden weight matrix ({len(ws) - 1}), got {len(masks)}")
    ws = _masked(ws, masks)
    hinge = _loss_flags(loss, B, dev)
    lr_t = torch.as_tensor(lr, dtype=F64, device=dev).reshape(-1).expand(B)
    if not bool(torch.isfinite(lr_t).all()) or bool((lr_t <= 0).any()):
        raise ValueError(f"lr must be finite and > 0, got {lr_t}")
    lr_of = [lr_t.view(B, *([1] * (w.ndim - 1))) for w in ws]

    R = len(times)
    rec_m = torch.empty(R, B, P, dtype=F64, device=dev)
    rec_fm = torch.empty(R, B, K, dtype=F64, device=dev)
    rec_loss = torch.empty(R, B, dtype=F64, device=dev)
    same = data.probes is data.X
    k = 0
    for step in range(steps + 1):
        if gradient == "manual":
            grads, m = classifier_gradients(ws, data, hinge, masks)
        else:
            params = [w.requires_grad_(True) for w in ws]
            total = classifier_loss(params, data, hinge).sum()
            grads = _masked(torch.autograd.grad(total, params), masks)
            ws = [w.detach() for w in ws]
            with torch.no_grad():
                m = data.y * classifier_output(ws, data.X)
        if times[k] == step:
            rec_m[k] = m
            rec_fm[k] = m if same else data.probe_classes * classifier_output(ws, data.probes)
            rec_loss[k] = (data.weight * _ell(m, hinge)).sum(-1)
            k += 1
        if step == steps:
            break
        for w, g, a in zip(ws, grads, lr_of):
            w.sub_(a * g)
    st = torch.tensor(times, dtype=torch.int64, device=dev)
    return ClassificationRun(steps=st, t=st.to(F64).unsqueeze(1) * lr_t, margins=rec_m, feature_margins=rec_fm,
                             loss=rec_loss, weights_final=tuple(ws))


def first_crossing(run: ClassificationRun, level: Tensor, which: str = "feature_margins",
                   transform=None) -> Tensor:
    """The first flow time each margin reaches ``level`` (broadcasting against ``(B, K)``), interpolated between
    the two records around it linearly in ``transform(margin)`` (identity by default); NaN where never reached.
    Record every step (or densely) for a hitting time: the interpolation error is then ``O(lr²)``."""
    m = getattr(run, which)
    level = torch.as_tensor(level, dtype=F64, device=m.device).expand(m.shape[1:])
    tf = (lambda x: x) if transform is None else transform
    above = m >= level
    first = above.to(torch.int64).argmax(0)
    idx = first.clamp(min=1)
    m1 = m.gather(0, idx.unsqueeze(0)).squeeze(0)
    m0 = m.gather(0, (idx - 1).unsqueeze(0)).squeeze(0)
    t = run.t.unsqueeze(-1).expand(m.shape)
    t1 = t.gather(0, idx.unsqueeze(0)).squeeze(0)
    t0 = t.gather(0, (idx - 1).unsqueeze(0)).squeeze(0)
    g0, g1, gl = tf(m0), tf(m1), tf(level)
    out = t0 + (t1 - t0) * (gl - g0) / (g1 - g0)
    out = torch.where(first == 0, t0, out)  # at or above the level from the start: t = 0
    return torch.where(above.any(0), out, torch.full_like(out, math.nan))
