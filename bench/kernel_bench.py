"""Kernel speed: gilfree's process_numbers against its peers, per step, measured in one run.

Every peer gets the same data (random int64 over the whole range, with the contract's edge values
first) and the same iteration count, and is timed per step (one number advanced one iteration):

- pure Python (``gilfree.reference``) and, for comparison on that same small input, gilfree;
- NumPy, vectorised (``bench/peers/numpy_peer.py``);
- Numba ``@njit(parallel=True)`` on 1 thread and on all (``bench/peers/numba_peer.py``), compiled
  before timing;
- Rust + PyO3 written the simple way, single-threaded and with Rayon (``bench/peers/rust_peer``,
  built with ``maturin develop --release``);
- gilfree: the scalar build on 1 thread, the default (widest) SIMD level on 1 thread, and the
  default level on every usable CPU.

Calls are interleaved (one call of each peer per round, then the next round), so a burst of
noise on a shared machine lands on every peer alike; figures are medians over the rounds, after
one untimed warm-up round. The run waits (``--wait-quiet``, 60 s) for other processes to leave
the CPUs alone, measures how many CPUs they use during each round (/proc/stat less this
process's own CPU time), runs a round again when they used more than ``--max-foreign-load``
(0.25 CPUs), up to twice the rounds, keeps the quietest, and says so in the report.

Every call's output is compared with gilfree's, element by element, and gilfree's with the
pure-Python reference: any difference stops the run with exit status 2. A thread sweep gives
gilfree's speed-up and parallel efficiency from 1 to N threads, N being the CPUs this process may
use (affinity and cgroup quota). The targets (gilfree SIMD on 1 thread >= 25x the simple Rust
peer and >= 1000x pure Python per step; parallel efficiency >= 85% at 2 threads) are computed as
PASS/FAIL (``--require-targets``: exit status 1 if one fails).

Writes kernels.json (raw samples, machine, versions, date), kernels.md (tables), and the plots
kernels_ns_per_step.png and kernels_scaling.png into ``--out`` (default bench/out). Run from the
repository root::

    python -m bench.kernel_bench --quick         # smoke test: small sizes, 3 rounds (~15 s)
    python -m bench.kernel_bench                 # full: 1M numbers x 1000 iterations (~4 min)

It assumes nothing about the machine's size. On a larger one the same command sweeps 1..N threads
(every count up to 16, then powers of two and N); to choose, or to bench part of the machine::

    python -m bench.kernel_bench --threads 1,2,4,8,16,32,64 --rounds 9
    taskset -c 0-15 python -m bench.kernel_bench

A missing peer (Numba, or the Rust module not built) is an error unless ``--allow-missing``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

import gilfree
from gilfree import reference

__all__ = ["Case", "Settings", "main", "render_markdown", "run"]

REPO_ROOT = Path(__file__).resolve().parent.parent
JSON_NAME = "kernels.json"
MARKDOWN_NAME = "kernels.md"
BARS_PLOT = "kernels_ns_per_step.png"
SCALING_PLOT = "kernels_scaling.png"
SCHEMA = 1

# The contract's test-vector inputs (CONTRACT section 1), at the front of the data.
EDGE_VALUES = (
    0,
    1,
    -1,
    -2,
    2**63 - 1,
    -(2**63),
    1_000_000_006,
    -1_000_000_006,
    -1_000_000_007,
    -500_000_004,
)

# Targets: (key, what, threshold).
TARGET_VS_RUST = 25.0
TARGET_VS_PYTHON = 1000.0
TARGET_EFFICIENCY_2 = 0.85

RUST_KEY = "rust"
PYTHON_KEY = "python"
SIMD1_KEY = "gilfree_simd_1"

Int64Array = npt.NDArray[np.int64]


class MismatchError(RuntimeError):
    """A peer's output differs from gilfree's on the same input."""


class MissingPeerError(RuntimeError):
    """A peer could not be imported."""


@dataclass(frozen=True)
class Settings:
    mode: str
    numbers: int
    small_numbers: int
    iterations: int
    rounds: int
    sweep_rounds: int  # at least; more if calls are short
    sweep_seconds: float  # timed seconds per thread count, at least
    sweep_numbers: int  # numbers per call in the sweep
    threads: tuple[int, ...]
    max_foreign: float  # CPUs other processes may use during a round that counts
    wait_quiet_s: float  # how long to wait for a quiet machine before starting
    seed: int
    allow_missing: bool


@dataclass
class Case:
    """One way to run the kernel, timed over the rounds."""

    key: str
    label: str
    family: str  # python, numpy, numba, rust, gilfree
    numbers: int
    threads: int
    call: Callable[[int], object]  # iterations -> output
    prepare: Callable[[], None] = lambda: None  # untimed: threads, SIMD level
    samples: list[float] = field(default_factory=list)
    overhead_s: float = math.nan  # the same call with iterations=0 (conversions, dispatch)


# -- progress ------------------------------------------------------------------------------------


class Progress:
    """Progress on stderr: one updating line on a terminal, plain lines otherwise."""

    QUIET_S = 5.0  # off a terminal, a transient line at most this often

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self._open = False
        self._last_line = -math.inf

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self.started:6.1f}s]"

    def status(self, text: str) -> None:
        """Transient: overwritten by the next line on a terminal."""
        if self.tty:
            self.stream.write(f"\r\x1b[2K{self._stamp()} {text}")
            self._open = True
        elif time.monotonic() - self._last_line >= self.QUIET_S:
            self.stream.write(f"{self._stamp()} {text}\n")
            self._last_line = time.monotonic()
        self.stream.flush()

    def note(self, text: str) -> None:
        """Kept."""
        if self._open:
            self.stream.write("\r\x1b[2K")
            self._open = False
        self.stream.write(f"{self._stamp()} {text}\n")
        self.stream.flush()
        self._last_line = time.monotonic()


def eta_text(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


def gilfree_array(data: Int64Array, iterations: int) -> Int64Array:
    """gilfree.process_numbers on an int64 array (read without copying; a new array out)."""
    # numpy declares the buffer protocol to type checkers from Python 3.12 on only.
    buffer: Any = data
    result: Int64Array = gilfree.process_numbers(buffer, iterations)
    return result


# -- machine -------------------------------------------------------------------------------------


def _cpuinfo() -> dict[str, str]:
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                break  # the first CPU is enough
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    return fields


class LoadMeter:
    """CPUs that other processes kept busy since the meter started: the busy time of the CPUs
    this process may use (/proc/stat) less this process's own CPU time (all its threads)."""

    _TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self) -> None:
        self._cpus = {f"cpu{c}" for c in os.sched_getaffinity(0)}
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float] | None:
        busy = 0
        try:
            with open("/proc/stat", encoding="utf-8") as handle:
                for line in handle:
                    name, *values = line.split()
                    if name in self._cpus:
                        ticks = [int(v) for v in values[:8]]
                        busy += sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
        except (OSError, ValueError, IndexError):
            return None
        return busy / self._TICKS, time.process_time(), time.monotonic()

    def foreign_cpus(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None or end[2] <= self._start[2]:
            return None
        foreign = (end[0] - self._start[0]) - (end[1] - self._start[1])
        return max(0.0, foreign / (end[2] - self._start[2]))


def wait_until_quiet(limit_s: float, threshold: float, progress: Progress) -> float | None:
    """Waits (up to ``limit_s``) for other processes to use at most ``threshold`` CPUs over one
    second; returns the last such measure."""
    deadline = time.monotonic() + limit_s
    while True:
        meter = LoadMeter()
        time.sleep(1.0)
        foreign = meter.foreign_cpus()
        if foreign is None or foreign <= threshold or time.monotonic() >= deadline:
            return foreign
        progress.status(
            f"waiting for a quiet machine: other processes use {foreign:.2f} CPUs"
            f" (up to {deadline - time.monotonic():.0f}s more)"
        )


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_facts() -> dict[str, Any]:
    info = gilfree.build_info()
    cpu = _cpuinfo()
    family = cpu.get("cpu family")
    model = cpu.get("model")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "cpu_model": cpu.get("model name") or platform.processor() or platform.machine(),
        "cpu_id": f"family {family} model {model}" if family and model else None,
        "architecture": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": int(info["usable_cpus"]),
        "simd_features": list(info["simd"]),
        "simd_level": str(info["simd_level"]),
        "simd_levels": list(info["simd_levels"]),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "gilfree": str(info["version"]),
        "gilfree_compiler": str(info["compiler"]),
        "gilfree_build_type": str(info["build_type"]),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "llvmlite": _version("llvmlite"),
        "git_commit": _git_commit(),
        "load_average_before": [round(x, 2) for x in load],
    }


# -- peers ---------------------------------------------------------------------------------------


def _import_peer(module: str, hint: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingPeerError(f"{module} cannot be imported ({error}): {hint}") from error


def _gilfree_config(threads: int, level: str | None) -> Callable[[], None]:
    def prepare() -> None:
        if gilfree.threads() != threads:
            gilfree.configure(threads=threads)
            # A job of many chunks (about 1 ms per worker) wakes every new worker once, so that
            # their start is not in the next timed call.
            gilfree_array(np.zeros(16_384 * threads, dtype=np.int64), 1000)
        gilfree.set_simd_level(level)

    return prepare


def build_cases(
    settings: Settings, data: Int64Array, notes: list[str], facts: dict[str, Any]
) -> list[Case]:
    """The peers, in the order each round calls them."""
    n_all = int(facts["usable_cpus"])
    small = data[: settings.small_numbers]
    small_list: list[int] = small.tolist()
    data_list: list[int] = data.tolist()
    default_level = str(facts["simd_level"])
    cases = [
        Case(
            PYTHON_KEY,
            "pure Python (gilfree.reference)",
            "python",
            len(small_list),
            1,
            lambda it: reference.process_numbers(small_list, it),
        ),
        Case(
            "gilfree_simd_1_small",
            f"gilfree {default_level}, 1 thread, on pure Python's input",
            "gilfree",
            len(small_list),
            1,
            lambda it: gilfree_array(small, it),
            _gilfree_config(1, None),
        ),
    ]
    from bench.peers import numpy_peer

    cases.append(
        Case("numpy", "NumPy, vectorised", "numpy", len(data), 1, partial_call(numpy_peer, data))
    )

    try:
        numba_peer = _import_peer("bench.peers.numba_peer", "pip install numba")
        numba_peer.jit_compile()  # compiled here, never in a timed call
        numba_threads = min(n_all, int(numba_peer.max_threads()))
        facts["numba_threading_layer"] = numba_peer.threading_layer()

        def numba_on(threads: int) -> Callable[[], None]:
            return lambda: numba_peer.set_threads(threads)

        cases += [
            Case(
                "numba_1",
                "Numba @njit(parallel=True), 1 thread",
                "numba",
                len(data),
                1,
                partial_call(numba_peer, data),
                numba_on(1),
            ),
            Case(
                "numba_all",
                f"Numba @njit(parallel=True), {numba_threads} threads",
                "numba",
                len(data),
                numba_threads,
                partial_call(numba_peer, data),
                numba_on(numba_threads),
            ),
        ]
    except MissingPeerError as error:
        if not settings.allow_missing:
            raise
        notes.append(f"Numba peer skipped: {error}")

    try:
        # Rayon reads this when its pool starts (first call): the same CPUs as gilfree's pool.
        os.environ.setdefault("RAYON_NUM_THREADS", str(n_all))
        rust = _import_peer(
            "gilfree_rust_peer",
            "build it with `maturin develop --release` in bench/peers/rust_peer (make bench-peers)",
        )
        facts["rustc"] = rust.rustc_version()
        rayon_threads = int(rust.rayon_threads())
        cases += [
            Case(
                RUST_KEY,
                "Rust + PyO3, simple loop (Vec<i64> in and out)",
                "rust",
                len(data_list),
                1,
                lambda it: rust.process_numbers(data_list, it),
            ),
            Case(
                "rust_rayon",
                f"Rust + PyO3, Rayon par_iter, {rayon_threads} threads",
                "rust",
                len(data_list),
                rayon_threads,
                lambda it: rust.process_numbers_rayon(data_list, it),
            ),
        ]
    except MissingPeerError as error:
        if not settings.allow_missing:
            raise
        notes.append(f"Rust peer skipped: {error}")

    cases += [
        Case(
            "gilfree_scalar_1",
            "gilfree scalar build, 1 thread",
            "gilfree",
            len(data),
            1,
            lambda it: gilfree_array(data, it),
            _gilfree_config(1, "scalar"),
        ),
        Case(
            SIMD1_KEY,
            f"gilfree {default_level}, 1 thread",
            "gilfree",
            len(data),
            1,
            lambda it: gilfree_array(data, it),
            _gilfree_config(1, None),
        ),
        Case(
            "gilfree_all",
            f"gilfree {default_level}, {n_all} threads",
            "gilfree",
            len(data),
            n_all,
            lambda it: gilfree_array(data, it),
            _gilfree_config(n_all, None),
        ),
    ]
    return cases


def partial_call(peer: ModuleType, data: Int64Array) -> Callable[[int], object]:
    def call(iterations: int) -> object:
        return peer.process_numbers(data, iterations)

    return call


# -- checks and timing ---------------------------------------------------------------------------


def check_output(case: Case, output: object, expected: Int64Array) -> None:
    got = np.asarray(output, dtype=np.int64)
    want = expected[: case.numbers]
    if got.shape == want.shape and np.array_equal(got, want):
        return
    if got.shape != want.shape:
        raise MismatchError(f"{case.label}: {got.shape[0]} outputs for {want.shape[0]} numbers")
    index = int(np.flatnonzero(got != want)[0])
    count = int(np.count_nonzero(got != want))
    raise MismatchError(
        f"{case.label} disagrees with gilfree on {count} of {case.numbers} numbers; the first is"
        f" index {index}: gilfree gives {int(want[index])}, the peer {int(got[index])}"
    )


def expected_output(data: Int64Array, settings: Settings, progress: Progress) -> Int64Array:
    """gilfree's answer on the data (default level, all threads), checked against the pure-Python
    reference on the small input. Every peer's output is then compared with it."""
    gilfree.set_simd_level(None)
    gilfree.configure(threads=None)
    expected = gilfree_array(data, settings.iterations)
    small = data[: settings.small_numbers]
    progress.status(f"checking gilfree against the pure-Python reference on {len(small):,} numbers")
    oracle = np.asarray(reference.process_numbers(small.tolist(), settings.iterations))
    if not np.array_equal(oracle, expected[: len(small)]):
        index = int(np.flatnonzero(oracle != expected[: len(small)])[0])
        raise MismatchError(
            f"gilfree disagrees with gilfree.reference at index {index}: input {int(data[index])},"
            f" reference {int(oracle[index])}, gilfree {int(expected[index])}"
        )
    return expected


def timed(case: Case, iterations: int) -> tuple[float, object]:
    case.prepare()
    start = time.perf_counter()
    output = case.call(iterations)
    return time.perf_counter() - start, output


def _round_summary(times: dict[str, float], cases: Sequence[Case], iterations: int) -> str:
    return ", ".join(
        f"{c.key} {ns_per_step(times[c.key], c.numbers, iterations):.3g}" for c in cases
    )


def run_rounds(
    cases: Sequence[Case], settings: Settings, expected: Int64Array, progress: Progress
) -> list[dict[str, Any]]:
    """A warm-up round, then rounds that call every case once, until ``settings.rounds`` of them
    ran while other processes used at most ``settings.max_foreign`` CPUs, or twice that many
    rounds ran; the quietest ``settings.rounds`` rounds give the samples. Returns the log."""
    last: dict[str, float] = {}
    for case in cases:
        progress.status(f"warm-up: {case.label} ({case.numbers:,} numbers)")
        elapsed, output = timed(case, settings.iterations)
        check_output(case, output, expected)
        last[case.key] = elapsed
    progress.note("warm-up done, every peer agrees with gilfree bit for bit")

    log: list[dict[str, Any]] = []
    quiet_rounds = 0
    while quiet_rounds < settings.rounds and len(log) < 2 * settings.rounds:
        number = len(log) + 1
        meter = LoadMeter()
        times: dict[str, float] = {}
        for position, case in enumerate(cases):
            remaining = sum(last[c.key] for c in cases[position:])
            remaining += (settings.rounds - quiet_rounds - 1) * sum(last.values())
            progress.status(
                f"round {number} ({quiet_rounds}/{settings.rounds} quiet so far): {case.label}"
                f" ({case.numbers:,} numbers)  ETA {eta_text(remaining)}"
            )
            elapsed, output = timed(case, settings.iterations)
            check_output(case, output, expected)
            last[case.key] = times[case.key] = elapsed
        foreign = meter.foreign_cpus()
        quiet = foreign is None or foreign <= settings.max_foreign
        quiet_rounds += quiet
        log.append({"round": number, "foreign_cpus": foreign, "quiet": quiet, "seconds": times})
        load = "?" if foreign is None else f"{foreign:.2f}"
        progress.note(
            f"round {number} (other processes: {load} CPUs"
            + ("" if quiet else ", too busy: one more round")
            + f"), ns/step: {_round_summary(times, cases, settings.iterations)}"
        )
    quietest = sorted(log, key=lambda entry: entry["foreign_cpus"] or 0.0)[: settings.rounds]
    kept = {entry["round"] for entry in quietest}
    for entry in log:
        entry["kept"] = entry["round"] in kept
    for case in cases:
        case.samples = [entry["seconds"][case.key] for entry in log if entry["kept"]]
        # Fixed cost per call (conversions, dispatch): the same call with no steps.
        case.overhead_s = min(timed(case, 0)[0] for _ in range(3))
    return log


def run_sweep(
    settings: Settings, data: Int64Array, expected: Int64Array, progress: Progress
) -> dict[str, Any]:
    """gilfree at the default SIMD level on each thread count, rounds interleaved, enough rounds
    for ``sweep_seconds`` on 1 thread. Run again (3 tries in all) if other processes used more
    than ``max_foreign`` CPUs meanwhile; the quietest try counts. On ``sweep_numbers`` numbers:
    ``data`` itself, or more of the same random numbers, checked against gilfree on all threads.
    """
    if settings.sweep_numbers != len(data):
        progress.status(f"thread sweep: preparing {settings.sweep_numbers:,} numbers")
        data = make_data(settings, settings.sweep_numbers)
        _gilfree_config(max(settings.threads), None)()
        expected = gilfree_array(data, settings.iterations)

    def timed_call(threads: int) -> float:
        _gilfree_config(threads, None)()
        start = time.perf_counter()
        output = gilfree_array(data, settings.iterations)
        elapsed = time.perf_counter() - start
        if not np.array_equal(output, expected):
            raise MismatchError(f"gilfree on {threads} threads disagrees with gilfree")
        return elapsed

    progress.status("thread sweep: warm-up")
    warm = {threads: timed_call(threads) for threads in settings.threads}
    rounds = max(settings.sweep_rounds, math.ceil(settings.sweep_seconds / warm[1]))
    rounds = min(rounds, 1000)
    round_s = sum(warm.values())
    tries: list[tuple[float, dict[int, list[float]]]] = []
    while len(tries) < 3:
        samples: dict[int, list[float]] = {t: [] for t in settings.threads}
        meter = LoadMeter()
        for round_index in range(1, rounds + 1):
            progress.status(
                f"thread sweep, try {len(tries) + 1}: round {round_index}/{rounds}"
                f"  ETA {eta_text((rounds - round_index + 1) * round_s)}"
            )
            for threads in settings.threads:
                samples[threads].append(timed_call(threads))
        foreign = meter.foreign_cpus()
        tries.append((foreign or 0.0, samples))
        if foreign is None or foreign <= settings.max_foreign:
            break
        progress.note(f"thread sweep: other processes used {foreign:.2f} CPUs, once more")
    foreign, samples = min(tries, key=lambda entry: entry[0])

    steps = len(data) * settings.iterations
    base = statistics.median(samples[1])
    rows = []
    for threads in settings.threads:
        median = statistics.median(samples[threads])
        speedup = base / median
        rows.append(
            {
                "threads": threads,
                "samples_s": samples[threads],
                "median_s": median,
                "min_s": min(samples[threads]),
                "max_s": max(samples[threads]),
                "ns_per_step": median / steps * 1e9,
                "speedup": speedup,
                "efficiency": speedup / threads,
            }
        )
    progress.note(
        f"thread sweep ({rounds} rounds, other processes {foreign:.2f} CPUs): "
        + ", ".join(f"{r['threads']}: {r['speedup']:.2f}x ({r['efficiency']:.0%})" for r in rows)
    )
    return {
        "numbers": len(data),
        "rounds": rounds,
        "tries": len(tries),
        "foreign_cpus": foreign,
        "rows": rows,
    }


def ns_per_step(seconds: float, numbers: int, iterations: int) -> float:
    return seconds / (numbers * iterations) * 1e9


# -- results -------------------------------------------------------------------------------------


def summarise(cases: Sequence[Case], settings: Settings) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for case in cases:
        steps = case.numbers * settings.iterations
        median = statistics.median(case.samples)
        rows.append(
            {
                "key": case.key,
                "label": case.label,
                "family": case.family,
                "numbers": case.numbers,
                "iterations": settings.iterations,
                "threads": case.threads,
                "samples_s": case.samples,
                "median_s": median,
                "min_s": min(case.samples),
                "max_s": max(case.samples),
                "ns_per_step": median / steps * 1e9,
                "ns_per_step_min": min(case.samples) / steps * 1e9,
                "ns_per_step_max": max(case.samples) / steps * 1e9,
                "overhead_s": case.overhead_s,
            }
        )
    by_key = {row["key"]: row for row in rows}
    for row in rows:
        for peer, name in ((RUST_KEY, "vs_rust"), (PYTHON_KEY, "vs_python")):
            reference_row = by_key.get(peer)
            row[name] = reference_row["ns_per_step"] / row["ns_per_step"] if reference_row else None
    return rows


def evaluate_targets(
    rows: Sequence[dict[str, Any]], sweep: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_key = {row["key"]: row for row in rows}
    simd1 = by_key[SIMD1_KEY]
    two = next((r for r in sweep if r["threads"] == 2), None)

    def target(name: str, value: float | None, threshold: float, unit: str) -> dict[str, Any]:
        status = "N/A" if value is None else ("PASS" if value >= threshold else "FAIL")
        return {
            "name": name,
            "value": value,
            "threshold": threshold,
            "unit": unit,
            "status": status,
        }

    return [
        target(
            f"{simd1['label']}: times faster per step than the simple Rust/PyO3 peer",
            simd1["vs_rust"],
            TARGET_VS_RUST,
            "x",
        ),
        target(
            f"{simd1['label']}: times faster per step than pure Python",
            simd1["vs_python"],
            TARGET_VS_PYTHON,
            "x",
        ),
        target(
            "gilfree parallel efficiency at 2 threads (speed-up / 2)",
            two["efficiency"] if two else None,
            TARGET_EFFICIENCY_2,
            "%",
        ),
    ]


# -- Markdown ------------------------------------------------------------------------------------


def _ns(value: float) -> str:
    return f"{value:.3g}" if value >= 0.01 else f"{value:.2g}"


def _times(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}x"
    return f"{value:.3g}x"


def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.3g} us"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "".join("---|" for _ in header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _target_value(target: dict[str, Any]) -> str:
    value = target["value"]
    if value is None:
        return "n/a"
    if target["unit"] == "%":
        return f"{value:.1%}"
    return _times(value)


def _target_threshold(target: dict[str, Any]) -> str:
    if target["unit"] == "%":
        return f">= {target['threshold']:.0%}"
    return f">= {target['threshold']:,.0f}x"


def render_markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    workload = results["workload"]
    command = "python -m bench.kernel_bench" + (" --quick" if results["mode"] == "quick" else "")
    kept = [entry for entry in results["rounds"] if entry["kept"]]
    kept_foreign = [e["foreign_cpus"] for e in kept if e["foreign_cpus"] is not None]
    kept_load = f"{statistics.fmean(kept_foreign):.2f}" if kept_foreign else "?"
    versions = [
        f"gilfree {machine['gilfree']} ({machine['gilfree_compiler']},"
        f" {machine['gilfree_build_type']})",
        machine["python"],
        f"NumPy {machine['numpy']}",
    ]
    if machine.get("numba"):
        layer = machine.get("numba_threading_layer")
        versions.append(f"Numba {machine['numba']}" + (f" ({layer} threads)" if layer else ""))
    if machine.get("rustc"):
        versions.append(f"{machine['rustc']} (PyO3, release profile)")
    lines = [
        "## Kernel speed: process_numbers per step, gilfree against its peers",
        "",
        f"Generated by `{command}` on {machine['date']} ({results['mode']} mode):"
        f" {machine['cpu_model']}"
        + (f" ({machine['cpu_id']})" if machine.get("cpu_id") else "")
        + f", {machine['usable_cpus']} usable CPUs of {machine['logical_cpus']},"
        f" SIMD level `{machine['simd_level']}`"
        f" (CPU offers {', '.join(machine['simd_features']) or 'none'}). "
        + "; ".join(versions)
        + ".",
        "",
        f"A step is one number advanced one iteration; every row ran {workload['iterations']:,}"
        f" iterations on the same random int64 (seed {workload['seed']}), pure Python and the"
        f" row after it on the first {workload['small_numbers']:,} of them. Each round calls"
        f" every row once; the figures are medians of {len(kept)} rounds after a warm-up (range:"
        f" fastest to slowest), the quietest of {workload['rounds_run']} run (a round during which"
        f" other processes used more than {workload['max_foreign_cpus']} CPUs is run again, up to"
        f" twice as many rounds in all); other processes used {kept_load} CPUs on average during"
        " them. Every output was checked bit for bit against gilfree's, and gilfree's against the"
        " pure-Python reference. Ratios are per step: the row's speed over the peer's.",
        "",
    ]
    rows = []
    for row in results["results"]:
        rows.append(
            [
                row["label"],
                f"{row['numbers']:,}",
                str(row["threads"]),
                f"**{_ns(row['ns_per_step'])}**",
                f"{_ns(row['ns_per_step_min'])} - {_ns(row['ns_per_step_max'])}",
                _times(row["vs_rust"]),
                _times(row["vs_python"]),
                _seconds(row["median_s"]),
                _seconds(row["overhead_s"]),
            ]
        )
    lines += _table(
        [
            "peer",
            "numbers",
            "threads",
            "ns/step",
            "range",
            "vs simple Rust",
            "vs pure Python",
            "per call",
            "call at 0 iterations",
        ],
        rows,
    )
    lines += ["", f"![ns per step, log scale]({BARS_PLOT})", "", "### Targets", ""]
    lines += _table(
        ["target", "measured", "required", "result"],
        [
            [t["name"], _target_value(t), _target_threshold(t), f"**{t['status']}**"]
            for t in results["targets"]
        ],
    )
    scaling = results["scaling"]
    sweep = scaling["rows"]
    lines += [
        "",
        f"### Scaling: gilfree `{machine['simd_level']}` on 1 to {sweep[-1]['threads']} threads",
        "",
        f"{scaling['numbers']:,} numbers x {workload['iterations']:,} iterations per call,"
        f" medians of {scaling['rounds']} interleaved rounds (other processes used"
        f" {scaling['foreign_cpus']:.2f} CPUs on average meanwhile). Speed-up is against 1 thread;"
        " parallel efficiency is speed-up / threads.",
        "",
    ]
    lines += _table(
        ["threads", "per call", "ns/step", "speed-up", "efficiency"],
        [
            [
                str(r["threads"]),
                _seconds(r["median_s"]),
                _ns(r["ns_per_step"]),
                f"{r['speedup']:.2f}x",
                f"{r['efficiency']:.0%}",
            ]
            for r in sweep
        ],
    )
    lines += ["", f"![speed-up against threads]({SCALING_PLOT})", ""]
    noisy = [
        load
        for load in (*kept_foreign, scaling["foreign_cpus"])
        if load > workload["max_foreign_cpus"]
    ]
    if noisy:
        lines += [
            f"Note: the machine was not quiet: other processes used up to {max(noisy):.2f} CPUs"
            " during rounds that count; multi-threaded figures suffer first.",
            "",
        ]
    lines += [f"Note: {note}" for note in results.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n"


# -- plots ---------------------------------------------------------------------------------------


def plot_ns_per_step(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(results["results"], key=lambda r: r["ns_per_step"])
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.6))
    colours = ["#1f77b4" if r["family"] == "gilfree" else "#9e9e9e" for r in rows]
    values = [r["ns_per_step"] for r in rows]
    positions = list(range(len(rows)))
    ax.barh(positions, values, color=colours)
    ax.set_yticks(positions, [f"{r['label']} [{r['numbers']:,}]" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(min(values) / 2, max(values) * 30)
    for pos, row in zip(positions, rows, strict=True):
        text = f" {_ns(row['ns_per_step'])} ns"
        if row["vs_rust"] is not None:
            text += f"  ({_times(row['vs_rust'])} vs Rust)"
        ax.text(row["ns_per_step"], pos, text, va="center", fontsize=8)
    machine = results["machine"]
    ax.set_xlabel("ns per step (number x iteration), log scale; lower is faster")
    ax.set_title(
        f"process_numbers, {results['workload']['iterations']:,} iterations: "
        f"{machine['cpu_model']}, {machine['usable_cpus']} CPUs, {machine['simd_level']}",
        fontsize=10,
    )
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = results["scaling"]["rows"]
    threads = [r["threads"] for r in sweep]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    top = max(threads)
    ax.plot([0, top], [0, top], "--", color="#9e9e9e", label="ideal (100% efficiency)")
    ax.plot(
        [0, top],
        [0, top * TARGET_EFFICIENCY_2],
        ":",
        color="#d62728",
        label=f"{TARGET_EFFICIENCY_2:.0%} efficiency",
    )
    ax.plot(threads, [r["speedup"] for r in sweep], "o-", color="#1f77b4", label="gilfree")
    for r in sweep:
        ax.annotate(
            f"{r['efficiency']:.0%}",
            (r["threads"], r["speedup"]),
            textcoords="offset points",
            xytext=(6, -12),
            fontsize=8,
        )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, top + 0.5)
    ax.set_ylim(0, top + 0.5)
    ax.set_xlabel("native threads")
    ax.set_ylabel("speed-up over 1 thread")
    machine = results["machine"]
    ax.set_title(
        f"gilfree {machine['simd_level']} scaling: {machine['cpu_model']},"
        f" {machine['usable_cpus']} CPUs",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- driver --------------------------------------------------------------------------------------


def make_data(settings: Settings, numbers: int | None = None) -> Int64Array:
    """``numbers`` (default ``settings.numbers``) random int64 from the seed, edge values first:
    a longer array starts with the shorter one."""
    count = settings.numbers if numbers is None else numbers
    rng = np.random.default_rng(settings.seed)
    info = np.iinfo(np.int64)
    data: Int64Array = rng.integers(info.min, info.max, size=count, dtype=np.int64, endpoint=True)
    edges = np.array(EDGE_VALUES[:count], dtype=np.int64)
    data[: len(edges)] = edges
    return data


@contextlib.contextmanager
def gilfree_defaults() -> Iterator[None]:
    try:
        yield
    finally:
        gilfree.set_simd_level(None)
        gilfree.configure(threads=None)


def run(settings: Settings, progress: Progress) -> dict[str, Any]:
    notes: list[str] = []
    foreign = wait_until_quiet(settings.wait_quiet_s, settings.max_foreign, progress)
    facts = machine_facts()
    facts["foreign_cpus_before"] = foreign
    load = "?" if foreign is None else f"{foreign:.2f}"
    progress.note(
        f"{facts['cpu_model']}, {facts['usable_cpus']} usable CPUs, SIMD {facts['simd_level']};"
        f" other processes use {load} CPUs"
    )
    data = make_data(settings)
    with gilfree_defaults():
        expected = expected_output(data, settings, progress)
        progress.status("importing and compiling the peers")
        cases = build_cases(settings, data, notes, facts)
        rounds_log = run_rounds(cases, settings, expected, progress)
        sweep = run_sweep(settings, data, expected, progress)
    facts["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    rows = summarise(cases, settings)
    return {
        "schema": SCHEMA,
        "mode": settings.mode,
        "command": " ".join([Path(sys.executable).name, "-m", "bench.kernel_bench", *sys.argv[1:]]),
        "machine": facts,
        "workload": {
            "numbers": settings.numbers,
            "small_numbers": settings.small_numbers,
            "iterations": settings.iterations,
            "rounds": settings.rounds,
            "rounds_run": len(rounds_log),
            "max_foreign_cpus": settings.max_foreign,
            "seed": settings.seed,
            "edge_values_first": list(EDGE_VALUES),
        },
        "results": rows,
        "rounds": rounds_log,
        "scaling": sweep,
        "targets": evaluate_targets(rows, sweep["rows"]),
        "verified": "every output equal to gilfree's; gilfree's equal to gilfree.reference",
        "notes": notes,
    }


def write_all(results: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / JSON_NAME, out / MARKDOWN_NAME, out / BARS_PLOT, out / SCALING_PLOT]
    paths[0].write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(results), encoding="utf-8")
    plot_ns_per_step(results, paths[2])
    plot_scaling(results, paths[3])
    return paths


def default_threads(usable: int) -> tuple[int, ...]:
    """Every count up to 16; beyond, powers of two and the total."""
    if usable <= 16:
        return tuple(range(1, usable + 1))
    counts = [1 << k for k in range(usable.bit_length()) if 1 << k <= usable]
    return tuple(sorted({*counts, usable}))


def parse_threads(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a list of thread counts: {text!r}") from error
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("thread counts must be >= 1")
    return tuple(sorted({1, *counts}))  # speed-up is against 1 thread


def parse_args(argv: Sequence[str] | None) -> tuple[Settings, Path, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.kernel_bench",
        description="process_numbers per step: gilfree against Python, NumPy, Numba and Rust.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and 3 rounds")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "bench" / "out", help="default bench/out"
    )
    parser.add_argument("--numbers", type=int, help="numbers per call (default 1M, quick 100k)")
    parser.add_argument(
        "--small-numbers", type=int, help="numbers for pure Python (default 2000, quick 200)"
    )
    parser.add_argument(
        "--sweep-numbers",
        type=int,
        help="numbers per call in the thread sweep (default: --numbers, or 250k per thread of"
        " the largest count if that is more; quick 25k)",
    )
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, help="timed rounds (default 7, quick 3)")
    parser.add_argument(
        "--threads",
        type=parse_threads,
        help="thread counts of the sweep, e.g. 1,2,4,8; 1 is always in (default 1..usable CPUs)",
    )
    parser.add_argument(
        "--max-foreign-load",
        type=float,
        default=0.25,
        help="CPUs other processes may use during a round before it is run again (default 0.25)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        help="seconds to wait for a quiet machine before starting (default 60)",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--allow-missing", action="store_true", help="skip peers that cannot be imported"
    )
    parser.add_argument(
        "--require-targets", action="store_true", help="exit with status 1 if a target fails"
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    rounds = args.rounds or (3 if quick else 7)
    numbers = args.numbers or (100_000 if quick else 1_000_000)
    small = min(args.small_numbers or (200 if quick else 2_000), numbers)
    usable = int(gilfree.build_info()["usable_cpus"])
    threads: tuple[int, ...] = args.threads or default_threads(usable)
    # Enough numbers that each of the sweep's threads has ~15 ms of work (quick: ~1.5 ms).
    per_thread = 25_000 if quick else 250_000
    if numbers < 1 or small < 1 or args.iterations < 1 or rounds < 1:
        parser.error("--numbers, --small-numbers, --iterations and --rounds must be >= 1")
    settings = Settings(
        mode="quick" if quick else "full",
        numbers=numbers,
        small_numbers=small,
        iterations=args.iterations,
        rounds=rounds,
        sweep_rounds=rounds * 2,
        sweep_seconds=0.5 if quick else 3.0,
        sweep_numbers=args.sweep_numbers or max(numbers, per_thread * max(threads)),
        threads=threads,
        max_foreign=args.max_foreign_load,
        wait_quiet_s=args.wait_quiet,
        seed=args.seed,
        allow_missing=bool(args.allow_missing),
    )
    return settings, args.out, bool(args.require_targets)


def main(argv: Sequence[str] | None = None) -> int:
    settings, out, require_targets = parse_args(argv)
    progress = Progress()
    try:
        results = run(settings, progress)
    except MismatchError as error:
        progress.note(f"RESULTS DIFFER: {error}")
        return 2
    except MissingPeerError as error:
        progress.note(f"missing peer: {error} (or pass --allow-missing)")
        return 3
    paths = write_all(results, out)
    for target in results["targets"]:
        progress.note(f"{target['status']:4}  {target['name']}: {_target_value(target)}")
    progress.note("wrote " + ", ".join(str(p) for p in paths))
    failed = any(t["status"] == "FAIL" for t in results["targets"])
    return 1 if failed and require_targets else 0


if __name__ == "__main__":
    sys.exit(main())
