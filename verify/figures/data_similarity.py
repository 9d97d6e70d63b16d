"""The data behind the representation-similarity figure (family 7, seed 001's plan): the run of
:mod:`learndyn.verify.similarity_experiment`, stored and reused (:mod:`learndyn.verify.similarity_store`), with the
means over seeds that the plot draws and the figure's agreement record.

The figure measures, it has no theory curve; what it checks against theory is that the starts are what they are
called. **Agreement**: in one noisy forward pass at initialisation, each ReLU layer's second moment
``Q^l = mean h^l²`` against ``variance_map(Q^{l−1}, σ_w, σ_b, μ2)`` (``additive_noise_variance_map`` with additive
noise; the first layer against ``σ_w² |x|²/d + σ_b²``). Given layer ``l − 2`` the units of ``h^{l−1}`` are Gaussian,
so ``E[Q^l | Q^{l−1}] = variance_map(Q^{l−1})`` at every width (:mod:`learndyn.verify.simulate.signal`); what is
tested, the relative deviation ``Q^l / variance_map(Q^{l−1}) − 1``, is a ratio whose denominator is random too,
so its expectation is 0 only up to an ``O(1/N)`` bias (width ``N``), far below the tolerance at these widths: the
mean relative deviation over layers and seeds must be within ``K_SE`` standard errors of 0, the seeds' layers counted as the
samples (the networks of one seed share their draws, so they are one sample; for ReLU at ``σ_b = 0`` their
relative deviations are equal). At the critical start this says the variance neither grows nor shrinks. Its power
is set by the width (the layer's units are the sample): at the default size (width 96, 20 layers, 4 seeds) ``5 SE``
is about 0.08, so it catches a map about 10 % wrong (``μ2`` 10 % off at criticality), at the quick size only about
25 % — a check that the starts are what they are called, not a test of ``variance_map``.

The group means' bands are one standard error over seeds; for ReLU against shifted ReLU over the pairs of networks
(which share networks, so the band is only indicative).
"""
from __future__ import annotations

import math

import torch

from learndyn.verify.similarity_claims import swap_nan

from .agreement import K_SE, compare

__all__ = ["representation_similarity", "figure_data", "variance_agreement", "group_means"]


def _f(name: str):
    import learndyn

    return learndyn.function(name)


def variance_agreement(data: dict) -> dict:
    """The agreement record of the module docstring, from a result's JSON."""
    c, th = data["config"], data["theory"]
    by_seed: dict[int, list[torch.Tensor]] = {}
    for n in data["networks"]:
        if n["activation"] != "relu":
            continue
        q = torch.tensor(n["initial_variance"], dtype=torch.float64)
        sw, sb = n["sigma_w"], n["sigma_b"]
        if c["noise"] == "additive":
            mapped = _f("additive_noise_variance_map")(q=q[:-1], sigma_w=sw, sigma_b=sb, eps=c["noise_strength"])
        else:
            mapped = _f("variance_map")(q=q[:-1], sigma_w=sw, sigma_b=sb, mu2=th["mu2"])
        first = torch.tensor([sw * sw * c["input_second_moment"] + sb * sb], dtype=torch.float64)
        by_seed.setdefault(n["seed"], []).append(q / torch.cat([first, mapped]) - 1)
    rel = torch.stack([torch.stack(v).mean(0) for v in by_seed.values()]) if by_seed else torch.zeros(0, 1)
    samples = rel.reshape(-1)
    se = float(samples.std() / math.sqrt(samples.numel())) if samples.numel() > 1 else math.inf
    mean = float(samples.mean()) if samples.numel() else 0.0
    return compare("ReLU second moments Q^l at initialisation (one noisy forward pass) against variance_map of "
                   "Q^(l-1): mean relative deviation", mean, K_SE * se,
                   labels=[f"{samples.numel()} layers x seeds, mu2 = {th['mu2']:.3g}"],
                   how=f"{K_SE:g} SE over the layers of {rel.shape[0]} seeds (0 in expectation up to an O(1/width) "
                       "bias of the ratio)")


def _stats(rows: list[list]) -> tuple[list, list]:
    """Mean and standard error over the first axis of nested lists with ``None`` for NaN (NaN rows dropped)."""
    t = torch.tensor([[math.nan if v is None else v for v in _flat(r)] for r in rows], dtype=torch.float64)
    ok = ~torch.isnan(t).any(1)
    t = t[ok]
    if t.shape[0] == 0:
        nan = [math.nan] * len(_flat(rows[0]))
        return nan, nan
    se = t.std(0) / math.sqrt(t.shape[0]) if t.shape[0] > 1 else torch.zeros(t.shape[1], dtype=torch.float64)
    return t.mean(0).tolist(), se.tolist()


def _flat(v) -> list:
    return [x for row in v for x in row] if v and isinstance(v[0], list) else list(v)


def _shape(values: list, cols: int) -> list[list]:
    return [values[i : i + cols] for i in range(0, len(values), cols)]


def group_means(data: dict) -> dict:
    """Means ± SE over seeds per (activation, start): SVCCA to the final state over time (T × L), the crossing steps
    of claim (a) (L), the final SVCCA to the initial state (L), the directions SVCCA keeps at the end (L), to the
    reference network (over time, T × L; at the end with ``keep_best`` directions on both sides, L) and ReLU
    against shifted ReLU (final, L; networks of different seeds, and of the same seed, which share their draws)."""
    sv = data["svcca"]
    depth = data["config"]["depth"]
    groups: dict[tuple[str, str], list[int]] = {}
    for i, n in enumerate(data["networks"]):
        groups.setdefault((n["activation"], n["start"]), []).append(i)
    crossings = {(r["group"]): r["details"].get("crossing_steps") for r in data["claims"] if r["claim"] == "bottom_up"}
    out = []
    for (act, start), idx in groups.items():
        rec = dict(activation=act, start=start, factor=data["networks"][idx[0]]["factor"],
                   diverged=sum(data["networks"][i]["diverged_at"] >= 0 for i in idx), seeds=len(idx))
        for key, source in (("to_final", sv["to_final"]), ("to_best", sv["to_best"]["values"])):
            mean, se = _stats([source[i] for i in idx])
            rec[key], rec[key + "_se"] = _shape(mean, depth), _shape(se, depth)
        rec["to_initial"], rec["to_initial_se"] = _stats([sv["to_initial"][i][-1] for i in idx])
        if "fixed" in sv["to_best"]:  # claim (c)'s measure: the same number of directions on both sides
            rec["to_best_fixed"], rec["to_best_fixed_se"] = _stats([sv["to_best"]["fixed"][i] for i in idx])
        rec["kept"], _ = _stats([[k or math.nan for k in sv["kept"][i][-1]] for i in idx])
        rec["chance"], _ = _stats([sv["chance"][i] for i in idx])
        steps = crossings.get(f"{act}, {start}") or []
        rec["crossing"], rec["crossing_se"] = _stats(steps) if steps else ([math.nan] * depth, [math.nan] * depth)
        for key, same in (("relu_vs_shifted", False), ("relu_vs_shifted_same_seed", True)):
            pairs = [p["values"][-1] for p in sv["across_activations"]
                     if act == "relu" and p["start"] == start and (p["seed"] == p["other_seed"]) == same]
            rec[key], rec[key + "_se"] = _stats(pairs) if pairs else (None, None)
        out.append(rec)
    return {"groups": out}


def figure_data(data: dict) -> dict:
    """The figure's dict from a result's JSON: the result itself, the group means, settings and agreement."""
    c, th = data["config"], data["theory"]
    noise = {"gaussian": rf"Gaussian noise $\sigma_\epsilon^2 = {c['noise_strength']:g}$",
             "dropout": rf"dropout $p = {c['noise_strength']:g}$",
             "additive": rf"additive noise variance ${c['noise_strength']:g}$", "none": "no noise"}[c["noise"]]
    settings = (f"load_digits, {c['n_train']} train / {c['n_probe']} probe rows; {c['depth']} layers of "
                f"{c['width']}, {noise} ($\\mu_2 = {th['mu2']:.3g}$), minibatch GD {c['steps']} steps, "
                f"lr {c['lr']:g} decaying linearly; {c['seeds']} seeds, mean ± SE; SVCCA keeps "
                f"{c['keep'] * 100:g} % of the variance; shifted ReLU $\\alpha = {c['alpha']:g}$, "
                f"$\\sigma_b = {c['shifted_sigma_b']:g}$")
    return dict(data, figure="representation_similarity", **swap_nan(group_means(data), to_json=True), settings=settings,
                agreement=[variance_agreement(data)])


def representation_similarity(*, seed: int = 0, device: str = "cpu", quick: bool = False) -> dict:
    """The experiment at its default size (a few minutes on a CPU) or, with ``quick``, at its CI size (seconds),
    from the stored run when there is one (:func:`learndyn.verify.similarity_store.stored_or_run`)."""
    from learndyn.verify.similarity_experiment import SimilarityConfig
    from learndyn.verify.similarity_store import stored_or_run

    config = SimilarityConfig.quick(seed=seed) if quick else SimilarityConfig(seed=seed)
    return figure_data(stored_or_run(config, device))
