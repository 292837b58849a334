"""HTTP routes: the two kernels, their deprecated original paths, health and metrics."""

# No `from __future__ import annotations` here: FastAPI reads the endpoint signatures at runtime and
# they refer to limits that exist only inside build_router.

import asyncio
import json
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.responses import Response

from gilfree import INT64_MAX, INT64_MIN, aio
from gilfree.errors import InvalidInput
from gilfree.server.metrics import RuntimeMetrics
from gilfree.server.settings import Settings

__all__ = [
    "CLIENT_CLOSED_REQUEST",
    "DEFAULT_ITERATIONS",
    "INT64_FORMAT",
    "ClientDisconnected",
    "ErrorDetail",
    "HealthResponse",
    "NumbersRequest",
    "NumbersResponse",
    "SumSquaresResponse",
    "build_router",
    "until_disconnected",
]

DEFAULT_ITERATIONS = 1000
# Status for a request whose client went away before its answer (nginx's convention); nobody
# reads it, but access logs and metrics do.
CLIENT_CLOSED_REQUEST = 499
T = TypeVar("T")

INT64_FORMAT: dict[str, Any] = {"format": "int64"}
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX, json_schema_extra=INT64_FORMAT)]


class NumbersRequest(BaseModel):
    numbers: list[Int64]


class NumbersResponse(BaseModel):
    original_count: int
    processed_result: list[int]


class SumSquaresResponse(BaseModel):
    a: int
    b: int
    sum_of_squares: int = Field(description="Exactly a*a + b*b; it can reach 2**127.")


class HealthResponse(BaseModel):
    status: str


class ErrorDetail(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorDetail, "description": "A size limit was exceeded; `detail` names it."},
    503: {"model": ErrorDetail, "description": "The service is at capacity; see `Retry-After`."},
    504: {"model": ErrorDetail, "description": "The deadline passed before the work finished."},
}


def _json(content: dict[str, Any]) -> Response:
    # The kernels return plain ints, so FastAPI's jsonable_encoder walk would only cost time.
    body = json.dumps(content, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


class ClientDisconnected(Exception):  # noqa: N818 - an event, not an error of ours
    """The client closed the connection before its answer was ready."""


async def _disconnected(request: Request) -> None:
    # The body has been read, so the next ASGI message can only be the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Awaits ``work``, cancelling it (and so its native job) if the client goes away first."""
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((job, watcher), return_when=asyncio.FIRST_COMPLETED)
        if job.done():
            return job.result()
        raise ClientDisconnected
    finally:
        watcher.cancel()
        job.cancel()


def build_router(settings: Settings, metrics: RuntimeMetrics) -> APIRouter:
    """The service's routes, with the limits of ``settings`` built into their validation."""
    router = APIRouter()
    default_iterations = min(DEFAULT_ITERATIONS, settings.max_iterations)

    async def process_numbers(
        request: Request,
        body: NumbersRequest,
        iterations: Annotated[
            int,
            Query(
                ge=0,
                le=settings.max_iterations,
                description="Steps applied to each number (the original workload used 1000).",
            ),
        ] = default_iterations,
        x_request_timeout: Annotated[
            float | None,
            Header(gt=0, description="Seconds; shortens the request's deadline, never extends it."),
        ] = None,
    ) -> Response:
        numbers = body.numbers
        count = len(numbers)
        if count > settings.max_numbers:
            raise HTTPException(
                413, f"{count} numbers is more than max_numbers={settings.max_numbers}"
            )
        work = count * iterations
        if work > settings.max_work:
            raise HTTPException(
                413,
                f"{count} numbers x {iterations} iterations = {work} units of work is more than"
                f" max_work={settings.max_work}",
            )
        timeout_s = settings.request_timeout_s
        if x_request_timeout is not None:
            timeout_s = min(timeout_s, x_request_timeout)
        try:
            result = await until_disconnected(
                request, aio.process_numbers(numbers, iterations, timeout=timeout_s)
            )
        except InvalidInput as exc:
            raise _numbers_error(exc, numbers) from exc
        except ClientDisconnected:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return _json({"original_count": count, "processed_result": result})

    async def sum_squares(
        a: Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX, json_schema_extra=INT64_FORMAT)] = 5,
        b: Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX, json_schema_extra=INT64_FORMAT)] = 10,
    ) -> Response:
        total = await aio.sum_squares(a, b, timeout=settings.request_timeout_s)
        return _json({"a": a, "b": b, "sum_of_squares": total})

    for path, deprecated in (("/process-numbers", False), ("/process-numbers-rust", True)):
        router.add_api_route(
            path,
            process_numbers,
            methods=["POST"],
            response_model=NumbersResponse,
            responses=_ERRORS,
            deprecated=deprecated,
            summary="Run the process_numbers kernel over a list of int64",
        )
    for path, deprecated in (("/sum-squares", False), ("/sum-squares-rust", True)):
        router.add_api_route(
            path,
            sum_squares,
            methods=["GET"],
            response_model=SumSquaresResponse,
            deprecated=deprecated,
            summary="Exact a*a + b*b of two int64",
        )

    @router.get("/healthz", response_model=HealthResponse, summary="Liveness probe")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @router.get(
        "/metrics",
        response_class=Response,
        summary="Prometheus metrics of the native runtime",
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _numbers_error(exc: InvalidInput, numbers: list[int]) -> RequestValidationError:
    """The library refused an element that validation let through: FastAPI's 422 shape for it."""
    if exc.index is not None and 0 <= exc.index < len(numbers):
        loc: tuple[str | int, ...] = ("body", "numbers", exc.index)
        value: Any = numbers[exc.index]
    else:
        loc, value = ("body", "numbers"), None
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": f"Value error, {exc.message}", "input": value}]
    )
