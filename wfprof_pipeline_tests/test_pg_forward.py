"""The buffering relay of `pg_forward`, on real unix sockets: every byte arrives in order both ways, the
server runs ahead of a client that is not reading, and either side going away ends the other's stream."""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wfprof_pipeline.lib import pg_forward

PORT = 5499


def _payload(size: int) -> bytes:
    block = hashlib.sha256(b"wfprof").digest() * 2048  # 64 KiB, not one repeated byte
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Starts a unix-socket server in a private directory that runs `handle` on one connection."""
    directory = tempfile.mkdtemp(prefix="wfprof-test-pg-")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(directory, f".s.PGSQL.{PORT}"))
    listener.listen(1)
    threads: list[threading.Thread] = []

    def start(handle: Callable[[socket.socket], None]) -> str:
        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                handle(conn)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return directory

    yield start
    listener.close()
    for thread in threads:
        thread.join(10)
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


def _client(directory: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(os.path.join(directory, f".s.PGSQL.{PORT}"))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _relay_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "wfprof-pg-forward"]


def _no_relay_threads_left() -> bool:
    deadline = time.monotonic() + 10
    while _relay_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _relay_threads()


def test_every_byte_arrives_in_order_both_ways_through_many_wraps_of_the_buffer(server) -> None:
    request, reply = _payload(300_000), _payload(6_000_000)
    received: list[bytes] = []

    def handle(conn: socket.socket) -> None:
        got = b""
        while len(got) < len(request):
            got += conn.recv(1 << 16)
        received.append(got)
        conn.sendall(reply)

    directory = server(handle)
    with pg_forward.buffered_socket(directory, PORT, 64 * 1024) as relayed:  # ~90 wraps of the buffer
        with _client(relayed) as client:
            client.sendall(request)
            out = bytearray()
            while chunk := client.recv(7_001):  # an odd size, and slower than the server for a while
                out += chunk
                if len(out) < 500_000:
                    time.sleep(0.001)
        assert received == [request]
        assert bytes(out) == reply  # then EOF: the server closed, and the relay passed that on
    assert _no_relay_threads_left()
    assert not Path(relayed).exists()


def test_the_server_runs_ahead_of_a_client_that_is_not_reading(server) -> None:
    """What the relay is for: a direct unix socket holds ~200 KB, so a server sending 4 MB to a client that
    is busy elsewhere blocks; through an 8 MB buffer it finishes while the client has read nothing."""
    reply = _payload(4_000_000)
    sent = threading.Event()

    def handle(conn: socket.socket) -> None:
        conn.sendall(reply)
        sent.set()
        conn.recv(1)  # the client's close

    directory = server(handle)
    with pg_forward.buffered_socket(directory, PORT, 8 << 20) as relayed, _client(relayed) as client:
        assert sent.wait(10), "the server blocked although the relay had room"
        out = bytearray()
        while len(out) < len(reply) and (chunk := client.recv(1 << 16)):
            out += chunk
        assert bytes(out) == reply
        client.shutdown(socket.SHUT_WR)  # the server sees the close, ends, and the relay with it
    assert _no_relay_threads_left()


def test_a_client_that_goes_away_mid_stream_ends_the_servers_stream(server) -> None:
    failed = threading.Event()

    def handle(conn: socket.socket) -> None:
        block = _payload(1 << 16)
        try:
            for _ in range(100_000):  # 6.5 GB: would take far longer than the test allows
                conn.sendall(block)
        except OSError:
            failed.set()

    directory = server(handle)
    with pg_forward.buffered_socket(directory, PORT, 1 << 20) as relayed:
        client = _client(relayed)
        assert client.recv(1000)
        client.close()
        assert failed.wait(10), "the server kept streaming to a client that had gone"
    assert _no_relay_threads_left()


def test_a_server_that_dies_mid_stream_gives_the_client_what_it_sent_then_eof(server) -> None:
    part = _payload(2_000_000)

    def handle(conn: socket.socket) -> None:
        conn.sendall(part)  # then the connection closes without a word

    directory = server(handle)
    with pg_forward.buffered_socket(directory, PORT, 256 * 1024) as relayed, _client(relayed) as client:
        assert _read_all(client) == part
    assert _no_relay_threads_left()


def test_no_server_behind_the_relay_closes_the_client(tmp_path: Path) -> None:
    with pg_forward.buffered_socket(str(tmp_path), PORT, 1 << 20) as relayed, _client(relayed) as client:
        assert client.recv(1) == b""
