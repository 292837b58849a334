"""gilfree's native runtime (internal: use the gilfree package)."""

import enum


def build_info() -> dict[str, str]:
    """Version, compiler and build type of the runtime."""

class ThreadPinning(enum.Enum):
    """Whether the workers are pinned to one CPU each."""

    AUTO = 0
    """
    When the pool has one worker for each CPU of the affinity mask (2 or more).
    """

    ALWAYS = 1
    """Every worker, in turn over the mask's CPUs."""

    NEVER = 2
    """No worker."""

def configure_executor(threads: int, max_queued_cpu_s: float, pinning: ThreadPinning = ThreadPinning.AUTO) -> None:
    """
    Restarts the executor with `threads` workers (0: usable CPUs) admitting at most `max_queued_cpu_s` estimated CPU seconds of unfinished work (inf: no limit), its workers pinned as `pinning` says (for the executors started after it too).
    """

def shutdown_executor(grace_s: float = 0.0) -> None:
    """
    Stops admission, lets admitted jobs finish for up to grace_s, cancels the rest and joins the workers. The next use starts a new executor.
    """

def exit_runtime() -> None:
    """
    At interpreter exit: cancels every job, joins the workers, and keeps threads that waited for a job from taking the GIL back while the interpreter finalizes.
    """

def executor_threads() -> int:
    """Worker count of the executor (or of the one the next call starts)."""

def executor_stats() -> dict[str, int | float]:
    """Counters and gauges of the process executor."""

def kernel_stats() -> dict[str, dict[str, int | float]]:
    """
    Per kernel: its jobs by outcome, their declared, estimated and measured CPU seconds, and the correction admission applies to its declarations.
    """

def inline_max_s() -> float:
    """
    Jobs estimated at most this many CPU seconds run at once on the calling thread.
    """

def set_inline_max_s(seconds: float) -> None:
    """Sets inline_max_s (0: every job goes to the workers)."""

def usable_cpus() -> int:
    """
    CPUs this process may use: affinity mask capped by the cgroup v2 quota.
    """

def simd_features() -> list[str]:
    """SIMD instruction sets this CPU offers."""

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
    """A submitted job of any kernel, owning its state."""

    @property
    def id(self) -> int: ...

    @property
    def done(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def kernel(self) -> str:
        """The kernel its job is counted under."""

    @property
    def ran_inline(self) -> bool:
        """Whether it ran at once on the submitting thread (a tiny estimate)."""

    @property
    def estimated_cpu_s(self) -> float:
        """CPU seconds admission estimated it at."""

    @property
    def queue_wait_s(self) -> float:
        """Seconds from admission to the first chunk (or to retirement)."""

    @property
    def run_s(self) -> float:
        """Seconds from the first chunk to the finish."""

    @property
    def cpu_s(self) -> float:
        """CPU seconds its chunks used."""

    def cancel(self) -> None:
        """Drops the chunks not yet started."""

    def result(self) -> object:
        """
        The job's value, or its failure as a gilfree error. Only once finished.
        """
