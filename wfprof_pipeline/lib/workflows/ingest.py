"""Workflow traces, one day at a time: KeeperHub Postgres → DuckDB's postgres extension → DuckDB, streamed.

- Transport: DuckDB's own postgres extension (`postgres_query`: binary COPY, decoded in C++), attached to the
  warehouse connection for the ingest. Each slice (by default a table's whole day) is one `INSERT … SELECT`
  that streams rows from Postgres into the table in DuckDB's vectors: nothing of the day is held in Python
  or in memory as a whole, so memory does not grow with the day (replacing a day adds the DELETE's version
  info, a few bytes per replaced row, until the commit).
- Slices: a caller may read the day in `slices` equal time windows (progress per window); the default is
  one window per table. Memory does not depend on it (the rows stream), but each window is its own scan in
  Postgres, and on a table not stored in time order every window reads the whole table: at 10M rows,
  24 windows took 70 s against 29 s for one. Postgres does only what the plain copy does (the select
  list), plus one grouped count.
- Over a unix socket (the embedded server, a local one), the extension's connection passes through an
  in-process relay that buffers up to RELAY_BUFFER_MB of Postgres's replies (see `pg_forward`), so Postgres
  keeps streaming while DuckDB compresses a row group: a unix socket holds only ~200 KB, TCP's receive buffer
  grows to tens of MB by itself.
- One REPEATABLE READ snapshot per day: the extension runs every query of a DuckDB transaction in one
  Postgres transaction, so the day's source counts, its error texts and every slice come from the same
  moment, even while the platform writes.
- Payloads never leave Postgres: only `octet_length(input::text)` / `output` (bytes of their JSON text).
- Error texts are cut to a bound in Postgres; each distinct text of the day is scrubbed of secrets once
  (DuckDB's RE2, the rules of `scrub.py`) and truncated, and the slices take the clean text from that map.
- KeeperHub's numbers-as-text are parsed by DuckDB. A value that cannot be kept is first marked (NaN, a
  sentinel, ±infinity), counted, then set to null before the commit: no value is ever parsed twice.
- Executions wfprof created while profiling (ids `wfprof-prof-…`) are left out: their timings are the
  profiler's, not the platform's.
- The DuckDB write deletes the day and inserts it in one transaction that commits only after every slice:
  a connection lost mid-stream rolls it back, leaving the previous state of the day intact; a re-run
  completes it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import psycopg

from wfprof_pipeline.lib import duckdb_extensions, pg_forward
from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.tables import Table
from wfprof_pipeline.lib.workflows import schema
from wfprof_pipeline.lib.workflows.scrub import ERROR_MAX_CHARS, scrub_sql, truncate_sql
from wfprof_pipeline.lib.workflows.tables import EXECUTIONS, STEP_RUNS, TRACE_TABLES

# Bound on error text fetched from Postgres; scrubbing runs on this, truncation to ERROR_MAX_CHARS after.
_ERROR_FETCH_CHARS = 4 * ERROR_MAX_CHARS
# Time windows per table and day, one INSERT each. One: the rows stream whatever the window's size, and each
# window is a scan of its own in Postgres (a whole-table scan where rows are not stored in time order).
SLICES = 1
# DuckDB's memory limit while a day is ingested (restored after): its buffer pool would otherwise keep the
# blocks just written, so the process would grow with the day even though the rows stream.
MEMORY_LIMIT_MB = 128
# Replacing a day: DuckDB's DELETE keeps version info per deleted row (≈5 bytes, measured) in memory until the
# commit, inside the limit (96 MB ran out re-ingesting an 11M-row day; 128 MB held it, peak RSS 273 MB).
# Beyond the rows measured to fit, the limit grows by REPLACED_ROW_BYTES per replaced row, so a re-ingest of
# any size fits; a first ingest stays at the fixed bound.
REPLACED_ROWS_IN_LIMIT = 11_000_000
REPLACED_ROW_BYTES = 8
# DuckDB's threads while a day is ingested (restored after). Every statement is one stream from Postgres that
# one thread runs. With a second thread, that worker often takes the stream while the calling thread polls the
# query in a loop (DuckDB's Python client), holding a core that Postgres needs: measured at 10M rows on 2
# cores, 42–58 s of CPU and 31–43 s wall, against 23–24 s of CPU and 29–32 s wall with one thread.
INGEST_THREADS = 1
# The relay's buffer of Postgres's replies on a unix socket. DuckDB stops reading while it compresses a full row
# group (122,880 rows: ~17 MB of the step runs' binary COPY), and the socket holds ~200 KB, so without it
# Postgres waited for every row group. Measured at 10M rows on 2 cores: the step-run stream took 16.6–18.7 s
# direct, 13–14 s with 8 MB, 12 s with 16 MB and with 32 MB; peak RSS grows by about the buffer's size.
RELAY_BUFFER_MB = 16
# The name the ingest's Postgres session shows in pg_stat_activity.
APPLICATION_NAME = "wfprof-trace-ingest"
_ALIAS = "_wfprof_keeperhub"
_ERRORS = "_wfprof_error_texts"

_PROFILED = f"'{schema.PROFILED_EXECUTION_PREFIX}%'"

# Postgres timestamps run from 4713 BC to 294276 AD plus ±infinity; DuckDB's (and Python's) do not, and one
# such value failed the whole day. Outside years 1–9999 a timestamp becomes null, flagged in `_bad_ts`.
_TS_OK = "{col} >= '0001-01-01' and {col} < '10000-01-01'"
_COMPLETED = f"(case when {_TS_OK.format(col='completed_at')} then completed_at end)::timestamp"
_BAD_TS = f"(completed_at is not null and not ({_TS_OK.format(col='completed_at')}))"
BAD_TS_COLUMN = "_bad_ts"

# Marks of a value that could not be kept, between the insert and the count (never committed): a double
# NaN (a kept duration is finite), an integer sentinel (so the literal -9223372036854775808 counts as
# invalid too) and an infinite timestamp (a kept one lies in years 1–9999).
_INT_MARK = "'-9223372036854775808'::bigint"


@dataclass(frozen=True)
class _Source:
    """How one trace table is read: a Postgres expression per column (in the table's order) and which
    columns hold text numbers that DuckDB parses."""

    table: Table
    relation: str
    expressions: list[str]
    where: str
    text_numbers: tuple[str, ...]

    def select(self, *, sql_ascii: bool = False) -> str:
        """The Postgres select list, each expression named as its column (the extension selects by name)."""
        columns = [f'{self.expression(c, sql_ascii=sql_ascii)} as "{c}"' for c in self.table.names]
        return ", ".join([*columns, f'{_BAD_TS} as "{BAD_TS_COLUMN}"'])

    def expression(self, column: str, *, sql_ascii: bool = False) -> str:
        expr = self.expressions[self.table.names.index(column)]
        is_text = self.table.column(column).duckdb_type == "varchar" or column in self.text_numbers
        return _utf8(expr) if sql_ascii and is_text else expr

    def converted(self, column: str) -> str:
        """DuckDB: the column as stored, a value that cannot be kept marked (see `marked`)."""
        duckdb_type = self.table.column(column).duckdb_type
        if column in self.text_numbers:
            parsed = f'try_cast(trim(src."{column}") as {duckdb_type})'
            kept = f"isfinite({parsed})" if duckdb_type == "double" else f"{parsed} is not null"
            mark = "'nan'::double" if duckdb_type == "double" else _INT_MARK
            return f"""(case when nullif(trim(src."{column}"), '') is null then null when {kept} then {parsed}
                        else {mark} end)"""
        if column == "completed_at":
            return f"(case when src.{BAD_TS_COLUMN} then 'infinity'::timestamp else src.completed_at end)"
        if column == "error":
            return "e.clean"  # a text missing from the map (impossible in one snapshot) becomes null, never leaks
        return f'src."{column}"'

    def marked(self) -> dict[str, str]:
        """Column → DuckDB predicate: the value is a mark, i.e. could not be kept."""
        marks = {"completed_at": "isinf(completed_at)"}
        for column in self.text_numbers:
            double = self.table.column(column).duckdb_type == "double"
            marks[column] = f'isnan("{column}")' if double else f'"{column}" = {_INT_MARK}'
        return marks


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
        "id", "workflow_id", "user_id", "status", "started_at::timestamp", _COMPLETED, "duration",
        "total_steps::text", "completed_steps::text", "current_node_id", "octet_length(input::text)",
        "octet_length(output::text)", f"left(error, {_ERROR_FETCH_CHARS})",
    ],
    f"id not like {_PROFILED}",
    ("duration_ms", "total_steps", "completed_steps"),
)
_STEP_RUNS = _Source(
    STEP_RUNS,
    schema.LOGS,
    [
        "id", "execution_id", "node_id", "node_name", "node_type", "status", "started_at::timestamp", _COMPLETED,
        "duration", "octet_length(input::text)", "octet_length(output::text)", f"left(error, {_ERROR_FETCH_CHARS})",
        "iteration_index", "for_each_node_id",
    ],
    f"execution_id not like {_PROFILED}",
    ("duration_ms",),
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


@dataclass(frozen=True)
class DayIngest:
    day: date
    source: DayCounts  # count(*) in Postgres for the day, in the snapshot that was copied
    written: DayCounts  # rows in DuckDB for the day after the write
    seconds: float
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


def count_day(con: duckdb.DuckDBPyConnection, day: date) -> DayCounts:
    ensure_tables(con)
    start, end = day_bounds(day)
    counts = [
        con.execute(f'select count(*) from "{t.name}" where started_at >= ? and started_at < ?', [start, end])
        .fetchone()[0]
        for t in TRACE_TABLES
    ]
    return DayCounts(int(counts[0]), int(counts[1]))


def libpq_conninfo(conn: psycopg.Connection, *, host: str | None = None) -> str:
    """The libpq `key=value` string of `conn`'s own connection (password included), for the extension;
    `host` replaces the server's host or socket directory."""
    params = dict(conn.info.get_parameters())
    if host is not None:
        params["host"] = host
    if conn.info.password:
        params["password"] = conn.info.password
    params["application_name"] = APPLICATION_NAME
    return " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())


@contextlib.contextmanager
def _extension_conninfo(conn: psycopg.Connection) -> Iterator[str]:
    """The extension's conninfo for `conn`'s server: through a buffering relay when it is a unix socket."""
    host = conn.info.host
    if not host.startswith("/"):
        yield libpq_conninfo(conn)
        return
    with pg_forward.buffered_socket(host, conn.info.port, RELAY_BUFFER_MB << 20) as directory:
        yield libpq_conninfo(conn, host=directory)


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ts(moment: datetime) -> str:
    return f"timestamp '{moment.isoformat(sep=' ')}'"


def _query(sql: str) -> str:
    """A DuckDB table expression running `sql` in Postgres (in the transaction's snapshot)."""
    return f"postgres_query('{_ALIAS}', {_literal(sql)})"


def _time_slices(table: str, start: datetime, end: datetime, slices: int) -> list[Slice]:
    step = (end - start) / slices
    edges = [start + i * step for i in range(slices)] + [end]
    return [Slice(table, lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)]


def _load_error_texts(
    con: duckdb.DuckDBPyConnection, source: _Source, start: datetime, end: datetime, *, sql_ascii: bool
) -> int:
    """The day's distinct error texts, each scrubbed and truncated once (errors repeat a lot and most rows
    have none), into the temporary map the slices join on. The same grouped query counts the day's rows,
    so the source count costs Postgres nothing extra. Returns that count."""
    sql = (
        f"select {source.expression('error', sql_ascii=sql_ascii)} as raw, count(*)::int8 as n "
        f"from {source.relation} where started_at >= {_ts(start)} and started_at < {_ts(end)} "
        f"and {source.where} group by 1"
    )
    con.execute(
        f"create or replace temp table {_ERRORS} as select raw, {truncate_sql('clean')} as clean, n "
        f"from (select raw, {scrub_sql('raw')} as clean, n from {_query(sql)})"
    )
    row = con.execute(f"select coalesce(sum(n), 0) from {_ERRORS}").fetchone()
    return int(row[0]) if row else 0


def _copy_slice(con: duckdb.DuckDBPyConnection, source: _Source, reader_sql: str, part: Slice) -> None:
    sql = f"{reader_sql} and started_at >= {_ts(part.start)} and started_at < {_ts(part.end)}"
    names = source.table.names
    columns = ", ".join(f'"{n}"' for n in names)
    select = ", ".join(source.converted(n) for n in names)
    con.execute(
        f'insert into "{source.table.name}" ({columns}) select {select} '
        f"from {_query(sql)} as src left join {_ERRORS} as e on src.error = e.raw"
    )


def _clear_marks(con: duckdb.DuckDBPyConnection, source: _Source, start: datetime, end: datetime) -> int:
    """Count the day's rows holding a mark, then set every mark to null; returns the count."""
    marks = source.marked()
    day = f"started_at >= {_ts(start)} and started_at < {_ts(end)}"
    any_mark = " or ".join(f"coalesce({m}, false)" for m in marks.values())
    table = source.table.name
    row = con.execute(f'select count(*) from "{table}" where {day} and ({any_mark})').fetchone()
    invalid = int(row[0]) if row else 0
    if invalid:
        sets = ", ".join(f'"{c}" = case when coalesce({m}, false) then null else "{c}" end' for c, m in marks.items())
        con.execute(f'update "{table}" set {sets} where {day} and ({any_mark})')
    return invalid


def ingest_day(
    conn: psycopg.Connection,
    con: duckdb.DuckDBPyConnection,
    day: date,
    *,
    slices: int = SLICES,
    on_slice: Callable[[Slice], None] | None = None,
) -> DayIngest:
    """Copy `day` from Postgres into DuckDB, replacing it, in `slices` time windows per table.

    `conn` checks the schema and names the database; the rows themselves travel over the extension's own
    connection with the same parameters. `on_slice` is called after each slice is inserted (progress).
    """
    _session(conn)
    schema.require_schema(conn)
    duckdb_extensions.load(con, "postgres_scanner")
    sql_ascii = conn.info.parameter_status("server_encoding") == "SQL_ASCII"
    start, end = day_bounds(day)
    began = time.perf_counter()
    attached = False
    memory_limit, threads = con.execute(
        "select current_setting('memory_limit'), current_setting('threads')").fetchone()
    replaced = count_day(con, day)  # creates the tables if they are not there yet
    con.execute(f"set memory_limit = '{ingest_memory_limit_mb(replaced)}MB'")
    con.execute(f"set threads = {INGEST_THREADS}")
    source_counts: list[int] = []
    invalid: list[int] = []
    parts = 0
    relay = contextlib.ExitStack()
    try:
        conninfo = relay.enter_context(_extension_conninfo(conn))
        con.execute(f"attach {_literal(conninfo)} as {_ALIAS} (type postgres, read_only)")
        attached = True
        con.execute("begin transaction")
        for table in TRACE_TABLES:
            con.execute(f'delete from "{table.name}" where started_at >= ? and started_at < ?', [start, end])
        for source, default in ((_EXECUTIONS, _EXECUTIONS_SQL), (_STEP_RUNS, _LOGS_SQL)):
            reader = _reader_sql(source, default, sql_ascii)
            source_counts.append(_load_error_texts(con, source, start, end, sql_ascii=sql_ascii))
            for part in _time_slices(source.table.name, start, end, slices):
                _copy_slice(con, source, reader, part)
                parts += 1
                if on_slice is not None:
                    on_slice(part)
            invalid.append(_clear_marks(con, source, start, end))
        con.execute(f"drop table if exists {_ERRORS}")
        for table in TRACE_TABLES:
            for statement in table.comment_sql():
                con.execute(statement)
        con.execute("commit")
    except BaseException as exc:
        # DuckDB may have aborted the transaction itself (disk full): keep the real reason, not the rollback's.
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        _raise_clear(exc, day)
        raise
    finally:
        undo = [f"detach {_ALIAS}"] if attached else []
        for statement in (*undo, f"set memory_limit = '{memory_limit}'", f"set threads = {int(threads)}"):
            with contextlib.suppress(duckdb.Error):  # each on its own: one failing must not keep the others
                con.execute(statement)
        relay.close()  # after the detach, which closes the extension's connections
    seconds = time.perf_counter() - began
    return DayIngest(day, DayCounts(*source_counts), count_day(con, day), seconds, parts, DayCounts(*invalid))


def ingest_memory_limit_mb(replaced: DayCounts) -> int:
    """DuckDB's memory limit for ingesting a day that holds `replaced` rows already (MEMORY_LIMIT_MB if none)."""
    beyond = max(0, replaced.executions + replaced.step_runs - REPLACED_ROWS_IN_LIMIT)
    return MEMORY_LIMIT_MB + -(-beyond * REPLACED_ROW_BYTES // (1 << 20))


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
