"""Layer-by-layer composition of infinite-width kernels (NNGP and NTK) over a data set, in float64 round-off.

Per pair of inputs the composition carries ``q1``, ``q2`` (the two variances), ``c`` (the covariance), and,
computed without cancellation, ``det = q1 q2 − c²``, ``dist = q1 + q2 − 2c = E[(u_a − u_b)²]`` and
``diff = q1 − q2``:

    input:       K⁰ = x1 x2ᵀ/d, det⁰ = |x1|² |r|²/d² (r: x2's component orthogonal to x1), dist⁰ = |x1 − x2|²/d,
                 diff⁰ = (x1 − x2)·(x1 + x2)/d
    dense:       q ↦ σ_w² q + σ_b², c ↦ σ_w² c + σ_b², det ↦ σ_w⁴ det + σ_w² σ_b² dist, dist ↦ σ_w² dist,
                 diff ↦ σ_w² diff, Θ ↦ K + σ_w² Θ
    activation:  (T11, T22, T12, Ṫ12, det_T, dist_T, diff_T) from the generated layer function, Θ ↦ Ṫ12 Θ

so the angle between nearly identical (or opposite) inputs, on which the ReLU maps depend through ``√det``,
keeps its relative accuracy through every layer, and the erf layer's ``T12`` is formed from these carried gaps
rather than from ``c`` alone (in the chaotic phase the map of ``c`` multiplies its rounding by ``χ1`` per layer).
Identical rows get ``det = dist = diff = 0`` exactly.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Callable

import torch

from learndyn.domain import DomainError
from learndyn.numerics import double_double as _dd
from learndyn.numerics.special import _two_product

__all__ = ["compose", "input_moments", "OVERFLOW", "UNDERFLOW"]

#: largest variance allowed: products of two variances must stay finite
OVERFLOW = 1e150
#: smallest positive variance allowed: products of two variances must stay normal
UNDERFLOW = 1e-150
_CHUNK = 2**22  # entries of one (rows, cols, d) work array


def input_moments(x1: torch.Tensor, x2: torch.Tensor, combine: Callable | None = None) -> tuple[torch.Tensor, ...]:
    r"""``(q1 (n1, 1), q2 (1, n2), c, det, dist, diff)`` of ``K⁰ = x1 x2ᵀ/d``; ``det``, ``dist`` and ``diff = q1 − q2``
    without cancellation, each to a few units of round-off of itself.

    Fast path, by matrix products (:func:`_gram_double_double`): the inner products and squared norms in
    double-double, from which ``dist = |x1|² + |x2|² − 2c``, ``det = |x1|²|x2|² − c²`` and ``|x1|² − |x2|²`` are formed
    in double-double with a proven bound on their error (that of the low parts' products). Entries whose bound exceeds
    one unit of round-off of the value (nearly parallel or opposite rows, equal norms, identical rows) are
    recomputed pair by pair from the rows themselves (:func:`_exact_pairs`); on generic data that is a few per
    thousand. ``combine`` is :func:`_combine` (or its compiled form)."""
    combine = _combine if combine is None else combine
    d = x1.shape[1]
    (a1, a1_err), (a2, a2_err), c, c_err = _gram_double_double(x1, x2)
    a1_hi, a2_hi, c_hi = a1[0], a2[0].T, c[0]
    dist_hi, det_hi, diff_hi, unsure = combine(*a1, a1_err, a2[0].T, a2[1].T, a2_err.T, *c, c_err)
    c_out = c_hi.clone()
    rows, cols = torch.nonzero(unsure, as_tuple=True)
    if rows.numel():
        norms = a1_hi.reshape(-1)[rows]
        e_det, e_dist, e_diff = _exact_pairs(x1, x2, rows, cols, norms)
        dist_hi = dist_hi.index_put((rows, cols), e_dist)
        det_hi = det_hi.index_put((rows, cols), e_det)
        diff_hi = diff_hi.index_put((rows, cols), e_diff)
        same = e_dist == 0  # identical rows: |x1|² itself (no square root to differentiate at 0), det = diff = 0
        if bool(same.any()):
            r, k = rows[same], cols[same]
            c_out = c_out.index_put((r, k), norms[same])
            det_hi = det_hi.index_put((r, k), torch.zeros_like(norms[same]))
            diff_hi = diff_hi.index_put((r, k), torch.zeros_like(norms[same]))
    return a1_hi / d, a2_hi / d, c_out / d, det_hi.clamp(min=0) / d**2, dist_hi.clamp(min=0) / d, diff_hi / d


def _combine(a1_hi, a1_lo, a1_err, a2_hi, a2_lo, a2_err, c_hi, c_lo, c_err):
    """``(dist, det, diff, unsure)`` from the double-double norms and inner products with their error bounds: each gap
    formed in double-double and rounded once; ``unsure`` where the bound exceeds one unit of round-off of the value."""
    a1, a2, c = (a1_hi, a1_lo), (a2_hi, a2_lo), (c_hi, c_lo)
    dist = _dd.value(_dd.sub(_dd.add(a1, a2), _dd.mul(2.0, c)))
    det = _dd.value(_dd.sub(_dd.mul(a1, a2), _dd.mul(c, c)))
    diff = _dd.value(_dd.sub(a1, a2))
    u = torch.finfo(c_hi.dtype).eps / 2
    dist_err = 2 * c_err + a1_err + a2_err
    det_err = a2_hi * a1_err + a1_hi * a2_err + 2 * c_hi.abs() * c_err + 2 * c_err * c_err + a1_err * a2_err
    unsure = (dist_err > u * dist.abs()) | (det_err > u * det.abs()) | ((a1_err + a2_err) > u * diff.abs())
    return dist, det, diff, unsure


def _split_rows(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x = hi + lo`` exactly, ``hi`` an integer multiple of ``unit = 2^{e − bits}`` per row (``2^e ≥ max|x_row|``, so
    ``|hi| ≤ 2^bits unit``) and ``|lo| ≤ unit/2``."""
    top = x.abs().amax(1, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny)
    scale = torch.exp2(torch.ceil(torch.log2(top)))
    scale = torch.where(scale < top, 2 * scale, scale)
    unit = scale * 2.0 ** -bits
    hi = torch.round(x / unit) * unit
    return hi, x - hi, unit


def _gram_double_double(x1: torch.Tensor, x2: torch.Tensor):
    r"""Squared row norms of ``x1`` and ``x2`` and the inner products ``x1 x2ᵀ`` as double-doubles, each with a
    bound on its error (Ozaki's splitting): with ``2 bits + ⌈log₂ d⌉ ≤ 53``, every product of two high parts is an
    integer multiple of ``unit₁ unit₂`` below ``2^{2 bits}`` and every partial sum of ``d`` of them is exact, so
    ``hi₁ hi₂ᵀ`` is exact whatever the summation order; the rest ``hi₁ lo₂ᵀ + lo₁ x₂ᵀ`` is rounded, with error at most
    ``(d + 2) u Σ_k (|hi₁||lo₂| + |lo₁||x₂|) ≤ (d + 2) u √d (unit₂ |x₁| + unit₁ |x₂|)/2·(1 + 2^{−bits})``."""
    d = x1.shape[1]
    bits = (53 - max(1, math.ceil(math.log2(max(d, 2))))) // 2
    u = torch.finfo(x1.dtype).eps / 2
    h1, l1, unit1 = _split_rows(x1, bits)
    h2, l2, unit2 = _split_rows(x2, bits)
    gamma = (d + 4) * u * math.sqrt(d) * (1 + 2.0 ** -bits)
    norm1 = torch.sqrt((x1 * x1).sum(1, keepdim=True)) * (1 + d * u)  # upper bounds of |x|
    norm2 = torch.sqrt((x2 * x2).sum(1, keepdim=True)) * (1 + d * u)
    c = _dd.two_sum(h1 @ h2.T, h1 @ l2.T + l1 @ x2.T)
    c_err = gamma * (unit2.T * norm1 + unit1 * norm2.T)  # (n1, n2)
    # |x|² = Σ hi² (exact) + Σ lo (hi + x) (rounded; hi + x itself rounds, within the same bound)
    a1 = _dd.two_sum((h1 * h1).sum(1, keepdim=True), (l1 * (h1 + x1)).sum(1, keepdim=True))
    a2 = _dd.two_sum((h2 * h2).sum(1, keepdim=True), (l2 * (h2 + x2)).sum(1, keepdim=True))
    a1_err = 2 * gamma * unit1 * norm1
    a2_err = 2 * gamma * unit2 * norm2
    return (a1, a1_err), (a2, a2_err), c, c_err


def _exact_pairs(x1: torch.Tensor, x2: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                 norms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(det, dist, diff)`` (not yet divided by ``d``) of the pairs ``(x1[rows], x2[cols])`` from the rows:
    ``dist = |x1 − x2|²``, ``diff = (x1 − x2)·(x1 + x2)``, ``det = |x1|² |r|²`` with ``r`` the component of ``x2``
    orthogonal to ``x1`` (projected out twice, each product split exactly by Dekker's two-product, so the only
    rounding left is along ``x1``, removed by the second pass, or relative to ``r``)."""
    d = x1.shape[1]
    step = max(1, _CHUNK // max(1, d))
    det, dist, diff_norms = [], [], []
    for i in range(0, rows.numel(), step):
        xa, xb = x1[rows[i:i + step]], x2[cols[i:i + step]]
        norm = norms[i:i + step]
        diff = xa - xb
        dist.append((diff * diff).sum(-1))
        diff_norms.append((diff * (xa + xb)).sum(-1))
        safe = norm.clamp(min=torch.finfo(x1.dtype).tiny)[:, None]
        r = xb
        for _ in range(2):
            alpha = (r * xa).sum(-1, keepdim=True) / safe
            p, e = _two_product(alpha.expand_as(xa), xa)
            r = (r - p) - e
        det.append(norm * (r * r).sum(-1))
    return torch.cat(det), torch.cat(dist), torch.cat(diff_norms)


def _fail(name: str, layers: int, layer: int, what: str, sigma_w2: float, sigma_b2: float, activation: str) -> None:
    raise DomainError(
        f"{name}: parameter 'hidden_layers' = {layers} is outside its domain for sigma_w2 = {sigma_w2!r}, "
        f"sigma_b2 = {sigma_b2!r}, activation = {activation!r}: the kernel {what} float64 at layer {layer} "
        f"(variances must stay within [{UNDERFLOW:g}, {OVERFLOW:g}], where products of two variances are exact); "
        f"ask for fewer than {layer} hidden layers")


#: row blocks of a symmetric kernel: block ``I`` composes its rows against the columns from its first row on, so
#: ``(k + 1)/(2k)`` of the entries are composed for ``k`` blocks, and per-row quantities stay per row; ``k`` grows
#: with ``n²/BLOCK_ENTRIES`` up to ``BLOCKS`` (each block costs a call per layer)
BLOCKS = 8
BLOCK_ENTRIES = 2**17


def compose(x1: torch.Tensor, x2: torch.Tensor | None, hidden_layers: int, sigma_w2: float, sigma_b2: float,
            activation: str, layer: Callable, output: str, name: str, fast: Callable | None = None):
    """The ``(n1, n2)`` NNGP (``output="nngp"``), NTK (``"ntk"``) or both (``"both"``: ``(nngp, ntk)``, one pass over
    the layers) of the readout, composing ``layer`` (the generated per-activation map ``(q1, q2, c, det, diff) -> (T11,
    T22, T12, Ṫ12, det_T, dist_T, diff_T)``); raises a :class:`DomainError` naming ``hidden_layers`` where a variance
    would leave float64's safe range. With ``x2`` ``None`` the kernel is symmetric: row blocks are composed against the
    columns from their first row on (about half the work) and the upper triangle is mirrored.

    ``fast`` (the activation's fast layer, where it has one: the maps' forms, ``det_T = T11 T22 − T12²`` and ``dist_T =
    T11 + T22 − 2 T12`` by their definitions) runs on every pair; the carried ``layer`` only where the definitions
    cancel: where ``T11 T22 + T12² > FAST_CONDITION |det_T|`` or ``T11 + T22 + 2|T12| > FAST_CONDITION dist_T``
    (identical pairs keep ``T12 = T11`` and zero gaps in the fast step itself). The maps are exact to a few units of
    round-off ``u`` each, so a kept ``det_T`` or ``dist_T`` is
    within about ``(4·FAST_CONDITION + 1) u < 2^{−46}`` of itself; where a gradient is needed the carried layer runs
    everywhere."""
    symmetric = x2 is None
    if symmetric:
        x2 = x1
    if x2.shape[1] != x1.shape[1]:
        raise DomainError(f"{name}: parameter 'x2' has {x2.shape[1]} columns but x1 has {x1.shape[1]}: both must be (n, d)")
    x2 = x2.to(dtype=x1.dtype, device=x1.device)
    w, b = float(sigma_w2), float(sigma_b2)
    n1, n2 = x1.shape[0], x2.shape[0]
    count = max(1, min(BLOCKS, round(n1 * n1 / BLOCK_ENTRIES), n1 // 2))
    if symmetric and count > 1:
        edges = [round(i * n1 / count) for i in range(count + 1)]
        blocks = [(slice(r0, r1), slice(r0, None)) for r0, r1 in zip(edges[:-1], edges[1:])]
        entries = sum((r1 - r0) * (n1 - r0) for r0, r1 in zip(edges[:-1], edges[1:]))
    else:
        blocks = [(slice(None), slice(None))]
        entries = n1 * n2
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (x1, x2))
    step, combine = _plan(layer, None if needs_grad else fast, w, b, entries * max(hidden_layers, 1), needs_grad, x1)
    if len(blocks) >= 4:  # the input moments per block (the lower triangle's share is worth its calls)
        states = [_dense(w, b, *input_moments(x1[r], x2[k], combine)) for r, k in blocks]
    else:
        q1, q2, c, det, dist, diff = input_moments(x1, x2, combine)
        states = [_dense(w, b, q1[r], q2[:, k], c[r, k], det[r, k], dist[r, k], diff[r, k]) for r, k in blocks]
    states = [(*state, state[2], _same(state[4])) for state in states]  # + (Θ = K¹, identical pairs)
    for l in range(1, hidden_layers + 2):
        _check(l, states, name, hidden_layers, sigma_w2, sigma_b2, activation)
        if l <= hidden_layers:
            states = [step(*state) for state in states]
    nngp, ntk = _assemble([st[2] for st in states], blocks, (n1, n2), symmetric), _assemble(
        [st[6] for st in states], blocks, (n1, n2), symmetric)
    return {"nngp": nngp, "ntk": ntk, "both": (nngp, ntk)}[output]


#: entries × layers from which the layers run compiled (``torch.compile``, inductor: one fused loop per layer, about
#: 3× faster than eager torch), from the second such call of an activation on: the first compile costs seconds
#: (tens on a cold cache), which one call of that size would not repay
COMPILE_MIN_WORK = 2**20
_CALLS: dict = {}
_COMPILED: dict = {}
_FAILED: set = set()


def _plan(layer: Callable, fast: Callable | None, w: float, b: float, work: int, needs_grad: bool,
          like: torch.Tensor) -> tuple[Callable, Callable]:
    """The layer step and the input moments' :func:`_combine` for a composition of ``work`` entries × layers: the
    fast layer on every pair with the carried one where its bound fails (``fast`` given), else the carried layer;
    each compiled where it repays (see :data:`COMPILE_MIN_WORK`; never where a gradient is needed, nor with
    ``LEARNDYN_COMPILE=0``), else eager. The variances ``w``, ``b`` enter the compiled steps as tensors, so one
    compiled step serves every ``σ_w², σ_b²``."""
    from learndyn.fused import compile_enabled

    careful = functools.partial(_layer_step, layer, w, b)
    quick = functools.partial(_fast_step, fast, w, b) if fast is not None else None
    combine = _combine
    key = (layer, like.device.type, like.dtype)
    compiled_ok = not (needs_grad or work < COMPILE_MIN_WORK or not compile_enabled() or key in _FAILED)
    if compiled_ok:
        _CALLS[key] = _CALLS.get(key, 0) + 1
        compiled_ok = _CALLS[key] >= 2
    if compiled_ok:
        w_t, b_t = (torch.tensor(v, dtype=like.dtype, device=like.device) for v in (w, b))
        careful = _compiled(key, _tensor_step, layer, w_t, b_t, careful)
        if fast is not None:
            quick = _compiled((fast, *key[1:]), _tensor_fast_step, fast, w_t, b_t, quick)
        combine = _compiled_plain((_combine, *key[1:]), _combine)
    step = careful if quick is None else functools.partial(_hybrid_step, quick, careful)
    return step, combine


def _compiled_plain(key: tuple, fn: Callable, eager: Callable | None = None) -> Callable:
    """``fn`` compiled once per ``key`` (dynamic shapes), falling back to ``eager`` (default ``fn`` itself; eager from
    then on, with one warning) where compiling fails."""
    from learndyn.fused import compile_accurately

    eager = fn if eager is None else eager
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = compile_accurately(fn, dynamic=True)

    def run(*args):
        if key in _FAILED:
            return eager(*args)
        try:
            return compiled(*args)
        except Exception as error:  # noqa: BLE001 - any compile failure: eager from now on, said once
            _FAILED.add(key)
            warnings.warn(f"learndyn: the kernel composition runs eagerly; torch.compile failed ({error!r})",
                          RuntimeWarning, stacklevel=2)
            return eager(*args)
    return run


def _compiled(key: tuple, step: Callable, layer: Callable, w_t: torch.Tensor, b_t: torch.Tensor,
              eager: Callable) -> Callable:
    """``step(layer, w_t, b_t, *state)`` compiled once per ``key`` (with dynamic shapes), falling back to ``eager``
    (and eager from then on, with one warning) where compiling fails."""
    run = _compiled_plain(key, functools.partial(step, layer), lambda w, b, *state: eager(*state))
    return lambda *state: run(w_t, b_t, *state)


def _tensor_step(layer: Callable, w: torch.Tensor, b: torch.Tensor, *state):
    """:func:`_layer_step` with ``σ_w², σ_b²`` as 0-d tensors (what the compiled step is traced from)."""
    return _layer_step(layer, w, b, *state)


def _tensor_fast_step(fast: Callable, w: torch.Tensor, b: torch.Tensor, *state):
    """:func:`_fast_step` with ``σ_w², σ_b²`` as 0-d tensors."""
    return _fast_step(fast, w, b, *state)


#: the condition number up to which the fast layer's ``det_T``, ``dist_T`` (formed by their definitions) are kept
FAST_CONDITION = 12


def _fast_step(fast: Callable, w, b, q1, q2, c, det, dist, diff, theta, same):
    """The fast layer and the dense layer on every pair, and the pairs whose ``det_T`` or ``dist_T`` the definitions
    would not give to ``2^{−46}`` (``FAST_CONDITION``): ``(q1, q2, c, det, dist, diff, Θ, unsure)``. Identical pairs
    (``same``) stay identical here: ``T12 = T11`` and zero gaps (``Ṫ12`` at ``c = q``, ``det = 0`` is the map's own)."""
    t11, t22, t12, tdot12, det_t, dist_t, diff_t = fast(q1, q2, c, det.clamp(min=0), diff)
    unsure = ((FAST_CONDITION * det_t.abs() < t11 * t22 + t12 * t12)
              | (FAST_CONDITION * dist_t.abs() < t11 + t22 + 2 * t12.abs()) | ~torch.isfinite(det_t))
    if same is not None:
        zero = torch.zeros_like(det_t)
        t12 = torch.where(same, t11.expand_as(t12), t12)
        det_t, dist_t, diff_t = (torch.where(same, zero, v) for v in (det_t, dist_t, diff_t))
        unsure = unsure & ~same
    q1, q2, c, det, dist, diff = _dense(w, b, t11, t22, t12, det_t, dist_t, diff_t)
    return q1, q2, c, det, dist, diff, c + w * (tdot12 * theta), unsure


def _hybrid_step(quick: Callable, careful: Callable, q1, q2, c, det, dist, diff, theta, same):
    """One layer: ``quick`` (:func:`_fast_step`) on every pair, ``careful`` (:func:`_layer_step`) on the pairs it
    leaves unsure, gathered and scattered back (the variances are the same in both)."""
    *state, unsure = quick(q1, q2, c, det, dist, diff, theta, same)
    idx = torch.nonzero(unsure, as_tuple=True)
    if idx[0].numel():
        shape = c.shape
        sub = careful(q1.expand(shape)[idx], q2.expand(shape)[idx], c[idx], det[idx], dist[idx], diff[idx], theta[idx],
                      same[idx] if same is not None else None)
        for s, v in zip(state[2:], sub[2:7]):  # fresh tensors of this step, never part of a graph (no gradient here)
            s.index_put_(idx, v)
    return (*state, same)


def _dense(w: float, b: float, q1, q2, c, det, dist, diff):
    """The dense layer on the carried moments (``det`` and ``dist`` without cancellation)."""
    return w * q1 + b, w * q2 + b, w * c + b, w * w * det + w * b * dist, w * dist, w * diff


def _same(dist: torch.Tensor) -> torch.Tensor | None:
    """The identical pairs (``dist = 0``), or ``None`` where there are none."""
    same = dist == 0
    return same if bool(same.any()) else None


def _check(l: int, states, name, hidden_layers, sigma_w2, sigma_b2, activation) -> None:
    """A range check of every block before layer ``l`` (not part of the graph)."""
    top, low = 0.0, math.inf
    for q1, q2, _, _, _, _, theta, _ in states:
        q1, q2, theta = q1.detach(), q2.detach(), theta.detach()
        top = max(top, float(q1.max()), float(q2.max()), float(theta.abs().max()) if theta.numel() else 0.0)
        low = min(low, float(q1.min()), float(q2.min()))
    if not top <= OVERFLOW:
        _fail(name, hidden_layers, l, "overflows", sigma_w2, sigma_b2, activation)
    if low < UNDERFLOW:
        _fail(name, hidden_layers, l, "underflows", sigma_w2, sigma_b2, activation)


def _layer_step(layer: Callable, w: float, b: float, q1, q2, c, det, dist, diff, theta, same):
    """One hidden layer (activation, then dense) on one block's carried moments and ``Θ``."""
    c_in, det_in = c, det.clamp(min=0)
    if same is not None:  # identical pairs are evaluated at a harmless point (c = 0, det = q1 q2) and replaced
        c_in = torch.where(same, torch.zeros_like(c), c)  # below: a square root's inf·0 at det = 0 would leak
        det_in = torch.where(same, (q1 * q2).expand_as(det), det_in)  # a NaN into the gradient
    t11, t22, t12, tdot12, det_t, dist_t, diff_t = layer(q1, q2, c_in, det_in, diff)
    if same is not None:  # identical inputs stay identical: no rounding may separate them
        t12 = torch.where(same, t11.expand_as(t12), t12)
        zero = torch.zeros_like(q1)  # Ṫ at identical inputs: the layer on the diagonal, det a constant 0
        tdot12 = torch.where(same, layer(q1, q1, q1, zero, zero)[3].expand_as(tdot12), tdot12)
        det_t = torch.where(same, torch.zeros_like(det_t), det_t)
        dist_t = torch.where(same, torch.zeros_like(dist_t), dist_t)
        diff_t = torch.where(same, torch.zeros_like(diff_t), diff_t)
    theta = tdot12 * theta
    q1, q2, c, det, dist, diff = _dense(w, b, t11, t22, t12, det_t, dist_t, diff_t)
    return q1, q2, c, det, dist, diff, c + w * theta, same


def _assemble(parts: list, blocks: list, shape: tuple, symmetric: bool) -> torch.Tensor:
    """The ``(n1, n2)`` kernel from its blocks; a symmetric one from its upper triangle, mirrored."""
    if len(parts) == 1:
        out = parts[0].expand(shape)
    else:
        out = parts[0].new_zeros(shape)
        for part, (r, k) in zip(parts, blocks):
            out[r, k] = part
    if symmetric:
        upper = torch.triu(out)
        out = upper + torch.triu(out, 1).T
    return out
