"""Profiling stored workflows: plan → compile (once for all of them) → build each job → run, side by side.

The one sequence behind `wfprof profile-workflow`, the `workflow_profiles` asset and `wfprof demo seed`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wfprof_pipeline.lib.registry import StepEntry, StepRegistry
from wfprof_pipeline.lib.workflows import plan, platform, runner


@dataclass(frozen=True)
class WorkflowRequest:
    workflow: plan.StoredWorkflow
    input: dict[str, Any] | None = None  # the trigger input (None: {} or, with execution_id, the stored one)
    inputs: list[dict[str, Any]] | None = None  # several executions in one process, one per input (wfprof only)
    execution_id: str | None = None  # a pending execution to run as


@dataclass
class ProfileOutcome:
    docs: list[tuple[runner.RunnerDocument, str]] = field(default_factory=list)  # (document, workflow name)
    failures: list[str] = field(default_factory=list)  # "<id>: <why>" (errors="collect")
    skipped_user_code: list[str] = field(default_factory=list)


def profile_workflows(
    database_url: str,
    registry: StepRegistry,
    requests: list[WorkflowRequest],
    *,
    executor: platform.Executor = "wfprof",
    mode: runner.Mode = "precise",
    node: str = "node",
    parallel: int = 1,
    detail: bool = False,
    top_n: int = 15,
    timeout_s: float = 120.0,
    run_user_code: bool = True,
    errors: Literal["raise", "collect"] = "raise",
    on_warning: Callable[[str], None] | None = None,
    on_done: Callable[[runner.RunnerDocument], None] | None = None,
) -> ProfileOutcome:
    """Run every requested workflow once (each in a fresh Node process, up to `parallel` at a time).

    errors="raise": the first WorkflowRunError propagates; "collect": it becomes a failure and the others run.
    Workflows whose steps run user code are skipped (and listed) unless `run_user_code`.
    """
    outcome = ProfileOutcome()
    warn = on_warning or (lambda _msg: None)

    def failed(wid: str, exc: runner.WorkflowRunError, what: str) -> None:
        if errors == "raise":
            raise exc
        outcome.failures.append(f"{wid}: {exc}")
        warn(f"workflow {wid} {what}: {exc}")

    planned: list[tuple[WorkflowRequest, dict[str, StepEntry]]] = []
    for request in requests:
        wid = request.workflow.id
        try:
            if executor == "platform":  # the platform's executor decides what it can run
                steps = platform.steps_used(request.workflow, registry)
            else:
                steps = plan.plan_workflow(request.workflow, registry)[1]
        except runner.WorkflowRunError as exc:
            failed(wid, exc, "cannot be profiled")
            continue
        if not run_user_code and any(e.runs_user_code for e in steps.values()):
            outcome.skipped_user_code.append(wid)
            warn(f"workflow {wid} not profiled: it runs user code (node:vm is no sandbox), which would execute "
                 "on this host; set WFPROF_RUN_USER_CODE=true to allow it")
            continue
        planned.append((request, steps))

    with tempfile.TemporaryDirectory(prefix="wfprof-wf-") as tmp:
        build = Path(tmp)
        precompiled = None
        if executor == "wfprof" and planned:
            entries = {e.id: e for _, steps in planned for e in steps.values()}
            precompiled = plan.compile_for(registry, list(entries.values()), build, node)  # once for all

        def run_one(index: int, request: WorkflowRequest) -> runner.RunnerDocument:
            common = dict(mode=mode, execution_id=request.execution_id, detail=detail, top_n=top_n, node=node,
                          timeout_s=timeout_s)
            if executor == "platform":
                own = build / f"platform-{index}"  # each executor build in a folder of its own
                own.mkdir()
                return platform.run(request.workflow, registry, own, database_url, workflow_input=request.input,
                                    **common)
            job = plan.build_job(request.workflow, registry, build, node, precompiled=precompiled)
            job.inputs = request.inputs
            return runner.run(job, database_url, workflow_input=request.input, **common)

        def attempt(item: tuple[int, tuple[WorkflowRequest, dict]]) -> runner.RunnerDocument | runner.WorkflowRunError:
            index, (request, _) = item
            try:
                doc = run_one(index, request)
            except runner.WorkflowRunError as exc:
                return exc
            if on_done:
                on_done(doc)
            return doc

        # Exact call counts do not depend on what else runs, so workflows run side by side (≤ cores).
        workers = max(1, min(parallel, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(attempt, enumerate(planned)))
    for (request, _), result in zip(planned, results, strict=True):
        if isinstance(result, runner.WorkflowRunError):
            failed(request.workflow.id, result, "could not be profiled")
        else:
            outcome.docs.append((result, request.workflow.name))
    return outcome
