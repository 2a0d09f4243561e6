"""``zoning batch JOBS.toml --out DIR``: many runs on Dask distributed, each exactly what its command does.

The batch package comes before cli and cannot run the commands itself: this module hands it what only cli
knows, the commands' flags (:func:`command_specs`, read off the click commands, so a jobs file takes exactly
the flags the commands take), their own check of a command line (:func:`check_command`) and
:func:`run_command`, which runs one command line in-process (in a Dask worker) and reports its exit code,
output, message, warnings and log.  ``zoning.run_batch`` wires the same.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import sys
import threading
import time
from dataclasses import replace

import click
import pandas as pd

from ..batch.jobs import CommandSpec, Jobs, Param, parse_jobs, read_jobs
from ..batch.run import INTERRUPTED, BatchInterrupted, run_batch, status_counts
from ..batch.work import LOG, Outcome
from ..errors import InputError, flag_issue, name_list, number_issue
from ..logs import logged_to
from .group import PRINTED, _Handler, main, quiet
from .options import planner_errors

__all__ = ["COMMANDS", "command_specs", "check_command", "run_command", "run_jobs"]

#: The commands a job may run: they each write a plan folder.
COMMANDS = ("partition", "districts", "feeder", "scenario", "frontier", "site")
#: One command at a time per process: a command's output is caught by swapping sys.stdout / sys.stderr
#: (``dask worker --nthreads 1`` is the intended set-up; with more threads jobs in one process take turns).
_ONE_AT_A_TIME = threading.Lock()


def _key(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return (param.metavar or param.name).lower().replace("_", "-")
    return max(param.opts, key=len).lstrip("-")


def _param(param: click.Parameter) -> Param:
    path = isinstance(param.type, click.Path)
    if isinstance(param, click.Argument):
        return Param(_key(param), "argument", path=path, required=param.required)
    flag = max(param.opts, key=len)
    if param.is_flag and param.secondary_opts:
        return Param(_key(param), "switch", flag=flag, off=max(param.secondary_opts, key=len))
    if param.is_flag:
        return Param(_key(param), "flag", flag=flag)
    return Param(_key(param), "multiple" if param.multiple else "value", flag=flag, path=path)


def command_specs() -> dict[str, CommandSpec]:
    """What each batch command takes, read off the click commands themselves.  An option named like an
    argument of its command (``site``: the CANDIDATES file and ``--candidates N``) is keyed by its flag and
    ``-per-block`` (``candidates-per-block``), so the file's key is the argument's, as the command line has it."""
    out = {}
    for name in COMMANDS:
        params = [_param(p) for p in main.commands[name].params if p.name != "help"]
        arguments = {p.key for p in params if p.kind == "argument"}
        params = [replace(p, key=f"{p.key}-per-block") if p.kind != "argument" and p.key in arguments else p
                  for p in params]  # fmt: skip
        out[name] = CommandSpec(name, tuple(params))
    return out


def check_command(command: str, argv: list[str]) -> tuple[str | None, str] | None:
    """The command's own check of a command line's flags and values (nothing runs): (key, message) or None."""
    cmd = main.commands[command]
    try:
        with cmd.make_context(command, [*argv, "--out", "batch-check"], resilient_parsing=False):
            pass
    except click.BadParameter as err:
        return (_key(err.param) if err.param is not None else None), err.format_message()
    except click.UsageError as err:
        return None, err.format_message()
    return None


def run_command(command: str, argv: list[str]) -> Outcome:
    """``zoning <command> <argv>`` in this process, as the command line runs it; what it printed, its
    message in the planner's words, its warnings and its log come back in the :class:`Outcome`.  While it
    runs the library's messages are the job's (its log), not this process's."""
    cmd = main.commands[command]
    job_log = _JobLog()
    out, err = _Stream(job_log), _Stream(job_log, warnings=True)
    with (
        _ONE_AT_A_TIME,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _logged_to(job_log),
    ):
        try:
            cmd.main(argv, prog_name=f"zoning {command}", standalone_mode=False)
            code = 0
        except SystemExit as stop:  # planner_errors: the message is printed, exit code 1
            code = stop.code if isinstance(stop.code, int) else 1
        except click.ClickException as usage:  # bad flags: exit code 2
            code, message = usage.exit_code, usage.format_message()
            err.write(f"{message}\n")
    return Outcome(code=code, output=out.getvalue(), error=err.getvalue().strip(),
                   warnings=tuple(job_log.warnings), log="".join(job_log.lines))  # fmt: skip


#: How a command prints a warning (the group's handler, the report of a plan's own warnings).
_WARNING = "warning: "


class _JobLog(logging.Handler):
    """One job's log: the library's messages (INFO and up, the solver's progress ticks aside) and what the
    command prints, in order; each warning once (as on a terminal, ``group.PRINTED``)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message.strip())

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "progress", None) is not None:
            return
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            if msg in PRINTED:  # the same warning again (each run of a frontier reads the same blocks)
                return
            PRINTED.add(msg)
            self.warn(msg)
            msg = _WARNING + msg
        self.lines.append(msg + "\n")


class _Stream(io.StringIO):
    """What a command prints on stdout or stderr, copied in order into its log; on stderr a "warning: …" it
    prints itself (a plan's own warnings, files of an earlier plan) is one of the job's warnings."""

    def __init__(self, job_log: _JobLog, *, warnings: bool = False):
        super().__init__()
        self.job_log, self.warnings = job_log, warnings

    def write(self, text: str) -> int:
        if isinstance(text, str):  # click probes a stream with b"" (refused, as by any text stream)
            self.job_log.lines.append(text)
            if self.warnings and text.startswith(_WARNING):
                self.job_log.warn(text[len(_WARNING) :])
        return super().write(text)


@contextlib.contextmanager
def _logged_to(job_log: _JobLog):
    """The ``zoning`` logger's messages go to ``job_log`` alone while the block runs (:func:`zoning.logs.logged_to`:
    INFO and up, whatever -q or this process's handlers say: the log is the job's record), each warning the
    job's own even when a job before it in this process had it; the logger and ``PRINTED`` as they were afterwards."""
    printed = set(PRINTED)
    PRINTED.clear()
    try:
        with logged_to(job_log):
            yield
    finally:
        PRINTED.clear()
        PRINTED.update(printed)


def run_jobs(jobs, out_dir, *, client=None, workers: int = 2, resume: bool = False, overwrite: bool = False):
    """``zoning.run_batch``: ``jobs`` a JOBS.toml path, its text's :class:`~zoning.batch.jobs.Jobs`, or a list of
    job tables (dicts keyed like the file, e.g. ``{"command": "partition", "blocks": …, "max-distance": 2500}``)."""
    issues = [
        None if client is not None else number_issue("workers", workers, low=1, whole=True, fix="give the number "
                                                     "of worker processes, e.g. workers=2."),  # 0 waited for ever
        flag_issue("resume", resume),
        flag_issue("overwrite", overwrite),
    ]  # fmt: skip
    if any(issues):
        raise InputError([i for i in issues if i is not None])
    specs = command_specs()
    if isinstance(jobs, str | os.PathLike):
        jobs = read_jobs(jobs, commands=specs, check=check_command)
    elif not isinstance(jobs, Jobs):
        jobs = parse_jobs(
            data={"job": [dict(j) for j in jobs]}, source="jobs", commands=specs, check=check_command
        )
    return run_batch(jobs, out_dir, runner=run_command, client=client, workers=workers, resume=resume,
                     overwrite=overwrite)  # fmt: skip


class _BatchHandler(_Handler):
    """The group's handler, also drawing the batch's progress: one line redrawn in place on a terminal
    (``[7/20 jobs, 1 failed, 35 s] last: portland-7 done``), plain ``progress:`` lines every few seconds
    otherwise."""

    def emit(self, record: logging.LogRecord) -> None:
        p = getattr(record, "batch_progress", None)
        if p is None or self.verbose:
            super().emit(record)
            return
        failed = f", {p['failed']} failed" if p["failed"] else ""
        text = f"[{p['done']}/{p['total']} jobs{failed}, {p['elapsed_s']:.0f} s]"
        if p.get("stopping"):
            text += " stopping (Ctrl-C): closing the workers"
        last = f" last: {p['job']} {p['status']}" if p["job"] else ""
        self._show(text, done=p["finished"], on_terminal=last)


@contextlib.contextmanager
def _batch_progress():
    logger = logging.getLogger("zoning")
    before = list(logger.handlers)
    verbose = next((h.verbose for h in before if isinstance(h, _Handler)), 0)
    logger.handlers[:] = [_BatchHandler(verbose) if isinstance(h, _Handler) else h for h in before]
    try:
        yield
    finally:
        for h in logger.handlers:
            if isinstance(h, _BatchHandler):
                h._end_line()
        logger.handlers[:] = before


@main.command()
@click.argument("jobs_file", metavar="JOBS.toml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: a folder per job, batch.csv and batch.md.")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Worker processes on this machine (a LocalCluster), one job each at a time.")  # fmt: skip
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on an existing Dask cluster (started with `dask scheduler` and `dask worker "
                   "tcp://HOST:PORT --nthreads 1`) instead of processes on this machine.")  # fmt: skip
@click.option("--resume", is_flag=True, help="Skip the jobs whose folder is complete (same job, same flags).")
@click.option("--overwrite", is_flag=True, help="Run again the jobs whose folder exists, replacing it.")
@planner_errors
def batch(jobs_file, out_dir, workers, scheduler, resume, overwrite):
    """Run the jobs of JOBS.toml (partition, districts, feeder, scenario, frontier, site, each with its inputs
    and flags; shared [defaults] at the top) on Dask: a folder per job in --out, and batch.csv / batch.md with
    one row per job (status, time, objective, bound, gap, seats over, children moved, the error, the
    warnings); each job's log in its folder (job.log).  A job that fails never stops the others; a worker that
    dies mid-job leaves no partial folder and its job runs again.  Ctrl-C stops the batch (exit code 130):
    batch.csv lists the jobs that finished, --resume runs the others.  Needs the batch extra: pip install
    'zoning[batch]'."""
    specs = command_specs()
    jobs = read_jobs(jobs_file, commands=specs, check=check_command)
    t0 = time.monotonic()
    try:
        with _batch_progress():
            table = run_batch(jobs, out_dir, runner=run_command, client=scheduler, workers=workers,
                              resume=resume, overwrite=overwrite)  # fmt: skip
    except KeyboardInterrupt as stop:  # Ctrl-C: the jobs that finished are in batch.csv
        _interrupted(stop, jobs_file, out_dir)
    click.echo(f"{len(table)} jobs in {time.monotonic() - t0:.0f} s: {status_counts(table)}")
    bad = table[~table["status"].isin(["done", "skipped"])]
    for _, row in bad.iterrows():
        click.secho(f"{row['job']} {row['status']}: {row['error']}", err=True, fg="red")
    warned = table[pd.to_numeric(table["warnings"], errors="coerce").fillna(0) > 0]
    if len(warned) and not quiet():
        named = name_list([f"{r.job} ({r.warnings:.0f})" for r in warned.itertuples()], limit=10)
        click.secho(f"warning: {len(warned)} of {len(table)} jobs had warnings: {named}. Read them in each "
                    f"job's {LOG} (the first in batch.csv, column first_warning).", err=True, fg="yellow")  # fmt: skip
    click.echo(f"Wrote: {os.path.join(out_dir, 'batch.csv')}, {os.path.join(out_dir, 'batch.md')}")
    if len(bad):
        sys.exit(1)


def _interrupted(stop: KeyboardInterrupt, jobs_file: str, out_dir: str):
    """One message on Ctrl-C (how many jobs finished, how to run the others) and exit code 130."""
    resume = f"zoning batch {shlex.join([jobs_file, '--out', out_dir])} --resume"
    if isinstance(stop, BatchInterrupted):
        table = stop.table
        finished = table[table["status"] != INTERRUPTED]
        counts = f" ({status_counts(finished)})" if len(finished) else ""
        click.secho(f"Stopped (Ctrl-C): {len(finished)} of {len(table)} jobs finished{counts}, "
                    f"{len(table) - len(finished)} {INTERRUPTED}; batch.csv lists them. To run the others: "
                    f"{resume}", err=True, fg="yellow")  # fmt: skip
    else:
        click.secho(f"Stopped (Ctrl-C). To run the jobs not finished: {resume}", err=True, fg="yellow")
    sys.exit(130)
