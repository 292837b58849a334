"""Prometheus metrics of the native runtime: job counters, gauges, queue-wait and run histograms,
every kernel's jobs and estimated against measured CPU time, the jobs of every route, and the wire
path's buffer cache."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import gilfree
from gilfree import aio, kernel_stats, wire
from gilfree.kernel import OUTCOMES

__all__ = ["RuntimeMetrics"]

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
    """A registry of its own per app (so that several apps in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
