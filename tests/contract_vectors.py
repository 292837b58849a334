"""docs/semantics.md section 1's test-vector table, verbatim: (input, {iterations: output})."""

from __future__ import annotations

ITERATIONS = (0, 1, 2, 1000, 100000)

VECTORS: list[tuple[int, tuple[int, int, int, int, int]]] = [
    (0, (0, 2, 6, 376846411, 215447031)),
    (1, (1, 4, 10, 65269614, 823170551)),
    (-1, (-1, 0, 2, 688423208, 607723518)),
    (-2, (-2, -2, -2, -2, -2)),
    (9223372036854775807, (9223372036854775807, 0, 2, 688423208, 607723518)),
    (-9223372036854775808, (-9223372036854775808, 2, 6, 376846411, 215447031)),
    (1000000006, (1000000006, 0, 2, 688423208, 607723518)),
    (-1000000006, (-1000000006, -1000000003, -999999997, -934730393, -176829456)),
    (-1000000007, (-1000000007, -1000000005, -1000000001, -623153596, -784552976)),
    (-500000004, (-500000004, -1000000006, -1000000003, -967365201, -88414729)),
]


def cases() -> list[tuple[int, int, int]]:
    """(input, iterations, expected) for every cell of the table."""
    return [(x, it, out) for x, outs in VECTORS for it, out in zip(ITERATIONS, outs, strict=True)]
