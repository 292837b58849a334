"""Prometheus metrics of the native runtime: job counters, gauges, queue-wait and run histograms,
every kernel's jobs and estimated against measured CPU time, the jobs of every route, and the wire
path's buffer cache.

The processes of one service (``gilfree serve --workers N``) share a directory
(``metrics_dir``): each publishes its own samples there, and ``/metrics``, whichever process
answers, sums them into one view of the whole service.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import gilfree
from gilfree import aio, kernel_stats, wire
from gilfree.kernel import OUTCOMES

__all__ = ["PUBLISH_EVERY_S", "RuntimeMetrics", "SharedMetrics"]

# Seconds: from 10 us (a trivial job) to a minute (the default deadline).
_BUCKETS = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)

_COUNTERS = {
    "submitted": "Native jobs admitted to the executor's workers.",
    "inline_runs": "Native jobs run at once on the calling thread (estimated at a few us).",
    "succeeded": "Native jobs that ran every chunk (on the workers or inline).",
    "failed": "Native jobs whose work raised an error.",
    "cancelled": "Native jobs cancelled before they finished (client gone, task cancelled).",
    "rejected": "Native jobs refused at submission (queued work full, or shutting down).",
    "deadline_exceeded": "Native jobs stopped because their deadline passed.",
}
_GAUGES = {
    "threads": "Native worker threads.",
    "busy_workers": "Native workers running a chunk right now.",
    "active_jobs": "Native jobs admitted and not finished.",
    "queued_cpu_s": "Estimated CPU seconds of the jobs admitted and not finished.",
    "max_queued_cpu_s": "Admission limit on queued CPU seconds (max_queued_cpu_s).",
}
# Prometheus names gauges of seconds so.
_GAUGE_NAMES = {"queued_cpu_s": "queued_cpu_seconds", "max_queued_cpu_s": "max_queued_cpu_seconds"}


def _families(
    prefix: str,
    stats: dict[str, int] | dict[str, int | float],
    counters: dict[str, str],
    gauges: dict[str, str],
) -> Iterator[Metric]:
    for name, doc in counters.items():
        counter = CounterMetricFamily(f"{prefix}_{name}", doc)
        counter.add_metric([], stats[name])
        yield counter
    for name, doc in gauges.items():
        gauge = GaugeMetricFamily(f"{prefix}_{_GAUGE_NAMES.get(name, name)}", doc)
        gauge.add_metric([], stats[name])
        yield gauge


class _ExecutorCollector(Collector):
    """Reads the executor's own counters at scrape time: they are kept natively, lock-free for
    the workers, so the scrape costs one call."""

    def collect(self) -> Iterator[Metric]:
        stats = gilfree.executor_stats()
        yield from _families("gilfree_jobs", stats, _COUNTERS, {})
        yield from _families("gilfree_executor", stats, {}, _GAUGES)


_KERNEL_SECONDS = {
    "declared_cpu_s": (
        "gilfree_kernel_declared_cpu_seconds",
        "CPU seconds of a kernel's finished jobs as the kernel declared them.",
    ),
    "estimated_cpu_s": (
        "gilfree_kernel_estimated_cpu_seconds",
        "CPU seconds of a kernel's finished jobs as admission estimated them (declared x the"
        " kernel's correction when each was admitted).",
    ),
    "measured_cpu_s": (
        "gilfree_kernel_cpu_seconds",
        "CPU seconds a kernel's finished jobs used, measured on the threads that ran them.",
    ),
}


class _KernelCollector(Collector):
    """Every kernel of the process (gilfree's and every kernel module's), by name: its jobs by
    outcome, and its estimated against measured CPU time."""

    def collect(self) -> Iterator[Metric]:
        kernels = kernel_stats()
        jobs = CounterMetricFamily(
            "gilfree_kernel_jobs",
            "Jobs of a kernel by outcome: submitted to the workers, run inline, rejected, and"
            " how those that finished ended.",
            labels=["kernel", "outcome"],
        )
        seconds = {
            key: CounterMetricFamily(name, doc, labels=["kernel"])
            for key, (name, doc) in _KERNEL_SECONDS.items()
        }
        correction = GaugeMetricFamily(
            "gilfree_kernel_cost_correction",
            "Measured over declared CPU time of a kernel's recent jobs: the factor admission"
            " applies to its declarations (1 until a job has finished).",
            labels=["kernel"],
        )
        for name, stats in kernels.items():
            for outcome in OUTCOMES:
                jobs.add_metric([name, outcome], stats[outcome])
            for key, family in seconds.items():
                family.add_metric([name], stats[key])
            correction.add_metric([name], stats["correction"])
        yield jobs
        yield from seconds.values()
        yield correction


_CACHE_COUNTERS = {
    "reused": "Large request and answer buffers served from the buffer cache.",
    "allocated": "Large request and answer buffers the buffer cache had to allocate.",
}
_CACHE_GAUGES = {
    "retained_bytes": "Bytes of buffers the buffer cache keeps for reuse.",
    "max_retained_bytes": "Limit on the bytes the buffer cache keeps (buffer_cache_bytes).",
}


class _BufferCacheCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        stats = wire.buffer_cache_stats()
        yield from _families("gilfree_buffer_cache", stats, _CACHE_COUNTERS, _CACHE_GAUGES)


class RuntimeMetrics:
    """A registry of its own per app (so that several apps in one process do not collide).

    With ``shared_dir``, the process is one of a service's several: ``exposition()`` is the sum of
    every process's samples there (see ``SharedMetrics``)."""

    def __init__(self, shared_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.shared = SharedMetrics(self.registry, shared_dir) if shared_dir is not None else None
        self.registry.register(_ExecutorCollector())
        self.registry.register(_KernelCollector())
        self.registry.register(_BufferCacheCollector())
        self.queue_wait = Histogram(
            "gilfree_job_queue_wait_seconds",
            "Seconds from a job's admission to its first chunk.",
            ["kernel", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.run_time = Histogram(
            "gilfree_job_run_seconds",
            "Seconds from a job's first chunk to its finish.",
            ["kernel", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.route_jobs = Histogram(
            "gilfree_route_job_seconds",
            "Seconds a route waited for a kernel's job (submission to answer), by how it ended:"
            " a job status, or 'disconnected' when the client left first.",
            ["route", "kernel", "outcome"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

        # The histograms' children by label values: labels() costs more than observe() itself.
        self._job_children: dict[tuple[str, str], tuple[Histogram, Histogram]] = {}
        self._route_children: dict[tuple[str, str, str], Histogram] = {}

    def observe(self, kernel: str, status: str, queue_wait_s: float, run_s: float) -> None:
        children = self._job_children.get((kernel, status))
        if children is None:
            children = self._job_children[(kernel, status)] = (
                self.queue_wait.labels(kernel, status),
                self.run_time.labels(kernel, status),
            )
        children[0].observe(queue_wait_s)
        children[1].observe(run_s)

    def observe_route(self, route: str, kernel: str, outcome: str, seconds: float) -> None:
        key = (route, kernel, outcome)
        child = self._route_children.get(key)
        if child is None:
            child = self._route_children[key] = self.route_jobs.labels(route, kernel, outcome)
        child.observe(seconds)

    def start(self) -> None:
        aio.add_observer(self.observe)

    def stop(self) -> None:
        aio.remove_observer(self.observe)

    def exposition(self) -> bytes:
        """Prometheus text: this process's metrics, or the whole service's when shared."""
        if self.shared is None:
            return generate_latest(self.registry)
        return self.shared.exposition()


# Seconds between two publications of a process's samples to the shared directory: how old, at
# most, the other processes' part of a scrape is.
PUBLISH_EVERY_S = 1.0
# Gauges that do not add up across processes: the service's value is their mean.
_MEAN_GAUGES = frozenset({"gilfree_kernel_cost_correction"})
WORKERS_METRIC = "gilfree_metrics_processes"


class SharedMetrics:
    """One process's part of a service's metrics, in a directory the service's processes share.

    Each process writes its samples to ``<dir>/<pid>.json`` (``publish``, every
    ``PUBLISH_EVERY_S`` and at each scrape it answers, atomically by rename). ``exposition`` adds
    up every file's samples: counters and histograms of every process that ever ran (so totals
    never go back when a worker exits), gauges of the live ones only (a process that stopped
    cleanly marks its file so; one whose PID is gone counts as stopped); ``_created`` samples
    take the earliest, a kernel's cost correction the mean. ``gilfree_metrics_processes`` says
    how many live processes the view covers.
    """

    def __init__(self, registry: CollectorRegistry, directory: Path) -> None:
        self.registry = registry
        self.directory = directory
        self.path = directory / f"{os.getpid()}.json"

    def publish(self, *, live: bool = True) -> None:
        families = [
            {
                "name": family.name,
                "type": family.type,
                "documentation": family.documentation,
                "unit": family.unit,
                "samples": [[s.name, s.labels, s.value] for s in family.samples],
            }
            for family in self.registry.collect()
        ]
        text = json.dumps({"pid": os.getpid(), "live": live, "families": families})
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def snapshots(self) -> list[dict[str, Any]]:
        """Every process's last publication; ``live`` false for those that have stopped."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                snapshot = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # removed, or not ours: skipped
            if not isinstance(snapshot, dict) or not isinstance(snapshot.get("families"), list):
                continue
            snapshot["live"] = bool(snapshot.get("live")) and _running(snapshot.get("pid"))
            found.append(snapshot)
        return found

    def exposition(self) -> bytes:
        self.publish()
        snapshots = self.snapshots()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Merged(snapshots))
        return generate_latest(registry)


def _running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class _Merged(Collector):
    def __init__(self, snapshots: list[dict[str, Any]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        yield from merge_families(self.snapshots)


def merge_families(snapshots: Iterable[dict[str, Any]]) -> list[Metric]:
    """The service's families from its processes' snapshots (see ``SharedMetrics``)."""
    families: dict[str, Metric] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]] = {}
    live = 0
    for snapshot in snapshots:
        alive = bool(snapshot["live"])
        live += alive
        for raw in snapshot["families"]:
            name, kind = raw["name"], raw["type"]
            if kind == "gauge" and not alive:
                continue
            if name not in families:
                families[name] = Metric(name, raw["documentation"], kind, raw.get("unit", ""))
                sums[name] = {}
            for sample_name, labels, value in raw["samples"]:
                key = (sample_name, tuple(sorted(labels.items())))
                sums[name].setdefault(key, []).append(float(value))
    merged = []
    for name, family in families.items():
        for (sample_name, labels), values in sums[name].items():
            if sample_name.endswith("_created"):
                value = min(values)
            elif name in _MEAN_GAUGES:
                value = sum(values) / len(values)
            else:
                value = sum(values)
            family.add_sample(sample_name, dict(labels), value)
        merged.append(family)
    processes = Metric(WORKERS_METRIC, "Live processes of the service this view sums.", "gauge")
    processes.add_sample(WORKERS_METRIC, {}, float(live))
    merged.append(processes)
    return merged
