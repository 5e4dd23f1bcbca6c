"""Nothing that executes code or chooses a database comes from run config; `wfprof dev` stays on loopback.

The probe of issue 16: a `launchRun` with `{"resources": {"node": {"config": {"executable": payload}}}}` ran
the payload as wfprof's user. Run config is what the (unauthenticated) Dagster UI controls, so these tests
override through Dagster's own APIs, in process and over the webserver's GraphQL, and check the payload
never runs.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from pathlib import Path

import dagster as dg
import httpx
import pytest

from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT, dagster_env
from wfprof_pipeline_tests.test_webserver import free_port, wait_for_location

OVERRIDES = {
    "node": {"executable": "{payload}"},
    "warehouse": {"path": "/tmp/elsewhere.duckdb"},
    "keeperhub_db": {"url": "postgresql://attacker@203.0.113.1/db"},
    "sandbox": {"url": "http://203.0.113.1:3001"},
    "step_corpus": {"root": "/"},
}


def _payload(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    payload = tmp_path / "payload.sh"
    payload.write_text(f"#!/bin/sh\ntouch {marker}\nexec node \"$@\"\n")
    payload.chmod(payload.stat().st_mode | stat.S_IXUSR)
    return payload, marker


@pytest.mark.parametrize("resource", sorted(OVERRIDES))
def test_run_config_cannot_set_a_resource_location(resource: str, tmp_path: Path) -> None:
    from wfprof_pipeline.definitions import defs
    from wfprof_pipeline.pipeline.run import NIGHTLY_JOB

    payload, marker = _payload(tmp_path)
    config = {k: v.replace("{payload}", str(payload)) for k, v in OVERRIDES[resource].items()}
    job = defs().resolve_job_def(NIGHTLY_JOB)
    with dg.instance_for_test() as instance, pytest.raises(dg.DagsterInvalidConfigError) as err:
        job.execute_in_process(instance=instance, run_config={"resources": {resource: {"config": config}}})
    assert "unexpected config entry" in str(err.value)
    assert not marker.exists()


def test_run_config_cannot_allow_user_code_or_pick_a_rules_file() -> None:
    from wfprof_pipeline.definitions import defs
    from wfprof_pipeline.pipeline.run import NIGHTLY_JOB

    job = defs().resolve_job_def(NIGHTLY_JOB)
    for op, config in (("workflow_profiles", {"run_user_code": True}),
                       ("static_analysis", {"external_call_rules": "/etc/shadow"})):
        with dg.instance_for_test() as instance, pytest.raises(dg.DagsterInvalidConfigError):
            job.execute_in_process(instance=instance, run_config={"ops": {op: {"config": config}}})


@pytest.mark.parametrize("config", [
    {"timeout_s": 1e300}, {"timeout_s": -1}, {"heap_mb": 10**9}, {"repeat": 0}, {"modes": ["rm -rf"]},
    {"jobs": 10**6},
])
def test_what_stays_configurable_is_validated(config: dict) -> None:
    from wfprof_pipeline.defs.step_profiles.assets import StepProfilingConfig

    with pytest.raises(Exception, match="validation error"):
        StepProfilingConfig(**config)


@pytest.mark.parametrize("glob", ["/etc/*", "../../*.ts", "plugins/../../x/*.ts", ""])
def test_step_globs_stay_inside_the_root(glob: str) -> None:
    from wfprof_pipeline.defs.resources import StepCorpusResource

    with pytest.raises(Exception, match="inside the steps root"):
        StepCorpusResource(globs=[glob])


def test_dev_refuses_a_non_loopback_host_unless_told() -> None:
    for host in ("0.0.0.0", "::", "203.0.113.7"):
        proc = subprocess.run([str(BIN / "wfprof"), "dev", "--host", host], capture_output=True, text=True,
                              timeout=60, cwd=PROJECT_ROOT)
        assert proc.returncode == 2, proc.stderr
        assert "not a loopback address" in proc.stderr and "--allow-remote" in proc.stderr
        assert "Traceback" not in proc.stderr


LAUNCH = """
mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on PythonError { message } } }
"""


@pytest.mark.slow
def test_launch_run_over_graphql_with_an_executable_override_is_refused(tmp_path: Path, embedded_db: str) -> None:
    """The exploit exactly as probed: GraphQL `launchRun` against the real webserver + daemon."""
    payload, marker = _payload(tmp_path)
    port = free_port()
    env = dagster_env(tmp_path, embedded_db, DATABASE_URL=embedded_db)
    proc = subprocess.Popen(
        [str(BIN / "wfprof"), "dev", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        wait_for_location(url, proc)
        params = {
            "selector": {"repositoryLocationName": "wfprof", "repositoryName": "__repository__",
                         "jobName": "wfprof_nightly"},
            "runConfigData": {"resources": {"node": {"config": {"executable": str(payload)}}}},
        }
        answer = httpx.post(url, json={"query": LAUNCH, "variables": {"params": params}}, timeout=60).json()
        launched = answer["data"]["launchRun"]
        assert launched["__typename"] == "RunConfigValidationInvalid", launched
        assert any("executable" in e["message"] for e in launched["errors"])
        # The same mutation without the override is accepted (so the refusal is the override's).
        params["runConfigData"] = {}
        params["stepKeys"] = ["step_sources"]
        ok = httpx.post(url, json={"query": LAUNCH, "variables": {"params": params}}, timeout=60).json()
        assert ok["data"]["launchRun"]["__typename"] == "LaunchRunSuccess", ok
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not marker.exists()
