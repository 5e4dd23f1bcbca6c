"""`step_sources`: one row per step file of the corpus — the inventory everything else measures."""

import dataclasses

import dagster as dg
import polars as pl

from wfprof_pipeline.defs.resources import StepCorpusResource, WarehouseResource
from wfprof_pipeline.lib.corpus import SourceRow, require_steps, source_row

STEP_SOURCES_SCHEMA = {
    "plugin": pl.Utf8,
    "step": pl.Utf8,
    "path": pl.Utf8,
    "language": pl.Utf8,
    "bytes": pl.Int64,
    "lines": pl.Int64,
    "sha256": pl.Utf8,
    "error": pl.Utf8,
}

_COLUMN_DOCS = {
    "plugin": "Folder above `steps/` (KeeperHub plugin)",
    "step": "File name without extension",
    "path": "Path relative to the corpus root",
    "language": "typescript, tsx or javascript",
    "bytes": "File size",
    "lines": "Newline count + 1 (the seed's definition)",
    "sha256": "Content hash: lets downstream tables tell which code they measured",
    "error": "Why the file could not be read, if it could not",
}


@dg.asset(
    group_name="static",
    kinds={"duckdb", "typescript"},
    pool="duckdb",
    description="Inventory of step files under the corpus root (`plugins/*/steps/*`, "
    "`keeperhub/plugins/*/steps/*`): plugin, step, relative path, language, size, lines, sha256.",
    metadata={
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype), description=_COLUMN_DOCS[name])
                     for name, dtype in STEP_SOURCES_SCHEMA.items()]
        ),
        "dagster/table_name": "step_sources",
    },
)
def step_sources(
    context: dg.AssetExecutionContext, step_corpus: StepCorpusResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    root = step_corpus.resolved_root()
    rows: list[SourceRow] = [source_row(f) for f in require_steps(root, step_corpus.globs)]
    frame = pl.DataFrame([dataclasses.asdict(r) for r in rows], schema=STEP_SOURCES_SCHEMA)
    count = warehouse.replace_table("step_sources", frame)
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
