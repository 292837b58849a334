"""Arrow arrays in through the Arrow PyCapsule interface: no copy, no pyarrow dependency."""

from __future__ import annotations

import asyncio

import numpy as np
import pyarrow as pa
import pytest

import gilfree
from gilfree import INT64_MAX, INT64_MIN, InvalidInput, _kernels, reference


def test_arrow_array_in_numpy_out() -> None:
    data = [0, 1, -1, INT64_MIN, INT64_MAX]
    out = gilfree.process_numbers(pa.array(data, type=pa.int64()), 1000)
    assert isinstance(out, np.ndarray)
    assert out.tolist() == reference.process_numbers(data, 1000)


def test_slices_honour_the_offset() -> None:
    array = pa.array(range(100), type=pa.int64()).slice(37, 5)
    assert gilfree.process_numbers(array, 3).tolist() == reference.process_numbers(range(37, 42), 3)


def test_values_are_read_in_place() -> None:
    array = pa.array(range(1000), type=pa.int64()).slice(10)
    view = _kernels.arrow_int64_values(array)
    assert view.format == "q"
    assert len(view) == 990
    address = np.frombuffer(view, dtype=np.int64).ctypes.data
    assert address == array.buffers()[1].address + 10 * 8  # the Arrow buffer itself


def test_view_keeps_the_array_alive() -> None:
    view = _kernels.arrow_int64_values(pa.array([5, 6, 7], type=pa.int64()))
    # The producer's array is gone from Python; the capsule the view holds keeps its memory.
    assert view.tolist() == [5, 6, 7]


def test_awaited_arrow_input() -> None:
    array = pa.array([3, 4], type=pa.int64())
    out = asyncio.run(gilfree.aio.process_numbers(array, 10))
    assert out.tolist() == reference.process_numbers([3, 4], 10)


def test_empty_arrow_array() -> None:
    assert gilfree.process_numbers(pa.array([], type=pa.int64()), 5).tolist() == []


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (pa.array([1, None], type=pa.int64()), "nulls"),
        (pa.array([1.0, 2.0]), "int64"),
        (pa.array([1, 2], type=pa.int32()), "int64"),
        (pa.array(["1"]), "int64"),
    ],
)
def test_unsupported_arrow_arrays_are_invalid_input(array: pa.Array, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        gilfree.process_numbers(array, 1)


class BrokenArrow:
    def __arrow_c_array__(self, requested_schema: object = None) -> object:
        return ("not", "capsules")


def test_broken_producer_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="capsule"):
        gilfree.process_numbers(BrokenArrow(), 1)
