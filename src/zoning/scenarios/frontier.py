"""A frontier of alternatives: plans that trade children moved against trips, none worse than another in both.

A boundary study shows the public several alternatives.  Here they come from one rule varied along its range:
the price of moving a child (the move penalty, in metres of travel), from "shortest trips, whoever moves"
(0 m) to "move as few as the seats allow" (a move dearer than any trip).  Each point is a full
``assign_zones`` run with the same rules otherwise, checked by the independent checker, with its own proven
gap; points that another point beats on both children moved and mean trip (or equals) are dropped.

Caps on children moved (``caps``) add points of another kind: the shortest trips moving at most that many.  A
cap below what the seats allow (proven by the relaxation, "at least N must move") gets, with ``soft_seats``,
the plan with the fewest children over seats under that cap instead: the alternative a hand-drawn option
that overloads a school is to be compared with.  Its row says so.

:func:`frontier` returns the points; ``zoning frontier`` writes a plan folder per point and the table.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from ..check.metrics import summary
from ..errors import InfeasibleError, InputError, Issue, ZoningError
from ..logs import logged_to
from ..options import SolveOptions
from ..plan import Plan
from ..zones.api import assign_zones
from .compare import markdown_table

__all__ = [
    "Frontier", "FrontierPoint", "frontier", "frontier_table", "frontier_markdown", "frontier_label", "DEFAULT_PENALTIES_M",
]  # fmt: skip

log = logging.getLogger(__name__)

#: Move penalties (metres of travel one child moved is worth) along the frontier: from shortest trips to
#: fewest moves.  100 km is dearer than any trip in a city, so the last point moves as few as the seats allow.
DEFAULT_PENALTIES_M = (0.0, 250.0, 500.0, 1_000.0, 2_500.0, 100_000.0)


@dataclass(frozen=True)
class FrontierPoint:
    label: str
    move_penalty_m: float
    plan: Plan
    children_moved: float
    mean_distance_m: float
    children_over: float
    max_moved: float | None = None
    note: str = ""


class Frontier(list):
    """What :func:`frontier` returns: its points (a list, fewest children moved first) and ``not_run``, the
    runs a stop (``options.stop``: Ctrl-C) kept from starting, in words ("move penalty 2,500 m", "at most
    400 children moved"); a run the stop cut short is a point of its own, its plan ``info.stopped``."""

    def __init__(self, points=(), not_run: tuple[str, ...] = ()):
        super().__init__(points)
        self.not_run = tuple(not_run)


@dataclass(frozen=True)
class _NotRun:
    what: str


def frontier(
    blocks: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    *,
    penalties_m: tuple[float, ...] = DEFAULT_PENALTIES_M,
    caps: tuple[float, ...] = (),
    soft_seats: bool = True,
    options: SolveOptions = SolveOptions(),
    client=None,
    **rules,
) -> Frontier:
    """Plans of ``blocks`` and ``schools`` for each move penalty of ``penalties_m`` and each cap on children
    moved of ``caps`` (``options.time_limit_s`` shared among them), the dominated ones dropped, in order of
    children moved (fewest first).

    A cap point is the shortest trips moving at most that many children.  Where no plan within seats keeps
    to the cap (proven, or none found in its time), ``soft_seats`` gives the plan with the fewest children
    over seats under the cap (a second run of the same time), and its ``note`` says why; without it, the
    cap is left out with a log line.

    ``rules``: the other rules of :func:`~zoning.assign_zones` (max_distance_m, allow_overload, contiguity,
    …), the same for every point.  Needs a current school per block (``current_school``): without one nothing
    is moved and there is nothing to trade.

    ``client``: a ``dask.distributed.Client`` (``zoning.batch.run.cluster`` makes one): the points are then
    solved on its workers at once, each with one CP-SAT thread and the time of as many rounds as the points
    need (the time limit × workers / points, at most the whole limit).

    ``options.stop`` (the command line's Ctrl-C) ends the run in progress with its best plan so far (a point,
    its plan ``info.stopped``), and the runs not yet started are not run: they are listed in ``not_run``
    and a warning.  (With ``client`` the stop does not reach the workers: the runs not finished are cancelled and not run.)"""
    if "current_school" not in blocks.columns or not blocks["current_school"].notna().any():
        raise InputError(
            [
                Issue(
                    "the blocks have no current school, so no plan moves anyone: there is no trade-off to show.",
                    "give each block's current school (--current-school-col, or current_school in Python).",
                    column="current_school",
                )
            ]
        )
    for rule in ("move_penalty_m", "max_moved"):
        if rule in rules:
            raise TypeError(f"frontier varies {rule} itself: pass penalties_m / caps instead")
    penalties = sorted(set(float(x) for x in penalties_m))
    cap_values = sorted(set(float(x) for x in caps))
    if any(c < 0 for c in cap_values):
        raise ValueError(f"caps on children moved must be 0 or more, not {min(cap_values):g}")
    runs = [("penalty", x) for x in penalties] + [("cap", x) for x in cap_values]
    if client is None:
        share = replace(options, time_limit_s=options.time_limit_s / max(1, len(runs)))
        found = [_run(blocks, schools, kind, x, soft_seats, share, rules) for kind, x in runs]
    else:  # one point per worker at a time (Dask): the stop event stays here, it does not travel
        workers = max(1, len(client.scheduler_info()["workers"]))
        rounds = -(-len(runs) // workers)
        share = replace(options, time_limit_s=options.time_limit_s / max(1, rounds), workers=1, stop=None)
        futures = [client.submit(_run_logged, blocks, schools, kind, x, soft_seats, share, rules, pure=False)
                   for kind, x in runs]  # fmt: skip
        found = _gather(client, futures, runs, options)
    points = [pt for pt in found if isinstance(pt, FrontierPoint)]
    not_run = tuple(why.what for why in found if isinstance(why, _NotRun))
    if not_run:
        log.warning("frontier: stopped (Ctrl-C): not run: %s", "; ".join(not_run))
    if not points:  # every run left out: the reasons are the answer
        reasons = [str(why) for why in found if not isinstance(why, _NotRun)]
        raise ZoningError(
            "no alternative could be drawn: " + "; ".join(reasons or ["stopped (Ctrl-C) before the first"])
        )
    kept = _non_dominated(points)
    kept.sort(key=lambda pt: (pt.children_moved, pt.mean_distance_m))
    return Frontier([replace(pt, label=frontier_label(k)) for k, pt in enumerate(kept)], not_run)


def frontier_label(k: int) -> str:
    """The label of the ``k``-th alternative (from 0): A … Z, then AA, AB, … as spreadsheet columns go (the
    27th was "[", then "\\", a folder name no planner would guess)."""
    label = ""
    k += 1
    while k > 0:
        k, rest = divmod(k - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def _run(blocks, schools, kind: str, value: float, soft_seats: bool, options: SolveOptions, rules: dict):
    """One point of the frontier: the plan at move penalty ``value``, or under the cap ``value`` on children
    moved; a point left out is the reason why, in words (and a warning: one run that finds no plan does not
    end the others), or :class:`_NotRun` once ``options.stop`` is set (Ctrl-C).  Module-level, so a Dask
    worker can run it."""
    if options.stopped:
        return _NotRun(_what(kind, value))
    if kind == "cap":
        return _capped(blocks, schools, value, soft_seats=soft_seats, options=options, rules=rules)
    try:
        plan = assign_zones(blocks, schools, move_penalty_m=value, options=options, **rules)
    except InputError:
        raise
    except ZoningError as err:
        return _left_out(_what("penalty", value), err)
    point = _point(plan, value)
    log.info("frontier: penalty %g m: %.1f moved, mean trip %.0f m", value, point.children_moved,
             point.mean_distance_m)  # fmt: skip
    return point


def _what(kind: str, value: float) -> str:
    return f"at most {value:,.0f} children moved" if kind == "cap" else f"move penalty {value:,.0f} m"


#: Seconds between two looks at the workers' runs and at the stop (Ctrl-C).
POLL_S = 0.1


def _gather(client, futures: list, runs: list, options: SolveOptions) -> list:
    """The workers' results in the order of ``runs``, each run's log logged here as if run here.  Ctrl-C
    (``options.stop``, which does not travel to the workers) cancels the runs not finished: they are
    :class:`_NotRun`, where every run went on to its end before (a minute and more of a long frontier)."""
    found: list = [None] * len(futures)
    records: list = [()] * len(futures)
    while any(x is None for x in found):
        for k, future in enumerate(futures):
            if found[k] is None and future.done():
                found[k], records[k] = future.result()
        if options.stopped and any(x is None for x in found):
            client.cancel([f for f, x in zip(futures, found, strict=True) if x is None])
            found = [_NotRun(_what(*run)) if x is None else x for x, run in zip(found, runs, strict=True)]
        elif any(x is None for x in found):
            time.sleep(POLL_S)
    for kept in records:
        for level, message in kept:
            log.log(level, "%s", message)
    return found


def _run_logged(*args) -> tuple:
    """:func:`_run` on a Dask worker, with what it logged (level, message) kept and returned beside its result,
    for the caller to log as its own: the worker has no handler of the command line's, so its warnings were
    printed there bare (no "warning:"), even with -q, and once per run."""
    kept: list[tuple[int, str]] = []
    ident = threading.get_ident()
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda r: (  # this run's records (another thread of the worker keeps its own), no progress
        kept.append((r.levelno, r.getMessage())) if r.thread == ident and not hasattr(r, "progress") else None
    )
    with logged_to(handler):
        return _run(*args), kept


def _point(plan: Plan, penalty: float, *, cap: float | None = None, note: str = "") -> FrontierPoint:
    if plan.info.stopped:
        note = "; ".join([*([note] if note else []), "stopped early (Ctrl-C): the best plan found so far"])
    totals = summary(plan)["totals"]
    over = float(plan.schools["overload"].sum()) if "overload" in plan.schools else 0.0
    return FrontierPoint(
        label="",
        move_penalty_m=penalty,
        plan=plan,
        children_moved=float(totals["children_moved"]),
        mean_distance_m=float(totals["mean_distance_m"]),
        children_over=over,
        max_moved=cap,
        note=note,
    )


def _capped(blocks, schools, cap: float, *, soft_seats: bool, options: SolveOptions, rules: dict):
    """The shortest trips moving at most ``cap`` children; where the seats do not allow it, the fewest
    children over seats under the cap (``soft_seats``), or the reason it is left out (:func:`_left_out`)."""
    try:
        plan = assign_zones(blocks, schools, move_penalty_m=0.0, max_moved=cap, options=options, **rules)
        log.info("frontier: cap %g moved: %.1f moved", cap, summary(plan)["totals"]["children_moved"])
        return _point(plan, 0.0, cap=cap)
    except InputError:
        raise
    except ZoningError as err:  # proven impossible (InfeasibleError), or none found in its time
        if isinstance(err, InfeasibleError):
            why = "proven: " + "; ".join(err.reasons)
        else:
            why = f"none found in {options.time_limit_s:,.0f} s"
        if not soft_seats or rules.get("allow_overload"):
            return _left_out(_what("cap", cap), err)
    soft = {**rules, "allow_overload": True}
    try:
        plan = assign_zones(blocks, schools, move_penalty_m=0.0, max_moved=cap, options=options, **soft)
    except InputError:
        raise
    except ZoningError as err:  # not even with schools over their seats (the one-piece rule), or none found
        return _left_out(_what("cap", cap) + ", even over seats", err)
    over = float(plan.schools["overload"].sum()) if "overload" in plan.schools else 0.0
    note = f"no plan within seats moves at most {cap:,.0f} ({why}); the fewest over seats under the cap: {over:,.0f}"
    log.info("frontier: cap %g moved: %s", cap, note)
    return _point(plan, 0.0, cap=cap, note=note)


def _left_out(what: str, err: ZoningError) -> str:
    """The warning for a point left out, and its reason (the run's own message on one line, its fix whole: a
    cut at 400 characters ended a cap's warning in "--no-conti …"); the frontier sets the cap itself, so
    "raise --max-moved" (a flag it refuses) is said as raising the cap."""
    text = " ".join(str(err).split()).replace("raise --max-moved", "raise the cap (--caps)")
    reason, sep, fix = text.partition(" Fix: ")
    if len(reason) > 400:
        reason = reason[:400] + " …"
    why = f"{what}: left out, {reason}{sep}{fix}"
    log.warning("frontier: %s", why)
    return why


def _non_dominated(points: list[FrontierPoint]) -> list[FrontierPoint]:
    """Points no other point beats or equals on (children over seats, children moved, mean trip), one of
    each equal set (the first, the smaller penalty)."""
    keys = np.array([[pt.children_over, pt.children_moved, pt.mean_distance_m] for pt in points])
    keys = np.round(keys, 3)
    out = []
    for k, pt in enumerate(points):
        others = np.delete(keys, k, axis=0)
        beaten = ((others <= keys[k]).all(axis=1) & (others < keys[k]).any(axis=1)).any()
        same_before = (keys[:k] == keys[k]).all(axis=1).any()
        if not beaten and not same_before:
            out.append(pt)
    return out


def frontier_table(points: list[FrontierPoint]) -> pd.DataFrame:
    """One row per point: label, move penalty, children moved, mean and max trip, children over seats,
    zones in pieces, status and proven gap."""
    rows = []
    for pt in points:
        s = summary(pt.plan)
        rows.append(
            {
                "alternative": pt.label,
                "move_penalty_m": pt.move_penalty_m,
                "max_moved": pt.max_moved,
                "children_moved": round(pt.children_moved, 1),
                "mean_distance_m": round(pt.mean_distance_m, 1),
                "max_distance_m": s["totals"]["max_distance_m"],
                "children_over_seats": round(pt.children_over, 1),
                "zones_in_pieces": s["totals"]["zones_not_contiguous"],
                "status": pt.plan.info.status,
                "gap": round(pt.plan.info.gap, 6),
                "note": pt.note,
            }
        )
    return pd.DataFrame(rows)


#: column → (heading, format) of ``frontier.md``.
_COLUMNS = {
    "alternative": ("方案 alternative", "{}"),
    "move_penalty_m": ("调整代价 move penalty (m)", "{:,.0f}"),
    "max_moved": ("调整上限 cap on moved", "{:,.0f}"),
    "children_moved": ("调整 children moved", "{:,.0f}"),
    "mean_distance_m": ("平均距离 mean m", "{:,.0f}"),
    "max_distance_m": ("最远 max m", "{:,.0f}"),
    "children_over_seats": ("超额 children over seats", "{:,.0f}"),
    "zones_in_pieces": ("不连片 zones in pieces", "{:,.0f}"),
    "status": ("状态 status", "{}"),
    "gap": ("差距 proven gap", "{:.2%}"),
    "note": ("说明 note", "{}"),
}


def frontier_markdown(table: pd.DataFrame) -> str:
    """The frontier table as Markdown (``frontier.md``)."""
    return markdown_table(
        table, _COLUMNS, title="备选方案 alternatives", text=("alternative", "status", "note")
    )
