"""Peer for the wire benchmark: the transport floor of a round trip.

A bare ASGI app on the same server stack as gilfree (uvicorn, uvloop, httptools) that reads a
``POST`` body whole and sends the same bytes back as ``application/octet-stream``: no framework,
no parsing, no computing. gilfree's octet-stream round trip moves the same bytes each way, so the
ratio between the two is what gilfree's own work costs on top of moving the bytes, and JSON / floor
bounds how much faster than JSON any octet-stream path on this stack could be.

A floor, not a straw man: at startup it pins glibc malloc's mmap threshold at 32 MiB and its trim
threshold at 256 MiB, so that the multi-MiB body it joins and frees per request is reused from the
heap rather than mapped and faulted in afresh each time (by default glibc does the latter for some
sequences of sizes, which tripled this echo's round trip in a trial run).

Also answers ``GET /healthz`` (the benchmark harness waits for it). Run it with
``uvicorn --factory bench.peers.echo:create_app``.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["create_app"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", content_type)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _echo(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"] == "/healthz":
        await _answer(send, 200, b'{"status":"ok"}', b"application/json")
        return
    if scope["method"] != "POST":
        await _answer(send, 405, b"", b"text/plain")
        return
    pieces = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        pieces.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await _answer(send, 200, b"".join(pieces), b"application/octet-stream")


# mallopt's parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _keep_large_buffers_in_the_heap() -> None:
    if platform.libc_ver()[0] != "glibc":
        return
    mallopt = ctypes.CDLL(None).mallopt
    mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
    mallopt(_M_TRIM_THRESHOLD, 256 * 1024 * 1024)


def create_app() -> App:
    """The echo app (a factory, as uvicorn's ``--factory`` wants)."""
    _keep_large_buffers_in_the_heap()
    return _echo
