"""Dagster metadata from the tables declared in `lib/` (one helper for every asset)."""

import dagster as dg
import polars as pl

from wfprof_pipeline.lib.tables import Table


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.duckdb_type, description=c.doc or None) for c in table.columns
    ])


def table_metadata(table: Table) -> dict[str, object]:
    """Definition-time metadata of an asset that writes `table`: its column schema and table name."""
    return {"dagster/column_schema": column_schema(table), "dagster/table_name": table.name}


def markdown_table(frame: pl.DataFrame, limit: int = 30) -> str:
    """A frame as a Markdown table for materialization metadata (first `limit` rows, floats to 3 digits)."""
    if not frame.height:
        return "(no rows)"
    cols = frame.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.head(limit).iter_rows():
        cells = [f"{v:,.3g}" if isinstance(v, float) else ("—" if v is None else str(v)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    if frame.height > limit:
        lines.append(f"\n… {frame.height - limit:,} more rows")
    return "\n".join(lines)
