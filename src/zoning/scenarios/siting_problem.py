"""New-school siting on arrays: the problem, its checks in the planner's words, and the independent plan check.

The capacitated p-median (i demand points, N of them; j candidate sites, M of them)::

    y_j ∈ {0, 1}          site j opens                     x_ij ∈ {0, 1}   point i goes to site j
    Σ_j x_ij = 1                    ∀ i    every point goes, whole, to one site
    Σ_i d_i x_ij ≤ Q_j y_j          ∀ j    seats (and only open sites take children)
    Σ_j y_j = p                            (or lo ≤ Σ_j y_j ≤ hi when p is free)
    y_j = 1                         j ∈ F  existing schools stay open
    min Σ_ij w_i c_ij x_ij + Σ_j f_j y_j

``c_ij`` is the distance (metres, or any unit: minutes, yuan per child); ``w_i`` what a unit of it costs for
point i — its children ``d_i`` by default (child-metres), 1 to count each point once (the OR-Library
convention); ``f_j`` the cost of opening site j (0 unless given: then p may be left free).  A pair with an
infinite cost is not allowed (beyond a travel cap, across a river).

Children and seats may be fractional; they are scaled to whole units (``scale`` 1, 10, 100 or 1000) and
seats rounded down.  The CP-SAT model needs whole costs: ``int_cost = round(cost · cost_scale)``, with
``cost_scale`` 1 when the costs are whole (the plan's cost then exact), else a power of ten that keeps
about seven significant digits; ``rounding`` bounds what the rounding can shift a plan's cost by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleError, InputError, Issue
from ..zones.problem import count_scale, fmt_children

__all__ = [
    "SitingProblem",
    "siting_problem",
    "check_seats",
    "plan_cost",
    "plan_violations",
]

#: Largest whole cost coefficient the CP-SAT model aims for when the costs must be rounded.
COST_DIGITS = 1e7


@dataclass(frozen=True)
class SitingProblem:
    """A siting problem on arrays (see the module docstring for the formulation and units)."""

    cost: np.ndarray  # (N, M) float: w_i c_ij, the objective's pair term (0 where not allowed)
    allowed: np.ndarray  # (N, M) bool: the pair may be used (finite cost, the point fits the site's seats)
    reach: np.ndarray  # (N, M) bool: the pair's cost is finite
    demand: np.ndarray  # (N,) int64, scaled children
    capacity: np.ndarray  # (M,) int64, scaled seats
    scale: int  # children per unit of demand and capacity (1, 10, 100, 1000)
    fixed: np.ndarray  # (M,) float: f_j
    forced: np.ndarray  # (M,) bool: open in every plan
    p: int | None  # sites to open, None when free
    lo: int  # fewest sites a plan opens (p, or what the seats and the forced sites imply)
    hi: int  # most sites a plan opens
    int_cost: np.ndarray  # (N, M) int64: round(cost · cost_scale)
    int_fixed: np.ndarray  # (M,) int64: round(fixed · cost_scale)
    cost_scale: float
    rounding: float  # a plan's cost moves by at most this when its terms are rounded (0 when exact)

    @property
    def n_points(self) -> int:
        return self.cost.shape[0]

    @property
    def n_sites(self) -> int:
        return self.cost.shape[1]

    @property
    def total_demand(self) -> int:
        return int(self.demand.sum())


def _cost_scale(terms: np.ndarray) -> float:
    """1 when every term is whole, else the power of ten that brings the largest to about COST_DIGITS."""
    if not len(terms) or np.allclose(terms, np.rint(terms), rtol=0, atol=1e-9):
        return 1.0
    top = float(np.abs(terms).max())
    return float(10 ** max(0, math.ceil(math.log10(COST_DIGITS / top)))) if top > 0 else 1.0


def _as_float(name: str, value, shape: tuple[int, ...], issues: list[Issue]) -> np.ndarray | None:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        issues.append(Issue(message=f"{name} is not an array of numbers", fix=f"pass {name} as numbers"))
        return None
    if arr.shape != shape:
        issues.append(
            Issue(
                message=f"{name} has shape {arr.shape}, expected {shape}",
                fix=f"give {name} one value per {'pair' if len(shape) == 2 else 'row'}",
            )
        )
        return None
    return arr


def _bad_rows(name: str, bad: np.ndarray, what: str, fix: str, issues: list[Issue]) -> None:
    rows = np.flatnonzero(bad)
    if len(rows):
        shown = ", ".join(str(int(r)) for r in rows[:8]) + (
            f" and {len(rows) - 8} more" if len(rows) > 8 else ""
        )
        issues.append(Issue(message=f"{name} at {shown}: {what}", fix=fix))


def siting_problem(
    cost: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    p: int | None,
    *,
    weight: np.ndarray | None = None,
    fixed_cost: np.ndarray | None = None,
    forced: np.ndarray | None = None,
    max_open: int | None = None,
) -> SitingProblem:
    """Check the arrays and build the problem; raises :class:`InputError` listing every problem found.

    ``forced`` takes site indices or a boolean mask over the sites.  With ``p`` None the number of open
    sites is free (up to ``max_open``): it then makes sense with ``fixed_cost`` (else every site opens)."""
    issues: list[Issue] = []
    cost_a = np.asarray(cost, dtype=np.float64) if np.ndim(cost) == 2 else None
    if cost_a is None:
        raise InputError([Issue(message="cost must be a matrix: demand points × candidate sites", fix="")])
    n, m = cost_a.shape
    if n == 0 or m == 0:
        raise InputError(
            [
                Issue(
                    message=f"cost is {n} × {m}: no demand points or no sites",
                    fix="pass at least one of each",
                )
            ]
        )
    d = _as_float("demand", demand, (n,), issues)
    q = _as_float("capacity", capacity, (m,), issues)
    w = _as_float("weight", weight, (n,), issues) if weight is not None else d
    f = _as_float("fixed_cost", fixed_cost, (m,), issues) if fixed_cost is not None else np.zeros(m)
    if np.isnan(cost_a).any() or (cost_a < 0).any():
        _bad_rows(
            "cost rows (demand points)",
            np.isnan(cost_a).any(axis=1) | (cost_a < 0).any(axis=1),
            "a cost is missing or negative",
            "give every pair a distance ≥ 0 (np.inf where the pair is not allowed)",
            issues,
        )
    for name, arr, fix in (
        ("demand", d, "give every demand point its children (0 or more)"),
        ("capacity", q, "give every site its seats (0 or more)"),
        ("weight", w, "give every demand point a weight ≥ 0"),
        ("fixed_cost", f, "give every site an opening cost ≥ 0"),
    ):
        if arr is not None:
            _bad_rows(name, ~np.isfinite(arr) | (arr < 0), "not a number ≥ 0", fix, issues)
    mask = np.zeros(m, dtype=bool)
    if forced is not None:
        fa = np.asarray(forced)
        if fa.dtype == bool:
            if fa.shape != (m,):
                issues.append(Issue(message=f"forced mask has shape {fa.shape}, expected ({m},)", fix=""))
            else:
                mask = fa.copy()
        elif fa.size and (not np.issubdtype(fa.dtype, np.integer) or fa.min() < 0 or fa.max() >= m):
            issues.append(
                Issue(message=f"forced sites must be indices 0 … {m - 1}", fix="pass site indices or a mask")
            )
        else:
            mask[fa.astype(np.int64)] = True
    n_forced = int(mask.sum())
    if p is not None and not (isinstance(p, int | np.integer) and 1 <= p <= m):
        issues.append(Issue(message=f"p = {p!r}: sites to open must be a whole number 1 … {m}", fix=""))
    elif p is not None and p < n_forced:
        issues.append(
            Issue(
                message=f"{n_forced} sites are forced open but p = {p}",
                fix=f"raise p to at least {n_forced} or force fewer sites",
            )
        )
    if max_open is not None:
        if p is not None:
            issues.append(Issue(message="give either p or max_open, not both", fix="drop max_open"))
        elif not (isinstance(max_open, int | np.integer) and max(1, n_forced) <= max_open):
            issues.append(
                Issue(
                    message=f"max_open = {max_open!r}, with {n_forced} sites forced open",
                    fix=f"allow at least {max(1, n_forced)} sites",
                )
            )
    if issues:
        raise InputError(issues, headline=f"{len(issues)} problem(s) in the siting inputs:")

    scale = count_scale(np.concatenate([d, q]))
    demand_s = np.rint(d * scale).astype(np.int64)
    capacity_s = np.floor(q * scale + 1e-9).astype(np.int64)  # seats never rounded up
    allowed = np.isfinite(cost_a) & (demand_s[:, None] <= capacity_s[None, :])
    pair = np.where(allowed, w[:, None] * np.where(np.isfinite(cost_a), cost_a, 0.0), 0.0)
    cost_scale = _cost_scale(np.concatenate([pair[allowed], f]))
    int_cost = np.rint(pair * cost_scale).astype(np.int64)
    int_fixed = np.rint(f * cost_scale).astype(np.int64)
    exact = np.array_equal(int_cost / cost_scale, pair) and np.array_equal(int_fixed / cost_scale, f)
    hi = int(p) if p is not None else int(max_open) if max_open is not None else m
    return SitingProblem(
        cost=pair,
        allowed=allowed,
        reach=np.isfinite(cost_a),
        demand=demand_s,
        capacity=capacity_s,
        scale=scale,
        fixed=f.astype(np.float64),
        forced=mask,
        p=int(p) if p is not None else None,
        lo=int(p) if p is not None else max(n_forced, _fewest_sites(capacity_s, mask, int(demand_s.sum()))),
        hi=hi,
        int_cost=int_cost,
        int_fixed=int_fixed,
        cost_scale=cost_scale,
        rounding=0.0 if exact else 0.5 * (n + hi) / cost_scale,
    )


def _fewest_sites(capacity: np.ndarray, forced: np.ndarray, total: int) -> int:
    """Fewest open sites whose seats can hold ``total`` children (the forced ones and the largest others)."""
    seats = int(capacity[forced].sum())
    count = int(forced.sum())
    for q in np.sort(capacity[~forced])[::-1]:
        if seats >= total:
            break
        seats += int(q)
        count += 1
    return count


def check_seats(problem: SitingProblem) -> None:
    """Cheap checks that no plan can pass, in the planner's words with numbers; raises InfeasibleError.

    Every demand point needs a site within reach with seats for all its children, and the most seats any
    allowed number of sites offers (the forced ones and the largest others) must hold every child."""
    p = problem
    s = p.scale
    reasons: list[str] = []
    fixes: list[str] = []
    bad = np.flatnonzero(~p.allowed.any(axis=1))
    for i in bad[:10]:
        children = fmt_children(p.demand[i], s)
        if not p.reach[i].any():
            reasons.append(f"demand point {i} ({children} children) has no site within reach")
            continue
        j = int(np.flatnonzero(p.reach[i])[np.argmax(p.capacity[p.reach[i]])])
        reasons.append(
            f"demand point {i} has {children} children, more than any site within its reach offers "
            f"(the largest, site {j}, has {fmt_children(p.capacity[j], s)} seats; "
            f"short {fmt_children(p.demand[i] - p.capacity[j], s)})"
        )
    if len(bad) > 10:
        reasons.append(f"… and {len(bad) - 10} more demand points")
    if len(bad):
        fixes.append(
            "add or enlarge a site within reach of those points, allow farther sites, or split the points"
        )
    total = p.total_demand
    others = np.sort(p.capacity[~p.forced])[::-1]
    k = p.hi - int(p.forced.sum())
    best = int(p.capacity[p.forced].sum() + others[:k].sum())
    if best < total:
        n_forced = int(p.forced.sum())
        if k >= len(others):
            what = f"all {p.n_sites} sites together offer"
        elif n_forced:
            what = f"the {n_forced} forced sites and the {k} largest others offer"
        else:
            what = f"the {p.hi} largest sites offer"
        reasons.append(
            f"{what} {fmt_children(best, s)} seats against {fmt_children(total, s)} children "
            f"(short {fmt_children(total - best, s)})"
        )
        need = _fewest_sites(p.capacity, p.forced, total)
        if need <= p.n_sites and int(p.capacity.sum()) >= total:
            name = "p" if p.p is not None else "max_open"
            fixes.append(f"open more sites ({name} = {need} at least), or add seats")
        else:
            fixes.append(f"add candidate sites or seats: {fmt_children(total - best, s)} more seats")
    if reasons:
        raise InfeasibleError(reasons, fixes, rule="capacity")


def plan_cost(problem: SitingProblem, open_sites: np.ndarray, assign: np.ndarray) -> float:
    """Σ_i w_i c_(i, assign_i) + Σ_(j open) f_j, in the problem's units."""
    p = problem
    return float(p.cost[np.arange(p.n_points), assign].sum() + p.fixed[open_sites].sum())


def plan_violations(problem: SitingProblem, open_sites: np.ndarray, assign: np.ndarray) -> list[str]:
    """Every rule the plan breaks, one line each (empty when it is a plan): the executable spec."""
    p = problem
    out: list[str] = []
    open_sites = np.asarray(open_sites, dtype=np.int64)
    assign = np.asarray(assign, dtype=np.int64)
    if assign.shape != (p.n_points,):
        return [f"assign has shape {assign.shape}, expected ({p.n_points},)"]
    if len(np.unique(open_sites)) != len(open_sites):
        out.append("a site is opened twice")
    is_open = np.zeros(p.n_sites, dtype=bool)
    is_open[open_sites] = True
    n_open = int(is_open.sum())
    if p.p is not None and n_open != p.p:
        out.append(f"{n_open} sites open, p = {p.p}")
    if not p.lo <= n_open <= p.hi:
        out.append(f"{n_open} sites open, allowed {p.lo} … {p.hi}")
    for j in np.flatnonzero(p.forced & ~is_open):
        out.append(f"site {j} is forced open but closed")
    if (assign < 0).any() or (assign >= p.n_sites).any():
        return out + ["a demand point has no site"]
    for i in np.flatnonzero(~is_open[assign]):
        out.append(f"demand point {i} goes to site {assign[i]}, which is closed")
    for i in np.flatnonzero(~p.allowed[np.arange(p.n_points), assign]):
        out.append(f"demand point {i} goes to site {assign[i]}, which it may not use")
    load = np.bincount(assign, weights=p.demand, minlength=p.n_sites)
    for j in np.flatnonzero(load > p.capacity):
        out.append(
            f"site {j} takes {fmt_children(load[j], p.scale)} children for "
            f"{fmt_children(p.capacity[j], p.scale)} seats"
        )
    return out
