"""The platform's own executor (`--executor platform`) on the miniature platform: its `executeWorkflow` runs
against a real PostgreSQL through its own `pg`-backed db module, in a real Node process; wfprof only creates
the pending execution and reads back what the platform wrote."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.keeperhub import KeeperHub
from wfprof_pipeline.lib.registry import RegistryError, load_for_root
from wfprof_pipeline.lib.workflows import platform, profiles, runner, schema
from wfprof_pipeline_tests.platform_fixture import PLATFORM, platform_copy

RECORDS = [{"id": "a", "value": 3}, {"id": "b", "value": 20}]
CHATTER = textwrap.dedent("""\
    [steps."chatter/post-message"]
    module = "plugins/chatter/steps/post-chatter-message.ts"
    export = "postChatterMessageStep"

    [[steps."chatter/post-message".responses]]
    url = "https://api.chatter.example/v1/*"
    json = { id = "m-1" }
    """)


def _node(node_id: str, action: str | None = None, **config) -> dict:
    if action is None:
        return {"id": node_id, "type": "trigger", "data": {"type": "trigger", "label": "Webhook", "config": {}}}
    return {"id": node_id, "type": "action",
            "data": {"type": "action", "label": node_id.title(), "config": {"actionType": action, **config}}}


SCORE = _node("score", "tally/score-batch", records="{{trigger.records}}", mode="sum")
# Template syntaxes differ (the fixture's `{{trigger.x}}`, KeeperHub's `{{@trigger.x}}`): literal input
# runs the same through both executors.
SCORE_LITERAL = _node("score", "tally/score-batch", records=json.dumps(RECORDS), mode="sum")
POST = _node("post", "chatter/post-message", integrationId="int-1", channel="ops", text="score {{score.score}}")


def _chain(*nodes: dict) -> list[dict]:
    return [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:], strict=False)]


def _seed(url: str, workflows: dict[str, list[dict]], *, integrations: bool = True) -> None:
    with postgres.connect(url, autocommit=True) as conn:
        schema.create_schema(conn)
        if integrations:
            conn.execute("create table integrations (id text primary key, user_id text not null, type text, "
                         "name text, config jsonb)")
            conn.execute("""insert into integrations values ('int-1', 'u1', 'chatter', 'Chatter', '{"apiToken": "t"}'),
                            ('int-other', 'u2', 'chatter', 'Not yours', '{"apiToken": "x"}')""")
        for wid, nodes in workflows.items():
            conn.execute("insert into workflows (id, name, user_id, nodes, edges) values (%s, %s, 'u1', %s, %s)",
                         (wid, wid, json.dumps(nodes), json.dumps(_chain(*nodes))))


# wfprof's runner gives steps no platform database: its registry shims the step boundary (as step
# profiling does); the platform executor runs the real one whatever [shims] says.
BOUNDARY_SHIM = '[shims]\n"@/lib/steps/step-handler" = "wfprof-shims/step-handler.ts"\n\n'


def _checkout(tmp_path: Path, registry: str = BOUNDARY_SHIM + CHATTER) -> Path:
    root = platform_copy(tmp_path / "platform")
    (root / "registry.toml").write_text(registry, encoding="utf-8")
    (root / "wfprof-shims").mkdir()
    (root / "wfprof-shims" / "step-handler.ts").write_text(
        "export type StepInput = { _context?: Record<string, unknown> };\n"
        "export async function withStepLogging<I, T>(_input: I, handler: () => Promise<T>): Promise<T> {\n"
        "  return handler();\n}\n", encoding="utf-8")
    return root


def _run(url: str, root: Path, workflow_id: str, tmp_path: Path, **kwargs) -> runner.RunnerDocument:
    registry = load_for_root(root)
    with postgres.connect(url) as conn:
        workflow = KeeperHub.over(conn).workflow(workflow_id)
    build = tmp_path / f"build-{time.monotonic_ns()}"
    build.mkdir()
    return platform.run(workflow, registry, build, url, workflow_input={"records": RECORDS}, **kwargs)


def _rows(url: str) -> tuple[list[tuple], list[tuple]]:
    with postgres.connect(url) as conn:
        executions = conn.execute("select id, status, error from workflow_executions order by started_at").fetchall()
        logs = conn.execute("select execution_id, node_id, status, error, duration is not null "
                            "from workflow_execution_logs order by started_at").fetchall()
    return executions, logs


def test_discovered_for_the_keeperhub_layout_and_configurable(tmp_path):
    found = load_for_root(PLATFORM).executor
    assert found is not None
    assert (found.module, found.export) == ("lib/workflow-executor.workflow.ts", "executeWorkflow")
    assert found.step_boundary and found.step_boundary.export == "withStepLogging"
    assert found.check_integrations and found.check_integrations.module == "lib/db/integrations.ts"
    assert platform.default_executor(load_for_root(PLATFORM)) == "platform"

    root = _checkout(tmp_path, '[executor]\nexport = "runIt"\nenv = { A_KEY = "1" }\n' + CHATTER)
    configured = load_for_root(root).executor
    assert (configured.module, configured.export, configured.env) == (found.module, "runIt", {"A_KEY": "1"})
    (root / "registry.toml").write_text('[executor]\nmodule = "x.ts"\nexport = "y"\nsurprise = 1\n')
    with pytest.raises(RegistryError, match="executor: surprise"):
        load_for_root(root)


def test_no_executor_in_the_checkout_is_named(tmp_path):
    bundled = load_for_root(Path(__file__).resolve().parents[1] / "data" / "steps")
    assert bundled.executor is None and platform.default_executor(bundled) == "wfprof"
    with pytest.raises(platform.ExecutorError, match="looked for lib/workflow-executor.workflow.ts"):
        platform.require_executor(bundled)


def test_categories_nodes_and_the_rows_the_platform_writes(system_db, tmp_path):
    _seed(system_db, {"wf": [_node("t"), SCORE, POST]})
    root = _checkout(tmp_path)
    doc = _run(system_db, root, "wf", tmp_path)
    assert doc.executor == "platform" and not doc.notes
    (run,) = doc.runs
    assert run.status == "success", run.error
    assert run.executionId.startswith(schema.PROFILED_EXECUTION_PREFIX)

    # The platform's own code wrote the execution and one log row per step (through withStepLogging).
    executions, logs = _rows(system_db)
    assert executions == [(run.executionId, "success", None)]
    assert [(e, n, s, d) for e, n, s, _, d in logs] == [(run.executionId, "score", "success", True),
                                                      (run.executionId, "post", "success", True)]
    assert run.logRows == 2

    # Per node, at the step boundary: the step's code, its db log writes, the vendor request.
    score, post = run.nodes
    assert (score.nodeId, score.actionType, score.stepId) == ("score", "tally/score-batch", "tally/score-batch")
    assert score.calls.step_functions > 100  # zod, a package only the step imports
    assert score.calls.database > 0 and score.calls.external_api == 0
    assert post.ioRequests == 1 and post.calls.external_api > 0 and post.calls.database > 0
    # The whole run: the platform's db layer and pg, its executor, the import apart.
    calls = run.calls
    assert calls.database > score.calls.database + post.calls.database  # + recordStart / recordEnd / the check
    assert calls.executor > 0 and calls.node_internals > 0
    assert run.importCalls is not None and 0 < run.importCalls.node_internals < calls.node_internals
    assert run.totalCalls == sum(calls.model_dump().values())
    assert run.harnessCallsExcluded > 0  # the boundary hook and the stub's log round-trips

    # Stored with the executor named on every row.
    prof, steps = profiles.frames([(doc, "wf")])
    assert set(prof["executor"]) == {"platform"} and set(steps["executor"]) == {"platform"}
    assert prof.filter(prof["category"] == "database")["import_calls"].item() == run.importCalls.database


def test_a_pending_execution_the_app_created_runs_as_itself(system_db, tmp_path):
    unknown = _node("ftp", "ftp/upload")  # the platform records it as a failed node, no step runs
    _seed(system_db, {"wf": [_node("t"), SCORE], "wf-unknown": [_node("t"), unknown]})
    with postgres.connect(system_db, autocommit=True) as conn:
        conn.execute("insert into workflow_executions (id, workflow_id, user_id, status, input) "
                     "values ('ex-app-1', 'wf', 'u1', 'pending', %s)", (json.dumps({"records": RECORDS}),))
    root = _checkout(tmp_path)
    registry = load_for_root(root)
    with postgres.connect(system_db) as conn:
        workflow = KeeperHub.over(conn).workflow("wf")
    doc = platform.run(workflow, registry, tmp_path, system_db, execution_id="ex-app-1")
    assert doc.runs[0].executionId == "ex-app-1" and doc.runs[0].status == "success"
    assert doc.runs[0].nodes[0].calls.step_functions > 0  # the stored input reached the step
    with pytest.raises(runner.WorkflowRunError, match="is success, not pending"):
        platform.run(workflow, registry, tmp_path, system_db, execution_id="ex-app-1")

    (run,) = _run(system_db, root, "wf-unknown", tmp_path).runs
    assert run.status == "error" and 'Unknown action type "ftp/upload"' in run.error
    assert [(n.nodeId, n.status, n.calls) for n in run.nodes] == [("ftp", "error", None)]  # read back


def test_sampling_mode_runs_the_same_way(embedded_db, tmp_path):
    _seed(embedded_db, {"wf": [_node("t"), SCORE]})  # a unix-socket database: only its socket is allowed
    doc = _run(embedded_db, _checkout(tmp_path), "wf", tmp_path, mode="sampling")
    (run,) = doc.runs
    assert run.status == "success", run.error
    assert sum(run.selfMs.model_dump().values()) > 0 and [n.nodeId for n in run.nodes] == ["score"]


def test_egress_other_than_the_database_and_the_stub_is_refused(system_db, tmp_path):
    note = _node("note", "notes/create-note", title="t", body="b")  # calls api.notes.example: no response
    _seed(system_db, {"wf": [_node("t"), note]})
    notes = ('[steps."notes/create-note"]\nmodule = "keeperhub/plugins/notes/steps/create-note.ts"\n'
             'export = "createNoteStep"\nenv = { NOTES_TOKEN = "n" }\n')
    root = _checkout(tmp_path, notes)
    # Platform code trying another port on loopback (the database's host) is refused as well.
    executor = root / "lib" / "workflow-executor.workflow.ts"
    executor.write_text(
        'import net from "node:net";\n'
        "await new Promise((done) => net.connect(9, \"127.0.0.1\").on(\"error\", done).on(\"connect\", done));\n"
        + executor.read_text(encoding="utf-8"), encoding="utf-8")
    doc = _run(system_db, root, "wf", tmp_path)
    (run,) = doc.runs
    assert run.status == "error"
    assert "tcp 127.0.0.1:9" in run.egressBlocked, run.egressBlocked
    assert any("api.notes.example" in b for b in run.egressBlocked), run.egressBlocked
    executions, logs = _rows(system_db)
    assert executions[0][1] == "error" and logs[0][2] == "error"


def test_missing_module_or_export_names_what_was_looked_for(system_db, tmp_path):
    _seed(system_db, {"wf": [_node("t"), SCORE]})
    root = _checkout(tmp_path, '[executor]\nmodule = "lib/no-such-executor.ts"\nexport = "executeWorkflow"\n')
    with pytest.raises(platform.ExecutorError, match=r"executor module lib/no-such-executor.ts .*not found"):
        _run(system_db, root, "wf", tmp_path)

    (root / "registry.toml").write_text('[executor]\nexport = "runWorkflow"\n')
    with pytest.raises(runner.WorkflowRunError, match=r"workflow-executor.workflow.ts has no exported function "
                                                      r"runWorkflow .*its functions: executeWorkflow"):
        _run(system_db, root, "wf", tmp_path)
    executions, _ = _rows(system_db)
    assert [e[1] for e in executions] == ["error"]  # the pending execution wfprof created is failed

    # A generated file the executor imports (KeeperHub's lib/step-registry.ts) that is not there yet.
    (root / "registry.toml").write_text("")
    (root / "lib" / "step-registry.ts").unlink()
    missing = r'"@/lib/step-registry" \(alias to lib/step-registry\) not found.*generate'
    with pytest.raises(platform.ExecutorError, match=missing):
        _run(system_db, root, "wf", tmp_path)


def test_executor_failing_at_import_for_a_missing_variable_says_how_to_set_it(system_db, tmp_path):
    _seed(system_db, {"wf": [_node("t"), SCORE]})
    root = _checkout(tmp_path)
    executor = root / "lib" / "workflow-executor.workflow.ts"
    executor.write_text('if (!process.env.PLATFORM_SIGNING_KEY) {\n'
                        '  throw new Error("PLATFORM_SIGNING_KEY environment variable is required");\n}\n'
                        + executor.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(runner.WorkflowRunError, match=r"failed at import: PLATFORM_SIGNING_KEY environment variable "
                                                      r"is required; set PLATFORM_SIGNING_KEY .*\[executor\] env"):
        _run(system_db, root, "wf", tmp_path)
    (root / "registry.toml").write_text('[executor]\nenv = { PLATFORM_SIGNING_KEY = "k" }\n' + CHATTER)
    assert _run(system_db, root, "wf", tmp_path).runs[0].status == "success"


def test_a_database_without_the_platforms_tables_is_named(system_db, tmp_path):
    with postgres.connect(system_db) as conn, pytest.raises(schema.SchemaMismatch, match="table workflows is missing"):
        KeeperHub.over(conn).workflow("wf")
    # The workflow tables but not the platform's integrations: the platform's own error names it.
    _seed(system_db, {"wf": [_node("t"), SCORE, POST]}, integrations=False)
    doc = _run(system_db, _checkout(tmp_path), "wf", tmp_path)
    assert doc.runs[0].status == "error" and 'relation "integrations" does not exist' in doc.runs[0].error


def test_invalid_integrations_fail_with_the_platforms_verdict(system_db, tmp_path):
    stolen = _node("post", "chatter/post-message", integrationId="int-other", channel="ops", text="x")
    _seed(system_db, {"wf": [_node("t"), stolen]})
    doc = _run(system_db, _checkout(tmp_path), "wf", tmp_path)
    (run,) = doc.runs
    assert run.status == "error" and run.errorKind == "invalid_integrations"
    assert run.error == "validateWorkflowIntegrations: the workflow references invalid integrations: int-other"
    executions, logs = _rows(system_db)
    assert executions == [(run.executionId, "error", run.error)] and logs == []  # the executor never started


def test_a_hanging_executor_is_killed_with_its_children_and_the_execution_fails(system_db, tmp_path):
    _seed(system_db, {"wf": [_node("t"), SCORE]})
    root = _checkout(tmp_path)
    pid_file = tmp_path / "child.pid"
    executor = root / "lib" / "workflow-executor.workflow.ts"
    text = executor.read_text(encoding="utf-8").replace(
        "  await recordStart(input, startedAt);\n",
        "  await recordStart(input, startedAt);\n"
        '  const { spawn } = await import("node:child_process");\n'
        '  const { writeFileSync } = await import("node:fs");\n'
        '  writeFileSync(process.env.CHILD_PID_FILE ?? "", String(spawn("sleep", ["3011"]).pid));\n'
        "  for (;;) {}\n",
    )
    executor.write_text(text, encoding="utf-8")
    (root / "registry.toml").write_text(f'[executor]\nenv = {{ CHILD_PID_FILE = "{pid_file}" }}\n')
    with pytest.raises(runner.WorkflowRunError, match="timed out after 8 s; process tree killed"):
        _run(system_db, root, "wf", tmp_path, timeout_s=8)
    assert int(pid_file.read_text()) > 0  # the child was started
    time.sleep(0.2)
    # Looked for by its command line: in its own PID namespace the recorded pid is not the host's.
    left = [p for p in psutil.process_iter(["cmdline", "status"])
            if (p.info["cmdline"] or [])[-1:] == ["3011"] and p.info["status"] != psutil.STATUS_ZOMBIE]
    assert not left
    executions, _ = _rows(system_db)
    assert executions[0][1] == "error" and "timed out" in executions[0][2]


def test_the_claims_verdict_says_which_executor_produced_the_figure():
    import polars as pl

    from wfprof_pipeline.lib.cost_model.claims import _executor_note

    frame = pl.DataFrame({"workflow_id": ["a", "b"], "executor": ["platform", "platform"],
                          "category": ["database"] * 2, "calls": [1, 2]})
    assert _executor_note(frame) == ", measured through the platform's own executor"
    mixed = frame.with_columns(pl.Series("executor", ["platform", "wfprof"]))
    assert "wfprof's runner; the seed measured the platform's own executor" in _executor_note(mixed)
    assert _executor_note(frame.drop("executor")) == " (executor not recorded)"


def test_cli_defaults_to_the_platform_executor_and_prints_the_shares(system_db, tmp_path):
    import subprocess
    import sys

    _seed(system_db, {"wf": [_node("t"), SCORE, POST], "wf2": [_node("t"), SCORE_LITERAL]})
    root = _checkout(tmp_path)
    env = {**os.environ, "WFPROF_STEPS_ROOT": str(root), "DATABASE_URL": system_db, "WORKFLOW_ID": "wf",
           "PRECISE_COVERAGE": "true", "WFPROF_HOME": str(tmp_path / "home")}
    env.pop("WFPROF_STEP_REGISTRY", None)
    cmd = [sys.executable, "-m", "wfprof_pipeline.cli", "profile-workflow", "--input", json.dumps({"records": RECORDS})]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "executor: platform" in done.stdout
    assert "the platform wrote the execution row and 2 log row(s)" in done.stdout
    assert "after import" in done.stdout and "database" in done.stdout
    # wfprof's runner on a workflow it can run (its steps get no platform database).
    wfprof = subprocess.run([*cmd, "--workflow-id", "wf2", "--executor", "wfprof", "--json"], env=env,
                            capture_output=True, text=True, timeout=180)
    assert wfprof.returncode == 0, wfprof.stdout[-2000:]
    assert json.loads(wfprof.stdout)["executor"] == "wfprof"


@pytest.mark.slow
def test_workflow_profiles_asset_records_the_executor(system_db, tmp_path, warehouse_path):
    import dagster as dg
    import duckdb

    from wfprof_pipeline.defs.resources import KeeperHubDatabase, NodeResource, StepCorpusResource, WarehouseResource
    from wfprof_pipeline.defs.workflow_profiles.assets import workflow_profiles

    _seed(system_db, {"wf": [_node("t"), SCORE_LITERAL]})
    with postgres.connect(system_db, autocommit=True) as conn:  # a real run: its input is what gets profiled
        conn.execute("insert into workflow_executions (id, workflow_id, user_id, status, input) "
                     "values ('ex-1', 'wf', 'u1', 'success', %s)", (json.dumps({"records": RECORDS}),))
    resources = {
        "keeperhub_db": KeeperHubDatabase.pinned(url=system_db),
        "warehouse": WarehouseResource.pinned(path=str(warehouse_path)),
        "step_corpus": StepCorpusResource.pinned(root=str(_checkout(tmp_path))),
        "node": NodeResource(),
    }
    for executor in ("platform", "wfprof"):
        config = {"ops": {"workflow_profiles": {"config": {"workflow_ids": ["wf"], "executor": executor}}}}
        with dg.instance_for_test() as instance:
            result = dg.materialize([workflow_profiles], resources=resources, instance=instance, run_config=config)
        assert result.success
        with duckdb.connect(str(warehouse_path)) as con:
            rows = con.execute("select distinct executor, status from workflow_profiles").fetchall()
            steps = con.execute("select executor, node_id from workflow_profile_steps order by position").fetchall()
        assert rows == [(executor, "success")]
        expected = ["score"] if executor == "platform" else ["t", "score"]  # the fixture runs no trigger step
        assert steps == [(executor, n) for n in expected]


def test_without_a_step_boundary_only_per_workflow_figures(system_db, tmp_path):
    from wfprof_pipeline.lib.registry import load_registry

    _seed(system_db, {"wf": [_node("t"), SCORE]})
    root = _checkout(tmp_path)
    alone = tmp_path / "alone.toml"  # the registry file only: no discovery, so no boundary is known
    alone.write_text('[executor]\nmodule = "lib/workflow-executor.workflow.ts"\nexport = "executeWorkflow"\n\n'
                     '[aliases]\n"@/*" = "./*"\n"@config/*" = "./config/*"\n\n'
                     '[steps."tally/score-batch"]\nmodule = "keeperhub/plugins/tally/steps/score-batch.ts"\n'
                     'export = "scoreBatchStep"\naction_type = "tally/score-batch"\n')
    registry = load_registry(alone, root)
    assert registry.executor.step_boundary is None
    with postgres.connect(system_db) as conn:
        workflow = KeeperHub.over(conn).workflow("wf")
    doc = platform.run(workflow, registry, tmp_path, system_db, workflow_input={"records": RECORDS})
    assert doc.notes == ["no step boundary found (registry [executor] step_boundary): per-workflow figures only"]
    (run,) = doc.runs
    assert run.status == "success" and run.calls.step_functions > 100
    assert [(n.nodeId, n.status, n.calls) for n in run.nodes] == [("score", "success", None)]  # from its log row
