"""A real `dagster asset materialize` with instance storage on real PostgreSQL servers."""

import subprocess
from pathlib import Path

import duckdb
import pytest

from wfprof_pipeline.lib.corpus import discover
from wfprof_pipeline.lib.postgres import connect
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT, dagster_env


@pytest.mark.integration
@pytest.mark.parametrize("server", ["embedded", "system"])
def test_materialize_step_sources_with_postgres_instance(server: str, request, tmp_path: Path) -> None:
    db_url = request.getfixturevalue("embedded_db" if server == "embedded" else "system_db")
    env = dagster_env(tmp_path, db_url)
    proc = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "wfprof_pipeline.definitions",
         "--select", "step_sources"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = {f.rel for f in discover(PROJECT_ROOT / "data/steps")}
    with duckdb.connect(env["WFPROF_WAREHOUSE"], read_only=True) as con:
        paths = {r[0] for r in con.execute("select path from step_sources").fetchall()}
    assert paths == expected and expected
    # The run was recorded in Postgres, not in a local sqlite file.
    with connect(db_url) as conn:
        statuses = [r[0] for r in conn.execute("select status from runs").fetchall()]
    assert statuses == ["SUCCESS"]
    assert not list((tmp_path / "dagster_home").glob("**/*.db"))
