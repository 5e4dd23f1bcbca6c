"""Running a stored workflow through the platform's own executor (`--executor platform`).

The checkout's executor (KeeperHub: `executeWorkflow` in `lib/workflow-executor.workflow.ts`, registry
`[executor]`) is compiled like steps, with its db layer, its step modules and its step boundary as
separate modules (so each call's URL says whose code it is), and run by the same Node runner
(`run-workflow.mjs`, job key `executor`). wfprof only creates the pending execution (id prefix
`wfprof-prof-`) and reads the result back; the platform's own code writes the execution and log rows.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, Literal

from wfprof_pipeline.lib.discovery.executor import EXECUTOR as DISCOVERED_EXECUTOR
from wfprof_pipeline.lib.keeperhub import KeeperHub, StoredWorkflow
from wfprof_pipeline.lib.node_jobs import ExecutorSpec, WorkflowJob
from wfprof_pipeline.lib.pg_forward import database_endpoint
from wfprof_pipeline.lib.registry import BUILTIN_SHIMS, ExecutorConfig, StepEntry, StepRegistry
from wfprof_pipeline.lib.workflows import plan, runner, schema

Executor = Literal["platform", "wfprof"]
EXECUTORS: tuple[str, ...] = ("platform", "wfprof")


class ExecutorError(runner.WorkflowRunError):
    """The platform's executor cannot be run: none found, module or export missing, compile failure."""


def default_executor(registry: StepRegistry) -> Executor:
    """platform when the checkout has an executor (registry `[executor]` or discovered), else wfprof."""
    return "platform" if registry.executor is not None else "wfprof"


def require_executor(registry: StepRegistry) -> ExecutorConfig:
    ex = registry.executor
    if ex is None:
        module, export = DISCOVERED_EXECUTOR
        raise ExecutorError(
            f"no platform executor in {registry.root}: looked for {module} (exporting {export}) and for an "
            "[executor] table (module, export) in the step registry; use --executor wfprof for wfprof's runner"
        )
    if not (registry.root / ex.module).is_file():
        how = "discovered" if ex.origin == "discovered" else "[executor] module in the step registry"
        raise ExecutorError(f"executor module {ex.module} ({how}) not found under {registry.root}")
    for what, part in (("step_boundary", ex.step_boundary), ("check_integrations", ex.check_integrations)):
        if part is not None and not (registry.root / part.module).is_file():
            raise ExecutorError(f"[executor] {what} module {part.module} not found under {registry.root}")
    return ex


def _step_modules(registry: StepRegistry) -> tuple[list[str], dict[str, str]]:
    """Every step module and helper of the checkout (rel paths), and action type → step id."""
    modules: set[str] = set()
    ids: dict[str, str] = {}
    for e in registry.steps.values():
        modules.add(e.module)
        modules.update(e.helpers)
        ids.setdefault(e.action_type, e.id)
    return sorted(modules), ids


def steps_used(workflow: StoredWorkflow, registry: StepRegistry) -> dict[str, StepEntry]:
    """Action type → registry step, for the workflow's action types the registry knows (the others are
    the platform's own business: system actions, or an error the platform reports)."""
    nodes = [n for n in (workflow.nodes or []) if isinstance(n, dict)]
    types = {(n.get("data") or {}).get("config", {}).get("actionType") for n in nodes}
    return {t: e for t in sorted(x for x in types if isinstance(x, str) and x)
            if (e := plan.step_for_action(registry, t)) is not None}


def _boundary_wrapper(ex: ExecutorConfig, root: Path, build_dir: Path) -> Path:
    """A module compiled in place of the step boundary's file: the same exports, the boundary function
    calling the runner's hook (which takes coverage before and after) around the real one."""
    assert ex.step_boundary is not None
    real = json.dumps(str((root / ex.step_boundary.module).resolve()) + "?wfprof-real")
    name = ex.step_boundary.export
    path = build_dir / "wfprof-boundary" / f"{Path(ex.step_boundary.module).name}.mjs"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"import * as real from {real};\n"
        f"export * from {real};\n"
        'const HOOK = Symbol.for("wfprof.stepBoundary");\n'
        f"export function {name}(...args) {{\n"
        f"  const call = () => real.{name}(...args);\n"
        "  const hook = globalThis[HOOK];\n"
        "  return hook ? hook(args, call) : call();\n"
        "}\n",
        encoding="utf-8",
    )
    return path


def _entry(ex: ExecutorConfig, root: Path, build_dir: Path) -> Path:
    """The one module the runner imports: the executor and the integration check, as namespaces (so a
    missing export is reported by name, not as an esbuild error)."""
    lines = [f"export * as executor from {json.dumps(str((root / ex.module).resolve()))};"]
    if ex.check_integrations is not None:
        lines.append(f"export * as checker from {json.dumps(str((root / ex.check_integrations.module).resolve()))};")
    path = build_dir / "wfprof-platform-entry.mjs"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_job(
    workflow: StoredWorkflow,
    registry: StepRegistry,
    build_dir: Path,
    database_url: str,
    node: str = "node",
    *,
    timeout_s: float = 60.0,
) -> WorkflowJob:
    """The runner's job for one execution through the platform's executor."""
    from wfprof_pipeline.lib.profiling.runner import ProfilingError, compile_steps

    ex = require_executor(registry)
    root = registry.root
    step_modules, step_ids = _step_modules(registry)
    separate = [*ex.database_paths, *step_modules]
    replace: dict[str, str] = {}
    if ex.step_boundary is not None:
        separate.append(ex.step_boundary.module)
        replace[ex.step_boundary.module] = str(_boundary_wrapper(ex, root, build_dir))
    entry = _entry(ex, root, build_dir)
    # The platform's real modules run: only `server-only` (and [executor] shims) are stood in for.
    platform_registry = registry.model_copy(update={"shims": {**BUILTIN_SHIMS, **ex.shims}})
    entry_step = StepEntry(id="(executor)", module=str(entry), export=ex.export, action_type="(executor)")
    try:
        compiled, shim_dir = compile_steps(
            platform_registry, [entry_step], build_dir, node, extra={"separate": separate, "replace": replace}
        )
    except ProfilingError as exc:
        raise ExecutorError(str(exc)) from None
    result = compiled[str(entry)]
    if result.error or not result.compiled:
        error = (result.error or "not compiled").replace(f"cannot compile {entry}: ", "")
        hint = ""
        if "Could not resolve" in error or ") not found" in error:
            # KeeperHub's lib/step-registry.ts, for one, is written by its build (`pnpm discover-plugins`).
            hint = ("; a file the executor imports is missing: generate the checkout's generated sources first "
                    "(KeeperHub: `pnpm discover-plugins` writes lib/step-registry.ts)")
        raise ExecutorError(f"cannot compile the platform's executor {ex.module}: {error}{hint}")
    # Canned responses of every step the workflow uses (vendor hosts are routed to the stub).
    entries = list(steps_used(workflow, registry).values())
    responses = [r.for_harness() for e in entries for r in e.responses]
    env: dict[str, str] = {}
    for e in entries:
        env.update(e.env)
    env.update(ex.env)
    return WorkflowJob(
        workflowId=workflow.id,
        stepsRoot=str(root),
        shimDir=shim_dir,
        executor=ExecutorSpec(
            entry=result.compiled,
            module=ex.module,
            export=ex.export,
            checkModule=ex.check_integrations.module if ex.check_integrations else None,
            checkExport=ex.check_integrations.export if ex.check_integrations else None,
            boundary=ex.step_boundary.model_dump() if ex.step_boundary else None,
            stepModules=step_modules,
            stepIds=step_ids,
            databasePaths=ex.database_paths,
            env=env,
            responses=responses,
            hostRoutes=sorted({h for e in entries for h in e.routed_hosts}),
            database=database_endpoint(database_url),
            nodes=workflow.nodes,
            edges=workflow.edges,
            userId=workflow.user_id,
            timeoutMs=int(timeout_s * 1000),
        ),
    )


def new_execution_id() -> str:
    return schema.PROFILED_EXECUTION_PREFIX + secrets.token_hex(8)


def run(
    workflow: StoredWorkflow,
    registry: StepRegistry,
    build_dir: Path,
    database_url: str,
    *,
    mode: runner.Mode = "precise",
    execution_id: str | None = None,
    workflow_input: dict[str, Any] | None = None,
    detail: bool = False,
    top_n: int = 15,
    node: str = "node",
    timeout_s: float = 120.0,
    isolation: str | None = None,
) -> runner.RunnerDocument:
    """Create the pending execution, run it through the platform's executor, read back what it wrote.

    The document's run carries the platform's final status; anything the platform could not finish
    (import failure, timeout, a killed process) is marked error on the execution, and raised.
    """
    job = build_job(workflow, registry, build_dir, database_url, node, timeout_s=max(1.0, timeout_s - 5))
    trigger_input = workflow_input or {}
    with KeeperHub(database_url) as kh:
        if execution_id:  # a pending execution the app created: run as it, with its stored input
            stored = kh.pending_input(workflow.id, execution_id)
            if workflow_input is None and stored is not None:
                trigger_input = stored
        else:
            execution_id = new_execution_id()
            kh.create_pending(workflow, execution_id, trigger_input)
    try:
        doc = runner.run(job, database_url, mode=mode, execution_id=execution_id, workflow_input=trigger_input,
                         detail=detail, top_n=top_n, node=node, timeout_s=timeout_s, isolation=isolation, checked=True)
    except runner.WorkflowRunError as exc:
        with KeeperHub(database_url) as kh:
            kh.mark_error(execution_id, str(exc))
        raise
    doc.executor = "platform"
    if job.executor is not None and job.executor.boundary is None:
        doc.notes.append("no step boundary found (registry [executor] step_boundary): per-workflow figures only")
    with KeeperHub(database_url) as kh:
        for r in doc.runs:
            status, error, logged = read_back(kh, r.executionId)
            r.logRows = len(logged)
            # Nodes the platform logged without passing the step boundary (no calls of their own).
            seen = {n.nodeId for n in r.nodes}
            r.nodes.extend(n for n in logged if n.nodeId not in seen)
            if status in ("success", "error"):
                r.status = status  # the platform's own record is the outcome
                r.error = error or r.error  # the platform's own words
            else:
                reason = r.error or f"the platform's executor returned but left the execution {status}"
                kh.mark_error(r.executionId, reason)
                r.status, r.error = "error", reason
    return doc


def read_back(kh: KeeperHub, execution_id: str) -> tuple[str, str | None, list[runner.NodeRun]]:
    """(status, error, one NodeRun per log row) as the platform wrote them for the execution."""
    status, error, logs = kh.execution_result(execution_id)
    nodes = []
    for row in logs:
        try:
            ms = float(row.duration) if row.duration is not None else None
        except ValueError:
            ms = None
        nodes.append(runner.NodeRun(nodeId=row.node_id, nodeName=row.node_name or row.node_id,
                                    actionType=row.node_type or "", status=row.status, error=row.error, durationMs=ms))
    return status, error, nodes
