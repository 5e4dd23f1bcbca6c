"""The Dagster instance's dagster.yaml as wfprof writes it into DAGSTER_HOME, fitted to the warehouse.

Every asset that opens the warehouse is in pool `duckdb`. The project's dagster.yaml limits every pool to
one op at a time (`concurrency.pools.default_limit: 1`) because a DuckDB file takes one writer. A DuckLake
takes many, so for it the instance gets no default pool limit: trace days and the nightly assets then run
in parallel, bounded only by the executor and `max_concurrent_runs`. The asset definitions stay the same
whatever the warehouse (no environment read at import time); only the instance differs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from wfprof_pipeline.lib.settings import Settings

_HEADER = ("# Written by wfprof from the project's dagster.yaml for this warehouse ({where});\n"
           "# it is rewritten on every `wfprof run` / `wfprof dev`: edit the project's file instead.\n")


def instance_yaml(template: str, settings: Settings) -> str:
    """`template` (the project's dagster.yaml) for `settings`' warehouse: unchanged for a DuckDB file."""
    if not settings.is_ducklake:
        return template
    config = yaml.safe_load(template) or {}
    pools = (config.get("concurrency") or {}).get("pools") or {}
    pools.pop("default_limit", None)  # DuckLake: many writers, pool `duckdb` unlimited
    return _HEADER.format(where="DuckLake: pool duckdb unlimited") + yaml.safe_dump(config, sort_keys=False)


def write_instance_yaml(template: Path, dest: Path, settings: Settings) -> None:
    dest.write_text(instance_yaml(template.read_text(), settings))
