"""Configuration from environment variables, resolved at run time (never at import time).

Every knob has a default that makes the embedded setup work with no configuration at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, field_validator

if TYPE_CHECKING:
    from wfprof_pipeline.lib.ducklake import DuckLake

# Names users set; kept in one place so the README, dagster.yaml and docker-compose.yml agree.
ENV_WAREHOUSE = "WFPROF_WAREHOUSE"
ENV_WAREHOUSE_DATA = "WFPROF_WAREHOUSE_DATA"
DUCKLAKE_PREFIX = "ducklake:"
ENV_STEPS_ROOT = "WFPROF_STEPS_ROOT"
ENV_HOME = "WFPROF_HOME"
ENV_DATABASE_URL = "DATABASE_URL"
ENV_SANDBOX_URL = "SANDBOX_URL"
ENV_NODE = "WFPROF_NODE"
ENV_DAGSTER_PG_URL = "DAGSTER_PG_URL"
ENV_REPORTS_DIR = "WFPROF_REPORTS_DIR"
ENV_RUN_USER_CODE = "WFPROF_RUN_USER_CODE"
ENV_SLOT_WAIT_S = "WFPROF_SLOT_WAIT_S"
ENV_ALLOWED_HOSTS = "WFPROF_ALLOWED_HOSTS"


class Settings(BaseModel):
    """What wfprof reads from the environment. Relative paths are relative to the working directory."""

    # A string, not a Path: `ducklake:postgresql://u@h/db` must keep its `//` (see warehouse_target).
    warehouse: str = Field(default="data/wfprof.duckdb",
                           description="DuckDB warehouse file, or ducklake:<catalog> (Postgres URL or catalog file)")
    warehouse_data: Path | None = Field(default=None, description="DuckLake data directory (Parquet files)")
    steps_root: Path = Field(default=Path("data/steps"), description="Step corpus root (KeeperHub layout)")
    home: Path = Field(default=Path(".wfprof"), description="Local state: embedded Postgres, Dagster home")
    reports_dir: Path = Field(default=Path("data/reports"), description="Where HTML reports are written")
    database_url: str | None = Field(default=None, description="KeeperHub Postgres; None = embedded demo DB")
    sandbox_url: str | None = Field(default=None, description="Remote JS sandbox; None = embedded QuickJS")
    node: str = Field(default="node", description="Node.js executable")
    dagster_pg_url: str | None = Field(default=None, description="Dagster instance storage; None = embedded")
    run_user_code: bool | None = Field(
        default=None, description="Profile workflows whose steps run stored user code; None = only the demo DB"
    )

    slot_wait_s: float = Field(
        default=600.0, gt=0, le=86_400, allow_inf_nan=False,
        description="How long `wfprof run` waits for a concurrency-pool slot before failing, naming its holder",
    )

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Names the Dagster UI answers to besides loopback and its bind address (a proxy's name), "
                    "comma-separated",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return [h.strip() for h in value.split(",") if h.strip()] if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        values: dict[str, object] = {}
        for field, name in (
            ("warehouse", ENV_WAREHOUSE),
            ("warehouse_data", ENV_WAREHOUSE_DATA),
            ("steps_root", ENV_STEPS_ROOT),
            ("home", ENV_HOME),
            ("reports_dir", ENV_REPORTS_DIR),
            ("database_url", ENV_DATABASE_URL),
            ("sandbox_url", ENV_SANDBOX_URL),
            ("node", ENV_NODE),
            ("dagster_pg_url", ENV_DAGSTER_PG_URL),
            ("run_user_code", ENV_RUN_USER_CODE),
            ("slot_wait_s", ENV_SLOT_WAIT_S),
            ("allowed_hosts", ENV_ALLOWED_HOSTS),
        ):
            value = get(name)
            if value is not None:
                values[field] = value
        return cls(**values)

    def warehouse_target(self) -> Path | DuckLake:
        """The warehouse to open: a DuckDB file, or a DuckLake (one-line error if misconfigured)."""
        if not is_ducklake_spec(self.warehouse):
            return Path(self.warehouse)
        from wfprof_pipeline.lib import ducklake  # imports duckdb: only when it is a DuckLake

        return ducklake.parse(self.warehouse, self.warehouse_data)

    @property
    def is_ducklake(self) -> bool:
        return is_ducklake_spec(self.warehouse)

    @property
    def needs_embedded_postgres(self) -> bool:
        return self.database_url is None or self.dagster_pg_url is None


def is_ducklake_spec(value: object) -> bool:
    """Whether a WFPROF_WAREHOUSE value (or `--warehouse`) names a DuckLake rather than a DuckDB file."""
    return isinstance(value, str) and value.startswith(DUCKLAKE_PREFIX)
