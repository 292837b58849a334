"""Request limits: the body-size guard, an ASGI middleware that answers 413 before the app reads."""

from __future__ import annotations

import json
from typing import TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit", "content_length"]

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
        declared = content_length(scope)
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


def content_length(scope: Scope) -> int | None:
    """The declared body length, or None when absent, malformed or absurd."""
    for name, value in scope["headers"]:
        if name == b"content-length":  # the first, as Headers.get reads it
            if not value.isdigit() or len(value) > 18:  # bytes: ASCII digits only
                return None  # malformed or absurd: count the bytes as they arrive instead
            return int(value)
    return None
