"""Step profiling assets (group `steps`): every registered step profiled in fresh Node processes.

One run of the harness feeds four tables, so they are one multi-asset: `step_profiles` (step × mode ×
phase), `step_package_calls`, `step_profile_functions` and `step_io_requests`. The call-count regression
check compares the new deterministic counts with the table's previous materialization.
"""

import dataclasses

import dagster as dg
import polars as pl
from pydantic import Field, field_validator

from wfprof_pipeline.defs.metadata import markdown_table, table_metadata
from wfprof_pipeline.defs.resources import NodeResource, StepCorpusResource, WarehouseResource
from wfprof_pipeline.lib.profiling.platform import profile_platform, shared_modules
from wfprof_pipeline.lib.profiling.regression import compare_counts
from wfprof_pipeline.lib.profiling.runner import ProfileOptions, profile_steps
from wfprof_pipeline.lib.profiling.summary import StepProfileRow, Summary, summarize
from wfprof_pipeline.lib.profiling.tables import (
    IO_REQUESTS,
    PACKAGE_CALLS,
    PLATFORM_PROFILES,
    PROFILE_FUNCTIONS,
    STEP_PROFILES,
)
from wfprof_pipeline.lib.registry import StepRegistry, load_for_root

GROUP = "step_profiles"

class StepProfilingConfig(dg.Config):
    """Knobs of the nightly profile. Exact counts are checked for determinism across `repeat` fresh
    processes (2 by default: the smallest number that can disagree); timings use `timing_repeat`."""

    modes: list[str] = Field(default=["precise", "timing"], min_length=1, max_length=3)
    repeat: int = Field(default=2, ge=1, le=20)
    timing_repeat: int = Field(default=1, ge=1, le=20)
    timeout_s: float = Field(default=60.0, gt=0, le=3600, allow_inf_nan=False)
    # warm executions after the cold one (0 = none); a registry entry may override
    warm_runs: int = Field(default=5, ge=0, le=100)
    heap_mb: int = Field(default=1024, ge=64, le=65536)
    jobs: int = Field(default=0, ge=0, le=64)  # 0 = one process per core
    # None = every registered step
    steps: list[str] | None = Field(default=None, max_length=1000)
    regression_warn_pct: float = Field(default=10.0, ge=0, le=10_000, allow_inf_nan=False)

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, modes: list[str]) -> list[str]:
        unknown = [m for m in modes if m not in ("precise", "sampling", "timing")]
        if unknown:
            raise ValueError(f"unknown mode {unknown[0][:40]!r}: use precise, sampling or timing")
        return modes

    @field_validator("steps")
    @classmethod
    def _step_ids(cls, steps: list[str] | None) -> list[str] | None:
        if steps and any(not 0 < len(s) <= 200 for s in steps):
            raise ValueError("a step id has 1 to 200 characters")
        return steps


def _profile_frame(rows: list[StepProfileRow], registry: StepRegistry) -> pl.DataFrame:
    records = []
    for r in rows:
        entry = registry.steps.get(r.step_id)
        record = dataclasses.asdict(r)
        record["action_type"] = entry.action_type if entry else None
        record["io_class"] = entry.io_class if entry else None
        records.append(record)
    return STEP_PROFILES.frame(records)


def _deterministic_counts(frame: pl.DataFrame) -> dict[tuple[str, str], int]:
    # A phase whose own runs disagreed (ethers' warm balance read) is no baseline for a regression.
    precise = frame.filter(
        (pl.col("mode") == "precise") & pl.col("error").is_null() & pl.col("calls_own").is_not_null()
        & pl.col("deterministic").fill_null(True)
    )
    return {
        (s, p): int(own + pkg)
        for s, p, own, pkg in precise.select("step_id", "phase", "calls_own", "calls_packages").iter_rows()
    }


def _previous_counts(warehouse: WarehouseResource) -> dict[tuple[str, str], int] | None:
    with warehouse.connect() as con:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = 'step_profiles'"
        ).fetchone()
        if not exists or not exists[0]:
            return None
        return _deterministic_counts(con.sql("select * from step_profiles").pl())


@dg.multi_asset(
    group_name=GROUP,
    pool="duckdb",
    specs=[
        dg.AssetSpec(
            "step_profiles",
            description="One row per step × mode × phase: calls by category (own, packages, Node internals, "
            "harness), I/O requests served by the stub, JSON-RPC methods, wall time, module load time, heap "
            "delta, samples, and whether exact counts were identical across fresh processes.",
            kinds={"duckdb", "nodejs"},
            metadata=table_metadata(STEP_PROFILES),
            deps=["step_sources"],
        ),
        dg.AssetSpec(
            "platform_profiles",
            description="The platform baseline: the modules every step imports (or the registry's [platform] "
            "modules), imported alone in fresh processes — what a worker pays once, whatever it runs. Same "
            "columns as step_profiles (step_id '(platform)', phase import) plus `modules`.",
            kinds={"duckdb", "nodejs"},
            metadata=table_metadata(PLATFORM_PROFILES),
            deps=["step_sources"],
        ),
        dg.AssetSpec(
            "step_package_calls",
            description="Calls per npm package, per step and phase (precise mode, median of the runs).",
            kinds={"duckdb", "nodejs"},
            metadata=table_metadata(PACKAGE_CALLS),
            deps=["step_sources"],
        ),
        dg.AssetSpec(
            "step_profile_functions",
            description="Top functions per step, mode and phase: by call count (precise) or self time "
            "(sampling), with category, package, file and line.",
            kinds={"duckdb", "nodejs"},
            metadata=table_metadata(PROFILE_FUNCTIONS),
            deps=["step_sources"],
        ),
        dg.AssetSpec(
            "step_io_requests",
            description="Every request a step made to the canned-response stub, one row per JSON-RPC call "
            "in a batch: method, path, rpc_method. Chain reads vs writes show here (eth_sendRawTransaction).",
            kinds={"duckdb", "nodejs"},
            metadata=table_metadata(IO_REQUESTS),
            deps=["step_sources"],
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "call_count_regression",
            asset="step_profiles",
            description="Deterministic calls (own + packages, precise mode) per step and phase did not grow "
            "by more than the configured percentage since the previous materialization.",
        )
    ],
)
def step_profiling(
    context: dg.AssetExecutionContext,
    config: StepProfilingConfig,
    step_corpus: StepCorpusResource,
    node: NodeResource,
    warehouse: WarehouseResource,
):
    registry = load_for_root(step_corpus.resolved_root())
    options = ProfileOptions(
        modes=tuple(config.modes),
        repeat=config.repeat,
        mode_repeat={"timing": config.timing_repeat},
        timeout_s=config.timeout_s,
        warm_runs=config.warm_runs,
        heap_mb=config.heap_mb,
        jobs=config.jobs or None,
        node=node.resolved_executable(),
    )
    results = profile_steps(registry, config.steps, options)
    summary: Summary = summarize(results)
    profiles = _profile_frame(summary.profiles, registry)
    modules = shared_modules(registry)
    platform_summary = summarize(profile_platform(registry, modules, options))
    platform = _profile_frame(platform_summary.profiles, registry).with_columns(
        pl.lit(", ".join(modules)).alias("modules"))
    previous = _previous_counts(warehouse)

    counts = {
        "step_profiles": warehouse.replace_table(STEP_PROFILES, profiles),
        "platform_profiles": warehouse.replace_table(PLATFORM_PROFILES, PLATFORM_PROFILES.conform(platform)),
        "step_package_calls": warehouse.replace_table(PACKAGE_CALLS, PACKAGE_CALLS.frame(summary.package_calls)),
        "step_profile_functions": warehouse.replace_table(PROFILE_FUNCTIONS,
                                                          PROFILE_FUNCTIONS.frame(summary.functions)),
        "step_io_requests": warehouse.replace_table(IO_REQUESTS, IO_REQUESTS.frame(summary.io_requests)),
    }
    failed = sorted({r.step_id for r in results if r.failed})
    if failed:
        context.log.warning(f"{len(failed)} step(s) failed; see the `error` column: {', '.join(failed)}")
    nondeterministic = profiles.filter(pl.col("deterministic") == False).select("step_id").unique()  # noqa: E712

    precise = profiles.filter(pl.col("mode") == "precise").sort("step_id", "phase")
    table = precise.select("step_id", "phase", "calls_own", "calls_packages", "calls_node_internals",
                           "io_operations", "error")
    yield dg.MaterializeResult(
        asset_key="step_profiles",
        metadata={
            "dagster/row_count": counts["step_profiles"],
            "steps": len({r.step_id for r in results}),
            "failed_steps": ", ".join(failed) or "none",
            "nondeterministic_steps": ", ".join(nondeterministic["step_id"].to_list()) or "none",
            "node_version": next((r.node_version for r in results if r.node_version), "unknown"),
            "precise_counts": dg.MetadataValue.md(markdown_table(table, limit=200)),
        },
    )
    baseline = platform.filter((pl.col("mode") == "precise") & pl.col("error").is_null())
    yield dg.MaterializeResult(asset_key="platform_profiles", metadata={
        "dagster/row_count": counts["platform_profiles"],
        "modules": ", ".join(modules) or "none (no module is imported by every step)",
        "import_calls": int(baseline["calls_total"].max() or 0) if baseline.height else 0,
        "import_calls_own_packages": int((baseline["calls_own"] + baseline["calls_packages"]).max() or 0)
        if baseline.height else 0,
        "error": str(platform["error"].drop_nulls().first()) if platform["error"].drop_nulls().len() else "none",
    })
    for key in ("step_package_calls", "step_profile_functions", "step_io_requests"):
        yield dg.MaterializeResult(asset_key=key, metadata={"dagster/row_count": counts[key]})

    if previous is None:
        yield dg.AssetCheckResult(
            check_name="call_count_regression", asset_key="step_profiles", passed=True,
            metadata={"previous": "none: first materialization"},
        )
        return
    regressions, changes = compare_counts(previous, _deterministic_counts(profiles), config.regression_warn_pct)
    yield dg.AssetCheckResult(
        check_name="call_count_regression",
        asset_key="step_profiles",
        passed=not regressions,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "threshold_pct": config.regression_warn_pct,
            "regressions": "; ".join(c.describe() for c in regressions) or "none",
            "changes": "; ".join(c.describe() for c in changes) or "none",
        },
    )

