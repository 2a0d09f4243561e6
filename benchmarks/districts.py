"""School-district ("1 + X") benchmark: zoning beside a plain one-shot CP-SAT model, printed as one table.

Instances — seeded synthetic cities (``city(n, seed)``): n schools at points uniform in a square of side
1000·√n m (EPSG:32650), seats uniform 300–1500, children = seats × U(0.7, 1.0), quality U(40, 100);
adjacency from the schools' Voronoi cells (``zoning.geo.graph.build_block_graph`` on the schools as point
blocks).  Default tolerances, contiguity on.  100 → 10, 300 → 25 and 1000 → 80 districts.

Targets on 2 cores (the issue): 100 → 10 proven optimal (gap ≤ 0.01 %) within 10 s; 300 → 25 a first plan
within 10 s and a gap ≤ 2 % within 60 s; 1000 → 80 a plan within 30 s, its gap reported.

Peer: "plain CP-SAT" — one Boolean per candidate pair, the same rules (1)–(9) and the a-priori one-piece
inequalities (a member has a neighbour in its district) but no lazy cuts, no start and no hint, one solve
with the same time limit and 2 workers.  Its gap is CP-SAT's own; "pieces" counts districts its plan leaves
in more than one piece (the a-priori inequalities alone do not forbid them).

Every run happens in a fresh process, so the peak memory (maxrss) is that run's own.

Run: ``python benchmarks/districts.py`` (each instance at its target's time limit) or
``python benchmarks/districts.py --time-limit 30`` (the same limit for all).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
from ortools.sat.python import cp_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zoning.districts.problem import QUALITY_SCALE, DistrictProblem, build_district_problem  # noqa: E402
from zoning.geo.graph import build_block_graph  # noqa: E402
from zoning.options import SolveOptions  # noqa: E402

#: (name, schools, districts, time limit s, first-plan target s, gap target, target in words)
INSTANCES = [
    ("city-100", 100, 10, 10.0, 10.0, 1e-4, "optimal ≤ 10 s"),
    ("city-300", 300, 25, 60.0, 10.0, 0.02, "1st ≤ 10 s, gap ≤ 2 % in 60 s"),
    ("city-1000", 1000, 80, 30.0, 30.0, None, "plan ≤ 30 s"),
]


def city(n: int, seed: int = 0) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """A seeded synthetic city of n schools: (schools frame, school adjacency edges, children per school)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000 * np.sqrt(n), size=(n, 2))
    seats = rng.integers(300, 1500, n)
    quality = np.round(rng.uniform(40, 100, n), 1)
    kids = np.rint(seats * rng.uniform(0.7, 1.0, n))
    frame, edges = schools_frame(xy, seats, quality)
    return frame, edges, kids


def schools_frame(
    xy: np.ndarray, seats: np.ndarray, quality: np.ndarray
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Schools S0… at ``xy`` (metres, EPSG:32650) with their seats and quality, and their adjacency (Voronoi)."""
    ids = [f"S{i}" for i in range(len(xy))]
    frame = gpd.GeoDataFrame(
        {"school_id": ids, "name": ids, "capacity": seats.astype(float), "quality": quality},
        geometry=gpd.points_from_xy(*xy.T),
        crs=32650,
    )
    graph, _ = build_block_graph(frame.assign(block_id=frame.school_id))
    return frame, graph.edges


def problem(n: int, k: int, seed: int = 0) -> DistrictProblem:
    frame, edges, kids = city(n, seed)
    return build_district_problem(frame, edges, n_districts=k, children=kids)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_zoning(n: int, k: int, time_limit: float) -> dict:
    """zoning's search on one instance (in its own process)."""
    from zoning.districts.problem import is_valid
    from zoning.districts.search import solve_districts

    p = problem(n, k)
    t = time.perf_counter()
    sol = solve_districts(p, SolveOptions(time_limit_s=time_limit, workers=2))
    seconds = time.perf_counter() - t
    return {
        "first": sol.first_seconds,
        "seconds": seconds,
        "value": sol.objective,
        "bound": sol.bound,
        "source": sol.bound_source,
        "gap": sol.gap,
        "lp": sol.lp_value,
        "mb": _peak_mb(),
        "valid": bool(is_valid(p, sol.lead_of)),
    }


def _band(m: cp_model.CpModel, xs, values, y, lo=None, hi=None) -> None:
    expr = cp_model.LinearExpr.weighted_sum(xs, [int(v) for v in values])
    if lo is not None:
        m.add(expr >= int(lo) * y)
    if hi is not None:
        m.add(expr <= int(hi) * y)


def plain_model(p: DistrictProblem) -> tuple[cp_model.CpModel, list]:
    """The peer: (1)–(9) and the a-priori one-piece inequalities on one Boolean per candidate pair.

    The synthetic cities have no requirements, pairs or coverage rate, so (7)–(9) are empty.
    """
    assert not p.requirements and not len(p.together) and not len(p.apart) and p.min_coverage is None
    m = cp_model.CpModel()
    ps, pl = p.pair_school, p.pair_lead
    x = [m.new_bool_var("") for _ in range(len(ps))]
    y = {int(lead): x[int(p.pair_index(lead, lead))] for lead in np.unique(pl)}
    for i in range(p.n):  # (1)
        m.add_exactly_one([x[t] for t in np.flatnonzero(ps == i)])
    for t in np.flatnonzero(ps != pl):  # (2)
        m.add_implication(x[t], y[int(pl[t])])
    m.add(sum(y.values()) == p.n_districts)  # (3)
    q = p.quality_int
    qlo, qhi = p.quality_band
    hi_int, lo_int = int(np.floor(qhi * QUALITY_SCALE + 1e-9)), int(np.ceil(qlo * QUALITY_SCALE - 1e-9))
    for lead, yl in y.items():
        ts = np.flatnonzero(pl == lead)
        xs, members = [x[t] for t in ts], ps[ts]
        _band(m, xs, np.ones(len(ts)), yl, *p.count_band)  # (4)
        _band(m, xs, p.seats[members], yl, *p.seats_band)
        _band(m, xs, p.children[members], yl, *p.children_band)
        _band(m, xs, hi_int - q[members], yl, lo=0)  # (5)
        _band(m, xs, q[members] - lo_int, yl, lo=0)
        _band(m, xs, p.seats[members] - p.children[members], yl, lo=0)  # (6)
    indptr, indices = p.neighbours
    for t in np.flatnonzero(ps != pl):  # a member has a neighbour in its district
        nb = p.pair_index(indices[indptr[ps[t]] : indptr[ps[t] + 1]], pl[t])
        nb = nb[nb >= 0]
        m.add(x[t] <= sum(x[s] for s in nb)) if len(nb) else m.add(x[t] == 0)
    m.minimize(cp_model.LinearExpr.weighted_sum(x, p.pair_cost.tolist()))
    return m, x


def run_plain(n: int, k: int, time_limit: float) -> dict:
    """The peer on one instance (in its own process)."""
    return solve_plain(problem(n, k), time_limit)


def solve_plain(p, time_limit: float) -> dict:
    """The plain one-shot CP-SAT model of ``p`` (:func:`plain_model`), 2 workers, seed 0: first plan, seconds,
    memory, value, gap and districts in pieces (``value`` None without a plan, "infeasible" when proven)."""
    from zoning.districts.problem import district_pieces

    t = time.perf_counter()
    m, x = plain_model(p)
    first: list[float] = []

    class First(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            first.append(time.perf_counter() - t) if not first else None

    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = max(0.05, time_limit - (time.perf_counter() - t))
    s.parameters.num_workers = 2
    s.parameters.random_seed = 0
    status = s.solve(m, First())
    seconds = time.perf_counter() - t
    out = {"first": first[0] if first else None, "seconds": seconds, "mb": _peak_mb(), "value": None}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = np.array([s.value(v) for v in x], dtype=bool)
        lead_of = np.empty(p.n, dtype=np.int64)
        lead_of[p.pair_school[chosen]] = p.pair_lead[chosen]
        value = s.objective_value
        out |= {
            "value": value,
            "gap": (value - s.best_objective_bound) / value if value > 0 else 0.0,
            "pieces": len({lead for lead, _ in district_pieces(p, lead_of)}),
        }
    elif status == cp_model.INFEASIBLE:
        out["value"] = "infeasible"
    return out


def _in_process(fn, *args) -> dict:
    """Run fn(*args) in a fresh process, so its peak memory is its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def target(r: dict, first_s: float, gap: float | None) -> str:
    """'met' or what was missed, and by how much."""
    missed = []
    if not r["valid"]:
        missed.append("plan breaks a rule")
    if r["first"] > first_s:
        missed.append(f"1st plan +{r['first'] - first_s:.1f} s")
    if gap is not None and r["gap"] > gap + 1e-12:
        missed.append(f"gap +{100 * (r['gap'] - gap):.2f} pt")
    return "met" if not missed else "missed: " + ", ".join(missed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per run (default: per target)")
    ap.add_argument("--only", default=None, help="run only the instances whose name contains this")
    ap.add_argument("--no-peer", action="store_true", help="skip the plain CP-SAT peer")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    head = (
        f"{'instance':<10} {'n':>5} {'K':>3} {'limit':>5} | {'1st s':>6} {'total s':>7} {'plan':>9} "
        f"{'bound':>9} {'source':<13} {'gap %':>6} {'MB':>5} {'check':>5} {'target':<32} | "
        f"{'plain s':>7} {'plan':>9} {'gap %':>6} {'pieces':>6} {'MB':>5}"
    )
    print(head)
    print("-" * len(head))
    for name, n, k, limit, first_s, gap, words in INSTANCES:
        if args.only and args.only not in name:
            continue
        limit = args.time_limit or limit
        r = _in_process(run_zoning, n, k, limit)
        peer = "(skipped)"
        if not args.no_peer:
            q = _in_process(run_plain, n, k, limit)
            peer = (
                f"{q['seconds']:>7.1f} {q['value'] / 1000:>9.1f} {100 * q['gap']:>6.2f} {q['pieces']:>6} "
                f"{q['mb']:>5.0f}"
                if q["value"] is not None
                else f"{q['seconds']:>7.1f} {'none':>9} {'-':>6} {'-':>6} {q['mb']:>5.0f}"
            )
        print(
            f"{name:<10} {n:>5} {k:>3} {limit:>5.0f} | {r['first']:>6.2f} {r['seconds']:>7.1f} "
            f"{r['value'] / 1000:>9.1f} {r['bound'] / 1000:>9.1f} {r['source']:<13} "
            f"{100 * r['gap']:>6.2f} {r['mb']:>5.0f} {'ok' if r['valid'] else 'FAIL':>5} "
            f"{target(r, first_s, gap) + ' (' + words + ')':<32} | {peer}",
            flush=True,
        )
    print(
        "\nplan and bound in children-km (children × straight-line km from their school to its district's lead);"
        "\n1st s: seconds to the first plan keeping every rule; gap = (plan − bound) / plan; MB: peak RSS;"
        "\ncheck: districts.problem.is_valid; pieces: districts of the plain plan not in one piece; 2 workers each."
    )


if __name__ == "__main__":
    main()
