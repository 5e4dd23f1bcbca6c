"""No hung runs (Dagster wiring for `wfprof run`, like run.py).

A `wfprof run` killed with -9 leaves its Dagster run STARTED and its `duckdb` pool slot claimed; every
later run then waited for that slot forever. So, before anything starts:

- `reap_dead_runs`: every unfinished run whose process is gone is marked failed and its slots (and
  pending claims) are freed. The process is known from the tags wfprof puts on its runs (host, pid,
  start time); runs launched by the daemon are judged by the pid of their RUN_START event, but only when
  the instance is reached over a unix socket, i.e. every process that uses it is on this machine.
  Slots still held by finished runs are freed too.
- `bounded_slot_wait`: while a job executes, a watchdog fails the run if one of its steps has waited for
  a pool slot longer than the limit, naming the run that holds the slot.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

from wfprof_pipeline.lib.pg_urls import socket_dir
from wfprof_pipeline.lib.processes import ProcessStamp, is_gone
from wfprof_pipeline.lib.settings import Settings

TAG_PREFIX = "wfprof/"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def run_tags() -> dict[str, str]:
    """Tags for a run executed in this process, so a later `wfprof run` can tell whether it is alive."""
    return ProcessStamp.current().to_tags(TAG_PREFIX)


def _instance_is_local() -> bool:
    return socket_dir(Settings.from_env().dagster_pg_url or "") is not None


def _owner_gone(instance: dg.DagsterInstance, run: dg.DagsterRun, local_instance: bool) -> bool:
    stamp = ProcessStamp.from_tags(dict(run.tags), TAG_PREFIX)
    if stamp is not None:
        return stamp.is_local() and is_gone(stamp.pid, started_at=stamp.started)
    if not local_instance:
        return False  # another machine may be running it: not ours to judge
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    if not records or records[0].event_log_entry.dagster_event is None:
        return False  # not started yet (the daemon's start timeout covers that)
    entry = records[0].event_log_entry
    return is_gone(entry.dagster_event.pid, started_before=entry.timestamp)


def reap_dead_runs(instance: dg.DagsterInstance, log: Callable[[str], None] = print) -> list[str]:
    """Fail unfinished runs whose process is gone and free their concurrency slots; returns their ids."""
    local_instance = _instance_is_local()
    reaped = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        if not _owner_gone(instance, run, local_instance):
            continue
        instance.report_run_failed(run, message="wfprof: the process running this run is gone (killed?); "
                                                "marked failed and its concurrency slots freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
        log(f"run {run.run_id} ({run.job_name}) lost its process: marked failed, its pool slots freed")
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = storage.get_concurrency_run_ids()
        if holders:
            finished = instance.get_runs(filters=dg.RunsFilter(run_ids=list(holders),
                                                               statuses=FINISHED))
            for run in finished:
                storage.free_concurrency_slots_for_run(run.run_id)
    return reaped


def _blocked_for(instance: dg.DagsterInstance, run_id: str, limit_s: float) -> str | None:
    """A message if a step of `run_id` has waited for a pool slot longer than `limit_s`, else None."""
    storage = instance.event_log_storage
    now = time.time()
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        for step in info.pending_steps:
            if step.run_id != run_id or step.assigned_timestamp is not None:
                continue
            waited = now - step.enqueued_timestamp.timestamp()
            if waited < limit_s:
                continue
            holders = [s for s in info.claimed_slots if s.run_id != run_id] or info.claimed_slots
            held = ", ".join(f"run {s.run_id} (step {s.step_key})" for s in holders[:3]) or "no run (slots full)"
            return (f"step {step.step_key} waited {waited:.0f} s for a slot in pool {pool!r}, held by {held}; "
                    "stop that run (wfprof dev → Runs) or let it finish, then retry "
                    "(limit: WFPROF_SLOT_WAIT_S)")
    return None


@contextmanager
def bounded_slot_wait(instance: dg.DagsterInstance, limit_s: float, poll_s: float = 1.0) -> Iterator[None]:
    """Watch this process's runs; if one waits for a slot longer than `limit_s`, fail it and exit.

    Dagster's wait (`sleep_til_ready`) has no timeout and defers interrupts, so the watchdog cannot
    raise into it: it marks the run failed, frees its claims, prints the reason and ends the process.
    """
    pid = str(os.getpid())
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(poll_s):
            try:
                runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={f"{TAG_PREFIX}pid": pid}))
                for run in runs:
                    message = _blocked_for(instance, run.run_id, limit_s)
                    if message is None:
                        continue
                    instance.report_run_failed(run, message=f"wfprof: {message}")
                    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
                    print(f"wfprof: error: run {run.run_id} ({run.job_name}): {message}", file=sys.stderr,
                          flush=True)
                    sys.stdout.flush()
                    os._exit(3)
            except Exception:  # a watchdog must not take the run down over a storage hiccup
                continue

    thread = threading.Thread(target=watch, name="wfprof-slot-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
