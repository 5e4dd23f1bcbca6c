"""Relays of PostgreSQL connections through a unix socket of wfprof's own.

- Into a network namespace: the database, and only the database, for a Node process in its own network
  namespace. A unix socket is a filesystem object, so it is reachable across network namespaces. A forwarder
  outside the namespace listens on `.s.PGSQL.<port>` in a private temporary directory and relays each
  connection to the real server; the inner URL names that directory (`?host=<dir>`). A socket-directory URL
  (the embedded Postgres) is forwarded too: its directory belongs to the server's user, which is not mapped
  in the namespace's user namespace, so it cannot be opened from inside.
- Buffered, for the trace ingest: the server's replies are read as fast as the server sends them into a
  bounded buffer in this process, so the server keeps streaming while the client is busy elsewhere.

Bytes are relayed as they are (TLS and auth stay end to end).
"""

from __future__ import annotations

import contextlib
import mmap
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


def _serve(listener: socket.socket, target: str | tuple[str, int], stop: threading.Event, buffer_bytes: int) -> None:
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
        threading.Thread(target=_relay, args=(inner, outer, buffer_bytes), daemon=True,
                         name="wfprof-pg-forward").start()


def _relay(inner: socket.socket, outer: socket.socket, buffer_bytes: int) -> None:
    replies = _Ring(buffer_bytes).relay if buffer_bytes else _pump
    back = threading.Thread(target=replies, args=(outer, inner), daemon=True, name="wfprof-pg-forward")
    back.start()
    _pump(inner, outer)
    back.join()
    inner.close()
    outer.close()


class _Ring:
    """A bounded buffer between a fast sender and a client that stops reading for a while.

    One thread receives into it as soon as the sender sends, another sends from it as fast as the client
    reads. Anonymous mmap: pages are touched only once bytes reach them, so a connection that carries little
    costs little memory.
    """

    _CHUNK = 1 << 20  # bytes per recv/send at most

    def __init__(self, size: int) -> None:
        self._map = mmap.mmap(-1, size)
        self._view = memoryview(self._map)
        self._size = size
        self._start = 0  # first byte not yet sent on
        self._used = 0
        self._received_all = False  # the sender closed (or failed)
        self._sent_all = False  # the client is gone: nothing more can be delivered
        self._changed = threading.Condition()

    def relay(self, src: socket.socket, dst: socket.socket) -> None:
        receiver = threading.Thread(target=self._receive, args=(src,), daemon=True, name="wfprof-pg-forward")
        receiver.start()
        try:
            self._send(dst)
        finally:
            with self._changed:
                self._sent_all = True
                self._changed.notify_all()
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                src.shutdown(socket.SHUT_RD)  # wakes a receiver blocked in recv
            receiver.join()
            with contextlib.suppress(BufferError):  # a slice still referenced: the collector frees the map
                self._view.release()
                self._map.close()

    def _receive(self, src: socket.socket) -> None:
        try:
            while True:
                with self._changed:
                    while self._used == self._size and not self._sent_all:
                        self._changed.wait()
                    if self._sent_all:
                        return
                    end = (self._start + self._used) % self._size
                    room = min(self._size - self._used, self._size - end, self._CHUNK)
                # Only this thread writes past `end`, and the sender never reads there: no lock while blocked.
                received = src.recv_into(self._view[end:end + room])
                with self._changed:
                    if not received:
                        return
                    self._used += received
                    self._changed.notify_all()
        except OSError:
            return
        finally:
            with self._changed:
                self._received_all = True
                self._changed.notify_all()

    def _send(self, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                with self._changed:
                    while not self._used and not self._received_all:
                        self._changed.wait()
                    if not self._used:
                        return
                    start, size = self._start, min(self._used, self._size - self._start, self._CHUNK)
                sent = dst.send(self._view[start:start + size])
                with self._changed:
                    self._start = (self._start + sent) % self._size
                    self._used -= sent
                    self._changed.notify_all()


@contextlib.contextmanager
def _listening(target: str | tuple[str, int], port: int, buffer_bytes: int = 0) -> Iterator[str]:
    """A private directory holding `.s.PGSQL.<port>`, each connection to it relayed to `target`."""
    directory = tempfile.mkdtemp(prefix="wfprof-pg-")  # 0700: only this user (and its namespaces)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stop = threading.Event()
    try:
        listener.bind(os.path.join(directory, f".s.PGSQL.{port}"))
        listener.listen(16)
        listener.settimeout(0.2)
        threading.Thread(target=_serve, args=(listener, target, stop, buffer_bytes), daemon=True,
                         name="wfprof-pg-accept").start()
        yield directory
    finally:
        stop.set()
        listener.close()
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def buffered_socket(server_dir: str, port: int, buffer_bytes: int) -> Iterator[str]:
    """A socket directory whose connections reach the server listening in `server_dir`, each with up to
    `buffer_bytes` of the server's replies buffered here. Yields the directory (libpq's `host`)."""
    with _listening(os.path.join(server_dir, f".s.PGSQL.{port}"), port, buffer_bytes) as directory:
        yield directory


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
    with _listening(target, port) as directory:
        yield _inner_url(url, directory, port)


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
