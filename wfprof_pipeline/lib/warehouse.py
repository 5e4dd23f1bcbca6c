"""The DuckDB warehouse: connections with clear lock errors, and idempotent table writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from wfprof_pipeline.lib.errors import WfprofError

_LOCK_PID = re.compile(r"PID (\d+)")


class WarehouseLocked(WfprofError, RuntimeError):
    """Another process holds the DuckDB file (DuckDB is single-writer across processes)."""


class WarehouseMissing(WfprofError, FileNotFoundError):
    pass


# For queries typed by a user (`wfprof sql`): no files but the warehouse, no network, no extensions, and
# settings locked so the query cannot turn any of it back on (`set enable_external_access = true`).
LOCKED_DOWN = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


def connect(path: Path | str, *, read_only: bool = False, locked_down: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; `locked_down` (read-only only) also denies the query any other file or network."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseMissing(f"warehouse {path} does not exist yet: run `wfprof run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if locked_down:
            if not read_only:
                raise ValueError("a locked-down connection is read-only")
            return duckdb.connect(str(path), read_only=True, config=dict(LOCKED_DOWN))
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        pid = _LOCK_PID.search(str(exc))
        holder = f" (held by process {pid.group(1)})" if pid else ""
        raise WarehouseLocked(
            f"warehouse {path} is locked by another process{holder}; DuckDB allows one writer at a time — "
            "stop that process (a running `wfprof run`, `wfprof sql` or an open client) and retry"
        ) from None


@contextmanager
def session(
    path: Path | str, *, read_only: bool = False, locked_down: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only, locked_down=locked_down)
    try:
        yield con
    finally:
        con.close()


def replace_table(con: duckdb.DuckDBPyConnection, table: str, data: object) -> int:
    """Replace `table` with `data` (a polars/pandas frame or arrow table) in one transaction.

    Readers see either the old or the new table, never a half-written one; re-running gives the same rows.
    """
    con.register("_wfprof_incoming", data)
    try:
        con.execute("begin transaction")
        con.execute(f'create or replace table "{table}" as select * from _wfprof_incoming')
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_wfprof_incoming")
    row = con.execute(f'select count(*) from "{table}"').fetchone()
    return int(row[0]) if row else 0


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(table, rows) for every base table in the main schema, sorted by name."""
    names = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
    ]
    return [(n, int(con.execute(f'select count(*) from "{n}"').fetchone()[0])) for n in names]
