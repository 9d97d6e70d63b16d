"""Domains of results: intervals per parameter, relations between parameters, and the check.

This module is imported by the generated code, so it depends on torch only (no SymPy). The same
classes are used in the declarations (``learndyn.derive``), which is how the domain is written once:
the emitter prints the declaration's ``Domain`` as a constructor call into ``generated/``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

__all__ = ["Interval", "Relation", "Domain", "DomainError", "IntParam", "ChoiceParam", "ArrayParam"]


class DomainError(ValueError):
    """An argument outside the domain of a result; names the parameter, its value and the domain."""


def _fmt(x: float) -> str:
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    return repr(float(x))


@dataclass(frozen=True)
class Interval:
    """A real interval ``lo < x < hi`` (``<=`` where the end is closed); infinite ends are open."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_closed: bool = False
    hi_closed: bool = False

    def __post_init__(self) -> None:
        if not self.lo <= self.hi:
            raise ValueError(f"empty interval {self}")

    def __str__(self) -> str:
        left = "[" if self.lo_closed and math.isfinite(self.lo) else "("
        right = "]" if self.hi_closed and math.isfinite(self.hi) else ")"
        return f"{left}{_fmt(self.lo)}, {_fmt(self.hi)}{right}"

    def contains(self, x: torch.Tensor) -> torch.Tensor:
        """Elementwise membership (NaN is never a member)."""
        lo_ok = x >= self.lo if self.lo_closed else x > self.lo
        hi_ok = x <= self.hi if self.hi_closed else x < self.hi
        return lo_ok & hi_ok

    def contains_float(self, x: float) -> bool:
        return bool(self.contains(torch.tensor(float(x), dtype=torch.float64)))


@dataclass(frozen=True)
class IntParam:
    """An integer parameter (a Python int) with bounds ``lo <= n <= hi``."""

    lo: int = 0
    hi: int | None = None

    def __str__(self) -> str:
        return f"integer >= {self.lo}" + (f" and <= {self.hi}" if self.hi is not None else "")


@dataclass(frozen=True)
class ChoiceParam:
    """A categorical parameter: one string out of ``choices``."""

    choices: tuple[str, ...]

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


@dataclass(frozen=True)
class ArrayParam:
    """A real floating tensor of rank ``ndim`` with finite entries (``shape`` names its axes, e.g. ``"(n, d)"``);
    ``None`` is accepted where ``optional`` (e.g. ``x2 = None`` meaning ``x1``)."""

    ndim: int
    shape: str = ""
    optional: bool = False
    #: a symmetric positive semi-definite matrix (a kernel over a data set), to round-off
    psd: bool = False

    def __str__(self) -> str:
        text = f"a finite real {self.ndim}-d tensor {self.shape}".rstrip()
        text += ", symmetric positive semi-definite" if self.psd else ""
        return text + (" or None" if self.optional else "")

    def psd_violation(self, value: torch.Tensor) -> str | None:
        """Why ``value`` is not symmetric PSD to round-off (``64 n ε max|Θ|`` asymmetry, eigenvalues down to
        ``−64 n ε λ_max``), or ``None``."""
        n = value.shape[-1]
        if value.shape[-2] != n:
            return f"is not square (shape {tuple(value.shape)})"
        value = value.detach()
        eps = torch.finfo(value.dtype).eps
        scale = float(value.abs().max()) if value.numel() else 0.0
        asym = float((value - value.mT).abs().max()) if value.numel() else 0.0
        if asym > 64 * n * eps * scale:
            return f"is not symmetric (max |Θ − Θᵀ| = {asym:.3g}, max |Θ| = {scale:.3g})"
        lam = torch.linalg.eigvalsh((value + value.mT) / 2)
        if value.numel() and float(lam[..., 0].min()) < -64 * n * eps * max(float(lam[..., -1].max()), 0.0):
            return f"is not positive semi-definite (smallest eigenvalue {float(lam[..., 0].min()):.3g})"
        return None


@dataclass(frozen=True)
class Relation:
    """A relation between parameters, e.g. ``uf`` strictly between ``u0`` and ``s``.

    ``holds`` takes the named parameters as keyword tensors and returns an elementwise boolean tensor;
    ``subject`` is the parameter the error message blames.
    """

    subject: str
    params: tuple[str, ...]
    text: str
    holds: Callable[..., torch.Tensor] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Domain:
    """The domain of one result: per-parameter intervals (or int/choice specs) and relations."""

    result: str
    params: Mapping[str, Any]
    relations: tuple[Relation, ...] = ()

    def check(self, values: Mapping[str, Any]) -> None:
        """Raise :class:`DomainError` naming the first parameter outside the domain."""
        for name, spec in self.params.items():
            if name not in values:
                continue
            value = values[name]
            if isinstance(spec, Interval):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = torch.tensor(float(value), dtype=torch.float64)
                if not isinstance(value, torch.Tensor):
                    raise DomainError(f"{self.result}: parameter '{name}' = {value!r} must be a real number or tensor in {spec}")
                if isinstance(value, torch.Tensor) and (value.is_complex() or not value.is_floating_point()):
                    raise DomainError(f"{self.result}: parameter '{name}' must be a real floating tensor or a float, got dtype {value.dtype}")
                bad = ~spec.contains(value)
                if bool(bad.any()):
                    offending = value[bad].flatten()[0].item() if value.dim() else value.item()
                    count = int(bad.sum())
                    many = f" ({count} of {value.numel()} elements)" if value.numel() > 1 else ""
                    raise DomainError(
                        f"{self.result}: parameter '{name}' = {offending!r}{many} is outside its domain {name} ∈ {spec}"
                    )
            elif isinstance(spec, IntParam):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise DomainError(f"{self.result}: parameter '{name}' = {value!r} must be a Python int ({spec})")
                if value < spec.lo or (spec.hi is not None and value > spec.hi):
                    raise DomainError(f"{self.result}: parameter '{name}' = {value!r} is outside its domain: {spec}")
            elif isinstance(spec, ArrayParam):
                if value is None and spec.optional:
                    continue
                if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.dim() != spec.ndim:
                    got = f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}" if isinstance(value, torch.Tensor) else repr(value)
                    raise DomainError(f"{self.result}: parameter '{name}' = {got} must be {spec}")
                if not bool(torch.isfinite(value).all()):
                    raise DomainError(f"{self.result}: parameter '{name}' has non-finite entries; it must be {spec}")
                why = spec.psd_violation(value) if spec.psd else None
                if why:
                    raise DomainError(f"{self.result}: parameter '{name}' {why}; it must be {spec}")
            elif isinstance(spec, ChoiceParam):
                if value not in spec.choices:
                    raise DomainError(f"{self.result}: parameter '{name}' = {value!r} is not {spec}")
        for rel in self.relations:
            args = {p: values[p] for p in rel.params}
            ok = rel.holds(**args)
            if not bool(torch.as_tensor(ok).all()):
                subject = torch.as_tensor(values[rel.subject])
                okb = torch.broadcast_to(torch.as_tensor(ok), torch.broadcast_shapes(subject.shape, torch.as_tensor(ok).shape))
                subj = torch.broadcast_to(subject, okb.shape)
                offending = subj[~okb].flatten()[0].item() if subj.dim() else subj.item()
                raise DomainError(
                    f"{self.result}: parameter '{rel.subject}' = {offending!r} is outside its domain: {rel.text}"
                )
