"""Argument conversion shared by every generated function (THEORY.md's signature conventions)."""
from __future__ import annotations

from typing import Any

import torch

__all__ = ["as_tensors", "as_array", "broadcast_shape", "broadcast_to"]


def as_tensors(*args: Any) -> tuple[torch.Tensor, ...]:
    """Convert real arguments to tensors of one floating dtype on one device.

    Python floats (and ints) alone give float64; tensors keep their dtype and device (the floating dtype
    of the tensor arguments is used for the Python numbers too; integer tensors are promoted to float64).
    Shapes are not broadcast here: the arithmetic broadcasts.
    """
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if tensors:
        dtype = tensors[0].dtype
        for a in tensors[1:]:
            dtype = torch.promote_types(dtype, a.dtype)
        if not (dtype.is_floating_point or dtype.is_complex):
            dtype = torch.float64
        device = tensors[0].device
    else:
        dtype, device = torch.float64, torch.device("cpu")
    out = []
    for a in args:
        if isinstance(a, torch.Tensor):
            out.append(a.to(dtype=dtype) if a.dtype != dtype else a)
        elif isinstance(a, (bool,)) or a is None:
            raise TypeError(f"expected a real number or tensor, got {a!r}")
        else:
            out.append(torch.as_tensor(a, dtype=dtype, device=device))
    return tuple(out)


def as_array(x: Any) -> torch.Tensor | None:
    """A data argument (``x1``, a kernel matrix) as a floating tensor: tensors keep their floating dtype and
    device (integer tensors become float64), anything else becomes a float64 tensor; ``None`` stays ``None``."""
    if x is None or isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    if isinstance(x, torch.Tensor):
        return x.to(torch.float64)
    return torch.as_tensor(x, dtype=torch.float64)


def broadcast_shape(*tensors: torch.Tensor) -> torch.Size:
    """The shape the real arguments broadcast to (the shape of every output)."""
    return torch.broadcast_shapes(*(t.shape for t in tensors))


def broadcast_to(value: Any, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """An output broadcast to the arguments' common shape (a constant output such as ``c* = 1`` becomes a
    tensor of ``like``'s dtype and device)."""
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return torch.broadcast_to(value, shape)
