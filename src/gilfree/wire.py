"""The native wire path: a whole ``POST /process-numbers`` request, from its body's bytes to its
answer's bytes, run in C++ with the GIL released as one native job awaited on the loop.

The job (the kernel ``answer_numbers`` of ``gilfree._kernels``, counted as
``process_numbers_request``) takes the numbers (a JSON body parsed by the strict parser of
``cpp/core/wire/numbers_json.hpp``, or little-endian int64 values used in place), checks
``max_numbers`` and ``max_work``, runs ``process_numbers`` on them in parallel chunks, and writes
the answer (JSON text written in parallel chunks, or the int64 values themselves). A JSON body the
strict parser does not take as canonical comes back as ``NOT_CANONICAL``, for the caller to answer
through its slow path (pydantic), so acceptance and error bodies stay FastAPI's own. A request
whose estimate is a few microseconds is answered at once on the loop's thread, as any tiny job.

Large bodies and answers live in a process-wide cache of buffers (``set_buffer_cache_limit``),
so a stream of large requests does not map, fault in and unmap fresh memory every time.
"""

from __future__ import annotations

import os

from gilfree import _kernels, aio
from gilfree._api import _UNLIMITED, _check_iterations
from gilfree._checks import check_int, check_member
from gilfree.errors import InvalidInput

__all__ = [
    "NumbersFormat",
    "NumbersRequest",
    "RequestBody",
    "RequestOutcome",
    "answer_numbers",
    "buffer_cache_stats",
    "numbers_request",
    "set_buffer_cache_limit",
    "submit_numbers_request",
    "tune_allocator",
]

NumbersRequest = _kernels.NumbersRequest
RequestBody = _kernels.RequestBody
# How a body or an answer holds its numbers (JSON, INT64), and how a request ended (PENDING, OK,
# NOT_CANONICAL, TOO_MANY, TOO_MUCH_WORK): the core's own enums.
NumbersFormat = _kernels.NumbersFormat
RequestOutcome = _kernels.RequestOutcome
_MIB = 1024 * 1024
# mallopt takes an int.
_MALLOPT_MAX = 2**31 - 1


def _check_limit(name: str, value: int | None) -> int:
    return _UNLIMITED if value is None else check_int(name, value, 0, _UNLIMITED)


def numbers_request(
    body: RequestBody | bytes | bytearray | memoryview,
    *,
    iterations: int = 1000,
    body_format: NumbersFormat = NumbersFormat.JSON,
    answer_format: NumbersFormat = NumbersFormat.JSON,
    max_numbers: int | None = None,
    max_work: int | None = None,
) -> NumbersRequest:
    """The request for a ``POST /process-numbers`` body, not yet run (``outcome`` is ``PENDING``):
    ``submit_numbers_request`` runs it. A ``RequestBody`` is consumed without a copy; other
    bytes-like bodies are copied once. An int64 body whose length is not a multiple of 8 raises
    ``InvalidInput``.
    """
    iterations = _check_iterations(iterations)
    body_format = check_member("body_format", body_format, NumbersFormat)
    answer_format = check_member("answer_format", answer_format, NumbersFormat)
    numbers_limit = _check_limit("max_numbers", max_numbers)
    work_limit = _check_limit("max_work", max_work)
    if not isinstance(body, RequestBody):
        try:
            memoryview(body).release()
        except TypeError:
            raise InvalidInput(
                f"body must be a RequestBody or a bytes-like object, got {type(body).__name__}"
            ) from None
    return NumbersRequest(body, body_format, answer_format, iterations, numbers_limit, work_limit)


def submit_numbers_request(request: NumbersRequest, *, timeout: float | None = None) -> aio.Job:
    """Runs a request's work as one native job of the running loop (``gilfree.aio.submit`` of
    ``answer_numbers``): at once when its estimate is a few microseconds (the job is then done and
    the request answered), else on the pool. Awaiting the job gives the request, answered."""
    return aio.submit(_kernels.answer_numbers, request, timeout=timeout)


async def answer_numbers(
    body: RequestBody | bytes | bytearray | memoryview,
    *,
    iterations: int = 1000,
    body_format: NumbersFormat = NumbersFormat.JSON,
    answer_format: NumbersFormat = NumbersFormat.JSON,
    max_numbers: int | None = None,
    max_work: int | None = None,
    timeout: float | None = None,
) -> NumbersRequest:
    """Answers a ``POST /process-numbers`` body; the result's ``outcome`` says how it went:

    - ``OK``: ``answer()`` is a memoryview of the answer's bytes (no copy), the JSON object
      ``{"original_count": N, "processed_result": [...]}`` or the results as little-endian int64;
    - ``NOT_CANONICAL``: a JSON body for the slow path (``body()`` gives it back);
    - ``TOO_MANY``: more than ``max_numbers`` numbers (``count`` says how many);
    - ``TOO_MUCH_WORK``: ``count x iterations`` is more than ``max_work``.

    Raises ``InvalidInput`` as ``numbers_request`` does, and ``Overloaded``, ``DeadlineExceeded``
    (past ``timeout`` seconds) and ``Cancelled`` as ``gilfree.aio`` does.
    """
    request = numbers_request(
        body,
        iterations=iterations,
        body_format=body_format,
        answer_format=answer_format,
        max_numbers=max_numbers,
        max_work=max_work,
    )
    answered: NumbersRequest = await submit_numbers_request(request, timeout=timeout)
    return answered


def set_buffer_cache_limit(max_retained_bytes: int) -> None:
    """Keeps at most this many bytes of large request and answer buffers for reuse (0: none)."""
    _kernels.set_buffer_cache_limit(_check_limit("max_retained_bytes", max_retained_bytes))


def buffer_cache_stats() -> dict[str, int]:
    """The buffer cache's limit and retained bytes and blocks, and how many buffers it served by
    reuse and by a new allocation."""
    return dict(_kernels.buffer_cache_stats())


def tune_allocator(mmap_threshold: int = _MIB, trim_threshold: int = 8 * _MIB) -> bool:
    """Pins glibc malloc's mmap and trim thresholds for a process that serves large requests.

    Once the large buffers live in the buffer cache, glibc's default (a 128 KiB mmap threshold
    that only rises when a large block is freed) maps, faults in and unmaps every mid-size block
    the HTTP layer allocates per request; pinned, those stay in the heap for reuse, and the heap
    keeps at most ``trim_threshold`` free bytes at its top. Returns False, changing nothing, where
    the allocator is not glibc's or where ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_``
    is set (the environment's own choice wins).
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    mmap = check_int("mmap_threshold", mmap_threshold, 0, _MALLOPT_MAX)
    trim = check_int("trim_threshold", trim_threshold, 0, _MALLOPT_MAX)
    return bool(_kernels.set_allocator_thresholds(mmap, trim))
