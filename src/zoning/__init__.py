"""zoning: school attendance zones (划片) and school districts (学区) for education bureaus.

import zoning
blocks = zoning.read_blocks("blocks.geojson", columns={"students": "students_k4"})
schools = zoning.read_schools("schools.csv", coords="gcj02")
plan = zoning.assign_zones(blocks, schools, max_distance_m=2500)
plan = zoning.assign_zones(blocks, schools, roads=zoning.read_roads("roads.gpkg"))  # distances by road
plan = zoning.form_districts(schools, plan=plan, n_districts=4)   # 学区 made of those zones
zoning.write_plan(plan, "out/")
table = zoning.run_batch("jobs.toml", "runs/")                    # many runs on Dask (pip install 'zoning[batch]')
"""

from .check.metrics import district_table, school_table, summary
from .check.verify import PlanCheckError, check_plan, district_violations, plan_violations
from .districts.api import form_districts
from .errors import InfeasibleError, InputError, Issue, NoPlanFoundError, ZoningError
from .geo.roads import RoadNetwork, build_road_network, road_distances
from .io import datasets
from .io.inputs import Inputs, load_inputs, read_blocks, read_roads, read_schools, read_sites, read_zones
from .options import SolveOptions
from .plan import Plan, SolveInfo
from .publish.announce import announce
from .publish.export import plan_layers, plan_map, plan_map_html, plan_table, write_plan
from .publish.report import report
from .zones.api import assign_zones, evaluate_zones

__version__ = "0.1.0"


def run_batch(jobs, out_dir, *, client=None, workers: int = 2, resume: bool = False, overwrite: bool = False):
    """Run many jobs on Dask distributed, each exactly as its ``zoning`` command would, and return the table of
    ``batch.csv`` (one row per job: status, seconds, objective, bound, gap, seats over, children moved, error,
    the number of warnings and the first; each job's whole log is ``out_dir/<name>/job.log``).

    ``jobs``: a JOBS.toml path (see ``zoning.batch.jobs``), or a list of job tables keyed like the file
    (``{"name": "a", "command": "partition", "blocks": …, "schools": …, "max-distance": 2500}``).
    ``client``: a ``dask.distributed.Client``, a scheduler address (``"tcp://host:8786"``), or None for a
    ``LocalCluster`` of ``workers`` processes.  Each job writes ``out_dir/<name>`` atomically; ``resume`` skips
    the complete ones, ``overwrite`` replaces existing ones.  On Ctrl-C batch.csv is written with the jobs that
    finished (the others "interrupted") and ``zoning.batch.run.BatchInterrupted`` (a KeyboardInterrupt)
    carries its table.  Needs ``pip install 'zoning[batch]'``.
    """
    from .cli.batch import run_jobs  # the jobs run the commands themselves (cli comes last: imported here)

    return run_jobs(jobs, out_dir, client=client, workers=workers, resume=resume, overwrite=overwrite)


__all__ = [
    "__version__",
    "assign_zones",
    "evaluate_zones",
    "form_districts",
    "read_zones",
    "read_roads",
    "build_road_network",
    "road_distances",
    "RoadNetwork",
    "district_table",
    "district_violations",
    "read_blocks",
    "read_schools",
    "read_sites",
    "load_inputs",
    "Inputs",
    "Plan",
    "SolveInfo",
    "SolveOptions",
    "write_plan",
    "announce",
    "report",
    "plan_layers",
    "plan_table",
    "plan_map",
    "plan_map_html",
    "school_table",
    "summary",
    "check_plan",
    "plan_violations",
    "PlanCheckError",
    "Issue",
    "ZoningError",
    "InputError",
    "InfeasibleError",
    "NoPlanFoundError",
    "datasets",
    "run_batch",
]
