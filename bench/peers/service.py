"""The peer services' shared app: gilfree's endpoints, with the kernel called the peer's way.

Each peer service exposes the endpoints the benchmarks use, with the request and response shapes
of the gilfree service (docs/semantics.md, section 2): ``POST /process-numbers``,
``GET /sum-squares`` and ``GET /healthz``. They parse the body with the same pydantic model as a
FastAPI user would, and encode the answer as gilfree does (``json.dumps`` to bytes, no
``jsonable_encoder`` walk), so that what differs between them and gilfree is how the kernel is
called, nothing else.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint signatures at runtime, and
# they refer to a limit that exists only inside build_peer_app.

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel
from starlette.responses import Response

import gilfree
from gilfree.server.settings import Settings

__all__ = ["NumbersRequest", "ProcessNumbers", "build_peer_app", "encode_numbers_response"]

# Runs the kernel over (numbers, iterations) and returns the encoded response body.
ProcessNumbers = Callable[[list[int], int], Awaitable[bytes]]

_HEALTHY = b'{"status":"ok"}'


class NumbersRequest(BaseModel):
    numbers: list[int]


def encode_numbers_response(numbers: list[int], iterations: int) -> bytes:
    """The kernel and the encoding of its answer: what a peer runs for one request."""
    result = gilfree.process_numbers(numbers, iterations)
    content: dict[str, Any] = {"original_count": len(numbers), "processed_result": result}
    return json.dumps(content, separators=(",", ":")).encode()


def build_peer_app(title: str, process_numbers: ProcessNumbers) -> FastAPI:
    """A FastAPI app whose ``POST /process-numbers`` calls ``process_numbers``.

    ``iterations`` is capped as gilfree caps it: ``GILFREE_MAX_ITERATIONS``, else its default.
    """
    max_iterations = Settings().max_iterations
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/process-numbers")
    async def process_numbers_route(
        body: NumbersRequest, iterations: Annotated[int, Query(ge=0, le=max_iterations)] = 1000
    ) -> Response:
        content = await process_numbers(body.numbers, iterations)
        return Response(content, media_type="application/json")

    @app.get("/sum-squares")
    async def sum_squares_route(a: int = 5, b: int = 10) -> Response:
        content = {"a": a, "b": b, "sum_of_squares": gilfree.sum_squares(a, b)}
        return Response(json.dumps(content, separators=(",", ":")), media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(_HEALTHY, media_type="application/json")

    return app
