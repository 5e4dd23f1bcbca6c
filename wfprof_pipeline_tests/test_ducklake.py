"""The DuckLake warehouse on the machine's PostgreSQL as catalog: concurrent trace runs, faults, sql, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from wfprof_pipeline.lib import ducklake, postgres, warehouse
from wfprof_pipeline.lib.instance_config import instance_yaml
from wfprof_pipeline.lib.settings import Settings
from wfprof_pipeline.lib.workflows import ingest, synthetic

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(8)]
TRACE_TABLES = ("workflow_executions", "workflow_step_runs")

# One Dagster process per lane: it loads the code location and runs the daily traces job for each of its
# days, in process, against the shared instance (Postgres), so the instance's pools apply.
WORKER = """
import sys, dagster as dg
from wfprof_pipeline.definitions import defs
job = defs().get_job_def("workflow_traces_daily")
with dg.DagsterInstance.get() as instance:
    for day in sys.argv[1:]:
        result = job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False)
        print("RESULT", day, result.run_id, result.success, flush=True)
"""


@pytest.fixture
def catalog_db(system_db: str) -> str:
    """A fresh database on 127.0.0.1:5432 for the DuckLake catalog."""
    return system_db


@pytest.fixture
def instance_db(embedded_pg: postgres.EmbeddedPostgres) -> str:
    import uuid

    name = f"wfprof_dagster_{uuid.uuid4().hex[:8]}"
    with postgres.connect(embedded_pg.url("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return embedded_pg.url(name, driver="psycopg2")


def _lake_env(tmp_path: Path, catalog: str, source: str, instance_url: str) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "WFPROF_WAREHOUSE": f"ducklake:{catalog}", "WFPROF_WAREHOUSE_DATA": str(tmp_path / "lake"),
           "DATABASE_URL": source, "DAGSTER_PG_URL": instance_url, "DAGSTER_HOME": str(home),
           "WFPROF_HOME": str(tmp_path / "wfhome")}
    settings = Settings.from_env(env)
    # The instance as wfprof writes it for this warehouse (environment.prepare): no pool limit on DuckLake.
    (home / "dagster.yaml").write_text(instance_yaml((PROJECT_ROOT / "dagster.yaml").read_text(), settings))
    return env


def _fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, str]]:
    """Per trace table: rows, distinct ids, and an order-independent hash of every row's content."""
    out = {}
    for table, key in zip(TRACE_TABLES, ("execution_id", "log_id"), strict=True):
        out[table] = con.execute(
            f"select count(*), count(distinct {key}), "
            f"md5(coalesce(string_agg(cast(t as varchar), '|' order by cast(t as varchar)), '')) from {table} t"
        ).fetchone()
    return out


def _reference(tmp_path: Path, source: str) -> dict[str, tuple[int, int, str]]:
    """The same days ingested into a single-file warehouse, one after the other."""
    with postgres.connect(source) as conn, warehouse.session(tmp_path / "single.duckdb") as con:
        for day in DAYS:
            ingest.ingest_day(conn, con, day)
        return _fingerprint(con)


def _run_lanes(env: dict[str, str], lanes: list[list[date]]) -> list[str]:
    # The instance's tables first, as the webserver or daemon creates them in a deployment: dagster-postgres
    # creates them without a lock, so four workers opening a fresh instance at once raced on CREATE TABLE.
    subprocess.run([sys.executable, "-c", "import dagster as dg; dg.DagsterInstance.get().get_runs(limit=1)"],
                   env=env, cwd=PROJECT_ROOT, check=True, timeout=120)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, *(d.isoformat() for d in lane)], env=env,
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for lane in lanes]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
    return outputs


def _results(outputs: list[str]) -> list[list[str]]:
    """(day, run id, success) of every run the workers report."""
    return [line.split()[1:] for out in outputs for line in out.splitlines() if line.startswith("RESULT ")]


def _step_windows(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple[float, float]]:
    windows = []
    for run_id in run_ids:
        start = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
        end = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records
        windows.append((start[0].event_log_entry.timestamp, end[-1].event_log_entry.timestamp))
    return windows


@pytest.mark.slow
def test_eight_days_as_four_concurrent_runs_equal_the_single_file_warehouse(
    tmp_path: Path, embedded_db: str, catalog_db: str, instance_db: str, monkeypatch
) -> None:
    with postgres.connect(embedded_db, autocommit=True) as conn:
        for i, day in enumerate(DAYS):
            synthetic.generate(conn, executions=150 + 10 * i, steps_per_execution=5, day=day, prefix=f"d{i}")
    expected = _reference(tmp_path, embedded_db)
    env = _lake_env(tmp_path, catalog_db, embedded_db, instance_db)

    outputs = _run_lanes(env, [DAYS[i::4] for i in range(4)])

    text = "\n".join(outputs)
    (tmp_path / "lanes.log").write_text(text)  # kept by pytest: the runs' logs, for a failure's post-mortem
    print(f"DuckLake commit conflicts redone: {text.count('DuckLake commit conflict')}")
    assert "Could not set lock" not in text and "Conflicting lock" not in text, text[-3000:]  # DuckDB's lock
    assert "STEP_UP_FOR_RETRY" not in text and "STEP_FAILURE" not in text, text[-5000:]  # no run needed a retry
    results = _results(outputs)
    assert sorted(r[0] for r in results) == [d.isoformat() for d in DAYS] and all(r[2] == "True" for r in results), \
        text[-5000:]
    with warehouse.session(ducklake.parse(env["WFPROF_WAREHOUSE"], env["WFPROF_WAREHOUSE_DATA"]),
                           read_only=True) as con:
        assert _fingerprint(con) == expected
    # The runs wrote at the same time: with the file warehouse's pool of one, no two steps could overlap.
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    monkeypatch.setenv("DAGSTER_PG_URL", instance_db)
    with dg.DagsterInstance.get() as instance:
        windows = _step_windows(instance, [r[1] for r in results])
    overlapping = sum(1 for i, a in enumerate(windows) for b in windows[i + 1:] if a[0] < b[1] and b[0] < a[1])
    assert overlapping > 0, windows


@pytest.mark.slow
def test_two_runs_writing_the_same_day_at_once_leave_it_once(
    tmp_path: Path, embedded_db: str, catalog_db: str, instance_db: str
) -> None:
    day = DAYS[0]
    with postgres.connect(embedded_db, autocommit=True) as conn:
        synthetic.generate(conn, executions=400, steps_per_execution=5, day=day, prefix="s")
    with postgres.connect(embedded_db) as conn, warehouse.session(tmp_path / "single.duckdb") as con:
        ingest.ingest_day(conn, con, day)
        expected = _fingerprint(con)
    env = _lake_env(tmp_path, catalog_db, embedded_db, instance_db)

    outputs = _run_lanes(env, [[day, day], [day, day]])  # 4 runs of one day, 2 at a time

    print(f"DuckLake commit conflicts redone: {''.join(outputs).count('DuckLake commit conflict')}")
    assert "STEP_UP_FOR_RETRY" not in "".join(outputs), "".join(outputs)[-5000:]
    results = _results(outputs)
    assert len(results) == 4 and all(r[2] == "True" for r in results), "\n".join(outputs)[-5000:]
    with warehouse.session(ducklake.parse(env["WFPROF_WAREHOUSE"], env["WFPROF_WAREHOUSE_DATA"]),
                           read_only=True) as con:
        got = _fingerprint(con)
    assert got == expected  # last writer wins: the day once, no duplicate ids, the same content
    assert got["workflow_step_runs"][0] == got["workflow_step_runs"][1] == 2000


def test_instance_yaml_lifts_the_pool_limit_only_for_ducklake() -> None:
    template = (PROJECT_ROOT / "dagster.yaml").read_text()
    file_settings = Settings.from_env({"WFPROF_WAREHOUSE": "w.duckdb"})
    assert instance_yaml(template, file_settings) == template
    lake = Settings.from_env({"WFPROF_WAREHOUSE": "ducklake:postgresql://u@h/db", "WFPROF_WAREHOUSE_DATA": "/d"})
    config = yaml.safe_load(instance_yaml(template, lake))
    assert "default_limit" not in config["concurrency"]["pools"]
    assert yaml.safe_load(template)["concurrency"]["pools"]["default_limit"] == 1
    assert config["storage"] == yaml.safe_load(template)["storage"]


def test_catalog_forms_parse_to_attach_targets(tmp_path: Path) -> None:
    pg = ducklake.parse("ducklake:postgresql://root:s3cret@127.0.0.1:5432/lake", tmp_path)
    assert pg.attach_target() == "ducklake:postgres:dbname=lake host=127.0.0.1 port=5432 user=root password=s3cret"
    assert "s3cret" not in pg.describe()
    sock = ducklake.parse("ducklake:postgresql://root@/lake?host=/run/pg", tmp_path)
    assert sock.attach_target() == "ducklake:postgres:dbname=lake host=/run/pg user=root"
    assert ducklake.parse(f"ducklake:{tmp_path}/c.sqlite", tmp_path).attach_target() == \
        f"ducklake:sqlite:{tmp_path}/c.sqlite"
    local = ducklake.parse(f"ducklake:{tmp_path}/c.ducklake", tmp_path)
    assert local.attach_target() == f"ducklake:{tmp_path}/c.ducklake"


@pytest.mark.parametrize(("spec", "data", "message"), [
    ("ducklake:", "/d", "names no catalog"),
    ("ducklake:postgresql://u@h/", "/d", "names no database"),
    ("ducklake:lake.csv", "/d", "neither a postgresql:// URL nor a .sqlite / .ducklake file"),
    ("ducklake:postgresql://u@h/db", None, "WFPROF_WAREHOUSE_DATA (the directory for its Parquet files) is not set"),
])
def test_bad_configuration_is_one_line(spec: str, data: str | None, message: str) -> None:
    with pytest.raises(ducklake.WarehouseConfigError, match="^[^\n]*" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.").replace("/", "/")):
        ducklake.parse(spec, data)


def test_unreachable_catalog_and_unwritable_data_dir_are_one_line_errors(tmp_path: Path, catalog_db: str) -> None:
    with pytest.raises(ducklake.CatalogUnreachable, match=r"^cannot open the DuckLake catalog .*127\.0\.0\.1:1/x: "
                                                          r"[^\n]*Connection refused[^\n]*$"):
        warehouse.connect(ducklake.parse("ducklake:postgresql://root@127.0.0.1:1/x", tmp_path / "d"))
    with pytest.raises(ducklake.CatalogUnreachable, match=r'^[^\n]*database "no_such_db_wfprof" does not exist$'):
        warehouse.connect(ducklake.parse("ducklake:postgresql://postgres@127.0.0.1/no_such_db_wfprof", tmp_path))
    with pytest.raises(ducklake.CatalogUnreachable, match=r"^[^\n]*c\.sqlite: unable to open database file$"):
        warehouse.connect(ducklake.parse("ducklake:/no/such/dir/c.sqlite", tmp_path / "d"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ducklake.DataPathUnwritable, match=r"^cannot write the DuckLake data directory .*a-file/lake: "
                                                          r"Not a directory; set WFPROF_WAREHOUSE_DATA[^\n]*$"):
        warehouse.connect(ducklake.parse(f"ducklake:{catalog_db}", blocker / "lake"))
    # A catalog created with one data dir refuses another (its files would be lost): said in one line.
    with warehouse.session(ducklake.parse(f"ducklake:{catalog_db}", tmp_path / "one")) as con:
        con.execute("create table t as select 1 as x")
    with pytest.raises(ducklake.WarehouseConfigError, match=r"^[^\n]*differs from the data path[^\n]*one/\)$"):
        warehouse.connect(ducklake.parse(f"ducklake:{catalog_db}", tmp_path / "two"))


def _wfprof(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "wfprof"), *args], capture_output=True, text=True, timeout=120, env=env,
                          cwd=PROJECT_ROOT)


def test_cli_unreachable_catalog_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "WFPROF_WAREHOUSE": "ducklake:postgresql://root@127.0.0.1:1/x",
           "WFPROF_WAREHOUSE_DATA": str(tmp_path)}
    out = _wfprof(env, "sql", "select 1")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("wfprof: error: cannot open the DuckLake catalog")


def test_cost_assets_view_sql_and_report_on_ducklake(
    tmp_path: Path, embedded_db: str, catalog_db: str, monkeypatch
) -> None:
    from wfprof_pipeline.defs.resources import KeeperHubDatabase, SandboxResource, StepCorpusResource
    from wfprof_pipeline.defs.resources import WarehouseResource as WR
    from wfprof_pipeline.lib.cost_model.synthetic import build_warehouse, write_registry
    from wfprof_pipeline_tests.test_cost_assets import COST_ASSETS, TABLES, _seed_workflows

    spec, data = f"ducklake:{catalog_db}", tmp_path / "lake"
    write_registry(tmp_path)
    build_warehouse(tmp_path / "src.duckdb", trace_rows=500)
    _seed_workflows(embedded_db)
    with warehouse.session(ducklake.parse(spec, data)) as con:  # the measurement tables, moved into the lake
        con.execute(f"attach '{tmp_path / 'src.duckdb'}' as src (read_only)")
        for (name,) in con.execute("select table_name from duckdb_tables() where database_name = 'src'").fetchall():
            con.execute(f'create table "{name}" as select * from src."{name}"')
        con.execute("detach src")
    monkeypatch.setenv("WFPROF_STEP_REGISTRY", str(tmp_path / "registry.toml"))
    monkeypatch.setenv("WFPROF_REPORTS_DIR", str(tmp_path / "reports"))
    result = dg.materialize(COST_ASSETS, raise_on_error=False, resources={
        "warehouse": WR.pinned(path=spec, data=data), "step_corpus": StepCorpusResource.pinned(root=str(tmp_path)),
        "keeperhub_db": KeeperHubDatabase.pinned(url=embedded_db), "sandbox": SandboxResource()})
    assert result.success
    with warehouse.session(ducklake.parse(spec, data), read_only=True) as con:
        counts = dict(warehouse.table_counts(con))
    assert all(counts.get(t, 0) > 0 for t in TABLES if t != "user_code_fuel"), counts

    env = {**os.environ, "WFPROF_WAREHOUSE": spec, "WFPROF_WAREHOUSE_DATA": str(data),
           "WFPROF_STEPS_ROOT": str(tmp_path), "WFPROF_STEP_REGISTRY": str(tmp_path / "registry.toml"),
           "WFPROF_REPORTS_DIR": str(tmp_path / "reports")}
    view = _wfprof(env, "sql", "select count(*) as n from v_step_costs", "--format", "json")
    assert view.returncode == 0, view.stderr
    assert json.loads(view.stdout)[0]["n"] == counts["step_pricing"]
    for query, needle in (("select * from read_csv('/etc/passwd')", "disabled by configuration"),
                          ("create table x as select 1", "read-only"),
                          ("set enable_external_access = true", "locked")):
        denied = _wfprof(env, "sql", query)
        assert denied.returncode == 2 and needle in denied.stderr, denied.stderr
    report = _wfprof(env, "report", "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["report"]


@pytest.mark.parametrize("kind", ["postgres", "sqlite", "ducklake"])
def test_every_catalog_kind_takes_declared_tables_views_and_locked_down_reads(
    tmp_path: Path, catalog_db: str, kind: str
) -> None:
    import polars as pl

    from wfprof_pipeline.lib.tables import Table

    catalog = {"postgres": catalog_db, "sqlite": str(tmp_path / "c.sqlite"), "ducklake": str(tmp_path / "c.ducklake")}
    lake = ducklake.parse(f"ducklake:{catalog[kind]}", tmp_path / "lake")
    table = Table.of("prices", [("step_id", pl.Utf8, "The step"), ("units", pl.Float64, "Units per run")])
    two = table.frame([{"step_id": "a", "units": 1.5}, {"step_id": "b", "units": 2.0}])
    with warehouse.session(lake) as con:
        assert warehouse.replace_table(con, table, two) == 2
        assert warehouse.append_rows(con, table, table.frame([{"step_id": "c", "units": 4.0}])) == 3
        assert warehouse.replace_table(con, table, two) == 2  # an exact replace
        con.execute("create or replace view v_prices as select step_id, units * 2 as double_units from prices")
    with warehouse.session(lake, read_only=True, locked_down=True) as con:
        assert con.execute("select sum(double_units) from v_prices").fetchone()[0] == 7.0
        comments = dict(con.execute("select column_name, comment from duckdb_columns() "
                                    "where database_name = current_database() and table_name = 'prices'").fetchall())
        assert comments == {"step_id": "The step", "units": "Units per run"}  # COMMENT ON COLUMN on DuckLake
        assert warehouse.table_counts(con) == [("prices", 2)]
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            con.execute("select * from read_csv('/etc/passwd')")
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("set enable_external_access = true")
