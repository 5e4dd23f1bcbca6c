"""Real workflows through the real Node runner: real PostgreSQL, real npm SDKs, canned I/O on loopback.

One demo database is seeded per module (the demo workflows, each run with its demo inputs); the tests
then profile, break and query it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.keeperhub import KeeperHub
from wfprof_pipeline.lib.registry import load_for_root
from wfprof_pipeline.lib.workflows import demo, plan, runner
from wfprof_pipeline_tests.conftest import PROJECT_ROOT

REGISTRY = load_for_root(PROJECT_ROOT / "data" / "steps")
RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def seeded(embedded_pg: postgres.EmbeddedPostgres):
    """A database holding the demo workflows and the executions `demo.seed` ran (once per module)."""
    name = "wfprof_runs_test"
    admin = embedded_pg.url("postgres")
    with postgres.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    url = embedded_pg.url(name)
    result = demo.seed(url, REGISTRY)
    yield url, result
    with postgres.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wf-build")


def _job(url: str, workflow_id: str, build: Path) -> dict:
    with postgres.connect(url, autocommit=True) as conn:
        workflow = KeeperHub.over(conn).workflow(workflow_id)
    return plan.build_job(workflow, REGISTRY, build)


def test_demo_seed_runs_every_definition_for_real(seeded):
    url, result = seeded
    definitions = demo.load_definitions()
    assert len(definitions) >= 5
    assert result.workflows == len(definitions)
    assert result.executions == sum(len(d.demo_runs) for d in definitions)
    # Exactly the runs whose notes say they fail (bad address, transfer above the balance) fail.
    assert result.failed_executions == sum(1 for d in definitions for r in d.demo_runs if r.note and "fails" in r.note)
    with postgres.connect(url) as conn:
        statuses = dict(conn.execute("select status, count(*) from workflow_executions group by 1").fetchall())
        assert statuses == {"success": result.executions - result.failed_executions, "error": result.failed_executions}
        logs = conn.execute(
            "select count(*), count(*) filter (where duration ~ '^[0-9]+$') from workflow_execution_logs"
        )
        total, numeric = logs.fetchone()
        assert total > result.executions and numeric == total
        # Every action type of every definition ran at least once.
        ran = {r[0] for r in conn.execute("select distinct node_type from workflow_execution_logs").fetchall()}
    used = {n["data"]["config"]["actionType"] for d in definitions for n in d.nodes if n["data"]["type"] == "action"}
    assert used <= ran
    again = demo.seed(url, REGISTRY)
    assert again.skipped  # a second seed (a second `wfprof run`) adds nothing


def test_profiled_run_writes_rows_like_keeperhub_and_splits_calls(seeded, build_dir):
    url, _ = seeded
    job = _job(url, "wf_payout_discord", build_dir)
    doc = runner.run(job, url, mode="precise", workflow_input={"recipient": RECIPIENT, "amount": "0.01"})
    (run,) = doc.runs
    assert run.status == "success", run.error
    with postgres.connect(url) as conn:
        ex = conn.execute(
            "select status, total_steps, completed_steps, current_node_id, duration, completed_at is not null, input "
            "from workflow_executions where id = %s",
            (run.executionId,),
        ).fetchone()
        logs = conn.execute(
            "select node_id, node_type, status, duration, output is not null from workflow_execution_logs "
            "where execution_id = %s order by started_at",
            (run.executionId,),
        ).fetchall()
    assert ex[:4] == ("success", "3", "3", "announce") and ex[5]
    assert int(ex[4]) >= 1 and ex[6] == {"recipient": RECIPIENT, "amount": "0.01"}
    assert [(r[0], r[1], r[2]) for r in logs] == [
        ("trigger", "trigger", "success"),
        ("transfer", "web3/transfer-funds", "success"),
        ("announce", "discord/send-message", "success"),
    ]
    assert all(r[3].isdigit() and r[4] for r in logs)

    calls = run.calls.model_dump()
    assert calls["database"] > 1000 and calls["step_functions"] > 100_000 and calls["node_internals"] > 0
    transfer = next(n for n in run.nodes if n.nodeId == "transfer")
    # ethers signing (@noble/curves) is the bulk of a transfer, and it is charged to that node.
    assert transfer.calls.step_functions > 0.95 * calls["step_functions"]
    assert transfer.ioRequests >= 5  # chainId, nonce, gas, block, send, receipt (some batched)
    assert transfer.stepId == "web3/transfer-funds"
    per_node = sum(sum(n.calls.model_dump().values()) for n in run.nodes)
    assert 0 < per_node < run.totalCalls  # connect / execution rows are the run's, not a node's
    assert doc.topFunctions and doc.topFunctions[0].category == "step_functions"

    # The step's own + package calls are exact: a second fresh run counts the same.
    again = runner.run(job, url, mode="precise", workflow_input={"recipient": RECIPIENT, "amount": "0.01"})
    again_transfer = next(n for n in again.runs[0].nodes if n.nodeId == "transfer")
    assert again_transfer.calls.step_functions == transfer.calls.step_functions


def test_step_failing_mid_workflow_stops_there_and_fails_the_execution(seeded, build_dir):
    url, _ = seeded
    job = _job(url, "wf_payout_discord", build_dir)
    doc = runner.run(job, url, mode="sampling", workflow_input={"recipient": RECIPIENT, "amount": "5"})
    (run,) = doc.runs
    assert run.status == "error" and run.failedNodeId == "transfer"
    assert "Insufficient balance" in run.error
    assert [n.nodeId for n in run.nodes] == ["trigger", "transfer"]  # announce never ran
    assert sum(run.selfMs.model_dump().values()) > 0  # sampling mode: self time, not calls
    with postgres.connect(url) as conn:
        ex = conn.execute(
            "select status, completed_steps, error from workflow_executions where id = %s", (run.executionId,)
        ).fetchone()
        logs = conn.execute(
            "select node_id, status, error from workflow_execution_logs where execution_id = %s order by started_at",
            (run.executionId,),
        ).fetchall()
    assert ex[0] == "error" and ex[1] == "1" and "Insufficient balance" in ex[2]
    assert [(r[0], r[1]) for r in logs] == [("trigger", "success"), ("transfer", "error")]


def _insert_workflow(url: str, wid: str, nodes: list, edges: list) -> None:
    with postgres.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into workflows (id, name, user_id, nodes, edges) values (%s, %s, 'u', %s, %s) "
            "on conflict (id) do update set nodes = excluded.nodes, edges = excluded.edges",
            (wid, wid, json.dumps(nodes), json.dumps(edges)),
        )


def _node(nid: str, kind: str = "action", action: str = "webhook/send-webhook") -> dict:
    config = {"actionType": action} if kind == "action" else {}
    return {"id": nid, "data": {"label": nid, "type": kind, "config": config}}


@pytest.mark.parametrize(
    ("nodes", "edges", "error"),
    [
        ([_node("t", "trigger"), _node("a", action="ftp/upload")], [("t", "a")], "action type.*ftp/upload"),
        ([_node("t", "trigger"), _node("a"), _node("b")], [("t", "a"), ("a", "b"), ("b", "a")], "cycle: a -> b -> a"),
        ([_node("t", "trigger"), _node("a")], [("t", "a"), ("a", "ghost")], "missing node.*ghost"),
    ],
    ids=["unknown-action-type", "cycle", "dangling-edge"],
)
def test_unrunnable_workflows_are_refused_before_anything_runs(seeded, build_dir, nodes, edges, error):
    url, _ = seeded
    wid = f"wf_bad_{error[:5]}"
    _insert_workflow(url, wid, nodes, [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in edges])
    with postgres.connect(url) as conn:
        before = conn.execute("select count(*) from workflow_executions").fetchone()[0]
        with pytest.raises(runner.WorkflowRunError, match=error):
            plan.build_job(KeeperHub.over(conn).workflow(wid), REGISTRY, build_dir)
        assert conn.execute("select count(*) from workflow_executions").fetchone()[0] == before


def test_ids_carrying_sql_are_just_unknown_ids(seeded, build_dir):
    url, _ = seeded
    evil = "x'; drop table workflows; --"
    with postgres.connect(url) as conn, pytest.raises(runner.UnknownWorkflow, match="unknown workflow id"):
        KeeperHub.over(conn).workflow(evil)
    job = _job(url, "wf_order_email", build_dir)
    # Straight to runner.run (no CLI pre-check): parameters, never string-built SQL.
    with pytest.raises(runner.WorkflowRunError, match="unknown execution id"):
        runner.run(job, url, mode="none", execution_id=evil)
    with pytest.raises(runner.WorkflowRunError, match="unknown workflow id"):
        runner.run(job.model_copy(update={"workflowId": evil}), url, mode="none")
    with postgres.connect(url) as conn:
        assert conn.execute("select count(*) from workflows").fetchone()[0] >= 6


def test_runner_reports_an_unreachable_database(seeded, build_dir):
    url, _ = seeded
    job = _job(url, "wf_order_email", build_dir)
    with pytest.raises(runner.WorkflowRunError, match="cannot connect to PostgreSQL"):
        runner.run(job, "postgresql://nobody:pw@127.0.0.1:9/keeperhub", mode="none")


def test_runner_over_tcp_on_the_machines_postgres(seeded, build_dir, system_db):
    """node-postgres over TCP (the embedded server is a unix socket `?host=` URL, used everywhere else)."""
    url, _ = seeded
    with postgres.connect(system_db, autocommit=True) as conn:
        demo.install(KeeperHub.over(conn), demo.load_definitions())
        workflow = KeeperHub.over(conn).workflow("wf_order_email")
    job = plan.build_job(workflow, REGISTRY, build_dir)
    doc = runner.run(job, system_db, mode="none", workflow_input={"orderId": "o1", "email": "a@example.com"})
    assert doc.runs[0].status == "success"
    with postgres.connect(system_db) as conn:
        assert conn.execute("select count(*) from workflow_execution_logs").fetchone()[0] == 2


def test_cli_honours_the_seed_variables(seeded, tmp_path):
    url, _ = seeded
    with postgres.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into workflow_executions (id, workflow_id, user_id, status, input) values "
            "('exec_cli_1', 'wf_order_email', 'user_demo', 'pending', %s)",
            (json.dumps({"orderId": "o9", "email": "z@example.com", "items": 1, "total": 5}),),
        )
    out = tmp_path / "profile.json"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WORKFLOW_ID": "wf_order_email",
        "EXECUTION_ID": "exec_cli_1",
        "PRECISE_COVERAGE": "true",
        "PROFILE_OUTPUT": str(out),
        "PROFILE_TOP_N": "3",
        "PROFILE_DETAIL": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "wfprof_pipeline.cli", "profile-workflow"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "exec_cli_1: success" in proc.stdout and "database" in proc.stdout
    doc = runner.RunnerDocument.model_validate_json(out.read_text())
    assert doc.mode == "precise" and doc.runs[0].executionId == "exec_cli_1" and len(doc.topFunctions) == 3
    with postgres.connect(url) as conn:
        row = conn.execute("select status, completed_steps from workflow_executions where id = 'exec_cli_1'").fetchone()
    assert row == ("success", "2")

    # A finished execution is not run again (that would overwrite it and duplicate its log rows),
    # neither through the CLI nor straight through the Node runner.
    again = subprocess.run(
        [sys.executable, "-m", "wfprof_pipeline.cli", "profile-workflow"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 2 and "'exec_cli_1' is success, not pending" in again.stderr, again.stderr
    with pytest.raises(runner.WorkflowRunError, match="is success, not pending"):
        runner.run(_job(url, "wf_order_email", tmp_path), url, mode="none", execution_id="exec_cli_1")
    with postgres.connect(url) as conn:
        logs = conn.execute("select count(*) from workflow_execution_logs where execution_id = 'exec_cli_1'")
        assert logs.fetchone()[0] == 2

    bad = subprocess.run(
        [sys.executable, "-m", "wfprof_pipeline.cli", "profile-workflow", "--workflow-id", "nope"],
        env={**os.environ, "DATABASE_URL": url},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "unknown workflow id 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    assert "known ids: " in bad.stderr and "wf_order_email" in bad.stderr  # says which ones exist


def test_workflow_profiles_asset_writes_categories_and_steps(seeded, warehouse_path):
    import dagster as dg
    import duckdb

    from wfprof_pipeline.defs.resources import KeeperHubDatabase, NodeResource, StepCorpusResource, WarehouseResource
    from wfprof_pipeline.defs.workflow_profiles.assets import workflow_profiles

    url, _ = seeded
    resources = {
        "keeperhub_db": KeeperHubDatabase.pinned(url=url),
        "warehouse": WarehouseResource.pinned(path=str(warehouse_path)),
        "step_corpus": StepCorpusResource.pinned(root=str(PROJECT_ROOT / "data" / "steps")),
        "node": NodeResource(),
    }
    # wf_balance_watch has a code node: its user code runs on this host only when allowed (not the demo DB here).
    guarded = {"ops": {"workflow_profiles": {"config": {"workflow_ids": ["wf_balance_watch", "wf_latency_digest"]}}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize([workflow_profiles], resources=resources, instance=instance, run_config=guarded)
    assert result.success
    (materialization,) = [m for m in result.asset_materializations_for_node("workflow_profiles")
                          if m.asset_key.to_user_string() == "workflow_profiles"]
    assert materialization.metadata["skipped_user_code_workflows"].value == "wf_balance_watch"
    with duckdb.connect(str(warehouse_path)) as con:
        assert con.execute("select distinct workflow_id from workflow_profiles").fetchall() == [("wf_latency_digest",)]

    # Allowing user code is the environment's decision (WFPROF_RUN_USER_CODE), never run config's.
    config = {"ops": {"workflow_profiles": {"config": {"workflow_ids": ["wf_balance_watch", "wf_latency_digest"]}}}}
    with dg.instance_for_test() as instance, pytest.MonkeyPatch.context() as mp:
        mp.setenv("WFPROF_RUN_USER_CODE", "true")
        result = dg.materialize([workflow_profiles], resources=resources, instance=instance, run_config=config)
    assert result.success
    with duckdb.connect(str(warehouse_path)) as con:
        shares = con.execute(
            "select workflow_id, sum(share), count(*), min(status) from workflow_profiles group by 1 order by 1"
        ).fetchall()
        steps = con.execute(
            "select workflow_id, node_id, action_type, status, calls_total, "
            "calls_database + calls_step_functions + calls_external_api + calls_executor + calls_node_internals"
            " + calls_other from workflow_profile_steps order by workflow_id, position"
        ).fetchall()
    assert [(w, round(s, 6), n, st) for w, s, n, st in shares] == [
        ("wf_balance_watch", 1.0, 6, "success"),
        ("wf_latency_digest", 1.0, 6, "success"),
    ]
    assert [s[1] for s in steps if s[0] == "wf_latency_digest"] == ["trigger", "aggregate", "mail", "post"]
    assert all(s[3] == "success" and s[4] == s[5] and s[4] > 0 for s in steps)

    # When no selected workflow can be profiled the asset fails and the previous profiles stay.
    edge = {"id": "t-a", "source": "t", "target": "a"}
    _insert_workflow(url, "wf_unprofilable", [_node("t", "trigger"), _node("a", action="ftp/upload")], [edge])
    broken = {"ops": {"workflow_profiles": {"config": {"workflow_ids": ["wf_unprofilable"]}}}}
    with dg.instance_for_test() as instance:
        failed = dg.materialize(
            [workflow_profiles], resources=resources, instance=instance, run_config=broken, raise_on_error=False
        )
    assert not failed.success
    with duckdb.connect(str(warehouse_path)) as con:
        assert con.execute("select count(*) from workflow_profiles").fetchone()[0] == 12


def test_profile_targets_ignore_executions_wfprof_profiled(seeded):

    url, _ = seeded
    with postgres.connect(url, autocommit=True) as conn:
        least = conn.execute(
            "select workflow_id from workflow_executions where id not like 'wfprof-prof-%' "
            "group by 1 order by count(*), 1 limit 1"
        ).fetchone()[0]
        # Many profiled runs of the least-executed workflow, the latest with an input of their own.
        conn.execute(
            "insert into workflow_executions (id, workflow_id, user_id, status, input, started_at) "
            "select 'wfprof-prof-t' || g, %s, 'u', 'success', '{\"profiled\": true}', now() + g * interval '1 s' "
            "from generate_series(1, 40) g",
            (least,),
        )
        top = KeeperHub.over(conn).profile_targets([], 1)
        (own,) = KeeperHub.over(conn).profile_targets([least], 1)
    assert top[0][0] != least
    assert own[1] != {"profiled": True}


def test_demo_seed_command_is_idempotent(seeded):
    url, _ = seeded
    proc = subprocess.run(
        [sys.executable, "-m", "wfprof_pipeline.cli", "demo", "seed"],
        env={**os.environ, "DATABASE_URL": url},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "already has executions; nothing done" in proc.stdout


def test_profiled_executions_stay_out_of_the_traces(seeded, build_dir):
    import duckdb

    from wfprof_pipeline.lib.workflows import ingest

    url, result = seeded
    job = _job(url, "wf_order_email", build_dir)
    doc = runner.run(job, url, mode="precise", workflow_input={"orderId": "o2", "email": "b@example.com"})
    profiled = doc.runs[0].executionId
    assert profiled.startswith("wfprof-prof-")
    with postgres.connect(url) as conn:
        days = ingest.days_with_data(conn)
        with duckdb.connect() as con:
            for day in days:
                ingest.ingest_day(conn, con, day)
            ids = {r[0] for r in con.execute("select execution_id from workflow_executions").fetchall()}
            step_ids = {r[0] for r in con.execute("select distinct execution_id from workflow_step_runs").fetchall()}
    assert profiled not in ids and profiled not in step_ids
    assert len(ids) >= result.executions  # every demo (unprofiled) execution is there


def test_profiling_a_database_without_the_schema_names_what_is_missing(embedded_db):
    from wfprof_pipeline.lib.workflows import schema

    with postgres.connect(embedded_db, autocommit=True) as conn:
        with pytest.raises(schema.SchemaMismatch, match="table workflows is missing"):
            KeeperHub.over(conn).workflow("wf_order_email")
        schema.create_schema(conn)
        conn.execute("alter table workflows drop column edges")
        with pytest.raises(schema.SchemaMismatch, match=r"workflows lacks column\(s\) edges"):
            KeeperHub.over(conn).profile_targets([], 8)


def test_user_code_cannot_read_the_runners_credentials(seeded, build_dir, monkeypatch):
    """node:vm is no sandbox: a stored code node reaching `process` must find no database URL nor our secrets."""
    url, _ = seeded
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://dagster:dagster-secret@db/dagster")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-sentinel")
    code = (
        "const p = console.log.constructor('return process')();"
        "return { env: Object.entries(p.env).map(([k, v]) => k + '=' + v).join('\\n') };"
    )
    nodes = [
        _node("t", "trigger"),
        {"id": "c", "data": {"label": "c", "type": "action", "config": {"actionType": "code/run-code", "code": code}}},
    ]
    _insert_workflow(url, "wf_env_probe", nodes, [{"id": "t-c", "source": "t", "target": "c"}])
    doc = runner.run(_job(url, "wf_env_probe", build_dir), url, mode="none")
    (run,) = doc.runs
    assert run.status == "success", run.error
    with postgres.connect(url) as conn:
        (output,) = conn.execute(
            "select output from workflow_execution_logs where execution_id = %s and node_id = 'c'", (run.executionId,)
        ).fetchone()
    seen = output["result"]["env"]
    assert "PATH=" in seen  # the probe did read the environment
    for secret in ("DATABASE_URL", "dagster-secret", "aws-secret-sentinel", url):
        assert secret not in seen


def test_a_runner_killed_on_timeout_leaves_no_execution_running(seeded, build_dir):
    url, _ = seeded
    code = "while (true) {}"  # synchronous: only the kill can stop it (the vm timeout is raised to 30 s)
    nodes = [
        _node("t", "trigger"),
        {
            "id": "spin",
            "data": {
                "label": "spin",
                "type": "action",
                "config": {"actionType": "code/run-code", "code": code, "timeoutMs": 30000},
            },
        },
    ]
    _insert_workflow(url, "wf_spin", nodes, [{"id": "t-spin", "source": "t", "target": "spin"}])
    with pytest.raises(runner.WorkflowRunError, match=r"timed out after 4 s.*marked 1 execution\(s\) as error"):
        runner.run(_job(url, "wf_spin", build_dir), url, mode="precise", timeout_s=4)
    with postgres.connect(url) as conn:
        ex = conn.execute(
            "select id, status, error, completed_at is not null from workflow_executions where workflow_id = 'wf_spin'"
        ).fetchall()
        logs = conn.execute(
            "select node_id, status from workflow_execution_logs where execution_id = %s order by started_at",
            (ex[0][0],),
        ).fetchall()
    assert len(ex) == 1 and ex[0][1:] == ("error", "workflow runner timed out after 4 s; process tree killed", True)
    assert logs == [("t", "success"), ("spin", "error")]
