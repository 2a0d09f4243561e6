"""The click group ``main``, the ``zoning`` command itself: --version, -v / -q and the logging handler that
prints the library's messages; the command modules register on it with ``@main.command()``.

Exit codes: 0 success, 1 a problem with the input or no plan fits the rules (the message says what and
how to fix it), 2 bad flags (click's usage errors).  No traceback reaches the planner.
"""

from __future__ import annotations

import logging
import sys
import time
from importlib.metadata import version as _version

import click

#: Seconds between two progress lines when the output is not a terminal (a log file, CI).
PROGRESS_EVERY_S = 5.0
#: The warnings printed as they came (the report after a plan prints the plan's others, so that "see above"
#: is true).
PRINTED: set[str] = set()


class _Handler(logging.Handler):
    """Prints the library's messages on stderr: warnings always, progress as one line redrawn in place on a
    terminal (plain lines every ``PROGRESS_EVERY_S`` seconds otherwise), other detail with -v."""

    def __init__(self, verbose: int):
        super().__init__()
        self.verbose = verbose
        self.terminal = sys.stderr.isatty()
        self.open_line = False  # a progress line is drawn and not yet ended
        self.last = -float("inf")
        self.shown = ""  # the last progress line printed (not printed twice)

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        progress = getattr(record, "progress", None)
        if progress is not None and not self.verbose:
            self._progress(progress)
            return
        if record.levelno < logging.WARNING and not self.verbose:
            return
        self._end_line()
        if record.levelno >= logging.WARNING:
            if msg in PRINTED:  # the same warning again (each run of a frontier reads the same blocks)
                return
            PRINTED.add(msg)
            click.secho(f"warning: {msg}", err=True, fg="yellow")
        else:
            click.echo(msg, err=True)

    def _progress(self, p: dict) -> None:
        # no bound yet (the districts' LP still running): a gap of 100 % would say more than is known
        proof = (
            "no bound yet"
            if p["gap"] is None or p["gap"] >= 1 - 1e-9
            else f"proven within {100 * p['gap']:.2f} %"
        )
        text = f"[{p['elapsed_s']:.0f}/{p['limit_s']:.0f} s] best plan {p['best']:,.1f} {p['unit']}, {proof}"
        self._show(text, done=p["done"])

    def _show(self, text: str, *, done: bool, on_terminal: str = "") -> None:
        """One progress line: redrawn in place on a terminal (with ``on_terminal`` after it), else a plain
        ``progress:`` line every ``PROGRESS_EVERY_S`` seconds and at the end."""
        if self.terminal:
            click.echo(f"\r{text}{on_terminal}\033[K", err=True, nl=False)
            self.open_line = True
            if done:
                self._end_line()
            return
        now = time.monotonic()
        if (done or now - self.last >= PROGRESS_EVERY_S) and text != self.shown:
            click.echo(f"progress: {text}", err=True)
            self.last, self.shown = now, text

    def _end_line(self) -> None:
        if self.open_line:
            click.echo("", err=True)
            self.open_line = False


def quiet() -> bool:
    """-q was given: the library's logger is set to errors only."""
    return logging.getLogger("zoning").level >= logging.ERROR


def say(message: str = "", **kwargs) -> None:
    """A line of a command's report (what it did, what it wrote), left out with -q (errors only)."""
    if not quiet():
        click.echo(message, **kwargs)


def _setup_logging(verbose: int, quiet: bool) -> None:
    root = logging.getLogger("zoning")
    root.handlers[:] = [_Handler(verbose)]
    root.propagate = False
    # progress records are INFO: they pass without -v (the handler keeps the rest of INFO for -v)
    level = logging.ERROR if quiet else (logging.INFO, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    root.setLevel(level)
    PRINTED.clear()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version("zoning"), prog_name="zoning")
@click.option("-v", "--verbose", count=True, help="More detail: -v every step, -vv the solver's log.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors (no progress line, no warnings).")
def main(verbose: int, quiet: bool) -> None:
    """zoning: school attendance zones (划片) and school districts (学区) for education bureaus."""
    _setup_logging(verbose, quiet)
