"""The warehouse: connections with clear lock errors, and idempotent table writes.

The only place that opens it. A target is a DuckDB file (one writer at a time) or a DuckLake
(`lib/ducklake.py`: a catalog plus Parquet files, many writers); both give a DuckDB connection whose
default catalog is the warehouse, so every caller's SQL is the same on either.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from wfprof_pipeline.lib import ducklake
from wfprof_pipeline.lib.ducklake import DuckLake
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


Target = Path | str | DuckLake


def resolve(target: Target) -> Path | DuckLake:
    """A file path, or a DuckLake; `ducklake:<catalog>` takes its data dir from WFPROF_WAREHOUSE_DATA."""
    if isinstance(target, DuckLake):
        return target
    if ducklake.is_ducklake(target):
        from wfprof_pipeline.lib.settings import Settings

        return ducklake.parse(str(target), Settings.from_env().warehouse_data)
    return Path(target)


def describe(target: Target) -> str:
    """The warehouse for messages (a DuckLake's catalog without its password)."""
    return str(resolve(target))


def connect(target: Target, *, read_only: bool = False, locked_down: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; `locked_down` (read-only only) also denies the query any other file or network."""
    if locked_down and not read_only:
        raise ValueError("a locked-down connection is read-only")
    resolved = resolve(target)
    if isinstance(resolved, DuckLake):
        return ducklake.open_connection(resolved, read_only=read_only,
                                        config=dict(LOCKED_DOWN) if locked_down else {})
    path = resolved
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
    path: Target, *, read_only: bool = False, locked_down: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only, locked_down=locked_down)
    try:
        yield con
    finally:
        con.close()


CONFLICT_ATTEMPTS = 8
_T = TypeVar("_T")


def retry_conflicts(work: Callable[[], _T], *, attempts: int = CONFLICT_ATTEMPTS,
                    log: Callable[[str], None] | None = None) -> _T:
    """Run `work` (one whole transaction), again when DuckLake says another writer committed first.

    DuckLake checks conflicts at commit, per table: a transaction that deleted or inserted rows of a
    table loses to one that deleted from it meanwhile. Redoing the transaction is correct for wfprof's
    writes (each replaces its rows), so the last to commit wins and no row is written twice.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as exc:
            if not ducklake.is_conflict(exc) or attempt == attempts:
                if ducklake.is_conflict(exc):
                    raise WriteConflict(f"gave up after {attempts} DuckLake commit conflicts with concurrent "
                                        "writers of the same table; re-run it") from None
                raise
            if log is not None:
                log(f"DuckLake commit conflict with another writer (attempt {attempt}): retrying")
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))  # jitter: writers desynchronize
    raise AssertionError("unreachable")


class WriteConflict(WfprofError, RuntimeError):
    """Concurrent DuckLake writers kept winning against this one."""


def _write(con: duckdb.DuckDBPyConnection, table: str, data: object, statements: list[str]) -> int:
    """Run `statements` (which read `_wfprof_incoming`) in one transaction; the table's rows after."""
    con.register("_wfprof_incoming", data)
    try:
        retry_conflicts(lambda: _transaction(con, statements))
    finally:
        con.unregister("_wfprof_incoming")
    row = con.execute(f'select count(*) from "{table}"').fetchone()
    return int(row[0]) if row else 0


def _transaction(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
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
    """(table, rows) for every base table in the warehouse's main schema, sorted by name."""
    names = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = current_database() "
            "and table_schema = 'main' and table_type = 'BASE TABLE' order by table_name"
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
