"""Progress of the long commands (``derive``, ``verify``, ``figures``, ``report``), on stderr.

On a terminal, a tqdm bar: ``verify:  15%|██  | 12/80 [00:41<03:52, 3.4s/check, correlation_map: tier b]`` (N of M,
elapsed time and ETA, the current step). Elsewhere (a log file, ``nohup``, CI) one plain line per step::

    verify: 12/80 correlation_map: tier b (00:41 elapsed)

Both end with one line giving the elapsed time: ``verify: 80 checks in 03:41`` (none where no step ran, e.g.
``derive`` with every derivation cached).

A step is reported either as it starts (:meth:`Progress.start`: the label says what is running now) or as it
finishes (:meth:`Progress.done`), whichever the command's callback knows.
"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress", "clock"]


def clock(seconds: float) -> str:
    """``MM:SS`` (``H:MM:SS`` from an hour on)."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """The progress of one command: ``command`` names it in every line, ``total`` is the number of steps (``None``
    where unknown), ``unit`` what a step is (``"check"``, ``"figure"``, ``"result"``). ``terminal`` forces the
    bar (``True``) or plain lines (``False``); by default the bar is drawn only where ``stream`` is a terminal.

    Use as a context manager, or call :meth:`close` at the end (it prints the elapsed time)."""

    def __init__(self, command: str, total: int | None = None, *, unit: str = "step", stream: TextIO | None = None,
                 terminal: bool | None = None):
        self.command = command
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self._running = False  # a step reported by start() that has not finished yet
        self._start = time.perf_counter()
        self._closed = False
        if terminal is None:
            isatty = getattr(self.stream, "isatty", None)
            terminal = bool(isatty and isatty())
        self._bar: Any = None
        if terminal:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=command, unit=unit, file=self.stream, leave=False, dynamic_ncols=True)

    @property
    def elapsed(self) -> float:
        """Seconds since the command started."""
        return time.perf_counter() - self._start

    def set_total(self, total: int | None) -> None:
        """The number of steps, once it is known."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def start(self, label: str) -> None:
        """Step ``label`` starts (the previous one, if any, has finished)."""
        self.count += 1
        if self._bar is not None:
            self._bar.set_postfix_str(str(label)[:60], refresh=False)
            self._bar.update(1 if self._running else 0)
            self._bar.refresh()
        else:
            self._line(label)
        self._running = True

    def done(self, label: str) -> None:
        """Step ``label`` has finished; the last of ``total`` steps closes the display (the elapsed time is then
        that of the steps, not of what the command does after them)."""
        self.count += 1
        if self._bar is not None:
            self._bar.set_postfix_str(str(label)[:60], refresh=False)
            self._bar.update(1)
            self._bar.refresh()  # steps take seconds: draw each one (update() alone may wait for its interval)
        else:
            self._line(label)
        if self.total and self.count >= self.total:
            self.close()

    def close(self, summary: bool = True) -> float:
        """Remove the bar and (``summary``, where any step was reported) print the elapsed time; returns the seconds
        elapsed. Closing twice prints once."""
        seconds = self.elapsed
        if self._closed:
            return seconds
        self._closed = True
        if self._bar is not None:
            if self._running:
                self._bar.update(1)
            self._bar.close()
        if summary and self.count:
            units = self.unit if self.count == 1 else self.unit + "s"
            self._write(f"{self.command}: {self.count} {units} in {clock(seconds)}")
        return seconds

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(summary=exc_type is None)

    # -- helpers --------------------------------------------------------------------------------------------
    def _line(self, label: str) -> None:
        of = f"/{self.total}" if self.total else ""
        self._write(f"{self.command}: {self.count}{of} {label} ({clock(self.elapsed)} elapsed)")

    def _write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
