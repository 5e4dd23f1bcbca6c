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


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseMissing(f"warehouse {path} does not exist yet: run `wfprof run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
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
def session(path: Path | str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def _write(con: duckdb.DuckDBPyConnection, table: str, data: object, statements: list[str]) -> int:
    """Run `statements` (which read `_wfprof_incoming`) in one transaction; the table's rows after."""
    con.register("_wfprof_incoming", data)
    try:
        con.execute("begin transaction")
        for sql in statements:
            con.execute(sql)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("_wfprof_incoming")
    row = con.execute(f'select count(*) from "{table}"').fetchone()
    return int(row[0]) if row else 0


def replace_table(con: duckdb.DuckDBPyConnection, table: str, data: object) -> int:
    """Replace `table` with `data` (a polars/pandas frame or arrow table) in one transaction.

    Readers see either the old or the new table, never a half-written one; re-running gives the same rows.
    """
    return _write(con, table, data, [f'create or replace table "{table}" as select * from _wfprof_incoming'])


def append_rows(con: duckdb.DuckDBPyConnection, table: str, data: object) -> int:
    """Append `data` to `table` (created with its columns on first use), in one transaction; the table's rows."""
    return _write(con, table, data, [
        f'create table if not exists "{table}" as select * from _wfprof_incoming limit 0',
        f'insert into "{table}" by name select * from _wfprof_incoming',
    ])


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
