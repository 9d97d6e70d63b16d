"""A validity map's outputs: the terminal table, JSON, the figure and the LaTeX section of the report.

Everything here works from a map's JSON form (:meth:`~learndyn.verify.validity.ValidityMap.to_json`), so the report
draws maps written earlier by ``learndyn validity -o DIR`` (``DIR/validity/RESULT-AXIS.json``) as well as fresh ones.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

__all__ = ["map_path", "write_map", "read_maps", "format_maps", "holds_text", "render_map", "validity_latex",
           "FOLDER"]

#: the maps' folder inside an output folder (``learndyn validity -o`` and ``learndyn report -o``)
FOLDER = "validity"


def _num(x) -> float | None:
    if x is None:
        return None
    if isinstance(x, str):
        return {"inf": math.inf, "-inf": -math.inf}.get(x)
    return float(x)


def map_path(out: Path, data: dict) -> Path:
    return Path(out) / FOLDER / f"{data['result']}-{data['axis']}.json"


def write_map(out: Path, data: dict, *, force: bool = False) -> Path:
    """Write a map's JSON under ``out/validity/`` (``FileExistsError`` rather than overwrite, unless ``force``)."""
    path = map_path(out, data)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_maps(out: Path) -> list[dict]:
    """The maps stored under ``out/validity/``, by result and axis."""
    folder = Path(out) / FOLDER
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _g(x) -> str:
    x = _num(x)
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}"


def _g4(x) -> str:
    x = _num(x)
    return "-" if x is None else f"{x:.4g}"


def holds_text(data: dict, contour: dict, *, latex: bool = False) -> str:
    """``lr·λ_max < 0.0288 (0.0287-0.0289)`` / ``width > 340 (310-370)``: where the theory holds to the level."""
    label = data["label"]
    less = data["grows"]
    rel = "<" if less else ">"
    if contour.get("beyond") == "holds":
        edge = max if less else min
        bound = edge(v for pair in contour["brackets"] for v in pair if v is not None)
        text = f"all {label} tried ({'up to' if less else 'down to'} {_g(bound)})"
    elif contour.get("beyond") == "broken":
        text = f"no {label} tried (exceeded already at {_g(contour['value'])})"
    elif contour.get("beyond") == "unmeasured":
        text = (f"not located: exceeded at {_g(contour['value'])}, the last {label} the simulation runs at "
                f"({contour.get('error') or 'it failed beyond'})")
    elif contour.get("beyond") == "mixed":
        located = [v for v in contour["per_seed"] if v is not None]
        text = (f"{label} {rel} {_g(contour['value'])} (seeds disagree: located by {len(located)} of "
                f"{len(contour['per_seed'])}; the others reached the axis' end)")
    else:
        text = f"{label} {rel} {_g(contour['value'])} ({_g(contour['low'])}-{_g(contour['high'])})"
    if contour.get("noise") is not None:
        text += f" [noise-dominated: standard error {_g(contour['noise'])} at the bracket]"
    if latex:
        from learndyn.derive.latex_prose import prose_latex

        return prose_latex(text)
    return text


def format_maps(maps: Sequence[dict]) -> str:
    """The terminal summary: per map, each level's contour with its band and the prediction, and the limit."""
    lines = []
    for d in maps:
        lines.append(f"{d['result']} along {d['axis']} ({d['label']}), {d['check']}; {len(d['seeds'])} seed{'s' if len(d['seeds']) > 1 else ''}, "
                     f"from {_g(d['start'])}")
        for c in d["contours"]:
            pred = "" if c.get("predicted") is None else (
                f"; predicted {_g(c['predicted'])} ({d['predicted_by']}): {'agrees' if c['agrees'] else 'DISAGREES'}"
                if c.get("agrees") is not None else f"; predicted {_g(c['predicted'])}")
            lines.append(f"  holds to {c['level']:.0%}: {holds_text(d, c)}{pred}")
        lim = d.get("limit")
        if lim:
            brackets = ", ".join(f"[{_g4(a)}, {_g4(b)}]" for a, b in lim["brackets"])
            lines.append(f"  stability limit {d['axis']}: theory {_g(lim['theory'])}, simulation stops converging in "
                         f"{brackets}: {'agrees' if lim['agrees'] else 'DISAGREES'}")
        lines += [f"  note: {n}" for n in d.get("notes", ())]
    return "\n".join(lines)


def render_map(data: dict, png: Path, pdf: Path) -> None:
    """The figure of one map: the worst deviation against the axis (log–log), points per seed with one standard
    error, the predicted deviation as a line, the levels dashed, each contour's band shaded, the stability limit and
    where the simulation stopped converging."""
    from learndyn.verify.figures.style import MARKERS, PALETTE, headline, new_figure, save, simulation, style, theory

    with style():
        fig, (ax,) = new_figure(1, width=4.6, height=3.0)
        pts = [p for p in data["points"] if _num(p["deviation"]) is not None and math.isfinite(_num(p["deviation"]))
               and _num(p["deviation"]) > 0]
        for i, s in enumerate(data["seeds"]):
            mine = sorted((p for p in pts if p["seed"] == s), key=lambda p: p["value"])
            if mine:
                simulation(ax, [p["value"] for p in mine], [p["deviation"] for p in mine],
                           yerr=[min(p["se"], 0.99 * p["deviation"]) for p in mine], color=PALETTE[0],
                           marker=MARKERS[i % len(MARKERS)], label=f"simulation, seed {s}", markersize=3.5)
        broken = sorted({p["value"] for p in data["points"] if _num(p["deviation"]) is None
                         or not math.isfinite(_num(p["deviation"]))})  # blew up, or the simulation failed there
        if broken:
            top = max((_num(p["deviation"]) for p in pts), default=1.0)
            ax.plot(broken, [top * 2] * len(broken), linestyle="none", marker="x", color=PALETTE[1],
                    label="run blew up or failed", zorder=3)
        pred = sorted({(p["value"], _num(p["predicted"])) for p in data["points"]
                       if _num(p.get("predicted")) is not None and math.isfinite(_num(p["predicted"])) and _num(p["predicted"]) > 0})
        if pred:
            theory(ax, [v for v, _ in pred], [d for _, d in pred], color=PALETTE[1], label=data["predicted_by"] or "theory")
        for j, c in enumerate(data["contours"]):
            ax.axhline(c["level"], color="0.5", linestyle="--", linewidth=0.8)
            if c.get("beyond") is None and c.get("low") is not None:
                ax.axvspan(c["low"], c["high"], color=PALETTE[2], alpha=0.25, linewidth=0)
                ax.axvline(c["value"], color=PALETTE[2], linewidth=0.9, linestyle=("-", ":", "-.")[j % 3],
                           label=f"{c['level']:.0%} contour (band: 1 SE)")
        lim = data.get("limit")
        if lim:
            ax.axvline(lim["theory"], color=PALETTE[3], linewidth=1.0, label="stability limit (theory)")
            for a, b in lim["brackets"]:
                if a is not None and b is not None:
                    ax.axvspan(a, b, color=PALETTE[3], alpha=0.3, linewidth=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(data["label"])
        ax.set_ylabel("deviation of simulation from theory")
        ax.legend(loc="best", fontsize=6)
        headline(fig, f"Validity of {data['result']} along {data['label']}",
                 f"{data['check']}; deviation: {data['comparison']}; seeds {', '.join(map(str, data['seeds']))}; "
                 f"device {data['device']}")
        png.parent.mkdir(parents=True, exist_ok=True)
        save(fig, png, pdf)


def validity_latex(maps: Sequence[dict], figures: dict[str, Path] | None = None, folder: str = "figures") -> str:
    """The report's section: one table "holds to 1 % for …" over every map, then per result its figures, the
    theory of the breakdown and where it disagrees with the measured map."""
    from learndyn.derive.latex_prose import prose_latex
    from learndyn.verify.report_document import _tt

    if not maps:
        return ""
    levels = sorted({c["level"] for d in maps for c in d["contours"]})
    cols = "".join(r">{\raggedright\arraybackslash}p{%.2f\linewidth}" % (0.62 / len(levels)) for _ in levels)
    head = " & ".join(rf"holds to ${lv * 100:g}\,\%$ for" for lv in levels)
    lines = [r"\section{Validity maps}", r"\label{sec:validity}", "",
             r"Where each theory stops holding: one hyperparameter swept past the simulation range, the deviation of "
             r"simulation from theory measured as the result's simulation check measures it but before any "
             r"extrapolation, and the value where it crosses each level located by bisection (geometric mean over "
             r"seeds, with a one-standard-error band from the seeds, the bracket and the deviation's own noise). "
             r"Deviations are the worst configuration over the check's representative points.", "",
             r"{\small", r"\begin{longtable}{@{}>{\raggedright\arraybackslash}p{0.3\linewidth}" + cols + r"@{}}",
             r"\hline", rf"result & {head} \\ \hline\endhead"]
    for d in maps:
        cells = []
        for lv in levels:
            c = next((c for c in d["contours"] if c["level"] == lv), None)
            cells.append("--" if c is None else holds_text(d, c, latex=True))
        lines.append(rf"{_tt(d['result'])} & {' & '.join(cells)} \\")
    lines += [r"\hline", r"\end{longtable}", r"}", ""]
    for d in maps:
        notes = []
        for c in d["contours"]:
            if c.get("predicted") is not None:
                verdict = "agrees" if c.get("agrees") else ("\\textbf{disagrees}" if c.get("agrees") is False else "")
                notes.append(rf"${c['level'] * 100:g}\,\%$: predicted {prose_latex(_g(c['predicted']))} "
                             rf"({prose_latex(d['predicted_by'])}), {verdict}")
        lim = d.get("limit")
        if lim:
            brackets = ", ".join(f"[{_g4(a)}, {_g4(b)}]" for a, b in lim["brackets"])
            verdict = "agrees" if lim["agrees"] else r"\textbf{disagrees}"
            notes.append(prose_latex(f"stability limit {d['label']} = {_g(lim['theory'])}; the simulation stops "
                                     f"converging in {brackets}") + f", {verdict}")
        key = f"validity-{d['result']}-{d['axis']}"
        lines.append(rf"\paragraph{{{_tt(d['result'])} along {prose_latex(d['label'])}.}} "
                     + prose_latex(f"{d['check']}; deviation: {d['comparison']}. ")
                     + ("; ".join(notes) + "." if notes else "")
                     + "".join(" " + prose_latex(n[0].upper() + n[1:]) + "." for n in d.get("notes", ())))
        if figures and key in figures:
            lines += [r"\begin{figure}[htbp]", r"\centering",
                      rf"\includegraphics[width=0.8\linewidth]{{{folder}/{figures[key].stem}}}",
                      rf"\caption{{Validity of {_tt(d['result'])} along {prose_latex(d['label'])}: the worst deviation "
                      r"of simulation from theory (points, per seed), the levels (dashed), the contours (bands)"
                      + (r", the first-order theory (line)" if d.get("predicted_by") else "")
                      + (r", the stability limit and where the simulation stopped converging" if lim else "") + ".}",
                      rf"\label{{fig:{key}}}", r"\end{figure}"]
        lines.append("")
    return "\n".join(lines)
