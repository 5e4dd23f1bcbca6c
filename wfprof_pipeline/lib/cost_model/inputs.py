"""Read the measurements the cost model needs from the warehouse (and the step registry).

Every upstream table is optional: a table not materialized yet becomes an entry in `CostInputs.missing`
(reported in the tables' notes and the report) instead of an exception, so the cost model always
says what it could not compute and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from wfprof_pipeline.lib.corpus import CorpusError
from wfprof_pipeline.lib.cost_model.io_class import JSON_RPC_WRITE_METHODS
from wfprof_pipeline.lib.cost_model.measurements import (
    STEP_MEASUREMENTS_SCHEMA,
    empty_measurements,
    step_measurements,
)
from wfprof_pipeline.lib.workflows.tables import STEP_RUNS

STATIC_COLUMNS = ("cyclomatic_complexity", "lines", "external_calls", "await_expressions", "function_calls")


@dataclass
class RegistryStep:
    step_id: str
    module: str | None
    action_type: str | None
    io_class: str | None
    problem: str | None = None  # why the step cannot be profiled as discovered (not_profiled)


@dataclass
class CostInputs:
    measurements: pl.DataFrame = field(default_factory=empty_measurements)
    static: pl.DataFrame | None = None  # step_id + STATIC_COLUMNS
    package_calls: pl.DataFrame | None = None  # step_id, package, calls
    workflow_calls: pl.DataFrame | None = None  # workflow_id, category, calls
    db_statements_per_run: float | None = None
    latency: pl.DataFrame | None = None  # action_type, n, p5, p25, p50, p75, p95
    fuel_fits: pl.DataFrame | None = None  # workload, fuel_per_op, fixed_fuel, r_squared
    fuel_budgets: pl.DataFrame | None = None
    missing: list[str] = field(default_factory=list)


def registry_steps(steps_root: Path) -> list[RegistryStep]:
    """Every step the profiler knows (discovered and registered), through the one registry loader. A broken
    registry raises (naming the step and field); a steps root that is not there means no registry view."""
    from wfprof_pipeline.lib.registry import NoStepsError, load_for_root

    try:
        registry = load_for_root(steps_root)
    except (CorpusError, NoStepsError):  # measurements without a corpus: priced from the warehouse alone
        return []
    return [RegistryStep(step_id=e.id, module=e.module, action_type=e.action_type, io_class=e.io_class,
                         problem=e.problem) for e in registry.select(None)]


def exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """The table has been materialized (its columns are then the declared ones: lib/*/tables.py)."""
    row = con.execute("select count(*) from duckdb_tables() where schema_name = 'main' and table_name = ?",
                      [table]).fetchone()
    return bool(row and row[0])


def _profiles(con: duckdb.DuckDBPyConnection, missing: list[str]) -> pl.DataFrame | None:
    if not exists(con, "step_profiles"):
        missing.append("step_profiles (no step profiles: every step is listed as missing_profile)")
        return None
    # Harness/shim calls and eval'd code (e.g. the code step's user snippet) are neither own nor packages.
    other = "coalesce(calls_harness, 0) + coalesce(calls_other, 0)"
    # Precise runs give the call counts (median over repeats per phase, then import + execute);
    # the timing run (no profiler) gives wall times; requests come from the execute phase.
    sql = f"""
    with precise as (
        select step_id, phase,
               median(coalesce(calls_own, 0)) own, median(coalesce(calls_packages, 0)) pkgs,
               median(coalesce(calls_node_internals, 0)) node, median({other}) other,
               median(io_operations) io, max(error) err
        from step_profiles where mode = 'precise' and phase in ('import', 'execute') group by step_id, phase
    ), warm as (
        select step_id, median(calls_own + calls_packages + calls_node_internals + {other}) execute_warm_calls,
               median(calls_own + calls_packages) warm_own_packages
        from step_profiles where mode = 'precise' and phase = 'execute_warm' group by step_id
    ), timing as (
        select step_id,
               median(case when phase = 'execute' then duration_ms end) duration_ms,
               median(case when phase = 'import' then module_load_ms end) module_load_ms,
               median(case when phase = 'execute_warm' then cpu_ms end) warm_cpu_ms,
               median(case when phase = 'execute_warm' then duration_ms end) warm_duration_ms
        from step_profiles where mode = 'timing' group by step_id
    ), anyerr as (
        -- a step with no precise row at all still shows its error (from whatever mode ran)
        select step_id, case when count(*) filter (where mode = 'precise') = 0 then max(error) end err,
               median(case when phase = 'execute' then duration_ms end) any_duration
        from step_profiles group by step_id
    )
    select a.step_id,
           count(p.step_id) > 0 as profiled,
           coalesce(max(p.err), a.err) as error,
           sum(p.own)::bigint calls_own, sum(p.pkgs)::bigint calls_packages,
           sum(case when p.phase = 'import' then p.node end)::bigint calls_node_import,
           sum(case when p.phase = 'execute' then p.node end)::bigint calls_node_execute,
           sum(p.other)::bigint calls_other,
           sum(case when p.phase = 'import' then p.own + p.pkgs + p.node + p.other end)::bigint import_calls,
           sum(case when p.phase = 'execute' then p.own + p.pkgs + p.node + p.other end)::bigint execute_calls,
           max(case when p.phase = 'execute' then p.io end)::double io_operations,
           coalesce(max(t.duration_ms), a.any_duration)::double duration_ms,
           max(t.module_load_ms)::double module_load_ms,
           case when count(p.step_id) > 0 then bool_or(p.phase = 'execute') end as executed,
           max(w.execute_warm_calls)::bigint execute_warm_calls, max(w.warm_own_packages)::bigint warm_own_packages,
           max(t.warm_cpu_ms)::double warm_cpu_ms, max(t.warm_duration_ms)::double warm_duration_ms
    from anyerr a left join precise p using (step_id) left join timing t using (step_id)
         left join warm w using (step_id)
    group by a.step_id, a.err, a.any_duration
    """
    frame = con.execute(sql).pl()
    # JSON-RPC methods of the execute phase (step_profiles keeps them comma-separated, per phase).
    frame = frame.join(
        con.execute(
            "select step_id, list(distinct trim(m) order by trim(m)) rpc_methods from (select step_id, "
            "unnest(string_split(rpc_methods, ',')) m from step_profiles where phase = 'execute' "
            "and rpc_methods is not null) where trim(m) <> '' group by step_id"
        ).pl(),
        on="step_id", how="left",
    )
    # Requests of the execute phase that carry a JSON-RPC write: priced at chain_write, the rest at chain_read.
    if exists(con, "step_io_requests"):
        writes = ", ".join(f"'{m}'" for m in sorted(JSON_RPC_WRITE_METHODS))
        frame = frame.join(
            con.execute(
                "select step_id, (count(distinct request_seq) filter (where rpc_method in "
                f"({writes})))::double io_write_operations from step_io_requests where phase = 'execute' "
                "group by step_id"
            ).pl(),
            on="step_id", how="left",
        )
    return frame.join(
        con.execute("select step_id, max(action_type) profile_action_type, max(io_class) profile_io_class "
                    "from step_profiles group by step_id").pl(),
        on="step_id", how="left",
    )


def _platform_import_calls(con: duckdb.DuckDBPyConnection) -> int | None:
    """The shared platform import alone (platform_profiles, precise, every category), if it was measured."""
    if not exists(con, "platform_profiles"):
        return None
    row = con.execute("select median(calls_total) from platform_profiles where mode = 'precise' and "
                      "phase = 'import' and error is null").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _static(con: duckdb.DuckDBPyConnection, missing: list[str]) -> pl.DataFrame | None:
    # Per step with its -core helpers folded in (a helper is not a step).
    if not exists(con, "static_step_metrics"):
        missing.append("static_step_metrics (no static analysis: correlations cannot be computed)")
        return None
    return con.execute(f"select step_id, {', '.join(STATIC_COLUMNS)} from static_step_metrics").pl()


def _package_calls(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    if not exists(con, "step_package_calls"):
        return None
    # Median over repeats per phase, then import + execute, like the step totals.
    return con.execute(
        "select step_id, package, sum(c)::bigint calls from (select step_id, phase, package, median(calls) c "
        "from step_package_calls group by step_id, phase, package) group by step_id, package"
    ).pl()


def _workflow_calls(con: duckdb.DuckDBPyConnection, missing: list[str]) -> tuple[pl.DataFrame | None, float | None]:
    if not exists(con, "workflow_profiles"):
        missing.append("workflow_profiles (no profiled workflow runs: database share not measured)")
        return None, None
    # One subject per workflow: its profiled executions summed; which executor produced the figure (the
    # platform's own, or wfprof's runner) goes with it. Sampling rows carry self time, not calls.
    frame = con.execute(
        "select workflow_id, executor, category, sum(calls)::bigint calls from workflow_profiles "
        "where calls is not null and mode = 'precise' group by all"
    ).pl()
    statements = None
    if exists(con, "workflow_profile_steps"):
        # The runner writes one log row per node, as KeeperHub does: per-node statements per run.
        row = con.execute("select avg(n) from (select execution_id, count(*) n from workflow_profile_steps "
                          "group by execution_id)").fetchone()
        statements = float(row[0]) if row and row[0] is not None else None
    return frame, statements


def _latency(con: duckdb.DuckDBPyConnection, missing: list[str]) -> pl.DataFrame | None:
    if not exists(con, STEP_RUNS.name):
        missing.append("workflow traces (no workflow_step_runs: latency per action type not measured)")
        return None
    return con.execute(
        f"""select action_type, count(*) n, quantile_cont(duration_ms, [0.05, 0.25, 0.5, 0.75, 0.95]) q
        from "{STEP_RUNS.name}" where duration_ms is not null and action_type is not null
             and status in ('success', 'error')
        group by action_type order by action_type"""
    ).pl().with_columns(
        [pl.col("q").list.get(i).alias(name) for i, name in enumerate(("p5", "p25", "p50", "p75", "p95"))]
    ).drop("q")


def read_table(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame | None:
    """The whole table, or None if it does not exist (yet)."""
    return con.execute(f'select * from "{table}"').pl() if exists(con, table) else None


def read_inputs(con: duckdb.DuckDBPyConnection, steps_root: Path | None = None, *,
                latency: bool = True) -> CostInputs:
    """`latency=False` skips the trace percentiles (the one read that grows with the traces: ~0.1–0.5 s at
    1M rows), for callers that do not use them."""
    missing: list[str] = []
    registry = registry_steps(steps_root) if steps_root is not None else []
    profiles = _profiles(con, missing)
    by_id: dict[str, dict[str, object]] = {}
    for r in registry:
        by_id[r.step_id] = {"step_id": r.step_id, "action_type": r.action_type, "declared_io_class": r.io_class,
                            "profiled": False, "not_profiled_reason": r.problem}
    if profiles is not None:
        for row in profiles.iter_rows(named=True):
            entry = by_id.setdefault(row["step_id"], {"step_id": row["step_id"], "profiled": False})
            entry.update({k: v for k, v in row.items() if k in STEP_MEASUREMENTS_SCHEMA and k != "step_id"})
            # The registry is authoritative; the profile's copy fills in when the registry is elsewhere.
            entry["action_type"] = entry.get("action_type") or row.get("profile_action_type")
            entry["declared_io_class"] = entry.get("declared_io_class") or row.get("profile_io_class")
    platform = _platform_import_calls(con)
    for entry in by_id.values():
        entry["platform_import_calls"] = platform
    measurements = step_measurements(by_id.values()) if by_id else empty_measurements()
    workflow_calls, statements = _workflow_calls(con, missing)
    fits = read_table(con, "fuel_fits")
    if fits is None:
        missing.append("fuel_fits (no fuel calibration)")
    return CostInputs(
        measurements=measurements.sort("step_id"),
        static=_static(con, missing),
        package_calls=_package_calls(con),
        workflow_calls=workflow_calls,
        db_statements_per_run=statements,
        latency=_latency(con, missing) if latency else None,
        fuel_fits=fits,
        fuel_budgets=read_table(con, "fuel_budgets"),
        missing=missing,
    )
