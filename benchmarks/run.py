"""Attendance-zone benchmark: zoning beside a plain one-shot CP-SAT model, printed as one table.

Instances
- ``portland``: the shipped demo (317 census blocks, 5 schools), move penalty 500 m and 0 m.
- ``grid-N×M``: seeded synthetic cities — square 200 m blocks on a grid, children per block uniform 0–40, M
  schools at random blocks, seats = children × (1 + slack) shared out by each school's nearby demand.

Peer: "plain CP-SAT" — one Boolean per candidate pair (the same k nearest), assign-once and seats, one solve
with the same time limit and threads, *no* contiguity (a plain model cannot state it compactly), no bound of
our own.  Its gap is CP-SAT's own.  zoning rows keep contiguity on (the default of ``zoning partition``).

Run: ``make bench`` (or ``python benchmarks/run.py --time-limit 60``).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from ortools.sat.python import cp_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import zoning  # noqa: E402
from zoning.geo.graph import build_block_graph  # noqa: E402
from zoning.io.crs import to_metric  # noqa: E402
from zoning.zones.problem import build_zone_problem  # noqa: E402


def grid_city(rows: int, cols: int, n_schools: int, slack: float, seed: int):
    rng = np.random.default_rng(seed)
    size = 200.0
    x0, y0 = 400_000.0, 4_830_000.0
    polys = [
        shapely.box(x0 + c * size, y0 + r * size, x0 + (c + 1) * size, y0 + (r + 1) * size)
        for r in range(rows)
        for c in range(cols)
    ]
    students = rng.integers(0, 41, rows * cols).astype(float)
    blocks = gpd.GeoDataFrame(
        {"block_id": [f"b{i}" for i in range(len(polys))], "students": students}, geometry=polys, crs=32619
    )
    cells = rng.choice(len(polys), n_schools, replace=False)
    centres = np.array([[p.centroid.x, p.centroid.y] for p in polys])
    nearest = np.argmin(((centres[:, None, :] - centres[cells][None, :, :]) ** 2).sum(-1), axis=1)
    demand = np.bincount(nearest, weights=students, minlength=n_schools)
    capacity = np.ceil(demand * (1 + slack)) + 1
    schools = gpd.GeoDataFrame(
        {"school_id": [f"S{j}" for j in range(n_schools)], "capacity": capacity},
        geometry=[polys[c].centroid for c in cells],
        crs=32619,
    )
    return blocks, schools


def plain_cpsat(blocks, schools, time_limit: float):
    """The peer: one-shot CP-SAT, Boolean per candidate pair, no contiguity."""
    bm, crs = to_metric(blocks)
    graph, _ = build_block_graph(bm)
    p = build_zone_problem(bm, schools.to_crs(crs), graph, contiguity=False, move_penalty_m=0)
    m = cp_model.CpModel()
    x = [m.new_bool_var("") for _ in range(len(p.arc_block))]
    for i in range(p.n_blocks):
        m.add_exactly_one([x[k] for k in np.flatnonzero(p.arc_block == i)])
    w = p.students[p.arc_block]
    for j in range(p.n_schools):
        ks = np.flatnonzero(p.arc_school == j)
        m.add(sum(int(w[k]) * x[k] for k in ks) <= int(p.capacity[j]))
    m.minimize(sum(int(c) * v for c, v in zip(p.arc_cost, x)))
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = time_limit
    s.parameters.num_workers = 2
    t = time.perf_counter()
    status = s.solve(m)
    dt = time.perf_counter() - t
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return dt, None, None
    obj = s.objective_value / p.scale
    return dt, obj, s.best_objective_bound / p.scale


def run_zoning(blocks, schools, time_limit: float, **rules):
    tracemalloc.start()
    t = time.perf_counter()
    plan = zoning.assign_zones(blocks, schools, options=zoning.SolveOptions(time_limit_s=time_limit), **rules)
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    zoning.check_plan(plan)
    return dt, peak, plan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args()
    portland_b = zoning.read_blocks(
        zoning.datasets.get_path("south_portland_blocks"),
        columns={"students": "students_k4", "current_school": "current_school_plurality"},
    )
    portland_s = zoning.read_schools(zoning.datasets.get_path("south_portland_schools"))
    cases = [
        ("portland, penalty 500 m", portland_b, portland_s, {}),
        ("portland, penalty 0", portland_b, portland_s, {"move_penalty_m": 0}),
        ("grid 30×30 × 12, 15 % slack", *grid_city(30, 30, 12, 0.15, 1), {}),
        ("grid 50×40 × 40, 15 % slack", *grid_city(50, 40, 40, 0.15, 2), {}),
        ("grid 50×40 × 40, 5 % slack", *grid_city(50, 40, 40, 0.05, 3), {}),
    ]
    head = (
        f"{'instance':<30} {'blocks':>6} {'schools':>7} | {'zoning s':>8} {'MB':>6} {'plan':>10} {'bound':>10} "
        f"{'gap %':>6} {'pieces':>6} | {'plain CP-SAT s':>14} {'plan':>10} {'gap %':>6}"
    )
    print(head)
    print("-" * len(head))
    for name, b, s, rules in cases:
        dt, peak, plan = run_zoning(b, s, args.time_limit, **rules)
        pieces = zoning.summary(plan)["totals"]["zones_not_contiguous"]
        if rules.get("move_penalty_m", 500) == 0 or "current_school" not in b:
            pdt, pobj, pbound = plain_cpsat(b, s, args.time_limit)
            peer = (
                f"{pdt:>14.2f} {pobj / 1000:>10.1f} {100 * (pobj - pbound) / pobj:>6.2f}"
                if pobj
                else f"{pdt:>14.2f} {'none':>10} {'-':>6}"
            )
        else:
            peer = f"{'(same model)':>14} {'':>10} {'':>6}"
        i = plan.info
        print(
            f"{name:<30} {len(b):>6} {len(s):>7} | {dt:>8.2f} {peak:>6.0f} {i.objective / 1000:>10.1f} "
            f"{i.lower_bound / 1000:>10.1f} {100 * i.gap:>6.2f} {pieces:>6} | {peer}"
        )
    print(
        "\nplan and bound in child-km; zoning keeps every zone in one piece (pieces = zones not in one piece),"
        " the plain model does not; 2 threads each."
    )


if __name__ == "__main__":
    main()
