"""The fuel of the user JavaScript stored in the platform's workflows (code nodes), in the fuel sandbox."""

import dagster as dg
import polars as pl
from pydantic import Field

from wfprof_pipeline.defs.metadata import markdown_table, table_metadata
from wfprof_pipeline.defs.resources import KeeperHubDatabase, SandboxResource, WarehouseResource
from wfprof_pipeline.lib.fuel.tables import USER_CODE_FUEL
from wfprof_pipeline.lib.fuel.user_code import DEFAULT_FUEL_BUDGET, load_code_nodes, meter_code_nodes


class UserCodeFuelConfig(dg.Config):
    fuel_budget: int = Field(default=DEFAULT_FUEL_BUDGET, ge=1, le=1_000_000_000_000)
    timeout_s: float = Field(default=5.0, gt=0, le=600, allow_inf_nan=False)


@dg.asset(
    group_name="wasm_fuel", kinds={"duckdb", "postgres", "wasm"}, pool="duckdb",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),  # the only retry
    deps=["workflow_profiles"],
    description="Fuel of the user JavaScript in the stored workflows' code nodes (KeeperHub `workflows.nodes`), "
    "run as `fn(inputs)` in the fuel sandbox (embedded QuickJS, or SANDBOX_URL) under a fuel budget, with the "
    "inputs of the node's latest successful run. Failures (out of fuel, syntax, runtime, sandbox down) are "
    "rows with their kind, not asset failures.",
    metadata=table_metadata(USER_CODE_FUEL),
)
def user_code_fuel(
    context: dg.AssetExecutionContext,
    config: UserCodeFuelConfig,
    keeperhub_db: KeeperHubDatabase,
    sandbox: SandboxResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    with keeperhub_db.client() as kh:
        nodes, last_inputs = load_code_nodes(kh)
    table = meter_code_nodes(nodes, sandbox.evaluator(), last_inputs=last_inputs, fuel_budget=config.fuel_budget,
                             timeout_s=config.timeout_s)
    count = warehouse.replace_table(USER_CODE_FUEL, table)
    failed = table.filter(~pl.col("success"))
    if failed.height:
        context.log.warning(f"{failed.height} code node(s) failed in the sandbox; see error_kind / error")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "sandbox": sandbox.resolved_url() or "embedded",
        "failed_nodes": failed.height,
        "max_fuel": int(table["fuel_consumed"].max() or 0) if count else 0,
        "nodes": dg.MetadataValue.md(markdown_table(table.select(
            "workflow_name", "node_label", "fuel_consumed", "success", "error_kind"))),
    })
