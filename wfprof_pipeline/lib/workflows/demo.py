"""The embedded default's demo database: `data/workflows/*.json` stored as KeeperHub workflows, then run
through the real workflow runner (unprofiled), so the demo traces are real executions. Five customers own
the workflows, and the runs' timestamps are then spread over the past week (`spread_over_days`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel, Field, ValidationError

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.keeperhub import KeeperHub
from wfprof_pipeline.lib.registry import StepRegistry
from wfprof_pipeline.lib.workflows import schema
from wfprof_pipeline.lib.workflows.profile import WorkflowRequest, profile_workflows

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "data" / "workflows"
# The demo workflows use the bundled sample steps' action types: they are run only against that corpus.
BUNDLED_STEPS = DEFAULT_DIR.parent / "steps"


def bundled_corpus(steps_root: Path, registry_env: str | None) -> bool:
    """Whether the steps are wfprof's own sample corpus (not a user's checkout or registry)."""
    return not (registry_env or "").strip() and Path(steps_root).resolve() == BUNDLED_STEPS


class DemoError(WfprofError, RuntimeError):
    pass


class DemoRun(BaseModel):
    input: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class DemoWorkflow(BaseModel):
    """One file of data/workflows: a KeeperHub workflow row plus the trigger inputs the demo runs it with."""

    id: str = Field(min_length=1)
    name: str
    description: str = ""
    user_id: str = "user_demo"  # the owner; data/workflows gives each demo workflow one of five customers
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    demo_runs: list[DemoRun] = Field(default_factory=lambda: [DemoRun()])


def load_definitions(directory: Path = DEFAULT_DIR) -> list[DemoWorkflow]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise DemoError(f"no workflow definitions (*.json) in {directory}")
    out = []
    for path in files:
        try:
            out.append(DemoWorkflow.model_validate_json(path.read_text(encoding="utf-8")))
        except ValidationError as exc:
            raise DemoError(f"{path.name}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
    return out


def install(kh: KeeperHub, workflows: list[DemoWorkflow]) -> None:
    """Create the schema and upsert the workflows (idempotent)."""
    kh.install_workflows((wf.id, wf.name, wf.description, wf.user_id, wf.nodes, wf.edges) for wf in workflows)


@dataclass
class SeedResult:
    skipped: bool = False
    workflows: int = 0
    executions: int = 0
    failed_executions: int = 0
    seconds: float = 0.0
    per_workflow: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (runs, failed)


def seed(
    database_url: str,
    registry: StepRegistry,
    *,
    directory: Path = DEFAULT_DIR,
    node: str = "node",
    only_if_empty: bool = True,
    jobs: int = 2,
    on_workflow: Callable[[str], None] | None = None,
) -> SeedResult:
    """Install the demo workflows and run each with its demo inputs (one Node process per workflow)."""
    started = time.perf_counter()
    definitions = load_definitions(directory)
    # One seed at a time per database: a second one waits, then finds the executions and skips (two at
    # once wrote every execution twice, or died on a UniqueViolation of a concurrent CREATE TABLE).
    with KeeperHub(database_url) as lock, lock.advisory_lock(SEED_LOCK_KEY, SEED_LOCK_WAIT_S) as taken:
        if not taken:
            raise DemoError(f"another `wfprof demo seed` has been seeding this database for over {SEED_LOCK_WAIT_S} "
                            "s; wait for it or stop it, then retry")
        with KeeperHub(database_url) as kh:
            if only_if_empty and kh.execution_count() > 0:
                return SeedResult(skipped=True, seconds=time.perf_counter() - started)
            install(kh, definitions)
            stored = [kh.workflow(wf.id) for wf in definitions]
        result = _run_demo(database_url, registry, definitions, stored, node, jobs, on_workflow, started)
        with KeeperHub(database_url) as kh:
            spread_over_days(kh.conn)
        return result


# The demo's executions are real runs made seconds apart; spread over a week they give the usage tables
# (per customer and day) something to show. Their durations and results are untouched.
DEMO_DAYS = 7


def spread_over_days(conn: psycopg.Connection, days: int = DEMO_DAYS) -> int:
    """Move execution i (in start order) and its step logs back by i mod `days` days; the executions moved.

    Profiled executions (wfprof's own) are left where they are."""
    with conn.transaction():
        conn.execute(
            "create temporary table _wfprof_shift on commit drop as "
            "select id, ((row_number() over (order by started_at, id)) - 1) %% %(days)s as back "
            "from workflow_executions where id not like %(prof)s",
            {"days": days, "prof": schema.PROFILED_EXECUTION_PREFIX + "%"})
        for table, key in (("workflow_execution_logs", "execution_id"), ("workflow_executions", "id")):
            conn.execute(
                f"update {table} t set started_at = t.started_at - make_interval(days => s.back::int), "
                "completed_at = t.completed_at - make_interval(days => s.back::int) "
                f"from _wfprof_shift s where t.{key} = s.id and s.back > 0")
        moved = conn.execute("select count(*) from _wfprof_shift where back > 0").fetchone()
    return int(moved[0]) if moved else 0


# pg_advisory_lock key: the first 8 bytes of sha256("wfprof demo seed"), as a signed bigint.
SEED_LOCK_KEY = int.from_bytes(hashlib.sha256(b"wfprof demo seed").digest()[:8], "big", signed=True)
SEED_LOCK_WAIT_S = 600


def _run_demo(
    database_url: str,
    registry: StepRegistry,
    definitions: list[DemoWorkflow],
    stored: list,
    node: str,
    jobs: int,
    on_workflow: Callable[[str], None] | None,
    started: float,
) -> SeedResult:
    result = SeedResult(workflows=len(stored))
    requests = [WorkflowRequest(wf, inputs=[r.input for r in definition.demo_runs])
                for wf, definition in zip(stored, definitions, strict=True)]
    outcome = profile_workflows(database_url, registry, requests, mode="none", node=node, parallel=jobs,
                                on_done=(lambda doc: on_workflow(doc.workflowId or "?")) if on_workflow else None)
    docs = [doc for doc, _ in outcome.docs]
    for doc in docs:
        failed = sum(1 for r in doc.runs if r.status != "success")
        result.per_workflow[doc.workflowId or "?"] = (len(doc.runs), failed)
        result.executions += len(doc.runs)
        result.failed_executions += failed
    result.seconds = time.perf_counter() - started
    return result
