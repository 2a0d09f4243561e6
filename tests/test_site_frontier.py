"""`zoning site` and `zoning frontier` as a planner meets them: labels past Z, candidate files with their own
headers and coordinates, messages in the command's words, and Ctrl-C keeping the work done."""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import zoning
from conftest import DEMO_ARGS
from test_cli import run
from test_scenarios import _candidates
from zoning import SolveOptions
from zoning.errors import NoPlanFoundError
from zoning.io.crs import wgs84_to_gcj02
from zoning.scenarios import frontier as frontier_module
from zoning.scenarios.frontier import FrontierPoint, frontier, frontier_label

# ---------------------------------------------------------------------------------------------------------
# labels past Z


def test_labels_go_on_past_z_as_spreadsheet_columns_do():
    assert [frontier_label(k) for k in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip


def test_a_frontier_of_30_alternatives_is_labelled_a_to_ad(portland, monkeypatch):
    # the 27th alternative was labelled "[" and the 28th "\\" (chr past "Z")
    blocks, schools = portland

    def fake_run(blocks, schools, kind, value, soft_seats, options, rules):  # 30 points none beats
        return FrontierPoint(label="", move_penalty_m=value, plan=None, children_moved=value,
                             mean_distance_m=1_000 - value, children_over=0.0)  # fmt: skip

    monkeypatch.setattr(frontier_module, "_run", fake_run)
    points = frontier(blocks, schools, penalties_m=tuple(float(x) for x in range(30)))
    labels = [pt.label for pt in points]
    assert labels[:3] == ["A", "B", "C"] and labels[25:] == ["Z", "AA", "AB", "AC", "AD"]


def test_the_frontier_command_guards_the_folders_past_z_before_any_work(tmp_path):
    # only 26 folder names were checked: an alternative AA of an earlier run was not protected
    out = tmp_path / "alt"
    (out / "AA").mkdir(parents=True)
    (out / "AA" / "plan.csv").write_text("block_id,school_id\n", encoding="utf-8")
    penalties = ",".join(str(50 * k) for k in range(27))
    result = run("frontier", *DEMO_ARGS, "--out", out, "--penalties", penalties, "--time-limit", 27)
    assert result.exit_code == 1, result.output
    assert "AA" in result.output and "--overwrite" in result.output
    assert not (out / "A").exists()  # refused before any work


# ---------------------------------------------------------------------------------------------------------
# the "no siting plan" message in the caller's words


@pytest.fixture
def no_plan_ever(monkeypatch):
    """Every plan the siting search makes is turned down, as when the time runs out before the first."""
    from zoning.scenarios import siting_start

    monkeypatch.setattr(siting_start.Incumbent, "offer", lambda self, *a, **k: False)


def test_no_siting_plan_names_the_argument_in_python(portland, no_plan_ever):
    from zoning.scenarios.sites import site_schools

    blocks, schools = portland
    with pytest.raises(NoPlanFoundError, match=r"allow more time \(options=SolveOptions\(time_limit_s=…\)\)"):
        site_schools(
            blocks, _candidates(blocks), new=1, schools=schools, options=SolveOptions(time_limit_s=2)
        )


def test_no_siting_plan_names_the_flag_in_the_command(tmp_path, no_plan_ever):
    # it said "allow more time (time_limit_s)", a name the command does not have
    path = tmp_path / "cand.geojson"
    _candidates(gpd.read_file(DEMO_ARGS[0])).to_file(path)
    result = run("site", DEMO_ARGS[0], DEMO_ARGS[1], path, "--new", 1, *DEMO_ARGS[2:], "--out", tmp_path / "out",
                 "--time-limit", 4, "--workers", 1)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "No siting plan found in 2 s" in result.output and "time_limit_s" not in result.output
    assert (
        "allow more time (--time-limit: the siting has half of it, the zones the other half)" in result.output
    )


# ---------------------------------------------------------------------------------------------------------
# candidate sites: their own headers and coordinates


@pytest.fixture(scope="module")
def shenzhen_grid(tmp_path_factory):
    """A 100-block grid city in Shenzhen (blocks and schools in WGS84, files) and three candidate sites
    (WGS84 points) at blocks far apart."""
    from cities import City, make_city

    blocks, schools = make_city(City(n_blocks=100, n_schools=4, slack=0.05, seed=1))
    folder = tmp_path_factory.mktemp("shenzhen")
    blocks.to_file(folder / "blocks.gpkg")
    schools.to_file(folder / "schools.gpkg")
    points = blocks.geometry.representative_point().iloc[[11, 55, 88]].reset_index(drop=True)
    return folder, blocks, schools, points


def _site_table(points, headers=("site_id", "name", "capacity", "lon", "lat"), coords="wgs84"):
    lon, lat = points.x.to_numpy(), points.y.to_numpy()
    if coords == "gcj02":
        lon, lat = wgs84_to_gcj02(lon, lat)
    values = (["P-01", "P-02", "P-03"], ["东地块", "中地块", "西地块"], [400.0] * 3, lon, lat)
    return pd.DataFrame(dict(zip(headers, values, strict=True)))


def test_read_sites_recognises_site_headers_and_takes_their_own_coordinates(shenzhen_grid, tmp_path):
    folder, _blocks, _schools, points = shenzhen_grid
    path = tmp_path / "候选点.csv"
    _site_table(points, ("候选点编号", "候选点名称", "规划学位", "经度", "纬度"), coords="gcj02").to_csv(
        path, index=False, encoding="utf-8-sig"
    )
    sites = zoning.read_sites(path, coords="gcj02")
    assert sites["school_id"].tolist() == ["P-01", "P-02", "P-03"]  # not the names
    assert sites["name"].tolist() == ["东地块", "中地块", "西地块"] and (sites["capacity"] == 400).all()
    assert np.allclose(sites.geometry.x, points.x, atol=1e-7) and np.allclose(
        sites.geometry.y, points.y, atol=1e-7
    )


def _site_run(folder, candidates, out, *flags):
    return run("site", folder / "blocks.gpkg", folder / "schools.gpkg", candidates, "--new", 1, "--out", out,
               "--time-limit", 6, "--workers", 1, *flags)  # fmt: skip


def test_the_site_command_reads_gcj02_candidates_beside_wgs84_schools(shenzhen_grid, tmp_path):
    # candidates read off 高德 could only be read in the schools' coordinates (--schools-coords / --coords)
    folder, _blocks, _schools, points = shenzhen_grid
    path = tmp_path / "cand.csv"
    _site_table(points, coords="gcj02").to_csv(path, index=False)
    result = _site_run(folder, path, tmp_path / "out", "--sites-coords", "gcj02")
    assert result.exit_code == 0, result.output
    chosen = pd.read_csv(tmp_path / "out" / "sites.csv", encoding="utf-8-sig").iloc[0]
    k = ["P-01", "P-02", "P-03"].index(chosen["school_id"])  # the site_id header read as the id
    assert abs(chosen["lon"] - points.x.iloc[k]) < 2e-6 and abs(chosen["lat"] - points.y.iloc[k]) < 2e-6


def test_the_site_command_names_candidate_columns_with_its_own_flags(shenzhen_grid, tmp_path):
    folder, _blocks, _schools, points = shenzhen_grid
    path = tmp_path / "cand.csv"
    _site_table(points, ("地块号", "地块", "规划学位数量", "X坐标", "Y坐标")).to_csv(path, index=False)
    result = _site_run(folder, path, tmp_path / "bad", "--site-lon-col", "X坐标", "--site-lat-col", "Y坐标")
    assert result.exit_code == 1
    assert '--site-capacity-col "规划学位数量"' in result.output, result.output  # not --capacity-col
    result = _site_run(folder, path, tmp_path / "out", "--site-id-col", "地块号", "--site-name-col", "地块",
                       "--site-capacity-col", "规划学位数量", "--site-lon-col", "X坐标", "--site-lat-col", "Y坐标")  # fmt: skip
    assert result.exit_code == 0, result.output
    chosen = pd.read_csv(tmp_path / "out" / "sites.csv", encoding="utf-8-sig")
    assert chosen["school_id"].iloc[0] in {"P-01", "P-02", "P-03"} and chosen["capacity"].iloc[0] == 400


# ---------------------------------------------------------------------------------------------------------
# Ctrl-C keeps the work done


def _ctrl_c_when(args: list[str], ready: str) -> tuple[str, int]:
    """Run ``zoning ARGS``, send it Ctrl-C (SIGINT) once a line holding ``ready`` is out, and check it ends
    soon: (its whole output, its exit code)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from zoning.cli import main; main()", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []
    try:
        while not (seen and ready in seen[-1]):
            seen.append(proc.stdout.readline())
            assert seen[-1] or proc.poll() is None, "the command ended before it was ready:\n" + "".join(seen)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        rest, _ = proc.communicate(timeout=120)
        assert time.monotonic() - t0 < 60, "it ran on after Ctrl-C"  # not its 300 s
    finally:
        if proc.poll() is None:
            proc.kill()
    return "".join(seen) + rest, proc.returncode


def test_ctrl_c_stops_the_siting_and_writes_the_best_sites_so_far(tmp_path):
    # Ctrl-C printed "Aborted!" and wrote nothing: the siting only watched the clock
    from cities import City, make_city

    blocks, schools = make_city(City(shape="voronoi", n_blocks=900, n_schools=20, slack=-0.15, seed=3))
    need = blocks["students"].sum() - schools["capacity"].sum()
    points = blocks.geometry.representative_point().sample(30, random_state=1)
    candidates = gpd.GeoDataFrame({"site_id": [f"C{k}" for k in range(30)], "capacity": np.ceil(need / 90) * 45},
                                  geometry=points.to_numpy(), crs=blocks.crs)  # fmt: skip
    for name, frame in (("b", blocks), ("s", schools), ("c", candidates)):
        frame.to_file(tmp_path / f"{name}.gpkg")
    out = tmp_path / "out"
    text, code = _ctrl_c_when(
        ["-v", "site", *(str(tmp_path / f"{n}.gpkg") for n in "bsc"), "--new", "3", "--out", str(out),
         "--time-limit", "300"],
        ready="siting plan",
    )  # fmt: skip
    assert code == 0, text
    assert "Sites: 3 of 30 candidates open" in text
    assert re.search(r"gap [\d.]+ % \(stopped early \(Ctrl-C\), the best siting plan so far", text), text
    assert "Plan: stopped early (Ctrl-C)" in text
    assert len(pd.read_csv(out / "sites.csv", encoding="utf-8-sig")) == 3
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["solve"]["stopped_early"] is True


def test_ctrl_c_ends_the_frontier_with_the_alternatives_drawn_so_far(tmp_path):
    # Ctrl-C printed "Aborted!" and wrote nothing, the runs already solved lost with it
    out = tmp_path / "alt"
    text, code = _ctrl_c_when(
        ["frontier", *DEMO_ARGS, "--out", str(out), "--workers", "1", "--time-limit", "900",
         "--penalties", "0,100,250,500,1000,2500,100000", "--caps", "200"],
        ready="progress: ",
    )  # fmt: skip
    assert code == 0, text
    said = re.search(r"Stopped early \(Ctrl-C\): (\d) of 8 runs not run: (.*)\.", text)
    assert said and int(said[1]) >= 1 and "at most 200 children moved" in said[2], text  # the cap runs last
    table = pd.read_csv(out / "frontier.csv", encoding="utf-8-sig")
    assert 1 <= len(table) <= 8 - int(said[1])
    for label in table["alternative"]:
        assert (out / label / "plan.gpkg").exists() and (out / label / "summary.json").exists()
    assert f"not run: {said[2]}" in (out / "frontier.md").read_text(encoding="utf-8")


def test_ctrl_c_cancels_the_frontier_runs_on_workers_not_finished():
    # with --parallel the stop does not travel to the workers: every run went on to its end after Ctrl-C;
    # now the runs not finished are cancelled and named, those finished kept
    import threading

    from zoning.scenarios.frontier import _gather, _NotRun

    class Future:
        def __init__(self, value, done):
            self.value, self.finished = value, done

        def done(self):
            return self.finished

        def result(self):
            return self.value, ((logging.WARNING, f"ran {self.value}"),)

    class Client:
        def __init__(self):
            self.cancelled = []

        def cancel(self, futures):
            self.cancelled.extend(futures)

    stop = threading.Event()
    futures = [Future("A", True), Future("B", False), Future("C", False)]
    runs = [("penalty", 0.0), ("penalty", 500.0), ("cap", 90.0)]
    client = Client()
    threading.Timer(0.3, stop.set).start()
    found = _gather(client, futures, runs, SolveOptions(stop=stop))
    assert found[0] == "A" and [x.what for x in found[1:]] == [
        "move penalty 500 m",
        "at most 90 children moved",
    ]
    assert all(isinstance(x, _NotRun) for x in found[1:]) and client.cancelled == futures[1:]
    # without a stop, every result is waited for, in the order of the runs
    futures[1].finished = futures[2].finished = True
    assert _gather(Client(), futures, runs, SolveOptions()) == ["A", "B", "C"]


def test_the_logger_caught_by_two_threads_at_once_is_put_back_as_it_was():
    # two runs of a frontier on one multi-threaded Dask worker: the first swapped the logger's handlers for its
    # own, the second saved those and swapped again; the first, ending, put back the original ones while the
    # second ran (its records then went to the terminal), and the second, ending, left the first's dead
    # handler installed for good
    import logging
    import threading

    from zoning.logs import logged_to

    logger = logging.getLogger("zoning")
    before = (list(logger.handlers), logger.propagate, logger.level)
    kept = {"a": [], "b": []}

    class Keep(logging.Handler):
        def __init__(self, name):  # (made in its thread: it keeps that thread's records, as the frontier's)
            super().__init__(logging.INFO)
            self.key, self.ident = name, threading.get_ident()

        def emit(self, record):
            if record.thread == self.ident:
                kept[self.key].append(record.getMessage())

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with logged_to(Keep("a")):
            a_in.set()
            b_in.wait(5)
            logging.getLogger("zoning.test").info("a's record")
        a_out.set()

    def second():
        a_in.wait(5)
        with logged_to(Keep("b")):
            b_in.set()
            a_out.wait(5)
            logging.getLogger("zoning.test").info("b's record, after a let go")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert kept == {"a": ["a's record"], "b": ["b's record, after a let go"]}
    assert (list(logger.handlers), logger.propagate, logger.level) == before
