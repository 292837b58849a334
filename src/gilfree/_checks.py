"""The argument checks of gilfree's Python API, each kind in one place: an argument refused is an
``InvalidInput`` that names it, whichever function took it."""

from __future__ import annotations

import math
from typing import TypeVar

from gilfree.errors import InvalidInput

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "UINT64_MAX",
    "check_flag",
    "check_int",
    "check_int64",
    "check_member",
    "check_seconds",
]

E = TypeVar("E")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


def _check_is_int(name: str, value: object) -> int:
    # bool is an int to Python, never to gilfree.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an int, got {type(value).__name__}")
    return value


def check_int(name: str, value: object, low: int, high: int) -> int:
    """``value``, an int (not a bool) from ``low`` to ``high``."""
    checked = _check_is_int(name, value)
    if not low <= checked <= high:
        raise InvalidInput(f"{name} must be from {low} to {high}, got {checked}")
    return checked


def check_int64(name: str, value: object) -> int:
    """``value``, an int (not a bool) within the signed 64-bit range."""
    checked = _check_is_int(name, value)
    if not INT64_MIN <= checked <= INT64_MAX:
        raise InvalidInput(f"{name} is outside the signed 64-bit integer range")
    return checked


def check_seconds(name: str, value: object, *, positive: bool, finite: bool = True) -> float:
    """``value`` as a float number of seconds (an int or a float, not a bool): above 0 when
    ``positive``, else at least 0; NaN never, infinity only where not ``finite``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if (
        math.isnan(seconds)
        or seconds < 0
        or (positive and seconds == 0)
        or (finite and math.isinf(seconds))
    ):
        bound = "positive" if positive else "non-negative"
        kind = "finite " if finite else ""
        raise InvalidInput(f"{name} must be a {bound} {kind}number of seconds, got {value}")
    return seconds


def check_flag(name: str, value: object) -> bool | None:
    """``value``, True, False or None (a setting whose None means "decide for me")."""
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{name} must be True, False or None, got {type(value).__name__}")
    return value


def check_member(name: str, value: object, kind: type[E]) -> E:
    """``value``, a member of the enum ``kind``."""
    if not isinstance(value, kind):
        members = ", ".join(f"{kind.__name__}.{m.name}" for m in kind)  # type: ignore[attr-defined]
        raise InvalidInput(f"{name} must be one of {members}, got {value!r}")
    return value
