"""Benchmark of ``zoning batch``: 40 county-sized partition jobs in one process, on a LocalCluster and on a
scheduler started by hand.

Run: ``.venv/bin/python benchmarks/batch.py [--jobs 40] [--time-limit 5] [--workers 2] [--keep DIR]
[--runs one,local,manual]``

Instances: ``benchmarks/end_to_end.py``'s generator (Voronoi 小区 around Hefei, Chinese headers, a GeoPackage
of blocks and a CSV of schools, 15 % spare seats), one city per job with 2,000 to 20,000 blocks (evenly spaced
on a log scale) and a school per 40 blocks (50 to 500), seeds 1…N; cached in ``--keep``.  Every job is
``zoning partition`` with the default rules (one piece, seats) and ``--allow-overload`` (a county whose seats
cannot be met still gets its plan and the overload is reported) at ``--time-limit`` seconds, one CP-SAT thread
(the batch default).

Runs, each over the same jobs file:

- **one process**: the jobs one after another in this process (``zoning.batch.work.run_job`` with the CLI's
  runner; no Dask), the baseline;
- **LocalCluster**: ``zoning batch JOBS --workers 2`` in a subprocess (its time includes starting the cluster);
- **scheduler by hand**: ``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1`` started as
  subprocesses (not timed), then ``zoning batch JOBS --scheduler tcp://…`` in a subprocess.

Printed: jobs, jobs done, wall-clock seconds, the sum of the jobs' own seconds and the speed-up against one
process; the peak memory of the one process (the largest job, what one worker holds at most).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import write_city  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


def make_jobs(folder: Path, n_jobs: int, time_limit: float) -> tuple[Path, list[int]]:
    """The cities (cached) and a jobs file with one partition job per city."""
    sizes = [int(round(n, -2)) for n in np.geomspace(2_000, 20_000, n_jobs)]
    lines = ["[defaults]", f"time-limit = {time_limit:g}", "allow-overload = true", ""]
    for k, n in enumerate(sizes, start=1):
        blocks, schools = write_city(folder, n, max(2, n // 40), k, "EPSG:4326")
        lines += ["[[job]]", f'name = "county-{k:02d}-{n}"', 'command = "partition"',
                  f'blocks = "{blocks}"', f'schools = "{schools}"', ""]  # fmt: skip
    path = folder / f"jobs-{n_jobs}-t{time_limit:g}.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, sizes


def run_one_process(jobs_file: Path, out: Path) -> dict:
    """The jobs in sequence in this process: the same runner as the workers', no Dask."""
    from zoning.batch.jobs import read_jobs
    from zoning.batch.work import run_job
    from zoning.cli.batch import check_command, command_specs, run_command

    jobs = read_jobs(jobs_file, commands=command_specs(), check=check_command)
    t0 = time.perf_counter()
    rows = []
    for job in jobs.jobs:
        rows.append(run_job(job, out, run_command))
        r = rows[-1]
        print(f"  {r['job']}: {r['status']} in {r['seconds']:.1f} s {r['error'] or ''}"[:160], flush=True)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_cli(jobs_file: Path, out: Path, extra: list[str]) -> dict:
    """``zoning batch`` in a subprocess; its rows from batch.csv."""
    import pandas as pd

    cmd = [str(BIN / "zoning"), "batch", str(jobs_file), "--out", str(out), *extra]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    print("  " + proc.stdout.strip().replace("\n", "\n  "))
    if proc.returncode not in (0, 1):
        print(proc.stderr[-3000:])
    table = pd.read_csv(out / "batch.csv", encoding="utf-8-sig")
    return {"seconds": seconds, "rows": table.to_dict(orient="records")}


def run_manual(jobs_file: Path, out: Path, workers: int) -> dict:
    """A scheduler and workers started by hand (``dask scheduler`` / ``dask worker``), then zoning batch on it."""
    from distributed import Client

    folder = Path(tempfile.mkdtemp(prefix="zoning-dask-"))
    sched_file = folder / "scheduler.json"
    log = (folder / "dask.log").open("w")
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--scheduler-file", str(sched_file), "--port", "0", "--no-dashboard"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = None
    try:
        for _ in range(300):
            if sched_file.exists():
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        worker = subprocess.Popen(
            [str(BIN / "dask"), "worker", address, "--nworkers", str(workers), "--nthreads", "1",
             "--no-dashboard"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(workers, timeout=60)
        print(f"scheduler {address}, {workers} workers", flush=True)
        return run_cli(jobs_file, out, ["--scheduler", address])
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", default=None, help="folder for the generated cities (reused) and outputs")
    ap.add_argument("--runs", default="one,local,manual")
    ap.add_argument("--prepare", action="store_true", help="only generate the cities and the jobs file")
    args = ap.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="zoning-batch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    if args.prepare:
        make_jobs(folder, args.jobs, args.time_limit)
        return
    # the cities are made in a process of their own, so that this one's peak memory is the jobs'
    prepare = [sys.executable, __file__, "--prepare", "--keep", str(folder), "--jobs", str(args.jobs),
               "--time-limit", f"{args.time_limit:g}"]  # fmt: skip
    subprocess.run(prepare, check=True)
    jobs_file, sizes = make_jobs(folder, args.jobs, args.time_limit)  # cached: only the jobs file again
    print(f"{len(sizes)} cities of {min(sizes):,}–{max(sizes):,} blocks ({sum(sizes):,} in all), "
          f"ready in {time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
    runs = {}
    for name in args.runs.split(","):
        out = folder / f"out-{name}"
        shutil.rmtree(out, ignore_errors=True)
        print(f"\n== {name}", flush=True)
        if name == "one":
            runs["one process (in sequence)"] = run_one_process(jobs_file, out)
        elif name == "local":
            runs[f"LocalCluster, {args.workers} workers"] = run_cli(
                jobs_file, out, ["--workers", str(args.workers)]
            )
        elif name == "manual":
            runs[f"dask scheduler + {args.workers} workers by hand"] = run_manual(
                jobs_file, out, args.workers
            )
        shutil.rmtree(out, ignore_errors=True)  # maps of 20,000 blocks: do not keep 3 × 40 of them
    base = next((r["seconds"] for k, r in runs.items() if k.startswith("one")), None)
    print()
    print("| run | jobs | done | wall s | sum of job s | speed-up vs one process |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        done = sum(1 for row in r["rows"] if row["status"] == "done")
        job_s = sum(float(row["seconds"] or 0) for row in r["rows"])
        ratio = f"{base / r['seconds']:.2f}×" if base else "—"
        print(f"| {name} | {len(r['rows'])} | {done} | {r['seconds']:.0f} | {job_s:.0f} | {ratio} |")
    if "one process (in sequence)" in runs:
        print(
            f"\npeak memory of the one process (its largest job): {runs['one process (in sequence)']['peak_mb']:,.0f} MB"
        )
    print(f"{len(sizes)} jobs: zoning partition on cities of {min(sizes):,}–{max(sizes):,} blocks, "
          f"--time-limit {args.time_limit:g} --allow-overload, 1 CP-SAT thread per job; {os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
