"""Wire benchmark: POST /process-numbers round trips, JSON and octet-stream, against the original.

Measures, on this machine and in one run, with every service in its own uvicorn process (uvloop,
httptools) and the kernel at ``iterations=1`` (so the cost under test is moving the numbers in and
out, not computing them), for 10,000 and 1,000,000 numbers, each of two distributions in turn
(0..N-1, whose JSON is short, and N seeded random values over the whole int64 range, whose JSON
is about three times longer; ``--values`` keeps one):

1. the latency of a whole round trip (request sent, whole answer read) for gilfree's service
   (JSON in and out; octet-stream in and out; octet-stream in, JSON out; JSON in, octet-stream
   out) and for the original FastAPI example's style (bench/peers/original.py: a pydantic body
   model, ``run_in_threadpool``, a dict returned), without and with ``response_model=``;
2. the server's peak RSS during one 1,000,000-number request, over its idle RSS, as a multiple
   of the request body's size;
3. the targets, each evaluated for each distribution: gilfree's JSON round trip >= 10x faster
   than the original style, extra peak RSS <= 3x the body, octet-stream >= 3x faster than JSON.

The client is a raw-socket HTTP/1.1 client on a keep-alive connection that sends a request
prepared once (head and body in one bytes object) and reads exactly Content-Length bytes into a
reused buffer; the cheapest round trip there is (GET /healthz) is reported for scale. Writes
wire.json into ``--out`` (default bench/out); ``make bench-report`` renders it. Run it from the
repository root as ``python -m bench.wire_bench``; ``--quick`` is short.
"""

from __future__ import annotations

import argparse
import json
import random
import select
import socket
import sys
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import gilfree
from bench import harness
from bench.harness import (
    LOOPBACK,
    Children,
    Server,
    ServiceSpec,
    machine_cpu_seconds,
    median,
    numbers_body,
    progress,
    quantile,
    target,
)

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
ITERATIONS = 1
SOCKET_TIMEOUT_S = 120.0
# How often the RSS sampler reads /proc/PID/status during the measured request.
RSS_POLL_S = 0.001
# Idle time before an RSS baseline is read, so that the previous request's clean-up is over.
RSS_SETTLE_S = 0.2
VALUE_KINDS = ("range", "int64")
# How each distribution is named in the report and described in its opening.
VALUE_LABELS = {"range": "0..N-1", "int64": "random int64"}
VALUE_DESCRIPTIONS = {
    "range": "0, 1, ..., N-1",
    "int64": "N seeded random values over the whole int64 range",
}


@dataclass(frozen=True)
class Plan:
    """Sizes and repeat counts of one run; ``QUICK`` and ``FULL`` are the two presets.

    Each distribution of ``values`` is measured in turn, memory then latency, with every phase
    below run once per distribution.

    Latency: every variant is measured in ``rounds`` rounds, the variants taking turns within
    each round (so that a burst of other work on the machine hits them all alike); in a round a
    variant gets as many requests as fit ``round_budget_s`` by its warm-up latency, between 1
    and ``max_per_round``.
    """

    mode: str
    sizes: tuple[int, ...]
    rounds: int
    round_budget_s: float
    max_per_round: int
    warm_up_requests: int
    # Peak RSS: measured during the first request of rss_numbers on a fresh server (after one
    # small warm-up request of the same variant), then during rss_later_requests more.
    rss_numbers: int
    rss_later_requests: int
    floor_requests: int
    iterations: int = ITERATIONS
    values: tuple[str, ...] = VALUE_KINDS


QUICK = Plan(
    mode="quick",
    sizes=(10_000, 1_000_000),
    rounds=3,
    round_budget_s=0.25,
    max_per_round=20,
    warm_up_requests=2,
    rss_numbers=1_000_000,
    rss_later_requests=2,
    floor_requests=200,
)
FULL = Plan(
    mode="full",
    sizes=(10_000, 1_000_000),
    rounds=7,
    round_budget_s=0.8,
    max_per_round=100,
    warm_up_requests=3,
    rss_numbers=1_000_000,
    rss_later_requests=4,
    floor_requests=2000,
)


@dataclass(frozen=True)
class Variant:
    """One way of sending the numbers to one service and reading them back."""

    key: str
    label: str
    service: str
    content_type: str
    accept: str

    @property
    def binary_in(self) -> bool:
        return self.content_type == OCTET_STREAM

    @property
    def binary_out(self) -> bool:
        return self.accept == OCTET_STREAM


VARIANTS = (
    Variant("gilfree_json", "gilfree, JSON in, JSON out", "gilfree", JSON, JSON),
    Variant(
        "gilfree_octet", "gilfree, octet-stream in and out", "gilfree", OCTET_STREAM, OCTET_STREAM
    ),
    Variant(
        "gilfree_octet_json", "gilfree, octet-stream in, JSON out", "gilfree", OCTET_STREAM, JSON
    ),
    Variant(
        "gilfree_json_octet", "gilfree, JSON in, octet-stream out", "gilfree", JSON, OCTET_STREAM
    ),
    Variant("original", "original style (dict answer)", "original", JSON, JSON),
    # Not a way of computing anything: the same octet-stream bytes, echoed (see
    # bench/peers/echo.py): the floor under gilfree's octet-stream round trip.
    Variant("echo", "transport floor (bare ASGI echo)", "echo", OCTET_STREAM, OCTET_STREAM),
    Variant("original_model", "original style + response_model", "original_model", JSON, JSON),
)
VARIANT_KEYS = tuple(variant.key for variant in VARIANTS)
ECHO = "echo"


def service_specs(threads: int) -> dict[str, ServiceSpec]:
    specs = [
        ServiceSpec(
            "gilfree",
            "gilfree",
            "gilfree's service, `gilfree serve` (uvicorn, uvloop, httptools): the body parsed,"
            " processed and written in C++ (src/gilfree/server/native_path.py)",
            harness.gilfree_serve(threads),
        ),
        ServiceSpec(
            "original",
            "original style",
            "the original example's endpoint: `async def`, a pydantic body model"
            " `numbers: list[int]`, `await run_in_threadpool(gilfree.process_numbers, numbers,"
            " iterations)`, a dict returned for FastAPI to encode (`jsonable_encoder`, then"
            " `JSONResponse`) (bench/peers/original.py, uvicorn with uvloop and httptools)",
            harness.uvicorn_factory("bench.peers.original:create_app"),
        ),
        ServiceSpec(
            "original_model",
            "original style + response_model",
            "the same endpoint declared with `response_model=` a pydantic model, which FastAPI"
            " validates and dumps to JSON bytes in pydantic's core"
            " (bench/peers/original.py `create_app_with_response_model`)",
            harness.uvicorn_factory("bench.peers.original:create_app_with_response_model"),
        ),
        ServiceSpec(
            "echo",
            "transport floor",
            "a bare ASGI app on the same stack (uvicorn, uvloop, httptools) that reads the"
            " octet-stream body whole and sends the same bytes back: the cost of moving the"
            " bytes, with nothing computed (bench/peers/echo.py)",
            harness.uvicorn_factory("bench.peers.echo:create_app"),
        ),
    ]
    return {spec.key: spec for spec in specs}


# -- payloads ------------------------------------------------------------------------------------


def _int64_le(values: Sequence[int]) -> bytes:
    packed = array("q", values)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


@dataclass(frozen=True)
class Payload:
    """The numbers of one size, their bodies in both forms, and the answers expected."""

    count: int
    json_body: bytes
    octet_body: bytes
    expected: list[int]
    expected_octet: bytes

    def body(self, variant: Variant) -> bytes:
        return self.octet_body if variant.binary_in else self.json_body


def make_payload(count: int, values: str, iterations: int) -> Payload:
    if values == "range":
        numbers = list(range(count))
    else:
        rng = random.Random(count)  # deterministic: the same numbers in every run
        numbers = [rng.randrange(-(2**63), 2**63) for _ in range(count)]
    expected = gilfree.process_numbers(numbers, iterations)
    return Payload(
        count=count,
        json_body=numbers_body(numbers),
        octet_body=_int64_le(numbers),
        expected=expected,
        expected_octet=_int64_le(expected),
    )


def request_bytes(port: int, variant: Variant, payload: Payload, iterations: int) -> bytes:
    body = payload.body(variant)
    head = (
        f"POST /process-numbers?iterations={iterations} HTTP/1.1\r\n"
        f"Host: {LOOPBACK}:{port}\r\n"
        f"Content-Type: {variant.content_type}\r\n"
        f"Accept: {variant.accept}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


# -- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    seconds: float
    status: int
    content_type: str
    body: memoryview  # valid until the next round trip on the same client


class Client:
    """One keep-alive HTTP/1.1 connection: sends prepared requests, reads whole answers.

    Only what the benchmark needs: answers with a Content-Length (every server here sends one),
    read into one buffer that grows to the largest answer and is reused.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._sock: socket.socket | None = None
        self._buffer = bytearray(1 << 16)
        self._view = memoryview(self._buffer)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connected(self) -> socket.socket:
        """The connection, reopened (untimed) if the server closed it while it was idle."""
        if self._sock is not None:
            readable, _, _ = select.select([self._sock], [], [], 0)
            if readable:  # an idle connection with something to read: the server closed it
                self.close()
        if self._sock is None:
            self._sock = socket.create_connection((LOOPBACK, self.port), timeout=SOCKET_TIMEOUT_S)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def _ensure(self, size: int, filled: int) -> None:
        if size > len(self._buffer):
            self._view.release()
            grown = bytearray(max(size, 2 * len(self._buffer)))
            grown[:filled] = self._buffer[:filled]
            self._buffer, self._view = grown, memoryview(grown)

    def round_trip(self, request: bytes) -> Answer:
        sock = self._connected()
        start = time.perf_counter()
        sock.sendall(request)
        filled, head_end = 0, -1
        while head_end < 0:
            self._ensure(filled + 65536, filled)
            got = sock.recv_into(self._view[filled:])
            if got == 0:
                self.close()
                raise ConnectionError("the server closed the connection before answering")
            filled += got
            head_end = self._buffer.find(b"\r\n\r\n", max(0, filled - got - 3), filled)
        head = bytes(self._buffer[:head_end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            self.close()
            raise RuntimeError(f"an answer without Content-Length: {head}")
        end = head_end + 4 + int(headers["content-length"])
        self._ensure(end, filled)
        while filled < end:
            got = sock.recv_into(self._view[filled:end])
            if got == 0:
                self.close()
                raise ConnectionError("the server closed the connection mid-answer")
            filled += got
        seconds = time.perf_counter() - start
        if filled > end:
            self.close()
            raise RuntimeError("the server sent more than its Content-Length")
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(
            seconds, status, headers.get("content-type", ""), self._view[head_end + 4 : end]
        )


def verify(answer: Answer, variant: Variant, payload: Payload) -> None:
    """The answer is the kernel's result for the payload, in the form the variant asked for."""
    where = f"{variant.label}, {payload.count:,} numbers"
    if answer.status != 200:
        text = bytes(answer.body[:300]).decode("utf-8", "replace")
        raise RuntimeError(f"{where}: status {answer.status}: {text}")
    if variant.binary_out:
        if not answer.content_type.startswith(OCTET_STREAM):
            raise RuntimeError(f"{where}: content type {answer.content_type!r}")
        if variant.key == ECHO:
            if answer.body != payload.octet_body:
                raise RuntimeError(f"{where}: the echo differs from the request body")
            return
        if answer.body != payload.expected_octet:
            raise RuntimeError(f"{where}: the binary answer differs from the expected values")
        return
    if not answer.content_type.startswith(JSON):
        raise RuntimeError(f"{where}: content type {answer.content_type!r}")
    content = json.loads(bytes(answer.body))
    wanted = {"original_count": payload.count, "processed_result": payload.expected}
    if content != wanted:
        raise RuntimeError(f"{where}: the JSON answer differs from gilfree.process_numbers'")


# -- CPU and memory of a server ------------------------------------------------------------------


def server_minor_faults(pid: int) -> int:
    """Minor page faults of the whole process ``pid`` so far (``/proc/PID/stat``, field 10): each
    is a page of memory mapped in afresh, so many per request mean buffers mapped every time."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    return int(text[text.rindex(")") + 2 :].split()[7])


def server_cpu_s(pid: int) -> float:
    """On-CPU seconds of every thread of ``pid`` (nanosecond schedstat, not clock ticks)."""
    # A thread that ended meanwhile is passed over: its time is lost.
    return sum(int(text.split()[0]) for text in harness.task_files(pid, "schedstat")) / 1e9


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of ``pid`` in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                found[name] = int(value.split()[0])
    return found


def reset_peak_rss(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS; False where this kernel forbids it."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


@dataclass
class RssSampler:
    """Reads the RSS of ``pid`` every ``RSS_POLL_S`` in a thread until stopped."""

    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def __enter__(self) -> RssSampler:
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = memory_kib(self.pid)["VmRSS"]
            self.samples.append((time.perf_counter() - self._started, rss))
            time.sleep(RSS_POLL_S)


def measure_peak_rss(server: Server, client: Client, request: bytes) -> dict[str, Any]:
    """The server's RSS just before ``request`` and its peak while answering it."""
    time.sleep(RSS_SETTLE_S)
    reset = reset_peak_rss(server.pid)
    before = memory_kib(server.pid)
    with RssSampler(server.pid) as sampler:
        answer = client.round_trip(request)
    status = answer.status
    time.sleep(0.05)  # the answer's clean-up, in case it allocates after the last byte
    after = memory_kib(server.pid)
    sampled_peak = max((rss for _, rss in sampler.samples), default=before["VmRSS"])
    peak = max(after["VmHWM"], sampled_peak) if reset else sampled_peak
    peak_at = next((t for t, rss in sampler.samples if rss == sampled_peak), None)
    return {
        "status": status,
        "seconds": answer.seconds,
        "idle_rss_kib": before["VmRSS"],
        "idle_rss_anon_kib": before.get("RssAnon"),
        "peak_rss_kib": peak,
        "extra_peak_kib": peak - before["VmRSS"],
        "hwm_reset": reset,
        "sampled_peak_kib": sampled_peak,
        "sampled_peak_at_s": peak_at,
        "samples": len(sampler.samples),
        "rss_after_kib": after["VmRSS"],
        # Every 5th sample, for a look at the request's memory over time: [ms, KiB].
        "timeline": [[round(t * 1e3, 2), rss] for t, rss in sampler.samples[::5]],
    }


# -- statistics -----------------------------------------------------------------------------------


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    ms = [s * 1e3 for s in seconds]
    return {
        "requests": len(ms),
        "median_ms": median(ms),
        "p90_ms": quantile(ms, 0.9),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


# -- phases ---------------------------------------------------------------------------------------


@dataclass
class Run:
    plan: Plan
    children: Children
    logs: Path
    threads: int
    env: dict[str, str]
    specs: dict[str, ServiceSpec]
    variants: tuple[Variant, ...]
    servers: dict[str, Server] = field(default_factory=dict)

    def server(self, key: str) -> Server:
        if key not in self.servers:
            spec = self.specs[key]
            self.servers[key] = Server(
                spec, self.children, self.logs / f"server-{key}.log", self.env
            )
        return self.servers[key]


def measure_memory(run: Run, values: str, payloads: dict[int, Payload]) -> dict[str, Any]:
    """Peak RSS of each variant's server during rss_numbers-number requests, on a fresh server.

    Each peak is taken over two baselines: the idle RSS just before that request, and the idle
    RSS of the fresh server before its first large request. Memory the allocator keeps after a
    request raises the first baseline and so hides itself from the first figure; the second
    counts it.
    """
    plan, label = run.plan, VALUE_LABELS[values]
    payload = payloads[plan.rss_numbers]
    warm_payload = payloads[min(payloads)]
    results: dict[str, Any] = {}
    for variant in run.variants:
        server = run.server(variant.service)
        server.restart()  # a fresh server
        progress(f"memory ({label}): {variant.label}: fresh server, {plan.rss_numbers:,} numbers")
        body_bytes = len(payload.body(variant))
        with Client(server.port) as client:
            warm = client.round_trip(
                request_bytes(server.port, variant, warm_payload, plan.iterations)
            )
            verify(warm, variant, warm_payload)
            request = request_bytes(server.port, variant, payload, plan.iterations)
            tries: list[dict[str, Any]] = []
            for attempt in range(1 + plan.rss_later_requests):
                measured = measure_peak_rss(server, client, request)
                if measured["status"] != 200:
                    raise RuntimeError(
                        f"memory ({label}): {variant.label}: status {measured['status']}"
                    )
                if attempt > 0:
                    del measured["timeline"]
                tries.append(measured)
            time.sleep(RSS_SETTLE_S)
            idle_after = memory_kib(server.pid)["VmRSS"]
        fresh_idle = tries[0]["idle_rss_kib"]
        for measured in tries:
            measured["extra_over_fresh_kib"] = measured["peak_rss_kib"] - fresh_idle
            measured["multiple_of_body"] = measured["extra_peak_kib"] * 1024 / body_bytes
            measured["over_fresh_multiple_of_body"] = (
                measured["extra_over_fresh_kib"] * 1024 / body_bytes
            )
        worst = max(tries, key=lambda t: t["extra_over_fresh_kib"])
        first = tries[0]
        progress(
            f"memory ({label}): {variant.label}: body {body_bytes / 2**20:.3g} MiB, idle RSS"
            f" {fresh_idle / 1024:.0f} MiB, extra peak {first['extra_peak_kib'] / 1024:.1f} MiB"
            f" ({first['multiple_of_body']:.2f}x body); worst of {len(tries)} over the fresh"
            f" idle RSS {worst['extra_over_fresh_kib'] / 1024:.1f} MiB"
            f" ({worst['over_fresh_multiple_of_body']:.2f}x body)"
        )
        results[variant.key] = {
            "body_bytes": body_bytes,
            "fresh_idle_rss_kib": fresh_idle,
            "idle_rss_after_kib": idle_after,
            "tries": tries,
            "first_multiple_of_body": first["multiple_of_body"],
            "worst_extra_over_fresh_kib": worst["extra_over_fresh_kib"],
            "worst_multiple_of_body": worst["over_fresh_multiple_of_body"],
        }
    return results


def measure_floor(run: Run) -> dict[str, Any]:
    """The cheapest round trip there is, client and server together: GET /healthz of gilfree."""
    server = run.server("gilfree")
    request = f"GET /healthz HTTP/1.1\r\nHost: {LOOPBACK}:{server.port}\r\n\r\n".encode("ascii")
    with Client(server.port) as client:
        for _ in range(20):
            client.round_trip(request)
        seconds = [client.round_trip(request).seconds for _ in range(run.plan.floor_requests)]
    summary = latency_summary(seconds)
    progress(f"floor: GET /healthz round trip, median {summary['median_ms'] * 1e3:.0f} us")
    return summary


@dataclass
class Series:
    """The timed requests of one variant at one size, gathered over the rounds."""

    variant: Variant
    request: bytes
    client: Client
    per_round: int = 1
    seconds: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    server_faults: int = 0


def measure_latency(run: Run, values: str, payload: Payload) -> dict[str, Any]:
    plan, count = run.plan, payload.count
    where = f"latency ({VALUE_LABELS[values]}): {count:,} numbers"
    series: list[Series] = []
    try:
        for variant in run.variants:
            server = run.server(variant.service)
            client = Client(server.port)
            request = request_bytes(server.port, variant, payload, plan.iterations)
            entry = Series(variant, request, client)
            series.append(entry)
            first = client.round_trip(request)
            verify(first, variant, payload)
            warm = [first.seconds]
            warm += [client.round_trip(request).seconds for _ in range(plan.warm_up_requests - 1)]
            estimate = min(warm)
            entry.per_round = max(1, min(plan.max_per_round, int(plan.round_budget_s / estimate)))
            progress(
                f"{where}: {variant.label}: verified; warm-up"
                f" {estimate * 1e3:.3g} ms, {entry.per_round} per round"
            )
        machine0, client0, wall0 = machine_cpu_seconds(), time.process_time(), time.monotonic()
        servers_cpu0 = {key: server_cpu_s(s.pid) for key, s in run.servers.items()}
        for round_index in range(plan.rounds):
            for entry in series:
                pid = run.server(entry.variant.service).pid
                cpu0, faults0 = server_cpu_s(pid), server_minor_faults(pid)
                for _ in range(entry.per_round):
                    answer = entry.client.round_trip(entry.request)
                    if answer.status != 200:
                        raise RuntimeError(f"{entry.variant.label}: status {answer.status}")
                    entry.seconds.append(answer.seconds)
                entry.server_cpu_s += server_cpu_s(pid) - cpu0
                entry.server_faults += server_minor_faults(pid) - faults0
            progress(f"{where}: round {round_index + 1}/{plan.rounds} done")
        wall = time.monotonic() - wall0
        servers_cpu = sum(server_cpu_s(s.pid) - servers_cpu0[k] for k, s in run.servers.items())
        client_cpu = time.process_time() - client0
        machine_cpu = machine_cpu_seconds() - machine0
    finally:
        for entry in series:
            entry.client.close()
    variants: dict[str, Any] = {}
    for entry in series:
        summary = latency_summary(entry.seconds)
        summary["server_cpu_ms_per_request"] = entry.server_cpu_s / len(entry.seconds) * 1e3
        summary["server_faults_per_request"] = entry.server_faults / len(entry.seconds)
        summary["samples_ms"] = [s * 1e3 for s in entry.seconds]
        summary["request_bytes"] = len(entry.request)
        variants[entry.variant.key] = summary
        progress(
            f"{where}: {entry.variant.label}: median"
            f" {summary['median_ms']:.3g} ms, p90 {summary['p90_ms']:.3g} ms"
        )
    return {
        "numbers": count,
        "json_body_bytes": len(payload.json_body),
        "octet_body_bytes": len(payload.octet_body),
        "variants": variants,
        "wall_s": wall,
        "machine_cores_busy": machine_cpu / wall,
        "servers_cores_busy": servers_cpu / wall,
        "client_cores_busy": client_cpu / wall,
        "other_cores_busy": max(0.0, machine_cpu - servers_cpu - client_cpu) / wall,
    }


# -- targets and the run --------------------------------------------------------------------------


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite's targets against the measured figures, each target once per distribution (in
    the plan's order); a figure not measured gives no verdict."""
    plan = results["plan"]
    big = plan["rss_numbers"]
    distributions: dict[str, Any] = results.get("distributions", {})

    def speedup(values: str, slow: str, fast: str) -> float | None:
        latency = distributions.get(values, {}).get("latency", {}).get(str(big), {})
        variants = latency.get("variants", {})
        if slow not in variants or fast not in variants:
            return None
        return float(variants[slow]["median_ms"] / variants[fast]["median_ms"])

    def first_multiple(values: str) -> float | None:
        memory = distributions.get(values, {}).get("memory", {}).get("gilfree_json")
        return None if memory is None else float(memory["first_multiple_of_body"])

    count = f"{big:,} numbers, iterations={plan['iterations']}"
    checks: list[tuple[str, Callable[[str], float | None], str, float]] = [
        (
            "gilfree JSON round trip vs the original style, {label} ({count}; original / gilfree,"
            " medians)",
            lambda values: speedup(values, "original", "gilfree_json"),
            ">=",
            10.0,
        ),
        (
            "gilfree JSON, {label}: extra peak RSS of a {big:,}-number request over the idle RSS /"
            " its body (the first such request of a fresh server)",
            first_multiple,
            "<=",
            3.0,
        ),
        (
            "gilfree octet-stream in and out vs JSON in and out, {label} ({count}; JSON /"
            " octet-stream)",
            lambda values: speedup(values, "gilfree_json", "gilfree_octet"),
            ">=",
            3.0,
        ),
    ]
    return [
        target(
            name.format(label=VALUE_LABELS[values], count=count, big=big),
            measured(values),
            goal,
            limit,
            "x",
        )
        for name, measured, goal, limit in checks
        for values in plan["values"]
    ]


def measure(
    plan: Plan, variants: tuple[Variant, ...], out: Path, children: Children
) -> dict[str, Any]:
    """Each distribution of numbers in turn, memory then latency, on every variant chosen: the
    run's results."""
    threads = harness.usable_cpus()
    logs = out / "wire_logs"
    busy_before = harness.start_run(
        plan.mode,
        threads,
        f"variants: {len(variants)}; numbers: {', '.join(VALUE_LABELS[v] for v in plan.values)}",
        logs,
    )
    sizes = sorted(set(plan.sizes) | {plan.rss_numbers})
    specs = service_specs(threads)
    used = {variant.service for variant in variants}
    run = Run(
        plan=plan,
        children=children,
        logs=logs,
        threads=threads,
        env=harness.server_env(threads),
        specs={key: spec for key, spec in specs.items() if key in used},
        variants=variants,
    )
    results: dict[str, Any] = {
        **harness.results_head(plan.mode, asdict(plan), threads, busy_before),
        "method": {
            "client": "raw-socket HTTP/1.1, keep-alive, request prepared once, answer read"
            " to its Content-Length into a reused buffer",
            "rss_poll_s": RSS_POLL_S,
            "rss_settle_s": RSS_SETTLE_S,
        },
        "services": {key: spec.described() for key, spec in run.specs.items()},
        "variants": {variant.key: asdict(variant) for variant in variants},
        "distributions": {},
    }
    try:
        for values in plan.values:
            label = VALUE_LABELS[values]
            progress(f"payloads ({label}): {', '.join(f'{n:,}' for n in sizes)} numbers")
            payloads = {count: make_payload(count, values, plan.iterations) for count in sizes}
            measured: dict[str, Any] = {
                "label": label,
                "description": VALUE_DESCRIPTIONS[values],
            }
            results["distributions"][values] = measured
            measured["memory"] = measure_memory(run, values, payloads)
            for key in run.specs:  # fresh servers for the latency, all up at once
                run.server(key).restart()
            if "gilfree" in run.servers and "floor" not in results:
                results["floor"] = measure_floor(run)
            measured["latency"] = {
                str(count): measure_latency(run, values, payloads[count]) for count in plan.sizes
            }
    finally:
        for server in run.servers.values():
            server.stop(grace_s=2.0)
    results["targets"] = evaluate_targets(results)
    return results


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = harness.bench_parser(
        "python -m bench.wire_bench",
        __doc__,
        quick="a short run (under a minute)",
        outputs="wire.json",
    )
    parser.add_argument(
        "--values",
        choices=("both", *VALUE_KINDS),
        default="both",
        help="the numbers sent: 0..N-1 and N seeded random int64 values (longer JSON) in turn"
        " (both, the default), or only one of them",
    )
    harness.add_subset_option(parser, "variants", VARIANT_KEYS)
    args = parser.parse_args(argv)
    chosen = harness.chosen_subset(parser, "variants", args.variants, VARIANT_KEYS)
    args.variants = tuple(variant for variant in VARIANTS if variant.key in chosen)
    args.values = VALUE_KINDS if args.values == "both" else (args.values,)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.values != plan.values:
        plan = replace(plan, values=args.values)
    out: Path = args.out.resolve()
    return harness.run_and_report(
        lambda children: measure(plan, args.variants, out, children),
        out / "wire.json",
        require_targets=args.require_targets,
    )


if __name__ == "__main__":
    sys.exit(main())
