"""A small warehouse shaped like the upstream measurement tables, built with real DuckDB for cost tests."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl

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


def build_warehouse(path: Path, *, trace_rows: int = 2_000, seed: int = 7) -> None:
    con = duckdb.connect(str(path))
    con.execute("""create table step_profiles (step_id varchar, mode varchar, phase varchar, calls_own bigint,
        calls_packages bigint, calls_node_internals bigint, calls_harness bigint, io_operations bigint,
        duration_ms double, module_load_ms double, error varchar, rpc_methods varchar[])""")
    con.execute("create table step_package_calls (step_id varchar, phase varchar, package varchar, calls bigint)")
    con.execute("""create table static_metrics (file varchar, plugin varchar, step varchar, lines bigint,
        await_expressions bigint, function_calls bigint, cyclomatic_complexity bigint, external_calls bigint)""")
    for sid, (oi, oe, pi, pe, ni, ne, io, pkg, rpc, cc, lines, _, _) in STEPS.items():
        for phase, own, pkgs, node in (("import", oi, pi, ni), ("execute", oe, pe, ne)):
            con.execute("insert into step_profiles values (?, 'precise', ?, ?, ?, ?, 8, ?, null, null, null, ?)",
                        [sid, phase, own, pkgs, node, io if phase == "execute" else 0, rpc])
            if pkg:
                con.execute("insert into step_package_calls values (?, ?, ?, ?)", [sid, phase, pkg, pkgs])
        con.execute("insert into step_profiles values (?, 'timing', 'execute', null, null, null, null, ?, ?, null,"
                    " null, null)", [sid, io, 10.0 + cc])
        con.execute("insert into step_profiles values (?, 'timing', 'import', null, null, null, null, 0, null, ?,"
                    " null, null)", [sid, 1.0 + ni / 1000])
        plugin, step = sid.split("/")
        con.execute("insert into static_metrics values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [f"plugins/{plugin}/steps/{step}.ts", plugin, step, lines, cc // 3, cc * 4, cc, 1])
    # Shaped like the workflow runner's tables: precise rows carry calls, sampling rows self time only.
    con.execute("""create table workflow_profiles (execution_id varchar, workflow_id varchar, workflow_name varchar,
        mode varchar, status varchar, category varchar, calls bigint, share double, self_ms double)""")
    con.execute("create table workflow_profile_steps (execution_id varchar, workflow_id varchar, node_id varchar)")
    for wf, (db, steps, ex, nodes) in WORKFLOW_CALLS.items():
        for cat, calls in (("database", db), ("step_functions", steps), ("executor", ex), ("node_internals", 20_000)):
            con.execute("insert into workflow_profiles values (?, ?, ?, 'precise', 'success', ?, ?, null, null)",
                        [f"{wf}-x1", wf, wf, cat, calls])
            con.execute("insert into workflow_profiles values (?, ?, ?, 'sampling', 'success', ?, null, null, ?)",
                        [f"{wf}-x2", wf, wf, cat, 99.0])
        for i in range(nodes):
            con.execute("insert into workflow_profile_steps values (?, ?, ?)", [f"{wf}-x1", wf, f"n{i}"])
    con.execute("""create table fuel_fits (workload varchar, fuel_per_op double, fixed_fuel double,
        r_squared double)""")
    for w, f in (("baseline", 0.0), ("arithmetic_add", 410.0), ("property_read", 520.0), ("json_stringify", 3_900.0),
                 ("workflow_sim", 44_000.0)):
        con.execute("insert into fuel_fits values (?, ?, 1800000, 0.9999)", [w, f])
    write_traces(con, trace_rows, seed=seed)
    con.close()


def write_traces(con: duckdb.DuckDBPyConnection, rows: int, *, seed: int = 7) -> None:
    """`rows` step runs with log-normal durations, spread over the fixture's action types."""
    rng = np.random.default_rng(seed)
    actions = np.array(sorted({v[11] for v in STEPS.values()}))
    frame = pl.DataFrame({
        "log_id": [f"log{i}" for i in range(rows)],
        "action_type": actions[rng.integers(0, len(actions), rows)],
        "duration_ms": rng.lognormal(3, 0.8, rows),
    })
    con.register("_traces", frame)
    con.execute("create or replace table workflow_step_runs as select * from _traces")
    con.unregister("_traces")
