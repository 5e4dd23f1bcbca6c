"""The database, and only the database, for a Node process in its own network namespace.

A unix socket is a filesystem object, so it is reachable across network namespaces. A forwarder outside the
namespace listens on `.s.PGSQL.<port>` in a private temporary directory and relays each connection to the
real server; the inner URL names that directory (`?host=<dir>`). Bytes are relayed as they are (TLS and auth
stay end to end). A socket-directory URL (the embedded Postgres) is forwarded too: its directory belongs to
the server's user, which is not mapped in the namespace's user namespace, so it cannot be opened from inside.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from wfprof_pipeline.lib.errors import WfprofError
from wfprof_pipeline.lib.pg_urls import libpq_url, socket_dir


class ForwardError(WfprofError, RuntimeError):
    """The database forwarder could not be set up."""


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _connect(target: str | tuple[str, int]) -> socket.socket:
    if isinstance(target, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(10)
            sock.connect(target)
        except OSError:
            sock.close()
            raise
        return sock
    return socket.create_connection(target, timeout=10)


def _serve(listener: socket.socket, target: str | tuple[str, int], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            inner, _ = listener.accept()
        except TimeoutError:
            continue  # look at `stop` again
        except OSError:
            return  # closed
        inner.settimeout(None)
        try:
            outer = _connect(target)
            outer.settimeout(None)
        except OSError:
            inner.close()  # the client sees the connection close, as it would have outside
            continue
        threading.Thread(target=_relay, args=(inner, outer), daemon=True, name="wfprof-pg-forward").start()


def _relay(inner: socket.socket, outer: socket.socket) -> None:
    back = threading.Thread(target=_pump, args=(outer, inner), daemon=True)
    back.start()
    _pump(inner, outer)
    back.join()
    inner.close()
    outer.close()


def _inner_url(url: str, directory: str, port: int) -> str:
    parts = urlsplit(libpq_url(url))
    user = parts.username or ""
    auth = f"{user}:{parts.password}@" if parts.password is not None else (f"{user}@" if user else "")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port", "hostaddr")]
    query += [("host", directory), ("port", str(port))]
    return f"{parts.scheme}://{auth}{parts.path or '/'}?{urlencode(query)}"


@contextlib.contextmanager
def database_for_namespace(url: str) -> Iterator[str]:
    """The URL a process in a fresh network namespace uses to reach `url`'s database, while this lasts."""
    parts = urlsplit(libpq_url(url))
    query = dict(parse_qsl(parts.query))
    try:
        port = parts.port or int(query.get("port", "5432"))
    except ValueError:
        raise ForwardError(f"bad port in the database URL: {query.get('port')!r}") from None
    outer_dir = socket_dir(url)
    target: str | tuple[str, int] = (
        os.path.join(outer_dir, f".s.PGSQL.{port}") if outer_dir
        else (parts.hostname or query.get("hostaddr") or "localhost", port)
    )
    directory = tempfile.mkdtemp(prefix="wfprof-pg-")  # 0700: only this user (and its namespaces)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stop = threading.Event()
    try:
        listener.bind(os.path.join(directory, f".s.PGSQL.{port}"))
        listener.listen(16)
        listener.settimeout(0.2)
        threading.Thread(target=_serve, args=(listener, target, stop), daemon=True,
                         name="wfprof-pg-accept").start()
        yield _inner_url(url, directory, port)
    finally:
        stop.set()
        listener.close()
        shutil.rmtree(directory, ignore_errors=True)


def database_endpoint(database_url: str) -> dict[str, Any]:
    """What the egress guard lets through for the database: its socket directory, or its host and port."""
    parts = urlsplit(libpq_url(database_url))
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host", [""])[0]) or "localhost"
    port = parts.port or int((query.get("port", ["5432"])[0]) or 5432)
    if host.startswith("/"):
        return {"socketDir": host.rstrip("/") + "/", "port": port}
    if host in ("localhost", "127.0.0.1", "::1"):
        return {"loopbackPort": port, "port": port}
    return {"host": host, "port": port}
