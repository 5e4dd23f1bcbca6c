"""No hung runs: a `wfprof run` killed with -9 does not block the next one, slot waits are bounded, and
SIGTERM ends a run that waits. Real `wfprof run` processes against a real Postgres instance storage."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import dagster as dg
import psutil
import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.processes import ProcessStamp, is_gone
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT, dagster_env


def _instance(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL"):
        monkeypatch.setenv(name, env[name])
    return dg.DagsterInstance.get()


def _claimed(instance_url: str) -> list[tuple[str, str]]:
    with postgres.connect(instance_url) as conn:
        if conn.execute("select to_regclass('concurrency_slots')").fetchone()[0] is None:
            return []
        return conn.execute("select run_id, step_key from concurrency_slots where run_id is not null").fetchall()


def _pending(instance_url: str, run_id: str) -> int:
    with postgres.connect(instance_url) as conn:
        if conn.execute("select to_regclass('pending_steps')").fetchone()[0] is None:
            return 0
        return conn.execute("select count(*) from pending_steps where run_id = %s", (run_id,)).fetchone()[0]


def test_process_stamps_tell_a_live_process_from_a_dead_or_reused_pid() -> None:
    me = ProcessStamp.current()
    assert ProcessStamp.from_tags(me.to_tags("wfprof/"), "wfprof/") == me
    assert not is_gone(me.pid, started_at=me.started)
    assert is_gone(me.pid, started_at=me.started - 3600)  # same pid, another process
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert is_gone(dead.pid)


def _holder_run(instance: dg.DagsterInstance) -> str:
    """A live run (this test process) holding the duckdb pool's only slot."""
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name="slot_holder", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                   tags=ProcessStamp.current().to_tags("wfprof/")))
    assert instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb")
    status = instance.event_log_storage.claim_concurrency_slot("duckdb", run_id, "holder_step")
    assert status.is_claimed
    return run_id


@pytest.mark.slow
def test_waiting_for_a_slot_is_bounded_and_names_the_holder(tmp_path, embedded_db, system_db, monkeypatch):
    env = dagster_env(tmp_path, embedded_db, DATABASE_URL=system_db, WFPROF_SLOT_WAIT_S="5")
    instance = _instance(env, monkeypatch)
    holder = _holder_run(instance)
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "wfprof"), "run"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0
    assert f"held by run {holder} (step holder_step)" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 120
    # The live holder was left alone; the run that gave up is failed and claims nothing.
    assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.STARTED
    failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert failed and all(_pending(embedded_db, r.run_id) == 0 for r in failed)
    instance.event_log_storage.free_concurrency_slots_for_run(holder)


@pytest.mark.slow
def test_sigterm_ends_a_run_that_waits_for_a_slot(tmp_path, embedded_db, system_db, monkeypatch):
    env = dagster_env(tmp_path, embedded_db, DATABASE_URL=system_db)  # default wait: 600 s
    instance = _instance(env, monkeypatch)
    holder = _holder_run(instance)
    proc = subprocess.Popen([str(BIN / "wfprof"), "run"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        waiting = []
        while not waiting and time.monotonic() < deadline:
            time.sleep(1)
            waiting = [r for r in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
                       if r.run_id != holder and _pending(embedded_db, r.run_id)]
        assert waiting, "wfprof run never waited for the slot"
        workers = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        proc.wait(timeout=60)
        assert time.monotonic() - stopped_at < 30
        assert proc.returncode == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive
        assert instance.get_run_by_id(waiting[0].run_id).status == dg.DagsterRunStatus.FAILURE
        assert _pending(embedded_db, waiting[0].run_id) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        instance.event_log_storage.free_concurrency_slots_for_run(holder)


@pytest.mark.slow
def test_kill_9_mid_run_then_the_rerun_completes(tmp_path, embedded_db):
    env = dagster_env(tmp_path, embedded_db)  # the embedded default: demo seed, traces, everything
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen([str(BIN / "wfprof"), "run"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 400
        held: list[tuple[str, str]] = []
        while not held and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            held = _claimed(embedded_db)
        assert held, "the run never held a pool slot"
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # The worker dies with it (PR_SET_PDEATHSIG)...
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, [p.pid for p in alive]
        # ...and leaves its slot claimed: what made every later run hang.
        assert _claimed(embedded_db)
        rerun = subprocess.run([str(BIN / "wfprof"), "run"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                               text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
        assert "lost its process: marked failed, its pool slots freed" in rerun.stdout
        assert "succeeded" in rerun.stdout
        assert _claimed(embedded_db) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run([str(BIN / "wfprof"), "pg", "stop"], env=env, capture_output=True, timeout=60)


def test_the_daemon_sensor_fails_a_dead_run_and_frees_its_slot(tmp_path, embedded_db, monkeypatch):
    from wfprof_pipeline.defs.run_health import dead_runs_sensor

    env = dagster_env(tmp_path, embedded_db)
    instance = _instance(env, monkeypatch)
    gone = subprocess.Popen(["true"])
    gone.wait()
    run_id = str(uuid.uuid4())
    stamp = ProcessStamp(ProcessStamp.current().host, gone.pid, time.time() - 5)
    instance.add_run(dg.DagsterRun(job_name="killed", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                   tags=stamp.to_tags("wfprof/")))
    assert instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb")
    assert instance.event_log_storage.claim_concurrency_slot("duckdb", run_id, "step").is_claimed
    live = _holder_run_unclaimed(instance)
    result = dead_runs_sensor(dg.build_sensor_context(instance=instance))
    assert run_id in result.skip_message
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(live).status == dg.DagsterRunStatus.STARTED
    assert _claimed(embedded_db) == []


def _holder_run_unclaimed(instance: dg.DagsterInstance) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name="alive", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                   tags=ProcessStamp.current().to_tags("wfprof/")))
    return run_id
