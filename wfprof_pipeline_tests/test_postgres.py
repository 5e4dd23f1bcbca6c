"""Postgres faults: unreachable servers are named without secrets; a crashed embedded server comes back."""

import os
import signal
import time
from pathlib import Path

import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.pg_urls import describe, libpq_url, with_scheme


def test_unreachable_server_names_host_and_database_never_the_password() -> None:
    url = "postgresql://keeper:s3cr3t-pw@127.0.0.1:1/keeperhub"
    with pytest.raises(postgres.PostgresUnreachable) as err:
        postgres.connect(url, timeout_s=2)
    message = str(err.value)
    assert "127.0.0.1:1/keeperhub" in message
    assert "s3cr3t-pw" not in message


def test_unknown_database_on_a_real_server_is_reported(system_db: str) -> None:
    from wfprof_pipeline.lib.pg_urls import with_database

    with pytest.raises(postgres.PostgresUnreachable, match="no_such_db"):
        postgres.connect(with_database(system_db, "no_such_db"))


def test_url_helpers() -> None:
    url = "postgresql+psycopg2://u:p@db.internal:5433/dagster?sslmode=require"
    assert libpq_url(url) == "postgresql://u:p@db.internal:5433/dagster?sslmode=require"
    assert with_scheme("postgresql://u@/d?host=/tmp/s", "postgresql+psycopg2").startswith("postgresql+psycopg2://")
    assert describe(url) == "u@db.internal:5433/dagster"
    assert describe("postgresql://postgres:@/keeperhub?host=/run/pg") == "postgres@/run/pg/keeperhub"


@pytest.mark.integration
def test_embedded_server_recovers_from_a_stale_postmaster_pid(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = postgres.start_embedded(home)
    try:
        with postgres.connect(server.url(postgres.DEMO_DATABASE), autocommit=True) as conn:
            conn.execute("create table kept (x int)")
            conn.execute("insert into kept values (42)")
            conn.execute("checkpoint")
        pid = int((server.pgdata / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)  # a crash: postmaster.pid stays behind
        deadline = time.monotonic() + 10
        while postgres.embedded_status(home) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (server.pgdata / "postmaster.pid").exists()

        restarted = postgres.start_embedded(home)
        with postgres.connect(restarted.url(postgres.DEMO_DATABASE)) as conn:
            assert conn.execute("select x from kept").fetchall() == [(42,)]
    finally:
        postgres.stop_embedded(home)
    assert postgres.embedded_status(home) is None
