"""`step_tiers`: light / medium / heavy by absolute calls per execution.

The default basis is what production pays per execution: a worker imports the platform once and runs
many executions warm, so

    cost_calls = execute_warm + cold_start_rate × (import_marginal + execute_cold − execute_warm)

where import_marginal is the step's import minus the shared platform import (platform_profiles), which
every process pays once whatever it runs and is reported on its own. Thresholds are absolute, so adding or
removing a step never re-tiers another.
"""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.cost_model.policy import CallBasis, PricingPolicy
from wfprof_pipeline.lib.cost_model.tables import STEP_TIERS

# On the "all" basis a tier this close to a threshold may flip between nights: Node's import-phase
# internals are not reproducible (Slack's import measured 41,945 and 50,548 in two runs, +20 %).
NEAR_THRESHOLD_MARGIN = 0.25

STATUS_OK = "ok"
STATUS_MISSING = "missing_profile"
STATUS_ERROR = "profile_error"
STATUS_IMPORT_ONLY = "import_only"

# What a pricing engineer reads first: was the step priced, and if not, why.
COVERAGE = ("priced", "import_only", "not_profiled", "failed")


def coverage_of(status: str, priced: bool, not_profiled_reason: str | None) -> str:
    """priced | import_only (no execute profile) | not_profiled (no way to import it) | failed (its error,
    or a profile that could not be priced)."""
    if not_profiled_reason or status == STATUS_MISSING:
        return "not_profiled"
    if status == STATUS_IMPORT_ONLY:
        return "import_only"
    return "priced" if priced else "failed"


def _num(v: object) -> float | None:
    return None if v is None else float(v)


def phase_costs(row: dict, rate: float) -> dict[str, float | None]:
    """Per-execution figures of one measurement row (all call categories)."""
    imp, cold, warm = _num(row.get("import_calls")), _num(row.get("execute_calls")), _num(row.get("execute_warm_calls"))
    platform = _num(row.get("platform_import_calls")) or 0.0
    marginal = None if imp is None else max(0.0, imp - platform)
    if cold is None and imp is None:  # a frame without phases (e.g. the seed's published totals)
        total = sum(_num(row.get(k)) or 0.0 for k in ("calls_own", "calls_packages", "calls_node_import",
                                                       "calls_node_execute", "calls_other"))
        return {"import": None, "marginal": None, "cold": None, "warm": None, "cost": total, "cold_total": total}
    warm_or_cold = warm if warm is not None else cold
    cost = None
    if warm_or_cold is not None:
        cost = warm_or_cold + rate * ((marginal or 0.0) + (cold or 0.0) - warm_or_cold)
    return {"import": imp, "marginal": marginal, "cold": cold, "warm": warm, "cost": cost,
            "cold_total": None if cold is None else (marginal or 0.0) + cold}


def _parts(basis: CallBasis) -> list[str]:
    """The call categories a count-based basis sums (import + first execution)."""
    parts = ["calls_own", "calls_packages"]
    if basis in ("own_packages_node_execute", "all"):
        parts.append("calls_node_execute")
    if basis == "all":
        parts += ["calls_node_import", "calls_other"]
    return parts


def basis_value(row: dict, basis: CallBasis, costs: dict[str, float | None]) -> float | None:
    if not row.get("profiled") or row.get("error") is not None or row.get("executed") is False:
        return None
    if basis == "cost_calls":
        return costs["cost"]
    if basis == "cold":
        return costs["cold_total"]
    return sum(_num(row.get(p)) or 0.0 for p in _parts(basis))


def basis_calls(measurements: pl.DataFrame, basis: CallBasis) -> pl.Expr:
    parts = _parts(basis)
    # A missing category of a profiled step counts as zero; an unprofiled step stays null.
    total = pl.sum_horizontal([pl.col(p).fill_null(0) for p in parts])
    executed = pl.col("executed").fill_null(True)
    return pl.when(pl.col("profiled") & pl.col("error").is_null() & executed).then(total).otherwise(None)


def status_of(measurements: pl.DataFrame) -> pl.Expr:
    return (
        pl.when(~pl.col("profiled").fill_null(False))
        .then(pl.lit(STATUS_MISSING))
        .when(pl.col("error").is_not_null())
        .then(pl.lit(STATUS_ERROR))
        .when(pl.col("executed") == False)  # noqa: E712  (None = not recorded: a hand-built frame)
        .then(pl.lit(STATUS_IMPORT_ONLY))
        .otherwise(pl.lit(STATUS_OK))
    )


def assign_tiers(measurements: pl.DataFrame, policy: PricingPolicy) -> pl.DataFrame:
    """One row per step; steps without a usable profile are listed with their status and no tier."""
    thresholds = policy.tiers
    frame = measurements.with_columns(
        basis_calls(measurements, "own_packages").cast(pl.Int64).alias("calls_own_packages"),
        status_of(measurements).alias("status"),
    )
    rows = []
    for row in frame.iter_rows(named=True):
        rate = policy.cold_start_rate_of(row["step_id"])
        costs = phase_costs(row, rate)
        calls = basis_value(row, thresholds.basis, costs)
        rows.append((row, rate, costs, calls))
    # Shown for reference only: tiers are absolute, the lightest step changes nothing.
    positive = sorted((calls, r["step_id"]) for r, _, _, calls in rows if calls is not None and calls > 0)
    lightest_step, lightest = (positive[0][1], positive[0][0]) if positive else (None, None)

    out = []
    for row, rate, costs, calls in rows:
        tier = margin = None
        note = None
        if row["not_profiled_reason"]:
            note = f"not profiled: {row['not_profiled_reason']}"
        elif row["status"] == STATUS_MISSING:
            note = "no profile for this step: not tiered, not priced"
        elif row["status"] == STATUS_IMPORT_ONLY:
            note = ("import phase only: no input to execute it with (give it an `input` in the registry; "
                    "`wfprof registry init` writes a starter)")
        elif row["status"] == STATUS_ERROR:
            note = f"profile failed: {row['error']}"
        elif calls is None:
            note = f"no {thresholds.basis} figure for this step"
        else:
            tier = thresholds.tier_of(calls)
            margin = min(abs(calls / t - 1) for t in (thresholds.medium_calls, thresholds.heavy_calls))
            # Node's import-phase internals vary run to run: near a threshold the tier may flip.
            if thresholds.basis in ("all", "cold", "cost_calls") and margin < NEAR_THRESHOLD_MARGIN:
                note = (f"within {margin:.0%} of a tier threshold: Node's import-phase calls vary up to ~20 % "
                        "between runs, so this tier may flip; calls_own_packages is the reproducible count")
        as_int = lambda v: None if v is None else int(round(v))  # noqa: E731
        out.append(
            {
                "step_id": row["step_id"],
                "action_type": row["action_type"],
                "basis": thresholds.basis,
                "tier_calls": as_int(calls),
                "calls_own_packages": row["calls_own_packages"],
                "calls_own": row["calls_own"],
                "calls_packages": row["calls_packages"],
                "calls_node_execute": row["calls_node_execute"],
                "calls_node_import": row["calls_node_import"],
                "calls_other": row["calls_other"],
                "cost_calls": as_int(costs["cost"]) if row["status"] == STATUS_OK else None,
                "calls_import": as_int(costs["import"]),
                "calls_import_marginal": as_int(costs["marginal"]),
                "calls_platform_import": row.get("platform_import_calls"),
                "calls_execute_cold": as_int(costs["cold"]),
                "calls_execute_warm": as_int(costs["warm"]),
                "cold_start_rate": rate,
                "lightest_step": lightest_step,
                "ratio_to_lightest": None if calls is None or not lightest else calls / lightest,
                "tier": tier,
                "boundary_margin": margin,
                "status": row["status"] if tier is not None or row["status"] != STATUS_OK else "untiered",
                "coverage": coverage_of(row["status"], tier is not None, row["not_profiled_reason"]),
                "note": note,
            }
        )
    return pl.DataFrame(out, schema=STEP_TIERS.schema).sort("step_id")
