"""`wfprof run` on the embedded default, twice: every table lands, and the second run changes nothing."""

import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT

CONFIG_VARS = ("DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME", "SANDBOX_URL", "WFPROF_STEPS_ROOT")


def snapshot(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema='main'").fetchall()]
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}


@pytest.mark.integration
@pytest.mark.slow
def test_wfprof_run_twice_on_the_embedded_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(WFPROF_HOME=str(tmp_path / "home"), WFPROF_WAREHOUSE=str(tmp_path / "wfprof.duckdb"),
               WFPROF_REPORTS_DIR=str(tmp_path / "reports"))
    try:
        first = subprocess.run([str(BIN / "wfprof"), "run", "--verbose"], cwd=PROJECT_ROOT, env=env,
                               capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "succeeded" in first.stdout and "step_sources" in first.stdout  # row counts with --verbose
        assert "steps: 11 priced" in first.stdout and "most expensive" in first.stdout
        assert re.search(r"^wfprof_nightly: (\d+)/\1 done in ", first.stderr, flags=re.M)  # progress, all steps
        tables = snapshot(tmp_path / "wfprof.duckdb")
        assert tables.get("step_sources", 0) >= 1
        assert all(rows > 0 for rows in tables.values()), tables
        usage = ("execution_costs", "customer_usage_daily", "workflow_costs", "pricing_scenarios",
                 "fuel_limit_recommendations")
        assert all(tables.get(t, 0) > 0 for t in usage), tables  # real usage priced (issue 14)

        with duckdb.connect(str(tmp_path / "wfprof.duckdb"), read_only=True) as con:
            sources_before = con.execute("select * from step_sources order by path").fetchall()
            # Every sample step was measured without error, every measurement area landed.
            assert con.execute("select count(*) from step_profiles where error is not null").fetchone() == (0,)
            profiled = {r[0] for r in con.execute("select distinct step_id from step_profiles").fetchall()}
            priced = {r[0] for r in con.execute("select step_id from step_pricing where total_units > 0").fetchall()}
            assert profiled and profiled == priced
            assert con.execute("select count(*) from static_metrics where parse_error is not null").fetchone() == (0,)
            assert con.execute("select bool_and(r_squared >= 0.999) from fuel_fits").fetchone() == (True,)
            assert con.execute("select count(*) from user_code_fuel where error is not null").fetchone() == (0,)
            statuses = dict(con.execute("select status, count(*) from workflow_executions group by 1").fetchall())
            assert statuses.get("success", 0) > 0 and statuses.get("error", 0) > 0  # the demo fails twice on purpose
            # On wfprof's own demo database, workflows with user code are profiled too.
            profiled_wfs = {r[0] for r in con.execute("select distinct workflow_id from workflow_profiles").fetchall()}
            assert {"wf_balance_watch", "wf_price_trend"} <= profiled_wfs
        assert (tmp_path / "reports" / "cost_report.html").stat().st_size > 0
        second = subprocess.run([str(BIN / "wfprof"), "run"], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert " rows" not in second.stdout and re.search(r"\d+ tables \(--verbose lists them\)", second.stdout)
        after = snapshot(tmp_path / "wfprof.duckdb")
        history = ("step_cost_history", "fuel_fit_history")  # append-only: one more set of rows per night
        assert {t: n for t, n in after.items() if t not in history} == \
            {t: n for t, n in tables.items() if t not in history}  # no duplicate rows, nothing lost
        assert all(after[t] == 2 * tables[t] for t in history), (after, tables)
        with duckdb.connect(str(tmp_path / "wfprof.duckdb"), read_only=True) as con:
            assert con.execute("select * from step_sources order by path").fetchall() == sources_before
        # A failed check of severity ERROR fails the run and is named (it used to say "succeeded", exit 0).
        third = subprocess.run([str(BIN / "wfprof"), "run"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                               env={**env, "WFPROF_COMPLEXITY_BUDGET": "3"}, timeout=600)
        assert third.returncode == 1, third.stdout[-3000:] + third.stderr[-3000:]
        assert "FAILED check complexity_budget on static_metrics (severity ERROR): " in third.stdout
        assert "budget=3" in third.stdout
        assert "check details: `wfprof dev` opens the Dagster UI: Assets → static_metrics → Checks" in third.stdout
        assert "wfprof run FAILED in" in third.stdout
    finally:
        subprocess.run([str(BIN / "wfprof"), "pg", "stop"], env=env, capture_output=True, timeout=60)


@pytest.mark.slow
def test_unreachable_keeperhub_db_fails_clearly_and_the_rest_still_lands(tmp_path: Path, embedded_db: str) -> None:
    from wfprof_pipeline_tests.dagster_env import dagster_env

    bad_url = "postgresql://keeper:hunter2-secret@127.0.0.1:1/keeperhub"
    env = dagster_env(tmp_path, embedded_db, DATABASE_URL=bad_url)
    proc = subprocess.run([str(BIN / "wfprof"), "run"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "hunter2-secret" not in output
    assert "FAILED workflow_profiles: cannot connect to PostgreSQL at keeper@127.0.0.1:1/keeperhub" in proc.stdout
    tables = snapshot(tmp_path / "wfprof.duckdb")
    for table in ("step_sources", "static_metrics", "step_profiles", "fuel_fits", "step_pricing"):
        assert tables.get(table, 0) > 0, table
