"""KeeperHub's workflow tables: the DDL (demo database, tests) and what the trace reader needs of them.

The DDL mirrors KeeperHub's Drizzle schema as stored: text ids, jsonb payloads, `timestamp` columns, and
`duration` as text milliseconds. The reader never relies on anything outside `REQUIRED_COLUMNS`, so a
production database with extra columns works, and one missing a column fails with the column named.
"""

from __future__ import annotations

import psycopg

from wfprof_pipeline.lib.errors import WfprofError

WORKFLOWS = "workflows"
EXECUTIONS = "workflow_executions"
LOGS = "workflow_execution_logs"

DDL = f"""
create table if not exists {WORKFLOWS} (
    id text primary key,
    name text not null,
    description text,
    user_id text not null,
    nodes jsonb not null default '[]'::jsonb,
    edges jsonb not null default '[]'::jsonb,
    visibility text not null default 'private',
    enabled boolean not null default true,
    created_at timestamp not null default now(),
    updated_at timestamp not null default now()
);
create table if not exists {EXECUTIONS} (
    id text primary key,
    workflow_id text not null references {WORKFLOWS}(id) on delete cascade,
    user_id text not null,
    status text not null default 'pending',
    input jsonb,
    output jsonb,
    error text,
    started_at timestamp not null default now(),
    completed_at timestamp,
    duration text,
    total_steps text,
    completed_steps text default '0',
    current_node_id text,
    current_node_name text,
    last_successful_node_id text,
    last_successful_node_name text,
    execution_trace jsonb
);
create index if not exists {EXECUTIONS}_workflow_idx on {EXECUTIONS}(workflow_id);
create index if not exists {EXECUTIONS}_started_idx on {EXECUTIONS}(started_at);
create table if not exists {LOGS} (
    id text primary key,
    execution_id text not null references {EXECUTIONS}(id) on delete cascade,
    node_id text not null,
    node_name text not null,
    node_type text not null,
    status text not null,
    input jsonb,
    output jsonb,
    error text,
    started_at timestamp not null default now(),
    completed_at timestamp,
    duration text,
    timestamp timestamp not null default now(),
    iteration_index integer,
    for_each_node_id text
);
create index if not exists {LOGS}_execution_idx on {LOGS}(execution_id);
create index if not exists {LOGS}_started_idx on {LOGS}(started_at);
"""

# What the trace reader and the workflow runner read or write. Anything else in the tables is ignored.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    WORKFLOWS: ("id", "name", "user_id", "nodes", "edges"),
    EXECUTIONS: (
        "id",
        "workflow_id",
        "user_id",
        "status",
        "input",
        "output",
        "error",
        "started_at",
        "completed_at",
        "duration",
        "total_steps",
        "completed_steps",
        "current_node_id",
    ),
    LOGS: (
        "id",
        "execution_id",
        "node_id",
        "node_name",
        "node_type",
        "status",
        "input",
        "output",
        "error",
        "started_at",
        "completed_at",
        "duration",
        "iteration_index",
        "for_each_node_id",
    ),
}

# Executions wfprof's runner creates while profiling start with this (run-workflow.mjs): profiled timings
# are not the platform's, so trace ingest skips them (an underscore would be a LIKE wildcard: none here).
PROFILED_EXECUTION_PREFIX = "wfprof-prof-"

EXECUTION_STATUSES = ("pending", "running", "success", "error", "cancelled")


class SchemaMismatch(WfprofError, RuntimeError):
    """The source database lacks a table or column wfprof reads; the message names each one."""


def create_schema(conn: psycopg.Connection) -> None:
    """Create KeeperHub's three workflow tables if they do not exist (idempotent)."""
    conn.execute(DDL)


def missing_columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    """{table: [missing columns]} for REQUIRED_COLUMNS; a missing table lists all its columns."""
    rows = conn.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = any(current_schemas(false)) and table_name = any(%s)",
        (list(REQUIRED_COLUMNS),),
    ).fetchall()
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(table, set()).add(column)
    missing: dict[str, list[str]] = {}
    for table, columns in REQUIRED_COLUMNS.items():
        absent = [c for c in columns if c not in present.get(table, set())]
        if absent:
            missing[table] = absent
    return missing


def require_schema(conn: psycopg.Connection, tables: tuple[str, ...] = (EXECUTIONS, LOGS)) -> None:
    """Raise SchemaMismatch naming every missing table or column among `tables`."""
    missing = {t: cols for t, cols in missing_columns(conn).items() if t in tables}
    if not missing:
        return
    parts = []
    for table, cols in missing.items():
        if len(cols) == len(REQUIRED_COLUMNS[table]):
            parts.append(f"table {table} is missing")
        else:
            parts.append(f"{table} lacks column(s) {', '.join(cols)}")
    raise SchemaMismatch("the KeeperHub database does not have the workflow schema wfprof reads: " + "; ".join(parts))
