"""Daemon-launched nightly run against `wfprof run`, on the same instance, in the same script.

    .venv/bin/python benchmarks/daemon_run.py [--rounds N] [--forkserver]

One embedded PostgreSQL holds the Dagster instance (the project's dagster.yaml: queued run coordinator, the
`duckdb` pool) and the demo KeeperHub database. A `dagster-daemon run` on the project's workspace.yaml
dequeues and launches what `dagster job launch` submits. Each round, interleaved so both see the same load:

1. `wfprof run` (the baseline): its wall time, and the duration of its in-process nightly run;
2. the nightly job submitted to the queue: queued → finished (dequeue, run worker start, code location
   load, every op), read from the run's record;
3. with --forkserver, the same through a location whose jobs use the multiprocess executor with a
   forkserver that preloads the code location (what the README compares in-process against).

Prints medians of the rounds and the acceptance ratio: daemon-launched ÷ `wfprof run` ≤ 1.5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FORKSERVER_LOCATION = "wfprof_forkserver"
FORKSERVER_MODULE = '''
"""The wfprof code location with the multiprocess executor (forkserver, code location preloaded)."""
import dagster as dg

from wfprof_pipeline import definitions as wfprof  # the module: one @definitions function per file

EXECUTOR = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["wfprof_pipeline.definitions"]}}}
)


@dg.definitions
def defs() -> dg.Definitions:
    return wfprof.build(EXECUTOR)
'''


def _environment(tmp: Path) -> dict[str, str]:
    """This process's environment with wfprof's embedded setup under `tmp` (what `wfprof run` would start)."""
    for name in ("DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME", "WFPROF_STEPS_ROOT"):
        os.environ.pop(name, None)
    os.environ.update(WFPROF_HOME=str(tmp / "home"), WFPROF_WAREHOUSE=str(tmp / "wfprof.duckdb"),
                      WFPROF_REPORTS_DIR=str(tmp / "reports"))
    from wfprof_pipeline.lib import environment

    environment.apply()
    return dict(os.environ)


def _workspace(tmp: Path, forkserver: bool) -> Path:
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    if forkserver:
        module = tmp / "forkserver_location.py"
        module.write_text(FORKSERVER_MODULE)
        workspace["load_from"].append({"python_file": {"relative_path": str(module), "location_name":
                                                       FORKSERVER_LOCATION, "working_directory": str(ROOT)}})
    path = tmp / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace))
    return path


def _nightly_runs() -> list:
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        return instance.get_run_records(filters=dg.RunsFilter(job_name="wfprof_nightly"))


def wfprof_run(env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds of `wfprof run`, seconds of its nightly run from start to end)."""
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "wfprof"), "run"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1200)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"wfprof run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    record = _nightly_runs()[0]
    return wall, record.end_time - record.start_time


def daemon_run(env: dict[str, str], workspace: Path, location: str) -> tuple[float, float]:
    """(seconds queued → finished, seconds started → finished) of a nightly run the daemon launched."""
    import dagster as dg

    before = {r.dagster_run.run_id for r in _nightly_runs()}
    launch = subprocess.run([str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "--location", location,
                             "-j", "wfprof_nightly"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if launch.returncode != 0:
        sys.exit(f"dagster job launch failed:\n{launch.stderr[-3000:]}")
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        new = [r for r in _nightly_runs() if r.dagster_run.run_id not in before]
        if new and new[0].dagster_run.is_finished:
            record = new[0]
            if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
                sys.exit(f"daemon-launched run {record.dagster_run.run_id} ended {record.dagster_run.status}")
            return record.end_time - record.create_timestamp.timestamp(), record.end_time - record.start_time
        time.sleep(0.5)
    sys.exit("the daemon-launched run did not finish in 20 min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--forkserver", action="store_true", help="also measure the multiprocess executor")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wfprof-daemon-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = _environment(tmp)
        workspace = _workspace(tmp, args.forkserver)
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        figures: dict[str, list[float]] = {}
        try:
            for round_no in range(1, args.rounds + 1):
                measured = {}
                measured["wfprof run (wall)"], measured["wfprof run: its nightly run"] = wfprof_run(env)
                measured["daemon, in-process: queued → done"], measured["daemon, in-process: run"] = \
                    daemon_run(env, workspace, "wfprof")
                if args.forkserver:
                    measured["daemon, forkserver: queued → done"], measured["daemon, forkserver: run"] = \
                        daemon_run(env, workspace, FORKSERVER_LOCATION)
                for name, value in measured.items():
                    figures.setdefault(name, []).append(value)
                print(f"round {round_no}: " + ", ".join(f"{k} {v:.1f} s" for k, v in measured.items()), flush=True)
        finally:
            os.killpg(daemon.pid, 2)
            daemon.wait(timeout=60)
            subprocess.run([str(BIN / "wfprof"), "pg", "stop"], env=env, capture_output=True, timeout=60)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    print(f"\nmedians of {args.rounds} rounds:")
    for name, value in medians.items():
        print(f"  {name:<38} {value:7.1f} s")
    baseline = medians["wfprof run (wall)"]
    daemon_s = medians["daemon, in-process: queued → done"]
    print(f"\ndaemon-launched nightly ÷ wfprof run: {daemon_s / baseline:.2f}× (acceptance ≤ 1.5×)")
    print(f"daemon-launched nightly ÷ wfprof run's own nightly run: "
          f"{daemon_s / medians['wfprof run: its nightly run']:.2f}×")
    if args.forkserver:
        print(f"forkserver ÷ in-process (daemon, queued → done): "
              f"{medians['daemon, forkserver: queued → done'] / daemon_s:.2f}×")


if __name__ == "__main__":
    main()
