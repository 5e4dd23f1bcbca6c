"""`step_sources`: one row per step file of the corpus — the inventory everything else measures."""

import dataclasses

import dagster as dg
import polars as pl

from wfprof_pipeline.defs.metadata import table_metadata
from wfprof_pipeline.defs.resources import StepCorpusResource, WarehouseResource
from wfprof_pipeline.lib.corpus import SourceRow, require_steps, source_row
from wfprof_pipeline.lib.static.tables import STEP_SOURCES


@dg.asset(
    group_name="static_metrics",
    kinds={"duckdb", "typescript"},
    pool="duckdb",
    description="Inventory of step files under the corpus root (`plugins/*/steps/*`, "
    "`keeperhub/plugins/*/steps/*`): plugin, step, relative path, language, size, lines, sha256.",
    metadata=table_metadata(STEP_SOURCES),
)
def step_sources(
    context: dg.AssetExecutionContext, step_corpus: StepCorpusResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    root = step_corpus.resolved_root()
    rows: list[SourceRow] = [source_row(f) for f in require_steps(root, step_corpus.globs)]
    frame = STEP_SOURCES.frame(dataclasses.asdict(r) for r in rows)
    count = warehouse.replace_table(STEP_SOURCES, frame)
    unreadable = frame.filter(pl.col("error").is_not_null()).height
    if unreadable:
        context.log.warning(f"{unreadable} step file(s) could not be read; see the `error` column")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            "root": str(root),
            "plugins": frame["plugin"].n_unique(),
            "total_lines": int(frame["lines"].sum() or 0),
            "unreadable": unreadable,
        }
    )
