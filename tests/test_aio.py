"""gilfree.aio: native jobs awaited on the loop, cancellation, deadlines, admission, many loops."""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import numpy as np
import pytest
import uvloop

import gilfree
from contract_vectors import cases
from gilfree import Cancelled, DeadlineExceeded, InvalidInput, Overloaded, aio, reference

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Iterator[Callable[[Coroutine[Any, Any, Any]], Any]]:
    """Runs a coroutine to completion on a fresh loop of each kind."""
    loop = LOOPS[request.param]()
    yield loop.run_until_complete
    # Every test leaves no native job behind: cancelled ones finish within about one chunk.
    loop.run_until_complete(until(lambda: gilfree.executor_stats()["active_jobs"] == 0))
    loop.close()


@pytest.fixture
def fresh_pool() -> Iterator[None]:
    yield
    gilfree.configure(None)


# 1M numbers x 10^8 iterations = 10^14 steps: far longer than any test waits on any machine, so
# such a job ends only by cancellation or deadline.
BIG_ITERATIONS = 10**8


def big_job() -> np.ndarray:
    return np.arange(1_000_000, dtype=np.int64)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.001)


def test_contract_vectors(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def main() -> list[list[int]]:
        return await asyncio.gather(*(aio.process_numbers([x], it) for x, it, _ in cases()))

    assert run(main()) == [[expected] for _, _, expected in cases()]


def test_buffers_and_sum_squares(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    data = np.array([3, -4, gilfree.INT64_MIN], dtype=np.int64)

    async def main() -> tuple[Any, int]:
        return await aio.process_numbers(data, 7), await aio.sum_squares(-(2**63), -(2**63))

    out, total = run(main())
    assert isinstance(out, np.ndarray)
    assert out.tolist() == reference.process_numbers(data.tolist(), 7)
    assert total == 2**127


def test_bad_input_raises_before_submitting(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def main() -> None:
        with pytest.raises(InvalidInput) as caught:
            await aio.process_numbers([1, 2**64], 1)
        assert caught.value.index == 1
        with pytest.raises(InvalidInput):
            await aio.process_numbers([1], -1)
        with pytest.raises(InvalidInput):
            await aio.process_numbers([1], 1, timeout=0)
        with pytest.raises(InvalidInput):
            await aio.sum_squares(2**63, 0)
        assert aio.pending_jobs() == 0

    run(main())


def test_no_python_thread_waits(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    before = threading.active_count()

    async def main() -> int:
        results = await asyncio.gather(*(aio.process_numbers([i] * 1000, 100) for i in range(50)))
        return threading.active_count() + len(results) * 0

    assert run(main()) == before


def test_small_job_completes_while_large_one_runs(
    run: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    async def main() -> float:
        large = asyncio.ensure_future(aio.process_numbers(big_job(), BIG_ITERATIONS))
        await until(lambda: gilfree.executor_stats()["busy_workers"] > 0)
        t0 = time.perf_counter()
        assert await aio.process_numbers(list(range(100)), 1000) == reference.process_numbers(
            range(100), 1000
        )
        latency = time.perf_counter() - t0
        assert not large.done()
        large.cancel()
        with pytest.raises(asyncio.CancelledError):
            await large
        await until(lambda: aio.pending_jobs() == 0)
        return latency

    assert run(main()) < 1.0  # the large job alone lasts tens of seconds


def test_cancelled_work_really_stops(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def main() -> None:
        cancelled_before = gilfree.executor_stats()["cancelled"]
        task = asyncio.ensure_future(aio.process_numbers(big_job(), BIG_ITERATIONS))
        await until(lambda: gilfree.executor_stats()["busy_workers"] > 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: aio.pending_jobs() == 0)
        stats = gilfree.executor_stats()
        assert stats["cancelled"] == cancelled_before + 1
        assert stats["busy_workers"] == 0
        assert stats["active_jobs"] == 0
        # Nothing left burning CPU: the process is nearly idle over the next 200 ms.
        cpu0 = time.process_time()
        await asyncio.sleep(0.2)
        assert time.process_time() - cpu0 < 0.1

    run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_cancels_native_job(
    run: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    async def main() -> None:
        cancelled_before = gilfree.executor_stats()["cancelled"]
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await aio.process_numbers(big_job(), BIG_ITERATIONS)
        await until(lambda: aio.pending_jobs() == 0)
        assert gilfree.executor_stats()["cancelled"] == cancelled_before + 1

    run(main())


def test_asyncio_wait_for_cancels_native_job(
    run: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    async def main() -> None:
        cancelled_before = gilfree.executor_stats()["cancelled"]
        with pytest.raises(asyncio.TimeoutError):  # TimeoutError itself from 3.11
            await asyncio.wait_for(aio.process_numbers(big_job(), BIG_ITERATIONS), 0.05)
        await until(lambda: aio.pending_jobs() == 0)
        assert gilfree.executor_stats()["cancelled"] == cancelled_before + 1

    run(main())


def test_native_deadline(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    async def main() -> float:
        t0 = time.perf_counter()
        with pytest.raises(DeadlineExceeded):
            await aio.process_numbers(big_job(), BIG_ITERATIONS, timeout=0.05)
        return time.perf_counter() - t0

    assert run(main()) < 2.0


@pytest.mark.usefixtures("fresh_pool")
def test_overload_is_refused_at_once(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    # One CPU-second of queue: the huge job is admitted (nothing else was), then nothing fits.
    gilfree.configure(None, max_queued_cpu_s=1.0)

    async def main() -> None:
        running = aio.submit(
            gilfree._kernels.process_numbers_buffer,
            big_job(),
            np.empty(1_000_000, dtype=np.int64),
            BIG_ITERATIONS,
        )
        assert running.estimated_cpu_s > 1.0
        queued = gilfree.executor_stats()["queued_cpu_s"]
        assert queued == pytest.approx(running.estimated_cpu_s)
        t0 = time.perf_counter()
        with pytest.raises(Overloaded, match="max_queued_cpu_s=1 s"):
            await aio.process_numbers(list(range(10_000)), 20_000)
        with pytest.raises(Overloaded):  # a job small enough to run inline is refused as well
            await aio.sum_squares(1, 2)
        assert time.perf_counter() - t0 < 0.5
        assert gilfree.executor_stats()["rejected"] == 2
        running.cancel()
        with pytest.raises(gilfree.Cancelled):
            await running
        await until(lambda: aio.pending_jobs() == 0)
        assert gilfree.executor_stats()["queued_cpu_s"] == 0

    run(main())


def test_thousand_awaits_with_random_cancellations(
    run: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    rng = random.Random(1234)

    async def main() -> None:
        tasks = [
            asyncio.ensure_future(
                aio.process_numbers([i] * rng.randint(0, 3000), rng.choice([0, 1, 100, 5000]))
                if i % 7
                else aio.sum_squares(i, -i)
            )
            for i in range(1000)
        ]
        for task in rng.sample(tasks, 300):
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, (list, int, asyncio.CancelledError)) for r in results), {
            type(r) for r in results
        }
        await until(lambda: aio.pending_jobs() == 0)
        assert gilfree.executor_stats()["active_jobs"] == 0
        assert gilfree.executor_stats()["queued_cpu_s"] == 0

    run(main())


def test_several_loops_in_several_threads() -> None:
    errors: list[BaseException] = []

    def worker(seed: int, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        loop = factory()
        try:

            async def main() -> None:
                data = [seed * 1000 + i for i in range(200)]
                outs = await asyncio.gather(*(aio.process_numbers(data, 50) for _ in range(20)))
                assert all(out == reference.process_numbers(data, 50) for out in outs)

            loop.run_until_complete(main())
        except BaseException as exc:
            errors.append(exc)
        finally:
            loop.close()

    threads = [
        threading.Thread(target=worker, args=(i, LOOPS["uvloop" if i % 2 else "asyncio"]))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


def test_observers_see_each_job(run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
    seen: list[tuple[str, str]] = []

    def observer(kernel: str, status: str, queue_wait_s: float, run_s: float) -> None:
        assert queue_wait_s >= 0
        assert run_s >= 0
        seen.append((kernel, status))

    aio.add_observer(observer)
    try:

        async def main() -> None:
            await aio.process_numbers([1, 2], 3)
            await aio.sum_squares(1, 2)
            with pytest.raises(DeadlineExceeded):
                await aio.process_numbers(big_job(), BIG_ITERATIONS, timeout=0.01)

        run(main())
    finally:
        aio.remove_observer(observer)
    assert seen == [
        ("process_numbers", "succeeded"),
        ("sum_squares", "succeeded"),
        ("process_numbers", "deadline_exceeded"),
    ]


def test_cancelled_error_class_exists_for_sync_callers() -> None:
    assert issubclass(Cancelled, gilfree.GilfreeError)
