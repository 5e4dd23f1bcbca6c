"""The DuckDB warehouse: connections with clear lock errors, and idempotent table writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.tables import Table

_LOCK_PID = re.compile(r"PID (\d+)")
# DuckDB's own wording for a lock held by another process ("block" in a corruption message is no lock).
_LOCK_HELD = re.compile(r"Could not set lock on file|Conflicting lock is held", re.IGNORECASE)
_NOT_A_DATABASE = re.compile(
    r"not a valid DuckDB database|Corrupt database|Could not read enough bytes|checksum|truncated|"
    r"database file .* (?:is|was) (?:too small|invalid)|Invalid database|Unrecognized file|version number",
    re.IGNORECASE,
)


class WarehouseLocked(WfprofError, RuntimeError):
    """Another process holds the DuckDB file (DuckDB is single-writer across processes)."""


class WarehouseMissing(WfprofError, FileNotFoundError):
    pass


class WarehouseUnreadable(WfprofError, RuntimeError):
    """The file is not a DuckDB database DuckDB can read (corrupt, truncated, zero bytes, another format)."""


class WarehouseUnwritable(WfprofError, OSError):
    """The warehouse cannot be written: a read-only file system, no permission, or no space left."""


def _unreadable(path: Path, exc: Exception) -> WarehouseUnreadable:
    reason = str(exc).splitlines()[0].removeprefix("IO Error: ")
    return WarehouseUnreadable(
        f"cannot read warehouse {path}: not a valid DuckDB database ({reason}); it is corrupt or truncated — "
        "move it away (or delete it) and run `wfprof run` to rebuild it"
    )


def _unwritable(path: Path, reason: str) -> WarehouseUnwritable:
    hint = ("free space on that file system or set WFPROF_WAREHOUSE to another one"
            if "space" in reason or "quota" in reason else "set WFPROF_WAREHOUSE to a writable location")
    return WarehouseUnwritable(f"cannot write the warehouse {path}: {reason}; {hint}")


def write_error(path: Path | str, exc: BaseException) -> WfprofError | None:
    """A user-facing error for a failed write (disk full, read-only), or None if it is something else."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
        return _unwritable(Path(path), os.strerror(exc.errno))
    for needle in ("No space left on device", "Read-only file system", "Permission denied", "Disk quota exceeded"):
        if needle in text:
            return _unwritable(Path(path), needle)
    return None


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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(path, exc) or _unwritable(path, exc.strerror or str(exc)) from None
    if path.exists() and path.stat().st_size == 0:
        # DuckDB would say "not a valid DuckDB database" only for some paths; a 0-byte file is never one.
        raise _unreadable(path, RuntimeError("the file is empty (0 bytes)"))
    try:
        if locked_down:
            if not read_only:
                raise ValueError("a locked-down connection is read-only")
            return duckdb.connect(str(path), read_only=True, config=dict(LOCKED_DOWN))
        con = duckdb.connect(str(path), read_only=read_only)
        if not read_only:
            _owner_only(path)
        return con
    except duckdb.Error as exc:
        if _NOT_A_DATABASE.search(str(exc)):
            raise _unreadable(path, exc) from None
        if not read_only and (problem := write_error(path, exc)):
            raise problem from None
        if not isinstance(exc, duckdb.IOException) or not _LOCK_HELD.search(str(exc)):
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


def _write(con: duckdb.DuckDBPyConnection, table: str, data: object, statements: list[str]) -> int:
    """Run `statements` (which read `_wfprof_incoming`) in one transaction; the table's rows after."""
    con.register("_wfprof_incoming", data)
    try:
        con.execute("begin transaction")
        for sql in statements:
            con.execute(sql)
        con.execute("commit")
    except Exception as exc:
        # DuckDB may have aborted the transaction itself (disk full does): a failing rollback must not
        # replace the real reason ("cannot rollback - no transaction is active").
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        problem = write_error(_database_path(con), exc)
        if problem is not None:
            raise problem from exc
        raise
    finally:
        con.unregister("_wfprof_incoming")
    row = con.execute(f'select count(*) from "{table}"').fetchone()
    return int(row[0]) if row else 0


def _owner_only(path: Path) -> None:
    """The warehouse holds traces and error texts: not world-readable (DuckDB creates it 0644)."""
    with contextlib.suppress(OSError):
        info = path.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            path.chmod(0o600)


def _database_path(con: duckdb.DuckDBPyConnection) -> str:
    try:
        row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    except duckdb.Error:
        row = None
    return str(row[0]) if row and row[0] else "(in memory)"


def replace_table(con: duckdb.DuckDBPyConnection, table: str | Table, data: object) -> int:
    """Replace `table` with `data` (a polars/pandas frame or arrow table) in one transaction.

    Readers see either the old or the new table, never a half-written one; re-running gives the same rows.
    A declared `Table` also writes its column docs into DuckDB's catalog (`COMMENT ON COLUMN`).
    """
    name, comments = _name_and_comments(table)
    return _write(con, name, data, [f'create or replace table "{name}" as select * from _wfprof_incoming',
                                    *comments])


def _name_and_comments(table: str | Table) -> tuple[str, list[str]]:
    return (table, []) if isinstance(table, str) else (table.name, table.comment_sql())


def append_rows(con: duckdb.DuckDBPyConnection, table: str | Table, data: object) -> int:
    """Append `data` to `table` (created with its columns on first use), in one transaction; the table's rows."""
    name, comments = _name_and_comments(table)
    return _write(con, name, data, [
        f'create table if not exists "{name}" as select * from _wfprof_incoming limit 0',
        f'insert into "{name}" by name select * from _wfprof_incoming',
        *comments,
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


def replace_rows(con: duckdb.DuckDBPyConnection, table: Table, data: object, where: str) -> int:
    """Replace the rows of `table` matching `where` (a SQL predicate the caller builds from trusted values,
    e.g. a day's bounds) with `data`, in one transaction: re-running a partition replaces exactly it."""
    return _write(con, table.name, data, [
        table.ddl(),
        f'delete from "{table.name}" where {where}',
        f'insert into "{table.name}" by name select * from _wfprof_incoming',
        *table.comment_sql(),
    ])
