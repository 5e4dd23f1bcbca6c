"""Re-measure when the step code changes: a sensor on the sha256 of the corpus (steps, registry, lock file,
platform code compiled into steps) that re-runs static analysis, step profiling and everything derived."""

import dagster as dg

from wfprof_pipeline.defs.resources import StepCorpusResource
from wfprof_pipeline.lib import source_digest
from wfprof_pipeline.lib.corpus import CorpusError

# Everything downstream of the step files (static metrics, step profiles, tiers, prices, report); the
# daily-partitioned traces are not step-code measurements.
SOURCE_CHANGE_SELECTION = (
    dg.AssetSelection.assets("step_sources").downstream() - dg.AssetSelection.tag("partitioning", "daily")
)

step_sources_changed_job = dg.define_asset_job(
    name="step_sources_changed",
    selection=SOURCE_CHANGE_SELECTION,
    description="Static analysis, step profiling and the cost model, re-run because the step code changed.",
)


@dg.sensor(
    job=step_sources_changed_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Hashes the step corpus (sha256 per file) every minute; when any step file, the registry, "
    "the lock file or compiled-in platform code changes, runs `step_sources_changed`. The first tick only "
    "records the baseline (the nightly job measures the initial state).",
)
def step_sources_sensor(context: dg.SensorEvaluationContext, step_corpus: StepCorpusResource):
    try:
        hashes = source_digest.file_hashes(step_corpus.resolved_root(), step_corpus.globs)
    except CorpusError as exc:
        return dg.SkipReason(str(exc))
    previous = source_digest.decode_cursor(context.cursor)
    context.update_cursor(source_digest.encode_cursor(hashes))
    if previous is None:
        return dg.SkipReason(f"baseline recorded: {len(hashes)} tracked files")
    changed = source_digest.changed(previous, hashes)
    if not changed:
        return dg.SkipReason("no step source changed")
    shown = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
    # No run_key: Dagster skips a run_key it has seen, so a key derived from the content would never re-run
    # a state the corpus returns to (edit A→B, revert to A, edit to B again: the tables would stay at A).
    # The cursor, committed with the tick, already keeps one change from requesting two runs.
    return dg.RunRequest(
        tags={"wfprof/changed_files": shown[:1000], "wfprof/changed_count": str(len(changed))},
    )
