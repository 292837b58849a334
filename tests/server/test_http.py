"""Bounded requests over real sockets: the head's size and field count (431), the head and body
read timeouts (408), the connection cap (503), memory that follows the bytes that arrived, and
no memory left (503, never 500). After each, the server answers /healthz within 50 ms."""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.live import Server, serving

HEALTHY_WITHIN_S = 0.05
# AddressSanitizer reserves terabytes of shadow memory at start: no address-space limit can apply.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
TIMEOUT_S = 1.0  # the head and body timeouts of the module's server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(
        tmp_path_factory.mktemp("bounds") / "server.log",
        args=["--no-access-log"],
        header_timeout_s=str(TIMEOUT_S),
        body_timeout_s=str(TIMEOUT_S),
        max_connections="64",
    ) as running:
        yield running


def _port(server: Server) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", _port(server)), timeout=10)


def _read_all(sock: socket.socket, timeout_s: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def assert_healthy(server: Server) -> None:
    """/healthz on a new connection answers 200 within HEALTHY_WITHIN_S (the best of three, so
    that one scheduling hiccup of this shared machine is not a failure)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sock = _connect(server)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = _read_all(sock, 5)
        best = min(best, time.perf_counter() - started)
        sock.close()
        assert answer.endswith(b'{"status":"ok"}'), answer
    assert best < HEALTHY_WITHIN_S, f"/healthz took {best * 1000:.1f} ms"


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_a_head_past_max_header_bytes_gets_431(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    answer = _read_all(sock)
    assert _status(answer) == 431, answer[:200]
    assert b"max_header_bytes=65536" in answer
    assert_healthy(server)


def test_a_head_just_within_the_limit_is_served(server: Server) -> None:
    line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
    head = line + b"a" * (64 * 1024 - len(line) - 4) + b"\r\n\r\n"
    assert len(head) == 64 * 1024
    sock = _connect(server)
    sock.sendall(head)
    assert _status(_read_all(sock)) == 200


def test_a_head_sent_slowly_is_refused_at_the_limit_and_stalls_nobody(server: Server) -> None:
    # Without a bound, the parser joins a header sent in pieces by concatenation: time that grows
    # with the square of its length, on the loop every client shares.
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    sent, answer = 0, b""
    sock.setblocking(False)
    while sent < 1_000_000 and not answer:
        try:
            sock.sendall(b"a" * 1000)
            sent += 1000
            answer = sock.recv(65536)
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            break
        if sent % 20_000 == 0:
            assert_healthy(server)
    assert _status(answer + _read_all(sock)) == 431
    assert sent < 200_000  # refused near 64 KiB, not after a megabyte
    assert_healthy(server)


def test_more_header_fields_than_max_headers_get_431(server: Server) -> None:
    fields = b"".join(b"x-%d: v\r\n" % i for i in range(101))
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    answer = _read_all(sock)
    assert _status(answer) == 431
    assert b"max_headers=100" in answer
    assert_healthy(server)


def test_a_head_that_does_not_arrive_in_time_gets_408(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    answer = _read_all(sock)
    took = time.monotonic() - started
    assert _status(answer) == 408
    assert b"header_timeout_s=1" in answer
    assert TIMEOUT_S * 0.9 < took < TIMEOUT_S + 2
    assert_healthy(server)


def test_a_connection_that_sends_nothing_is_closed_unanswered(server: Server) -> None:
    sock = _connect(server)
    started = time.monotonic()
    assert _read_all(sock) == b""
    assert time.monotonic() - started < TIMEOUT_S + 2


def test_a_body_that_stalls_gets_408(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(
        b"POST /process-numbers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"numbers": [1, 2'
    )
    started = time.monotonic()
    answer = _read_all(sock)
    assert _status(answer) == 408
    assert b"body_timeout_s=1" in answer
    assert time.monotonic() - started < TIMEOUT_S + 2
    assert_healthy(server)


def test_a_body_that_keeps_arriving_is_not_timed_out(server: Server) -> None:
    body = b'{"numbers": [' + b",".join(b"7" for _ in range(100)) + b"]}"
    sock = _connect(server)
    sock.sendall(
        b"POST /process-numbers?iterations=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    for at in range(0, len(body), len(body) // 4 + 1):  # over twice the timeout in all
        time.sleep(TIMEOUT_S * 0.6)
        sock.sendall(body[at : at + len(body) // 4 + 1])
    answer = _read_all(sock)
    assert _status(answer) == 200, answer[:300]
    assert answer.endswith(b"]}")


def test_many_slow_connections_are_all_dropped_after_the_head_timeout(server: Server) -> None:
    socks = []
    for _ in range(50):
        sock = _connect(server)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        socks.append(sock)
    assert_healthy(server)
    deadline = time.monotonic() + TIMEOUT_S + 3
    answers = [_read_all(sock, max(0.1, deadline - time.monotonic())) for sock in socks]
    assert [_status(answer) for answer in answers] == [408] * len(socks)
    assert_healthy(server)


def test_a_connection_past_max_connections_gets_503_and_the_rest_are_served(
    server: Server,
) -> None:
    held = [_connect(server) for _ in range(64)]
    try:
        time.sleep(0.2)  # every one accepted
        extra = _connect(server)
        answer = _read_all(extra, 5)
        assert _status(answer) == 503
        assert b"\r\nretry-after: 1\r\n" in answer
        assert b"max_connections=64" in answer
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert_healthy(server)


def _vm_size_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1])
    raise AssertionError("no VmSize")


def test_a_declared_length_reserves_no_memory_before_its_bytes(server: Server) -> None:
    pid = server.process.pid
    before = _vm_size_kib(pid)
    socks = []
    for _ in range(40):
        sock = _connect(server)
        sock.sendall(
            b"POST /process-numbers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 67108864\r\n\r\n{"numbers": [1'
        )
        socks.append(sock)
    time.sleep(0.3)
    grown_mib = (_vm_size_kib(pid) - before) / 1024
    for sock in socks:
        sock.close()
    # 40 x 64 MiB declared, a few bytes sent: at most a first block of 1 MiB each (once, 5.1 GiB).
    assert grown_mib < 40 * 1 + 64, f"virtual size grew by {grown_mib:.0f} MiB"
    time.sleep(0.2)
    assert_healthy(server)


def _address_space_limit() -> None:
    limit = 768 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.skipif(UNDER_ASAN, reason="an address-space limit cannot apply under ASan")
def test_no_memory_for_bodies_is_503_never_500(tmp_path: Path) -> None:
    # 24 bodies of 24 MiB at once (3M numbers each), into a process limited to 768 MiB of address
    # space: some cannot be buffered. Each gets its answer or 503 with Retry-After.
    body = b'{"numbers": [' + b",".join([b"1234567"] * 3_000_000) + b"]}"
    with serving(
        tmp_path / "server.log",
        args=["--no-access-log", "--threads", "1"],
        preexec_fn=_address_space_limit,
        buffer_cache_bytes="0",
    ) as running:
        port = _port(running)
        statuses: list[int] = []
        lock = threading.Lock()

        def post() -> None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            try:
                sock.sendall(
                    b"POST /process-numbers?iterations=0 HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body)
                )
                sock.sendall(body)
                answer = _read_all(sock, 60)
            except (BrokenPipeError, ConnectionResetError):
                answer = b""
            with lock:
                statuses.append(_status(answer))
            if _status(answer) == 503:
                assert b"\r\nretry-after: 1\r\n" in answer.lower()

        clients = [threading.Thread(target=post) for _ in range(24)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        output = running.output()
        assert 500 not in statuses, output[-3000:]
        assert set(statuses) <= {200, 503}, (statuses, output[-3000:])
        assert 503 in statuses, statuses  # the limit was reached
        assert "Traceback" not in output, output[-3000:]
        assert_healthy(running)
