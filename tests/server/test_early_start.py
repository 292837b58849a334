"""Early starts: the protocol begins a route's work as soon as a request's body has arrived, the app
still answers the request, and the body still reaches it; the numbers route's work taken from
there, or cancelled when nobody takes it."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn

import gilfree
from gilfree import wire
from gilfree.server.http import (
    EARLY_MAX_BODY_BYTES,
    EARLY_START,
    EARLY_STARTS,
    BoundedHttpToolsProtocol,
)
from gilfree.server.native_path import EarlyNumbers, make_fast_path
from gilfree.server.settings import Settings
from tests.server.live import free_port


class Recorder:
    """An EarlyStart that records what the protocol gave it."""

    def __init__(self, scope: Any, declared: int, events: list[Any]) -> None:
        self.declared = declared
        self.chunks: list[bytes] = []
        self.completed = False
        events.append(("started", scope["path"], declared))

    def append(self, chunk: bytes) -> None:
        self.chunks.append(bytes(chunk))

    def complete(self) -> None:
        self.completed = True


class App:
    """A bare ASGI app with an early starter for POST /early: it answers what it saw."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.state = SimpleNamespace(
            **{EARLY_STARTS: {("POST", "/early"): lambda s, n: Recorder(s, n, self.events)}}
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        early = scope.get(EARLY_START)
        seen = (early is not None, early is not None and early.completed)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.events.append(("app", seen, body, b"".join(early.chunks) if early else None))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[App, int]]:
    app = App()
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=BoundedHttpToolsProtocol,
        loop="asyncio",
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield app, port
    server.should_exit = True
    thread.join(10)


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes (Connection: close)
            answer += chunk
        return answer


def _post(path: str, body: bytes, *, declared: bool = True) -> bytes:
    length = b"Content-Length: %d\r\n" % len(body) if declared else b""
    head = b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" % (path.encode(), length)
    if declared:
        return head + body
    chunked = b"Transfer-Encoding: chunked\r\n\r\n"
    return head[:-2] + chunked + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def test_the_work_starts_before_the_app_runs_and_the_app_gets_the_body(
    served: tuple[App, int],
) -> None:
    app, port = served
    app.events.clear()
    body = b'{"numbers":[1,2,3]}'
    assert _exchange(port, _post("/early", body)).startswith(b"HTTP/1.1 200")
    # Sent at once, the head and body arrive together: the body is whole (and its work begun)
    # before the app's task first runs, and the app reads the same bytes.
    assert app.events == [("started", "/early", len(body)), ("app", (True, True), body, body)]


def test_a_body_that_arrives_in_pieces_starts_once_it_is_whole(served: tuple[App, int]) -> None:
    app, port = served
    app.events.clear()
    body = b"x" * 5000
    request = _post("/early", body)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request[:-3000])
        time.sleep(0.1)
        sock.sendall(request[-3000:])
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200")
    started, (_, seen, received, gathered) = app.events
    assert started == ("started", "/early", len(body))
    assert seen[0]
    assert received == body
    assert gathered == body


@pytest.mark.parametrize(
    ("path", "body", "declared"),
    [
        ("/other", b"{}", True),  # no starter for the path
        ("/early", b"{}", False),  # chunked: no declared length
        ("/early", b"", True),  # no body
        ("/early", b"x" * (EARLY_MAX_BODY_BYTES + 1), True),  # larger than an early body may be
    ],
)
def test_other_requests_are_left_to_the_app(
    served: tuple[App, int], path: str, body: bytes, declared: bool
) -> None:
    app, port = served
    app.events.clear()
    assert _exchange(port, _post(path, body, declared=declared)).startswith(b"HTTP/1.1 200")
    assert app.events == [("app", (False, False), body, None)]


# -- the numbers route's early work -------------------------------------------------------------


def _submit(body: wire.RequestBody, iterations: int) -> Any:
    return wire.submit_numbers_request(
        wire.numbers_request(body, iterations=iterations), timeout=30
    )


def _body(count: int) -> bytes:
    return b'{"numbers":[' + b",".join(b"1" for _ in range(count)) + b"]}"


def test_the_numbers_work_is_taken_with_the_parameters_it_started_with() -> None:
    async def main() -> None:
        body = _body(1000)
        early = EarlyNumbers((3, 30.0, False), len(body), lambda b: _submit(b, 3))
        early.append(body[:100])
        assert early._job is None
        early.append(body[100:])
        assert early._job is not None  # the declared length is whole: started at once
        early.complete()  # the end of the message changes nothing
        job = early.take()
        assert job is not None
        answered = await job
        assert answered.outcome is wire.RequestOutcome.OK
        expected = gilfree.process_numbers([1] * 1000, 3)
        assert bytes(answered.answer()) == (
            b'{"original_count":1000,"processed_result":['
            + b",".join(b"%d" % v for v in expected)
            + b"]}"
        )

    asyncio.run(main())


def _started_long_work() -> tuple[EarlyNumbers, Any]:
    """Early work of 10^11 steps, submitted (its body whole), and its job."""
    body = _body(100_000)
    early = EarlyNumbers((10**6, 30.0, False), len(body), lambda b: _submit(b, 10**6))
    early.append(body)
    job = early._job
    assert job is not None
    return early, job


def test_numbers_work_nobody_takes_is_cancelled_when_dropped() -> None:
    async def main() -> None:
        early, job = _started_long_work()
        del early
        gc.collect()
        with pytest.raises(gilfree.Cancelled):
            await job
        assert job.status == "cancelled"

    asyncio.run(main())


def test_numbers_work_for_other_parameters_is_cancelled_and_an_error_is_raised_once() -> None:
    async def main() -> None:
        early, job = _started_long_work()
        early.drop()
        with pytest.raises(gilfree.Cancelled):
            await job

        def refuse(body: wire.RequestBody) -> Any:
            raise gilfree.Overloaded("full")

        refused = EarlyNumbers((1, 30.0, False), 2, refuse)
        refused.append(b"{}")
        refused.complete()
        with pytest.raises(gilfree.Overloaded):
            refused.take()
        assert refused.take() is None

    asyncio.run(main())


def _scope(query: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "query_string": query, "headers": headers}


JSON_TYPE = (b"content-type", b"application/json")


@pytest.mark.parametrize(
    ("query", "headers", "parameters"),
    [
        (b"", [JSON_TYPE], (1000, 60.0, False)),
        (
            b"iterations=7",
            [(b"content-type", b"Application/JSON; charset=utf-8")],
            (7, 60.0, False),
        ),
        (b"", [JSON_TYPE, (b"accept", b"application/octet-stream")], (1000, 60.0, True)),
        (
            b"",
            [JSON_TYPE, (b"accept", b"application/octet-stream, application/json")],
            (1000, 60.0, False),
        ),
        (b"", [JSON_TYPE, (b"content-type", b"text/plain")], (1000, 60.0, False)),  # the first
    ],
)
def test_the_numbers_route_starts_common_json_requests_early_with_their_parameters(
    query: bytes, headers: list[tuple[bytes, bytes]], parameters: tuple[int, float, bool]
) -> None:
    route = make_fast_path(Settings(request_timeout_s=60.0), 1000)
    assert route.early_start is not None
    early = route.early_start(_scope(query, headers), 100)
    assert early is not None
    assert early.parameters == parameters
    early.drop()


@pytest.mark.parametrize(
    ("query", "headers", "declared"),
    [
        (b"", [], 100),  # no content type
        (b"", [(b"content-type", b"text/plain"), JSON_TYPE], 100),
        (b"", [(b"content-type", b"application/octet-stream")], 100),
        (b"iterations=007", [JSON_TYPE], 100),  # not canonical: FastAPI decides
        (b"iterations=7&x=1", [JSON_TYPE], 100),
        (b"iterations=1000001", [JSON_TYPE], 100),  # past max_iterations
        (b"", [JSON_TYPE, (b"x-request-timeout", b"1")], 100),
        (b"", [JSON_TYPE, (b"accept", b"a/b"), (b"accept", b"c/d")], 100),
        (b"", [JSON_TYPE], 5000),  # past max_body_bytes
    ],
)
def test_the_numbers_route_leaves_other_requests_to_the_fast_path(
    query: bytes, headers: list[tuple[bytes, bytes]], declared: int
) -> None:
    route = make_fast_path(Settings(max_body_bytes=4096, max_iterations=10**6), 1000)
    assert route.early_start is not None
    assert route.early_start(_scope(query, headers), declared) is None
