"""Numbers, ids and names: :func:`parse_number` (a cell as a number), numeric columns (every wrong cell
an error), and the ids (falling back to names) and names of the rows.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ...errors import Issue, name_list
from ..files import is_blank
from .headers import _missing_column, _Report

__all__ = ["parse_number", "duplicate_ids", "bad_numbers"]

log = logging.getLogger(__name__)


# -------------------------------------------------------------------------------------------- parsing


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def parse_number(value: Any) -> float | None:
    """A cell as a number: None if empty, ValueError if not a number.

    Accepts numbers, ``"1200"``, ``"1,200"``, ``" 120 "``, full-width ``"１２０"`` and ``"１，２００"``;
    refuses ``"约120"``, ``"120人"``, ``"nan"``, ``"inf"`` and booleans.
    """
    if is_blank(value):
        return None
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    text = unicodedata.normalize("NFKC", str(value)).strip().replace("\u2212", "-")
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{value!r} is not a number")
    return float(text)


def _as_text(value: Any) -> str | None:
    """An id or name cell as text: None if empty, ``1001.0`` → ``"1001"``."""
    if is_blank(value):
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value).strip()


def _column_values(rep: _Report, canon: str) -> list[Any]:
    return rep.raw.frame[rep.cols[canon]].tolist()


def _numbers(rep: _Report, canon: str, *, fix: str, allow_blank: bool = False) -> np.ndarray:
    """A numeric column (NaN where empty or wrong; every wrong cell is an error)."""
    series = rep.raw.frame[rep.cols[canon]]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        out = series.to_numpy(dtype=float, na_value=np.nan, copy=True)
        bad = np.flatnonzero(~np.isfinite(out) & ~np.isnan(out))
        for k in bad:
            rep.error(f'"{out[k]}" is not a number.', fix, k=int(k), canon=canon, value=out[k])
        out[bad] = np.nan
    else:
        out = np.full(len(series), np.nan)
        for k, value in enumerate(series.tolist()):
            try:
                number = parse_number(value)
            except ValueError:
                rep.error(f'"{value}" is not a number.', fix, k=k, canon=canon, value=value)
                continue
            if number is not None:
                out[k] = number
    if not allow_blank:
        for k in np.flatnonzero(np.isnan(out)):
            if is_blank(series.iloc[k]):
                rep.error("is empty.", fix, k=int(k), canon=canon)
    return out


def _ids_and_names(rep: _Report, aliases: Mapping[str, tuple[str, ...]], id_canon: str) -> tuple[list, list]:
    """Ids (falling back to names) and names (falling back to ids); duplicate ids are errors."""
    n = len(rep.raw.frame)
    ids = [_as_text(v) for v in _column_values(rep, id_canon)] if id_canon in rep.cols else None
    names = [_as_text(v) for v in _column_values(rep, "name")] if "name" in rep.cols else None
    if ids is None and names is None:
        _missing_column(rep, id_canon, aliases, f"or a name column with {rep.flag('name')} NAME")
        return [None] * n, [None] * n
    if ids is None:
        log.info(
            '%s: no %s column; the names in "%s" are used as ids', rep.raw.file, id_canon, rep.cols["name"]
        )
        ids_from = "name"
        ids = list(names)
    else:
        ids_from = id_canon
    for k, value in enumerate(ids):
        if value is None:
            rep.error(
                "is empty.",
                f"give every {rep.what} an id ({rep.what}s are matched by it).",
                k=k,
                canon=ids_from,
            )
    first: dict[str, int] = {}
    for k, value in enumerate(ids):
        if value is None:
            continue
        if value in first:
            rep.error(
                f'"{value}" appears twice (first in row {rep.row(first[value])}).',
                f"give every {rep.what} its own {'name' if ids_from == 'name' else 'id'}"
                + (f" or add an id column ({rep.flag(id_canon)})." if ids_from == "name" else "."),
                k=k,
                canon=ids_from,
                value=value,
            )
        else:
            first[value] = k
    if names is None:
        names = list(ids)
    else:
        names = [nm if nm is not None else i for nm, i in zip(names, ids, strict=True)]
    return ids, names


# ---------------------------------------------------------------------------------------------------------
# frames built by hand (the Python API): the readers' checks of a file, on a frame's columns


def duplicate_ids(frame: pd.DataFrame, what: str, id_col: str) -> list[Issue]:
    """The ids of ``frame`` that appear more than once (as text: 1 and "1" are one id)."""
    ids = frame[id_col].astype(str)
    twice = ids[ids.duplicated()].unique().tolist()
    if not twice:
        return []
    return [Issue(f"{len(twice)} {id_col}(s) appear more than once in the {what}: {name_list(twice)}",
                  f"give every row of the {what} its own {id_col}", column=id_col)]  # fmt: skip


def bad_numbers(frame: pd.DataFrame, what: str, id_col: str, number: str) -> list[Issue]:
    """The rows of ``frame`` (named by ``id_col``) whose ``number`` is not a number of 0 or more (NaN, text,
    negative), or the column missing."""
    if number not in frame:
        return [
            Issue(f"the {what} have no {number} column", f"give the {what} their {number}", column=number)
        ]
    values = pd.to_numeric(frame[number], errors="coerce").to_numpy(dtype=float)
    bad = (
        frame.loc[~(np.isfinite(values) & (values >= 0)), id_col].astype(str).tolist()
        if id_col in frame
        else []
    )
    if not bad:
        return []
    return [Issue(f"{len(bad)} of the {what} have no {number} as a number of 0 or more: {name_list(bad)}",
                  f"fill in {number} for every row (0 if none)", column=number)]  # fmt: skip
