"""What a Dagster user expects of the code location: an owner and a source link on every asset, a freshness
policy on the daily traces, one executor for every job, and a `wfprof dev` that starts cleanly or not at all."""

import signal
import socket
import subprocess
import time
import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml

from wfprof_pipeline.definitions import OWNER, defs
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT, dagster_env
from wfprof_pipeline_tests.test_webserver import free_port, wait_for_location

LOCATION_WARNING = "does not match the name"


@pytest.fixture(scope="module")
def graph() -> object:
    return defs().resolve_asset_graph()


def _materializable(graph: object) -> list:
    return [graph.get(k) for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]


def test_every_asset_has_the_owner_and_a_link_to_its_source(graph: object) -> None:
    nodes = _materializable(graph)
    assert len(nodes) >= 20
    for node in nodes:
        key = node.key.to_user_string()
        assert OWNER in node.owners, key
        refs = node.metadata["dagster/code_references"].code_references
        assert refs, key
        source = Path(refs[0].file_path)
        assert source.is_relative_to(PROJECT_ROOT / "wfprof_pipeline" / "defs"), (key, source)
        # The line is the asset's own decorator, in that file.
        line = source.read_text().splitlines()[refs[0].line_number - 1]
        assert line.startswith(("@dg.asset", "@dg.multi_asset")), (key, line)


def test_only_the_daily_traces_have_a_freshness_policy(graph: object) -> None:
    fresh = {n.key.to_user_string(): n.freshness_policy for n in _materializable(graph) if n.freshness_policy}
    # The trace tables; execution_costs is daily too, but derived nightly from them (no freshness of its own).
    daily = {n.key.to_user_string() for n in _materializable(graph)
             if n.tags.get("partitioning") == "daily" and n.key.to_user_string().startswith("workflow_")}
    assert daily == {"workflow_executions", "workflow_step_runs"} and set(fresh) == daily
    for policy in fresh.values():
        assert isinstance(policy, dg.FreshnessPolicy)
        assert policy.deadline_cron == "0 2 * * *" and policy.timezone == "UTC"  # due when the nightly job reads


def test_every_job_runs_in_process() -> None:
    definitions = defs()
    jobs = [definitions.resolve_job_def(name) for name in
            ("wfprof_nightly", "workflow_traces_daily", "step_sources_changed")]
    jobs.append(definitions.resolve_implicit_global_asset_job_def())  # UI materializations, backfills
    for job in jobs:
        assert job.executor_def.name == "in_process", job.name


def test_one_code_location_name_everywhere() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    names = {
        pyproject["tool"]["dagster"]["code_location_name"],
        pyproject["tool"]["dg"]["project"]["code_location_name"],
    }
    for workspace in ("workspace.yaml", "docker/workspace.yaml"):
        for entry in yaml.safe_load((PROJECT_ROOT / workspace).read_text())["load_from"]:
            names.add(next(iter(entry.values()))["location_name"])
    server = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]["code_location"]["command"]
    names.add(server[server.index("--location-name") + 1])
    assert names == {"wfprof"}


def test_dev_on_a_busy_port_fails_in_one_line_before_any_url(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        proc = subprocess.run([str(BIN / "wfprof"), "dev", "--port", str(port)], cwd=PROJECT_ROOT,
                              env=dagster_env(tmp_path, "postgresql://nobody@127.0.0.1:1/none"),
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stdout == ""  # no "Dagster UI on http://…" line
    assert proc.stderr.strip().splitlines() == [
        f"wfprof: error: port {port} on 127.0.0.1 is already in use (another `wfprof dev` or Dagster UI?): "
        "stop it, or choose another with --port"
    ]
    assert time.monotonic() - started < 15  # before Postgres or Dagster start


@pytest.mark.slow
def test_dev_prints_the_location_name_warning_at_most_once(tmp_path: Path, embedded_db: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "wfprof"), "dev", "--port", str(port)], cwd=PROJECT_ROOT,
        env=dagster_env(tmp_path, embedded_db, DATABASE_URL=embedded_db),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        wait_for_location(f"http://127.0.0.1:{port}/graphql", proc)
        time.sleep(5)  # the daemon's threads load the location too
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output[-2000:]
    assert output.count(LOCATION_WARNING) <= 1, output.count(LOCATION_WARNING)
    assert output.count("Dagster UI on http://") == 1
