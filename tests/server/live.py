"""A real `gilfree serve` process for tests that need one (uvicorn, uvloop, httptools)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

__all__ = ["STARTUP_DEADLINE_S", "Server", "free_port", "serving", "wait_until_healthy"]

STARTUP_DEADLINE_S = 30.0
SHUTDOWN_DEADLINE_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server process of a test, its output in ``log``."""

    shutdown_deadline_s = SHUTDOWN_DEADLINE_S  # for each of the two waits of stop()

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM to the process alone, then a bounded wait, then SIGKILL; returns the exit
        status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.shutdown_deadline_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=self.shutdown_deadline_s)
        return self.process.returncode


def wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], output: Callable[[], str]
) -> None:
    """Returns once ``base_url``/healthz answers 200; fails the test, showing ``output()``, if
    ``process`` exits first or STARTUP_DEADLINE_S pass."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{output()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no healthy server after {STARTUP_DEADLINE_S} s:\n{output()}")
        time.sleep(0.1)


@contextmanager
def serving(
    log: Path,
    *,
    args: Sequence[str] = (),
    preexec_fn: Callable[[], None] | None = None,
    **settings: str,
) -> Iterator[Server]:
    """``gilfree serve`` on a free port with ``GILFREE_<NAME>`` set from ``settings`` (and no
    other GILFREE_ variable), its output in ``log``; healthy when yielded, stopped after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GILFREE_")}
    env.update({f"GILFREE_{name.upper()}": value for name, value in settings.items()})
    command = [sys.executable, "-m", "gilfree.cli", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=preexec_fn,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(server.base_url, process, server.output)
        yield server
    finally:
        server.stop()
