"""`step_tiers`: light / medium / heavy by deterministic call count relative to the lightest step."""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.cost_model.policy import CallBasis, TierThresholds

STEP_TIERS_SCHEMA: dict[str, pl.DataType] = {
    "step_id": pl.Utf8,
    "action_type": pl.Utf8,
    "basis": pl.Utf8,
    "tier_calls": pl.Int64,
    # own + packages, import + execute: bit-identical run to run, shown whatever the basis is.
    "calls_own_packages": pl.Int64,
    "calls_own": pl.Int64,
    "calls_packages": pl.Int64,
    "calls_node_execute": pl.Int64,
    "calls_node_import": pl.Int64,
    "calls_other": pl.Int64,
    "lightest_step": pl.Utf8,
    "ratio_to_lightest": pl.Float64,
    "tier": pl.Utf8,
    "boundary_margin": pl.Float64,
    "status": pl.Utf8,
    "coverage": pl.Utf8,
    "note": pl.Utf8,
}

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


def basis_calls(measurements: pl.DataFrame, basis: CallBasis) -> pl.Expr:
    parts = ["calls_own", "calls_packages"]
    if basis in ("own_packages_node_execute", "all"):
        parts.append("calls_node_execute")
    if basis == "all":
        parts += ["calls_node_import", "calls_other"]
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


def assign_tiers(measurements: pl.DataFrame, thresholds: TierThresholds) -> pl.DataFrame:
    """One row per step. Steps without a usable profile are listed with their status and no tier.

    The reference is the lightest step with more than zero calls, so no ratio divides by zero; a step
    with zero calls gets ratio 0 (light). If no step has any calls, every ratio is null and tiers are
    left empty rather than invented.
    """
    frame = measurements.with_columns(
        basis_calls(measurements, thresholds.basis).cast(pl.Int64).alias("tier_calls"),
        basis_calls(measurements, "own_packages").cast(pl.Int64).alias("calls_own_packages"),
        status_of(measurements).alias("status"),
    )
    positive = frame.filter(pl.col("tier_calls") > 0).sort(["tier_calls", "step_id"])
    lightest_step = positive["step_id"][0] if positive.height else None
    lightest = float(positive["tier_calls"][0]) if positive.height else None

    rows = []
    for row in frame.iter_rows(named=True):
        ratio = tier = margin = None
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
        elif lightest is None:
            note = "no step has any calls on this basis: no reference to tier against"
        else:
            ratio = row["tier_calls"] / lightest
            tier = thresholds.tier_of(ratio)
            # How far from flipping: import-phase Node counts vary run to run, so a small margin is a warning.
            margin = min(abs(ratio / t - 1) for t in (thresholds.medium_ratio, thresholds.heavy_ratio))
            if thresholds.basis == "all" and margin < NEAR_THRESHOLD_MARGIN:
                note = (f"within {margin:.0%} of a tier threshold: Node's import-phase calls vary up to ~20 % "
                        "between runs, so this tier may flip; calls_own_packages is the reproducible count")
        rows.append(
            {
                "step_id": row["step_id"],
                "action_type": row["action_type"],
                "basis": thresholds.basis,
                "tier_calls": row["tier_calls"],
                "calls_own_packages": row["calls_own_packages"],
                "calls_own": row["calls_own"],
                "calls_packages": row["calls_packages"],
                "calls_node_execute": row["calls_node_execute"],
                "calls_node_import": row["calls_node_import"],
                "calls_other": row["calls_other"],
                "lightest_step": lightest_step,
                "ratio_to_lightest": ratio,
                "tier": tier,
                "boundary_margin": margin,
                "status": row["status"] if tier is not None or row["status"] != STATUS_OK else "untiered",
                "coverage": coverage_of(row["status"], tier is not None, row["not_profiled_reason"]),
                "note": note,
            }
        )
    return pl.DataFrame(rows, schema=STEP_TIERS_SCHEMA).sort("step_id")
