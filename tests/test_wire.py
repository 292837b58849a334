"""gilfree.wire: a whole request, body bytes to answer bytes, run at once or as one native job, in
every pairing of formats."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
from array import array
from typing import Any

import pytest

import gilfree
from gilfree import INT64_MAX, INT64_MIN, InvalidInput, aio, reference, wire

# Small and large enough for many parallel chunks.
SIZES = [0, 3, 700, 2000, 20_000, 150_000]
JSON, INT64 = wire.NumbersFormat.JSON, wire.NumbersFormat.INT64
FORMATS = [JSON, INT64]
Outcome = wire.RequestOutcome
# Every job at once on the calling thread, or every job on the pool, whatever its estimate.
MODES = {"inline": 1e9, "job": 0.0}


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    gilfree.configure(None, inline_max_s=MODES[request.param])
    return str(request.param)


def numbers_of(size: int) -> list[int]:
    numbers = [(i * 7919) % 2_000_003 - 1_000_001 for i in range(size)]
    numbers[:2] = [INT64_MIN, INT64_MAX][: min(size, 2)]
    return numbers


def json_body(numbers: list[Any], **extra: object) -> bytes:
    return json.dumps({**extra, "numbers": numbers}).encode()


def int64_bytes(numbers: list[int]) -> bytes:
    values = array("q", numbers)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def body_in(body_format: wire.NumbersFormat, numbers: list[int]) -> bytes:
    return json_body(numbers) if body_format is JSON else int64_bytes(numbers)


def expected_answer(
    answer_format: wire.NumbersFormat, numbers: list[int], iterations: int
) -> bytes:
    results = reference.process_numbers(numbers, iterations)
    if answer_format is INT64:
        return int64_bytes(results)
    answer = {"original_count": len(numbers), "processed_result": results}
    return json.dumps(answer, separators=(",", ":")).encode()


def answer(body: Any, **kwargs: Any) -> wire.NumbersRequest:
    return asyncio.run(wire.answer_numbers(body, **kwargs))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("body_format", FORMATS)
@pytest.mark.parametrize("answer_format", FORMATS)
def test_answers_every_pairing_inline_and_as_a_job(
    size: int, body_format: wire.NumbersFormat, answer_format: wire.NumbersFormat, mode: str
) -> None:
    numbers = numbers_of(size)
    request = wire.numbers_request(
        body_in(body_format, numbers),
        iterations=3,
        body_format=body_format,
        answer_format=answer_format,
    )
    assert request.outcome is Outcome.PENDING

    async def main() -> aio.JobStats:
        job = wire.submit_numbers_request(request)
        assert await job is request
        return job.stats()

    stats = asyncio.run(main())
    assert stats.ran_inline is (mode == "inline")
    assert stats.kernel == "process_numbers_request"
    answered = request
    assert answered.outcome is Outcome.OK
    assert answered.count == size
    assert bytes(answered.answer()) == expected_answer(answer_format, numbers, 3)


@pytest.mark.parametrize("size", [10, 40_000])
def test_a_request_body_gathered_in_pieces_is_consumed(size: int) -> None:
    encoded = json_body(numbers_of(size))
    for expected_bytes in (0, len(encoded), 10):  # unknown, exact, and too small (it grows)
        body = wire.RequestBody(expected_bytes)
        for start in range(0, len(encoded), 4096):
            body.append(encoded[start : start + 4096])
        body.append(b"")
        assert len(body) == len(encoded)
        answered = answer(body, iterations=2)
        assert answered.outcome is Outcome.OK
        assert json.loads(bytes(answered.answer()))["processed_result"] == (
            reference.process_numbers(numbers_of(size), 2)
        )
        with pytest.raises(InvalidInput, match="already handed"):
            body.append(b"1")
        with pytest.raises(InvalidInput, match="already handed"):
            answer(body)


def test_a_request_runs_once(mode: str) -> None:
    body = json_body(numbers_of(20_000))
    request = wire.numbers_request(body, iterations=2)

    async def submit() -> wire.NumbersRequest:
        answered: wire.NumbersRequest = await wire.submit_numbers_request(request)
        return answered

    assert asyncio.run(submit()) is request
    assert json.loads(bytes(request.answer()))["processed_result"] == reference.process_numbers(
        numbers_of(20_000), 2
    )
    with pytest.raises(InvalidInput, match="already run"):
        asyncio.run(submit())


def test_the_estimate_decides_between_inline_and_a_job() -> None:
    # By default (10 us at most inline): a microsecond's work at once, 10^8 steps as a job.
    async def ran_inline(size: int, iterations: int) -> bool:
        request = wire.numbers_request(json_body(numbers_of(size)), iterations=iterations)
        job = wire.submit_numbers_request(request)
        await job
        return job.stats().ran_inline

    assert asyncio.run(ran_inline(3, 1)) is True
    assert asyncio.run(ran_inline(100_000, 1000)) is False


def test_answer_is_a_view_of_native_memory_that_outlives_its_request() -> None:
    answered = answer(int64_bytes([5, 6, 7]), iterations=0, body_format=INT64, answer_format=INT64)
    view = answered.answer()
    del answered
    assert view.readonly
    assert view.cast("q").tolist() == [5, 6, 7]


@pytest.mark.usefixtures("mode")
@pytest.mark.parametrize("pad", [0, 20_000])
def test_outcomes_inline_and_as_jobs(pad: int) -> None:
    filler = "x" * pad

    def outcome(body: bytes, **limits: Any) -> tuple[wire.RequestOutcome, int]:
        answered = answer(body, iterations=10, **limits)
        return answered.outcome, answered.count

    assert outcome(json_body([1, 2], pad=filler)) == (Outcome.OK, 2)
    assert outcome(json_body([1, "2"], pad=filler)) == (Outcome.NOT_CANONICAL, 0)
    assert outcome(json_body([2**63], pad=filler)) == (Outcome.NOT_CANONICAL, 0)
    assert outcome(json_body([1, 2, 3], pad=filler), max_numbers=2) == (Outcome.TOO_MANY, 3)
    assert outcome(json_body([1, 2, 3], pad=filler), max_work=29) == (Outcome.TOO_MUCH_WORK, 3)
    assert outcome(json_body([1, 2, 3], pad=filler), max_work=30) == (Outcome.OK, 3)


@pytest.mark.usefixtures("mode")
def test_a_body_left_to_the_slow_path_comes_back_whole() -> None:
    body = json_body([1, "2"], pad="x" * 20_000)
    answered = answer(body)
    assert answered.outcome is Outcome.NOT_CANONICAL
    assert answered.body() == body
    assert bytes(answered.answer()) == b""


def test_int64_limits_and_partial_values() -> None:
    body = int64_bytes(list(range(5000)))
    assert answer(body, body_format=INT64, max_numbers=4999).outcome is Outcome.TOO_MANY
    assert answer(body, body_format=INT64, iterations=2, max_work=9999).outcome is (
        Outcome.TOO_MUCH_WORK
    )
    with pytest.raises(InvalidInput, match="multiple of 8"):
        answer(body[:-3], body_format=INT64)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"body_format": "xml"}, "body_format"),
        ({"answer_format": "csv"}, "answer_format"),
        ({"iterations": -1}, "iterations"),
        ({"max_numbers": -1}, "max_numbers"),
        ({"max_work": 1.5}, "max_work"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_arguments_are_invalid_input(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        answer(json_body([1]), **kwargs)


def test_a_body_that_is_not_bytes_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="bytes-like"):
        answer("{}")
    # Any buffer is read as its bytes.
    assert answer(array("q", [1]), body_format=INT64, iterations=0).count == 1


def test_a_request_job_is_cancelled_with_its_task() -> None:
    body = int64_bytes(list(range(200_000)))

    async def main() -> None:
        task = asyncio.ensure_future(
            wire.answer_numbers(body, body_format=INT64, iterations=100_000)
        )
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = asyncio.get_running_loop().time() + 10
        while aio.pending_jobs():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.001)

    asyncio.run(main())


def test_large_buffers_are_reused_between_requests() -> None:
    body = int64_bytes(list(range(100_000)))  # 800 KB: past the cache's minimum block
    answer(body, body_format=INT64, answer_format=INT64)
    before = wire.buffer_cache_stats()
    for _ in range(3):
        answered = answer(body, body_format=INT64, answer_format=INT64)
        assert answered.outcome is Outcome.OK
        del answered
    after = wire.buffer_cache_stats()
    assert after["reused"] - before["reused"] == 3
    assert after["allocated"] == before["allocated"]


def test_the_cache_limit_bounds_what_it_retains() -> None:
    body = int64_bytes(list(range(100_000)))
    limit = wire.buffer_cache_stats()["max_retained_bytes"]
    try:
        wire.set_buffer_cache_limit(0)
        answer(body, body_format=INT64, answer_format=JSON)
        assert wire.buffer_cache_stats()["retained_bytes"] == 0
    finally:
        wire.set_buffer_cache_limit(limit)
    with pytest.raises(InvalidInput):
        wire.set_buffer_cache_limit(-1)


def test_tune_allocator_defers_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert wire.tune_allocator() is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    with pytest.raises(InvalidInput, match="trim_threshold"):
        wire.tune_allocator(trim_threshold=-1)
    applied = wire.tune_allocator()
    # Only glibc's malloc takes the thresholds (a sanitizer's own allocator refuses them too).
    if platform.libc_ver()[0] != "glibc" or "asan" in os.environ.get("LD_PRELOAD", ""):
        assert applied is False
        return
    assert applied is True
    # And glibc does what they say, seen in fresh processes: a 512 KiB block is mapped by itself
    # under glibc's default 128 KiB threshold, taken from the heap under the pinned 1 MiB one.
    assert _mapped_blocks_for(512 * 1024, tuned=False) == 1
    assert _mapped_blocks_for(512 * 1024, tuned=True) == 0


_MAPPED_BLOCKS = """
import ctypes, sys
from gilfree import wire
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks",
                                               "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
if sys.argv[2] == "tuned":
    assert wire.tune_allocator()
before = libc.mallinfo2().hblks
block = libc.malloc(int(sys.argv[1]))
print(libc.mallinfo2().hblks - before)
"""


def _mapped_blocks_for(size: int, *, tuned: bool) -> int:
    """How many more blocks glibc maps by themselves (mallinfo2's hblks) once a fresh process
    has allocated one block of ``size`` bytes, its allocator tuned or not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", _MAPPED_BLOCKS, str(size), "tuned" if tuned else "default"],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip
    return int(done.stdout)
