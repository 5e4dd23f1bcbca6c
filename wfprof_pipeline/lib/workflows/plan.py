"""Planning a stored workflow (lib/keeperhub.py loads it) for the Node runner: order its nodes (graph.py), map
each action type to its registry step, compile the steps (esbuild), and build the runner's job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfprof_pipeline.lib.keeperhub import StoredWorkflow
from wfprof_pipeline.lib.node_jobs import StepSpec, WorkflowJob
from wfprof_pipeline.lib.registry import StepEntry, StepRegistry
from wfprof_pipeline.lib.workflows import graph
from wfprof_pipeline.lib.workflows.errors import UnknownActionType, WorkflowRunError


def step_for_action(registry: StepRegistry, action_type: str) -> StepEntry | None:
    """The registry step implementing `action_type`: the one whose id is the action type, else the first."""
    candidates = [e for e in registry.steps.values() if e.action_type == action_type]
    if not candidates:
        return None
    exact = [e for e in candidates if e.id == action_type]
    return exact[0] if exact else sorted(candidates, key=lambda e: e.id)[0]


def plan_workflow(workflow: StoredWorkflow, registry: StepRegistry) -> tuple[graph.ExecutionPlan, dict[str, StepEntry]]:
    """Node order plus the registry step of every action type; unknown action types are an error."""
    try:
        execution_plan = graph.plan(workflow.nodes, workflow.edges)
    except graph.WorkflowGraphError as exc:
        raise WorkflowRunError(f"workflow {workflow.id!r} cannot run: {exc}") from None
    steps: dict[str, StepEntry] = {}
    unknown: list[str] = []
    for node in execution_plan.order:
        if node.kind == "trigger":
            continue
        entry = step_for_action(registry, node.action_type)
        if entry is None:
            unknown.append(f"{node.label} ({node.action_type or 'no actionType'})")
        else:
            steps[node.action_type] = entry
    if unknown:
        known = sorted({e.action_type for e in registry.steps.values()})
        raise UnknownActionType(
            f"workflow {workflow.id!r} uses action type(s) the step registry does not know: {', '.join(unknown)}; "
            f"known: {', '.join(known)}"
        )
    return execution_plan, steps


def build_job(
    workflow: StoredWorkflow,
    registry: StepRegistry,
    build_dir: Path,
    node: str = "node",
    *,
    step_timeout_s: float = 30.0,
    precompiled: tuple[dict[str, Any], str] | None = None,
) -> WorkflowJob:
    """The runner's job: order, and per action type the compiled step with input, env and responses.

    `precompiled` = compile_steps' result for a superset of the steps (several workflows, one compile).
    """
    execution_plan, steps = plan_workflow(workflow, registry)
    if precompiled is not None:
        compiled, shim_dir = precompiled
    elif steps:
        compiled, shim_dir = compile_for(registry, list(steps.values()), build_dir, node)
    else:
        compiled, shim_dir = {}, ""
    actions = {}
    for action_type, entry in steps.items():
        result = compiled[entry.module]
        actions[action_type] = StepSpec.of(entry, result.compiled if not result.error else None,
                                           registry.input_for(entry), error=result.error)
    return WorkflowJob(
        workflowId=workflow.id,
        order=[n.id for n in execution_plan.order],
        unreachable=execution_plan.unreachable,
        actions=actions,
        stepsRoot=str(registry.root),
        shimDir=shim_dir,
        stepTimeoutMs=int(step_timeout_s * 1000),
    )


def compile_for(
    registry: StepRegistry, entries: list[StepEntry], build_dir: Path, node: str = "node"
) -> tuple[dict[str, Any], str]:
    """esbuild the steps with the step harness's compiler (one Node process for all of them)."""
    from wfprof_pipeline.lib.profiling.runner import ProfilingError, compile_steps

    try:
        return compile_steps(registry, entries, build_dir, node=node)
    except ProfilingError as exc:
        raise WorkflowRunError(str(exc)) from None
