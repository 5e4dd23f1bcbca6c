"""Pydantic models of the Node harness output (wfprof_pipeline/node/profile-step.mjs): the boundary
between Node and Python. Anything that does not validate is reported as a harness error, never guessed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["precise", "sampling", "timing"]
# execute = the first (cold) execution; execute_warm = the later ones in the same process (per-execution
# median), as a worker that already imported the step runs them.
Phase = Literal["import", "execute", "execute_warm"]
MODES: tuple[str, ...] = ("precise", "sampling", "timing")
PHASES: tuple[str, ...] = ("import", "execute")  # what a run is asked for; warm runs come with execute
ALL_PHASES: tuple[str, ...] = ("import", "execute", "execute_warm")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CategoryCounts(_Model):
    step: float = 0
    package: float = 0
    node: float = 0
    harness: float = 0
    shim: float = 0
    other: float = 0
    # sampling mode only (self time of V8's pseudo-frames)
    gc: float = 0
    idle: float = 0
    program: float = 0


class TopFunction(_Model):
    name: str
    category: str
    package: str | None = None
    file: str = ""
    line: int | None = None
    calls: int | None = None
    self_ms: float | None = Field(default=None, alias="selfMs")


class PhaseResult(_Model):
    duration_ms: float = Field(alias="durationMs")
    started_at: float | None = Field(default=None, alias="startedAt")  # epoch ms
    ended_at: float | None = Field(default=None, alias="endedAt")
    calls: CategoryCounts | None = None
    packages: dict[str, float] = Field(default_factory=dict)
    node_buckets: dict[str, int] = Field(default_factory=dict, alias="nodeBuckets")
    unique_functions: int | None = Field(default=None, alias="uniqueFunctions")
    total_calls: int | None = Field(default=None, alias="totalCalls")
    samples: int | None = None
    hit_count: int | None = Field(default=None, alias="hitCount")
    sample_interval_us: float | None = Field(default=None, alias="sampleIntervalUs")
    self_ms: CategoryCounts | None = Field(default=None, alias="selfMs")
    heap_delta_bytes: int | None = Field(default=None, alias="heapDeltaBytes")
    cpu_ms: float | None = Field(default=None, alias="cpuMs")  # timing mode: user + system CPU of the phase
    top_functions: list[TopFunction] = Field(default_factory=list, alias="topFunctions")
    # execute_warm only: how many warm executions, and each one's own + package and total calls
    warm_runs: int | None = Field(default=None, alias="warmRuns")
    duration_ms_min: float | None = Field(default=None, alias="durationMsMin")
    duration_ms_max: float | None = Field(default=None, alias="durationMsMax")
    runs_own_packages: list[float | None] = Field(default_factory=list, alias="runsOwnPackages")
    runs_total_calls: list[float | None] = Field(default_factory=list, alias="runsTotalCalls")


class IoRequest(_Model):
    method: str
    host: str = ""
    path: str
    rpc_methods: list[str] = Field(default_factory=list, alias="rpcMethods")
    status: int
    matched: bool
    at: float | None = None  # epoch ms when the stub received it


class EgressAttempt(_Model):
    kind: str
    target: str
    phase: str = ""


class StepOutcome(_Model):
    id: str
    ok: bool
    error: str | None = None
    error_kind: str | None = Field(default=None, alias="errorKind")
    result: str | None = None
    phases: dict[Phase, PhaseResult] = Field(default_factory=dict)
    io: dict[Phase, list[IoRequest]] = Field(default_factory=dict)
    egress_blocked: list[EgressAttempt] = Field(default_factory=list, alias="egressBlocked")


class HarnessDocument(_Model):
    harness: Literal["wfprof-profile-step"]
    version: int
    node: str
    v8: str = ""
    mode: Mode
    pid: int | None = None
    steps: list[StepOutcome]
