"""The original FastAPI example's style of POST /process-numbers: a plain FastAPI endpoint.

``async def``, a pydantic body model ``numbers: list[int]``, the kernel called through
``run_in_threadpool`` and a dict returned for FastAPI to serialise: what the example this project
grew from did. One app, two users:

- the wire benchmark (bench/wire_bench.py) serves it with gilfree's kernel, so that it compares
  ways of moving numbers in and out of a service, not kernels: ``create_app`` (the dict goes
  through FastAPI's default path, ``jsonable_encoder`` then ``JSONResponse``, as in the original
  example) and ``create_app_with_response_model`` (the same endpoint declared with
  ``response_model=`` a pydantic model, which FastAPI validates and serialises to JSON bytes in
  pydantic's core); run them with ``uvicorn --factory bench.peers.original:create_app``;
- the differential tests (tests/server) use it, with the pure-Python reference kernel, as the
  oracle gilfree's own answers are compared with.

``iterations`` is bounded as in gilfree (0 to its default ``max_iterations``). It also answers
``GET /healthz`` (the benchmark harness waits for it; the example had none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

import gilfree
from gilfree.server.settings import Settings

__all__ = [
    "MAX_ITERATIONS",
    "NumbersRequest",
    "NumbersResponse",
    "create_app",
    "create_app_with_response_model",
]

MAX_ITERATIONS: int = Settings.model_fields["max_iterations"].default

# (numbers, iterations) -> the processed numbers.
Kernel = Callable[[list[int], int], list[int]]


class NumbersRequest(BaseModel):
    numbers: list[int]


class NumbersResponse(BaseModel):
    original_count: int
    processed_result: list[int]


def _create(title: str, kernel: Kernel, response_model: type[NumbersResponse] | None) -> FastAPI:
    app = FastAPI(title=title)

    @app.post("/process-numbers", response_model=response_model)
    async def process_numbers(
        request: NumbersRequest,
        iterations: Annotated[int, Query(ge=0, le=MAX_ITERATIONS)] = 1000,
    ) -> dict[str, Any]:
        result = await run_in_threadpool(kernel, request.numbers, iterations)
        return {"original_count": len(request.numbers), "processed_result": result}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_app(kernel: Kernel = gilfree.process_numbers) -> FastAPI:
    """The original style; ``kernel``: gilfree's by default (a factory, as uvicorn's
    ``--factory`` wants)."""
    # The example's endpoint had no return annotation, so FastAPI inferred no response model;
    # response_model=None keeps it so while the function is typed.
    return _create("the original example's style", kernel, None)


def create_app_with_response_model() -> FastAPI:
    """The original style declared with ``response_model=``, gilfree's kernel."""
    return _create(
        "the original example's style, with response_model",
        gilfree.process_numbers,
        NumbersResponse,
    )
