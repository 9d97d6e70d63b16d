"""SVCCA between the recorded layers of many trained networks, every comparison of one layer from one set of bases.

For activations ``A[b, t, l]`` (network ``b``, checkpoint ``t``, layer ``l``; ``(examples, neurons)`` each, from
:func:`learndyn.verify.simulate.noisy_mlp.train_noisy_mlps`) the experiment compares, per layer,

* ``to_final[b, t] = svcca(A[b, t], A[b, T])`` — the layer against its own final state (Raghu et al. 2017's
  learning-dynamics measurement);
* ``to_initial[b, t] = svcca(A[b, t], A[b, 0])`` — against its own start (how much it has learned);
* ``pairs``: ``svcca(A[i, t], A[j, t])`` for given pairs of networks at the same checkpoint (across starts,
  across activations), and ``svcca(A[i, t], A[j, T])`` against another network's final state (the best network);
* ``chance[b] = svcca(A[b, T], A[b, T][π])`` — the same representation with its examples permuted (``π`` fixed),
  which keeps each side's spectrum and removes the correspondence: the SVCCA of unrelated representations of
  this dimensionality and this number of examples (for independent Gaussian ones ``E[Σρ²] = p q/(n − 1)``).

SVCCA (:mod:`learndyn.similarity.svcca`) is the mean canonical correlation of the directions that hold a fraction
``keep`` of each side's variance. It is computed here from the library's own pieces: each representation's basis
(:func:`learndyn.similarity.basis.principal_basis`, the expensive part) once per layer for all networks and
checkpoints, then :func:`learndyn.similarity.cca.canonical_correlations` of the bases of every pair — the same
numbers as :func:`learndyn.similarity.svcca` on the same pairs (tests/test_similarity_experiment.py checks that),
without recomputing a basis for each pair it enters.

A representation that is not finite (a diverged network) or has no variance (every neuron constant, e.g. a layer
of dead ReLUs) has no SVCCA: NaN.

:func:`measure_all` runs every comparison of the experiment (:mod:`learndyn.verify.similarity_experiment`) layer by
layer; the best network of each is chosen by :func:`best_references` (the most accurate network of the same
activation from another seed: never the network itself, nor one that shares its random draws).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from learndyn.similarity.basis import PrincipalBasis, principal_basis
from learndyn.similarity.cca import canonical_correlations

__all__ = ["LayerBases", "layer_bases", "svcca_between", "to_checkpoint", "pairs_over_time", "against_final",
           "chance", "best_references", "final_similarity", "network_pairs", "measure_all"]


class LayerBases:
    """The SVCCA bases of one layer of every network at every checkpoint: ``basis`` with batch ``(B, T)``, and
    ``valid`` (B, T) bool — finite activations with some variance."""

    def __init__(self, basis: PrincipalBasis, valid: torch.Tensor):
        self.basis, self.valid = basis, valid

    def take(self, networks: torch.Tensor | Sequence[int], checkpoints: torch.Tensor | Sequence[int] | slice
             ) -> tuple[PrincipalBasis, torch.Tensor]:
        """The bases (and validity) at ``[networks][:, checkpoints]``."""
        idx = torch.as_tensor(networks, dtype=torch.int64)
        b = self.basis
        sel = (lambda x: x[idx][:, checkpoints])
        return PrincipalBasis(sel(b.q), sel(b.kept), sel(b.rank), sel(b.singular_values), sel(b.centred)), \
            sel(self.valid)


def layer_bases(acts: torch.Tensor, keep: float | int | None, device: str | torch.device = "cpu") -> LayerBases:
    """Bases of ``acts`` (B, T, n, N) (one layer), in float64 on ``device``. Representations that are not finite
    are replaced by zeros (no direction: NaN SVCCA) and marked invalid."""
    x = acts.to(device=device, dtype=torch.float64)
    finite = torch.isfinite(x).flatten(-2).all(-1)
    x = torch.where(finite[..., None, None], x, torch.zeros_like(x))
    basis = principal_basis(x, keep)
    return LayerBases(basis, finite & (basis.kept > 0))


def svcca_between(a: PrincipalBasis, b: PrincipalBasis, valid: torch.Tensor) -> torch.Tensor:
    """SVCCA of broadcast pairs of bases: ``Σ_{i ≤ c} ρ_i / c`` (``c = min(kept_a, kept_b)``), NaN where not
    ``valid``; float64 on the CPU."""
    rho, count = canonical_correlations(a, b)
    value = rho.sum(dim=-1) / count.clamp(min=1).to(rho.dtype)
    return torch.where(valid & (count > 0), value, torch.full_like(value, float("nan"))).cpu()


def to_checkpoint(bases: LayerBases, index: int) -> torch.Tensor:
    """(B, T): every checkpoint of each network against that network's checkpoint ``index`` (−1: the final)."""
    count, total = bases.valid.shape
    every = torch.arange(count)
    a, va = bases.take(every, slice(None))
    b, vb = bases.take(every, slice(index % total, index % total + 1))
    return svcca_between(a, b, va & vb)


def pairs_over_time(bases: LayerBases, pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """(P, T): network ``i`` against network ``j`` at the same checkpoint, for each pair ``(i, j)``."""
    if not pairs:
        return torch.empty((0, bases.valid.shape[1]), dtype=torch.float64)
    i, j = zip(*pairs)
    a, va = bases.take(list(i), slice(None))
    b, vb = bases.take(list(j), slice(None))
    return svcca_between(a, b, va & vb)


def against_final(bases: LayerBases, networks: Sequence[int], references: Sequence[int]) -> torch.Tensor:
    """(P, T): every checkpoint of ``networks[p]`` against the final state of ``references[p]``."""
    if not networks:
        return torch.empty((0, bases.valid.shape[1]), dtype=torch.float64)
    total = bases.valid.shape[1]
    a, va = bases.take(list(networks), slice(None))
    b, vb = bases.take(list(references), slice(total - 1, total))
    return svcca_between(a, b, va & vb)


def chance(acts: torch.Tensor, keep: float | int | None, generator: torch.Generator,
           device: str | torch.device = "cpu") -> torch.Tensor:
    """(B,): SVCCA of each network's final layer ``acts`` (B, n, N) against itself with the examples permuted
    (module docstring); NaN where the representation is not finite or constant."""
    perm = torch.randperm(acts.shape[-2], generator=generator)
    both = layer_bases(torch.stack([acts, acts[:, perm]], dim=1), keep, device)
    a, va = both.take(torch.arange(acts.shape[0]), slice(0, 1))
    b, vb = both.take(torch.arange(acts.shape[0]), slice(1, 2))
    return svcca_between(a, b, va & vb)[:, 0]


def best_references(specs: Sequence, accuracy: torch.Tensor, loss: torch.Tensor, diverged: torch.Tensor
                    ) -> list[int | None]:
    """For each network (``specs``: objects with ``activation`` and ``seed``) its reference: among the networks of
    its activation from *another* seed (any start) that did not diverge (``diverged < 0``), the one with the highest
    ``accuracy`` on the held-out selection rows; among equal accuracies the lowest ``loss`` (cross-entropy on the
    same rows); among equal both, the first in ``specs`` (exact ties of a continuous loss do not occur in practice).
    Neither number comes from the probe rows on which SVCCA is measured, and no start is preferred by the order.
    ``None`` when there is no candidate."""
    refs = []
    for spec in specs:
        best, score = None, (-math.inf, -math.inf)
        for j, other in enumerate(specs):
            a, l = float(accuracy[j]), float(loss[j])
            if other.activation != spec.activation or other.seed == spec.seed or int(diverged[j]) >= 0 or \
                    not (math.isfinite(a) and math.isfinite(l)):
                continue
            if (a, -l) > score:
                best, score = j, (a, -l)
        refs.append(best)
    return refs


def final_similarity(acts: torch.Tensor, networks: Sequence[int], references: Sequence[int], keep: int,
                     device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(P,) SVCCA keeping ``keep`` directions on *both* sides (fewer only where a representation's numerical rank
    is lower), and (P,) linear CKA, of the final layer ``acts`` (B, n, N) of ``networks[p]`` against
    ``references[p]``; NaN where either is not finite or constant."""
    if not networks:
        empty = torch.empty(0, dtype=torch.float64)
        return empty, empty
    from learndyn.similarity.cka import linear_cka

    bases = layer_bases(acts[:, None], keep, device)
    a, va = bases.take(list(networks), slice(0, 1))
    b, vb = bases.take(list(references), slice(0, 1))
    fixed = svcca_between(a, b, va & vb)[:, 0]
    x = acts[list(networks)].to(torch.float64)
    y = acts[list(references)].to(torch.float64)
    ok = va[:, 0].cpu() & vb[:, 0].cpu()
    safe = lambda t: torch.where(ok[:, None, None], t, torch.zeros_like(t))  # noqa: E731 (linear_cka refuses NaN)
    cka = linear_cka(safe(x), safe(y)).cpu()
    return fixed, torch.where(ok, cka, torch.full_like(cka, math.nan))


def network_pairs(specs: Sequence, same: Callable, left: Callable, right: Callable) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` with ``same(i) == same(j)``, ``left(i)`` and ``right(j)``."""
    return [(i, j) for i, a in enumerate(specs) for j, b in enumerate(specs)
            if i != j and same(a) == same(b) and left(a) and right(b)]


def measure_all(acts: torch.Tensor, accuracy: torch.Tensor, loss: torch.Tensor, diverged: torch.Tensor,
                specs: Sequence, *, keep: float | int | None, keep_best: int, seed: int,
                device: str | torch.device = "cpu",
                progress: Callable[[str], None] | None = None) -> dict:
    """Every comparison of the module docstring for ``acts`` (B, T, L, n, N) of networks ``specs`` (objects with
    ``activation``, ``start`` and ``seed``), with their final ``accuracy`` and ``loss`` (B,) on the selection rows
    (:func:`best_references`) and ``diverged`` (B,) steps (−1: none), layer by layer (one set of bases per layer; ``progress(label)`` as each starts). Returns a
    JSON-able dict of nested lists (NaN where undefined): ``to_final``, ``to_initial`` (B, T, L), ``kept`` (the
    directions kept, 0 for no representation), ``chance`` (B, L), ``to_best`` (``reference``; ``values`` (B, T, L) with
    ``keep``; ``fixed`` (B, L), final, with ``keep_best`` directions on both sides; ``linear_cka`` (B, L), final),
    ``across_starts``, ``across_activations`` (T × L per pair) and ``across_seeds`` (L per pair, final)."""
    count, total, depth = acts.shape[:3]
    refs = best_references(specs, accuracy, loss, diverged)
    with_ref = [i for i, r in enumerate(refs) if r is not None]
    across_starts = network_pairs(specs, lambda s: (s.activation, s.seed), lambda s: s.start != "critical",
                                  lambda s: s.start == "critical")
    across_acts = network_pairs(specs, lambda s: s.start, lambda s: s.activation == "relu",
                                lambda s: s.activation == "shifted")  # every pair of seeds: shared draws or not
    across_seeds = [(i, j) for i, j in network_pairs(specs, lambda s: (s.activation, s.start), lambda s: True,
                                                     lambda s: True) if specs[i].seed < specs[j].seed]
    nan = float("nan")
    to_final = torch.full((count, total, depth), nan, dtype=torch.float64)
    to_initial = torch.full_like(to_final, nan)
    to_best = torch.full_like(to_final, nan)
    fixed_best = torch.full((count, depth), nan, dtype=torch.float64)
    cka_best = torch.full_like(fixed_best, nan)
    starts = torch.full((len(across_starts), total, depth), nan, dtype=torch.float64)
    acts_pairs = torch.full((len(across_acts), total, depth), nan, dtype=torch.float64)
    seeds_pairs = torch.full((len(across_seeds), depth), nan, dtype=torch.float64)
    chance_level = torch.full((count, depth), nan, dtype=torch.float64)
    kept = torch.zeros((count, total, depth), dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed + 2718)
    for l in range(depth):
        if progress is not None:
            progress(f"svcca: layer {l + 1}/{depth}")
        bases = layer_bases(acts[:, :, l], keep, device)
        kept[:, :, l] = torch.where(bases.valid, bases.basis.kept, torch.zeros_like(bases.basis.kept)).cpu()
        to_final[:, :, l] = to_checkpoint(bases, -1)
        to_initial[:, :, l] = to_checkpoint(bases, 0)
        if with_ref:
            to_best[with_ref, :, l] = against_final(bases, with_ref, [refs[i] for i in with_ref])
            fixed_best[with_ref, l], cka_best[with_ref, l] = final_similarity(
                acts[:, -1, l], with_ref, [refs[i] for i in with_ref], keep_best, device)
        starts[:, :, l] = pairs_over_time(bases, across_starts)
        acts_pairs[:, :, l] = pairs_over_time(bases, across_acts)
        seeds_pairs[:, l] = pairs_over_time(bases, across_seeds)[:, -1]
        chance_level[:, l] = chance(acts[:, -1, l], keep, gen, device)
    return {
        "keep": keep, "kept": kept.tolist(),
        "to_final": to_final.tolist(), "to_initial": to_initial.tolist(), "chance": chance_level.tolist(),
        "to_best": {"reference": refs, "values": to_best.tolist(), "keep": keep_best, "fixed": fixed_best.tolist(),
                    "linear_cka": cka_best.tolist()},
        "across_starts": [dict(activation=specs[i].activation, start=specs[i].start, seed=specs[i].seed, pair=[i, j],
                               values=starts[p].tolist()) for p, (i, j) in enumerate(across_starts)],
        "across_activations": [dict(start=specs[i].start, seed=specs[i].seed, other_seed=specs[j].seed, pair=[i, j],
                                    values=acts_pairs[p].tolist()) for p, (i, j) in enumerate(across_acts)],
        "across_seeds": [dict(activation=specs[i].activation, start=specs[i].start, pair=[i, j],
                              values=seeds_pairs[p].tolist()) for p, (i, j) in enumerate(across_seeds)],
    }
