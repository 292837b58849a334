"""The fast paths of GET /sum-squares and /healthz answer exactly as FastAPI's routes do; POST
/process-numbers takes its native path ahead of the routes, and what that declines reaches the
route with its body.

Every request goes to two instances of the service: one as built, one whose fast paths were
removed, so that FastAPI's routing, parameter validation and endpoint answer everything. Status,
headers and body must be the same bytes; a spy says whether the fast path answered, which it
must for the canonical queries and must not for any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gilfree
from gilfree import INT64_MAX, INT64_MIN, reference
from gilfree.fastapi import fast_route, setup
from gilfree.server import create_app
from gilfree.server.routes import SUM_SQUARES_PATHS
from tests.server.conftest import asgi_request, asgi_scope, default_settings

Answer = tuple[int, dict[bytes, bytes], bytes]
JSON_HEADERS = {"content-type": "application/json"}


class Pair:
    """The service with its fast paths (spied on) and without them, on one event loop."""

    def __init__(self) -> None:
        self.fast_app = create_app(default_settings())
        self.routes_app = create_app(default_settings())
        self.routes_app.state.gilfree.fast_paths.clear()
        self.answered_fast: list[bool] = []
        paths = self.fast_app.state.gilfree.fast_paths
        for key, fast in list(paths.items()):
            paths[key] = self._spied(fast)
        self.loop = asyncio.new_event_loop()
        self._lifespans = [self.fast_app.router.lifespan_context(self.fast_app)]

    def _spied(self, fast: Any) -> Any:
        async def spied(request: Any) -> Any:
            response = await fast(request)
            self.answered_fast.append(response is not None)
            return response

        return spied

    def __enter__(self) -> Pair:
        for lifespan in self._lifespans:
            self.loop.run_until_complete(lifespan.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        for lifespan in self._lifespans:
            self.loop.run_until_complete(lifespan.__aexit__(None, None, None))
        self.loop.close()

    def ask(
        self, method: str, path: str, query: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> tuple[Answer, Answer, bool]:
        """The fast app's answer, the routes' answer, and whether the fast path answered."""
        self.answered_fast.clear()
        scope = asgi_scope(method, path, query, [(b"host", b"test"), *headers])
        fast = self.loop.run_until_complete(asgi_request(self.fast_app, dict(scope), b""))
        routes = self.loop.run_until_complete(asgi_request(self.routes_app, dict(scope), b""))
        return fast, routes, self.answered_fast == [True]


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with Pair() as both:
        yield both


CANONICAL = [
    b"",
    b"a=3",
    b"b=4",
    b"a=3&b=4",
    b"b=4&a=3",
    b"a=0&b=0",
    b"a=-7&b=12",
    b"a=9223372036854775807&b=-9223372036854775808",
    b"a=-9223372036854775807",
]
# Each is valid or invalid for FastAPI; none is canonical, so the route must answer all of them.
NOT_CANONICAL = [
    b"a=+3",
    b"a=03",
    b"a=-0",
    b"a=%33",
    b"a=3&a=4",
    b"a=3&b=4&c=5",
    b"a=&b=4",
    b"a= 3",
    b"a=3.0",
    b"a=1e3",
    b"a=1_000",
    b"a=9223372036854775808",
    b"a=-9223372036854775809",
    b"a=99999999999999999999",
    b"a=x",
    b"a",
    b"&a=3",
    b"a=3&",
    b"b=4&b=5",
    b"A=3",
    b"a=\xd9\xa3",  # an Arabic-Indic digit 3, which int() would take
]


@pytest.mark.parametrize("path", SUM_SQUARES_PATHS)
@pytest.mark.parametrize("query", CANONICAL)
def test_canonical_queries_take_the_fast_path_with_the_routes_answer(
    pair: Pair, path: str, query: bytes
) -> None:
    fast, routes, answered_fast = pair.ask("GET", path, query)
    assert answered_fast
    assert fast == routes
    assert fast[0] == 200


@pytest.mark.parametrize("query", NOT_CANONICAL)
def test_any_other_query_goes_to_the_route(pair: Pair, query: bytes) -> None:
    fast, routes, answered_fast = pair.ask("GET", "/sum-squares", query)
    assert not answered_fast
    assert fast == routes


@pytest.mark.parametrize(
    "header",
    [
        (b"x-request-timeout", b"5"),
        (b"x-request-timeout", b"-1"),
        (b"x-request-timeout", b"null"),
        (b"content-length", b"0"),
        (b"transfer-encoding", b"chunked"),
    ],
)
def test_a_deadline_header_or_a_body_goes_to_the_route(
    pair: Pair, header: tuple[bytes, bytes]
) -> None:
    fast, routes, answered_fast = pair.ask("GET", "/sum-squares", b"a=3&b=4", (header,))
    assert not answered_fast
    assert fast == routes


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT"])
def test_other_methods_go_to_the_router(pair: Pair, method: str) -> None:
    fast, routes, answered_fast = pair.ask(method, "/sum-squares", b"a=3&b=4")
    assert not answered_fast
    assert fast == routes


def test_healthz_takes_the_fast_path_with_the_routes_answer(pair: Pair) -> None:
    fast, routes, answered_fast = pair.ask("GET", "/healthz", b"")
    assert answered_fast
    assert fast == routes == (fast[0], fast[1], b'{"status":"ok"}')


def test_the_fast_path_records_the_job_under_the_path(pair: Pair) -> None:
    pair.ask("GET", "/sum-squares-rust", b"a=1&b=2")
    metrics = pair.fast_app.state.metrics
    count = metrics.registry.get_sample_value(
        "gilfree_route_job_seconds_count",
        {"route": "/sum-squares-rust", "kernel": "sum_squares", "outcome": "succeeded"},
    )
    assert count is not None
    assert count >= 1


_query_text = st.lists(
    st.sampled_from(["a", "b", "c", "=", "&", "-", "+", "0", "1", "9", "%", "3", " ", "_", "."]),
    max_size=24,
).map(lambda parts: "".join(parts).encode())
_int64 = st.integers(INT64_MIN, INT64_MAX)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.one_of(_query_text, st.builds(lambda a, b: f"a={a}&b={b}".encode(), _int64, _int64))
)
def test_any_query_gets_the_routes_answer(pair: Pair, query: bytes) -> None:
    fast, routes, _ = pair.ask("GET", "/sum-squares", query)
    assert fast == routes


def test_fast_route_needs_a_gilfree_app() -> None:
    async def fast(request: Any) -> None:
        return None

    with pytest.raises(RuntimeError, match="setup"):
        fast_route(FastAPI(), "GET", "/x", fast)


def test_a_fast_path_that_declines_leaves_the_request_to_the_route() -> None:
    app = FastAPI()
    setup(app)
    offered: list[str] = []

    @app.get("/hello")
    async def hello(name: str = "world") -> dict[str, str]:
        return {"hello": name}

    async def fast(request: Any) -> None:
        offered.append(request.scope["query_string"].decode())
        return None

    fast_route(app, "get", "/hello", fast)
    loop = asyncio.new_event_loop()
    try:
        status, _, body = loop.run_until_complete(
            asgi_request(app, asgi_scope("GET", "/hello", b"name=you", [(b"host", b"t")]), b"")
        )
    finally:
        loop.close()
    assert (status, body, offered) == (200, b'{"hello":"you"}', ["name=you"])


def test_a_fast_path_that_read_the_body_and_declines_leaves_it_to_the_route() -> None:
    app = FastAPI()
    setup(app)
    offered: list[bytes] = []

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body())

    async def fast(request: Request) -> None:
        offered.append(await request.body())
        return None

    fast_route(app, "POST", "/echo", fast)
    loop = asyncio.new_event_loop()
    try:
        headers = [(b"host", b"t"), (b"content-length", b"5")]
        answer = asgi_request(app, asgi_scope("POST", "/echo", b"", headers), b"hello")
        # Without the body kept for it, the route would wait for one that never comes.
        status, _, body = loop.run_until_complete(asyncio.wait_for(answer, 10))
    finally:
        loop.close()
    assert (status, body, offered) == (200, b"hello", [b"hello"])


def _numbers_requests_offered() -> int:
    stats = gilfree.kernel_stats()["process_numbers_request"]
    return int(stats["submitted"] + stats["inline_runs"])


@pytest.mark.parametrize("path", ["/process-numbers", "/process-numbers-rust"])
def test_numbers_take_the_fast_path_and_a_declined_body_is_parsed_once(path: str) -> None:
    with TestClient(create_app(default_settings())) as client:
        before = _numbers_requests_offered()
        canonical = client.post(path, content=b'{"numbers":[1,2,3]}', headers=JSON_HEADERS)
        assert _numbers_requests_offered() == before + 1
        # "2.0" is not canonical: the native path declines it ahead of the routes, FastAPI
        # validates it (pydantic takes 2.0 as 2) and the route does not offer it again.
        coerced = client.post(path, content=b'{"numbers":[1,2.0,3]}', headers=JSON_HEADERS)
        assert _numbers_requests_offered() == before + 2
    assert canonical.status_code == coerced.status_code == 200
    assert canonical.content == coerced.content
    assert canonical.json()["processed_result"] == reference.process_numbers([1, 2, 3], 1000)
