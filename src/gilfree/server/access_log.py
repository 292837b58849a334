"""uvicorn's access log lines at a fraction of their cost.

uvicorn logs every request through the ``logging`` module (a LogRecord, the caller's frame, the
handler's lock, a copy of the record in its formatter) and flushes the stream after every line:
measured here, 22 us a line in a tight loop and about 70 us of a request's time in a server, more
than gilfree spends answering ``/sum-squares``. ``BufferedAccessLog`` writes the very same line
(colours included, when uvicorn's formatter uses them) straight to the handler's stream, and
flushes it ``FLUSH_S`` after the first line written since the last flush: a line may reach the
log up to that much later, and the lines of the last ``FLUSH_S`` before a SIGKILL are lost.

It stands in only for uvicorn's own configuration of the ``uvicorn.access`` logger (one
StreamHandler, uvicorn's AccessFormatter and format, no filters); with any other (``--log-config``,
handlers of your own), uvicorn's logger is used as it is.
"""

from __future__ import annotations

import asyncio
import logging
from typing import IO, Any

from uvicorn import logging as uvicorn_logging
from uvicorn.logging import AccessFormatter

__all__ = ["FLUSH_S", "UVICORN_ACCESS_FORMAT", "BufferedAccessLog"]

FLUSH_S = 0.1
# uvicorn's default format of the access log (uvicorn.config.LOGGING_CONFIG).
UVICORN_ACCESS_FORMAT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'


class BufferedAccessLog:
    """Takes uvicorn's ``access_logger.info(message, client, method, path, version, status)``
    calls and writes the line uvicorn's formatter would."""

    def __init__(
        self, formatter: AccessFormatter, stream: IO[str], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._formatter = formatter
        self._stream = stream
        self._loop = loop
        self._colours = bool(formatter.use_colors)
        level = "INFO"
        if self._colours:
            level = formatter.color_level_name(level, logging.INFO)
        self._prefix = level + ":" + " " * (8 - len("INFO")) + " "
        self._statuses: dict[int, str] = {}
        self._flush_pending = False

    @classmethod
    def standing_in_for(
        cls, logger: logging.Logger, loop: asyncio.AbstractEventLoop
    ) -> BufferedAccessLog | None:
        """One for ``logger`` if it is configured as uvicorn configures it, else None."""
        if not logger.isEnabledFor(logging.INFO) or logger.propagate or logger.filters:
            return None
        if len(logger.handlers) != 1:
            return None
        handler = logger.handlers[0]
        formatter = handler.formatter
        if type(handler) is not logging.StreamHandler or handler.filters:
            return None
        if handler.level > logging.INFO:
            return None
        if type(formatter) is not AccessFormatter or formatter._fmt != UVICORN_ACCESS_FORMAT:
            return None
        return cls(formatter, handler.stream, loop)

    def _status(self, status: int) -> str:
        text = self._statuses.get(status)
        if text is None:
            text = self._statuses[status] = self._formatter.get_status_code(status)
        return text

    def line(self, client: str, method: str, path: str, version: str, status: int) -> str:
        """The line (without its newline) uvicorn's formatter writes for these arguments."""
        request_line = f"{method} {path} HTTP/{version}"
        if self._colours:
            request_line = uvicorn_logging.ansi_style(request_line, bold=True)  # type: ignore[attr-defined]
        return f'{self._prefix}{client} - "{request_line}" {self._status(status)}'

    def info(self, message: str, *args: Any) -> None:
        self._stream.write(self.line(*args) + "\n")
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        self._stream.flush()
