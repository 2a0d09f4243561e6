"""One job, in whatever process runs it (a Dask worker, or this one): no Dask here.

The job's command runs through the runner it is handed (the CLI's: the command itself, in-process, so a job
validates, solves, writes and words its errors exactly as ``zoning <command>`` does), with ``--out`` a folder
inside the hidden staging folder of ``io.save.write_files``; when the command is done a marker
(``job.json``: the job's spec hash and its row) is written beside its outputs and the whole folder moves
into place with one rename.  So ``DIR/<name>`` exists only complete: a worker killed mid-job leaves a staging
folder of a dead process, which the next write into DIR removes.  With ``replace`` (``--overwrite`` of a
folder that exists) the command writes into the folder itself with ``--overwrite`` (each command writes its
files all or nothing) and the marker says "incomplete" until it is done.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ZoningError
from ..io.files import load_text, read_table
from ..io.save import write_files, write_json
from .jobs import Job

__all__ = ["Outcome", "Runner", "run_job", "read_marker", "failed_row", "MARKER", "ROW_KEYS"]

log = logging.getLogger(__name__)

#: The marker a finished job leaves in its folder.
MARKER = "job.json"
#: The columns of a job's row in batch.csv, in order.
ROW_KEYS = ("job", "command", "status", "seconds", "plan_status", "objective", "lower_bound", "gap", "unit",
            "seats_over", "children_moved", "folder", "error")  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What a command did: its exit code (0 done, 1 the input or the rules, 2 bad flags), what it printed
    and, when it failed, its message in the planner's words."""

    code: int
    output: str = ""
    error: str = ""


#: Runs ``zoning <command> <argv>`` and says how it went; a module-level function, so Dask sends it by name.
Runner = Callable[[str, list[str]], Outcome]


class _Failed(ZoningError):
    """The command ended with an error (its message is the planner's)."""


def failed_row(job: Job, out_dir, error: str, seconds: float = 0.0, *, status: str = "failed") -> dict:
    """The row of a job that did not finish (or never started)."""
    row = dict.fromkeys(ROW_KEYS)
    folder = os.path.join(os.fspath(out_dir), job.name)
    # the folder only where it exists (a failed job writes nothing; an earlier run's folder stays as it was)
    row |= {"job": job.name, "command": job.command, "status": status, "seconds": round(seconds, 2),
            "folder": folder if os.path.isdir(folder) else "", "error": error.strip()}  # fmt: skip
    return row


def run_job(
    job: Job, out_dir: str | os.PathLike[str], runner: Runner, *, replace: bool = False, after: tuple = ()
) -> dict:
    """Run ``job`` into ``out_dir/<name>`` and return its row of batch.csv; a failure is a row, not an error.

    ``after``: the rows of the jobs it reads (a failed one means this job cannot run); ``replace``: the
    folder exists and may be replaced (``--overwrite``)."""
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
                outcome.error or outcome.output or f"zoning {job.command} ended with code {outcome.code}"
            )
        row.update(_figures(folder))
        row.update(seconds=round(time.perf_counter() - t0, 2))
        marker = {"job": job.name, "command": job.command, "argv": list(job.argv), "spec": job.spec,
                  "complete": True, "row": {k: row.get(k) for k in ROW_KEYS if k not in ("job", "folder")}}  # fmt: skip
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
        return failed_row(job, out_dir, str(err), time.perf_counter() - t0)
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
