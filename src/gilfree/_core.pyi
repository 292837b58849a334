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

class ParsedNumbers:
    """The numbers of a JSON request body, as the strict parser saw it."""

    @property
    def status(self) -> str:
        """
        'ok', 'not_canonical' (for the slow path) or 'too_many' (more than max_numbers).
        """

    @property
    def count(self) -> int:
        """How many numbers the body holds (all of them, even past max_numbers)."""

    def values(self) -> memoryview:
        """
        The numbers (after processing, the results) as a memoryview of int64, without a copy.
        """

def submit_parse_numbers_json(queue: CompletionQueue, body: bytes, max_numbers: int, timeout_s: float | None) -> NativeJob:
    """Parses a request body; result() gives a ParsedNumbers."""

def parse_numbers_json_now(body: bytes, max_numbers: int) -> ParsedNumbers:
    """
    Parses a small request body on the calling thread (a few microseconds; no job).
    """

def write_numbers_json_now(values: object) -> memoryview:
    """
    Writes the JSON response for a few numbers on the calling thread (no job).
    """

def submit_process_parsed(queue: CompletionQueue, parsed: ParsedNumbers, iterations: int, timeout_s: float | None) -> NativeJob:
    """Runs process_numbers on parsed numbers, in place; result() gives None."""

def submit_write_numbers_json(queue: CompletionQueue, values: object, timeout_s: float | None) -> NativeJob:
    """
    Writes the JSON response for parsed numbers or an int64 buffer; result() gives a memoryview of its bytes.
    """

def arrow_int64_values(array: object) -> memoryview:
    """
    The values of an object exposing __arrow_c_array__ (int64, no nulls) as a memoryview, without a copy.
    """
