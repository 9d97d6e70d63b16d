"""Plot of the representation-similarity figure (family 7) from the dict of
:mod:`learndyn.verify.figures.data_similarity`: SVCCA against training time (top row) and against layer (bottom
row). Everything is measured (means over seeds ± one standard error); colours are the starts, solid lines ReLU and
dashed lines the shifted ReLU.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .style import PALETTE, headline, new_figure

__all__ = ["representation_similarity"]

_DASH = {"relu": "-", "shifted": "--"}
_NAME = {"relu": "ReLU", "shifted": "shifted ReLU"}


def _start_label(start: str) -> str:
    return "critical" if start == "critical" else rf"$\sigma_w^2 \times {start[1:]}$"


def _colours(groups: list[dict]) -> dict[str, str]:
    starts = list(dict.fromkeys(g["start"] for g in groups))
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(starts)}


def _band(ax, x, mean, se, *, color, linestyle="-", marker=None, label=None) -> None:
    m, s = np.asarray(mean, dtype=float), np.asarray(se, dtype=float)
    ax.plot(x, m, color=color, linestyle=linestyle, marker=marker, markersize=3, linewidth=1.1, label=label)
    ax.fill_between(x, m - s, m + s, color=color, alpha=0.15, linewidth=0)


def _time_axis(ax, steps: list[int]) -> None:
    ax.set_xscale("symlog", linthresh=max(1.0, steps[1] if len(steps) > 1 else 1.0), linscale=0.4)
    ax.set_xlim(0, steps[-1])
    ax.set_xlabel("training step")


def _layer_dynamics(fig, ax, group: dict | None, steps: list[int], letter: str) -> None:
    if group is None:
        ax.set_axis_off()
        return
    curves = np.asarray(group["to_final"], dtype=float)  # (T, L)
    depth = curves.shape[1]
    cmap = colormaps["viridis"]
    norm = Normalize(1, max(depth, 2))
    for l in range(depth):
        ax.plot(steps, curves[:, l], color=cmap(norm(l + 1)), linewidth=1.0)
    _time_axis(ax, steps)
    ax.set_ylabel("SVCCA to the layer's final state")
    ax.set_title(f"({letter}) {_NAME[group['activation']]}, critical start")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01)
    bar.set_label("layer")


def _legend(ax, groups: list[dict], colours: dict[str, str], extra: list[tuple[str, dict]] = ()) -> None:
    handles = [Line2D([], [], color=c, label=_start_label(s)) for s, c in colours.items()]
    acts = list(dict.fromkeys(g["activation"] for g in groups))
    handles += [Line2D([], [], color="0.35", linestyle=_DASH[a], label=_NAME[a]) for a in acts]
    handles += [Line2D([], [], label=lab, **kw) for lab, kw in extra]
    slot = getattr(ax, "legend_slot", None)
    target = slot if slot is not None else ax
    target.legend(handles=handles, loc="upper center" if slot is not None else "best", ncols=2, borderaxespad=0.0)


def representation_similarity(data: dict, title: str) -> Figure:
    groups = data["groups"]
    steps = data["checkpoints"]
    depth = data["config"]["depth"]
    layers = np.arange(1, depth + 1)
    colours = _colours(groups)
    critical = {g["activation"]: g for g in groups if g["start"] == "critical"}
    fig, axes = new_figure(3, 2, width=3.5, height=2.6, legend_lines=4)
    _layer_dynamics(fig, axes[0], critical.get("relu"), steps, "a")
    _layer_dynamics(fig, axes[1], critical.get("shifted"), steps, "b")

    ax = axes[2]  # deep layers against the reference network, over training
    deep = slice(depth // 2, depth)
    for g in groups:
        m = np.asarray(g["to_best"], dtype=float)[:, deep]
        s = np.asarray(g["to_best_se"], dtype=float)[:, deep]
        _band(ax, steps, m.mean(1), s.mean(1), color=colours[g["start"]], linestyle=_DASH[g["activation"]])
    _time_axis(ax, steps)
    ax.set_ylabel(f"SVCCA to the reference (layers {depth // 2 + 1}–{depth})")
    ax.set_title("(c) deep layers vs the reference network")

    ax = axes[3]  # claim (a): when each layer reaches its final representation
    for g in groups:
        _band(ax, layers, g["crossing"], g["crossing_se"], color=colours[g["start"]], linestyle=_DASH[g["activation"]],
              marker="o")
    ax.set_yscale("symlog", linthresh=max(1.0, steps[1] if len(steps) > 1 else 1.0), linscale=0.4)
    ax.set_xlabel("layer")
    ax.set_ylabel(f"step reaching SVCCA to final $\\geq {data['config']['threshold']:g}$")
    ax.set_title("(d) convergence: bottom up if rising")
    _legend(ax, groups, colours)

    ax = axes[4]  # claim (b): how far each layer moved from its start
    for g in groups:
        _band(ax, layers, g["to_initial"], g["to_initial_se"], color=colours[g["start"]],
              linestyle=_DASH[g["activation"]], marker="o")
    trainable = data["theory"]["trainable_depth"]
    extra = []
    if trainable is not None and math.isfinite(trainable) and trainable < depth:
        ax.axvline(trainable, color="0.4", linestyle=":", linewidth=1.0)
        extra = [(rf"trainable_depth$(\mu_2) = {trainable:.3g}$", dict(color="0.4", linestyle=":"))]
    ax.set_xlabel("layer")
    ax.set_ylabel("SVCCA of final to initial state")
    ax.set_title("(e) how much each layer learned")
    _legend(ax, groups, colours, extra)

    ax = axes[5]  # against layer at the end: to the reference network, ReLU vs shifted ReLU, chance
    for g in groups:
        if g.get("to_best_fixed") is not None:  # claim (c)'s measure
            final = np.asarray(g["to_best_fixed"], dtype=float)
            final_se = np.asarray(g["to_best_fixed_se"], dtype=float)
        else:
            final = np.asarray(g["to_best"], dtype=float)[-1]
            final_se = np.asarray(g["to_best_se"], dtype=float)[-1]
        _band(ax, layers, final, final_se, color=colours[g["start"]], linestyle=_DASH[g["activation"]], marker="o")
    extra = []
    relu_crit = critical.get("relu")
    for key, style_kw, label in (("relu_vs_shifted", dict(linestyle="-."), "ReLU vs shifted, critical"),
                                 ("relu_vs_shifted_same_seed", dict(linestyle=(0, (1, 1))), "the same, shared draws")):
        if relu_crit is not None and relu_crit.get(key) is not None:
            _band(ax, layers, relu_crit[key], relu_crit[key + "_se"], color="black", **style_kw)
            extra.append((label, dict(color="black", **style_kw)))
    chance = np.nanmean(np.asarray([g["chance"] for g in groups], dtype=float), axis=0)
    ax.plot(layers, chance, color="0.55", linestyle=":", linewidth=1.0)
    extra.append(("chance (examples permuted)", dict(color="0.55", linestyle=":")))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("layer")
    ax.set_ylabel("SVCCA, final states")
    ax.set_title("(f) to the reference (fixed directions), across activations")
    _legend(ax, groups, colours, extra)
    for ax in axes[:3]:
        ax.set_ylim(top=1.02)
    headline(fig, title, data["settings"])
    return fig
