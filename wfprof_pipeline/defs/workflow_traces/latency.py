"""`step_latency`: per action type — runs, error rate, latency percentiles and spread — over all ingested days."""

import dagster as dg

from wfprof_pipeline.defs.metadata import markdown_table, table_metadata
from wfprof_pipeline.defs.resources import WarehouseResource
from wfprof_pipeline.lib.workflows import latency


@dg.asset(
    group_name="workflow_traces",
    kinds={"duckdb"},
    pool="duckdb",
    deps=["workflow_step_runs"],
    description="Per action type over every ingested day of `workflow_step_runs`: runs, errors, error rate, "
    "p5/p50/p95/p99/min/max/mean duration (ms), spreads p99/p50, p95/p5 and max/min (the seed's "
    "'web3 steps vary 10x'), median payload sizes.",
    metadata=table_metadata(latency.STEP_LATENCY),
)
def step_latency(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        frame = latency.step_latency(con)
    count = warehouse.replace_table(latency.STEP_LATENCY, frame)
    if count == 0:
        context.log.warning("no step runs in the warehouse yet: materialize workflow_traces partitions first")
    widest = frame.sort("spread_p95_p5", descending=True, nulls_last=True).head(5)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": count,
            "step_runs": int(frame["runs"].sum() or 0) if count else 0,
            "widest_spread": dg.MetadataValue.md(markdown_table(widest.select(
                "action_type", "runs", "p50_ms", "p95_ms", "spread_p95_p5", "error_rate"))),
        }
    )

