"""Request limits: the body-size guard (ASGI middleware) and the queued-work and deadline bound."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gilfree.errors import DeadlineExceeded, Overloaded

__all__ = ["BodySizeLimit", "KernelRunner"]

T = TypeVar("T")


class BodySizeLimit:
    """Answers 413 to a request whose body is larger than ``max_body_bytes``.

    A declared ``Content-Length`` over the limit is refused before the application runs or any body
    byte is read. Otherwise (chunked, or a lying client) the bytes are counted as they stream in and
    the 413 goes out as soon as the count passes the limit; the application then sees a disconnect
    and whatever it answers is dropped. The connection is not closed by force: closing a socket with
    unread request bytes makes the kernel send a reset that can destroy the 413 before the client
    reads it, and uvicorn discards the rest of the body itself.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send, f"request body of {declared} bytes")
            return

        received = 0
        refused = False
        response_started = False

        async def receive_within_limit() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    refused = True
                    if not response_started:
                        await self._refuse(send, f"request body of at least {received} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, receive_within_limit, send_unless_refused)

    async def _refuse(self, send: Send, what: str) -> None:
        detail = f"{what} is larger than max_body_bytes={self.max_body_bytes}"
        body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 18:
        return None  # absent, malformed or absurd: count the bytes as they arrive instead
    return int(value)


class KernelRunner:
    """Runs blocking kernel calls in the thread pool, bounded by queued work and a deadline.

    Work is ``numbers x iterations``. A call that would take the work admitted but not finished
    past ``max_queued_work`` raises :class:`~gilfree.errors.Overloaded` at once. A call still
    running when its deadline passes raises :class:`~gilfree.errors.DeadlineExceeded`; a thread
    cannot be interrupted, so its work stays counted until it really ends. All state lives on the
    event-loop thread, so no lock is needed.
    """

    def __init__(self, max_queued_work: int) -> None:
        self.max_queued_work = max_queued_work
        self.queued_work = 0
        self._running: set[asyncio.Future[Any]] = set()

    async def run(self, call: Callable[[], T], *, work: int, timeout_s: float) -> T:
        if self.queued_work + work > self.max_queued_work:
            raise Overloaded(
                f"the service is at capacity: {self.queued_work} units of work are queued, this"
                f" request needs {work} and the limit is max_queued_work={self.max_queued_work}"
            )
        self.queued_work += work
        running: asyncio.Future[T] = asyncio.ensure_future(run_in_threadpool(call))
        self._running.add(running)
        running.add_done_callback(partial(self._finished, work))
        try:
            # shield: a deadline or a cancelled request must not orphan the accounting callback
            return await asyncio.wait_for(asyncio.shield(running), timeout_s)
        except asyncio.TimeoutError:
            raise DeadlineExceeded(
                f"the work did not finish within its deadline of {timeout_s:g} s"
            ) from None

    def _finished(self, work: int, running: asyncio.Future[Any]) -> None:
        self.queued_work -= work
        self._running.discard(running)
        if not running.cancelled():
            running.exception()  # retrieved here so that an abandoned failure is not logged

    async def drain(self) -> None:
        """Waits for calls whose requests gave up on them (deadline passed) to end."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
