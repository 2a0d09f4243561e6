"""Jobs files: the runs of a batch, read and checked before any of them starts.

A jobs file is TOML; each job's keys are the command's inputs and flags, spelt as on the command line::

    [defaults]                          # every job whose command has the flag
    time-limit = 20
    students-col = "students_k4"
    current-school-col = "current_school_plurality"

    [defaults.partition]                # only the partition jobs
    max-distance = 2500

    [[job]]
    name = "portland"                   # its folder: DIR/portland (default: <command>-<number>)
    command = "partition"               # partition, districts, feeder, scenario, frontier, site
    blocks = "data/blocks.geojson"      # the inputs by the names of the command's arguments,
    schools = "data/schools.geojson"    #   relative to this file
    move-penalty = 0                    # --move-penalty 0
    contiguity = false                  # --no-contiguity (true: --contiguity; a flag: true / false)
    together = ["A,B", "C,D"]           # a repeatable flag: --together A,B --together C,D

    [[job]]
    name = "close-dyer"
    command = "scenario"
    base-dir = "job:portland"           # the folder another job above writes: runs after it
    scenario-file = "close_dyer.toml"

Every job's CP-SAT search uses one thread (``workers = 1``: one Dask worker process per core) unless the job
or the defaults give ``workers``.  ``out`` and ``overwrite`` belong to the batch, not to a job.

:func:`parse_jobs` is pure: it checks the file's shape against the commands' flags (a :class:`CommandSpec` per
command, handed in by the caller, which knows the commands) and, through ``check``, each command line's
values; every problem is named with the file, line and key, the nearest valid name and the fix, and raised
once.  :func:`read_jobs` reads the file (``io.files.load_text``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import InputError, Issue
from ..io.files import load_text

__all__ = ["Param", "CommandSpec", "Job", "Jobs", "parse_jobs", "read_jobs", "JOB_REF", "BATCH_FILES"]

#: An input naming another job's folder: ``base-dir = "job:portland"``.
JOB_REF = "job:"
#: What the batch itself writes into DIR (no job may be named so).
BATCH_FILES = ("batch.csv", "batch.md")
#: Keys of a job that are not flags of its command.
_JOB_KEYS = ("name", "command")
#: Flags the batch sets for every job, and why a job may not.
_BATCH_OWNS = {
    "out": "the batch writes each job into DIR/<name>: remove it (name the folder with name = …).",
    "overwrite": "give --overwrite to zoning batch (or --resume to skip finished jobs): remove it here.",
}
_NAME_OK = re.compile(r'[^/\\:*?"<>|\x00-\x1f]{1,100}')

#: How a key turns into command-line words: an argument (a value in place), a flag with a value, an on/off
#: flag (``true`` adds it), a switch (``--x`` / ``--no-x``) or a repeatable flag (a list).
Kind = Literal["argument", "value", "flag", "switch", "multiple"]


@dataclass(frozen=True)
class Param:
    """One input or flag of a command as a jobs file names it (``max-distance`` for ``--max-distance``)."""

    key: str
    kind: Kind
    flag: str = ""  # "--max-distance"; for a switch the flag that turns it on
    off: str = ""  # a switch's flag that turns it off ("--no-contiguity")
    path: bool = False  # a file or folder: relative paths are read from the jobs file's folder
    required: bool = False


@dataclass(frozen=True)
class CommandSpec:
    """A command a job may run and its inputs and flags, in the order they are written on its command line."""

    name: str
    params: tuple[Param, ...]

    def get(self, key: str) -> Param | None:
        return next((p for p in self.params if p.key == key), None)

    def keys(self) -> list[str]:
        return [p.key for p in self.params]


@dataclass(frozen=True)
class Job:
    """One run: its folder name, its command and that command's words (``--out`` aside).

    argv: what follows ``zoning <command>``; an input naming another job's folder stays ``job:NAME`` until
        :meth:`command_line` knows the batch's folder.
    after: the jobs whose folders it reads (they run first).
    spec: a hash of the command and its words: a finished folder whose marker holds the same one is this
        job's, and ``--resume`` skips it.
    """

    name: str
    command: str
    argv: tuple[str, ...]
    after: tuple[str, ...] = ()
    line: int | None = None
    spec: str = ""

    def command_line(self, out_dir: str | os.PathLike[str]) -> list[str]:
        """``argv`` with every ``job:NAME`` replaced by that job's folder in ``out_dir``."""
        refs = {f"{JOB_REF}{n}": os.path.join(os.fspath(out_dir), n) for n in self.after}
        return [refs.get(word, word) for word in self.argv]


@dataclass(frozen=True)
class Jobs:
    """The jobs of a file, in its order (a job comes after every job it reads)."""

    source: str
    jobs: tuple[Job, ...]

    def __len__(self) -> int:
        return len(self.jobs)

    def names(self) -> list[str]:
        return [j.name for j in self.jobs]


def _issue(source: str, line: int | None, message: str, fix: str, key: str | None = None) -> Issue:
    where = source if line is None else f"{source}, line {line}"
    return Issue(message, fix, file=where, column=key)


def _nearest(word: str, names) -> str:
    near = difflib.get_close_matches(word, list(names), n=1, cutoff=0.5)
    return f'did you mean "{near[0]}"? ' if near else ""


def _spec_hash(command: str, argv: list[str]) -> str:
    return hashlib.sha256(json.dumps([command, argv], ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


class _Lines:
    """Where tables and keys are in the file's text (TOML parsers give no positions)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def headers(self, pattern: str) -> list[int]:
        rx = re.compile(pattern)
        return [n for n, line in enumerate(self.lines, start=1) if rx.match(line)]

    def key(self, start: int | None, key: str) -> int | None:
        """The line of ``key = …`` in the table whose header is on line ``start`` (else ``start``)."""
        if start is None:
            return None
        rx = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
        for n in range(start, len(self.lines)):  # 0-based: the lines after the header
            if re.match(r"^\s*\[", self.lines[n]):
                break
            if rx.match(self.lines[n]):
                return n + 1
        return start or None

    def top(self, key: str) -> int | None:
        """The line of a top-level ``key = …`` or ``[key]`` / ``[[key]]`` header."""
        found = self.headers(rf"^\s*\[\[?\s*{re.escape(key)}\s*\]")
        return found[0] if found else self.key(0, key)


def parse_jobs(
    text: str = "",
    *,
    data: Mapping[str, Any] | None = None,
    source: str = "jobs.toml",
    commands: Mapping[str, CommandSpec],
    base_dir: str | os.PathLike[str] = ".",
    check: Callable[[str, list[str]], tuple[str | None, str] | None] | None = None,
) -> Jobs:
    """The jobs in ``text`` (TOML), every problem named with its line and key and raised once.

    ``data``: the file's tables already read (Python dicts, no line numbers); ``commands``: what each command
    takes (from the CLI); ``base_dir``: the folder relative inputs are read
    from; ``check(command, argv)``: the command's own check of its flags' values, ``(key, message)`` for the
    first bad one, or None.
    """
    try:
        data = tomllib.loads(text) if data is None else dict(data)
    except tomllib.TOMLDecodeError as err:
        at = re.search(r"line (\d+)", str(err))
        raise InputError(
            [_issue(source, int(at.group(1)) if at else None, f"is not valid TOML ({err}).",
                    'write each job as a table: [[job]], then command = "partition" and its inputs '
                    "and flags one per line, e.g. max-distance = 2500.")]
        ) from err  # fmt: skip
    where = _Lines(text)
    issues: list[Issue] = []
    for key in data:
        if key not in ("defaults", "job"):
            issues.append(_issue(source, where.top(key), f'has an unknown entry "{key}".',
                                 f'{_nearest(key, ["defaults", "job"])}the file holds [defaults] and '
                                 "[[job]] tables.", key))  # fmt: skip
    defaults, by_command = _defaults(data.get("defaults", {}), commands, source, where, issues)
    tables = data.get("job", [])
    if isinstance(tables, dict):
        tables = [tables]
    if not tables and not issues:
        issues.append(_issue(source, None, "lists no job.", 'add a [[job]] table with command = "partition" '
                             "and its inputs, e.g. blocks = … and schools = ….", "job"))  # fmt: skip
    heads = where.headers(r"^\s*\[\[\s*job\s*\]\]")
    jobs: list[Job] = []
    for k, table in enumerate(tables, start=1):
        line = heads[k - 1] if k - 1 < len(heads) else None
        job = _job(k, table, line, defaults, by_command, commands, source, where, base_dir, issues)
        if job is not None:
            jobs.append(job)
    issues += _names_and_refs(jobs, source, where)
    if not issues and check is not None:
        for job in jobs:
            bad = check(job.command, job.command_line(os.path.join(os.fspath(base_dir), "out")))
            if bad is not None:
                key, message = bad
                issues.append(_issue(source, where.key(job.line, key) if key else job.line,
                                     f'job "{job.name}" ({job.command}): {message}',
                                     f"correct the value (zoning {job.command} --help says what it takes).",
                                     key))  # fmt: skip
    if issues:
        raise InputError(issues)
    return Jobs(source=source, jobs=tuple(jobs))


def read_jobs(
    path: str | os.PathLike[str],
    *,
    commands: Mapping[str, CommandSpec],
    check: Callable[[str, list[str]], tuple[str | None, str] | None] | None = None,
) -> Jobs:
    """The jobs file at ``path`` (TOML, UTF-8 or GBK): :func:`parse_jobs`, relative inputs read from its folder."""
    text = load_text(path, what="a jobs list", suffixes=(".toml",))
    base = os.path.dirname(os.path.abspath(os.fspath(path)))
    return parse_jobs(text, source=os.fspath(path), commands=commands, base_dir=base, check=check)


def _defaults(table: Any, commands, source: str, where: _Lines, issues: list[Issue]):
    """``[defaults]`` (for every command that has the flag) and ``[defaults.<command>]`` tables."""
    line = next(iter(where.headers(r"^\s*\[\s*defaults\s*\]")), None)
    if not isinstance(table, dict):
        issues.append(_issue(source, line, "defaults is not a table.", "write [defaults] and key = value "
                             "lines under it.", "defaults"))  # fmt: skip
        return {}, {}
    every = sorted({k for spec in commands.values() for k in spec.keys()})
    common, by_command = {}, {}
    for key, value in table.items():
        if key in commands and isinstance(value, dict):
            by_command[key] = value
            sub = next(iter(where.headers(rf"^\s*\[\s*defaults\.{re.escape(key)}\s*\]")), line)
            for k in value:
                if commands[key].get(k) is None:
                    issues.append(_unknown(source, where.key(sub, k), k, f"[defaults.{key}]", commands[key]))
            continue
        if key in _BATCH_OWNS or key in _JOB_KEYS:
            issues.append(_issue(source, where.key(line, key), f'[defaults] may not set "{key}".',
                                 _BATCH_OWNS.get(key, "set it in each [[job]]."), key))  # fmt: skip
        elif key not in every:
            fix = f"{_nearest(key, every + list(commands))}write flags as on the command line without "
            fix += '"--", e.g. time-limit = 20; [defaults.partition] holds the defaults of one command.'
            issues.append(
                _issue(source, where.key(line, key), f'[defaults] has an unknown flag "{key}".', fix, key)
            )
        else:
            common[key] = value
    return common, by_command


def _unknown(source: str, line: int | None, key: str, what: str, spec: CommandSpec) -> Issue:
    fix = f'{_nearest(key, spec.keys())}write flags as on the command line without "--" (zoning {spec.name} '
    fix += "--help lists them)."
    return _issue(source, line, f'{what} has an unknown key "{key}": {spec.name} has no such input or flag.',
                  fix, key)  # fmt: skip


def _job(k, table, line, defaults, by_command, commands, source, where, base_dir, issues) -> Job | None:
    """One ``[[job]]``: its defaults merged in, its keys checked and turned into command-line words."""
    label = f"[[job]] #{k}" + (f' "{table["name"]}"' if isinstance(table.get("name"), str) else "")
    command = table.get("command")
    if command is None:
        issues.append(_issue(source, line, f"{label} has no command.",
                             f'add command = "partition" (or one of {", ".join(commands)}).', "command"))  # fmt: skip
        return None
    if command not in commands:
        issues.append(_issue(source, where.key(line, "command"), f'{label}: "{command}" is not a command a '
                             f"batch runs.", f"{_nearest(str(command), commands)}use one of "
                             f"{', '.join(commands)}.", "command"))  # fmt: skip
        return None
    spec = commands[command]
    name = table.get("name", f"{command}-{k}")
    if (
        not isinstance(name, str)
        or not _NAME_OK.fullmatch(name)
        or name.startswith(".")
        or name in BATCH_FILES
    ):
        issues.append(_issue(source, where.key(line, "name"), f"{label}: name {name!r} cannot name a folder.",
                             'use letters, digits, "-" or "_" (no "/", no leading "."), e.g. name = '
                             '"portland-2026".', "name"))  # fmt: skip
        return None
    merged = {k2: v for k2, v in defaults.items() if spec.get(k2) is not None}
    merged |= by_command.get(command, {})
    for key, value in table.items():
        if key in _JOB_KEYS:
            continue
        if key in _BATCH_OWNS:
            issues.append(
                _issue(source, where.key(line, key), f'{label} may not set "{key}".', _BATCH_OWNS[key], key)
            )
        elif spec.get(key) is None:
            issues.append(_unknown(source, where.key(line, key), key, label, spec))
        else:
            merged[key] = value
    if "workers" not in merged and spec.get("workers") is not None:
        merged["workers"] = 1  # one CP-SAT thread per Dask worker process: N processes on N cores
    argv, after = [], []
    for param in spec.params:
        if param.key not in merged:
            if param.required:
                issues.append(_issue(source, line, f'{label} ({command}) has no "{param.key}".',
                                     f'add {param.key} = "…" (the file or folder zoning {command} reads).',
                                     param.key))  # fmt: skip
            continue
        words, problem = _words(param, merged[param.key], base_dir)
        if problem:
            issues.append(_issue(source, where.key(line, param.key), f"{label}: {param.key} = "
                                 f"{merged[param.key]!r} {problem[0]}", problem[1], param.key))  # fmt: skip
            continue
        argv += words
        after += [w[len(JOB_REF) :] for w in words if param.path and w.startswith(JOB_REF)]
    return Job(name=name, command=command, argv=tuple(argv), after=tuple(dict.fromkeys(after)), line=line,
               spec=_spec_hash(command, argv))  # fmt: skip


def _scalar(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        return str(value)
    return None


def _words(param: Param, value, base_dir) -> tuple[list[str], tuple[str, str] | None]:
    """The command-line words of one key, or (what is wrong, the fix)."""
    if param.kind in ("flag", "switch"):
        if not isinstance(value, bool):
            return [], ("is not true or false.", f"write {param.key} = true or {param.key} = false.")
        if param.kind == "flag":
            return ([param.flag] if value else []), None
        return [param.flag if value else param.off], None
    values = value if param.kind == "multiple" and isinstance(value, list) else [value]
    words = [_scalar(v) for v in values]
    if any(w is None for w in words):
        example = '["A,B", "C,D"]' if param.kind == "multiple" else '2500 or "text"'
        return [], ("is not a number or a text.", f"write {param.key} = {example}.")
    if param.path:
        # a job's folder, an absolute path and a URL (postgresql://…: "a URL works wherever a file does") stay
        words = [w if w.startswith(JOB_REF) or os.path.isabs(w) or "://" in w
                 else os.path.normpath(os.path.join(base_dir, w)) for w in words]  # fmt: skip
    if param.kind == "argument":
        return words, None
    return [x for w in words for x in (param.flag, w)], None


def _names_and_refs(jobs: list[Job], source: str, where: _Lines) -> list[Issue]:
    """Every name once; ``job:NAME`` names a job above it."""
    issues, seen = [], {}
    for job in jobs:
        if job.name in seen:
            issues.append(_issue(source, where.key(job.line, "name"), f'two jobs are named "{job.name}" '
                                 f"(lines {seen[job.name]} and {job.line}).", "give each job its own name: "
                                 "it names the job's folder.", "name"))  # fmt: skip
        for ref in job.after:
            if ref not in seen:
                known = [n for n in seen if n != job.name]
                fix = f"{_nearest(ref, known)}name a job above this one, whose folder it reads"
                fix += f" ({', '.join(known)})." if known else "."
                issues.append(_issue(source, job.line, f'job "{job.name}" reads "{JOB_REF}{ref}", which is not a '
                                     "job above it.", fix))  # fmt: skip
        seen.setdefault(job.name, job.line)
    return issues
