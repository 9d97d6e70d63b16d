"""Plots of seed 001's figures (family 3) from the dicts of :mod:`learndyn.verify.figures.data_seed001`.

Each function takes the data dict and the figure's title and returns a :class:`matplotlib.figure.Figure` (call
inside :func:`learndyn.verify.figures.style.style`); theory is drawn as lines, simulation as points with one
standard error.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from .style import (MARKERS, PALETTE, fmt, headline, kind_legend, new_figure, plain_log_ticks, simulation, theory,
                    tidy_log)

__all__ = ["variance_dynamics", "correlation_dynamics", "fixed_point_vs_noise"]

_NOISE_TITLE = {"none": "no noise", "dropout": "dropout", "gaussian": "multiplicative Gaussian noise"}


def _noise_label(s: dict) -> str:
    if s["noise"] == "dropout":
        return rf"dropout, $p = {fmt(1 - s['strength'])}$ ($\mu_2 = {s['mu2']:.3g}$)"
    if s["noise"] == "gaussian":
        return rf"Gaussian, $\sigma_\epsilon^2 = {fmt(s['strength'])}$ ($\mu_2 = {s['mu2']:.3g}$)"
    return r"no noise ($\mu_2 = 1$)"


def variance_dynamics(data: dict, title: str) -> Figure:
    kinds = list(dict.fromkeys(s["noise"] for s in data["series"]))
    fig, axes = new_figure(len(kinds), legend_lines=3)
    for ax, kind, letter in zip(axes, kinds, "abc"):
        curves = []
        for i, s in enumerate(x for x in data["series"] if x["noise"] == kind):
            col = PALETTE[i]
            theory(ax, s["layer"], s["theory"], color=col)
            simulation(ax, s["layer"], s["simulation"], s["standard_error"], color=col, marker=MARKERS[i])
            curves.append((rf"$\sigma_w = {s['sigma_w_over_critical']:g}\,\sqrt{{2/\mu_2}}$", col))
            label = _noise_label(s)
        ax.set_yscale("log")
        tidy_log(ax, "y")
        ax.set_title(f"({letter}) {label}")
        ax.set_xlabel(r"layer $l$")
        ax.set_ylabel(r"variance $q^l$")
        kind_legend(ax, curves, theory_label="theory: variance_after_depth", simulation_label="simulation")
    headline(fig, title, data["settings"])
    return fig


def correlation_dynamics(data: dict, title: str) -> Figure:
    kinds = list(dict.fromkeys(s["noise"] for s in data["series"]))
    fig, axes = new_figure(len(kinds), width=3.0, legend_lines=4)
    for ax, kind, letter in zip(axes, kinds, "abc"):
        curves = []
        series = [x for x in data["series"] if x["noise"] == kind]
        for i, s in enumerate(series):
            col = PALETTE[i]
            theory(ax, s["layer"], s["theory"], color=col)
            simulation(ax, s["layer"], s["simulation"], s["standard_error"], color=col, marker=MARKERS[i])
            curves.append((rf"$c^1 = {s['input_cosine']:g}$", col))
        c_star = series[0]["fixed_point"]
        ax.axhline(c_star, color="0.5", linestyle=":", linewidth=0.9)
        ax.set_ylim(-0.6, 1.05)
        ax.set_title(f"({letter}) {_noise_label(series[0])}")
        ax.set_xlabel(r"layer $l$")
        ax.set_ylabel(r"correlation $c^l$")
        kind_legend(ax, curves, theory_label="theory: correlation_map", simulation_label="simulation",
                    extra=[(rf"$c^* = {c_star:.3g}$", dict(color="0.5", linestyle=":"))])
    headline(fig, title, data["settings"])
    return fig


def fixed_point_vs_noise(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, 2, width=3.3, height=2.3, legend_lines=2)
    xlabel = {"dropout": r"dropout rate $1 - p$", "gaussian": r"noise variance $\sigma_\epsilon^2$"}
    for col_i, series in enumerate(data["series"]):
        kind = series["noise"]
        col = PALETTE[col_i]
        sim = series["simulation"]
        xs = [p["strength"] for p in sim]
        ax = axes[col_i]
        theory(ax, series["strength"], series["fixed_point"], color=col)
        simulation(ax, xs, [p["fixed_point"] for p in sim], [p["fixed_point_standard_error"] for p in sim],
                   color=col)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"({'ab'[col_i]}) {_NOISE_TITLE[kind]}: fixed point")
        ax.set_xlabel(xlabel[kind])
        ax.set_ylabel(r"$c^*$")
        kind_legend(ax, theory_label="theory: correlation_fixed_point",
                    simulation_label=f"simulation: $c^l$ at $l = {data['depth']}$", loc="upper right")
        ax = axes[2 + col_i]
        theory(ax, series["strength"], series["depth_scale"], color=col)
        simulation(ax, xs, [p["depth_scale"] for p in sim], [p["depth_scale_standard_error"] for p in sim],
                   color=col, marker="s")
        ax.set_yscale("log")
        tidy_log(ax, "y")
        ax.set_title(f"({'cd'[col_i]}) {_NOISE_TITLE[kind]}: depth scale")
        ax.set_xlabel(xlabel[kind])
        ax.set_ylabel(r"$\xi_c = -1/\ln \chi(c^*)$")
        right = ax.secondary_yaxis("right", functions=(lambda v: 6 * v, lambda v: v / 6))
        right.set_ylabel(r"trainable depth $6\,\xi_c$")
        plain_log_ticks(right.yaxis)
        kind_legend(ax, theory_label="theory: correlation_depth_scale",
                    simulation_label=r"simulation: $-1/\ln$ (slope of one layer)")
    headline(fig, title, data["settings"])
    return fig
