"""The ``learndyn`` command: list, info, eval, derive, verify, validity, latex, data, figures, report, digits,
similarity-experiment, bench.

Start-up is cheap: this module imports click and the standard library only; torch, SymPy and the rest are
imported inside the commands that need them (``--help``, ``list`` and ``info`` need neither).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from learndyn.verify.similarity_experiment import ACTIVATIONS, NOISES  # the standard library only (no torch)

__all__ = ["main"]

SEED = click.IntRange(min=0)
POSITIVE = click.IntRange(min=1)
TIERS = ("a", "b", "claims")


def _error_text(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else str(exc)


def _reject_claim_names(names: tuple[str, ...]) -> None:
    """A usage error for a claim given where result names are expected, naming the results it is about."""
    from learndyn.catalogue import load_catalogue

    claims = load_catalogue()["claims"]
    for name in names:
        if name in claims:
            about = " ".join(claims[name]["about"])
            raise click.UsageError(f"{name!r} is a claim, and NAMES are results; the claim is checked with the results "
                                   f"it is about: learndyn verify {about} --tier claims")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="learndyn")
def main() -> None:
    """Derive, prove, generate and verify results of the theory of learning dynamics.

    Start with `learndyn list` (the results and claims), `learndyn info NAME` (one result: parameters and their
    ranges, equations, assumptions, source) and `learndyn eval NAME KEY=VALUE...`."""


# -- the catalogue ------------------------------------------------------------------------------------------


@main.command("list", short_help="List the results and claims, by family.")
@click.option("--params", is_flag=True, help="Also each result's parameters with their domains.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(params: bool, as_json: bool) -> None:
    """List the results (by family) and the claims beside them; `learndyn info NAME` describes one."""
    from learndyn.generated import CLAIMS, FAMILIES

    if params:
        from learndyn.catalogue import WIDTH, load_catalogue, params_summary

        results = load_catalogue()["results"]
    if as_json:
        families = {f: ({n: results[n]["params"] for n in r} if params else list(r)) for f, r in FAMILIES.items()}
        click.echo(json.dumps({"families": families, "claims": {f: list(c) for f, c in CLAIMS.items()}}, indent=2,
                              ensure_ascii=False))
        return
    import textwrap

    for fam, names in FAMILIES.items():
        click.echo(f"{fam}:")
        for n in names:
            if params:
                text = f"{n}({', '.join(p['name'] for p in results[n]['params'])}): {params_summary(n)}"
                click.echo("\n".join(textwrap.wrap(text, WIDTH, initial_indent="  ", subsequent_indent="      ",
                                                   break_long_words=False, break_on_hyphens=False)))
            else:
                click.echo(f"  {n}")
        for c in CLAIMS.get(fam, ()):
            click.echo(f"  claim: {c}")


@main.command(short_help="Describe a result or claim: parameters, equations, assumptions, source.")
@click.argument("names", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="The catalogue's records, machine-readable.")
def info(names: tuple[str, ...], as_json: bool) -> None:
    """Describe results or claims from their declarations: a result's parameters (kind, domain, test range,
    simulation range), relations, defining equation, closed forms (published, derived, emitted), outputs,
    assumptions, source and the claims about it; a claim's statement, the results it is about and its source.

    NAMES are result or claim names (`learndyn list`)."""
    from learndyn.catalogue import describe, entry

    try:
        if as_json:
            click.echo(json.dumps({n: entry(n)[1] for n in names}, indent=2, ensure_ascii=False))
        else:
            click.echo("\n\n".join(describe(n) for n in names))
    except (KeyError, FileNotFoundError) as exc:
        raise click.ClickException(_error_text(exc))


@main.command("eval", short_help="Evaluate a result at given parameter values.")
@click.argument("name")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
def eval_cmd(name: str, assignments: tuple[str, ...]) -> None:
    """Evaluate result NAME at KEY=VALUE arguments (`learndyn info NAME` lists its parameters).

    A value is a number, comma-separated numbers (a 1-d tensor), a JSON array (`x1='[[1, 2], [3, 4]]'`) or @FILE
    (a .npy, .csv or .json file); an integer or categorical parameter takes its value as it is; an optional array
    (x2) may be left out. The output is a number, or JSON for a tensor or several outputs.

    \b
    learndyn eval scalar_trajectory t=100 x=1 y=2 u0=1e-3 lr=0.01
    learndyn eval ntk_kernel x1='[[1, 0], [0.6, 0.8]]' hidden_layers=3 sigma_w2=1.5 sigma_b2=0.05 activation=erf
    """
    import learndyn
    from learndyn.eval_arguments import ArgumentError, parse_assignments

    try:
        fn = learndyn.function(name)
        family = learndyn.family_of(name)
    except KeyError as exc:
        raise click.ClickException(_error_text(exc))
    import importlib

    domain = importlib.import_module(f"learndyn.generated.{family}").DOMAINS[name]
    try:
        kwargs = parse_assignments(name, assignments, domain.params)
    except ArgumentError as exc:
        if exc.param is None:
            raise click.UsageError(str(exc))
        raise click.BadParameter(str(exc), param_hint=exc.param)
    try:
        value = fn(**kwargs)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    if hasattr(value, "_asdict"):  # several outputs (a NamedTuple)
        click.echo(json.dumps({k: (float(v) if v.dim() == 0 else v.tolist()) for k, v in value._asdict().items()}))
    elif value.dim() == 0:
        click.echo(repr(float(value)))
    else:
        click.echo(json.dumps(value.tolist()))


# -- derive and verify --------------------------------------------------------------------------------------


@main.command(short_help="Derive, prove and generate every result.")
@click.option("--check", is_flag=True, help="Exit 1 if anything generated differs from what is on disk.")
@click.option("--module", "modules", multiple=True, metavar="PATH_OR_MODULE",
              help="Your own family module (defines FAMILY); derives only these, into --out.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: the source tree's generated/).")
@click.option("--no-cache", is_flag=True, help="Re-derive everything (ignore cached proofs).")
@click.option("--force", is_flag=True, help="Overwrite files in --out that learndyn did not generate.")
def derive(check: bool, modules: tuple[str, ...], out: Path | None, no_cache: bool, force: bool) -> None:
    """Derive, prove and generate every result: torch modules, LaTeX and the catalogue `learndyn info` reads."""
    from learndyn.progress import Progress

    if modules and out is None:
        raise click.UsageError("--module needs --out DIR: derive never writes your results into the package")
    from learndyn.derive.families import builtin_families, load_family_module
    from learndyn.derive.pipeline import check_outputs, default_output_dir, derive_families, render, write_outputs
    from learndyn.derive.proof import DerivationError

    start = time.perf_counter()
    if modules:
        fams = [load_family_module(m) for m in modules]
    else:
        fams = builtin_families()
        try:
            out = out or default_output_dir()
        except RuntimeError as exc:
            raise click.ClickException(str(exc))
    total = sum(len(f.results) for f in fams)
    # every family's cold results in one pool, so one family's slow result overlaps with the others'
    with Progress("derive", None, unit="result") as progress:
        try:
            derivations = derive_families(fams, use_cache=not no_cache, progress=progress.done,
                                          planned=progress.set_total)
        except DerivationError as exc:
            raise click.ClickException(f"derivation failed: {exc}")
    derived = list(zip(fams, derivations))
    files = render(derived, index=not modules)
    if check:
        problems = check_outputs(out, files)
        for p in problems:
            click.echo(f"{p.path}: {p.reason}", err=True)
            if p.diff:
                click.echo(p.diff, err=True)
        if problems:
            raise SystemExit(1)
        click.echo(f"{len(files)} generated files are up to date in {out} ({time.perf_counter() - start:.1f} s)")
        return
    try:
        written = write_outputs(out, files, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"derived and proved {total} results; wrote {len(written)} of {len(files)} files to {out} "
               f"({time.perf_counter() - start:.1f} s)")


def _check_device(device: str) -> None:
    try:
        import torch

        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise click.BadParameter(f"device {device!r} is not available: {exc}", param_hint="--device")


@main.command(short_help="Verify the generated functions (mpmath) and the theory (trained networks).")
@click.argument("names", nargs=-1)
@click.option("--examples", default=100, show_default=True, type=POSITIVE,
              help="Hypothesis draws per result (tier a) and batch size scale (tier b).")
@click.option("--device", default=None, help="torch device for simulations (default: cuda if available, else cpu).")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of every draw and every simulated network.")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(TIERS), help="Only these tiers (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
@click.option("--power", is_flag=True,
              help="Also measure tier b's power: the smallest relative error of each theory its simulation checks "
                   "detect (outputs x (1 +- d), the clock (1 + d) fast; a bound replaced by what it bounds). Runs "
                   "tier b only unless --tier says otherwise; exit 1 if a result misses d <= 2 %.")
@click.option("--module", default=None, metavar="PATH_OR_MODULE",
              help="Verify your own family (tier a, and tier b from its SIMULATIONS) ...")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="... generated into this folder.")
def verify(names, examples, device, seed, tiers, as_json, power, module, out) -> None:
    """Verify generated functions against mpmath (tier a), the theory against simulation (tier b: networks trained
    by gradient descent, random wide networks or Monte Carlo, as each result declares) and the claims; one row per
    result and tier, exit 1 on any failure. --power also measures what error tier b would catch.

    NAMES are result names (`learndyn list` shows them, `learndyn info NAME` describes one); without NAMES, every
    result. The claims about the chosen results are checked with them (tier claims)."""
    from learndyn.progress import Progress

    if module is not None and out is None:
        raise click.UsageError("--module needs --out DIR (the folder `learndyn derive --module` wrote)")
    _reject_claim_names(names)
    from learndyn.verify.runner import (
        VerifyConfig, default_device, plan_user_family, plan_verification, run_power, run_user_family, run_user_power,
        run_verification,
    )
    from learndyn.verify.tier_b import MeasurementCache

    device = device or default_device()
    _check_device(device)
    config = VerifyConfig(examples=examples, seed=seed, device=device)
    tiers = tuple(tiers) or (("b",) if power else TIERS)
    cache = MeasurementCache()
    power_rows = []
    try:
        if module is not None:
            planned = plan_user_family(module, out, tiers, power=power)
        else:
            planned = plan_verification(names or None, tiers, power=power)
        with Progress("verify", len(planned), unit="check") as progress:
            if module is not None:
                checks = run_user_family(module, out, config=config, tiers=tiers, progress=progress.start, cache=cache)
                if power:
                    power_rows = run_user_power(module, out, config=config, progress=progress.start, cache=cache)
            else:
                checks = run_verification(names or None, config=config, tiers=tiers, progress=progress.start, cache=cache)
                if power:
                    power_rows = run_power(names or None, config=config, progress=progress.start, cache=cache)
    except (KeyError, FileNotFoundError) as exc:
        raise click.ClickException(_error_text(exc))
    if as_json:
        import torch

        payload = {"seed": seed, "device": device, "examples": examples, "torch": torch.__version__,
                   "checks": [c.to_json() for c in checks]}
        if power:
            payload["power"] = [r.to_json() for r in power_rows]
        click.echo(json.dumps(payload, indent=2, default=str))
    else:
        from learndyn.verify.report import format_table

        click.echo(format_table(checks))
        if power:
            from learndyn.verify.tier_b import format_power_table

            click.echo("")
            click.echo(format_power_table(power_rows))
    failed = [c for c in checks if not c.passed]
    weak = [r.result for r in power_rows if not r.meets_target]
    if failed and not as_json:
        click.echo(f"{len(failed)} of {len(checks)} checks FAILED", err=True)
    if weak and not as_json:
        click.echo(f"{len(weak)} of {len(power_rows)} results miss the power target: {', '.join(weak)}", err=True)
    if failed or weak:
        raise SystemExit(1)
    if not as_json:
        click.echo(f"all {len(checks)} checks passed (seed {seed}, device {device})")


# -- documents and figures ----------------------------------------------------------------------------------


@main.command(short_help="LaTeX of results: labelled equations, assumptions, domain, source, proof.")
@click.argument("names", nargs=-1)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write FILE.tex and its bibliography FILE.bib beside it (default: the document on stdout).")
@click.option("--body", is_flag=True, help="Only the sections, to \\input into a paper (it needs the packages listed in its first lines).")
@click.option("--pdf", is_flag=True, help="Also build FILE.pdf with latexmk (or pdflatex + bibtex); fails without a LaTeX engine.")
@click.option("--force", is_flag=True, help="Overwrite FILE.tex / FILE.bib if they exist.")
@click.option("--module", default=None, metavar="PATH_OR_MODULE",
              help="A family of your own: its section as `learndyn derive --module MODULE --out DIR` wrote it (with --out).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="... the folder derive wrote.")
@click.option("--verification", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="With --module: the JSON of `learndyn verify --module ... --json`, set as the verification table.")
def latex(names, output, body, pdf, force, module, out_dir, verification) -> None:
    """LaTeX of results: numbered equations labelled eq:NAME, assumptions, domain, source with citation, proof
    status. NAMES are result names (`learndyn list`); without NAMES, every result. With --module and --out, the
    document of a family of your own (its derivation and proof as derive wrote them, and its verification)."""
    if (module is None) != (out_dir is None):
        raise click.UsageError("--module and --out go together")
    if module is not None and (names or body):
        raise click.UsageError("--module writes the whole family's standalone document: drop NAMES and --body")
    if verification is not None and module is None:
        raise click.UsageError("--verification goes with --module (the built-in results' report: learndyn report)")
    if pdf:  # every refusal comes before anything is written
        if output is None:
            raise click.UsageError("--pdf needs -o FILE.tex")
        if body:
            raise click.UsageError("--pdf builds a standalone document; drop --body")
        from learndyn.latex_build import LatexUnavailable, latex_engine

        try:
            latex_engine()
        except LatexUnavailable as exc:
            raise click.ClickException(f"cannot build the PDF: {exc}; drop --pdf to write the .tex only")
    if output is not None and not force:
        for path in (output, output.with_suffix(".bib")):
            if path.exists():
                raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    from learndyn.derive.latex import PREAMBLE, bibliography_bibtex, latex_body, latex_document
    from learndyn.derive.proof import DerivationError

    names = list(names) or None
    try:
        if module is not None:
            from learndyn.user_paper import read_verification, user_document

            text, bib = user_document(module, out_dir, bib=output.stem if output else "learndyn",
                                      verification=read_verification(verification) if verification else None)
        elif body:
            text = "\n".join(["% learndyn: results to \\input; the preamble needs:", *(f"% {p}" for p in PREAMBLE),
                              f"% and \\bibliography{{{output.stem if output else 'learndyn'}}}", latex_body(names), ""])
        else:
            text = latex_document(names, bib=output.stem if output else "learndyn")
        if module is None:
            bib = bibliography_bibtex(names)
    except (KeyError, DerivationError, FileNotFoundError, ImportError) as exc:
        raise click.ClickException(_error_text(exc))
    if output is None:
        click.echo(text, nl=False)
        return
    bib_path = output.with_suffix(".bib")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    bib_path.write_text(bib, encoding="utf-8")
    click.echo(f"wrote {output} and {bib_path}")
    if pdf:
        from learndyn.latex_build import LatexError, build_pdf

        try:
            click.echo(f"wrote {build_pdf(output)}")
        except LatexError as exc:
            raise click.ClickException(str(exc))


@main.command("data", short_help="The data behind a figure (theory and simulation) as JSON.")
@click.argument("figure", required=False)
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the simulated networks.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--quick", is_flag=True, help="Small simulations (seconds), as `learndyn figures --quick`.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the JSON to FILE.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def data_cmd(figure, seed, device, quick, output, force) -> None:
    """The data behind FIGURE, one of the figures `learndyn figures` draws: theory, simulation, settings and the
    agreement of the two, as JSON. Without FIGURE, list the figures."""
    from learndyn.verify.figures import FIGURES

    if figure is None:
        for name, spec in FIGURES.items():
            click.echo(f"{name} (seed {spec.seed}; {', '.join(spec.results)}): {spec.caption}")
        return
    if figure not in FIGURES:
        raise click.ClickException(f"unknown figure {figure!r}; known: {', '.join(FIGURES)}")
    if output is not None and output.exists() and not force:
        raise click.ClickException(f"{output} exists; pass --force to overwrite it")
    from learndyn.verify.runner import default_device

    device = device or default_device()
    _check_device(device)
    text = json.dumps(FIGURES[figure].data(seed=seed, device=device, quick=quick), indent=1)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")


@main.command(short_help="Figures of theory against simulation, PNG and PDF.")
@click.argument("names", nargs=-1)
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the PNG and PDF files.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of every simulated network.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--quick", is_flag=True, help="Small simulations (seconds): drafts and tests.")
@click.option("--force", is_flag=True, help="Overwrite figures already in the folder.")
def figures(names, out, seed, device, quick, force) -> None:
    """Figures of theory (lines) against simulation (points), PNG and PDF. NAMES are figure names (`learndyn data`
    lists them); without NAMES, all of them."""
    from learndyn.progress import Progress
    from learndyn.verify.figures import FIGURES, figure_paths, render_figures
    from learndyn.verify.runner import default_device

    selected = list(dict.fromkeys(names)) or list(FIGURES)
    unknown = [n for n in selected if n not in FIGURES]
    if unknown:
        raise click.ClickException(f"unknown figure {unknown[0]!r}; known: {', '.join(FIGURES)}")
    existing = [p for n in selected for p in figure_paths(out, n) if p.exists()]
    if existing and not force:
        raise click.ClickException(f"{existing[0]} exists; pass --force to overwrite it")
    device = device or default_device()
    _check_device(device)
    try:
        with Progress("figures", len(selected), unit="figure") as progress:
            paths = render_figures(out, selected, seed=seed, device=device, quick=quick, force=force,
                                   progress=progress.done)
    except ImportError as exc:
        raise click.ClickException(_error_text(exc))
    for p in paths:
        click.echo(f"wrote {p}")


@main.command(short_help="The report: derivations, verification, figures and provenance, as PDF.")
@click.argument("names", nargs=-1)
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for report.tex/.bib/.pdf, verification.json and figures/.")
@click.option("--examples", default=100, show_default=True, type=POSITIVE, help="As for learndyn verify.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of every draw, simulated network and figure.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(TIERS), help="Only these tiers (default: all).")
@click.option("--quick-figures", is_flag=True, help="Small simulations for the figures (a draft).")
@click.option("--refresh", is_flag=True, help="Verify again even where a cached result matches.")
@click.option("--no-pdf", is_flag=True, help="Write the LaTeX only.")
@click.option("--force", is_flag=True, help="Overwrite a report already in the folder.")
@click.option("--validity", "with_validity", is_flag=True,
              help="Also map every validity axis of the results (slow; maps already in OUT/validity are always drawn).")
def report(names, out, examples, seed, device, tiers, quick_figures, refresh, no_pdf, force, with_validity) -> None:
    """The paper-ready report: derivations, verification tables, figures and provenance, built to PDF.

    NAMES are result names (`learndyn list` shows them, `learndyn info NAME` describes one); without NAMES, every
    result. The claims about the chosen results are checked with them, and the figures that show them drawn."""
    from learndyn.progress import Progress, clock

    _reject_claim_names(names)
    from learndyn.latex_build import LatexError
    from learndyn.verify.report_document import write_report
    from learndyn.verify.runner import VerifyConfig, default_device, plan_verification

    tiers = tuple(tiers) or TIERS
    try:
        planned = len(plan_verification(names or None, tiers))
    except KeyError as exc:
        raise click.ClickException(_error_text(exc))
    device = device or default_device()
    _check_device(device)
    start = time.perf_counter()
    steps: list[Progress] = []
    units = {"verify": "check", "figures": "figure", "validity": "map"}

    def progress(step: str, total: int):
        if steps:
            steps[-1].close()
        bar = Progress(f"report: {step}", planned if step == "verify" else (total or None), unit=units.get(step, "step"))
        steps.append(bar)
        return bar.done if step in ("figures", "validity") else bar.start  # each reported as it is written

    config = VerifyConfig(examples=examples, seed=seed, device=device)
    try:
        files = write_report(out, list(names) or None, config=config, tiers=tiers, quick_figures=quick_figures,
                             force=force, pdf=not no_pdf, refresh=refresh, progress=progress, validity=with_validity)
    except (FileExistsError, KeyError, LatexError) as exc:
        for bar in steps:
            bar.close(summary=False)
        raise click.ClickException(_error_text(exc))
    for bar in steps:
        bar.close()
    click.echo(f"wrote {files.tex}, {files.bib}, {files.verification} and {len(files.figures)} figure files"
               + (" (verification reused from the cache)" if files.verification_reused else ""))
    if files.pdf:
        click.echo(f"wrote {files.pdf}")
    elif files.pdf_skipped:
        click.echo(f"skipped the PDF: {files.pdf_skipped}", err=True)
    click.echo(f"report: done in {clock(time.perf_counter() - start)}", err=True)
    if files.failed:
        click.echo(f"{len(files.failed)} checks FAILED: {', '.join(files.failed)}", err=True)
        raise SystemExit(1)


# -- validity maps --------------------------------------------------------------------------------------------


def _level_list(ctx, param, value: str) -> tuple[float, ...]:
    try:
        levels = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated deviations, e.g. 0.01,0.1")
    if not levels or any(not 0 < lv < float("inf") for lv in levels):
        raise click.BadParameter(f"{value!r}: every level must be a positive deviation (0.01 is 1 %)")
    return levels


def _axis_list(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    axes = tuple(v.strip() for v in value.split(",") if v.strip())
    if not axes:
        raise click.BadParameter(f"{value!r}: expected comma-separated axes, e.g. lr,width")
    return axes


@main.command(short_help="Validity maps: where a theory stops holding (lr, width).")
@click.argument("names", nargs=-1, required=True)
@click.option("--over", "axes", default=None, callback=_axis_list, metavar="AXES",
              help="Comma-separated axes to sweep (default: every axis the result's checks declare).")
@click.option("--level", "levels", default="0.01,0.1", show_default=True, callback=_level_list, metavar="LEVELS",
              help="Comma-separated deviations whose contours are located.")
@click.option("--seeds", default=3, show_default=True, type=POSITIVE, help="Independent maps, for the contours' uncertainty.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="The first seed.")
@click.option("--bisections", default=5, show_default=True, type=POSITIVE, help="Halvings of each contour's bracket.")
@click.option("--check", "check_index", default=None, type=click.IntRange(min=0),
              help="Which of the result's simulation checks (default: the first that declares the axis).")
@click.option("--size", "size_items", multiple=True, metavar="KEY=VALUE",
              help="Replace one of the check's sizes (e.g. max_steps=200000, networks=256); repeatable.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write OUT/validity/NAME-AXIS.{json,png,pdf} and OUT/validity/validity.tex (learndyn report -o OUT "
                   "includes them).")
@click.option("--json", "as_json", is_flag=True, help="Print the maps as JSON.")
@click.option("--force", is_flag=True, help="Overwrite maps already in OUT.")
@click.option("--module", default=None, metavar="PATH_OR_MODULE",
              help="A user's family (its results' SIMULATIONS declare the axes), with --out.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="... whose generated module `learndyn derive --module MODULE --out DIR` wrote here.")
def validity(names, axes, levels, seeds, seed, bisections, check_index, size_items, device, out, as_json, force, module,
             out_dir) -> None:
    """Map where each result's theory stops holding: sweep AXES past the simulation range, measure the deviation of
    simulation from theory (the result's own simulation check, before extrapolation) and locate where it crosses
    each level, with its uncertainty over seeds; the first-order theory of the breakdown and the stability limit
    are drawn beside it where they exist. NAMES are result names (`learndyn list`)."""
    from learndyn.progress import Progress, clock
    from learndyn.verify.runner import default_device
    from learndyn.verify.validity import axes_of
    from learndyn.verify.validity.output import format_maps, map_path, render_map, validity_latex, write_map
    from learndyn.verify.validity.sweep import declared_axes, validity_map

    _reject_claim_names(names)
    if (module is None) != (out_dir is None):
        raise click.UsageError("--module and --out go together")
    sizes = {}
    for item in size_items:
        key, eq, value = item.partition("=")
        try:
            sizes[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            eq = ""
        if not eq or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=NUMBER, e.g. max_steps=200000", param_hint="--size")
    device = device or default_device()
    _check_device(device)
    plan = []
    for name in names:
        try:
            known = declared_axes(name, module, out_dir)
        except KeyError as exc:
            raise click.ClickException(_error_text(exc))
        for axis in axes or known:
            if axis not in known:
                raise click.UsageError(f"{name} has no validity axis {axis!r}; its checks declare: "
                                       f"{', '.join(known) if known else 'none'}")
            plan.append((name, axis))
    if out is not None and not force:
        for name, axis in plan:
            path = map_path(out, {"result": name, "axis": axis})
            if path.exists():
                raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    start = time.perf_counter()
    maps = []
    with Progress("validity", None, unit="run") as bar:
        for name, axis in plan:
            try:
                m = validity_map(name, axis, levels=levels, seeds=seeds, seed=seed, device=device, check=check_index,
                                 bisections=bisections, module=module, out_dir=out_dir, sizes=sizes,
                                 progress=bar.start)
            except (KeyError, ValueError) as exc:
                raise click.ClickException(_error_text(exc))
            maps.append(m.to_json())
    if out is not None:
        for data in maps:
            path = write_map(out, data, force=True)
            render_map(data, path.with_suffix(".png"), path.with_suffix(".pdf"))
            click.echo(f"wrote {path} and its figure", err=True)
        tex = Path(out) / "validity" / "validity.tex"
        tex.write_text(validity_latex(maps, folder="."), encoding="utf-8")
        click.echo(f"wrote {tex}", err=True)
    if as_json:
        click.echo(json.dumps(maps, indent=1, sort_keys=True))
    else:
        click.echo(format_maps(maps))
    click.echo(f"validity: done in {clock(time.perf_counter() - start)}", err=True)


# -- experiments and benchmarks -----------------------------------------------------------------------------


def _depth_list(ctx, param, value: str) -> tuple[int, ...]:
    try:
        depths = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated integers, e.g. 1,2,4")
    if any(d < 1 for d in depths):
        raise click.BadParameter(f"{value!r}: every depth must be at least 1")
    return depths


@main.command(short_help="Seed 004's trainability/generalisation experiment on digits.")
@click.option("--depths", default="1,2,4,8,16,32,64", show_default=True, callback=_depth_list,
              help="Depths of the infinite-width rows.")
@click.option("--trained", default="", callback=_depth_list, help="Depths at which finite networks are trained too (slow), e.g. 2,8.")
@click.option("--width", default=1024, show_default=True, type=POSITIVE, help="Width of the trained networks.")
@click.option("--steps", default=1000, show_default=True, type=POSITIVE, help="Training budget in GD steps.")
@click.option("--lr", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Learning rate in units of n k / lambda_max (stable below 2).")
@click.option("--n-train", default=256, show_default=True, type=POSITIVE, help="Training examples.")
@click.option("--n-test", default=512, show_default=True, type=POSITIVE, help="Test examples.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the split and the trained networks.")
@click.option("--device", default="cpu", show_default=True, help="torch device.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable rows.")
def digits(depths, trained, width, steps, lr, n_train, n_test, seed, device, as_json) -> None:
    """Seed 004's trainability/generalisation experiment on scikit-learn's digits (needs learndyn[digits])."""
    from learndyn.progress import Progress
    from learndyn.verify.digits_experiment import run_digits_experiment

    _check_device(device)
    try:
        with Progress("digits", None, unit="step") as progress:
            res = run_digits_experiment(depths=depths, trained_depths=trained, width=width, steps=steps, lr=lr,
                                        n_train=n_train, n_test=n_test, seed=seed, device=device,
                                        progress=progress.start)
    except ImportError as exc:
        raise click.ClickException(str(exc))
    click.echo(json.dumps(res.to_json(), indent=2) if as_json else res.to_table())


def _name_list(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    for name in names:
        if name not in ACTIVATIONS:
            raise click.BadParameter(f"{name!r} is not an activation: choose among {', '.join(ACTIVATIONS)}")
    if not names or len(set(names)) != len(names):
        raise click.BadParameter(f"{value!r}: expected distinct comma-separated activations, e.g. relu,shifted")
    return names


def _factor_list(ctx, param, value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        factors = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated numbers, e.g. 0.5,2")
    if not factors or any(not (f > 0 and f != 1.0 and f < float("inf")) for f in factors) or \
            len(set(factors)) != len(factors):
        raise click.BadParameter(f"{value!r}: off-critical factors of sigma_w^2 must be distinct, finite, > 0 "
                                 "and != 1")
    return factors


@main.command("similarity-experiment",
              short_help="Seed 001's plan: SVCCA of deep noisy networks from critical and off-critical starts.")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for similarity.json and the figure (PNG and PDF).")
@click.option("--quick", is_flag=True, help="The CI size: 6 layers of 32, 3 seeds, 200 steps (seconds).")
@click.option("--depth", type=POSITIVE, default=None, help="Hidden layers [default: 20; 6 with --quick].")
@click.option("--width", type=POSITIVE, default=None, help="Units per layer [default: 96; 32 with --quick].")
@click.option("--seeds", type=POSITIVE, default=None, help="Seeds per start [default: 4; 3 with --quick].")
@click.option("--steps", type=POSITIVE, default=None, help="GD steps [default: 2000; 200 with --quick].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate, decaying linearly to 0 [default: 0.1].")
@click.option("--activations", callback=_name_list, default=None, help=f"Comma-separated: {', '.join(ACTIVATIONS)} [default: all].")
@click.option("--factors", callback=_factor_list, default=None,
              help="Off-critical starts: multipliers of the critical sigma_w^2 [default: 0.5,2].")
@click.option("--noise", type=click.Choice(list(NOISES)), default=None,
              help="Training noise [default: gaussian].")
@click.option("--noise-strength", type=click.FloatRange(min=0), default=None,
              help="Gaussian: variance of eps; dropout: keep probability; additive: variance [default: 0.1; "
                   "0.9 for dropout].")
@click.option("--seed", default=0, show_default=True, type=SEED, help="First seed (of the networks and the split).")
@click.option("--device", default="cpu", show_default=True, help="torch device.")
@click.option("--force", is_flag=True, help="Overwrite similarity.json and the figure in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the claims as JSON instead of the table.")
def similarity_experiment(out, quick, depth, width, seeds, steps, lr, activations, factors, noise, noise_strength,
                          seed, device, force, as_json) -> None:
    """Seed 001's plan: deep noisy ReLU and shifted-ReLU networks trained on scikit-learn's digits from the
    critical initialisation (critical_sigma_w, shifted_relu_critical_point) and off-critical ones, compared with
    SVCCA per layer over training: to each layer's final and initial state, across starts, to the best-trained
    network, between ReLU and shifted ReLU. Writes similarity.json (every curve, the configuration, seeds and
    versions) and the figure representation_similarity.png/.pdf into --out, and prints the claims: networks
    converge bottom up; layers beyond trainable_depth do not learn off criticality; the critical start brings deep
    layers closer to the best network. Each holds, fails or is not decided at this size (95 % intervals over
    seeds). Needs scikit-learn (learndyn[digits])."""
    from dataclasses import fields, replace

    from learndyn.progress import Progress
    from learndyn.verify.similarity_experiment import (
        SimilarityConfig, claims_table, output_paths, run_similarity_experiment, stage_count, write_outputs,
    )
    from learndyn.verify.similarity_store import store

    _check_device(device)
    existing = [p for p in output_paths(out) if p.exists()]
    if existing and not force:
        raise click.ClickException(f"{existing[0]} exists; pass --force to overwrite it")
    given = dict(depth=depth, width=width, seeds=seeds, steps=steps, lr=lr, activations=activations, factors=factors,
                 noise=noise, noise_strength=noise_strength)  # noise_strength None: the noise's own default
    config = SimilarityConfig.quick() if quick else SimilarityConfig()
    config = replace(config, seed=seed, **{k: v for k, v in given.items() if v is not None})
    try:
        config.check()
    except ValueError as exc:
        names = sorted((f.name for f in fields(config)), key=len, reverse=True)  # noise_strength before noise
        name = next((n for n in names if str(exc).startswith(n) or f"{n} " in str(exc)[:40]), None)
        raise click.BadParameter(str(exc), param_hint=f"--{name.replace('_', '-')}" if name else None)
    try:
        with Progress("similarity-experiment", stage_count(config) + 1, unit="stage") as progress:
            result = run_similarity_experiment(config, device=device, progress=progress.start)
            data = result.to_json()
            store(config, device, data)
            progress.start("figure")
            paths = write_outputs(data, out, force=force)
    except ImportError as exc:
        raise click.ClickException(_error_text(exc))
    click.echo(json.dumps(data["claims"], indent=2) if as_json else claims_table(data))
    for p in paths:
        click.echo(f"wrote {p}", err=as_json)


@main.command(short_help="Benchmarks, each a ratio against a baseline of the same run.")
@click.option("--group", "groups", multiple=True,
              type=click.Choice(["closed_forms", "solvers", "kernels", "simulation", "similarity", "derive"]),
              help="Only these groups (default: all).")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--quick", is_flag=True, help="Small sizes and few repeats (a smoke run, not a measurement).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
def bench(groups, device, quick, as_json) -> None:
    """Benchmarks: every figure a ratio against a baseline measured in the same run."""
    from learndyn.bench import run_bench
    from learndyn.verify.runner import default_device

    report = run_bench(tuple(groups) or None, device=device or default_device(), quick=quick)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_table())


if __name__ == "__main__":
    main()
