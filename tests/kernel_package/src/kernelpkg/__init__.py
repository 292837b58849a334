"""kernelpkg: kernels of a package other than gilfree, on gilfree's runtime.

Each kernel is a ``gilfree.Kernel``: call it, or ``await gilfree.aio.run(kernel, ...)``.
"""

from __future__ import annotations

from kernelpkg._native import (
    TrigramIndex,
    bad_chunks,
    compiler,
    entropy,
    entropy_into,
    entropy_overdeclared,
    entropy_underdeclared,
    explode,
    live_jobs,
    positional_entropy,
    search,
    sum_squares,
)

__all__ = [
    "TrigramIndex",
    "bad_chunks",
    "compiler",
    "entropy",
    "entropy_into",
    "entropy_overdeclared",
    "entropy_underdeclared",
    "explode",
    "live_jobs",
    "positional_entropy",
    "search",
    "sum_squares",
]
