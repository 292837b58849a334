"""gilfree's native core (internal: use the gilfree package)."""



def build_info() -> dict[str, str]:
    """Version, compiler and build type of the core."""

def process_numbers_list(numbers: list[int], iterations: int) -> list[int]:
    """Runs process_numbers on a list of ints; returns a new list."""

def process_numbers_buffer(numbers: object, out: object, iterations: int) -> None:
    """
    Runs process_numbers from one int64 buffer into another of the same length.
    """

def sum_squares(a: int, b: int) -> int:
    """The exact a*a + b*b of two int64."""

def configure_executor(threads: int, max_queued_work: int) -> None:
    """
    Restarts the executor with `threads` workers (0: usable CPUs) admitting at most `max_queued_work` units of unfinished work.
    """

def shutdown_executor(grace_s: float = 0.0) -> None:
    """
    Stops admission, lets admitted jobs finish for up to grace_s, cancels the rest and joins the workers. The next use starts a new executor.
    """

def executor_threads() -> int:
    """Worker count of the executor (or of the one the next call starts)."""

def executor_stats() -> dict[str, int]:
    """Counters and gauges of the process executor."""

def usable_cpus() -> int:
    """
    CPUs this process may use: affinity mask capped by the cgroup v2 quota.
    """

def simd_features() -> list[str]:
    """SIMD instruction sets this CPU offers."""

def simd_levels() -> list[str]:
    """Kernel builds this CPU can run, narrowest first."""

def built_simd_levels() -> list[str]:
    """Kernel builds in this binary, narrowest first."""

def simd_level() -> str:
    """The kernel build in use."""

def set_simd_level(name: str) -> None:
    """Chooses the kernel build (one of simd_levels())."""

class CompletionQueue:
    """Finished native jobs for one event loop, signalled on a descriptor."""

    def __init__(self) -> None: ...

    def fileno(self) -> int:
        """Readable while finished jobs wait to be drained."""

    def drain(self) -> list[int]:
        """
        Clears readiness and returns the ids of the jobs finished since the last drain.
        """

class NativeJob:
    """A submitted native job and the memory it works on."""

    @property
    def id(self) -> int: ...

    @property
    def done(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def queue_wait_s(self) -> float:
        """Seconds from admission to the first chunk (or to retirement)."""

    @property
    def run_s(self) -> float:
        """Seconds from the first chunk to the finish."""

    def cancel(self) -> None:
        """Drops the chunks not yet started."""

    def result(self) -> object:
        """
        The job's value, or its failure as a gilfree error. Only once finished.
        """

def submit_process_numbers_list(queue: CompletionQueue, numbers: list[int], iterations: int, timeout_s: float | None) -> NativeJob:
    """Submits process_numbers over a list; result() gives a new list."""

def submit_process_numbers_buffer(queue: CompletionQueue, numbers: object, out: object, iterations: int, timeout_s: float | None) -> NativeJob:
    """Submits process_numbers between int64 buffers; result() gives `out`."""

def submit_sum_squares(queue: CompletionQueue, a: int, b: int, timeout_s: float | None) -> NativeJob:
    """Submits sum_squares; result() gives the exact int."""

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

    def __init__(self, body: object, body_format: str, answer_format: str, iterations: int, max_numbers: int, max_work: int) -> None:
        """
        A RequestBody is consumed (no copy); other bytes-like bodies are copied once.
        """

    @property
    def cost_bound(self) -> int:
        """Work units reserved when it is admitted (see numbers_request.hpp)."""

    @property
    def outcome(self) -> str:
        """
        'ok', 'not_canonical' (for the slow path), 'too_many' (more than max_numbers), 'too_much_work' (numbers x iterations over max_work), or 'pending'.
        """

    @property
    def count(self) -> int:
        """Numbers in the body (all of them for 'too_many')."""

    def answer(self) -> memoryview:
        """
        The answer's bytes ('ok' only; empty otherwise): JSON text, or little-endian int64.
        """

    def body(self) -> bytes:
        """
        A copy of the request body, for the slow path (empty once answered 'ok').
        """

def submit_numbers_request(queue: CompletionQueue, request: NumbersRequest, timeout_s: float | None) -> NativeJob:
    """
    Runs a request's work as one job; result() gives the request, answered.
    """

def answer_numbers_now(request: NumbersRequest) -> None:
    """
    Runs a small request's work on the calling thread (no job), admitted as a job would be.
    """

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
