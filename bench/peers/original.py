"""Peer for the wire benchmark: the original FastAPI example's style of POST /process-numbers.

A plain FastAPI endpoint (``async def``) whose body is a pydantic model ``numbers: list[int]``,
the kernel called through ``run_in_threadpool``, and a dict returned for FastAPI to serialise:
what the example this project grew from did, with gilfree's kernel in place of its Rust one, so
that the wire benchmark compares ways of moving numbers in and out of a service, not kernels.

- ``create_app``: the dict goes through FastAPI's default path (``jsonable_encoder``, then
  ``JSONResponse``), as in the original example;
- ``create_app_with_response_model``: the same endpoint declared with ``response_model=`` a
  pydantic model, which FastAPI validates and serialises to JSON bytes in pydantic's core.

Both also answer ``GET /healthz`` (the benchmark harness waits for it; the example had none).
Run them with ``uvicorn --factory bench.peers.original:create_app`` (or ``:create_app_with_...``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

import gilfree

__all__ = [
    "NumbersRequest",
    "NumbersResponse",
    "create_app",
    "create_app_with_response_model",
]


class NumbersRequest(BaseModel):
    numbers: list[int]


class NumbersResponse(BaseModel):
    original_count: int
    processed_result: list[int]


async def _process(request: NumbersRequest, iterations: int) -> dict[str, Any]:
    result = await run_in_threadpool(gilfree.process_numbers, request.numbers, iterations)
    return {"original_count": len(request.numbers), "processed_result": result}


def _create(title: str, response_model: type[NumbersResponse] | None) -> FastAPI:
    app = FastAPI(title=title)

    @app.post("/process-numbers", response_model=response_model)
    async def process_numbers(request: NumbersRequest, iterations: int = 1000) -> dict[str, Any]:
        return await _process(request, iterations)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_app() -> FastAPI:
    # The example's endpoint had no return annotation, so FastAPI inferred no response model;
    # response_model=None keeps it so while the function is typed.
    return _create("peer: the original example's style", None)


def create_app_with_response_model() -> FastAPI:
    return _create("peer: the original example's style, with response_model", NumbersResponse)
