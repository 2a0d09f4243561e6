"""The highest coverage rate (优质学校覆盖率) any grouping can reach: a proven ceiling from a relaxation.

The coverage rate is the share of the weight (children, else seats, else schools) in districts holding a
high-quality school.  ``--min-coverage 85%`` is then either met by a plan, or proven out of reach by this
ceiling, with the ceiling stated ("no grouping keeping the other rules covers more than 78.3 %").

The relaxation (every grouping keeping the rules is a solution of it, so its optimum is a ceiling):

* a covered district is *anchored* at its high-quality school of lowest index: a_h for every high-quality
  school h, x_(i, h) for school i in h's covered district, u_i for school i in an uncovered district;
  Σ_h x_(i, h) + u_i = 1, x_(h, h) = a_h, x_(i, h) ≤ a_h, and a high-quality school is never uncovered
  (its district holds it) nor a member of the district of a high-quality school anchored after it;
* the bands of every covered district hold (schools, seats, children, mean quality, seats ≥ children,
  required schools), and a lead candidate is among its schools;
* the D = K − Σ a_h uncovered districts hold the uncovered schools, so their totals lie within D times each
  band (schools, seats, children, quality sums, requirements), and at least D of them can lead;
* with one piece per district: a member of h's district has a neighbour in it, and lies within U − 1 steps
  of h on the adjacency graph (U the most schools a district may hold);
* with a lead-distance limit D_max: every member lies within 2·D_max of h (both are within D_max of the lead).

The rules left out (one piece beyond the neighbour rule, pinned leads, pairs that must or must not share a
district, the lead of a covered district being a candidate near every member) only loosen it.  CP-SAT
maximises the covered weight; its proven bound, not its best solution, is the ceiling, so a run that ends
early still gives a true ceiling (looser).  Solvers take and return plain data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model
from scipy.sparse.csgraph import shortest_path

from ..cpsat import run_cpsat
from ..geo.graph import edges_to_csr
from ..options import SolveOptions
from .problem import QUALITY_SCALE, DistrictProblem

log = logging.getLogger(__name__)

#: integer scale of the quality sums (quality in hundredths × this), so the band's ends round outward only
_Q_SCALE = 100
#: Above this many (high-quality school, school) pairs within reach the relaxation is not built (its Python
#: build alone takes about 3 s per 80,000 pairs) and the ceiling comes from counting alone
MAX_PAIRS = 100_000


@dataclass(frozen=True)
class CoverageCeiling:
    """What the relaxation proves about the coverage rate."""

    ceiling: float  # no grouping keeping the rules covers a larger share of the weight
    relaxed_best: float  # the best share the relaxation itself reached (≥ any plan's only if proven)
    proven_exact: bool  # the relaxation was solved to optimality (ceiling == relaxed_best)
    seconds: float
    out_of_reach: int  # schools no high-quality school's district can reach
    out_of_reach_weight: float  # their share of the weight
    min_uncovered_districts: int  # K − (high-quality schools): districts that cannot hold one
    weight_label: str
    no_grouping: bool = False  # the relaxation is infeasible: no grouping keeps the other rules at all

    def why(self) -> list[str]:
        """The reasons, in a planner's words, that the ceiling is what it is."""
        out = []
        if self.min_uncovered_districts > 0:
            out.append(
                f"{self.min_uncovered_districts} district(s) cannot hold a high-quality school (more districts "
                "than high-quality schools)"
            )
        if self.out_of_reach:
            out.append(
                f"{self.out_of_reach} school(s) ({self.out_of_reach_weight:.1%} of the {self.weight_label}) lie "
                "too far, in steps between neighbouring schools, from every high-quality school for a district "
                "within the size band to join them"
            )
        return out


def coverage_ceiling(p: DistrictProblem, options: SolveOptions, time_limit_s: float) -> CoverageCeiling:
    """The highest coverage rate any grouping of ``p`` keeping its rules can reach (proven ceiling)."""
    n, k = p.n, p.n_districts
    hq = np.flatnonzero(p.hq)
    w = p.weight.astype(np.int64)
    total = int(w.sum())
    lo_c, hi_c = p.count_band
    min_unc = max(0, k - len(hq))
    if total <= 0 or len(hq) == 0:
        return CoverageCeiling(0.0 if len(hq) == 0 else 1.0, 0.0, True, 0.0, 0, 0.0, min_unc, p.weight_label)

    # --- which schools each high-quality school's district can reach
    reach = np.ones((len(hq), n), dtype=bool)
    if p.contiguity and len(p.edges):
        hops = shortest_path(edges_to_csr(n, p.edges), unweighted=True, indices=hq, directed=False)
        reach &= hops <= hi_c - 1
    elif p.contiguity:
        reach[:] = False
        reach[np.arange(len(hq)), hq] = True
    if p.max_lead_distance_m is not None:
        d = np.hypot(*(p.xy[hq][:, None, :] - p.xy[None, :, :]).transpose(2, 0, 1))
        reach &= d <= 2 * p.max_lead_distance_m + 1e-6
    # the anchor is the district's high-quality school of lowest index: no earlier one joins a later anchor
    reach[:, hq] &= np.triu(np.ones((len(hq), len(hq)), dtype=bool))  # row a keeps hq[a:] only
    reach[np.arange(len(hq)), hq] = True
    reachable = reach.any(axis=0)
    far = ~reachable
    far_weight = float(w[far].sum() / total)

    if int(reach.sum()) > MAX_PAIRS:  # the model would take longer to build than to be worth it: count only
        floor = _counted_floor(p, far, min_unc)
        log.info("coverage ceiling by counting only (%d anchor pairs)", int(reach.sum()))
        return CoverageCeiling(
            1.0 - floor / total, 0.0, False, 0.0, int(far.sum()), far_weight, min_unc, p.weight_label
        )

    # --- the model
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for a in range(len(hq)):
        for i in np.flatnonzero(reach[a]):
            x[a, int(i)] = m.new_bool_var("")
    u = [m.new_bool_var("") if not p.hq[i] else None for i in range(n)]
    anchor = [x[a, int(h)] for a, h in enumerate(hq)]
    by_school: dict[int, list] = {}
    for (_a, i), var in x.items():
        by_school.setdefault(i, []).append(var)
    for i in range(n):
        terms = by_school.get(i, [])
        if u[i] is not None:
            terms = terms + [u[i]]
        m.add_exactly_one(terms)
    members: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in hq]
    for (a, i), var in x.items():
        members[a].append((i, var))
        if i != hq[a]:
            m.add_implication(var, anchor[a])
    n_unc = m.new_int_var(min_unc, k, "uncovered_districts")
    m.add(n_unc == k - sum(anchor))

    def band(values: np.ndarray, lo: int, hi: int) -> None:
        values = np.asarray(values, dtype=np.int64)
        for a in range(len(hq)):
            expr = cp_model.LinearExpr.weighted_sum(
                [v for _, v in members[a]], [int(values[i]) for i, _ in members[a]]
            )
            m.add(expr >= lo * anchor[a])
            m.add(expr <= hi * anchor[a])
        free = [i for i in range(n) if u[i] is not None]
        expr = cp_model.LinearExpr.weighted_sum([u[i] for i in free], [int(values[i]) for i in free])
        m.add(expr >= lo * n_unc)
        m.add(expr <= hi * n_unc)

    def at_least_zero(values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.int64)
        for a in range(len(hq)):
            m.add(
                cp_model.LinearExpr.weighted_sum(
                    [v for _, v in members[a]], [int(values[i]) for i, _ in members[a]]
                )
                >= 0
            )
        free = [i for i in range(n) if u[i] is not None]
        m.add(cp_model.LinearExpr.weighted_sum([u[i] for i in free], [int(values[i]) for i in free]) >= 0)

    band(np.ones(n), lo_c, hi_c)
    if p.seats_band is not None:
        band(p.seats, *p.seats_band)
    if p.children_band is not None:
        band(p.children, *p.children_band)
        if p.seats_band is not None:
            at_least_zero(p.seats - p.children)
    if p.quality_band is not None:
        qlo, qhi = p.quality_band
        q = p.quality_int * _Q_SCALE
        known = p.quality_known
        # the band's ends rounded outward, and half a hundredth more for each school's rounded quality
        hi_int = math.ceil(qhi * QUALITY_SCALE * _Q_SCALE + 1e-6) + _Q_SCALE // 2
        lo_int = math.floor(qlo * QUALITY_SCALE * _Q_SCALE - 1e-6) - _Q_SCALE // 2
        at_least_zero(np.where(known, hi_int - q, 0))
        at_least_zero(np.where(known, q - lo_int, 0))
    for req in p.requirements:
        for a in range(len(hq)):
            m.add(sum(v for i, v in members[a] if req.members[i]) >= req.at_least * anchor[a])
        m.add(sum(u[i] for i in range(n) if u[i] is not None and req.members[i]) >= req.at_least * n_unc)
    for a in range(len(hq)):
        m.add(sum(v for i, v in members[a] if p.lead_ok[i]) >= anchor[a])
    m.add(sum(u[i] for i in range(n) if u[i] is not None and p.lead_ok[i]) >= n_unc)
    if p.contiguity:  # a member has a neighbour in its district
        indptr, indices = p.neighbours
        for (a, i), var in x.items():
            if i == hq[a]:
                continue
            nb = [x[a, int(j)] for j in indices[indptr[i] : indptr[i + 1]] if (a, int(j)) in x]
            if nb:
                m.add(var <= sum(nb))
            else:
                m.add(var == 0)
    # minimise the uncovered weight (CP-SAT minimises): covered = total − uncovered
    free = [i for i in range(n) if u[i] is not None]
    m.minimize(cp_model.LinearExpr.weighted_sum([u[i] for i in free], [int(w[i]) for i in free]))

    res = run_cpsat(m, options=options, time_limit_s=time_limit_s, quiet=True)
    if res.status == "infeasible":  # no grouping keeps the other rules at all: nothing can be covered
        ceiling, best, exact = 0.0, 0.0, True
    else:
        ceiling = 1.0 - max(0.0, res.bound, _counted_floor(p, far, min_unc)) / total
        best = 1.0 - res.objective / total if res.objective is not None else 0.0
        exact = res.status == "optimal"
    log.info(
        "coverage ceiling %.1f%% (relaxation %s in %.1fs, best %.1f%%; %d school(s) out of reach)",
        100 * ceiling,
        res.status,
        res.seconds,
        100 * best,
        int(far.sum()),
    )
    return CoverageCeiling(
        ceiling=min(1.0, ceiling),
        relaxed_best=best,
        proven_exact=exact,
        seconds=res.seconds,
        out_of_reach=int(far.sum()),
        out_of_reach_weight=far_weight,
        min_uncovered_districts=min_unc,
        weight_label=p.weight_label,
        no_grouping=res.status == "infeasible",
    )


def _counted_floor(p: DistrictProblem, far: np.ndarray, min_unc: int) -> float:
    """Least uncovered weight by counting alone (the relaxation's bound before CP-SAT improves it): the
    schools out of reach, then enough of the lightest other ordinary schools to fill the ``min_unc``
    districts that cannot hold a high-quality school to the least size of a district."""
    w = p.weight.astype(np.int64)
    floor = float(w[far].sum())
    need = min_unc * p.count_band[0] - int(far.sum())
    if need > 0:
        rest = np.sort(w[~far & ~p.hq])
        floor += float(rest[:need].sum())
    if p.weight_label == "children" and p.children_band is not None:
        floor = max(floor, float(min_unc * p.children_band[0]))
    elif p.weight_label == "seats" and p.seats_band is not None:
        floor = max(floor, float(min_unc * p.seats_band[0]))
    return floor
