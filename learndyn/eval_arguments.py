"""The ``KEY=VALUE`` arguments of ``learndyn eval``, parsed by the kind of each parameter.

* a real parameter: a number (``lr=0.01``), comma-separated numbers (``uf=0.5,1.5``: a 1-d tensor), a JSON array
  (``t='[[1], [2]]'``: a tensor of that shape) or ``@FILE``;
* an array parameter (a data matrix, a kernel): a JSON array (``x1='[[1, 2], [3, 4]]'``) or ``@FILE``; an optional
  one (``x2``) may be left out or given as ``null``;
* ``@FILE``: a ``.npy`` file (``numpy.save``), a ``.csv`` file of numbers (one row per line) or a ``.json`` file;
* an integer parameter: an integer; a categorical one: one of its values.

A key given twice is an error, as are unknown keys and missing required parameters.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ArgumentError", "parse_assignments"]


class ArgumentError(ValueError):
    """A ``KEY=VALUE`` argument that cannot be used; ``param`` names the key (or ``None``)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def _tensor(name: str, value: Any, what: str):
    import torch

    try:
        return torch.tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ArgumentError(f"{name}: {what} must hold numbers only ({exc})", name) from None


def _load_file(name: str, raw: str, ndim: int):
    """The array in ``@FILE`` (``.npy``, ``.csv`` or ``.json``)."""
    import numpy as np

    path = Path(raw[1:]).expanduser()
    if not path.is_file():
        raise ArgumentError(f"{name}={raw}: no such file {str(path)!r}", name)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv", ".json"):
        raise ArgumentError(f"{name}={raw}: expected a .npy, .csv or .json file", name)
    try:
        if suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            data = np.loadtxt(path, delimiter=",", ndmin=max(ndim, 1), dtype=np.float64)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArgumentError(f"{name}={raw}: cannot read {str(path)!r}: {exc}", name) from None
    if suffix == ".json":
        return _tensor(name, data, str(path))
    if data.dtype.kind not in "fiu":
        raise ArgumentError(f"{name}={raw}: {str(path)!r} must hold real numbers, not {data.dtype}", name)
    import torch

    return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float64))


def _json(name: str, raw: str):
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ArgumentError(f"{name}={raw!r}: not valid JSON ({exc})", name) from None
    return _tensor(name, value, "the JSON array")


def parse_value(name: str, raw: str, spec) -> Any:
    """One value, by the kind of ``spec`` (:mod:`learndyn.domain`'s ``Interval``, ``IntParam``, ``ChoiceParam`` or
    ``ArrayParam``)."""
    from learndyn.domain import ArrayParam, ChoiceParam, IntParam

    if isinstance(spec, IntParam):
        try:
            return int(raw)
        except ValueError:
            raise ArgumentError(f"{name}={raw!r}: expected an integer ({spec})", name) from None
    if isinstance(spec, ChoiceParam):
        if raw not in spec.choices:
            raise ArgumentError(f"{name}={raw!r}: expected {spec}", name)
        return raw
    ndim = spec.ndim if isinstance(spec, ArrayParam) else 1
    if isinstance(spec, ArrayParam) and raw.strip().lower() in ("null", "none"):
        if not spec.optional:
            raise ArgumentError(f"{name} is required: {spec}", name)
        return None
    if raw.startswith("@"):
        return _load_file(name, raw, ndim)
    if raw.lstrip().startswith("[") or isinstance(spec, ArrayParam):
        return _json(name, raw)
    try:
        parts = [float(v) for v in raw.split(",")]
    except ValueError:
        raise ArgumentError(f"{name}={raw!r}: expected a number, comma-separated numbers, a JSON array or @FILE",
                            name) from None
    return parts[0] if len(parts) == 1 else _tensor(name, parts, "the list")


def parse_assignments(result: str, assignments: tuple[str, ...] | list[str], params: Mapping[str, Any]) -> dict:
    """Keyword arguments for result ``result`` (whose parameters and their specs are ``params``) from
    ``KEY=VALUE`` strings; optional array parameters left out are ``None``."""
    from learndyn.domain import ArrayParam

    raw: dict[str, str] = {}
    for item in assignments:
        if "=" not in item:
            raise ArgumentError(f"{item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        key = key.strip()
        if key not in params:
            raise ArgumentError(f"{result} has no parameter {key!r}; its parameters: {', '.join(params)}", key)
        if key in raw:
            raise ArgumentError(f"{key} is given twice ({key}={raw[key]} and {key}={value}); give it once", key)
        raw[key] = value
    kwargs = {key: parse_value(key, value, params[key]) for key, value in raw.items()}
    missing = []
    for name, spec in params.items():
        if name not in kwargs:
            if isinstance(spec, ArrayParam) and spec.optional:
                kwargs[name] = None
            else:
                missing.append(name)
    if missing:
        raise ArgumentError(f"{result} needs {', '.join(f'{m}=...' for m in missing)}")
    return {name: kwargs[name] for name in params}
