"""Workflow traces, one day at a time: KeeperHub Postgres → COPY … TO STDOUT (CSV) → polars → DuckDB.

- One REPEATABLE READ snapshot per day: executions, step runs and the source's row counts all come from
  the same moment, so the row-count check compares like with like even while the platform writes.
- Payloads never leave Postgres: only `octet_length(input::text)` / `output` (bytes of their JSON text).
- Error texts are cut to a bound in SQL, scrubbed of secrets in polars (vectorised), then truncated.
- Executions wfprof created while profiling (ids `wfprof-prof-…`) are left out: their timings are the
  profiler's, not the platform's.
- The DuckDB write deletes the day and inserts it in one transaction that commits only after every COPY
  completed: a connection lost mid-ingest rolls it back, leaving the previous state of the day intact;
  a re-run completes it. COPY (Postgres' core) and parse/insert (ours) overlap, slice by slice.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import queue
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import polars as pl
import psycopg

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.workflows import schema
from wfprof_pipeline.lib.workflows.scrub import ERROR_MAX_CHARS, scrub_expr

# Bound on error text fetched from Postgres; scrubbing runs on this, truncation to ERROR_MAX_CHARS after.
_ERROR_FETCH_CHARS = 4 * ERROR_MAX_CHARS

EXECUTIONS_TABLE = "workflow_executions"
STEP_RUNS_TABLE = "workflow_step_runs"

EXECUTION_COLUMNS: dict[str, tuple[pl.DataType, str, str]] = {
    # name: (polars type, DuckDB type, description)
    "execution_id": (pl.Utf8(), "varchar", "workflow_executions.id"),
    "workflow_id": (pl.Utf8(), "varchar", "The workflow that ran"),
    "user_id": (pl.Utf8(), "varchar", "Owner of the execution"),
    "status": (pl.Utf8(), "varchar", "pending, running, success, error or cancelled"),
    "started_at": (pl.Datetime("us"), "timestamp", "Start (UTC); the partition key"),
    "completed_at": (pl.Datetime("us"), "timestamp", "End (UTC), null while running"),
    "duration_ms": (
        pl.Float64(),
        "double",
        "KeeperHub's `duration` (text ms) as a number; null if not a finite number",
    ),
    "total_steps": (pl.Int64(), "bigint", "Nodes the execution planned to run"),
    "completed_steps": (pl.Int64(), "bigint", "Nodes it completed"),
    "current_node_id": (pl.Utf8(), "varchar", "Last node it was on"),
    "input_bytes": (pl.Int64(), "bigint", "Size of the input JSON (the payload itself is never copied)"),
    "output_bytes": (pl.Int64(), "bigint", "Size of the output JSON"),
    "error": (pl.Utf8(), "varchar", f"Error text, secrets scrubbed, at most {ERROR_MAX_CHARS} characters"),
}

STEP_RUN_COLUMNS: dict[str, tuple[pl.DataType, str, str]] = {
    "log_id": (pl.Utf8(), "varchar", "workflow_execution_logs.id"),
    "execution_id": (pl.Utf8(), "varchar", "The execution this step ran in"),
    "node_id": (pl.Utf8(), "varchar", "Workflow node id"),
    "node_name": (pl.Utf8(), "varchar", "Node label"),
    "action_type": (
        pl.Utf8(),
        "varchar",
        "KeeperHub's node_type: the action type (e.g. web3/check-balance) or trigger",
    ),
    "status": (pl.Utf8(), "varchar", "pending, running, success or error"),
    "started_at": (pl.Datetime("us"), "timestamp", "Start (UTC); the partition key"),
    "completed_at": (pl.Datetime("us"), "timestamp", "End (UTC)"),
    "duration_ms": (pl.Float64(), "double", "KeeperHub's `duration` (text ms) as a number; null if not finite"),
    "input_bytes": (pl.Int64(), "bigint", "Size of the step input JSON"),
    "output_bytes": (pl.Int64(), "bigint", "Size of the step output JSON"),
    "error": (pl.Utf8(), "varchar", f"Error text, secrets scrubbed, at most {ERROR_MAX_CHARS} characters"),
    "iteration_index": (pl.Int64(), "bigint", "Iteration inside a for-each, else null"),
    "for_each_node_id": (pl.Utf8(), "varchar", "The for-each node driving the iteration, else null"),
}

_EXECUTIONS_WHERE = f"""{schema.EXECUTIONS} where started_at >= %(start)s and started_at < %(end)s
  and id not like '{schema.PROFILED_EXECUTION_PREFIX}%%'"""
_LOGS_WHERE = f"""{schema.LOGS} where started_at >= %(start)s and started_at < %(end)s
  and execution_id not like '{schema.PROFILED_EXECUTION_PREFIX}%%'"""

# Postgres timestamps run from 4713 BC to 294276 AD plus ±infinity; DuckDB's (and Python's) do not, and one
# such value failed the whole day. Outside years 1–9999 a timestamp becomes null, flagged in `_BAD_TS`.
_TS_OK = "{col} >= '0001-01-01' and {col} < '10000-01-01'"
_COMPLETED = f"(case when {_TS_OK.format(col='completed_at')} then completed_at end)::timestamp"
_BAD_TS = f"(completed_at is not null and not ({_TS_OK.format(col='completed_at')}))"
# The last CSV column: whether the row had a timestamp that became null (counted as an invalid row).
BAD_TS_COLUMN = "_bad_ts"

_EXECUTIONS_SQL = f"""
select id, workflow_id, user_id, status, started_at::timestamp, {_COMPLETED}, duration,
       total_steps::text, completed_steps::text, current_node_id,
       octet_length(input::text), octet_length(output::text), left(error, {_ERROR_FETCH_CHARS}), {_BAD_TS}
from {_EXECUTIONS_WHERE}"""

_LOGS_SQL = f"""
select id, execution_id, node_id, node_name, node_type, status, started_at::timestamp,
       {_COMPLETED}, duration, octet_length(input::text), octet_length(output::text),
       left(error, {_ERROR_FETCH_CHARS}), iteration_index, for_each_node_id, {_BAD_TS}
from {_LOGS_WHERE}"""

# The source's own count of the day, in the same snapshot: independent of the COPY slicing and CSV parsing.
_COUNT_SQL = f"select (select count(*) from {_EXECUTIONS_WHERE}), (select count(*) from {_LOGS_WHERE})"

# Columns whose text form is parsed in polars (KeeperHub stores numbers as text).
_NUMERIC_FROM_TEXT = {"duration_ms": pl.Float64, "total_steps": pl.Int64, "completed_steps": pl.Int64}


class TraceIngestError(WfprofError, RuntimeError):
    """Reading a day from Postgres failed part-way; the warehouse still holds its previous state."""


@dataclass(frozen=True)
class DayCounts:
    executions: int
    step_runs: int


@dataclass(frozen=True)
class DayIngest:
    day: date
    source: DayCounts  # count(*) in Postgres for the day, in the snapshot that was copied
    written: DayCounts  # rows in DuckDB for the day after the write
    copy_seconds: float
    write_seconds: float
    csv_bytes: int
    # Rows with a value that could not be kept (NaN/Infinity/non-numeric duration or counts, a timestamp
    # outside years 1–9999): written with that value null, so they never reach a percentile.
    invalid_rows: int = 0


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day)
    return start, start + timedelta(days=1)


def _copy_csv(cur: psycopg.Cursor, sql: str, params: dict) -> io.BytesIO:
    buf = io.BytesIO()
    with cur.copy(f"copy ({sql}) to stdout with (format csv)", params) as copy:
        for chunk in copy:
            buf.write(chunk)
    buf.seek(0)
    return buf


def _frame(data: io.BytesIO, columns: dict[str, tuple[pl.DataType, str, str]]) -> pl.DataFrame:
    """Parse the CSV (timestamps and KeeperHub's numbers-as-text stay text: DuckDB casts them on insert,
    cheaper than polars does) and scrub the error texts."""
    read_schema = {
        name: (pl.Utf8() if name in _NUMERIC_FROM_TEXT or dtype == pl.Datetime("us") else dtype)
        for name, (dtype, _, _) in columns.items()
    }
    read_schema[BAD_TS_COLUMN] = pl.Utf8()
    if data.getbuffer().nbytes == 0:
        frame = pl.DataFrame(schema=read_schema)
    else:
        # utf8-lossy: a SQL_ASCII source may hold any bytes; an invalid one becomes U+FFFD, not a failed day.
        frame = pl.read_csv(data, has_header=False, new_columns=list(read_schema), schema=read_schema,
                            encoding="utf8-lossy")
    return _scrub_errors(frame)


def _number(name: str, ddb: str) -> str:
    """KeeperHub's text number as a finite number, else null (NaN and ±Infinity parse as doubles)."""
    parsed = f'try_cast(trim("{name}") as {ddb})'
    return f"(case when isfinite({parsed}) then {parsed} end)" if ddb == "double" else parsed


def _invalid_predicate(columns: dict[str, tuple[pl.DataType, str, str]]) -> str:
    """SQL: the row had a value that becomes null (a bad number, or a timestamp flagged by Postgres)."""
    parts = [f"{BAD_TS_COLUMN} = 't'"]
    for name, (_, ddb, _) in columns.items():
        if name in _NUMERIC_FROM_TEXT:
            parts.append(f"""(nullif(trim("{name}"), '') is not null and {_number(name, ddb)} is null)""")
    return " or ".join(parts)


def _select_list(columns: dict[str, tuple[pl.DataType, str, str]]) -> str:
    """The insert's select: text → timestamp, text → number (null when KeeperHub stored something else)."""
    parts = []
    for name, (dtype, ddb, _) in columns.items():
        if dtype == pl.Datetime("us"):
            parts.append(f'cast("{name}" as timestamp)')
        elif name in _NUMERIC_FROM_TEXT:
            parts.append(_number(name, ddb))
        else:
            parts.append(f'"{name}"')
    return ", ".join(parts)


def _scrub_errors(frame: pl.DataFrame) -> pl.DataFrame:
    """Scrub each distinct error text once: errors repeat a lot, and most rows have none."""
    distinct = frame.select(pl.col("error").drop_nulls().unique())
    if distinct.height == 0:
        return frame
    cleaned = distinct.with_columns(scrub_expr(pl.col("error")).alias("clean"))
    return frame.with_columns(pl.col("error").replace(cleaned["error"], cleaned["clean"]))


def _session(conn: psycopg.Connection) -> None:
    """Autocommit (each snapshot is an explicit transaction), UTC so `::date` means the UTC day, and ISO
    dates: COPY writes timestamps in the session's DateStyle, which a database may set to e.g. `SQL, DMY`."""
    if not conn.autocommit:
        conn.rollback()  # the reader only reads: nothing of the caller's can be lost
        conn.autocommit = True
    conn.execute("set timezone to 'UTC'")
    conn.execute("set datestyle to 'ISO, YMD'")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in ((EXECUTIONS_TABLE, EXECUTION_COLUMNS), (STEP_RUNS_TABLE, STEP_RUN_COLUMNS)):
        cols = ", ".join(f'"{name}" {ddb}' for name, (_, ddb, _) in columns.items())
        con.execute(f'create table if not exists "{table}" ({cols})')


def count_day(con: duckdb.DuckDBPyConnection, day: date) -> DayCounts:
    ensure_tables(con)
    start, end = day_bounds(day)
    counts = [
        con.execute(f'select count(*) from "{t}" where started_at >= ? and started_at < ?', [start, end]).fetchone()[0]
        for t in (EXECUTIONS_TABLE, STEP_RUNS_TABLE)
    ]
    return DayCounts(int(counts[0]), int(counts[1]))


def ingest_day(conn: psycopg.Connection, con: duckdb.DuckDBPyConnection, day: date, *, slices: int = 4) -> DayIngest:
    """Copy `day` from Postgres into DuckDB, replacing it, with COPY and parse/insert overlapped.

    A reader thread runs the COPYs (executions, then the logs in `slices` time slices) in one REPEATABLE
    READ snapshot while this thread parses each CSV slice and inserts it, inside one DuckDB transaction
    that also deleted the day: two cores work at once (Postgres formats CSV while polars and DuckDB
    convert), at most two slices are in memory, and any failure rolls the whole day back.
    """
    _session(conn)
    schema.require_schema(conn)
    start, end = day_bounds(day)
    step = (end - start) / slices
    edges = [start + i * step for i in range(slices)] + [end]
    work: queue.Queue = queue.Queue(maxsize=2)
    copy_seconds = 0.0
    counted = DayCounts(-1, -1)

    def reader() -> None:
        nonlocal copy_seconds, counted
        began = time.perf_counter()
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("set transaction isolation level repeatable read, read only")
                work.put((EXECUTION_COLUMNS, _copy_csv(cur, _EXECUTIONS_SQL, {"start": start, "end": end})))
                for lo, hi in itertools.pairwise(edges):
                    work.put((STEP_RUN_COLUMNS, _copy_csv(cur, _LOGS_SQL, {"start": lo, "end": hi})))
                # Counted after the COPYs (same snapshot) so it overlaps the writer's last insert.
                row = cur.execute(_COUNT_SQL, {"start": start, "end": end}).fetchone()
                counted = DayCounts(int(row[0]), int(row[1]))
            copy_seconds = time.perf_counter() - began
            work.put(None)
        except BaseException as exc:  # handed to the writer, which rolls back and reports it
            work.put(exc)

    thread = threading.Thread(target=reader, name=f"wfprof-copy-{day}", daemon=True)
    ensure_tables(con)
    began = time.perf_counter()
    csv_bytes = 0
    invalid_rows = 0
    con.execute("begin transaction")
    try:
        for table in (EXECUTIONS_TABLE, STEP_RUNS_TABLE):
            con.execute(f'delete from "{table}" where started_at >= ? and started_at < ?', [start, end])
        thread.start()
        while (item := work.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            columns, data = item
            csv_bytes += data.getbuffer().nbytes
            frame = _frame(data, columns)
            del data
            table = EXECUTIONS_TABLE if columns is EXECUTION_COLUMNS else STEP_RUNS_TABLE
            invalid_rows += _insert(con, table, frame, columns)
        con.execute("commit")
    except BaseException as exc:
        # DuckDB may have aborted the transaction itself (disk full): keep the real reason, not the rollback's.
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        _drain(work, thread)
        if isinstance(exc, psycopg.OperationalError):
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TraceIngestError(
                f"lost the PostgreSQL connection while reading traces of {day.isoformat()} ({reason}); "
                "nothing was written for that day — re-run the partition"
            ) from None
        from wfprof_pipeline.lib.warehouse import write_error

        problem = write_error("the warehouse", exc) if isinstance(exc, (duckdb.Error, OSError)) else None
        if problem is not None:
            raise problem from exc
        raise
    thread.join()
    total = time.perf_counter() - began
    written = count_day(con, day)
    return DayIngest(
        day,
        counted,
        written,
        copy_seconds,
        max(0.0, total - copy_seconds),
        csv_bytes,
        invalid_rows,
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, columns: dict) -> int:
    """Insert the slice; returns how many of its rows had a value that became null."""
    # Arrow's classic string layout converts into DuckDB faster than polars' string views.
    arrow = frame.select([*columns, BAD_TS_COLUMN]).to_arrow(compat_level=pl.CompatLevel.oldest())
    con.register("_wfprof_slice", arrow)
    try:
        names = ", ".join(f'"{c}"' for c in columns)
        invalid = con.execute(f"select count(*) from _wfprof_slice where {_invalid_predicate(columns)}").fetchone()
        con.execute(f'insert into "{table}" ({names}) select {_select_list(columns)} from _wfprof_slice')
    finally:
        con.unregister("_wfprof_slice")
    return int(invalid[0]) if invalid else 0


def _drain(work: queue.Queue, thread: threading.Thread) -> None:
    """Let the reader finish (or fail) so no thread is left blocked on a full queue."""
    if thread.ident is None:  # never started
        return
    while thread.is_alive():
        try:
            work.get(timeout=0.1)
        except queue.Empty:
            continue
    thread.join()


def days_with_data(conn: psycopg.Connection) -> list[date]:
    """Days (UTC) on which any execution or step run started (profiled runs aside), oldest first."""
    _session(conn)
    schema.require_schema(conn)
    # Only days a date can hold: a started_at in 4713 BC, year 294276 or 'infinity' made psycopg fail the
    # whole query (so every day); such rows belong to no partition.
    ok = _TS_OK.format(col="started_at")
    rows = conn.execute(
        f"select distinct started_at::date from {schema.EXECUTIONS} where id not like %(p)s and {ok} "
        f"union select distinct started_at::date from {schema.LOGS} where execution_id not like %(p)s and {ok} "
        "order by 1",
        {"p": schema.PROFILED_EXECUTION_PREFIX + "%"},
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None]
