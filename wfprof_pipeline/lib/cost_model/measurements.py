"""The per-step measurement frame every cost-model function reads (one row per step).

`inputs.py` builds it from the warehouse; tests build it by hand (e.g. from the seed's figures).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

STEP_MEASUREMENTS_SCHEMA: dict[str, pl.DataType] = {
    "step_id": pl.Utf8,
    "action_type": pl.Utf8,  # KeeperHub action type from the registry (None = unknown)
    "declared_io_class": pl.Utf8,  # io_class declared in the registry, if any
    "profiled": pl.Boolean,  # a precise profile exists for the step
    "error": pl.Utf8,  # the profile's error, if the step failed to run
    "calls_own": pl.Int64,  # import + execute, the step's own code
    "calls_packages": pl.Int64,  # import + execute, npm packages
    "calls_node_import": pl.Int64,  # Node internals, import phase (not reproducible)
    "calls_node_execute": pl.Int64,  # Node internals, execute phase (reproducible)
    "calls_other": pl.Int64,  # harness and anything uncategorized
    "import_calls": pl.Int64,  # all categories, import phase
    "execute_calls": pl.Int64,  # all categories, the first (cold) execution
    "execute_warm_calls": pl.Int64,  # all categories, per warm execution (median); None: no warm phase
    "warm_own_packages": pl.Int64,  # own + packages per warm execution (deterministic)
    "platform_import_calls": pl.Int64,  # the shared platform import alone (every category; None: none)
    "warm_cpu_ms": pl.Float64,  # CPU ms per warm execution (timing run)
    "warm_duration_ms": pl.Float64,  # wall ms per warm execution (timing run)
    "io_operations": pl.Float64,  # requests served per execution
    "io_write_operations": pl.Float64,  # of those, requests carrying a JSON-RPC write (None = not measured)
    "duration_ms": pl.Float64,  # execute wall time (timing run, median)
    "module_load_ms": pl.Float64,
    "rpc_methods": pl.List(pl.Utf8),  # JSON-RPC methods the step called
    "executed": pl.Boolean,  # the profile has an execute phase (False: import only; None: not recorded)
    "not_profiled_reason": pl.Utf8,  # why the registry cannot run the step (no export found, module missing)
}


def step_measurements(rows: Iterable[Mapping[str, object]]) -> pl.DataFrame:
    """A measurement frame from dicts; missing keys are null (an unprofiled step has only step_id)."""
    filled = [{name: row.get(name) for name in STEP_MEASUREMENTS_SCHEMA} for row in rows]
    for row in filled:
        if row["profiled"] is None:
            row["profiled"] = row["calls_own"] is not None or row["calls_packages"] is not None
    return pl.DataFrame(filled, schema=STEP_MEASUREMENTS_SCHEMA)


def empty_measurements() -> pl.DataFrame:
    return pl.DataFrame(schema=STEP_MEASUREMENTS_SCHEMA)
