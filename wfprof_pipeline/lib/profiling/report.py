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
        "cpuMs": timing.cpu_ms if timing else None,
        "warmRuns": row.warm_runs,
        "deterministic": row.deterministic,
        "runs": row.runs,
    }


def profile_results(summary: Summary, registry: StepRegistry, *, mode: str, step_ids: list[str]) -> list[dict]:
    """One seed-shaped ProfileResult per step."""
    out = []
    for step_id in step_ids:
        entry = registry.get(step_id)
        all_rows = _rows(summary, step_id, mode)
        all_timing = _rows(summary, step_id, "timing")
        # The seed's keys sum import + the first execution; warm executions are under "phases" only.
        rows = {ph: r for ph, r in all_rows.items() if ph != "execute_warm"}
        timing = {ph: r for ph, r in all_timing.items() if ph != "execute_warm"}
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
                "phases": {ph: _phase_json(r, all_timing.get(ph)) for ph, r in all_rows.items()},
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


def _determinism(summary: Summary, mode: str, step_ids: list[str]) -> list[str]:
    compared = [r for r in summary.profiles if r.mode == mode and r.step_id in step_ids and r.deterministic
                is not None]
    if not compared:
        return []
    varying = sorted({f"{r.step_id} {r.phase}" for r in compared if not r.deterministic})
    runs = max(r.runs for r in compared)
    return [f"deterministic (own + packages equal in {runs} fresh process(es) and every warm execution): "
            + (f"NO for {', '.join(varying)}" if varying else "yes, every step and phase")]


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
        for phase, row in rows.items():
            # import + the first execution: the seed's totalCalls (warm executions are shown beside them)
            if phase != "execute_warm" and row.calls_total is not None and row.error is None:
                deterministic_work[step_id] = deterministic_work.get(step_id, 0) + row.calls_total
    lightest = min(deterministic_work.values(), default=0) or 1
    errors: list[str] = []
    for step_id in step_ids:
        rows = _rows(summary, step_id, mode)
        timing = _rows(summary, step_id, "timing")
        for phase in ("import", "execute", "execute_warm"):
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
        lines.append("× lightest = total calls of import + the first execution, relative to the lightest step shown; "
                     "execute_warm = per execution, median of the warm runs in the same process.")
        lines.extend(_determinism(summary, mode, step_ids))
    if errors:
        lines.append("")
        lines.extend(f"error: {e}" for e in dict.fromkeys(errors))
    return "\n".join(lines)


def _measures(summary: Summary, step_id: str, mode: str) -> dict[str, float | None]:
    """The measures `--compare` puts side by side, for one step."""
    rows = _rows(summary, step_id, mode)
    timing = _rows(summary, step_id, "timing")
    out: dict[str, float | None] = {}
    for phase in ("import", "execute", "execute_warm"):
        r = rows.get(phase)
        if r is None or r.error:
            continue
        if mode == "precise":
            own_pkg = None if r.calls_own is None else r.calls_own + (r.calls_packages or 0)
            out |= {f"{phase}: own": r.calls_own, f"{phase}: packages": r.calls_packages,
                    f"{phase}: own + packages": own_pkg, f"{phase}: node internals": r.calls_node_internals,
                    f"{phase}: total calls": r.calls_total}
        else:
            out |= {f"{phase}: samples": r.samples, f"{phase}: own ms": r.self_ms_own,
                    f"{phase}: packages ms": r.self_ms_packages, f"{phase}: node ms": r.self_ms_node_internals}
        out[f"{phase}: io"] = r.io_operations
        t = timing.get(phase)
        if t is not None and not t.error:
            out[f"{phase}: wall ms"] = t.duration_ms
            if phase == "import":
                out["import: load ms"] = t.module_load_ms
            out[f"{phase}: heap MB"] = None if t.heap_delta_bytes is None else t.heap_delta_bytes / MB
    return out


def render_comparison(summary: Summary, *, mode: str, step_ids: list[str]) -> str:
    """`wfprof profile --compare A,B[,C…]`: one column per step, then the difference and the ratio of each
    later step to the first (the baseline), per measure."""
    per_step = {s: _measures(summary, s, mode) for s in step_ids}
    names = list(dict.fromkeys(n for m in per_step.values() for n in m))
    base, others = step_ids[0], step_ids[1:]
    header = ["measure", *step_ids]
    for other in others:
        suffix = f" ({other})" if len(others) > 1 else ""
        header += [f"Δ{suffix}", f"ratio{suffix}"]
    table = []
    for name in names:
        digits = 2 if name.endswith(("ms", "MB")) else 0
        a = per_step[base].get(name)
        cells = [name, *(_fmt(per_step[s].get(name), digits) for s in step_ids)]
        for other in others:
            b = per_step[other].get(name)
            delta = None if a is None or b is None else b - a
            cells.append("-" if delta is None else f"{delta:+,.{digits}f}")
            cells.append("-" if delta is None or not a or a < 0 or b < 0 else f"{b / a:,.2f}×")
        table.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                              strict=True)))
             for cells in [header, ["-" * w for w in widths], *table]]
    lines.append("")
    lines.append(f"Δ and ratio: each step against {base}. own + packages are exact and reproducible; node "
                 "internals and times vary run to run.")
    if mode == "precise":
        lines.extend(_determinism(summary, mode, step_ids))
    errors = [f"error: {s}: {r.error}" for s in step_ids for r in _rows(summary, s, mode).values() if r.error]
    missing = [f"error: {s}: no result" for s in step_ids if not _rows(summary, s, mode)]
    if errors or missing:
        lines.append("")
        lines.extend(dict.fromkeys(errors + missing))
    return "\n".join(lines)
