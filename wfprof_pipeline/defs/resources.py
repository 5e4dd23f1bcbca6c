"""The only place resources are registered. Every field defaults, at run time, to its environment variable."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from wfprof_pipeline.lib import warehouse
from wfprof_pipeline.lib.corpus import DEFAULT_GLOBS
from wfprof_pipeline.lib.settings import Settings


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse (`WFPROF_WAREHOUSE`, default `data/wfprof.duckdb`)."""

    path: str | None = None

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else Settings.from_env().warehouse

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.session(self.resolved_path(), read_only=read_only) as con:
            yield con

    def replace_table(self, table: str, data: object) -> int:
        with self.connect() as con:
            return warehouse.replace_table(con, table, data)


class StepCorpusResource(dg.ConfigurableResource):
    """The step code to measure (`WFPROF_STEPS_ROOT`, default the bundled `data/steps`)."""

    root: str | None = None
    globs: list[str] = list(DEFAULT_GLOBS)

    def resolved_root(self) -> Path:
        return Path(self.root) if self.root else Settings.from_env().steps_root


class KeeperHubDatabase(dg.ConfigurableResource):
    """The platform's Postgres (`DATABASE_URL`; unset = the embedded server's demo database)."""

    url: str | None = None

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        settings = Settings.from_env()
        if settings.database_url:
            return settings.database_url
        from wfprof_pipeline.lib.postgres import DEMO_DATABASE, start_embedded

        return start_embedded(settings.home).url(DEMO_DATABASE)


class SandboxResource(dg.ConfigurableResource):
    """Where user JavaScript runs for fuel metering (`SANDBOX_URL`; unset = embedded QuickJS in wasmtime)."""

    url: str | None = None

    def resolved_url(self) -> str | None:
        return self.url or Settings.from_env().sandbox_url


class NodeResource(dg.ConfigurableResource):
    """The Node.js executable (`WFPROF_NODE`, default `node`)."""

    executable: str | None = None

    def resolved_executable(self) -> str:
        return self.executable or Settings.from_env().node


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(),
            "step_corpus": StepCorpusResource(),
            "keeperhub_db": KeeperHubDatabase(),
            "sandbox": SandboxResource(),
            "node": NodeResource(),
        }
    )
