"""Argument conversion shared by every generated function (THEORY.md's signature conventions)."""
from __future__ import annotations

import numbers
from typing import Any

import torch

from learndyn.domain import Domain, DomainError, Interval, show_value

__all__ = ["as_tensors", "as_array", "broadcast_shape", "broadcast_to"]


def _kind_error(domain: Domain | None, index: int, value: Any) -> DomainError:
    """The :class:`DomainError` for real argument ``index`` (the ``index``-th interval parameter of ``domain``)."""
    if domain is not None:
        names = [n for n, spec in domain.params.items() if isinstance(spec, Interval)]
        if index < len(names):
            return domain.kind_error(names[index], value)
    return DomainError(f"argument {index + 1} = {show_value(value)} must be a real number or a real tensor")


def _holds_reals(value: Any) -> bool:
    """Whether ``value``, not a tensor, holds real numbers that ``torch.as_tensor`` converts (a numpy scalar or array,
    a nested list of numbers); not ``None``, a string, a bool, a complex number, a list of strings …"""
    if value is None or isinstance(value, (bool, str, bytes, complex)):
        return False
    try:
        probe = torch.as_tensor(value)  # the kind of its entries (a list of floats infers float32: a probe only)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return False
    return not (probe.is_complex() or probe.dtype == torch.bool)


def _convert(value: Any, index: int, dtype: torch.dtype, device: torch.device, domain: Domain | None) -> torch.Tensor:
    """A real argument that is neither a tensor nor a Python int/float: a numpy scalar or array, a nested list of
    numbers, a ``fractions.Fraction``; anything else (``None``, a string, a bool, a complex number, a list of
    strings …) raises a :class:`DomainError` naming the parameter."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not hasattr(value, "dtype"):
        return torch.as_tensor(float(value), dtype=dtype, device=device)  # Fraction, a SymPy Float
    if not _holds_reals(value):
        raise _kind_error(domain, index, value)
    return torch.as_tensor(value, dtype=dtype, device=device)


def as_tensors(*args: Any, domain: Domain | None = None) -> tuple[torch.Tensor, ...]:
    """Convert real arguments to tensors of one floating dtype on one device.

    Python floats (and ints) alone give float64; tensors keep their dtype and device (the floating dtype
    of the tensor arguments is used for the Python numbers too; integer tensors are promoted to float64).
    Shapes are not broadcast here: the arithmetic broadcasts. An argument that is not real (``None``, a string,
    a bool, a complex number or tensor, a list of strings …) raises a :class:`~learndyn.domain.DomainError`, also
    with ``check=False``; ``domain`` (the result's, whose interval parameters the arguments are, in order) lets it
    name the result, the parameter, the value and the domain.
    """
    dtype = device = None
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            if a.is_complex() or a.dtype == torch.bool:
                raise _kind_error(domain, i, a)
            if dtype is None:
                dtype, device = a.dtype, a.device
            elif a.dtype != dtype:
                dtype = torch.promote_types(dtype, a.dtype)
    if dtype is None:
        dtype, device = torch.float64, torch.device("cpu")
    elif not dtype.is_floating_point:
        dtype = torch.float64
    out = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            out.append(a.to(dtype=dtype) if a.dtype != dtype else a)
        elif type(a) is float or type(a) is int:
            out.append(torch.as_tensor(a, dtype=dtype, device=device))
        else:
            out.append(_convert(a, i, dtype, device, domain))
    return tuple(out)


def as_array(x: Any, name: str | None = None, domain: Domain | None = None) -> torch.Tensor | None:
    """A data argument (``x1``, a kernel matrix) as a floating tensor: tensors keep their floating dtype and
    device (integer tensors become float64), anything else becomes a float64 tensor; ``None`` stays ``None``
    where the parameter is optional. Strings, bools, complex values and ``None`` for a required parameter raise a
    :class:`~learndyn.domain.DomainError` naming parameter ``name`` of ``domain``'s result."""
    def error() -> DomainError:
        if domain is not None and name in domain.params:
            return domain.kind_error(name, x)
        return DomainError(f"{name or 'argument'} = {show_value(x)} must be a real tensor")

    if x is None:
        spec = domain.params.get(name) if domain is not None else None
        if spec is not None and not getattr(spec, "optional", False):
            raise error()
        return None
    if isinstance(x, torch.Tensor):
        if x.is_floating_point():
            return x
        if x.is_complex() or x.dtype == torch.bool:
            raise error()
        return x.to(torch.float64)
    if not _holds_reals(x):
        raise error()
    return torch.as_tensor(x, dtype=torch.float64)


def broadcast_shape(*tensors: torch.Tensor) -> torch.Size:
    """The shape the real arguments broadcast to (the shape of every output)."""
    return torch.broadcast_shapes(*(t.shape for t in tensors))


def broadcast_to(value: Any, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """An output broadcast to the arguments' common shape (a constant output such as ``c* = 1`` becomes a
    tensor of ``like``'s dtype and device)."""
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    elif value.dtype != like.dtype or value.device != like.device:  # a value of the integer parameters alone
        value = value.to(dtype=like.dtype, device=like.device)
    return torch.broadcast_to(value, shape)
