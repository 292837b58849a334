"""Exceptions raised by gilfree: every failure of the library is a GilfreeError subclass."""

from __future__ import annotations

__all__ = [
    "Cancelled",
    "DeadlineExceeded",
    "GilfreeError",
    "InvalidInput",
    "KernelError",
    "Overloaded",
]


class GilfreeError(Exception):
    """Base class of every error gilfree raises."""


class InvalidInput(GilfreeError, ValueError):  # noqa: N818 - the contract names it so
    """The input cannot be processed; ``index`` names the offending element where there is one."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index

    def __reduce__(self) -> tuple[type[InvalidInput], tuple[str, int | None]]:
        return (type(self), (self.message, self.index))


class Overloaded(GilfreeError):  # noqa: N818 - the contract names it so
    """The native runtime refused the work because its queue is full."""


class Cancelled(GilfreeError):  # noqa: N818 - the contract names it so
    """The work was cancelled before it finished."""


class DeadlineExceeded(GilfreeError):  # noqa: N818 - the contract names it so
    """The work's deadline passed before it finished."""


class KernelError(GilfreeError):
    """A kernel's native code failed (it threw an exception, whose message this carries); the
    runtime goes on serving."""
