"""Presenting step profiles: the seed's ProfileResult JSON (camelCase keys kept, per-phase and per-category
numbers added) and a plain-text comparison table like the seed's."""

from __future__ import annotations

from typing import Any

from wfprof_pipeline.lib.profiling.summary import StepProfileRow, Summary
from wfprof_pipeline.lib.registry import StepRegistry

MB = 1024 * 1024


def _rows(summary: Summary, step_id: str, mode: str) -> dict[str, StepProfileRow]:
    return {r.phase: r for r in summary.profiles if r.step_id == step_id and r.mode == mode}


def _sum(values: list[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _phase_json(row: StepProfileRow, timing: StepProfileRow | None) -> dict[str, Any]:
    return {
        "calls": {
            "own": row.calls_own,
            "packages": row.calls_packages,
            "nodeInternals": row.calls_node_internals,
            "harness": row.calls_harness,
            "other": row.calls_other,
            "fetchInternals": row.calls_fetch_internals,
        },
        "totalCalls": row.calls_total,
        "uniqueFunctions": row.unique_functions,
        "samples": row.samples,
        "selfTimeMs": {
            "own": row.self_ms_own, "packages": row.self_ms_packages, "nodeInternals": row.self_ms_node_internals,
        },
        "ioOperations": row.io_operations,
        "rpcMethods": row.rpc_methods.split(",") if row.rpc_methods else [],
        "durationMs": timing.duration_ms if timing else row.duration_ms,
        "profiledDurationMs": row.duration_ms,
        "moduleLoadMs": timing.module_load_ms if timing else None,
        "heapDeltaBytes": timing.heap_delta_bytes if timing else None,
        "deterministic": row.deterministic,
        "runs": row.runs,
    }


def profile_results(summary: Summary, registry: StepRegistry, *, mode: str, step_ids: list[str]) -> list[dict]:
    """One seed-shaped ProfileResult per step."""
    out = []
    for step_id in step_ids:
        entry = registry.get(step_id)
        rows = _rows(summary, step_id, mode)
        timing = _rows(summary, step_id, "timing")
        funcs = [f for f in summary.functions if f["step_id"] == step_id and f["mode"] == mode]
        funcs.sort(key=lambda f: (-(f["calls"] or 0), -(f["self_ms"] or 0)))
        heap = _sum([t.heap_delta_bytes for t in timing.values()])
        errors = [r.error for r in [*rows.values(), *timing.values()] if r.error]
        out.append(
            {
                "stepName": step_id,
                "mode": mode,
                "samples": _sum([r.samples for r in rows.values()]) or 0,
                "hitCount": _sum([r.samples for r in rows.values()]) or 0,
                "uniqueFunctions": _sum([r.unique_functions for r in rows.values()]) or 0,
                "totalCalls": _sum([r.calls_total for r in rows.values()]) or 0,
                "durationMs": _sum([r.duration_ms for r in (timing or rows).values()]),
                "memoryUsedMB": None if heap is None else round(heap / MB, 3),
                "topFunctions": [
                    {
                        "functionName": f["function"],
                        "url": f["file"],
                        "lineNumber": f["line"],
                        "callCount": f["calls"],
                        "selfTime": f["self_ms"],
                        "category": f["category"],
                        "package": f["package"],
                        "phase": f["phase"],
                    }
                    for f in funcs[:10]
                ],
                "actionType": entry.action_type,
                "ioClass": entry.io_class,
                "ioOperations": _sum([r.io_operations for r in rows.values()]) or 0,
                "deterministic": _all_true([r.deterministic for r in rows.values()]),
                "error": errors[0] if errors else None,
                "phases": {ph: _phase_json(r, timing.get(ph)) for ph, r in rows.items()},
                "packages": {
                    p["package"]: p["calls"]
                    for p in summary.package_calls
                    if p["step_id"] == step_id and p["phase"] == "import"
                }
                | {
                    f"{p['package']} (execute)": p["calls"]
                    for p in summary.package_calls
                    if p["step_id"] == step_id and p["phase"] == "execute"
                },
            }
        )
    return out


def _all_true(values: list[bool | None]) -> bool | None:
    if any(v is None for v in values) or not values:
        return None
    return all(values)


def _fmt(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def render_table(
    summary: Summary, registry: StepRegistry, *, mode: str, step_ids: list[str], dry_run: bool = False
) -> str:
    """The seed's comparison table: calls (or samples) per step by category, I/O, time, memory."""
    lines: list[str] = []
    if mode == "precise":
        header = ["step", "phase", "own", "packages", "node", "total", "io", "ms", "load ms", "heap MB", "× lightest"]
    else:
        header = ["step", "phase", "samples", "own ms", "pkg ms", "node ms", "io", "ms", "load ms", "heap MB"]
    table: list[list[str]] = []
    deterministic_work: dict[str, int] = {}
    for step_id in step_ids:
        rows = _rows(summary, step_id, mode)
        for row in rows.values():
            if row.calls_total is not None and row.error is None:
                deterministic_work[step_id] = deterministic_work.get(step_id, 0) + row.calls_total
    lightest = min(deterministic_work.values(), default=0) or 1
    errors: list[str] = []
    for step_id in step_ids:
        rows = _rows(summary, step_id, mode)
        timing = _rows(summary, step_id, "timing")
        for phase in ("import", "execute"):
            row = rows.get(phase)
            if row is None:
                continue
            t = timing.get(phase)
            ms = _fmt(t.duration_ms if t else row.duration_ms, 1)
            load = _fmt(t.module_load_ms if t else None, 1)
            heap = _fmt(t.heap_delta_bytes / MB if t and t.heap_delta_bytes is not None else None, 2)
            if mode == "precise":
                ratio = ""
                if phase == ("import" if dry_run else "execute") and step_id in deterministic_work:
                    ratio = f"{deterministic_work[step_id] / lightest:,.1f}×"
                table.append([step_id, phase, _fmt(row.calls_own), _fmt(row.calls_packages),
                              _fmt(row.calls_node_internals), _fmt(row.calls_total), _fmt(row.io_operations),
                              ms, load, heap, ratio])
            else:
                table.append([step_id, phase, _fmt(row.samples), _fmt(row.self_ms_own, 2),
                              _fmt(row.self_ms_packages, 2), _fmt(row.self_ms_node_internals, 2),
                              _fmt(row.io_operations), ms, load, heap])
            if row.error and row.error not in errors:
                errors.append(f"{step_id}: {row.error}")
        if not rows:
            err = next((r.error for r in timing.values() if r.error), None)
            errors.append(f"{step_id}: {err or 'no result'}")
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(header)]
    fmt_row = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    lines.append(fmt_row(header))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt_row(r) for r in table)
    if mode == "precise":
        lines.append("")
        lines.append("own + packages are exact and reproducible; node internals vary run to run in the import phase.")
        lines.append("× lightest = total calls of all phases shown, relative to the lightest step shown.")
        compared = [r for r in summary.profiles if r.mode == mode and r.step_id in step_ids and r.deterministic
                    is not None]
        if compared:
            varying = sorted({f"{r.step_id} {r.phase}" for r in compared if not r.deterministic})
            runs = max(r.runs for r in compared)
            lines.append(f"deterministic across {runs} fresh processes: "
                         + (f"NO for {', '.join(varying)}" if varying else "yes, every step and phase"))
    if errors:
        lines.append("")
        lines.extend(f"error: {e}" for e in dict.fromkeys(errors))
    return "\n".join(lines)
