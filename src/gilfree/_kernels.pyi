"""gilfree's own kernels (internal: use the gilfree package)."""

import enum

import gilfree.kernel


process_numbers_list: gilfree.kernel.Kernel = ...

process_numbers_buffer: gilfree.kernel.Kernel = ...

sum_squares: gilfree.kernel.Kernel = ...

def simd_levels() -> list[str]:
    """Kernel builds this CPU can run, narrowest first."""

def built_simd_levels() -> list[str]:
    """Kernel builds in this binary, narrowest first."""

def simd_level() -> str:
    """The kernel build in use."""

def set_simd_level(name: str) -> None:
    """Chooses the kernel build (one of simd_levels())."""

class NumbersFormat(enum.Enum):
    """How a body or an answer holds its numbers."""

    JSON = 0
    """
    JSON: {"numbers": [...]} in, {"original_count": N, "processed_result": [...]} out.
    """

    INT64 = 1
    """The numbers themselves, little-endian int64."""

class RequestOutcome(enum.Enum):
    """How a NumbersRequest ended."""

    PENDING = 0
    """Not run yet."""

    OK = 1
    """Answered: answer() holds it."""

    NOT_CANONICAL = 2
    """The body is not in canonical form: body() holds it, for the slow path."""

    TOO_MANY = 3
    """More than max_numbers numbers (count says how many)."""

    TOO_MUCH_WORK = 4
    """Numbers x iterations over max_work."""

class RequestBody:
    """A request body gathered in native memory, for a NumbersRequest."""

    def __init__(self, expected_bytes: int = 0) -> None:
        """
        expected_bytes: the declared length, if known (the buffer is then sized once).
        """

    def append(self, chunk: bytes) -> None:
        """Appends a piece of the body."""

    def __len__(self) -> int: ...

class NumbersRequest:
    """
    A POST /process-numbers request and, once its work is done, its outcome and answer.
    """

    def __init__(self, body: object, body_format: NumbersFormat, answer_format: NumbersFormat, iterations: int, max_numbers: int, max_work: int) -> None:
        """
        A RequestBody is consumed (no copy); other bytes-like bodies are copied once.
        """

    @property
    def cost_bound_s(self) -> float:
        """
        Declared CPU seconds of its work before the body is parsed (see numbers_request.hpp).
        """

    @property
    def outcome(self) -> RequestOutcome:
        """How it ended."""

    @property
    def count(self) -> int:
        """Numbers in the body (all of them for TOO_MANY)."""

    def answer(self) -> memoryview:
        """
        The answer's bytes ('ok' only; empty otherwise): JSON text, or little-endian int64.
        """

    def body(self) -> bytes:
        """
        A copy of the request body, for the slow path (empty once answered 'ok').
        """

answer_numbers: gilfree.kernel.Kernel = ...

def set_buffer_cache_limit(max_retained_bytes: int) -> None:
    """Bytes of large request and answer buffers kept for reuse (0: none)."""

def set_allocator_thresholds(mmap_threshold: int, trim_threshold: int) -> bool:
    """
    Pins glibc malloc's mmap and trim thresholds (see memory/allocator.hpp); False where the allocator is not glibc's.
    """

def buffer_cache_stats() -> dict[str, int]:
    """
    The buffer cache's limit, what it retains, and how many takes it served by reuse or by a new allocation.
    """

def arrow_int64_values(array: object) -> memoryview:
    """
    The values of an object exposing __arrow_c_array__ (int64, no nulls) as a memoryview, without a copy.
    """
