"""The synchronous Python API: contract vectors, every input kind, errors, thread counts."""

from __future__ import annotations

import array
import os
import platform
import random
import sys
import sysconfig
import threading
from pathlib import Path

import numpy as np
import pytest

import gilfree
from contract_vectors import cases
from gilfree import INT64_MAX, INT64_MIN, InvalidInput, reference


@pytest.mark.parametrize(("x", "iterations", "expected"), cases())
def test_contract_vectors(x: int, iterations: int, expected: int) -> None:
    assert gilfree.process_numbers([x], iterations) == [expected]


def test_default_iterations_is_1000() -> None:
    assert gilfree.process_numbers([0, 1]) == [376846411, 65269614]


def test_empty_input() -> None:
    assert gilfree.process_numbers([], 1000) == []
    out = gilfree.process_numbers(np.array([], dtype=np.int64), 1000)
    assert isinstance(out, np.ndarray)
    assert out.size == 0


def test_list_in_list_out_and_input_untouched() -> None:
    numbers = [5, -5, INT64_MAX]
    out = gilfree.process_numbers(numbers, 3)
    assert type(out) is list
    assert numbers == [5, -5, INT64_MAX]
    assert out == reference.process_numbers(numbers, 3)


def test_other_sequences_give_lists() -> None:
    assert gilfree.process_numbers((0, 1), 1) == [2, 4]
    assert gilfree.process_numbers(range(3), 1) == [2, 4, 6]


def test_numpy_in_numpy_out_without_touching_input() -> None:
    data = np.array([0, 1, -1, INT64_MIN], dtype=np.int64)
    before = data.copy()
    out = gilfree.process_numbers(data, 1000)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.int64
    assert out.tolist() == [376846411, 65269614, 688423208, 376846411]
    assert np.array_equal(data, before)


def test_array_and_memoryview_and_readonly_buffers() -> None:
    expected = reference.process_numbers([7, 8, 9], 2)
    assert gilfree.process_numbers(array.array("q", [7, 8, 9]), 2).tolist() == expected
    assert gilfree.process_numbers(memoryview(array.array("q", [7, 8, 9])), 2).tolist() == expected
    frozen = np.array([7, 8, 9], dtype=np.int64)
    frozen.flags.writeable = False
    assert gilfree.process_numbers(frozen, 2).tolist() == expected
    raw = memoryview(np.array([7, 8, 9], dtype="<i8").tobytes()).cast("q")
    assert gilfree.process_numbers(raw, 2).tolist() == expected


def test_buffer_without_numpy_gives_array(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_numpy(name: str, *args: object, **kwargs: object) -> object:
        if name == "numpy":
            raise ImportError("numpy hidden by the test")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_numpy)
    out = gilfree.process_numbers(array.array("q", [0, 1]), 1)
    assert isinstance(out, array.array)
    assert out.typecode == "q"
    assert out.tolist() == [2, 4]


@pytest.mark.parametrize(
    ("numbers", "index"),
    [
        ([1, 2, 2**63], 2),
        ([-(2**63) - 1], 0),
        ([1, 1.5], 1),
        ([1, "12"], 1),
        ([None], 0),
        ([[1]], 0),
    ],
)
def test_bad_list_elements_name_their_index(numbers: list[object], index: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        gilfree.process_numbers(numbers, 1)  # type: ignore[arg-type]
    assert caught.value.index == index
    assert f"numbers[{index}]" in str(caught.value)


@pytest.mark.parametrize(
    "numbers",
    [
        np.array([1.0, 2.0]),
        np.array([1, 2], dtype=np.int32),
        np.array([1, 2], dtype=np.uint64),
        np.zeros((2, 2), dtype=np.int64),
        np.arange(10, dtype=np.int64)[::2],
        b"\x00" * 8,
        "12",
        42,
        None,
    ],
)
def test_bad_containers_are_invalid_input(numbers: object) -> None:
    with pytest.raises(InvalidInput):
        gilfree.process_numbers(numbers, 1)  # type: ignore[call-overload]


@pytest.mark.parametrize("iterations", [-1, 2**64, 1.0, "3", None, True])
def test_bad_iterations(iterations: object) -> None:
    with pytest.raises(InvalidInput):
        gilfree.process_numbers([1], iterations)  # type: ignore[arg-type]


def test_sum_squares() -> None:
    assert gilfree.sum_squares(5, 10) == 125
    assert gilfree.sum_squares(INT64_MIN, INT64_MIN) == 170141183460469231731687303715884105728
    assert gilfree.sum_squares(INT64_MAX, INT64_MIN) == INT64_MAX**2 + INT64_MIN**2


@pytest.mark.parametrize(("a", "b"), [(2**63, 0), (0, -(2**63) - 1), (1.5, 0), ("5", 1)])
def test_sum_squares_rejects_bad_input(a: object, b: object) -> None:
    with pytest.raises(InvalidInput):
        gilfree.sum_squares(a, b)  # type: ignore[arg-type]


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("threads", [1, 2, 7])
def test_same_result_for_any_thread_count(threads: int) -> None:
    rng = np.random.default_rng(threads)
    data = rng.integers(INT64_MIN, INT64_MAX, size=50_021, dtype=np.int64, endpoint=True)
    gilfree.configure(threads)
    assert gilfree.threads() == threads
    out = gilfree.process_numbers(data, 1000)
    gilfree.configure(1)
    single = gilfree.process_numbers(data, 1000)
    assert np.array_equal(out, single)
    sample = random.Random(threads).sample(range(data.size), 20)
    assert [int(out[i]) for i in sample] == reference.process_numbers(
        [int(data[i]) for i in sample], 1000
    )


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("threads", [0, -1, 5000, 1.5, True])
def test_configure_rejects_bad_thread_counts(threads: object) -> None:
    with pytest.raises(InvalidInput):
        gilfree.configure(threads)  # type: ignore[arg-type]


@pytest.mark.usefixtures("restore_threads")
def test_pinning_one_thread_per_cpu_by_default() -> None:
    cpus = len(os.sched_getaffinity(0))
    gilfree.configure(cpus)
    assert gilfree.executor_stats()["pinned_threads"] == (cpus if cpus >= 2 else 0)
    gilfree.configure(cpus + 1)  # more threads than CPUs: left to the scheduler
    assert gilfree.executor_stats()["pinned_threads"] == 0
    gilfree.configure(cpus, pin_threads=False)
    assert gilfree.executor_stats()["pinned_threads"] == 0
    gilfree.configure(cpus + 1, pin_threads=True)
    assert gilfree.executor_stats()["pinned_threads"] == cpus + 1
    assert gilfree.process_numbers([1, 2, 3], 10) == reference.process_numbers([1, 2, 3], 10)


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("pin", [1, "yes", 0.0])
def test_configure_rejects_pinning_that_is_not_a_bool(pin: object) -> None:
    with pytest.raises(InvalidInput, match="pin_threads"):
        gilfree.configure(2, pin_threads=pin)  # type: ignore[arg-type]


def test_kernel_releases_the_gil() -> None:
    # While a long native call runs in one thread, this thread keeps running Python code.
    data = np.arange(200_000, dtype=np.int64)
    done = threading.Event()
    ticks = 0

    def work() -> None:
        gilfree.process_numbers(data, 5000)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    while not done.is_set():
        ticks += 1
    worker.join()
    assert ticks > 1000


def test_build_info() -> None:
    info = gilfree.build_info()
    assert info["version"] == gilfree.__version__
    assert info["build_type"] == os.environ.get("GILFREE_EXPECT_BUILD_TYPE", "Release")
    assert info["threads"] >= 1
    assert info["usable_cpus"] >= 1
    assert set(info["simd"]) <= set(_CPUINFO_FLAGS) | {"neon"}


# What /proc/cpuinfo calls the instruction sets build_info reports, in its order.
_CPUINFO_FLAGS = {"sse4.2": "sse4_2", "avx2": "avx2", "avx512f": "avx512f",
                  "avx512bw": "avx512bw", "avx512vl": "avx512vl"}  # fmt: skip


_MACHINE = platform.machine().lower()
_CPUINFO = Path("/proc/cpuinfo")


@pytest.mark.skipif(
    _MACHINE not in ("aarch64", "arm64")
    and not (_MACHINE in ("x86_64", "amd64") and _CPUINFO.is_file()),
    reason="the CPU's SIMD sets are read from /proc/cpuinfo on x86-64, or known on aarch64",
)
def test_simd_sets_are_the_cpus() -> None:
    # Read independently of gilfree: /proc/cpuinfo's flags on x86-64 Linux, NEON on aarch64.
    if _MACHINE in ("aarch64", "arm64"):
        expected = ["neon"]
    else:
        flags: set[str] = set()
        for line in _CPUINFO.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
        expected = [name for name, flag in _CPUINFO_FLAGS.items() if flag in flags]
    assert gilfree.build_info()["simd"] == expected


def test_extensions_use_the_stable_abi_from_3_12() -> None:
    # One abi3 build serves every CPython from 3.12 (nanobind's STABLE_ABI, wheel.py-api); before
    # 3.12 the modules are built for the running version.
    expected = (
        ".abi3.so" if sys.version_info >= (3, 12) else f".{sysconfig.get_config_var('SOABI')}.so"
    )
    for module in (gilfree._core, gilfree._kernels):
        assert Path(module.__file__ or "").name.endswith(expected), module.__file__
