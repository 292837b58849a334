"""The service on the native runtime: deadlines (504), admission (503), disconnects, metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import gilfree
from gilfree import reference
from gilfree.server import create_app
from tests.server.conftest import asgi_post_scope, asgi_request, default_settings

MakeClient = Callable[..., TestClient]

# 10k numbers x 10^9 iterations: 10^13 steps, minutes on any machine, so the job ends only
# through a deadline, a cancellation or a disconnect. The apps here allow that much work.
HUGE = {"numbers": list(range(10_000))}
HUGE_QUERY = "iterations=1000000000"
ROOMY = {"max_iterations": 10**9, "max_work": 10**13, "max_queued_cpu_s": 1e9}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


def huge_job_running() -> bool:
    # The huge job admitted (its estimate is hundreds of CPU seconds at least) and running.
    stats = gilfree.executor_stats()
    return stats["queued_cpu_s"] >= 100 and stats["busy_workers"] > 0


class _Served:
    """An app with its lifespan running and an httpx client talking ASGI to it."""

    def __init__(self, **overrides: Any) -> None:
        self.app: FastAPI = create_app(default_settings(**overrides))

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://gilfree.test"
        )
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


def test_deadline_is_504_and_stops_the_work(make_client: MakeClient) -> None:
    client = make_client(**ROOMY, request_timeout_s=0.2)
    before = gilfree.executor_stats()["deadline_exceeded"]
    started = time.monotonic()
    response = client.post(f"/process-numbers?{HUGE_QUERY}", json=HUGE)
    assert response.status_code == 504
    assert "deadline" in response.json()["detail"]
    assert time.monotonic() - started < 5
    assert gilfree.executor_stats()["deadline_exceeded"] == before + 1
    assert gilfree.executor_stats()["active_jobs"] == 0


def test_request_timeout_header_shortens_but_never_extends(make_client: MakeClient) -> None:
    client = make_client(**ROOMY, request_timeout_s=30)
    started = time.monotonic()
    shortened = client.post(
        f"/process-numbers?{HUGE_QUERY}", json=HUGE, headers={"X-Request-Timeout": "0.1"}
    )
    assert shortened.status_code == 504
    assert time.monotonic() - started < 5

    client = make_client(**ROOMY, request_timeout_s=0.1)
    started = time.monotonic()
    not_extended = client.post(
        f"/process-numbers?{HUGE_QUERY}", json=HUGE, headers={"X-Request-Timeout": "30"}
    )
    assert not_extended.status_code == 504
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("header", ["0", "-1", "soon", "nan"])
def test_bad_request_timeout_header_is_422(make_client: MakeClient, header: str) -> None:
    response = make_client().post(
        "/process-numbers", json={"numbers": [1]}, headers={"X-Request-Timeout": header}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "x-request-timeout"]


@pytest.mark.anyio
async def test_queued_work_past_the_limit_is_503_at_once() -> None:
    # One CPU-second of queue: the huge request is admitted (nothing else was), and fills it.
    async with _Served(**(ROOMY | {"max_queued_cpu_s": 1.0})) as client:
        big = asyncio.ensure_future(client.post(f"/process-numbers?{HUGE_QUERY}", json=HUGE))
        await until(huge_job_running)
        started = time.monotonic()
        refused = await client.post("/process-numbers?iterations=10", json={"numbers": [1]})
        assert time.monotonic() - started < 1
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "max_queued_cpu_s=1 s" in refused.json()["detail"]
        big.cancel()
        await until(lambda: gilfree.executor_stats()["active_jobs"] == 0)
        # Room again once the big job is gone.
        fine = await client.post("/process-numbers?iterations=1", json={"numbers": [0]})
        assert fine.json() == {"original_count": 1, "processed_result": [2]}


@pytest.mark.anyio
async def test_small_request_is_served_while_a_huge_one_runs() -> None:
    async with _Served(**ROOMY) as client:
        big = asyncio.ensure_future(client.post(f"/process-numbers?{HUGE_QUERY}", json=HUGE))
        await until(huge_job_running)
        started = time.monotonic()
        small = await client.post("/process-numbers", json={"numbers": list(range(100))})
        health = await client.get("/healthz")
        elapsed = time.monotonic() - started
        assert small.status_code == 200
        assert small.json()["processed_result"] == reference.process_numbers(range(100))
        assert health.json() == {"status": "ok"}
        assert not big.done()
        assert elapsed < 2  # the huge job alone lasts far longer
        big.cancel()
        await until(lambda: gilfree.executor_stats()["active_jobs"] == 0)


@pytest.mark.anyio
async def test_client_disconnect_cancels_the_native_job() -> None:
    app = create_app(default_settings(**ROOMY))
    body = json.dumps(HUGE).encode()
    gone = asyncio.Event()
    scope = asgi_post_scope(HUGE_QUERY.encode(), [(b"content-type", b"application/json")])
    async with app.router.lifespan_context(app):
        cancelled = gilfree.executor_stats()["cancelled"]
        request = asyncio.ensure_future(asgi_request(app, scope, body, gone))
        await until(huge_job_running)
        gone.set()
        status, _, _ = await asyncio.wait_for(request, 5)
        await until(lambda: gilfree.executor_stats()["active_jobs"] == 0)
        assert gilfree.executor_stats()["cancelled"] == cancelled + 1
        assert gilfree.executor_stats()["busy_workers"] == 0
    assert status == 499


@pytest.mark.anyio
async def test_many_concurrent_requests_settle() -> None:
    async with _Served() as client:
        responses = await asyncio.gather(
            *(
                client.post(f"/process-numbers?iterations={i % 50}", json={"numbers": [i, -i]})
                for i in range(200)
            )
        )
        for i, response in enumerate(responses):
            assert response.status_code == 200
            expected = reference.process_numbers([i, -i], i % 50)
            assert response.json()["processed_result"] == expected
        assert gilfree.executor_stats()["active_jobs"] == 0


def test_metrics_expose_jobs_and_histograms(make_client: MakeClient) -> None:
    client = make_client(**ROOMY)
    # Large enough to be a native job (a tiny request is answered inline, without one).
    assert client.post("/process-numbers", json=HUGE).status_code == 200
    assert client.get("/sum-squares").status_code == 200
    shortened = {"X-Request-Timeout": "0.05"}
    huge = client.post(f"/process-numbers?{HUGE_QUERY}", json=HUGE, headers=shortened)
    assert huge.status_code == 504
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["gilfree_jobs_submitted_total"] >= 2  # the two large requests
    assert samples["gilfree_jobs_inline_runs_total"] >= 1  # sum_squares: at once, no worker
    assert samples["gilfree_jobs_succeeded_total"] >= 2
    assert samples["gilfree_jobs_deadline_exceeded_total"] >= 1
    for name in ("cancelled", "rejected", "failed"):
        assert f"gilfree_jobs_{name}_total" in samples
    assert samples["gilfree_executor_active_jobs"] == 0
    assert samples["gilfree_executor_queued_cpu_seconds"] == 0
    assert samples["gilfree_executor_max_queued_cpu_seconds"] == 1e9
    # Every kernel by name: its jobs, and its estimated against measured CPU time.
    jobs = 'gilfree_kernel_jobs_total{kernel="process_numbers_request",outcome="succeeded"}'
    assert samples[jobs] >= 1
    measured = 'gilfree_kernel_cpu_seconds_total{kernel="process_numbers_request"}'
    estimated = 'gilfree_kernel_estimated_cpu_seconds_total{kernel="process_numbers_request"}'
    assert samples[measured] > 0
    assert samples[estimated] > 0
    assert 'gilfree_kernel_cost_correction{kernel="sum_squares"}' in samples
    assert samples["gilfree_executor_threads"] == gilfree.threads()
    assert "gilfree_executor_busy_workers" in samples
    wait = (
        'gilfree_job_queue_wait_seconds_count{kernel="process_numbers_request",status="succeeded"}'
    )
    assert samples[wait] >= 1
    run = (
        'gilfree_job_run_seconds_count{kernel="process_numbers_request",status="deadline_exceeded"}'
    )
    assert samples[run] >= 1
    assert 'gilfree_job_run_seconds_count{kernel="sum_squares",status="succeeded"}' in samples
    for name in ("reused_total", "allocated_total", "retained_bytes", "max_retained_bytes"):
        assert f"gilfree_buffer_cache_{name}" in samples
    assert samples["gilfree_buffer_cache_max_retained_bytes"] == 64 * 2**20


def test_shutdown_with_work_in_flight_cancels_it_and_joins() -> None:
    app = create_app(default_settings(**ROOMY, shutdown_grace_s=0.05))

    async def main() -> tuple[int, float, dict[str, int]]:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gilfree.test"
            ) as client,
            app.router.lifespan_context(app),
        ):
            request = asyncio.ensure_future(
                client.post(f"/process-numbers?{HUGE_QUERY}", json=HUGE)
            )
            await until(huge_job_running)
            started = time.monotonic()
        stopped_after = time.monotonic() - started  # the grace, then cancellation, then join
        response = await asyncio.wait_for(request, 5)
        return response.status_code, stopped_after, gilfree.executor_stats()

    status, stopped_after, stats = asyncio.run(main())
    assert status == 503  # cancelled by the shutdown: the client may retry elsewhere
    assert stopped_after < 5
    assert stats["active_jobs"] == 0  # a fresh pool: nothing left running
    assert stats["busy_workers"] == 0
