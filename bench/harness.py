"""What every benchmark suite shares: processes and servers, the machine's facts and load, wrk,
statistics, targets and the frame of a run.

A suite (``bench/<name>_bench.py``) measures and writes its results as data, one JSON file in
bench/out; bench/report.py renders every suite's results into BENCHMARKS.md and its plots.
Everything here talks to 127.0.0.1 only. Every subprocess starts in its own process group and is
registered with a :class:`Children`, whose ``stop_all`` (called from a ``finally``) ends them all.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import operator
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

import gilfree

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
# Cores other processes may keep busy before a run starts without a warning that they compete.
QUIET_CORES = 0.3
# The package versions a run records (None where one is not installed).
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "numpy",
    "numba",
    "rapidfuzz",
)
_SUMMARY_MARK = "BENCH_SUMMARY "
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Progress:
    """Progress on stderr, each line stamped with the seconds since the run started. A transient
    line is overwritten by the next one on a terminal and shown at most every few seconds off
    one: for the steps of a long loop."""

    TRANSIENT_EVERY_S = 5.0

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self._open = False  # a transient line is on the terminal
        self._last_line = -math.inf

    def __call__(self, message: str, *, transient: bool = False) -> None:
        now = time.monotonic()
        line = f"[{now - self.started:6.1f}s] {message}"
        if transient and self.stream.isatty():
            self.stream.write(f"\r\x1b[2K{line}")
            self._open = True
        elif transient and now - self._last_line < self.TRANSIENT_EVERY_S:
            return
        else:
            if self._open:
                self.stream.write("\r\x1b[2K")
                self._open = False
            self.stream.write(line + "\n")
            self._last_line = now
        self.stream.flush()


progress = Progress(sys.stderr)


def usable_cpus() -> int:
    """The CPUs gilfree's pool uses by default here (affinity and cgroup quota)."""
    return int(gilfree.build_info()["usable_cpus"])


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


# -- processes and services -----------------------------------------------------------------------


class Children:
    """The subprocesses of one benchmark run, each the leader of its own process group."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        stdout: int | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Starts ``argv`` in a new session, in ``cwd`` (default: the repository root); stderr
        (and stdout unless given) append to ``log``."""
        with log.open("ab") as sink:
            sink.write(f"$ {' '.join(argv)}\n".encode())
            sink.flush()
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=sink if stdout is None else stdout,
                stderr=sink,
                env=env,
                cwd=REPO_ROOT if cwd is None else cwd,
                start_new_session=True,
            )
        self._running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], *, grace_s: float = 0.0) -> None:
        """SIGTERM to the group and ``grace_s`` to exit (none: SIGKILL at once), then SIGKILL.

        The group is signalled only while its leader lives: once the leader is reaped its id
        may be reused, and none of these programs leaves children behind.
        """
        if process.poll() is None and grace_s > 0:
            _signal_group(process, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace_s)
        if process.poll() is None:
            _signal_group(process, signal.SIGKILL)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                progress(f"warning: process {process.pid} did not exit after SIGKILL")
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in list(self._running):
            self.stop(process)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


@dataclass(frozen=True)
class ServiceSpec:
    """One service under test: a name, a description for the report, its command line, the path
    that answers 200 once it is up and the folder it runs in."""

    key: str
    label: str
    description: str
    command: Callable[[int], list[str]]  # port -> argv
    ready_path: str = "/healthz"
    cwd: Path | None = None  # None: the repository root

    def described(self) -> dict[str, str]:
        """What the report says of the service."""
        return {"label": self.label, "description": self.description}


def _python_module(*module: str, options: Sequence[str]) -> Callable[[int], list[str]]:
    """port -> ``python -m <module...> --host 127.0.0.1 --port <port> <options...>``."""
    python = sys.executable

    def command(port: int) -> list[str]:
        return [python, "-m", *module, "--host", LOOPBACK, "--port", str(port), *options]

    return command


def uvicorn_factory(factory: str) -> Callable[[int], list[str]]:
    """The command line of a peer app: ``uvicorn --factory`` with uvloop and httptools, quiet."""
    options = ("--loop", "uvloop", "--http", "httptools", "--log-level", "warning")
    return _python_module("uvicorn", "--factory", factory, options=(*options, "--no-access-log"))


def gilfree_serve(threads: int) -> Callable[[int], list[str]]:
    """The command line of gilfree's own service, ``gilfree serve`` with ``threads`` workers."""
    options = ("--threads", str(threads), "--log-level", "warning")
    return _python_module("gilfree.cli", "serve", options=options)


def server_env(threads: int, settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment with gilfree's settings at their defaults but for ``threads``
    and ``settings``, and the repository importable (for the peers)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GILFREE_")}
    env["GILFREE_THREADS"] = str(threads)
    env.update(settings or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass
class Server:
    """A running service: its process, port and log, restartable."""

    spec: ServiceSpec
    children: Children
    log: Path
    env: dict[str, str]
    startup_timeout_s: float = 60.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    port: int = field(default=0, init=False)
    starts: int = field(default=0, init=False)

    def start(self) -> None:
        self.port = free_port()
        self.process = self.children.start(
            self.spec.command(self.port), log=self.log, env=self.env, cwd=self.spec.cwd
        )
        self.starts += 1
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.label} exited with status {self.process.returncode} while"
                    f" starting; see {self.log}"
                )
            try:
                status, _ = timed_request(self.port, "GET", self.spec.ready_path, timeout_s=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.spec.label} did not answer {self.spec.ready_path} within"
                    f" {self.startup_timeout_s} s; see {self.log}"
                )
            time.sleep(0.05)

    def stop(self, *, grace_s: float = 0.0) -> None:
        if self.process is not None:
            self.children.stop(self.process, grace_s=grace_s)
            self.process = None

    def restart(self) -> None:
        """Kills the service where it runs (work in flight included) and starts a fresh one."""
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.spec.label} is not running")
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process, all its threads together."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            text = stat.read()
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = text[text.rindex(")") + 2 :].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / _CLOCK_TICKS


# -- CPU time, threads and the load of other processes --------------------------------------------


def _busy_seconds(cpus: Callable[[str], bool]) -> float:
    """CPU time spent busy since boot by the CPUs of /proc/stat whose line name ``cpus`` takes:
    every tick but idle and iowait."""
    busy = 0
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            name, *values = line.split()
            if cpus(name):
                ticks = [int(value) for value in values[:8]]
                busy += sum(ticks) - ticks[3] - ticks[4]
    return busy / _CLOCK_TICKS


def machine_cpu_seconds() -> float:
    """CPU time spent busy by the whole machine, every process and core."""
    return _busy_seconds(lambda name: name == "cpu")


class LoadMeter:
    """The CPUs other processes kept busy since the meter started: the busy time of the CPUs this
    process may use less this process's own CPU time (all its threads), per second."""

    def __init__(self) -> None:
        self._cpus = {f"cpu{cpu}" for cpu in os.sched_getaffinity(0)}
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        busy = _busy_seconds(self._cpus.__contains__)
        return busy, time.process_time(), time.monotonic()

    def others_cpus(self) -> float:
        end = self._sample()
        others = (end[0] - self._start[0]) - (end[1] - self._start[1])
        return max(0.0, others / max(end[2] - self._start[2], 1e-9))


def cpu_rate(server: Server, window_s: float) -> float:
    """Cores the server kept busy, on average, over the next ``window_s`` seconds."""
    cpu0, wall0 = server.cpu_seconds(), time.monotonic()
    time.sleep(window_s)
    return (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)


def wait_for_cpu(
    server: Server, condition: Callable[[float], bool], *, window_s: float, timeout_s: float
) -> float | None:
    """Seconds until ``condition(cores busy over a window)`` holds; None after ``timeout_s``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if condition(cpu_rate(server, window_s)):
            return time.monotonic() - start
    return None


def task_files(pid: int, name: str) -> Iterator[str]:
    """The text of ``/proc/PID/task/TID/<name>`` for every thread of ``pid`` that still lives."""
    for task in os.scandir(f"/proc/{pid}/task"):
        try:
            with open(f"{task.path}/{name}", encoding="ascii") as stat:
                text = stat.read()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        yield text


def running_threads(pid: int) -> int:
    """Threads of process ``pid`` running or ready to run (state R) at this instant."""
    return sum(text[text.rindex(")") + 2] == "R" for text in task_files(pid, "stat"))


def wait_for_threads(
    server: Server,
    condition: Callable[[int], bool],
    *,
    timeout_s: float,
    hold: int = 1,
    poll_s: float = 0.001,
) -> float | None:
    """Seconds until ``condition(running threads)`` holds in ``hold`` polls in a row, counted to
    the first of them; None after ``timeout_s``. Finer than :func:`wait_for_cpu` (about
    ``poll_s``), for events shorter than a CPU-time window. Never less than ``poll_s``: that is
    the resolution, and a condition true at the first poll happened within it."""
    start = time.perf_counter()
    held_since: float | None = None
    held = 0
    while True:
        now = time.perf_counter()
        if condition(running_threads(server.pid)):
            held_since = now if held == 0 else held_since
            held += 1
            if held >= hold and held_since is not None:
                return max(held_since - start, poll_s)
        else:
            held = 0
        if now - start > timeout_s:
            return None
        time.sleep(poll_s)


# -- HTTP ------------------------------------------------------------------------------------------


def numbers_body(numbers: Iterable[int]) -> bytes:
    """The JSON body ``{"numbers": [...]}`` of ``POST /process-numbers``, compact."""
    return json.dumps({"numbers": list(numbers)}, separators=(",", ":")).encode()


def timed_request(
    port: int,
    method: str,
    target: str,
    body: bytes | None = None,
    *,
    timeout_s: float,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, float]:
    """Sends one request and reads the whole answer: (status, seconds from send to last byte).

    Without ``connection``, on a connection of its own, opened before the clock starts; with
    one (already connected, kept alive), on that one.
    """
    conn = connection or http.client.HTTPConnection(LOOPBACK, port, timeout=timeout_s)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        if connection is None:
            conn.connect()
        start = time.perf_counter()
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        if connection is None:
            conn.close()


def fetch_json(
    port: int, method: str, target: str, body: bytes | None = None, *, timeout_s: float = 300.0
) -> Any:
    """One request on a connection of its own; its answer parsed (an error unless it is 200)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout_s)
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


def open_request(port: int, method: str, target: str, body: bytes) -> socket.socket:
    """Sends a whole request and leaves its answer unread; closing the socket abandons it."""
    sock = socket.create_connection((LOOPBACK, port))
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode("ascii") + body)
    return sock


# -- wrk -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkSummary:
    """What wrk's ``done`` hook (bench/wrk.lua) reported, latencies in microseconds."""

    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_command(
    url: str, *, threads: int, connections: int, duration_s: float, timeout_s: float
) -> list[str]:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    return [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]


def parse_wrk_summary(output: str) -> WrkSummary:
    """The summary line bench/wrk.lua printed; an error when wrk completed no request."""
    for line in output.splitlines():
        if line.startswith(_SUMMARY_MARK):
            raw = json.loads(line[len(_SUMMARY_MARK) :])
            summary = WrkSummary(
                requests=int(raw["requests"]),
                duration_s=raw["duration_us"] / 1e6,
                errors={key: int(value) for key, value in raw["errors"].items()},
                latency_us={key: float(value) for key, value in raw["latency_us"].items()},
            )
            if summary.requests == 0:
                raise RuntimeError(f"wrk completed no request:\n{output}")
            return summary
    raise RuntimeError(f"wrk printed no summary line:\n{output}")


def start_wrk(
    children: Children,
    log: Path,
    url: str,
    *,
    threads: int,
    connections: int,
    duration_s: float,
    timeout_s: float,
    body_file: Path | None = None,
) -> subprocess.Popen[bytes]:
    """wrk started on ``url`` (GET, or POST of ``body_file`` through bench/wrk.lua), its output
    into ``log``."""
    env = {key: value for key, value in os.environ.items() if key != "BENCH_BODY_FILE"}
    if body_file is not None:
        env["BENCH_BODY_FILE"] = str(body_file)
    argv = wrk_command(
        url, threads=threads, connections=connections, duration_s=duration_s, timeout_s=timeout_s
    )
    return children.start(argv, log=log, env=env)


def stop_wrk(children: Children, process: subprocess.Popen[bytes], log: Path) -> WrkSummary | None:
    """Ends a wrk started by :func:`start_wrk` (SIGINT: it prints its summary); the summary, or
    None where it completed no request."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    children.stop(process)
    try:
        return parse_wrk_summary(log.read_text(errors="replace"))
    except RuntimeError:
        return None


def run_wrk(
    children: Children,
    log: Path,
    url: str,
    *,
    threads: int,
    connections: int,
    duration_s: float,
    timeout_s: float = 60.0,
    body_file: Path | None = None,
) -> WrkSummary:
    """One wrk run to its end, as :func:`start_wrk` starts it; its summary."""
    process = start_wrk(
        children,
        log,
        url,
        threads=threads,
        connections=connections,
        duration_s=duration_s,
        timeout_s=timeout_s,
        body_file=body_file,
    )
    try:
        process.wait(timeout=duration_s + timeout_s + 30)
    finally:
        children.stop(process)
    return parse_wrk_summary(log.read_text(errors="replace"))


# -- statistics ------------------------------------------------------------------------------------


def quantile(values: Iterable[float], q: float) -> float:
    """The ``q``-quantile (0 to 1) of ``values``, linearly interpolated between the two closest
    ranks (numpy's default, statistics' ``inclusive`` method): q=0.5 is the median, 1 the max."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    return quantile(values, 0.5)


def censored_median(samples: Sequence[tuple[float, bool]]) -> tuple[float, bool]:
    """The median of (value, censored) samples, and whether it is only a lower bound.

    A censored sample is "at least this much"; its value is the cap, above every exact sample.
    """
    ordered = sorted(samples)
    n = len(ordered)
    middle = ordered[(n - 1) // 2 : n // 2 + 1]
    return median(value for value, _ in middle), any(censored for _, censored in middle)


# -- targets and how figures read ------------------------------------------------------------------

_GOALS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def target(
    name: str,
    measured: float | None,
    goal: str,
    limit: float,
    unit: str = "",
    *,
    lower_bound: bool = False,
) -> dict[str, Any]:
    """A target as results hold it: ``measured`` (None: not measured) against ``goal limit``.

    ``unit`` says how the figures read (see :func:`figure`); ``lower_bound``: the figure is
    only "at least this much".
    """
    passed = None if measured is None else _GOALS[goal](measured, limit)
    return {
        "target": name,
        "goal": goal,
        "limit": limit,
        "unit": unit,
        "measured": measured,
        "lower_bound": lower_bound,
        "passed": passed,
    }


def duration(ms: float, *, lower_bound: bool = False) -> str:
    """Milliseconds as text with three significant digits, in us, ms or s."""
    prefix = ">= " if lower_bound else ""
    if ms < 1:
        return f"{prefix}{ms * 1e3:.3g} us"
    if ms < 1000:
        return f"{prefix}{ms:.3g} ms"
    return f"{prefix}{ms / 1e3:.3g} s"


def ratio(value: float, *, lower_bound: bool = False) -> str:
    """A ratio as text: three significant digits, or a whole number from 100 on, and an x."""
    shown = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return f"{'>= ' if lower_bound else ''}{shown}x"


def figure(value: float, unit: str, *, lower_bound: bool = False, limit: bool = False) -> str:
    """A target's figure as text: ``ms`` a duration, ``x`` a ratio, ``%`` a share (a limit to
    whole percent); any other unit follows the number as it is."""
    if unit == "ms":
        return duration(value, lower_bound=lower_bound)
    if unit == "x":
        return ratio(value, lower_bound=lower_bound)
    prefix = ">= " if lower_bound else ""
    if unit == "%":
        return f"{prefix}{value:.0%}" if limit else f"{prefix}{value:.1%}"
    return f"{prefix}{value:g}{unit}" if limit else f"{prefix}{value:.3g}{unit}"


def measured_text(entry: Mapping[str, Any]) -> str:
    """A target's measured figure as text; "-" where it was not measured."""
    if entry["measured"] is None:
        return "-"
    measured, unit = entry["measured"], entry["unit"]
    text = figure(measured, unit, lower_bound=entry["lower_bound"])
    if unit == "x" and measured != entry["limit"] and text == figure(entry["limit"], unit):
        # Rounded to the limit's own text, a ratio would not say which side of the limit it is.
        text = f"{'>= ' if entry['lower_bound'] else ''}{measured:.4g}x"
    return text


def goal_text(entry: Mapping[str, Any]) -> str:
    """A target's goal as text: ``>= 10x``."""
    return f"{entry['goal']} {figure(entry['limit'], entry['unit'], limit=True)}"


def verdict(entry: Mapping[str, Any]) -> str:
    """How a target fared: PASS, FAIL or not measured."""
    return {True: "PASS", False: "FAIL", None: "not measured"}[entry["passed"]]


# -- the frame of a run: the machine, the arguments, the main function -----------------------------


def first_line(argv: list[str]) -> str | None:
    """The first line ``argv`` prints on stdout (or, where it succeeds, on stderr); None where it
    cannot run or prints no such line."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or (done.stderr if done.returncode == 0 else "")).strip().splitlines()
    return lines[0].strip() if lines else None


def _cpuinfo() -> dict[str, str]:
    """The fields /proc/cpuinfo gives for the first CPU."""
    fields: dict[str, str] = {}
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if not line.strip():
                break
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    return fields


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_info(threads: int) -> dict[str, Any]:
    """The machine, the build and the software a run measured on; ``threads``: the native
    threads of the services under test."""
    info = gilfree.build_info()
    cpu = _cpuinfo()
    model = cpu.get("model name") or cpu.get("Model") or cpu.get("cpu model")
    family, model_id = cpu.get("cpu family"), cpu.get("model")
    wrk = wrk_path()
    # "wrk 4.2.0 [epoll] Copyright (C) 2012 Will Glozer"
    wrk_version = first_line([wrk, "--version"]) if wrk else None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": model or platform.processor() or platform.machine(),
        "cpu_id": f"family {family} model {model_id}" if family and model_id else None,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": int(info["usable_cpus"]),
        "native_threads": threads,
        "simd_level": str(info["simd_level"]),
        "simd_features": list(info["simd"]),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "gilfree": str(info["version"]),
        "gilfree_compiler": str(info["compiler"]),
        "gilfree_build_type": str(info["build_type"]),
        "git_commit": first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]),
        "packages": {name: _version(name) for name in PACKAGES},
        "wrk": wrk_version.split(" Copyright")[0] if wrk_version else None,
    }


def start_run(
    mode: str,
    threads: int,
    what: str,
    logs: Path | None = None,
    *,
    quiet_cores: float = QUIET_CORES,
    wait_s: float = 0.0,
) -> float:
    """Empties ``logs`` (where given), says what runs, and returns the CPUs other processes kept
    busy over a second; while they keep more than ``quiet_cores`` busy it waits for them, up to
    ``wait_s``, then warns that they compete."""
    if logs is not None:
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True)
    progress(f"{mode} run on {threads} usable CPUs; {what}")
    deadline = time.monotonic() + wait_s
    while True:
        meter = LoadMeter()
        time.sleep(1.0)
        others = meter.others_cpus()
        if others <= quiet_cores:
            return others
        if time.monotonic() >= deadline:
            progress(
                f"warning: other processes kept {others:.2f} cores busy before the benchmark"
                " started: they compete with it, so its figures will be noisy"
            )
            return others
        progress(
            f"waiting for a quiet machine: other processes use {others:.2f} CPUs"
            f" (up to {deadline - time.monotonic():.0f}s more)",
            transient=True,
        )


def results_head(
    mode: str, plan: Mapping[str, Any], threads: int, busy_before: float
) -> dict[str, Any]:
    """The first entries of a run's results: the schema, the mode, the arguments, the machine
    and the plan."""
    return {
        "schema": 3,
        "mode": mode,
        "argv": sys.argv[1:],
        "machine": {**machine_info(threads), "cores_busy_before_start": busy_before},
        "plan": dict(plan),
    }


def bench_parser(
    prog: str, doc: str | None, *, quick: str, outputs: str
) -> argparse.ArgumentParser:
    """The arguments every benchmark takes: ``--quick``, ``--out`` and ``--require-targets``."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "bench" / "out",
        help=f"where {outputs} go (default bench/out)",
    )
    parser.add_argument(
        "--require-targets", action="store_true", help="exit with status 1 if a target fails"
    )
    return parser


def add_subset_option(parser: argparse.ArgumentParser, option: str, allowed: Sequence[str]) -> None:
    parser.add_argument(
        f"--{option}",
        default=",".join(allowed),
        help=f"comma-separated subset of {','.join(allowed)} (default: all)",
    )


def chosen_subset(
    parser: argparse.ArgumentParser, option: str, value: str, allowed: Sequence[str]
) -> list[str]:
    """The items of a comma-separated ``--option`` value, in the order of ``allowed``."""
    chosen = [item.strip() for item in value.split(",") if item.strip()]
    unknown = sorted(set(chosen) - set(allowed))
    if unknown or not chosen:
        parser.error(f"--{option}: choose from {', '.join(allowed)} (got {unknown or 'none'})")
    return [item for item in allowed if item in chosen]


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the children


def run_and_report(
    run: Callable[[Children], dict[str, Any]], out: Path, *, require_targets: bool = False
) -> int:
    """Runs a benchmark with its children stopped however it ends, writes its results as JSON
    to ``out`` and says how each target fared; the exit status (1 where a target failed and
    ``require_targets``)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    children = Children()
    try:
        results = run(children)
    except KeyboardInterrupt:
        progress("interrupted: every subprocess stopped, nothing written")
        return 130
    finally:
        children.stop_all()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for entry in results["targets"]:
        shown = f"{measured_text(entry)} ({goal_text(entry)})"
        progress(f"target: {entry['target']}: {shown}: {verdict(entry)}")
    progress(f"wrote {out} (`make bench-report` renders it into BENCHMARKS.md)")
    failed = any(entry["passed"] is False for entry in results["targets"])
    return 1 if failed and require_targets else 0
