"""The only place resources are registered. Every location comes from the environment (Settings), at run time.

Security: no resource has a config field that names an executable, a URL or a path. The Dagster UI has no
authentication, and anything in a resource's config schema can be set per run (`launchRun` with
`{"resources": {"node": {"config": {"executable": …}}}}`); a resource without such fields makes Dagster
refuse that run config ("unexpected config entry"). Python callers (tests, benchmarks) fix values with
`Resource.pinned(...)`, which is code, not run config.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import ClassVar, Self

import dagster as dg
import duckdb
from pydantic import Field, field_validator

from wfprof_pipeline.lib import ducklake, keeperhub, warehouse
from wfprof_pipeline.lib.corpus import DEFAULT_GLOBS
from wfprof_pipeline.lib.ducklake import DuckLake
from wfprof_pipeline.lib.fuel.protocol import Evaluator, open_evaluator
from wfprof_pipeline.lib.keeperhub import KeeperHub
from wfprof_pipeline.lib.settings import Settings


class _EnvResource(dg.ConfigurableResource):
    """A resource whose locations come from Settings, or from `pinned()` values set in Python."""

    # A class attribute, not a pydantic field: never part of the config schema, so never run config.
    pinned_values: ClassVar[dict[str, str]] = {}

    @classmethod
    def pinned(cls, **values: str | Path) -> Self:
        """This resource with `values` fixed (for tests and Python callers; the UI cannot reach it)."""
        sub = type(cls.__name__, (cls,), {"pinned_values": {k: str(v) for k, v in values.items()},
                                          "__module__": cls.__module__, "__doc__": cls.__doc__})
        return sub()

    def _pinned(self, name: str) -> str | None:
        return self.pinned_values.get(name)


class WarehouseResource(_EnvResource):
    """The warehouse (`WFPROF_WAREHOUSE`: a DuckDB file, default `data/wfprof.duckdb`, or `ducklake:<catalog>`
    with `WFPROF_WAREHOUSE_DATA`). Pinned: `path=` (file or `ducklake:…`) and, for a DuckLake, `data=`."""

    def resolved_target(self) -> Path | DuckLake:
        pinned = self._pinned("path")
        if not pinned:
            return Settings.from_env().warehouse_target()
        return ducklake.parse(pinned, self._pinned("data")) if ducklake.is_ducklake(pinned) else Path(pinned)

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.session(self.resolved_target(), read_only=read_only) as con:
            yield con

    def replace_table(self, table: str, data: object) -> int:
        with self.connect() as con:
            return warehouse.replace_table(con, table, data)


class StepCorpusResource(_EnvResource):
    """The step code to measure (`WFPROF_STEPS_ROOT`, default the bundled `data/steps`).

    `globs` stays configurable (which files under the root are analysed); each must stay inside the root.
    """

    globs: list[str] = Field(default=list(DEFAULT_GLOBS), min_length=1, max_length=32)

    @field_validator("globs")
    @classmethod
    def _inside_root(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            path = PurePosixPath(glob)
            if not glob or len(glob) > 200 or path.is_absolute() or ".." in path.parts or "\\" in glob:
                raise ValueError(f"glob {glob[:80]!r} must be a relative pattern inside the steps root")
        return globs

    def resolved_root(self) -> Path:
        pinned = self._pinned("root")
        return Path(pinned) if pinned else Settings.from_env().steps_root


class KeeperHubDatabase(_EnvResource):
    """The platform's Postgres (`DATABASE_URL`; unset = the embedded server's demo database)."""

    def resolved_url(self) -> str:
        pinned = self._pinned("url")
        if pinned:
            return pinned
        return keeperhub.database_url()

    def client(self) -> KeeperHub:
        """The KeeperHub client on that database (one connection, opened on first use; close it or use `with`)."""
        return KeeperHub(self.resolved_url())


class SandboxResource(_EnvResource):
    """Where user JavaScript runs for fuel metering (`SANDBOX_URL`; unset = embedded QuickJS in wasmtime)."""

    def resolved_url(self) -> str | None:
        return self._pinned("url") or Settings.from_env().sandbox_url

    def evaluator(self) -> Evaluator:
        return open_evaluator(self.resolved_url())


class NodeResource(_EnvResource):
    """The Node.js executable (`WFPROF_NODE`, default `node`)."""

    def resolved_executable(self) -> str:
        return self._pinned("executable") or Settings.from_env().node


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
