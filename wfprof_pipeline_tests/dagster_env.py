"""Helpers for tests that run real Dagster processes against a real Postgres instance storage."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wfprof_pipeline.lib.pg_urls import with_scheme

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.sys.executable).parent


def dagster_env(tmp_path: Path, instance_db_url: str, **extra: str) -> dict[str, str]:
    """Environment for a Dagster subprocess: its own DAGSTER_HOME, instance storage in `instance_db_url`."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": with_scheme(instance_db_url, "postgresql+psycopg2"),
        "WFPROF_WAREHOUSE": str(tmp_path / "wfprof.duckdb"),
        "WFPROF_HOME": str(tmp_path / "wfprof_home"),
        "WFPROF_REPORTS_DIR": str(tmp_path / "reports"),
    }
    env.update(extra)
    return env
