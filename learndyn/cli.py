"""The ``learndyn`` command: list, derive, verify, latex, eval."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

__all__ = ["main"]


def _progress(label: str, total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="step", file=sys.stderr, leave=False,
                disable=None)  # disabled automatically when stderr is not a terminal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="learndyn")
def main() -> None:
    """Derive, prove, generate and verify results of the theory of learning dynamics."""


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool) -> None:
    """List the results (by family) and the claims beside them."""
    from learndyn.generated import CLAIMS, FAMILIES

    if as_json:
        click.echo(json.dumps({"families": {f: list(r) for f, r in FAMILIES.items()},
                               "claims": {f: list(c) for f, c in CLAIMS.items()}}, indent=2))
        return
    for fam, names in FAMILIES.items():
        click.echo(f"{fam}:")
        for n in names:
            click.echo(f"  {n}")
        for c in CLAIMS.get(fam, ()):
            click.echo(f"  claim: {c}")


@main.command()
@click.option("--check", is_flag=True, help="Exit 1 if anything generated differs from what is on disk.")
@click.option("--module", "modules", multiple=True, metavar="PATH_OR_MODULE",
              help="Your own family module (defines FAMILY); derives only these, into --out.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: the source tree's generated/).")
@click.option("--no-cache", is_flag=True, help="Re-derive everything (ignore cached proofs).")
@click.option("--force", is_flag=True, help="Overwrite files in --out that learndyn did not generate.")
def derive(check: bool, modules: tuple[str, ...], out: Path | None, no_cache: bool, force: bool) -> None:
    """Derive, prove and generate every result (torch modules and LaTeX)."""
    from learndyn.derive.families import builtin_families, load_family_module
    from learndyn.derive.pipeline import check_outputs, default_output_dir, derive_families, render, write_outputs
    from learndyn.derive.proof import DerivationError

    start = time.perf_counter()
    if modules:
        if out is None:
            raise click.UsageError("--module needs --out DIR: derive never writes your results into the package")
        fams = [load_family_module(m) for m in modules]
    else:
        fams = builtin_families()
        try:
            out = out or default_output_dir()
        except RuntimeError as exc:
            raise click.ClickException(str(exc))
    total = sum(len(f.results) for f in fams)
    bar = _progress("derive", total)
    try:  # every family's cold results in one pool, so one family's slow result overlaps with the others'
        derivations = derive_families(fams, use_cache=not no_cache,
                                      progress=lambda n: (bar.set_postfix_str(n), bar.update()))
        derived = list(zip(fams, derivations))
    except DerivationError as exc:
        bar.close()
        raise click.ClickException(f"derivation failed: {exc}")
    bar.close()
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


@main.command()
@click.argument("names", nargs=-1)
@click.option("--examples", default=100, show_default=True, help="Hypothesis draws per result (tier a) and batch size scale (tier b).")
@click.option("--device", default=None, help="torch device for simulations (default: cuda if available, else cpu).")
@click.option("--seed", default=0, show_default=True, help="Seed of every draw and every simulated network.")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(["a", "b", "claims"]), help="Only these tiers (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
@click.option("--module", default=None, metavar="PATH_OR_MODULE", help="Verify your own family (tier a) ...")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="... generated into this folder.")
def verify(names, examples, device, seed, tiers, as_json, module, out) -> None:
    """Verify generated functions against mpmath (tier a) and theory against gradient descent (tier b)."""
    from learndyn.verify.runner import VerifyConfig, default_device, run_user_family, run_verification

    device = device or default_device()
    try:
        import torch

        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise click.BadParameter(f"device {device!r} is not available: {exc}", param_hint="--device")
    config = VerifyConfig(examples=examples, seed=seed, device=device)
    try:
        from tqdm import tqdm

        bar = tqdm(desc="verify", file=sys.stderr, leave=False, disable=None, unit="check")
        if module is not None:
            if out is None:
                raise click.UsageError("--module needs --out DIR (the folder `learndyn derive --module` wrote)")
            checks = run_user_family(module, out, config=config, progress=lambda s: (bar.set_postfix_str(s), bar.update()))
        else:
            checks = run_verification(names or None, config=config, tiers=tuple(tiers) or ("a", "b", "claims"),
                                      progress=lambda s: (bar.set_postfix_str(s), bar.update()))
        bar.close()
    except (KeyError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc))
    if as_json:
        import torch

        click.echo(json.dumps({"seed": seed, "device": device, "examples": examples, "torch": torch.__version__,
                               "checks": [c.to_json() for c in checks]}, indent=2, default=str))
    else:
        from learndyn.verify.report import format_table

        click.echo(format_table(checks))
    failed = [c for c in checks if not c.passed]
    if failed:
        if not as_json:
            click.echo(f"{len(failed)} of {len(checks)} checks FAILED", err=True)
        raise SystemExit(1)
    if not as_json:
        click.echo(f"all {len(checks)} checks passed (seed {seed}, device {device})")


@main.command()
@click.argument("names", nargs=-1)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write FILE.tex and its bibliography FILE.bib beside it (default: the document on stdout).")
@click.option("--body", is_flag=True, help="Only the sections, to \\input into a paper (it needs the packages listed in its first lines).")
@click.option("--pdf", is_flag=True, help="Also build FILE.pdf with latexmk (or pdflatex + bibtex).")
@click.option("--force", is_flag=True, help="Overwrite FILE.tex / FILE.bib if they exist.")
def latex(names, output, body, pdf, force) -> None:
    """LaTeX of results: numbered equations labelled eq:NAME, assumptions, domain, source with citation, proof status."""
    from learndyn.derive.latex import PREAMBLE, bibliography_bibtex, latex_body, latex_document

    names = list(names) or None
    try:
        if body:
            text = "\n".join(["% learndyn: results to \\input; the preamble needs:", *(f"% {p}" for p in PREAMBLE),
                              f"% and \\bibliography{{{output.stem if output else 'learndyn'}}}", latex_body(names), ""])
        else:
            text = latex_document(names, bib=output.stem if output else "learndyn")
        bib = bibliography_bibtex(names)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0]))
    if output is None:
        if pdf:
            raise click.UsageError("--pdf needs -o FILE.tex")
        click.echo(text, nl=False)
        return
    bib_path = output.with_suffix(".bib")
    for path in (output, bib_path):
        if path.exists() and not force:
            raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    bib_path.write_text(bib, encoding="utf-8")
    click.echo(f"wrote {output} and {bib_path}")
    if pdf:
        if body:
            raise click.UsageError("--pdf builds a standalone document; drop --body")
        from learndyn.latex_build import LatexError, LatexUnavailable, build_pdf

        try:
            click.echo(f"wrote {build_pdf(output)}")
        except LatexUnavailable as exc:
            click.echo(f"skipped the PDF: {exc}", err=True)
        except LatexError as exc:
            raise click.ClickException(str(exc))


def _parse_value(name: str, raw: str, spec):
    from learndyn.domain import ChoiceParam, IntParam

    if isinstance(spec, IntParam):
        try:
            return int(raw)
        except ValueError:
            raise click.BadParameter(f"{name}={raw!r}: expected an integer ({spec})", param_hint=name)
    if isinstance(spec, ChoiceParam):
        return raw
    try:
        parts = [float(v) for v in raw.split(",")]
    except ValueError:
        raise click.BadParameter(f"{name}={raw!r}: expected a number or comma-separated numbers", param_hint=name)
    if len(parts) == 1:
        return parts[0]
    import torch

    return torch.tensor(parts, dtype=torch.float64)


@main.command("eval")
@click.argument("name")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
def eval_cmd(name: str, assignments: tuple[str, ...]) -> None:
    """Evaluate a result, e.g. `learndyn eval scalar_trajectory t=100 x=1 y=2 u0=1e-3 lr=0.01`."""
    import learndyn

    try:
        fn = learndyn.function(name)
        family = learndyn.family_of(name)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0]))
    import importlib

    domain = importlib.import_module(f"learndyn.generated.{family}").DOMAINS[name]
    kwargs = {}
    for item in assignments:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="assignments")
        key, raw = item.split("=", 1)
        if key not in domain.params:
            raise click.BadParameter(f"{name} has no parameter {key!r}; its parameters: {', '.join(domain.params)}", param_hint=key)
        kwargs[key] = _parse_value(key, raw, domain.params[key])
    missing = [p for p in domain.params if p not in kwargs]
    if missing:
        raise click.UsageError(f"{name} needs {', '.join(f'{m}=...' for m in missing)}")
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


@main.command("data")
@click.argument("figure", required=False)
@click.option("--seed", default=0, show_default=True, help="Seed of the simulated networks.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--networks", default=None, type=int, help="Networks per simulated curve (default 8).")
@click.option("--width", default=None, type=int, help="Width of the simulated networks (default 1000).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the JSON to FILE.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def data_cmd(figure, seed, device, networks, width, output, force) -> None:
    """The data behind a seed figure (theory and simulation) as JSON; without FIGURE, list the figures."""
    from learndyn.verify.figure_data import FIGURES, figure_data
    from learndyn.verify.runner import default_device

    if figure is None:
        for name, fn in FIGURES.items():
            click.echo(f"{name}: {(fn.__doc__ or '').strip().splitlines()[0]}")
        return
    if figure not in FIGURES:
        raise click.ClickException(f"unknown figure {figure!r}; known: {', '.join(FIGURES)}")
    options = {}
    if figure != "fixed_point_vs_noise":
        options = dict(seed=seed, device=device or default_device())
        options.update({k: v for k, v in (("networks", networks), ("width", width)) if v is not None})
    if output is not None and output.exists() and not force:
        raise click.ClickException(f"{output} exists; pass --force to overwrite it")
    text = json.dumps(figure_data(figure, **options), indent=1)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")


@main.command()
@click.option("--depths", default="1,2,4,8,16,32,64", show_default=True, help="Depths of the infinite-width rows.")
@click.option("--trained", default="", help="Depths at which finite networks are trained too (slow), e.g. 2,8.")
@click.option("--width", default=1024, show_default=True, help="Width of the trained networks.")
@click.option("--steps", default=1000, show_default=True, help="Training budget in GD steps.")
@click.option("--lr", default=1.0, show_default=True, help="Learning rate in units of n k / lambda_max (stable below 2).")
@click.option("--n-train", default=256, show_default=True)
@click.option("--n-test", default=512, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable rows.")
def digits(depths, trained, width, steps, lr, n_train, n_test, seed, device, as_json) -> None:
    """Seed 004's trainability/generalisation experiment on scikit-learn's digits (needs learndyn[digits])."""
    from learndyn.verify.digits_experiment import run_digits_experiment

    ints = lambda s: tuple(int(v) for v in s.split(",") if v.strip())  # noqa: E731
    try:
        res = run_digits_experiment(depths=ints(depths), trained_depths=ints(trained), width=width, steps=steps, lr=lr,
                                    n_train=n_train, n_test=n_test, seed=seed, device=device)
    except ImportError as exc:
        raise click.ClickException(str(exc))
    click.echo(json.dumps(res.to_json(), indent=2) if as_json else res.to_table())


@main.command()
@click.argument("names", nargs=-1)
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the PNG and PDF files.")
@click.option("--seed", default=0, show_default=True, help="Seed of every simulated network.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--quick", is_flag=True, help="Small simulations (seconds): drafts and tests.")
@click.option("--force", is_flag=True, help="Overwrite figures already in the folder.")
def figures(names, out, seed, device, quick, force) -> None:
    """Figures of theory (lines) against simulation (points), PNG and PDF; without NAMES, all of them."""
    from learndyn.verify.figures import render_figures
    from learndyn.verify.runner import default_device

    try:
        from tqdm import tqdm

        bar = tqdm(desc="figures", file=sys.stderr, leave=False, disable=None, unit="figure")
        paths = render_figures(out, list(names) or None, seed=seed, device=device or default_device(), quick=quick,
                               force=force, progress=lambda s: (bar.set_postfix_str(s), bar.update()))
        bar.close()
    except (KeyError, FileExistsError, ImportError) as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc))
    for p in paths:
        click.echo(f"wrote {p}")


@main.command()
@click.option("--group", "groups", multiple=True, type=click.Choice(["closed_forms", "solvers", "simulation", "derive"]),
              help="Only these groups (default: all four).")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--quick", is_flag=True, help="Small sizes and few repeats (a smoke run, not a measurement).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
def bench(groups, device, quick, as_json) -> None:
    """Benchmarks: every figure a ratio against a baseline measured in the same run."""
    from learndyn.bench import run_bench
    from learndyn.verify.runner import default_device

    report = run_bench(tuple(groups) or None, device=device or default_device(), quick=quick)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.to_table())


@main.command()
@click.argument("names", nargs=-1)
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for report.tex/.bib/.pdf, verification.json and figures/.")
@click.option("--examples", default=100, show_default=True, help="As for learndyn verify.")
@click.option("--seed", default=0, show_default=True, help="Seed of every draw, simulated network and figure.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--tier", "tiers", multiple=True, type=click.Choice(["a", "b", "claims"]), help="Only these tiers (default: all).")
@click.option("--quick-figures", is_flag=True, help="Small simulations for the figures (a draft).")
@click.option("--refresh", is_flag=True, help="Verify again even where a cached result matches.")
@click.option("--no-pdf", is_flag=True, help="Write the LaTeX only.")
@click.option("--force", is_flag=True, help="Overwrite a report already in the folder.")
def report(names, out, examples, seed, device, tiers, quick_figures, refresh, no_pdf, force) -> None:
    """The paper-ready report: derivations, verification tables, figures and provenance, built to PDF."""
    from tqdm import tqdm

    from learndyn.latex_build import LatexError
    from learndyn.verify.report_document import write_report
    from learndyn.verify.runner import VerifyConfig, default_device

    bars = []

    def progress(step: str, total: int):
        bar = tqdm(total=total or None, desc=step, file=sys.stderr, leave=False, disable=None)
        bars.append(bar)
        return lambda item: (bar.set_postfix_str(str(item)[:40]), bar.update())

    config = VerifyConfig(examples=examples, seed=seed, device=device or default_device())
    try:
        files = write_report(out, list(names) or None, config=config, tiers=tuple(tiers) or ("a", "b", "claims"),
                             quick_figures=quick_figures, force=force, pdf=not no_pdf, refresh=refresh, progress=progress)
    except (FileExistsError, KeyError, LatexError) as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc))
    finally:
        for bar in bars:
            bar.close()
    click.echo(f"wrote {files.tex}, {files.bib}, {files.verification} and {len(files.figures)} figure files"
               + (" (verification reused from the cache)" if files.verification_reused else ""))
    if files.pdf:
        click.echo(f"wrote {files.pdf}")
    elif files.pdf_skipped:
        click.echo(f"skipped the PDF: {files.pdf_skipped}", err=True)
    if files.failed:
        click.echo(f"{len(files.failed)} checks FAILED: {', '.join(files.failed)}", err=True)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
