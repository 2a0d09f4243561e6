"""Faults: a process killed while writing, a full disk, a read-only folder, and the same plan twice."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import DEMO_ARGS as DEMO_PARTITION
from zoning.cli import main
from zoning.errors import InputError
from zoning.io import save
from zoning.io.save import text_writer, write_files

DEMO_ARGS = [*DEMO_PARTITION, "--workers", "1"]
OUTPUTS = ("plan.gpkg", "plan.csv", "summary.json", "map.html")


def _visible(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def test_a_process_killed_while_writing_leaves_the_previous_outputs(tmp_path):
    out = tmp_path / "out"
    write_files(out, {"a.txt": text_writer("old a"), "b.txt": text_writer("old b")}, overwrite=False)
    ready = tmp_path / "ready"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from zoning.io.save import text_writer, write_files

        def slow(path):
            path.write_text("new b, half", encoding="utf-8")
            Path({str(ready)!r}).touch()
            time.sleep(60)

        write_files({str(out)!r}, {{"a.txt": text_writer("new a"), "b.txt": slow}}, overwrite=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # a.txt was already written into the staging folder, but nothing moved: the old pair is intact
    assert (out / "a.txt").read_text(encoding="utf-8") == "old a"
    assert (out / "b.txt").read_text(encoding="utf-8") == "old b"
    assert _visible(out) == {"a.txt", "b.txt"}
    stale = [p for p in out.iterdir() if p.name.startswith(".zoning-")]
    assert stale, "the killed writer's staging folder is where the next write finds it"
    # the next write removes the dead process's staging folder
    write_files(out, {"a.txt": text_writer("a"), "b.txt": text_writer("b")}, overwrite=True)
    assert not [p for p in out.iterdir() if p.name.startswith(".zoning-")]
    assert (out / "b.txt").read_text(encoding="utf-8") == "b"


def _run(args: list[str]) -> subprocess.Popen:
    """`zoning partition ARGS` in a process of its own."""
    code = "import sys; from zoning.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, "partition", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_partition_killed_at_any_moment_leaves_one_whole_set_of_outputs(tmp_path):
    """Kill `zoning partition --overwrite` at several moments of a run: the folder always holds the four
    outputs of one run (the previous or a new one), never a mix, and no temporary file among them."""
    out = tmp_path / "out"
    assert _run([*DEMO_ARGS, "--out", str(out)]).wait(timeout=300) == 0
    old = (out / "plan.csv").read_bytes()
    new_args = [*DEMO_ARGS, "--move-penalty", "0", "--time-limit", "2", "--out", str(out), "--overwrite"]
    started = time.monotonic()
    assert _run(new_args).wait(timeout=300) == 0
    took = time.monotonic() - started
    assert (out / "plan.csv").read_bytes() != old
    assert _run([*DEMO_ARGS, "--out", str(out), "--overwrite"]).wait(timeout=300) == 0
    for share in (0.6, 0.85, 0.95, 0.99):
        proc = _run(new_args)
        time.sleep(share * took)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert _visible(out) == set(OUTPUTS)
        table = pd.read_csv(out / "plan.csv", encoding="utf-8-sig")
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        # the four files of one run: the table's children moved are the summary's, its rules the run's
        moved = table.loc[table["moved"], "students"].sum()
        assert moved == pytest.approx(summary["totals"]["children_moved"], abs=0.01)
        old_run = (out / "plan.csv").read_bytes() == old
        assert summary["rules"]["move_penalty_m"] == (500 if old_run else 0)
        blocks = gpd.read_file(out / "plan.gpkg", layer="blocks")
        assert blocks.set_index("block_id")["school_id"].astype(str).to_dict() == dict(
            zip(table["block_id"].astype(str), table["school_id"].astype(str))
        )


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "read-only disk"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_a_full_disk_or_read_only_folder_is_named_with_a_fix(tmp_path, monkeypatch, code, words):
    def broken(path):
        raise OSError(code, os.strerror(code), str(path))

    with pytest.raises(InputError) as err:
        write_files(tmp_path / "out", {"plan.csv": broken}, overwrite=False)
    text = str(err.value)
    assert "plan.csv" in text and words in text and "Fix" in text
    assert not [p for p in (tmp_path / "out").iterdir()], "nothing is left behind"


def test_cli_on_a_folder_it_cannot_write_says_so(tmp_path, monkeypatch):
    real = save.tempfile.mkdtemp

    def read_only(*args, **kwargs):
        if kwargs.get("dir") and Path(kwargs["dir"]).name == "out":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs["dir"])
        return real(*args, **kwargs)

    monkeypatch.setattr(save.tempfile, "mkdtemp", read_only)
    result = CliRunner().invoke(main, ["partition", *DEMO_ARGS, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "read-only disk" in result.output and "Traceback" not in result.output
    assert "--out" in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_real_read_only_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(InputError, match="permission denied"):
            write_files(out, {"a.txt": text_writer("a")}, overwrite=False)
    finally:
        out.chmod(0o755)


def test_the_same_seed_and_one_worker_give_the_same_outputs(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert _run([*DEMO_ARGS, "--seed", "3", "--out", str(out)]).wait(timeout=300) == 0
        runs.append(out)
    a, b = runs
    assert (a / "plan.csv").read_bytes() == (b / "plan.csv").read_bytes()
    assert (a / "map.html").read_bytes() == (b / "map.html").read_bytes()

    def timeless(path):
        def strip(obj):
            if isinstance(obj, dict):
                return {k: strip(v) for k, v in obj.items() if "seconds" not in k}
            return [strip(v) for v in obj] if isinstance(obj, list) else obj

        return strip(json.loads(path.read_text(encoding="utf-8")))

    assert timeless(a / "summary.json") == timeless(b / "summary.json")
    # a GeoPackage records when it was written (gpkg_contents.last_change); its layers are the same
    for layer in ("blocks", "zones", "schools"):
        la, lb = gpd.read_file(a / "plan.gpkg", layer=layer), gpd.read_file(b / "plan.gpkg", layer=layer)
        assert la.equals(lb)


def _ctrl_c_after_first_plan(args: list[str]) -> tuple[str, str]:
    """Run ``zoning ARGS`` (a time limit of 300 s), Ctrl-C it at its first progress line (a plan keeping every
    rule exists), and check it stops soon with exit code 0: (that line, the rest of its output)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from zoning.cli import main; main()", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    line, seen = "", []
    while not line.startswith("progress: "):
        line = proc.stdout.readline()
        seen.append(line)
        assert line or proc.poll() is None, "the command ended before its first plan:\n" + "".join(seen)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, rest
    assert time.monotonic() - t0 < 60  # it stops, it does not run its 300 s
    return line, rest


def test_ctrl_c_stops_the_search_and_writes_the_best_plan_so_far(tmp_path):
    # issue 16: Ctrl-C during a long solve keeps the work: the best plan so far, its gap, "stopped early"
    sys.path.insert(0, str(Path(__file__).parent))
    from cities import City, make_city

    blocks, schools = make_city(
        City(shape="voronoi", n_blocks=3000, n_schools=90, slack=0.05, seed=3, current=True)
    )
    blocks.to_file(tmp_path / "b.gpkg")
    schools.to_file(tmp_path / "s.gpkg")
    out = tmp_path / "out"
    _line, rest = _ctrl_c_after_first_plan(
        [
            "partition",
            str(tmp_path / "b.gpkg"),
            str(tmp_path / "s.gpkg"),
            "--out",
            str(out),
            "--time-limit",
            "300",
        ]
    )
    assert "Plan: stopped early (Ctrl-C), the best plan so far" in rest
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["solve"]["stopped_early"] is True and 0 <= summary["solve"]["gap"] < 1
    assert _visible(out) == {"plan.gpkg", "plan.csv", "summary.json", "map.html"}


def test_ctrl_c_stops_the_districts_search_and_writes_the_best_grouping_so_far(tmp_path):
    # issue 16: the same for `zoning districts` (Beijing's 829 primary schools into 40 districts)
    from conftest import shared

    raw = gpd.read_file(shared("beijing_primary_schools_keypoint", "schools.geojson"))
    path = tmp_path / "beijing.geojson"
    raw.assign(school_id=[f"bj{i:03d}" for i in range(len(raw))]).to_file(path)
    out = tmp_path / "out"
    line, rest = _ctrl_c_after_first_plan(
        ["districts", str(path), "--districts", "40", "--school-name-col", "name_en", "--quality-col", "key_school",
         "--coords", "gcj02", "--out", str(out), "--time-limit", "300"]
    )  # fmt: skip
    assert "best plan" in line and ("proven within" in line or "no bound yet" in line)
    assert "stopped early (Ctrl-C)" in rest
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["districts"]["solve"]["stopped_early"] is True, summary.keys()


def test_files_are_never_written_into_a_folder_named_after_a_database_url(tmp_path, monkeypatch):
    # `zoning announce postgresql://…?schema=plan` without --out would have made a folder "postgresql:"
    monkeypatch.chdir(tmp_path)
    url = "postgresql://planner@db/edu?schema=plan_2026"
    with pytest.raises(InputError, match="is a URL: this command writes files"):
        write_files(url, {"announce.md": text_writer("# 划片\n")}, overwrite=False)
    with pytest.raises(InputError, match="is a URL"):
        save.prepare_out_dir(url, ["map.html"], overwrite=False)
    assert list(tmp_path.iterdir()) == []
