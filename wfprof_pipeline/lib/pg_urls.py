"""Postgres URL helpers: driver schemes and password-free descriptions for error messages."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit


def with_scheme(url: str, scheme: str) -> str:
    """Return `url` with its scheme replaced (`postgresql+psycopg2`, `postgresql`, ...).

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which breaks dagster-postgres; Dagster
    storage URLs therefore always carry `+psycopg2`, while libpq, psycopg 3 and Node's `pg` want the bare form.
    """
    parts = urlsplit(url)
    return urlunsplit((scheme, *parts[1:]))


def libpq_url(url: str) -> str:
    """The URL as libpq, psycopg 3 and node-postgres understand it (no SQLAlchemy driver suffix)."""
    scheme = urlsplit(url).scheme
    return with_scheme(url, "postgresql") if scheme.startswith("postgresql+") else url


def socket_dir(url: str) -> str | None:
    """The URL's unix-socket directory, or None for a TCP URL."""
    parts = urlsplit(libpq_url(url))
    host = parts.hostname or dict(parse_qsl(parts.query)).get("host", "")
    return host if host.startswith("/") else None


def describe(url: str) -> str:
    """`host:port/database` (or the socket directory) for messages; never the password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host", ["localhost"])[0])
    port = f":{parts.port}" if parts.port else ""
    database = parts.path.lstrip("/") or "(default database)"
    user = f"{parts.username}@" if parts.username else ""
    return f"{user}{host}{port}/{database}"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))
