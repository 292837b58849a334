"""Peer (c): the kernel called directly inside ``async def``, blocking the event loop (naive).

The kernel still releases the GIL and runs on every core; what it blocks is the one thread that
serves every other request. Run it with ``uvicorn --factory bench.peers.blocking:create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI

from bench.peers.service import build_peer_app, encode_numbers_response

__all__ = ["create_app"]


async def _on_the_loop(numbers: list[int], iterations: int) -> bytes:
    return encode_numbers_response(numbers, iterations)


def create_app() -> FastAPI:
    return build_peer_app("peer: blocking call in async def", _on_the_loop)
