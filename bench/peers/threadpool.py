"""Peer (b): the kernel through ``run_in_threadpool``, as the FastAPI docs teach for blocking work.

Run it with ``uvicorn --factory bench.peers.threadpool:create_app``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from bench.peers.service import build_peer_app, encode_numbers_response

__all__ = ["create_app"]


async def _in_threadpool(numbers: list[int], iterations: int) -> bytes:
    # The encoding runs in the worker thread too, as gilfree's own threadpool route did.
    return await run_in_threadpool(encode_numbers_response, numbers, iterations)


def create_app() -> FastAPI:
    return build_peer_app("peer: run_in_threadpool", _in_threadpool)
