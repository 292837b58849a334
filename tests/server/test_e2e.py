"""End to end: `gilfree serve` as a real process (uvicorn, uvloop, httptools) over a real socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gilfree import INT64_MAX, INT64_MIN
from tests.server.live import Server, serving

MAX_BODY_BYTES = 4096


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(
        tmp_path_factory.mktemp("e2e") / "server.log", max_body_bytes=str(MAX_BODY_BYTES)
    ) as running:
        yield running


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_process_numbers_over_http(http: httpx.Client) -> None:
    response = http.post(
        "/process-numbers", params={"iterations": 1}, json={"numbers": [0, 1, -1, INT64_MIN]}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"original_count": 4, "processed_result": [2, 4, 0, 2]}
    default = http.post("/process-numbers-rust", json={"numbers": [0, INT64_MAX]})
    assert default.json() == {"original_count": 2, "processed_result": [376846411, 688423208]}


def test_sum_squares_over_http(http: httpx.Client) -> None:
    response = http.get("/sum-squares", params={"a": INT64_MIN, "b": INT64_MIN})
    assert response.status_code == 200
    assert response.json() == {
        "a": INT64_MIN,
        "b": INT64_MIN,
        "sum_of_squares": 170141183460469231731687303715884105728,
    }
    assert http.get("/sum-squares-rust?a=5&b=10").json()["sum_of_squares"] == 125


def test_bad_input_over_http(http: httpx.Client) -> None:
    response = http.post("/process-numbers", json={"numbers": [1, "abc", 2**63]})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "numbers", 1],
        ["body", "numbers", 2],
    ]
    garbage = http.post(
        "/process-numbers", content=b"\x00\xff{[", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 422
    assert http.get("/healthz").json() == {"status": "ok"}


def test_body_limit_over_http(http: httpx.Client) -> None:
    body = b'{"numbers": [' + b"1, " * MAX_BODY_BYTES + b"1]}"
    declared = http.post(
        "/process-numbers", content=body, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert f"max_body_bytes={MAX_BODY_BYTES}" in declared.json()["detail"]
    chunked = http.post(
        "/process-numbers",
        content=iter([body[:3000], body[3000:6000], body[6000:]]),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413
    assert f"max_body_bytes={MAX_BODY_BYTES}" in chunked.json()["detail"]
    # The connection stays usable for the next request.
    assert http.get("/healthz").json() == {"status": "ok"}


def test_docs_are_served_locally(http: httpx.Client) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert http.get("/docs-static/swagger-ui-bundle.js").status_code == 200


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    with serving(tmp_path / "server.log") as running:
        assert httpx.get(f"{running.base_url}/healthz", timeout=5).status_code == 200
        status = running.stop()
    output = running.output()
    assert status == 0, output  # an orderly stop is a success (uvicorn alone re-raises: 143)
    assert "Traceback" not in output, output
    assert "Application shutdown complete" in output, output
    assert "Finished server process" in output, output


def test_work_still_running_past_the_grace_gets_503_and_the_server_exits_0(
    tmp_path: Path,
) -> None:
    # Three requests of 10^11 steps each (seconds of CPU at any SIMD level) and one whose body
    # never finishes arriving, all running at SIGTERM; a grace of 1 s. uvicorn cancels what still
    # runs at the grace's end (the native jobs with their tasks): every one of them is answered
    # 503 with Retry-After.
    with serving(
        tmp_path / "server.log",
        shutdown_grace_s="1",
        max_iterations="10000000",
        max_work=str(10**11),
    ) as running:
        port = int(running.base_url.rsplit(":", 1)[1])
        body = b'{"numbers": [' + b",".join(b"7" for _ in range(10_000)) + b"]}"
        head = (
            "POST /process-numbers?iterations=10000000 HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n"
        )
        sockets = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(head.format(len(body)).encode() + body)
            sockets.append(sock)
        half_sent = socket.create_connection(("127.0.0.1", port))
        half_sent.sendall(head.format(len(body)).encode() + body[:100])
        sockets.append(half_sent)
        time.sleep(0.5)  # every request is in the app
        started = time.monotonic()
        status = running.stop()
        took = time.monotonic() - started
        answers = []
        for sock in sockets:
            sock.settimeout(10)
            answers.append(sock.makefile("rb").read())
            sock.close()
    output = running.output()
    assert status == 0, output
    assert took < 1 + 5, output  # the grace, and the time to answer and stop
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b"\r\nretry-after: 1\r\n" in answer.lower(), answer[:300]
        assert answer.endswith(b'{"detail":"the service is shutting down: try again"}'), answer
    assert "Traceback" not in output, output


def _metrics(http: httpx.Client) -> dict[str, float]:
    text = http.get("/metrics").text
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_client_that_disconnects_stops_its_work(tmp_path: Path) -> None:
    # One scalar worker: 10k numbers x 100k iterations last seconds, so only a cancellation
    # ends the job while the test watches.
    settings = {"simd": "scalar", "threads": "1", "max_body_bytes": "1000000"}
    body = b'{"numbers": [' + b",".join(b"%d" % i for i in range(10_000)) + b"]}"
    with (
        serving(tmp_path / "server.log", **settings) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        host, port = server.base_url.removeprefix("http://").split(":")
        before = _metrics(http)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /process-numbers?iterations=100000 HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            deadline = time.monotonic() + 10
            # The request's job admitted (10^9 scalar steps: seconds of CPU) and running.
            while (
                _metrics(http)["gilfree_executor_queued_cpu_seconds"] < 1
                or _metrics(http)["gilfree_executor_busy_workers"] == 0
            ):
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.01)
        # The socket is closed: the server hears the disconnect and cancels the native job.
        deadline = time.monotonic() + 10
        while True:
            after = _metrics(http)
            if after["gilfree_executor_active_jobs"] == 0:
                break
            assert time.monotonic() < deadline, "the job was not cancelled"
            time.sleep(0.01)
    assert after["gilfree_jobs_cancelled_total"] == before["gilfree_jobs_cancelled_total"] + 1
    processed = 'gilfree_job_run_seconds_count{kernel="process_numbers_request",status="succeeded"}'
    assert after.get(processed, 0) == before.get(processed, 0)  # parsed, never processed
    assert after["gilfree_executor_busy_workers"] == 0


# The contract's own fuzzer: schemathesis generates requests from the served /openapi.json (valid
# and invalid ones) and checks every answer against it: documented status codes, response
# schemas and content types, no 5xx, invalid input refused and valid input accepted.
SCHEMATHESIS_EXAMPLES = 25
SCHEMATHESIS_SEED = 20261201
SCHEMATHESIS = Path(__file__).resolve().parent / "schemathesis"


def test_schemathesis_finds_no_departure_from_the_openapi_document(tmp_path: Path) -> None:
    with serving(tmp_path / "server.log") as server:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "st"), "--no-color",
             "--config-file", str(SCHEMATHESIS / "schemathesis.toml"), "run",
             f"{server.base_url}/openapi.json",
             "--max-examples", str(SCHEMATHESIS_EXAMPLES), "--seed", str(SCHEMATHESIS_SEED),
             "--workers", "1", "--generation-database", "none"],
            capture_output=True,
            text=True,
            timeout=900,
            env=dict(os.environ, SCHEMATHESIS_HOOKS=str(SCHEMATHESIS / "hooks.py")),
        )  # fmt: skip
        log = server.output()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in log, log[-4000:]
