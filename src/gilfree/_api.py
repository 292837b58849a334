"""The synchronous Python API: argument checks, then the native kernels with the GIL released."""

from __future__ import annotations

import atexit
import math
import os
from array import array
from typing import TYPE_CHECKING, Any, overload

from gilfree import _core, _kernels
from gilfree._checks import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    check_flag,
    check_int,
    check_int64,
    check_seconds,
)
from gilfree.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt
    from typing_extensions import Buffer

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "build_info",
    "configure",
    "executor_stats",
    "process_numbers",
    "set_simd_level",
    "shutdown",
    "simd_level",
    "sum_squares",
    "threads",
]

# The kernel counts iterations in 64 bits; callers such as the server set tighter caps.
_ITERATIONS_MAX = UINT64_MAX
_THREADS_ENV = "GILFREE_THREADS"
_SIMD_ENV = "GILFREE_SIMD"
_PIN_ENV = "GILFREE_PIN_THREADS"
_PIN_WORDS: dict[str, bool | None] = {"1": True, "true": True, "yes": True, "on": True}
_PIN_WORDS.update({"0": False, "false": False, "no": False, "off": False, "auto": None})
_UNLIMITED = UINT64_MAX
# Most native threads one process may ask for: far past any machine, far short of exhausting one.
MAX_THREADS = 4096
# Jobs estimated at most this many CPU seconds run at once on the calling thread (see configure).
DEFAULT_INLINE_MAX_S = 10e-6


def _threads_from_env() -> int | None:
    text = os.environ.get(_THREADS_ENV, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(f"{_THREADS_ENV} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise InvalidInput(f"{_THREADS_ENV} must be a positive integer, got {text!r}")
    return value


def _pinning_from_env() -> bool | None:
    text = os.environ.get(_PIN_ENV, "").strip().lower()
    if not text:
        return None
    if text not in _PIN_WORDS:
        raise InvalidInput(f"{_PIN_ENV} must be true, false or auto, got {text!r}")
    return _PIN_WORDS[text]


def _pinning(pin_threads: bool | None) -> _core.ThreadPinning:
    if pin_threads is None:
        return _core.ThreadPinning.AUTO
    return _core.ThreadPinning.ALWAYS if pin_threads else _core.ThreadPinning.NEVER


def configure(
    threads: int | None = None,
    max_queued_cpu_s: float | None = None,
    *,
    inline_max_s: float | None = None,
    pin_threads: bool | None = None,
) -> None:
    """Restarts the native worker pool.

    ``threads=None`` means ``GILFREE_THREADS`` if set, else the CPUs this process may use
    (affinity mask and cgroup quota). ``max_queued_cpu_s`` bounds the work admitted and not yet
    finished, in estimated CPU seconds (every kernel's jobs in the same unit: their declared costs
    corrected by what each kernel's jobs measured); past it, submissions fail at once with
    ``Overloaded``, unless nothing else is admitted (``None``: unbounded). ``inline_max_s`` is the
    estimate at or below which a job runs at once on the calling thread instead of the pool
    (``None``: 10 microseconds; 0: never). ``pin_threads`` pins each worker to one CPU of the
    affinity mask (True), none (False), or, with ``None`` (``GILFREE_PIN_THREADS`` if set, else
    automatic), pins them when the pool has one worker for each CPU of the mask, 2 or more: then
    no two workers share a CPU, and a worker woken for a job starts at once on its own CPU
    instead of waiting where the scheduler put it; a smaller pool stays free to move. Work
    already admitted finishes on the old pool.
    """
    if threads is None:
        threads = _threads_from_env()
    pin_threads = check_flag("pin_threads", pin_threads)
    if pin_threads is None:
        pin_threads = _pinning_from_env()
    pinning = _pinning(pin_threads)
    if threads is not None:
        threads = check_int("threads", threads, 1, MAX_THREADS)
    limit = (
        math.inf
        if max_queued_cpu_s is None
        else check_seconds("max_queued_cpu_s", max_queued_cpu_s, positive=True, finite=False)
    )
    inline = (
        DEFAULT_INLINE_MAX_S
        if inline_max_s is None
        else check_seconds("inline_max_s", inline_max_s, positive=False, finite=False)
    )
    _core.set_inline_max_s(inline)
    _core.configure_executor(threads or 0, limit, pinning)


def shutdown(grace_s: float = 0.0) -> None:
    """Stops the native pool: no new work, admitted jobs get ``grace_s`` seconds, the rest are
    cancelled, the workers are joined. The next call into gilfree starts a new pool."""
    _core.shutdown_executor(float(grace_s))


def executor_stats() -> dict[str, int | float]:
    """Counters (jobs ``submitted`` to the workers and run ``inline_runs`` at once, ``rejected``,
    ``succeeded``, ``failed``, ``cancelled``, ``deadline_exceeded``) and gauges (``threads``,
    ``busy_workers``, ``active_jobs``, ``queued_cpu_s``: estimated CPU seconds admitted and not
    finished, ``max_queued_cpu_s``: its limit, inf for none) of the native pool. Per kernel:
    ``gilfree.kernel_stats()``."""
    return dict(_core.executor_stats())


def simd_level() -> str:
    """The kernel build in use: ``scalar``, ``sse4``, ``avx2``, ``avx512`` or ``neon``."""
    return _kernels.simd_level()


def set_simd_level(level: str | None = None) -> None:
    """Forces a kernel build (one of ``build_info()["simd_levels"]``); ``None`` means
    ``GILFREE_SIMD`` if set, else the widest the CPU runs. Results never depend on it."""
    if level is None:
        level = os.environ.get(_SIMD_ENV, "").strip() or _kernels.simd_levels()[-1]
    if not isinstance(level, str):
        raise InvalidInput(f"a SIMD level is a str, got {type(level).__name__}")
    _kernels.set_simd_level(level)  # InvalidInput naming the choices for a level it cannot use


def threads() -> int:
    """Native worker threads of this process."""
    return int(_core.executor_threads())


def _check_iterations(iterations: int) -> int:
    return check_int("iterations", iterations, 0, _ITERATIONS_MAX)


def _new_int64_array(n: int) -> Any:
    try:
        import numpy as np
    except ImportError:
        return array("q", bytes(8 * n))
    return np.empty(n, dtype=np.int64)


@overload
def process_numbers(numbers: list[int], iterations: int = 1000) -> list[int]: ...
@overload
def process_numbers(numbers: Sequence[int], iterations: int = 1000) -> list[int]: ...
@overload
def process_numbers(
    numbers: npt.NDArray[np.int64], iterations: int = 1000
) -> npt.NDArray[np.int64]: ...
@overload
def process_numbers(numbers: Buffer, iterations: int = 1000) -> Any: ...
def process_numbers(numbers: Any, iterations: int = 1000) -> Any:
    """Applies ``iterations`` steps of the contract's recurrence to every number.

    A list (or other sequence of ints) gives a list. A C-contiguous one-dimensional int64 buffer
    (numpy array, ``array('q')``, memoryview) or an Arrow int64 array without nulls (anything
    with ``__arrow_c_array__``: pyarrow, polars, ...) is read without copying and gives a numpy
    int64 array when numpy is installed, else an ``array('q')``; both hand their memory on
    without a copy (buffer protocol, and DLPack for numpy). Raises ``InvalidInput`` (with the
    element's ``index``) for a non-integer or an integer outside int64.
    """
    iterations = _check_iterations(iterations)
    as_list = numbers if isinstance(numbers, list) else _numbers_as_list(numbers)
    if as_list is not None:
        return _kernels.process_numbers_list(as_list, iterations)
    numbers = _as_buffer(numbers)
    with memoryview(numbers) as view:
        out = _new_int64_array(view.nbytes // 8 if view.itemsize == 8 else 0)
    return _kernels.process_numbers_buffer(numbers, out, iterations)


def _numbers_as_list(numbers: object) -> list[int] | None:
    """``numbers`` as a list when it is a sequence of ints, None when it exports a buffer."""
    if isinstance(numbers, list):
        return numbers
    if hasattr(numbers, "__arrow_c_array__"):
        return None
    if isinstance(numbers, (bytes, bytearray, str)):
        raise InvalidInput(
            f"numbers must be a sequence of ints or an int64 buffer, got {type(numbers).__name__}"
        )
    try:
        memoryview(numbers).release()  # type: ignore[arg-type]
    except TypeError:
        pass
    else:
        return None
    try:
        return list(numbers)  # type: ignore[call-overload,no-any-return]
    except TypeError:
        raise InvalidInput(
            f"numbers must be a sequence of ints or an int64 buffer, got {type(numbers).__name__}"
        ) from None


def _as_buffer(numbers: Any) -> Any:
    """A buffer of ``numbers``: Arrow arrays (pyarrow, polars, ... through the Arrow PyCapsule
    interface) become a memoryview of their own values; buffers stay as they are."""
    if hasattr(numbers, "__arrow_c_array__") and not hasattr(numbers, "__buffer__"):
        return _kernels.arrow_int64_values(numbers)
    return numbers


def sum_squares(a: int, b: int) -> int:
    """The exact ``a*a + b*b`` of two signed 64-bit integers (up to 2**127)."""
    check_int64("a", a)
    check_int64("b", b)
    result: int = _kernels.sum_squares(a, b)
    return result


def build_info() -> dict[str, Any]:
    """Version, compiler, build type, the CPU's SIMD sets, the kernel build in use (and those the
    CPU runs), usable CPUs and worker threads."""
    info: dict[str, Any] = dict(_core.build_info())
    info["simd"] = list(_core.simd_features())
    info["simd_level"] = _kernels.simd_level()
    info["simd_levels"] = list(_kernels.simd_levels())
    info["usable_cpus"] = int(_core.usable_cpus())
    info["threads"] = threads()
    return info


# Size the pool from GILFREE_THREADS now; workers start on first use and are joined at exit so
# that no native thread outlives the interpreter.
if os.environ.get(_SIMD_ENV, "").strip():
    set_simd_level()
_env_threads, _env_pinning = _threads_from_env(), _pinning_from_env()
if _env_threads is not None or _env_pinning is not None:
    _core.configure_executor(_env_threads or 0, math.inf, _pinning(_env_pinning))
atexit.register(_core.exit_runtime)
