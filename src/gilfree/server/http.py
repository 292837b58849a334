"""uvicorn's httptools protocol with bounds: one client cannot grow a request head without limit,
hold a connection by sending nothing, or take more connections than the service serves.

``gilfree serve`` runs uvicorn with ``BoundedHttpToolsProtocol`` (``http=`` this class's import
path); the bounds are the service's settings (``GILFREE_*``):

- ``max_header_bytes``: a request line and headers larger than this get 431 and the connection is
  closed. The head is measured in raw bytes as they arrive, before the parser sees them, so a head
  sent slowly costs no more than one of the limit's size (the parser joins a value sent in pieces
  by concatenation: time that grows with the square of its length).
- ``max_headers``: more header fields get 431 as well.
- ``header_timeout_s``: a connection that has not sent a whole request head within this many
  seconds of its first byte (or of the connection, for a new one) gets 408 and is closed. Between
  requests, uvicorn's keep-alive timeout (5 s) closes an idle connection first.
- ``body_timeout_s``: a request whose body stops arriving for this many seconds (while the server
  is reading it) gets 408, or is closed if its answer has started; its app sees a disconnect, which
  cancels its work.
- ``max_connections``: a connection past this many open ones is answered 503 with ``Retry-After``
  and closed at once.

A route of the app may have its work started by the protocol as soon as a request's body has
arrived, while the request is still on its way through the app's middleware (``EarlyStart``):
the app still runs and answers every request, the body reaches it as usual, and its route takes
the work from the scope (``EARLY_START``) instead of starting it.

A request the server has no memory to buffer is answered 503 with ``Retry-After`` (the app maps a
``MemoryError`` of its own to the same answer). The access log, when uvicorn's own configuration of
it is in place, is written by ``gilfree.server.access_log`` (the same lines, buffered).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from starlette.types import Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gilfree.fastapi import RETRY_AFTER_S
from gilfree.server.access_log import BufferedAccessLog
from gilfree.server.limits import content_length
from gilfree.server.settings import Settings

__all__ = [
    "EARLY_MAX_BODY_BYTES",
    "EARLY_START",
    "EARLY_STARTS",
    "PROTOCOL",
    "BoundedHttpToolsProtocol",
    "Bounds",
    "EarlyStart",
    "EarlyStarter",
]

# What uvicorn's `http=` option takes to run this protocol (an import path: worker processes
# import it themselves).
PROTOCOL = f"{__name__}:BoundedHttpToolsProtocol"

_logger = logging.getLogger("uvicorn.error")
# Seconds a connection answered by the protocol itself stays open for the client to read it.
LINGER_S = 2.0

# Where an app keeps its early starters (``app.state.<EARLY_STARTS>``: (method, path) to starter),
# and where the scope of a request holds the EarlyStart the server began for it.
EARLY_STARTS = "gilfree_early_starts"
EARLY_START = "gilfree.early_start"
# Bodies up to this many declared bytes may start early: read whole, without waiting for the app
# (larger ones take their time through the app, under uvicorn's flow control, as any request).
EARLY_MAX_BODY_BYTES = 1 << 20


class EarlyStart(Protocol):
    """The work of one request, begun by the server before its app runs: it gets the body's
    pieces as they arrive, then ``complete()`` once the body is whole (which starts the work and
    must not raise: a failure is the route's to report when it takes the work)."""

    def append(self, chunk: bytes) -> None: ...

    def complete(self) -> None: ...


# scope, declared body length -> the request's EarlyStart, or None: the app alone handles it.
EarlyStarter = Callable[[Scope, int], EarlyStart | None]


def _answer(status: bytes, detail: bytes, extra: bytes = b"") -> bytes:
    body = b'{"detail":"' + detail + b'"}'
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n"
        + extra
        + b"connection: close\r\n\r\n"
        + body
    )


class Bounds:
    """The bounds of one server process, from its settings."""

    def __init__(self, settings: Settings) -> None:
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.body_timeout_s
        self.max_connections = settings.max_connections
        self.head_too_large = _answer(
            b"431 Request Header Fields Too Large",
            b"the request line and headers are larger than max_header_bytes=%d or more than"
            b" max_headers=%d fields" % (self.max_header_bytes, self.max_headers),
        )
        self.head_timeout = _answer(
            b"408 Request Timeout",
            b"the request head did not arrive within header_timeout_s=%g" % self.header_timeout_s,
        )
        self.body_timeout = _answer(
            b"408 Request Timeout",
            b"the request body stopped arriving for body_timeout_s=%g" % self.body_timeout_s,
        )
        self.out_of_memory = _answer(
            b"503 Service Unavailable",
            b"the service has no memory for this request now: try again",
            b"retry-after: %d\r\n" % RETRY_AFTER_S,
        )
        self.too_many_connections = _answer(
            b"503 Service Unavailable",
            b"the service has max_connections=%d open: try again" % self.max_connections,
            b"retry-after: %d\r\n" % RETRY_AFTER_S,
        )


@functools.cache
def _process_bounds() -> Bounds:
    # The service's settings as its app reads them: the GILFREE_* environment, which
    # `gilfree serve` has set for its workers as well.
    return Bounds(Settings())


_access_logs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BufferedAccessLog | None] = (
    weakref.WeakKeyDictionary()
)


def _access_log(logger: logging.Logger, loop: asyncio.AbstractEventLoop) -> Any:
    """uvicorn's access logger, or what stands in for it (one per loop)."""
    if loop not in _access_logs:
        _access_logs[loop] = BufferedAccessLog.standing_in_for(logger, loop)
    return _access_logs[loop] or logger


_starters: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], EarlyStarter]] = (
    weakref.WeakKeyDictionary()
)


def _early_starters(app: Any) -> dict[tuple[str, str], EarlyStarter]:
    """The early starters of the app under the server's own middleware (none for other apps)."""
    try:
        return _starters[app]
    except (KeyError, TypeError):  # not seen yet, or not weakly referable (then not cached)
        pass
    inner = app
    while hasattr(inner, "app"):  # uvicorn's middleware wraps the app as `.app`
        inner = inner.app
    found = getattr(getattr(inner, "state", None), EARLY_STARTS, None)
    starters = found if isinstance(found, dict) else {}
    with contextlib.suppress(TypeError):
        _starters[app] = starters
    return starters


class _LingeringTransport:
    """A request's view of its connection: closing it while the request's body is still
    arriving (an early answer, such as a 413 or a 503, on a connection that is not kept alive)
    ends the stream and lingers (``BoundedHttpToolsProtocol._end``) instead of closing at once."""

    def __init__(self, protocol: BoundedHttpToolsProtocol, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._transport = transport
        self.write = transport.write
        self.is_closing = transport.is_closing

    def close(self) -> None:
        if self._protocol.reading_body and not self._transport.is_closing():
            self._protocol._end(b"")
        else:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of ``Bounds`` (see the module's docstring)."""

    bounds: Bounds | None = None  # None: the process's settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.access_log:
            self.access_logger = _access_log(self.access_logger, self.loop)
        self._bounds = self.bounds or _process_bounds()
        # Set once the connection is answered by this protocol itself (refused, timed out): what
        # the client still sends is read and dropped until it closes or LINGER_S pass.
        self._ended = False
        # The head being read: its bytes so far, and its header fields (None: no head pending,
        # its request is being read or answered).
        self._head_bytes: int | None = 0
        self._head_fields = 0
        # When the body last made progress (None: no body being read).
        self._body_seen_at: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        # The request being read whose work started early, if any.
        self._early: EarlyStart | None = None

    # Connections.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self._bounds.max_connections:
            self.transport = transport
            self._end(self._bounds.too_many_connections)
            return
        super().connection_made(transport)
        self._lingering = _LingeringTransport(self, transport)
        self._arm(self._bounds.header_timeout_s)  # the first request's head, from now

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.flow is None:  # refused at once: uvicorn never knew it
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._over():
            return
        try:
            self._received(data)
        except MemoryError:  # no memory to buffer the request: the client may try again
            if self.cycle is not None and self.cycle.response_started:
                self._drop_cycle()
                self.transport.close()
            else:
                self._refuse(self._bounds.out_of_memory)

    def _received(self, data: bytes) -> None:
        head = self._head_bytes
        if head is None:  # a body, or bytes after the request
            if self._body_seen_at is not None:
                self._body_seen_at = self.loop.time()
            super().data_received(data)
        else:
            room = self._bounds.max_header_bytes - head
            if len(data) > room:
                # Only the limit's worth of bytes may hold the head; the rest must follow its end.
                self._head_bytes = head + room
                super().data_received(data[:room])
                if self._over():
                    return
                if self._head_bytes is not None:
                    self._refuse(self._bounds.head_too_large)
                    return
                self._received(data[room:])
                return
            self._head_bytes = head + len(data)
            super().data_received(data)
        # A head or a body still to come is timed from now (its first bytes), if it is not yet.
        if self._timer is None and not self._over():
            if self._head_bytes:
                self._arm(self._bounds.header_timeout_s)
            elif self._body_seen_at is not None:
                self._arm(self._bounds.body_timeout_s)

    # Parser callbacks: none acts once the connection is being closed.

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._over():
            return
        self._head_fields += 1
        if self._head_fields > self._bounds.max_headers:
            self._refuse(self._bounds.head_too_large)
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._over():
            return
        self._head_bytes = None
        self._head_fields = 0
        self._disarm()
        super().on_headers_complete()
        self._early = None
        if self.cycle is not None:
            self.cycle.transport = self._lingering  # type: ignore[assignment]
            self._early = self._start_early(self.cycle.scope)
        # A body follows unless the message completes in this same feed.
        self._body_seen_at = self.loop.time()

    def on_body(self, body: bytes) -> None:
        if self._over():
            return
        early = self._early
        if early is None:
            super().on_body(body)
            return
        early.append(body)
        super().on_body(body)
        # The whole (bounded) body is read at once: its work starts without waiting for the app.
        self.flow.resume_reading()

    def on_message_complete(self) -> None:
        if self._over():
            return
        self._body_seen_at = None
        self._disarm()
        self._head_bytes = 0
        super().on_message_complete()
        early, self._early = self._early, None
        if early is not None:
            early.complete()

    # Early starts.

    def _start_early(self, scope: Any) -> EarlyStart | None:
        """The EarlyStart of a request whose app's route has a starter for it, put in its scope."""
        starter = _early_starters(self.app).get((scope["method"], scope["path"]))
        if starter is None or scope.get("root_path"):
            return None
        declared = content_length(scope)
        if declared is None or not 0 < declared <= EARLY_MAX_BODY_BYTES:
            return None
        early = starter(scope, declared)
        if early is not None:
            scope[EARLY_START] = early
        return early

    # Timeouts.

    def _arm(self, delay_s: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay_s, self._on_timer)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        if self._over():
            return
        if self._head_bytes is not None:
            if self._head_bytes == 0:  # a new connection that sent nothing: closed unanswered
                self.transport.close()
            else:
                _logger.info(
                    "request head not received within %gs: 408", self._bounds.header_timeout_s
                )
                self._refuse(self._bounds.head_timeout)
            return
        seen = self._body_seen_at
        if seen is None:
            return
        if self.flow.read_paused:  # the app is not reading: its own pace, not the client's
            self._body_seen_at = self.loop.time()
            self._arm(self._bounds.body_timeout_s)
            return
        idle = self.loop.time() - seen
        if idle < self._bounds.body_timeout_s:  # bytes came meanwhile
            self._arm(self._bounds.body_timeout_s - idle)
            return
        _logger.info("request body stalled for %gs: 408", self._bounds.body_timeout_s)
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            self._drop_cycle()
            self.transport.close()
        else:
            self._refuse(self._bounds.body_timeout)

    def _drop_cycle(self) -> None:
        """The request's app, if any, now reads a disconnect, and its answer is dropped."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()

    @property
    def reading_body(self) -> bool:
        """Whether a request's body is still arriving."""
        return self._body_seen_at is not None

    def _over(self) -> bool:
        return self._ended or self.transport.is_closing()

    def _refuse(self, answer: bytes) -> None:
        """Answers ``answer`` in place of the app (whose answer, if it runs, is dropped)."""
        self._drop_cycle()
        self._end(answer)

    def _end(self, answer: bytes) -> None:
        """Sends ``answer``, then the end of the stream, and closes once the client has closed its
        side too, or after LINGER_S: closing with request bytes unread would make the kernel
        reset the connection, which can destroy the answer before the client reads it."""
        self._disarm()
        self._ended = True
        transport = self.transport
        if answer:
            transport.write(answer)
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()  # read (and drop) what the client still sends
        self._timer = self.loop.call_later(LINGER_S, transport.close)
