"""Trace ingest by day from real PostgreSQL (embedded and the machine's server) into a real DuckDB file."""

from __future__ import annotations

import threading
import time
from datetime import date

import duckdb
import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.workflows import ingest, schema, synthetic
from wfprof_pipeline.lib.workflows.tables import EXECUTIONS, STEP_RUNS

DAY = date(2026, 3, 14)
NEXT = date(2026, 3, 15)


def _fill(url: str) -> None:
    with postgres.connect(url, autocommit=True) as conn:
        synthetic.generate(conn, executions=120, steps_per_execution=4, day=DAY, prefix="a")
        synthetic.generate(conn, executions=30, steps_per_execution=3, day=NEXT, prefix="b")


def _table(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"select * from {table} order by all").fetchall()


def test_day_lands_with_sizes_not_payloads_and_scrubbed_errors(embedded_db: str, warehouse_path):
    _fill(embedded_db)
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        def settings() -> tuple:
            return con.execute("select current_setting('threads'), current_setting('memory_limit')").fetchone()

        before, during = settings(), []
        result = ingest.ingest_day(conn, con, DAY, on_slice=lambda _: during.append(settings()))
        # One DuckDB thread and a small memory limit while the day streams, both undone after.
        assert [threads for threads, _ in during] == [1, 1]
        assert all(limit != before[1] for _, limit in during) and settings()[0] == before[0]
        assert result.source == ingest.DayCounts(120, 480)
        assert result.slices == 2  # one stream per table by default: each time window is a Postgres scan of its own
        assert result.written == result.source
        assert ingest.count_day(con, NEXT) == ingest.DayCounts(0, 0)  # only the asked day

        columns = [r[0] for r in con.execute("describe workflow_step_runs").fetchall()]
        assert "input" not in columns and "output" not in columns
        assert columns == STEP_RUNS.names
        expected_bytes = dict(
            conn.execute("select id, octet_length(input::text) from workflow_execution_logs").fetchall()
        )
        got = dict(con.execute("select log_id, input_bytes from workflow_step_runs").fetchall())
        assert got == {k: v for k, v in expected_bytes.items() if k.startswith("a-")}

        errors = {r[0] for r in con.execute("select error from workflow_executions where error is not null").fetchall()}
        assert len(errors) == 1
        (error,) = errors
        assert "SECRETKEY123" not in error and "ab" * 32 not in error and "[REDACTED:" in error
        assert con.execute("select count(*) from workflow_executions where status = 'error'").fetchone()[0] == 12
        durations = con.execute("select min(duration_ms), max(duration_ms) from workflow_step_runs").fetchone()
        assert 1 <= durations[0] <= durations[1] <= 901
        first = con.execute("select min(started_at)::date, max(started_at)::date from workflow_step_runs").fetchone()
        assert first == (DAY, DAY)


def test_reingesting_a_day_is_identical_and_replaces_exactly_that_day(embedded_db: str, warehouse_path):
    _fill(embedded_db)
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        ingest.ingest_day(conn, con, DAY)
        ingest.ingest_day(conn, con, NEXT)
        before = {t: _table(con, t) for t in (EXECUTIONS.name, STEP_RUNS.name)}
        ingest.ingest_day(conn, con, DAY)
        assert {t: _table(con, t) for t in before} == before

        # The source changes for DAY only: a re-run replaces DAY and leaves NEXT as it was.
        conn.execute("delete from workflow_executions where id in ('a-e1', 'a-e2')")
        conn.execute("update workflow_execution_logs set duration = 'n/a' where id = 'a-l3-0'")
        next_rows = con.execute(
            "select * from workflow_step_runs where started_at >= ? order by all", [NEXT]
        ).fetchall()
        result = ingest.ingest_day(conn, con, DAY)
        assert result.written == ingest.DayCounts(118, 472)
        assert con.execute("select duration_ms from workflow_step_runs where log_id = 'a-l3-0'").fetchone() == (None,)
        assert con.execute(
            "select * from workflow_step_runs where started_at >= ? order by all", [NEXT]
        ).fetchall() == (next_rows)


def test_days_with_data_and_an_empty_day(system_db: str, warehouse_path):
    """The machine's PostgreSQL over TCP works the same as the embedded server's socket."""
    _fill(system_db)
    with postgres.connect(system_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        assert ingest.days_with_data(conn) == [DAY, NEXT]
        assert ingest.ingest_day(conn, con, date(2026, 1, 1)).written == ingest.DayCounts(0, 0)
        assert ingest.ingest_day(conn, con, NEXT).written == ingest.DayCounts(30, 90)


def test_a_database_with_another_datestyle_and_timezone_ingests_the_same_utc_day(embedded_db: str, warehouse_path):
    with postgres.connect(embedded_db, autocommit=True) as conn:
        synthetic.generate(conn, executions=20, steps_per_execution=2, day=DAY, prefix="a")
        conn.execute(f"alter database \"{conn.info.dbname}\" set datestyle to 'SQL, DMY'")
        conn.execute(f"alter database \"{conn.info.dbname}\" set timezone to 'Asia/Kolkata'")
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        assert conn.execute("show datestyle").fetchone()[0] == "SQL, DMY"
        assert ingest.ingest_day(conn, con, DAY).written == ingest.DayCounts(20, 40)
        first = con.execute("select min(started_at) from workflow_executions").fetchone()[0]
        expected = conn.execute("select min(started_at) from workflow_executions").fetchone()[0]
    assert first == expected


def test_missing_table_and_missing_column_are_named(embedded_db: str):
    with postgres.connect(embedded_db, autocommit=True) as conn:
        with pytest.raises(schema.SchemaMismatch, match="table workflow_executions is missing"):
            ingest.ingest_day(conn, duckdb.connect(), DAY)
        schema.create_schema(conn)
        conn.execute("alter table workflow_execution_logs drop column duration")
        conn.execute("alter table workflow_execution_logs add column extra_col text")  # extras are fine
        with pytest.raises(schema.SchemaMismatch, match=r"workflow_execution_logs lacks column\(s\) duration"):
            ingest.ingest_day(conn, duckdb.connect(), DAY)


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(postgres.PostgresUnreachable, match=r"cannot connect to PostgreSQL at .*127\.0\.0\.1:9"):
        postgres.connect("postgresql://wf:pw@127.0.0.1:9/keeperhub", timeout_s=2)


def test_postgres_dying_mid_ingest_leaves_the_previous_day_and_a_rerun_completes(embedded_db: str, warehouse_path):
    _fill(embedded_db)
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        ingest.ingest_day(conn, con, DAY)
        previous = _table(con, STEP_RUNS.name)
    with postgres.connect(embedded_db, autocommit=True) as admin:
        synthetic.generate(admin, executions=10, steps_per_execution=2, day=DAY, prefix="late")
        # Hold the logs table so the ingest has planned the day and copied executions, then waits on the logs;
        # the session streaming the rows is then terminated, exactly as if the server went away mid-ingest.
        locker = postgres.connect(embedded_db)
        locker.execute("lock table workflow_execution_logs in access exclusive mode")
        errors: list[BaseException] = []
        victim = postgres.connect(embedded_db)

        def run() -> None:
            try:
                with duckdb.connect(str(warehouse_path)) as con2:
                    ingest.ingest_day(victim, con2, DAY)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            waiting = admin.execute(
                "select pid from pg_stat_activity where application_name = %s and wait_event_type = 'Lock'",
                (ingest.APPLICATION_NAME,),
            ).fetchall()
            if waiting:
                (victim_pid,), *_ = waiting
                break
            time.sleep(0.05)
        else:
            pytest.fail("the ingest never reached the locked table")
        admin.execute("select pg_terminate_backend(%s)", (victim_pid,))
        worker.join(20)
        locker.rollback()
        locker.close()
        victim.close()
    assert len(errors) == 1 and isinstance(errors[0], ingest.TraceIngestError), errors
    assert "nothing was written" in str(errors[0])
    with duckdb.connect(str(warehouse_path)) as con:
        assert _table(con, STEP_RUNS.name) == previous
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        assert ingest.ingest_day(conn, con, DAY).written == ingest.DayCounts(130, 500)


def test_bad_values_become_null_are_counted_and_never_fail_a_day(embedded_db: str, warehouse_path):
    """NaN/Infinity durations and timestamps outside what DuckDB and Python hold (issue 16, item 6)."""
    _fill(embedded_db)
    with postgres.connect(embedded_db, autocommit=True) as conn:
        for log_id, duration in (("a-l1-0", "NaN"), ("a-l1-1", "Infinity"), ("a-l1-2", "-Infinity"),
                                 ("a-l1-3", "1e400")):
            conn.execute("update workflow_execution_logs set duration = %s where id = %s", (duration, log_id))
        conn.execute("update workflow_executions set duration = 'NaN', total_steps = 'Infinity' where id = 'a-e1'")
        conn.execute("update workflow_execution_logs set completed_at = '294276-01-01' where id = 'a-l2-0'")
        conn.execute("update workflow_executions set completed_at = 'infinity' where id = 'a-e2'")
        # Rows whose start no date can hold stop no day (they belong to none).
        conn.execute("update workflow_executions set started_at = '0044-03-15 BC' where id = 'a-e3'")
        conn.execute("update workflow_execution_logs set started_at = '12000-01-01' where id = 'a-l3-0'")
        conn.execute("update workflow_execution_logs set started_at = 'infinity' where id = 'a-l3-1'")
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        assert ingest.days_with_data(conn) == [DAY, NEXT]
        result = ingest.ingest_day(conn, con, DAY)
        assert result.written == result.source == ingest.DayCounts(119, 478)
        # 4 durations + a-l2-0's completed_at (logs) + a-e1 (two bad values, one row) + a-e2's completed_at
        assert result.invalid_rows == 7
        bad = con.execute("select duration_ms from workflow_step_runs where log_id in "
                          "('a-l1-0', 'a-l1-1', 'a-l1-2', 'a-l1-3')").fetchall()
        assert bad == [(None,)] * 4
        assert con.execute("select completed_at from workflow_step_runs where log_id = 'a-l2-0'").fetchone() == (None,)
        assert con.execute("select duration_ms, total_steps, completed_at is null from workflow_executions "
                           "where execution_id in ('a-e1', 'a-e2') order by 1 nulls first").fetchall()[0][:2] == (
            None, None)
        p95, low, high = con.execute("select quantile_cont(duration_ms, 0.95), min(duration_ms), max(duration_ms) "
                                     "from workflow_step_runs").fetchone()
        assert all(v == v and abs(v) < 1e6 for v in (p95, low, high))  # no NaN, no ±inf, no -1e308


def _digest(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Counts plus a content hash of both tables (every column)."""
    return [
        con.execute(f"select count(*), sum(hash(columns(*))) from {t}").fetchone() for t in (EXECUTIONS.name,
                                                                                            STEP_RUNS.name)
    ]


def test_a_day_in_many_slices_is_identical_to_one_slice_including_rows_on_the_boundaries(
    embedded_db: str, tmp_path
):
    _fill(embedded_db)
    with postgres.connect(embedded_db, autocommit=True) as conn:
        # Rows exactly on the edges of 4 slices (06:00, 12:00, 18:00), at the first and the last microsecond.
        for i, moment in enumerate(("00:00:00", "06:00:00", "11:59:59.999999", "12:00:00", "18:00:00",
                                    "23:59:59.999999")):
            conn.execute(
                "insert into workflow_execution_logs (id, execution_id, node_id, node_name, node_type, status, "
                "input, output, error, started_at, completed_at, duration, timestamp) values (%s, 'a-e1', 'n9', "
                "'Edge', 'webhook/send', 'error', '{}', '{}', %s, %s, %s, '5', %s)",
                (f"edge-{i}", f"edge {i}: token=tkn_{i}secret123", f"{DAY} {moment}", f"{DAY} {moment}",
                 f"{DAY} {moment}"),
            )
    digests = {}
    for slices in (1, 4, 7):
        seen: list[ingest.Slice] = []
        with postgres.connect(embedded_db) as conn, duckdb.connect(str(tmp_path / f"s{slices}.duckdb")) as con:
            result = ingest.ingest_day(conn, con, DAY, slices=slices, on_slice=seen.append)
            assert result.written == result.source == ingest.DayCounts(120, 486)
            digests[slices] = _digest(con)
            assert con.execute("select count(*) from workflow_step_runs where log_id like 'edge-%' "
                               "and error like '%[REDACTED:secret-field]%'").fetchone()[0] == 6
        assert result.slices == len(seen) == 2 * slices
        assert [p.start for p in seen[:slices]] == [p.start for p in seen[slices:]]  # same windows per table
        assert all(a.end == b.start for a, b in zip(seen[:slices], seen[1:slices], strict=False))
    assert digests[1] == digests[4] == digests[7]


def test_the_connection_lost_between_slices_leaves_the_previous_day_and_a_rerun_completes(
    embedded_db: str, warehouse_path
):
    _fill(embedded_db)
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        ingest.ingest_day(conn, con, DAY)
        previous = _digest(con)
        settings = con.execute("select current_setting('memory_limit'), current_setting('threads')").fetchone()
    with postgres.connect(embedded_db, autocommit=True) as admin:
        synthetic.generate(admin, executions=10, steps_per_execution=2, day=DAY, prefix="late")
        copied: list[ingest.Slice] = []

        def kill_after_two_step_run_slices(part: ingest.Slice) -> None:
            copied.append(part)
            if part.table == STEP_RUNS.name and sum(p.table == STEP_RUNS.name for p in copied) == 2:
                killed = admin.execute("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                                       "where application_name = %s", (ingest.APPLICATION_NAME,)).fetchone()[0]
                assert killed >= 1

        with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
            with pytest.raises(ingest.TraceIngestError, match=r"lost the PostgreSQL connection while reading traces "
                               r"of 2026-03-14 \(.+\); nothing was written for that day — re-run the partition"):
                ingest.ingest_day(conn, con, DAY, slices=6, on_slice=kill_after_two_step_run_slices)
            assert len(copied) == 6 + 2  # all executions and two slices of step runs were in, uncommitted
            assert _digest(con) == previous
            assert con.execute("select current_setting('memory_limit'), current_setting('threads')"
                               ).fetchone() == settings  # the ingest's settings are undone
            assert con.execute("select count(*) from duckdb_databases() where database_name = ?",
                               [ingest._ALIAS]).fetchone()[0] == 0  # detached
    with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
        assert ingest.ingest_day(conn, con, DAY).written == ingest.DayCounts(130, 500)


def test_rows_committed_while_a_day_streams_are_left_out_of_every_slice_and_count(embedded_db: str, warehouse_path):
    # The platform keeps writing while a day is copied: every slice and count reads the moment the day began.
    _fill(embedded_db)
    with postgres.connect(embedded_db, autocommit=True) as admin:
        seen: list[ingest.Slice] = []

        def platform_writes_after_the_first_slice(part: ingest.Slice) -> None:
            seen.append(part)
            if len(seen) == 1:  # after the first slice: the other five, and the step runs' count, are read later
                synthetic.generate(admin, executions=7, steps_per_execution=3, day=DAY, prefix="during")

        with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
            result = ingest.ingest_day(conn, con, DAY, slices=3, on_slice=platform_writes_after_the_first_slice)
            assert result.source == result.written == ingest.DayCounts(120, 480)
            assert con.execute("select count(*) from workflow_step_runs where execution_id like 'during%'"
                               ).fetchone()[0] == 0
        with postgres.connect(embedded_db) as conn, duckdb.connect(str(warehouse_path)) as con:
            assert ingest.ingest_day(conn, con, DAY).written == ingest.DayCounts(127, 501)  # the next run has them


def test_replacing_a_huge_day_raises_the_memory_limit_by_its_rows() -> None:
    # DuckDB keeps version info per deleted row until the commit: beyond what the fixed limit was measured to
    # hold, each replaced row adds to the limit, so a re-ingest never runs out of memory.
    assert ingest.ingest_memory_limit_mb(ingest.DayCounts(0, 0)) == ingest.MEMORY_LIMIT_MB
    assert ingest.ingest_memory_limit_mb(ingest.DayCounts(1_000_000, 10_000_000)) == ingest.MEMORY_LIMIT_MB
    assert ingest.ingest_memory_limit_mb(ingest.DayCounts(10_000_000, 100_000_000)) == ingest.MEMORY_LIMIT_MB + 756


def test_a_socket_server_streams_through_the_buffering_relay_and_a_tcp_one_directly(
    embedded_db: str, system_db: str, tmp_path, monkeypatch
):
    relayed: list[tuple[str, int, int]] = []
    real = ingest.pg_forward.buffered_socket

    def spy(server_dir: str, port: int, buffer_bytes: int):
        relayed.append((server_dir, port, buffer_bytes))
        return real(server_dir, port, buffer_bytes)

    monkeypatch.setattr(ingest.pg_forward, "buffered_socket", spy)
    digests = []
    for url in (embedded_db, system_db):
        _fill(url)
        with postgres.connect(url) as conn, duckdb.connect(str(tmp_path / f"{len(digests)}.duckdb")) as con:
            assert ingest.ingest_day(conn, con, DAY).written == ingest.DayCounts(120, 480)
            digests.append([_table(con, t.name) for t in (EXECUTIONS, STEP_RUNS)])
    with postgres.connect(embedded_db) as conn:
        assert relayed == [(conn.info.host, conn.info.port, ingest.RELAY_BUFFER_MB << 20)]  # TCP: none added
    assert digests[0] == digests[1]
