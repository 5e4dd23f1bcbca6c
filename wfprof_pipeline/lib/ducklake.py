"""The DuckLake warehouse: a catalog (Postgres, SQLite or a DuckDB file) plus a directory of Parquet files.

`WFPROF_WAREHOUSE=ducklake:<catalog>` with `WFPROF_WAREHOUSE_DATA=<dir>`. Many processes can write one
DuckLake at once (the catalog serializes commits); a single-file warehouse allows one writer.

The extensions come from PyPI wheels (`duckdb-extension-ducklake`, `-postgres-scanner`, `-sqlite-scanner`,
built for the pinned duckdb) and are `LOAD`ed from their files: nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
from pydantic import BaseModel, ConfigDict

from wfprof_pipeline.lib import duckdb_extensions
from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.pg_urls import describe
from wfprof_pipeline.lib.settings import DUCKLAKE_PREFIX as PREFIX
from wfprof_pipeline.lib.settings import is_ducklake_spec

ALIAS = "lake"
CATALOG_SUFFIXES = (".sqlite", ".sqlite3", ".db", ".ducklake")

# DuckLake resolves write-write races at commit ("Transaction conflict - …"): the loser may redo its work.
_CONFLICT = re.compile(r"Transaction conflict|Failed to commit DuckLake transaction", re.IGNORECASE)


_INIT_RACE = re.compile(r"Failed to initialize DuckLake.*(duplicate key|already exists)", re.IGNORECASE | re.DOTALL)
_INIT_ATTEMPTS = 5


class WarehouseConfigError(WfprofError, ValueError):
    """WFPROF_WAREHOUSE / WFPROF_WAREHOUSE_DATA do not describe a usable DuckLake."""


class CatalogUnreachable(WfprofError, RuntimeError):
    """The DuckLake catalog (its Postgres server, or its file) cannot be opened."""


class DuckLake(BaseModel):
    """Where a DuckLake lives: `catalog` as the user wrote it, `data_path` for its Parquet files."""

    model_config = ConfigDict(frozen=True)

    catalog: str
    kind: Literal["postgres", "sqlite", "duckdb"]
    data_path: Path

    @property
    def extensions(self) -> tuple[str, ...]:
        return {"postgres": ("ducklake", "postgres_scanner"), "sqlite": ("ducklake", "sqlite_scanner")}.get(
            self.kind, ("ducklake",))

    def attach_target(self) -> str:
        """The string after ATTACH: `ducklake:postgres:<libpq conninfo>`, `ducklake:sqlite:<file>`, …"""
        if self.kind == "postgres":
            return f"{PREFIX}postgres:{conninfo(self.catalog)}"
        if self.kind == "sqlite":
            return f"{PREFIX}sqlite:{Path(self.catalog).resolve()}"
        return f"{PREFIX}{Path(self.catalog).resolve()}"

    def describe(self) -> str:
        """The catalog without a password, for messages."""
        return f"{PREFIX}{_without_password(self.catalog)} (data {self.data_path})"

    def __str__(self) -> str:
        return self.describe()


def is_ducklake(spec: object) -> bool:
    return isinstance(spec, DuckLake) or is_ducklake_spec(spec)


def parse(spec: str, data_path: Path | str | None) -> DuckLake:
    """`ducklake:<catalog>` + data dir → a DuckLake, or a one-line error saying what is wrong."""
    catalog = spec.removeprefix(PREFIX).strip()
    if not catalog:
        raise WarehouseConfigError(f"WFPROF_WAREHOUSE={spec!r} names no catalog: use ducklake:postgresql://"
                                   "user@host/db or ducklake:<file>.sqlite / <file>.ducklake")
    if catalog.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(catalog)
        if not parts.path.strip("/"):
            raise WarehouseConfigError(f"DuckLake catalog {_without_password(catalog)} names no database "
                                       "(postgresql://user@host/db)")
        kind: Literal["postgres", "sqlite", "duckdb"] = "postgres"
    elif catalog.endswith(CATALOG_SUFFIXES):
        kind = "duckdb" if catalog.endswith(".ducklake") else "sqlite"
    else:
        raise WarehouseConfigError(
            f"DuckLake catalog {catalog!r} is neither a postgresql:// URL nor a .sqlite / .ducklake file")
    if data_path is None or not str(data_path).strip():
        raise WarehouseConfigError(f"WFPROF_WAREHOUSE is a DuckLake ({_without_password(catalog)}) but "
                                   "WFPROF_WAREHOUSE_DATA (the directory for its Parquet files) is not set")
    return DuckLake(catalog=catalog, kind=kind, data_path=Path(data_path).resolve())


def conninfo(url: str) -> str:
    """A postgresql:// URL as libpq keywords (the unix-socket form `postgresql://u@/db?host=/dir` included)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    fields = {
        "dbname": unquote(parts.path.lstrip("/")),
        "host": query.pop("host", None) or parts.hostname,
        "port": str(parts.port) if parts.port else query.pop("port", None),
        "user": unquote(parts.username) if parts.username else query.pop("user", None),
        "password": unquote(parts.password) if parts.password else query.pop("password", None),
        **query,
    }
    return " ".join(f"{k}={_quote(v)}" for k, v in fields.items() if v)


def _quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _without_password(catalog: str) -> str:
    return f"postgresql://{describe(catalog)}" if catalog.startswith(("postgresql://", "postgres://")) else catalog


def check_data_path(lake: DuckLake, *, read_only: bool) -> None:
    """The data dir exists (created when writing) and, when writing, takes a file: else a one-line error."""
    path = lake.data_path
    if read_only:
        if not path.is_dir():
            raise CatalogUnreachable(f"DuckLake data directory {path} does not exist: run `wfprof run` first")
        return
    try:
        if not path.exists():  # several writers may get here at once
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)  # traces and error texts: its owner's only, like the single-file warehouse
        with tempfile.NamedTemporaryFile(dir=path, prefix=".wfprof-probe-"):
            pass
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise DataPathUnwritable(f"cannot write the DuckLake data directory {path}: {reason}; set "
                                 "WFPROF_WAREHOUSE_DATA to a writable directory") from None


class DataPathUnwritable(WfprofError, OSError):
    """The DuckLake data directory cannot be created or written."""


def open_connection(lake: DuckLake, *, read_only: bool, config: dict[str, object]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and made the default catalog.

    `config` is applied only after the ATTACH: a locked-down session (no external access, configuration
    locked) must still reach its catalog and data files, which the ATTACH has opened by then.
    """
    check_data_path(lake, read_only=read_only)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        for name in lake.extensions:
            con.execute(f"load '{duckdb_extensions.extension_file(name)}'")
        options = [f"data_path '{_sql_text(str(lake.data_path) + os.sep)}'"] + (["read_only"] if read_only else [])
        attach = f"attach '{_sql_text(lake.attach_target())}' as {ALIAS} ({', '.join(options)})"
        for attempt in range(_INIT_ATTEMPTS):
            try:
                con.execute(attach)
                break
            except duckdb.Error as exc:
                # Writers attaching a new catalog at once all create its tables; the losers' CREATE fails
                # (Postgres: duplicate pg_type key) and rolls back. Attached again, they find it made.
                if attempt + 1 == _INIT_ATTEMPTS or not _INIT_RACE.search(str(exc)):
                    raise
                time.sleep(0.1 * (attempt + 1) * (0.5 + random.random()))
        con.execute(f"use {ALIAS}")
        for key, value in config.items():
            con.execute(f"set {key} = {_sql_value(value)}")
    except duckdb.Error as exc:
        con.close()
        raise _attach_error(lake, exc, read_only=read_only) from None
    return con


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def _sql_value(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else f"'{_sql_text(str(value))}'"


def _attach_error(lake: DuckLake, exc: duckdb.Error, *, read_only: bool) -> WfprofError:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = re.sub(r"^(IO |Invalid Input |Catalog )?Error: ", "", text)
    if "does not match existing data path" in text:
        created = re.search(r'in the catalog "([^"]*)"', text)
        return WarehouseConfigError(f"{lake.describe()}: WFPROF_WAREHOUSE_DATA differs from the data path this "
                                    f"catalog was created with ({created.group(1) if created else 'another'})")
    if read_only and re.search(r"does not exist|unable to open|not initialized|no such table", text, re.I):
        return CatalogUnreachable(f"DuckLake {lake.describe()} has no warehouse yet: run `wfprof run` first")
    return CatalogUnreachable(f"cannot open the DuckLake catalog {_without_password(lake.catalog)}: "
                              f"{_reason(text)}")


def _reason(text: str) -> str:
    """The cause without libpq's or DuckDB's wrapping: 'Connection refused', 'database "x" does not exist'."""
    for needle in ("Connection refused", "could not translate host name", "does not exist",
                   "password authentication failed", "No such file or directory", "timeout expired",
                   "unable to open database file", "Permission denied"):
        if needle in text:
            match = re.search(r'[^:]*' + re.escape(needle) + r'[^:]*', text)
            found = match.group(0) if match else needle
            return re.split(r"\s+Is the server", found)[0].strip(' "')[:200]
    return text[:300]


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit lost a race with another writer (safe to redo the whole transaction)."""
    return isinstance(exc, duckdb.Error) and bool(_CONFLICT.search(str(exc)))
