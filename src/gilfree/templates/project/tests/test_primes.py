"""{{module}}'s kernel called the three ways a service calls it (synchronously, awaited,
cancelled), then served over HTTP by a real server process."""

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
import urllib.error
import urllib.request
from collections.abc import Iterator

import gilfree
import pytest
from gilfree import aio

from {{module}} import MAX_BELOW, count_primes


def primes_below(n: int) -> int:
    """The reference: a plain sieve in Python."""
    if n < 3:
        return 0
    sieve = bytearray([1]) * n
    sieve[0] = sieve[1] = 0
    for p in range(2, int(n**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, n, p)))
    return sum(sieve)


SEGMENT = 1 << 17  # the kernel's chunk: the counts across its edges are checked too


@pytest.mark.parametrize("below", [0, 1, 2, 3, 4, 100, SEGMENT - 1, SEGMENT, SEGMENT + 1, 10**6])
def test_called_synchronously(below: int) -> None:
    assert count_primes(below) == primes_below(below)


def test_bad_input_is_invalid_input() -> None:
    with pytest.raises(gilfree.InvalidInput, match="at most"):
        count_primes(MAX_BELOW + 1)
    with pytest.raises(TypeError):
        count_primes(-1)


def test_awaited() -> None:
    async def main() -> list[int]:
        return list(await asyncio.gather(*(aio.run(count_primes, n) for n in (10**5, 10**6))))

    assert asyncio.run(main()) == [9592, 78498]


def test_cancelled() -> None:
    async def main() -> str:
        job = aio.submit(count_primes, MAX_BELOW)  # about ten CPU seconds
        await asyncio.sleep(0.05)
        job.cancel()
        with pytest.raises(gilfree.Cancelled):
            await job
        return job.status

    started = time.monotonic()
    assert asyncio.run(main()) == "cancelled"
    assert time.monotonic() - started < 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    app = "{{module}}.app:app"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"],
        env=dict(os.environ, GILFREE_THREADS="2"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("the server exited") from None
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _cancelled_jobs(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    # The module's kernel is named {{module}}._native.count_primes.
    labels = f'kernel="{count_primes.name}",outcome="cancelled"'
    found = re.search(r"gilfree_kernel_jobs_total\{" + re.escape(labels) + r"\} (\S+)", text)
    return float(found.group(1)) if found else 0.0


def test_served_over_http(server: str) -> None:
    assert _get(f"{server}/primes?below=1000000") == (200, {"below": 1000000, "count": 78498})
    status, body = _get(f"{server}/primes?below=-1")
    assert status == 422
    assert body["detail"][0]["loc"] == ["query", "below"]  # type: ignore[index]


def test_deadline_over_http_is_504(server: str) -> None:
    status, _ = _get(f"{server}/primes?below={MAX_BELOW}", {"X-Request-Timeout": "0.1"})
    assert status == 504


def test_client_that_leaves_cancels_its_job(server: str) -> None:
    before = _cancelled_jobs(server)
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(f"{server}/primes?below={MAX_BELOW}", timeout=0.3)
    for _ in range(100):
        if _cancelled_jobs(server) > before:
            break
        time.sleep(0.05)
    assert _cancelled_jobs(server) == before + 1
