"""`zoning site` and `zoning frontier` as a planner meets them: labels past Z, candidate files with their own
headers and coordinates, messages in the command's words, and Ctrl-C keeping the work done."""

from __future__ import annotations

from conftest import DEMO_ARGS
from test_cli import run
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
