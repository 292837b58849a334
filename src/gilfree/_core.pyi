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

def configure_executor(threads: int) -> None:
    """Restarts the executor with `threads` workers (0: usable CPUs)."""

def shutdown_executor() -> None:
    """Stops the executor and joins its workers."""

def executor_threads() -> int:
    """Worker count of the executor (or of the one the next call starts)."""

def usable_cpus() -> int:
    """
    CPUs this process may use: affinity mask capped by the cgroup v2 quota.
    """

def simd_features() -> list[str]:
    """SIMD instruction sets this CPU offers."""
