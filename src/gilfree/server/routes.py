"""HTTP routes: the two kernels and their deprecated original paths, on gilfree.fastapi's runner
(health and metrics come with gilfree.fastapi.setup)."""

# No `from __future__ import annotations` here: FastAPI reads the endpoint signatures at runtime and
# they refer to limits that exist only inside build_router.

import json
import re
from array import array
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.responses import Response

from gilfree import INT64_MAX, INT64_MIN, _kernels
from gilfree.errors import InvalidInput
from gilfree.fastapi import Run, Runner, fast_route
from gilfree.server.http import EARLY_STARTS
from gilfree.server.native_path import (
    OCTET_STREAM,
    binary_response,
    make_fast_path,
    too_many_numbers,
    too_much_work,
    wants_binary,
)
from gilfree.server.settings import Settings

__all__ = [
    "DEFAULT_ITERATIONS",
    "INT64_FORMAT",
    "SUM_SQUARES_PATHS",
    "ErrorDetail",
    "NumbersRequest",
    "NumbersResponse",
    "SumSquaresResponse",
    "build_router",
    "fast_process_numbers",
    "fast_sum_squares",
]

DEFAULT_ITERATIONS = 1000
# GET /sum-squares, and the original example's path of it.
SUM_SQUARES_PATHS = ("/sum-squares", "/sum-squares-rust")
NUMBERS_PATHS = ("/process-numbers", "/process-numbers-rust")

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


class ErrorDetail(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDetail,
        "description": "The body is not JSON that can be decoded: not UTF-8, or nested too deeply"
        " (FastAPI's own answer: `There was an error parsing the body`).",
    },
    413: {"model": ErrorDetail, "description": "A size limit was exceeded; `detail` names it."},
    503: {"model": ErrorDetail, "description": "The service is at capacity; see `Retry-After`."},
    504: {"model": ErrorDetail, "description": "The deadline passed before the work finished."},
}


_NUMBERS_DESCRIPTION = """\
The body is `{"numbers": [int, ...]}` as JSON, or the numbers themselves as little-endian int64
(`application/octet-stream`, 8 bytes each). The answer is JSON, or the results as little-endian
int64 when `Accept` asks for `application/octet-stream`.

A JSON body in canonical form (integers only) is parsed, processed and written in C++; any other
body is validated by the pydantic model, so what it accepts (`"12"`, `1.0`) and refuses (422) is
FastAPI's own. An integer outside int64 is a 422 naming its index.
"""
_NUMBERS_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {
            # Little-endian int64 values, 8 bytes each (the description says so; a schema cannot).
            OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}
        }
    }
}
_NUMBERS_OK: dict[str, Any] = {
    "description": "The processed numbers, in order.",
    "content": {OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
}


def _json(content: dict[str, Any]) -> Response:
    # The kernels return plain ints, so FastAPI's jsonable_encoder walk would only cost time.
    body = json.dumps(content, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


# The common query of GET /sum-squares, in its canonical form: `a=` and `b=` at most once each,
# as plain decimal int64 literals (no sign on zero, no leading zeros, no escapes).
_INT64_DIGITS = len(str(INT64_MAX))  # 19: the range is checked after int()
_INT = rb"(0|-?[1-9][0-9]{0,%d})" % (_INT64_DIGITS - 1)
_SUM_SQUARES_QUERY = re.compile(
    rb"(?:a=" + _INT + rb"(?:&b=" + _INT + rb")?|b=" + _INT + rb"(?:&a=" + _INT + rb")?)?"
)
_SUM_SQUARES_JSON = b'{"a":%d,"b":%d,"sum_of_squares":%d}'
# Headers whose presence leaves a request to FastAPI's route: the deadline header it validates,
# and a body, which the body-size limit and the server must see.
_ROUTE_HEADERS = frozenset((b"x-request-timeout", b"content-length", b"transfer-encoding"))


def fast_sum_squares(app: FastAPI, paths: tuple[str, ...], timeout_s: float) -> None:
    """GET /sum-squares without FastAPI's parameter solving, for canonical queries.

    A query of canonical int64 literals (or none: the defaults 5 and 10) is read with one regular
    expression; any other query, and any request with a body or an ``X-Request-Timeout`` header,
    goes to the route, so every answer but the common one is FastAPI's own. The work is the same
    kernel's job as the route's (run at once on the loop's thread, admitted against the queue,
    recorded under the path in ``/metrics``).
    """

    async def fast(request: Request) -> Response | None:
        scope = request.scope
        for name, _ in scope["headers"]:
            if name in _ROUTE_HEADERS:
                return None
        query = _SUM_SQUARES_QUERY.fullmatch(scope["query_string"])
        if query is None:
            return None
        a1, b1, b2, a2 = query.groups()
        a = int(a1 or a2 or 5)
        b = int(b1 or b2 or 10)
        if not (INT64_MIN <= a <= INT64_MAX and INT64_MIN <= b <= INT64_MAX):
            return None
        total = await Runner.of(request, timeout_s)(_kernels.sum_squares, a, b)
        # What _json writes for three ints, without the encoder's walk.
        return Response(_SUM_SQUARES_JSON % (a, b, total), media_type="application/json")

    for path in paths:
        fast_route(app, "GET", path, fast)


def fast_process_numbers(app: FastAPI, settings: Settings) -> None:
    """POST /process-numbers offered to the native path before the routes are matched.

    The same native path the routes' class offers a request to (gilfree.server.native_path),
    ahead of FastAPI's routing and its per-request dependency machinery; what it declines (a
    body not in canonical form, an unusual parameter) goes on to the route with its body, and
    the route does not offer it again. Under ``gilfree serve`` the work of a canonical JSON
    request starts in the server as soon as its body has arrived (gilfree.server.http's early
    starts), and the fast path takes it from there.
    """
    route = make_fast_path(settings, min(DEFAULT_ITERATIONS, settings.max_iterations))
    fast, early_start = route.fast_path, route.early_start
    assert fast is not None
    assert early_start is not None
    starters = getattr(app.state, EARLY_STARTS, None) or {}
    setattr(app.state, EARLY_STARTS, starters)
    for path in NUMBERS_PATHS:
        fast_route(app, "POST", path, fast)
        starters[("POST", path)] = early_start


def build_router(settings: Settings) -> APIRouter:
    """The service's routes, with the limits of ``settings`` built into their validation."""
    router = APIRouter()
    default_iterations = min(DEFAULT_ITERATIONS, settings.max_iterations)

    async def process_numbers(
        request: Request,
        body: NumbersRequest,
        run: Run,
        iterations: Annotated[
            int,
            Query(
                ge=0,
                le=settings.max_iterations,
                description="Steps applied to each number (the original workload used 1000).",
            ),
        ] = default_iterations,
    ) -> Response:
        # Reached for bodies the native path leaves to pydantic (coerced values such as "12"
        # or 1.0), and for invalid ones, which FastAPI answers with 422 before this runs.
        numbers = body.numbers
        count = len(numbers)
        if count > settings.max_numbers:
            raise too_many_numbers(count, settings)
        if count * iterations > settings.max_work:
            raise too_much_work(count, iterations, settings)
        try:
            result = await run(_kernels.process_numbers_list, numbers, iterations)
        except InvalidInput as exc:
            raise _numbers_error(exc, numbers) from exc
        if wants_binary(request):
            return binary_response(array("q", result))
        return _json({"original_count": count, "processed_result": result})

    async def sum_squares(
        run: Run,
        a: Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX, json_schema_extra=INT64_FORMAT)] = 5,
        b: Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX, json_schema_extra=INT64_FORMAT)] = 10,
    ) -> Response:
        total = await run(_kernels.sum_squares, a, b)
        return _json({"a": a, "b": b, "sum_of_squares": total})

    numbers_route = make_fast_path(settings, default_iterations)
    for path in NUMBERS_PATHS:
        deprecated = path != NUMBERS_PATHS[0]
        router.add_api_route(
            path,
            process_numbers,
            methods=["POST"],
            response_model=NumbersResponse,
            responses={**_ERRORS, 200: _NUMBERS_OK},
            deprecated=deprecated,
            summary="Run the process_numbers kernel over a list of int64",
            description=_NUMBERS_DESCRIPTION,
            openapi_extra=_NUMBERS_BODY,
            route_class_override=numbers_route,
        )
    for path in SUM_SQUARES_PATHS:
        deprecated = path != SUM_SQUARES_PATHS[0]
        router.add_api_route(
            path,
            sum_squares,
            methods=["GET"],
            response_model=SumSquaresResponse,
            # Its job runs under the request's deadline and admission like any other.
            responses={code: _ERRORS[code] for code in (503, 504)},
            deprecated=deprecated,
            summary="Exact a*a + b*b of two int64",
        )

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
