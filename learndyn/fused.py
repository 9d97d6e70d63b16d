"""Fused evaluation of the generated closed forms on large inputs: what ``learndyn.function`` runs above
:data:`MIN_ELEMENTS` elements.

Eager torch evaluates a generated closed form one operation at a time, and each operation writes a temporary
the size of the inputs: at 10⁷ float64 points the stable forms (``exprel`` with its series branch, both sides of
a ``torch.where``) move gigabytes through memory, and eager torch loses to a numpy ``lambdify`` of the textbook
formula. Above the threshold the same generated function runs under ``torch.compile`` (inductor), which fuses it
into one pass over the inputs that writes one output, and the domain check becomes a reduction in that pass (one
flag; only when it fails does the eager check run, to name the parameter and value).

* Compiled once per function and *signature* (device, dtype, ranks and size-1 axes of the tensor arguments, the
  integer and categorical arguments), with dynamic shapes, so every size of that signature reuses it. The first
  call of a new signature pays the compile (seconds to tens of seconds, :attr:`FusedFunction.compile_seconds`);
  later calls never recompile (a guard miss runs eagerly instead). Smaller inputs never compile.
* The result is the eager result to float64 round-off: the same operations on the same values (inductor keeps
  ``-ffp-contract=off`` and no unsafe-math flags, so the error-free products of ``gram2`` stay exact). One
  inductor shortcut is undone: its vectorised CPU ``expm1`` is ``exp(x) − 1``, which loses ``ε/|x|`` relative near
  0; while learndyn compiles, ``expm1`` is printed as the vectorised (SLEEF) ``expm1`` that eager torch uses, and
  an identity graph pass with its own id keeps such kernels apart in inductor's on-disk cache.
* Eager whenever a gradient is needed (inputs requiring grad under grad mode: the custom backward passes stay
  exactly as written), for the results that iterate (solvers, kernel compositions, spectral flows, the deep-mode
  solve), when ``LEARNDYN_COMPILE=0``, and after any compile error (a warning, once per function).
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import time
import types
import warnings
from typing import Any, Callable

import torch

from learndyn.domain import ArrayParam, Domain, DomainError, Interval
from learndyn.numerics.tensors import as_tensors

__all__ = ["FusedFunction", "fused", "eligible", "empty_output", "compile_accurately", "MIN_ELEMENTS", "MAX_SIGNATURES", "compile_enabled"]

#: broadcast size (elements) from which a call is evaluated by the compiled, fused function
MIN_ELEMENTS = int(os.environ.get("LEARNDYN_COMPILE_MIN", 2**19))
#: compiled signatures per function (beyond them, new signatures run eagerly)
MAX_SIGNATURES = 6
#: global names whose use marks an iterative result (not one expression): never compiled
_ITERATIVE = ("_roots", "_kernels", "_flow", "_deep_mode", "_spectral")
_LOCK = threading.RLock()


def compile_enabled() -> bool:
    """False when ``LEARNDYN_COMPILE=0`` (read at every call, so tests and users can switch it)."""
    return os.environ.get("LEARNDYN_COMPILE", "1") != "0"


def eligible(fn: Callable, domain: Domain) -> bool:
    """Whether ``fn`` is one expression of its real parameters (an explicit closed form): no array parameters
    and no call into the iterative numerics."""
    if any(isinstance(spec, ArrayParam) for spec in domain.params.values()):
        return False
    names = fn.__code__.co_names
    return not any(n in _ITERATIVE or n.startswith("_solve_") for n in names)


class _CacheKey:
    """An identity graph pass whose id marks learndyn's kernels in inductor's cache (they print ``expm1``
    differently from inductor's default); see the module docstring."""

    def __call__(self, graph) -> None:  # noqa: D401 - the identity
        return None

    def uuid(self) -> str:
        return "learndyn-accurate-expm1-v1"


@functools.lru_cache(maxsize=1)
def _cache_key_pass():
    try:
        from torch._inductor.custom_graph_pass import CustomGraphPass
    except ImportError:  # pragma: no cover - older torch
        return None
    return type("LearndynCacheKey", (_CacheKey, CustomGraphPass), {})()


@contextlib.contextmanager
def _accurate_expm1():
    """While inductor generates code: vectorised CPU ``expm1`` as ``Vectorized::expm1()`` (SLEEF, 1 ulp) instead of
    ``exp() − 1``."""
    try:
        from torch._inductor.codegen.cpp import CppVecOverrides
    except ImportError:  # pragma: no cover - no inductor
        yield
        return
    old = CppVecOverrides.__dict__.get("expm1")

    def expm1(x):
        return f"{x}.expm1()"

    CppVecOverrides.expm1 = staticmethod(expm1)
    try:
        yield
    finally:
        if old is not None:
            CppVecOverrides.expm1 = old


_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14


@functools.lru_cache(maxsize=1)
def _madvise():
    try:
        import ctypes
        import sys

        if not sys.platform.startswith("linux"):
            return None
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return libc.madvise
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None


def empty_output(shape, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``torch.empty`` for an output the fused loop writes once; on Linux CPU, a large one is advised to use
    transparent huge pages (as numpy does for its arrays): first-touch page faults of a fresh 80 MB output
    otherwise cost about as much as computing it."""
    out = torch.empty(shape, dtype=dtype, device=device)
    nbytes = out.numel() * out.element_size()
    madvise = _madvise() if out.device.type == "cpu" and nbytes >= 2 * _HUGE_PAGE else None
    if madvise is not None:
        ptr = out.data_ptr()
        start = -(-ptr // _HUGE_PAGE) * _HUGE_PAGE
        end = (ptr + nbytes) // _HUGE_PAGE * _HUGE_PAGE
        if end > start:
            madvise(start, end - start, _MADV_HUGEPAGE)  # advice only: a failure changes nothing
    return out


def compile_accurately(fn: Callable, *, dynamic: bool = True, fullgraph: bool = True) -> Callable:
    """``torch.compile(fn)`` as learndyn compiles: vectorised ``expm1`` as accurate as eager torch's, and an own key
    in inductor's cache (see the module docstring). Compiles on the first call. A ``functools.partial`` is compiled as
    a function of its own (dynamo would file every partial under one shared code object, with one recompile limit)."""
    if isinstance(fn, functools.partial):
        partial = fn

        def partial_call(*args, **kwargs):
            return partial(*args, **kwargs)

        fn = _uniquely_named(partial_call, f"learndyn_partial_{getattr(partial.func, '__name__', 'fn')}_{id(partial):x}")
    options = {}
    key = _cache_key_pass()
    if key is not None:
        options["post_grad_custom_post_pass"] = key
    compiled = torch.compile(fn, dynamic=dynamic, fullgraph=fullgraph, options=options)

    def call(*args, **kwargs):
        with _accurate_expm1(), warnings.catch_warnings():
            # inductor itself still calls the deprecated torch.jit.script_method while compiling (torch 2.13): not ours
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.script_method` is deprecated", category=DeprecationWarning)
            return compiled(*args, **kwargs)

    call.__wrapped__ = fn
    return call


def _broadcast_numel(values) -> int:
    shapes = [v.shape for v in values if isinstance(v, torch.Tensor)]
    if not shapes:
        return 1
    try:
        return math.prod(torch.broadcast_shapes(*shapes))
    except RuntimeError:  # shapes that do not broadcast: let the eager path raise its own error
        return 0


def _signature(values) -> tuple:
    sig = []
    for v in values:
        if isinstance(v, torch.Tensor):
            sig.append((v.device.type, v.dtype, tuple(s == 1 for s in v.shape)))
        else:
            sig.append(("value", type(v).__name__, v))
    return tuple(sig)


def _uniquely_named(fn: Callable, name: str) -> Callable:
    """``fn`` with its own code object: torch.compile keeps its compiled code (and its limit on recompiles) per
    code object, so each result must not share the fused template's."""
    names = {"co_name": name, **({"co_qualname": name} if hasattr(fn.__code__, "co_qualname") else {})}
    code = fn.__code__.replace(**names)
    return types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)


def _template(fn: Callable, names: tuple[str, ...], intervals: tuple, relations: tuple) -> Callable:
    """``(buffer, *values) -> (out, ok)``: the generated function without its eager check (written into ``buffer``
    unless it is ``None``), and the domain's intervals and relations as one boolean (reductions fused with the
    evaluation)."""

    def fused_eval(buffer, *values):
        out = fn(*values, check=False)
        if buffer is not None:  # written in place by the fused loop (no fresh allocation of the output)
            out = buffer.copy_(out)
        # an interval holds every element iff it holds the smallest and the largest (NaN propagates through both);
        # float reductions vectorise in the fused loop, boolean ones (``.all()`` of a mask) do not
        flags = []
        for index, spec in intervals:
            v = values[index]
            flags += [spec.contains(v.amin()), spec.contains(v.amax())]
        for rel in relations:
            holds = torch.as_tensor(rel.holds(**{p: values[names.index(p)] for p in rel.params}))
            flags.append(torch.where(holds, 0.0, 1.0).amax() == 0)
        return out, torch.stack(flags).all()

    return fused_eval


class FusedFunction:
    """A generated function that evaluates large inputs in one compiled pass (see the module docstring).

    Called exactly like the generated function (THEORY.md's keywords, ``check=``); ``check`` defaults to the value
    given to ``learndyn.function``. ``__wrapped__`` is the generated function itself."""

    def __init__(self, name: str, fn: Callable, domain: Domain, *, check: bool = True):
        self.name = name
        self.__wrapped__ = fn
        self._check = check
        self._domain = domain
        self._names = tuple(domain.params)
        self._reals = tuple(i for i, spec in enumerate(domain.params.values()) if isinstance(spec, Interval))
        self._others = {n: s for n, s in domain.params.items() if not isinstance(s, Interval)}
        intervals = tuple((i, spec) for i, spec in enumerate(domain.params.values()) if isinstance(spec, Interval))
        template = _template(fn, self._names, intervals, tuple(domain.relations))
        self._eval = _uniquely_named(template, f"learndyn_fused_{name}")
        #: one tensor out (not a NamedTuple): the fused loop writes it into a preallocated buffer
        self._single = fn.__annotations__.get("return") in ("torch.Tensor", torch.Tensor)
        self._compiled: Callable | None = None
        self._signatures: dict[tuple, float] = {}
        self._failed: str | None = None
        functools.update_wrapper(self, fn)

    # -- the call -------------------------------------------------------------------------------------------
    def __call__(self, *args, check: bool | None = None, **kwargs):
        check = self._check if check is None else check
        fn = self.__wrapped__
        if self._failed is not None or not compile_enabled():
            return fn(*args, check=check, **kwargs)
        values = self._bind(args, kwargs)
        if values is None or _broadcast_numel(values) < MIN_ELEMENTS or self._needs_grad(values):
            return fn(*args, check=check, **kwargs)
        if self._others:
            others = {n: values[self._names.index(n)] for n in self._others}
            try:
                if check:
                    Domain(self.name, self._others).check(others)
                else:
                    self._domain.check_kinds(others)
            except DomainError:
                return fn(*args, check=check, **kwargs)  # raises the eager function's own (first) error
        try:
            values = self._as_tensors(values)
        except TypeError:
            return fn(*args, check=check, **kwargs)
        signature = _signature(values)
        if signature not in self._signatures:
            if len(self._signatures) >= MAX_SIGNATURES:
                return fn(*args, check=check, **kwargs)
            out, ok = self._compile_call(signature, values)
            if out is None:
                return fn(*args, check=check, **kwargs)
        else:
            with torch.compiler.set_stance("eager_on_recompile"):
                out, ok = self._compiled(self._buffer(values), *values)
        if check and not bool(ok):
            fn(*args, check=True, **kwargs)  # raises the DomainError naming the parameter
        return out

    @property
    def compile_seconds(self) -> dict[tuple, float]:
        """Seconds the first (compiling) call took, per compiled signature."""
        return dict(self._signatures)

    @property
    def compiled(self) -> bool:
        """Whether some signature is compiled (and no compile failed)."""
        return bool(self._signatures) and self._failed is None

    # -- helpers --------------------------------------------------------------------------------------------
    def _bind(self, args, kwargs) -> list | None:
        if len(args) > len(self._names):
            return None
        values = list(args) + [None] * (len(self._names) - len(args))
        given = [True] * len(args) + [False] * (len(self._names) - len(args))
        for key, value in kwargs.items():
            if key not in self._names:
                return None
            i = self._names.index(key)
            if given[i]:
                return None
            values[i], given[i] = value, True
        return values if all(given) else None

    @staticmethod
    def _needs_grad(values) -> bool:
        return torch.is_grad_enabled() and any(isinstance(v, torch.Tensor) and v.requires_grad for v in values)

    def _as_tensors(self, values: list) -> list:
        reals = as_tensors(*(values[i] for i in self._reals), domain=self._domain)  # a DomainError names the parameter
        out = list(values)
        for i, v in zip(self._reals, reals):
            out[i] = v
        return out

    def _buffer(self, values: list) -> torch.Tensor | None:
        reals = [values[i] for i in self._reals]
        if not self._single or reals[0].device.type != "cpu":
            return None
        return empty_output(torch.broadcast_shapes(*(v.shape for v in reals)), reals[0].dtype, reals[0].device)

    def _compile_call(self, signature: tuple, values: list):
        with _LOCK:
            start = time.perf_counter()
            try:
                if self._compiled is None:
                    self._compiled = compile_accurately(self._eval)
                out, ok = self._compiled(self._buffer(values), *values)
            except Exception as exc:  # noqa: BLE001 - any compile failure falls back to eager torch
                self._failed = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                warnings.warn(f"learndyn: {self.name} is evaluated eagerly; torch.compile failed ({self._failed})",
                              RuntimeWarning, stacklevel=3)
                return None, None
            if out is not None and isinstance(values[self._reals[0]], torch.Tensor) and values[self._reals[0]].is_cuda:
                torch.cuda.synchronize()
            self._signatures[signature] = time.perf_counter() - start
            return out, ok

    def __repr__(self) -> str:
        return f"<learndyn function {self.name} (fused above {MIN_ELEMENTS} elements)>"


def fused(name: str, fn: Callable, domain: Domain, *, check: bool = True) -> Callable:
    """``fn`` wrapped in a :class:`FusedFunction` when it is an explicit closed form, else ``fn`` itself (with
    ``check`` bound when ``False``)."""
    if eligible(fn, domain):
        return FusedFunction(name, fn, domain, check=check)
    return fn if check else functools.partial(fn, check=False)
