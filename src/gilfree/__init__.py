"""gilfree: CPU-bound kernels in C++, run off the GIL on every core, for Python and FastAPI."""

from __future__ import annotations

from gilfree import aio, wire
from gilfree._api import (
    INT64_MAX,
    INT64_MIN,
    build_info,
    configure,
    executor_stats,
    process_numbers,
    set_simd_level,
    shutdown,
    simd_level,
    sum_squares,
    threads,
)
from gilfree.errors import (
    Cancelled,
    DeadlineExceeded,
    GilfreeError,
    InvalidInput,
    KernelError,
    Overloaded,
)
from gilfree.kernel import Kernel, kernel_stats

__version__ = build_info()["version"]

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "Cancelled",
    "DeadlineExceeded",
    "GilfreeError",
    "InvalidInput",
    "Kernel",
    "KernelError",
    "Overloaded",
    "__version__",
    "aio",
    "build_info",
    "configure",
    "executor_stats",
    "kernel_stats",
    "process_numbers",
    "set_simd_level",
    "shutdown",
    "simd_level",
    "sum_squares",
    "threads",
    "wire",
]
