"""Dagster wiring of the workflow assets: partitions, row-count checks, step_latency, schedule, job shape."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import pytest

from wfprof_pipeline.defs.resources import KeeperHubDatabase, WarehouseResource
from wfprof_pipeline.defs.workflow_traces.latency import step_latency
from wfprof_pipeline.defs.workflow_traces.schedules import workflow_traces_daily_schedule
from wfprof_pipeline.defs.workflow_traces.traces import ROW_COUNT_CHECK, workflow_traces
from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.workflows import synthetic
from wfprof_pipeline.pipeline.stages import days_to_ingest

DAY = date(2026, 2, 3)


@pytest.fixture
def source(embedded_db: str) -> str:
    with postgres.connect(embedded_db, autocommit=True) as conn:
        synthetic.generate(conn, executions=200, steps_per_execution=5, day=DAY, prefix="d")
        synthetic.generate(conn, executions=20, steps_per_execution=5, day=date(2026, 2, 4), prefix="n")
    return embedded_db


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """The row-count check of each trace asset, by asset."""
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {ROW_COUNT_CHECK}
    return {e.asset_key.to_user_string(): e for e in evaluations}


def _resources(url: str, warehouse_path) -> dict:
    return {"keeperhub_db": KeeperHubDatabase.pinned(url=url),
            "warehouse": WarehouseResource.pinned(path=warehouse_path)}


def test_partition_materializes_with_a_passing_row_count_check_and_reruns_identically(source, warehouse_path):
    resources = _resources(source, warehouse_path)
    with dg.instance_for_test() as instance:
        first = dg.materialize([workflow_traces], partition_key=DAY.isoformat(), resources=resources, instance=instance)
        assert first.success
        checks = _checks(first)
        assert set(checks) == {"workflow_executions", "workflow_step_runs"}
        assert all(c.passed for c in checks.values())
        step_runs, executions = checks["workflow_step_runs"], checks["workflow_executions"]
        assert step_runs.metadata["source_rows"].value == step_runs.metadata["written_rows"].value == 1000
        assert executions.metadata["source_rows"].value == executions.metadata["written_rows"].value == 200
        counts = {m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
                  for m in first.asset_materializations_for_node("workflow_traces")}
        assert counts == {"workflow_executions": 200, "workflow_step_runs": 1000}
        with duckdb.connect(str(warehouse_path)) as con:
            snapshot = con.execute("select * from workflow_step_runs order by all").fetchall()
        again = dg.materialize([workflow_traces], partition_key=DAY.isoformat(), resources=resources, instance=instance)
        assert again.success and all(c.passed for c in _checks(again).values())
        with duckdb.connect(str(warehouse_path)) as con:
            assert con.execute("select * from workflow_step_runs order by all").fetchall() == snapshot

        latency = dg.materialize([step_latency], resources=resources, instance=instance)
        assert latency.success
    with duckdb.connect(str(warehouse_path)) as con:
        rows = con.execute(
            "select action_type, runs, errors, error_rate, p50_ms <= p95_ms and p95_ms <= p99_ms, "
            "spread_p95_p5 >= 1 from step_latency order by action_type"
        ).fetchall()
    by_type = {r[0]: r for r in rows}
    assert sum(r[1] for r in rows) == 1000
    assert by_type["trigger"][1] == 200 and by_type["trigger"][2] == 0
    assert sum(r[2] for r in rows) == 20  # every 10th execution fails at its last step
    assert all(r[4] and r[5] for r in rows)


def test_row_count_check_fails_when_the_copy_loses_rows(source, warehouse_path, monkeypatch):
    """The check counts the source itself (count(*) in the copied snapshot), not the rows the COPY returned."""
    from wfprof_pipeline.lib.workflows import ingest

    monkeypatch.setattr(ingest, "_LOGS_SQL", ingest._LOGS_SQL + " and node_id <> 'n0'")  # a reader bug
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [workflow_traces],
            partition_key=DAY.isoformat(),
            resources=_resources(source, warehouse_path),
            instance=instance,
        )
    checks = _checks(result)
    assert checks["workflow_executions"].passed  # only the step runs lost rows
    step_runs = checks["workflow_step_runs"]
    assert not step_runs.passed
    assert step_runs.metadata["source_rows"].value == 1000 and step_runs.metadata["written_rows"].value == 800


def test_unreachable_database_is_a_clear_error_retried_by_policy(warehouse_path):
    policy = workflow_traces.op.retry_policy
    assert policy is not None and policy.max_retries >= 1  # Dagster re-runs the partition after a delay
    context = dg.build_asset_context(partition_key=DAY.isoformat())
    with pytest.raises(postgres.PostgresUnreachable, match=r"cannot connect to PostgreSQL at nobody@127\.0\.0\.1:9/"):
        list(workflow_traces(context, **_resources("postgresql://nobody:pw@127.0.0.1:9/keeperhub", warehouse_path)))


def test_daily_schedule_ingests_the_day_that_just_ended():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 5, 2, 0, 30, tzinfo=UTC))
    request = workflow_traces_daily_schedule(context)
    assert request.partition_key == "2026-05-01"


def test_run_ingests_new_days_and_refreshes_the_latest_ones():
    days = [date(2026, 1, d) for d in (1, 2, 3, 4)]
    assert days_to_ingest(days, {"2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"}) == [
        "2026-01-03",
        "2026-01-04",
    ]
    assert days_to_ingest(days, {"2026-01-02"}) == ["2026-01-01", "2026-01-03", "2026-01-04"]
    assert days_to_ingest(days, set(), limit=2) == ["2026-01-03", "2026-01-04"]


def test_graph_shape_traces_are_daily_and_out_of_the_nightly_job():
    from wfprof_pipeline.definitions import defs

    definitions = defs()
    keys = {k.to_user_string() for k in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert {"workflow_executions", "workflow_step_runs", "step_latency", "workflow_profiles",
            "workflow_profile_steps"} <= keys
    assert "workflow_traces" not in keys  # the multi-asset's op, not an asset
    nightly = {
        k.to_user_string() for k in definitions.resolve_job_def("wfprof_nightly").asset_layer.executable_asset_keys
    }
    assert not {"workflow_executions", "workflow_step_runs"} & nightly
    assert {"step_latency", "workflow_profiles", "workflow_profile_steps"} <= nightly
    traces = definitions.resolve_assets_def("workflow_step_runs")
    assert traces is definitions.resolve_assets_def("workflow_executions")  # one op writes both
    upstream = definitions.resolve_asset_graph().get(dg.AssetKey("step_latency")).parent_keys
    assert dg.AssetKey("workflow_step_runs") in upstream
    assert traces.partitions_def.start == datetime(2025, 1, 1, tzinfo=traces.partitions_def.start.tzinfo)
    schedule = definitions.resolve_schedule_def("workflow_traces_daily_schedule")
    assert schedule.cron_schedule == "30 0 * * *" and schedule.execution_timezone == "UTC"


def test_wfprof_run_ingests_the_days_with_data_and_names_days_outside_the_partitions(
    embedded_db, warehouse_path, monkeypatch
):
    from wfprof_pipeline.definitions import defs
    from wfprof_pipeline.pipeline.stages import ingest_trace_days

    with postgres.connect(embedded_db, autocommit=True) as conn:
        synthetic.generate(conn, executions=10, steps_per_execution=2, day=DAY, prefix="in")
        synthetic.generate(conn, executions=5, steps_per_execution=2, day=date(2024, 6, 1), prefix="old")
    monkeypatch.setenv("DATABASE_URL", embedded_db)
    monkeypatch.setenv("WFPROF_WAREHOUSE", str(warehouse_path))
    log: list[str] = []
    with dg.instance_for_test() as instance:
        outcome = ingest_trace_days(defs(), instance, log.append)
    assert outcome == [(f"workflow_traces[{DAY.isoformat()}]", True)]
    assert any("1 day(s) with data lie outside the partitions (2024-06-01" in line for line in log), log
    with duckdb.connect(str(warehouse_path)) as con:
        assert con.execute("select count(*) from workflow_step_runs").fetchone()[0] == 20


def test_invalid_trace_values_are_counted_in_the_metadata_and_do_not_fail_the_day(source, warehouse_path):
    with postgres.connect(source, autocommit=True) as conn:
        conn.execute("update workflow_execution_logs set duration = 'NaN' where id in "
                     "(select id from workflow_execution_logs order by id limit 3)")
        conn.execute("update workflow_executions set completed_at = '294276-01-01' where id = "
                     "(select id from workflow_executions order by id limit 1)")
        conn.execute("update workflow_executions set started_at = 'infinity' where id = "
                     "(select id from workflow_executions order by id desc limit 1)")
    with dg.instance_for_test() as instance:
        result = dg.materialize([workflow_traces], partition_key=DAY.isoformat(),
                                resources=_resources(source, warehouse_path), instance=instance)
    assert result.success
    invalid = {m.asset_key.to_user_string(): m.metadata["rows_with_invalid_values"].value
               for m in result.asset_materializations_for_node("workflow_traces")}
    assert invalid == {"workflow_executions": 1, "workflow_step_runs": 3}
    assert all(c.passed for c in _checks(result).values())
