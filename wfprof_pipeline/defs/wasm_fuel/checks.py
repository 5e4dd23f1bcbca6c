"""Checks on the fuel tables: fuel must be deterministic (blocking), fits must be linear."""

import dagster as dg

from wfprof_pipeline.defs.resources import SandboxResource, WarehouseResource
from wfprof_pipeline.defs.wasm_fuel.assets import fuel_calibrations, fuel_fits
from wfprof_pipeline.lib.fuel import calibrate as cal
from wfprof_pipeline.lib.fuel.workloads import workload

# Re-measured by the check: the cheapest and the heaviest shapes (loop, calls, allocation + JSON).
RECHECK = ("baseline", "function_recursive", "json_parse", "workflow_sim")
RECHECK_REPEATS = 3
MIN_R_SQUARED = 0.999


@dg.asset_check(
    pool="duckdb",  # opens the warehouse: serialized with its writers (DuckDB is single-writer)
    asset=fuel_calibrations,
    blocking=True,
    description="Fuel is deterministic: every stored measurement's repeats agreed, and re-evaluating "
    f"{', '.join(RECHECK)} {RECHECK_REPEATS}× now gives exactly the stored fuel.",
)
def fuel_deterministic(sandbox: SandboxResource, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        stored = con.sql(
            "select workload, iterations, fuel_consumed, deterministic, success from fuel_calibrations"
        ).fetchall()
    varied = [f"{w}@{n}" for w, n, _, det, ok in stored if ok and not det]
    evaluator = sandbox.evaluator()
    mismatches = []
    for name in RECHECK:
        rows = [(n, fuel) for w, n, fuel, _, ok in stored if w == name and ok]
        if not rows:
            mismatches.append(f"{name}: no stored measurement")
            continue
        iterations, expected = min(rows)
        m = cal.measure(evaluator, workload(name), iterations, RECHECK_REPEATS)
        if not m.deterministic or m.fuel_consumed != expected:
            mismatches.append(f"{name}@{iterations}: stored {expected:,}, now {m.fuel_consumed:,} "
                              f"(repeats agree: {m.deterministic})")
    return dg.AssetCheckResult(
        passed=not varied and not mismatches,
        metadata={
            "measurements": len(stored),
            "varied_between_repeats": ", ".join(varied) or "none",
            "rechecked": ", ".join(RECHECK),
            "mismatches": "; ".join(mismatches) or "none",
        },
    )


@dg.asset_check(
    pool="duckdb",  # opens the warehouse: serialized with its writers (DuckDB is single-writer)
    asset=fuel_fits,
    description=f"Every workload's fuel grows linearly with its iterations: R² ≥ {MIN_R_SQUARED}.",
)
def fuel_fits_linear(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        rows = con.sql("select workload, r_squared from fuel_fits order by r_squared").fetchall()
    bad = [f"{w} ({r2:.6f})" for w, r2 in rows if r2 < MIN_R_SQUARED]
    return dg.AssetCheckResult(
        passed=bool(rows) and not bad,
        metadata={"workloads": len(rows), "min_r_squared": rows[0][1] if rows else 0.0,
                  "below_threshold": ", ".join(bad) or "none"},
    )
