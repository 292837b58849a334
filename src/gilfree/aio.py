"""asyncio integration: await any kernel's native job without occupying a Python thread.

Each event loop gets one native ``CompletionQueue`` whose descriptor the loop watches with
``add_reader``. A submitted job runs entirely on the executor's workers; the worker that finishes
it appends its id to the queue and makes the descriptor readable, and the loop thread itself
resolves the job's future. No worker ever takes the GIL and no Python thread waits. A job whose
estimate is a few microseconds runs at once on the loop's thread instead (a worker's round trip
would cost more than the work).

``await run(kernel, *args)`` is the one way to await any kernel (gilfree's own and every kernel
module's); ``submit`` gives the job itself, to await later and read its ``stats()``. Cancelling the
awaiting task (directly, or through ``asyncio.timeout``) cancels the native job: its remaining
chunks are dropped within about one chunk's time. ``timeout`` gives the job a native deadline,
past which it fails with ``DeadlineExceeded``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Final, overload

from gilfree import _core, _kernels
from gilfree._api import (
    _as_buffer,
    _check_iterations,
    _new_int64_array,
    _numbers_as_list,
)
from gilfree._checks import check_int64, check_seconds
from gilfree.kernel import Kernel

__all__ = [
    "Job",
    "JobObserver",
    "JobStats",
    "add_observer",
    "pending_jobs",
    "process_numbers",
    "remove_observer",
    "run",
    "submit",
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


def _observe(job: _core.NativeJob) -> None:
    for observer in _observers:
        observer(job.kernel, job.status, job.queue_wait_s, job.run_s)


class _LoopBridge:
    """The completion queue of one event loop and the jobs it waits for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: Final = _core.CompletionQueue()
        # Each entry keeps its job (and the memory the job works on) alive until the job has
        # finished, whatever happens to the awaiting task. Its future is held weakly: nothing
        # here refers back to the loop, so a loop dropped with jobs pending takes the bridge with
        # it (and the jobs' handles cancel them); a future nobody awaits any more cancels its job.
        self.pending: dict[int, tuple[_core.NativeJob, weakref.ref[asyncio.Future[Any]]]] = {}
        loop.add_reader(self.queue.fileno(), self._on_readable)
        weakref.finalize(self, _close_reader, weakref.ref(loop), self.queue.fileno())

    def wait_for(self, job: _core.NativeJob, future: asyncio.Future[Any]) -> None:
        """Resolves ``future`` with ``job`` once it finishes; cancels the job if the future is
        collected first."""
        self.pending[job.id] = (job, weakref.ref(future, lambda _: job.cancel()))

    def _on_readable(self) -> None:
        for job_id in self.queue.drain():
            entry = self.pending.pop(job_id, None)
            if entry is None:
                continue
            job, future = entry[0], entry[1]()
            if future is None:  # nobody waits for it any more
                _observe(job)
            else:
                _settle(job, future)


def _settle(job: _core.NativeJob, future: asyncio.Future[Any]) -> None:
    _observe(job)
    if future.done():  # the awaiting task was cancelled
        return
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
    return None if timeout is None else check_seconds("timeout", timeout, positive=True)


@dataclass(frozen=True)
class JobStats:
    """What a finished job cost: ``kernel`` it is counted under, its final ``status``, whether it
    ``ran_inline`` (at once on the loop's thread), the CPU seconds admission estimated it at and
    the CPU seconds its chunks used, and its time queued and running (seconds)."""

    kernel: str
    status: str
    ran_inline: bool
    estimated_cpu_s: float
    cpu_s: float
    queue_wait_s: float
    run_s: float


class Job:
    """A kernel's job submitted from the running event loop (``submit``): await it for its result.

    Awaiting it in a task that is then cancelled cancels the job. ``stats()`` describes it once
    it is ``done``.
    """

    __slots__ = ("_future", "_native", "_outcome")

    def __init__(self, bridge: _LoopBridge, native: _core.NativeJob) -> None:
        self._native = native
        self._future: asyncio.Future[Any] | None = None
        # A job that ran at once is settled here, without a future: (result, None) or
        # (None, exception).
        self._outcome: tuple[Any, BaseException | None] | None = None
        if native.done:
            _observe(native)
            try:
                self._outcome = (native.result(), None)
            except Exception as exc:  # a gilfree error raised by result()
                self._outcome = (None, exc)
        else:
            self._future = asyncio.get_running_loop().create_future()
            bridge.wait_for(native, self._future)

    def __await__(self) -> Generator[Any, None, Any]:
        if self._future is None:
            assert self._outcome is not None
            result, error = self._outcome
            if error is not None:
                raise error
            return result
        try:
            return (yield from self._future.__await__())
        except asyncio.CancelledError:
            self._native.cancel()
            raise

    @property
    def kernel(self) -> str:
        return self._native.kernel

    @property
    def done(self) -> bool:
        return self._native.done

    @property
    def status(self) -> str:
        """``pending`` until done, then ``succeeded``, ``failed``, ``cancelled`` or
        ``deadline_exceeded``."""
        return self._native.status

    @property
    def estimated_cpu_s(self) -> float:
        """CPU seconds admission estimated the job at (known from its submission)."""
        return self._native.estimated_cpu_s

    def cancel(self) -> None:
        """Drops the job's chunks not yet started; it then ends as ``cancelled``."""
        self._native.cancel()

    def stats(self) -> JobStats:
        """The finished job's costs and times (RuntimeError before it is done)."""
        native = self._native
        if not native.done:
            raise RuntimeError("the job has not finished")
        return JobStats(
            kernel=native.kernel,
            status=native.status,
            ran_inline=native.ran_inline,
            estimated_cpu_s=native.estimated_cpu_s,
            cpu_s=native.cpu_s,
            queue_wait_s=native.queue_wait_s,
            run_s=native.run_s,
        )


def submit(kernel: Kernel, /, *args: Any, timeout: float | None = None, **kwargs: Any) -> Job:
    """Starts ``kernel(*args, **kwargs)`` as a native job of the running loop and returns it.

    Raises ``Overloaded`` at once when the executor's queued work is full, and what the kernel's
    arguments raise (``InvalidInput``, TypeError). ``timeout`` (seconds) is the job's deadline.
    A keyword argument of the kernel named ``timeout`` must be passed by position.
    """
    timeout_s = _check_timeout(timeout)
    bridge = _bridge()
    return Job(bridge, kernel.submit(bridge.queue, timeout_s, *args, **kwargs))


async def _await_job(bridge: _LoopBridge, job: _core.NativeJob) -> Any:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    bridge.wait_for(job, future)
    try:
        return await future
    except asyncio.CancelledError:
        job.cancel()
        raise


async def run(kernel: Kernel, /, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """Awaits ``kernel(*args, **kwargs)`` as a native job on the running loop: its result, or its
    failure (``Overloaded``, ``DeadlineExceeded`` past ``timeout`` seconds, ``Cancelled``,
    ``InvalidInput``, ``KernelError``). Cancelling the awaiting task cancels the job."""
    timeout_s = _check_timeout(timeout)
    bridge = _bridge()
    job = kernel.submit(bridge.queue, timeout_s, *args, **kwargs)
    if job.done:  # ran at once
        _observe(job)
        return job.result()
    return await _await_job(bridge, job)


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
    as_list = numbers if isinstance(numbers, list) else _numbers_as_list(numbers)
    if as_list is not None:
        return await run(_kernels.process_numbers_list, as_list, iterations, timeout=timeout)
    numbers = _as_buffer(numbers)
    with memoryview(numbers) as view:
        out = _new_int64_array(view.nbytes // 8 if view.itemsize == 8 else 0)
    return await run(_kernels.process_numbers_buffer, numbers, out, iterations, timeout=timeout)


async def sum_squares(a: int, b: int, *, timeout: float | None = None) -> int:
    """``gilfree.sum_squares`` as a native job awaited on the running loop."""
    check_int64("a", a)
    check_int64("b", b)
    result: int = await run(_kernels.sum_squares, a, b, timeout=timeout)
    return result
