"""Service benchmark: ``gilfree serve`` against the original FastAPI + Rust app, on its own paths.

The original app is the example this project grew from, rebuilt as it was written
(bench/peers/original_app: ``uvicorn main:app``, a pydantic body model, its Rust extension called
through ``run_in_threadpool`` and holding the GIL while it works). Both services answer its paths,
``GET /sum-squares-rust`` and ``POST /process-numbers-rust``, with the same request and response
shapes; each runs as its own command with uvicorn's defaults (uvloop, httptools, access log on).

Measures, on this machine and in one run:

1. that both answer alike: ``GET /sum-squares-rust`` with its defaults and with ``a=3&b=4``, and
   10,000 numbers posted (and the 1,000,000 below), parsed, must be equal, and the numbers
   gilfree's ``process_numbers(numbers, 1000)``; the run fails where they are not;
2. requests/s of ``GET /sum-squares-rust`` under ``wrk -t2 -c32``, every service started twice,
   access log on and off: after a warm-up each, runs of a few seconds with the servers
   interleaved (A B A B ...), the median of each (server, log) pair's runs;
3. the latency of one ``POST /process-numbers-rust`` (body sent, whole answer read) of 10,000
   and of 1,000,000 seeded random numbers in 0..10^9, the servers interleaved, the median of
   several requests each (fewer of the original's 1,000,000, which take seconds);
4. requests/s of 8 clients posting the 10,000 numbers (wrk -c8 with bench/wrk.lua's body);
5. the latency of ``GET /sum-squares-rust``, sent every 10 ms by one client (each after the one
   before), while another (wrk -c1) posts the 1,000,000 numbers back to back.

Phases 3 to 5 use the servers with the access log on. Writes service.json, service.md and
service_throughput.png into ``--out`` (default bench/out), and the servers' output (access log
included) and wrk's into service_logs/ there. Run it as ``make bench-service``, which builds the
original's extension first; ``--quick`` is short.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gilfree
from bench import harness
from bench.harness import LOOPBACK, Children, Server, ServiceSpec, WrkSummary, progress
from bench.runtime_report import (
    duration,
    generated_by,
    missing_dependency,
    new_figure,
    noise_warning,
    ratio,
    save_figure,
    table,
    targets_section,
    write_report,
)

ORIGINAL_APP = harness.REPO_ROOT / "bench" / "peers" / "original_app"
JSON_NAME, MARKDOWN_NAME, PLOT_NAME = "service.json", "service.md", "service_throughput.png"
SUM_SQUARES = "/sum-squares-rust"
PROCESS_NUMBERS = "/process-numbers-rust"
ITERATIONS = 1000  # the original's, fixed in its Rust code
SERVERS = ("gilfree", "original")
LOG_MODES = ("on", "off")
SIZES = (10_000, 1_000_000)
SMALL, LARGE = SIZES
SEED = 20240601
VALUE_LIMIT = 10**9  # random numbers in 0..10^9 - 1
RPS_THREADS, RPS_CONNECTIONS = 2, 32
POSTERS = 8  # concurrent clients of the throughput phase
TINY_INTERVAL_S = 0.010  # one tiny request every 10 ms while the large ones run
REQUEST_TIMEOUT_S = 300.0
# Below this many cores a server is done with the work of the phase before.
QUIET_CORES = 0.05


@dataclass(frozen=True)
class Plan:
    """Durations and repeat counts of one run; ``QUICK`` and ``FULL`` are the two presets."""

    mode: str
    rps_runs: int  # per (server, access log) pair
    rps_seconds: float
    warm_up_seconds: float
    small_requests: int  # 10,000 numbers, per server
    large_requests_gilfree: int  # 1,000,000 numbers
    large_requests_original: int
    throughput_runs: int
    throughput_seconds: float
    tiny_seconds: float


QUICK = Plan("quick", 3, 2.0, 1.0, 5, 3, 1, 1, 3.0, 12.0)
FULL = Plan("full", 7, 5.0, 2.0, 15, 7, 3, 3, 8.0, 30.0)


def service_specs(access_log: bool) -> dict[str, ServiceSpec]:
    """The two services, with the access log on (their default) or off."""
    venv_bin = Path(sys.executable).parent
    log_flag = [] if access_log else ["--no-access-log"]
    suffix = "" if access_log else " --no-access-log"

    def gilfree_command(port: int) -> list[str]:
        return [str(venv_bin / "gilfree"), "serve", "--port", str(port), *log_flag]

    def original_command(port: int) -> list[str]:
        return [str(venv_bin / "uvicorn"), "main:app", "--port", str(port), *log_flag]

    return {
        "gilfree": ServiceSpec(
            "gilfree",
            "gilfree",
            f"`gilfree serve --port PORT{suffix}`: uvicorn with uvloop and httptools, gilfree's"
            " app, its native pool on every usable CPU",
            gilfree_command,
            ready_path=SUM_SQUARES,
        ),
        "original": ServiceSpec(
            "original",
            "original app",
            f"`uvicorn main:app --port PORT{suffix}` in bench/peers/original_app: the original"
            " FastAPI + Rust example as it was written (a pydantic model `numbers: List[int]`,"
            " `await run_in_threadpool(original_ext.process_numbers_rust, data.numbers)`, a dict"
            " returned; `sum_squares_rust` called on the event loop), its PyO3 extension a plain"
            " loop that holds the GIL, in Cargo's release profile; uvicorn picks uvloop and"
            " httptools",
            original_command,
            ready_path=SUM_SQUARES,
            cwd=ORIGINAL_APP,
        ),
    }


# -- payloads and answers ------------------------------------------------------------------------


def random_numbers(count: int) -> list[int]:
    rng = random.Random(SEED + count)  # the same numbers in every run
    return [rng.randrange(VALUE_LIMIT) for _ in range(count)]


def numbers_body(numbers: Sequence[int]) -> bytes:
    return json.dumps({"numbers": list(numbers)}, separators=(",", ":")).encode()


def fetch_json(port: int, method: str, target: str, body: bytes | None = None) -> Any:
    """One request on a connection of its own; its answer parsed (an error unless it is 200)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT_S)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{method} {target} answered {response.status}: {data[:300]!r}")
    return json.loads(data)


def check_answers(servers: Sequence[Server], body: bytes, expected: list[int]) -> list[str]:
    """Every server's answers parsed are equal, and the numbers are ``expected``; what was
    checked. Raises AssertionError where they are not."""
    requests: list[tuple[str, str, bytes | None]] = [
        ("GET", SUM_SQUARES, None),
        ("GET", f"{SUM_SQUARES}?a=3&b=4", None),
        ("POST", PROCESS_NUMBERS, body),
    ]
    wanted_numbers = {"original_count": len(expected), "processed_result": expected}
    checked = []
    for method, target, payload in requests:
        answers = {s.spec.key: fetch_json(s.port, method, target, payload) for s in servers}
        first = next(iter(answers.values()))
        for key, answer in answers.items():
            if answer != first:
                raise AssertionError(
                    f"{method} {target}: {key} answered {str(answer)[:200]}, not {str(first)[:200]}"
                )
        if payload is not None and first != wanted_numbers:
            raise AssertionError(f"{method} {target}: not gilfree.process_numbers' result")
        shown = f"{len(expected):,} numbers" if payload is not None else json.dumps(first)
        checked.append(f"{method} {target}: {shown}")
    return checked


# -- wrk and the servers' rest -------------------------------------------------------------------


def run_wrk(
    children: Children,
    log: Path,
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: float,
    body_file: Path | None = None,
    timeout_s: float = 60.0,
) -> WrkSummary:
    """One wrk run to its end (GET, or POST of ``body_file`` through bench/wrk.lua)."""
    env = {key: value for key, value in os.environ.items() if key != "BENCH_BODY_FILE"}
    if body_file is not None:
        env["BENCH_BODY_FILE"] = str(body_file)
    argv = harness.wrk_command(
        url, threads=threads, connections=connections, duration_s=seconds, timeout_s=timeout_s
    )
    process = children.start(argv, log=log, env=env)
    try:
        process.wait(timeout=seconds + timeout_s + 30)
    finally:
        children.stop(process)
    return harness.parse_wrk_summary(log.read_text(errors="replace"))


def settle(server: Server) -> None:
    """Waits for ``server`` to finish what the clients before left it (the original cannot stop
    work whose client went away)."""
    waited = harness.wait_for_cpu(
        server, lambda cores: cores < QUIET_CORES, window_s=0.25, timeout_s=REQUEST_TIMEOUT_S
    )
    if waited is None:
        progress(f"warning: {server.spec.label} stayed busy for {REQUEST_TIMEOUT_S:g} s")


def _url(server: Server, path: str) -> str:
    return f"http://{LOOPBACK}:{server.port}{path}"


def _errors(summary: WrkSummary) -> int:
    return sum(summary.errors.values())


# -- phase: GET /sum-squares-rust requests/s -----------------------------------------------------


def measure_sum_squares(
    children: Children, servers: dict[str, dict[str, Server]], plan: Plan, logs: Path
) -> dict[str, Any]:
    pairs = [(log, key) for log in LOG_MODES for key in SERVERS]  # alternates gilfree, original
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {pair: [] for pair in pairs}
    for log, key in pairs:
        server = servers[log][key]
        progress(f"sum-squares: warming up {server.spec.label}, access log {log}")
        run_wrk(
            children,
            logs / f"wrk-sum-squares-warm-{key}-log-{log}.txt",
            _url(server, SUM_SQUARES),
            threads=RPS_THREADS,
            connections=RPS_CONNECTIONS,
            seconds=plan.warm_up_seconds,
        )
    for round_ in range(plan.rps_runs):
        order = pairs[round_ % len(pairs) :] + pairs[: round_ % len(pairs)]
        for log, key in order:
            server = servers[log][key]
            cpu0, wall0 = server.cpu_seconds(), time.monotonic()
            summary = run_wrk(
                children,
                logs / f"wrk-sum-squares-{key}-log-{log}-{round_}.txt",
                _url(server, SUM_SQUARES),
                threads=RPS_THREADS,
                connections=RPS_CONNECTIONS,
                seconds=plan.rps_seconds,
            )
            cores = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
            rps = summary.requests / summary.duration_s
            runs[(log, key)].append(
                {"requests_per_s": rps, "server_cores": cores, **summary.as_dict()}
            )
        progress(
            f"sum-squares round {round_ + 1} of {plan.rps_runs}: "
            + ", ".join(
                f"{key} log {log} {runs[(log, key)][-1]['requests_per_s']:,.0f}/s"
                for log, key in pairs
            )
        )
    measured: dict[str, Any] = {}
    for log in LOG_MODES:
        entry: dict[str, Any] = {}
        for key in SERVERS:
            these = runs[(log, key)]
            rates = [run["requests_per_s"] for run in these]
            entry[key] = {
                "median_requests_per_s": statistics.median(rates),
                "requests_per_s": rates,
                "median_p99_us": statistics.median(run["latency_us"]["p99"] for run in these),
                "median_server_cores": statistics.median(run["server_cores"] for run in these),
                "errors": sum(sum(run["errors"].values()) for run in these),
                "runs": these,
            }
        entry["ratio"] = (
            entry["gilfree"]["median_requests_per_s"] / entry["original"]["median_requests_per_s"]
        )
        measured[log] = entry
    return measured


# -- phase: one POST's latency -------------------------------------------------------------------


def _timed_post(server: Server, body: bytes) -> float:
    # A connection of its own, opened untimed: uvicorn closes one left idle for 5 s, as it
    # would be while the other server answers.
    conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.connect()
        status, seconds = harness.timed_request(
            server.port,
            "POST",
            PROCESS_NUMBERS,
            body,
            timeout_s=REQUEST_TIMEOUT_S,
            connection=conn,
        )
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"{server.spec.label}: POST {PROCESS_NUMBERS} answered {status}")
    return seconds


def measure_latency(
    servers: dict[str, Server],
    bodies: dict[int, bytes],
    expected_large: list[int],
    plan: Plan,
) -> dict[str, Any]:
    counts = {
        SMALL: {"gilfree": plan.small_requests, "original": plan.small_requests},
        LARGE: {"gilfree": plan.large_requests_gilfree, "original": plan.large_requests_original},
    }
    wanted = {"original_count": LARGE, "processed_result": expected_large}
    for key, server in servers.items():  # warm up; the large answers checked once
        progress(f"latency: warming up {server.spec.label}")
        for _ in range(3):
            _timed_post(server, bodies[SMALL])
        if fetch_json(server.port, "POST", PROCESS_NUMBERS, bodies[LARGE]) != wanted:
            raise AssertionError(f"{key}: {LARGE:,} numbers: not gilfree.process_numbers' result")
    measured: dict[str, Any] = {}
    for size in SIZES:
        seconds: dict[str, list[float]] = {key: [] for key in servers}
        for i in range(max(counts[size].values())):
            for key, server in servers.items():
                if i < counts[size][key]:
                    seconds[key].append(_timed_post(server, bodies[size]))
        entry: dict[str, Any] = {
            key: {"median_s": statistics.median(values), "seconds": values}
            for key, values in seconds.items()
        }
        entry["body_bytes"] = len(bodies[size])
        entry["ratio"] = entry["original"]["median_s"] / entry["gilfree"]["median_s"]
        progress(
            f"latency, {size:,} numbers: gilfree {entry['gilfree']['median_s'] * 1e3:.3g} ms,"
            f" original {entry['original']['median_s'] * 1e3:.3g} ms ({entry['ratio']:.3g}x)"
        )
        measured[str(size)] = entry
    return measured


# -- phase: 8 clients posting 10,000 numbers -----------------------------------------------------


def measure_throughput(
    children: Children, servers: dict[str, Server], body_file: Path, plan: Plan, logs: Path
) -> dict[str, Any]:
    def one(server: Server, name: str, seconds: float) -> WrkSummary:
        summary = run_wrk(
            children,
            logs / f"wrk-throughput-{name}.txt",
            _url(server, PROCESS_NUMBERS),
            threads=2,
            connections=POSTERS,
            seconds=seconds,
            body_file=body_file,
        )
        settle(server)
        return summary

    for key, server in servers.items():
        progress(f"throughput: warming up {server.spec.label}")
        one(server, f"warm-{key}", plan.warm_up_seconds)
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key in servers}
    for round_ in range(plan.throughput_runs):
        for key, server in servers.items():
            summary = one(server, f"{key}-{round_}", plan.throughput_seconds)
            rps = summary.requests / summary.duration_s
            runs[key].append({"requests_per_s": rps, **summary.as_dict()})
        progress(
            f"throughput round {round_ + 1} of {plan.throughput_runs}: "
            + ", ".join(f"{key} {runs[key][-1]['requests_per_s']:,.1f}/s" for key in servers)
        )
    measured: dict[str, Any] = {
        key: {
            "median_requests_per_s": statistics.median(run["requests_per_s"] for run in these),
            "requests_per_s": [run["requests_per_s"] for run in these],
            "median_p99_us": statistics.median(run["latency_us"]["p99"] for run in these),
            "errors": sum(sum(run["errors"].values()) for run in these),
            "runs": these,
        }
        for key, these in runs.items()
    }
    measured["ratio"] = (
        measured["gilfree"]["median_requests_per_s"] / measured["original"]["median_requests_per_s"]
    )
    return measured


# -- phase: a tiny request while large ones run --------------------------------------------------


def measure_tiny_under_load(
    children: Children, server: Server, body_file: Path, plan: Plan, logs: Path
) -> dict[str, Any]:
    label, key = server.spec.label, server.spec.key
    load_log = logs / f"wrk-load-{key}.txt"
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file)}
    argv = harness.wrk_command(
        _url(server, PROCESS_NUMBERS),
        threads=1,
        connections=1,
        duration_s=plan.tiny_seconds + REQUEST_TIMEOUT_S,
        timeout_s=REQUEST_TIMEOUT_S,
    )
    progress(f"tiny under load: {label}: {LARGE:,}-number POSTs back to back")
    load = children.start(argv, log=load_log, env=env)
    latencies: list[float] = []
    try:
        busy = harness.wait_for_cpu(server, lambda cores: cores > 0.5, window_s=0.25, timeout_s=60)
        if busy is None:
            progress(f"tiny under load: {label}: warning: the load never kept it busy")
        conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=REQUEST_TIMEOUT_S)
        conn.connect()
        cpu0, machine0 = server.cpu_seconds(), harness.machine_cpu_seconds()
        started = next_at = time.perf_counter()
        try:
            while (now := time.perf_counter()) < started + plan.tiny_seconds:
                if now < next_at:
                    time.sleep(next_at - now)
                status, seconds = harness.timed_request(
                    server.port, "GET", SUM_SQUARES, timeout_s=REQUEST_TIMEOUT_S, connection=conn
                )
                if status != 200:
                    raise RuntimeError(f"{label}: GET {SUM_SQUARES} answered {status}")
                latencies.append(seconds)
                next_at = max(next_at + TINY_INTERVAL_S, time.perf_counter())
        finally:
            conn.close()
        wall = time.perf_counter() - started
        server_cores = (server.cpu_seconds() - cpu0) / wall
        machine_cores = (harness.machine_cpu_seconds() - machine0) / wall
        load.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
        load.wait(timeout=30)
    finally:
        children.stop(load)
    try:
        load_summary: dict[str, Any] | None = harness.parse_wrk_summary(
            load_log.read_text(errors="replace")
        ).as_dict()
    except RuntimeError:  # no large request finished within the window
        load_summary = None
    settle(server)  # the original goes on with the large request wrk left
    ordered = sorted(latencies)
    result: dict[str, Any] = {
        "seconds": wall,
        "requests": len(latencies),
        "p50_s": statistics.median(ordered),
        "p99_s": _quantile(ordered, 0.99),
        "max_s": ordered[-1],
        "latencies_s": latencies,
        "load": load_summary,
        "load_completed": load_summary["requests"] if load_summary else 0,
        "server_cores": server_cores,
        "machine_cores": machine_cores,
    }
    progress(
        f"tiny under load: {label}: {len(latencies):,} requests, p50"
        f" {result['p50_s'] * 1e3:.3g} ms, p99 {result['p99_s'] * 1e3:.3g} ms, max"
        f" {result['max_s'] * 1e3:.3g} ms; large POSTs done: {result['load_completed']}"
    )
    return result


def _quantile(ordered: Sequence[float], q: float) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


# -- the run -------------------------------------------------------------------------------------


def run_benchmark(children: Children, plan: Plan, logs: Path) -> dict[str, Any]:
    threads = int(gilfree.build_info()["usable_cpus"])
    busy = harness.start_run(
        plan.mode, threads, "gilfree serve against the original app", logs, quiet_cores=0.3
    )
    rustc = harness.first_line(["rustc", "--version"])
    results = harness.results_head(plan.mode, asdict(plan), threads, busy)
    results["machine"]["rustc"] = rustc
    progress(f"payloads: {', '.join(f'{n:,}' for n in SIZES)} random numbers")
    numbers = {size: random_numbers(size) for size in SIZES}
    bodies = {size: numbers_body(values) for size, values in numbers.items()}
    expected = {
        size: gilfree.process_numbers(values, ITERATIONS) for size, values in numbers.items()
    }
    env = harness.server_env(threads)
    servers: dict[str, dict[str, Server]] = {}
    for log in LOG_MODES:
        specs = service_specs(access_log=log == "on")
        servers[log] = {
            key: Server(specs[key], children, logs / f"{key}-log-{log}.log", env) for key in SERVERS
        }
        results.setdefault("services", {})[log] = {
            key: {"label": spec.label, "description": spec.description}
            for key, spec in specs.items()
        }
    with tempfile.TemporaryDirectory(prefix="gilfree-service-bench-") as scratch:
        body_files = {size: Path(scratch) / f"numbers-{size}.json" for size in SIZES}
        for size, path in body_files.items():
            path.write_bytes(bodies[size])
        for log in LOG_MODES:
            for server in servers[log].values():
                server.start()
        checked = []
        for log in LOG_MODES:
            checked = check_answers(list(servers[log].values()), bodies[SMALL], expected[SMALL])
        progress("answers equal: " + "; ".join(checked))
        results["answers"] = {"equal": True, "checked": checked}
        results["sum_squares"] = measure_sum_squares(children, servers, plan, logs)
        for server in servers["off"].values():
            server.stop(grace_s=5)
        logged = servers["on"]
        results["latency"] = measure_latency(logged, bodies, expected[LARGE], plan)
        results["throughput"] = measure_throughput(children, logged, body_files[SMALL], plan, logs)
        results["tiny_under_load"] = {
            key: measure_tiny_under_load(children, server, body_files[LARGE], plan, logs)
            for key, server in logged.items()
        }
        for server in logged.values():
            server.stop(grace_s=5)
    results["targets"] = evaluate_targets(results)
    return results


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    sum_squares, latency = results["sum_squares"], results["latency"]
    tiny_p99_ms = results["tiny_under_load"]["gilfree"]["p99_s"] * 1e3
    targets = [
        {"target": f"GET {SUM_SQUARES} requests/s, access log {log}: gilfree / original",
         "goal": ">=", "limit": 1.5, "measured": sum_squares[log]["ratio"], "unit": "x"}
        for log in LOG_MODES
    ]  # fmt: skip
    targets.append(
        {"target": f"GET {SUM_SQUARES} p99 while {LARGE:,}-number POSTs run back to back"
         " (gilfree)", "goal": "<=", "limit": 10.0, "measured": tiny_p99_ms, "unit": " ms"}
    )  # fmt: skip
    for size, limit in ((LARGE, 50.0), (SMALL, 30.0)):
        targets.append(
            {"target": f"POST {PROCESS_NUMBERS}, {size:,} numbers: original's latency / gilfree's",
             "goal": ">=", "limit": limit, "measured": latency[str(size)]["ratio"], "unit": "x"}
        )  # fmt: skip
    for target in targets:
        if target["goal"] == ">=":
            target["passed"] = target["measured"] >= target["limit"]
        else:
            target["passed"] = target["measured"] <= target["limit"]
    return targets


# -- results -------------------------------------------------------------------------------------


def _goal_and_shown(target: dict[str, Any]) -> tuple[str, str]:
    if target["unit"] == " ms":
        return f"{target['goal']} {duration(target['limit'])}", duration(target["measured"])
    return f"{target['goal']} {target['limit']:g}x", ratio(target["measured"])


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"


def _spread(values: Sequence[float]) -> str:
    return f"{_rate(min(values))} - {_rate(max(values))}"


def render_markdown(results: dict[str, Any]) -> str:
    machine, plan = results["machine"], results["plan"]
    command = "make bench-service" + (" BENCH_ARGS=--quick" if results["mode"] == "quick" else "")
    tools = "".join(
        f", {tool}" for tool in (machine.get("wrk"), machine.get("rustc")) if tool is not None
    )
    sum_squares, latency = results["sum_squares"], results["latency"]
    throughput, tiny = results["throughput"], results["tiny_under_load"]
    services = results["services"]["on"]
    lines = [
        "## Service: gilfree serve against the original FastAPI + Rust app",
        "",
        generated_by(machine, command, "in gilfree serve", tools),
        "",
        *noise_warning(machine),
        "Both services answer the original's own paths with the same request and response"
        " shapes, each run as its own command with uvicorn's defaults:"
        f" {services['gilfree']['label']}: {services['gilfree']['description']};"
        f" {services['original']['label']}: {services['original']['description']}. Before"
        " anything is measured, both answers to each of these, parsed, are equal (the numbers"
        f" also gilfree's `process_numbers(numbers, {ITERATIONS})`, and the 1,000,000 numbers"
        " below too): " + "; ".join(f"`{c}`" for c in results["answers"]["checked"]) + ".",
        "",
        *targets_section(results["targets"], _goal_and_shown),
        f"### GET {SUM_SQUARES}: requests per second",
        "",
        f"`wrk -t{RPS_THREADS} -c{RPS_CONNECTIONS}` for {plan['rps_seconds']:g} s a run, the four"
        f" servers (two of each, access log on and off) interleaved, after a"
        f" {plan['warm_up_seconds']:g} s warm-up each: the median of {_runs(plan['rps_runs'])}"
        " each (range: slowest to fastest run). With the access log on, each server writes a"
        " line per request to a file.",
        "",
    ]
    rows = []
    for log in LOG_MODES:
        entry = sum_squares[log]
        g, o = entry["gilfree"], entry["original"]
        errors = g["errors"] + o["errors"]
        rows.append([
            log, f"**{_rate(g['median_requests_per_s'])}**", _spread(g["requests_per_s"]),
            duration(g["median_p99_us"] / 1e3), f"**{_rate(o['median_requests_per_s'])}**",
            _spread(o["requests_per_s"]), duration(o["median_p99_us"] / 1e3),
            ratio(entry["ratio"]) + (f" ({errors} errors)" if errors else ""),
        ])  # fmt: skip
    lines += table(
        ["access log", "gilfree req/s", "range", "p99", "original req/s", "range", "p99",
         "gilfree / original"],
        rows,
    )  # fmt: skip
    lines += [
        "",
        f"### POST {PROCESS_NUMBERS}: one request's latency",
        "",
        f"Seeded random numbers in 0..10^9, {ITERATIONS} iterations each; from sending the body"
        " to reading the whole answer, on a connection opened beforehand, one request at a time,"
        " the servers taking turns (access log on).",
        "",
    ]
    rows = []
    for size in SIZES:
        entry = latency[str(size)]
        g, o = entry["gilfree"], entry["original"]
        rows.append([
            f"{size:,}", f"{entry['body_bytes'] / 1e6:.3g} MB",
            f"**{duration(g['median_s'] * 1e3)}** ({len(g['seconds'])})",
            f"**{duration(o['median_s'] * 1e3)}** ({len(o['seconds'])})", ratio(entry["ratio"]),
        ])  # fmt: skip
    lines += table(
        ["numbers", "JSON body", "gilfree, median (requests)", "original, median (requests)",
         "original / gilfree"],
        rows,
    )  # fmt: skip
    g, o = throughput["gilfree"], throughput["original"]
    errors = g["errors"] + o["errors"]
    lines += [
        "",
        f"### {POSTERS} clients posting {SMALL:,} numbers",
        "",
        f"`wrk -t2 -c{POSTERS}` posting the {SMALL:,} numbers above for"
        f" {plan['throughput_seconds']:g} s a run, the servers taking turns: the median of"
        f" {_runs(plan['throughput_runs'])} each (access log on).",
        "",
        *table(
            ["gilfree req/s", "p99", "original req/s", "p99", "gilfree / original"],
            [
                [
                    f"**{_rate(g['median_requests_per_s'])}**",
                    duration(g["median_p99_us"] / 1e3),
                    f"**{_rate(o['median_requests_per_s'])}**",
                    duration(o["median_p99_us"] / 1e3),
                    ratio(throughput["ratio"]) + (f" ({errors} errors)" if errors else ""),
                ]
            ],
        ),
        "",
        f"![requests per second, gilfree and the original app]({PLOT_NAME})",
        "",
        f"### GET {SUM_SQUARES} while {LARGE:,}-number POSTs run back to back",
        "",
        f"One client (wrk -c1) posts the {LARGE:,} numbers back to back; meanwhile another sends"
        f" `GET {SUM_SQUARES}` for {plan['tiny_seconds']:g} s on one connection, one every"
        f" {TINY_INTERVAL_S * 1e3:g} ms, each after the answer to the one before (so a server"
        " that stalls gets fewer of them, each counted once). Server cores: its CPU time over"
        " the window; machine: every process's, clients included.",
        "",
    ]
    rows = []
    for key in SERVERS:
        entry = tiny[key]
        rows.append([
            services[key]["label"], f"{entry['requests']:,}", duration(entry["p50_s"] * 1e3),
            duration(entry["p99_s"] * 1e3), duration(entry["max_s"] * 1e3),
            str(entry["load_completed"]),
            f"{entry['server_cores']:.2f} / {entry['machine_cores']:.2f}",
        ])  # fmt: skip
    lines += table(
        ["service", "tiny requests", "p50", "p99", "max", f"{LARGE:,}-number POSTs done",
         "cores busy: server / machine"],
        rows,
    )  # fmt: skip
    lines.append("")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    sum_squares, throughput = results["sum_squares"], results["throughput"]
    labels = {"gilfree": "gilfree serve", "original": "original app"}
    colors = {"gilfree": "tab:blue", "original": "tab:orange"}
    figure, (left, right) = new_figure(ncols=2, figsize=(10, 4.4), width_ratios=(2, 1))
    width = 0.38
    for index, key in enumerate(SERVERS):
        offset = (index - 0.5) * width
        medians = [sum_squares[log][key]["median_requests_per_s"] for log in LOG_MODES]
        positions = [i + offset for i in range(len(LOG_MODES))]
        bars = left.bar(positions, medians, width, label=labels[key], color=colors[key])
        left.bar_label(
            bars, labels=[f"{m:,.0f}" for m in medians], label_type="center", color="white"
        )
        for position, log in zip(positions, LOG_MODES, strict=True):
            runs = sum_squares[log][key]["requests_per_s"]
            left.scatter([position] * len(runs), runs, s=8, color="black", zorder=3)
    left.set_xticks(range(len(LOG_MODES)), [f"access log {log}" for log in LOG_MODES])
    left.set_ylabel("requests/s (median; dots: runs)")
    left.set_title(f"GET {SUM_SQUARES}, wrk -t{RPS_THREADS} -c{RPS_CONNECTIONS}", fontsize=10)
    left.legend(loc="upper right", fontsize=8)
    left.margins(y=0.15)
    medians = [throughput[key]["median_requests_per_s"] for key in SERVERS]
    bars = right.bar(
        [labels[key] for key in SERVERS], medians, color=[colors[key] for key in SERVERS]
    )
    right.bar_label(bars, labels=[_rate(m) for m in medians], padding=2, fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("requests/s (median, log scale)")
    right.set_title(f"POST {PROCESS_NUMBERS}\n{SMALL:,} numbers, {POSTERS} clients", fontsize=10)
    right.margins(y=0.2)
    machine = results["machine"]
    figure.suptitle(
        f"gilfree serve vs the original FastAPI + Rust app: {machine['cpu_model']},"
        f" {machine['usable_cpus']} CPUs",
        fontsize=10,
    )
    save_figure(figure, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.bench_parser(
        "python -m bench.service_bench",
        __doc__,
        quick="shorter runs and fewer repeats (about 2 minutes)",
        outputs="service.json, service.md and service_throughput.png",
    )
    args = parser.parse_args(argv)
    if harness.wrk_path() is None:
        parser.error("wrk is not installed: `apt-get install -y wrk` (`make bench-service` does)")
    missing = missing_dependency()
    if missing:
        parser.error(missing)
    if importlib.util.find_spec("original_ext") is None:
        parser.error("original_ext is not importable: run it as `make bench-service`")
    plan = QUICK if args.quick else FULL
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    return harness.run_and_report(
        lambda children: run_benchmark(children, plan, out / "service_logs"),
        lambda results: write_report(
            results, out, (JSON_NAME, MARKDOWN_NAME, PLOT_NAME), render_markdown, plot
        ),
        unit_sep="",
    )


if __name__ == "__main__":
    sys.exit(main())
