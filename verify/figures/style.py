"""House style of the figures and deterministic saving (matplotlib's Agg canvas, no pyplot state).

Every figure is a :class:`matplotlib.figure.Figure` on an Agg canvas (pyplot and the process-wide backend are left
alone), built inside :func:`style` (fixed rcParams: DejaVu Sans and its mathtext, sizes, ``svg.hashsalt``, TrueType
fonts in PDF) and written by :func:`save` as PNG (no ``Software`` key) and PDF (no ``Creator``, ``Producer``,
``CreationDate`` or ``ModDate``), so that the same data give byte-identical files. The drawing helpers fix the one
convention the figures share: **theory is a line, simulation is points** (with error bars where there are several
runs), and each legend says which is which.
"""
from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path
from typing import Iterator, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = ["RC", "PALETTE", "MARKERS", "style", "new_figure", "save", "theory", "simulation", "kind_legend",
           "headline", "tidy_log", "plain_log_ticks", "fmt"]

#: rcParams of every figure (font files ship with matplotlib, so the output does not depend on the system)
RC: dict = {
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "font.size": 8.5,
    "axes.titlesize": 9.0,
    "axes.labelsize": 9.0,
    "legend.fontsize": 7.0,
    "legend.title_fontsize": 7.5,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "figure.titlesize": 9.5,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "lines.linewidth": 1.3,
    "lines.markersize": 3.5,
    "errorbar.capsize": 1.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.7,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "svg.hashsalt": "learndyn",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "pdf.compression": 6,
    "path.simplify": True,
    "image.cmap": "viridis",
}

#: Okabe–Ito colours (distinguishable with colour-blindness), in the order curves use them
PALETTE: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                            "#F0E442")
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")

_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The figures' rcParams for the duration of the block (the caller's settings come back afterwards)."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(ncols: int, nrows: int = 1, *, width: float = 3.3, height: float = 2.5,
               legend_lines: int = 0) -> tuple[Figure, list]:
    """A constrained-layout figure with ``nrows × ncols`` axes of about ``width × height`` inches each; returns the
    figure and the axes as a flat list (row by row). With ``legend_lines > 0`` a strip of that many legend lines is
    reserved under each column of the last row (``ax.legend_slot``, an empty axes that :func:`kind_legend` fills),
    so that legends never cover data. Call inside :func:`style`."""
    strip = 0.135 * legend_lines + 0.05 if legend_lines else 0.0
    fig = Figure(figsize=(width * ncols, height * nrows + strip + 0.75), layout="constrained")
    FigureCanvasAgg(fig)
    ratios = [height] * nrows + ([strip] if strip else [])
    grid = fig.add_gridspec(len(ratios), ncols, height_ratios=ratios)
    axes = [fig.add_subplot(grid[r, c]) for r in range(nrows) for c in range(ncols)]
    if strip:
        for c in range(ncols):
            slot = fig.add_subplot(grid[nrows, c])
            slot.set_axis_off()
            axes[(nrows - 1) * ncols + c].legend_slot = slot
    return fig, axes


def save(fig: Figure, png: Path, pdf: Path) -> None:
    """Write ``fig`` as PNG and PDF without timestamps or version strings (byte-identical for the same figure)."""
    fig.savefig(png, format="png", metadata=_PNG_METADATA)
    fig.savefig(pdf, format="pdf", metadata=_PDF_METADATA)


def theory(ax: Axes, x, y, *, color: str, label: str | None = None, dashed: bool = False, **kw) -> None:
    """A theory curve (a line; ``dashed`` for a second theory curve in the same colour)."""
    ax.plot(x, y, color=color, linestyle="--" if dashed else "-", label=label, zorder=2, **kw)


def simulation(ax: Axes, x, y, yerr=None, *, color: str, marker: str = "o", label: str | None = None,
               hollow: bool = False, **kw) -> None:
    """Simulation points, with error bars (one standard error) when ``yerr`` is given."""
    face = "white" if hollow else color
    if yerr is None:
        ax.plot(x, y, linestyle="none", marker=marker, color=color, markerfacecolor=face, markeredgewidth=0.8,
                label=label, zorder=3, **kw)
    else:
        ax.errorbar(x, y, yerr=yerr, linestyle="none", marker=marker, color=color, markerfacecolor=face,
                    markeredgewidth=0.8, elinewidth=0.8, label=label, zorder=3, **kw)


def kind_legend(ax: Axes, curves: Sequence[tuple[str, str]] = (), *, theory_label: str = "theory",
                simulation_label: str | None = "simulation", extra: Sequence[tuple[str, dict]] = (),
                loc: str | None = None, theory_style: dict | None = None, stack: bool = False, **kw):
    """One legend: the curves (``(label, colour)``, drawn as a coloured line with a point: theory and simulation of
    a curve share its colour), then in grey which mark is theory (a line) and which simulation (points), then
    ``extra`` ``(label, Line2D keywords)`` entries (``theory_style``: keywords for the theory entry, e.g. a dashed
    line). Without ``loc``, where :func:`new_figure` reserved a strip under the axes, it goes there (curves in one
    column, the kinds of mark in the next; all in one column with ``stack``), where it cannot hide data; otherwise
    inside the axes at ``loc`` (default ``"best"``). Returns the legend."""
    handles = [Line2D([], [], color=c, marker="o", markersize=3, label=lab) for lab, c in curves]
    kinds = [Line2D([], [], label=theory_label, **({"color": "0.35"} | (theory_style or {})))]
    if simulation_label:
        kinds.append(Line2D([], [], color="0.35", marker="o", linestyle="none", label=simulation_label))
    kinds += [Line2D([], [], label=lab, **style_kw) for lab, style_kw in extra]
    slot = getattr(ax, "legend_slot", None)
    if loc is not None or slot is None:
        return ax.legend(handles=handles + kinds, loc=loc or "best", ncols=1, **kw)
    # in the strip under the axes: one column of curves, one of what the marks mean
    cols = [handles, kinds] if handles and not stack else [handles + kinds]
    rows = max(len(c) for c in cols)
    blank = Line2D([], [], linestyle="none", label=" ")
    ordered = [h for c in cols for h in c + [blank] * (rows - len(c))]
    return slot.legend(handles=ordered, loc="upper center", ncols=len(cols), borderaxespad=0.0, columnspacing=1.0,
                       **kw)


def _visible(word: str) -> int:
    """Roughly how many characters ``word`` shows once its mathtext is rendered (commands and braces take none)."""
    shown = re.sub(r"\\[A-Za-z]+", "x", word)
    return sum(1 for ch in shown if ch not in "${}^_\\")


def _wrap(text: str, chars: int) -> str:
    """Greedy line breaking at spaces, never inside a ``$…$`` mathtext span, counting rendered characters."""
    parts = text.split("$")
    glued = "$".join(p.replace(" ", "\x00") if i % 2 else p for i, p in enumerate(parts))
    lines: list[list[str]] = [[]]
    width = 0
    for word in glued.split(" "):
        w = _visible(word)
        if lines[-1] and width + 1 + w > chars:
            lines.append([])
            width = 0
        width += w + (1 if lines[-1] else 0)
        lines[-1].append(word)
    return "\n".join(" ".join(line) for line in lines).replace("\x00", " ")


def headline(fig: Figure, title: str, settings: str) -> None:
    """The figure's title (its one-line caption) on top and the simulation's settings at the bottom (smaller, grey),
    each wrapped to the figure's width (mathtext spans are kept whole)."""
    chars = int(fig.get_figwidth() * 14.5)
    fig.suptitle(_wrap(title, chars), fontsize=RC["figure.titlesize"], linespacing=1.3)
    fig.supxlabel(_wrap(settings, int(chars * 1.15)), fontsize=RC["legend.fontsize"] + 0.5, color="0.25",
                  linespacing=1.3)


def tidy_log(ax: Axes, axis: str = "y") -> None:
    """Plain tick labels on a log axis that spans few decades (``50, 100, 200``, not ``5×10¹``), ticks at
    1, 2 and 5 per decade; wide ranges keep matplotlib's ``10^k`` labels."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    if lo > 0 and hi / lo < 1e3:
        plain_log_ticks(target)


def plain_log_ticks(axis) -> None:
    """Ticks at 1, 2 and 5 per decade labelled ``%g`` on a log-scaled matplotlib ``Axis`` (e.g. a secondary axis)."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def fmt(v: float) -> str:
    """A short number for titles and legends: ``0.005``, ``1e-3``, ``25``."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    e = math.floor(math.log10(abs(v)))
    if -3 <= e <= 3:
        return f"{v:g}"
    m = v / 10**e
    return f"{m:g}e{e}" if abs(m - 1) > 1e-12 else f"1e{e}"
