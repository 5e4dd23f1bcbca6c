"""The seed's output shapes: `--json` (camelCase keys, so CI scripts reading `.summary.avgCyclomaticComplexity`
keep working), the text report, and the per-function listing (hottest first)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wfprof_pipeline.lib.static.analyze import FileResult
from wfprof_pipeline.lib.static.functions import FunctionMetrics


@dataclass(frozen=True)
class Summary:
    total_steps: int
    avg_await_expressions: float
    avg_cyclomatic_complexity: float
    avg_external_calls: float
    most_complex: FileResult | None
    least_complex: FileResult | None
    parse_errors: int


def step_id(r: FileResult) -> str:
    return f"{r.plugin}/{r.step}"


def summarize(results: list[FileResult]) -> Summary:
    n = len(results)

    def avg(values: list[int]) -> float:
        # JavaScript's Math.round(x * 100) / 100, as a TypeScript analyzer rounds (Python's round() is banker's).
        return math.floor(sum(values) / n * 100 + 0.5) / 100 if n else 0.0

    def mean(values: list[int]) -> float:
        # The seed's analyzer writes the complexity mean unrounded (21.081081… on KeeperHub's 37 files);
        # CI scripts compare its JSON byte for byte, and gate on it with jq.
        return sum(values) / n if n else 0.0

    # The seed sorts descending by complexity (a stable sort) and takes the first and the last element.
    ranked = sorted(results, key=lambda r: -r.metrics.cyclomatic_complexity)
    return Summary(
        total_steps=n,
        avg_await_expressions=avg([r.metrics.await_expressions for r in results]),
        avg_cyclomatic_complexity=mean([r.metrics.cyclomatic_complexity for r in results]),
        avg_external_calls=avg([len(r.external_calls) for r in results]),
        most_complex=ranked[0] if ranked else None,
        least_complex=ranked[-1] if ranked else None,
        parse_errors=sum(1 for r in results if r.parse_error),
    )


def _file_json(r: FileResult) -> dict[str, Any]:
    m, d = r.metrics, r.metrics.details
    doc: dict[str, Any] = {
        "file": r.file,
        "pluginName": r.plugin,
        "stepName": r.step,
        "lines": m.lines,
        "awaitExpressions": m.await_expressions,
        "functionCalls": m.function_calls,
        "externalCalls": [{"name": c.callee, "type": c.kind, "line": c.line} for c in r.external_calls],
        "conditionals": m.conditionals,
        "tryCatchBlocks": m.try_catch_blocks,
        "throwStatements": m.throw_statements,
        "loops": m.loops,
        "cyclomaticComplexity": m.cyclomatic_complexity,
        "details": {
            "ifs": d.ifs,
            "ternaries": d.ternaries,
            "switches": d.switches,
            "switchCases": d.switch_cases,
            "forLoops": d.for_loops,
            "whileLoops": d.while_loops,
            "doWhileLoops": d.do_while_loops,
            "logicalAnds": d.logical_ands,
            "logicalOrs": d.logical_ors,
            "nullishCoalescing": d.nullish_coalescing,
        },
    }
    if r.parse_error:  # only on flagged files, so clean corpora print exactly the seed's keys
        doc["parseError"] = r.parse_error
    return doc


def seed_json(results: list[FileResult]) -> dict[str, Any]:
    plugins: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        plugins.setdefault(r.plugin, []).append(_file_json(r))
    s = summarize(results)
    return {
        "totalSteps": s.total_steps,
        "plugins": plugins,
        "summary": {
            "avgAwaitExpressions": s.avg_await_expressions,
            "avgCyclomaticComplexity": s.avg_cyclomatic_complexity,
            "avgExternalCalls": s.avg_external_calls,
            "mostComplex": step_id(s.most_complex) if s.most_complex else None,
            "leastComplex": step_id(s.least_complex) if s.least_complex else None,
        },
    }


def ranked_functions(results: list[FileResult]) -> list[tuple[FileResult, FunctionMetrics]]:
    """Every function of every file, hottest first (ties keep file and source order)."""
    pairs = [(r, f) for r in results for f in r.functions]
    return sorted(pairs, key=lambda p: -p[1].cyclomatic_complexity)


def functions_json(results: list[FileResult]) -> list[dict[str, Any]]:
    return [
        {
            "file": r.file,
            "name": f.name,
            "startLine": f.start_line,
            "endLine": f.end_line,
            "cyclomaticComplexity": f.cyclomatic_complexity,
        }
        for r, f in ranked_functions(results)
    ]


def text_report(results: list[FileResult], *, root: str, verbose: bool = False) -> str:
    out: list[str] = [f"Static analysis: {len(results)} step files under {root}", ""]
    plugin = None
    for r in results:
        if r.plugin != plugin:
            plugin = r.plugin
            out.append(f"{plugin}/")
        m = r.metrics
        flag = "  [!]" if r.parse_error else ""
        out.append(
            f"  {r.step:<28} complexity {m.cyclomatic_complexity:>3}  awaits {m.await_expressions:>3}  "
            f"calls {m.function_calls:>4}  external {len(r.external_calls):>3}  lines {m.lines:>5}{flag}"
        )
        if verbose:
            d = m.details
            out.append(
                f"      ifs {d.ifs}, ternaries {d.ternaries}, switches {d.switches} ({d.switch_cases} cases), "
                f"for {d.for_loops}, while {d.while_loops}, do-while {d.do_while_loops}, "
                f"&& {d.logical_ands}, || {d.logical_ors}, ?? {d.nullish_coalescing}, "
                f"try {m.try_catch_blocks}, throw {m.throw_statements}"
            )
            for c in r.external_calls:
                out.append(f"      external  line {c.line:>4}  {c.kind:<6} {c.callee}")
            for f in r.functions:
                out.append(f"      function  line {f.start_line:>4}  complexity {f.cyclomatic_complexity:>3}  {f.name}")
            if r.parse_error:
                out.append(f"      parse error: {r.parse_error}")
    s = summarize(results)
    out += [
        "",
        "Summary",
        f"  Steps analyzed:                 {s.total_steps}",
        f"  Average cyclomatic complexity:  {s.avg_cyclomatic_complexity:.2f}",
        f"  Average await expressions:      {s.avg_await_expressions:.2f}",
        f"  Average external calls:         {s.avg_external_calls:.2f}",
    ]
    if s.most_complex and s.least_complex:
        out.append(f"  Most complex:   {step_id(s.most_complex)} ({s.most_complex.metrics.cyclomatic_complexity})")
        out.append(f"  Least complex:  {step_id(s.least_complex)} ({s.least_complex.metrics.cyclomatic_complexity})")
    if s.parse_errors:
        out.append(f"  Files with parse errors: {s.parse_errors} (marked [!]; counts are partial)")
    return "\n".join(out)


def functions_text(results: list[FileResult], *, limit: int | None = None) -> str:
    ranked = ranked_functions(results)
    shown = ranked if limit is None else ranked[:limit]
    width = max((len(f"{r.file}:{f.start_line}-{f.end_line}") for r, f in shown), default=10)
    out = [f"{'complexity':>10}  {'awaits':>6}  {'calls':>5}  {'location':<{width}}  function"]
    for r, f in shown:
        loc = f"{r.file}:{f.start_line}-{f.end_line}"
        out.append(
            f"{f.cyclomatic_complexity:>10}  {f.await_expressions:>6}  {f.function_calls:>5}  {loc:<{width}}  {f.name}"
        )
    if limit is not None and len(ranked) > limit:
        out.append(f"… {len(ranked) - limit} more (use --limit 0 for all)")
    return "\n".join(out)
