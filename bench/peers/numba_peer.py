"""process_numbers compiled by Numba with ``@njit(parallel=True)``: a peer for the kernel benchmark.

One ``prange`` over the numbers, each number advanced ``iterations`` steps in a plain loop, the
way a Numba user writes it. Numba's int64 arithmetic wraps like ``wrap64`` (docs/semantics.md); its
``%`` follows Python (floored), so the remainder with the sign of the dividend is derived from
the floored one. ``np.fmod`` is no way out: inside ``@njit`` (Numba 0.68) on int64 it computes an
unsigned remainder, unlike NumPy's own: ``fmod(-5, 1_000_000_007)`` gives 582344003, which is
``(2**64 - 5) % 1_000_000_007``, not -5.

:func:`jit_compile` runs the JIT up front, so that benchmarks time the compiled code only;
:func:`set_threads` sets how many of Numba's threads the ``prange`` uses.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "MODULUS",
    "jit_compile",
    "max_threads",
    "process_numbers",
    "set_threads",
    "threading_layer",
]

MODULUS = 1_000_000_007


@numba.njit(inline="always")
def _step(value: int) -> int:
    wrapped = (value + 1) * 2  # int64, wrapping
    rem = wrapped % MODULUS  # floored: in [0, MODULUS)
    if rem != 0 and wrapped < 0:
        rem -= MODULUS  # truncated: the sign of the dividend
    return rem


@numba.njit(parallel=True)
def _process_numbers(numbers: Any, iterations: Any) -> Any:
    out = np.empty_like(numbers)
    for i in numba.prange(numbers.shape[0]):
        value = numbers[i]
        for _ in range(iterations):
            value = _step(value)
        out[i] = value
    return out


def process_numbers(numbers: npt.NDArray[np.int64], iterations: int = 1000) -> Any:
    """Applies ``iterations`` steps to every number of the int64 array ``numbers``."""
    return _process_numbers(numbers, np.int64(iterations))


def jit_compile() -> None:
    """Compiles the kernel for int64 arrays now (the first call would otherwise pay for it)."""
    process_numbers(np.zeros(4, dtype=np.int64), 1)


def max_threads() -> int:
    """Threads Numba started (``NUMBA_NUM_THREADS``, else the CPU count)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def set_threads(threads: int) -> None:
    """Threads that the next ``prange`` uses, at most :func:`max_threads`."""
    numba.set_num_threads(min(threads, max_threads()))


def threading_layer() -> str:
    """The threading layer Numba chose (valid after the first parallel call)."""
    return str(numba.threading_layer())  # type: ignore[attr-defined]
