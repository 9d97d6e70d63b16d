"""The claims of the representation-similarity experiment (family 7, seed 001's plan), decided from SVCCA curves
with statistics over seeds.

Every claim reduces each seed's curves to one number ``x_s`` (the seeds are the independent replicates: networks
of one seed share their draws, :mod:`learndyn.verify.simulate.noisy_mlp`), then decides from the 95 % confidence
interval of the mean over the ``S`` seeds, ``x̄ ± t_{0.975, S−1} · SE`` (Student's ``t``, ``SE = sd/√S``):

* **bottom up** (:func:`bottom_up`; Raghu et al. 2017, "networks converge to their final representations from the
  bottom up"): ``x_s`` is Spearman's rank correlation, over the layers that moved, between the layer index ``l``
  and the step ``t_l`` from which the layer's SVCCA to its own final state stays at or above ``threshold``
  (:func:`crossing_step`, linear interpolation between checkpoints). A layer with
  ``svcca(A_l(T), A_l(0)) ≥ threshold`` did not move and is left out. It *holds* when the interval lies above 0,
  *fails* when it lies below 0 (lower layers converge *later*: top down), and is *not decided* otherwise.
* **deep layers frozen off criticality** (:func:`frozen_beyond`): for an off-critical ReLU start, ``x_s`` is the
  mean over the layers beyond ``trainable_depth(μ2) = 6 ξ_c`` (THEORY.md family 3; it depends on ``μ2`` only, so
  it is the same for every ReLU start at ``σ_b = 0``; the depth ``1/|ln factor|`` over which the variance of an
  off-critical start shrinks or grows by ``e`` is reported beside it) of ``1 − svcca(A_l(T), A_l(0))``, how far a
  layer's final representation is from its initial one. The claim "those layers do not learn" *holds* when the
  interval lies below ``LEARNED`` (a drop of SVCCA by less than that is counted as not learning), *fails* when it
  lies above.
* **critical start and the reference network** (:func:`closer_to_best`): ``x_s`` is the mean over the deep layers
  (the upper half) of ``svcca_k(A_l^{critical}(T), A_l^{ref}(T)) − svcca_k(A_l^{off}(T), A_l^{ref'}(T))``, where
  ``svcca_k`` keeps the same fixed number ``k`` of directions on both sides (so a layer that collapsed to 3
  directions is not compared as a 3-dimensional subspace of a 9-dimensional one) and each network's reference is
  the network of its activation from another seed with the highest accuracy on held-out *selection* rows (ties:
  the lowest cross-entropy there), which are neither training nor probe rows; linear CKA is reported beside it.
  The claim *holds* when the interval lies above 0, *fails* when it lies below 0 (they end further), and is *not
  decided* when it contains 0.

The rule is symmetric: an interval entirely on one side decides. Each claim and group is decided at 95 % on its
own: there are several intervals (one per claim and group) and no correction for multiplicity, so some of them
would be decided wrongly by chance more often than 5 % of the time taken together.

A seed whose curves are NaN (a diverged network, a layer without variance) drops out of that claim; fewer than two
seeds left, or no layer to average, gives *not decided*, with the reason. Nothing here knows which outcome to
expect: the functions are tested on synthetic curves whose answer is known (tests/test_similarity_experiment.py).
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch

__all__ = ["HOLDS", "FAILS", "UNDECIDED", "LEARNED", "ClaimResult", "t_quantile", "interval", "spearman",
           "crossing_step", "bottom_up", "frozen_beyond", "closer_to_best", "swap_nan", "evaluate_claims", "MIN_LAYERS"]

HOLDS, FAILS, UNDECIDED = "holds", "fails", "not decided"
#: a layer whose SVCCA to its own initial state has dropped by less than this has not learned
LEARNED = 0.05

@dataclass
class ClaimResult:
    """One claim on one group of networks: ``statement`` (what is claimed), ``statistic`` (the per-seed number),
    ``per_seed`` (its values, ``None`` for a seed that dropped out), ``mean``, ``standard_error`` and the 95 %
    ``low``/``high`` bounds over the ``seeds`` used, the decision ``rule``, the ``outcome`` (:data:`HOLDS`,
    :data:`FAILS` or :data:`UNDECIDED`) and ``reason`` (why, in words)."""

    claim: str
    group: str
    statement: str
    statistic: str
    rule: str
    per_seed: list
    seeds: int
    outcome: str
    reason: str
    mean: float | None = None
    standard_error: float | None = None
    low: float | None = None
    high: float | None = None
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=256)
def t_quantile(dof: int, probability: float = 0.975) -> float:
    """The quantile ``t_{probability, dof}`` of Student's distribution (``dof ≥ 1``, ``1/2 < probability < 1``).

    For ``t > 0``, ``P(|T| ≤ t) = I_z(1/2, ν/2)`` with ``z = t²/(ν + t²)`` (``I`` the regularised incomplete beta
    function), increasing in ``t``: ``t`` is found by bisection (after doubling an upper bound from 1) on
    ``mpmath.betainc`` at 30 digits, to far below the double precision of the result. Starting from small ``t`` keeps
    ``z`` small where ``ν`` is large, where the hypergeometric series converges fast."""
    import mpmath

    if not isinstance(dof, int) or isinstance(dof, bool) or dof < 1:
        raise ValueError(f"dof must be an int >= 1, got {dof!r}")
    if not 0.5 < probability < 1.0:
        raise ValueError(f"probability must be in (0.5, 1), got {probability!r}")
    with mpmath.workdps(30):
        nu, target, half = mpmath.mpf(dof), 2 * mpmath.mpf(probability) - 1, mpmath.mpf(1) / 2

        def inside(t):  # P(|T| <= t)
            return mpmath.betainc(half, nu / 2, 0, t * t / (nu + t * t), regularized=True)

        low, high = mpmath.mpf(0), mpmath.mpf(1)
        while inside(high) < target:
            low, high = high, 2 * high
        for _ in range(80):
            mid = (low + high) / 2
            if inside(mid) < target:
                low = mid
            else:
                high = mid
        return float((low + high) / 2)


def interval(values: Sequence[float]) -> tuple[float, float, float, float]:
    """``(mean, SE, low, high)``: the 95 % Student-t interval of the mean of ``values`` (at least two)."""
    x = torch.tensor(list(values), dtype=torch.float64)
    mean = float(x.mean())
    se = float(x.std() / math.sqrt(x.numel()))
    half = t_quantile(x.numel() - 1) * se
    return mean, se, mean - half, mean + half


def _ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks 1 … n, ties given their average rank."""
    order = torch.argsort(x, stable=True)
    ranks = torch.empty_like(x)
    ranks[order] = torch.arange(1, x.numel() + 1, dtype=x.dtype)
    for value in torch.unique(x):
        tied = x == value
        if int(tied.sum()) > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson's of the average ranks); NaN when either side is constant."""
    rx, ry = (_ranks(torch.tensor(list(v), dtype=torch.float64)) for v in (x, y))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum()) / den if den > 0 else math.nan


def crossing_step(curve: Sequence[float], steps: Sequence[float], threshold: float) -> float:
    """The step from which ``curve`` (values at ``steps``, the last one the final state) stays at or above
    ``threshold``: after the last checkpoint ``i`` where it is below, linearly interpolated between ``steps[i]`` and
    ``steps[i + 1]`` (a curve that touches the threshold and drops again has not converged). NaN when the curve
    holds NaN, ends below the threshold, or is at or above it already at the first checkpoint: for SVCCA to the
    final state that means ``svcca(final, initial) ≥ threshold``, a layer that did not move and so has no
    convergence step (such layers are left out of claim (a), :func:`bottom_up`)."""
    c = [float(v) for v in curve]
    if not c or any(math.isnan(v) for v in c) or c[0] >= threshold or c[-1] < threshold:
        return math.nan
    i = max(j for j, v in enumerate(c) if v < threshold)
    t0, t1, v0, v1 = float(steps[i]), float(steps[i + 1]), c[i], c[i + 1]
    return t0 + (threshold - v0) * (t1 - t0) / (v1 - v0)


def _decide(claim: str, group: str, statement: str, statistic: str, rule: str, values: list, *, bound: float,
            holds_above: bool, details: dict) -> ClaimResult:
    """The interval rule, symmetric: with ``holds_above`` the claim holds when the 95 % interval lies above
    ``bound`` and fails when it lies below (otherwise the other way round); not decided when it contains ``bound``
    or fewer than two seeds have a value."""
    used = [float(v) for v in values if v is not None and not math.isnan(v)]
    clean = [None if v is None or math.isnan(v) else float(v) for v in values]
    if len(used) < 2:
        return ClaimResult(claim, group, statement, statistic, rule, clean, len(used), UNDECIDED,
                           f"{len(used)} seed(s) with a defined value: at least 2 are needed", details=details)
    mean, se, low, high = interval(used)
    above, below = low > bound, high < bound
    claimed, refuted = (above, below) if holds_above else (below, above)
    where = f"95 % interval [{low:.3g}, {high:.3g}] of the mean over {len(used)} seeds"
    if claimed:
        outcome, reason = HOLDS, where
    elif refuted:
        outcome, reason = FAILS, where
    else:
        outcome, reason = UNDECIDED, f"{where} contains {bound:g}"
    return ClaimResult(claim, group, statement, statistic, rule, clean, len(used), outcome, reason, mean, se, low,
                       high, details)


#: claim (a) needs at least this many layers that moved (a rank correlation over fewer says little)
MIN_LAYERS = 3


def bottom_up(to_final: torch.Tensor, steps: Sequence[float], threshold: float, *, group: str) -> ClaimResult:
    """"Networks converge bottom up" from ``to_final`` (S, T, L): per seed, the SVCCA of each layer to its own final
    state at each checkpoint (``steps``, T values). A layer whose curve starts at or above ``threshold`` did not
    move (``svcca(final, initial) ≥ threshold``) and is left out (:func:`crossing_step`); a seed with NaN curves or
    fewer than :data:`MIN_LAYERS` layers left has no value. Module docstring for the rule."""
    layers = list(range(1, to_final.shape[-1] + 1))
    values, times, unmoved = [], [], []
    for curves in to_final:
        t = [crossing_step(curves[:, l].tolist(), steps, threshold) for l in range(curves.shape[-1])]
        times.append([None if math.isnan(v) else v for v in t])
        if bool(torch.isnan(curves).any()):
            unmoved.append(None)
            values.append(math.nan)
            continue
        moved = [(l, v) for l, v in zip(layers, t) if not math.isnan(v)]
        unmoved.append([l for l, v in zip(layers, t) if math.isnan(v)])
        values.append(spearman(*zip(*moved)) if len(moved) >= MIN_LAYERS else math.nan)
    return _decide(
        "bottom_up", group,
        "networks converge bottom up: lower layers reach their final representation earlier (Raghu et al. 2017)",
        f"Spearman correlation, over the layers that moved (svcca(final, initial) < {threshold:g}), of the layer "
        f"index and the step from which its SVCCA to its final state stays >= {threshold:g}",
        "holds if the 95 % interval of the mean over seeds lies above 0; fails if it lies below 0", values,
        bound=0.0, holds_above=True,
        details={"threshold": threshold, "crossing_steps": times, "unmoved_layers": unmoved})


def frozen_beyond(to_initial_final: torch.Tensor, trainable_depth: float, *, group: str,
                  variance_depth: float | None = None) -> ClaimResult:
    """"Layers beyond ``trainable_depth`` do not learn" from ``to_initial_final`` (S, L): per seed, each layer's SVCCA
    between its final and its initial state. Module docstring for the rule."""
    depth = to_initial_final.shape[-1]
    deep = [l for l in range(depth) if l + 1 > trainable_depth]
    statement = (f"off criticality, layers beyond trainable_depth(mu2) = 6 xi_c = {trainable_depth:.3g} (the same "
                 f"for every ReLU start at sigma_b = 0) do not learn: their SVCCA to their own initial state stays "
                 f"above {1 - LEARNED:g}")
    statistic = "mean over those layers of 1 − svcca(final, initial)"
    rule = (f"holds if the 95 % interval of the mean over seeds lies below {LEARNED:g}; fails if it lies above "
            f"{LEARNED:g}")
    details = {"layers": [l + 1 for l in deep], "trainable_depth": trainable_depth, "variance_depth": variance_depth}
    if not deep:
        return ClaimResult("frozen_beyond_trainable_depth", group, statement, statistic, rule, [], 0, UNDECIDED,
                           f"no layer beyond trainable_depth {trainable_depth:.3g} at depth {depth}: not decided at "
                           "this size", details=details)
    values = [float((1 - row[deep]).mean()) for row in to_initial_final]
    return _decide("frozen_beyond_trainable_depth", group, statement, statistic, rule, values, bound=LEARNED,
                   holds_above=False, details=details)


def closer_to_best(critical: torch.Tensor, off: torch.Tensor, deep: Sequence[int], *, group: str, keep: int = 10,
                   cka: tuple[torch.Tensor, torch.Tensor] | None = None) -> ClaimResult:
    """"From the critical start deep layers end closer to the best network": ``critical``, ``off`` (S, L), per seed
    each layer's final SVCCA (``keep`` directions on both sides) to its reference network (the best network of
    another seed, :func:`learndyn.verify.similarity_measures.best_references`), from the critical and from an
    off-critical start; ``deep`` the (0-based) layers averaged; ``cka`` the same two tensors for linear CKA, reported
    beside it (in ``details``, not decided on). Module docstring for the rule."""
    deep = list(deep)
    values = [float((c[deep] - o[deep]).mean()) for c, o in zip(critical, off)]
    details: dict = {"layers": [l + 1 for l in deep], "keep": keep}
    if cka is not None:
        diff = [float((c[deep] - o[deep]).mean()) for c, o in zip(*cka)]
        details["linear_cka_difference"] = [None if math.isnan(v) else v for v in diff]
        used = [v for v in diff if not math.isnan(v)]
        if len(used) >= 2:
            details["linear_cka_interval"] = list(interval(used))
    return _decide(
        "critical_closer_to_best", group,
        "from the critical start, deep layers end closer to the reference network than from this off-critical "
        "start; a network's reference is the one of the same activation and another seed (any start) with the "
        "highest accuracy on held-out selection rows (ties: the lowest cross-entropy there), disjoint from the "
        f"training rows and from the probe rows where SVCCA is measured; SVCCA keeps {keep} directions on both sides",
        f"mean over the deep layers of svcca_{keep}(critical, its reference) − svcca_{keep}(off-critical, its "
        "reference), final states (linear CKA beside it in details)",
        "holds if the 95 % interval of the mean over seeds lies above 0; fails if it lies below 0",
        values, bound=0.0, holds_above=True, details=details)


def swap_nan(v, *, to_json: bool):
    """Nested dicts, lists and tuples with every non-finite float made ``None`` (``to_json``: standard JSON), or
    every ``None`` made NaN (``not to_json``: back to numbers for torch)."""
    if isinstance(v, dict):
        return {k: swap_nan(x, to_json=to_json) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [swap_nan(x, to_json=to_json) for x in v]
    if to_json:
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return math.nan if v is None else v


def evaluate_claims(data: dict) -> list[dict]:
    """Every claim (module docstring) from a result's measurements (the ``config``, ``theory``, ``checkpoints``,
    ``networks`` and ``svcca`` entries of its JSON, NaN or ``None`` where undefined)."""
    def tensor(v) -> torch.Tensor:
        return torch.tensor(swap_nan(v, to_json=False), dtype=torch.float64)

    nets, sv, config = data["networks"], data["svcca"], data["config"]
    to_final = tensor(sv["to_final"])
    to_initial = tensor(sv["to_initial"])
    to_best = tensor(sv["to_best"]["fixed"])
    cka_best = tensor(sv["to_best"]["linear_cka"])
    steps = data["checkpoints"]
    depth = to_final.shape[-1]
    groups: dict[tuple[str, str], list[int]] = {}
    for i, n in enumerate(nets):
        groups.setdefault((n["activation"], n["start"]), []).append(i)
    claims = []

    def add(result, act: str, start: str) -> None:
        """``result``, its reason naming the networks that diverged when too few seeds were left."""
        steps_at = [nets[i]["diverged_at"] for i in groups[(act, start)] if nets[i]["diverged_at"] >= 0]
        if result.seeds < 2 and steps_at:
            result.reason = (f"{len(steps_at)} of {len(groups[(act, start)])} {act} {start} networks diverged (by "
                             f"step {max(steps_at)}), leaving no final representation: {result.reason}")
        claims.append(result)

    for (act, start), idx in groups.items():
        add(bottom_up(to_final[idx], steps, config["threshold"], group=f"{act}, {start}"), act, start)
    trainable = data["theory"]["trainable_depth"]
    trainable = math.inf if trainable is None else trainable
    for (act, start), idx in groups.items():
        if act == "relu" and start != "critical":
            add(frozen_beyond(to_initial[idx, -1], trainable, group=f"{act}, {start}",
                              variance_depth=data["theory"].get("variance_depth", {}).get(start)), act, start)
    deep = list(range(depth // 2, depth))
    for (act, start), idx in groups.items():
        if start == "critical":
            continue
        crit = groups[(act, "critical")]
        by_seed = {nets[i]["seed"]: i for i in crit}
        pairs = [(by_seed[nets[i]["seed"]], i) for i in idx if nets[i]["seed"] in by_seed]
        crit_i, off_i = [p for p, _ in pairs], [q for _, q in pairs]
        add(closer_to_best(to_best[crit_i], to_best[off_i], deep, group=f"{act}, critical vs {start}",
                           keep=sv["to_best"]["keep"], cka=(cka_best[crit_i], cka_best[off_i])), act, start)
    return [r.to_json() for r in claims]
