"""Processes, servers, CPU sampling, wrk runs and timed requests for the HTTP benchmarks.

Everything here talks to 127.0.0.1 only. Every subprocess starts in its own process group and is
registered with a :class:`Children`, whose ``stop_all`` (called from a ``finally``) ends them all.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

import gilfree

__all__ = [
    "LOOPBACK",
    "REPO_ROOT",
    "Children",
    "Server",
    "ServiceSpec",
    "WrkSummary",
    "add_subset_option",
    "bench_parser",
    "chosen_subset",
    "cpu_rate",
    "first_line",
    "free_port",
    "gilfree_serve",
    "machine_cpu_seconds",
    "machine_info",
    "open_request",
    "parse_wrk_summary",
    "progress",
    "results_head",
    "run_and_report",
    "running_threads",
    "server_env",
    "start_run",
    "task_files",
    "timed_request",
    "uvicorn_factory",
    "wait_for_cpu",
    "wait_for_threads",
    "wrk_command",
    "wrk_path",
]

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
_SUMMARY_MARK = "BENCH_SUMMARY "
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_STARTED = time.monotonic()


def progress(message: str, stream: TextIO = sys.stderr) -> None:
    """One line of progress on stderr, stamped with the seconds since the benchmark started."""
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=stream, flush=True)


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wrk_path() -> str | None:
    return shutil.which("wrk")


class Children:
    """The subprocesses of one benchmark run, each the leader of its own process group."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: dict[str, str] | None = None,
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
        """Kills the service (work in flight included) and starts a fresh one."""
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.spec.label} is not running")
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process, all its threads together."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            text = stat.read()
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = text[text.rindex(")") + 2 :].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / _CLOCK_TICKS


def machine_cpu_seconds() -> float:
    """CPU time spent busy by the whole machine, every process and core (from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()
    # user nice system idle iowait irq softirq steal: all but idle and iowait are busy
    busy = sum(int(fields[i]) for i in (1, 2, 3, 6, 7, 8))
    return busy / _CLOCK_TICKS


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

    With ``connection`` (already connected), the connection set-up is not part of the time.
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


def open_request(port: int, method: str, target: str, body: bytes) -> socket.socket:
    """Sends a whole request and leaves its answer unread; closing the socket abandons it."""
    sock = socket.create_connection((LOOPBACK, port))
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode("ascii") + body)
    return sock


@dataclass(frozen=True)
class WrkSummary:
    """What wrk's ``done`` hook (bench/wrk.lua) reported, latencies in microseconds."""

    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "duration_s": self.duration_s,
            "errors": self.errors,
            "latency_us": self.latency_us,
        }


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


# -- the frame of a benchmark run: the machine, the arguments, the main function ------------------


def first_line(argv: list[str]) -> str | None:
    """The first line ``argv`` prints (stdout, else stderr), or None where it cannot run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else None


def _wrk_version(wrk: str) -> str | None:
    line = first_line([wrk, "--version"])  # "wrk 4.2.0 [epoll] Copyright (C) 2012 Will Glozer"
    return line.split(" Copyright")[0] if line else None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                name, _, value = line.partition(":")
                if name.strip() in ("model name", "Model", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads: int) -> dict[str, Any]:
    info = gilfree.build_info()
    packages: dict[str, str | None] = {}
    for name in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "anyio"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    wrk = wrk_path()
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "usable_cpus": info["usable_cpus"],
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "os_cpus": os.cpu_count(),
        "native_threads": threads,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "gilfree": gilfree.__version__,
        "gilfree_build": {key: info[key] for key in ("compiler", "build_type", "simd")},
        "git_commit": first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]),
        "packages": packages,
        "wrk": _wrk_version(wrk) if wrk else None,
    }


def start_run(mode: str, threads: int, what: str, logs: Path, *, quiet_cores: float) -> float:
    """Empties ``logs``, says what runs, and returns the cores the machine kept busy over the
    second before (with a warning above ``quiet_cores``: other processes compete)."""
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    progress(f"{mode} run on {threads} usable CPUs; {what}")
    machine0, wall0 = machine_cpu_seconds(), time.monotonic()
    time.sleep(1.0)
    busy_before = (machine_cpu_seconds() - machine0) / (time.monotonic() - wall0)
    if busy_before > quiet_cores:
        progress(
            f"warning: {busy_before:.2f} cores were busy before the benchmark started: other"
            " processes compete with it, so its figures will be noisy"
        )
    return busy_before


def results_head(
    mode: str, plan: dict[str, Any], threads: int, busy_before: float
) -> dict[str, Any]:
    """The first entries of a run's results: the schema, the mode, the machine and the plan."""
    return {
        "schema": 1,
        "mode": mode,
        "machine": {**machine_info(threads), "cores_busy_before_start": busy_before},
        "plan": plan,
    }


def bench_parser(
    prog: str, doc: str | None, *, quick: str, outputs: str
) -> argparse.ArgumentParser:
    """The arguments every HTTP benchmark takes: ``--quick`` and ``--out``."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "bench" / "out",
        help=f"where {outputs} go (default bench/out)",
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
    run: Callable[[Children], dict[str, Any]],
    write: Callable[[dict[str, Any]], list[Path]],
    *,
    unit_sep: str,
) -> int:
    """Runs a benchmark with its children stopped however it ends, writes its results and says
    how each target fared (``unit_sep`` between a figure and its unit); the exit status."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    children = Children()
    try:
        results = run(children)
    except KeyboardInterrupt:
        progress("interrupted: every subprocess stopped, nothing written")
        return 130
    finally:
        children.stop_all()
    paths = write(results)
    for target in results["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "not measured"}[target["passed"]]
        measured = target["measured"]
        shown = "-" if measured is None else f"{measured:.3g}{unit_sep}{target['unit']}"
        goal = target.get("goal", "<=")
        progress(f"target: {target['target']}: {shown} ({goal} {target['limit']:g}): {verdict}")
    for path in paths:
        progress(f"wrote {path}")
    return 0
