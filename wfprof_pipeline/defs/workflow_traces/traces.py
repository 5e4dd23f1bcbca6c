"""`workflow_traces`: one multi-asset, two assets — `workflow_executions` and `workflow_step_runs` — of one UTC
day, copied from the KeeperHub database in one DuckDB transaction.

The day is deleted and re-inserted, so re-running a partition replaces exactly that day. Each asset has
its own schema, row count and inline check: the rows written for the day equal the source's rows for the
day, counted in the snapshot that was copied.
"""

from datetime import date

import dagster as dg

from wfprof_pipeline.defs.metadata import table_metadata
from wfprof_pipeline.defs.resources import KeeperHubDatabase, WarehouseResource
from wfprof_pipeline.defs.workflow_traces.partitions import traces_partitions
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.pg_urls import describe
from wfprof_pipeline.lib.tables import Table
from wfprof_pipeline.lib.workflows import ingest
from wfprof_pipeline.lib.workflows.tables import EXECUTIONS, STEP_RUNS

ROW_COUNT_CHECK = "row_count_matches_source"
_SOURCE_TABLES = {EXECUTIONS.name: "workflow_executions", STEP_RUNS.name: "workflow_execution_logs"}


def _spec(table: Table) -> dg.AssetSpec:
    return dg.AssetSpec(
        table.name,
        group_name="workflow_traces",
        kinds={"duckdb", "postgres"},
        tags={"partitioning": "daily"},
        description=f"{table.doc}: KeeperHub `{_SOURCE_TABLES[table.name]}` streamed through DuckDB's postgres "
        "extension in slices, payload sizes only, error texts scrubbed of secrets and truncated. Re-running a "
        "day replaces exactly that day.",
        metadata=table_metadata(table),
    )


def _check(table: Table) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        ROW_COUNT_CHECK,
        asset=table.name,
        description=f"Rows of `{table.name}` written for the day equal the source's rows for the day.",
    )


@dg.multi_asset(
    name="workflow_traces",
    specs=[_spec(EXECUTIONS), _spec(STEP_RUNS)],
    check_specs=[_check(EXECUTIONS), _check(STEP_RUNS)],
    pool="duckdb",
    partitions_def=traces_partitions,
    op_tags={"partitioning": "daily"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    description="Executions and step runs of one UTC day, written together in one DuckDB transaction.",
)
def workflow_traces(
    context: dg.AssetExecutionContext, keeperhub_db: KeeperHubDatabase, warehouse: WarehouseResource
):
    day = date.fromisoformat(context.partition_key)
    def progress(part: ingest.Slice) -> None:
        context.log.debug(f"{day}: {part.table} {part.start:%H:%M}–{part.end:%H:%M} copied")

    with keeperhub_db.client() as kh, warehouse.connect() as con:  # RetryPolicy above is the only retry
        url = kh.url
        # On DuckLake, another run may commit the same table first: redo the day (last writer wins).
        result = wh.retry_conflicts(lambda: ingest.ingest_day(kh.conn, con, day, on_slice=progress),
                                    log=context.log.warning)
    context.log.info(
        f"{day}: {result.written.executions} executions, {result.written.step_runs} step runs in "
        f"{result.slices} slice(s), {result.seconds:.2f} s"
    )
    if result.invalid_rows:
        context.log.warning(f"{day}: {result.invalid_rows} row(s) had invalid values (NaN/Infinity or non-numeric "
                            "duration or counts, timestamps outside years 1-9999), written as null")
    shared = {
        "slices": result.slices,
        "seconds": round(result.seconds, 3),
        "source": describe(url),
    }
    for table, source, written, invalid in (
        (EXECUTIONS, result.source.executions, result.written.executions, result.invalid.executions),
        (STEP_RUNS, result.source.step_runs, result.written.step_runs, result.invalid.step_runs),
    ):
        yield dg.MaterializeResult(
            asset_key=table.name,
            metadata={"dagster/row_count": written, "rows_with_invalid_values": invalid, **shared},
            check_results=[
                dg.AssetCheckResult(
                    asset_key=table.name,
                    check_name=ROW_COUNT_CHECK,
                    passed=written == source,
                    metadata={"source_rows": source, "written_rows": written},
                )
            ],
        )
