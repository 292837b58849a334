"""Runtime benchmark: gilfree's service and asyncio integration against the usual ways, one run.

Measures, on this machine and in one run (see ``--help``):

1. ``GET /healthz`` latency (p50/p99, wrk) while every core runs large ``POST /process-numbers``
   jobs, for gilfree's service and two peers (bench/peers): the kernel through
   ``run_in_threadpool``, and the kernel called directly inside ``async def``;
2. the latency of a 100-number request sent while a 1,000,000 x 10,000 job runs, per service;
3. the per-call cost of an awaited trivial native job against ``run_in_threadpool`` (in process),
   for gilfree's own kernel and the same kernel of a separately built module (kernelpkg, the test
   package of the public kernel API), on the pool and run at once;
4. how soon a cancelled native job frees its cores (in process);
5. how fast admission's estimate of a kernel whose declared cost is ten times off (kernelpkg's
   entropy declared at a tenth and at ten times) comes to its measured cost (in process).

Writes runtime.json into ``--out`` (default bench/out); ``make bench-report`` renders it. Run it
from the repository root as ``python -m bench.runtime_bench``; ``--quick`` is short.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import select
import sys
import tempfile
import time
from array import array
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import kernelpkg
import uvloop
from starlette.concurrency import run_in_threadpool

import gilfree
from bench import harness
from bench.harness import (
    Children,
    Server,
    ServiceSpec,
    censored_median,
    machine_cpu_seconds,
    median,
    numbers_body,
    open_request,
    progress,
    target,
    timed_request,
    wait_for_cpu,
    wait_for_threads,
)
from gilfree.server.settings import Settings

PHASES = ("overhead", "estimates", "cancel", "healthz", "small")
SERVICE_KEYS = ("gilfree", "threadpool", "blocking")
# Under load, a server counts as busy when it keeps this share of its native threads' cores busy.
BUSY_SHARE = 0.75
# How long to wait for the load to make a server busy before measuring anyway (with a warning).
BUSY_TIMEOUT_S = 10.0
WARM_UP_ITERATIONS = 100_000
MIN_TRIES = 3
# Polls (1 ms apart) in a row with no server thread running that count as "cores freed".
FREED_HOLD_POLLS = 5
# gilfree's default cap on iterations; raised for the services where the load needs more.
MAX_ITERATIONS: int = Settings.model_fields["max_iterations"].default
# Between two looks at the executor's counters while timing a cancellation.
CANCEL_POLL_S = 100e-6
# The shortest uncancelled duration of the job whose cancellation is timed.
MIN_CANCEL_JOB_S = 0.2


@dataclass(frozen=True)
class Plan:
    """Sizes and repeat counts of one run; ``QUICK`` and ``FULL`` are the two presets."""

    mode: str
    healthz_seconds: float
    # Tries per service; past small_budget_s of them, no more than MIN_TRIES.
    small_tries: int
    small_budget_s: float
    # How long a small request may wait behind the huge job before it counts as "at least this".
    small_patience_s: float
    overhead_calls: int
    overhead_repeats: int
    estimate_jobs: int
    cancel_tries: int
    cancel_peer_tries: int
    load_numbers: int = 200_000
    # None: chosen so that one load request's kernel would last about load_wall_ms on all the
    # usable CPUs (load_wall_ms x CPUs of one core: 200 ms on 2 CPUs), so that N connections
    # keep N CPUs busy while the event loop still has time for their JSON.
    load_iterations: int | None = None
    load_wall_ms: float = 100.0
    huge_numbers: int = 1_000_000
    huge_iterations: int = 10_000
    small_numbers: int = 100
    small_iterations: int = 1000
    # Cancellation: both ways are compared on a job of cancel_numbers with as many iterations as
    # make it last about compare_job_s on every worker (the threadpool runs it to the end).
    cancel_numbers: int = 1_000_000
    compare_job_s: float = 0.5


QUICK = Plan(
    mode="quick",
    healthz_seconds=5,
    small_tries=5,
    small_budget_s=20,
    small_patience_s=5,
    overhead_calls=2000,
    overhead_repeats=5,
    estimate_jobs=5,
    cancel_tries=9,
    cancel_peer_tries=3,
)
FULL = Plan(
    mode="full",
    healthz_seconds=15,
    small_tries=11,
    small_budget_s=60,
    small_patience_s=30,
    overhead_calls=5000,
    overhead_repeats=11,
    estimate_jobs=10,
    cancel_tries=21,
    cancel_peer_tries=5,
)


@dataclass
class Run:
    """What the phases of one run share."""

    plan: Plan
    children: Children
    logs: Path
    threads: int
    connections: int
    load_iterations: int
    load_body_file: Path
    huge_body: bytes
    small_body: bytes

    @property
    def load_target(self) -> str:
        return f"/process-numbers?iterations={self.load_iterations}"

    @property
    def huge_target(self) -> str:
        return f"/process-numbers?iterations={self.plan.huge_iterations}"

    @property
    def small_target(self) -> str:
        return f"/process-numbers?iterations={self.plan.small_iterations}"

    def busy(self, cores: float) -> bool:
        return cores >= BUSY_SHARE * self.threads

    def computing(self, running: int) -> bool:
        """Every native worker is running (threads in state R): the kernel is at work."""
        return running >= self.threads

    @staticmethod
    def quiet(running: int) -> bool:
        return running == 0


def service_specs(threads: int) -> dict[str, ServiceSpec]:
    specs = [
        ServiceSpec(
            "gilfree",
            "gilfree",
            "gilfree's service: `gilfree serve` (uvicorn, uvloop, httptools)",
            harness.gilfree_serve(threads),
        ),
        ServiceSpec(
            "threadpool",
            "run_in_threadpool",
            "the same endpoints calling `gilfree.process_numbers` through `run_in_threadpool`"
            " (bench/peers/threadpool.py)",
            harness.uvicorn_factory("bench.peers.threadpool:create_app"),
        ),
        ServiceSpec(
            "blocking",
            "blocking async def",
            "the same endpoints calling `gilfree.process_numbers` directly inside `async def`,"
            " blocking the event loop (bench/peers/blocking.py)",
            harness.uvicorn_factory("bench.peers.blocking:create_app"),
        ),
    ]
    return {spec.key: spec for spec in specs}


def limits(run: Run) -> dict[str, str]:
    """gilfree's limits raised for the run's requests (the peers read the iterations' too); the
    queue's default (30 CPU seconds a native thread) holds many of them."""
    plan = run.plan
    work = max(plan.huge_numbers * plan.huge_iterations, plan.load_numbers * run.load_iterations)
    iterations = max(MAX_ITERATIONS, WARM_UP_ITERATIONS, run.load_iterations)
    return {"GILFREE_MAX_ITERATIONS": str(iterations), "GILFREE_MAX_WORK": str(max(10**10, work))}


# -- phase: per-call overhead, in process --------------------------------------------------------

AwaitableCall = Callable[[], Awaitable[object]]


# Each way of awaiting a trivial call: (the awaited call, whether jobs may run at once).
OverheadWay = tuple[AwaitableCall, bool]


def _overhead_variants() -> dict[str, list[dict[str, OverheadWay]]]:
    """Per call, groups of ways to compare: the ways of a group take turns call by call."""
    one = [1]
    builtin, separate = gilfree._kernels.sum_squares, kernelpkg.sum_squares
    return {
        "sum_squares(1, 2)": [
            {
                "gilfree_job": (lambda: gilfree.aio.run(builtin, 1, 2), False),
                "kernelpkg_job": (lambda: gilfree.aio.run(separate, 1, 2), False),
            },
            {
                "gilfree_inline": (lambda: gilfree.aio.run(builtin, 1, 2), True),
                "kernelpkg_inline": (lambda: gilfree.aio.run(separate, 1, 2), True),
            },
            {"threadpool": (lambda: run_in_threadpool(gilfree.sum_squares, 1, 2), True)},
        ],
        "process_numbers([1], 1)": [
            {
                "gilfree_job": (lambda: gilfree.aio.process_numbers(one, 1), False),
                "gilfree_inline": (lambda: gilfree.aio.process_numbers(one, 1), True),
            },
            {"threadpool": (lambda: run_in_threadpool(gilfree.process_numbers, one, 1), True)},
        ],
    }


async def _interleaved(ways: dict[str, OverheadWay], calls: int) -> dict[str, float]:
    """Seconds per call of each way of a group, the ways taking turns call by call: the wake-up
    latencies that dominate a job's round trip (a worker's, the loop's) drift with what the
    machine does, and every way of a group sees the same drift. The order of a turn reverses
    every other turn: a call right after another finds the threads that one woke still awake."""
    totals = dict.fromkeys(ways, 0)
    inline = int(gilfree._api.DEFAULT_INLINE_MAX_S * 1e9)
    orders = (list(ways.items()), list(reversed(ways.items())))
    try:
        for turn in range(calls):
            for key, (call, may_run_inline) in orders[turn % 2]:
                gilfree._core.set_inline_max_s(inline * 1e-9 if may_run_inline else 0.0)
                start = time.perf_counter_ns()
                await call()
                totals[key] += time.perf_counter_ns() - start
    finally:
        gilfree._core.set_inline_max_s(gilfree._api.DEFAULT_INLINE_MAX_S)
    return {key: total * 1e-9 / calls for key, total in totals.items()}


async def _call_overhead(plan: Plan) -> dict[str, Any]:
    variants = _overhead_variants()
    samples: dict[str, dict[str, list[float]]] = {
        name: {way: [] for group in groups for way in group} for name, groups in variants.items()
    }
    for groups in variants.values():
        for group in groups:
            await _interleaved(group, 200)  # warm-up: threads started, caches filled
    for repeat in range(plan.overhead_repeats):
        progress(f"overhead: repeat {repeat + 1}/{plan.overhead_repeats}")
        for name, groups in variants.items():
            for group in groups:
                for key, seconds in (await _interleaved(group, plan.overhead_calls)).items():
                    samples[name][key].append(seconds)
    direct_start = time.perf_counter()
    for _ in range(plan.overhead_calls):
        gilfree.sum_squares(1, 2)
    direct_s = (time.perf_counter() - direct_start) / plan.overhead_calls
    results: dict[str, Any] = {}
    for name, timings in samples.items():
        us = {key: median(values) * 1e6 for key, values in timings.items()}
        entry: dict[str, Any] = {
            "us": us,
            "samples_us": {key: [s * 1e6 for s in values] for key, values in timings.items()},
            "job_over_threadpool": us["gilfree_job"] / us["threadpool"],
            "inline_over_threadpool": us["gilfree_inline"] / us["threadpool"],
        }
        if "kernelpkg_job" in us:
            entry["kernelpkg_over_builtin_job"] = us["kernelpkg_job"] / us["gilfree_job"]
            entry["kernelpkg_over_builtin_inline"] = us["kernelpkg_inline"] / us["gilfree_inline"]
            entry["kernelpkg_job_over_threadpool"] = us["kernelpkg_job"] / us["threadpool"]
        results[name] = entry
    return {
        "calls_per_repeat": plan.overhead_calls,
        "repeats": plan.overhead_repeats,
        "loop": f"uvloop {metadata.version('uvloop')}",
        "inline_max_us": gilfree._api.DEFAULT_INLINE_MAX_S * 1e6,
        "kernelpkg_compiler": kernelpkg.compiler(),
        "direct_sum_squares_us": direct_s * 1e6,
        "calls": results,
    }


def measure_call_overhead(plan: Plan, threads: int) -> dict[str, Any]:
    gilfree.configure(threads=threads)
    return uvloop.run(_call_overhead(plan))


# -- phase: estimates of a kernel declared ten times off, in process ----------------------------

# Each job of the phase: this many words of this many bytes, this many rounds (tens of ms here).
ESTIMATE_WORDS, ESTIMATE_WORD_BYTES, ESTIMATE_ROUNDS = 256, 64, 300
# Within this share of the measured cost counts as converged.
ESTIMATE_TOLERANCE = 0.2
# The jobs a kernel may take to converge: the first one is its declaration alone.
ESTIMATE_SETTLE_JOBS = 2


async def _estimate_series(kernel: gilfree.Kernel, jobs: int) -> list[dict[str, float]]:
    words = ["abcdefgh" * (ESTIMATE_WORD_BYTES // 8)] * ESTIMATE_WORDS
    series = []
    for _ in range(jobs):
        job = gilfree.aio.submit(kernel, words, ESTIMATE_ROUNDS)
        await job
        stats = job.stats()
        series.append(
            {
                "estimated_ms": stats.estimated_cpu_s * 1e3,
                "measured_ms": stats.cpu_s * 1e3,
                "ratio": stats.estimated_cpu_s / stats.cpu_s,
            }
        )
    return series


def measure_estimates(plan: Plan, threads: int) -> dict[str, Any]:
    """Sequential jobs of kernels whose declarations are ten times off (fresh in this process:
    nothing measured before), each job's admission estimate against its measured CPU time."""
    gilfree.configure(threads=threads)
    kernels = {
        "declared at a tenth": kernelpkg.entropy_underdeclared,
        "declared at ten times": kernelpkg.entropy_overdeclared,
    }
    series = {
        label: uvloop.run(_estimate_series(kernel, plan.estimate_jobs))
        for label, kernel in kernels.items()
    }
    out: dict[str, Any] = {
        "jobs": plan.estimate_jobs,
        "tolerance": ESTIMATE_TOLERANCE,
        "words": ESTIMATE_WORDS,
        "word_bytes": ESTIMATE_WORD_BYTES,
        "rounds": ESTIMATE_ROUNDS,
        "settle_jobs": ESTIMATE_SETTLE_JOBS,
        "kernels": {},
    }
    for label, jobs in series.items():
        # The kernel's measured cost: every job of a series does the same work, so the median of
        # their CPU times (each job's own varies with the machine's speed from moment to moment).
        measured = [job["measured_ms"] for job in jobs]
        typical = median(measured)
        for job in jobs:
            job["over_typical"] = job["estimated_ms"] / typical
        off = [abs(job["over_typical"] - 1) for job in jobs]
        within = next(
            (i + 1 for i in range(len(off)) if all(o <= ESTIMATE_TOLERANCE for o in off[i:])),
            None,
        )
        out["kernels"][label] = {
            "series": jobs,
            "typical_measured_ms": typical,
            "measured_spread_ms": [
                min(j["measured_ms"] for j in jobs),
                max(j["measured_ms"] for j in jobs),
            ],
            "converged_from_job": within,
            "worst_after_settling": max(off[ESTIMATE_SETTLE_JOBS:], default=None),
        }
        progress(
            f"estimates: {label}: estimate / measured cost "
            + ", ".join(f"{job['over_typical']:.2f}" for job in jobs)
        )
    return out


# -- phase: cancellation, in process --------------------------------------------------------------


async def _seconds_to_free(job: AwaitableCall, threads: int, timeout_s: float) -> float:
    """Starts ``job``, waits until every worker is busy, cancels it: seconds until none is.

    Nothing else may run on the executor meanwhile.
    """
    task = asyncio.ensure_future(job())
    deadline = time.perf_counter() + timeout_s
    while gilfree.executor_stats()["busy_workers"] < threads:
        if task.done() or time.perf_counter() > deadline:
            task.cancel()
            raise RuntimeError("the job ended, or never kept every worker busy, before its cancel")
        await asyncio.sleep(0)
    start = time.perf_counter()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # busy_workers alone can read 0 for an instant while the workers are between two chunks, so
    # the job must also have left the executor. A short sleep between polls keeps this thread
    # from taking a core (and the executor's lock) from the workers it is timing.
    while True:
        stats = gilfree.executor_stats()
        if stats["busy_workers"] == 0 and stats["active_jobs"] == 0:
            return time.perf_counter() - start
        if time.perf_counter() > deadline:
            raise RuntimeError("the workers were still busy long after the cancel")
        time.sleep(CANCEL_POLL_S)


async def _cancellation(plan: Plan, threads: int) -> dict[str, Any]:
    numbers = array("q", range(plan.cancel_numbers))

    def run_job(iterations: int) -> float:
        start = time.perf_counter()
        gilfree.process_numbers(numbers, iterations)
        return time.perf_counter() - start

    # The compared job lasts about compare_job_s; the target's job is cancel_numbers x
    # huge_iterations, or one of about MIN_CANCEL_JOB_S where this machine would finish that sooner.
    compare_iterations = iterations_for(plan.compare_job_s, run_job)
    compare_job_s = run_job(compare_iterations)
    long_enough = math.ceil(compare_iterations * MIN_CANCEL_JOB_S / compare_job_s)
    target_iterations = max(plan.huge_iterations, long_enough)

    cancelled_before = gilfree.executor_stats()["cancelled"]
    target_s = []
    for attempt in range(plan.cancel_tries):
        progress(f"cancel: large job via gilfree.aio, try {attempt + 1}/{plan.cancel_tries}")
        target_s.append(
            await _seconds_to_free(
                lambda: gilfree.aio.process_numbers(numbers, target_iterations), threads, 120.0
            )
        )
    cancelled = gilfree.executor_stats()["cancelled"] - cancelled_before

    compare_aio, compare_threadpool = [], []
    for attempt in range(plan.cancel_peer_tries):
        progress(f"cancel: gilfree.aio and run_in_threadpool, try {attempt + 1}")
        compare_aio.append(
            await _seconds_to_free(
                lambda: gilfree.aio.process_numbers(numbers, compare_iterations), threads, 120.0
            )
        )
        compare_threadpool.append(
            await _seconds_to_free(
                lambda: run_in_threadpool(gilfree.process_numbers, numbers, compare_iterations),
                threads,
                120.0,
            )
        )
    return {
        "threads": threads,
        "poll_interval_s": CANCEL_POLL_S,
        "target_job": {"numbers": plan.cancel_numbers, "iterations": target_iterations},
        "target_aio_ms": [s * 1e3 for s in target_s],
        "target_aio_median_ms": median(target_s) * 1e3,
        "target_aio_max_ms": max(target_s) * 1e3,
        "native_jobs_cancelled": cancelled,
        "compare_job": {
            "numbers": plan.cancel_numbers,
            "iterations": compare_iterations,
            "uncancelled_s": compare_job_s,
        },
        "compare_aio_ms": [s * 1e3 for s in compare_aio],
        "compare_threadpool_ms": [s * 1e3 for s in compare_threadpool],
        "compare_aio_median_ms": median(compare_aio) * 1e3,
        "compare_threadpool_median_ms": median(compare_threadpool) * 1e3,
    }


def measure_cancellation(plan: Plan, threads: int) -> dict[str, Any]:
    gilfree.configure(threads=threads)
    return uvloop.run(_cancellation(plan, threads))


def _one_core_kernel_s(numbers: list[int], iterations: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gilfree.process_numbers(numbers, iterations)
        times.append(time.perf_counter() - start)
    return median(times)


def iterations_for(seconds: float, run_kernel: Callable[[int], float], limit: int = 10**9) -> int:
    """Iterations that make ``run_kernel(iterations)`` (which returns its time) last ``seconds``.

    Two proportional steps: the first, from 1000 iterations, is skewed by the fixed costs
    (converting the numbers, waking the workers) that the second one dilutes.
    """
    iterations = 1000
    for _ in range(2):
        iterations = round(iterations * seconds / max(run_kernel(iterations), 1e-6))
        iterations = min(max(iterations, 1), limit)
    return iterations


def size_load_request(plan: Plan, threads: int) -> dict[str, Any]:
    """The background-load request: ``plan.load_iterations``, or as many iterations as make its
    kernel take about ``plan.load_wall_ms`` x ``threads`` of one core here; and what it costs."""
    numbers = list(range(plan.load_numbers))
    one_core_target_s = plan.load_wall_ms / 1e3 * max(2, threads)
    gilfree.configure(threads=1)
    try:
        iterations = plan.load_iterations or iterations_for(
            one_core_target_s, lambda its: _one_core_kernel_s(numbers, its, 1)
        )
        one_core_s = _one_core_kernel_s(numbers, iterations, 3)
    finally:
        gilfree.configure(threads=threads)
    progress(
        f"load request: {plan.load_numbers:,} numbers x {iterations:,} iterations,"
        f" {one_core_s * 1e3:.3g} ms of one core"
    )
    return {
        "numbers": plan.load_numbers,
        "iterations": iterations,
        "calibrated": plan.load_iterations is None,
        "one_core_target_ms": one_core_target_s * 1e3,
        "one_core_kernel_ms": one_core_s * 1e3,
    }


# -- phase: /healthz under load, over HTTP ------------------------------------------------------


def warm_up(server: Server, run: Run) -> None:
    """Requests that leave a fresh server as a busy one would be: routes run, threads started.

    A few rounds of concurrent slow-ish requests (100 numbers x 100,000 iterations, some ms
    each) grow a thread pool to as many threads as concurrent requests, as steady traffic would;
    otherwise the first request that finds every thread busy would pay for starting one.
    """
    target = f"/process-numbers?iterations={WARM_UP_ITERATIONS}"
    concurrent = run.connections + 2

    def request(_: int) -> int:
        status, _seconds = timed_request(server.port, "POST", target, run.small_body, timeout_s=60)
        return status

    with ThreadPoolExecutor(concurrent) as pool:
        for _ in range(3):
            statuses = set(pool.map(request, range(concurrent)))
            if statuses != {200}:
                raise RuntimeError(f"{server.spec.label}: warm-up requests answered {statuses}")
    for method, path, body in (
        ("POST", run.small_target, run.small_body),
        ("GET", "/healthz", None),
    ):
        status, _seconds = timed_request(server.port, method, path, body, timeout_s=30)
        if status != 200:
            raise RuntimeError(f"{server.spec.label}: {method} {path} answered {status}")


def restart(server: Server, run: Run) -> None:
    server.restart()
    warm_up(server, run)


def measure_healthz(server: Server, run: Run) -> dict[str, Any]:
    plan, label, key = run.plan, server.spec.label, server.spec.key
    progress(f"healthz: {label}: {run.connections} connections looping large jobs")
    load_log = run.logs / f"wrk-load-{key}.txt"
    load = harness.start_wrk(
        run.children,
        load_log,
        server.url + run.load_target,
        threads=min(run.connections, 4),
        connections=run.connections,
        duration_s=plan.healthz_seconds + 120,
        timeout_s=120,
        body_file=run.load_body_file,
    )
    try:
        busy_after_s = wait_for_cpu(server, run.busy, window_s=0.25, timeout_s=BUSY_TIMEOUT_S)
        if busy_after_s is None:
            progress(
                f"healthz: {label}: warning: the load kept fewer than {BUSY_SHARE:.0%} of"
                f" {run.threads} cores busy for {BUSY_TIMEOUT_S:g} s (is something else running?);"
                " measuring anyway"
            )
        time.sleep(0.5)
        progress(f"healthz: {label}: measuring GET /healthz for {plan.healthz_seconds:g} s")
        cpu0, machine0, wall0 = server.cpu_seconds(), machine_cpu_seconds(), time.monotonic()
        healthz = harness.run_wrk(
            run.children,
            run.logs / f"wrk-healthz-{key}.txt",
            server.url + "/healthz",
            threads=1,
            connections=1,
            duration_s=plan.healthz_seconds,
        )
        wall = time.monotonic() - wall0
        cores_busy = (server.cpu_seconds() - cpu0) / wall
        machine_busy = (machine_cpu_seconds() - machine0) / wall
    finally:
        load_summary = harness.stop_wrk(run.children, load, load_log)
    if load_summary is None:
        raise RuntimeError(f"{label}: the load completed no request; see {load_log}")
    for name, summary in (("/healthz", healthz), ("load", load_summary)):
        if any(summary.errors.values()):
            progress(f"healthz: {label}: warning: {name} requests failed: {summary.errors}")
    progress(
        f"healthz: {label}: p50 {healthz.latency_us['p50'] / 1e3:.3g} ms,"
        f" p99 {healthz.latency_us['p99'] / 1e3:.3g} ms, {cores_busy:.2f} cores busy"
    )
    return {
        "healthz": healthz.as_dict(),
        "load": load_summary.as_dict(),
        "load_requests_per_s": load_summary.requests_per_s,
        "load_reached_busy": busy_after_s is not None,
        "server_cores_busy": cores_busy,
        "server_busy_share": cores_busy / run.threads,
        # Every process of the machine, wrk and whatever else runs included.
        "machine_cores_busy": machine_busy,
    }


# -- phase: a small request behind a huge job, over HTTP -----------------------------------------


def _small_try(server: Server, run: Run) -> dict[str, Any]:
    patience = run.plan.small_patience_s
    small = ("POST", run.small_target, run.small_body)
    # Each on a connection opened just before it: a server closes one left idle for long.
    status, idle_s = timed_request(server.port, *small, timeout_s=30)
    if status != 200:
        raise RuntimeError(f"a small request on an idle server answered {status}")
    censored = False
    huge = open_request(server.port, "POST", run.huge_target, run.huge_body)
    try:
        computing_after_s = wait_for_threads(server, run.computing, timeout_s=BUSY_TIMEOUT_S)
        if computing_after_s is None:
            progress(
                f"small: {server.spec.label}: warning: the huge job never ran on all"
                f" {run.threads} workers within {BUSY_TIMEOUT_S:g} s; timing anyway"
            )
        try:
            status, latency_s = timed_request(server.port, *small, timeout_s=patience)
            if status != 200:
                raise RuntimeError(f"the small request answered {status}")
        except TimeoutError:
            latency_s, censored = patience, True
        # Readable means the huge job's answer has arrived: it ended before the disconnect.
        huge_finished_first = bool(select.select([huge], [], [], 0)[0])
    finally:
        huge.close()
    freed_after_s: float | None = None
    if not huge_finished_first and not censored:
        # Until no thread of the server runs for FREED_HOLD polls in a row.
        freed_after_s = wait_for_threads(
            server, run.quiet, timeout_s=patience, hold=FREED_HOLD_POLLS
        )
    return {
        "idle_latency_ms": idle_s * 1e3,
        "huge_computing_after_s": computing_after_s,
        "latency_ms": latency_s * 1e3,
        "censored": censored,
        "huge_finished_first": huge_finished_first,
        # Seconds from closing the huge job's connection until no server thread runs; None
        # where the huge job had ended first, or the server is killed instead.
        "freed_after_disconnect_s": freed_after_s,
    }


def measure_small_behind_huge(server: Server, run: Run) -> dict[str, Any]:
    plan, label = run.plan, server.spec.label
    tries: list[dict[str, Any]] = []
    restarts = 0
    started = time.monotonic()
    for attempt in range(plan.small_tries):
        if attempt >= MIN_TRIES and time.monotonic() - started > plan.small_budget_s:
            progress(f"small: {label}: {attempt} tries took {plan.small_budget_s:g} s: enough")
            break
        if wait_for_threads(server, run.quiet, timeout_s=10.0, hold=20) is None:
            progress(f"small: {label}: still busy with earlier work: restarting it")
            restart(server, run)
            restarts += 1
        progress(
            f"small: {label}: try {attempt + 1}/{plan.small_tries}: {plan.small_numbers} numbers"
            f" behind {plan.huge_numbers:,} x {plan.huge_iterations:,}"
        )
        result = _small_try(server, run)
        tries.append(result)
        if result["censored"] or (
            not result["huge_finished_first"] and result["freed_after_disconnect_s"] is None
        ):
            restart(server, run)  # still blocked, or the abandoned job runs on: kill it
            restarts += 1
    latency_ms, lower_bound = censored_median([(t["latency_ms"], t["censored"]) for t in tries])
    freed = [t["freed_after_disconnect_s"] for t in tries]
    freed_s = [f for f in freed if f is not None]
    progress(
        f"small: {label}: median {'>= ' if lower_bound else ''}{latency_ms:.3g} ms"
        + (f", cores freed {median(freed_s) * 1e3:.3g} ms after the disconnect" if freed_s else "")
    )
    return {
        "tries": tries,
        "median_ms": latency_ms,
        "median_is_lower_bound": lower_bound,
        "idle_median_ms": median([t["idle_latency_ms"] for t in tries]),
        "freed_after_disconnect_median_ms": median(freed_s) * 1e3 if freed_s else None,
        "freed_after_disconnect_tries": len(freed_s),
        "patience_s": plan.small_patience_s,
        "server_restarts": restarts,
    }


# -- the run -----------------------------------------------------------------------------------


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite's targets against the measured figures; a skipped phase gives no verdict."""
    healthz = results.get("healthz_under_load", {}).get("gilfree")
    small = results.get("small_behind_huge", {}).get("gilfree")
    cancel = results.get("cancellation")
    overhead = results.get("call_overhead")
    trivial = overhead["calls"]["sum_squares(1, 2)"] if overhead else {}
    targets = [
        target(
            "gilfree /healthz p99 under full native load",
            healthz["healthz"]["latency_us"]["p99"] / 1e3 if healthz else None,
            "<=",
            5.0,
            "ms",
        ),
        target(
            "gilfree 100-number request while a 1,000,000 x 10,000 job runs (median)",
            small["median_ms"] if small else None,
            "<=",
            20.0,
            "ms",
            lower_bound=bool(small and small["median_is_lower_bound"]),
        ),
        target(
            "a cancelled job frees its cores (median)",
            cancel["target_aio_median_ms"] if cancel else None,
            "<=",
            10.0,
            "ms",
        ),
        target(
            "awaited trivial native job on the pool / run_in_threadpool (sum_squares per call)",
            trivial.get("job_over_threadpool"),
            "<=",
            0.5,
        ),
        target(
            "awaited trivial job of a separately built module / the same kernel built into gilfree"
            " (sum_squares on the pool)",
            trivial.get("kernelpkg_over_builtin_job"),
            "<=",
            1.10,
        ),
        target(
            "awaited trivial job of a separately built module / run_in_threadpool",
            trivial.get("kernelpkg_job_over_threadpool"),
            "<=",
            0.5,
        ),
    ]
    estimates = results.get("estimates")
    if estimates is None:
        name = "admission estimate of a kernel declared ten times off"
        return [*targets, target(name, None, "<=", ESTIMATE_TOLERANCE)]
    for label, entry in estimates["kernels"].items():
        targets.append(
            target(
                f"admission estimate of a kernel {label}: worst |estimate / measured cost - 1|"
                f" from job {estimates['settle_jobs'] + 1} on",
                entry["worst_after_settling"],
                "<=",
                estimates["tolerance"],
            )
        )
    return targets


def measure(
    plan: Plan, phases: Sequence[str], service_keys: Sequence[str], out: Path, children: Children
) -> dict[str, Any]:
    """The phases chosen, on the services chosen: the run's results."""
    threads = harness.usable_cpus()
    logs = out / "runtime_logs"
    busy_before = harness.start_run(plan.mode, threads, f"phases: {', '.join(phases)}", logs)
    results: dict[str, Any] = {
        **harness.results_head(plan.mode, asdict(plan), threads, busy_before),
        "method": {
            "busy_share": BUSY_SHARE,
            "busy_timeout_s": BUSY_TIMEOUT_S,
            "freed_hold_polls": FREED_HOLD_POLLS,
            "min_tries": MIN_TRIES,
            "min_cancel_job_s": MIN_CANCEL_JOB_S,
            "warm_up_iterations": WARM_UP_ITERATIONS,
        },
    }
    if "overhead" in phases:
        results["call_overhead"] = measure_call_overhead(plan, threads)
    if "estimates" in phases:
        results["estimates"] = measure_estimates(plan, threads)
    if "cancel" in phases:
        results["cancellation"] = measure_cancellation(plan, threads)
    http_phases = [phase for phase in ("healthz", "small") if phase in phases]
    if http_phases:
        load_iterations = 1  # no load without the healthz phase
        if "healthz" in phases:
            results["load_request"] = size_load_request(plan, threads)
            load_iterations = results["load_request"]["iterations"]
        with tempfile.TemporaryDirectory(prefix="gilfree-bench-") as scratch:
            load_body_file = Path(scratch) / "load-body.json"
            load_body_file.write_bytes(numbers_body(range(plan.load_numbers)))
            run = Run(
                plan=plan,
                children=children,
                logs=logs,
                threads=threads,
                connections=max(2, threads),
                load_iterations=load_iterations,
                load_body_file=load_body_file,
                huge_body=numbers_body(range(plan.huge_numbers)),
                small_body=numbers_body(range(plan.small_numbers)),
            )
            results["services"] = {}
            specs = service_specs(threads)
            env = harness.server_env(threads, limits(run))
            for key in service_keys:
                spec = specs[key]
                results["services"][key] = spec.described()
                server = Server(spec, children, logs / f"server-{key}.log", env)
                progress(f"starting {spec.label}")
                server.start()
                try:
                    warm_up(server, run)
                    if "healthz" in phases:
                        results.setdefault("healthz_under_load", {})[key] = measure_healthz(
                            server, run
                        )
                    if "small" in phases:
                        results.setdefault("small_behind_huge", {})[key] = (
                            measure_small_behind_huge(server, run)
                        )
                    results["services"][key]["starts"] = server.starts
                finally:
                    server.stop(grace_s=2.0)
            results["load"] = {
                "connections": run.connections,
                "body_bytes": load_body_file.stat().st_size,
            }
    results["targets"] = evaluate_targets(results)
    return results


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = harness.bench_parser(
        "python -m bench.runtime_bench",
        __doc__,
        quick="a short run (about 2 minutes)",
        outputs="runtime.json",
    )
    harness.add_subset_option(parser, "phases", PHASES)
    harness.add_subset_option(parser, "services", SERVICE_KEYS)
    parser.add_argument(
        "--load-numbers",
        type=int,
        help=f"numbers per background-load request (default {FULL.load_numbers:,})",
    )
    parser.add_argument(
        "--load-iterations",
        type=int,
        help="iterations per background-load request (default: as many as make its kernel"
        f" take about {FULL.load_wall_ms:g} ms x usable CPUs of one core)",
    )
    args = parser.parse_args(argv)
    for option in ("load_numbers", "load_iterations"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be a positive integer")
    for option, allowed in (("phases", PHASES), ("services", SERVICE_KEYS)):
        setattr(args, option, harness.chosen_subset(parser, option, getattr(args, option), allowed))
    if {"healthz", "small"} & set(args.phases) and harness.wrk_path() is None:
        parser.error("wrk is not installed: `apt-get install -y wrk` (`make bench` does)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.load_numbers is not None:
        plan = replace(plan, load_numbers=args.load_numbers)
    if args.load_iterations is not None:
        plan = replace(plan, load_iterations=args.load_iterations)
    out: Path = args.out.resolve()
    return harness.run_and_report(
        lambda children: measure(plan, args.phases, args.services, out, children),
        out / "runtime.json",
        require_targets=args.require_targets,
    )


if __name__ == "__main__":
    sys.exit(main())
