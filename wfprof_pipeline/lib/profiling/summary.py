"""Summaries of repeated harness runs, as the rows of the step profiling tables.

- Exact counts (precise mode): the step's own and package calls must be identical in every fresh
  process; `deterministic` says whether they were (NULL with a single run: nothing to compare).
  Node-internal counts vary in the import phase (Node 20 loads ESM files concurrently), so they are
  reported as the median.
- Timings, heap deltas and samples are statistical: median, with min and max as the spread.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from wfprof_pipeline.lib.profiling.models import ALL_PHASES, PhaseResult
from wfprof_pipeline.lib.profiling.runner import RunResult


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _median_int(values: list[float]) -> int | None:
    m = _median(values)
    return None if m is None else int(round(m))


@dataclass
class StepProfileRow:
    step_id: str
    mode: str
    phase: str
    calls_own: int | None = None
    calls_packages: int | None = None
    calls_node_internals: int | None = None
    calls_harness: int | None = None
    calls_other: int | None = None
    calls_total: int | None = None
    calls_fetch_internals: int | None = None
    unique_functions: int | None = None
    io_operations: int | None = None
    rpc_methods: str | None = None
    duration_ms: float | None = None
    duration_ms_min: float | None = None
    duration_ms_max: float | None = None
    module_load_ms: float | None = None
    heap_delta_bytes: int | None = None
    cpu_ms: float | None = None
    warm_runs: int | None = None
    # own + packages over every run (and warm execution): equal when deterministic, both shown when not
    calls_own_packages_min: int | None = None
    calls_own_packages_max: int | None = None
    samples: int | None = None
    self_ms_own: float | None = None
    self_ms_packages: float | None = None
    self_ms_node_internals: float | None = None
    runs: int = 0
    deterministic: bool | None = None
    error: str | None = None
    node_version: str | None = None
    isolation: str | None = None  # namespaces | guard


@dataclass
class Summary:
    profiles: list[StepProfileRow] = field(default_factory=list)
    package_calls: list[dict[str, Any]] = field(default_factory=list)
    functions: list[dict[str, Any]] = field(default_factory=list)
    io_requests: list[dict[str, Any]] = field(default_factory=list)


def _phase_rows(step_id: str, mode: str, phase: str, runs: list[RunResult]) -> StepProfileRow:
    row = StepProfileRow(step_id=step_id, mode=mode, phase=phase)
    results: list[tuple[RunResult, PhaseResult]] = [
        (r, r.outcome.phases[phase]) for r in runs if r.outcome is not None and phase in r.outcome.phases
    ]
    errors = [r.error for r in runs if r.error]
    row.error = errors[0] if errors else None
    row.runs = len(results)
    row.node_version = next((r.node_version for r in runs if r.node_version), None)
    row.isolation = next((r.isolation for r in runs if r.isolation), None)
    if not results:
        return row
    phases = [p for _, p in results]
    durations = [p.duration_ms for p in phases]
    row.duration_ms = _median(durations)
    row.duration_ms_min = min(p.duration_ms_min if p.duration_ms_min is not None else p.duration_ms for p in phases)
    row.duration_ms_max = max(p.duration_ms_max if p.duration_ms_max is not None else p.duration_ms for p in phases)
    # Warm phases hold several executions: requests per execution.
    io_counts = [len(r.outcome.io.get(phase, [])) / max(1, p.warm_runs or 1) for r, p in results if r.outcome]
    row.io_operations = _median_int(io_counts)
    row.warm_runs = max((p.warm_runs for p in phases if p.warm_runs is not None), default=None)
    cpu = [p.cpu_ms for p in phases if p.cpu_ms is not None]
    row.cpu_ms = _median(cpu)
    methods = sorted({m for r, _ in results if r.outcome for q in r.outcome.io.get(phase, []) for m in q.rpc_methods})
    row.rpc_methods = ",".join(methods) or None
    if mode == "precise":
        counted = [p for p in phases if p.calls is not None]
        if counted:
            own = [p.calls.step for p in counted]
            pkgs = [p.calls.package for p in counted]
            row.calls_own = _median_int(own)
            row.calls_packages = _median_int(pkgs)
            row.calls_node_internals = _median_int([p.calls.node for p in counted])
            row.calls_harness = _median_int([p.calls.harness + p.calls.shim for p in counted])
            row.calls_other = _median_int([p.calls.other for p in counted])
            row.calls_total = _median_int([float(p.total_calls or 0) for p in counted])
            row.calls_fetch_internals = _median_int([float(p.node_buckets.get("undici", 0)) for p in counted])
            row.unique_functions = _median_int([float(p.unique_functions or 0) for p in counted])
            if len(counted) > 1:
                row.deterministic = len(set(own)) == 1 and len(set(pkgs)) == 1
            # Warm executions must also agree with each other inside one process.
            per_run = {v for p in counted for v in p.runs_own_packages if v is not None}
            spread = per_run or {p.calls.step + p.calls.package for p in counted}
            row.calls_own_packages_min, row.calls_own_packages_max = int(min(spread)), int(max(spread))
            if len(per_run) > 1:
                row.deterministic = False
            elif per_run and row.deterministic is None:
                row.deterministic = True
    elif mode == "sampling":
        row.samples = _median_int([float(p.samples or 0) for p in phases])
        row.unique_functions = _median_int([float(p.unique_functions or 0) for p in phases])
        sm = [p.self_ms for p in phases if p.self_ms is not None]
        if sm:
            row.self_ms_own = _median([s.step for s in sm])
            row.self_ms_packages = _median([s.package for s in sm])
            row.self_ms_node_internals = _median([s.node for s in sm])
    else:  # timing: the clean wall time, load time and heap numbers (no profiler attached)
        if phase == "import":
            row.module_load_ms = row.duration_ms
        heaps = [float(p.heap_delta_bytes) for p in phases if p.heap_delta_bytes is not None]
        row.heap_delta_bytes = _median_int(heaps)
    return row


def summarize(results: list[RunResult]) -> Summary:
    out = Summary()
    grouped: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for r in results:
        grouped[(r.step_id, r.mode)].append(r)
    for (step_id, mode), runs in sorted(grouped.items()):
        runs.sort(key=lambda r: r.repetition)
        phases_seen = [ph for ph in ALL_PHASES if any(r.outcome and ph in r.outcome.phases for r in runs)]
        for phase in phases_seen or ["import"]:
            out.profiles.append(_phase_rows(step_id, mode, phase, runs))
            first = next((r for r in runs if r.outcome and phase in r.outcome.phases), None)
            if first is None or first.outcome is None:
                continue
            ph = first.outcome.phases[phase]
            if mode == "precise":
                per_pkg: dict[str, list[float]] = defaultdict(list)
                for r in runs:
                    if r.outcome and phase in r.outcome.phases:
                        for pkg, n in r.outcome.phases[phase].packages.items():
                            per_pkg[pkg].append(n)
                for pkg, values in sorted(per_pkg.items()):
                    out.package_calls.append(
                        {"step_id": step_id, "phase": phase, "package": pkg, "calls": _median_int(values)}
                    )
            for rank, fn in enumerate(ph.top_functions, start=1):
                out.functions.append(
                    {
                        "step_id": step_id,
                        "mode": mode,
                        "phase": phase,
                        "rank": rank,
                        "function": fn.name,
                        "category": fn.category,
                        "package": fn.package,
                        "file": fn.file,
                        "line": fn.line,
                        "calls": fn.calls,
                        "self_ms": fn.self_ms,
                    }
                )
            # Requests of the import and the first execution (warm ones repeat them; their count per
            # execution is step_profiles.io_operations).
            if mode == _io_mode(runs, grouped, step_id) and phase != "execute_warm":
                for seq, req in enumerate(first.outcome.io.get(phase, []), start=1):
                    for rpc in req.rpc_methods or [None]:
                        out.io_requests.append(
                            {
                                "step_id": step_id,
                                "phase": phase,
                                "request_seq": seq,
                                "method": req.method,
                                "host": req.host.rsplit(":", 1)[0] if req.host else None,
                                "path": req.path,
                                "rpc_method": rpc,
                                "batch_size": len(req.rpc_methods) or None,
                                "status": req.status,
                                "matched": req.matched,
                            }
                        )
    return out


def _io_mode(runs: list[RunResult], grouped: dict[tuple[str, str], list[RunResult]], step_id: str) -> str:
    """I/O requests are the same in every mode: list them once, from the first mode that has them."""
    for mode in ("precise", "timing", "sampling"):
        if any(r.outcome for r in grouped.get((step_id, mode), [])):
            return mode
    return runs[0].mode
