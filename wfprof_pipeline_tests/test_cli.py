"""The CLI: lean start-up, `wfprof sql` against a real warehouse, clean errors."""

import subprocess
import sys
from pathlib import Path

import polars as pl

from wfprof_pipeline.lib import warehouse
from wfprof_pipeline_tests.dagster_env import BIN


def wfprof(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([str(BIN / "wfprof"), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_help_lists_commands_without_importing_dagster() -> None:
    code = ("import sys; from wfprof_pipeline import cli; cli.build_parser(); "
            "heavy = [m for m in ('dagster', 'duckdb', 'polars', 'wasmtime', 'httpx') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
    help_text = wfprof("--help").stdout
    for command in ("run", "dev", "sql", "pg"):
        assert command in help_text


def test_sql_prints_a_table_read_only(warehouse_path: Path) -> None:
    with warehouse.session(warehouse_path) as con:
        warehouse.replace_table(con, "step_sources", pl.DataFrame({"step": ["send-webhook", "check-balance"]}))
    env = {"WFPROF_WAREHOUSE": str(warehouse_path)}
    out = wfprof("sql", "select count(*) as n from step_sources", env=env)
    assert out.returncode == 0 and "2" in out.stdout
    csv = wfprof("sql", "select step from step_sources order by step", "--format", "csv", env=env)
    assert csv.stdout.split() == ["step", "check-balance", "send-webhook"]
    write = wfprof("sql", "drop table step_sources", env=env)
    assert write.returncode == 2 and "read-only" in write.stderr.lower()
    with warehouse.session(warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from step_sources").fetchone() == (2,)  # nothing lost


def test_sql_errors_are_one_clean_line(tmp_path: Path) -> None:
    missing = wfprof("sql", "select 1", env={"WFPROF_WAREHOUSE": str(tmp_path / "none.duckdb")})
    assert missing.returncode == 2 and "wfprof run" in missing.stderr and "Traceback" not in missing.stderr
    db = tmp_path / "w.duckdb"
    warehouse.connect(db).close()
    bad = wfprof("sql", "select * from nope", env={"WFPROF_WAREHOUSE": str(db)})
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr
