"""kernelpkg on gilfree's runtime: another package's kernels, built against gilfree's CMake package,
called and awaited, cancelled, stopped at a deadline, admitted and scheduled with gilfree's own
jobs, failing clearly, and released at the right time.

gilfree's ``make test`` runs this file against the gcc build of kernelpkg (installed) and again
against its clang build (``KERNELPKG_EXPECT_COMPILER=clang``, first on the path).
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator

import kernelpkg
import numpy as np
import pytest

import gilfree
from gilfree import aio

# Far more work than any test waits for: such a job ends by cancellation or deadline only.
ENDLESS_ROUNDS = 10**12


def entropy_reference(word: str) -> float:
    data = word.encode()
    if not data:
        return 0.0
    return -sum(c / len(data) * math.log2(c / len(data)) for c in Counter(data).values())


def trigrams(text: str) -> set[bytes]:
    data = text.encode()
    return {data[i : i + 3] for i in range(len(data) - 2)}


def search_reference(documents: list[str], query: str, k: int) -> list[tuple[int, float]]:
    q = trigrams(query)
    scored = []
    for i, document in enumerate(documents):
        d = trigrams(document)
        union = len(q | d)
        scored.append((i, len(q & d) / union if union else 0.0))
    return sorted(scored, key=lambda hit: (-hit[1], hit[0]))[:k]


def random_words(rng: random.Random, n: int) -> list[str]:
    alphabet = "abcdefgh ijk\u00e9\u00fc\u4e2d\U0001f600"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def endless_builtin(numbers: np.ndarray) -> aio.Job:
    """gilfree's own process_numbers over ``numbers`` for 10^9 iterations: endless here."""
    out = np.empty_like(numbers)
    return aio.submit(gilfree._kernels.process_numbers_buffer, numbers, out, 10**9)


def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.002)


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    yield
    until(lambda: gilfree.executor_stats()["active_jobs"] == 0)
    gc.collect()
    until(lambda: kernelpkg.live_jobs() == 0)


@pytest.fixture
def documents() -> list[str]:
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "search", "fuzzy", "kernel", "native", "gil"]
    # Several chunks of 512 documents, many ties.
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(2000)]


def test_built_with_the_expected_compiler() -> None:
    expected = os.environ.get("KERNELPKG_EXPECT_COMPILER", "gcc")
    assert kernelpkg.compiler().startswith(expected)
    assert isinstance(kernelpkg.entropy, gilfree.Kernel)
    assert kernelpkg.entropy.name == "kernelpkg.entropy"


def test_strings_in_floats_out_called_and_awaited() -> None:
    words = random_words(random.Random(1), 3000)
    expected = [entropy_reference(w) for w in words]
    called = kernelpkg.entropy(words)
    assert called == pytest.approx(expected, abs=1e-12)
    assert all(isinstance(x, float) for x in called)
    awaited = asyncio.run(aio.run(kernelpkg.entropy, words, rounds=3))
    assert awaited == called
    assert kernelpkg.entropy([]) == []


def test_a_result_written_into_the_callers_array() -> None:
    words = ["aa", "ab", "abcd"]
    out = np.full(3, -1.0)
    assert kernelpkg.entropy_into(words, out) is out  # written in place
    assert out.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(gilfree.InvalidInput, match="room for 3 entropies, not 4"):
        kernelpkg.entropy_into([*words, "x"], out)
    with pytest.raises(TypeError):
        kernelpkg.entropy_into(words, np.zeros(3, dtype=np.int64))


def test_a_multi_stage_search_over_a_shared_index(documents: list[str]) -> None:
    index = kernelpkg.TrigramIndex(documents)
    assert len(index) == len(documents)
    for query, k in [("fuzzy search", 10), ("gamma delta", 1), ("kernel", 50), ("zzz", 5)]:
        expected = search_reference(documents, query, k)
        got = kernelpkg.search(index, query, k)
        assert [hit[0] for hit in got] == [hit[0] for hit in expected], query
        assert [hit[1] for hit in got] == pytest.approx([hit[1] for hit in expected])
        assert asyncio.run(aio.run(kernelpkg.search, index, query, k=k)) == got


def test_the_shared_index_outlives_its_python_object(documents: list[str]) -> None:
    async def main() -> list[tuple[int, float]]:
        index = kernelpkg.TrigramIndex(documents)
        jobs = [aio.submit(kernelpkg.search, index, "alpha beta", 5) for _ in range(20)]
        del index
        gc.collect()
        return [hit for job in jobs for hit in await job]

    hits = asyncio.run(main())
    assert hits == search_reference(documents, "alpha beta", 5) * 20


def test_many_searches_read_one_index_at_once(documents: list[str]) -> None:
    index = kernelpkg.TrigramIndex(documents)
    queries = ["alpha", "beta gamma", "native gil", "kernel search fuzzy"] * 25

    async def main() -> list[list[tuple[int, float]]]:
        return await asyncio.gather(*(aio.run(kernelpkg.search, index, q, 3) for q in queries))

    results = asyncio.run(main())
    for query, result in zip(queries, results, strict=True):
        assert [hit[0] for hit in result] == [
            hit[0] for hit in search_reference(documents, query, 3)
        ]


def test_cancelling_the_task_stops_the_chunks_and_the_cpu() -> None:
    async def main() -> None:
        task = asyncio.ensure_future(
            aio.run(kernelpkg.entropy, ["abc" * 100] * 8, rounds=ENDLESS_ROUNDS)
        )
        while gilfree.executor_stats()["busy_workers"] == 0:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = gilfree.kernel_stats()["kernelpkg.entropy"]["cancelled"]
    asyncio.run(main())
    until(lambda: gilfree.executor_stats()["active_jobs"] == 0, timeout=2)
    assert gilfree.kernel_stats()["kernelpkg.entropy"]["cancelled"] == before + 1
    # The process's CPU time stops growing: no worker runs the job any more.
    start = time.process_time()
    time.sleep(0.3)
    assert time.process_time() - start < 0.05


def test_a_deadline_stops_the_job() -> None:
    started = time.monotonic()
    with pytest.raises(gilfree.DeadlineExceeded):
        asyncio.run(
            aio.run(kernelpkg.entropy, ["abc" * 100] * 8, rounds=ENDLESS_ROUNDS, timeout=0.05)
        )
    assert time.monotonic() - started < 2


@pytest.fixture
def one_cpu_second_of_queue() -> Iterator[None]:
    gilfree.configure(None, max_queued_cpu_s=1.0)
    yield
    gilfree.configure(None)


@pytest.mark.usefixtures("one_cpu_second_of_queue")
def test_admission_is_shared_with_gilfrees_kernels_in_cpu_seconds() -> None:
    async def main() -> None:
        numbers = np.arange(1_000_000, dtype=np.int64)
        builtin = endless_builtin(numbers)
        # Admitted alone (the queue was empty); then nothing more fits, of either package.
        assert builtin.estimated_cpu_s > 1.0
        with pytest.raises(gilfree.Overloaded, match=r"kernelpkg\.entropy job"):
            aio.submit(kernelpkg.entropy, ["abc"] * 1000, rounds=1000)
        builtin.cancel()
        with pytest.raises(gilfree.Cancelled):
            await builtin

        ours = aio.submit(kernelpkg.entropy, ["abc" * 100] * 8, rounds=ENDLESS_ROUNDS)
        assert ours.estimated_cpu_s > 1.0
        with pytest.raises(gilfree.Overloaded, match="process_numbers job"):
            await aio.process_numbers(list(range(100_000)), 1000)
        ours.cancel()
        with pytest.raises(gilfree.Cancelled):
            await ours

    asyncio.run(main())
    assert gilfree.kernel_stats()["kernelpkg.entropy"]["rejected"] >= 1


def test_queued_work_counts_every_kernels_estimate_in_one_unit() -> None:
    async def main() -> None:
        numbers = np.arange(100_000, dtype=np.int64)
        builtin = endless_builtin(numbers)
        ours = aio.submit(kernelpkg.entropy, ["abc" * 100] * 8, rounds=ENDLESS_ROUNDS)
        queued = gilfree.executor_stats()["queued_cpu_s"]
        assert queued == pytest.approx(builtin.estimated_cpu_s + ours.estimated_cpu_s)
        for job in (builtin, ours):
            job.cancel()
            with pytest.raises(gilfree.Cancelled):
                await job

    asyncio.run(main())


def test_a_small_job_behind_a_huge_builtin_one_starts_within_a_slice() -> None:
    async def main() -> aio.JobStats:
        numbers = np.arange(1_000_000, dtype=np.int64)
        huge = endless_builtin(numbers)
        while gilfree.executor_stats()["busy_workers"] < gilfree.threads():
            await asyncio.sleep(0.001)
        small = aio.submit(kernelpkg.entropy, ["abcdef"] * 300)
        started = time.monotonic()
        assert len(await small) == 300
        elapsed = time.monotonic() - started
        assert elapsed < 0.5
        assert not huge.done
        huge.cancel()
        with pytest.raises(gilfree.Cancelled):
            await huge
        return small.stats()

    stats = asyncio.run(main())
    assert stats.ran_inline is False
    # A slice is about 100 us; a loaded or instrumented machine takes longer, never seconds.
    assert stats.queue_wait_s < 0.05


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        ("runtime", gilfree.KernelError, "the message of a runtime_error"),
        ("invalid", gilfree.InvalidInput, "the message of an InvalidInput"),
        ("memory", MemoryError, "out of memory"),
        ("other", gilfree.KernelError, "not a std::exception"),
    ],
)
def test_an_exception_in_the_kernels_cpp_arrives_with_its_message(
    kind: str, error: type[BaseException], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        kernelpkg.explode(kind, message)
    if kind == "invalid":
        assert raised.value.index == 3  # type: ignore[attr-defined]
    with pytest.raises(error, match=message):
        asyncio.run(aio.run(kernelpkg.explode, kind, message))
    # The workers go on serving.
    assert kernelpkg.entropy(["ab"]) == [1.0]


@pytest.mark.parametrize(("chunks", "message"), [(0, "0 chunks"), (2**63, "at most")])
def test_asking_for_absurd_chunk_counts_is_a_clear_error(chunks: int, message: str) -> None:
    with pytest.raises(gilfree.KernelError, match=message):
        kernelpkg.bad_chunks(chunks)
    with pytest.raises(gilfree.KernelError, match=message):
        asyncio.run(aio.run(kernelpkg.bad_chunks, chunks))
    assert kernelpkg.bad_chunks(3) is None


def test_bad_arguments_are_nanobinds_type_errors() -> None:
    with pytest.raises(TypeError):
        kernelpkg.entropy("not a list")
    with pytest.raises(TypeError):
        asyncio.run(aio.run(kernelpkg.entropy, [1, 2]))
    with pytest.raises(gilfree.InvalidInput, match="k must be at least 1"):
        kernelpkg.search(kernelpkg.TrigramIndex(["abc"]), "abc", 0)


def test_a_thousand_awaits_with_random_cancellations_settle(documents: list[str]) -> None:
    rng = random.Random(99)
    index = kernelpkg.TrigramIndex(documents)

    async def main() -> None:
        tasks = [
            asyncio.ensure_future(
                aio.run(kernelpkg.search, index, documents[i], 3)
                if i % 3 == 0
                else aio.run(kernelpkg.entropy, random_words(rng, rng.randint(0, 600)), rounds=3)
            )
            for i in range(1000)
        ]
        for task in rng.sample(tasks, 300):
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        kinds = {type(result) for result in results}
        assert kinds <= {list, asyncio.CancelledError}, kinds
        assert sum(isinstance(r, asyncio.CancelledError) for r in results) >= 1
        while aio.pending_jobs():
            await asyncio.sleep(0.001)

    asyncio.run(main())
    assert gilfree.executor_stats()["queued_cpu_s"] == 0


def test_a_job_whose_loop_is_collected_is_cancelled_and_released() -> None:
    cancelled = gilfree.executor_stats()["cancelled"]
    loop = asyncio.new_event_loop()
    jobs: list[aio.Job] = []

    async def start() -> None:
        jobs.append(aio.submit(kernelpkg.entropy, ["abc" * 100] * 8, rounds=ENDLESS_ROUNDS))

    loop.run_until_complete(start())
    assert kernelpkg.live_jobs() == 1
    loop.close()
    del loop
    jobs.clear()
    gc.collect()  # the loop, its bridge and the job's handle go: the job is cancelled, freed
    until(lambda: gilfree.executor_stats()["active_jobs"] == 0, timeout=2)
    assert gilfree.executor_stats()["cancelled"] == cancelled + 1
    assert kernelpkg.live_jobs() == 0


def test_a_job_nobody_awaits_any_more_is_cancelled() -> None:
    async def main() -> None:
        cancelled = gilfree.executor_stats()["cancelled"]
        aio.submit(kernelpkg.entropy, ["abc" * 100] * 8, rounds=ENDLESS_ROUNDS)  # dropped at once
        while gilfree.executor_stats()["cancelled"] == cancelled:
            await asyncio.sleep(0.001)
        while aio.pending_jobs():
            await asyncio.sleep(0.001)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert kernelpkg.live_jobs() == 0


def test_the_interpreter_exits_cleanly_with_jobs_running() -> None:
    script = textwrap.dedent(
        """
        import asyncio, threading
        import kernelpkg
        from gilfree import aio

        endless = (["abc" * 100] * 8, 10**12)
        threading.Thread(target=kernelpkg.entropy, args=endless, daemon=True).start()

        async def main():
            global job
            job = aio.submit(kernelpkg.entropy, *endless)

        loop = asyncio.new_event_loop()
        loop.run_until_complete(main())
        print("exiting", flush=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exiting"
    assert "Fatal" not in result.stderr


def test_jobs_are_labelled_by_kernel_in_metrics() -> None:
    from fastapi.testclient import TestClient

    from gilfree.server import create_app

    with TestClient(create_app()) as client:
        kernelpkg.entropy(["abc"] * 10)
        asyncio.run(aio.run(kernelpkg.entropy, ["abc"] * 3000))
        text = client.get("/metrics").text
    assert 'gilfree_kernel_jobs_total{kernel="kernelpkg.entropy",outcome="succeeded"}' in text
    assert 'gilfree_kernel_cpu_seconds_total{kernel="kernelpkg.entropy"}' in text
    assert 'gilfree_kernel_cost_correction{kernel="kernelpkg.entropy"}' in text
    assert 'gilfree_job_run_seconds_count{kernel="kernelpkg.entropy",status="succeeded"}' in text


@pytest.mark.parametrize(
    ("module", "claimed"), [("_major_mismatch", "99.0"), ("_minor_mismatch", "1.99")]
)
def test_an_incompatible_module_fails_at_import_naming_both_versions(
    module: str, claimed: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import kernelpkg.{module}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1  # an ImportError, not a crash
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: this module was built against gilfree")
    assert f"(kernel ABI {claimed})" in last
    runtime = gilfree._core._C_API  # the installed runtime's own version is named too
    assert runtime is not None
    assert f"gilfree installed here is {gilfree.__version__} (kernel ABI 1." in last


@pytest.mark.parametrize(
    ("a", "b"), [(5, 10), (-(2**63), -(2**63)), (2**63 - 1, -(2**63)), (0, 0), (-3, 4)]
)
def test_the_copy_of_sum_squares_agrees_with_gilfrees(a: int, b: int) -> None:
    assert kernelpkg.sum_squares(a, b) == gilfree.sum_squares(a, b) == a * a + b * b
    assert asyncio.run(aio.run(kernelpkg.sum_squares, a, b)) == a * a + b * b


def test_declarations_ten_times_off_are_corrected_after_a_few_jobs() -> None:
    words = ["abcdefgh" * 8] * 200
    # Interleaved, so that the three see the same machine (a shared VM's CPU time is noisy), and
    # eight jobs each, so that what earlier tests ran of kernelpkg.entropy weighs 0.75**8 = 10 %.
    for _ in range(8):
        for kernel in (
            kernelpkg.entropy,
            kernelpkg.entropy_underdeclared,
            kernelpkg.entropy_overdeclared,
        ):
            asyncio.run(aio.run(kernel, words, rounds=50))
    stats = gilfree.kernel_stats()
    honest = stats["kernelpkg.entropy"]["correction"]
    # The same work declared at a tenth and at ten times: corrected by ten times and a tenth.
    assert 6 < stats["kernelpkg.entropy_underdeclared"]["correction"] / honest < 16
    assert 1 / 16 < stats["kernelpkg.entropy_overdeclared"]["correction"] / honest < 1 / 6
