"""The uvicorn server of ``gilfree serve``: uvicorn's own, except for how a graceful stop ends."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn

__all__ = ["GracefulServer"]


class GracefulServer(uvicorn.Server):
    """uvicorn's server, except that a stop asked for by SIGTERM or SIGINT that shuts down
    gracefully exits 0. uvicorn re-raises the signal once it has shut down, so that the process
    ends as killed by it (status 143 for SIGTERM): a failure, to a supervisor or an init system,
    for what was an orderly stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()  # shut down as asked: nothing to re-raise
