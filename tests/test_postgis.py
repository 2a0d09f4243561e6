"""PostGIS in and out against a real PostgreSQL server: the demo data read from tables and queries (one
table with Chinese headers), a plan written to a schema in one transaction and read back as the folder
writer wrote it, a bad row named by its primary key, and writes that fail or are killed halfway leaving
nothing.

The server is started here: ``initdb`` / ``pg_ctl`` in a temporary folder (as the ``postgres`` user when
run as root), on a Unix socket only, stopped at the end.  ``ZONING_TEST_POSTGRES=postgresql://…`` uses an
existing server instead (its user may create databases; PostGIS installed there).  With ``CI`` set, no server fails these
tests; elsewhere they skip with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import zoning
from conftest import DEMO
from zoning.check.verify import check_plan
from zoning.cli import main
from zoning.io.db import mask_password, read_db_table
from zoning.io.inputs import read_plan_folder, read_plan_tables

BAOAN = DEMO.parent / "shenzhen_baoan_xuequ2" / "schools_xuequ2_gcj02.geojson"
BLOCK_COLUMNS = {"students": "students_k4", "current_school": "current_school_plurality"}
#: The demo schools with Chinese headers, as a bureau's table has them.
ZH = {"school_id": "学校代码", "name": "学校名称", "capacity": "学位数"}
FAST = zoning.SolveOptions(time_limit_s=20, workers=1, seed=0)


# ------------------------------------------------------------------------------------------- the server


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the PostGIS tests fail instead of skipping.", pytrace=False)
    pytest.skip(reason)


def _program(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or the newest of Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    return versions[-1] if versions else None


def _sql(url: str, *statements: str) -> list:
    """Run statements in autocommit (CREATE DATABASE cannot run in a transaction); the last one's rows."""
    import psycopg

    from zoning.io.db import parse_url

    conninfo = parse_url(url).connect.replace("postgresql+psycopg://", "postgresql://")
    rows: list = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            cur = conn.execute(statement)
            rows = cur.fetchall() if cur.description else []
    return rows


@contextlib.contextmanager
def _private_server():
    """A PostgreSQL server in a temporary folder, listening on a Unix socket there; yields its base URL."""
    initdb, pg_ctl = _program("initdb"), _program("pg_ctl")
    if initdb is None or pg_ctl is None:
        _unavailable(
            "no PostgreSQL server programs (initdb, pg_ctl): apt-get install postgresql postgresql-postgis"
        )
    share = Path(initdb).parents[3] / "share" / "postgresql" / Path(initdb).parts[-3]
    if not (share / "extension" / "postgis.control").exists() and not glob.glob(
        "/usr/share/postgresql/*/extension/postgis.control"
    ):
        _unavailable("PostGIS is not installed: apt-get install postgresql-postgis")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="zoning-pg-"))  # short: a socket path has at most 107 bytes
    if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
        try:
            shutil.chown(folder, "postgres")
        except LookupError:
            shutil.rmtree(folder)
            _unavailable("running as root and there is no postgres user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = folder / "data", folder / "server.log"
    options = (
        f"-c listen_addresses='' -k {folder} -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    )
    started = False
    try:
        steps = [
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
            [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
        ]
        for step in steps:
            done = subprocess.run(as_user + step, capture_output=True, text=True, timeout=120)
            if done.returncode:
                tail = log.read_text()[-800:] if log.exists() else ""
                _unavailable(
                    f"could not start PostgreSQL ({' '.join(step[:1])}): {done.stderr.strip()} {tail}"
                )
            started = step[0] == pg_ctl
        yield f"postgresql://postgres@/postgres?host={folder}"
    finally:
        if started:
            subprocess.run(
                as_user + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
            )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg():
    """The base URL of an empty database with PostGIS (``…/db?host=…``: add ``&table=`` / ``&schema=``)."""
    try:
        import geoalchemy2  # noqa: F401
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as err:
        _unavailable(f"the postgis extra is not installed ({err.name}): pip install -e '.[postgis]'")
    given = os.environ.get("ZONING_TEST_POSTGRES")
    with contextlib.nullcontext(given) if given else _private_server() as base:
        name = f"zoning_test_{os.getpid()}"
        try:
            _sql(base, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
        except Exception as err:  # noqa: BLE001 — any failure here means no usable server
            _unavailable(f"cannot create a database on {mask_password(base)}: {err}")
        path, _sep, query = base.partition("?")
        url = path.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "?")
        _sql(url, "CREATE EXTENSION IF NOT EXISTS postgis")
        yield url
        with contextlib.suppress(Exception):
            _sql(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def at(base: str, **params: str) -> str:
    """``base`` with our parameters added (``query`` last: it runs to the end of the URL)."""
    query = params.pop("query", None)
    parts = [f"{k}={v}" for k, v in params.items()] + ([f"query={query}"] if query else [])
    return base + ("&" if not base.endswith("?") else "") + "&".join(parts)


def _engine(url: str):
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    from zoning.io.db import parse_url

    return sqlalchemy.create_engine(parse_url(url).connect, poolclass=NullPool)


@pytest.fixture(scope="module")
def demo_db(pg):
    """The demo data as tables: demo.blocks (primary key block_id), demo.学校 (Chinese headers, primary
    key 学校代码), demo.schools_lonlat (no geometry: 经度 / 纬度 columns) and Bao'an's schools."""
    blocks = gpd.read_file(DEMO / "blocks.geojson")
    schools = gpd.read_file(DEMO / "schools.geojson").rename(columns=ZH)
    plain = pd.DataFrame(schools.drop(columns="geometry")).assign(
        经度=schools.geometry.x, 纬度=schools.geometry.y
    )
    engine = _engine(pg)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA demo")
        blocks.to_postgis("blocks", conn, schema="demo")
        schools.to_postgis("学校", conn, schema="demo")
        plain.to_sql("schools_lonlat", conn, schema="demo", index=False)
        gpd.read_file(BAOAN).to_postgis("baoan_schools", conn, schema="demo")
        conn.exec_driver_sql("ALTER TABLE demo.blocks ADD PRIMARY KEY (block_id)")
        conn.exec_driver_sql('ALTER TABLE demo."学校" ADD PRIMARY KEY ("学校代码")')
    engine.dispose()
    return pg


def _schemas(url: str) -> set[str]:
    return {r[0] for r in _sql(url, "SELECT nspname FROM pg_namespace")}


def _tables(url: str, schema: str) -> set[str]:
    return {r[0] for r in _sql(url, f"SELECT tablename FROM pg_tables WHERE schemaname = '{schema}'")}


# -------------------------------------------------------------------------------------------- reading


def test_tables_read_like_the_files(demo_db):
    blocks = zoning.read_blocks(at(demo_db, table="demo.blocks"), columns=BLOCK_COLUMNS)
    from_file = zoning.read_blocks(DEMO / "blocks.geojson", columns=BLOCK_COLUMNS)
    assert blocks["source_row"].iloc[0] == "block_id=230050030011002"  # rows named by the primary key
    pd.testing.assert_frame_equal(
        blocks.drop(columns="source_row").sort_values("block_id", ignore_index=True),
        from_file.drop(columns="source_row").sort_values("block_id", ignore_index=True),
    )
    schools = zoning.read_schools(at(demo_db, table="demo.学校"))  # Chinese table name and headers
    schools_file = zoning.read_schools(DEMO / "schools.geojson")
    assert schools.attrs["source_columns"]["capacity"] == "学位数"
    assert sorted(schools["capacity"]) == sorted(schools_file["capacity"])
    assert set(schools["school_id"]) == set(schools_file["school_id"])
    # no geometry: points from the 经度 / 纬度 columns, as from a CSV
    plain = zoning.read_schools(at(demo_db, table="demo.schools_lonlat"))
    assert np.allclose(
        plain.sort_values("school_id").geometry.x, schools.sort_values("school_id").geometry.x, atol=1e-12
    )


def test_a_query_with_a_key_and_the_table_as_layer(demo_db):
    url = at(
        demo_db, key="block_id", query="SELECT * FROM demo.blocks WHERE students_k4 > 5 AND tract LIKE '%'"
    )
    raw = read_db_table(url)
    assert 0 < len(raw.frame) < 317 and raw.rows[0].startswith("block_id=")
    assert isinstance(raw.frame, gpd.GeoDataFrame) and raw.frame.crs.to_epsg() == 4326
    # the table given as the layer (--blocks-layer) when the URL names none
    blocks = zoning.read_blocks(demo_db, layer="demo.blocks", columns=BLOCK_COLUMNS)
    assert len(blocks) == 317


def test_a_bad_row_is_named_by_its_primary_key_with_the_files_message(demo_db, tmp_path):
    schools = gpd.read_file(DEMO / "schools.geojson").rename(columns=ZH)
    schools["学位数"] = schools["学位数"].astype(str)
    schools.loc[2, "学位数"] = "约120"
    bad_id = schools.loc[2, "学校代码"]
    engine = _engine(demo_db)
    with engine.begin() as conn:
        schools.to_postgis("学校_bad", conn, schema="demo")
        conn.exec_driver_sql('ALTER TABLE demo."学校_bad" ADD PRIMARY KEY ("学校代码")')
    engine.dispose()
    schools.to_file(tmp_path / "学校.geojson")
    url = at(demo_db, table="demo.学校_bad")
    with pytest.raises(zoning.InputError, match=f'row 学校代码={bad_id}, column "学位数"') as from_db:
        zoning.read_schools(url)
    with pytest.raises(zoning.InputError) as from_file:
        zoning.read_schools(tmp_path / "学校.geojson")
    (db_issue,), (file_issue,) = from_db.value.issues, from_file.value.issues
    assert db_issue.file == url and file_issue.row == 3
    assert (db_issue.message, db_issue.column, db_issue.fix) == (
        file_issue.message,
        file_issue.column,
        file_issue.fix,
    )
    assert str(from_db.value).startswith(f"1 problem found in {url}:")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"table": "demo.blokcs"}, 'has no table "demo.blokcs". The nearest: demo.blocks'),
        ({"query": "SELEC * FROM demo.blocks"}, "query= must be a SELECT query"),
        ({"query": "SELECT * FROM demo.nothing"}, "a table in the query does not exist"),
        ({"query": "SELECT * FROM demo.blocks", "geom": "shape"}, 'has no geometry column "shape"'),
        ({}, "names no table. Fix: add ?table=schema.table"),
    ],
)
def test_database_errors_name_the_url_and_the_fix(demo_db, params, expected):
    url = at(demo_db, **params)
    with pytest.raises(zoning.InputError, match="Fix: ") as err:
        zoning.read_blocks(url, columns=BLOCK_COLUMNS)
    assert expected in str(err.value) and err.value.issues[0].file == url


def test_connection_errors_mask_the_password(demo_db, caplog):
    host = demo_db.partition("?")[2]
    with pytest.raises(zoning.InputError, match="the database does not exist") as err:
        zoning.read_blocks(f"postgresql://postgres:hunter2@/no_such_db?{host}&table=demo.blocks")
    assert "hunter2" not in str(err.value) and "postgres:***@" in str(err.value)
    assert "hunter2" not in caplog.text and "PGPASSWORD" in caplog.text
    with pytest.raises(zoning.InputError, match="cannot connect .* Fix: check host, port"):
        zoning.read_roads("postgresql://nobody@127.0.0.1:1/db?table=roads&connect_timeout=2")
    with pytest.raises(zoning.InputError, match="holds no geometry"):  # roads need lines
        zoning.read_roads(at(demo_db, table="demo.schools_lonlat"))


def test_without_the_drivers_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(zoning.InputError, match=r"pip install 'zoning\[postgis\]'"):
        zoning.read_blocks("postgresql://u@h/db?table=public.blocks")
    code = "import sys, zoning; assert not {'sqlalchemy', 'psycopg', 'geoalchemy2'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)  # import zoning needs none of them


# ---------------------------------------------------------------------------------------------- writing


@pytest.fixture(scope="module")
def demo_plan(demo_db):
    inputs = zoning.load_inputs(
        at(demo_db, table="demo.blocks"), at(demo_db, table="demo.学校"), block_columns=BLOCK_COLUMNS
    )
    plan = zoning.assign_zones(inputs.blocks, inputs.schools, options=FAST)
    check_plan(plan)
    return plan


def test_a_plan_in_a_schema_reads_back_as_the_folder_writer_wrote_it(demo_db, demo_plan, tmp_path):
    url = at(demo_db, schema="plan_2026")
    written = zoning.write_plan(demo_plan, url)
    assert written == {n: f"plan_2026.{n}" for n in ("blocks", "zones", "schools", "summary")}
    zoning.write_plan(demo_plan, tmp_path / "out")
    db_layers, db_summary = read_plan_folder(url)
    file_layers, file_summary = read_plan_folder(tmp_path / "out")
    assert list(db_layers) == list(file_layers) == ["blocks", "zones", "schools"]
    for name, expected in file_layers.items():
        got = db_layers[name]
        assert list(got.columns) == list(expected.columns), name
        assert got.crs == expected.crs == "EPSG:4326"
        # the same shapes, vertex for vertex (PostGIS keeps one type per column: a zone of one piece is
        # a MultiPolygon of one polygon there)
        assert got.geom_equals(expected).all(), name
        assert np.array_equal(
            shapely.get_coordinates(got.geometry), shapely.get_coordinates(expected.geometry)
        )
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")),
            pd.DataFrame(expected.drop(columns="geometry")),
            check_dtype=False,
            obj=name,
        )
    assert db_summary == file_summary
    blocks, schools = read_plan_tables(url)
    assert len(blocks) == 317 and len(schools) == 5
    # the primary key the next reader names rows by
    assert read_db_table(at(demo_db, table="plan_2026.blocks")).rows[0] == "fid=0"


def test_an_existing_plan_is_kept_unless_overwrite(demo_db, demo_plan):
    url = at(demo_db, schema="plan_kept")
    zoning.write_plan(demo_plan, url)
    with pytest.raises(
        zoning.InputError, match=r"holds a plan already \(tables plan_kept.blocks.*--overwrite"
    ):
        zoning.write_plan(demo_plan, url)
    _sql(demo_db, "CREATE TABLE plan_kept.notes (t text)")  # the bureau's own table stays
    zoning.write_plan(demo_plan, url, overwrite=True)
    assert _tables(demo_db, "plan_kept") == {"blocks", "zones", "schools", "summary", "notes"}


def test_a_write_failing_after_the_first_table_leaves_nothing(demo_db, demo_plan, monkeypatch):
    real = gpd.GeoDataFrame.to_postgis
    calls = []

    def fail_second(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("disk full (simulated)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(gpd.GeoDataFrame, "to_postgis", fail_second)
    with pytest.raises(RuntimeError, match="simulated"):
        zoning.write_plan(demo_plan, at(demo_db, schema="plan_failed"))
    assert calls == ["blocks", "zones"]
    assert "plan_failed" not in _schemas(demo_db)
    # replacing a plan: a failure keeps the old one whole
    monkeypatch.setattr(gpd.GeoDataFrame, "to_postgis", real)
    zoning.write_plan(demo_plan, at(demo_db, schema="plan_old"))
    before = _sql(demo_db, "SELECT count(*), min(written_at) FROM plan_old.summary")
    calls.clear()
    monkeypatch.setattr(gpd.GeoDataFrame, "to_postgis", fail_second)
    with pytest.raises(RuntimeError, match="simulated"):
        zoning.write_plan(demo_plan, at(demo_db, schema="plan_old"), overwrite=True)
    assert _tables(demo_db, "plan_old") == {"blocks", "zones", "schools", "summary"}
    assert _sql(demo_db, "SELECT count(*), min(written_at) FROM plan_old.summary") == before
    assert _sql(demo_db, "SELECT count(*) FROM plan_old.blocks") == [(317,)]


_WRITER = textwrap.dedent(
    """
    import logging, sys
    import geopandas as gpd, numpy as np, shapely
    from zoning.io.db import write_plan_schema
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    n = 100_000
    x, y = np.arange(n) % 1000 * 1e-4, np.arange(n) // 1000 * 1e-4
    big = gpd.GeoDataFrame(
        {"block_id": [f"b{i}" for i in range(n)], "students": np.ones(n)},
        geometry=shapely.box(x, y, x + 1e-4, y + 1e-4), crs=4326,
    )
    write_plan_schema(sys.argv[1], {"blocks": big, "zones": big, "schools": big}, "{}", overwrite=False)
    print("committed", flush=True)
    """
)


def test_a_write_killed_halfway_leaves_nothing(demo_db):
    url = at(demo_db, schema="plan_killed", application_name="zoning_kill_test")
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in writer.stderr:  # wait until the first table is written, then kill during the second
            if "table plan_killed.blocks written" in line:
                break
        else:
            pytest.fail(f"the writer ended before writing a table: {writer.wait()}")
        assert "plan_killed" not in _schemas(demo_db)  # nothing is visible before the commit
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL and "committed" not in writer.stdout.read()
    writer.stdout.close()
    deadline = time.monotonic() + 30  # the server ends the killed client's session and rolls it back
    active = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zoning_kill_test'"
    while _sql(demo_db, active) != [(0,)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sql(demo_db, active) == [(0,)]
    assert "plan_killed" not in _schemas(demo_db)


# ------------------------------------------------------------------------------------------------ the CLI


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_partition_from_tables_to_a_schema(demo_db):
    out = at(demo_db, schema="plan_cli")
    args = ["partition", at(demo_db, table="demo.blocks"), at(demo_db, table="demo.学校"),
            "--students-col", "students_k4", "--current-school-col", "current_school_plurality",
            "--time-limit", 20, "--workers", 1, "--out", out]  # fmt: skip
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "Wrote: plan_cli.blocks, plan_cli.zones, plan_cli.schools, plan_cli.summary" in result.output
    assert "Not written to the database: map.html and plan.csv" in result.output
    layers, summary = read_plan_folder(out)
    assert len(layers["blocks"]) == 317 and set(layers["blocks"]["school_id"]) <= set(
        layers["schools"]["school_id"]
    )
    assert summary["totals"]["zones_not_contiguous"] == summary["totals"]["zones_joined_only_by_links"]
    again = run(*args)  # refused before any work, with no traceback
    assert again.exit_code == 1 and "holds a plan already" in again.output and "Traceback" not in again.output
    assert "Plan:" not in again.output
    bad = run(*args[:-1], at(demo_db, table="demo.blocks"))
    assert bad.exit_code == 1 and "names no schema to write the plan into" in bad.output


def test_districts_from_a_table_to_a_schema(demo_db):
    out = at(demo_db, schema="xuequ")
    result = run("districts", at(demo_db, table="demo.baoan_schools"), "--coords", "gcj02",
                 "--classes-col", "grade1_classes_2024", "--district-col", "xuequ_no", "--districts", 2,
                 "--time-limit", 20, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    layers, summary = read_plan_folder(out)
    assert list(layers) == ["zones", "schools", "districts"]
    assert len(layers["districts"]) == 2 and layers["districts"]["n_schools"].sum() == 41
    assert summary["districts"]["after"]["districts"] == 2


def test_a_plan_is_never_written_over_the_tables_it_reads():
    # a sweep: --out …?schema=data2 --overwrite with the inputs data2.blocks / data2.schools replaced the
    # inputs by the plan's layers (students_k4 gone, the run could not be repeated)
    from zoning.publish.export import prepare_out

    base = "postgresql://planner@db/edu"
    with pytest.raises(
        zoning.InputError, match=r"holds the tables this run reads \(data2.blocks, data2.schools\)"
    ):
        prepare_out(f"{base}?schema=data2", overwrite=True,
                    inputs=(f"{base}?table=data2.blocks", f"{base}?table=data2.schools"))  # fmt: skip
    with pytest.raises(zoning.InputError, match=r"\(public.blocks\)"):  # a table without a schema is public's
        prepare_out(f"{base}?schema=public", overwrite=True, inputs=(f"{base}?table=blocks", "schools.csv"))
