"""process_numbers vectorised with NumPy: a peer for the kernel benchmark.

The natural NumPy version: the whole array advances one step at a time, in place, with three
ufunc passes per step. int64 array arithmetic wraps silently (two's complement), which is
``wrap64`` of docs/semantics.md. The remainder must have the sign of the dividend: ``np.fmod``
does that (C's ``%``); ``np.remainder`` / ``%`` would give Python's floored remainder and wrong
results for negative values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MODULUS", "process_numbers"]

MODULUS = 1_000_000_007


def process_numbers(numbers: Any, iterations: int = 1000) -> npt.NDArray[np.int64]:
    """Applies ``iterations`` steps to every number of ``numbers`` (any int64 array-like)."""
    values = np.array(numbers, dtype=np.int64, copy=True)
    for _ in range(iterations):
        np.add(values, 1, out=values)
        np.multiply(values, 2, out=values)
        np.fmod(values, MODULUS, out=values)
    return values
