"""The short report printed after a plan: status, bound and gap, the table of schools (zones) or of
districts, and the files written.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import click
import numpy as np

from ..check.metrics import district_table, school_table, summary
from ..plan import Plan, unit_words
from ..publish.announce import ANNOUNCE_FILES
from ..publish.report import REPORT_FILES
from .group import PRINTED, quiet


def _report(plan: Plan, files: dict) -> None:
    if quiet():  # -q: errors only
        return
    # the plan's warnings not yet printed as they came (those of the solvers' and the plan's own checks)
    for issue in dict.fromkeys(str(w) for w in plan.warnings):
        if issue not in PRINTED:
            PRINTED.add(issue)
            click.secho(f"warning: {issue}", err=True, fg="yellow")
    if plan.has_zones:
        _report_zones(plan)
    if plan.districts is not None:
        _report_districts(plan)
    if plan.warnings:
        click.echo(f"{len(set(map(str, plan.warnings)))} warning(s): see above and summary.json")
    _stale_outputs(files)
    click.echo("Wrote: " + ", ".join(str(p) for p in files.values()))
    if "map.html" in files:
        click.echo(f"Map: open {files['map.html']} in a browser")
    else:  # a plan written to a database (--out postgresql://…)
        click.echo(
            "Not written to the database: map.html and plan.csv (they are files; --out DIR writes them)."
        )


#: Findings of a given plan printed; the rest are in summary.json.
SHOWN_FINDINGS = 10


def _status(i) -> str:
    if i.status == "given":
        return "the given assignment, evaluated (nothing solved)"
    if i.stopped:
        return "stopped early (Ctrl-C), the best plan so far"
    if i.gap <= 1e-9:
        return "proven optimal"
    if i.status == "optimal":
        return "optimal within the requested gap"
    return "best plan found in the time limit"


def _gap(i) -> str:
    return f"{100 * i.gap:.2f}" if i.gap == 0 or i.gap >= 1e-4 else f"{100 * i.gap:.3g}"


def _display_width(text: str) -> int:
    """Terminal columns of ``text``: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    """``text`` cut or padded to ``width`` terminal columns."""
    out, used = "", 0
    for c in text:
        w = _display_width(c)
        if used + w > width:
            break
        out, used = out + c, used + w
    return out + " " * (width - used)


def _report_districts(plan: Plan) -> None:
    i = plan.district_info
    d = summary(plan)["districts"]
    rules = d["rules"]
    unit = {"children": "child-km", "seats": "seat-km", "schools": "school-km"}[rules["weight"]]
    click.echo(
        f"{rules['kind'].capitalize()}: {_status(i)}: {i.objective / 1000:,.1f} {unit} to the leads "
        f"(lower bound {i.lower_bound / 1000:,.1f}, gap {_gap(i)} %) in {i.seconds:.1f} s"
    )
    table = district_table(plan)
    width = max(8, min(30, max(_display_width(str(v)) for v in table["lead_name"])))
    header = f"{'#':>3}  {_pad('lead', width)}  {'schools':>7}  {'seats':>7}  {'children':>8}  {'quality':>7}"
    click.echo(header + "  covered")
    any_hq = bool(plan.schools["high_quality"].any())
    for _, r in table.iterrows():
        q = "—" if np.isnan(r["mean_quality"]) else _quality_text(r["mean_quality"])
        seats = "—" if np.isnan(r["capacity"]) else f"{r['capacity']:,.0f}"
        kids = "—" if np.isnan(r["students"]) else f"{r['students']:,.0f}"
        covered = ("yes" if r["covered"] else "no") if any_hq else "—"
        click.echo(
            f"{r['district_id']:>3}  {_pad(str(r['lead_name']), width)}  {r['n_schools']:>7}  "
            f"{seats:>7}  {kids:>8}  {q:>7}  {covered}"
        )
    a, b = d["after"], d["before"]

    def figures(f):
        parts = []
        if f.get("quality_spread") is not None:
            parts.append(
                f"quality spread {_quality_text(f['quality_spread'])} (Gini {f['quality_gini']:.3f})"
            )
        if f.get("coverage_rate") is not None:
            parts.append(f"coverage {100 * f['coverage_rate']:.1f} %")
        dev = {k: v for k, v in f["balance_deviation"].items() if v is not None}
        parts.append(
            "largest deviation from the average: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in dev.items())
        )
        return "; ".join(parts)

    line = f"After: {figures(a)}"
    if rules.get("contiguity") or a.get("districts_not_contiguous"):
        line += _pieces_words("districts", a["districts_not_contiguous"], a.get("districts_joined_only_by_links"),
                              len(rules["links"]), "schools whose zones")  # fmt: skip
    click.echo(line)
    if b:
        click.echo(f"Before ({b['districts']} existing districts): {figures(b)}")
    click.echo(f"Rules: {rules['balance']}; high quality: {rules['high_quality']}")
    if rules.get("min_coverage") is not None:
        ceiling = rules.get("coverage_ceiling")
        most = (
            ""
            if ceiling is None
            else f"; no grouping keeping the rules covers more than {100 * ceiling:.1f} %"
        )
        click.echo(f"Coverage asked for: at least {100 * rules['min_coverage']:.0f} %{most}")


def _report_zones(plan: Plan) -> None:
    i = plan.info
    s = summary(plan)
    t = s["totals"]
    if i.status == "given":  # measured, not solved: no bound, no gap, no time limit
        click.echo(
            f"Plan: {_status(i)}: {i.objective / 1000:,.1f} child-km (no lower bound or gap: not solved)"
        )
    else:
        click.echo(
            f"Plan: {_status(i)}: {i.objective / 1000:,.1f} child-km (lower bound {i.lower_bound / 1000:,.1f}, "
            f"gap {_gap(i)} %) in {i.seconds:.1f} s" + _overload_words(plan)
        )
    table = school_table(plan)
    width = max(8, min(32, max(_display_width(str(v)) for v in table["name"])))  # CJK: two columns each
    click.echo(
        f"{_pad('school', width)}  {'seats':>7}  {'children':>8}  {'use':>5}  {'mean m':>6}  {'max m':>6}  "
        f"{'moved in':>8}"
    )
    for _, r in table.iterrows():
        name = _pad(str(r["name"]), width)
        flag = " !" if r["overload"] > 1e-9 else ""
        click.echo(
            f"{name}  {r['capacity']:>7,.0f}  {r['students']:>8,.1f}  {100 * r['utilisation']:>4.0f}%  "
            f"{r['mean_distance_m']:>6,.0f}  {r['max_distance_m']:>6,.0f}  {r['moved_in']:>8,.1f}{flag}"
        )
    known = t.get("blocks_with_current_school", t["blocks"])
    moved = f"{t['children_moved']:,.1f}" if known else "— (no current zones)"
    if 0 < known < t["blocks"]:
        moved += f" (of the {known:,} of {t['blocks']:,} {unit_words(plan.rules)[2]} with a current school)"
    line = f"Children: {t['children']:,.1f} for {t['seats']:,.0f} seats; moved {moved}; "
    line += f"mean trip {t['mean_distance_m']:,.0f} m" + (
        " by road" if t["distance_measure"] == "road" else ""
    )
    before = s["before"]
    if before and "blocks_with_current" in before:  # partly known: over the blocks that name a school
        _, _, us_en = unit_words(plan.rules)
        line += (
            f" (before {before['mean_distance_m']:,.0f} m over the {before['blocks_with_current']:,} of "
            f"{before['blocks']:,} {us_en} with a current school, the plan {before['after_mean_distance_m']:,.0f} m "
            "over them)"
        )
    elif before:
        line += f" (before {before['mean_distance_m']:,.0f} m)"
    line += _pieces_words("zones", t["zones_not_contiguous"], t.get("zones_joined_only_by_links"),
                          len(t["links_added"]), "blocks that")  # fmt: skip
    click.echo(line)
    found = s.get("findings")
    if found is not None:
        click.echo(
            f"Findings: the given plan breaks {len(found)} rule(s) zoning's plans keep"
            + (":" if found else " (seats, one piece per zone, each school's own block in its zone).")
        )
        for text in found[:SHOWN_FINDINGS]:
            click.echo(f"  - {text}")
        if len(found) > SHOWN_FINDINGS:
            click.echo(f"  … and {len(found) - SHOWN_FINDINGS} more in summary.json (findings)")


def _stale_outputs(files: dict) -> None:
    """An announcement or report left in the folder from an earlier plan (``--overwrite`` replaced the plan,
    not them) is said to be stale, so that no one publishes it for the new plan."""
    summary_path = files.get("summary.json")
    if summary_path is None or not isinstance(summary_path, Path):
        return
    folder, made = summary_path.parent, summary_path.stat().st_mtime
    stale = [
        n
        for n in (*ANNOUNCE_FILES, *REPORT_FILES)
        if (folder / n).exists() and (folder / n).stat().st_mtime < made
    ]
    if stale:
        again = [
            c
            for c, names in (("announce", ANNOUNCE_FILES), ("report", REPORT_FILES))
            if set(stale) & set(names)
        ]
        click.secho(
            f"warning: {', '.join(stale)} in {folder} describe an earlier plan. Fix: run "
            + " and ".join(f"`zoning {c} {folder}`" for c in again)
            + " again, or delete them",
            err=True,
            fg="yellow",
        )


def _quality_text(value: float) -> str:
    """A quality figure: three significant digits, large scores in full (29,900, not 2.99e+04)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _overload_words(plan: Plan) -> str:
    """With schools over their seats (--allow-overload), how much of the objective is their penalty: it is
    counted in the same child-km as the trips and dwarfs them."""
    penalty = plan.rules.get("overload_penalty_m")
    over = float(plan.schools["overload"].sum()) if "overload" in plan.schools else 0.0
    if not penalty or over <= 1e-9:
        return ""
    return (
        f"; of it {over * penalty / 1000:,.1f} is the penalty of {over:,.1f} children over seats "
        f"({penalty / 1000:,.0f} km each), the trips and moves the rest"
    )


def _pieces_words(what: str, pieces: int, joined: int | None, links: int, between: str) -> str:
    """ "; zones in more than one piece: 1 (1 joined only across the 2 link(s) added between …)"."""
    text = f"; {what} in more than one piece: {pieces}"
    if joined:
        text += f" ({joined} joined only across the {links} link(s) added between {between} touch no others: see the warnings)"
    return text
