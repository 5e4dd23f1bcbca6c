"""The main job end to end (`wfprof run`): what the nightly schedule does, from the command line.

Dagster wiring, not pure logic: it loads the definitions and executes jobs against the instance in
$DAGSTER_HOME, so runs show up in the UI like scheduled ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

NIGHTLY_JOB = "wfprof_nightly"
# Step-level events are in the UI; the terminal gets INFO and above.
_QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class RunOutcome:
    jobs: list[tuple[str, bool]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, root cause)

    @property
    def success(self) -> bool:
        return all(ok for _, ok in self.jobs)


def run_all(log: Callable[[str], None] = print) -> RunOutcome:
    import dagster as dg

    from wfprof_pipeline.definitions import defs

    definitions = defs()
    outcome = RunOutcome()
    with dg.DagsterInstance.get() as instance:
        # Workflows first: seed the embedded demo database, then ingest the trace days that have data.
        from wfprof_pipeline.defs.workflows.run_support import ingest_trace_days, seed_demo_if_embedded

        seeded = seed_demo_if_embedded(log)
        outcome.jobs.extend([seeded] if seeded else [])
        outcome.jobs.extend(ingest_trace_days(definitions, instance, log))
        job = definitions.resolve_job_def(NIGHTLY_JOB)
        log(f"running job {NIGHTLY_JOB} ({len(job.asset_layer.executable_asset_keys)} assets)")
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=_QUIET)
        outcome.jobs.append((NIGHTLY_JOB, result.success))
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data is not None:
                outcome.failures.append((event.step_key or "?", _root_cause(event.step_failure_data.error)))
    return outcome


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
