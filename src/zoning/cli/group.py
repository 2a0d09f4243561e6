"""The click group ``main``, the ``zoning`` command itself: --version, -v / -q and the logging handler that
prints the library's messages; the command modules register on it with ``@main.command()``.

Exit codes: 0 success, 1 a problem with the input or no plan fits the rules (the message says what and
how to fix it), 2 bad flags (click's usage errors).  No traceback reaches the planner.
"""

from __future__ import annotations

import logging
from importlib.metadata import version as _version

import click


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            click.secho(f"warning: {msg}", err=True, fg="yellow")
        else:
            click.echo(msg, err=True)


def _setup_logging(verbose: int, quiet: bool) -> None:
    root = logging.getLogger("zoning")
    root.handlers[:] = [_Handler()]
    root.propagate = False
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    root.setLevel(level)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version("zoning"), prog_name="zoning")
@click.option("-v", "--verbose", count=True, help="More detail: -v progress, -vv solver log.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def main(verbose: int, quiet: bool) -> None:
    """zoning: school attendance zones (划片) and school districts (学区) for education bureaus."""
    _setup_logging(verbose, quiet)
