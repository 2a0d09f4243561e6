"""`zoning site` and `zoning frontier` as a planner meets them: labels past Z, candidate files with their own
headers and coordinates, messages in the command's words, and Ctrl-C keeping the work done."""

from __future__ import annotations

import geopandas as gpd
import pytest

from conftest import DEMO_ARGS
from test_cli import run
from zoning import SolveOptions
from zoning.errors import NoPlanFoundError
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


def _candidates(blocks, rows=(10, 120, 250), seats=200):
    points = blocks.geometry.representative_point().iloc[list(rows)]
    return gpd.GeoDataFrame(
        {"school_id": [f"C{k}" for k in range(len(points))], "name": [f"候选{k}" for k in range(len(points))],
         "capacity": [float(seats)] * len(points)},
        geometry=points.to_numpy(), crs=blocks.crs,
    )  # fmt: skip


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
