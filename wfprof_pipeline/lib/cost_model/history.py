"""Price history: every nightly materialization appends one row per step to `step_cost_history` (and the
fuel fits to `fuel_fit_history`), so every price shows its change since the last night, and the steps whose
source or dependencies changed are named."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from wfprof_pipeline.lib.cost_model.tables import STEP_COST_HISTORY
from wfprof_pipeline.lib.registry import StepRegistry

LOCKFILES = ("package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lockb", "npm-shrinkwrap.json")

CHANGE_SCHEMA: dict[str, pl.DataType] = {
    "step_id": pl.Utf8,
    "units_before": pl.Float64,
    "units_after": pl.Float64,
    "units_change": pl.Float64,
    "cost_calls_before": pl.Int64,
    "cost_calls_after": pl.Int64,
    "tier_before": pl.Utf8,
    "tier_after": pl.Utf8,
    "source_changed": pl.Boolean,
    "dependencies_changed": pl.Boolean,
    "new_step": pl.Boolean,
}


def _sha256(paths: list[Path]) -> str | None:
    h = hashlib.sha256()
    found = False
    for path in paths:
        try:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
            found = True
        except OSError:
            continue
    return h.hexdigest() if found else None


def lockfile_digest(root: Path) -> str | None:
    return _sha256([root / name for name in LOCKFILES if (root / name).is_file()])


def source_digests(registry: StepRegistry) -> dict[str, str | None]:
    """Per step: sha256 of its module and the -core helpers it imports."""
    return {e.id: _sha256([registry.module_path(e), *(registry.root / h for h in e.helpers)])
            for e in registry.steps.values()}


def history_rows(tiers: pl.DataFrame, pricing: pl.DataFrame, digests: dict[str, str | None],
                 lockfile: str | None, run_id: str, materialized_at: object) -> pl.DataFrame:
    units = dict(zip(pricing["step_id"], pricing["total_units"], strict=True)) if pricing.height else {}
    coverage = dict(zip(pricing["step_id"], pricing["coverage"], strict=True)) if pricing.height else {}
    rows = [
        {"materialized_at": materialized_at, "run_id": run_id, "step_id": t["step_id"],
         "source_sha256": digests.get(t["step_id"]), "lockfile_sha256": lockfile,
         "calls_import": t["calls_import"], "calls_import_marginal": t["calls_import_marginal"],
         "calls_execute_cold": t["calls_execute_cold"], "calls_execute_warm": t["calls_execute_warm"],
         "calls_own_packages": t["calls_own_packages"], "cost_calls": t["cost_calls"], "tier": t["tier"],
         "total_units": units.get(t["step_id"]), "coverage": coverage.get(t["step_id"], t["coverage"])}
        for t in tiers.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=STEP_COST_HISTORY.schema)


def policy_changes(current: pl.DataFrame, what_if: pl.DataFrame) -> pl.DataFrame:
    """Prices under a what-if policy against the current ones (units_before = current), per step."""
    now = {r["step_id"]: r for r in current.iter_rows(named=True)}
    out = []
    for r in what_if.iter_rows(named=True):
        c = now.get(r["step_id"], {})
        before, after = c.get("total_units"), r["total_units"]
        out.append({"step_id": r["step_id"], "units_before": before, "units_after": after,
                    "units_change": None if before is None or after is None else after - before,
                    "cost_calls_before": None, "cost_calls_after": None,
                    "tier_before": c.get("tier"), "tier_after": r["tier"], "source_changed": False,
                    "dependencies_changed": False, "new_step": False})
    return pl.DataFrame(out, schema=CHANGE_SCHEMA).sort("step_id")


def changes(history: pl.DataFrame | None) -> pl.DataFrame:
    """The latest materialization against the one before it, per step (empty with fewer than two)."""
    if history is None or not history.height:
        return pl.DataFrame(schema=CHANGE_SCHEMA)
    runs = (history.group_by("run_id").agg(pl.col("materialized_at").max()).sort("materialized_at")["run_id"]
            .to_list())
    latest = history.filter(pl.col("run_id") == runs[-1])
    before = history.filter(pl.col("run_id") == runs[-2]) if len(runs) > 1 else history.clear()
    prev = {r["step_id"]: r for r in before.iter_rows(named=True)}
    out = []
    for r in latest.iter_rows(named=True):
        p = prev.get(r["step_id"])
        delta = None
        if p is not None and r["total_units"] is not None and p["total_units"] is not None:
            delta = r["total_units"] - p["total_units"]
        out.append({
            "step_id": r["step_id"],
            "units_before": p["total_units"] if p else None, "units_after": r["total_units"], "units_change": delta,
            "cost_calls_before": p["cost_calls"] if p else None, "cost_calls_after": r["cost_calls"],
            "tier_before": p["tier"] if p else None, "tier_after": r["tier"],
            "source_changed": None if p is None else p["source_sha256"] != r["source_sha256"],
            "dependencies_changed": None if p is None else p["lockfile_sha256"] != r["lockfile_sha256"],
            "new_step": p is None and bool(prev),
        })
    return pl.DataFrame(out, schema=CHANGE_SCHEMA).sort("step_id")
