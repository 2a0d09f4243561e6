import sys, time, logging
import numpy as np, geopandas as gpd, shapely
sys.path.insert(0, "/work/main/src")
from zoning.graph import build_block_graph
from zoning.problem_districts import build_district_problem
from zoning.model_districts import solve_districts
from zoning.options import SolveOptions

def city(n, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000 * np.sqrt(n), size=(n, 2))
    seats = rng.integers(300, 1500, n)
    quality = np.round(rng.uniform(40, 100, n), 1)
    kids = np.rint(seats * rng.uniform(0.7, 1.0, n))
    g = gpd.GeoDataFrame({"school_id": [f"S{i}" for i in range(n)], "name": [f"S{i}" for i in range(n)],
        "capacity": seats.astype(float), "quality": quality}, geometry=gpd.points_from_xy(*xy.T), crs=32650)
    graph, _ = build_block_graph(g.assign(block_id=g.school_id))
    return g, graph, kids

if __name__ == "__main__":
    n, k, t = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    logging.basicConfig(level=logging.INFO if len(sys.argv) > 4 else logging.WARNING, format="%(relativeCreated)6.0f %(name)s %(message)s")
    g, graph, kids = city(n)
    t0 = time.perf_counter()
    p = build_district_problem(g, graph.edges, n_districts=k, children=kids, quality_tolerance=0.15)
    sol = solve_districts(p, SolveOptions(time_limit_s=t))
    print(f"n={n} K={k}: {sol.status} obj {sol.objective/1000:.1f} bound {sol.bound/1000:.1f} gap {100*sol.gap:.2f}% lp {sol.lp_value/1000:.1f} ({sol.lp_seconds:.2f}s) {sol.seconds:.1f}s windows {sol.windows} rounds {sol.rounds} cuts {sol.cuts} src {sol.source}")
