"""Why no grouping into districts fits, in the planner's terms.

The same two stages as for zones (``zones.diagnose``): :func:`precheck_districts` counts before any search
(lead schools against K, schools too big for any district's band, seats against children, requirements and
schools with no lead in reach); :func:`explain_districts` and :func:`district_shortfalls` say which
districts of the best plan miss which band and by how much, when the search ends without a plan.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import InfeasibleError, NoPlanFoundError, name_list
from .problem import DistrictProblem, coverage, is_valid

__all__ = [
    "precheck_districts",
    "explain_districts",
    "district_shortfalls",
    "binding_rule",
    "no_plan_found",
    "quality_tolerance_reached",
]


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def _quality_band_words(p: DistrictProblem, low: float, high: float) -> str:
    """A mean-quality band as the planner reads it: within the quality's own range (a band reaching below
    the lowest quality, as ±15 % around a low mean of a 0/1 flag does, is no rule there)."""
    q_min, q_max = float(np.nanmin(p.quality)), float(np.nanmax(p.quality))
    return f"{max(low, q_min):.3g}–{min(high, q_max):.3g}"


def precheck_districts(p: DistrictProblem) -> InfeasibleError | None:
    """Reasons no grouping can exist, found by counting before any search (None when none is found)."""
    k = p.n_districts
    reasons: list[str] = []
    fixes: list[str] = []
    names = p.school_names
    n_leads = int(p.lead_ok.sum())
    if n_leads < k:
        need = f"{k} districts need {k} lead schools" if k > 1 else "1 district needs 1 lead school"
        can = f"only {n_leads} school(s) can lead ({p.hq_rule}): {name_list(names[p.lead_ok])}"
        reasons.append(f"{need}, but {can if n_leads else f'no school can lead ({p.hq_rule})'}")
        fixes.append("ask for fewer districts, lower --lead-min-quality, or name lead candidates (--leads)")
    if int(p.pinned.sum()) > k:
        reasons.append(
            f"{int(p.pinned.sum())} schools are pinned as leads, but only {k} districts are asked for"
        )
        fixes.append("pin at most as many leads as districts")
    lo, hi = p.count_band
    if k * lo > p.n or k * hi < p.n:
        reasons.append(
            f"{k} districts of {lo}–{hi} schools each hold {k * lo}–{k * hi} schools, but there are {p.n}"
        )
        fixes.append("change --min-members / --max-members or the number of districts")
    for label, values, band, unit in (
        ("seats", p.seats, p.seats_band, "seats"),
        ("children", p.children, p.children_band, "children"),
    ):
        if band is None:
            continue
        big = np.flatnonzero(values > band[1])
        if len(big):
            reasons.append(
                f"{name_list(names[big])} alone hold(s) more {unit} ({_fmt(values[big].max())}) than a district may "
                f"({_fmt(band[1])}, the average {_fmt(values.sum() / k)} plus the tolerance)"
            )
            fixes.append(f"widen the {label} tolerance (--{label}-tolerance) or ask for fewer districts")
    if p.seats_band is not None and p.children_band is not None and p.seats.sum() < p.children.sum():
        reasons.append(
            f"the schools offer {_fmt(p.seats.sum())} seats against {_fmt(p.children.sum())} children "
            f"(short {_fmt(p.children.sum() - p.seats.sum())}), so some district must lack seats"
        )
        fixes.append("add seats (new or expanded schools) before grouping")
    for req in p.requirements:
        have = int(req.members.sum())
        if have < k * req.at_least:
            reasons.append(
                f"every district needs {req.at_least} × {req.label}; {have} school(s) qualify for {k} districts"
                + (f": {name_list(names[req.members])}" if have else "")
            )
            fixes.append(f"ask for at most {have // max(1, req.at_least)} districts, or drop the requirement")
    together = {tuple(sorted(map(int, pair))) for pair in p.together}
    for a, b in p.apart:
        if tuple(sorted((int(a), int(b)))) in together:
            reasons.append(f"{names[a]} and {names[b]} are asked both to share a district and not to")
            fixes.append("drop one of the two rules")
    for a, b in p.together:
        if p.pinned[a] and p.pinned[b] and a != b:
            reasons.append(f"{names[a]} and {names[b]} are both pinned as leads but must share a district")
            fixes.append("pin only one of them as a lead")
    has_pair = np.zeros(p.n, dtype=bool)
    has_pair[p.pair_school] = True
    lonely = np.flatnonzero(~has_pair)
    if len(lonely):
        limit = (
            f"within {p.max_lead_distance_m:,.0f} m"
            if p.max_lead_distance_m is not None
            else "among its candidates"
        )
        reasons.append(
            f"{len(lonely)} school(s) have no possible lead school {limit}: {name_list(names[lonely])}"
        )
        fixes.append("raise the lead distance limit (--max-lead-distance) or allow more lead schools")
    if not reasons:
        reasons, fixes = _unreachable_bands(p)
    if not reasons:
        return None
    return InfeasibleError(reasons, list(dict.fromkeys(fixes)), rule="districts")  # each fix said once


def _unreachable_bands(p: DistrictProblem) -> tuple[list[str], list[str]]:
    """Schools whose every possible lead cannot gather a full district: the schools that may join a lead l
    (its candidate pairs) hold fewer schools or seats or children than a district needs."""
    ps, pl = p.pair_school, p.pair_lead
    leads = np.unique(pl)
    viable = np.ones(p.n, dtype=bool)
    short: dict[int, str] = {}
    checks = [("schools", np.ones(p.n, dtype=np.int64), p.count_band)]
    checks += [("seats", p.seats, p.seats_band), ("children", p.children, p.children_band)]
    for what, values, band in checks:
        if band is None:
            continue
        reach = np.bincount(pl, weights=values[ps], minlength=p.n)
        for lead in leads[reach[leads] < band[0]]:
            if viable[lead]:
                viable[lead] = False
                short[int(lead)] = f"{_fmt(reach[lead])} {what}, a district needs at least {_fmt(band[0])}"
    ok = viable[pl]
    stranded = np.setdiff1d(np.arange(p.n), ps[ok])
    if len(stranded) == 0:
        return [], []
    i = int(stranded[0])
    why = "; ".join(
        f"{p.school_names[lead]} could gather {short[int(lead)]}"
        for lead in pl[ps == i][:3]
        if int(lead) in short
    )
    limit = f" within {p.max_lead_distance_m:,.0f} m" if p.max_lead_distance_m is not None else ""
    reasons = [
        f"{name_list(p.school_names[stranded])} cannot join any district that is full enough: every lead school"
        f"{limit} of {p.school_names[i]} has too few schools around it ({why})"
    ]
    fixes = ["widen the tolerances or ask for fewer districts"]
    if p.max_lead_distance_m is not None:
        fixes.insert(0, "raise --max-lead-distance")
    return reasons, fixes


def explain_districts(p: DistrictProblem, lead_of: np.ndarray | None) -> InfeasibleError | NoPlanFoundError:
    """Why the search found no grouping: the pre-checks passed, so the bands, pairs and one-piece rule
    together are too tight.  With a best-effort grouping (bands relaxed), name the districts that miss.

    The model lets each school join only its ``p.lead_reach`` nearest lead candidates when there are many:
    then its infeasibility proves nothing about groupings with farther leads, and the answer is "none found"
    (NoPlanFoundError) saying so, never "no plan fits the rules"."""
    if p.lead_reach is not None:
        misses = district_shortfalls(p, lead_of) if lead_of is not None else []
        binding = binding_rule(p, lead_of) if lead_of is not None else None
        return NoPlanFoundError(
            "No grouping keeping every rule was found (nor was one proven impossible): none exists in which "
            f"every school joins one of its {p.lead_reach} nearest possible leads, but groupings with farther "
            "leads were not searched. "
            + (binding[:1].upper() + binding[1:] + ". " if binding else "")
            + ("The nearest grouping found misses: " + "; ".join(misses[:6]) + ". " if misses else "")
            + "Fix: name fewer lead candidates (--leads), widen the tolerances (--seats-tolerance, "
            "--children-tolerance, --quality-tolerance), or change the number of districts."
        )
    reasons: list[str] = []
    if lead_of is not None:
        misses = district_shortfalls(p, lead_of)
        if misses:
            reasons.append(
                "no grouping keeps every rule together (the balance bands"
                + (", the one-piece rule" if p.contiguity else "")
                + " and the requirements); the nearest grouping tried misses: "
                + "; ".join(misses[:6])
                + (f"; and {len(misses) - 6} more" if len(misses) > 6 else "")
            )
    if not reasons:
        reasons.append(
            f"no grouping of {p.n} schools into {p.n_districts} districts keeps every district within the "
            f"balance bands ({p.balance_note})"
            + (f", with at least {p.min_coverage:.0%} coverage" if p.min_coverage is not None else "")
            + (" and in one piece" if p.contiguity else "")
        )
    fixes = [
        "widen the tolerances (--seats-tolerance, --children-tolerance, --quality-tolerance)",
        "change the number of districts or the member limits",
    ]
    if p.min_coverage is not None:
        fixes.append("ask for a lower coverage rate (--min-coverage)")
    if p.contiguity:
        fixes.append("drop the one-piece rule (--groups forms education groups without it)")
    return InfeasibleError(reasons, fixes, rule="districts")


def district_shortfalls(p: DistrictProblem, lead_of: np.ndarray) -> list[str]:
    """Each district of a grouping outside a band, in the planner's words with the numbers."""
    out: list[str] = []
    leads = np.unique(lead_of)
    for number, lead in enumerate(leads, start=1):
        mine = lead_of == lead
        label = f"district {number} (lead {p.school_names[lead]})"
        count = int(mine.sum())
        lo, hi = p.count_band
        if not lo <= count <= hi:
            out.append(f"{label} has {count} schools, outside {lo}–{hi}")
        for what, values, band in (
            ("seats", p.seats, p.seats_band),
            ("children", p.children, p.children_band),
        ):
            if band is None:
                continue
            v = int(values[mine].sum())
            if v < band[0]:
                out.append(
                    f"{label} cannot reach its {what} target: its schools hold {_fmt(v)}, the band starts at {_fmt(band[0])}"
                )
            elif v > band[1]:
                out.append(f"{label} holds {_fmt(v)} {what}, above the band's {_fmt(band[1])}")
        if p.seats_band is not None and p.children_band is not None:
            s, c = int(p.seats[mine].sum()), int(p.children[mine].sum())
            if s < c:
                out.append(
                    f"{label} cannot seat its children: its schools offer {_fmt(s)} seats against {_fmt(c)} children"
                )
        if p.quality_band is not None:
            known = mine & p.quality_known
            if known.any():
                q = float(p.quality[known].mean())
                qlo, qhi = p.quality_band
                if q < qlo - 1e-9 or q > qhi + 1e-9:
                    out.append(
                        f"{label} has mean quality {q:.3g}, outside {_quality_band_words(p, qlo, qhi)}"
                    )
        for req in p.requirements:
            have = int((mine & req.members).sum())
            if have < req.at_least:
                out.append(f"{label} has {have} × {req.label}, needs {req.at_least}")
    return out


def binding_rule(p: DistrictProblem, lead_of: np.ndarray) -> str | None:
    """The rule that binds in the nearest grouping found, in the planner's words with the numbers: the
    rule family most districts miss, how many, and the range the districts reach against the band (for
    mean quality: the closest band the search reached).  None when every band holds."""
    leads = np.unique(lead_of)
    rows = []  # (districts missing, text)
    for what, values, band in (
        ("schools", np.ones(p.n), p.count_band),
        ("seats", p.seats, p.seats_band),
        ("children", p.children, p.children_band),
    ):
        if band is None:
            continue
        v = np.bincount(lead_of, weights=values, minlength=p.n)[leads]
        bad = int(((v < band[0]) | (v > band[1])).sum())
        if bad:
            rows.append(
                (bad, f"{what} per district: {bad} of {len(leads)} districts fall outside {_fmt(band[0])}–"
                 f"{_fmt(band[1])} (they range {_fmt(v.min())}–{_fmt(v.max())})")
            )  # fmt: skip
    if p.quality_band is not None:
        known = p.quality_known
        qn = np.bincount(lead_of[known], minlength=p.n)[leads]
        qs = np.bincount(lead_of[known], weights=p.quality[known], minlength=p.n)[leads]
        mean = np.where(qn > 0, qs / np.maximum(qn, 1), np.nan)
        qlo, qhi = p.quality_band
        bad = int(((mean < qlo - 1e-9) | (mean > qhi + 1e-9)).sum())
        if bad:
            hq = np.flatnonzero(p.hq)
            crowded = ""
            if len(hq) >= 4:
                # where the high-quality schools stand: the share inside the quarter of the city around
                # their own centre, against the share of all schools there
                centre = np.median(p.xy[hq], axis=0)
                d = np.hypot(*(p.xy - centre).T)
                near = d <= np.quantile(d, 0.25)
                crowded = (
                    f"; {int((near & p.hq).sum())} of the {len(hq)} high-quality schools ({p.hq_rule}) stand in "
                    f"the quarter of the city around {p.school_names[hq[np.argmin(d[hq])]]}"
                )
            rows.append(
                (bad, f"mean quality per district: {bad} of {len(leads)} districts fall outside "
                 f"{_quality_band_words(p, qlo, qhi)}; the closest band the search reached is {np.nanmin(mean):.3g}–{np.nanmax(mean):.3g}"
                 + crowded)
            )  # fmt: skip
    if p.seats_band is not None and p.children_band is not None:
        s = np.bincount(lead_of, weights=p.seats, minlength=p.n)[leads]
        c = np.bincount(lead_of, weights=p.children, minlength=p.n)[leads]
        bad = int((s < c).sum())
        if bad:
            rows.append((bad, f"seats covering children: {bad} district(s) have fewer seats than children"))
    rows.sort(key=lambda r: -r[0])
    if p.min_coverage is not None and (reached := coverage(p, lead_of)) < p.min_coverage - 1e-9:
        # a rate over the whole city: named first, the band most districts miss after it
        rows.insert(0, (len(leads), f"the coverage rate (优质学校覆盖率): {100 * reached:.1f} % of the "
                        f"{p.weight_label} are in districts holding a high-quality school, against the "
                        f"{100 * p.min_coverage:.0f} % asked for"))  # fmt: skip
    if not rows:
        return None
    return "the rule that binds is " + rows[0][1] + "".join(f"; then {text}" for _, text in rows[1:2])


def quality_tolerance_reached(p: DistrictProblem, lead_of: np.ndarray) -> float | None:
    """When the grouping keeps every rule but the mean-quality band: the least ``--quality-tolerance``
    (a fraction of the quality range, around the mean, as the band is built) under which it is a plan,
    rounded up to hundredths.  None when it misses another rule too, or the band is not the one missed."""
    if p.quality_band is None or not is_valid(dataclasses.replace(p, quality_band=None), lead_of):
        return None
    known = p.quality_known
    leads = np.unique(lead_of)
    qn = np.bincount(lead_of[known], minlength=p.n)[leads]
    qs = np.bincount(lead_of[known], weights=p.quality[known], minlength=p.n)[leads]
    mean = qs[qn > 0] / qn[qn > 0]
    qlo, qhi = p.quality_band
    centre, spread = (qlo + qhi) / 2, float(np.nanmax(p.quality) - np.nanmin(p.quality))
    if spread <= 0 or not len(mean):
        return None
    need = float(np.max(np.abs(mean - centre))) / spread
    return math.ceil(need * 100 - 1e-6) / 100


def no_plan_found(
    p: DistrictProblem, lead_of: np.ndarray, seconds: float, misses: list[str]
) -> NoPlanFoundError:
    """The time ran out with no grouping keeping every rule and none proven impossible: the binding rule
    first, then the districts of the nearest grouping that miss, and the fixes.  When the nearest grouping
    misses only the mean-quality band, the message says which ``--quality-tolerance`` admits it: a
    grouping that exists, so the planner knows a band that can be met (not the narrowest one)."""
    binding = binding_rule(p, lead_of)
    reached = quality_tolerance_reached(p, lead_of)
    admits = ""
    if reached is not None:
        qlo, qhi = p.quality_band
        centre, spread = (qlo + qhi) / 2, float(np.nanmax(p.quality) - np.nanmin(p.quality))
        band = _quality_band_words(p, centre - reached * spread, centre + reached * spread)
        admits = (
            f" It keeps every other rule, so a grouping exists with each district's mean quality within "
            f"{band}: --quality-tolerance {reached:g} "
            f"(now {(qhi - centre) / spread:g}) admits it."
        )
    return NoPlanFoundError(
        f"No grouping keeping every rule was found in {seconds:.3g} s (nor was one proven impossible); "
        + (binding + ". " if binding else "")
        + "The nearest grouping found misses: "
        + "; ".join(misses[:6])
        + (f"; and {len(misses) - 6} more" if len(misses) > 6 else "")
        + "."
        + admits
        + " Fix: allow more time (--time-limit), widen the tolerances (--seats-tolerance, "
        "--children-tolerance, --quality-tolerance), or ask for fewer districts."
    )
