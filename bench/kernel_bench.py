"""Kernel speed: gilfree's process_numbers against its peers, per step, measured in one run.

Every peer gets the same data (random int64 over the whole range, with the edge values of
docs/semantics.md first) and the same iteration count, and is timed per step (one number advanced
one iteration):

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
the CPUs alone, measures how many CPUs they use during each round (the load meter of
bench/harness.py), runs a round again when they used more than ``--max-foreign-load`` (0.25
CPUs), up to twice the rounds, and keeps the quietest.

Every call's output is compared with gilfree's, element by element, and gilfree's with the
pure-Python reference: any difference stops the run with exit status 2. A thread sweep gives
gilfree's speed-up and parallel efficiency from 1 to N threads, N being the CPUs this process may
use (affinity and cgroup quota). The targets: gilfree SIMD on 1 thread >= 25x the simple Rust
peer and >= 1000x pure Python per step; parallel efficiency >= 85% at 2 threads.

Writes kernels.json into ``--out`` (default bench/out); ``make bench-report`` renders it. Run
from the repository root::

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
import importlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

import gilfree
from bench import harness
from bench.harness import LoadMeter, median, progress
from gilfree import reference

__all__ = ["Plan", "main", "measure"]

# The test-vector inputs of docs/semantics.md, at the front of the data.
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
class Plan:
    mode: str
    numbers: int
    small_numbers: int
    iterations: int
    rounds: int
    sweep_rounds: int  # at least; more if calls are short
    sweep_seconds: float  # timed seconds per thread count, at least
    sweep_numbers: int  # numbers per call in the sweep
    threads: tuple[int, ...]
    max_foreign_cpus: float  # CPUs other processes may use during a round that counts
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


def gilfree_array(data: Int64Array, iterations: int) -> Int64Array:
    """gilfree.process_numbers on an int64 array (read without copying; a new array out)."""
    # numpy declares the buffer protocol to type checkers from Python 3.12 on only.
    buffer: Any = data
    result: Int64Array = gilfree.process_numbers(buffer, iterations)
    return result


def _eta(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


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


def _peer_call(peer: ModuleType, data: Int64Array) -> Callable[[int], object]:
    def call(iterations: int) -> object:
        return peer.process_numbers(data, iterations)

    return call


def _numba_cases(data: Int64Array, cpus: int, machine: dict[str, Any]) -> list[Case]:
    numba_peer = _import_peer("bench.peers.numba_peer", "pip install numba")
    numba_peer.jit_compile()  # compiled here, never in a timed call
    threads = min(cpus, int(numba_peer.max_threads()))
    machine["numba_threading_layer"] = numba_peer.threading_layer()
    call = _peer_call(numba_peer, data)

    def on(count: int) -> Callable[[], None]:
        return lambda: numba_peer.set_threads(count)

    return [
        Case("numba_1", "Numba @njit(parallel=True), 1 thread", "numba", len(data), 1, call, on(1)),
        Case(
            "numba_all",
            f"Numba @njit(parallel=True), {threads} threads",
            "numba",
            len(data),
            threads,
            call,
            on(threads),
        ),
    ]


def _rust_cases(data: Int64Array, cpus: int, machine: dict[str, Any]) -> list[Case]:
    # Rayon reads this when its pool starts (first call): the same CPUs as gilfree's pool.
    os.environ.setdefault("RAYON_NUM_THREADS", str(cpus))
    rust = _import_peer(
        "gilfree_rust_peer",
        "build it with `maturin develop --release` in bench/peers/rust_peer (make bench-peers)",
    )
    machine["rustc"] = rust.rustc_version()
    rayon_threads = int(rust.rayon_threads())
    data_list: list[int] = data.tolist()
    return [
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


def build_cases(
    plan: Plan, data: Int64Array, notes: list[str], machine: dict[str, Any]
) -> list[Case]:
    """The peers, in the order each round calls them."""
    cpus = int(machine["usable_cpus"])
    small = data[: plan.small_numbers]
    small_list: list[int] = small.tolist()
    level = str(machine["simd_level"])
    from bench.peers import numpy_peer

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
            f"gilfree {level}, 1 thread, on pure Python's input",
            "gilfree",
            len(small_list),
            1,
            lambda it: gilfree_array(small, it),
            _gilfree_config(1, None),
        ),
        Case("numpy", "NumPy, vectorised", "numpy", len(data), 1, _peer_call(numpy_peer, data)),
    ]
    for name, optional_cases in (("Numba", _numba_cases), ("Rust", _rust_cases)):
        try:
            cases += optional_cases(data, cpus, machine)
        except MissingPeerError as error:
            if not plan.allow_missing:
                raise
            notes.append(f"{name} peer skipped: {error}")
    gilfree_cases = (
        ("gilfree_scalar_1", "gilfree scalar build, 1 thread", 1, "scalar"),
        (SIMD1_KEY, f"gilfree {level}, 1 thread", 1, None),
        ("gilfree_all", f"gilfree {level}, {cpus} threads", cpus, None),
    )
    on_data = partial(gilfree_array, data)
    for key, label, threads, simd in gilfree_cases:
        prepare = _gilfree_config(threads, simd)
        cases.append(Case(key, label, "gilfree", len(data), threads, on_data, prepare))
    return cases


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


def expected_output(data: Int64Array, plan: Plan) -> Int64Array:
    """gilfree's answer on the data (default level, all threads), checked against the pure-Python
    reference on the small input. Every peer's output is then compared with it."""
    gilfree.set_simd_level(None)
    gilfree.configure(threads=None)
    expected = gilfree_array(data, plan.iterations)
    small = data[: plan.small_numbers]
    progress(f"checking gilfree against the pure-Python reference on {len(small):,} numbers")
    oracle = np.asarray(reference.process_numbers(small.tolist(), plan.iterations))
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


def ns_per_step(seconds: float, numbers: int, iterations: int) -> float:
    return seconds / (numbers * iterations) * 1e9


def run_rounds(cases: Sequence[Case], plan: Plan, expected: Int64Array) -> list[dict[str, Any]]:
    """A warm-up round, then rounds that call every case once, until ``plan.rounds`` of them ran
    while other processes used at most ``plan.max_foreign_cpus`` CPUs, or twice that many rounds
    ran; the quietest ``plan.rounds`` rounds give the samples. Returns the log."""
    last: dict[str, float] = {}
    for case in cases:
        progress(f"warm-up: {case.label} ({case.numbers:,} numbers)", transient=True)
        elapsed, output = timed(case, plan.iterations)
        check_output(case, output, expected)
        last[case.key] = elapsed
    progress("warm-up done, every peer agrees with gilfree bit for bit")

    log: list[dict[str, Any]] = []
    quiet_rounds = 0
    while quiet_rounds < plan.rounds and len(log) < 2 * plan.rounds:
        number = len(log) + 1
        meter = LoadMeter()
        times: dict[str, float] = {}
        for position, case in enumerate(cases):
            remaining = sum(last[c.key] for c in cases[position:])
            remaining += (plan.rounds - quiet_rounds - 1) * sum(last.values())
            progress(
                f"round {number} ({quiet_rounds}/{plan.rounds} quiet so far): {case.label}"
                f" ({case.numbers:,} numbers)  ETA {_eta(remaining)}",
                transient=True,
            )
            elapsed, output = timed(case, plan.iterations)
            check_output(case, output, expected)
            last[case.key] = times[case.key] = elapsed
        foreign = meter.others_cpus()
        quiet = foreign <= plan.max_foreign_cpus
        quiet_rounds += quiet
        log.append({"round": number, "foreign_cpus": foreign, "quiet": quiet, "seconds": times})
        steps = ", ".join(
            f"{c.key} {ns_per_step(times[c.key], c.numbers, plan.iterations):.3g}" for c in cases
        )
        progress(
            f"round {number} (other processes: {foreign:.2f} CPUs"
            + ("" if quiet else ", too busy: one more round")
            + f"), ns/step: {steps}"
        )
    kept = {entry["round"] for entry in sorted(log, key=lambda e: e["foreign_cpus"])[: plan.rounds]}
    for entry in log:
        entry["kept"] = entry["round"] in kept
    for case in cases:
        case.samples = [entry["seconds"][case.key] for entry in log if entry["kept"]]
        # Fixed cost per call (conversions, dispatch): the same call with no steps.
        case.overhead_s = min(timed(case, 0)[0] for _ in range(3))
    return log


def run_sweep(plan: Plan, data: Int64Array, expected: Int64Array) -> dict[str, Any]:
    """gilfree at the default SIMD level on each thread count, rounds interleaved, enough rounds
    for ``sweep_seconds`` on 1 thread. Run again (3 tries in all) if other processes used more
    than ``max_foreign_cpus`` CPUs meanwhile; the quietest try counts. On ``sweep_numbers``
    numbers: ``data`` itself, or more of the same random numbers, checked against gilfree on all
    threads.
    """
    if plan.sweep_numbers != len(data):
        progress(f"thread sweep: preparing {plan.sweep_numbers:,} numbers")
        data = make_data(plan, plan.sweep_numbers)
        _gilfree_config(max(plan.threads), None)()
        expected = gilfree_array(data, plan.iterations)

    def timed_call(threads: int) -> float:
        _gilfree_config(threads, None)()
        start = time.perf_counter()
        output = gilfree_array(data, plan.iterations)
        elapsed = time.perf_counter() - start
        if not np.array_equal(output, expected):
            raise MismatchError(f"gilfree on {threads} threads disagrees with gilfree")
        return elapsed

    progress("thread sweep: warm-up")
    warm = {threads: timed_call(threads) for threads in plan.threads}
    rounds = min(max(plan.sweep_rounds, math.ceil(plan.sweep_seconds / warm[1])), 1000)
    round_s = sum(warm.values())
    tries: list[tuple[float, dict[int, list[float]]]] = []
    while len(tries) < 3:
        samples: dict[int, list[float]] = {t: [] for t in plan.threads}
        meter = LoadMeter()
        for round_index in range(1, rounds + 1):
            progress(
                f"thread sweep, try {len(tries) + 1}: round {round_index}/{rounds}"
                f"  ETA {_eta((rounds - round_index + 1) * round_s)}",
                transient=True,
            )
            for threads in plan.threads:
                samples[threads].append(timed_call(threads))
        foreign = meter.others_cpus()
        tries.append((foreign, samples))
        if foreign <= plan.max_foreign_cpus:
            break
        progress(f"thread sweep: other processes used {foreign:.2f} CPUs, once more")
    foreign, samples = min(tries, key=lambda entry: entry[0])

    steps = len(data) * plan.iterations
    base = median(samples[1])
    rows = []
    for threads in plan.threads:
        speedup = base / median(samples[threads])
        rows.append(
            {
                "threads": threads,
                "samples_s": samples[threads],
                "median_s": median(samples[threads]),
                "ns_per_step": median(samples[threads]) / steps * 1e9,
                "speedup": speedup,
                "efficiency": speedup / threads,
            }
        )
    progress(
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


# -- results -------------------------------------------------------------------------------------


def summarise(cases: Sequence[Case], plan: Plan) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for case in cases:
        steps = case.numbers * plan.iterations
        rows.append(
            {
                "key": case.key,
                "label": case.label,
                "family": case.family,
                "numbers": case.numbers,
                "threads": case.threads,
                "samples_s": case.samples,
                "median_s": median(case.samples),
                "ns_per_step": median(case.samples) / steps * 1e9,
                "ns_per_step_min": min(case.samples) / steps * 1e9,
                "ns_per_step_max": max(case.samples) / steps * 1e9,
                "overhead_s": case.overhead_s,
            }
        )
    by_key = {row["key"]: row for row in rows}
    for row in rows:
        for peer, name in ((RUST_KEY, "vs_rust"), (PYTHON_KEY, "vs_python")):
            peer_row = by_key.get(peer)
            row[name] = peer_row["ns_per_step"] / row["ns_per_step"] if peer_row else None
    return rows


def evaluate_targets(
    rows: Sequence[dict[str, Any]], sweep: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    simd1 = next(row for row in rows if row["key"] == SIMD1_KEY)
    two = next((r for r in sweep if r["threads"] == 2), None)
    return [
        harness.target(
            f"{simd1['label']}: times faster per step than the simple Rust/PyO3 peer",
            simd1["vs_rust"],
            ">=",
            TARGET_VS_RUST,
            "x",
        ),
        harness.target(
            f"{simd1['label']}: times faster per step than pure Python",
            simd1["vs_python"],
            ">=",
            TARGET_VS_PYTHON,
            "x",
        ),
        harness.target(
            "gilfree parallel efficiency at 2 threads (speed-up / 2)",
            two["efficiency"] if two else None,
            ">=",
            TARGET_EFFICIENCY_2,
            "%",
        ),
    ]


def make_data(plan: Plan, numbers: int | None = None) -> Int64Array:
    """``numbers`` (default ``plan.numbers``) random int64 from the seed, edge values first: a
    longer array starts with the shorter one."""
    count = plan.numbers if numbers is None else numbers
    rng = np.random.default_rng(plan.seed)
    info = np.iinfo(np.int64)
    data: Int64Array = rng.integers(info.min, info.max, size=count, dtype=np.int64, endpoint=True)
    edges = np.array(EDGE_VALUES[:count], dtype=np.int64)
    data[: len(edges)] = edges
    return data


@contextlib.contextmanager
def gilfree_defaults() -> Iterator[None]:
    """Whatever a measurement configures, gilfree's default threads and SIMD level after it."""
    try:
        yield
    finally:
        gilfree.set_simd_level(None)
        gilfree.configure(threads=None)


def measure(plan: Plan) -> dict[str, Any]:
    """Every peer timed over the rounds, then the thread sweep: the run's results."""
    cpus = harness.usable_cpus()
    busy = harness.start_run(
        plan.mode,
        cpus,
        f"{plan.numbers:,} numbers x {plan.iterations:,} iterations",
        quiet_cores=plan.max_foreign_cpus,
        wait_s=plan.wait_quiet_s,
    )
    results = harness.results_head(plan.mode, asdict(plan), cpus, busy)
    notes: list[str] = []
    data = make_data(plan)
    with gilfree_defaults():
        expected = expected_output(data, plan)
        progress("importing and compiling the peers")
        cases = build_cases(plan, data, notes, results["machine"])
        results["rounds"] = run_rounds(cases, plan, expected)
        results["scaling"] = run_sweep(plan, data, expected)
    results["peers"] = summarise(cases, plan)
    results["targets"] = evaluate_targets(results["peers"], results["scaling"]["rows"])
    results["notes"] = notes
    return results


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


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Plan]:
    parser = harness.bench_parser(
        "python -m bench.kernel_bench",
        __doc__,
        quick="small sizes and 3 rounds",
        outputs="kernels.json",
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
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    rounds = args.rounds or (3 if quick else 7)
    numbers = args.numbers or (100_000 if quick else 1_000_000)
    small = min(args.small_numbers or (200 if quick else 2_000), numbers)
    threads: tuple[int, ...] = args.threads or default_threads(harness.usable_cpus())
    # Enough numbers that each of the sweep's threads has ~15 ms of work (quick: ~1.5 ms).
    per_thread = 25_000 if quick else 250_000
    if numbers < 1 or small < 1 or args.iterations < 1 or rounds < 1:
        parser.error("--numbers, --small-numbers, --iterations and --rounds must be >= 1")
    plan = Plan(
        mode="quick" if quick else "full",
        numbers=numbers,
        small_numbers=small,
        iterations=args.iterations,
        rounds=rounds,
        sweep_rounds=rounds * 2,
        sweep_seconds=0.5 if quick else 3.0,
        sweep_numbers=args.sweep_numbers or max(numbers, per_thread * max(threads)),
        threads=threads,
        max_foreign_cpus=args.max_foreign_load,
        wait_quiet_s=args.wait_quiet,
        seed=args.seed,
        allow_missing=bool(args.allow_missing),
    )
    return args, plan


def main(argv: Sequence[str] | None = None) -> int:
    args, plan = parse_args(argv)
    try:
        return harness.run_and_report(
            lambda _children: measure(plan),
            args.out / "kernels.json",
            require_targets=args.require_targets,
        )
    except MismatchError as error:
        progress(f"RESULTS DIFFER: {error}")
        return 2
    except MissingPeerError as error:
        progress(f"missing peer: {error} (or pass --allow-missing)")
        return 3


if __name__ == "__main__":
    sys.exit(main())
