"""The stages `wfprof run` runs around the nightly job (called from pipeline/run.py).

1. On the embedded default, seed the demo database once (only while it has no executions, so a second
   `wfprof run` adds nothing).
2. Materialize the `workflow_traces` partitions that have data and are not in the warehouse yet, plus
   the two most recent such days (today's and yesterday's may still be growing).
The nightly job then builds the unpartitioned assets (step_latency, workflow_profiles, …) on top, and after it
3. `price_usage` prices the ingested days with tonight's prices and refreshes the usage roll-ups.
"""

from collections.abc import Callable
from datetime import date, timedelta

import dagster as dg

from wfprof_pipeline.defs.pricing.usage import execution_costs_job, usage_rollups_job
from wfprof_pipeline.defs.workflow_traces.partitions import TRACES_START_DATE
from wfprof_pipeline.defs.workflow_traces.schedules import workflow_traces_job
from wfprof_pipeline.lib import keeperhub
from wfprof_pipeline.lib.cost_model.policy import PolicyError, load_policy
from wfprof_pipeline.lib.keeperhub import KeeperHub
from wfprof_pipeline.lib.settings import Settings
from wfprof_pipeline.lib.workflows import ingest

EXECUTION_COSTS_JOB = execution_costs_job.name
USAGE_ROLLUPS_JOB = usage_rollups_job.name  # the usage roll-ups and the cost report
# Step-level events are in the UI; the terminal gets INFO and above.
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
RECENT_DAYS = 2
# One Dagster run per day: a first `wfprof run` on years of history ingests the latest month; older days
# are a backfill of `workflow_traces` in the Dagster UI (`wfprof dev`).
MAX_DAYS_PER_RUN = 31


def seed_demo_if_embedded(log: Callable[[str], None]) -> tuple[str, bool] | None:
    """Only on the embedded default with the bundled corpus: a user's checkout, registry or database
    never gets wfprof's demo workflows."""
    from wfprof_pipeline.lib.registry import load_for_root
    from wfprof_pipeline.lib.workflows import demo

    settings = Settings.from_env()
    if not settings.database_url or not keeperhub.is_embedded_demo(settings.database_url, settings):
        return None
    if not demo.bundled_corpus(settings.steps_root, settings.step_registry):
        # The embedded database then holds no workflows (an empty schema, so traces and workflow profiles
        # are empty rather than failing): the platform's own database is DATABASE_URL.
        with KeeperHub(settings.database_url) as kh:
            kh.ensure_schema()
        log("demo seeding skipped: the steps are not wfprof's bundled sample corpus, so the embedded database "
            "holds no workflows (set DATABASE_URL to your platform's database for traces and workflow profiles)")
        return None

    try:
        result = demo.seed(settings.database_url, load_for_root(settings.steps_root), node=settings.node)
    except Exception as exc:  # the other measurements still run; the failure is reported
        log(f"demo seeding failed: {exc}")
        return ("demo_seed", False)
    if result.skipped:
        log("demo database already seeded")
    else:
        log(
            f"seeded the demo database: {result.executions} executions of {result.workflows} workflows "
            f"in {result.seconds:.1f} s"
        )
    return ("demo_seed", True)


def days_to_ingest(days: list[date], materialized: set[str], limit: int | None = None) -> list[str]:
    """Days with data not ingested yet, plus the most recent ones; at most `limit`, newest kept."""
    keys = [d.isoformat() for d in days]
    recent = set(keys[-RECENT_DAYS:])
    wanted = [k for k in keys if k not in materialized or k in recent]
    return wanted[-limit:] if limit else wanted


def ingest_trace_days(
    definitions: dg.Definitions, instance: dg.DagsterInstance, log: Callable[[str], None],
    tags: dict[str, str] | None = None,
) -> list[tuple[str, bool]]:
    settings = Settings.from_env()
    if not settings.database_url:
        return []
    try:
        with KeeperHub(settings.database_url) as kh:
            days = ingest.days_with_data(kh.conn)
    except Exception as exc:  # unreachable or not a KeeperHub schema: reported, the nightly job still runs
        log(f"workflow traces skipped: {exc}")
        return [("workflow_traces", False)]
    partitions = definitions.resolve_assets_def("workflow_step_runs").partitions_def
    valid = set(partitions.get_partition_keys(dynamic_partitions_store=instance)) if partitions else set()
    materialized = instance.get_materialized_partitions(dg.AssetKey("workflow_step_runs"))
    wanted = days_to_ingest(days, materialized)
    pending = [k for k in wanted if k in valid]
    if len(pending) < len(wanted):
        outside = sorted(set(wanted) - set(pending))
        log(
            f"workflow traces: {len(outside)} day(s) with data lie outside the partitions "
            f"({outside[0]} … {outside[-1]}; partitions start {TRACES_START_DATE}) and are not ingested"
        )
    keys = pending[-MAX_DAYS_PER_RUN:]
    if len(pending) > len(keys):
        log(
            f"workflow traces: ingesting the latest {len(keys)} of {len(pending)} days; backfill the rest "
            "with `wfprof dev` (assets workflow_executions, workflow_step_runs)"
        )
    if not keys:
        log("workflow traces: nothing new to ingest")
        return []
    job = definitions.resolve_job_def(workflow_traces_job.name)
    out = []
    for key in keys:
        result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False,
                                        run_config=QUIET, tags=tags)
        log(f"workflow traces {key}: {'ingested' if result.success else 'FAILED'}")
        out.append((f"workflow_traces[{key}]", result.success))
    return out


def price_usage(definitions: dg.Definitions, instance: dg.DagsterInstance, log: Callable[[str], None],
                tags: dict[str, str] | None = None) -> list[tuple[str, bool]]:
    """For `wfprof run`, after the nightly job: price the ingested trace days of the scenario window in one
    run (with tonight's prices), then build the roll-ups and the report that read them (always: with no
    trace days the roll-ups are empty and the report says so)."""
    days = sorted(instance.get_materialized_partitions(dg.AssetKey("workflow_step_runs")))
    runs: list[tuple[str, dict[str, str] | None]] = []
    if days:
        try:
            window = load_policy().usage.scenario_window_days
        except PolicyError as exc:
            log(f"usage: {exc}")
            return [(EXECUTION_COSTS_JOB, False)]
        first = max(date.fromisoformat(days[0]), date.fromisoformat(days[-1]) - timedelta(days=window - 1))
        # Dagster's run tags for a partition range (what a single-run backfill sets).
        runs.append((EXECUTION_COSTS_JOB, {**(tags or {}), "dagster/asset_partition_range_start": first.isoformat(),
                                           "dagster/asset_partition_range_end": days[-1]}))
    else:
        log("usage: no trace days ingested, nothing to price")
    runs.append((USAGE_ROLLUPS_JOB, tags))
    out = []
    for job_name, job_tags in runs:
        result = definitions.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET, tags=job_tags)
        out.append((job_name, result.success))
        if not result.success:
            break
    if days:
        log(f"usage: priced {first} … {days[-1]}: {'done' if all(ok for _, ok in out) else 'FAILED'}")
    return out
