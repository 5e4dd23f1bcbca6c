"""DuckDB extensions from their PyPI wheels (`duckdb-extension-<name>`, built for the pinned duckdb): `LOAD`ed
from the wheel's file, never downloaded or installed into a home directory, so they work offline and on a
read-only home. The trace ingest (postgres_scanner) and the DuckLake warehouse (ducklake, postgres_scanner,
sqlite_scanner) load theirs here.

The wheel named `duckdb-extension-postgres` holds the same binary under a file name DuckDB cannot `LOAD`
(it looks for the entry point `postgres_duckdb_cpp_init`), hence `-postgres-scanner`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

from wfprof_pipeline.lib.errors import WfprofError


class ExtensionMissing(WfprofError, RuntimeError):
    """The wheel holding a DuckDB extension is not installed, or was built for another DuckDB."""


def extension_file(name: str) -> Path:
    """The packaged extension file of wheel `duckdb-extension-<name>` (`_` for `-`, e.g. postgres_scanner)."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    found: list[Path] = []
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        found = sorted(root.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
    if not found:
        package = "duckdb-extension-" + name.replace("_", "-")
        raise ExtensionMissing(f"the DuckDB {name} extension is missing: pip install {package}=={duckdb.__version__} "
                               "(make setup installs it)")
    return found[0]


def load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load extension `name` (e.g. "postgres_scanner") into `con` from its wheel, unless it is loaded."""
    row = con.execute("select loaded from duckdb_extensions() where extension_name = ?", [name]).fetchone()
    if row and row[0]:
        return
    con.execute(f"load '{extension_file(name)}'")
