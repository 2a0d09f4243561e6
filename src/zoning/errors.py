"""Errors and issues, in the planner's terms.

Every problem found in an input is an :class:`Issue` naming the file, the row as the user sees it
(spreadsheet row for CSV/Excel, with the header as row 1; feature number for GeoJSON / GeoPackage /
Shapefile; the primary key of a database table, ``row id=14``), the column as written in the file, the
offending value and the fix.  Validation collects all issues of a file and raises a single
:class:`InputError`.  Lossy-but-valid choices (a repaired polygon,
an island block attached to its neighbour) are issues with ``severity="warning"``: they are logged and
carried by the result, never raised.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "Issue",
    "ZoningError",
    "InputError",
    "InfeasibleError",
    "format_issues",
    "name_list",
    "number_issue",
    "choice_issue",
    "flag_issue",
    "kind_of",
]

#: How many issues an error message prints before saying "… and N more".
PRINT_LIMIT = 25


@dataclass(frozen=True)
class Issue:
    """One problem (or one warning) found in the input, with where it is and how to fix it."""

    message: str
    fix: str = ""
    file: str | None = None
    row: int | str | None = None
    column: str | None = None
    value: object = None
    severity: Literal["error", "warning"] = "error"

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f'column "{self.column}"')
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": None if self.value is None else str(self.value),
            "message": self.message,
            "fix": self.fix,
        }


def format_issues(issues: Sequence[Issue], limit: int = PRINT_LIMIT) -> str:
    """The issues one per line, capped at ``limit`` lines with a count of the rest."""
    lines = [f"- {issue}" for issue in issues[:limit]]
    if len(issues) > limit:
        lines.append(f"- … and {len(issues) - limit} more (see the full list with --issues FILE)")
    return "\n".join(lines)


class ZoningError(Exception):
    """Base class of every error zoning raises on purpose."""


class InputError(ZoningError):
    """The input files or parameters have problems; ``issues`` lists every one of them."""

    def __init__(self, issues: Sequence[Issue], headline: str | None = None):
        self.issues: tuple[Issue, ...] = tuple(issues)
        errors = [i for i in self.issues if i.severity == "error"]
        n = len(errors)
        # the files, once each (an issue may name "file, line 4": the headline names the file)
        files = sorted({re.sub(r", line \d+$", "", i.file) for i in errors if i.file})
        if headline is None:
            where = f" in {', '.join(files)}" if files else ""
            headline = f"{n} problem{'s' if n != 1 else ''} found{where}:"
        self.headline = headline
        super().__init__(f"{headline}\n{format_issues(errors)}")


class InfeasibleError(ZoningError):
    """No plan satisfies the rules.  ``reasons`` says which rule binds where, ``fixes`` what would help."""

    def __init__(self, reasons: Sequence[str], fixes: Sequence[str] = (), *, rule: str | None = None):
        self.reasons: tuple[str, ...] = tuple(reasons)
        self.fixes: tuple[str, ...] = tuple(fixes)
        self.rule = rule
        text = "No plan fits the rules:\n" + "\n".join(f"- {r}" for r in self.reasons)
        if self.fixes:
            text += "\nFix: " + "; or ".join(self.fixes) + "."
        super().__init__(text)


class NoPlanFoundError(ZoningError):
    """The time ran out before any plan keeping every rule was found, and none was proven impossible: the
    message says what the best plan still breaks.  (``InfeasibleError`` is the proof that none exists.)"""


def name_list(names, limit: int = 6) -> str:
    """``"A, B, C and 4 more"``: the first ``limit`` names of a list for a message."""
    names = [str(n) for n in names]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _range_words(low, high, low_open: bool, high_open: bool) -> str:
    def num(x) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    if low is not None and high is not None:
        if not (low_open or high_open):
            return f"from {num(low)} to {num(high)}"
        return f"in {'(' if low_open else '['}{num(low)}, {num(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"above {num(low)}" if low_open else f"of {num(low)} or more"
    if high is not None:
        return f"below {num(high)}" if high_open else f"of {num(high)} or less"
    return ""


def number_issue(
    name: str,
    value,
    *,
    fix: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    whole: bool = False,
) -> Issue | None:
    """An issue when the argument ``name`` is not a finite number (a whole one if ``whole``) in the range
    ``low``..``high`` (``*_open``: the end itself excluded), else None.  ``True``, ``"30"``, NaN and
    infinity are not numbers here: a caller's slip should be named, not compared or rounded."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    kind = ("finite " if real and math.isinf(value) else "") + ("whole number" if whole else "number")
    ok = real and math.isfinite(value)
    if ok and whole:
        ok = isinstance(value, numbers.Integral)
    if ok:
        ok = not (low is not None and (value < low or (low_open and value == low)))
        ok = ok and not (high is not None and (value > high or (high_open and value == high)))
    if ok:
        return None
    words = _range_words(low, high, low_open, high_open)
    return Issue(f"{name} = {value!r} is not a {kind}{' ' + words if words else ''}.", fix)


def choice_issue(name: str, value, choices: Sequence, *, fix: str | None = None) -> Issue | None:
    """An issue when the argument ``name`` is not one of ``choices`` (compared by equality and type, so
    ``"no"`` is not ``False`` and ``1`` is not ``True``), else None."""
    if any(type(value) is type(c) and value == c for c in choices):
        return None
    listed = ", ".join(repr(c) for c in choices)
    return Issue(f"{name} = {value!r} is not one of {listed}.", fix or f"use one of {listed}.")


def flag_issue(name: str, value) -> Issue | None:
    """An issue when the argument ``name`` is not True or False (``"no"`` would count as True)."""
    if isinstance(value, bool | np.bool_):
        return None
    return Issue(f"{name} = {value!r} is not True or False.", f"pass {name}=True or {name}=False.")


def kind_of(value) -> str:
    """``"an int"``, ``"a str"``, ``"None"``: what a caller passed, for "options is an int, not …"."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
