"""The native path of POST /process-numbers: request bytes to response bytes in C++.

The body is read into native memory and handed to one native job (``gilfree.wire``) that takes
the numbers, checks the limits, processes them and writes the answer; the event loop only awaits
it (through gilfree.fastapi's Runner, as any route does), and the answer's memory becomes the
response body without a copy. A JSON body the strict
parser does not take as canonical, and unusual query or header values, go to FastAPI's own
handler, so acceptance and error bodies are FastAPI's. Bodies of ``application/octet-stream``
(little-endian int64) are served here entirely, and so is a binary answer when ``Accept`` asks
for ``application/octet-stream``.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gilfree import wire
from gilfree.fastapi import CLIENT_CLOSED_REQUEST, FAST_PATH_DECLINED, ClientDisconnected, Runner
from gilfree.server.limits import content_length
from gilfree.server.settings import Settings
from gilfree.wire import NumbersFormat, RequestOutcome

__all__ = [
    "JSON",
    "OCTET_STREAM",
    "NativeBodyRoute",
    "binary_response",
    "make_fast_path",
    "too_many_numbers",
    "too_much_work",
    "wants_binary",
]

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
# What the fast path takes as is; anything else is left to FastAPI's validation. Decimals of up
# to _SAFE_DIGITS digits need no overflow check (10**18 - 1 < 2**63 - 1).
_SAFE_DIGITS = 18
_CANONICAL_INT = re.compile(rf"0|[1-9][0-9]{{0,{_SAFE_DIGITS - 1}}}")
_CANONICAL_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")
_CANONICAL_QUERY = re.compile(rb"iterations=([0-9]{1,%d})" % _SAFE_DIGITS)

FastPath = Callable[[Request], Awaitable[Response | None]]


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
            if request.scope.get(FAST_PATH_DECLINED):  # declined already, ahead of the routes
                return await standard(request)
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


def make_fast_path(settings: Settings, default_iterations: int) -> type[NativeBodyRoute]:
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
        # The usual query (`iterations=N` alone) is read without parsing the whole query string.
        only = _CANONICAL_QUERY.fullmatch(request.scope.get("query_string", b""))
        values = [only[1].decode()] if only else request.query_params.getlist("iterations")
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

    def binary_parameters(request: Request) -> tuple[int, float]:
        """iterations and timeout of an octet-stream request, validated as FastAPI would (every
        bad parameter reported in one 422, the runner's header first, as FastAPI validates a
        dependency's parameters before the endpoint's)."""
        errors: list[Any] = []
        timeout_s = canonical_timeout(request)
        if timeout_s is None:
            raw = request.headers.getlist("x-request-timeout")[-1]
            header = validated(timeout_type, raw, ("header", "x-request-timeout"), errors)
            timeout_s = None if header is None else min(header, settings.request_timeout_s)
        iterations = canonical_iterations(request)
        if iterations is None:
            raw = request.query_params.getlist("iterations")[-1]
            iterations = validated(iterations_type, raw, ("query", "iterations"), errors)
        if errors or iterations is None or timeout_s is None:
            raise RequestValidationError(errors)
        declared = content_length(request.scope)
        if declared is not None and declared // 8 > settings.max_numbers:
            raise too_many_numbers(declared // 8, settings)  # before reading the body
        return iterations, timeout_s

    def partial_value(size: int) -> RequestValidationError:
        return RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body",),
                    "msg": "Value error, an application/octet-stream body holds"
                    f" little-endian int64 values: {size} bytes is not a multiple of 8",
                    "input": None,
                }
            ]
        )

    async def read_body(request: Request) -> wire.RequestBody:
        # Into native memory, sized once by Content-Length when there is one; read as a stream,
        # so that Starlette keeps no copy of its own.
        body = wire.RequestBody(content_length(request.scope) or 0)
        async for chunk in request.stream():
            if chunk:
                body.append(chunk)
        return body

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
        binary_in = media == OCTET_STREAM
        binary_out = wants_binary(request)
        try:
            # The whole body first: only then may the disconnect watcher read from the client.
            body = await read_body(request)
            if binary_in and len(body) % 8:
                raise partial_value(len(body))
            job = wire.submit_numbers_request(
                wire.numbers_request(
                    body,
                    iterations=iterations,
                    body_format=NumbersFormat.INT64 if binary_in else NumbersFormat.JSON,
                    answer_format=NumbersFormat.INT64 if binary_out else NumbersFormat.JSON,
                    max_numbers=settings.max_numbers,
                    max_work=settings.max_work,
                ),
                timeout=timeout_s,
            )
            # As any route awaits a job (watched for a disconnect when it is worth it, recorded
            # under the route), with the deadline read here.
            answered = await Runner.of(request, timeout_s).wait(job)
        except (ClientDisconnect, ClientDisconnected):
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        outcome = answered.outcome
        if outcome is RequestOutcome.OK:
            return Response(answered.answer(), media_type=OCTET_STREAM if binary_out else JSON)
        if outcome is RequestOutcome.NOT_CANONICAL:
            request._body = answered.body()  # where FastAPI's own handler reads the body from
            return None
        if outcome is RequestOutcome.TOO_MANY:
            raise too_many_numbers(answered.count, settings)
        if outcome is RequestOutcome.TOO_MUCH_WORK:
            raise too_much_work(answered.count, iterations, settings)
        raise RuntimeError(f"unexpected outcome of a native request: {outcome}")

    return type("NumbersRoute", (NativeBodyRoute,), {"fast_path": staticmethod(fast)})
