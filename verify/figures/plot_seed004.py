"""Plots of seed 004's figures (family 4) from the dicts of :mod:`learndyn.verify.figures.data_seed004`.

Each function takes the data dict and the figure's title and returns a :class:`matplotlib.figure.Figure` (call
inside :func:`learndyn.verify.figures.style.style`).
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .style import PALETTE, fmt, headline, kind_legend, new_figure, simulation, theory

__all__ = ["ntk_phase_diagram", "ntk_depth_metrics", "ntk_mse_dynamics"]

_PHASE_COLOUR = {"ordered": PALETTE[0], "chaotic": PALETTE[1]}


def ntk_phase_diagram(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, width=3.6, height=2.8, legend_lines=2)
    ax = axes[0]
    w = np.asarray(data["sigma_w2"])
    b = np.asarray(data["sigma_b2"])
    xi = np.asarray(data["xi_c"])
    chi = np.asarray(data["chi1"])
    finite = xi[np.isfinite(xi)]
    norm = LogNorm(vmin=max(float(finite.min()), 0.1), vmax=min(float(finite.max()), 100.0))
    mesh = ax.pcolormesh(w, b, np.clip(xi, norm.vmin, norm.vmax), norm=norm, shading="nearest", rasterized=True)
    cbar = fig.colorbar(mesh, ax=ax, pad=0.01)
    cbar.set_label(r"depth scale $\xi_c$ (kernel_depth_scales)")
    ax.contour(w, b, chi, levels=[1.0], colors="white", linewidths=1.4)
    for name, (sw2, sb2) in data["phases"].items():
        ax.plot([sw2], [sb2], marker="o" if name == "ordered" else "s", color="white", markeredgecolor="black",
                markersize=5, linestyle="none")
        ax.annotate(name, (sw2, sb2), xytext=(4, 5), textcoords="offset points", color="white", fontsize=7)
    ax.text(0.13, 1.75, "ordered\n" + r"$\chi_1 < 1$", color="white", fontsize=7.5, va="top")
    ax.text(12.0, 1.75, "chaotic\n" + r"$\chi_1 > 1$", color="white", fontsize=7.5, va="top")
    ax.set_xscale("log")
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(r"(a) erf: $\chi_1 = 1$ (white, chi1) and $\xi_c$")

    ax = axes[1]
    cut = data["cut"]
    theory(ax, cut["sigma_w2"], cut["xi_c"], color=PALETTE[0])
    meas = cut["measured"]
    simulation(ax, [p["sigma_w2"] for p in meas], [p["depth_scale"] for p in meas], color=PALETTE[0])
    # the phase boundary on the cut: where chi1 crosses 1
    ws, cs = cut["sigma_w2"], cut["chi1"]
    for i in range(len(cs) - 1):
        if (cs[i] - 1) * (cs[i + 1] - 1) <= 0 and cs[i] != cs[i + 1]:
            lw = math.log(ws[i]) + (1 - cs[i]) * (math.log(ws[i + 1]) - math.log(ws[i])) / (cs[i + 1] - cs[i])
            ax.axvline(math.exp(lw), color="0.5", linestyle=":", linewidth=0.9)
            ax.annotate(r"$\chi_1 = 1$", (math.exp(lw), 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                        textcoords="offset points", fontsize=7, color="0.35")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\xi_c$")
    ax.set_title(rf"(b) cut at $\sigma_b^2 = {fmt(cut['sigma_b2'])}$")
    kind_legend(ax, theory_label="theory: kernel_depth_scales",
                simulation_label=r"nngp_kernel recursion: $c^l - c^* \propto e^{-l/\xi_c}$")
    headline(fig, title, data["settings"])
    return fig


def ntk_depth_metrics(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, width=3.6, legend_lines=5)
    for ax, key, letter in zip(axes, ("kappa", "spread"), "ab"):
        curves = []
        for name, rec in data["phases"].items():
            col = _PHASE_COLOUR[name]
            depth = rec["depth"]
            vals = [v - 1 for v in rec["kappa"]] if key == "kappa" else rec["spread"]
            ok = rec["resolved"]
            marker = "o" if name == "ordered" else "s"
            ax.plot([l for l, r in zip(depth, ok) if r], [v for v, r in zip(vals, ok) if r], color=col,
                    marker=marker, linestyle="-", linewidth=0.8, markersize=3.2, markerfacecolor="white",
                    markeredgewidth=0.9, zorder=2)
            if not all(ok):
                ax.plot([l for l, r in zip(depth, ok) if not r], [v for v, r in zip(vals, ok) if not r],
                        color=col, marker="x", linestyle="none", zorder=2)
            if key in rec["asymptotes"]:
                a = rec["asymptotes"][key]
                ys = [v - 1 for v in a["value"]] if key == "kappa" else a["value"]
                ax.plot(a["depth"], ys, color="black", linestyle="--", linewidth=0.9, zorder=3)
            curves.append((rf"{name}: $\sigma_w^2 = {fmt(rec['sigma_w2'])}$, $\chi_1 = {rec['chi1']:.3g}$", col))
        ax.set_yscale("log")
        ax.set_xlabel(r"depth $l$ (hidden layers)")
        if key == "kappa":
            ax.set_ylabel(r"$\kappa - 1$, with $\kappa = \lambda_{\max}/\lambda_{\min}(\Theta)$")
            ax.set_title(r"(a) trainability: condition number $\kappa$")
            exact = "exact: ntk_condition_number"
            law = r"asymptotes: $\kappa \propto 1/(l\chi_1^l)$; $\kappa - 1 \propto \chi_1^{-l}$"
        else:
            ax.set_ylabel(r"spread of $P(\Theta)Y$ / rms $Y$")
            ax.set_title(r"(b) generalisation: mean prediction $P(\Theta)Y$")
            exact = "exact: mean_prediction"
            law = r"asymptote: $\propto l\,(e^{-1/\xi_c}/\chi_1)^l$"
        kind_legend(ax, curves, theory_label=law, simulation_label=None,
                    theory_style=dict(color="black", linestyle="--", linewidth=0.9), stack=True,
                    extra=[(f"{exact} of ntk_kernel", dict(color="0.35", marker="o", markerfacecolor="white",
                                                          linewidth=0.8, markersize=3.2)),
                           ("not resolved in float64", dict(color="0.35", marker="x", linestyle="none"))])
    headline(fig, title, data["settings"])
    return fig


def ntk_mse_dynamics(data: dict, title: str) -> Figure:
    fig, axes = new_figure(3, width=3.2, legend_lines=5)
    ax = axes[0]
    curves = []
    for name, rec in data["phases"].items():
        col = _PHASE_COLOUR[name]
        for split, marker, dashed in (("train", "o", False), ("test", "s", True)):
            r = rec[split]
            theory(ax, rec["t_line"], r["theory_line"], color=col, dashed=dashed)
            simulation(ax, rec["t"], r["simulation"], r["standard_error"], color=col, marker=marker, hollow=dashed)
        curves.append((rf"{name}: $\sigma_w^2 = {fmt(rec['sigma_w2'])}$, $\kappa = {rec['kappa']:.3g}$", col))
    _time_axis(ax)
    ax.set_yscale("log")
    ax.set_ylabel(r"MSE $\langle (f_t - Y)^2 \rangle$")
    ax.set_title("(a) train and test MSE")
    kind_legend(ax, curves, theory_label="train: mse_train_prediction", simulation_label="train: GD, mean ± SE",
                extra=[("test: mse_test_prediction", dict(color="0.35", linestyle="--")),
                       ("test: GD, mean ± SE", dict(color="0.35", marker="s", markerfacecolor="white",
                                                    linestyle="none"))])
    for ax, (name, rec), letter in zip(axes[1:], data["phases"].items(), "bc"):
        curves = []
        i = 0
        for split, marker in (("train", "o"), ("test", "s")):
            out = rec[split]["outputs"]
            for j, row in enumerate(out["rows"]):
                col = PALETTE[i]
                theory(ax, rec["t_line"], [v[j] for v in out["theory_line"]], color=col)
                simulation(ax, rec["t"], [v[j] for v in out["simulation"]], color=col, marker=marker,
                           hollow=split == "test")
                ax.axhline(out["target"][j], color=col, linestyle=":", linewidth=0.7)
                curves.append((f"{split} input {row}", col))
                i += 1
        _time_axis(ax)
        ax.set_ylabel(r"output $f_t(x)$ of network 0")
        ax.set_title(rf"({letter}) {name}, $\sigma_w^2 = {fmt(rec['sigma_w2'])}$: network 0")
        kind_legend(ax, curves, theory_label="theory (with its own $f_0$)", simulation_label="GD",
                    extra=[("target $Y$ (teacher)", dict(color="0.35", linestyle=":"))])
    headline(fig, title, data["settings"])
    return fig


def _time_axis(ax) -> None:
    """``t`` in GD steps on a symmetric-log axis: linear on [0, 1] (so ``t = 0`` is shown), logarithmic beyond."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
    ax.set_xlim(left=0.0)
    ax.set_xlabel(r"$t$ (GD steps)")
