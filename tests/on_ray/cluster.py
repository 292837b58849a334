"""Helpers of the Ray tests: a real `gilfree serve --ray` process, the processes a Ray cluster
runs (read from /proc, by PID and start time), and work of a given length."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import numpy as np
import pytest

import gilfree
from tests.server.live import Server, free_port

__all__ = [
    "RayServer",
    "alive",
    "descendants",
    "free_port",
    "iterations_for",
    "replica_pid",
    "serving_on_ray",
]

STARTUP_DEADLINE_S = 150.0
SHUTDOWN_DEADLINE_S = 60.0
# A process: its PID and its start time (clock ticks since boot), so a reused PID is not it.
Process = tuple[int, int]


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent PID, state, start time) of ``pid``, None where it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def descendants(root: int) -> set[Process]:
    """Every live process below ``root`` (Ray's head processes are its children, its workers
    the raylet's)."""
    parents: dict[int, int] = {}
    started: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)], _, started[int(entry.name)] = stat
    found: set[Process] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update((pid, started[pid]) for pid in children)
        frontier.extend(children)
    return found


def process_of(pid: int) -> Process:
    stat = _stat(pid)
    assert stat is not None, f"no process {pid}"
    return pid, stat[2]


def alive(processes: set[Process]) -> set[Process]:
    """Those of ``processes`` still running (a zombie has ended; a reused PID is another)."""
    still = set()
    for pid, start in processes:
        stat = _stat(pid)
        if stat is not None and stat[2] == start and stat[1] not in ("Z", "X"):
            still.add((pid, start))
    return still


def replica_pid(response: httpx.Response) -> int:
    """The PID named in an answer's X-Gilfree-Replica header (``pid=...; node=...; ...``)."""
    fields = dict(
        part.strip().split("=", 1) for part in response.headers["x-gilfree-replica"].split(";")
    )
    return int(fields["pid"])


_SECONDS_PER_ITERATION: dict[int, float] = {}


def iterations_for(seconds: float, numbers: int = 4096) -> int:
    """Iterations of ``numbers`` numbers that take one native thread about ``seconds`` here."""
    if numbers not in _SECONDS_PER_ITERATION:
        values = np.arange(numbers, dtype=np.int64)
        gilfree.configure(1)
        try:
            gilfree.process_numbers(values, 1000)  # warm
            started = time.perf_counter()
            gilfree.process_numbers(values, 200_000)
            _SECONDS_PER_ITERATION[numbers] = (time.perf_counter() - started) / 200_000
        finally:
            gilfree.configure(None)
    return max(1, int(seconds / _SECONDS_PER_ITERATION[numbers]))


class RayServer(Server):
    """``gilfree serve --ray``: stopped as any test server (its Serve and Ray with it, more
    slowly), and every Ray process seen under it must end with it."""

    shutdown_deadline_s = SHUTDOWN_DEADLINE_S

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        super().__init__(process, base_url, log)
        # Every Ray process seen under it, and every replica that answered.
        self.seen: set[Process] = set()

    def observe(self) -> None:
        self.seen |= descendants(self.process.pid)

    def kill_everything(self) -> None:
        """After a failed test: nothing of the cluster outlives it."""
        for pid, _ in alive(self.seen | descendants(self.process.pid)):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=SHUTDOWN_DEADLINE_S)


def ray_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GILFREE_", "RAY_ADDRESS"))}
    env.update({f"GILFREE_{name.upper()}": value for name, value in settings.items()})
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


@contextmanager
def serving_on_ray(log: Path, *, args: Sequence[str] = (), **settings: str) -> Iterator[RayServer]:
    """``gilfree serve --ray --address local`` on a free port, with ``GILFREE_<NAME>`` set from
    ``settings``, its output in ``log``; serving when yielded, and afterwards stopped, every
    process of its cluster killed should any remain."""
    port = free_port()
    command = [sys.executable, "-m", "gilfree.cli", "serve", "--ray", "--address", "local"]
    command += ["--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=ray_env(**settings),
            start_new_session=True,  # its own process group: signals reach it alone
        )
    server = RayServer(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while "serving on http://" not in server.output():
            if process.poll() is not None:
                pytest.fail(
                    f"gilfree serve --ray exited with {process.returncode}:\n{server.output()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"not serving after {STARTUP_DEADLINE_S} s:\n{server.output()}")
            time.sleep(0.2)
        server.observe()
        yield server
    finally:
        server.stop()
        server.kill_everything()
