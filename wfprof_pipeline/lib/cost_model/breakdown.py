"""`cost_breakdown`: where the calls go — per step (own code, packages, Node internals), per package,
per profiled workflow by category. The seed's "dependencies dominate" and "database is 50 %+", measured.

One long table: `scope` says what `subject` is (a step, a package, a workflow, or `all` of them) and
`share` is `calls` over the subject's total (null when that total is zero — never a division by zero).
"""

from __future__ import annotations

import polars as pl

from wfprof_pipeline.lib.cost_model.tables import COST_BREAKDOWN

# Step-profile categories, in display order, and the measurement columns they add up.
STEP_CATEGORIES: dict[str, tuple[str, ...]] = {
    "own": ("calls_own",),
    "packages": ("calls_packages",),
    "node_internals": ("calls_node_import", "calls_node_execute"),
    "other": ("calls_other",),
}

# Workflow-profile categories, normalized (the seed's names: step functions, executor, database, ...).
WORKFLOW_CATEGORIES = ("database", "step_functions", "executor", "external_api", "node_internals", "other")


def normalize_category(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    aliases = {
        "db": "database", "step": "step_functions", "steps": "step_functions",
        "step_function": "step_functions",
        "workflow_executor": "executor", "external": "external_api", "api": "external_api",
        "node": "node_internals", "node_internal": "node_internals",
    }
    return aliases.get(key, key)


def _share_rows(scope: str, subject: str, calls: dict[str, int], share_of: str) -> list[dict[str, object]]:
    total = sum(calls.values())
    return [
        {"scope": scope, "subject": subject, "category": c, "calls": int(v),
         "share": (v / total) if total > 0 else None, "share_of": share_of}
        for c, v in calls.items()
    ]


def step_category_calls(measurements: pl.DataFrame) -> dict[str, dict[str, int]]:
    """step_id → category → calls, for steps with a usable profile."""
    usable = measurements.filter(pl.col("profiled").fill_null(False) & pl.col("error").is_null())
    out: dict[str, dict[str, int]] = {}
    for row in usable.iter_rows(named=True):
        out[row["step_id"]] = {
            cat: int(sum(row[c] or 0 for c in cols)) for cat, cols in STEP_CATEGORIES.items()
        }
    return out


def breakdown_table(
    measurements: pl.DataFrame,
    package_calls: pl.DataFrame | None = None,
    workflow_calls: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`package_calls`: (step_id, package, calls); `workflow_calls`: (workflow_id, category, calls)."""
    rows: list[dict[str, object]] = []
    per_step = step_category_calls(measurements)
    totals = dict.fromkeys(STEP_CATEGORIES, 0)
    for step_id in sorted(per_step):
        rows += _share_rows("step", step_id, per_step[step_id], "the step's calls (import + execute)")
        for cat, v in per_step[step_id].items():
            totals[cat] += v
    if per_step:
        rows += _share_rows("steps", "all", totals, "all profiled steps' calls")
    all_step_calls = sum(totals.values())

    if package_calls is not None and package_calls.height:
        usable = set(per_step)
        by_pkg = (
            package_calls.filter(pl.col("step_id").is_in(list(usable)))
            .group_by("package").agg(pl.col("calls").sum())
            .sort(["calls", "package"], descending=[True, False])
        )
        for row in by_pkg.iter_rows(named=True):
            rows.append({"scope": "package", "subject": row["package"], "category": "packages",
                         "calls": int(row["calls"]),
                         "share": row["calls"] / all_step_calls if all_step_calls > 0 else None,
                         "share_of": "all profiled steps' calls"})

    if workflow_calls is not None and workflow_calls.height:
        wf = (
            workflow_calls.with_columns(
                pl.col("category").map_elements(normalize_category, return_dtype=pl.Utf8)
            )
            .group_by(["workflow_id", "category"]).agg(pl.col("calls").sum())
        )
        overall: dict[str, int] = {}
        for wf_id in sorted(wf["workflow_id"].unique().to_list()):
            part = wf.filter(pl.col("workflow_id") == wf_id)
            calls = _ordered({r["category"]: int(r["calls"]) for r in part.iter_rows(named=True)})
            rows += _share_rows("workflow", str(wf_id), calls, "the workflow run's calls")
            for c, v in calls.items():
                overall[c] = overall.get(c, 0) + v
        rows += _share_rows("workflows", "all", _ordered(overall), "all profiled workflow runs' calls")
    return pl.DataFrame(rows, schema=COST_BREAKDOWN.schema)


def _ordered(calls: dict[str, int]) -> dict[str, int]:
    known = [c for c in WORKFLOW_CATEGORIES if c in calls]
    return {c: calls[c] for c in known + sorted(set(calls) - set(known))}


def share(breakdown: pl.DataFrame, scope: str, subject: str, category: str) -> float | None:
    hit = breakdown.filter(
        (pl.col("scope") == scope) & (pl.col("subject") == subject) & (pl.col("category") == category)
    )
    return hit["share"][0] if hit.height else None
