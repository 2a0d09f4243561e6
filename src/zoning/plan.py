"""The immutable result of a solve: who goes where, with the proof (bound, gap) and the warnings.

A :class:`Plan` is a frozen dataclass.  Its tables are keyed by the user's ids; geometry is kept in the
metric CRS the solve used (``plan.crs``).  Nothing is bolted onto it after the solve: functions in
``metrics``, ``maps`` and ``export`` take a plan and return new values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import pandas as pd

from .errors import Issue, choice_issue

if TYPE_CHECKING:  # annotations only: the solver packages come later in the pipeline and build plans
    from .districts.problem import DistrictProblem
    from .zones.problem import ZoneProblem

__all__ = [
    "Plan",
    "SolveInfo",
    "UNIT_WORDS",
    "DISTRICT_WORDS",
    "district_kind_of",
    "district_words",
    "unit_words",
    "units_of",
    "units_issue",
    "zones_title",
]

#: What a plan's blocks are, by ``rules["units"]`` (absent: "blocks"), in the words a map, an announcement and a
#: report write: Chinese, English singular, English plural.  A feeder plan (直对入学) is drawn on primary
#: schools' whole zones: its "blocks" are 小学片区, not 小区.
UNIT_WORDS: dict[str, tuple[str, str, str]] = {
    "blocks": ("小区", "block", "blocks"),
    "primary zones": ("小学片区", "primary zone", "primary zones"),
}


def units_of(rules: dict | None) -> str:
    """What the blocks of a plan with these ``rules`` (a plan's or the ``rules`` of its ``summary.json``) are:
    "blocks", or "primary zones" for a feeder plan."""
    return (rules or {}).get("units", "blocks")


def district_kind_of(rules: dict | None) -> str:
    """What the districts of a plan with these ``rules`` (a plan's or the ``rules`` of its summary.json, or
    the ``districts`` section's own ``rules``) are: "school districts", or "education groups"."""
    rules = rules or {}
    kind = (rules.get("districts") or {}).get("kind", rules.get("kind"))
    return "education groups" if kind == "education groups" else "school districts"


#: What a plan's districts are (:func:`district_kind_of`), in the words a map, an announcement and a report
#: write: Chinese, English singular, English plural, and the Chinese of its lead school.
DISTRICT_WORDS: dict[str, tuple[str, str, str, str]] = {
    "school districts": ("学区", "district", "districts", "学区长学校"),
    "education groups": ("教育集团", "group", "groups", "牵头学校"),
}


def district_words(rules: dict | None) -> tuple[str, str, str, str]:
    """:data:`DISTRICT_WORDS` of the districts of a plan with these ``rules`` (see :func:`district_kind_of`)."""
    return DISTRICT_WORDS[district_kind_of(rules)]


def unit_words(rules: dict | None) -> tuple[str, str, str]:
    """(Chinese, English singular, English plural) of the blocks of a plan with these ``rules`` (a plan's or
    the ``rules`` of its ``summary.json``)."""
    return UNIT_WORDS.get(units_of(rules), UNIT_WORDS["blocks"])


def units_issue(units) -> Issue | None:
    """An issue when ``units`` (what a map's blocks are) is not a key of :data:`UNIT_WORDS`, else None."""
    return choice_issue("units", units, tuple(UNIT_WORDS), fix="use blocks or primary zones.")


def zones_title(units: str) -> tuple[str, str]:
    """(Chinese, English) title of a plan of zones alone (no districts) whose blocks are ``units``: a feeder
    plan's (its blocks are primary zones) says so.  Its map and its report write it."""
    return ("直对入学", "Feeder districts") if units == "primary zones" else ("划片方案", "Attendance zones")


@dataclass(frozen=True)
class SolveInfo:
    """How the plan was found and how good it is proven to be.

    objective and lower_bound are in ``unit``: child-metres for zones (children × metres travelled, plus
    the move penalty for every child moved); for districts the children (or seats, or schools) times the
    metres from each school to its district's lead.  gap = (objective − lower_bound) / objective.

    status "given": a plan drawn by hand or taken from the data (``zoning.evaluate_zones``), measured and not
    solved: it has an objective (what it costs) but no lower bound, LP bound or gap (None; null in JSON).
    """

    status: Literal["optimal", "feasible", "given"]
    objective: float
    lower_bound: float | None
    gap: float | None
    seconds: float
    seed: int
    bound_source: str
    lp_bound: float | None
    lp_seconds: float
    rounds: int
    cuts: int
    candidate_arcs: int
    plan_source: str
    metric_crs: str
    unit: str = "child_m"
    stopped: bool = False  # the search was stopped (Ctrl-C) before its time limit: the best plan so far

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            f"objective_{self.unit}": round(self.objective, 3),
            f"lower_bound_{self.unit}": _rounded(self.lower_bound, 3),
            "gap": _rounded(self.gap, 6),
            "seconds": round(self.seconds, 3),
            "seed": self.seed,
            "bound_source": self.bound_source,
            f"lp_bound_{self.unit}": _rounded(self.lp_bound, 3),
            "lp_seconds": round(self.lp_seconds, 3),
            "rounds": self.rounds,
            "one_piece_cuts": self.cuts,
            "candidate_pairs" if self.unit != "child_m" else "candidate_arcs": self.candidate_arcs,
            "plan_source": self.plan_source,
            "metric_crs": self.metric_crs,
            "stopped_early": self.stopped,
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Plan:
    """An attendance-zone plan (划片), a school-district plan (学区 / 教育集团), or both.

    assignment: Series block_id → school_id (empty for districts drawn on schools alone).
    blocks: block_id, name, students, students_estimated, current_school, school_id, school_name,
        distance_m, current_distance_m, moved, geometry (the block's polygon or Voronoi cell), metric CRS.
    schools: school_id, name, capacity, students, utilisation, overload, geometry; with districts also
        district_id, is_lead, lead_id, lead_name, distance_to_lead_m, high_quality.
    zones: one dissolved polygon per school with students, capacity, utilisation (for districts drawn on
        schools alone: the school's given zone or its Voronoi cell).
    info / problem: the zones' proof and arrays (None for districts drawn on schools alone).
    districts: one row per district (district_id, lead_id, lead_name, members, n_schools, capacity,
        students, quality figures, covered, dissolved geometry); district_info its proof.
    rules: the zones' rules; ``rules["districts"]`` the districts' rules (what ``verify`` checks).
    """

    assignment: pd.Series
    blocks: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    info: SolveInfo | None
    problem: ZoneProblem | None
    rules: dict = field(default_factory=dict)
    warnings: tuple[Issue, ...] = ()
    districts: gpd.GeoDataFrame | None = None
    district_info: SolveInfo | None = None
    district_problem: DistrictProblem | None = None

    @property
    def has_zones(self) -> bool:
        return self.info is not None

    def summary_line(self) -> str:
        lines = []
        for what, i in (("zones", self.info), ("districts", self.district_info)):
            if i is None:
                continue
            unit = i.unit.replace("_m", "-km")
            if i.lower_bound is None:  # a given plan: measured, nothing to prove
                lines.append(f"{what} {i.status}: {i.objective / 1000:,.1f} {unit} (no bound: not solved)")
                continue
            lines.append(
                f"{what} {i.status}: {i.objective / 1000:,.1f} {unit} (bound {i.lower_bound / 1000:,.1f}, "
                f"gap {100 * i.gap:.2f} %) in {i.seconds:.1f} s"
            )
        return "; ".join(lines)
