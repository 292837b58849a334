"""Pure-Python semantics of every gilfree kernel (docs/semantics.md section 1): the oracle for
the tests."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MODULUS", "process_numbers", "process_step", "sum_squares", "trunc_rem", "wrap64"]

MODULUS = 1_000_000_007
_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63


def wrap64(value: int) -> int:
    """Two's-complement wrap of ``value`` to a signed 64-bit integer."""
    value &= _MASK64
    return value - (1 << 64) if value & _SIGN64 else value


def trunc_rem(a: int, m: int) -> int:
    """Remainder with the sign of the dividend (C++/Rust ``%``), unlike Python's ``%``."""
    r = abs(a) % abs(m)
    return -r if a < 0 else r


def process_step(v: int) -> int:
    """One step: ``trunc_rem(wrap64(wrap64(v + 1) * 2), MODULUS)``."""
    return trunc_rem(wrap64(wrap64(v + 1) * 2), MODULUS)


def process_numbers(numbers: Iterable[int], iterations: int = 1000) -> list[int]:
    """Applies ``iterations`` steps to each number, one step at a time."""
    out = []
    for x in numbers:
        v = x
        for _ in range(iterations):
            v = process_step(v)
        out.append(v)
    return out


def sum_squares(a: int, b: int) -> int:
    """The exact ``a*a + b*b``."""
    return a * a + b * b
