"""Analysis results as warehouse rows (snake_case columns): step_sources, static_metrics, static_functions,
static_external_calls and static_step_metrics, each declared once."""

from __future__ import annotations

from typing import Any

import polars as pl

from wfprof_pipeline.lib.static.analyze import FileResult
from wfprof_pipeline.lib.tables import Table

STEP_SOURCES = Table.of("step_sources", [
    ("plugin", pl.Utf8, "Folder above `steps/` (KeeperHub plugin)"),
    ("step", pl.Utf8, "File name without extension"),
    ("path", pl.Utf8, "Path relative to the corpus root"),
    ("language", pl.Utf8, "typescript, tsx or javascript"),
    ("bytes", pl.Int64, "File size"),
    ("lines", pl.Int64, "Newline count + 1 (the seed's definition)"),
    ("sha256", pl.Utf8, "Content hash: lets downstream tables tell which code they measured"),
    ("error", pl.Utf8, "Why the file could not be read, if it could not"),
])

_KEY_COLUMNS = [
    ("file", pl.Utf8, "Path relative to the corpus root"),
    ("plugin", pl.Utf8, "Folder above `steps/` (KeeperHub plugin)"),
    ("step", pl.Utf8, "File name without extension"),
]

STATIC_METRICS = Table.of("static_metrics", [
    *_KEY_COLUMNS,
    ("role", pl.Utf8, "step (exports a …Step function) or helper (a -core file a sibling step imports)"),
    ("language", pl.Utf8, "Grammar used: typescript, tsx or javascript"),
    ("lines", pl.Int64, "Newline count + 1 (the seed's definition)"),
    ("await_expressions", pl.Int64, "`await` expressions (for-await loops are loops, not awaits)"),
    ("function_calls", pl.Int64, "Call expressions incl. optional and chained calls; not `new`, not tagged templates"),
    ("conditionals", pl.Int64, "if + ternary + switch"),
    ("try_catch_blocks", pl.Int64, "try statements, with or without catch"),
    ("throw_statements", pl.Int64, "throw statements"),
    ("loops", pl.Int64, "for, for-in, for-of, while, do-while"),
    ("cyclomatic_complexity", pl.Int64,
     "The seed's file complexity: 1 + if + ternary + case + catch + loops + && + || + ??"),
    ("ifs", pl.Int64, "if statements (each else-if is one)"),
    ("ternaries", pl.Int64, "Conditional expressions (not conditional types)"),
    ("switches", pl.Int64, "switch statements"),
    ("switch_cases", pl.Int64, "`case` clauses (not `default`)"),
    ("for_loops", pl.Int64, "for, for-in and for-of loops"),
    ("while_loops", pl.Int64, "while loops"),
    ("do_while_loops", pl.Int64, "do-while loops"),
    ("logical_ands", pl.Int64, "`&&` operators"),
    ("logical_ors", pl.Int64, "`||` operators"),
    ("nullish_coalescing", pl.Int64, "`??` operators"),
    ("external_calls", pl.Int64, "Calls classified as external (rows in static_external_calls)"),
    ("functions", pl.Int64, "Functions, class field initializers and static blocks (rows in static_functions)"),
    ("max_function_complexity", pl.Int64, "Highest per-function (ESLint) complexity in the file; null if none"),
    ("parse_error", pl.Utf8, "Why counts are partial or missing (syntax error, unreadable, …); null if clean"),
])

STATIC_FUNCTIONS = Table.of("static_functions", [
    *_KEY_COLUMNS,
    ("name", pl.Utf8, "As ESLint reports it: Function 'f', Arrow function, Method 'm', Class field initializer, …"),
    ("kind", pl.Utf8, "function, class_field_initializer or class_static_block"),
    ("start_line", pl.Int64, "First line (1-based)"),
    ("end_line", pl.Int64, "Last line"),
    ("cyclomatic_complexity", pl.Int64,
     "ESLint `complexity` rule (classic): 1 + decision points incl. ?., defaults, &&= ||= ??="),
    ("await_expressions", pl.Int64, "`await`s in the function's own body (nested functions excluded)"),
    ("function_calls", pl.Int64, "Calls in the function's own body (nested functions excluded)"),
])

STATIC_EXTERNAL_CALLS = Table.of("static_external_calls", [
    *_KEY_COLUMNS,
    ("line", pl.Int64, "Line of the call (1-based)"),
    ("callee", pl.Utf8, "Identifier path of the callee, e.g. db.select, signer.sendTransaction"),
    ("kind", pl.Utf8, "Class from the rules: fetch, http, db, web3, sdk, …"),
])


# Counts that add up when a helper's code is folded into the step that imports it.
ADDITIVE = ("lines", "await_expressions", "function_calls", "conditionals", "try_catch_blocks", "throw_statements",
            "loops", "ifs", "ternaries", "switches", "switch_cases", "for_loops", "while_loops", "do_while_loops",
            "logical_ands", "logical_ors", "nullish_coalescing", "external_calls", "functions")

STATIC_STEP_METRICS = Table.of("static_step_metrics", [
    ("step_id", pl.Utf8, "Step id (plugin/file stem), as in step_profiles"),
    ("file", pl.Utf8, "The step file, relative to the corpus root"),
    ("helpers", pl.Utf8, "Helper files folded in (comma-separated), or empty"),
    *(STATIC_METRICS.column(k) for k in ADDITIVE),
    ("cyclomatic_complexity", pl.Int64, "The seed's complexity of the step file and its helpers together: "
                                        "1 + every decision point of all of them"),
    ("max_function_complexity", pl.Int64, "Highest per-function complexity over the step and its helpers"),
    ("parse_error", pl.Utf8, "Any file's parse error, prefixed with the file"),
])


def step_metric_rows(rows: list[dict[str, Any]], step_ids: dict[str, str],
                     helpers: dict[str, list[str]]) -> list[dict[str, Any]]:
    """`static_step_metrics`: each step file with the helpers it imports folded in (KeeperHub's wrapper
    files score 4 while their -core logic scores 22: the step is both). `step_ids` maps step files to ids,
    `helpers` maps step files to the helper files they import."""
    by_file = {r["file"]: r for r in rows}
    out = []
    for file, sid in sorted(step_ids.items(), key=lambda kv: kv[1]):
        parts = [by_file[f] for f in [file, *helpers.get(file, [])] if f in by_file]
        if not parts:
            continue
        row: dict[str, Any] = {"step_id": sid, "file": file, "helpers": ", ".join(helpers.get(file, []))}
        for k in ADDITIVE:
            values = [p[k] for p in parts if p[k] is not None]
            row[k] = sum(values) if values else None
        ccs = [p["cyclomatic_complexity"] for p in parts if p["cyclomatic_complexity"] is not None]
        row["cyclomatic_complexity"] = sum(ccs) - (len(ccs) - 1) if ccs else None
        maxes = [p["max_function_complexity"] for p in parts if p["max_function_complexity"] is not None]
        row["max_function_complexity"] = max(maxes) if maxes else None
        errors = [f"{p['file']}: {p['parse_error']}" for p in parts if p["parse_error"]]
        row["parse_error"] = "; ".join(errors) or None
        out.append(row)
    return out


def metrics_rows(results: list[FileResult], roles: dict[str, str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        m, d = r.metrics, r.metrics.details
        rows.append({
            "file": r.file, "plugin": r.plugin, "step": r.step, "role": (roles or {}).get(r.file, "step"),
            "language": r.language,
            "lines": m.lines, "await_expressions": m.await_expressions, "function_calls": m.function_calls,
            "conditionals": m.conditionals, "try_catch_blocks": m.try_catch_blocks,
            "throw_statements": m.throw_statements, "loops": m.loops,
            "cyclomatic_complexity": m.cyclomatic_complexity,
            "ifs": d.ifs, "ternaries": d.ternaries, "switches": d.switches, "switch_cases": d.switch_cases,
            "for_loops": d.for_loops, "while_loops": d.while_loops, "do_while_loops": d.do_while_loops,
            "logical_ands": d.logical_ands, "logical_ors": d.logical_ors,
            "nullish_coalescing": d.nullish_coalescing,
            "external_calls": len(r.external_calls), "functions": len(r.functions),
            "max_function_complexity": max((f.cyclomatic_complexity for f in r.functions), default=None),
            "parse_error": r.parse_error,
        })  # fmt: skip
    return rows


def function_rows(results: list[FileResult]) -> list[dict[str, Any]]:
    return [
        {
            "file": r.file, "plugin": r.plugin, "step": r.step, "name": f.name, "kind": f.kind,
            "start_line": f.start_line, "end_line": f.end_line, "cyclomatic_complexity": f.cyclomatic_complexity,
            "await_expressions": f.await_expressions, "function_calls": f.function_calls,
        }  # fmt: skip
        for r in results
        for f in r.functions
    ]


def external_call_rows(results: list[FileResult]) -> list[dict[str, Any]]:
    return [
        {"file": r.file, "plugin": r.plugin, "step": r.step, "line": c.line, "callee": c.callee, "kind": c.kind}
        for r in results
        for c in r.external_calls
    ]
