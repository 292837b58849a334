"""Scale benchmark: the service through Ray Serve (``gilfree serve --ray``) against ``gilfree
serve`` directly, and one replica against two.

Three services run side by side, each its own command on a local port, access logs off:
``direct`` is ``gilfree serve --threads C``; ``serve-1`` and ``serve-2`` are ``gilfree serve
--ray --replicas 1`` and ``--replicas 2``, each replica of ``--replica-cpus C`` (a local Ray of
this machine's CPUs each). C is half the usable CPUs, less one each where the machine has 6 or
more, so that two replicas leave two cores to Serve's proxy and the load generator.

Measures, on this machine and in one run:

1. that all three answer alike: ``GET /sum-squares?a=5&b=10`` and the medium request below,
   parsed, equal (the numbers gilfree's ``process_numbers`` here); the run fails where not;
2. the latency of one request through Serve against ``gilfree serve`` directly, a replica of C
   CPUs against a process of C native threads: a tiny ``GET /sum-squares``, a medium ``POST
   /process-numbers`` (20,000 numbers, iterations for about 60 ms of one core's work) and a
   heavy one (100,000 numbers, about 300 ms; iterations at most 100,000, the service's limit),
   one at a time on a kept-alive connection, the two services taking turns; the median of
   each, the time Serve adds and the ratio;
3. requests/s of the heavy request under ``wrk -c 4C`` for direct, 1 replica and 2 replicas,
   the services taking turns run by run, the median of each, and 2 replicas over 1;
4. the memory each service holds once warm: the proportional set size (PSS: shared pages
   divided among the processes sharing them) and the RSS of every process of the service, by
   kind (a Serve deployment is a driver, Ray's GCS, raylet and agents, Serve's controller and
   proxy, and the replicas), and what a Serve deployment adds to ``gilfree serve``.

Writes scale.json into ``--out`` (default bench/out; ``make bench-report`` renders it), and the
services' output and wrk's into scale_logs/ there. Run it as ``make bench-scale`` (it installs
the ray extra); ``--quick`` is short.
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import gilfree
from bench import harness
from bench.harness import (
    LOOPBACK,
    Children,
    Server,
    ServiceSpec,
    fetch_json,
    median,
    numbers_body,
    progress,
    target,
)

SUM_SQUARES = "/sum-squares?a=5&b=10"
PROCESS_NUMBERS = "/process-numbers"
# The posted requests: numbers, and seconds of one core's work (iterations to match, at most
# the service's default limit).
POSTS = {"medium": (20_000, 0.060), "heavy": (100_000, 0.300)}
MAX_ITERATIONS = 100_000
SERVICES = ("direct", "serve-1", "serve-2")
REQUEST_TIMEOUT_S = 120.0
RAY_STARTUP_S = 240.0  # a local Ray, Serve and its replicas
# The scaling target holds where two replicas leave this many cores to the proxy and wrk.
SPARE_CORES = 2


@dataclass(frozen=True)
class Plan:
    """Repeat counts and durations of one run; ``QUICK`` and ``FULL`` are the two presets."""

    mode: str
    warm_up_requests: int
    tiny_requests: int  # a service
    medium_requests: int  # a service
    heavy_requests: int  # a service
    throughput_runs: int  # a service
    throughput_seconds: float
    warm_up_seconds: float


QUICK = Plan("quick", 20, 100, 7, 3, 1, 4.0, 2.0)
FULL = Plan("full", 50, 400, 21, 9, 3, 8.0, 3.0)


def replica_cpus(usable: int) -> int:
    """C: half the usable CPUs; from 6 CPUs up, half of those left after SPARE_CORES."""
    if usable >= 3 * SPARE_CORES:
        return (usable - SPARE_CORES) // 2
    return max(1, usable // 2)


def service_specs(cpus: int) -> dict[str, ServiceSpec]:
    gilfree_cli = str(Path(sys.executable).parent / "gilfree")
    quiet = ("--no-access-log", "--log-level", "warning")

    def command(*options: str) -> Callable[[int], list[str]]:
        return lambda port: [gilfree_cli, "serve", *options, "--port", str(port), *quiet]

    def on_ray(replicas: int) -> Callable[[int], list[str]]:
        return command("--ray", "--replicas", str(replicas), "--replica-cpus", str(cpus))

    return {
        "direct": ServiceSpec(
            "direct",
            "gilfree serve",
            f"`gilfree serve --threads {cpus}`: uvicorn with uvloop and httptools, one process of"
            f" {cpus} native thread{'s' if cpus > 1 else ''}",
            command("--threads", str(cpus)),
        ),
        **{
            f"serve-{n}": ServiceSpec(
                f"serve-{n}",
                f"Serve, {n} replica{'s' if n > 1 else ''}",
                f"`gilfree serve --ray --replicas {n} --replica-cpus {cpus}`: a local Ray, Serve's"
                f" proxy, {n} replica{'s' if n > 1 else ''} of {cpus} CPU{'s' if cpus > 1 else ''}"
                f" ({cpus} native thread{'s' if cpus > 1 else ''} each)",
                on_ray(n),
            )
            for n in (1, 2)
        },
    }


def iterations_for(numbers: list[int], seconds: float) -> int:
    """Iterations of ``numbers`` that take one native thread about ``seconds`` here."""
    gilfree.configure(1)
    try:
        gilfree.process_numbers(numbers, 1000)
        started = time.perf_counter()
        gilfree.process_numbers(numbers, 20_000)
        per_iteration = (time.perf_counter() - started) / 20_000
    finally:
        gilfree.configure(None)
    return max(1, min(MAX_ITERATIONS, round(seconds / per_iteration)))


def check_answers(servers: dict[str, Server], body: bytes, path: str) -> list[str]:
    """Every service answers both requests alike, the numbers as gilfree's process_numbers
    does here; what was checked. Raises AssertionError where they do not."""
    numbers = json.loads(body)["numbers"]
    iterations = int(path.rpartition("=")[2])
    wanted = {
        "original_count": len(numbers),
        "processed_result": gilfree.process_numbers(numbers, iterations),
    }
    checked = []
    for method, target_, payload, expected in (
        ("GET", SUM_SQUARES, None, {"a": 5, "b": 10, "sum_of_squares": 125}),
        ("POST", path, body, wanted),
    ):
        for key, server in servers.items():
            answer = fetch_json(server.port, method, target_, payload, timeout_s=REQUEST_TIMEOUT_S)
            if answer != expected:
                raise AssertionError(f"{key}: {method} {target_} answered {str(answer)[:200]}")
        shown = f"{len(numbers):,} numbers" if payload else json.dumps(expected)
        checked.append(f"{method} {target_.split('?')[0]}: {shown}")
    return checked


# -- phase: one request's latency, direct against Serve -------------------------------------------


def measure_latency(
    servers: dict[str, Server], posts: dict[str, tuple[str, bytes]], plan: Plan
) -> dict[str, Any]:
    connections = {
        key: http.client.HTTPConnection(LOOPBACK, server.port, timeout=REQUEST_TIMEOUT_S)
        for key, server in servers.items()
    }
    counts = {"medium": plan.medium_requests, "heavy": plan.heavy_requests}
    requests: dict[str, tuple[str, str, bytes | None, int]] = {
        "tiny": ("GET", SUM_SQUARES, None, plan.tiny_requests),
        **{name: ("POST", path, body, counts[name]) for name, (path, body) in posts.items()},
    }

    def one(key: str, method: str, path: str, payload: bytes | None) -> float:
        status, seconds = harness.timed_request(
            servers[key].port,
            method,
            path,
            payload,
            timeout_s=REQUEST_TIMEOUT_S,
            connection=connections[key],
        )
        if status != 200:
            raise RuntimeError(f"{key}: {method} {path} answered {status}")
        return seconds

    try:
        for connection in connections.values():
            connection.connect()
        measured: dict[str, Any] = {}
        for name, (method, path, payload, count) in requests.items():
            for key in servers:  # warm up
                for _ in range(max(2, plan.warm_up_requests // (25 if payload else 1))):
                    one(key, method, path, payload)
            seconds: dict[str, list[float]] = {key: [] for key in servers}
            for i in range(count):
                order = list(servers) if i % 2 == 0 else list(reversed(servers))
                for key in order:
                    seconds[key].append(one(key, method, path, payload))
            entry: dict[str, Any] = {
                key: {"median_s": median(values), "seconds": values}
                for key, values in seconds.items()
            }
            direct, served = entry["direct"]["median_s"], entry["serve-1"]["median_s"]
            entry["added_s"] = served - direct
            entry["ratio"] = served / direct
            progress(
                f"latency, {name}: direct {direct * 1e3:.3g} ms, through Serve"
                f" {served * 1e3:.3g} ms (+{entry['added_s'] * 1e3:.3g} ms, {entry['ratio']:.3g}x)"
            )
            measured[name] = entry
    finally:
        for connection in connections.values():
            connection.close()
    return measured


# -- phase: heavy requests/s, 1 replica against 2 ------------------------------------------------


def measure_throughput(
    children: Children,
    servers: dict[str, Server],
    heavy_path: str,
    body_file: Path,
    connections: int,
    plan: Plan,
    logs: Path,
) -> dict[str, Any]:
    def one(key: str, name: str, seconds: float) -> dict[str, Any]:
        summary = harness.run_wrk(
            children,
            logs / f"wrk-{name}.txt",
            servers[key].url + heavy_path,
            threads=1,
            connections=connections,
            duration_s=seconds,
            timeout_s=REQUEST_TIMEOUT_S,
            body_file=body_file,
        )
        if sum(summary.errors.values()):
            raise RuntimeError(f"{key}: wrk counted errors {summary.errors}")
        return {"requests_per_s": summary.requests_per_s, **summary.as_dict()}

    for key in servers:
        progress(f"throughput: warming up {servers[key].spec.label}")
        one(key, f"warm-{key}", plan.warm_up_seconds)
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key in servers}
    keys = list(servers)
    for round_ in range(plan.throughput_runs):
        for key in keys[round_ % len(keys) :] + keys[: round_ % len(keys)]:
            runs[key].append(one(key, f"{key}-{round_}", plan.throughput_seconds))
        progress(
            f"throughput round {round_ + 1} of {plan.throughput_runs}: "
            + ", ".join(f"{key} {runs[key][-1]['requests_per_s']:.1f}/s" for key in keys)
        )
    measured: dict[str, Any] = {
        key: {
            "median_requests_per_s": median(run["requests_per_s"] for run in these),
            "requests_per_s": [run["requests_per_s"] for run in these],
            "median_p99_us": median(run["latency_us"]["p99"] for run in these),
            "runs": these,
        }
        for key, these in runs.items()
    }
    one_replica = measured["serve-1"]["median_requests_per_s"]
    measured["two_over_one"] = measured["serve-2"]["median_requests_per_s"] / one_replica
    measured["serve_over_direct"] = one_replica / measured["direct"]["median_requests_per_s"]
    return measured


# -- phase: memory ----------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(command name, parent PID) of ``pid``; None where it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.find("(") + 1 : text.rfind(")")], int(text[text.rfind(")") + 2 :].split()[1])


def process_tree(root: int) -> list[int]:
    """``root`` and every live process below it."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat[1]
    tree, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.extend(children)
        frontier.extend(children)
    return tree


def _kind(pid: int) -> str:
    """What a process of a service is: Ray names its workers ``ray::<actor>`` in argv[0]; its
    Python helpers are named by their script."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "gone"
    if argv[0].startswith("ray::"):
        # ray::ServeReplica:app:deployment, ray::ServeController.listen_for_change (its task)
        return argv[0].removeprefix("ray::").split()[0].split(":")[0].split(".")[0]
    scripts = [Path(arg).name for arg in argv[1:3] if arg.endswith(".py")]
    return scripts[0] if scripts else Path(argv[0]).name


def memory_of(root: int) -> dict[str, Any]:
    """PSS and RSS in bytes of every process of a service, summed and by kind."""
    kinds: dict[str, dict[str, int]] = {}
    for pid in process_tree(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = {
            line.split(":")[0]: int(line.split()[1]) * 1024
            for line in rollup.splitlines()[1:]
            if line.split(":")[0] in ("Rss", "Pss")
        }
        kind = "the command" if pid == root else _kind(pid)
        entry = kinds.setdefault(kind, {"processes": 0, "pss_bytes": 0, "rss_bytes": 0})
        entry["processes"] += 1
        entry["pss_bytes"] += fields.get("Pss", 0)
        entry["rss_bytes"] += fields.get("Rss", 0)
    return {
        "processes": sum(entry["processes"] for entry in kinds.values()),
        "pss_bytes": sum(entry["pss_bytes"] for entry in kinds.values()),
        "rss_bytes": sum(entry["rss_bytes"] for entry in kinds.values()),
        "by_kind": dict(sorted(kinds.items(), key=lambda item: -item[1]["pss_bytes"])),
    }


# -- the run -------------------------------------------------------------------------------------


def measure(children: Children, plan: Plan, logs: Path) -> dict[str, Any]:
    usable = harness.usable_cpus()
    cpus = replica_cpus(usable)
    busy = harness.start_run(plan.mode, usable, "gilfree serve against Ray Serve", logs)
    posts: dict[str, tuple[str, bytes]] = {}
    constants: dict[str, Any] = {"replica_cpus": cpus, "spare_cores": SPARE_CORES, "posts": {}}
    for name, (count, seconds) in POSTS.items():
        numbers = list(range(count))
        iterations = iterations_for(numbers, seconds)
        posts[name] = (f"{PROCESS_NUMBERS}?iterations={iterations}", numbers_body(numbers))
        constants["posts"][name] = {
            "numbers": count,
            "iterations": iterations,
            "seconds_of_one_core": seconds,
            "body_bytes": len(posts[name][1]),
        }
    connections = 4 * cpus
    constants["wrk_connections"] = connections
    results = harness.results_head(plan.mode, {**asdict(plan), **constants}, cpus, busy)
    results["machine"]["ray"] = metadata.version("ray")
    env = {**harness.server_env(cpus), "RAY_USAGE_STATS_ENABLED": "0"}
    specs = service_specs(cpus)
    servers = {
        key: Server(
            specs[key],
            children,
            logs / f"{key}.log",
            env,
            startup_timeout_s=60.0 if key == "direct" else RAY_STARTUP_S,
        )
        for key in SERVICES
    }
    results["services"] = {key: spec.described() for key, spec in specs.items()}
    heavy_path, heavy_body = posts["heavy"]
    with tempfile.TemporaryDirectory(prefix="gilfree-scale-bench-") as scratch:
        body_file = Path(scratch) / "numbers.json"
        body_file.write_bytes(heavy_body)
        for server in servers.values():
            progress(f"starting {server.spec.label}", transient=True)
            started = time.monotonic()
            server.start()
            progress(f"{server.spec.label}: serving after {time.monotonic() - started:.1f} s")
        checked = check_answers(servers, posts["medium"][1], posts["medium"][0])
        progress("answers equal: " + "; ".join(checked))
        results["answers"] = {"equal": True, "checked": checked}
        pair = {key: servers[key] for key in ("direct", "serve-1")}
        results["latency"] = measure_latency(pair, posts, plan)
        results["throughput"] = measure_throughput(
            children, servers, heavy_path, body_file, connections, plan, logs
        )
        results["memory"] = {key: memory_of(server.pid) for key, server in servers.items()}
        direct_pss = results["memory"]["direct"]["pss_bytes"]
        results["memory_added_by_serve_bytes"] = {
            key: results["memory"][key]["pss_bytes"] - direct_pss for key in ("serve-1", "serve-2")
        }
        for key, entry in results["memory"].items():
            progress(
                f"memory, {servers[key].spec.label}: {entry['processes']} processes, PSS"
                f" {entry['pss_bytes'] / 2**20:.0f} MiB, RSS {entry['rss_bytes'] / 2**20:.0f} MiB"
            )
        for server in servers.values():
            server.stop(grace_s=30)
    results["targets"] = evaluate_targets(results, usable, cpus)
    return results


def evaluate_targets(results: dict[str, Any], usable: int, cpus: int) -> list[dict[str, Any]]:
    room = usable >= 2 * cpus + SPARE_CORES
    return [
        target(
            "POST /process-numbers latency, heavy (~300 ms of one core): through Serve /"
            " gilfree serve directly",
            results["latency"]["heavy"]["ratio"],
            "<=",
            1.15,
            "x",
        ),
        target(
            f"heavy requests/s: 2 replicas / 1 replica (where 2 replicas of {cpus} CPUs leave"
            f" {SPARE_CORES} cores to the proxy and wrk)",
            results["throughput"]["two_over_one"] if room else None,
            ">=",
            1.8,
            "x",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.bench_parser(
        "python -m bench.scale_bench",
        __doc__,
        quick="fewer requests and shorter runs (about 2 minutes)",
        outputs="scale.json",
    )
    args = parser.parse_args(argv)
    if harness.wrk_path() is None:
        parser.error("wrk is not installed: `apt-get install -y wrk` (`make bench-scale` does)")
    try:
        from gilfree.ray import require_ray

        require_ray()
    except ImportError as exc:
        parser.error(f"{exc} (`make bench-scale` does)")
    plan = QUICK if args.quick else FULL
    out: Path = args.out.resolve()
    return harness.run_and_report(
        lambda children: measure(children, plan, out / "scale_logs"),
        out / "scale.json",
        require_targets=args.require_targets,
    )


if __name__ == "__main__":
    sys.exit(main())
