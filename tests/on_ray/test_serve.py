"""`gilfree serve --ray` as a user runs it: a real process starting a local Ray of two replicas of
one CPU each, hit over HTTP. Serve's queue and timeout follow gilfree's settings, a client that
leaves cancels the native job, a killed replica is replaced, and nothing of Ray outlives it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest

pytest.importorskip("ray")

import httpx
import numpy as np

import gilfree
from tests.on_ray.cluster import (
    RayServer,
    alive,
    free_port,
    iterations_for,
    process_of,
    ray_env,
    replica_pid,
    serving_on_ray,
)

pytestmark = pytest.mark.ray

# Serve takes 4 requests a replica and queues 4 more (GILFREE_MAX_CONNECTIONS), a replica admits
# 2 s of estimated work (GILFREE_MAX_QUEUED_CPU_S), gilfree's deadline is 3 s, so Serve's
# request_timeout_s is 13 s; iterations and work are unbounded enough for jobs of seconds.
SETTINGS = {
    "max_connections": "4",
    "max_queued_cpu_s": "2",
    "request_timeout_s": "3",
    "max_iterations": str(10**9),
    "max_work": str(10**15),
}
SERVE_TIMEOUT_S = 13.0
NUMBERS = list(range(4096))
BODY = json.dumps({"numbers": NUMBERS})
JSON = {"content-type": "application/json"}
QUEUE_FULL = "queued work would pass max_queued_cpu_s"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServer]:
    log = tmp_path_factory.mktemp("ray-serve") / "serve.log"
    with serving_on_ray(log, args=("--replicas", "2", "--replica-cpus", "1"), **SETTINGS) as live:
        yield live


def _work(server: RayServer, seconds: float, **headers: str) -> tuple[str, dict[str, str]]:
    url = f"{server.base_url}/process-numbers?iterations={iterations_for(seconds)}"
    return url, JSON | headers


def _replicas(server: RayServer, count: int = 2, within_s: float = 60.0) -> dict[int, str]:
    """The /metrics of ``count`` distinct replicas, by PID (Serve routes each scrape to one)."""
    metrics: dict[int, str] = {}
    deadline = time.monotonic() + within_s
    while len(metrics) < count:
        assert time.monotonic() < deadline, f"only replicas {sorted(metrics)} answered"
        response = httpx.get(f"{server.base_url}/metrics", timeout=10)
        if response.status_code == 200:
            metrics[replica_pid(response)] = response.text
        server.observe()
    return metrics


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"no {name} in /metrics"
    return float(match.group(1))


def test_serve_settings_follow_gilfree(server: RayServer) -> None:
    output = server.output()
    assert "2 replicas x 1 CPU, a native pool of 1 thread each" in output
    assert "max_ongoing_requests=4 a replica, max_queued_requests=4" in output
    assert f"request_timeout_s={SERVE_TIMEOUT_S:g}" in output


def test_two_replicas_each_with_a_pool_of_its_cpus(server: RayServer) -> None:
    metrics = _replicas(server)
    assert len(metrics) == 2
    for pid, text in metrics.items():
        # One CPU assigned, one native thread (the machine has more: not affinity, not cpu_count).
        assert _metric(text, "gilfree_executor_threads") == 1.0, pid
        assert _metric(text, "gilfree_executor_max_queued_cpu_seconds") == 2.0, pid
    assert os.getpid() not in metrics


def test_answers_are_gilfree_serves(server: RayServer) -> None:
    values = np.array([0, 1, -1, 2**63 - 1, -(2**63), *range(10_000)], dtype=np.int64)
    expected = gilfree.process_numbers(values, 1000)
    url = f"{server.base_url}/process-numbers?iterations=1000"
    as_json = httpx.post(url, json={"numbers": values.tolist()}, timeout=30)
    assert as_json.status_code == 200, as_json.text
    assert as_json.json() == {"original_count": len(values), "processed_result": expected.tolist()}
    # The wire path answers with native memory: it must reach the client through Serve too.
    as_int64 = httpx.post(
        url,
        content=values.tobytes(),
        headers={"content-type": "application/octet-stream", "accept": "application/octet-stream"},
        timeout=30,
    )
    assert as_int64.status_code == 200, as_int64.text
    assert np.array_equal(np.frombuffer(as_int64.content, dtype="<i8"), expected)
    tiny = httpx.get(f"{server.base_url}/sum-squares?a=-9223372036854775808&b=3", timeout=10)
    assert tiny.json()["sum_of_squares"] == 2**126 + 9


def test_deadline_is_gilfrees_504_before_serves_timeout(server: RayServer) -> None:
    # Work of 8 s against gilfree's deadline of 3 s: 504 at 3 s, long before Serve's 408 at 13 s.
    url, headers = _work(server, 8.0)
    started = time.monotonic()
    response = httpx.post(url, content=BODY, headers=headers, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.json() == {"detail": "the job's deadline passed before it finished"}
    assert 2.5 < elapsed < SERVE_TIMEOUT_S - 5, elapsed
    # X-Request-Timeout shortens it, through Serve as directly.
    url, headers = _work(server, 8.0, **{"x-request-timeout": "0.3"})
    started = time.monotonic()
    response = httpx.post(url, content=BODY, headers=headers, timeout=30)
    assert response.status_code == 504, response.text
    assert time.monotonic() - started < 2.5


def test_client_that_leaves_cancels_the_native_job(server: RayServer) -> None:
    before = sum(_metric(t, "gilfree_jobs_cancelled_total") for t in _replicas(server).values())
    url, headers = _work(server, 2.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, content=BODY, headers=headers, timeout=httpx.Timeout(30, read=0.5))
    # Serve sees the disconnect, cancels the replica's task, and gilfree the job with it.
    deadline = time.monotonic() + 20
    while True:
        replicas = _replicas(server)
        cancelled = sum(_metric(t, "gilfree_jobs_cancelled_total") for t in replicas.values())
        if cancelled > before:
            break
        assert time.monotonic() < deadline, "no native job was cancelled"
        time.sleep(0.3)
    assert cancelled == before + 1
    assert all(_metric(t, "gilfree_executor_busy_workers") == 0 for t in replicas.values())


async def _burst(url: str, headers: dict[str, str], count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(client.post(url, content=BODY, headers=headers) for _ in range(count))
        )


def test_burst_past_the_queue_is_refused_503_with_retry_after(server: RayServer) -> None:
    # 40 requests of 0.8 s each at once: 8 in the replicas, 4 queued, Serve refuses the rest;
    # a replica admits 2 s of work, and refuses what its 4 would add beyond it.
    url, headers = _work(server, 0.8)
    responses = asyncio.run(_burst(url, headers, 40))
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {200, 503}, statuses
    refused = [response for response in responses if response.status_code == 503]
    assert all(response.headers.get("retry-after") == "1" for response in refused)
    by_serve = [r for r in refused if r.text.startswith("Request dropped due to backpressure")]
    by_gilfree = [r for r in refused if QUEUE_FULL in r.text]
    assert by_serve, "Serve refused nothing"
    assert by_gilfree, "no replica refused anything"
    assert len(by_serve) + len(by_gilfree) == len(refused)
    assert statuses[200] >= 2  # a request alone is always admitted: one a replica at least


def test_killed_replica_fails_its_requests_and_is_replaced(server: RayServer) -> None:
    victim, survivor = sorted(_replicas(server))
    # Requests in flight on both replicas (a replica takes at most 4, so each has some).
    url, headers = _work(server, 0.6)

    async def kill_during_burst() -> list[httpx.Response]:
        burst = asyncio.ensure_future(_burst(url, headers, 8))
        await asyncio.sleep(0.4)
        os.kill(victim, signal.SIGKILL)
        return await burst

    responses = asyncio.run(kill_during_burst())
    failed = [r for r in responses if r.status_code >= 500 and QUEUE_FULL not in r.text]
    assert failed, [(r.status_code, r.text[:80]) for r in responses]
    assert all(replica_pid(r) == survivor for r in responses if r.status_code == 200)
    # The other replica keeps serving...
    deadline = time.monotonic() + 30
    served = 0
    while served < 5:
        assert time.monotonic() < deadline, "the surviving replica stopped serving"
        response = httpx.get(f"{server.base_url}/sum-squares?a=5&b=10", timeout=10)
        served = served + 1 if response.status_code == 200 else 0
    # ...and Serve starts a replica in the victim's place.
    replicas = _replicas(server, within_s=90)
    assert victim not in replicas
    assert survivor in replicas
    assert all(_metric(text, "gilfree_executor_threads") == 1.0 for text in replicas.values())


def test_sigterm_stops_serve_and_leaves_no_ray_process(server: RayServer) -> None:
    server.observe()
    driver = process_of(server.process.pid)
    ray_processes = server.seen - {driver}
    assert len(ray_processes) >= 6  # gcs_server, raylet, controller, proxy, 2 replicas, ...
    started = time.monotonic()
    assert server.stop() == 0, server.output()
    assert time.monotonic() - started < 30
    assert "SIGTERM: stopping" in server.output()
    deadline = time.monotonic() + 10
    while alive(ray_processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(ray_processes)


def test_unreachable_cluster_is_a_clear_error_in_bounded_time() -> None:
    command = [sys.executable, "-m", "gilfree.cli", "serve", "--ray", "--connect-timeout", "4"]
    # Nothing listens: refused at once.
    port = free_port()
    refused = subprocess.run(
        [*command, "--address", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        env=ray_env(),
        timeout=60,
    )
    assert refused.returncode == 2
    assert f"no Ray cluster at 127.0.0.1:{port}: Connection refused" in refused.stderr
    # Something accepts connections and never answers: given up after --connect-timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        mute = subprocess.run(
            [*command, "--address", address],
            capture_output=True,
            text=True,
            env=ray_env(),
            timeout=60,
        )
        elapsed = time.monotonic() - started
    assert mute.returncode == 2
    assert f"no Ray cluster answered at {address} within 4 s" in mute.stderr
    assert elapsed < 15
    assert "Traceback" not in mute.stderr


def test_more_replicas_than_the_local_cpus_is_refused() -> None:
    cpus = int(gilfree.build_info()["usable_cpus"])
    result = subprocess.run(
        [sys.executable, "-m", "gilfree.cli", "serve", "--ray", "--replicas", str(cpus + 1)],
        capture_output=True,
        text=True,
        env=ray_env(),
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"gilfree serve --ray: {cpus + 1} replicas x 1 CPU need {cpus + 1} CPUs; this machine"
        f" has {cpus}"
    ]  # refused before a Ray was started for nothing
