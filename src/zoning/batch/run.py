"""The batch on Dask distributed: which jobs run, where, what comes back, and ``batch.csv`` / ``batch.md``.

- **Where.** By default a ``LocalCluster`` of ``workers`` processes on this machine, one thread each (every
  job's CP-SAT search uses one thread, so N processes fill N cores without oversubscribing them); or an
  existing cluster: a ``distributed.Client``, or a scheduler's address (``tcp://host:8786``, started with
  ``dask scheduler`` and joined by ``dask worker tcp://host:8786 --nthreads 1``).  The same code either way.
- **What is sent.** A job is a few hundred bytes (its command line, paths included) and the runner by name; a
  worker reads the inputs from the shared file system, solves, writes the job's folder and sends back one
  row.  Nothing large crosses the network, and the scheduler holds one small task per job.
- **Faults.** A job that fails is a row with the command's own message; the others go on.  A worker that
  dies mid-job (killed, out of memory) leaves only a staging folder of a dead process (removed by the next
  write into DIR) and Dask runs the job again on another worker (one retry: ``allowed-failures`` of the
  LocalCluster's scheduler; an external scheduler has its own, 3 by default); ``retries=1`` re-runs a job
  whose task raised.
- **Resume.** A job whose folder holds a complete marker with the same spec hash (and whose inputs from other
  jobs were not run again) is skipped.
- **Progress.** A log record per finished job with ``extra={"batch_progress": {...}}`` (jobs done / total,
  failed, elapsed), which the CLI draws as one line on a terminal; failures are warnings.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..errors import InputError, Issue, ZoningError
from ..io.save import OVERWRITE_FIX, csv_writer, prepare_out_dir, text_writer, write_files
from ..scenarios.compare import markdown_table
from .jobs import BATCH_FILES, Jobs
from .work import ROW_KEYS, Runner, failed_row, read_marker, run_job

__all__ = ["run_batch", "cluster", "batch_table", "batch_markdown", "status_counts", "RETRIES"]

log = logging.getLogger(__name__)

#: How often a job runs again after its task raised or its worker died.
RETRIES = 1
INSTALL_FIX = "pip install 'zoning[batch]' (Dask distributed)."
RESUME_FIX = "pass --resume to skip the finished jobs, --overwrite to run them again, or choose another --out"


def _dask():
    """dask and distributed, imported only when a batch runs (they are an optional extra)."""
    try:
        import dask
        import distributed
    except ImportError as err:
        raise ZoningError(
            f"batch runs need Dask distributed, which is not installed. Fix: {INSTALL_FIX}"
        ) from err
    return dask, distributed


def run_batch(
    jobs: Jobs,
    out_dir: str | os.PathLike[str],
    *,
    runner: Runner,
    client=None,
    workers: int = 2,
    resume: bool = False,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Run every job of ``jobs`` into ``out_dir/<name>`` and write ``batch.csv`` and ``batch.md`` there.

    ``client``: a ``distributed.Client``, a scheduler address (``"tcp://host:8786"``), or None for a
    ``LocalCluster`` of ``workers`` processes started and closed here.  ``resume``: skip jobs whose folder is
    complete for the same spec; ``overwrite``: run jobs again whose folder exists.  Returns the table of
    batch.csv (one row per job, in the file's order); a failed job is a row, never an exception.
    """
    out = Path(out_dir)
    t0 = time.monotonic()
    rows, todo, replaceable = _plan(jobs, out, resume=resume, overwrite=overwrite)
    total, failed = len(jobs), 0
    _progress(len(rows), total, 0, t0, None)
    if todo:
        _, distributed = _dask()
        with _client(client, workers) as c:
            token = uuid.uuid4().hex[:8]
            futures = {}
            for job in todo:
                after = [futures.get(n, rows.get(n)) for n in job.after]
                futures[job.name] = c.submit(run_job, job, os.fspath(out), runner, replace=job.name in replaceable,
                                             after=after, key=f"{job.name}-{token}", retries=RETRIES, pure=False)  # fmt: skip
            name_of = {f.key: n for n, f in futures.items()}
            by_name = {job.name: job for job in todo}
            for fut in distributed.as_completed(list(futures.values())):
                name = name_of[fut.key]
                try:
                    row = fut.result()
                except Exception as err:  # the worker died RETRIES + 1 times, or the task raised twice
                    row = failed_row(by_name[name], out, _why(err, distributed))
                rows[name] = row
                if row["status"] not in ("done", "skipped"):
                    failed += 1
                    log.warning("job %s %s: %s", name, row["status"], _one_line(row["error"]))
                _progress(len(rows), total, failed, t0, row)
    table = batch_table([rows[n] for n in jobs.names()])
    write_files(
        out, {"batch.csv": csv_writer(table), "batch.md": text_writer(batch_markdown(table))}, overwrite=True
    )  # refused up front unless --resume / --overwrite
    return table


def _plan(jobs: Jobs, out: Path, *, resume: bool, overwrite: bool):
    """(rows of the jobs skipped, the jobs to run in order, the names whose folder may be replaced); refuses
    up front (one error listing them) the folders it would need to replace without --overwrite."""
    rows: dict[str, dict] = {}
    todo, replaceable, issues = [], set(), []
    if not resume:
        try:
            prepare_out_dir(out, [*jobs.names(), *BATCH_FILES], overwrite=overwrite)
        except InputError as err:  # the batch's own fix: --resume is what a second run usually wants
            issues = [replace(i, fix=RESUME_FIX) if i.fix == OVERWRITE_FIX else i for i in err.issues]
            raise InputError(issues, headline=err.headline) from err
        return rows, list(jobs.jobs), set(jobs.names()) if overwrite else set()
    prepare_out_dir(out, [], overwrite=True)
    for job in jobs.jobs:
        marker = read_marker(out / job.name)
        rerun = [n for n in job.after if n not in rows]  # a folder it reads is made again
        if marker and marker.get("complete") and marker.get("spec") == job.spec and not rerun:
            row = dict.fromkeys(ROW_KEYS) | marker.get("row", {})
            rows[job.name] = row | {"job": job.name, "command": job.command, "status": "skipped",
                                    "folder": os.fspath(out / job.name), "error": ""}  # fmt: skip
            continue
        todo.append(job)
        if marker is None:
            continue  # no folder (or not one of ours: the job says it exists already)
        if overwrite or rerun or not marker.get("complete") or marker.get("spec") == job.spec:
            replaceable.add(job.name)
        else:
            issues.append(Issue(f'holds the outputs of another version of job "{job.name}" (the jobs file '
                                "changed since).", f"{OVERWRITE_FIX} to run it again.",
                                file=os.fspath(out / job.name)))  # fmt: skip
    if issues:
        raise InputError(issues, headline=f"{len(issues)} job folder(s) hold other outputs:")
    return rows, todo, replaceable


def cluster(client=None, workers: int = 2):
    """A context giving a ``dask.distributed.Client``: ``client`` itself, one connected to a scheduler's
    address (``"tcp://host:8786"``), or one of a LocalCluster of ``workers`` processes started and closed
    here (frontier points and scenario sweeps run on it like batch jobs)."""
    return _client(client, workers)


@contextlib.contextmanager
def _client(client, workers: int):
    """The client to run on: the one given, one connected to a scheduler's address, or a LocalCluster's."""
    dask, distributed = _dask()
    if isinstance(client, distributed.Client):
        yield client
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}):
        if isinstance(client, str):
            try:
                c = distributed.Client(client, timeout="15s")
            except (OSError, TimeoutError) as err:
                raise ZoningError(
                    f"cannot reach the Dask scheduler at {client} ({err}). Fix: start one with `dask scheduler` "
                    f"and workers with `dask worker {client} --nthreads 1`, or leave out --scheduler to run "
                    "on this machine."
                ) from err
            with c:
                yield c
            return
        with (
            distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                     dashboard_address=None, silence_logs=logging.ERROR) as cluster,
            distributed.Client(cluster) as c,
        ):  # fmt: skip
            yield c


def _why(err: BaseException, distributed) -> str:
    """A failure Dask reports, in the planner's words."""
    if isinstance(err, distributed.KilledWorker):
        return (f"the worker process running it stopped {RETRIES + 1} times (killed, or out of memory). Fix: "
                "give the workers more memory (fewer --workers per machine) or the job a smaller city.")  # fmt: skip
    return f"internal error: {type(err).__name__}: {err}. This is a bug in zoning, not in your data."


def _progress(done: int, total: int, failed: int, t0: float, row: dict | None) -> None:
    elapsed = time.monotonic() - t0
    p = {"done": done, "total": total, "failed": failed, "elapsed_s": elapsed, "finished": done == total,
         "job": row["job"] if row else None, "status": row["status"] if row else None}  # fmt: skip
    log.info("batch: %d/%d jobs done (%d failed), %.0f s", done, total, failed, elapsed,
             extra={"batch_progress": p})  # fmt: skip


def batch_table(rows: list[dict]) -> pd.DataFrame:
    """batch.csv: one row per job (see ``work.ROW_KEYS``)."""
    return pd.DataFrame([{k: r.get(k) for k in ROW_KEYS} for r in rows], columns=list(ROW_KEYS))


#: column → (heading, format) of batch.md.
_COLUMNS = {
    "job": ("job", "{}"),
    "command": ("command", "{}"),
    "status": ("status", "{}"),
    "seconds": ("seconds", "{:,.1f}"),
    "plan_status": ("plan", "{}"),
    "objective_k": ("objective (k)", "{:,.1f}"),
    "bound_k": ("bound (k)", "{:,.1f}"),
    "gap": ("gap", "{:.2%}"),
    "seats_over": ("seats over", "{:,.0f}"),
    "children_moved": ("children moved", "{:,.0f}"),
    "message": ("error", "{}"),
}


def batch_markdown(table: pd.DataFrame) -> str:
    """batch.md: the table of batch.csv for people, errors on one line."""
    shown = table.assign(
        objective_k=pd.to_numeric(table["objective"], errors="coerce") / 1000,
        bound_k=pd.to_numeric(table["lower_bound"], errors="coerce") / 1000,
        gap=pd.to_numeric(table["gap"], errors="coerce"),
        seats_over=pd.to_numeric(table["seats_over"], errors="coerce"),
        children_moved=pd.to_numeric(table["children_moved"], errors="coerce"),
        seconds=pd.to_numeric(table["seconds"], errors="coerce"),
        message=[_one_line(e) for e in table["error"]],
    )
    head = status_counts(table)
    note = ("objective and bound in thousands: child-km for zones (children × km, plus the move penalty), "
            "children (or seats, schools) × km to the lead for districts.")  # fmt: skip
    return markdown_table(shown, _COLUMNS, title=f"batch: {len(table)} jobs ({head})",
                          text=("job", "command", "status", "plan_status", "message")) + "\n" + note + "\n"  # fmt: skip


def status_counts(table: pd.DataFrame) -> str:
    """``"18 done, 1 skipped, 1 failed"``."""
    counts = table["status"].value_counts()
    order = ["done", "skipped", "failed", "not run"]
    order += [s for s in counts.index if s not in order]
    return ", ".join(f"{counts[s]} {s}" for s in order if s in counts)


def _one_line(text, limit: int = 300) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    flat = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
