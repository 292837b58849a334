"""Property tests: the native kernels equal gilfree.reference over the whole int64 range."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gilfree
from gilfree import INT64_MAX, INT64_MIN, reference

EDGES = [
    INT64_MIN,
    INT64_MIN + 1,
    -1_000_000_008,
    -1_000_000_007,
    -1_000_000_006,
    -500_000_004,
    -2,
    -1,
    0,
    1,
    500_000_003,
    1_000_000_006,
    1_000_000_007,
    INT64_MAX - 1,
    INT64_MAX,
]
int64s = st.one_of(st.sampled_from(EDGES), st.integers(INT64_MIN, INT64_MAX))


@settings(max_examples=200, deadline=None)
@given(st.lists(int64s, max_size=40), st.sampled_from([0, 1, 2]))
def test_native_equals_reference_few_iterations(numbers: list[int], iterations: int) -> None:
    assert gilfree.process_numbers(numbers, iterations) == reference.process_numbers(
        numbers, iterations
    )


@settings(max_examples=30, deadline=None)
@given(st.lists(int64s, max_size=8))
def test_native_equals_reference_1000_iterations(numbers: list[int]) -> None:
    assert gilfree.process_numbers(numbers, 1000) == reference.process_numbers(numbers, 1000)


@settings(max_examples=100, deadline=None)
@given(st.lists(int64s, max_size=20), st.integers(0, 64))
def test_native_equals_reference_random_counts(numbers: list[int], iterations: int) -> None:
    assert gilfree.process_numbers(numbers, iterations) == reference.process_numbers(
        numbers, iterations
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(int64s, max_size=20), st.integers(0, 20))
def test_buffer_path_equals_list_path(numbers: list[int], iterations: int) -> None:
    as_array = gilfree.process_numbers(np.array(numbers, dtype=np.int64), iterations)
    assert as_array.tolist() == gilfree.process_numbers(numbers, iterations)


@given(int64s, int64s)
def test_sum_squares_equals_reference(a: int, b: int) -> None:
    assert gilfree.sum_squares(a, b) == reference.sum_squares(a, b)


def _numpy_oracle(values: np.ndarray, iterations: int) -> np.ndarray:
    """process_numbers in NumPy, independently of gilfree: int64 arithmetic wraps, and np.fmod
    keeps the dividend's sign (C's and Rust's `%`)."""
    v = values.copy()
    with np.errstate(over="ignore"):
        for _ in range(iterations):
            v = np.fmod((v + 1) * 2, reference.MODULUS)
    return v


def test_numpy_oracle_matches_the_reference() -> None:
    edges = np.array(EDGES, dtype=np.int64)
    for iterations in (0, 1, 2, 7):
        assert _numpy_oracle(edges, iterations).tolist() == reference.process_numbers(
            EDGES, iterations
        )


# A chunk of process_numbers is about 1.6M steps at the widest SIMD level (fewer at the others,
# cpp/core/ops.cpp), so inputs of 6.4M to 9.6M steps span at least four chunks, spread over the
# pool's threads.
_SPANNED_STEPS = (6_400_000, 9_600_000)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(30, 3000),
    st.floats(0, 1),
    st.sampled_from([1, 2, 3, 4]),
    st.lists(st.sampled_from(EDGES), max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_many_chunks_on_any_thread_count_equal_the_oracle(
    iterations: int, where: float, threads: int, edges: list[int], seed: int
) -> None:
    low, high = (steps // iterations for steps in _SPANNED_STEPS)
    size = low + int(where * (high - low))
    values = np.random.default_rng(seed).integers(INT64_MIN, INT64_MAX, size, endpoint=True)
    values[: len(edges)] = edges
    values[size - len(edges) :] = edges  # at both ends: the first chunk and the last
    expected = _numpy_oracle(values, iterations)
    gilfree.configure(threads=threads)
    try:
        assert np.array_equal(gilfree.process_numbers(values, iterations), expected)
        assert gilfree.process_numbers(values.tolist(), iterations) == expected.tolist()
    finally:
        gilfree.configure()
