"""``zoning partition`` end to end on generated cities that no other benchmark makes, and the time limit.

The cities come from ``tests/cities.py`` (the property tests' generator, not ``city.py``'s or
``end_to_end.py``'s): Voronoi cells, grids and points, clean and dirty, written as GeoPackage or CSV as a
bureau would hand them over.  Each runs through the CLI with partition's default rules (one piece per zone,
hard seats) unless the row says otherwise.  The table shows, per run, the stages outside the limit (reading
and validating the files; writing the outputs, map included), the zoning step that ``--time-limit`` bounds
(block graph, candidates, search, plan tables and check: from "using metric CRS" to "writing outputs"), how
far that step went over the limit, the wall time, and how the run ended.

The first row is the city of issue 13: 50,000 Voronoi blocks, 1,500 schools, about 1.05 million children,
15 % spare seats, GeoPackage, one school 13 m outside every block — ``zoning partition`` stopped after 5 s
with an internal error (``ValueError: zero-size array``) before the fix.

    python benchmarks/robustness.py            # every row (about 6 minutes on 2 cores)
    python benchmarks/robustness.py --quick    # the small rows only
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import shapely
import shapely.ops

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from end_to_end import run_cli, stage_times  # noqa: E402

from cities import METRIC, City, make_city  # noqa: E402

#: (label, city, file format, time limit, extra CLI flags)
CASES = [
    (
        "Voronoi 50,000 x 1,500, 15 %, school 13 m outside (issue 13)",
        City(shape="voronoi", n_blocks=50_000, n_schools=1_500, slack=0.15, demand="clustered", seed=13),
        "gpkg",
        60,
        [],
    ),
    (
        "Voronoi 50,000 x 1,500, 15 %, seats anywhere",
        City(
            shape="voronoi",
            n_blocks=50_000,
            n_schools=1_500,
            slack=0.15,
            demand="clustered",
            seed=13,
            dirt=("seats_anywhere",),
        ),
        "gpkg",
        60,
        [],
    ),
    (
        "grid 20,000 x 600, 5 %",
        City(shape="grid", n_blocks=20_000, n_schools=600, slack=0.05, demand="uniform", seed=5),
        "gpkg",
        30,
        [],
    ),
    (
        "points 10,000 x 300, 15 %, overload, penalty 0 (CSV)",
        City(shape="points", n_blocks=10_000, n_schools=300, slack=0.15, demand="clustered", seed=7),
        "csv",
        20,
        ["--allow-overload", "--move-penalty", "0"],
    ),
    (
        "Voronoi 5,000 x 150, 5 %, dirty",
        City(
            shape="voronoi",
            n_blocks=5_000,
            n_schools=150,
            slack=0.05,
            demand="clustered",
            seed=3,
            dirt=("schools_in_one_block", "zero_seats", "one_seat", "island", "multipolygon", "sliver"),
        ),
        "gpkg",
        20,
        [],
    ),
    (
        "Voronoi 2,000 x 60, 10 %, --max-moved",
        City(
            shape="voronoi", n_blocks=2_000, n_schools=60, slack=0.10, demand="uniform", seed=9, current=True
        ),
        "gpkg",
        20,
        ["--max-moved", "MOVED"],
    ),
]
QUICK = 4  # --quick runs the rows from this one on

READ = ("start-up, imports", "read blocks (GeoPackage)", "validate blocks", "read schools", "validate schools",
        "cross-file checks")  # fmt: skip
WRITE = ("map (build HTML)", "plan.gpkg", "plan.csv", "summary.json (metrics)", "map.html (write)",
         "report (summary again)", "exit")  # fmt: skip


def write_inputs(folder: Path, label: str, city: City, fmt: str) -> tuple[Path, Path]:
    blocks, schools = make_city(city)
    if label.endswith("(issue 13)"):
        # one school 13 m outside every block, east of the city's middle row
        metric = blocks.to_crs(METRIC)
        minx, miny, maxx, maxy = metric.total_bounds
        edge = shapely.Point(maxx, (miny + maxy) / 2)
        near = metric.geometry.iloc[int(metric.distance(edge).argmin())]
        x, y = shapely.get_coordinates(shapely.ops.nearest_points(near.boundary, edge)[0])[0]
        spot = shapely.Point(x + 13.0, y)
        schools.loc[schools.index[-1], "geometry"] = (
            schools.iloc[[-1]].set_geometry([spot], crs=METRIC).to_crs(4326).geometry.iloc[0]
        )
    if fmt == "csv":
        pts = blocks.geometry.representative_point()
        bp, sp = folder / "blocks.csv", folder / "schools.csv"
        blocks.drop(columns="geometry").assign(lon=pts.x, lat=pts.y).to_csv(bp, index=False)
        schools.drop(columns="geometry").assign(lon=schools.geometry.x, lat=schools.geometry.y).to_csv(
            sp, index=False
        )
        return bp, sp
    bp, sp = folder / "blocks.gpkg", folder / "schools.gpkg"
    blocks.to_file(bp, engine="pyogrio")
    schools.to_file(sp, engine="pyogrio")
    return bp, sp


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = []
    for label, city, fmt, limit, extra in CASES[QUICK if args.quick else 0 :]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            bp, sp = write_inputs(folder, label, city, fmt)
            if "MOVED" in extra:
                # a cap the plan found without one meets: a plan keeping it exists
                run_cli([str(bp), str(sp), "--out", str(folder / "free"), "--time-limit", str(limit)])
                moved = json.loads((folder / "free" / "summary.json").read_text("utf-8"))["totals"][
                    "children_moved"
                ]
                extra = [str(int(np.ceil(moved))) if a == "MOVED" else a for a in extra]
            run = run_cli(
                [str(bp), str(sp), "--out", str(folder / "out"), "--time-limit", str(limit), *extra]
            )
            stages = {name: s for name, _, s in stage_times(run)}
            read = sum(stages.get(k) or 0.0 for k in READ)
            write = sum(stages.get(k) or 0.0 for k in WRITE)
            step = sum(stages.get(k) or 0.0 for k in stages if k not in READ and k not in WRITE)
            said = [line for _, line in run.lines if line.startswith(("error:", "- ", "No plan"))]
            end = f"no plan (exit {run.returncode}): {' '.join(said)[:160]}"
            if run.returncode == 0:
                summary = json.loads((run.out_dir / "summary.json").read_text("utf-8"))
                solve = summary["solve"]
                end = f"{solve['status']}, gap {100 * solve['gap']:.2f} %, {summary['totals']['zones_not_contiguous']} in pieces"
            rows.append((label, limit, read, step, step - limit, write, run.seconds, run.peak_mb / 1024, end))
            print(rows[-1], flush=True)
    print()
    print(
        "| city | limit | read + validate | zoning step | over the limit | write + map | wall | peak | result |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, limit, read, step, over, write, wall, peak, end in rows:
        print(f"| {label} | {limit} s | {read:.1f} s | {step:.1f} s | {over:+.1f} s | {write:.1f} s | {wall:.1f} s "
              f"| {peak:.1f} GB | {end} |")  # fmt: skip
    worst = max(r[4] for r in rows)
    print(f"\nworst zoning step over its limit: {worst:+.2f} s")


if __name__ == "__main__":
    main()
