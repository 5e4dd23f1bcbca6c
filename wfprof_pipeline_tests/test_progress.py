"""Long work shows progress: plain lines when not on a terminal (CI), counted as work finishes."""

import io
import os
import subprocess
import threading

from wfprof_pipeline.lib.progress import Progress
from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT


def test_finished_counts_parallel_work_once_each_and_summarizes() -> None:
    out = io.StringIO()
    with Progress("batch", 40, stream=out, live=False) as progress:
        threads = [threading.Thread(target=progress.finished, args=(f"unit {i}",)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 41
    assert sorted(int(line.split("(")[1].split("/")[0]) for line in lines[:-1]) == list(range(1, 41))
    assert lines[-1].startswith("batch: 40/40 done in ")


def test_profile_all_prints_progress_on_stderr_and_keeps_stdout_json() -> None:
    proc = subprocess.run(
        [str(BIN / "wfprof"), "profile", "--compare", "webhook/send-webhook,math/aggregate", "--precise",
         "--no-timing", "--json"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "CI": "true"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.lstrip().startswith("[")  # the JSON document, untouched by progress lines
    assert "profile: 2/2 done in " in proc.stderr


def test_demo_seed_prints_progress(embedded_db: str) -> None:
    proc = subprocess.run(
        [str(BIN / "wfprof"), "demo", "seed"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATABASE_URL": embedded_db, "CI": "true"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    total = len(list((PROJECT_ROOT / "data/workflows").glob("*.json")))
    assert f"demo seed: {total}/{total} done in " in proc.stderr
