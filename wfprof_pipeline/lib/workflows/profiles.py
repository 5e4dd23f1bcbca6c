"""Profiled workflow runs → two tables: calls by category per execution, and per node."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from wfprof_pipeline.lib.tables import Table
from wfprof_pipeline.lib.workflows.runner import CATEGORIES, RunnerDocument
from wfprof_pipeline.lib.workflows.scrub import clean_error

WORKFLOW_PROFILES = Table.of("workflow_profiles", [
    ("execution_id", pl.Utf8, "The execution the profiled run wrote"),
    ("workflow_id", pl.Utf8, "Workflow profiled"),
    ("workflow_name", pl.Utf8, "Its name"),
    ("mode", pl.Utf8, "precise (exact call counts) or sampling (self time)"),
    ("executor", pl.Utf8, "Whose executor ran it: platform (the checkout's own) or wfprof (wfprof's runner)"),
    ("isolation", pl.Utf8, "How the run's process was isolated: namespaces (kernel) or guard (in-process only)"),
    ("status", pl.Utf8, "success or error"),
    ("category", pl.Utf8, "database, step_functions, external_api, executor, node_internals or other"),
    ("calls", pl.Int64, "Function calls in this category (precise mode)"),
    ("import_calls", pl.Int64, "Of `calls`, those made importing the platform's executor (platform, precise)"),
    ("share", pl.Float64, "calls / all calls of the execution (precise), or self time share (sampling)"),
    ("self_ms", pl.Float64, "CPU self time in this category (sampling mode)"),
    ("duration_ms", pl.Float64, "Wall time of the execution"),
    ("profiled_at", pl.Datetime("us"), "When it was profiled (UTC)"),
])

WORKFLOW_PROFILE_STEPS = Table.of("workflow_profile_steps", [
    ("execution_id", pl.Utf8, "The profiled execution"),
    ("workflow_id", pl.Utf8, "Workflow"),
    ("executor", pl.Utf8, "platform or wfprof"),
    ("position", pl.Int64, "Order the node ran in (0 = trigger)"),
    ("node_id", pl.Utf8, "Workflow node id"),
    ("node_name", pl.Utf8, "Node label"),
    ("action_type", pl.Utf8, "Action type (or trigger)"),
    ("step_id", pl.Utf8, "Registry step that implemented it"),
    ("status", pl.Utf8, "success or error"),
    ("duration_ms", pl.Float64, "The step's own wall time (ms)"),
    ("io_requests", pl.Int64, "Requests the step made (answered by the canned-response stub)"),
    ("calls_total", pl.Int64, "All calls charged to this node (its step, its log writes, its preparation)"),
    *[(f"calls_{c}", pl.Int64, f"Calls in category {c}") for c in CATEGORIES],
    ("self_ms_total", pl.Float64, "CPU self time charged to this node (sampling mode)"),
    ("error", pl.Utf8, "Why the node failed, if it did"),
])


def frames(
    docs: list[tuple[RunnerDocument, str]], profiled_at: datetime | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(workflow_profiles, workflow_profile_steps) from runner documents paired with workflow names."""
    when = (profiled_at or datetime.now(UTC)).replace(tzinfo=None)
    prof_rows: list[dict] = []
    step_rows: list[dict] = []
    for doc, name in docs:
        for run in doc.runs:
            calls = run.calls.model_dump() if run.calls else dict.fromkeys(CATEGORIES, 0)
            self_ms = run.selfMs.model_dump() if run.selfMs else dict.fromkeys(CATEGORIES, 0.0)
            imported = run.importCalls.model_dump() if run.importCalls and doc.mode == "precise" else None
            total_calls = sum(calls.values())
            total_ms = sum(self_ms.values())
            for cat in CATEGORIES:
                base = total_calls if doc.mode == "precise" else total_ms
                value = calls[cat] if doc.mode == "precise" else self_ms[cat]
                prof_rows.append(
                    {
                        "execution_id": run.executionId,
                        "workflow_id": doc.workflowId,
                        "workflow_name": name,
                        "mode": doc.mode,
                        "executor": doc.executor,
                        "isolation": doc.isolation,
                        "status": run.status,
                        "category": cat,
                        "calls": int(calls[cat]) if doc.mode == "precise" else None,
                        "import_calls": int(imported[cat]) if imported else None,
                        "share": (value / base) if base else None,
                        "self_ms": self_ms[cat] if doc.mode == "sampling" else None,
                        "duration_ms": run.durationMs,
                        "profiled_at": when,
                    }
                )
            for position, node in enumerate(run.nodes):
                ncalls = node.calls.model_dump() if node.calls else dict.fromkeys(CATEGORIES, 0)
                nself = node.selfMs.model_dump() if node.selfMs else {}
                step_rows.append(
                    {
                        "execution_id": run.executionId,
                        "workflow_id": doc.workflowId,
                        "executor": doc.executor,
                        "position": position,
                        "node_id": node.nodeId,
                        "node_name": node.nodeName,
                        "action_type": node.actionType,
                        "step_id": node.stepId,
                        "status": node.status,
                        "duration_ms": node.durationMs,
                        "io_requests": node.ioRequests,
                        "calls_total": int(sum(ncalls.values())) if doc.mode == "precise" else None,
                        **{f"calls_{c}": (int(ncalls[c]) if doc.mode == "precise" else None) for c in CATEGORIES},
                        "self_ms_total": round(sum(nself.values()), 3) if doc.mode == "sampling" else None,
                        "error": clean_error(node.error),
                    }
                )
    return WORKFLOW_PROFILES.frame(prof_rows), WORKFLOW_PROFILE_STEPS.frame(step_rows)
