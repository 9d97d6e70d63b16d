"""``render_figures``: compute each figure's data and write it as PNG and PDF (what ``learndyn figures`` runs)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .catalogue import FIGURES
from .style import save, style

__all__ = ["render_figures", "figure_paths"]


def figure_paths(out: Path, name: str) -> tuple[Path, Path]:
    """The two files of figure ``name`` in ``out``: ``NAME.png`` and ``NAME.pdf``."""
    out = Path(out)
    return out / f"{name}.png", out / f"{name}.pdf"


def render_figures(out: Path, names: list[str] | None = None, *, seed: int = 0, device: str = "cpu",
                   quick: bool = False, force: bool = False,
                   progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write ``NAME.png`` and ``NAME.pdf`` into ``out`` (created if missing) for each figure in ``names`` (default:
    all of :data:`FIGURES`, in its order); return the written paths in order (PNG then PDF per figure).

    ``seed`` seeds every simulated network and ``device`` is the torch device they run on; ``quick`` makes the
    simulations small (seconds in all: drafts and tests), the default is publication quality (minutes on a CPU).
    Files are deterministic for a given seed and device. ``progress(name)`` is called after each figure.

    Raises ``KeyError`` naming an unknown figure and listing the known ones, and ``FileExistsError`` naming a file
    that already exists (pass ``force`` / ``--force`` to overwrite) — both before anything is computed.
    """
    selected = list(FIGURES) if names is None else list(dict.fromkeys(names))  # each figure once, in order
    for name in selected:
        if name not in FIGURES:
            raise KeyError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    out = Path(out)
    if not force:
        for name in selected:
            for path in figure_paths(out, name):
                if path.exists():
                    raise FileExistsError(f"{path} already exists; pass --force (force=True) to overwrite it")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in selected:
        fig_spec = FIGURES[name]
        data = fig_spec.data(seed=seed, device=device, quick=quick)
        png, pdf = figure_paths(out, name)
        with style():
            fig = fig_spec.plot(data, fig_spec.caption)
            save(fig, png, pdf)
        written += [png, pdf]
        if progress is not None:
            progress(name)
    return written
