"""gilfree._checks: the one place each kind of argument is checked."""

from __future__ import annotations

import math

import pytest

from gilfree import InvalidInput, wire
from gilfree._checks import (
    INT64_MAX,
    INT64_MIN,
    check_int,
    check_int64,
    check_member,
    check_seconds,
)


@pytest.mark.parametrize("bad", [True, 1.0, "1", None])
def test_an_int_is_an_int_and_never_a_bool(bad: object) -> None:
    with pytest.raises(InvalidInput, match=f"n must be an int, got {type(bad).__name__}"):
        check_int("n", bad, 0, 10)
    with pytest.raises(InvalidInput, match="must be an int"):
        check_int64("n", bad)


def test_int_ranges_are_inclusive() -> None:
    assert check_int("n", 0, 0, 10) == 0
    assert check_int("n", 10, 0, 10) == 10
    with pytest.raises(InvalidInput, match="n must be from 0 to 10, got 11"):
        check_int("n", 11, 0, 10)
    assert check_int64("a", INT64_MIN) == INT64_MIN
    assert check_int64("a", INT64_MAX) == INT64_MAX
    with pytest.raises(InvalidInput, match="a is outside the signed 64-bit integer range"):
        check_int64("a", INT64_MAX + 1)


def test_seconds() -> None:
    assert check_seconds("t", 2, positive=True) == 2.0
    assert check_seconds("t", 0, positive=False) == 0.0
    assert check_seconds("t", math.inf, positive=True, finite=False) == math.inf
    for bad, positive in [(0, True), (-1, False), (math.nan, False), (math.inf, True)]:
        with pytest.raises(InvalidInput, match=r"t must be a (positive|non-negative)"):
            check_seconds("t", bad, positive=positive)
    with pytest.raises(InvalidInput, match="t must be a number of seconds, got bool"):
        check_seconds("t", True, positive=True)


def test_members_of_an_enum() -> None:
    assert check_member("f", wire.NumbersFormat.JSON, wire.NumbersFormat) is wire.NumbersFormat.JSON
    with pytest.raises(
        InvalidInput, match=r"f must be one of NumbersFormat.JSON, NumbersFormat.INT64"
    ):
        check_member("f", "json", wire.NumbersFormat)
