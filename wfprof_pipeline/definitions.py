"""Thin entry point: everything lives in `defs/`, one folder per source. What applies to every asset (owner,
links to its source, the traces' freshness policy) and the executor of every job are set here, once."""

import warnings
from datetime import timedelta
from pathlib import Path

import dagster as dg

OWNER = "team:wfprof"

# The daily traces schedule ingests yesterday at 00:30 UTC; by 02:00 UTC (when the nightly job reads them)
# a materialization from the last 90 minutes is expected, else the asset shows as stale in the UI.
TRACES_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 2 * * *", lower_bound_delta=timedelta(minutes=90))

# One process per run, every op in it: step profiling already runs its Node processes in parallel inside
# its op, and every warehouse writer is serialized by the `duckdb` pool, so a process per op (the default
# multiprocess executor) only adds a Python start + Dagster/code-location import per op (README: "Executor
# and the daemon"). Jobs that set no executor (the nightly, trace and sensor jobs, UI materializations and
# backfills) get this one.
EXECUTOR = dg.in_process_executor


def _is_daily_trace(spec: dg.AssetSpec) -> bool:
    # By tag, not key: the traces asset may be split into several keys, all tagged partitioning=daily.
    return spec.tags.get("partitioning") == "daily" and spec.group_name == "workflow_traces"


def _conventions(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(
        owners=[*spec.owners, OWNER] if OWNER not in spec.owners else spec.owners,
        freshness_policy=TRACES_FRESHNESS if _is_daily_trace(spec) else spec.freshness_policy,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build()


def build(executor: dg.ExecutorDefinition = EXECUTOR) -> dg.Definitions:
    """The code location's definitions, every job on `executor` (a benchmark compares another one)."""
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # Code references: each asset links to the file and line of its function (the UI's "source" link).
    # Beta in Dagster 1.13; without the filter every process that loads the code location warns ~30 times.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        # An asset imported by another defs module is listed once per module: keep one per object, else the
        # referenced copies would be distinct objects with the same key.
        unique = list({id(a): a for a in loaded.assets or []}.values())
        referenced = dg.Definitions(
            assets=dg.with_source_code_references(unique), asset_checks=loaded.asset_checks,
            schedules=loaded.schedules, sensors=loaded.sensors, jobs=loaded.jobs, resources=loaded.resources,
            loggers=loaded.loggers, metadata=loaded.metadata, component_tree=loaded.component_tree,
            executor=executor,
        )
        return referenced.map_asset_specs(func=_conventions)  # preview in 1.13, same reason
