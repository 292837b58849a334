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
