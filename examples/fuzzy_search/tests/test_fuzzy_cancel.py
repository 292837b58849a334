"""A search cancelled (or past its deadline) stops within a chunk or so, ends as such, and leaves
the corpus it shares with every other search as it was."""

from __future__ import annotations

import asyncio
import contextlib
import random
from types import ModuleType
from typing import Any

import pytest

import gilfree
from gilfree.errors import Cancelled, DeadlineExceeded

# Long entries of a small alphabet and a query as long as a query may be: no entry is skipped by
# its length, every code point is read with four words of state (tens of milliseconds a search).
QUERY = "".join(random.Random(1).choices("abcdefgh", k=256))


@pytest.fixture(scope="module")
def corpus(fuzzy: ModuleType) -> Any:
    rng = random.Random(2)
    return fuzzy.Corpus("".join(rng.choices("abcdefgh", k=256)) for _ in range(100_000))


def test_a_cancelled_search_ends_cancelled_and_the_corpus_stays_usable(
    fuzzy: ModuleType, corpus: Any
) -> None:
    expected = fuzzy.search(corpus, QUERY, 10)

    async def main() -> tuple[gilfree.aio.JobStats, gilfree.aio.JobStats]:
        whole = gilfree.aio.submit(fuzzy.search, corpus, QUERY, 10)
        assert await whole == expected
        cancelled = gilfree.aio.submit(fuzzy.search, corpus, QUERY, 10)
        assert not cancelled.done  # queued or running: far from finished
        cancelled.cancel()
        with pytest.raises(Cancelled):
            await cancelled
        return whole.stats(), cancelled.stats()

    whole, cancelled = asyncio.run(main())
    assert cancelled.status == "cancelled"
    assert cancelled.cpu_s < whole.cpu_s / 4  # its chunks not yet started never ran
    assert fuzzy.search(corpus, QUERY, 10) == expected
    assert len(corpus) == 100_000


def test_a_search_whose_task_is_cancelled_is_cancelled(fuzzy: ModuleType, corpus: Any) -> None:
    before = fuzzy.search.stats()["cancelled"]

    async def main() -> None:
        task = asyncio.ensure_future(gilfree.aio.run(fuzzy.search, corpus, QUERY, 10))
        while gilfree.aio.pending_jobs() == 0:  # until the task has submitted its job
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert fuzzy.search.stats()["cancelled"] == before + 1
    assert fuzzy.search(corpus, QUERY, 3) == fuzzy.search(corpus, QUERY, 10)[:3]


def test_a_search_past_its_deadline_fails_so(fuzzy: ModuleType, corpus: Any) -> None:
    with pytest.raises(DeadlineExceeded):
        asyncio.run(gilfree.aio.run(fuzzy.search, corpus, QUERY, 10, timeout=1e-4))
    assert fuzzy.search(corpus, QUERY, 1) == fuzzy.search(corpus, QUERY, 10)[:1]


def test_a_search_stops_within_an_entry_too(fuzzy: ModuleType) -> None:
    # Each entry alone is about 20 ms of work, a hundred chunks' worth: the search looks whether
    # it was stopped while it reads one, so its deadline stops it within a millisecond or so.
    rng = random.Random(4)
    corpus = fuzzy.Corpus("".join(rng.choices("abcdefgh", k=8_000_000)) for _ in range(2))

    async def main() -> tuple[gilfree.aio.JobStats, gilfree.aio.JobStats]:
        whole = gilfree.aio.submit(fuzzy.search, corpus, QUERY, 10)
        await whole
        stopped = gilfree.aio.submit(fuzzy.search, corpus, QUERY, 10, timeout=0.002)
        with pytest.raises(DeadlineExceeded):
            await stopped
        return whole.stats(), stopped.stats()

    whole, stopped = asyncio.run(main())
    assert stopped.status == "deadline_exceeded"
    assert stopped.cpu_s < whole.cpu_s / 3  # not the rest of the entry it was reading
