"""Windows of the districts' search: which few neighbouring districts are re-grouped together.

``search`` solves each window exactly (the CP-SAT model of ``model`` on the window's schools, the rest of the
plan fixed).  Two kinds: an *improvement* window is a district and its neighbours, nearest first, up to a
number of schools; a *repair* window grows around a district that misses a band, one neighbour at a time,
the one that brings the window's totals nearest to what its districts need, until those totals fit (a window
whose totals miss cannot be mended from inside).
"""

from __future__ import annotations

import numpy as np

from .problem import DistrictProblem, _excess_of, _stats

__all__ = ["district_graph", "improvement_window", "repair_window"]


def district_graph(p: DistrictProblem, lead_of: np.ndarray) -> dict[int, set[int]]:
    e = p.edges
    a, b = lead_of[e[:, 0]], lead_of[e[:, 1]]
    out: dict[int, set[int]] = {int(lead): set() for lead in np.unique(lead_of)}
    for u, v in zip(a[a != b], b[a != b]):
        out[int(u)].add(int(v))
        out[int(v)].add(int(u))
    return out


def improvement_window(
    p: DistrictProblem, lead_of: np.ndarray, seed_lead: int, rng, max_schools: int, max_districts: int
) -> np.ndarray:
    """The seed district and neighbouring districts (nearest leads first, the two nearest always, the
    others in random order; then the neighbours' neighbours, so a district on the edge of the city with
    few neighbours still gets a window that can trade schools with the rest) up to ``max_schools``."""
    dist = lambda lead: np.hypot(*(p.xy[lead] - p.xy[seed_lead]))  # noqa: E731
    if p.contiguity:
        graph = district_graph(p, lead_of)
        near = sorted(graph[seed_lead], key=dist)
        near[2:] = rng.permutation(near[2:]).tolist() if len(near) > 3 else near[2:]
        second = set().union(*(graph[v] for v in near)) - set(near) - {seed_lead} if near else set()
        near += sorted(second, key=dist)
    else:
        leads = np.unique(lead_of)
        near = sorted(
            (int(v) for v in leads if v != seed_lead),
            key=lambda lead: np.hypot(*(p.xy[lead] - p.xy[seed_lead])),
        )[:6]
        near[2:] = rng.permutation(near[2:]).tolist() if len(near) > 3 else near[2:]
    chosen = [seed_lead]
    size = int((lead_of == seed_lead).sum())
    for lead in near:
        extra = int((lead_of == lead).sum())
        if size + extra > max_schools and len(chosen) >= 2:
            continue
        chosen.append(lead)
        size += extra
        if size >= max_schools or len(chosen) >= max_districts:
            break
    return np.flatnonzero(np.isin(lead_of, chosen))


def _window_shortfall(p: DistrictProblem, s: dict[str, np.ndarray], chosen: list[int]) -> float:
    """How far the districts ``chosen`` together are from holding what their number of districts needs
    (k·lo ≤ total ≤ k·hi for schools, seats and children, the mean quality in its band, seats covering
    children, the requirements), each rule normalised by its average district: 0 when a regrouping of
    them alone can keep every band, as far as totals tell."""
    k = len(chosen)
    total = {key: float(v[chosen].sum()) for key, v in s.items()}
    out = 0.0

    u = p.band_units

    def miss(v, lo, hi, unit):
        return (max(0.0, lo - v) + max(0.0, v - hi)) / unit

    out += miss(total["count"], k * p.count_band[0], k * p.count_band[1], u["count"])
    for key, band in (("seats", p.seats_band), ("children", p.children_band)):
        if band is not None:
            out += miss(total[key], k * band[0], k * band[1], u[key])
    if p.seats_band is not None and p.children_band is not None:
        out += max(0.0, total["children"] - total["seats"]) / u["children"]
    if p.quality_band is not None and total["qn"] > 0:
        qlo, qhi = p.quality_band
        out += miss(total["qsum"], qlo * total["qn"], qhi * total["qn"], u["quality"])
    for r, req in enumerate(p.requirements):
        out += max(0.0, k * req.at_least - total[f"req{r}"])
    return out


def repair_window(
    p: DistrictProblem, lead_of: np.ndarray, seed_lead: int, rng, max_schools: int, min_districts: int = 3
) -> np.ndarray:
    """A repair window around a district that misses a band: neighbouring districts are added one at a
    time, each time the one that brings the window's totals nearest to what its districts need (the
    districts that miss a band first at equal totals), until the totals fit and it holds at least
    ``min_districts`` districts, or it is full.  A window whose totals cannot fit cannot be repaired from
    inside: on the mixed 1,000 → 80 city every window of the four nearest districts around the worst one was proven
    unable to lower the excess."""
    s = _stats(p, lead_of)
    leads = np.unique(lead_of)
    own = dict(zip(leads.tolist(), _excess_of(p, s, leads).tolist()))
    graph = district_graph(p, lead_of) if p.contiguity else None
    chosen = [seed_lead]
    size = int(s["count"][seed_lead])
    while True:
        if p.contiguity:
            near = set().union(*(graph[c] for c in chosen)) - set(chosen)
        else:
            order = np.argsort(np.hypot(*(p.xy[leads] - p.xy[seed_lead]).T))
            near = {int(v) for v in leads[order[: len(chosen) + 6]]} - set(chosen)
        near = [v for v in near if size + s["count"][v] <= max_schools]
        if not near:
            break
        d0 = p.xy[seed_lead]
        score = [
            _window_shortfall(p, s, chosen + [v])
            - 0.1 * own[v]
            + 1e-9 * np.hypot(*(p.xy[v] - d0))
            + 1e-12 * rng.random()
            for v in near
        ]
        v = near[int(np.argmin(score))]
        chosen.append(v)
        size += int(s["count"][v])
        if len(chosen) >= min_districts and _window_shortfall(p, s, chosen) <= 1e-9:
            break
    return np.flatnonzero(np.isin(lead_of, chosen))
