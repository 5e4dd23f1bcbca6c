"""Running a planned workflow (lib/workflows/plan.py) through the Node runner (`node/run-workflow.mjs`).

Node executes against the database, writing execution and log rows as KeeperHub does, optionally under V8
profiling, and prints one JSON document, validated here.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, Field

from wfprof_pipeline.lib.node_jobs import WorkflowJob
from wfprof_pipeline.lib.node_process import NODE_DIR, NodeNotFound, run_node_json
from wfprof_pipeline.lib.pg_forward import database_endpoint, database_for_namespace
from wfprof_pipeline.lib.pg_urls import libpq_url
from wfprof_pipeline.lib.profiling.isolation import resolve_isolation
from wfprof_pipeline.lib.workflows.errors import UnknownActionType as UnknownActionType
from wfprof_pipeline.lib.workflows.errors import UnknownWorkflow as UnknownWorkflow
from wfprof_pipeline.lib.workflows.errors import WorkflowRunError

RUNNER = NODE_DIR / "run-workflow.mjs"
Mode = Literal["none", "precise", "sampling"]
CATEGORIES = ("database", "step_functions", "external_api", "executor", "node_internals", "other")
# The runner executes stored workflows, users' code nodes included, and node:vm is no sandbox: it gets only
# node_process's allow-listed environment, never the caller's secrets (DAGSTER_PG_URL, cloud keys, …), the
# database URL in its job (not its environment), and runs in its own namespaces where the kernel has them.


# ---------------------------------------------------------------- the runner's document


class Categories(BaseModel):
    database: float = 0
    step_functions: float = 0
    external_api: float = 0
    executor: float = 0
    node_internals: float = 0
    other: float = 0


class NodeRun(BaseModel):
    nodeId: str
    nodeName: str
    actionType: str
    stepId: str | None = None
    status: str
    error: str | None = None
    durationMs: float | None = None
    ioRequests: int = 0
    calls: Categories | None = None
    selfMs: Categories | None = None


class ExecutionRun(BaseModel):
    executionId: str
    status: Literal["success", "error", "running"]
    error: str | None = None
    failedNodeId: str | None = None
    durationMs: float | None = None
    nodes: list[NodeRun]
    calls: Categories | None = None
    selfMs: Categories | None = None
    totalCalls: int | None = None
    harnessCallsExcluded: int | None = None
    segments: list[dict[str, Any]] | None = None
    errorKind: str | None = None
    importCalls: Categories | None = None  # of `calls`, the platform executor's import (precise mode)
    logRows: int | None = None  # log rows the platform's executor wrote (read back)
    egressBlocked: list[str] = Field(default_factory=list)  # connections refused (platform executor)


class TopFunction(BaseModel):
    name: str
    category: str
    file: str
    calls: int


class RunnerDocument(BaseModel):
    runner: Literal["wfprof-run-workflow"]
    version: int
    node: str
    mode: Mode
    workflowId: str | None = None
    executor: Literal["platform", "wfprof"] = "wfprof"  # whose executor ran the workflow
    runs: list[ExecutionRun] = Field(default_factory=list)
    error: str | None = None
    errorKind: str | None = None
    topFunctions: list[TopFunction] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    isolation: str | None = None  # namespaces | guard: how the runner process was isolated (set by Python)


# ---------------------------------------------------------------- running

_STARTED_LINE = re.compile(r"^wfprof-run-workflow: execution (\S+) started$", re.MULTILINE)


def _fail_abandoned(database_url: str, workflow_id: str, stderr: str, since: datetime, reason: str) -> int:
    """Mark what a killed runner left `running` as error, as the platform would see a crashed executor.

    Only executions the runner announced on stderr, of this workflow, started since its launch and still
    running; the number marked, or 0 when the database cannot be reached (the kill may be its fault).
    """
    ids = _STARTED_LINE.findall(stderr or "")
    if not ids:
        return 0
    from wfprof_pipeline.lib import postgres
    from wfprof_pipeline.lib.keeperhub import KeeperHub

    try:
        with KeeperHub(database_url) as kh:
            return kh.fail_abandoned(ids, workflow_id, since, reason)
    except (psycopg.Error, postgres.PostgresUnreachable):
        return 0


def run(
    job: WorkflowJob,
    database_url: str,
    *,
    mode: Mode = "precise",
    execution_id: str | None = None,
    workflow_input: dict[str, Any] | None = None,
    repeat: int = 1,
    detail: bool = False,
    top_n: int = 15,
    node: str = "node",
    timeout_s: float = 120.0,
    isolation: str | None = None,
    checked: bool = False,
) -> RunnerDocument:
    """Run the job's workflow in a fresh Node process (its own namespaces where the kernel has them); the
    document, or WorkflowRunError.

    Unless `checked` (the caller created or checked the execution), the workflow must exist and
    `execution_id`, when given, must be its pending execution, run with its stored input unless
    `workflow_input` is given.
    """
    if not checked:
        from wfprof_pipeline.lib import postgres
        from wfprof_pipeline.lib.keeperhub import KeeperHub

        try:
            with KeeperHub(database_url) as kh:
                kh.workflow(job.workflowId)
                if execution_id:
                    stored = kh.pending_input(job.workflowId, execution_id)
                    if workflow_input is None and job.inputs is None:
                        workflow_input = stored
        except postgres.PostgresUnreachable as exc:
            raise WorkflowRunError(str(exc)) from None
    how = resolve_isolation(isolation)
    launched = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)  # the runner's clock: UTC
    with contextlib.ExitStack() as stack:
        inner_url = (stack.enter_context(database_for_namespace(database_url)) if how == "namespaces"
                     else libpq_url(database_url))
        executor = job.executor and job.executor.model_copy(update={"database": database_endpoint(inner_url)})
        full = job.model_copy(update={
            "databaseUrl": inner_url, "executor": executor, "mode": mode, "executionId": execution_id,
            "workflowInput": workflow_input,
            "repeat": repeat, "detail": detail, "topN": top_n,
        })
        try:
            proc = run_node_json(RUNNER, full, timeout_s, node=node, isolation=how, cwd=job.stepsRoot)
        except NodeNotFound as exc:
            raise WorkflowRunError(str(exc)) from None
    if proc.timed_out:
        reason = f"workflow runner timed out after {timeout_s:g} s; process tree killed"
        left = _fail_abandoned(database_url, job.workflowId, proc.stderr, launched, reason)
        raise WorkflowRunError(reason + (f"; marked {left} execution(s) as error" if left else "")) from None
    doc = proc.document(RunnerDocument)
    if doc is None:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        hint = " (run `npm ci` in wfprof_pipeline/node)" if "Cannot find package" in proc.stderr else ""
        raise WorkflowRunError(f"workflow runner failed (exit {proc.returncode}){hint}: {tail or 'no output'}")
    if doc.error:
        raise WorkflowRunError(doc.error)
    doc.isolation = how
    return doc
