"""Plots of seed 003's figures (family 6) from the dicts of :mod:`learndyn.verify.figures.data_seed003`.

Each function takes the data dict and the figure's title and returns a :class:`matplotlib.figure.Figure` (call
inside :func:`learndyn.verify.figures.style.style`); theory is drawn as lines, simulation as points with one standard
error.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .style import MARKERS, PALETTE, fmt, headline, kind_legend, new_figure, simulation, theory

__all__ = ["generalisation_curves", "overtraining_peak", "stopping_time_scaling"]

_G, _T = PALETTE[0], PALETTE[1]


def generalisation_curves(data: dict, title: str) -> Figure:
    fig, axes = new_figure(3, width=3.3, height=2.6, legend_lines=7)
    for ax, panel, letter in zip(axes, data["panels"], "abc"):
        sim = panel["simulation"]
        for key, col, marker in (("generalisation", _G, "o"), ("training", _T, "s")):
            theory(ax, panel["t_line"], panel["flow_line"][key], color=col)
            theory(ax, panel["gd_t_line"], panel["gd_line"][key], color=col, dashed=True)
            limit = panel["limit"][key]
            if math.isfinite(limit):
                ax.axhline(limit, color=col, linestyle=":", linewidth=0.9)
            simulation(ax, panel["t"], sim[key], sim[f"{key}_se"], color=col, marker=marker, markersize=3)
        ax.axvline(panel["t_opt"], color="0.5", linestyle="-.", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0.0)
        ax.set_xlabel(r"$t = \mathrm{lr} \times$ steps")
        ax.set_ylabel("error")
        regime = "under-determined" if panel["alpha"] < 1 else ("square" if panel["alpha"] == 1 else "over-determined")
        ax.set_title(rf"({letter}) $\alpha = {fmt(panel['alpha'])}$ ({regime}), $\mathrm{{lr}} = {panel['lr']:.3g}$")
        kind_legend(ax, [(r"$E_g$: generalisation_error", _G), (r"$E_t$: training_error", _T)],
                    theory_label="theory: gradient flow", simulation_label="simulation: GD",
                    extra=[("gd_*: exact at the GD's lr (dashed)", {"color": "0.35", "linestyle": "--"}),
                           (r"$t \to \infty$: *_limit (dotted)", {"color": "0.35", "linestyle": ":"}),
                           (r"$t_{\mathrm{opt}}$: optimal_stopping_time", {"color": "0.5", "linestyle": "-."})],
                    stack=True)
    headline(fig, title, data["settings"])
    return fig


def overtraining_peak(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, width=3.5, height=2.8, legend_lines=4)
    alpha = np.asarray(data["alpha"])
    compared = np.asarray(data["compared"], dtype=bool)
    sim = data["simulation"]
    line = data["alpha_line"]

    ax = axes[0]
    over = np.array([np.nan if v is None else v for v in sim["overtraining"]])
    over_se = np.array([np.nan if v is None else v for v in sim["overtraining_se"]])
    theory(ax, line, data["overtraining_line"], color=_G)
    simulation(ax, alpha[compared], over[compared], over_se[compared], color=_G, marker="o")
    hollow = ~compared & np.isfinite(over)
    if hollow.any():
        simulation(ax, alpha[hollow], over[hollow], over_se[hollow], color=_G, marker="o", hollow=True)
    ax.axvline(1.0, color="0.6", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha = P/N$")
    ax.set_ylabel(r"$E_g(\infty) - \min_t E_g$")
    ax.set_title(r"(a) overtraining diverges at $\alpha = 1$")
    kind_legend(ax, [("overtraining", _G)], theory_label="theory", simulation_label="simulation (given X)",
                extra=[(rf"finite $N$: $|\ln\alpha| < \ln {fmt(data['window'])}$, not compared",
                        {"color": _G, "marker": "o", "markerfacecolor": "white", "linestyle": "none"})])

    ax = axes[1]
    theory(ax, line, data["min_error_line"], color=_T)
    limit = np.asarray(data["limit_line"], dtype=float)
    theory(ax, line, np.where(limit < 10.0, limit, np.nan), color="0.45", dashed=True)
    simulation(ax, alpha, sim["min_error"], sim["min_error_se"], color=_T, marker="s")
    ax.axvline(1.0, color="0.6", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    top = 1.15 * max(max(sim["min_error"]), float(np.nanmax(data["min_error_line"])))
    ax.set_ylim(data["sigma_eps2"] * 0.9, max(top, 2.0))
    ax.set_xlabel(r"$\alpha = P/N$")
    ax.set_ylabel(r"$\min_t E_g$")
    ax.set_title(r"(b) early stopping: $\min_t E_g$ is smooth through $\alpha = 1$")
    kind_legend(ax, [(r"$\min_t E_g$: optimal_stopping_time", _T)], theory_label="theory",
                simulation_label="simulation (given X)",
                extra=[(r"$E_g(\infty)$: generalisation_error_limit", {"color": "0.45", "linestyle": "--"})])
    headline(fig, title, data["settings"])
    return fig


def stopping_time_scaling(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, width=3.5, height=2.8, legend_lines=8)
    snr_line = np.asarray(data["snr_line"])
    ax, ratio_ax = axes
    curves = []
    for i, s in enumerate(data["series"]):
        col = PALETTE[i]
        theory(ax, snr_line, s["t_line"], color=col)
        asym = np.array([np.nan if v is None else v for v in s["asymptote"]], dtype=float)
        theory(ax, snr_line, asym, color=col, dashed=True)
        simulation(ax, data["snr"], s["simulation"], s["simulation_se"], color=col, marker=MARKERS[i])
        t = np.asarray(s["t_line"])
        if s["alpha"] == 1.0:
            ratio = 4 * (math.sqrt(2) - 1) * t / snr_line
            x = snr_line
        else:  # λ₋ dt_opt/d ln snr, centred differences
            ratio = s["lambda_minus"] * np.diff(t) / np.diff(np.log(snr_line))
            x = np.sqrt(snr_line[1:] * snr_line[:-1])
        theory(ratio_ax, x, ratio, color=col)
        curves.append((rf"$\alpha = {fmt(s['alpha'])}$", col))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\mathrm{snr} = \sigma_w^2/\sigma_\epsilon^2$")
    ax.set_ylabel(r"$t_{\mathrm{opt}}$")
    ax.set_title(r"(a) optimal stopping time")
    kind_legend(ax, curves, theory_label="theory: optimal_stopping_time", simulation_label="simulation (given X)",
                extra=[(r"asymptote $\ln(\mathrm{snr})/\lambda_- + c$ ($c$: through the last point)",
                        {"color": "0.35", "linestyle": "--"}),
                       (r"asymptote $\mathrm{snr}/(4(\sqrt{2}-1))$ at $\alpha = 1$",
                        {"color": "0.35", "linestyle": "--"})],
                stack=True)
    ratio_ax.axhline(1.0, color="0.6", linestyle=":", linewidth=0.8)
    ratio_ax.set_xscale("log")
    ratio_ax.set_ylim(0.0, 1.25)
    ratio_ax.set_xlabel(r"$\mathrm{snr}$")
    ratio_ax.set_ylabel("theory / asymptote")
    ratio_ax.set_title(r"(b) approach to the asymptotes")
    kind_legend(ratio_ax, curves, theory_label=r"$\lambda_-\, dt_{\mathrm{opt}}/d\ln \mathrm{snr}$ ($\alpha \neq 1$)",
                simulation_label=None,
                extra=[(r"$4(\sqrt{2}-1)\, t_{\mathrm{opt}}/\mathrm{snr}$ ($\alpha = 1$)", {"color": "0.35"})])
    headline(fig, title, data["settings"])
    return fig
