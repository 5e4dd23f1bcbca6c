"""`workflow_traces`: executions and step runs of one UTC day, copied from the KeeperHub database.

One asset, two DuckDB tables (`workflow_executions`, `workflow_step_runs`) written in one transaction:
the day is deleted and re-inserted, so re-running a partition replaces exactly that day. The inline
check compares the rows written with the source's rows for the day, in the snapshot that was copied.
"""

from datetime import date

import dagster as dg

from wfprof_pipeline.defs.resources import KeeperHubDatabase, WarehouseResource
from wfprof_pipeline.defs.workflows.partitions import traces_partitions
from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.pg_urls import describe
from wfprof_pipeline.lib.workflows import ingest

ROW_COUNT_CHECK = "trace_row_counts_match_source"


def _schema(columns: dict) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(n, ddb, description=doc) for n, (_, ddb, doc) in columns.items()])


@dg.asset(
    group_name="workflows",
    kinds={"duckdb", "postgres"},
    pool="duckdb",
    partitions_def=traces_partitions,
    tags={"partitioning": "daily"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    check_specs=[
        dg.AssetCheckSpec(
            ROW_COUNT_CHECK,
            asset="workflow_traces",
            description="Executions and step runs written for the day equal the source's rows for the day.",
        )
    ],
    description="Workflow executions and step runs (KeeperHub `workflow_executions` / "
    "`workflow_execution_logs`) of one UTC day into DuckDB tables `workflow_executions` and "
    "`workflow_step_runs`: COPY as CSV → polars → DuckDB, payload sizes only, error texts scrubbed of "
    "secrets and truncated. Re-running a day replaces exactly that day.",
    metadata={
        "tables": "workflow_executions, workflow_step_runs",
        "workflow_executions/columns": _schema(ingest.EXECUTION_COLUMNS),
        "workflow_step_runs/columns": _schema(ingest.STEP_RUN_COLUMNS),
    },
)
def workflow_traces(
    context: dg.AssetExecutionContext, keeperhub_db: KeeperHubDatabase, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    url = keeperhub_db.resolved_url()
    with postgres.connect(url, retries=2) as conn, warehouse.connect() as con:
        # On DuckLake, another run may commit the same table first: redo the day (last writer wins).
        result = wh.retry_conflicts(lambda: ingest.ingest_day(conn, con, day), log=context.log.warning)
    context.log.info(
        f"{day}: {result.written.executions} executions, {result.written.step_runs} step runs "
        f"({result.csv_bytes / 1e6:.1f} MB CSV, copy {result.copy_seconds:.2f} s, write {result.write_seconds:.2f} s)"
    )
    if result.invalid_rows:
        context.log.warning(f"{day}: {result.invalid_rows} row(s) had invalid values (NaN/Infinity or non-numeric "
                            "duration or counts, timestamps outside years 1-9999), written as null")
    passed = result.written == result.source
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.written.step_runs,
            "executions": result.written.executions,
            "step_runs": result.written.step_runs,
            "rows_with_invalid_values": result.invalid_rows,
            "csv_mb": round(result.csv_bytes / 1e6, 3),
            "copy_seconds": round(result.copy_seconds, 3),
            "write_seconds": round(result.write_seconds, 3),
            "source": describe(url),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=ROW_COUNT_CHECK,
                passed=passed,
                metadata={
                    "source_executions": result.source.executions,
                    "written_executions": result.written.executions,
                    "source_step_runs": result.source.step_runs,
                    "written_step_runs": result.written.step_runs,
                },
            )
        ],
    )
