"""The jobs wfprof sends to its Node scripts (`wfprof_pipeline/node/`), as pydantic models.

Field names are the scripts' own (camelCase). `StepSpec` is the one description of a compiled step, used by
the step harness (`profile-step.mjs`) and by the workflow runner (`run-workflow.mjs`, one per action type).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wfprof_pipeline.lib.registry import StepEntry


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepSpec(_Job):
    id: str
    compiled: str | None
    export: str | None = None  # None: imported only (no single step export)
    input: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    responses: list[dict[str, Any]] = Field(default_factory=list)
    hostRoutes: list[str] = Field(default_factory=list)
    source: str | None = None  # the module's source path (coverage maps compiled code back to it)
    error: str | None = None  # why it could not be compiled

    @classmethod
    def of(cls, entry: StepEntry, compiled: str | None, step_input: dict[str, Any], *,
           source: str | None = None, error: str | None = None) -> StepSpec:
        return cls(id=entry.id, compiled=compiled, export=entry.export, input=step_input, env=entry.env,
                   responses=[r.for_harness() for r in entry.responses], hostRoutes=entry.routed_hosts,
                   source=source, error=error)


class CompileJob(_Job):
    """compile-steps.mjs: esbuild the modules (see node/lib/compile.mjs)."""

    root: str
    outDir: str
    modules: list[str]
    shims: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, Any] = Field(default_factory=dict)
    separate: list[str] | None = None
    replace: dict[str, str] | None = None


class StubEndpoint(_Job):
    url: str
    port: int


class HarnessJob(_Job):
    """profile-step.mjs: one process profiling its steps in order."""

    mode: str
    phases: list[str]
    warmRuns: int
    samplingIntervalUs: int
    settleTimeoutMs: int
    topN: int
    stepsRoot: str
    shimDir: str
    steps: list[StepSpec]
    stub: StubEndpoint | None = None  # the shared stub process (guard mode), the only port a step may reach


class ExecutorSpec(_Job):
    """The platform's own executor, compiled (lib/workflows/platform.py)."""

    entry: str
    module: str
    export: str
    checkModule: str | None = None
    checkExport: str | None = None
    boundary: dict[str, Any] | None = None
    stepModules: list[str]
    stepIds: dict[str, str]
    databasePaths: list[str]
    env: dict[str, str]
    responses: list[dict[str, Any]]
    hostRoutes: list[str]
    database: dict[str, Any]
    nodes: Any
    edges: Any
    userId: str
    timeoutMs: int


class WorkflowJob(_Job):
    """run-workflow.mjs: what Python planned (order, steps) and how to run it."""

    workflowId: str
    stepsRoot: str
    shimDir: str
    order: list[str] = Field(default_factory=list)
    unreachable: list[str] = Field(default_factory=list)
    actions: dict[str, StepSpec] = Field(default_factory=dict)  # action type → step
    stepTimeoutMs: int = 30_000
    executor: ExecutorSpec | None = None
    # Set by the runner per launch:
    databaseUrl: str = ""
    mode: Literal["none", "precise", "sampling"] = "precise"
    executionId: str | None = None  # a pending execution to run as (checked by Python first)
    workflowInput: dict[str, Any] | None = None
    inputs: list[dict[str, Any]] | None = None  # several executions in one process (demo seeding)
    repeat: int = 1
    detail: bool = False
    topN: int = 15
