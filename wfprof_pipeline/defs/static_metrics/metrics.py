"""`static_metrics`, `static_functions`, `static_external_calls`: one tree-sitter pass over the step corpus."""

import dagster as dg

from wfprof_pipeline.defs.metadata import table_metadata
from wfprof_pipeline.defs.resources import StepCorpusResource, WarehouseResource
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.corpus import require_steps
from wfprof_pipeline.lib.discovery.steps import discover_steps
from wfprof_pipeline.lib.settings import Settings
from wfprof_pipeline.lib.static import tables
from wfprof_pipeline.lib.static.analyze import analyze_file
from wfprof_pipeline.lib.static.external_calls import load_rules
from wfprof_pipeline.lib.static.report import ranked_functions, step_id, summarize
from wfprof_pipeline.lib.tables import Table


def _spec(table: Table, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=table.name,
        group_name="static_metrics",
        kinds={"duckdb", "typescript"},
        deps=["step_sources"],
        description=description,
        metadata=table_metadata(table),
    )


class StaticAnalysisConfig(dg.Config):
    """No knobs from run config: the rules file is a path, so it comes from $WFPROF_EXTERNAL_CALL_RULES only."""


@dg.multi_asset(
    specs=[
        _spec(tables.STATIC_METRICS,
              "Per step file, the seed's static metrics with the seed's semantics (lines, awaits, calls, "
              "conditionals, try/throw, loops, cyclomatic complexity and details), external-call count and "
              "a parse_error flag."),
        _spec(tables.STATIC_FUNCTIONS,
              "Per function (and class field initializer / static block): ESLint-exact cyclomatic complexity, "
              "lines, awaits and calls."),
        _spec(tables.STATIC_EXTERNAL_CALLS,
              "Every call classified as external (fetch, http, db, web3, sdk) by the identifier-path rules."),
        _spec(tables.STATIC_STEP_METRICS,
              "Per step (not per file): the step file's metrics with its -core helpers folded in. The cost "
              "model and the static-vs-runtime correlation read this table."),
    ],
    pool="duckdb",
)
def static_analysis(
    context: dg.AssetExecutionContext,
    config: StaticAnalysisConfig,
    step_corpus: StepCorpusResource,
    warehouse: WarehouseResource,
):
    root = step_corpus.resolved_root()
    rules = load_rules(Settings.from_env().external_call_rules)
    found = discover_steps(root, step_corpus.globs)
    if not found.files:
        require_steps(root, step_corpus.globs)  # raises, naming where it looked
    results = [analyze_file(d.file, rules) for d in found.files]
    roles = {d.file.rel: d.role for d in found.files}
    rows = tables.metrics_rows(results, roles)
    frames = {
        "static_metrics": tables.STATIC_METRICS.frame(rows),
        "static_step_metrics": tables.STATIC_STEP_METRICS.frame(
            tables.step_metric_rows(rows, {d.file.rel: d.step_id for d in found.steps},
                                    {d.file.rel: d.helpers for d in found.steps})
        ),
        "static_functions": tables.STATIC_FUNCTIONS.frame(tables.function_rows(results)),
        "static_external_calls": tables.STATIC_EXTERNAL_CALLS.frame(tables.external_call_rows(results)),
    }
    declared = {t.name: t for t in (tables.STATIC_METRICS, tables.STATIC_STEP_METRICS, tables.STATIC_FUNCTIONS,
                                    tables.STATIC_EXTERNAL_CALLS)}
    with warehouse.connect() as con:
        counts = {name: wh.replace_table(con, declared[name], frame) for name, frame in frames.items()}

    flagged = [r for r in results if r.parse_error]
    for r in flagged:
        context.log.warning(f"{r.file}: {r.parse_error}")
    summary = summarize(results)
    ranked = sorted(results, key=lambda r: -r.metrics.cyclomatic_complexity)
    top = "\n".join(
        f"| {step_id(r)} | {r.metrics.cyclomatic_complexity} | {r.metrics.await_expressions} | "
        f"{r.metrics.function_calls} | {len(r.external_calls)} | {r.metrics.lines} |"
        for r in ranked[:10]
    )
    yield dg.MaterializeResult(
        asset_key="static_metrics",
        metadata={
            "dagster/row_count": counts["static_metrics"],
            "root": str(root),
            "files": len(results),
            "avg_cyclomatic_complexity": summary.avg_cyclomatic_complexity,
            "most_complex": step_id(summary.most_complex) if summary.most_complex else "",
            "least_complex": step_id(summary.least_complex) if summary.least_complex else "",
            "parse_errors": len(flagged),
            "top_10": dg.MetadataValue.md(
                "| step | complexity | awaits | calls | external | lines |\n|---|---|---|---|---|---|\n" + top
            ),
        },
    )
    hottest = "\n".join(
        f"| {r.file}:{f.start_line} | {f.name} | {f.cyclomatic_complexity} |"
        for r, f in ranked_functions(results)[:10]
    )
    yield dg.MaterializeResult(
        asset_key="static_functions",
        metadata={
            "dagster/row_count": counts["static_functions"],
            "max_complexity": int(frames["static_functions"]["cyclomatic_complexity"].max() or 0),
            "top_10": dg.MetadataValue.md("| where | function | complexity |\n|---|---|---|\n" + hottest),
        },
    )
    yield dg.MaterializeResult(
        asset_key="static_step_metrics",
        metadata={
            "dagster/row_count": counts["static_step_metrics"],
            "steps": len(found.steps),
            "helpers_folded_in": len(found.helpers),
        },
    )
    by_kind = frames["static_external_calls"].group_by("kind").len().sort("kind")
    yield dg.MaterializeResult(
        asset_key="static_external_calls",
        metadata={
            "dagster/row_count": counts["static_external_calls"],
            **{f"calls_{kind}": int(n) for kind, n in by_kind.iter_rows()},
        },
    )
