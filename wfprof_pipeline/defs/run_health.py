"""The daemon's side of "no hung runs": every minute, fail runs whose process is gone and free their slots.

`wfprof run` does the same before it starts (wfprof_pipeline/pipeline/run_guard.py); this sensor covers runs
launched by the daemon or the UI, which Dagster's default run launcher cannot health-check.
"""

import dagster as dg

from wfprof_pipeline.pipeline import run_guard


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed the unfinished runs whose process is gone (e.g. killed with -9) and frees "
    "their concurrency-pool slots, so the `duckdb` pool never stays held by a dead run.",
)
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    reaped = run_guard.reap_dead_runs(context.instance, log=context.log.warning)
    return dg.SkipReason(f"failed {len(reaped)} dead run(s): {', '.join(reaped)}" if reaped else "no dead runs")
