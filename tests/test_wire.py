"""gilfree.wire: the native JSON codecs, inline for small bodies and as native jobs for large."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from gilfree import INT64_MAX, INT64_MIN, InvalidInput, aio, reference, wire

SIZES = [0, 3, wire.INLINE_VALUES, wire.INLINE_VALUES + 1, 20_000]


def body_of(numbers: list[int], **extra: object) -> bytes:
    return json.dumps({**extra, "numbers": numbers}).encode()


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_inline_and_as_jobs(size: int) -> None:
    numbers = [(i * 7919) % 2_000_003 - 1_000_001 for i in range(size)]
    numbers[:2] = [INT64_MIN, INT64_MAX][: min(size, 2)]
    body = body_of(numbers)

    async def main() -> bytes:
        parsed = await wire.parse_numbers_json(body, max_numbers=10**6)
        assert parsed.status == "ok"
        assert parsed.count == size
        await wire.process_parsed(parsed, 3)
        return bytes(await wire.write_numbers_json(parsed))

    answer = json.loads(asyncio.run(main()))
    assert answer == {
        "original_count": size,
        "processed_result": reference.process_numbers(numbers, 3),
    }


@pytest.mark.parametrize("size", [10, 5000])
def test_written_bytes_match_json_dumps(size: int) -> None:
    values = np.arange(-size, size, 7, dtype=np.int64)
    expected = json.dumps(
        {"original_count": len(values), "processed_result": values.tolist()}, separators=(",", ":")
    ).encode()
    assert bytes(asyncio.run(wire.write_numbers_json(values))) == expected


@pytest.mark.parametrize("pad", [0, wire.INLINE_BODY_BYTES])
def test_status_of_bodies_inline_and_as_jobs(pad: int) -> None:
    filler = "x" * pad

    async def status(body: bytes, max_numbers: int = 100) -> tuple[str, int]:
        parsed = await wire.parse_numbers_json(body, max_numbers=max_numbers)
        return parsed.status, parsed.count

    assert asyncio.run(status(body_of([1, 2], pad=filler))) == ("ok", 2)
    assert asyncio.run(status(body_of([1, "2"], pad=filler))) == ("not_canonical", 0)
    assert asyncio.run(status(body_of([1, 2, 3], pad=filler), 2)) == ("too_many", 3)
    assert asyncio.run(status(body_of([2**63], pad=filler)))[0] == "not_canonical"


def test_values_view_is_the_parsed_memory() -> None:
    async def main() -> memoryview:
        parsed = await wire.parse_numbers_json(body_of([5, 6, 7]), max_numbers=10)
        return parsed.values()

    view = asyncio.run(main())
    assert view.format == "q"
    assert view.tolist() == [5, 6, 7]


def test_processing_a_body_that_was_not_canonical_is_refused() -> None:
    async def main() -> None:
        parsed = await wire.parse_numbers_json(b'{"numbers": [1.0]}', max_numbers=10)
        await wire.process_parsed(parsed, 1)

    with pytest.raises(InvalidInput, match="canonical"):
        asyncio.run(main())


def test_parse_job_can_be_cancelled_with_its_task() -> None:
    body = body_of(list(range(300_000)))

    async def main() -> None:
        task = asyncio.ensure_future(wire.parse_numbers_json(body, max_numbers=10**6))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = asyncio.get_running_loop().time() + 10
        while aio.pending_jobs():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.001)

    asyncio.run(main())
