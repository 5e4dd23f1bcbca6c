"""`KeeperHub(url)`: every query wfprof makes of the platform's Postgres, in one client.

(The trace COPY of `lib/workflows/ingest.py` is the one exception: a bulk export, not a query.) One client is
one autocommit connection, opened on first use and closed by `close()` or the `with` block; connection
failures are `PostgresUnreachable`, naming host and database, never the password. No retries here: the
asset's `RetryPolicy` is the only retry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.settings import Settings
from wfprof_pipeline.lib.workflows import schema
from wfprof_pipeline.lib.workflows.errors import UnknownWorkflow, WorkflowRunError


def database_url(settings: Settings | None = None, embedded: postgres.EmbeddedPostgres | None = None) -> str:
    """Which KeeperHub database to use: `DATABASE_URL`, else the embedded server's demo database (`embedded`
    if the caller has started it, else started here). The one place this is decided; `is_embedded_demo`
    tells the two apart."""
    settings = settings or Settings.from_env()
    if settings.database_url:
        return settings.database_url
    return (embedded or postgres.start_embedded(settings.home)).url(postgres.DEMO_DATABASE)


def is_embedded_demo(url: str | None, settings: Settings | None = None) -> bool:
    """Whether `url` is the embedded server's demo database (wfprof's own, not a platform's)."""
    if not url:
        return False
    settings = settings or Settings.from_env()
    server = postgres.embedded_status(settings.home)
    return server is not None and url == server.url(postgres.DEMO_DATABASE)


class StoredWorkflow(BaseModel):
    id: str
    name: str
    user_id: str
    nodes: Any
    edges: Any


class LoggedNode(BaseModel):
    """One log row as the platform wrote it."""

    node_id: str
    node_name: str | None
    node_type: str | None
    status: str
    error: str | None
    duration: str | None


# The latest successful run's input of every node: what the code really received (templates resolved).
_LAST_INPUTS_SQL = """
select distinct on (e.workflow_id, l.node_id) e.workflow_id, l.node_id, l.input::text
from workflow_execution_logs l join workflow_executions e on e.id = l.execution_id
where l.status = 'success' and l.input is not null
order by e.workflow_id, l.node_id, l.started_at desc
"""


class KeeperHub:
    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._conn: psycopg.Connection | None = None
        self._owned = True

    @classmethod
    def over(cls, conn: psycopg.Connection) -> KeeperHub:
        """A client over a connection the caller opened (and closes)."""
        client = cls("")
        client._conn, client._owned = conn, False
        return client

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = postgres.connect(self.url, timeout_s=self.timeout_s, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._owned:
            self._conn.close()
        self._conn = None

    def __enter__(self) -> KeeperHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_schema(self) -> None:
        """KeeperHub's three tables, created where missing (wfprof's own demo database)."""
        schema.create_schema(self.conn)

    # ------------------------------------------------------------ workflows

    def workflow(self, workflow_id: str) -> StoredWorkflow:
        """The stored workflow; UnknownWorkflow listing the known ids."""
        schema.require_schema(self.conn, (schema.WORKFLOWS, schema.EXECUTIONS, schema.LOGS))
        row = self.conn.execute("select id, name, user_id, nodes, edges from workflows where id = %s",
                                (workflow_id,)).fetchone()
        if row is None:
            known = [r[0] for r in self.conn.execute("select id from workflows order by id limit 21").fetchall()]
            if not known:
                raise UnknownWorkflow(f"unknown workflow id {workflow_id!r}: the database has no workflows")
            shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
            raise UnknownWorkflow(f"unknown workflow id {workflow_id!r}; known ids: {shown}")
        return StoredWorkflow(id=row[0], name=row[1], user_id=row[2], nodes=row[3], edges=row[4])

    def install_workflows(self, rows: Iterable[tuple[str, str, str | None, str, Any, Any]]) -> None:
        """Create the schema and upsert (id, name, description, user_id, nodes, edges) rows (idempotent)."""
        self.ensure_schema()
        for wid, name, description, user_id, nodes, edges in rows:
            self.conn.execute(
                "insert into workflows (id, name, description, user_id, nodes, edges) values (%s, %s, %s, %s, %s, %s) "
                "on conflict (id) do update set name = excluded.name, description = excluded.description, "
                "nodes = excluded.nodes, edges = excluded.edges, updated_at = now()",
                (wid, name, description, user_id, json.dumps(nodes), json.dumps(edges)),
            )

    def profile_targets(self, workflow_ids: list[str], limit: int) -> list[tuple[str, dict]]:
        """(workflow id, trigger input) to profile: the given ids, else the most-executed workflows.

        The input is that of the workflow's latest successful execution (what it really runs with), else {}.
        Executions wfprof itself profiled count for neither: each profiling run would otherwise make its
        workflow "more executed" and keep it in the selection.
        """
        schema.require_schema(self.conn, (schema.WORKFLOWS, schema.EXECUTIONS, schema.LOGS))
        profiled = schema.PROFILED_EXECUTION_PREFIX + "%"
        if workflow_ids:
            ids = list(workflow_ids)
        else:
            ids = [r[0] for r in self.conn.execute(
                "select w.id from workflows w join workflow_executions e on e.workflow_id = w.id "
                "where e.id not like %s group by w.id order by count(*) desc, w.id limit %s",
                (profiled, limit),
            ).fetchall()]
        out = []
        for wid in ids:
            row = self.conn.execute(
                "select input from workflow_executions where workflow_id = %s and status = 'success' "
                "and input is not null and id not like %s order by started_at desc limit 1",
                (wid, profiled),
            ).fetchone()
            out.append((wid, row[0] if row and isinstance(row[0], dict) else {}))
        return out

    def code_node_sources(self) -> tuple[list[tuple[str, str | None, str]], dict[tuple[str, str], str]]:
        """(id, name, nodes as JSON text) of every workflow, and the latest successful input of each node."""
        with self.conn.cursor() as cur:
            cur.execute("select id, name, nodes::text from workflows order by id")
            workflows = cur.fetchall()
            cur.execute(_LAST_INPUTS_SQL)
            last = {(str(w), str(n)): data for w, n, data in cur.fetchall()}
        return workflows, last

    # ------------------------------------------------------------ executions

    def execution_count(self) -> int:
        self.ensure_schema()
        return int(self.conn.execute("select count(*) from workflow_executions").fetchone()[0])

    def pending_input(self, workflow_id: str, execution_id: str) -> dict[str, Any] | None:
        """The stored trigger input of the workflow's pending execution; an error when it is not that."""
        row = self.conn.execute("select workflow_id, status, input from workflow_executions where id = %s",
                                (execution_id,)).fetchone()
        if row is None:
            raise WorkflowRunError(f"unknown execution id {execution_id!r}")
        if row[0] != workflow_id:
            raise WorkflowRunError(f"execution {execution_id!r} belongs to workflow {row[0]!r}, not {workflow_id!r}")
        if row[1] != "pending":
            # Re-running it would overwrite the platform's record and add a second set of log rows.
            raise WorkflowRunError(
                f"execution {execution_id!r} is {row[1]}, not pending: only a pending execution can be run as "
                "itself (omit the execution id to create a new one)"
            )
        return row[2] if isinstance(row[2], dict) else None

    def create_pending(self, workflow: StoredWorkflow, execution_id: str, trigger_input: dict[str, Any]) -> None:
        """The pending execution the platform's executor then runs as (as the app creates it when a run starts)."""
        self.conn.execute(
            "insert into workflow_executions (id, workflow_id, user_id, status, input, started_at) "
            "values (%s, %s, %s, 'pending', %s, now() at time zone 'utc')",
            (execution_id, workflow.id, workflow.user_id, Jsonb(trigger_input)),
        )

    def execution_result(self, execution_id: str) -> tuple[str, str | None, list[LoggedNode]]:
        """(status, error, its log rows) as the platform wrote them; status "missing" without the row."""
        row = self.conn.execute("select status, error from workflow_executions where id = %s",
                                (execution_id,)).fetchone()
        logs = self.conn.execute(
            "select node_id, node_name, node_type, status, error, duration from workflow_execution_logs "
            "where execution_id = %s order by started_at, id", (execution_id,)
        ).fetchall()
        nodes = [LoggedNode(node_id=r[0], node_name=r[1], node_type=r[2], status=r[3], error=r[4], duration=r[5])
                 for r in logs]
        return (row[0], row[1], nodes) if row is not None else ("missing", None, nodes)

    def mark_error(self, execution_id: str, reason: str) -> None:
        """What the platform would record for a run that never finished: the execution failed, with why."""
        self.conn.execute(
            "update workflow_executions set status = 'error', error = %s, completed_at = now() at time zone 'utc' "
            "where id = %s and status in ('pending', 'running')",
            (reason[:2000], execution_id),
        )

    def fail_abandoned(self, execution_ids: list[str], workflow_id: str, since: datetime, reason: str) -> int:
        """Mark the given executions of the workflow, started since `since` and still unfinished, and their
        running log rows as error (a crashed executor); the number marked."""
        self.conn.execute("set timezone to 'UTC'")  # `since` and now() as UTC wall time, whatever the column type
        marked = self.conn.execute(
            "update workflow_executions set status = 'error', error = %s, completed_at = now() at time zone 'utc' "
            "where id = any(%s) and workflow_id = %s and status in ('pending', 'running') and started_at >= %s "
            "returning id",
            (reason, execution_ids, workflow_id, since),
        ).fetchall()
        done = [r[0] for r in marked]
        self.conn.execute(
            "update workflow_execution_logs set status = 'error', error = %s, "
            "completed_at = now() at time zone 'utc' where execution_id = any(%s) and status = 'running'",
            (reason, done),
        )
        return len(done)

    @contextmanager
    def advisory_lock(self, key: int, wait_s: float) -> Iterator[bool]:
        """Hold a session advisory lock while the block runs; yields False when not taken within `wait_s`."""
        self.conn.execute(f"set lock_timeout = '{int(wait_s * 1000)}ms'")
        try:
            self.conn.execute("select pg_advisory_lock(%s)", (key,))
            taken = True
        except psycopg.errors.LockNotAvailable:
            taken = False
        self.conn.execute("set lock_timeout = 0")
        try:
            yield taken
        finally:
            if taken:
                self.conn.execute("select pg_advisory_unlock(%s)", (key,))
