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

__all__ = ["Interval", "Relation", "Domain", "DomainError", "IntParam", "ChoiceParam", "ArrayParam", "show_value",
           "is_real_value"]


class DomainError(ValueError):
    """An argument outside the domain of a result; names the parameter, its value and the domain."""


def show_value(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message: a tensor as its dtype and shape (and its value when it has one
    element), anything else cut to ``limit`` characters."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1 and value.dim() == 0:
            return f"{value.item()!r} (a {str(value.dtype).removeprefix('torch.')} tensor)"
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_real_value(value: Any) -> bool:
    """Whether ``value`` is of the kind a real parameter takes: a Python ``int``/``float`` (not ``bool``) or a
    real, non-boolean tensor (the conversion at the boundary makes it floating)."""
    if isinstance(value, torch.Tensor):
        return not (value.is_complex() or value.dtype == torch.bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
        """Whether the number ``x`` lies in the interval (its closed ends included)."""
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
        given, value = value, value.detach()
        eps = torch.finfo(value.dtype).eps
        scale = float(value.abs().max()) if value.numel() else 0.0
        asym = float((value - value.mT).abs().max()) if value.numel() else 0.0
        if asym > 64 * n * eps * scale:
            return f"is not symmetric (max |Θ − Θᵀ| = {asym:.3g}, max |Θ| = {scale:.3g})"
        sym = (value + value.mT) / 2
        if value.numel() and value.dim() == 2:
            # cheap first: a Cholesky factorisation of Θ itself (kept for a solve with this very matrix, see
            # learndyn.numerics.spectral.remember_cholesky), else of Θ + 64 n ε max diag(Θ) I: λ_max ≥ max diag(Θ), so
            # either proves the bound below up to the factorisation's own round-off; only where both fail do the
            # eigenvalues decide (and name the smallest): an eigenvalue solve costs about 6 factorisations
            from learndyn.numerics.spectral import remember_cholesky

            factor, info = torch.linalg.cholesky_ex(sym)
            if int(info) == 0:
                remember_cholesky(given, factor)
                return None
        if value.numel():
            shift = 64 * n * eps * max(float(torch.diagonal(sym, dim1=-2, dim2=-1).max()), 0.0)
            shifted = sym.clone()
            torch.diagonal(shifted, dim1=-2, dim2=-1).add_(shift)
            _, info = torch.linalg.cholesky_ex(shifted)
            if bool((info == 0).all()) and shift > 0:
                return None
        lam = torch.linalg.eigvalsh(sym)
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

    def kind_error(self, name: str, value: Any) -> DomainError:
        """The error for an argument of the wrong kind (a string, ``None``, a bool, a complex number, a list of
        strings …): names the result, the parameter, its value and its domain."""
        spec = self.params[name]
        if isinstance(spec, Interval):
            must = f"a real number or a real tensor, with {name} ∈ {spec}"
        elif isinstance(spec, IntParam):
            must = f"a Python int ({spec})"
        else:
            must = str(spec)
        return DomainError(f"{self.result}: parameter '{name}' = {show_value(value)} must be {must}")

    def check_kinds(self, values: Mapping[str, Any]) -> None:
        """Raise :class:`DomainError` naming the first argument of the wrong kind, without checking ranges or
        relations: what a generated function does with ``check=False`` for its integer and categorical
        parameters (its real and array parameters are checked as they are converted)."""
        for name, value in values.items():
            spec = self.params[name]
            if isinstance(spec, Interval):
                ok = is_real_value(value)
            elif isinstance(spec, IntParam):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(spec, ChoiceParam):
                ok = isinstance(value, str) and value in spec.choices
            else:  # ArrayParam
                ok = (value is None and spec.optional) or (isinstance(value, torch.Tensor) and value.is_floating_point())
            if not ok:
                raise self.kind_error(name, value)

    def check(self, values: Mapping[str, Any]) -> None:
        """Raise :class:`DomainError` naming the first parameter outside the domain."""
        for name, spec in self.params.items():
            if name not in values:
                continue
            value = values[name]
            if isinstance(spec, Interval):
                if not is_real_value(value):
                    raise self.kind_error(name, value)
                if not isinstance(value, torch.Tensor):
                    value = torch.tensor(float(value), dtype=torch.float64)
                elif not value.is_floating_point():
                    raise DomainError(f"{self.result}: parameter '{name}' must be a real floating tensor or a float, "
                                      f"got dtype {value.dtype}; {name} ∈ {spec}")
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
                    raise self.kind_error(name, value)
                if value < spec.lo or (spec.hi is not None and value > spec.hi):
                    raise DomainError(f"{self.result}: parameter '{name}' = {value!r} is outside its domain: {spec}")
            elif isinstance(spec, ArrayParam):
                if value is None and spec.optional:
                    continue
                if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.dim() != spec.ndim:
                    raise self.kind_error(name, value)
                if not bool(torch.isfinite(value).all()):
                    raise DomainError(f"{self.result}: parameter '{name}' has non-finite entries; it must be {spec}")
                why = spec.psd_violation(value) if spec.psd else None
                if why:
                    raise DomainError(f"{self.result}: parameter '{name}' {why}; it must be {spec}")
            elif isinstance(spec, ChoiceParam):
                if not (isinstance(value, str) and value in spec.choices):
                    raise self.kind_error(name, value)
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
