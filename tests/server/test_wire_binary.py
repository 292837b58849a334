"""POST /process-numbers with ``application/octet-stream`` bodies (docs/semantics.md section 2).

The body is the numbers as little-endian int64; the answer is JSON, or little-endian int64 when
``Accept`` asks for ``application/octet-stream``. Query, header and limit errors must be the same
as those of a JSON request (FastAPI's own 422 bodies, the same 413 messages).
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import given, settings
from hypothesis import strategies as st

import gilfree
import gilfree.fastapi
from gilfree import INT64_MAX, INT64_MIN, reference, wire
from gilfree.server import create_app
from tests.server.conftest import asgi_post_scope, default_settings

MakeClient = Callable[..., TestClient]  # the make_client fixture (conftest.py)

OCTET = "application/octet-stream"
JSON_TYPE = "application/json"
PATHS = ["/process-numbers", "/process-numbers-rust"]
EDGES = [0, 1, -1, -2, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 1_000_000_006]


def pack(numbers: list[int]) -> bytes:
    return struct.pack(f"<{len(numbers)}q", *numbers)


def unpack(body: bytes) -> list[int]:
    assert len(body) % 8 == 0
    return list(struct.unpack(f"<{len(body) // 8}q", body))


def send_binary(
    client: TestClient,
    numbers: list[int] | bytes,
    query: str = "",
    path: str = "/process-numbers",
    **headers: str,
) -> Response:
    body = numbers if isinstance(numbers, bytes) else pack(numbers)
    return client.post(
        f"{path}?{query}" if query else path,
        content=body,
        headers={"content-type": OCTET, **headers},
    )


def send_json(
    client: TestClient, raw: str, query: str = "", path: str = "/process-numbers", **headers: str
) -> Response:
    return client.post(
        f"{path}?{query}" if query else path,
        content=raw,
        headers={"content-type": JSON_TYPE, **headers},
    )


def as_json(numbers: list[int]) -> str:
    return '{"numbers": [' + ", ".join(map(str, numbers)) + "]}"


def as_coercible_json(numbers: list[int]) -> str:
    """The same numbers as a body the native parser leaves to pydantic (strings)."""
    return '{"numbers": [' + ", ".join(f'"{n}"' for n in numbers) + "]}"


# ---------------------------------------------------------------------------------------------
# Answers


@settings(max_examples=40, derandomize=True, deadline=None)
@given(
    numbers=st.lists(
        st.one_of(st.integers(INT64_MIN, INT64_MAX), st.sampled_from(EDGES)), max_size=40
    ),
    iterations=st.integers(0, 25),
    path=st.sampled_from(PATHS),
)
def test_round_trip_matches_the_reference(
    client: TestClient, numbers: list[int], iterations: int, path: str
) -> None:
    expected = reference.process_numbers(numbers, iterations)
    query = f"iterations={iterations}"
    as_binary = send_binary(client, numbers, query, path, accept=OCTET)
    assert as_binary.status_code == 200
    assert as_binary.headers["content-type"] == OCTET
    assert as_binary.content == pack(expected)
    assert unpack(as_binary.content) == expected
    as_text = send_binary(client, numbers, query, path, accept=JSON_TYPE)
    assert as_text.status_code == 200
    assert as_text.headers["content-type"] == JSON_TYPE
    assert as_text.json() == {"original_count": len(numbers), "processed_result": expected}
    # the JSON answer is the very bytes a JSON request gets
    assert as_text.content == send_json(client, as_json(numbers), query, path).content


def test_many_random_numbers_match_the_reference(client: TestClient) -> None:
    rng = random.Random(7)
    numbers = [rng.randint(INT64_MIN, INT64_MAX) for _ in range(20_000)] + EDGES
    response = send_binary(client, numbers, "iterations=2", accept=OCTET)
    assert unpack(response.content) == reference.process_numbers(numbers, 2)


def test_default_iterations_are_1000(client: TestClient) -> None:
    response = send_binary(client, EDGES, accept=OCTET)
    assert unpack(response.content) == reference.process_numbers(EDGES, 1000)


@pytest.mark.parametrize(
    ("accept", "binary"),
    [
        (OCTET, True),
        ("APPLICATION/OCTET-STREAM", True),
        ("application/octet-stream;q=0.9", True),
        ("application/octet-stream, */*;q=0.1", True),
        (JSON_TYPE, False),
        ("application/octet-stream, application/json", False),
        ("application/json;q=0.1, application/octet-stream", False),
        ("*/*", False),
        ("text/plain", False),
        (None, False),
    ],
)
def test_accept_chooses_binary_or_json(
    client: TestClient, accept: str | None, binary: bool
) -> None:
    numbers = [3, -7, INT64_MAX, INT64_MIN]
    expected = reference.process_numbers(numbers, 5)
    headers = {} if accept is None else {"accept": accept}
    response = send_binary(client, numbers, "iterations=5", **headers)
    assert response.status_code == 200
    if binary:
        assert response.headers["content-type"] == OCTET
        assert response.headers["content-length"] == str(8 * len(numbers))
        assert unpack(response.content) == expected
    else:
        assert response.headers["content-type"] == JSON_TYPE
        assert response.json() == {"original_count": 4, "processed_result": expected}


@pytest.mark.parametrize(
    "content_type",
    [OCTET, "application/octet-stream; charset=binary", "Application/Octet-Stream"],
)
def test_octet_stream_content_type_variants(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/process-numbers?iterations=1",
        content=pack([0, 1, -1]),
        headers={"content-type": content_type, "accept": OCTET},
    )
    assert (response.status_code, unpack(response.content)) == (200, [2, 4, 0])


@pytest.mark.parametrize("path", PATHS)
def test_empty_body_is_zero_numbers(client: TestClient, path: str) -> None:
    as_text = send_binary(client, b"", path=path)
    assert as_text.status_code == 200
    assert as_text.json() == {"original_count": 0, "processed_result": []}
    as_binary = send_binary(client, b"", path=path, accept=OCTET)
    assert (as_binary.status_code, as_binary.content) == (200, b"")
    assert as_binary.headers["content-type"] == OCTET


def test_streamed_body_without_content_length(client: TestClient) -> None:
    body = pack([1, 2, 3])
    response = client.post(
        "/process-numbers?iterations=1",
        content=iter([body[:5], body[5:17], body[17:]]),
        headers={"content-type": OCTET, "accept": OCTET},
    )
    assert "content-length" not in response.request.headers
    assert unpack(response.content) == [4, 6, 8]


def test_aliases_answer_exactly_as_the_originals(client: TestClient) -> None:
    numbers = [5, -9, INT64_MIN, INT64_MAX]
    for headers in ({"accept": OCTET}, {"accept": JSON_TYPE}, {}):
        original = send_binary(client, numbers, "iterations=9", "/process-numbers", **headers)
        alias = send_binary(client, numbers, "iterations=9", "/process-numbers-rust", **headers)
        assert (alias.status_code, alias.headers["content-type"], alias.content) == (
            original.status_code,
            original.headers["content-type"],
            original.content,
        )
    for query, body in (("iterations=x", pack([1])), ("", b"x" * 13)):
        original = send_binary(client, body, query, "/process-numbers")
        alias = send_binary(client, body, query, "/process-numbers-rust")
        assert (alias.status_code, alias.content) == (original.status_code, original.content)
        assert alias.status_code == 422


# ---------------------------------------------------------------------------------------------
# Errors: the same as a JSON request's


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("length", [1, 7, 9, 13, 8 * 5 + 3])
def test_length_not_a_multiple_of_8_is_422(client: TestClient, path: str, length: int) -> None:
    response = send_binary(client, b"\x01" * length, "iterations=1", path, accept=OCTET)
    assert response.status_code == 422
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json() == {
        "detail": [
            {
                "type": "value_error",
                "loc": ["body"],
                "msg": "Value error, an application/octet-stream body holds little-endian"
                f" int64 values: {length} bytes is not a multiple of 8",
                "input": None,
            }
        ]
    }


BAD_ITERATIONS = ["-1", "abc", "100001", "", "1.5", "1e3", "9" * 30, "0x10", "-0.5"]


@pytest.mark.parametrize("iterations", BAD_ITERATIONS)
def test_bad_iterations_are_fastapis_422(
    client: TestClient, plain: TestClient, iterations: str
) -> None:
    query = f"iterations={iterations}"
    response = send_binary(client, [1, 2, 3], query, accept=OCTET)
    assert response.status_code == 422
    assert response.headers["content-type"] == JSON_TYPE
    assert [error["loc"] for error in response.json()["detail"]] == [["query", "iterations"]]
    raw = as_json([1, 2, 3])
    assert response.content == send_json(client, raw, query).content
    assert response.content == send_json(plain, raw, query).content


# Not the canonical spelling the native path takes as is, but values FastAPI accepts.
ODD_ITERATIONS = ["05", "+5", "5.0", " 5", "00", "1&iterations=2", "abc&iterations=3"]


@pytest.mark.parametrize("query", [f"iterations={it}" for it in ODD_ITERATIONS])
def test_iterations_are_coerced_as_fastapi_does(
    client: TestClient, plain: TestClient, query: str
) -> None:
    numbers = [1, 2, -3]
    response = send_binary(client, numbers, query)
    expected = send_json(plain, as_json(numbers), query)
    assert (response.status_code, response.content) == (expected.status_code, expected.content)
    assert response.status_code == 200
    assert response.content == send_json(client, as_json(numbers), query).content


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "", "-inf", "0.0", "1,5"])
def test_bad_request_timeout_header_is_fastapis_422(client: TestClient, value: str) -> None:
    headers = {"x-request-timeout": value}
    response = send_binary(client, [1], "iterations=1", **headers)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [
        ["header", "x-request-timeout"]
    ]
    assert response.content == send_json(client, as_json([1]), "iterations=1", **headers).content


@pytest.mark.parametrize("value", ["1e3", "inf", " 5", "0.5", "+2", "10000000000"])
def test_odd_request_timeouts_are_accepted_as_fastapi_does(client: TestClient, value: str) -> None:
    response = send_binary(client, [0, 1], "iterations=1", **{"x-request-timeout": value})
    assert (response.status_code, response.json()["processed_result"]) == (200, [2, 4])


def test_all_bad_parameters_are_reported_together(client: TestClient) -> None:
    headers = {"x-request-timeout": "abc"}
    response = send_binary(client, [1], "iterations=abc", **headers)
    expected = send_json(client, as_json([1]), "iterations=abc", **headers)
    assert [e["loc"] for e in expected.json()["detail"]] == [
        ["header", "x-request-timeout"],  # the runner's (a dependency's) first, as FastAPI does
        ["query", "iterations"],
    ]
    assert (response.status_code, response.content) == (422, expected.content)


def test_accept_answers_alike_for_canonical_and_coercible_json(client: TestClient) -> None:
    numbers = [1, 2, 3]
    canonical = send_json(client, as_json(numbers), "iterations=1", accept=OCTET)
    coercible = send_json(client, as_coercible_json(numbers), "iterations=1", accept=OCTET)
    assert (canonical.status_code, coercible.status_code) == (200, 200)
    assert canonical.headers["content-type"] == coercible.headers["content-type"]
    assert canonical.content == coercible.content


# ---------------------------------------------------------------------------------------------
# Limits


def test_more_numbers_than_max_numbers_is_413_on_every_path(make_client: MakeClient) -> None:
    client = make_client(max_numbers=4)
    message = {"detail": "5 numbers is more than max_numbers=4"}
    numbers = [1, 2, 3, 4, 5]
    for response in (
        send_binary(client, numbers, "iterations=1"),
        send_binary(client, numbers, "iterations=1", "/process-numbers-rust", accept=OCTET),
        send_json(client, as_json(numbers), "iterations=1"),
        send_json(client, as_coercible_json(numbers), "iterations=1"),
    ):
        assert (response.status_code, response.json()) == (413, message)
    streamed = client.post(
        "/process-numbers?iterations=1",
        content=iter([pack(numbers)]),
        headers={"content-type": OCTET},
    )
    assert (streamed.status_code, streamed.json()) == (413, message)
    at_limit = send_binary(client, numbers[:4], "iterations=1", accept=OCTET)
    assert unpack(at_limit.content) == reference.process_numbers(numbers[:4], 1)
    # 39 bytes declare 4 numbers (under the limit): read, then refused for their length
    assert send_binary(client, b"\x00" * 39).status_code == 422


def _asgi_post(
    app: Any, headers: list[tuple[bytes, bytes]], body: bytes | None = None
) -> tuple[list[Any], int]:
    """Calls ``app`` with a POST whose body is ``body``, or never delivered where it is None;
    returns what the app sent and how many times it asked for the body."""
    asked = 0
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if body is not None and asked == 1:
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # a body that never arrives: the test would hang on a read
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = asgi_post_scope(b"iterations=1", [(b"host", b"testserver"), *headers])

    async def call() -> None:
        try:
            await asyncio.wait_for(app(scope, receive, send), timeout=10)
        except Exception as exc:  # Starlette re-raises after its 500: record it as sent
            sent.append({"type": "exception", "exception": repr(exc)})

    asyncio.run(call())
    return sent, asked


@pytest.mark.parametrize("declared", [40, 41, 8 * 1000])
def test_declared_length_over_max_numbers_is_413_before_the_body_is_read(declared: int) -> None:
    app = create_app(default_settings(max_numbers=4))
    sent, asked = _asgi_post(
        app, [(b"content-type", OCTET.encode()), (b"content-length", str(declared).encode())]
    )
    assert asked == 0, "the body was read"
    start, body = sent[0], sent[1]
    assert start["status"] == 413
    assert body["body"] == (b'{"detail":"%d numbers is more than max_numbers=4"}' % (declared // 8))


def test_default_limit_refuses_a_declared_length_before_reading(client: TestClient) -> None:
    # max_numbers=4,000,000 by default: 32,000,008 bytes declare one number too many
    sent, asked = _asgi_post(
        client.app, [(b"content-type", OCTET.encode()), (b"content-length", b"32000008")]
    )
    assert asked == 0
    assert sent[0]["status"] == 413
    assert b"4000001 numbers is more than max_numbers=4000000" in sent[1]["body"]


@pytest.mark.parametrize("declared", [b"\xb2", b"\xb9", b"9" * 5000])
def test_odd_content_length_is_never_a_500(client: TestClient, declared: bytes) -> None:
    sent, _ = _asgi_post(
        client.app,
        [(b"content-type", OCTET.encode()), (b"content-length", declared)],
        body=pack([1]),
    )
    assert sent[0]["status"] != 500, sent


def test_work_over_max_work_is_413_on_every_path(make_client: MakeClient) -> None:
    client = make_client(max_work=10)
    message = {"detail": "4 numbers x 3 iterations = 12 units of work is more than max_work=10"}
    numbers = [1, 2, 3, 4]
    for response in (
        send_binary(client, numbers, "iterations=3"),
        send_binary(client, numbers, "iterations=3", "/process-numbers-rust", accept=OCTET),
        send_json(client, as_json(numbers), "iterations=3"),
        send_json(client, as_coercible_json(numbers), "iterations=3"),
    ):
        assert (response.status_code, response.json()) == (413, message)
    at_limit = send_binary(client, [1, 2, 3, 4, 5], "iterations=2", accept=OCTET)
    assert unpack(at_limit.content) == reference.process_numbers([1, 2, 3, 4, 5], 2)
    assert send_binary(client, list(range(1000)), "iterations=0").status_code == 200


@pytest.mark.parametrize(("count", "on_the_pool"), [(100, False), (50_000, True)])
def test_a_request_answered_at_once_runs_no_job_on_the_pool(
    make_client: MakeClient, count: int, on_the_pool: bool
) -> None:
    """A small request is answered on the loop's thread (no worker, no disconnect watcher); a
    large one is one native job on the pool."""
    client = make_client()
    before = gilfree.kernel_stats()["process_numbers_request"]
    numbers = list(range(-count // 2, count - count // 2))
    response = send_binary(client, numbers, "iterations=3", accept=OCTET)
    assert unpack(response.content) == gilfree.process_numbers(numbers, 3)
    after = gilfree.kernel_stats()["process_numbers_request"]
    assert after["submitted"] - before["submitted"] == int(on_the_pool)
    assert after["inline_runs"] - before["inline_runs"] == int(not on_the_pool)


@pytest.mark.parametrize(("count", "iterations"), [(50_000, 3), (100_000, 1000)])
def test_only_jobs_worth_cancelling_are_watched_for_a_disconnect(
    monkeypatch: pytest.MonkeyPatch, make_client: MakeClient, count: int, iterations: int
) -> None:
    estimates: list[float] = []
    submit = wire.submit_numbers_request

    def recorded(request: Any, **kwargs: Any) -> Any:
        job = submit(request, **kwargs)
        estimates.append(job.estimated_cpu_s)
        return job

    watches = []
    until_disconnected = gilfree.fastapi.until_disconnected

    async def counted(request: Any, work: Any) -> Any:
        watches.append(request)
        return await until_disconnected(request, work)

    # A job that finished before it was awaited (its workers may run it all while they keep the
    # loop's thread off its CPU) has nothing left to watch.
    done_when_awaited = []
    wait = gilfree.fastapi.Runner.wait

    async def awaited(self: Any, job: Any) -> Any:
        done_when_awaited.append(job.done)
        return await wait(self, job)

    monkeypatch.setattr(wire, "submit_numbers_request", recorded)
    monkeypatch.setattr(gilfree.fastapi, "until_disconnected", counted)
    monkeypatch.setattr(gilfree.fastapi.Runner, "wait", awaited)
    numbers = list(range(count))
    response = send_binary(make_client(), numbers, f"iterations={iterations}", accept=OCTET)
    assert unpack(response.content) == gilfree.process_numbers(numbers, iterations)
    (estimate,) = estimates
    watched = estimate > gilfree.fastapi.WATCHED_CPU_S
    assert len(watches) == int(watched and not done_when_awaited[0])
    if os.environ.get("GILFREE_EXPECT_BUILD_TYPE", "Release") == "Release":
        # A tenth of a millisecond of work is not watched; 10^8 steps are (a sanitizer's build is
        # so much slower that its estimates, corrected by what it measured, may watch both).
        assert watched is (iterations == 1000)


# ---------------------------------------------------------------------------------------------
# OpenAPI


@pytest.mark.parametrize("path", PATHS)
def test_openapi_documents_both_content_types(client: TestClient, path: str) -> None:
    operation = client.get("/openapi.json").json()["paths"][path]["post"]
    request = operation["requestBody"]["content"]
    assert request[JSON_TYPE]["schema"] == {"$ref": "#/components/schemas/NumbersRequest"}
    assert request[OCTET]["schema"] == {"type": "string", "format": "binary"}
    answer = operation["responses"]["200"]["content"]
    assert answer[JSON_TYPE]["schema"] == {"$ref": "#/components/schemas/NumbersResponse"}
    assert answer[OCTET]["schema"] == {"type": "string", "format": "binary"}
    assert operation["responses"]["422"]["content"][JSON_TYPE]
