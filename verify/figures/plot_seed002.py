"""Plots of seed 002's figures (family 5) from the dicts of :mod:`learndyn.verify.figures.data_seed002`.

Each function takes the data dict and the figure's title and returns a :class:`matplotlib.figure.Figure` (call
inside :func:`learndyn.verify.figures.style.style`); theory is drawn as lines, simulation as points.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .style import MARKERS, PALETTE, fmt, headline, kind_legend, new_figure, simulation, theory

__all__ = ["margin_curves", "failure_phase_diagram", "starvation"]

_LOSS_COLOUR = {"logistic": PALETTE[0], "hinge": PALETTE[1]}


def _every(values: list, count: int = 25) -> slice:
    return slice(None, None, max(1, len(values) // count))


def margin_curves(data: dict, title: str) -> Figure:
    fig, axes = new_figure(3, width=3.0, height=2.5, legend_lines=4)
    for ax, panel, letter in zip(axes, data["panels"], "abc"):
        for c in panel["curves"]:
            col = _LOSS_COLOUR[c["loss"]]
            for k, marker in enumerate(("o", "s")):
                theory(ax, c["t_line"], c["theory_line"][k], color=col, dashed=k == 1)
                sl = _every(c["t"])
                simulation(ax, c["t"][sl], c["simulation"][k][sl], color=col, marker=marker, hollow=k == 1)
        marks = panel["marks"]
        if "inflection" in marks:
            inf = marks["inflection"]
            ax.plot(inf["time"], inf["margin"], linestyle="none", marker="*", color="black", markersize=7, zorder=4)
        stops = marks["hinge_stop"]
        ax.plot(stops, [1.0] * len(stops), linestyle="none", marker="|", color=_LOSS_COLOUR["hinge"], markersize=10,
                markeredgewidth=1.5, zorder=4)
        ax.axhline(1.0, color="0.6", linestyle=":", linewidth=0.8)
        ax.set_title(rf"({letter}) depth $L = {panel['depth']}$" + (" (concave)" if panel["depth"] == 1 else " (sigmoidal)"))
        ax.set_xlabel(r"$t = \mathrm{lr} \times$ steps")
        ax.set_ylabel(r"margin $m = c\, f(r e)$")
        curves = [("logistic", _LOSS_COLOUR["logistic"]), ("hinge", _LOSS_COLOUR["hinge"])]
        extra = [(rf"$r = {fmt(panel['r'][1])}$ (dashed, hollow)", {"color": "0.35", "linestyle": "--"}),
                 ("inflection: margin_inflection", {"color": "black", "marker": "*", "linestyle": "none"}),
                 ("hinge_stopping_time", {"color": _LOSS_COLOUR["hinge"], "marker": "|", "linestyle": "none"})]
        kind_legend(ax, curves, theory_label="theory: classification_mode_trajectory", simulation_label="simulation: GD",
                    extra=extra if "inflection" in marks else extra[:1] + extra[2:])
    headline(fig, title, data["settings"])
    return fig


def failure_phase_diagram(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, width=3.4, height=3.0, legend_lines=4)
    ax = axes[0]
    a0, v0 = np.asarray(data["a0"]), np.asarray(data["v0"])
    learned = np.asarray(data["learned"], dtype=bool)
    lim = float(np.abs(a0).max()) * 1.08, float(np.abs(v0).max()) * 1.08
    # the theory's regions: learned iff a0 > 0 and (v0 > 0 or a0 > |v0|)
    ax.fill([0, lim[0], lim[0], 0], [0, -lim[0], lim[1], lim[1]], color=PALETTE[2], alpha=0.12, linewidth=0)
    theory(ax, [0, 0], [-lim[1], lim[1]], color="black")
    theory(ax, [0, lim[0]], [0, -lim[0]], color="black")
    simulation(ax, a0[learned], v0[learned], color=PALETTE[2], marker="o")
    simulation(ax, a0[~learned], v0[~learned], color=PALETTE[1], marker="x")
    ax.set_xlim(-lim[0], lim[0])
    ax.set_ylim(-lim[1], lim[1])
    ax.set_xlabel(r"$a_0$ (first-layer weight along the feature)")
    ax.set_ylabel(r"$v_0$ (output weight), class $c = +1$")
    ax.set_title("(a) learned or dead: GD over the rule")
    ax.text(0.6 * lim[0], 0.6 * lim[1], "learns", ha="center", fontsize=7.5)
    ax.text(-0.55 * lim[0], 0.1 * lim[1], r"dead: $a_0 \leq 0$", ha="center", fontsize=7.5)
    ax.text(0.3 * lim[0], -0.85 * lim[1], r"dies: $a_0 < |v_0|$", ha="center", fontsize=7.5)
    kind_legend(ax, [], theory_label=r"boundary: $a_0 = 0$, $a_0 = |v_0|$ ($c v_0 < 0$)", simulation_label=None,
                extra=[("GD: learned (margin > 0)", {"color": PALETTE[2], "marker": "o", "linestyle": "none"}),
                       ("GD: dead (a ≤ 0, margin 0)", {"color": PALETTE[1], "marker": "x", "linestyle": "none"}),
                       ("theory: learns", {"color": PALETTE[2], "alpha": 0.3, "linewidth": 6})], stack=True)

    ax = axes[1]
    curves = []
    for i, (loss, c) in enumerate(data["crossing"].items()):
        col = _LOSS_COLOUR[loss]
        theory(ax, c["delta_line"], c["theory_line"], color=col)
        simulation(ax, c["delta"], c["simulation"], color=col, marker=MARKERS[i])
        curves.append((loss, col))
    ax.set_xscale("log")
    ax.set_xlabel(r"$\Delta = a_0^2 - v_0^2$ (conserved by the flow)")
    ax.set_ylabel(r"time to margin 0")
    ax.set_title(rf"(b) wrong sign, $v_0 = {fmt(data['v0_line'])}$: it crosses if $\Delta > 0$")
    kind_legend(ax, curves, theory_label="theory: wrong_sign_crossing_time", simulation_label="simulation: GD")
    headline(fig, title, data["settings"])
    return fig


def starvation(data: dict, title: str) -> Figure:
    fig, axes = new_figure(3, width=3.0, height=2.6, legend_lines=4)
    lg = data["logistic"]
    ax = axes[0]
    sl = _every(lg["t"])
    theory(ax, lg["t_line"], lg["control_line"], color=PALETTE[2])
    simulation(ax, lg["t"][sl], lg["m2_control"][sl], color=PALETTE[2], marker="s")
    simulation(ax, lg["t"][sl], lg["m2"][sl], color=PALETTE[1], marker="o")
    simulation(ax, lg["t"][sl], lg["m1"][sl], color=PALETTE[0], marker="^")
    theory(ax, lg["t_line"], lg["m1_alone_line"], color=PALETTE[0], dashed=True)
    ax.set_yscale("log")
    ax.set_xlabel(r"$t$")
    ax.set_ylabel(r"margin")
    ax.set_title("(a) logistic: rare feature against its control")
    kind_legend(ax, [(r"rare $m_2$, with feature 1", PALETTE[1]), (r"rare $m_2$, control (alone)", PALETTE[2]),
                     (r"frequent $m_1$", PALETTE[0])],
                theory_label="classification_mode_trajectory", simulation_label="simulation: GD",
                extra=[(r"$m_1$ if it were alone (dashed)", {"color": PALETTE[0], "linestyle": "--"})])

    ax = axes[1]
    ratio = np.asarray(lg["m2"]) / np.asarray(lg["m2_control"])
    simulation(ax, lg["t"][sl], ratio[sl], color=PALETTE[1], marker="o")
    ax.axhline(1.0, color="0.6", linestyle=":", linewidth=0.8)
    ax.set_xlabel(r"$t$")
    ax.set_ylabel(r"$m_2 / m_2^{\mathrm{control}}$")
    ax.set_title("(b) starvation: the ratio falls")
    kind_legend(ax, [], theory_label="no theory line (a claim)", simulation_label="simulation: GD",
                theory_style={"color": "white"})

    hg = data["hinge"]
    ax = axes[2]
    sl = _every(hg["t"])
    theory(ax, hg["t_line"], hg["control_line"], color=PALETTE[2])
    ax.axhline(hg["starved"], color=PALETTE[1], linewidth=1.3)
    simulation(ax, hg["t"][sl], hg["m2_control"][sl], color=PALETTE[2], marker="s")
    simulation(ax, hg["t"][sl], hg["m2"][sl], color=PALETTE[1], marker="o")
    simulation(ax, hg["t"][sl], hg["m1"][sl], color=PALETTE[0], marker="^")
    ax.set_yscale("log")
    ax.set_xlabel(r"$t$")
    ax.set_ylabel(r"margin")
    ax.set_title("(c) hinge: the rare margin freezes")
    kind_legend(ax, [(r"rare $m_2$: starved_margin", PALETTE[1]), ("control: reaches 1", PALETTE[2]),
                     (r"frequent $m_1$", PALETTE[0])], theory_label="theory", simulation_label="simulation: GD")
    headline(fig, title, data["settings"])
    return fig
