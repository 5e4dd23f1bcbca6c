"""The nightly job: every unpartitioned asset. Daily-partitioned assets have their own schedules."""

import dagster as dg

# Assets tagged partitioning=daily run per day under their own schedule; the rest run nightly together.
NIGHTLY_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.tag("partitioning", "daily")

wfprof_nightly_job = dg.define_asset_job(
    name="wfprof_nightly",
    selection=NIGHTLY_SELECTION,
    description="Everything wfprof measures and derives, end to end (what `wfprof run` executes).",
)

wfprof_nightly_schedule = dg.ScheduleDefinition(
    name="wfprof_nightly_schedule",
    job=wfprof_nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Re-measure every step and recompute tiers, prices and budgets at 02:00 UTC.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
