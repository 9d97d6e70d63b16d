"""Group ``similarity``: every pair of layers in one batched call of :mod:`learndyn.similarity`, against the
covariance-inverse CCA written naively in torch and, where a checkout of google/svcca is given, its numpy
``cca_core.get_cca_similarity`` — all on the same activations, per pair of layers.

The activations are those of one random deep ReLU network (He initialisation, ``layers`` layers of ``width``
neurons) on ``n`` Gaussian inputs: ``(layers, n, width)``, float64. Every baseline gets the per-layer work done
once (the SVD that SVCCA truncates with; the centred Gram matrix of CKA), then loops over the ``layers²`` pairs:

* **SVCCA** (``keep`` leading directions of each layer): learndyn's one call ``svcca(acts[:, None], acts[None],
  keep)`` — which includes its double-double refinement of each layer's basis — against
  - the naive torch CCA ``svdvals(Σ_aa^{-1/2} Σ_ab Σ_bb^{-1/2})`` (inverse square roots by ``eigh``) in a Python loop
    over pairs (speedup), and the same naive CCA batched over all pairs (the cost of exactness);
  - google/svcca's tutorial procedure, ``get_cca_similarity(svacts1, svacts2, epsilon=1e-10, verbose=False)`` on
    the SVD-reduced ``(neurons, datapoints)`` arrays, mean of ``cca_coef1``, in a loop over pairs: only when
    ``$LEARNDYN_SVCCA_PATH`` names a checkout of github.com/google/svcca (the directory holding ``cca_core.py``, or
    the file); the row says "skipped" otherwise. Nothing of it is copied into learndyn.
* **Linear CKA**: learndyn's one call against the per-pair loop over centred Gram matrices
  ``Σ (H K H) ∘ (H L H) / (‖HKH‖ ‖HLH‖)`` (Kornblith et al.'s ``gram_linear``/``center_gram``/``cka``, in torch).

``details`` records the largest difference of each baseline's values from learndyn's on these activations.
"""
from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np
import torch

from learndyn.bench.report import Row
from learndyn.bench.timing import measure, synchronize

__all__ = ["run_similarity", "layer_activations", "naive_cca", "naive_svcca_loop", "naive_cka_loop",
           "google_cca_core", "google_svcca_loop", "SVCCA_PATH_VARIABLE"]

GROUP = "similarity"
SVCCA_PATH_VARIABLE = "LEARNDYN_SVCCA_PATH"


def layer_activations(layers: int, n: int, width: int, *, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    """``(layers, n, width)`` float64: a random He-initialised ReLU network's activations on Gaussian inputs."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    h = torch.randn(n, width, dtype=torch.float64, generator=gen)
    acts = []
    for _ in range(layers):
        w = torch.randn(width, width, dtype=torch.float64, generator=gen) * (2.0 / width) ** 0.5
        h = torch.relu(h @ w + 0.1 * torch.randn(width, dtype=torch.float64, generator=gen))
        acts.append(h)
    return torch.stack(acts).to(device)


def _inverse_sqrt(sigma: torch.Tensor) -> torch.Tensor:
    lam, vec = torch.linalg.eigh(sigma)
    return (vec * lam.rsqrt()[..., None, :]) @ vec.mT


def naive_cca(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Canonical correlations by the covariance route, ``svdvals(Σ_aa^{-1/2} Σ_ab Σ_bb^{-1/2})`` (batched)."""
    ac, bc = a - a.mean(dim=-2, keepdim=True), b - b.mean(dim=-2, keepdim=True)
    n = a.shape[-2]
    saa, sbb, sab = ac.mT @ ac / (n - 1), bc.mT @ bc / (n - 1), ac.mT @ bc / (n - 1)
    return torch.linalg.svdvals(_inverse_sqrt(saa) @ sab @ _inverse_sqrt(sbb)).clamp(0.0, 1.0)


def _reduce(acts: torch.Tensor, keep: int) -> torch.Tensor:
    """Each layer's ``keep`` leading SVD directions, as activations ``(layers, n, keep)`` (SVCCA's first step)."""
    centred = acts - acts.mean(dim=-2, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return centred @ vh[..., :keep, :].mT


def naive_svcca_batched(acts: torch.Tensor, keep: int) -> torch.Tensor:
    """``(layers, layers)`` SVCCA by the naive covariance route, all pairs in one batched call."""
    r = _reduce(acts, keep)
    return naive_cca(r[:, None], r[None]).mean(dim=-1)


def naive_svcca_loop(acts: torch.Tensor, keep: int) -> torch.Tensor:
    """The same, one pair at a time (the per-layer SVD done once)."""
    r = _reduce(acts, keep)
    layers = acts.shape[0]
    return torch.stack([torch.stack([naive_cca(r[i], r[j]).mean() for j in range(layers)]) for i in range(layers)])


def naive_cka_loop(acts: torch.Tensor) -> torch.Tensor:
    """``(layers, layers)`` linear CKA from centred Gram matrices, one pair at a time (the Grams done once)."""
    n = acts.shape[-2]
    h = torch.eye(n, dtype=acts.dtype, device=acts.device) - 1.0 / n
    grams = [h @ (x @ x.T) @ h for x in acts]
    norms = [g.square().sum().sqrt() for g in grams]
    layers = acts.shape[0]
    return torch.stack([torch.stack([(grams[i] * grams[j]).sum() / (norms[i] * norms[j]) for j in range(layers)])
                        for i in range(layers)])


def google_cca_core() -> ModuleType | None:
    """google/svcca's ``cca_core`` from ``$LEARNDYN_SVCCA_PATH`` (a checkout directory or the file), else ``None``."""
    where = os.environ.get(SVCCA_PATH_VARIABLE)
    if not where:
        return None
    path = Path(where)
    path = path / "cca_core.py" if path.is_dir() else path
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_google_svcca_cca_core", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception:  # an unusable checkout is the same as none
        return None
    return module if hasattr(module, "get_cca_similarity") else None


def google_svcca_loop(cca_core: ModuleType, acts: torch.Tensor, keep: int) -> np.ndarray:
    """``(layers, layers)`` SVCCA by google/svcca's tutorial procedure (the per-layer SVD done once, in numpy)."""
    reduced = []
    for x in acts.cpu().numpy():
        c = (x - x.mean(axis=0)).T                                   # their (neurons, datapoints) layout
        _, s, v = np.linalg.svd(c, full_matrices=False)
        reduced.append(np.dot(s[:keep] * np.eye(keep), v[:keep]))
    layers = len(reduced)
    out = np.empty((layers, layers))
    for i in range(layers):
        for j in range(layers):
            res = cca_core.get_cca_similarity(reduced[i], reduced[j], epsilon=1e-10, verbose=False)
            out[i, j] = np.mean(res["cca_coef1"])
    return out


def _per_pair(fn: Callable[[], object], pairs: int, *, repeats: int, warmup: int, device: str) -> float:
    return measure(fn, repeats=repeats, warmup=warmup, device=device).median * 1e6 / pairs


def run_similarity(*, device: str, quick: bool, progress=None) -> list[Row]:
    """SVCCA and CKA of all layer pairs, learndyn batched against the baselines, in µs per pair."""
    from learndyn.similarity import linear_cka, svcca

    layers, n, width, keep = (3, 32, 6, 3) if quick else (32, 1024, 64, 16)
    repeats, warmup = (1, 0) if quick else (5, 1)
    acts = layer_activations(layers, n, width, device=device)
    pairs = layers * layers
    size = {"layers": layers, "examples": n, "width": width, "keep": keep, "pairs": pairs}
    label = f"{layers}×{layers} layer pairs, n={n}, width {width}"
    rows: list[Row] = []

    if progress:
        progress("similarity: svcca")
    ours = svcca(acts[:, None], acts[None], keep)
    t_ours = _per_pair(lambda: svcca(acts[:, None], acts[None], keep), pairs, repeats=repeats, warmup=warmup,
                       device=device)
    loop = naive_svcca_loop(acts, keep)
    batched = naive_svcca_batched(acts, keep)
    t_loop = _per_pair(lambda: naive_svcca_loop(acts, keep), pairs, repeats=repeats, warmup=warmup, device=device)
    t_batched = _per_pair(lambda: naive_svcca_batched(acts, keep), pairs, repeats=repeats, warmup=warmup,
                          device=device)
    details = dict(size, max_abs_difference_to_naive=float((ours - loop).abs().max()))
    rows.append(Row(GROUP, f"svcca, {label}, keep {keep}: one batched call", "µs/pair", t_ours, t_loop,
                    "naive covariance-inverse CCA in torch, loop over pairs", "speedup", details=details))
    rows.append(Row(GROUP, f"svcca, {label}, keep {keep}: exact vs naive, both batched", "µs/pair", t_ours,
                    t_batched, "naive covariance-inverse CCA in torch, batched", "cost",
                    note="the price of the double-double basis", details=dict(
                        size, max_abs_difference_to_naive=float((ours - batched).abs().max()))))

    cca_core = google_cca_core()
    if cca_core is None:
        rows.append(Row(GROUP, f"svcca, {label}, keep {keep}: vs google/svcca", "µs/pair", t_ours, None,
                        "google/svcca get_cca_similarity (numpy), loop over pairs",
                        note=f"skipped: set ${SVCCA_PATH_VARIABLE} to a checkout of github.com/google/svcca",
                        details=size))
    else:
        if progress:
            progress("similarity: google/svcca")
        theirs = google_svcca_loop(cca_core, acts, keep)
        start = time.perf_counter()
        google_svcca_loop(cca_core, acts, keep)
        t_google = (time.perf_counter() - start) * 1e6 / pairs
        rows.append(Row(GROUP, f"svcca, {label}, keep {keep}: vs google/svcca", "µs/pair", t_ours, t_google,
                        "google/svcca get_cca_similarity (numpy), loop over pairs", "speedup", details=dict(
                            size, max_abs_difference_to_google=float(np.abs(ours.cpu().numpy() - theirs).max()))))

    if progress:
        progress("similarity: linear_cka")
    cka = linear_cka(acts[:, None], acts[None])
    naive = naive_cka_loop(acts)
    t_cka = _per_pair(lambda: linear_cka(acts[:, None], acts[None]), pairs, repeats=repeats, warmup=warmup,
                      device=device)
    t_naive = _per_pair(lambda: naive_cka_loop(acts), pairs, repeats=repeats, warmup=warmup, device=device)
    rows.append(Row(GROUP, f"linear_cka, {label}: one batched call", "µs/pair", t_cka, t_naive,
                    "centred Gram matrices in torch, loop over pairs", "speedup", details=dict(
                        size, max_abs_difference_to_naive=float((cka - naive).abs().max()))))
    synchronize(device)
    return rows
