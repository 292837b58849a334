"""gilfree.metrics: the shared view of a service's processes (SharedMetrics, merge_families)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge

from gilfree.metrics import WORKERS_METRIC, RuntimeMetrics, SharedMetrics, merge_families


def _snapshot(pid: int, live: bool, jobs: float, busy: float, correction: float) -> dict:
    return {
        "pid": pid,
        "live": live,
        "families": [
            {
                "name": "jobs",
                "type": "counter",
                "documentation": "jobs",
                "unit": "",
                "samples": [["jobs_total", {"k": "a"}, jobs], ["jobs_created", {"k": "a"}, pid]],
            },
            {
                "name": "busy",
                "type": "gauge",
                "documentation": "busy",
                "unit": "",
                "samples": [["busy", {}, busy]],
            },
            {
                "name": "gilfree_kernel_cost_correction",
                "type": "gauge",
                "documentation": "c",
                "unit": "",
                "samples": [["gilfree_kernel_cost_correction", {"kernel": "k"}, correction]],
            },
        ],
    }


def _values(families: list) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def test_counters_of_every_process_gauges_of_the_live_ones() -> None:
    merged = _values(
        merge_families(
            [
                _snapshot(100, True, 3, 1, 1.0),
                _snapshot(200, True, 4, 2, 3.0),
                _snapshot(300, False, 5, 7, 9.0),  # stopped: its jobs stay, its gauges go
            ]
        )
    )
    assert merged[("jobs_total", (("k", "a"),))] == 12
    assert merged[("jobs_created", (("k", "a"),))] == 100  # the earliest
    assert merged[("busy", ())] == 3
    assert merged[("gilfree_kernel_cost_correction", (("kernel", "k"),))] == 2.0  # the mean
    assert merged[(WORKERS_METRIC, ())] == 2


def test_a_process_whose_pid_is_gone_counts_as_stopped(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(gone.stdout)
    (tmp_path / f"{pid}.json").write_text(json.dumps(_snapshot(pid, True, 5, 7, 1.0)))
    (tmp_path / "junk.json").write_text("not json")  # skipped
    registry = CollectorRegistry()
    Counter("jobs", "jobs", ["k"], registry=registry).labels("a").inc(2)
    Gauge("busy", "busy", registry=registry).set(1)
    shared = SharedMetrics(registry, tmp_path)
    text = shared.exposition().decode()
    assert (tmp_path / f"{os.getpid()}.json").is_file()  # published on the way
    assert 'jobs_total{k="a"} 7.0' in text
    assert "\nbusy 1.0\n" in text  # the dead process's gauge left out
    assert f"{WORKERS_METRIC} 1.0" in text


def test_one_process_alone_serves_its_own_registry() -> None:
    metrics = RuntimeMetrics()
    assert metrics.shared is None
    assert b"gilfree_jobs_submitted_total" in metrics.exposition()
    assert WORKERS_METRIC.encode() not in metrics.exposition()
