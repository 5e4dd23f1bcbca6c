"""DuckDB extensions from their PyPI wheels (`duckdb-extension-<name>`): installed from the wheel's file,
never downloaded, so they load offline and match the pinned `duckdb`."""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

from wfprof_pipeline.lib.errors import WfprofError

# wheel (import name) → the name DuckDB knows the extension by (its entry point and `duckdb_extensions()`)
_INTERNAL_NAMES = {"postgres": "postgres_scanner"}


class ExtensionMissing(WfprofError, RuntimeError):
    """The wheel holding a DuckDB extension is not installed, or was built for another DuckDB."""


def load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load extension `name` (e.g. "postgres") into `con`, installing it from its wheel on first use."""
    internal = _INTERNAL_NAMES.get(name, name)
    row = con.execute(
        "select loaded, installed from duckdb_extensions() where extension_name = ?", [internal]
    ).fetchone()
    if row and row[0]:
        return
    if not (row and row[1]):
        con.execute(f"install '{_wheel_file(name)}'")
    try:
        con.execute(f"load {internal}")
    except duckdb.Error:
        # Installed earlier for another build of DuckDB: install again from the wheel that matches this one.
        con.execute(f"force install '{_wheel_file(name)}'")
        con.execute(f"load {internal}")


def _wheel_file(name: str) -> Path:
    package = f"duckdb-extension-{name}"
    try:
        module = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        raise ExtensionMissing(
            f"the DuckDB {name} extension is not installed: pip install {package}=={duckdb.__version__}"
        ) from None
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise ExtensionMissing(
            f"{package} does not hold the extension for duckdb {duckdb.__version__} (looked for {path}): "
            f"pip install {package}=={duckdb.__version__}"
        )
    return path
