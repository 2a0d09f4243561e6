"""One job, in whatever process runs it (a Dask worker, or this one): no Dask here.

The job's command runs through the runner it is handed (the CLI's: the command itself, in-process, so a job
validates, solves, writes and words its errors exactly as ``zoning <command>`` does), with ``--out`` a folder
inside the hidden staging folder of ``io.save.write_files``; when the command is done a marker
(``job.json``: the job's spec hash and its row) is written beside its outputs and the whole folder moves
into place with one rename.  So ``DIR/<name>`` exists only complete: a worker killed mid-job leaves a staging
folder of a dead process, which the next write into DIR removes.  With ``replace`` (``--overwrite`` of a
folder that exists) the command writes into the folder itself with ``--overwrite`` (each command writes its
files all or nothing) and the marker says "incomplete" until it is done.

Beside the marker, ``job.log`` holds the job's command line and everything it would have shown on a terminal:
the library's messages (warnings included, each once) in order with what the command printed.  The row counts
the warnings and gives the first, so that none is lost in a batch nobody watches.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ZoningError
from ..io.files import load_text, read_table
from ..io.save import write_files, write_json, write_text
from .jobs import Job

__all__ = [
    "Outcome",
    "Runner",
    "run_job",
    "read_marker",
    "failed_row",
    "one_line",
    "MARKER",
    "LOG",
    "ROW_KEYS",
]

log = logging.getLogger(__name__)

#: The marker a finished job leaves in its folder.
MARKER = "job.json"
#: The log a finished job leaves in its folder: its command line, warnings and output.
LOG = "job.log"
#: The columns of a job's row in batch.csv, in order.
ROW_KEYS = ("job", "command", "status", "seconds", "plan_status", "objective", "lower_bound", "gap", "unit",
            "seats_over", "children_moved", "folder", "error", "warnings", "first_warning")  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What a command did: its exit code (0 done, 1 the input or the rules, 2 bad flags), what it printed
    and, when it failed, its message in the planner's words; its warnings (each once, in order) and its log
    (the library's messages and what it printed, in order)."""

    code: int
    output: str = ""
    error: str = ""
    warnings: tuple[str, ...] = ()
    log: str = ""


#: Runs ``zoning <command> <argv>`` and says how it went; a module-level function, so Dask sends it by name.
Runner = Callable[[str, list[str]], Outcome]


class _Failed(ZoningError):
    """The command ended with an error (its message is the planner's)."""

    def __init__(self, message: str, warnings: tuple[str, ...] = ()):
        super().__init__(message)
        self.warnings = warnings


def one_line(text, limit: int = 300) -> str | None:
    """``text`` on one line, cut at ``limit`` characters (None for no text)."""
    if not isinstance(text, str) or not text.strip():
        return None
    flat = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _warning_figures(warnings) -> dict:
    """The row's count of a job's warnings and the first one, on one line (all of them are in job.log)."""
    return {"warnings": len(warnings), "first_warning": one_line(warnings[0]) if warnings else None}


def failed_row(
    job: Job, out_dir, error: str, seconds: float = 0.0, *, status: str = "failed", warnings=None
) -> dict:
    """The row of a job that did not finish (or never started); ``warnings``: those of a command that ran."""
    row = dict.fromkeys(ROW_KEYS)
    folder = os.path.join(os.fspath(out_dir), job.name)
    # the folder only where it exists (a failed job writes nothing; an earlier run's folder stays as it was)
    row |= {"job": job.name, "command": job.command, "status": status, "seconds": round(seconds, 2),
            "folder": folder if os.path.isdir(folder) else "", "error": error.strip()}  # fmt: skip
    if warnings is not None:
        row |= _warning_figures(warnings)
    return row


def run_job(
    job: Job,
    out_dir: str | os.PathLike[str],
    runner: Runner,
    *,
    replace: bool = False,
    after: tuple = (),
    batch: str = "",
) -> dict:
    """Run ``job`` into ``out_dir/<name>`` and return its row of batch.csv; a failure is a row, not an error.

    ``after``: the rows of the jobs it reads (a failed one means this job cannot run); ``replace``: the
    folder exists and may be replaced (``--overwrite``); ``batch``: the run of the batch, kept in the marker
    (a job that finished while the batch stopped on Ctrl-C is known by it)."""
    t0 = time.perf_counter()
    broken = [r["job"] for r in after if r.get("status") not in ("done", "skipped")]
    if broken:
        return failed_row(job, out_dir, f"it reads the folder of {', '.join(broken)}, which failed.",
                          status="not run")  # fmt: skip
    target = Path(out_dir) / job.name
    argv = job.command_line(out_dir)
    log.info("job %s: zoning %s %s", job.name, job.command, " ".join(argv))
    row: dict = {}

    def write(folder: Path, *, overwrite: bool = False) -> None:
        outcome = runner(
            job.command, [*argv, "--out", os.fspath(folder), *(["--overwrite"] if overwrite else [])]
        )
        if outcome.code != 0:
            raise _Failed(
                outcome.error or outcome.output or f"zoning {job.command} ended with code {outcome.code}",
                outcome.warnings,
            )
        row.update(_figures(folder))
        row.update(_warning_figures(outcome.warnings))
        row.update(seconds=round(time.perf_counter() - t0, 2))
        # the log names the job's folder, not the staging folder the command wrote into
        words = ["zoning", job.command, *argv, "--out", os.fspath(target)]
        text = outcome.log.replace(os.fspath(folder), os.fspath(target))
        write_text(folder / LOG, f"$ {shlex.join(words)}\n{text}", overwrite=True)
        marker = {"job": job.name, "command": job.command, "argv": list(job.argv), "spec": job.spec,
                  "batch": batch, "complete": True, "row": {k: row.get(k) for k in ROW_KEYS if k not in ("job", "folder")}}  # fmt: skip
        write_json(folder / MARKER, marker, overwrite=True)

    try:
        if replace and target.exists():
            write_json(
                target / MARKER, {"job": job.name, "spec": job.spec, "complete": False}, overwrite=True
            )
            write(target, overwrite=True)
        else:
            write_files(out_dir, {job.name: write}, overwrite=False)  # the folder moves into place whole
    except (_Failed, ZoningError) as err:
        return failed_row(
            job,
            out_dir,
            str(err),
            time.perf_counter() - t0,
            warnings=err.warnings if isinstance(err, _Failed) else None,
        )
    done = {
        "job": job.name,
        "command": job.command,
        "status": "done",
        "folder": os.fspath(target),
        "error": "",
    }
    return {k: (done | row).get(k) for k in ROW_KEYS}


def read_marker(folder: str | os.PathLike[str]) -> dict | None:
    """The marker of a finished job in ``folder`` (None when there is none or it cannot be read)."""
    try:
        marker = json.loads(load_text(Path(folder) / MARKER, what="a job marker", suffixes=(".json",)))
    except (InputError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _figures(folder: Path) -> dict:
    """The plan's figures for its row: from summary.json, or from frontier.csv for a frontier."""
    try:
        summary = json.loads(load_text(folder / "summary.json", what="a plan summary", suffixes=(".json",)))
    except InputError:
        return _frontier_figures(folder)
    solve = summary.get("solve") or (summary.get("districts") or {}).get("solve") or {}
    unit = next((k[len("objective_") :] for k in solve if k.startswith("objective_")), None)
    totals = summary.get("totals") or {}
    schools = summary.get("schools") or []
    return {
        "plan_status": solve.get("status"),
        "objective": solve.get(f"objective_{unit}"),
        "lower_bound": solve.get(f"lower_bound_{unit}"),
        "gap": solve.get("gap"),
        "unit": unit,
        "seats_over": round(sum(float(s.get("overload") or 0) for s in schools), 3) if totals else None,
        "children_moved": totals.get("children_moved"),
    }


def _frontier_figures(folder: Path) -> dict:
    table = read_table(folder / "frontier.csv").frame
    labels = list(table.get("alternative", []))
    gaps = [float(g) for g in table.get("gap", []) if str(g).strip()]
    return {
        "plan_status": f"{len(labels)} alternatives ({', '.join(labels)})",
        "gap": max(gaps, default=None),
    }
