"""The immutable result of a solve: who goes where, with the proof (bound, gap) and the warnings.

A :class:`Plan` is a frozen dataclass.  Its tables are keyed by the user's ids; geometry is kept in the
metric CRS the solve used (``plan.crs``).  Nothing is bolted onto it after the solve: functions in
``metrics``, ``maps`` and ``export`` take a plan and return new values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import pandas as pd

from .errors import Issue
from .problem import ZoneProblem

__all__ = ["Plan", "SolveInfo"]


@dataclass(frozen=True)
class SolveInfo:
    """How the plan was found and how good it is proven to be.

    objective and lower_bound are in child-metres (children × metres travelled, plus the move penalty
    for every child moved); gap = (objective − lower_bound) / objective.
    """

    status: Literal["optimal", "feasible"]
    objective: float
    lower_bound: float
    gap: float
    seconds: float
    seed: int
    bound_source: str
    lp_bound: float
    lp_seconds: float
    rounds: int
    cuts: int
    candidate_arcs: int
    plan_source: str
    metric_crs: str

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "objective_child_m": round(self.objective, 3),
            "lower_bound_child_m": round(self.lower_bound, 3),
            "gap": round(self.gap, 6),
            "seconds": round(self.seconds, 3),
            "seed": self.seed,
            "bound_source": self.bound_source,
            "lp_bound_child_m": round(self.lp_bound, 3),
            "lp_seconds": round(self.lp_seconds, 3),
            "rounds": self.rounds,
            "one_piece_cuts": self.cuts,
            "candidate_arcs": self.candidate_arcs,
            "plan_source": self.plan_source,
            "metric_crs": self.metric_crs,
        }


@dataclass(frozen=True)
class Plan:
    """An attendance-zone plan.

    assignment: Series block_id → school_id.
    blocks: block_id, name, students, students_estimated, current_school, school_id, school_name,
        distance_m, moved, geometry (the block's polygon or Voronoi cell), metric CRS.
    schools: school_id, name, capacity, students, utilisation, overload, geometry.
    zones: one dissolved polygon per school with students, capacity, utilisation.
    """

    assignment: pd.Series
    blocks: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    info: SolveInfo
    problem: ZoneProblem
    rules: dict = field(default_factory=dict)
    warnings: tuple[Issue, ...] = ()

    def summary_line(self) -> str:
        i = self.info
        return (
            f"{i.status}: {i.objective / 1000:,.1f} child-km (bound {i.lower_bound / 1000:,.1f}, "
            f"gap {100 * i.gap:.2f} %) in {i.seconds:.1f} s"
        )
