"""gilfree.reference: the pure-Python oracle itself must match the contract's vectors."""

from __future__ import annotations

import pytest

from contract_vectors import cases
from gilfree import reference


@pytest.mark.parametrize(("x", "iterations", "expected"), [c for c in cases() if c[1] <= 1000])
def test_reference_matches_contract_vectors(x: int, iterations: int, expected: int) -> None:
    assert reference.process_numbers([x], iterations) == [expected]


def test_wrap64_and_trunc_rem() -> None:
    assert reference.wrap64(2**63) == -(2**63)
    assert reference.wrap64(-(2**63) - 1) == 2**63 - 1
    assert reference.wrap64(2**64 + 5) == 5
    assert reference.trunc_rem(-7, 3) == -1  # Python's -7 % 3 would be 2
    assert reference.trunc_rem(7, -3) == 1
    assert reference.trunc_rem(-6, 3) == 0
