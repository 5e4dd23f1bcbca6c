"""The demo database is worth pricing: real runs of several customers over a week."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg

from wfprof_pipeline.defs.pricing.usage import execution_costs_daily_schedule
from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.workflows import demo, schema


def test_the_seeded_demo_holds_five_customers_over_seven_days(embedded_db: str) -> None:
    result = demo.seed(embedded_db, load_for_root(demo.BUNDLED_STEPS))
    assert not result.skipped and result.executions >= 7
    with postgres.connect(embedded_db) as conn:
        users, days = conn.execute(
            "select count(distinct user_id), count(distinct started_at::date) from workflow_executions").fetchone()
        # every step log moved with its execution (the same day offset, so never before it)
        strays = conn.execute(
            "select count(*) from workflow_execution_logs l join workflow_executions e on e.id = l.execution_id "
            "where l.started_at < e.started_at or l.started_at > e.started_at + interval '1 hour'").fetchone()[0]
        newest = conn.execute("select max(started_at) from workflow_executions").fetchone()[0]
    assert users >= 5 and days == demo.DEMO_DAYS and strays == 0
    assert datetime.now() - newest < timedelta(hours=1)  # the newest run keeps its real time


def test_spreading_leaves_profiled_executions_alone(system_db: str) -> None:
    start = datetime(2026, 3, 10, 12, 0)
    with postgres.connect(system_db, autocommit=True) as conn:
        schema.create_schema(conn)
        conn.execute("insert into workflows (id, name, user_id) values ('wf', 'wf', 'u')")
        for i, prefix in enumerate(["a", "b", "c", schema.PROFILED_EXECUTION_PREFIX + "d"]):
            conn.execute("insert into workflow_executions (id, workflow_id, user_id, started_at, completed_at) "
                         "values (%s, 'wf', 'u', %s, %s)", (prefix, start + timedelta(seconds=i),
                                                           start + timedelta(seconds=i + 1)))
            conn.execute("insert into workflow_execution_logs (id, execution_id, node_id, node_name, node_type, "
                         "status, started_at) values (%s, %s, 'n', 'n', 'trigger', 'success', %s)",
                         (f"log-{prefix}", prefix, start + timedelta(seconds=i)))
    with postgres.connect(system_db) as conn:
        assert demo.spread_over_days(conn, days=2) == 1  # a: 0 days back, b: 1, c: 0
        rows = dict(conn.execute("select id, started_at from workflow_executions").fetchall())
        logs = dict(conn.execute("select execution_id, started_at from workflow_execution_logs").fetchall())
    assert rows["b"] == start + timedelta(seconds=1) - timedelta(days=1) and logs["b"] == rows["b"]
    assert rows["a"] == start and rows["c"] == start + timedelta(seconds=2)
    assert rows[schema.PROFILED_EXECUTION_PREFIX + "d"] == start + timedelta(seconds=3)


def test_execution_costs_schedule_prices_yesterday() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 11, 1, 0))
    request = execution_costs_daily_schedule(context)
    assert request.partition_key == "2026-03-10"
