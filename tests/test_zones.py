"""Attendance-zone solver: brute force on tiny instances, one edge test per rule, real data invariants."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import zoning
from conftest import grid_instance, shared
from zoning import InfeasibleError, SolveOptions, assign_zones, check_plan, plan_violations
from zoning.errors import NoPlanFoundError

FAST = SolveOptions(time_limit_s=20, relative_gap=0.0)


def solve(blocks, schools, **kw) -> zoning.Plan:
    plan = assign_zones(blocks, schools, options=kw.pop("options", FAST), **kw)
    check_plan(plan)  # the independent checker on every plan
    return plan


# --------------------------------------------------------------------------------------- brute force


def _connected(cells: list[int], rows: int, cols: int) -> bool:
    inside = set(cells)
    seen = {cells[0]}
    queue = deque([cells[0]])
    while queue:
        v = queue.popleft()
        r, c = divmod(v, cols)
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            u = rr * cols + cc
            if 0 <= rr < rows and 0 <= cc < cols and u in inside and u not in seen:
                seen.add(u)
                queue.append(u)
    return len(seen) == len(inside)


def brute_force(blocks, schools, rows, cols, *, contiguity, move_penalty_m):
    """Best objective over every assignment, by enumeration (independent of the solver)."""
    pts = blocks.geometry.representative_point()
    dist = np.array([[p.distance(q) for q in schools.geometry] for p in pts])
    students = blocks["students"].to_numpy()
    cap = schools["capacity"].to_numpy()
    anchor = [int(np.flatnonzero(blocks.contains(q))[0]) for q in schools.geometry]
    cur = blocks["current_school"].to_numpy() if "current_school" in blocks else [None] * len(blocks)
    cur_idx = [int(c[1:]) if c else -1 for c in cur]
    best = None
    for assign in itertools.product(range(len(schools)), repeat=len(blocks)):
        a = np.array(assign)
        if np.any(np.bincount(a, weights=students, minlength=len(schools)) > cap + 1e-9):
            continue
        if contiguity:
            if any(a[anchor[j]] != j for j in range(len(schools))):
                continue
            zones = [list(np.flatnonzero(a == j)) for j in range(len(schools))]
            if not all(_connected(z, rows, cols) for z in zones if z):
                continue
        moved = np.array([c >= 0 and c != s for c, s in zip(cur_idx, a)])
        obj = float(np.sum(students * (np.rint(dist[np.arange(len(a)), a]) + move_penalty_m * moved)))
        if best is None or obj < best - 1e-9:
            best = obj
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("contiguity", [True, False])
def test_solver_matches_brute_force(seed, contiguity):
    rng = np.random.default_rng(seed)
    rows, cols = 2, 4
    students = rng.integers(0, 30, size=rows * cols)
    cells = sorted(rng.choice(rows * cols, size=3, replace=False).tolist())
    total = students.sum()
    cap = np.maximum(np.ceil(total * rng.uniform(0.36, 0.6, size=3)), 1)
    current = [f"S{k}" for k in rng.integers(0, 3, size=rows * cols)]
    penalty = float(rng.choice([0, 150]))
    blocks, schools = grid_instance(rows, cols, students, cells, cap, current=current)
    expected = brute_force(blocks, schools, rows, cols, contiguity=contiguity, move_penalty_m=penalty)
    if expected is None:
        with pytest.raises(InfeasibleError):
            solve(blocks, schools, contiguity=contiguity, move_penalty_m=penalty)
        return
    plan = solve(blocks, schools, contiguity=contiguity, move_penalty_m=penalty)
    assert plan.info.status == "optimal"
    assert plan.info.objective == pytest.approx(expected, abs=1e-6)
    assert plan.info.lower_bound == pytest.approx(expected, abs=1e-6)


# ------------------------------------------------------------------------------ one edge test per rule


def _line(students, capacity, cells=(0, 3), **kw):
    return grid_instance(1, len(students), students, list(cells), capacity, **kw)


def test_capacity_just_inside_and_just_outside():
    blocks, schools = _line([15, 15, 15, 15], [30, 30])
    plan = solve(blocks, schools)
    assert plan.schools["students"].max() <= 30
    blocks, schools = _line([15, 15, 15, 15], [30, 29])
    with pytest.raises(InfeasibleError, match=r"60 children.*short 1"):
        solve(blocks, schools)


def test_area_short_of_seats_is_named():
    # two schools far apart; the west blocks can only reach the west school within the max distance
    blocks, schools = _line([20, 20, 1, 1, 1, 1], [39, 100], cells=(0, 5))
    # b0..b2 lie within 250 m of School 0 only: 41 children for 39 seats
    with pytest.raises(
        InfeasibleError,
        match=r"the 3 block\(s\) around b0, b1, b2 hold 41 children but can reach only School 0 "
        r"within 250 m, with 39 seats \(short 2\)",
    ):
        solve(blocks, schools, max_distance_m=250)
    plan = solve(blocks, schools.assign(capacity=[41, 100]), max_distance_m=250)
    assert plan.blocks["distance_m"].max() <= 250


@pytest.mark.parametrize("contiguity", [False, True])
def test_max_distance_unreachable_blocks_are_named(contiguity):
    blocks, schools = _line([5, 5, 5, 5, 5, 0], [50, 50], cells=(0, 1))
    # b3 and b4 are 200 m and 300 m from School 1 (b5, 400 m, holds no children: not named); with the one-piece
    # rule too, the reason is the distance, not zones that cannot be one piece
    with pytest.raises(
        InfeasibleError, match=r"2 block\(s\) with 10 children have no school within 150 m: b3, b4\n"
    ) as err:
        solve(blocks, schools, max_distance_m=150, contiguity=contiguity)
    assert "one piece" not in str(err.value) and "b5" not in str(err.value)


@pytest.mark.parametrize("contiguity", [False, True])
def test_a_block_of_no_children_beyond_the_distance_joins_a_zone_with_a_warning(contiguity):
    # b4 holds no children and lies 300 m from School 1, beyond the 250 m every child keeps to
    blocks, schools = _line([5, 5, 5, 5, 0], [50, 50], cells=(0, 1))
    plan = solve(blocks, schools, max_distance_m=250, contiguity=contiguity)
    # its nearest school, and with one piece per zone b3's (School 0 is 400 m from b3)
    assert plan.assignment["b4"] == "S1"
    kids = plan.blocks["students"] > 0
    assert plan.blocks.loc[kids, "distance_m"].max() <= 250
    assert zoning.summary(plan)["totals"]["max_distance_m"] <= 250
    [note] = [w for w in plan.warnings if "b4" in w.message]
    assert note.severity == "warning"
    assert note.message.startswith("1 block with no children lies further than 250 m from every school")
    assert "(b4 in the zone of School 1, 300 m away); no child travels further than 250 m" in note.message
    # the checker holds children to the distance, not empty blocks; a child there would break it
    moved = plan.blocks.assign(
        students=np.where(plan.blocks["block_id"] == "b4", 1.0, plan.blocks["students"])
    )
    assert any("further than 250 m" in v for v in plan_violations(replace(plan, blocks=moved)))


def _corner(b0_children: float):
    """2 x 2 blocks of 100 m.  School 0 stands in b3 (72 m from b0's centre, across a corner only); Schools 1 and
    2 in the far corners of b1 and b2 (157 m from b0's centre), which b0 touches: within 100 m b0 reaches only
    School 0, and no zone of School 0 in one piece can hold it."""
    blocks, _ = grid_instance(2, 2, [b0_children, 5, 5, 5], [0], [100])
    x0, y0 = 400_000.0, 4_830_000.0
    at = [(101, 101), (199, 1), (1, 199)]
    schools = gpd.GeoDataFrame(
        {
            "school_id": ["S0", "S1", "S2"],
            "name": ["School 0", "School 1", "School 2"],
            "capacity": [50.0] * 3,
        },
        geometry=[shapely.Point(x0 + x, y0 + y) for x, y in at],
        crs=32619,
    )
    return blocks, schools


def test_a_block_of_no_children_no_one_piece_zone_reaches_within_the_distance_joins_one_beyond():
    with pytest.raises(
        InfeasibleError, match=r"1 block\(s\) with 5 children cannot be in any zone in one piece: b0"
    ):
        solve(*_corner(5), max_distance_m=100)
    plan = solve(*_corner(0), max_distance_m=100)
    assert plan.assignment["b0"] in {"S1", "S2"}
    assert any("b0 in the zone of School" in w.message for w in plan.warnings)


def test_a_proof_on_the_candidate_schools_is_not_called_a_rule():
    # (found by a search over small grids) with each block's nearest school, and more where the seats require,
    # no plan keeps the seats with every zone in one piece; with every school one does
    blocks, schools = grid_instance(2, 6, [3, 14, 16, 7, 16, 16, 4, 4, 12, 8, 4, 19], [1, 2, 5], [54, 31, 51])
    with pytest.raises(
        NoPlanFoundError,
        match=r"none exists in which every block goes to one of its candidate schools \(its 1 nearest, .*"
        r"with every zone in one piece and no school over its seats, but plans with the other schools in reach "
        r"were not searched .*Fix: allow more candidate schools \(--candidates 3 considers every school",
    ) as err:
        solve(blocks, schools, candidates=1)
    assert "No plan fits" not in str(err.value)
    solve(blocks, schools, candidates=3)


def test_a_cap_on_moves_is_refused_only_beyond_every_candidate():
    # School 0 holds 16 children today for 15 seats.  b1 (1 child) has School 0 as its nearest school, so among
    # one candidate only b2 (10) can leave, more than the cap of 5 (a proof of the search); with both, b1 can
    current = ["S0", "S0", "S0", "S1"]
    blocks, schools = _line([5, 1, 10, 5], [15, 30], current=current)
    with pytest.raises(NoPlanFoundError, match=r"at most 5 children moved.*--candidates 2 considers"):
        solve(blocks, schools, max_moved=5, candidates=1, contiguity=False)
    plan = solve(blocks, schools, max_moved=5, candidates=2, contiguity=False)
    assert plan.blocks.loc[plan.blocks["moved"], "block_id"].tolist() == ["b1"]
    # School 0 is one over its seats today, School 1 full.  Among one candidate b2 (1 child) can only go to
    # School 1, which must then send b5 (1) on to School 2: 2 moved, which the relaxation refused before any
    # search; with every school b2 goes to School 2 at once
    current = ["S0", "S0", "S0", "S1", "S1", "S1", "S2"]
    blocks, schools = grid_instance(1, 7, [5, 5, 1, 5, 5, 1, 5], [0, 3, 6], [10, 11, 50], current=current)
    with pytest.raises(NoPlanFoundError, match=r"at most 1 child moved.*--candidates 3 considers"):
        solve(blocks, schools, max_moved=1, candidates=1, contiguity=False)
    plan = solve(blocks, schools, max_moved=1, candidates=3, contiguity=False)
    assert plan.blocks.loc[plan.blocks["moved"], "block_id"].tolist() == ["b2"]


def test_overload_is_minimised_and_reported():
    blocks, schools = _line([15, 15, 15, 15], [30, 25])
    plan = solve(blocks, schools, allow_overload=True)
    assert plan.schools["overload"].sum() == pytest.approx(5)
    assert zoning.summary(plan)["totals"]["schools_over_capacity"] == 1


def test_contiguity_binds_and_infeasibility_is_explained():
    # S0 at the west end, S1 (full with its own block) in the middle: S0 would need the east end too,
    # across S1's block
    blocks, schools = _line([10, 10, 10, 10, 10], [40, 10], cells=(0, 2))
    # (the arcs no one-piece zone can use are dropped first, so the relaxation itself names the area)
    with pytest.raises(
        InfeasibleError, match="can reach only School 1 among their candidate schools in zones in one piece"
    ):
        solve(blocks, schools)
    plan = solve(blocks, schools, contiguity=False)
    assert plan.assignment["b4"] == "S0"
    # one more seat at S1 and the east end can join S1: feasible in one piece
    plan = solve(blocks, schools.assign(capacity=[40, 30]))
    assert zoning.summary(plan)["totals"]["zones_not_contiguous"] == 0


def test_contiguity_respected_where_distance_alone_would_split():
    # the nearest school of block 3 is S0 across S1's zone; seats make one piece the only answer
    blocks, schools = grid_instance(1, 5, [10, 10, 10, 10, 10], [1, 3], [30, 30])
    plan = solve(blocks, schools)
    assert zoning.summary(plan)["totals"]["zones_not_contiguous"] == 0


def test_max_moved_cap_feasible_and_infeasible():
    current = ["S0", "S0", "S0", "S1"]
    blocks, schools = _line([10, 10, 10, 10], [20, 30], current=current)
    # S0 holds 30 children now but has 20 seats: at least 10 must move
    plan = solve(blocks, schools, max_moved=10)
    assert plan.blocks.loc[plan.blocks["moved"], "students"].sum() <= 10
    with pytest.raises(InfeasibleError, match=r"moves at most 9 children .*at least 10 must move"):
        solve(blocks, schools, max_moved=9)


def test_move_penalty_keeps_children_at_their_school():
    # b1 goes to S1 now though S0 is nearer, b3 to S0 though S1 is nearer (one-piece rule off to isolate it)
    current = ["S0", "S1", "S1", "S0", "S1"]
    blocks, schools = _line([10, 10, 10, 10, 10], [60, 60], cells=(0, 4), current=current)
    free = solve(blocks, schools, move_penalty_m=0, contiguity=False)
    kept = solve(blocks, schools, move_penalty_m=10_000, contiguity=False)
    assert {"b1", "b3"} <= set(free.blocks.loc[free.blocks["moved"], "block_id"])  # b2 is a tie
    assert kept.blocks["moved"].sum() == 0
    assert (
        kept.blocks["distance_m"].mul(kept.blocks["students"]).sum()
        > free.blocks["distance_m"].mul(free.blocks["students"]).sum()
    )


def test_island_is_attached_with_a_warning():
    blocks, schools = grid_instance(2, 2, [5, 5, 5, 5], [0], [100])
    island = gpd.GeoDataFrame(
        {"block_id": ["isle"], "students": [3.0]},
        geometry=[shapely.box(401_000, 4_830_000, 401_050, 4_830_050)],
        crs=32619,
    )
    blocks = pd.concat([blocks, island], ignore_index=True)
    plan = solve(blocks, schools)
    assert any("isle" in w.message for w in plan.warnings)
    assert plan.assignment["isle"] == "S0"


def test_point_blocks_get_voronoi_adjacency():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2000, size=(60, 2)) + [400_000, 4_830_000]
    blocks = gpd.GeoDataFrame(
        {"block_id": [f"p{i}" for i in range(60)], "students": rng.integers(1, 20, 60).astype(float)},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=32619,
    )
    schools = gpd.GeoDataFrame(
        {"school_id": ["A", "B", "C"], "capacity": [300.0, 300.0, 300.0]},
        geometry=gpd.points_from_xy(xy[[0, 20, 40], 0] + 1, xy[[0, 20, 40], 1] + 1),
        crs=32619,
    )
    plan = solve(blocks, schools)
    assert zoning.summary(plan)["totals"]["zones_not_contiguous"] == 0
    assert len(plan.zones) == 3


def test_checker_catches_broken_plans():
    blocks, schools = grid_instance(1, 4, [10, 10, 10, 10], [0, 3], [30, 30])
    plan = solve(blocks, schools)
    from dataclasses import replace

    split = plan.assignment.copy()
    split[:] = ["S0", "S1", "S0", "S1"]
    broken = replace(plan, assignment=split)
    bad = plan_violations(broken)
    assert any("several pieces" in b for b in bad)
    crowded = plan.assignment.copy()
    crowded[:] = ["S0", "S0", "S0", "S0"]
    assert any(
        "School 0 takes 40.00 children for 30.00 seats" in b
        for b in plan_violations(replace(plan, assignment=crowded))
    )
    cheat = replace(plan, info=replace(plan.info, objective=plan.info.objective - 100))
    assert any("objective" in b for b in plan_violations(cheat))


# ------------------------------------------------------------------------------------------ real data


def test_demo_south_portland_is_optimal_and_valid(portland):
    blocks, schools = portland
    plan = solve(blocks, schools, options=SolveOptions(time_limit_s=60))
    assert plan.info.gap <= 0.01
    s = zoning.summary(plan)
    assert s["totals"]["zones_not_contiguous"] == s["totals"]["zones_joined_only_by_links"]  # none otherwise
    assert s["totals"]["schools_over_capacity"] == 0
    assert s["totals"]["children"] == pytest.approx(1012.02, abs=0.01)
    assert (plan.schools["students"] <= plan.schools["capacity"] + 1e-9).all()
    # the plan shortens trips against the current assignment
    assert s["totals"]["mean_distance_m"] < s["before"]["mean_distance_m"]


def test_demo_closing_skillin_is_infeasible_in_planner_terms(portland):
    blocks, schools = portland
    kept = schools[schools["school_id"] != "Skillin"]
    with pytest.raises(InfeasibleError, match=r"980 seats against 1,012"):
        solve(blocks, kept)


def test_seattle_middle_school_zones_from_elementary_areas():
    es = gpd.read_file(shared("seattle_sps", "attendance_areas_ES_2017_18.geojson"))
    sites = gpd.read_file(shared("seattle_sps", "school_sites_2015_16.geojson"))
    ms = sites[sites["Status"] == "MS"].reset_index(drop=True)
    rng = np.random.default_rng(0)
    blocks = gpd.GeoDataFrame(
        {"block_id": es["ES_ZONE"], "students": rng.integers(200, 500, len(es)).astype(float)},
        geometry=es.geometry,
        crs=es.crs,
    )
    schools = gpd.GeoDataFrame(
        {
            "school_id": ms["PROPERTY_L"],
            "name": ms["PROPERTY_L"],
            "capacity": np.full(len(ms), np.ceil(blocks["students"].sum() / len(ms) * 1.15)),
        },
        geometry=ms.geometry,
        crs=ms.crs,
    )
    plan = solve(blocks, schools, options=SolveOptions(time_limit_s=30))
    assert zoning.summary(plan)["totals"]["zones_not_contiguous"] == 0
    assert (plan.schools["students"] <= plan.schools["capacity"]).all()
    assert plan.info.lower_bound <= plan.info.objective


def test_descent_keeps_every_rule_and_never_costs_more(portland):
    from zoning.geo.graph import build_block_graph
    from zoning.io.crs import to_metric
    from zoning.zones.bound import transport_bound
    from zoning.zones.model import improve
    from zoning.zones.model import objective as _objective
    from zoning.zones.problem import build_zone_problem
    from zoning.zones.start import repair, round_flow, violations

    blocks, schools = portland
    bm, crs = to_metric(blocks)
    graph, _ = build_block_graph(bm)
    problem = build_zone_problem(bm, schools.to_crs(crs), graph, move_penalty_m=0)
    start = repair(problem, round_flow(problem, transport_bound(problem).flows))
    assert violations(problem, start) == []
    better = improve(problem, start)
    assert violations(problem, better) == []
    assert _objective(problem, better) <= _objective(problem, start)
    assert (better != start).any()  # the rounded relaxation leaves moves worth making


def test_a_block_locked_far_from_its_school_is_joined_to_its_zone_by_the_start():
    # a block locked to a school across the city can join no other zone, so cut-off pieces cannot be handed
    # on: the start's repair draws a corridor of blocks to its zone (South Portland with three blocks locked
    # to Kaler found no plan in 5 s before: only an exact repair window joined them, after 4.8 s)
    from zoning.geo.graph import build_block_graph
    from zoning.zones.bound import transport_bound
    from zoning.zones.problem import build_zone_problem
    from zoning.zones.start import fragments, repair, round_flow, violations

    blocks, schools = grid_instance(8, 8, [10.0] * 64, [0, 63], [500.0, 500.0])
    blocks["locked_school"] = None
    blocks.loc[blocks["block_id"] == "b54", "locked_school"] = "S0"  # two rows from S1, seven from S0
    graph, _ = build_block_graph(blocks)
    problem = build_zone_problem(blocks, schools, graph, move_penalty_m=0)
    rounded = round_flow(problem, transport_bound(problem).flows)
    assert fragments(problem, rounded)  # the locked block sits alone in S1's zone
    start = repair(problem, rounded)
    assert violations(problem, start) == []
    assert start[54] == 0


def test_a_bridge_block_without_children_is_handed_to_the_zone_with_free_seats_beyond_it():
    # a strip cut along its length by a river one bridge block (no children) crosses: the north's school
    # lacks seats, the south's have them; the chains move blocks that take children out, so the bridge never
    # moved and no south zone reached the north (benchmarks/river_bridges.py: 1,060 children over, now ~100)
    from zoning.geo.graph import build_block_graph
    from zoning.zones.bound import transport_bound
    from zoning.zones.ejection import first_plan
    from zoning.zones.problem import build_zone_problem
    from zoning.zones.start import loads

    x0, y0, size, river = 400_000.0, 4_830_000.0, 100.0, 60.0
    polys, ids = [], []
    for r in range(4):
        for c in range(12):
            dy = river if r >= 2 else 0.0
            polys.append(
                shapely.box(x0 + c * size, y0 + r * size + dy, x0 + (c + 1) * size, y0 + (r + 1) * size + dy)
            )
            ids.append(f"b{r}_{c}")
    polys.append(shapely.box(x0 + 5 * size + 40, y0 + 2 * size, x0 + 5 * size + 60, y0 + 2 * size + river))
    ids.append("bridge")
    kids = [10.0] * 48 + [0.0]
    blocks = gpd.GeoDataFrame({"block_id": ids, "students": kids}, geometry=polys, crs=32619)
    cells = [(0, 2), (0, 9), (3, 5)]  # two schools south, one north
    schools = gpd.GeoDataFrame(
        {"school_id": ["S0", "S1", "S2"], "capacity": [200.0, 200.0, 150.0]},
        geometry=[polys[r * 12 + c].centroid for r, c in cells], crs=32619,
    )  # fmt: skip
    graph, _ = build_block_graph(blocks)
    problem = build_zone_problem(blocks, schools, graph, move_penalty_m=0)
    plan = first_plan(problem, transport_bound(problem), deadline=time.perf_counter() + 5)
    over = np.maximum(0, loads(problem, plan) - problem.capacity)
    assert over.sum() == 0  # the north's 240 children: 150 at its school, the rest over the bridge
    assert plan[ids.index("bridge")] != 2


# ------------------------------------------------------------------------------ pushes, improving chains


def _zone_problem(blocks, schools, **kw):
    from zoning.geo.graph import build_block_graph
    from zoning.zones.model import feasible_candidates
    from zoning.zones.problem import build_zone_problem

    graph, _ = build_block_graph(blocks)
    return feasible_candidates(build_zone_problem(blocks, schools, graph, move_penalty_m=0, **kw))


def test_a_push_places_children_no_chain_can():
    # one row: S0 (b0-b1: 35 children, 30 seats) can only send b1 (30) to S1, which has 10 seats free and
    # no block of 20 or more to pass on: no chain.  Pushed, b1 leaves S1 20 over, and S1 sends b5, then b4
    # (10 each, one chain each) to S2, which has the room.
    from zoning.zones.ejection import relieve_seats
    from zoning.zones.start import fragments, loads, violations

    blocks, schools = grid_instance(1, 8, [5, 30, 10, 10, 10, 10, 5, 5], [0, 3, 6], [30, 50, 40])
    p, _flow = _zone_problem(blocks, schools)
    assign = np.array([0, 0, 1, 1, 1, 1, 2, 2])
    assert (loads(p, relieve_seats(p, assign, depth=8)) > p.capacity).any()  # chains alone (no push)
    pushed = relieve_seats(p, assign)
    assert list(pushed) == [0, 1, 1, 1, 2, 2, 2, 2]
    assert violations(p, pushed) == [] and not fragments(p, pushed)


@pytest.mark.parametrize("contiguity", [True, False])
def test_improving_chains_keep_every_rule_and_shorten_trips(contiguity):
    import time

    from zoning.zones.ejection import first_plan
    from zoning.zones.search import _descend
    from zoning.zones.start import round_flow, violations
    from zoning.zones.windows import LARGE_BLOCKS, Windows

    rng = np.random.default_rng(4)
    rows, cols, m = 24, 25, 24
    students = rng.integers(2, 40, size=rows * cols)
    cells = sorted(rng.choice(rows * cols, size=m, replace=False).tolist())
    share = rng.uniform(0.6, 1.4, size=m)
    seats = np.maximum(np.floor(share / share.sum() * students.sum() * 1.05), students[cells]) + 1
    p, flow = _zone_problem(*grid_instance(rows, cols, students, cells, seats), contiguity=contiguity)
    assert p.n_blocks > LARGE_BLOCKS  # where the descent runs
    start = first_plan(p, flow, np.inf)
    search = Windows(p, SolveOptions(time_limit_s=30), time.perf_counter() + 30, start, flow.value)
    assert search.valid()
    better = _descend(search, round_flow(p, flow.flows))
    assert better is not search and better.cost < search.cost
    assert violations(p, better.assign) == []
