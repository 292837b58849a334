"""Size limits (413) and the mapping of library errors to HTTP statuses."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

import gilfree
from gilfree.errors import Cancelled, GilfreeError, InvalidInput
from gilfree.fastapi import Runner
from gilfree.server.limits import BodySizeLimit

MakeClient = Callable[..., TestClient]  # the make_client fixture (conftest.py)

JSON = {"content-type": "application/json"}


def test_body_over_max_body_bytes_is_413_from_content_length(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=64)
    body = '{"numbers": [' + ", ".join(["1"] * 30) + "]}"
    assert len(body) > 64
    response = client.post("/process-numbers", content=body, headers=JSON)
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"request body of {len(body)} bytes is larger than max_body_bytes=64"
    }
    exact = '{"numbers": [7]' + " " * 48 + "}"
    assert len(exact) == 64
    accepted = client.post("/process-numbers?iterations=0", content=exact, headers=JSON)
    assert accepted.json() == {"original_count": 1, "processed_result": [7]}


def test_streamed_body_over_max_body_bytes_is_413(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=64)

    def chunks() -> Iterator[bytes]:
        yield b'{"numbers": ['
        for _ in range(40):
            yield b"1, "
        yield b"1]}"

    response = client.post("/process-numbers", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert "max_body_bytes=64" in response.json()["detail"]
    assert "content-length" not in response.request.headers
    small = client.post(
        "/process-numbers?iterations=1", content=iter([b'{"numbers"', b": [0]}"]), headers=JSON
    )
    assert small.json() == {"original_count": 1, "processed_result": [2]}


def test_body_limit_leaves_other_routes_alone(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=1)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/sum-squares").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs-static/swagger-ui.css").status_code == 200
    assert client.post("/process-numbers", json={"numbers": []}).status_code == 413


class _Recorder:
    """An ASGI app that reads the whole body, then answers 200; it records what it saw."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _drive(
    app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[list[Message], int]:
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await app(scope, receive, send)
    return sent, reads


@pytest.mark.anyio
async def test_body_limit_refuses_a_declared_length_without_reading_or_calling_the_app() -> None:
    inner = _Recorder()
    sent, reads = await _drive(
        BodySizeLimit(inner, max_body_bytes=10), [(b"content-length", b"11")], [b"x" * 11]
    )
    assert reads == 0
    assert inner.messages == []
    assert sent[0]["status"] == 413
    assert b"max_body_bytes=10" in sent[1]["body"]


@pytest.mark.anyio
@pytest.mark.parametrize("declared", [b"", b"abc", b"\xb2", b"9" * 5000])
async def test_body_limit_counts_the_stream_when_the_length_is_unusable(declared: bytes) -> None:
    inner = _Recorder()
    headers = [(b"content-length", declared)]
    sent, _ = await _drive(BodySizeLimit(inner, max_body_bytes=10), headers, [b"x" * 6] * 2)
    assert sent[0]["status"] == 413
    assert b"at least 12 bytes" in sent[1]["body"]


@pytest.mark.anyio
async def test_body_limit_stops_a_stream_as_soon_as_it_passes_the_limit() -> None:
    inner = _Recorder()
    sent, reads = await _drive(BodySizeLimit(inner, max_body_bytes=10), [], [b"x" * 4] * 10)
    assert reads == 3  # 4, 8, 12 bytes: the third chunk passes the limit
    assert [m["type"] for m in inner.messages] == [
        "http.request",
        "http.request",
        "http.disconnect",
    ]
    assert [m.get("status") for m in sent] == [413, None]  # the app's own 200 was dropped
    assert b"at least 12 bytes" in sent[1]["body"]


@pytest.mark.anyio
async def test_body_limit_passes_a_stream_within_the_limit() -> None:
    inner = _Recorder()
    sent, reads = await _drive(BodySizeLimit(inner, max_body_bytes=10), [], [b"x" * 5] * 2)
    assert reads == 2
    assert sent[0]["status"] == 200


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_more_numbers_than_max_numbers_is_413(make_client: MakeClient) -> None:
    client = make_client(max_numbers=3)
    assert client.post("/process-numbers", json={"numbers": [1, 2, 3]}).status_code == 200
    response = client.post("/process-numbers", json={"numbers": [1, 2, 3, 4]})
    assert response.status_code == 413
    assert response.json() == {"detail": "4 numbers is more than max_numbers=3"}


def test_work_over_max_work_is_413(make_client: MakeClient) -> None:
    client = make_client(max_work=10)
    assert client.post("/process-numbers?iterations=5", json={"numbers": [1, 2]}).status_code == 200
    response = client.post("/process-numbers?iterations=4", json={"numbers": [1, 2, 3]})
    assert response.status_code == 413
    assert response.json() == {
        "detail": "3 numbers x 4 iterations = 12 units of work is more than max_work=10"
    }


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [(Cancelled("stopped at shutdown"), 503, "1"), (GilfreeError("native failure"), 500, None)],
)
def test_library_errors_map_to_statuses(
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    retry_after: str | None,
) -> None:
    async def failing(self: Runner, kernel: Any, *args: Any, **kwargs: Any) -> Any:
        raise error

    submit = gilfree.wire.submit_numbers_request

    class FailingJob:
        """The native path's job, whose answer turns into `error` (a body left to pydantic
        goes on to the pydantic path)."""

        def __init__(self, job: gilfree.aio.Job) -> None:
            self.job = job

        def __getattr__(self, name: str) -> Any:
            return getattr(self.job, name)

        def __await__(self) -> Generator[Any, None, Any]:
            answered = yield from self.job.__await__()
            if answered.outcome is gilfree.wire.RequestOutcome.OK:
                raise error
            return answered

    def failing_submit(request: Any, **kwargs: Any) -> FailingJob:
        return FailingJob(submit(request, **kwargs))

    # The native path, answering at once or as a job.
    monkeypatch.setattr(gilfree.wire, "submit_numbers_request", failing_submit)
    monkeypatch.setattr(Runner, "__call__", failing)  # the pydantic path
    for numbers in ([1], ["1"]):
        response = make_client().post("/process-numbers", json={"numbers": numbers})
        assert response.status_code == status
        assert response.headers.get("retry-after") == retry_after
        assert str(error) in response.json()["detail"]


def test_invalid_input_from_the_library_is_422_naming_the_element(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refusing(self: Runner, kernel: Any, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput("element 1 is not acceptable", index=1)

    monkeypatch.setattr(Runner, "__call__", refusing)
    # A coerced value ("6") takes the pydantic path, whose errors name the element.
    response = make_client().post("/process-numbers", json={"numbers": [5, "6", 7]})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "value_error",
                "loc": ["body", "numbers", 1],
                "msg": "Value error, element 1 is not acceptable",
                "input": 6,
            }
        ]
    }


def test_invalid_input_without_an_index_is_422_at_the_body(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refusing(self: Runner, kernel: Any, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput("refused")

    monkeypatch.setattr(Runner, "__call__", refusing)
    response = make_client().get("/sum-squares")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
