"""The main job end to end (`wfprof run`): what the nightly schedule does, from the command line.

Dagster wiring, not pure logic: it loads the definitions and executes jobs against the instance in
$DAGSTER_HOME, so runs show up in the UI like scheduled ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

NIGHTLY_JOB = "wfprof_nightly"


@dataclass(frozen=True)
class FailedCheck:
    name: str
    asset: str
    severity: str  # "ERROR" or "WARN"
    details: str  # the check's metadata, one line


@dataclass
class RunOutcome:
    jobs: list[tuple[str, bool]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, root cause)
    failed_checks: list[FailedCheck] = field(default_factory=list)
    run_id: str | None = None  # the nightly job's run (its checks are in the UI under this id)

    @property
    def success(self) -> bool:
        # Dagster records a failed check without failing the step; a failed ERROR check fails the run here.
        return all(ok for _, ok in self.jobs) and not any(c.severity == "ERROR" for c in self.failed_checks)


def run_all(log: Callable[[str], None] = print) -> RunOutcome:
    import dagster as dg

    from wfprof_pipeline.definitions import defs
    from wfprof_pipeline.lib.settings import Settings
    from wfprof_pipeline.pipeline import run_guard

    definitions = defs()
    outcome = RunOutcome()
    tags = run_guard.run_tags()
    with dg.DagsterInstance.get() as instance, \
            run_guard.bounded_slot_wait(instance, Settings.from_env().slot_wait_s):
        # A run killed earlier (kill -9) still holds its pool slot: fail it and free the slot first.
        run_guard.reap_dead_runs(instance, log)
        # Workflows first: seed the embedded demo database, then ingest the trace days that have data.
        from wfprof_pipeline.pipeline.stages import (
            QUIET,
            USAGE_ROLLUPS_JOB,
            ingest_trace_days,
            price_usage,
            seed_demo_if_embedded,
        )

        seeded = seed_demo_if_embedded(log)
        outcome.jobs.extend([seeded] if seeded else [])
        outcome.jobs.extend(ingest_trace_days(definitions, instance, log, tags=tags))
        # The usage roll-ups and the report read execution_costs, which price_usage refreshes after the nightly
        # job with tonight's prices: they are built once, there, not here and again there.
        nightly = definitions.resolve_job_def(NIGHTLY_JOB)
        later = set(definitions.resolve_job_def(USAGE_ROLLUPS_JOB).asset_layer.executable_asset_keys)
        keys = {k for k in nightly.asset_layer.executable_asset_keys if k not in later}
        job = nightly.get_subset(asset_selection=keys)
        log(f"running job {NIGHTLY_JOB} ({len(keys)} assets; then usage pricing, its roll-ups and the report)")
        with _StepProgress(instance, NIGHTLY_JOB, total=len(job.graph.nodes)):  # one step per op
            result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET, tags=tags)
        outcome.jobs.append((NIGHTLY_JOB, result.success))
        outcome.run_id = result.run_id
        outcome.failed_checks.extend(failed_checks(result))
        # Usage is priced with tonight's prices, so after the nightly job.
        outcome.jobs.extend(price_usage(definitions, instance, log, tags=tags))
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data is not None:
                outcome.failures.append((event.step_key or "?", _root_cause(event.step_failure_data.error)))
    return outcome


def failed_checks(result: object) -> list[FailedCheck]:
    """The run's failed asset checks (from its event log), ERROR severity first."""
    out = []
    for evaluation in result.get_asset_check_evaluations():  # type: ignore[attr-defined]
        if evaluation.passed:
            continue
        meta = "; ".join(f"{k}={getattr(v, 'value', v)}" for k, v in sorted(evaluation.metadata.items()))
        severity = getattr(evaluation.severity, "value", str(evaluation.severity))
        out.append(FailedCheck(evaluation.check_name, evaluation.asset_key.to_user_string(), severity, meta[:300]))
    return sorted(out, key=lambda c: (c.severity != "ERROR", c.asset, c.name))


def _root_cause(error: object) -> str:
    """The innermost error message: Dagster wraps the asset's exception in its own step error."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    message = (getattr(error, "message", None) or "unknown error").strip()
    # Dagster formats it as "package.module.ErrorClass: text"; the text is what the user needs.
    cls_name = getattr(error, "cls_name", None)
    head, sep, rest = message.partition(": ")
    if cls_name and sep and head.rsplit(".", 1)[-1] == cls_name:
        message = rest
    return message.splitlines()[0] if message else "unknown error"


class _StepProgress:
    """A progress line for an in-process run: watches the run's step events in the instance's event log.

    execute_in_process blocks and offers no per-step callback, so a thread polls the (Postgres) event log.
    """

    POLL_S = 0.5

    def __init__(self, instance: object, job_name: str, total: int) -> None:
        import threading

        from wfprof_pipeline.lib.progress import Progress

        self.instance, self.job_name = instance, job_name
        self.progress = Progress(job_name, total)
        self.run_id: str | None = None
        self.earlier_runs: set[str] = set()
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="wfprof-run-progress", daemon=True)

    def __enter__(self) -> _StepProgress:
        import dagster as dg

        # The run is created inside execute_in_process; remember the ones that existed before it.
        earlier = self.instance.get_runs(filters=dg.RunsFilter(job_name=self.job_name), limit=1)
        self.earlier_runs = {r.run_id for r in earlier}
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self._poll()  # the steps that finished since the last poll
        self.progress.close()

    def _watch(self) -> None:
        while not self.stop.wait(self.POLL_S):
            self._poll()

    def _poll(self) -> None:
        import dagster as dg

        try:
            if self.run_id is None:
                runs = self.instance.get_runs(filters=dg.RunsFilter(job_name=self.job_name), limit=1)
                if not runs or runs[0].run_id in self.earlier_runs:
                    return
                self.run_id = runs[0].run_id
            records = self.instance.get_records_for_run(
                self.run_id, of_type={dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
            ).records
        except Exception:  # progress is cosmetic: never let it disturb the run
            return
        for record in records:
            event = record.event_log_entry.dagster_event
            key = event.step_key if event else None
            if key and key not in self.seen:
                self.seen.add(key)
                failed = event.event_type == dg.DagsterEventType.STEP_FAILURE
                self.progress.finished(f"{key} {'FAILED' if failed else 'done'}")
