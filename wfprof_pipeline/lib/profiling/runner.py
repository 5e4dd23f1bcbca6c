"""Run the Node harness: compile the steps once, then one fresh process per step × mode × repetition,
in parallel up to the cores, each with a timeout that kills its whole process tree and a heap cap.

A failing step never takes the others down: every process yields a `RunResult`, with `error` set when
the step failed, the harness died, printed garbage, ran out of heap or out of time.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.node_jobs import CompileJob, HarnessJob, StepSpec, StubEndpoint
from wfprof_pipeline.lib.node_process import NODE_DIR, NodeNotFound, run_node_json
from wfprof_pipeline.lib.profiling.isolation import Isolation, resolve_isolation
from wfprof_pipeline.lib.profiling.models import MODES, PHASES, HarnessDocument, StepOutcome
from wfprof_pipeline.lib.profiling.stub import StubProcess, attach_io
from wfprof_pipeline.lib.registry import StepEntry, StepRegistry

HARNESS = NODE_DIR / "profile-step.mjs"
COMPILER = NODE_DIR / "compile-steps.mjs"


class ProfilingError(WfprofError, RuntimeError):
    """Profiling could not start at all (no Node, harness dependencies missing, bad options)."""


@dataclass(frozen=True)
class ProfileOptions:
    modes: tuple[str, ...] = ("precise", "timing")
    repeat: int = 2
    mode_repeat: dict[str, int] = field(default_factory=dict)  # per-mode override, e.g. {"timing": 1}
    phases: tuple[str, ...] = PHASES
    warm_runs: int = 5  # warm executions after the cold one, in the same process (0: none)
    timeout_s: float = 60.0
    heap_mb: int = 1024
    jobs: int | None = None  # default: the machine's cores
    sampling_interval_us: int = 100
    top_n: int = 15
    node: str = "node"
    harness: Path = HARNESS
    input_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    isolation: str | None = None  # auto | namespaces | guard (None: $WFPROF_ISOLATION, else auto)
    env_passthrough: tuple[str, ...] = ()  # extra variables of this process handed to steps

    def validate(self) -> None:
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise ProfilingError(f"unknown mode(s) {bad}; use {', '.join(MODES)}")
        if not set(self.phases) <= set(PHASES) or "import" not in self.phases:
            raise ProfilingError("phases must include import (execute needs the imported module)")
        if self.repeat < 1 or any(n < 1 for n in self.mode_repeat.values()):
            raise ProfilingError("repeat must be at least 1")
        if self.warm_runs < 0:
            raise ProfilingError(f"warm runs must be 0 (no warm phase) or more, got {self.warm_runs}")

    def repeats(self, mode: str) -> int:
        return self.mode_repeat.get(mode, self.repeat)


@dataclass
class RunResult:
    """One harness process: one step, one mode, one repetition."""

    step_id: str
    mode: str
    repetition: int
    outcome: StepOutcome | None = None
    error: str | None = None
    error_kind: str | None = None
    wall_ms: float | None = None
    node_version: str | None = None
    stderr_tail: str = ""
    isolation: str | None = None  # namespaces | guard: how the step process was isolated

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class CompiledStep:
    compiled: str | None
    error: str | None


def compile_steps(
    registry: StepRegistry,
    entries: Iterable[StepEntry],
    build_dir: Path,
    node: str = "node",
    timeout_s: float = 120,
    extra: dict[str, Any] | None = None,
) -> tuple[dict[str, CompiledStep], str]:
    """esbuild every step module once (in one Node process); per-module errors, never a global failure.

    `extra`: more compiler options (`separate`, `replace`: see node/lib/compile.mjs), for the platform's executor.
    """
    modules = sorted({e.module for e in entries})
    job = CompileJob(root=str(registry.root), outDir=str(build_dir), modules=modules, shims=registry.shims,
                     aliases=registry.aliases, **(extra or {}))
    try:
        proc = run_node_json(COMPILER, job, timeout_s, node=node)
    except NodeNotFound as exc:
        raise ProfilingError(str(exc)) from None
    if proc.timed_out:
        raise ProfilingError(f"compiling steps took longer than {timeout_s:.0f} s")
    if proc.returncode != 0:
        hint = " (run `npm ci` in wfprof_pipeline/node)" if "esbuild" in proc.stderr else ""
        raise ProfilingError(f"step compiler failed{hint}: {proc.stderr_tail()}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    out: dict[str, CompiledStep] = {}
    for rel in modules:  # a shim's compile error is already on the modules that import it
        info = data["modules"].get(rel, {"error": "not compiled"})
        out[rel] = CompiledStep(compiled=info.get("compiled"), error=info.get("error"))
    return out, data["shimDir"]


def parse_harness_output(stdout: str) -> HarnessDocument:
    """The last non-empty stdout line is the document (steps may print, but to stderr)."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("the harness printed nothing on stdout")
    try:
        return HarnessDocument.model_validate_json(lines[-1])
    except ValidationError as exc:
        snippet = lines[-1][:160]
        problems = exc.error_count()
        raise ValueError(f"harness output is not a profile document ({problems} problems): {snippet!r}") from None


# Steps run with a fixed, small environment (plus the registry's `env`): counts must not depend on who runs
# them (the `debug` package calls a function per environment variable at import) and no credentials of the
# calling process leak into a step.
STEP_ENV = {"NODE_ENV": "production"}


def run_harness(job: HarnessJob, *, mode: str, options: ProfileOptions, timeout_s: float,
                isolation: Isolation = "guard") -> tuple[HarnessDocument | None, str | None, str | None, float, str]:
    """One harness process. Returns (document, error, error_kind, wall_ms, stderr_tail)."""
    args = [f"--max-old-space-size={options.heap_mb}", *(["--expose-gc"] if mode == "timing" else [])]
    try:
        proc = run_node_json(options.harness, job, timeout_s, STEP_ENV, node=options.node, node_args=tuple(args),
                             isolation=isolation, cwd=job.stepsRoot, passthrough=options.env_passthrough)
    except NodeNotFound as exc:
        raise ProfilingError(str(exc)) from None
    wall, tail, stderr = proc.wall_ms, proc.stderr_tail(), proc.stderr
    if proc.timed_out:
        error = f"timed out after {timeout_s:g} s (spinning or never settling); process tree killed"
        return None, error, "timeout", wall, tail
    try:
        doc = parse_harness_output(proc.stdout)
    except ValueError as exc:
        if "heap limit" in stderr or "heap out of memory" in stderr:
            return None, f"ran out of memory: heap cap of {options.heap_mb} MB reached", "heap", wall, tail
        code = proc.returncode
        if code not in (0, None):
            how = f"signal {-code}" if code < 0 else f"code {code}"
            return None, f"harness died ({how}) without a result: {tail or 'no stderr'}", "harness", wall, tail
        return None, str(exc), "harness", wall, tail
    return doc, None, None, wall, tail


def _job_for(
    registry: StepRegistry, entry: StepEntry, compiled: str, shim_dir: str, mode: str, options: ProfileOptions
) -> HarnessJob:
    step_input = options.input_overrides.get(entry.id)
    timeout = entry.timeout_s or options.timeout_s
    # A step with no input (discovered, not yet in the registry) is profiled at import only.
    executes = entry.executes or step_input is not None
    phases = [p for p in options.phases if p == "import" or executes]
    return HarnessJob(
        mode=mode,
        phases=phases,
        warmRuns=(entry.warm_runs if entry.warm_runs is not None else options.warm_runs) if executes else 0,
        samplingIntervalUs=options.sampling_interval_us,
        # The harness gives up on an unsettled step a little before the process is killed, so it can
        # still report what it measured.
        settleTimeoutMs=int(max(500, timeout * 1000 * 0.8 - 500)),
        topN=options.top_n,
        stepsRoot=str(registry.root),
        shimDir=shim_dir,
        steps=[StepSpec.of(
            entry, compiled,
            step_input if step_input is not None else registry.input_for(entry) if executes else {},
            source=str(registry.module_path(entry)),
        )],
    )


def profile_steps(
    registry: StepRegistry,
    step_ids: list[str] | None = None,
    options: ProfileOptions | None = None,
    *,
    build_dir: Path | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Profile the given steps (all when None) in every mode, `repeat` fresh processes each."""
    options = options or ProfileOptions()
    options.validate()
    selected = registry.select(step_ids)
    isolation = resolve_isolation(options.isolation)
    # Steps that cannot be run as found (no single `…Step` export, a missing module) get an error row
    # with the reason and no process.
    unrunnable = [
        RunResult(step_id=e.id, mode=m, repetition=0, error=e.problem, error_kind="not_profiled", isolation=isolation)
        for e in selected if e.problem for m in options.modes
    ]
    for r in unrunnable:
        if on_result:
            on_result(r)
    entries = registry.profilable(selected)
    if not entries:
        return unrunnable
    with tempfile.TemporaryDirectory(prefix="wfprof-steps-") as tmp, contextlib.ExitStack() as stack:
        compiled, shim_dir = compile_steps(registry, entries, build_dir or Path(tmp), options.node)
        # One stub process for the batch: profiled processes then run no stub code at all. Isolated in their
        # own network namespace, steps cannot reach it: each runs the stub in a worker thread of its own.
        shared = isolation == "guard" and any(e.responses for e in entries)
        stub = stack.enter_context(StubProcess(options.node)) if shared else None

        tasks: list[tuple[StepEntry, str, int]] = [
            (e, m, r) for m in options.modes for r in range(options.repeats(m)) for e in entries
        ]

        def run(task: tuple[StepEntry, str, int]) -> RunResult:
            entry, mode, rep = task
            result = RunResult(step_id=entry.id, mode=mode, repetition=rep, isolation=isolation)
            built = compiled[entry.module]
            if built.error or not built.compiled:
                result.error, result.error_kind = built.error or "not compiled", "compile"
            else:
                try:
                    job = _job_for(registry, entry, built.compiled, shim_dir, mode, options)
                except Exception as exc:  # bad input_file: an error row for this step only
                    result.error, result.error_kind = str(exc), "input"
                else:
                    token = None
                    try:
                        if stub and entry.responses:
                            token, url, port = stub.tenant(job.steps[0].responses)
                            job.stub = StubEndpoint(url=url, port=port)
                        doc, error, kind, wall, tail = run_harness(
                            job, mode=mode, options=options, timeout_s=entry.timeout_s or options.timeout_s,
                            isolation=isolation,
                        )
                        requests = stub.take_log(token) if stub and token else []
                    except OSError as exc:  # the shared stub process died: this step's row says so
                        doc, error, kind, wall, tail = None, f"canned-response stub unavailable: {exc}", "stub", 0.0, ""
                        requests = []
                    result.wall_ms, result.stderr_tail = wall, tail
                    if doc is None:
                        result.error, result.error_kind = error, kind
                    else:
                        result.node_version = doc.node
                        outcome = doc.steps[0] if doc.steps else None
                        result.outcome = outcome
                        if outcome is not None and token:
                            attach_io(outcome, requests)
                        if outcome is None:
                            result.error, result.error_kind = "harness returned no step outcome", "harness"
                        elif not outcome.ok:
                            result.error, result.error_kind = outcome.error, outcome.error_kind
            if on_result:
                on_result(result)
            return result

        jobs = max(1, options.jobs or os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return unrunnable + list(pool.map(run, tasks))


def run_shared_process(
    registry: StepRegistry, step_ids: list[str], *, mode: str = "precise", options: ProfileOptions | None = None
) -> HarnessDocument:
    """Several steps in ONE process, in order (what the seed did). Only to show why wfprof does not."""
    options = options or ProfileOptions()
    entries = registry.profilable(registry.select(step_ids))
    with tempfile.TemporaryDirectory(prefix="wfprof-steps-") as tmp:
        compiled, shim_dir = compile_steps(registry, entries, Path(tmp), options.node)
        jobs = [_job_for(registry, e, compiled[e.module].compiled or "", shim_dir, mode, options) for e in entries]
        job = jobs[0].model_copy(update={"steps": [j.steps[0] for j in jobs]})
        doc, error, _, _, _ = run_harness(job, mode=mode, options=options, timeout_s=options.timeout_s * len(entries))
        if doc is None:
            raise ProfilingError(error or "harness failed")
        return doc
