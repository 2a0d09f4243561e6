"""Writing files atomically: the outputs of a plan and the list of issues.

Everything is written into a hidden staging folder beside the target and moved into place with
:func:`os.replace`, so a crash never leaves half a file, and an existing output is only replaced when
``overwrite=True``.  :func:`write_files` does it for several files at once, all or nothing: a process killed
while writing (SIGKILL) leaves the previous outputs as they were.  A full disk or a read-only folder is an
:class:`~zoning.errors.InputError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Issue, flag_issue

__all__ = [
    "write_text",
    "write_json",
    "write_csv",
    "write_gpkg",
    "write_files",
    "json_text",
    "csv_writer",
    "text_writer",
    "bytes_writer",
    "gpkg_writer",
    "prepare_out_dir",
    "OVERWRITE_FIX",
]

log = logging.getLogger(__name__)

OVERWRITE_FIX = "pass --overwrite or choose another --out"


def _refuse_existing(targets: Iterable[str | os.PathLike[str]]) -> None:
    """One error naming every target (as the caller spelt it) that exists already."""
    issues = [Issue("exists already.", OVERWRITE_FIX, file=os.fspath(t)) for t in targets if Path(t).exists()]
    if issues:
        raise InputError(
            issues, headline=f"{len(issues)} output file{'s' if len(issues) != 1 else ''} exist already:"
        )


#: Hidden folders outputs are written into before they move into place (``.zoning-<pid>-….tmp``).
_STAGING = ".zoning-"


def _atomic(path: str | os.PathLike[str], write: Callable[[Path], None], *, overwrite: bool) -> Path:
    """One file written atomically: :func:`write_files` with a single file."""
    target = Path(path)
    if target.is_dir():
        raise InputError([Issue("is a folder.", "name a file for the output.", file=os.fspath(path))])
    return write_files(target.parent, {target.name: write}, overwrite=overwrite)[target.name]


@contextlib.contextmanager
def _os_errors(target: Path):
    """A full disk, a read-only or missing folder or a file in the way, as an error naming the file and a fix."""
    try:
        yield
    except OSError as err:
        if isinstance(err, FileExistsError | IsADirectoryError) or err.errno is None:
            raise
        why = {
            errno.ENOSPC: ("the disk is full.", "free some space or choose another --out."),
            errno.EDQUOT: ("the disk quota is used up.", "free some space or choose another --out."),
            errno.EROFS: ("the folder is on a read-only disk.", "choose another --out."),
            errno.EACCES: ("the folder may not be written to (permission denied).", "choose another --out."),
            errno.EPERM: ("the folder may not be written to (permission denied).", "choose another --out."),
        }.get(
            err.errno, (f"cannot be written: {err.strerror}.", "check the folder, or choose another --out.")
        )
        raise InputError([Issue(why[0], why[1], file=os.fspath(target))]) from err


def _check_overwrite(overwrite) -> None:
    """``overwrite="no"`` (or 0.5, or a path) is refused, not read as True: it replaced the files it named."""
    if (issue := flag_issue("overwrite", overwrite)) is not None:
        raise InputError([issue])


def write_files(
    out_dir: str | os.PathLike[str], writers: Mapping[str, Callable[[Path], None]], *, overwrite: bool
) -> dict[str, Path]:
    """Write several files into ``out_dir`` all or nothing: ``writers[name](tmp_path)`` writes each into a hidden
    staging folder beside them, and only when every one is written do they move into place (a rename each,
    microseconds).  A process killed while writing leaves the previous files as they were; its staging folder
    is removed by the next write into the same folder.  A full disk or a read-only folder is an InputError
    naming the file.  A database URL is refused (``_refuse_url``)."""
    _refuse_url(out_dir)
    _check_overwrite(overwrite)
    out = Path(out_dir)
    names = list(writers)
    if not overwrite:
        _refuse_existing([out / n for n in names])
    with _os_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(out)
        stage = Path(tempfile.mkdtemp(prefix=f"{_STAGING}{os.getpid()}-", suffix=".tmp", dir=out))
    try:
        for name in names:
            with _os_errors(out / name):
                writers[name](stage / name)
        if not overwrite:  # they may have appeared meanwhile
            _refuse_existing([out / n for n in names])
        for name in names:
            with _os_errors(out / name):
                os.replace(stage / name, out / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for name in names:
        log.info("wrote %s", os.fspath(out / name))
    return {name: out / name for name in names}


def _refuse_url(path: str | os.PathLike[str]) -> None:
    """A database URL where files go (a map, an announcement, several plans): refused, not made a folder
    named ``postgresql:``."""
    if "://" in os.fspath(path):
        raise InputError(
            [
                Issue(
                    "is a URL: this command writes files (several plans, a map, tables), not database tables.",
                    "give a folder with --out; `zoning partition` and `zoning districts` write a plan to a "
                    "database schema (--out postgresql://…?schema=NAME).",
                    file=os.fspath(path),
                )
            ]
        )


def _remove_stale_staging(folder: Path) -> None:
    """Staging folders of processes that no longer run (killed while writing) are removed."""
    for d in folder.glob(f"{_STAGING}*.tmp"):
        try:
            pid = int(d.name[len(_STAGING) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _running(pid):
            shutil.rmtree(d, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool) -> Path:
    """Write UTF-8 text atomically."""
    return _atomic(path, text_writer(text), overwrite=overwrite)


def _jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays to Python, NaN/inf to null, paths to text."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def json_text(obj: Any) -> str:
    """JSON as zoning writes it: UTF-8, Chinese kept as is (``ensure_ascii=False``), indented by 2."""
    return json.dumps(_jsonable(obj), ensure_ascii=False, indent=2) + "\n"


def csv_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    """A writer for :func:`write_files`: CSV in UTF-8 with BOM (Excel and WPS show Chinese right)."""
    return lambda path: frame.to_csv(path, index=False, encoding="utf-8-sig")


def bytes_writer(data: bytes) -> Callable[[Path], None]:
    """A writer for :func:`write_files`: bytes as they are (a Word document built in memory, say)."""
    return lambda path: path.write_bytes(data)


def text_writer(text: str) -> Callable[[Path], None]:
    """A writer for :func:`write_files`: UTF-8 text."""
    return lambda path: path.write_text(text, encoding="utf-8")


def gpkg_writer(layers: Mapping[str, gpd.GeoDataFrame]) -> Callable[[Path], None]:
    """A writer for :func:`write_files`: several layers in one GeoPackage."""
    if not layers:
        raise ValueError("a GeoPackage needs at least one layer")

    def write(path: Path) -> None:
        for layer_name, gdf in layers.items():
            gdf.to_file(path, layer=layer_name, driver="GPKG", engine="pyogrio")

    return write


def write_json(path: str | os.PathLike[str], obj: Any, *, overwrite: bool) -> Path:
    """Write JSON atomically: UTF-8, Chinese kept as is (``ensure_ascii=False``), indented by 2."""
    return write_text(path, json_text(obj), overwrite=overwrite)


def write_csv(path: str | os.PathLike[str], frame: pd.DataFrame, *, overwrite: bool) -> Path:
    """Write a table as CSV atomically, UTF-8 with BOM so that Excel and WPS show Chinese right."""
    return _atomic(path, csv_writer(frame), overwrite=overwrite)


def write_gpkg(
    path: str | os.PathLike[str], layers: Mapping[str, gpd.GeoDataFrame], *, overwrite: bool
) -> Path:
    """Write several layers into one GeoPackage atomically (all layers, or nothing)."""
    return _atomic(path, gpkg_writer(layers), overwrite=overwrite)


def prepare_out_dir(path: str | os.PathLike[str], names: Iterable[str], *, overwrite: bool) -> Path:
    """Create the output folder; refuse (one error listing them) if any of ``names`` exists in it.  A
    database URL is refused: the commands that write a plan to a schema check it with ``io.db``."""
    _refuse_url(path)
    _check_overwrite(overwrite)
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError([Issue("is a file, not a folder.", "choose another --out.", file=os.fspath(path))])
    names = list(names)
    if not overwrite:
        _refuse_existing([out / n for n in names])
    with _os_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=f"{_STAGING}{os.getpid()}-", suffix=".tmp", dir=out))
        probe.rmdir()  # the folder can be written to: refuse now, not after the solve
    return out
