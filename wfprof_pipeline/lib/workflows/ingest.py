"""Workflow traces, one day at a time: KeeperHub Postgres → DuckDB's postgres extension → DuckDB, in slices.

- Transport: DuckDB's own postgres extension (`postgres_query`, binary COPY in C++), attached to the warehouse
  connection for the ingest. Rows stream from Postgres into the table in DuckDB's vectors; nothing of the
  day is ever held in Python, so memory does not grow with the day.
- Slices: the day is read in time slices of at most `slice_rows` rows each (whole minutes, planned from a
  per-minute count), one `INSERT … SELECT` per slice: bounded work per statement, progress per slice.
- One REPEATABLE READ snapshot per day: the extension runs every query of a DuckDB transaction in one
  Postgres transaction, so the per-minute counts (the source's row count and its invalid values), the
  executions and every slice of the step runs all come from the same moment, even while the platform writes.
- Payloads never leave Postgres: only `octet_length(input::text)` / `output` (bytes of their JSON text).
- KeeperHub's numbers-as-text are converted in Postgres, with the same expression that counts the rows
  whose value could not be kept, so the count and the nulls agree by construction.
- Error texts are cut to a bound in Postgres, scrubbed of secrets by DuckDB while they stream (RE2, the
  rules of `scrub.py`), then truncated.
- Executions wfprof created while profiling (ids `wfprof-prof-…`) are left out: their timings are the
  profiler's, not the platform's.
- The DuckDB write deletes the day and inserts it in one transaction that commits only after every slice:
  a connection lost mid-stream rolls it back, leaving the previous state of the day intact; a re-run
  completes it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import polars as pl
import psycopg

from wfprof_pipeline.lib import duckdb_extensions
from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.tables import Table
from wfprof_pipeline.lib.workflows import schema
from wfprof_pipeline.lib.workflows.scrub import ERROR_MAX_CHARS, scrub_sql, truncate_sql
from wfprof_pipeline.lib.workflows.tables import EXECUTIONS, STEP_RUNS, TRACE_TABLES

# Bound on error text fetched from Postgres; scrubbing runs on this, truncation to ERROR_MAX_CHARS after.
_ERROR_FETCH_CHARS = 4 * ERROR_MAX_CHARS
# Rows per slice: a slice is one INSERT statement; DuckDB streams it, so this bounds work, not memory.
SLICE_ROWS = 2_000_000
# The name the ingest's Postgres session shows in pg_stat_activity.
APPLICATION_NAME = "wfprof-trace-ingest"
_ALIAS = "_wfprof_keeperhub"
_ERRORS = "_wfprof_error_texts"

_PROFILED = f"'{schema.PROFILED_EXECUTION_PREFIX}%'"

# Postgres timestamps run from 4713 BC to 294276 AD plus ±infinity; DuckDB's (and Python's) do not, and one
# such value failed the whole day. Outside years 1–9999 a timestamp becomes null (and the row is counted).
_TS_OK = "{col} >= '0001-01-01' and {col} < '10000-01-01'"
_COMPLETED = f"(case when {_TS_OK.format(col='completed_at')} then completed_at end)::timestamp"
_BAD_TS = f"(completed_at is not null and not ({_TS_OK.format(col='completed_at')}))"

# KeeperHub's text numbers that convert: plain decimals (exponent of at most two digits, so every match is
# a finite float8) and integers that fit int64. Anything else (NaN, Infinity, 1e400, 'n/a') becomes null.
_FLOAT_TEXT = r"^[+-]?([0-9]{1,200}(\.[0-9]{0,200})?|\.[0-9]{1,200})([eE][+-]?[0-9]{1,2})?$"
_INT_TEXT = r"^[+-]?[0-9]{1,18}$"


def _pg_number(column: str, pattern: str, pg_type: str) -> str:
    text = f"btrim({column}::text)"
    return f"(case when {text} ~ '{pattern}' then {text}::{pg_type} end)"


def _pg_unkept(column: str, pattern: str) -> str:
    """Postgres SQL: the value is there but _pg_number makes it null."""
    text = f"btrim({column}::text)"
    return f"({text} <> '' and {text} !~ '{pattern}')"


@dataclass(frozen=True)
class _Source:
    """How one trace table is read: its select list (in the table's column order) and what is invalid."""

    table: Table
    relation: str
    expressions: list[str]  # one per column of `table`, in its order
    invalid: str
    where: str

    def select(self, *, sql_ascii: bool = False) -> str:
        """The Postgres select list, each expression named as its column (the extension selects by name)."""
        return ", ".join(f'{self.expression(c, sql_ascii=sql_ascii)} as "{c}"' for c in self.table.names)

    def expression(self, column: str, *, sql_ascii: bool = False) -> str:
        expr = self.expressions[self.table.names.index(column)]
        return _utf8(expr) if sql_ascii and self.table.column(column).dtype == pl.Utf8 else expr


# Valid UTF-8, byte by byte (what a SQL_ASCII database's regex sees), and U+FFFD spelled in bytes there.
_UTF8_TEXT = (r"^([\x01-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
              r"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
              r"|\xf4[\x80-\x8f][\x80-\xbf]{2})*$")
_REPLACEMENT_CHAR = "convert_from('\\xefbfbd'::bytea, 'SQL_ASCII')"


def _utf8(expr: str) -> str:
    """A SQL_ASCII database may hold any bytes, and DuckDB takes only UTF-8: text that is not valid UTF-8
    has each non-ASCII byte replaced by U+FFFD (so one bad byte never fails a day)."""
    return (f"(case when ({expr}) ~ '{_UTF8_TEXT}' then ({expr}) "
            f"else regexp_replace(({expr}), '[\\x80-\\xff]', {_REPLACEMENT_CHAR}, 'g') end)")


_EXECUTIONS = _Source(
    EXECUTIONS,
    schema.EXECUTIONS,
    [
        "id", "workflow_id", "user_id", "status", "started_at::timestamp", _COMPLETED,
        _pg_number("duration", _FLOAT_TEXT, "float8"), _pg_number("total_steps", _INT_TEXT, "int8"),
        _pg_number("completed_steps", _INT_TEXT, "int8"), "current_node_id",
        "octet_length(input::text)::int8", "octet_length(output::text)::int8", f"left(error, {_ERROR_FETCH_CHARS})",
    ],
    " or ".join([_BAD_TS, _pg_unkept("duration", _FLOAT_TEXT), _pg_unkept("total_steps", _INT_TEXT),
                 _pg_unkept("completed_steps", _INT_TEXT)]),
    f"id not like {_PROFILED}",
)
_STEP_RUNS = _Source(
    STEP_RUNS,
    schema.LOGS,
    [
        "id", "execution_id", "node_id", "node_name", "node_type", "status", "started_at::timestamp", _COMPLETED,
        _pg_number("duration", _FLOAT_TEXT, "float8"), "octet_length(input::text)::int8",
        "octet_length(output::text)::int8", f"left(error, {_ERROR_FETCH_CHARS})", "iteration_index::int8",
        "for_each_node_id",
    ],
    " or ".join([_BAD_TS, _pg_unkept("duration", _FLOAT_TEXT)]),
    f"execution_id not like {_PROFILED}",
)

# The readers' SQL without the time bounds (each slice adds its own). Module-level so a test can break one.
_EXECUTIONS_SQL = f"select {_EXECUTIONS.select()} from {_EXECUTIONS.relation} where {_EXECUTIONS.where}"
_LOGS_SQL = f"select {_STEP_RUNS.select()} from {_STEP_RUNS.relation} where {_STEP_RUNS.where}"


def _reader_sql(source: _Source, default: str, sql_ascii: bool) -> str:
    if not sql_ascii:
        return default
    return f"select {source.select(sql_ascii=True)} from {source.relation} where {source.where}"


class TraceIngestError(WfprofError, RuntimeError):
    """Reading a day from Postgres failed part-way; the warehouse still holds its previous state."""


@dataclass(frozen=True)
class DayCounts:
    executions: int
    step_runs: int


@dataclass(frozen=True)
class Slice:
    table: str
    start: datetime
    end: datetime
    rows: int  # the source's rows in [start, end), counted in the snapshot


@dataclass(frozen=True)
class DayIngest:
    day: date
    source: DayCounts  # count(*) in Postgres for the day, in the snapshot that was copied
    written: DayCounts  # rows in DuckDB for the day after the write
    plan_seconds: float  # counting the day per minute (the source counts, the slice plan)
    copy_seconds: float  # streaming every slice into DuckDB
    slices: int
    # Rows with a value that could not be kept (NaN/Infinity/non-numeric duration or counts, a timestamp
    # outside years 1–9999), per table: written with that value null, so they never reach a percentile.
    invalid: DayCounts = DayCounts(0, 0)

    @property
    def invalid_rows(self) -> int:
        return self.invalid.executions + self.invalid.step_runs


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day)
    return start, start + timedelta(days=1)


def _session(conn: psycopg.Connection) -> None:
    """Autocommit and UTC, so `::date` means the UTC day (the stored timestamps carry no zone)."""
    if not conn.autocommit:
        conn.rollback()  # the reader only reads: nothing of the caller's can be lost
        conn.autocommit = True
    conn.execute("set timezone to 'UTC'")
    conn.execute("set datestyle to 'ISO, YMD'")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in TRACE_TABLES:
        con.execute(table.ddl())


def _write_comments(con: duckdb.DuckDBPyConnection) -> None:
    for table in TRACE_TABLES:
        for statement in table.comment_sql():
            con.execute(statement)


def count_day(con: duckdb.DuckDBPyConnection, day: date) -> DayCounts:
    ensure_tables(con)
    start, end = day_bounds(day)
    counts = [
        con.execute(f'select count(*) from "{t.name}" where started_at >= ? and started_at < ?', [start, end])
        .fetchone()[0]
        for t in TRACE_TABLES
    ]
    return DayCounts(int(counts[0]), int(counts[1]))


def libpq_conninfo(conn: psycopg.Connection) -> str:
    """The libpq `key=value` string of `conn`'s own connection (password included), for the extension."""
    params = dict(conn.info.get_parameters())
    if conn.info.password:
        params["password"] = conn.info.password
    params["application_name"] = APPLICATION_NAME
    return " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ts(moment: datetime) -> str:
    return f"timestamp '{moment.isoformat(sep=' ')}'"


def _query(sql: str) -> str:
    """A DuckDB table expression running `sql` in Postgres (in the transaction's snapshot)."""
    return f"postgres_query('{_ALIAS}', {_pg_literal(sql)})"


def _plan(
    con: duckdb.DuckDBPyConnection, source: _Source, start: datetime, end: datetime, slice_rows: int
) -> tuple[list[Slice], int]:
    """The day's slices (whole minutes, at most `slice_rows` rows unless one minute holds more) and its
    invalid rows, from one per-minute count in Postgres."""
    sql = (
        f"select date_trunc('minute', started_at) as minute, count(*)::int8 as n, "
        f"count(*) filter (where {source.invalid})::int8 as bad from {source.relation} "
        f"where started_at >= {_ts(start)} and started_at < {_ts(end)} and {source.where} group by 1 order by 1"
    )
    minutes = con.execute(f"select minute, n, bad from {_query(sql)}").fetchall()
    slices: list[Slice] = []
    lo, rows = start, 0
    for minute, n, _ in minutes:
        if rows and rows + n > slice_rows:
            slices.append(Slice(source.table.name, lo, minute, rows))
            lo, rows = minute, 0
        rows += n
    if rows:
        slices.append(Slice(source.table.name, lo, end, rows))
    return slices, sum(bad for _, _, bad in minutes)


def _load_error_texts(
    con: duckdb.DuckDBPyConnection, source: _Source, start: datetime, end: datetime, *, sql_ascii: bool
) -> None:
    """The day's distinct error texts, scrubbed and truncated once each (errors repeat a lot, and most rows
    have none), into a temporary table the slices join on: raw text → clean text. DuckDB spills it to disk
    if it is large, so it does not bound memory either."""
    sql = (
        f"select distinct {source.expression('error', sql_ascii=sql_ascii)} as raw from {source.relation} "
        f"where started_at >= {_ts(start)} and started_at < {_ts(end)} and {source.where} and error is not null"
    )
    con.execute(
        f"create or replace temp table {_ERRORS} as select raw, {truncate_sql('clean')} as clean "
        f"from (select raw, {scrub_sql('raw')} as clean from {_query(sql)})"
    )


def _copy_slice(con: duckdb.DuckDBPyConnection, source: _Source, reader_sql: str, part: Slice) -> None:
    sql = f"{reader_sql} and started_at >= {_ts(part.start)} and started_at < {_ts(part.end)}"
    names = source.table.names
    columns = ", ".join(f'"{n}"' for n in names)
    # An error text missing from the map (impossible in one snapshot) would become null, never leak.
    select = ", ".join("e.clean" if n == "error" else f'src."{n}"' for n in names)
    con.execute(
        f'insert into "{source.table.name}" ({columns}) select {select} '
        f"from {_query(sql)} as src left join {_ERRORS} as e on src.error = e.raw"
    )


def ingest_day(
    conn: psycopg.Connection,
    con: duckdb.DuckDBPyConnection,
    day: date,
    *,
    slice_rows: int = SLICE_ROWS,
    on_slice: Callable[[Slice], None] | None = None,
) -> DayIngest:
    """Copy `day` from Postgres into DuckDB, replacing it, in slices of at most `slice_rows` rows.

    `conn` checks the schema and names the database; the rows themselves travel over the extension's own
    connection with the same parameters. `on_slice` is called after each slice is inserted (progress).
    """
    _session(conn)
    schema.require_schema(conn)
    duckdb_extensions.load(con, "postgres")
    sql_ascii = conn.info.parameter_status("server_encoding") == "SQL_ASCII"
    start, end = day_bounds(day)
    ensure_tables(con)
    began = time.perf_counter()
    attached = False
    try:
        con.execute(f"attach {_pg_literal(libpq_conninfo(conn))} as {_ALIAS} (type postgres, read_only)")
        attached = True
        con.execute("begin transaction")
        # The plans first: they open the snapshot, which every slice then reads.
        plans = [
            (source, _reader_sql(source, default, sql_ascii), *_plan(con, source, start, end, slice_rows))
            for source, default in ((_EXECUTIONS, _EXECUTIONS_SQL), (_STEP_RUNS, _LOGS_SQL))
        ]
        planned = time.perf_counter()
        for table in TRACE_TABLES:
            con.execute(f'delete from "{table.name}" where started_at >= ? and started_at < ?', [start, end])
        for source, reader, slices, _ in plans:
            _load_error_texts(con, source, start, end, sql_ascii=sql_ascii)
            for part in slices:
                _copy_slice(con, source, reader, part)
                if on_slice is not None:
                    on_slice(part)
        con.execute(f"drop table if exists {_ERRORS}")
        _write_comments(con)
        con.execute("commit")
    except BaseException as exc:
        # DuckDB may have aborted the transaction itself (disk full): keep the real reason, not the rollback's.
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        _raise_clear(exc, day)
        raise
    finally:
        if attached:
            with contextlib.suppress(duckdb.Error):
                con.execute(f"detach {_ALIAS}")
    copied = time.perf_counter()
    written = count_day(con, day)
    source_counts = DayCounts(*(sum(s.rows for s in slices) for _, _, slices, _ in plans))
    return DayIngest(
        day,
        source_counts,
        written,
        planned - began,
        copied - planned,
        sum(len(slices) for _, _, slices, _ in plans),
        DayCounts(*(bad for *_, bad in plans)),
    )


def _raise_clear(exc: BaseException, day: date) -> None:
    """Raise the one-line error for `exc` if it is one the user can act on (else the caller re-raises)."""
    text = str(exc)
    if isinstance(exc, duckdb.Error) and "postgres" in text.lower():
        reason = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise TraceIngestError(
            f"lost the PostgreSQL connection while reading traces of {day.isoformat()} ({reason}); "
            "nothing was written for that day — re-run the partition"
        ) from None
    from wfprof_pipeline.lib.warehouse import write_error

    problem = write_error("the warehouse", exc) if isinstance(exc, (duckdb.Error, OSError)) else None
    if problem is not None:
        raise problem from exc


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
