"""``zoning batch`` / ``zoning.run_batch`` on a real Dask ``LocalCluster`` (2 worker processes, 1 thread each):
20 jobs of a few seconds on the demo data (partition, districts, a scenario built on another job's plan, a
frontier), one with bad input and one whose worker process is killed (SIGKILL) mid-job; every plan folder
written is checked, a second run with resume skips the complete jobs, and a bad jobs file is named by line
and key.  Every job's warnings reach batch.csv, its job.log and the batch's last lines; Ctrl-C on a batch run in
a process group of its own (as a terminal runs it) ends it cleanly.  Nothing here is timed (the speed-up is in
benchmarks/batch.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import zoning
from conftest import DEMO, ROOT
from zoning.batch.jobs import JOB_REF
from zoning.batch.run import RETRIES
from zoning.batch.work import MARKER
from zoning.cli import main
from zoning.cli.batch import check_command, command_specs
from zoning.io.inputs import read_plan_folder

dask = pytest.importorskip("dask", reason="the batch extra (pip install 'zoning[batch]') is not installed")
distributed = pytest.importorskip("distributed")

BAOAN = ROOT / "data" / "shenzhen_baoan_xuequ2" / "schools_xuequ2_gcj02.geojson"
KILLED = "killed"
#: Move penalties of the partition jobs (each once with the defaults, once with a cap and no one-piece rule).
PENALTIES = (0, 250, 500, 1000, 2500, 5000, 10000)
#: Seconds the job to be killed has been running when its worker process is killed.
KILL_AFTER_S = 1.5
#: The log a job leaves in its folder.
LOG = "job.log"


@pytest.fixture(scope="module")
def client():
    """A real LocalCluster: 2 worker processes, 1 thread each, with the batch's own retry setting."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": RETRIES}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _bad_blocks(folder):
    path = folder / "bad_blocks.csv"
    path.write_text(
        "block_id,students_k4,current_school_plurality,lon,lat\n"
        "A1,12,Brown,-70.25,43.635\n"
        "A2,约120,Brown,-70.26,43.636\n",
        encoding="utf-8",
    )
    return path


def _jobs_file(folder) -> str:
    """20 jobs: 14 partitions (move penalties, seeds, distance caps, one piece or not), a scenario on the
    first one's plan, 2 district plans, a frontier, one with bad input and one that runs long enough to be
    killed; relative paths are read from the file's folder."""
    (folder / "close_dyer.toml").write_text(
        'title = "close Dyer"\n[[close]]\nschool = "Dyer Elementary School"\n', encoding="utf-8"
    )
    bad = _bad_blocks(folder)
    blocks, schools = DEMO / "blocks.geojson", DEMO / "schools.geojson"
    lines = [
        "[defaults]",
        "time-limit = 1.5",
        'students-col = "students_k4"',
        'current-school-col = "current_school_plurality"',
        "",
        "[defaults.partition]",
        f'blocks = "{blocks}"',
        f'schools = "{schools}"',
        "",
    ]
    lines += [
        "[[job]]",
        f'name = "{KILLED}"',
        'command = "partition"',
        "move-penalty = 0",
        "time-limit = 6",
        "",
    ]
    for k, (penalty, seed, cap, one_piece) in enumerate(
        [(p, s, c, o) for p in PENALTIES for s, c, o in ((0, None, True), (1, 6000, False))]
    ):
        lines += ["[[job]]", f'name = "p-{k:02d}"', 'command = "partition"', f"move-penalty = {penalty}"]
        lines += [f"seed = {seed}", f"contiguity = {'true' if one_piece else 'false'}"]
        lines += [f"max-distance = {cap}"] if cap else []
        lines.append("")
    lines += ["[[job]]", 'name = "close-dyer"', 'command = "scenario"', f'base-dir = "{JOB_REF}p-00"',
              'scenario-file = "close_dyer.toml"', ""]  # fmt: skip
    for k in (2, 3):
        lines += ["[[job]]", f'name = "baoan-{k}"', 'command = "districts"', f'schools = "{BAOAN}"',
                  'coords = "gcj02"', f"districts = {k}", ""]  # fmt: skip
    lines += ["[[job]]", 'name = "frontier"', 'command = "frontier"', f'blocks = "{blocks}"',
              f'schools = "{schools}"', 'penalties = "0,500,5000"', ""]  # fmt: skip
    lines += ["[[job]]", 'name = "bad-input"', 'command = "partition"', f'blocks = "{bad.name}"', ""]
    path = folder / "jobs.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _executing(dask_worker):
    """On a worker: its process id and the keys of the tasks it is running."""
    return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]


def _kill_when_running(client, prefix: str, done: threading.Event) -> list[int]:
    """SIGKILL the worker process running the task named ``prefix…`` once it has run ``KILL_AFTER_S``."""
    seen, killed = None, []
    while not done.is_set() and not killed:
        for pid, keys in client.run(_executing).values():
            if any(k.startswith(prefix + "-") for k in keys):
                seen = seen or time.monotonic()
                if time.monotonic() - seen >= KILL_AFTER_S:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
        time.sleep(0.1)
    return killed


@pytest.fixture(scope="module")
def batch_run(client, tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    jobs = _jobs_file(folder)
    out = folder / "out"
    result, done = {}, threading.Event()

    def run():
        try:
            result["table"] = zoning.run_batch(jobs, out, client=client)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    killed = _kill_when_running(client, KILLED, done)
    thread.join(timeout=300)
    assert not thread.is_alive()
    return jobs, out, result["table"].set_index("job"), killed


def _staging_leftovers(out) -> list[str]:
    return [os.fspath(p) for p in out.rglob(".zoning-*")]


def _check_folder(folder) -> dict:
    """The plan in a job's folder, checked from its files alone: every block in one zone of a school that
    exists, no school over its seats, the reported figures what the tables make them, a complete marker."""
    layers, summary = read_plan_folder(folder)
    marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    assert marker["complete"] is True and len(marker["spec"]) == 16
    schools = layers["schools"]
    if "blocks" in layers:
        blocks = layers["blocks"]
        assert blocks["block_id"].is_unique and blocks["school_id"].isin(schools["school_id"]).all()
        kids = blocks.groupby("school_id")["students"].sum()
        seats = schools.set_index("school_id")["capacity"]
        assert (kids <= seats.reindex(kids.index) + 1e-6).all()  # no overload allowed in these jobs
        cost = float((blocks["students"] * blocks["distance_m"]).sum())
        moved = float(blocks.loc[blocks["moved"].astype(bool), "students"].sum())
        rules, solve = summary["rules"], summary["solve"]
        expected = cost + rules["move_penalty_m"] * moved
        assert solve["objective_child_m"] == pytest.approx(expected, rel=1e-4)
        assert solve["lower_bound_child_m"] <= solve["objective_child_m"] + 1e-6
        totals = summary["totals"]
        assert (
            totals["zones_not_contiguous"] == totals["zones_joined_only_by_links"] or not rules["contiguity"]
        )
        if rules["max_distance_m"]:
            assert (blocks.loc[blocks["students"] > 0, "distance_m"] <= rules["max_distance_m"] + 1e-6).all()
        assert len((folder / "plan.csv").read_text(encoding="utf-8-sig").splitlines()) == len(blocks) + 1
    else:  # districts on schools alone: every school in a district with exactly one lead
        assert schools["district_id"].notna().all()
        leads = schools.groupby("district_id")["is_lead"].sum()
        assert (leads == 1).all()
    return summary


def test_every_job_but_the_bad_one_writes_a_checked_plan(batch_run):
    jobs, out, table, _ = batch_run
    assert len(table) == 20
    ok = table.drop(index="bad-input")
    assert (ok["status"] == "done").all(), ok[["status", "error"]]
    for name in ok.index:
        if name == "frontier":
            continue
        summary = _check_folder(out / name)
        key = "objective_child_m" if "solve" in summary else None
        if key:
            assert table.loc[name, "objective"] == pytest.approx(summary["solve"][key])
            assert table.loc[name, "children_moved"] == pytest.approx(summary["totals"]["children_moved"])
            assert table.loc[name, "seats_over"] == 0
    for label in [p.name for p in (out / "frontier").iterdir() if p.is_dir()]:
        _check_folder_without_marker(out / "frontier" / label)
    assert (out / "batch.csv").exists() and (out / "batch.md").exists()
    assert "| p-00 | partition | done |" in (out / "batch.md").read_text(encoding="utf-8")


def _check_folder_without_marker(folder):
    layers, summary = read_plan_folder(folder)
    assert summary["totals"]["schools_over_capacity"] == 0
    assert layers["blocks"]["school_id"].isin(layers["schools"]["school_id"]).all()


def test_the_bad_job_fails_in_the_planners_words_and_stops_nothing(batch_run):
    _, out, table, _ = batch_run
    row = table.loc["bad-input"]
    assert row["status"] == "failed"
    assert (
        'row 3, column "students_k4"' in row["error"] and "约120" in row["error"] and "Fix:" in row["error"]
    )
    assert not (out / "bad-input").exists()
    assert not row["folder"]  # no folder named that does not exist
    assert "row 3" in (out / "batch.md").read_text(encoding="utf-8")


def test_a_killed_worker_is_retried_and_leaves_no_partial_output(batch_run):
    _, out, table, killed = batch_run
    assert len(killed) == 1  # its worker process was killed mid-job …
    assert table.loc[KILLED, "status"] == "done"  # … and the job ran again to the end
    _check_folder(out / KILLED)
    assert _staging_leftovers(out) == []


def test_the_scenario_runs_on_the_plan_of_the_job_it_names(batch_run):
    _, out, table, _ = batch_run
    text = (out / "close-dyer" / "scenario.md").read_text(encoding="utf-8")
    assert os.fspath(out / "p-00") in text
    layers, _ = read_plan_folder(out / "close-dyer")
    assert "Dyer" not in set(layers["blocks"]["school_id"])


def test_resume_skips_the_complete_jobs(batch_run, client):
    jobs, out, first, _ = batch_run
    stamps = {n: (out / n / MARKER).stat().st_mtime_ns for n in first.index if n != "bad-input"}
    again = zoning.run_batch(jobs, out, client=client, resume=True).set_index("job")
    assert (again.drop(index="bad-input")["status"] == "skipped").all()
    assert again.loc["bad-input", "status"] == "failed"  # run again, and fails again
    assert {n: (out / n / MARKER).stat().st_mtime_ns for n in stamps} == stamps  # untouched
    np.testing.assert_allclose(
        again.drop(index="bad-input")["objective"].astype(float),
        first.drop(index="bad-input")["objective"].astype(float),
    )
    with pytest.raises(zoning.InputError, match="exist already"):  # without --resume: refused, nothing runs
        zoning.run_batch(jobs, out, client=client)


def test_a_bad_jobs_file_names_line_key_and_the_nearest_flag(tmp_path):
    path = tmp_path / "jobs.toml"
    path.write_text(
        "[defaults]\ntime-limt = 20\n\n"
        '[[job]]\nname = "a"\ncommand = "partition"\nblocks = "b.csv"\nschools = "s.csv"\nmax-distanse = 2500\n\n'
        '[[job]]\nname = "b"\ncommand = "partiton"\n\n'
        '[[job]]\nname = "c"\ncommand = "scenario"\nbase-dir = "job:aa"\nscenario-file = "x.toml"\n',
        encoding="utf-8",
    )
    with pytest.raises(zoning.InputError) as err:
        zoning.run_batch(path, tmp_path / "out")
    text = str(err.value)
    assert 'line 2, column "time-limt"' in text and 'did you mean "time-limit"' in text
    assert 'line 9, column "max-distanse"' in text and 'did you mean "max-distance"' in text
    assert 'line 13, column "command"' in text and 'did you mean "partition"' in text
    assert '"job:aa", which is not a job above it' in text and 'did you mean "a"' in text
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_bad_values_are_caught_by_the_commands_own_check(tmp_path):
    path = tmp_path / "jobs.toml"
    path.write_text(
        '[[job]]\ncommand = "partition"\nblocks = "b.csv"\nschools = "s.csv"\n\ntime-limit = -5\n'
        "contiguity = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(zoning.InputError) as err:
        zoning.run_batch(path, tmp_path / "out")
    text = str(err.value)
    assert 'line 7, column "contiguity"' in text and "true or false" in text
    path.write_text(
        '[[job]]\ncommand = "partition"\nblocks = "b.csv"\nschools = "s.csv"\ntime-limit = -5\n',
        encoding="utf-8",
    )
    with pytest.raises(zoning.InputError, match=r'line 5, column "time-limit".*-5'):
        zoning.run_batch(path, tmp_path / "out")


def test_the_jobs_take_exactly_the_commands_flags():
    specs = command_specs()
    partition = specs["partition"]
    assert [p.key for p in partition.params[:2]] == ["blocks", "schools"]
    assert partition.get("contiguity").off == "--no-contiguity"
    assert partition.get("together").kind == "multiple"
    assert specs["scenario"].get("base-dir").path and specs["site"].get("candidates").kind == "argument"
    assert check_command("partition", ["b.csv", "s.csv", "--gap", "2"])[0] == "gap"
    assert check_command("partition", ["b.csv", "s.csv"]) is None


def test_the_command_line(client, tmp_path):
    _bad_blocks(tmp_path)
    (tmp_path / "jobs.toml").write_text(
        '[defaults]\ntime-limit = 1\nstudents-col = "students_k4"\n'
        'current-school-col = "current_school_plurality"\n\n'
        f'[[job]]\nname = "ok"\ncommand = "partition"\nblocks = "{DEMO / "blocks.geojson"}"\n'
        f'schools = "{DEMO / "schools.geojson"}"\n\n'
        f'[[job]]\nname = "bad"\ncommand = "partition"\nblocks = "bad_blocks.csv"\nschools = "{DEMO / "schools.geojson"}"\n',
        encoding="utf-8",
    )
    address = client.scheduler.address  # the same code on an existing cluster (--scheduler)
    args = ["batch", str(tmp_path / "jobs.toml"), "--out", str(tmp_path / "out"), "--scheduler", address]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # a job failed: the batch says so
    assert "2 jobs in" in result.stdout and "1 done" in result.stdout and "1 failed" in result.stdout
    assert "progress: [2/2 jobs, 1 failed" in result.stderr  # plain lines: not a terminal
    assert "bad failed: 1 problem found" in result.stderr and "Traceback" not in result.output
    _check_folder(tmp_path / "out" / "ok")
    quiet = CliRunner().invoke(main, ["-q", *args, "--resume"])
    assert quiet.exit_code == 1 and "progress" not in quiet.stderr and "warning" not in quiet.stderr
    assert "1 skipped" in quiet.stdout
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "exist already" in again.stderr and "pass --resume" in again.stderr
    stamp = (tmp_path / "out" / "ok" / MARKER).stat().st_mtime_ns
    replaced = CliRunner().invoke(main, ["-q", *args, "--overwrite"])  # the folder is run again in place
    assert replaced.exit_code == 1 and "1 done, 1 failed" in replaced.stdout
    assert (tmp_path / "out" / "ok" / MARKER).stat().st_mtime_ns > stamp
    _check_folder(tmp_path / "out" / "ok")


def test_without_dask_the_message_says_what_to_install(monkeypatch):
    from zoning.batch import run

    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(zoning.ZoningError, match=r"pip install 'zoning\[batch\]'"):
        run._dask()


def test_frontier_points_run_on_the_same_engine(client, portland):
    # issue 16: frontier points (and scenario sweeps) use the Dask workers when they are there
    from zoning.scenarios.frontier import frontier

    blocks, schools = portland
    options = zoning.SolveOptions(time_limit_s=6)
    points = frontier(
        blocks, schools, penalties_m=(0.0, 100_000.0), caps=(100.0,), options=options, client=client
    )
    assert [pt.label for pt in points] == list("ABC"[: len(points)]) and len(points) >= 2
    for pt in points:
        assert not zoning.plan_violations(pt.plan)  # checked here, after the trip back from the worker
    capped = [pt for pt in points if pt.max_moved == 100.0]
    assert all(pt.children_moved <= 100.0 + 1e-6 for pt in capped)


def test_a_site_job_and_a_database_url_are_read_as_the_command_line_has_them(tmp_path):
    # a sweep: `site`'s CANDIDATES file and its --candidates N shared the key "candidates" (the file went to
    # --candidates: "not a valid integer range"), and a postgresql:// input was joined to the jobs file's
    # folder ("…/batch/postgresql:/…: unknown file type")
    from zoning.batch.jobs import parse_jobs
    from zoning.cli.batch import check_command, command_specs

    url = "postgresql://planner@db/edu?table=public.blocks"
    text = "\n".join([
        "[[job]]", 'name = "site1"', 'command = "site"', f'blocks = "{DEMO / "blocks.geojson"}"',
        f'schools = "{DEMO / "schools.geojson"}"', 'candidates = "cands.geojson"', "candidates-per-block = 5",
        "new = 1", "",
        "[[job]]", 'name = "db"', 'command = "partition"', f'blocks = "{url}"', 'schools = "s.csv"', "",
    ])  # fmt: skip
    jobs = parse_jobs(text, commands=command_specs(), base_dir=tmp_path, check=check_command)
    site, db = jobs.jobs
    argv = site.command_line(tmp_path)
    assert str(tmp_path / "cands.geojson") in argv and argv[argv.index("--candidates") + 1] == "5"
    assert url in db.command_line(tmp_path) and str(tmp_path / "s.csv") in db.command_line(tmp_path)


def test_every_jobs_warnings_reach_the_planner(client, tmp_path):
    # a user's sweep: a frontier job that left out a cap no plan reaches said so only in the worker; nothing in batch.csv or the job's folder had it.  Now: a count and the first one in batch.csv,
    # the whole log in the job's folder (job.log), and a line at the end naming the jobs that had any.
    _bad_blocks(tmp_path)
    blocks, schools = DEMO / "blocks.geojson", DEMO / "schools.geojson"
    (tmp_path / "jobs.toml").write_text("\n".join([
        '[defaults]', 'students-col = "students_k4"', 'current-school-col = "current_school_plurality"', "",
        "[[job]]", 'name = "portland"', 'command = "partition"', f'blocks = "{blocks}"', f'schools = "{schools}"',
        "time-limit = 1", "",
        "[[job]]", 'name = "front"', 'command = "frontier"', f'blocks = "{blocks}"', f'schools = "{schools}"',
        'penalties = "0"', 'caps = "10"', "soft-seats = false", "time-limit = 2", "",
        "[[job]]", 'name = "bad"', 'command = "partition"', 'blocks = "bad_blocks.csv"', f'schools = "{schools}"', "",
    ]), encoding="utf-8")  # fmt: skip
    out = tmp_path / "out"
    args = ["batch", str(tmp_path / "jobs.toml"), "--out", str(out), "--scheduler", client.scheduler.address]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # "bad" failed
    table = pd.read_csv(out / "batch.csv", encoding="utf-8-sig").set_index("job")
    assert list(table.columns[-2:]) == ["warnings", "first_warning"]
    for name in ("portland", "front"):
        log = (out / name / LOG).read_text(encoding="utf-8")
        assert log.startswith(f"$ zoning {table.loc[name, 'command']} ") and f"--out {out / name}" in log
        assert ".zoning-" not in log  # the job's folder, not the staging folder it was written in
        warned = [line[len("warning: ") :] for line in log.splitlines() if line.startswith("warning: ")]
        assert table.loc[name, "warnings"] == len(warned) == len(set(warned)) > 0  # each once
        assert warned[0].startswith(table.loc[name, "first_warning"].rstrip("…"))
    front = (out / "front" / LOG).read_text(encoding="utf-8")
    assert "at most 10 children moved: left out" in front  # the warning the sweep lost
    assert "frontier: penalty 0 m" in front and "# 备选方案 alternatives" in front  # the log and the output
    assert table.loc["bad", "warnings"] == 0 and table.loc["bad", "status"] == "failed"
    ends = [line for line in result.stderr.splitlines() if "jobs had warnings" in line]
    assert len(ends) == 1 and ends[0].startswith("warning: 2 of 3 jobs had warnings: ")
    assert f"portland ({table.loc['portland', 'warnings']})" in ends[0] and "front (" in ends[0]
    assert "bad (" not in ends[0] and LOG in ends[0]
    assert "| warnings |" in (out / "batch.md").read_text(encoding="utf-8")
    # --resume: the finished jobs keep their warnings (from their marker); -q prints none of it
    again = CliRunner().invoke(main, [*args, "--resume"])
    resumed = pd.read_csv(out / "batch.csv", encoding="utf-8-sig").set_index("job")
    assert resumed.loc["front", "status"] == "skipped"
    assert resumed.loc["front", "warnings"] == table.loc["front", "warnings"]
    assert "2 of 3 jobs had warnings" in again.stderr
    quiet = CliRunner().invoke(main, ["-q", *args, "--resume"])
    assert not [line for line in quiet.stderr.splitlines() if line.startswith("warning: ")]


def _batch_in_a_terminal(args: list[str]) -> subprocess.Popen:
    """``zoning batch ARGS`` in a process group of its own, as a terminal starts a command (Ctrl-C there
    sends SIGINT to the whole group: the batch and its Dask worker processes)."""
    code = "import sys; from zoning.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, "batch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def test_ctrl_c_ends_the_batch_cleanly_and_resume_runs_the_rest(tmp_path):
    # a user's sweep: Ctrl-C printed two Dask worker tracebacks and wrote no batch.csv for the jobs that had
    # finished.  One worker here, so the jobs run one after another: Ctrl-C once the first has its folder.
    from zoning.batch.jobs import read_jobs
    from zoning.batch.run import _plan

    blocks, schools = DEMO / "blocks.geojson", DEMO / "schools.geojson"
    lines = ['[defaults]', 'students-col = "students_k4"', 'current-school-col = "current_school_plurality"',
             f'blocks = "{blocks}"', f'schools = "{schools}"', "time-limit = 60", ""]  # fmt: skip
    for k, penalty in enumerate((0, 200, 300)):
        lines += ["[[job]]", f'name = "j{k}"', 'command = "partition"', f"move-penalty = {penalty}"]
        lines += ["time-limit = 1", ""] if k == 0 else [""]
    (tmp_path / "jobs.toml").write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out"
    proc = _batch_in_a_terminal([str(tmp_path / "jobs.toml"), "--out", str(out), "--workers", "1"])
    try:
        deadline = time.monotonic() + 240  # generous: a loaded machine starts Dask slowly
        while not (out / "j0" / MARKER).exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the first job did not finish"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    text = stdout + stderr
    assert "Traceback" not in text and "KeyboardInterrupt" not in text and "distributed." not in text, text
    assert "Aborted" not in text
    said = [line for line in stderr.splitlines() if line.startswith("Stopped (Ctrl-C)")]
    assert len(said) == 1, stderr
    table = pd.read_csv(out / "batch.csv", encoding="utf-8-sig").set_index("job")
    done = sorted(table.index[table["status"] == "done"])
    stopped = sorted(table.index[table["status"] == "interrupted"])
    assert "j0" in done and "j2" in stopped and sorted(done + stopped) == ["j0", "j1", "j2"]
    assert said[0].startswith(f"Stopped (Ctrl-C): {len(done)} of 3 jobs finished")
    assert said[0].endswith(f"zoning batch {tmp_path / 'jobs.toml'} --out {out} --resume")
    for name in done:
        _check_folder(out / name)
    # what --resume will do: skip the jobs batch.csv says finished, run those it says were interrupted
    jobs = read_jobs(tmp_path / "jobs.toml", commands=command_specs(), check=check_command)
    skipped, todo, _ = _plan(jobs, out, resume=True, overwrite=False)
    assert sorted(skipped) == done and sorted(j.name for j in todo) == stopped


def test_frontier_on_workers_prints_their_warnings_once_prefixed_and_not_with_q(tmp_path):
    # the sweep: `zoning frontier --parallel` printed the islands warning of South Portland bare (no
    # "warning:"), once per run on a worker, and even with -q (the workers had no handler of the command's)
    code = "import sys; from zoning.cli import main; sys.exit(main())"
    args = ["frontier", str(DEMO / "blocks.geojson"), str(DEMO / "schools.geojson"), "--students-col",
            "students_k4", "--current-school-col", "current_school_plurality", "--penalties", "0,500",
            "--time-limit", "2", "--parallel", "2"]  # fmt: skip
    for flags, out in (([], "loud"), (["-q"], "quiet")):
        done = subprocess.run([sys.executable, "-c", code, *flags, *args, "--out", str(tmp_path / out)],
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines = [line for line in done.stderr.splitlines() if "cut off from the rest" in line]
        if flags:
            assert lines == []
        else:
            assert len(lines) == 2 and all(line.startswith("warning: ") for line in lines), lines
