"""PostgreSQL / PostGIS in and out: a table or query read as a :class:`~zoning.io.files.RawTable`, a plan
written to a schema in one transaction and read back.

A database is named by a URL wherever a file is named::

    postgresql://user@host:5432/db?table=public.blocks           a table or view (``schema.name``)
    postgresql://user@host/db?table=public.blocks&key=编号       the column that names rows in messages
    postgresql://user@host/db?geom=geom_gcj02&table=小区           which geometry column (when several)
    postgresql://user@/db?host=/run/postgresql&query=SELECT * FROM blocks WHERE 区 = '宝安'
    postgresql://user@host/db?schema=plan_2026                   a plan's tables (``--out``)

``query=`` comes last and runs to the end of the URL as written (quotes, ``&`` and ``%`` need no
escaping; a URL-encoded query, with ``%20`` for spaces, is decoded).  Any other parameter goes to libpq
(``host=/socket/dir``, ``port``, ``sslmode``, ``application_name``, …).  Passwords come from libpq
(``PGPASSWORD``, ``~/.pgpass``); one written in the URL works but is masked in every message and log line.

Reading runs in a read-only transaction and gives the same :class:`RawTable` a file gives, so validation
and its messages are the same; a row is named by the table's primary key (``row id=14``, or
``row (county, id)=(3, 14)``), by ``&key=COL``, else numbered 1, 2, … in the order the server returns.
A table or query with no geometry column is read as a plain table (points from lon/lat columns).

Writing puts each layer in its own table (with ``fid`` as primary key, as in a GeoPackage) and the
summary in a one-row table ``summary`` (a ``json`` column, the text of ``summary.json``), all in one
transaction: a failed or killed write leaves the database as it was.  An existing plan's tables are
refused unless ``overwrite``, and then dropped and written again in the same transaction.

SQLAlchemy, GeoAlchemy2 and psycopg 3 (``pip install 'zoning[postgis]'``) are imported only here, and only
when a URL is used, so ``import zoning`` does not need them.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Issue
from .files import RawTable
from .save import OVERWRITE_FIX

__all__ = [
    "is_db_url",
    "input_tables_in",
    "mask_password",
    "DbSource",
    "parse_url",
    "read_db_table",
    "check_plan_schema",
    "write_plan_schema",
    "read_plan_schema",
    "SUMMARY_TABLE",
]

log = logging.getLogger(__name__)

#: URL schemes read as a database (the driver part is ours to choose: psycopg 3).
SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
#: The table holding a written plan's summary (one row, ``summary`` json).
SUMMARY_TABLE = "summary"
_OURS = ("table", "query", "geom", "key", "schema")
_INSTALL = "install the PostgreSQL drivers: pip install 'zoning[postgis]'."
_PASSWORD_FIX = "give the password with PGPASSWORD or in ~/.pgpass (never in the URL)"


def is_db_url(source: object) -> bool:
    """Whether ``source`` (a path or text) names a PostgreSQL database rather than a file."""
    return isinstance(source, str) and source.strip().lower().startswith(SCHEMES)


def mask_password(text: str) -> str:
    """``text`` with the password of any PostgreSQL URL in it (and any ``password=`` parameter) masked."""
    text = re.sub(r"((?:postgres(?:ql)?(?:\+\w+)?)://[^:/@?\s]*):[^@/?\s]*@", r"\1:***@", text)
    return re.sub(r"([?&\s]password=)[^&\s]*", r"\1***", text)


@dataclass(frozen=True)
class DbSource:
    """A parsed database URL.

    label: the URL as given, password masked (named in every message).
    connect: the URL SQLAlchemy connects with (``postgresql+psycopg://``, libpq parameters kept).
    table / query / geom / key / schema: the URL's own parameters (``key`` may name several columns).
    """

    label: str
    connect: str
    password: str | None = None
    table: str | None = None
    query: str | None = None
    geom: str | None = None
    key: tuple[str, ...] = ()
    schema: str | None = None


def parse_url(url: str, *, layer: str | None = None) -> DbSource:
    """The parts of a database URL (see the module docstring).  ``layer`` (``--blocks-layer`` and the like)
    names the table when the URL names neither a table nor a query."""
    url = url.strip()
    label = mask_password(url)
    base, _sep, rest = url.partition("?")
    ours: dict[str, str] = {}
    libpq: list[str] = []
    pieces = rest.split("&") if rest else []
    for n, piece in enumerate(pieces):
        name, _eq, value = piece.partition("=")
        if name == "query":
            query = "&".join([value, *pieces[n + 1 :]])
            if " " not in query and re.search(r"%[0-9A-Fa-f]{2}", query):
                query = unquote(query)  # an encoded URL (%20 for spaces)
            ours["query"] = query
            break
        if name in _OURS:
            ours[name] = unquote(value)
        elif piece:
            libpq.append(piece)
    _scheme, _s, location = base.partition("://")
    connect = "postgresql+psycopg://" + location + ("?" + "&".join(libpq) if libpq else "")
    netloc = location.split("/", 1)[0]
    password = unquote(netloc.rpartition("@")[0].partition(":")[2]) if "@" in netloc else ""
    for p in libpq:
        if p.startswith("password="):
            password = unquote(p[len("password=") :])
    if password:
        log.warning(
            "%s: a password in the URL shows in shell history and process lists; %s", label, _PASSWORD_FIX
        )
    if "table" in ours and "query" in ours:
        raise _error(label, "names both a table and a query.", "give one of them.")
    table = ours.get("table") or None
    if layer and ("query" not in ours) and not table:
        table = layer
    elif layer and (table or "query" in ours) and layer != table:
        raise _error(
            label, f'names its table in the URL and again as the layer "{layer}".', "give one of them."
        )
    key = tuple(k.strip() for k in ours.get("key", "").split(",") if k.strip())
    return DbSource(
        label=label,
        connect=connect,
        password=password or None,
        table=table,
        query=ours.get("query", "").strip().rstrip(";").strip() or None,
        geom=ours.get("geom") or None,
        key=key,
        schema=ours.get("schema") or None,
    )


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _error(label: str | None, message: str, fix: str) -> InputError:
    """One problem of the database named by ``label`` (the URL, password masked)."""
    return InputError([Issue(message, fix, file=label)])


def _run(conn, sql: str, params: Mapping[str, Any] | None = None):
    """The result of ``sql`` (SQLAlchemy's ``text``, ``:name`` parameters) on ``conn``."""
    return conn.execute(_modules()[0].text(sql), params or {})


def _modules(label: str | None = None):
    """sqlalchemy (with its ``text``) and the pool class, or an InputError (naming ``label``, the URL)
    saying how to install them."""
    try:
        import geoalchemy2  # noqa: F401  (to_postgis needs it)
        import psycopg  # noqa: F401
        import sqlalchemy
        from sqlalchemy.pool import NullPool
    except ImportError as err:
        raise _error(label, f"needs the PostgreSQL drivers ({err.name} is missing).", _INSTALL) from err
    return sqlalchemy, NullPool


@contextlib.contextmanager
def _connection(src: DbSource, *, write: bool):
    """A connection in one transaction (read-only unless ``write``), committed when the block ends and
    rolled back when it raises; database errors become InputErrors naming the URL and the fix."""
    sqlalchemy, null_pool = _modules(src.label)
    engine = sqlalchemy.create_engine(src.connect, poolclass=null_pool)
    try:
        with _db_errors(src, write=write), engine.begin() as conn:
            if not write:
                conn.execute(sqlalchemy.text("SET TRANSACTION READ ONLY"))
            yield conn
    finally:
        engine.dispose()


#: SQLSTATE (or its class, the first two characters) → what it means and the fix.
_STATES = {
    "28P01": ("the password was refused", _PASSWORD_FIX + "."),
    "28000": ("the server refused the user", "check the user in the URL and the server's pg_hba.conf."),
    "3D000": ("the database does not exist", "check the database name in the URL (…/DATABASE?…)."),
    "42501": ("permission denied", "ask the database's owner for the rights, or connect as another user."),
    "25006": ("the query would change data", "read with a SELECT query; zoning only reads here."),
    "42601": ("the query is not valid SQL", "check the SQL (try it in psql first)."),
    "42P01": ("a table in the query does not exist", "check the table names (schema.table)."),
    "42703": ("a column in the query does not exist", "check the column names."),
    "3F000": ("the schema does not exist", "check the schema name."),
    "08": ("cannot connect", "check host, port, database and user in the URL, and that the server runs."),
    "53": ("the server is out of resources", "free disk space or memory on the server, then run again."),
    "57": ("the server stopped the work", "run again; ask the DBA if it happens again."),
}


@contextlib.contextmanager
def _db_errors(src: DbSource, *, write: bool):
    """Errors of the driver (SQLAlchemy, psycopg, pandas' wrapper of them) as one InputError naming the URL
    (password masked), what went wrong and the fix; the cause is kept."""
    sqlalchemy, _pool = _modules()
    import psycopg

    try:
        yield
    except (sqlalchemy.exc.SQLAlchemyError, psycopg.Error, pd.errors.DatabaseError) as err:
        orig: BaseException = err
        for _ in range(5):  # pandas wraps SQLAlchemy's error, which wraps psycopg's
            nested = getattr(orig, "orig", None) or orig.__cause__
            if isinstance(orig, psycopg.Error) or nested is None:
                break
            orig = nested
        state = getattr(orig, "sqlstate", None) or ""
        detail = " ".join(str(orig).split("\n")[0].split()) or type(orig).__name__
        if src.password:
            detail = detail.replace(src.password, "***")
        detail = mask_password(detail)
        if isinstance(orig, psycopg.OperationalError) and not state:
            state = "08"  # libpq's connection errors carry no SQLSTATE
        what, fix = _STATES.get(state) or _STATES.get(state[:2]) or ("the database refused", "")
        if state == "42501" and write:
            fix = "ask the database's owner for CREATE on the database (or the schema), or choose another schema."
        if state[:2] == "08":  # libpq says why in words only
            if "password" in detail:
                what, fix = "the password was refused or is missing", _PASSWORD_FIX + "."
            elif re.search(r'database ".*" does not exist', detail):
                what, fix = _STATES["3D000"]
            elif re.search(r'role ".*" does not exist', detail):
                what, fix = "no such user", "check the user in the URL (postgresql://USER@HOST/DB)."
        if not fix:
            fix = "check the URL and the table; run the SQL in psql to see more."
        raise _error(src.label, f"{what} ({detail}).", fix) from err


# ---------------------------------------------------------------------------------------------- reading


def _escape_binds(sql: str) -> str:
    """``sql`` for ``sqlalchemy.text``: colons that would read as bind parameters (``:name``) escaped."""
    return re.sub(r"(?<![:\w\\]):(?=\w)", r"\\:", sql)


def _relation(conn, src: DbSource) -> tuple[str, int]:
    """The table of ``src`` as quoted SQL and its oid; an InputError naming the nearest tables if none.
    ``schema.name`` is read as PostgreSQL reads it, then as written (upper case, dots in names)."""
    name = src.table or ""
    for t in (name, ".".join(_ident(p) for p in name.split(".", 1))):
        oid, quoted = _run(
            conn, "SELECT CAST(to_regclass(:t) AS oid), CAST(to_regclass(:t) AS text)", {"t": t}
        ).one()
        if oid is not None:
            return quoted, int(oid)
    tables = [r[0] for r in _run(conn, "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                                 "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")]  # fmt: skip
    bare = {t.split(".", 1)[1]: t for t in tables}
    near = difflib.get_close_matches(name, tables, n=3, cutoff=0.5) or [
        bare[b] for b in difflib.get_close_matches(name.split(".")[-1], list(bare), n=3, cutoff=0.5)
    ]
    listed = near or tables[:20]
    hint = (
        f" {'The nearest' if near else 'Its tables'}: {', '.join(listed)}."
        if listed
        else " It has no tables."
    )
    raise _error(
        src.label,
        f'has no table "{name}".{hint}',
        "name the table as schema.table, e.g. ?table=public.blocks.",
    )


def _primary_key(conn, oid: int) -> tuple[str, ...]:
    rows = _run(conn, "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = CAST(:oid AS oid) "
                "AND i.indisprimary ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)", {"oid": oid})  # fmt: skip
    return tuple(r[0] for r in rows)


#: Type oids of PostgreSQL's floating-point and numeric columns (read back as float64 even when all NULL).
_FLOAT_TYPES = (700, 701, 1700)


def _columns(conn, sql: str) -> tuple[dict[str, int], list[str]]:
    """The columns ``sql`` returns (name → type oid) and which of them hold PostGIS geometry (it is run
    with ``LIMIT 0``)."""
    oids = {
        int(r[0]) for r in _run(conn, "SELECT oid FROM pg_type WHERE typname IN ('geometry', 'geography')")
    }
    result = _run(conn, f"SELECT * FROM ({_escape_binds(sql)}) AS zoning_probe LIMIT 0")
    description = result.cursor.description
    result.close()
    return {d.name: d.type_code for d in description}, [d.name for d in description if d.type_code in oids]


def _choose_geometry(src: DbSource, geoms: list[str]) -> str | None:
    if src.geom is not None and src.geom not in geoms:
        found = f"its geometry columns: {', '.join(geoms)}" if geoms else "it has no geometry column"
        raise _error(
            src.label,
            f'has no geometry column "{src.geom}" ({found}).',
            "name one with &geom=COLUMN, or leave &geom out.",
        )
    if src.geom is None and len(geoms) > 1:
        raise _error(
            src.label,
            f"has {len(geoms)} geometry columns: {', '.join(geoms)}.",
            f"choose one with &geom={geoms[0]}.",
        )
    if not geoms:
        log.info("%s: no geometry column; read as a table (points from lon/lat columns)", src.label)
    return src.geom or (geoms[0] if geoms else None)


def _frame(conn, sql: str, geom: str | None, types: Mapping[str, int], **kw: Any) -> pd.DataFrame:
    """The rows of ``sql``: a GeoDataFrame (CRS from the SRID) with ``geom``, else a DataFrame."""
    statement = _modules()[0].text(_escape_binds(sql))
    if geom is None:
        frame = pd.read_sql(statement, conn, **kw)
    else:
        frame = gpd.read_postgis(statement, conn, geom_col=geom, **kw)
    floats = [c for c, oid in types.items() if oid in _FLOAT_TYPES and c in frame.columns]
    return frame.astype({c: "float64" for c in floats}) if floats else frame


def _row_labels(frame: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray:
    """Each row's name in messages: ``id=14`` by the key column(s), or 1, 2, … without a key."""
    if not key:
        return np.arange(1, len(frame) + 1, dtype=np.int64)

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "NULL"
        return str(int(v)) if isinstance(v, float | np.floating) and float(v).is_integer() else str(v)

    rows = zip(*[frame[k].tolist() for k in key], strict=True)
    if len(key) == 1:
        return np.array([f"{key[0]}={cell(v)}" for (v,) in rows], dtype=object)
    head = f"({', '.join(key)})="
    return np.array([head + "(" + ", ".join(cell(v) for v in row) + ")" for row in rows], dtype=object)


def read_db_table(url: str, *, layer: str | None = None) -> RawTable:
    """A table, view or query of a PostgreSQL database as a :class:`RawTable`: a GeoDataFrame when it has a
    geometry column (its SRID as CRS), else a DataFrame; rows named by the primary key (see the module
    docstring).  Raises :class:`InputError` naming the URL (password masked) and the fix when the server
    cannot be reached, the table does not exist, the query fails or the drivers are not installed."""
    src = parse_url(url, layer=layer)
    if src.table is None and src.query is None:
        raise _error(src.label, "names no table.", "add ?table=schema.table (or ?query=SELECT …) to the URL.")
    if src.query is not None and not re.match(r"(?is)\s*(select|with|values|table)\b", src.query):
        raise _error(src.label, f'query= must be a SELECT query, not "{src.query.split()[0]} …".',
                     "read with SELECT … FROM …, or name the table with ?table=schema.table.")  # fmt: skip
    t0 = time.perf_counter()
    with _connection(src, write=False) as conn:
        key = src.key
        if src.table is not None:
            relation, oid = _relation(conn, src)
            key = key or _primary_key(conn, oid)
            sql = f"SELECT * FROM {relation}"
        else:
            sql = src.query or ""
        types, geoms = _columns(conn, sql)
        missing = [k for k in key if k not in types]
        if missing:
            raise _error(
                src.label,
                f'has no column "{missing[0]}" to name rows by.',
                "name a column of it with &key=COLUMN.",
            )
        if src.table is not None and key:  # a query keeps its own order
            sql += " ORDER BY " + ", ".join(_ident(k) for k in key)
        frame = _frame(conn, sql, _choose_geometry(src, geoms), types).reset_index(drop=True)
    if not key:
        log.info("%s: no primary key; rows are numbered 1, 2, … as the server returns them (&key=COLUMN "
                 "names them)", src.label)  # fmt: skip
    log.info("%s: read %d rows in %.2f s", src.label, len(frame), time.perf_counter() - t0)
    return RawTable(frame=frame, file=src.label, rows=_row_labels(frame, key), encoding=None, kind="postgis")


# ---------------------------------------------------------------------------------------------- writing


def _schema_of(url: str) -> DbSource:
    src = parse_url(url)
    if not src.schema:
        raise _error(
            src.label,
            "names no schema to write the plan into.",
            "add ?schema=NAME to the URL, e.g. ?schema=plan_2026.",
        )
    if src.table or src.query:
        raise _error(
            src.label, "names a table or query; a plan is written to a schema.", "give ?schema=NAME only."
        )
    return src


def input_tables_in(out_url: str, inputs: Iterable[str], names: Iterable[str]) -> list[str]:
    """The tables among ``inputs`` (URLs; files are skipped) that a plan written to ``out_url``'s schema would
    replace: same schema (``public`` when a table names none), a name among the plan's ``names``."""
    schema = parse_url(out_url).schema
    names = set(names)
    out = []
    for url in inputs:
        if not is_db_url(url):
            continue
        table = parse_url(url).table
        if not table:
            continue
        where, _dot, name = table.rpartition(".")
        if (where or "public").strip('"') == schema and name.strip('"') in names:
            out.append(f"{schema}.{name.strip(chr(34))}")
    return out


def _existing(conn, schema: str) -> list[str] | None:
    """The tables and views of ``schema``, or None when there is no such schema."""
    if _run(conn, "SELECT 1 FROM pg_namespace WHERE nspname = :s", {"s": schema}).first() is None:
        return None
    sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = :s ORDER BY 1"
    return [r[0] for r in _run(conn, sql, {"s": schema})]


def _refuse(src: DbSource, existing: list[str] | None, names: Iterable[str], *, overwrite: bool) -> list[str]:
    """The plan tables already in the schema; an InputError naming them unless ``overwrite``."""
    clash = [n for n in names if existing and n in existing]
    if clash and not overwrite:
        held = ", ".join(f"{src.schema}.{n}" for n in clash)
        issue = Issue(
            f"holds a plan already (tables {held}).", OVERWRITE_FIX + " (?schema=NAME).", file=src.label
        )
        raise InputError([issue], headline=f"A plan exists already in {src.label}:")
    return clash


def check_plan_schema(url: str, names: Iterable[str], *, overwrite: bool) -> None:
    """Refuse early (before a solve) what :func:`write_plan_schema` would refuse: a URL without a schema,
    a server that cannot be reached, a plan's tables (``names``) already there unless ``overwrite``, or no
    right to create the schema or tables in it."""
    src = _schema_of(url)
    with _connection(src, write=False) as conn:
        existing = _existing(conn, src.schema or "")
        _refuse(src, existing, names, overwrite=overwrite)
        if existing is None:
            ok = _run(conn, "SELECT has_database_privilege(current_database(), 'CREATE')").scalar()
        else:
            ok = _run(conn, "SELECT has_schema_privilege(:s, 'CREATE')", {"s": src.schema}).scalar()
    if not ok:
        where = (
            "create schemas in this database"
            if existing is None
            else f"create tables in the schema {src.schema}"
        )
        raise _error(
            src.label,
            f"the user may not {where}.",
            "ask the database's owner for CREATE, or choose another schema.",
        )


def write_plan_schema(
    url: str,
    layers: Mapping[str, pd.DataFrame],
    summary_json: str,
    *,
    overwrite: bool,
    replaces: Iterable[str] = (),
) -> dict[str, str]:
    """Write a plan's layers (name → GeoDataFrame or DataFrame) as tables of the URL's ``schema`` and its
    summary (the text of ``summary.json``) as the one-row table ``summary``, in one transaction: the schema
    is created in it, and a failure or a killed process leaves nothing.  Existing tables named in
    ``replaces`` (every table a plan may have) are refused unless ``overwrite``, and then dropped in the
    same transaction.  Returns table name → ``schema.table``."""
    src = _schema_of(url)
    schema = src.schema or ""
    names = [*layers, SUMMARY_TABLE]
    t0 = time.perf_counter()
    with _connection(src, write=True) as conn:
        clash = _refuse(src, _existing(conn, schema), dict.fromkeys([*replaces, *names]), overwrite=overwrite)
        _run(conn, f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
        for name in clash:
            _run(conn, f"DROP TABLE {_ident(schema)}.{_ident(name)} CASCADE")
            log.info("%s: replacing %s.%s", src.label, schema, name)
        for name, frame in layers.items():  # fid: the primary key, as in a GeoPackage (QGIS wants one)
            frame = frame.reset_index(drop=True)
            write = frame.to_postgis if isinstance(frame, gpd.GeoDataFrame) else frame.to_sql
            write(name, conn, schema=schema, if_exists="fail", index=True, index_label="fid")
            _run(conn, f"ALTER TABLE {_ident(schema)}.{_ident(name)} ADD PRIMARY KEY (fid)")
            log.info("%s: table %s.%s written (%d rows)", src.label, schema, name, len(frame))
        table = f"{_ident(schema)}.{_ident(SUMMARY_TABLE)}"
        _run(
            conn,
            f"CREATE TABLE {table} (summary json NOT NULL, written_at timestamptz NOT NULL DEFAULT now())",
        )
        _run(conn, f"INSERT INTO {table} (summary) VALUES (CAST(:s AS json))", {"s": summary_json})
        log.info("%s: committing %d tables into schema %s", src.label, len(names), schema)
    log.info("%s: plan written into schema %s in %.2f s", src.label, schema, time.perf_counter() - t0)
    return {name: f"{schema}.{name}" for name in names}


def read_plan_schema(url: str, layers: Iterable[str]) -> tuple[dict[str, gpd.GeoDataFrame], dict]:
    """The tables ``layers`` (those present, in WGS84, rows in the order written) of a plan in the URL's
    schema and its summary, as :func:`write_plan_schema` wrote them."""
    src = _schema_of(url)
    schema = src.schema or ""
    again = "name a schema zoning partition or districts wrote (--out postgresql://…?schema=NAME)."
    out = {}
    with _connection(src, write=False) as conn:
        existing = _existing(conn, schema)
        if existing is None:
            raise _error(src.label, f'has no schema "{schema}".', again)
        if SUMMARY_TABLE not in existing:
            raise _error(src.label, f"has no table {schema}.{SUMMARY_TABLE}: it holds no plan.", again)
        for name in (n for n in layers if n in existing):
            sql = f"SELECT * FROM {_ident(schema)}.{_ident(name)}"
            types, geoms = _columns(conn, sql)
            frame = _frame(conn, sql + " ORDER BY fid", geoms[0] if geoms else None, types, index_col="fid")
            out[name] = frame.reset_index(drop=True)
        summary = _run(conn, f"SELECT summary FROM {_ident(schema)}.{_ident(SUMMARY_TABLE)}").scalar()
    return out, json.loads(summary) if isinstance(summary, str) else summary
