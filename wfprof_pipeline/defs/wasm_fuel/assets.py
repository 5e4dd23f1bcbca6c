"""`fuel_calibrations` → `fuel_fits` → `fuel_budgets`: what JS operations cost in WASM fuel, and budgets from it."""

import datetime as dt

import dagster as dg
import polars as pl

from wfprof_pipeline.defs.metadata import markdown_table, table_metadata
from wfprof_pipeline.defs.resources import SandboxResource, WarehouseResource
from wfprof_pipeline.lib import warehouse as wh
from wfprof_pipeline.lib.fuel import calibrate as cal
from wfprof_pipeline.lib.fuel.protocol import sandbox_info
from wfprof_pipeline.lib.fuel.tables import FUEL_BUDGETS, FUEL_CALIBRATIONS, FUEL_FIT_HISTORY, FUEL_FITS


@dg.asset(
    group_name="wasm_fuel",
    kinds={"duckdb", "wasm"},
    pool="duckdb",
    description="Fuel consumed by each of the seed's JS operation types at 4 sizes, in QuickJS-NG under wasmtime "
    "(embedded, or the sandbox at SANDBOX_URL); every measurement repeated, fuel must not vary.",
    metadata=table_metadata(FUEL_CALIBRATIONS),
)
def fuel_calibrations(
    context: dg.AssetExecutionContext, sandbox: SandboxResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    evaluator = sandbox.evaluator()
    info = sandbox_info(evaluator)
    result = cal.calibrate(evaluator, sandbox=info.label, wasmtime_version=info.wasmtime_version,
                           quickjs_version=info.quickjs_version)
    rows = [
        {**m.model_dump(), "sandbox": result.sandbox, "wasmtime_version": result.wasmtime_version,
         "quickjs_version": result.quickjs_version, "measured_at": result.timestamp}
        for m in result.measurements
    ]
    frame = FUEL_CALIBRATIONS.frame(rows)
    count = warehouse.replace_table(FUEL_CALIBRATIONS, frame)
    failed = frame.filter(~pl.col("success")).height
    if failed:
        context.log.warning(f"{failed} calibration measurement(s) failed; see the `error` column")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "sandbox": result.sandbox,
        "wasmtime_version": result.wasmtime_version,
        "quickjs_version": result.quickjs_version,
        "empty_evaluation_fuel": result.empty_fuel,
        "workloads": frame["workload"].n_unique(),
        "failed": failed,
        "deterministic": result.deterministic,
    })


def _measurements(warehouse: WarehouseResource) -> list[cal.Measurement]:
    with warehouse.connect() as con:
        frame = con.sql("select * from fuel_calibrations").pl()
    return [cal.Measurement.model_validate(row) for row in frame.iter_rows(named=True)]


@dg.asset(
    group_name="wasm_fuel",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[fuel_calibrations],
    description="Least-squares fit per operation type: fuel = fixed_fuel + fuel_per_op × iterations, with R² "
    "(the seed divided total fuel by iterations instead; `naive_fuel_per_op` keeps that figure).",
    metadata=table_metadata(FUEL_FITS),
)
def fuel_fits(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    fits = cal.fit_workloads(_measurements(warehouse))
    frame = FUEL_FITS.frame(f.model_dump() for f in fits)
    count = warehouse.replace_table(FUEL_FITS, frame)
    ranked = frame.filter(pl.col("category") != "baseline").sort("fuel_per_op", descending=True)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "min_r_squared": float(frame["r_squared"].min() or 0.0) if count else 0.0,
        "most_expensive": dg.MetadataValue.md(markdown_table(ranked.head(5).select("workload", "fuel_per_op",
                                                                                "r_squared"))),
    })


@dg.asset(
    group_name="wasm_fuel",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[fuel_fits],
    description="Append-only: the fuel fits of every materialization (materialized_at, run id, workload, fuel per "
    "operation, fixed fuel, R²), so a QuickJS or wasmtime upgrade shows as a change.",
    metadata=table_metadata(FUEL_FIT_HISTORY),
)
def fuel_fit_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        fits = con.sql("select workload, fuel_per_op, fixed_fuel, r_squared from fuel_fits").pl()
        rows = fits.with_columns(pl.lit(dt.datetime.now(dt.UTC)).alias("materialized_at"),
                                 pl.lit(context.run.run_id).alias("run_id"))
        count = wh.append_rows(con, FUEL_FIT_HISTORY, FUEL_FIT_HISTORY.conform(rows))
        runs = con.execute("select count(distinct run_id) from fuel_fit_history").fetchone()[0]
    return dg.MaterializeResult(metadata={"dagster/row_count": count, "materializations": int(runs)})


@dg.asset(
    group_name="wasm_fuel",
    kinds={"duckdb"},
    pool="duckdb",
    deps=[fuel_fits],
    description="Fuel budgets for 1k/10k/100k/1M operations: fixed fuel + p90 of the fitted per-operation fuel "
    "× ops (median alongside), beside the seed's naive figure (total fuel / iterations × ops).",
    metadata=table_metadata(FUEL_BUDGETS),
)
def fuel_budgets(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        fits_frame = con.sql("select * from fuel_fits").pl()
    fits = [cal.Fit.model_validate(row) for row in fits_frame.iter_rows(named=True)]
    rows = cal.budgets(fits)
    frame = FUEL_BUDGETS.frame(b.model_dump() for b in rows)
    count = warehouse.replace_table(FUEL_BUDGETS, frame)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "fuel_per_op_p90": rows[0].fuel_per_op if rows else 0.0,
        "budget_1k_ops": rows[0].fuel_budget if rows else 0,
    })
