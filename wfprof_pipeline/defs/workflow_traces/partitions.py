"""Trace partitions: one per UTC day of `started_at`, from a fixed start, including today (end_offset=1)."""

import dagster as dg

TRACES_START_DATE = "2025-01-01"

# Today's partition exists (end_offset=1) so the demo's executions, made minutes ago, can be ingested.
traces_partitions = dg.DailyPartitionsDefinition(start_date=TRACES_START_DATE, end_offset=1, timezone="UTC")
