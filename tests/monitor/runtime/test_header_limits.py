"""Request heads are bounded: a real RunningMonitor on 127.0.0.1, raw sockets, 431 before the head is
buffered whole (monitor/runtime/http_limits.py; server.max_header_bytes / server.max_headers)."""
from __future__ import annotations

import select
import socket
import time

import pytest

from monitor.runtime.config import ConfigError, build_config
from monitor.runtime.http_limits import BoundedHttpToolsProtocol

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor

    data_dir = tmp_path_factory.mktemp("header-limits")
    config = build_config({"store": {"url": f"sqlite:///{data_dir / 'history.db'}"},
                           "scheduler": {"interval_seconds": 3600}}, environ={})
    running = RunningMonitor(Monitor(config), host="127.0.0.1", port=0).start(timeout=20)
    yield running
    running.stop()


def connect(running) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
    sock.settimeout(10)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 10 s pass)."""
    chunks = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def read_one_response(sock: socket.socket) -> tuple[int, bytes]:
    """One response on a kept-alive connection: status and body (content-length framed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ", 2)[1]), body


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def get(path: str, headers: list[tuple[str, str]] = ()) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_the_limits_are_in_the_server_config_with_defaults_and_bounds():
    server = build_config({}, environ={}).server
    assert (server.max_header_bytes, server.max_headers) == (64 * 1024, 100)
    for bad in ({"max_header_bytes": 10}, {"max_headers": 0}, {"max_header_bytes": 1 << 40}):
        with pytest.raises(ConfigError):
            build_config({"server": bad}, environ={})


def test_the_server_runs_the_bounded_protocol(running):
    assert issubclass(running.server.config.http_protocol_class, BoundedHttpToolsProtocol)
    assert running.server.config.http_protocol_class.max_header_bytes == 64 * 1024


def test_a_normal_request_still_works_and_keeps_the_connection_alive(running):
    with connect(running) as sock:
        # a head just under the limit, then a second request on the same connection
        sock.sendall(get("/healthz", [("X-Pad", "a" * 60_000)]))
        code, body = read_one_response(sock)
        assert code == 200 and b'"status":"ok"' in body
        sock.sendall(get("/healthz", [(f"X-H{i}", "v") for i in range(90)]))
        assert read_one_response(sock)[0] == 200


def test_a_body_larger_than_the_head_limit_is_not_a_head(running):
    body = b"[" + b" " * (512 * 1024) + b"not json"
    head = (f"POST /ingest/litellm HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with connect(running) as sock:
        sock.sendall(head + body)
        code, answer = read_one_response(sock)
    assert code == 400 and b"not a JSON array" in answer  # the app read the body; no 431


@pytest.mark.parametrize("size", [70 * 1024, MiB], ids=["70KiB-one-read", "1MiB"])
def test_a_large_header_is_431_and_the_connection_closes(running, size):
    with connect(running) as sock:
        sock.sendall(get("/healthz", [("X-Big", "b" * size)]))
        response = read_response(sock)
    assert status(response) == 431
    assert b"connection: close" in response.lower()
    assert b"larger than 65536 bytes" in response


def test_too_many_headers_is_431(running):
    with connect(running) as sock:
        sock.sendall(get("/healthz", [(f"X-H{i}", "v") for i in range(200)]))
        response = read_response(sock)
    assert status(response) == 431 and b"more than 100 header fields" in response


def test_a_long_url_counts_toward_the_head(running):
    with connect(running) as sock:
        sock.sendall(get("/healthz?" + "q" * (200 * 1024)))
        assert status(read_response(sock)) == 431


def test_a_huge_header_sent_in_chunks_does_not_grow_memory(running):
    """64 MiB of one header value, sent 64 KiB at a time until the server answers or closes:
    the process (the server runs in it) grows by a few MiB at most, not by what was sent."""
    chunk = b"c" * (64 * 1024)
    total = 64 * MiB
    before = rss_bytes()
    peak = before
    sent = 0
    response = b""
    deadline = time.monotonic() + 30
    with connect(running) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
        while sent < total and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered (or closed): stop sending
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            if sent % MiB == 0:
                peak = max(peak, rss_bytes())
        peak = max(peak, rss_bytes())
        response = read_response(sock)
    assert time.monotonic() < deadline
    assert status(response) == 431
    assert sent < 16 * MiB, f"the server read {sent} bytes of head before refusing"
    assert peak - before < 4 * MiB, f"resident memory grew by {(peak - before) / MiB:.1f} MiB"
