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
- **Ctrl-C.** The jobs not finished are cancelled and batch.csv / batch.md are written at once, those jobs
  marked "interrupted" (no folder: ``--resume`` runs them); then :class:`BatchInterrupted` (a
  KeyboardInterrupt) carries the table.  The worker processes of a LocalCluster started here ignore SIGINT
  (a terminal sends it to the whole process group; a worker would die printing a traceback): this process
  stops them when it closes the cluster.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..errors import InputError, Issue, ZoningError
from ..io.save import OVERWRITE_FIX, csv_writer, prepare_out_dir, text_writer, write_files
from ..scenarios.compare import markdown_table
from .jobs import BATCH_FILES, Jobs
from .work import ROW_KEYS, Runner, failed_row, one_line, read_marker, run_job

__all__ = [
    "run_batch",
    "cluster",
    "batch_table",
    "batch_markdown",
    "status_counts",
    "BatchInterrupted",
    "RETRIES",
]

log = logging.getLogger(__name__)

#: How often a job runs again after its task raised or its worker died.
RETRIES = 1
INSTALL_FIX = "pip install 'zoning[batch]' (Dask distributed)."
RESUME_FIX = "pass --resume to skip the finished jobs, --overwrite to run them again, or choose another --out"
#: Seconds SIGINT is ignored at most while a LocalCluster's worker processes are started (see _local_cluster).
SPAWN_S = 30.0
#: The status of a job that Ctrl-C stopped, or that had not started (``--resume`` runs it).
INTERRUPTED = "interrupted"


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch; batch.csv and batch.md are written, and ``table`` is batch.csv's table (the
    jobs that finished, the others "interrupted")."""

    def __init__(self, table: pd.DataFrame):
        super().__init__("the batch was interrupted (Ctrl-C)")
        self.table = table


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
    batch.csv (one row per job, in the file's order); a failed job is a row, never an exception.  On Ctrl-C
    the files are written with the jobs that finished and the others "interrupted", and
    :class:`BatchInterrupted` (a KeyboardInterrupt) carries the table.
    """
    out = Path(out_dir)
    t0 = time.monotonic()
    rows, todo, replaceable = _plan(jobs, out, resume=resume, overwrite=overwrite)
    _progress(len(rows), len(jobs), 0, t0, None)
    batch = uuid.uuid4().hex[:8]  # this run's: in its tasks' keys and its jobs' markers
    stopped = False
    if todo:
        with contextlib.ExitStack() as closing:
            try:
                with _client(client, workers) as c:
                    try:
                        _run_all(c, todo, rows, out, runner, replaceable, batch, len(jobs), t0)
                    except KeyboardInterrupt:
                        stopped = True
                        _write(jobs, out, rows, batch)  # at once: the workers take a few seconds to close
                        _progress(len(rows), len(jobs), _failed(rows), t0, None, stopping=True)
                        # a second Ctrl-C would break Dask's close, which is bounded (a busy worker is
                        # killed after 4 s)
                        closing.enter_context(_sigint_ignored())
            except KeyboardInterrupt:  # Ctrl-C while the cluster started, or a user's closed
                stopped = True
    table = _write(jobs, out, rows, batch)
    if stopped:
        raise BatchInterrupted(table)
    return table


def _run_all(c, todo, rows: dict, out: Path, runner, replaceable, batch: str, total: int, t0: float) -> None:
    """The jobs of ``todo`` on the client ``c``, their rows into ``rows`` as they finish.  On Ctrl-C the rows
    of the jobs that finished meanwhile are kept, the others cancelled (a cluster that outlives the batch would
    go on running them), and the KeyboardInterrupt goes on."""
    _, distributed = _dask()
    futures = {}
    try:
        for job in todo:
            after = [futures.get(n, rows.get(n)) for n in job.after]
            futures[job.name] = c.submit(run_job, job, os.fspath(out), runner, replace=job.name in replaceable,
                                         after=after, batch=batch, key=f"{job.name}-{batch}", retries=RETRIES,
                                         pure=False)  # fmt: skip
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
                log.warning("job %s %s: %s", name, row["status"], one_line(row["error"]))
            _progress(len(rows), total, _failed(rows), t0, row)
    except KeyboardInterrupt:
        for name, fut in futures.items():
            if name not in rows and fut.status == "finished":
                with contextlib.suppress(Exception):
                    rows[name] = fut.result(timeout=5)
        with contextlib.suppress(Exception):
            c.cancel([f for n, f in futures.items() if n not in rows])
        raise


def _failed(rows: dict) -> int:
    return sum(r["status"] not in ("done", "skipped") for r in rows.values())


def _write(jobs: Jobs, out: Path, rows: dict, batch: str) -> pd.DataFrame:
    """batch.csv and batch.md; a job with no row (Ctrl-C came first) is "done" if its folder is complete from
    this run (it finished while the batch stopped), else "interrupted"."""
    table = batch_table([rows.get(job.name) or _finished(job, out, batch) or _interrupted(job, out)
                         for job in jobs.jobs])  # fmt: skip
    write_files(
        out, {"batch.csv": csv_writer(table), "batch.md": text_writer(batch_markdown(table))}, overwrite=True
    )  # refused up front unless --resume / --overwrite
    return table


def _marker_row(job, out: Path, marker: dict, status: str) -> dict:
    """A job's row from the marker in its folder."""
    row = dict.fromkeys(ROW_KEYS) | marker.get("row", {})
    return row | {"job": job.name, "command": job.command, "status": status,
                  "folder": os.fspath(out / job.name), "error": ""}  # fmt: skip


def _finished(job, out: Path, batch: str) -> dict | None:
    marker = read_marker(out / job.name)
    if marker and marker.get("complete") and marker.get("spec") == job.spec and marker.get("batch") == batch:
        return _marker_row(job, out, marker, "done")
    return None


def _interrupted(job, out: Path) -> dict:
    return failed_row(job, out, "stopped by Ctrl-C before it finished; --resume runs it.", status=INTERRUPTED)


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
            rows[job.name] = _marker_row(job, out, marker, "skipped")
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
        with _local_cluster(distributed, workers) as local, distributed.Client(local) as c:
            yield c


def _local_cluster(distributed, workers: int):
    """A LocalCluster of ``workers`` processes, one thread each, whose processes ignore SIGINT.

    Ctrl-C on a terminal sends SIGINT to the whole process group, and a worker would die of it printing a
    traceback: stopping the jobs is this process's business.  A signal ignored stays ignored in a process
    started meanwhile (a handler does not), so SIGINT is ignored here from the start of the cluster (made in
    a thread) until its worker processes exist, not while they load (seconds): a Ctrl-C then stops the start.
    A worker started again after one died ignores it through the preload (:func:`dask_setup`)."""
    make = functools.partial(distributed.LocalCluster, n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=None, silence_logs=logging.ERROR, preload=[__name__])  # fmt: skip
    if threading.current_thread() is not threading.main_thread():
        return make()
    made: dict = {}

    def start() -> None:
        try:
            made["cluster"] = make()
        except BaseException as err:  # raised again in the main thread
            made["error"] = err

    import psutil  # a dependency of distributed

    me = psutil.Process()
    before = {p.pid for p in me.children()}
    thread = threading.Thread(target=start, name="zoning LocalCluster start", daemon=True)
    with _sigint_ignored():
        thread.start()
        deadline = time.monotonic() + SPAWN_S
        while thread.is_alive() and _spawned(me, before) < workers and time.monotonic() < deadline:
            time.sleep(0.02)
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:  # the cluster is closed as soon as it is up
        with _sigint_ignored():
            thread.join()
            if "cluster" in made:
                made["cluster"].close()
        raise
    if "error" in made:
        raise made["error"]
    return made["cluster"]


def _spawned(me, before: set) -> int:
    """How many worker processes (multiprocessing's spawn) this process has started since ``before``."""
    import psutil

    n = 0
    for child in me.children():
        with contextlib.suppress(psutil.Error):
            n += child.pid not in before and "spawn_main" in " ".join(child.cmdline())
    return n


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored while the block runs (only the main thread may set it; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def dask_setup(worker) -> None:
    """Dask's preload hook, run in each worker process of a LocalCluster started here, also one started
    again after a worker died (which does not inherit the ignored SIGINT): Ctrl-C is this process's to
    handle."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _why(err: BaseException, distributed) -> str:
    """A failure Dask reports, in the planner's words."""
    if isinstance(err, distributed.KilledWorker):
        return (f"the worker process running it stopped {RETRIES + 1} times (killed, or out of memory). Fix: "
                "give the workers more memory (fewer --workers per machine) or the job a smaller city.")  # fmt: skip
    return f"internal error: {type(err).__name__}: {err}. This is a bug in zoning, not in your data."


def _progress(done: int, total: int, failed: int, t0: float, row: dict | None, *, stopping=False) -> None:
    """``stopping``: Ctrl-C came, the workers are being closed (the last record)."""
    elapsed = time.monotonic() - t0
    p = {"done": done, "total": total, "failed": failed, "elapsed_s": elapsed,
         "finished": done == total or stopping, "stopping": stopping,
         "job": row["job"] if row else None, "status": row["status"] if row else None}  # fmt: skip
    log.info("batch: %d/%d jobs done (%d failed), %.0f s", done, total, failed, elapsed,
             extra={"batch_progress": p})  # fmt: skip


def batch_table(rows: list[dict]) -> pd.DataFrame:
    """batch.csv: one row per job (see ``work.ROW_KEYS``)."""
    table = pd.DataFrame([{k: r.get(k) for k in ROW_KEYS} for r in rows], columns=list(ROW_KEYS))
    return table.astype({"warnings": "Int64"})  # a count, blank for a job that did not run


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
    "warnings": ("warnings", "{:,.0f}"),
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
        warnings=pd.to_numeric(table["warnings"], errors="coerce"),
        message=[one_line(e) for e in table["error"]],
    )
    head = status_counts(table)
    note = ("objective and bound in thousands: child-km for zones (children × km, plus the move penalty), "
            "children (or seats, schools) × km to the lead for districts; warnings: each job's job.log "
            "has them in full.")  # fmt: skip
    return markdown_table(shown, _COLUMNS, title=f"batch: {len(table)} jobs ({head})",
                          text=("job", "command", "status", "plan_status", "message")) + "\n" + note + "\n"  # fmt: skip


def status_counts(table: pd.DataFrame) -> str:
    """``"18 done, 1 skipped, 1 failed"``."""
    counts = table["status"].value_counts()
    order = ["done", "skipped", "failed", "not run", INTERRUPTED]
    order += [s for s in counts.index if s not in order]
    return ", ".join(f"{counts[s]} {s}" for s in order if s in counts)
