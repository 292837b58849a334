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

Phases 3 to 5 use the servers with the access log on. Writes service.json into ``--out``
(default bench/out; ``make bench-report`` renders it), and the servers' output (access log
included) and wrk's into service_logs/ there. Run it as ``make bench-service``, which builds the
original's extension first; ``--quick`` is short.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gilfree
from bench import harness
from bench.harness import (
    LOOPBACK,
    Children,
    Server,
    ServiceSpec,
    WrkSummary,
    fetch_json,
    median,
    numbers_body,
    progress,
    quantile,
    target,
)

ORIGINAL_APP = harness.REPO_ROOT / "bench" / "peers" / "original_app"
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
SETTLED_CORES = 0.05


@dataclass(frozen=True)
class Plan:
    """Durations and repeat counts of one run; ``QUICK`` and ``FULL`` are the two presets."""

    mode: str
    rps_runs: int  # per (server, access log) pair
    rps_seconds: float
    warm_up_seconds: float
    # 10,000 numbers, per server: 40 in a full run, because this shared 2-vCPU host has slow
    # spells of a few seconds: at 15, two runs an hour apart gave medians of 1.70 and 2.91 ms.
    small_requests: int
    large_requests_gilfree: int  # 1,000,000 numbers
    large_requests_original: int
    throughput_runs: int
    throughput_seconds: float
    tiny_seconds: float


QUICK = Plan("quick", 3, 2.0, 1.0, 5, 3, 1, 1, 3.0, 12.0)
FULL = Plan("full", 7, 5.0, 2.0, 40, 7, 3, 3, 8.0, 30.0)


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


def random_numbers(count: int) -> list[int]:
    rng = random.Random(SEED + count)  # the same numbers in every run
    return [rng.randrange(VALUE_LIMIT) for _ in range(count)]


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
    for method, path, payload in requests:
        answers = {s.spec.key: fetch_json(s.port, method, path, payload) for s in servers}
        first = next(iter(answers.values()))
        for key, answer in answers.items():
            if answer != first:
                raise AssertionError(
                    f"{method} {path}: {key} answered {str(answer)[:200]}, not {str(first)[:200]}"
                )
        if payload is not None and first != wanted_numbers:
            raise AssertionError(f"{method} {path}: not gilfree.process_numbers' result")
        shown = f"{len(expected):,} numbers" if payload is not None else json.dumps(first)
        checked.append(f"{method} {path}: {shown}")
    return checked


def settle(server: Server) -> None:
    """Waits for ``server`` to finish what the clients before left it (the original cannot stop
    work whose client went away)."""
    waited = harness.wait_for_cpu(
        server, lambda cores: cores < SETTLED_CORES, window_s=0.25, timeout_s=REQUEST_TIMEOUT_S
    )
    if waited is None:
        progress(f"warning: {server.spec.label} stayed busy for {REQUEST_TIMEOUT_S:g} s")


def wrk_run(summary: WrkSummary, **more: float) -> dict[str, Any]:
    """One wrk run as results hold it: its requests per second, ``more`` and its summary."""
    return {"requests_per_s": summary.requests_per_s, **more, **summary.as_dict()}


def rates(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the report reads of a server's wrk runs (:func:`wrk_run`): medians and errors."""
    return {
        "median_requests_per_s": median(run["requests_per_s"] for run in runs),
        "requests_per_s": [run["requests_per_s"] for run in runs],
        "median_p99_us": median(run["latency_us"]["p99"] for run in runs),
        "errors": sum(sum(run["errors"].values()) for run in runs),
        "runs": list(runs),
    }


def gilfree_over_original(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` (server -> :func:`rates`) with the ratio of their median requests per second."""
    ratio = entry["gilfree"]["median_requests_per_s"] / entry["original"]["median_requests_per_s"]
    return {**entry, "ratio": ratio}


# -- phase: GET /sum-squares-rust requests/s -----------------------------------------------------


def measure_sum_squares(
    children: Children, servers: dict[str, dict[str, Server]], plan: Plan, logs: Path
) -> dict[str, Any]:
    pairs = [(log, key) for log in LOG_MODES for key in SERVERS]  # alternates gilfree, original
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {pair: [] for pair in pairs}

    def one(log: str, key: str, name: str, seconds: float) -> WrkSummary:
        return harness.run_wrk(
            children,
            logs / f"wrk-sum-squares-{name}.txt",
            servers[log][key].url + SUM_SQUARES,
            threads=RPS_THREADS,
            connections=RPS_CONNECTIONS,
            duration_s=seconds,
        )

    for log, key in pairs:
        progress(f"sum-squares: warming up {servers[log][key].spec.label}, access log {log}")
        one(log, key, f"warm-{key}-log-{log}", plan.warm_up_seconds)
    for round_ in range(plan.rps_runs):
        for log, key in pairs[round_ % len(pairs) :] + pairs[: round_ % len(pairs)]:
            server = servers[log][key]
            cpu0, wall0 = server.cpu_seconds(), time.monotonic()
            summary = one(log, key, f"{key}-log-{log}-{round_}", plan.rps_seconds)
            cores = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
            runs[(log, key)].append(wrk_run(summary, server_cores=cores))
        progress(
            f"sum-squares round {round_ + 1} of {plan.rps_runs}: "
            + ", ".join(
                f"{key} log {log} {runs[(log, key)][-1]['requests_per_s']:,.0f}/s"
                for log, key in pairs
            )
        )
    return {
        log: gilfree_over_original({key: rates(runs[(log, key)]) for key in SERVERS})
        for log in LOG_MODES
    }


# -- phase: one POST's latency -------------------------------------------------------------------


def timed_post(server: Server, body: bytes) -> float:
    """Seconds of one ``POST /process-numbers-rust`` on a connection of its own, opened untimed:
    uvicorn closes one left idle for 5 s, as it would be while the other server answers."""
    status, seconds = harness.timed_request(
        server.port, "POST", PROCESS_NUMBERS, body, timeout_s=REQUEST_TIMEOUT_S
    )
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
            timed_post(server, bodies[SMALL])
        if fetch_json(server.port, "POST", PROCESS_NUMBERS, bodies[LARGE]) != wanted:
            raise AssertionError(f"{key}: {LARGE:,} numbers: not gilfree.process_numbers' result")
    measured: dict[str, Any] = {}
    for size in SIZES:
        seconds: dict[str, list[float]] = {key: [] for key in servers}
        for i in range(max(counts[size].values())):
            for key, server in servers.items():
                if i < counts[size][key]:
                    seconds[key].append(timed_post(server, bodies[size]))
        entry: dict[str, Any] = {
            key: {"median_s": median(values), "seconds": values} for key, values in seconds.items()
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
        summary = harness.run_wrk(
            children,
            logs / f"wrk-throughput-{name}.txt",
            server.url + PROCESS_NUMBERS,
            threads=2,
            connections=POSTERS,
            duration_s=seconds,
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
            runs[key].append(wrk_run(one(server, f"{key}-{round_}", plan.throughput_seconds)))
        progress(
            f"throughput round {round_ + 1} of {plan.throughput_runs}: "
            + ", ".join(f"{key} {runs[key][-1]['requests_per_s']:,.1f}/s" for key in servers)
        )
    return gilfree_over_original({key: rates(these) for key, these in runs.items()})


# -- phase: a tiny request while large ones run --------------------------------------------------


def measure_tiny_under_load(
    children: Children, server: Server, body_file: Path, plan: Plan, logs: Path
) -> dict[str, Any]:
    label, key = server.spec.label, server.spec.key
    load_log = logs / f"wrk-load-{key}.txt"
    progress(f"tiny under load: {label}: {LARGE:,}-number POSTs back to back")
    load = harness.start_wrk(
        children,
        load_log,
        server.url + PROCESS_NUMBERS,
        threads=1,
        connections=1,
        duration_s=plan.tiny_seconds + REQUEST_TIMEOUT_S,
        timeout_s=REQUEST_TIMEOUT_S,
        body_file=body_file,
    )
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
    finally:
        load_summary = harness.stop_wrk(children, load, load_log)  # None: no large one finished
    settle(server)  # the original goes on with the large request wrk left
    result: dict[str, Any] = {
        "seconds": wall,
        "requests": len(latencies),
        "p50_s": median(latencies),
        "p99_s": quantile(latencies, 0.99),
        "max_s": max(latencies),
        "latencies_s": latencies,
        "load": load_summary.as_dict() if load_summary else None,
        "load_completed": load_summary.requests if load_summary else 0,
        "server_cores": server_cores,
        "machine_cores": machine_cores,
    }
    progress(
        f"tiny under load: {label}: {len(latencies):,} requests, p50"
        f" {result['p50_s'] * 1e3:.3g} ms, p99 {result['p99_s'] * 1e3:.3g} ms, max"
        f" {result['max_s'] * 1e3:.3g} ms; large POSTs done: {result['load_completed']}"
    )
    return result


# -- the run -------------------------------------------------------------------------------------


def measure(children: Children, plan: Plan, logs: Path) -> dict[str, Any]:
    """Both services checked alike, then each phase on both: the run's results."""
    threads = harness.usable_cpus()
    busy = harness.start_run(plan.mode, threads, "gilfree serve against the original app", logs)
    constants = {
        "sum_squares_path": SUM_SQUARES,
        "process_numbers_path": PROCESS_NUMBERS,
        "iterations": ITERATIONS,
        "sizes": SIZES,
        "rps_threads": RPS_THREADS,
        "rps_connections": RPS_CONNECTIONS,
        "posters": POSTERS,
        "tiny_interval_s": TINY_INTERVAL_S,
    }
    results = harness.results_head(plan.mode, {**asdict(plan), **constants}, threads, busy)
    results["machine"]["rustc"] = harness.first_line(["rustc", "--version"])
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
            key: spec.described() for key, spec in specs.items()
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
    return [
        *(
            target(
                f"GET {SUM_SQUARES} requests/s, access log {log}: gilfree / original",
                sum_squares[log]["ratio"],
                ">=",
                1.5,
                "x",
            )
            for log in LOG_MODES
        ),
        target(
            f"GET {SUM_SQUARES} p99 while {LARGE:,}-number POSTs run back to back (gilfree)",
            results["tiny_under_load"]["gilfree"]["p99_s"] * 1e3,
            "<=",
            10.0,
            "ms",
        ),
        *(
            target(
                f"POST {PROCESS_NUMBERS}, {size:,} numbers: original's latency / gilfree's",
                latency[str(size)]["ratio"],
                ">=",
                limit,
                "x",
            )
            for size, limit in ((LARGE, 50.0), (SMALL, 30.0))
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.bench_parser(
        "python -m bench.service_bench",
        __doc__,
        quick="shorter runs and fewer repeats (about 2 minutes)",
        outputs="service.json",
    )
    args = parser.parse_args(argv)
    if harness.wrk_path() is None:
        parser.error("wrk is not installed: `apt-get install -y wrk` (`make bench-service` does)")
    if importlib.util.find_spec("original_ext") is None:
        parser.error("original_ext is not importable: run it as `make bench-service`")
    plan = QUICK if args.quick else FULL
    out: Path = args.out.resolve()
    return harness.run_and_report(
        lambda children: measure(children, plan, out / "service_logs"),
        out / "service.json",
        require_targets=args.require_targets,
    )


if __name__ == "__main__":
    sys.exit(main())
