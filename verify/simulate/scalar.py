"""Gradient descent on the two-weight scalar network (family 1, seed 000).

Network and loss (one example, written out explicitly; optional weight decay ``gamma ≥ 0``, family 2)::

    ŷ = w2 w1 x,        L(w1, w2) = ½ (y − w2 w1 x)² + (gamma/2)(w1² + w2²)

Gradients, derived by hand (``r = y − w2 w1 x`` is the residual)::

    ∂L/∂w1 = −r w2 x + gamma w1,   ∂L/∂w2 = −r w1 x + gamma w2

Plain full-batch gradient descent updates both weights from the same old weights::

    w1 ← (1 − lr gamma) w1 + lr r w2 x,   w2 ← (1 − lr gamma) w2 + lr r w1 x

``t`` counts steps; gradient flow is ``dθ/dt = −lr ∇L`` (``tau = 1/lr``), under which the product
``u = w2 w1`` from a balanced start obeys ``du/dt = 2 lr x u (y − x u)`` with the logistic solution
``u = y E / (x (E − 1) + y/u0)``, ``E = exp(2 y x lr t)``. Discrete GD follows it up to an error of first
order in ``lr`` at a fixed flow time ``lr·t``.

Conservation: under gradient flow ``w2² − w1²`` is conserved; one GD step multiplies it by
``1 − (lr r x)²``, so from a balanced start (``w1 = w2``) it stays exactly zero (the two updates are
bitwise identical), and from an imbalanced start it drifts at ``O(lr)`` over a fixed flow time.

Weight decay (``gamma > 0``): under gradient flow ``d(w2² − w1²)/dt = −2 lr gamma (w2² − w1²)``, so the
imbalance decays like ``e^{−2 gamma t/τ}``; one GD step multiplies it by ``(1 − lr gamma)² − (lr r x)²``
exactly (expand ``((1 − lr γ) w2 + c w1)² − ((1 − lr γ) w1 + c w2)²`` with ``c = lr r x``: the cross terms
cancel), which is ``e^{−2 lr gamma}`` per step up to ``O(lr²)``. From a balanced start ``u = w2 w1`` obeys
``du/dt = 2 lr u (x y − gamma − x² u)`` (``x = 1``: ``tau du/dt = 2u (s − gamma − u)``, the family-2
``weight_decay_trajectory`` with ``s = y``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["ScalarRun", "simulate_scalar_network"]


class ScalarRun(NamedTuple):
    """Recorded trajectory of :func:`simulate_scalar_network` (all tensors on the simulation device).

    ``t``: (R,) int64, the step counts recorded. ``u``, ``w1``, ``w2``: (R, *batch), with
    ``u = w2 w1`` (the network's end-to-end weight).
    """

    t: Tensor
    u: Tensor
    w1: Tensor
    w2: Tensor


def _default_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _record_times(steps: int, record_every: int) -> list[int]:
    """Steps recorded: ``0, record_every, 2·record_every, …`` and always the last step ``steps``."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not isinstance(record_every, int) or isinstance(record_every, bool) or record_every < 1:
        raise ValueError(f"record_every must be an int >= 1, got {record_every!r}")
    times = list(range(0, steps + 1, record_every))
    if times[-1] != steps:
        times.append(steps)
    return times


def _balanced_weights(u0: Tensor, imbalance: Tensor) -> tuple[Tensor, Tensor]:
    """Positive ``(w1, w2)`` with ``w1 w2 = u0`` and ``w2² − w1² = imbalance`` (``u0 > 0``).

    ``w2² = (d + √(d² + 4u0²))/2`` for ``d ≥ 0`` (and ``w1² = u0²/w2²``; the roles swap for ``d < 0``),
    written without cancellation. ``d = 0`` gives ``w1 = w2 = √u0`` bit for bit.
    """
    d = imbalance
    q = torch.sqrt(d * d + 4 * u0 * u0)
    big = torch.sqrt((d.abs() + q) / 2)  # the larger of w1, w2
    small = u0 / big
    balanced = d == 0
    root = torch.sqrt(u0)
    w2 = torch.where(balanced, root, torch.where(d > 0, big, small))
    w1 = torch.where(balanced, root, torch.where(d > 0, small, big))
    return w1, w2


def simulate_scalar_network(
    x: float | Tensor,
    y: float | Tensor,
    u0: float | Tensor,
    lr: float | Tensor,
    steps: int,
    *,
    imbalance: float | Tensor = 0.0,
    gamma: float | Tensor = 0.0,
    record_every: int = 1,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> ScalarRun:
    """Full-batch GD on ``ŷ = w2 w1 x`` with ``L = ½ (y − w2 w1 x)² + (gamma/2)(w1² + w2²)``, batched.

    ``x``, ``y``, ``u0``, ``lr``, ``imbalance`` and ``gamma`` (weight decay, default 0) are floats or tensors
    that broadcast together to the batch shape (1-D inputs of length B give B configurations; a 0-d batch is
    promoted to ``(1,)``).
    Start: ``w1 w2 = u0`` and ``w2² − w1² = imbalance`` (``imbalance = 0``: ``w1 = w2 = √u0``).
    Each step, with ``r = y − w2 w1 x``::

        w1 ← (1 − lr gamma) w1 + lr r w2 x,    w2 ← (1 − lr gamma) w2 + lr r w1 x    (from the old weights)

    (with ``gamma = 0`` everywhere the decay factor is skipped, so results are bit for bit those without it).

    Records at ``t = 0, record_every, …`` and at ``t = steps``. Deterministic (no randomness).
    Returns a :class:`ScalarRun` on ``device`` (default: CUDA if available, else CPU).
    Raises ``ValueError`` for ``u0 ≤ 0``, ``lr ≤ 0``, ``gamma < 0`` or non-finite inputs.
    """
    dev = _default_device(device)
    times = _record_times(steps, record_every)
    args = {
        name: torch.as_tensor(v, dtype=dtype, device=dev)
        for name, v in (("x", x), ("y", y), ("u0", u0), ("lr", lr), ("imbalance", imbalance), ("gamma", gamma))
    }
    for name, v in args.items():
        if not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name} must be finite, got {v}")
    if bool((args["u0"] <= 0).any()):
        raise ValueError(f"u0 must be > 0 (balanced start w1 w2 = u0), got {args['u0']}")
    if bool((args["lr"] <= 0).any()):
        raise ValueError(f"lr must be > 0, got {args['lr']}")
    if bool((args["gamma"] < 0).any()):
        raise ValueError(f"gamma (weight decay) must be >= 0, got {args['gamma']}")
    decays = bool((args["gamma"] != 0).any())
    xs, ys, u0s, lrs, ds, gs = torch.broadcast_tensors(*args.values())
    if xs.ndim == 0:
        xs, ys, u0s, lrs, ds, gs = (v.reshape(1) for v in (xs, ys, u0s, lrs, ds, gs))
    batch = xs.shape

    w1, w2 = _balanced_weights(u0s, ds)
    w1, w2 = w1.clone(), w2.clone()
    lrx = lrs * xs
    keep = 1 - lrs * gs  # weight-decay factor 1 − lr gamma

    n_rec = len(times)
    rec_w1 = torch.empty((n_rec, *batch), dtype=dtype, device=dev)
    rec_w2 = torch.empty_like(rec_w1)
    rec_w1[0], rec_w2[0] = w1, w2
    k = 1
    for step in range(1, steps + 1):
        r = torch.addcmul(ys, xs, w1 * w2, value=-1.0)  # r = y − x w1 w2
        c = lrx * r  # lr x r
        if decays:
            w1, w2 = torch.addcmul(keep * w1, c, w2), torch.addcmul(keep * w2, c, w1)
        else:
            w1, w2 = torch.addcmul(w1, c, w2), torch.addcmul(w2, c, w1)
        if k < n_rec and times[k] == step:
            rec_w1[k], rec_w2[k] = w1, w2
            k += 1
    t = torch.tensor(times, dtype=torch.int64, device=dev)
    return ScalarRun(t=t, u=rec_w1 * rec_w2, w1=rec_w1, w2=rec_w2)
