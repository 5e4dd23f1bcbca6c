"""Configuration from environment variables, read in this one place at run time (never at import time).

Every knob has a default that makes the embedded setup work with no configuration at all. A frozen
dataclass checked by hand, not a pydantic model: `wfprof analyze` reads it too, and pydantic's import alone
would double that command's start-up. A bad value is a `SettingsError` naming the variable and the value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfprof_pipeline.lib.errors import WfprofError

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
ENV_STEP_REGISTRY = "WFPROF_STEP_REGISTRY"
ENV_PRICING_POLICY = "WFPROF_PRICING_POLICY"
ENV_EXTERNAL_CALL_RULES = "WFPROF_EXTERNAL_CALL_RULES"
ENV_COMPLEXITY_BUDGET = "WFPROF_COMPLEXITY_BUDGET"
ENV_ISOLATION = "WFPROF_ISOLATION"
ENV_FUEL_CACHE = "WFPROF_FUEL_CACHE"
# Set by others, read here too: Dagster's instance directory, CI runners, the XDG cache.
ENV_DAGSTER_HOME = "DAGSTER_HOME"
ENV_CI = "CI"
ENV_GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"

DEFAULT_COMPLEXITY_BUDGET = 15.0  # the seed's CI gate: average cyclomatic complexity per step file
ISOLATION_MODES = ("auto", "namespaces", "guard")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(WfprofError, ValueError):
    """An environment variable holds a value wfprof cannot use."""


@dataclass(frozen=True)
class Settings:
    """What wfprof reads from the environment. Relative paths are relative to the working directory."""

    # A string, not a Path: `ducklake:postgresql://u@h/db` must keep its `//` (see warehouse_target).
    warehouse: str = "data/wfprof.duckdb"  # DuckDB file, or ducklake:<catalog> (Postgres URL or catalog file)
    warehouse_data: Path | None = None  # DuckLake data directory (Parquet files)
    steps_root: Path = Path("data/steps")  # step corpus root (KeeperHub layout)
    home: Path = Path(".wfprof")  # local state: embedded Postgres, Dagster home, caches
    reports_dir: Path = Path("data/reports")  # where HTML reports are written
    database_url: str | None = None  # KeeperHub Postgres; None = the embedded demo database
    sandbox_url: str | None = None  # remote JS sandbox; None = embedded QuickJS
    node: str = "node"  # Node.js executable
    dagster_pg_url: str | None = None  # Dagster instance storage; None = embedded
    run_user_code: bool | None = None  # profile workflows whose steps run stored user code; None = demo DB only
    slot_wait_s: float = 600.0  # how long `wfprof run` waits for a pool slot before failing, naming its holder
    allowed_hosts: tuple[str, ...] = ()  # names the Dagster UI answers to besides loopback (a proxy's name)
    step_registry: Path | None = None  # the step registry; None = `<steps root>/registry.toml` if present
    pricing_policy: Path | None = None  # TOML/JSON pricing policy; None = the seed's defaults
    external_call_rules: Path | None = None  # JSON rules for external-call classification; None = defaults
    complexity_budget: float = DEFAULT_COMPLEXITY_BUDGET
    isolation: str = "auto"  # auto | namespaces | guard (see lib/profiling/isolation.py)
    fuel_cache: Path | None = None  # compiled QuickJS; None = `$WFPROF_HOME/cache/fuel`, else the XDG cache
    dagster_home: Path | None = None  # None = `<home>/dagster_home`, prepared by lib/environment.py
    ci: bool = False  # on a CI runner: no live progress bars
    github_step_summary: Path | None = None  # GitHub Actions' job summary file (the gate writes its table)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            name, parse = _SOURCES[field.name]
            raw = env.get(name, "").strip()
            if raw:
                values[field.name] = parse(name, raw)
        if "fuel_cache" not in values:
            values["fuel_cache"] = _default_fuel_cache(env)
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


def _text(_name: str, raw: str) -> str:
    return raw


def _path(_name: str, raw: str) -> Path:
    return Path(raw)


def _flag(name: str, raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} must be true or false")


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 < value <= 86_400:
        raise SettingsError(f"{name}={raw!r} must be more than 0 and at most 86400 seconds")
    return value


def _budget(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not value >= 1 or math.isinf(value):  # NaN or below the minimum complexity of any file
        raise SettingsError(f"{name}={raw!r} must be a number ≥ 1")
    return value


def _hosts(_name: str, raw: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in raw.split(",") if h.strip())


def _isolation(name: str, raw: str) -> str:
    mode = raw.lower()
    if mode not in ISOLATION_MODES:
        raise SettingsError(f"{name} must be auto, namespaces or guard, got {raw!r}")
    return mode


def _ci(_name: str, raw: str) -> bool:
    return raw.lower() not in _FALSE  # CI runners set CI=true (or 1); any non-false value counts


def _default_fuel_cache(env: Mapping[str, str]) -> Path:
    home = env.get(ENV_HOME, "").strip()
    if home:
        return Path(home) / "cache" / "fuel"
    base = env.get(ENV_XDG_CACHE_HOME, "").strip() or str(Path.home() / ".cache")
    return Path(base) / "wfprof" / "fuel"


# Field → (environment variable, parser). Every field has one; `from_env` reads nothing else.
_SOURCES: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "warehouse": (ENV_WAREHOUSE, _text),
    "warehouse_data": (ENV_WAREHOUSE_DATA, _path),
    "steps_root": (ENV_STEPS_ROOT, _path),
    "home": (ENV_HOME, _path),
    "reports_dir": (ENV_REPORTS_DIR, _path),
    "database_url": (ENV_DATABASE_URL, _text),
    "sandbox_url": (ENV_SANDBOX_URL, _text),
    "node": (ENV_NODE, _text),
    "dagster_pg_url": (ENV_DAGSTER_PG_URL, _text),
    "run_user_code": (ENV_RUN_USER_CODE, _flag),
    "slot_wait_s": (ENV_SLOT_WAIT_S, _seconds),
    "allowed_hosts": (ENV_ALLOWED_HOSTS, _hosts),
    "step_registry": (ENV_STEP_REGISTRY, _path),
    "pricing_policy": (ENV_PRICING_POLICY, _path),
    "external_call_rules": (ENV_EXTERNAL_CALL_RULES, _path),
    "complexity_budget": (ENV_COMPLEXITY_BUDGET, _budget),
    "isolation": (ENV_ISOLATION, _isolation),
    "fuel_cache": (ENV_FUEL_CACHE, _path),
    "dagster_home": (ENV_DAGSTER_HOME, _path),
    "ci": (ENV_CI, _ci),
    "github_step_summary": (ENV_GITHUB_STEP_SUMMARY, _path),
}
