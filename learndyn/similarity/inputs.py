"""Checking the activations and options given to :mod:`learndyn.similarity`, with errors that say what is wrong.

Activations are ``(..., examples, neurons)``: one row per example, one column per neuron, any leading batch
dimensions (they broadcast between the two representations, so ``a[:, None]`` against ``b[None]`` compares every
layer of one network with every layer of another in one call). This is the transpose of google/svcca's
``(neurons, datapoints)`` convention. Every bad input raises :class:`learndyn.DomainError` (a ``ValueError``) naming
the argument, its shape or value and what is required.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from learndyn.domain import DomainError, show_value

__all__ = ["Pair", "check_pair", "check_keep", "check_rtol", "same_memory"]

_LAYOUT = "(..., examples, neurons)"


class Pair:
    """Two checked representations in float64 (``a``, ``b``), the dtype the results are returned in (``dtype``: the
    promoted floating dtype of the inputs, float64 for integer inputs) and whether each pair is identical
    (``identical``, shape of the broadcast batch)."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> None:
        self.a, self.b, self.dtype = a, b, dtype

    @property
    def examples(self) -> int:
        return self.a.shape[-2]

    @property
    def batch_shape(self) -> torch.Size:
        return torch.broadcast_shapes(self.a.shape[:-2], self.b.shape[:-2])

    def identical(self) -> torch.Tensor:
        """Boolean, batch-shaped: the two representations are equal entry by entry (same number of neurons).

        Without materialising the broadcast pairs: a fingerprint per representation (sums of the entries and of
        their squares, bitwise equal for equal inputs) selects the candidate pairs, which are then compared exactly."""
        shape = self.batch_shape
        out = torch.zeros(shape, dtype=torch.bool, device=self.a.device)
        if self.a.shape[-1] != self.b.shape[-1]:
            return out
        def fingerprint(x: torch.Tensor) -> torch.Tensor:
            return torch.stack((x.sum(dim=(-2, -1)), (x * x).sum(dim=(-2, -1))), dim=-1)
        fa, fb = fingerprint(self.a), fingerprint(self.b)
        candidates = (fa == fb).all(dim=-1).expand(shape)
        if not bool(candidates.any()):
            return out
        lead_a = (1,) * (len(shape) - (self.a.dim() - 2)) + tuple(self.a.shape[:-2])
        lead_b = (1,) * (len(shape) - (self.b.dim() - 2)) + tuple(self.b.shape[:-2])
        a = self.a.reshape(lead_a + self.a.shape[-2:])
        b = self.b.reshape(lead_b + self.b.shape[-2:])
        for index in candidates.nonzero().tolist():
            ia = tuple(i if s > 1 else 0 for i, s in zip(index, lead_a))
            ib = tuple(i if s > 1 else 0 for i, s in zip(index, lead_b))
            out[tuple(index)] = torch.equal(a[ia], b[ib])
        return out


def same_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a`` and ``b`` are contiguous views of the same memory with the same trailing shape and dtype — the
    ``acts[:, None]``, ``acts[None]`` of every pair of layers, whose per-layer work is then done once. Where
    gradients are tracked, only views of one tensor qualify (``x`` and ``x.detach()`` share memory, not gradients)."""
    if not (a.data_ptr() == b.data_ptr() and a.numel() == b.numel() and a.shape[-2:] == b.shape[-2:]
            and a.dtype == b.dtype and a.device == b.device and a.is_contiguous() and b.is_contiguous()):
        return False
    if a.requires_grad or b.requires_grad:
        root = lambda t: t if t._base is None else t._base  # noqa: E731
        return root(a) is root(b)
    return True


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise DomainError(f"{name} = {show_value(x)} must be a real tensor of shape {_LAYOUT}")
    if x.is_complex() or x.dtype == torch.bool:
        raise DomainError(f"{name} is {show_value(x)}: activations must be real numbers (a floating or integer dtype)")
    if x.dim() < 2:
        raise DomainError(f"{name} is {show_value(x)}: activations need shape {_LAYOUT}, at least 2 dimensions "
                          "(a single neuron is x[:, None])")
    return x


def _check_finite(x: torch.Tensor, name: str) -> None:
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        raise DomainError(f"{name} ({show_value(x)}) has {int(bad.sum())} non-finite entries (NaN or inf), the "
                          f"first at index {where} = {x[where].item()}: every activation must be finite")


def check_pair(a: Any, b: Any, *, min_examples: int = 2, names: tuple[str, str] = ("a", "b")) -> Pair:
    """Check ``a`` and ``b`` (tensors or numpy arrays ``(..., examples, neurons)``) and return them as float64.

    Required: real entries, all finite; the same number of examples (rows), at least ``min_examples``; at least one
    neuron each; leading dimensions that broadcast; one device."""
    na, nb = names
    a, b = _as_tensor(a, na), _as_tensor(b, nb)
    if a.shape[-2] != b.shape[-2]:
        hint = ""
        if a.shape[-1] == b.shape[-1]:
            hint = (f"; they agree on their last dimension ({a.shape[-1]}): if that is the examples, your activations "
                    f"are (neurons, examples) as in google/svcca — pass them transposed, {na}.mT and {nb}.mT")
        raise DomainError(f"{na} has {a.shape[-2]} examples (shape {tuple(a.shape)}) and {nb} has {b.shape[-2]} "
                          f"(shape {tuple(b.shape)}): both need the same examples, in the same order, as rows of "
                          f"{_LAYOUT}{hint}")
    if a.shape[-2] < min_examples:
        why = "the unbiased estimator divides by n − 3" if min_examples == 4 else "a covariance needs two"
        raise DomainError(f"{na} and {nb} have {a.shape[-2]} examples (shapes {tuple(a.shape)}, {tuple(b.shape)}): "
                          f"at least {min_examples} are needed ({why})")
    for name, x in ((na, a), (nb, b)):
        if x.shape[-1] < 1:
            raise DomainError(f"{name} has shape {tuple(x.shape)}: at least one neuron (column) is needed")
    try:
        torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except RuntimeError:
        raise DomainError(f"the batch dimensions of {na} {tuple(a.shape[:-2])} and {nb} {tuple(b.shape[:-2])} "
                          f"(shapes {tuple(a.shape)}, {tuple(b.shape)}) do not broadcast: leading dimensions must be "
                          f"equal or 1, e.g. {na}[:, None] against {nb}[None] for all pairs") from None
    if a.device != b.device:
        raise DomainError(f"{na} is on {a.device} and {nb} on {b.device}: put both on one device")
    _check_finite(a, na)
    _check_finite(b, nb)
    dtype = torch.promote_types(a.dtype, b.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    a64 = a.to(torch.float64)
    b64 = a64.reshape(b.shape) if same_memory(a, b) else b.to(torch.float64)  # one conversion, still one memory
    return Pair(a64, b64, dtype)


def check_keep(keep: Any, widths: dict[str, int], examples: int) -> int | float | None:
    """``keep`` of :func:`~learndyn.similarity.svcca`: ``None`` (every direction above the rank tolerance), an ``int``
    ``1 ≤ keep ≤ min(examples − 1, neurons)`` of each representation, or a ``float`` variance fraction in ``(0, 1]``."""
    if keep is None:
        return None
    if isinstance(keep, bool) or not isinstance(keep, (int, float, np.integer, np.floating)):
        raise DomainError(f"keep = {show_value(keep)} must be an int (a number of directions) or a float in (0, 1] "
                          "(a fraction of the variance)")
    if isinstance(keep, (int, np.integer)):
        most = {name: min(examples - 1, w) for name, w in widths.items()}
        limit = min(most.values())
        if not 1 <= keep <= limit:
            sides = ", ".join(f"{name}: min(examples − 1, neurons) = {m}" for name, m in most.items())
            raise DomainError(f"keep = {int(keep)} directions is out of range: it must be between 1 and {limit} "
                              f"({sides})")
        return int(keep)
    keep = float(keep)
    if not (math.isfinite(keep) and 0.0 < keep <= 1.0):
        raise DomainError(f"keep = {keep!r} as a fraction of the variance must lie in (0, 1] (an int keeps that many "
                          "directions)")
    return keep


def check_rtol(rtol: Any) -> float | None:
    """``rtol`` of the rank tolerance: ``None`` (the default ``max(examples, neurons) · ε``) or a float in
    ``[0, 1)``."""
    if rtol is None:
        return None
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.integer, np.floating)) or \
            not (math.isfinite(float(rtol)) and 0.0 <= float(rtol) < 1.0):
        raise DomainError(f"rtol = {show_value(rtol)} must be a float in [0, 1): singular values at or below "
                          "rtol · σ_max count as zero")
    return float(rtol)
