"""Plots of seed 000's figures (families 1 and 2) from the dicts of :mod:`learndyn.verify.figures.data_seed000`.

Each function takes the data dict and returns a :class:`matplotlib.figure.Figure` (call inside
:func:`learndyn.verify.figures.style.style`); theory is drawn as lines, simulation as points.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from .style import MARKERS, PALETTE, fmt, headline, kind_legend, new_figure, simulation, theory, tidy_log

__all__ = ["scalar_learning_curve", "deep_linear_modes", "weight_decay_vs_noise", "dropout_time"]


def _every(values: list, count: int = 26) -> slice:
    """A stride that leaves about ``count`` points."""
    return slice(None, None, max(1, len(values) // count))


def scalar_learning_curve(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, legend_lines=3)
    for ax, panel, letter in zip(axes, data["panels"], "ab"):
        curves = []
        for i, c in enumerate(panel["curves"]):
            col = PALETTE[i]
            theory(ax, c["t_line"], c["theory_line"], color=col)
            sl = _every(c["t"])
            simulation(ax, c["t"][sl], c["simulation"][sl], color=col, marker=MARKERS[i])
            label = (rf"$u_0 = {fmt(c['u0'])}$" if panel["vary"] == "u0" else rf"$\mathrm{{lr}} = {fmt(c['lr'])}$")
            curves.append((label, col))
        ax.axhline(data["y"] / data["x"], color="0.6", linestyle=":", linewidth=0.8)
        fixed = (rf"$\mathrm{{lr}} = {fmt(panel['curves'][0]['lr'])}$" if panel["vary"] == "u0"
                 else rf"$u_0 = {fmt(panel['curves'][0]['u0'])}$")
        varied = r"$u_0$" if panel["vary"] == "u0" else r"$\mathrm{lr}$"
        ax.set_title(f"({letter}) several {varied}, {fixed}")
        ax.set_xlabel(r"$t$ (GD steps)")
        ax.set_ylabel(r"$u = w_2 w_1$")
        kind_legend(ax, curves, theory_label="theory: scalar_trajectory", simulation_label="simulation: GD")
    headline(fig, title, data["settings"])
    return fig


def deep_linear_modes(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, legend_lines=4)
    for ax, panel, letter in zip(axes, data["panels"], "ab"):
        curves = []
        for i, mode in enumerate(panel["modes"]):
            col = PALETTE[i]
            theory(ax, panel["flow_time_line"], mode["theory_line"], color=col)
            sl = _every(panel["flow_time"])
            simulation(ax, panel["flow_time"][sl], mode["simulation"][sl], color=col, marker=MARKERS[i])
            curves.append((rf"$s = {fmt(mode['s'])}$", col))
        ax.set_title(rf"({letter}) depth $D = {panel['depth']}$, $\mathrm{{lr}} = {fmt(panel['lr'])}$")
        ax.set_xlabel(r"$t/\tau$ ($\tau = 1/\mathrm{lr}$)")
        ax.set_ylabel(r"mode strength $a_\alpha = u_\alpha^\top W v_\alpha$")
        kind_legend(ax, curves, theory_label=f"theory: {panel['result']}", simulation_label="simulation: GD")
    headline(fig, title, data["settings"])
    return fig


def weight_decay_vs_noise(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, width=3.8, legend_lines=5)
    ax = axes[0]
    dec = data["decay"]
    curves = []
    for i, mode in enumerate(dec["modes"]):
        col = PALETTE[i]
        theory(ax, dec["flow_time_line"], mode["theory_line"], color=col)
        sl = _every(dec["flow_time"])
        simulation(ax, dec["flow_time"][sl], mode["simulation"][sl], color=col, marker=MARKERS[i])
        if mode["s"] > dec["gamma"]:
            ax.axhline(mode["s"] - dec["gamma"], color=col, linestyle=":", linewidth=0.7)
        curves.append((rf"$s = {fmt(mode['s'])}$", col))
    ax.set_title(rf"(a) weight decay $\gamma = {fmt(dec['gamma'])}$: plateau $s - \gamma$")
    ax.set_xlabel(r"$t/\tau$")
    ax.set_ylabel(r"mode strength $u$")
    kind_legend(ax, curves, theory_label="theory: weight_decay_trajectory", simulation_label="simulation: GD")

    ax = axes[1]
    noise = data["noise"]
    curves = []
    for i, mode in enumerate(noise["modes"]):
        col = PALETTE[i]
        theory(ax, noise["flow_time_line"], mode["noise_line"], color=col)
        theory(ax, noise["flow_time_line"], mode["decay_line"], color=col, dashed=True)
        sl = _every(noise["flow_time"], 20)
        simulation(ax, noise["flow_time"][sl], mode["noise_simulation"][sl], mode["noise_standard_error"][sl],
                   color=col, marker="o")
        simulation(ax, noise["flow_time"][sl], mode["decay_simulation"][sl], color=col, marker="s", hollow=True)
        ax.axhline(mode["plateau"], color=col, linestyle=":", linewidth=0.7)
        curves.append((rf"$\lambda = {fmt(mode['lam'])}$ ($\gamma = {mode['gamma']:.3g}$)", col))
    ax.set_title(rf"(b) input noise $\epsilon = {fmt(noise['eps'])}$ vs. weight decay, same plateau")
    ax.set_xlabel(r"$t/\tau$")
    ax.set_ylabel(r"mode strength $u$")
    grey = "0.35"
    kind_legend(ax, curves, theory_label=r"noise: dae_trajectory($\epsilon$)",
                simulation_label=r"noise: sampled, mean $\pm$ SE",
                extra=[(r"decay: dae_trajectory($\gamma$ = noise_equivalent_decay)",
                        dict(color=grey, linestyle="--")),
                       ("decay: GD", dict(color=grey, marker="s", markerfacecolor="white", linestyle="none")),
                       (r"plateau $\lambda/(\lambda+\epsilon)$", dict(color=grey, linestyle=":"))])
    headline(fig, title, data["settings"])
    return fig


def dropout_time(data: dict, title: str) -> Figure:
    fig, axes = new_figure(2, legend_lines=3)
    for ax, panel, letter in zip(axes, data["panels"], "ab"):
        line = panel["line"]
        x = panel["p"] if panel["vary"] == "p" else panel["margin"]
        theory(ax, line["x"], line["expected"], color=PALETTE[0])
        theory(ax, line["x"], line["bound"], color=PALETTE[1], dashed=True)
        simulation(ax, x, panel["mean"], panel["standard_error"], color=PALETTE[0], marker="o")
        ax.set_yscale("log")
        if panel["vary"] == "p":
            ax.set_xscale("log")
            tidy_log(ax, "x")
            ax.set_xlabel(r"keep probability $p$")
            ax.set_title(rf"(a) against $p$, margin $\epsilon = {fmt(panel['margin'][0])}$")
        else:
            ax.set_xlabel(r"margin $\epsilon$ (start $u_0 = \epsilon$, stop at $u \geq s - \epsilon$)")
            ax.set_title(rf"(b) against $\epsilon$, $p = {fmt(panel['p'][0])}$")
        ax.set_ylabel(r"$E[t]$ (GD steps to reach $s - \epsilon$)")
        tidy_log(ax, "y")
        expected = r"theory: dropout_expected_time $\frac{\tau}{sp}\ln\frac{s-\epsilon}{\epsilon}$"
        kind_legend(ax, [], theory_label=expected,
                    simulation_label=f"simulation: mean ± SE of {data['runs']} runs",
                    extra=[(r"bound: dropout_time_bound $\frac{\tau}{sp}\ln\frac{s}{\epsilon}$",
                            dict(color=PALETTE[1], linestyle="--"))])
    headline(fig, title, data["settings"])
    return fig
