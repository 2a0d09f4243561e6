"""City-scale benchmark of ``zoning.assign_zones`` on seeded synthetic cities, beside peers, as one table.

Run: ``.venv/bin/python benchmarks/city.py [--time-limit S] [--only NAME[,NAME…]] [--no-peer]
[--no-spopt] [--sizes small,medium,large]`` (default sizes small,medium; large is opt-in: it takes
several minutes).

Generator (``make_city(rows, cols, n_schools, slack, seed)``; everything drawn from one integer seed)
- Blocks: a rows × cols grid of 100 m × 100 m squares in EPSG:32650 (UTM 50N, the south-west corner at
  x 600 km, y 2,700 km: about Xiamen), built at once with vectorised ``shapely.box`` (200,000 blocks in
  well under a second).  block_id ``b0`` … row by row.
- Children: Poisson counts with a clustered mean: 3 + N // 25,000 Gaussian population centres (positions
  uniform in the middle 80 % of the city, spread σ = 5–15 % of the city's longer side, weights lognormal)
  for 75 % of the children and a uniform background for 25 %, scaled to 20 children per block on
  average: fringe blocks hold about 5 children, the centres several times the average.
- Schools: M distinct blocks drawn with probability ∝ children; each school stands at its block's centre.
- Seats: total children × (1 + slack), rounded up, shared among schools in proportion to a *noisy* share
  of the demand around each school: the children of its Voronoi cell (blocks nearer to it than to any
  other school) × lognormal(0, 0.4), renormalised, split by largest remainders; a school never has fewer
  seats than the children of its own block (its block is always in its zone when zones are one piece).

How it is harder than ``grid_city`` in ``benchmarks/run.py``: there children are uniform 0–40 per block
and every school gets exactly its Voronoi demand × (1 + slack) + 1 seats, so sending every block to its
nearest school is already (nearly) a plan and the LP is trivial.  Here the noise leaves about a quarter of
the schools more than 25 % short of their nearby demand (and others with seats to spare), so children are
pushed along chains of neighbouring schools, the nearest candidates of a block may not have room at all
(candidate growth), and dense centres beside empty fringes make zones very unequal in area.

Instances (name: blocks × schools, slack; rows with and without contiguity unless said)
- small-5, small-15: 5,000 × 150 (50 × 100 grid) at 5 % and 15 % slack.
- medium-5, medium-15: 50,000 × 1,500 (200 × 250) at 5 % and 15 % slack.
- large-15: 200,000 × 3,000 (400 × 500) at 15 % slack (``--sizes …,large``).
- small-5-3km: 5,000 × 150 at 5 % slack, contiguity and ``max_distance_m=3000`` (feasible: the 8 nearest
  schools of every block lie well within 3 km).
All rows use ``move_penalty_m=0`` (synthetic cities have no current zones).  ``--only`` takes instance
names (both rows) or row names ``NAME:plain`` / ``NAME:contig``.

Measured (each zoning run and each peer run in a fresh subprocess, so memory and caches do not leak)
- s: wall seconds of ``assign_zones`` (projection, block graph, problem, LP, search, checker).
- LP s / LP bound: ``plan.info.lp_seconds`` / ``plan.info.lp_bound`` (the transportation relaxation).
- plan / bound: ``plan.info.objective`` / ``plan.info.lower_bound`` in child-km; "vs LP" is plan / LP
  bound − 1, the measure of the targets; "by" is the bound's source (``plan.info.bound_source``: LP, CPSAT
  = the whole CP-SAT model's, knap = the knapsack bound of ``zoning.zones.bound``); "above" is plan / bound − 1
  (how far the plan is proven to be above the optimum at most), in %.  Where the bound itself lies further
  above the LP than a target allows, the target is unreachable and the verdict says so.
- first s: seconds from the call to the first plan satisfying every rule, read from zoning's INFO log
  (the rounded relaxation after ejection chains, or the plan after the repair windows).
- peak MB: the subprocess's ``ru_maxrss`` (RUSAGE_SELF at its end; includes the generated city, about
  250 MB of Python, geopandas and OR-Tools for the small instances).
- check: ``zoning.check_plan(plan)`` (the independent checker) — "ok" or the first broken rule.
- plain CP-SAT (the peer, as ``plain_cpsat`` in run.py): one Boolean per candidate pair from the same
  k = 8 nearest candidates (``build_zone_problem``, not grown), assign-once and seats, no contiguity, no
  hint, one solve with the same time limit and 2 workers.  plan in child-km, gap = CP-SAT's own
  (plan − its bound) / plan, s = model build + solve (the shared preparation is timed in the notes), MB
  its subprocess's peak.  It runs once per instance and is shown on the instance's first row.
- spopt (the second peer): PySAL spopt's capacitated p-median (``pip install -e '.[bench]'``, which
  ``make bench`` does; without it the column says "not installed"; ``--no-spopt`` skips it).  In its own
  subprocess: the same city and the same points and rounded straight-line metres as zoning (block
  representative point to school), but dense, every block × every school (spopt takes an N × M cost
  matrix; pairs beyond ``max_distance_m`` cost 1,000 km a child), weights = children,
  ``PMedian.from_cost_matrix(cost, weights, p_facilities=M, predefined_facilities_arr=all ones,
  facility_capacities=seats)`` (p = M: every school open, so it is our problem without contiguity), then
  ``.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=row's limit, threads=2))``.  Its assignment variables
  are binary (``add_client_assign_variable`` defaults to ``LpBinary``): every block goes whole to one
  school, so a value it returns is a plan, comparable with ours; the cell checks it anyway ("whole" or
  "split n"), and the seats.  Cell: plan in child-km, "vs LP" = above the transportation LP over all
  N × M pairs (computed in the same subprocess; on these cities it equals zoning's k = 8 LP bound),
  s = spopt's model build + solve (the solve includes PuLP writing and reading CBC's files), GB = the
  python process's peak + CBC's own peak (VmHWM polled; both are alive at once), "opt" or "t-lim";
  or "no plan in T s" when CBC stops at its limit without an integer plan.  CBC 2.10.3 (shipped with
  pulp) does not always stop at its limit (on small-15 it once ran 14 minutes for 30 s, and again went
  past 120 s); it is killed 60 s past the limit ("CBC hung").  Measured on small-15 (30 s): build 27 s,
  solve 59 s (CBC 33 s, the rest PuLP writing an MPS of 300 MB), python 2.6 GB + CBC 4.2 GB, and no
  plan: the root LP (1.7 s) is at the bound, but CBC's feasibility pump finds no integer plan before
  the limit.  The model has N × M
  binaries plus N × M opening rows (x_ij ≤ y_j), built in pure Python: about 36 µs and 9 KB per
  variable, so it is built only up to 1,000,000 variables (the small instances, 750,000).  medium
  (50,000 × 1,500 = 75 million: ≈ 630 GB, ≈ 45 min to build) and large (600 million) are not built;
  the cell gives those estimates.  It runs once per instance and is shown on the instance's first row.
- target: the issue's targets on 2 cores, "met" or what was missed and by how much:
  medium-15: LP ≤ 3 s, plan ≤ 0.2 % above the LP bound, in ≤ 30 s;
  medium-5: first plan ≤ 5 s, ≤ 0.5 % above the LP bound, in ≤ 60 s;
  large-15: LP ≤ 20 s, ≤ 1 % above the LP bound, in ≤ 120 s, peak ≤ 4 GB;
  small-5-3km: first plan ≤ 5 s, ≤ 1 % above the LP bound, in ≤ 30 s;
  rows with contiguity: ≤ 1 % above the LP bound (replacing a tighter gap target of the instance; LP, first-plan,
  time and memory targets still apply).  The time limit of a row is its target's (30 s where none)
  unless ``--time-limit`` is given; "in ≤ T s" is checked on the end-to-end seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import zoning  # noqa: E402

BLOCK_M = 100.0
ORIGIN = (600_000.0, 2_700_000.0)
CRS = "EPSG:32650"
K = 8


# --------------------------------------------------------------------------------------------------------
# generator


def make_city(
    rows: int, cols: int, n_schools: int, slack: float, seed: int
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Blocks (block_id, students, polygon) and schools (school_id, capacity, point); see the docstring."""
    rng = np.random.default_rng(seed)
    n = rows * cols
    ix, iy = np.arange(n) % cols, np.arange(n) // cols
    x0 = ORIGIN[0] + ix * BLOCK_M
    y0 = ORIGIN[1] + iy * BLOCK_M
    polys = shapely.box(x0, y0, x0 + BLOCK_M, y0 + BLOCK_M)
    cx, cy = x0 + BLOCK_M / 2, y0 + BLOCK_M / 2

    # clustered density: Gaussian centres (75 %) + uniform background (25 %), mean 20 children per block
    width, height = cols * BLOCK_M, rows * BLOCK_M
    side = max(width, height)
    n_centres = 3 + n // 25_000
    px = ORIGIN[0] + width * rng.uniform(0.1, 0.9, n_centres)
    py = ORIGIN[1] + height * rng.uniform(0.1, 0.9, n_centres)
    sigma = side * rng.uniform(0.05, 0.15, n_centres)
    weight = rng.lognormal(0.0, 0.5, n_centres)
    cluster = np.zeros(n)
    for x, y, s, w in zip(px, py, sigma, weight):
        cluster += w * np.exp(-((cx - x) ** 2 + (cy - y) ** 2) / (2 * s * s))
    mean = 20.0 * (0.75 * cluster / cluster.mean() + 0.25)
    students = rng.poisson(mean).astype(np.int64)

    # schools at blocks drawn ∝ children
    cells = rng.choice(n, n_schools, replace=False, p=students / students.sum())
    school_xy = np.column_stack([cx[cells], cy[cells]])

    # seats: a noisy share of each school's Voronoi demand, total = children × (1 + slack)
    _, nearest = cKDTree(school_xy).query(np.column_stack([cx, cy]))
    demand = np.bincount(nearest, weights=students, minlength=n_schools)
    share = demand * rng.lognormal(0.0, 0.4, n_schools)
    share /= share.sum()
    total = math.ceil(students.sum() * (1 + slack))
    raw = share * total
    seats = np.floor(raw).astype(np.int64)
    rest = total - int(seats.sum())
    seats[np.argsort(-(raw - seats), kind="stable")[:rest]] += 1
    seats = np.maximum(seats, students[cells])

    blocks = gpd.GeoDataFrame(
        {"block_id": np.char.add("b", np.arange(n).astype(str)), "students": students},
        geometry=polys,
        crs=CRS,
    )
    schools = gpd.GeoDataFrame(
        {"school_id": np.char.add("S", np.arange(n_schools).astype(str)), "capacity": seats},
        geometry=shapely.points(school_xy),
        crs=CRS,
    )
    return blocks, schools


# --------------------------------------------------------------------------------------------------------
# cases and targets


@dataclass(frozen=True)
class Instance:
    name: str
    size: str  # small | medium | large
    rows: int
    cols: int
    schools: int
    slack: float
    seed: int
    max_distance_m: float | None = None
    contiguity: tuple[bool, ...] = (False, True)
    # targets (None = none): LP seconds, first plan seconds, % above the LP bound, seconds, peak GB
    lp_s: float | None = None
    first_s: float | None = None
    above_pct: float | None = None
    limit_s: float = 30.0
    has_time_target: bool = False
    peak_gb: float | None = None


INSTANCES = (
    Instance("small-5", "small", 50, 100, 150, 0.05, 11),
    Instance("small-15", "small", 50, 100, 150, 0.15, 12),
    Instance("medium-5", "medium", 200, 250, 1500, 0.05, 21, first_s=5, above_pct=0.5, limit_s=60, has_time_target=True),
    Instance("medium-15", "medium", 200, 250, 1500, 0.15, 22, lp_s=3, above_pct=0.2, limit_s=30, has_time_target=True),
    Instance(
        "large-15", "large", 400, 500, 3000, 0.15, 31, lp_s=20, above_pct=1.0, limit_s=120, has_time_target=True,
        peak_gb=4.0,
    ),
    Instance(
        "small-5-3km", "small", 50, 100, 150, 0.05, 11, max_distance_m=3000.0, contiguity=(True,), first_s=5,
        above_pct=1.0, limit_s=30, has_time_target=True,
    ),
)  # fmt: skip


def targets(inst: Instance, contiguity: bool, time_limit_s: float) -> list[tuple[str, str, float]]:
    """(what, key in the result, limit) of every target the row is held to."""
    out = []
    if inst.lp_s is not None:
        out.append(("LP", "lp_seconds", inst.lp_s))
    if inst.first_s is not None:
        out.append(("first", "first_seconds", inst.first_s))
    above = inst.above_pct
    if contiguity:
        above = max(above or 0.0, 1.0)
    if above is not None:
        out.append(("vs LP", "vs_lp_pct", above))
    if inst.has_time_target:
        out.append(("time", "seconds", time_limit_s))
    if inst.peak_gb is not None:
        out.append(("peak", "peak_gb", inst.peak_gb))
    return out


def verdict(result: dict, checks: list[tuple[str, str, float]]) -> str:
    if not checks:
        return "-"
    if result.get("error"):
        return "missed: no plan"
    missed = []
    for what, key, limit in checks:
        value = result.get(key)
        unit = " %" if key == "vs_lp_pct" else (" GB" if key == "peak_gb" else " s")
        if value is None:
            missed.append(f"{what} ? (≤ {limit:g}{unit})")
        elif value > limit:
            why = ""
            if key == "vs_lp_pct" and result.get("floor_pct", 0.0) > limit:
                why = f", unreachable: every plan is ≥ {result['floor_pct']:.2f} % above the LP"
            missed.append(f"{what} {value:.2f} > {limit:g}{unit} (+{value - limit:.2f}{why})")
    return "met" if not missed else "missed: " + "; ".join(missed)


# --------------------------------------------------------------------------------------------------------
# workers (run in a fresh subprocess each)


class _FirstPlan(logging.Handler):
    """Notes the time of zoning's first log line that announces a plan satisfying every rule."""

    def __init__(self, contiguity: bool):
        super().__init__(logging.INFO)
        self.contiguity = contiguity
        self.t0 = time.perf_counter()
        self.first: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        plan = msg.startswith(("first plan", "plan within every rule"))
        if plan and self.first is None:
            self.first = time.perf_counter() - self.t0


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def work_zoning(inst: Instance, contiguity: bool, time_limit_s: float) -> dict:
    blocks, schools = make_city(inst.rows, inst.cols, inst.schools, inst.slack, inst.seed)
    input_gb = _peak_gb()
    handler = _FirstPlan(contiguity)
    logger = logging.getLogger("zoning")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    out: dict = {"input_gb": input_gb}
    t = time.perf_counter()
    handler.t0 = t
    try:
        plan = zoning.assign_zones(
            blocks,
            schools,
            max_distance_m=inst.max_distance_m,
            move_penalty_m=0,
            contiguity=contiguity,
            options=zoning.SolveOptions(time_limit_s=time_limit_s, workers=2),
        )
    except zoning.ZoningError as err:
        out.update(seconds=time.perf_counter() - t, error=str(err).splitlines()[0], peak_gb=_peak_gb())
        return out
    seconds = time.perf_counter() - t
    try:
        zoning.check_plan(plan)
        check = "ok"
    except zoning.PlanCheckError as err:
        lines = str(err).splitlines()
        check = lines[1] if len(lines) > 1 else lines[0]
    i = plan.info
    out.update(
        seconds=seconds,
        lp_seconds=i.lp_seconds,
        lp_bound=i.lp_bound,
        objective=i.objective,
        bound=i.lower_bound,
        above_pct=100 * (i.objective / i.lower_bound - 1) if i.lower_bound > 0 else 0.0,
        vs_lp_pct=100 * (i.objective / i.lp_bound - 1) if i.lp_bound > 0 else 0.0,
        floor_pct=100 * (i.lower_bound / i.lp_bound - 1) if i.lp_bound > 0 else 0.0,
        bound_source=i.bound_source,
        first_seconds=handler.first,
        status=i.status,
        source=i.plan_source,
        arcs=i.candidate_arcs,
        rounds=i.rounds,
        check=check,
        peak_gb=_peak_gb(),
    )
    return out


def work_peer(inst: Instance, time_limit_s: float) -> dict:
    """The plain one-shot CP-SAT model on the same k nearest candidates; also times zoning's preparation."""
    from ortools.sat.python import cp_model

    from zoning.geo.graph import build_block_graph
    from zoning.io.crs import to_metric
    from zoning.zones.problem import build_zone_problem

    blocks, schools = make_city(inst.rows, inst.cols, inst.schools, inst.slack, inst.seed)
    steps = {}
    t = time.perf_counter()
    bm, crs = to_metric(blocks)
    sm = schools.to_crs(crs)
    steps["to_metric"] = time.perf_counter() - t
    t = time.perf_counter()
    graph, _ = build_block_graph(bm)
    steps["build_block_graph"] = time.perf_counter() - t
    t = time.perf_counter()
    p = build_zone_problem(
        bm, sm, graph, k=K, contiguity=False, move_penalty_m=0, max_distance_m=inst.max_distance_m
    )
    steps["build_zone_problem"] = time.perf_counter() - t
    from zoning.zones.bound import transport_bound

    t = time.perf_counter()
    flow = transport_bound(p)
    steps["transport LP (k=8)"] = time.perf_counter() - t

    t = time.perf_counter()
    m = cp_model.CpModel()
    x = [m.new_bool_var("") for _ in range(len(p.arc_block))]
    starts = np.searchsorted(p.arc_block, np.arange(p.n_blocks + 1))  # arcs are sorted by block
    for i in range(p.n_blocks):
        m.add_exactly_one(x[starts[i] : starts[i + 1]])
    w = p.students[p.arc_block]
    order = np.argsort(p.arc_school, kind="stable")
    sstarts = np.searchsorted(p.arc_school[order], np.arange(p.n_schools + 1))
    for j in range(p.n_schools):
        ks = order[sstarts[j] : sstarts[j + 1]]
        m.add(cp_model.LinearExpr.weighted_sum([x[k] for k in ks], w[ks].tolist()) <= int(p.capacity[j]))
    m.minimize(cp_model.LinearExpr.weighted_sum(x, p.arc_cost.tolist()))
    s = cp_model.CpSolver()
    s.parameters.max_time_in_seconds = time_limit_s
    s.parameters.num_workers = 2
    status = s.solve(m)
    seconds = time.perf_counter() - t
    out = {
        "seconds": seconds,
        "steps": steps,
        "lp_feasible": bool(flow.feasible),
        "status": s.status_name(status),
        "peak_gb": _peak_gb(),
    }
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        obj = s.objective_value / p.scale
        bound = s.best_objective_bound / p.scale
        out.update(objective=obj, gap_pct=100 * (obj - bound) / obj if obj > 0 else 0.0)
    return out


#: spopt is built only where its dense model has at most this many assignment variables (N × M): about
#: 6 GB at the rate below, on a machine of 23 GB.
SPOPT_MAX_VARS = 1_000_000
#: measured on small-15 (750,000 variables, see the docstring), for the estimates shown where the model is
#: not built: peak bytes per variable (python 2.6 GB + CBC 4.2 GB at once) and seconds of spopt's build.
SPOPT_BYTES_PER_VAR = 9_000
SPOPT_BUILD_S_PER_VAR = 36e-6
#: CBC is killed this long past its time limit into the solve call (PuLP's MPS writing included).
SPOPT_KILL_GRACE_S = 60.0
#: metres a child charged to spopt for a pair beyond ``max_distance_m`` (p-median has no such limit)
SPOPT_OUT_OF_REACH_M = 1e6


def spopt_not_built(inst: Instance) -> str | None:
    """Why spopt's dense model is not built for ``inst`` (None: it is)."""
    nm = inst.rows * inst.cols * inst.schools
    if nm <= SPOPT_MAX_VARS:
        return None
    gb, minutes = nm * SPOPT_BYTES_PER_VAR / 2**30, nm * SPOPT_BUILD_S_PER_VAR / 60
    return f"not built: dense {nm / 1e6:,.0f} M vars ≈ {gb:,.0f} GB, build ≈ {minutes:,.0f} min"


def _cbc_log(path: Path) -> dict:
    """CBC's closing summary (its own lower bound and wall seconds) from its log, where present."""
    out: dict = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Result - "):
            out["cbc_result"] = line[len("Result - ") :]
        elif line.startswith("Lower bound:"):
            out["cbc_bound"] = float(line.split(":", 1)[1])
        elif line.startswith("Objective value:"):
            out["cbc_objective"] = float(line.split(":", 1)[1])
        elif "Wallclock seconds" in line and "Total time" in line:
            out["cbc_seconds"] = float(line.rsplit(":", 1)[1].strip().rstrip(")"))
    return out


class _ChildPeak:
    """Polls the high-water RSS (VmHWM) of this process's children (CBC, started by PuLP) in a thread, and
    kills them once ``kill_after_s`` have passed.

    RUSAGE_CHILDREN cannot tell CBC's memory: a child's ru_maxrss keeps the parent's resident size it was
    forked with.  VmHWM belongs to the address space CBC gets at exec, so it is CBC's own peak (missing at
    most the last poll interval).  The kill: CBC 2.10.3 (the one pulp ships) does not always stop at its
    ``-sec`` limit (coin-or/Cbc#640: lock hangs with threads; coin-or/pulp#699: the limit is not checked in
    preprocessing); on small-15 it once ran past 14 minutes for a 30 s limit."""

    def __init__(self, kill_after_s: float, every_s: float = 0.1):
        import threading

        self.peak_kb = 0
        self.killed_at: float | None = None
        self._kill_after = kill_after_s
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = Path("/proc/self/task")
        t0 = time.perf_counter()
        while not self._stop.wait(self._every):
            try:
                pids = {c for t in me.iterdir() for c in (t / "children").read_text().split()}
            except OSError:
                continue
            late = time.perf_counter() - t0 > self._kill_after
            for pid in pids:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                    if late:
                        os.kill(int(pid), signal.SIGKILL)
                        self.killed_at = time.perf_counter() - t0
                except (OSError, ValueError):
                    pass

    @property
    def gb(self) -> float:
        return self.peak_kb / 2**20


def work_spopt(inst: Instance, time_limit_s: float) -> dict:
    """PySAL spopt's capacitated p-median on the dense N × M straight-line cost matrix, solved by CBC.

    Every school is open (p = M and all predefined), so it is our problem without contiguity: each block
    to one school (spopt's assignment variables are binary), seats held, child-metres minimised.  Also
    solves the transportation relaxation over all N × M pairs (the bound spopt's value is held to)."""
    import tempfile

    import pulp
    from spopt.locate import PMedian

    from zoning.geo.graph import build_block_graph
    from zoning.io.crs import to_metric
    from zoning.zones.bound import transport_bound
    from zoning.zones.problem import build_zone_problem

    blocks, schools = make_city(inst.rows, inst.cols, inst.schools, inst.slack, inst.seed)
    bm, crs = to_metric(blocks)
    sm = schools.to_crs(crs)
    graph, _ = build_block_graph(bm)
    p = build_zone_problem(
        bm, sm, graph, k=K, contiguity=False, move_penalty_m=0, max_distance_m=inst.max_distance_m
    )
    n, m = p.n_blocks, p.n_schools
    # the same points and rounded straight-line metres as zoning's arcs, for every pair
    d = p.block_xy[:, None, :] - p.school_xy[None, :, :]
    metres = np.rint(np.hypot(d[..., 0], d[..., 1]))
    # p-median has no distance limit: a pair out of reach costs SPOPT_OUT_OF_REACH_M a child instead
    reach = np.ones_like(metres, dtype=bool) if inst.max_distance_m is None else metres <= inst.max_distance_m
    cost = np.where(reach, metres, SPOPT_OUT_OF_REACH_M)
    weights = p.students.astype(np.float64) / p.scale
    seats = p.capacity.astype(np.float64) / p.scale
    dense = p.with_arcs(*np.nonzero(reach))  # every pair within reach
    flow = transport_bound(dense, quiet=True)
    k_flow = transport_bound(p, quiet=True)
    out: dict = {
        "vars": n * m,
        "dense_lp": flow.value / p.scale if flow.feasible else None,
        "k_lp": k_flow.value / p.scale if k_flow.feasible else None,  # None: k = 8 cannot seat everyone
    }
    del dense, flow, d

    t = time.perf_counter()
    model = PMedian.from_cost_matrix(
        cost, weights, p_facilities=m, predefined_facilities_arr=np.ones(m, dtype=int),
        facility_capacities=seats, name="city",
    )  # fmt: skip
    out["build_s"] = time.perf_counter() - t
    out["build_gb"] = _peak_gb()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "cbc.log"
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, threads=2, logPath=str(log_path))
        solver.tmpDir = tmp  # PuLP's MPS (about 300 MB on small) goes with the directory, even on a kill
        t = time.perf_counter()
        with _ChildPeak(kill_after_s=time_limit_s + SPOPT_KILL_GRACE_S) as cbc_peak:
            try:
                model.solve(solver, results=False)
            except RuntimeError:
                pass  # spopt raises unless pulp's status is "Optimal" (also CBC's "stopped with a plan")
            except pulp.PulpSolverError as err:
                out["error"] = f"CBC failed: {str(err)[:60]}"
        out["solve_s"] = time.perf_counter() - t
        out["cbc_gb"] = cbc_peak.gb
        if cbc_peak.killed_at is not None:
            out["killed_s"] = cbc_peak.killed_at
            out["error"] = (
                f"CBC ignored its {time_limit_s:g} s limit; killed {cbc_peak.killed_at:.0f} s into the solve"
            )

        out.update(_cbc_log(log_path))
    out["status"] = pulp.LpStatus[model.problem.status]
    out["sol_status"] = pulp.LpSolution[model.problem.sol_status]
    out["peak_gb"] = _peak_gb()
    x = np.array([[v.varValue for v in row] for row in model.cli_assgn_vars], dtype=object)
    if model.problem.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) and not any(
        v is None for v in x.flat
    ):
        x = x.astype(np.float64)
        frac = np.minimum(np.abs(x), np.abs(1 - x)) > 1e-6
        to = x.argmax(axis=1)
        whole = bool(not frac.any() and np.allclose(x.sum(axis=1), 1, atol=1e-6))
        load = (weights[:, None] * x).sum(axis=0)
        out.update(
            objective=float((weights[:, None] * metres * x).sum()),
            whole=whole,
            reach_ok=bool(not (x[~reach] > 1e-6).any()),
            split_blocks=int(frac.any(axis=1).sum()),
            seats_ok=bool((load <= seats + 1e-6).all()),
            schools_used=int(len(np.unique(to))),
        )
    return out


def run_worker(kind: str, inst: Instance, contiguity: bool, time_limit_s: float) -> dict:
    """Run one measurement in a fresh interpreter; its last stdout line is the JSON result."""
    payload = json.dumps(
        {"kind": kind, "instance": asdict(inst), "contiguity": contiguity, "limit": time_limit_s}
    )
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", payload]
    # own session, so that a timeout also ends what the worker started (spopt's CBC)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=3 * time_limit_s + 600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": "timed out"}
    lines = stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"crashed: {tail[:80]}"}
    return json.loads(lines[-1])


def worker_main(payload: str) -> None:
    job = json.loads(payload)
    inst = Instance(**{**job["instance"], "contiguity": tuple(job["instance"]["contiguity"])})
    if job["kind"] == "zoning":
        result = work_zoning(inst, job["contiguity"], job["limit"])
    elif job["kind"] == "spopt":
        result = work_spopt(inst, job["limit"])
    else:
        result = work_peer(inst, job["limit"])
    print(json.dumps(result))


# --------------------------------------------------------------------------------------------------------
# table


@dataclass
class Row:
    inst: Instance
    contiguity: bool
    limit: float
    result: dict = field(default_factory=dict)
    peer: dict | None = None  # None: not run; {} : shown on an earlier row
    spopt: str = ""  # the spopt cell


def _f(value, fmt: str, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per row (default: the target's)")
    ap.add_argument(
        "--only",
        default=None,
        help="instance or row names (NAME or NAME:plain / NAME:contig), comma-separated",
    )
    ap.add_argument("--no-peer", action="store_true", help="skip the plain CP-SAT peer")
    ap.add_argument("--no-spopt", action="store_true", help="skip the spopt capacitated p-median peer")
    ap.add_argument("--sizes", default="small,medium", help="comma-separated of small, medium, large")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker_main(args.worker)
        return

    sizes = {s.strip() for s in args.sizes.split(",") if s.strip()}
    only = None if args.only is None else {s.strip() for s in args.only.split(",") if s.strip()}
    import importlib.util

    spopt_missing = [m for m in ("spopt", "pulp") if importlib.util.find_spec(m) is None]

    rows: list[Row] = []
    for inst in INSTANCES:
        if inst.size not in sizes:
            continue
        for contig in inst.contiguity:
            row_name = f"{inst.name}:{'contig' if contig else 'plain'}"
            if only is not None and inst.name not in only and row_name not in only:
                continue
            rows.append(Row(inst, contig, args.time_limit or inst.limit_s))

    head = (
        f"{'instance':<12} {'blocks':>7} {'schools':>7} {'slack':>5} {'contig':>6} {'limit':>5} | "
        f"{'s':>6} {'LP s':>5} {'LP bound':>9} {'plan':>9} {'vs LP %':>7} {'bound':>9} {'by':>5} {'above %':>7} "
        f"{'first s':>7} "
        f"{'peak MB':>7} {'check':>5} | {'CP-SAT plan':>11} {'gap %':>6} {'s':>6} {'MB':>6} | "
        f"{'spopt capacitated p-median (CBC)':<{SPOPT_W}} | target"
    )
    print(head, flush=True)
    print("-" * len(head), flush=True)
    peers_done: set[str] = set()
    spopt_done: dict[str, dict] = {}
    steps: dict[str, dict] = {}
    for row in rows:
        inst = row.inst
        row.result = run_worker("zoning", inst, row.contiguity, row.limit)
        if not args.no_peer:
            if inst.name in peers_done:
                row.peer = {}
            else:
                row.peer = run_worker("peer", inst, False, row.limit)
                peers_done.add(inst.name)
                if "steps" in row.peer:
                    steps[inst.name] = row.peer["steps"]
        if args.no_spopt:
            row.spopt = "not run (--no-spopt)"
        elif spopt_missing:
            row.spopt = f"not installed: {', '.join(spopt_missing)} (make bench)"
        elif inst.name in spopt_done:
            row.spopt = "″"
        elif (why := spopt_not_built(inst)) is not None:
            row.spopt = why
            spopt_done[inst.name] = {}
        else:
            sp = run_worker("spopt", inst, False, row.limit)
            spopt_done[inst.name] = sp
            row.spopt = spopt_cell(sp, row.limit)
        print(format_row(row), flush=True)

    print()
    print(
        "plan, bound, LP bound in child-km; vs LP % = plan / LP bound − 1 (the targets' measure); bound = the "
        "best proven (by: LP, CPSAT = the whole model's, knap = the knapsack bound); above % = plan / bound − 1 "
        "(proven distance to the optimum at most); first s = first plan satisfying every "
        "rule ('-': not visible in the log); peak MB = the subprocess's ru_maxrss; 2 CP-SAT workers each."
    )
    print(
        "plain CP-SAT: k = 8 nearest candidates, assign-once + seats, no contiguity, no hint; gap % its own; "
        "s = model build + solve; '″' = same instance as the row above."
    )
    print(
        "spopt: PMedian.from_cost_matrix on the dense N × M straight-line matrix, p = M (every school open), "
        "seats as capacities, CBC with the row's time limit and 2 threads; whole = every block to one school "
        "(its variables are binary); vs LP = above the transportation LP over all N × M pairs; s = build + "
        "solve; GB = python + CBC peaks."
    )
    for name, st in steps.items():
        print(f"steps on {name} (peer subprocess): " + ", ".join(f"{k} {v:.2f} s" for k, v in st.items()))
    for name, sp in spopt_done.items():
        if sp:
            print(f"spopt on {name}: {spopt_notes(sp)}")


def spopt_cell(sp: dict, limit: float) -> str:
    """The compact spopt cell: its plan, or why there is none."""
    gb = f"{sp.get('peak_gb') or 0:.1f}+{sp.get('cbc_gb') or 0:.1f} GB"
    if sp.get("error") and "build_s" not in sp:
        return f"failed: {sp['error']}"
    if "objective" not in sp:
        if sp.get("killed_s") is not None:
            return f"no plan: CBC hung, killed at {sp['killed_s']:.0f} s (build {sp['build_s']:.0f} s, {gb})"
        return f"no plan in {limit:g} s (build {sp.get('build_s', 0):.0f} s, solve {sp.get('solve_s', 0):.0f} s, {gb})"
    lp = sp.get("dense_lp")
    above = f" (+{100 * (sp['objective'] / lp - 1):.1f} % vs LP)" if lp else ""
    how = "whole" if sp["whole"] else f"split {sp['split_blocks']:,}"
    if not sp["seats_ok"]:
        how += " SEATS BROKEN"
    if not sp.get("reach_ok", True):
        how += " REACH BROKEN"
    done = "opt" if sp.get("sol_status") == "Optimal Solution Found" else "t-lim"
    secs = sp["build_s"] + sp["solve_s"]
    return f"plan {sp['objective'] / 1000:,.1f}{above} {secs:.0f} s {gb} {how} {done}"


def spopt_notes(sp: dict) -> str:
    """One line of detail for the notes under the table."""
    parts = [f"{sp.get('vars', 0):,} assignment variables"]
    if "build_s" in sp:
        parts.append(f"build {sp['build_s']:.1f} s (python peak then {sp.get('build_gb', 0):.2f} GB)")
    if "solve_s" in sp:
        cbc = f", CBC {sp['cbc_seconds']:.1f} s" if "cbc_seconds" in sp else ""
        parts.append(f"solve {sp['solve_s']:.1f} s{cbc} (the rest: PuLP writing MPS, reading the solution)")
    parts.append(f"CBC: {sp.get('cbc_result', '?')}, pulp status {sp.get('status')} / {sp.get('sol_status')}")
    if "cbc_objective" in sp:
        parts.append(f"CBC objective {sp['cbc_objective'] / 1000:,.1f}")
    if "cbc_bound" in sp:
        parts.append(f"CBC lower bound {sp['cbc_bound'] / 1000:,.1f}")
    if sp.get("dense_lp") is not None:
        k_lp = "infeasible" if sp.get("k_lp") is None else f"{sp['k_lp'] / 1000:,.1f}"
        parts.append(f"LP all pairs {sp['dense_lp'] / 1000:,.1f} vs on k = 8 candidates {k_lp} child-km")
    if "seats_ok" in sp:
        parts.append(f"seats {'held' if sp['seats_ok'] else 'BROKEN'}, {sp['schools_used']} schools used")
        if not sp.get("reach_ok", True):
            parts.append("some block sent beyond max_distance_m")
    if sp.get("error"):
        parts.append(sp["error"])
    return "; ".join(parts)


def format_row(row: Row) -> str:
    inst, r = row.inst, row.result
    n = inst.rows * inst.cols
    left = (
        f"{inst.name:<12} {n:>7,} {inst.schools:>7,} {100 * inst.slack:>4.0f}% {'yes' if row.contiguity else 'no':>6} "
        f"{row.limit:>5.0f} | "
    )
    if "objective" not in r:
        err = r.get("error", "?")
        text = (
            f"no plan satisfying every rule within {row.limit:g} s"
            if err.startswith("No plan satisfying every rule")
            else f"no plan: {err}"
        )
        mid = f"{_f(r.get('seconds'), '.1f', 6)} {text[:MID_W]:<{MID_W}} | "
    else:
        mid = (
            f"{r['seconds']:>6.1f} {r['lp_seconds']:>5.2f} {r['lp_bound'] / 1000:>9.1f} {r['objective'] / 1000:>9.1f} "
            f"{r['vs_lp_pct']:>7.3f} {r['bound'] / 1000:>9.1f} {BY.get(r.get('bound_source'), '?'):>5} "
            f"{r['above_pct']:>7.3f} {_f(r.get('first_seconds'), '.1f', 7)} "
            f"{_mb(r):>7.0f} {r['check'][:5]:>5} | "
        )
    p = row.peer
    if p is None:
        peer = f"{'not run':>11} {'':>6} {'':>6} {'':>6} | "
    elif not p:
        peer = f"{'″':>11} {'':>6} {'':>6} {'':>6} | "
    elif "objective" in p:
        peer = f"{p['objective'] / 1000:>11.1f} {p['gap_pct']:>6.2f} {p['seconds']:>6.1f} {_mb(p):>6.0f} | "
    else:
        what = p.get("status") or p.get("error", "?")
        peer = f"{what[:11]:>11} {'-':>6} {_f(p.get('seconds'), '.1f', 6)} {_f(_mb(p), '.0f', 6)} | "
    checks = targets(inst, row.contiguity, row.limit)
    return f"{left}{mid}{peer}{row.spopt:<{SPOPT_W}} | {verdict(r, checks)}"


SPOPT_W = 60
MID_W = 5 + 1 + 9 + 1 + 9 + 1 + 7 + 1 + 9 + 1 + 5 + 1 + 7 + 1 + 7 + 1 + 7 + 1 + 5  # LP s … check
#: The bound's source, short: the transportation LP, CP-SAT's (the whole model), the knapsack bound.
BY = {"transportation LP": "LP", "CP-SAT": "CPSAT", "knapsack (Lagrangian)": "knap"}


def _mb(result: dict) -> float | None:
    return None if result.get("peak_gb") is None else result["peak_gb"] * 1024


if __name__ == "__main__":
    main()
