"""gilfree.fastapi: any FastAPI app made a gilfree app, and routes that await any kernel through
the runner: deadlines, disconnects, errors, metrics, and the app's own lifespan kept."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

import gilfree
from gilfree import _kernels
from gilfree.fastapi import Run, RuntimeSettings, runner, setup
from tests.server.conftest import asgi_request, asgi_scope

ENDLESS = 10**9  # iterations that no test waits for


def _samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def make_app(settings: RuntimeSettings | None = None, **paths: Any) -> FastAPI:
    """A user's app: its own lifespan and routes, made a gilfree app."""
    events: list[str] = []

    @asynccontextmanager
    async def own_lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        events.append(f"start on {gilfree.executor_stats()['threads']} threads")
        yield {"greeting": "hello"}
        events.append("stop")

    app = FastAPI(lifespan=own_lifespan)
    app.state.events = events
    setup(app, settings or RuntimeSettings(threads=2), **paths)

    @app.get("/sum")
    async def sum_squares(a: int, b: int, run: Run) -> dict[str, int]:
        return {"sum": await run(_kernels.sum_squares, a, b)}

    @app.post("/process")
    async def process(numbers: list[int], run: Run, iterations: int = 1) -> list[int]:
        result: list[int] = await run(_kernels.process_numbers_list, numbers, iterations)
        return result

    @app.get("/greeting")
    async def greeting(request: Request) -> str:
        return str(request.state.greeting)

    return app


def test_the_apps_own_lifespan_runs_inside_the_runtimes() -> None:
    app = make_app(RuntimeSettings(threads=3))
    with TestClient(app) as client:
        assert client.get("/greeting").json() == "hello"  # the app's lifespan state, kept
        assert client.get("/sum", params={"a": 3, "b": 4}).json() == {"sum": 25}
        assert gilfree.executor_stats()["threads"] == 3
    # Started after the runtime (on its 3 threads), stopped before it.
    assert app.state.events == ["start on 3 threads", "stop"]


def test_a_route_awaits_any_kernel_through_the_runner() -> None:
    with TestClient(make_app()) as client:
        numbers = list(range(-500, 500))
        response = client.post("/process", params={"iterations": 1000}, json=numbers)
        assert response.status_code == 200
        assert response.json() == gilfree.process_numbers(numbers, 1000)
        big = client.post("/process", params={"iterations": 1000}, json=list(range(100_000)))
        assert big.json() == gilfree.process_numbers(list(range(100_000)), 1000)


def test_the_deadline_header_shortens_and_gives_504() -> None:
    with TestClient(make_app(RuntimeSettings(threads=2, request_timeout_s=30))) as client:
        started = time.monotonic()
        response = client.post(
            "/process",
            params={"iterations": ENDLESS},
            json=list(range(10_000)),
            headers={"X-Request-Timeout": "0.05"},
        )
        assert response.status_code == 504
        assert "deadline" in response.json()["detail"]
        assert time.monotonic() - started < 5
        bad = client.get("/sum", params={"a": 1, "b": 2}, headers={"X-Request-Timeout": "-1"})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["header", "x-request-timeout"]


@pytest.mark.parametrize(
    ("value", "status"), [("0.5", 200), ("1e3", 200), ("null", 422), ("0", 422), ("", 422)]
)
def test_the_deadline_headers_schema_is_what_it_accepts(value: str, status: int) -> None:
    app = make_app()
    (header,) = [
        p for p in app.openapi()["paths"]["/sum"]["get"]["parameters"] if p["in"] == "header"
    ]
    # Absent, or a number above 0: never null (a header cannot be).
    assert header["name"] == "x-request-timeout"
    assert not header["required"]
    assert header["schema"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "title": "X-Request-Timeout",
    }
    with TestClient(app) as client:
        answer = client.get("/sum", params={"a": 1, "b": 2}, headers={"X-Request-Timeout": value})
    assert answer.status_code == status


def test_a_full_queue_is_503_with_retry_after() -> None:
    app = make_app(RuntimeSettings(threads=2, max_queued_cpu_s=1.0))

    async def main() -> None:
        async with app.router.lifespan_context(app):
            numbers = np.arange(1_000_000, dtype=np.int64)
            # Admitted alone; then nothing fits.
            huge = gilfree.aio.submit(
                _kernels.process_numbers_buffer, numbers, np.empty_like(numbers), ENDLESS
            )
            status, headers, body = await _call(app, "GET", "/sum", b"a=1&b=2")
            assert status == 503
            assert headers[b"retry-after"] == b"1"
            assert "max_queued_cpu_s=1 s" in json.loads(body)["detail"]
            huge.cancel()
            with pytest.raises(gilfree.Cancelled):
                await huge

    asyncio.run(main())


def test_invalid_input_of_a_kernel_is_fastapis_422() -> None:
    with TestClient(make_app()) as client:
        response = client.post("/process", json=[1, 2**63])  # past int64: the kernel refuses it
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert detail[0]["loc"] == ["body"]
        assert "outside the signed 64-bit integer range" in detail[0]["msg"]


async def _call(
    app: FastAPI,
    method: str,
    path: str,
    query: bytes = b"",
    body: bytes = b"",
    gone: asyncio.Event | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One ASGI request, whose client disconnects once ``gone`` is set."""
    scope = asgi_scope(method, path, query, [(b"content-type", b"application/json")])
    return await asgi_request(app, scope, body, gone)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


def test_a_client_that_disconnects_cancels_its_job_and_is_counted() -> None:
    app = make_app()

    async def main() -> tuple[int, int]:
        async with app.router.lifespan_context(app):
            cancelled = gilfree.executor_stats()["cancelled"]
            gone = asyncio.Event()
            body = json.dumps(list(range(10_000))).encode()
            request = asyncio.ensure_future(
                _call(app, "POST", "/process", f"iterations={ENDLESS}".encode(), body, gone)
            )
            await until(lambda: gilfree.executor_stats()["busy_workers"] > 0)
            gone.set()
            status, _, _ = await asyncio.wait_for(request, 5)
            await until(lambda: gilfree.executor_stats()["active_jobs"] == 0)
            return status, gilfree.executor_stats()["cancelled"] - cancelled

    status, cancelled = asyncio.run(main())
    assert status == 499
    assert cancelled == 1


def test_routes_jobs_are_in_metrics_and_paths_are_the_apps_choice() -> None:
    app = make_app(metrics_path="/internal/metrics", healthz_path=None)
    with TestClient(app) as client:
        assert client.get("/sum", params={"a": 1, "b": 2}).status_code == 200
        assert client.get("/healthz").status_code == 404
        assert client.get("/metrics").status_code == 404
        samples = _samples(client.get("/internal/metrics").text)
    key = 'gilfree_route_job_seconds_count{kernel="sum_squares",outcome="succeeded",route="/sum"}'
    assert samples[key] == 1
    assert 'gilfree_kernel_jobs_total{kernel="sum_squares",outcome="inline_runs"}' in samples


def test_the_default_paths_serve_health_and_metrics() -> None:
    with TestClient(make_app()) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_no_memory_for_a_request_is_503_with_retry_after() -> None:
    app = make_app()

    @app.get("/big")
    async def big() -> None:
        raise MemoryError

    with TestClient(app) as client:
        response = client.get("/big")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "no memory" in response.json()["detail"]


def test_a_runner_outside_a_gilfree_app_says_so() -> None:
    plain = FastAPI()
    request = Request({"type": "http", "app": plain, "path": "/", "headers": []})
    with pytest.raises(RuntimeError, match=r"call gilfree\.fastapi\.setup\(app\) first"):
        asyncio.run(runner(request))


def test_the_runner_is_made_on_the_event_loop_not_in_a_thread() -> None:
    # FastAPI runs a plain `def` dependency in its thread pool: a thread hop per request, which
    # cost a /sum-squares four times its time (1.2 ms against 0.28 ms here).
    assert asyncio.iscoroutinefunction(runner)
