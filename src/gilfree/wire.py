"""Native wire codecs, awaited on the loop: a JSON request body parsed, and the JSON response of
``process_numbers`` written, in C++ with the GIL released.

The parser takes only the canonical form of ``{"numbers": [int, ...]}`` (see
``cpp/core/wire/numbers_json.hpp``); for anything else it says ``not_canonical`` and the caller
answers through its slow path (pydantic), so acceptance and error bodies stay FastAPI's own.
"""

from __future__ import annotations

from typing import Any

from gilfree import _core
from gilfree._api import _check_iterations
from gilfree.aio import _await_job, _bridge, _check_timeout
from gilfree.errors import InvalidInput

__all__ = ["ParsedNumbers", "parse_numbers_json", "process_parsed", "write_numbers_json"]

ParsedNumbers = _core.ParsedNumbers

# Below these sizes the codec runs on the calling thread: a few microseconds with the GIL held
# cost less than a native job's round trip through the loop (~25 us), and the loop is never held
# for long. Above them, it is a native job on the workers.
INLINE_BODY_BYTES = 16 * 1024
INLINE_VALUES = 2048


async def parse_numbers_json(
    body: bytes, *, max_numbers: int, timeout: float | None = None
) -> ParsedNumbers:
    """Parses a request body off the loop. The result's ``status`` is ``ok``, ``not_canonical``
    or ``too_many`` (more than ``max_numbers`` values; ``count`` says how many)."""
    if isinstance(max_numbers, bool) or not isinstance(max_numbers, int) or max_numbers < 0:
        raise InvalidInput(f"max_numbers must be a non-negative int, got {max_numbers!r}")
    if len(body) <= INLINE_BODY_BYTES:
        return _core.parse_numbers_json_now(body, max_numbers)
    bridge = _bridge()
    job = _core.submit_parse_numbers_json(bridge.queue, body, max_numbers, _check_timeout(timeout))
    parsed: ParsedNumbers = await _await_job(bridge, job, "parse_numbers_json")
    return parsed


async def process_parsed(
    parsed: ParsedNumbers, iterations: int = 1000, *, timeout: float | None = None
) -> ParsedNumbers:
    """Runs process_numbers on parsed numbers in place (as a native job, like aio's)."""
    iterations = _check_iterations(iterations)
    bridge = _bridge()
    job = _core.submit_process_parsed(bridge.queue, parsed, iterations, _check_timeout(timeout))
    await _await_job(bridge, job, "process_numbers")
    return parsed


async def write_numbers_json(values: Any, *, timeout: float | None = None) -> memoryview:
    """``{"original_count":N,"processed_result":[...]}`` for parsed numbers or an int64 buffer,
    written off the loop; a memoryview of bytes the native side owns (no copy)."""
    count = values.count if isinstance(values, ParsedNumbers) else len(memoryview(values))
    if count <= INLINE_VALUES:
        return _core.write_numbers_json_now(values)
    bridge = _bridge()
    job = _core.submit_write_numbers_json(bridge.queue, values, _check_timeout(timeout))
    body: memoryview = await _await_job(bridge, job, "write_numbers_json")
    return body
