"""The daily traces schedule: at 00:30 UTC, ingest the day that just ended (a complete partition)."""

from datetime import timedelta

import dagster as dg

from wfprof_pipeline.defs.workflow_traces.traces import workflow_traces

workflow_traces_job = dg.define_asset_job(
    name="workflow_traces_daily",
    selection=[workflow_traces],
    description="Ingest one day of workflow executions and step runs from the KeeperHub database.",
)


@dg.schedule(
    name="workflow_traces_daily_schedule",
    job=workflow_traces_job,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 00:30 UTC, ingest yesterday's traces (the whole day, now complete).",
)
def workflow_traces_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=day, partition_key=day)
