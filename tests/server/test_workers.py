"""`gilfree serve --workers N`: the usable CPUs shared out among the processes, the host's limits
divided among them, and one /metrics for the whole service, whichever process answers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

import gilfree
from gilfree.cli import share_among_workers
from gilfree.metrics import WORKERS_METRIC
from gilfree.server.settings import Settings
from tests.server.live import serving

USABLE_CPUS = int(gilfree.build_info()["usable_cpus"])
BODY = {"numbers": list(range(40))}  # a worker's job (above the inline threshold)
KERNEL = "process_numbers_request"
METRICS_DEADLINE_S = 10.0


# -- the arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(("usable", "workers", "threads"), [(2, 2, 1), (16, 4, 4), (8, 3, 2)])
def test_threads_share_the_usable_cpus(usable: int, workers: int, threads: int) -> None:
    env = share_among_workers(workers, Settings(), usable)
    assert env["GILFREE_THREADS"] == str(threads)
    assert workers * threads <= usable


def test_every_worker_has_a_thread_when_cpus_are_fewer() -> None:
    assert share_among_workers(4, Settings(), 2)["GILFREE_THREADS"] == "1"


def test_threads_flag_and_setting_override_the_share() -> None:
    assert share_among_workers(2, Settings(), 16, threads=3)["GILFREE_THREADS"] == "3"
    assert share_among_workers(2, Settings(threads=5), 16)["GILFREE_THREADS"] == "5"


def test_host_limits_are_divided() -> None:
    settings = Settings(max_queued_cpu_s=90.0, max_connections=1000, buffer_cache_bytes=1 << 26)
    env = share_among_workers(3, settings, 6)
    assert float(env["GILFREE_MAX_QUEUED_CPU_S"]) == pytest.approx(30.0)
    assert env["GILFREE_MAX_CONNECTIONS"] == "333"
    assert env["GILFREE_BUFFER_CACHE_BYTES"] == str((1 << 26) // 3)
    # Unset, each process's default queue follows its own threads: the host's is the default.
    assert "GILFREE_MAX_QUEUED_CPU_S" not in share_among_workers(3, Settings(), 6)


# -- two real workers ----------------------------------------------------------------------------


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels text: value}`` of the samples called ``name`` in Prometheus text."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            found[key[len(name) :]] = float(value)
    return found


def _worker_pids(supervisor: int, metrics_dir: Path) -> list[int]:
    """The supervisor's children that serve the app (each publishes its metrics as PID.json)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    published = {path.stem for path in metrics_dir.glob("*.json")}
    return sorted(int(pid) for pid in children if pid in published)


def _native_threads(pid: int) -> int:
    tasks = Path(f"/proc/{pid}/task")
    return sum(
        1 for task in tasks.iterdir() if (task / "comm").read_text().strip() == "gilfree-worker"
    )


def _succeeded(snapshot: dict[str, object]) -> float:
    for family in snapshot["families"]:  # type: ignore[attr-defined]
        for name, labels, value in family["samples"]:
            if name == "gilfree_kernel_jobs_total" and labels == {
                "kernel": KERNEL,
                "outcome": "succeeded",
            }:
                return float(value)
    return 0.0


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_two_workers_share_cpus_and_metrics(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    with serving(
        tmp_path / "serve.log", args=["--workers", "2"], metrics_dir=str(metrics_dir)
    ) as s:
        deadline = time.monotonic() + METRICS_DEADLINE_S
        while len(_worker_pids(s.process.pid, metrics_dir)) < 2:
            assert time.monotonic() < deadline, s.output()
            time.sleep(0.1)
        pids = _worker_pids(s.process.pid, metrics_dir)
        threads = [_native_threads(pid) for pid in pids]
        assert threads == [max(1, USABLE_CPUS // 2)] * 2
        if USABLE_CPUS % 2 == 0:
            assert sum(threads) == USABLE_CPUS  # no oversubscription

        # Requests on connections of their own until each worker has done some jobs.
        sent = 0
        files = {pid: metrics_dir / f"{pid}.json" for pid in pids}
        while True:
            for _ in range(10):
                answer = httpx.post(f"{s.base_url}/process-numbers", json=BODY, timeout=10)
                assert answer.status_code == 200
                sent += 1
            time.sleep(1.2)  # a publication of each worker's samples
            done = {pid: _succeeded(json.loads(path.read_text())) for pid, path in files.items()}
            if all(done.values()) or sent >= 400:
                break
        assert all(done.values()), f"one worker took every connection: {done}"
        assert sum(done.values()) == sent

        # Whichever worker answers, /metrics counts every job of both.
        for _ in range(6):
            text = httpx.get(f"{s.base_url}/metrics", timeout=10).text
            jobs = _samples(text, "gilfree_kernel_jobs_total")
            assert jobs[f'{{kernel="{KERNEL}",outcome="succeeded"}}'] == sent
            assert _samples(text, WORKERS_METRIC) == {"": 2.0}
            assert _samples(text, "gilfree_executor_threads") == {"": float(sum(threads))}
        assert os.path.isdir(metrics_dir)
    assert "Traceback" not in s.output()
