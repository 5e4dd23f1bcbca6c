"""Settings: every variable read in one place, defaults that need no configuration, bad values one line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from wfprof_pipeline.lib import settings as s
from wfprof_pipeline.lib.settings import Settings, SettingsError


def test_defaults_need_no_environment() -> None:
    got = Settings.from_env({"XDG_CACHE_HOME": "/cache"})
    assert got == dataclasses.replace(Settings(), fuel_cache=Path("/cache/wfprof/fuel"))
    assert got.warehouse == "data/wfprof.duckdb" and got.isolation == "auto" and got.database_url is None
    assert got.complexity_budget == s.DEFAULT_COMPLEXITY_BUDGET and not got.ci and got.run_user_code is None


def test_every_field_comes_from_its_variable() -> None:
    env = {
        s.ENV_WAREHOUSE: "ducklake:cat.sqlite", s.ENV_WAREHOUSE_DATA: "lake", s.ENV_STEPS_ROOT: "steps",
        s.ENV_HOME: "h", s.ENV_REPORTS_DIR: "r", s.ENV_DATABASE_URL: "postgresql://u@x/db",
        s.ENV_SANDBOX_URL: "http://127.0.0.1:1", s.ENV_NODE: "node20", s.ENV_DAGSTER_PG_URL: "postgresql://u@y/d",
        s.ENV_RUN_USER_CODE: "Yes", s.ENV_SLOT_WAIT_S: "2.5", s.ENV_ALLOWED_HOSTS: " ui.internal, ,b ",
        s.ENV_STEP_REGISTRY: "reg.toml", s.ENV_PRICING_POLICY: "p.toml", s.ENV_EXTERNAL_CALL_RULES: "rules.json",
        s.ENV_COMPLEXITY_BUDGET: "3", s.ENV_ISOLATION: "GUARD", s.ENV_FUEL_CACHE: "fc", s.ENV_DAGSTER_HOME: "dh",
        s.ENV_CI: "true", s.ENV_GITHUB_STEP_SUMMARY: "sum.md",
    }
    got = Settings.from_env(env)
    assert got == Settings(
        warehouse="ducklake:cat.sqlite", warehouse_data=Path("lake"), steps_root=Path("steps"), home=Path("h"),
        reports_dir=Path("r"), database_url="postgresql://u@x/db", sandbox_url="http://127.0.0.1:1", node="node20",
        dagster_pg_url="postgresql://u@y/d", run_user_code=True, slot_wait_s=2.5, allowed_hosts=("ui.internal", "b"),
        step_registry=Path("reg.toml"), pricing_policy=Path("p.toml"), external_call_rules=Path("rules.json"),
        complexity_budget=3.0, isolation="guard", fuel_cache=Path("fc"), dagster_home=Path("dh"), ci=True,
        github_step_summary=Path("sum.md"),
    )
    assert got.is_ducklake and got.needs_embedded_postgres is False
    # Blank is unset: a `FOO=` left in a compose file means the default, not an empty path.
    assert Settings.from_env({s.ENV_STEPS_ROOT: "  ", s.ENV_CI: ""}).steps_root == Path("data/steps")


def test_fuel_cache_under_wfprof_home_when_that_is_set() -> None:
    assert Settings.from_env({s.ENV_HOME: "h"}).fuel_cache == Path("h/cache/fuel")
    assert Settings.from_env({s.ENV_HOME: "h", s.ENV_FUEL_CACHE: "x"}).fuel_cache == Path("x")


@pytest.mark.parametrize(("name", "value", "message"), [
    (s.ENV_SLOT_WAIT_S, "soon", "is not a number of seconds"),
    (s.ENV_SLOT_WAIT_S, "0", "must be more than 0"),
    (s.ENV_SLOT_WAIT_S, "inf", "must be more than 0"),
    (s.ENV_SLOT_WAIT_S, "nan", "must be more than 0"),
    (s.ENV_RUN_USER_CODE, "maybe", "must be true or false"),
    (s.ENV_COMPLEXITY_BUDGET, "lots", "is not a number"),
    (s.ENV_COMPLEXITY_BUDGET, "nan", "must be a number ≥ 1"),
    (s.ENV_COMPLEXITY_BUDGET, "0.5", "must be a number ≥ 1"),
    (s.ENV_ISOLATION, "sandboxed", "must be auto, namespaces or guard"),
])
def test_a_bad_value_names_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        Settings.from_env({name: value})
    assert str(info.value).startswith(name) and "\n" not in str(info.value)


def test_the_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wfprof_pipeline.cli", "analyze"], cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "WFPROF_SLOT_WAIT_S": "soon"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "wfprof: error: WFPROF_SLOT_WAIT_S='soon' is not a number of seconds"


def test_the_static_cli_does_not_import_pydantic() -> None:
    # Why Settings is a dataclass: `wfprof analyze` runs without pydantic (or Dagster, polars, DuckDB).
    steps = Path(__file__).resolve().parents[1] / "data" / "steps"
    code = ("import contextlib, io, sys; from wfprof_pipeline import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = cli.main(['analyze', '--root', sys.argv[1]])\n"
            "print(rc, sorted(m for m in ('pydantic', 'dagster', 'polars', 'duckdb') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(steps)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0 []", done.stderr
