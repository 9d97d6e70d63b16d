"""Figures of theory (lines) against simulation (points), in the spirit of the seed documents' slides.

``learndyn figures -o DIR [NAMES] [--quick] [--force] [--seed S] [--device D]`` runs :func:`render_figures`, which
writes ``NAME.png`` and ``NAME.pdf`` per figure of :data:`FIGURES` (name → :class:`FigureSpec`: the results it shows,
its caption, its data and its plot function). Each figure's data (a JSON-able dict from ``FIGURES[name].data``)
carries ``agreement`` records: how far simulation is from theory in units of a tolerance the simulation justifies
(:mod:`learndyn.verify.figures.agreement`; :func:`worst_ratio` ``≤ 1`` means they agree).

Modules, one concept each: :mod:`.style` (rcParams, deterministic PNG/PDF, the theory/simulation marks),
:mod:`.agreement` (tolerances), :mod:`.catalogue` (:data:`FIGURES`), :mod:`.render` (:func:`render_figures`),
``data_seed000/001/002/003/004`` (the data, per seed) and ``plot_seed000/001/002/003/004`` (the plots, per seed);
``data_similarity``/``plot_similarity``: the representation-similarity experiment of seed 001's plan (family 7).
"""
from .agreement import K_SE, compare, summary, worst_ratio
from .catalogue import FIGURES, FigureSpec
from .render import figure_paths, render_figures

__all__ = ["FIGURES", "FigureSpec", "render_figures", "figure_paths", "worst_ratio", "summary", "compare", "K_SE"]
