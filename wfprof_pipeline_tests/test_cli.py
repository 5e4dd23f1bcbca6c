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


def test_sql_cannot_write_read_files_or_load_extensions(tmp_path: Path, warehouse_path: Path) -> None:
    """Read-only for real: the probes of issue 16 (item 7) each fail with one line, and nothing is written."""
    with warehouse.session(warehouse_path) as con:
        warehouse.replace_table(con, "step_sources", pl.DataFrame({"step": ["a"]}))
    env = {"WFPROF_WAREHOUSE": str(warehouse_path)}
    other = tmp_path / "other.duckdb"
    probes = {
        f"attach '{other}' as o (read_only false); create table o.t as select 1": "file system operations",
        f"copy step_sources to '{tmp_path / 'out.csv'}'": "file system operations",
        f"export database '{tmp_path / 'exported'}'": "file system operations",
        "select * from read_text('/etc/shadow')": "file system operations",
        "select * from read_csv('/etc/passwd')": "file system operations",
        "install httpfs": "",
        "load httpfs": "",
        "set enable_external_access = true": "locked",
        "create table t as select 1": "read-only",
    }
    for query, reason in probes.items():
        out = wfprof("sql", query, env=env)
        assert out.returncode == 2, (query, out.stdout, out.stderr)
        assert out.stderr.count("\n") == 1 and out.stderr.startswith("wfprof: error: "), out.stderr
        assert reason in out.stderr, (query, out.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wfprof.duckdb"]


def test_sql_keeps_duckdb_hints_and_rounds_floats(warehouse_path: Path) -> None:
    with warehouse.session(warehouse_path) as con:
        warehouse.replace_table(con, "step_sources", pl.DataFrame({"path": ["a"], "ms": [414.5999999999999]}))
    env = {"WFPROF_WAREHOUSE": str(warehouse_path)}
    table = wfprof("sql", "select ms, ms / 3 as third from step_sources", env=env)
    assert table.returncode == 0 and "414.6 " in table.stdout and "414.5999" not in table.stdout
    assert "138.2 " in table.stdout  # 138.19999999999997 at 12 significant digits
    csv = wfprof("sql", "select ms from step_sources", "--format", "csv", env=env)
    assert "414.5999999999999" in csv.stdout  # machine-readable output keeps every digit
    typo = wfprof("sql", "select * from step_source", env=env)
    assert typo.returncode == 2 and 'Did you mean "step_sources"' in typo.stderr
    column = wfprof("sql", "select pathh from step_sources", env=env)
    assert column.returncode == 2 and 'Candidate bindings: "path"' in column.stderr
    assert "Traceback" not in typo.stderr + column.stderr
