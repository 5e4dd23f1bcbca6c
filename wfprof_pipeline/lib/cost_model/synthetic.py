"""A small synthetic warehouse shaped like the measurement tables (built from their declarations), for the cost
model's tests and benchmark: seven steps with known call counts, two profiled workflows, fuel fits and traces."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from wfprof_pipeline.lib.fuel.tables import FUEL_FITS
from wfprof_pipeline.lib.profiling.tables import PACKAGE_CALLS, STEP_PROFILES
from wfprof_pipeline.lib.static.tables import STATIC_STEP_METRICS
from wfprof_pipeline.lib.tables import Table
from wfprof_pipeline.lib.workflows.ingest import ensure_tables
from wfprof_pipeline.lib.workflows.profiles import WORKFLOW_PROFILE_STEPS, WORKFLOW_PROFILES
from wfprof_pipeline.lib.workflows.tables import STEP_RUNS

# step id → (own import, own exec, packages import, packages exec, node import, node exec, io ops,
#            package, rpc methods, cyclomatic complexity, lines, action type, declared io class)
STEPS: dict[str, tuple] = {
    "webhook/send-webhook": (1, 1, 0, 0, 364, 2_473, 1, None, [], 6, 60, "webhook/send-webhook", "http"),
    "slack/send-message": (5, 9, 181, 422, 47_800, 2_454, 1, "@slack/web-api", [], 4, 45, "slack/send-message",
                           "chat"),
    "resend/send-email": (4, 6, 26, 44, 10_970, 2_660, 1, "resend", [], 9, 80, "resend/send-email", None),
    "sendgrid/send-email": (8, 10, 3_014, 2_274, 34_220, 1_692, 1, "@sendgrid/mail", [], 3, 40,
                            "sendgrid/send-email", None),
    "web3/check-balance": (12, 20, 3_644, 3_380, 101_030, 1_471, 2, "ethers", ["eth_chainId", "eth_getBalance"],
                           12, 110, "web3/check-balance", None),
    "web3/check-balance-viem": (9, 14, 60_058, 113, 287_664, 2_474, 1, "viem", ["eth_getBalance"], 7, 70,
                                "web3/check-balance", None),
    "web3/transfer-funds": (30, 50, 3_626, 405_038, 101_000, 7_000, 9, "ethers",
                            ["eth_chainId", "eth_estimateGas", "eth_sendRawTransaction"], 15, 150,
                            "web3/transfer-funds", None),
}
UNPROFILED = "discord/send-message"
# workflow → (database, step function, executor calls, nodes per run) of one precise profiled run
WORKFLOW_CALLS = {"wf-alerts": (9_000, 60_000, 3_000, 3), "wf-payout": (12_000, 500_000, 4_000, 5)}


def write_registry(root: Path) -> Path:
    lines = []
    for sid, v in {**STEPS, UNPROFILED: (None,) * 11 + ("discord/send-message", "chat")}.items():
        plugin, step = sid.split("/")
        module = root / "plugins" / plugin / "steps" / f"{step}.ts"  # the registry names real files
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text("export async function runStep() { return { success: true }; }\n")
        lines.append(f'[steps."{sid}"]\nmodule = "plugins/{plugin}/steps/{step}.ts"\nexport = "runStep"\n'
                     f'action_type = "{v[11]}"\n' + (f'io_class = "{v[12]}"\n' if v[12] else ""))
    path = root / "registry.toml"
    path.write_text("\n".join(lines))
    return path


def insert_rows(con: duckdb.DuckDBPyConnection, table: Table, rows: list[dict]) -> None:
    """Rows into `table` created from its declaration (columns a row leaves out are null)."""
    con.execute(table.ddl())
    if rows:
        con.register("_rows", table.frame(rows))
        con.execute(f'insert into "{table.name}" by name select * from _rows')
        con.unregister("_rows")


def build_warehouse(path: Path, *, trace_rows: int = 2_000, seed: int = 7) -> None:
    con = duckdb.connect(str(path))
    profiles, packages, static = [], [], []
    for sid, (oi, oe, pi, pe, ni, ne, io, pkg, rpc, cc, lines, _, _) in STEPS.items():
        for phase, own, pkgs, node in (("import", oi, pi, ni), ("execute", oe, pe, ne)):
            profiles.append({"step_id": sid, "mode": "precise", "phase": phase, "calls_own": own,
                             "calls_packages": pkgs, "calls_node_internals": node, "calls_harness": 8,
                             "io_operations": io if phase == "execute" else 0,
                             "rpc_methods": (",".join(rpc) or None) if phase == "execute" else None})
            if pkg:
                packages.append({"step_id": sid, "phase": phase, "package": pkg, "calls": pkgs})
        profiles.append({"step_id": sid, "mode": "timing", "phase": "execute", "io_operations": io,
                         "duration_ms": 10.0 + cc})
        profiles.append({"step_id": sid, "mode": "timing", "phase": "import", "io_operations": 0,
                         "module_load_ms": 1.0 + ni / 1000})
        static.append({"step_id": sid, "file": f"plugins/{sid}.ts", "lines": lines, "await_expressions": cc // 3,
                       "function_calls": cc * 4, "cyclomatic_complexity": cc, "external_calls": 1})
    insert_rows(con, STEP_PROFILES, profiles)
    insert_rows(con, PACKAGE_CALLS, packages)
    insert_rows(con, STATIC_STEP_METRICS, static)
    # Shaped like the workflow runner's tables: precise rows carry calls, sampling rows self time only.
    workflow_rows, step_rows = [], []
    for wf, (db, steps, ex, nodes) in WORKFLOW_CALLS.items():
        for cat, calls in (("database", db), ("step_functions", steps), ("executor", ex), ("node_internals", 20_000)):
            workflow_rows.append({"execution_id": f"{wf}-x1", "workflow_id": wf, "workflow_name": wf,
                                  "mode": "precise", "executor": "wfprof", "status": "success", "category": cat,
                                  "calls": calls})
            workflow_rows.append({"execution_id": f"{wf}-x2", "workflow_id": wf, "workflow_name": wf,
                                  "mode": "sampling", "executor": "wfprof", "status": "success", "category": cat,
                                  "self_ms": 99.0})
        step_rows += [{"execution_id": f"{wf}-x1", "workflow_id": wf, "node_id": f"n{i}"} for i in range(nodes)]
    insert_rows(con, WORKFLOW_PROFILES, workflow_rows)
    insert_rows(con, WORKFLOW_PROFILE_STEPS, step_rows)
    insert_rows(con, FUEL_FITS, [{"workload": w, "fuel_per_op": f, "fixed_fuel": 1_800_000, "r_squared": 0.9999}
                             for w, f in (("baseline", 0.0), ("arithmetic_add", 410.0), ("property_read", 520.0),
                                          ("json_stringify", 3_900.0), ("workflow_sim", 44_000.0))])
    write_traces(con, trace_rows, seed=seed)
    con.close()


def write_traces(con: duckdb.DuckDBPyConnection, rows: int, *, seed: int = 7) -> None:
    """`rows` step runs with log-normal durations, spread over the fixture's action types."""
    rng = np.random.default_rng(seed)
    actions = np.array(sorted({v[11] for v in STEPS.values()}))
    frame = pl.DataFrame({
        "log_id": [f"log{i}" for i in range(rows)],
        "action_type": actions[rng.integers(0, len(actions), rows)],
        "status": "success",
        "duration_ms": rng.lognormal(3, 0.8, rows),
    })
    ensure_tables(con)  # the trace tables as ingest declares them
    con.register("_traces", frame)
    con.execute(f'delete from "{STEP_RUNS.name}"')
    con.execute(f'insert into "{STEP_RUNS.name}" by name select * from _traces')
    con.unregister("_traces")
