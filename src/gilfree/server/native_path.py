"""The native path of POST /process-numbers: request bytes to response bytes in C++.

A JSON body in the canonical form is parsed, processed and written by three native jobs; the
event loop only awaits them. Anything else (a coercible or invalid body, unusual query or header
values) goes to FastAPI's own handler, so acceptance and error bodies are FastAPI's. Bodies of
``application/octet-stream`` (little-endian int64) are served here entirely, and so is a binary
answer when ``Accept`` asks for ``application/octet-stream``.
"""

from __future__ import annotations

import asyncio
import re
import sys
from array import array
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gilfree import aio, wire
from gilfree.errors import DeadlineExceeded
from gilfree.server.limits import content_length
from gilfree.server.settings import Settings

__all__ = [
    "CLIENT_CLOSED_REQUEST",
    "JSON",
    "OCTET_STREAM",
    "ClientDisconnected",
    "NativeBodyRoute",
    "binary_response",
    "make_fast_path",
    "too_many_numbers",
    "too_much_work",
    "until_disconnected",
    "wants_binary",
]

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
# Status for a request whose client went away before its answer (nginx's convention); nobody
# reads it, but access logs and metrics do.
CLIENT_CLOSED_REQUEST = 499
# What the fast path takes as is; anything else is left to FastAPI's validation.
_CANONICAL_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_CANONICAL_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")

T = TypeVar("T")
FastPath = Callable[[Request], Awaitable[Response | None]]


class ClientDisconnected(Exception):  # noqa: N818 - an event, not an error of ours
    """The client closed the connection before its answer was ready."""


async def _disconnected(request: Request) -> None:
    # The body has been read, so the next ASGI message can only be the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Awaits ``work``, cancelling it (and so its native jobs) if the client goes away first."""
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


def too_many_numbers(count: int, settings: Settings) -> HTTPException:
    return HTTPException(413, f"{count} numbers is more than max_numbers={settings.max_numbers}")


def too_much_work(count: int, iterations: int, settings: Settings) -> HTTPException:
    work = count * iterations
    return HTTPException(
        413,
        f"{count} numbers x {iterations} iterations = {work} units of work is more than"
        f" max_work={settings.max_work}",
    )


class NativeBodyRoute(APIRoute):
    """An APIRoute whose handler first offers the request to ``fast_path``; when that returns
    None, FastAPI's own handler (pydantic validation, the endpoint) answers."""

    fast_path: FastPath | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        fast = type(self).fast_path
        if fast is None:
            return standard

        async def handler(request: Request) -> Response:
            response = await fast(request)
            return response if response is not None else await standard(request)

        return handler


def _media_type(value: str | None) -> str | None:
    return None if value is None else value.split(";", 1)[0].strip().lower()


def wants_binary(request: Request) -> bool:
    """Whether the client asks for the results as little-endian int64 (any request type)."""
    accept = request.headers.get("accept", "").lower()
    return OCTET_STREAM in accept and JSON not in accept


def binary_response(values: Any) -> Response:
    """int64 values as little-endian bytes: the values' own memory where the host is
    little-endian (no copy)."""
    if sys.byteorder == "little":
        return Response(memoryview(values).cast("B"), media_type=OCTET_STREAM)
    swapped = array("q", memoryview(values).cast("B"))
    swapped.byteswap()
    return Response(swapped.tobytes(), media_type=OCTET_STREAM)


class _Deadline:
    """One deadline for every native phase of a request."""

    def __init__(self, timeout_s: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._at = self._loop.time() + timeout_s

    def remaining(self) -> float:
        left = self._at - self._loop.time()
        if left <= 0:
            raise DeadlineExceeded("the request's deadline passed before its work finished")
        return left


def make_fast_path(settings: Settings, default_iterations: int) -> type[APIRoute]:
    """The route class of POST /process-numbers for ``settings``."""
    iterations_type: TypeAdapter[int] = TypeAdapter(
        Annotated[int, Field(ge=0, le=settings.max_iterations)]
    )
    timeout_type: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(gt=0)])

    def validated(
        adapter: TypeAdapter[Any], value: str, loc: tuple[str, str], errors: list[Any]
    ) -> Any:
        """Validates a query or header value as FastAPI does; appends its errors, if any."""
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            errors.extend(
                {**error, "loc": (*loc, *error["loc"])} for error in exc.errors(include_url=False)
            )
            return None

    def canonical_iterations(request: Request) -> int | None:
        values = request.query_params.getlist("iterations")
        if not values:
            return default_iterations
        if len(values) == 1 and _CANONICAL_INT.fullmatch(values[0]):
            value = int(values[0])
            if value <= settings.max_iterations:
                return value
        return None

    def canonical_timeout(request: Request) -> float | None:
        header = request.headers.getlist("x-request-timeout")
        if not header:
            return settings.request_timeout_s
        if len(header) == 1 and _CANONICAL_SECONDS.fullmatch(header[0]):
            value = float(header[0])
            if value > 0:
                return min(value, settings.request_timeout_s)
        return None

    async def serve_parsed(
        request: Request, parsed: wire.ParsedNumbers, iterations: int, deadline: _Deadline
    ) -> Response:
        if parsed.status == "too_many":
            raise too_many_numbers(parsed.count, settings)
        if parsed.count * iterations > settings.max_work:
            raise too_much_work(parsed.count, iterations, settings)
        await wire.process_parsed(parsed, iterations, timeout=deadline.remaining())
        if wants_binary(request):
            return binary_response(parsed.values())
        answer = await wire.write_numbers_json(parsed, timeout=deadline.remaining())
        return Response(answer, media_type=JSON)

    def binary_parameters(request: Request) -> tuple[int, float]:
        """iterations and timeout of an octet-stream request, validated as FastAPI would (every
        bad parameter reported in one 422)."""
        errors: list[Any] = []
        iterations = canonical_iterations(request)
        if iterations is None:
            raw = request.query_params.getlist("iterations")[-1]
            iterations = validated(iterations_type, raw, ("query", "iterations"), errors)
        timeout_s = canonical_timeout(request)
        if timeout_s is None:
            raw = request.headers.getlist("x-request-timeout")[-1]
            header = validated(timeout_type, raw, ("header", "x-request-timeout"), errors)
            timeout_s = None if header is None else min(header, settings.request_timeout_s)
        if errors or iterations is None or timeout_s is None:
            raise RequestValidationError(errors)
        declared = content_length(request.scope)
        if declared is not None and declared // 8 > settings.max_numbers:
            raise too_many_numbers(declared // 8, settings)  # before reading the body
        return iterations, timeout_s

    async def serve_binary(
        request: Request, body: bytes, iterations: int, deadline: _Deadline
    ) -> Response:
        if len(body) % 8:
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("body",),
                        "msg": "Value error, an application/octet-stream body holds"
                        f" little-endian int64 values: {len(body)} bytes is not a multiple of 8",
                        "input": None,
                    }
                ]
            )
        count = len(body) // 8
        if count > settings.max_numbers:
            raise too_many_numbers(count, settings)
        if count * iterations > settings.max_work:
            raise too_much_work(count, iterations, settings)
        numbers: Any = memoryview(body).cast("q")
        if sys.byteorder != "little":  # the wire is little-endian; a big-endian host swaps
            numbers = array("q", body)
            numbers.byteswap()
        out = await aio.process_numbers(numbers, iterations, timeout=deadline.remaining())
        if wants_binary(request):
            return binary_response(out)
        answer = await wire.write_numbers_json(out, timeout=deadline.remaining())
        return Response(answer, media_type=JSON)

    async def read_body(request: Request) -> bytes:
        # Read as a stream: Starlette would otherwise keep its own reference to the body for the
        # whole request, where the native path lets it go once it is parsed.
        return b"".join([chunk async for chunk in request.stream()])

    async def fast(request: Request) -> Response | None:
        media = _media_type(request.headers.get("content-type"))
        if media == OCTET_STREAM:
            iterations, timeout_s = binary_parameters(request)
        elif media == JSON:  # other types (none, +json) get FastAPI's own treatment
            maybe_iterations = canonical_iterations(request)
            maybe_timeout = canonical_timeout(request)
            if maybe_iterations is None or maybe_timeout is None:
                return None
            iterations, timeout_s = maybe_iterations, maybe_timeout
        else:
            return None
        try:
            # The whole body first: only then may the disconnect watcher read from the client.
            body = await read_body(request)
            deadline = _Deadline(timeout_s)
            if media == OCTET_STREAM:
                work = serve_binary(request, body, iterations, deadline)
                del body
                return await until_disconnected(request, work)
            parsed = await wire.parse_numbers_json(
                body, max_numbers=settings.max_numbers, timeout=deadline.remaining()
            )
            if parsed.status == "not_canonical":
                request._body = body  # where FastAPI's own handler reads the body from
                return None
            del body  # parsed: the body's memory goes back now, not at the end of the request
            return await until_disconnected(
                request, serve_parsed(request, parsed, iterations, deadline)
            )
        except (ClientDisconnect, ClientDisconnected):
            return Response(status_code=CLIENT_CLOSED_REQUEST)

    return type("NumbersRoute", (NativeBodyRoute,), {"fast_path": staticmethod(fast)})
