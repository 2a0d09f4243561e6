"""School districts (学区) and education groups (教育集团) on arrays: frames become arrays here.

Notation (shared with ``model``, ``bound``, ``start`` and ``search``): schools ``i`` (n of them), lead candidates ``l`` (a subset of
the schools), districts ``k`` (K of them, one per chosen lead), candidate pairs ``a = (i, l)``: school i may
join the district led by l.  The pair (l, l) is "l leads a district".

Per school: seats ``seats_i`` (0 when unknown), children ``children_i`` (from the attendance zones drawn
first, or the enrolment column; 0 when unknown), quality ``q_i`` (NaN when unknown), the objective weight
``w_i`` (children where known, else seats, else 1: the plan keeps the children — or seats, or schools —
close to their district's lead) and ``hq_i`` (a high-quality school: counts for the coverage rate).

Balance is a band around the average district: ``count_band`` (schools per district, lead included),
``seats_band`` / ``children_band`` (absolute, from the tolerances), ``quality_band`` (the district's mean
quality over schools with a known quality).  A band is None when its data are missing.

Costs: ``pair_cost[a] = w_i · d(i, l)`` in weight-metres (straight line in the metric CRS).

Plan checks (the solver's own, on ``lead_of``: the lead school of every school's district;
``check.verify`` is the independent one): :func:`district_pieces`, :func:`band_excess`, :func:`coverage`,
:func:`is_valid`.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from ..errors import InputError, Issue, number_issue
from ..geo.graph import components, edges_to_csr, require_metric

__all__ = [
    "DistrictProblem",
    "Requirement",
    "build_district_problem",
    "resolve_schools",
    "DEFAULT_LEAD_CANDIDATES",
    "district_pieces",
    "band_excess",
]

log = logging.getLogger(__name__)

#: Nearest lead candidates a school may join (all of them when there are at most twice as many).
DEFAULT_LEAD_CANDIDATES = 24
#: Quality values are scaled to integers for the solver: hundredths of a quality point.
QUALITY_SCALE = 100


@dataclass(frozen=True)
class Requirement:
    """Each district holds at least ``at_least`` schools of ``members`` (a tag, a stage, a mixing side)."""

    label: str  # in the planner's words: 'a school with 特色 = 科技', 'junior_middle schools'
    members: np.ndarray  # (n,) bool
    at_least: int


@dataclass(frozen=True)
class DistrictProblem:
    """A districting problem on arrays (see the module docstring)."""

    school_ids: np.ndarray  # (n,) str
    school_names: np.ndarray  # (n,) str
    xy: np.ndarray  # (n, 2) metric
    seats: np.ndarray  # (n,) int64
    children: np.ndarray  # (n,) int64
    quality: np.ndarray  # (n,) float, NaN unknown
    weight: np.ndarray  # (n,) int64, objective weight
    weight_label: str  # children | seats | schools
    hq: np.ndarray  # (n,) bool
    lead_ok: np.ndarray  # (n,) bool
    pinned: np.ndarray  # (n,) bool
    edges: np.ndarray  # (E, 2) school adjacency, i < j
    n_districts: int
    pair_school: np.ndarray  # (A,) int64, sorted by school then distance
    pair_lead: np.ndarray  # (A,) int64
    pair_dist_m: np.ndarray  # (A,) int64
    count_band: tuple[int, int]
    seats_band: tuple[int, int] | None
    children_band: tuple[int, int] | None
    quality_band: tuple[float, float] | None
    together: np.ndarray  # (P, 2)
    apart: np.ndarray  # (Q, 2)
    requirements: tuple[Requirement, ...]
    min_coverage: float | None
    contiguity: bool
    max_lead_distance_m: float | None
    hq_rule: str  # how high quality was decided, for messages ("quality ≥ 85", "重点 flag")
    balance_note: str  # what is balanced, and what could not be for lack of data
    missing_data: tuple[str, ...] = ()  # seats / children / quality: not in the data, so not balanced
    #: each school may join only its ``lead_reach`` nearest lead candidates (a rule of the model, not of the
    #: planner); None when every school has every lead candidate (the distance limit aside).  A model found
    #: infeasible under the reach proves nothing about groupings with farther leads.
    lead_reach: int | None = None

    @property
    def n(self) -> int:
        return len(self.school_ids)

    @cached_property
    def pair_cost(self) -> np.ndarray:
        return self.weight[self.pair_school] * self.pair_dist_m

    @cached_property
    def quality_int(self) -> np.ndarray:
        """Quality in hundredths, 0 where unknown (``quality_known`` tells which)."""
        q = np.where(np.isnan(self.quality), 0.0, self.quality)
        return np.rint(q * QUALITY_SCALE).astype(np.int64)

    @cached_property
    def quality_known(self) -> np.ndarray:
        return ~np.isnan(self.quality)

    @cached_property
    def band_units(self) -> dict[str, float]:
        """The unit each rule's band excess is counted in: an average district's schools, seats and
        children, and for mean quality the quality range times an average district's schools (one school
        a whole range off).  ``_excess_of``, the repair windows' totals and the annealing share it."""
        k = self.n_districts
        q = self.quality[self.quality_known]
        q_range = float(q.max() - q.min()) if len(q) else 0.0
        return {
            "count": self.n / k,
            "seats": max(float(self.seats.sum()) / k, 1e-9),
            "children": max(float(self.children.sum()) / k, 1e-9),
            "quality": max(q_range, 1e-9) * max(self.n / k, 1),
        }

    @cached_property
    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        adj = edges_to_csr(self.n, self.edges)
        return adj.indptr, adj.indices

    @cached_property
    def _pair_keys(self) -> tuple[np.ndarray, np.ndarray]:
        keys = self.pair_school * self.n + self.pair_lead
        order = np.argsort(keys)
        return keys[order], order

    def pair_index(self, schools, leads) -> np.ndarray:
        """Index of the pair (school, lead) for each element (broadcast), -1 where it is not a candidate."""
        keys, order = self._pair_keys
        want = np.asarray(schools, dtype=np.int64) * self.n + np.asarray(leads, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
        hit = keys[pos] == want if len(keys) else np.zeros(np.shape(want), dtype=bool)
        return np.where(hit, order[pos], -1)

    def cost_of(self, lead_of: np.ndarray) -> int:
        """Objective of a plan given as the lead of every school (weight-metres)."""
        d = np.rint(np.hypot(*(self.xy - self.xy[lead_of]).T)).astype(np.int64)
        return int((self.weight * d).sum())


#: Band of schools per district around the average, as a share of it, beside seats and children.
COUNT_TOLERANCE = 0.5
#: The same where the number of schools is the only size measure (no seats, no children in the data).
COUNT_ONLY_TOLERANCE = 0.2


def resolve_schools(
    names: Sequence[str], school_ids: np.ndarray, school_names: np.ndarray, *, what: str
) -> list[int]:
    """Indices of schools named by id or name; one InputError lists every unknown one with the closest match."""
    index = {str(s): i for i, s in enumerate(school_ids)}
    for i, s in enumerate(school_names):
        index.setdefault(str(s), i)
    out, issues = [], []
    for name in names:
        name = str(name).strip()
        if name in index:
            out.append(index[name])
            continue
        close = difflib.get_close_matches(name, list(index), n=1, cutoff=0.5)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        issues.append(
            Issue(
                message=f'{what}: no school is called "{name}"{hint}',
                fix="name the school by its id or its name exactly as in the schools file",
                value=name,
            )
        )
    if issues:
        raise InputError(issues)
    return out


def _band(total: float, k: int, tolerance: float) -> tuple[int, int]:
    mean = total / k
    return int(math.floor(mean * (1 - tolerance))), int(math.ceil(mean * (1 + tolerance)))


def _is_flag(values: np.ndarray) -> bool:
    known = values[~np.isnan(values)]
    return len(known) > 0 and set(np.unique(known)) <= {0.0, 1.0}


def build_district_problem(
    schools: gpd.GeoDataFrame,
    edges: np.ndarray,
    *,
    n_districts: int,
    children: np.ndarray | None = None,
    lead_candidates: Sequence[str] | None = None,
    pinned_leads: Sequence[str] = (),
    lead_min_quality: float | None = None,
    min_members: int | None = None,
    max_members: int | None = None,
    seats_tolerance: float = 0.15,
    children_tolerance: float = 0.15,
    quality_tolerance: float | None = 0.15,
    together: Sequence[tuple[str, str]] = (),
    apart: Sequence[tuple[str, str]] = (),
    requirements: Sequence[tuple[str, np.ndarray, int]] = (),
    min_coverage: float | None = None,
    contiguity: bool = True,
    max_lead_distance_m: float | None = None,
    candidates: int = DEFAULT_LEAD_CANDIDATES,
) -> DistrictProblem:
    """Arrays from the projected schools frame (school_id, name, capacity, quality) and the school graph.

    children: children per school (None: none known).  quality_tolerance is a fraction of the quality
    range (max − min over the schools), so it means the same for a 0/1 key-school flag, tiers 1–3 or a
    pass rate; None leaves quality unbalanced.  Parameters a planner can get wrong raise InputError.
    """
    require_metric(schools, "schools")
    n = len(schools)
    k = int(n_districts)
    ids = schools["school_id"].astype(str).to_numpy()
    names = schools["name"].astype(str).to_numpy() if "name" in schools else ids
    xy = shapely.get_coordinates(schools.geometry.values)
    issues: list[Issue] = []
    if not 1 <= k <= n:
        issues.append(
            Issue(
                f"{k} districts asked for {n} schools: every district needs at least its lead school",
                fix=f"ask for between 1 and {n} districts (--districts)",
                value=k,
            )
        )
    tolerances = [  # a string or NaN too
        number_issue(name, tol, low=0, high=1, high_open=True,
                     fix=f"give a fraction of the average, e.g. {name}=0.15.")
        for name, tol in (("seats_tolerance", seats_tolerance), ("children_tolerance", children_tolerance))
    ] + [
        None if quality_tolerance is None else number_issue("quality_tolerance", quality_tolerance, low=0, high=1,
            fix="give a fraction of the quality range, e.g. quality_tolerance=0.15, or None not to balance quality."),
        None if min_coverage is None else number_issue("min_coverage", min_coverage, low=0, high=1,
            fix="give the share of children, e.g. min_coverage=0.85 for 85 %."),
    ]  # fmt: skip
    issues += [i for i in tolerances if i is not None]
    # silently read before: min_members=-1 as no minimum, lead_min_quality=nan as no lead, a negative
    # max_lead_distance_m as a rule no school keeps
    members = [
        None if min_members is None else number_issue("min_members", min_members, low=0, whole=True,
                                                      fix="give the fewest member schools besides the lead, e.g. 2."),
        None if max_members is None else number_issue("max_members", max_members, low=0, whole=True,
                                                      fix="give the most member schools besides the lead, e.g. 5."),
    ]  # fmt: skip
    others = [
        None if max_lead_distance_m is None else number_issue("max_lead_distance_m", max_lead_distance_m, low=0,
                                                              low_open=True, fix="give metres, e.g. 5000."),
        None if lead_min_quality is None else number_issue("lead_min_quality", lead_min_quality,
                                                           fix="give the lowest quality a lead may have."),
    ]  # fmt: skip
    issues += [i for i in members + others if i is not None]
    members_given = not any(i is not None for i in members)
    if members_given and min_members is not None and max_members is not None and min_members > max_members:
        issues.append(
            Issue(
                f"at least {min_members} and at most {max_members} member schools cannot both hold",
                "make --min-members at most --max-members",
            )
        )
    if issues:
        raise InputError(issues)

    seats_raw = schools["capacity"].to_numpy(dtype=float) if "capacity" in schools else np.full(n, np.nan)
    has_seats = bool(np.isfinite(seats_raw).all() and seats_raw.sum() > 0)
    seats = np.rint(np.nan_to_num(seats_raw)).astype(np.int64)
    if children is not None:
        children = np.asarray(children, dtype=float)
    has_children = children is not None and bool(np.isfinite(children).all() and children.sum() > 0)
    kids = np.rint(np.nan_to_num(children)).astype(np.int64) if has_children else np.zeros(n, np.int64)
    quality = schools["quality"].to_numpy(dtype=float) if "quality" in schools else np.full(n, np.nan)
    has_quality = bool((~np.isnan(quality)).any())

    if has_children:
        weight, weight_label = np.maximum(kids, 0), "children"
    elif has_seats:
        weight, weight_label = np.maximum(seats, 0), "seats"
    else:
        weight, weight_label = np.ones(n, np.int64), "schools"

    # --- high quality and lead candidates
    if not has_quality:
        hq = np.zeros(n, dtype=bool)
        hq_rule = "no quality data"
    elif lead_min_quality is not None:
        hq = quality >= lead_min_quality
        hq_rule = f"quality ≥ {lead_min_quality:g}"
    elif _is_flag(quality):
        hq = quality >= 1
        hq_rule = "the key-school (重点/优质) flag"
    else:
        top = float(np.nanmax(quality))
        distinct = np.unique(quality[~np.isnan(quality)])
        if len(distinct) <= 5:  # tiers: the top tier
            hq, hq_rule = quality >= top, f"the top quality tier ({top:g})"
        else:  # a score: the top quarter
            cut = float(np.nanpercentile(quality, 75))
            hq, hq_rule = quality >= cut, f"quality ≥ {cut:g} (the top quarter)"
    hq = np.where(np.isnan(quality), False, hq)
    pinned = np.zeros(n, dtype=bool)
    pinned[resolve_schools(pinned_leads, ids, names, what="pinned lead")] = True
    if lead_candidates is not None:
        lead_ok = np.zeros(n, dtype=bool)
        lead_ok[resolve_schools(lead_candidates, ids, names, what="lead candidate")] = True
        lead_rule = "the schools named as lead candidates"
    elif has_quality and min_coverage is None:
        lead_ok = hq.copy()
        lead_rule = f"schools with {hq_rule}"
    elif has_quality:  # a coverage rate asked for: districts without a high-quality school are allowed
        lead_ok = np.ones(n, dtype=bool)
        lead_rule = "any school (a coverage rate is asked for, so a district may hold no high-quality school)"
    else:
        lead_ok = np.ones(n, dtype=bool)
        lead_rule = "any school (no quality data)"
    lead_ok |= pinned

    # --- balance bands
    mean_count = n / k
    # the number of schools is a loose size measure beside seats and children (±50 %); where it is the only one
    # it is the size, and "roughly equal numbers of schools" is ±20 % (Beijing 829 → 40: 10 to 32 schools per
    # district under ±50 %, 16 to 25 under ±20 %)
    only_count = not has_seats and not has_children
    tol_c = COUNT_ONLY_TOLERANCE if only_count else COUNT_TOLERANCE
    lo_c = max(1, int(math.floor((1 - tol_c) * mean_count))) if min_members is None else min_members + 1
    hi_c = max(lo_c, int(math.ceil((1 + tol_c) * mean_count))) if max_members is None else max_members + 1
    count_band = (lo_c, hi_c)
    seats_band = _band(float(seats.sum()), k, seats_tolerance) if has_seats else None
    children_band = _band(float(kids.sum()), k, children_tolerance) if has_children else None
    quality_band = None
    if has_quality and quality_tolerance is not None:
        known = quality[~np.isnan(quality)]
        spread = float(known.max() - known.min())
        mean_q = float(known.mean())
        quality_band = (mean_q - quality_tolerance * spread, mean_q + quality_tolerance * spread)
    counted = f"schools ({lo_c}–{hi_c} per district" + (", the only size measure)" if only_count else ")")
    balanced = [counted] + (["seats"] if has_seats else []) + (["children"] if has_children else [])
    balanced += ["mean quality"] if quality_band else []
    missing = [
        w for w, ok in (("seats", has_seats), ("children", has_children), ("quality", has_quality)) if not ok
    ]
    balance_note = "balanced: " + ", ".join(balanced)
    if missing:
        # a measure known for some schools only is said so, not called "no data"
        known_of = {"seats": np.isfinite(seats_raw), "children": np.isfinite(children) if children is not None
                    else np.zeros(n, bool), "quality": ~np.isnan(quality)}  # fmt: skip
        words = [
            f"{w} (known for {int(known_of[w].sum())} of {n} schools)"
            if known_of[w].any()
            else f"{w} (no data)"
            for w in missing
        ]
        balance_note += f"; not balanced: {', '.join(words)}"
        if has_children and not has_seats and np.isfinite(seats_raw).any():
            # the rule that a district's seats cover its children needs every school's seats
            balance_note += "; seats not checked against children (a district may hold fewer)"

    # --- candidate pairs: the nearest lead candidates of every school, and every lead with itself
    leads = np.flatnonzero(lead_ok)
    pair_i, pair_l = [np.flatnonzero(lead_ok)], [leads]
    if len(leads):
        # a district of up to hi_c schools reaches about that many schools from its lead: at least twice as
        # many candidates, so dense lead candidates (any school may lead) do not cut a large district short
        candidates = max(candidates, 2 * hi_c)
        m = len(leads) if len(leads) <= 2 * candidates else candidates
        tree = cKDTree(xy[leads])
        upper = np.inf if max_lead_distance_m is None else max_lead_distance_m + 0.5  # the bound is strict
        dist, idx = tree.query(xy, k=m, distance_upper_bound=upper)
        dist, idx = dist.reshape(n, m), idx.reshape(n, m)
        ok = np.isfinite(dist)
        pair_i.append(np.repeat(np.arange(n), m)[ok.ravel()])
        pair_l.append(leads[idx.ravel()[ok.ravel()]])
    pi = np.concatenate(pair_i).astype(np.int64)
    pl = np.concatenate(pair_l).astype(np.int64)
    # a lead candidate never joins another district as a member if it is pinned as a lead
    keep = ~pinned[pi] | (pi == pl)
    pairs = np.unique(np.stack([pi[keep], pl[keep]], axis=1), axis=0)
    pi, pl = pairs[:, 0], pairs[:, 1]
    dist = np.rint(np.hypot(*(xy[pi] - xy[pl]).T)).astype(np.int64)
    order = np.lexsort((dist, pi))
    pi, pl, dist = pi[order], pl[order], dist[order]

    together_idx = np.array(
        [resolve_schools(pair, ids, names, what="schools that must share a district") for pair in together],
        dtype=np.int64,
    ).reshape(-1, 2)
    apart_idx = np.array(
        [resolve_schools(pair, ids, names, what="schools that must not share a district") for pair in apart],
        dtype=np.int64,
    ).reshape(-1, 2)
    reqs = tuple(
        Requirement(label=str(label), members=np.asarray(mask, dtype=bool), at_least=int(at_least))
        for label, mask, at_least in requirements
    )
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    problem = DistrictProblem(
        school_ids=ids,
        school_names=names,
        xy=xy,
        seats=seats,
        children=kids,
        quality=quality,
        weight=weight.astype(np.int64),
        weight_label=weight_label,
        hq=hq,
        lead_ok=lead_ok,
        pinned=pinned,
        edges=edges,
        n_districts=k,
        pair_school=pi,
        pair_lead=pl,
        pair_dist_m=dist,
        count_band=count_band,
        seats_band=seats_band,
        children_band=children_band,
        quality_band=quality_band,
        together=together_idx,
        apart=apart_idx,
        requirements=reqs,
        min_coverage=min_coverage,
        contiguity=contiguity,
        max_lead_distance_m=max_lead_distance_m,
        hq_rule=hq_rule
        if lead_candidates is None and min_coverage is None
        else f"{hq_rule}; leads: {lead_rule}",
        balance_note=balance_note,
        missing_data=tuple(missing),
        lead_reach=None if not len(leads) or m == len(leads) else m,
    )
    log.info(
        "districts: %d schools → %d districts; %d lead candidates (%s); %d candidate pairs; %s",
        n,
        k,
        int(lead_ok.sum()),
        lead_rule,
        len(pi),
        balance_note,
    )
    return problem


# ------------------------------------------------------------------------------------------ plan checks


def district_pieces(p: DistrictProblem, lead_of: np.ndarray, leads=None) -> list[tuple[int, np.ndarray]]:
    """Pieces of districts cut off from their lead: (lead, schools of the piece)."""
    out = []
    if not p.contiguity:
        return out
    for lead in np.unique(lead_of) if leads is None else leads:
        members = np.flatnonzero(lead_of == lead)
        if len(members) <= 1:
            continue
        count, label = components(p.n, p.edges, members)
        if count <= 1:
            continue
        main = label[lead]
        for c in range(count):
            if c != main:
                out.append((int(lead), np.flatnonzero(label == c)))
    return out


def _stats(p: DistrictProblem, lead_of: np.ndarray) -> dict[str, np.ndarray]:
    """Per district (indexed by lead school), the sums the bands look at."""
    n = p.n
    known = p.quality_known
    out = {
        "count": np.bincount(lead_of, minlength=n),
        "seats": np.bincount(lead_of, weights=p.seats, minlength=n),
        "children": np.bincount(lead_of, weights=p.children, minlength=n),
        "qsum": np.bincount(lead_of[known], weights=p.quality[known], minlength=n),
        "qn": np.bincount(lead_of[known], minlength=n),
    }
    for r, req in enumerate(p.requirements):
        out[f"req{r}"] = np.bincount(lead_of[req.members], minlength=n)
    return out


def _excess_of(p: DistrictProblem, s: dict[str, np.ndarray], leads: np.ndarray) -> np.ndarray:
    """Band excess of the districts led by ``leads``, each rule normalised by its average district
    (``DistrictProblem.band_units``)."""
    u = p.band_units
    ex = np.zeros(len(leads))

    def band(v, lo, hi, unit):
        return (np.maximum(0, lo - v) + np.maximum(0, v - hi)) / unit

    lo, hi = p.count_band
    ex += band(s["count"][leads], lo, hi, u["count"])
    if p.seats_band is not None:
        ex += band(s["seats"][leads], *p.seats_band, u["seats"])
    if p.children_band is not None:
        ex += band(s["children"][leads], *p.children_band, u["children"])
        if p.seats_band is not None:
            ex += np.maximum(0, s["children"][leads] - s["seats"][leads]) / u["children"]
    if p.quality_band is not None:
        qn = s["qn"][leads]
        qlo, qhi = p.quality_band
        total = s["qsum"][leads]
        ex += band(total, qlo * qn, qhi * qn, u["quality"])
    for r, req in enumerate(p.requirements):
        ex += np.maximum(0, req.at_least - s[f"req{r}"][leads])
    return ex


def band_excess(p: DistrictProblem, lead_of: np.ndarray) -> float:
    """Total (normalised) amount by which a grouping misses its bands and requirements (0: none)."""
    leads = np.unique(lead_of)
    total = float(_excess_of(p, _stats(p, lead_of), leads).sum())
    for a, b in p.together:
        total += float(lead_of[a] != lead_of[b])
    for a, b in p.apart:
        total += float(lead_of[a] == lead_of[b])
    if p.min_coverage is not None:
        total += max(0.0, p.min_coverage - coverage(p, lead_of)) * 10
    return total


def coverage(p: DistrictProblem, lead_of: np.ndarray) -> float:
    """Share of the weight (children, else seats, else schools) in districts holding a high-quality school."""
    covered = np.zeros(p.n, dtype=bool)
    covered[np.unique(lead_of[p.hq])] = True
    w = p.weight.astype(float)
    return float(w[covered[lead_of]].sum() / w.sum()) if w.sum() > 0 else 0.0


def is_valid(p: DistrictProblem, lead_of: np.ndarray) -> bool:
    """Every rule of the model holds (the solver's own check; ``verify`` is the independent one)."""
    leads = np.unique(lead_of)
    if len(leads) != p.n_districts or not np.all(lead_of[leads] == leads) or not p.lead_ok[leads].all():
        return False
    if not np.all(lead_of[np.flatnonzero(p.pinned)] == np.flatnonzero(p.pinned)):
        return False
    if (p.pair_index(np.arange(p.n), lead_of) < 0).any():
        return False
    return band_excess(p, lead_of) <= 1e-9 and not district_pieces(p, lead_of)
