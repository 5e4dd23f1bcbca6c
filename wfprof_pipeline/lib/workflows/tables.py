"""The trace tables, declared once: what the ingest writes, Dagster shows and DuckDB's catalog documents."""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.tables import Table
from wfprof_pipeline.lib.workflows.scrub import ERROR_MAX_CHARS

_ERROR_DOC = f"Error text, secrets scrubbed, at most {ERROR_MAX_CHARS} characters"

EXECUTIONS = Table.of(
    "workflow_executions",
    [
        ("execution_id", pl.Utf8, "workflow_executions.id"),
        ("workflow_id", pl.Utf8, "The workflow that ran"),
        ("user_id", pl.Utf8, "Owner of the execution"),
        ("status", pl.Utf8, "pending, running, success, error or cancelled"),
        ("started_at", pl.Datetime("us"), "Start (UTC); the partition key"),
        ("completed_at", pl.Datetime("us"), "End (UTC), null while running"),
        ("duration_ms", pl.Float64, "KeeperHub's `duration` (text ms) as a number; null if not a finite number"),
        ("total_steps", pl.Int64, "Nodes the execution planned to run"),
        ("completed_steps", pl.Int64, "Nodes it completed"),
        ("current_node_id", pl.Utf8, "Last node it was on"),
        ("input_bytes", pl.Int64, "Size of the input JSON (the payload itself is never copied)"),
        ("output_bytes", pl.Int64, "Size of the output JSON"),
        ("error", pl.Utf8, _ERROR_DOC),
    ],
    "Workflow executions copied from KeeperHub, one UTC day per partition",
)

STEP_RUNS = Table.of(
    "workflow_step_runs",
    [
        ("log_id", pl.Utf8, "workflow_execution_logs.id"),
        ("execution_id", pl.Utf8, "The execution this step ran in"),
        ("node_id", pl.Utf8, "Workflow node id"),
        ("node_name", pl.Utf8, "Node label"),
        ("action_type", pl.Utf8, "KeeperHub's node_type: the action type (e.g. web3/check-balance) or trigger"),
        ("status", pl.Utf8, "pending, running, success or error"),
        ("started_at", pl.Datetime("us"), "Start (UTC); the partition key"),
        ("completed_at", pl.Datetime("us"), "End (UTC)"),
        ("duration_ms", pl.Float64, "KeeperHub's `duration` (text ms) as a number; null if not finite"),
        ("input_bytes", pl.Int64, "Size of the step input JSON"),
        ("output_bytes", pl.Int64, "Size of the step output JSON"),
        ("error", pl.Utf8, _ERROR_DOC),
        ("iteration_index", pl.Int64, "Iteration inside a for-each, else null"),
        ("for_each_node_id", pl.Utf8, "The for-each node driving the iteration, else null"),
    ],
    "Step runs (KeeperHub workflow_execution_logs) copied from KeeperHub, one UTC day per partition",
)

TRACE_TABLES = (EXECUTIONS, STEP_RUNS)
