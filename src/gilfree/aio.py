"""asyncio integration: await native jobs without occupying a Python thread.

Each event loop gets one native ``CompletionQueue`` whose descriptor the loop watches with
``add_reader``. A submitted job runs entirely on the executor's workers; the worker that finishes
it appends its id to the queue and makes the descriptor readable, and the loop thread itself
resolves the job's future. No worker ever takes the GIL and no Python thread waits.

Cancelling the awaiting task (directly, or through ``asyncio.timeout``) cancels the native job:
its remaining chunks are dropped within about one chunk's time. ``timeout`` gives the job a
native deadline, past which it fails with ``DeadlineExceeded``.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable
from typing import Any, Final, overload

from gilfree import _core
from gilfree._api import (
    _as_buffer,
    _check_int64,
    _check_iterations,
    _new_int64_array,
    _numbers_as_list,
)
from gilfree.errors import InvalidInput

__all__ = [
    "JobObserver",
    "add_observer",
    "pending_jobs",
    "process_numbers",
    "remove_observer",
    "sum_squares",
]

# Called on the loop thread for every finished job: (kernel, status, queue_wait_s, run_s).
JobObserver = Callable[[str, str, float, float], None]
_observers: list[JobObserver] = []


def add_observer(observer: JobObserver) -> None:
    """Calls ``observer(kernel, status, queue_wait_s, run_s)`` for every job that finishes."""
    _observers.append(observer)


def remove_observer(observer: JobObserver) -> None:
    """Stops calling ``observer``; no error if it was not added."""
    if observer in _observers:
        _observers.remove(observer)


class _LoopBridge:
    """The completion queue of one event loop and the jobs it waits for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: Final = _core.CompletionQueue()
        # Each entry keeps its job (and the memory the job works on) alive until the job has
        # finished, whatever happens to the awaiting task.
        self.pending: dict[int, tuple[_core.NativeJob, asyncio.Future[Any], str]] = {}
        loop.add_reader(self.queue.fileno(), self._on_readable)
        weakref.finalize(self, _close_reader, weakref.ref(loop), self.queue.fileno())

    def _on_readable(self) -> None:
        for job_id in self.queue.drain():
            entry = self.pending.pop(job_id, None)
            if entry is None:
                continue
            job, future, kernel = entry
            for observer in _observers:
                observer(kernel, job.status, job.queue_wait_s, job.run_s)
            if future.done():  # the awaiting task was cancelled
                continue
            try:
                future.set_result(job.result())
            except Exception as exc:  # a gilfree error raised by result()
                future.set_exception(exc)


def _close_reader(loop_ref: weakref.ref[asyncio.AbstractEventLoop], fd: int) -> None:
    loop = loop_ref()
    if loop is not None and not loop.is_closed():
        loop.remove_reader(fd)


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBridge] = (
    weakref.WeakKeyDictionary()
)


def _bridge() -> _LoopBridge:
    loop = asyncio.get_running_loop()
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _bridges[loop] = _LoopBridge(loop)
    return bridge


def pending_jobs() -> int:
    """Jobs submitted from the running loop that have not finished yet."""
    return len(_bridge().pending)


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise InvalidInput(f"timeout must be a number of seconds, got {type(timeout).__name__}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout}")
    return float(timeout)


async def _await_job(bridge: _LoopBridge, job: _core.NativeJob, kernel: str) -> Any:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    bridge.pending[job.id] = (job, future, kernel)
    try:
        return await future
    except asyncio.CancelledError:
        job.cancel()
        raise


@overload
async def process_numbers(
    numbers: list[int], iterations: int = 1000, *, timeout: float | None = None
) -> list[int]: ...
@overload
async def process_numbers(
    numbers: Any, iterations: int = 1000, *, timeout: float | None = None
) -> Any: ...
async def process_numbers(
    numbers: Any, iterations: int = 1000, *, timeout: float | None = None
) -> Any:
    """``gilfree.process_numbers`` as a native job awaited on the running loop.

    Raises ``Overloaded`` at once when the executor's queued work is full, ``DeadlineExceeded``
    when ``timeout`` seconds pass first, and ``InvalidInput`` as the synchronous call does.
    """
    iterations = _check_iterations(iterations)
    timeout = _check_timeout(timeout)
    bridge = _bridge()
    as_list = numbers if isinstance(numbers, list) else _numbers_as_list(numbers)
    if as_list is not None:
        job = _core.submit_process_numbers_list(bridge.queue, as_list, iterations, timeout)
    else:
        numbers = _as_buffer(numbers)
        with memoryview(numbers) as view:
            out = _new_int64_array(view.nbytes // 8 if view.itemsize == 8 else 0)
        job = _core.submit_process_numbers_buffer(bridge.queue, numbers, out, iterations, timeout)
    return await _await_job(bridge, job, "process_numbers")


async def sum_squares(a: int, b: int, *, timeout: float | None = None) -> int:
    """``gilfree.sum_squares`` as a native job awaited on the running loop."""
    _check_int64("a", a)
    _check_int64("b", b)
    timeout = _check_timeout(timeout)
    bridge = _bridge()
    job = _core.submit_sum_squares(bridge.queue, a, b, timeout)
    result: int = await _await_job(bridge, job, "sum_squares")
    return result
