"""Building a PDF from an exported ``.tex`` file, where a LaTeX engine is installed.

``latexmk -pdf`` where it is on the PATH (it runs pdflatex and bibtex as often as the references need),
else ``pdflatex``, ``bibtex``, ``pdflatex`` twice. The log is checked as a reader would check the PDF:
undefined references or citations, overfull lines, and warnings that mean the page shows something other than
the source says (a command invalid in math mode, a character missing from its font, a font substituted, a
label defined twice, a bookmark that lost part of its title) are errors."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LatexUnavailable", "LatexError", "LogReport", "WRONG_OUTPUT", "latex_engine", "build_pdf", "read_log"]


class LatexUnavailable(RuntimeError):
    """No LaTeX engine on the PATH."""


class LatexError(RuntimeError):
    """The document did not compile cleanly; the message quotes the log."""


#: log messages (regular expressions, matched at the start of a log line) after which the PDF shows something
#: other than the source says; each is an error of the strict build
WRONG_OUTPUT: tuple[str, ...] = (
    r"LaTeX (?:Font )?Warning: Command \\\S+ ?invalid in math mode",  # e.g. \texttwosuperior: its glyph is dropped
    r"Missing character: There is no .+ in font",                     # a glyph the font lacks is dropped
    r"LaTeX Font Warning: Font shape `[^']+' undefined",               # another shape or family substituted
    r"LaTeX (?:Info|Font Warning|Warning): Symbol \\\S+ not provided by",  # a symbol from another family
    r"LaTeX Warning: Label `[^']+' multiply defined",                  # a reference may point to the wrong place
    r"Package hyperref Warning: Token not allowed in a PDF string",    # a bookmark lost part of its title
    r"pdfTeX warning \(ext4\): destination with the same identifier",  # a link may jump to the wrong place
)
_WRONG_OUTPUT = re.compile("^(?:" + "|".join(WRONG_OUTPUT) + ")", flags=re.M)


@dataclass
class LogReport:
    """What a LaTeX log says about the finished document."""

    undefined_references: list[str] = field(default_factory=list)
    undefined_citations: list[str] = field(default_factory=list)
    overfull: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: warnings of :data:`WRONG_OUTPUT`, with the rest of their log line
    wrong_output: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.undefined_references or self.undefined_citations or self.overfull or self.errors
                    or self.wrong_output)

    def summary(self) -> str:
        parts = [f"{len(v)} {k.replace('_', ' ')}: {', '.join(v[:5])}" for k, v in vars(self).items() if v]
        return "; ".join(parts) or "clean"


def latex_engine() -> list[str]:
    """The build command, or :class:`LatexUnavailable` saying what to install."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error"]
    if shutil.which("pdflatex"):
        return ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
    raise LatexUnavailable("no LaTeX engine found (pdflatex); on Debian: apt-get install texlive-latex-base latexmk")


def read_log(log: Path) -> LogReport:
    """Undefined references and citations, errors, overfull boxes and warnings of wrong output
    (:data:`WRONG_OUTPUT`) of the document's last run."""
    text = log.read_text(encoding="latin-1")
    report = LogReport()
    report.undefined_references = sorted(set(re.findall(r"Reference `([^']+)' on page \d+ undefined", text)))
    report.undefined_citations = sorted(set(re.findall(r"Citation `([^']+)' on page \d+ undefined", text)))
    report.errors = re.findall(r"^! (.+)$", text, flags=re.M)
    report.overfull = [m.group(0).strip() for m in re.finditer(r"Overfull \\hbox \(([\d.]+)pt too wide\)[^\n]*", text)
                       if float(m.group(1)) > 1.0]
    report.wrong_output = list(dict.fromkeys(_message(text, m.start()) for m in _WRONG_OUTPUT.finditer(text)))
    return report


def _message(text: str, start: int) -> str:
    """The log message that begins at ``start``, on one line: up to its blank line, its input line or its ``!``."""
    message = " ".join(text[start:].split("\n\n", 1)[0].split())
    end = re.search(r"on input line \d+\s?\.?|!", message)
    return message[: end.end() if end else 200]


def build_pdf(tex: Path, *, strict: bool = True, timeout: float = 300) -> Path:
    """Build ``tex`` (its ``.bib`` beside it) into a PDF in the same folder; return the PDF's path.

    ``strict``: raise :class:`LatexError` when the log reports undefined references or citations, errors,
    overfull lines (more than 1 pt) or wrong output (:data:`WRONG_OUTPUT`)."""
    tex = Path(tex).resolve()
    cmd = latex_engine()
    runs = [cmd + [tex.name]]
    if cmd[0] == "pdflatex":
        runs = [cmd + [tex.name]] + ([["bibtex", tex.stem]] if shutil.which("bibtex") else []) + [cmd + [tex.name]] * 2
    for run in runs:
        proc = subprocess.run(run, cwd=tex.parent, capture_output=True, encoding="latin-1", timeout=timeout)
        if proc.returncode != 0 and run[0] != "bibtex":
            log = tex.with_suffix(".log")
            detail = read_log(log).summary() if log.exists() else proc.stdout[-2000:]
            raise LatexError(f"{run[0]} failed on {tex.name}: {detail}")
    report = read_log(tex.with_suffix(".log"))
    if strict and not report.clean:
        raise LatexError(f"{tex.name} compiled, but: {report.summary()}")
    return tex.with_suffix(".pdf")
