"""Kernels: native functions of any kernel module, run on gilfree's one executor.

A kernel module (a C++ extension built against ``<gilfree/python.hpp>``, gilfree's own
``gilfree._kernels`` included) defines each of its kernels once in C++; the module then holds a
``Kernel`` for it. Calling the kernel runs a job synchronously; ``await gilfree.aio.run(kernel,
*args)`` awaits the same job on the running event loop. Either way the job runs on the process's
native pool, off the GIL, is admitted against the same queue as every other kernel's (in
estimated CPU seconds) and is counted under the kernel's name in ``kernel_stats()`` and
``/metrics``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gilfree import _core

__all__ = ["OUTCOMES", "Kernel", "kernel_stats"]

# The counts of a kernel's jobs in kernel_stats(): admitted to the workers, run at once, refused,
# and how those that finished ended.
OUTCOMES = (
    "submitted",
    "inline_runs",
    "rejected",
    "succeeded",
    "failed",
    "cancelled",
    "deadline_exceeded",
)
_SECONDS = ("declared_cpu_s", "estimated_cpu_s", "measured_cpu_s")


class Kernel:
    """A native kernel: ``kernel(*args)`` runs its job and returns the result.

    The calling thread waits with the GIL released while the job runs on the native pool (a job
    estimated at a few microseconds runs at once on the calling thread instead). Use
    ``gilfree.aio.run(kernel, *args)`` or ``gilfree.aio.submit`` from ``async`` code. The job's
    failures are ``gilfree.GilfreeError`` subclasses: ``InvalidInput``, ``Overloaded``,
    ``KernelError`` (an exception of the kernel's C++ code, with its message); and MemoryError.
    """

    def __init__(
        self,
        name: str,
        python_name: str,
        call: Callable[..., Any],
        submit: Callable[..., _core.NativeJob],
        module: str,
    ) -> None:
        self.name = name
        self.__name__ = self.__qualname__ = python_name
        self.__module__ = module
        self.__doc__ = call.__doc__
        self._call = call
        self._submit = submit

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def submit(
        self, queue: _core.CompletionQueue, timeout_s: float | None, *args: Any, **kwargs: Any
    ) -> _core.NativeJob:
        """Starts the job, reporting to ``queue`` (an event loop's, see ``gilfree.aio``), with a
        deadline ``timeout_s`` seconds from now (None: none). Runs it at once when its estimate is
        a few microseconds (the job is then already done)."""
        return self._submit(queue, timeout_s, *args, **kwargs)

    def stats(self) -> dict[str, int | float]:
        """This kernel's entry of ``kernel_stats()`` (zeros before its first job)."""
        empty: dict[str, int | float] = dict.fromkeys((*OUTCOMES, *_SECONDS), 0)
        return kernel_stats().get(self.name, empty | {"correction": 1.0})

    def __reduce__(self) -> str:
        # Pickled by reference, as a function is: its module's attribute, found again where it is
        # unpickled (a process pool's or a Ray actor's process imports the kernel's module).
        return self.__name__

    def __repr__(self) -> str:
        return f"<gilfree.Kernel {self.name!r} ({self.__module__}.{self.__name__})>"


def kernel_stats() -> dict[str, dict[str, int | float]]:
    """Per kernel name: its jobs by outcome (``submitted`` to the pool and ``inline_runs``,
    ``rejected``, ``succeeded``, ``failed``, ``cancelled``, ``deadline_exceeded``), the CPU seconds
    of its finished jobs as declared, as admission estimated them and as measured, and the
    ``correction`` (measured over declared, from its recent jobs) admission now applies to its
    declarations."""
    return dict(_core.kernel_stats())
